/* glue_schema.c — a table's columns for Glue, from the schema file its job
 * wrote next to it (_sparkflow_schema.json, catalog.h): Spark's own
 * StructType JSON, so the columns cannot drift from what the job wrote.
 *
 * Spark types become the Hive type strings Glue and Athena read:
 *
 *   string long integer short byte   string bigint int smallint tinyint
 *   double float boolean binary      the same
 *   date timestamp timestamp_ntz     date timestamp timestamp
 *   decimal(p,s) char(n) varchar(n)  the same (p 1..38, 0 <= s <= p)
 *   array / map / struct / udt       array<T>, map<K,V>, struct<f:T,...>,
 *                                    the udt's sqlType — recursively
 *
 * Intervals, nulls and variants have no Hive type (nor a Parquet column
 * Athena reads): an error naming the type.  Names are lower-cased, as Glue
 * keeps them; a nested field name must be one Hive's type parser reads
 * (letters, digits, '_', '.', '$', ' ').
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/str.h"
#include "catalogs/glue.h"

#define MAX_DEPTH 64
#define COMMENT_MAX 255 /* Glue's limit on a column comment */

static const struct {
    const char *spark, *hive;
} simple[] = {
    {"string", "string"}, {"long", "bigint"},   {"integer", "int"},         {"short", "smallint"},
    {"byte", "tinyint"},  {"double", "double"}, {"float", "float"},         {"boolean", "boolean"},
    {"binary", "binary"}, {"date", "date"},     {"timestamp", "timestamp"}, {"timestamp_ntz", "timestamp"},
};

static char *lower(const char *s)
{
    char *out = sf_strdup(s);
    for (char *p = out; *p; p++) *p = (char)tolower((unsigned char)*p);
    return out;
}

/* "decimal(12,2)", "char(5)": the numbers in parentheses after `name`; -1
 * when `s` is not that form. */
static int sized(const char *s, const char *name, long *a, long *b)
{
    size_t n = strlen(name);
    if (strncmp(s, name, n) != 0 || s[n] != '(') return -1;
    int used = 0;
    *b = -1;
    if (sscanf(s + n, "(%ld,%ld)%n", a, b, &used) == 2 && s[n + (size_t)used] == 0) return 2;
    used = 0;
    if (sscanf(s + n, "(%ld)%n", a, &used) == 1 && s[n + (size_t)used] == 0) return 1;
    return -1;
}

static int simple_into(sf_buf *b, const char *t, char **why)
{
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
        if (strcmp(t, simple[i].spark) == 0) {
            sf_buf_puts(b, simple[i].hive);
            return 0;
        }
    long p = 0, s = 0;
    if (strcmp(t, "decimal") == 0) {
        sf_buf_puts(b, "decimal(10,0)"); /* Spark's default precision and scale */
        return 0;
    }
    int k = sized(t, "decimal", &p, &s);
    if (k == 2 && p >= 1 && p <= 38 && s >= 0 && s <= p) {
        sf_buf_printf(b, "decimal(%ld,%ld)", p, s);
        return 0;
    }
    if (k >= 0) {
        *why = sf_fmt("\"%s\" is not a decimal Glue takes (precision 1 to 38, scale 0 to the precision)", t);
        return -1;
    }
    if (sized(t, "char", &p, &s) == 1 && p >= 1 && p <= 255) {
        sf_buf_printf(b, "char(%ld)", p);
        return 0;
    }
    if (sized(t, "varchar", &p, &s) == 1 && p >= 1 && p <= 65535) {
        sf_buf_printf(b, "varchar(%ld)", p);
        return 0;
    }
    *why = sf_fmt("the Spark type \"%s\" has no Glue (Hive) type", t);
    return -1;
}

/* A nested field name Hive's type parser reads back as one name. */
static bool nested_name_ok(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("_.$ ", *s) && !((unsigned char)*s & 0x80)) return false;
    return true;
}

static int type_into(sf_buf *b, const cJSON *t, int depth, char **why);

