/* access.c — what an EC2 host is allowed and who may reach it, when the
 * user gives neither: a role (trusting EC2) whose inline policy allows the
 * least the host needs, an instance profile carrying it, and a security
 * group admitting the API port from allowed_cidrs only.  Each is recorded
 * as soon as it exists, so that a failure half-way removes exactly what
 * was made. */
#include <stdlib.h>
#include <string.h>

#include "orchestrators/ec2/ec2.h"

#define POLICY_NAME "sparkflow-airflow"

void sf_ec2_made_clear(sf_ec2_made *m)
{
    free(m->role);
    free(m->instance_profile);
    free(m->security_group);
    free(m->password_parameter);
    *m = (sf_ec2_made){0};
}

static const char *partition_of(const char *region)
{
    if (strncmp(region, "cn-", 3) == 0) return "aws-cn";
    if (strncmp(region, "us-gov-", 7) == 0) return "aws-us-gov";
    return "aws";
}

static cJSON *statement(cJSON *list, const char *sid, const char *const *actions, const char *resource)
{
    cJSON *st = cJSON_CreateObject();
    cJSON_AddStringToObject(st, "Sid", sid);
    cJSON_AddStringToObject(st, "Effect", "Allow");
    cJSON *a = cJSON_AddArrayToObject(st, "Action");
    for (size_t i = 0; actions[i]; i++) cJSON_AddItemToArray(a, cJSON_CreateString(actions[i]));
    cJSON_AddStringToObject(st, "Resource", resource);
    cJSON_AddItemToArray(list, st);
    return st;
}

static void condition(cJSON *st, const char *key, const char *value)
{
    cJSON *eq = cJSON_AddObjectToObject(cJSON_AddObjectToObject(st, "Condition"), "StringEquals");
    cJSON_AddStringToObject(eq, key, value);
}

