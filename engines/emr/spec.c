/* spec.c — the `emr {}` block of sparkflow_cluster.
 *
 * Declares the block's schema and converts its value into sf_emr_spec with
 * the defaults the schema promises.  It also keeps a copy of the configured
 * block in the cluster's own tags (sparkflow:spec:0, :1, ... — base64 of its
 * JSON, 256 characters per tag value as EMR allows): EMR does not return the
 * auto-termination policy (nor does moto), and rewrites log URIs and
 * configurations, so Read and import give back the block as written from
 * there and ask EMR only for what can drift (the core node count).
 */
#include "engines/emr/emr.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/timeouts.h"

#define SPEC_TAG "sparkflow:spec:"
#define TAG_VALUE_MAX 256
#define SPEC_TAGS_MAX 30

void sf_emr_validate_release(const sf_value *v, const char *path, sf_diags *d)
{
    const char *s = sf_value_get_str(v);
    if (s && strncmp(s, "emr-", 4) != 0)
        sf_diag_error(d, path, "Invalid EMR release label",
                      "\"%s\" is not an EMR release label: they start with \"emr-\", e.g. \"emr-7.13.0\" or "
                      "\"emr-spark-8.0.0\".",
                      s);
}

void sf_emr_validate_idle(const sf_value *v, const char *path, sf_diags *d)
{
    const char *s = sf_value_get_str(v);
    int64_t ms = 0;
    if (!s) return;
    if (sf_duration_parse(s, &ms) != 0 || ms < 60000 || ms > 604800000LL || ms % 1000)
        sf_diag_error(d, path, "Invalid idle timeout",
                      "\"%s\" is not an idle timeout EMR accepts: a duration between 60s and 168h (7 days) in "
                      "whole seconds, e.g. \"30m\" or \"1h\".",
                      s);
}

static void validate_market(const sf_value *v, const char *path, sf_diags *d)
{
    const char *s = sf_value_get_str(v);
    if (s && strcmp(s, "ON_DEMAND") != 0 && strcmp(s, "SPOT") != 0)
        sf_diag_error(d, path, "Invalid market", "\"%s\" is not a market: use \"ON_DEMAND\" or \"SPOT\".", s);
}

static void validate_json_list(const sf_value *v, const char *path, sf_diags *d)
{
    const char *s = sf_value_get_str(v);
    if (!s) return;
    cJSON *j = cJSON_Parse(s);
    if (!cJSON_IsArray(j))
        sf_diag_error(d, path, "Invalid EMR configurations",
                      "configurations_json must be a JSON list of EMR configuration objects, e.g. "
                      "jsonencode([{Classification = \"spark-defaults\", Properties = {...}}]).");
    cJSON_Delete(j);
}

static void validate_s3_uri(const sf_value *v, const char *path, sf_diags *d)
{
    const char *s = sf_value_get_str(v);
    if (s && strncmp(s, "s3://", 5) != 0 && strncmp(s, "s3n://", 6) != 0)
        sf_diag_error(d, path, "Invalid S3 URI", "\"%s\" must be an S3 location such as s3://my-bucket/logs/.", s);
}

static const sf_attr_def bootstrap_attrs[] = {
    {"name", "string", SF_ATTR_REQUIRED, "The bootstrap action's name.", NULL, sf_validate_not_empty},
    {"path", "string", SF_ATTR_REQUIRED, "Location of the script to run on every node, e.g. `s3://bucket/setup.sh`.",
     NULL, validate_s3_uri},
    {"args", "[\"list\",\"string\"]", SF_ATTR_OPTIONAL, "Arguments passed to the script."},
    {NULL},
};

static const sf_block_def bootstrap_block = {
    .description = "A script every node runs while the cluster starts.",
    .attrs = bootstrap_attrs,
};

