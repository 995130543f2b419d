/* spawn.c — posix_spawn with signal reset and redirections (spawn.h). */
#include "base/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

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
