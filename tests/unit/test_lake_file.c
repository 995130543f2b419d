/* test_lake_file.c — the file:// lake on a real filesystem: fingerprints,
 * atomic publish, refusal to touch foreign data, discard, remove, sweeping of
 * abandoned runs, a reader that never finds the output missing, and one
 * output per pipeline (the run record's "pipeline"). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include <cmocka.h>

#include "lakes/lake.h"

static const sf_lake *const L = &sf_lake_file;

/* ---- helpers ------------------------------------------------------------ */

typedef struct fixture {
    char root[256]; /* temp dir */
    char lake[300]; /* root/lake */
    sf_ctx *ctx;
    sf_diags d;
    char **owned; /* strings made by S(), freed at teardown */
    size_t n_owned;
} fixture;

static char *keep(fixture *f, char *s)
{
    f->owned = realloc(f->owned, (f->n_owned + 1) * sizeof *f->owned);
    assert_non_null(f->owned);
    return f->owned[f->n_owned++] = s;
}

/* printf into a string the fixture owns. */
static char *S(fixture *f, const char *fm, ...) __attribute__((format(printf, 2, 3)));
static char *S(fixture *f, const char *fm, ...)
{
    va_list ap;
    va_start(ap, fm);
    char *s = NULL;
    assert_true(vasprintf(&s, fm, ap) >= 0);
    va_end(ap);
    return keep(f, s);
}

/* lake/<rel> as a path and as a file:// URI. */
#define P(rel) S(f, "%s/%s", f->lake, rel)
#define U(rel) S(f, "file://%s/%s", f->lake, rel)

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static void mkdirs(const char *path)
{
    char *p = strdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        mkdir(p, 0755);
        *s = '/';
    }
    mkdir(p, 0755);
    free(p);
}

/* Writes text to path, creating its directories. */
static void put(const char *path, const char *text)
{
    char *dir = strdup(path);
    *strrchr(dir, '/') = 0;
    mkdirs(dir);
    free(dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* A file's text (fixture-owned), NULL when it cannot be read. */
static char *get(fixture *f, const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp) return NULL;
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, fp);
    buf[n] = 0;
    fclose(fp);
    return keep(f, buf);
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static void set_mtime(const char *path, time_t sec, long nsec)
{
    struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};
    assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->root, sizeof f->root, "%s/sf-lake-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->root));
    snprintf(f->lake, sizeof f->lake, "%s/lake", f->root);
    assert_int_equal(mkdir(f->lake, 0755), 0);
    f->ctx = sf_ctx_new_root(SF_LOG_ERROR);
    sf_diags_init(&f->d);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    sf_diags_clear(&f->d);
    sf_ctx_free(f->ctx);
    for (size_t i = 0; i < f->n_owned; i++) free(f->owned[i]);
    free(f->owned);
    free(f);
    return 0;
}

/* True when some diagnostic has this severity and summary and a detail
 * containing `part`. */
static bool has_diag(const sf_diags *d, sf_diag_severity sev, const char *summary, const char *part)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->items[i].severity == sev && strcmp(d->items[i].summary, summary) == 0 &&
            (!part || strstr(d->items[i].detail, part)))
            return true;
    return false;
}

static void print_diags(const sf_diags *d)
{
    for (size_t i = 0; i < d->n; i++) fprintf(stderr, "diag: %s: %s\n", d->items[i].summary, d->items[i].detail);
}

/* The fingerprint of a directory (fixture-owned); must succeed. */
static char *fingerprint(fixture *f, const char *dir, int64_t *count)
{
    char *out = NULL;
    int64_t n = -1;
    int rc = L->fingerprint(f->ctx, NULL, S(f, "file://%s", dir), &out, &n, &f->d);
    if (rc) print_diags(&f->d);
    assert_int_equal(rc, 0);
    assert_non_null(out);
    assert_int_equal(strncmp(out, "sha256:", 7), 0);
    assert_int_equal(strlen(out), 7 + 64);
    if (count) *count = n;
    return keep(f, out);
}

/* Stages run `run` of lake/<out>, writes `files` ("rel=text", NULL-ended)
 * into it; returns the work path (fixture-owned).  Must succeed. */
static char *stage(fixture *f, const char *out, const char *run, const char *const *files)
{
    char *work = NULL;
    int rc = L->stage(f->ctx, NULL, U(out), run, &work, &f->d);
    if (rc) print_diags(&f->d);
    assert_int_equal(rc, 0);
    keep(f, work);
    assert_string_equal(work, S(f, "file://%s/_sparkflow/%s/%s", f->lake, out, run));
    char *path = work + strlen("file://");
    for (size_t i = 0; files && files[i]; i++) {
        const char *eq = strchr(files[i], '=');
        put(S(f, "%s/%.*s", path, (int)(eq - files[i]), files[i]), eq + 1);
    }
    return path;
}

static int publish(fixture *f, const char *out, const char *run, const char *fp)
{
    char *work = S(f, "file://%s/_sparkflow/%s/%s", f->lake, out, run);
    return L->publish(f->ctx, NULL, U(out), work, run, fp, NULL, &f->d);
}

