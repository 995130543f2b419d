/* provider_sparkflow.c — the sparkflow provider: its block and resources.
 *
 * The provider block holds the AWS settings the emr engine and s3:// lakes
 * use, named as in the AWS provider (region, profile, shared files,
 * assume_role_with_web_identity, endpoints, default_tags, max_retries).
 * Configure hands the block to the engines (engines/env.h), which build the
 * AWS client from it and check the credentials; a laptop running the local
 * engine needs none of them.
 */
#include "engines/env.h"
#include "provider/timeouts.h"
#include "resources/resources.h"

#ifndef SF_VERSION
#define SF_VERSION "0.0.0"
#endif

static const sf_attr_def web_identity_attrs[] = {
    {"role_arn", "string", SF_ATTR_REQUIRED,
     "ARN of the IAM role to assume, e.g. `arn:aws:iam::123456789012:role/ci`."},
    {"web_identity_token_file", "string", SF_ATTR_OPTIONAL,
     "File holding the OIDC token (read again at each refresh: CI systems rotate it). One of this or "
     "`web_identity_token` is required."},
    {"web_identity_token", "string", SF_ATTR_OPTIONAL | SF_ATTR_SENSITIVE,
     "The OIDC token itself. Prefer `web_identity_token_file`: a token in configuration cannot be refreshed."},
    {"session_name", "string", SF_ATTR_OPTIONAL,
     "Name of the role session (CloudTrail shows it). Default: `sparkflow-<time>`."},
    {"duration", "string", SF_ATTR_OPTIONAL,
     "How long the assumed credentials last, e.g. `\"1h\"` (15m to the role's maximum). Default: STS's (1h). They are "
     "refreshed before they expire.",
     NULL, sf_validate_duration},
    {NULL},
};

static const sf_block_def web_identity_block = {
    .description = "Assume an IAM role with an OIDC token (GitHub Actions, EKS): STS AssumeRoleWithWebIdentity. "
                   "Without this block, `AWS_ROLE_ARN` and `AWS_WEB_IDENTITY_TOKEN_FILE` do the same.",
    .attrs = web_identity_attrs,
};

static const sf_attr_def endpoints_attrs[] = {
    {"emr", "string", SF_ATTR_OPTIONAL,
     "EMR endpoint URL. Default: `AWS_ENDPOINT_URL_EMR`, `AWS_ENDPOINT_URL`, else AWS's."},
    {"ec2", "string", SF_ATTR_OPTIONAL,
     "EC2 endpoint URL. Default: `AWS_ENDPOINT_URL_EC2`, `AWS_ENDPOINT_URL`, else AWS's."},
    {"s3", "string", SF_ATTR_OPTIONAL,
     "S3 endpoint URL. Default: `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, else AWS's."},
    {"sts", "string", SF_ATTR_OPTIONAL,
     "STS endpoint URL. Default: `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`, else "
     "the regional STS endpoint."},
    {"iam", "string", SF_ATTR_OPTIONAL,
     "IAM endpoint URL (the EC2 Airflow host's role and instance profile). Default: `AWS_ENDPOINT_URL_IAM`, "
     "`AWS_ENDPOINT_URL`, else the global IAM endpoint."},
    {"ssm", "string", SF_ATTR_OPTIONAL,
     "SSM endpoint URL (the EC2 Airflow host's AMI lookup and password parameter). Default: "
     "`AWS_ENDPOINT_URL_SSM`, `AWS_ENDPOINT_URL`, else AWS's."},
    {"sqs", "string", SF_ATTR_OPTIONAL,
     "SQS endpoint URL (the queues that start pipeline runs on AWS when input lands). Default: "
     "`AWS_ENDPOINT_URL_SQS`, `AWS_ENDPOINT_URL`, else AWS's."},
    {"glue", "string", SF_ATTR_OPTIONAL,
     "Glue endpoint URL (the catalog of `s3://` lakes). Default: `AWS_ENDPOINT_URL_GLUE`, `AWS_ENDPOINT_URL`, "
     "else AWS's."},
    {"athena", "string", SF_ATTR_OPTIONAL,
     "Athena endpoint URL (the workgroup of `s3://` lakes). Default: `AWS_ENDPOINT_URL_ATHENA`, "
     "`AWS_ENDPOINT_URL`, else AWS's."},
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
     "AWS region of EMR clusters, S3 lakes and EC2 Airflow hosts. Default: `AWS_REGION`, `AWS_DEFAULT_REGION`, "
     "else the profile's `region`. Only the emr engine, s3:// lakes and `ec2` Airflow hosts use AWS settings; the "
     "local engine needs none."},
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
     "backoff and full jitter. Default: 8.",
     NULL, validate_retries},
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
    &sf_resource_airflow,
    NULL,
};

static const sf_action_type *const provider_actions[] = {
    &sf_action_pipeline_run,
    &sf_action_cluster_stop,
    NULL,
};

static const sf_list_resource_type *const provider_list_resources[] = {
    &sf_list_cluster,
    &sf_list_airflow,
    NULL,
};

/* ---- configuration --------------------------------------------------------------- */

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

static void *provider_configure(sf_call *call, const sf_value *config, sf_diags *diags)
{
    return sf_engine_env_new(call->ctx, config, aws_configured(config), diags);
}

static void provider_free_data(void *data)
{
    sf_engine_env_free(data);
}

const sf_engine_env *sf_resources_engine_env(const sf_call *call)
{
    return call ? call->provider_data : NULL;
}

const sf_provider_def sf_provider_sparkflow = {
    .name = "sparkflow",
    .display_name = "SparkFlow",
    .registry_address = "registry.terraform.io/sparkflow/sparkflow",
    .version = SF_VERSION,
    .schema = &provider_schema,
    .resources = provider_resources,
    .list_resources = provider_list_resources,
    .actions = provider_actions,
    .configure = provider_configure,
    .free_data = provider_free_data,
};
