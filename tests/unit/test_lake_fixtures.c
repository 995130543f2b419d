/* test_lake_fixtures.c — the C lakes against the shared contract fixtures,
 * every case in tests/fixtures/lake/file/ and s3/ (format: their README.md).
 * The Python lake runs the same cases (tests/airflow/test_lake_contract.py),
 * so the two implementations of the publication contract are held to one
 * text.  One cmocka test per case file, through the public interface only
 * (lakes/lake.h): file:// cases against sf_lake_file in a fresh temp dir
 * ({root}); s3:// cases against sf_lake_s3 and a moto server on loopback
 * (tests/unit/aws_moto.h; skipped, and reported so, without moto), with
 * buckets "lake" and "other" emptied before each case.  Every case maps onto
 * the C interface. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "aws/aws.h"
#include "base/str.h"
#include "lakes/lake.h"
#include "tests/unit/aws_moto.h"

/* One case: made by main (file, lake, env), filled by setup, emptied by
 * teardown. */
typedef struct lake_case {
    char *file;          /* the case's JSON file */
    const sf_lake *lake; /* sf_lake_file or sf_lake_s3 */
    sf_lake_env env;     /* s3: the moto client (borrowed); NULL without moto */
    bool s3;
    char root[256]; /* its temp dir, {root} */
    cJSON *json;    /* the case, placeholders replaced */
    sf_ctx *ctx;
} lake_case;

/* ---- reading a case ------------------------------------------------------ */

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    char chunk[4096];
    for (size_t k; (k = fread(chunk, 1, sizeof chunk, fp)) > 0;) fwrite(chunk, 1, k, m);
    fclose(m);
    fclose(fp);
    if (len) *len = n;
    return buf;
}

/* cJSON keeps numbers as doubles, and an mtime in nanoseconds has 19
 * digits: integers longer than 15 digits (outside strings) are quoted before
 * parsing, and read back with json_int64. */
static char *quote_long_ints(const char *text)
{
    char *out = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&out, &n);
    bool in_str = false;
    for (const char *s = text; *s;) {
        if (in_str) {
            if (*s == '\\' && s[1]) fputc(*s++, m);
            else if (*s == '"') in_str = false;
            fputc(*s++, m);
            continue;
        }
        if (*s == '"') in_str = true;
        size_t digits = strspn(s + (*s == '-'), "0123456789");
        size_t len = digits + (*s == '-');
        if (digits > 15 && !strchr(".eE", s[len])) {
            fprintf(m, "\"%.*s\"", (int)len, s);
            s += len;
        } else if (digits) {
            fwrite(s, 1, len, m);
            s += len;
        } else {
            fputc(*s++, m);
        }
    }
    fclose(m);
    return out;
}

static int64_t json_int64(const cJSON *v)
{
    if (cJSON_IsString(v)) return strtoll(v->valuestring, NULL, 10);
    assert_true(cJSON_IsNumber(v));
    return (int64_t)v->valuedouble;
}

/* s with every `from` replaced by `to` (malloc'd). */
static char *replace_all(const char *s, const char *from, const char *to)
{
    char *out = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&out, &n);
    for (const char *hit; (hit = strstr(s, from)); s = hit + strlen(from)) {
        fwrite(s, 1, (size_t)(hit - s), m);
        fputs(to, m);
    }
    fputs(s, m);
    fclose(m);
    return out;
}

/* The README's placeholders, replaced in every string value. */
typedef struct placeholders {
    const char *name[5];
    char value[5][512];
} placeholders;

static void machine_placeholders(const lake_case *c, placeholders *ph)
{
    *ph = (placeholders){.name = {"{root}", "{host}", "{boot_id}", "{pid_ns}", "{pid}"}};
    snprintf(ph->value[0], sizeof ph->value[0], "%s", c->root);
    assert_int_equal(gethostname(ph->value[1], sizeof ph->value[1] - 1), 0);
    char *boot = slurp("/proc/sys/kernel/random/boot_id", NULL);
    assert_non_null(boot);
    boot[strcspn(boot, "\n")] = 0;
    snprintf(ph->value[2], sizeof ph->value[2], "%s", boot);
    free(boot);
    ssize_t k = readlink("/proc/self/ns/pid", ph->value[3], sizeof ph->value[3] - 1);
    ph->value[3][k > 0 ? k : 0] = 0;
    snprintf(ph->value[4], sizeof ph->value[4], "%lld", (long long)getpid());
}

