/* process.c — starting, recognising and stopping the engine's processes.
 *
 * The provider is a multi-threaded gRPC process, so children are started
 * with posix_spawn only (never fork() followed by library calls).
 *
 * Spark daemons must outlive the provider (Terraform starts a new provider
 * process for every command) and must not receive the terminal's Ctrl-C.
 * Each one is started through a short-lived shell:
 *
 *     posix_spawn(SETSID) /bin/sh -c '"$@" <... >>log 2>&1 & echo $!'
 *
 * The shell is the leader of a new session and process group; it starts the
 * daemon in the background (same group, same session, no terminal), prints
 * its pid and exits at once, and we reap it.  The daemon is thereby
 * reparented to init, which reaps it when it dies: the provider never holds
 * an unreaped child, so no zombie appears however long the provider lives,
 * and no SIGCHLD handling is needed.  spark-class ends in `exec java`, so the
 * pid printed is the JVM's.  Everything the daemon spawns (a worker's
 * executors) stays in its process group, so stopping signals the group.
 *
 * A pid alone can be reused after the process dies, so a process is "ours"
 * only while its start time (/proc/<pid>/stat) matches the recorded one.
 */
#include "engines/local/local.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/spawn.h"

#define KILL_WAIT_MS 10000

void sf_local_sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* ---- /proc ---------------------------------------------------------------- */

typedef struct proc_stat {
    char state;
    int pgrp;
    long long start_time;
} proc_stat;

/* Fields of /proc/<pid>/stat.  Returns 0, or -1 when there is no such pid. */
static int read_stat(int pid, proc_stat *st)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    /* The command name (field 2) may hold spaces and parentheses: the
     * fields that follow start after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    p++;
    /* Token k after ')' is field k + 3: state 3, pgrp 5, starttime 22. */
    char *save = NULL;
    int field = 3;
    memset(st, 0, sizeof *st);
    for (char *tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save), field++) {
        if (field == 3) st->state = tok[0];
        else if (field == 5) st->pgrp = atoi(tok);
        else if (field == 22) {
            st->start_time = atoll(tok);
            return 0;
        }
    }
    return -1;
}

static bool state_dead(char state)
{
    return state == 'Z' || state == 'X' || state == 'x';
}

long long sf_local_proc_start_time(int pid)
{
    proc_stat st;
    if (pid <= 0 || read_stat(pid, &st) != 0 || state_dead(st.state)) return -1;
    return st.start_time;
}

bool sf_local_proc_alive(const sf_local_proc *p)
{
    return p->pid > 0 && p->start_time > 0 && sf_local_proc_start_time(p->pid) == p->start_time;
}

bool sf_local_group_alive(int pgid)
{
    if (pgid <= 1) return false;
    DIR *d = opendir("/proc");
    if (!d) return false;
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0) continue;
        proc_stat st;
        if (read_stat((int)pid, &st) == 0 && st.pgrp == pgid && !state_dead(st.state)) found = true;
    }
    closedir(d);
    return found;
}

/* True when signalling -p->pgid can only reach processes we started.  The
 * group's number stays allocated while any member lives, so it cannot have
 * been handed to another process then.  Once the group is empty the number
 * may be reused: a live process with that pid means ours are all gone. */
static bool group_is_ours(const sf_local_proc *p)
{
    if (p->pgid <= 1) return false;
    if (sf_local_proc_alive(p)) {
        proc_stat st;
        return read_stat(p->pid, &st) == 0 && st.pgrp == p->pgid;
    }
    proc_stat st;
    return read_stat(p->pgid, &st) != 0;
}

static bool proc_remains(const sf_local_proc *p)
{
    return sf_local_proc_alive(p) || (group_is_ours(p) && sf_local_group_alive(p->pgid));
}

static void signal_proc(const sf_local_proc *p, int sig)
{
    if (group_is_ours(p)) kill(-p->pgid, sig);
    else if (sf_local_proc_alive(p)) kill(p->pid, sig);
}

/* Wait up to ms for every proc to be gone; true when they are. */
static bool wait_gone(sf_local_proc *const *procs, size_t n, int64_t ms)
{
    for (int64_t waited = 0;; waited += 100) {
        bool any = false;
        for (size_t i = 0; i < n && !any; i++) any = proc_remains(procs[i]);
        if (!any) return true;
        if (waited >= ms) return false;
        sf_local_sleep_ms(100);
    }
}

int sf_local_stop_procs(sf_local_proc *const *procs, size_t n, int64_t grace_ms)
{
    for (size_t i = 0; i < n; i++) signal_proc(procs[i], SIGTERM);
    if (wait_gone(procs, n, grace_ms)) return 0;
    for (size_t i = 0; i < n; i++) signal_proc(procs[i], SIGKILL);
    return wait_gone(procs, n, KILL_WAIT_MS) ? 0 : -1;
}

/* ---- spawning ------------------------------------------------------------- */

/* stdin from /dev/null, stdout to out_fd, stderr to err_path (appended) or
 * /dev/null; no other descriptor of the provider is inherited. */
static sf_spawn_opts spawn_opts(int out_fd, const char *err_path)
{
    return (sf_spawn_opts){
        .close_others = true,
        .in = {SF_SPAWN_DEVNULL},
        .out = {SF_SPAWN_FD, .fd = out_fd},
        .err = err_path ? (sf_spawn_io){SF_SPAWN_FILE, .path = err_path} : (sf_spawn_io){SF_SPAWN_DEVNULL},
    };
}

/* $1 is the log; the rest is the command.  `exec` is not used: the shell
 * must print the background pid and exit. */
static const char DETACH_SCRIPT[] = "log=$1; shift; \"$@\" </dev/null >>\"$log\" 2>&1 & echo $!";

int sf_local_spawn_detached(char *const argv[], char *const envp[], const char *log_path, sf_local_proc *p, char **err)
{
    size_t argc = 0;
    while (argv[argc]) argc++;
    char **sh = calloc(argc + 6, sizeof *sh);
    if (!sh) abort();
    sh[0] = "/bin/sh";
    sh[1] = "-c";
    sh[2] = (char *)DETACH_SCRIPT;
    sh[3] = "sh";
    sh[4] = (char *)log_path;
    for (size_t i = 0; i < argc; i++) sh[5 + i] = argv[i];

    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        free(sh);
        *err = sf_fmt("pipe: %s", strerror(errno));
        return -1;
    }
    sf_spawn_opts opts = spawn_opts(fds[1], log_path);
    opts.envp = envp;
    opts.new_session = true;
    pid_t shell;
    int e = sf_spawn(&shell, sh, &opts);
    close(fds[1]);
    free(sh);
    if (e != 0) {
        close(fds[0]);
        *err = sf_fmt("cannot run /bin/sh: %s", strerror(e));
        return -1;
    }
    char *out = NULL;
    sf_spawn_read_all(NULL, fds[0], sf_time_mono_ms() + 10000, &out);
    close(fds[0]);
    int status = sf_spawn_wait(shell);
    char *end = NULL;
    long pid = strtol(out, &end, 10);
    bool parsed = end != out && pid > 1;
    free(out);
    if (status != 0 || !parsed) {
        *err = sf_fmt("could not start %s (shell status %d)", argv[0], status);
        return -1;
    }
    p->pid = (int)pid;
    p->pgid = shell;
    p->start_time = sf_local_proc_start_time(p->pid);
    if (p->start_time < 0) {
        *err = sf_fmt("%s exited as soon as it started", argv[0]);
        return -1;
    }
    return 0;
}
