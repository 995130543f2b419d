/* cluster.c — sparkflow_cluster: where Spark runs.
 *
 * The resource picks its engine by the block the user wrote (`local {}` or
 * `emr {}`; none means local with its defaults) and talks to it only through
 * engines/engine.h.  In-place changes are the ones the engine lists as
 * updatable (local: the worker count; emr: the core count and tags); any
 * other change replaces.
 *
 * Read, update and delete hand the engine what the state recorded (id, name,
 * created_at, the engine block, details): the local engine finds a cluster
 * from it when its own registry, under $HOME, does not know the cluster
 * (another HOME: CI, sudo, a container).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "engines/engine.h"
#include "provider/resource.h"
#include "provider/timeouts.h"
#include "resources/choice.h"
#include "resources/resources.h"

static const sf_attr_def cluster_attrs[] = {
    {"id", "string", SF_ATTR_COMPUTED | SF_ATTR_STABLE,
     "The cluster's id, e.g. `local-3f9a1c2b7d4e` for a local cluster. `terraform import` takes it; it is also the "
     "cluster's identity (`import { identity = { id = ... } }`, Terraform 1.12 and later)."},
    {"name", "string", SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW,
     "A name for the cluster: 1 to 64 letters, digits, `-`, `_` or `.`. Changing it replaces the cluster.", NULL,
     sf_validate_name},
    {"state", "string", SF_ATTR_COMPUTED, "The engine's word for the cluster's state, e.g. `running`."},
    {"master_url", "string", SF_ATTR_COMPUTED,
     "Where Spark applications are submitted, e.g. `spark://127.0.0.1:7077`."},
    {"web_ui_url", "string", SF_ATTR_COMPUTED, "The Spark master's web UI."},
    {"created_at", "string", SF_ATTR_COMPUTED | SF_ATTR_STABLE, "When the cluster was created (RFC 3339, UTC)."},
    {"details", "[\"map\",\"string\"]", SF_ATTR_COMPUTED,
     "Engine-specific facts. A local cluster reports `work_dir`, `log_dir`, `spark_home`, `java_home` "
     "(absolute), `record_dir`, `master_pid`, `master_pgid`, `master_start_time`, `master_port`, "
     "`master_webui_port`, `worker_pids`, `worker_pgids`, `worker_start_times` and `worker_ports`: "
     "enough to find and stop the cluster from the state alone."},
    {NULL},
};

static const sf_nested_def cluster_blocks[] = {
    SF_ENGINE_BLOCKS,
    SF_TIMEOUTS_BLOCK,
    {NULL},
};

static const sf_block_def cluster_schema = {
    .description = "A Spark cluster that pipelines run on. `terraform destroy` stops everything it started.",
    .attrs = cluster_attrs,
    .blocks = cluster_blocks,
};

/* ---- Which engine ------------------------------------------------------- */

/* The engines as resources/choice.h sees them. */
#define MAX_ENGINES 8
static size_t engine_choices(sf_choice out[MAX_ENGINES])
{
    size_t n = 0;
    for (; n < MAX_ENGINES && sf_engines[n]; n++)
        out[n] = (sf_choice){sf_engines[n]->name, sf_engines[n]->spec, sf_engines[n]->updatable};
    return n;
}

static sf_choice choice_of(const sf_engine *engine)
{
    return (sf_choice){engine->name, engine->spec, engine->updatable};
}

const sf_engine *sf_engine_choice(const sf_value *v)
{
    sf_choice choices[MAX_ENGINES];
    return sf_engines[sf_choice_of(choices, engine_choices(choices), v)];
}

sf_value *sf_engine_choice_spec(const sf_engine *engine, const sf_value *v)
{
    sf_choice c = choice_of(engine);
    return sf_choice_spec(&c, v);
}

void sf_engine_choice_validate(const sf_value *v, const char *at, sf_diags *diags)
{
    sf_choice choices[MAX_ENGINES];
    sf_choice_validate(choices, engine_choices(choices), v, at, "Conflicting engine blocks",
                       "A cluster runs on one engine", diags);
}

/* Copy what the engine reports into a state value.  The engine block is
 * filled only where the user wrote one (or on import, `fill_block`). */