static void substitute(cJSON *j, const placeholders *ph)
{
    if (cJSON_IsString(j)) {
        char *s = strdup(j->valuestring);
        for (size_t i = 0; i < 5; i++) {
            char *t = replace_all(s, ph->name[i], ph->value[i]);
            free(s);
            s = t;
        }
        assert_non_null(cJSON_SetValuestring(j, s));
        free(s);
        return;
    }
    cJSON *child;
    cJSON_ArrayForEach(child, j) substitute(child, ph);
}

static const char *str_of(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- the tree under {root}, or the objects of bucket "lake" --------------- */

#define BUCKET "lake"

static void put_object(const lake_case *c, const char *key, const char *body)
{
    sf_aws_error err = {0};
    if (sf_aws_s3_put(c->env.aws, c->ctx, BUCKET, key, body, strlen(body), NULL, &err) != 0)
        fail_msg("cannot put %s: %s", key, err.message ? err.message : "?");
}

/* An object's body, or a file's (following links), malloc'd; NULL when
 * there is none. */
static char *read_entry(const lake_case *c, const char *rel, size_t *len);

static char *at_root(const lake_case *c, const char *rel)
{
    char *p = NULL;
    assert_true(asprintf(&p, "%s/%s", c->root, rel) >= 0);
    return p;
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

/* A tree entry, or a "write" step: a file, a directory or a symlink. */
static void make_entry(const lake_case *c, const cJSON *e)
{
    if (c->s3) {
        if (!str_of(e, "content")) fail_msg("%s: s3 entries are objects (\"content\")", str_of(e, "path"));
        put_object(c, str_of(e, "path"), str_of(e, "content"));
        return;
    }
    char *p = at_root(c, str_of(e, "path"));
    char *dir = strdup(p);
    *strrchr(dir, '/') = 0;
    mkdirs(dir);
    free(dir);
    const char *target = str_of(e, "symlink"), *content = str_of(e, "content");
    if (target) {
        assert_int_equal(symlink(target, p), 0);
    } else if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "dir"))) {
        mkdirs(p);
    } else {
        assert_non_null(content);
        FILE *fp = fopen(p, "wb");
        assert_non_null(fp);
        fwrite(content, 1, strlen(content), fp);
        fclose(fp);
    }
    free(p);
}

/* An entry's "mtime_ns" or "age_s", once the whole tree is made. */
static void settle_time(const lake_case *c, const cJSON *e)
{
    const cJSON *ns = cJSON_GetObjectItemCaseSensitive(e, "mtime_ns");
    const cJSON *age = cJSON_GetObjectItemCaseSensitive(e, "age_s");
    if (!ns && !age) return;
    if (c->s3) fail_msg("%s: an object's mtime cannot be set", str_of(e, "path"));
    struct timespec ts;
    if (ns) {
        int64_t v = json_int64(ns);
        ts = (struct timespec){.tv_sec = v / 1000000000, .tv_nsec = v % 1000000000};
    } else {
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec -= json_int64(age);
    }
    char *p = at_root(c, str_of(e, "path"));
    struct timespec both[2] = {ts, ts};
    assert_int_equal(utimensat(AT_FDCWD, p, both, AT_SYMLINK_NOFOLLOW), 0);
    free(p);
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(p) : unlink(p);
}

