/* calls.c — the REST API v2 calls the provider makes (airflow/api.h), each
 * a path and a shape over sf_af_call; each shape is read by an
 * sf_af_answer_* function (answers.h), which needs no network. */
#include "airflow/api.h"

#include <stdlib.h>
#include <string.h>

#include "airflow/answers.h"
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

int sf_af_answer_health(cJSON *doc, sf_af_error *err)
{
    if (!cJSON_IsObject(doc) || !doc->child) {
        cJSON_Delete(doc);
        sf_af_error_set(err, 200, sf_strdup("/api/v2/monitor/health did not answer as Airflow does"));
        return -1;
    }
    /* The four components SparkFlow starts must be there; any other one
     * Airflow lists must be healthy too. */
    static const char *const required[] = {"metadatabase", "scheduler", "triggerer", "dag_processor"};
    sf_buf unhealthy = {0};
    for (size_t i = 0; i < sizeof required / sizeof *required; i++)
        if (!cJSON_GetObjectItemCaseSensitive(doc, required[i]))
            sf_buf_printf(&unhealthy, "%s%s: not reported", unhealthy.len ? ", " : "", required[i]);
    for (const cJSON *c = doc->child; c; c = c->next) {
        const cJSON *status = cJSON_GetObjectItemCaseSensitive(c, "status");
        if (cJSON_IsString(status) && strcmp(status->valuestring, "healthy") == 0) continue;
        sf_buf_printf(&unhealthy, "%s%s: %s", unhealthy.len ? ", " : "", *c->string ? c->string : "(unnamed)",
                      cJSON_IsString(status) ? status->valuestring : "no status");
    }
    cJSON_Delete(doc);
    if (!unhealthy.len) return 0;
    sf_af_error_set(err, 200, sf_buf_take(&unhealthy));
    sf_buf_free(&unhealthy);
    return 1;
}

int sf_af_health(sf_af *af, sf_ctx *ctx, sf_af_error *err)
{
    cJSON *doc = NULL;
    if (sf_af_get_public(af, ctx, "/api/v2/monitor/health", &doc, err) != 0) return -1;
    return sf_af_answer_health(doc, err);
}

char *sf_af_answer_version(cJSON *doc, sf_af_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "version");
    char *version = cJSON_IsString(v) && *v->valuestring ? sf_strdup(v->valuestring) : NULL;
    cJSON_Delete(doc);
    if (!version) sf_af_error_set(err, 200, sf_strdup("/api/v2/version answered without a version"));
    return version;
}

char *sf_af_version(sf_af *af, sf_ctx *ctx, sf_af_error *err)
{
    cJSON *doc = NULL;
    if (sf_af_get_public(af, ctx, "/api/v2/version", &doc, err) != 0) return NULL;
    return sf_af_answer_version(doc, err);
}

cJSON *sf_af_answer_object(cJSON *doc, const char *what, sf_af_error *err)
{
    if (cJSON_IsObject(doc)) return doc;
    cJSON_Delete(doc);
    sf_af_error_set(err, 200, sf_fmt("%s answered without a JSON object", what));
    return NULL;
}

/* GET of an object at `path`: the object, or NULL with *err. */
static cJSON *get_object(sf_af *af, sf_ctx *ctx, const char *path, sf_af_error *err)
{
    cJSON *doc = NULL;
    if (sf_af_call(af, ctx, "GET", path, NULL, &doc, err) != 0) return NULL;
    char *what = sf_fmt("GET %s", path);
    doc = sf_af_answer_object(doc, what, err);
    free(what);
    return doc;
}

cJSON *sf_af_dag(sf_af *af, sf_ctx *ctx, const char *dag_id, sf_af_error *err)
{
    char *d = seg(dag_id), *path = sf_fmt("/api/v2/dags/%s", d);
    cJSON *doc = get_object(af, ctx, path, err);
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
    cJSON *doc = get_object(af, ctx, path, err);
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

cJSON *sf_af_answer_task_instances(cJSON *doc, const char *what, sf_af_error *err)
{
    cJSON *list = cJSON_DetachItemFromObjectCaseSensitive(doc, "task_instances");
    cJSON_Delete(doc);
    if (cJSON_IsArray(list)) return list;
    cJSON_Delete(list);
    sf_af_error_set(err, 200, sf_fmt("%s answered without task_instances", what));
    return NULL;
}

cJSON *sf_af_task_instances(sf_af *af, sf_ctx *ctx, const char *dag_id, const char *run_id, sf_af_error *err)
{
    char *path = run_path(dag_id, run_id, "/taskInstances?limit=100");
    cJSON *doc = NULL, *list = NULL;
    if (sf_af_call(af, ctx, "GET", path, NULL, &doc, err) == 0) {
        char *what = sf_fmt("GET %s", path);
        list = sf_af_answer_task_instances(doc, what, err);
        free(what);
    }
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

char *sf_af_answer_log(cJSON *doc)
{
    char *text = log_text(cJSON_GetObjectItemCaseSensitive(doc, "content"));
    cJSON_Delete(doc);
    return text;
}

char *sf_af_task_log(sf_af *af, sf_ctx *ctx, const char *dag_id, const char *run_id, const char *task_id,
                     int try_number, sf_af_error *err)
{
    char *t = seg(task_id), *rest = sf_fmt("/taskInstances/%s/logs/%d?full_content=true", t, try_number);
    char *path = run_path(dag_id, run_id, rest);
    cJSON *doc = NULL;
    char *text = NULL;
    if (sf_af_call(af, ctx, "GET", path, NULL, &doc, err) == 0) text = sf_af_answer_log(doc);
    free(path);
    free(rest);
    free(t);
    return text;
}

cJSON *sf_af_answer_xcom(cJSON *doc, const char *what, sf_af_error *err)
{
    cJSON *value = cJSON_DetachItemFromObjectCaseSensitive(doc, "value");
    cJSON_Delete(doc);
    if (!value) {
        sf_af_error_set(err, 200, sf_fmt("%s answered without a value", what));
        return NULL;
    }
    /* Stored as JSON text by some versions: parse it, when all of it is JSON. */
    if (cJSON_IsString(value)) {
        cJSON *parsed = cJSON_ParseWithOpts(value->valuestring, NULL, true);
        if (parsed) {
            cJSON_Delete(value);
            value = parsed;
        }
    }
    return value;
}

cJSON *sf_af_xcom(sf_af *af, sf_ctx *ctx, const char *dag_id, const char *run_id, const char *task_id, const char *key,
                  sf_af_error *err)
{
    char *t = seg(task_id), *k = seg(key);
    char *rest = sf_fmt("/taskInstances/%s/xcomEntries/%s?deserialize=true&stringify=false", t, k);
    char *path = run_path(dag_id, run_id, rest);
    cJSON *doc = NULL, *value = NULL;
    if (sf_af_call(af, ctx, "GET", path, NULL, &doc, err) == 0) {
        char *what = sf_fmt("GET %s", path);
        value = sf_af_answer_xcom(doc, what, err);
        free(what);
    }
    free(path);
    free(rest);
    free(k);
    free(t);
    return value;
}
