/* pipeline.c — sparkflow_pipeline: ordered PySpark stages run on apply.
 *
 * A pipeline's outputs are a function of its scripts, their arguments and
 * settings, the input data and the reference data.  The plan hashes all of
 * them into `fingerprint`; a pipeline runs again exactly when the
 * fingerprint or `triggers` change, and the plan shows the new fingerprint so
 * the user sees why.  A run writes into a private staging area of the lake
 * and is published atomically only when every stage succeeded (engines/lake.h),
 * so the last good outputs survive any failure.
 */
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engines/engine.h"
#include "engines/lake.h"
#include "provider/resource.h"
#include "provider/str.h"
#include "provider/timeouts.h"
#include "resources/plan_record.h"
#include "resources/resources.h"

static const sf_attr_def stage_attrs[] = {
    {"name", "string", SF_ATTR_REQUIRED,
     "The stage's name, unique in the pipeline (e.g. `validate`): 1 to 64 letters, digits, `-`, `_` or `.`; "
     "it names the stage's log and metrics files.", NULL, sf_validate_name},
    {"script", "string", SF_ATTR_REQUIRED,
     "Path of the PySpark script. Its content is part of the fingerprint: editing it re-runs the pipeline.",
     NULL, sf_validate_not_empty},
    {"args", "[\"list\",\"string\"]", SF_ATTR_OPTIONAL,
     "Extra arguments after the standard ones (`--input`, `--work`, `--reference`, `--metrics`)."},
    {"spark_conf", "[\"map\",\"string\"]", SF_ATTR_OPTIONAL, "Spark settings for this stage (`--conf key=value`)."},
    {NULL},
};

static const sf_block_def stage_block = {
    .description = "One step of the pipeline; stages run in the order written, each after the previous "
                   "succeeded.",
    .attrs = stage_attrs,
};

/* What the last attempt did, per stage: read-only, so every field is
 * computed. */
static const sf_attr_def stage_result_attrs[] = {
    {"name", "string", SF_ATTR_COMPUTED, "The stage's name, as in its `stage` block."},
    {"status", "string", SF_ATTR_COMPUTED,
     "`succeeded`, `failed`, `cancelled` (stopped by Ctrl-C or a timeout) or `not_run` (an earlier stage "
     "failed)."},
    {"step_id", "string", SF_ATTR_COMPUTED,
     "The engine's id of the stage's run: the pid of its Spark driver on `local`, the EMR step id on `emr`."},
    {"started_at", "string", SF_ATTR_COMPUTED, "When the stage started (RFC 3339, UTC); null if it did not run."},
    {"finished_at", "string", SF_ATTR_COMPUTED, "When the stage ended (RFC 3339, UTC); null if it did not run."},
    {"duration_ms", "number", SF_ATTR_COMPUTED, "`finished_at` − `started_at` in milliseconds; null if it did not run."},
    {"metrics", "[\"map\",\"number\"]", SF_ATTR_COMPUTED,
     "The numbers the job wrote to its `--metrics` file (nested objects flattened with `.`); empty if it "
     "wrote none."},
    {"log", "string", SF_ATTR_COMPUTED,
     "The stage's log: on `local` the file `<work_dir>/runs/<pipeline>/<run_id>/<stage>.log`; on `emr` the "
     "step's `stderr.gz` under the cluster's `log_uri` (EMR copies it there within minutes), or null when the "
     "cluster has no `log_uri`."},
    {NULL},
};

static const sf_attr_object stage_results = {SF_NEST_LIST, stage_result_attrs};

