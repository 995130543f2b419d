/* ec2.c — the EC2 calls the Airflow host needs (query protocol, XML
 * answers): one instance started hardened (IMDSv2, encrypted root volume,
 * shutdown = terminate), looked at, terminated, found by its tags; its
 * security group; its console output for diagnostics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"

#define EC2_VERSION "2016-11-15"

static int ec2_call(sf_aws_client *c, sf_ctx *ctx, const char *op, const sf_aws_params *p, bool idempotent,
                    xmlDoc **doc, sf_aws_error *err)
{
    return sf_aws_query_call(c, ctx, "ec2", EC2_VERSION, op, p->items, p->n, idempotent, false, doc, err);
}

/* The text of a direct child element of `node`, or NULL. */
static char *child_text(xmlNode *node, const char *name)
{
    xmlNode *n = node ? sf_aws_xml_next(node, NULL, name) : NULL;
    return n ? sf_aws_xml_text(n, "") : NULL;
}

static bool code_starts(const sf_aws_error *e, const char *prefix)
{
    return e->code && strncmp(e->code, prefix, strlen(prefix)) == 0;
}

/* TagSpecification.<spec> of `type`: tags, then more (either may be empty). */
static void add_tags2(sf_aws_params *p, int spec, const char *type, const sf_header *tags, size_t n,
                      const sf_header *more, size_t n_more)
{
    if (!n && !n_more) return;
    sf_aws_params_addf(p, type, "TagSpecification.%d.ResourceType", spec);
    for (size_t i = 0; i < n + n_more; i++) {
        const sf_header *t = i < n ? &tags[i] : &more[i - n];
        sf_aws_params_addf(p, t->name, "TagSpecification.%d.Tag.%zu.Key", spec, i + 1);
        sf_aws_params_addf(p, t->value, "TagSpecification.%d.Tag.%zu.Value", spec, i + 1);
    }
}

static void add_tags(sf_aws_params *p, int spec, const char *type, const sf_header *tags, size_t n)
{
    add_tags2(p, spec, type, tags, n, NULL, 0);
}

int sf_aws_ec2_run_instance(sf_aws_client *c, sf_ctx *ctx, const sf_aws_ec2_run *r, char **instance_id,
                            sf_aws_error *err)
{
    *instance_id = NULL;
    sf_aws_params p = {0};
    char size[32];
    snprintf(size, sizeof size, "%lld", (long long)r->root_volume_gb);
    char *user_data = sf_aws_base64(r->user_data, strlen(r->user_data));
    sf_aws_params_add(&p, "ImageId", r->image_id);
    sf_aws_params_add(&p, "InstanceType", r->instance_type);
    sf_aws_params_add(&p, "MinCount", "1");
    sf_aws_params_add(&p, "MaxCount", "1");
    sf_aws_params_add(&p, "SubnetId", r->subnet_id);
    sf_aws_params_add(&p, "IamInstanceProfile.Name", r->instance_profile);
    for (size_t i = 0; i < r->n_security_groups; i++)
        sf_aws_params_addf(&p, r->security_group_ids[i], "SecurityGroupId.%zu", i + 1);
    sf_aws_params_add(&p, "BlockDeviceMapping.1.DeviceName", r->root_device_name);
    sf_aws_params_add(&p, "BlockDeviceMapping.1.Ebs.VolumeSize", size);
    sf_aws_params_add(&p, "BlockDeviceMapping.1.Ebs.VolumeType", "gp3");
    sf_aws_params_add(&p, "BlockDeviceMapping.1.Ebs.Encrypted", "true");
    sf_aws_params_add(&p, "BlockDeviceMapping.1.Ebs.DeleteOnTermination", "true");
    sf_aws_params_add(&p, "InstanceInitiatedShutdownBehavior", "terminate");
    sf_aws_params_add(&p, "MetadataOptions.HttpTokens", "required");
    sf_aws_params_add(&p, "MetadataOptions.HttpEndpoint", "enabled");
    /* 2 hops: the containers reach IMDSv2 through the docker bridge. */
    sf_aws_params_add(&p, "MetadataOptions.HttpPutResponseHopLimit", "2");
    sf_aws_params_add(&p, "UserData", user_data);
    sf_aws_params_add(&p, "ClientToken", r->client_token);
    add_tags2(&p, 1, "instance", r->tags, r->n_tags, r->instance_tags, r->n_instance_tags);
    add_tags(&p, 2, "volume", r->tags, r->n_tags);
    xmlDoc *doc = NULL;
    /* The client token makes a repeated call return the same instance. */
    int rc = ec2_call(c, ctx, "RunInstances", &p, r->client_token != NULL, &doc, err);
    if (rc == 0) {
        *instance_id = sf_aws_xml_text(sf_aws_xml_root(doc), "instancesSet/item/instanceId");
        if (!*instance_id) {
            err->operation = sf_strdup("RunInstances");
            err->message = sf_strdup("the answer names no instance");
            rc = -1;
        }
    }
    sf_aws_xml_free(doc);
    sf_aws_params_clear(&p);
    free(user_data);
    return rc;
}

