/* value_msgpack.c — values from and to msgpack exactly as go-cty (cty/msgpack) does.
 *
 * Terraform sends every config, plan and state to the provider as msgpack
 * (DynamicValue.msgpack) and expects the answers in the same form, with
 * unknown values as msgpack extensions.  Decoding: msgpack-c parses the
 * bytes into an object tree, and decode() walks it alongside the type.
 * Encoding: encode() walks value and type into a msgpack-c packer, writing
 * what go-cty's Marshal writes byte for byte (tests/golden holds the proof).
 *
 * msgpack-c allocates the elements of an array or map as soon as it reads
 * the header, so a 5-byte input claiming 2^32 elements would make it ask
 * for 100 GB; skim() checks the structure (lengths against the bytes that
 * are really there, nesting depth) before msgpack-c sees the input.
 */
#include "provider/value_internal.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXT_REFINED 12         /* go-cty: unknown value with refinements */
#define EXT_MAX_REFINED 1024   /* go-cty rejects larger refinement payloads */
#define PREFIX_MAX 256         /* go-cty truncates longer string prefixes */
#define COLLAPSE_MAX_LIST 4096 /* largest known-length list built from unknowns */

/* ---- Structure check -------------------------------------------------- */

typedef struct {
    const unsigned char *p;
    size_t len, off;
} skimmer;

static int need(skimmer *s, uint64_t n)
{
    if (n > s->len - s->off) return -1;
    s->off += (size_t)n;
    return 0;
}

static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = (v << 8) | p[i];
    return v;
}

/* Reads an n-byte big-endian length at the cursor into *out. */
static int read_len(skimmer *s, int n, uint64_t *out)
{
    if ((size_t)n > s->len - s->off) return -1;
    *out = be(s->p + s->off, n);
    s->off += (size_t)n;
    return 0;
}

/* Steps over one msgpack object: 0, or -1 with *why. */
static int skim(skimmer *s, int depth, const char **why)
{
    if (s->off >= s->len) {
        *why = "truncated msgpack";
        return -1;
    }
    unsigned c = s->p[s->off++];
    uint64_t n = 0, items = 0;
    int lb = 0;
    if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) return 0;
    if ((c & 0xf0) == 0x80) items = 2 * (uint64_t)(c & 0x0f);
    else if ((c & 0xf0) == 0x90) items = c & 0x0f;
    else if ((c & 0xe0) == 0xa0) n = c & 0x1f;
    else {
        switch (c) {
        case 0xc4:
        case 0xd9: lb = 1; break;
        case 0xc5:
        case 0xda: lb = 2; break;
        case 0xc6:
        case 0xdb: lb = 4; break;
        case 0xc7:
            lb = 1;
            n = 1;
            break;
        case 0xc8:
            lb = 2;
            n = 1;
            break;
        case 0xc9:
            lb = 4;
            n = 1;
            break;
        case 0xca: n = 4; break;
        case 0xcb: n = 8; break;
        case 0xcc:
        case 0xd0: n = 1; break;
        case 0xcd:
        case 0xd1: n = 2; break;
        case 0xce:
        case 0xd2: n = 4; break;
        case 0xcf:
        case 0xd3: n = 8; break;
        case 0xd4: n = 2; break;
        case 0xd5: n = 3; break;
        case 0xd6: n = 5; break;
        case 0xd7: n = 9; break;
        case 0xd8: n = 17; break;
        case 0xdc:
        case 0xdd:
        case 0xde:
        case 0xdf: {
            uint64_t count;
            if (read_len(s, c <= 0xdd ? (c == 0xdc ? 2 : 4) : (c == 0xde ? 2 : 4), &count)) {
                *why = "truncated msgpack";
                return -1;
            }
            items = c >= 0xde ? 2 * count : count;
            break;
        }
        default: *why = "invalid msgpack (byte 0xc1)"; return -1;
        }
        if (lb) {
            uint64_t l;
            if (read_len(s, lb, &l)) {
                *why = "truncated msgpack";
                return -1;
            }
            n += l; /* ext: the type byte, then l bytes */
        }
    }
    if (need(s, n)) {
        *why = "truncated msgpack";
        return -1;
    }
    bool container = (c & 0xe0) == 0x80 || (c >= 0xdc && c <= 0xdf);
    if (container && depth + 1 > SFV_MSGPACK_MAX_DEPTH) {
        *why = "msgpack nested more than 32 levels deep";
        return -1;
    }
    /* Every item takes at least one byte: a count beyond the bytes left is
     * a lie, whatever follows. */
    if (items > s->len - s->off) {
        *why = "truncated msgpack";
        return -1;
    }
    for (uint64_t i = 0; i < items; i++)
        if (skim(s, depth + 1, why)) return -1;
    return 0;
}

