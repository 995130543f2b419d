/* lake_file.c — the file:// lake: a directory on this machine (or a mount).
 *
 * URIs.  file:///abs/path, file:/abs/path and file://localhost/abs/path.
 * Relative paths, other hosts and "." / ".." segments are refused.  Paths are
 * taken literally, without percent-decoding, as Hadoop's Path does with a
 * string: Spark, which reads the same URIs, sees the same directory.
 *
 * Layout of an output file:///lake/curated:
 *
 *   /lake/curated -> _sparkflow/curated/<run>   the published output: a
 *                                               relative symlink, so the lake
 *                                               can be moved or mounted elsewhere
 *   /lake/_sparkflow/curated/<run>/             one run's outputs (work_uri)
 *   /lake/_sparkflow/curated/<run>/_sparkflow_run.json   written by publish
 *   /lake/_sparkflow/curated/.<run>.owner       who staged the run (see below)
 *   /lake/_sparkflow/curated/.lock              see "Lock"
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
 * Publish, in this order, so that a crash at any point leaves either the old
 * output or the new one, complete and durable:
 *   1. fsync every file and directory of the run (Spark does not), so that a
 *      power cut after the switch cannot leave the new output torn while the
 *      old one is already deleted;
 *   2. write _sparkflow_run.json (temp name, fsync, rename, fsync the dir);
 *   3. make the new link at the temp name, fsync the parent;
 *   4. swap it in with renameat2(RENAME_EXCHANGE) (RENAME_NOREPLACE when
 *      nothing was published yet), check that what came out is the link we
 *      expected — if someone put their own data there meanwhile, swap back and
 *      refuse — then fsync the parent.  Filesystems without renameat2 flags
 *      (some network filesystems) get a plain rename(2);
 *   5. only then (after GRACE_MS) delete the previous run directory: always
 *      <parent>/_sparkflow/<basename>/<valid run id>, a path built here from
 *      the run id in the old link, never the link's text itself.  Deletes
 *      use nftw(FTW_DEPTH|FTW_PHYS|FTW_MOUNT): no symlink is followed, no
 *      other filesystem entered.
 * A path at the output that is not a link of that form (a directory, a file,
 * the user's own symlink) is never replaced or deleted: stage and publish
 * refuse it, remove leaves it in place with a warning.  Stage refuses it too,
 * so a run is not spent before publish would refuse.
 *
 * Lock.  stage, publish, discard and remove of one output hold an exclusive
 * flock(2) on <store>/.lock (per open file, so threads of one provider
 * exclude each other too — except on NFS, where Linux maps flock to
 * per-process locks; waiting follows the context).  Without it two
 * publishes could each delete the other's run, or a sweep (below) could
 * take a run another process is publishing.  published() takes no lock:
 * it reads the record through the link, which is atomic.  discard refuses
 * the published run.
 *
 * Interrupted runs.  A provider killed mid-run leaves its run directory.
 * Stage sweeps the runs of the same output that are not published, using
 * the owner record stage writes before creating the run directory (host,
 * boot id, pid namespace, pid and the process's start time): a run whose
 * process is gone (pid absent, or reused by another process) is removed at
 * once, a run whose process lives is never touched however long it takes.
 * When liveness cannot be told (another host on a shared mount, no /proc,
 * no record) a run is removed after 24 h.  Publish checks that the owner
 * record is still there, so a run swept from under a live process (the 24 h
 * case) fails to publish instead of publishing what Spark wrote after.
 *
 * Fingerprint.  Files under the input, recursively, following symlinks (a
 * pipeline's input may be another pipeline's published link) with loops
 * skipped.  Names Spark ignores are skipped with their subtrees: starting
 * with '.', starting with '_' unless they hold '=' (partition columns), and
 * ending in "._COPYING_".  sha256 over "relpath\tsize\tmtime_ns\n" sorted by
 * relpath (byte order, as S3 lists keys); '\\', '\t' and '\n' in names are
 * escaped so that no two listings hash the same text.
 */
#include "lake.h"
#include "provider/str.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SF_DIR "_sparkflow"
#define RUN_RECORD "_sparkflow_run.json"
#define LOCK_NAME ".lock"
#define OWNER_SUFFIX ".owner"
#define STALE_AFTER_S (24 * 60 * 60)
#define RUN_ID_MAX 128
#define RECORD_MAX (1 << 20)
#define GRACE_MS 200 /* between the switch and deleting the previous run */

/* ---- strings ------------------------------------------------------------ */


static char *xstrndup(const char *s, size_t n)
{
    char *d = strndup(s, n);
    if (!d) abort();
    return d;
}

static char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

/* dir + "/" + name, without doubling the root's slash. */
static char *join(const char *dir, const char *name)
{
    return strcmp(dir, "/") == 0 ? sf_fmt("/%s", name) : sf_fmt("%s/%s", dir, name);
}

/* The last segment of a normalised path other than "/". */
static const char *base_of(const char *path) { return strrchr(path, '/') + 1; }

/* The directory of a normalised path other than "/" (malloc'd). */
static char *parent_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash == path ? xstrdup("/") : xstrndup(path, (size_t)(slash - path));
}

/* ---- URIs --------------------------------------------------------------- */

/* Collapses repeated slashes and drops a trailing one; NULL when a segment is
 * "." or "..".  `p` starts with '/'. */
static char *normalise(const char *p)
{
    char *out = malloc(strlen(p) + 2);
    if (!out) abort();
    size_t o = 0;
    while (*p) {
        while (*p == '/') p++;
        size_t len = strcspn(p, "/");
        if (!len) break;
        if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) {
            free(out);
            return NULL;
        }
        out[o++] = '/';
        memcpy(out + o, p, len);
        o += len;
        p += len;
    }
    if (!o) out[o++] = '/';
    out[o] = 0;
    return out;
}

/* The absolute path a file:// URI names (malloc'd), or NULL with an error
 * diagnostic under `summary`. */
