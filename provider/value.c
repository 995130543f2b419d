/* value.c — Terraform values (go-cty) as mutable C trees: build, copy, compare, check.
 *
 * The codecs (value_msgpack.c, value_json.c) turn wire bytes into these
 * trees and back; resources read and build them with the functions here.
 * Numbers are canonical decimal text (value_number.c), so comparing two
 * numbers is comparing two strings.
 */
#include "provider/value_internal.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *sfv_value_name(sf_value_kind k)
{
    switch (k) {
    case SF_VAL_NULL: return "null";
    case SF_VAL_UNKNOWN: return "unknown";
    case SF_VAL_STRING: return "string";
    case SF_VAL_NUMBER: return "number";
    case SF_VAL_BOOL: return "bool";
    case SF_VAL_LIST: return "list";
    case SF_VAL_SET: return "set";
    case SF_VAL_MAP: return "map";
    case SF_VAL_OBJECT: return "object";
    case SF_VAL_TUPLE: return "tuple";
    }
    return "?";
}

/* ---- Constructors ----------------------------------------------------- */

static sf_value *val_new(sf_value_kind kind)
{
    sf_value *v = sfv_calloc(1, sizeof *v);
    v->kind = kind;
    return v;
}

sf_value *sf_value_null(void)
{
    return val_new(SF_VAL_NULL);
}
sf_value *sf_value_unknown(void)
{
    return val_new(SF_VAL_UNKNOWN);
}
sf_value *sf_value_list(void)
{
    return val_new(SF_VAL_LIST);
}
sf_value *sf_value_set(void)
{
    return val_new(SF_VAL_SET);
}
sf_value *sf_value_tuple(void)
{
    return val_new(SF_VAL_TUPLE);
}
sf_value *sf_value_map(void)
{
    return val_new(SF_VAL_MAP);
}
sf_value *sf_value_object(void)
{
    return val_new(SF_VAL_OBJECT);
}

sf_value *sf_value_stringn(const char *s, size_t len)
{
    sf_value *v = val_new(SF_VAL_STRING);
    v->str = sfv_strndup(s ? s : "", s ? len : 0);
    v->len = s ? len : 0;
    return v;
}

sf_value *sf_value_string(const char *s)
{
    return sf_value_stringn(s, s ? strlen(s) : 0);
}

sf_value *sf_value_bool(bool b)
{
    sf_value *v = val_new(SF_VAL_BOOL);
    v->boolean = b;
    return v;
}

static sf_value *number_owned(char *canon)
{
    sf_value *v = val_new(SF_VAL_NUMBER);
    v->str = canon;
    v->len = strlen(canon);
    return v;
}

sf_value *sf_value_int(int64_t i)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, i);
    return number_owned(sf_strdup(buf));
}

/* The shortest decimal that reads back as d ("0.1" for 0.1).  d must be
 * finite; a NaN or an infinity gives a null value (and fails an assert). */
sf_value *sf_value_double(double d)
{
    assert(isfinite(d));
    if (!isfinite(d)) return sf_value_null();
    return number_owned(sfv_num_from_double(d));
}

sf_value *sf_value_number_text(const char *text, char **err)
{
    if (err) *err = NULL;
    const char *why = "not a number";
    char *canon = text ? sfv_num_canon(text, strlen(text), &why) : NULL;
    if (!canon) {
        sfv_fail(err, NULL, "invalid number \"%.64s\": %s", text ? text : "(null)", why);
        return NULL;
    }
    return number_owned(canon);
}

/* Returns v's refinements, creating empty ones (v must be UNKNOWN; NULL
 * otherwise).  Fill them in; sf_value_free releases them and their strings,
 * which must be malloc'd. */
sf_refinements *sf_value_refine(sf_value *v)
{
    if (!v || v->kind != SF_VAL_UNKNOWN) return NULL;
    if (!v->refine) v->refine = sfv_calloc(1, sizeof *v->refine);
    return v->refine;
}

/* ---- Refinements ------------------------------------------------------ */

