/* pipeline_run_action.c — action "sparkflow_pipeline_run": run a pipeline
 * now, regardless of its fingerprint (`terraform apply
 * -invoke=action.sparkflow_pipeline_run.<name>`: a nightly schedule, or
 * after data landed outside Terraform's view).
 *
 * An action reads no state, so its config carries what the pipeline runs
 * from, the same attributes and `stage` blocks as sparkflow_pipeline (the
 * user writes both from the same locals).  The run is the pipeline's run
 * transaction (engines/run.h): staged, run, published atomically with the
 * fingerprint of its inputs.  A sparkflow_pipeline on the same lake and
 * output then follows the newer run on its next refresh when the
 * fingerprints agree (pipeline.c), so the next plan proposes nothing.
 * Progress: the run starting, "still running" with the elapsed time, each
 * stage's result with its metrics (the engine reports them at the end of
 * the run), the published run id.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/str.h"
#include "base/time.h"
#include "resources/resources.h"

static const sf_attr_def run_attrs[] = {
    {"name", "string", SF_ATTR_REQUIRED, "The pipeline's name (as in its `sparkflow_pipeline`).", NULL,
     sf_validate_name},
    {"cluster_id", "string", SF_ATTR_OPTIONAL,
     "The `sparkflow_cluster` to run on (`sparkflow_cluster.<name>.id`); or a `run_cluster` block, as in the "
     "pipeline."},
    {"lake", "string", SF_ATTR_REQUIRED, "Root URI of the data lake, as in the pipeline."},
    {"input", "string", SF_ATTR_REQUIRED, "The raw zone, relative to `lake`, as in the pipeline."},
    {"output", "string", SF_ATTR_REQUIRED,
     "Where the run's tables are published, relative to `lake`; replaced atomically."},
    {"reference", "string", SF_ATTR_OPTIONAL, "Reference data relative to `lake`; default `reference`."},
    {"progress_interval", "number", SF_ATTR_OPTIONAL,
     "Seconds between the \"still running\" progress lines while the stages run; default 30.", NULL,
     sf_validate_positive_int},
    {NULL},
};

static const sf_nested_def run_blocks[] = {
    {"stage", SF_NEST_LIST, &sf_pipeline_stage_block, 1, 0, 0, "The stages, in order (as in the pipeline)."},
    {"run_cluster", SF_NEST_SINGLE, &sf_pipeline_run_cluster_block, 0, 1, 0,
     "A cluster launched for this run and gone after it, instead of `cluster_id` (as in the pipeline)."},
    {NULL},
};

static const sf_block_def run_schema = {
    .description = "Runs a pipeline now, whatever its fingerprint says, and publishes its outputs atomically. The "
                   "`sparkflow_pipeline` with the same lake and output takes the new run on its next refresh.",
    .attrs = run_attrs,
    .blocks = run_blocks,
};

/* "rows_read=10 rows_written=8" from a stage's metrics (malloc'd). */
static char *metrics_line(const sf_value *metrics)
{
    sf_buf b = {0};
    for (size_t i = 0; metrics && !sf_value_is_null(metrics) && i < metrics->n; i++) {
        double d = 0;
        sf_value_get_double(metrics->elems[i], &d);
        sf_buf_printf(&b, "%s%s=%g", i ? " " : "", metrics->keys[i], d);
    }
    return sf_buf_take(&b);
}

static void report_stages(sf_action_progress *progress, const sf_value *config, const sf_run_result *r)
{
    const sf_value *stages = sf_value_get(config, "stage");
    for (size_t i = 0; i < r->n_stages && i < stages->n; i++) {
        const sf_stage_result *s = &r->stages[i];
        const char *name = sf_value_get_str(sf_value_get(stages->elems[i], "name"));
        if (!s->status || strcmp(s->status, "not_run") == 0) continue;
        char *m = metrics_line(s->metrics);
        sf_action_progress_send(progress, "stage %s %s in %.1f s%s%s", name, s->status,
                                (s->finished_at_ms - s->started_at_ms) / 1000.0, *m ? ": " : "", m);
        free(m);
    }
}

