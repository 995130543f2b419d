/* glue_find.c — which tables a published run holds, found in the listing of
 * its objects (catalog.h says what a table is; glue.h the result).
 *
 * A key is read as  <table dir>/[<k>=<v>/...]<file>:  the segments before
 * the first `k=v` one name the table's directory, the `k=v` ones after it
 * its partitions.  Only `.parquet` files make a table; a
 * _sparkflow_schema.json right in a table's directory is its schema.  Keys
 * under a directory starting with '_' or '.' (Spark's _temporary, our
 * _sparkflow) and files starting with either are not data.  Nothing here
 * reads an object or calls AWS: the same listing always gives the same
 * tables.
 */
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "catalogs/glue.h"

/* A table being collected. */
typedef struct acc {
    sf_glue_found t;
    bool has_files;
    bool mixed; /* files at different partition layouts (reported once) */
    bool keys_set;
} acc;

typedef struct accs {
    acc *items;
    size_t n, cap;
} accs;

static acc *acc_of(accs *a, const char *dir, size_t len)
{
    for (size_t i = 0; i < a->n; i++)
        if (strlen(a->items[i].t.dir) == len && strncmp(a->items[i].t.dir, dir, len) == 0) return &a->items[i];
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 8;
        a->items = realloc(a->items, a->cap * sizeof *a->items);
        if (!a->items) abort();
    }
    acc *x = &a->items[a->n++];
    *x = (acc){0};
    x->t.dir = sf_strndup(dir, len);
    return x;
}

static void part_clear(sf_glue_part *p)
{
    for (size_t i = 0; i < p->n_values; i++) free(p->values[i]);
    free(p->values);
    free(p->key);
}

static void found_clear(sf_glue_found *t)
{
    for (size_t i = 0; i < t->n_parts; i++) part_clear(&t->parts[i]);
    free(t->parts);
    free(t->dir);
    free(t->name);
    *t = (sf_glue_found){0};
}

void sf_glue_found_list_clear(sf_glue_found_list *l)
{
    for (size_t i = 0; i < l->n; i++) found_clear(&l->items[i]);
    free(l->items);
    for (size_t i = 0; i < l->n_empty; i++) free(l->empty[i]);
    free(l->empty);
    *l = (sf_glue_found_list){0};
}

