/* str.h — malloc'd strings for every layer: printf into a new string,
 * strdup, and a growable byte buffer.  All of these abort on allocation
 * failure, so callers handle only the failures a user can cause. */
#ifndef SF_BASE_STR_H
#define SF_BASE_STR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* printf into a new string (malloc'd). */
char *sf_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *sf_vfmt(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* A malloc'd copy of s; NULL stays NULL. */
char *sf_strdup(const char *s);
/* A malloc'd copy of at most n bytes of s, NUL-terminated. */
char *sf_strndup(const char *s, size_t n);

/* A growable buffer.  Zero-initialise it ({0}); after any append `data` is
 * NUL-terminated (the terminator is not counted in len). */
typedef struct sf_buf {
    char *data;
    size_t len, cap;
} sf_buf;

void sf_buf_append(sf_buf *b, const void *data, size_t len);
void sf_buf_puts(sf_buf *b, const char *s);
void sf_buf_printf(sf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The contents as a NUL-terminated malloc'd string ("" when empty); the
 * buffer is reset to empty and may be reused. */
char *sf_buf_take(sf_buf *b);
/* Release the contents; the buffer is empty again. */
void sf_buf_free(sf_buf *b);

/* `len` bytes of `s` percent-encoded as RFC 3986 wants for a URI: all but
 * the unreserved characters (A-Z a-z 0-9 - _ . ~), and `/` too unless
 * `keep_slash`.  malloc'd; can't fail. */
char *sf_uri_encode(const char *s, size_t len, bool keep_slash);

/* Length of the valid UTF-8 sequence at s (at most n bytes) with its code
 * point in *cp, 0 if invalid.  Rejects what Go rejects: overlong forms,
 * surrogates, > U+10FFFF. */
size_t sf_utf8_next(const unsigned char *s, size_t n, uint32_t *cp);
/* Every byte of s that is not part of valid UTF-8 becomes '?' (text from
 * outside, on its way into a diagnostic). */
void sf_utf8_clean(char *s);

#endif
