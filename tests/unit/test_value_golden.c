/* test_value_golden.c — the value codec against go-cty, the library Terraform uses.
 *
 * tests/golden/cty_golden.txt holds encodings written by go-cty (see
 * tests/golden/main.go).  Every case is decoded here and re-encoded, and the
 * bytes must equal go-cty's; JSON must decode to the same value.  Then the
 * C side writes its own encodings (of the golden cases and of values built
 * with the C constructors) and the Go program checks them with go-cty.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "provider/value.h"

/* ---- Helpers ---------------------------------------------------------- */

static char *source_dir(void)
{
    const char *env = getenv("SF_SOURCE_DIR");
    if (env && *env) return strdup(env);
    char *s = strdup(__FILE__); /* <src>/tests/unit/test_value_golden.c */
    char *p = strstr(s, "/tests/unit/");
    if (p) *p = '\0';
    return s;
}

static char *binary_dir(void)
{
    const char *env = getenv("SF_BINARY_DIR");
    return strdup(env && *env ? env : "/tmp");
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static unsigned char *unhex(const char *h, size_t *n)
{
    size_t len = strlen(h);
    unsigned char *b = malloc(len / 2 + 1);
    assert_non_null(b);
    for (size_t i = 0; i + 1 < len; i += 2) {
        int hi = hexval(h[i]), lo = hexval(h[i + 1]);
        assert_true(hi >= 0 && lo >= 0);
        b[i / 2] = (unsigned char)(hi * 16 + lo);
    }
    *n = len / 2;
    return b;
}

static char *tohex(const void *buf, size_t n)
{
    char *h = malloc(2 * n + 1);
    assert_non_null(h);
    for (size_t i = 0; i < n; i++) sprintf(h + 2 * i, "%02x", ((const unsigned char *)buf)[i]);
    h[2 * n] = '\0';
    return h;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

typedef struct {
    int cases, failures;
    FILE *out; /* encodings for the Go verifier */
} run;

static void failf(run *r, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL %s: ", name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    r->failures++;
}

/* Writes v's C encodings for the verifier. */
static void emit(run *r, const char *name, const char *type_json, const sf_value *v, const sf_type *t)
{
    void *buf;
    size_t len;
    char *err = NULL;
    if (sf_value_to_msgpack(v, t, &buf, &len, &err) != 0) {
        failf(r, name, "encode: %s", err);
        free(err);
        return;
    }
    char *h = tohex(buf, len);
    char *js = sf_value_is_wholly_known(v) ? sf_value_to_json(v, t) : NULL;
    fprintf(r->out, "%s\t%s\t%s\t%s\n", name, type_json, h, js ? js : "-");
    free(js);
    free(h);
    free(buf);
}

/* v's JSON (if wholly known) must decode back to v; so must expect_json. */
static void check_json(run *r, const char *name, const sf_type *t, const sf_value *v, const char *expect_json)
{
    char *err = NULL;
    sf_value *j = NULL;
    if (strcmp(expect_json, "-") != 0) {
        if (sf_value_from_json(expect_json, strlen(expect_json), t, false, &j, &err) != 0)
            failf(r, name, "go-cty JSON %s does not decode: %s", expect_json, err);
        else if (!sf_value_equal(j, v)) failf(r, name, "go-cty JSON %s decodes to a different value", expect_json);
        sf_value_free(j);
        free(err);
        err = NULL;
    }
    if (!sf_value_is_wholly_known(v)) return;
    char *mine = sf_value_to_json(v, t);
    if (!mine) {
        failf(r, name, "no JSON");
        return;
    }
    if (sf_value_from_json(mine, strlen(mine), t, false, &j, &err) != 0)
        failf(r, name, "own JSON %s does not decode: %s", mine, err);
    else if (!sf_value_equal(j, v)) failf(r, name, "own JSON %s decodes to a different value", mine);
    sf_value_free(j);
    free(err);
    free(mine);
}

/* The value must encode to expect_hex, and those bytes decode to it. */
static void check_encoding(run *r, const char *name, const sf_type *t, const sf_value *v, const char *expect_hex)
{
    void *buf = NULL;
    size_t len;
    char *err = NULL;
    if (sf_value_conforms(v, t, &err) != 0) {
        failf(r, name, "does not conform: %s", err);
        free(err);
        return;
    }
    if (sf_value_to_msgpack(v, t, &buf, &len, &err) != 0) {
        failf(r, name, "encode: %s", err);
        free(err);
        return;
    }
    char *h = tohex(buf, len);
    if (strcmp(h, expect_hex) != 0) failf(r, name, "encoded\n  %s\n want\n  %s", h, expect_hex);
    free(h);
    sf_value *back = NULL;
    if (sf_value_from_msgpack(buf, len, t, &back, &err) != 0) failf(r, name, "own encoding does not decode: %s", err);
    else if (!sf_value_equal(back, v)) failf(r, name, "own encoding decodes to a different value");
    sf_value_free(back);
    free(err);
    free(buf);
}

static void run_case(run *r, char **f)
{
    const char *kind = f[0], *name = f[1], *type_json = f[2], *in = f[3], *out = f[4], *js = f[5];
    char *err = NULL;
    sf_type *t = sf_type_from_json(type_json, strlen(type_json), &err);
    if (!t) {
        failf(r, name, "type %s: %s", type_json, err);
        free(err);
        return;
    }
    char *tj = sf_type_to_json(t);
    if (strcmp(tj, type_json) != 0) failf(r, name, "type JSON round trip: %s, want %s", tj, type_json);
    free(tj);
    r->cases++;
    sf_value *v = NULL;
    bool reject = strstr(kind, "-reject") != NULL;
    int rc;
    if (strncmp(kind, "mp", 2) == 0) {
        size_t n;
        unsigned char *b = unhex(in, &n);
        rc = sf_value_from_msgpack(b, n, t, &v, &err);
        free(b);
    } else {
        rc = sf_value_from_json(in, strlen(in), t, false, &v, &err);
    }
    if (reject) {
        if (rc == 0) failf(r, name, "accepted input go-cty rejects");
        else if (!err || !*err) failf(r, name, "rejected without a message");
        else if (getenv("SF_GOLDEN_VERBOSE")) fprintf(stderr, "ok %s: %s\n", name, err);
    } else if (rc != 0) {
        failf(r, name, "decode: %s", err);
    } else {
        check_encoding(r, name, t, v, out);
        check_json(r, name, t, v, js);
        emit(r, name, type_json, v, t);
    }
    if (rc != 0 && v) failf(r, name, "*out set on failure");
    sf_value_free(v);
    free(err);
    sf_type_free(t);
}

/* ---- Values built in C: the Go side knows what each must be ----------- */

static sf_value *obj2(const char *k1, sf_value *v1, const char *k2, sf_value *v2)
{
    sf_value *o = sf_value_object();
    if (k1) sf_value_put(o, k1, v1);
    if (k2) sf_value_put(o, k2, v2);
    return o;
}

static sf_value *strset(int n, ...)
{
    sf_value *s = sf_value_set();
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) sf_value_append(s, sf_value_string(va_arg(ap, const char *)));
    va_end(ap);
    return s;
}

static sf_value *num(const char *text)
{
    sf_value *v = sf_value_number_text(text, NULL);
    assert_non_null(v);
    return v;
}

static void emit_built(run *r)
{
    static const char *objT = "[\"object\",{\"name\":\"string\",\"size\":\"number\",\"tags\":[\"set\",\"string\"]}]";
    struct {
        const char *name, *type;
        sf_value *v;
    } c[16];
    int n = 0;
#define ADD(N, T, V) (c[n].name = (N), c[n].type = (T), c[n].v = (V), n++)
    ADD("c_int", "\"number\"", sf_value_int(-42));
    ADD("c_int64_min", "\"number\"", sf_value_int(INT64_MIN));
    ADD("c_double_tenth", "\"number\"", sf_value_double(0.1));
    ADD("c_double_half", "\"number\"", sf_value_double(0.5));
    ADD("c_double_big", "\"number\"", sf_value_double(1e300));
    ADD("c_text_1e400", "\"number\"", num("1e400"));
    ADD("c_text_frac", "\"number\"", num("-1.25e-4"));
    ADD("c_set_unsorted", "[\"set\",\"string\"]", strset(4, "c", "a", "b", "a"));
    sf_value *set = sf_value_set();
    sf_value *o1 = obj2("name", sf_value_string("b"), "size", sf_value_int(2));
    sf_value_put(o1, "tags", sf_value_set());
    sf_value *o2 = obj2("name", sf_value_string("a"), "size", sf_value_int(10));
    sf_value_put(o2, "tags", strset(2, "y", "x"));
    sf_value_append(set, o1);
    sf_value_append(set, o2);
    ADD("c_set_objects",
        "[\"set\",[\"object\",{\"name\":\"string\",\"size\":\"number\",\"tags\":[\"set\",\"string\"]}]]", set);
    ADD("c_object_partial", objT, obj2("name", sf_value_string("only"), NULL, NULL));
    sf_value *u = sf_value_unknown();
    sf_refinements *rf = sf_value_refine(u);
    rf->not_null = true;
    rf->string_prefix = strdup("sf-");
    ADD("c_refined", "\"string\"", u);
    u = sf_value_unknown();
    rf = sf_value_refine(u);
    rf->not_null = true;
    rf->number_lower = strdup("1");
    rf->number_lower_incl = true;
    rf->number_upper = strdup("2.5");
    ADD("c_refined_number", "\"number\"", u);
    u = sf_value_unknown();
    rf = sf_value_refine(u);
    rf->has_length_lower = true;
    rf->length_lower = 3;
    ADD("c_refined_list", "[\"list\",\"string\"]", u);
    sf_value *tup = sf_value_tuple();
    sf_value_append(tup, sf_value_int(1));
    sf_value_append(tup, sf_value_bool(true));
    ADD("c_dyn_implied", "\"dynamic\"", obj2("a", sf_value_string("x"), "b", tup));
    ADD("c_unicode", "\"string\"",
        sf_value_string("\xc3\xa7"
                        "a va? \xf0\x9f\x8e\x89"));
#undef ADD
    for (int i = 0; i < n; i++) {
        sf_type *t = sf_type_from_json(c[i].type, strlen(c[i].type), NULL);
        assert_non_null(t);
        emit(r, c[i].name, c[i].type, c[i].v, t);
        sf_type_free(t);
        sf_value_free(c[i].v);
    }
}

/* ---- Tests ------------------------------------------------------------ */

static void test_golden_cases(void **state)
{
    run *r = *state;
    char *src = source_dir();
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/golden/cty_golden.txt", src);
    free(src);
    char *text = read_file(path);
    if (!text) fail_msg("cannot read %s", path);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#') continue;
        char *f[6] = {0};
        int nf = 0;
        for (char *p = line; nf < 6; nf++) {
            f[nf] = p;
            char *tab = strchr(p, '\t');
            if (!tab) {
                nf++;
                break;
            }
            *tab = '\0';
            p = tab + 1;
        }
        if (nf != 6) fail_msg("malformed golden line: %s", line);
        run_case(r, f);
    }
    free(text);
    fprintf(stderr, "golden: %d cases, %d failures\n", r->cases, r->failures);
    assert_true(r->cases >= 200);
    assert_int_equal(r->failures, 0);
}