/* Parses exactly one msgpack object from buf (trailing bytes allowed only
 * when allow_trailing).  0 and *res (destroy it) or -1 and *why. */
static int unpack_one(const void *buf, size_t len, bool allow_trailing, msgpack_unpacked *res, const char **why)
{
    skimmer s = {buf, len, 0};
    if (skim(&s, 0, why)) return -1;
    if (!allow_trailing && s.off != len) {
        *why = "trailing bytes after the value";
        return -1;
    }
    msgpack_unpacked_init(res);
    size_t off = 0;
    if (msgpack_unpack_next(res, buf, s.off, &off) != MSGPACK_UNPACK_SUCCESS || off != s.off) {
        msgpack_unpacked_destroy(res);
        *why = "malformed msgpack";
        return -1;
    }
    return 0;
}

/* ---- Decoding --------------------------------------------------------- */

typedef struct {
    sfv_buf path;
    char **err;
} decoder;

static int decode(decoder *d, const msgpack_object *o, const sf_type *t, int depth, sf_value **out);

static const char *obj_name(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return "nil";
    case MSGPACK_OBJECT_BOOLEAN: return "bool";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "integer";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return "float";
    case MSGPACK_OBJECT_STR: return "string";
    case MSGPACK_OBJECT_ARRAY: return "array";
    case MSGPACK_OBJECT_MAP: return "map";
    case MSGPACK_OBJECT_BIN: return "binary";
    case MSGPACK_OBJECT_EXT: return "extension";
    }
    return "?";
}

static int expected(decoder *d, const char *what, const msgpack_object *o)
{
    return sfv_fail(d->err, &d->path, "expected %s, got msgpack %s", what, obj_name(o));
}

/* go-cty reads strings from str or bin.  (msgpack-c leaves ptr NULL for
 * empty ones.) */
static bool as_bytes(const msgpack_object *o, const char **p, size_t *n)
{
    if (o->type == MSGPACK_OBJECT_STR) {
        *p = o->via.str.ptr;
        *n = o->via.str.size;
    } else if (o->type == MSGPACK_OBJECT_BIN) {
        *p = o->via.bin.ptr;
        *n = o->via.bin.size;
    } else {
        return false;
    }
    if (!*p || !*n) *p = "", *n = 0;
    return true;
}

/* Canonical number text of an int, float or decimal string; NULL and an
 * error otherwise.  Infinities and NaN are rejected: this model has no
 * infinite numbers and Terraform never sends them. */
static char *number_text(decoder *d, const msgpack_object *o)
{
    char buf[32];
    const char *p, *why = "not a number";
    size_t n;
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER: snprintf(buf, sizeof buf, "%" PRIu64, o->via.u64); return sf_strdup(buf);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: snprintf(buf, sizeof buf, "%" PRId64, o->via.i64); return sf_strdup(buf);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (!isfinite(o->via.f64)) {
            sfv_fail(d->err, &d->path, "number is not finite");
            return NULL;
        }
        return sfv_num_from_double(o->via.f64);
    default: break;
    }
    if (!as_bytes(o, &p, &n)) {
        expected(d, "number", o);
        return NULL;
    }
    char *c = sfv_num_canon(p, n, &why);
    if (!c) sfv_fail(d->err, &d->path, "invalid number \"%.*s\": %s", n > 64 ? 64 : (int)n, p, why);
    return c;
}

/* A map key or object attribute name: a string without NUL bytes. */
static char *key_text(decoder *d, const msgpack_object *o)
{
    const char *p;
    size_t n;
    if (!as_bytes(o, &p, &n)) {
        expected(d, "string key", o);
        return NULL;
    }
    if (memchr(p, '\0', n)) {
        sfv_fail(d->err, &d->path, "key contains a NUL byte");
        return NULL;
    }
    return sfv_strndup(p, n);
}

static bool is_collection(const sf_type *t)
{
    return t->kind == SF_TYPE_LIST || t->kind == SF_TYPE_SET || t->kind == SF_TYPE_MAP;
}

