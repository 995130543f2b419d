/* airflow_list.c — list "sparkflow_airflow": every Airflow host the
 * provider started that still runs, whether or not a state holds it
 * (`terraform query`, Terraform 1.14+).  The orphan finder for the other
 * long-lived thing the provider makes: a host a lost state file or a failed
 * destroy left behind is listed with its identity, and
 * `-generate-config-out` writes the configuration that adopts it.
 *
 * Each orchestrator finds its own hosts (orchestrator.h host_list); this
 * file only reads the filters (the cluster list's, list_filter.h), asks the
 * orchestrators and names each host so that a person sees what it costs:
 *   nightly (local airflow-3f9a1c2b7d4e, running, api 127.0.0.1:38211)
 *   nightly (ec2 i-0abc123def4567890, running, up 3h12m, t3.large)
 *
 * A listed host carries no password (a listing fetches no secret, and
 * `terraform query -json` prints what it gets): the password is computed
 * only, so the generated configuration does not hold it and the import the
 * plan then makes reads it as `terraform import` does.
 */
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "resources/resources.h"

static const sf_attr_def list_attrs[] = {
    {"host", "string", SF_ATTR_OPTIONAL,
     "Only the hosts of this kind: `local` (this machine's hosts under `~/.sparkflow`) or `ec2` (the provider's "
     "AWS region). Default: local hosts, and EC2 hosts when the provider has AWS settings (in its block or the "
     "environment)."},
    {"states", "[\"list\",\"string\"]", SF_ATTR_OPTIONAL,
     "Only hosts in one of these states (any case): `running` for a local host; EC2's instance states "
     "`pending`, `running`, `stopping`, `stopped`, `shutting-down`, `terminated`. Default: the billed states "
     "(local: `running`; EC2: `pending` and `running`)."},
    {"name_prefix", "string", SF_ATTR_OPTIONAL, "Only hosts whose name starts with this."},
    {"tags", "[\"map\",\"string\"]", SF_ATTR_OPTIONAL,
     "Only hosts carrying every one of these tags (EC2). Local hosts have no tags: a tags filter lists none of "
     "them."},
    {NULL},
};

static const sf_block_def list_schema = {
    .description = "Lists the Airflow hosts this provider started that still run, including ones that no state "
                   "holds (a lost state file, a failed destroy), so they can be adopted with an `import` block "
                   "or found and stopped.",
    .attrs = list_attrs,
};

static const sf_orchestrator *orchestrator_named(const char *name)
{
    for (size_t i = 0; name && sf_orchestrators[i]; i++)
        if (strcmp(sf_orchestrators[i]->name, name) == 0) return sf_orchestrators[i];
    return NULL;
}

static void list_validate(sf_call *call, const sf_value *config, sf_diags *diags)
{
    (void)call;
    const sf_value *host = sf_value_get(config, "host");
    if (!host || sf_value_is_null(host) || sf_value_is_unknown(host)) return;
    const char *name = sf_value_get_str(host);
    if (!orchestrator_named(name))
        sf_diag_error(diags, "host", "Unknown Airflow host kind",
                      "host = \"%s\" is not a kind of Airflow host this provider makes; use \"local\" or \"ec2\", "
                      "or leave it out to list both.",
                      name ? name : "");
}

/* What the listing passes each orchestrator's found callback. */
typedef struct listing {
    const sf_orchestrator *o;
    sf_list_emitter *emit;
    bool done; /* the emitter wants no more */
} listing;

/* "nightly (ec2 i-0abc…, running, up 3h12m, t3.large)", malloc'd. */
char *sf_airflow_display_name(const char *kind, const sf_airflow_host *h, const char *summary)
{
    return sf_fmt("%s (%s %s, %s)", h->name ? h->name : "(no name)", kind, h->id ? h->id : "?",
                  summary    ? summary
                  : h->state ? h->state
                             : "?");
}

static bool found(void *arg, const sf_airflow_host *h, const char *summary)
{
    listing *l = arg;
    sf_value *state = sf_airflow_listed_state(l->o, h);
    char *display = sf_airflow_display_name(l->o->name, h, summary);
    l->done = !sf_list_emit(l->emit, state, display);
    free(display);
    sf_value_free(state);
    return !l->done;
}

static void airflow_list(sf_call *call, const sf_value *config, bool include_resource, int64_t limit,
                         sf_list_emitter *emit, sf_diags *diags)
{
    (void)include_resource, (void)limit; /* the runtime drops objects and stops at the limit */
    const char *only = sf_value_get_str(sf_value_get(config, "host"));
    sf_list_filter filter;
    const char **states = sf_list_filter_read(config, &filter);
    filter.asked = only != NULL;
    listing l = {.emit = emit};
    for (size_t i = 0; sf_orchestrators[i] && !l.done; i++) {
        const sf_orchestrator *o = sf_orchestrators[i];
        if (only && strcmp(only, o->name) != 0) continue;
        if (!o->host_list) {
            if (only)
                sf_diag_error(diags, "host", "Cannot list these hosts",
                              "This version of the provider cannot list %s Airflow hosts yet.", o->name);
            continue;
        }
        l.o = o;
        if (o->host_list(call->ctx, sf_resources_engine_env(call), &filter, found, &l, diags) != SF_ENGINE_OK) break;
    }
    free(states);
}

const sf_list_resource_type sf_list_airflow = {
    .name = "sparkflow_airflow",
    .schema = &list_schema,
    .validate = list_validate,
    .list = airflow_list,
};
