/* type.c — Terraform (go-cty) types: building, comparing, and their JSON syntax.
 *
 * Schemas declare attribute types in go-cty's compact JSON syntax, and a
 * dynamic value carries its type in the same syntax on the wire, so the text
 * written here must be byte-identical to go-cty's Type.MarshalJSON for the
 * msgpack encodings to match.
 */
#include "provider/value_internal.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

const char *sfv_type_name(sf_type_kind k)
{
    switch (k) {
    case SF_TYPE_DYNAMIC: return "dynamic";
    case SF_TYPE_STRING: return "string";
    case SF_TYPE_NUMBER: return "number";
    case SF_TYPE_BOOL: return "bool";
    case SF_TYPE_LIST: return "list";
    case SF_TYPE_SET: return "set";
    case SF_TYPE_MAP: return "map";
    case SF_TYPE_OBJECT: return "object";
    case SF_TYPE_TUPLE: return "tuple";
    }
    return "?";
}

static sf_type *type_new(sf_type_kind kind)
{
    sf_type *t = sfv_calloc(1, sizeof *t);
    t->kind = kind;
    return t;
}

sf_type *sf_type_primitive(sf_type_kind kind)
{
    assert(kind == SF_TYPE_DYNAMIC || kind == SF_TYPE_STRING || kind == SF_TYPE_NUMBER || kind == SF_TYPE_BOOL);
    return type_new(kind);
}

/* NULL (and owned_elem freed) when owned_elem is NULL or kind is not
 * LIST, SET or MAP. */
sf_type *sf_type_collection(sf_type_kind kind, sf_type *owned_elem)
{
    if (!owned_elem || (kind != SF_TYPE_LIST && kind != SF_TYPE_SET && kind != SF_TYPE_MAP)) {
        sf_type_free(owned_elem);
        return NULL;
    }
    sf_type *t = type_new(kind);
    t->elem = owned_elem;
    return t;
}

static void free_types(size_t n, sf_type **types)
{
    for (size_t i = 0; i < n; i++) sf_type_free(types[i]);
}

typedef struct {
    const char *name;
    sf_type *type;
    bool optional;
} attr_entry;

static int attr_entry_cmp(const void *a, const void *b)
{
    return strcmp(((const attr_entry *)a)->name, ((const attr_entry *)b)->name);
}

sf_type *sf_type_object(size_t n, const char *const *names, sf_type **owned_types)
{
    return sf_type_object_optional(n, names, owned_types, NULL);
}

/* As sf_type_object, with optional[i] marking attribute i optional
 * (optional may be NULL).  NULL (all types freed) on a duplicate or NULL
 * name or a NULL type. */
sf_type *sf_type_object_optional(size_t n, const char *const *names, sf_type **owned_types, const bool *optional)
{
    bool ok = true;
    for (size_t i = 0; i < n; i++)
        if (!names || !names[i] || !owned_types || !owned_types[i]) ok = false;
    if (!ok) {
        if (owned_types) free_types(n, owned_types);
        return NULL;
    }
    attr_entry *e = sfv_calloc(n, sizeof *e);
    bool any_optional = false;
    for (size_t i = 0; i < n; i++) {
        e[i].name = names[i];
        e[i].type = owned_types[i];
        e[i].optional = optional && optional[i];
        any_optional |= e[i].optional;
    }
    if (n > 1) qsort(e, n, sizeof *e, attr_entry_cmp);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(e[i - 1].name, e[i].name) == 0) {
            free(e);
            free_types(n, owned_types);
            return NULL;
        }
    }
    sf_type *t = type_new(SF_TYPE_OBJECT);
    t->n = n;
    t->names = sfv_calloc(n, sizeof *t->names);
    t->types = sfv_calloc(n, sizeof *t->types);
    if (any_optional) t->optional = sfv_calloc(n, sizeof *t->optional);
    for (size_t i = 0; i < n; i++) {
        t->names[i] = sf_strdup(e[i].name);
        t->types[i] = e[i].type;
        if (any_optional) t->optional[i] = e[i].optional;
    }
    free(e);
    return t;
}

