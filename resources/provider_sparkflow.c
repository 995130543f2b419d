/* provider_sparkflow.c — the sparkflow provider: its block and resources.
 *
 * The provider block holds the AWS settings the emr engine and s3:// lakes
 * use, named as in the AWS provider (region, profile, shared files,
 * assume_role_with_web_identity, endpoints, default_tags, max_retries).
 * A laptop running the local engine needs none of them: with no AWS setting
 * and no AWS credentials in the environment, configure does nothing that
 * can fail and AWS is only looked at when an EMR cluster or S3 lake is used.
 * When AWS is configured (here or in the environment), configure resolves
 * the credentials and checks them with STS GetCallerIdentity, so a wrong key
 * or an expired token fails the plan at once, saying which source was tried.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"
#include "engines/aws_env.h"
#include "provider/timeouts.h"
#include "resources/resources.h"

#ifndef SF_VERSION
#define SF_VERSION "0.0.0"
#endif

static const sf_attr_def web_identity_attrs[] = {
    {"role_arn", "string", SF_ATTR_REQUIRED, "ARN of the IAM role to assume, e.g. `arn:aws:iam::123456789012:role/ci`."},
    {"web_identity_token_file", "string", SF_ATTR_OPTIONAL,
     "File holding the OIDC token (read again at each refresh: CI systems rotate it). One of this or "
     "`web_identity_token` is required."},
    {"web_identity_token", "string", SF_ATTR_OPTIONAL | SF_ATTR_SENSITIVE,
     "The OIDC token itself. Prefer `web_identity_token_file`: a token in configuration cannot be refreshed."},
    {"session_name", "string", SF_ATTR_OPTIONAL, "Name of the role session (CloudTrail shows it). Default: `sparkflow-<time>`."},
    {"duration", "string", SF_ATTR_OPTIONAL,
     "How long the assumed credentials last, e.g. `\"1h\"` (15m to the role's maximum). Default: STS's (1h). They are "
     "refreshed before they expire.", NULL, sf_validate_duration},
    {NULL},
};

static const sf_block_def web_identity_block = {
    .description = "Assume an IAM role with an OIDC token (GitHub Actions, EKS): STS AssumeRoleWithWebIdentity. "
                   "Without this block, `AWS_ROLE_ARN` and `AWS_WEB_IDENTITY_TOKEN_FILE` do the same.",
    .attrs = web_identity_attrs,
};

static const sf_attr_def endpoints_attrs[] = {
    {"emr", "string", SF_ATTR_OPTIONAL, "EMR endpoint URL. Default: `AWS_ENDPOINT_URL_EMR`, `AWS_ENDPOINT_URL`, else AWS's."},
    {"ec2", "string", SF_ATTR_OPTIONAL, "EC2 endpoint URL. Default: `AWS_ENDPOINT_URL_EC2`, `AWS_ENDPOINT_URL`, else AWS's."},
    {"s3", "string", SF_ATTR_OPTIONAL, "S3 endpoint URL. Default: `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, else AWS's."},
    {"sts", "string", SF_ATTR_OPTIONAL, "STS endpoint URL. Default: `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`, else "
                                        "the regional STS endpoint."},
    {NULL},
};

static const sf_block_def endpoints_block = {
    .description = "Custom service endpoints (a VPC endpoint, a test double such as moto).",
    .attrs = endpoints_attrs,
};

static void validate_retries(const sf_value *v, const char *path, sf_diags *d)
{
    int64_t n;
    if (sf_value_get_int(v, &n) != 0 || n < 0 || n > 100)
        sf_diag_error(d, path, "Invalid max_retries", "max_retries must be a whole number between 0 and 100.");
}

static const sf_attr_def provider_attrs[] = {
    {"region", "string", SF_ATTR_OPTIONAL,
     "AWS region of EMR clusters and S3 lakes. Default: `AWS_REGION`, `AWS_DEFAULT_REGION`, else the profile's "
     "`region`. Only the emr engine and s3:// lakes use AWS settings; the local engine needs none."},
    {"profile", "string", SF_ATTR_OPTIONAL,
     "Profile of the shared config and credentials files. Default: `AWS_PROFILE`, else `default`."},
    {"shared_config_files", "[\"list\",\"string\"]", SF_ATTR_OPTIONAL,
     "Shared config files. Default: `AWS_CONFIG_FILE`, else `~/.aws/config`."},
    {"shared_credentials_files", "[\"list\",\"string\"]", SF_ATTR_OPTIONAL,
     "Shared credentials files. Default: `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`."},
    {"access_key", "string", SF_ATTR_OPTIONAL | SF_ATTR_SENSITIVE,
     "AWS access key id. Discouraged: keys in configuration end up in files and history; use a profile, the "
     "environment (`AWS_ACCESS_KEY_ID`) or OIDC instead."},
    {"secret_key", "string", SF_ATTR_OPTIONAL | SF_ATTR_SENSITIVE, "AWS secret access key (see `access_key`)."},
    {"token", "string", SF_ATTR_OPTIONAL | SF_ATTR_SENSITIVE, "AWS session token of temporary credentials."},
    {"s3_use_path_style", "bool", SF_ATTR_OPTIONAL,
     "Address buckets as `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key`. Path style is "
     "also used when an endpoint is an IP address or localhost."},
    {"default_tags", "[\"map\",\"string\"]", SF_ATTR_OPTIONAL,
     "Tags put on every EMR cluster, under the cluster's own `tags` (which win on equal keys)."},
    {"max_retries", "number", SF_ATTR_OPTIONAL,
     "How many times a failed AWS call (throttling, 5xx, timeouts, resets) is retried, with capped exponential "
     "backoff and full jitter. Default: 8.", NULL, validate_retries},
    {NULL},
};

static const sf_nested_def provider_blocks[] = {
    {"assume_role_with_web_identity", SF_NEST_SINGLE, &web_identity_block, 0, 0, 0,
     "Assume an IAM role with an OIDC web identity token."},
    {"endpoints", SF_NEST_SINGLE, &endpoints_block, 0, 0, 0, "Custom AWS service endpoints."},
    {NULL},
};

static const sf_block_def provider_schema = {
    .description = "SparkFlow runs household-finance data pipelines on Spark: a `sparkflow_cluster` "
                   "says where Spark runs, a `sparkflow_pipeline` what runs there. The AWS settings "
                   "serve the `emr` engine and `s3://` lakes; credentials come from the usual AWS chain "
                   "(these settings, the environment, OIDC web identity, shared profiles, container and "
                   "instance metadata).",
    .attrs = provider_attrs,
    .blocks = provider_blocks,
};

static const sf_resource_type *const provider_resources[] = {
    &sf_resource_cluster,
    &sf_resource_pipeline,
    NULL,
};

/* ---- configuration --------------------------------------------------------------- */

