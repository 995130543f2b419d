/* file_fingerprint.c — the input fingerprint of the file:// lake.
 *
 * Fingerprint.  Files under the input, recursively, following symlinks (a
 * pipeline's input may be another pipeline's published link) with loops
 * skipped.  Names Spark ignores are skipped with their subtrees: starting
 * with '.', starting with '_' unless they hold '=' (partition columns), and
 * ending in "._COPYING_".  sha256 over "relpath\tsize\tmtime_ns\n" sorted by
 * relpath (byte order, as S3 lists keys); '\\', '\t' and '\n' in names are
 * escaped so that no two listings hash the same text.
 */
#include <errno.h>
#include <fts.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/str.h"
#include "lakes/file.h"
#include "lakes/listing_hash.h"

typedef struct fp_file {
    char *rel;
    long long size, mtime_ns;
} fp_file;

typedef struct fp_list {
    fp_file *v;
    size_t n, cap;
} fp_list;

/* Spark's rule for files it does not read (HadoopFSUtils.shouldFilterOutPathName). */
static bool spark_hidden(const char *name)
{
    size_t n = strlen(name);
    return name[0] == '.' || (name[0] == '_' && !strchr(name, '=')) ||
           (n >= 10 && strcmp(name + n - 10, "._COPYING_") == 0);
}

static void fp_push(fp_list *l, const char *rel, const struct stat *st)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v) abort();
    }
    l->v[l->n++] = (fp_file){sf_strdup(rel), (long long)st->st_size,
                             (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec};
}

static void fp_clear(fp_list *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i].rel);
    free(l->v);
}

static int fp_cmp(const void *a, const void *b)
{
    return strcmp(((const fp_file *)a)->rel, ((const fp_file *)b)->rel);
}

/* fp_walk's visit: the files Spark reads, into the listing. */
typedef struct fp_walker {
    fp_list *l;
    const char *root;
    size_t skip; /* bytes of fts_path before the relative name */
} fp_walker;

static int fp_entry(FTS *fts, FTSENT *e, void *arg, char **err)
{
    fp_walker *w = arg;
    bool hidden = e->fts_level > 0 && spark_hidden(e->fts_name);
    switch (e->fts_info) {
    case FTS_D:
        if (hidden) fts_set(fts, e, FTS_SKIP);
        return 0;
    case FTS_F:
        if (!hidden) fp_push(w->l, e->fts_level ? e->fts_path + w->skip : sf_lake_file_base_of(w->root), e->fts_statp);
        return 0;
    case FTS_DNR:
    case FTS_ERR:
    case FTS_NS:
        if (hidden) return 0;
        *err = sf_fmt("cannot read %s: %s", e->fts_path, strerror(e->fts_errno));
        return -1;
    default: /* FTS_DC (a loop), FTS_SLNONE (dangling link), FTS_DP, ... */ return 0;
    }
}

/* Lists the files under root into l, following links.  0, or -1 with *err. */
static int fp_walk(sf_ctx *ctx, const char *root, fp_list *l, char **err)
{
    fp_walker w = {l, root, strcmp(root, "/") == 0 ? 1 : strlen(root) + 1};
    char *doing = sf_fmt("listing %s", root);
    int rc = sf_lake_file_walk(ctx, root, FTS_LOGICAL, 1024, doing, fp_entry, &w, err);
    free(doing);
    return rc;
}

/* "sha256:<hex>" over the sorted listing (malloc'd). */
static char *fp_digest(fp_list *l)
{
    if (l->n) qsort(l->v, l->n, sizeof *l->v, fp_cmp);
    sf_lake_hash *h = sf_lake_hash_new();
    for (size_t i = 0; i < l->n; i++) {
        char mtime[32];
        snprintf(mtime, sizeof mtime, "%lld", l->v[i].mtime_ns);
        sf_lake_hash_add(h, l->v[i].rel, l->v[i].size, mtime);
    }
    return sf_lake_hash_end(h);
}

int sf_lake_file_fingerprint(sf_ctx *ctx, const sf_lake_env *env, const char *input_uri, char **out, int64_t *count,
                             sf_diags *d)
{
    (void)env;
    static const char S[] = "Cannot fingerprint input";
    *out = NULL;
    *count = 0;
    char *root = sf_lake_file_uri_path(input_uri, S, d);
    if (!root) return -1;
    int rc = -1;
    struct stat st;
    if (stat(root, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            sf_diag_error(d, NULL, "Input not found",
                          "The input %s does not exist (%s). Put the raw files there first, or "
                          "point the pipeline's lake and input at the directory that holds them.",
                          input_uri, root);
        else sf_diag_error(d, NULL, S, "Cannot read the input %s: %s.", root, strerror(errno));
        free(root);
        return -1;
    }
    fp_list l = {0};
    char *err = NULL;
    if (fp_walk(ctx, root, &l, &err) != 0) {
        sf_diag_error(d, NULL, S, "Listing the input %s failed: %s.", input_uri, err);
    } else {
        *out = fp_digest(&l);
        *count = (int64_t)l.n;
        rc = 0;
    }
    free(err);
    fp_clear(&l);
    free(root);
    return rc;
}
