/* athena.c — the Athena workgroup a pipeline's tables are queried from
 * (JSON 1.1, target AmazonAthena).  Its name and cutoff are checked at plan
 * (sf_catalog_check_workgroup, sf_catalog_check_cutoff: catalog_name.c).
 *
 * SparkFlow holds its workgroup to: query results under the lake
 * (<lake>/_sparkflow/athena-results/<database>/), those settings enforced
 * over the client's, CloudWatch metrics on, and the per-query
 * bytes-scanned cutoff (a cost guard; none when 0).  Sync creates it, or
 * updates it when GetWorkGroup shows a setting drifted (so an apply that
 * changes nothing sends no update).  A workgroup is SparkFlow's when its
 * tags say so (sparkflow:managed, sparkflow:pipeline = this pipeline):
 * GetWorkGroup does not show tags, so they are read with
 * ListTagsForResource, whose ARN needs the account (STS).  Another's
 * workgroup — "primary", a user's — is never changed or deleted.
 */
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "catalogs/glue.h"

/* ---- calls ----------------------------------------------------------------------------- */

static int athena_call(sf_aws_client *c, sf_ctx *ctx, const char *op, cJSON *body, cJSON **out, sf_aws_error *err)
{
    int rc = sf_aws_json_call(c, ctx, "athena", "AmazonAthena", op, body, true, out, err);
    cJSON_Delete(body);
    return rc;
}

/* Athena answers InvalidRequestException "WorkGroup x is not found." for a
 * workgroup it does not know. */
static bool wg_missing(const sf_aws_error *e)
{
    if (sf_aws_error_is(e, "ResourceNotFoundException")) return true;
    return sf_aws_error_is(e, "InvalidRequestException") && e->message &&
           (strstr(e->message, "not found") || strstr(e->message, "does not exist"));
}

/* GetWorkGroup: 0 with *wg (the WorkGroup object; cJSON_Delete), 1 when
 * there is none, -1.  (moto answers a missing one with "WorkGroup": null.) */
static int wg_get(sf_aws_client *c, sf_ctx *ctx, const char *name, cJSON **wg, sf_aws_error *err)
{
    *wg = NULL;
    cJSON *body = cJSON_CreateObject(), *out = NULL;
    cJSON_AddStringToObject(body, "WorkGroup", name);
    if (athena_call(c, ctx, "GetWorkGroup", body, &out, err) != 0) return wg_missing(err) ? 1 : -1;
    *wg = cJSON_DetachItemFromObjectCaseSensitive(out, "WorkGroup");
    cJSON_Delete(out);
    if (cJSON_IsObject(*wg)) return 0;
    cJSON_Delete(*wg);
    *wg = NULL;
    return 1;
}

/* The workgroup's ARN: the partition and account of the caller (STS). */
static char *wg_arn(sf_aws_client *c, sf_ctx *ctx, const char *name, sf_aws_error *err)
{
    char *why = NULL;
    const char *region = sf_aws_client_region(c, &why);
    if (!region) {
        err->operation = sf_strdup("ListTagsForResource");
        err->message = why;
        return NULL;
    }
    sf_aws_identity id;
    if (sf_aws_sts_get_caller_identity(c, ctx, &id, err) != 0) return NULL;
    const char *p = id.arn && strncmp(id.arn, "arn:", 4) == 0 ? id.arn + 4 : "aws:";
    char *arn = sf_fmt("arn:%.*s:athena:%s:%s:workgroup/%s", (int)strcspn(p, ":"), p, region,
                       id.account ? id.account : "", name);
    sf_aws_identity_clear(&id);
    return arn;
}

/* Whose the workgroup is, by its tags: 1 this pipeline's, 0 not, -1 error.
 * *owner gets the sparkflow:pipeline tag (malloc'd, NULL when none). */
