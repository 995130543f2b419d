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
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/ctx.h"

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

/* Read fd until EOF into a malloc'd string, for at most `deadline`
 * (sf_time_mono_ms clock, 0 none) and while ctx (may be NULL) is not done.
 * Returns 0 at EOF, -1 when stopped early (the partial output stays in
 * *out). */
int sf_spawn_read_all(sf_ctx *ctx, int fd, int64_t deadline, char **out);

/* Wait for child pid: its exit status (0..255), 128 + signal when a signal
 * ended it, -1 when waitpid failed. */
int sf_spawn_wait(pid_t pid);

/* Run argv (PATH lookup) with stdout captured, stdin and stderr /dev/null,
 * for at most timeout_ms or until ctx (may be NULL) is done.  Returns the
 * exit status (0..255), or -1 when it could not run or was stopped; *out
 * gets the malloc'd output (also on a non-zero status).  *err (malloc'd)
 * says why on -1. */
int sf_spawn_capture(sf_ctx *ctx, char *const argv[], int64_t timeout_ms, char **out, char **err);

/* The Pythons SparkFlow runs its Python parts with, in order of preference:
 * $SPARKFLOW_PYTHON, $PYSPARK_PYTHON, the build's venv Python (when it
 * exists), python3 (PATH).  Returns how many (at most 4). */
size_t sf_spawn_pythons(const char *out[4]);

#endif
