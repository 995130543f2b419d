/* s3_notification.c — a bucket's notification configuration, read and
 * written whole (S3 has no call for one entry: callers merge). */
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"

int sf_aws_s3_get_notification(sf_aws_client *c, sf_ctx *ctx, const char *bucket, sf_buf *xml, sf_aws_error *err)
{
    sf_aws_param q[] = {{"notification", NULL}};
    sf_aws_call call = {
        .operation = "GetBucketNotificationConfiguration",
        .service = "s3",
        .method = "GET",
        .path = "/",
        .query = q,
        .n_query = 1,
        .idempotent = true,
        .bucket = bucket,
    };
    sf_http_resp resp;
    int rc = sf_aws_client_send(c, ctx, &call, &resp, err);
    if (rc == 0) {
        *xml = resp.body;
        resp.body = (sf_buf){0};
    }
    sf_http_resp_clear(&resp);
    return rc;
}

int sf_aws_s3_put_notification(sf_aws_client *c, sf_ctx *ctx, const char *bucket, const char *xml, sf_aws_error *err)
{
    sf_aws_param q[] = {{"notification", NULL}};
    sf_header headers[] = {{"Content-Type", "application/xml"}};
    sf_aws_call call = {
        .operation = "PutBucketNotificationConfiguration",
        .service = "s3",
        .method = "PUT",
        .path = "/",
        .query = q,
        .n_query = 1,
        .headers = headers,
        .n_headers = 1,
        .body = xml,
        .body_len = strlen(xml),
        .idempotent = true,
        .bucket = bucket,
    };
    sf_http_resp resp;
    int rc = sf_aws_client_send(c, ctx, &call, &resp, err);
    sf_http_resp_clear(&resp);
    return rc;
}