/* A refinement map entry's integer: ints, and nil as 0 (as go-cty reads). */
static bool refine_int(const msgpack_object *o, int64_t *out)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: *out = 0; return true;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: *out = o->via.i64; return true;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: *out = (int64_t)o->via.u64; return true;
    default: return false;
    }
}

/* [number, inclusive] for keys 3 and 4.  1 when the bound is infinite
 * (go-cty treats that as no bound), 0 when set, -1 on error. */
static int refine_bound(decoder *d, const msgpack_object *o, char **text, bool *incl)
{
    const char *bad = "numeric bound refinement must be a [number, bool] array";
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 2) return sfv_fail(d->err, &d->path, "%s", bad);
    const msgpack_object *num = &o->via.array.ptr[0], *inc = &o->via.array.ptr[1];
    if (inc->type != MSGPACK_OBJECT_BOOLEAN) return sfv_fail(d->err, &d->path, "%s", bad);
    if (num->type == MSGPACK_OBJECT_NIL || num->type == MSGPACK_OBJECT_EXT)
        return sfv_fail(d->err, &d->path, "%s", bad);
    if ((num->type == MSGPACK_OBJECT_FLOAT32 || num->type == MSGPACK_OBJECT_FLOAT64) && isinf(num->via.f64)) return 1;
    char *t = number_text(d, num);
    if (!t) return -1;
    free(*text);
    *text = t;
    *incl = inc->via.boolean;
    return 0;
}

/* The known value go-cty makes of a refinement that leaves one choice
 * (RefinementBuilder.NewValue), or NULL. */
static sf_value *collapse(const sf_refinements *r, const sf_type *t)
{
    if (!r->not_null) return NULL;
    if (t->kind == SF_TYPE_NUMBER && r->number_lower && r->number_upper && r->number_lower_incl &&
        r->number_upper_incl && strcmp(r->number_lower, r->number_upper) == 0)
        return sf_value_number_text(r->number_lower, NULL);
    int64_t n = r->has_length_lower ? r->length_lower : 0;
    if (!is_collection(t) || !r->has_length_upper || r->length_upper != n) return NULL;
    sf_value *v = NULL;
    if (n == 0) {
        v = t->kind == SF_TYPE_LIST ? sf_value_list() : t->kind == SF_TYPE_SET ? sf_value_set() : sf_value_map();
    } else if (t->kind == SF_TYPE_LIST && n <= COLLAPSE_MAX_LIST) {
        v = sf_value_list();
        for (int64_t i = 0; i < n; i++) sf_value_append(v, sf_value_unknown());
    } else if (t->kind == SF_TYPE_SET && n == 1) {
        v = sf_value_set();
        sf_value_append(v, sf_value_unknown());
    }
    return v;
}

static bool refine_empty(const sf_refinements *r)
{
    return !r->not_null && !r->string_prefix && !r->number_lower && !r->number_upper && !r->has_length_lower &&
           !r->has_length_upper;
}

/* Longest prefix of s (n bytes) within max bytes that ends on a character
 * boundary, minus its last character: go-cty's ctystrings.SafeKnownPrefix
 * drops a trailing character that a combining mark could still change. */
static size_t safe_prefix_len(const char *s, size_t n, size_t max)
{
    if (n <= max) return n;
    size_t cut = max - 1;
    while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80) cut--;
    size_t last = cut;
    if (last > 0) {
        last--;
        while (last > 0 && ((unsigned char)s[last] & 0xc0) == 0x80) last--;
    }
    return last;
}

