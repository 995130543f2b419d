/* pipeline_catalog.c — the `catalog` of a sparkflow_pipeline
 * (pipeline_catalog.h): what its settings resolve to, when it is synced,
 * and its removal.  The catalogs themselves are in catalogs/.
 */
#include "resources/pipeline_catalog.h"

#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "base/time.h"
#include "catalogs/catalog.h"
#include "engines/env.h"
#include "engines/run.h"
#include "resources/resources.h"

#define DEFAULT_CUTOFF 10737418240LL /* 10 GiB: the schema's default */

/* A pipeline value's catalog settings, resolved: the catalog of its lake
 * and the spec it gets (strings owned here or borrowed from the value). */
typedef struct catalog_view {
    const sf_catalog *catalog; /* NULL: off, or the lake has no catalog */
    sf_catalog_spec spec;
    char *database, *workgroup, *output_uri;
} catalog_view;

static const char *str(const sf_value *obj, const char *key)
{
    return sf_value_get_str(sf_value_get(obj, key));
}

static void view_clear(catalog_view *cv)
{
    free(cv->database);
    free(cv->workgroup);
    free(cv->output_uri);
    *cv = (catalog_view){0};
}

/* 1: resolved (cv->catalog NULL when off); 0: a part is not known yet. */
static int view_build(catalog_view *cv, const sf_value *v)
{
    *cv = (catalog_view){0};
    if (!v || sf_value_is_null(v)) return 1;
    const sf_value *block = sf_value_get(v, "catalog");
    const char *keys[] = {"name", "lake", "output"};
    for (size_t i = 0; i < 3; i++)
        if (!sf_value_is_wholly_known(sf_value_get(v, keys[i]))) return 0;
    if (block && !sf_value_is_wholly_known(block)) return 0;
    bool on = true;
    const sf_value *enabled = block && !sf_value_is_null(block) ? sf_value_get(block, "enabled") : NULL;
    if (enabled && !sf_value_is_null(enabled)) on = enabled->boolean;
    const sf_catalog *catalog = on ? sf_catalog_for_lake(str(v, "lake")) : NULL;
    if (!catalog) return 1;
    const char *database = block && !sf_value_is_null(block) ? str(block, "database") : NULL;
    const char *workgroup = block && !sf_value_is_null(block) ? str(block, "workgroup") : NULL;
    int64_t cutoff = DEFAULT_CUTOFF;
    const sf_value *c = block && !sf_value_is_null(block) ? sf_value_get(block, "bytes_scanned_cutoff") : NULL;
    if (c && !sf_value_is_null(c)) sf_value_get_int(c, &cutoff);
    cv->catalog = catalog;
    cv->database = database ? sf_strdup(database) : sf_catalog_default_name(str(v, "name"));
    if (catalog->workgroups)
        cv->workgroup = workgroup ? sf_strdup(workgroup) : sf_catalog_default_workgroup(cv->database);
    cv->output_uri = sf_run_lake_uri(str(v, "lake"), str(v, "output"));
    cv->spec = (sf_catalog_spec){
        .pipeline = str(v, "name"),
        .lake = str(v, "lake"),
        .output_uri = cv->output_uri,
        .database = cv->database,
        .workgroup = cv->workgroup,
        .bytes_scanned_cutoff = cutoff,
    };
    return 1;
}

/* The same catalog, named the same, with the same settings. */
static bool same_catalog(const catalog_view *a, const catalog_view *b)
{
    if (a->catalog != b->catalog) return false;
    if (!a->catalog) return true;
    return strcmp(a->database, b->database) == 0 && strcmp(a->output_uri, b->output_uri) == 0 &&
           strcmp(a->spec.lake, b->spec.lake) == 0 && strcmp(a->spec.pipeline, b->spec.pipeline) == 0 &&
           (a->workgroup == NULL) == (b->workgroup == NULL) &&
           (!a->workgroup || strcmp(a->workgroup, b->workgroup) == 0) &&
           a->spec.bytes_scanned_cutoff == b->spec.bytes_scanned_cutoff;
}

/* The catalog `was` had is no longer where `now` keeps it: turned off, or
 * another catalog, database or workgroup. */
static bool moved(const catalog_view *was, const catalog_view *now)
{
    if (!was->catalog) return false;
    if (!now->catalog || was->catalog != now->catalog || strcmp(was->database, now->database) != 0) return true;
    return was->workgroup && (!now->workgroup || strcmp(was->workgroup, now->workgroup) != 0);
}

static sf_lake_env lake_env(sf_call *call)
{
    return sf_engine_env_lake(sf_resources_engine_env(call));
}

/* ---- Plan --------------------------------------------------------------- */

