/* test_value_msgpack.c — the msgpack codec: round trips, exact bytes, bad input.
 *
 * Byte-for-byte agreement with go-cty over many cases is test_value_golden's
 * job; this file checks the codec's own contract: every kind of value
 * survives a round trip, refinements are kept, and malformed input of any
 * kind (truncated, mutated, huge lengths, deep nesting) gives an error that
 * names the place, never a crash (run it under -DSANITIZE=ON).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "provider/value.h"

static sf_type *T(const char *json)
{
    char *err = NULL;
    sf_type *t = sf_type_from_json(json, strlen(json), &err);
    if (!t) fail_msg("type %s: %s", json, err);
    return t;
}

static sf_value *N(const char *text)
{
    sf_value *v = sf_value_number_text(text, NULL);
    assert_non_null(v);
    return v;
}

static char *hex(const void *buf, size_t n)
{
    char *h = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++) sprintf(h + 2 * i, "%02x", ((const unsigned char *)buf)[i]);
    h[2 * n] = '\0';
    return h;
}

static unsigned char *unhex(const char *h, size_t *n)
{
    size_t len = strlen(h);
    unsigned char *b = malloc(len / 2 + 1);
    for (size_t i = 0; i < len / 2; i++) {
        unsigned x;
        sscanf(h + 2 * i, "%2x", &x);
        b[i] = (unsigned char)x;
    }
    *n = len / 2;
    return b;
}

/* Encodes v as t: the hex text (caller frees). */
static char *enc(const sf_value *v, const sf_type *t)
{
    void *buf;
    size_t len;
    char *err = NULL;
    if (sf_value_to_msgpack(v, t, &buf, &len, &err) != 0) fail_msg("encode: %s", err);
    char *h = hex(buf, len);
    free(buf);
    return h;
}

/* Decodes hex as t; NULL and *err on failure. */
static sf_value *dec(const char *h, const sf_type *t, char **err)
{
    size_t n;
    unsigned char *b = unhex(h, &n);
    sf_value *v = (sf_value *)0x1;
    int rc = sf_value_from_msgpack(b, n, t, &v, err);
    free(b);
    assert_true(rc == 0 ? v != NULL : v == NULL);
    return v;
}

/* encode → decode → equal, and encode again → same bytes. */
static void round_trip(const sf_value *v, const sf_type *t)
{
    char *h = enc(v, t), *err = NULL;
    sf_value *back = dec(h, t, &err);
    if (!back) fail_msg("decode of %s: %s", h, err);
    if (!sf_value_equal(v, back)) fail_msg("round trip changed the value (%s)", h);
    char *h2 = enc(back, t);
    assert_string_equal(h, h2);
    free(h);
    free(h2);
    sf_value_free(back);
}

static void expect_encoding(const sf_value *v, const char *type, const char *want)
{
    sf_type *t = T(type);
    char *h = enc(v, t);
    assert_string_equal(h, want);
    round_trip(v, t);
    free(h);
    sf_type_free(t);
}

static void expect_error(const char *type, const char *in, const char *want)
{
    sf_type *t = T(type);
    char *err = NULL;
    sf_value *v = dec(in, t, &err);
    if (v) fail_msg("%s accepted as %s", in, type);
    assert_non_null(err);
    if (want && !strstr(err, want)) fail_msg("%s: error \"%s\" lacks \"%s\"", in, err, want);
    free(err);
    sf_type_free(t);
}

/* ---- Round trips ------------------------------------------------------ */

static const char *BIG_T =
    "[\"object\",{\"b\":\"bool\",\"d\":\"dynamic\",\"l\":[\"list\",[\"object\",{\"n\":\"number\",\"s\":\"string\"}]],"
    "\"m\":[\"map\",[\"list\",\"number\"]],\"n\":\"number\",\"s\":\"string\",\"set\":[\"set\",[\"tuple\",[\"string\","
    "\"bool\"]]],"
    "\"t\":[\"tuple\",[\"string\",\"number\",[\"set\",\"number\"]]],\"u\":\"string\"}]";