static char *uri_path(const char *uri, const char *summary, sf_diags *d)
{
    if (!uri || strncasecmp(uri, "file:", 5) != 0) {
        sf_diag_error(d, NULL, summary, "\"%s\" is not a file:// URI.", uri ? uri : "");
        return NULL;
    }
    const char *p = uri + 5;
    if (p[0] == '/' && p[1] == '/') {
        const char *host = p + 2;
        size_t n = strcspn(host, "/");
        if (n && !(n == 9 && strncasecmp(host, "localhost", 9) == 0)) {
            sf_diag_error(d, NULL, summary,
                          "\"%s\" names the host \"%.*s\"; a file:// URI takes an absolute "
                          "path after three slashes, e.g. file:///home/me/lake. Relative "
                          "paths are not allowed: use Terraform's abspath(), e.g. "
                          "\"file://${abspath(path.module)}/lake\".",
                          uri, (int)n, host);
            return NULL;
        }
        p = host + n;
    }
    if (p[0] != '/') {
        sf_diag_error(d, NULL, summary,
                      "\"%s\" is a relative path; a file:// URI needs an absolute one, e.g. "
                      "file:///home/me/lake. Use Terraform's abspath(), e.g. "
                      "\"file://${abspath(path.module)}/lake\".",
                      uri);
        return NULL;
    }
    char *path = normalise(p);
    if (!path)
        sf_diag_error(d, NULL, summary,
                      "\"%s\" contains \".\" or \"..\" segments; write the path without them "
                      "(Terraform's abspath() does this).",
                      uri);
    return path;
}

/* True for a name fit to be a directory name and a link target segment:
 * 1..128 of [A-Za-z0-9._-], starting with a letter or digit. */
static bool valid_run_id(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > RUN_ID_MAX) return false;
    if (!((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= 'A' && id[0] <= 'Z') ||
          (id[0] >= '0' && id[0] <= '9')))
        return false;
    return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static bool check_run_id(const char *id, const char *summary, sf_diags *d)
{
    if (valid_run_id(id)) return true;
    sf_diag_error(d, NULL, summary,
                  "Invalid run id \"%s\": it must be 1 to %d letters, digits, '.', '_' or "
                  "'-', starting with a letter or digit.",
                  id ? id : "", RUN_ID_MAX);
    return false;
}

/* ---- layout ------------------------------------------------------------- */

/* Where everything of one output lives (all malloc'd). */
typedef struct layout {
    char *path;   /* /lake/curated: the published link */
    char *parent; /* /lake */
    char *base;   /* curated */
    char *sfdir;  /* /lake/_sparkflow */
    char *store;  /* /lake/_sparkflow/curated: runs, owner records, lock */
    char *tmp;    /* /lake/.curated.sparkflow-publish: the next link */
} layout;

static void layout_make(layout *o, const char *parent, const char *base)
{
    o->parent = xstrdup(parent);
    o->base = xstrdup(base);
    o->path = join(parent, base);
    o->sfdir = join(parent, SF_DIR);
    o->store = join(o->sfdir, base);
    char *tmp_name = sf_fmt(".%s.sparkflow-publish", base);
    o->tmp = join(parent, tmp_name);
    free(tmp_name);
}

static void layout_clear(layout *o)
{
    free(o->path);
    free(o->parent);
    free(o->base);
    free(o->sfdir);
    free(o->store);
    free(o->tmp);
    memset(o, 0, sizeof *o);
}

/* True when a segment of the normalised path equals `name`. */
static bool has_segment(const char *path, const char *name)
{
    size_t n = strlen(name);
    for (const char *s = path; (s = strchr(s, '/')); s++)
        if (strncmp(s + 1, name, n) == 0 && (s[1 + n] == '/' || s[1 + n] == 0)) return true;
    return false;
}

/* The layout of an output URI; -1 with a diagnostic when it cannot be one. */
static int layout_from_uri(const char *uri, const char *summary, layout *o, sf_diags *d)
{
    memset(o, 0, sizeof *o);
    char *path = uri_path(uri, summary, d);
    if (!path) return -1;
    int rc = -1;
    if (strcmp(path, "/") == 0)
        sf_diag_error(d, NULL, summary, "The output \"%s\" is the root directory; name a "
                      "directory inside the lake.", uri);
    else if (has_segment(path, SF_DIR))
        sf_diag_error(d, NULL, summary, "The output \"%s\" lies inside a %s directory, which "
                      "SparkFlow keeps for itself; choose another output.", uri, SF_DIR);
    else {
        char *parent = parent_of(path);
        layout_make(o, parent, base_of(path));
        free(parent);
        rc = 0;
    }
    free(path);
    return rc;
}

/* What is at the output path. */
typedef enum {
    OUT_MISSING,      /* nothing */
    OUT_OURS,         /* a link _sparkflow/<base>/<run id> */
    OUT_FOREIGN_LINK, /* a symlink SparkFlow did not make */
    OUT_FOREIGN,      /* a directory, file, ... */
} out_state;

/* readlink(2) into a malloc'd string; NULL with errno on failure. */
static char *read_link(const char *path)
{
    for (size_t cap = 256;; cap *= 2) {
        char *buf = malloc(cap);
        if (!buf) abort();
        ssize_t n = readlink(path, buf, cap);
        if (n < 0) {
            int e = errno;
            free(buf);
            errno = e;
            return NULL;
        }
        if ((size_t)n < cap) {
            buf[n] = 0;
            return buf;
        }
        free(buf);
    }
}

/* The run a link target names when it has exactly our form, else NULL. */
static char *run_of_target(const layout *o, const char *target)
{
    char *prefix = sf_fmt("%s/%s/", SF_DIR, o->base);
    size_t n = strlen(prefix);
    char *run = strncmp(target, prefix, n) == 0 && valid_run_id(target + n) ? xstrdup(target + n)
                                                                             : NULL;
    free(prefix);
    return run;
}

/* Looks at the output path: *state, and *run (malloc'd) for OUT_OURS.
 * -1 with a diagnostic when it cannot be examined. */
static int classify(const layout *o, out_state *state, char **run, const char *summary,
                    sf_diags *d)
{
    *run = NULL;
    struct stat st;
    if (lstat(o->path, &st) != 0) {
        if (errno == ENOENT) {
            *state = OUT_MISSING;
            return 0;
        }
        sf_diag_error(d, NULL, summary, "Cannot examine %s: %s.", o->path, strerror(errno));
        return -1;
    }
    if (!S_ISLNK(st.st_mode)) {
        *state = OUT_FOREIGN;
        return 0;
    }
    char *target = read_link(o->path);
    if (!target) {
        sf_diag_error(d, NULL, summary, "Cannot read the link %s: %s.", o->path, strerror(errno));
        return -1;
    }
    *run = run_of_target(o, target);
    *state = *run ? OUT_OURS : OUT_FOREIGN_LINK;
    free(target);
    return 0;
}

