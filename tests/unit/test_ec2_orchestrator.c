/* test_ec2_orchestrator.c — the EC2 Airflow host's parts that Terraform
 * does not reach yet: spec_put (the spec in the DAG bundle, the SQS queue
 * and the bucket notification of an EMR pipeline, their removal) against a
 * moto server on loopback (skipped without moto), and the pure parts: the
 * notification merge, the user data rendering and the role policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "orchestrators/ec2/ec2.h"
#include "tests/unit/aws_moto.h"

#define LAKE "sf-lake"

static aws_moto moto;
static bool have_moto;
static sf_engine_env env;

/* ---- pure ------------------------------------------------------------------- */

static void test_merge_keeps_other_entries(void **state)
{
    (void)state;
    const char *xml = "<?xml version=\"1.0\"?><NotificationConfiguration xmlns=\"x\">"
                      "<TopicConfiguration><Id>t</Id><Topic>arn:t</Topic></TopicConfiguration>"
                      "<QueueConfiguration><Id>other</Id><Queue>arn:o</Queue></QueueConfiguration>"
                      "<QueueConfiguration><Id>sparkflow-p</Id><Queue>arn:old</Queue></QueueConfiguration>"
                      "</NotificationConfiguration>";
    char *m = sf_ec2_notification_merge(xml, strlen(xml), "sparkflow-p",
                                        "<QueueConfiguration><Id>sparkflow-p</Id>"
                                        "<Queue>arn:new</Queue></QueueConfiguration>");
    assert_non_null(strstr(m, "<Topic>arn:t</Topic>"));
    assert_non_null(strstr(m, "<Queue>arn:o</Queue>"));
    assert_non_null(strstr(m, "<Queue>arn:new</Queue>"));
    assert_null(strstr(m, "arn:old"));
    assert_non_null(strstr(m, "</NotificationConfiguration>"));
    char *removed = sf_ec2_notification_merge(m, strlen(m), "sparkflow-p", NULL);
    assert_null(strstr(removed, "arn:new"));
    assert_non_null(strstr(removed, "<Queue>arn:o</Queue>"));
    assert_non_null(strstr(removed, "<Topic>arn:t</Topic>"));
    free(removed);
    free(m);
    char *fresh = sf_ec2_notification_merge("<NotificationConfiguration/>", 28, "sparkflow-p", "<QueueConfiguration/>");
    assert_string_equal(fresh, "<NotificationConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                               "<QueueConfiguration/></NotificationConfiguration>");
    free(fresh);
}

static void test_user_data_is_rendered_and_quoted(void **state)
{
    (void)state;
    sf_ec2_user_data u = {.region = "eu-west-1",
                          .dag_bundle = "s3://b/it's here/",
                          .password_parameter = "/sparkflow/airflow/x/password",
                          .api_port = 8081,
                          .lifetime_s = 3600};
    char *ud = sf_ec2_render_user_data(&u);
    assert_true(strncmp(ud, "#!/bin/bash\n", 12) == 0);
    assert_non_null(strstr(ud, "\nREGION='eu-west-1'\n"));
    assert_non_null(strstr(ud, "\nDAG_BUNDLE='s3://b/it'\\''s here/'\n"));
    assert_non_null(strstr(ud, "\nAPI_PORT='8081'\n"));
    assert_non_null(strstr(ud, "\nLIFETIME_SECONDS='3600'\n"));
    assert_non_null(strstr(ud, "\nAIRFLOW_USER='sparkflow'\n"));
    assert_null(strstr(ud, "@@"));
    assert_true(strlen(ud) < 16384); /* EC2's user data limit */
    free(ud);
}

static void test_role_policy_is_narrow(void **state)
{
    (void)state;
    sf_ec2_spec s = {.bundle_bucket = "lake"};
    char *p = sf_ec2_role_policy("eu-west-1", &s, "/sparkflow/airflow/x/password");
    cJSON *j = cJSON_Parse(p);
    assert_non_null(j);
    cJSON *st;
    int n = 0;
    cJSON_ArrayForEach(st, cJSON_GetObjectItem(j, "Statement")) {
        const char *res = cJSON_GetStringValue(cJSON_GetObjectItem(st, "Resource"));
        assert_non_null(res);
        /* "*" only under a condition (EMR tag, KMS through SSM) */
        if (strcmp(res, "*") == 0) assert_non_null(cJSON_GetObjectItem(st, "Condition"));
        n++;
    }
    assert_int_equal(n, 7);
    assert_non_null(strstr(p, "\"arn:aws:s3:::lake/*\""));
    assert_non_null(strstr(p, "\"aws:ResourceTag/sparkflow:managed\":\"true\""));
    assert_non_null(strstr(p, "arn:aws:ssm:eu-west-1:*:parameter/sparkflow/airflow/x/password"));
    cJSON_Delete(j);
    free(p);
}

static void test_bundle_files_compiled_in(void **state)
{
    (void)state;
    assert_non_null(sf_ec2_file_text("sparkflow_dags.py"));
    assert_non_null(sf_ec2_file_text(".airflowignore"));
    assert_non_null(sf_ec2_file_text("sparkflow_airflow/dags.py"));
    assert_non_null(strstr(sf_ec2_file_text("host/docker-compose.yaml"), "LocalExecutor"));
    assert_non_null(sf_ec2_file_text("user_data.sh.tmpl"));
}

/* ---- spec_put against moto ----------------------------------------------------- */

static char *get_text(const char *bucket, const char *key)
{
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    sf_buf b = {0};
    sf_aws_error err = {0};
    int rc = sf_aws_s3_get(env.aws, ctx, bucket, key, &b, &err);
    sf_aws_error_clear(&err);
    sf_ctx_free(ctx);
    if (rc != 0) {
        sf_buf_free(&b);
        return NULL;
    }
    return b.data ? b.data : sf_strdup("");
}

static char *notification(void)
{
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    sf_buf b = {0};
    sf_aws_error err = {0};
    assert_int_equal(sf_aws_s3_get_notification(env.aws, ctx, LAKE, &b, &err), 0);
    sf_ctx_free(ctx);
    return b.data ? b.data : sf_strdup("");
}

static const char EMR_SPEC[] =
    "{\"format\":1,\"pipeline\":\"fin.ances\",\"engine\":\"emr\",\"lake\":\"s3://" LAKE "/finances\","
    "\"input\":\"raw/transactions\",\"output\":\"curated\",\"stages\":[],"
    "\"watch\":{\"kind\":\"sqs\",\"aws_conn_id\":\"aws_default\",\"poke_interval_seconds\":10}}";

static void test_spec_put_sqs(void **state)
{
    (void)state;
    if (!have_moto) skip();
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    sf_aws_error err = {0};
    /* Someone else's notification entry, which must survive. */
    char *queue = NULL, *arn = NULL;
    assert_int_equal(sf_aws_sqs_create_queue(env.aws, ctx, "others", NULL, 0, &queue, &err), 0);
    assert_int_equal(sf_aws_sqs_get_queue_attribute(env.aws, ctx, queue, "QueueArn", &arn, &err), 0);
    char *theirs = sf_fmt("<NotificationConfiguration><QueueConfiguration><Id>theirs</Id><Queue>%s</Queue>"
                          "<Event>s3:ObjectRemoved:*</Event></QueueConfiguration></NotificationConfiguration>",
                          arn);
    assert_int_equal(sf_aws_s3_put_notification(env.aws, ctx, LAKE, theirs, &err), 0);

    sf_value *details = sf_value_map();
    sf_value_put(details, "dag_bundle", sf_value_string("s3://" LAKE "/airflow"));
    sf_value_put(details, "region", sf_value_string("us-east-1"));
    sf_airflow_host host = {.id = "i-0123", .details = details};
    sf_diags d;
    sf_diags_init(&d);
    /* twice: idempotent */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(sf_orchestrator_ec2.spec_put(ctx, &env, &host, "fin.ances", EMR_SPEC, &d), SF_ENGINE_OK);
        assert_false(sf_diags_has_error(&d));
    }
    char *url = NULL;
    assert_int_equal(sf_aws_sqs_get_queue_url(env.aws, ctx, "sparkflow-fin-ances", &url, &err), 0);
    char *policy = NULL;
    assert_int_equal(sf_aws_sqs_get_queue_attribute(env.aws, ctx, url, "Policy", &policy, &err), 0);
    assert_non_null(strstr(policy, "arn:aws:s3:::" LAKE));
    assert_non_null(strstr(policy, "sqs:SendMessage"));

    char *spec = get_text(LAKE, "airflow/specs/fin.ances.json");
    assert_non_null(spec);
    cJSON *j = cJSON_Parse(spec);
    cJSON *w = cJSON_GetObjectItem(j, "watch");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(w, "queue_url")), url);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(w, "region")), "us-east-1");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(w, "aws_conn_id")), "aws_default");
    cJSON_Delete(j);

    char *n = notification();
    assert_non_null(strstr(n, "theirs"));
    assert_non_null(strstr(n, "sparkflow-fin-ances"));
    assert_non_null(strstr(n, "finances/raw/transactions/"));
    const char *first = strstr(n, "sparkflow-fin-ances");
    assert_null(strstr(first + 1, "<Id>sparkflow-fin-ances</Id>")); /* one entry, not two */
    free(n);

    /* Removal: spec, queue and our entry; theirs stays. */
    assert_int_equal(sf_orchestrator_ec2.spec_put(ctx, &env, &host, "fin.ances", NULL, &d), SF_ENGINE_OK);
    assert_false(sf_diags_has_error(&d));
    char *gone = get_text(LAKE, "airflow/specs/fin.ances.json");
    assert_null(gone);
    char *url2 = NULL;
    assert_int_equal(sf_aws_sqs_get_queue_url(env.aws, ctx, "sparkflow-fin-ances", &url2, &err), 1);
    n = notification();
    assert_non_null(strstr(n, "theirs"));
    assert_null(strstr(n, "sparkflow-fin-ances"));
    free(n);
    /* Removing again is fine. */
    assert_int_equal(sf_orchestrator_ec2.spec_put(ctx, &env, &host, "fin.ances", NULL, &d), SF_ENGINE_OK);

    sf_diags_clear(&d);
    sf_aws_error_clear(&err);
    sf_value_free(details);
    free(url2);
    free(spec);
    free(policy);
    free(url);
    free(theirs);
    free(arn);
    free(queue);
    sf_ctx_free(ctx);
}

