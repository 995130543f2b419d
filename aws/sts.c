/* sts.c — the two STS calls SparkFlow makes: who am I (the credentials
 * check at configure time) and AssumeRoleWithWebIdentity (OIDC from CI:
 * GitHub Actions, EKS), which is unsigned: the token is the proof.
 */
#include "aws.h"

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
    xmlNode *root = (xmlNode *)doc;
    out->account = sf_aws_xml_text(root, "GetCallerIdentityResult/Account");
    out->arn = sf_aws_xml_text(root, "GetCallerIdentityResult/Arn");
    out->user_id = sf_aws_xml_text(root, "GetCallerIdentityResult/UserId");
    xmlFreeDoc(doc);
    return 0;
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
    if (sf_aws_query_call(c, ctx, "sts", STS_VERSION, "AssumeRoleWithWebIdentity", params, duration_s > 0 ? 4 : 3,
                          true, true, &doc, err) != 0)
        return -1;
    xmlNode *root = (xmlNode *)doc;
    out->access_key = sf_aws_xml_text(root, "Credentials/AccessKeyId");
    out->secret_key = sf_aws_xml_text(root, "Credentials/SecretAccessKey");
    out->token = sf_aws_xml_text(root, "Credentials/SessionToken");
    char *exp = sf_aws_xml_text(root, "Credentials/Expiration");
    int64_t s = sf_aws_parse_iso8601(exp);
    out->expires_ms = s > 0 ? s * 1000 : 0;
    free(exp);
    xmlFreeDoc(doc);
    if (!out->access_key || !out->secret_key) {
        sf_aws_creds_clear(out);
        sf_aws_error_clear(err);
        err->operation = sf_aws_strdup("AssumeRoleWithWebIdentity");
        err->message = sf_aws_strdup("the answer holds no credentials");
        return -1;
    }
    return 0;
}
