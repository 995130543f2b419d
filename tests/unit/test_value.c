/* test_value.c — types, their JSON syntax, and values: build, compare, check.
 *
 * The codecs have their own tests (test_value_msgpack.c, test_value_json.c,
 * test_value_golden.c); this one covers what resources use directly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

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

static sf_value *N(const char *text)
{
    char *err = NULL;
    sf_value *v = sf_value_number_text(text, &err);
    if (!v) fail_msg("number %s: %s", text, err);
    return v;
}

/* ---- Types ------------------------------------------------------------ */

static void test_type_json_round_trip(void **state)
{
    (void)state;
    static const char *types[] = {
        "\"string\"",
        "\"number\"",
        "\"bool\"",
        "\"dynamic\"",
        "[\"list\",\"string\"]",
        "[\"set\",[\"map\",\"number\"]]",
        "[\"object\",{\"a\":\"bool\",\"b\":[\"list\",\"dynamic\"]}]",
        "[\"object\",{\"a\":\"string\",\"b\":\"number\",\"c\":\"bool\"},[\"a\",\"c\"]]",
        "[\"tuple\",[\"string\",[\"tuple\",[]],[\"object\",{}]]]",
        "[\"tuple\",[]]",
        "[\"object\",{}]",
    };
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        sf_type *t = T(types[i]);
        char *j = sf_type_to_json(t);
        assert_string_equal(j, types[i]);
        sf_type *back = T(j);
        assert_true(sf_type_equal(t, back));
        sf_type *c = sf_type_copy(t);
        assert_true(sf_type_equal(t, c));
        free(j);
        sf_type_free(t);
        sf_type_free(back);
        sf_type_free(c);
    }
}

static void test_type_json_normalises(void **state)
{
    (void)state;
    sf_type *t = T(" [ \"object\" , { \"zeta\" : \"string\", \"alpha\" : [\"list\", \"number\"] } , [ \"zeta\" ] ]\n");
    assert_int_equal(t->kind, SF_TYPE_OBJECT);
    assert_int_equal(t->n, 2);
    assert_string_equal(t->names[0], "alpha");
    assert_string_equal(t->names[1], "zeta");
    assert_non_null(t->optional);
    assert_false(t->optional[0]);
    assert_true(t->optional[1]);
    char *j = sf_type_to_json(t);
    assert_string_equal(j, "[\"object\",{\"alpha\":[\"list\",\"number\"],\"zeta\":\"string\"},[\"zeta\"]]");
    free(j);
    sf_type_free(t);
}

static void test_type_json_errors(void **state)
{
    (void)state;
    char deep[1200] = "";
    for (int i = 0; i < 100; i++) strcat(deep, "[\"list\",");
    strcat(deep, "\"string\"");
    for (int i = 0; i < 100; i++) strcat(deep, "]");
    const char *bad[] = {
        "",
        "strin",
        "\"strin\"",
        "[\"list\"]",
        "[\"list\",\"string\",\"x\"]",
        "[\"object\",{\"a\":\"x\"}]",
        "[\"object\",{\"a\":\"string\"},[\"b\"]]",
        "[\"object\",{\"a\":\"string\",\"a\":\"number\"}]",
        "[\"object\",{\"a\":\"string\"},[1]]",
        "[\"object\",[\"a\"]]",
        "[\"tuple\",\"string\"]",
        "[\"foo\",\"string\"]",
        "42",
        "\"string\" x",
        "[\"list\",\"string\"",
        "[]",
        "[1,2]",
        "null",
        deep,
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *err = NULL;
        sf_type *t = sf_type_from_json(bad[i], strlen(bad[i]), &err);
        if (t) fail_msg("accepted %s", bad[i]);
        assert_non_null(err);
        assert_true(strlen(err) > 0);
        free(err);
        assert_null(sf_type_from_json(bad[i], strlen(bad[i]), NULL)); /* err is optional */
    }
    /* The length bounds the parse: a valid prefix of a longer text. */
    sf_type *t = sf_type_from_json("\"string\"garbage", 8, NULL);
    assert_non_null(t);
    assert_int_equal(t->kind, SF_TYPE_STRING);
    sf_type_free(t);
}

