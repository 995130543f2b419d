/* value_json.c — values from Terraform's state JSON, and to JSON for logs.
 *
 * Terraform hands the provider stored state as JSON (RawState.json in
 * UpgradeResourceState, DynamicValue.json), decoded as go-cty's cty/json
 * does: numbers of any size and precision, dynamic values as
 * {"value": ..., "type": ...}, absent object attributes as null.
 *
 * cJSON parses the text but keeps numbers only as doubles, which would turn
 * 123456789012345678901234567890 into 1.2345678901234568e+29.  So before
 * parsing, scan_numbers() collects the text of every number token in
 * document order; after parsing, the tree is walked in the same order and
 * each number node's valueint is set to the index of its text.
 */
#include "base/str.h"
#include "provider/value_internal.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Number texts ----------------------------------------------------- */

typedef struct {
    const char **at; /* start of each number token in the input */
    size_t *len;
    size_t n, cap;
} numbers;

static void numbers_free(numbers *nums)
{
    free(nums->at);
    free(nums->len);
}

static bool number_char(char c)
{
    return (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.' || c == 'e' || c == 'E';
}

/* Number tokens outside strings, as cJSON reads them (it copies exactly
 * these characters and fails unless strtod consumes them all). */
static int scan_numbers(const char *json, size_t len, numbers *nums, const char **why)
{
    for (size_t i = 0; i < len; i++) {
        char c = json[i];
        if (c == '"') {
            for (i++; i < len && json[i] != '"'; i++) {
                if (json[i] != '\\') continue;
                if (len - i >= 6 && json[i + 1] == 'u' && memcmp(json + i + 2, "0000", 4) == 0) {
                    *why = "strings with NUL characters (\\u0000) are not supported";
                    return -1;
                }
                i++;
            }
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t j = i;
            while (j < len && number_char(json[j])) j++;
            if (nums->n == nums->cap) {
                nums->cap = nums->cap ? 2 * nums->cap : 16;
                nums->at = sfv_realloc(nums->at, nums->cap * sizeof *nums->at);
                nums->len = sfv_realloc(nums->len, nums->cap * sizeof *nums->len);
            }
            nums->at[nums->n] = json + i;
            nums->len[nums->n++] = j - i;
            i = j - 1;
        }
    }
    return 0;
}

/* Numbers each number node with its index in document order. */
static int tag_numbers(cJSON *j, size_t *next, int depth)
{
    if (depth > 2 * SFV_MAX_DEPTH + 2) return -1;
    for (; j; j = j->next) {
        if (cJSON_IsNumber(j)) {
            if (*next > (size_t)INT32_MAX) return -1;
            j->valueint = (int)(*next)++;
        }
        if (j->child && tag_numbers(j->child, next, depth + 1)) return -1;
    }
    return 0;
}

static bool json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Parses json[0..len) completely; NULL and *why on error. */
static cJSON *parse(const char *json, size_t len, numbers *nums, const char **why)
{
    if (scan_numbers(json, len, nums, why)) return NULL;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        *why = "malformed JSON";
        return NULL;
    }
    size_t off = (size_t)(end - json), tagged = 0;
    while (off < len && json_space(json[off])) off++;
    if (off != len) *why = "trailing data after the JSON value";
    else if (tag_numbers(root, &tagged, 0)) *why = "JSON nested too deeply";
    else if (tagged != nums->n) *why = "malformed JSON number";
    else return root;
    cJSON_Delete(root);
    return NULL;
}

/* ---- Decoding --------------------------------------------------------- */

typedef struct {
    sfv_buf path;
    char **err;
    bool ignore_extra;
    const numbers *nums;
} decoder;

static int decode(decoder *d, const cJSON *j, const sf_type *t, int depth, sf_value **out);

