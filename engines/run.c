/* run.c — the run transaction (run.h): stage a fresh run in the lake, run
 * the stages on the engine, publish the outputs when every stage succeeded,
 * discard them otherwise.  It owns no state between runs: the caller
 * records what the result says. */
#include "engines/run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "base/testpoint.h"
#include "base/time.h"
#include "engines/env.h"

char *sf_run_lake_uri(const char *lake, const char *rel)
{
    size_t n = strlen(lake);
    while (n > 0 && lake[n - 1] == '/') n--;
    while (*rel == '/') rel++;
    return sf_fmt("%.*s/%s", (int)n, lake, rel);
}

char *sf_run_new_id(void)
{
    int64_t now = sf_time_wall_ms();
    char stamp[SF_TIME_COMPACT_LEN];
    sf_time_compact(stamp, now);
    unsigned char rnd[3];
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(rnd, 1, sizeof rnd, f) != sizeof rnd) memset(rnd, (int)(now % 1000), sizeof rnd);
    if (f) fclose(f);
    return sf_fmt("%s-%02x%02x%02x", stamp, rnd[0], rnd[1], rnd[2]);
}

/* ---- the engine's view of the stages ------------------------------------------ */

/* sf_stage_spec of each stage, with NULL-terminated args and "key=value"
 * settings; strings borrowed from the pipeline except the settings. */
typedef struct stage_views {
    sf_stage_spec *stages;
    const char ***args;
    char ***conf;
    size_t n;
} stage_views;

static void views_build(stage_views *sv, const sf_run_pipeline *p)
{
    sv->n = p->n_stages;
    sv->stages = calloc(sv->n, sizeof *sv->stages);
    sv->args = calloc(sv->n, sizeof *sv->args);
    sv->conf = calloc(sv->n, sizeof *sv->conf);
    if (!sv->stages || !sv->args || !sv->conf) abort();
    for (size_t i = 0; i < sv->n; i++) {
        const sf_run_stage *st = &p->stages[i];
        sv->args[i] = calloc(st->n_args + 1, sizeof *sv->args[i]);
        sv->conf[i] = calloc(st->n_conf + 1, sizeof *sv->conf[i]);
        if (!sv->args[i] || !sv->conf[i]) abort();
        for (size_t k = 0; k < st->n_args; k++) sv->args[i][k] = st->args[k];
        for (size_t k = 0; k < st->n_conf; k++) sv->conf[i][k] = sf_fmt("%s=%s", st->conf[k].key, st->conf[k].value);
        sv->stages[i] = (sf_stage_spec){
            .name = st->name,
            .script = st->script,
            .args = sv->args[i],
            .conf = (const char *const *)sv->conf[i],
        };
    }
}

static void views_clear(stage_views *sv)
{
    for (size_t i = 0; i < sv->n; i++) {
        free(sv->args[i]);
        for (size_t k = 0; sv->conf[i][k]; k++) free(sv->conf[i][k]);
        free(sv->conf[i]);
    }
    free(sv->stages);
    free(sv->args);
    free(sv->conf);
}

/* ---- the transaction ------------------------------------------------------------ */

static void report_failure(sf_diags *diags, const sf_run_pipeline *p, size_t index, const sf_stage_result *r)
{
    char *path = sf_fmt("stage[%zu]", index);
    sf_diag_error(diags, path, "Pipeline stage failed",
                  "Stage \"%s\" of pipeline \"%s\" %s: %s.\n\nLast lines of its log (%s):\n%s\n\n"
                  "The previously published outputs are unchanged. Fix the cause and run "
                  "`terraform apply` again to retry.",
                  p->stages[index].name, p->name,
                  r->status && strcmp(r->status, "cancelled") == 0 ? "was stopped" : "failed",
                  r->reason ? r->reason : "no reason given", r->log ? r->log : "no log",
                  r->log_tail ? r->log_tail : "(empty)");
    free(path);
}

void sf_run_report_failure(sf_ctx *ctx, const sf_run_pipeline *p, const sf_run_result *r, sf_diags *diags)
{
    for (size_t i = 0; i < r->n_stages; i++) {
        const char *status = r->stages[i].status;
        if (status && strcmp(status, "succeeded") != 0 && strcmp(status, "not_run") != 0)
            report_failure(diags, p, i, &r->stages[i]);
    }
    if (!sf_diags_has_error(diags))
        sf_diag_error(diags, NULL, "Pipeline run failed", "Run %s of pipeline \"%s\" did not complete (%s).", r->run_id,
                      p->name, sf_ctx_reason(ctx) ? sf_ctx_reason(ctx) : "see above");
}

char *sf_run_cluster_name(const char *pipeline, const char *run_id)
{
    const char *dash = strrchr(run_id, '-');
    return sf_fmt("%.50s-run-%s", pipeline, dash ? dash + 1 : run_id);
}

/* A stage that ran out of disk space says so in its log: "No space left on
 * device" (ENOSPC, in every language's wording) or "Disk quota exceeded".
 * Say so plainly, and where: the lake's disk and what it has free now. */
