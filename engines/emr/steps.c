/* steps.c — pipeline runs on EMR: one step per stage, watched together.
 *
 * Each stage becomes a command-runner.jar step running
 *   spark-submit --deploy-mode cluster --name <...> [--conf k=v]...
 *                [--py-files <packages zip>] <script s3 uri>
 *                --input <uri> --work <uri> --reference <uri> --metrics <uri>
 *                [user args]
 * (the job contract of dags/README.md; the metrics JSON goes to
 * <work>/_sparkflow/metrics/<stage>.json on S3, where the engine reads it
 * back).  All steps are added in one AddJobFlowSteps with ActionOnFailure
 * CANCEL_AND_WAIT, so EMR runs them in order and cancels the rest when one
 * fails.  AddJobFlowSteps is not idempotent: when an attempt may have
 * reached EMR, ListSteps looks for this run's step names before trying
 * again.  One ListSteps (StepIds filter) per poll follows every step of the
 * run; the poll starts at 1 s and backs off to 10 s, and starts fast again
 * when a step changes state.  A cancel or timeout sends CancelSteps.  Every
 * API call of the run is counted and the total logged at the end.
 */
#include "engines/emr/emr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define STEP_POLL_CAP_MS 10000
#define ADD_ATTEMPTS 4
#define LOG_TAIL_LINES 25
#define LOG_TAIL_BYTES 4096
#define LOG_MAX (64 * 1024 * 1024)

static int64_t wall_ms(void)
{
    return sf_time_wall_ms();
}

static char *step_name(const sf_run_spec *run, size_t i)
{
    return sf_fmt("sparkflow %s %s %s", run->pipeline, run->run_id, run->stages[i].name);
}

/* The lake root from the staging URI the S3 lake gave: the part before
 * "/_sparkflow/tmp/".  NULL when the work URI is not of that form. */
static char *root_of(const char *work_uri)
{
    if (!work_uri || strncmp(work_uri, "s3://", 5) != 0) return NULL;
    const char *p = strstr(work_uri, "/_sparkflow/tmp/");
    return p ? sf_strndup(work_uri, (size_t)(p - work_uri)) : NULL;
}

/* ---- submitting ------------------------------------------------------------------ */

static cJSON *step_json(const sf_emr_steps *r, size_t i, const char *script_uri, const char *py_files,
                        const char *on_failure)
{
    const sf_stage_spec *st = &r->run->stages[i];
    cJSON *args = cJSON_CreateArray();
#define ARG(s) cJSON_AddItemToArray(args, cJSON_CreateString(s))
    ARG("spark-submit");
    ARG("--deploy-mode");
    ARG("cluster");
    char *app = sf_fmt("%s-%s-%s", r->run->pipeline, st->name, r->run->run_id);
    ARG("--name");
    ARG(app);
    free(app);
    for (size_t k = 0; st->conf && st->conf[k]; k++) {
        ARG("--conf");
        ARG(st->conf[k]);
    }
    if (py_files) {
        ARG("--py-files");
        ARG(py_files);
    }
    ARG(script_uri);
    const char *std_args[][2] = {{"--input", r->run->input_uri},
                                 {"--work", r->run->work_uri},
                                 {"--reference", r->run->reference_uri},
                                 {"--metrics", r->metrics_uris[i]}};
    for (size_t k = 0; k < 4; k++) {
        if (!std_args[k][1]) continue;
        ARG(std_args[k][0]);
        ARG(std_args[k][1]);
    }
    for (size_t k = 0; st->args && st->args[k]; k++) ARG(st->args[k]);
#undef ARG
    cJSON *step = cJSON_CreateObject(), *jar = cJSON_CreateObject();
    char *name = step_name(r->run, i);
    cJSON_AddStringToObject(step, "Name", name);
    free(name);
    cJSON_AddStringToObject(step, "ActionOnFailure", on_failure);
    cJSON_AddStringToObject(jar, "Jar", "command-runner.jar");
    cJSON_AddItemToObject(jar, "Args", args);
    cJSON_AddItemToObject(step, "HadoopJarStep", jar);
    return step;
}

