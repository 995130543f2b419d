/* airflow_target.c — how Airflow submits a pipeline's stages to an EMR
 * cluster itself (engine.h's airflow_target): the cluster and its region,
 * and each stage's code uploaded to the lake as the provider's own runs do
 * (bundle.c: content-addressed, so the spec names exactly these bytes).
 * The DAG adds the same steps as steps.c (dags/airflow/README.md). */
#include "engines/emr/emr.h"

#include <stdlib.h>
#include <string.h>

#include "engines/aws_env.h"
#include "engines/run.h"

#define DEFAULT_POKE_SECONDS 10

static int upload_stages(sf_aws_client *c, sf_ctx *ctx, const sf_run_pipeline *p, cJSON *stages, sf_diags *diags)
{
    for (size_t i = 0; i < p->n_stages; i++) {
        cJSON *stage = cJSON_GetArrayItem(stages, (int)i);
        char *script = NULL, *py = NULL, *path = sf_fmt("stage[%zu].script", i);
        int rc = sf_emr_upload_code(c, ctx, p->lake, p->stages[i].script, path, &script, &py, diags);
        free(path);
        if (rc != 0) return -1;
        cJSON_DeleteItemFromObjectCaseSensitive(stage, "script");
        cJSON_AddStringToObject(stage, "script", script);
        if (py) cJSON_AddStringToObject(stage, "py_files", py);
        free(script);
        free(py);
    }
    return 0;
}

sf_engine_status sf_emr_airflow_target(sf_ctx *ctx, const sf_engine_env *env, const char *id, const sf_run_pipeline *p,
                                       cJSON *target, cJSON *stages, sf_diags *diags)
{
    if (!p->lake || strncmp(p->lake, "s3://", 5) != 0) {
        sf_diag_error(diags, "lake", "EMR pipelines need an S3 lake",
                      "The emr engine runs stages on the cluster, which reads and writes the lake through S3: set "
                      "`lake` to an s3:// URI (e.g. s3://my-bucket/finances).");
        return SF_ENGINE_ERROR;
    }
    sf_aws_client *owned = NULL, *c = sf_engine_env_aws(env, &owned);
    sf_engine_status st = SF_ENGINE_ERROR;
    char *region_err = NULL;
    const char *region = sf_aws_client_region(c, &region_err);
    if (!region) {
        sf_diag_error(diags, NULL, "AWS region not set", "The emr engine needs an AWS region: %s.", region_err);
    } else if (sf_emr_cluster_usable(c, ctx, id, NULL, diags) && upload_stages(c, ctx, p, stages, diags) == 0) {
        cJSON_AddStringToObject(target, "cluster_id", id);
        cJSON_AddStringToObject(target, "region", region);
        cJSON_AddStringToObject(target, "aws_conn_id", "aws_default");
        cJSON_AddBoolToObject(target, "deferrable", true);
        cJSON_AddNumberToObject(target, "poke_interval_seconds", DEFAULT_POKE_SECONDS);
        st = SF_ENGINE_OK;
    }
    free(region_err);
    sf_aws_client_free(owned);
    return st;
}