/* One entry of a refinement map. */
static int refine_entry(decoder *d, const msgpack_object *key, const msgpack_object *val, const sf_type *t,
                        sf_refinements *r, bool *is_null)
{
    int64_t k;
    if (!refine_int(key, &k)) return sfv_fail(d->err, &d->path, "unknown value refinement key is not an integer");
    const char *p;
    size_t n;
    int64_t len;
    switch (k) {
    case 1: /* nullness: false means "not null" */
        if (val->type == MSGPACK_OBJECT_NIL) r->not_null = true;
        else if (val->type == MSGPACK_OBJECT_BOOLEAN) {
            r->not_null = !val->via.boolean;
            *is_null = val->via.boolean;
        } else return sfv_fail(d->err, &d->path, "null refinement is not boolean");
        return 0;
    case 2:
        if (t->kind != SF_TYPE_STRING)
            return sfv_fail(d->err, &d->path, "string prefix refinement for non-string type");
        if (!as_bytes(val, &p, &n)) return sfv_fail(d->err, &d->path, "string prefix refinement is not a string");
        if (!sfv_utf8_valid(p, n)) return sfv_fail(d->err, &d->path, "string prefix refinement is not valid UTF-8");
        n = safe_prefix_len(p, n, PREFIX_MAX);
        if (memchr(p, '\0', n)) return sfv_fail(d->err, &d->path, "string prefix refinement contains a NUL byte");
        free(r->string_prefix);
        r->string_prefix = n ? sfv_strndup(p, n) : NULL;
        return 0;
    case 3:
    case 4:
        if (t->kind != SF_TYPE_NUMBER)
            return sfv_fail(d->err, &d->path, "numeric bound refinement for non-number type");
        return refine_bound(d, val, k == 3 ? &r->number_lower : &r->number_upper,
                            k == 3 ? &r->number_lower_incl : &r->number_upper_incl) < 0
                   ? -1
                   : 0;
    case 5:
    case 6:
        if (!is_collection(t)) return sfv_fail(d->err, &d->path, "length bound refinement for non-collection type");
        if (!refine_int(val, &len)) return sfv_fail(d->err, &d->path, "length bound refinement must be an integer");
        if (k == 5) {
            r->has_length_lower = len > 0; /* 0 (or less) is no bound */
            r->length_lower = len > 0 ? len : 0;
        } else {
            if (len < 0) return sfv_fail(d->err, &d->path, "negative length upper bound refinement");
            r->has_length_upper = len != INT64_MAX;
            r->length_upper = len != INT64_MAX ? len : 0;
        }
        return 0;
    default: /* keys from the future: ignored, as go-cty does */ return 0;
    }
}

/* An extension: an unknown value, refined when the type is 12. */
static int decode_unknown(decoder *d, const msgpack_object *o, const sf_type *t, sf_value **out)
{
    const msgpack_object_ext *ext = &o->via.ext;
    if (ext->size <= 1) {
        *out = sf_value_unknown();
        return 0;
    }
    if (ext->type != EXT_REFINED)
        return sfv_fail(d->err, &d->path, "unsupported extension type 0x%02x with length %" PRIu32,
                        (unsigned)(uint8_t)ext->type, ext->size);
    if (ext->size > EXT_MAX_REFINED) return sfv_fail(d->err, &d->path, "oversize unknown value refinement");
    msgpack_unpacked res;
    const char *why;
    if (unpack_one(ext->ptr, ext->size, true, &res, &why))
        return sfv_fail(d->err, &d->path, "unknown value refinement: %s", why);
    int rc = 0;
    sf_refinements *r = sfv_calloc(1, sizeof *r);
    bool is_null = false;
    if (res.data.type != MSGPACK_OBJECT_MAP) {
        rc = sfv_fail(d->err, &d->path, "unknown value refinement is not a map");
    } else if (t->kind != SF_TYPE_DYNAMIC) { /* go-cty ignores refinements of dynamic */
        const msgpack_object_map *m = &res.data.via.map;
        for (uint32_t i = 0; i < m->size && rc == 0; i++)
            rc = refine_entry(d, &m->ptr[i].key, &m->ptr[i].val, t, r, &is_null);
    }
    msgpack_unpacked_destroy(&res);
    if (rc) {
        sfv_refine_free(r);
        return -1;
    }
    sf_value *known = is_null ? sf_value_null() : collapse(r, t);
    if (known) {
        sfv_refine_free(r);
        *out = known;
        return 0;
    }
    *out = sf_value_unknown();
    if (refine_empty(r)) sfv_refine_free(r);
    else (*out)->refine = r;
    return 0;
}

/* "dynamic": [type JSON (bin or str), value], or nil for a null. */
static int decode_dynamic(decoder *d, const msgpack_object *o, int depth, sf_value **out)
{
    if (o->type == MSGPACK_OBJECT_NIL) {
        *out = sf_value_null();
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_ARRAY) return expected(d, "a [type, value] array for a dynamic value", o);
    if (o->via.array.size != 2) return sfv_fail(d->err, &d->path, "dynamic value array must have exactly two elements");
    const char *p;
    size_t n;
    if (!as_bytes(&o->via.array.ptr[0], &p, &n)) return expected(d, "a type in JSON", &o->via.array.ptr[0]);
    char *terr = NULL;
    sf_type *t = sf_type_from_json(p, n, &terr);
    if (!t) {
        sfv_fail(d->err, &d->path, "%s", terr ? terr : "invalid type");
        free(terr);
        return -1;
    }
    if (decode(d, &o->via.array.ptr[1], t, depth + 1, out)) {
        sf_type_free(t);
        return -1;
    }
    if (t->kind == SF_TYPE_DYNAMIC || (*out)->dyn_type) sf_type_free(t);
    else (*out)->dyn_type = t;
    return 0;
}

