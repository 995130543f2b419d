/* calls.c — the REST API v2 calls the provider makes (airflow/api.h), each
 * a path and a shape over sf_af_call. */
#include "airflow/api.h"

#include <stdlib.h>
#include <string.h>

#include "base/str.h"

/* A path segment, percent-encoded (ids may hold ':' or '+'). */
static char *seg(const char *s)
{
    return sf_uri_encode(s ? s : "", s ? strlen(s) : 0, false);
}

static char *run_path(const char *dag_id, const char *run_id, const char *rest)
{
    char *d = seg(dag_id), *r = seg(run_id);
    char *path = sf_fmt("/api/v2/dags/%s/dagRuns/%s%s", d, r, rest ? rest : "");
    free(d);
    free(r);
    return path;
}

int sf_af_health(sf_af *af, sf_ctx *ctx, sf_af_error *err)
{
    cJSON *doc = NULL;
    if (sf_af_get_public(af, ctx, "/api/v2/monitor/health", &doc, err) != 0) return -1;
    if (!cJSON_IsObject(doc) || !doc->child) {
        cJSON_Delete(doc);
        sf_af_error_clear(err);
        if (err) err->message = sf_strdup("/api/v2/monitor/health did not answer as Airflow does");
        return -1;
    }
    sf_buf unhealthy = {0};
    for (const cJSON *c = doc->child; c; c = c->next) {
        const cJSON *status = cJSON_GetObjectItemCaseSensitive(c, "status");
        if (cJSON_IsString(status) && strcmp(status->valuestring, "healthy") == 0) continue;
        sf_buf_printf(&unhealthy, "%s%s: %s", unhealthy.len ? ", " : "", c->string,
                      cJSON_IsString(status) ? status->valuestring : "no status");
    }
    cJSON_Delete(doc);
    if (!unhealthy.len) return 0;
    if (err) {
        sf_af_error_clear(err);
        err->status = 200;
        err->message = sf_buf_take(&unhealthy);
    }
    sf_buf_free(&unhealthy);
    return 1;
}

char *sf_af_version(sf_af *af, sf_ctx *ctx, sf_af_error *err)
{
    cJSON *doc = NULL;
    if (sf_af_get_public(af, ctx, "/api/v2/version", &doc, err) != 0) return NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "version");
    char *version = cJSON_IsString(v) ? sf_strdup(v->valuestring) : NULL;
    cJSON_Delete(doc);
    if (!version && err) {
        sf_af_error_clear(err);
        err->message = sf_strdup("/api/v2/version answered without a version");
    }
    return version;
}

cJSON *sf_af_dag(sf_af *af, sf_ctx *ctx, const char *dag_id, sf_af_error *err)
{
    char *d = seg(dag_id), *path = sf_fmt("/api/v2/dags/%s", d);
    cJSON *doc = NULL;
    sf_af_call(af, ctx, "GET", path, NULL, &doc, err);
    free(path);
    free(d);
    return doc;
}

int sf_af_reparse(sf_af *af, sf_ctx *ctx, const char *file_token, sf_af_error *err)
{
    char *t = seg(file_token), *path = sf_fmt("/api/v2/parseDagFile/%s", t);
    int rc = sf_af_call(af, ctx, "PUT", path, NULL, NULL, err);
    free(path);
    free(t);
    return rc;
}

int sf_af_set_paused(sf_af *af, sf_ctx *ctx, const char *dag_id, bool paused, sf_af_error *err)
{
    char *d = seg(dag_id), *path = sf_fmt("/api/v2/dags/%s", d);
    cJSON *body = cJSON_CreateObject();
    cJSON_AddBoolToObject(body, "is_paused", paused);
    int rc = sf_af_call(af, ctx, "PATCH", path, body, NULL, err);
    cJSON_Delete(body);
    free(path);
    free(d);
    return rc;
}

int sf_af_trigger(sf_af *af, sf_ctx *ctx, const char *dag_id, const char *run_id, const cJSON *conf, sf_af_error *err)
{
    char *d = seg(dag_id), *path = sf_fmt("/api/v2/dags/%s/dagRuns", d);
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "dag_run_id", run_id);
    cJSON_AddNullToObject(body, "logical_date");
    if (conf) cJSON_AddItemToObject(body, "conf", cJSON_Duplicate(conf, true));
    int rc = sf_af_call(af, ctx, "POST", path, body, NULL, err);
    if (rc != 0 && err && err->status == 409) { /* it exists: a repeated trigger */
        sf_af_error_clear(err);
        rc = 0;
    }
    cJSON_Delete(body);
    free(path);
    free(d);
    return rc;
}

