/* file.c — the file:// lake's operations: stage, publish, discard,
 * published, remove (file.h has the layout they work on).
 *
 * Publish, in this order, so that a crash at any point leaves either the old
 * output or the new one, complete and durable:
 *   1. fsync every file and directory of the run (Spark does not), so that a
 *      power cut after the switch cannot leave the new output torn while the
 *      old one is already deleted;
 *   2. write _sparkflow_run.json (temp name, fsync, rename, fsync the dir),
 *      naming the run, its fingerprint and its pipeline — after checking,
 *      under the lock, that the run published now is not another
 *      pipeline's (lakes/record.c): two pipelines racing for one output
 *      publish one after the other, and the second is refused;
 *   3. make the new link at the temp name, fsync the parent;
 *   4. swap it in with renameat2(RENAME_EXCHANGE) (RENAME_NOREPLACE when
 *      nothing was published yet), check that what came out is the link we
 *      expected — if someone put their own data there meanwhile, swap back and
 *      refuse — then fsync the parent.  Filesystems without renameat2 flags
 *      (some network filesystems) get a plain rename(2);
 *   5. only then (after GRACE_MS) delete the previous run directory: always
 *      <parent>/_sparkflow/<basename>/<valid run id>, a path built here from
 *      the run id in the old link, never the link's text itself.  Deletes
 *      use nftw(FTW_DEPTH|FTW_PHYS|FTW_MOUNT): no symlink is followed, no
 *      other filesystem entered.
 * A path at the output that is not a link of that form (a directory, a file,
 * the user's own symlink) is never replaced or deleted: stage and publish
 * refuse it, remove leaves it in place with a warning.  Stage refuses it too,
 * so a run is not spent before publish would refuse.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/files.h"
#include "base/str.h"
#include "base/testpoint.h"
#include "lakes/file.h"

/* ---- stage -------------------------------------------------------------- */

static int file_stage(sf_ctx *ctx, const sf_lake_env *env, const char *output_uri, const char *run_id, char **work_uri,
                      sf_diags *d)
{
    (void)env;
    static const char S[] = "Cannot stage outputs";
    *work_uri = NULL;
    if (!sf_lake_file_check_run_id(run_id, S, d)) return -1;
    sf_lake_file_layout o;
    if (sf_lake_file_layout_from_uri(output_uri, S, &o, d) != 0) return -1;
    int lock = -1, rc = -1;
    char *cur = NULL, *run = sf_lake_file_join(o.store, run_id);
    char *rec = sf_lake_file_owner_path(&o, run_id), *err = NULL;
    sf_lake_file_out state;
    if (sf_lake_file_lock(ctx, &o, true, &lock, S, d) != 0) goto out;
    if (sf_lake_file_classify(&o, &state, &cur, S, d) != 0) goto out;
    if (state == OUT_FOREIGN || state == OUT_FOREIGN_LINK) {
        sf_lake_file_refuse_foreign(&o, d);
        goto out;
    }
    sf_lake_file_sweep(ctx, &o, cur, run_id);
    struct stat st;
    if (lstat(run, &st) == 0 || lstat(rec, &st) == 0) {
        sf_diag_error(d, NULL, S,
                      "Run %s of %s was staged before (%s exists); every run needs "
                      "a fresh run id.",
                      run_id, o.path, run);
        goto out;
    }
    /* The record first: a run directory always has an owner to ask about. */
    if (sf_lake_file_claim(&o, run_id, &err) != 0) {
        sf_diag_error(d, NULL, S, "Cannot record run %s: %s.", run_id, err);
        goto out;
    }
    if (mkdir(run, 0755) != 0) {
        sf_diag_error(d, NULL, S, "Cannot create the staging directory %s: %s.", run, strerror(errno));
        unlink(rec);
        goto out;
    }
    *work_uri = sf_fmt("file://%s", run);
    sf_log(ctx, SF_LOG_DEBUG, "lake: staged run %s of %s at %s", run_id, o.path, run);
    rc = 0;
out:
    sf_lake_file_unlock(lock);
    free(err);
    free(rec);
    free(run);
    free(cur);
    sf_lake_file_layout_clear(&o);
    return rc;
}

