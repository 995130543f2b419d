/* fuzz_airflow_json.c — libFuzzer target for the answers of Airflow's REST
 * API v2 (airflow/answers.h): the status and body of any call (errors with
 * their `detail`, problem details, FastAPI's validation lists), the login
 * token, and what the calls read from a 2xx answer: the health verdict, the
 * version, a DAG or DAG run object, task instances, a task's log, an XCom.
 *
 * Input: an answer body; when it starts with '#', its first line (after the
 * '#') is the HTTP status (decimal; 200 when absent or not a number) and the
 * rest the body.  What each function promises is checked (an error always
 * has a message, non-empty and valid UTF-8, and the status it was given; a
 * health verdict is -1, 0 or 1; a result and an error never both or
 * neither); ASan/UBSan catch the rest.
 * Seeds: tests/fuzz/corpus/fuzz_airflow_json/ (answers of a real Airflow 3,
 * the examples of its OpenAPI v2 spec, the project's fixtures).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airflow/answers.h"
#include "base/str.h"

#define WHAT "GET http://127.0.0.1:8080/api/v2/dags/d/dagRuns/r"

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_airflow_json: %s\n", what);
        abort();
    }
}

/* Whether s is valid UTF-8 (no overlong forms, surrogates or > U+10FFFF). */
static int utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        size_t len = c < 0x80                 ? 1
                     : c >= 0xc2 && c <= 0xdf ? 2
                     : c >= 0xe0 && c <= 0xef ? 3
                     : c >= 0xf0 && c <= 0xf4 ? 4
                                              : 0;
        if (!len) return 0;
        for (size_t i = 1; i < len; i++)
            if ((p[i] & 0xc0) != 0x80) return 0;
        if (c == 0xe0 && p[1] < 0xa0) return 0;  /* overlong */
        if (c == 0xed && p[1] >= 0xa0) return 0; /* surrogate */
        if (c == 0xf0 && p[1] < 0x90) return 0;  /* overlong */
        if (c == 0xf4 && p[1] >= 0x90) return 0; /* > U+10FFFF */
        p += len;
    }
    return 1;
}

static void check_error(const sf_af_error *err, long status, const char *what)
{
    check(err->message != NULL, what);
    check(*err->message != '\0', "an empty error message");
    check(utf8_valid(err->message), "an error message that is not UTF-8");
    check(err->status == status, "an error with another status");
}

static void detail(const char *body, size_t len)
{
    char *text = sf_af_answer_detail(body, len);
    check(text != NULL, "no detail");
    check(strlen(text) <= 300, "a detail longer than 300");
    free(text);
}

/* The answer of a call; the parsed 2xx body, or NULL. */
static cJSON *answer(long status, const char *body, size_t len)
{
    sf_af_error err = {0};
    int ok2xx = status / 100 == 2;
    int rc = sf_af_answer_json(status, body, len, WHAT, NULL, &err);
    check((rc == 0) == ok2xx && (rc == 0) == !err.message, "an unread answer misjudged");
    if (rc) check_error(&err, status, "an error answer without a message");
    sf_af_error_clear(&err);
    cJSON *doc = NULL;
    rc = sf_af_answer_json(status, body, len, WHAT, &doc, &err);
    check(rc == 0 || !doc, "an error with an answer");
    check((rc == 0) == !err.message, "an answer and an error, or neither");
    if (rc == 0) check(ok2xx && (doc || len == 0), "a non-2xx answer taken, or a body lost");
    else check_error(&err, status, "an answer refused without a message");
    sf_af_error_clear(&err);
    return doc;
}

static void token(long status, const char *body, size_t len)
{
    sf_af_error err = {0};
    char *t = sf_af_answer_token(status, body, len, "http://127.0.0.1:8080", "admin", &err);
    check(!t != !err.message, "a token and an error, or neither");
    if (t) check(*t && status / 100 == 2, "an empty token, or one from a refusal");
    else check_error(&err, status, "a refused login without a message");
    if (!t && status / 100 == 2) { /* the body may hold part of a token: never in the message */
        char *expected =
            sf_fmt("POST http://127.0.0.1:8080/auth/token answered HTTP %ld without an access_token", status);
        check(strcmp(err.message, expected) == 0, "a 2xx login answer's body in the message");
        free(expected);
    }
    free(t);
    sf_af_error_clear(&err);
}

/* Each reader of a 2xx answer, on its own copy of doc. */
static void readers(const cJSON *doc)
{
    sf_af_error err = {0};
    int h = sf_af_answer_health(cJSON_Duplicate(doc, 1), &err);
    check(h == -1 || h == 0 || h == 1, "a health verdict out of range");
    check((h == 0) == !err.message, "a health verdict and its message disagree");
    if (h) check_error(&err, 200, "an unhealthy verdict without a message");
    sf_af_error_clear(&err);

    char *v = sf_af_answer_version(cJSON_Duplicate(doc, 1), &err);
    check(!v != !err.message && (!v || *v), "a version and an error, or neither");
    if (!v) check_error(&err, 200, "no version and no message");
    free(v);
    sf_af_error_clear(&err);

    cJSON *o = sf_af_answer_object(cJSON_Duplicate(doc, 1), WHAT, &err);
    check(!o != !err.message && (!o || cJSON_IsObject(o)), "an object and an error, or neither");
    if (!o) check_error(&err, 200, "no object and no message");
    cJSON_Delete(o);
    sf_af_error_clear(&err);

    cJSON *tis = sf_af_answer_task_instances(cJSON_Duplicate(doc, 1), WHAT, &err);
    check(!tis != !err.message && (!tis || cJSON_IsArray(tis)), "task instances and an error, or neither");
    if (!tis) check_error(&err, 200, "no task instances and no message");
    cJSON_Delete(tis);
    sf_af_error_clear(&err);

    char *log = sf_af_answer_log(cJSON_Duplicate(doc, 1));
    check(log != NULL, "no log text");
    free(log);

    cJSON *x = sf_af_answer_xcom(cJSON_Duplicate(doc, 1), WHAT, &err);
    check(!x != !err.message, "an XCom and an error, or neither");
    if (!x) check_error(&err, 200, "no XCom and no message");
    cJSON_Delete(x);
    sf_af_error_clear(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long status = 200;
    const char *body = (const char *)data;
    size_t len = size;
    if (size && data[0] == '#') {
        const char *nl = memchr(data, '\n', size);
        char line[16] = {0};
        size_t hl = nl ? (size_t)(nl - body) - 1 : size - 1;
        memcpy(line, body + 1, hl < sizeof line - 1 ? hl : sizeof line - 1);
        char *end;
        long s = strtol(line, &end, 10);
        if (end != line && s >= 100 && s <= 599) status = s;
        body = nl ? nl + 1 : body + size;
        len = size - (size_t)(body - (const char *)data);
    }
    /* The body as the HTTP layer keeps it: NUL-terminated, not counted. */
    char *copy = malloc(len + 1);
    if (!copy) abort();
    memcpy(copy, body, len);
    copy[len] = '\0';
    detail(copy, len);
    token(status, copy, len);
    cJSON *doc = answer(status, copy, len);
    readers(doc);
    if (status / 100 != 2) { /* the readers also see bodies sent with an error status */
        cJSON *parsed = cJSON_ParseWithLength(copy, len);
        readers(parsed);
        cJSON_Delete(parsed);
    }
    cJSON_Delete(doc);
    free(copy);
    return 0;
}
