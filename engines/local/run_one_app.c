/* run_one_app.c — a pipeline run as one Spark application.
 *
 * The provider writes its stage runner (stage_runner.py, compiled in) and a
 * description of the run next to the run's logs, and submits the runner
 * once.  The runner runs the stages in order in its own SparkSession and
 * appends a line to an events file as each stage starts and ends; this file
 * follows those events while the driver runs (progress in the log, the
 * stages' own start and end times) and, when it exits, turns them into one
 * result per stage: ended → its exit code and metrics; started but not
 * ended → the driver died (or was stopped) during it; never started →
 * not_run, or failed for the first stage when the application itself did
 * not start.
 */
#include "engines/local/local.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "base/files.h"
#include "base/testpoint.h"

#define LOG_TAIL_LINES 25

extern const char sf_local_stage_runner_py[];

typedef struct follow {
    sf_ctx *ctx;
    const sf_run_spec *run;
    sf_stage_result *results;
    const char *events;
    size_t lines_seen;
    int last_exit; /* exit code of the last stage that ended, 0 if none */
} follow;

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    bool ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static void on_event(follow *fw, const cJSON *ev)
{
    const cJSON *idx = cJSON_GetObjectItemCaseSensitive(ev, "stage");
    const cJSON *what = cJSON_GetObjectItemCaseSensitive(ev, "event");
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(ev, "ts_ms");
    if (!cJSON_IsNumber(idx) || !cJSON_IsString(what) || !cJSON_IsNumber(ts)) return;
    if (idx->valuedouble < 0 || idx->valuedouble >= (double)fw->run->n_stages) return;
    size_t i = (size_t)idx->valuedouble;
    sf_stage_result *r = &fw->results[i];
    const char *name = fw->run->stages[i].name;
    if (strcmp(what->valuestring, "start") == 0) {
        /* The first stage counts from the spawn: the application's start-up
         * is its cost, as it is for a stage submitted alone. */
        if (i > 0) {
            r->started_at_ms = (int64_t)ts->valuedouble;
            sf_log(fw->ctx, SF_LOG_INFO, "pipeline %s: stage %s started (log %s)", fw->run->pipeline, name, r->log);
        }
    } else if (strcmp(what->valuestring, "end") == 0) {
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(ev, "exit");
        r->finished_at_ms = (int64_t)ts->valuedouble;
        fw->last_exit = cJSON_IsNumber(code) ? (int)code->valuedouble : 1;
        sf_log(fw->ctx, SF_LOG_DEBUG, "pipeline %s: stage %s exited %d", fw->run->pipeline, name, fw->last_exit);
    }
}

/* Take the events not seen yet (whole lines only). */
static void follow_tick(void *arg)
{
    follow *fw = arg;
    char *text = sf_file_read(fw->events);
    if (!text) return;
    size_t line = 0;
    for (char *p = text, *nl; (nl = strchr(p, '\n')); p = nl + 1, line++) {
        if (line < fw->lines_seen) continue;
        *nl = 0;
        cJSON *ev = cJSON_Parse(p);
        if (ev) on_event(fw, ev);
        cJSON_Delete(ev);
        fw->lines_seen = line + 1;
    }
    free(text);
}

/* The last stage that ended counts until the driver exited: stopping the
 * application is part of the run, as it is for a stage submitted alone. */
static void stretch_last_stage(follow *fw)
{
    for (size_t i = fw->run->n_stages; i-- > 0;)
        if (fw->results[i].finished_at_ms) {
            fw->results[i].finished_at_ms = sf_local_wall_ms();
            return;
        }
}