/* ---- publish ------------------------------------------------------------ */

/* The record at `path`: 0 parsed into *rec, 1 when there is none or it
 * is not a record SparkFlow wrote, -1 (errno set) when it cannot be read. */
static int read_record(const char *path, sf_lake_record *rec)
{
    *rec = (sf_lake_record){0};
    size_t len = 0;
    char *text = sf_file_read_len(path, &len);
    if (!text) return errno == ENOENT || errno == ENOTDIR ? 1 : -1;
    int rc = sf_lake_record_parse(text, len, rec) == 0 && sf_lake_file_valid_run_id(rec->run_id) ? 0 : 1;
    if (rc) sf_lake_record_clear(rec);
    free(text);
    return rc;
}

/* Under the lock: 0 when `pipeline` may replace run `old` (nobody's,
 * ours, or no record), -1 with the refusal when another pipeline
 * published it. */
static int check_owner(const sf_lake_file_layout *o, const char *output_uri, const char *old, const char *pipeline,
                       sf_diags *d)
{
    if (!old || !pipeline) return 0;
    char *dir = sf_lake_file_join(o->store, old);
    char *path = sf_lake_file_join(dir, RUN_RECORD);
    sf_lake_record rec;
    int rc = 0;
    if (read_record(path, &rec) == 0 && sf_lake_owned_by_other(rec.pipeline, pipeline)) {
        sf_lake_refuse_other(d, output_uri, pipeline, rec.pipeline, rec.run_id);
        rc = -1;
    }
    sf_lake_record_clear(&rec);
    free(path);
    free(dir);
    return rc;
}

/* Puts a link to `target` at the output path in one step.  `old_target` is
 * the link text expected there now, NULL when nothing is expected.  0, or -1
 * with a diagnostic; the output is unchanged on error. */
static int switch_link(const sf_lake_file_layout *o, const char *target, const char *old_target, const char *summary,
                       sf_diags *d)
{
    struct stat st;
    if (lstat(o->tmp, &st) == 0) {
        if (!S_ISLNK(st.st_mode)) {
            sf_diag_error(d, NULL, summary,
                          "%s is in the way (SparkFlow uses that name for "
                          "a moment while publishing); move it away and apply again.",
                          o->tmp);
            return -1;
        }
        unlink(o->tmp); /* left by an interrupted publish (we hold the lock) */
    }
    if (symlink(target, o->tmp) != 0) {
        sf_diag_error(d, NULL, summary, "Cannot create the link %s: %s.", o->tmp, strerror(errno));
        return -1;
    }
    if (sf_file_fsync_dir(o->parent) != 0) {
        sf_diag_error(d, NULL, summary, "Cannot sync %s: %s.", o->parent, strerror(errno));
        unlink(o->tmp);
        return -1;
    }
    unsigned int flags = old_target ? RENAME_EXCHANGE : RENAME_NOREPLACE;
    int rc = renameat2(AT_FDCWD, o->tmp, AT_FDCWD, o->path, flags);
    if (rc != 0 && (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP)) {
        /* No flags here: plain rename, the lock keeps SparkFlow out. */
        rc = rename(o->tmp, o->path);
        flags = 0;
    }
    if (rc != 0) {
        int e = errno;
        unlink(o->tmp);
        if (e == EEXIST || e == ENOTEMPTY || e == EISDIR)
            sf_diag_error(d, NULL, "Output location holds data SparkFlow did not write",
                          "%s appeared while the outputs were being published; SparkFlow "
                          "left it as it is and published nothing. Move it away or choose "
                          "another output, then apply again.",
                          o->path);
        else sf_diag_error(d, NULL, summary, "Cannot rename %s to %s: %s.", o->tmp, o->path, strerror(e));
        return -1;
    }
    if (flags == RENAME_EXCHANGE) {
        /* The temp name now holds what was at the output: it must be the
         * link we saw, or someone else's data that we put back. */
        char *was = sf_lake_file_read_link(o->tmp);
        if (!was || strcmp(was, old_target) != 0) {
            renameat2(AT_FDCWD, o->tmp, AT_FDCWD, o->path, RENAME_EXCHANGE);
            free(was);
            sf_diag_error(d, NULL, "Output location holds data SparkFlow did not write",
                          "%s changed while the outputs were being published; SparkFlow put "
                          "it back as it was and published nothing. Apply again.",
                          o->path);
            return -1;
        }
        free(was);
        unlink(o->tmp);
    }
    if (sf_file_fsync_dir(o->parent) != 0)
        sf_log(NULL, SF_LOG_WARN, "lake: cannot sync %s: %s", o->parent, strerror(errno));
    return 0;
}