static const char *kind_of(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return "path";
    return S_ISDIR(st.st_mode) ? "directory" : S_ISLNK(st.st_mode) ? "symbolic link" : "file";
}

static void refuse_foreign(const layout *o, sf_diags *d)
{
    sf_diag_error(d, NULL, "Output location holds data SparkFlow did not write",
                  "%s exists and is a %s that SparkFlow did not create. SparkFlow publishes "
                  "an output as a symbolic link into %s/ and will not overwrite or delete "
                  "data it did not write. Move it away (for example: mv '%s' "
                  "'%s.before-sparkflow') or choose another output, then apply again. "
                  "Nothing was changed.",
                  o->path, kind_of(o->path), o->sfdir, o->path, o->path);
}

/* ---- files and directories ---------------------------------------------- */

/* mkdir -p, following symlinks (the lake itself may be one).  0, or -1 with
 * errno. */
static int mkdir_p(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0) return S_ISDIR(st.st_mode) ? 0 : (errno = ENOTDIR, -1);
    if (strcmp(path, "/") != 0) {
        char *up = parent_of(path);
        int rc = mkdir_p(up);
        free(up);
        if (rc != 0) return -1;
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST) return -1;
    if (stat(path, &st) != 0) return -1;
    return S_ISDIR(st.st_mode) ? 0 : (errno = ENOTDIR, -1);
}

/* A directory of SparkFlow's own: a real directory, never a symlink.  With
 * `create`, made when missing.  0, or -1 with errno (ENOENT: missing;
 * ENOTDIR: something else is there). */
static int own_dir(const char *path, bool create)
{
    if (create && mkdir(path, 0755) != 0 && errno != EEXIST) return -1;
    struct stat st;
    if (lstat(path, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* fsync a file or directory.  0, or -1 with errno.  EINVAL (a filesystem that
 * cannot sync this kind of file) counts as success. */
static int fsync_path(const char *path, bool dir)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | (dir ? O_DIRECTORY : 0));
    if (fd < 0) return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0 && e != EINVAL) {
        errno = e;
        return -1;
    }
    return 0;
}

/* Writes `text` to dir/name atomically and durably (temp file, fsync,
 * rename, fsync of dir).  0, or -1 with *err (malloc'd). */
static int write_durable(const char *dir, const char *name, const char *text, char **err)
{
    char *path = join(dir, name);
    char *tmp = sf_fmt("%s.tmp", path);
    int rc = -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        *err = sf_fmt("cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        off += (size_t)n;
    }
    if (off < len || fsync(fd) != 0) {
        *err = sf_fmt("cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        *err = sf_fmt("cannot rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (fsync_path(dir, true) != 0) {
        *err = sf_fmt("cannot sync %s: %s", dir, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    free(tmp);
    free(path);
    return rc;
}

/* The whole of a small file (NUL-terminated, malloc'd); NULL with errno. */
static char *read_all(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    char *buf = malloc(RECORD_MAX + 1);
    if (!buf) abort();
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, RECORD_MAX - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            errno = e;
            return NULL;
        }
        if (r == 0 || (n += (size_t)r) == RECORD_MAX) break;
    }
    close(fd);
    buf[n] = 0;
    *len = n;
    return buf;
}

static int unlink_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int rc = flag == FTW_DP || flag == FTW_DNR ? rmdir(path) : unlink(path);
    return rc != 0 && errno != ENOENT ? errno : 0;
}

/* rm -rf that never follows a symlink nor crosses into another filesystem.
 * Missing is success.  0, or an errno value. */
static int delete_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : errno;
    if (!S_ISDIR(st.st_mode)) return unlink(path) == 0 || errno == ENOENT ? 0 : errno;
    int rc = nftw(path, unlink_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    return rc == -1 ? errno : rc;
}

/* fsync every regular file and directory under root, children before their
 * directory, so that a run's outputs are on disk before they are published.
 * Files we may not open are covered by one syncfs(2) at the end.  0, or -1
 * with *err (also when the context ends: nothing is published then). */
static int sync_tree(sf_ctx *ctx, const char *root, char **err)
{
    char *paths[] = {(char *)root, NULL};
    FTS *fts = fts_open(paths, FTS_PHYSICAL | FTS_NOCHDIR, NULL);
    if (!fts) {
        *err = sf_fmt("cannot read %s: %s", root, strerror(errno));
        return -1;
    }
    int rc = 0;
    bool need_syncfs = false;
    size_t seen = 0;
    for (;;) {
        errno = 0;
        FTSENT *e = fts_read(fts);
        if (!e) {
            if (errno) {
                *err = sf_fmt("cannot read %s: %s", root, strerror(errno));
                rc = -1;
            }
            break;
        }
        if (e->fts_info == FTS_F || e->fts_info == FTS_DP) {
            if (fsync_path(e->fts_accpath, e->fts_info == FTS_DP) != 0) {
                if (errno == EACCES) {
                    need_syncfs = true;
                } else {
                    *err = sf_fmt("cannot sync %s: %s", e->fts_path, strerror(errno));
                    rc = -1;
                    break;
                }
            }
        } else if (e->fts_info == FTS_DNR || e->fts_info == FTS_ERR || e->fts_info == FTS_NS) {
            *err = sf_fmt("cannot read %s: %s", e->fts_path, strerror(e->fts_errno));
            rc = -1;
            break;
        }
        if (++seen % 256 == 0 && sf_ctx_done(ctx)) {
            *err = sf_fmt("%s while syncing the new outputs to disk", sf_ctx_reason(ctx));
            rc = -1;
            break;
        }
    }
    fts_close(fts);
    if (rc == 0 && need_syncfs) {
        int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || syncfs(fd) != 0) {
            *err = sf_fmt("cannot sync the filesystem of %s: %s", root, strerror(errno));
            rc = -1;
        }
        if (fd >= 0) close(fd);
    }
    return rc;
}

/* ---- lock --------------------------------------------------------------- */

typedef enum { LOCK_TAKEN, LOCK_AGAIN, LOCK_NO_STORE, LOCK_FAILED } lock_try;

