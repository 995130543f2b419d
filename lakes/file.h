/* file.h — the file:// lake: a directory on this machine (or a mount).
 * Internals shared by its files; the rest of SparkFlow sees only the
 * sf_lake_file table (lakes/lake.h).
 *
 * Layout of an output file:///lake/curated:
 *
 *   /lake/curated -> _sparkflow/curated/<run>   the published output: a
 *                                               relative symlink, so the lake
 *                                               can be moved or mounted elsewhere
 *   /lake/_sparkflow/curated/<run>/             one run's outputs (work_uri)
 *   /lake/_sparkflow/curated/<run>/_sparkflow_run.json   written by publish
 *   /lake/_sparkflow/curated/.<run>.owner       who staged the run (file_claims.c)
 *   /lake/_sparkflow/curated/.lock              see "Lock" (file_claims.c)
 *   /lake/.curated.sparkflow-publish            the new link, for a moment
 *
 * Readers open /lake/curated/...; the kernel resolves the link at each open,
 * and the switch is one rename, so an open finds one complete run or the
 * next one: never a half-written table, never nothing.  The previous run is
 * deleted GRACE_MS after the switch, so that an open that resolved the old
 * link just before it still finds its file (an open file stays readable
 * after deletion).  A reader that needs several files of one run (Spark
 * lists, then opens) should resolve the link once (realpath) and read under
 * that; the run it reads disappears when the next publish removes it.
 *
 *   file_layout.c       URIs, run ids, where each piece of an output lives,
 *                       what is at the output path now
 *   file_claims.c       the per-output lock, owner records of staged runs and
 *                       the sweep of runs whose process is gone
 *   file_disk.c         the disk chores base/ does not do: rm -rf on one
 *                       filesystem, fsync of a whole run, record writes
 *   file_fingerprint.c  the input fingerprint
 *   file.c              the operations: stage, publish, discard, published,
 *                       remove
 */
#ifndef SF_LAKE_FILE_H
#define SF_LAKE_FILE_H

#include <fts.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "lakes/lake.h"

#define SF_DIR "_sparkflow"
#define RUN_RECORD "_sparkflow_run.json"
#define GRACE_MS 200 /* between the switch and deleting the previous run */

/* ---- file_layout.c ---------------------------------------------------------- */

/* dir + "/" + name, without doubling the root's slash (malloc'd). */
char *sf_lake_file_join(const char *dir, const char *name);
/* The last segment of a normalised path other than "/". */
const char *sf_lake_file_base_of(const char *path);
/* The directory of a normalised path other than "/" (malloc'd). */
char *sf_lake_file_parent_of(const char *path);

/* The absolute path a file:// URI names (malloc'd), or NULL with an error
 * diagnostic under `summary`. */
char *sf_lake_file_uri_path(const char *uri, const char *summary, sf_diags *d);

/* True for a name fit to be a directory name and a link target segment:
 * 1..128 of [A-Za-z0-9._-], starting with a letter or digit. */
bool sf_lake_file_valid_run_id(const char *id);
/* The same, with an error diagnostic under `summary` when it is not. */
bool sf_lake_file_check_run_id(const char *id, const char *summary, sf_diags *d);

/* Where everything of one output lives (all malloc'd). */
typedef struct sf_lake_file_layout {
    char *path;   /* /lake/curated: the published link */
    char *parent; /* /lake */
    char *base;   /* curated */
    char *sfdir;  /* /lake/_sparkflow */
    char *store;  /* /lake/_sparkflow/curated: runs, owner records, lock */
    char *tmp;    /* /lake/.curated.sparkflow-publish: the next link */
} sf_lake_file_layout;

void sf_lake_file_layout_make(sf_lake_file_layout *o, const char *parent, const char *base);
void sf_lake_file_layout_clear(sf_lake_file_layout *o);
/* The layout of an output URI; -1 with a diagnostic when it cannot be one. */
int sf_lake_file_layout_from_uri(const char *uri, const char *summary, sf_lake_file_layout *o, sf_diags *d);

