/* cluster.c — the EMR cluster lifecycle: create, read, resize, terminate.
 *
 * Create sends one RunJobFlow (auto-termination policy included, so the
 * cluster is never unguarded) tagged sparkflow:managed=true, the provider's
 * default tags, the user's tags, the spec copy (spec.c) and a fresh
 * sparkflow:create-token.  RunJobFlow has no idempotency token: when an
 * attempt fails in a way that may have created a cluster (reset, timeout,
 * 5xx), ListClusters + DescribeCluster look for the token before trying
 * again, so a retry never makes a second cluster.  Then it waits for WAITING
 * or RUNNING; a cluster that ends instead gives its StateChangeReason.  On
 * any failure after RunJobFlow the cluster is terminated (nothing is left
 * running, nothing billed).
 *
 * Read: TERMINATING/TERMINATED* or unknown → GONE (drift; the plan
 * recreates).  Update resizes the core instance group in place.  Delete
 * terminates and waits for TERMINATED.
 */
#include "engines/emr/emr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/time.h"

#define CLUSTER_POLL_CAP_MS 30000
#define CREATE_ATTEMPTS 4

/* ---- helpers ------------------------------------------------------------------ */

/* The client for this call; *owned set when made here.  NULL with a
 * diagnostic when no region is known. */
sf_aws_client *sf_emr_client(const sf_engine_env *env, sf_aws_client **owned, sf_diags *diags)
{
    sf_aws_client *c = sf_engine_env_aws(env, owned);
    char *err = NULL;
    if (!sf_aws_client_region(c, &err)) {
        sf_diag_error(diags, NULL, "AWS region not set", "The emr engine needs an AWS region: %s.", err);
        free(err);
        sf_aws_client_free(*owned);
        *owned = NULL;
        return NULL;
    }
    return c;
}

static bool state_is(const char *state, const char *a, const char *b)
{
    return state && ((a && strcmp(state, a) == 0) || (b && strcmp(state, b) == 0));
}

bool sf_emr_state_ended(const char *state)
{
    return state_is(state, "TERMINATING", "TERMINATED") || state_is(state, "TERMINATED_WITH_ERRORS", NULL);
}

static void add_tag(cJSON *tags, const char *key, const char *value)
{
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "Key", key);
    cJSON_AddStringToObject(t, "Value", value);
    cJSON_AddItemToArray(tags, t);
}

static cJSON *string_array(char *const *items, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(items[i]));
    return a;
}

static char *rfc3339(double epoch_s)
{
    char buf[SF_TIME_RFC3339_LEN];
    sf_time_rfc3339(buf, (int64_t)(epoch_s * 1000));
    return sf_strdup(buf);
}

/* ---- RunJobFlow --------------------------------------------------------------- */

static cJSON *instance_group(const char *role, const char *name, const char *type, int64_t count, const char *market)
{
    cJSON *g = cJSON_CreateObject();
    cJSON_AddStringToObject(g, "Name", name);
    cJSON_AddStringToObject(g, "InstanceRole", role);
    cJSON_AddStringToObject(g, "InstanceType", type);
    cJSON_AddNumberToObject(g, "InstanceCount", (double)count);
    cJSON_AddStringToObject(g, "Market", market);
    return g;
}