static lock_try lock_once(sf_ctx *ctx, const layout *o, bool create, const char *lock_path,
                          int *fd_out, const char *summary, sf_diags *d)
{
    if (create && mkdir_p(o->parent) != 0) {
        sf_diag_error(d, NULL, summary, "Cannot create %s: %s.", o->parent, strerror(errno));
        return LOCK_FAILED;
    }
    const char *dirs[] = {o->sfdir, o->store};
    for (int i = 0; i < 2; i++) {
        if (own_dir(dirs[i], create) == 0) continue;
        if (errno == ENOENT) return create ? LOCK_AGAIN : LOCK_NO_STORE;
        if (errno == ENOTDIR)
            sf_diag_error(d, NULL, summary,
                          "%s is not a directory. SparkFlow keeps its runs there and needs it "
                          "to be a real directory (not a file or a symbolic link); move it "
                          "away and apply again.",
                          dirs[i]);
        else
            sf_diag_error(d, NULL, summary, "Cannot create %s: %s.", dirs[i], strerror(errno));
        return LOCK_FAILED;
    }
    int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        if (errno == ENOENT) return LOCK_AGAIN;
        sf_diag_error(d, NULL, summary, "Cannot open %s: %s.", lock_path, strerror(errno));
        return LOCK_FAILED;
    }
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK && errno != EINTR) {
            sf_diag_error(d, NULL, summary, "Cannot lock %s: %s.", lock_path, strerror(errno));
            close(fd);
            return LOCK_FAILED;
        }
        if (sf_ctx_sleep_ms(ctx, 20) != 0) {
            sf_diag_error(d, NULL, summary,
                          "%s while waiting for another SparkFlow operation on %s to finish "
                          "(it holds %s).",
                          sf_ctx_reason(ctx), o->path, lock_path);
            close(fd);
            return LOCK_FAILED;
        }
    }
    /* A remove() may have deleted the lock file while we waited: the lock
     * then guards nothing, take the new one. */
    struct stat a, b;
    if (fstat(fd, &a) == 0 && lstat(lock_path, &b) == 0 && a.st_dev == b.st_dev &&
        a.st_ino == b.st_ino) {
        *fd_out = fd;
        return LOCK_TAKEN;
    }
    close(fd);
    return LOCK_AGAIN;
}

/* Takes the output's lock, creating the store when `create`.  0 when held
 * (*fd to pass to unlock), 1 when the store does not exist (only without
 * `create`), -1 with a diagnostic (also when the context ends). */
static int lock_store(sf_ctx *ctx, const layout *o, bool create, int *fd, const char *summary,
                      sf_diags *d)
{
    *fd = -1;
    char *lock_path = join(o->store, LOCK_NAME);
    int rc;
    for (;;) {
        lock_try t = lock_once(ctx, o, create, lock_path, fd, summary, d);
        if (t == LOCK_TAKEN) { rc = 0; break; }
        if (t == LOCK_NO_STORE) { rc = 1; break; }
        if (t == LOCK_FAILED) { rc = -1; break; }
        if (sf_ctx_done(ctx)) {
            sf_diag_error(d, NULL, summary, "%s while preparing %s.", sf_ctx_reason(ctx),
                          o->store);
            rc = -1;
            break;
        }
    }
    free(lock_path);
    return rc;
}

static void unlock_store(int fd)
{
    if (fd >= 0) close(fd); /* releases the flock */
}

/* ---- owner records ------------------------------------------------------ */

/* Who staged a run: enough to tell later whether that process still lives. */
typedef struct owner {
    char host[256];
    char boot[64];  /* /proc/sys/kernel/random/boot_id */
    char pidns[64]; /* /proc/self/ns/pid link text */
    long long pid;
    long long start; /* process start, clock ticks after boot; 0: unknown */
} owner;

typedef enum { OWNER_ALIVE, OWNER_DEAD, OWNER_UNKNOWN } owner_verdict;

/* A small text file's first line into buf; "" when unreadable. */
static void read_line(const char *path, char *buf, size_t cap)
{
    buf[0] = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    buf[strcspn(buf, "\n")] = 0;
}

/* Start time of process pid (field 22 of /proc/<pid>/stat), 0 when it
 * cannot be read (no such process, no /proc, not ours to see). */
static long long proc_start(long long pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%lld/stat", pid);
    read_line(path, buf, sizeof buf);
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p) return 0;
    char *save = NULL, *tok = strtok_r(p + 1, " ", &save); /* field 3 */
    for (int field = 4; tok && field <= 22; field++) tok = strtok_r(NULL, " ", &save);
    return tok ? strtoll(tok, NULL, 10) : 0;
}

static void owner_self(owner *me)
{
    memset(me, 0, sizeof *me);
    if (gethostname(me->host, sizeof me->host - 1) != 0) me->host[0] = 0;
    read_line("/proc/sys/kernel/random/boot_id", me->boot, sizeof me->boot);
    ssize_t n = readlink("/proc/self/ns/pid", me->pidns, sizeof me->pidns - 1);
    me->pidns[n > 0 ? n : 0] = 0;
    me->pid = getpid();
    me->start = proc_start(me->pid);
}

static char *owner_name(const char *run) { return sf_fmt(".%s%s", run, OWNER_SUFFIX); }

static int owner_write(const layout *o, const char *run, const owner *me, char **err)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) abort();
    cJSON_AddStringToObject(j, "run_id", run);
    cJSON_AddStringToObject(j, "host", me->host);
    cJSON_AddStringToObject(j, "boot_id", me->boot);
    cJSON_AddStringToObject(j, "pid_ns", me->pidns);
    cJSON_AddNumberToObject(j, "pid", (double)me->pid);
    cJSON_AddNumberToObject(j, "start_ticks", (double)me->start);
    cJSON_AddNumberToObject(j, "staged_at", (double)time(NULL));
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    if (!text) abort();
    char *name = owner_name(run);
    int rc = write_durable(o->store, name, text, err);
    free(name);
    free(text);
    return rc;
}

static void copy_field(const cJSON *j, const char *key, char *dst, size_t cap)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, key));
    snprintf(dst, cap, "%s", s ? s : "");
}

/* Reads an owner record; -1 when missing or unreadable. */
static int owner_read(const char *path, owner *rec)
{
    memset(rec, 0, sizeof *rec);
    size_t len;
    char *text = read_all(path, &len);
    if (!text) return -1;
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return -1;
    }
    copy_field(j, "host", rec->host, sizeof rec->host);
    copy_field(j, "boot_id", rec->boot, sizeof rec->boot);
    copy_field(j, "pid_ns", rec->pidns, sizeof rec->pidns);
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(j, "pid");
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(j, "start_ticks");
    rec->pid = cJSON_IsNumber(pid) ? (long long)pid->valuedouble : 0;
    rec->start = cJSON_IsNumber(start) ? (long long)start->valuedouble : 0;
    cJSON_Delete(j);
    return 0;
}

