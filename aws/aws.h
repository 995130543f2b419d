/* aws.h — a small typed AWS client: what the EMR engine and the S3 lake use.
 *
 *   util.c         hex/sha256/hmac, URI encoding, base64, ISO 8601 parsing
 *   sigv4.c        Signature Version 4 (headers; S3 payload hash)
 *   http.c         libcurl (loaded on first use, base/curl_api.h): one share
 *                  handle per client (connection reuse), fresh connections for
 *                  non-idempotent calls
 *   retry.c        SDK "standard" retry mode: which failures, how long to wait
 *   ini.c          the shared config/credentials files (~/.aws/config...)
 *   credentials.c  the credentials chain, in the SDKs' order, with refresh
 *   client.c       settings, endpoints, sign + send + retry, AWS errors
 *   json.c         JSON 1.1 protocol (EMR) with cJSON
 *   query.c        query protocol with XML responses (STS, EC2), libxml2
 *                  (loaded on first use, base/xml_api.h)
 *   sts.c          GetCallerIdentity, AssumeRole, AssumeRoleWithWebIdentity
 *   s3.c           S3 REST-XML: ListObjectsV2, Get/Put/Head/DeleteObject(s), Copy
 *   s3_notification.c  S3 bucket notification configuration (SQS targets)
 *   ec2.c          EC2 instances, security groups, console output (query)
 *   iam.c          IAM roles, inline policies, instance profiles (query, global)
 *   ssm.c          SSM parameters (JSON 1.1)
 *   sqs.c          SQS queues and their attributes (query)
 *
 * Ownership: every char * and struct a function fills is malloc'd and owned
 * by the caller (release structs with their _clear function).  Errors: every
 * fallible call returns 0 on success and -1 on failure with *err filled:
 * AWS's error code and message when AWS answered, else a transport message.
 * Secrets (secret key, session token, web identity token) never appear in an
 * error, a log line or a diagnostic.
 */
#ifndef SF_AWS_H
#define SF_AWS_H

#include <cjson/cJSON.h>
#include <libxml/tree.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/ctx.h"
#include "base/http.h"
#include "base/str.h"
#include "base/time.h"

/* ---- util.c --------------------------------------------------------------- */
/* (strings, buffers and clocks are base/'s: base/str.h, base/time.h) */

/* Lowercase hex of sha256(data); out holds 65 bytes. */
void sf_aws_sha256_hex(const void *data, size_t len, char out[65]);
/* HMAC-SHA256 into out[32]. */
void sf_aws_hmac(const void *key, size_t klen, const void *data, size_t dlen, unsigned char out[32]);
/* RFC 3986 percent-encoding of every byte but A-Z a-z 0-9 - _ . ~ (and '/'
 * when keep_slash), uppercase hex, as SigV4 wants.  malloc'd. */
char *sf_aws_uri_encode(const char *s, size_t len, bool keep_slash);
/* Percent-decoding ('+' is kept).  malloc'd; *len gets the length. */
char *sf_aws_uri_decode(const char *s, size_t *len);
/* Standard base64 with padding.  malloc'd. */
char *sf_aws_base64(const void *data, size_t len);
/* Decode standard base64; NULL when malformed.  *len gets the length. */
unsigned char *sf_aws_unbase64(const char *s, size_t *len);
/* ISO 8601 "2024-01-02T03:04:05Z" (also with fractions or an offset) →
 * seconds since the epoch; -1 when malformed. */
int64_t sf_aws_parse_iso8601(const char *s);
/* 16 random bytes as 32 hex chars; out holds 33.  -1 when /dev/urandom fails. */
int sf_aws_random_hex(char out[33]);

/* ---- sigv4.c -------------------------------------------------------------- */

typedef struct sf_aws_creds {
    char *access_key;
    char *secret_key;
    char *token;        /* session token, NULL for long-term keys */
    int64_t expires_ms; /* wall clock; 0: does not expire */
    char *source;       /* which link of the chain gave them, e.g. "environment" */
} sf_aws_creds;
void sf_aws_creds_clear(sf_aws_creds *c);
void sf_aws_creds_copy(sf_aws_creds *dst, const sf_aws_creds *src);

typedef struct sf_aws_param {
    const char *key;   /* raw (not encoded) */
    const char *value; /* raw; NULL is "key" alone (sent as key=) */
} sf_aws_param;

