/* value.h — Terraform's type system (go-cty) in C: types, values, codecs.
 *
 * Terraform exchanges every configuration, plan and state as a value of a
 * type derived from the schema.  This module models both, and converts values
 * from and to the two wire encodings Terraform uses (msgpack, JSON).
 *
 * Ownership: every sf_type and sf_value returned by a function here is owned
 * by the caller and released with sf_type_free / sf_value_free.  Functions
 * that take an argument named `owned` take ownership of it, even on error.
 * Types are immutable once built; values are mutable trees.
 *
 * Errors: fallible functions return 0 on success and -1 on failure; when
 * `err` is not NULL, *err receives a malloc'd message (caller frees) that
 * names the offending path, e.g. "local.workers: expected number".
 */
#ifndef SF_VALUE_H
#define SF_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Types ------------------------------------------------------------ */

typedef enum {
    SF_TYPE_DYNAMIC = 0, /* "dynamic": the value carries its own type */
    SF_TYPE_STRING,
    SF_TYPE_NUMBER,
    SF_TYPE_BOOL,
    SF_TYPE_LIST,
    SF_TYPE_SET,
    SF_TYPE_MAP,
    SF_TYPE_OBJECT,
    SF_TYPE_TUPLE,
} sf_type_kind;

typedef struct sf_type sf_type;
struct sf_type {
    sf_type_kind kind;
    sf_type *elem;   /* list, set, map: the element type */
    size_t n;        /* object: attribute count; tuple: element count */
    char **names;    /* object: attribute names, sorted by strcmp */
    sf_type **types; /* object: attribute types (same order); tuple: elements */
    bool *optional;  /* object: optional-attribute flags, NULL when none */
};

sf_type *sf_type_primitive(sf_type_kind kind); /* can't fail */
sf_type *sf_type_collection(sf_type_kind kind, sf_type *owned_elem);
/* Object type from parallel arrays; names are copied, types are taken.
 * Names need not be sorted on input.  NULL on duplicate names. */
sf_type *sf_type_object(size_t n, const char *const *names, sf_type **owned_types);
/* As sf_type_object; optional[i] marks attribute i optional (optional may
 * be NULL).  NULL on duplicate names or a NULL type. */
sf_type *sf_type_object_optional(size_t n, const char *const *names, sf_type **owned_types, const bool *optional);
sf_type *sf_type_tuple(size_t n, sf_type **owned_types);
sf_type *sf_type_copy(const sf_type *t);
void sf_type_free(sf_type *t);
bool sf_type_equal(const sf_type *a, const sf_type *b);
/* Index of an object attribute, or -1. */
long sf_type_attr_index(const sf_type *object, const char *name);
const sf_type *sf_type_attr(const sf_type *object, const char *name);

/* Compact JSON type syntax: "string", ["list","number"],
 * ["object",{"a":"bool"}], ["object",{...},["a"]] (optional attrs),
 * ["tuple",[...]], "dynamic". */
sf_type *sf_type_from_json(const char *json, size_t len, char **err);
char *sf_type_to_json(const sf_type *t); /* malloc'd; NULL only on OOM */

/* ---- Values ----------------------------------------------------------- */

typedef enum {
    SF_VAL_NULL = 0,
    SF_VAL_UNKNOWN,
    SF_VAL_STRING,
    SF_VAL_NUMBER,
    SF_VAL_BOOL,
    SF_VAL_LIST,
    SF_VAL_SET,
    SF_VAL_MAP,
    SF_VAL_OBJECT,
    SF_VAL_TUPLE,
} sf_value_kind;

/* What Terraform knows about an unknown value (msgpack ext type 12). */
typedef struct sf_refinements {
    bool not_null;       /* key 1 */
    char *string_prefix; /* key 2, NULL when absent */
    char *number_lower;  /* key 3: decimal text, NULL when absent */
    bool number_lower_incl;
    char *number_upper; /* key 4 */
    bool number_upper_incl;
    bool has_length_lower; /* key 5 */
    int64_t length_lower;
    bool has_length_upper; /* key 6 */
    int64_t length_upper;
} sf_refinements;

typedef struct sf_value sf_value;
struct sf_value {
    sf_value_kind kind;
    bool boolean;           /* SF_VAL_BOOL */
    char *str;              /* STRING: bytes (NUL-terminated copy);
                               NUMBER: canonical decimal text: "-12", "0.5",
                               no exponent ("1e+400" is "1" and 400 zeros),
                               no leading/trailing zeros, no "-0"; so equal
                               numbers have equal text (value_number.c) */
    size_t len;             /* length of str in bytes */
    size_t n;               /* LIST/SET/TUPLE: element count;
                               MAP/OBJECT: entry count */
    char **keys;            /* MAP/OBJECT: keys, sorted by strcmp */
    sf_value **elems;       /* children, parallel to keys for MAP/OBJECT */
    sf_type *dyn_type;      /* set when the value sat in a "dynamic" slot:
                               its concrete type (owned); NULL otherwise */
    sf_refinements *refine; /* UNKNOWN only; NULL for a plain unknown */
};

