/* resources.h — the sparkflow provider: its resource types and the provider
 * data they share (what ConfigureProvider produced). */
#ifndef SF_RESOURCES_H
#define SF_RESOURCES_H

#include "engines/engine.h"
#include "provider/resource.h"

extern const sf_resource_type sf_resource_cluster;
extern const sf_resource_type sf_resource_pipeline;
extern const sf_provider_def sf_provider_sparkflow;

/* The settings an engine (or, with engine NULL, a lake) gets from the
 * provider block; NULL before configure. */
const sf_engine_env *resources_engine_env(const sf_call *call, const sf_engine *engine);

#endif