/* A "delete" step: the entry, recursively. */
static void delete_entry(const lake_case *c, const char *rel)
{
    if (c->s3) {
        sf_aws_error err = {0};
        const char *keys[] = {rel};
        if (sf_aws_s3_delete(c->env.aws, c->ctx, BUCKET, keys, 1, &err) != 0) fail_msg("cannot delete %s", rel);
        return;
    }
    char *p = at_root(c, rel);
    struct stat st;
    assert_int_equal(lstat(p, &st), 0);
    if (S_ISDIR(st.st_mode)) assert_int_equal(nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
    else assert_int_equal(unlink(p), 0);
    free(p);
}

static char *read_entry(const lake_case *c, const char *rel, size_t *len)
{
    if (!c->s3) {
        char *p = at_root(c, rel), *text = slurp(p, len);
        free(p);
        return text;
    }
    sf_buf body = {0};
    sf_aws_error err = {0};
    int rc = sf_aws_s3_get(c->env.aws, c->ctx, BUCKET, rel, &body, &err);
    if (rc < 0) fail_msg("cannot get %s: %s", rel, err.message ? err.message : "?");
    sf_aws_error_clear(&err);
    if (rc == 1) {
        sf_buf_free(&body);
        return NULL;
    }
    if (len) *len = body.len;
    return sf_buf_take(&body);
}

static bool entry_exists(const lake_case *c, const char *rel)
{
    if (c->s3) {
        char *body = read_entry(c, rel, NULL);
        free(body);
        return body != NULL;
    }
    char *p = at_root(c, rel);
    struct stat st;
    bool there = lstat(p, &st) == 0;
    free(p);
    return there;
}

/* ---- checks after a step ------------------------------------------------- */

static void check_links(const lake_case *c, const cJSON *links, const char *where)
{
    const cJSON *l;
    if (c->s3 && links->child) fail_msg("%s: s3 has no links", where);
    cJSON_ArrayForEach(l, links) {
        char *p = at_root(c, l->string), target[4096];
        ssize_t k = readlink(p, target, sizeof target - 1);
        free(p);
        if (k < 0) fail_msg("%s: link %s: %s", where, l->string, strerror(errno));
        target[k] = 0;
        if (strcmp(target, l->valuestring) != 0)
            fail_msg("%s: link %s is \"%s\", expected \"%s\"", where, l->string, target, l->valuestring);
    }
}

static void check_presence(const lake_case *c, const cJSON *paths, bool want, const char *where)
{
    const cJSON *rel;
    cJSON_ArrayForEach(rel, paths) {
        if (entry_exists(c, rel->valuestring) != want)
            fail_msg("%s: %s %s", where, rel->valuestring, want ? "missing" : "still there");
    }
}

static void check_files(const lake_case *c, const cJSON *files, const char *where)
{
    const cJSON *want;
    cJSON_ArrayForEach(want, files) {
        size_t n = 0;
        char *text = read_entry(c, want->string, &n);
        if (!text) fail_msg("%s: %s cannot be read", where, want->string);
        if (n != strlen(want->valuestring) || memcmp(text, want->valuestring, n) != 0)
            fail_msg("%s: %s holds \"%s\", expected \"%s\"", where, want->string, text, want->valuestring);
        free(text);
    }
}

/* "json" (fields must be equal) or, with `absent`, "json_absent" (fields
 * must not be there). */
static void check_json(const lake_case *c, const cJSON *files, bool absent, const char *where)
{
    const cJSON *file;
    cJSON_ArrayForEach(file, files) {
        char *text = read_entry(c, file->string, NULL);
        if (!text) fail_msg("%s: %s cannot be read", where, file->string);
        cJSON *j = cJSON_Parse(text);
        if (!cJSON_IsObject(j)) fail_msg("%s: %s is not a JSON object: %s", where, file->string, text);
        const cJSON *field;
        cJSON_ArrayForEach(field, file) {
            const char *name = absent ? field->valuestring : field->string;
            const cJSON *got = cJSON_GetObjectItemCaseSensitive(j, name);
            if (absent && got) fail_msg("%s: %s has \"%s\": %s", where, file->string, name, text);
            if (!absent && (!got || !cJSON_Compare(got, field, true)))
                fail_msg("%s: %s: \"%s\" differs: %s", where, file->string, name, text);
        }
        cJSON_Delete(j);
        free(text);
    }
}

static void check_step(const lake_case *c, const cJSON *check, const char *where)
{
    const cJSON *kind;
    cJSON_ArrayForEach(kind, check) {
        const char *k = kind->string;
        if (strcmp(k, "links") == 0) check_links(c, kind, where);
        else if (strcmp(k, "present") == 0) check_presence(c, kind, true, where);
        else if (strcmp(k, "absent") == 0) check_presence(c, kind, false, where);
        else if (strcmp(k, "files") == 0) check_files(c, kind, where);
        else if (strcmp(k, "json") == 0) check_json(c, kind, false, where);
        else if (strcmp(k, "json_absent") == 0) check_json(c, kind, true, where);
        else fail_msg("%s: unknown check \"%s\"", where, k);
    }
}

/* ---- running an operation ------------------------------------------------ */

/* The documented "listing" hashes to the expected fingerprint. */
static void check_listing(const cJSON *listing, const cJSON *expect, const char *where)
{
    char *text = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&text, &n);
    const cJSON *line;
    cJSON_ArrayForEach(line, listing) fprintf(m, "%s\n", line->valuestring);
    fclose(m);
    char hex[65], want[80];
    sf_aws_sha256_hex(text, n, hex);
    free(text);
    snprintf(want, sizeof want, "sha256:%s", hex);
    const char *fp = str_of(expect, "fingerprint");
    if (!fp || strcmp(fp, want) != 0) fail_msg("%s: the listing hashes to %s", where, want);
    if (json_int64(cJSON_GetObjectItemCaseSensitive(expect, "count")) != cJSON_GetArraySize(listing))
        fail_msg("%s: the listing has %d lines", where, cJSON_GetArraySize(listing));
}