cJSON *sf_emr_job_flow_body(sf_aws_client *c, const char *name, const sf_emr_spec *s, const sf_value *resolved,
                            const char *token, cJSON *steps)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "Name", name);
    cJSON_AddStringToObject(b, "ReleaseLabel", s->release_label);
    if (s->log_uri) cJSON_AddStringToObject(b, "LogUri", s->log_uri);
    cJSON *apps = cJSON_AddArrayToObject(b, "Applications");
    for (size_t i = 0; i < s->n_applications; i++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "Name", s->applications[i]);
        cJSON_AddItemToArray(apps, a);
    }
    if (s->configurations_json) cJSON_AddItemToObject(b, "Configurations", cJSON_Parse(s->configurations_json));
    cJSON *inst = cJSON_AddObjectToObject(b, "Instances");
    cJSON *groups = cJSON_AddArrayToObject(inst, "InstanceGroups");
    cJSON_AddItemToArray(groups, instance_group("MASTER", "Master", s->master_instance_type, 1, s->market));
    cJSON_AddItemToArray(groups,
                         instance_group("CORE", "Core", s->core_instance_type, s->core_instance_count, s->market));
    /* Per run: EMR terminates the cluster after its last step. */
    cJSON_AddBoolToObject(inst, "KeepJobFlowAliveWhenNoSteps", steps == NULL);
    cJSON_AddBoolToObject(inst, "TerminationProtected", false);
    if (s->subnet_id) cJSON_AddStringToObject(inst, "Ec2SubnetId", s->subnet_id);
    if (s->key_name) cJSON_AddStringToObject(inst, "Ec2KeyName", s->key_name);
    if (s->n_bootstrap) {
        cJSON *bas = cJSON_AddArrayToObject(b, "BootstrapActions");
        for (size_t i = 0; i < s->n_bootstrap; i++) {
            cJSON *ba = cJSON_CreateObject(), *sba = cJSON_CreateObject();
            cJSON_AddStringToObject(ba, "Name", s->bootstrap[i].name);
            cJSON_AddStringToObject(sba, "Path", s->bootstrap[i].path);
            cJSON_AddItemToObject(sba, "Args", string_array(s->bootstrap[i].args, s->bootstrap[i].n_args));
            cJSON_AddItemToObject(ba, "ScriptBootstrapAction", sba);
            cJSON_AddItemToArray(bas, ba);
        }
    }
    cJSON_AddStringToObject(b, "ServiceRole", s->service_role);
    cJSON_AddStringToObject(b, "JobFlowRole", s->instance_profile);
    cJSON_AddBoolToObject(b, "VisibleToAllUsers", true);
    if (steps) {
        cJSON_AddItemToObject(b, "Steps", steps);
    } else {
        cJSON *pol = cJSON_AddObjectToObject(b, "AutoTerminationPolicy");
        cJSON_AddNumberToObject(pol, "IdleTimeout", (double)s->idle_timeout_s);
    }
    cJSON *tags = cJSON_AddArrayToObject(b, "Tags");
    const sf_aws_config *cfg = sf_aws_client_config(c);
    for (size_t i = 0; i < cfg->n_default_tags; i++) {
        bool overridden = false;
        for (size_t k = 0; k < s->n_tags; k++) overridden |= strcmp(s->tags[k].name, cfg->default_tags[i].name) == 0;
        if (!overridden) add_tag(tags, cfg->default_tags[i].name, cfg->default_tags[i].value);
    }
    for (size_t i = 0; i < s->n_tags; i++) add_tag(tags, s->tags[i].name, s->tags[i].value);
    add_tag(tags, "sparkflow:managed", "true");
    add_tag(tags, "sparkflow:create-token", token);
    cJSON *spec_tags = sf_emr_spec_tags(resolved), *t;
    cJSON_ArrayForEach(t, spec_tags) add_tag(tags, sf_emr_str(t, "Key"), sf_emr_str(t, "Value"));
    cJSON_Delete(spec_tags);
    return b;
}

static bool has_tag(const cJSON *cluster, const char *key, const char *value)
{
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(cluster, "Tags")) {
        const char *k = sf_emr_str(t, "Key"), *v = sf_emr_str(t, "Value");
        if (k && v && strcmp(k, key) == 0 && strcmp(v, value) == 0) return true;
    }
    return false;
}

/* A live cluster named `name` carrying our create token: 1 found (*id),
 * 0 none, -1 error. */
static int find_by_token(sf_aws_client *c, sf_ctx *ctx, const char *name, const char *token, char **id,
                         sf_aws_error *err)
{
    *id = NULL;
    char *marker = NULL;
    int found = 0;
    do {
        cJSON *body = cJSON_CreateObject(), *out = NULL;
        const char *states[] = {"STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"};
        cJSON_AddItemToObject(body, "ClusterStates", cJSON_CreateStringArray(states, 4));
        if (marker) cJSON_AddStringToObject(body, "Marker", marker);
        free(marker);
        marker = NULL;
        int rc = sf_emr_call(c, ctx, "ListClusters", body, true, &out, err);
        cJSON_Delete(body);
        if (rc != 0) return -1;
        const cJSON *cl;
        cJSON_ArrayForEach(cl, cJSON_GetObjectItemCaseSensitive(out, "Clusters")) {
            const char *cid = sf_emr_str(cl, "Id"), *cname = sf_emr_str(cl, "Name");
            if (found || !cid || !cname || strcmp(cname, name) != 0) continue;
            cJSON *desc = NULL;
            if (sf_emr_describe(c, ctx, cid, &desc, err) < 0) {
                cJSON_Delete(out);
                return -1;
            }
            if (desc && has_tag(desc, "sparkflow:create-token", token)) {
                *id = sf_strdup(cid);
                found = 1;
            }
            cJSON_Delete(desc);
        }
        marker = found ? NULL : sf_strdup(sf_emr_str(out, "Marker"));
        cJSON_Delete(out);
    } while (marker);
    return found;
}

