/* list.c — the local engine's cluster listing: every cluster this HOME's
 * registry ($HOME/.sparkflow/local/<id>, registry.c) records, whatever
 * state file holds it, or none (the orphan finder of `terraform query`).
 *
 * Only clusters whose processes run are listed, each as cluster_read
 * reports it (state "running"): that is what costs memory and CPU, and what
 * an import adopts.  A record whose processes are gone is not listed: there
 * is nothing to adopt or stop, and listing never cleans up (a refresh of the
 * configuration that holds it does).  A cluster whose status cannot be read
 * is reported as a warning.  Local clusters carry no tags, so a tags filter
 * keeps none of them.
 */
#include "engines/local/local.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

static const char *const active_states[] = {"running", NULL};

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The ids recorded under the registry root, sorted (for a stable listing);
 * NULL-terminated, caller frees.  A missing registry is an empty list. */
static char **recorded_ids(const char *root)
{
    size_t n = 0, cap = 8;
    char **ids = malloc(cap * sizeof *ids);
    if (!ids) abort();
    DIR *d = opendir(root);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!sf_local_id_valid(e->d_name)) continue;
        if (n + 1 >= cap && !(ids = realloc(ids, (cap *= 2) * sizeof *ids))) abort();
        ids[n++] = sf_strdup(e->d_name);
    }
    if (d) closedir(d);
    qsort(ids, n, sizeof *ids, by_name);
    ids[n] = NULL;
    return ids;
}

/* One recorded cluster: handed to `found` when it runs and the filter keeps
 * it.  Returns false when `found` wants no more. */
static bool visit(sf_ctx *ctx, const char *id, const sf_list_filter *filter, sf_cluster_found_fn found, void *arg,
                  sf_diags *diags)
{
    sf_local_cluster c;
    char *err = NULL;
    int rc = sf_local_record_load(id, &c, &err);
    if (rc != 0) {
        if (rc < 0) sf_log(ctx, SF_LOG_WARN, "local cluster %s: %s (not listed)", id, err);
        free(err);
        return true;
    }
    bool more = true;
    char *why = NULL;
    if (!sf_list_filter_name(filter, c.name) || !sf_list_filter_state(filter, "running", active_states) ||
        !sf_list_filter_tags(filter, NULL)) {
        /* filtered out before any look at its processes */
    } else if ((rc = sf_local_check_cluster(ctx, &c, &why)) == 0) {
        sf_cluster_info info = {0};
        sf_local_cluster_info(&c, &info);
        char *summary = sf_fmt("running, %zu worker%s", c.n_workers, c.n_workers == 1 ? "" : "s");
        more = found(arg, &info, summary);
        free(summary);
        sf_cluster_info_clear(&info);
    } else if (rc > 0) {
        sf_log(ctx, SF_LOG_DEBUG, "local cluster %s is not running (%s): not listed", id, why);
    } else {
        sf_diag_warning(diags, NULL, "Local cluster not listed",
                        "Cannot tell whether local cluster %s (%s) runs: %s. Its record is in %s.", id,
                        c.name ? c.name : "?", why, c.record_dir ? c.record_dir : "?");
    }
    free(why);
    sf_local_cluster_clear(&c);
    return more;
}

sf_engine_status sf_local_cluster_list(sf_ctx *ctx, const sf_engine_env *env, const sf_list_filter *filter,
                                       sf_cluster_found_fn found, void *arg, sf_diags *diags)
{
    (void)env;
    char *err = NULL;
    char *root = sf_local_registry_root(&err);
    if (!root) {
        sf_diag_error(diags, NULL, "Cannot list local clusters", "%s.", err);
        free(err);
        return SF_ENGINE_ERROR;
    }
    char **ids = recorded_ids(root);
    sf_engine_status st = SF_ENGINE_OK;
    for (size_t i = 0; ids[i]; i++) {
        if (sf_ctx_done(ctx)) {
            sf_diag_error(diags, NULL, "Listing of local clusters stopped", "%s.", sf_ctx_reason(ctx));
            st = SF_ENGINE_ERROR;
            break;
        }
        if (!visit(ctx, ids[i], filter, found, arg, diags)) break;
    }
    for (size_t i = 0; ids[i]; i++) free(ids[i]);
    free(ids);
    free(root);
    return st;
}
