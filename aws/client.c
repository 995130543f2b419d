/* client.c — an AWS client: settings, endpoints, and one signed call with
 * retries.
 *
 * A client holds the provider's AWS settings, a connection pool and the
 * credentials in use, all shared by its children (one per pipeline run, for
 * counting calls) and guarded by a mutex, as provider calls arrive on
 * several threads.  Credentials are resolved on first use and refreshed
 * when they expire within five minutes.  A call is signed afresh for every
 * attempt (the date and maybe the credentials change); its failure becomes
 * an sf_aws_error with AWS's code and message.  Nothing secret is logged:
 * log lines carry the operation, the status and the timing only.
 */
#include "aws/aws.h"
#include "aws/answers.h"

#include "base/xml_api.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REFRESH_BEFORE_MS (5 * 60 * 1000)
#define DEFAULT_MAX_RETRIES 8
#define BACKOFF_CAP_MS 20000

typedef struct shared {
    sf_aws_config cfg;
    sf_http *http;
    pthread_mutex_t lock;        /* guards creds (held while resolving them) */
    pthread_mutex_t region_lock; /* guards region (taken by calls made while resolving) */
    sf_aws_creds creds;
    bool have_creds;
    char *region;
    int64_t backoff_base_ms;
    atomic_llong calls; /* every attempt of every call */
} shared;

struct sf_aws_client {
    shared *sh;
    bool owner;
    atomic_llong calls;
};

void sf_aws_config_clear(sf_aws_config *c)
{
    if (!c) return;
    char **strs[] = {&c->region,       &c->profile,       &c->access_key,     &c->secret_key,      &c->token,
                     &c->wi_role_arn,  &c->wi_token_file, &c->wi_token,       &c->wi_session_name, &c->endpoint_emr,
                     &c->endpoint_ec2, &c->endpoint_s3,   &c->endpoint_sts,   &c->endpoint_iam,    &c->endpoint_ssm,
                     &c->endpoint_sqs, &c->endpoint_glue, &c->endpoint_athena};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) {
        if (*strs[i]) memset(*strs[i], 0, strlen(*strs[i]));
        free(*strs[i]);
    }
    for (size_t i = 0; i < c->n_shared_config_files; i++) free(c->shared_config_files[i]);
    free(c->shared_config_files);
    for (size_t i = 0; i < c->n_shared_credentials_files; i++) free(c->shared_credentials_files[i]);
    free(c->shared_credentials_files);
    for (size_t i = 0; i < c->n_default_tags; i++) {
        free(c->default_tags[i].name);
        free(c->default_tags[i].value);
    }
    free(c->default_tags);
    *c = (sf_aws_config){0};
}

sf_aws_client *sf_aws_client_new(sf_aws_config *cfg)
{
    shared *sh = calloc(1, sizeof *sh);
    sf_aws_client *c = calloc(1, sizeof *c);
    if (!sh || !c) abort();
    sh->cfg = *cfg;
    *cfg = (sf_aws_config){0};
    sh->http = sf_http_new();
    pthread_mutex_init(&sh->lock, NULL);
    pthread_mutex_init(&sh->region_lock, NULL);
    const char *base = getenv("SPARKFLOW_AWS_RETRY_BASE_MS");
    sh->backoff_base_ms = base && atoll(base) > 0 ? atoll(base) : 1000;
    c->sh = sh;
    c->owner = true;
    return c;
}

sf_aws_client *sf_aws_client_child(sf_aws_client *parent)
{
    sf_aws_client *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->sh = parent->sh;
    return c;
}

void sf_aws_client_free(sf_aws_client *c)
{
    if (!c) return;
    if (c->owner) {
        shared *sh = c->sh;
        sf_aws_config_clear(&sh->cfg);
        sf_http_free(sh->http);
        sf_aws_creds_clear(&sh->creds);
        free(sh->region);
        pthread_mutex_destroy(&sh->lock);
        pthread_mutex_destroy(&sh->region_lock);
        free(sh);
    }
    free(c);
}

const sf_aws_config *sf_aws_client_config(const sf_aws_client *c)
{
    return &c->sh->cfg;
}
sf_http *sf_aws_client_http(sf_aws_client *c)
{
    return c->sh->http;
}
int64_t sf_aws_client_calls(const sf_aws_client *c)
{
    return atomic_load(&c->calls);
}