/* IAM takes a while to show a new instance profile to EMR: worth a retry. */
static bool iam_propagation(const sf_aws_error *e)
{
    return e->message &&
           (strstr(e->message, "Invalid InstanceProfile") ||
            strstr(e->message, "Failed to authorize instance profile") || strstr(e->message, "instance profile"));
}

int sf_emr_run_job_flow(sf_aws_client *c, sf_ctx *ctx, const char *name, const cJSON *body, const char *token,
                        char **id, sf_diags *diags)
{
    *id = NULL;
    sf_aws_error err = {0};
    for (int attempt = 0; attempt < CREATE_ATTEMPTS; attempt++) {
        cJSON *out = NULL;
        if (sf_emr_call(c, ctx, "RunJobFlow", body, false, &out, &err) == 0) {
            *id = sf_strdup(sf_emr_str(out, "JobFlowId"));
            cJSON_Delete(out);
            if (*id) break;
            sf_aws_error_clear(&err);
            err.operation = sf_strdup("RunJobFlow");
            err.message = sf_strdup("the answer holds no JobFlowId");
            break;
        }
        bool again = err.maybe_applied || sf_aws_retryable(err.status, err.code, 0) || iam_propagation(&err);
        if (!again || sf_ctx_done(ctx)) break;
        if (err.maybe_applied) {
            sf_aws_error lerr = {0};
            int f = find_by_token(c, ctx, name, token, id, &lerr);
            sf_aws_error_clear(&lerr);
            if (f == 1) {
                sf_log(ctx, SF_LOG_INFO, "emr: RunJobFlow failed (%s) but created cluster %s: using it",
                       err.code ? err.code : err.message, *id);
                break;
            }
            if (f < 0) continue; /* cannot tell yet: look again before the next attempt */
        }
        if (sf_ctx_sleep_ms(ctx, sf_backoff_ms(attempt, 1000, 20000)) != 0) break;
    }
    if (!*id) {
        /* A cluster may exist although every answer was lost: one last look. */
        sf_aws_error lerr = {0};
        sf_ctx *cl = sf_ctx_new_cleanup(ctx, SF_EMR_CLEANUP_MS);
        if (err.maybe_applied && find_by_token(c, cl, name, token, id, &lerr) == 1)
            sf_log(ctx, SF_LOG_INFO, "emr: found cluster %s created by a failed RunJobFlow", *id);
        sf_ctx_free(cl);
        sf_aws_error_clear(&lerr);
    }
    if (!*id)
        sf_aws_diag_error(diags, NULL, "Cannot create the EMR cluster", &err,
                          "Check the emr block (release label, instance types, roles, subnet) and the "
                          "credentials' permissions (elasticmapreduce:RunJobFlow, iam:PassRole).");
    sf_aws_error_clear(&err);
    return *id ? 0 : -1;
}

/* ---- waiting -------------------------------------------------------------------- */

static void reason_diag(sf_diags *diags, const char *summary, const char *id, const cJSON *cl)
{
    const char *state = sf_emr_str(cl, "Status.State");
    const char *code = sf_emr_str(cl, "Status.StateChangeReason.Code");
    const char *msg = sf_emr_str(cl, "Status.StateChangeReason.Message");
    sf_diag_error(diags, NULL, summary,
                  "EMR cluster %s is %s instead of WAITING or RUNNING.\nReason: %s%s%s\n\nThe cluster's logs "
                  "are under its log_uri, if set. Nothing of it is left running.",
                  id, state ? state : "?", code ? code : "no reason given", msg ? ": " : "", msg ? msg : "");
}

