/* test_aws_engine.c — the emr engine and the s3:// lake against a moto
 * server on loopback (skipped when moto is not installed): cluster
 * create/read/resize/delete with the spec kept in tags, a pipeline run that
 * uploads its code and is cancelled (moto never runs steps), publication by
 * pointer, discard, remove; plus the pure parts (validators, zip). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "tests/unit/aws_moto.h"
#include "engines/emr/emr.h"
#include "lakes/lake.h"

static aws_moto moto;
static bool have_moto;
static char tmpdir[256];
static sf_engine_env env;
static sf_lake_env lake_env; /* the S3 lake's view of env */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void put(const char *bucket, const char *key, const char *text)
{
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    sf_aws_error err = {0};
    assert_int_equal(sf_aws_s3_put(env.aws, ctx, bucket, key, text, strlen(text), NULL, &err), 0);
    sf_ctx_free(ctx);
}

static size_t count(const char *bucket, const char *prefix)
{
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    sf_aws_s3_listing l;
    sf_aws_error err = {0};
    assert_int_equal(sf_aws_s3_list(env.aws, ctx, bucket, prefix, &l, &err), 0);
    size_t n = l.n;
    sf_aws_s3_listing_clear(&l);
    sf_ctx_free(ctx);
    return n;
}

static void create_bucket(const char *bucket)
{
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    sf_aws_call call = {.operation = "CreateBucket",
                        .service = "s3",
                        .method = "PUT",
                        .path = "/",
                        .idempotent = true,
                        .bucket = bucket};
    sf_http_resp resp;
    sf_aws_error err = {0};
    assert_int_equal(sf_aws_client_send(env.aws, ctx, &call, &resp, &err), 0);
    sf_http_resp_clear(&resp);
    sf_ctx_free(ctx);
}

/* ---- pure ------------------------------------------------------------------- */

static void test_validators(void **state)
{
    (void)state;
    sf_diags d;
    sf_diags_init(&d);
    const char *good[] = {"emr-7.13.0", "emr-spark-8.0.0"};
    for (int i = 0; i < 2; i++) {
        sf_value *v = sf_value_string(good[i]);
        sf_emr_validate_release(v, "emr.release_label", &d);
        sf_value_free(v);
    }
    assert_int_equal(d.n, 0);
    sf_value *v = sf_value_string("7.13.0");
    sf_emr_validate_release(v, "emr.release_label", &d);
    sf_value_free(v);
    assert_int_equal(d.n, 1);
    const char *idle_ok[] = {"60s", "1h", "168h"}, *idle_bad[] = {"59s", "169h", "1.5s", "soon"};
    for (int i = 0; i < 3; i++) {
        v = sf_value_string(idle_ok[i]);
        sf_emr_validate_idle(v, "emr.idle_timeout", &d);
        sf_value_free(v);
    }
    assert_int_equal(d.n, 1);
    for (int i = 0; i < 4; i++) {
        v = sf_value_string(idle_bad[i]);
        sf_emr_validate_idle(v, "emr.idle_timeout", &d);
        sf_value_free(v);
    }
    assert_int_equal(d.n, 5);
    sf_diags_clear(&d);
}

static void test_spec_tags_round_trip(void **state)
{
    (void)state;
    sf_value *spec = sf_value_object();
    sf_value_put(spec, "release_label", sf_value_string("emr-spark-8.0.0"));
    sf_value_put(spec, "idle_timeout", sf_value_string("45m"));
    sf_value_put(spec, "configurations_json",
                 sf_value_string("[ {\"Classification\": \"spark-defaults\", \"Properties\": {\"a\": \"b\"}} ]"));
    sf_value *tags = sf_value_map();
    sf_value_put(tags, "owner", sf_value_string("me"));
    sf_value_put(spec, "tags", tags);
    sf_value *resolved = sf_emr_spec_resolved(spec);
    cJSON *t = sf_emr_spec_tags(resolved);
    assert_true(cJSON_GetArraySize(t) >= 2);
    const cJSON *tag;
    cJSON_ArrayForEach(tag, t) assert_true(strlen(sf_emr_str(tag, "Value")) <= 256);
    sf_value *back = sf_emr_spec_from_tags(t);
    assert_non_null(back);
    sf_value_put(resolved, "core_instance_count", sf_value_null());
    assert_true(sf_value_equal(back, resolved));
    sf_value_free(back);
    cJSON_Delete(t);
    sf_value_free(resolved);
    sf_value_free(spec);
}