static cJSON *str_or_null(const char *s)
{
    return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

/* Calls the step's operation; returns its rc and its result as the
 * README's JSON object (*got). */
static int call(const lake_case *c, const cJSON *step, cJSON *got, sf_diags *d, const char *where)
{
    const char *op = str_of(step, "op");
    const char *output = str_of(step, "output"), *work = str_of(step, "work_uri");
    const sf_lake *L = c->lake;
    const sf_lake_env *env = c->s3 ? &c->env : NULL;
    char *s = NULL;
    int rc = -1;
    if (strcmp(op, "fingerprint") == 0) {
        int64_t n = -1;
        rc = L->fingerprint(c->ctx, env, str_of(step, "uri"), &s, &n, d);
        if (rc == 0) {
            cJSON_AddItemToObject(got, "fingerprint", str_or_null(s));
            cJSON_AddNumberToObject(got, "count", (double)n);
        }
    } else if (strcmp(op, "stage") == 0) {
        rc = L->stage(c->ctx, env, output, str_of(step, "run_id"), &s, d);
        if (rc == 0) cJSON_AddItemToObject(got, "work_uri", str_or_null(s));
    } else if (strcmp(op, "publish") == 0) {
        rc = L->publish(c->ctx, env, output, work, str_of(step, "run_id"), str_of(step, "fingerprint"),
                        str_of(step, "pipeline"), d);
    } else if (strcmp(op, "discard") == 0) {
        rc = L->discard(c->ctx, env, work, d);
    } else if (strcmp(op, "published") == 0) {
        sf_published p = {0};
        rc = L->published(c->ctx, env, output, &p, d);
        cJSON_AddItemToObject(got, "run_id", str_or_null(p.run_id));
        if (p.run_id) {
            cJSON_AddItemToObject(got, "fingerprint", str_or_null(p.fingerprint));
            cJSON_AddItemToObject(got, "pipeline", str_or_null(p.pipeline));
        }
        sf_published_clear(&p);
    } else if (strcmp(op, "remove") == 0) {
        rc = L->remove(c->ctx, env, output, d);
    } else {
        fail_msg("%s: unknown operation", where);
    }
    free(s);
    return rc;
}

static const sf_diag *first_error(const sf_diags *d)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->items[i].severity == SF_DIAG_ERROR) return &d->items[i];
    return NULL;
}

