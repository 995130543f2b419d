/* util.c — the small string, encoding and crypto helpers the AWS client is
 * built from: growable buffers, sha256/HMAC (OpenSSL), RFC 3986 encoding,
 * base64, timestamps.  Every function here can't fail except where noted;
 * allocation failure aborts.
 */
#include "aws.h"

#include "provider/str.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

char *sf_aws_strndup(const char *s, size_t n)
{
    char *d = strndup(s, n);
    if (!d) abort();
    return d;
}

char *sf_aws_strdup(const char *s) { return s ? sf_aws_strndup(s, strlen(s)) : NULL; }

/* ---- buffers ------------------------------------------------------------ */

static void buf_reserve(sf_aws_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    b->data = realloc(b->data, cap);
    if (!b->data) abort();
    b->cap = cap;
}

void sf_aws_buf_add(sf_aws_buf *b, const void *data, size_t len)
{
    buf_reserve(b, len);
    if (len) memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = 0;
}

void sf_aws_buf_adds(sf_aws_buf *b, const char *s) { sf_aws_buf_add(b, s, strlen(s)); }

void sf_aws_buf_addf(sf_aws_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = sf_vfmt(fmt, ap);
    va_end(ap);
    sf_aws_buf_adds(b, s);
    free(s);
}

void sf_aws_buf_free(sf_aws_buf *b)
{
    free(b->data);
    *b = (sf_aws_buf){0};
}

/* ---- crypto ------------------------------------------------------------- */

static void hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = 0;
}

void sf_aws_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    hex(md, 32, out);
}

void sf_aws_hmac(const void *key, size_t klen, const void *data, size_t dlen, unsigned char out[32])
{
    unsigned int n = 32;
    HMAC(EVP_sha256(), key, (int)klen, data, dlen, out, &n);
}

/* ---- encodings ---------------------------------------------------------- */

static bool unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

char *sf_aws_uri_encode(const char *s, size_t len, bool keep_slash)
{
    sf_aws_buf b = {0};
    sf_aws_buf_add(&b, "", 0);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) sf_aws_buf_add(&b, &s[i], 1);
        else sf_aws_buf_addf(&b, "%%%02X", c);
    }
    return b.data;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

char *sf_aws_uri_decode(const char *s, size_t *len)
{
    size_t n = strlen(s), o = 0;
    char *out = malloc(n + 1);
    if (!out) abort();
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n + 1 && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = 0;
    if (len) *len = o;
    return out;
}

char *sf_aws_base64(const void *data, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (!out) abort();
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

unsigned char *sf_aws_unbase64(const char *s, size_t *len)
{
    size_t n = strlen(s);
    if (n % 4) return NULL;
    unsigned char *out = malloc(n / 4 * 3 + 1);
    if (!out) abort();
    int k = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    if (k < 0) {
        free(out);
        return NULL;
    }
    size_t pad = 0;
    if (n >= 1 && s[n - 1] == '=') pad++;
    if (n >= 2 && s[n - 2] == '=') pad++;
    *len = (size_t)k - pad;
    out[*len] = 0;
    return out;
}

/* ---- time and randomness ------------------------------------------------ */

int64_t sf_aws_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sf_aws_parse_iso8601(const char *s)
{
    if (!s) return -1;
    struct tm tm = {0};
    const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest) return -1;
    if (*rest == '.')
        for (rest++; isdigit((unsigned char)*rest); rest++) {}
    int64_t offset = 0;
    if (*rest == '+' || *rest == '-') {
        int hh = 0, mm = 0;
        if (sscanf(rest + 1, "%2d:%2d", &hh, &mm) < 1) return -1;
        offset = (hh * 3600 + mm * 60) * (*rest == '+' ? 1 : -1);
    } else if (*rest != 'Z' && *rest != 0) {
        return -1;
    }
    return (int64_t)timegm(&tm) - offset;
}

int sf_aws_random_hex(char out[33])
{
    unsigned char rnd[16];
    FILE *f = fopen("/dev/urandom", "rb");
    size_t n = f ? fread(rnd, 1, sizeof rnd, f) : 0;
    if (f) fclose(f);
    if (n != sizeof rnd) return -1;
    hex(rnd, sizeof rnd, out);
    return 0;
}
