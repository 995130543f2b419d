/* aws_env.c — the engine env from the provider block: the AWS client of the
 * emr engine and of s3:// lakes (env.h, aws_env.h).
 *
 * The provider block's AWS settings are named as in the AWS provider
 * (region, profile, shared files, assume_role_with_web_identity, endpoints,
 * default_tags, max_retries).  A laptop running the local engine needs none
 * of them: with no AWS setting and no AWS credentials in the environment,
 * nothing here can fail and AWS is only looked at when an EMR cluster or S3
 * lake is used.  When AWS is configured (in the block or the environment),
 * the credentials are resolved and checked with STS GetCallerIdentity, so a
 * wrong key or an expired token fails the plan at once, saying which source
 * was tried.
 */
#include "engines/aws_env.h"

#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "provider/timeouts.h"

/* ---- the provider block -------------------------------------------------------- */

/* A known, non-empty string attribute, copied; else NULL. */
static char *str_attr(const sf_value *obj, const char *name)
{
    const sf_value *v = obj && obj->kind == SF_VAL_OBJECT ? sf_value_get(obj, name) : NULL;
    const char *s = sf_value_get_str(v);
    return s && *s ? sf_strdup(s) : NULL;
}

static char **str_list(const sf_value *obj, const char *name, size_t *n)
{
    const sf_value *v = obj ? sf_value_get(obj, name) : NULL;
    *n = 0;
    if (sf_value_is_null(v) || sf_value_is_unknown(v)) return NULL;
    char **out = calloc(v->n + 1, sizeof *out);
    if (!out) abort();
    for (size_t i = 0; i < v->n; i++)
        if (sf_value_get_str(v->elems[i])) out[(*n)++] = sf_strdup(sf_value_get_str(v->elems[i]));
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
        cfg->endpoint_iam = str_attr(ep, "iam");
        cfg->endpoint_ssm = str_attr(ep, "ssm");
        cfg->endpoint_sqs = str_attr(ep, "sqs");
        cfg->endpoint_glue = str_attr(ep, "glue");
        cfg->endpoint_athena = str_attr(ep, "athena");
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
                    (sf_header){sf_strdup(tags->keys[i]), sf_strdup(sf_value_get_str(tags->elems[i]))};
    }
    int64_t r;
    if (sf_value_get_int(sf_value_get(c, "max_retries"), &r) == 0) cfg->max_retries = (int)r;
}

/* ---- the credentials check ------------------------------------------------------ */

/* Whether the environment names AWS credentials. */
static bool aws_in_environment(void)
{
    static const char *const vars[] = {"AWS_ACCESS_KEY_ID",
                                       "AWS_SECRET_ACCESS_KEY",
                                       "AWS_SESSION_TOKEN",
                                       "AWS_PROFILE",
                                       "AWS_ROLE_ARN",
                                       "AWS_WEB_IDENTITY_TOKEN_FILE",
                                       "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                       "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                       NULL};
    for (size_t i = 0; vars[i]; i++)
        if (getenv(vars[i]) && *getenv(vars[i])) return true;
    return false;
}

/* An error when the provider block asked for AWS; a warning when only the
 * environment did (a laptop with AWS_PROFILE set, running only local
 * clusters, must still plan offline: the emr engine and s3:// lakes report
 * the same problem as an error if they are used).  Takes `detail`. */
static void credentials_problem(sf_diags *diags, bool fatal, const char *summary, char *detail)
{
    if (fatal) sf_diag_error(diags, NULL, summary, "%s", detail);
    else
        sf_diag_warning(diags, NULL, summary,
                        "%s\n\n(From the environment only: this matters only to the emr "
                        "engine and s3:// lakes.)",
                        detail);
    free(detail);
}

/* Resolve the credentials and ask STS who they belong to. */
static void check_credentials(sf_ctx *ctx, sf_aws_client *c, bool fatal, sf_diags *diags)
{
    sf_aws_creds creds = {0};
    char *why = NULL;
    if (sf_aws_client_credentials(c, ctx, &creds, &why) != 0) {
        credentials_problem(diags, fatal, "No usable AWS credentials",
                            sf_fmt("The provider has AWS settings (in its block or the environment) but cannot "
                                   "get credentials: %s\n\nThe local engine needs no AWS settings: remove them "
                                   "to run only locally.",
                                   why));
        free(why);
        return;
    }
    sf_aws_identity id = {0};
    sf_aws_error err = {0};
    if (sf_aws_sts_get_caller_identity(c, ctx, &id, &err) != 0) {
        char *text = sf_aws_error_text(&err);
        credentials_problem(diags, fatal, "AWS credentials rejected",
                            sf_fmt("The credentials from %s do not work: %s\n\nCheck that they are current and "
                                   "belong to the intended account (and `endpoints.sts`, if set).",
                                   creds.source, text));
        free(text);
    } else {
        sf_log(ctx, SF_LOG_INFO, "aws: acting as %s (account %s), credentials from %s", id.arn ? id.arn : "?",
               id.account ? id.account : "?", creds.source);
    }
    sf_aws_error_clear(&err);
    sf_aws_identity_clear(&id);
    sf_aws_creds_clear(&creds);
}

/* ---- the env ---------------------------------------------------------------------- */

sf_engine_env *sf_engine_env_new(sf_ctx *ctx, const sf_value *config, bool aws_configured, sf_diags *diags)
{
    sf_aws_config cfg;
    read_config(config, &cfg);
    if (cfg.web_identity && !cfg.wi_token && !cfg.wi_token_file)
        sf_diag_error(diags, "assume_role_with_web_identity", "Missing web identity token",
                      "Set web_identity_token_file (or web_identity_token) in assume_role_with_web_identity.");
    sf_engine_env *env = calloc(1, sizeof *env);
    if (!env) abort();
    env->aws = sf_aws_client_new(&cfg);
    env->aws_set = aws_configured || aws_in_environment();
    if (env->aws_set && !sf_diags_has_error(diags)) check_credentials(ctx, env->aws, aws_configured, diags);
    if (sf_diags_has_error(diags)) {
        sf_engine_env_free(env);
        return NULL;
    }
    return env;
}

void sf_engine_env_free(sf_engine_env *env)
{
    if (!env) return;
    sf_aws_client_free(env->aws);
    free(env);
}

sf_lake_env sf_engine_env_lake(const sf_engine_env *env)
{
    return (sf_lake_env){.aws = env ? env->aws : NULL};
}

bool sf_engine_env_aws_set(const sf_engine_env *env)
{
    return env && env->aws_set;
}

sf_aws_client *sf_engine_env_aws(const sf_engine_env *env, sf_aws_client **owned)
{
    *owned = NULL;
    if (env && env->aws) return env->aws;
    sf_aws_config cfg = {.max_retries = -1};
    *owned = sf_aws_client_new(&cfg);
    return *owned;
}