static void put_info(sf_value *state, const sf_engine *engine, const sf_cluster_info *info, bool fill_block)
{
    sf_value_put(state, "id", sf_value_string(info->id));
    if (info->name) sf_value_put(state, "name", sf_value_string(info->name));
    sf_value_put(state, "state", sf_value_string(info->state ? info->state : "running"));
    sf_value_put(state, "master_url", info->master_url ? sf_value_string(info->master_url) : sf_value_null());
    sf_value_put(state, "web_ui_url", info->web_ui_url ? sf_value_string(info->web_ui_url) : sf_value_null());
    sf_value_put(state, "created_at", info->created_at ? sf_value_string(info->created_at) : sf_value_null());
    sf_value_put(state, "details", info->details ? sf_value_copy(info->details) : sf_value_map());
    sf_choice c = choice_of(engine);
    sf_choice_put_spec(&c, state, info->spec, fill_block);
}

/* What the state recorded about the cluster, for the engine to start from
 * (see the top of this file); the engine replaces it with what it finds. */
static sf_cluster_info recorded_info(const sf_engine *engine, const sf_value *state)
{
    sf_cluster_info info = {0};
    static const char *const keys[] = {"id", "name", "created_at"};
    char **dst[] = {&info.id, &info.name, &info.created_at};
    for (size_t i = 0; i < 3; i++) *dst[i] = sf_strdup(sf_value_get_str(sf_value_get(state, keys[i])));
    info.spec = sf_engine_choice_spec(engine, state);
    const sf_value *details = sf_value_get(state, "details");
    if (details && !sf_value_is_null(details) && !sf_value_is_unknown(details)) info.details = sf_value_copy(details);
    return info;
}

/* ---- Callbacks ---------------------------------------------------------- */

static void cluster_validate(sf_call *call, const sf_value *config, sf_diags *diags)
{
    (void)call;
    sf_engine_choice_validate(config, NULL, diags);
}

static void cluster_modify_plan(sf_call *call, sf_plan *plan, sf_diags *diags)
{
    (void)call;
    (void)diags;
    if (sf_value_is_null(plan->planned) || sf_plan_is_create(plan)) return;
    sf_choice choices[MAX_ENGINES];
    /* In place, the cluster keeps its master: only state and details move. */
    if (!sf_choice_plan(choices, engine_choices(choices), plan)) {
        const char *kept[] = {"master_url", "web_ui_url"};
        for (size_t i = 0; i < 2; i++)
            sf_value_put(plan->planned, kept[i], sf_value_copy(sf_value_get(plan->prior, kept[i])));
    }
}

static sf_value *cluster_create(sf_call *call, const sf_value *planned, sf_diags *diags)
{
    const sf_engine *engine = sf_engine_choice(planned);
    sf_value *spec = sf_engine_choice_spec(engine, planned);
    sf_cluster_info info = {0};
    sf_value *state = NULL;
    const char *name = sf_value_get_str(sf_value_get(planned, "name"));
    if (engine->cluster_create(call->ctx, sf_resources_engine_env(call), name, spec, &info, diags) == SF_ENGINE_OK) {
        state = sf_value_copy(planned);
        put_info(state, engine, &info, false);
    }
    sf_cluster_info_clear(&info);
    sf_value_free(spec);
    return state;
}

static sf_value *cluster_read(sf_call *call, const sf_value *state, sf_diags *diags)
{
    const char *id = sf_value_get_str(sf_value_get(state, "id"));
    const sf_engine *engine = id ? sf_engine_for_id(id) : NULL;
    if (!engine) {
        sf_diag_error(diags, "id", "Unrecognised cluster id",
                      "\"%s\" is not an id this provider makes (local clusters: local- and 12 hex digits; EMR "
                      "clusters: j-…).",
                      id ? id : "");
        return NULL;
    }
    sf_cluster_info recorded = recorded_info(engine, state), info = {0};
    sf_value *fresh = NULL;
    sf_engine_status st = engine->cluster_read(call->ctx, sf_resources_engine_env(call), id, &recorded, &info, diags);
    if (st == SF_ENGINE_GONE) {
        fresh = sf_value_null();
    } else if (st == SF_ENGINE_OK) {
        fresh = sf_value_copy(state);
        /* After import only the id is known: the engine fills the rest. */
        bool imported = sf_value_is_null(sf_value_get(state, "name"));
        put_info(fresh, engine, &info, imported);
    }
    sf_cluster_info_clear(&recorded);
    sf_cluster_info_clear(&info);
    return fresh;
}

