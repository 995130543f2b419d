/* test_airflow_answers.c — the parse step of the Airflow REST client
 * (airflow/answers.h) on answers a real Airflow 3 gives, and on the inputs
 * tests/fuzz/fuzz_airflow_json and its review turned up.  The calls
 * themselves are exercised against a live Airflow by
 * tests/airflow/test_rest_client.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "airflow/answers.h"
#include "base/str.h"

#define WHAT "GET http://127.0.0.1:8080/api/v2/dags/d"

static cJSON *parse(const char *text)
{
    cJSON *doc = cJSON_Parse(text);
    assert_non_null(doc);
    return doc;
}

static void test_error_detail(void **state)
{
    (void)state;
    sf_af_error err = {0};
    const char *missing = "{\"detail\":\"The Dag with ID: `nope` was not found\"}";
    cJSON *doc = NULL;
    assert_int_equal(sf_af_answer_json(404, missing, strlen(missing), WHAT, &doc, &err), -1);
    assert_null(doc);
    assert_int_equal(err.status, 404);
    assert_string_equal(err.message, WHAT " answered HTTP 404: The Dag with ID: `nope` was not found");
    /* FastAPI's validation list is kept as JSON. */
    const char *invalid = "{\"detail\":[{\"type\":\"bool_parsing\",\"loc\":[\"body\",\"is_paused\"],\"msg\":\"Input "
                          "should be a valid boolean\"}]}";
    assert_int_equal(sf_af_answer_json(422, invalid, strlen(invalid), WHAT, NULL, &err), -1);
    assert_non_null(strstr(err.message, "HTTP 422: [{\"type\":\"bool_parsing\",\"loc\":[\"body\",\"is_paused\"]"));
    /* A body that is not Airflow's (a proxy's page): its start. */
    assert_int_equal(sf_af_answer_json(502, "<html>Bad Gateway</html>", 24, WHAT, NULL, &err), -1);
    assert_string_equal(err.message, WHAT " answered HTTP 502: <html>Bad Gateway</html>");
    assert_int_equal(sf_af_answer_json(500, "", 0, WHAT, NULL, &err), -1);
    assert_string_equal(err.message, WHAT " answered HTTP 500: (no detail)");
    sf_af_error_clear(&err);
}

/* A long detail is cut at 300 bytes, which can fall inside a character: the
 * message still reaches Terraform as valid UTF-8 (a protobuf string). */
static void test_error_message_stays_utf8(void **state)
{
    (void)state;
    sf_buf body = {0};
    sf_buf_append(&body, "{\"detail\":\"", 11);
    for (int i = 0; i < 296; i++) sf_buf_append(&body, "a", 1);
    sf_buf_append(&body, "\xc3\xa9\xc3\xa9\xc3\xa9\"}", 8); /* "ééé": the cut at 297 halves the first */
    char *detail = sf_af_answer_detail(body.data, body.len);
    assert_int_equal(strlen(detail), 300);
    free(detail);
    sf_af_error err = {0};
    assert_int_equal(sf_af_answer_json(404, body.data, body.len, WHAT, NULL, &err), -1);
    const char *tail = err.message + strlen(err.message) - 5;
    assert_string_equal(tail, "a?...");
    /* Latin-1 from a proxy: each stray byte becomes '?'. */
    assert_int_equal(sf_af_answer_json(503, "caf\xe9 ferm\xe9", 10, WHAT, NULL, &err), -1);
    assert_string_equal(err.message, WHAT " answered HTTP 503: caf? ferm?");
    sf_af_error_clear(&err);
    sf_buf_free(&body);
}

static void test_answer_json(void **state)
{
    (void)state;
    sf_af_error err = {0};
    cJSON *doc = NULL;
    assert_int_equal(sf_af_answer_json(204, "", 0, WHAT, &doc, &err), 0);
    assert_null(doc);
    assert_int_equal(sf_af_answer_json(200, "{\"a\":1}", 7, WHAT, &doc, &err), 0);
    assert_true(cJSON_IsObject(doc));
    cJSON_Delete(doc);
    assert_int_equal(sf_af_answer_json(200, "<html>", 6, WHAT, &doc, &err), -1);
    assert_null(doc);
    assert_int_equal(err.status, 200);
    assert_string_equal(err.message, WHAT " answered HTTP 200 with a body that is not JSON");
    sf_af_error_clear(&err);
}