int sf_emr_steps_find(sf_emr_steps *r, sf_ctx *ctx)
{
    cJSON *body = cJSON_CreateObject(), *out = NULL;
    cJSON_AddStringToObject(body, "ClusterId", r->cluster);
    sf_aws_error err = {0};
    int rc = sf_emr_call(r->c, ctx, "ListSteps", body, true, &out, &err);
    cJSON_Delete(body);
    sf_aws_error_clear(&err);
    if (rc != 0) return -1;
    size_t found = 0;
    for (size_t i = 0; i < r->run->n_stages; i++) {
        char *name = step_name(r->run, i);
        const cJSON *s;
        cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(out, "Steps"))
            if (sf_emr_str(s, "Name") && strcmp(sf_emr_str(s, "Name"), name) == 0 && !r->step_ids[i]) {
                r->step_ids[i] = sf_strdup(sf_emr_str(s, "Id"));
                found++;
            }
        free(name);
    }
    cJSON_Delete(out);
    if (found == r->run->n_stages) return 1;
    for (size_t i = 0; i < r->run->n_stages; i++) {
        free(r->step_ids[i]);
        r->step_ids[i] = NULL;
    }
    return found ? -1 : 0; /* some but not all: EMR adds steps atomically, so look again */
}

static int add_steps(sf_emr_steps *r, sf_ctx *ctx, cJSON *steps, sf_diags *diags)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "JobFlowId", r->cluster);
    cJSON_AddItemToObject(body, "Steps", steps);
    sf_aws_error err = {0};
    int rc = -1;
    for (int attempt = 0; attempt < ADD_ATTEMPTS && rc != 0; attempt++) {
        cJSON *out = NULL;
        if (sf_emr_call(r->c, ctx, "AddJobFlowSteps", body, false, &out, &err) == 0) {
            const cJSON *ids = cJSON_GetObjectItemCaseSensitive(out, "StepIds");
            if (cJSON_GetArraySize(ids) == (int)r->run->n_stages) {
                for (size_t i = 0; i < r->run->n_stages; i++)
                    r->step_ids[i] = sf_strdup(cJSON_GetStringValue(cJSON_GetArrayItem(ids, (int)i)));
                rc = 0;
            }
            cJSON_Delete(out);
            if (rc != 0) {
                sf_aws_error_clear(&err);
                err.operation = sf_strdup("AddJobFlowSteps");
                err.message = sf_strdup("the answer does not list one step id per stage");
                break;
            }
            continue;
        }
        if (!(err.maybe_applied || sf_aws_retryable(err.status, err.code, 0)) || sf_ctx_done(ctx)) break;
        if (err.maybe_applied && sf_emr_steps_find(r, ctx) == 1) {
            sf_log(ctx, SF_LOG_INFO, "emr: AddJobFlowSteps failed (%s) but added the steps: using them",
                   err.code ? err.code : err.message);
            rc = 0;
            break;
        }
        if (sf_ctx_sleep_ms(ctx, sf_backoff_ms(attempt, 1000, 20000)) != 0) break;
    }
    if (rc != 0)
        sf_aws_diag_error(diags, "cluster_id", "Cannot submit the pipeline's steps", &err,
                          "The credentials need elasticmapreduce:AddJobFlowSteps on the cluster.");
    sf_aws_error_clear(&err);
    cJSON_Delete(body);
    return rc;
}

/* ---- results ------------------------------------------------------------------------ */

/* The metrics JSON a stage wrote, as a map; NULL with *why. */
static sf_value *read_metrics(sf_emr_steps *r, sf_ctx *ctx, const char *uri, char **why)
{
    char *bucket = NULL, *key = NULL;
    sf_aws_s3_parse_uri(uri, &bucket, &key);
    sf_buf body = {0};
    sf_aws_error err = {0};
    int rc = sf_aws_s3_get(r->c, ctx, bucket, key, &body, &err);
    sf_value *m = NULL;
    if (rc == 0) {
        cJSON *j = cJSON_ParseWithLength(body.data, body.len);
        m = sf_stage_metrics_from_json(j);
        if (!m) { *why = sf_fmt("the job succeeded but its metrics at %s are not a JSON object", uri); }
        cJSON_Delete(j);
    } else if (rc == 1) {
        *why =
            sf_fmt("the job succeeded but wrote no metrics JSON at %s (see the job contract in dags/README.md)", uri);
    } else {
        char *t = sf_aws_error_text(&err);
        *why = sf_fmt("cannot read the metrics at %s: %s", uri, t);
        free(t);
    }
    sf_aws_error_clear(&err);
    sf_buf_free(&body);
    free(bucket);
    free(key);
    return m;
}