/* Poll until WAITING/RUNNING: 0 with *cluster, -1 with a diagnostic. */
static int wait_ready(sf_aws_client *c, sf_ctx *ctx, const char *id, cJSON **cluster, sf_diags *diags)
{
    *cluster = NULL;
    sf_emr_poll poll;
    sf_emr_poll_init(&poll, CLUSTER_POLL_CAP_MS);
    const char *last = NULL;
    for (;;) {
        cJSON *cl = NULL;
        sf_aws_error err = {0};
        int rc = sf_emr_describe(c, ctx, id, &cl, &err);
        if (rc != 0 && !(rc < 0 && sf_aws_retryable(err.status, err.code, 0))) {
            if (!sf_ctx_done(ctx)) sf_aws_diag_error(diags, NULL, "Cannot follow the new EMR cluster", &err, NULL);
            sf_aws_error_clear(&err);
            if (sf_ctx_done(ctx)) break;
            return -1;
        }
        sf_aws_error_clear(&err);
        const char *state = sf_emr_str(cl, "Status.State");
        if (state_is(state, "WAITING", "RUNNING")) {
            *cluster = cl;
            return 0;
        }
        if (sf_emr_state_ended(state)) {
            reason_diag(diags, "EMR cluster failed to start", id, cl);
            cJSON_Delete(cl);
            return -1;
        }
        if (state && (!last || strcmp(last, state) != 0)) {
            sf_log(ctx, SF_LOG_INFO, "emr: cluster %s is %s", id, state);
            last = strcmp(state, "STARTING") == 0        ? "STARTING"
                   : strcmp(state, "BOOTSTRAPPING") == 0 ? "BOOTSTRAPPING"
                                                         : NULL;
        }
        cJSON_Delete(cl);
        if (sf_emr_poll_wait(&poll, ctx) != 0) break;
    }
    sf_diag_error(diags, NULL, "EMR cluster did not start in time",
                  "Cluster %s was not WAITING or RUNNING before the operation was %s; it is being terminated. "
                  "Raise timeouts.create if clusters of this size take longer.",
                  id, sf_ctx_reason(ctx) ? sf_ctx_reason(ctx) : "stopped");
    return -1;
}

int sf_emr_terminate(sf_aws_client *c, sf_ctx *ctx, const char *id, bool wait, sf_diags *diags)
{
    cJSON *body = cJSON_CreateObject(), *out = NULL;
    cJSON_AddItemToObject(body, "JobFlowIds", cJSON_CreateStringArray(&id, 1));
    sf_aws_error err = {0};
    int rc = sf_emr_call(c, ctx, "TerminateJobFlows", body, true, &out, &err);
    cJSON_Delete(body);
    cJSON_Delete(out);
    if (rc != 0) {
        sf_aws_diag_error(diags, NULL, "Cannot terminate the EMR cluster", &err,
                          "Terminate it in the EMR console or with `aws emr terminate-clusters` to stop its cost.");
        sf_aws_error_clear(&err);
        return -1;
    }
    sf_emr_poll poll;
    sf_emr_poll_init(&poll, CLUSTER_POLL_CAP_MS);
    while (wait) {
        cJSON *cl = NULL;
        int d = sf_emr_describe(c, ctx, id, &cl, &err);
        const char *state = sf_emr_str(cl, "Status.State");
        bool done = d == 1 || state_is(state, "TERMINATED", "TERMINATED_WITH_ERRORS");
        cJSON_Delete(cl);
        if (done) {
            sf_aws_error_clear(&err);
            break;
        }
        if (d < 0 && !sf_aws_retryable(err.status, err.code, 0)) {
            sf_aws_diag_error(diags, NULL, "Cannot follow the EMR cluster's termination", &err, NULL);
            sf_aws_error_clear(&err);
            return -1;
        }
        sf_aws_error_clear(&err);
        if (sf_emr_poll_wait(&poll, ctx) != 0) {
            sf_diag_error(diags, NULL, "EMR cluster still terminating",
                          "Cluster %s was asked to terminate but was not TERMINATED before the operation was %s. "
                          "It will finish terminating on its own; run `terraform destroy` again to confirm.",
                          id, sf_ctx_reason(ctx) ? sf_ctx_reason(ctx) : "stopped");
            return -1;
        }
    }
    return 0;
}

/* ---- instance groups --------------------------------------------------------------- */

/* The core group: its id (malloc'd) and requested/running count. */
/* The instance groups of cluster `id`: the core group's id and counts, and
 * (when `types` is not NULL) a map "MASTER"/"CORE" -> instance type. */
static int instance_groups(sf_aws_client *c, sf_ctx *ctx, const char *id, char **group_id, int64_t *requested,
                           int64_t *running, sf_value *types, sf_aws_error *err)
{
    *group_id = NULL;
    cJSON *body = cJSON_CreateObject(), *out = NULL;
    cJSON_AddStringToObject(body, "ClusterId", id);
    int rc = sf_emr_call(c, ctx, "ListInstanceGroups", body, true, &out, err);
    cJSON_Delete(body);
    if (rc != 0) return -1;
    const cJSON *g;
    cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(out, "InstanceGroups")) {
        const char *role = sf_emr_str(g, "InstanceGroupType");
        if (!role) role = sf_emr_str(g, "InstanceRole");
        if (!role) continue;
        const char *type = sf_emr_str(g, "InstanceType");
        if (types && type && !sf_value_get(types, role)) sf_value_put(types, role, sf_value_string(type));
        if (strcmp(role, "CORE") != 0 || *group_id) continue;
        *group_id = sf_strdup(sf_emr_str(g, "Id"));
        *requested = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(g, "RequestedInstanceCount"));
        *running = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(g, "RunningInstanceCount"));
    }
    cJSON_Delete(out);
    return 0;
}