static int struct_into(sf_buf *b, const cJSON *t, int depth, char **why)
{
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(t, "fields"), *f;
    if (!cJSON_IsArray(fields) || cJSON_GetArraySize(fields) == 0) {
        *why = sf_strdup("a struct with no fields has no Glue type");
        return -1;
    }
    sf_buf_puts(b, "struct<");
    bool first = true;
    cJSON_ArrayForEach(f, fields) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "name"));
        if (!name || !nested_name_ok(name)) {
            *why = sf_fmt("the struct field name \"%s\" cannot be written in a Glue type (letters, digits, '_', "
                          "'.', '$' and spaces only)",
                          name ? name : "");
            return -1;
        }
        char *lname = lower(name);
        sf_buf_printf(b, "%s%s:", first ? "" : ",", lname);
        free(lname);
        first = false;
        if (type_into(b, cJSON_GetObjectItemCaseSensitive(f, "type"), depth + 1, why) != 0) return -1;
    }
    sf_buf_puts(b, ">");
    return 0;
}

static int type_into(sf_buf *b, const cJSON *t, int depth, char **why)
{
    if (depth > MAX_DEPTH) {
        *why = sf_fmt("a type nested deeper than %d levels", MAX_DEPTH);
        return -1;
    }
    if (cJSON_IsString(t)) return simple_into(b, t->valuestring, why);
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "type"));
    if (!cJSON_IsObject(t) || !kind) {
        *why = sf_strdup("a type that is neither a name nor an object with \"type\"");
        return -1;
    }
    if (strcmp(kind, "array") == 0) {
        sf_buf_puts(b, "array<");
        if (type_into(b, cJSON_GetObjectItemCaseSensitive(t, "elementType"), depth + 1, why) != 0) return -1;
        sf_buf_puts(b, ">");
        return 0;
    }
    if (strcmp(kind, "map") == 0) {
        sf_buf_puts(b, "map<");
        if (type_into(b, cJSON_GetObjectItemCaseSensitive(t, "keyType"), depth + 1, why) != 0) return -1;
        sf_buf_puts(b, ",");
        if (type_into(b, cJSON_GetObjectItemCaseSensitive(t, "valueType"), depth + 1, why) != 0) return -1;
        sf_buf_puts(b, ">");
        return 0;
    }
    if (strcmp(kind, "struct") == 0) return struct_into(b, t, depth, why);
    if (strcmp(kind, "udt") == 0) return type_into(b, cJSON_GetObjectItemCaseSensitive(t, "sqlType"), depth + 1, why);
    *why = sf_fmt("the Spark type \"%s\" has no Glue (Hive) type", kind);
    return -1;
}

char *sf_glue_type(const cJSON *spark_type, char **why)
{
    *why = NULL;
    sf_buf b = {0};
    if (type_into(&b, spark_type, 0, why) != 0) {
        sf_buf_free(&b);
        return NULL;
    }
    return sf_buf_take(&b);
}

/* ---- the schema file -------------------------------------------------------------- */

static void column_clear(sf_glue_column *c)
{
    free(c->name);
    free(c->type);
    free(c->comment);
}

void sf_glue_schema_clear(sf_glue_schema *s)
{
    for (size_t i = 0; i < s->n_columns; i++) column_clear(&s->columns[i]);
    for (size_t i = 0; i < s->n_partitions; i++) column_clear(&s->partitions[i]);
    free(s->columns);
    free(s->partitions);
    *s = (sf_glue_schema){0};
}

/* At most COMMENT_MAX bytes of s, not cutting a UTF-8 sequence. */
static char *comment_of(const cJSON *field)
{
    const char *c = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(field, "metadata"), "comment"));
    if (!c || !*c) return NULL;
    size_t n = strlen(c);
    if (n > COMMENT_MAX) {
        n = COMMENT_MAX;
        while (n > 0 && ((unsigned char)c[n] & 0xC0) == 0x80) n--;
    }
    return sf_strndup(c, n);
}

/* The index of partition column `name` in partition_by, or -1. */
static int partition_index(const cJSON *partition_by, const char *name)
{
    int i = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, partition_by) {
        if (cJSON_IsString(p) && strcasecmp(p->valuestring, name) == 0) return i;
        i++;
    }
    return -1;
}

