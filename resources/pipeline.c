/* pipeline.c — sparkflow_pipeline: ordered PySpark stages run on apply.
 *
 * A pipeline's outputs are a function of its scripts, their arguments and
 * settings, the input data and the reference data.  The plan hashes all of
 * them into `fingerprint` (engines/run_fingerprint.c); a pipeline runs again
 * exactly when the fingerprint or `triggers` change, and the plan shows the
 * new fingerprint so the user sees why.  Apply runs it through the run
 * transaction (engines/run.h), which publishes atomically only when every
 * stage succeeded, so the last good outputs survive any failure.  This file
 * is the schema, the plan rules and the CRUD callbacks.
 */
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "base/time.h"
#include "catalogs/catalog.h"
#include "engines/engine.h"
#include "engines/env.h"
#include "engines/run.h"
#include "lakes/lake.h"
#include "orchestrators/pipeline.h"
#include "provider/resource.h"
#include "provider/timeouts.h"
#include "resources/pipeline_catalog.h"
#include "resources/planned_fp.h"
#include "resources/resources.h"

static const sf_attr_def stage_attrs[] = {
    {"name", "string", SF_ATTR_REQUIRED,
     "The stage's name, unique in the pipeline (e.g. `validate`): 1 to 64 letters, digits, `-`, `_` or `.`; "
     "it names the stage's log and metrics files.",
     NULL, sf_validate_name},
    {"script", "string", SF_ATTR_REQUIRED,
     "Path of the PySpark script. Its content is part of the fingerprint: editing it re-runs the pipeline.", NULL,
     sf_validate_not_empty},
    {"args", "[\"list\",\"string\"]", SF_ATTR_OPTIONAL,
     "Extra arguments after the standard ones (`--input`, `--work`, `--reference`, `--metrics`)."},
    {"spark_conf", "[\"map\",\"string\"]", SF_ATTR_OPTIONAL, "Spark settings for this stage (`--conf key=value`)."},
    {NULL},
};

