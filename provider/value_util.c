/* value_util.c — memory, byte buffers, error paths and UTF-8 for the value module.
 *
 * The value codecs report errors as "<path>: <message>" where the path is
 * written the way Terraform users read it (workers[0].labels["zone"]); the
 * helpers that build those paths and messages live here with the small
 * growable buffer they use.
 */
#include "provider/value_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Memory ---------------------------------------------------------- */

static void *oom(void)
{
    fprintf(stderr, "%s: out of memory\n", program_invocation_short_name);
    abort();
}

void *sfv_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    return p ? p : oom();
}

void *sfv_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    return p ? p : oom();
}

void *sfv_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    return q ? q : oom();
}

char *sfv_strndup(const char *s, size_t n)
{
    char *p = sfv_malloc(n + 1);
    if (n) memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* ---- Buffer ---------------------------------------------------------- */

static void buf_reserve(sfv_buf *b, size_t extra)
{
    if (b->p && b->len + extra < b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap <= b->len + extra) {
        if (cap > SIZE_MAX / 2) oom();
        cap *= 2;
    }
    b->p = sfv_realloc(b->p, cap);
    b->cap = cap;
}

void sfv_buf_put(sfv_buf *b, const void *s, size_t n)
{
    buf_reserve(b, n);
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sfv_buf_puts(sfv_buf *b, const char *s)
{
    sfv_buf_put(b, s, strlen(s));
}

void sfv_buf_putc(sfv_buf *b, char c)
{
    sfv_buf_put(b, &c, 1);
}

void sfv_buf_printf(sfv_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *sfv_buf_steal(sfv_buf *b)
{
    char *p = b->p ? b->p : sf_strdup("");
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

void sfv_buf_free(sfv_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---- Paths ----------------------------------------------------------- */

void sfv_path_attr(sfv_buf *p, const char *name)
{
    if (p->len) sfv_buf_putc(p, '.');
    sfv_buf_puts(p, name);
}

void sfv_path_index(sfv_buf *p, size_t i)
{
    sfv_buf_printf(p, "[%zu]", i);
}

void sfv_path_key(sfv_buf *p, const char *key)
{
    sfv_buf_printf(p, "[\"%s\"]", key);
}

void sfv_path_pop(sfv_buf *p, size_t len)
{
    assert(len <= p->len);
    p->len = len;
    if (p->p) p->p[len] = '\0';
}

int sfv_fail(char **err, const sfv_buf *path, const char *fmt, ...)
{
    if (!err) return -1;
    sfv_buf b = {0};
    if (path && path->len) {
        sfv_buf_put(&b, path->p, path->len);
        sfv_buf_puts(&b, ": ");
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n > 0) {
        char *msg = sfv_malloc((size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(msg, (size_t)n + 1, fmt, ap);
        va_end(ap);
        sfv_buf_put(&b, msg, (size_t)n);
        free(msg);
    }
    free(*err); /* public entry points start *err at NULL */
    *err = sfv_buf_steal(&b);
    return -1;
}

/* ---- UTF-8 ----------------------------------------------------------- */

bool sfv_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    uint32_t cp;
    while (n) {
        size_t k = sf_utf8_next(p, n, &cp);
        if (!k) return false;
        p += k;
        n -= k;
    }
    return true;
}
