/* spec.c — the `ec2 {}` block of sparkflow_airflow: its schema (the docs
 * are generated from the descriptions), its validators, and the struct the
 * host code reads it into, with the defaults the schema promises. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchestrators/ec2/ec2.h"
#include "provider/timeouts.h"

/* ---- validators -------------------------------------------------------------- */

static void validate_bundle(const sf_value *v, const char *path, sf_diags *d)
{
    const char *s = sf_value_get_str(v);
    char *bucket = NULL, *key = NULL;
    if (s && sf_aws_s3_parse_uri(s, &bucket, &key) != 0)
        sf_diag_error(d, path, "Invalid DAG bundle location",
                      "\"%s\" must be an S3 location such as s3://my-lake/airflow/ (the bucket the instance's "
                      "role may read).",
                      s);
    free(bucket);
    free(key);
}

/* a.b.c.d/n with each part in range. */
static bool is_cidr(const char *s)
{
    unsigned a, b, c, d, n;
    char tail;
    return sscanf(s, "%u.%u.%u.%u/%u%c", &a, &b, &c, &d, &n, &tail) == 5 && a < 256 && b < 256 && c < 256 && d < 256 &&
           n <= 32;
}

static void validate_cidrs(const sf_value *v, const char *path, sf_diags *d)
{
    if (!v || v->kind != SF_VAL_LIST) return;
    for (size_t i = 0; i < v->n; i++) {
        const char *s = sf_value_get_str(v->elems[i]);
        if (s && !is_cidr(s))
            sf_diag_error(d, path, "Invalid CIDR block",
                          "\"%s\" is not an IPv4 CIDR block such as 203.0.113.7/32 (your address) or 10.0.0.0/16.", s);
    }
}

static void validate_port(const sf_value *v, const char *path, sf_diags *d)
{
    int64_t p;
    if (!sf_value_is_null(v) && (sf_value_get_int(v, &p) != 0 || p < 1 || p > 65535))
        sf_diag_error(d, path, "Invalid port", "api_port must be a whole number between 1 and 65535.");
}

static void validate_lifetime(const sf_value *v, const char *path, sf_diags *d)
{
    const char *s = sf_value_get_str(v);
    int64_t ms = 0;
    if (s && (sf_duration_parse(s, &ms) != 0 || ms < 15 * 60000LL || ms > 31LL * 24 * 3600000))
        sf_diag_error(d, path, "Invalid max_lifetime",
                      "\"%s\" is not a lifetime the host accepts: a duration between 15m and 744h (31 days), e.g. "
                      "\"12h\".",
                      s);
}

static void validate_volume(const sf_value *v, const char *path, sf_diags *d)
{
    int64_t gb;
    if (!sf_value_is_null(v) && (sf_value_get_int(v, &gb) != 0 || gb < 20 || gb > 16384))
        sf_diag_error(d, path, "Invalid root volume size",
                      "root_volume_size must be a whole number of GiB between 20 (Docker images need room) and "
                      "16384.");
}

/* ---- schema ------------------------------------------------------------------ */