/* What SigV4 signs. */
typedef struct sf_aws_sign_req {
    const char *method;        /* "POST" */
    const char *host;          /* "elasticmapreduce.us-east-1.amazonaws.com" or "127.0.0.1:5000" */
    const char *path;          /* as sent: already percent-encoded ("/", "/bucket/my%20key") */
    const sf_aws_param *query; /* raw query parameters (encoded here) */
    size_t n_query;
    const sf_header *headers; /* every header to sign except host/x-amz-date/token */
    size_t n_headers;
    const char *payload_hash; /* hex sha256 of the body, or "UNSIGNED-PAYLOAD" */
    const char *amz_date;     /* "20240102T030405Z" */
    const char *region;
    const char *service; /* "elasticmapreduce", "s3", "sts", "ec2" */
    bool s3;             /* S3 rules: path taken as is (no normalising, no double encoding) */
} sf_aws_sign_req;

/* The Authorization header value for `req` signed with `creds`.  The caller
 * sends X-Amz-Date: amz_date, and X-Amz-Security-Token when creds->token;
 * both are part of the signature (added here).  malloc'd; can't fail. */
char *sf_aws_sigv4_authorization(const sf_aws_sign_req *req, const sf_aws_creds *creds);
/* The canonical request text (for tests and debugging; has no secret). */
char *sf_aws_sigv4_canonical_request(const sf_aws_sign_req *req, const sf_aws_creds *creds, char **signed_headers);

/* ---- retry.c -------------------------------------------------------------- */

/* Whether a failure is worth another attempt, as the SDKs' standard mode
 * decides: throttling codes, transient codes, HTTP 500/502/503/504,
 * timeouts and connection resets.  `code` may be NULL. */
bool sf_aws_retryable(long status, const char *code, int curl_code);
bool sf_aws_throttling_code(const char *code);

/* ---- credentials.c -------------------------------------------------------- */

typedef struct sf_aws_client sf_aws_client;

/* Walk the chain (explicit settings, environment, web identity, shared
 * profile incl. role_arn + web_identity_token_file and credential_process,
 * container, instance metadata) and fill *out from the first source that is
 * configured.  -1 with *err naming each source tried and why it failed. */
int sf_aws_credentials_resolve(sf_aws_client *c, sf_ctx *ctx, sf_aws_creds *out, char **err);

/* ---- errors --------------------------------------------------------------- */

typedef struct sf_aws_error {
    long status;        /* HTTP status, 0 when no answer */
    char *code;         /* AWS's error code ("ValidationException"), or NULL */
    char *message;      /* AWS's message or the transport error */
    char *request_id;   /* NULL when none */
    char *operation;    /* "RunJobFlow" */
    bool maybe_applied; /* a non-idempotent call failed after it may have
                           reached AWS: look before trying again */
} sf_aws_error;
void sf_aws_error_clear(sf_aws_error *e);
/* "RunJobFlow: ValidationException: message (HTTP 400, request id x)". malloc'd. */
char *sf_aws_error_text(const sf_aws_error *e);
/* True when e carries AWS code `code`. */
bool sf_aws_error_is(const sf_aws_error *e, const char *code);

/* ---- ini.c ---------------------------------------------------------------- */

/* One profile of the shared files: its keys, credentials file first. */
typedef struct sf_aws_profile {
    char *name;
    sf_header *kv; /* name = key (lower case), value */
    size_t n;
    bool found; /* the profile has a section in some file */
} sf_aws_profile;

/* Load profile `name` from the config files (sections "[profile name]", or
 * "[default]") and the credentials files (sections "[name]"); missing files
 * are skipped.  Can't fail (an unreadable file counts as missing). */
void sf_aws_profile_load(const char *const *config_files, size_t n_config, const char *const *cred_files, size_t n_cred,
                         const char *name, sf_aws_profile *out);
/* The value of `key` in the profile, or NULL. */
const char *sf_aws_profile_get(const sf_aws_profile *p, const char *key);
void sf_aws_profile_clear(sf_aws_profile *p);

/* ---- client.c ------------------------------------------------------------- */

