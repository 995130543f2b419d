/* http.h — one HTTP exchange with libcurl, and the backoff between tries.
 *
 * Every client of an HTTP API (AWS, Airflow's REST API) sends through this:
 * connections are reused across calls and threads, a transfer stops when
 * its context is cancelled, and libcurl is loaded on first use
 * (base/curl_api.h).  Retry policy is the caller's: what is worth another
 * try differs between APIs; the backoff is shared.
 */
#ifndef SF_BASE_HTTP_H
#define SF_BASE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/ctx.h"
#include "base/str.h"

typedef struct sf_header {
    char *name;
    char *value;
} sf_header;

typedef struct sf_http sf_http; /* connection pool; thread-safe */

sf_http *sf_http_new(void); /* can't fail (aborts on OOM) */
void sf_http_free(sf_http *h);

typedef struct sf_http_req {
    const char *method;
    const char *url;
    const sf_header *headers;
    size_t n_headers;
    const void *body;
    size_t body_len;
    bool fresh_connection;      /* non-idempotent: never on a reused connection */
    int64_t timeout_ms;         /* whole transfer; 0: 60 s */
    int64_t connect_timeout_ms; /* 0: 10 s */
} sf_http_req;

typedef struct sf_http_resp {
    long status; /* 0 when no answer arrived */
    sf_buf body;
    sf_header *headers; /* lower-cased names */
    size_t n_headers;
    int curl_code; /* CURLcode; 0 when the transfer completed */
    char *error;   /* transport error text, NULL when none */
    bool sent;     /* the request may have reached the server */
} sf_http_resp;

/* Perform one HTTP exchange (no retries; cancellable through ctx).  Returns
 * 0 when an HTTP answer arrived (any status), -1 with resp->error when not. */
int sf_http_do(sf_http *h, sf_ctx *ctx, const sf_http_req *req, sf_http_resp *resp);
const char *sf_http_resp_header(const sf_http_resp *resp, const char *lower_name);
void sf_http_resp_clear(sf_http_resp *resp);

/* Whether a transport failure (a CURLcode) is worth another try: refused or
 * reset connections, timeouts, an answer cut short. */
bool sf_http_transient(int curl_code);

/* Capped exponential backoff with full jitter: uniform in
 * [0, min(cap_ms, base_ms * 2^attempt)].  `attempt` counts from 0. */
int64_t sf_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms);

#endif
