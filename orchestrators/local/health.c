/* health.c — is a local Airflow up: its unauthenticated endpoints.
 *
 * GET /api/v2/monitor/health answers without a token:
 *   {"metadatabase": {"status": "healthy"},
 *    "scheduler": {"status": "healthy", "latest_scheduler_heartbeat": ...},
 *    "triggerer": {...}, "dag_processor": {...}}
 * and /api/v2/version {"version": "3.3.2", "git_version": ...}.  The host is
 * up when all four components say "healthy".  No REST client (airflow/) is
 * needed for this: one GET through base/http.h.
 */
#include "orchestrators/local/airflow_local.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "base/http.h"

static const char *const HEALTH_KEYS[] = {"metadatabase", "scheduler", "triggerer", "dag_processor"};

int sf_afl_health_parse(const char *json, size_t len, char **why)
{
    cJSON *o = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        *why = sf_strdup("the health endpoint did not answer a JSON object");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < sizeof HEALTH_KEYS / sizeof *HEALTH_KEYS && rc == 0; i++) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, HEALTH_KEYS[i]);
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(c, "status");
        if (!cJSON_IsString(st)) {
            *why = sf_fmt("%s reports no status yet", HEALTH_KEYS[i]);
            rc = 1;
        } else if (strcmp(st->valuestring, "healthy") != 0) {
            *why = sf_fmt("%s is %s", HEALTH_KEYS[i], st->valuestring);
            rc = 1;
        }
    }
    cJSON_Delete(o);
    return rc;
}

char *sf_afl_version_parse(const char *json, size_t len)
{
    cJSON *o = cJSON_ParseWithLength(json, len);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "version");
    char *out = cJSON_IsString(v) && *v->valuestring ? sf_strdup(v->valuestring) : NULL;
    cJSON_Delete(o);
    return out;
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
