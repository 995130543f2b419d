/* str.c — malloc'd strings and the growable buffer (str.h). */
#include "base/str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *sf_vfmt(const char *fmt, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) abort();
    return s;
}

char *sf_fmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = sf_vfmt(fmt, ap);
    va_end(ap);
    return s;
}

char *sf_strndup(const char *s, size_t n)
{
    char *d = strndup(s, n);
    if (!d) abort();
    return d;
}

char *sf_strdup(const char *s)
{
    return s ? sf_strndup(s, strlen(s)) : NULL;
}

/* ---- sf_buf ---------------------------------------------------------------- */

static void buf_reserve(sf_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    b->data = realloc(b->data, cap);
    if (!b->data) abort();
    b->cap = cap;
}

void sf_buf_append(sf_buf *b, const void *data, size_t len)
{
    buf_reserve(b, len);
    if (len) memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = 0;
}

void sf_buf_puts(sf_buf *b, const char *s)
{
    sf_buf_append(b, s, strlen(s));
}

void sf_buf_printf(sf_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = sf_vfmt(fmt, ap);
    va_end(ap);
    sf_buf_puts(b, s);
    free(s);
}

char *sf_buf_take(sf_buf *b)
{
    if (!b->data) sf_buf_append(b, "", 0);
    char *s = b->data;
    *b = (sf_buf){0};
    return s;
}

void sf_buf_free(sf_buf *b)
{
    free(b->data);
    *b = (sf_buf){0};
}

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.' || c == '~';
}

char *sf_uri_encode(const char *s, size_t len, bool keep_slash)
{
    sf_buf b = {0};
    sf_buf_append(&b, "", 0);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) sf_buf_append(&b, &s[i], 1);
        else sf_buf_printf(&b, "%%%02X", c);
    }
    return b.data;
}

/* ---- UTF-8 ----------------------------------------------------------- */

size_t sf_utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (n == 0) return 0;
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t min, v;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        min = 0x80;
        v = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        min = 0x800;
        v = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        min = 0x10000;
        v = c & 0x07;
    } else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return len;
}

void sf_utf8_clean(char *s)
{
    unsigned char *p = (unsigned char *)s;
    size_t n = strlen(s);
    uint32_t cp;
    while (n > 0) {
        size_t k = sf_utf8_next(p, n, &cp);
        if (!k) {
            *p = '?';
            k = 1;
        }
        p += k;
        n -= k;
    }
}
