/* test_value_json.c — state JSON in (exact numbers, old schemas, dynamic) and JSON out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/value.h"

static sf_type *T(const char *json)
{
    char *err = NULL;
    sf_type *t = sf_type_from_json(json, strlen(json), &err);
    if (!t) fail_msg("type %s: %s", json, err);
    return t;
}

static sf_value *J(const char *json, const char *type, bool ignore_extra)
{
    sf_type *t = T(type);
    sf_value *v = (sf_value *)0x1;
    char *err = NULL;
    if (sf_value_from_json(json, strlen(json), t, ignore_extra, &v, &err) != 0)
        fail_msg("%s as %s: %s", json, type, err);
    sf_type_free(t);
    return v;
}

#define LEN(s) strlen(s)
static void expect_error(const char *json, size_t len, const char *type, const char *want)
{
    sf_type *t = T(type);
    sf_value *v = (sf_value *)0x1;
    char *err = NULL;
    if (sf_value_from_json(json, len, t, false, &v, &err) == 0) fail_msg("accepted %s as %s", json, type);
    assert_null(v);
    assert_non_null(err);
    if (want && !strstr(err, want)) fail_msg("%s: error \"%s\" lacks \"%s\"", json, err, want);
    free(err);
    sf_type_free(t);
}

static void test_numbers_keep_every_digit(void **state)
{
    (void)state;
    char big[700];
    strcpy(big, "[123456789012345678901234567890, 1e400, -0.0000001, 2.50, 0.1, -0, ");
    size_t n = strlen(big);
    for (int i = 0; i < 500; i++) big[n++] = (char)('1' + i % 9);
    strcpy(big + n, "]");
    sf_value *v = J(big, "[\"list\",\"number\"]", false);
    assert_int_equal(v->n, 7);
    assert_string_equal(v->elems[0]->str, "123456789012345678901234567890");
    assert_int_equal(v->elems[1]->len, 401);
    assert_string_equal(v->elems[2]->str, "-0.0000001");
    assert_string_equal(v->elems[3]->str, "2.5");
    assert_string_equal(v->elems[4]->str, "0.1");
    assert_string_equal(v->elems[5]->str, "0");
    assert_int_equal(v->elems[6]->len, 500);
    assert_memory_equal(v->elems[6]->str, big + n - 500, 500);
    sf_value_free(v);
    /* Numbers inside strings and keys are not numbers. */
    v = J("{\"1.5\": \"2e3 -4\", \"x\": 7}", "[\"map\",\"string\"]", false);
    assert_string_equal(sf_value_get(v, "1.5")->str, "2e3 -4");
    assert_string_equal(sf_value_get(v, "x")->str, "7");
    sf_value_free(v);
}

static void test_conversions_as_go_cty(void **state)
{
    (void)state;
    sf_value *v = J("[\"17\", 1.50, true]", "[\"tuple\",[\"number\",\"string\",\"string\"]]", false);
    assert_string_equal(v->elems[0]->str, "17");
    assert_string_equal(v->elems[1]->str, "1.50"); /* the text as written */
    assert_string_equal(v->elems[2]->str, "true");
    sf_value_free(v);
    v = J("[\"true\", \"0\", false, null]", "[\"list\",\"bool\"]", false);
    assert_true(v->elems[0]->boolean);
    assert_false(v->elems[1]->boolean);
    assert_false(v->elems[2]->boolean);
    assert_true(sf_value_is_null(v->elems[3]));
    sf_value_free(v);
    expect_error("\"yes\"", LEN("\"yes\""), "\"bool\"", "expected bool");
    expect_error("\"abc\"", LEN("\"abc\""), "\"number\"", "invalid number");
    expect_error("true", LEN("true"), "\"number\"", "expected number, got JSON bool");
    expect_error("[1]", LEN("[1]"), "\"string\"", "expected string");
}