static sf_value *big_value(void)
{
    sf_value *o = sf_value_object();
    sf_value_put(o, "b", sf_value_bool(false));
    sf_value *d = sf_value_map();
    sf_value_put(d, "x", sf_value_string("y"));
    d->dyn_type = T("[\"map\",\"string\"]");
    sf_value_put(o, "d", d);
    sf_value *l = sf_value_list();
    for (int i = 0; i < 3; i++) {
        sf_value *e = sf_value_object();
        sf_value_put(e, "n", i == 1 ? sf_value_unknown() : sf_value_int(i * 1000));
        sf_value_put(e, "s", i == 2 ? sf_value_null() : sf_value_string("élément"));
        sf_value_append(l, e);
    }
    sf_value_put(o, "l", l);
    sf_value *m = sf_value_map();
    sf_value *ml = sf_value_list();
    sf_value_append(ml, N("1e400"));
    sf_value_append(ml, N("-0.000000000000000000000000000001"));
    sf_value_append(ml, N("18446744073709551616"));
    sf_value_put(m, "big", ml);
    sf_value_put(m, "empty", sf_value_list());
    sf_value_put(o, "m", m);
    sf_value_put(o, "n", sf_value_double(3.25));
    sf_value_put(o, "s", sf_value_stringn("nul\0inside", 10));
    sf_value *set = sf_value_set();
    for (int i = 0; i < 3; i++) {
        sf_value *tp = sf_value_tuple();
        sf_value_append(tp, sf_value_string(i ? "b" : "a"));
        sf_value_append(tp, sf_value_bool(i == 2));
        sf_value_append(set, tp);
    }
    sf_value_put(o, "set", set);
    sf_value *t = sf_value_tuple();
    sf_value_append(t, sf_value_string(""));
    sf_value_append(t, sf_value_int(INT64_MIN));
    sf_value *ns = sf_value_set();
    sf_value_append(ns, sf_value_int(3));
    sf_value_append(ns, sf_value_int(-1));
    sf_value_append(t, ns);
    sf_value_put(o, "t", t);
    sf_value *u = sf_value_unknown();
    sf_value_refine(u)->string_prefix = strdup("pre-");
    sf_value_put(o, "u", u);
    return o;
}

static void test_round_trip_every_kind(void **state)
{
    (void)state;
    sf_type *t = T(BIG_T);
    sf_value *v = big_value();
    assert_int_equal(sf_value_conforms(v, t, NULL), 0);
    round_trip(v, t);
    sf_value_free(v);
    sf_value *n = sf_value_null(), *u = sf_value_unknown();
    round_trip(n, t);
    round_trip(u, t);
    sf_value_free(n);
    sf_value_free(u);
    sf_type_free(t);

    static const char *types[] = {
        "\"string\"",           "\"number\"",         "\"bool\"",       "[\"list\",\"string\"]",
        "[\"set\",\"number\"]", "[\"map\",\"bool\"]", "[\"tuple\",[]]", "[\"object\",{}]",
        "\"dynamic\""};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        sf_type *pt = T(types[i]);
        sf_value *vals[] = {sf_value_null(), sf_value_unknown()};
        for (int k = 0; k < 2; k++) {
            round_trip(vals[k], pt);
            sf_value_free(vals[k]);
        }
        sf_type_free(pt);
    }
}

static void test_exact_bytes(void **state)
{
    (void)state;
    sf_value *v;
#define EXPECT(V, T, H) (v = (V), expect_encoding(v, T, H), sf_value_free(v))
    EXPECT(sf_value_null(), "\"string\"", "c0");
    EXPECT(sf_value_unknown(), "\"string\"", "d40000");
    EXPECT(sf_value_bool(true), "\"bool\"", "c3");
    EXPECT(sf_value_int(0), "\"number\"", "00");
    EXPECT(sf_value_int(-33), "\"number\"", "d0df");
    EXPECT(sf_value_int(65536), "\"number\"", "ce00010000");
    EXPECT(sf_value_int(INT64_MAX), "\"number\"", "cf7fffffffffffffff");
    EXPECT(N("9223372036854775808"), "\"number\"", "b339323233333732303336383534373735383038");
    EXPECT(N("0.5"), "\"number\"", "cb3fe0000000000000");
    EXPECT(N("0.1"), "\"number\"", "a3302e31"); /* not exactly a double: a string */
    EXPECT(N("1e3"), "\"number\"", "cd03e8");
    EXPECT(sf_value_string("hi"), "\"string\"", "a26869");
    /* Object attributes sorted; absent ones written as null. */
    sf_value *o = sf_value_object();
    sf_value_put(o, "b", sf_value_int(1));
    EXPECT(o, "[\"object\",{\"a\":\"string\",\"b\":\"number\"}]", "82a161c0a16201");
    /* Dynamic: [type JSON as bin, value]; the type implied when not set. */
    EXPECT(sf_value_string("hi"), "\"dynamic\"", "92c40822737472696e6722a26869");
    sf_value *dn = sf_value_null();
    dn->dyn_type = T("\"string\"");
    EXPECT(dn, "\"dynamic\"", "92c40822737472696e6722c0");
    EXPECT(sf_value_null(), "\"dynamic\"", "c0");
    EXPECT(sf_value_unknown(), "\"dynamic\"", "d40000");
#undef EXPECT
}