sf_refinements *sfv_refine_copy(const sf_refinements *r)
{
    if (!r) return NULL;
    sf_refinements *c = sfv_malloc(sizeof *c);
    *c = *r;
    c->string_prefix = r->string_prefix ? sf_strdup(r->string_prefix) : NULL;
    c->number_lower = r->number_lower ? sf_strdup(r->number_lower) : NULL;
    c->number_upper = r->number_upper ? sf_strdup(r->number_upper) : NULL;
    return c;
}

void sfv_refine_free(sf_refinements *r)
{
    if (!r) return;
    free(r->string_prefix);
    free(r->number_lower);
    free(r->number_upper);
    free(r);
}

static bool bound_equal(const char *a, bool ai, const char *b, bool bi)
{
    if (!a || !b) return !a && !b;
    char *ta = NULL, *tb = NULL;
    bool eq = ai == bi;
    if (eq && strcmp(a, b) != 0) {
        const char *why;
        ta = sfv_num_canon(a, strlen(a), &why);
        tb = sfv_num_canon(b, strlen(b), &why);
        eq = ta && tb && strcmp(ta, tb) == 0;
    }
    free(ta);
    free(tb);
    return eq;
}

/* Equal as go-cty's refinement rawEqual; an empty prefix, a length lower
 * bound of 0 and an upper bound of INT64_MAX mean "no refinement". */
bool sfv_refine_equal(const sf_refinements *a, const sf_refinements *b)
{
    static const sf_refinements none = {0};
    if (!a) a = &none;
    if (!b) b = &none;
    const char *pa = a->string_prefix && *a->string_prefix ? a->string_prefix : NULL;
    const char *pb = b->string_prefix && *b->string_prefix ? b->string_prefix : NULL;
    int64_t la = a->has_length_lower ? a->length_lower : 0;
    int64_t lb = b->has_length_lower ? b->length_lower : 0;
    int64_t ua = a->has_length_upper ? a->length_upper : INT64_MAX;
    int64_t ub = b->has_length_upper ? b->length_upper : INT64_MAX;
    return a->not_null == b->not_null && ((!pa && !pb) || (pa && pb && strcmp(pa, pb) == 0)) &&
           bound_equal(a->number_lower, a->number_lower_incl, b->number_lower, b->number_lower_incl) &&
           bound_equal(a->number_upper, a->number_upper_incl, b->number_upper, b->number_upper_incl) && la == lb &&
           ua == ub;
}

/* ---- Copy and free ---------------------------------------------------- */

sf_value *sf_value_copy(const sf_value *v)
{
    if (!v) return NULL;
    sf_value *c = val_new(v->kind);
    c->boolean = v->boolean;
    if (v->str) {
        c->str = sfv_strndup(v->str, v->len);
        c->len = v->len;
    }
    c->n = v->n;
    if (v->elems) {
        c->elems = sfv_calloc(v->n, sizeof *c->elems);
        for (size_t i = 0; i < v->n; i++) c->elems[i] = sf_value_copy(v->elems[i]);
    }
    if (v->keys) {
        c->keys = sfv_calloc(v->n, sizeof *c->keys);
        for (size_t i = 0; i < v->n; i++) c->keys[i] = sf_strdup(v->keys[i]);
    }
    c->dyn_type = sf_type_copy(v->dyn_type);
    c->refine = sfv_refine_copy(v->refine);
    return c;
}

void sf_value_free(sf_value *v)
{
    if (!v) return;
    for (size_t i = 0; v->elems && i < v->n; i++) sf_value_free(v->elems[i]);
    for (size_t i = 0; v->keys && i < v->n; i++) free(v->keys[i]);
    free(v->elems);
    free(v->keys);
    free(v->str);
    sf_type_free(v->dyn_type);
    sfv_refine_free(v->refine);
    free(v);
}

/* ---- Sequences and maps ----------------------------------------------- */

static bool in_set(const sf_value *set, const sf_value *v)
{
    /* go-cty never merges values that are not wholly known: two unknowns
     * may turn out to differ. */
    if (!sf_value_is_wholly_known(v)) return false;
    for (size_t i = 0; i < set->n; i++)
        if (sf_value_equal(set->elems[i], v)) return true;
    return false;
}

