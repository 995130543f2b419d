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

/* The pipeline's identity and import by identity (pipeline_identity.c). */
extern const sf_identity_def sf_pipeline_identity;

/* The provider-level settings every engine and lake gets (engines/env.h):
 * the same for all of them, the local engine and file:// lakes ignore it.
 * NULL before configure. */
const sf_engine_env *sf_resources_engine_env(const sf_call *call);

#endif