static int wg_ours(sf_aws_client *c, sf_ctx *ctx, const char *name, const char *pipeline, char **owner,
                   sf_aws_error *err)
{
    *owner = NULL;
    char *arn = wg_arn(c, ctx, name, err);
    if (!arn) return -1;
    bool managed = false;
    char *token = NULL;
    int rc = 0;
    do {
        cJSON *body = cJSON_CreateObject(), *out = NULL;
        cJSON_AddStringToObject(body, "ResourceARN", arn);
        if (token) cJSON_AddStringToObject(body, "NextToken", token);
        free(token);
        token = NULL;
        if (athena_call(c, ctx, "ListTagsForResource", body, &out, err) != 0) {
            /* moto knows no tags of a workgroup made without any: "Athena
             * Resource ... Does Not Exist".  Untagged: not ours. */
            if (sf_aws_error_is(err, "InvalidRequestException") && err->message &&
                strcasestr(err->message, "does not exist"))
                sf_aws_error_clear(err);
            else rc = -1;
            break;
        }
        const cJSON *t;
        cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(out, "Tags")) {
            const char *k = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "Key"));
            const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "Value"));
            if (k && v && strcmp(k, SF_GLUE_MANAGED) == 0) managed = strcmp(v, "true") == 0;
            if (k && v && strcmp(k, SF_GLUE_PIPELINE) == 0 && !*owner) *owner = sf_strdup(v);
        }
        token = sf_strdup(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(out, "NextToken")));
        cJSON_Delete(out);
    } while (token && *token);
    free(token);
    free(arn);
    if (rc != 0) return -1;
    return managed && *owner && strcmp(*owner, pipeline) == 0;
}

/* ---- what the workgroup should be ------------------------------------------------------------ */

static char *wg_description(const sf_catalog_spec *spec)
{
    return sf_fmt("SparkFlow: queries of pipeline %s (Glue database %s). Managed by Terraform.", spec->pipeline,
                  spec->database);
}

static cJSON *wg_tags(sf_aws_client *c, const sf_catalog_spec *spec)
{
    const sf_aws_config *cfg = sf_aws_client_config(c);
    cJSON *tags = cJSON_CreateArray();
    for (size_t i = 0; i < cfg->n_default_tags; i++) {
        const char *k = cfg->default_tags[i].name;
        if (strcmp(k, SF_GLUE_MANAGED) == 0 || strcmp(k, SF_GLUE_PIPELINE) == 0) continue;
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "Key", k);
        cJSON_AddStringToObject(t, "Value", cfg->default_tags[i].value);
        cJSON_AddItemToArray(tags, t);
    }
    const char *ours[][2] = {{SF_GLUE_MANAGED, "true"}, {SF_GLUE_PIPELINE, spec->pipeline}};
    for (size_t i = 0; i < 2; i++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "Key", ours[i][0]);
        cJSON_AddStringToObject(t, "Value", ours[i][1]);
        cJSON_AddItemToArray(tags, t);
    }
    return tags;
}

static bool json_true(const cJSON *o, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* Whether wg already holds every setting SparkFlow sets. */
static bool wg_as_wanted(const cJSON *wg, const sf_catalog_spec *spec, const char *results_uri, const char *desc)
{
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(wg, "Configuration");
    const char *out = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cfg, "ResultConfiguration"),
                                         "OutputLocation"));
    const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(wg, "State"));
    const char *have_desc = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(wg, "Description"));
    const cJSON *cut = cJSON_GetObjectItemCaseSensitive(cfg, "BytesScannedCutoffPerQuery");
    bool cut_ok = spec->bytes_scanned_cutoff > 0
                      ? cJSON_IsNumber(cut) && (int64_t)cut->valuedouble == spec->bytes_scanned_cutoff
                      : !cJSON_IsNumber(cut);
    return out && strcmp(out, results_uri) == 0 && json_true(cfg, "EnforceWorkGroupConfiguration") &&
           json_true(cfg, "PublishCloudWatchMetricsEnabled") && cut_ok && (!state || strcmp(state, "ENABLED") == 0) &&
           have_desc && strcmp(have_desc, desc) == 0;
}