/* gunzip (EMR keeps step logs as stderr.gz); -1 when not gzip. */
static int gunzip(const sf_buf *in, sf_buf *out)
{
    z_stream z = {0};
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return -1;
    z.next_in = (Bytef *)in->data;
    z.avail_in = (uInt)in->len;
    sf_buf_append(out, "", 0);
    int rc;
    do {
        unsigned char buf[16384];
        z.next_out = buf;
        z.avail_out = sizeof buf;
        rc = inflate(&z, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) break;
        sf_buf_append(out, buf, sizeof buf - z.avail_out);
    } while (rc != Z_STREAM_END && out->len < LOG_MAX);
    inflateEnd(&z);
    return rc == Z_STREAM_END || out->len >= LOG_MAX ? 0 : -1;
}

/* The last lines of a step's log on S3 (gzip or plain), or NULL. */
static char *log_tail(sf_emr_steps *r, sf_ctx *ctx, const char *uri)
{
    char *bucket = NULL, *key = NULL;
    if (!uri || sf_aws_s3_parse_uri(uri, &bucket, &key) != 0 || !*key || key[strlen(key) - 1] == '/') {
        free(bucket);
        free(key);
        return NULL;
    }
    sf_buf raw = {0}, text = {0};
    sf_aws_error err = {0};
    char *tail = NULL;
    if (sf_aws_s3_get(r->c, ctx, bucket, key, &raw, &err) == 0) {
        bool gz = raw.len > 2 && (unsigned char)raw.data[0] == 0x1f && (unsigned char)raw.data[1] == 0x8b;
        if (!gz) {
            text = raw;
            raw = (sf_buf){0};
        } else if (gunzip(&raw, &text) != 0) {
            sf_buf_free(&text);
        }
    }
    if (text.data) {
        size_t n = text.len, lines = 0;
        while (n > 0 && (text.data[n - 1] == '\n' || text.data[n - 1] == '\r')) n--;
        size_t start = n;
        while (start > 0 && n - start < LOG_TAIL_BYTES) {
            if (text.data[start - 1] == '\n' && ++lines == LOG_TAIL_LINES) break;
            start--;
        }
        tail = sf_strndup(text.data + start, n - start);
    }
    sf_aws_error_clear(&err);
    sf_buf_free(&raw);
    sf_buf_free(&text);
    free(bucket);
    free(key);
    return tail;
}

int64_t sf_emr_timeline_ms(const cJSON *step, const char *field)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(step, "Status"), "Timeline"), field);
    if (cJSON_IsNumber(t)) return (int64_t)(t->valuedouble * 1000);
    if (cJSON_IsString(t)) {
        int64_t s = sf_aws_parse_iso8601(t->valuestring);
        return s > 0 ? s * 1000 : 0;
    }
    return 0;
}

/* Apply one step's status to its result; true when the result is final. */
static bool apply_status(sf_emr_steps *r, sf_ctx *ctx, size_t i, const cJSON *step, sf_stage_result *res, bool *failed)
{
    const char *state = sf_emr_str(step, "Status.State");
    if (!state) return false;
    int64_t start = sf_emr_timeline_ms(step, "StartDateTime"), end = sf_emr_timeline_ms(step, "EndDateTime");
    /* A step that has not run has no start, whatever its timeline says. */
    if (start && !res->started_at_ms && strcmp(state, "PENDING") != 0) res->started_at_ms = start;
    if (!strcmp(state, "PENDING") || !strcmp(state, "RUNNING") || !strcmp(state, "CANCEL_PENDING")) {
        if (!strcmp(state, "RUNNING") && !res->started_at_ms) res->started_at_ms = wall_ms();
        return false;
    }
    res->finished_at_ms = end ? end : wall_ms();
    if (!res->started_at_ms) res->started_at_ms = res->finished_at_ms;
    const char *name = r->run->stages[i].name;
    if (!strcmp(state, "COMPLETED")) {
        char *why = NULL;
        res->metrics = read_metrics(r, ctx, r->metrics_uris[i], &why);
        res->status = sf_strdup(res->metrics ? "succeeded" : "failed");
        res->reason = why;
        if (!res->metrics) {
            res->log_tail = sf_strdup(why);
            *failed = true;
        }
    } else if (!strcmp(state, "FAILED")) {
        const char *reason = sf_emr_str(step, "Status.FailureDetails.Reason");
        const char *msg = sf_emr_str(step, "Status.FailureDetails.Message");
        const char *log = sf_emr_str(step, "Status.FailureDetails.LogFile");
        res->status = sf_strdup("failed");
        res->reason = sf_fmt("EMR step %s FAILED: %s%s%s", r->step_ids[i], reason ? reason : "no reason given",
                             msg ? ": " : "", msg ? msg : "");
        if (log) {
            free(res->log);
            res->log = sf_strdup(log);
        }
        res->log_tail = log_tail(r, ctx, log);
        if (!res->log_tail)
            res->log_tail = sf_fmt("%s%s(the step's stdout/stderr are under %s)", msg ? msg : "", msg ? "\n" : "",
                                   log ? log : "the cluster's log_uri");
        *failed = true;
    } else { /* CANCELLED, INTERRUPTED */
        res->status = sf_strdup("cancelled");
        res->reason = sf_fmt("EMR step %s was %s", r->step_ids[i], state);
        *failed = true;
    }
    sf_log(ctx, SF_LOG_INFO, "pipeline %s: stage %s (%s) %s in %lld ms", r->run->pipeline, name, r->step_ids[i],
           res->status, (long long)(res->finished_at_ms - res->started_at_ms));
    return true;
}

