/* aws_sign_cli.c — `sf-aws-sign`: the C SigV4 signer as a command, so that
 * tests/aws/test_sigv4.py can compare it with botocore on the same requests.
 *
 * Reads one JSON request description on stdin:
 *   {"method": "GET", "url": "https://host[:port]/path (encoded as sent)",
 *    "params": [["key", "value"], ...]   raw query parameters,
 *    "headers": [["Name", "value"], ...] extra headers to sign,
 *    "body": "text", "service": "s3", "region": "us-east-1",
 *    "access_key": "...", "secret_key": "...", "token": "..." (optional),
 *    "amz_date": "20240102T030405Z", "s3": true|false,
 *    "unsigned_payload": true|false}
 * and prints the Authorization header value on stdout (with --canonical,
 * the canonical request instead).  Exit status 2 on a malformed input.
 * Built by CMake next to the provider; not a ctest.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"

static const char *str(const cJSON *j, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, key));
}

static bool flag(const cJSON *j, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, key));
}

/* [["k","v"],...] into parallel arrays of borrowed strings. */
static size_t pairs(const cJSON *arr, const char ***keys, const char ***values)
{
    size_t n = (size_t)cJSON_GetArraySize(arr);
    *keys = calloc(n + 1, sizeof **keys);
    *values = calloc(n + 1, sizeof **values);
    if (!*keys || !*values) abort();
    for (size_t i = 0; i < n; i++) {
        const cJSON *p = cJSON_GetArrayItem(arr, (int)i);
        (*keys)[i] = cJSON_GetStringValue(cJSON_GetArrayItem(p, 0));
        (*values)[i] = cJSON_GetStringValue(cJSON_GetArrayItem(p, 1));
    }
    return n;
}

int main(int argc, char **argv)
{
    bool canonical = argc > 1 && strcmp(argv[1], "--canonical") == 0;
    sf_buf in = {0};
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) sf_buf_append(&in, buf, n);
    cJSON *j = cJSON_Parse(in.data ? in.data : "");
    const char *url = str(j, "url");
    if (!j || !url || !str(j, "method") || !str(j, "service") || !str(j, "region") || !str(j, "amz_date")) {
        fprintf(stderr, "sf-aws-sign: expected a JSON request description on stdin\n");
        return 2;
    }
    const char *p = strstr(url, "://");
    const char *host = p ? p + 3 : url;
    size_t hn = strcspn(host, "/?");
    char *host_s = sf_strndup(host, hn);
    char *path = sf_strndup(host + hn, strcspn(host + hn, "?"));
    /* Default ports are not part of the signed host (as botocore). */
    size_t hl = strlen(host_s);
    if ((strncmp(url, "https:", 6) == 0 && hl > 4 && strcmp(host_s + hl - 4, ":443") == 0) ||
        (strncmp(url, "http:", 5) == 0 && hl > 3 && strcmp(host_s + hl - 3, ":80") == 0))
        *strrchr(host_s, ':') = 0;

    const char **qk, **qv, **hk, **hv;
    size_t nq = pairs(cJSON_GetObjectItemCaseSensitive(j, "params"), &qk, &qv);
    size_t nh = pairs(cJSON_GetObjectItemCaseSensitive(j, "headers"), &hk, &hv);
    sf_aws_param *q = calloc(nq + 1, sizeof *q);
    sf_header *h = calloc(nh + 2, sizeof *h);
    if (!q || !h) abort();
    for (size_t i = 0; i < nq; i++) q[i] = (sf_aws_param){qk[i], qv[i]};
    for (size_t i = 0; i < nh; i++) h[i] = (sf_header){(char *)hk[i], (char *)hv[i]};
    const char *body = str(j, "body") ? str(j, "body") : "";
    char hash[65];
    sf_aws_sha256_hex(body, strlen(body), hash);
    const char *payload = flag(j, "unsigned_payload") ? "UNSIGNED-PAYLOAD" : hash;
    if (flag(j, "s3")) h[nh++] = (sf_header){"x-amz-content-sha256", (char *)payload};
    sf_aws_creds creds = {
        .access_key = (char *)str(j, "access_key"),
        .secret_key = (char *)str(j, "secret_key"),
        .token = (char *)str(j, "token"),
    };
    sf_aws_sign_req req = {
        .method = str(j, "method"),
        .host = host_s,
        .path = path,
        .query = q,
        .n_query = nq,
        .headers = h,
        .n_headers = nh,
        .payload_hash = payload,
        .amz_date = str(j, "amz_date"),
        .region = str(j, "region"),
        .service = str(j, "service"),
        .s3 = flag(j, "s3"),
    };
    char *out =
        canonical ? sf_aws_sigv4_canonical_request(&req, &creds, NULL) : sf_aws_sigv4_authorization(&req, &creds);
    printf("%s\n", out);
    free(out);
    free(q);
    free(h);
    free(qk);
    free(qv);
    free(hk);
    free(hv);
    free(host_s);
    free(path);
    cJSON_Delete(j);
    sf_buf_free(&in);
    return 0;
}
