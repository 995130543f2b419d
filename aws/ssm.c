/* ssm.c — SSM parameters (JSON 1.1, target AmazonSSM): the public AMI
 * parameters and the Airflow host's password, kept as a SecureString that
 * only the host's role may read. */
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"

static int ssm_call(sf_aws_client *c, sf_ctx *ctx, const char *op, cJSON *body, bool idempotent, cJSON **out,
                    sf_aws_error *err)
{
    int rc = sf_aws_json_call(c, ctx, "ssm", "AmazonSSM", op, body, idempotent, out, err);
    cJSON_Delete(body);
    return rc;
}

int sf_aws_ssm_get_parameter(sf_aws_client *c, sf_ctx *ctx, const char *name, char **value, sf_aws_error *err)
{
    *value = NULL;
    cJSON *body = cJSON_CreateObject(), *out = NULL;
    cJSON_AddStringToObject(body, "Name", name);
    cJSON_AddBoolToObject(body, "WithDecryption", true);
    int rc = ssm_call(c, ctx, "GetParameter", body, true, &out, err);
    if (rc != 0) return sf_aws_error_is(err, "ParameterNotFound") ? 1 : -1;
    const char *v = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(out, "Parameter"), "Value"));
    *value = v ? sf_strdup(v) : NULL;
    cJSON_Delete(out);
    return *value ? 0 : 1;
}

int sf_aws_ssm_put_secure_parameter(sf_aws_client *c, sf_ctx *ctx, const char *name, const char *value,
                                    const char *description, sf_aws_error *err)
{
    cJSON *body = cJSON_CreateObject(), *out = NULL;
    cJSON_AddStringToObject(body, "Name", name);
    cJSON_AddStringToObject(body, "Value", value);
    cJSON_AddStringToObject(body, "Type", "SecureString");
    if (description) cJSON_AddStringToObject(body, "Description", description);
    cJSON_AddBoolToObject(body, "Overwrite", true);
    int rc = ssm_call(c, ctx, "PutParameter", body, true, &out, err);
    cJSON_Delete(out);
    return rc;
}

int sf_aws_ssm_delete_parameter(sf_aws_client *c, sf_ctx *ctx, const char *name, sf_aws_error *err)
{
    cJSON *body = cJSON_CreateObject(), *out = NULL;
    cJSON_AddStringToObject(body, "Name", name);
    int rc = ssm_call(c, ctx, "DeleteParameter", body, true, &out, err);
    cJSON_Delete(out);
    if (rc != 0 && sf_aws_error_is(err, "ParameterNotFound")) return 1;
    return rc;
}