void sf_aws_ec2_instance_clear(sf_aws_ec2_instance *i)
{
    if (!i) return;
    char **s[] = {&i->id,          &i->state,        &i->public_ip,    &i->private_ip,
                  &i->launch_time, &i->state_reason, &i->instance_type};
    for (size_t k = 0; k < sizeof s / sizeof *s; k++) free(*s[k]);
    for (size_t k = 0; k < i->n_tags; k++) {
        free(i->tags[k].name);
        free(i->tags[k].value);
    }
    free(i->tags);
    *i = (sf_aws_ec2_instance){0};
}

const char *sf_aws_ec2_instance_tag(const sf_aws_ec2_instance *i, const char *key)
{
    for (size_t k = 0; k < i->n_tags; k++)
        if (strcmp(i->tags[k].name, key) == 0) return i->tags[k].value;
    return NULL;
}

static void read_tags(xmlNode *item, sf_aws_ec2_instance *out)
{
    xmlNode *set = sf_aws_xml_next(item, NULL, "tagSet");
    size_t n = 0;
    for (xmlNode *t = sf_aws_xml_next(set, NULL, "item"); t; t = sf_aws_xml_next(set, t, "item")) n++;
    out->tags = calloc(n + 1, sizeof *out->tags);
    if (!out->tags) abort();
    for (xmlNode *t = sf_aws_xml_next(set, NULL, "item"); t; t = sf_aws_xml_next(set, t, "item")) {
        char *k = child_text(t, "key"), *v = child_text(t, "value");
        if (k) out->tags[out->n_tags++] = (sf_header){k, v ? v : sf_strdup("")};
        else free(v);
    }
}

/* One instancesSet item of a DescribeInstances answer. */
static void read_instance(xmlNode *item, sf_aws_ec2_instance *out)
{
    *out = (sf_aws_ec2_instance){0};
    out->id = child_text(item, "instanceId");
    xmlNode *state = sf_aws_xml_next(item, NULL, "instanceState");
    out->state = child_text(state, "name");
    out->public_ip = child_text(item, "ipAddress");
    out->private_ip = child_text(item, "privateIpAddress");
    out->launch_time = child_text(item, "launchTime");
    out->instance_type = child_text(item, "instanceType");
    out->state_reason = child_text(sf_aws_xml_next(item, NULL, "stateReason"), "message");
    read_tags(item, out);
}

int sf_aws_ec2_describe_instance(sf_aws_client *c, sf_ctx *ctx, const char *id, sf_aws_ec2_instance *out,
                                 sf_aws_error *err)
{
    *out = (sf_aws_ec2_instance){0};
    sf_aws_params p = {0};
    sf_aws_params_add(&p, "InstanceId.1", id);
    xmlDoc *doc = NULL;
    int rc = ec2_call(c, ctx, "DescribeInstances", &p, true, &doc, err);
    sf_aws_params_clear(&p);
    if (rc != 0) return code_starts(err, "InvalidInstanceID") ? 1 : -1;
    xmlNode *item = sf_aws_xml_find(sf_aws_xml_root(doc), "reservationSet/item/instancesSet/item");
    if (item) read_instance(item, out);
    sf_aws_xml_free(doc);
    return item ? 0 : 1;
}