void sf_pipeline_catalog_plan(sf_call *call, sf_plan *plan, bool runs, sf_diags *diags)
{
    (void)call;
    catalog_view now, was;
    if (!view_build(&now, plan->planned)) {
        sf_value_put(plan->planned, "catalog_database", sf_value_unknown());
        sf_value_put(plan->planned, "catalog_workgroup", sf_value_unknown());
        sf_value_put(plan->planned, "tables", sf_value_unknown());
        return;
    }
    char *where = now.catalog ? now.catalog->where(&now.spec, diags) : NULL;
    sf_value_put(plan->planned, "catalog_database", where ? sf_value_string(where) : sf_value_null());
    sf_value_put(plan->planned, "catalog_workgroup", now.workgroup ? sf_value_string(now.workgroup) : sf_value_null());
    free(where);
    view_build(&was, plan->prior);
    const sf_value *tables = sf_value_get(plan->prior, "tables");
    bool has_run = str(plan->prior, "run_id") != NULL;
    if (!now.catalog) {
        sf_value_put(plan->planned, "tables", sf_value_null());
    } else if (runs || (has_run && (!same_catalog(&now, &was) || !tables || sf_value_is_null(tables)))) {
        sf_value_put(plan->planned, "tables", sf_value_unknown());
    } else {
        sf_value_put(plan->planned, "tables", tables ? sf_value_copy(tables) : sf_value_null());
    }
    view_clear(&now);
    view_clear(&was);
}

bool sf_pipeline_catalog_pending(const sf_value *prior, const sf_value *planned)
{
    if (sf_value_is_unknown(sf_value_get(planned, "tables"))) return true;
    /* Turned off: `tables` is planned null, but the catalog must go. */
    catalog_view now, was;
    view_build(&now, planned);
    view_build(&was, prior);
    bool off = was.catalog && !now.catalog;
    view_clear(&now);
    view_clear(&was);
    return off;
}

/* ---- Sync and removal ---------------------------------------------------- */

static sf_value *tables_value(const sf_catalog_state *st)
{
    sf_value *m = sf_value_map();
    for (size_t i = 0; i < st->n_tables; i++)
        sf_value_put(m, st->tables[i].name, sf_value_string(st->tables[i].location));
    return m;
}

/* The catalog's sync between two INFO lines that time it (bench/bench_catalog
 * reads them). */
static int timed_sync(sf_call *call, const sf_lake_env *env, const catalog_view *cv, sf_catalog_state *st,
                      sf_diags *diags)
{
    sf_log(call->ctx, SF_LOG_INFO, "pipeline %s: catalog sync started (%s %s)", cv->spec.pipeline, cv->catalog->name,
           cv->database);
    int64_t t0 = sf_time_mono_ms();
    int rc = cv->catalog->sync(call->ctx, env, &cv->spec, st, diags);
    long long ms = (long long)(sf_time_mono_ms() - t0);
    if (rc == 0)
        sf_log(call->ctx, SF_LOG_INFO, "pipeline %s: catalog sync done: %zu tables in %lld ms", cv->spec.pipeline,
               st->n_tables, ms);
    else sf_log(call->ctx, SF_LOG_INFO, "pipeline %s: catalog sync failed after %lld ms", cv->spec.pipeline, ms);
    return rc;
}

void sf_pipeline_catalog_settle(sf_call *call, const sf_value *prior, sf_value *state, bool published, sf_diags *diags)
{
    catalog_view now, was;
    view_build(&now, state);
    view_build(&was, prior);
    sf_lake_env env = lake_env(call);
    bool changed = !same_catalog(&now, &was);
    if (!published) {
        /* The published outputs are the prior run's: the catalog still
         * describes them unless its settings changed (then the retry syncs). */
        const sf_value *tables = prior ? sf_value_get(prior, "tables") : NULL;
        sf_value_put(state, "tables",
                     !changed && now.catalog && tables && !sf_value_is_unknown(tables) ? sf_value_copy(tables)
                                                                                       : sf_value_null());
    } else {
        /* Moved or turned off: the old catalog goes first (never another
         * pipeline's: the catalog checks who made it). */
        if (changed && moved(&was, &now)) was.catalog->remove(call->ctx, &env, &was.spec, diags);
        sf_value *tables = sf_value_null();
        if (now.catalog) {
            sf_catalog_state st = {0};
            sf_diags sync_diags;
            sf_diags_init(&sync_diags);
            if (timed_sync(call, &env, &now, &st, &sync_diags) == 0) {
                sf_value_free(tables);
                tables = tables_value(&st);
            } else if (!prior || sf_value_is_null(prior)) {
                /* An error on create makes Terraform taint the pipeline, and
                 * the next apply would replace it: run Spark again for what
                 * only needs a catalog sync.  The run is published and
                 * recorded; a warning says the catalog is not, and the next
                 * plan repairs it in place (`tables` null). */
                for (size_t i = 0; i < sync_diags.n; i++) sync_diags.items[i].severity = SF_DIAG_WARNING;
            }
            sf_diags_move(diags, &sync_diags, NULL);
            sf_catalog_state_clear(&st);
        }
        sf_value_put(state, "tables", tables);
    }
    view_clear(&now);
    view_clear(&was);
}

void sf_pipeline_catalog_adopted(sf_value *state)
{
    catalog_view cv;
    view_build(&cv, state);
    if (cv.catalog && !cv.catalog->follows_publication) sf_value_put(state, "tables", sf_value_null());
    view_clear(&cv);
}

int sf_pipeline_catalog_remove(sf_call *call, const sf_value *prior, bool outputs_too, sf_diags *diags)
{
    catalog_view cv;
    view_build(&cv, prior);
    int rc = 0;
    if (cv.catalog && (outputs_too || !cv.catalog->kept_with_data)) {
        sf_lake_env env = lake_env(call);
        rc = cv.catalog->remove(call->ctx, &env, &cv.spec, diags);
    }
    view_clear(&cv);
    return rc;
}
