/* http.c — one HTTP exchange with libcurl, connections reused across calls
 * (base/http.h).
 *
 * A client owns one CURLSH share handle (connection cache, DNS, TLS
 * sessions) guarded by its own mutexes, so every call — from any of the
 * provider's worker threads — reuses open keep-alive connections.  Calls that
 * must not be repeated by accident (RunJobFlow) ask for a fresh connection
 * that is closed after use: libcurl re-sends a request on its own when a
 * reused connection dies before the answer, even if the server acted on it.
 * A transfer watches the context and stops when it is cancelled.
 * libcurl is loaded on the first client (base/curl_api.h); when it cannot
 * be, every call fails with the reason.
 */
#include "base/http.h"

#include "base/curl_api.h"

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef SF_VERSION
#define SF_VERSION "0.1.0"
#endif

struct sf_http {
    const sf_curl_api *curl; /* NULL when libcurl cannot be loaded: then */
    const char *no_curl;     /* every call fails with this */
    CURLSH *share;
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
};

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *user)
{
    (void)h;
    (void)access;
    sf_http *http = user;
    pthread_mutex_lock(&http->locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *user)
{
    (void)h;
    sf_http *http = user;
    pthread_mutex_unlock(&http->locks[data]);
}

sf_http *sf_http_new(void)
{
    sf_http *h = calloc(1, sizeof *h);
    if (!h) abort();
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_init(&h->locks[i], NULL);
    const sf_curl_api *curl = h->curl = sf_curl_api_get(&h->no_curl);
    if (!curl) return h;
    h->share = curl->share_init();
    if (!h->share) abort();
    curl->share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl->share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl->share_setopt(h->share, CURLSHOPT_USERDATA, h);
    curl->share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl->share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl->share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    return h;
}

void sf_http_free(sf_http *h)
{
    if (!h) return;
    if (h->curl) h->curl->share_cleanup(h->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_destroy(&h->locks[i]);
    free(h);
}

/* ---- callbacks ---------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
    sf_buf_append(user, data, size * n);
    return size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *user)
{
    sf_http_resp *r = user;
    size_t len = size * n;
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) { /* a new response (100 Continue, ...) */
        for (size_t i = 0; i < r->n_headers; i++) {
            free(r->headers[i].name);
            free(r->headers[i].value);
        }
        r->n_headers = 0;
        return len;
    }
    const char *colon = memchr(data, ':', len);
    if (!colon) return len;
    size_t nlen = (size_t)(colon - data);
    const char *v = colon + 1, *end = data + len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && isspace((unsigned char)end[-1])) end--;
    r->headers = realloc(r->headers, (r->n_headers + 1) * sizeof *r->headers);
    if (!r->headers) abort();
    char *name = sf_strndup(data, nlen);
    for (char *p = name; *p; p++) *p = (char)tolower((unsigned char)*p);
    r->headers[r->n_headers++] = (sf_header){name, sf_strndup(v, (size_t)(end - v))};
    return len;
}

static int on_progress(void *user, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a;
    (void)b;
    (void)c;
    (void)d;
    return sf_ctx_done(user) ? 1 : 0;
}

/* ---- request ------------------------------------------------------------ */

static struct curl_slist *header_list(const sf_curl_api *curl, const sf_http_req *req)
{
    struct curl_slist *list = NULL;
    for (size_t i = 0; i < req->n_headers; i++) {
        char *line = sf_fmt("%s: %s", req->headers[i].name, req->headers[i].value);
        list = curl->slist_append(list, line);
        free(line);
    }
    /* No 100-continue round trip; no default content type on bodies. */
    list = curl->slist_append(list, "Expect:");
    return list;
}

static void set_method(const sf_curl_api *curl, CURL *h, const sf_http_req *req)
{
    if (strcmp(req->method, "HEAD") == 0) {
        curl->easy_setopt(h, CURLOPT_NOBODY, 1L);
        return;
    }
    if (req->body || strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0) {
        curl->easy_setopt(h, CURLOPT_POST, 1L);
        curl->easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl->easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
    }
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0)
        curl->easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
}

int sf_http_do(sf_http *http, sf_ctx *ctx, const sf_http_req *req, sf_http_resp *resp)
{
    *resp = (sf_http_resp){0};
    sf_buf_append(&resp->body, "", 0);
    const sf_curl_api *curl = http->curl;
    if (!curl) {
        resp->curl_code = CURLE_FAILED_INIT;
        resp->error = sf_strdup(http->no_curl);
        return -1;
    }
    CURL *h = curl->easy_init();
    if (!h) {
        resp->error = sf_strdup("cannot initialise libcurl");
        return -1;
    }
    struct curl_slist *headers = header_list(curl, req);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl->easy_setopt(h, CURLOPT_URL, req->url);
    curl->easy_setopt(h, CURLOPT_SHARE, http->share);
    curl->easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl->easy_setopt(h, CURLOPT_USERAGENT, "sparkflow/" SF_VERSION);
    curl->easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl->easy_setopt(h, CURLOPT_WRITEDATA, &resp->body);
    curl->easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl->easy_setopt(h, CURLOPT_HEADERDATA, resp);
    curl->easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl->easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl->easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(req->timeout_ms > 0 ? req->timeout_ms : 60000));
    curl->easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                      (long)(req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 10000));
    curl->easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl->easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl->easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl->easy_setopt(h, CURLOPT_XFERINFODATA, ctx);
    if (req->fresh_connection) {
        curl->easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
        curl->easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
    }
    set_method(curl, h, req);
    CURLcode rc = curl->easy_perform(h);
    curl_off_t pretransfer = 0;
    curl->easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    curl->easy_getinfo(h, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
    resp->curl_code = (int)rc;
    resp->sent = resp->status > 0 || pretransfer > 0;
    if (rc != CURLE_OK) {
        if (rc == CURLE_ABORTED_BY_CALLBACK)
            resp->error =
                sf_fmt("stopped: the operation was %s", sf_ctx_reason(ctx) ? sf_ctx_reason(ctx) : "cancelled");
        else resp->error = sf_fmt("%s", errbuf[0] ? errbuf : curl->easy_strerror(rc));
        resp->status = 0;
    }
    curl->slist_free_all(headers);
    curl->easy_cleanup(h);
    return rc == CURLE_OK ? 0 : -1;
}

const char *sf_http_resp_header(const sf_http_resp *resp, const char *lower_name)
{
    for (size_t i = 0; i < resp->n_headers; i++)
        if (strcmp(resp->headers[i].name, lower_name) == 0) return resp->headers[i].value;
    return NULL;
}

void sf_http_resp_clear(sf_http_resp *resp)
{
    sf_buf_free(&resp->body);
    for (size_t i = 0; i < resp->n_headers; i++) {
        free(resp->headers[i].name);
        free(resp->headers[i].value);
    }
    free(resp->headers);
    free(resp->error);
    *resp = (sf_http_resp){0};
}

bool sf_http_transient(int curl_code)
{
    switch ((CURLcode)curl_code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM: return true;
    default: return false;
    }
}

int64_t sf_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms)
{
    int64_t ceiling = base_ms;
    for (int i = 0; i < attempt && ceiling < cap_ms; i++) ceiling *= 2;
    if (ceiling > cap_ms) ceiling = cap_ms;
    /* Jitter needs no cryptographic quality; a per-call seed keeps threads apart. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned seed = (unsigned)(ts.tv_nsec ^ (ts.tv_sec << 8) ^ (long)attempt);
    return ceiling > 0 ? (int64_t)(rand_r(&seed) % (ceiling + 1)) : 0;
}