/* Every instance of one DescribeInstances page, handed to `each`.  Returns
 * false when it wants no more. */
static bool each_of_page(xmlDoc *doc, sf_aws_ec2_instance_fn each, void *arg)
{
    xmlNode *set = sf_aws_xml_next(sf_aws_xml_root(doc), NULL, "reservationSet");
    for (xmlNode *r = sf_aws_xml_next(set, NULL, "item"); r; r = sf_aws_xml_next(set, r, "item")) {
        xmlNode *instances = sf_aws_xml_next(r, NULL, "instancesSet");
        for (xmlNode *i = sf_aws_xml_next(instances, NULL, "item"); i; i = sf_aws_xml_next(instances, i, "item")) {
            sf_aws_ec2_instance inst;
            read_instance(i, &inst);
            bool more = each(arg, &inst);
            sf_aws_ec2_instance_clear(&inst);
            if (!more) return false;
        }
    }
    return true;
}

int sf_aws_ec2_describe_instances(sf_aws_client *c, sf_ctx *ctx, const sf_aws_ec2_filter *filters, size_t n_filters,
                                  sf_aws_ec2_instance_fn each, void *arg, sf_aws_error *err)
{
    char *token = NULL;
    int rc = 0;
    do {
        sf_aws_params p = {0};
        for (size_t f = 0; f < n_filters; f++) {
            sf_aws_params_addf(&p, filters[f].name, "Filter.%zu.Name", f + 1);
            for (size_t v = 0; v < filters[f].n_values; v++)
                sf_aws_params_addf(&p, filters[f].values[v], "Filter.%zu.Value.%zu", f + 1, v + 1);
        }
        if (token) sf_aws_params_add(&p, "NextToken", token);
        free(token);
        token = NULL;
        xmlDoc *doc = NULL;
        rc = ec2_call(c, ctx, "DescribeInstances", &p, true, &doc, err);
        sf_aws_params_clear(&p);
        if (rc == 0 && each_of_page(doc, each, arg)) {
            token = child_text(sf_aws_xml_root(doc), "nextToken");
            if (token && !*token) {
                free(token);
                token = NULL;
            }
        }
        sf_aws_xml_free(doc);
    } while (token);
    return rc;
}

int sf_aws_ec2_terminate_instance(sf_aws_client *c, sf_ctx *ctx, const char *id, sf_aws_error *err)
{
    sf_aws_params p = {0};
    sf_aws_params_add(&p, "InstanceId.1", id);
    xmlDoc *doc = NULL;
    int rc = ec2_call(c, ctx, "TerminateInstances", &p, true, &doc, err);
    sf_aws_params_clear(&p);
    sf_aws_xml_free(doc);
    if (rc != 0 && code_starts(err, "InvalidInstanceID")) {
        sf_aws_error_clear(err);
        rc = 0;
    }
    return rc;
}

/* Whether a console text is printable (not base64 of something else). */
static bool printable(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 && s[i] != '\n' && s[i] != '\r' && s[i] != '\t' && s[i] != 0x1b) return false;
    return true;
}

int sf_aws_ec2_console_output(sf_aws_client *c, sf_ctx *ctx, const char *id, char **text, sf_aws_error *err)
{
    *text = NULL;
    sf_aws_params p = {0};
    sf_aws_params_add(&p, "InstanceId", id);
    sf_aws_params_add(&p, "Latest", "true");
    xmlDoc *doc = NULL;
    int rc = ec2_call(c, ctx, "GetConsoleOutput", &p, true, &doc, err);
    sf_aws_params_clear(&p);
    if (rc == 0) {
        char *raw = sf_aws_xml_text(sf_aws_xml_root(doc), "output");
        size_t n = 0;
        unsigned char *dec = raw && *raw ? sf_aws_unbase64(raw, &n) : NULL;
        if (dec && printable(dec, n)) { /* AWS: base64; moto: plain text */
            free(raw);
            raw = sf_strndup((const char *)dec, n);
        }
        free(dec);
        *text = raw ? raw : sf_strdup("");
    }
    sf_aws_xml_free(doc);
    return rc;
}