/* The provider's AWS settings (all optional; strings malloc'd, owned). */
typedef struct sf_aws_config {
    char *region;
    char *profile;
    char **shared_config_files;
    size_t n_shared_config_files;
    char **shared_credentials_files;
    size_t n_shared_credentials_files;
    char *access_key, *secret_key, *token;
    /* assume_role_with_web_identity {} */
    bool web_identity;
    char *wi_role_arn, *wi_token_file, *wi_token, *wi_session_name;
    int64_t wi_duration_s; /* 0: STS default */
    char *endpoint_emr, *endpoint_ec2, *endpoint_s3, *endpoint_sts;
    char *endpoint_iam, *endpoint_ssm, *endpoint_sqs, *endpoint_glue, *endpoint_athena;
    bool s3_use_path_style;
    sf_header *default_tags; /* name = key */
    size_t n_default_tags;
    int max_retries; /* -1: default */
} sf_aws_config;
void sf_aws_config_clear(sf_aws_config *c);

typedef struct sf_aws_client sf_aws_client;

/* A client over `cfg` (taken: the caller must not clear it after).  No
 * network here; credentials are resolved on first use.  Can't fail. */
sf_aws_client *sf_aws_client_new(sf_aws_config *cfg);
void sf_aws_client_free(sf_aws_client *c);
const sf_aws_config *sf_aws_client_config(const sf_aws_client *c);
/* The region: configured, AWS_REGION, AWS_DEFAULT_REGION, the profile's
 * region.  NULL with *err (malloc'd) when none is set anywhere. */
const char *sf_aws_client_region(sf_aws_client *c, char **err);
/* Current credentials (resolved through the chain on first use, refreshed
 * when they expire within 5 minutes).  Returns 0 with *out (a copy), or -1
 * with *err saying which sources were tried and why they failed. */
int sf_aws_client_credentials(sf_aws_client *c, sf_ctx *ctx, sf_aws_creds *out, char **err);
/* A view of `parent` sharing its settings, connections and credentials,
 * with its own call counter (one per pipeline run).  Free it before the
 * parent.  Can't fail. */
sf_aws_client *sf_aws_client_child(sf_aws_client *parent);
/* The shared-files profile in use (configured, AWS_PROFILE,
 * AWS_DEFAULT_PROFILE or "default"), loaded from the configured files,
 * AWS_CONFIG_FILE/AWS_SHARED_CREDENTIALS_FILE or ~/.aws.  *explicit says
 * whether the name was chosen rather than defaulted. */
void sf_aws_client_profile(sf_aws_client *c, sf_aws_profile *out, bool *explicit_name);
/* The shared files in use: configured, else AWS_CONFIG_FILE /
 * AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/config and ~/.aws/credentials. */
typedef struct sf_aws_config_files {
    char **config;
    size_t n_config;
    char **cred;
    size_t n_cred;
} sf_aws_config_files;
void sf_aws_client_files(sf_aws_client *c, sf_aws_config_files *out);
void sf_aws_client_files_clear(sf_aws_config_files *f);
/* Attempts (first try included) that calls through the client make. */
int sf_aws_client_max_attempts(const sf_aws_client *c);
/* API calls sent through the client so far (each HTTP attempt counts). */
int64_t sf_aws_client_calls(const sf_aws_client *c);
sf_http *sf_aws_client_http(sf_aws_client *c);

/* A service's endpoint: the configured one, AWS_ENDPOINT_URL_<SVC>,
 * AWS_ENDPOINT_URL, else https://<prefix>.<region>.amazonaws.com (STS:
 * regional).  malloc'd, without a trailing slash. */
char *sf_aws_endpoint(sf_aws_client *c, const char *service, const char *region);

/* One signed API request. */
typedef struct sf_aws_call {
    const char *operation; /* for errors and logs: "RunJobFlow" */
    const char *service;   /* endpoint and signing name: "emr" (signs as elasticmapreduce), "s3", "sts", "ec2" */
    const char *method;
    const char *path; /* encoded path; NULL: "/" */
    const sf_aws_param *query;
    size_t n_query;
    const sf_header *headers; /* extra headers (signed) */
    size_t n_headers;
    const void *body;
    size_t body_len;
    bool idempotent;           /* false: fresh connection, and retried only
                                  when the request cannot have been acted on */
    bool unsigned_request;     /* STS AssumeRoleWithWebIdentity */
    const sf_aws_creds *creds; /* sign with these instead of the chain's */
    const char *bucket;        /* S3: addressed by host or path per config */
} sf_aws_call;