cJSON *sf_af_dag_run(sf_af *af, sf_ctx *ctx, const char *dag_id, const char *run_id, sf_af_error *err)
{
    char *path = run_path(dag_id, run_id, NULL);
    cJSON *doc = NULL;
    sf_af_call(af, ctx, "GET", path, NULL, &doc, err);
    free(path);
    return doc;
}

int sf_af_set_run_state(sf_af *af, sf_ctx *ctx, const char *dag_id, const char *run_id, const char *state,
                        sf_af_error *err)
{
    char *path = run_path(dag_id, run_id, NULL);
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "state", state);
    int rc = sf_af_call(af, ctx, "PATCH", path, body, NULL, err);
    cJSON_Delete(body);
    free(path);
    return rc;
}

cJSON *sf_af_task_instances(sf_af *af, sf_ctx *ctx, const char *dag_id, const char *run_id, sf_af_error *err)
{
    char *path = run_path(dag_id, run_id, "/taskInstances?limit=100");
    cJSON *doc = NULL;
    cJSON *list = NULL;
    if (sf_af_call(af, ctx, "GET", path, NULL, &doc, err) == 0) {
        list = cJSON_DetachItemFromObjectCaseSensitive(doc, "task_instances");
        if (!cJSON_IsArray(list)) {
            cJSON_Delete(list);
            list = NULL;
            if (err) {
                sf_af_error_clear(err);
                err->message = sf_fmt("GET %s answered without task_instances", path);
            }
        }
    }
    cJSON_Delete(doc);
    free(path);
    return list;
}

/* A log answer's `content`: a list of {event, ...} lines (or one string). */
static char *log_text(const cJSON *content)
{
    if (cJSON_IsString(content)) return sf_strdup(content->valuestring);
    sf_buf text = {0};
    sf_buf_append(&text, "", 0);
    const cJSON *line;
    cJSON_ArrayForEach(line, content) {
        const cJSON *event = cJSON_GetObjectItemCaseSensitive(line, "event");
        if (cJSON_IsString(line)) sf_buf_printf(&text, "%s\n", line->valuestring);
        else if (cJSON_IsString(event)) sf_buf_printf(&text, "%s\n", event->valuestring);
    }
    return sf_buf_take(&text);
}

char *sf_af_task_log(sf_af *af, sf_ctx *ctx, const char *dag_id, const char *run_id, const char *task_id,
                     int try_number, sf_af_error *err)
{
    char *t = seg(task_id), *rest = sf_fmt("/taskInstances/%s/logs/%d?full_content=true", t, try_number);
    char *path = run_path(dag_id, run_id, rest);
    cJSON *doc = NULL;
    char *text = NULL;
    if (sf_af_call(af, ctx, "GET", path, NULL, &doc, err) == 0)
        text = log_text(cJSON_GetObjectItemCaseSensitive(doc, "content"));
    cJSON_Delete(doc);
    free(path);
    free(rest);
    free(t);
    return text;
}

cJSON *sf_af_xcom(sf_af *af, sf_ctx *ctx, const char *dag_id, const char *run_id, const char *task_id, const char *key,
                  sf_af_error *err)
{
    char *t = seg(task_id), *k = seg(key);
    char *rest = sf_fmt("/taskInstances/%s/xcomEntries/%s?deserialize=true&stringify=false", t, k);
    char *path = run_path(dag_id, run_id, rest);
    cJSON *doc = NULL, *value = NULL;
    if (sf_af_call(af, ctx, "GET", path, NULL, &doc, err) == 0) {
        value = cJSON_DetachItemFromObjectCaseSensitive(doc, "value");
        /* Stored as JSON text by some versions: parse it. */
        if (cJSON_IsString(value)) {
            cJSON *parsed = cJSON_Parse(value->valuestring);
            if (parsed) {
                cJSON_Delete(value);
                value = parsed;
            }
        }
    }
    cJSON_Delete(doc);
    free(path);
    free(rest);
    free(k);
    free(t);
    return value;
}