/* Append to a LIST/SET/TUPLE.  Sets drop an element equal to one present
 * when it is wholly known (unknowns are never merged, as in go-cty). */
void sf_value_append(sf_value *seq, sf_value *owned)
{
    assert(seq && (seq->kind == SF_VAL_LIST || seq->kind == SF_VAL_SET || seq->kind == SF_VAL_TUPLE));
    if (!owned) owned = sf_value_null();
    if (!seq || (seq->kind != SF_VAL_LIST && seq->kind != SF_VAL_SET && seq->kind != SF_VAL_TUPLE) ||
        (seq->kind == SF_VAL_SET && in_set(seq, owned))) {
        sf_value_free(owned);
        return;
    }
    seq->elems = sfv_realloc(seq->elems, (seq->n + 1) * sizeof *seq->elems);
    seq->elems[seq->n++] = owned;
}

/* Position of key in obj->keys, or where it would go (*found false). */
static size_t key_search(const sf_value *obj, const char *key, bool *found)
{
    size_t lo = 0, hi = obj->keys ? obj->n : 0;
    *found = false;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(key, obj->keys[mid]);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

static bool is_keyed(const sf_value *v)
{
    return v && (v->kind == SF_VAL_MAP || v->kind == SF_VAL_OBJECT);
}

void sf_value_put(sf_value *obj, const char *key, sf_value *owned)
{
    assert(is_keyed(obj) && key);
    if (!owned) owned = sf_value_null();
    if (!is_keyed(obj) || !key) {
        sf_value_free(owned);
        return;
    }
    bool found;
    size_t i = key_search(obj, key, &found);
    if (found) {
        sf_value_free(obj->elems[i]);
        obj->elems[i] = owned;
        return;
    }
    obj->keys = sfv_realloc(obj->keys, (obj->n + 1) * sizeof *obj->keys);
    obj->elems = sfv_realloc(obj->elems, (obj->n + 1) * sizeof *obj->elems);
    memmove(obj->keys + i + 1, obj->keys + i, (obj->n - i) * sizeof *obj->keys);
    memmove(obj->elems + i + 1, obj->elems + i, (obj->n - i) * sizeof *obj->elems);
    obj->keys[i] = sf_strdup(key);
    obj->elems[i] = owned;
    obj->n++;
}

sf_value *sf_value_get(const sf_value *obj, const char *key)
{
    if (!is_keyed(obj) || !key) return NULL;
    bool found;
    size_t i = key_search(obj, key, &found);
    return found ? obj->elems[i] : NULL;
}

const sf_value *sfv_attr(const sf_value *obj, const char *name)
{
    return sf_value_get(obj, name);
}

sf_value *sf_value_take(sf_value *obj, const char *key)
{
    if (!is_keyed(obj) || !key) return NULL;
    bool found;
    size_t i = key_search(obj, key, &found);
    if (!found) return NULL;
    sf_value *v = obj->elems[i];
    free(obj->keys[i]);
    memmove(obj->keys + i, obj->keys + i + 1, (obj->n - i - 1) * sizeof *obj->keys);
    memmove(obj->elems + i, obj->elems + i + 1, (obj->n - i - 1) * sizeof *obj->elems);
    obj->n--;
    return v;
}

/* ---- Comparing -------------------------------------------------------- */

/* Canonical text of a NUMBER value; *tmp holds a copy when the stored text
 * was not canonical.  NULL when the text is not a number. */
static const char *canon_of(const sf_value *v, char **tmp)
{
    *tmp = NULL;
    if (!v || v->kind != SF_VAL_NUMBER || !v->str) return NULL;
    if (sfv_num_is_canonical(v->str)) return v->str;
    const char *why;
    *tmp = sfv_num_canon(v->str, strlen(v->str), &why);
    return *tmp;
}

static bool number_equal(const char *a, const char *b)
{
    if (strcmp(a, b) == 0) return true;
    if (sfv_num_is_canonical(a) && sfv_num_is_canonical(b)) return false;
    const char *why;
    char *ca = sfv_num_canon(a, strlen(a), &why), *cb = sfv_num_canon(b, strlen(b), &why);
    bool eq = ca && cb && strcmp(ca, cb) == 0;
    free(ca);
    free(cb);
    return eq;
}

/* ---- Hashing, for sets of many elements ------------------------------- */

static uint64_t mix(uint64_t h, uint64_t x)
{
    h ^= x + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 29);
}

