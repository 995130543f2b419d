/* spawn.c — posix_spawn with signal reset and redirections (spawn.h). */
#include "base/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/str.h"
#include "base/time.h"

extern char **environ;

/* One standard descriptor `target` of the child, as io says. */
static void redirect(posix_spawn_file_actions_t *fa, int target, const sf_spawn_io *io)
{
    switch (io->kind) {
    case SF_SPAWN_INHERIT: break;
    case SF_SPAWN_DEVNULL:
        posix_spawn_file_actions_addopen(fa, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0);
        break;
    case SF_SPAWN_FD: posix_spawn_file_actions_adddup2(fa, io->fd, target); break;
    case SF_SPAWN_FILE:
        posix_spawn_file_actions_addopen(fa, target, io->path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        break;
    case SF_SPAWN_STDOUT: posix_spawn_file_actions_adddup2(fa, 1, target); break;
    }
}

int sf_spawn(pid_t *pid, char *const argv[], const sf_spawn_opts *o)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    redirect(&fa, 0, &o->in);
    redirect(&fa, 1, &o->out);
    redirect(&fa, 2, &o->err);
    if (o->cwd) posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
    if (o->close_others) posix_spawn_file_actions_addclosefrom_np(&fa, 3);

    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (o->new_session) flags |= POSIX_SPAWN_SETSID;
    else if (o->new_pgroup) {
        flags |= POSIX_SPAWN_SETPGROUP;
        posix_spawnattr_setpgroup(&attr, 0);
    }
    posix_spawnattr_setflags(&attr, flags);

    char *const *envp = o->envp ? o->envp : environ;
    int rc = o->search_path ? posix_spawnp(pid, argv[0], &fa, &attr, argv, envp)
                            : posix_spawn(pid, argv[0], &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return rc;
}

/* ---- running a command for its output ------------------------------------ */

/* Read fd until EOF into a malloc'd string, for at most `deadline` (sf_time_mono_ms
 * clock, 0 none) and while ctx (may be NULL) is not done.  Returns 0 at EOF,
 * -1 when stopped early (the partial output stays in *out). */
int sf_spawn_read_all(sf_ctx *ctx, int fd, int64_t deadline, char **out)
{
    size_t len = 0, cap = 256;
    char *buf = malloc(cap);
    if (!buf) abort();
    int rc = 0;
    for (;;) {
        if ((ctx && sf_ctx_done(ctx)) || (deadline && sf_time_mono_ms() >= deadline)) {
            rc = -1;
            break;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, 100);
        if (r < 0 && errno != EINTR) {
            rc = -1;
            break;
        }
        if (r <= 0) continue;
        if (len + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf) abort();
        }
        ssize_t k = read(fd, buf + len, cap - len - 1);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        len += (size_t)k;
    }
    buf[len] = 0;
    *out = buf;
    return rc;
}

int sf_spawn_wait(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int sf_spawn_capture(sf_ctx *ctx, char *const argv[], int64_t timeout_ms, char **out, char **err)
{
    *out = NULL;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        *err = sf_fmt("pipe: %s", strerror(errno));
        return -1;
    }
    sf_spawn_opts opts = {
        .close_others = true,
        .in = {SF_SPAWN_DEVNULL},
        .out = {SF_SPAWN_FD, .fd = fds[1]},
        .err = {SF_SPAWN_DEVNULL},
    };
    opts.search_path = true;
    pid_t pid;
    int e = sf_spawn(&pid, argv, &opts);
    close(fds[1]);
    if (e != 0) {
        close(fds[0]);
        *err = sf_fmt("cannot run %s: %s", argv[0], strerror(e));
        return -1;
    }
    int stopped = sf_spawn_read_all(ctx, fds[0], sf_time_mono_ms() + timeout_ms, out);
    close(fds[0]);
    if (stopped) kill(pid, SIGKILL);
    int status = sf_spawn_wait(pid);
    if (stopped) {
        *err = sf_fmt("%s did not finish (%s)", argv[0], ctx && sf_ctx_done(ctx) ? sf_ctx_reason(ctx) : "timed out");
        return -1;
    }
    if (status < 0) *err = sf_fmt("waitpid: %s", strerror(errno));
    return status;
}

size_t sf_spawn_pythons(const char *out[4])
{
    size_t n = 0;
    const char *names[] = {"SPARKFLOW_PYTHON", "PYSPARK_PYTHON"};
    for (size_t i = 0; i < 2; i++) {
        const char *p = getenv(names[i]);
        if (p && *p) out[n++] = p;
    }
#ifdef SF_DEFAULT_PYTHON
    if (access(SF_DEFAULT_PYTHON, X_OK) == 0) out[n++] = SF_DEFAULT_PYTHON;
#endif
    out[n++] = "python3";
    return n;
}
