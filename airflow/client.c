/* client.c — the Airflow REST client's one request path (airflow/api.h):
 * the login token, retries with backoff, and error texts without secrets.
 * What it reads from an answer (status, detail, token) is done by the
 * sf_af_answer_* functions here (answers.h), which need no network. */
#include "airflow/api.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "airflow/answers.h"
#include "base/http.h"
#include "base/str.h"

#define DEFAULT_ATTEMPTS 4
#define DEFAULT_TIMEOUT_MS 30000
#define BACKOFF_BASE_MS 250
#define BACKOFF_CAP_MS 4000
#define MAX_DETAIL 300 /* characters of an error answer kept in a message */

struct sf_af {
    char *base_url;
    char *user;
    char *password;
    char *token; /* NULL until the first call that needs one */
    int attempts;
    int64_t timeout_ms;
    sf_http *http;
};

sf_af *sf_af_new(const char *base_url, const char *user, const char *password)
{
    sf_af *af = calloc(1, sizeof *af);
    if (!af) abort();
    af->base_url = sf_strdup(base_url);
    size_t n = strlen(af->base_url);
    while (n > 0 && af->base_url[n - 1] == '/') af->base_url[--n] = '\0';
    af->user = sf_strdup(user);
    af->password = sf_strdup(password);
    af->attempts = DEFAULT_ATTEMPTS;
    af->timeout_ms = DEFAULT_TIMEOUT_MS;
    af->http = sf_http_new();
    return af;
}

static void forget(char *secret)
{
    if (!secret) return;
    volatile char *p = secret;
    while (*p) *p++ = '\0';
    free(secret);
}

void sf_af_free(sf_af *af)
{
    if (!af) return;
    free(af->base_url);
    free(af->user);
    forget(af->password);
    forget(af->token);
    sf_http_free(af->http);
    free(af);
}

void sf_af_set_attempts(sf_af *af, int attempts)
{
    af->attempts = attempts > 0 ? attempts : 1;
}

void sf_af_set_timeout_ms(sf_af *af, int64_t timeout_ms)
{
    af->timeout_ms = timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS;
}

void sf_af_error_clear(sf_af_error *e)
{
    if (!e) return;
    free(e->message);
    *e = (sf_af_error){0};
}

void sf_af_error_set(sf_af_error *err, long status, char *owned_message)
{
    if (!err) {
        free(owned_message);
        return;
    }
    if (!owned_message) owned_message = sf_fmt("HTTP %ld", status);
    sf_utf8_clean(owned_message);
    free(err->message);
    err->status = status;
    err->message = owned_message;
}

char *sf_af_answer_detail(const char *body, size_t len)
{
    cJSON *doc = body ? cJSON_ParseWithLength(body, len) : NULL;
    const cJSON *detail = cJSON_GetObjectItemCaseSensitive(doc, "detail");
    char *text = NULL;
    if (cJSON_IsString(detail)) {
        text = sf_strdup(detail->valuestring);
    } else if (cJSON_IsArray(detail) || cJSON_IsObject(detail)) {
        text = cJSON_PrintUnformatted(detail);
    }
    if (!text) text = sf_strndup(body ? body : "", len < MAX_DETAIL ? len : MAX_DETAIL);
    cJSON_Delete(doc);
    if (strlen(text) > MAX_DETAIL) strcpy(text + MAX_DETAIL - 3, "...");
    return text;
}

int sf_af_answer_json(long status, const char *body, size_t len, const char *what, cJSON **answer, sf_af_error *err)
{
    if (answer) *answer = NULL;
    if (status / 100 != 2) {
        char *detail = sf_af_answer_detail(body, len);
        sf_af_error_set(err, status,
                        sf_fmt("%s answered HTTP %ld: %s", what, status, *detail ? detail : "(no detail)"));
        free(detail);
        return -1;
    }
    if (!answer || len == 0) return 0;
    *answer = cJSON_ParseWithLength(body, len);
    if (*answer) return 0;
    sf_af_error_set(err, status, sf_fmt("%s answered HTTP %ld with a body that is not JSON", what, status));
    return -1;
}

char *sf_af_answer_token(long status, const char *body, size_t len, const char *base_url, const char *user,
                         sf_af_error *err)
{
    cJSON *doc = status / 100 == 2 && body ? cJSON_ParseWithLength(body, len) : NULL;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(doc, "access_token");
    char *token = NULL;
    if (cJSON_IsString(t) && *t->valuestring) {
        token = sf_strdup(t->valuestring);
        memset(t->valuestring, 0, strlen(t->valuestring));
    } else if (status == 401 || status == 403) {
        sf_af_error_set(err, status,
                        sf_fmt("Airflow at %s refused the login of user \"%s\" (HTTP %ld): the password is not that "
                               "user's",
                               base_url, user, status));
    } else if (status / 100 == 2) { /* never its body: it may hold (part of) a token */
        sf_af_error_set(err, status,
                        sf_fmt("POST %s/auth/token answered HTTP %ld without an access_token", base_url, status));
    } else {
        char *detail = sf_af_answer_detail(body, len);
        sf_af_error_set(err, status,
                        sf_fmt("POST %s/auth/token answered HTTP %ld: %s", base_url, status,
                               *detail ? detail : "(no detail)"));
        free(detail);
    }
    cJSON_Delete(doc);
    return token;
}

/* ---- one exchange --------------------------------------------------------- */

typedef struct exchange {
    const char *method;
    const char *path;
    const char *body; /* JSON text or NULL */
    const char *accept;
    bool with_token;
} exchange;

