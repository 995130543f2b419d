/* cluster_stop_action.c — action "sparkflow_cluster_stop": stop a cluster
 * now, by id (e.g. wired with `action_trigger` after a pipeline's
 * create/update so a persistent cluster stops once its work is done).  The
 * cluster resource's next refresh finds it gone and the plan recreates it,
 * as for any drift.  Stopping a cluster that does not exist is an error
 * that says so (a typo in the id must not pass silently).
 */
#include "base/str.h"
#include "base/time.h"
#include "resources/resources.h"

static const sf_attr_def stop_attrs[] = {
    {"cluster_id", "string", SF_ATTR_REQUIRED,
     "The id of the cluster to stop (`sparkflow_cluster.<name>.id`): local-… or j-…."},
    {NULL},
};
static const sf_block_def stop_schema = {
    .attrs = stop_attrs,
    .description = "Stops a SparkFlow cluster now. The `sparkflow_cluster` that made it is recreated by the next "
                   "`terraform apply`.",
};

static void stop_validate(sf_call *call, const sf_value *config, sf_diags *diags)
{
    (void)call;
    const sf_value *v = sf_value_get(config, "cluster_id");
    const char *id = sf_value_get_str(v);
    if (id && !sf_engine_for_id(id))
        sf_diag_error(diags, "cluster_id", "Unrecognised cluster id",
                      "\"%s\" is not an id this provider makes (local clusters: local- and 12 hex digits; EMR "
                      "clusters: j-…).",
                      id);
}

const sf_engine *sf_cluster_running(sf_call *call, const char *id, const char *attr, sf_diags *diags)
{
    const sf_engine *engine = id ? sf_engine_for_id(id) : NULL;
    if (!engine) {
        sf_diag_error(diags, attr, "Unrecognised cluster id",
                      "\"%s\" is not an id this provider makes (local clusters: local- and 12 hex digits; EMR "
                      "clusters: j-…).",
                      id ? id : "");
        return NULL;
    }
    sf_cluster_info recorded = {.id = (char *)id}, info = {0};
    sf_engine_status st = engine->cluster_read(call->ctx, sf_resources_engine_env(call), id, &recorded, &info, diags);
    sf_cluster_info_clear(&info);
    if (st == SF_ENGINE_GONE)
        sf_diag_error(diags, attr, "Cluster not found",
                      "There is no running %s cluster %s. Check the id (`terraform state show` of the "
                      "sparkflow_cluster); a stopped cluster is started again by `terraform apply`.",
                      engine->name, id);
    return st == SF_ENGINE_OK ? engine : NULL;
}

static void stop_invoke(sf_call *call, const sf_value *config, sf_action_progress *progress, sf_diags *diags)
{
    const char *id = sf_value_get_str(sf_value_get(config, "cluster_id"));
    const sf_engine *engine = sf_cluster_running(call, id, "cluster_id", diags);
    if (!engine) return;
    sf_action_progress_send(progress, "stopping %s cluster %s", engine->name, id);
    int64_t started = sf_time_mono_ms();
    sf_cluster_info recorded = {.id = (char *)id};
    if (engine->cluster_delete(call->ctx, sf_resources_engine_env(call), id, &recorded, diags) != SF_ENGINE_OK) return;
    sf_action_progress_send(progress, "cluster %s stopped in %.1f s", id, (sf_time_mono_ms() - started) / 1000.0);
}

const sf_action_type sf_action_cluster_stop = {
    .name = "sparkflow_cluster_stop",
    .schema = &stop_schema,
    .validate = stop_validate,
    .invoke = stop_invoke,
};
