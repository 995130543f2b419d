/* emr.h — internals of the EMR engine, shared by its files.
 *
 * The emr engine runs Spark on an Amazon EMR cluster that it creates with
 * RunJobFlow (kept alive between pipeline runs, stopped by its idle
 * auto-termination policy or by destroy), and runs each pipeline stage as an
 * EMR step (command-runner.jar spark-submit) whose scripts it uploads to the
 * lake, content-addressed.
 *
 *   spec.c     the `emr {}` block: schema, validation, value <-> struct, and
 *              the copy of the spec kept in the cluster's tags
 *   api.c      the EMR calls (JSON 1.1) with the engine's error wording
 *   poll.c     the poll schedule: fast first, backing off to a cap
 *   cluster.c  create (with the create-token lookup), read, update, delete
 *   list.c     the clusters the provider made (ListClusters + DescribeCluster)
 *   bundle.c   scripts and their local packages, uploaded content-addressed
 *   steps.c    pipeline runs: one step per stage, one ListSteps per poll
 *   launch.c   per-run clusters: RunJobFlow with the steps, gone after them
 *   emr.c      the engine table entry
 */
#ifndef SF_EMR_H
#define SF_EMR_H

#include <stdbool.h>
#include <stdint.h>

#include "aws/aws.h"
#include "engines/aws_diag.h"
#include "engines/aws_env.h"
#include "engines/engine.h"

extern const sf_engine sf_engine_emr;
extern const sf_block_def sf_emr_spec_block;

/* ---- spec.c ---------------------------------------------------------------- */

typedef struct sf_emr_bootstrap {
    char *name, *path;
    char **args;
    size_t n_args;
} sf_emr_bootstrap;

/* The `emr {}` block with defaults applied (strings malloc'd). */
typedef struct sf_emr_spec {
    char *release_label;
    char **applications;
    size_t n_applications;
    char *master_instance_type, *core_instance_type;
    int64_t core_instance_count;
    char *market;
    char *subnet_id, *key_name, *service_role, *instance_profile, *log_uri;
    char *idle_timeout; /* as written ("1h") */
    int64_t idle_timeout_s;
    char *configurations_json;
    sf_header *tags; /* user tags */
    size_t n_tags;
    sf_emr_bootstrap *bootstrap;
    size_t n_bootstrap;
} sf_emr_spec;

/* Read a spec value; nulls and unknowns take the defaults.  0, or -1 with
 * a diagnostic. */
int sf_emr_spec_from_value(const sf_value *v, sf_emr_spec *out, sf_diags *diags);
void sf_emr_spec_clear(sf_emr_spec *s);
/* The block's value with defaults filled in (what state records). */
sf_value *sf_emr_spec_resolved(const sf_value *v);
/* The spec as the cluster's tags keep it: sparkflow:spec:<i> tags holding
 * base64 of its JSON, for Read and import to give back exactly what was
 * configured (EMR does not return idle timeout, and rewrites log URIs and
 * configurations).  core_instance_count is left out: Read asks EMR. */
cJSON *sf_emr_spec_tags(const sf_value *resolved);
/* The spec stored in a DescribeCluster's Tags, or NULL when absent. */
sf_value *sf_emr_spec_from_tags(const cJSON *tags);
/* Validators (exposed for tests). */
void sf_emr_validate_release(const sf_value *v, const char *path, sf_diags *d);
void sf_emr_validate_idle(const sf_value *v, const char *path, sf_diags *d);

/* ---- api.c ----------------------------------------------------------------- */

/* One EMR call: 0 with *out, or -1 with *err. */
int sf_emr_call(sf_aws_client *c, sf_ctx *ctx, const char *operation, const cJSON *body, bool idempotent, cJSON **out,
                sf_aws_error *err);
/* DescribeCluster: 0 with *cluster (the "Cluster" object, detached), 1 when
 * no such cluster, -1 error. */
int sf_emr_describe(sf_aws_client *c, sf_ctx *ctx, const char *id, cJSON **cluster, sf_aws_error *err);
/* The string at a dotted path of a JSON object ("Status.State"), or NULL. */
const char *sf_emr_str(const cJSON *j, const char *path);
/* What cleanup after a cancel (terminate, cancel steps) may take. */
#define SF_EMR_CLEANUP_MS (2 * 60 * 1000)

