/* json.c — the AWS JSON 1.1 protocol (EMR): POST / with X-Amz-Target.
 *
 * The request body is the operation's input as a JSON object; the answer is
 * its output, or an error whose code is `__type` (the part after '#', e.g.
 * "com.amazonaws.elasticmapreduce#InvalidRequestException") and whose text
 * is `message` or `Message`.
 */
#include "aws/aws.h"

#include <stdlib.h>
#include <string.h>

void sf_aws_json_error(const sf_http_resp *resp, sf_aws_error *err)
{
    cJSON *root = cJSON_ParseWithLength(resp->body.data ? resp->body.data : "", resp->body.len);
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "__type"));
    if (!type) type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "code"));
    if (!type) type = sf_http_resp_header(resp, "x-amzn-errortype");
    if (type) {
        const char *hash = strrchr(type, '#');
        if (hash) type = hash + 1;
        free(err->code);
        err->code = sf_strndup(type, strcspn(type, ":"));
    }
    const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "message"));
    if (!msg) msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "Message"));
    if (!msg) msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "errorMessage"));
    if (msg) {
        free(err->message);
        err->message = sf_strdup(msg);
    }
    cJSON_Delete(root);
}

int sf_aws_json_call(sf_aws_client *c, sf_ctx *ctx, const char *service, const char *target_prefix,
                     const char *operation, const cJSON *body, bool idempotent, cJSON **out, sf_aws_error *err)
{
    *out = NULL;
    char *text = body ? cJSON_PrintUnformatted(body) : sf_strdup("{}");
    if (!text) abort();
    char *target = sf_fmt("%s.%s", target_prefix, operation);
    sf_header headers[] = {
        {"Content-Type", "application/x-amz-json-1.1"},
        {"X-Amz-Target", target},
    };
    sf_aws_call call = {
        .operation = operation,
        .service = service,
        .method = "POST",
        .path = "/",
        .headers = headers,
        .n_headers = 2,
        .body = text,
        .body_len = strlen(text),
        .idempotent = idempotent,
    };
    sf_http_resp resp;
    int rc = sf_aws_client_send(c, ctx, &call, &resp, err);
    if (rc == 0) {
        *out = cJSON_ParseWithLength(resp.body.data ? resp.body.data : "{}", resp.body.len ? resp.body.len : 2);
        if (!*out) {
            sf_aws_error_clear(err);
            err->operation = sf_strdup(operation);
            err->status = resp.status;
            err->message = sf_strdup("the answer is not valid JSON");
            rc = -1;
        }
    }
    sf_http_resp_clear(&resp);
    free(target);
    free(text);
    return rc;
}