/* NULL (all types freed) when one of the types is NULL. */
sf_type *sf_type_tuple(size_t n, sf_type **owned_types)
{
    for (size_t i = 0; i < n; i++) {
        if (!owned_types[i]) {
            free_types(n, owned_types);
            return NULL;
        }
    }
    sf_type *t = type_new(SF_TYPE_TUPLE);
    t->n = n;
    t->types = sfv_calloc(n, sizeof *t->types);
    for (size_t i = 0; i < n; i++) t->types[i] = owned_types[i];
    return t;
}

/* Deep copy; NULL for NULL. */
sf_type *sf_type_copy(const sf_type *t)
{
    if (!t) return NULL;
    sf_type *c = type_new(t->kind);
    c->elem = sf_type_copy(t->elem);
    c->n = t->n;
    if (t->names) {
        c->names = sfv_calloc(t->n, sizeof *c->names);
        for (size_t i = 0; i < t->n; i++) c->names[i] = sf_strdup(t->names[i]);
    }
    if (t->types) {
        c->types = sfv_calloc(t->n, sizeof *c->types);
        for (size_t i = 0; i < t->n; i++) c->types[i] = sf_type_copy(t->types[i]);
    }
    if (t->optional) {
        c->optional = sfv_calloc(t->n, sizeof *c->optional);
        memcpy(c->optional, t->optional, t->n * sizeof *c->optional);
    }
    return c;
}

void sf_type_free(sf_type *t)
{
    if (!t) return;
    sf_type_free(t->elem);
    for (size_t i = 0; t->names && i < t->n; i++) free(t->names[i]);
    for (size_t i = 0; t->types && i < t->n; i++) sf_type_free(t->types[i]);
    free(t->names);
    free(t->types);
    free(t->optional);
    free(t);
}

static bool optional_at(const sf_type *t, size_t i)
{
    return t->optional && t->optional[i];
}

/* Same type, optional-attribute flags included (as go-cty's Type.Equals). */
bool sf_type_equal(const sf_type *a, const sf_type *b)
{
    if (a == b) return true;
    if (!a || !b || a->kind != b->kind) return false;
    switch (a->kind) {
    case SF_TYPE_LIST:
    case SF_TYPE_SET:
    case SF_TYPE_MAP: return sf_type_equal(a->elem, b->elem);
    case SF_TYPE_OBJECT:
        if (a->n != b->n) return false;
        for (size_t i = 0; i < a->n; i++) {
            if (strcmp(a->names[i], b->names[i]) != 0) return false;
            if (optional_at(a, i) != optional_at(b, i)) return false;
            if (!sf_type_equal(a->types[i], b->types[i])) return false;
        }
        return true;
    case SF_TYPE_TUPLE:
        if (a->n != b->n) return false;
        for (size_t i = 0; i < a->n; i++)
            if (!sf_type_equal(a->types[i], b->types[i])) return false;
        return true;
    default: return true;
    }
}

long sf_type_attr_index(const sf_type *object, const char *name)
{
    if (!object || object->kind != SF_TYPE_OBJECT || !name) return -1;
    size_t lo = 0, hi = object->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, object->names[mid]);
        if (c == 0) return (long)mid;
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return -1;
}

const sf_type *sf_type_attr(const sf_type *object, const char *name)
{
    long i = sf_type_attr_index(object, name);
    return i < 0 ? NULL : object->types[i];
}

/* ---- JSON syntax ------------------------------------------------------ */

static sf_type *type_fail(char **err, const char *fmt, const char *arg)
{
    sfv_fail(err, NULL, fmt, arg);
    return NULL;
}