static void test_objects_old_and_new_schemas(void **state)
{
    (void)state;
    const char *t = "[\"object\",{\"a\":\"string\",\"b\":\"number\",\"c\":[\"list\",\"bool\"]}]";
    sf_value *v = J("{\"a\":\"x\"}", t, false);
    assert_int_equal(v->n, 3);
    assert_true(sf_value_is_null(sf_value_get(v, "b")));
    assert_true(sf_value_is_null(sf_value_get(v, "c")));
    sf_value_free(v);
    expect_error("{\"a\":\"x\",\"gone\":1}", LEN("{\"a\":\"x\",\"gone\":1}"), t, "gone: unsupported attribute");
    v = J("{\"a\":\"x\",\"gone\":{\"deep\":[1,2]}}", t, true);
    assert_int_equal(v->n, 3);
    assert_null(sf_value_get(v, "gone"));
    sf_value_free(v);
    expect_error("{\"a\":1,\"c\":[true,\"maybe\"]}", LEN("{\"a\":1,\"c\":[true,\"maybe\"]}"), t, "c[1]: expected bool");
}

static void test_dynamic_values(void **state)
{
    (void)state;
    sf_value *v = J("{\"type\":[\"map\",\"number\"],\"value\":{\"k\":99999999999999999999}}", "\"dynamic\"", false);
    assert_int_equal(v->kind, SF_VAL_MAP);
    char *tj = sf_type_to_json(v->dyn_type);
    assert_string_equal(tj, "[\"map\",\"number\"]");
    free(tj);
    assert_string_equal(sf_value_get(v, "k")->str, "99999999999999999999");
    char *out = sf_value_to_json(v, NULL);
    assert_string_equal(out, "{\"k\":99999999999999999999}");
    free(out);
    sf_type *dyn = T("\"dynamic\"");
    out = sf_value_to_json(v, dyn);
    assert_string_equal(out, "{\"value\":{\"k\":99999999999999999999},\"type\":[\"map\",\"number\"]}");
    free(out);
    sf_type_free(dyn);
    sf_value_free(v);
    expect_error("{\"value\":1}", LEN("{\"value\":1}"), "\"dynamic\"", "missing type");
    expect_error("{\"type\":\"number\"}", LEN("{\"type\":\"number\"}"), "\"dynamic\"", "missing value");
    expect_error("{\"value\":1,\"type\":\"number\",\"x\":1}", LEN("{\"value\":1,\"type\":\"number\",\"x\":1}"),
                 "\"dynamic\"", "invalid key \"x\"");
    expect_error("{\"value\":1,\"type\":\"nope\"}", LEN("{\"value\":1,\"type\":\"nope\"}"), "\"dynamic\"",
                 "unknown primitive type");
    expect_error("{\"value\":\"x\",\"type\":\"bool\"}", LEN("{\"value\":\"x\",\"type\":\"bool\"}"), "\"dynamic\"",
                 "expected bool");
    expect_error("[1]", LEN("[1]"), "\"dynamic\"", "expected a {\"value\", \"type\"} object");
}

static void test_malformed_json(void **state)
{
    (void)state;
    expect_error("{\"a\":\"x\"", LEN("{\"a\":\"x\""), "[\"map\",\"string\"]", "malformed JSON");
    expect_error("1 2", LEN("1 2"), "\"number\"", "trailing data");
    expect_error("1", 0, "\"number\"", NULL);
    expect_error("\"a\\u0000b\"", LEN("\"a\\u0000b\""), "\"string\"", "\\u0000");
    expect_error("[1.2.3]", LEN("[1.2.3]"), "[\"list\",\"number\"]", NULL);
    expect_error("[01x]", LEN("[01x]"), "[\"list\",\"number\"]", NULL);
    expect_error("{\"a\":1,}", LEN("{\"a\":1,}"), "[\"map\",\"number\"]", NULL);
    /* 100 levels: bounded, an error, no crash */
    char deep[256] = "", type[2048] = "";
    for (int i = 0; i < 100; i++) strcat(deep, "[");
    for (int i = 0; i < 100; i++) strcat(deep, "]");
    for (int i = 0; i < 60; i++) strcat(type, "[\"list\",");
    strcat(type, "\"number\"");
    for (int i = 0; i < 60; i++) strcat(type, "]");
    expect_error(deep, strlen(deep), type, NULL);
    /* Within the length only: the text after it is not read. */
    sf_type *t = T("\"number\"");
    sf_value *v = NULL;
    assert_int_equal(sf_value_from_json("12345", 2, t, false, &v, NULL), 0);
    assert_string_equal(v->str, "12");
    sf_value_free(v);
    sf_type_free(t);
}

