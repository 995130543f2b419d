/* run.c — installing a pipeline on an Airflow host and running it there
 * (pipeline.h): put the spec, make Airflow parse it now (no waiting for its
 * folder scan), unpause, trigger a run with the provider's run id, follow
 * it, and read back what each task did.  A run Airflow started by itself
 * (new input) is found by the run id its publish task recorded. */
#include "orchestrators/pipeline.h"

#include <stdlib.h>
#include <string.h>

#include "airflow/api.h"
#include "base/str.h"
#include "base/time.h"

#define PARSE_WAIT_MS (180 * 1000) /* a spec becomes a DAG within this */
#define REPARSE_EVERY_MS 5000      /* how often to ask for a parse while waiting */
#define POLL_MS 250                /* run and task states: a finished run is seen within this */
#define CANCEL_BUDGET_MS 30000     /* failing a run and seeing its tasks stop */
#define LOG_TAIL_LINES 25
#define RECENT_RUNS 25 /* looked at to find a run by its run id */

static sf_af *client_for(const sf_airflow_host *host)
{
    return sf_af_new(host->url, host->user, host->password);
}

static void af_diag(sf_diags *diags, const char *summary, const sf_af_error *err, const char *hint)
{
    sf_diag_error(diags, "airflow", summary, "%s%s%s", err->message ? err->message : "no answer", hint ? "\n\n" : "",
                  hint ? hint : "");
}

/* ---- install ---------------------------------------------------------------- */

static bool has_tag(const cJSON *dag, const char *tag)
{
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(dag, "tags")) {
        const cJSON *name = cJSON_IsString(t) ? t : cJSON_GetObjectItemCaseSensitive(t, "name");
        if (cJSON_IsString(name) && strcmp(name->valuestring, tag) == 0) return true;
    }
    return false;
}

/* The file token of the DAG factory's file: from the pipeline's DAG when
 * Airflow knows it, else from any SparkFlow DAG (one file builds them all). */
static char *factory_file_token(sf_af *af, sf_ctx *ctx, const cJSON *dag)
{
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(dag, "file_token");
    if (cJSON_IsString(tok)) return sf_strdup(tok->valuestring);
    cJSON *list = NULL;
    sf_af_error err = {0};
    char *found = NULL;
    if (sf_af_call(af, ctx, "GET", "/api/v2/dags?dag_id_pattern=sparkflow_&limit=1&exclude_stale=false", NULL, &list,
                   &err) == 0) {
        const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(list, "dags"), 0);
        tok = cJSON_GetObjectItemCaseSensitive(first, "file_token");
        if (cJSON_IsString(tok)) found = sf_strdup(tok->valuestring);
    }
    sf_af_error_clear(&err);
    cJSON_Delete(list);
    return found;
}

/* Wait until the DAG shows tag `rev` (this spec was parsed), asking for a
 * parse every few seconds.  0, or -1 with diagnostics. */
static int wait_parsed(sf_af *af, sf_ctx *ctx, const char *dag_id, const char *rev, sf_diags *diags)
{
    int64_t start = sf_time_mono_ms(), asked = 0;
    sf_af_error err = {0};
    for (;;) {
        cJSON *dag = sf_af_dag(af, ctx, dag_id, &err);
        if (!dag && err.status != 404) {
            af_diag(diags, "Cannot read the pipeline's DAG", &err, NULL);
            sf_af_error_clear(&err);
            return -1;
        }
        bool current = dag && has_tag(dag, rev);
        int64_t now = sf_time_mono_ms();
        if (!current && now - asked >= REPARSE_EVERY_MS) {
            char *token = factory_file_token(af, ctx, dag);
            if (token) sf_af_reparse(af, ctx, token, NULL);
            free(token);
            asked = now;
        }
        cJSON_Delete(dag);
        sf_af_error_clear(&err);
        if (current) return 0;
        if (now - start >= PARSE_WAIT_MS) {
            sf_diag_error(diags, "airflow", "Airflow did not load the pipeline's DAG",
                          "DAG %s with tag %s did not appear within %d s of its spec being written. The DAG "
                          "processor's log (and the log of sparkflow_dags.py in it) says why.",
                          dag_id, rev, PARSE_WAIT_MS / 1000);
            return -1;
        }
        if (sf_ctx_sleep_ms(ctx, POLL_MS) != 0) {
            sf_diag_error(diags, "airflow", "Stopped", "Waiting for Airflow to load DAG %s was %s.", dag_id,
                          sf_ctx_reason(ctx) ? sf_ctx_reason(ctx) : "cancelled");
            return -1;
        }
    }
}