static sf_type *object_from_cjson(const cJSON *attrs, const cJSON *opts, int depth, char **err)
{
    if (!cJSON_IsObject(attrs)) return type_fail(err, "invalid type: %s", "object attributes must be a JSON object");
    if (opts && !cJSON_IsArray(opts))
        return type_fail(err, "invalid type: %s", "optional attributes must be a JSON array");
    size_t n = (size_t)cJSON_GetArraySize(attrs);
    const char **names = sfv_calloc(n, sizeof *names);
    sf_type **types = sfv_calloc(n, sizeof *types);
    bool *optional = sfv_calloc(n, sizeof *optional);
    sf_type *t = NULL;
    size_t i = 0;
    const cJSON *a;
    cJSON_ArrayForEach(a, attrs) {
        names[i] = a->string;
        types[i] = sfv_type_from_cjson(a, depth + 1, err);
        if (!types[i]) goto out;
        i++;
    }
    cJSON_ArrayForEach(a, opts) {
        if (!cJSON_IsString(a)) {
            type_fail(err, "invalid type: %s", "optional attribute names must be strings");
            goto out;
        }
        size_t k = 0;
        while (k < n && strcmp(names[k], a->valuestring) != 0) k++;
        if (k == n) {
            type_fail(err, "invalid type: optional attribute \"%s\" is not an attribute", a->valuestring);
            goto out;
        }
        optional[k] = true;
    }
    t = sf_type_object_optional(n, names, types, optional);
    i = 0; /* taken, even on failure */
    if (!t) type_fail(err, "invalid type: %s", "duplicate object attribute");
out:
    free_types(i, types);
    free(names);
    free(types);
    free(optional);
    return t;
}

static sf_type *tuple_from_cjson(const cJSON *elems, int depth, char **err)
{
    if (!cJSON_IsArray(elems)) return type_fail(err, "invalid type: %s", "tuple elements must be a JSON array");
    size_t n = (size_t)cJSON_GetArraySize(elems), i = 0;
    sf_type **types = sfv_calloc(n, sizeof *types);
    const cJSON *e;
    cJSON_ArrayForEach(e, elems) {
        types[i] = sfv_type_from_cjson(e, depth + 1, err);
        if (!types[i]) {
            free_types(i, types);
            free(types);
            return NULL;
        }
        i++;
    }
    sf_type *t = sf_type_tuple(n, types);
    free(types);
    return t;
}

sf_type *sfv_type_from_cjson(const cJSON *j, int depth, char **err)
{
    if (depth > SFV_MAX_DEPTH) return type_fail(err, "invalid type: %s", "nested too deeply");
    if (cJSON_IsString(j)) {
        const char *s = j->valuestring;
        if (strcmp(s, "string") == 0) return type_new(SF_TYPE_STRING);
        if (strcmp(s, "number") == 0) return type_new(SF_TYPE_NUMBER);
        if (strcmp(s, "bool") == 0) return type_new(SF_TYPE_BOOL);
        if (strcmp(s, "dynamic") == 0) return type_new(SF_TYPE_DYNAMIC);
        return type_fail(err, "invalid type: unknown primitive type \"%s\"", s);
    }
    if (!cJSON_IsArray(j)) return type_fail(err, "invalid type: %s", "expected a string or an array");
    int size = cJSON_GetArraySize(j);
    const cJSON *kind = cJSON_GetArrayItem(j, 0);
    if (!cJSON_IsString(kind)) return type_fail(err, "invalid type: %s", "expected a type kind name");
    const char *k = kind->valuestring;
    const cJSON *arg = kind->next;
    if (strcmp(k, "list") == 0 || strcmp(k, "set") == 0 || strcmp(k, "map") == 0) {
        if (size != 2) return type_fail(err, "invalid type: \"%s\" takes one element type", k);
        sf_type_kind ck = k[0] == 'l' ? SF_TYPE_LIST : k[0] == 's' ? SF_TYPE_SET : SF_TYPE_MAP;
        sf_type *elem = sfv_type_from_cjson(arg, depth + 1, err);
        return elem ? sf_type_collection(ck, elem) : NULL;
    }
    if (strcmp(k, "object") == 0) {
        if (size != 2 && size != 3)
            return type_fail(err, "invalid type: %s",
                             "\"object\" takes attributes and optionally a list of optional ones");
        return object_from_cjson(arg, size == 3 ? arg->next : NULL, depth, err);
    }
    if (strcmp(k, "tuple") == 0) {
        if (size != 2) return type_fail(err, "invalid type: %s", "\"tuple\" takes a list of element types");
        return tuple_from_cjson(arg, depth, err);
    }
    return type_fail(err, "invalid type: unknown type kind \"%s\"", k);
}

