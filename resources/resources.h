/* resources.h — the sparkflow provider: its resource types and the provider
 * data they share (what ConfigureProvider produced). */
#ifndef SF_RESOURCES_H
#define SF_RESOURCES_H

#include "engines/engine.h"
#include "engines/run.h"
#include "orchestrators/orchestrator.h"
#include "provider/resource.h"

extern const sf_resource_type sf_resource_cluster;
extern const sf_resource_type sf_resource_pipeline;
extern const sf_resource_type sf_resource_airflow;
extern const sf_provider_def sf_provider_sparkflow;

/* The engine blocks (`local {}`, `emr {}`) of a sparkflow_cluster or of a
 * pipeline's `run_cluster`, read the same way (cluster.c): the engine whose
 * block `v` sets, else local; that block as an object (owned by the
 * caller); an error at `at`.<block> (NULL: the resource) per extra block. */
const sf_engine *sf_engine_choice(const sf_value *v);
sf_value *sf_engine_choice_spec(const sf_engine *engine, const sf_value *v);
void sf_engine_choice_validate(const sf_value *v, const char *at, sf_diags *diags);

/* `terraform query`: list "sparkflow_cluster" (cluster_list.c) and list
 * "sparkflow_airflow" (airflow_list.c), and the state of what each lists
 * (cluster.c, airflow.c). */
extern const sf_list_resource_type sf_list_cluster;
extern const sf_list_resource_type sf_list_airflow;
sf_value *sf_cluster_listed_state(const sf_engine *engine, const sf_cluster_info *info);
sf_value *sf_airflow_listed_state(const sf_orchestrator *o, const sf_airflow_host *h);
/* A listed host's line for a person: "<name> (<kind> <id>, <summary>)",
 * malloc'd (airflow_list.c). */
char *sf_airflow_display_name(const char *kind, const sf_airflow_host *h, const char *summary);
/* The filters both list blocks' `config {}` share (states, name_prefix,
 * tags) read into *f, strings borrowed from `config`; returns the states
 * array for the caller to free (NULL when none).  cluster_list.c. */
const char **sf_list_filter_read(const sf_value *config, sf_list_filter *f);

/* Actions: run a pipeline now (pipeline_run_action.c), stop a cluster
 * (cluster_stop_action.c); the pipeline's stage block and its run they share
 * with sparkflow_pipeline (pipeline.c). */
extern const sf_action_type sf_action_pipeline_run;
extern const sf_action_type sf_action_cluster_stop;
extern const sf_block_def sf_pipeline_stage_block;
extern const sf_block_def sf_pipeline_run_cluster_block;
/* Exactly one of cluster_id and run_cluster, and no run_cluster with
 * Airflow: errors at their paths. */
void sf_pipeline_validate_where(const sf_value *config, sf_diags *diags);
/* The engine of running cluster `id`; NULL with an error at `attr` when
 * the id is not one of ours, the cluster is gone, or it cannot be read. */
const sf_engine *sf_cluster_running(sf_call *call, const char *id, const char *attr, sf_diags *diags);
sf_run_status sf_pipeline_run_now(sf_call *call, const sf_value *config, sf_run_result *r, sf_diags *diags);

/* The pipeline's identity and import by identity (pipeline_identity.c). */
extern const sf_identity_def sf_pipeline_identity;

/* The provider-level settings every engine and lake gets (engines/env.h):
 * the same for all of them, the local engine and file:// lakes ignore it.
 * NULL before configure. */
const sf_engine_env *sf_resources_engine_env(const sf_call *call);

#endif