static void test_spec_put_plain(void **state)
{
    (void)state;
    if (!have_moto) skip();
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    sf_value *spec = sf_value_object();
    sf_value_put(spec, "dag_bundle", sf_value_string("s3://" LAKE "/bundle/"));
    sf_airflow_host host = {.id = "i-0456", .spec = spec};
    sf_diags d;
    sf_diags_init(&d);
    const char *local = "{\"format\":1,\"pipeline\":\"p\",\"watch\":{\"kind\":\"directory\"}}";
    assert_int_equal(sf_orchestrator_ec2.spec_put(ctx, &env, &host, "p", local, &d), SF_ENGINE_OK);
    char *text = get_text(LAKE, "bundle/specs/p.json");
    assert_non_null(text);
    assert_null(strstr(text, "queue_url"));
    free(text);
    assert_int_equal(sf_orchestrator_ec2.spec_put(ctx, &env, &host, "p", "not json", &d), SF_ENGINE_ERROR);
    assert_true(sf_diags_has_error(&d));
    sf_diags_clear(&d);
    sf_value_free(spec);
    sf_ctx_free(ctx);
}

static int group_setup(void **state)
{
    (void)state;
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    setenv("SPARKFLOW_AWS_RETRY_BASE_MS", "10", 1);
    have_moto = aws_moto_start(&moto) == 0;
    if (!have_moto) fprintf(stderr, "moto not available: the moto tests are skipped\n");
    sf_aws_config cfg = {.max_retries = 2};
    cfg.region = sf_strdup("us-east-1");
    cfg.access_key = sf_strdup("AKIDEC2TEST");
    cfg.secret_key = sf_strdup("ec2/secret");
    cfg.s3_use_path_style = true;
    if (have_moto) {
        cfg.endpoint_s3 = sf_strdup(moto.url);
        cfg.endpoint_sqs = sf_strdup(moto.url);
    }
    env.aws = sf_aws_client_new(&cfg);
    if (have_moto) {
        sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
        sf_aws_call call = {.operation = "CreateBucket",
                            .service = "s3",
                            .method = "PUT",
                            .path = "/",
                            .idempotent = true,
                            .bucket = LAKE};
        sf_http_resp resp;
        sf_aws_error err = {0};
        int rc = sf_aws_client_send(env.aws, ctx, &call, &resp, &err);
        sf_http_resp_clear(&resp);
        sf_aws_error_clear(&err);
        sf_ctx_free(ctx);
        if (rc != 0) return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    sf_aws_client_free(env.aws);
    aws_moto_stop(&moto);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_keeps_other_entries),
        cmocka_unit_test(test_user_data_is_rendered_and_quoted),
        cmocka_unit_test(test_role_policy_is_narrow),
        cmocka_unit_test(test_bundle_files_compiled_in),
        cmocka_unit_test(test_spec_put_sqs),
        cmocka_unit_test(test_spec_put_plain),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