/* Constructors (can't fail except on OOM, which aborts). */
sf_value *sf_value_null(void);
sf_value *sf_value_unknown(void);
sf_value *sf_value_string(const char *s);
sf_value *sf_value_stringn(const char *s, size_t len);
sf_value *sf_value_bool(bool b);
sf_value *sf_value_int(int64_t i);
sf_value *sf_value_double(double d); /* finite only */
/* Number from decimal text; NULL (and *err) if not a valid number. */
sf_value *sf_value_number_text(const char *text, char **err);
sf_value *sf_value_list(void);   /* empty list */
sf_value *sf_value_set(void);    /* empty set */
sf_value *sf_value_tuple(void);  /* empty tuple */
sf_value *sf_value_map(void);    /* empty map */
sf_value *sf_value_object(void); /* object with no attributes */
/* The refinements of an UNKNOWN value, created empty if it has none, to
 * fill in (strings malloc'd; sf_value_free releases them).  NULL when v is
 * not unknown. */
sf_refinements *sf_value_refine(sf_value *v);

/* Append to a LIST/SET/TUPLE.  Sets ignore an element equal to one present
 * when it is wholly known (go-cty never merges values with unknowns). */
void sf_value_append(sf_value *seq, sf_value *owned);
/* Insert or replace an entry of a MAP/OBJECT (keys stay sorted). */
void sf_value_put(sf_value *obj, const char *key, sf_value *owned);
/* Entry of a MAP/OBJECT, or NULL when absent. */
sf_value *sf_value_get(const sf_value *obj, const char *key);
/* Remove an entry if present; returns it (caller owns) or NULL. */
sf_value *sf_value_take(sf_value *obj, const char *key);

sf_value *sf_value_copy(const sf_value *v);
void sf_value_free(sf_value *v);

/* Structural equality: kinds, contents and unknown-ness (refinements are
 * compared too).  Sets compare as unordered; numbers by value; an object
 * attribute absent on one side equals null on the other; NULL pointers are
 * null values; dyn_type counts only when both values have one. */
bool sf_value_equal(const sf_value *a, const sf_value *b);
static inline bool sf_value_is_null(const sf_value *v)
{
    return !v || v->kind == SF_VAL_NULL;
}
static inline bool sf_value_is_unknown(const sf_value *v)
{
    return v && v->kind == SF_VAL_UNKNOWN;
}
/* True when neither v nor anything inside it is unknown. */
bool sf_value_is_wholly_known(const sf_value *v);

/* Number accessors: 0 on success, -1 if v is not a number that fits. */
int sf_value_get_int(const sf_value *v, int64_t *out);
int sf_value_get_double(const sf_value *v, double *out);
/* String accessor: the bytes, or NULL when v is not a known string. */
const char *sf_value_get_str(const sf_value *v);

/* Check that v conforms to type t (nulls and unknowns conform anywhere;
 * absent object attributes count as null). */
int sf_value_conforms(const sf_value *v, const sf_type *t, char **err);
/* The type v implies (its dyn_type if set): used to put a value built
 * without a type into a "dynamic" slot.  Collections need one element type
 * ("dynamic" if all elements are null/unknown).  NULL when there is none. */
sf_type *sf_value_implied_type(const sf_value *v);

/* ---- Codecs ----------------------------------------------------------- */

/* msgpack as Terraform writes it (DynamicValue.msgpack).  Accepts ints,
 * floats and decimal strings for numbers, any ext type as unknown (type 12
 * payload parsed into refinements), [type-json, value] for dynamic.
 * Absent object attributes decode as null; unknown ones, trailing bytes and
 * nesting deeper than 32 (msgpack-c's limit) are errors. */
int sf_value_from_msgpack(const void *buf, size_t len, const sf_type *t, sf_value **out, char **err);
/* Encode v as type t, byte for byte as go-cty.  Numbers: int when integral
 * and in int64 range, float64 when exactly representable (and that float64
 * decodes back to the same text), else decimal string (as go-cty does).  Unknown with refinements → ext 12, plain
 * unknown → ext 0 (d4 00 00).  Sets in go-cty's element order.  *buf is
 * malloc'd: free() it. */
int sf_value_to_msgpack(const sf_value *v, const sf_type *t, void **buf, size_t *len, char **err);

/* JSON as Terraform stores state (DynamicValue.json, RawState.json).
 * Unknowns cannot appear.  Object attributes missing from the JSON decode as
 * null (state written by an older schema); unknown attributes are an error
 * unless `ignore_extra` is true. */
int sf_value_from_json(const char *json, size_t len, const sf_type *t, bool ignore_extra, sf_value **out, char **err);
/* JSON text (malloc'd) for logs and debugging; unknowns print as "(unknown)". */
char *sf_value_to_json(const sf_value *v, const sf_type *t);

#endif
