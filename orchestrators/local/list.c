/* list.c — the local orchestrator's host listing: every Airflow host whose
 * host.json lies under the default root ($HOME/.sparkflow/airflow/<name>,
 * host.c), whatever state file holds it, or none (the orphan finder of
 * `terraform query`).
 *
 * Only hosts whose four components run are listed (that is what costs
 * memory and CPU), each as a read right after `terraform import <id>`
 * reports it (what an adoption gives), without the password.  A record whose
 * processes are gone is not listed and not cleaned up (a refresh of the
 * configuration that holds it does that).  A host with a work_dir of its own
 * outside the root has no host.json there: neither import nor this listing
 * finds it.  Local hosts carry no tags, so a tags filter keeps none.
 */
#include "orchestrators/local/airflow_local.h"

#include <stdlib.h>
#include <string.h>

static const char *const active_states[] = {"running", NULL};

/* Whether every component of the host `r` records still runs: 1 yes, 0 no,
 * -1 its record is unreadable (*err). */
static int runs(const sf_afl_record *r, char **err)
{
    sf_afl_host h;
    if (sf_afl_from_details(r->id, r->details, &h, err) != 0) return -1;
    int alive = sf_afl_dead_component(&h.group) < 0;
    sf_afl_host_clear(&h);
    return alive;
}

/* The host as a read after an import reports it, password dropped. */
static sf_engine_status describe(sf_ctx *ctx, const sf_engine_env *env, const char *id, sf_airflow_host *out,
                                 sf_diags *diags)
{
    sf_airflow_host imported = {.id = (char *)id};
    sf_engine_status st = sf_orchestrator_local.host_read(ctx, env, id, &imported, out, diags);
    if (out->password) {
        memset(out->password, 0, strlen(out->password));
        free(out->password);
        out->password = NULL;
    }
    return st;
}

/* One record: handed to `found` when it runs and the filter keeps it.
 * Returns false when `found` wants no more. */
static bool visit(sf_ctx *ctx, const sf_engine_env *env, const sf_afl_record *r, const sf_list_filter *filter,
                  sf_airflow_found_fn found, void *arg, sf_diags *diags)
{
    if (!sf_list_filter_name(filter, r->name) || !sf_list_filter_state(filter, "running", active_states) ||
        !sf_list_filter_tags(filter, NULL))
        return true;
    char *err = NULL;
    int alive = runs(r, &err);
    if (alive < 0) sf_log(ctx, SF_LOG_WARN, "airflow %s: %s (not listed)", r->id, err);
    free(err);
    if (alive <= 0) return true;
    /* The read is the import's own (so the object is what an adoption gets);
     * it stops a host only when a component died, which was ruled out just
     * now: a component dying in between is stopped, as a refresh would. */
    sf_airflow_host h = {0};
    bool more = true;
    if (describe(ctx, env, r->id, &h, diags) == SF_ENGINE_OK) {
        const sf_value *port = sf_value_get(h.details, "api_port");
        char *summary = sf_fmt("running, api 127.0.0.1:%s", port ? sf_value_get_str(port) : "?");
        more = found(arg, &h, summary);
        free(summary);
    }
    sf_airflow_host_clear(&h);
    return more;
}

sf_engine_status sf_afl_host_list(sf_ctx *ctx, const sf_engine_env *env, const sf_list_filter *filter,
                                  sf_airflow_found_fn found, void *arg, sf_diags *diags)
{
    char **dirs = sf_afl_record_dirs();
    sf_engine_status st = SF_ENGINE_OK;
    bool more = true;
    for (size_t i = 0; dirs[i]; i++) {
        if (more && st == SF_ENGINE_OK && sf_ctx_done(ctx)) {
            sf_diag_error(diags, NULL, "Listing of local Airflow hosts stopped", "%s.", sf_ctx_reason(ctx));
            st = SF_ENGINE_ERROR;
        }
        sf_afl_record r;
        if (more && st == SF_ENGINE_OK && sf_afl_record_load(dirs[i], &r) == 0) {
            more = visit(ctx, env, &r, filter, found, arg, diags);
            sf_afl_record_clear(&r);
        }
        free(dirs[i]);
    }
    free(dirs);
    return st;
}