static int core_group(sf_aws_client *c, sf_ctx *ctx, const char *id, char **group_id, int64_t *requested,
                      int64_t *running, sf_aws_error *err)
{
    return instance_groups(c, ctx, id, group_id, requested, running, NULL, err);
}

/* ---- info -------------------------------------------------------------------------- */

/* The spec of a cluster made without SparkFlow's spec tags (outside
 * Terraform): what DescribeCluster and the instance groups (`types`) say. */
static sf_value *imported_spec(const cJSON *cl, const sf_value *types)
{
    sf_value *v = sf_value_object();
    const char *group_types[][2] = {{"master_instance_type", "MASTER"}, {"core_instance_type", "CORE"}};
    for (size_t i = 0; i < 2; i++) {
        const char *t = sf_value_get_str(sf_value_get(types, group_types[i][1]));
        if (t) sf_value_put(v, group_types[i][0], sf_value_string(t));
    }
    const char *keys[][2] = {{"release_label", "ReleaseLabel"},
                             {"service_role", "ServiceRole"},
                             {"instance_profile", "Ec2InstanceAttributes.IamInstanceProfile"},
                             {"subnet_id", "Ec2InstanceAttributes.Ec2SubnetId"},
                             {"key_name", "Ec2InstanceAttributes.Ec2KeyName"},
                             {"log_uri", "LogUri"}};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const char *s = sf_emr_str(cl, keys[i][1]);
        sf_value_put(v, keys[i][0], s && *s ? sf_value_string(s) : sf_value_null());
    }
    sf_value *apps = sf_value_list();
    const cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(cl, "Applications"))
        if (sf_emr_str(a, "Name")) sf_value_append(apps, sf_value_string(sf_emr_str(a, "Name")));
    sf_value_put(v, "applications", apps);
    sf_value *r = sf_emr_spec_resolved(v);
    sf_value_free(v);
    return r;
}

static void fill_info(const cJSON *cl, sf_value *spec_owned, int64_t core_count, const char *region,
                      sf_cluster_info *out)
{
    sf_cluster_info_clear(out);
    out->id = sf_strdup(sf_emr_str(cl, "Id"));
    out->name = sf_strdup(sf_emr_str(cl, "Name"));
    out->state = sf_strdup(sf_emr_str(cl, "Status.State"));
    const char *dns = sf_emr_str(cl, "MasterPublicDnsName");
    out->master_url = sf_strdup("yarn");
    out->web_ui_url = dns && *dns ? sf_fmt("http://%s:18080", dns) : NULL;
    const cJSON *created = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cl, "Status"), "Timeline"),
        "CreationDateTime");
    if (cJSON_IsNumber(created)) out->created_at = rfc3339(created->valuedouble);
    else if (cJSON_IsString(created)) out->created_at = sf_strdup(created->valuestring);
    if (spec_owned && core_count > 0) sf_value_put(spec_owned, "core_instance_count", sf_value_int(core_count));
    out->spec = spec_owned;
    sf_value *d = sf_value_map();
    const char *facts[][2] = {{"cluster_id", "Id"},
                              {"cluster_arn", "ClusterArn"},
                              {"master_public_dns", "MasterPublicDnsName"},
                              {"release_label", "ReleaseLabel"},
                              {"log_uri", "LogUri"}};
    for (size_t i = 0; i < sizeof facts / sizeof *facts; i++) {
        const char *s = sf_emr_str(cl, facts[i][1]);
        if (s && *s) sf_value_put(d, facts[i][0], sf_value_string(s));
    }
    if (region) sf_value_put(d, "region", sf_value_string(region));
    out->details = d;
}

/* Core group + spec → info of a described cluster `cl`; 0, or -1 with a
 * diagnostic. */
