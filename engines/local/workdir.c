/* workdir.c — the directories the engine creates, and only those it removes.
 *
 * A user may point work_dir at a directory that already holds their files.
 * So every directory the engine makes is remembered in the cluster record,
 * and destroy removes exactly those: subdirectories (logs/, worker-N/) with
 * their contents, the work dir itself and its new parents only when empty.
 * The default work dir (~/.sparkflow/local/<id>) belongs to the engine and
 * goes entirely.
 */
#include "engines/local/local.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TAIL_BYTES 16384
#define TAIL_MAX 4096

static void remember(sf_local_cluster *c, const char *path)
{
    char **grown = realloc(c->created, (c->n_created + 1) * sizeof *grown);
    if (!grown) abort();
    c->created = grown;
    c->created[c->n_created++] = sf_strdup(path);
}

int sf_local_mkdirs(sf_local_cluster *c, const char *path, char **err)
{
    char *p = sf_strdup(path);
    size_t len = strlen(p);
    while (len > 1 && p[len - 1] == '/') p[--len] = 0;
    int rc = 0;
    for (char *s = p + 1;; s++) {
        bool last = *s == 0;
        if (!last && *s != '/') continue;
        *s = 0;
        if (mkdir(p, 0755) == 0) {
            remember(c, p);
        } else if (errno != EEXIST) {
            *err = sf_fmt("cannot create directory %s: %s", p, strerror(errno));
            rc = -1;
            break;
        } else {
            struct stat st;
            if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
                *err = sf_fmt("%s exists and is not a directory", p);
                rc = -1;
                break;
            }
        }
        if (last) break;
        *s = '/';
    }
    free(p);
    return rc;
}

/* Best effort: an entry that cannot go stays, the walk goes on. */
static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP || flag == FTW_DNR || flag == FTW_D) rmdir(path);
    else unlink(path);
    return 0;
}

int sf_local_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode)) return unlink(path);
    /* FTW_PHYS: a symlink is removed, never followed; FTW_DEPTH: children
     * before their directory; FTW_MOUNT: never into another file system. */
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    return lstat(path, &st) == 0 ? -1 : 0;
}

/* True when path lies strictly inside dir. */
static bool inside(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    return strncmp(path, dir, n) == 0 && path[n] == '/' && path[n + 1];
}

void sf_local_workdir_remove(const sf_local_cluster *c)
{
    const char *wd = c->spec.work_dir;
    if (!wd) return;
    if (c->default_work_dir) {
        /* Only when it really is the engine's own directory for this id:
         * the one its record lives in (under the HOME it was created with,
         * which need not be this command's). */
        const char *base = strrchr(wd, '/');
        char *real = realpath(wd, NULL);
        if (real && c->record_dir && strcmp(real, c->record_dir) == 0 && base && strcmp(base + 1, c->id) == 0)
            sf_local_remove_tree(real);
        free(real);
        return;
    }
    for (size_t i = c->n_created; i-- > 0;) {
        const char *p = c->created[i];
        if (inside(p, wd)) sf_local_remove_tree(p);
        else rmdir(p); /* the work dir or a parent it needed: only if empty */
    }
}

char *sf_local_log_tail(const char *path, int lines)
{
    if (!path) return sf_strdup("(no log)\n");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sf_fmt("(cannot read %s: %s)\n", path, strerror(errno));
    off_t size = lseek(fd, 0, SEEK_END);
    off_t from = size > TAIL_BYTES ? size - TAIL_BYTES : 0;
    char *buf = malloc(TAIL_BYTES + 1);
    if (!buf) abort();
    ssize_t n = size > 0 ? pread(fd, buf, (size_t)(size - from), from) : 0;
    close(fd);
    if (n < 0) n = 0;
    buf[n] = 0;
    while (n > 0 && buf[n - 1] == '\n') buf[--n] = 0;
    /* Walk back `lines` newlines, then keep at most TAIL_MAX bytes. */
    char *start = buf + n;
    for (int seen = 0; start > buf; start--)
        if (start[-1] == '\n' && ++seen == lines) break;
    if (buf + n - start > TAIL_MAX) start = buf + n - TAIL_MAX;
    char *out = n ? sf_fmt("%s\n", start) : sf_fmt("(%s is empty)\n", path);
    free(buf);
    return out;
}
