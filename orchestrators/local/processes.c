/* processes.c — the processes of a local Airflow host.
 *
 * The four components start from one short-lived shell that posix_spawn
 * makes the leader of a new session (setsid), hence of a new process group:
 * it starts each component in the background, prints their pids and exits.
 * The components and everything they fork (LocalExecutor workers, the DAG
 * processor's parsers, the triggerer's runner) stay in that one group, so
 * stopping signals the group: SIGTERM to each process of `airflow
 * standalone` orphans some of them (../shared/design/AIRFLOW.md).  Being
 * reparented to init at once, they never become the provider's zombies.
 * Recognising and stopping reuse the local Spark engine's process code
 * (engines/local/process.c): a pid counts only with its start time.
 */
#include "orchestrators/local/airflow_local.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/spawn.h"
#include "base/time.h"

const char *const sf_afl_components[SF_AFL_N_COMPONENTS] = {"api-server", "scheduler", "dag-processor", "triggerer"};

/* $1 the airflow command, $2 the log folder.  The scheduler's and the
 * triggerer's log servers would listen on every interface (serve_logs
 * binds host ""), so they are not started: the api-server reads task logs
 * from the shared log folder. */
static const char START_SCRIPT[] =
    "bin=$1; logs=$2\n"
    "\"$bin\" api-server </dev/null >>\"$logs/api-server.log\" 2>&1 & echo $!\n"
    "\"$bin\" scheduler --skip-serve-logs </dev/null >>\"$logs/scheduler.log\" 2>&1 & echo $!\n"
    "\"$bin\" dag-processor </dev/null >>\"$logs/dag-processor.log\" 2>&1 & echo $!\n"
    "\"$bin\" triggerer --skip-serve-logs </dev/null >>\"$logs/triggerer.log\" 2>&1 & echo $!\n";

static int reap(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int sf_afl_migrate(sf_ctx *ctx, const char *airflow_bin, char *const *env, const char *cwd, const char *log, char **err)
{
    char *argv[] = {(char *)airflow_bin, "db", "migrate", NULL};
    sf_spawn_opts opts = {
        .envp = env,
        .cwd = cwd,
        .new_pgroup = true, /* a terminal's Ctrl-C is the provider's to handle */
        .close_others = true,
        .in = {SF_SPAWN_DEVNULL},
        .out = {SF_SPAWN_FILE, .path = log},
        .err = {SF_SPAWN_STDOUT},
    };
    pid_t pid;
    int e = sf_spawn(&pid, argv, &opts);
    if (e != 0) {
        *err = sf_fmt("cannot run %s: %s", airflow_bin, strerror(e));
        return -1;
    }
    int status;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if (r < 0 && errno != EINTR) {
            *err = sf_fmt("waitpid: %s", strerror(errno));
            return -1;
        }
        if (sf_ctx_sleep_ms(ctx, 100) != 0) {
            kill(-pid, SIGKILL);
            reap(pid);
            *err = sf_fmt("`airflow db migrate` did not finish: the operation was %s",
                          sf_ctx_reason(ctx) ? sf_ctx_reason(ctx) : "stopped");
            return -1;
        }
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    *err = WIFEXITED(status) ? sf_fmt("`airflow db migrate` exited with status %d", WEXITSTATUS(status))
                             : sf_fmt("`airflow db migrate` was killed by signal %d", WTERMSIG(status));
    return -1;
}

/* Read the shell's output (four pids) until EOF or 10 s. */
static char *read_pids(int fd)
{
    sf_buf b = {0};
    int64_t until = sf_time_mono_ms() + 10000;
    char chunk[256];
    while (sf_time_mono_ms() < until) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        sf_buf_append(&b, chunk, (size_t)n);
    }
    sf_buf_append(&b, "", 1);
    return sf_buf_take(&b);
}

int sf_afl_start(const char *airflow_bin, char *const *env, const char *work_dir, const char *log_dir, sf_afl_group *g,
                 char **err)
{
    memset(g, 0, sizeof *g);
    char *argv[] = {"/bin/sh", "-c", (char *)START_SCRIPT, "sh", (char *)airflow_bin, (char *)log_dir, NULL};
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        *err = sf_fmt("pipe: %s", strerror(errno));
        return -1;
    }
    sf_spawn_opts opts = {
        .envp = env,
        .cwd = work_dir,
        .new_session = true,
        .close_others = true,
        .in = {SF_SPAWN_DEVNULL},
        .out = {SF_SPAWN_FD, .fd = fds[1]},
        .err = {SF_SPAWN_DEVNULL},
    };
    pid_t shell;
    int e = sf_spawn(&shell, argv, &opts);
    close(fds[1]);
    if (e != 0) {
        close(fds[0]);
        *err = sf_fmt("cannot run /bin/sh: %s", strerror(e));
        return -1;
    }
    char *out = read_pids(fds[0]);
    close(fds[0]);
    int status = reap(shell);
    g->pgid = shell;
    const char *p = out;
    size_t n = 0;
    for (; n < SF_AFL_N_COMPONENTS; n++) {
        char *end;
        long pid = strtol(p, &end, 10);
        if (end == p || pid <= 1) break;
        sf_local_proc *c = &g->procs[n];
        c->pid = (int)pid;
        c->pgid = shell;
        c->start_time = sf_local_proc_start_time(c->pid);
        c->log = sf_fmt("%s/%s.log", log_dir, sf_afl_components[n]);
        p = end;
    }
    free(out);
    if (status != 0 || n != SF_AFL_N_COMPONENTS) {
        *err = sf_fmt("could not start the Airflow components (shell status %d, %zu of %d started)", status, n,
                      SF_AFL_N_COMPONENTS);
        sf_afl_stop(g, 5000);
        return -1;
    }
    return 0;
}

int sf_afl_dead_component(const sf_afl_group *g)
{
    for (int i = 0; i < SF_AFL_N_COMPONENTS; i++)
        if (!sf_local_proc_alive(&g->procs[i])) return i;
    return -1;
}

bool sf_afl_group_remains(const sf_afl_group *g)
{
    for (int i = 0; i < SF_AFL_N_COMPONENTS; i++) {
        const sf_local_proc *p = &g->procs[i];
        if (p->pid && (sf_local_proc_alive(p) || (p->pgid > 1 && sf_local_group_alive(p->pgid)))) {
            /* A group whose number now names someone else's process is not
             * ours any more (process.c, group_is_ours). */
            if (sf_local_proc_alive(p)) return true;
            if (sf_local_proc_start_time(p->pgid) < 0) return true;
        }
    }
    return false;
}

int sf_afl_stop(sf_afl_group *g, int64_t grace_ms)
{
    sf_local_proc *procs[SF_AFL_N_COMPONENTS];
    size_t n = 0;
    for (int i = 0; i < SF_AFL_N_COMPONENTS; i++)
        if (g->procs[i].pid) procs[n++] = &g->procs[i];
    if (n == 0 && g->pgid > 1) {
        /* Started, but no pid was read: the group alone says what to stop. */
        g->procs[0].pgid = g->pgid;
        g->procs[0].pid = g->pgid; /* the shell, gone: only the group counts */
        procs[n++] = &g->procs[0];
    }
    return sf_local_stop_procs(procs, n, grace_ms);
}

void sf_afl_group_clear(sf_afl_group *g)
{
    for (int i = 0; i < SF_AFL_N_COMPONENTS; i++) free(g->procs[i].log);
    memset(g, 0, sizeof *g);
}