static void test_exact_doubles_only_as_float(void **state)
{
    (void)state;
    sf_type *t = T("\"number\"");
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"4503599627370495.5", "cb432fffffffffffff"},
        {"-1.5", "cbbff8000000000000"},
        {"0.3", "a3302e33"},
        /* exactly a double, but decoding that float64 would give "0.1":
         * kept as text so that decode(encode(v)) == v */
        {"0.1000000000000000055511151231257827021181583404541015625", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sf_value *v = N(cases[i].text);
        char *h = enc(v, t);
        if (cases[i].want) assert_string_equal(h, cases[i].want);
        else assert_int_not_equal(h[0] == 'c' && h[1] == 'b', 1);
        round_trip(v, t);
        free(h);
        sf_value_free(v);
    }
    sf_type_free(t);
}

static sf_value *refined(void)
{
    return sf_value_unknown();
}

static void test_refinements(void **state)
{
    (void)state;
    sf_value *v = refined();
    sf_refinements *r = sf_value_refine(v);
    r->not_null = true;
    r->string_prefix = strdup("https://");
    expect_encoding(v, "\"string\"", "c70d0c8201c202a868747470733a2f2f");
    /* Refinements that do not apply to the type are not written. */
    sf_type *num = T("\"number\"");
    char *h = enc(v, num);
    assert_string_equal(h, "c7030c8101c2");
    free(h);
    sf_value_free(v);

    v = refined();
    r = sf_value_refine(v);
    r->not_null = true;
    r->number_lower = strdup("0");
    r->number_lower_incl = true;
    r->number_upper = strdup("10");
    expect_encoding(v, "\"number\"", "c70b0c8301c2039200c304920ac2");
    sf_value_free(v);

    v = refined();
    r = sf_value_refine(v);
    r->has_length_lower = true;
    r->length_lower = 1;
    r->has_length_upper = true;
    r->length_upper = 5;
    expect_encoding(v, "[\"list\",\"string\"]", "c7050c8205010605");
    expect_encoding(v, "[\"map\",\"string\"]", "c7050c8205010605");
    h = enc(v, num);
    assert_string_equal(h, "d40000"); /* nothing left to say */
    free(h);
    sf_value_free(v);

    /* Decoded refinements land in the struct. */
    sf_type *lt = T("[\"set\",\"string\"]");
    char *err = NULL;
    v = dec("c7070c8301c205020603", lt, &err);
    assert_non_null(v);
    assert_int_equal(v->kind, SF_VAL_UNKNOWN);
    assert_non_null(v->refine);
    assert_true(v->refine->not_null);
    assert_true(v->refine->has_length_lower && v->refine->length_lower == 2);
    assert_true(v->refine->has_length_upper && v->refine->length_upper == 3);
    sf_value_free(v);
    /* Refinements that leave one possibility become that value. */
    v = dec("c7070c8301c205000600", lt, &err);
    assert_int_equal(v->kind, SF_VAL_SET);
    assert_int_equal(v->n, 0);
    sf_value_free(v);
    v = dec("c70b0c8301c2039203c3049203c3", num, &err);
    assert_int_equal(v->kind, SF_VAL_NUMBER);
    assert_string_equal(v->str, "3");
    sf_value_free(v);
    v = dec("c7030c8101c3", num, &err); /* "definitely null" */
    assert_int_equal(v->kind, SF_VAL_NULL);
    sf_value_free(v);
    /* A prefix beyond 256 bytes is cut at a character boundary. */
    sf_type *st = T("\"string\"");
    v = refined();
    r = sf_value_refine(v);
    r->string_prefix = malloc(400);
    for (int i = 0; i < 399; i += 3) memcpy(r->string_prefix + i, "\xe6\x97\xa5", 3); /* 日 */
    r->string_prefix[399] = '\0';
    h = enc(v, st);
    sf_value *back = dec(h, st, &err);
    assert_non_null(back);
    size_t plen = strlen(back->refine->string_prefix);
    assert_true(plen <= 256 && plen >= 240 && plen % 3 == 0);
    assert_memory_equal(back->refine->string_prefix, r->string_prefix, plen);
    free(h);
    sf_value_free(back);
    sf_value_free(v);
    sf_type_free(st);
    sf_type_free(lt);
    sf_type_free(num);
}

