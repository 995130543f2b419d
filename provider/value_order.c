/* value_order.c — the order go-cty gives set elements, so encodings match it.
 *
 * A set has no order, but its msgpack and JSON encodings list the elements
 * in some order, and Terraform compares plans byte for byte in places, so
 * this follows go-cty (cty/set_internals.go, setRules.Less) exactly:
 *   known values first, then unknowns, then null;
 *   strings by bytes, numbers by value, false before true;
 *   any other element type by its "hash bytes" (appendSetHashBytes), a
 *   textual rendering compared bytewise;
 *   ties keep insertion order (go-cty's sort is stable and equal-hash
 *   elements share a bucket).
 * Strings in hash bytes are quoted as Go's %q does; which characters Go
 * deems printable is approximated for non-ASCII (see go_printable).
 */
#include "base/str.h"
#include "provider/value_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- Hash bytes ------------------------------------------------------- */

/* unicode.IsPrint for non-ASCII, approximately: separators, format and
 * private-use characters, C1 controls and noncharacters are not. */
static bool go_printable(uint32_t r)
{
    if (r < 0x80) return r >= 0x20 && r < 0x7f;
    if (r <= 0xa0 || r == 0xad) return false;
    if (r == 0x1680 || (r >= 0x2000 && r <= 0x200f) || (r >= 0x2028 && r <= 0x202f) || (r >= 0x205f && r <= 0x206f) ||
        r == 0x3000 || r == 0xfeff || (r >= 0xfff9 && r <= 0xfffb))
        return false;
    if ((r >= 0x600 && r <= 0x605) || r == 0x61c || r == 0x6dd || r == 0x70f || r == 0x180e) return false;
    if ((r >= 0xe000 && r <= 0xf8ff) || r >= 0xf0000 || (r >= 0xfdd0 && r <= 0xfdef) || (r & 0xfffe) == 0xfffe ||
        (r >= 0xe0000 && r <= 0xe007f))
        return false;
    return true;
}

/* Go's strconv.Quote. */
static void go_quote(const char *s, size_t n, sfv_buf *out)
{
    const unsigned char *p = (const unsigned char *)s;
    sfv_buf_putc(out, '"');
    while (n) {
        uint32_t r;
        size_t k = sf_utf8_next(p, n, &r);
        if (!k) {
            sfv_buf_printf(out, "\\x%02x", p[0]);
            p++, n--;
            continue;
        }
        if (r == '"' || r == '\\') {
            sfv_buf_putc(out, '\\');
            sfv_buf_putc(out, (char)r);
        } else if (go_printable(r)) {
            sfv_buf_put(out, p, k);
        } else {
            switch (r) {
            case '\a': sfv_buf_puts(out, "\\a"); break;
            case '\b': sfv_buf_puts(out, "\\b"); break;
            case '\f': sfv_buf_puts(out, "\\f"); break;
            case '\n': sfv_buf_puts(out, "\\n"); break;
            case '\r': sfv_buf_puts(out, "\\r"); break;
            case '\t': sfv_buf_puts(out, "\\t"); break;
            case '\v': sfv_buf_puts(out, "\\v"); break;
            default:
                if (r < ' ' || r == 0x7f) sfv_buf_printf(out, "\\x%02x", (unsigned)r);
                else if (r < 0x10000) sfv_buf_printf(out, "\\u%04x", (unsigned)r);
                else sfv_buf_printf(out, "\\U%08x", (unsigned)r);
            }
        }
        p += k;
        n -= k;
    }
    sfv_buf_putc(out, '"');
}

static void hash_bytes(const sf_value *v, const sf_type *t, sfv_buf *out, int depth);

static void hash_seq(const sf_value *v, const sf_type *t, sfv_buf *out, int depth, char open, char close)
{
    sfv_buf_putc(out, open);
    if (v->kind == SF_VAL_SET) {
        const sf_value **order = sfv_set_order(v, t ? t->elem : NULL);
        for (size_t i = 0; i < v->n; i++) {
            hash_bytes(order[i], t ? t->elem : NULL, out, depth + 1);
            sfv_buf_putc(out, ';');
        }
        free(order);
    } else {
        for (size_t i = 0; i < v->n; i++) {
            const sf_type *et = !t ? NULL : t->kind == SF_TYPE_TUPLE ? (i < t->n ? t->types[i] : NULL) : t->elem;
            hash_bytes(v->elems[i], et, out, depth + 1);
            sfv_buf_putc(out, ';');
        }
    }
    sfv_buf_putc(out, close);
}

