/* pipeline.h — a sparkflow_pipeline that runs through Airflow.
 *
 * The pipeline's DAG is built on the host by the DAG factory
 * (dags/airflow/) from a spec the provider writes (spec.c); the DAG runs
 * the same stages on the same cluster and publishes by the same lake
 * contract as a direct run (engines/run.h), so a run's outputs, metrics and
 * fingerprint do not depend on who started it.  Apply installs the spec,
 * makes Airflow parse it at once, unpauses the DAG, triggers a run with the
 * provider's run id and follows it (run.c); a new input file also starts a
 * run, with nobody running Terraform, and the next refresh adopts what that
 * run published (sf_airflow_pipeline_find_run).
 */
#ifndef SF_ORCH_PIPELINE_H
#define SF_ORCH_PIPELINE_H

#include <cjson/cJSON.h>

#include "engines/engine.h"
#include "engines/run.h"
#include "orchestrators/orchestrator.h"

/* Where a pipeline runs through Airflow: the host (as its resource's state
 * says: id, url, user, password, details), the orchestrator that made it,
 * the cluster and its engine.  Borrowed. */
typedef struct sf_airflow_target {
    const sf_orchestrator *orchestrator;
    const sf_airflow_host *host;
    const sf_engine *engine;
    const char *cluster_id;
} sf_airflow_target;

/* The DAG id of pipeline `name`: "sparkflow_<name>" (malloc'd). */
char *sf_airflow_dag_id(const char *name);

/* The spec of pipeline `p` for the DAG factory (spec.c): format, locations,
 * stages and the engine's section (engine.h airflow_target), the watch that
 * starts a run when input lands, and a `rev-<hash>` tag by which the
 * provider knows Airflow has parsed this very spec (*rev, malloc'd).  NULL
 * with diagnostics (the cluster cannot take work, code cannot be
 * uploaded). */
cJSON *sf_airflow_spec(sf_ctx *ctx, const sf_engine_env *env, const sf_airflow_target *t, const sf_run_pipeline *p,
                       char **rev, sf_diags *diags);

/* Put the spec on the host and wait until Airflow has parsed it into an
 * unpaused DAG.  0, or -1 with diagnostics. */
int sf_airflow_pipeline_install(sf_ctx *ctx, const sf_engine_env *env, const sf_airflow_target *t,
                                const sf_run_pipeline *p, sf_diags *diags);

/* Install, then run the pipeline once through Airflow and follow the run
 * to its end: as sf_run_execute (engines/run.h) for the result, the status
 * and the diagnostics.  Ctrl-C or a timeout fails the DAG run, which stops
 * its tasks. */
sf_run_status sf_airflow_pipeline_run(sf_ctx *ctx, const sf_engine_env *env, const sf_airflow_target *t,
                                      const sf_run_pipeline *p, const char *fingerprint, sf_run_result *out,
                                      sf_diags *diags);

/* The run of the pipeline's DAG whose publish task recorded `run_id` (a
 * run a new input file started), as a run result: its stages and their
 * metrics.  0 found, 1 not found among the recent runs, -1 when Airflow
 * cannot be asked (*why, malloc'd). */
int sf_airflow_pipeline_find_run(sf_ctx *ctx, const sf_airflow_host *host, const sf_run_pipeline *p, const char *run_id,
                                 sf_run_result *out, char **why);

/* Remove the pipeline's spec from the host (destroy, or a pipeline that
 * stops running through it).  A host that is gone is success. */
int sf_airflow_pipeline_uninstall(sf_ctx *ctx, const sf_engine_env *env, const sf_orchestrator *o,
                                  const sf_airflow_host *host, const char *pipeline, sf_diags *diags);

#endif