static const char *json_name(const cJSON *j)
{
    if (cJSON_IsBool(j)) return "bool";
    if (cJSON_IsNumber(j)) return "number";
    if (cJSON_IsString(j)) return "string";
    if (cJSON_IsArray(j)) return "array";
    if (cJSON_IsObject(j)) return "object";
    return "null";
}

static int expected(decoder *d, const char *what, const cJSON *j)
{
    return sfv_fail(d->err, &d->path, "expected %s, got JSON %s", what, json_name(j));
}

static sf_value *raw_number_string(decoder *d, const cJSON *j)
{
    size_t i = (size_t)j->valueint;
    return sf_value_stringn(d->nums->at[i], d->nums->len[i]);
}

static int decode_number(decoder *d, const cJSON *j, sf_value **out)
{
    const char *p, *why = "not a number";
    size_t n;
    if (cJSON_IsNumber(j)) {
        p = d->nums->at[j->valueint];
        n = d->nums->len[j->valueint];
    } else if (cJSON_IsString(j)) {
        p = j->valuestring;
        n = strlen(p);
    } else {
        return expected(d, "number", j);
    }
    char *c = sfv_num_canon(p, n, &why);
    if (!c) return sfv_fail(d->err, &d->path, "invalid number \"%.*s\": %s", n > 64 ? 64 : (int)n, p, why);
    *out = sf_value_number_text(c, NULL);
    free(c);
    return 0;
}

/* go-cty converts "true"/"1" and "false"/"0" strings to bools. */
static int decode_bool(decoder *d, const cJSON *j, sf_value **out)
{
    if (cJSON_IsBool(j)) {
        *out = sf_value_bool(cJSON_IsTrue(j));
        return 0;
    }
    if (cJSON_IsString(j)) {
        const char *s = j->valuestring;
        if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0) *out = sf_value_bool(true);
        else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0) *out = sf_value_bool(false);
        if (*out) return 0;
    }
    return expected(d, "bool", j);
}

/* s with every byte that is not valid UTF-8 replaced by U+FFFD, as Go's
 * encoding/json does both ways (so a state decodes to what Terraform read,
 * and prints back to the same value). */
static sfv_buf utf8_replaced(const char *s, size_t n)
{
    sfv_buf b = {0};
    const unsigned char *p = (const unsigned char *)s;
    uint32_t cp;
    while (n) {
        size_t k = sf_utf8_next(p, n, &cp);
        if (k) sfv_buf_put(&b, p, k);
        else sfv_buf_puts(&b, "\xef\xbf\xbd");
        k = k ? k : 1;
        p += k;
        n -= k;
    }
    return b;
}

/* A JSON string's text (NUL-free: scan_numbers refused \u0000) as a string
 * value. */
static sf_value *json_string(const char *s)
{
    size_t n = strlen(s);
    if (sfv_utf8_valid(s, n)) return sf_value_stringn(s, n);
    sfv_buf b = utf8_replaced(s, n);
    sf_value *v = sf_value_stringn(b.p ? b.p : "", b.len);
    sfv_buf_free(&b);
    return v;
}

/* Strings; go-cty also takes a number (its text) or a bool. */
static int decode_string(decoder *d, const cJSON *j, sf_value **out)
{
    if (cJSON_IsString(j)) *out = json_string(j->valuestring);
    else if (cJSON_IsNumber(j)) *out = raw_number_string(d, j);
    else if (cJSON_IsBool(j)) *out = sf_value_string(cJSON_IsTrue(j) ? "true" : "false");
    else return expected(d, "string", j);
    return 0;
}