static int info_of(sf_aws_client *c, sf_ctx *ctx, const cJSON *cl, const sf_value *known_spec, sf_cluster_info *out,
                   sf_diags *diags)
{
    char *group = NULL;
    int64_t requested = 0, running = 0;
    sf_aws_error err = {0};
    sf_value *types = sf_value_map();
    if (instance_groups(c, ctx, sf_emr_str(cl, "Id"), &group, &requested, &running, types, &err) != 0) {
        sf_aws_diag_error(diags, NULL, "Cannot read the EMR cluster's instance groups", &err, NULL);
        sf_aws_error_clear(&err);
        sf_value_free(types);
        return -1;
    }
    sf_value *spec =
        known_spec ? sf_value_copy(known_spec) : sf_emr_spec_from_tags(cJSON_GetObjectItemCaseSensitive(cl, "Tags"));
    if (!spec) spec = imported_spec(cl, types);
    sf_value_free(types);
    fill_info(cl, spec, requested, sf_aws_client_region(c, NULL), out);
    if (group) sf_value_put(out->details, "core_instance_group_id", sf_value_string(group));
    free(group);
    return 0;
}

int sf_emr_cluster_info(sf_aws_client *c, sf_ctx *ctx, const cJSON *cluster, sf_cluster_info *out, sf_diags *diags)
{
    return info_of(c, ctx, cluster, NULL, out, diags);
}

/* Describe + core group → info; 0, 1 gone, -1 error (diagnosed). */
static int describe_info(sf_aws_client *c, sf_ctx *ctx, const char *id, const sf_value *known_spec,
                         sf_cluster_info *out, sf_diags *diags)
{
    cJSON *cl = NULL;
    sf_aws_error err = {0};
    int rc = sf_emr_describe(c, ctx, id, &cl, &err);
    if (rc < 0) {
        sf_aws_diag_error(diags, NULL, "Cannot read the EMR cluster", &err, NULL);
        sf_aws_error_clear(&err);
        return -1;
    }
    sf_aws_error_clear(&err);
    if (rc == 1 || sf_emr_state_ended(sf_emr_str(cl, "Status.State"))) {
        sf_log(ctx, SF_LOG_INFO, "emr: cluster %s is %s: gone", id,
               rc == 1 ? "unknown" : sf_emr_str(cl, "Status.State"));
        cJSON_Delete(cl);
        return 1;
    }
    rc = info_of(c, ctx, cl, known_spec, out, diags);
    cJSON_Delete(cl);
    return rc;
}

/* ---- the engine's operations ---------------------------------------------------------- */

sf_engine_status sf_emr_cluster_create(sf_ctx *ctx, const sf_engine_env *env, const char *name, const sf_value *spec,
                                       sf_cluster_info *out, sf_diags *diags)
{
    sf_emr_spec s;
    if (sf_emr_spec_from_value(spec, &s, diags) != 0) {
        sf_emr_spec_clear(&s);
        return SF_ENGINE_ERROR;
    }
    sf_aws_client *owned = NULL, *c = sf_emr_client(env, &owned, diags);
    if (!c) {
        sf_emr_spec_clear(&s);
        return SF_ENGINE_ERROR;
    }
    char token[33];
    if (sf_aws_random_hex(token) != 0) snprintf(token, sizeof token, "%016llx", (long long)sf_time_wall_ms());
    sf_value *resolved = sf_emr_spec_resolved(spec);
    cJSON *body = sf_emr_job_flow_body(c, name, &s, resolved, token, NULL);
    char *id = NULL;
    int64_t t0 = sf_time_mono_ms();
    sf_engine_status st = SF_ENGINE_ERROR;
    if (sf_emr_run_job_flow(c, ctx, name, body, token, &id, diags) == 0) {
        sf_log(ctx, SF_LOG_INFO, "emr: RunJobFlow made cluster %s (%s, %lld core %s)", id, s.release_label,
               (long long)s.core_instance_count, s.core_instance_type);
        cJSON *cl = NULL;
        if (wait_ready(c, ctx, id, &cl, diags) == 0) {
            sf_value *spec_v = sf_value_copy(resolved);
            fill_info(cl, spec_v, s.core_instance_count, sf_aws_client_region(c, NULL), out);
            sf_log(ctx, SF_LOG_INFO, "emr: cluster %s %s after %lld ms", id, out->state,
                   (long long)(sf_time_mono_ms() - t0));
            st = SF_ENGINE_OK;
        } else {
            sf_ctx *cl_ctx = sf_ctx_new_cleanup(ctx, SF_EMR_CLEANUP_MS);
            sf_emr_terminate(c, cl_ctx, id, false, diags);
            sf_ctx_free(cl_ctx);
        }
        cJSON_Delete(cl);
    }
    free(id);
    cJSON_Delete(body);
    sf_value_free(resolved);
    sf_aws_client_free(owned);
    sf_emr_spec_clear(&s);
    return st;
}

