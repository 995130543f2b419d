/* s3.c — the s3:// lake: a bucket (and prefix) in Amazon S3.
 *
 * S3 has no rename, so publication is a pointer written last.  Layout of an
 * output s3://bucket/lake/curated:
 *
 *   lake/_sparkflow/tmp/<run>/...                 a run's staging area (work_uri):
 *                                                 the stages write here
 *   lake/curated/_sparkflow/runs/<run>/...        a published run's outputs
 *   lake/curated/_sparkflow/published.json        the pointer: {"run_id",
 *                                                 "fingerprint", "prefix",
 *                                                 "published_at"}
 *
 * Publish copies the staged objects (server side, CopyObject) under
 * runs/<run>/, then writes the pointer — the one PUT that makes the run
 * visible; S3's read-after-write consistency means a reader that sees the new
 * pointer finds every object of the run — then deletes the staging area and
 * the previously published run.  A failed or interrupted run never touches
 * the pointer; discard deletes its staging area.  Readers (and the next
 * plan) read published.json and then the prefix it names.
 *
 * Two runs publishing one output at once (two pipelines configured with
 * the same output, or an apply and a run-now action): the pointer is
 * written with a condition on the one read before the copy (If-Match its
 * ETag, or If-None-Match: * when there was none), so the second writer
 * fails instead of replacing the first's pointer: it deletes its copy
 * under runs/ and fails (refused with the owner's name when the winner is
 * another pipeline, sf_lake_refuse_other).  Before this, the overtaken run
 * stayed under runs/ forever, named by no pointer.  The pointer names the
 * publishing pipeline, and publish refuses to replace another pipeline's.
 *
 * Leftovers of a killed provider: a staging area, or a copy under runs/
 * that no pointer names (killed between copy and pointer), is removed by a
 * later stage of that output once nothing was written to it for 24 hours.
 *
 * Fingerprint: ListObjectsV2 under the input, names Spark ignores skipped
 * (a path segment starting with '_' or '.' unless it holds '=', names
 * ending in "._COPYING_", folder markers); sha256 over
 * "relpath\tsize\tetag\n" in key order, '\\', '\t' and '\n' escaped.
 */
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"
#include "base/str.h"
#include "base/time.h"
#include "lakes/lake.h"
#include "lakes/listing_hash.h"

#define SF_DIR "_sparkflow"
#define POINTER SF_DIR "/published.json"
#define STALE_AFTER_S (24 * 60 * 60)

/* ---- locations ---------------------------------------------------------------- */

typedef struct place {
    char *bucket;
    char *key;    /* without leading or trailing '/' */
    char *parent; /* key's parent ("" at the bucket's root) */
} place;

static void place_clear(place *p)
{
    free(p->bucket);
    free(p->key);
    free(p->parent);
    *p = (place){0};
}

static bool has_segment(const char *key, const char *name)
{
    size_t n = strlen(name);
    for (const char *s = key; s; s = strchr(s, '/')) {
        if (*s == '/') s++;
        if (strncmp(s, name, n) == 0 && (s[n] == '/' || s[n] == 0)) return true;
    }
    return false;
}

/* An s3:// URI split; -1 with a diagnostic under `summary`. */
static int place_of(const char *uri, bool need_key, const char *summary, place *p, sf_diags *d)
{
    *p = (place){0};
    if (sf_aws_s3_parse_uri(uri, &p->bucket, &p->key) != 0) {
        sf_diag_error(d, NULL, summary, "\"%s\" is not an s3:// URI with a bucket, e.g. s3://my-bucket/lake.",
                      uri ? uri : "");
        return -1;
    }
    size_t n = strlen(p->key);
    while (n > 0 && p->key[n - 1] == '/') p->key[--n] = 0;
    if (need_key && !*p->key) {
        sf_diag_error(d, NULL, summary, "\"%s\" is the whole bucket; name a folder inside the lake.", uri);
        place_clear(p);
        return -1;
    }
    char *slash = strrchr(p->key, '/');
    p->parent = slash ? sf_strndup(p->key, (size_t)(slash - p->key)) : sf_strdup("");
    return 0;
}

static char *join(const char *a, const char *b)
{
    return *a ? sf_fmt("%s/%s", a, b) : sf_strdup(b);
}

