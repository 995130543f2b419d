/* run.c — pipeline runs on a local cluster.
 *
 * Stages that share their Spark settings run in ONE Spark application
 * (run_one_app.c): one driver, one SparkContext, one set of executors for
 * the whole run, which on a small machine halves a run's time.  Stages
 * whose settings differ run as one spark-submit each (here), since a Spark
 * application's static settings (memory, cores, JVM options) cannot change
 * between stages.  Either way the driver is a child of the provider in its
 * own process group, so a cancel (Ctrl-C, timeout) stops it and everything
 * it started.  Logs and metrics files live under the cluster's work dir:
 * runs/<pipeline>/<run_id>/<stage>.{log,metrics.json}.
 */
#include "engines/local/local.h"

#include "base/files.h"
#include "base/testpoint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define LOG_TAIL_LINES 25

static char *cancel_reason(sf_ctx *ctx)
{
    return sf_fmt("stopped because the operation was %s", sf_ctx_reason(ctx) ? sf_ctx_reason(ctx) : "cancelled");
}

/* Run one stage as an application of its own; fills *r.  Returns 0 when
 * it succeeded. */
static int run_stage(sf_ctx *ctx, const sf_local_cluster *c, const sf_run_spec *run, const sf_stage_spec *st,
                     const char *dir, sf_stage_result *r)
{
    char *script = realpath(st->script, NULL);
    char *metrics = sf_fmt("%s/%s.metrics.json", dir, st->name);
    r->log = sf_fmt("%s/%s.log", dir, st->name);
    r->started_at_ms = sf_local_wall_ms();
    if (!script) {
        r->status = sf_strdup("failed");
        r->reason = sf_fmt("cannot read script %s: %s", st->script, strerror(errno));
        r->finished_at_ms = sf_local_wall_ms();
        free(metrics);
        return -1;
    }
    char *app = sf_fmt("%s-%s-%s", run->pipeline, st->name, run->run_id);
    char **args = sf_local_stage_args(run, st, metrics);
    char **argv = sf_local_submit_argv(c, app, st->conf, script, (const char *const *)args);
    char **env = sf_local_submit_env(c);
    char *err = NULL;
    pid_t pid = sf_local_spawn_driver(argv, env, dir, r->log, &err);
    int status = -1;
    if (pid > 0) {
        r->step_id = sf_fmt("%d", (int)pid);
        sf_log(ctx, SF_LOG_INFO, "pipeline %s: stage %s started (driver pid %d, log %s)", run->pipeline, st->name,
               (int)pid, r->log);
        sf_testpoint(ctx, "run.driver_started");
        status = sf_local_wait_driver(ctx, pid, NULL, NULL);
    }
    r->finished_at_ms = sf_local_wall_ms();
    if (pid <= 0) {
        r->status = sf_strdup("failed");
        r->reason = err;
        err = NULL;
    } else if (status < 0) {
        r->status = sf_strdup("cancelled");
        r->reason = cancel_reason(ctx);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        sf_local_stage_succeeded(r, metrics);
    } else {
        r->status = sf_strdup("failed");
        r->reason = sf_local_describe_exit(status);
    }
    int rc = strcmp(r->status, "succeeded") == 0 ? 0 : -1;
    if (rc != 0) r->log_tail = sf_local_log_tail(r->log, LOG_TAIL_LINES);
    sf_log(ctx, SF_LOG_INFO, "pipeline %s: stage %s %s in %lld ms", run->pipeline, st->name, r->status,
           (long long)(r->finished_at_ms - r->started_at_ms));
    free(err);
    sf_local_strv_free(argv);
    sf_local_strv_free(args);
    sf_local_strv_free(env);
    free(app);
    free(script);
    free(metrics);
    return rc;
}

static bool same_strv(const char *const *a, const char *const *b)
{
    size_t i = 0;
    for (; a && a[i] && b && b[i]; i++)
        if (strcmp(a[i], b[i]) != 0) return false;
    return !(a && a[i]) && !(b && b[i]);
}

/* One application for the run: more than one stage, all with the same
 * Spark settings, every script readable. */
static bool one_app(const sf_run_spec *run)
{
    if (run->n_stages < 2) return false;
    for (size_t i = 0; i < run->n_stages; i++) {
        if (!same_strv(run->stages[i].conf, run->stages[0].conf)) return false;
        if (access(run->stages[i].script, R_OK) != 0) return false;
    }
    return true;
}

/* Cluster `id`, loaded from its record and checked to be running: 0, or
 * -1 with an error diagnostic at cluster_id. */
int sf_local_usable_cluster(sf_ctx *ctx, const char *id, sf_local_cluster *c, sf_diags *diags)
{
    char *err = NULL, *why = NULL;
    int loaded = sf_local_id_valid(id) ? sf_local_record_load(id, c, &err) : 1;
    if (loaded == 0 && sf_local_check_cluster(ctx, c, &why) == 0) return 0;
    sf_diag_error(diags, "cluster_id", "Cluster is not running",
                  "Cluster %s is not running%s%s. Run `terraform apply` so the cluster is created "
                  "again, then the pipeline runs on it.",
                  id, why || err ? ": " : "",
                  why   ? why
                  : err ? err
                        : "");
    free(err);
    free(why);
    sf_local_cluster_clear(c);
    return -1;
}

sf_engine_status sf_local_run_stages(sf_ctx *ctx, const sf_local_cluster *c, const sf_run_spec *run, const char *dir,
                                     sf_stage_result *results, sf_diags *diags)
{
    sf_engine_status st = SF_ENGINE_OK;
    if (sf_file_mkdirs(dir) != 0) {
        sf_diag_error(diags, NULL, "Cannot create the run's log directory", "%s: %s", dir, strerror(errno));
        for (size_t i = 0; i < run->n_stages; i++) results[i].status = sf_strdup("not_run");
        st = SF_ENGINE_ERROR;
    } else if (one_app(run)) {
        if (sf_local_run_one_app(ctx, c, run, dir, results) != 0) st = SF_ENGINE_ERROR;
    } else {
        for (size_t i = 0; i < run->n_stages; i++) {
            if (st != SF_ENGINE_OK) results[i].status = sf_strdup("not_run");
            else if (run_stage(ctx, c, run, &run->stages[i], dir, &results[i]) != 0) st = SF_ENGINE_ERROR;
        }
    }
    return st;
}

sf_engine_status sf_local_pipeline_run(sf_ctx *ctx, const sf_engine_env *env, const char *id, const sf_run_spec *run,
                                       sf_stage_result *results, sf_diags *diags)
{
    (void)env;
    sf_local_cluster c = {0};
    if (sf_local_usable_cluster(ctx, id, &c, diags) != 0) {
        for (size_t i = 0; i < run->n_stages; i++) results[i].status = sf_strdup("not_run");
        return SF_ENGINE_ERROR;
    }
    char *dir = sf_fmt("%s/runs/%s/%s", c.spec.work_dir, run->pipeline, run->run_id);
    sf_engine_status st = sf_local_run_stages(ctx, &c, run, dir, results, diags);
    free(dir);
    sf_local_cluster_clear(&c);
    return st;
}