static const sf_attr_def pipeline_attrs[] = {
    {"id", "string", SF_ATTR_COMPUTED | SF_ATTR_STABLE, "The pipeline's id (its name)."},
    {"name", "string", SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW,
     "The pipeline's name: 1 to 64 letters, digits, `-`, `_` or `.`. Changing it replaces the pipeline.",
     NULL, sf_validate_name},
    {"cluster_id", "string", SF_ATTR_REQUIRED,
     "The `sparkflow_cluster` to run on. Moving to another cluster does not re-run the pipeline."},
    {"lake", "string", SF_ATTR_REQUIRED,
     "Root URI of the data lake: `file:///abs/path` on the local engine."},
    {"input", "string", SF_ATTR_REQUIRED, "The raw zone, relative to `lake`: every stage is given it as `--input`; validate reads it. "
     "Its files are part of the fingerprint."},
    {"output", "string", SF_ATTR_REQUIRED,
     "Where the run's tables are published, relative to `lake`; replaced atomically by each successful run."},
    {"reference", "string", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "Reference data (accounts, categorisation rules, budgets), relative to `lake`; given to every "
     "stage as `--reference`. It must exist when planning: its files are part of the fingerprint.",
     "\"reference\""},
    {"triggers", "[\"map\",\"string\"]", SF_ATTR_OPTIONAL,
     "Arbitrary values; any change re-runs the pipeline even when its inputs did not change."},
    {"delete_outputs_on_destroy", "bool", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "Delete the published outputs on destroy. Off by default: destroying a pipeline keeps its data.",
     "false"},
    {"fingerprint", "string", SF_ATTR_COMPUTED,
     "sha256 of what determines the outputs: scripts' content, arguments, Spark settings, locations and "
     "the input and reference files (names, sizes, modification times)."},
    {"run_id", "string", SF_ATTR_COMPUTED, "The run whose outputs are published."},
    {"status", "string", SF_ATTR_COMPUTED, "`succeeded`, or `failed` when the last attempt failed."},
    {"output_uri", "string", SF_ATTR_COMPUTED, "Full URI of the published outputs."},
    {"stages", NULL, SF_ATTR_COMPUTED,
     "Per stage of the last attempt: status, engine step id, start and end time, duration, the metrics the "
     "job wrote, and where its log is. After a failed attempt these describe the failure while `run_id` "
     "stays on the run whose outputs are published.", NULL, NULL, &stage_results},
    {"metrics", "[\"map\",\"number\"]", SF_ATTR_COMPUTED,
     "The stages' metrics merged into one map (rows read, valid, rejected, written...)."},
    {NULL},
};

static const sf_nested_def pipeline_blocks[] = {
    {"stage", SF_NEST_LIST, &stage_block, 1, 0, 0, "The stages, in order."},
    SF_TIMEOUTS_BLOCK,
    {NULL},
};

static const sf_block_def pipeline_schema = {
    .description = "PySpark stages (validate → process → marts) that run on `terraform apply` and publish "
                   "their tables into the lake atomically.",
    .attrs = pipeline_attrs,
    .blocks = pipeline_blocks,
};

/* Attributes a run produces: unknown in a plan that runs, kept otherwise. */
static const char *const run_outputs[] = {"run_id", "status", "stages", "metrics", NULL};

/* ---- Small helpers ------------------------------------------------------ */

static const char *str(const sf_value *obj, const char *key) { return sf_value_get_str(sf_value_get(obj, key)); }


/* lake + "/" + relative part, without doubled slashes. */
static char *lake_join(const char *lake, const char *rel)
{
    size_t n = strlen(lake);
    while (n > 0 && lake[n - 1] == '/') n--;
    while (*rel == '/') rel++;
    return sf_fmt("%.*s/%s", (int)n, lake, rel);
}

static char *rfc3339(int64_t epoch_ms)
{
    time_t t = (time_t)(epoch_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return strdup(buf);
}

static char *new_run_id(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    unsigned char rnd[3];
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(rnd, 1, sizeof rnd, f) != sizeof rnd) memset(rnd, (int)ts.tv_nsec, sizeof rnd);
    if (f) fclose(f);
    return sf_fmt("%s-%02x%02x%02x", stamp, rnd[0], rnd[1], rnd[2]);
}

/* ---- Fingerprint -------------------------------------------------------- */

