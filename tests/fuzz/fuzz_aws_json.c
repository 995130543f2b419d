/* fuzz_aws_json.c — libFuzzer target for the JSON AWS answers: the errors
 * of the JSON 1.1 protocol (aws/json.c, EMR), the generic error decoder of
 * aws/client.c, and the credentials JSON that credential_process, the
 * container endpoint and IMDS answer with (aws/credentials.c).
 *
 * Input: an answer body; when it starts with '#', its first line (after the
 * '#') is the x-amzn-ErrorType header and the rest the body.  What each
 * decoder promises is checked; ASan/UBSan catch the rest.  (The EMR engine
 * reads DescribeCluster/ListSteps answers from the cJSON tree json.c parsed,
 * not from bytes: cJSON is the decoder there.)
 * Seeds: tests/fuzz/corpus/fuzz_aws_json/ (botocore's EMR shapes, moto's
 * answers, the project's fixtures).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/answers.h"
#include "aws/aws.h"

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_aws_json: %s\n", what);
        abort();
    }
}

static void errors(const sf_http_resp *resp)
{
    sf_aws_error err = {0};
    sf_aws_json_error(resp, &err);
    check(!err.code || !strchr(err.code, ':'), "an error code with its ':' suffix");
    check(!err.code || !strchr(err.code, '#'), "an error code with its namespace");
    sf_aws_error_clear(&err);
    err.operation = sf_strdup("DescribeCluster");
    sf_aws_answer_error(resp, &err);
    check(err.message != NULL, "an error answer without a message");
    check(err.code != NULL, "a 400 answer without a code");
    char *text = sf_aws_error_text(&err);
    check(text && *text, "no error text");
    free(text);
    sf_aws_error_clear(&err);
}

static void credentials(const char *body)
{
    sf_aws_creds creds = {0};
    char *why = NULL;
    if (sf_aws_creds_from_json(body, "credential_process", &creds, &why) == 0)
        check(creds.access_key && creds.secret_key && !why && creds.expires_ms >= 0, "credentials half filled");
    else check(why && *why && !creds.access_key, "no credentials but no reason");
    free(why);
    sf_aws_creds_clear(&creds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sf_http_resp resp = {.status = 400};
    const char *body = (const char *)data;
    size_t len = size;
    if (size && data[0] == '#') {
        const char *nl = memchr(data, '\n', size);
        size_t hl = nl ? (size_t)(nl - body) - 1 : size - 1;
        resp.headers = calloc(1, sizeof *resp.headers);
        if (!resp.headers) abort();
        resp.headers[0] = (sf_header){sf_strdup("x-amzn-errortype"), sf_strndup(body + 1, hl)};
        resp.n_headers = 1;
        body = nl ? nl + 1 : body + size;
        len = size - (size_t)(body - (const char *)data);
    }
    sf_buf_append(&resp.body, body, len);
    errors(&resp);
    credentials(resp.body.data);
    sf_http_resp_clear(&resp);
    return 0;
}