static int file_publish(sf_ctx *ctx, const sf_lake_env *env, const char *output_uri, const char *work_uri,
                        const char *run_id, const char *fingerprint, const char *pipeline, sf_diags *d)
{
    (void)env;
    static const char S[] = "Cannot publish outputs";
    if (!sf_lake_file_check_run_id(run_id, S, d)) return -1;
    sf_lake_file_layout o;
    if (sf_lake_file_layout_from_uri(output_uri, S, &o, d) != 0) return -1;
    int lock = -1, rc = -1;
    char *run = sf_lake_file_join(o.store, run_id), *rec = sf_lake_file_owner_path(&o, run_id);
    char *work = NULL, *old = NULL, *err = NULL, *json = NULL;
    char *target = sf_fmt("%s/%s/%s", SF_DIR, o.base, run_id), *old_target = NULL;
    if (!(work = sf_lake_file_uri_path(work_uri, S, d))) goto out;
    if (strcmp(work, run) != 0) {
        sf_diag_error(d, NULL, S, "%s is not where SparkFlow staged run %s of %s (%s).", work_uri, run_id, o.path, run);
        goto out;
    }
    int locked = sf_lake_file_lock(ctx, &o, false, &lock, S, d);
    if (locked < 0) goto out;
    struct stat st;
    if (locked > 0 || lstat(run, &st) != 0 || !S_ISDIR(st.st_mode) || lstat(rec, &st) != 0) {
        sf_diag_error(d, NULL, S,
                      "The staging area %s of run %s is gone or incomplete (was it "
                      "removed while the run was going?). Nothing was published; the previous "
                      "outputs of %s are unchanged. Run again.",
                      run, run_id, o.path);
        goto out;
    }
    sf_lake_file_out state;
    if (sf_lake_file_classify(&o, &state, &old, S, d) != 0) goto out;
    if (state == OUT_FOREIGN || state == OUT_FOREIGN_LINK) {
        sf_lake_file_refuse_foreign(&o, d);
        goto out;
    }
    if (check_owner(&o, output_uri, old, pipeline, d) != 0) goto out;
    if (sf_ctx_done(ctx)) {
        sf_diag_error(d, NULL, S,
                      "%s before the outputs were switched; the previous outputs "
                      "of %s are unchanged.",
                      sf_ctx_reason(ctx), o.path);
        goto out;
    }
    sf_lake_record mine = {.run_id = (char *)run_id, .fingerprint = (char *)fingerprint, .pipeline = (char *)pipeline};
    json = sf_lake_record_json(&mine);
    if (sf_lake_file_sync_tree(ctx, run, &err) != 0 || sf_lake_file_write_record(run, RUN_RECORD, json, &err) != 0) {
        sf_diag_error(d, NULL, S,
                      "Preparing run %s failed: %s. The previous outputs of %s are "
                      "unchanged.",
                      run_id, err, o.path);
        goto out;
    }
    /* The run directory's own entry, and the store's, must be durable before
     * a link points at them. */
    if (sf_file_fsync_dir(o.store) != 0 || sf_file_fsync_dir(o.sfdir) != 0) {
        sf_diag_error(d, NULL, S,
                      "Cannot sync %s: %s. The previous outputs of %s are "
                      "unchanged.",
                      o.store, strerror(errno), o.path);
        goto out;
    }
    if (old && strcmp(old, run_id) == 0) { /* published already: record refreshed */
        rc = 0;
        goto out;
    }
    if (old) old_target = sf_fmt("%s/%s/%s", SF_DIR, o.base, old);
    sf_testpoint(ctx, "publish.before_switch");
    if (switch_link(&o, target, old_target, S, d) != 0) goto out;
    sf_testpoint(ctx, "publish.after_switch"); /* the previous run not yet removed */
    sf_log(ctx, SF_LOG_INFO, "lake: published run %s at %s", run_id, o.path);
    rc = 0;
    if (old) {
        /* A reader that followed the old link just before the switch may be
         * between resolving it and opening its files: give it a moment (an
         * open file stays readable after it is deleted). */
        sf_ctx_sleep_ms(ctx, GRACE_MS);
        int e = sf_lake_file_delete_run(&o, old);
        if (e)
            sf_diag_warning(d, NULL, "Previous outputs not removed",
                            "The new outputs of %s are published, but the previous run %s/%s "
                            "could not be removed: %s. SparkFlow removes it on a later run; you "
                            "may also delete it yourself.",
                            o.path, o.store, old, strerror(e));
    }
out:
    sf_lake_file_unlock(lock);
    free(old_target);
    free(target);
    free(json);
    free(err);
    free(old);
    free(work);
    free(rec);
    free(run);
    sf_lake_file_layout_clear(&o);
    return rc;
}

