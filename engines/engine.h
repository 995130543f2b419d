/* engine.h — what a resource may ask of the place where Spark runs.
 *
 * A resource never knows which engine it talks to beyond this table.  Each
 * engine declares the nested block it owns in sparkflow_cluster (`local {}`,
 * `emr {}`), and implements the cluster lifecycle on it.  Engines report
 * every failure as a diagnostic (summary + detail) and watch the context so
 * that Ctrl-C and timeouts stop their waits promptly.
 */
#ifndef SF_ENGINE_H
#define SF_ENGINE_H

#include <cjson/cJSON.h>

#include "base/ctx.h"
#include "engines/list_filter.h"
#include "provider/diag.h"
#include "provider/schema.h"
#include "provider/value.h"

/* Provider-level settings an engine may need (credentials, endpoints):
 * made by sf_engine_env_new (engines/env.h).  Opaque to resources; NULL
 * when the provider was not configured. */
typedef struct sf_engine_env sf_engine_env;

/* What an engine reports about a cluster.  All strings malloc'd, owned by the
 * struct; release with sf_cluster_info_clear. */
typedef struct sf_cluster_info {
    char *id;          /* engine-unique; import takes it */
    char *name;        /* the name the cluster was created with */
    char *state;       /* engine's word, e.g. "running", "WAITING" */
    char *master_url;  /* what spark-submit --master takes */
    char *web_ui_url;  /* the master's web UI */
    char *created_at;  /* RFC 3339, UTC */
    sf_value *spec;    /* the engine block as it really is (for import and
                          drift); an object of `spec`'s type, may be NULL */
    sf_value *details; /* map of string: engine-specific facts; may be NULL */
} sf_cluster_info;

void sf_cluster_info_clear(sf_cluster_info *info);

/* One stage of a pipeline run, as the engine submits it. */
typedef struct sf_stage_spec {
    const char *name;        /* "validate" */
    const char *script;      /* local path of the PySpark script */
    const char *const *args; /* user arguments, NULL-terminated */
    const char *const *conf; /* "key=value" Spark settings, NULL-terminated */
} sf_stage_spec;

/* A run: stages in order, each given the standard arguments of the job
 * contract (dags/README.md): --input <input_uri> --work <work_uri>
 * --metrics <file> then its own args.  engines/run.c makes it: an engine
 * only runs the stages; staging and publication are the run transaction's. */
typedef struct sf_run_spec {
    const char *pipeline;      /* the pipeline's name */
    const char *run_id;        /* unique per run: names logs and staging */
    const char *input_uri;     /* raw zone the first stage reads */
    const char *work_uri;      /* staging root the stages write (lake.h) */
    const char *reference_uri; /* reference data (accounts, rules, budgets) */
    const sf_stage_spec *stages;
    size_t n_stages;
} sf_run_spec;

/* What happened to one stage.  Strings malloc'd, owned by the struct. */
typedef struct sf_stage_result {
    char *status;                          /* "succeeded", "failed", "cancelled", "not_run" */
    char *step_id;                         /* engine's id: driver pid, EMR step id */
    int64_t started_at_ms, finished_at_ms; /* wall clock, ms since epoch; 0 if not run */
    sf_value *metrics;                     /* map of number from the job's metrics JSON; NULL if none */
    char *log;                             /* where the stage's log is (path or URI) */
    char *reason;                          /* failure: exit status / engine reason, else NULL */
    char *log_tail;                        /* failure: the last lines of the log, else NULL */
} sf_stage_result;

void sf_stage_result_clear(sf_stage_result *r);
/* When the last of n stage results ended (wall ms), 0 when none ran. */
int64_t sf_stage_results_last_end(const sf_stage_result *results, size_t n);

/* The metrics a job wrote (a JSON object) as a stage result's map of
 * numbers, nested objects flattened with '.'; NULL when not an object. */
sf_value *sf_stage_metrics_from_json(const cJSON *metrics);

/* A cluster launched for one run (a pipeline's `run_cluster`): what it was
 * and when, as the engine observed it.  Strings malloc'd, owned by the
 * struct; release with sf_launch_report_clear.  Times are wall ms, 0 when
 * not reached. */
typedef struct sf_launch_report {
    char *cluster_id;     /* the engine's id of the launched cluster */
    char *final_state;    /* its last state: "TERMINATED", "stopped" */
    int64_t requested_ms; /* the launch was asked for */
    int64_t ready_ms;     /* the cluster could take work (first step started) */
    int64_t last_step_ms; /* the last step ended */
    int64_t gone_ms;      /* the cluster was gone: nothing billed after */
} sf_launch_report;

void sf_launch_report_clear(sf_launch_report *l);

/* A pipeline as the run transaction describes it (engines/run.h). */
typedef struct sf_run_pipeline sf_run_pipeline;

/* One cluster a listing found: `info` as cluster_read would report it (for
 * an import of its id), `summary` what it costs in a few words ("WAITING,
 * up 3h12m, 3 × m5.xlarge", "running, 2 workers").  Returns false to stop. */
typedef bool (*sf_cluster_found_fn)(void *arg, const sf_cluster_info *info, const char *summary);

typedef enum {
    SF_ENGINE_OK = 0,
    SF_ENGINE_GONE = 1,   /* read: the cluster no longer exists (drift) */
    SF_ENGINE_ERROR = -1, /* diagnostics say why */
} sf_engine_status;