static int send_once(sf_af *af, sf_ctx *ctx, const exchange *x, sf_http_resp *resp)
{
    char *url = sf_fmt("%s%s", af->base_url, x->path);
    char *auth = x->with_token && af->token ? sf_fmt("Bearer %s", af->token) : NULL;
    sf_header headers[3];
    size_t n = 0;
    headers[n++] = (sf_header){"Accept", (char *)(x->accept ? x->accept : "application/json")};
    if (x->body) headers[n++] = (sf_header){"Content-Type", "application/json"};
    if (auth) headers[n++] = (sf_header){"Authorization", auth};
    sf_http_req req = {
        .method = x->method,
        .url = url,
        .headers = headers,
        .n_headers = n,
        .body = x->body,
        .body_len = x->body ? strlen(x->body) : 0,
        .fresh_connection = strcmp(x->method, "POST") == 0,
        .timeout_ms = af->timeout_ms,
        .connect_timeout_ms = 5000,
    };
    int rc = sf_http_do(af->http, ctx, &req, resp);
    forget(auth);
    free(url);
    return rc;
}

static bool worth_retrying(const exchange *x, int rc, const sf_http_resp *resp)
{
    if (rc != 0) {
        /* A POST is repeated only when it never reached Airflow. */
        if (strcmp(x->method, "POST") == 0 && resp->sent) return false;
        return sf_http_transient(resp->curl_code);
    }
    long s = resp->status;
    return s == 429 || s == 502 || s == 503 || s == 504;
}

/* Send with retries; 0 when an answer arrived (any status), -1 with *err
 * when none did. */
static int send(sf_af *af, sf_ctx *ctx, const exchange *x, sf_http_resp *resp, sf_af_error *err)
{
    for (int attempt = 0;; attempt++) {
        int rc = send_once(af, ctx, x, resp);
        if (attempt + 1 >= af->attempts || sf_ctx_done(ctx) || !worth_retrying(x, rc, resp)) {
            if (rc != 0) sf_af_error_set(err, 0, sf_fmt("%s %s%s: %s", x->method, af->base_url, x->path, resp->error));
            return rc;
        }
        sf_http_resp_clear(resp);
        if (sf_ctx_sleep_ms(ctx, sf_backoff_ms(attempt, BACKOFF_BASE_MS, BACKOFF_CAP_MS)) != 0) {
            sf_af_error_set(err, 0,
                            sf_fmt("%s %s%s: stopped: the operation was %s", x->method, af->base_url, x->path,
                                   sf_ctx_reason(ctx) ? sf_ctx_reason(ctx) : "cancelled"));
            return -1;
        }
    }
}

/* POST /auth/token with the user and password; keeps the token. */
static int login(sf_af *af, sf_ctx *ctx, sf_af_error *err)
{
    if (!af->user || !af->password) {
        sf_af_error_set(err, 401,
                        sf_fmt("Airflow at %s needs a login, and no user and password were given", af->base_url));
        return -1;
    }
    cJSON *creds = cJSON_CreateObject();
    cJSON_AddStringToObject(creds, "username", af->user);
    cJSON_AddStringToObject(creds, "password", af->password);
    char *body = cJSON_PrintUnformatted(creds);
    cJSON_Delete(creds);
    exchange x = {.method = "POST", .path = "/auth/token", .body = body};
    sf_http_resp resp;
    int rc = send(af, ctx, &x, &resp, err);
    forget(body);
    if (rc != 0) {
        sf_http_resp_clear(&resp);
        return -1;
    }
    char *token = sf_af_answer_token(resp.status, resp.body.data, resp.body.len, af->base_url, af->user, err);
    if (token) {
        forget(af->token);
        af->token = token;
    } else {
        rc = -1;
    }
    if (resp.body.data) memset(resp.body.data, 0, resp.body.len);
    sf_http_resp_clear(&resp);
    return rc;
}

static int call_raw(sf_af *af, sf_ctx *ctx, exchange *x, sf_http_resp *resp, sf_af_error *err)
{
    bool needs_token = x->with_token;
    if (needs_token && !af->token && login(af, ctx, err) != 0) {
        *resp = (sf_http_resp){0};
        return -1;
    }
    if (send(af, ctx, x, resp, err) != 0) return -1;
    if (needs_token && resp->status == 401) {
        /* An expired token (24 h): log in again once. */
        sf_http_resp_clear(resp);
        forget(af->token);
        af->token = NULL;
        if (login(af, ctx, err) != 0) return -1;
        if (send(af, ctx, x, resp, err) != 0) return -1;
    }
    return 0;
}

static int call_json(sf_af *af, sf_ctx *ctx, const char *method, const char *path, const cJSON *body, cJSON **answer,
                     bool with_token, sf_af_error *err)
{
    if (answer) *answer = NULL;
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    exchange x = {.method = method, .path = path, .body = text, .with_token = with_token};
    sf_http_resp resp;
    int rc = call_raw(af, ctx, &x, &resp, err);
    free(text);
    if (rc != 0) {
        sf_http_resp_clear(&resp);
        return -1;
    }
    char *what = sf_fmt("%s %s%s", method, af->base_url, path);
    rc = sf_af_answer_json(resp.status, resp.body.data, resp.body.len, what, answer, err);
    free(what);
    sf_http_resp_clear(&resp);
    return rc;
}

int sf_af_call(sf_af *af, sf_ctx *ctx, const char *method, const char *path, const cJSON *body, cJSON **answer,
               sf_af_error *err)
{
    return call_json(af, ctx, method, path, body, answer, af->user != NULL, err);
}

int sf_af_get_public(sf_af *af, sf_ctx *ctx, const char *path, cJSON **answer, sf_af_error *err)
{
    return call_json(af, ctx, "GET", path, NULL, answer, false, err);
}