int sf_aws_client_max_attempts(const sf_aws_client *c)
{
    int r = c->sh->cfg.max_retries;
    return (r >= 0 ? r : DEFAULT_MAX_RETRIES) + 1;
}

/* ---- profile and region ------------------------------------------------- */

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* The configured files, else the env variable's, else ~/.aws/<name>. */
static char **files_of(char **configured, size_t n, const char *env_name, const char *home_name, size_t *count)
{
    char **out = calloc(n + 1, sizeof *out);
    if (!out) abort();
    if (n) {
        for (size_t i = 0; i < n; i++) out[i] = sf_strdup(configured[i]);
        *count = n;
    } else if (env(env_name)) {
        out[0] = sf_strdup(env(env_name));
        *count = 1;
    } else if (env("HOME")) {
        out[0] = sf_fmt("%s/.aws/%s", env("HOME"), home_name);
        *count = 1;
    } else {
        *count = 0;
    }
    return out;
}

static void free_list(char **l, size_t n)
{
    for (size_t i = 0; i < n; i++) free(l[i]);
    free(l);
}

void sf_aws_client_files(sf_aws_client *c, sf_aws_config_files *out)
{
    const sf_aws_config *cfg = &c->sh->cfg;
    out->config =
        files_of(cfg->shared_config_files, cfg->n_shared_config_files, "AWS_CONFIG_FILE", "config", &out->n_config);
    out->cred = files_of(cfg->shared_credentials_files, cfg->n_shared_credentials_files, "AWS_SHARED_CREDENTIALS_FILE",
                         "credentials", &out->n_cred);
}

void sf_aws_client_files_clear(sf_aws_config_files *f)
{
    free_list(f->config, f->n_config);
    free_list(f->cred, f->n_cred);
    *f = (sf_aws_config_files){0};
}

void sf_aws_client_profile(sf_aws_client *c, sf_aws_profile *out, bool *explicit_name)
{
    const sf_aws_config *cfg = &c->sh->cfg;
    const char *name = cfg->profile         ? cfg->profile
                       : env("AWS_PROFILE") ? env("AWS_PROFILE")
                                            : env("AWS_DEFAULT_PROFILE");
    if (explicit_name) *explicit_name = name != NULL;
    sf_aws_config_files f;
    sf_aws_client_files(c, &f);
    sf_aws_profile_load((const char *const *)f.config, f.n_config, (const char *const *)f.cred, f.n_cred,
                        name ? name : "default", out);
    sf_aws_client_files_clear(&f);
}

/* A region goes into endpoint host names: one DNS label (letters, digits,
 * inner '-'), as botocore checks, so "us-east-1.evil.example/" cannot send
 * signed requests elsewhere. */
static bool valid_region(const char *r)
{
    size_t n = strlen(r);
    if (n == 0 || n > 63 || r[0] == '-' || r[n - 1] == '-') return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)r[i]) && r[i] != '-') return false;
    return true;
}

/* Whether some region was configured (valid or not). */
static bool region_set(sf_aws_client *c)
{
    pthread_mutex_lock(&c->sh->region_lock);
    bool set = c->sh->region != NULL;
    pthread_mutex_unlock(&c->sh->region_lock);
    return set;
}

const char *sf_aws_client_region(sf_aws_client *c, char **err)
{
    shared *sh = c->sh;
    char *bad = NULL;
    pthread_mutex_lock(&sh->region_lock);
    if (!sh->region) {
        const char *r = sh->cfg.region      ? sh->cfg.region
                        : env("AWS_REGION") ? env("AWS_REGION")
                                            : env("AWS_DEFAULT_REGION");
        if (r) {
            sh->region = sf_strdup(r);
        } else {
            sf_aws_profile p;
            sf_aws_client_profile(c, &p, NULL);
            if (sf_aws_profile_get(&p, "region")) sh->region = sf_strdup(sf_aws_profile_get(&p, "region"));
            sf_aws_profile_clear(&p);
        }
    }
    const char *region = sh->region;
    if (region && !valid_region(region)) {
        bad = sf_strdup(region);
        region = NULL;
    }
    pthread_mutex_unlock(&sh->region_lock);
    if (bad && err)
        *err = sf_fmt("the AWS region \"%s\" is not a region name (letters, digits and '-', e.g. eu-west-1)", bad);
    else if (!region && err)
        *err = sf_strdup("no AWS region is set: set `region` in the provider block, or AWS_REGION, or "
                         "`region` in the profile of the shared config file");
    free(bad);
    return region;
}