int sf_aws_ec2_image_root_device(sf_aws_client *c, sf_ctx *ctx, const char *image_id, char **device, sf_aws_error *err)
{
    *device = NULL;
    sf_aws_params p = {0};
    sf_aws_params_add(&p, "ImageId.1", image_id);
    xmlDoc *doc = NULL;
    int rc = ec2_call(c, ctx, "DescribeImages", &p, true, &doc, err);
    sf_aws_params_clear(&p);
    if (rc != 0) return code_starts(err, "InvalidAMIID") ? 1 : -1;
    *device = sf_aws_xml_text(sf_aws_xml_root(doc), "imagesSet/item/rootDeviceName");
    sf_aws_xml_free(doc);
    return *device ? 0 : 1;
}

int sf_aws_ec2_subnet_vpc(sf_aws_client *c, sf_ctx *ctx, const char *subnet_id, char **vpc_id, sf_aws_error *err)
{
    *vpc_id = NULL;
    sf_aws_params p = {0};
    sf_aws_params_add(&p, "SubnetId.1", subnet_id);
    xmlDoc *doc = NULL;
    int rc = ec2_call(c, ctx, "DescribeSubnets", &p, true, &doc, err);
    sf_aws_params_clear(&p);
    if (rc != 0) return code_starts(err, "InvalidSubnetID") ? 1 : -1;
    *vpc_id = sf_aws_xml_text(sf_aws_xml_root(doc), "subnetSet/item/vpcId");
    sf_aws_xml_free(doc);
    return *vpc_id ? 0 : 1;
}

int sf_aws_ec2_create_security_group(sf_aws_client *c, sf_ctx *ctx, const char *name, const char *description,
                                     const char *vpc_id, const sf_header *tags, size_t n_tags, char **group_id,
                                     sf_aws_error *err)
{
    *group_id = NULL;
    sf_aws_params p = {0};
    sf_aws_params_add(&p, "GroupName", name);
    sf_aws_params_add(&p, "GroupDescription", description);
    sf_aws_params_add(&p, "VpcId", vpc_id);
    add_tags(&p, 1, "security-group", tags, n_tags);
    xmlDoc *doc = NULL;
    /* Not idempotent, but a repeat fails (InvalidGroup.Duplicate): never two groups. */
    int rc = ec2_call(c, ctx, "CreateSecurityGroup", &p, false, &doc, err);
    sf_aws_params_clear(&p);
    if (rc == 0) *group_id = sf_aws_xml_text(sf_aws_xml_root(doc), "groupId");
    sf_aws_xml_free(doc);
    return rc;
}

static void ingress_params(sf_aws_params *p, const char *group_id, int port, const char *const *cidrs, size_t n,
                           bool describe)
{
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%d", port);
    sf_aws_params_add(p, "GroupId", group_id);
    sf_aws_params_add(p, "IpPermissions.1.IpProtocol", "tcp");
    sf_aws_params_add(p, "IpPermissions.1.FromPort", port_s);
    sf_aws_params_add(p, "IpPermissions.1.ToPort", port_s);
    for (size_t i = 0; i < n; i++) {
        sf_aws_params_addf(p, cidrs[i], "IpPermissions.1.IpRanges.%zu.CidrIp", i + 1);
        if (describe) sf_aws_params_addf(p, "Airflow API and UI", "IpPermissions.1.IpRanges.%zu.Description", i + 1);
    }
}

int sf_aws_ec2_revoke_ingress(sf_aws_client *c, sf_ctx *ctx, const char *group_id, int port, const char *const *cidrs,
                              size_t n, sf_aws_error *err)
{
    sf_aws_params p = {0};
    ingress_params(&p, group_id, port, cidrs, n, false);
    xmlDoc *doc = NULL;
    int rc = ec2_call(c, ctx, "RevokeSecurityGroupIngress", &p, true, &doc, err);
    if (rc != 0 && sf_aws_error_is(err, "InvalidPermission.NotFound")) {
        sf_aws_error_clear(err);
        rc = 0;
    }
    sf_aws_params_clear(&p);
    sf_aws_xml_free(doc);
    return rc;
}

