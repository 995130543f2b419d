/* cluster_list.c — list "sparkflow_cluster": every cluster the provider
 * made that still runs, whether or not a state holds it (`terraform query`,
 * Terraform 1.14+).  The orphan finder: a cluster a lost state file or a
 * failed destroy left behind is listed with its identity, and
 * `-generate-config-out` writes the configuration that adopts it.
 *
 * Each engine finds its own clusters (engine.h cluster_list); this file
 * only reads the filters, asks the engines and names each cluster so that a
 * person sees what it costs:
 *   finances-dev (local local-3f9a1c2b7d4e, running, 2 workers)
 *   finances (emr j-2AXXXXXXGAPLF, WAITING, up 3h12m, 3 × m5.xlarge)
 */
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "resources/resources.h"

static const sf_attr_def list_attrs[] = {
    {"engine", "string", SF_ATTR_OPTIONAL,
     "Only the clusters of this engine: `local` (this machine's registry) or `emr` (the provider's AWS region). "
     "Default: local clusters, and EMR clusters when the provider has AWS settings (in its block or the "
     "environment)."},
    {"states", "[\"list\",\"string\"]", SF_ATTR_OPTIONAL,
     "Only clusters in one of these states, in the engine's words (any case): `running` for a local cluster; "
     "EMR's `STARTING`, `BOOTSTRAPPING`, `RUNNING`, `WAITING`, `TERMINATING`, `TERMINATED`, "
     "`TERMINATED_WITH_ERRORS`. Default: the active states (local: `running`; EMR: all but the terminated ones)."},
    {"name_prefix", "string", SF_ATTR_OPTIONAL, "Only clusters whose name starts with this."},
    {"tags", "[\"map\",\"string\"]", SF_ATTR_OPTIONAL,
     "Only clusters carrying every one of these tags (EMR). Local clusters have no tags: a tags filter lists none "
     "of them."},
    {NULL},
};

static const sf_block_def list_schema = {
    .description = "Lists the Spark clusters this provider made that still run, including ones that no state "
                   "holds (a lost state file, a failed destroy), so they can be adopted with an `import` block "
                   "or found and stopped.",
    .attrs = list_attrs,
};

static void list_validate(sf_call *call, const sf_value *config, sf_diags *diags)
{
    (void)call;
    const sf_value *engine = sf_value_get(config, "engine");
    if (!engine || sf_value_is_null(engine) || sf_value_is_unknown(engine)) return;
    const char *name = sf_value_get_str(engine);
    if (!name || !sf_engine_by_name(name))
        sf_diag_error(diags, "engine", "Unknown engine",
                      "engine = \"%s\" is not an engine of this provider; use \"local\" or \"emr\", or leave it out "
                      "to list every engine's clusters.",
                      name ? name : "");
}

/* What the listing passes each engine's found callback. */
typedef struct listing {
    const sf_engine *engine;
    sf_list_emitter *emit;
    bool done; /* the emitter wants no more */
} listing;

static bool found(void *arg, const sf_cluster_info *info, const char *summary)
{
    listing *l = arg;
    sf_value *state = sf_cluster_listed_state(l->engine, info);
    char *display = sf_fmt("%s (%s %s, %s)", info->name ? info->name : "(no name)", l->engine->name, info->id,
                           summary       ? summary
                           : info->state ? info->state
                                         : "?");
    l->done = !sf_list_emit(l->emit, state, display);
    free(display);
    sf_value_free(state);
    return !l->done;
}

/* The `states` filter: borrowed strings into `config`, caller frees the
 * array (NULL when none). */
static const char **states_of(const sf_value *config, size_t *n)
{
    const sf_value *states = sf_value_get(config, "states");
    *n = 0;
    if (!states || sf_value_is_null(states) || !states->n) return NULL;
    const char **out = calloc(states->n, sizeof *out);
    if (!out) abort();
    for (size_t i = 0; i < states->n; i++) {
        const char *s = sf_value_get_str(states->elems[i]);
        if (s) out[(*n)++] = s;
    }
    return out;
}

const char **sf_list_filter_read(const sf_value *config, sf_list_filter *f)
{
    const sf_value *tags = sf_value_get(config, "tags");
    *f = (sf_list_filter){
        .name_prefix = sf_value_get_str(sf_value_get(config, "name_prefix")),
        .tags = tags && !sf_value_is_null(tags) ? tags : NULL,
    };
    const char **states = states_of(config, &f->n_states);
    f->states = states;
    return states;
}

static void cluster_list(sf_call *call, const sf_value *config, bool include_resource, int64_t limit,
                         sf_list_emitter *emit, sf_diags *diags)
{
    (void)include_resource, (void)limit; /* the runtime drops objects and stops at the limit */
    const char *only = sf_value_get_str(sf_value_get(config, "engine"));
    sf_list_filter filter;
    const char **states = sf_list_filter_read(config, &filter);
    listing l = {.emit = emit};
    for (size_t i = 0; sf_engines[i] && !l.done; i++) {
        const sf_engine *engine = sf_engines[i];
        if (only && strcmp(only, engine->name) != 0) continue;
        if (!engine->cluster_list) {
            if (only)
                sf_diag_error(diags, "engine", "Cannot list these clusters",
                              "This version of the provider cannot list %s clusters yet.", engine->name);
            continue;
        }
        l.engine = engine;
        filter.asked = only != NULL;
        sf_engine_status st = engine->cluster_list(call->ctx, sf_resources_engine_env(call), &filter, found, &l, diags);
        if (st != SF_ENGINE_OK) break;
    }
    free(states);
}

const sf_list_resource_type sf_list_cluster = {
    .name = "sparkflow_cluster",
    .schema = &list_schema,
    .validate = list_validate,
    .list = cluster_list,
};