sf_engine_status sf_emr_cluster_read(sf_ctx *ctx, const sf_engine_env *env, const char *id,
                                     const sf_cluster_info *recorded, sf_cluster_info *out, sf_diags *diags)
{
    (void)recorded; /* EMR itself is the record: the id is enough */
    sf_aws_client *owned = NULL, *c = sf_emr_client(env, &owned, diags);
    if (!c) return SF_ENGINE_ERROR;
    int rc = describe_info(c, ctx, id, NULL, out, diags);
    sf_aws_client_free(owned);
    return rc == 0 ? SF_ENGINE_OK : rc == 1 ? SF_ENGINE_GONE : SF_ENGINE_ERROR;
}

/* Resize the core group and wait until it runs the new count. */
static int resize(sf_aws_client *c, sf_ctx *ctx, const char *id, int64_t want, sf_diags *diags)
{
    char *group = NULL;
    int64_t requested = 0, running = 0;
    sf_aws_error err = {0};
    if (core_group(c, ctx, id, &group, &requested, &running, &err) != 0 || !group) {
        if (!group && !err.message) err.message = sf_strdup("the cluster has no core instance group");
        sf_aws_diag_error(diags, "emr.core_instance_count", "Cannot resize the EMR cluster", &err, NULL);
        sf_aws_error_clear(&err);
        free(group);
        return -1;
    }
    int rc = 0;
    if (requested != want) {
        cJSON *body = cJSON_CreateObject(), *out = NULL, *g = cJSON_CreateObject();
        cJSON_AddStringToObject(body, "ClusterId", id);
        cJSON_AddStringToObject(g, "InstanceGroupId", group);
        cJSON_AddNumberToObject(g, "InstanceCount", (double)want);
        cJSON_AddItemToArray(cJSON_AddArrayToObject(body, "InstanceGroups"), g);
        rc = sf_emr_call(c, ctx, "ModifyInstanceGroups", body, true, &out, &err);
        cJSON_Delete(body);
        cJSON_Delete(out);
        if (rc != 0) sf_aws_diag_error(diags, "emr.core_instance_count", "Cannot resize the EMR cluster", &err, NULL);
        sf_aws_error_clear(&err);
        sf_log(ctx, SF_LOG_INFO, "emr: cluster %s core group %s: %lld -> %lld nodes", id, group, (long long)requested,
               (long long)want);
    }
    sf_emr_poll poll;
    sf_emr_poll_init(&poll, CLUSTER_POLL_CAP_MS);
    while (rc == 0 && running != want) {
        if (sf_emr_poll_wait(&poll, ctx) != 0) {
            sf_diag_error(diags, "emr.core_instance_count", "EMR cluster resize not finished",
                          "Cluster %s runs %lld core nodes, %lld requested, when the operation was %s.", id,
                          (long long)running, (long long)want, sf_ctx_reason(ctx) ? sf_ctx_reason(ctx) : "stopped");
            rc = -1;
            break;
        }
        free(group);
        group = NULL;
        if (core_group(c, ctx, id, &group, &requested, &running, &err) != 0 &&
            !sf_aws_retryable(err.status, err.code, 0)) {
            sf_aws_diag_error(diags, NULL, "Cannot follow the EMR cluster's resize", &err, NULL);
            rc = -1;
        }
        sf_aws_error_clear(&err);
    }
    free(group);
    return rc;
}

/* Tags changed in place: AddTags with the new user tags and spec copy,
 * RemoveTags for user tags dropped and spec chunks no longer used. */