static int decode_seq(decoder *d, const msgpack_object *o, const sf_type *t, int depth, sf_value **out)
{
    const char *what = t->kind == SF_TYPE_LIST ? "a list" : t->kind == SF_TYPE_SET ? "a set" : "a tuple";
    if (o->type != MSGPACK_OBJECT_ARRAY) return expected(d, what, o);
    const msgpack_object_array *a = &o->via.array;
    if (t->kind == SF_TYPE_TUPLE && a->size != t->n)
        return sfv_fail(d->err, &d->path, "expected a tuple of %zu elements, got %" PRIu32, t->n, a->size);
    sf_value *v = t->kind == SF_TYPE_LIST  ? sf_value_list()
                  : t->kind == SF_TYPE_SET ? sf_value_set()
                                           : sf_value_tuple();
    v->elems = sfv_calloc(a->size, sizeof *v->elems);
    for (uint32_t i = 0; i < a->size; i++) {
        size_t mark = d->path.len;
        sfv_path_index(&d->path, i);
        sf_value *e;
        int rc = decode(d, &a->ptr[i], t->kind == SF_TYPE_TUPLE ? t->types[i] : t->elem, depth + 1, &e);
        sfv_path_pop(&d->path, mark);
        if (rc) {
            sf_value_free(v);
            return -1;
        }
        v->elems[v->n++] = e;
    }
    if (v->kind == SF_VAL_SET) sfv_set_dedupe(v);
    *out = v;
    return 0;
}

static int decode_map(decoder *d, const msgpack_object *o, const sf_type *t, int depth, sf_value **out)
{
    bool object = t->kind == SF_TYPE_OBJECT;
    if (o->type != MSGPACK_OBJECT_MAP) return expected(d, object ? "an object" : "a map", o);
    const msgpack_object_map *m = &o->via.map;
    sf_value *v = object ? sf_value_object() : sf_value_map();
    for (uint32_t i = 0; i < m->size; i++) {
        char *key = key_text(d, &m->ptr[i].key);
        if (!key) goto fail;
        size_t mark = d->path.len;
        if (object) sfv_path_attr(&d->path, key);
        else sfv_path_key(&d->path, key);
        const sf_type *et = object ? sf_type_attr(t, key) : t->elem;
        sf_value *e = NULL;
        int rc =
            et ? decode(d, &m->ptr[i].val, et, depth + 1, &e) : sfv_fail(d->err, &d->path, "unsupported attribute");
        sfv_path_pop(&d->path, mark);
        if (rc) {
            free(key);
            goto fail;
        }
        sf_value_put(v, key, e);
        free(key);
    }
    for (size_t i = 0; object && i < t->n; i++) /* absent attributes are null */
        if (!sf_value_get(v, t->names[i])) sf_value_put(v, t->names[i], sf_value_null());
    *out = v;
    return 0;
fail:
    sf_value_free(v);
    return -1;
}

static int decode(decoder *d, const msgpack_object *o, const sf_type *t, int depth, sf_value **out)
{
    *out = NULL;
    if (depth > SFV_MAX_DEPTH) return sfv_fail(d->err, &d->path, "nested more than %d levels deep", SFV_MAX_DEPTH);
    if (o->type == MSGPACK_OBJECT_EXT) return decode_unknown(d, o, t, out);
    if (t->kind == SF_TYPE_DYNAMIC) return decode_dynamic(d, o, depth, out);
    if (o->type == MSGPACK_OBJECT_NIL) {
        *out = sf_value_null();
        return 0;
    }
    const char *p;
    size_t n;
    switch (t->kind) {
    case SF_TYPE_STRING:
        if (!as_bytes(o, &p, &n)) return expected(d, "string", o);
        *out = sf_value_stringn(p, n);
        return 0;
    case SF_TYPE_BOOL:
        if (o->type != MSGPACK_OBJECT_BOOLEAN) return expected(d, "bool", o);
        *out = sf_value_bool(o->via.boolean);
        return 0;
    case SF_TYPE_NUMBER: {
        char *c = number_text(d, o);
        if (!c) return -1;
        *out = sf_value_number_text(c, NULL);
        free(c);
        return 0;
    }
    case SF_TYPE_LIST:
    case SF_TYPE_SET:
    case SF_TYPE_TUPLE: return decode_seq(d, o, t, depth, out);
    case SF_TYPE_MAP:
    case SF_TYPE_OBJECT: return decode_map(d, o, t, depth, out);
    case SF_TYPE_DYNAMIC: break;
    }
    return sfv_fail(d->err, &d->path, "unsupported type");
}

