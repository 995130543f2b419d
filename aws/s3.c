/* s3.c — the S3 REST-XML operations the lake and the EMR engine use.
 *
 * Keys travel in the path, percent-encoded except '/', and are signed as
 * sent (S3's SigV4 rule).  The bucket goes in the host (virtual-hosted
 * style) unless the provider asks for path style or the endpoint is an IP
 * address or localhost (client.c decides).  Answers and errors are XML.
 */
#include "aws/aws.h"
#include "aws/answers.h"

#include <libxml/tree.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DELETE_BATCH 1000

int sf_aws_s3_parse_uri(const char *uri, char **bucket, char **key)
{
    *bucket = *key = NULL;
    if (!uri || strncasecmp(uri, "s3://", 5) != 0) return -1;
    const char *b = uri + 5;
    size_t n = strcspn(b, "/");
    if (n == 0) return -1;
    *bucket = sf_strndup(b, n);
    const char *k = b + n;
    while (*k == '/') k++;
    *key = sf_strdup(k);
    return 0;
}

static char *key_path(const char *key)
{
    char *enc = sf_aws_uri_encode(key, strlen(key), true);
    char *p = sf_fmt("/%s", enc);
    free(enc);
    return p;
}

void sf_aws_s3_listing_clear(sf_aws_s3_listing *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].key);
        free(l->items[i].etag);
        free(l->items[i].last_modified);
    }
    free(l->items);
    *l = (sf_aws_s3_listing){0};
}

static void list_push(sf_aws_s3_listing *l, xmlNode *contents)
{
    char *key = sf_aws_xml_text(contents, "Key");
    if (!key) return; /* no object to name (a broken answer): listing it would hand on a NULL key */
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->items = realloc(l->items, l->cap * sizeof *l->items);
        if (!l->items) abort();
    }
    char *size = sf_aws_xml_text(contents, "Size");
    l->items[l->n++] = (sf_aws_s3_object){
        .key = key,
        .size = size ? atoll(size) : 0,
        .etag = sf_aws_xml_text(contents, "ETag"),
        .last_modified = sf_aws_xml_text(contents, "LastModified"),
    };
    free(size);
}

void sf_aws_s3_list_parse(xmlDoc *doc, sf_aws_s3_listing *out, char **next)
{
    xmlNode *root = sf_aws_xml_root(doc);
    for (xmlNode *n = sf_aws_xml_next(root, NULL, "Contents"); n; n = sf_aws_xml_next(root, n, "Contents"))
        list_push(out, n);
    char *trunc = sf_aws_xml_text(root, "IsTruncated");
    if (trunc && strcmp(trunc, "true") == 0) *next = sf_aws_xml_text(root, "NextContinuationToken");
    free(trunc);
}

/* One page; *next gets the continuation token when truncated. */
static int list_page(sf_aws_client *c, sf_ctx *ctx, const char *bucket, const char *prefix, const char *token,
                     sf_aws_s3_listing *out, char **next, sf_aws_error *err)
{
    *next = NULL;
    sf_aws_param q[3] = {{"list-type", "2"}, {"prefix", prefix}, {"continuation-token", token}};
    sf_aws_call call = {
        .operation = "ListObjectsV2",
        .service = "s3",
        .method = "GET",
        .path = "/",
        .query = q,
        .n_query = token ? 3 : 2,
        .idempotent = true,
        .bucket = bucket,
    };
    sf_http_resp resp;
    int rc = sf_aws_client_send(c, ctx, &call, &resp, err);
    xmlDoc *doc = rc == 0 ? sf_aws_xml_parse(resp.body.data, resp.body.len) : NULL;
    if (rc == 0 && !doc) {
        sf_aws_error_clear(err);
        err->operation = sf_strdup("ListObjectsV2");
        err->message = sf_strdup("the answer is not valid XML");
        rc = -1;
    }
    if (doc) {
        sf_aws_s3_list_parse(doc, out, next);
        sf_aws_xml_free(doc);
    }
    sf_http_resp_clear(&resp);
    return rc;
}

static int cmp_obj(const void *a, const void *b)
{
    return strcmp(((const sf_aws_s3_object *)a)->key, ((const sf_aws_s3_object *)b)->key);
}