static void test_dynamic(void **state)
{
    (void)state;
    sf_type *t = T("[\"object\",{\"id\":\"string\",\"settings\":\"dynamic\"}]");
    char *err = NULL;
    /* {"id":"x","settings":[["list","number"], [1, 2]]} */
    sf_value *v = dec("82a26964a178a873657474696e677392c4115b226c697374222c226e756d626572225d920102", t, &err);
    if (!v) fail_msg("%s", err);
    sf_value *s = sf_value_get(v, "settings");
    assert_int_equal(s->kind, SF_VAL_LIST);
    assert_non_null(s->dyn_type);
    char *tj = sf_type_to_json(s->dyn_type);
    assert_string_equal(tj, "[\"list\",\"number\"]");
    free(tj);
    assert_null(s->elems[0]->dyn_type);
    round_trip(v, t);
    sf_value_free(v);

    /* A value built without a type is written with the type it implies;
     * one that implies none is an error naming the attribute. */
    v = sf_value_object();
    sf_value *mixed = sf_value_tuple();
    sf_value_append(mixed, sf_value_int(1));
    sf_value_append(mixed, sf_value_string("a"));
    sf_value_put(v, "settings", mixed);
    char *h = enc(v, t);
    assert_non_null(
        strstr(h, "5b227475706c65222c5b226e756d626572222c22737472696e67225d5d")); /* ["tuple",["number","string"]] */
    free(h);
    sf_value *bad = sf_value_list();
    sf_value_append(bad, sf_value_int(1));
    sf_value_append(bad, sf_value_string("a"));
    sf_value_put(v, "settings", bad);
    void *buf = NULL;
    size_t len;
    assert_int_equal(sf_value_to_msgpack(v, t, &buf, &len, &err), -1);
    assert_null(buf);
    assert_non_null(strstr(err, "settings"));
    free(err);
    sf_value_free(v);
    sf_type_free(t);

    /* A type "dynamic" inside the wrapper adds nothing. */
    sf_type *dyn = T("\"dynamic\"");
    v = dec("92c4092264796e616d696322"
            "92c40822737472696e6722a178",
            dyn, &err);
    if (!v) fail_msg("%s", err);
    assert_string_equal(v->str, "x");
    tj = sf_type_to_json(v->dyn_type);
    assert_string_equal(tj, "\"string\"");
    free(tj);
    sf_value_free(v);
    sf_type_free(dyn);
}

static void test_objects_absent_and_extra_attributes(void **state)
{
    (void)state;
    sf_type *t = T("[\"object\",{\"a\":\"string\",\"b\":\"number\"}]");
    char *err = NULL;
    sf_value *v = dec("81a161a178", t, &err);
    assert_non_null(v);
    assert_int_equal(v->n, 2);
    assert_true(sf_value_is_null(sf_value_get(v, "b")));
    assert_non_null(sf_value_get(v, "b"));
    sf_value_free(v);
    expect_error("[\"object\",{\"a\":\"string\"}]", "82a161a178a27a7a01", "zz: unsupported attribute");
    sf_type_free(t);
}

static void test_error_names_the_path(void **state)
{
    (void)state;
    const char *t =
        "[\"object\",{\"workers\":[\"list\",[\"object\",{\"cores\":\"number\",\"labels\":[\"map\",\"string\"]}]]}]";
    /* {"workers":[{"cores":1,"labels":{}},{"cores":"abc","labels":{}}]} */
    expect_error(t, "81a7776f726b6572739282a5636f72657301a66c6162656c738082a5636f726573a3616263a66c6162656c7380",
                 "workers[1].cores: invalid number \"abc\"");
    expect_error(t, "81a7776f726b6572739182a5636f72657301a66c6162656c7381a17ac3",
                 "workers[0].labels[\"z\"]: expected string, got msgpack bool");
    expect_error("[\"tuple\",[\"string\",\"bool\"]]", "91a161", "expected a tuple of 2 elements");
    expect_error("[\"map\",\"string\"]", "8101a161", "expected string key");
    expect_error("\"bool\"", "01", "expected bool");
    expect_error("\"number\"", "cb7ff0000000000000", "not finite");
    expect_error("\"string\"", "d60300000000", "unsupported extension type 0x03");
    expect_error("\"dynamic\"", "92c406226e6f706522a161", "unknown primitive type \"nope\"");
}