int sf_value_from_msgpack(const void *buf, size_t len, const sf_type *t, sf_value **out, char **err)
{
    *out = NULL;
    if (err) *err = NULL;
    if (!t) return sfv_fail(err, NULL, "no type");
    msgpack_unpacked res;
    const char *why;
    if (!buf || unpack_one(buf, len, false, &res, &why)) return sfv_fail(err, NULL, "%s", buf ? why : "no input");
    decoder d = {{0}, err};
    int rc = decode(&d, &res.data, t, 0, out);
    msgpack_unpacked_destroy(&res);
    sfv_buf_free(&d.path);
    return rc;
}

/* ---- Encoding --------------------------------------------------------- */

/* msgpack-c's buffer writer, with allocation failure aborting as the rest
 * of the module does (a failed write would silently truncate the output). */
static int sb_write(void *data, const char *buf, size_t len)
{
    if (msgpack_sbuffer_write(data, buf, len) != 0) {
        fprintf(stderr, "%s: out of memory\n", program_invocation_short_name);
        abort();
    }
    return 0;
}

typedef struct {
    msgpack_packer pk;
    sfv_buf path;
    char **err;
} encoder;

static int encode(encoder *e, const sf_value *v, const sf_type *t, int depth);

static void pack_bytes(msgpack_packer *pk, const char *p, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, p, n);
}

/* Canonical text of a NUMBER value; *tmp owns a canonicalised copy. */
static const char *value_number(const sf_value *v, char **tmp)
{
    *tmp = NULL;
    if (!v->str) return NULL;
    if (sfv_num_is_canonical(v->str)) return v->str;
    const char *why;
    return *tmp = sfv_num_canon(v->str, strlen(v->str), &why);
}

/* go-cty: int64 when integral and in range, float64 when exact (and not
 * integral), else the decimal text as a string. */
static void pack_number(msgpack_packer *pk, const char *canon)
{
    int64_t i;
    double d;
    if (sfv_num_to_int64(canon, &i) == 0) msgpack_pack_int64(pk, i);
    else if (sfv_num_exact_double(canon, &d)) msgpack_pack_double(pk, d);
    else pack_bytes(pk, canon, strlen(canon));
}

static int pack_unknown(encoder *e, const sf_refinements *r, const sf_type *t)
{
    if (!r || t->kind == SF_TYPE_DYNAMIC) {
        msgpack_pack_ext(&e->pk, 1, 0);
        msgpack_pack_ext_body(&e->pk, "", 1);
        return 0;
    }
    msgpack_sbuffer body;
    msgpack_sbuffer_init(&body);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &body, sb_write);
    uint32_t entries = 0;
    msgpack_sbuffer items;
    msgpack_sbuffer_init(&items);
    msgpack_packer ik;
    msgpack_packer_init(&ik, &items, sb_write);
    int rc = 0;
    if (r->not_null) {
        msgpack_pack_int64(&ik, 1);
        msgpack_pack_false(&ik);
        entries++;
    }
    if (t->kind == SF_TYPE_STRING && r->string_prefix && *r->string_prefix) {
        size_t n = safe_prefix_len(r->string_prefix, strlen(r->string_prefix), PREFIX_MAX);
        if (n) {
            msgpack_pack_int64(&ik, 2);
            pack_bytes(&ik, r->string_prefix, n);
            entries++;
        }
    } else if (t->kind == SF_TYPE_NUMBER) {
        const char *bounds[2] = {r->number_lower, r->number_upper};
        bool incl[2] = {r->number_lower_incl, r->number_upper_incl};
        for (int i = 0; i < 2; i++) {
            if (!bounds[i]) continue;
            const char *why;
            char *c = sfv_num_canon(bounds[i], strlen(bounds[i]), &why);
            if (!c) {
                rc = sfv_fail(e->err, &e->path, "invalid number bound refinement \"%.64s\"", bounds[i]);
                break;
            }
            msgpack_pack_int64(&ik, 3 + i);
            msgpack_pack_array(&ik, 2);
            pack_number(&ik, c);
            if (incl[i]) msgpack_pack_true(&ik);
            else msgpack_pack_false(&ik);
            entries++;
            free(c);
        }
    } else if (is_collection(t)) {
        if (r->has_length_lower && r->length_lower != 0) {
            msgpack_pack_int64(&ik, 5);
            msgpack_pack_int64(&ik, r->length_lower);
            entries++;
        }
        if (r->has_length_upper && r->length_upper != INT64_MAX) {
            msgpack_pack_int64(&ik, 6);
            msgpack_pack_int64(&ik, r->length_upper);
            entries++;
        }
    }
    if (rc == 0 && entries == 0) {
        msgpack_pack_ext(&e->pk, 1, 0);
        msgpack_pack_ext_body(&e->pk, "", 1);
    } else if (rc == 0) {
        msgpack_pack_map(&pk, entries);
        sb_write(&body, items.data, items.size);
        msgpack_pack_ext(&e->pk, body.size, EXT_REFINED);
        msgpack_pack_ext_body(&e->pk, body.data, body.size);
    }
    msgpack_sbuffer_destroy(&items);
    msgpack_sbuffer_destroy(&body);
    return rc;
}