static int check_partition_by(const cJSON *partition_by, char **why)
{
    if (partition_by && !cJSON_IsNull(partition_by) && !cJSON_IsArray(partition_by)) {
        *why = sf_strdup("\"partition_by\" is not a list of column names");
        return -1;
    }
    const cJSON *p, *q;
    cJSON_ArrayForEach(p, partition_by) {
        if (!cJSON_IsString(p) || !*p->valuestring) {
            *why = sf_strdup("\"partition_by\" holds something other than a column name");
            return -1;
        }
        for (q = p->next; q; q = q->next)
            if (cJSON_IsString(q) && strcasecmp(p->valuestring, q->valuestring) == 0) {
                *why = sf_fmt("\"partition_by\" names \"%s\" twice", p->valuestring);
                return -1;
            }
    }
    return 0;
}

/* Each field of `fields` into out's columns or partitions. */
static int fields_into(const cJSON *fields, const cJSON *partition_by, sf_glue_schema *out, char **why)
{
    size_t n = (size_t)cJSON_GetArraySize(fields), np = (size_t)cJSON_GetArraySize(partition_by);
    out->columns = calloc(n ? n : 1, sizeof *out->columns);
    out->partitions = calloc(np ? np : 1, sizeof *out->partitions);
    if (!out->columns || !out->partitions) abort();
    const cJSON *f, *g;
    cJSON_ArrayForEach(f, fields) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "name"));
        if (!name || !*name) {
            *why = sf_strdup("a field of \"schema\" has no name");
            return -1;
        }
        for (g = fields->child; g != f; g = g->next)
            if (strcasecmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(g, "name")), name) == 0) {
                *why = sf_fmt("the columns \"%s\" and \"%s\" are one column to Glue, which ignores case",
                              cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(g, "name")), name);
                return -1;
            }
        char *why_type = NULL;
        char *type = sf_glue_type(cJSON_GetObjectItemCaseSensitive(f, "type"), &why_type);
        if (!type) {
            *why = sf_fmt("column \"%s\": %s", name, why_type);
            free(why_type);
            return -1;
        }
        int pi = partition_index(partition_by, name);
        sf_glue_column *c = pi >= 0 ? &out->partitions[pi] : &out->columns[out->n_columns++];
        *c = (sf_glue_column){.name = lower(name), .type = type, .comment = comment_of(f)};
    }
    out->n_partitions = np;
    for (size_t i = 0; i < np; i++)
        if (!out->partitions[i].name) {
            *why = sf_fmt("\"partition_by\" names \"%s\", which is not a field of \"schema\"",
                          cJSON_GetArrayItem(partition_by, (int)i)->valuestring);
            return -1;
        }
    return 0;
}

static bool is_struct(const cJSON *t)
{
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "type"));
    return kind && strcmp(kind, "struct") == 0;
}

int sf_glue_schema_parse(const char *json, size_t len, sf_glue_schema *out, char **why)
{
    *out = (sf_glue_schema){0};
    *why = NULL;
    cJSON *j = cJSON_ParseWithLength(json, len);
    int rc = -1;
    const char *format = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "format"));
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(j, "schema");
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(schema, "fields");
    const cJSON *partition_by = cJSON_GetObjectItemCaseSensitive(j, "partition_by");
    if (!cJSON_IsObject(j)) *why = sf_strdup("it is not a JSON object");
    else if (format && strcmp(format, "parquet") != 0)
        *why = sf_fmt("its format is \"%s\"; Glue tables are made for Parquet only", format);
    else if (!cJSON_IsArray(fields) || cJSON_GetArraySize(fields) == 0 || !is_struct(schema))
        *why = sf_strdup("its \"schema\" is not a Spark struct type with fields (StructType.jsonValue())");
    else if (check_partition_by(partition_by, why) == 0 && fields_into(fields, partition_by, out, why) == 0) {
        if (out->n_columns == 0) *why = sf_strdup("every column is a partition column; Glue needs one data column");
        else rc = 0;
    }
    if (rc != 0) sf_glue_schema_clear(out);
    cJSON_Delete(j);
    return rc;
}