/* A known, non-null string attribute, copied; else NULL. */
static char *str_attr(const sf_value *obj, const char *name)
{
    const sf_value *v = obj && obj->kind == SF_VAL_OBJECT ? sf_value_get(obj, name) : NULL;
    const char *s = sf_value_get_str(v);
    return s && *s ? sf_aws_strdup(s) : NULL;
}

static char **str_list(const sf_value *obj, const char *name, size_t *n)
{
    const sf_value *v = obj ? sf_value_get(obj, name) : NULL;
    *n = 0;
    if (sf_value_is_null(v) || sf_value_is_unknown(v)) return NULL;
    char **out = calloc(v->n + 1, sizeof *out);
    if (!out) abort();
    for (size_t i = 0; i < v->n; i++)
        if (sf_value_get_str(v->elems[i])) out[(*n)++] = sf_aws_strdup(sf_value_get_str(v->elems[i]));
    return out;
}

static void read_web_identity(const sf_value *b, sf_aws_config *cfg)
{
    if (sf_value_is_null(b) || sf_value_is_unknown(b)) return;
    cfg->web_identity = true;
    cfg->wi_role_arn = str_attr(b, "role_arn");
    cfg->wi_token_file = str_attr(b, "web_identity_token_file");
    cfg->wi_token = str_attr(b, "web_identity_token");
    cfg->wi_session_name = str_attr(b, "session_name");
    char *d = str_attr(b, "duration");
    int64_t ms = 0;
    if (d && sf_duration_parse(d, &ms) == 0) cfg->wi_duration_s = ms / 1000;
    free(d);
}

static void read_config(const sf_value *c, sf_aws_config *cfg)
{
    *cfg = (sf_aws_config){.max_retries = -1};
    cfg->region = str_attr(c, "region");
    cfg->profile = str_attr(c, "profile");
    cfg->shared_config_files = str_list(c, "shared_config_files", &cfg->n_shared_config_files);
    cfg->shared_credentials_files = str_list(c, "shared_credentials_files", &cfg->n_shared_credentials_files);
    cfg->access_key = str_attr(c, "access_key");
    cfg->secret_key = str_attr(c, "secret_key");
    cfg->token = str_attr(c, "token");
    read_web_identity(sf_value_get(c, "assume_role_with_web_identity"), cfg);
    const sf_value *ep = sf_value_get(c, "endpoints");
    if (!sf_value_is_null(ep) && !sf_value_is_unknown(ep)) {
        cfg->endpoint_emr = str_attr(ep, "emr");
        cfg->endpoint_ec2 = str_attr(ep, "ec2");
        cfg->endpoint_s3 = str_attr(ep, "s3");
        cfg->endpoint_sts = str_attr(ep, "sts");
    }
    const sf_value *ps = sf_value_get(c, "s3_use_path_style");
    cfg->s3_use_path_style = ps && ps->kind == SF_VAL_BOOL && ps->boolean;
    const sf_value *tags = sf_value_get(c, "default_tags");
    if (tags && tags->kind == SF_VAL_MAP) {
        cfg->default_tags = calloc(tags->n + 1, sizeof *cfg->default_tags);
        if (!cfg->default_tags) abort();
        for (size_t i = 0; i < tags->n; i++)
            if (sf_value_get_str(tags->elems[i]))
                cfg->default_tags[cfg->n_default_tags++] =
                    (sf_aws_header){sf_aws_strdup(tags->keys[i]), sf_aws_strdup(sf_value_get_str(tags->elems[i]))};
    }
    int64_t r;
    if (sf_value_get_int(sf_value_get(c, "max_retries"), &r) == 0) cfg->max_retries = (int)r;
}

