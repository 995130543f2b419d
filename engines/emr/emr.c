/* emr.c — the emr engine: an Amazon EMR cluster and pipeline steps on it.
 *
 * The engine table entry over cluster.c (lifecycle) and steps.c (runs).
 * The core node count and the tags change in place; any other change to
 * the `emr {}` block replaces the cluster.
 */
#include "engines/emr/emr.h"

static const char *const emr_updatable[] = {"core_instance_count", "tags", NULL};

const sf_engine sf_engine_emr = {
    .name = "emr",
    .id_prefix = "j-",
    .spec = &sf_emr_spec_block,
    .updatable = emr_updatable,
    .cluster_create = sf_emr_cluster_create,
    .cluster_read = sf_emr_cluster_read,
    .cluster_update = sf_emr_cluster_update,
    .cluster_delete = sf_emr_cluster_delete,
    .pipeline_run = sf_emr_pipeline_run,
    .spec_summary = sf_emr_spec_summary,
    .pipeline_run_launched = sf_emr_pipeline_run_launched,
    .cluster_list = sf_emr_cluster_list,
    .airflow_target = sf_emr_airflow_target,
};