static void hash_str(EVP_MD_CTX *md, const char *label, const char *s)
{
    EVP_DigestUpdate(md, label, strlen(label) + 1);
    if (s) EVP_DigestUpdate(md, s, strlen(s) + 1);
    else EVP_DigestUpdate(md, "\xff", 1);
}

static int hash_file(EVP_MD_CTX *md, const char *path, const char *attr_path, sf_diags *diags)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        sf_diag_error(diags, attr_path, "Script not found",
                      "Cannot read the stage script \"%s\": %m. Paths are relative to the directory "
                      "Terraform runs in; `${path.module}/...` avoids surprises.", path);
        return -1;
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) EVP_DigestUpdate(md, buf, n);
    fclose(f);
    return 0;
}

static void hash_list(EVP_MD_CTX *md, const char *label, const sf_value *v)
{
    hash_str(md, label, NULL);
    for (size_t i = 0; v && !sf_value_is_null(v) && i < v->n; i++)
        hash_str(md, v->keys ? v->keys[i] : "", sf_value_get_str(v->elems[i]));
}

/* The fingerprint of a configuration, "sha256:<hex>"; NULL when a part is
 * not known yet (unknown config) or on error (diagnostics). */
static char *fingerprint(sf_call *call, const sf_value *v, sf_diags *diags)
{
    const char *keys[] = {"lake", "input", "output", "reference"};
    for (size_t i = 0; i < 4; i++)
        if (!sf_value_is_wholly_known(sf_value_get(v, keys[i]))) return NULL;
    const sf_value *stages = sf_value_get(v, "stage");
    if (!sf_value_is_wholly_known(stages)) return NULL;
    const char *lake_uri = str(v, "lake");
    const sf_lake *lake = sf_lake_for(lake_uri, "lake", diags);
    if (!lake) return NULL;

    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    for (size_t i = 0; i < 4; i++) hash_str(md, keys[i], str(v, keys[i]));
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < stages->n; i++) {
        const sf_value *st = stages->elems[i];
        char *path = sf_fmt("stage[%zu].script", i);
        hash_str(md, "stage", str(st, "name"));
        rc = hash_file(md, str(st, "script"), path, diags);
        hash_list(md, "args", sf_value_get(st, "args"));
        hash_list(md, "spark_conf", sf_value_get(st, "spark_conf"));
        free(path);
    }
    const char *zones[][2] = {{"input", "input"}, {"reference", "reference"}};
    for (size_t i = 0; rc == 0 && i < 2; i++) {
        char *uri = lake_join(lake_uri, str(v, zones[i][0]));
        char *fp = NULL;
        int64_t count = 0;
        sf_diags local;
        sf_diags_init(&local);
        rc = lake->fingerprint(call->ctx, resources_engine_env(call, NULL), uri, &fp, &count, &local);
        if (rc != 0 && i == 1) {
            /* The lake speaks of inputs; say which setting points here. */
            sf_diags_clear(&local);
            sf_diag_error(&local, NULL, "Reference data not found",
                          "%s cannot be read. Set `reference` (relative to `lake`) to the folder that holds "
                          "accounts.csv, rules.csv and budgets.csv.", uri);
        }
        if (rc == 0 && count == 0 && i == 0)
            sf_diag_warning(&local, NULL, "No input files",
                            "%s holds no files: the pipeline will run on empty input.", uri);
        sf_diags_move(diags, &local, zones[i][1]);
        hash_str(md, zones[i][0], fp);
        free(fp);
        free(uri);
    }
    unsigned char digest[32];
    EVP_DigestFinal_ex(md, digest, NULL);
    EVP_MD_CTX_free(md);
    if (rc != 0) return NULL;
    char hex[65];
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    return sf_fmt("sha256:%s", hex);
}

/* ---- Plan --------------------------------------------------------------- */