/* ---- credentials -------------------------------------------------------- */

int sf_aws_client_credentials(sf_aws_client *c, sf_ctx *ctx, sf_aws_creds *out, char **err)
{
    shared *sh = c->sh;
    pthread_mutex_lock(&sh->lock);
    bool stale =
        !sh->have_creds || (sh->creds.expires_ms && sh->creds.expires_ms - sf_time_wall_ms() < REFRESH_BEFORE_MS);
    int rc = 0;
    if (stale) {
        sf_aws_creds fresh = {0};
        rc = sf_aws_credentials_resolve(c, ctx, &fresh, err);
        if (rc == 0) {
            if (sh->have_creds) sf_log(ctx, SF_LOG_INFO, "aws: refreshed credentials from %s", fresh.source);
            sf_aws_creds_clear(&sh->creds);
            sh->creds = fresh;
            sh->have_creds = true;
        }
    }
    if (rc == 0) sf_aws_creds_copy(out, &sh->creds);
    pthread_mutex_unlock(&sh->lock);
    return rc;
}

/* ---- endpoints ---------------------------------------------------------- */

typedef struct service_def {
    const char *name;    /* our name */
    const char *prefix;  /* host prefix */
    const char *signing; /* SigV4 service name */
    const char *env_id;  /* AWS_ENDPOINT_URL_<env_id> */
} service_def;

static const service_def services[] = {
    {"emr", "elasticmapreduce", "elasticmapreduce", "EMR"},
    {"s3", "s3", "s3", "S3"},
    {"sts", "sts", "sts", "STS"},
    {"ec2", "ec2", "ec2", "EC2"},
    {"iam", "iam", "iam", "IAM"},
    {"ssm", "ssm", "ssm", "SSM"},
    {"sqs", "sqs", "sqs", "SQS"},
    {"glue", "glue", "glue", "GLUE"},
    {"athena", "athena", "athena", "ATHENA"},
    {NULL},
};

static const service_def *service_of(const char *name)
{
    for (size_t i = 0; services[i].name; i++)
        if (strcmp(services[i].name, name) == 0) return &services[i];
    return NULL;
}

static const char *configured_endpoint(const sf_aws_config *cfg, const char *service)
{
    if (!strcmp(service, "emr")) return cfg->endpoint_emr;
    if (!strcmp(service, "ec2")) return cfg->endpoint_ec2;
    if (!strcmp(service, "s3")) return cfg->endpoint_s3;
    if (!strcmp(service, "sts")) return cfg->endpoint_sts;
    if (!strcmp(service, "iam")) return cfg->endpoint_iam;
    if (!strcmp(service, "ssm")) return cfg->endpoint_ssm;
    if (!strcmp(service, "sqs")) return cfg->endpoint_sqs;
    if (!strcmp(service, "glue")) return cfg->endpoint_glue;
    if (!strcmp(service, "athena")) return cfg->endpoint_athena;
    return NULL;
}

char *sf_aws_endpoint(sf_aws_client *c, const char *service, const char *region)
{
    const service_def *def = service_of(service);
    const char *url = configured_endpoint(&c->sh->cfg, service);
    char *env_name = sf_fmt("AWS_ENDPOINT_URL_%s", def ? def->env_id : service);
    if (!url) url = env(env_name);
    if (!url) url = env("AWS_ENDPOINT_URL");
    free(env_name);
    char *out;
    if (url) {
        out = sf_strdup(url);
    } else {
        const char *suffix = region && strncmp(region, "cn-", 3) == 0 ? "amazonaws.com.cn" : "amazonaws.com";
        if (strcmp(service, "iam") == 0 && strcmp(suffix, "amazonaws.com") == 0)
            out = sf_strdup("https://iam.amazonaws.com"); /* global, signed for us-east-1 */
        else out = sf_fmt("https://%s.%s.%s", def ? def->prefix : service, region ? region : "us-east-1", suffix);
    }
    size_t n = strlen(out);
    while (n > 0 && out[n - 1] == '/') out[--n] = 0;
    return out;
}

