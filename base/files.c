/* files.c — directory paths, whole-file reads and atomic writes (files.h). */
#include "base/files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/str.h"

/* ---- directories ----------------------------------------------------------- */

int sf_file_mkdirs_mode(const char *path, mode_t mode)
{
    if (!*path) {
        errno = ENOENT;
        return -1;
    }
    char *p = sf_strdup(path);
    int rc = 0;
    for (char *s = p + 1; rc == 0; s++) {
        if (*s != '/' && *s != '\0') continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, mode) != 0 && errno != EEXIST) rc = -1;
        *s = c;
        if (c == '\0') break;
    }
    int saved = errno;
    free(p);
    errno = saved;
    if (rc != 0) return -1;
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

int sf_file_mkdirs(const char *path)
{
    return sf_file_mkdirs_mode(path, 0755);
}

int sf_file_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_CLOEXEC | O_DIRECTORY);
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

/* ---- reading --------------------------------------------------------------- */

char *sf_file_read_len(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rbe");
    if (!f) return NULL;
    size_t cap = 4096, len = 0, n;
    char *buf = malloc(cap);
    if (!buf) abort();
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len <= 1) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf) abort();
        }
    }
    bool failed = ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    buf[len] = '\0';
    if (len_out) *len_out = len;
    return buf;
}

char *sf_file_read(const char *path)
{
    return sf_file_read_len(path, NULL);
}

/* ---- atomic replacement ---------------------------------------------------- */

/* The directory part of path ("." when it has none). */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return sf_strdup(".");
    if (slash == path) return sf_strdup("/");
    return sf_strndup(path, (size_t)(slash - path));
}

/* Create a new temp file next to path: "<dir>/.<name>.<random>.tmp", opened
 * O_EXCL (never follows or reuses an entry).  fd, or -1 with errno. */
static int open_temp(const char *path, mode_t mode, char **tmp)
{
    const char *slash = strrchr(path, '/');
    int dir_len = slash ? (int)(slash - path) + 1 : 0;
    for (int attempt = 0; attempt < 16; attempt++) {
        uint64_t rnd = 0;
        if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) rnd ^= (uint64_t)getpid() << 32 | (uint64_t)attempt;
        *tmp = sf_fmt("%.*s.%s.%016llx.tmp", dir_len, path, path + dir_len, (unsigned long long)rnd);
        int fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd >= 0) return fd;
        int e = errno;
        free(*tmp);
        *tmp = NULL;
        errno = e;
        if (e != EEXIST) return -1;
    }
    return -1;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    size_t off = 0;
    while (off < len) {
        ssize_t k = write(fd, p + off, len - off);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return -1;
        if (k == 0) {
            errno = EIO;
            return -1;
        }
        off += (size_t)k;
    }
    return 0;
}

int sf_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    char *tmp = NULL;
    int fd = open_temp(path, mode, &tmp);
    if (fd < 0) return -1;
    bool ok = write_all(fd, data, len) == 0 && fsync(fd) == 0;
    int e = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        e = errno;
    }
    if (!ok) {
        unlink(tmp);
        free(tmp);
        errno = e;
        return -1;
    }
    free(tmp);
    char *dir = dir_of(path);
    int rc = sf_file_fsync_dir(dir);
    e = errno;
    free(dir);
    errno = e;
    return rc;
}