static bool json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

sf_type *sf_type_from_json(const char *json, size_t len, char **err)
{
    if (err) *err = NULL;
    if (!json) return type_fail(err, "invalid type: %s", "no JSON");
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!j) return type_fail(err, "invalid type: %s", "malformed JSON");
    size_t off = (size_t)(end - json);
    while (off < len && json_space(json[off])) off++;
    sf_type *t = NULL;
    if (off != len) type_fail(err, "invalid type: %s", "trailing data after the JSON");
    else t = sfv_type_from_cjson(j, 0, err);
    cJSON_Delete(j);
    return t;
}

static cJSON *type_to_cjson(const sf_type *t)
{
    cJSON *a;
    switch (t->kind) {
    case SF_TYPE_DYNAMIC:
    case SF_TYPE_STRING:
    case SF_TYPE_NUMBER:
    case SF_TYPE_BOOL: return cJSON_CreateString(sfv_type_name(t->kind));
    case SF_TYPE_LIST:
    case SF_TYPE_SET:
    case SF_TYPE_MAP:
        a = cJSON_CreateArray();
        cJSON_AddItemToArray(a, cJSON_CreateString(sfv_type_name(t->kind)));
        cJSON_AddItemToArray(a, type_to_cjson(t->elem));
        return a;
    case SF_TYPE_OBJECT: {
        a = cJSON_CreateArray();
        cJSON_AddItemToArray(a, cJSON_CreateString("object"));
        cJSON *attrs = cJSON_CreateObject();
        for (size_t i = 0; i < t->n; i++) cJSON_AddItemToObject(attrs, t->names[i], type_to_cjson(t->types[i]));
        cJSON_AddItemToArray(a, attrs);
        cJSON *opts = NULL;
        for (size_t i = 0; i < t->n; i++) {
            if (!optional_at(t, i)) continue;
            if (!opts) opts = cJSON_CreateArray();
            cJSON_AddItemToArray(opts, cJSON_CreateString(t->names[i]));
        }
        if (opts) cJSON_AddItemToArray(a, opts);
        return a;
    }
    case SF_TYPE_TUPLE: {
        a = cJSON_CreateArray();
        cJSON_AddItemToArray(a, cJSON_CreateString("tuple"));
        cJSON *elems = cJSON_CreateArray();
        for (size_t i = 0; i < t->n; i++) cJSON_AddItemToArray(elems, type_to_cjson(t->types[i]));
        cJSON_AddItemToArray(a, elems);
        return a;
    }
    }
    return NULL;
}

/* cJSON's output with the escapes Go's encoding/json adds and cJSON does
 * not: <, >, & and U+2028/U+2029.  They can only occur inside strings
 * (attribute names) in a type description. */
static char *go_escapes(const char *s)
{
    sfv_buf b = {0};
    for (; *s; s++) {
        if (*s == '<') sfv_buf_puts(&b, "\\u003c");
        else if (*s == '>') sfv_buf_puts(&b, "\\u003e");
        else if (*s == '&') sfv_buf_puts(&b, "\\u0026");
        else if (s[0] == '\xe2' && s[1] == '\x80' && (s[2] == '\xa8' || s[2] == '\xa9')) {
            sfv_buf_puts(&b, s[2] == '\xa8' ? "\\u2028" : "\\u2029");
            s += 2;
        } else sfv_buf_putc(&b, *s);
    }
    return sfv_buf_steal(&b);
}

/* Compact JSON, byte for byte as go-cty writes it (attribute names sorted);
 * caller frees.  NULL only on OOM or for a NULL type. */
char *sf_type_to_json(const sf_type *t)
{
    if (!t) return NULL;
    cJSON *j = type_to_cjson(t);
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!s) return NULL;
    char *out = go_escapes(s); /* ours to free() whatever cJSON's hooks are */
    cJSON_free(s);
    return out;
}