const sf_block_def sf_pipeline_stage_block = {
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
    {"duration_ms", "number", SF_ATTR_COMPUTED,
     "`finished_at` − `started_at` in milliseconds; null if it did not run."},
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

static void validate_catalog_database(const sf_value *v, const char *path, sf_diags *diags)
{
    sf_catalog_check_name(sf_value_get_str(v), path, diags);
}

static void validate_workgroup(const sf_value *v, const char *path, sf_diags *diags)
{
    sf_catalog_check_workgroup(sf_value_get_str(v), path, diags);
}

static void validate_cutoff(const sf_value *v, const char *path, sf_diags *diags)
{
    int64_t n = 0;
    if (sf_value_get_int(v, &n) != 0) n = -1;
    sf_catalog_check_cutoff(n, path, diags);
}

static const sf_attr_def catalog_attrs[] = {
    {"enabled", "bool", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "Keep a catalog of the published tables. On by default; `false` publishes files only (and removes a "
     "catalog made before).",
     "true"},
    {"database", "string", SF_ATTR_OPTIONAL,
     "The catalog database: on a `file://` lake the DuckDB file `<lake>/<database>.duckdb`, on `s3://` the Glue "
     "database. 1 to 64 lower-case letters, digits and `_`, starting with a letter. Default: the pipeline's "
     "`name` in that form (`household-finances` → `household_finances`).",
     NULL, validate_catalog_database},
    {"workgroup", "string", SF_ATTR_OPTIONAL,
     "`s3://` lakes: the Athena workgroup made for the pipeline (1 to 128 of letters, digits, `.`, `_`, `-`). "
     "Default: `sparkflow-<database>`.",
     NULL, validate_workgroup},
    {"bytes_scanned_cutoff", "number", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "`s3://` lakes: Athena cancels a query of the workgroup that would scan more than this many bytes (a cost "
     "guard; at least 10485760, Athena's minimum). `0` turns the cutoff off. Default 10 GiB.",
     "10737418240", validate_cutoff},
    {NULL},
};

static const sf_block_def catalog_block = {
    .description = "Where the published tables are queried: a DuckDB database in a `file://` lake, a Glue "
                   "database and an Athena workgroup for an `s3://` lake. Without this block the defaults "
                   "apply (a catalog named after the pipeline).",
    .attrs = catalog_attrs,
};

static const sf_attr_def pipeline_attrs[] = {
    {"id", "string", SF_ATTR_COMPUTED | SF_ATTR_STABLE,
     "The pipeline's id (its name). Its identity is `name`, `lake` and `output`: see Import."},
    {"name", "string", SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW,
     "The pipeline's name: 1 to 64 letters, digits, `-`, `_` or `.`. Changing it replaces the pipeline.", NULL,
     sf_validate_name},
    {"cluster_id", "string", SF_ATTR_OPTIONAL,
     "The `sparkflow_cluster` to run on, kept between runs. Either this or a `run_cluster` block. Moving to another "
     "cluster does not re-run the pipeline."},
    {"lake", "string", SF_ATTR_REQUIRED,
     "Root URI of the data lake: `file:///abs/path` (a directory on this machine) or `s3://bucket[/prefix]` "
     "(the provider's AWS settings; what an `emr` cluster reads)."},
    {"input", "string", SF_ATTR_REQUIRED,
     "The raw zone, relative to `lake`: every stage is given it as `--input`; validate reads it. "
     "Its files are part of the fingerprint."},
    {"output", "string", SF_ATTR_REQUIRED,
     "Where the run's tables are published, relative to `lake`; replaced atomically by each successful run. One "
     "pipeline per output: a plan or run that would publish over another pipeline's run is refused."},
    {"reference", "string", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "Reference data (accounts, categorisation rules, budgets), relative to `lake`; given to every "
     "stage as `--reference`. It must exist when planning: its files are part of the fingerprint.",
     "\"reference\""},
    {"airflow",
     "[\"object\",{\"id\":\"string\",\"url\":\"string\",\"user\":\"string\",\"password\":\"string\","
     "\"details\":[\"map\",\"string\"]}]",
     SF_ATTR_OPTIONAL | SF_ATTR_SENSITIVE,
     "Run through this Airflow: `airflow = sparkflow_airflow.main`. Apply then installs the pipeline's DAG there "
     "and runs it as a DAG run (same stages, same cluster, same atomic publication as a direct run); a file "
     "landing in `input` also starts a run by itself, and the next refresh records what it published. Sensitive: "
     "it carries the Airflow's password. Changing it moves the DAG without re-running the pipeline."},
    {"triggers", "[\"map\",\"string\"]", SF_ATTR_OPTIONAL,
     "Arbitrary values; any change re-runs the pipeline even when its inputs did not change."},
    {"delete_outputs_on_destroy", "bool", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "Delete the published outputs on destroy. Off by default: destroying a pipeline keeps its data.", "false"},
    {"fingerprint", "string", SF_ATTR_COMPUTED,
     "sha256 of what determines the outputs: scripts' content, arguments, Spark settings, locations and "
     "the input and reference files (names, sizes, modification times)."},
    {"run_id", "string", SF_ATTR_COMPUTED, "The run whose outputs are published."},
    {"status", "string", SF_ATTR_COMPUTED, "`succeeded`, or `failed` when the last attempt failed."},
    {"output_uri", "string", SF_ATTR_COMPUTED, "Full URI of the published outputs."},
    {"stages", NULL, SF_ATTR_COMPUTED,
     "Per stage of the last attempt: status, engine step id, start and end time, duration, the metrics the "
     "job wrote, and where its log is. After a failed attempt these describe the failure while `run_id` "
     "stays on the run whose outputs are published.",
     NULL, NULL, &stage_results},
    {"metrics", "[\"map\",\"number\"]", SF_ATTR_COMPUTED,
     "The stages' metrics merged into one map (rows read, valid, rejected, written...)."},
    {"launched_cluster",
     "[\"object\",{\"id\":\"string\",\"state\":\"string\",\"requested_at\":\"string\",\"ready_at\":"
     "\"string\",\"last_step_at\":\"string\",\"gone_at\":\"string\"}]",
     SF_ATTR_COMPUTED,
     "With `run_cluster`: the cluster the last attempt launched — its id (`j-…` on EMR, `local-…` locally), its "
     "final state (`TERMINATED`, `stopped`) and when it was asked for, could take work, ran its last step and was "
     "gone (RFC 3339, UTC; null when not reached). Null for a pipeline on `cluster_id`."},
    {"catalog_database", "string", SF_ATTR_COMPUTED,
     "Where to query the published tables: the DuckDB file (`file://` lakes; `duckdb <file> -c \"select ...\"`) "
     "or the Glue database (`s3://` lakes; query it from Athena in `catalog_workgroup`). Null when the catalog "
     "is off."},
    {"catalog_workgroup", "string", SF_ATTR_COMPUTED,
     "The Athena workgroup to query in (`s3://` lakes), null otherwise."},
    {"tables", "[\"map\",\"string\"]", SF_ATTR_COMPUTED,
     "The catalog's tables: name → the URI its data is read from. Null when the catalog is off, or when the "
     "last catalog update failed (the next apply repairs it)."},
    {NULL},
};

static const sf_attr_def run_cluster_attrs[] = {{NULL}};

static const sf_nested_def run_cluster_blocks[] = {
    SF_ENGINE_BLOCKS,
    {NULL},
};

const sf_block_def sf_pipeline_run_cluster_block = {
    .description = "A cluster launched for each run and gone when the run ends, instead of `cluster_id`: nothing "
                   "runs (or is billed) between runs. `emr {}` launches an EMR cluster with the run's stages as "
                   "its steps; EMR terminates it after the last step (or a failed one), and the run is reported "
                   "only once the cluster is TERMINATED. `local {}` (or an empty block) starts a Spark standalone "
                   "cluster on this machine and stops it after the run. The engine blocks are those of "
                   "`sparkflow_cluster`. Changing the block does not re-run the pipeline.",
    .attrs = run_cluster_attrs,
    .blocks = run_cluster_blocks,
};

static const sf_nested_def pipeline_blocks[] = {
    {"stage", SF_NEST_LIST, &sf_pipeline_stage_block, 1, 0, 0, "The stages, in order."},
    {"run_cluster", SF_NEST_SINGLE, &sf_pipeline_run_cluster_block, 0, 1, 0,
     "A cluster launched for each run, instead of `cluster_id`."},
    {"catalog", SF_NEST_SINGLE, &catalog_block, 0, 1, 0, "Where the published tables are queried."},
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
static const char *const run_outputs[] = {"run_id", "status", "stages", "metrics", "launched_cluster", NULL};

/* ---- The pipeline as the run transaction sees it -------------------------------- */

static const char *str(const sf_value *obj, const char *key)
{
    return sf_value_get_str(sf_value_get(obj, key));
}

/* A configuration's sf_run_pipeline: strings borrowed from the value, the
 * arrays owned here. */
typedef struct pipeline_view {
    sf_run_pipeline p;
    sf_run_stage *stages;
    const char ***args;
    sf_run_conf **conf;
} pipeline_view;

static void view_build(pipeline_view *pv, const sf_value *v)
{
    const sf_value *stages = sf_value_get(v, "stage");
    size_t n = sf_value_is_null(stages) ? 0 : stages->n;
    pv->stages = calloc(n + 1, sizeof *pv->stages);
    pv->args = calloc(n + 1, sizeof *pv->args);
    pv->conf = calloc(n + 1, sizeof *pv->conf);
    if (!pv->stages || !pv->args || !pv->conf) abort();
    for (size_t i = 0; i < n; i++) {
        const sf_value *st = stages->elems[i];
        const sf_value *args = sf_value_get(st, "args"), *conf = sf_value_get(st, "spark_conf");
        size_t na = sf_value_is_null(args) ? 0 : args->n, nc = sf_value_is_null(conf) ? 0 : conf->n;
        pv->args[i] = calloc(na + 1, sizeof *pv->args[i]);
        pv->conf[i] = calloc(nc + 1, sizeof *pv->conf[i]);
        if (!pv->args[i] || !pv->conf[i]) abort();
        for (size_t k = 0; k < na; k++) pv->args[i][k] = sf_value_get_str(args->elems[k]);
        for (size_t k = 0; k < nc; k++) pv->conf[i][k] = (sf_run_conf){conf->keys[k], sf_value_get_str(conf->elems[k])};
        pv->stages[i] = (sf_run_stage){
            .name = str(st, "name"),
            .script = str(st, "script"),
            .args = pv->args[i],
            .n_args = na,
            .conf = pv->conf[i],
            .n_conf = nc,
        };
    }
    pv->p = (sf_run_pipeline){
        .name = str(v, "name"),
        .lake = str(v, "lake"),
        .input = str(v, "input"),
        .output = str(v, "output"),
        .reference = str(v, "reference"),
        .stages = pv->stages,
        .n_stages = n,
    };
}

static void view_clear(pipeline_view *pv)
{
    for (size_t i = 0; i < pv->p.n_stages; i++) {
        free(pv->args[i]);
        free(pv->conf[i]);
    }
    free(pv->stages);
    free(pv->args);
    free(pv->conf);
}

/* The fingerprint of a configuration, "sha256:<hex>"; NULL when a part is
 * not known yet (unknown config) or on error (diagnostics). */
static char *fingerprint(sf_call *call, const sf_value *v, sf_diags *diags)
{
    const char *keys[] = {"lake", "input", "output", "reference", "stage"};
    for (size_t i = 0; i < 5; i++)
        if (!sf_value_is_wholly_known(sf_value_get(v, keys[i]))) return NULL;
    pipeline_view pv;
    view_build(&pv, v);
    sf_lake_env env = sf_engine_env_lake(sf_resources_engine_env(call));
    char *fp = sf_run_fingerprint(call->ctx, &env, &pv.p, diags);
    view_clear(&pv);
    return fp;
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
                              "Stage names must be unique in a pipeline: \"%s\" is used by stage %zu and %zu.", a, k,
                              i);
                free(path);
            }
        }
    const char *lake = str(config, "lake");
    if (lake) sf_lake_for(lake, "lake", diags);
    sf_pipeline_validate_where(config, diags);
}