static int decode_dynamic(decoder *d, const cJSON *j, int depth, sf_value **out)
{
    if (!cJSON_IsObject(j)) return expected(d, "a {\"value\", \"type\"} object for a dynamic value", j);
    const cJSON *val = NULL, *type = NULL, *c;
    cJSON_ArrayForEach(c, j) {
        if (strcmp(c->string, "value") == 0) val = c;
        else if (strcmp(c->string, "type") == 0) type = c;
        else return sfv_fail(d->err, &d->path, "invalid key \"%s\" in dynamically-typed value", c->string);
    }
    if (!type) return sfv_fail(d->err, &d->path, "missing type in dynamically-typed value");
    if (!val) return sfv_fail(d->err, &d->path, "missing value in dynamically-typed value");
    char *terr = NULL;
    sf_type *t = sfv_type_from_cjson(type, depth + 1, &terr);
    if (!t) {
        sfv_fail(d->err, &d->path, "%s", terr ? terr : "invalid type");
        free(terr);
        return -1;
    }
    if (decode(d, val, t, depth + 1, out)) {
        sf_type_free(t);
        return -1;
    }
    if (t->kind == SF_TYPE_DYNAMIC || (*out)->dyn_type) sf_type_free(t);
    else (*out)->dyn_type = t;
    return 0;
}

static int decode_seq(decoder *d, const cJSON *j, const sf_type *t, int depth, sf_value **out)
{
    const char *what = t->kind == SF_TYPE_LIST ? "a list" : t->kind == SF_TYPE_SET ? "a set" : "a tuple";
    if (!cJSON_IsArray(j)) return expected(d, what, j);
    size_t n = (size_t)cJSON_GetArraySize(j);
    if (t->kind == SF_TYPE_TUPLE && n != t->n)
        return sfv_fail(d->err, &d->path, "expected a tuple of %zu elements, got %zu", t->n, n);
    sf_value *v = t->kind == SF_TYPE_LIST  ? sf_value_list()
                  : t->kind == SF_TYPE_SET ? sf_value_set()
                                           : sf_value_tuple();
    v->elems = sfv_calloc(n, sizeof *v->elems);
    size_t i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, j) {
        size_t mark = d->path.len;
        sfv_path_index(&d->path, i);
        sf_value *e;
        int rc = decode(d, c, t->kind == SF_TYPE_TUPLE ? t->types[i] : t->elem, depth + 1, &e);
        sfv_path_pop(&d->path, mark);
        if (rc) {
            sf_value_free(v);
            return -1;
        }
        v->elems[v->n++] = e;
        i++;
    }
    if (v->kind == SF_VAL_SET) sfv_set_dedupe(v);
    *out = v;
    return 0;
}

static int decode_map(decoder *d, const cJSON *j, const sf_type *t, int depth, sf_value **out)
{
    bool object = t->kind == SF_TYPE_OBJECT;
    if (!cJSON_IsObject(j)) return expected(d, object ? "an object" : "a map", j);
    sf_value *v = object ? sf_value_object() : sf_value_map();
    const cJSON *c;
    cJSON_ArrayForEach(c, j) {
        size_t mark = d->path.len;
        if (object) sfv_path_attr(&d->path, c->string);
        else sfv_path_key(&d->path, c->string);
        const sf_type *et = object ? sf_type_attr(t, c->string) : t->elem;
        sf_value *e = NULL;
        int rc = 0;
        if (et) rc = decode(d, c, et, depth + 1, &e);
        else if (!d->ignore_extra) rc = sfv_fail(d->err, &d->path, "unsupported attribute");
        sfv_path_pop(&d->path, mark);
        if (rc) {
            sf_value_free(v);
            return -1;
        }
        if (et && (object || sfv_utf8_valid(c->string, strlen(c->string)))) {
            sf_value_put(v, c->string, e);
        } else if (et) { /* a map key, as Go reads it */
            sfv_buf key = utf8_replaced(c->string, strlen(c->string));
            sf_value_put(v, key.p ? key.p : "", e);
            sfv_buf_free(&key);
        }
    }
    for (size_t i = 0; object && i < t->n; i++) /* absent attributes are null */
        if (!sf_value_get(v, t->names[i])) sf_value_put(v, t->names[i], sf_value_null());
    *out = v;
    return 0;
}