static const sf_attr_def ec2_attrs[] = {
    {"dag_bundle", "string", SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW,
     "Where the DAG bundle goes, e.g. `s3://my-lake/airflow/`: the provider uploads the DAG factory "
     "(`dags/airflow`), the compose file (`host/docker-compose.yaml`) and, for each pipeline that runs through "
     "this Airflow, its spec (`specs/<pipeline>.json`). The instance syncs it every minute. Put it in the lake's "
     "bucket: a created role may read and write that bucket only.",
     NULL, validate_bundle},
    {"instance_type", "string", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "EC2 instance type. Airflow's four components and Postgres need about 2 GB; the default has 8.", "\"t3.large\""},
    {"ami", "string", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "AMI id. Default: the newest Amazon Linux 2023 (x86_64), from the public SSM parameter "
     "`" SF_EC2_AMI_PARAMETER "` at creation (the state records the id used). The user data needs `dnf`, "
     "`systemd` and the AWS CLI: keep to Amazon Linux 2023."},
    {"subnet_id", "string", SF_ATTR_OPTIONAL,
     "The subnet to start the instance in (a public subnet to reach the UI from your network). Default: the "
     "default VPC's choice."},
    {"allowed_cidrs", "[\"list\",\"string\"]", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "IPv4 CIDR blocks that may reach the API and UI port, e.g. `[\"203.0.113.7/32\"]`. The created security "
     "group admits that port from these only and nothing else; empty (the default) admits nobody. There is no "
     "open default: `0.0.0.0/0` is used only if you write it. Include the address Terraform runs from: apply waits "
     "for the API over the network. Changing it updates the group's rules in place. Ignored when "
     "`security_group_ids` is given.",
     "[]", validate_cidrs},
    {"api_port", "number", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED, "The port of Airflow's API and UI on the instance.",
     "8080", validate_port},
    {"instance_profile", "string", SF_ATTR_OPTIONAL,
     "An existing IAM instance profile for the instance. Default: the provider creates a role and an instance "
     "profile (and deletes them on destroy) whose inline policy allows only the DAG bundle's bucket, EMR steps "
     "on clusters tagged `sparkflow:managed = true`, the SQS queues `sparkflow-*` of its pipelines, logs under "
     "`/sparkflow/`, and reading its own password parameter. A profile you give must allow at least "
     "`ssm:GetParameter` on `/sparkflow/airflow/*` and reading the bundle."},
    {"security_group_ids", "[\"list\",\"string\"]", SF_ATTR_OPTIONAL,
     "Existing security groups for the instance. Default: the provider creates one admitting `api_port` from "
     "`allowed_cidrs` (and deletes it on destroy)."},
    {"max_lifetime", "string", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "Cost guard: the instance powers itself off this long after its first boot (a systemd timer checks every "
     "minute, across reboots) and, being started with shutdown behaviour `terminate`, is terminated; the next "
     "plan shows the Airflow gone and proposes to create it again. Between 15m and 744h.",
     "\"12h\"", validate_lifetime},
    {"root_volume_size", "number", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "Size of the encrypted (gp3) root volume in GiB, deleted with the instance.", "30", validate_volume},
    {"tags", "[\"map\",\"string\"]", SF_ATTR_OPTIONAL,
     "Tags of the instance, its volume and what the provider creates for it, on top of the provider's "
     "`default_tags`, `sparkflow:managed = true` and `Name`. Changing them (or any attribute but "
     "`allowed_cidrs`) replaces the instance."},
    {NULL},
};

const sf_block_def sf_airflow_ec2_block = {
    .description =
        "Run Airflow on one EC2 instance with docker compose (LocalExecutor and Postgres). IMDSv2 is required, "
        "the root volume is encrypted, the password lives in an SSM SecureString parameter only the instance's "
        "role may read (never in the user data). Apply waits until `/api/v2/monitor/health` answers over the "
        "network and reports every component healthy, or fails with the instance's console output and removes "
        "what it created. Uses the provider's AWS settings (endpoints `ec2`, `iam`, `ssm`, `s3`, `sqs`). "
        "Tests only: the environment variable `" SF_EC2_TEST_URL_ENV "` replaces the instance's address in the "
        "health wait and `url` (moto runs no instance).",
    .attrs = ec2_attrs,
};

/* ---- value -> struct --------------------------------------------------------- */

static const sf_value *known(const sf_value *v, const char *name)
{
    const sf_value *a = v && v->kind == SF_VAL_OBJECT ? sf_value_get(v, name) : NULL;
    return sf_value_is_null(a) || sf_value_is_unknown(a) ? NULL : a;
}

sf_value *sf_ec2_spec_resolved(const sf_value *v, const char *ami)
{
    sf_value *out = v && v->kind == SF_VAL_OBJECT ? sf_value_copy(v) : sf_value_object();
    for (size_t i = 0; ec2_attrs[i].name; i++) {
        if (known(out, ec2_attrs[i].name)) continue;
        sf_value *def = sf_schema_attr_default(&ec2_attrs[i]);
        sf_value_put(out, ec2_attrs[i].name, def ? def : sf_value_null());
    }
    if (ami && !known(out, "ami")) sf_value_put(out, "ami", sf_value_string(ami));
    return out;
}

static char *str_of(const sf_value *v, const char *name)
{
    const sf_value *a = known(v, name);
    return a && sf_value_get_str(a) && *sf_value_get_str(a) ? sf_strdup(sf_value_get_str(a)) : NULL;
}