int sf_emr_steps_poll(sf_emr_steps *r, sf_ctx *ctx, sf_stage_result *results, bool *failed, sf_diags *diags)
{
    cJSON *body = cJSON_CreateObject(), *out = NULL;
    cJSON_AddStringToObject(body, "ClusterId", r->cluster);
    cJSON *ids = cJSON_AddArrayToObject(body, "StepIds");
    for (size_t i = 0; i < r->run->n_stages; i++)
        if (!r->final[i]) cJSON_AddItemToArray(ids, cJSON_CreateString(r->step_ids[i]));
    sf_aws_error err = {0};
    int rc = sf_emr_call(r->c, ctx, "ListSteps", body, true, &out, &err);
    cJSON_Delete(body);
    if (rc != 0) {
        bool transient = sf_aws_retryable(err.status, err.code, 0) || err.status == 0;
        if (!transient && !sf_ctx_done(ctx))
            sf_aws_diag_error(diags, "cluster_id", "Cannot follow the pipeline's steps", &err, NULL);
        sf_aws_error_clear(&err);
        return transient ? 0 : -1;
    }
    int changed = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(out, "Steps")) {
        const char *id = sf_emr_str(s, "Id");
        for (size_t i = 0; id && i < r->run->n_stages; i++) {
            if (r->final[i] || strcmp(r->step_ids[i], id) != 0) continue;
            bool was_running = results[i].started_at_ms != 0;
            if (apply_status(r, ctx, i, s, &results[i], failed)) {
                r->final[i] = true;
                changed++;
            } else if (!was_running && results[i].started_at_ms) {
                sf_log(ctx, SF_LOG_INFO, "pipeline %s: stage %s (%s) running", r->run->pipeline, r->run->stages[i].name,
                       id);
                changed++;
            }
        }
    }
    cJSON_Delete(out);
    return changed;
}

/* CancelSteps for every step not final; marks them. */
static void cancel_rest(sf_emr_steps *r, sf_ctx *ctx, sf_stage_result *results, const char *why)
{
    cJSON *body = cJSON_CreateObject(), *out = NULL;
    cJSON_AddStringToObject(body, "ClusterId", r->cluster);
    cJSON *ids = cJSON_AddArrayToObject(body, "StepIds");
    size_t n = 0;
    for (size_t i = 0; i < r->run->n_stages; i++)
        if (!r->final[i] && r->step_ids[i]) {
            cJSON_AddItemToArray(ids, cJSON_CreateString(r->step_ids[i]));
            n++;
        }
    cJSON_AddStringToObject(body, "StepCancellationOption", "SEND_INTERRUPT");
    sf_aws_error err = {0};
    if (n && sf_emr_call(r->c, ctx, "CancelSteps", body, true, &out, &err) != 0) {
        char *t = sf_aws_error_text(&err);
        sf_log(ctx, SF_LOG_WARN, "emr: cannot cancel the steps of run %s: %s", r->run->run_id, t);
        free(t);
    }
    sf_aws_error_clear(&err);
    cJSON_Delete(out);
    cJSON_Delete(body);
    sf_emr_steps_settle(r, results, why);
}

