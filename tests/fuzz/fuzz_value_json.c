/* fuzz_value_json.c — libFuzzer target for the JSON value decoder
 * (provider/value_json.c, provider/type.c).
 *
 * Terraform hands the provider JSON in DynamicValue.json and in
 * UpgradeResourceState's RawState.json (provider/rpc_resource.c decodes the
 * latter with ignore_extra: attributes a newer schema dropped), and type
 * JSON inside dynamic values.  The input is decoded against a few fixed
 * types (dynamic, objects with nested lists, maps and sets), both ways; what
 * decodes must conform, encode to msgpack as UpgradeResourceState answers,
 * decode back to an equal value, and print as JSON that decodes to the same
 * value again.  The input is also read as a type.  Any violation aborts;
 * ASan/UBSan catch the rest.
 * Seeds: tests/fuzz/corpus/fuzz_value_json/ (golden JSON values, states).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/value.h"

static const char *const TYPES[] = {
    "\"dynamic\"",
    "[\"list\",\"string\"]",
    "[\"map\",[\"tuple\",[\"number\",\"bool\",\"dynamic\"]]]",
    "[\"set\",[\"object\",{\"n\":\"number\",\"s\":\"string\",\"l\":[\"list\",\"number\"]}]]",
    "[\"object\",{\"id\":\"string\",\"count\":\"number\",\"on\":\"bool\",\"tags\":[\"set\",\"string\"],"
    "\"labels\":[\"map\",\"string\"],\"extra\":\"dynamic\",\"nested\":[\"list\",[\"object\",{\"a\":\"number\","
    "\"b\":[\"set\",\"number\"]}]]},[\"extra\"]]",
    /* a resource's state: nested blocks as lists/sets of objects, maps of strings */
    "[\"object\",{\"id\":\"string\",\"name\":\"string\",\"engine\":\"string\",\"cluster\":[\"list\",[\"object\","
    "{\"workers\":\"number\",\"conf\":[\"map\",\"string\"]}]],\"stage\":[\"list\",[\"object\",{\"name\":\"string\","
    "\"script\":\"string\",\"args\":[\"list\",\"string\"],\"depends_on\":[\"set\",\"string\"]}]],"
    "\"metrics\":[\"map\",\"number\"],\"outputs\":\"dynamic\"}]",
};

static void check(int ok, const char *what, const char *type)
{
    if (!ok) {
        fprintf(stderr, "fuzz_value_json: %s (type %s)\n", what, type);
        abort();
    }
}

/* v decoded from JSON as t: what UpgradeResourceState does with it next. */
static void check_decoded(const sf_value *v, const sf_type *t, const char *tj)
{
    char *err = NULL;
    check(sf_value_conforms(v, t, &err) == 0, "decoded value does not conform", tj);
    void *b = NULL;
    size_t n;
    check(sf_value_to_msgpack(v, t, &b, &n, &err) == 0, "decoded value does not encode", tj);
    sf_value *v2 = NULL;
    check(sf_value_from_msgpack(b, n, t, &v2, &err) == 0, "its msgpack does not decode", tj);
    check(sf_value_equal(v, v2), "msgpack round trip changed the value", tj);
    char *js = sf_value_to_json(v, t);
    check(js != NULL, "no JSON", tj);
    sf_value *vj = NULL;
    check(sf_value_from_json(js, strlen(js), t, false, &vj, &err) == 0, "its JSON does not decode", tj);
    check(sf_value_equal(v, vj), "JSON round trip changed the value", tj);
    free(js);
    sf_value_free(vj);
    sf_value_free(v2);
    free(b);
}

static void as_type(const uint8_t *data, size_t size)
{
    char *err = NULL;
    sf_type *t = sf_type_from_json((const char *)data, size, &err);
    if (!t) {
        check(err && *err, "type refused without a reason", "(input)");
        free(err);
        return;
    }
    char *tj = sf_type_to_json(t);
    check(tj != NULL, "type does not print", "(input)");
    sf_type *t2 = sf_type_from_json(tj, strlen(tj), NULL);
    check(t2 != NULL, "printed type does not parse", tj);
    char *tj2 = sf_type_to_json(t2);
    check(tj2 && strcmp(tj, tj2) == 0, "type JSON is not stable", tj);
    free(tj2);
    sf_type_free(t2);
    free(tj);
    sf_type_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < sizeof TYPES / sizeof *TYPES; i++) {
        sf_type *t = sf_type_from_json(TYPES[i], strlen(TYPES[i]), NULL);
        check(t != NULL, "bad fuzz type", TYPES[i]);
        for (int extra = 0; extra < 2; extra++) {
            sf_value *v = NULL;
            char *err = NULL;
            if (sf_value_from_json((const char *)data, size, t, extra, &v, &err) == 0) {
                check(err == NULL && v != NULL, "success with an error or no value", TYPES[i]);
                check_decoded(v, t, TYPES[i]);
            } else {
                check(v == NULL && err != NULL && *err, "failure without a message", TYPES[i]);
            }
            sf_value_free(v);
            free(err);
        }
        sf_type_free(t);
    }
    as_type(data, size);
    return 0;
}