int sf_aws_ec2_create_tags(sf_aws_client *c, sf_ctx *ctx, const char *id, const sf_header *tags, size_t n,
                           sf_aws_error *err)
{
    sf_aws_params p = {0};
    sf_aws_params_add(&p, "ResourceId.1", id);
    for (size_t i = 0; i < n; i++) {
        sf_aws_params_addf(&p, tags[i].name, "Tag.%zu.Key", i + 1);
        sf_aws_params_addf(&p, tags[i].value, "Tag.%zu.Value", i + 1);
    }
    xmlDoc *doc = NULL;
    int rc = ec2_call(c, ctx, "CreateTags", &p, true, &doc, err);
    sf_aws_params_clear(&p);
    sf_aws_xml_free(doc);
    return rc;
}

int sf_aws_ec2_authorize_ingress(sf_aws_client *c, sf_ctx *ctx, const char *group_id, int port,
                                 const char *const *cidrs, size_t n, sf_aws_error *err)
{
    sf_aws_params p = {0};
    ingress_params(&p, group_id, port, cidrs, n, true);
    xmlDoc *doc = NULL;
    int rc = ec2_call(c, ctx, "AuthorizeSecurityGroupIngress", &p, true, &doc, err);
    if (rc != 0 && sf_aws_error_is(err, "InvalidPermission.Duplicate")) {
        sf_aws_error_clear(err);
        rc = 0;
    }
    sf_aws_params_clear(&p);
    sf_aws_xml_free(doc);
    return rc;
}

int sf_aws_ec2_delete_security_group(sf_aws_client *c, sf_ctx *ctx, const char *group_id, sf_aws_error *err)
{
    sf_aws_params p = {0};
    sf_aws_params_add(&p, "GroupId", group_id);
    xmlDoc *doc = NULL;
    int rc = ec2_call(c, ctx, "DeleteSecurityGroup", &p, true, &doc, err);
    sf_aws_params_clear(&p);
    sf_aws_xml_free(doc);
    if (rc != 0 && code_starts(err, "InvalidGroup.NotFound")) return 1;
    return rc;
}

int sf_aws_ec2_security_group_exists(sf_aws_client *c, sf_ctx *ctx, const char *group_id, sf_aws_error *err)
{
    sf_aws_params p = {0};
    sf_aws_params_add(&p, "GroupId.1", group_id);
    xmlDoc *doc = NULL;
    int rc = ec2_call(c, ctx, "DescribeSecurityGroups", &p, true, &doc, err);
    sf_aws_params_clear(&p);
    if (rc != 0) return code_starts(err, "InvalidGroup") ? 1 : -1;
    bool found = sf_aws_xml_find(sf_aws_xml_root(doc), "securityGroupInfo/item") != NULL;
    sf_aws_xml_free(doc);
    return found ? 0 : 1;
}

int sf_aws_ec2_find_security_group(sf_aws_client *c, sf_ctx *ctx, const char *name, const char *vpc_id, char **group_id,
                                   sf_aws_error *err)
{
    *group_id = NULL;
    sf_aws_params p = {0};
    sf_aws_params_add(&p, "Filter.1.Name", "group-name");
    sf_aws_params_add(&p, "Filter.1.Value.1", name);
    if (vpc_id) {
        sf_aws_params_add(&p, "Filter.2.Name", "vpc-id");
        sf_aws_params_add(&p, "Filter.2.Value.1", vpc_id);
    }
    xmlDoc *doc = NULL;
    int rc = ec2_call(c, ctx, "DescribeSecurityGroups", &p, true, &doc, err);
    sf_aws_params_clear(&p);
    if (rc == 0) *group_id = sf_aws_xml_text(sf_aws_xml_root(doc), "securityGroupInfo/item/groupId");
    sf_aws_xml_free(doc);
    if (rc != 0) return -1;
    return *group_id ? 0 : 1;
}
