/* resources.h — the sparkflow provider: its resource types and the provider
 * data they share (what ConfigureProvider produced). */
#ifndef SF_RESOURCES_H
#define SF_RESOURCES_H

#include "engines/engine.h"
#include "provider/resource.h"

extern const sf_resource_type sf_resource_cluster;
extern const sf_resource_type sf_resource_pipeline;
extern const sf_resource_type sf_resource_airflow;
extern const sf_provider_def sf_provider_sparkflow;

/* `terraform query`: list "sparkflow_cluster" (cluster_list.c), and the
 * state of a cluster it lists (cluster.c). */
extern const sf_list_resource_type sf_list_cluster;
sf_value *sf_cluster_listed_state(const sf_engine *engine, const sf_cluster_info *info);

/* The pipeline's identity and import by identity (pipeline_identity.c). */
extern const sf_identity_def sf_pipeline_identity;

/* The provider-level settings every engine and lake gets (engines/env.h):
 * the same for all of them, the local engine and file:// lakes ignore it.
 * NULL before configure. */
const sf_engine_env *sf_resources_engine_env(const sf_call *call);

#endif