/* The run description the runner reads (see stage_runner.py). */
static char *run_json(const sf_run_spec *run, const char *events, char *const *logs, char *const *metrics)
{
    cJSON *root = cJSON_CreateObject();
    char *app = sf_fmt("%s-%s", run->pipeline, run->run_id);
    cJSON_AddStringToObject(root, "app", app);
    free(app);
    cJSON_AddStringToObject(root, "events", events);
    cJSON *stages = cJSON_AddArrayToObject(root, "stages");
    for (size_t i = 0; i < run->n_stages; i++) {
        cJSON *st = cJSON_CreateObject();
        char *script = realpath(run->stages[i].script, NULL);
        cJSON_AddStringToObject(st, "name", run->stages[i].name);
        cJSON_AddStringToObject(st, "script", script ? script : run->stages[i].script);
        cJSON_AddStringToObject(st, "log", logs[i]);
        cJSON *argv = cJSON_AddArrayToObject(st, "argv");
        char **args = sf_local_stage_args(run, &run->stages[i], metrics[i]);
        for (size_t k = 0; args[k]; k++) cJSON_AddItemToArray(argv, cJSON_CreateString(args[k]));
        sf_local_strv_free(args);
        cJSON_AddItemToArray(stages, st);
        free(script);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    return text;
}

/* A stage the application ended in (or before) without the stage's own
 * exit code: the spawn failed, the run was cancelled, or the driver died. */
static void ended_without_exit(sf_ctx *ctx, sf_stage_result *r, int status, const char *spawn_err, const char *app_log)
{
    if (!r->started_at_ms) r->started_at_ms = sf_local_wall_ms();
    r->finished_at_ms = sf_local_wall_ms();
    if (spawn_err) {
        r->status = sf_strdup("failed");
        r->reason = sf_strdup(spawn_err);
    } else if (status < 0) {
        r->status = sf_strdup("cancelled");
        r->reason =
            sf_fmt("stopped because the operation was %s", sf_ctx_reason(ctx) ? sf_ctx_reason(ctx) : "cancelled");
    } else {
        r->status = sf_strdup("failed");
        char *how = sf_local_describe_exit(status);
        r->reason = sf_fmt("%s during this stage (Spark's log: %s)", how, app_log);
        free(how);
    }
}

/* One result per stage from what the events said and how the driver ended.
 * Returns 0 when every stage succeeded. */
static int settle(sf_ctx *ctx, const follow *fw, int status, const char *spawn_err, const char *app_log,
                  char *const *metrics, const char *pid)
{
    size_t n = fw->run->n_stages;
    for (size_t i = 0; i < n; i++) {
        sf_stage_result *r = &fw->results[i];
        r->step_id = pid ? sf_strdup(pid) : NULL;
        bool own_exit = r->started_at_ms && r->finished_at_ms;
        if (own_exit) {
            /* The runner goes on only after an exit code 0. */
            bool last = i + 1 == n || !fw->results[i + 1].started_at_ms;
            int code = last ? fw->last_exit : 0;
            if (code == 0) {
                sf_local_stage_succeeded(r, metrics[i]);
            } else {
                r->status = sf_strdup("failed");
                r->reason = sf_fmt("the stage exited with status %d", code);
            }
        } else {
            ended_without_exit(ctx, r, status, spawn_err, app_log);
        }
        if (strcmp(r->status, "succeeded") == 0) continue;
        /* Its own output says why it failed; when the application died
         * under it, Spark's log does. */
        r->log_tail = sf_local_log_tail(own_exit ? r->log : app_log, LOG_TAIL_LINES);
        for (size_t k = i + 1; k < n; k++) fw->results[k].status = sf_strdup("not_run");
        return -1;
    }
    return 0;
}

int sf_local_run_one_app(sf_ctx *ctx, const sf_local_cluster *c, const sf_run_spec *run, const char *dir,
                         sf_stage_result *results)
{
    size_t n = run->n_stages;
    char **logs = calloc(n + 1, sizeof *logs), **metrics = calloc(n + 1, sizeof *metrics);
    if (!logs || !metrics) abort();
    for (size_t i = 0; i < n; i++) {
        logs[i] = sf_fmt("%s/%s.log", dir, run->stages[i].name);
        metrics[i] = sf_fmt("%s/%s.metrics.json", dir, run->stages[i].name);
        results[i].log = sf_strdup(logs[i]);
    }
    char *runner = sf_fmt("%s/_stage_runner.py", dir);
    char *spec = sf_fmt("%s/_run.json", dir);
    char *events = sf_fmt("%s/_events.jsonl", dir);
    char *app_log = sf_fmt("%s/_spark.log", dir);
    char *app = sf_fmt("%s-%s", run->pipeline, run->run_id);
    char *text = run_json(run, events, logs, metrics);
    char *err = NULL, *pid_text = NULL;
    int status = -1;
    follow fw = {.ctx = ctx, .run = run, .results = results, .events = events};
    if (write_file(runner, sf_local_stage_runner_py) != 0 || write_file(spec, text) != 0) {
        err = sf_fmt("cannot write the run's files in %s", dir);
    } else {
        const char *args[] = {spec, NULL};
        char **argv = sf_local_submit_argv(c, app, run->stages[0].conf, runner, args);
        char **env = sf_local_submit_env(c);
        pid_t pid = sf_local_spawn_driver(argv, env, dir, app_log, &err);
        if (pid > 0) {
            pid_text = sf_fmt("%d", (int)pid);
            results[0].started_at_ms = sf_local_wall_ms();
            sf_log(ctx, SF_LOG_INFO,
                   "pipeline %s: stage %s started (one Spark application for its %zu stages: driver pid %d, "
                   "Spark's log %s, the stage's own output %s)",
                   run->pipeline, run->stages[0].name, n, (int)pid, app_log, results[0].log);
            sf_testpoint(ctx, "run.driver_started");
            status = sf_local_wait_driver(ctx, pid, follow_tick, &fw);
            follow_tick(&fw);
            stretch_last_stage(&fw);
        }
        sf_local_strv_free(argv);
        sf_local_strv_free(env);
    }
    int rc = settle(ctx, &fw, status, err, app_log, metrics, pid_text);
    for (size_t i = 0; i < n; i++)
        if (strcmp(results[i].status, "not_run") != 0)
            sf_log(ctx, SF_LOG_INFO, "pipeline %s: stage %s %s in %lld ms", run->pipeline, run->stages[i].name,
                   results[i].status, (long long)(results[i].finished_at_ms - results[i].started_at_ms));
    free(pid_text);
    free(err);
    free(text);
    free(app);
    free(app_log);
    free(events);
    free(spec);
    free(runner);
    sf_local_strv_free(logs);
    sf_local_strv_free(metrics);
    return rc;
}