/* Whether the process that wrote `rec` still runs, as far as this process can
 * tell: only on the same host, boot and pid namespace. */
static owner_verdict owner_check(const owner *rec, const owner *me)
{
    if (!rec->host[0] || !rec->boot[0] || !rec->pidns[0] || rec->pid <= 1 || !rec->start ||
        !me->boot[0] || !me->pidns[0] || strcmp(rec->host, me->host) != 0 ||
        strcmp(rec->boot, me->boot) != 0 || strcmp(rec->pidns, me->pidns) != 0)
        return OWNER_UNKNOWN;
    long long start = proc_start(rec->pid);
    if (start == rec->start) return OWNER_ALIVE;
    if (start) return OWNER_DEAD; /* the pid now names another process */
    if (kill((pid_t)rec->pid, 0) != 0 && errno == ESRCH) return OWNER_DEAD;
    return OWNER_UNKNOWN; /* it exists but we may not look at it */
}

/* True when run `run` (its directory stat in *dir_st, or NULL when it has
 * none) belongs to nobody any more. */
static bool run_abandoned(const layout *o, const char *run, const struct stat *dir_st,
                          const owner *me, time_t now)
{
    char *name = owner_name(run);
    char *path = join(o->store, name);
    free(name);
    owner rec;
    struct stat st;
    bool have = owner_read(path, &rec) == 0 && stat(path, &st) == 0;
    free(path);
    owner_verdict v = have ? owner_check(&rec, me) : OWNER_UNKNOWN;
    if (v != OWNER_UNKNOWN) return v == OWNER_DEAD;
    const struct stat *age = have ? &st : dir_st;
    return age && now - age->st_mtime > STALE_AFTER_S;
}

/* Deletes a run directory and its owner record.  0, or an errno value. */
static int delete_run(const layout *o, const char *run)
{
    char *dir = join(o->store, run);
    char *name = owner_name(run);
    char *rec = join(o->store, name);
    int e = delete_tree(dir);
    if (!e && unlink(rec) != 0 && errno != ENOENT) e = errno;
    free(dir);
    free(name);
    free(rec);
    return e;
}

/* The run a store entry belongs to: "<run>" or ".<run>.owner" (malloc'd),
 * NULL for anything else (.lock, temp files). */
static char *run_of_entry(const char *name)
{
    size_t len = strlen(name), suffix = strlen(OWNER_SUFFIX);
    if (name[0] != '.') return xstrdup(name);
    if (len > suffix + 1 && strcmp(name + len - suffix, OWNER_SUFFIX) == 0)
        return xstrndup(name + 1, len - suffix - 1);
    return NULL;
}

/* Under the lock: removes this output's runs (and lone owner records) left
 * by interrupted runs, except `keep1`/`keep2` (published, being staged).
 * Housekeeping: failures are logged, never fail the caller. */
static void sweep_stale(sf_ctx *ctx, const layout *o, const char *keep1, const char *keep2)
{
    DIR *dir = opendir(o->store);
    if (!dir) return;
    char **names = NULL;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(dir));) {
        char **grown = realloc(names, (n + 1) * sizeof *names);
        if (!grown) abort();
        names = grown;
        names[n++] = xstrdup(e->d_name);
    }
    closedir(dir);
    owner me;
    owner_self(&me);
    time_t now = time(NULL);
    for (size_t i = 0; i < n; i++) {
        char *run = run_of_entry(names[i]);
        if (run && valid_run_id(run) && !(keep1 && strcmp(run, keep1) == 0) &&
            !(keep2 && strcmp(run, keep2) == 0)) {
            char *path = join(o->store, run);
            struct stat st;
            bool has_dir = lstat(path, &st) == 0;
            /* A run directory, or a record whose directory is gone. */
            bool candidate = has_dir ? S_ISDIR(st.st_mode) && names[i][0] != '.'
                                     : names[i][0] == '.';
            if (candidate && run_abandoned(o, run, has_dir ? &st : NULL, &me, now)) {
                int e = delete_run(o, run);
                if (e)
                    sf_log(ctx, SF_LOG_WARN, "lake: cannot remove abandoned run %s: %s", path,
                           strerror(e));
                else
                    sf_log(ctx, SF_LOG_INFO, "lake: removed abandoned run %s", path);
            }
            free(path);
        }
        free(run);
        free(names[i]);
    }
    free(names);
}

/* ---- fingerprint -------------------------------------------------------- */

typedef struct fp_file {
    char *rel;
    long long size, mtime_ns;
} fp_file;

typedef struct fp_list {
    fp_file *v;
    size_t n, cap;
} fp_list;

/* Spark's rule for files it does not read (HadoopFSUtils.shouldFilterOutPathName). */
static bool spark_hidden(const char *name)
{
    size_t n = strlen(name);
    return name[0] == '.' || (name[0] == '_' && !strchr(name, '=')) ||
           (n >= 10 && strcmp(name + n - 10, "._COPYING_") == 0);
}

static void fp_push(fp_list *l, const char *rel, const struct stat *st)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v) abort();
    }
    l->v[l->n++] = (fp_file){xstrdup(rel), (long long)st->st_size,
                             (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec};
}

static void fp_clear(fp_list *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i].rel);
    free(l->v);
}

static int fp_cmp(const void *a, const void *b)
{
    return strcmp(((const fp_file *)a)->rel, ((const fp_file *)b)->rel);
}