/* The published run id of lake/<out> (fixture-owned, NULL when none). */
static char *published(fixture *f, const char *out, char **fp)
{
    sf_published p = {0};
    int rc = L->published(f->ctx, NULL, U(out), &p, &f->d);
    if (rc) print_diags(&f->d);
    assert_int_equal(rc, 0);
    char *id = p.run_id ? S(f, "%s", p.run_id) : NULL;
    if (fp) *fp = p.fingerprint ? S(f, "%s", p.fingerprint) : NULL;
    /* location: file:// + the real path of the published run's directory,
     * which holds that run's record. */
    if (id) {
        assert_non_null(p.location);
        assert_true(strncmp(p.location, "file:///", 8) == 0);
        const char *dir = p.location + 7;
        char *real = realpath(dir, NULL);
        assert_non_null(real);
        assert_string_equal(real, dir);
        free(real);
        char *rec = S(f, "%s/_sparkflow_run.json", dir);
        FILE *r = fopen(rec, "r");
        assert_non_null(r);
        char text[4096] = {0};
        assert_true(fread(text, 1, sizeof text - 1, r) > 0);
        fclose(r);
        cJSON *j = cJSON_Parse(text);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "run_id")), id);
        cJSON_Delete(j);
    } else {
        assert_null(p.location);
    }
    sf_published_clear(&p);
    assert_null(p.run_id);
    assert_null(p.fingerprint);
    assert_null(p.location);
    return id;
}

/* ---- choosing a lake ---------------------------------------------------- */

static void test_lake_for_scheme(void **state)
{
    fixture *f = *state;
    assert_ptr_equal(sf_lake_for("file:///x/lake", "lake", &f->d), &sf_lake_file);
    assert_ptr_equal(sf_lake_for("FILE:/x/lake", "lake", &f->d), &sf_lake_file);
    assert_int_equal(f->d.n, 0);

    assert_ptr_equal(sf_lake_for("s3://bucket/lake", "lake", &f->d), &sf_lake_s3);
    assert_int_equal(f->d.n, 0);
    assert_null(sf_lake_for("gs://bucket/lake", "lake", &f->d));
    assert_true(has_diag(&f->d, SF_DIAG_ERROR, "Unsupported lake URI scheme", "file://"));
    assert_true(has_diag(&f->d, SF_DIAG_ERROR, "Unsupported lake URI scheme", "s3://"));
    assert_true(has_diag(&f->d, SF_DIAG_ERROR, "Unsupported lake URI scheme", "\"gs\""));
    assert_non_null(f->d.items[0].path);
    char *path = keep(f, sf_path_to_string(f->d.items[0].path));
    assert_string_equal(path, "lake");

    assert_null(sf_lake_for("lake/raw", "lake", &f->d));
    assert_true(has_diag(&f->d, SF_DIAG_ERROR, "Invalid lake URI", "file:///"));
    assert_null(sf_lake_for(NULL, NULL, &f->d));
    assert_int_equal(f->d.n, 3);
}

static void test_uri_forms(void **state)
{
    fixture *f = *state;
    char *in = P("raw");
    put(S(f, "%s/a.csv", in), "1\n");
    char *a = fingerprint(f, in, NULL);
    const char *forms[] = {"file:%s", "file://localhost%s", "file://%s/", "file://%s//"};
    for (size_t i = 0; i < 4; i++) {
        char *b = NULL;
        int64_t n;
        assert_int_equal(L->fingerprint(f->ctx, NULL, S(f, forms[i], in), &b, &n, &f->d), 0);
        assert_string_equal(a, keep(f, b));
    }
    struct {
        const char *uri, *part;
    } bad[] = {
        {"file://lake/raw", "host \"lake\""},
        {"file:lake/raw", "relative"},
        {"file:///x/../raw", "\"..\""},
        {"s3://b/raw", "not a file:// URI"},
    };
    for (size_t i = 0; i < 4; i++) {
        char *out = (char *)"unchanged";
        int64_t n;
        assert_int_equal(L->fingerprint(f->ctx, NULL, bad[i].uri, &out, &n, &f->d), -1);
        assert_null(out);
        assert_true(has_diag(&f->d, SF_DIAG_ERROR, "Cannot fingerprint input", bad[i].part));
    }
    /* The same rules guard the other operations. */
    char *work = NULL;
    assert_int_equal(L->stage(f->ctx, NULL, "file://curated", "r1", &work, &f->d), -1);
    assert_null(work);
    assert_true(has_diag(&f->d, SF_DIAG_ERROR, "Cannot stage outputs", "absolute"));
    assert_int_equal(L->remove(f->ctx, NULL, "file:curated", &f->d), -1);
    assert_true(has_diag(&f->d, SF_DIAG_ERROR, "Cannot remove outputs", "relative"));
}

/* ---- fingerprint -------------------------------------------------------- */

