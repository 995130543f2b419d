/* glue_table.c — the TableInput SparkFlow gives Glue for one published
 * table: an external Parquet table over the table's directory in the
 * published run, its columns from the table's schema file, and partition
 * projection for partitioned tables, so that Athena finds the partitions
 * from the table's parameters alone (no crawler, no MSCK REPAIR, no
 * partition calls):
 *
 *   a key whose values are all months (YYYY-MM: the `month` of
 *   transactions)   projection.<k>.type=date, format=yyyy-MM, range=first
 *                    to last month found, interval 1 MONTHS
 *   any other key    projection.<k>.type=enum, values=the values found
 *
 * and storage.location.template = <location>/<k>=${<k>}/...  Each new run
 * gives a new location and the ranges of its partitions: sync writes the
 * table again after every publication.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/str.h"
#include "catalogs/glue.h"

#define PARQUET_SERDE "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
#define PARQUET_IN "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
#define PARQUET_OUT "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

static bool is_month(const char *v)
{
    if (strlen(v) != 7 || v[4] != '-') return false;
    for (int i = 0; i < 7; i++)
        if (i != 4 && !isdigit((unsigned char)v[i])) return false;
    int m = (v[5] - '0') * 10 + (v[6] - '0');
    return m >= 1 && m <= 12;
}

static bool all_months(const sf_glue_part *p)
{
    for (size_t i = 0; i < p->n_values; i++)
        if (!is_month(p->values[i])) return false;
    return p->n_values > 0;
}

static cJSON *columns_json(const sf_glue_column *cols, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "Name", cols[i].name);
        cJSON_AddStringToObject(c, "Type", cols[i].type);
        if (cols[i].comment) cJSON_AddStringToObject(c, "Comment", cols[i].comment);
        cJSON_AddItemToArray(a, c);
    }
    return a;
}

static void param(cJSON *params, const char *value, const char *key_fmt, const char *key_arg)
{
    char *key = sf_fmt(key_fmt, key_arg);
    cJSON_AddStringToObject(params, key, value);
    free(key);
}

/* The projection parameters of t's partition keys; -1 with *why. */
static int projection(cJSON *params, const sf_glue_found *t, const sf_glue_schema *s, const char *location, char **why)
{
    cJSON_AddStringToObject(params, "projection.enabled", "true");
    sf_buf tmpl = {0};
    sf_buf_puts(&tmpl, location);
    for (size_t i = 0; i < t->n_parts; i++) {
        const sf_glue_part *p = &t->parts[i];
        const char *k = s->partitions[i].name; /* = p->key, as Glue spells it */
        sf_buf_printf(&tmpl, "/%s=${%s}", p->key, k);
        if (all_months(p)) {
            char *range = sf_fmt("%s,%s", p->values[0], p->values[p->n_values - 1]);
            param(params, "date", "projection.%s.type", k);
            param(params, "yyyy-MM", "projection.%s.format", k);
            param(params, range, "projection.%s.range", k);
            param(params, "1", "projection.%s.interval", k);
            param(params, "MONTHS", "projection.%s.interval.unit", k);
            free(range);
            continue;
        }
        sf_buf values = {0};
        for (size_t v = 0; v < p->n_values; v++) {
            if (strchr(p->values[v], ',')) {
                *why = sf_fmt("the partition value %s=%s holds a ',', which an Athena enum projection cannot list",
                              p->key, p->values[v]);
                sf_buf_free(&values);
                sf_buf_free(&tmpl);
                return -1;
            }
            sf_buf_printf(&values, "%s%s", v ? "," : "", p->values[v]);
        }
        param(params, "enum", "projection.%s.type", k);
        param(params, values.data ? values.data : "", "projection.%s.values", k);
        sf_buf_free(&values);
    }
    cJSON_AddStringToObject(params, "storage.location.template", tmpl.data);
    sf_buf_free(&tmpl);
    return 0;
}

/* The partition keys of the files must be the schema's partition_by. */
static int same_keys(const sf_glue_found *t, const sf_glue_schema *s, char **why)
{
    bool same = t->n_parts == s->n_partitions;
    for (size_t i = 0; same && i < t->n_parts; i++) same = strcasecmp(t->parts[i].key, s->partitions[i].name) == 0;
    if (same) return 0;
    sf_buf files = {0}, schema = {0};
    for (size_t i = 0; i < t->n_parts; i++) sf_buf_printf(&files, "%s%s", i ? ", " : "", t->parts[i].key);
    for (size_t i = 0; i < s->n_partitions; i++) sf_buf_printf(&schema, "%s%s", i ? ", " : "", s->partitions[i].name);
    *why = sf_fmt("its files are partitioned by [%s] but its schema file says partition_by [%s]",
                  files.data ? files.data : "", schema.data ? schema.data : "");
    sf_buf_free(&files);
    sf_buf_free(&schema);
    return -1;
}

cJSON *sf_glue_table_input(const sf_catalog_spec *spec, const sf_glue_found *t, const sf_glue_schema *s,
                           const char *location, const char *run_id, char **why)
{
    *why = NULL;
    if (same_keys(t, s, why) != 0) return NULL;
    cJSON *in = cJSON_CreateObject();
    cJSON_AddStringToObject(in, "Name", t->name);
    char *desc =
        sf_fmt("SparkFlow table %s of pipeline %s (run %s). Managed by Terraform.", t->dir, spec->pipeline, run_id);
    cJSON_AddStringToObject(in, "Description", desc);
    free(desc);
    cJSON_AddStringToObject(in, "TableType", "EXTERNAL_TABLE");
    cJSON *params = cJSON_AddObjectToObject(in, "Parameters");
    cJSON_AddStringToObject(params, "EXTERNAL", "TRUE");
    cJSON_AddStringToObject(params, "classification", "parquet");
    cJSON_AddStringToObject(params, SF_GLUE_MANAGED, "true");
    cJSON_AddStringToObject(params, SF_GLUE_PIPELINE, spec->pipeline);
    cJSON_AddStringToObject(params, SF_GLUE_RUN, run_id);
    cJSON_AddStringToObject(params, SF_GLUE_DIR, t->dir);
    cJSON *sd = cJSON_AddObjectToObject(in, "StorageDescriptor");
    cJSON_AddItemToObject(sd, "Columns", columns_json(s->columns, s->n_columns));
    char *loc = sf_fmt("%s/", location);
    cJSON_AddStringToObject(sd, "Location", loc);
    free(loc);
    cJSON_AddStringToObject(sd, "InputFormat", PARQUET_IN);
    cJSON_AddStringToObject(sd, "OutputFormat", PARQUET_OUT);
    cJSON_AddBoolToObject(sd, "Compressed", false);
    cJSON_AddBoolToObject(sd, "StoredAsSubDirectories", false);
    cJSON *serde = cJSON_AddObjectToObject(sd, "SerdeInfo");
    cJSON_AddStringToObject(serde, "SerializationLibrary", PARQUET_SERDE);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(serde, "Parameters"), "serialization.format", "1");
    cJSON_AddItemToObject(in, "PartitionKeys", columns_json(s->partitions, s->n_partitions));
    if (t->n_parts && projection(params, t, s, location, why) != 0) {
        cJSON_Delete(in);
        return NULL;
    }
    return in;
}