static int decode(decoder *d, const cJSON *j, const sf_type *t, int depth, sf_value **out)
{
    *out = NULL;
    if (depth > SFV_MAX_DEPTH) return sfv_fail(d->err, &d->path, "nested more than %d levels deep", SFV_MAX_DEPTH);
    if (cJSON_IsNull(j)) {
        *out = sf_value_null();
        return 0;
    }
    switch (t->kind) {
    case SF_TYPE_DYNAMIC: return decode_dynamic(d, j, depth, out);
    case SF_TYPE_STRING: return decode_string(d, j, out);
    case SF_TYPE_NUMBER: return decode_number(d, j, out);
    case SF_TYPE_BOOL: return decode_bool(d, j, out);
    case SF_TYPE_LIST:
    case SF_TYPE_SET:
    case SF_TYPE_TUPLE: return decode_seq(d, j, t, depth, out);
    case SF_TYPE_MAP:
    case SF_TYPE_OBJECT: return decode_map(d, j, t, depth, out);
    }
    return sfv_fail(d->err, &d->path, "unsupported type");
}

int sf_value_from_json(const char *json, size_t len, const sf_type *t, bool ignore_extra, sf_value **out, char **err)
{
    *out = NULL;
    if (err) *err = NULL;
    if (!t) return sfv_fail(err, NULL, "no type");
    if (!json) return sfv_fail(err, NULL, "no JSON");
    numbers nums = {0};
    const char *why = NULL;
    cJSON *root = parse(json, len, &nums, &why);
    if (!root) {
        numbers_free(&nums);
        return sfv_fail(err, NULL, "%s", why);
    }
    decoder d = {{0}, err, ignore_extra, &nums};
    int rc = decode(&d, root, t, 0, out);
    sfv_buf_free(&d.path);
    cJSON_Delete(root);
    numbers_free(&nums);
    return rc;
}

/* ---- Encoding (for logs) ---------------------------------------------- */

static cJSON *encode(const sf_value *v, const sf_type *t, int depth);

/* A JSON string literal written by hand, for what cJSON cannot carry:
 * NUL bytes. */
static cJSON *raw_string(const char *s, size_t n)
{
    sfv_buf b = {0};
    sfv_buf_putc(&b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = c == '\n'   ? "\\n"
                          : c == '\r' ? "\\r"
                          : c == '\t' ? "\\t"
                          : c == '\b' ? "\\b"
                          : c == '\f' ? "\\f"
                                      : NULL;
        if (c == '"' || c == '\\') sfv_buf_printf(&b, "\\%c", c);
        else if (esc) sfv_buf_puts(&b, esc);
        else if (c < 0x20) sfv_buf_printf(&b, "\\u%04x", c);
        else sfv_buf_putc(&b, (char)c);
    }
    sfv_buf_putc(&b, '"');
    cJSON *j = cJSON_CreateRaw(b.p);
    sfv_buf_free(&b);
    return j;
}

/* Strings as JSON: invalid UTF-8 becomes U+FFFD, as Go's encoder does. */
static cJSON *string_json(const char *s, size_t n)
{
    if (sfv_utf8_valid(s, n)) return memchr(s, '\0', n) ? raw_string(s, n) : cJSON_CreateString(s);
    sfv_buf b = utf8_replaced(s, n);
    cJSON *j = raw_string(b.p ? b.p : "", b.len);
    sfv_buf_free(&b);
    return j;
}

static cJSON *encode_dynamic(const sf_value *v, int depth)
{
    static const sf_type dyn = {.kind = SF_TYPE_DYNAMIC};
    const sf_type *t = sfv_slot_type(v, &dyn);
    sf_type *implied = NULL;
    if (!t && !sf_value_is_null(v) && v->kind != SF_VAL_UNKNOWN) t = implied = sf_value_implied_type(v);
    if (!t) return encode(v, NULL, depth + 1);
    char *tj = sf_type_to_json(t);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "value", encode(v, t, depth + 1));
    cJSON_AddItemToObject(o, "type", tj ? cJSON_CreateRaw(tj) : cJSON_CreateNull());
    free(tj);
    sf_type_free(implied);
    return o;
}

