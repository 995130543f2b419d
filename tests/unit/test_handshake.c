/* test_handshake.c — the go-plugin handshake decisions and lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "provider/handshake.h"

/* The provider these tests stand for (the runtime takes it from sf_provider_def). */
#define PROVIDER_ADDR "registry.terraform.io/sparkflow/sparkflow"

static const sf_handshake_env TERRAFORM_ENV = {
    .magic_cookie = SF_HANDSHAKE_COOKIE_VALUE,
    .protocol_versions = "5,6",
    .client_cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    .disable_tls = NULL,
};

static void test_cookie_value_is_terraforms(void **state)
{
    (void)state;
    /* The value Terraform's plugin6 client sets (PROTOCOL.md). */
    assert_string_equal(SF_HANDSHAKE_COOKIE_VALUE, "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2");
    assert_string_equal(SF_HANDSHAKE_COOKIE_KEY, "TF_PLUGIN_MAGIC_COOKIE");
}

static void test_missing_or_wrong_cookie_is_refused(void **state)
{
    (void)state;
    const char *cookies[] = {NULL, "", "d602bf8f", SF_HANDSHAKE_COOKIE_VALUE "x"};
    for (size_t i = 0; i < sizeof cookies / sizeof cookies[0]; i++) {
        sf_handshake_env env = TERRAFORM_ENV;
        env.magic_cookie = cookies[i];
        sf_handshake hs;
        char *err = NULL;
        assert_int_equal(sf_handshake_configure(&hs, &env, false, "SparkFlow", &err), -1);
        assert_non_null(err);
        assert_non_null(strstr(err, "Terraform plugin"));
        assert_non_null(strstr(err, "not run directly"));
        free(err);
    }
}

static void test_terraform_env_gives_tls_protocol_6(void **state)
{
    (void)state;
    sf_handshake hs;
    char *err = NULL;
    assert_int_equal(sf_handshake_configure(&hs, &TERRAFORM_ENV, false, "SparkFlow", &err), 0);
    assert_null(err);
    assert_false(hs.debug);
    assert_int_equal(hs.protocol, 6);
    assert_ptr_equal(hs.client_cert, TERRAFORM_ENV.client_cert);
}

static void test_plaintext_without_client_cert_or_when_disabled(void **state)
{
    (void)state;
    sf_handshake hs;
    sf_handshake_env env = TERRAFORM_ENV;
    env.client_cert = NULL;
    assert_int_equal(sf_handshake_configure(&hs, &env, false, "SparkFlow", NULL), 0);
    assert_null(hs.client_cert);

    env = TERRAFORM_ENV;
    env.disable_tls = "1";
    assert_int_equal(sf_handshake_configure(&hs, &env, false, "SparkFlow", NULL), 0);
    assert_null(hs.client_cert);
}

static void test_debug_needs_no_cookie_and_is_plaintext(void **state)
{
    (void)state;
    sf_handshake_env env = {0};
    sf_handshake hs;
    assert_int_equal(sf_handshake_configure(&hs, &env, true, "SparkFlow", NULL), 0);
    assert_true(hs.debug);
    assert_int_equal(hs.protocol, 6);
    assert_null(hs.client_cert);

    env = TERRAFORM_ENV;
    assert_int_equal(sf_handshake_configure(&hs, &env, true, "SparkFlow", NULL), 0);
    assert_null(hs.client_cert);
}

static void test_debug_flag(void **state)
{
    (void)state;
    char *a1[] = {"p", "-debug", NULL};
    char *a2[] = {"p", "--debug", NULL};
    char *a3[] = {"p", "-debug=true", NULL};
    char *a4[] = {"p", NULL};
    char *a5[] = {"p", "-debugx", "debug", NULL};
    assert_true(sf_handshake_debug_flag(2, a1));
    assert_true(sf_handshake_debug_flag(2, a2));
    assert_true(sf_handshake_debug_flag(2, a3));
    assert_false(sf_handshake_debug_flag(1, a4));
    assert_false(sf_handshake_debug_flag(3, a5));
}

static void test_pick_protocol(void **state)
{
    (void)state;
    const char *ok[] = {NULL, "", "6", "5,6", "6,5", " 5 , 6 ", "x,6", "4,5,6,7"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char *err = NULL;
        assert_int_equal(sf_handshake_pick_protocol(ok[i], &err), 6);
        assert_null(err);
    }
    const char *bad[] = {"5", "4,5", "60", "16", "6x", ",", "7"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *err = NULL;
        assert_int_equal(sf_handshake_pick_protocol(bad[i], &err), -1);
        assert_non_null(err);
        assert_non_null(strstr(err, bad[i]));
        assert_non_null(strstr(err, "protocol 6"));
        free(err);
    }
    /* Through configure as well. */
    sf_handshake_env env = TERRAFORM_ENV;
    env.protocol_versions = "4,5";
    sf_handshake hs;
    char *err = NULL;
    assert_int_equal(sf_handshake_configure(&hs, &env, false, "SparkFlow", &err), -1);
    assert_non_null(strstr(err, "Terraform v1.0"));
    free(err);
}

static void test_handshake_line(void **state)
{
    (void)state;
    char *line = sf_handshake_line("/tmp/d/plugin.sock", "MIIBabc");
    assert_string_equal(line, "1|6|unix|/tmp/d/plugin.sock|grpc|MIIBabc");
    free(line);
    line = sf_handshake_line("/tmp/d/plugin.sock", NULL);
    assert_string_equal(line, "1|6|unix|/tmp/d/plugin.sock|grpc|");
    free(line);
    line = sf_handshake_line("/s", "");
    assert_string_equal(line, "1|6|unix|/s|grpc|");
    free(line);
}