int sf_aws_s3_list(sf_aws_client *c, sf_ctx *ctx, const char *bucket, const char *prefix, sf_aws_s3_listing *out,
                   sf_aws_error *err)
{
    *out = (sf_aws_s3_listing){0};
    char *token = NULL;
    do {
        char *next = NULL;
        int rc = list_page(c, ctx, bucket, prefix, token, out, &next, err);
        /* A truncated page must move on: an empty token, or the one just
         * sent, would make this loop forever (a broken or hostile endpoint). */
        if (rc == 0 && next && (!*next || (token && strcmp(next, token) == 0))) {
            sf_aws_error_clear(err);
            err->operation = sf_strdup("ListObjectsV2");
            err->message = sf_fmt("the listing of s3://%s/%s does not advance: a truncated page came back with "
                                  "the continuation token \"%s\" again",
                                  bucket, prefix ? prefix : "", next);
            rc = -1;
        }
        free(token);
        token = next;
        if (rc != 0) {
            free(token);
            sf_aws_s3_listing_clear(out);
            return -1;
        }
    } while (token);
    if (out->n) qsort(out->items, out->n, sizeof *out->items, cmp_obj);
    return 0;
}

int sf_aws_s3_get(sf_aws_client *c, sf_ctx *ctx, const char *bucket, const char *key, sf_buf *body, sf_aws_error *err)
{
    *body = (sf_buf){0};
    char *path = key_path(key);
    sf_aws_call call = {
        .operation = "GetObject",
        .service = "s3",
        .method = "GET",
        .path = path,
        .idempotent = true,
        .bucket = bucket,
    };
    sf_http_resp resp;
    int rc = sf_aws_client_send(c, ctx, &call, &resp, err);
    if (rc == 0) {
        *body = resp.body;
        resp.body = (sf_buf){0};
    } else if (resp.status == 404 || sf_aws_error_is(err, "NoSuchKey")) {
        rc = 1;
    }
    sf_http_resp_clear(&resp);
    free(path);
    return rc;
}

/* PutObject with `cond` (a precondition header, or an empty one). */
static int put_object(sf_aws_client *c, sf_ctx *ctx, const char *bucket, const char *key, const void *data, size_t len,
                      const char *content_type, sf_header cond, sf_http_resp *resp, sf_aws_error *err)
{
    char *path = key_path(key);
    sf_header headers[] = {{"Content-Type", (char *)(content_type ? content_type : "application/octet-stream")}, cond};
    sf_aws_call call = {
        .operation = "PutObject",
        .service = "s3",
        .method = "PUT",
        .path = path,
        .headers = headers,
        .n_headers = cond.name ? 2 : 1,
        .body = data ? data : "",
        .body_len = len,
        .idempotent = true,
        .bucket = bucket,
    };
    int rc = sf_aws_client_send(c, ctx, &call, resp, err);
    free(path);
    return rc;
}

int sf_aws_s3_put(sf_aws_client *c, sf_ctx *ctx, const char *bucket, const char *key, const void *data, size_t len,
                  const char *content_type, sf_aws_error *err)
{
    sf_http_resp resp;
    int rc = put_object(c, ctx, bucket, key, data, len, content_type, (sf_header){0}, &resp, err);
    sf_http_resp_clear(&resp);
    return rc;
}

int sf_aws_s3_put_if(sf_aws_client *c, sf_ctx *ctx, const char *bucket, const char *key, const void *data, size_t len,
                     const char *content_type, const char *if_match, sf_aws_error *err)
{
    sf_header cond = if_match ? (sf_header){"If-Match", (char *)if_match} : (sf_header){"If-None-Match", "*"};
    sf_http_resp resp;
    int rc = put_object(c, ctx, bucket, key, data, len, content_type, cond, &resp, err);
    if (rc != 0 && (resp.status == 412 || resp.status == 409 || (if_match && resp.status == 404))) {
        sf_aws_error_clear(err);
        rc = 1;
    }
    sf_http_resp_clear(&resp);
    return rc;
}

int sf_aws_s3_head(sf_aws_client *c, sf_ctx *ctx, const char *bucket, const char *key, int64_t *size, char **etag,
                   sf_aws_error *err)
{
    char *path = key_path(key);
    sf_aws_call call = {
        .operation = "HeadObject",
        .service = "s3",
        .method = "HEAD",
        .path = path,
        .idempotent = true,
        .bucket = bucket,
    };
    sf_http_resp resp;
    int rc = sf_aws_client_send(c, ctx, &call, &resp, err);
    if (rc == 0) {
        const char *len = sf_http_resp_header(&resp, "content-length");
        if (size) *size = len ? atoll(len) : 0;
        if (etag) *etag = sf_strdup(sf_http_resp_header(&resp, "etag"));
    } else if (resp.status == 404) {
        rc = 1;
    }
    sf_http_resp_clear(&resp);
    free(path);
    return rc;
}