static int wg_create(sf_aws_client *c, sf_ctx *ctx, const sf_catalog_spec *spec, const char *results_uri,
                     const char *desc, sf_aws_error *err)
{
    cJSON *body = cJSON_CreateObject(), *out = NULL;
    cJSON_AddStringToObject(body, "Name", spec->workgroup);
    cJSON_AddStringToObject(body, "Description", desc);
    cJSON *cfg = cJSON_AddObjectToObject(body, "Configuration");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(cfg, "ResultConfiguration"), "OutputLocation", results_uri);
    cJSON_AddBoolToObject(cfg, "EnforceWorkGroupConfiguration", true);
    cJSON_AddBoolToObject(cfg, "PublishCloudWatchMetricsEnabled", true);
    if (spec->bytes_scanned_cutoff > 0)
        cJSON_AddNumberToObject(cfg, "BytesScannedCutoffPerQuery", (double)spec->bytes_scanned_cutoff);
    cJSON_AddItemToObject(body, "Tags", wg_tags(c, spec));
    int rc = athena_call(c, ctx, "CreateWorkGroup", body, &out, err);
    cJSON_Delete(out);
    return rc;
}

static int wg_update(sf_aws_client *c, sf_ctx *ctx, const sf_catalog_spec *spec, const char *results_uri,
                     const char *desc, sf_aws_error *err)
{
    cJSON *body = cJSON_CreateObject(), *out = NULL;
    cJSON_AddStringToObject(body, "WorkGroup", spec->workgroup);
    cJSON_AddStringToObject(body, "Description", desc);
    cJSON_AddStringToObject(body, "State", "ENABLED");
    cJSON *up = cJSON_AddObjectToObject(body, "ConfigurationUpdates");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(up, "ResultConfigurationUpdates"), "OutputLocation", results_uri);
    cJSON_AddBoolToObject(up, "EnforceWorkGroupConfiguration", true);
    cJSON_AddBoolToObject(up, "PublishCloudWatchMetricsEnabled", true);
    if (spec->bytes_scanned_cutoff > 0)
        cJSON_AddNumberToObject(up, "BytesScannedCutoffPerQuery", (double)spec->bytes_scanned_cutoff);
    else cJSON_AddBoolToObject(up, "RemoveBytesScannedCutoffPerQuery", true);
    int rc = athena_call(c, ctx, "UpdateWorkGroup", body, &out, err);
    cJSON_Delete(out);
    return rc;
}

/* ---- sync, remove ------------------------------------------------------------------------------ */

static void not_ours(sf_diags *d, bool error, const sf_catalog_spec *spec, const char *owner)
{
    char *whose = owner ? sf_fmt("SparkFlow's pipeline \"%s\"", owner) : sf_strdup("no SparkFlow pipeline");
    if (error)
        sf_diag_error(d, "catalog.workgroup", "Athena workgroup belongs to someone else",
                      "The Athena workgroup \"%s\" exists and belongs to %s (its tags %s and %s do not name "
                      "pipeline \"%s\"), so SparkFlow does not change it. Set catalog.workgroup to a name of its "
                      "own for this pipeline.",
                      spec->workgroup, whose, SF_GLUE_MANAGED, SF_GLUE_PIPELINE, spec->pipeline);
    else
        sf_diag_warning(d, NULL, "Athena workgroup left in place",
                        "The Athena workgroup \"%s\" belongs to %s (its tags %s and %s do not name pipeline "
                        "\"%s\"), so SparkFlow did not delete it.",
                        spec->workgroup, whose, SF_GLUE_MANAGED, SF_GLUE_PIPELINE, spec->pipeline);
    free(whose);
}