static void test_token(void **state)
{
    (void)state;
    sf_af_error err = {0};
    const char *ok = "{\"access_token\":\"eyJ0.eyJ1.sig\"}";
    char *t = sf_af_answer_token(201, ok, strlen(ok), "http://af", "admin", &err);
    assert_string_equal(t, "eyJ0.eyJ1.sig");
    assert_null(err.message);
    free(t);
    const char *refused = "{\"detail\":\"Invalid credentials\"}";
    assert_null(sf_af_answer_token(401, refused, strlen(refused), "http://af", "admin", &err));
    assert_int_equal(err.status, 401);
    assert_non_null(strstr(err.message, "refused the login of user \"admin\""));
    /* 2xx without a token: an error, not an empty token. */
    assert_null(sf_af_answer_token(200, "{\"access_token\":\"\"}", 19, "http://af", "admin", &err));
    assert_string_equal(err.message, "POST http://af/auth/token answered HTTP 200 without an access_token");
    /* A login answer cut short: no part of the token reaches the message. */
    const char *cut = "{\"access_token\":\"eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJhZG1pbiJ9";
    assert_null(sf_af_answer_token(201, cut, strlen(cut), "http://af", "admin", &err));
    assert_null(strstr(err.message, "eyJ"));
    assert_int_equal(err.status, 201);
    sf_af_error_clear(&err);
}

static void test_health(void **state)
{
    (void)state;
    sf_af_error err = {0};
    assert_int_equal(sf_af_answer_health(parse("{\"metadatabase\":{\"status\":\"healthy\"},\"scheduler\":{\"status\":"
                                               "\"healthy\"},\"triggerer\":{\"status\":\"healthy\"},"
                                               "\"dag_processor\":{\"status\":\"healthy\"}}"),
                                         &err),
                     0);
    assert_null(err.message);
    /* The four components SparkFlow starts must all be reported. */
    assert_int_equal(sf_af_answer_health(parse("{\"metadatabase\":{\"status\":\"healthy\"},\"scheduler\":{\"status\":"
                                               "\"healthy\"}}"),
                                         &err),
                     1);
    assert_string_equal(err.message, "triggerer: not reported, dag_processor: not reported");
    /* What a real Airflow 3.3 answers while its scheduler is not up. */
    assert_int_equal(sf_af_answer_health(parse("{\"metadatabase\":{\"status\":\"healthy\"},\"scheduler\":{\"status\":"
                                               "\"unhealthy\",\"latest_scheduler_heartbeat\":null},\"triggerer\":{"
                                               "\"status\":null}}"),
                                         &err),
                     1);
    assert_int_equal(err.status, 200);
    assert_string_equal(err.message, "dag_processor: not reported, scheduler: unhealthy, triggerer: no status");
    assert_int_equal(sf_af_answer_health(parse("{}"), &err), -1);
    assert_string_equal(err.message, "/api/v2/monitor/health did not answer as Airflow does");
    assert_int_equal(sf_af_answer_health(NULL, &err), -1);
    /* A component's name or status that is not UTF-8 is cleaned. */
    assert_int_equal(sf_af_answer_health(parse("{\"sch\xff\":{\"status\":\"bad\xc3\"}}"), &err), 1);
    assert_string_equal(err.message,
                        "metadatabase: not reported, scheduler: not reported, triggerer: not reported, dag_processor: "
                        "not reported, sch?: bad?");
    sf_af_error_clear(&err);
}

static void test_version(void **state)
{
    (void)state;
    sf_af_error err = {0};
    char *v = sf_af_answer_version(parse("{\"version\":\"3.3.2\",\"git_version\":\".release:aa19d2db\"}"), &err);
    assert_string_equal(v, "3.3.2");
    free(v);
    assert_null(sf_af_answer_version(parse("{\"version\":\"\"}"), &err));
    assert_string_equal(err.message, "/api/v2/version answered without a version");
    assert_null(sf_af_answer_version(NULL, &err));
    sf_af_error_clear(&err);
}