/* Let a real shell evaluate the reattach line and hand back the variable. */
static char *shell_eval(const char *line)
{
    char script[] = "/tmp/sf-reattach-XXXXXX";
    int fd = mkstemp(script);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "%s\nprintf %%s \"$TF_REATTACH_PROVIDERS\"\n", line);
    fclose(f);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "sh %s", script);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char *out = calloc(1, 65536);
    size_t n = fread(out, 1, 65535, p);
    out[n] = '\0';
    assert_int_equal(pclose(p), 0);
    unlink(script);
    return out;
}

static void check_reattach(const char *socket_path)
{
    char *line = sf_handshake_reattach_line(PROVIDER_ADDR, 4242, socket_path);
    assert_int_equal(strncmp(line, "TF_REATTACH_PROVIDERS='", 23), 0);
    char *json = shell_eval(line);
    cJSON *root = cJSON_Parse(json);
    assert_non_null(root);
    assert_int_equal(cJSON_GetArraySize(root), 1);
    cJSON *p = cJSON_GetObjectItemCaseSensitive(root, "registry.terraform.io/sparkflow/sparkflow");
    assert_non_null(p);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(p, "Protocol")->valuestring, "grpc");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(p, "ProtocolVersion")->valueint, 6);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(p, "Pid")->valueint, 4242);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "Test")));
    cJSON *addr = cJSON_GetObjectItemCaseSensitive(p, "Addr");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(addr, "Network")->valuestring, "unix");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(addr, "String")->valuestring, socket_path);
    cJSON_Delete(root);
    free(json);
    free(line);
}

static void test_reattach_line(void **state)
{
    (void)state;
    /* The exact shape for an ordinary path. */
    char *line = sf_handshake_reattach_line(PROVIDER_ADDR, 77, "/tmp/x/plugin.sock");
    assert_string_equal(line, "TF_REATTACH_PROVIDERS='{\"registry.terraform.io/sparkflow/sparkflow\":"
                              "{\"Protocol\":\"grpc\",\"ProtocolVersion\":6,\"Pid\":77,\"Test\":true,"
                              "\"Addr\":{\"Network\":\"unix\",\"String\":\"/tmp/x/plugin.sock\"}}}'");
    free(line);
    /* And what a shell makes of it, also for awkward paths. */
    check_reattach("/tmp/x/plugin.sock");
    check_reattach("/tmp/it's \"here\"/plugin.sock");
    check_reattach("/tmp/back\\slash $HOME/plugin.sock");
}

static void test_sockdir_lifecycle(void **state)
{
    (void)state;
    sf_sockdir sd;
    char *err = NULL;
    assert_int_equal(sf_sockdir_create(&sd, "/tmp", "sparkflow", &err), 0);
    assert_null(err);
    struct stat st;
    assert_int_equal(stat(sd.dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(strncmp(sd.path, sd.dir, strlen(sd.dir)), 0);
    assert_string_equal(sd.path + strlen(sd.dir), "/plugin.sock");

    /* The path is usable as a unix socket address. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    assert_true(strlen(sd.path) < sizeof sa.sun_path);
    strcpy(sa.sun_path, sd.path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    close(fd);

    char *dir = strdup(sd.dir), *path = strdup(sd.path);
    sf_sockdir_remove(&sd);
    assert_null(sd.dir);
    assert_null(sd.path);
    assert_int_not_equal(stat(path, &st), 0);
    assert_int_not_equal(stat(dir, &st), 0);
    sf_sockdir_remove(&sd); /* twice is harmless */
    free(dir);
    free(path);
}

static void test_sockdir_two_are_distinct(void **state)
{
    (void)state;
    sf_sockdir a, b;
    assert_int_equal(sf_sockdir_create(&a, NULL, "sparkflow", NULL), 0);
    assert_int_equal(sf_sockdir_create(&b, NULL, "sparkflow", NULL), 0);
    assert_string_not_equal(a.dir, b.dir);
    sf_sockdir_remove(&a);
    sf_sockdir_remove(&b);
}

static void test_sockdir_long_tmpdir_falls_back(void **state)
{
    (void)state;
    char longdir[200];
    memset(longdir, 'a', sizeof longdir);
    memcpy(longdir, "/tmp/", 5);
    longdir[sizeof longdir - 1] = '\0';
    sf_sockdir sd;
    assert_int_equal(sf_sockdir_create(&sd, longdir, "sparkflow", NULL), 0);
    assert_int_equal(strncmp(sd.dir, "/tmp/sparkflow-plugin-", 22), 0);
    sf_sockdir_remove(&sd);

    /* An unwritable parent is an error with a message. */
    char *err = NULL;
    assert_int_equal(sf_sockdir_create(&sd, "/nonexistent-sf-dir", "sparkflow", &err), -1);
    assert_non_null(err);
    assert_non_null(strstr(err, "/nonexistent-sf-dir"));
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cookie_value_is_terraforms),
        cmocka_unit_test(test_missing_or_wrong_cookie_is_refused),
        cmocka_unit_test(test_terraform_env_gives_tls_protocol_6),
        cmocka_unit_test(test_plaintext_without_client_cert_or_when_disabled),
        cmocka_unit_test(test_debug_needs_no_cookie_and_is_plaintext),
        cmocka_unit_test(test_debug_flag),
        cmocka_unit_test(test_pick_protocol),
        cmocka_unit_test(test_handshake_line),
        cmocka_unit_test(test_reattach_line),
        cmocka_unit_test(test_sockdir_lifecycle),
        cmocka_unit_test(test_sockdir_two_are_distinct),
        cmocka_unit_test(test_sockdir_long_tmpdir_falls_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