static void test_go_verifies_c_encodings(void **state)
{
    run *r = *state;
    emit_built(r);
    fflush(r->out);
    assert_int_equal(r->failures, 0);
    if (system("command -v go >/dev/null 2>&1") != 0) {
        fprintf(stderr, "SKIP: go is not on PATH; C encodings not checked by go-cty\n");
        skip();
    }
    char *src = source_dir(), *bin = binary_dir();
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cd '%s/tests/golden' && go build -o '%s/value_golden/ctygolden' . 2>&1", src, bin);
    int rc = system(cmd);
    if (rc == 0) {
        snprintf(cmd, sizeof cmd, "'%s/value_golden/ctygolden' verify '%s/value_golden/c_encoded.txt'", bin, bin);
        rc = system(cmd);
    }
    free(src);
    free(bin);
    if (rc != 0) fail_msg("go-cty rejected the C encodings, or the oracle did not build (%d): %s", rc, cmd);
}

static int setup(void **state)
{
    run *r = calloc(1, sizeof *r);
    if (!r) return -1;
    char *bin = binary_dir();
    char path[4096];
    snprintf(path, sizeof path, "%s/value_golden", bin);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/value_golden/c_encoded.txt", bin);
    free(bin);
    r->out = fopen(path, "w");
    if (!r->out) {
        free(r);
        return -1;
    }
    fprintf(r->out, "# written by test_value_golden: name, type, msgpack hex, JSON\n");
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    run *r = *state;
    fclose(r->out);
    free(r);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_cases),
        cmocka_unit_test(test_go_verifies_c_encodings),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
