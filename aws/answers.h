/* answers.h — the parse step of AWS answers, apart from the call that
 * fetched them (internal to aws/).
 *
 * Each function here reads bytes (or a document parsed from bytes) that a
 * server sent, with no network: the calls in client.c, credentials.c, s3.c
 * and sts.c use them, and so do the fuzz targets (tests/fuzz/fuzz_aws_*.c)
 * and the unit tests that replay what the fuzzers found.  Ownership and
 * errors as in aws.h.
 */
#ifndef SF_AWS_ANSWERS_H
#define SF_AWS_ANSWERS_H

#include "aws/aws.h"

/* client.c: the AWS error of a non-2xx answer, JSON or XML by its body,
 * else from x-amzn-ErrorType and the status.  Fills code, message and
 * request id (whatever err already holds of those is replaced). */
void sf_aws_answer_error(const sf_http_resp *resp, sf_aws_error *err);

/* credentials.c: credentials JSON as credential_process, the container
 * endpoint and IMDS give them.  0 with *out set, or -1 with *why malloc'd. */
int sf_aws_creds_from_json(const char *text, const char *source, sf_aws_creds *out, char **why);

/* s3.c: one ListObjectsV2 page appended to *out; *next (malloc'd) gets the
 * continuation token when the page says it is truncated. */
void sf_aws_s3_list_parse(xmlDoc *doc, sf_aws_s3_listing *out, char **next);
/* s3.c: the first <Error> of a DeleteObjects answer as *err (-1), else 0. */
int sf_aws_s3_delete_errors(const sf_http_resp *resp, sf_aws_error *err);
/* s3.c: a copy's 200 answer whose body is an <Error>: -1 with *err; else rc. */
int sf_aws_s3_body_error(int rc, const sf_http_resp *resp, const char *operation, sf_aws_error *err);
/* s3.c: one element's text from an XML answer; NULL (with *err) when absent. */
char *sf_aws_s3_answer_text(const sf_http_resp *resp, const char *operation, const char *element, sf_aws_error *err);

/* sts.c: the credentials of an AssumeRole* answer; -1 with *err when it
 * holds none. */
int sf_aws_sts_answer_creds(xmlDoc *doc, const char *operation, sf_aws_creds *out, sf_aws_error *err);
/* sts.c: account, ARN and user id of a GetCallerIdentity answer (each NULL
 * when absent). */
void sf_aws_sts_answer_identity(xmlDoc *doc, sf_aws_identity *out);

#endif