typedef struct sf_engine {
    const char *name;         /* the block name: "local", "emr" */
    const char *id_prefix;    /* every cluster id it makes starts so:
                                 "local-", "j-"; import routes by it */
    const sf_block_def *spec; /* that block's schema */
    /* Spec attributes that can change in place (NULL-terminated).  Any other
     * change to the block replaces the cluster. */
    const char *const *updatable;

    /* Start a cluster named `name` from `spec` and wait until it can take
     * work.  On error nothing may be left running. */
    sf_engine_status (*cluster_create)(sf_ctx *ctx, const sf_engine_env *env, const char *name, const sf_value *spec,
                                       sf_cluster_info *out, sf_diags *diags);
    /* Read, update and delete get `recorded`: what Terraform's state holds
     * about the cluster (id, name, created_at, spec, details; right after an
     * import only the id).  An engine whose own records
     * may be out of reach (the local engine's live under HOME) finds the
     * cluster from it; it is read-only. */

    /* Look at a cluster: OK with `out` filled, GONE when it no longer runs
     * (or is broken beyond use), ERROR when it cannot tell. */
    sf_engine_status (*cluster_read)(sf_ctx *ctx, const sf_engine_env *env, const char *id,
                                     const sf_cluster_info *recorded, sf_cluster_info *out, sf_diags *diags);
    /* Apply an in-place change (only `updatable` attributes differ). */
    sf_engine_status (*cluster_update)(sf_ctx *ctx, const sf_engine_env *env, const char *id,
                                       const sf_cluster_info *recorded, const sf_value *old_spec,
                                       const sf_value *new_spec, sf_cluster_info *out, sf_diags *diags);
    /* Stop everything and wait until it is gone.  A cluster already gone is
     * success. */
    sf_engine_status (*cluster_delete)(sf_ctx *ctx, const sf_engine_env *env, const char *id,
                                       const sf_cluster_info *recorded, sf_diags *diags);

    /* Run the stages of `run` in order on cluster `id` and wait.  Fills one
     * result per stage (n_stages of them); stops at the first failure (the
     * rest are "not_run").  Returns OK only when every stage succeeded; on
     * cancel or timeout it stops the running stage before returning. */
    sf_engine_status (*pipeline_run)(sf_ctx *ctx, const sf_engine_env *env, const char *id, const sf_run_spec *run,
                                     sf_stage_result *results, sf_diags *diags);

    /* What a cluster of `spec` is made of, in a few words for a plan
     * ("1 × m5.xlarge primary + 2 × m5.xlarge core, emr-7.5.0"), malloc'd. */
    char *(*spec_summary)(const sf_value *spec);

    /* Launch a cluster named `name` from `spec` for this run alone, run the
     * stages on it as pipeline_run does, and return only once the cluster is
     * gone (billed idle time 0): also after a failed stage, a cancel or a
     * timeout.  Fills `launch` whenever a launch was attempted. */
    sf_engine_status (*pipeline_run_launched)(sf_ctx *ctx, const sf_engine_env *env, const char *name,
                                              const sf_value *spec, const sf_run_spec *run, sf_stage_result *results,
                                              sf_launch_report *launch, sf_diags *diags);

    /* Every cluster of this engine the provider made that `filter` keeps,
     * found without any state (the orphan finder), each handed to `found`
     * until it returns false.  Read-only: nothing is stopped or cleaned up.
     * OK, or ERROR with diagnostics (clusters found before stay found).
     * NULL: the engine cannot list. */
    sf_engine_status (*cluster_list)(sf_ctx *ctx, const sf_engine_env *env, const sf_list_filter *filter,
                                     sf_cluster_found_fn found, void *arg, sf_diags *diags);

    /* What Airflow needs to submit the stages of `p` to cluster `id` itself
     * (a pipeline that runs through Airflow, orchestrators/run.c): fill
     * `target`, the spec's section named after the engine
     * (dags/airflow/README.md), and where the code must live elsewhere
     * (EMR: uploaded to the lake) set "script" and "py_files" in `stages`
     * (the spec's stage objects, in pipeline order).  ERROR when the
     * cluster cannot take work. */
    sf_engine_status (*airflow_target)(sf_ctx *ctx, const sf_engine_env *env, const char *id, const sf_run_pipeline *p,
                                       cJSON *target, cJSON *stages, sf_diags *diags);
} sf_engine;

/* Each engine's block in sparkflow_cluster, for the resource's schema
 * table.  Adding an engine takes: its folder under engines/ with an
 * sf_engine table and its spec block, its block's line here, its line in
 * sf_engines[] (engine.c), and, when it needs provider settings, their
 * reading in sf_engine_env_new (engines/env.h). */
extern const sf_block_def sf_local_spec_block;
extern const sf_block_def sf_emr_spec_block;
/* Not formatted: clang-format 14 puts each item of a braced initialiser in a
 * macro on a line of its own. */
// clang-format off
#define SF_ENGINE_BLOCKS                                                        \
    {"local", SF_NEST_SINGLE, &sf_local_spec_block, 0, 0, 0,                     \
     "Run Spark on this machine: a Spark standalone master and workers started " \
     "from the Spark that the `pyspark` package ships. The default engine."},    \
    {"emr", SF_NEST_SINGLE, &sf_emr_spec_block, 0, 0, 0,                          \
     "Run Spark on an Amazon EMR cluster, with the provider's AWS settings. "    \
     "Pipelines on it need an s3:// lake."}
// clang-format on

/* The engines compiled in, NULL-terminated. */
extern const sf_engine *const sf_engines[];
const sf_engine *sf_engine_by_name(const char *name);
/* The engine that made a cluster id (by id_prefix), or NULL. */
const sf_engine *sf_engine_for_id(const char *id);

#endif
