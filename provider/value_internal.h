/* value_internal.h — helpers shared by the value module's files, not public.
 *
 * type.c, value.c, value_number.c, value_order.c, value_msgpack.c and
 * value_json.c implement value.h together; what they share lives here with
 * the prefix sfv_ so that nothing outside provider/value*.c relies on it.
 */
#ifndef SF_VALUE_INTERNAL_H
#define SF_VALUE_INTERNAL_H

#include "base/str.h"
#include "provider/value.h"

#include <stdarg.h>

/* Deepest nesting a decoder accepts (types and values together).  msgpack
 * is further bounded by msgpack-c's unpacker stack: SFV_MSGPACK_MAX_DEPTH. */
#define SFV_MAX_DEPTH 64
#define SFV_MSGPACK_MAX_DEPTH 32
/* Longest canonical number text: 1e4000 fits, 1e999999999 does not. */
#define SFV_NUM_MAX_TEXT 4096

/* ---- Memory: allocation failure aborts (value.h: "OOM aborts"). ---- */
void *sfv_malloc(size_t n);
void *sfv_calloc(size_t n, size_t size);
void *sfv_realloc(void *p, size_t n);
char *sfv_strndup(const char *s, size_t n);

/* ---- Growable byte buffer, always NUL-terminated when p != NULL. ---- */
typedef struct {
    char *p;
    size_t len, cap;
} sfv_buf;

void sfv_buf_put(sfv_buf *b, const void *s, size_t n);
void sfv_buf_puts(sfv_buf *b, const char *s);
void sfv_buf_putc(sfv_buf *b, char c);
void sfv_buf_printf(sfv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The contents (malloc'd, NUL-terminated, never NULL); b is left empty. */
char *sfv_buf_steal(sfv_buf *b);
void sfv_buf_free(sfv_buf *b);

/* ---- Paths for error messages: workers[0].name, tags["k"]. ----
 * Push with the functions below; pop by restoring len (sfv_path_pop). */
void sfv_path_attr(sfv_buf *p, const char *name);
void sfv_path_index(sfv_buf *p, size_t i);
void sfv_path_key(sfv_buf *p, const char *key);
void sfv_path_pop(sfv_buf *p, size_t len);
/* Sets *err (if err) to "<path>: <message>" ("(root)" for the empty path)
 * and returns -1. */
int sfv_fail(char **err, const sfv_buf *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- Numbers as canonical decimal text (value_number.c). ----
 * Canonical form: "-"? int-digits ("." frac-digits)?, no exponent, no
 * leading zeros in the integer part (a lone "0" aside), no trailing zeros
 * in the fraction, and no "-0".  Equal numbers have equal text. */

/* Canonical text of a decimal number ("+1.50e2" -> "150"); NULL and *why
 * (static text) when the text is not a number or is too large. */
char *sfv_num_canon(const char *text, size_t len, const char **why);
bool sfv_num_is_canonical(const char *text);
/* -1, 0, 1 as a < b, a == b, a > b; both canonical. */
int sfv_num_cmp(const char *a, const char *b);
bool sfv_num_is_int(const char *canon);
/* 0 and *out when canon is an integer within int64, else -1. */
int sfv_num_to_int64(const char *canon, int64_t *out);
/* True (and *out) when canon is not an integer and is exactly a double:
 * then go-cty writes it as msgpack float64. */
bool sfv_num_exact_double(const char *canon, double *out);
/* Canonical text of the shortest decimal that reads back as d (what Go's
 * big.Float.Text('f', -1) gives for a float64); d must be finite. */
char *sfv_num_from_double(double d);
/* go-cty's set hash text of a number: big.Float.String(), i.e. %.10g. */
void sfv_num_hash_text(const char *canon, sfv_buf *out);

/* ---- Refinements ---- */
sf_refinements *sfv_refine_copy(const sf_refinements *r);
void sfv_refine_free(sf_refinements *r);
bool sfv_refine_equal(const sf_refinements *a, const sf_refinements *b);

/* ---- Values ---- */
/* The type a value sitting in a slot of type t is encoded with: t itself,
 * or for "dynamic" the value's dyn_type (NULL when it has none). */
const sf_type *sfv_slot_type(const sf_value *v, const sf_type *t);
/* Attribute of an OBJECT value, NULL when absent (absent reads as null). */
const sf_value *sfv_attr(const sf_value *obj, const char *name);
bool sfv_utf8_valid(const char *s, size_t n);
/* Hash consistent with sf_value_equal (equal values, equal hashes). */
uint64_t sfv_hash(const sf_value *v);
/* Removes from a SET the wholly known elements equal to an earlier one,
 * keeping order; the decoders fill sets raw and call this (n log n). */
void sfv_set_dedupe(sf_value *set);
/* "string", "list", ... for messages. */
const char *sfv_type_name(sf_type_kind k);
const char *sfv_value_name(sf_value_kind k);
/* Type from a parsed JSON type description (type.c); depth counts toward
 * SFV_MAX_DEPTH.  NULL and *err on error. */
struct cJSON;
sf_type *sfv_type_from_cjson(const struct cJSON *j, int depth, char **err);

/* ---- Set order (value_order.c) ----
 * The elements of a SET value in the order go-cty iterates them, so that
 * encodings match go-cty byte for byte.  Returns a malloc'd array of
 * set->n borrowed pointers (NULL when set->n == 0). */
const sf_value **sfv_set_order(const sf_value *set, const sf_type *elem);

#endif