int sf_athena_workgroup_sync(sf_aws_client *c, sf_ctx *ctx, const sf_catalog_spec *spec, const char *results_uri,
                             sf_diags *d)
{
    char *desc = wg_description(spec), *owner = NULL;
    sf_aws_error err = {0};
    cJSON *wg = NULL;
    int rc = -1, got = wg_get(c, ctx, spec->workgroup, &wg, &err);
    if (got == 1) {
        sf_aws_error_clear(&err);
        if (wg_create(c, ctx, spec, results_uri, desc, &err) == 0) rc = 0;
        else if (err.message && strstr(err.message, "already")) { /* made meanwhile (or by our retried call) */
            sf_aws_error_clear(&err);
            got = wg_get(c, ctx, spec->workgroup, &wg, &err);
        } else sf_glue_diag(d, "catalog.workgroup", &err, "Cannot create the Athena workgroup %s", spec->workgroup);
        if (rc == 0) sf_log(ctx, SF_LOG_INFO, "catalog: created the Athena workgroup %s", spec->workgroup);
    }
    if (got == -1) sf_glue_diag(d, "catalog.workgroup", &err, "Cannot read the Athena workgroup %s", spec->workgroup);
    if (got == 0) {
        int ours = wg_ours(c, ctx, spec->workgroup, spec->pipeline, &owner, &err);
        if (ours < 0)
            sf_glue_diag(d, "catalog.workgroup", &err, "Cannot read the tags of the Athena workgroup %s",
                         spec->workgroup);
        else if (!ours) not_ours(d, true, spec, owner);
        else if (wg_as_wanted(wg, spec, results_uri, desc)) rc = 0;
        else if (wg_update(c, ctx, spec, results_uri, desc, &err) == 0) {
            sf_log(ctx, SF_LOG_INFO, "catalog: updated the settings of the Athena workgroup %s", spec->workgroup);
            rc = 0;
        } else sf_glue_diag(d, "catalog.workgroup", &err, "Cannot update the Athena workgroup %s", spec->workgroup);
    }
    sf_aws_error_clear(&err);
    cJSON_Delete(wg);
    free(owner);
    free(desc);
    return rc;
}

int sf_athena_workgroup_remove(sf_aws_client *c, sf_ctx *ctx, const sf_catalog_spec *spec, sf_diags *d)
{
    sf_aws_error err = {0};
    cJSON *wg = NULL;
    char *owner = NULL;
    int rc = 0, got = wg_get(c, ctx, spec->workgroup, &wg, &err);
    cJSON_Delete(wg);
    if (got < 0) {
        sf_glue_diag(d, NULL, &err, "Cannot read the Athena workgroup %s", spec->workgroup);
        rc = -1;
    } else if (got == 0) {
        int ours = wg_ours(c, ctx, spec->workgroup, spec->pipeline, &owner, &err);
        if (ours < 0) {
            sf_glue_diag(d, NULL, &err, "Cannot read the tags of the Athena workgroup %s", spec->workgroup);
            rc = -1;
        } else if (!ours) {
            not_ours(d, false, spec, owner);
        } else {
            cJSON *body = cJSON_CreateObject(), *out = NULL;
            cJSON_AddStringToObject(body, "WorkGroup", spec->workgroup);
            cJSON_AddBoolToObject(body, "RecursiveDeleteOption", true);
            sf_aws_error_clear(&err);
            if (athena_call(c, ctx, "DeleteWorkGroup", body, &out, &err) != 0 && !wg_missing(&err)) {
                sf_glue_diag(d, NULL, &err, "Cannot delete the Athena workgroup %s", spec->workgroup);
                rc = -1;
            } else {
                sf_log(ctx, SF_LOG_INFO, "catalog: deleted the Athena workgroup %s", spec->workgroup);
            }
            cJSON_Delete(out);
        }
    }
    sf_aws_error_clear(&err);
    free(owner);
    return rc;
}
