/* spawn.h — starting a child process the one safe way for this process.
 *
 * The provider runs gRPC threads, so children are started with posix_spawn
 * (never fork() followed by library calls).  The server blocks SIGTERM (and
 * SIGINT in -debug) for every thread and ignores SIGINT and SIGPIPE; a child
 * inherits that, so every child starts with an empty signal mask and every
 * signal at its default disposition.
 */
#ifndef SF_BASE_SPAWN_H
#define SF_BASE_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

/* Where one of the child's standard descriptors comes from. */
typedef enum {
    SF_SPAWN_INHERIT = 0, /* the parent's own */
    SF_SPAWN_DEVNULL,     /* /dev/null */
    SF_SPAWN_FD,          /* dup2 of `fd` */
    SF_SPAWN_FILE,        /* `path`, opened for appending (created 0644) */
    SF_SPAWN_STDOUT,      /* stderr only: the same as the child's stdout */
} sf_spawn_kind;

typedef struct sf_spawn_io {
    sf_spawn_kind kind;
    int fd;           /* SF_SPAWN_FD */
    const char *path; /* SF_SPAWN_FILE */
} sf_spawn_io;

typedef struct sf_spawn_opts {
    char *const *envp; /* NULL: this process's environment */
    const char *cwd;   /* NULL: this process's */
    bool search_path;  /* look argv[0] up in PATH (posix_spawnp) */
    bool new_session;  /* setsid(): its own session and process group */
    bool new_pgroup;   /* its own process group in this session */
    bool close_others; /* close every descriptor above 2 */
    sf_spawn_io in, out, err;
} sf_spawn_opts;

/* Start argv[0] with argv (NULL-terminated).  Returns 0 with *pid set, or
 * an errno value (the child did not start). */
int sf_spawn(pid_t *pid, char *const argv[], const sf_spawn_opts *opts);

#endif