void sf_emr_steps_settle(sf_emr_steps *r, sf_stage_result *results, const char *why)
{
    for (size_t i = 0; i < r->run->n_stages; i++) {
        if (r->final[i]) continue;
        bool started = results[i].started_at_ms != 0;
        results[i].status = sf_strdup(started ? "cancelled" : "not_run");
        if (started) {
            results[i].finished_at_ms = wall_ms();
            results[i].reason = sf_fmt("stopped because %s", why);
        }
        r->final[i] = true;
    }
}

bool sf_emr_steps_done(const sf_emr_steps *r)
{
    for (size_t i = 0; i < r->run->n_stages; i++)
        if (!r->final[i]) return false;
    return true;
}

/* ---- the run ------------------------------------------------------------------------ */

char *sf_emr_s3_log_root(const char *log_uri)
{
    if (!log_uri || !*log_uri) return NULL;
    const char *rest = strstr(log_uri, "://");
    if (!rest || (strncmp(log_uri, "s3://", 5) && strncmp(log_uri, "s3n://", 6) && strncmp(log_uri, "s3a://", 6)))
        return NULL;
    rest += 3;
    size_t n = strlen(rest);
    while (n > 0 && rest[n - 1] == '/') n--;
    return sf_fmt("s3://%.*s/", (int)n, rest);
}

/* Where EMR puts a step's stderr (the Spark driver's output with
 * command-runner.jar): under the cluster's log_uri, copied there by EMR
 * every few minutes.  NULL without a log_uri. */
static char *step_log(const sf_emr_steps *r, size_t i)
{
    return r->log_uri ? sf_fmt("%s%s/steps/%s/stderr.gz", r->log_uri, r->cluster, r->step_ids[i]) : NULL;
}

bool sf_emr_cluster_usable(sf_aws_client *c, sf_ctx *ctx, const char *id, char **log_uri, sf_diags *diags)
{
    cJSON *cl = NULL;
    sf_aws_error err = {0};
    int rc = sf_emr_describe(c, ctx, id, &cl, &err);
    const char *state = sf_emr_str(cl, "Status.State");
    bool ok = rc == 0 && state && (!strcmp(state, "WAITING") || !strcmp(state, "RUNNING"));
    if (ok && log_uri) *log_uri = sf_emr_s3_log_root(sf_emr_str(cl, "LogUri"));
    if (rc < 0) sf_aws_diag_error(diags, "cluster_id", "Cannot read the EMR cluster", &err, NULL);
    else if (!ok)
        sf_diag_error(diags, "cluster_id", "Cluster is not running",
                      "EMR cluster %s is %s. Run `terraform apply` so the cluster is created again (its idle "
                      "timeout may have terminated it), then the pipeline runs on it.",
                      id,
                      rc == 1 ? "unknown to EMR"
                      : state ? state
                              : "in an unknown state");
    sf_aws_error_clear(&err);
    cJSON_Delete(cl);
    return ok;
}

cJSON *sf_emr_steps_build(sf_emr_steps *r, sf_ctx *ctx, const char *on_failure, sf_diags *diags)
{
    cJSON *steps = cJSON_CreateArray();
    int rc = 0;
    for (size_t i = 0; i < r->run->n_stages && rc == 0; i++) {
        char *script = NULL, *py = NULL, *path = sf_fmt("stage[%zu].script", i);
        rc = sf_emr_upload_code(r->c, ctx, r->root, r->run->stages[i].script, path, &script, &py, diags);
        if (rc == 0) cJSON_AddItemToArray(steps, step_json(r, i, script, py, on_failure));
        free(script);
        free(py);
        free(path);
    }
    if (rc == 0) return steps;
    cJSON_Delete(steps);
    return NULL;
}

void sf_emr_steps_attach(sf_emr_steps *r, sf_ctx *ctx, sf_stage_result *results)
{
    for (size_t i = 0; i < r->run->n_stages; i++) {
        results[i].step_id = sf_strdup(r->step_ids[i]);
        results[i].log = step_log(r, i);
        sf_log(ctx, SF_LOG_INFO, "pipeline %s: stage %s submitted as EMR step %s", r->run->pipeline,
               r->run->stages[i].name, r->step_ids[i]);
    }
}

static int submit(sf_emr_steps *r, sf_ctx *ctx, sf_stage_result *results, sf_diags *diags)
{
    cJSON *steps = sf_emr_steps_build(r, ctx, "CANCEL_AND_WAIT", diags);
    if (!steps || add_steps(r, ctx, steps, diags) != 0) return -1;
    sf_emr_steps_attach(r, ctx, results);
    return 0;
}

