/* sigv4.c — AWS Signature Version 4 for requests signed in headers.
 *
 * Builds the canonical request (method, URI, query, headers, payload hash),
 * the string to sign and the signing key chain exactly as the SigV4
 * documentation and botocore do, so tests/aws/test_sigv4.py can check this
 * code against botocore's SigV4Auth/S3SigV4Auth on the same requests.  Two
 * URI rules: S3 signs the path as sent; every other service signs it with
 * dot segments and doubled slashes removed, percent-encoded once more.
 */
#include "aws/aws.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* ---- canonical URI ------------------------------------------------------ */

/* RFC 3986 5.2.4 plus AWS's removal of empty segments (botocore's
 * remove_dot_segments). */
static char *remove_dot_segments(const char *path)
{
    size_t n = strlen(path);
    if (n == 0) return sf_strdup("/");
    const char **segs = calloc(n + 1, sizeof *segs);
    size_t *lens = calloc(n + 1, sizeof *lens);
    if (!segs || !lens) abort();
    size_t k = 0;
    for (const char *p = path; *p;) {
        size_t len = strcspn(p, "/");
        if (len && !(len == 1 && p[0] == '.')) {
            if (len == 2 && p[0] == '.' && p[1] == '.') {
                if (k) k--;
            } else {
                segs[k] = p;
                lens[k++] = len;
            }
        }
        p += len;
        if (*p == '/') p++;
    }
    sf_buf b = {0};
    sf_buf_append(&b, "", 0);
    if (path[0] == '/') sf_buf_puts(&b, "/");
    for (size_t i = 0; i < k; i++) {
        if (i) sf_buf_puts(&b, "/");
        sf_buf_append(&b, segs[i], lens[i]);
    }
    if (path[n - 1] == '/' && k) sf_buf_puts(&b, "/");
    free(segs);
    free(lens);
    return b.data;
}

static char *canonical_uri(const sf_aws_sign_req *req)
{
    const char *path = req->path && *req->path ? req->path : "/";
    if (req->s3) return sf_strdup(path);
    char *norm = remove_dot_segments(path);
    char *enc = sf_aws_uri_encode(norm, strlen(norm), true);
    free(norm);
    return enc;
}

/* ---- canonical query ---------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *canonical_query(const sf_aws_sign_req *req)
{
    char **pairs = calloc(req->n_query + 1, sizeof *pairs);
    if (!pairs) abort();
    for (size_t i = 0; i < req->n_query; i++) {
        const sf_aws_param *p = &req->query[i];
        char *k = sf_aws_uri_encode(p->key, strlen(p->key), false);
        char *v = sf_aws_uri_encode(p->value ? p->value : "", p->value ? strlen(p->value) : 0, false);
        /* "\x01" sorts before every encoded character: key order first. */
        pairs[i] = sf_fmt("%s\x01%s", k, v);
        free(k);
        free(v);
    }
    qsort(pairs, req->n_query, sizeof *pairs, cmp_str);
    sf_buf b = {0};
    sf_buf_append(&b, "", 0);
    for (size_t i = 0; i < req->n_query; i++) {
        if (i) sf_buf_puts(&b, "&");
        *strchr(pairs[i], '\x01') = '=';
        sf_buf_puts(&b, pairs[i]);
        free(pairs[i]);
    }
    free(pairs);
    return b.data;
}

/* ---- canonical headers -------------------------------------------------- */

typedef struct hdr {
    char *name;  /* lower case */
    char *value; /* trimmed, inner whitespace runs collapsed */
} hdr;

static char *lower(const char *s)
{
    char *d = sf_strdup(s);
    for (char *p = d; *p; p++) *p = (char)tolower((unsigned char)*p);
    return d;
}

static char *collapse(const char *s)
{
    sf_buf b = {0};
    sf_buf_append(&b, "", 0);
    bool space = false;
    for (const char *p = s; *p; p++) {
        if (isspace((unsigned char)*p)) {
            space = b.len > 0;
            continue;
        }
        if (space) sf_buf_puts(&b, " ");
        space = false;
        sf_buf_append(&b, p, 1);
    }
    return b.data;
}

static int cmp_hdr(const void *a, const void *b)
{
    return strcmp(((const hdr *)a)->name, ((const hdr *)b)->name);
}