static void xml_escape(sf_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': sf_buf_puts(b, "&amp;"); break;
        case '<': sf_buf_puts(b, "&lt;"); break;
        case '>': sf_buf_puts(b, "&gt;"); break;
        case '"': sf_buf_puts(b, "&quot;"); break;
        case '\'': sf_buf_puts(b, "&apos;"); break;
        case '\r': sf_buf_puts(b, "&#13;"); break;
        case '\n': sf_buf_puts(b, "&#10;"); break;
        default: sf_buf_append(b, s, 1);
        }
    }
}

/* The first <Error> of a DeleteObjects answer, as an error. */
int sf_aws_s3_delete_errors(const sf_http_resp *resp, sf_aws_error *err)
{
    xmlDoc *doc = sf_aws_xml_parse(resp->body.data, resp->body.len);
    if (!doc) return 0;
    xmlNode *root = sf_aws_xml_root(doc);
    xmlNode *e = sf_aws_xml_next(root, NULL, "Error");
    int rc = 0;
    if (e) {
        sf_aws_error_clear(err);
        err->operation = sf_strdup("DeleteObjects");
        err->code = sf_aws_xml_text(e, "Code");
        char *key = sf_aws_xml_text(e, "Key"), *msg = sf_aws_xml_text(e, "Message");
        err->message = sf_fmt("%s: %s", key ? key : "?", msg ? msg : "not deleted");
        free(key);
        free(msg);
        rc = -1;
    }
    sf_aws_xml_free(doc);
    return rc;
}

static int delete_batch(sf_aws_client *c, sf_ctx *ctx, const char *bucket, const char *const *keys, size_t n,
                        sf_aws_error *err)
{
    sf_buf body = {0};
    sf_buf_puts(&body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete "
                       "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>");
    for (size_t i = 0; i < n; i++) {
        sf_buf_puts(&body, "<Object><Key>");
        xml_escape(&body, keys[i]);
        sf_buf_puts(&body, "</Key></Object>");
    }
    sf_buf_puts(&body, "</Delete>");
    unsigned char md5[16];
    unsigned int mlen = 0;
    EVP_Digest(body.data, body.len, md5, &mlen, EVP_md5(), NULL);
    char *md5_b64 = sf_aws_base64(md5, 16);
    sf_header headers[] = {{"Content-Type", "application/xml"}, {"Content-MD5", md5_b64}};
    sf_aws_param q[] = {{"delete", ""}};
    sf_aws_call call = {
        .operation = "DeleteObjects",
        .service = "s3",
        .method = "POST",
        .path = "/",
        .query = q,
        .n_query = 1,
        .headers = headers,
        .n_headers = 2,
        .body = body.data,
        .body_len = body.len,
        .idempotent = true,
        .bucket = bucket,
    };
    sf_http_resp resp;
    int rc = sf_aws_client_send(c, ctx, &call, &resp, err);
    if (rc == 0) rc = sf_aws_s3_delete_errors(&resp, err);
    sf_http_resp_clear(&resp);
    free(md5_b64);
    sf_buf_free(&body);
    return rc;
}

int sf_aws_s3_delete(sf_aws_client *c, sf_ctx *ctx, const char *bucket, const char *const *keys, size_t n,
                     sf_aws_error *err)
{
    for (size_t i = 0; i < n; i += DELETE_BATCH) {
        size_t k = n - i < DELETE_BATCH ? n - i : DELETE_BATCH;
        if (delete_batch(c, ctx, bucket, keys + i, k, err) != 0) return -1;
    }
    return 0;
}