/* Whether the provider block has an AWS setting. */
static bool aws_configured(const sf_value *config)
{
    for (size_t i = 0; provider_attrs[i].name; i++) {
        const sf_value *v = sf_value_get(config, provider_attrs[i].name);
        if (!sf_value_is_null(v)) return true;
    }
    for (size_t i = 0; provider_blocks[i].name; i++)
        if (!sf_value_is_null(sf_value_get(config, provider_blocks[i].name))) return true;
    return false;
}

/* Whether the environment names AWS credentials. */
static bool aws_in_environment(void)
{
    static const char *const vars[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                                       "AWS_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
                                       "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                       "AWS_CONTAINER_CREDENTIALS_FULL_URI", NULL};
    for (size_t i = 0; vars[i]; i++)
        if (getenv(vars[i]) && *getenv(vars[i])) return true;
    return false;
}

/* An error when the provider block asked for AWS; a warning when only the
 * environment did (a laptop with AWS_PROFILE set, running only local
 * clusters, must still plan offline: the emr engine and s3:// lakes report
 * the same problem as an error if they are used). */
static void credentials_problem(sf_diags *diags, bool fatal, const char *summary, const char *detail)
{
    if (fatal) sf_diag_error(diags, NULL, summary, "%s", detail);
    else sf_diag_warning(diags, NULL, summary, "%s\n\n(From the environment only: this matters only to the emr "
                                               "engine and s3:// lakes.)", detail);
}

/* Resolve the credentials and ask STS who they belong to. */
static void check_credentials(sf_call *call, sf_aws_client *c, bool fatal, sf_diags *diags)
{
    sf_aws_creds creds = {0};
    char *why = NULL, *detail = NULL;
    if (sf_aws_client_credentials(c, call->ctx, &creds, &why) != 0) {
        if (asprintf(&detail,
                     "The provider has AWS settings (in its block or the environment) but cannot get credentials: "
                     "%s\n\nThe local engine needs no AWS settings: remove them to run only locally.",
                     why) < 0)
            abort();
        credentials_problem(diags, fatal, "No usable AWS credentials", detail);
        free(detail);
        free(why);
        return;
    }
    sf_aws_identity id = {0};
    sf_aws_error err = {0};
    if (sf_aws_sts_get_caller_identity(c, call->ctx, &id, &err) != 0) {
        char *text = sf_aws_error_text(&err);
        if (asprintf(&detail,
                     "The credentials from %s do not work: %s\n\nCheck that they are current and belong to the "
                     "intended account (and `endpoints.sts`, if set).",
                     creds.source, text) < 0)
            abort();
        credentials_problem(diags, fatal, "AWS credentials rejected", detail);
        free(detail);
        free(text);
    } else {
        sf_log(call->ctx, SF_LOG_INFO, "aws: acting as %s (account %s), credentials from %s", id.arn ? id.arn : "?",
               id.account ? id.account : "?", creds.source);
    }
    sf_aws_error_clear(&err);
    sf_aws_identity_clear(&id);
    sf_aws_creds_clear(&creds);
}

static void provider_free_data(void *data);

static void *provider_configure(sf_call *call, const sf_value *config, sf_diags *diags)
{
    sf_aws_config cfg;
    read_config(config, &cfg);
    if (cfg.web_identity && !cfg.wi_token && !cfg.wi_token_file)
        sf_diag_error(diags, "assume_role_with_web_identity", "Missing web identity token",
                      "Set web_identity_token_file (or web_identity_token) in assume_role_with_web_identity.");
    bool configured = aws_configured(config);
    sf_engine_env *env = calloc(1, sizeof *env);
    if (!env) abort();
    env->aws = sf_aws_client_new(&cfg);
    if ((configured || aws_in_environment()) && !sf_diags_has_error(diags))
        check_credentials(call, env->aws, configured, diags);
    if (sf_diags_has_error(diags)) {
        provider_free_data(env);
        return NULL;
    }
    return env;
}

static void provider_free_data(void *data)
{
    sf_engine_env *env = data;
    if (!env) return;
    sf_aws_client_free(env->aws);
    free(env);
}

/* Every engine and lake gets the same env: the local engine ignores it. */
const sf_engine_env *resources_engine_env(const sf_call *call, const sf_engine *engine)
{
    (void)engine;
    return call ? call->provider_data : NULL;
}

const sf_provider_def sf_provider_sparkflow = {
    .name = "sparkflow",
    .display_name = "SparkFlow", .registry_address = "registry.terraform.io/sparkflow/sparkflow",
    .version = SF_VERSION,
    .schema = &provider_schema,
    .resources = provider_resources,
    .configure = provider_configure,
    .free_data = provider_free_data,
};