/* ---- Malformed input -------------------------------------------------- */

static void decode_quietly(const unsigned char *b, size_t n, const sf_type *t)
{
    sf_value *v = NULL;
    char *err = NULL;
    int rc = sf_value_from_msgpack(b, n, t, &v, &err);
    if (rc == 0) {
        assert_null(err);
        void *buf;
        size_t len;
        char *e2 = NULL;
        if (sf_value_to_msgpack(v, t, &buf, &len, &e2) != 0) fail_msg("decoded value does not encode: %s", e2);
        free(buf);
    } else {
        assert_null(v);
        assert_non_null(err);
    }
    sf_value_free(v);
    free(err);
}

static void test_truncated_and_mutated_input(void **state)
{
    (void)state;
    sf_type *t = T(BIG_T);
    sf_value *v = big_value();
    void *buf;
    size_t len;
    assert_int_equal(sf_value_to_msgpack(v, t, &buf, &len, NULL), 0);
    const unsigned char *b = buf;
    for (size_t n = 0; n < len; n++) { /* every proper prefix is an error */
        char *err = NULL;
        sf_value *out = NULL;
        unsigned char *copy = malloc(n ? n : 1); /* exact size: ASan sees overreads */
        memcpy(copy, b, n);
        if (sf_value_from_msgpack(copy, n, t, &out, &err) == 0) fail_msg("prefix of %zu bytes accepted", n);
        assert_non_null(err);
        free(err);
        free(copy);
    }
    unsigned char *m = malloc(len);
    static const unsigned char subst[] = {0x00, 0x7f, 0x80, 0x9f, 0xc0, 0xc1, 0xc4,
                                          0xcb, 0xd4, 0xd9, 0xdc, 0xdd, 0xdf, 0xff};
    for (size_t i = 0; i < len; i++) {
        for (size_t k = 0; k < sizeof subst; k++) {
            memcpy(m, b, len);
            m[i] = subst[k];
            decode_quietly(m, len, t);
        }
    }
    free(m);
    free(buf);
    sf_value_free(v);
    sf_type_free(t);
}

static void test_huge_lengths_and_depth(void **state)
{
    (void)state;
    expect_error("[\"list\",\"string\"]", "ddffffffff", "truncated");
    expect_error("[\"map\",\"string\"]", "dfffffffff", "truncated");
    expect_error("\"string\"", "dbffffffff61", "truncated");
    expect_error("\"string\"", "c6ffffffff", "truncated");
    expect_error("\"string\"", "c9ffffffff0c", "truncated");
    expect_error("\"string\"", "c1", "invalid msgpack");
    expect_error("\"string\"", "c0c0", "trailing bytes");
    expect_error("\"string\"", "", "truncated");
    expect_error("\"string\"", "c90000040d0c", "truncated");

    /* 33 nested arrays: deeper than msgpack-c's unpacker allows. */
    char type[1024] = "", in[128] = "";
    for (int i = 0; i < 33; i++) strcat(type, "[\"list\",");
    strcat(type, "\"bool\"");
    for (int i = 0; i < 33; i++) strcat(type, "]");
    for (int i = 0; i < 33; i++) strcat(in, "91");
    strcat(in, "c3");
    expect_error(type, in, "nested more than 32");
    in[2] = '\0'; /* one level is fine */
    sf_type *t = T(type);
    char *err = NULL;
    sf_value *v = dec("91c0", t, &err);
    assert_non_null(v);
    sf_value_free(v);
    sf_type_free(t);
    unsigned char deep[100000];
    memset(deep, 0x91, sizeof deep);
    t = T("\"dynamic\"");
    decode_quietly(deep, sizeof deep, t);
    sf_type_free(t);
}