static const sf_type *elem_type(const sf_type *t, sf_type_kind want, size_t i)
{
    if (!t || t->kind != want) return NULL;
    if (want == SF_TYPE_TUPLE) return i < t->n ? t->types[i] : NULL;
    return t->elem;
}

static cJSON *encode_object(const sf_value *v, const sf_type *t, int depth)
{
    cJSON *o = cJSON_CreateObject();
    if (t && t->kind == SF_TYPE_OBJECT) {
        for (size_t i = 0; i < t->n; i++)
            cJSON_AddItemToObject(o, t->names[i], encode(sfv_attr(v, t->names[i]), t->types[i], depth + 1));
    }
    for (size_t i = 0; i < v->n; i++) /* attributes the type lacks, if any */
        if (sf_type_attr_index(t, v->keys[i]) < 0)
            cJSON_AddItemToObject(o, v->keys[i], encode(v->elems[i], NULL, depth + 1));
    return o;
}

static cJSON *encode(const sf_value *v, const sf_type *t, int depth)
{
    if (depth > SFV_MAX_DEPTH) return cJSON_CreateString("(nested too deeply)");
    if (t && t->kind == SF_TYPE_DYNAMIC) return encode_dynamic(v, depth);
    if (sf_value_is_null(v)) return cJSON_CreateNull();
    cJSON *a;
    switch (v->kind) {
    case SF_VAL_NULL: return cJSON_CreateNull();
    case SF_VAL_UNKNOWN: return cJSON_CreateString("(unknown)");
    case SF_VAL_STRING: return string_json(v->str ? v->str : "", v->str ? v->len : 0);
    case SF_VAL_BOOL: return cJSON_CreateBool(v->boolean);
    case SF_VAL_NUMBER: {
        const char *why;
        char *c = v->str ? sfv_num_canon(v->str, strlen(v->str), &why) : NULL;
        a = c ? cJSON_CreateRaw(c) : string_json(v->str ? v->str : "", v->str ? strlen(v->str) : 0);
        free(c);
        return a;
    }
    case SF_VAL_LIST:
    case SF_VAL_TUPLE:
        a = cJSON_CreateArray();
        for (size_t i = 0; i < v->n; i++)
            cJSON_AddItemToArray(a, encode(v->elems[i],
                                           elem_type(t, v->kind == SF_VAL_LIST ? SF_TYPE_LIST : SF_TYPE_TUPLE, i),
                                           depth + 1));
        return a;
    case SF_VAL_SET: {
        const sf_type *et = elem_type(t, SF_TYPE_SET, 0);
        const sf_value **order = sfv_set_order(v, et);
        a = cJSON_CreateArray();
        for (size_t i = 0; i < v->n; i++) cJSON_AddItemToArray(a, encode(order[i], et, depth + 1));
        free(order);
        return a;
    }
    case SF_VAL_MAP:
        a = cJSON_CreateObject();
        for (size_t i = 0; i < v->n; i++)
            cJSON_AddItemToObject(a, v->keys[i], encode(v->elems[i], elem_type(t, SF_TYPE_MAP, 0), depth + 1));
        return a;
    case SF_VAL_OBJECT: return encode_object(v, t, depth);
    }
    return cJSON_CreateNull();
}

/* Compact JSON as go-cty writes it for known values (sets in go-cty's
 * order, object attributes sorted, dynamic values as {"value","type"});
 * unknowns print as "(unknown)".  Values that do not fit t are printed by
 * their own shape.  NULL only on OOM. */
char *sf_value_to_json(const sf_value *v, const sf_type *t)
{
    cJSON *j = encode(v, t, 0);
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!s) return NULL;
    char *out = sf_strdup(s);
    cJSON_free(s);
    return out;
}