/* Sign and send with retries.  Returns 0 for a 2xx answer (resp filled,
 * *err cleared), -1 with *err otherwise (resp holds the last answer).
 * *err must be zeroed or cleared before the call. */
int sf_aws_client_send(sf_aws_client *c, sf_ctx *ctx, const sf_aws_call *call, sf_http_resp *resp, sf_aws_error *err);

/* ---- json.c --------------------------------------------------------------- */

/* POST a JSON 1.1 request (X-Amz-Target: <target_prefix>.<operation>) and
 * parse the answer.  `body` is borrowed (NULL: {}).  *out (caller frees with
 * cJSON_Delete) gets the parsed body. */
int sf_aws_json_call(sf_aws_client *c, sf_ctx *ctx, const char *service, const char *target_prefix,
                     const char *operation, const cJSON *body, bool idempotent, cJSON **out, sf_aws_error *err);
/* The AWS error of a JSON-protocol answer (code from __type or
 * x-amzn-ErrorType, message from message/Message). */
void sf_aws_json_error(const sf_http_resp *resp, sf_aws_error *err);

/* ---- query.c -------------------------------------------------------------- */

/* POST Action=<operation>&Version=<version>&params... and parse the XML
 * answer into *doc (xmlFreeDoc). */
int sf_aws_query_call(sf_aws_client *c, sf_ctx *ctx, const char *service, const char *version, const char *operation,
                      const sf_aws_param *params, size_t n_params, bool idempotent, bool unsigned_request, xmlDoc **doc,
                      sf_aws_error *err);
/* The AWS error of an XML answer (query protocol or S3): first <Code>,
 * <Message>, <RequestId>/<RequestID>. */
void sf_aws_xml_error(const sf_http_resp *resp, sf_aws_error *err);
/* Parse XML (no network, no entities); NULL when malformed. */
xmlDoc *sf_aws_xml_parse(const char *data, size_t len);
/* Release a parsed document (NULL is fine); its root element (NULL: none).
 * libxml2 is loaded on first use (base/xml_api.h): these call it. */
void sf_aws_xml_free(xmlDoc *doc);
xmlNode *sf_aws_xml_root(xmlDoc *doc);
/* The first descendant of `node` along a '/'-separated path of local names
 * ("Credentials/AccessKeyId"), or NULL.  Namespaces are ignored. */
xmlNode *sf_aws_xml_find(xmlNode *node, const char *path);
/* The text of that element (malloc'd), or NULL when absent. */
char *sf_aws_xml_text(xmlNode *node, const char *path);
/* The next sibling element with local name `name` after `node` (or the
 * first child of `parent` when node is NULL). */
xmlNode *sf_aws_xml_next(xmlNode *parent, xmlNode *node, const char *name);

/* A growing list of query parameters whose keys and values it owns, for
 * calls whose parameters are numbered ("SecurityGroupId.1"). */
