/* util.c — the small encoding and crypto helpers the AWS client is built
 * from: sha256/HMAC (OpenSSL), RFC 3986 encoding, base64, ISO 8601 parsing.
 * Every function here can't fail except where noted; allocation failure
 * aborts.
 */
#include "aws/aws.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

char *sf_aws_uri_encode(const char *s, size_t len, bool keep_slash)
{
    return sf_uri_encode(s, len, keep_slash);
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

int64_t sf_aws_parse_iso8601(const char *s)
{
    int64_t ms = sf_time_parse_rfc3339_ms(s);
    return ms < 0 ? -1 : ms / 1000;
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