static void test_fingerprint_tracks_data_not_markers(void **state)
{
    fixture *f = *state;
    char *in = P("raw/transactions");
    char *jan = S(f, "%s/2024/jan.csv", in);
    put(jan, "a,b\n1,2\n");
    put(S(f, "%s/2024/feb.csv", in), "a,b\n3,4\n");
    int64_t n;
    char *fp0 = fingerprint(f, in, &n);
    assert_int_equal(n, 2);
    assert_string_equal(fp0, fingerprint(f, in, &n)); /* stable */

    /* What Spark does not read changes nothing. */
    put(S(f, "%s/_SUCCESS", in), "");
    put(S(f, "%s/2024/.jan.csv.crc", in), "crc");
    put(S(f, "%s/_temporary/0/part-0", in), "half");
    put(S(f, "%s/.hidden/x", in), "x");
    put(S(f, "%s/2024/mar.csv._COPYING_", in), "partial");
    char *fp1 = fingerprint(f, in, &n);
    assert_string_equal(fp0, fp1);
    assert_int_equal(n, 2);

    /* A new file changes it. */
    put(S(f, "%s/2024/mar.csv", in), "a,b\n5,6\n");
    char *fp2 = fingerprint(f, in, &n);
    assert_string_not_equal(fp1, fp2);
    assert_int_equal(n, 3);

    /* A partition directory "_x=1" is data to Spark, so it counts. */
    put(S(f, "%s/_part=1/f.csv", in), "1\n");
    char *fp3 = fingerprint(f, in, &n);
    assert_string_not_equal(fp2, fp3);
    assert_int_equal(n, 4);

    /* Same size, another mtime. */
    struct stat st;
    assert_int_equal(stat(jan, &st), 0);
    set_mtime(jan, st.st_mtim.tv_sec, st.st_mtim.tv_nsec == 5 ? 6 : 5);
    char *fp4 = fingerprint(f, in, &n);
    assert_string_not_equal(fp3, fp4);

    /* Another size, same mtime. */
    assert_int_equal(stat(jan, &st), 0);
    put(jan, "a,b\n1,2\n9,9\n");
    set_mtime(jan, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    char *fp5 = fingerprint(f, in, &n);
    assert_string_not_equal(fp4, fp5);

    /* Back to the old size and mtime: the old fingerprint again. */
    put(jan, "a,b\n1,2\n");
    set_mtime(jan, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    assert_string_equal(fp4, fingerprint(f, in, &n));
}

static void test_fingerprint_order_independent(void **state)
{
    fixture *f = *state;
    const char *names[] = {"b/2.csv", "a.csv", "a/1.csv", "c", "a/z/9.csv", "a-b.csv"};
    char *one = P("one"), *two = P("two");
    for (int i = 0; i < 6; i++) {
        char *p = S(f, "%s/%s", one, names[i]);
        put(p, names[i]);
        set_mtime(p, 1700000000 + i, 123);
    }
    for (int i = 5; i >= 0; i--) { /* the other creation order */
        char *p = S(f, "%s/%s", two, names[i]);
        put(p, names[i]);
        set_mtime(p, 1700000000 + i, 123);
    }
    int64_t n1, n2;
    char *a = fingerprint(f, one, &n1);
    assert_string_equal(a, fingerprint(f, two, &n2));
    assert_int_equal(n1, 6);
    assert_int_equal(n2, 6);

    /* Same sizes and mtimes under another name: another fingerprint. */
    assert_int_equal(rename(S(f, "%s/c", two), S(f, "%s/d", two)), 0);
    assert_string_not_equal(a, fingerprint(f, two, &n2));
}

static void test_fingerprint_missing_and_empty(void **state)
{
    fixture *f = *state;
    char *uri = U("raw/nothing"), *out = NULL;
    int64_t n = 42;
    assert_int_equal(L->fingerprint(f->ctx, NULL, uri, &out, &n, &f->d), -1);
    assert_null(out);
    assert_true(has_diag(&f->d, SF_DIAG_ERROR, "Input not found", "does not exist"));
    assert_true(has_diag(&f->d, SF_DIAG_ERROR, "Input not found", uri));

    char *empty = P("raw/empty");
    put(S(f, "%s/_SUCCESS", empty), ""); /* only a marker: still empty */
    char *fp = fingerprint(f, empty, &n);
    assert_int_equal(n, 0);
    /* sha256 of no bytes */
    assert_string_equal(fp, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* An output one pipeline publishes is another's input: the fingerprint
 * follows the link and sees the run's tables, not SparkFlow's record. */
static void test_fingerprint_follows_published_output(void **state)
{
    fixture *f = *state;
    const char *files[] = {"t/part-0=x", "t/part-1=y", "_SUCCESS=", NULL};
    stage(f, "curated", "r1", files);
    assert_int_equal(publish(f, "curated", "r1", "sha256:in"), 0);
    int64_t n;
    char *a = fingerprint(f, P("curated"), &n);
    assert_int_equal(n, 2);
    stage(f, "curated", "r2", files);
    assert_int_equal(publish(f, "curated", "r2", "sha256:in"), 0);
    char *b = fingerprint(f, P("curated"), &n);
    assert_int_equal(n, 2);
    assert_string_not_equal(a, b); /* new files, new mtimes */
}

/* ---- stage / publish / published ---------------------------------------- */

static void test_stage_publish_published(void **state)
{
    fixture *f = *state;
    char *out = P("curated");
    assert_null(published(f, "curated", NULL)); /* nothing yet */

    const char *files[] = {"daily/part-0.csv=r1\n", NULL};
    char *work = stage(f, "curated", "r1", files);
    struct stat st;
    assert_int_equal(lstat(work, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_false(exists(out)); /* staging publishes nothing */
    assert_null(published(f, "curated", NULL));

    assert_int_equal(publish(f, "curated", "r1", "sha256:abc"), 0);
    assert_int_equal(f->d.n, 0);
    assert_int_equal(lstat(out, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    char target[256] = {0};
    assert_true(readlink(out, target, sizeof target - 1) > 0);
    assert_string_equal(target, "_sparkflow/curated/r1"); /* relative */

    char *fp = NULL;
    assert_string_equal(published(f, "curated", &fp), "r1");
    assert_string_equal(fp, "sha256:abc");
    assert_string_equal(get(f, S(f, "%s/daily/part-0.csv", out)), "r1\n");
    char *rec = get(f, S(f, "%s/_sparkflow_run.json", work));
    assert_non_null(strstr(rec, "\"run_id\":\t\"r1\""));
    assert_non_null(strstr(rec, "\"published_at\""));

    /* Publishing the same run again changes nothing. */
    assert_int_equal(publish(f, "curated", "r1", "sha256:abc"), 0);
    assert_string_equal(published(f, "curated", NULL), "r1");
    assert_true(exists(work));

    /* The lake can be moved: the link is relative. */
    char *moved = S(f, "%s/moved", f->root);
    assert_int_equal(rename(f->lake, moved), 0);
    snprintf(f->lake, sizeof f->lake, "%s", moved);
    assert_string_equal(published(f, "curated", NULL), "r1");

    /* A dangling link or a missing record: nothing published. */
    assert_int_equal(unlink(P("_sparkflow/curated/r1/_sparkflow_run.json")), 0);
    assert_null(published(f, "curated", NULL));
    assert_int_equal(rename(P("_sparkflow/curated/r1"), P("_sparkflow/curated/r1x")), 0);
    assert_null(published(f, "curated", NULL));
    assert_int_equal(f->d.n, 0);
}

static void test_second_publish_replaces_and_cleans(void **state)
{
    fixture *f = *state;
    const char *f1[] = {"t/a=one", "t/b=one", NULL};
    const char *f2[] = {"t/a=two", NULL};
    char *w1 = stage(f, "curated", "r1", f1);
    assert_int_equal(publish(f, "curated", "r1", "sha256:1"), 0);
    char *w2 = stage(f, "curated", "r2", f2);
    assert_int_equal(publish(f, "curated", "r2", "sha256:2"), 0);
    assert_int_equal(f->d.n, 0);

    char *fp = NULL;
    assert_string_equal(published(f, "curated", &fp), "r2");
    assert_string_equal(fp, "sha256:2");
    assert_string_equal(get(f, P("curated/t/a")), "two");
    assert_false(exists(P("curated/t/b"))); /* nothing of the old run */
    assert_false(exists(w1));               /* previous run gone */
    assert_false(exists(P("_sparkflow/curated/.r1.owner")));
    assert_true(exists(w2));
    assert_false(exists(P(".curated.sparkflow-publish")));
}

static void test_unpublished_run_keeps_published(void **state)
{
    fixture *f = *state;
    const char *f1[] = {"t/a=good", NULL};
    const char *f2[] = {"t/a=half", NULL};
    stage(f, "curated", "r1", f1);
    assert_int_equal(publish(f, "curated", "r1", "sha256:1"), 0);
    char *w2 = stage(f, "curated", "r2", f2); /* a run that then fails */
    assert_string_equal(published(f, "curated", NULL), "r1");
    assert_string_equal(get(f, P("curated/t/a")), "good");

    char *uri = S(f, "file://%s", w2);
    assert_int_equal(L->discard(f->ctx, NULL, uri, &f->d), 0);
    assert_false(exists(w2));
    assert_false(exists(P("_sparkflow/curated/.r2.owner")));
    assert_int_equal(L->discard(f->ctx, NULL, uri, &f->d), 0); /* missing: fine */
    assert_int_equal(f->d.n, 0);
    assert_string_equal(get(f, P("curated/t/a")), "good");

    /* A discarded run cannot be published. */
    assert_int_equal(publish(f, "curated", "r2", "sha256:2"), -1);
    assert_true(has_diag(&f->d, SF_DIAG_ERROR, "Cannot publish outputs", "gone"));
    assert_string_equal(published(f, "curated", NULL), "r1");

    /* The published run is never discarded. */
    assert_int_equal(L->discard(f->ctx, NULL, U("_sparkflow/curated/r1"), &f->d), -1);
    assert_true(has_diag(&f->d, SF_DIAG_ERROR, "Cannot discard staging area", "published"));
    assert_string_equal(get(f, P("curated/t/a")), "good");

    /* Nor anything outside a _sparkflow directory. */
    put(P("mine/r3/keep"), "keep");
    assert_int_equal(L->discard(f->ctx, NULL, U("mine/r3"), &f->d), -1);
    assert_true(has_diag(&f->d, SF_DIAG_ERROR, "Cannot discard staging area", "not a SparkFlow staging area"));
    assert_true(exists(P("mine/r3/keep")));
}

static void test_foreign_output_refused(void **state)
{
    fixture *f = *state;
    const char *refused = "Output location holds data SparkFlow did not write";
    char *out = P("curated"), *precious = P("curated/precious.parquet");
    put(precious, "user data");

    /* Refused at stage: no run is spent. */
    char *work = NULL;
    assert_int_equal(L->stage(f->ctx, NULL, U("curated"), "r1", &work, &f->d), -1);
    assert_null(work);
    assert_true(has_diag(&f->d, SF_DIAG_ERROR, refused, "will not overwrite"));
    assert_true(has_diag(&f->d, SF_DIAG_ERROR, refused, out));
    assert_false(exists(P("_sparkflow/curated/r1")));
    assert_null(published(f, "curated", NULL));

    /* Appearing between stage and publish: refused at publish. */
    char *moved = S(f, "%s.mine", out);
    assert_int_equal(rename(out, moved), 0);
    const char *files[] = {"t=run", NULL};
    stage(f, "curated", "r1", files);
    assert_int_equal(rename(moved, out), 0);
    assert_int_equal(publish(f, "curated", "r1", "sha256:1"), -1);
    assert_true(has_diag(&f->d, SF_DIAG_ERROR, refused, "Move it away"));
    struct stat st;
    assert_int_equal(lstat(out, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_string_equal(get(f, precious), "user data");

    /* remove leaves it, with a warning. */
    assert_int_equal(L->remove(f->ctx, NULL, U("curated"), &f->d), 0);
    assert_true(has_diag(&f->d, SF_DIAG_WARNING, "Output left in place", out));
    assert_string_equal(get(f, precious), "user data");

    /* The user's own symlink is not SparkFlow's either. */
    char *link = P("linked");
    assert_int_equal(symlink(out, link), 0);
    assert_int_equal(L->stage(f->ctx, NULL, U("linked"), "r1", &work, &f->d), -1);
    assert_int_equal(L->remove(f->ctx, NULL, U("linked"), &f->d), 0);
    char target[512] = {0};
    assert_true(readlink(link, target, sizeof target - 1) > 0);
    assert_string_equal(target, out);
    assert_string_equal(get(f, precious), "user data");
}

static void test_remove_only_what_sparkflow_made(void **state)
{
    fixture *f = *state;
    put(P("notes.txt"), "mine");
    put(P("raw/x.csv"), "1\n");
    const char *files[] = {"t=1", NULL};
    stage(f, "curated", "r1", files);
    assert_int_equal(publish(f, "curated", "r1", "sha256:1"), 0);
    stage(f, "curated", "r2", files); /* staged, never published */
    stage(f, "marts", "m1", files);
    assert_int_equal(publish(f, "marts", "m1", "sha256:1"), 0);

    assert_int_equal(L->remove(f->ctx, NULL, U("curated"), &f->d), 0);
    assert_int_equal(f->d.n, 0);
    assert_false(exists(P("curated")));
    assert_false(exists(P("_sparkflow/curated")));
    assert_string_equal(get(f, P("marts/t")), "1"); /* the other output */
    assert_string_equal(published(f, "marts", NULL), "m1");
    assert_string_equal(get(f, P("notes.txt")), "mine");
    assert_string_equal(get(f, P("raw/x.csv")), "1\n");

    assert_int_equal(L->remove(f->ctx, NULL, U("marts"), &f->d), 0);
    assert_false(exists(P("marts")));
    assert_false(exists(P("_sparkflow")));                           /* empty: gone too */
    assert_int_equal(L->remove(f->ctx, NULL, U("marts"), &f->d), 0); /* missing: fine */
    assert_int_equal(f->d.n, 0);
    assert_string_equal(get(f, P("notes.txt")), "mine");
    assert_string_equal(get(f, P("raw/x.csv")), "1\n");
}

/* ---- concurrency, interruption, abandoned runs -------------------------- */

#define READER_LINES 2000

typedef struct reader {
    const char *file; /* lake/curated/t/data */
    atomic_bool stop;
    long reads, missing, torn;
} reader;

static void *read_loop(void *arg)
{
    reader *r = arg;
    char *buf = malloc(1 << 20);
    while (!atomic_load(&r->stop)) {
        int fd = open(r->file, O_RDONLY);
        if (fd < 0) {
            r->missing++;
            continue;
        }
        size_t n = 0;
        for (ssize_t k; (k = read(fd, buf + n, (1 << 20) - 1 - n)) > 0;) n += (size_t)k;
        close(fd);
        /* A whole file of one run: READER_LINES copies of its first line. */
        size_t line = strcspn(buf, "\n") + 1;
        bool whole = n > 0 && n == line * READER_LINES;
        for (size_t i = line; whole && i < n; i += line) whole = memcmp(buf, buf + i, line) == 0;
        if (!whole) r->torn++;
        r->reads++;
    }
    free(buf);
    return NULL;
}

/* Stages and publishes a run whose t/data holds READER_LINES lines. */
static void publish_lines(fixture *f, int run)
{
    char id[16], *text = NULL;
    size_t len = 0;
    snprintf(id, sizeof id, "r%02d", run);
    FILE *m = open_memstream(&text, &len);
    for (int i = 0; i < READER_LINES; i++) fprintf(m, "run %s\n", id);
    fclose(m);
    keep(f, text);
    const char *files[] = {S(f, "t/data=%s", text), NULL};
    stage(f, "curated", id, files);
    assert_int_equal(publish(f, "curated", id, "sha256:x"), 0);
}

static void test_reader_never_sees_missing_output(void **state)
{
    fixture *f = *state;
    publish_lines(f, 0);
    reader r = {.file = P("curated/t/data")};
    atomic_init(&r.stop, false);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, read_loop, &r), 0);
    for (int run = 1; run <= 12; run++) publish_lines(f, run);
    atomic_store(&r.stop, true);
    pthread_join(th, NULL);
    fprintf(stderr, "reader: %ld reads, %ld missing, %ld torn\n", r.reads, r.missing, r.torn);
    assert_true(r.reads > 100);
    assert_int_equal(r.missing, 0);
    assert_int_equal(r.torn, 0);
    assert_string_equal(published(f, "curated", NULL), "r12");
    for (int run = 0; run < 12; run++) /* only the published run is kept */
        assert_false(exists(S(f, "%s/_sparkflow/curated/r%02d", f->lake, run)));
}

static void test_interrupted_publish_changes_nothing(void **state)
{
    fixture *f = *state;
    const char *f1[] = {"t=one", NULL};
    const char *f2[] = {"t=two", NULL};
    stage(f, "curated", "r1", f1);
    assert_int_equal(publish(f, "curated", "r1", "sha256:1"), 0);
    stage(f, "curated", "r2", f2);
    char *uri = U("curated"), *w2 = U("_sparkflow/curated/r2");

    /* Cancelled (Ctrl-C) before the switch. */
    sf_ctx *cancelled = sf_ctx_new_child(f->ctx);
    sf_ctx_cancel(cancelled);
    assert_int_equal(L->publish(cancelled, NULL, uri, w2, "r2", "sha256:2", NULL, &f->d), -1);
    assert_true(has_diag(&f->d, SF_DIAG_ERROR, "Cannot publish outputs", "unchanged"));
    assert_string_equal(published(f, "curated", NULL), "r1");
    assert_string_equal(get(f, P("curated/t")), "one");

    /* Another operation holds the output's lock: the wait ends at the
     * deadline, and nothing changes. */
    int fd = open(P("_sparkflow/curated/.lock"), O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0);
    sf_ctx *soon = sf_ctx_new_child(f->ctx);
    sf_ctx_set_deadline(soon, sf_time_mono_ms() + 150);
    int64_t t0 = sf_time_mono_ms();
    assert_int_equal(L->publish(soon, NULL, uri, w2, "r2", "sha256:2", NULL, &f->d), -1);
    assert_true(sf_time_mono_ms() - t0 < 2000);
    assert_true(has_diag(&f->d, SF_DIAG_ERROR, "Cannot publish outputs", "waiting"));
    close(fd);
    assert_string_equal(published(f, "curated", NULL), "r1");

    /* The wrong work URI for the run is refused. */
    char *w1 = U("_sparkflow/curated/r1");
    assert_int_equal(L->publish(f->ctx, NULL, uri, w1, "r2", "sha256:2", NULL, &f->d), -1);
    assert_true(has_diag(&f->d, SF_DIAG_ERROR, "Cannot publish outputs", "is not where"));
    assert_string_equal(get(f, P("curated/t")), "one");

    /* And then the real publish goes through. */
    assert_int_equal(L->publish(f->ctx, NULL, uri, w2, "r2", "sha256:2", NULL, &f->d), 0);
    assert_string_equal(published(f, "curated", NULL), "r2");
    assert_string_equal(get(f, P("curated/t")), "two");

    /* After Ctrl-C the resource discards the run: that still works. */
    char *w3 = stage(f, "curated", "r3", f1);
    assert_int_equal(L->discard(cancelled, NULL, U("_sparkflow/curated/r3"), &f->d), 0);
    assert_false(exists(w3));
    assert_string_equal(published(f, "curated", NULL), "r2");
    sf_ctx_free(soon);
    sf_ctx_free(cancelled);
}

/* Writes an owner record for `run` as another process would have. */
static void fake_owner(fixture *f, const char *run, const char *host, long long pid, long long start, time_t mtime)
{
    char *boot = get(f, "/proc/sys/kernel/random/boot_id");
    assert_non_null(boot);
    boot[strcspn(boot, "\n")] = 0;
    char pidns[64] = {0};
    assert_true(readlink("/proc/self/ns/pid", pidns, sizeof pidns - 1) > 0);
    char *p = S(f, "%s/_sparkflow/curated/.%s.owner", f->lake, run);
    put(p, S(f,
             "{\"run_id\":\"%s\",\"host\":\"%s\",\"boot_id\":\"%s\",\"pid_ns\":\"%s\","
             "\"pid\":%lld,\"start_ticks\":%lld,\"staged_at\":0}",
             run, host, boot, pidns, pid, start));
    set_mtime(p, mtime, 0);
}

static void test_abandoned_runs_are_swept(void **state)
{
    fixture *f = *state;
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    time_t now = time(NULL);
    const char *files[] = {"t=x", NULL};
    stage(f, "curated", "pub", files);
    assert_int_equal(publish(f, "curated", "pub", "sha256:1"), 0);
    const char *runs[] = {"alive", "dead", "reused", "farold", "farnew"};
    for (int i = 0; i < 5; i++) stage(f, "curated", runs[i], files);

    /* A process that is gone. */
    pid_t child = fork();
    if (child == 0) _exit(0);
    assert_int_equal(waitpid(child, NULL, 0), child);
    fake_owner(f, "dead", host, child, 12345, now);
    /* A pid that now names another process (ours, started at another time). */
    fake_owner(f, "reused", host, getpid(), 1, now);
    /* Another host: judged by age. */
    fake_owner(f, "farold", "elsewhere", 4242, 1, now - 25 * 3600);
    fake_owner(f, "farnew", "elsewhere", 4242, 1, now - 3600);
    /* The published run's provider is long gone, but it is published. */
    fake_owner(f, "pub", host, child, 12345, now - 48 * 3600);
    /* A record without its directory (crash between the two). */
    fake_owner(f, "lone", host, child, 12345, now);
    /* A directory without record, older than a day. */
    mkdirs(P("_sparkflow/curated/norec"));
    set_mtime(P("_sparkflow/curated/norec"), now - 30 * 3600, 0);

    stage(f, "curated", "next", files); /* sweeps */
    struct {
        const char *name;
        bool kept;
    } want[] = {
        {"pub", true},          {"alive", true},      {"farnew", true},       {"next", true},
        {".alive.owner", true}, {".pub.owner", true}, {"dead", false},        {"reused", false},
        {"farold", false},      {"norec", false},     {".dead.owner", false}, {".lone.owner", false},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        if (exists(S(f, "%s/_sparkflow/curated/%s", f->lake, want[i].name)) != want[i].kept)
            fail_msg("%s: expected it %s", want[i].name, want[i].kept ? "kept" : "removed");
    assert_string_equal(published(f, "curated", NULL), "pub");
    assert_string_equal(get(f, P("curated/t")), "x");

    /* A swept run cannot be published afterwards. */
    assert_int_equal(publish(f, "curated", "farold", "sha256:2"), -1);
    assert_string_equal(published(f, "curated", NULL), "pub");
}

static void test_stage_needs_fresh_run_and_valid_names(void **state)
{
    fixture *f = *state;
    stage(f, "curated", "r1", NULL);
    char *work = NULL;
    assert_int_equal(L->stage(f->ctx, NULL, U("curated"), "r1", &work, &f->d), -1);
    assert_true(has_diag(&f->d, SF_DIAG_ERROR, "Cannot stage outputs", "fresh run id"));
    const char *bad[] = {"", "../x", "a/b", ".hidden", "x y"};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(L->stage(f->ctx, NULL, U("curated"), bad[i], &work, &f->d), -1);
        assert_null(work);
    }
    assert_true(has_diag(&f->d, SF_DIAG_ERROR, "Cannot stage outputs", "Invalid run id"));
    assert_int_equal(L->stage(f->ctx, NULL, U("_sparkflow/x"), "r2", &work, &f->d), -1);
    assert_true(has_diag(&f->d, SF_DIAG_ERROR, "Cannot stage outputs", "keeps for itself"));
    /* A lake that does not exist yet is made on the first stage. */
    char *fresh = S(f, "file://%s/new-lake/curated", f->root);
    assert_int_equal(L->stage(f->ctx, NULL, fresh, "r1", &work, &f->d), 0);
    keep(f, work);
    assert_true(exists(S(f, "%s/new-lake/_sparkflow/curated/r1", f->root)));
}

/* ---- one output, one pipeline ------------------------------------------- */

/* The run record as both lakes write it: records written before it named
 * its pipeline still read (pipeline NULL); the new field reads back. */
static void test_run_record_parse_old_and_new(void **state)
{
    (void)state;
    sf_lake_record r;
    const char *old = "{\"run_id\": \"20260101T000000Z-a1b2c3\", \"fingerprint\": \"sha256:ab\", "
                      "\"published_at\": \"2026-01-01T00:00:00Z\"}";
    assert_int_equal(sf_lake_record_parse(old, strlen(old), &r), 0);
    assert_string_equal(r.run_id, "20260101T000000Z-a1b2c3");
    assert_string_equal(r.fingerprint, "sha256:ab");
    assert_null(r.pipeline);
    assert_null(r.prefix);
    sf_lake_record_clear(&r);

    /* An S3 pointer of before: a prefix, a null fingerprint. */
    const char *s3old = "{\"run_id\": \"r1\", \"fingerprint\": null, \"prefix\": \"lake/c/_sparkflow/runs/r1/\"}";
    assert_int_equal(sf_lake_record_parse(s3old, strlen(s3old), &r), 0);
    assert_null(r.fingerprint);
    assert_null(r.pipeline);
    assert_string_equal(r.prefix, "lake/c/_sparkflow/runs/r1/");
    sf_lake_record_clear(&r);

    /* Written now, read back: every field. */
    sf_lake_record w = {.run_id = "r2", .fingerprint = "sha256:cd", .pipeline = "finance", .prefix = NULL};
    char *text = sf_lake_record_json(&w);
    cJSON *j = cJSON_Parse(text);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "pipeline")), "finance");
    assert_non_null(cJSON_GetObjectItem(j, "published_at"));
    assert_null(cJSON_GetObjectItem(j, "prefix"));
    cJSON_Delete(j);
    assert_int_equal(sf_lake_record_parse(text, strlen(text), &r), 0);
    assert_string_equal(r.run_id, "r2");
    assert_string_equal(r.fingerprint, "sha256:cd");
    assert_string_equal(r.pipeline, "finance");
    sf_lake_record_clear(&r);
    free(text);

    /* A pipeline that is not a string, or empty, names nobody. */
    const char *odd = "{\"run_id\": \"r3\", \"pipeline\": 7}";
    assert_int_equal(sf_lake_record_parse(odd, strlen(odd), &r), 0);
    assert_null(r.pipeline);
    sf_lake_record_clear(&r);
    const char *empty = "{\"run_id\": \"r3\", \"pipeline\": \"\"}";
    assert_int_equal(sf_lake_record_parse(empty, strlen(empty), &r), 0);
    assert_null(r.pipeline);
    sf_lake_record_clear(&r);

    /* Not records. */
    const char *bad[] = {"", "[]", "{}", "{\"run_id\": 3}", "{\"run_id\": \"\"}", "{\"run_id\": \"r1\"", "null"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(sf_lake_record_parse(bad[i], strlen(bad[i]), &r), -1);
        assert_null(r.run_id);
    }
    assert_int_equal(sf_lake_record_parse(NULL, 0, &r), -1);

    assert_true(sf_lake_owned_by_other("a", "b"));
    assert_false(sf_lake_owned_by_other("a", "a"));
    assert_false(sf_lake_owned_by_other(NULL, "b")); /* an old record: nobody's */
    assert_false(sf_lake_owned_by_other("a", NULL));
}

static int publish_as(fixture *f, const char *out, const char *run, const char *pipeline)
{
    char *work = S(f, "file://%s/_sparkflow/%s/%s", f->lake, out, run);
    return L->publish(f->ctx, NULL, U(out), work, run, "sha256:1", pipeline, &f->d);
}

static char *published_by(fixture *f, const char *out)
{
    sf_published p = {0};
    assert_int_equal(L->published(f->ctx, NULL, U(out), &p, &f->d), 0);
    char *who = p.pipeline ? S(f, "%s", p.pipeline) : NULL;
    sf_published_clear(&p);
    return who;
}

/* The diagnostic at path `path` with `summary`, or NULL. */
static const sf_diag *diag_at(const sf_diags *d, const char *path, const char *summary)
{
    for (size_t i = 0; i < d->n; i++) {
        char *p = d->items[i].path ? sf_path_to_string(d->items[i].path) : NULL;
        bool hit = p && strcmp(p, path) == 0 && strcmp(d->items[i].summary, summary) == 0;
        free(p);
        if (hit) return &d->items[i];
    }
    return NULL;
}

/* Two pipelines on one output: the first to publish keeps it, the second
 * is refused (naming the first, at "output") and publishes nothing; an
 * old record (no pipeline) is replaced as before and then names one. */
static void test_publish_refuses_another_pipelines_output(void **state)
{
    fixture *f = *state;
    const char *a[] = {"t/part-0=alpha\n", NULL}, *b[] = {"t/part-0=beta\n", NULL};
    stage(f, "curated", "r1", a);
    stage(f, "curated", "r2", b); /* both staged before either published: the race */
    assert_int_equal(publish_as(f, "curated", "r1", "alpha"), 0);
    assert_string_equal(published_by(f, "curated"), "alpha");
    assert_int_equal(publish_as(f, "curated", "r2", "beta"), -1);
    const sf_diag *e = diag_at(&f->d, "output", "Output published by another pipeline");
    assert_non_null(e);
    assert_int_equal(e->severity, SF_DIAG_ERROR);
    assert_non_null(strstr(e->detail, "pipeline \"alpha\" publishes there (run r1)"));
    assert_non_null(strstr(e->detail, "Pipeline \"beta\""));
    assert_string_equal(published(f, "curated", NULL), "r1");
    assert_string_equal(get(f, P("curated/t/part-0")), "alpha\n");
    /* The loser's staging goes (the run transaction discards it). */
    assert_int_equal(L->discard(f->ctx, NULL, U("_sparkflow/curated/r2"), &f->d), 0);
    assert_false(exists(P("_sparkflow/curated/r2")));
    /* The owner itself goes on publishing. */
    stage(f, "curated", "r3", a);
    assert_int_equal(publish_as(f, "curated", "r3", "alpha"), 0);
    assert_string_equal(published(f, "curated", NULL), "r3");

    /* An output published by a record of before (no pipeline). */
    stage(f, "marts", "m1", a);
    assert_int_equal(publish_as(f, "marts", "m1", NULL), 0);
    assert_null(published_by(f, "marts"));
    stage(f, "marts", "m2", b);
    assert_int_equal(publish_as(f, "marts", "m2", "beta"), 0);
    assert_string_equal(published_by(f, "marts"), "beta");
    assert_string_equal(get(f, P("marts/t/part-0")), "beta\n");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_lake_for_scheme),
        T(test_uri_forms),
        T(test_fingerprint_tracks_data_not_markers),
        T(test_fingerprint_order_independent),
        T(test_fingerprint_missing_and_empty),
        T(test_fingerprint_follows_published_output),
        T(test_stage_publish_published),
        T(test_second_publish_replaces_and_cleans),
        T(test_unpublished_run_keeps_published),
        T(test_foreign_output_refused),
        T(test_remove_only_what_sparkflow_made),
        T(test_reader_never_sees_missing_output),
        T(test_interrupted_publish_changes_nothing),
        T(test_abandoned_runs_are_swept),
        T(test_stage_needs_fresh_run_and_valid_names),
        T(test_run_record_parse_old_and_new),
        T(test_publish_refuses_another_pipelines_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
