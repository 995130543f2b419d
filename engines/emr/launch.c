/* launch.c — a per-run EMR cluster: launched with the run's steps, gone
 * after them.
 *
 * A pipeline's `run_cluster { emr {} }` pays for a cluster only while its
 * stages run.  One RunJobFlow carries the cluster and every stage as a step
 * (ActionOnFailure TERMINATE_CLUSTER) with KeepJobFlowAliveWhenNoSteps
 * false: EMR runs the steps in order and terminates the cluster after the
 * last one, or at the first failure (the later steps are cancelled).  No
 * idle time is billed, so no auto-termination policy is needed.
 *
 * The run is followed with one ListSteps per poll (and a DescribeCluster
 * every few polls, every poll once the steps are done) and ends only when
 * the cluster is TERMINATED (or TERMINATED_WITH_ERRORS):
 * the pipeline reports a run whose cluster is gone.  A cancel or a timeout
 * sends TerminateJobFlows (which stops the running step) and waits for
 * TERMINATED under a cleanup context.  A cluster that ends before its steps
 * did (a bootstrap action failed, no capacity) fails the run with EMR's
 * reason.  Outputs are published by the run transaction only after all of
 * this, as for any run.
 */
#include "engines/emr/emr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/time.h"

#define POLL_CAP_MS 15000
#define FIND_ATTEMPTS 5
#define GONE_BUDGET_MS (30 * 60 * 1000)
#define LOOK_EVERY 4

/* One per-run cluster's state while it is followed. */
typedef struct launched {
    sf_aws_client *c;
    sf_emr_steps steps;
    sf_launch_report *launch;
    const char *pipeline;
    bool failed;    /* a stage failed: the rest are settled, the cluster goes */
    char *end_code; /* the cluster's StateChangeReason when it ended early */
    char *end_message;
} launched;

static bool gone(const char *state)
{
    return state && (!strcmp(state, "TERMINATED") || !strcmp(state, "TERMINATED_WITH_ERRORS"));
}

static void add_tag(cJSON *body, const char *key, const char *value)
{
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "Key", key);
    cJSON_AddStringToObject(t, "Value", value);
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(body, "Tags"), t);
}

/* The steps as EMR listed them once RunJobFlow answered (they are part of
 * the job flow): 0, or -1 with a diagnostic. */
static int find_steps(launched *l, sf_ctx *ctx, sf_diags *diags)
{
    for (int attempt = 0; attempt < FIND_ATTEMPTS; attempt++) {
        if (sf_emr_steps_find(&l->steps, ctx) == 1) return 0;
        if (sf_ctx_sleep_ms(ctx, sf_backoff_ms(attempt, 500, 5000)) != 0) break;
    }
    sf_diag_error(diags, NULL, "Cannot find the run's EMR steps",
                  "EMR cluster %s was launched with the pipeline's steps, but ListSteps does not show them%s. The "
                  "cluster is being terminated.",
                  l->launch->cluster_id, sf_ctx_done(ctx) ? " before the operation was stopped" : "");
    return -1;
}

/* The cluster's state now (and its timeline into the report): 0 with
 * *state (malloc'd), -1 on an error that is not transient. */
static int look(launched *l, sf_ctx *ctx, char **state, sf_diags *diags)
{
    *state = NULL;
    cJSON *cl = NULL;
    sf_aws_error err = {0};
    int rc = sf_emr_describe(l->c, ctx, l->launch->cluster_id, &cl, &err);
    if (rc < 0) {
        bool transient = sf_aws_retryable(err.status, err.code, 0) || err.status == 0;
        if (!transient && !sf_ctx_done(ctx))
            sf_aws_diag_error(diags, NULL, "Cannot follow the run's EMR cluster", &err, NULL);
        sf_aws_error_clear(&err);
        return transient ? 0 : -1;
    }
    sf_aws_error_clear(&err);
    *state = sf_strdup(rc == 1 ? "TERMINATED" : sf_emr_str(cl, "Status.State"));
    int64_t ready = sf_emr_timeline_ms(cl, "ReadyDateTime"), end = sf_emr_timeline_ms(cl, "EndDateTime");
    if (ready && !l->launch->ready_ms) l->launch->ready_ms = ready;
    if (gone(*state)) {
        l->launch->gone_ms = end ? end : sf_time_wall_ms();
        if (!l->end_code) {
            l->end_code = sf_strdup(sf_emr_str(cl, "Status.StateChangeReason.Code"));
            l->end_message = sf_strdup(sf_emr_str(cl, "Status.StateChangeReason.Message"));
        }
    }
    cJSON_Delete(cl);
    return 0;
}

