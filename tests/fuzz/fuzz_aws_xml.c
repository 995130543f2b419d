/* fuzz_aws_xml.c — libFuzzer target for the XML AWS answers (aws/query.c,
 * aws/s3.c, aws/sts.c, the error decoding of aws/client.c).
 *
 * Any server (a proxy, a look-alike endpoint, moto) can answer anything, so
 * the input is taken as an answer body and fed to every parse step aws/
 * has (aws/answers.h): the error of a 4xx/5xx (XML and the generic
 * decoder), a ListObjectsV2 page, a DeleteObjects answer, a copy's 200 with
 * an <Error>, CreateMultipartUpload's UploadId, AssumeRole* credentials and
 * GetCallerIdentity.  What each promises is checked; ASan/UBSan catch the
 * rest.  libxml2 is loaded on first use (base/xml_api.h): the initializer
 * loads it and stops when it cannot.
 * Seeds: tests/fuzz/corpus/fuzz_aws_xml/ (moto's and botocore's shapes).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/answers.h"
#include "aws/aws.h"
#include "base/xml_api.h"

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_aws_xml: %s\n", what);
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *why = NULL;
    if (!sf_xml_api_get(&why)) {
        fprintf(stderr, "fuzz_aws_xml: libxml2 did not load: %s\n", why ? why : "?");
        exit(1);
    }
    return 0;
}

/* The error decoders: whatever the body, the error has a message and a code
 * (the status gives one) and prints. */
static void errors(const sf_http_resp *resp)
{
    sf_aws_error err = {0};
    sf_aws_xml_error(resp, &err);
    sf_aws_error_clear(&err);
    err.operation = sf_strdup("DescribeInstances");
    sf_aws_answer_error(resp, &err);
    check(err.message != NULL, "an error answer without a message");
    check(err.code != NULL, "a 400 answer without a code");
    char *text = sf_aws_error_text(&err);
    check(text && *text, "no error text");
    free(text);
    sf_aws_error_clear(&err);
    check(sf_aws_s3_body_error(0, resp, "CopyObject", &err) <= 0, "body_error out of range");
    sf_aws_error_clear(&err);
    if (sf_aws_s3_delete_errors(resp, &err) != 0) check(err.message && err.operation, "delete error without text");
    sf_aws_error_clear(&err);
    char *id = sf_aws_s3_answer_text(resp, "CreateMultipartUpload", "UploadId", &err);
    check(id != NULL || err.message != NULL, "no UploadId and no error");
    free(id);
    sf_aws_error_clear(&err);
}

/* A ListObjectsV2 page: every object has a key (sf_aws_s3_list sorts them). */
static void listing(xmlDoc *doc)
{
    sf_aws_s3_listing l = {0};
    char *next = NULL;
    sf_aws_s3_list_parse(doc, &l, &next);
    for (size_t i = 0; i < l.n; i++) check(l.items[i].key != NULL, "a listed object without a key");
    free(next);
    sf_aws_s3_listing_clear(&l);
}

static void sts(xmlDoc *doc)
{
    sf_aws_creds creds = {0};
    sf_aws_error err = {0};
    if (sf_aws_sts_answer_creds(doc, "AssumeRole", &creds, &err) == 0)
        check(creds.access_key && creds.secret_key && creds.expires_ms >= 0, "credentials half filled");
    else check(err.message && !creds.access_key && !creds.secret_key, "no credentials but no error");
    sf_aws_creds_clear(&creds);
    sf_aws_error_clear(&err);
    sf_aws_identity id = {0};
    sf_aws_sts_answer_identity(doc, &id);
    sf_aws_identity_clear(&id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sf_http_resp resp = {.status = 400};
    sf_buf_append(&resp.body, data, size);
    errors(&resp);
    xmlDoc *doc = sf_aws_xml_parse((const char *)data, size);
    if (doc) {
        listing(doc);
        sts(doc);
        sf_aws_xml_free(doc);
    }
    sf_http_resp_clear(&resp);
    return 0;
}