/* Host (with a non-default port) and the part after it, from a URL. */
static void split_url(const char *url, char **scheme, char **host, char **base_path)
{
    const char *p = strstr(url, "://");
    *scheme = p ? sf_strndup(url, (size_t)(p - url)) : sf_strdup("https");
    const char *h = p ? p + 3 : url;
    size_t hn = strcspn(h, "/");
    *host = sf_strndup(h, hn);
    *base_path = sf_strdup(h + hn);
    /* Default ports are not part of the signed host. */
    size_t len = strlen(*host);
    if ((!strcmp(*scheme, "https") && len > 4 && !strcmp(*host + len - 4, ":443")) ||
        (!strcmp(*scheme, "http") && len > 3 && !strcmp(*host + len - 3, ":80")))
        (*host)[strrchr(*host, ':') - *host] = 0;
}

static bool host_is_ip(const char *host)
{
    char *h = sf_strdup(host);
    if (h[0] != '[') {
        char *colon = strrchr(h, ':');
        if (colon && strchr(h, ':') == colon) *colon = 0;
    }
    unsigned char buf[16];
    bool ip = inet_pton(AF_INET, h, buf) == 1 || h[0] == '[' || strcasecmp(h, "localhost") == 0;
    free(h);
    return ip;
}

static bool use_path_style(const sf_aws_config *cfg, const char *host, const char *bucket)
{
    return cfg->s3_use_path_style || host_is_ip(host) || strchr(bucket, '.') != NULL;
}

/* ---- errors ------------------------------------------------------------- */

void sf_aws_error_clear(sf_aws_error *e)
{
    if (!e) return;
    free(e->code);
    free(e->message);
    free(e->request_id);
    free(e->operation);
    *e = (sf_aws_error){0};
}

char *sf_aws_error_text(const sf_aws_error *e)
{
    sf_buf b = {0};
    sf_buf_append(&b, "", 0);
    if (e->operation) sf_buf_printf(&b, "%s: ", e->operation);
    if (e->code) sf_buf_printf(&b, "%s: ", e->code);
    sf_buf_puts(&b, e->message ? e->message : "no message");
    if (e->status || e->request_id) {
        sf_buf_puts(&b, " (");
        if (e->status) sf_buf_printf(&b, "HTTP %ld", e->status);
        if (e->request_id) sf_buf_printf(&b, "%srequest id %s", e->status ? ", " : "", e->request_id);
        sf_buf_puts(&b, ")");
    }
    return b.data;
}

bool sf_aws_error_is(const sf_aws_error *e, const char *code)
{
    return e && e->code && strcmp(e->code, code) == 0;
}

/* The error of an answer: JSON or XML by its body, else by its status. */
void sf_aws_answer_error(const sf_http_resp *resp, sf_aws_error *err)
{
    const char *b = resp->body.data ? resp->body.data : "";
    while (*b == ' ' || *b == '\n' || *b == '\r' || *b == '\t') b++;
    if (*b == '{') sf_aws_json_error(resp, err);
    else if (*b == '<') sf_aws_xml_error(resp, err);
    if (!err->code && sf_http_resp_header(resp, "x-amzn-errortype")) {
        const char *t = sf_http_resp_header(resp, "x-amzn-errortype");
        err->code = sf_strndup(t, strcspn(t, ":"));
    }
    if (!err->code) {
        switch (resp->status) {
        case 404: err->code = sf_strdup("NotFound"); break;
        case 403: err->code = sf_strdup("Forbidden"); break;
        case 400: err->code = sf_strdup("BadRequest"); break;
        default:
            if (resp->status >= 500) err->code = sf_strdup("ServiceUnavailable");
        }
    }
    if (!err->message) err->message = sf_fmt("HTTP %ld", resp->status);
    if (!err->request_id) {
        const char *id = sf_http_resp_header(resp, "x-amzn-requestid");
        if (!id) id = sf_http_resp_header(resp, "x-amz-request-id");
        err->request_id = sf_strdup(id);
    }
}