/* Lists the files under root into l.  0, or -1 with *err. */
static int fp_walk(sf_ctx *ctx, const char *root, fp_list *l, char **err)
{
    char *paths[] = {(char *)root, NULL};
    FTS *fts = fts_open(paths, FTS_LOGICAL | FTS_NOCHDIR, NULL);
    if (!fts) {
        *err = sf_fmt("cannot read %s: %s", root, strerror(errno));
        return -1;
    }
    size_t skip = strcmp(root, "/") == 0 ? 1 : strlen(root) + 1;
    int rc = 0;
    size_t seen = 0;
    for (;;) {
        errno = 0;
        FTSENT *e = fts_read(fts);
        if (!e) {
            if (errno) {
                *err = sf_fmt("cannot read %s: %s", root, strerror(errno));
                rc = -1;
            }
            break;
        }
        bool hidden = e->fts_level > 0 && spark_hidden(e->fts_name);
        switch (e->fts_info) {
        case FTS_D:
            if (hidden) fts_set(fts, e, FTS_SKIP);
            break;
        case FTS_F:
            if (hidden) break;
            fp_push(l, e->fts_level ? e->fts_path + skip : base_of(root), e->fts_statp);
            break;
        case FTS_DNR:
        case FTS_ERR:
        case FTS_NS:
            if (hidden) break;
            *err = sf_fmt("cannot read %s: %s", e->fts_path, strerror(e->fts_errno));
            rc = -1;
            break;
        default: /* FTS_DC (a loop), FTS_SLNONE (dangling link), FTS_DP, ... */
            break;
        }
        if (rc) break;
        if (++seen % 1024 == 0 && sf_ctx_done(ctx)) {
            *err = sf_fmt("%s while listing %s", sf_ctx_reason(ctx), root);
            rc = -1;
            break;
        }
    }
    fts_close(fts);
    return rc;
}

/* Feeds s with '\\', '\t' and '\n' escaped. */
static void hash_escaped(EVP_MD_CTX *md, const char *s)
{
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, "\\\t\n");
        if (n && !EVP_DigestUpdate(md, p, n)) abort();
        p += n;
        if (!*p) break;
        const char *esc = *p == '\\' ? "\\\\" : *p == '\t' ? "\\t" : "\\n";
        if (!EVP_DigestUpdate(md, esc, 2)) abort();
        p++;
    }
}

/* "sha256:<hex>" over the sorted listing (malloc'd). */
static char *fp_digest(fp_list *l)
{
    if (l->n) qsort(l->v, l->n, sizeof *l->v, fp_cmp);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) abort();
    for (size_t i = 0; i < l->n; i++) {
        char nums[64];
        int n = snprintf(nums, sizeof nums, "\t%lld\t%lld\n", l->v[i].size, l->v[i].mtime_ns);
        hash_escaped(md, l->v[i].rel);
        if (!EVP_DigestUpdate(md, nums, (size_t)n)) abort();
    }
    unsigned char sum[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!EVP_DigestFinal_ex(md, sum, &len)) abort();
    EVP_MD_CTX_free(md);
    char *out = malloc(7 + 2 * len + 1);
    if (!out) abort();
    memcpy(out, "sha256:", 7);
    for (unsigned int i = 0; i < len; i++) snprintf(out + 7 + 2 * i, 3, "%02x", sum[i]);
    return out;
}

static int file_fingerprint(sf_ctx *ctx, const sf_engine_env *env, const char *input_uri,
                            char **out, int64_t *count, sf_diags *d)
{
    (void)env;
    static const char S[] = "Cannot fingerprint input";
    *out = NULL;
    *count = 0;
    char *root = uri_path(input_uri, S, d);
    if (!root) return -1;
    int rc = -1;
    struct stat st;
    if (stat(root, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            sf_diag_error(d, NULL, "Input not found",
                          "The input %s does not exist (%s). Put the raw files there first, or "
                          "point the pipeline's lake and input at the directory that holds them.",
                          input_uri, root);
        else
            sf_diag_error(d, NULL, S, "Cannot read the input %s: %s.", root, strerror(errno));
        free(root);
        return -1;
    }
    fp_list l = {0};
    char *err = NULL;
    if (fp_walk(ctx, root, &l, &err) != 0) {
        sf_diag_error(d, NULL, S, "Listing the input %s failed: %s.", input_uri, err);
    } else {
        *out = fp_digest(&l);
        *count = (int64_t)l.n;
        rc = 0;
    }
    free(err);
    fp_clear(&l);
    free(root);
    return rc;
}

/* ---- stage -------------------------------------------------------------- */

static int file_stage(sf_ctx *ctx, const sf_engine_env *env, const char *output_uri,
                      const char *run_id, char **work_uri, sf_diags *d)
{
    (void)env;
    static const char S[] = "Cannot stage outputs";
    *work_uri = NULL;
    if (!check_run_id(run_id, S, d)) return -1;
    layout o;
    if (layout_from_uri(output_uri, S, &o, d) != 0) return -1;
    int lock = -1, rc = -1;
    char *cur = NULL, *run = join(o.store, run_id), *name = owner_name(run_id);
    char *rec = join(o.store, name), *err = NULL;
    out_state state;
    if (lock_store(ctx, &o, true, &lock, S, d) != 0) goto out;
    if (classify(&o, &state, &cur, S, d) != 0) goto out;
    if (state == OUT_FOREIGN || state == OUT_FOREIGN_LINK) {
        refuse_foreign(&o, d);
        goto out;
    }
    sweep_stale(ctx, &o, cur, run_id);
    struct stat st;
    if (lstat(run, &st) == 0 || lstat(rec, &st) == 0) {
        sf_diag_error(d, NULL, S, "Run %s of %s was staged before (%s exists); every run needs "
                      "a fresh run id.", run_id, o.path, run);
        goto out;
    }
    /* The record first: a run directory always has an owner to ask about. */
    owner me;
    owner_self(&me);
    if (owner_write(&o, run_id, &me, &err) != 0) {
        sf_diag_error(d, NULL, S, "Cannot record run %s: %s.", run_id, err);
        goto out;
    }
    if (mkdir(run, 0755) != 0) {
        sf_diag_error(d, NULL, S, "Cannot create the staging directory %s: %s.", run,
                      strerror(errno));
        unlink(rec);
        goto out;
    }
    *work_uri = sf_fmt("file://%s", run);
    sf_log(ctx, SF_LOG_DEBUG, "lake: staged run %s of %s at %s", run_id, o.path, run);
    rc = 0;
out:
    unlock_store(lock);
    free(err);
    free(rec);
    free(name);
    free(run);
    free(cur);
    layout_clear(&o);
    return rc;
}

/* ---- publish ------------------------------------------------------------ */

static char *run_record_json(const char *run_id, const char *fingerprint)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON *j = cJSON_CreateObject();
    if (!j) abort();
    cJSON_AddStringToObject(j, "run_id", run_id);
    if (fingerprint) cJSON_AddStringToObject(j, "fingerprint", fingerprint);
    else cJSON_AddNullToObject(j, "fingerprint");
    cJSON_AddStringToObject(j, "published_at", stamp);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    if (!text) abort();
    return text;
}