static void pipeline_validate(sf_call *call, const sf_value *config, sf_diags *diags)
{
    (void)call;
    const sf_value *stages = sf_value_get(config, "stage");
    if (!stages || !sf_value_is_wholly_known(stages)) return;
    for (size_t i = 0; i < stages->n; i++)
        for (size_t k = 0; k < i; k++) {
            const char *a = str(stages->elems[i], "name"), *b = str(stages->elems[k], "name");
            if (a && b && strcmp(a, b) == 0) {
                char *path = sf_fmt("stage[%zu].name", i);
                sf_diag_error(diags, path, "Duplicate stage name",
                              "Stage names must be unique in a pipeline: \"%s\" is used by stage %zu and %zu.",
                              a, k, i);
                free(path);
            }
        }
    const char *lake = str(config, "lake");
    if (lake) sf_lake_for(lake, "lake", diags);
}

static void keep_prior(sf_plan *plan, const char *const *names)
{
    for (size_t i = 0; names[i]; i++)
        sf_value_put(plan->planned, names[i], sf_value_copy(sf_value_get(plan->prior, names[i])));
}

static void inputs_changed(sf_diags *diags, const char *name, const char *planned, const char *now)
{
    sf_diag_error(diags, NULL, "Inputs changed since the plan",
                  "The scripts, settings or input data of pipeline \"%s\" changed between plan and apply "
                  "(planned %s, now %s). Nothing was run. Run `terraform plan` again to see the change.",
                  name, planned, now);
}

/* The plan phase records the fingerprint it planned; the apply phase's own
 * plan (made without a refresh) must find the inputs as they were, or
 * refuse: Terraform would otherwise reject the differing plan as a provider
 * bug (plan_record.c). */
static void compare_with_plan_phase(const sf_plan *plan, const char *fp, sf_diags *diags)
{
    const char *id = str(plan->prior, "id"), *output = str(plan->planned, "output_uri");
    const char *prior_run = str(plan->prior, "run_id");
    if (!id || !output) return;
    if (plan->prior_refreshed) {
        sf_plan_record_write(id, output, prior_run, fp);
        return;
    }
    char *planned = sf_plan_record_fingerprint(id, output, prior_run);
    if (planned && strcmp(planned, fp) != 0) inputs_changed(diags, str(plan->prior, "name"), planned, fp);
    free(planned);
}

static void pipeline_modify_plan(sf_call *call, sf_plan *plan, sf_diags *diags)
{
    if (sf_value_is_null(plan->planned)) {
        const sf_value *del = sf_value_get(plan->prior, "delete_outputs_on_destroy");
        if (!del || !del->boolean)
            sf_diag_warning(diags, NULL, "Outputs are kept",
                            "Destroying pipeline \"%s\" keeps its published outputs at %s. Set "
                            "delete_outputs_on_destroy = true to remove them.",
                            str(plan->prior, "name"), str(plan->prior, "output_uri"));
        return;
    }
    const char *lake = str(plan->planned, "lake"), *output = str(plan->planned, "output");
    if (lake && output) {
        char *uri = lake_join(lake, output);
        sf_value_put(plan->planned, "output_uri", sf_value_string(uri));
        free(uri);
    } else {
        sf_value_put(plan->planned, "output_uri", sf_value_unknown());
    }
    if (sf_plan_is_create(plan)) {
        const char *name = str(plan->planned, "name");
        sf_value_put(plan->planned, "id", name ? sf_value_string(name) : sf_value_unknown());
    }

    char *fp = fingerprint(call, plan->planned, diags);
    sf_value_put(plan->planned, "fingerprint", fp ? sf_value_string(fp) : sf_value_unknown());
    if (sf_plan_is_create(plan)) { free(fp); return; }
    if (fp) compare_with_plan_phase(plan, fp, diags);

    /* A run happens when its result would differ, or the last attempt failed. */
    bool rerun = !fp || !sf_value_equal(sf_value_get(plan->planned, "fingerprint"),
                                        sf_value_get(plan->prior, "fingerprint")) ||
                 !sf_value_equal(sf_value_get(plan->planned, "triggers"), sf_value_get(plan->prior, "triggers")) ||
                 !str(plan->prior, "status") || strcmp(str(plan->prior, "status"), "succeeded") != 0;
    free(fp);
    if (rerun) {
        for (size_t i = 0; run_outputs[i]; i++) sf_value_put(plan->planned, run_outputs[i], sf_value_unknown());
    } else {
        keep_prior(plan, run_outputs);
    }
}