/* A cancel or a timeout: terminate the cluster (stopping the running
 * step) and wait until it is gone. */
static void stop(launched *l, sf_ctx *ctx, sf_stage_result *results, sf_diags *diags)
{
    sf_ctx *cleanup = sf_ctx_new_cleanup(ctx, GONE_BUDGET_MS);
    char *why = sf_fmt("the operation was %s", sf_ctx_reason(ctx) ? sf_ctx_reason(ctx) : "stopped");
    sf_log(ctx, SF_LOG_INFO, "pipeline %s: %s: terminating EMR cluster %s", l->pipeline, why, l->launch->cluster_id);
    if (sf_emr_terminate(l->c, cleanup, l->launch->cluster_id, true, diags) == 0) {
        l->launch->gone_ms = sf_time_wall_ms();
        free(l->launch->final_state);
        l->launch->final_state = sf_strdup("TERMINATED");
    }
    sf_emr_steps_settle(&l->steps, results, why);
    free(why);
    sf_ctx_free(cleanup);
}

/* Follow the steps and the cluster until the cluster is gone.  OK when
 * every stage succeeded. */
static sf_engine_status follow(launched *l, sf_ctx *ctx, sf_stage_result *results, sf_diags *diags)
{
    sf_emr_poll poll;
    sf_emr_poll_init(&poll, POLL_CAP_MS);
    bool asked_to_end = false;
    unsigned polls = 0;
    for (;;) {
        if (sf_emr_poll_wait(&poll, ctx) != 0) {
            stop(l, ctx, results, diags);
            return SF_ENGINE_ERROR;
        }
        if (!sf_emr_steps_done(&l->steps)) {
            int changed = sf_emr_steps_poll(&l->steps, ctx, results, &l->failed, diags);
            if (changed < 0) {
                stop(l, ctx, results, diags);
                return SF_ENGINE_ERROR;
            }
            if (changed) sf_emr_poll_reset(&poll);
            /* The same failure semantics as a kept cluster: the stages after
             * a failed one did not run. */
            if (l->failed) sf_emr_steps_settle(&l->steps, results, "an earlier stage failed");
        }
        /* While steps run, ListSteps tells most: the cluster itself is
         * looked at every LOOK_EVERY polls (it may end early), and at every
         * poll once the steps are done. */
        if (!sf_emr_steps_done(&l->steps) && ++polls % LOOK_EVERY != 0) continue;
        char *state = NULL;
        if (look(l, ctx, &state, diags) != 0) {
            free(state);
            stop(l, ctx, results, diags);
            return SF_ENGINE_ERROR;
        }
        if (gone(state)) {
            free(l->launch->final_state);
            l->launch->final_state = state;
            break;
        }
        /* EMR ends the cluster itself after the last step or a failed one;
         * a cluster still WAITING then would bill idle time: end it. */
        if (!asked_to_end && sf_emr_steps_done(&l->steps) && state && !strcmp(state, "WAITING")) {
            sf_log(ctx, SF_LOG_WARN, "emr: cluster %s is WAITING after the run's last step: terminating it",
                   l->launch->cluster_id);
            asked_to_end = sf_emr_terminate(l->c, ctx, l->launch->cluster_id, false, diags) == 0;
        }
        free(state);
    }
    if (!sf_emr_steps_done(&l->steps)) {
        /* The cluster ended first: one last look at the steps, then EMR's
         * reason for the rest. */
        sf_emr_steps_poll(&l->steps, ctx, results, &l->failed, diags);
        char *why = sf_fmt("EMR cluster %s ended first (%s%s%s)", l->launch->cluster_id,
                           l->end_code ? l->end_code : "no reason given", l->end_message ? ": " : "",
                           l->end_message ? l->end_message : "");
        if (!sf_emr_steps_done(&l->steps)) {
            sf_diag_error(diags, NULL, "The run's EMR cluster ended before its steps",
                          "%s. The cluster's logs are under its log_uri, if set. Nothing of it is left running.", why);
            l->failed = true;
        }
        sf_emr_steps_settle(&l->steps, results, why);
        free(why);
    }
    return l->failed ? SF_ENGINE_ERROR : SF_ENGINE_OK;
}

/* Launch the cluster with the steps: 0 with the cluster id in the report,
 * -1 with a diagnostic (nothing launched). */