static uint64_t hash_bytes(const void *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ ((const unsigned char *)p)[i]) * 0x100000001b3ull;
    return h;
}

/* A hash with sf_value_equal(a, b) => sfv_hash(a) == sfv_hash(b): sets
 * combine their elements' hashes by sum, objects skip null attributes,
 * dyn_type and refinements are left out. */
uint64_t sfv_hash(const sf_value *v)
{
    if (sf_value_is_null(v)) return 1;
    uint64_t h = mix(2, v->kind), acc = 0;
    switch (v->kind) {
    case SF_VAL_NULL:
    case SF_VAL_UNKNOWN: return h;
    case SF_VAL_BOOL: return mix(h, v->boolean);
    case SF_VAL_STRING: return mix(h, hash_bytes(v->str, v->len));
    case SF_VAL_NUMBER: {
        char *tmp;
        const char *c = canon_of(v, &tmp);
        h = mix(h, c ? hash_bytes(c, strlen(c)) : 0);
        free(tmp);
        return h;
    }
    case SF_VAL_LIST:
    case SF_VAL_TUPLE:
        for (size_t i = 0; i < v->n; i++) h = mix(h, sfv_hash(v->elems[i]));
        return h;
    case SF_VAL_SET:
        for (size_t i = 0; i < v->n; i++) acc += sfv_hash(v->elems[i]);
        return mix(h, acc);
    case SF_VAL_MAP:
    case SF_VAL_OBJECT:
        for (size_t i = 0; i < v->n; i++) {
            if (v->kind == SF_VAL_OBJECT && sf_value_is_null(v->elems[i])) continue;
            h = mix(mix(h, hash_bytes(v->keys[i], strlen(v->keys[i]))), sfv_hash(v->elems[i]));
        }
        return h;
    }
    return h;
}

typedef struct {
    uint64_t hash;
    size_t index;
} hashed;

static int hashed_cmp(const void *a, const void *b)
{
    const hashed *x = a, *y = b;
    if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static hashed *hash_elems(const sf_value *set)
{
    hashed *h = sfv_calloc(set->n, sizeof *h);
    for (size_t i = 0; i < set->n; i++) h[i] = (hashed){sfv_hash(set->elems[i]), i};
    qsort(h, set->n, sizeof *h, hashed_cmp);
    return h;
}

/* Multiset equality; elements are matched only within equal hashes. */
static bool set_equal(const sf_value *a, const sf_value *b)
{
    hashed *ha = hash_elems(a), *hb = hash_elems(b);
    bool *used = sfv_calloc(b->n, sizeof *used);
    bool eq = true;
    for (size_t i = 0, j0 = 0; i < a->n && eq; i++) {
        while (j0 < b->n && hb[j0].hash < ha[i].hash) j0++;
        size_t j = j0;
        while (j < b->n && hb[j].hash == ha[i].hash &&
               (used[j] || !sf_value_equal(a->elems[ha[i].index], b->elems[hb[j].index])))
            j++;
        if (j == b->n || hb[j].hash != ha[i].hash) eq = false;
        else used[j] = true;
    }
    free(used);
    free(ha);
    free(hb);
    return eq;
}

/* Drops elements equal to an earlier one (wholly known ones only, as
 * sf_value_append), keeping the order: n log n for the decoders. */
void sfv_set_dedupe(sf_value *set)
{
    if (set->n < 2) return;
    hashed *h = hash_elems(set);
    bool *dup = sfv_calloc(set->n, sizeof *dup);
    for (size_t g = 0; g < set->n;) {
        size_t end = g;
        while (end < set->n && h[end].hash == h[g].hash) end++;
        for (size_t i = g + 1; i < end; i++) {
            const sf_value *v = set->elems[h[i].index];
            if (!sf_value_is_wholly_known(v)) continue;
            for (size_t k = g; k < i && !dup[h[i].index]; k++)
                if (!dup[h[k].index] && sf_value_equal(set->elems[h[k].index], v)) dup[h[i].index] = true;
        }
        g = end;
    }
    size_t out = 0;
    for (size_t i = 0; i < set->n; i++) {
        if (dup[i]) sf_value_free(set->elems[i]);
        else set->elems[out++] = set->elems[i];
    }
    set->n = out;
    free(dup);
    free(h);
}

/* Objects: an attribute absent from one side equals a null on the other. */
static bool object_equal(const sf_value *a, const sf_value *b)
{
    size_t i = 0, j = 0;
    while (i < a->n || j < b->n) {
        int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->keys[i], b->keys[j]);
        if (c == 0) {
            if (!sf_value_equal(a->elems[i++], b->elems[j++])) return false;
        } else if (c < 0) {
            if (!sf_value_is_null(a->elems[i++])) return false;
        } else {
            if (!sf_value_is_null(b->elems[j++])) return false;
        }
    }
    return true;
}