/* Pause the DAG when Airflow has it: a run we trigger is then queued
 * before any the input watcher asks for once the new spec is read (those
 * are created only for an unpaused DAG, and find the inputs covered). */
static void pause_if_known(sf_af *af, sf_ctx *ctx, const char *dag_id)
{
    sf_af_error err = {0};
    cJSON *dag = sf_af_dag(af, ctx, dag_id, &err);
    const cJSON *paused = cJSON_GetObjectItemCaseSensitive(dag, "is_paused");
    if (dag && !cJSON_IsTrue(paused)) sf_af_set_paused(af, ctx, dag_id, true, NULL);
    cJSON_Delete(dag);
    sf_af_error_clear(&err);
}

static int unpause(sf_af *af, sf_ctx *ctx, const char *dag_id, sf_diags *diags)
{
    sf_af_error err = {0};
    int rc = sf_af_set_paused(af, ctx, dag_id, false, &err);
    if (rc != 0) af_diag(diags, "Cannot unpause the pipeline's DAG", &err, NULL);
    sf_af_error_clear(&err);
    return rc;
}

/* Put the spec and wait until Airflow has parsed it. */
static int install(sf_af *af, sf_ctx *ctx, const sf_engine_env *env, const sf_airflow_target *t,
                   const sf_run_pipeline *p, sf_diags *diags)
{
    char *rev = NULL;
    cJSON *spec = sf_airflow_spec(ctx, env, t, p, &rev, diags);
    if (!spec) return -1;
    char *text = cJSON_Print(spec);
    char *dag_id = sf_airflow_dag_id(p->name);
    int rc = -1;
    sf_log(ctx, SF_LOG_INFO, "pipeline %s: installing DAG %s (%s) on Airflow %s", p->name, dag_id, rev, t->host->id);
    if (t->orchestrator->spec_put(ctx, env, t->host, p->name, text, diags) == SF_ENGINE_OK)
        rc = wait_parsed(af, ctx, dag_id, rev, diags);
    free(dag_id);
    free(text);
    free(rev);
    cJSON_Delete(spec);
    return rc;
}

int sf_airflow_pipeline_install(sf_ctx *ctx, const sf_engine_env *env, const sf_airflow_target *t,
                                const sf_run_pipeline *p, sf_diags *diags)
{
    sf_af *af = client_for(t->host);
    char *dag_id = sf_airflow_dag_id(p->name);
    int rc = install(af, ctx, env, t, p, diags);
    if (rc == 0) rc = unpause(af, ctx, dag_id, diags);
    free(dag_id);
    sf_af_free(af);
    return rc;
}

int sf_airflow_pipeline_uninstall(sf_ctx *ctx, const sf_engine_env *env, const sf_orchestrator *o,
                                  const sf_airflow_host *host, const char *pipeline, sf_diags *diags)
{
    sf_diags scratch;
    sf_diags_init(&scratch);
    sf_engine_status st = o->spec_put(ctx, env, host, pipeline, NULL, &scratch);
    if (st != SF_ENGINE_OK)
        sf_diag_warning(diags, "airflow", "Pipeline spec left on Airflow",
                        "The spec of pipeline \"%s\" could not be removed from Airflow %s; its DAG stays "
                        "until the host is destroyed.",
                        pipeline, host->id ? host->id : "");
    sf_diags_clear(&scratch);
    return 0;
}

/* ---- task instances → stage results -------------------------------------------- */

/* The task instance of `task_id`, or NULL. */
static const cJSON *task(const cJSON *tis, const char *task_id)
{
    const cJSON *ti;
    cJSON_ArrayForEach(ti, tis) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(ti, "task_id");
        if (cJSON_IsString(id) && strcmp(id->valuestring, task_id) == 0) return ti;
    }
    return NULL;
}

static const char *ti_str(const cJSON *ti, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ti, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int64_t ti_time(const cJSON *ti, const char *key)
{
    const char *s = ti_str(ti, key);
    int64_t ms = sf_time_parse_rfc3339_ms(s);
    return ms > 0 ? ms : 0;
}

static int ti_try(const cJSON *ti)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ti, "try_number");
    return cJSON_IsNumber(v) && v->valueint > 0 ? v->valueint : 1;
}

/* A stage is one task (local: its name) or two (EMR: <name>.submit, whose
 * start is the stage's, and <name>.wait, whose state and end are). */
typedef struct stage_tasks {
    const cJSON *first, *last;
} stage_tasks;