/* The headers signed: the caller's, plus host, x-amz-date and the token. */
static hdr *collect_headers(const sf_aws_sign_req *req, const sf_aws_creds *creds, size_t *n)
{
    hdr *h = calloc(req->n_headers + 3, sizeof *h);
    if (!h) abort();
    size_t k = 0;
    h[k++] = (hdr){sf_strdup("host"), collapse(req->host)};
    h[k++] = (hdr){sf_strdup("x-amz-date"), sf_strdup(req->amz_date)};
    if (creds->token) h[k++] = (hdr){sf_strdup("x-amz-security-token"), collapse(creds->token)};
    for (size_t i = 0; i < req->n_headers; i++) {
        char *name = lower(req->headers[i].name);
        if (!strcmp(name, "host") || !strcmp(name, "x-amz-date") || !strcmp(name, "x-amz-security-token") ||
            !strcmp(name, "authorization") || !strcmp(name, "user-agent") || !strcmp(name, "expect") ||
            !strcmp(name, "transfer-encoding") || !strcmp(name, "x-amzn-trace-id")) {
            free(name);
            continue;
        }
        h[k++] = (hdr){name, collapse(req->headers[i].value)};
    }
    /* Stable by name: repeated headers keep their order and are joined. */
    for (size_t i = 1; i < k; i++)
        for (size_t j = i; j > 0 && cmp_hdr(&h[j - 1], &h[j]) > 0; j--) {
            hdr t = h[j];
            h[j] = h[j - 1];
            h[j - 1] = t;
        }
    *n = k;
    return h;
}

static void free_headers(hdr *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(h[i].name);
        free(h[i].value);
    }
    free(h);
}

char *sf_aws_sigv4_canonical_request(const sf_aws_sign_req *req, const sf_aws_creds *creds, char **signed_headers)
{
    size_t n;
    hdr *h = collect_headers(req, creds, &n);
    sf_buf canon = {0}, names = {0};
    sf_buf_append(&names, "", 0);
    char *uri = canonical_uri(req), *query = canonical_query(req);
    sf_buf_printf(&canon, "%s\n%s\n%s\n", req->method, uri, query);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(h[i].name, h[i - 1].name) == 0) {
            sf_buf_printf(&canon, ",%s", h[i].value);
            continue;
        }
        if (i > 0) sf_buf_puts(&canon, "\n");
        sf_buf_printf(&canon, "%s:%s", h[i].name, h[i].value);
        sf_buf_printf(&names, "%s%s", names.len ? ";" : "", h[i].name);
    }
    sf_buf_printf(&canon, "\n\n%s\n%s", names.data, req->payload_hash);
    free(uri);
    free(query);
    free_headers(h, n);
    if (signed_headers) *signed_headers = names.data;
    else sf_buf_free(&names);
    return canon.data;
}

char *sf_aws_sigv4_authorization(const sf_aws_sign_req *req, const sf_aws_creds *creds)
{
    char *names = NULL;
    char *canon = sf_aws_sigv4_canonical_request(req, creds, &names);
    char date[9];
    memcpy(date, req->amz_date, 8);
    date[8] = 0;
    char *scope = sf_fmt("%s/%s/%s/aws4_request", date, req->region, req->service);
    char canon_hash[65];
    sf_aws_sha256_hex(canon, strlen(canon), canon_hash);
    char *to_sign = sf_fmt("AWS4-HMAC-SHA256\n%s\n%s\n%s", req->amz_date, scope, canon_hash);

    char *k_secret = sf_fmt("AWS4%s", creds->secret_key);
    unsigned char k_date[32], k_region[32], k_service[32], k_signing[32], sig[32];
    sf_aws_hmac(k_secret, strlen(k_secret), date, 8, k_date);
    sf_aws_hmac(k_date, 32, req->region, strlen(req->region), k_region);
    sf_aws_hmac(k_region, 32, req->service, strlen(req->service), k_service);
    sf_aws_hmac(k_service, 32, "aws4_request", 12, k_signing);
    sf_aws_hmac(k_signing, 32, to_sign, strlen(to_sign), sig);
    char sig_hex[65];
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        sig_hex[2 * i] = digits[sig[i] >> 4];
        sig_hex[2 * i + 1] = digits[sig[i] & 15];
    }
    sig_hex[64] = 0;
    char *auth = sf_fmt("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s", creds->access_key, scope,
                        names, sig_hex);
    /* The derived keys are as secret as the key itself. */
    memset(k_secret, 0, strlen(k_secret));
    memset(k_date, 0, 32);
    memset(k_region, 0, 32);
    memset(k_service, 0, 32);
    memset(k_signing, 0, 32);
    free(k_secret);
    free(to_sign);
    free(scope);
    free(canon);
    free(names);
    return auth;
}

void sf_aws_creds_clear(sf_aws_creds *c)
{
    if (!c) return;
    if (c->secret_key) memset(c->secret_key, 0, strlen(c->secret_key));
    if (c->token) memset(c->token, 0, strlen(c->token));
    free(c->access_key);
    free(c->secret_key);
    free(c->token);
    free(c->source);
    *c = (sf_aws_creds){0};
}

void sf_aws_creds_copy(sf_aws_creds *dst, const sf_aws_creds *src)
{
    dst->access_key = sf_strdup(src->access_key);
    dst->secret_key = sf_strdup(src->secret_key);
    dst->token = sf_strdup(src->token);
    dst->expires_ms = src->expires_ms;
    dst->source = sf_strdup(src->source);
}
