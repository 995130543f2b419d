/* fuzz_aws_ini.c — libFuzzer target for the shared config/credentials file
 * parser (aws/ini.c) and what the client resolves from it without a
 * network: the profile in use, its region and the endpoints built from it
 * (aws/client.c).
 *
 * Input: the config file, then a NUL byte, then the credentials file (no
 * NUL: the same bytes are both).  They are handed over as real files
 * (memfds, /proc/self/fd/N), as ini.c reads paths.  Each profile read is
 * checked: keys lower case, unique, values non-empty.  The credentials
 * chain on top (STS, credential_process, IMDS) talks to the world and is
 * not fuzzed here; its JSON is (fuzz_aws_json).
 * Seeds: tests/fuzz/corpus/fuzz_aws_ini/ (botocore's and the unit tests'
 * files).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "aws/aws.h"

static const char *const NAMES[] = {"default", "dev", "prod", "profile", "a b"};

static void check(int ok, const char *what, const char *name)
{
    if (!ok) {
        fprintf(stderr, "fuzz_aws_ini: %s (profile %s)\n", what, name);
        abort();
    }
}

/* A memfd holding data, as a path; -1 when the system has none. */
static int file_of(const uint8_t *data, size_t size, char path[64])
{
    int fd = memfd_create("fuzz_aws_ini", 0);
    if (fd < 0) abort();
    if (size && write(fd, data, size) != (ssize_t)size) abort();
    snprintf(path, 64, "/proc/self/fd/%d", fd);
    return fd;
}

static void check_profile(const sf_aws_profile *p, const char *name)
{
    check(p->name && strcmp(p->name, name) == 0, "profile renamed", name);
    check(p->n == 0 || p->found, "keys from no section", name);
    for (size_t i = 0; i < p->n; i++) {
        check(p->kv[i].name && *p->kv[i].name && p->kv[i].value && *p->kv[i].value, "empty key or value", name);
        for (const char *c = p->kv[i].name; *c; c++) check(!isupper((unsigned char)*c), "key not lower case", name);
        check(sf_aws_profile_get(p, p->kv[i].name) == p->kv[i].value, "duplicate key", name);
    }
}

/* The client's view: the named profile's region and the endpoints from it. */
static void client(const char *config, const char *cred, const char *name)
{
    sf_aws_config cfg = {0};
    cfg.profile = sf_strdup(name);
    cfg.shared_config_files = calloc(1, sizeof(char *));
    cfg.shared_credentials_files = calloc(1, sizeof(char *));
    if (!cfg.shared_config_files || !cfg.shared_credentials_files) abort();
    cfg.shared_config_files[0] = sf_strdup(config);
    cfg.shared_credentials_files[0] = sf_strdup(cred);
    cfg.n_shared_config_files = cfg.n_shared_credentials_files = 1;
    cfg.max_retries = -1;
    sf_aws_client *c = sf_aws_client_new(&cfg);
    char *err = NULL;
    const char *region = sf_aws_client_region(c, &err);
    check(region != NULL || err != NULL, "no region and no reason", name);
    if (region) {
        char *ep = sf_aws_endpoint(c, "s3", region);
        check(strspn(region, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == strlen(region),
              "a region that is not one host label", name);
        char *want = sf_fmt("https://s3.%s.amazonaws.com", region);
        check(ep && (strcmp(ep, want) == 0 || strncmp(region, "cn-", 3) == 0), "an endpoint off amazonaws.com", name);
        free(want);
        free(ep);
    }
    free(err);
    sf_aws_client_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t clen = nul ? (size_t)(nul - data) : size;
    char config[64], cred[64];
    int cfd = file_of(data, clen, config);
    int kfd = nul ? file_of(nul + 1, size - clen - 1, cred) : file_of(data, size, cred);
    const char *cf[] = {config}, *kf[] = {cred};
    for (size_t i = 0; i < sizeof NAMES / sizeof *NAMES; i++) {
        sf_aws_profile p;
        sf_aws_profile_load(cf, 1, kf, 1, NAMES[i], &p);
        check_profile(&p, NAMES[i]);
        sf_aws_profile_clear(&p);
    }
    client(config, cred, "default");
    client(config, cred, "dev");
    close(cfd);
    close(kfd);
    return 0;
}