static stage_tasks tasks_of(const cJSON *tis, const char *stage, char **state_task)
{
    const cJSON *one = task(tis, stage);
    if (one) {
        *state_task = sf_strdup(stage);
        return (stage_tasks){one, one};
    }
    char *submit = sf_fmt("%s.submit", stage);
    *state_task = sf_fmt("%s.wait", stage);
    stage_tasks st = {task(tis, submit), task(tis, *state_task)};
    if (!st.first) st.first = st.last;
    free(submit);
    return st;
}

static const char *stage_status(const char *ti_state, bool cancelled)
{
    if (!ti_state) return "not_run";
    if (strcmp(ti_state, "success") == 0) return "succeeded";
    if (strcmp(ti_state, "failed") == 0) return cancelled ? "cancelled" : "failed";
    if (!strcmp(ti_state, "running") || !strcmp(ti_state, "up_for_retry") || !strcmp(ti_state, "restarting") ||
        !strcmp(ti_state, "deferred") || !strcmp(ti_state, "queued"))
        return cancelled ? "cancelled" : "failed";
    return "not_run"; /* upstream_failed, skipped, removed, scheduled, none */
}

static char *last_lines(const char *text, int lines)
{
    size_t n = strlen(text);
    while (n > 0 && text[n - 1] == '\n') n--;
    size_t start = n;
    for (int seen = 0; start > 0; start--)
        if (text[start - 1] == '\n' && ++seen == lines) break;
    return sf_strndup(text + start, n - start);
}

typedef struct run_ref {
    sf_af *af;
    const sf_airflow_host *host;
    const char *dag_id;
    const char *dag_run_id;
} run_ref;

static void fill_stage(sf_ctx *ctx, const run_ref *ref, const cJSON *tis, const char *stage, const cJSON *metrics,
                       bool cancelled, sf_stage_result *r)
{
    char *state_task = NULL;
    stage_tasks t = tasks_of(tis, stage, &state_task);
    const char *state = ti_str(t.last, "state");
    r->status = sf_strdup(stage_status(state, cancelled));
    r->started_at_ms = ti_time(t.first, "start_date");
    r->finished_at_ms = ti_time(t.last, "end_date");
    if (t.last) {
        r->step_id = sf_fmt("%s/%s/%s", ref->dag_id, ref->dag_run_id, state_task);
        r->log = sf_fmt("%s/dags/%s/runs/%s/tasks/%s", ref->host->url, ref->dag_id, ref->dag_run_id, state_task);
    }
    r->metrics = sf_stage_metrics_from_json(cJSON_GetObjectItemCaseSensitive(metrics, stage));
    if (strcmp(r->status, "failed") == 0 || strcmp(r->status, "cancelled") == 0) {
        r->reason =
            strcmp(r->status, "failed") == 0
                ? sf_fmt("Airflow task %s of DAG run %s failed (try %d)", state_task, ref->dag_run_id, ti_try(t.last))
                : sf_fmt("Airflow task %s was stopped: the operation was %s", state_task,
                         sf_ctx_reason(ctx) ? sf_ctx_reason(ctx) : "cancelled");
        sf_af_error err = {0};
        sf_ctx *log_ctx = sf_ctx_new_cleanup(ctx, 15000);
        char *log = sf_af_task_log(ref->af, log_ctx, ref->dag_id, ref->dag_run_id, state_task, ti_try(t.last), &err);
        r->log_tail = log ? last_lines(log, LOG_TAIL_LINES) : sf_fmt("(the log could not be read: %s)", err.message);
        free(log);
        sf_ctx_free(log_ctx);
        sf_af_error_clear(&err);
    }
    free(state_task);
}

/* The stage results of a DAG run (its task instances and what publish
 * recorded); 0, or -1 with *why. */
static int read_results(sf_ctx *ctx, const run_ref *ref, const sf_run_pipeline *p, const cJSON *published,
                        bool cancelled, sf_run_result *out, char **why)
{
    sf_af_error err = {0};
    cJSON *tis = sf_af_task_instances(ref->af, ctx, ref->dag_id, ref->dag_run_id, &err);
    if (!tis) {
        *why = sf_strdup(err.message ? err.message : "no answer");
        sf_af_error_clear(&err);
        return -1;
    }
    const cJSON *metrics = cJSON_GetObjectItemCaseSensitive(published, "metrics");
    for (size_t i = 0; i < p->n_stages; i++)
        fill_stage(ctx, ref, tis, p->stages[i].name, metrics, cancelled, &out->stages[i]);
    cJSON_Delete(tis);
    return 0;
}