/* ---- one call ----------------------------------------------------------- */

/* Headers to send: the call's, the signing ones, the signature. */
typedef struct hdrs {
    sf_header *items;
    size_t n;
} hdrs;

static void hdrs_add(hdrs *h, const char *name, const char *value)
{
    h->items = realloc(h->items, (h->n + 1) * sizeof *h->items);
    if (!h->items) abort();
    h->items[h->n++] = (sf_header){sf_strdup(name), sf_strdup(value)};
}

static void hdrs_clear(hdrs *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free(h->items[i].name);
        if (h->items[i].value) memset(h->items[i].value, 0, strlen(h->items[i].value));
        free(h->items[i].value);
    }
    free(h->items);
    *h = (hdrs){0};
}

static char *query_string(const sf_aws_call *call)
{
    sf_buf b = {0};
    sf_buf_append(&b, "", 0);
    for (size_t i = 0; i < call->n_query; i++) {
        char *k = sf_aws_uri_encode(call->query[i].key, strlen(call->query[i].key), false);
        const char *v = call->query[i].value ? call->query[i].value : "";
        char *ve = sf_aws_uri_encode(v, strlen(v), false);
        sf_buf_printf(&b, "%s%s=%s", i ? "&" : "?", k, ve);
        free(k);
        free(ve);
    }
    return b.data;
}

/* Where the call goes: URL, signed host and signed path. */
typedef struct target {
    char *url;
    char *host;
    char *path;
} target;

static void target_clear(target *t)
{
    free(t->url);
    free(t->host);
    free(t->path);
}

static void make_target(sf_aws_client *c, const sf_aws_call *call, const char *region, target *t)
{
    char *endpoint = sf_aws_endpoint(c, call->service, region);
    char *scheme, *host, *base;
    split_url(endpoint, &scheme, &host, &base);
    const char *path = call->path ? call->path : "/";
    if (call->bucket && !use_path_style(&c->sh->cfg, host, call->bucket)) {
        char *vhost = sf_fmt("%s.%s", call->bucket, host);
        free(host);
        host = vhost;
        t->path = sf_fmt("%s%s", base, path);
    } else if (call->bucket) {
        t->path = sf_fmt("%s/%s%s", base, call->bucket, path);
    } else {
        t->path = sf_fmt("%s%s", base, path);
    }
    char *q = query_string(call);
    t->url = sf_fmt("%s://%s%s%s", scheme, host, t->path, q);
    t->host = host;
    free(q);
    free(scheme);
    free(base);
    free(endpoint);
}

/* One attempt; 0 when an answer arrived (any status). */
static int attempt(sf_aws_client *c, sf_ctx *ctx, const sf_aws_call *call, const char *region,
                   const sf_aws_creds *creds, sf_http_resp *resp)
{
    const service_def *def = service_of(call->service);
    bool s3 = strcmp(call->service, "s3") == 0;
    target t = {0};
    make_target(c, call, region, &t);
    char date[SF_TIME_COMPACT_LEN], hash[65];
    sf_time_compact(date, sf_time_wall_ms());
    sf_aws_sha256_hex(call->body ? call->body : "", call->body_len, hash);
    hdrs h = {0};
    for (size_t i = 0; i < call->n_headers; i++) hdrs_add(&h, call->headers[i].name, call->headers[i].value);
    if (s3) hdrs_add(&h, "x-amz-content-sha256", hash);
    size_t n_signed = h.n;
    if (!call->unsigned_request) {
        hdrs_add(&h, "X-Amz-Date", date);
        if (creds->token) hdrs_add(&h, "X-Amz-Security-Token", creds->token);
        sf_aws_sign_req sr = {
            .method = call->method,
            .host = t.host,
            .path = t.path,
            .query = call->query,
            .n_query = call->n_query,
            .headers = h.items,
            .n_headers = n_signed,
            .payload_hash = hash,
            .amz_date = date,
            .region = region,
            .service = def ? def->signing : call->service,
            .s3 = s3,
        };
        char *auth = sf_aws_sigv4_authorization(&sr, creds);
        hdrs_add(&h, "Authorization", auth);
        free(auth);
    }
    sf_http_req req = {
        .method = call->method,
        .url = t.url,
        .headers = h.items,
        .n_headers = h.n,
        .body = call->body,
        .body_len = call->body_len,
        .fresh_connection = !call->idempotent,
    };
    int rc = sf_http_do(c->sh->http, ctx, &req, resp);
    hdrs_clear(&h);
    target_clear(&t);
    return rc;
}

