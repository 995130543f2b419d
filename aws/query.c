/* query.c — the AWS query protocol (STS, EC2) and the XML it answers with.
 *
 * A request is a form-encoded POST (Action, Version, parameters); the answer
 * and the errors are XML.  The XML helpers here are shared with S3: they
 * find elements by local name, ignoring namespaces, and parse with no
 * network access and no entity expansion.
 */
#include "aws/aws.h"

#include <libxml/parser.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xml_api.h"

xmlDoc *sf_aws_xml_parse(const char *data, size_t len)
{
    const sf_xml_api *xml = sf_xml_api_get(NULL);
    if (!xml || !data || !len) return NULL;
    return xml->read_memory(data, (int)len, "aws.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

void sf_aws_xml_free(xmlDoc *doc)
{
    if (doc) sf_xml_api_get(NULL)->free_doc(doc); /* loaded: doc was parsed */
}

xmlNode *sf_aws_xml_root(xmlDoc *doc)
{
    return doc ? sf_xml_api_get(NULL)->doc_get_root_element(doc) : NULL;
}

xmlNode *sf_aws_xml_next(xmlNode *parent, xmlNode *node, const char *name)
{
    for (xmlNode *n = node ? node->next : parent ? parent->children : NULL; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0) return n;
    return NULL;
}

/* Depth-first search for the first element named `name` under node. */
static xmlNode *descendant(xmlNode *node, const char *name, size_t len)
{
    for (xmlNode *n = node ? node->children : NULL; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        if (strlen((const char *)n->name) == len && strncmp((const char *)n->name, name, len) == 0) return n;
        xmlNode *d = descendant(n, name, len);
        if (d) return d;
    }
    return NULL;
}

xmlNode *sf_aws_xml_find(xmlNode *node, const char *path)
{
    while (node && *path) {
        size_t len = strcspn(path, "/");
        node = descendant(node, path, len);
        path += len;
        if (*path == '/') path++;
    }
    return node;
}

char *sf_aws_xml_text(xmlNode *node, const char *path)
{
    xmlNode *n = sf_aws_xml_find(node, path);
    if (!n) return NULL;
    const sf_xml_api *xml = sf_xml_api_get(NULL); /* loaded: n is from a parsed doc */
    xmlChar *c = xml->node_get_content(n);
    char *s = sf_strdup(c ? (const char *)c : "");
    xml->free_mem(c);
    return s;
}

void sf_aws_xml_error(const sf_http_resp *resp, sf_aws_error *err)
{
    xmlDoc *doc = sf_aws_xml_parse(resp->body.data, resp->body.len);
    if (!doc) return;
    /* A document node has the root as its child: search from the document. */
    xmlNode *root = (xmlNode *)doc;
    char *code = sf_aws_xml_text(root, "Code"), *msg = sf_aws_xml_text(root, "Message");
    char *id = sf_aws_xml_text(root, "RequestId");
    if (!id) id = sf_aws_xml_text(root, "RequestID");
    if (code) {
        free(err->code);
        err->code = code;
    }
    if (msg) {
        free(err->message);
        err->message = msg;
    }
    if (id) {
        free(err->request_id);
        err->request_id = id;
    }
    sf_aws_xml_free(doc);
}

/* A form value: percent-encoded as SigV4 wants, but a space as '+', as the
 * SDKs (urlencode) send it; AWS reads both, and moto checks signatures over
 * the form it re-encodes that way. */
static char *form_encode(const char *v)
{
    char *e = sf_aws_uri_encode(v, strlen(v), false);
    char *w = e;
    for (const char *r = e; *r; r++) {
        if (r[0] == '%' && r[1] == '2' && r[2] == '0') {
            *w++ = '+';
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = 0;
    return e;
}

static char *form_body(const char *operation, const char *version, const sf_aws_param *params, size_t n)
{
    sf_buf b = {0};
    sf_buf_printf(&b, "Action=%s&Version=%s", operation, version);
    for (size_t i = 0; i < n; i++) {
        const char *v = params[i].value ? params[i].value : "";
        char *k = form_encode(params[i].key);
        char *e = form_encode(v);
        sf_buf_printf(&b, "&%s=%s", k, e);
        free(k);
        if (e) memset(e, 0, strlen(e)); /* may hold a web identity token */
        free(e);
    }
    return b.data;
}

int sf_aws_query_call(sf_aws_client *c, sf_ctx *ctx, const char *service, const char *version, const char *operation,
                      const sf_aws_param *params, size_t n_params, bool idempotent, bool unsigned_request, xmlDoc **doc,
                      sf_aws_error *err)
{
    *doc = NULL;
    char *body = form_body(operation, version, params, n_params);
    sf_header headers[] = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
    sf_aws_call call = {
        .operation = operation,
        .service = service,
        .method = "POST",
        .path = "/",
        .headers = headers,
        .n_headers = 1,
        .body = body,
        .body_len = strlen(body),
        .idempotent = idempotent,
        .unsigned_request = unsigned_request,
    };
    sf_http_resp resp;
    int rc = sf_aws_client_send(c, ctx, &call, &resp, err);
    if (rc == 0) {
        *doc = sf_aws_xml_parse(resp.body.data, resp.body.len);
        if (!*doc) {
            sf_aws_error_clear(err);
            err->operation = sf_strdup(operation);
            err->status = resp.status;
            err->message = sf_strdup("the answer is not valid XML");
            rc = -1;
        }
    }
    sf_http_resp_clear(&resp);
    memset(body, 0, strlen(body));
    free(body);
    return rc;
}

/* ---- sf_aws_params ---------------------------------------------------------- */

void sf_aws_params_add(sf_aws_params *p, const char *key, const char *value)
{
    if (!value) return;
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 16;
        p->items = realloc(p->items, p->cap * sizeof *p->items);
        if (!p->items) abort();
    }
    p->items[p->n++] = (sf_aws_param){sf_strdup(key), sf_strdup(value)};
}

void sf_aws_params_addf(sf_aws_params *p, const char *value, const char *key_fmt, ...)
{
    if (!value) return;
    va_list ap;
    va_start(ap, key_fmt);
    char key[256];
    vsnprintf(key, sizeof key, key_fmt, ap);
    va_end(ap);
    sf_aws_params_add(p, key, value);
}

void sf_aws_params_clear(sf_aws_params *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free((char *)p->items[i].key);
        free((char *)p->items[i].value);
    }
    free(p->items);
    *p = (sf_aws_params){0};
}