/* ---- a run ----------------------------------------------------------------------- */

static bool finished(const char *state)
{
    return state && (strcmp(state, "success") == 0 || strcmp(state, "failed") == 0);
}

/* Follow the run to its end; its final state (malloc'd), or NULL when
 * stopped (ctx) or Airflow cannot say (*err). */
static char *follow(sf_ctx *ctx, const run_ref *ref, const char *pipeline, sf_af_error *err)
{
    char *last = NULL;
    for (;;) {
        cJSON *run = sf_af_dag_run(ref->af, ctx, ref->dag_id, ref->dag_run_id, err);
        if (!run) {
            free(last);
            return NULL;
        }
        const char *state = ti_str(run, "state");
        if (state && (!last || strcmp(state, last) != 0)) {
            sf_log(ctx, SF_LOG_INFO, "pipeline %s: DAG run %s is %s", pipeline, ref->dag_run_id, state);
            free(last);
            last = sf_strdup(state);
        }
        cJSON_Delete(run);
        if (finished(last)) return last;
        if (sf_ctx_sleep_ms(ctx, POLL_MS) != 0) {
            free(last);
            return NULL;
        }
    }
}

/* After Ctrl-C or a timeout: fail the DAG run (Airflow then stops its
 * running tasks) and wait a little for them to stop. */
static void stop_run(sf_ctx *ctx, const run_ref *ref, const char *pipeline)
{
    sf_ctx *cleanup = sf_ctx_new_cleanup(ctx, CANCEL_BUDGET_MS);
    sf_af_error err = {0};
    sf_log(ctx, SF_LOG_INFO, "pipeline %s: failing DAG run %s (%s)", pipeline, ref->dag_run_id,
           sf_ctx_reason(ctx) ? sf_ctx_reason(ctx) : "cancelled");
    if (sf_af_set_run_state(ref->af, cleanup, ref->dag_id, ref->dag_run_id, "failed", &err) != 0)
        sf_log(ctx, SF_LOG_WARN, "pipeline %s: could not fail DAG run %s: %s", pipeline, ref->dag_run_id, err.message);
    sf_af_error_clear(&err);
    for (;;) {
        cJSON *tis = sf_af_task_instances(ref->af, cleanup, ref->dag_id, ref->dag_run_id, NULL);
        bool running = false;
        const cJSON *ti;
        cJSON_ArrayForEach(ti, tis) {
            const char *s = ti_str(ti, "state");
            running |= s && (strcmp(s, "running") == 0 || strcmp(s, "queued") == 0);
        }
        cJSON_Delete(tis);
        if (!tis || !running || sf_ctx_sleep_ms(cleanup, POLL_MS) != 0) break;
    }
    sf_ctx_free(cleanup);
}

static sf_run_status check_published(const cJSON *published, const char *run_id, const char *fingerprint,
                                     const sf_run_pipeline *p, sf_diags *diags)
{
    const char *got_run = ti_str(published, "run_id"), *got_fp = ti_str(published, "fingerprint");
    if (got_run && strcmp(got_run, run_id) == 0 && got_fp && strcmp(got_fp, fingerprint) == 0) return SF_RUN_PUBLISHED;
    sf_diag_error(diags, NULL, "Airflow published another run",
                  "Pipeline \"%s\" was to publish run %s of fingerprint %s, and its DAG's publish task recorded "
                  "run %s of fingerprint %s: the inputs changed while the run started. Run `terraform plan` "
                  "again to see the change.",
                  p->name, run_id, fingerprint, got_run ? got_run : "none", got_fp ? got_fp : "none");
    return SF_RUN_FAILED;
}