static void count_call(sf_aws_client *c)
{
    atomic_fetch_add(&c->calls, 1);
    atomic_fetch_add(&c->sh->calls, 1);
}

/* Fill err from a transport failure or an error answer. */
static void failure(const sf_aws_call *call, const sf_http_resp *resp, sf_aws_error *err)
{
    sf_aws_error_clear(err);
    err->operation = sf_strdup(call->operation);
    if (resp->status == 0) {
        err->message = sf_strdup(resp->error ? resp->error : "no answer");
        return;
    }
    err->status = resp->status;
    sf_aws_answer_error(resp, err);
}

int sf_aws_client_send(sf_aws_client *c, sf_ctx *ctx, const sf_aws_call *call, sf_http_resp *resp, sf_aws_error *err)
{
    *resp = (sf_http_resp){0};
    const char *no_xml = NULL;
    if (!sf_xml_api_get(&no_xml)) { /* AWS's answers and errors are XML */
        sf_aws_error_clear(err);
        err->operation = sf_strdup(call->operation);
        err->message = sf_strdup(no_xml);
        return -1;
    }
    char *why = NULL;
    const char *region = sf_aws_client_region(c, &why);
    if (!region && region_set(c)) { /* set, but not a region name: send nothing */
        sf_aws_error_clear(err);
        err->operation = sf_strdup(call->operation);
        err->message = why;
        return -1;
    }
    free(why);
    why = NULL;
    if (!region) region = "us-east-1"; /* only global calls (STS) get this far without one */
    /* IAM is global: signed for us-east-1 (aws-cn: cn-north-1) whatever the region. */
    if (strcmp(call->service, "iam") == 0) region = strncmp(region, "cn-", 3) == 0 ? "cn-north-1" : "us-east-1";
    int max = sf_aws_client_max_attempts(c);
    for (int i = 0; i < max; i++) {
        sf_aws_creds creds = {0};
        if (!call->unsigned_request) {
            if (call->creds) {
                sf_aws_creds_copy(&creds, call->creds);
            } else if (sf_aws_client_credentials(c, ctx, &creds, &why) != 0) {
                sf_aws_error_clear(err);
                err->operation = sf_strdup(call->operation);
                err->code = sf_strdup("NoCredentials");
                err->message = why;
                return -1;
            }
        }
        sf_http_resp_clear(resp);
        int64_t t0 = sf_time_mono_ms();
        int rc = attempt(c, ctx, call, region, &creds, resp);
        sf_aws_creds_clear(&creds);
        count_call(c);
        if (rc == 0 && resp->status >= 200 && resp->status < 300) {
            sf_aws_error_clear(err); /* what earlier attempts left */
            sf_log(ctx, SF_LOG_INFO, "aws: %s %s -> %ld in %lld ms (attempt %d)", call->service, call->operation,
                   resp->status, (long long)(sf_time_mono_ms() - t0), i + 1);
            return 0;
        }
        failure(call, resp, err);
        sf_log(ctx, SF_LOG_INFO, "aws: %s %s -> %ld %s in %lld ms (attempt %d of %d)", call->service, call->operation,
               resp->status, err->code ? err->code : err->message, (long long)(sf_time_mono_ms() - t0), i + 1, max);
        if (sf_ctx_done(ctx)) return -1;
        bool retry = sf_aws_retryable(resp->status, err->code, resp->curl_code);
        if (!call->idempotent) {
            /* Only what cannot have been acted on: refused connections and throttling. */
            bool untouched = (resp->status == 0 && !resp->sent) || sf_aws_throttling_code(err->code);
            err->maybe_applied = !untouched && (resp->status == 0 || resp->status >= 500);
            retry = retry && untouched;
        }
        if (!retry || i + 1 == max) return -1;
        if (sf_ctx_sleep_ms(ctx, sf_backoff_ms(i, c->sh->backoff_base_ms, BACKOFF_CAP_MS)) != 0) return -1;
    }
    return -1;
}