/* An operation step: its "expect" (result fields, or an error summary). */
static void run_op(const lake_case *c, const cJSON *step, const char *where)
{
    const cJSON *expect = cJSON_GetObjectItemCaseSensitive(step, "expect");
    if (!cJSON_IsObject(expect)) fail_msg("%s: no \"expect\"", where);
    const cJSON *listing = cJSON_GetObjectItemCaseSensitive(step, "listing");
    if (listing) check_listing(listing, expect, where);
    sf_diags d;
    sf_diags_init(&d);
    cJSON *got = cJSON_CreateObject();
    int rc = call(c, step, got, &d, where);
    const sf_diag *err = first_error(&d);
    const char *want_error = str_of(expect, "error");
    if (want_error) {
        if (rc != -1 || !err) fail_msg("%s: expected error \"%s\", got rc %d", where, want_error, rc);
        if (strcmp(err->summary, want_error) != 0)
            fail_msg("%s: expected error \"%s\", got \"%s\": %s", where, want_error, err->summary, err->detail);
        const cJSON *text;
        cJSON_ArrayForEach(text, cJSON_GetObjectItemCaseSensitive(expect, "mentions")) {
            if (!cJSON_IsString(text) || !err->detail || !strstr(err->detail, text->valuestring))
                fail_msg("%s: the error's detail does not mention \"%s\": %s", where,
                         cJSON_IsString(text) ? text->valuestring : "?", err->detail ? err->detail : "");
        }
    } else {
        if (rc != 0 || err)
            fail_msg("%s: rc %d, error \"%s\": %s", where, rc, err ? err->summary : "", err ? err->detail : "");
        const cJSON *want;
        cJSON_ArrayForEach(want, expect) {
            const cJSON *have = cJSON_GetObjectItemCaseSensitive(got, want->string);
            if (!have || !cJSON_Compare(have, want, true)) {
                char *g = cJSON_PrintUnformatted(got), *w = cJSON_PrintUnformatted(expect);
                fail_msg("%s: got %s, expected %s", where, g, w);
            }
        }
    }
    cJSON_Delete(got);
    sf_diags_clear(&d);
}

/* ---- the cases ----------------------------------------------------------- */

/* s3: the buckets a case sees, empty. */
static void empty_buckets(const lake_case *c)
{
    const char *buckets[] = {BUCKET, "other"};
    for (size_t i = 0; i < 2; i++) {
        sf_aws_error err = {0};
        if (sf_aws_s3_delete_prefix(c->env.aws, c->ctx, buckets[i], "", NULL, &err) != 0)
            fail_msg("cannot empty bucket %s: %s", buckets[i], err.message ? err.message : "?");
    }
}

static int setup(void **state)
{
    lake_case *c = *state;
    const char *tmp = getenv("TMPDIR");
    snprintf(c->root, sizeof c->root, "%s/sf-lake-fx-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(c->root));
    char *text = slurp(c->file, NULL);
    assert_non_null(text);
    char *quoted = quote_long_ints(text);
    c->json = cJSON_Parse(quoted);
    free(quoted);
    free(text);
    if (!cJSON_IsObject(c->json)) fail_msg("%s: not a JSON object", c->file);
    placeholders ph;
    machine_placeholders(c, &ph);
    substitute(c->json, &ph);
    c->ctx = sf_ctx_new_root(SF_LOG_ERROR);
    return 0;
}

static int teardown(void **state)
{
    lake_case *c = *state;
    nftw(c->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    cJSON_Delete(c->json);
    c->json = NULL;
    sf_ctx_free(c->ctx);
    c->ctx = NULL;
    return 0;
}

/* What is there before the first step: "tree" (file) or "objects" (s3). */
static void lay_out(const lake_case *c)
{
    const cJSON *e;
    if (c->s3) {
        empty_buckets(c);
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c->json, "objects")) {
            put_object(c, str_of(e, "key"), str_of(e, "body"));
        }
        return;
    }
    const cJSON *tree = cJSON_GetObjectItemCaseSensitive(c->json, "tree");
    cJSON_ArrayForEach(e, tree) make_entry(c, e);
    cJSON_ArrayForEach(e, tree) settle_time(c, e);
}