static void test_encode_errors(void **state)
{
    (void)state;
    sf_type *t = T("[\"object\",{\"a\":[\"list\",\"number\"],\"t\":[\"tuple\",[\"string\"]]}]");
    char *err = NULL;
    void *buf = (void *)0x1;
    size_t len;
    sf_value *v = sf_value_object();
    sf_value *l = sf_value_list();
    sf_value_append(l, sf_value_int(1));
    sf_value_append(l, sf_value_string("2"));
    sf_value_put(v, "a", l);
    assert_int_equal(sf_value_to_msgpack(v, t, &buf, &len, &err), -1);
    assert_null(buf);
    assert_string_equal(err, "a[1]: expected number, got string");
    free(err);
    sf_value_put(v, "a", sf_value_null());
    sf_value_put(v, "t", sf_value_tuple());
    assert_int_equal(sf_value_to_msgpack(v, t, &buf, &len, &err), -1);
    assert_string_equal(err, "t: expected a tuple of 1 elements, got 0");
    free(err);
    sf_value_put(v, "t", sf_value_null());
    sf_value_put(v, "zz", sf_value_null());
    assert_int_equal(sf_value_to_msgpack(v, t, &buf, &len, &err), -1);
    assert_string_equal(err, "zz: unsupported attribute");
    free(err);
    sf_value_free(v);
    assert_int_equal(sf_value_to_msgpack(NULL, NULL, &buf, &len, &err), -1);
    free(err);
    sf_type_free(t);
}

static void test_set_order_matches_go_cty(void **state)
{
    (void)state;
    sf_value *s = sf_value_set();
    const char *nums[] = {"10", "-3", "2.5", "1e30", "0", "-0.5"};
    for (int i = 0; i < 6; i++) sf_value_append(s, N(nums[i]));
    sf_value_append(s, sf_value_unknown());
    sf_value_append(s, sf_value_null());
    sf_type *t = T("[\"set\",\"number\"]");
    char *h = enc(s, t);
    /* -3, -0.5, 0, 2.5, 10, 1e30 (string), unknown, null */
    assert_string_equal(h, "98fdcbbfe000000000000000cb40040000000000000abf313030303030303030303030303030303030303030303"
                           "03030303030303030d40000c0");
    free(h);
    sf_type_free(t);
    sf_value_free(s);
}

/* Sets from the wire are deduplicated in n log n, not n^2: 60000
 * elements would take minutes the slow way. */
static void test_big_sets_are_fast(void **state)
{
    (void)state;
    enum { DISTINCT = 30000 };
    size_t len = 5 + 2 * DISTINCT * 3;
    unsigned char *b = malloc(len), *p = b;
    *p++ = 0xdd;
    uint32_t count = 2 * DISTINCT;
    for (int i = 3; i >= 0; i--) *p++ = (unsigned char)(count >> (8 * i));
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < DISTINCT; i++) {
            int x = round ? i : DISTINCT - 1 - i;
            *p++ = 0xcd;
            *p++ = (unsigned char)(x >> 8);
            *p++ = (unsigned char)x;
        }
    }
    sf_type *t = T("[\"set\",\"number\"]");
    clock_t start = clock();
    sf_value *v = NULL;
    char *err = NULL;
    assert_int_equal(sf_value_from_msgpack(b, len, t, &v, &err), 0);
    assert_int_equal(v->n, DISTINCT);
    sf_value *w = sf_value_copy(v);
    for (size_t i = 0; i < w->n / 2; i++) { /* another order, same set */
        sf_value *tmp = w->elems[i];
        w->elems[i] = w->elems[w->n - 1 - i];
        w->elems[w->n - 1 - i] = tmp;
    }
    assert_true(sf_value_equal(v, w));
    sf_value_free(w->elems[0]);
    w->elems[0] = sf_value_int(-1);
    assert_false(sf_value_equal(v, w));
    void *out;
    size_t outlen;
    assert_int_equal(sf_value_to_msgpack(v, t, &out, &outlen, NULL), 0);
    assert_int_equal(outlen, 3 + 128 + 2 * (256 - 128) + 3 * (DISTINCT - 256)); /* sorted, smallest int forms */
    double secs = (double)(clock() - start) / CLOCKS_PER_SEC;
    if (secs > 20) fail_msg("a %d-element set took %.1fs", DISTINCT, secs);
    free(out);
    free(b);
    sf_value_free(v);
    sf_value_free(w);
    sf_type_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_kind),
        cmocka_unit_test(test_exact_bytes),
        cmocka_unit_test(test_exact_doubles_only_as_float),
        cmocka_unit_test(test_refinements),
        cmocka_unit_test(test_dynamic),
        cmocka_unit_test(test_objects_absent_and_extra_attributes),
        cmocka_unit_test(test_error_names_the_path),
        cmocka_unit_test(test_truncated_and_mutated_input),
        cmocka_unit_test(test_huge_lengths_and_depth),
        cmocka_unit_test(test_encode_errors),
        cmocka_unit_test(test_set_order_matches_go_cty),
        cmocka_unit_test(test_big_sets_are_fast),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