/* Puts a link to `target` at the output path in one step.  `old_target` is
 * the link text expected there now, NULL when nothing is expected.  0, or -1
 * with a diagnostic; the output is unchanged on error. */
static int switch_link(const layout *o, const char *target, const char *old_target,
                       const char *summary, sf_diags *d)
{
    struct stat st;
    if (lstat(o->tmp, &st) == 0) {
        if (!S_ISLNK(st.st_mode)) {
            sf_diag_error(d, NULL, summary, "%s is in the way (SparkFlow uses that name for "
                          "a moment while publishing); move it away and apply again.", o->tmp);
            return -1;
        }
        unlink(o->tmp); /* left by an interrupted publish (we hold the lock) */
    }
    if (symlink(target, o->tmp) != 0) {
        sf_diag_error(d, NULL, summary, "Cannot create the link %s: %s.", o->tmp, strerror(errno));
        return -1;
    }
    if (fsync_path(o->parent, true) != 0) {
        sf_diag_error(d, NULL, summary, "Cannot sync %s: %s.", o->parent, strerror(errno));
        unlink(o->tmp);
        return -1;
    }
    unsigned int flags = old_target ? RENAME_EXCHANGE : RENAME_NOREPLACE;
    int rc = renameat2(AT_FDCWD, o->tmp, AT_FDCWD, o->path, flags);
    if (rc != 0 && (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP)) {
        /* No flags here: plain rename, the lock keeps SparkFlow out. */
        rc = rename(o->tmp, o->path);
        flags = 0;
    }
    if (rc != 0) {
        int e = errno;
        unlink(o->tmp);
        if (e == EEXIST || e == ENOTEMPTY || e == EISDIR)
            sf_diag_error(d, NULL, "Output location holds data SparkFlow did not write",
                          "%s appeared while the outputs were being published; SparkFlow "
                          "left it as it is and published nothing. Move it away or choose "
                          "another output, then apply again.", o->path);
        else
            sf_diag_error(d, NULL, summary, "Cannot rename %s to %s: %s.", o->tmp, o->path,
                          strerror(e));
        return -1;
    }
    if (flags == RENAME_EXCHANGE) {
        /* The temp name now holds what was at the output: it must be the
         * link we saw, or someone else's data that we put back. */
        char *was = read_link(o->tmp);
        if (!was || strcmp(was, old_target) != 0) {
            renameat2(AT_FDCWD, o->tmp, AT_FDCWD, o->path, RENAME_EXCHANGE);
            free(was);
            sf_diag_error(d, NULL, "Output location holds data SparkFlow did not write",
                          "%s changed while the outputs were being published; SparkFlow put "
                          "it back as it was and published nothing. Apply again.", o->path);
            return -1;
        }
        free(was);
        unlink(o->tmp);
    }
    if (fsync_path(o->parent, true) != 0)
        sf_log(NULL, SF_LOG_WARN, "lake: cannot sync %s: %s", o->parent, strerror(errno));
    return 0;
}

static int file_publish(sf_ctx *ctx, const sf_engine_env *env, const char *output_uri,
                        const char *work_uri, const char *run_id, const char *fingerprint,
                        sf_diags *d)
{
    (void)env;
    static const char S[] = "Cannot publish outputs";
    if (!check_run_id(run_id, S, d)) return -1;
    layout o;
    if (layout_from_uri(output_uri, S, &o, d) != 0) return -1;
    int lock = -1, rc = -1;
    char *run = join(o.store, run_id), *name = owner_name(run_id), *rec = join(o.store, name);
    char *work = NULL, *old = NULL, *err = NULL, *json = NULL;
    char *target = sf_fmt("%s/%s/%s", SF_DIR, o.base, run_id), *old_target = NULL;
    if (!(work = uri_path(work_uri, S, d))) goto out;
    if (strcmp(work, run) != 0) {
        sf_diag_error(d, NULL, S, "%s is not where SparkFlow staged run %s of %s (%s).",
                      work_uri, run_id, o.path, run);
        goto out;
    }
    int locked = lock_store(ctx, &o, false, &lock, S, d);
    if (locked < 0) goto out;
    struct stat st;
    if (locked > 0 || lstat(run, &st) != 0 || !S_ISDIR(st.st_mode) || lstat(rec, &st) != 0) {
        sf_diag_error(d, NULL, S, "The staging area %s of run %s is gone or incomplete (was it "
                      "removed while the run was going?). Nothing was published; the previous "
                      "outputs of %s are unchanged. Run again.", run, run_id, o.path);
        goto out;
    }
    out_state state;
    if (classify(&o, &state, &old, S, d) != 0) goto out;
    if (state == OUT_FOREIGN || state == OUT_FOREIGN_LINK) {
        refuse_foreign(&o, d);
        goto out;
    }
    if (sf_ctx_done(ctx)) {
        sf_diag_error(d, NULL, S, "%s before the outputs were switched; the previous outputs "
                      "of %s are unchanged.", sf_ctx_reason(ctx), o.path);
        goto out;
    }
    json = run_record_json(run_id, fingerprint);
    if (sync_tree(ctx, run, &err) != 0 || write_durable(run, RUN_RECORD, json, &err) != 0) {
        sf_diag_error(d, NULL, S, "Preparing run %s failed: %s. The previous outputs of %s are "
                      "unchanged.", run_id, err, o.path);
        goto out;
    }
    /* The run directory's own entry, and the store's, must be durable before
     * a link points at them. */
    if (fsync_path(o.store, true) != 0 || fsync_path(o.sfdir, true) != 0) {
        sf_diag_error(d, NULL, S, "Cannot sync %s: %s. The previous outputs of %s are "
                      "unchanged.", o.store, strerror(errno), o.path);
        goto out;
    }
    if (old && strcmp(old, run_id) == 0) { /* published already: record refreshed */
        rc = 0;
        goto out;
    }
    if (old) old_target = sf_fmt("%s/%s/%s", SF_DIR, o.base, old);
    if (switch_link(&o, target, old_target, S, d) != 0) goto out;
    sf_log(ctx, SF_LOG_INFO, "lake: published run %s at %s", run_id, o.path);
    rc = 0;
    if (old) {
        /* A reader that followed the old link just before the switch may be
         * between resolving it and opening its files: give it a moment (an
         * open file stays readable after it is deleted). */
        sf_ctx_sleep_ms(ctx, GRACE_MS);
        int e = delete_run(&o, old);
        if (e)
            sf_diag_warning(d, NULL, "Previous outputs not removed",
                            "The new outputs of %s are published, but the previous run %s/%s "
                            "could not be removed: %s. SparkFlow removes it on a later run; you "
                            "may also delete it yourself.", o.path, o.store, old, strerror(e));
    }
out:
    unlock_store(lock);
    free(old_target);
    free(target);
    free(json);
    free(err);
    free(old);
    free(work);
    free(rec);
    free(name);
    free(run);
    layout_clear(&o);
    return rc;
}

