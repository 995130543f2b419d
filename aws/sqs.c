/* sqs.c — SQS queues (query protocol, XML answers): the queue an S3 bucket
 * notification feeds so that an Airflow host starts a run when input lands. */
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"

#define SQS_VERSION "2012-11-05"

static bool no_queue(const sf_aws_error *e)
{
    return sf_aws_error_is(e, "AWS.SimpleQueueService.NonExistentQueue") || sf_aws_error_is(e, "QueueDoesNotExist");
}

static int sqs_call(sf_aws_client *c, sf_ctx *ctx, const char *op, sf_aws_params *p, xmlDoc **doc, sf_aws_error *err)
{
    int rc = sf_aws_query_call(c, ctx, "sqs", SQS_VERSION, op, p->items, p->n, true, false, doc, err);
    sf_aws_params_clear(p);
    return rc;
}

static void add_attrs(sf_aws_params *p, const sf_header *attrs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sf_aws_params_addf(p, attrs[i].name, "Attribute.%zu.Name", i + 1);
        sf_aws_params_addf(p, attrs[i].value, "Attribute.%zu.Value", i + 1);
    }
}

int sf_aws_sqs_create_queue(sf_aws_client *c, sf_ctx *ctx, const char *name, const sf_header *attrs, size_t n,
                            char **url, sf_aws_error *err)
{
    *url = NULL;
    sf_aws_params p = {0};
    sf_aws_params_add(&p, "QueueName", name);
    add_attrs(&p, attrs, n);
    xmlDoc *doc = NULL;
    int rc = sqs_call(c, ctx, "CreateQueue", &p, &doc, err);
    if (rc == 0) *url = sf_aws_xml_text(sf_aws_xml_root(doc), "QueueUrl");
    sf_aws_xml_free(doc);
    return rc;
}

int sf_aws_sqs_get_queue_url(sf_aws_client *c, sf_ctx *ctx, const char *name, char **url, sf_aws_error *err)
{
    *url = NULL;
    sf_aws_params p = {0};
    sf_aws_params_add(&p, "QueueName", name);
    xmlDoc *doc = NULL;
    int rc = sqs_call(c, ctx, "GetQueueUrl", &p, &doc, err);
    if (rc == 0) *url = sf_aws_xml_text(sf_aws_xml_root(doc), "QueueUrl");
    sf_aws_xml_free(doc);
    if (rc != 0) return no_queue(err) ? 1 : -1;
    return *url ? 0 : 1;
}

int sf_aws_sqs_get_queue_attribute(sf_aws_client *c, sf_ctx *ctx, const char *url, const char *name, char **value,
                                   sf_aws_error *err)
{
    *value = NULL;
    sf_aws_params p = {0};
    sf_aws_params_add(&p, "QueueUrl", url);
    sf_aws_params_add(&p, "AttributeName.1", name);
    xmlDoc *doc = NULL;
    int rc = sqs_call(c, ctx, "GetQueueAttributes", &p, &doc, err);
    if (rc == 0) {
        xmlNode *result = sf_aws_xml_find(sf_aws_xml_root(doc), "GetQueueAttributesResult");
        for (xmlNode *a = sf_aws_xml_next(result, NULL, "Attribute"); a && !*value;
             a = sf_aws_xml_next(result, a, "Attribute")) {
            char *n = sf_aws_xml_text(a, "Name");
            if (n && strcmp(n, name) == 0) *value = sf_aws_xml_text(a, "Value");
            free(n);
        }
        if (!*value) {
            err->operation = sf_strdup("GetQueueAttributes");
            err->message = sf_fmt("the answer holds no %s", name);
            rc = -1;
        }
    }
    sf_aws_xml_free(doc);
    return rc;
}

int sf_aws_sqs_set_queue_attributes(sf_aws_client *c, sf_ctx *ctx, const char *url, const sf_header *attrs, size_t n,
                                    sf_aws_error *err)
{
    sf_aws_params p = {0};
    sf_aws_params_add(&p, "QueueUrl", url);
    add_attrs(&p, attrs, n);
    xmlDoc *doc = NULL;
    int rc = sqs_call(c, ctx, "SetQueueAttributes", &p, &doc, err);
    sf_aws_xml_free(doc);
    return rc;
}

int sf_aws_sqs_delete_queue(sf_aws_client *c, sf_ctx *ctx, const char *url, sf_aws_error *err)
{
    sf_aws_params p = {0};
    sf_aws_params_add(&p, "QueueUrl", url);
    xmlDoc *doc = NULL;
    int rc = sqs_call(c, ctx, "DeleteQueue", &p, &doc, err);
    sf_aws_xml_free(doc);
    if (rc != 0 && no_queue(err)) return 1;
    return rc;
}
