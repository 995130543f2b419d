/* fuzz_value_msgpack.c — libFuzzer target for the value codecs (provider/value*.c).
 *
 * Every RPC hands attacker-shaped bytes to sf_value_from_msgpack, so: the
 * input is decoded against a few fixed types (dynamic among them); whatever
 * decodes must conform to its type, encode, decode back to an equal value
 * and encode to the same bytes again.  The same bytes are also tried as
 * state JSON.  Any violation aborts; ASan/UBSan catch the rest.
 * Seeds: bench/fuzz feeds the encodings from tests/golden/cty_golden.txt.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/value.h"

static const char *const TYPES[] = {
    "\"dynamic\"",
    "\"number\"",
    "\"string\"",
    "[\"list\",\"string\"]",
    "[\"map\",[\"tuple\",[\"number\",\"bool\",\"dynamic\"]]]",
    "[\"set\",[\"object\",{\"n\":\"number\",\"s\":\"string\",\"l\":[\"list\",\"number\"]}]]",
    "[\"object\",{\"id\":\"string\",\"count\":\"number\",\"on\":\"bool\",\"tags\":[\"set\",\"string\"],"
    "\"labels\":[\"map\",\"string\"],\"extra\":\"dynamic\",\"nested\":[\"list\",[\"object\",{\"a\":\"number\","
    "\"b\":[\"set\",\"number\"]}]]},[\"extra\"]]",
};

static void check(int ok, const char *what, const char *type)
{
    if (!ok) {
        fprintf(stderr, "fuzz_value_msgpack: %s (type %s)\n", what, type);
        abort();
    }
}

/* v decoded from some input as t: the invariants every decoded value keeps. */
static void check_decoded(const sf_value *v, const sf_type *t, const char *tj)
{
    char *err = NULL;
    check(sf_value_conforms(v, t, &err) == 0, "decoded value does not conform", tj);
    void *b1 = NULL, *b2 = NULL;
    size_t n1, n2;
    check(sf_value_to_msgpack(v, t, &b1, &n1, &err) == 0, "decoded value does not encode", tj);
    sf_value *v2 = NULL;
    check(sf_value_from_msgpack(b1, n1, t, &v2, &err) == 0, "own encoding does not decode", tj);
    check(sf_value_equal(v, v2), "round trip changed the value", tj);
    check(sf_value_to_msgpack(v2, t, &b2, &n2, &err) == 0, "re-decoded value does not encode", tj);
    check(n1 == n2 && memcmp(b1, b2, n1) == 0, "encoding is not stable", tj);
    char *js = sf_value_to_json(v, t);
    check(js != NULL, "no JSON", tj);
    sf_value *vj = NULL;
    if (sf_value_from_json(js, strlen(js), t, false, &vj, &err) != 0) free(err);
    free(js);
    sf_value_free(vj);
    sf_value_free(v2);
    free(b1);
    free(b2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < sizeof TYPES / sizeof *TYPES; i++) {
        sf_type *t = sf_type_from_json(TYPES[i], strlen(TYPES[i]), NULL);
        check(t != NULL, "bad fuzz type", TYPES[i]);
        sf_value *v = NULL;
        char *err = NULL;
        if (sf_value_from_msgpack(data, size, t, &v, &err) == 0) {
            check(err == NULL && v != NULL, "success with an error or no value", TYPES[i]);
            check_decoded(v, t, TYPES[i]);
        } else {
            check(v == NULL && err != NULL && *err, "failure without a message", TYPES[i]);
        }
        sf_value_free(v);
        free(err);
        err = NULL;
        v = NULL;
        if (sf_value_from_json((const char *)data, size, t, false, &v, &err) == 0) {
            check(err == NULL && v != NULL, "JSON success with an error or no value", TYPES[i]);
            check_decoded(v, t, TYPES[i]);
        } else {
            check(v == NULL && err != NULL && *err, "JSON failure without a message", TYPES[i]);
        }
        sf_value_free(v);
        free(err);
        sf_type_free(t);
    }
    return 0;
}