int sf_aws_s3_delete_prefix(sf_aws_client *c, sf_ctx *ctx, const char *bucket, const char *prefix, size_t *deleted,
                            sf_aws_error *err)
{
    if (deleted) *deleted = 0;
    sf_aws_s3_listing l;
    if (sf_aws_s3_list(c, ctx, bucket, prefix, &l, err) != 0) return -1;
    const char **keys = calloc(l.n + 1, sizeof *keys);
    if (!keys) abort();
    for (size_t i = 0; i < l.n; i++) keys[i] = l.items[i].key;
    int rc = l.n ? sf_aws_s3_delete(c, ctx, bucket, keys, l.n, err) : 0;
    if (rc == 0 && deleted) *deleted = l.n;
    free(keys);
    sf_aws_s3_listing_clear(&l);
    return rc;
}

/* CopyObject copies at most 5 GiB; bigger objects are copied in parts
 * (UploadPartCopy), 512 MiB each (S3 allows 10,000 parts: 5 TB). */
#define COPY_SINGLE_MAX (5LL << 30)
#define COPY_PART_SIZE (512LL << 20)
#define PART_MIN (5LL << 20)

/* SPARKFLOW_AWS_S3_COPY_PART_BYTES: copy in parts of that size objects
 * bigger than it (tests use a few MiB; S3 wants parts of 5 MiB or more). */
static void copy_limits(int64_t *single_max, int64_t *part)
{
    *single_max = COPY_SINGLE_MAX;
    *part = COPY_PART_SIZE;
    const char *v = getenv("SPARKFLOW_AWS_S3_COPY_PART_BYTES");
    long long n = v ? atoll(v) : 0;
    if (n >= PART_MIN) *single_max = *part = n;
}

/* The answer of a copy can be a 200 whose body is an error. */
int sf_aws_s3_body_error(int rc, const sf_http_resp *resp, const char *operation, sf_aws_error *err)
{
    if (rc == 0 && resp->body.len && strstr(resp->body.data, "<Error>")) {
        sf_aws_error_clear(err);
        err->operation = sf_strdup(operation);
        sf_aws_xml_error(resp, err);
        return -1;
    }
    return rc;
}

/* One element's text from an XML answer; NULL (with *err) when absent. */
char *sf_aws_s3_answer_text(const sf_http_resp *resp, const char *operation, const char *element, sf_aws_error *err)
{
    xmlDoc *doc = sf_aws_xml_parse(resp->body.data, resp->body.len);
    char *text = doc ? sf_aws_xml_text(sf_aws_xml_root(doc), element) : NULL;
    if (doc) sf_aws_xml_free(doc);
    if (!text) {
        sf_aws_error_clear(err);
        err->operation = sf_strdup(operation);
        err->message = sf_fmt("the answer has no %s", element);
    }
    return text;
}

static int copy_single(sf_aws_client *c, sf_ctx *ctx, const char *bucket, char *source, const char *path,
                       sf_aws_error *err)
{
    sf_header headers[] = {{"x-amz-copy-source", source}};
    sf_aws_call call = {
        .operation = "CopyObject",
        .service = "s3",
        .method = "PUT",
        .path = path,
        .headers = headers,
        .n_headers = 1,
        .idempotent = true,
        .bucket = bucket,
    };
    sf_http_resp resp;
    int rc = sf_aws_s3_body_error(sf_aws_client_send(c, ctx, &call, &resp, err), &resp, "CopyObject", err);
    sf_http_resp_clear(&resp);
    return rc;
}

/* UploadPartCopy of bytes [from, to] as part `n`; its ETag into *etag. */
static int copy_part(sf_aws_client *c, sf_ctx *ctx, const char *bucket, char *source, const char *path,
                     const char *upload_id, int n, int64_t from, int64_t to, char **etag, sf_aws_error *err)
{
    char number[16], range[64];
    snprintf(number, sizeof number, "%d", n);
    snprintf(range, sizeof range, "bytes=%lld-%lld", (long long)from, (long long)to);
    sf_aws_param q[] = {{"partNumber", number}, {"uploadId", upload_id}};
    sf_header h[] = {{"x-amz-copy-source", source}, {"x-amz-copy-source-range", range}};
    sf_aws_call call = {
        .operation = "UploadPartCopy",
        .service = "s3",
        .method = "PUT",
        .path = path,
        .query = q,
        .n_query = 2,
        .headers = h,
        .n_headers = 2,
        .idempotent = true,
        .bucket = bucket,
    };
    sf_http_resp resp;
    int rc = sf_aws_s3_body_error(sf_aws_client_send(c, ctx, &call, &resp, err), &resp, "UploadPartCopy", err);
    if (rc == 0 && !(*etag = sf_aws_s3_answer_text(&resp, "UploadPartCopy", "ETag", err))) rc = -1;
    sf_http_resp_clear(&resp);
    return rc;
}