/* While the run goes on: "still running" every `interval_s` seconds, from
 * a thread of its own (progress sends are serialized by the runtime). */
typedef struct ticker {
    sf_action_progress *progress;
    const char *name;
    int64_t interval_s, started_ms;
    bool done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
} ticker;

static void *tick(void *arg)
{
    ticker *t = arg;
    pthread_mutex_lock(&t->mu);
    while (!t->done) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += t->interval_s;
        while (!t->done && pthread_cond_timedwait(&t->cv, &t->mu, &until) == 0) {}
        if (t->done) break;
        int64_t s = (sf_time_mono_ms() - t->started_ms) / 1000;
        pthread_mutex_unlock(&t->mu);
        int rc = sf_action_progress_send(t->progress, "pipeline %s: still running, %lldm%02llds elapsed", t->name,
                                         (long long)(s / 60), (long long)(s % 60));
        pthread_mutex_lock(&t->mu);
        if (rc != 0) break;
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

static void ticker_start(ticker *t, sf_action_progress *progress, const char *name, int64_t interval_s)
{
    *t = (ticker){.progress = progress, .name = name, .interval_s = interval_s, .started_ms = sf_time_mono_ms()};
    pthread_mutex_init(&t->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&t->thread, NULL, tick, t) != 0) abort();
}

static void ticker_stop(ticker *t)
{
    pthread_mutex_lock(&t->mu);
    t->done = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
}

static void run_invoke(sf_call *call, const sf_value *config, sf_action_progress *progress, sf_diags *diags)
{
    sf_value *c = sf_value_copy(config);
    if (sf_value_is_null(sf_value_get(c, "reference"))) sf_value_put(c, "reference", sf_value_string("reference"));
    const char *name = sf_value_get_str(sf_value_get(c, "name"));
    const char *cluster_id = sf_value_get_str(sf_value_get(c, "cluster_id"));
    if (cluster_id && !sf_cluster_running(call, cluster_id, "cluster_id", diags)) {
        sf_value_free(c);
        return;
    }
    size_t n = sf_value_get(c, "stage")->n;
    if (cluster_id)
        sf_action_progress_send(progress, "pipeline %s: run started on cluster %s (%zu stage%s)", name, cluster_id, n,
                                n == 1 ? "" : "s");
    else
        sf_action_progress_send(progress, "pipeline %s: run started on a cluster launched for it (%zu stage%s)", name,
                                n, n == 1 ? "" : "s");
    int64_t interval = 30;
    const sf_value *iv = sf_value_get(c, "progress_interval");
    if (!sf_value_is_null(iv)) sf_value_get_int(iv, &interval);
    ticker t;
    ticker_start(&t, progress, name, interval);
    sf_run_result r;
    sf_run_status st = sf_pipeline_run_now(call, c, &r, diags);
    ticker_stop(&t);
    if (st != SF_RUN_NOT_STARTED) report_stages(progress, c, &r);
    if (st == SF_RUN_PUBLISHED) {
        char *uri =
            sf_run_lake_uri(sf_value_get_str(sf_value_get(c, "lake")), sf_value_get_str(sf_value_get(c, "output")));
        sf_action_progress_send(progress, "pipeline %s: published run %s to %s", name, r.run_id, uri);
        free(uri);
    }
    if (r.launch.cluster_id)
        sf_action_progress_send(progress, "pipeline %s: cluster %s launched for the run is %s", name,
                                r.launch.cluster_id, r.launch.final_state ? r.launch.final_state : "not seen ending");
    sf_run_result_clear(&r);
    sf_value_free(c);
}

static void run_validate(sf_call *call, const sf_value *config, sf_diags *diags)
{
    (void)call;
    sf_pipeline_validate_where(config, diags);
}

const sf_action_type sf_action_pipeline_run = {
    .name = "sparkflow_pipeline_run",
    .schema = &run_schema,
    .validate = run_validate,
    .invoke = run_invoke,
};