/* ---- discard ------------------------------------------------------------ */

static int file_discard(sf_ctx *ctx, const sf_lake_env *env, const char *work_uri, sf_diags *d)
{
    (void)env;
    static const char S[] = "Cannot discard staging area";
    char *path = sf_lake_file_uri_path(work_uri, S, d);
    if (!path) return -1;
    /* <parent>/_sparkflow/<base>/<run> and nothing else. */
    char *store = strcmp(path, "/") ? sf_lake_file_parent_of(path) : sf_strdup("/");
    char *sfdir = strcmp(store, "/") ? sf_lake_file_parent_of(store) : sf_strdup("/");
    char *parent = strcmp(sfdir, "/") ? sf_lake_file_parent_of(sfdir) : sf_strdup("/");
    int lock = -1, rc = -1;
    char *cur = NULL;
    sf_lake_file_layout o = {0};
    if (strcmp(sfdir, "/") == 0 || strcmp(sf_lake_file_base_of(sfdir), SF_DIR) != 0 ||
        !sf_lake_file_valid_run_id(sf_lake_file_base_of(path))) {
        sf_diag_error(d, NULL, S,
                      "%s is not a SparkFlow staging area (.../%s/<output>/<run "
                      "id>); SparkFlow only deletes what it staged.",
                      work_uri, SF_DIR);
        goto out;
    }
    const char *run = sf_lake_file_base_of(path);
    sf_lake_file_layout_make(&o, parent, sf_lake_file_base_of(store));
    int locked = sf_lake_file_lock(ctx, &o, false, &lock, S, d);
    if (locked != 0) {
        rc = locked > 0 ? 0 : -1; /* no store: nothing to discard */
        goto out;
    }
    sf_lake_file_out state;
    if (sf_lake_file_classify(&o, &state, &cur, S, d) != 0) goto out;
    if (state == OUT_OURS && strcmp(cur, run) == 0) {
        sf_diag_error(d, NULL, S,
                      "Run %s is the published output of %s; SparkFlow does not "
                      "discard published outputs.",
                      run, o.path);
        goto out;
    }
    int e = sf_lake_file_delete_run(&o, run);
    if (e) {
        sf_diag_error(d, NULL, S, "Cannot delete %s: %s.", path, strerror(e));
        goto out;
    }
    sf_log(ctx, SF_LOG_DEBUG, "lake: discarded %s", path);
    rc = 0;
out:
    sf_lake_file_unlock(lock);
    free(cur);
    sf_lake_file_layout_clear(&o);
    free(parent);
    free(sfdir);
    free(store);
    free(path);
    return rc;
}

/* ---- published ---------------------------------------------------------- */

/* file:// + the real path of run `id`'s directory (the store may lie behind
 * a symlink of the user's; the run directory itself never is one), or of
 * the path as laid out when it is gone already (the next publish removed
 * it).  malloc'd. */