static sf_engine_status watch(sf_emr_steps *r, sf_ctx *ctx, sf_stage_result *results, sf_diags *diags)
{
    sf_emr_poll poll;
    sf_emr_poll_init(&poll, STEP_POLL_CAP_MS);
    bool failed = false, done = false;
    while (!done && !failed) {
        if (sf_emr_poll_wait(&poll, ctx) != 0) {
            sf_ctx *cl = sf_ctx_new_cleanup(ctx, SF_EMR_CLEANUP_MS);
            char *why = sf_fmt("the operation was %s", sf_ctx_reason(ctx) ? sf_ctx_reason(ctx) : "cancelled");
            cancel_rest(r, cl, results, why);
            free(why);
            sf_ctx_free(cl);
            return SF_ENGINE_ERROR;
        }
        int changed = sf_emr_steps_poll(r, ctx, results, &failed, diags);
        if (changed < 0) {
            sf_ctx *cl = sf_ctx_new_cleanup(ctx, SF_EMR_CLEANUP_MS);
            cancel_rest(r, cl, results, "the steps could not be followed");
            sf_ctx_free(cl);
            return SF_ENGINE_ERROR;
        }
        if (changed) sf_emr_poll_reset(&poll);
        done = sf_emr_steps_done(r);
    }
    if (failed) {
        /* CANCEL_AND_WAIT cancels the later steps; make sure, and mark them. */
        cancel_rest(r, ctx, results, "an earlier stage failed");
        return SF_ENGINE_ERROR;
    }
    return SF_ENGINE_OK;
}

int sf_emr_steps_init(sf_emr_steps *r, sf_aws_client *c, const sf_run_spec *run, const char *cluster, sf_diags *diags)
{
    size_t n = run->n_stages;
    *r = (sf_emr_steps){.c = c, .run = run, .cluster = cluster, .root = root_of(run->work_uri)};
    r->step_ids = calloc(n + 1, sizeof *r->step_ids);
    r->metrics_uris = calloc(n + 1, sizeof *r->metrics_uris);
    r->final = calloc(n + 1, sizeof *r->final);
    if (!r->step_ids || !r->metrics_uris || !r->final) abort();
    for (size_t i = 0; i < n; i++)
        r->metrics_uris[i] = sf_fmt("%s/_sparkflow/metrics/%s.json", run->work_uri, run->stages[i].name);
    if (r->root) return 0;
    sf_diag_error(diags, "lake", "EMR pipelines need an S3 lake",
                  "The emr engine runs stages on the cluster, which reads and writes the lake through S3: set "
                  "`lake` to an s3:// URI (e.g. s3://my-bucket/finances). Staging area given: %s.",
                  run->work_uri ? run->work_uri : "none");
    return -1;
}

void sf_emr_steps_clear(sf_emr_steps *r)
{
    for (size_t i = 0; r->run && i < r->run->n_stages; i++) {
        free(r->step_ids[i]);
        free(r->metrics_uris[i]);
    }
    free(r->step_ids);
    free(r->metrics_uris);
    free(r->final);
    free(r->root);
    free(r->log_uri);
    *r = (sf_emr_steps){0};
}

sf_engine_status sf_emr_pipeline_run(sf_ctx *ctx, const sf_engine_env *env, const char *id, const sf_run_spec *run,
                                     sf_stage_result *results, sf_diags *diags)
{
    size_t n = run->n_stages;
    sf_aws_client *owned = NULL, *parent = sf_engine_env_aws(env, &owned);
    sf_aws_client *c = sf_aws_client_child(parent);
    sf_emr_steps r;
    sf_engine_status st = SF_ENGINE_ERROR;
    int64_t t0 = sf_time_mono_ms();
    if (sf_emr_steps_init(&r, c, run, id, diags) == 0 && sf_emr_cluster_usable(c, ctx, id, &r.log_uri, diags) &&
        submit(&r, ctx, results, diags) == 0)
        st = watch(&r, ctx, results, diags);
    for (size_t i = 0; i < n; i++)
        if (!results[i].status) results[i].status = sf_strdup("not_run");
    sf_log(ctx, SF_LOG_INFO, "emr: run %s: %lld API calls (%zu stages, %lld ms)", run->run_id,
           (long long)sf_aws_client_calls(c), n, (long long)(sf_time_mono_ms() - t0));
    sf_emr_steps_clear(&r);
    sf_aws_client_free(c);
    sf_aws_client_free(owned);
    return st;
}