/* ---- poll.c ---------------------------------------------------------------- */

/* The poll schedule: start at SPARKFLOW_AWS_POLL_MS (default 1000), grow by
 * half each time, up to SPARKFLOW_AWS_POLL_MAX_MS (default: cap_ms). */
typedef struct sf_emr_poll {
    int64_t next_ms, cap_ms;
    int64_t last_start; /* sf_time_mono_ms of the previous poll's start */
} sf_emr_poll;
void sf_emr_poll_init(sf_emr_poll *p, int64_t default_cap_ms);
/* Wait until the next poll is due (measured from the previous poll's
 * start), then note this poll's start.  -1 when ctx ended the wait. */
int sf_emr_poll_wait(sf_emr_poll *p, sf_ctx *ctx);
/* Back to the fast start (something changed: the next change may be near). */
void sf_emr_poll_reset(sf_emr_poll *p);

/* ---- cluster.c ------------------------------------------------------------- */

/* The AWS client of `env` for EMR (*owned when made here; free it); NULL
 * with a diagnostic when no region is known. */
sf_aws_client *sf_emr_client(const sf_engine_env *env, sf_aws_client **owned, sf_diags *diags);
/* What read reports about a described cluster (DescribeCluster's
 * "Cluster"), whatever its state: 0, or -1 with a diagnostic. */
int sf_emr_cluster_info(sf_aws_client *c, sf_ctx *ctx, const cJSON *cluster, sf_cluster_info *out, sf_diags *diags);

/* TERMINATING or TERMINATED*: the cluster is ending or gone. */
bool sf_emr_state_ended(const char *state);
/* The RunJobFlow request: tagged sparkflow:managed, the provider's default
 * tags, the user's, the spec copy and `token` (sparkflow:create-token).
 * `steps` (taken; NULL: a cluster kept between runs, auto-terminated when
 * idle) makes a cluster for these steps alone: it terminates after them. */
cJSON *sf_emr_job_flow_body(sf_aws_client *c, const char *name, const sf_emr_spec *s, const sf_value *resolved,
                            const char *token, cJSON *steps);
/* RunJobFlow, safe to repeat (the token finds a cluster a lost answer
 * made): 0 with *id, -1 with a diagnostic. */
int sf_emr_run_job_flow(sf_aws_client *c, sf_ctx *ctx, const char *name, const cJSON *body, const char *token,
                        char **id, sf_diags *diags);
/* TerminateJobFlows (even after a cancel) and, with `wait`, until
 * TERMINATED: 0, or -1 with a diagnostic. */
int sf_emr_terminate(sf_aws_client *c, sf_ctx *ctx, const char *id, bool wait, sf_diags *diags);

sf_engine_status sf_emr_cluster_create(sf_ctx *ctx, const sf_engine_env *env, const char *name, const sf_value *spec,
                                       sf_cluster_info *out, sf_diags *diags);
sf_engine_status sf_emr_cluster_read(sf_ctx *ctx, const sf_engine_env *env, const char *id,
                                     const sf_cluster_info *recorded, sf_cluster_info *out, sf_diags *diags);
sf_engine_status sf_emr_cluster_update(sf_ctx *ctx, const sf_engine_env *env, const char *id,
                                       const sf_cluster_info *recorded, const sf_value *old_spec,
                                       const sf_value *new_spec, sf_cluster_info *out, sf_diags *diags);
sf_engine_status sf_emr_cluster_delete(sf_ctx *ctx, const sf_engine_env *env, const char *id,
                                       const sf_cluster_info *recorded, sf_diags *diags);

/* ---- list.c ---------------------------------------------------------------- */

sf_engine_status sf_emr_cluster_list(sf_ctx *ctx, const sf_engine_env *env, const sf_list_filter *filter,
                                     sf_cluster_found_fn found, void *arg, sf_diags *diags);

/* ---- bundle.c -------------------------------------------------------------- */

/* Upload a stage's script to <root>/_sparkflow/code/<sha256>/<basename>
 * and the Python packages beside it (directories holding __init__.py) as
 * one zip to <root>/_sparkflow/code/<sha256>/<name>.zip, skipping uploads
 * already there.  *script_uri and *py_files (NULL when no package) are
 * malloc'd s3:// URIs.  0, or -1 with a diagnostic at `path`. */