/* ---- Run ---------------------------------------------------------------- */

/* Borrowed C views of the stage blocks, for the engine. */
typedef struct run_views {
    sf_stage_spec *stages;
    const char ***args;
    char ***conf;
    size_t n;
} run_views;

static void views_build(run_views *rv, const sf_value *stages)
{
    rv->n = stages->n;
    rv->stages = calloc(rv->n, sizeof *rv->stages);
    rv->args = calloc(rv->n, sizeof *rv->args);
    rv->conf = calloc(rv->n, sizeof *rv->conf);
    if (!rv->stages || !rv->args || !rv->conf) abort();
    for (size_t i = 0; i < rv->n; i++) {
        const sf_value *st = stages->elems[i];
        const sf_value *args = sf_value_get(st, "args"), *conf = sf_value_get(st, "spark_conf");
        size_t na = sf_value_is_null(args) ? 0 : args->n, nc = sf_value_is_null(conf) ? 0 : conf->n;
        rv->args[i] = calloc(na + 1, sizeof *rv->args[i]);
        rv->conf[i] = calloc(nc + 1, sizeof *rv->conf[i]);
        if (!rv->args[i] || !rv->conf[i]) abort();
        for (size_t k = 0; k < na; k++) rv->args[i][k] = sf_value_get_str(args->elems[k]);
        for (size_t k = 0; k < nc; k++) rv->conf[i][k] = sf_fmt("%s=%s", conf->keys[k], conf->elems[k]->str);
        rv->stages[i] = (sf_stage_spec){
            .name = str(st, "name"),
            .script = str(st, "script"),
            .args = rv->args[i],
            .conf = (const char *const *)rv->conf[i],
        };
    }
}

static void views_clear(run_views *rv)
{
    for (size_t i = 0; i < rv->n; i++) {
        free(rv->args[i]);
        for (size_t k = 0; rv->conf[i][k]; k++) free(rv->conf[i][k]);
        free(rv->conf[i]);
    }
    free(rv->stages);
    free(rv->args);
    free(rv->conf);
}

static sf_value *str_or_null(const char *s) { return s ? sf_value_string(s) : sf_value_null(); }

static sf_value *stage_value(const char *name, const sf_stage_result *r)
{
    sf_value *o = sf_value_object();
    sf_value_put(o, "name", sf_value_string(name));
    sf_value_put(o, "status", sf_value_string(r->status ? r->status : "not_run"));
    sf_value_put(o, "step_id", str_or_null(r->step_id));
    char *a = r->started_at_ms ? rfc3339(r->started_at_ms) : NULL;
    char *b = r->finished_at_ms ? rfc3339(r->finished_at_ms) : NULL;
    sf_value_put(o, "started_at", str_or_null(a));
    sf_value_put(o, "finished_at", str_or_null(b));
    free(a);
    free(b);
    sf_value_put(o, "duration_ms", r->started_at_ms && r->finished_at_ms
                                       ? sf_value_int(r->finished_at_ms - r->started_at_ms)
                                       : sf_value_null());
    sf_value_put(o, "metrics", r->metrics ? sf_value_copy(r->metrics) : sf_value_map());
    sf_value_put(o, "log", str_or_null(r->log));
    return o;
}

/* Every stage's metrics in one map; per-stage durations stay in `stages`. */
static sf_value *merged_metrics(const sf_stage_result *results, size_t n)
{
    sf_value *m = sf_value_map();
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; results[i].metrics && k < results[i].metrics->n; k++)
            if (strcmp(results[i].metrics->keys[k], "duration_ms") != 0)
                sf_value_put(m, results[i].metrics->keys[k], sf_value_copy(results[i].metrics->elems[k]));
    return m;
}