static int kind_fail(encoder *e, const sf_type *t, const sf_value *v)
{
    return sfv_fail(e->err, &e->path, "expected %s, got %s", sfv_type_name(t->kind), sfv_value_name(v->kind));
}

/* A value in a "dynamic" slot: [type JSON as bin, value] when its type is
 * known (dyn_type, or implied by a known value), else plain nil/unknown. */
static int encode_dynamic(encoder *e, const sf_value *v, int depth)
{
    static const sf_type dyn = {.kind = SF_TYPE_DYNAMIC};
    const sf_type *t = sfv_slot_type(v, &dyn);
    if (sf_value_is_null(v) && !t) {
        msgpack_pack_nil(&e->pk);
        return 0;
    }
    if (v->kind == SF_VAL_UNKNOWN && !t) return pack_unknown(e, NULL, &dyn);
    sf_type *implied = NULL;
    if (!t) {
        t = implied = sf_value_implied_type(v);
        if (!t) return sfv_fail(e->err, &e->path, "value in a dynamic attribute has no single type");
    }
    char *json = sf_type_to_json(t);
    if (!json) abort();
    msgpack_pack_array(&e->pk, 2);
    msgpack_pack_bin(&e->pk, strlen(json));
    msgpack_pack_bin_body(&e->pk, json, strlen(json));
    free(json);
    int rc = encode(e, v, t, depth + 1);
    sf_type_free(implied);
    return rc;
}

static int encode_elem(encoder *e, const sf_value *v, const sf_type *t, size_t i, int depth)
{
    size_t mark = e->path.len;
    sfv_path_index(&e->path, i);
    int rc = encode(e, v, t, depth + 1);
    sfv_path_pop(&e->path, mark);
    return rc;
}

static bool keys_sorted(const sf_value *v)
{
    for (size_t i = 1; i < v->n; i++)
        if (strcmp(v->keys[i - 1], v->keys[i]) >= 0) return false;
    return true;
}

static int encode_map(encoder *e, const sf_value *v, const sf_type *t, int depth)
{
    if (v->kind != SF_VAL_MAP) return kind_fail(e, t, v);
    if (!keys_sorted(v)) return sfv_fail(e->err, &e->path, "map keys out of order (build maps with sf_value_put)");
    msgpack_pack_map(&e->pk, v->n);
    for (size_t i = 0; i < v->n; i++) {
        pack_bytes(&e->pk, v->keys[i], strlen(v->keys[i]));
        size_t mark = e->path.len;
        sfv_path_key(&e->path, v->keys[i]);
        int rc = encode(e, v->elems[i], t->elem, depth + 1);
        sfv_path_pop(&e->path, mark);
        if (rc) return -1;
    }
    return 0;
}

