/* list.c — the EMR engine's cluster listing: the clusters this provider
 * made (tagged sparkflow:managed=true) in the provider's region, whatever
 * state file holds them, or none (the orphan finder of `terraform query`).
 *
 * One ListClusters per page with the states filter applied by EMR (default:
 * the active states, STARTING to WAITING), the name prefix judged on the
 * summary, then one DescribeCluster per remaining cluster for its tags (a
 * foreign cluster is never reported) and one ListInstanceGroups per
 * SparkFlow cluster for what read reports.  Without being asked for
 * (`engine = "emr"`), EMR is listed only when the provider has AWS
 * settings: a laptop running local clusters only never calls AWS.
 */
#include "engines/emr/emr.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/time.h"

static const char *const active_states[] = {"STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING", NULL};

/* ClusterStates of the ListClusters request: the filter's, upper-cased. */
static cJSON *states_of(const sf_list_filter *f)
{
    cJSON *a = cJSON_CreateArray();
    if (!f->n_states) {
        for (size_t i = 0; active_states[i]; i++) cJSON_AddItemToArray(a, cJSON_CreateString(active_states[i]));
        return a;
    }
    for (size_t i = 0; i < f->n_states; i++) {
        char *up = sf_strdup(f->states[i]);
        for (char *p = up; *p; p++) *p = (char)toupper((unsigned char)*p);
        cJSON_AddItemToArray(a, cJSON_CreateString(up));
        free(up);
    }
    return a;
}

/* A DescribeCluster's Tags as a map of string. */
static sf_value *tags_of(const cJSON *cl)
{
    sf_value *m = sf_value_map();
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(cl, "Tags")) {
        const char *k = sf_emr_str(t, "Key"), *v = sf_emr_str(t, "Value");
        if (k && v) sf_value_put(m, k, sf_value_string(v));
    }
    return m;
}

/* How long since `created` until `end` (or now), epoch seconds. */
static void uptime(char out[SF_TIME_SPAN_LEN], double created_s, double end_s)
{
    sf_time_span(out, (int64_t)((end_s > 0 ? end_s : (double)sf_time_wall_ms() / 1000.0) - created_s));
}

static double timeline(const cJSON *cl, const char *what)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cl, "Status"), "Timeline"), what);
    return cJSON_IsNumber(t) ? t->valuedouble : 0;
}

/* "WAITING, up 3h12m, 3 × m5.xlarge": state, age, what is billed. */
static char *summary_of(const cJSON *cl, const sf_cluster_info *info)
{
    const char *master = sf_value_get_str(sf_value_get(info->spec, "master_instance_type"));
    const char *core = sf_value_get_str(sf_value_get(info->spec, "core_instance_type"));
    int64_t n = 0;
    sf_value_get_int(sf_value_get(info->spec, "core_instance_count"), &n);
    char *machines = master && core && strcmp(master, core) == 0
                         ? sf_fmt("%lld × %s", (long long)n + 1, core)
                         : sf_fmt("1 × %s + %lld × %s", master ? master : "?", (long long)n, core ? core : "?");
    double created = timeline(cl, "CreationDateTime");
    char up[SF_TIME_SPAN_LEN] = "?";
    if (created > 0) uptime(up, created, timeline(cl, "EndDateTime"));
    char *s = sf_fmt("%s, up %s, %s", info->state ? info->state : "?", up, machines);
    free(machines);
    return s;
}

/* One cluster of a ListClusters page: described, judged, reported.
 * Returns 1 to go on, 0 when `found` wants no more, -1 on error. */
static int visit(sf_aws_client *c, sf_ctx *ctx, const char *id, const sf_list_filter *filter, sf_cluster_found_fn found,
                 void *arg, sf_diags *diags)
{
    cJSON *cl = NULL;
    sf_aws_error err = {0};
    int rc = sf_emr_describe(c, ctx, id, &cl, &err);
    if (rc < 0) {
        sf_aws_diag_error(diags, NULL, "Cannot list EMR clusters", &err, NULL);
        sf_aws_error_clear(&err);
        return -1;
    }
    sf_aws_error_clear(&err);
    if (rc == 1) return 1; /* gone between the list and the look */
    sf_value *tags = tags_of(cl);
    const char *managed = sf_value_get_str(sf_value_get(tags, "sparkflow:managed"));
    int more = 1;
    if (managed && strcmp(managed, "true") == 0 && sf_list_filter_tags(filter, tags)) {
        sf_cluster_info info = {0};
        if (sf_emr_cluster_info(c, ctx, cl, &info, diags) != 0) {
            more = -1;
        } else {
            char *summary = summary_of(cl, &info);
            more = found(arg, &info, summary) ? 1 : 0;
            free(summary);
        }
        sf_cluster_info_clear(&info);
    }
    sf_value_free(tags);
    cJSON_Delete(cl);
    return more;
}

sf_engine_status sf_emr_cluster_list(sf_ctx *ctx, const sf_engine_env *env, const sf_list_filter *filter,
                                     sf_cluster_found_fn found, void *arg, sf_diags *diags)
{
    if (!filter->asked && !sf_engine_env_aws_set(env)) return SF_ENGINE_OK;
    sf_aws_client *owned = NULL, *c = sf_emr_client(env, &owned, diags);
    if (!c) return SF_ENGINE_ERROR;
    char *marker = NULL;
    int more = 1;
    do {
        cJSON *body = cJSON_CreateObject(), *out = NULL;
        cJSON_AddItemToObject(body, "ClusterStates", states_of(filter));
        if (marker) cJSON_AddStringToObject(body, "Marker", marker);
        free(marker);
        marker = NULL;
        sf_aws_error err = {0};
        int rc = sf_emr_call(c, ctx, "ListClusters", body, true, &out, &err);
        cJSON_Delete(body);
        if (rc != 0) {
            sf_aws_diag_error(diags, NULL, "Cannot list EMR clusters", &err,
                              "The credentials need elasticmapreduce:ListClusters and DescribeCluster.");
            sf_aws_error_clear(&err);
            more = -1;
            break;
        }
        const cJSON *cl;
        cJSON_ArrayForEach(cl, cJSON_GetObjectItemCaseSensitive(out, "Clusters")) {
            const char *id = sf_emr_str(cl, "Id");
            if (more != 1 || !id || !sf_list_filter_name(filter, sf_emr_str(cl, "Name"))) continue;
            more = visit(c, ctx, id, filter, found, arg, diags);
        }
        if (more == 1) marker = sf_strdup(sf_emr_str(out, "Marker"));
        cJSON_Delete(out);
    } while (marker);
    sf_aws_client_free(owned);
    return more < 0 ? SF_ENGINE_ERROR : SF_ENGINE_OK;
}