static int retag(sf_aws_client *c, sf_ctx *ctx, const char *id, const sf_value *old_spec, const sf_value *new_spec,
                 sf_diags *diags)
{
    sf_value *old_r = sf_emr_spec_resolved(old_spec), *new_r = sf_emr_spec_resolved(new_spec);
    const sf_value *old_tags = sf_value_get(old_r, "tags"), *new_tags = sf_value_get(new_r, "tags");
    sf_value *o = sf_value_copy(old_r), *n = sf_value_copy(new_r);
    sf_value_put(o, "core_instance_count", sf_value_null());
    sf_value_put(n, "core_instance_count", sf_value_null());
    bool same = sf_value_equal(o, n);
    sf_value_free(o);
    sf_value_free(n);
    int rc = 0;
    sf_aws_error err = {0};
    if (!same) {
        cJSON *add = cJSON_CreateObject(), *out = NULL;
        cJSON_AddStringToObject(add, "ResourceId", id);
        cJSON *tags = sf_emr_spec_tags(new_r), *old_chunks = sf_emr_spec_tags(old_r);
        int n_new = cJSON_GetArraySize(tags), n_old = cJSON_GetArraySize(old_chunks);
        cJSON_Delete(old_chunks);
        for (size_t i = 0; !sf_value_is_null(new_tags) && i < new_tags->n; i++)
            add_tag(tags, new_tags->keys[i], sf_value_get_str(new_tags->elems[i]));
        cJSON_AddItemToObject(add, "Tags", tags);
        rc = sf_emr_call(c, ctx, "AddTags", add, true, &out, &err);
        cJSON_Delete(add);
        cJSON_Delete(out);
        out = NULL;
        cJSON *rm = cJSON_CreateObject(), *keys = cJSON_CreateArray();
        cJSON_AddStringToObject(rm, "ResourceId", id);
        for (size_t i = 0; !sf_value_is_null(old_tags) && i < old_tags->n; i++)
            if (sf_value_is_null(new_tags) || !sf_value_get(new_tags, old_tags->keys[i]))
                cJSON_AddItemToArray(keys, cJSON_CreateString(old_tags->keys[i]));
        for (int k = n_new; k < n_old; k++) {
            char key[32];
            snprintf(key, sizeof key, "sparkflow:spec:%d", k);
            cJSON_AddItemToArray(keys, cJSON_CreateString(key));
        }
        int n_keys = cJSON_GetArraySize(keys);
        cJSON_AddItemToObject(rm, "TagKeys", keys);
        if (rc == 0 && n_keys) rc = sf_emr_call(c, ctx, "RemoveTags", rm, true, &out, &err);
        cJSON_Delete(rm);
        cJSON_Delete(out);
        if (rc != 0) sf_aws_diag_error(diags, "emr.tags", "Cannot update the EMR cluster's tags", &err, NULL);
    }
    sf_aws_error_clear(&err);
    sf_value_free(old_r);
    sf_value_free(new_r);
    return rc;
}

sf_engine_status sf_emr_cluster_update(sf_ctx *ctx, const sf_engine_env *env, const char *id,
                                       const sf_cluster_info *recorded, const sf_value *old_spec,
                                       const sf_value *new_spec, sf_cluster_info *out, sf_diags *diags)
{
    (void)recorded;
    sf_emr_spec s;
    if (sf_emr_spec_from_value(new_spec, &s, diags) != 0) {
        sf_emr_spec_clear(&s);
        return SF_ENGINE_ERROR;
    }
    sf_aws_client *owned = NULL, *c = sf_emr_client(env, &owned, diags);
    sf_engine_status st = SF_ENGINE_ERROR;
    if (c && retag(c, ctx, id, old_spec, new_spec, diags) == 0 &&
        resize(c, ctx, id, s.core_instance_count, diags) == 0) {
        sf_value *resolved = sf_emr_spec_resolved(new_spec);
        int rc = describe_info(c, ctx, id, resolved, out, diags);
        sf_value_free(resolved);
        st = rc == 0 ? SF_ENGINE_OK : rc == 1 ? SF_ENGINE_GONE : SF_ENGINE_ERROR;
    }
    sf_aws_client_free(owned);
    sf_emr_spec_clear(&s);
    return st;
}

sf_engine_status sf_emr_cluster_delete(sf_ctx *ctx, const sf_engine_env *env, const char *id,
                                       const sf_cluster_info *recorded, sf_diags *diags)
{
    (void)recorded;
    sf_aws_client *owned = NULL, *c = sf_emr_client(env, &owned, diags);
    if (!c) return SF_ENGINE_ERROR;
    cJSON *cl = NULL;
    sf_aws_error err = {0};
    int rc = sf_emr_describe(c, ctx, id, &cl, &err);
    sf_engine_status st = SF_ENGINE_OK;
    if (rc < 0) {
        sf_aws_diag_error(diags, NULL, "Cannot read the EMR cluster", &err, NULL);
        st = SF_ENGINE_ERROR;
    } else if (rc == 0 && !state_is(sf_emr_str(cl, "Status.State"), "TERMINATED", "TERMINATED_WITH_ERRORS")) {
        sf_log(ctx, SF_LOG_INFO, "emr: terminating cluster %s", id);
        st = sf_emr_terminate(c, ctx, id, true, diags) == 0 ? SF_ENGINE_OK : SF_ENGINE_ERROR;
    }
    sf_aws_error_clear(&err);
    cJSON_Delete(cl);
    sf_aws_client_free(owned);
    return st;
}