static int launch_cluster(launched *l, sf_ctx *ctx, const char *name, const sf_value *spec, const sf_run_spec *run,
                          sf_diags *diags)
{
    sf_emr_spec s;
    if (sf_emr_spec_from_value(spec, &s, diags) != 0) {
        sf_emr_spec_clear(&s);
        return -1;
    }
    cJSON *steps = sf_emr_steps_build(&l->steps, ctx, "TERMINATE_CLUSTER", diags);
    int rc = -1;
    if (steps) {
        char token[33];
        if (sf_aws_random_hex(token) != 0) snprintf(token, sizeof token, "%016llx", (long long)sf_time_wall_ms());
        sf_value *resolved = sf_emr_spec_resolved(spec);
        cJSON *body = sf_emr_job_flow_body(l->c, name, &s, resolved, token, steps);
        add_tag(body, "sparkflow:pipeline", run->pipeline);
        add_tag(body, "sparkflow:run", run->run_id);
        l->launch->requested_ms = sf_time_wall_ms();
        char *id = NULL;
        rc = sf_emr_run_job_flow(l->c, ctx, name, body, token, &id, diags);
        if (rc == 0) {
            l->launch->cluster_id = id;
            l->steps.cluster = id;
            l->steps.log_uri = sf_emr_s3_log_root(s.log_uri);
            sf_log(ctx, SF_LOG_INFO, "pipeline %s: launched EMR cluster %s for run %s (%lld × %s core, %zu steps)",
                   run->pipeline, id, run->run_id, (long long)s.core_instance_count, s.core_instance_type,
                   run->n_stages);
        }
        cJSON_Delete(body);
        sf_value_free(resolved);
    }
    sf_emr_spec_clear(&s);
    return rc;
}

sf_engine_status sf_emr_pipeline_run_launched(sf_ctx *ctx, const sf_engine_env *env, const char *name,
                                              const sf_value *spec, const sf_run_spec *run, sf_stage_result *results,
                                              sf_launch_report *launch, sf_diags *diags)
{
    sf_aws_client *owned = NULL, *parent = sf_emr_client(env, &owned, diags);
    sf_engine_status st = SF_ENGINE_ERROR;
    int64_t t0 = sf_time_mono_ms();
    launched l = {.launch = launch, .pipeline = run->pipeline};
    if (parent) {
        l.c = sf_aws_client_child(parent);
        if (sf_emr_steps_init(&l.steps, l.c, run, NULL, diags) == 0 &&
            launch_cluster(&l, ctx, name, spec, run, diags) == 0) {
            if (find_steps(&l, ctx, diags) == 0) {
                sf_emr_steps_attach(&l.steps, ctx, results);
                st = follow(&l, ctx, results, diags);
            } else {
                stop(&l, ctx, results, diags);
            }
        }
    }
    for (size_t i = 0; i < run->n_stages; i++)
        if (!results[i].status) results[i].status = sf_strdup("not_run");
    launch->last_step_ms = sf_stage_results_last_end(results, run->n_stages);
    if (launch->cluster_id)
        sf_log(ctx, SF_LOG_INFO,
               "emr: run %s: cluster %s %s; launch → first step %lld ms, last step → gone %lld ms; %lld API calls in "
               "%lld ms",
               run->run_id, launch->cluster_id, launch->final_state ? launch->final_state : "not seen ending",
               (long long)(results[0].started_at_ms ? results[0].started_at_ms - launch->requested_ms : -1),
               (long long)(launch->gone_ms && launch->last_step_ms ? launch->gone_ms - launch->last_step_ms : -1),
               (long long)sf_aws_client_calls(l.c), (long long)(sf_time_mono_ms() - t0));
    sf_emr_steps_clear(&l.steps);
    free(l.end_code);
    free(l.end_message);
    sf_aws_client_free(l.c);
    sf_aws_client_free(owned);
    return st;
}

char *sf_emr_spec_summary(const sf_value *spec)
{
    sf_emr_spec s;
    sf_diags scratch;
    sf_diags_init(&scratch);
    char *summary = NULL;
    if (sf_emr_spec_from_value(spec, &s, &scratch) == 0)
        summary = sf_fmt("an EMR cluster of 1 × %s primary + %lld × %s core (%s, %s)", s.master_instance_type,
                         (long long)s.core_instance_count, s.core_instance_type, s.release_label,
                         strcmp(s.market, "SPOT") == 0 ? "spot" : "on demand");
    else summary = sf_strdup("an EMR cluster");
    sf_emr_spec_clear(&s);
    sf_diags_clear(&scratch);
    return summary;
}