int sf_emr_upload_code(sf_aws_client *c, sf_ctx *ctx, const char *root_uri, const char *script, const char *path,
                       char **script_uri, char **py_files, sf_diags *diags);
/* A stored (uncompressed) zip of files (names relative, data), for tests. */
int sf_emr_zip(const char *const *names, const sf_buf *data, size_t n, sf_buf *out);

/* ---- steps.c --------------------------------------------------------------- */

/* One run's steps on one cluster: the client (counting its calls), where
 * things go, and what is known of each step. */
typedef struct sf_emr_steps {
    sf_aws_client *c;
    const sf_run_spec *run;
    const char *cluster; /* the cluster's id; NULL until it is known */
    char *root;          /* lake root: where _sparkflow/code goes */
    char **step_ids;     /* per stage, malloc'd */
    char **metrics_uris; /* per stage */
    bool *final;         /* per stage: result complete */
    char *log_uri;       /* the cluster's LogUri as s3://…/ or NULL */
} sf_emr_steps;

/* 0, or -1 with a diagnostic (the lake is not on S3); clear it either way. */
int sf_emr_steps_init(sf_emr_steps *r, sf_aws_client *c, const sf_run_spec *run, const char *cluster, sf_diags *diags);
void sf_emr_steps_clear(sf_emr_steps *r);
/* Upload every stage's code and describe its step (ActionOnFailure
 * `on_failure`): a JSON array, or NULL with a diagnostic. */
cJSON *sf_emr_steps_build(sf_emr_steps *r, sf_ctx *ctx, const char *on_failure, sf_diags *diags);
/* This run's steps on r->cluster, by name (a lost AddJobFlowSteps answer,
 * or steps given to RunJobFlow): fills r->step_ids when all are found;
 * 1 found, 0 none, -1 error or some only. */
int sf_emr_steps_find(sf_emr_steps *r, sf_ctx *ctx);
/* Once the step ids are known: each result's step id and log. */
void sf_emr_steps_attach(sf_emr_steps *r, sf_ctx *ctx, sf_stage_result *results);
/* One ListSteps over every step not final.  Returns the number of results
 * that changed, or -1 on an error that is not transient. */
int sf_emr_steps_poll(sf_emr_steps *r, sf_ctx *ctx, sf_stage_result *results, bool *failed, sf_diags *diags);
/* Every step not final: "cancelled" when it started, else "not_run". */
void sf_emr_steps_settle(sf_emr_steps *r, sf_stage_result *results, const char *why);
bool sf_emr_steps_done(const sf_emr_steps *r);
/* A time of a step's or a cluster's Status.Timeline (`field`, e.g.
 * "EndDateTime") in wall ms, 0 when absent. */
int64_t sf_emr_timeline_ms(const cJSON *obj, const char *field);
/* EMR reports LogUri as the cluster was given it, often s3n://; readers
 * (the AWS CLI, the S3 lake) want s3://.  Ends with '/'; NULL if none. */
char *sf_emr_s3_log_root(const char *log_uri);

sf_engine_status sf_emr_pipeline_run(sf_ctx *ctx, const sf_engine_env *env, const char *id, const sf_run_spec *run,
                                     sf_stage_result *results, sf_diags *diags);
/* Whether cluster `id` can take steps (WAITING or RUNNING); else an error
 * diagnostic at cluster_id.  *log_uri (may be NULL) gets its log root. */
bool sf_emr_cluster_usable(sf_aws_client *c, sf_ctx *ctx, const char *id, char **log_uri, sf_diags *diags);

/* ---- launch.c --------------------------------------------------------------- */

sf_engine_status sf_emr_pipeline_run_launched(sf_ctx *ctx, const sf_engine_env *env, const char *name,
                                              const sf_value *spec, const sf_run_spec *run, sf_stage_result *results,
                                              sf_launch_report *launch, sf_diags *diags);
char *sf_emr_spec_summary(const sf_value *spec);

/* ---- airflow_target.c -------------------------------------------------------- */

sf_engine_status sf_emr_airflow_target(sf_ctx *ctx, const sf_engine_env *env, const char *id, const sf_run_pipeline *p,
                                       cJSON *target, cJSON *stages, sf_diags *diags);

#endif
