/* airflow_target.c — how Airflow submits a pipeline's stages to a local
 * cluster itself (engine.h's airflow_target): the master, the
 * spark-submit, Python and Java the cluster runs with, and the settings
 * the provider's own runs add (the lean JVM options, submit.c) as the
 * engine's defaults (`local.conf`: a stage's own spark_conf wins, and they
 * stay out of the fingerprint), so that a run through Airflow is the same
 * Spark work as a direct one. */
#include "engines/local/local.h"

#include <stdlib.h>

#include "engines/run.h"

sf_engine_status sf_local_airflow_target(sf_ctx *ctx, const sf_engine_env *env, const char *id,
                                         const sf_run_pipeline *p, cJSON *target, cJSON *stages, sf_diags *diags)
{
    (void)env;
    (void)p;
    (void)stages;
    sf_local_cluster c = {0};
    if (sf_local_usable_cluster(ctx, id, &c, diags) != 0) return SF_ENGINE_ERROR;
    const char *pythons[4];
    sf_spawn_pythons(pythons);
    char *master = sf_fmt("spark://127.0.0.1:%d", c.master.port);
    char *submit = sf_fmt("%s/bin/spark-submit", c.spec.spark_home);
    cJSON_AddStringToObject(target, "master", master);
    cJSON_AddStringToObject(target, "spark_submit", submit);
    cJSON_AddStringToObject(target, "python", pythons[0]);
    if (c.java_home) cJSON_AddStringToObject(target, "java_home", c.java_home);
    else cJSON_AddNullToObject(target, "java_home");
    cJSON_AddObjectToObject(target, "env");
    cJSON *conf = cJSON_AddObjectToObject(target, "conf");
    for (size_t i = 0; i < 2; i++) cJSON_AddStringToObject(conf, sf_local_lean_jvm_keys[i], SF_LOCAL_LEAN_JVM_OPTS);
    free(master);
    free(submit);
    sf_local_cluster_clear(&c);
    return SF_ENGINE_OK;
}