static char *run_location(const sf_lake_file_layout *o, const char *id)
{
    char *run = sf_lake_file_join(o->store, id);
    char *real = realpath(run, NULL);
    char *uri = sf_fmt("file://%s", real ? real : run);
    free(real);
    free(run);
    return uri;
}

static int file_published(sf_ctx *ctx, const sf_lake_env *env, const char *output_uri, sf_published *out, sf_diags *d)
{
    (void)ctx;
    (void)env;
    static const char S[] = "Cannot read published outputs";
    *out = (sf_published){0};
    sf_lake_file_layout o;
    if (sf_lake_file_layout_from_uri(output_uri, S, &o, d) != 0) return -1;
    int rc = -1;
    char *cur = NULL;
    sf_lake_file_out state;
    if (sf_lake_file_classify(&o, &state, &cur, S, d) != 0) goto out;
    rc = 0;
    if (state != OUT_OURS) goto out;
    /* Through the link: the record of whichever run it points at as we open. */
    char *path = sf_lake_file_join(o.path, RUN_RECORD);
    sf_lake_record rec;
    int got = read_record(path, &rec);
    if (got < 0) {
        sf_diag_error(d, NULL, S, "Cannot read %s: %s.", path, strerror(errno));
        rc = -1;
    } else if (got == 0) {
        out->location = run_location(&o, rec.run_id);
        out->run_id = rec.run_id;
        out->fingerprint = rec.fingerprint;
        out->pipeline = rec.pipeline;
        rec = (sf_lake_record){0};
    } else if (access(path, F_OK) == 0) {
        sf_diag_warning(d, NULL, "Unreadable publish record",
                        "%s is not a record SparkFlow wrote; the outputs of %s count as "
                        "not published, so the pipeline runs again.",
                        path, o.path);
    }
    sf_lake_record_clear(&rec);
    free(path);
out:
    free(cur);
    sf_lake_file_layout_clear(&o);
    return rc;
}

/* ---- remove ------------------------------------------------------------- */

static int file_remove(sf_ctx *ctx, const sf_lake_env *env, const char *output_uri, sf_diags *d)
{
    (void)env;
    static const char S[] = "Cannot remove outputs";
    sf_lake_file_layout o;
    if (sf_lake_file_layout_from_uri(output_uri, S, &o, d) != 0) return -1;
    int lock = -1, rc = -1;
    char *cur = NULL;
    int locked = sf_lake_file_lock(ctx, &o, false, &lock, S, d);
    if (locked < 0) goto out;
    sf_lake_file_out state;
    if (sf_lake_file_classify(&o, &state, &cur, S, d) != 0) goto out;
    if (state == OUT_OURS) {
        if (unlink(o.path) != 0 && errno != ENOENT) {
            sf_diag_error(d, NULL, S, "Cannot remove the link %s: %s.", o.path, strerror(errno));
            goto out;
        }
        sf_file_fsync_dir(o.parent);
    } else if (state != OUT_MISSING) {
        sf_diag_warning(d, NULL, "Output left in place",
                        "%s is a %s that SparkFlow did not create, so it was left as it is.", o.path,
                        sf_lake_file_kind_of(o.path));
    }
    struct stat st;
    if (lstat(o.tmp, &st) == 0 && S_ISLNK(st.st_mode)) unlink(o.tmp);
    if (locked == 0) {
        int e = sf_lake_file_delete_tree(o.store);
        if (e) {
            sf_diag_error(d, NULL, S, "Cannot delete %s: %s.", o.store, strerror(e));
            goto out;
        }
    }
    sf_lake_file_unlock(lock);
    lock = -1;
    rmdir(o.sfdir); /* only when no other output keeps runs there */
    sf_log(ctx, SF_LOG_INFO, "lake: removed %s and %s", o.path, o.store);
    rc = 0;
out:
    sf_lake_file_unlock(lock);
    free(cur);
    sf_lake_file_layout_clear(&o);
    return rc;
}

const sf_lake sf_lake_file = {
    .scheme = "file",
    .fingerprint = sf_lake_file_fingerprint,
    .stage = file_stage,
    .publish = file_publish,
    .discard = file_discard,
    .published = file_published,
    .remove = file_remove,
    .disk_space = sf_lake_file_disk_space,
};