/* ---- discard ------------------------------------------------------------ */

static int file_discard(sf_ctx *ctx, const sf_engine_env *env, const char *work_uri, sf_diags *d)
{
    (void)env;
    static const char S[] = "Cannot discard staging area";
    char *path = uri_path(work_uri, S, d);
    if (!path) return -1;
    /* <parent>/_sparkflow/<base>/<run> and nothing else. */
    char *store = strcmp(path, "/") ? parent_of(path) : xstrdup("/");
    char *sfdir = strcmp(store, "/") ? parent_of(store) : xstrdup("/");
    char *parent = strcmp(sfdir, "/") ? parent_of(sfdir) : xstrdup("/");
    int lock = -1, rc = -1;
    char *cur = NULL;
    layout o = {0};
    if (strcmp(sfdir, "/") == 0 || strcmp(base_of(sfdir), SF_DIR) != 0 ||
        !valid_run_id(base_of(path))) {
        sf_diag_error(d, NULL, S, "%s is not a SparkFlow staging area (.../%s/<output>/<run "
                      "id>); SparkFlow only deletes what it staged.", work_uri, SF_DIR);
        goto out;
    }
    const char *run = base_of(path);
    layout_make(&o, parent, base_of(store));
    int locked = lock_store(ctx, &o, false, &lock, S, d);
    if (locked != 0) {
        rc = locked > 0 ? 0 : -1; /* no store: nothing to discard */
        goto out;
    }
    out_state state;
    if (classify(&o, &state, &cur, S, d) != 0) goto out;
    if (state == OUT_OURS && strcmp(cur, run) == 0) {
        sf_diag_error(d, NULL, S, "Run %s is the published output of %s; SparkFlow does not "
                      "discard published outputs.", run, o.path);
        goto out;
    }
    int e = delete_run(&o, run);
    if (e) {
        sf_diag_error(d, NULL, S, "Cannot delete %s: %s.", path, strerror(e));
        goto out;
    }
    sf_log(ctx, SF_LOG_DEBUG, "lake: discarded %s", path);
    rc = 0;
out:
    unlock_store(lock);
    free(cur);
    layout_clear(&o);
    free(parent);
    free(sfdir);
    free(store);
    free(path);
    return rc;
}

/* ---- published ---------------------------------------------------------- */

static int file_published(sf_ctx *ctx, const sf_engine_env *env, const char *output_uri,
                          sf_published *out, sf_diags *d)
{
    (void)ctx;
    (void)env;
    static const char S[] = "Cannot read published outputs";
    out->run_id = out->fingerprint = NULL;
    layout o;
    if (layout_from_uri(output_uri, S, &o, d) != 0) return -1;
    int rc = -1;
    char *cur = NULL, *text = NULL;
    cJSON *j = NULL;
    out_state state;
    if (classify(&o, &state, &cur, S, d) != 0) goto out;
    rc = 0;
    if (state != OUT_OURS) goto out;
    /* Through the link: the record of whichever run it points at as we open. */
    char *path = join(o.path, RUN_RECORD);
    size_t len = 0;
    text = read_all(path, &len);
    if (!text && errno != ENOENT && errno != ENOTDIR) {
        sf_diag_error(d, NULL, S, "Cannot read %s: %s.", path, strerror(errno));
        rc = -1;
    }
    if (text) {
        j = cJSON_ParseWithLength(text, len);
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "run_id"));
        const char *fp = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "fingerprint"));
        if (valid_run_id(id)) {
            out->run_id = xstrdup(id);
            out->fingerprint = fp ? xstrdup(fp) : NULL;
        } else {
            sf_diag_warning(d, NULL, "Unreadable publish record",
                            "%s is not a record SparkFlow wrote; the outputs of %s count as "
                            "not published, so the pipeline runs again.", path, o.path);
        }
    }
    free(path);
out:
    cJSON_Delete(j);
    free(text);
    free(cur);
    layout_clear(&o);
    return rc;
}

/* ---- remove ------------------------------------------------------------- */

static int file_remove(sf_ctx *ctx, const sf_engine_env *env, const char *output_uri, sf_diags *d)
{
    (void)env;
    static const char S[] = "Cannot remove outputs";
    layout o;
    if (layout_from_uri(output_uri, S, &o, d) != 0) return -1;
    int lock = -1, rc = -1;
    char *cur = NULL;
    int locked = lock_store(ctx, &o, false, &lock, S, d);
    if (locked < 0) goto out;
    out_state state;
    if (classify(&o, &state, &cur, S, d) != 0) goto out;
    if (state == OUT_OURS) {
        if (unlink(o.path) != 0 && errno != ENOENT) {
            sf_diag_error(d, NULL, S, "Cannot remove the link %s: %s.", o.path, strerror(errno));
            goto out;
        }
        fsync_path(o.parent, true);
    } else if (state != OUT_MISSING) {
        sf_diag_warning(d, NULL, "Output left in place",
                        "%s is a %s that SparkFlow did not create, so it was left as it is.",
                        o.path, kind_of(o.path));
    }
    struct stat st;
    if (lstat(o.tmp, &st) == 0 && S_ISLNK(st.st_mode)) unlink(o.tmp);
    if (locked == 0) {
        int e = delete_tree(o.store);
        if (e) {
            sf_diag_error(d, NULL, S, "Cannot delete %s: %s.", o.store, strerror(e));
            goto out;
        }
    }
    unlock_store(lock);
    lock = -1;
    rmdir(o.sfdir); /* only when no other output keeps runs there */
    sf_log(ctx, SF_LOG_INFO, "lake: removed %s and %s", o.path, o.store);
    rc = 0;
out:
    unlock_store(lock);
    free(cur);
    layout_clear(&o);
    return rc;
}

const sf_lake sf_lake_file = {
    .scheme = "file",
    .fingerprint = file_fingerprint,
    .stage = file_stage,
    .publish = file_publish,
    .discard = file_discard,
    .published = file_published,
    .remove = file_remove,
};
