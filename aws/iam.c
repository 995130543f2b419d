/* iam.c — the IAM calls the Airflow host needs (query protocol, the global
 * endpoint): a role with one inline policy, and an instance profile that
 * carries it.  Deletes tell "already gone" (NoSuchEntity) apart. */
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"

#define IAM_VERSION "2010-05-08"

static int iam_call(sf_aws_client *c, sf_ctx *ctx, const char *op, const sf_aws_params *p, bool idempotent,
                    xmlDoc **doc, sf_aws_error *err)
{
    return sf_aws_query_call(c, ctx, "iam", IAM_VERSION, op, p->items, p->n, idempotent, false, doc, err);
}

/* A call whose answer carries nothing we need; 1 on NoSuchEntity when
 * `gone_ok`. */
static int iam_simple(sf_aws_client *c, sf_ctx *ctx, const char *op, sf_aws_params *p, bool idempotent, bool gone_ok,
                      sf_aws_error *err)
{
    xmlDoc *doc = NULL;
    int rc = iam_call(c, ctx, op, p, idempotent, &doc, err);
    sf_aws_xml_free(doc);
    sf_aws_params_clear(p);
    if (rc != 0 && gone_ok && sf_aws_error_is(err, "NoSuchEntity")) return 1;
    return rc;
}

static void add_tags(sf_aws_params *p, const sf_header *tags, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sf_aws_params_addf(p, tags[i].name, "Tags.member.%zu.Key", i + 1);
        sf_aws_params_addf(p, tags[i].value, "Tags.member.%zu.Value", i + 1);
    }
}

int sf_aws_iam_create_role(sf_aws_client *c, sf_ctx *ctx, const char *name, const char *trust_policy,
                           const char *description, const sf_header *tags, size_t n_tags, sf_aws_error *err)
{
    sf_aws_params p = {0};
    sf_aws_params_add(&p, "RoleName", name);
    sf_aws_params_add(&p, "AssumeRolePolicyDocument", trust_policy);
    sf_aws_params_add(&p, "Description", description);
    add_tags(&p, tags, n_tags);
    /* A repeat fails with EntityAlreadyExists: never two roles. */
    return iam_simple(c, ctx, "CreateRole", &p, false, false, err);
}

int sf_aws_iam_put_role_policy(sf_aws_client *c, sf_ctx *ctx, const char *role, const char *policy_name,
                               const char *document, sf_aws_error *err)
{
    sf_aws_params p = {0};
    sf_aws_params_add(&p, "RoleName", role);
    sf_aws_params_add(&p, "PolicyName", policy_name);
    sf_aws_params_add(&p, "PolicyDocument", document);
    return iam_simple(c, ctx, "PutRolePolicy", &p, true, false, err);
}

int sf_aws_iam_delete_role_policy(sf_aws_client *c, sf_ctx *ctx, const char *role, const char *policy_name,
                                  sf_aws_error *err)
{
    sf_aws_params p = {0};
    sf_aws_params_add(&p, "RoleName", role);
    sf_aws_params_add(&p, "PolicyName", policy_name);
    return iam_simple(c, ctx, "DeleteRolePolicy", &p, true, true, err);
}

int sf_aws_iam_delete_role(sf_aws_client *c, sf_ctx *ctx, const char *role, sf_aws_error *err)
{
    sf_aws_params p = {0};
    sf_aws_params_add(&p, "RoleName", role);
    return iam_simple(c, ctx, "DeleteRole", &p, true, true, err);
}

int sf_aws_iam_create_instance_profile(sf_aws_client *c, sf_ctx *ctx, const char *name, const sf_header *tags,
                                       size_t n_tags, sf_aws_error *err)
{
    sf_aws_params p = {0};
    sf_aws_params_add(&p, "InstanceProfileName", name);
    add_tags(&p, tags, n_tags);
    return iam_simple(c, ctx, "CreateInstanceProfile", &p, false, false, err);
}

int sf_aws_iam_add_role_to_instance_profile(sf_aws_client *c, sf_ctx *ctx, const char *profile, const char *role,
                                            sf_aws_error *err)
{
    sf_aws_params p = {0};
    sf_aws_params_add(&p, "InstanceProfileName", profile);
    sf_aws_params_add(&p, "RoleName", role);
    return iam_simple(c, ctx, "AddRoleToInstanceProfile", &p, false, false, err);
}

int sf_aws_iam_remove_role_from_instance_profile(sf_aws_client *c, sf_ctx *ctx, const char *profile, const char *role,
                                                 sf_aws_error *err)
{
    sf_aws_params p = {0};
    sf_aws_params_add(&p, "InstanceProfileName", profile);
    sf_aws_params_add(&p, "RoleName", role);
    return iam_simple(c, ctx, "RemoveRoleFromInstanceProfile", &p, true, true, err);
}

int sf_aws_iam_delete_instance_profile(sf_aws_client *c, sf_ctx *ctx, const char *profile, sf_aws_error *err)
{
    sf_aws_params p = {0};
    sf_aws_params_add(&p, "InstanceProfileName", profile);
    return iam_simple(c, ctx, "DeleteInstanceProfile", &p, true, true, err);
}

int sf_aws_iam_get_instance_profile(sf_aws_client *c, sf_ctx *ctx, const char *name, char **arn, sf_aws_error *err)
{
    if (arn) *arn = NULL;
    sf_aws_params p = {0};
    sf_aws_params_add(&p, "InstanceProfileName", name);
    xmlDoc *doc = NULL;
    int rc = iam_call(c, ctx, "GetInstanceProfile", &p, true, &doc, err);
    sf_aws_params_clear(&p);
    if (rc == 0 && arn) *arn = sf_aws_xml_text(sf_aws_xml_root(doc), "InstanceProfile/Arn");
    sf_aws_xml_free(doc);
    if (rc != 0 && sf_aws_error_is(err, "NoSuchEntity")) return 1;
    return rc;
}