static bool out_of_space(const sf_stage_result *r)
{
    const char *texts[] = {r->log_tail, r->reason};
    for (size_t i = 0; i < 2; i++)
        if (texts[i] && (strstr(texts[i], "No space left on device") || strstr(texts[i], "Disk quota exceeded")))
            return true;
    return false;
}

static void report_disk_full(const sf_lake *lake, const sf_run_pipeline *p, const char *work, const sf_run_result *r,
                             sf_diags *diags)
{
    for (size_t i = 0; i < r->n_stages; i++) {
        if (!out_of_space(&r->stages[i])) continue;
        uint64_t avail = 0, total = 0;
        char *room = lake->disk_space && lake->disk_space(work, &avail, &total) == 0
                         ? sf_fmt(" Its disk has %.1f MB free of %.1f MB now (the run's staging area was removed).",
                                  (double)avail / 1e6, (double)total / 1e6)
                         : sf_strdup("");
        char *path = sf_fmt("stage[%zu]", i);
        sf_diag_error(diags, path, "Disk full",
                      "Stage \"%s\" of pipeline \"%s\" ran out of disk space. The run writes its tables into the "
                      "lake %s.%s Spark's scratch files go to the cluster's work dir, which may be on another disk. "
                      "Free some space, then run `terraform apply` again; the published outputs are unchanged.",
                      p->stages[i].name, p->name, p->lake, room);
        free(path);
        free(room);
        return;
    }
}

/* The stages on a running cluster, or on one launched for them. */
static sf_engine_status run_stages(sf_ctx *ctx, const sf_engine_env *env, const sf_run_cluster *where,
                                   const sf_run_spec *spec, sf_run_result *out, sf_diags *diags)
{
    const sf_engine *engine = where->engine;
    if (where->id) {
        sf_log(ctx, SF_LOG_INFO, "pipeline %s: run %s, %zu stages on %s", spec->pipeline, spec->run_id, spec->n_stages,
               where->id);
        return engine->pipeline_run(ctx, env, where->id, spec, out->stages, diags);
    }
    char *name = sf_run_cluster_name(spec->pipeline, spec->run_id);
    sf_log(ctx, SF_LOG_INFO, "pipeline %s: run %s, %zu stages on a %s cluster launched for it (%s)", spec->pipeline,
           spec->run_id, spec->n_stages, engine->name, name);
    sf_engine_status st =
        engine->pipeline_run_launched(ctx, env, name, where->launch, spec, out->stages, &out->launch, diags);
    free(name);
    return st;
}

sf_run_status sf_run_execute(sf_ctx *ctx, const sf_engine_env *env, const sf_run_cluster *where,
                             const sf_run_pipeline *p, const char *fingerprint, sf_run_result *out, sf_diags *diags)
{
    *out = (sf_run_result){0};
    const sf_lake *lake = sf_lake_for(p->lake, "lake", diags);
    if (!lake) return SF_RUN_NOT_STARTED;
    sf_lake_env lake_env = sf_engine_env_lake(env);
    char *output = sf_run_lake_uri(p->lake, p->output);
    char *run_id = sf_run_new_id(), *work = NULL;
    if (lake->stage(ctx, &lake_env, output, run_id, &work, diags) != 0) {
        free(run_id);
        free(output);
        return SF_RUN_NOT_STARTED;
    }
    sf_testpoint(ctx, "run.staged");
    char *input = sf_run_lake_uri(p->lake, p->input);
    char *reference = sf_run_lake_uri(p->lake, p->reference);
    stage_views sv = {0};
    views_build(&sv, p);
    out->run_id = run_id;
    out->n_stages = sv.n;
    out->stages = calloc(sv.n ? sv.n : 1, sizeof *out->stages);
    if (!out->stages) abort();
    sf_run_spec spec = {
        .pipeline = p->name,
        .run_id = run_id,
        .input_uri = input,
        .work_uri = work,
        .reference_uri = reference,
        .stages = sv.stages,
        .n_stages = sv.n,
    };
    sf_engine_status st = run_stages(ctx, env, where, &spec, out, diags);
    bool ok =
        st == SF_ENGINE_OK && lake->publish(ctx, &lake_env, output, work, run_id, fingerprint, p->name, diags) == 0;
    if (!ok) {
        sf_run_report_failure(ctx, p, out, diags);
        lake->discard(ctx, &lake_env, work, diags);
        report_disk_full(lake, p, work, out, diags);
    } else {
        sf_testpoint(ctx, "run.published"); /* Terraform has not recorded it yet */
    }
    views_clear(&sv);
    free(work);
    free(input);
    free(reference);
    free(output);
    return ok ? SF_RUN_PUBLISHED : SF_RUN_FAILED;
}

void sf_run_result_clear(sf_run_result *r)
{
    for (size_t i = 0; i < r->n_stages; i++) sf_stage_result_clear(&r->stages[i]);
    free(r->stages);
    free(r->run_id);
    sf_launch_report_clear(&r->launch);
    *r = (sf_run_result){0};
}