static sf_value *cluster_update(sf_call *call, const sf_value *prior, const sf_value *planned, sf_diags *diags)
{
    const sf_engine *engine = sf_engine_choice(planned);
    const char *id = sf_value_get_str(sf_value_get(prior, "id"));
    sf_value *old_spec = sf_engine_choice_spec(engine, prior), *new_spec = sf_engine_choice_spec(engine, planned);
    const sf_engine_env *env = sf_resources_engine_env(call);
    sf_cluster_info recorded = recorded_info(engine, prior), info = {0};
    sf_engine_status st = sf_value_equal(old_spec, new_spec)
                              ? engine->cluster_read(call->ctx, env, id, &recorded, &info, diags)
                              : engine->cluster_update(call->ctx, env, id, &recorded, old_spec, new_spec, &info, diags);
    sf_value *state = NULL;
    if (st == SF_ENGINE_OK) {
        state = sf_value_copy(planned);
        put_info(state, engine, &info, false);
    } else if (st == SF_ENGINE_GONE) {
        sf_diag_error(diags, NULL, "Cluster disappeared",
                      "Cluster %s stopped while it was being updated. Run `terraform apply` again to "
                      "create it anew.",
                      id);
    }
    sf_cluster_info_clear(&recorded);
    sf_cluster_info_clear(&info);
    sf_value_free(old_spec);
    sf_value_free(new_spec);
    return state;
}

static int cluster_delete(sf_call *call, const sf_value *prior, sf_diags *diags)
{
    const char *id = sf_value_get_str(sf_value_get(prior, "id"));
    const sf_engine *engine = id ? sf_engine_for_id(id) : NULL;
    if (!engine) return 0; /* nothing was ever created */
    sf_cluster_info recorded = recorded_info(engine, prior);
    sf_engine_status st = engine->cluster_delete(call->ctx, sf_resources_engine_env(call), id, &recorded, diags);
    sf_cluster_info_clear(&recorded);
    return st == SF_ENGINE_OK ? 0 : -1;
}

static sf_value *cluster_import(sf_call *call, const char *id, sf_diags *diags)
{
    (void)call;
    if (!sf_engine_for_id(id)) {
        sf_diag_error(diags, NULL, "Cannot import cluster",
                      "\"%s\" is not a cluster id: local clusters have ids like local-3f9a1c2b7d4e, EMR "
                      "clusters like j-2AXXXXXXGAPLF (see `terraform state show` or the id output of the "
                      "cluster).",
                      id);
        return NULL;
    }
    sf_type *type = sf_schema_type(&cluster_schema);
    sf_value *state = sf_value_object();
    for (size_t i = 0; i < type->n; i++) sf_value_put(state, type->names[i], sf_value_null());
    sf_type_free(type);
    sf_value_put(state, "id", sf_value_string(id));
    return state;
}

/* A listed cluster's state: what an import of its id followed by a read
 * gives (the engine block filled), for `terraform query` (cluster_list.c). */
sf_value *sf_cluster_listed_state(const sf_engine *engine, const sf_cluster_info *info)
{
    sf_type *type = sf_schema_type(&cluster_schema);
    sf_value *state = sf_value_object();
    for (size_t i = 0; i < type->n; i++) sf_value_put(state, type->names[i], sf_value_null());
    sf_type_free(type);
    put_info(state, engine, info, true);
    return state;
}

/* Identity: the id alone.  It is unique (the engine is in its form), never
 * changes while the object lives, and is what import by id takes. */
static const sf_identity_attr cluster_identity_attrs[] = {
    {"id", "string", SF_IDENTITY_REQUIRED,
     "The cluster's id, as in state: e.g. `local-3f9a1c2b7d4e` for a local cluster, `j-2AXXXXXXGAPLF` for an EMR "
     "cluster."},
    {NULL},
};

static const sf_identity_def cluster_identity = {
    .version = 0,
    .attrs = cluster_identity_attrs,
    .import_id = "id",
};

const sf_resource_type sf_resource_cluster = {
    .name = "sparkflow_cluster",
    .schema = &cluster_schema,
    .schema_version = 0,
    .timeouts = {.create = 20 * 60000, .update = 20 * 60000, .delete = 10 * 60000, .read = 2 * 60000},
    .validate = cluster_validate,
    .modify_plan = cluster_modify_plan,
    .create = cluster_create,
    .read = cluster_read,
    .update = cluster_update,
    .delete = cluster_delete,
    .import = cluster_import,
    .identity = &cluster_identity,
};
