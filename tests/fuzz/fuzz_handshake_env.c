/* fuzz_handshake_env.c — libFuzzer target for the go-plugin handshake
 * environment (provider/handshake.c, provider/tls.c).
 *
 * Whoever starts the plugin sets its environment: the input is split at NUL
 * bytes into TF_PLUGIN_MAGIC_COOKIE, PLUGIN_PROTOCOL_VERSIONS,
 * PLUGIN_CLIENT_CERT, TF_DISABLE_PLUGIN_TLS and one command-line argument
 * (a missing field is unset; the first byte's low bit says -debug).  These
 * go into the real environment and through sf_handshake_env_read,
 * sf_handshake_configure, the certificate check (sf_tls_check_cert_pem) and
 * the lines the plugin prints.  (PLUGIN_MIN_PORT/PLUGIN_MAX_PORT are TCP
 * settings; the plugin listens on a unix socket and reads neither.)
 * Seeds: tests/fuzz/corpus/fuzz_handshake_env/ (what Terraform sends).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/handshake.h"
#include "provider/tls.h"

static const char *const VARS[] = {"TF_PLUGIN_MAGIC_COOKIE", "PLUGIN_PROTOCOL_VERSIONS", "PLUGIN_CLIENT_CERT",
                                   "TF_DISABLE_PLUGIN_TLS"};
#define NVARS (sizeof VARS / sizeof *VARS)

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_handshake_env: %s\n", what);
        abort();
    }
}

/* glibc's setenv never frees a value it replaces (getenv's pointers stay
 * valid), which over millions of runs is gigabytes: each variable instead
 * lives in a buffer of this harness, handed to putenv and rewritten in
 * place (fields longer than it are cut). */
#define VAR_MAX 70000
static char var_buf[NVARS][VAR_MAX];

static void set_var(size_t i, const char *value)
{
    if (!value) {
        unsetenv(VARS[i]);
        return;
    }
    snprintf(var_buf[i], VAR_MAX, "%s=%s", VARS[i], value);
    if (getenv(VARS[i]) != var_buf[i] + strlen(VARS[i]) + 1) putenv(var_buf[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    bool debug_bit = data[0] & 1;
    char *copy = malloc(size); /* NUL-terminated fields */
    if (!copy) abort();
    memcpy(copy, data + 1, size - 1);
    copy[size - 1] = 0;
    const char *end = copy + size - 1, *f = copy;
    const char *fields[NVARS + 1] = {0};
    for (size_t i = 0; i < NVARS + 1 && f <= end; i++) {
        fields[i] = f;
        f += strlen(f) + 1;
    }
    for (size_t i = 0; i < NVARS; i++) set_var(i, fields[i]);
    char *argv[] = {"terraform-provider-sparkflow", (char *)(fields[NVARS] ? fields[NVARS] : ""), NULL};
    bool debug = sf_handshake_debug_flag(2, argv) || debug_bit;

    sf_handshake_env env;
    sf_handshake_env_read(&env);
    sf_handshake hs;
    char *err = NULL;
    if (sf_handshake_configure(&hs, &env, debug, "SparkFlow", &err) == 0) {
        check(err == NULL && hs.protocol == SF_HANDSHAKE_PROTOCOL, "accepted without protocol 6");
        check(!hs.client_cert || !debug, "TLS in debug mode");
        if (hs.client_cert && sf_tls_check_cert_pem(hs.client_cert, &err) != 0) {
            check(err && *err, "certificate refused without a reason");
            free(err);
            err = NULL;
        }
        char *line = sf_handshake_line("/tmp/x/plugin.sock", hs.client_cert ? "Y2VydA==" : NULL);
        check(line && !strchr(line, '\n'), "handshake line with a newline");
        free(line);
    } else {
        check(err && *err, "refused without a reason");
    }
    free(err);
    err = NULL;
    if (sf_handshake_pick_protocol(env.protocol_versions, &err) != SF_HANDSHAKE_PROTOCOL)
        check(err != NULL, "no reason");
    free(err);
    char *re = sf_handshake_reattach_line("registry.terraform.io/sparkflow/sparkflow", 42,
                                          fields[NVARS] ? fields[NVARS] : "/tmp/s");
    check(re && !strchr(re, '\n'), "a reattach line on two lines"); /* cJSON escapes newlines */
    free(re);
    free(copy);
    return 0;
}