static void report_failure(sf_diags *diags, const sf_value *planned, const sf_stage_spec *stage, size_t index,
                           const sf_stage_result *r)
{
    char *path = sf_fmt("stage[%zu]", index);
    sf_diag_error(diags, path, "Pipeline stage failed",
                  "Stage \"%s\" of pipeline \"%s\" %s: %s.\n\nLast lines of its log (%s):\n%s\n\n"
                  "The previously published outputs are unchanged. Fix the cause and run "
                  "`terraform apply` again to retry.",
                  stage->name, str(planned, "name"),
                  r->status && strcmp(r->status, "cancelled") == 0 ? "was stopped" : "failed",
                  r->reason ? r->reason : "no reason given", r->log ? r->log : "no log",
                  r->log_tail ? r->log_tail : "(empty)");
    free(path);
}

/* Run the stages and publish; returns the state to record (also on failure:
 * the last good run stays recorded, with this attempt's stage results). */
static sf_value *run(sf_call *call, const sf_value *prior, const sf_value *planned, sf_diags *diags)
{
    const char *cluster_id = str(planned, "cluster_id");
    const sf_engine *engine = cluster_id ? sf_engine_for_id(cluster_id) : NULL;
    if (!engine) {
        sf_diag_error(diags, "cluster_id", "Unknown cluster",
                      "\"%s\" is not the id of a sparkflow_cluster.", cluster_id ? cluster_id : "");
        return NULL;
    }
    const sf_engine_env *env = resources_engine_env(call, engine);
    const sf_lake *lake = sf_lake_for(str(planned, "lake"), "lake", diags);
    if (!lake) return NULL;

    /* What the plan promised must still hold: never record a lie. */
    char *fp = fingerprint(call, planned, diags);
    if (!fp) return NULL;
    if (strcmp(fp, str(planned, "fingerprint")) != 0) {
        inputs_changed(diags, str(planned, "name"), str(planned, "fingerprint"), fp);
        free(fp);
        return NULL;
    }

    char *input = lake_join(str(planned, "lake"), str(planned, "input"));
    char *reference = lake_join(str(planned, "lake"), str(planned, "reference"));
    const char *output = str(planned, "output_uri");
    char *run_id = new_run_id(), *work = NULL;
    run_views rv = {0};
    views_build(&rv, sf_value_get(planned, "stage"));
    sf_stage_result *results = calloc(rv.n, sizeof *results);
    if (!results) abort();
    sf_value *state = NULL;

    if (lake->stage(call->ctx, env, output, run_id, &work, diags) == 0) {
        sf_run_spec spec = {
            .pipeline = str(planned, "name"), .run_id = run_id, .input_uri = input, .work_uri = work,
            .reference_uri = reference, .stages = rv.stages, .n_stages = rv.n,
        };
        sf_log(call->ctx, SF_LOG_INFO, "pipeline %s: run %s, %zu stages on %s", spec.pipeline, run_id, rv.n,
               cluster_id);
        sf_engine_status st = engine->pipeline_run(call->ctx, env, cluster_id, &spec, results, diags);
        bool ok = st == SF_ENGINE_OK &&
                  lake->publish(call->ctx, env, output, work, run_id, fp, diags) == 0;
        if (!ok) {
            for (size_t i = 0; i < rv.n; i++)
                if (results[i].status && strcmp(results[i].status, "succeeded") != 0 &&
                    strcmp(results[i].status, "not_run") != 0)
                    report_failure(diags, planned, &rv.stages[i], i, &results[i]);
            if (!sf_diags_has_error(diags))
                sf_diag_error(diags, NULL, "Pipeline run failed", "Run %s of pipeline \"%s\" did not complete (%s).",
                              run_id, spec.pipeline, sf_ctx_reason(call->ctx) ? sf_ctx_reason(call->ctx) : "see above");
            lake->discard(call->ctx, env, work, diags);
        }
        state = sf_value_copy(planned);
        sf_value *stages = sf_value_list();
        for (size_t i = 0; i < rv.n; i++) sf_value_append(stages, stage_value(rv.stages[i].name, &results[i]));
        sf_value_put(state, "stages", stages);
        sf_value_put(state, "status", sf_value_string(ok ? "succeeded" : "failed"));
        if (ok) {
            sf_value_put(state, "run_id", sf_value_string(run_id));
            sf_value_put(state, "metrics", merged_metrics(results, rv.n));
        } else {
            /* The published outputs are still the prior run's: say so, and
             * keep a fingerprint that makes the next plan retry. */
            const char *keep[] = {"run_id", "metrics", "fingerprint"};
            for (size_t i = 0; i < 3; i++)
                sf_value_put(state, keep[i], sf_value_is_null(prior) ? sf_value_null()
                                                                     : sf_value_copy(sf_value_get(prior, keep[i])));
        }
    }
    for (size_t i = 0; i < rv.n; i++) sf_stage_result_clear(&results[i]);
    free(results);
    views_clear(&rv);
    free(work);
    free(run_id);
    free(input);
    free(reference);
    free(fp);
    return state;
}