char *sf_ec2_role_policy(const char *region, const sf_ec2_spec *s, const char *password_parameter)
{
    const char *p = partition_of(region);
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "Version", "2012-10-17");
    cJSON *list = cJSON_AddArrayToObject(doc, "Statement");
    char *bucket = sf_fmt("arn:%s:s3:::%s", p, s->bundle_bucket);
    char *objects = sf_fmt("%s/*", bucket);
    char *queues = sf_fmt("arn:%s:sqs:%s:*:sparkflow-*", p, region);
    char *logs = sf_fmt("arn:%s:logs:%s:*:log-group:/sparkflow/*", p, region);
    char *param = sf_fmt("arn:%s:ssm:%s:*:parameter%s", p, region, password_parameter);
    char *via = sf_fmt("ssm.%s.amazonaws.com", region);
    statement(list, "LakeBucket", (const char *const[]){"s3:ListBucket", "s3:GetBucketLocation", NULL}, bucket);
    statement(list, "LakeObjects", (const char *const[]){"s3:GetObject", "s3:PutObject", "s3:DeleteObject", NULL},
              objects);
    cJSON *emr = statement(list, "EmrStepsOnManagedClusters",
                           (const char *const[]){"elasticmapreduce:AddJobFlowSteps", "elasticmapreduce:DescribeStep",
                                                 "elasticmapreduce:ListSteps", "elasticmapreduce:CancelSteps",
                                                 "elasticmapreduce:DescribeCluster", NULL},
                           "*");
    condition(emr, "aws:ResourceTag/sparkflow:managed", "true");
    statement(list, "PipelineQueues",
              (const char *const[]){"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                                    "sqs:GetQueueAttributes", "sqs:GetQueueUrl", NULL},
              queues);
    statement(list, "Logs",
              (const char *const[]){"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                                    "logs:DescribeLogStreams", NULL},
              logs);
    statement(list, "OwnPassword", (const char *const[]){"ssm:GetParameter", NULL}, param);
    cJSON *kms = statement(list, "OwnPasswordKey", (const char *const[]){"kms:Decrypt", NULL}, "*");
    condition(kms, "kms:ViaService", via);
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    free(bucket);
    free(objects);
    free(queues);
    free(logs);
    free(param);
    free(via);
    return text;
}

/* Whether a create whose answer was lost (it may have been acted on) is
 * worth another try: then "already exists" means the lost try worked (every
 * name made here carries a random suffix: nobody else made it). */
static bool lost_answer(sf_aws_error *err, int *tries, bool *lost)
{
    if (!err->maybe_applied || ++*tries >= 3) return false;
    *lost = true;
    sf_aws_error_clear(err);
    return true;
}

static bool made_by_lost_try(bool lost, sf_aws_error *err, const char *code)
{
    if (!lost || !sf_aws_error_is(err, code)) return false;
    sf_aws_error_clear(err);
    return true;
}

static const char TRUST_POLICY[] = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":"
                                   "{\"Service\":\"ec2.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}";

int sf_ec2_make_profile(sf_aws_client *c, sf_ctx *ctx, const char *name, const char *region, const sf_ec2_spec *s,
                        const sf_header *tags, size_t n_tags, sf_ec2_made *made, sf_diags *diags)
{
    sf_aws_error err = {0};
    const char *what = "CreateRole";
    char *policy = sf_ec2_role_policy(region, s, made->password_parameter);
    int rc, tries = 0;
    bool lost = false;
    do
        rc = sf_aws_iam_create_role(c, ctx, name, TRUST_POLICY, "SparkFlow Airflow host (created by Terraform)", tags,
                                    n_tags, &err);
    while (rc != 0 && lost_answer(&err, &tries, &lost));
    if (rc != 0 && made_by_lost_try(lost, &err, "EntityAlreadyExists")) rc = 0;
    if (rc == 0) {
        made->role = sf_strdup(name);
        what = "PutRolePolicy";
        rc = sf_aws_iam_put_role_policy(c, ctx, name, POLICY_NAME, policy, &err);
    }
    if (rc == 0) {
        what = "CreateInstanceProfile";
        tries = 0, lost = false;
        do rc = sf_aws_iam_create_instance_profile(c, ctx, name, tags, n_tags, &err);
        while (rc != 0 && lost_answer(&err, &tries, &lost));
        if (rc != 0 && made_by_lost_try(lost, &err, "EntityAlreadyExists")) rc = 0;
    }
    if (rc == 0) {
        made->instance_profile = sf_strdup(name);
        what = "AddRoleToInstanceProfile";
        tries = 0, lost = false;
        do rc = sf_aws_iam_add_role_to_instance_profile(c, ctx, name, name, &err);
        while (rc != 0 && lost_answer(&err, &tries, &lost));
        /* a profile holds one role: the lost try added it */
        if (rc != 0 && made_by_lost_try(lost, &err, "LimitExceeded")) rc = 0;
    }
    if (rc != 0) {
        char *summary = sf_fmt("Cannot create the Airflow host's role (%s)", what);
        sf_aws_diag_error(diags, "ec2.instance_profile", summary, &err,
                          "Creating the role needs iam:CreateRole, iam:PutRolePolicy, iam:CreateInstanceProfile, "
                          "iam:AddRoleToInstanceProfile and iam:PassRole; or give an existing instance_profile.");
        free(summary);
    }
    sf_aws_error_clear(&err);
    free(policy);
    return rc == 0 ? 0 : -1;
}

int sf_ec2_make_security_group(sf_aws_client *c, sf_ctx *ctx, const char *name, const sf_ec2_spec *s,
                               const sf_header *tags, size_t n_tags, sf_ec2_made *made, sf_diags *diags)
{
    sf_aws_error err = {0};
    char *vpc = NULL;
    int rc = 0;
    if (s->subnet_id) { /* the group must be in the subnet's VPC */
        rc = sf_aws_ec2_subnet_vpc(c, ctx, s->subnet_id, &vpc, &err);
        if (rc == 1)
            sf_diag_error(diags, "ec2.subnet_id", "Unknown subnet", "EC2 knows no subnet \"%s\" in this region.",
                          s->subnet_id);
        else if (rc != 0) sf_aws_diag_error(diags, "ec2.subnet_id", "Cannot look at the subnet", &err, NULL);
    }
    if (rc == 0) {
        char *group = NULL;
        int tries = 0;
        bool lost = false;
        do
            rc = sf_aws_ec2_create_security_group(c, ctx, name, "SparkFlow Airflow host: API and UI port only", vpc,
                                                  tags, n_tags, &group, &err);
        while (rc != 0 && lost_answer(&err, &tries, &lost));
        if (rc != 0 && made_by_lost_try(lost, &err, "InvalidGroup.Duplicate"))
            rc = sf_aws_ec2_find_security_group(c, ctx, name, vpc, &group, &err) == 0 ? 0 : -1;
        if (rc == 0) made->security_group = group;
        else sf_aws_diag_error(diags, "ec2.security_group_ids", "Cannot create the security group", &err, NULL);
    }
    if (rc == 0 && s->n_allowed_cidrs) {
        rc = sf_aws_ec2_authorize_ingress(c, ctx, made->security_group, (int)s->api_port,
                                          (const char *const *)s->allowed_cidrs, s->n_allowed_cidrs, &err);
        if (rc != 0) sf_aws_diag_error(diags, "ec2.allowed_cidrs", "Cannot open the API port", &err, NULL);
    }
    sf_aws_error_clear(&err);
    free(vpc);
    return rc == 0 ? 0 : -1;
}

/* DeleteSecurityGroup, again while an instance still holds the group. */
static int delete_group(sf_aws_client *c, sf_ctx *ctx, const char *group, sf_aws_error *err)
{
    for (int attempt = 0;; attempt++) {
        sf_aws_error_clear(err);
        int rc = sf_aws_ec2_delete_security_group(c, ctx, group, err);
        if (rc >= 0 || !sf_aws_error_is(err, "DependencyViolation") || sf_ctx_done(ctx)) return rc < 0 ? -1 : 0;
        if (sf_ctx_sleep_ms(ctx, sf_backoff_ms(attempt < 4 ? attempt : 4, 2000, 15000) + 1000) != 0) return -1;
    }
}

int sf_ec2_unmake(sf_aws_client *c, sf_ctx *ctx, const sf_ec2_made *made, sf_diags *diags)
{
    sf_aws_error err = {0};
    sf_buf left = {0};
    if (made->security_group && delete_group(c, ctx, made->security_group, &err) != 0)
        sf_buf_printf(&left, "- security group %s: %s\n", made->security_group, err.message ? err.message : "?");
    sf_aws_error_clear(&err);
    if (made->instance_profile) {
        if (made->role &&
            sf_aws_iam_remove_role_from_instance_profile(c, ctx, made->instance_profile, made->role, &err) < 0)
            sf_buf_printf(&left, "- role %s in instance profile %s: %s\n", made->role, made->instance_profile,
                          err.message ? err.message : "?");
        sf_aws_error_clear(&err);
        if (sf_aws_iam_delete_instance_profile(c, ctx, made->instance_profile, &err) < 0)
            sf_buf_printf(&left, "- instance profile %s: %s\n", made->instance_profile,
                          err.message ? err.message : "?");
        sf_aws_error_clear(&err);
    }
    if (made->role) {
        if (sf_aws_iam_delete_role_policy(c, ctx, made->role, POLICY_NAME, &err) < 0 ||
            sf_aws_iam_delete_role(c, ctx, made->role, &err) < 0)
            sf_buf_printf(&left, "- role %s: %s\n", made->role, err.message ? err.message : "?");
        sf_aws_error_clear(&err);
    }
    if (made->password_parameter && sf_aws_ssm_delete_parameter(c, ctx, made->password_parameter, &err) < 0)
        sf_buf_printf(&left, "- SSM parameter %s: %s\n", made->password_parameter, err.message ? err.message : "?");
    sf_aws_error_clear(&err);
    if (left.len) {
        sf_diag_error(diags, NULL, "Could not remove what was created for the Airflow host",
                      "These are left in the account (remove them by hand, or run the command again):\n%s", left.data);
        sf_buf_free(&left);
        return -1;
    }
    return 0;
}
