/* health.c — is a local Airflow up: its unauthenticated endpoints.
 *
 * GET /api/v2/monitor/health answers without a token:
 *   {"metadatabase": {"status": "healthy"},
 *    "scheduler": {"status": "healthy", "latest_scheduler_heartbeat": ...},
 *    "triggerer": {...}, "dag_processor": {...}}
 * and /api/v2/version {"version": "3.3.2", "git_version": ...}.  The host is
 * up when all four components say "healthy".  No REST client is needed for
 * this (one GET through base/http.h); the answers are read by airflow/'s
 * parsers.
 */
#include "orchestrators/local/airflow_local.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "airflow/answers.h"
#include "base/http.h"

/* The answers are read as the REST client reads them (airflow/answers.h,
 * fuzzed): one parser for each. */
int sf_afl_health_parse(const char *json, size_t len, char **why)
{
    sf_af_error err = {0};
    cJSON *doc = NULL;
    int rc = sf_af_answer_json(200, json, len, "GET /api/v2/monitor/health", &doc, &err) == 0
                 ? sf_af_answer_health(doc, &err)
                 : -1;
    if (rc != 0) *why = sf_strdup(err.message ? err.message : "the health endpoint's answer is not Airflow's");
    sf_af_error_clear(&err);
    return rc;
}

char *sf_afl_version_parse(const char *json, size_t len)
{
    sf_af_error err = {0};
    cJSON *doc = NULL;
    char *v = sf_af_answer_json(200, json, len, "GET /api/v2/version", &doc, &err) == 0
                  ? sf_af_answer_version(doc, &err)
                  : NULL;
    sf_af_error_clear(&err);
    return v;
}

long sf_afl_get(sf_ctx *ctx, int port, const char *path, char **body, char **err)
{
    sf_http *http = sf_http_new();
    char *url = sf_fmt("http://127.0.0.1:%d%s", port, path);
    sf_header accept = {"Accept", "application/json"};
    sf_http_req req = {
        .method = "GET",
        .url = url,
        .headers = &accept,
        .n_headers = 1,
        .fresh_connection = true, /* one call per poll; nothing to reuse */
        .timeout_ms = 5000,
        .connect_timeout_ms = 2000,
    };
    sf_http_resp resp = {0};
    long status = -1;
    if (sf_http_do(http, ctx, &req, &resp) == 0) {
        status = resp.status;
        sf_buf_append(&resp.body, "", 1);
        *body = sf_buf_take(&resp.body);
    } else {
        *err = sf_fmt("GET %s: %s", url, resp.error ? resp.error : "no answer");
    }
    sf_http_resp_clear(&resp);
    free(url);
    sf_http_free(http);
    return status;
}