static char **list_of(const sf_value *l, size_t *n)
{
    *n = 0;
    char **out = calloc((l ? l->n : 0) + 1, sizeof *out);
    if (!out) abort();
    for (size_t i = 0; l && i < l->n; i++)
        if (sf_value_get_str(l->elems[i])) out[(*n)++] = sf_strdup(sf_value_get_str(l->elems[i]));
    return out;
}

int sf_ec2_spec_from_value(const sf_value *v, sf_ec2_spec *out, sf_diags *diags)
{
    *out = (sf_ec2_spec){0};
    sf_value *r = sf_ec2_spec_resolved(v, NULL);
    out->instance_type = str_of(r, "instance_type");
    out->ami = str_of(r, "ami");
    out->subnet_id = str_of(r, "subnet_id");
    out->instance_profile = str_of(r, "instance_profile");
    out->dag_bundle = str_of(r, "dag_bundle");
    out->allowed_cidrs = list_of(known(r, "allowed_cidrs"), &out->n_allowed_cidrs);
    out->security_group_ids = list_of(known(r, "security_group_ids"), &out->n_security_group_ids);
    int rc = 0;
    sf_diags found;
    sf_diags_init(&found);
    validate_cidrs(known(r, "allowed_cidrs"), "ec2.allowed_cidrs", &found);
    validate_port(known(r, "api_port"), "ec2.api_port", &found);
    validate_volume(known(r, "root_volume_size"), "ec2.root_volume_size", &found);
    validate_lifetime(known(r, "max_lifetime"), "ec2.max_lifetime", &found);
    validate_bundle(known(r, "dag_bundle"), "ec2.dag_bundle", &found);
    if (sf_diags_has_error(&found)) rc = -1;
    sf_diags_move(diags, &found, NULL);
    sf_value_get_int(known(r, "api_port"), &out->api_port);
    sf_value_get_int(known(r, "root_volume_size"), &out->root_volume_size);
    int64_t ms = 0;
    const char *lifetime = sf_value_get_str(known(r, "max_lifetime"));
    if (lifetime && sf_duration_parse(lifetime, &ms) == 0) out->max_lifetime_s = ms / 1000;
    if (!out->dag_bundle) {
        sf_diag_error(diags, "ec2.dag_bundle", "Missing DAG bundle location",
                      "An EC2 Airflow needs dag_bundle, an S3 location such as s3://my-lake/airflow/.");
        rc = -1;
    } else if (sf_aws_s3_parse_uri(out->dag_bundle, &out->bundle_bucket, &out->bundle_prefix) == 0) {
        size_t n = strlen(out->bundle_prefix);
        if (n && out->bundle_prefix[n - 1] != '/') {
            char *p = sf_fmt("%s/", out->bundle_prefix);
            free(out->bundle_prefix);
            out->bundle_prefix = p;
        }
    }
    const sf_value *tags = known(r, "tags");
    out->tags = calloc((tags ? tags->n : 0) + 1, sizeof *out->tags);
    if (!out->tags) abort();
    for (size_t i = 0; tags && i < tags->n; i++)
        if (sf_value_get_str(tags->elems[i]))
            out->tags[out->n_tags++] =
                (sf_header){sf_strdup(tags->keys[i]), sf_strdup(sf_value_get_str(tags->elems[i]))};
    sf_value_free(r);
    return rc;
}

static void free_list(char **l, size_t n)
{
    for (size_t i = 0; i < n; i++) free(l[i]);
    free(l);
}

void sf_ec2_spec_clear(sf_ec2_spec *s)
{
    char *strs[] = {s->instance_type, s->ami,           s->subnet_id,    s->instance_profile,
                    s->dag_bundle,    s->bundle_bucket, s->bundle_prefix};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) free(strs[i]);
    free_list(s->allowed_cidrs, s->n_allowed_cidrs);
    free_list(s->security_group_ids, s->n_security_group_ids);
    for (size_t i = 0; i < s->n_tags; i++) {
        free(s->tags[i].name);
        free(s->tags[i].value);
    }
    free(s->tags);
    *s = (sf_ec2_spec){0};
}
