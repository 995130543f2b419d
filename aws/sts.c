/* sts.c — the STS calls SparkFlow makes: who am I (the credentials check
 * at configure time), AssumeRoleWithWebIdentity (OIDC from CI: GitHub
 * Actions, EKS), which is unsigned: the token is the proof, and AssumeRole
 * (a profile's role_arn + source_profile), signed with the source's keys.
 */
#include "aws/aws.h"
#include "aws/answers.h"

#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

#define STS_VERSION "2011-06-15"

void sf_aws_identity_clear(sf_aws_identity *id)
{
    free(id->account);
    free(id->arn);
    free(id->user_id);
    *id = (sf_aws_identity){0};
}

int sf_aws_sts_get_caller_identity(sf_aws_client *c, sf_ctx *ctx, sf_aws_identity *out, sf_aws_error *err)
{
    *out = (sf_aws_identity){0};
    xmlDoc *doc = NULL;
    if (sf_aws_query_call(c, ctx, "sts", STS_VERSION, "GetCallerIdentity", NULL, 0, true, false, &doc, err) != 0)
        return -1;
    sf_aws_sts_answer_identity(doc, out);
    sf_aws_xml_free(doc);
    return 0;
}

void sf_aws_sts_answer_identity(xmlDoc *doc, sf_aws_identity *out)
{
    xmlNode *root = (xmlNode *)doc;
    out->account = sf_aws_xml_text(root, "GetCallerIdentityResult/Account");
    out->arn = sf_aws_xml_text(root, "GetCallerIdentityResult/Arn");
    out->user_id = sf_aws_xml_text(root, "GetCallerIdentityResult/UserId");
}

/* Credentials of an AssumeRole* answer; -1 with err when it has none. */
int sf_aws_sts_answer_creds(xmlDoc *doc, const char *operation, sf_aws_creds *out, sf_aws_error *err)
{
    xmlNode *root = (xmlNode *)doc;
    out->access_key = sf_aws_xml_text(root, "Credentials/AccessKeyId");
    out->secret_key = sf_aws_xml_text(root, "Credentials/SecretAccessKey");
    out->token = sf_aws_xml_text(root, "Credentials/SessionToken");
    char *exp = sf_aws_xml_text(root, "Credentials/Expiration");
    int64_t s = sf_aws_parse_iso8601(exp);
    out->expires_ms = s > 0 ? s * 1000 : 0;
    free(exp);
    if (out->access_key && out->secret_key) return 0;
    sf_aws_creds_clear(out);
    sf_aws_error_clear(err);
    err->operation = sf_strdup(operation);
    err->message = sf_strdup("the answer holds no credentials");
    return -1;
}

int sf_aws_sts_assume_role(sf_aws_client *c, sf_ctx *ctx, const sf_aws_creds *source, const char *role_arn,
                           const char *session_name, int64_t duration_s, sf_aws_creds *out, sf_aws_error *err)
{
    *out = (sf_aws_creds){0};
    char duration[24];
    snprintf(duration, sizeof duration, "%lld", (long long)duration_s);
    sf_buf body = {0};
    char *arn = sf_aws_uri_encode(role_arn, strlen(role_arn), false);
    char *session = sf_aws_uri_encode(session_name, strlen(session_name), false);
    sf_buf_printf(&body, "Action=AssumeRole&Version=" STS_VERSION "&RoleArn=%s&RoleSessionName=%s", arn, session);
    if (duration_s > 0) sf_buf_printf(&body, "&DurationSeconds=%s", duration);
    free(arn);
    free(session);
    sf_header headers[] = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
    sf_aws_call call = {
        .operation = "AssumeRole",
        .service = "sts",
        .method = "POST",
        .path = "/",
        .headers = headers,
        .n_headers = 1,
        .body = body.data,
        .body_len = body.len,
        .idempotent = true,
        .creds = source,
    };
    sf_http_resp resp;
    int rc = sf_aws_client_send(c, ctx, &call, &resp, err);
    xmlDoc *doc = rc == 0 ? sf_aws_xml_parse(resp.body.data, resp.body.len) : NULL;
    if (rc == 0) rc = doc ? sf_aws_sts_answer_creds(doc, "AssumeRole", out, err) : -1;
    if (doc) sf_aws_xml_free(doc);
    sf_http_resp_clear(&resp);
    sf_buf_free(&body);
    return rc;
}

int sf_aws_sts_assume_role_with_web_identity(sf_aws_client *c, sf_ctx *ctx, const char *role_arn,
                                             const char *session_name, const char *token, int64_t duration_s,
                                             sf_aws_creds *out, sf_aws_error *err)
{
    *out = (sf_aws_creds){0};
    char duration[24];
    snprintf(duration, sizeof duration, "%lld", (long long)duration_s);
    sf_aws_param params[] = {
        {"RoleArn", role_arn},
        {"RoleSessionName", session_name},
        {"WebIdentityToken", token},
        {"DurationSeconds", duration},
    };
    xmlDoc *doc = NULL;
    if (sf_aws_query_call(c, ctx, "sts", STS_VERSION, "AssumeRoleWithWebIdentity", params, duration_s > 0 ? 4 : 3, true,
                          true, &doc, err) != 0)
        return -1;
    int rc = sf_aws_sts_answer_creds(doc, "AssumeRoleWithWebIdentity", out, err);
    sf_aws_xml_free(doc);
    return rc;
}