static void test_to_json(void **state)
{
    (void)state;
    sf_type *t = T("[\"object\",{\"big\":\"number\",\"s\":[\"set\",\"string\"],\"str\":\"string\",\"u\":\"bool\","
                   "\"absent\":\"string\"}]");
    sf_value *v = sf_value_object();
    sf_value_put(v, "big", sf_value_number_text("1e30", NULL));
    sf_value *s = sf_value_set();
    sf_value_append(s, sf_value_string("z"));
    sf_value_append(s, sf_value_string("a"));
    sf_value_put(v, "s", s);
    sf_value_put(v, "str", sf_value_stringn("q\"\\\n\x01\xff\0end", 10));
    sf_value_put(v, "u", sf_value_unknown());
    char *out = sf_value_to_json(v, t);
    assert_string_equal(out, "{\"absent\":null,\"big\":1000000000000000000000000000000,\"s\":[\"a\",\"z\"],"
                             "\"str\":\"q\\\"\\\\\\n\\u0001\xef\xbf\xbd\\u0000end\",\"u\":\"(unknown)\"}");
    cJSON *parsed = cJSON_Parse(out); /* valid JSON */
    assert_non_null(parsed);
    cJSON_Delete(parsed);
    free(out);
    /* Known values round-trip through JSON. */
    sf_value_put(v, "u", sf_value_bool(true));
    sf_value_put(v, "str", sf_value_string("日本 \t \"x\""));
    out = sf_value_to_json(v, t);
    sf_value *back = NULL;
    assert_int_equal(sf_value_from_json(out, strlen(out), t, false, &back, NULL), 0);
    assert_true(sf_value_equal(v, back));
    free(out);
    sf_value_free(back);
    /* Without a type, values print by their shape. */
    out = sf_value_to_json(v, NULL);
    assert_non_null(strstr(out, "\"u\":true"));
    free(out);
    out = sf_value_to_json(NULL, NULL);
    assert_string_equal(out, "null");
    free(out);
    sf_value_free(v);
    sf_type_free(t);
}

/* Found by tests/fuzz/fuzz_value_json (corpus regression_invalid_utf8_*):
 * invalid UTF-8 in a state's strings and map keys reads as U+FFFD, as Go's
 * encoding/json reads it, so the value prints back to the same value. */
static void test_invalid_utf8_reads_as_go_does(void **state)
{
    (void)state;
    sf_value *v = J("[\"\xcc"
                    "x\", 99999999999999999999999]",
                    "[\"list\",\"string\"]", false);
    sf_value *want = sf_value_list();
    sf_value_append(want, sf_value_string("\xef\xbf\xbdx"));
    sf_value_append(want, sf_value_string("99999999999999999999999"));
    assert_true(sf_value_equal(v, want));
    sf_type *t = T("[\"list\",\"string\"]");
    char *out = sf_value_to_json(v, t);
    sf_value *back = NULL;
    assert_int_equal(sf_value_from_json(out, strlen(out), t, false, &back, NULL), 0);
    assert_true(sf_value_equal(v, back));
    free(out);
    sf_value_free(back);
    sf_value_free(want);
    sf_value_free(v);
    sf_type_free(t);
    v = J("{\"\xcc\":\"v\",\"ok\":\"\xff\"}", "[\"map\",\"string\"]", false);
    assert_non_null(sf_value_get(v, "\xef\xbf\xbd"));
    sf_value *fffd = sf_value_string("\xef\xbf\xbd");
    assert_true(sf_value_equal(sf_value_get(v, "ok"), fffd));
    sf_value_free(fffd);
    assert_null(sf_value_get(v, "\xcc"));
    sf_value_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers_keep_every_digit),
        cmocka_unit_test(test_conversions_as_go_cty),
        cmocka_unit_test(test_objects_old_and_new_schemas),
        cmocka_unit_test(test_dynamic_values),
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_to_json),
        cmocka_unit_test(test_invalid_utf8_reads_as_go_does),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