/* NULL pointers count as null values.  dyn_type is compared only when both
 * values carry one. */
bool sf_value_equal(const sf_value *a, const sf_value *b)
{
    if (a == b) return true;
    if (sf_value_is_null(a) && sf_value_is_null(b)) {
        return !a || !b || !a->dyn_type || !b->dyn_type || sf_type_equal(a->dyn_type, b->dyn_type);
    }
    if (!a || !b || a->kind != b->kind) return false;
    if (a->dyn_type && b->dyn_type && !sf_type_equal(a->dyn_type, b->dyn_type)) return false;
    switch (a->kind) {
    case SF_VAL_NULL: return true;
    case SF_VAL_UNKNOWN: return sfv_refine_equal(a->refine, b->refine);
    case SF_VAL_BOOL: return a->boolean == b->boolean;
    case SF_VAL_STRING: return a->len == b->len && (a->len == 0 || memcmp(a->str, b->str, a->len) == 0);
    case SF_VAL_NUMBER: return a->str && b->str && number_equal(a->str, b->str);
    case SF_VAL_LIST:
    case SF_VAL_TUPLE:
        if (a->n != b->n) return false;
        for (size_t i = 0; i < a->n; i++)
            if (!sf_value_equal(a->elems[i], b->elems[i])) return false;
        return true;
    case SF_VAL_SET: return a->n == b->n && set_equal(a, b);
    case SF_VAL_MAP:
        if (a->n != b->n) return false;
        for (size_t i = 0; i < a->n; i++)
            if (strcmp(a->keys[i], b->keys[i]) != 0 || !sf_value_equal(a->elems[i], b->elems[i])) return false;
        return true;
    case SF_VAL_OBJECT: return object_equal(a, b);
    }
    return false;
}

bool sf_value_is_wholly_known(const sf_value *v)
{
    if (!v) return true;
    if (v->kind == SF_VAL_UNKNOWN) return false;
    for (size_t i = 0; v->elems && i < v->n; i++)
        if (!sf_value_is_wholly_known(v->elems[i])) return false;
    return true;
}

/* ---- Accessors -------------------------------------------------------- */

int sf_value_get_int(const sf_value *v, int64_t *out)
{
    char *tmp;
    const char *c = canon_of(v, &tmp);
    int rc = c ? sfv_num_to_int64(c, out) : -1;
    free(tmp);
    return rc;
}

/* Nearest double; -1 when v is not a number or its magnitude is beyond
 * double range. */
int sf_value_get_double(const sf_value *v, double *out)
{
    char *tmp;
    const char *c = canon_of(v, &tmp);
    int rc = -1;
    if (c) {
        double d = strtod(c, NULL);
        if (isfinite(d)) {
            *out = d;
            rc = 0;
        }
    }
    free(tmp);
    return rc;
}