static bool hidden(const char *seg, size_t n)
{
    return n > 0 && (seg[0] == '_' || seg[0] == '.');
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static void add_value(sf_glue_part *p, const char *v, size_t n)
{
    for (size_t i = 0; i < p->n_values; i++)
        if (strlen(p->values[i]) == n && strncmp(p->values[i], v, n) == 0) return;
    p->values = realloc(p->values, (p->n_values + 1) * sizeof *p->values);
    if (!p->values) abort();
    p->values[p->n_values++] = sf_strndup(v, n);
}

/* "k1/k2" of a key's partition segments, or "(none)"; malloc'd. */
static char *layout_text(const char *parts, size_t n)
{
    sf_buf b = {0};
    for (const char *s = parts; s < parts + n;) {
        size_t len = strcspn(s, "/");
        if (b.len) sf_buf_puts(&b, "/");
        sf_buf_append(&b, s, strcspn(s, "="));
        s += len + 1;
    }
    return b.len ? sf_buf_take(&b) : sf_strdup("(none)");
}

static char *keys_text(const sf_glue_found *t)
{
    sf_buf b = {0};
    for (size_t i = 0; i < t->n_parts; i++) sf_buf_printf(&b, "%s%s", i ? "/" : "", t->parts[i].key);
    return b.len ? sf_buf_take(&b) : sf_strdup("(none)");
}

/* A data file of table x under partition segments parts[0..n) ("k=v/k=v/"). */
static void add_file(acc *x, const char *parts, size_t n, sf_diags *d)
{
    size_t depth = 0;
    for (size_t i = 0; i < n; i++) depth += parts[i] == '/';
    bool same = x->keys_set && depth == x->t.n_parts;
    for (size_t i = 0, off = 0; same && i < depth; i++) {
        size_t len = strcspn(parts + off, "="), seg = strcspn(parts + off, "/");
        same = strlen(x->t.parts[i].key) == len && strncmp(x->t.parts[i].key, parts + off, len) == 0;
        off += seg + 1;
    }
    if (!x->keys_set) {
        x->keys_set = true;
        x->t.parts = depth ? calloc(depth, sizeof *x->t.parts) : NULL;
        if (depth && !x->t.parts) abort();
        x->t.n_parts = depth;
        for (size_t i = 0, off = 0; i < depth; i++) {
            x->t.parts[i].key = sf_strndup(parts + off, strcspn(parts + off, "="));
            off += strcspn(parts + off, "/") + 1;
        }
        same = true;
    }
    if (!same) {
        if (!x->mixed) {
            char *had = keys_text(&x->t), *now = layout_text(parts, n);
            sf_diag_error(d, NULL, "Cannot catalog a table",
                          "The files of %s lie in different partition layouts (%s and %s): Glue gives a table "
                          "one set of partition keys. Write the table with one partitionBy().",
                          x->t.dir, had, now);
            free(had);
            free(now);
        }
        x->mixed = true;
        return;
    }
    x->has_files = true;
    for (size_t i = 0, off = 0; i < depth; i++) {
        size_t seg = strcspn(parts + off, "/"), klen = strcspn(parts + off, "=");
        add_value(&x->t.parts[i], parts + off + klen + 1, seg - klen - 1);
        off += seg + 1;
    }
}

/* One key of the listing. */
static void add_key(accs *a, const char *rel, sf_diags *d)
{
    const char *file = strrchr(rel, '/');
    if (!file) return; /* at the run's root: no table directory */
    file++;
    size_t flen = strlen(file);
    if (flen == 0) return; /* a folder marker */
    /* The table directory: up to the first k=v segment. */
    const char *s = rel, *parts = NULL;
    while (s < file - 1) {
        size_t n = strcspn(s, "/");
        if (memchr(s, '=', n)) {
            parts = s;
            break;
        }
        if (hidden(s, n) || n == 0) return;
        s += n + 1;
    }
    const char *dir_end = parts ? parts - 1 : file - 1;
    if (dir_end <= rel) return; /* partitions right at the root */
    size_t parts_len = parts ? (size_t)(file - parts) : 0;
    for (const char *p = parts; p && p < file; p += strcspn(p, "/") + 1) {
        size_t n = strcspn(p, "/");
        const char *eq = memchr(p, '=', n);
        if (!eq || eq == p) return; /* a plain directory below a partition: not Hive-style */
    }
    if (strcmp(file, SF_GLUE_SCHEMA_FILE) == 0) {
        if (!parts) acc_of(a, rel, (size_t)(dir_end - rel))->t.has_schema = true;
        return;
    }
    if (hidden(file, flen) || !ends_with(file, flen, ".parquet")) return;
    add_file(acc_of(a, rel, (size_t)(dir_end - rel)), parts ? parts : "", parts_len, d);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_found(const void *a, const void *b)
{
    const sf_glue_found *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->dir, y->dir);
}

int sf_glue_find_tables(const char *const *rel_keys, size_t n, sf_glue_found_list *out, sf_diags *d)
{
    *out = (sf_glue_found_list){0};
    size_t errors = d->n;
    accs a = {0};
    for (size_t i = 0; i < n; i++) add_key(&a, rel_keys[i], d);
    /* Tables are the directories with files; a schema alone is not one. */
    out->items = a.n ? calloc(a.n, sizeof *out->items) : NULL;
    out->empty = a.n ? calloc(a.n, sizeof *out->empty) : NULL;
    if (a.n && (!out->items || !out->empty)) abort();
    for (size_t i = 0; i < a.n; i++) {
        acc *x = &a.items[i];
        if (!x->has_files && !x->mixed && x->t.has_schema) {
            out->empty[out->n_empty++] = x->t.dir;
            x->t.dir = NULL;
        }
        if (!x->has_files || x->mixed) {
            found_clear(&x->t);
            continue;
        }
        const char *last = strrchr(x->t.dir, '/');
        x->t.name = sf_catalog_default_name(last ? last + 1 : x->t.dir);
        for (size_t k = 0; k < x->t.n_parts; k++)
            qsort(x->t.parts[k].values, x->t.parts[k].n_values, sizeof(char *), cmp_str);
        out->items[out->n++] = x->t;
    }
    free(a.items);
    qsort(out->items, out->n, sizeof *out->items, cmp_found);
    qsort(out->empty, out->n_empty, sizeof *out->empty, cmp_str);
    for (size_t i = 1; i < out->n; i++)
        if (strcmp(out->items[i - 1].name, out->items[i].name) == 0)
            sf_diag_error(d, NULL, "Two tables with one name",
                          "The directories %s and %s of the published run both make the table \"%s\" (a table "
                          "is named after its directory's last segment, lower-cased, with every other "
                          "character than a-z, 0-9 and '_' made '_'). Rename one of them in the job that writes "
                          "it.",
                          out->items[i - 1].dir, out->items[i].dir, out->items[i].name);
    for (size_t i = errors; i < d->n; i++)
        if (d->items[i].severity == SF_DIAG_ERROR) return -1;
    return 0;
}