static int encode_object(encoder *e, const sf_value *v, const sf_type *t, int depth)
{
    if (v->kind != SF_VAL_OBJECT) return kind_fail(e, t, v);
    for (size_t i = 0; i < v->n; i++) {
        if (sf_type_attr_index(t, v->keys[i]) < 0) {
            sfv_path_attr(&e->path, v->keys[i]);
            return sfv_fail(e->err, &e->path, "unsupported attribute");
        }
    }
    msgpack_pack_map(&e->pk, t->n);
    for (size_t i = 0; i < t->n; i++) {
        pack_bytes(&e->pk, t->names[i], strlen(t->names[i]));
        size_t mark = e->path.len;
        sfv_path_attr(&e->path, t->names[i]);
        int rc = encode(e, sfv_attr(v, t->names[i]), t->types[i], depth + 1);
        sfv_path_pop(&e->path, mark);
        if (rc) return -1;
    }
    return 0;
}

static int encode(encoder *e, const sf_value *v, const sf_type *t, int depth)
{
    if (depth > SFV_MAX_DEPTH) return sfv_fail(e->err, &e->path, "nested more than %d levels deep", SFV_MAX_DEPTH);
    if (t->kind == SF_TYPE_DYNAMIC) return encode_dynamic(e, v, depth);
    if (sf_value_is_null(v)) {
        msgpack_pack_nil(&e->pk);
        return 0;
    }
    if (v->kind == SF_VAL_UNKNOWN) return pack_unknown(e, v->refine, t);
    switch (t->kind) {
    case SF_TYPE_STRING:
        if (v->kind != SF_VAL_STRING) return kind_fail(e, t, v);
        pack_bytes(&e->pk, v->str ? v->str : "", v->str ? v->len : 0);
        return 0;
    case SF_TYPE_BOOL:
        if (v->kind != SF_VAL_BOOL) return kind_fail(e, t, v);
        if (v->boolean) msgpack_pack_true(&e->pk);
        else msgpack_pack_false(&e->pk);
        return 0;
    case SF_TYPE_NUMBER: {
        if (v->kind != SF_VAL_NUMBER) return kind_fail(e, t, v);
        char *tmp;
        const char *c = value_number(v, &tmp);
        if (!c) return sfv_fail(e->err, &e->path, "invalid number \"%.64s\"", v->str ? v->str : "");
        pack_number(&e->pk, c);
        free(tmp);
        return 0;
    }
    case SF_TYPE_LIST:
        if (v->kind != SF_VAL_LIST) return kind_fail(e, t, v);
        msgpack_pack_array(&e->pk, v->n);
        for (size_t i = 0; i < v->n; i++)
            if (encode_elem(e, v->elems[i], t->elem, i, depth)) return -1;
        return 0;
    case SF_TYPE_SET: {
        if (v->kind != SF_VAL_SET) return kind_fail(e, t, v);
        const sf_value **order = sfv_set_order(v, t->elem);
        msgpack_pack_array(&e->pk, v->n);
        int rc = 0;
        for (size_t i = 0; i < v->n && rc == 0; i++) rc = encode_elem(e, order[i], t->elem, i, depth);
        free(order);
        return rc;
    }
    case SF_TYPE_TUPLE:
        if (v->kind != SF_VAL_TUPLE) return kind_fail(e, t, v);
        if (v->n != t->n) return sfv_fail(e->err, &e->path, "expected a tuple of %zu elements, got %zu", t->n, v->n);
        msgpack_pack_array(&e->pk, v->n);
        for (size_t i = 0; i < v->n; i++)
            if (encode_elem(e, v->elems[i], t->types[i], i, depth)) return -1;
        return 0;
    case SF_TYPE_MAP: return encode_map(e, v, t, depth);
    case SF_TYPE_OBJECT: return encode_object(e, v, t, depth);
    case SF_TYPE_DYNAMIC: break;
    }
    return sfv_fail(e->err, &e->path, "unsupported type");
}

/* *buf is malloc'd (caller frees with free()).  Attributes absent from an
 * object value are written as null. */
int sf_value_to_msgpack(const sf_value *v, const sf_type *t, void **buf, size_t *len, char **err)
{
    *buf = NULL;
    *len = 0;
    if (err) *err = NULL;
    if (!t) return sfv_fail(err, NULL, "no type");
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    encoder e = {.err = err};
    msgpack_packer_init(&e.pk, &sb, sb_write);
    int rc = encode(&e, v, t, 0);
    sfv_buf_free(&e.path);
    if (rc) {
        msgpack_sbuffer_destroy(&sb);
        return -1;
    }
    *len = sb.size;
    *buf = msgpack_sbuffer_release(&sb);
    return 0;
}