static void test_type_constructors(void **state)
{
    (void)state;
    const char *names[] = {"b", "c", "a"};
    sf_type *types[] = {sf_type_primitive(SF_TYPE_NUMBER), sf_type_primitive(SF_TYPE_BOOL),
                        sf_type_collection(SF_TYPE_LIST, sf_type_primitive(SF_TYPE_STRING))};
    sf_type *o = sf_type_object(3, names, types);
    assert_non_null(o);
    assert_string_equal(o->names[0], "a");
    assert_int_equal(o->types[0]->kind, SF_TYPE_LIST);
    assert_null(o->optional);
    assert_int_equal(sf_type_attr_index(o, "c"), 2);
    assert_int_equal(sf_type_attr_index(o, "zz"), -1);
    assert_int_equal(sf_type_attr(o, "b")->kind, SF_TYPE_NUMBER);
    assert_null(sf_type_attr(o, "nope"));
    assert_int_equal(sf_type_attr_index(types[0], "a"), -1);

    sf_type *same = T("[\"object\",{\"a\":[\"list\",\"string\"],\"b\":\"number\",\"c\":\"bool\"}]");
    sf_type *opt = T("[\"object\",{\"a\":[\"list\",\"string\"],\"b\":\"number\",\"c\":\"bool\"},[\"b\"]]");
    sf_type *other = T("[\"object\",{\"a\":[\"list\",\"string\"],\"b\":\"number\",\"d\":\"bool\"}]");
    assert_true(sf_type_equal(o, same));
    assert_false(sf_type_equal(o, opt)); /* optional flags count, as in go-cty */
    assert_false(sf_type_equal(o, other));
    assert_false(sf_type_equal(o, NULL));

    const char *dup[] = {"x", "x"};
    sf_type *dt[] = {sf_type_primitive(SF_TYPE_STRING), sf_type_primitive(SF_TYPE_STRING)};
    assert_null(sf_type_object(2, dup, dt)); /* types freed: ASan would see a leak */
    sf_type *nt[] = {sf_type_primitive(SF_TYPE_STRING), NULL};
    assert_null(sf_type_tuple(2, nt));
    assert_null(sf_type_collection(SF_TYPE_LIST, NULL));
    assert_null(sf_type_collection(SF_TYPE_OBJECT, sf_type_primitive(SF_TYPE_STRING)));
    bool optional[] = {false, true, false};
    const char *on[] = {"p", "q", "r"};
    sf_type *ot[] = {sf_type_primitive(SF_TYPE_STRING), sf_type_primitive(SF_TYPE_STRING),
                     sf_type_primitive(SF_TYPE_STRING)};
    sf_type *oo = sf_type_object_optional(3, on, ot, optional);
    char *j = sf_type_to_json(oo);
    assert_string_equal(j, "[\"object\",{\"p\":\"string\",\"q\":\"string\",\"r\":\"string\"},[\"q\"]]");
    free(j);
    sf_type_free(oo);
    sf_type_free(o);
    sf_type_free(same);
    sf_type_free(opt);
    sf_type_free(other);
}

/* ---- Numbers ---------------------------------------------------------- */

