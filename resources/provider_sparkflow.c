/* provider_sparkflow.c — the sparkflow provider: its block and resources.
 *
 * The provider block is empty while only the local engine exists: a laptop
 * needs no settings.  Cloud settings (region, credentials) belong here.
 */
#include "resources/resources.h"

#ifndef SF_VERSION
#define SF_VERSION "0.0.0"
#endif

static const sf_attr_def provider_attrs[] = {
    {NULL},
};

static const sf_block_def provider_schema = {
    .description = "SparkFlow runs household-finance data pipelines on Spark: a `sparkflow_cluster` "
                   "says where Spark runs, a `sparkflow_pipeline` what runs there.",
    .attrs = provider_attrs,
};

static const sf_resource_type *const provider_resources[] = {
    &sf_resource_cluster,
    &sf_resource_pipeline,
    NULL,
};

const sf_engine_env *resources_engine_env(const sf_call *call, const sf_engine *engine)
{
    (void)call;
    (void)engine;
    return NULL;
}

const sf_provider_def sf_provider_sparkflow = {
    .name = "sparkflow",
    .version = SF_VERSION,
    .schema = &provider_schema,
    .resources = provider_resources,
};
