/* api.c — the EMR API as the engine calls it: JSON 1.1 with the target
 * prefix ElasticMapReduce, DescribeCluster with "no such cluster" told
 * apart, small JSON accessors, and the context cleanup runs in. */
#include "engines/emr/emr.h"

#include <stdlib.h>
#include <string.h>

int sf_emr_call(sf_aws_client *c, sf_ctx *ctx, const char *operation, const cJSON *body, bool idempotent, cJSON **out,
                sf_aws_error *err)
{
    return sf_aws_json_call(c, ctx, "emr", "ElasticMapReduce", operation, body, idempotent, out, err);
}

/* EMR says "Cluster id 'j-X' is not valid." (InvalidRequestException) for
 * an id it does not know; moto says ResourceNotFoundException. */
static bool not_found(const sf_aws_error *e)
{
    if (sf_aws_error_is(e, "ResourceNotFoundException") || sf_aws_error_is(e, "ClusterNotFound")) return true;
    return sf_aws_error_is(e, "InvalidRequestException") && e->message &&
           (strstr(e->message, "is not valid") || strstr(e->message, "not found") ||
            strstr(e->message, "does not exist"));
}

int sf_emr_describe(sf_aws_client *c, sf_ctx *ctx, const char *id, cJSON **cluster, sf_aws_error *err)
{
    *cluster = NULL;
    cJSON *body = cJSON_CreateObject(), *out = NULL;
    cJSON_AddStringToObject(body, "ClusterId", id);
    int rc = sf_emr_call(c, ctx, "DescribeCluster", body, true, &out, err);
    cJSON_Delete(body);
    if (rc != 0) return not_found(err) ? 1 : -1;
    *cluster = cJSON_DetachItemFromObjectCaseSensitive(out, "Cluster");
    cJSON_Delete(out);
    if (!*cluster) {
        sf_aws_error_clear(err);
        err->operation = sf_strdup("DescribeCluster");
        err->message = sf_strdup("the answer holds no Cluster");
        return -1;
    }
    return 0;
}

const char *sf_emr_str(const cJSON *j, const char *path)
{
    while (j && *path) {
        size_t n = strcspn(path, ".");
        char key[128];
        if (n >= sizeof key) return NULL;
        memcpy(key, path, n);
        key[n] = 0;
        j = cJSON_GetObjectItemCaseSensitive(j, key);
        path += n;
        if (*path == '.') path++;
    }
    return cJSON_GetStringValue(j);
}
