/* file_disk.c — the disk chores of the file:// lake that base/files.h does
 * not do: an rm -rf that stays on one filesystem and never follows a link,
 * an fsync of every file of a run before it is published, record writes
 * whose failure says which file, and how much room the lake's disk has. */
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/files.h"
#include "base/str.h"
#include "lakes/file.h"

/* fsync a regular file met in a physical walk, never through a link.  0, or
 * -1 with errno.  EINVAL (a filesystem that cannot sync this kind of file)
 * counts as success, as sf_file_fsync_dir does for directories. */
static int fsync_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return -1;
    int rc = fsync(fd) == 0 || errno == EINVAL ? 0 : -1;
    int e = errno;
    close(fd);
    errno = e;
    return rc;
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
int sf_lake_file_delete_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : errno;
    if (!S_ISDIR(st.st_mode)) return unlink(path) == 0 || errno == ENOENT ? 0 : errno;
    int rc = nftw(path, unlink_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    return rc == -1 ? errno : rc;
}

int sf_lake_file_walk(sf_ctx *ctx, const char *root, int flags, size_t every, const char *doing,
                      sf_lake_file_visit visit, void *arg, char **err)
{
    char *paths[] = {(char *)root, NULL};
    FTS *fts = fts_open(paths, flags | FTS_NOCHDIR, NULL);
    if (!fts) {
        *err = sf_fmt("cannot read %s: %s", root, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (size_t seen = 1; rc == 0; seen++) {
        errno = 0;
        FTSENT *e = fts_read(fts);
        if (!e) {
            if (errno) {
                *err = sf_fmt("cannot read %s: %s", root, strerror(errno));
                rc = -1;
            }
            break;
        }
        rc = visit(fts, e, arg, err);
        if (rc == 0 && seen % every == 0 && sf_ctx_done(ctx)) {
            *err = sf_fmt("%s while %s", sf_ctx_reason(ctx), doing);
            rc = -1;
        }
    }
    fts_close(fts);
    return rc;
}

/* sync_tree's visit: fsync files and directories (children come first in a
 * post-order walk); *(bool *)arg set when one may not be opened. */
static int sync_entry(FTS *fts, FTSENT *e, void *arg, char **err)
{
    (void)fts;
    if (e->fts_info == FTS_F || e->fts_info == FTS_DP) {
        bool dir = e->fts_info == FTS_DP;
        int synced = dir ? sf_file_fsync_dir(e->fts_accpath) : fsync_file(e->fts_accpath);
        if (synced == 0) return 0;
        if (errno == EACCES) {
            *(bool *)arg = true;
            return 0;
        }
        *err = sf_fmt("cannot sync %s: %s", e->fts_path, strerror(errno));
        return -1;
    }
    if (e->fts_info == FTS_DNR || e->fts_info == FTS_ERR || e->fts_info == FTS_NS) {
        *err = sf_fmt("cannot read %s: %s", e->fts_path, strerror(e->fts_errno));
        return -1;
    }
    return 0;
}

/* fsync every regular file and directory under root, children before their
 * directory, so that a run's outputs are on disk before they are published.
 * Files we may not open are covered by one syncfs(2) at the end.  0, or -1
 * with *err (also when the context ends: nothing is published then). */
int sf_lake_file_sync_tree(sf_ctx *ctx, const char *root, char **err)
{
    bool need_syncfs = false;
    int rc = sf_lake_file_walk(ctx, root, FTS_PHYSICAL, 256, "syncing the new outputs to disk", sync_entry,
                               &need_syncfs, err);
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

int sf_lake_file_write_record(const char *dir, const char *name, const char *text, char **err)
{
    char *path = sf_lake_file_join(dir, name);
    int rc = sf_file_write_atomic(path, text, strlen(text), 0644);
    if (rc != 0) *err = sf_fmt("cannot write %s: %s", path, strerror(errno));
    free(path);
    return rc;
}

int sf_lake_file_disk_space(const char *uri, uint64_t *avail, uint64_t *total)
{
    sf_diags scratch;
    sf_diags_init(&scratch);
    char *path = sf_lake_file_uri_path(uri, "", &scratch);
    sf_diags_clear(&scratch);
    int rc = -1;
    /* The nearest existing ancestor: the staging area may be gone already. */
    while (path && rc != 0) {
        struct statvfs v;
        if (statvfs(path, &v) == 0) {
            *avail = (uint64_t)v.f_bavail * v.f_frsize;
            *total = (uint64_t)v.f_blocks * v.f_frsize;
            rc = 0;
            break;
        }
        char *slash = strrchr(path, '/');
        if (!slash || slash == path) break;
        *slash = '\0';
    }
    free(path);
    return rc;
}