static void test_zip_is_readable(void **state)
{
    (void)state;
    const char *names[] = {"pkg/__init__.py", "pkg/mod.py"};
    sf_buf data[2] = {0};
    sf_buf_puts(&data[0], "");
    sf_buf_puts(&data[1], "X = 42\n");
    sf_buf zip;
    assert_int_equal(sf_emr_zip(names, data, 2, &zip), 0);
    char *path = sf_fmt("%s/pkg.zip", tmpdir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(zip.data, 1, zip.len, f);
    fclose(f);
    char python[512];
    aws_moto_python(python, sizeof python);
    if (access(python, X_OK) == 0) {
        char *cmd = sf_fmt("'%s' -c \"import sys; sys.path.insert(0, '%s'); import pkg.mod; "
                           "assert pkg.mod.X == 42\"",
                           python, path);
        assert_int_equal(system(cmd), 0);
        free(cmd);
    }
    free(path);
    sf_buf_free(&zip);
    sf_buf_free(&data[0]);
    sf_buf_free(&data[1]);
}

/* ---- the lake ------------------------------------------------------------------ */

static void test_lake_fingerprint(void **state)
{
    (void)state;
    if (!have_moto) skip();
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    sf_diags d;
    sf_diags_init(&d);
    create_bucket("fpt");
    put("fpt", "lake/raw/a.csv", "1\n");
    put("fpt", "lake/raw/sub/b.csv", "22\n");
    put("fpt", "lake/raw/_SUCCESS", "");
    put("fpt", "lake/raw/.hidden", "x");
    put("fpt", "lake/raw/month=_x/c.csv", "3\n");
    char *fp1 = NULL, *fp2 = NULL;
    int64_t n = 0;
    assert_int_equal(sf_lake_s3.fingerprint(ctx, &lake_env, "s3://fpt/lake/raw", &fp1, &n, &d), 0);
    assert_int_equal(n, 3);
    assert_true(strncmp(fp1, "sha256:", 7) == 0);
    put("fpt", "lake/raw/_SUCCESS", "changed marker");
    assert_int_equal(sf_lake_s3.fingerprint(ctx, &lake_env, "s3://fpt/lake/raw/", &fp2, &n, &d), 0);
    assert_string_equal(fp1, fp2);
    free(fp2);
    put("fpt", "lake/raw/a.csv", "1\n2\n");
    assert_int_equal(sf_lake_s3.fingerprint(ctx, &lake_env, "s3://fpt/lake/raw", &fp2, &n, &d), 0);
    assert_string_not_equal(fp1, fp2);
    free(fp1);
    free(fp2);
    assert_int_equal(sf_lake_s3.fingerprint(ctx, &lake_env, "s3://no-such-bucket/x", &fp1, &n, &d), -1);
    assert_true(sf_diags_has_error(&d));
    sf_diags_clear(&d);
    sf_ctx_free(ctx);
}

static void test_lake_publish_cycle(void **state)
{
    (void)state;
    if (!have_moto) skip();
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    sf_diags d;
    sf_diags_init(&d);
    create_bucket("pub");
    const char *out = "s3://pub/lake/curated";
    put("pub", "lake/curated/mine.txt", "user data next to the output");
    char *work = NULL;
    assert_int_equal(sf_lake_s3.stage(ctx, &lake_env, out, "run-1", &work, &d), 0);
    assert_string_equal(work, "s3://pub/lake/_sparkflow/tmp/run-1");
    put("pub", "lake/_sparkflow/tmp/run-1/valid/part-0.parquet", "p0");
    put("pub", "lake/_sparkflow/tmp/run-1/report/index.html", "<html>");
    sf_published p = {0};
    assert_int_equal(sf_lake_s3.published(ctx, &lake_env, out, &p, &d), 0);
    assert_null(p.run_id);
    assert_int_equal(sf_lake_s3.publish(ctx, &lake_env, out, work, "run-1", "sha256:aa", "finance", &d), 0);
    assert_int_equal(d.n, 0);
    assert_int_equal(count("pub", "lake/_sparkflow/tmp/"), 0);
    assert_int_equal(count("pub", "lake/curated/_sparkflow/runs/run-1/"), 2);
    assert_int_equal(sf_lake_s3.published(ctx, &lake_env, out, &p, &d), 0);
    assert_string_equal(p.run_id, "run-1");
    assert_string_equal(p.fingerprint, "sha256:aa");
    assert_string_equal(p.location, "s3://pub/lake/curated/_sparkflow/runs/run-1");
    sf_published_clear(&p);
    free(work);

    /* A second run replaces the first; a failed third one changes nothing.
     * Another run's fresh staging area is left alone by the sweep. */
    put("pub", "lake/_sparkflow/tmp/other/x", "busy");
    assert_int_equal(sf_lake_s3.stage(ctx, &lake_env, out, "run-2", &work, &d), 0);
    assert_int_equal(count("pub", "lake/_sparkflow/tmp/other/"), 1);
    assert_int_equal(sf_lake_s3.discard(ctx, &lake_env, "s3://pub/lake/_sparkflow/tmp/other", &d), 0);
    put("pub", "lake/_sparkflow/tmp/run-2/valid/part-0.parquet", "p0 v2");
    assert_int_equal(sf_lake_s3.publish(ctx, &lake_env, out, work, "run-2", "sha256:bb", "finance", &d), 0);
    free(work);
    assert_int_equal(count("pub", "lake/curated/_sparkflow/runs/run-1/"), 0);
    assert_int_equal(sf_lake_s3.stage(ctx, &lake_env, out, "run-3", &work, &d), 0);
    put("pub", "lake/_sparkflow/tmp/run-3/valid/half", "x");
    assert_int_equal(sf_lake_s3.discard(ctx, &lake_env, work, &d), 0);
    free(work);
    assert_int_equal(count("pub", "lake/_sparkflow/tmp/"), 0);
    assert_int_equal(sf_lake_s3.published(ctx, &lake_env, out, &p, &d), 0);
    assert_string_equal(p.run_id, "run-2");
    assert_string_equal(p.location, "s3://pub/lake/curated/_sparkflow/runs/run-2");
    sf_published_clear(&p);

    /* remove: SparkFlow's objects only. */
    assert_int_equal(sf_lake_s3.remove(ctx, &lake_env, out, &d), 0);
    assert_int_equal(count("pub", "lake/curated/_sparkflow/"), 0);
    assert_int_equal(count("pub", "lake/curated/mine.txt"), 1);
    assert_int_equal(sf_lake_s3.published(ctx, &lake_env, out, &p, &d), 0);
    assert_null(p.run_id);

    /* Outputs inside _sparkflow, and the bucket root, are refused. */
    assert_int_equal(sf_lake_s3.stage(ctx, &lake_env, "s3://pub/lake/_sparkflow/x", "run-4", &work, &d), -1);
    assert_int_equal(sf_lake_s3.stage(ctx, &lake_env, "s3://pub", "run-4", &work, &d), -1);
    assert_int_equal(d.n, 2);
    sf_diags_clear(&d);
    sf_ctx_free(ctx);
}

/* ---- the engine ------------------------------------------------------------------ */

static sf_value *small_spec(int64_t core)
{
    sf_value *spec = sf_value_object();
    sf_value_put(spec, "release_label", sf_value_string("emr-7.13.0"));
    sf_value_put(spec, "core_instance_count", sf_value_int(core));
    sf_value_put(spec, "log_uri", sf_value_string("s3://eng/logs/"));
    sf_value_put(spec, "idle_timeout", sf_value_string("15m"));
    return spec;
}

static void test_cluster_lifecycle(void **state)
{
    (void)state;
    if (!have_moto) skip();
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    sf_diags d;
    sf_diags_init(&d);
    create_bucket("eng");
    sf_value *spec = small_spec(2);
    sf_cluster_info info = {0};
    assert_int_equal(sf_engine_emr.cluster_create(ctx, &env, "unit", spec, &info, &d), SF_ENGINE_OK);
    assert_int_equal(d.n, 0);
    assert_true(strncmp(info.id, "j-", 2) == 0);
    assert_string_equal(info.name, "unit");
    assert_string_equal(info.master_url, "yarn");
    char *id = sf_strdup(info.id);
    sf_value *resolved = sf_emr_spec_resolved(spec);
    assert_true(sf_value_equal(info.spec, resolved));
    sf_cluster_info_clear(&info);

    /* Read gives back the spec as configured (idle timeout included). */
    assert_int_equal(sf_engine_emr.cluster_read(ctx, &env, id, NULL, &info, &d), SF_ENGINE_OK);
    assert_true(sf_value_equal(info.spec, resolved));
    assert_non_null(sf_value_get(info.details, "core_instance_group_id"));
    sf_cluster_info_clear(&info);

    /* Resize in place. */
    sf_value *bigger = small_spec(3);
    assert_int_equal(sf_engine_emr.cluster_update(ctx, &env, id, NULL, spec, bigger, &info, &d), SF_ENGINE_OK);
    int64_t n = 0;
    assert_int_equal(sf_value_get_int(sf_value_get(info.spec, "core_instance_count"), &n), 0);
    assert_int_equal(n, 3);
    sf_cluster_info_clear(&info);
    assert_int_equal(sf_engine_emr.cluster_read(ctx, &env, id, NULL, &info, &d), SF_ENGINE_OK);
    assert_int_equal(sf_value_get_int(sf_value_get(info.spec, "core_instance_count"), &n), 0);
    assert_int_equal(n, 3);
    sf_cluster_info_clear(&info);

    /* Tags change in place, and Read gives the new ones back. */
    sf_value *tagged = small_spec(3), *t = sf_value_map();
    sf_value_put(t, "team", sf_value_string("household"));
    sf_value_put(tagged, "tags", t);
    assert_int_equal(sf_engine_emr.cluster_update(ctx, &env, id, NULL, bigger, tagged, &info, &d), SF_ENGINE_OK);
    sf_cluster_info_clear(&info);
    assert_int_equal(sf_engine_emr.cluster_read(ctx, &env, id, NULL, &info, &d), SF_ENGINE_OK);
    assert_string_equal(sf_value_get_str(sf_value_get(sf_value_get(info.spec, "tags"), "team")), "household");
    sf_cluster_info_clear(&info);
    sf_value_free(tagged);

    /* Delete, then Read says GONE; deleting again is fine. */
    assert_int_equal(sf_engine_emr.cluster_delete(ctx, &env, id, NULL, &d), SF_ENGINE_OK);
    assert_int_equal(sf_engine_emr.cluster_read(ctx, &env, id, NULL, &info, &d), SF_ENGINE_GONE);
    assert_int_equal(sf_engine_emr.cluster_delete(ctx, &env, id, NULL, &d), SF_ENGINE_OK);
    assert_int_equal(sf_engine_emr.cluster_read(ctx, &env, "j-NOSUCHCLUSTER1", NULL, &info, &d), SF_ENGINE_GONE);
    assert_int_equal(d.n, 0);
    free(id);
    sf_value_free(bigger);
    sf_value_free(resolved);
    sf_value_free(spec);
    sf_diags_clear(&d);
    sf_ctx_free(ctx);
}

static void test_pipeline_run_uploads_and_cancels(void **state)
{
    (void)state;
    if (!have_moto) skip();
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    sf_diags d;
    sf_diags_init(&d);
    create_bucket("runs");
    sf_value *spec = small_spec(1);
    sf_cluster_info info = {0};
    assert_int_equal(sf_engine_emr.cluster_create(ctx, &env, "runner", spec, &info, &d), SF_ENGINE_OK);

    char *jobs = sf_fmt("%s/jobs", tmpdir), *pkg = sf_fmt("%s/jobs/helpers", tmpdir);
    mkdir(jobs, 0755);
    mkdir(pkg, 0755);
    char *script = sf_fmt("%s/count.py", jobs), *init = sf_fmt("%s/__init__.py", pkg);
    write_file(script, "print('count')\n");
    write_file(init, "");
    const char *args[] = {"--as-of", "2025-01-01", NULL}, *conf[] = {"spark.sql.shuffle.partitions=2", NULL};
    sf_stage_spec stages[] = {{.name = "count", .script = script, .args = args, .conf = conf},
                              {.name = "again", .script = script, .args = NULL, .conf = NULL}};
    sf_run_spec run = {.pipeline = "p",
                       .run_id = "r1",
                       .input_uri = "s3://runs/lake/raw",
                       .work_uri = "s3://runs/lake/_sparkflow/tmp/r1",
                       .reference_uri = "s3://runs/lake/reference",
                       .stages = stages,
                       .n_stages = 2};
    sf_stage_result results[2] = {0};
    sf_ctx *op = sf_ctx_new_child(ctx);
    sf_ctx_set_deadline(op, sf_time_mono_ms() + 3000);
    assert_int_equal(sf_engine_emr.pipeline_run(op, &env, info.id, &run, results, &d), SF_ENGINE_ERROR);
    sf_ctx_free(op);
    assert_true(strncmp(results[0].step_id, "s-", 2) == 0);
    assert_true(strncmp(results[1].step_id, "s-", 2) == 0);
    assert_string_equal(results[1].status, "not_run");
    /* the script, content-addressed, and the package zip beside it */
    assert_int_equal(count("runs", "lake/_sparkflow/code/"), 2);
    char sha[65];
    sf_aws_sha256_hex("print('count')\n", 15, sha);
    char *key = sf_fmt("lake/_sparkflow/code/%s/count.py", sha);
    assert_int_equal(count("runs", key), 1);
    free(key);

    /* A file:// lake cannot serve an EMR run. */
    sf_stage_result r2[2] = {0};
    run.work_uri = "file:///tmp/x/_sparkflow/tmp/r2";
    assert_int_equal(sf_engine_emr.pipeline_run(ctx, &env, info.id, &run, r2, &d), SF_ENGINE_ERROR);
    assert_true(sf_diags_has_error(&d));
    for (int i = 0; i < 2; i++) {
        sf_stage_result_clear(&results[i]);
        sf_stage_result_clear(&r2[i]);
    }
    sf_diags_clear(&d);
    assert_int_equal(sf_engine_emr.cluster_delete(ctx, &env, info.id, NULL, &d), SF_ENGINE_OK);
    sf_cluster_info_clear(&info);
    free(script);
    free(init);
    free(jobs);
    free(pkg);
    sf_value_free(spec);
    sf_diags_clear(&d);
    sf_ctx_free(ctx);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sf-aws-engine-XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    setenv("SPARKFLOW_AWS_POLL_MS", "50", 1);
    setenv("SPARKFLOW_AWS_POLL_MAX_MS", "200", 1);
    setenv("SPARKFLOW_AWS_RETRY_BASE_MS", "10", 1);
    have_moto = aws_moto_start(&moto) == 0;
    if (!have_moto) fprintf(stderr, "moto not available: the moto tests are skipped\n");
    sf_aws_config cfg = {.max_retries = 2};
    cfg.region = sf_strdup("us-east-1");
    cfg.access_key = sf_strdup("AKIDENGINETEST");
    cfg.secret_key = sf_strdup("engine/secret");
    if (have_moto) {
        cfg.endpoint_emr = sf_strdup(moto.url);
        cfg.endpoint_s3 = sf_strdup(moto.url);
        cfg.endpoint_sts = sf_strdup(moto.url);
    }
    env.aws = sf_aws_client_new(&cfg);
    lake_env.aws = env.aws;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    sf_aws_client_free(env.aws);
    aws_moto_stop(&moto);
    char *cmd = sf_fmt("rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
    free(cmd);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validators),
        cmocka_unit_test(test_spec_tags_round_trip),
        cmocka_unit_test(test_zip_is_readable),
        cmocka_unit_test(test_lake_fingerprint),
        cmocka_unit_test(test_lake_publish_cycle),
        cmocka_unit_test(test_cluster_lifecycle),
        cmocka_unit_test(test_pipeline_run_uploads_and_cancels),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