/* Sent even when the copy failed because the operation was stopped: an
 * upload left open is storage S3 bills for. */
static void abort_upload(sf_aws_client *c, const sf_ctx *op, const char *bucket, const char *path,
                         const char *upload_id)
{
    sf_ctx *ctx = sf_ctx_new_cleanup(op, 30 * 1000);
    sf_aws_param q[] = {{"uploadId", upload_id}};
    sf_aws_call call = {
        .operation = "AbortMultipartUpload",
        .service = "s3",
        .method = "DELETE",
        .path = path,
        .query = q,
        .n_query = 1,
        .idempotent = true,
        .bucket = bucket,
    };
    sf_http_resp resp;
    sf_aws_error err = {0};
    if (sf_aws_client_send(c, ctx, &call, &resp, &err) != 0) {
        char *t = sf_aws_error_text(&err);
        sf_log(ctx, SF_LOG_WARN, "s3: cannot abort the multipart copy %s: %s", upload_id, t);
        free(t);
    }
    sf_aws_error_clear(&err);
    sf_http_resp_clear(&resp);
    sf_ctx_free(ctx);
}

static int copy_multipart(sf_aws_client *c, sf_ctx *ctx, const char *bucket, char *source, const char *path,
                          int64_t size, int64_t part_size, sf_aws_error *err)
{
    sf_aws_param uploads[] = {{"uploads", ""}};
    sf_aws_call start = {
        .operation = "CreateMultipartUpload",
        .service = "s3",
        .method = "POST",
        .path = path,
        .query = uploads,
        .n_query = 1,
        .bucket = bucket,
    };
    sf_http_resp resp;
    int rc = sf_aws_client_send(c, ctx, &start, &resp, err);
    char *upload_id = rc == 0 ? sf_aws_s3_answer_text(&resp, "CreateMultipartUpload", "UploadId", err) : NULL;
    sf_http_resp_clear(&resp);
    if (!upload_id) return -1;

    sf_buf done = {0};
    sf_buf_printf(&done, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    rc = 0;
    int n = 0;
    for (int64_t from = 0; rc == 0 && from < size; from += part_size) {
        int64_t to = from + part_size < size ? from + part_size - 1 : size - 1;
        char *etag = NULL;
        rc = copy_part(c, ctx, bucket, source, path, upload_id, ++n, from, to, &etag, err);
        if (rc == 0) sf_buf_printf(&done, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", n, etag);
        free(etag);
    }
    sf_buf_printf(&done, "</CompleteMultipartUpload>");
    if (rc == 0) {
        sf_aws_param q[] = {{"uploadId", upload_id}};
        sf_header h[] = {{"Content-Type", "application/xml"}};
        sf_aws_call complete = {
            .operation = "CompleteMultipartUpload",
            .service = "s3",
            .method = "POST",
            .path = path,
            .query = q,
            .n_query = 1,
            .headers = h,
            .n_headers = 1,
            .body = done.data,
            .body_len = done.len,
            .bucket = bucket,
        };
        rc = sf_aws_s3_body_error(sf_aws_client_send(c, ctx, &complete, &resp, err), &resp, "CompleteMultipartUpload",
                                  err);
        sf_http_resp_clear(&resp);
    }
    if (rc != 0) abort_upload(c, ctx, bucket, path, upload_id);
    else sf_log(ctx, SF_LOG_DEBUG, "s3: copied %lld bytes in %d parts", (long long)size, n);
    sf_buf_free(&done);
    free(upload_id);
    return rc;
}

int sf_aws_s3_copy(sf_aws_client *c, sf_ctx *ctx, const char *bucket, const char *src_key, const char *dst_key,
                   int64_t size, sf_aws_error *err)
{
    char *path = key_path(dst_key);
    char *src = sf_aws_uri_encode(src_key, strlen(src_key), true);
    char *source = sf_fmt("/%s/%s", bucket, src);
    int64_t single_max, part;
    copy_limits(&single_max, &part);
    int rc = size > single_max ? copy_multipart(c, ctx, bucket, source, path, size, part, err)
                               : copy_single(c, ctx, bucket, source, path, err);
    free(source);
    free(src);
    free(path);
    return rc;
}
