/* spec.c — the spec a pipeline puts on an Airflow host, for the DAG
 * factory (its format: dags/airflow/README.md).  Locations are written as
 * the pipeline configures them (they are part of the fingerprint the DAG
 * computes); stage scripts as absolute paths (the DAG runs elsewhere than
 * Terraform's working directory) unless the engine moves the code (EMR).
 * The `rev-` tag is a hash of everything else: when the DAG shows it,
 * Airflow has parsed this spec and not an older one. */
#include "orchestrators/pipeline.h"

#include <limits.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "engines/env.h"
#include "lakes/lake.h"

#define SPEC_FORMAT 1
#define WATCH_POKE_SECONDS 2

char *sf_airflow_dag_id(const char *name)
{
    return sf_fmt("sparkflow_%s", name);
}

static cJSON *stage_json(const sf_run_stage *st)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", st->name);
    char *abs = realpath(st->script, NULL);
    cJSON_AddStringToObject(o, "script", abs ? abs : st->script);
    free(abs);
    cJSON *args = cJSON_AddArrayToObject(o, "args");
    for (size_t i = 0; i < st->n_args; i++) cJSON_AddItemToArray(args, cJSON_CreateString(st->args[i]));
    cJSON *conf = cJSON_AddObjectToObject(o, "conf");
    for (size_t i = 0; i < st->n_conf; i++) cJSON_AddStringToObject(conf, st->conf[i].key, st->conf[i].value);
    return o;
}

/* The input's fingerprint now, as the watcher computes it (the lake's). */
static int add_input_baseline(sf_ctx *ctx, const sf_engine_env *env, const sf_run_pipeline *p, cJSON *watch,
                              sf_diags *diags)
{
    const sf_lake *lake = sf_lake_for(p->lake, "lake", diags);
    if (!lake) return -1;
    sf_lake_env lake_env = sf_engine_env_lake(env);
    char *input = sf_run_lake_uri(p->lake, p->input), *fp = NULL;
    int64_t count = 0;
    sf_diags found; /* its warnings (an empty input) the plan gave already */
    sf_diags_init(&found);
    int rc = lake->fingerprint(ctx, &lake_env, input, &fp, &count, &found);
    if (rc == 0) cJSON_AddStringToObject(watch, "input_fingerprint", fp);
    else sf_diags_move(diags, &found, NULL);
    sf_diags_clear(&found);
    free(fp);
    free(input);
    return rc;
}

/* "rev-" and the first 16 hex digits of the sha256 of the spec's text. */
static char *revision(const cJSON *spec)
{
    char *text = cJSON_PrintUnformatted(spec);
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)text, strlen(text), md);
    free(text);
    sf_buf b = {0};
    sf_buf_puts(&b, "rev-");
    for (size_t i = 0; i < 8; i++) sf_buf_printf(&b, "%02x", md[i]);
    return sf_buf_take(&b);
}

cJSON *sf_airflow_spec(sf_ctx *ctx, const sf_engine_env *env, const sf_airflow_target *t, const sf_run_pipeline *p,
                       char **rev, sf_diags *diags)
{
    *rev = NULL;
    if (!t->engine->airflow_target) {
        sf_diag_error(diags, "airflow", "Engine cannot run through Airflow",
                      "Clusters of the %s engine cannot take runs from Airflow.", t->engine->name);
        return NULL;
    }
    cJSON *spec = cJSON_CreateObject();
    char *dag_id = sf_airflow_dag_id(p->name);
    cJSON_AddNumberToObject(spec, "format", SPEC_FORMAT);
    cJSON_AddStringToObject(spec, "pipeline", p->name);
    cJSON_AddStringToObject(spec, "dag_id", dag_id);
    cJSON_AddStringToObject(spec, "engine", t->engine->name);
    cJSON_AddStringToObject(spec, "lake", p->lake);
    cJSON_AddStringToObject(spec, "input", p->input);
    cJSON_AddStringToObject(spec, "output", p->output);
    cJSON_AddStringToObject(spec, "reference", p->reference ? p->reference : "reference");
    cJSON *stages = cJSON_AddArrayToObject(spec, "stages");
    for (size_t i = 0; i < p->n_stages; i++) cJSON_AddItemToArray(stages, stage_json(&p->stages[i]));
    cJSON *target = cJSON_AddObjectToObject(spec, t->engine->name);
    free(dag_id);
    if (t->engine->airflow_target(ctx, env, t->cluster_id, p, target, stages, diags) != SF_ENGINE_OK) {
        cJSON_Delete(spec);
        return NULL;
    }
    /* A file:// input folder is watched by the DAG itself, from the input
     * as it is now (this apply runs the new configuration on it: only other
     * input is news); S3 sends its notifications to a queue the host's
     * orchestrator makes (spec_put fills it in), where it can. */
    bool s3 = strncmp(p->lake, "s3://", 5) == 0;
    cJSON *watch = cJSON_AddObjectToObject(spec, "watch");
    cJSON_AddStringToObject(watch, "kind", !s3 ? "directory" : t->orchestrator->watches_s3 ? "sqs" : "none");
    cJSON_AddNumberToObject(watch, "poke_interval_seconds", WATCH_POKE_SECONDS);
    if (!s3 && add_input_baseline(ctx, env, p, watch, diags) != 0) {
        cJSON_Delete(spec);
        return NULL;
    }
    cJSON_AddNumberToObject(spec, "max_active_runs", 1);
    *rev = revision(spec);
    cJSON *tags = cJSON_AddArrayToObject(spec, "tags");
    cJSON_AddItemToArray(tags, cJSON_CreateString(*rev));
    return spec;
}
