/* launch.c — a local cluster for one run: started, used, stopped.
 *
 * A pipeline's `run_cluster { local {} }` asks locally for what a per-run
 * EMR cluster gives: no cluster between runs.  The engine starts a Spark
 * standalone cluster exactly as cluster_create does, runs the stages on it
 * as pipeline_run does, and stops it as delete does — also after a failed
 * stage, a cancel or a timeout, under a cleanup context that no Ctrl-C
 * cancels.  The stages' logs must outlive the cluster's work dir, so they go
 * to $HOME/.sparkflow/runs/<pipeline>/<run_id>/; the newest KEEP_RUNS runs
 * of each pipeline are kept.
 */
#include "engines/local/local.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#define KEEP_RUNS 20
#define STOP_BUDGET_MS (2 * 60 * 1000)

/* $HOME/.sparkflow/runs/<pipeline> (malloc'd), beside the registry. */
static char *runs_dir(const char *pipeline, char **err)
{
    char *root = sf_local_registry_root(err); /* …/.sparkflow/local */
    if (!root) return NULL;
    char *slash = strrchr(root, '/');
    if (slash) *slash = '\0';
    char *dir = sf_fmt("%s/runs/%s", root, pipeline);
    free(root);
    return dir;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Remove all but the newest KEEP_RUNS run directories (run ids sort by
 * time). */
static void prune(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 32;
            names = realloc(names, cap * sizeof *names);
            if (!names) abort();
        }
        names[n++] = sf_strdup(e->d_name);
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        if (i + KEEP_RUNS < n) {
            char *path = sf_fmt("%s/%s", dir, names[i]);
            sf_local_remove_tree(path);
            free(path);
        }
        free(names[i]);
    }
    free(names);
}

/* Run the stages on the started cluster `info`, logs kept beside the
 * registry. */
static sf_engine_status run_on(sf_ctx *ctx, const sf_cluster_info *info, const sf_run_spec *run,
                               sf_stage_result *results, sf_diags *diags)
{
    char *err = NULL, *base = runs_dir(run->pipeline, &err);
    if (!base) {
        sf_diag_error(diags, NULL, "Cannot keep the run's logs", "%s.", err);
        free(err);
        return SF_ENGINE_ERROR;
    }
    sf_local_cluster c = {0};
    sf_engine_status st = SF_ENGINE_ERROR;
    if (sf_local_usable_cluster(ctx, info->id, &c, diags) == 0) {
        char *dir = sf_fmt("%s/%s", base, run->run_id);
        st = sf_local_run_stages(ctx, &c, run, dir, results, diags);
        free(dir);
        prune(base);
    }
    sf_local_cluster_clear(&c);
    free(base);
    return st;
}

sf_engine_status sf_local_pipeline_run_launched(sf_ctx *ctx, const sf_engine_env *env, const char *name,
                                                const sf_value *spec, const sf_run_spec *run, sf_stage_result *results,
                                                sf_launch_report *launch, sf_diags *diags)
{
    launch->requested_ms = sf_local_wall_ms();
    sf_cluster_info info = {0};
    sf_engine_status st = sf_engine_local.cluster_create(ctx, env, name, spec, &info, diags);
    if (st == SF_ENGINE_OK) {
        launch->cluster_id = sf_strdup(info.id);
        launch->ready_ms = sf_local_wall_ms();
        st = run_on(ctx, &info, run, results, diags);
        launch->last_step_ms = sf_stage_results_last_end(results, run->n_stages);
        sf_ctx *cleanup = sf_ctx_new_cleanup(ctx, STOP_BUDGET_MS);
        if (sf_engine_local.cluster_delete(cleanup, env, info.id, &info, diags) == SF_ENGINE_OK) {
            launch->gone_ms = sf_local_wall_ms();
            launch->final_state = sf_strdup("stopped");
            sf_log(ctx, SF_LOG_INFO, "pipeline %s: local cluster %s of run %s stopped", run->pipeline, info.id,
                   run->run_id);
        } else {
            st = SF_ENGINE_ERROR;
        }
        sf_ctx_free(cleanup);
    } else {
        launch->final_state = sf_strdup("not started");
    }
    for (size_t i = 0; i < run->n_stages; i++)
        if (!results[i].status) results[i].status = sf_strdup("not_run");
    sf_cluster_info_clear(&info);
    return st;
}

char *sf_local_spec_summary(const sf_value *spec)
{
    sf_local_spec s;
    sf_diags scratch;
    sf_diags_init(&scratch);
    char *summary = NULL;
    if (sf_local_spec_from_value(spec, &s, &scratch) == 0)
        summary = sf_fmt("a Spark standalone master and %lld worker%s of %lld core%s and %s each, on this machine",
                         (long long)s.workers, s.workers == 1 ? "" : "s", (long long)s.worker_cores,
                         s.worker_cores == 1 ? "" : "s", s.worker_memory);
    else summary = sf_strdup("a Spark standalone cluster on this machine");
    sf_local_spec_clear(&s);
    sf_diags_clear(&scratch);
    return summary;
}