static void test_number_canonical_text(void **state)
{
    (void)state;
    static const char *cases[][2] = {
        {"0", "0"},
        {"-0", "0"},
        {"+1", "1"},
        {"1.0", "1"},
        {"1.50", "1.5"},
        {"001.2300", "1.23"},
        {"1e3", "1000"},
        {"1E+3", "1000"},
        {"1.5e-3", "0.0015"},
        {"-0.000", "0"},
        {".5", "0.5"},
        {"5.", "5"},
        {"12e-1", "1.2"},
        {"-1.25e-4", "-0.000125"},
        {"0e999999999999", "0"},
        {"123456789012345678901234567890", "123456789012345678901234567890"},
        {"-9223372036854775809", "-9223372036854775809"},
        {"100e-2", "1"},
        {"0.000e5", "0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sf_value *v = N(cases[i][0]);
        assert_int_equal(v->kind, SF_VAL_NUMBER);
        assert_string_equal(v->str, cases[i][1]);
        assert_int_equal(v->len, strlen(cases[i][1]));
        sf_value_free(v);
    }
    sf_value *big = N("1e400");
    assert_int_equal(big->len, 401);
    assert_int_equal(big->str[0], '1');
    assert_int_equal(strspn(big->str + 1, "0"), 400);
    sf_value_free(big);
    sf_value *tiny = N("-2.5E-400");
    assert_int_equal(strncmp(tiny->str, "-0.000", 6), 0);
    assert_string_equal(tiny->str + strlen(tiny->str) - 2, "25");
    assert_int_equal(tiny->len, 3 + 399 + 2);
    sf_value_free(tiny);

    static const char *bad[] = {"",   "-",    "+",   ".",   "1e",  "e5",  "1.2.3",      "abc",      "1 ",
                                " 1", "0x10", "inf", "NaN", "--1", "1e+", "1e99999999", "1e-99999", "1,5"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *err = NULL;
        sf_value *v = sf_value_number_text(bad[i], &err);
        if (v) fail_msg("accepted number \"%s\" as %s", bad[i], v->str);
        assert_non_null(err);
        free(err);
    }
    assert_null(sf_value_number_text(NULL, NULL));
}

static void test_number_from_double_and_int(void **state)
{
    (void)state;
    static const struct {
        double d;
        const char *text;
    } cases[] = {
        {0.1, "0.1"},
        {0.5, "0.5"},
        {-2.5, "-2.5"},
        {1e21, "1000000000000000000000"},
        {0.1 + 0.2, "0.30000000000000004"},
        {123.456, "123.456"},
        {-0.0, "0"},
        {1e-7, "0.0000001"},
        {4503599627370495.5, "4503599627370495.5"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sf_value *v = sf_value_double(cases[i].d);
        assert_string_equal(v->str, cases[i].text);
        double back;
        assert_int_equal(sf_value_get_double(v, &back), 0);
        assert_true(back == cases[i].d);
        sf_value_free(v);
    }
    /* Subnormals follow go-cty (big.Float at 53 bits), not strconv. */
    sf_value *sub = sf_value_double(5e-324);
    assert_string_equal(sub->str + sub->len - 16, "4940656458412465");
    sf_value_free(sub);
    sf_value *i = sf_value_int(INT64_MIN);
    assert_string_equal(i->str, "-9223372036854775808");
    int64_t got;
    assert_int_equal(sf_value_get_int(i, &got), 0);
    assert_true(got == INT64_MIN);
    sf_value_free(i);
}

static void test_number_accessors(void **state)
{
    (void)state;
    int64_t i;
    double d;
    sf_value *v = N("9223372036854775807");
    assert_int_equal(sf_value_get_int(v, &i), 0);
    assert_true(i == INT64_MAX);
    sf_value_free(v);
    v = N("9223372036854775808");
    assert_int_equal(sf_value_get_int(v, &i), -1);
    assert_int_equal(sf_value_get_double(v, &d), 0);
    assert_true(d == 9223372036854775808.0);
    sf_value_free(v);
    v = N("1.5");
    assert_int_equal(sf_value_get_int(v, &i), -1);
    sf_value_free(v);
    v = N("1e400");
    assert_int_equal(sf_value_get_double(v, &d), -1);
    sf_value_free(v);
    v = sf_value_string("12");
    assert_int_equal(sf_value_get_int(v, &i), -1);
    assert_int_equal(sf_value_get_double(v, &d), -1);
    assert_string_equal(sf_value_get_str(v), "12");
    sf_value_free(v);
    assert_int_equal(sf_value_get_int(NULL, &i), -1);
    assert_null(sf_value_get_str(NULL));
    v = sf_value_unknown();
    assert_null(sf_value_get_str(v));
    sf_value_free(v);
    /* A hand-built, non-canonical number still reads right. */
    v = sf_value_int(0);
    free(v->str);
    v->str = strdup("4.20e1");
    v->len = strlen(v->str);
    assert_int_equal(sf_value_get_int(v, &i), 0);
    assert_int_equal(i, 42);
    sf_value *w = sf_value_int(42);
    assert_true(sf_value_equal(v, w));
    sf_value_free(w);
    sf_value_free(v);
}

static void test_number_equality_is_numeric(void **state)
{
    (void)state;
    struct {
        sf_value *a, *b;
        bool eq;
    } cases[] = {
        {N("1.0"), sf_value_int(1), true},
        {sf_value_double(0.5), N("5e-1"), true},
        {N("1e2"), sf_value_int(100), true},
        {sf_value_double(0.1), N("0.1"), true},
        {N("-0"), sf_value_int(0), true},
        {N("1"), N("1.0000000000000000000000001"), false},
        {N("123456789012345678901234567890"), N("123456789012345678901234567891"), false},
        {N("-1"), N("1"), false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_int_equal(sf_value_equal(cases[i].a, cases[i].b), cases[i].eq);
        assert_int_equal(sf_value_equal(cases[i].b, cases[i].a), cases[i].eq);
        sf_value_free(cases[i].a);
        sf_value_free(cases[i].b);
    }
}

/* ---- Values ----------------------------------------------------------- */

static void test_put_get_take(void **state)
{
    (void)state;
    sf_value *o = sf_value_object();
    const char *keys[] = {"m", "b", "z", "a", "k", "b"};
    for (size_t i = 0; i < 6; i++) sf_value_put(o, keys[i], sf_value_int((int64_t)i));
    assert_int_equal(o->n, 5);
    for (size_t i = 1; i < o->n; i++) assert_true(strcmp(o->keys[i - 1], o->keys[i]) < 0);
    int64_t got;
    assert_int_equal(sf_value_get_int(sf_value_get(o, "b"), &got), 0);
    assert_int_equal(got, 5); /* replaced */
    assert_null(sf_value_get(o, "nope"));
    sf_value *t = sf_value_take(o, "k");
    assert_non_null(t);
    assert_int_equal(o->n, 4);
    assert_null(sf_value_get(o, "k"));
    assert_null(sf_value_take(o, "k"));
    sf_value_free(t);
    sf_value_put(o, "nil", NULL); /* NULL stands for a null value */
    assert_true(sf_value_is_null(sf_value_get(o, "nil")));
    assert_non_null(sf_value_get(o, "nil"));
    sf_value *s = sf_value_string("x");
    assert_null(sf_value_get(s, "a"));
    assert_null(sf_value_get(NULL, "a"));
    sf_value_free(s);
    sf_value_free(o);
}

static void test_strings_with_nul_and_unicode(void **state)
{
    (void)state;
    sf_value *a = sf_value_stringn("a\0b", 3), *b = sf_value_stringn("a\0c", 3), *c = sf_value_string("a");
    assert_int_equal(a->len, 3);
    assert_false(sf_value_equal(a, b));
    assert_false(sf_value_equal(a, c));
    sf_value *u = sf_value_string("日本語 🎉");
    assert_int_equal(u->len, strlen("日本語 🎉"));
    sf_value *e = sf_value_string(NULL);
    assert_int_equal(e->len, 0);
    assert_string_equal(e->str, "");
    sf_value_free(a);
    sf_value_free(b);
    sf_value_free(c);
    sf_value_free(u);
    sf_value_free(e);
}

static void test_set_dedupes_known_elements(void **state)
{
    (void)state;
    sf_value *s = sf_value_set();
    sf_value_append(s, sf_value_string("a"));
    sf_value_append(s, sf_value_string("b"));
    sf_value_append(s, sf_value_string("a"));
    assert_int_equal(s->n, 2);
    sf_value_free(s);

    s = sf_value_set();
    sf_value_append(s, sf_value_int(1));
    sf_value_append(s, N("1.0"));
    sf_value_append(s, sf_value_null());
    sf_value_append(s, sf_value_null());
    assert_int_equal(s->n, 2);
    /* Unknowns may turn out to differ: go-cty keeps both. */
    sf_value_append(s, sf_value_unknown());
    sf_value_append(s, sf_value_unknown());
    assert_int_equal(s->n, 4);
    sf_value_free(s);

    s = sf_value_set();
    for (int i = 0; i < 2; i++) {
        sf_value *o = sf_value_object();
        sf_value_put(o, "name", sf_value_string("x"));
        sf_value_put(o, "tags", sf_value_list());
        sf_value_append(s, o);
    }
    assert_int_equal(s->n, 1);
    sf_value *partial = sf_value_object();
    sf_value_put(partial, "name", sf_value_unknown());
    sf_value_append(s, partial);
    sf_value_append(s, sf_value_copy(partial));
    assert_int_equal(s->n, 3);
    sf_value_free(s);

    sf_value *l = sf_value_list();
    sf_value_append(l, sf_value_string("a"));
    sf_value_append(l, sf_value_string("a"));
    assert_int_equal(l->n, 2); /* lists keep duplicates */
    sf_value_free(l);
}

static sf_value *sample(void)
{
    sf_value *o = sf_value_object();
    sf_value_put(o, "name", sf_value_string("n"));
    sf_value *l = sf_value_list();
    sf_value_append(l, sf_value_int(1));
    sf_value_append(l, N("2.5"));
    sf_value_put(o, "list", l);
    sf_value *m = sf_value_map();
    sf_value_put(m, "k", sf_value_bool(true));
    sf_value_put(o, "map", m);
    sf_value *s = sf_value_set();
    sf_value_append(s, sf_value_string("x"));
    sf_value_append(s, sf_value_string("y"));
    sf_value_put(o, "set", s);
    sf_value *t = sf_value_tuple();
    sf_value_append(t, sf_value_null());
    sf_value_append(t, sf_value_string("t"));
    sf_value_put(o, "tuple", t);
    return o;
}

static void test_equal_semantics(void **state)
{
    (void)state;
    sf_value *a = sample(), *b = sample();
    assert_true(sf_value_equal(a, b));

    /* Sets are unordered. */
    sf_value *s = sf_value_get(b, "set");
    sf_value *tmp = s->elems[0];
    s->elems[0] = s->elems[1];
    s->elems[1] = tmp;
    assert_true(sf_value_equal(a, b));
    /* Lists are not. */
    sf_value *l = sf_value_get(b, "list");
    tmp = l->elems[0];
    l->elems[0] = l->elems[1];
    l->elems[1] = tmp;
    assert_false(sf_value_equal(a, b));
    sf_value_free(b);

    /* An absent object attribute equals null, not anything else. */
    b = sample();
    sf_value_put(b, "extra", sf_value_null());
    assert_true(sf_value_equal(a, b));
    assert_true(sf_value_equal(b, a));
    sf_value_put(b, "extra", sf_value_string(""));
    assert_false(sf_value_equal(a, b));
    assert_false(sf_value_equal(b, a));
    sf_value_free(b);
    /* Maps are not objects: a null entry is an entry. */
    sf_value *m1 = sf_value_map(), *m2 = sf_value_map();
    sf_value_put(m2, "k", sf_value_null());
    assert_false(sf_value_equal(m1, m2));
    sf_value_free(m1);
    sf_value_free(m2);

    /* Kinds, nulls, unknowns, refinements. */
    sf_value *n1 = sf_value_null(), *u1 = sf_value_unknown(), *u2 = sf_value_unknown();
    assert_true(sf_value_equal(n1, NULL));
    assert_true(sf_value_equal(NULL, NULL));
    assert_false(sf_value_equal(n1, u1));
    assert_true(sf_value_equal(u1, u2));
    sf_refinements *r = sf_value_refine(u2);
    assert_non_null(r);
    assert_true(sf_value_equal(u1, u2)); /* empty refinements are none */
    r->not_null = true;
    assert_false(sf_value_equal(u1, u2));
    sf_value *u3 = sf_value_copy(u2);
    assert_true(sf_value_equal(u2, u3));
    sf_value_refine(u3)->string_prefix = strdup("p");
    assert_false(sf_value_equal(u2, u3));
    assert_null(sf_value_refine(n1));
    sf_value *str = sf_value_string("1"), *num = sf_value_int(1);
    assert_false(sf_value_equal(str, num));
    assert_false(sf_value_equal(a, str));

    /* dyn_type counts when both have one. */
    sf_value *d1 = sf_value_string("x"), *d2 = sf_value_string("x");
    d1->dyn_type = sf_type_primitive(SF_TYPE_STRING);
    assert_true(sf_value_equal(d1, d2));
    d2->dyn_type = sf_type_primitive(SF_TYPE_DYNAMIC);
    assert_false(sf_value_equal(d1, d2));

    sf_value *vals[] = {a, n1, u1, u2, u3, str, num, d1, d2};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) sf_value_free(vals[i]);
}

static void test_copy_is_deep(void **state)
{
    (void)state;
    sf_value *a = sample();
    sf_value *u = sf_value_unknown();
    sf_refinements *r = sf_value_refine(u);
    r->not_null = true;
    r->number_lower = strdup("1");
    r->number_upper = strdup("9");
    sf_value_put(a, "u", u);
    a->dyn_type = sf_type_primitive(SF_TYPE_DYNAMIC);
    sf_value *c = sf_value_copy(a);
    assert_true(sf_value_equal(a, c));
    assert_ptr_not_equal(c->elems[0], a->elems[0]);
    sf_value_put(sf_value_get(c, "map"), "k2", sf_value_int(3));
    assert_false(sf_value_equal(a, c));
    assert_int_equal(sf_value_get(a, "map")->n, 1);
    assert_null(sf_value_copy(NULL));
    sf_value_free(a);
    sf_value_free(c);
}

static void test_wholly_known(void **state)
{
    (void)state;
    sf_value *a = sample();
    assert_true(sf_value_is_wholly_known(a));
    assert_true(sf_value_is_wholly_known(NULL));
    sf_value_append(sf_value_get(a, "list"), sf_value_unknown());
    assert_false(sf_value_is_wholly_known(a));
    assert_true(sf_value_is_unknown(sf_value_get(a, "list")->elems[2]));
    assert_false(sf_value_is_unknown(a));
    assert_false(sf_value_is_unknown(NULL));
    sf_value_free(a);
}

static const char *SAMPLE_T =
    "[\"object\",{\"list\":[\"list\",\"number\"],\"map\":[\"map\",\"bool\"],"
    "\"name\":\"string\",\"set\":[\"set\",\"string\"],\"tuple\":[\"tuple\",[\"string\",\"string\"]]}]";

static void expect_nonconforming(const sf_value *v, const sf_type *t, const char *want1, const char *want2)
{
    char *err = NULL;
    assert_int_equal(sf_value_conforms(v, t, &err), -1);
    assert_non_null(err);
    if (!strstr(err, want1) || (want2 && !strstr(err, want2))) fail_msg("error \"%s\" lacks \"%s\"", err, want1);
    free(err);
}

static void test_conforms(void **state)
{
    (void)state;
    sf_type *t = T(SAMPLE_T);
    sf_value *a = sample();
    char *err = NULL;
    assert_int_equal(sf_value_conforms(a, t, &err), 0);
    assert_null(err);
    sf_value *partial = sf_value_object();
    sf_value_put(partial, "name", sf_value_unknown());
    assert_int_equal(sf_value_conforms(partial, t, NULL), 0); /* absent attributes are null */
    sf_value_free(partial);
    sf_value *n = sf_value_null(), *u = sf_value_unknown();
    assert_int_equal(sf_value_conforms(n, t, NULL), 0);
    assert_int_equal(sf_value_conforms(u, t, NULL), 0);
    assert_int_equal(sf_value_conforms(NULL, t, NULL), 0);

    sf_value_put(sf_value_get(a, "map"), "bad key", sf_value_string("yes"));
    expect_nonconforming(a, t, "map[\"bad key\"]: expected bool", "got string");
    sf_value_free(a);
    a = sample();
    sf_value_append(sf_value_get(a, "tuple"), sf_value_string("3rd"));
    expect_nonconforming(a, t, "tuple: expected a tuple of 2 elements", NULL);
    sf_value_free(a);
    a = sample();
    sf_value_put(a, "zzz", sf_value_int(1));
    expect_nonconforming(a, t, "zzz: unsupported attribute", NULL);
    sf_value_free(a);
    a = sample();
    sf_value *l = sf_value_list();
    sf_value_append(l, sf_value_string("x"));
    sf_value_put(a, "set", l);
    expect_nonconforming(a, t, "set: expected set, got list", NULL);
    sf_value_free(a);

    sf_type *deep = T("[\"object\",{\"workers\":[\"list\",[\"object\",{\"cores\":\"number\"}]]}]");
    sf_value *w = sf_value_object(), *ws = sf_value_list();
    for (int i = 0; i < 2; i++) {
        sf_value *o = sf_value_object();
        sf_value_put(o, "cores", i ? sf_value_string("four") : sf_value_int(4));
        sf_value_append(ws, o);
    }
    sf_value_put(w, "workers", ws);
    expect_nonconforming(w, deep, "workers[1].cores: expected number, got string", NULL);
    sf_value_free(w);
    sf_type_free(deep);

    /* dynamic: checked against dyn_type, or the value must imply a type */
    sf_type *dyn = T("\"dynamic\"");
    sf_value *s = sf_value_string("x");
    assert_int_equal(sf_value_conforms(s, dyn, NULL), 0);
    s->dyn_type = sf_type_primitive(SF_TYPE_NUMBER);
    expect_nonconforming(s, dyn, "expected number, got string", NULL);
    sf_value *mixed = sf_value_list();
    sf_value_append(mixed, sf_value_string("x"));
    sf_value_append(mixed, sf_value_int(1));
    expect_nonconforming(mixed, dyn, "no single type", NULL);
    assert_int_equal(sf_value_conforms(NULL, NULL, &err), -1);
    free(err);
    sf_value_free(mixed);
    sf_value_free(s);
    sf_type_free(dyn);
    sf_value_free(n);
    sf_value_free(u);
    sf_type_free(t);
}

static void test_implied_type(void **state)
{
    (void)state;
    sf_value *a = sample();
    sf_type *t = sf_value_implied_type(a);
    char *j = sf_type_to_json(t);
    assert_string_equal(j, "[\"object\",{\"list\":[\"list\",\"number\"],\"map\":[\"map\",\"bool\"],\"name\":\"string\","
                           "\"set\":[\"set\",\"string\"],\"tuple\":[\"tuple\",[\"dynamic\",\"string\"]]}]");
    free(j);
    sf_type_free(t);
    sf_value *l = sf_value_list();
    sf_value_append(l, sf_value_null());
    sf_value_append(l, sf_value_unknown());
    t = sf_value_implied_type(l);
    j = sf_type_to_json(t);
    assert_string_equal(j, "[\"list\",\"dynamic\"]");
    free(j);
    sf_type_free(t);
    sf_value_append(l, sf_value_string("s"));
    t = sf_value_implied_type(l);
    j = sf_type_to_json(t);
    assert_string_equal(j, "[\"list\",\"string\"]");
    free(j);
    sf_type_free(t);
    sf_value_append(l, sf_value_bool(true));
    assert_null(sf_value_implied_type(l));
    sf_value_free(l);
    sf_value_free(a);
}

/* *err is output only: whatever it held before is not freed. */
static void test_err_is_output_only(void **state)
{
    (void)state;
    char *junk = (char *)0x1, *err;
    err = junk;
    assert_null(sf_type_from_json("x", 1, &err));
    assert_ptr_not_equal(err, junk);
    free(err);
    err = junk;
    assert_null(sf_value_number_text("x", &err));
    assert_ptr_not_equal(err, junk);
    free(err);
    sf_type *t = T("\"number\"");
    sf_value *s = sf_value_string("x"), *v = NULL;
    err = junk;
    assert_int_equal(sf_value_conforms(s, t, &err), -1);
    assert_ptr_not_equal(err, junk);
    free(err);
    err = junk;
    assert_int_equal(sf_value_from_msgpack("\xc3", 1, t, &v, &err), -1);
    assert_ptr_not_equal(err, junk);
    free(err);
    err = junk;
    assert_int_equal(sf_value_from_json("true", 4, t, false, &v, &err), -1);
    assert_ptr_not_equal(err, junk);
    free(err);
    void *buf;
    size_t len;
    err = junk;
    assert_int_equal(sf_value_to_msgpack(s, t, &buf, &len, &err), -1);
    assert_ptr_not_equal(err, junk);
    free(err);
    err = junk;
    sf_value *n = sf_value_int(1);
    assert_int_equal(sf_value_conforms(n, t, &err), 0);
    assert_null(err);
    sf_value_free(n);
    sf_value_free(s);
    sf_type_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_json_round_trip),
        cmocka_unit_test(test_type_json_normalises),
        cmocka_unit_test(test_type_json_errors),
        cmocka_unit_test(test_type_constructors),
        cmocka_unit_test(test_number_canonical_text),
        cmocka_unit_test(test_number_from_double_and_int),
        cmocka_unit_test(test_number_accessors),
        cmocka_unit_test(test_number_equality_is_numeric),
        cmocka_unit_test(test_put_get_take),
        cmocka_unit_test(test_strings_with_nul_and_unicode),
        cmocka_unit_test(test_set_dedupes_known_elements),
        cmocka_unit_test(test_equal_semantics),
        cmocka_unit_test(test_copy_is_deep),
        cmocka_unit_test(test_wholly_known),
        cmocka_unit_test(test_conforms),
        cmocka_unit_test(test_implied_type),
        cmocka_unit_test(test_err_is_output_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