static void hash_bytes(const sf_value *v, const sf_type *t, sfv_buf *out, int depth)
{
    if (depth > SFV_MAX_DEPTH) return;
    if (t && t->kind == SF_TYPE_DYNAMIC) t = sfv_slot_type(v, t);
    if (v && v->kind == SF_VAL_UNKNOWN) {
        sfv_buf_putc(out, '?');
        return;
    }
    if (sf_value_is_null(v)) {
        sfv_buf_putc(out, '~');
        return;
    }
    switch (v->kind) {
    case SF_VAL_NUMBER: sfv_num_hash_text(v->str, out); return;
    case SF_VAL_BOOL: sfv_buf_putc(out, v->boolean ? 'T' : 'F'); return;
    case SF_VAL_STRING: go_quote(v->str, v->len, out); return;
    case SF_VAL_MAP:
        sfv_buf_putc(out, '{');
        for (size_t i = 0; i < v->n; i++) {
            go_quote(v->keys[i], strlen(v->keys[i]), out);
            sfv_buf_putc(out, ':');
            hash_bytes(v->elems[i], t && t->kind == SF_TYPE_MAP ? t->elem : NULL, out, depth + 1);
            sfv_buf_putc(out, ';');
        }
        sfv_buf_putc(out, '}');
        return;
    case SF_VAL_LIST:
    case SF_VAL_SET: hash_seq(v, t && t->elem ? t : NULL, out, depth, '[', ']'); return;
    case SF_VAL_TUPLE: hash_seq(v, t && t->kind == SF_TYPE_TUPLE ? t : NULL, out, depth, '<', '>'); return;
    case SF_VAL_OBJECT:
        sfv_buf_putc(out, '<');
        if (t && t->kind == SF_TYPE_OBJECT) {
            for (size_t i = 0; i < t->n; i++) {
                hash_bytes(sfv_attr(v, t->names[i]), t->types[i], out, depth + 1);
                sfv_buf_putc(out, ';');
            }
        } else {
            for (size_t i = 0; i < v->n; i++) {
                hash_bytes(v->elems[i], NULL, out, depth + 1);
                sfv_buf_putc(out, ';');
            }
        }
        sfv_buf_putc(out, '>');
        return;
    default: return;
    }
}

/* ---- Ordering --------------------------------------------------------- */

typedef struct {
    const sf_value *v;
    int rank;   /* 0 known, 1 unknown, 2 null */
    char *hash; /* hash bytes, for element types without a natural order */
    size_t hlen;
} entry;

typedef enum { BY_STRING, BY_NUMBER, BY_BOOL, BY_HASH } order_kind;

static int cmp_entries(const entry *a, const entry *b, order_kind how)
{
    if (a->rank != b->rank) return a->rank < b->rank ? -1 : 1;
    if (a->rank != 0) return 0;
    const sf_value *x = a->v, *y = b->v;
    switch (how) {
    case BY_STRING:
        if (x->kind == SF_VAL_STRING && y->kind == SF_VAL_STRING) {
            size_t n = x->len < y->len ? x->len : y->len;
            int c = n ? memcmp(x->str, y->str, n) : 0;
            if (c) return c < 0 ? -1 : 1;
            return x->len < y->len ? -1 : x->len > y->len;
        }
        return 0;
    case BY_NUMBER:
        if (x->kind == SF_VAL_NUMBER && y->kind == SF_VAL_NUMBER) return sfv_num_cmp(x->str, y->str);
        return 0;
    case BY_BOOL:
        if (x->kind == SF_VAL_BOOL && y->kind == SF_VAL_BOOL) return (int)x->boolean - (int)y->boolean;
        return 0;
    case BY_HASH: {
        size_t n = a->hlen < b->hlen ? a->hlen : b->hlen;
        int c = n ? memcmp(a->hash, b->hash, n) : 0;
        if (c) return c < 0 ? -1 : 1;
        return a->hlen < b->hlen ? -1 : a->hlen > b->hlen;
    }
    }
    return 0;
}

/* Stable merge sort of e[0..n) using tmp as scratch. */
static void merge_sort(entry *e, entry *tmp, size_t n, order_kind how)
{
    if (n < 2) return;
    size_t h = n / 2;
    merge_sort(e, tmp, h, how);
    merge_sort(e + h, tmp, n - h, how);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = cmp_entries(&e[j], &e[i], how) < 0 ? e[j++] : e[i++];
    while (i < h) tmp[k++] = e[i++];
    while (j < n) tmp[k++] = e[j++];
    memcpy(e, tmp, n * sizeof *e);
}

const sf_value **sfv_set_order(const sf_value *set, const sf_type *elem)
{
    size_t n = set->n;
    if (n == 0) return NULL;
    order_kind how = BY_HASH;
    if (elem && elem->kind == SF_TYPE_STRING) how = BY_STRING;
    else if (elem && elem->kind == SF_TYPE_NUMBER) how = BY_NUMBER;
    else if (elem && elem->kind == SF_TYPE_BOOL) how = BY_BOOL;
    entry *e = sfv_calloc(n, sizeof *e), *tmp = sfv_calloc(n, sizeof *tmp);
    for (size_t i = 0; i < n; i++) {
        const sf_value *v = set->elems[i];
        e[i].v = v;
        e[i].rank = sf_value_is_null(v) ? 2 : v->kind == SF_VAL_UNKNOWN ? 1 : 0;
        if (how == BY_HASH && e[i].rank == 0) {
            sfv_buf b = {0};
            hash_bytes(v, elem, &b, 0);
            e[i].hlen = b.len;
            e[i].hash = sfv_buf_steal(&b);
        }
    }
    merge_sort(e, tmp, n, how);
    const sf_value **out = sfv_calloc(n, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        out[i] = e[i].v;
        free(e[i].hash);
    }
    free(e);
    free(tmp);
    return out;
}