void sf_pipeline_validate_where(const sf_value *config, sf_diags *diags)
{
    const sf_value *id = sf_value_get(config, "cluster_id"), *launch = sf_value_get(config, "run_cluster");
    bool has_id = id && !sf_value_is_null(id), has_launch = launch && !sf_value_is_null(launch);
    if (has_id && has_launch)
        sf_diag_error(diags, "run_cluster", "Two places to run",
                      "Set either cluster_id (a cluster kept between runs) or a run_cluster block (a cluster "
                      "launched for each run), not both.");
    else if (!has_id && !has_launch)
        sf_diag_error(diags, NULL, "No cluster to run on",
                      "Set cluster_id = sparkflow_cluster.<name>.id, or add a run_cluster block: "
                      "`run_cluster { local {} }` starts a Spark cluster on this machine for each run, "
                      "`run_cluster { emr {} }` an EMR cluster that terminates after the run.");
    if (has_launch) sf_engine_choice_validate(launch, "run_cluster", diags);
    const sf_value *airflow = sf_value_get(config, "airflow");
    if (has_launch && airflow && !sf_value_is_null(airflow))
        sf_diag_error(diags, "airflow", "Airflow needs a kept cluster",
                      "A pipeline that runs through Airflow submits its stages to a cluster that Airflow can reach "
                      "between runs: set cluster_id instead of run_cluster, or leave airflow out to run directly.");
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
 * bug (planned_fp.c). */
static void compare_with_plan_phase(const sf_plan *plan, const char *fp, sf_diags *diags)
{
    const char *id = str(plan->prior, "id"), *output = str(plan->planned, "output_uri");
    const char *prior_run = str(plan->prior, "run_id");
    if (!id || !output) return;
    if (plan->prior_refreshed) {
        sf_planned_fp_write(id, output, prior_run, fp);
        return;
    }
    char *planned = sf_planned_fp_read(id, output, prior_run);
    if (planned && strcmp(planned, fp) != 0) inputs_changed(diags, str(plan->prior, "name"), planned, fp);
    free(planned);
}

/* The engine's choices in a run_cluster block (spark_home, work_dir...)
 * that the configuration leaves out: null, "the engine's choice", since no
 * cluster outlives the run to report them. */
static void settle_run_cluster(sf_plan *plan)
{
    sf_value *launch = sf_value_get(plan->planned, "run_cluster");
    const sf_value *cfg = sf_value_get(plan->config, "run_cluster");
    if (!launch || sf_value_is_null(launch) || sf_value_is_unknown(launch) || launch->kind != SF_VAL_OBJECT) return;
    for (size_t i = 0; i < launch->n; i++) {
        sf_value *block = launch->elems[i];
        const sf_value *cblock = sf_value_get(cfg, launch->keys[i]);
        if (sf_value_is_null(block) || block->kind != SF_VAL_OBJECT) continue;
        for (size_t k = 0; k < block->n; k++) {
            const sf_value *c = sf_value_get(cblock, block->keys[k]);
            if (sf_value_is_unknown(block->elems[k]) && (!c || sf_value_is_null(c)))
                sf_value_put(block, block->keys[k], sf_value_null());
        }
    }
}

/* A run is planned on a cluster launched for it: say what it launches
 * (instance types and count), since that is what the run costs. */
static void note_launch(const sf_plan *plan, sf_diags *diags)
{
    const sf_value *launch = sf_value_get(plan->planned, "run_cluster");
    if (!launch || sf_value_is_null(launch)) return;
    const sf_engine *engine = sf_engine_choice(launch);
    sf_value *spec = sf_engine_choice_spec(engine, launch);
    char *what = engine->spec_summary(spec);
    const char *name = str(plan->planned, "name");
    sf_diag_warning(diags, "run_cluster", "A cluster is launched for this run",
                    "Pipeline \"%s\" launches %s for this run. The cluster exists only while the run's stages run "
                    "and is gone before the apply finishes: nothing runs, or is billed, between runs.",
                    name ? name : "(known after apply)", what);
    free(what);
    sf_value_free(spec);
}

/* One output, one pipeline (lakes/record.c): a plan for a pipeline whose
 * output holds a run another pipeline published is an error, before any
 * run is spent.  What the lake cannot tell now (unreachable, unreadable)
 * is not this check's to report: refresh and apply say it. */
static void check_output_owner(sf_call *call, const sf_plan *plan, sf_diags *diags)
{
    const char *lake_uri = str(plan->planned, "lake"), *uri = str(plan->planned, "output_uri");
    const char *name = str(plan->planned, "name");
    if (!lake_uri || !uri || !name) return;
    sf_diags scratch;
    sf_diags_init(&scratch);
    const sf_lake *lake = sf_lake_for(lake_uri, "lake", &scratch);
    sf_lake_env env = sf_engine_env_lake(sf_resources_engine_env(call));
    sf_published pub = {0};
    if (lake && lake->published(call->ctx, &env, uri, &pub, &scratch) == 0 &&
        sf_lake_owned_by_other(pub.pipeline, name))
        sf_diag_error(diags, "output", "Output published by another pipeline",
                      "Pipeline \"%s\" cannot publish to %s: pipeline \"%s\" publishes there (run %s). Two "
                      "pipelines with one output would replace each other's tables at every run, so SparkFlow "
                      "refuses before running anything: give one of them another `output`. If pipeline \"%s\" "
                      "no longer exists (renamed, or destroyed with its outputs kept), remove its outputs at %s "
                      "first; set delete_outputs_on_destroy = true on a pipeline to hand its output over when it "
                      "is destroyed.",
                      name, uri, pub.pipeline, pub.run_id, pub.pipeline, uri);
    sf_published_clear(&pub);
    sf_diags_clear(&scratch);
}

static void pipeline_modify_plan(sf_call *call, sf_plan *plan, sf_diags *diags)
{
    if (sf_value_is_null(plan->planned)) {
        const sf_value *del = sf_value_get(plan->prior, "delete_outputs_on_destroy");
        if (!del || !del->boolean)
            sf_diag_warning(diags, NULL, "Outputs are kept",
                            "Destroying pipeline \"%s\" keeps its published outputs at %s (and a catalog "
                            "file kept in the lake, such as its DuckDB database). Set "
                            "delete_outputs_on_destroy = true to remove them.",
                            str(plan->prior, "name"), str(plan->prior, "output_uri"));
        return;
    }
    const char *lake = str(plan->planned, "lake"), *output = str(plan->planned, "output");
    if (lake && output) {
        char *uri = sf_run_lake_uri(lake, output);
        sf_value_put(plan->planned, "output_uri", sf_value_string(uri));
        free(uri);
    } else {
        sf_value_put(plan->planned, "output_uri", sf_value_unknown());
    }
    settle_run_cluster(plan);
    check_output_owner(call, plan, diags);
    if (sf_plan_is_create(plan)) {
        const char *name = str(plan->planned, "name");
        sf_value_put(plan->planned, "id", name ? sf_value_string(name) : sf_value_unknown());
    }

    char *fp = fingerprint(call, plan->planned, diags);
    sf_value_put(plan->planned, "fingerprint", fp ? sf_value_string(fp) : sf_value_unknown());
    if (sf_plan_is_create(plan)) {
        free(fp);
        note_launch(plan, diags);
        sf_pipeline_catalog_plan(call, plan, true, diags);
        return;
    }
    if (fp) compare_with_plan_phase(plan, fp, diags);

    /* A run happens when its result would differ, or the last attempt failed. */
    bool rerun =
        !fp || !sf_value_equal(sf_value_get(plan->planned, "fingerprint"), sf_value_get(plan->prior, "fingerprint")) ||
        !sf_value_equal(sf_value_get(plan->planned, "triggers"), sf_value_get(plan->prior, "triggers")) ||
        !str(plan->prior, "status") || strcmp(str(plan->prior, "status"), "succeeded") != 0;
    free(fp);
    if (rerun) {
        for (size_t i = 0; run_outputs[i]; i++) sf_value_put(plan->planned, run_outputs[i], sf_value_unknown());
        note_launch(plan, diags);
    } else {
        keep_prior(plan, run_outputs);
    }
    sf_pipeline_catalog_plan(call, plan, rerun, diags);
}

/* ---- Run ---------------------------------------------------------------- */

static sf_value *str_or_null(const char *s)
{
    return s ? sf_value_string(s) : sf_value_null();
}

static sf_value *time_or_null(int64_t wall_ms)
{
    if (!wall_ms) return sf_value_null();
    char stamp[SF_TIME_RFC3339_LEN];
    sf_time_rfc3339(stamp, wall_ms);
    return sf_value_string(stamp);
}

static sf_value *stage_value(const char *name, const sf_stage_result *r)
{
    sf_value *o = sf_value_object();
    sf_value_put(o, "name", sf_value_string(name));
    sf_value_put(o, "status", sf_value_string(r->status ? r->status : "not_run"));
    sf_value_put(o, "step_id", str_or_null(r->step_id));
    sf_value_put(o, "started_at", time_or_null(r->started_at_ms));
    sf_value_put(o, "finished_at", time_or_null(r->finished_at_ms));
    sf_value_put(o, "duration_ms",
                 r->started_at_ms && r->finished_at_ms ? sf_value_int(r->finished_at_ms - r->started_at_ms)
                                                       : sf_value_null());
    sf_value_put(o, "metrics", r->metrics ? sf_value_copy(r->metrics) : sf_value_map());
    sf_value_put(o, "log", str_or_null(r->log));
    return o;
}

/* The cluster launched for the run, or null when none was. */
static sf_value *launched_value(const sf_launch_report *l)
{
    if (!l->cluster_id) return sf_value_null();
    sf_value *o = sf_value_object();
    sf_value_put(o, "id", sf_value_string(l->cluster_id));
    sf_value_put(o, "state", str_or_null(l->final_state));
    sf_value_put(o, "requested_at", time_or_null(l->requested_ms));
    sf_value_put(o, "ready_at", time_or_null(l->ready_ms));
    sf_value_put(o, "last_step_at", time_or_null(l->last_step_ms));
    sf_value_put(o, "gone_at", time_or_null(l->gone_ms));
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

/* The state after a run: the plan with this attempt's stage results; on
 * failure the published outputs are still the prior run's, so run_id,
 * metrics and fingerprint stay the prior's (the fingerprint then makes the
 * next plan retry). */
static sf_value *state_after(const sf_value *prior, const sf_value *planned, const sf_run_pipeline *p,
                             const sf_run_result *r, bool published)
{
    sf_value *state = sf_value_copy(planned);
    sf_value *stages = sf_value_list();
    for (size_t i = 0; i < r->n_stages; i++) sf_value_append(stages, stage_value(p->stages[i].name, &r->stages[i]));
    sf_value_put(state, "stages", stages);
    sf_value_put(state, "launched_cluster", launched_value(&r->launch));
    sf_value_put(state, "status", sf_value_string(published ? "succeeded" : "failed"));
    if (published) {
        sf_value_put(state, "run_id", sf_value_string(r->run_id));
        sf_value_put(state, "metrics", merged_metrics(r->stages, r->n_stages));
    } else {
        const char *keep[] = {"run_id", "metrics", "fingerprint"};
        for (size_t i = 0; i < 3; i++)
            sf_value_put(state, keep[i],
                         sf_value_is_null(prior) ? sf_value_null() : sf_value_copy(sf_value_get(prior, keep[i])));
    }
    return state;
}

/* The Airflow a pipeline runs through, from its `airflow` attribute (the
 * sparkflow_airflow's state); false when it has none. */
static bool airflow_host_of(const sf_value *v, sf_airflow_host *h)
{
    *h = (sf_airflow_host){0};
    const sf_value *a = sf_value_get(v, "airflow");
    if (!a || sf_value_is_null(a) || !sf_value_is_wholly_known(a) || !str(a, "id")) return false;
    h->id = sf_strdup(str(a, "id"));
    h->url = sf_strdup(str(a, "url"));
    h->user = sf_strdup(str(a, "user"));
    h->password = sf_strdup(str(a, "password"));
    const sf_value *details = sf_value_get(a, "details");
    if (details && !sf_value_is_null(details)) h->details = sf_value_copy(details);
    return true;
}

static const sf_orchestrator *orchestrator_of(const sf_airflow_host *h, sf_diags *diags)
{
    const sf_orchestrator *o = sf_orchestrator_for_id(h->id);
    if (!o)
        sf_diag_error(diags, "airflow", "Unknown Airflow",
                      "\"%s\" is not the id of a sparkflow_airflow: set `airflow = sparkflow_airflow.<name>`.", h->id);
    return o;
}

/* Where a configuration runs: its cluster_id, or a cluster launched from
 * its run_cluster block (*spec owned by the caller).  false with an error
 * when cluster_id is not one of ours. */
static bool where_of(const sf_value *v, sf_run_cluster *where, sf_value **spec, sf_diags *diags)
{
    *where = (sf_run_cluster){0};
    *spec = NULL;
    const sf_value *launch = sf_value_get(v, "run_cluster");
    if (launch && !sf_value_is_null(launch)) {
        where->engine = sf_engine_choice(launch);
        *spec = sf_engine_choice_spec(where->engine, launch);
        where->launch = *spec;
        return true;
    }
    const char *cluster_id = str(v, "cluster_id");
    where->id = cluster_id;
    where->engine = cluster_id ? sf_engine_for_id(cluster_id) : NULL;
    if (!where->engine)
        sf_diag_error(diags, "cluster_id", "Unknown cluster", "\"%s\" is not the id of a sparkflow_cluster.",
                      cluster_id ? cluster_id : "");
    return where->engine != NULL;
}

/* Run the pipeline once, directly or through its Airflow. */
static sf_run_status run_once(sf_call *call, const sf_value *planned, const sf_run_cluster *where,
                              const sf_run_pipeline *p, const char *fp, sf_run_result *r, sf_diags *diags)
{
    const sf_engine_env *env = sf_resources_engine_env(call);
    sf_airflow_host host;
    if (!airflow_host_of(planned, &host)) return sf_run_execute(call->ctx, env, where, p, fp, r, diags);
    sf_run_status st = SF_RUN_NOT_STARTED;
    *r = (sf_run_result){0};
    const sf_orchestrator *o = orchestrator_of(&host, diags);
    if (o) {
        sf_airflow_target t = {o, &host, where->engine, where->id};
        st = sf_airflow_pipeline_run(call->ctx, env, &t, p, fp, r, diags);
    }
    sf_airflow_host_clear(&host);
    return st;
}

/* Run the stages and publish; returns the state to record (also on failure:
 * the last good run stays recorded, with this attempt's stage results). */
static sf_value *run(sf_call *call, const sf_value *prior, const sf_value *planned, sf_diags *diags)
{
    sf_run_cluster where;
    sf_value *launch_spec = NULL;
    if (!where_of(planned, &where, &launch_spec, diags)) return NULL;
    pipeline_view pv;
    view_build(&pv, planned);
    sf_lake_env lake_env = sf_engine_env_lake(sf_resources_engine_env(call));
    sf_value *state = NULL;
    /* What the plan promised must still hold: never record a lie. */
    char *fp = sf_run_fingerprint(call->ctx, &lake_env, &pv.p, diags);
    if (fp && strcmp(fp, str(planned, "fingerprint")) != 0) {
        inputs_changed(diags, str(planned, "name"), str(planned, "fingerprint"), fp);
    } else if (fp) {
        sf_run_result r;
        sf_run_status st = run_once(call, planned, &where, &pv.p, fp, &r, diags);
        if (st != SF_RUN_NOT_STARTED) {
            state = state_after(prior, planned, &pv.p, &r, st == SF_RUN_PUBLISHED);
            sf_pipeline_catalog_settle(call, prior, state, st == SF_RUN_PUBLISHED, diags);
        }
        sf_run_result_clear(&r);
    }
    free(fp);
    view_clear(&pv);
    sf_value_free(launch_spec);
    return state;
}

/* The run-now action (pipeline_run_action.c): `config` holds the
 * attributes a pipeline runs from (name, cluster_id, lake, input, output,
 * reference, stage), wholly known.  Runs it regardless of the fingerprint
 * and publishes it with the fingerprint of its inputs now, as apply would. */
sf_run_status sf_pipeline_run_now(sf_call *call, const sf_value *config, sf_run_result *r, sf_diags *diags)
{
    *r = (sf_run_result){0};
    sf_run_cluster where;
    sf_value *launch_spec = NULL;
    if (!where_of(config, &where, &launch_spec, diags)) return SF_RUN_NOT_STARTED;
    pipeline_view pv;
    view_build(&pv, config);
    sf_run_status st = SF_RUN_NOT_STARTED;
    char *fp = fingerprint(call, config, diags);
    if (fp) st = sf_run_execute(call->ctx, sf_resources_engine_env(call), &where, &pv.p, fp, r, diags);
    free(fp);
    view_clear(&pv);
    sf_value_free(launch_spec);
    return st;
}

/* No run, but the DAG must follow the settings (another cluster, another
 * Airflow): install the spec where the pipeline now runs, and take it off
 * an Airflow it left.  0, or -1 with diagnostics. */
/* Take the pipeline's DAG off the Airflow it ran through before, when it
 * no longer runs there (`planned` NULL: destroy). */
static void leave_airflow(sf_call *call, const sf_value *prior, const sf_value *planned, sf_diags *diags)
{
    sf_airflow_host was, now;
    bool had = prior && airflow_host_of(prior, &was);
    bool has = planned && airflow_host_of(planned, &now);
    if (had && (!has || strcmp(was.id, now.id) != 0)) {
        const sf_orchestrator *o = sf_orchestrator_for_id(was.id);
        if (o)
            sf_airflow_pipeline_uninstall(call->ctx, sf_resources_engine_env(call), o, &was, str(prior, "name"), diags);
    }
    if (had) sf_airflow_host_clear(&was);
    if (has) sf_airflow_host_clear(&now);
}

static int reinstall(sf_call *call, const sf_value *prior, const sf_value *planned, sf_diags *diags)
{
    const sf_engine_env *env = sf_resources_engine_env(call);
    leave_airflow(call, prior, planned, diags);
    sf_airflow_host now;
    bool has = airflow_host_of(planned, &now);
    int rc = 0;
    sf_run_cluster where = {0};
    sf_value *launch_spec = NULL;
    bool placed = has && where_of(planned, &where, &launch_spec, diags);
    sf_value_free(launch_spec); /* validate refuses run_cluster with airflow */
    const sf_orchestrator *o = placed ? orchestrator_of(&now, diags) : NULL;
    if (has && !o) rc = -1;
    if (o) {
        pipeline_view pv;
        view_build(&pv, planned);
        sf_airflow_target t = {o, &now, where.engine, where.id};
        rc = sf_airflow_pipeline_install(call->ctx, env, &t, &pv.p, diags);
        view_clear(&pv);
    }
    sf_airflow_host_clear(&now);
    return rc;
}

/* ---- Lifecycle ---------------------------------------------------------- */

static sf_value *pipeline_create(sf_call *call, const sf_value *planned, sf_diags *diags)
{
    return run(call, NULL, planned, diags);
}

static sf_value *pipeline_update(sf_call *call, const sf_value *prior, const sf_value *planned, sf_diags *diags)
{
    if (sf_value_is_unknown(sf_value_get(planned, "run_id"))) {
        leave_airflow(call, prior, planned, diags);
        return run(call, prior, planned, diags);
    }
    /* Nothing to run: settings only. */
    if (reinstall(call, prior, planned, diags) != 0) return NULL;
    sf_value *state = sf_value_copy(planned);
    if (sf_pipeline_catalog_pending(prior, planned)) sf_pipeline_catalog_settle(call, prior, state, true, diags);
    return state;
}

/* A pipeline that runs through Airflow may have published a run Terraform
 * did not start (new input landed): record it, with its stages and
 * metrics when Airflow still knows the run, so that the next plan sees the
 * current inputs covered and proposes no run. */
static sf_value *adopt(sf_call *call, const sf_value *state, const sf_published *pub, sf_diags *diags)
{
    sf_airflow_host host;
    airflow_host_of(state, &host);
    pipeline_view pv;
    view_build(&pv, state);
    sf_run_result r;
    char *why = NULL;
    int found = sf_airflow_pipeline_find_run(call->ctx, &host, &pv.p, pub->run_id, &r, &why);
    sf_value *fresh = sf_value_copy(state);
    sf_value_put(fresh, "run_id", sf_value_string(pub->run_id));
    sf_value_put(fresh, "fingerprint", str_or_null(pub->fingerprint));
    sf_value_put(fresh, "status", sf_value_string("succeeded"));
    if (found == 0) {
        sf_value *tmp = state_after(state, fresh, &pv.p, &r, true);
        sf_value_free(fresh);
        fresh = tmp;
    } else {
        sf_value_put(fresh, "stages", sf_value_list());
        sf_value_put(fresh, "metrics", sf_value_map());
        sf_diag_warning(diags, "airflow", "Run published by Airflow",
                        "Pipeline \"%s\" now publishes run %s, which Airflow started; its stages and metrics are "
                        "not known (%s).",
                        str(state, "name"), pub->run_id, found < 0 && why ? why : "Airflow no longer lists the run");
    }
    sf_pipeline_catalog_adopted(fresh);
    sf_log(call->ctx, SF_LOG_INFO, "pipeline %s: adopted run %s, published by Airflow", str(state, "name"),
           pub->run_id);
    free(why);
    sf_run_result_clear(&r);
    view_clear(&pv);
    sf_airflow_host_clear(&host);
    return fresh;
}

/* A newer run of this configuration (the run-now action's): the state
 * follows its run id and fingerprint; stages and metrics stay the last
 * apply's (the action reported its own). */
static sf_value *adopt_same(const sf_value *state, const sf_published *pub)
{
    sf_value *fresh = sf_value_copy(state);
    sf_value_put(fresh, "run_id", sf_value_string(pub->run_id));
    sf_value_put(fresh, "fingerprint", sf_value_string(pub->fingerprint));
    sf_value_put(fresh, "status", sf_value_string("succeeded"));
    sf_pipeline_catalog_adopted(fresh);
    return fresh;
}

/* Was the newer published run made from this configuration: from the
 * inputs the state recorded, or from the inputs as they are now (data
 * landed, then the action ran)?  Then the next plan proposes no run. */
static bool newer_run_of_this(sf_call *call, const sf_value *state, const sf_published *pub)
{
    const char *run_id = str(state, "run_id"), *fp = str(state, "fingerprint");
    if (!pub->run_id || !pub->fingerprint || (run_id && strcmp(pub->run_id, run_id) <= 0)) return false;
    if (fp && strcmp(pub->fingerprint, fp) == 0) return true;
    sf_diags scratch; /* a script or the data unreadable: not this run */
    sf_diags_init(&scratch);
    char *now = fingerprint(call, state, &scratch);
    bool same = now && strcmp(now, pub->fingerprint) == 0;
    free(now);
    sf_diags_clear(&scratch);
    return same;
}

/* Outputs deleted outside Terraform: the pipeline is gone, plan re-runs it.
 * Another run published (by Airflow): adopted; a newer run of the same
 * inputs (the run-now action): followed.  A run another pipeline published
 * there: not ours, and the plan says whose (check_output_owner). */
static sf_value *pipeline_read(sf_call *call, const sf_value *state, sf_diags *diags)
{
    const char *run_id = str(state, "run_id"), *output = str(state, "output_uri");
    if (!output) return sf_value_copy(state); /* nothing published yet */
    const sf_lake *lake = sf_lake_for(str(state, "lake"), "lake", diags);
    if (!lake) return NULL;
    sf_lake_env lake_env = sf_engine_env_lake(sf_resources_engine_env(call));
    sf_published pub = {0};
    if (lake->published(call->ctx, &lake_env, output, &pub, diags) != 0) return NULL;
    sf_value *fresh = NULL;
    sf_airflow_host host;
    bool through_airflow = airflow_host_of(state, &host);
    sf_airflow_host_clear(&host);
    /* Another pipeline's run is never adopted, however alike the two are. */
    bool other = sf_lake_owned_by_other(pub.pipeline, str(state, "name"));
    if (run_id && pub.run_id && strcmp(pub.run_id, run_id) == 0) {
        fresh = sf_value_copy(state);
    } else if (!other && through_airflow && pub.run_id && (!run_id || strcmp(pub.run_id, run_id) > 0)) {
        fresh = adopt(call, state, &pub, diags); /* run ids sort by time: only a newer run */
    } else if (!other && newer_run_of_this(call, state, &pub)) {
        fresh = adopt_same(state, &pub);
    } else if (!run_id) {
        fresh = sf_value_copy(state);
    } else {
        sf_log(call->ctx, SF_LOG_INFO, "pipeline %s: published run %s is gone from %s (found %s)", str(state, "name"),
               run_id, output, pub.run_id ? pub.run_id : "nothing");
        fresh = sf_value_null();
    }
    sf_published_clear(&pub);
    return fresh;
}

static int pipeline_delete(sf_call *call, const sf_value *prior, sf_diags *diags)
{
    leave_airflow(call, prior, NULL, diags);
    const sf_value *del = sf_value_get(prior, "delete_outputs_on_destroy");
    if (sf_pipeline_catalog_remove(call, prior, del && del->boolean, diags) != 0) return -1;
    const char *output = str(prior, "output_uri");
    if (!del || !del->boolean || !output) return 0;
    const sf_lake *lake = sf_lake_for(str(prior, "lake"), "lake", diags);
    if (!lake) return -1;
    sf_lake_env lake_env = sf_engine_env_lake(sf_resources_engine_env(call));
    /* Only our own outputs: a pipeline refused at an output another one
     * publishes never removes that one's run. */
    sf_published pub = {0};
    if (lake->published(call->ctx, &lake_env, output, &pub, diags) != 0) return -1;
    bool other = sf_lake_owned_by_other(pub.pipeline, str(prior, "name"));
    if (other)
        sf_diag_warning(diags, "delete_outputs_on_destroy", "Outputs of another pipeline kept",
                        "Pipeline \"%s\" is destroyed, but the outputs at %s were published by pipeline \"%s\" (run "
                        "%s), so they are left in place.",
                        str(prior, "name"), output, pub.pipeline, pub.run_id);
    sf_published_clear(&pub);
    return other ? 0 : lake->remove(call->ctx, &lake_env, output, diags);
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
    .identity = &sf_pipeline_identity,
};
