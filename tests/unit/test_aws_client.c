/* test_aws_client.c — the aws/ client: encodings, shared files, retry
 * rules, the credentials chain (environment, profiles, credential_process,
 * web identity through STS) and the STS, S3 and EMR protocols against a
 * moto server on loopback (skipped when moto is not installed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <cmocka.h>

#include "aws/answers.h"
#include "aws/aws.h"
#include "tests/unit/aws_moto.h"

static aws_moto moto;
static bool have_moto;
static char tmpdir[256];

static const char *const aws_env[] = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_SESSION_NAME",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_EMR",
    NULL,
};

/* A clean AWS environment: HOME in the temp dir, no metadata service. */
static int clean_env(void **state)
{
    (void)state;
    for (size_t i = 0; aws_env[i]; i++) unsetenv(aws_env[i]);
    setenv("HOME", tmpdir, 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    setenv("SPARKFLOW_AWS_RETRY_BASE_MS", "10", 1);
    return 0;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *path_in_tmp(const char *name)
{
    return sf_fmt("%s/%s", tmpdir, name);
}

/* A client against moto with static test keys. */
static sf_aws_client *moto_client(bool keys)
{
    sf_aws_config cfg = {0};
    cfg.region = sf_strdup("us-east-1");
    cfg.endpoint_emr = sf_strdup(moto.url);
    cfg.endpoint_s3 = sf_strdup(moto.url);
    cfg.endpoint_sts = sf_strdup(moto.url);
    cfg.endpoint_ec2 = sf_strdup(moto.url);
    if (keys) {
        cfg.access_key = sf_strdup("AKIDTESTKEY000001");
        cfg.secret_key = sf_strdup("secret/test+key");
    }
    cfg.max_retries = 2;
    return sf_aws_client_new(&cfg);
}

/* ---- pure functions ------------------------------------------------------ */

static void test_encodings(void **state)
{
    (void)state;
    char *e = sf_aws_uri_encode("a b/ü~+*", strlen("a b/ü~+*"), true);
    assert_string_equal(e, "a%20b/%C3%BC~%2B%2A");
    free(e);
    e = sf_aws_uri_encode("a/b", 3, false);
    assert_string_equal(e, "a%2Fb");
    free(e);
    size_t n;
    char *d = sf_aws_uri_decode("a%20b%2F", &n);
    assert_string_equal(d, "a b/");
    free(d);
    char *b = sf_aws_base64("hello", 5);
    assert_string_equal(b, "aGVsbG8=");
    unsigned char *u = sf_aws_unbase64(b, &n);
    assert_int_equal(n, 5);
    assert_memory_equal(u, "hello", 5);
    free(u);
    free(b);
    assert_int_equal(sf_aws_parse_iso8601("2024-01-02T03:04:05Z"), 1704164645);
    assert_int_equal(sf_aws_parse_iso8601("2024-01-02T03:04:05.123Z"), 1704164645);
    assert_int_equal(sf_aws_parse_iso8601("2024-01-02T04:04:05+01:00"), 1704164645);
    assert_int_equal(sf_aws_parse_iso8601("junk"), -1);
    char *bucket, *key;
    assert_int_equal(sf_aws_s3_parse_uri("s3://lake/raw/x", &bucket, &key), 0);
    assert_string_equal(bucket, "lake");
    assert_string_equal(key, "raw/x");
    free(bucket);
    free(key);
    assert_int_equal(sf_aws_s3_parse_uri("file:///x", &bucket, &key), -1);
}

static void test_retry_rules(void **state)
{
    (void)state;
    assert_true(sf_aws_retryable(400, "ThrottlingException", 0));
    assert_true(sf_aws_retryable(503, "Throttling", 0));
    assert_true(sf_aws_retryable(503, "RequestLimitExceeded", 0));
    assert_true(sf_aws_retryable(500, NULL, 0));
    assert_true(sf_aws_retryable(0, NULL, 7 /* CURLE_COULDNT_CONNECT */));
    assert_true(sf_aws_retryable(0, NULL, 56 /* CURLE_RECV_ERROR */));
    assert_false(sf_aws_retryable(400, "ValidationException", 0));
    assert_false(sf_aws_retryable(403, "AccessDenied", 0));
    for (int i = 0; i < 200; i++) {
        int64_t d = sf_backoff_ms(i % 12, 100, 2000);
        assert_true(d >= 0 && d <= 2000);
        if (i % 12 == 0) assert_true(d <= 100);
    }
}

static void test_profiles(void **state)
{
    (void)state;
    char *conf = path_in_tmp("config"), *cred = path_in_tmp("credentials");
    write_file(conf, "[default]\nregion = eu-west-1\n\n[profile dev]\nregion = eu-central-1\n"
                     "s3 =\n  addressing_style = path\naws_access_key_id = FROMCONFIG\n# comment\n");
    write_file(cred, "[dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = devsecret\n");
    const char *c[] = {conf}, *r[] = {cred};
    sf_aws_profile p;
    sf_aws_profile_load(c, 1, r, 1, "dev", &p);
    assert_true(p.found);
    assert_string_equal(sf_aws_profile_get(&p, "aws_access_key_id"), "AKIDDEV"); /* credentials file wins */
    assert_string_equal(sf_aws_profile_get(&p, "region"), "eu-central-1");
    assert_null(sf_aws_profile_get(&p, "addressing_style"));
    sf_aws_profile_clear(&p);
    sf_aws_profile_load(c, 1, r, 1, "missing", &p);
    assert_false(p.found);
    sf_aws_profile_clear(&p);
    free(conf);
    free(cred);
}

/* Found by tests/fuzz/fuzz_aws_ini: "Region" and "region" in one profile
 * were kept as two "region" keys (the first one still won). */
static void test_profile_keys_ignore_case(void **state)
{
    (void)state;
    char *conf = path_in_tmp("config-case"), *cred = path_in_tmp("credentials-case");
    write_file(conf, "[default]\nRegion = eu-west-1\nregion = us-east-1\n");
    write_file(cred, "[default]\nAWS_ACCESS_KEY_ID = AKIDUPPER\n");
    const char *c[] = {conf}, *r[] = {cred};
    sf_aws_profile p;
    sf_aws_profile_load(c, 1, r, 1, "default", &p);
    assert_int_equal(p.n, 2);
    assert_string_equal(sf_aws_profile_get(&p, "region"), "eu-west-1");
    assert_string_equal(sf_aws_profile_get(&p, "aws_access_key_id"), "AKIDUPPER");
    sf_aws_profile_clear(&p);
    free(conf);
    free(cred);
}

/* Found by tests/fuzz/fuzz_aws_ini: a region goes into endpoint host names,
 * so one that is not a host label is refused (as botocore does) instead of
 * sending signed requests to "s3.us-east-1.evil.example/.amazonaws.com". */
static void test_region_must_be_a_host_label(void **state)
{
    (void)state;
    char *conf = path_in_tmp("config-region");
    write_file(conf, "[default]\nregion = us-east-1.evil.example/x?\n");
    sf_aws_config cfg = {0};
    cfg.max_retries = 0;
    cfg.shared_config_files = calloc(1, sizeof(char *));
    cfg.shared_config_files[0] = sf_strdup(conf);
    cfg.n_shared_config_files = 1;
    sf_aws_client *cl = sf_aws_client_new(&cfg);
    char *err = NULL;
    assert_null(sf_aws_client_region(cl, &err));
    assert_non_null(err);
    assert_non_null(strstr(err, "is not a region name"));
    free(err);
    /* and nothing is sent: not to that host, not to a default region */
    setenv("AWS_ACCESS_KEY_ID", "AKIDTEST", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    sf_aws_identity id;
    sf_aws_error e = {0};
    assert_int_equal(sf_aws_sts_get_caller_identity(cl, ctx, &id, &e), -1);
    assert_non_null(strstr(e.message, "is not a region name"));
    assert_int_equal(sf_aws_client_calls(cl), 0);
    sf_aws_error_clear(&e);
    sf_ctx_free(ctx);
    sf_aws_client_free(cl);
    sf_aws_config good = {0};
    good.region = sf_strdup("eu-west-1");
    cl = sf_aws_client_new(&good);
    assert_string_equal(sf_aws_client_region(cl, NULL), "eu-west-1");
    sf_aws_client_free(cl);
    free(conf);
}

/* Found by tests/fuzz/fuzz_aws_xml (corpus
 * regression_list_contents_without_key.xml): a ListObjectsV2 page with a
 * <Contents> that has no <Key> listed an object with a NULL key, which
 * sf_aws_s3_list then sorted with strcmp (a crash). */
static void test_s3_listing_without_key(void **state)
{
    (void)state;
    const char *page = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult "
                       "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><IsTruncated>true</IsTruncated>"
                       "<Contents><ETag>\"x\"</ETag><Size>10</Size></Contents>"
                       "<Contents><Key>runs/1/b</Key><Size>3</Size></Contents>"
                       "<NextContinuationToken>tok</NextContinuationToken></ListBucketResult>";
    xmlDoc *doc = sf_aws_xml_parse(page, strlen(page));
    assert_non_null(doc);
    sf_aws_s3_listing l = {0};
    char *next = NULL;
    sf_aws_s3_list_parse(doc, &l, &next);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].key, "runs/1/b");
    assert_int_equal(l.items[0].size, 3);
    assert_string_equal(next, "tok");
    free(next);
    sf_aws_s3_listing_clear(&l);
    sf_aws_xml_free(doc);
}

/* An endpoint that answers every request with the same truncated
 * ListObjectsV2 page (the same continuation token): the listing must fail
 * after the second page instead of looping forever.  Found while fuzzing
 * (the loop is outside the parse step the fuzzer drives). */
typedef struct stuck_s3 {
    int listener;
    int requests;
} stuck_s3;

static void *stuck_s3_serve(void *arg)
{
    stuck_s3 *srv = arg;
    static const char page[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult>"
                               "<IsTruncated>true</IsTruncated><Contents><Key>a</Key><Size>1</Size></Contents>"
                               "<NextContinuationToken>same</NextContinuationToken></ListBucketResult>";
    for (int i = 0; i < 8; i++) { /* bounded: the client should stop after two */
        struct pollfd p = {.fd = srv->listener, .events = POLLIN};
        if (poll(&p, 1, 3000) <= 0) break;
        int fd = accept(srv->listener, NULL, NULL);
        if (fd < 0) break;
        char buf[8192];
        ssize_t n = 0, got;
        while ((got = read(fd, buf + n, sizeof buf - 1 - (size_t)n)) > 0) { /* headers only: GET */
            n += got;
            buf[n] = 0;
            if (strstr(buf, "\r\n\r\n")) break;
        }
        srv->requests++;
        char head[256];
        int hl = snprintf(head, sizeof head,
                          "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: %zu\r\n"
                          "Connection: close\r\n\r\n",
                          sizeof page - 1);
        /* A failed write shows as the client's error, which the test checks. */
        if (write(fd, head, (size_t)hl) == hl) (void)!write(fd, page, sizeof page - 1);
        close(fd);
    }
    return NULL;
}

static void test_s3_listing_that_does_not_advance_fails(void **state)
{
    (void)state;
    stuck_s3 srv = {.listener = socket(AF_INET, SOCK_STREAM, 0)};
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_true(srv.listener >= 0);
    assert_int_equal(bind(srv.listener, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(srv.listener, 8), 0);
    assert_int_equal(getsockname(srv.listener, (struct sockaddr *)&a, &len), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stuck_s3_serve, &srv), 0);

    sf_aws_config cfg = {0};
    cfg.region = sf_strdup("us-east-1");
    cfg.endpoint_s3 = sf_fmt("http://127.0.0.1:%d", ntohs(a.sin_port));
    cfg.access_key = sf_strdup("AKIDTESTKEY000001");
    cfg.secret_key = sf_strdup("secret/test+key");
    cfg.max_retries = 0;
    sf_aws_client *c = sf_aws_client_new(&cfg);
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    sf_aws_s3_listing l = {0};
    sf_aws_error err = {0};
    assert_int_equal(sf_aws_s3_list(c, ctx, "lake", "raw/", &l, &err), -1);
    assert_non_null(err.message);
    assert_non_null(strstr(err.message, "does not advance"));
    assert_int_equal(l.n, 0);
    sf_aws_error_clear(&err);
    sf_ctx_free(ctx);
    sf_aws_client_free(c);
    pthread_join(t, NULL);
    assert_int_equal(srv.requests, 2);
    close(srv.listener);
}

/* ---- credentials chain (no network) -------------------------------------- */

static sf_aws_client *bare_client(void)
{
    sf_aws_config cfg = {0};
    cfg.max_retries = 0;
    return sf_aws_client_new(&cfg);
}

static void test_chain_env_and_explicit(void **state)
{
    (void)state;
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    setenv("AWS_SESSION_TOKEN", "envtoken", 1);
    sf_aws_client *c = bare_client();
    sf_aws_creds cr;
    char *err = NULL;
    assert_int_equal(sf_aws_client_credentials(c, ctx, &cr, &err), 0);
    assert_string_equal(cr.access_key, "AKIDENV");
    assert_string_equal(cr.token, "envtoken");
    assert_string_equal(cr.source, "environment");
    sf_aws_creds_clear(&cr);
    sf_aws_client_free(c);

    sf_aws_config cfg = {0};
    cfg.access_key = sf_strdup("AKIDCONF");
    cfg.secret_key = sf_strdup("confsecret");
    c = sf_aws_client_new(&cfg);
    assert_int_equal(sf_aws_client_credentials(c, ctx, &cr, &err), 0);
    assert_string_equal(cr.access_key, "AKIDCONF");
    assert_null(cr.token);
    sf_aws_creds_clear(&cr);
    sf_aws_client_free(c);
    sf_ctx_free(ctx);
}

static void test_chain_nothing_says_what_was_tried(void **state)
{
    (void)state;
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    sf_aws_client *c = bare_client();
    sf_aws_creds cr;
    char *err = NULL;
    assert_int_equal(sf_aws_client_credentials(c, ctx, &cr, &err), -1);
    assert_non_null(strstr(err, "AWS_ACCESS_KEY_ID"));
    assert_non_null(strstr(err, "AWS_ROLE_ARN"));
    assert_non_null(strstr(err, "shared profile \"default\""));
    assert_non_null(strstr(err, "AWS_EC2_METADATA_DISABLED"));
    free(err);
    sf_aws_client_free(c);

    setenv("AWS_ACCESS_KEY_ID", "AKIDONLY", 1);
    c = bare_client();
    err = NULL;
    assert_int_equal(sf_aws_client_credentials(c, ctx, &cr, &err), -1);
    assert_non_null(strstr(err, "AWS_SECRET_ACCESS_KEY is not"));
    free(err);
    sf_aws_client_free(c);
    unsetenv("AWS_ACCESS_KEY_ID");

    setenv("AWS_PROFILE", "nosuch", 1);
    c = bare_client();
    err = NULL;
    assert_int_equal(sf_aws_client_credentials(c, ctx, &cr, &err), -1);
    assert_non_null(strstr(err, "shared profile \"nosuch\": no such profile"));
    free(err);
    sf_aws_client_free(c);
    sf_ctx_free(ctx);
}

static void test_chain_profile_and_process(void **state)
{
    (void)state;
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    char *conf = path_in_tmp("config2"), *cred = path_in_tmp("credentials2");
    write_file(conf, "[profile proc]\nregion = ap-south-1\ncredential_process = printf '{\"Version\": 1, "
                     "\"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": \"procsecret\", \"SessionToken\": \"pt\", "
                     "\"Expiration\": \"2099-01-01T00:00:00Z\"}'\n"
                     "[profile broken]\ncredential_process = exit 3\n");
    write_file(cred, "[static]\naws_access_key_id = AKIDSTATIC\naws_secret_access_key = staticsecret\n");
    setenv("AWS_CONFIG_FILE", conf, 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", cred, 1);

    const char *names[] = {"static", "proc"};
    const char *keys[] = {"AKIDSTATIC", "AKIDPROC"};
    for (int i = 0; i < 2; i++) {
        setenv("AWS_PROFILE", names[i], 1);
        sf_aws_client *c = bare_client();
        sf_aws_creds cr;
        char *err = NULL;
        assert_int_equal(sf_aws_client_credentials(c, ctx, &cr, &err), 0);
        assert_string_equal(cr.access_key, keys[i]);
        if (i == 1) {
            assert_string_equal(cr.token, "pt");
            assert_int_equal(cr.expires_ms, 4070908800LL * 1000);
            assert_string_equal(sf_aws_client_region(c, NULL), "ap-south-1");
        }
        sf_aws_creds_clear(&cr);
        sf_aws_client_free(c);
    }
    setenv("AWS_PROFILE", "broken", 1);
    sf_aws_client *c = bare_client();
    sf_aws_creds cr;
    char *err = NULL;
    assert_int_equal(sf_aws_client_credentials(c, ctx, &cr, &err), -1);
    assert_non_null(strstr(err, "credential_process exited with status 3"));
    free(err);
    sf_aws_client_free(c);
    free(conf);
    free(cred);
    sf_ctx_free(ctx);
}

static void test_credentials_refreshed_before_expiry(void **state)
{
    (void)state;
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    char *conf = path_in_tmp("config3"), *runs = path_in_tmp("runs.log");
    /* Credentials that expire in two minutes: inside the refresh margin. */
    time_t soon = time(NULL) + 120;
    struct tm tm;
    gmtime_r(&soon, &tm);
    char exp[32];
    strftime(exp, sizeof exp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char *text = sf_fmt("[profile short]\ncredential_process = sh -c 'echo run >> %s; printf \"{\\\"Version\\\": 1, "
                        "\\\"AccessKeyId\\\": \\\"AKIDSHORT\\\", \\\"SecretAccessKey\\\": \\\"s\\\", "
                        "\\\"SessionToken\\\": \\\"t\\\", \\\"Expiration\\\": \\\"%s\\\"}\"'\n",
                        runs, exp);
    write_file(conf, text);
    free(text);
    setenv("AWS_CONFIG_FILE", conf, 1);
    setenv("AWS_PROFILE", "short", 1);
    sf_aws_client *c = bare_client();
    for (int i = 0; i < 3; i++) {
        sf_aws_creds cr;
        char *err = NULL;
        assert_int_equal(sf_aws_client_credentials(c, ctx, &cr, &err), 0);
        assert_string_equal(cr.access_key, "AKIDSHORT");
        sf_aws_creds_clear(&cr);
    }
    FILE *f = fopen(runs, "r");
    assert_non_null(f);
    int lines = 0;
    for (int ch; (ch = fgetc(f)) != EOF;) lines += ch == '\n';
    fclose(f);
    assert_int_equal(lines, 3); /* resolved again each time: they expire within 5 minutes */
    sf_aws_client_free(c);
    free(conf);
    free(runs);
    sf_ctx_free(ctx);
}

/* ---- against moto -------------------------------------------------------- */

static void test_sts_identity_and_web_identity(void **state)
{
    (void)state;
    if (!have_moto) skip();
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    sf_aws_client *c = moto_client(true);
    sf_aws_identity id;
    sf_aws_error err = {0};
    assert_int_equal(sf_aws_sts_get_caller_identity(c, ctx, &id, &err), 0);
    assert_non_null(id.account);
    assert_non_null(id.arn);
    sf_aws_identity_clear(&id);
    sf_aws_client_free(c);

    /* OIDC: a token file and a role in the environment. */
    char *token = path_in_tmp("token.jwt");
    write_file(token, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2ln\n");
    setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/ci", 1);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", token, 1);
    c = moto_client(false);
    sf_aws_creds cr;
    char *why = NULL;
    assert_int_equal(sf_aws_client_credentials(c, ctx, &cr, &why), 0);
    assert_non_null(strstr(cr.source, "web identity"));
    assert_non_null(cr.token);
    assert_true(cr.expires_ms > sf_time_wall_ms());
    assert_int_equal(sf_aws_sts_get_caller_identity(c, ctx, &id, &err), 0);
    assert_non_null(strstr(id.arn, "ci"));
    sf_aws_identity_clear(&id);
    sf_aws_creds_clear(&cr);
    sf_aws_client_free(c);
    unsetenv("AWS_ROLE_ARN");
    unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
    free(token);
    sf_ctx_free(ctx);
}

static void test_profile_role_with_source_profile(void **state)
{
    (void)state;
    if (!have_moto) skip();
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    char *conf = path_in_tmp("config4"), *cred = path_in_tmp("credentials4");
    write_file(conf, "[profile admin]\nrole_arn = arn:aws:iam::123456789012:role/admin\nsource_profile = base\n"
                     "role_session_name = laptop\n[profile lost]\nrole_arn = arn:aws:iam::123456789012:role/x\n"
                     "source_profile = nobody\n");
    write_file(cred, "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = basesecret\n");
    setenv("AWS_CONFIG_FILE", conf, 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", cred, 1);
    setenv("AWS_PROFILE", "admin", 1);
    sf_aws_client *c = moto_client(false);
    sf_aws_creds cr;
    char *why = NULL;
    assert_int_equal(sf_aws_client_credentials(c, ctx, &cr, &why), 0);
    assert_non_null(strstr(cr.source, "source_profile \"base\""));
    assert_non_null(cr.token);
    assert_string_not_equal(cr.access_key, "AKIDBASE");
    sf_aws_creds_clear(&cr);
    sf_aws_client_free(c);
    setenv("AWS_PROFILE", "lost", 1);
    c = moto_client(false);
    assert_int_equal(sf_aws_client_credentials(c, ctx, &cr, &why), -1);
    assert_non_null(strstr(why, "source_profile \"nobody\": no such profile"));
    free(why);
    sf_aws_client_free(c);
    free(conf);
    free(cred);
    sf_ctx_free(ctx);
}

/* Resolve AWS_PROFILE=`profile` with the given config file text; returns
 * the client's status, fills *cr or *why. */
static int resolve_profile(const char *config, const char *credentials, const char *profile, sf_aws_creds *cr,
                           char **why)
{
    char *conf = path_in_tmp("config5"), *cred = path_in_tmp("credentials5");
    write_file(conf, config);
    write_file(cred, credentials);
    setenv("AWS_CONFIG_FILE", conf, 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", cred, 1);
    setenv("AWS_PROFILE", profile, 1);
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    sf_aws_client *c = moto_client(false);
    *why = NULL;
    int rc = sf_aws_client_credentials(c, ctx, cr, why);
    sf_aws_client_free(c);
    sf_ctx_free(ctx);
    free(conf);
    free(cred);
    return rc;
}

static const char chain_config[] =
    "[profile base]\n"
    "[profile admin]\nrole_arn = arn:aws:iam::123456789012:role/admin\nsource_profile = base\n"
    "[profile deploy]\nrole_arn = arn:aws:iam::123456789012:role/deploy\nsource_profile = admin\n"
    "role_session_name = deploy-session\n"
    "[profile selfie]\nrole_arn = arn:aws:iam::123456789012:role/self\nsource_profile = selfie\n"
    "[profile loop1]\nrole_arn = arn:aws:iam::123456789012:role/l1\nsource_profile = loop2\n"
    "[profile loop2]\nrole_arn = arn:aws:iam::123456789012:role/l2\nsource_profile = loop1\n"
    "[profile both]\nrole_arn = arn:aws:iam::123456789012:role/b\nsource_profile = base\n"
    "credential_source = Environment\n"
    "[profile bogus]\nrole_arn = arn:aws:iam::123456789012:role/b\ncredential_source = Floppy\n"
    "[profile imds]\nrole_arn = arn:aws:iam::123456789012:role/b\ncredential_source = Ec2InstanceMetadata\n"
    "[profile env]\nrole_arn = arn:aws:iam::123456789012:role/b\ncredential_source = Environment\n";
static const char chain_credentials[] = "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = basesecret\n"
                                        "[selfie]\naws_access_key_id = AKIDSELF\naws_secret_access_key = selfsecret\n";

/* Resolving `profile` of chain_config fails with a message holding `needle`. */
static void assert_profile_fails(const char *profile, const char *needle)
{
    sf_aws_creds cr;
    char *why;
    assert_int_equal(resolve_profile(chain_config, chain_credentials, profile, &cr, &why), -1);
    if (!strstr(why, needle)) fail_msg("profile %s: \"%s\" not in: %s", profile, needle, why);
    free(why);
}

static void test_profile_role_chains(void **state)
{
    (void)state;
    if (!have_moto) skip();
    sf_aws_creds cr;
    char *why;
    /* deploy <- admin <- base's keys: two AssumeRole calls. */
    assert_int_equal(resolve_profile(chain_config, chain_credentials, "deploy", &cr, &why), 0);
    assert_non_null(strstr(cr.source, "role arn:aws:iam::123456789012:role/deploy"));
    assert_non_null(strstr(cr.source, "role arn:aws:iam::123456789012:role/admin"));
    assert_non_null(strstr(cr.source, "source_profile \"base\""));
    assert_non_null(cr.token);
    assert_string_not_equal(cr.access_key, "AKIDBASE");
    sf_aws_creds_clear(&cr);
    /* A profile that is its own source uses its static keys for the role,
     * not as its credentials. */
    assert_int_equal(resolve_profile(chain_config, chain_credentials, "selfie", &cr, &why), 0);
    assert_non_null(strstr(cr.source, "role/self"));
    assert_non_null(cr.token);
    assert_string_not_equal(cr.access_key, "AKIDSELF");
    sf_aws_creds_clear(&cr);
    /* A cycle ends with a message, not a stack overflow. */
    assert_profile_fails("loop1", "more than 5 roles in a chain of profiles");
}

static void test_profile_credential_source(void **state)
{
    (void)state;
    if (!have_moto) skip();
    assert_profile_fails("both", "both source_profile and credential_source");
    assert_profile_fails("bogus", "credential_source \"Floppy\" is not one of");
    /* clean_env turned the metadata service off: the role's source fails,
     * and the error says why, instead of falling through. */
    assert_profile_fails("imds", "disabled by AWS_EC2_METADATA_DISABLED");
    assert_profile_fails("env", "credential_source Environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not set");
}

static void create_bucket(sf_aws_client *c, sf_ctx *ctx, const char *bucket)
{
    sf_aws_call call = {.operation = "CreateBucket",
                        .service = "s3",
                        .method = "PUT",
                        .path = "/",
                        .idempotent = true,
                        .bucket = bucket};
    sf_http_resp resp;
    sf_aws_error err = {0};
    assert_int_equal(sf_aws_client_send(c, ctx, &call, &resp, &err), 0);
    sf_http_resp_clear(&resp);
}

/* Above the part size (5 GiB in production, 5 MiB here) a copy goes in
 * parts: the copy has the source's bytes, in order. */
static void test_s3_multipart_copy(void **state)
{
    (void)state;
    if (!have_moto) skip();
    setenv("SPARKFLOW_AWS_S3_COPY_PART_BYTES", "5242880", 1);
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    sf_aws_client *c = moto_client(true);
    sf_aws_error err = {0};
    create_bucket(c, ctx, "big");
    size_t n = 12u << 20; /* three parts: 5 + 5 + 2 MiB */
    unsigned char *data = malloc(n);
    assert_non_null(data);
    for (size_t i = 0; i < n; i++) data[i] = (unsigned char)(i * 2654435761u >> 13);
    assert_int_equal(sf_aws_s3_put(c, ctx, "big", "run/part-0.parquet", data, n, "application/octet-stream", &err), 0);
    int64_t calls = sf_aws_client_calls(c);
    int rc = sf_aws_s3_copy(c, ctx, "big", "run/part-0.parquet", "pub/part-0.parquet", (int64_t)n, &err);
    if (rc != 0) {
        char *t = sf_aws_error_text(&err);
        fail_msg("multipart copy: %s", t);
    }
    assert_int_equal(sf_aws_client_calls(c) - calls, 5); /* create, 3 parts, complete */
    sf_buf body;
    assert_int_equal(sf_aws_s3_get(c, ctx, "big", "pub/part-0.parquet", &body, &err), 0);
    assert_int_equal(body.len, n);
    assert_memory_equal(body.data, data, n);
    sf_buf_free(&body);
    /* A source that is not there: an error naming the part copy. */
    assert_int_equal(sf_aws_s3_copy(c, ctx, "big", "run/missing", "pub/missing", (int64_t)n, &err), -1);
    assert_non_null(err.operation);
    assert_string_equal(err.operation, "UploadPartCopy");
    sf_aws_error_clear(&err);
    free(data);
    sf_aws_client_free(c);
    sf_ctx_free(ctx);
    unsetenv("SPARKFLOW_AWS_S3_COPY_PART_BYTES");
}

static void test_s3_objects(void **state)
{
    (void)state;
    if (!have_moto) skip();
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    sf_aws_client *c = moto_client(true);
    sf_aws_error err = {0};
    create_bucket(c, ctx, "lake");
    const char *keys[] = {"raw/a b.csv", "raw/Überweisung €.csv", "raw/x+y=z&w.csv", "other/o.csv"};
    for (int i = 0; i < 4; i++)
        assert_int_equal(sf_aws_s3_put(c, ctx, "lake", keys[i], keys[i], strlen(keys[i]), "text/csv", &err), 0);
    sf_aws_s3_listing l;
    assert_int_equal(sf_aws_s3_list(c, ctx, "lake", "raw/", &l, &err), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.items[0].key, "raw/a b.csv");
    assert_string_equal(l.items[2].key, "raw/Überweisung €.csv");
    assert_int_equal(l.items[0].size, strlen(keys[0]));
    assert_non_null(l.items[0].etag);
    sf_aws_s3_listing_clear(&l);

    sf_buf body;
    assert_int_equal(sf_aws_s3_get(c, ctx, "lake", keys[1], &body, &err), 0);
    assert_string_equal(body.data, keys[1]);
    sf_buf_free(&body);
    assert_int_equal(sf_aws_s3_get(c, ctx, "lake", "raw/missing", &body, &err), 1);
    sf_aws_error_clear(&err);
    int64_t size = 0;
    char *etag = NULL;
    assert_int_equal(sf_aws_s3_head(c, ctx, "lake", keys[2], &size, &etag, &err), 0);
    assert_int_equal(size, strlen(keys[2]));
    free(etag);
    assert_int_equal(sf_aws_s3_head(c, ctx, "lake", "nope", NULL, NULL, &err), 1);
    sf_aws_error_clear(&err);
    assert_int_equal(sf_aws_s3_copy(c, ctx, "lake", keys[1], "copy/ü x.csv", (int64_t)strlen(keys[1]), &err), 0);
    assert_int_equal(sf_aws_s3_get(c, ctx, "lake", "copy/ü x.csv", &body, &err), 0);
    assert_string_equal(body.data, keys[1]);
    sf_buf_free(&body);

    size_t deleted = 0;
    assert_int_equal(sf_aws_s3_delete_prefix(c, ctx, "lake", "raw/", &deleted, &err), 0);
    assert_int_equal(deleted, 3);
    assert_int_equal(sf_aws_s3_list(c, ctx, "lake", "raw/", &l, &err), 0);
    assert_int_equal(l.n, 0);
    sf_aws_s3_listing_clear(&l);

    /* An AWS error comes back with its code and message. */
    assert_int_equal(sf_aws_s3_list(c, ctx, "no-such-bucket", "", &l, &err), -1);
    assert_string_equal(err.code, "NoSuchBucket");
    char *text = sf_aws_error_text(&err);
    assert_non_null(strstr(text, "ListObjectsV2: NoSuchBucket"));
    free(text);
    sf_aws_error_clear(&err);
    assert_true(sf_aws_client_calls(c) > 10);
    sf_aws_client_free(c);
    sf_ctx_free(ctx);
}

static void test_emr_json_errors(void **state)
{
    (void)state;
    if (!have_moto) skip();
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    sf_aws_client *c = moto_client(true);
    cJSON *body = cJSON_CreateObject(), *out = NULL;
    cJSON_AddStringToObject(body, "ClusterId", "j-NOSUCHCLUSTER");
    sf_aws_error err = {0};
    assert_int_equal(sf_aws_json_call(c, ctx, "emr", "ElasticMapReduce", "DescribeCluster", body, true, &out, &err),
                     -1);
    assert_non_null(err.code);
    assert_string_equal(err.operation, "DescribeCluster");
    sf_aws_error_clear(&err);
    assert_int_equal(sf_aws_json_call(c, ctx, "emr", "ElasticMapReduce", "ListClusters", NULL, true, &out, &err), 0);
    assert_non_null(cJSON_GetObjectItem(out, "Clusters"));
    cJSON_Delete(out);
    cJSON_Delete(body);
    sf_aws_client_free(c);
    sf_ctx_free(ctx);
}

static void test_unreachable_endpoint_retries_then_fails(void **state)
{
    (void)state;
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    sf_aws_config cfg = {0};
    cfg.region = sf_strdup("us-east-1");
    cfg.access_key = sf_strdup("AKID");
    cfg.secret_key = sf_strdup("s");
    char *url = sf_fmt("http://127.0.0.1:%d", aws_moto_free_port());
    cfg.endpoint_sts = url;
    cfg.max_retries = 2;
    sf_aws_client *c = sf_aws_client_new(&cfg);
    sf_aws_identity id;
    sf_aws_error err = {0};
    assert_int_equal(sf_aws_sts_get_caller_identity(c, ctx, &id, &err), -1);
    assert_int_equal(sf_aws_client_calls(c), 3);
    assert_int_equal(err.status, 0);
    sf_aws_error_clear(&err);
    sf_aws_client_free(c);
    sf_ctx_free(ctx);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sf-aws-test-XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    clean_env(state);
    have_moto = aws_moto_start(&moto) == 0;
    if (!have_moto) fprintf(stderr, "moto not available: the moto tests are skipped\n");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    aws_moto_stop(&moto);
    char *cmd = sf_fmt("rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
    free(cmd);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encodings),
        cmocka_unit_test(test_retry_rules),
        cmocka_unit_test_setup(test_profiles, clean_env),
        cmocka_unit_test_setup(test_profile_keys_ignore_case, clean_env),
        cmocka_unit_test_setup(test_region_must_be_a_host_label, clean_env),
        cmocka_unit_test(test_s3_listing_without_key),
        cmocka_unit_test(test_s3_listing_that_does_not_advance_fails),
        cmocka_unit_test_setup(test_chain_env_and_explicit, clean_env),
        cmocka_unit_test_setup(test_chain_nothing_says_what_was_tried, clean_env),
        cmocka_unit_test_setup(test_chain_profile_and_process, clean_env),
        cmocka_unit_test_setup(test_credentials_refreshed_before_expiry, clean_env),
        cmocka_unit_test_setup(test_sts_identity_and_web_identity, clean_env),
        cmocka_unit_test_setup(test_profile_role_with_source_profile, clean_env),
        cmocka_unit_test_setup(test_profile_role_chains, clean_env),
        cmocka_unit_test_setup(test_profile_credential_source, clean_env),
        cmocka_unit_test_setup(test_s3_multipart_copy, clean_env),
        cmocka_unit_test_setup(test_s3_objects, clean_env),
        cmocka_unit_test_setup(test_emr_json_errors, clean_env),
        cmocka_unit_test_setup(test_unreachable_endpoint_retries_then_fails, clean_env),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
