/* files.c — making directory paths and reading whole files (files.h). */
#include "files.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int sf_file_mkdirs(const char *path)
{
    char *p = strdup(path);
    if (!p) abort();
    int rc = 0;
    for (char *s = p + 1; rc == 0; s++) {
        if (*s != '/' && *s != '\0') continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) rc = -1;
        *s = c;
        if (c == '\0') break;
    }
    int saved = errno;
    free(p);
    errno = saved;
    return rc;
}

char *sf_file_read(const char *path)
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
    return buf;
}