/* ---- Lifecycle ---------------------------------------------------------- */

static sf_value *pipeline_create(sf_call *call, const sf_value *planned, sf_diags *diags)
{
    return run(call, NULL, planned, diags);
}

static sf_value *pipeline_update(sf_call *call, const sf_value *prior, const sf_value *planned, sf_diags *diags)
{
    if (sf_value_is_unknown(sf_value_get(planned, "run_id"))) return run(call, prior, planned, diags);
    return sf_value_copy(planned); /* nothing to run: settings only */
}

/* Outputs deleted outside Terraform: the pipeline is gone, plan re-runs it. */
static sf_value *pipeline_read(sf_call *call, const sf_value *state, sf_diags *diags)
{
    const char *run_id = str(state, "run_id"), *output = str(state, "output_uri");
    if (!run_id || !output) return sf_value_copy(state); /* nothing published yet */
    const sf_lake *lake = sf_lake_for(str(state, "lake"), "lake", diags);
    if (!lake) return NULL;
    sf_published pub = {0};
    if (lake->published(call->ctx, resources_engine_env(call, NULL), output, &pub, diags) != 0) return NULL;
    bool present = pub.run_id && strcmp(pub.run_id, run_id) == 0;
    if (!present)
        sf_log(call->ctx, SF_LOG_INFO, "pipeline %s: published run %s is gone from %s (found %s)",
               str(state, "name"), run_id, output, pub.run_id ? pub.run_id : "nothing");
    sf_published_clear(&pub);
    return present ? sf_value_copy(state) : sf_value_null();
}

static int pipeline_delete(sf_call *call, const sf_value *prior, sf_diags *diags)
{
    const sf_value *del = sf_value_get(prior, "delete_outputs_on_destroy");
    const char *output = str(prior, "output_uri");
    if (!del || !del->boolean || !output) return 0;
    const sf_lake *lake = sf_lake_for(str(prior, "lake"), "lake", diags);
    return lake ? lake->remove(call->ctx, resources_engine_env(call, NULL), output, diags) : -1;
}

const sf_resource_type sf_resource_pipeline = {
    .name = "sparkflow_pipeline",
    .schema = &pipeline_schema,
    .schema_version = 0,
    .timeouts = {.create = 60 * 60000, .update = 60 * 60000, .delete = 10 * 60000, .read = 2 * 60000},
    .validate = pipeline_validate,
    .modify_plan = pipeline_modify_plan,
    .create = pipeline_create,
    .read = pipeline_read,
    .update = pipeline_update,
    .delete = pipeline_delete,
};