static const sf_attr_def emr_attrs[] = {
    {"release_label", "string", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "The EMR release, e.g. `emr-7.13.0` (Spark 3.5) or `emr-spark-8.0.0` (Spark 4). Changing it replaces the cluster.",
     "\"emr-7.13.0\"", sf_emr_validate_release},
    {"applications", "[\"list\",\"string\"]", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "Applications installed on the cluster.", "[\"Spark\"]"},
    {"master_instance_type", "string", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED, "EC2 instance type of the master node.",
     "\"m5.xlarge\""},
    {"core_instance_type", "string", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED, "EC2 instance type of the core nodes.",
     "\"m5.xlarge\""},
    {"core_instance_count", "number", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "Number of core nodes. Changing it resizes the core instance group in place.", "2", sf_validate_positive_int},
    {"market", "string", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "`ON_DEMAND` or `SPOT` (cheaper; nodes may be reclaimed).", "\"ON_DEMAND\"", validate_market},
    {"subnet_id", "string", SF_ATTR_OPTIONAL, "The VPC subnet to start the nodes in. Default: EMR's choice."},
    {"key_name", "string", SF_ATTR_OPTIONAL, "An EC2 key pair for SSH to the master node."},
    {"service_role", "string", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED, "IAM role the EMR service uses.",
     "\"EMR_DefaultRole\""},
    {"instance_profile", "string", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "IAM instance profile of the nodes (EMR's job flow role): what the Spark jobs may read and write.",
     "\"EMR_EC2_DefaultRole\""},
    {"log_uri", "string", SF_ATTR_OPTIONAL,
     "S3 location for the cluster's and the steps' logs, e.g. `s3://bucket/logs/`.", NULL, validate_s3_uri},
    {"idle_timeout", "string", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "Auto-termination: the cluster terminates itself after being idle this long (60s to 7 days), so a forgotten "
     "cluster stops costing money. The next plan then recreates it.",
     "\"1h\"", sf_emr_validate_idle},
    {"configurations_json", "string", SF_ATTR_OPTIONAL,
     "EMR configurations as a JSON list, e.g. `jsonencode([{Classification = \"spark-defaults\", Properties = "
     "{\"spark.sql.shuffle.partitions\" = \"64\"}}])`.",
     NULL, validate_json_list},
    {"tags", "[\"map\",\"string\"]", SF_ATTR_OPTIONAL,
     "Tags of the cluster (and its instances), on top of the provider's `default_tags`. Changing them "
     "updates the cluster in place."},
    {NULL},
};

static const sf_nested_def emr_blocks[] = {
    {"bootstrap_action", SF_NEST_LIST, &bootstrap_block, 0, 0, SF_ATTR_FORCE_NEW,
     "Scripts every node runs at start-up, in order. Changing them replaces the cluster."},
    {NULL},
};

const sf_block_def sf_emr_spec_block = {
    .description = "An Amazon EMR cluster (created with RunJobFlow, kept alive between pipeline runs and "
                   "auto-terminated when idle). Uses the provider's AWS settings.",
    .attrs = emr_attrs,
    .blocks = emr_blocks,
};

/* ---- value -> struct ---------------------------------------------------------- */

static const sf_value *known(const sf_value *v, const char *name)
{
    const sf_value *a = v && v->kind == SF_VAL_OBJECT ? sf_value_get(v, name) : NULL;
    return sf_value_is_null(a) || sf_value_is_unknown(a) ? NULL : a;
}

sf_value *sf_emr_spec_resolved(const sf_value *v)
{
    sf_value *out = v && v->kind == SF_VAL_OBJECT ? sf_value_copy(v) : sf_value_object();
    for (size_t i = 0; emr_attrs[i].name; i++) {
        if (known(out, emr_attrs[i].name)) continue;
        sf_value *def = sf_schema_attr_default(&emr_attrs[i]);
        sf_value_put(out, emr_attrs[i].name, def ? def : sf_value_null());
    }
    if (!known(out, "bootstrap_action")) sf_value_put(out, "bootstrap_action", sf_value_list());
    return out;
}

static char *str_of(const sf_value *v, const char *name)
{
    const sf_value *a = known(v, name);
    return a ? sf_strdup(sf_value_get_str(a)) : NULL;
}

static char **list_of(const sf_value *l, size_t *n)
{
    *n = l && !sf_value_is_null(l) ? l->n : 0;
    char **out = calloc(*n + 1, sizeof *out);
    if (!out) abort();
    for (size_t i = 0; i < *n; i++) out[i] = sf_strdup(sf_value_get_str(l->elems[i]));
    return out;
}