static bool valid_run_id(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    return n > 0 && n <= 128 && id[0] != '.' &&
           strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

sf_aws_client *sf_lake_env_aws(const sf_lake_env *env, sf_aws_client **owned)
{
    *owned = NULL;
    if (env && env->aws) return env->aws;
    sf_aws_config cfg = {.max_retries = -1};
    *owned = sf_aws_client_new(&cfg);
    return *owned;
}

/* An AWS error as an error diagnostic (the same shape as the engines'
 * sf_aws_diag_error, written here because a lake stands below the engines),
 * and cleared. */
static void aws_diag(sf_diags *d, const char *summary, sf_aws_error *err)
{
    char *text = sf_aws_error_text(err);
    sf_diag_error(d, NULL, summary, "%s", text);
    free(text);
    sf_aws_error_clear(err);
}

/* ---- fingerprint -------------------------------------------------------------------- */

static bool spark_hidden(const char *rel)
{
    size_t len = strlen(rel);
    if (len == 0 || rel[len - 1] == '/') return true;
    if (len > 10 && strcmp(rel + len - 10, "._COPYING_") == 0) return true;
    for (const char *s = rel; s; s = strchr(s, '/')) {
        if (*s == '/') s++;
        size_t n = strcspn(s, "/");
        if ((s[0] == '.' || s[0] == '_') && !memchr(s, '=', n)) return true;
    }
    return false;
}

static int s3_fingerprint(sf_ctx *ctx, const sf_lake_env *env, const char *input_uri, char **out, int64_t *count,
                          sf_diags *d)
{
    *out = NULL;
    *count = 0;
    place p;
    if (place_of(input_uri, false, "Cannot read the input", &p, d) != 0) return -1;
    sf_aws_client *owned, *c = sf_lake_env_aws(env, &owned);
    char *prefix = *p.key ? sf_fmt("%s/", p.key) : sf_strdup("");
    sf_aws_s3_listing l;
    sf_aws_error err = {0};
    int rc = sf_aws_s3_list(c, ctx, p.bucket, prefix, &l, &err);
    if (rc != 0) {
        aws_diag(d, "Cannot list the lake", &err);
    } else {
        sf_lake_hash *h = sf_lake_hash_new();
        for (size_t i = 0; i < l.n; i++) {
            const char *rel = l.items[i].key + strlen(prefix);
            if (spark_hidden(rel)) continue;
            sf_lake_hash_add(h, rel, (long long)l.items[i].size, l.items[i].etag);
            (*count)++;
        }
        *out = sf_lake_hash_end(h);
        sf_aws_s3_listing_clear(&l);
    }
    free(prefix);
    sf_aws_client_free(owned);
    place_clear(&p);
    return rc;
}

static int read_pointer(sf_aws_client *c, sf_ctx *ctx, const place *p, sf_lake_record *rec, char **etag, sf_diags *d);

/* ---- stage, discard --------------------------------------------------------------------- */

/* Runs under `tmp_prefix` (<prefix><run>/...) left by a provider that was
 * killed (not cancelled: a cancel discards its own) are removed once
 * nothing was written to them for STALE_AFTER_S, so that a run still
 * writing is never touched; run `keep` (the published one) never.  Staging
 * areas, and copies under runs/ that no pointer names.  One list call;
 * failures only log. */
static void sweep_stale(sf_aws_client *c, sf_ctx *ctx, const char *bucket, const char *tmp_prefix, const char *keep)
{
    sf_aws_s3_listing l;
    sf_aws_error err = {0};
    if (sf_aws_s3_list(c, ctx, bucket, tmp_prefix, &l, &err) != 0) {
        sf_aws_error_clear(&err);
        return;
    }
    int64_t now = sf_time_wall_ms() / 1000;
    size_t plen = strlen(tmp_prefix);
    for (size_t i = 0; i < l.n;) {
        const char *run = l.items[i].key + plen;
        size_t rlen = strcspn(run, "/");
        int64_t newest = 0;
        size_t k = i;
        for (; k < l.n && strncmp(l.items[k].key + plen, run, rlen) == 0 && l.items[k].key[plen + rlen] == '/'; k++) {
            int64_t t = sf_aws_parse_iso8601(l.items[k].last_modified);
            if (t > newest) newest = t;
        }
        bool kept = keep && strlen(keep) == rlen && strncmp(run, keep, rlen) == 0;
        if (k == i) k = i + 1; /* an object right at the prefix: not a run */
        else if (!kept && newest > 0 && now - newest > STALE_AFTER_S) {
            char *prefix = sf_fmt("%s%.*s/", tmp_prefix, (int)rlen, run);
            size_t n = 0;
            if (sf_aws_s3_delete_prefix(c, ctx, bucket, prefix, &n, &err) == 0)
                sf_log(ctx, SF_LOG_INFO, "lake: removed %zu objects of an abandoned run at s3://%s/%s", n, bucket,
                       prefix);
            sf_aws_error_clear(&err);
            free(prefix);
        }
        i = k;
    }
    sf_aws_s3_listing_clear(&l);
}

static int s3_stage(sf_ctx *ctx, const sf_lake_env *env, const char *output_uri, const char *run_id, char **work_uri,
                    sf_diags *d)
{
    *work_uri = NULL;
    place p;
    if (place_of(output_uri, true, "Cannot stage the run", &p, d) != 0) return -1;
    int rc = -1;
    if (has_segment(p.key, SF_DIR))
        sf_diag_error(d, NULL, "Cannot stage the run",
                      "The output \"%s\" lies inside a %s folder, which SparkFlow keeps for itself; choose another "
                      "output.",
                      output_uri, SF_DIR);
    else if (!valid_run_id(run_id))
        sf_diag_error(d, NULL, "Cannot stage the run", "Invalid run id \"%s\".", run_id ? run_id : "");
    else {
        char *tmp = join(p.parent, SF_DIR "/tmp");
        *work_uri = sf_fmt("s3://%s/%s/%s", p.bucket, tmp, run_id);
        sf_aws_client *owned, *c = sf_lake_env_aws(env, &owned);
        char *tmp_prefix = sf_fmt("%s/", tmp), *runs = join(p.key, SF_DIR "/runs/");
        sweep_stale(c, ctx, p.bucket, tmp_prefix, NULL);
        sf_lake_record rec;
        sf_diags scratch; /* housekeeping: a pointer unreadable now is publish's to report */
        sf_diags_init(&scratch);
        if (read_pointer(c, ctx, &p, &rec, NULL, &scratch) >= 0) sweep_stale(c, ctx, p.bucket, runs, rec.run_id);
        sf_lake_record_clear(&rec);
        sf_diags_clear(&scratch);
        free(runs);
        free(tmp_prefix);
        sf_aws_client_free(owned);
        free(tmp);
        rc = 0;
    }
    place_clear(&p);
    return rc;
}

static int s3_discard(sf_ctx *ctx, const sf_lake_env *env, const char *work_uri, sf_diags *d)
{
    place p;
    if (place_of(work_uri, true, "Cannot discard the run", &p, d) != 0) return -1;
    if (!strstr(p.key, SF_DIR "/tmp/")) {
        sf_diag_error(d, NULL, "Cannot discard the run", "\"%s\" is not a SparkFlow staging area.", work_uri);
        place_clear(&p);
        return -1;
    }
    /* Cleanup must happen even when the run was cancelled. */
    sf_ctx *cl = sf_ctx_new_cleanup(ctx, 2 * 60 * 1000);
    sf_aws_client *owned, *c = sf_lake_env_aws(env, &owned);
    char *prefix = sf_fmt("%s/", p.key);
    sf_aws_error err = {0};
    size_t n = 0;
    int rc = sf_aws_s3_delete_prefix(c, cl, p.bucket, prefix, &n, &err);
    if (rc != 0) aws_diag(d, "Cannot discard the run's staging area", &err);
    else sf_log(ctx, SF_LOG_INFO, "lake: discarded %zu staged objects of %s", n, work_uri);
    free(prefix);
    sf_aws_client_free(owned);
    sf_ctx_free(cl);
    place_clear(&p);
    return rc;
}

/* ---- the pointer ------------------------------------------------------------------------ */

/* published.json of an output: 0 read into *rec, 1 none (*rec empty), -1
 * error (diagnosed).  With `etag`, its ETag (malloc'd; NULL when none),
 * asked before the body: when they differ, the pointer changed since, and
 * a write conditional on the ETag fails as it should. */
static int read_pointer(sf_aws_client *c, sf_ctx *ctx, const place *p, sf_lake_record *rec, char **etag, sf_diags *d)
{
    *rec = (sf_lake_record){0};
    if (etag) *etag = NULL;
    char *key = join(p->key, POINTER);
    sf_buf body = {0};
    sf_aws_error err = {0};
    int rc = etag ? sf_aws_s3_head(c, ctx, p->bucket, key, NULL, etag, &err) : 0;
    if (rc == 0) rc = sf_aws_s3_get(c, ctx, p->bucket, key, &body, &err);
    if (rc < 0) aws_diag(d, "Cannot read what the lake publishes", &err);
    sf_aws_error_clear(&err);
    if (rc == 0 && (sf_lake_record_parse(body.data, body.len, rec) != 0 || !valid_run_id(rec->run_id))) {
        sf_diag_error(d, NULL, "Unreadable publication record", "s3://%s/%s is not a SparkFlow record.", p->bucket,
                      key);
        sf_lake_record_clear(rec);
        rc = -1;
    }
    if (rc != 0 && etag) {
        free(*etag);
        *etag = NULL;
    }
    sf_buf_free(&body);
    free(key);
    return rc;
}

/* ---- publish ------------------------------------------------------------------------------ */

/* Copy every staged object under dst_prefix; -1 with a diagnostic. */
static int copy_run(sf_aws_client *c, sf_ctx *ctx, const char *bucket, const char *src_prefix, const char *dst_prefix,
                    size_t *copied, sf_diags *d)
{
    sf_aws_s3_listing l;
    sf_aws_error err = {0};
    *copied = 0;
    if (sf_aws_s3_list(c, ctx, bucket, src_prefix, &l, &err) != 0) {
        aws_diag(d, "Cannot publish the run", &err);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < l.n && rc == 0; i++) {
        char *dst = sf_fmt("%s%s", dst_prefix, l.items[i].key + strlen(src_prefix));
        rc = sf_aws_s3_copy(c, ctx, bucket, l.items[i].key, dst, l.items[i].size, &err);
        if (rc != 0) aws_diag(d, "Cannot publish the run", &err);
        else (*copied)++;
        free(dst);
    }
    sf_aws_s3_listing_clear(&l);
    return rc;
}

/* Delete a run's copy under runs/ (it lost the pointer, or failed to be
 * copied whole), even when the run was cancelled.  Failures are logged: a
 * later stage sweeps it. */
static void drop_copy(sf_aws_client *c, sf_ctx *ctx, const char *bucket, const char *dst)
{
    sf_ctx *cl = sf_ctx_new_cleanup(ctx, 2 * 60 * 1000);
    sf_aws_error err = {0};
    size_t n = 0;
    if (sf_aws_s3_delete_prefix(c, cl, bucket, dst, &n, &err) == 0) {
        sf_log(ctx, SF_LOG_INFO, "lake: removed %zu objects of the unpublished copy s3://%s/%s", n, bucket, dst);
    } else {
        char *t = sf_aws_error_text(&err);
        sf_log(ctx, SF_LOG_WARN, "lake: cannot remove the unpublished copy s3://%s/%s: %s", bucket, dst, t);
        free(t);
    }
    sf_aws_error_clear(&err);
    sf_ctx_free(cl);
}

/* The pointer changed between our read and our write: who published?  Our
 * own run (a retried PUT whose first attempt landed) is success (0);
 * otherwise -1 with the reason. */
static int overtaken(sf_aws_client *c, sf_ctx *ctx, const place *out, const char *output_uri, const char *run_id,
                     const char *pipeline, sf_diags *d)
{
    sf_lake_record now;
    int got = read_pointer(c, ctx, out, &now, NULL, d);
    int rc = -1;
    if (got == 0 && strcmp(now.run_id, run_id) == 0) rc = 0;
    else if (got == 0 && sf_lake_owned_by_other(now.pipeline, pipeline))
        sf_lake_refuse_other(d, output_uri, pipeline, now.pipeline, now.run_id);
    else if (got == 0)
        sf_diag_error(d, "output", "Run overtaken by another",
                      "Run %s of pipeline \"%s\" was not published: run %s was published at %s while it was "
                      "going, and SparkFlow does not replace a run it did not see. Nothing of this run was "
                      "published. Run `terraform apply` again.",
                      run_id, pipeline ? pipeline : "(unnamed)", now.run_id, output_uri);
    else if (got == 1)
        sf_diag_error(d, "output", "Run overtaken by another",
                      "Run %s of pipeline \"%s\" was not published: the published run of %s was removed while it "
                      "was going. Nothing of this run was published. Run `terraform apply` again.",
                      run_id, pipeline ? pipeline : "(unnamed)", output_uri);
    sf_lake_record_clear(&now);
    return rc;
}

/* The pointer's PUT failed without an answer to trust (every attempt reset,
 * timed out or refused with a 5xx, or the operation was cancelled): the
 * write may have landed all the same.  Read the pointer back, with a
 * budget of its own.  0: it names this run (published: deleting its copy
 * now would leave the pointer naming nothing); 1: it does not; -1: cannot
 * tell. */
static int pointer_landed(sf_aws_client *c, sf_ctx *ctx, const place *out, const char *run_id)
{
    sf_ctx *cl = sf_ctx_new_cleanup(ctx, 60 * 1000);
    sf_diags scratch;
    sf_diags_init(&scratch);
    sf_lake_record now;
    int got = read_pointer(c, cl, out, &now, NULL, &scratch);
    int rc = got == 0 ? (strcmp(now.run_id, run_id) == 0 ? 0 : 1) : got == 1 ? 1 : -1;
    sf_lake_record_clear(&now);
    sf_diags_clear(&scratch);
    sf_ctx_free(cl);
    return rc;
}

static int s3_publish(sf_ctx *ctx, const sf_lake_env *env, const char *output_uri, const char *work_uri,
                      const char *run_id, const char *fingerprint, const char *pipeline, sf_diags *d)
{
    place out, work;
    if (place_of(output_uri, true, "Cannot publish the run", &out, d) != 0) return -1;
    if (place_of(work_uri, true, "Cannot publish the run", &work, d) != 0) {
        place_clear(&out);
        return -1;
    }
    int rc = -1;
    if (strcmp(out.bucket, work.bucket) != 0 || !valid_run_id(run_id)) {
        sf_diag_error(d, NULL, "Cannot publish the run", "The staging area %s does not belong to %s.", work_uri,
                      output_uri);
        goto done;
    }
    sf_aws_client *owned, *c = sf_lake_env_aws(env, &owned);
    sf_lake_record old;
    char *etag = NULL;
    char *src = sf_fmt("%s/", work.key);
    char *runs = join(out.key, SF_DIR "/runs");
    char *dst = sf_fmt("%s/%s/", runs, run_id);
    size_t copied = 0;
    int had = read_pointer(c, ctx, &out, &old, &etag, d);
    if (had == 0 && sf_lake_owned_by_other(old.pipeline, pipeline)) {
        sf_lake_refuse_other(d, output_uri, pipeline, old.pipeline, old.run_id);
    } else if (had >= 0) {
        bool whole = copy_run(c, ctx, out.bucket, src, dst, &copied, d) == 0;
        int put = -1, landed = 1;
        if (whole) {
            sf_lake_record mine = {.run_id = (char *)run_id,
                                   .fingerprint = (char *)fingerprint,
                                   .pipeline = (char *)pipeline,
                                   .prefix = dst};
            char *text = sf_lake_record_json(&mine), *key = join(out.key, POINTER);
            sf_aws_error err = {0};
            put = sf_aws_s3_put_if(c, ctx, out.bucket, key, text, strlen(text), "application/json",
                                   had == 0 ? etag : NULL, &err);
            if (put < 0) landed = pointer_landed(c, ctx, &out, run_id);
            if (put < 0 && landed == 0) {
                sf_log(ctx, SF_LOG_INFO, "lake: the pointer of %s names run %s although its write failed: published",
                       output_uri, run_id);
                put = 0;
            } else if (put < 0) {
                aws_diag(d, "Cannot publish the run", &err);
            }
            sf_aws_error_clear(&err);
            free(text);
            free(key);
        }
        rc = put == 0 ? 0 : put == 1 ? overtaken(c, ctx, &out, output_uri, run_id, pipeline, d) : -1;
        if (rc != 0 && landed < 0)
            sf_diag_warning(d, "output", "Unpublished copy kept",
                            "Whether the pointer of %s names run %s could not be read back after its write "
                            "failed, so the run's copy under %s is kept: if the pointer names it, it is the "
                            "published run; if not, a later run of the pipeline removes it after 24 hours.",
                            output_uri, run_id, dst);
        else if (rc != 0) drop_copy(c, ctx, out.bucket, dst);
    }
    if (rc == 0) {
        sf_log(ctx, SF_LOG_INFO, "lake: published run %s of %s (%zu objects)", run_id, output_uri, copied);
        sf_aws_error err = {0};
        if (sf_aws_s3_delete_prefix(c, ctx, work.bucket, src, NULL, &err) != 0)
            aws_diag(d, "Cannot remove the run's staging area", &err);
        if (old.run_id && strcmp(old.run_id, run_id) != 0) {
            char *prev = sf_fmt("%s/%s/", runs, old.run_id);
            if (sf_aws_s3_delete_prefix(c, ctx, out.bucket, prev, NULL, &err) != 0) {
                char *t = sf_aws_error_text(&err);
                sf_log(ctx, SF_LOG_WARN, "lake: cannot remove the previous run %s: %s", prev, t);
                free(t);
            }
            sf_aws_error_clear(&err);
            free(prev);
        }
        /* Warnings only: the run is published. */
        rc = 0;
    }
    sf_lake_record_clear(&old);
    free(etag);
    free(src);
    free(runs);
    free(dst);
    sf_aws_client_free(owned);
done:
    place_clear(&out);
    place_clear(&work);
    return rc;
}

/* ---- published, remove ------------------------------------------------------------------------ */

/* The URI of a published run's prefix: the pointer's "prefix" (a key in
 * the output's bucket), or runs/<run> when the record has none.  No
 * trailing '/'.  malloc'd. */
static char *run_location(const place *p, const char *run_id, const char *prefix)
{
    if (prefix && *prefix) {
        size_t n = strlen(prefix);
        while (n > 0 && prefix[n - 1] == '/') n--;
        return sf_fmt("s3://%s/%.*s", p->bucket, (int)n, prefix);
    }
    char *runs = join(p->key, SF_DIR "/runs");
    char *uri = sf_fmt("s3://%s/%s/%s", p->bucket, runs, run_id);
    free(runs);
    return uri;
}

static int s3_published(sf_ctx *ctx, const sf_lake_env *env, const char *output_uri, sf_published *out, sf_diags *d)
{
    *out = (sf_published){0};
    place p;
    if (place_of(output_uri, true, "Cannot read what the lake publishes", &p, d) != 0) return -1;
    sf_aws_client *owned, *c = sf_lake_env_aws(env, &owned);
    sf_lake_record rec;
    int rc = read_pointer(c, ctx, &p, &rec, NULL, d);
    if (rc == 0) {
        out->location = run_location(&p, rec.run_id, rec.prefix);
        out->run_id = rec.run_id;
        out->fingerprint = rec.fingerprint;
        out->pipeline = rec.pipeline;
        rec.run_id = rec.fingerprint = rec.pipeline = NULL;
    }
    sf_lake_record_clear(&rec);
    sf_aws_client_free(owned);
    place_clear(&p);
    return rc < 0 ? -1 : 0;
}

static int s3_remove(sf_ctx *ctx, const sf_lake_env *env, const char *output_uri, sf_diags *d)
{
    place p;
    if (place_of(output_uri, true, "Cannot remove the outputs", &p, d) != 0) return -1;
    sf_aws_client *owned, *c = sf_lake_env_aws(env, &owned);
    char *prefix = join(p.key, SF_DIR "/");
    sf_aws_error err = {0};
    size_t n = 0;
    int rc = sf_aws_s3_delete_prefix(c, ctx, p.bucket, prefix, &n, &err);
    if (rc != 0) aws_diag(d, "Cannot remove the outputs", &err);
    else sf_log(ctx, SF_LOG_INFO, "lake: removed %zu objects of %s", n, output_uri);
    free(prefix);
    sf_aws_client_free(owned);
    place_clear(&p);
    return rc;
}

const sf_lake sf_lake_s3 = {
    .scheme = "s3",
    .fingerprint = s3_fingerprint,
    .stage = s3_stage,
    .publish = s3_publish,
    .discard = s3_discard,
    .published = s3_published,
    .remove = s3_remove,
};