const char *sf_value_get_str(const sf_value *v)
{
    return v && v->kind == SF_VAL_STRING ? v->str : NULL;
}

/* ---- Types of values -------------------------------------------------- */

const sf_type *sfv_slot_type(const sf_value *v, const sf_type *t)
{
    if (!t || t->kind != SF_TYPE_DYNAMIC) return t;
    return v && v->dyn_type && v->dyn_type->kind != SF_TYPE_DYNAMIC ? v->dyn_type : NULL;
}

static sf_type *implied(const sf_value *v, int depth);

/* One element type for all elements of a collection; null and unknown
 * elements without a type fit any; "dynamic" when nothing is known. */
static sf_type *implied_elem(const sf_value *v, int depth)
{
    sf_type *elem = NULL;
    for (size_t i = 0; i < v->n; i++) {
        const sf_value *e = v->elems[i];
        if ((sf_value_is_null(e) || e->kind == SF_VAL_UNKNOWN) && (!e || !e->dyn_type)) continue;
        sf_type *t = implied(e, depth + 1);
        if (!t) goto fail;
        if (!elem) elem = t;
        else {
            bool same = sf_type_equal(elem, t);
            sf_type_free(t);
            if (!same) goto fail;
        }
    }
    return elem ? elem : sf_type_primitive(SF_TYPE_DYNAMIC);
fail:
    sf_type_free(elem);
    return NULL;
}

static sf_type *implied(const sf_value *v, int depth)
{
    if (!v || depth > SFV_MAX_DEPTH) return NULL;
    if (v->dyn_type) return sf_type_copy(v->dyn_type);
    switch (v->kind) {
    case SF_VAL_NULL:
    case SF_VAL_UNKNOWN: return sf_type_primitive(SF_TYPE_DYNAMIC);
    case SF_VAL_STRING: return sf_type_primitive(SF_TYPE_STRING);
    case SF_VAL_NUMBER: return sf_type_primitive(SF_TYPE_NUMBER);
    case SF_VAL_BOOL: return sf_type_primitive(SF_TYPE_BOOL);
    case SF_VAL_LIST:
    case SF_VAL_SET:
    case SF_VAL_MAP: {
        sf_type *elem = implied_elem(v, depth);
        sf_type_kind k = v->kind == SF_VAL_LIST ? SF_TYPE_LIST : v->kind == SF_VAL_SET ? SF_TYPE_SET : SF_TYPE_MAP;
        return elem ? sf_type_collection(k, elem) : NULL;
    }
    case SF_VAL_OBJECT:
    case SF_VAL_TUPLE: {
        sf_type **types = sfv_calloc(v->n, sizeof *types);
        sf_type *t = NULL;
        size_t i = 0;
        for (; i < v->n; i++)
            if (!(types[i] = implied(v->elems[i], depth + 1))) break;
        if (i == v->n)
            t = v->kind == SF_VAL_OBJECT ? sf_type_object(v->n, (const char *const *)v->keys, types)
                                         : sf_type_tuple(v->n, types);
        else
            for (size_t k = 0; k < i; k++) sf_type_free(types[k]);
        free(types);
        return t;
    }
    }
    return NULL;
}

/* The type a value implies (its dyn_type when it has one): strings, numbers
 * and bools their primitive, objects and tuples their members' types,
 * lists/sets/maps the one type all their elements share ("dynamic" when
 * all are null or unknown).  NULL when elements disagree.  Used to encode a
 * value built without a type into a "dynamic" slot. */
sf_type *sf_value_implied_type(const sf_value *v)
{
    return implied(v, 0);
}

/* ---- Conformance ------------------------------------------------------ */

static int conforms(const sf_value *v, const sf_type *t, sfv_buf *path, int depth, char **err);

static int kind_fail(char **err, sfv_buf *path, const sf_type *t, const sf_value *v)
{
    return sfv_fail(err, path, "expected %s, got %s", sfv_type_name(t->kind), sfv_value_name(v->kind));
}