static void test_case(void **state)
{
    lake_case *c = *state;
    if (c->s3 && !c->env.aws) skip(); /* no moto: said once in main */
    lay_out(c);
    const cJSON *step;
    int i = 0;
    cJSON_ArrayForEach(step, cJSON_GetObjectItemCaseSensitive(c->json, "steps")) {
        char where[128];
        const char *op = str_of(step, "op");
        assert_non_null(op);
        snprintf(where, sizeof where, "step %d (%s)", i++, op ? op : "no op");
        if (strcmp(op, "write") == 0) {
            make_entry(c, step);
            settle_time(c, step);
        } else if (strcmp(op, "delete") == 0) {
            delete_entry(c, str_of(step, "path"));
        } else {
            run_op(c, step, where);
        }
        check_step(c, cJSON_GetObjectItemCaseSensitive(step, "check"), where);
    }
}

static int is_case(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return n > 5 && strcmp(e->d_name + n - 5, ".json") == 0;
}

/* Every case in <src>/tests/fixtures/lake/<kind>/, one test each (named
 * after its file); the number of failed tests, or 1 when there is none. */
static int run_cases(const char *src, const char *kind, sf_aws_client *aws)
{
    char dir[4096], group[64];
    snprintf(dir, sizeof dir, "%s/tests/fixtures/lake/%s", src, kind);
    snprintf(group, sizeof group, "lake_fixtures/%s", kind);
    struct dirent **names = NULL;
    int n = scandir(dir, &names, is_case, alphasort);
    if (n <= 0) {
        fprintf(stderr, "no fixture cases in %s (set SF_SOURCE_DIR)\n", dir);
        return 1;
    }
    struct CMUnitTest *tests = calloc((size_t)n, sizeof *tests);
    lake_case *cases = calloc((size_t)n, sizeof *cases);
    bool s3 = strcmp(kind, "s3") == 0;
    for (int i = 0; i < n; i++) {
        assert_true(asprintf(&cases[i].file, "%s/%s", dir, names[i]->d_name) >= 0);
        cases[i].s3 = s3;
        cases[i].lake = s3 ? &sf_lake_s3 : &sf_lake_file;
        cases[i].env.aws = aws;
        names[i]->d_name[strlen(names[i]->d_name) - 5] = 0; /* the test's name: the file's stem */
        tests[i] = (struct CMUnitTest){names[i]->d_name, test_case, setup, teardown, &cases[i]};
    }
    int failed = _cmocka_run_group_tests(group, tests, (size_t)n, NULL, NULL);
    for (int i = 0; i < n; i++) {
        free(cases[i].file);
        free(names[i]);
    }
    free(names);
    free(cases);
    free(tests);
    return failed;
}

/* A client of the moto server at `url`, with the buckets the s3 cases use. */
static sf_aws_client *moto_client(const char *url)
{
    sf_aws_config cfg = {.max_retries = 2};
    cfg.region = sf_strdup("us-east-1");
    cfg.access_key = sf_strdup("AKIDLAKEFIXTURES");
    cfg.secret_key = sf_strdup("lake/fixtures");
    cfg.endpoint_s3 = sf_strdup(url);
    sf_aws_client *aws = sf_aws_client_new(&cfg);
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    const char *buckets[] = {BUCKET, "other"};
    for (size_t i = 0; i < 2; i++) {
        sf_aws_call call = {
            .operation = "CreateBucket", .service = "s3", .method = "PUT", .path = "/", .bucket = buckets[i]};
        sf_http_resp resp;
        sf_aws_error err = {0};
        if (sf_aws_client_send(aws, ctx, &call, &resp, &err) != 0) {
            fprintf(stderr, "cannot create bucket %s on moto\n", buckets[i]);
            sf_aws_client_free(aws);
            aws = NULL;
            sf_aws_error_clear(&err);
            break;
        }
        sf_http_resp_clear(&resp);
    }
    sf_ctx_free(ctx);
    return aws;
}

int main(void)
{
    const char *src = getenv("SF_SOURCE_DIR");
    if (!src || !*src) src = ".";
    int failed = run_cases(src, "file", NULL);

    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    aws_moto moto = {0};
    sf_aws_client *aws = NULL;
    if (aws_moto_start(&moto) == 0) aws = moto_client(moto.url);
    else fprintf(stderr, "moto not available: the s3 cases are skipped\n");
    failed += run_cases(src, "s3", aws);
    sf_aws_client_free(aws);
    aws_moto_stop(&moto);
    return failed;
}