int sf_emr_spec_from_value(const sf_value *v, sf_emr_spec *out, sf_diags *diags)
{
    *out = (sf_emr_spec){0};
    sf_value *r = sf_emr_spec_resolved(v);
    out->release_label = str_of(r, "release_label");
    out->applications = list_of(known(r, "applications"), &out->n_applications);
    out->master_instance_type = str_of(r, "master_instance_type");
    out->core_instance_type = str_of(r, "core_instance_type");
    out->market = str_of(r, "market");
    out->subnet_id = str_of(r, "subnet_id");
    out->key_name = str_of(r, "key_name");
    out->service_role = str_of(r, "service_role");
    out->instance_profile = str_of(r, "instance_profile");
    out->log_uri = str_of(r, "log_uri");
    out->idle_timeout = str_of(r, "idle_timeout");
    out->configurations_json = str_of(r, "configurations_json");
    int rc = 0;
    if (sf_value_get_int(known(r, "core_instance_count"), &out->core_instance_count) != 0 ||
        out->core_instance_count < 1 || out->core_instance_count > 500) {
        sf_diag_error(diags, "emr.core_instance_count", "Invalid core node count",
                      "core_instance_count must be a whole number between 1 and 500.");
        rc = -1;
    }
    int64_t ms = 0;
    if (sf_duration_parse(out->idle_timeout, &ms) != 0) {
        sf_diag_error(diags, "emr.idle_timeout", "Invalid idle timeout", "\"%s\" is not a duration.",
                      out->idle_timeout);
        rc = -1;
    }
    out->idle_timeout_s = ms / 1000;
    const sf_value *tags = known(r, "tags");
    out->n_tags = tags ? tags->n : 0;
    out->tags = calloc(out->n_tags + 1, sizeof *out->tags);
    if (!out->tags) abort();
    for (size_t i = 0; i < out->n_tags; i++)
        out->tags[i] = (sf_header){sf_strdup(tags->keys[i]), sf_strdup(sf_value_get_str(tags->elems[i]))};
    const sf_value *ba = known(r, "bootstrap_action");
    out->n_bootstrap = ba ? ba->n : 0;
    out->bootstrap = calloc(out->n_bootstrap + 1, sizeof *out->bootstrap);
    if (!out->bootstrap) abort();
    for (size_t i = 0; i < out->n_bootstrap; i++) {
        const sf_value *b = ba->elems[i];
        out->bootstrap[i].name = str_of(b, "name");
        out->bootstrap[i].path = str_of(b, "path");
        out->bootstrap[i].args = list_of(known(b, "args"), &out->bootstrap[i].n_args);
    }
    sf_value_free(r);
    return rc;
}

static void free_list(char **l, size_t n)
{
    for (size_t i = 0; i < n; i++) free(l[i]);
    free(l);
}

void sf_emr_spec_clear(sf_emr_spec *s)
{
    char *strs[] = {s->release_label,      s->master_instance_type, s->core_instance_type, s->market,  s->subnet_id,
                    s->key_name,           s->service_role,         s->instance_profile,   s->log_uri, s->idle_timeout,
                    s->configurations_json};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) free(strs[i]);
    free_list(s->applications, s->n_applications);
    for (size_t i = 0; i < s->n_tags; i++) {
        free(s->tags[i].name);
        free(s->tags[i].value);
    }
    free(s->tags);
    for (size_t i = 0; i < s->n_bootstrap; i++) {
        free(s->bootstrap[i].name);
        free(s->bootstrap[i].path);
        free_list(s->bootstrap[i].args, s->bootstrap[i].n_args);
    }
    free(s->bootstrap);
    *s = (sf_emr_spec){0};
}

/* ---- the copy kept in tags ------------------------------------------------------ */

cJSON *sf_emr_spec_tags(const sf_value *resolved)
{
    sf_value *kept = sf_value_copy(resolved);
    sf_value_put(kept, "core_instance_count", sf_value_null());
    sf_type *t = sf_schema_type(&sf_emr_spec_block);
    char *json = sf_value_to_json(kept, t);
    char *b64 = sf_aws_base64(json, strlen(json));
    cJSON *tags = cJSON_CreateArray();
    size_t len = strlen(b64);
    for (size_t i = 0, k = 0; i < len && k < SPEC_TAGS_MAX; i += TAG_VALUE_MAX, k++) {
        cJSON *tag = cJSON_CreateObject();
        char key[32];
        snprintf(key, sizeof key, SPEC_TAG "%zu", k);
        char *part = sf_strndup(b64 + i, len - i < TAG_VALUE_MAX ? len - i : TAG_VALUE_MAX);
        cJSON_AddStringToObject(tag, "Key", key);
        cJSON_AddStringToObject(tag, "Value", part);
        cJSON_AddItemToArray(tags, tag);
        free(part);
    }
    free(b64);
    free(json);
    sf_type_free(t);
    sf_value_free(kept);
    return tags;
}

sf_value *sf_emr_spec_from_tags(const cJSON *tags)
{
    sf_buf b64 = {0};
    sf_buf_append(&b64, "", 0);
    for (size_t k = 0; k < SPEC_TAGS_MAX; k++) {
        char key[32];
        snprintf(key, sizeof key, SPEC_TAG "%zu", k);
        const char *part = NULL;
        const cJSON *tag;
        cJSON_ArrayForEach(tag, tags)
            if (sf_emr_str(tag, "Key") && strcmp(sf_emr_str(tag, "Key"), key) == 0) part = sf_emr_str(tag, "Value");
        if (!part) break;
        sf_buf_puts(&b64, part);
    }
    size_t len = 0;
    unsigned char *json = b64.len ? sf_aws_unbase64(b64.data, &len) : NULL;
    sf_buf_free(&b64);
    if (!json) return NULL;
    sf_type *t = sf_schema_type(&sf_emr_spec_block);
    sf_value *v = NULL;
    char *err = NULL;
    if (sf_value_from_json((const char *)json, len, t, true, &v, &err) != 0) v = NULL;
    free(err);
    sf_type_free(t);
    free(json);
    return v;
}