static int elems_conform(const sf_value *v, const sf_type *t, size_t i, sfv_buf *path, int depth, char **err)
{
    size_t mark = path->len;
    if (v->kind == SF_VAL_MAP) sfv_path_key(path, v->keys[i]);
    else sfv_path_index(path, i);
    int rc = conforms(v->elems[i], t, path, depth + 1, err);
    sfv_path_pop(path, mark);
    return rc;
}

static int conforms(const sf_value *v, const sf_type *t, sfv_buf *path, int depth, char **err)
{
    if (depth > SFV_MAX_DEPTH) return sfv_fail(err, path, "nested more than %d levels deep", SFV_MAX_DEPTH);
    if (t->kind == SF_TYPE_DYNAMIC) {
        if (!v || !v->dyn_type) {
            if (sf_value_is_null(v) || v->kind == SF_VAL_UNKNOWN) return 0;
            sf_type *it = sf_value_implied_type(v);
            if (!it) return sfv_fail(err, path, "value in a dynamic attribute has no single type");
            sf_type_free(it);
            return 0;
        }
        return conforms(v, v->dyn_type, path, depth + 1, err);
    }
    if (sf_value_is_null(v) || v->kind == SF_VAL_UNKNOWN) return 0;
    switch (t->kind) {
    case SF_TYPE_STRING: return v->kind == SF_VAL_STRING ? 0 : kind_fail(err, path, t, v);
    case SF_TYPE_BOOL: return v->kind == SF_VAL_BOOL ? 0 : kind_fail(err, path, t, v);
    case SF_TYPE_NUMBER: {
        if (v->kind != SF_VAL_NUMBER) return kind_fail(err, path, t, v);
        char *tmp;
        const char *c = canon_of(v, &tmp);
        free(tmp);
        return c ? 0 : sfv_fail(err, path, "invalid number \"%.64s\"", v->str ? v->str : "");
    }
    case SF_TYPE_LIST:
    case SF_TYPE_SET:
    case SF_TYPE_MAP: {
        sf_value_kind want = t->kind == SF_TYPE_LIST ? SF_VAL_LIST : t->kind == SF_TYPE_SET ? SF_VAL_SET : SF_VAL_MAP;
        if (v->kind != want) return kind_fail(err, path, t, v);
        for (size_t i = 0; i < v->n; i++)
            if (elems_conform(v, t->elem, i, path, depth, err)) return -1;
        return 0;
    }
    case SF_TYPE_TUPLE:
        if (v->kind != SF_VAL_TUPLE) return kind_fail(err, path, t, v);
        if (v->n != t->n) return sfv_fail(err, path, "expected a tuple of %zu elements, got %zu", t->n, v->n);
        for (size_t i = 0; i < v->n; i++)
            if (elems_conform(v, t->types[i], i, path, depth, err)) return -1;
        return 0;
    case SF_TYPE_OBJECT:
        if (v->kind != SF_VAL_OBJECT) return kind_fail(err, path, t, v);
        for (size_t i = 0; i < v->n; i++) {
            size_t mark = path->len;
            sfv_path_attr(path, v->keys[i]);
            const sf_type *at = sf_type_attr(t, v->keys[i]);
            int rc =
                at ? conforms(v->elems[i], at, path, depth + 1, err) : sfv_fail(err, path, "unsupported attribute");
            sfv_path_pop(path, mark);
            if (rc) return -1;
        }
        return 0;
    case SF_TYPE_DYNAMIC: break;
    }
    return 0;
}

/* Attributes absent from an object value count as null.  Values in a
 * "dynamic" slot are checked against their dyn_type, or must imply one. */
int sf_value_conforms(const sf_value *v, const sf_type *t, char **err)
{
    if (err) *err = NULL;
    if (!t) return sfv_fail(err, NULL, "no type");
    sfv_buf path = {0};
    int rc = conforms(v, t, &path, 0, err);
    sfv_buf_free(&path);
    return rc;
}