typedef struct sf_aws_params {
    sf_aws_param *items;
    size_t n, cap;
} sf_aws_params;
/* Append key=value (both copied; value NULL is skipped). */
void sf_aws_params_add(sf_aws_params *p, const char *key, const char *value);
/* Append with a printf-formatted key. */
void sf_aws_params_addf(sf_aws_params *p, const char *value, const char *key_fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sf_aws_params_clear(sf_aws_params *p);

/* ---- sts.c ---------------------------------------------------------------- */

typedef struct sf_aws_identity {
    char *account;
    char *arn;
    char *user_id;
} sf_aws_identity;
void sf_aws_identity_clear(sf_aws_identity *id);
int sf_aws_sts_get_caller_identity(sf_aws_client *c, sf_ctx *ctx, sf_aws_identity *out, sf_aws_error *err);
/* AssumeRole signed with `source` (a profile's source_profile keys). */
int sf_aws_sts_assume_role(sf_aws_client *c, sf_ctx *ctx, const sf_aws_creds *source, const char *role_arn,
                           const char *session_name, int64_t duration_s, sf_aws_creds *out, sf_aws_error *err);
/* Unsigned AssumeRoleWithWebIdentity.  `token` is the JWT itself. */
int sf_aws_sts_assume_role_with_web_identity(sf_aws_client *c, sf_ctx *ctx, const char *role_arn,
                                             const char *session_name, const char *token, int64_t duration_s,
                                             sf_aws_creds *out, sf_aws_error *err);

/* ---- s3.c ----------------------------------------------------------------- */

/* "s3://bucket/key/prefix" → bucket and key (malloc'd; key without leading
 * '/', may be "").  -1 when not an s3:// URI with a bucket. */
int sf_aws_s3_parse_uri(const char *uri, char **bucket, char **key);

typedef struct sf_aws_s3_object {
    char *key;
    int64_t size;
    char *etag;
    char *last_modified;
} sf_aws_s3_object;

typedef struct sf_aws_s3_listing {
    sf_aws_s3_object *items;
    size_t n, cap;
} sf_aws_s3_listing;
void sf_aws_s3_listing_clear(sf_aws_s3_listing *l);

/* Every object under `prefix` (all pages of ListObjectsV2), in key order. */
int sf_aws_s3_list(sf_aws_client *c, sf_ctx *ctx, const char *bucket, const char *prefix, sf_aws_s3_listing *out,
                   sf_aws_error *err);
/* GetObject into *body; 1 (not -1) when the key does not exist. */
int sf_aws_s3_get(sf_aws_client *c, sf_ctx *ctx, const char *bucket, const char *key, sf_buf *body, sf_aws_error *err);
int sf_aws_s3_put(sf_aws_client *c, sf_ctx *ctx, const char *bucket, const char *key, const void *data, size_t len,
                  const char *content_type, sf_aws_error *err);
/* PutObject only if the object is still as the caller saw it: its ETag is
 * `if_match` (If-Match), or with `if_match` NULL it does not exist
 * (If-None-Match: *).  0 written, 1 not written because the object changed
 * meanwhile (412 Precondition Failed, 409 ConditionalRequestConflict, or a
 * 404 for If-Match: deleted), -1 error. */
int sf_aws_s3_put_if(sf_aws_client *c, sf_ctx *ctx, const char *bucket, const char *key, const void *data, size_t len,
                     const char *content_type, const char *if_match, sf_aws_error *err);
/* HeadObject: 0 exists (size/etag filled when not NULL), 1 missing, -1 error. */
int sf_aws_s3_head(sf_aws_client *c, sf_ctx *ctx, const char *bucket, const char *key, int64_t *size, char **etag,
                   sf_aws_error *err);
/* DeleteObjects in batches of 1000; per-key failures are an error. */
int sf_aws_s3_delete(sf_aws_client *c, sf_ctx *ctx, const char *bucket, const char *const *keys, size_t n,
                     sf_aws_error *err);
/* Delete every object under prefix (list + delete).  *deleted may be NULL. */
int sf_aws_s3_delete_prefix(sf_aws_client *c, sf_ctx *ctx, const char *bucket, const char *prefix, size_t *deleted,
                            sf_aws_error *err);
/* Server-side copy within a bucket of an object of `size` bytes: CopyObject,
 * or a multipart copy (UploadPartCopy) above CopyObject's 5 GiB limit. */
int sf_aws_s3_copy(sf_aws_client *c, sf_ctx *ctx, const char *bucket, const char *src_key, const char *dst_key,
                   int64_t size, sf_aws_error *err);

/* ---- s3_notification.c ---------------------------------------------------- */

/* GetBucketNotificationConfiguration: the XML as S3 sends it. */
int sf_aws_s3_get_notification(sf_aws_client *c, sf_ctx *ctx, const char *bucket, sf_buf *xml, sf_aws_error *err);
/* PutBucketNotificationConfiguration with a whole <NotificationConfiguration>. */
int sf_aws_s3_put_notification(sf_aws_client *c, sf_ctx *ctx, const char *bucket, const char *xml, sf_aws_error *err);

/* ---- ec2.c ---------------------------------------------------------------- */

typedef struct sf_aws_ec2_run {
    const char *image_id, *instance_type, *subnet_id; /* subnet may be NULL */
    const char *instance_profile;                     /* name; NULL: none */
    const char *const *security_group_ids;
    size_t n_security_groups;
    const char *root_device_name; /* e.g. "/dev/xvda" */
    int64_t root_volume_gb;       /* encrypted gp3 */
    const char *user_data;        /* plain text: base64 here */
    const char *client_token;     /* idempotency token: a retried call makes no second instance */
    const sf_header *tags;        /* on the instance and its volume */
    size_t n_tags;
    const sf_header *instance_tags; /* on the instance only */
    size_t n_instance_tags;
} sf_aws_ec2_run;
/* RunInstances of one instance with IMDSv2 required and shutdown =
 * terminate.  *instance_id malloc'd. */
int sf_aws_ec2_run_instance(sf_aws_client *c, sf_ctx *ctx, const sf_aws_ec2_run *r, char **instance_id,
                            sf_aws_error *err);

typedef struct sf_aws_ec2_instance {
    char *id, *state, *public_ip, *private_ip, *launch_time, *state_reason, *instance_type;
    sf_header *tags; /* name = key */
    size_t n_tags;
} sf_aws_ec2_instance;
/* The value of tag `key` of an instance, or NULL. */
const char *sf_aws_ec2_instance_tag(const sf_aws_ec2_instance *i, const char *key);
void sf_aws_ec2_instance_clear(sf_aws_ec2_instance *i);
/* DescribeInstances of one id: 0 with *out, 1 when EC2 does not know it, -1. */
int sf_aws_ec2_describe_instance(sf_aws_client *c, sf_ctx *ctx, const char *id, sf_aws_ec2_instance *out,
                                 sf_aws_error *err);
/* One Filter.N of DescribeInstances: any of `values` matches. */
typedef struct sf_aws_ec2_filter {
    const char *name; /* "tag:sparkflow:managed", "tag-key", "instance-state-name" */
    const char *const *values;
    size_t n_values;
} sf_aws_ec2_filter;
/* Called with each instance found; returns false to stop. */
typedef bool (*sf_aws_ec2_instance_fn)(void *arg, const sf_aws_ec2_instance *i);
/* DescribeInstances with `filters`, every page (NextToken): each instance
 * handed to `each` until it returns false.  0, or -1 with *err. */
int sf_aws_ec2_describe_instances(sf_aws_client *c, sf_ctx *ctx, const sf_aws_ec2_filter *filters, size_t n_filters,
                                  sf_aws_ec2_instance_fn each, void *arg, sf_aws_error *err);
/* TerminateInstances; an unknown id is success. */
int sf_aws_ec2_terminate_instance(sf_aws_client *c, sf_ctx *ctx, const char *id, sf_aws_error *err);
/* GetConsoleOutput (Latest): the text, base64-decoded when it is base64.
 * *text malloc'd ("" when there is none yet). */
int sf_aws_ec2_console_output(sf_aws_client *c, sf_ctx *ctx, const char *id, char **text, sf_aws_error *err);
/* The root device name of an AMI (DescribeImages): 1 when unknown. */
int sf_aws_ec2_image_root_device(sf_aws_client *c, sf_ctx *ctx, const char *image_id, char **device, sf_aws_error *err);
/* The VPC of a subnet (DescribeSubnets): 1 when unknown. */
int sf_aws_ec2_subnet_vpc(sf_aws_client *c, sf_ctx *ctx, const char *subnet_id, char **vpc_id, sf_aws_error *err);
/* CreateSecurityGroup (vpc_id NULL: the default VPC) with tags. */
int sf_aws_ec2_create_security_group(sf_aws_client *c, sf_ctx *ctx, const char *name, const char *description,
                                     const char *vpc_id, const sf_header *tags, size_t n_tags, char **group_id,
                                     sf_aws_error *err);
/* AuthorizeSecurityGroupIngress: TCP `port` from each CIDR. */
int sf_aws_ec2_authorize_ingress(sf_aws_client *c, sf_ctx *ctx, const char *group_id, int port,
                                 const char *const *cidrs, size_t n, sf_aws_error *err);
/* RevokeSecurityGroupIngress: TCP `port` from each CIDR (rules already
 * gone are fine). */
int sf_aws_ec2_revoke_ingress(sf_aws_client *c, sf_ctx *ctx, const char *group_id, int port, const char *const *cidrs,
                              size_t n, sf_aws_error *err);
/* CreateTags: add or overwrite `tags` on resource `id`. */
int sf_aws_ec2_create_tags(sf_aws_client *c, sf_ctx *ctx, const char *id, const sf_header *tags, size_t n,
                           sf_aws_error *err);
/* DeleteSecurityGroup: 0, 1 when already gone, -1 (DependencyViolation
 * while an instance still uses it: err says so). */
int sf_aws_ec2_delete_security_group(sf_aws_client *c, sf_ctx *ctx, const char *group_id, sf_aws_error *err);
/* The id of the security group named `name` (in `vpc_id`, NULL: any):
 * 0 with *group_id, 1 none, -1. */
int sf_aws_ec2_find_security_group(sf_aws_client *c, sf_ctx *ctx, const char *name, const char *vpc_id, char **group_id,
                                   sf_aws_error *err);
/* Whether security group `group_id` exists (DescribeSecurityGroups): 0, 1 not, -1. */
int sf_aws_ec2_security_group_exists(sf_aws_client *c, sf_ctx *ctx, const char *group_id, sf_aws_error *err);

/* ---- iam.c ---------------------------------------------------------------- */
/* Deletes answer 1 when the entity is already gone (NoSuchEntity). */

int sf_aws_iam_create_role(sf_aws_client *c, sf_ctx *ctx, const char *name, const char *trust_policy,
                           const char *description, const sf_header *tags, size_t n_tags, sf_aws_error *err);
int sf_aws_iam_put_role_policy(sf_aws_client *c, sf_ctx *ctx, const char *role, const char *policy_name,
                               const char *document, sf_aws_error *err);
int sf_aws_iam_delete_role_policy(sf_aws_client *c, sf_ctx *ctx, const char *role, const char *policy_name,
                                  sf_aws_error *err);
int sf_aws_iam_delete_role(sf_aws_client *c, sf_ctx *ctx, const char *role, sf_aws_error *err);
int sf_aws_iam_create_instance_profile(sf_aws_client *c, sf_ctx *ctx, const char *name, const sf_header *tags,
                                       size_t n_tags, sf_aws_error *err);
int sf_aws_iam_add_role_to_instance_profile(sf_aws_client *c, sf_ctx *ctx, const char *profile, const char *role,
                                            sf_aws_error *err);
int sf_aws_iam_remove_role_from_instance_profile(sf_aws_client *c, sf_ctx *ctx, const char *profile, const char *role,
                                                 sf_aws_error *err);
int sf_aws_iam_delete_instance_profile(sf_aws_client *c, sf_ctx *ctx, const char *profile, sf_aws_error *err);
/* GetInstanceProfile: 0 (*arn malloc'd when arn not NULL), 1 no such profile, -1. */
int sf_aws_iam_get_instance_profile(sf_aws_client *c, sf_ctx *ctx, const char *name, char **arn, sf_aws_error *err);

/* ---- ssm.c ---------------------------------------------------------------- */

/* GetParameter (decrypted): 0 with *value, 1 no such parameter, -1. */
int sf_aws_ssm_get_parameter(sf_aws_client *c, sf_ctx *ctx, const char *name, char **value, sf_aws_error *err);
/* PutParameter as a SecureString (the account's aws/ssm key), overwriting. */
int sf_aws_ssm_put_secure_parameter(sf_aws_client *c, sf_ctx *ctx, const char *name, const char *value,
                                    const char *description, sf_aws_error *err);
/* DeleteParameter: 0, 1 already gone, -1. */
int sf_aws_ssm_delete_parameter(sf_aws_client *c, sf_ctx *ctx, const char *name, sf_aws_error *err);

/* ---- sqs.c ---------------------------------------------------------------- */

/* CreateQueue with attributes (name = attribute name); idempotent for the
 * same attributes.  *url malloc'd. */
int sf_aws_sqs_create_queue(sf_aws_client *c, sf_ctx *ctx, const char *name, const sf_header *attrs, size_t n,
                            char **url, sf_aws_error *err);
/* GetQueueUrl: 0, 1 no such queue, -1. */
int sf_aws_sqs_get_queue_url(sf_aws_client *c, sf_ctx *ctx, const char *name, char **url, sf_aws_error *err);
/* GetQueueAttributes of one attribute ("QueueArn"): *value malloc'd. */
int sf_aws_sqs_get_queue_attribute(sf_aws_client *c, sf_ctx *ctx, const char *url, const char *name, char **value,
                                   sf_aws_error *err);
int sf_aws_sqs_set_queue_attributes(sf_aws_client *c, sf_ctx *ctx, const char *url, const sf_header *attrs, size_t n,
                                    sf_aws_error *err);
/* DeleteQueue: 0, 1 already gone, -1. */
int sf_aws_sqs_delete_queue(sf_aws_client *c, sf_ctx *ctx, const char *url, sf_aws_error *err);

#endif
