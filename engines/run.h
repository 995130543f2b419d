/* run.h — the run transaction: stage → engine run → publish or discard,
 * and the fingerprint a run is published with.
 *
 * One place for what every way of running a pipeline does: apply of a
 * sparkflow_pipeline today, later an Airflow orchestrator, a run-now action
 * and per-run clusters.  A run writes into a private staging area of the
 * lake and is published atomically only when every stage succeeded, so the
 * last good outputs survive any failure (lakes/lake.h).
 *
 * The pipeline is described here engine-neutrally, field for field as the
 * sparkflow_pipeline resource names it; diagnostics point at those names
 * ("lake", "input", "reference", "stage[i].script", "stage[i]").
 */
#ifndef SF_RUN_H
#define SF_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include "engines/engine.h"
#include "lakes/lake.h"

/* One Spark setting of a stage (`--conf key=value`). */
typedef struct sf_run_conf {
    const char *key, *value;
} sf_run_conf;

/* One stage.  Strings are borrowed from the caller. */
typedef struct sf_run_stage {
    const char *name;        /* unique in the pipeline */
    const char *script;      /* local path of the PySpark script */
    const char *const *args; /* n_args user arguments */
    size_t n_args;
    const sf_run_conf *conf; /* n_conf Spark settings, in order */
    size_t n_conf;
} sf_run_stage;

/* A pipeline: where it reads and publishes, and its stages in order. */
struct sf_run_pipeline {
    const char *name;
    const char *lake;      /* the lake's root URI */
    const char *input;     /* the raw zone, relative to lake */
    const char *output;    /* where the outputs are published, relative to lake */
    const char *reference; /* reference data, relative to lake */
    const sf_run_stage *stages;
    size_t n_stages;
};

/* lake + "/" + a location relative to it, without doubled slashes
 * (malloc'd).  Can't fail. */
char *sf_run_lake_uri(const char *lake, const char *rel);

/* The fingerprint of what determines a pipeline's outputs, "sha256:<hex>"
 * (malloc'd): its locations, each stage's name, script content, arguments
 * and Spark settings, and the lake's fingerprints of the input and the
 * reference data.  NULL with error diagnostics (a script or the data cannot
 * be read); a warning when the input holds no files.  run_fingerprint.c. */
char *sf_run_fingerprint(sf_ctx *ctx, const sf_lake_env *env, const sf_run_pipeline *p, sf_diags *diags);

typedef enum {
    SF_RUN_NOT_STARTED = -1, /* nothing ran (e.g. staging failed); diagnostics say why */
    SF_RUN_PUBLISHED = 0,    /* every stage succeeded and the outputs are published */
    SF_RUN_FAILED = 1,       /* a stage or the publication failed: nothing published,
                                the staging area discarded; diagnostics say why */
} sf_run_status;

/* What a run did.  Owned by the struct; release with sf_run_result_clear. */
typedef struct sf_run_result {
    char *run_id;            /* unique per run; NULL when not started */
    sf_stage_result *stages; /* one per stage of the pipeline */
    size_t n_stages;
    sf_launch_report launch; /* the cluster launched for the run; cluster_id NULL when none */
} sf_run_result;

void sf_run_result_clear(sf_run_result *r);

/* A fresh run id, "20261207T010203Z-a1b2c3": sortable by time, unique by
 * its random tail (malloc'd). */
char *sf_run_new_id(void);

/* After a failed run: an error per stage that failed or was stopped (its
 * reason and log tail), or one for the run when none did (the publication
 * failed, or a cancel). */
void sf_run_report_failure(sf_ctx *ctx, const sf_run_pipeline *p, const sf_run_result *r, sf_diags *diags);

/* Where a run goes: a running cluster, or one launched for the run alone
 * (a pipeline's `run_cluster`) and gone after it. */
typedef struct sf_run_cluster {
    const sf_engine *engine;
    const char *id;         /* a running cluster's id; NULL with `launch`: */
    const sf_value *launch; /* the engine's block of the cluster to launch */
} sf_run_cluster;

/* Runs pipeline `p` once on `where`: stages a fresh run in the lake, runs
 * the stages in order, then publishes the outputs with `fingerprint` (all
 * succeeded) or discards them.  A launched cluster is gone before the
 * outputs are published.  `env` is the provider's (engines/env.h; may be
 * NULL).  *out is filled unless SF_RUN_NOT_STARTED. */
sf_run_status sf_run_execute(sf_ctx *ctx, const sf_engine_env *env, const sf_run_cluster *where,
                             const sf_run_pipeline *p, const char *fingerprint, sf_run_result *out, sf_diags *diags);

/* The name of the cluster launched for run `run_id` of `pipeline`: the
 * pipeline's name (cut to 50 characters) and the run id's random tail,
 * "finances-run-a1b2c3" (malloc'd). */
char *sf_run_cluster_name(const char *pipeline, const char *run_id);

#endif