/* A 2xx answer with an empty body used to give a NULL DAG (or DAG run) with
 * no error: the orchestrator then reported "no answer". */
static void test_object(void **state)
{
    (void)state;
    sf_af_error err = {0};
    assert_null(sf_af_answer_object(NULL, WHAT, &err));
    assert_int_equal(err.status, 200);
    assert_string_equal(err.message, WHAT " answered without a JSON object");
    assert_null(sf_af_answer_object(parse("[1]"), WHAT, &err));
    sf_af_error_clear(&err);
    cJSON *dag = sf_af_answer_object(parse("{\"dag_id\":\"d\",\"is_paused\":true}"), WHAT, &err);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(dag, "is_paused")));
    assert_null(err.message);
    cJSON_Delete(dag);
}

static void test_task_instances(void **state)
{
    (void)state;
    sf_af_error err = {0};
    cJSON *tis = sf_af_answer_task_instances(
        parse(
            "{\"task_instances\":[{\"task_id\":\"say\",\"state\":\"success\",\"try_number\":1}],\"total_entries\":1}"),
        WHAT, &err);
    assert_int_equal(cJSON_GetArraySize(tis), 1);
    cJSON_Delete(tis);
    assert_null(sf_af_answer_task_instances(parse("{\"task_instances\":{}}"), WHAT, &err));
    assert_string_equal(err.message, WHAT " answered without task_instances");
    sf_af_error_clear(&err);
}

static void test_log(void **state)
{
    (void)state;
    char *text = sf_af_answer_log(parse("{\"content\":[{\"timestamp\":null,\"event\":\"::group::Log message source "
                                        "details\"},{\"event\":\"hello\"},\"raw line\",{\"level\":\"info\"}],"
                                        "\"continuation_token\":null}"));
    assert_string_equal(text, "::group::Log message source details\nhello\nraw line\n");
    free(text);
    text = sf_af_answer_log(parse("{\"content\":\"one text\"}"));
    assert_string_equal(text, "one text");
    free(text);
    text = sf_af_answer_log(NULL);
    assert_string_equal(text, "");
    free(text);
}

static void test_xcom(void **state)
{
    (void)state;
    sf_af_error err = {0};
    cJSON *v = sf_af_answer_xcom(parse("{\"key\":\"return_value\",\"value\":{\"rows_read\":7}}"), WHAT, &err);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(v, "rows_read")->valueint, 7);
    cJSON_Delete(v);
    v = sf_af_answer_xcom(parse("{\"value\":\"{\\\"rows_read\\\": 7}\"}"), WHAT, &err);
    assert_true(cJSON_IsObject(v));
    cJSON_Delete(v);
    /* A string that only starts like JSON stays a string: "2024-01-01" used
     * to come back as the number 2024 (cJSON_Parse stops where it can). */
    v = sf_af_answer_xcom(parse("{\"value\":\"2024-01-01\"}"), WHAT, &err);
    assert_true(cJSON_IsString(v));
    assert_string_equal(v->valuestring, "2024-01-01");
    cJSON_Delete(v);
    v = sf_af_answer_xcom(parse("{\"value\":null}"), WHAT, &err);
    assert_true(cJSON_IsNull(v));
    cJSON_Delete(v);
    assert_null(err.message);
    /* No value at all: an error, not a NULL the caller cannot tell apart. */
    assert_null(sf_af_answer_xcom(parse("{\"key\":\"return_value\"}"), WHAT, &err));
    assert_string_equal(err.message, WHAT " answered without a value");
    sf_af_error_clear(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_detail), cmocka_unit_test(test_error_message_stays_utf8),
        cmocka_unit_test(test_answer_json),  cmocka_unit_test(test_token),
        cmocka_unit_test(test_health),       cmocka_unit_test(test_version),
        cmocka_unit_test(test_object),       cmocka_unit_test(test_task_instances),
        cmocka_unit_test(test_log),          cmocka_unit_test(test_xcom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