/* What is at the output path. */
typedef enum {
    OUT_MISSING,      /* nothing */
    OUT_OURS,         /* a link _sparkflow/<base>/<run id> */
    OUT_FOREIGN_LINK, /* a symlink SparkFlow did not make */
    OUT_FOREIGN,      /* a directory, file, ... */
} sf_lake_file_out;

/* readlink(2) into a malloc'd string; NULL with errno on failure. */
char *sf_lake_file_read_link(const char *path);
/* Looks at the output path: *state, and *run (malloc'd) for OUT_OURS.
 * -1 with a diagnostic when it cannot be examined. */
int sf_lake_file_classify(const sf_lake_file_layout *o, sf_lake_file_out *state, char **run, const char *summary,
                          sf_diags *d);
/* "directory", "symbolic link", "file" or "path": what is at `path`. */
const char *sf_lake_file_kind_of(const char *path);
/* The error for an output path that holds data SparkFlow did not write. */
void sf_lake_file_refuse_foreign(const sf_lake_file_layout *o, sf_diags *d);

/* ---- file_claims.c ---------------------------------------------------------- */

/* Takes the output's lock, creating the store when `create`.  0 when held
 * (*fd to pass to unlock), 1 when the store does not exist (only without
 * `create`), -1 with a diagnostic (also when the context ends). */
int sf_lake_file_lock(sf_ctx *ctx, const sf_lake_file_layout *o, bool create, int *fd, const char *summary,
                      sf_diags *d);
/* Releases a lock taken by sf_lake_file_lock; -1 is ignored. */
void sf_lake_file_unlock(int fd);

/* The path of run `run`'s owner record (malloc'd). */
char *sf_lake_file_owner_path(const sf_lake_file_layout *o, const char *run);
/* Writes the owner record of run `run`: this process, durably.  0, or -1
 * with *err (malloc'd). */
int sf_lake_file_claim(const sf_lake_file_layout *o, const char *run, char **err);

/* Under the lock: removes this output's runs (and lone owner records) left
 * by interrupted runs, except `keep1`/`keep2` (published, being staged).
 * Housekeeping: failures are logged, never fail the caller. */
void sf_lake_file_sweep(sf_ctx *ctx, const sf_lake_file_layout *o, const char *keep1, const char *keep2);
/* Deletes a run directory and its owner record.  0, or an errno value. */
int sf_lake_file_delete_run(const sf_lake_file_layout *o, const char *run);

/* ---- file_disk.c ------------------------------------------------------------ */

/* rm -rf that never follows a symlink nor crosses into another filesystem.
 * Missing is success.  0, or an errno value. */
int sf_lake_file_delete_tree(const char *path);
/* What a walk does with each entry: 0 to go on, -1 with *err to stop. */
typedef int (*sf_lake_file_visit)(FTS *fts, FTSENT *e, void *arg, char **err);
/* Walks the tree at root with fts(3) (`flags`: FTS_PHYSICAL or
 * FTS_LOGICAL), calling visit(fts, entry, arg, err) for each entry, and
 * stops when the context ends, looked at every `every` entries (*err is
 * then "<reason> while <doing>").  0, or -1 with *err. */
int sf_lake_file_walk(sf_ctx *ctx, const char *root, int flags, size_t every, const char *doing,
                      sf_lake_file_visit visit, void *arg, char **err);
/* fsync every regular file and directory under root, children before their
 * directory.  0, or -1 with *err (also when the context ends). */
int sf_lake_file_sync_tree(sf_ctx *ctx, const char *root, char **err);
/* The lake's disk_space (lake.h). */
int sf_lake_file_disk_space(const char *uri, uint64_t *avail, uint64_t *total);
/* Writes `text` to dir/name atomically and durably (sf_file_write_atomic).
 * 0, or -1 with *err (malloc'd). */
int sf_lake_file_write_record(const char *dir, const char *name, const char *text, char **err);

/* ---- file_fingerprint.c ----------------------------------------------------- */

int sf_lake_file_fingerprint(sf_ctx *ctx, const sf_lake_env *env, const char *input_uri, char **out, int64_t *count,
                             sf_diags *d);

#endif