sf_run_status sf_airflow_pipeline_run(sf_ctx *ctx, const sf_engine_env *env, const sf_airflow_target *t,
                                      const sf_run_pipeline *p, const char *fingerprint, sf_run_result *out,
                                      sf_diags *diags)
{
    *out = (sf_run_result){0};
    sf_af *af = client_for(t->host);
    char *dag_id = sf_airflow_dag_id(p->name);
    pause_if_known(af, ctx, dag_id);
    if (install(af, ctx, env, t, p, diags) != 0) {
        unpause(af, ctx, dag_id, diags); /* the DAG as it was keeps watching its input */
        free(dag_id);
        sf_af_free(af);
        return SF_RUN_NOT_STARTED;
    }
    out->run_id = sf_run_new_id();
    char *dag_run_id = sf_fmt("sparkflow__%s", out->run_id);
    run_ref ref = {af, t->host, dag_id, dag_run_id};
    cJSON *conf = cJSON_CreateObject();
    cJSON_AddStringToObject(conf, "sparkflow_run_id", out->run_id);
    cJSON_AddBoolToObject(conf, "force", true);
    sf_af_error err = {0};
    sf_run_status status = SF_RUN_NOT_STARTED;
    int triggered = sf_af_trigger(af, ctx, dag_id, dag_run_id, conf, &err);
    if (triggered != 0) af_diag(diags, "Cannot start the pipeline's DAG run", &err, NULL);
    if (unpause(af, ctx, dag_id, diags) != 0 || triggered != 0) goto done;
    sf_log(ctx, SF_LOG_INFO, "pipeline %s: run %s started as DAG run %s on %s", p->name, out->run_id, dag_run_id,
           t->host->url);
    out->stages = calloc(p->n_stages ? p->n_stages : 1, sizeof *out->stages);
    if (!out->stages) abort();
    out->n_stages = p->n_stages;
    char *state = follow(ctx, &ref, p->name, &err);
    bool cancelled = !state && sf_ctx_done(ctx);
    if (cancelled) stop_run(ctx, &ref, p->name);
    sf_ctx *read_ctx = cancelled ? sf_ctx_new_cleanup(ctx, CANCEL_BUDGET_MS) : ctx;
    cJSON *published = state && strcmp(state, "success") == 0
                           ? sf_af_xcom(af, read_ctx, dag_id, dag_run_id, "publish", "return_value", &err)
                           : NULL;
    char *why = NULL;
    if (read_results(read_ctx, &ref, p, published, cancelled, out, &why) != 0)
        sf_log(ctx, SF_LOG_WARN, "pipeline %s: task states of %s not read: %s", p->name, dag_run_id, why);
    status = SF_RUN_FAILED;
    if (published) status = check_published(published, out->run_id, fingerprint, p, diags);
    else if (!cancelled && !state) af_diag(diags, "Lost track of the pipeline's DAG run", &err, NULL);
    else if (state && strcmp(state, "success") == 0)
        af_diag(diags, "The pipeline's DAG run recorded no publication", &err, NULL);
    if (status != SF_RUN_PUBLISHED) sf_run_report_failure(ctx, p, out, diags);
    free(why);
    cJSON_Delete(published);
    if (read_ctx != ctx) sf_ctx_free(read_ctx);
    free(state);
done:
    sf_af_error_clear(&err);
    cJSON_Delete(conf);
    free(dag_run_id);
    free(dag_id);
    sf_af_free(af);
    return status;
}

/* ---- a run Airflow started ---------------------------------------------------------- */

int sf_airflow_pipeline_find_run(sf_ctx *ctx, const sf_airflow_host *host, const sf_run_pipeline *p, const char *run_id,
                                 sf_run_result *out, char **why)
{
    *out = (sf_run_result){0};
    sf_af *af = client_for(host);
    char *dag_id = sf_airflow_dag_id(p->name);
    char *path = sf_fmt("/api/v2/dags/%s/dagRuns?order_by=-start_date&limit=%d&state=success", dag_id, RECENT_RUNS);
    cJSON *runs = NULL;
    sf_af_error err = {0};
    int rc = 1;
    if (sf_af_call(af, ctx, "GET", path, NULL, &runs, &err) != 0) {
        *why = sf_strdup(err.message ? err.message : "no answer");
        rc = -1;
    }
    const cJSON *run;
    cJSON_ArrayForEach(run, cJSON_GetObjectItemCaseSensitive(runs, "dag_runs")) {
        const char *dag_run_id = ti_str(run, "dag_run_id");
        if (rc != 1 || !dag_run_id) break;
        cJSON *published = sf_af_xcom(af, ctx, dag_id, dag_run_id, "publish", "return_value", NULL);
        const char *got = ti_str(published, "run_id");
        if (got && strcmp(got, run_id) == 0) {
            run_ref ref = {af, host, dag_id, dag_run_id};
            out->run_id = sf_strdup(run_id);
            out->stages = calloc(p->n_stages ? p->n_stages : 1, sizeof *out->stages);
            if (!out->stages) abort();
            out->n_stages = p->n_stages;
            rc = read_results(ctx, &ref, p, published, false, out, why) == 0 ? 0 : -1;
        }
        cJSON_Delete(published);
    }
    sf_af_error_clear(&err);
    cJSON_Delete(runs);
    free(path);
    free(dag_id);
    sf_af_free(af);
    return rc;
}
