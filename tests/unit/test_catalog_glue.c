/* test_catalog_glue.c — the Glue + Athena catalog of s3:// lakes
 * (catalogs/glue.h): Spark schema JSON → Glue types, tables found in a
 * run's listing, the TableInput with partition projection (pure); then
 * sync and remove against a moto server on loopback (tests/unit/aws_moto.h;
 * skipped without moto), with runs published by the real S3 lake.
 *
 * What the provider SENT is read from moto's request recorder
 * (MOTO_ENABLE_RECORDING: every request, body included, appended to a file
 * before moto handles it), so calls moto does not implement are checked
 * too.  What moto does not do, and what is checked instead:
 *   - UpdateWorkGroup: not implemented (moto answers HTTP 500).  The update
 *     a changed cutoff needs is checked in the request body, and that sync
 *     reports the failure naming the workgroup.
 *   - GetWorkGroup of a missing workgroup answers {"WorkGroup": null}
 *     instead of InvalidRequestException: the code takes both.
 *   - ListTagsForResource of a workgroup made without tags answers
 *     "Does Not Exist" instead of no tags: taken as untagged (not ours).
 *   - GetTable/GetWorkGroup read back what moto stored (it keeps the
 *     TableInput and the workgroup Configuration as sent, so
 *     BytesScannedCutoffPerQuery reads back; moto enforces none of it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "aws/aws.h"
#include "base/str.h"
#include "catalogs/glue.h"
#include "tests/unit/aws_moto.h"

static aws_moto moto;
static bool have_moto;
static char tmpdir[256];
static char recording[300];
static sf_aws_client *aws;
static sf_lake_env lake_env;

#define CUTOFF INT64_C(104857600)

static void print_diags(const sf_diags *d)
{
    for (size_t i = 0; i < d->n; i++)
        fprintf(stderr, "diag %s: %s: %s [%s]\n", d->items[i].severity == SF_DIAG_ERROR ? "error" : "warning",
                d->items[i].summary, d->items[i].detail, d->items[i].path ? "path" : "-");
}

/* The diagnostic whose summary or detail holds `needle` (and of that
 * severity), or NULL. */
static const sf_diag *diag_with(const sf_diags *d, sf_diag_severity sev, const char *needle)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->items[i].severity == sev &&
            (strstr(d->items[i].summary, needle) || (d->items[i].detail && strstr(d->items[i].detail, needle))))
            return &d->items[i];
    return NULL;
}

static size_t count_severity(const sf_diags *d, sf_diag_severity sev)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++) n += d->items[i].severity == sev;
    return n;
}

static char *path_of(const sf_diag *g)
{
    return g && g->path ? sf_path_to_string(g->path) : sf_strdup("");
}

/* ---- pure: types ------------------------------------------------------------------- */

static void expect_type(const char *spark_json, const char *hive)
{
    cJSON *t = cJSON_Parse(spark_json);
    assert_non_null(t);
    char *why = NULL, *got = sf_glue_type(t, &why);
    if (!got) fprintf(stderr, "%s: %s\n", spark_json, why);
    assert_non_null(got);
    assert_string_equal(got, hive);
    assert_null(why);
    free(got);
    cJSON_Delete(t);
}

static void expect_no_type(const char *spark_json, const char *why_has)
{
    cJSON *t = cJSON_Parse(spark_json);
    assert_non_null(t);
    char *why = NULL, *got = sf_glue_type(t, &why);
    assert_null(got);
    assert_non_null(why);
    if (!strstr(why, why_has)) fprintf(stderr, "why: %s\n", why);
    assert_non_null(strstr(why, why_has));
    free(why);
    cJSON_Delete(t);
}

static void test_types(void **state)
{
    (void)state;
    expect_type("\"string\"", "string");
    expect_type("\"long\"", "bigint");
    expect_type("\"integer\"", "int");
    expect_type("\"short\"", "smallint");
    expect_type("\"byte\"", "tinyint");
    expect_type("\"double\"", "double");
    expect_type("\"float\"", "float");
    expect_type("\"boolean\"", "boolean");
    expect_type("\"date\"", "date");
    expect_type("\"timestamp\"", "timestamp");
    expect_type("\"timestamp_ntz\"", "timestamp");
    expect_type("\"binary\"", "binary");
    expect_type("\"decimal(12,2)\"", "decimal(12,2)");
    expect_type("\"decimal(38,0)\"", "decimal(38,0)");
    expect_type("\"decimal\"", "decimal(10,0)");
    expect_type("\"char(3)\"", "char(3)");
    expect_type("\"varchar(40)\"", "varchar(40)");
    expect_type("{\"type\":\"array\",\"elementType\":\"long\",\"containsNull\":true}", "array<bigint>");
    expect_type("{\"type\":\"map\",\"keyType\":\"string\",\"valueType\":\"decimal(10,2)\",\"valueContainsNull\":true}",
                "map<string,decimal(10,2)>");
    /* nested: struct of array of map of struct, names lower-cased */
    expect_type("{\"type\":\"struct\",\"fields\":["
                "{\"name\":\"Id\",\"type\":\"integer\",\"nullable\":false,\"metadata\":{}},"
                "{\"name\":\"lines\",\"type\":{\"type\":\"array\",\"elementType\":{\"type\":\"map\","
                "\"keyType\":\"string\",\"valueType\":{\"type\":\"struct\",\"fields\":["
                "{\"name\":\"amt\",\"type\":\"decimal(9,3)\",\"nullable\":true,\"metadata\":{}},"
                "{\"name\":\"at\",\"type\":\"timestamp\",\"nullable\":true,\"metadata\":{}}]},"
                "\"valueContainsNull\":true},\"containsNull\":true},\"nullable\":true,\"metadata\":{}}]}",
                "struct<id:int,lines:array<map<string,struct<amt:decimal(9,3),at:timestamp>>>>");
    /* a user-defined type is its SQL type */
    expect_type("{\"type\":\"udt\",\"class\":\"x.VectorUDT\",\"sqlType\":{\"type\":\"array\",\"elementType\":"
                "\"double\",\"containsNull\":false}}",
                "array<double>");
    expect_no_type("\"decimal(39,2)\"", "precision 1 to 38");
    expect_no_type("\"decimal(5,7)\"", "precision 1 to 38");
    expect_no_type("\"interval day to second\"", "\"interval day to second\" has no Glue");
    expect_no_type("\"void\"", "\"void\"");
    expect_no_type("{\"type\":\"array\",\"elementType\":\"calendarinterval\"}", "calendarinterval");
    expect_no_type("{\"type\":\"struct\",\"fields\":[{\"name\":\"a:b\",\"type\":\"string\"}]}", "\"a:b\"");
    expect_no_type("{\"type\":\"struct\",\"fields\":[]}", "no fields");
    expect_no_type("42", "neither");
}

#define SCHEMA_TXN                                                                                              \
    "{\"format\":\"parquet\",\"partition_by\":[\"month\"],\"schema\":{\"type\":\"struct\",\"fields\":["         \
    "{\"name\":\"txn_id\",\"type\":\"string\",\"nullable\":false,\"metadata\":{}},"                             \
    "{\"name\":\"Amount\",\"type\":\"decimal(12,2)\",\"nullable\":true,\"metadata\":{\"comment\":\"in EUR\"}}," \
    "{\"name\":\"month\",\"type\":\"string\",\"nullable\":true,\"metadata\":{}},"                               \
    "{\"name\":\"category\",\"type\":\"string\",\"nullable\":true,\"metadata\":{}}]}}"

static void test_schema_file(void **state)
{
    (void)state;
    sf_glue_schema s;
    char *why = NULL;
    assert_int_equal(sf_glue_schema_parse(SCHEMA_TXN, strlen(SCHEMA_TXN), &s, &why), 0);
    assert_int_equal(s.n_columns, 3);
    assert_string_equal(s.columns[0].name, "txn_id");
    assert_string_equal(s.columns[1].name, "amount");
    assert_string_equal(s.columns[1].type, "decimal(12,2)");
    assert_string_equal(s.columns[1].comment, "in EUR");
    assert_null(s.columns[0].comment);
    assert_string_equal(s.columns[2].name, "category");
    assert_int_equal(s.n_partitions, 1);
    assert_string_equal(s.partitions[0].name, "month");
    assert_string_equal(s.partitions[0].type, "string");
    sf_glue_schema_clear(&s);

    const struct {
        const char *json, *why;
    } bad[] = {
        {"[]", "not a JSON object"},
        {"{\"format\":\"csv\",\"schema\":{\"type\":\"struct\",\"fields\":[{\"name\":\"a\",\"type\":\"string\"}]}}",
         "\"csv\""},
        {"{\"schema\":{\"type\":\"struct\",\"fields\":[]}}", "StructType"},
        {"{\"partition_by\":[\"m\"],\"schema\":{\"type\":\"struct\",\"fields\":[{\"name\":\"a\",\"type\":\"string\"}]}"
         "}",
         "\"m\", which is not a field"},
        {"{\"schema\":{\"type\":\"struct\",\"fields\":[{\"name\":\"a\",\"type\":\"string\"},{\"name\":\"A\","
         "\"type\":\"long\"}]}}",
         "ignores case"},
        {"{\"partition_by\":[\"a\"],\"schema\":{\"type\":\"struct\",\"fields\":[{\"name\":\"a\",\"type\":\"string\"}]}"
         "}",
         "every column"},
        {"{\"schema\":{\"type\":\"struct\",\"fields\":[{\"name\":\"a\",\"type\":\"interval\"}]}}", "column \"a\""},
        {"{\"partition_by\":\"a\",\"schema\":{\"type\":\"struct\",\"fields\":[{\"name\":\"a\",\"type\":\"string\"}]}}",
         "not a list"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sf_glue_schema_parse(bad[i].json, strlen(bad[i].json), &s, &why), -1);
        if (!strstr(why, bad[i].why)) fprintf(stderr, "case %zu: %s\n", i, why);
        assert_non_null(strstr(why, bad[i].why));
        assert_int_equal(s.n_columns + s.n_partitions, 0);
        free(why);
    }
}

/* ---- pure: tables in a listing ----------------------------------------------------- */

static void test_find_tables(void **state)
{
    (void)state;
    const char *keys[] = {
        "_sparkflow_run.json",
        "part-0.parquet", /* at the run's root: no table */
        "valid/_SUCCESS",
        "valid/_sparkflow_schema.json",
        "valid/part-00000-a.snappy.parquet",
        "valid/part-00001-a.snappy.parquet",
        "valid/.part-00000-a.snappy.parquet.crc",
        "transactions/_sparkflow_schema.json",
        "transactions/month=2024-02/part-0.parquet",
        "transactions/month=2024-01/part-0.parquet",
        "transactions/month=2024-01/part-1.parquet",
        "transactions/month=2023-12/part-0.parquet",
        "transactions/_temporary/0/part-9.parquet",
        "marts/Monthly-Summary/part-0.parquet",
        "marts/by_account/account=acc 2/year=2024/p.parquet",
        "marts/by_account/account=acc-1/year=2023/p.parquet",
        "marts/by_account/account=acc-1/year=2024/p.parquet",
        "report/index.html",
        "report/data.json",
        "_sparkflow/x/part-0.parquet",
        ".hidden/part-0.parquet",
        "empty/_sparkflow_schema.json",
        "folder/",
    };
    sf_diags d;
    sf_diags_init(&d);
    sf_glue_found_list l;
    assert_int_equal(sf_glue_find_tables(keys, sizeof keys / sizeof keys[0], &l, &d), 0);
    print_diags(&d);
    assert_int_equal(d.n, 0);
    assert_int_equal(l.n, 4);
    /* sorted by name */
    assert_string_equal(l.items[0].name, "by_account");
    assert_string_equal(l.items[0].dir, "marts/by_account");
    assert_false(l.items[0].has_schema);
    assert_int_equal(l.items[0].n_parts, 2);
    assert_string_equal(l.items[0].parts[0].key, "account");
    assert_int_equal(l.items[0].parts[0].n_values, 2);
    assert_string_equal(l.items[0].parts[0].values[0], "acc 2");
    assert_string_equal(l.items[0].parts[0].values[1], "acc-1");
    assert_string_equal(l.items[0].parts[1].key, "year");
    assert_int_equal(l.items[0].parts[1].n_values, 2);
    assert_string_equal(l.items[1].name, "monthly_summary");
    assert_string_equal(l.items[1].dir, "marts/Monthly-Summary");
    assert_int_equal(l.items[1].n_parts, 0);
    assert_string_equal(l.items[2].name, "transactions");
    assert_true(l.items[2].has_schema);
    assert_int_equal(l.items[2].n_parts, 1);
    assert_int_equal(l.items[2].parts[0].n_values, 3);
    assert_string_equal(l.items[2].parts[0].values[0], "2023-12");
    assert_string_equal(l.items[2].parts[0].values[2], "2024-02");
    assert_string_equal(l.items[3].name, "valid");
    assert_true(l.items[3].has_schema);
    assert_int_equal(l.n_empty, 1);
    assert_string_equal(l.empty[0], "empty");
    sf_glue_found_list_clear(&l);

    /* Two directories, one name: an error naming both. */
    const char *clash[] = {"a/Sum-X/p.parquet", "b/sum_x/p.parquet", "c/p.parquet"};
    assert_int_equal(sf_glue_find_tables(clash, 3, &l, &d), -1);
    const sf_diag *g = diag_with(&d, SF_DIAG_ERROR, "a/Sum-X and b/sum_x");
    assert_non_null(g);
    assert_non_null(strstr(g->detail, "\"sum_x\""));
    sf_glue_found_list_clear(&l);
    sf_diags_clear(&d);

    /* Files at two partition layouts: an error naming the table. */
    const char *mixed[] = {"t/month=2024-01/p.parquet", "t/p.parquet", "u/p.parquet"};
    assert_int_equal(sf_glue_find_tables(mixed, 3, &l, &d), -1);
    g = diag_with(&d, SF_DIAG_ERROR, "The files of t lie in different partition layouts (month and (none))");
    assert_non_null(g);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].name, "u");
    sf_glue_found_list_clear(&l);
    sf_diags_clear(&d);
}

/* ---- pure: the TableInput ------------------------------------------------------------ */

static const char *param(const cJSON *in, const char *key)
{
    return cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(in, "Parameters"), key));
}

static const char *str_at(const cJSON *j, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && j; k = strtok_r(NULL, ".", &save))
        j = cJSON_IsArray(j) ? cJSON_GetArrayItem(j, atoi(k)) : cJSON_GetObjectItemCaseSensitive(j, k);
    return cJSON_GetStringValue(j);
}

static void test_table_input(void **state)
{
    (void)state;
    sf_catalog_spec spec = {.pipeline = "finances", .database = "finances"};
    char *m[] = {"2023-11", "2024-02"}, *acc[] = {"a", "b c"}, *years[] = {"2023", "2024"};
    sf_glue_part month = {.key = "month", .values = m, .n_values = 2};
    sf_glue_found t = {
        .dir = "transactions", .name = "transactions", .has_schema = true, .parts = &month, .n_parts = 1};
    sf_glue_schema s;
    char *why = NULL;
    assert_int_equal(sf_glue_schema_parse(SCHEMA_TXN, strlen(SCHEMA_TXN), &s, &why), 0);
    const char *loc = "s3://b/lake/curated/_sparkflow/runs/r1/transactions";
    cJSON *in = sf_glue_table_input(&spec, &t, &s, loc, "r1", &why);
    assert_non_null(in);
    assert_string_equal(str_at(in, "Name"), "transactions");
    assert_string_equal(str_at(in, "TableType"), "EXTERNAL_TABLE");
    assert_string_equal(param(in, "classification"), "parquet");
    assert_string_equal(param(in, SF_GLUE_MANAGED), "true");
    assert_string_equal(param(in, SF_GLUE_PIPELINE), "finances");
    assert_string_equal(param(in, SF_GLUE_RUN), "r1");
    assert_string_equal(str_at(in, "StorageDescriptor.Location"),
                        "s3://b/lake/curated/_sparkflow/runs/r1/transactions/");
    assert_string_equal(str_at(in, "StorageDescriptor.SerdeInfo.SerializationLibrary"),
                        "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe");
    assert_string_equal(str_at(in, "StorageDescriptor.InputFormat"),
                        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat");
    assert_string_equal(str_at(in, "StorageDescriptor.OutputFormat"),
                        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat");
    assert_int_equal(cJSON_GetArraySize(
                         cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(in, "StorageDescriptor"),
                                                          "Columns")),
                     3);
    assert_string_equal(str_at(in, "StorageDescriptor.Columns.1.Type"), "decimal(12,2)");
    assert_string_equal(str_at(in, "StorageDescriptor.Columns.1.Comment"), "in EUR");
    assert_string_equal(str_at(in, "PartitionKeys.0.Name"), "month");
    assert_string_equal(param(in, "projection.enabled"), "true");
    assert_string_equal(param(in, "projection.month.type"), "date");
    assert_string_equal(param(in, "projection.month.format"), "yyyy-MM");
    assert_string_equal(param(in, "projection.month.range"), "2023-11,2024-02");
    assert_string_equal(param(in, "projection.month.interval"), "1");
    assert_string_equal(param(in, "projection.month.interval.unit"), "MONTHS");
    assert_string_equal(param(in, "storage.location.template"),
                        "s3://b/lake/curated/_sparkflow/runs/r1/transactions/month=${month}");
    cJSON_Delete(in);
    sf_glue_schema_clear(&s);

    /* Other keys: enum projection of the values found. */
    const char *two =
        "{\"partition_by\":[\"account\",\"year\"],\"schema\":{\"type\":\"struct\",\"fields\":["
        "{\"name\":\"n\",\"type\":\"long\"},{\"name\":\"account\",\"type\":\"string\"},{\"name\":\"year\",\"type\":"
        "\"integer\"}]}}";
    assert_int_equal(sf_glue_schema_parse(two, strlen(two), &s, &why), 0);
    sf_glue_part parts[] = {{.key = "account", .values = acc, .n_values = 2},
                            {.key = "year", .values = years, .n_values = 2}};
    sf_glue_found t2 = {.dir = "marts/x", .name = "x", .has_schema = true, .parts = parts, .n_parts = 2};
    in = sf_glue_table_input(&spec, &t2, &s, "s3://b/r/marts/x", "r1", &why);
    assert_non_null(in);
    assert_string_equal(param(in, "projection.account.type"), "enum");
    assert_string_equal(param(in, "projection.account.values"), "a,b c");
    assert_string_equal(param(in, "projection.year.type"), "enum");
    assert_string_equal(param(in, "projection.year.values"), "2023,2024");
    assert_string_equal(str_at(in, "PartitionKeys.1.Type"), "int");
    assert_string_equal(param(in, "storage.location.template"), "s3://b/r/marts/x/account=${account}/year=${year}");
    cJSON_Delete(in);

    /* The files' keys must be the schema's. */
    sf_glue_found t3 = {.dir = "marts/x", .name = "x", .has_schema = true, .parts = parts, .n_parts = 1};
    assert_null(sf_glue_table_input(&spec, &t3, &s, "s3://b/r/marts/x", "r1", &why));
    assert_non_null(strstr(why, "partitioned by [account] but its schema file says partition_by [account, year]"));
    free(why);
    sf_glue_schema_clear(&s);
}

/* ---- against moto ------------------------------------------------------------------------ */

static void put(const char *bucket, const char *key, const char *text)
{
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    sf_aws_error err = {0};
    assert_int_equal(sf_aws_s3_put(aws, ctx, bucket, key, text, strlen(text), NULL, &err), 0);
    sf_ctx_free(ctx);
}

static void create_bucket(const char *bucket)
{
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    sf_aws_call call = {.operation = "CreateBucket",
                        .service = "s3",
                        .method = "PUT",
                        .path = "/",
                        .idempotent = true,
                        .bucket = bucket};
    sf_http_resp resp;
    sf_aws_error err = {0};
    assert_int_equal(sf_aws_client_send(aws, ctx, &call, &resp, &err), 0);
    sf_http_resp_clear(&resp);
    sf_ctx_free(ctx);
}

/* A JSON 1.1 call the test makes itself: 0 with *out, or -1 (err text
 * into *why when why is not NULL). */
static int json_call(const char *service, const char *target, const char *op, const char *body, cJSON **out, char **why)
{
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    cJSON *b = cJSON_Parse(body);
    assert_non_null(b);
    cJSON *o = NULL;
    sf_aws_error err = {0};
    int rc = sf_aws_json_call(aws, ctx, service, target, op, b, true, &o, &err);
    if (rc != 0 && why) *why = sf_aws_error_text(&err);
    sf_aws_error_clear(&err);
    cJSON_Delete(b);
    sf_ctx_free(ctx);
    if (out) *out = o;
    else cJSON_Delete(o);
    return rc;
}

static cJSON *glue(const char *op, const char *body)
{
    cJSON *out = NULL;
    char *why = NULL;
    int rc = json_call("glue", "AWSGlue", op, body, &out, &why);
    if (rc) fprintf(stderr, "%s: %s\n", op, why);
    free(why);
    assert_int_equal(rc, 0);
    return out;
}

/* GetTable: the table, or NULL when Glue has none. */
static cJSON *get_table(const char *db, const char *name)
{
    char *body = sf_fmt("{\"DatabaseName\":\"%s\",\"Name\":\"%s\"}", db, name);
    cJSON *out = NULL;
    int rc = json_call("glue", "AWSGlue", "GetTable", body, &out, NULL);
    free(body);
    if (rc != 0) return NULL;
    cJSON *t = cJSON_DetachItemFromObjectCaseSensitive(out, "Table");
    cJSON_Delete(out);
    return t;
}

static bool db_exists(const char *db)
{
    char *body = sf_fmt("{\"Name\":\"%s\"}", db);
    int rc = json_call("glue", "AWSGlue", "GetDatabase", body, NULL, NULL);
    free(body);
    return rc == 0;
}

/* The names of the database's tables, sorted, comma-separated (malloc'd). */
static char *table_names(const char *db)
{
    char *body = sf_fmt("{\"DatabaseName\":\"%s\"}", db);
    cJSON *out = glue("GetTables", body);
    free(body);
    size_t n = (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(out, "TableList"));
    char **names = calloc(n + 1, sizeof *names);
    const cJSON *t;
    size_t i = 0;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(out, "TableList"))
        names[i++] = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "Name"));
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++)
            if (strcmp(names[a], names[b]) > 0) {
                char *x = names[a];
                names[a] = names[b];
                names[b] = x;
            }
    sf_buf s = {0};
    for (i = 0; i < n; i++) sf_buf_printf(&s, "%s%s", i ? "," : "", names[i]);
    free(names);
    cJSON_Delete(out);
    return s.len ? sf_buf_take(&s) : sf_strdup("");
}

/* GetWorkGroup: the WorkGroup, or NULL (moto: null for a missing one). */
static cJSON *get_workgroup(const char *name)
{
    char *body = sf_fmt("{\"WorkGroup\":\"%s\"}", name);
    cJSON *out = NULL;
    int rc = json_call("athena", "AmazonAthena", "GetWorkGroup", body, &out, NULL);
    free(body);
    cJSON *wg = rc == 0 ? cJSON_DetachItemFromObjectCaseSensitive(out, "WorkGroup") : NULL;
    cJSON_Delete(out);
    if (wg && !cJSON_IsObject(wg)) {
        cJSON_Delete(wg);
        wg = NULL;
    }
    return wg;
}

/* ---- the recorder: what was sent ----------------------------------------------------------- */

static void sent_reset(void)
{
    FILE *f = fopen(recording, "w");
    assert_non_null(f);
    fclose(f);
}

/* The bodies of every request sent with X-Amz-Target `target` since the
 * last sent_reset, in order (a cJSON array). */
static cJSON *sent(const char *target)
{
    cJSON *all = cJSON_CreateArray();
    FILE *f = fopen(recording, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        cJSON *e = cJSON_Parse(line);
        if (!e) continue;
        const cJSON *h, *headers = cJSON_GetObjectItemCaseSensitive(e, "headers");
        const char *t = NULL;
        cJSON_ArrayForEach(h, headers)
            if (strcasecmp(h->string, "X-Amz-Target") == 0) t = cJSON_GetStringValue(h);
        if (t && strcmp(t, target) == 0) {
            const char *body = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "body"));
            size_t len = 0;
            unsigned char *raw = NULL;
            if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "body_encoded")))
                raw = sf_aws_unbase64(body ? body : "", &len);
            cJSON *b = raw ? cJSON_ParseWithLength((const char *)raw, len) : cJSON_Parse(body ? body : "{}");
            free(raw);
            assert_non_null(b);
            cJSON_AddItemToArray(all, b);
        }
        cJSON_Delete(e);
    }
    free(line);
    fclose(f);
    return all;
}

static int sent_count(const char *target)
{
    cJSON *a = sent(target);
    int n = cJSON_GetArraySize(a);
    cJSON_Delete(a);
    return n;
}

/* The TableInput of the last CreateTable/UpdateTable of `name` (owned by `calls`). */
static const cJSON *sent_table(const cJSON *calls, const char *name)
{
    const cJSON *c, *found = NULL;
    cJSON_ArrayForEach(c, calls) {
        const char *n = str_at(c, "TableInput.Name");
        if (n && strcmp(n, name) == 0) found = cJSON_GetObjectItemCaseSensitive(c, "TableInput");
    }
    return found;
}

/* ---- runs ---------------------------------------------------------------------------------------- */

#define BUCKET "cat"
#define LAKE "s3://" BUCKET "/lake"
#define OUT LAKE "/curated"

#define SCHEMA_VALID                                                                                     \
    "{\"format\":\"parquet\",\"partition_by\":[],\"schema\":{\"type\":\"struct\",\"fields\":["           \
    "{\"name\":\"txn_id\",\"type\":\"string\",\"nullable\":false,\"metadata\":{}},"                      \
    "{\"name\":\"booked\",\"type\":\"date\",\"nullable\":true,\"metadata\":{}},"                         \
    "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"elementType\":\"string\",\"containsNull\":true}," \
    "\"nullable\":true,\"metadata\":{}}]}}"
#define SCHEMA_SUMMARY                                                                         \
    "{\"format\":\"parquet\",\"partition_by\":[],\"schema\":{\"type\":\"struct\",\"fields\":[" \
    "{\"name\":\"month\",\"type\":\"string\",\"nullable\":false,\"metadata\":{}},"             \
    "{\"name\":\"spend\",\"type\":\"decimal(14,2)\",\"nullable\":true,\"metadata\":{}}]}}"

/* Stage, write and publish run `run` of output `out` with the files
 * path=text of `files` (NULL-terminated pairs). */
static void publish_run(const char *out, const char *run, const char *const *files)
{
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    sf_diags d;
    sf_diags_init(&d);
    char *work = NULL, *bucket = NULL, *key = NULL;
    assert_int_equal(sf_lake_s3.stage(ctx, &lake_env, out, run, &work, &d), 0);
    assert_int_equal(sf_aws_s3_parse_uri(work, &bucket, &key), 0);
    for (size_t i = 0; files[i]; i += 2) {
        char *k = sf_fmt("%s/%s", key, files[i]);
        put(bucket, k, files[i + 1]);
        free(k);
    }
    assert_int_equal(sf_lake_s3.publish(ctx, &lake_env, out, work, run, "sha256:x", NULL, &d), 0);
    print_diags(&d);
    assert_int_equal(count_severity(&d, SF_DIAG_ERROR), 0);
    free(work);
    free(bucket);
    free(key);
    sf_diags_clear(&d);
    sf_ctx_free(ctx);
}

static const char *const RUN1[] = {
    "valid/_sparkflow_schema.json",
    SCHEMA_VALID,
    "valid/part-0.parquet",
    "PAR1",
    "valid/_SUCCESS",
    "",
    "transactions/_sparkflow_schema.json",
    SCHEMA_TXN,
    "transactions/month=2024-01/part-0.parquet",
    "PAR1",
    "transactions/month=2024-02/part-0.parquet",
    "PAR1",
    "marts/monthly_summary/_sparkflow_schema.json",
    SCHEMA_SUMMARY,
    "marts/monthly_summary/part-0.parquet",
    "PAR1",
    "unschemed/part-0.parquet",
    "PAR1",
    "report/index.html",
    "<html>",
    NULL,
};

/* run-2: a third month; monthly_summary gone. */
static const char *const RUN2[] = {
    "valid/_sparkflow_schema.json",
    SCHEMA_VALID,
    "valid/part-0.parquet",
    "PAR1",
    "transactions/_sparkflow_schema.json",
    SCHEMA_TXN,
    "transactions/month=2024-01/part-0.parquet",
    "PAR1",
    "transactions/month=2024-02/part-0.parquet",
    "PAR1",
    "transactions/month=2024-03/part-0.parquet",
    "PAR1",
    NULL,
};

static sf_catalog_spec spec_for(const char *pipeline, const char *out, const char *db, const char *wg)
{
    return (sf_catalog_spec){.pipeline = pipeline,
                             .lake = LAKE,
                             .output_uri = out,
                             .database = db,
                             .workgroup = wg,
                             .bytes_scanned_cutoff = CUTOFF};
}

static int cat_sync(const sf_catalog_spec *spec, sf_catalog_state *st, sf_diags *d)
{
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    int rc = sf_catalog_glue.sync(ctx, &lake_env, spec, st, d);
    sf_ctx_free(ctx);
    return rc;
}

static int cat_remove(const sf_catalog_spec *spec, sf_diags *d)
{
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    int rc = sf_catalog_glue.remove(ctx, &lake_env, spec, d);
    sf_ctx_free(ctx);
    return rc;
}

static const char *state_location(const sf_catalog_state *st, const char *name)
{
    for (size_t i = 0; i < st->n_tables; i++)
        if (strcmp(st->tables[i].name, name) == 0) return st->tables[i].location;
    return NULL;
}

static void test_registered(void **state)
{
    (void)state;
    assert_ptr_equal(sf_catalog_for_lake("s3://bucket/lake"), &sf_catalog_glue);
    assert_ptr_equal(sf_catalog_for_lake("S3://bucket/lake"), &sf_catalog_glue);
    assert_string_equal(sf_catalog_glue.name, "glue");
    assert_true(sf_catalog_glue.workgroups);
    assert_false(sf_catalog_glue.follows_publication);
    assert_false(sf_catalog_glue.kept_with_data);
    /* where: the database's name, for s3:// lakes only */
    sf_diags d;
    sf_diags_init(&d);
    sf_catalog_spec spec = {.pipeline = "p", .lake = "s3://b/lake", .output_uri = "s3://b/lake/out", .database = "p"};
    char *w = sf_catalog_glue.where(&spec, &d);
    assert_string_equal(w, "p");
    free(w);
    assert_int_equal(d.n, 0);
    spec.lake = "file:///tmp/lake";
    assert_null(sf_catalog_glue.where(&spec, &d));
    const sf_diag *e = diag_with(&d, SF_DIAG_ERROR, "file:///tmp/lake");
    assert_non_null(e);
    char *p = path_of(e);
    assert_string_equal(p, "lake");
    free(p);
    sf_diags_clear(&d);
}

/* First sync: what is sent, what Glue and Athena then hold. */
static void test_sync_creates(void **state)
{
    (void)state;
    if (!have_moto) skip();
    create_bucket(BUCKET);
    publish_run(OUT, "run-1", RUN1);
    sf_catalog_spec spec = spec_for("finances", OUT, "finances", "sparkflow-finances");
    sf_diags d;
    sf_diags_init(&d);
    sf_catalog_state st;
    sent_reset();
    int rc = cat_sync(&spec, &st, &d);
    if (rc != 0 || d.n != 1) print_diags(&d);
    assert_int_equal(rc, 0);
    /* the table without a schema file: left out, with a warning naming it and the fix */
    assert_int_equal(count_severity(&d, SF_DIAG_ERROR), 0);
    assert_int_equal(count_severity(&d, SF_DIAG_WARNING), 1);
    const sf_diag *w = diag_with(&d, SF_DIAG_WARNING, "unschemed");
    assert_non_null(w);
    assert_non_null(strstr(w->detail, "sparkflow_jobs.contract.write_schema"));
    sf_diags_clear(&d);

    assert_string_equal(st.database, "finances");
    assert_string_equal(st.workgroup, "sparkflow-finances");
    assert_int_equal(st.n_tables, 3);
    const char *run1 = "s3://cat/lake/curated/_sparkflow/runs/run-1/";
    char *want = sf_fmt("%stransactions/", run1);
    assert_string_equal(state_location(&st, "transactions"), want);
    free(want);
    want = sf_fmt("%smarts/monthly_summary/", run1);
    assert_string_equal(state_location(&st, "monthly_summary"), want);
    free(want);
    assert_non_null(state_location(&st, "valid"));
    sf_catalog_state_clear(&st);

    /* Sent: the database with our marker (parameters and tags). */
    cJSON *calls = sent("AWSGlue.CreateDatabase");
    assert_int_equal(cJSON_GetArraySize(calls), 1);
    const cJSON *c = cJSON_GetArrayItem(calls, 0);
    assert_string_equal(str_at(c, "DatabaseInput.Name"), "finances");
    assert_string_equal(str_at(c, "DatabaseInput.Parameters.sparkflow:managed"), "true");
    assert_string_equal(str_at(c, "DatabaseInput.Parameters.sparkflow:pipeline"), "finances");
    assert_non_null(strstr(str_at(c, "DatabaseInput.Description"), "finances"));
    assert_string_equal(str_at(c, "Tags.sparkflow:managed"), "true");
    assert_string_equal(str_at(c, "Tags.sparkflow:pipeline"), "finances");
    assert_string_equal(str_at(c, "Tags.team"), "household"); /* the provider's default tags */
    cJSON_Delete(calls);

    /* Sent: three CreateTable, none for the table without schema. */
    calls = sent("AWSGlue.CreateTable");
    assert_int_equal(cJSON_GetArraySize(calls), 3);
    assert_int_equal(sent_count("AWSGlue.UpdateTable"), 0);
    assert_null(sent_table(calls, "unschemed"));
    const cJSON *t = sent_table(calls, "transactions");
    assert_non_null(t);
    assert_string_equal(str_at(t, "TableType"), "EXTERNAL_TABLE");
    assert_string_equal(str_at(t, "StorageDescriptor.Location"),
                        "s3://cat/lake/curated/_sparkflow/runs/run-1/transactions/");
    assert_string_equal(str_at(t, "StorageDescriptor.SerdeInfo.SerializationLibrary"),
                        "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe");
    assert_string_equal(str_at(t, "StorageDescriptor.Columns.0.Name"), "txn_id");
    assert_string_equal(str_at(t, "StorageDescriptor.Columns.1.Name"), "amount");
    assert_string_equal(str_at(t, "StorageDescriptor.Columns.1.Type"), "decimal(12,2)");
    assert_string_equal(str_at(t, "StorageDescriptor.Columns.2.Name"), "category");
    assert_null(str_at(t, "StorageDescriptor.Columns.3.Name"));
    assert_string_equal(str_at(t, "PartitionKeys.0.Name"), "month");
    assert_string_equal(param(t, "projection.month.range"), "2024-01,2024-02");
    assert_string_equal(param(t, "storage.location.template"),
                        "s3://cat/lake/curated/_sparkflow/runs/run-1/transactions/month=${month}");
    t = sent_table(calls, "valid");
    assert_string_equal(str_at(t, "StorageDescriptor.Columns.2.Type"), "array<string>");
    assert_null(str_at(t, "PartitionKeys.0.Name"));
    assert_null(param(t, "projection.enabled"));
    cJSON_Delete(calls);

    /* Sent: the workgroup, with every setting and our tags. */
    calls = sent("AmazonAthena.CreateWorkGroup");
    assert_int_equal(cJSON_GetArraySize(calls), 1);
    c = cJSON_GetArrayItem(calls, 0);
    assert_string_equal(str_at(c, "Name"), "sparkflow-finances");
    assert_string_equal(str_at(c, "Configuration.ResultConfiguration.OutputLocation"),
                        "s3://cat/lake/_sparkflow/athena-results/finances/");
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(c, "Configuration");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, "EnforceWorkGroupConfiguration")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, "PublishCloudWatchMetricsEnabled")));
    assert_true(cJSON_GetObjectItemCaseSensitive(cfg, "BytesScannedCutoffPerQuery")->valuedouble == (double)CUTOFF);
    assert_string_equal(str_at(c, "Tags.0.Key"), "team");
    bool tagged = false;
    const cJSON *tag;
    cJSON_ArrayForEach(tag, cJSON_GetObjectItemCaseSensitive(c, "Tags"))
        tagged |= strcmp(str_at(tag, "Key"), SF_GLUE_MANAGED) == 0 && strcmp(str_at(tag, "Value"), "true") == 0;
    assert_true(tagged);
    cJSON_Delete(calls);

    /* Held: Glue and Athena read back what was sent. */
    cJSON *back = get_table("finances", "transactions");
    assert_non_null(back);
    assert_string_equal(str_at(back, "StorageDescriptor.Location"),
                        "s3://cat/lake/curated/_sparkflow/runs/run-1/transactions/");
    assert_string_equal(param(back, "projection.month.type"), "date");
    assert_string_equal(param(back, "classification"), "parquet");
    cJSON_Delete(back);
    char *names = table_names("finances");
    assert_string_equal(names, "monthly_summary,transactions,valid");
    free(names);
    cJSON *wg = get_workgroup("sparkflow-finances");
    assert_non_null(wg);
    assert_true(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(wg, "Configuration"),
                                                 "BytesScannedCutoffPerQuery")
                    ->valuedouble == (double)CUTOFF);
    cJSON_Delete(wg);

    /* An Athena query runs in the workgroup (moto runs no SQL: it accepts it). */
    cJSON *q = NULL;
    assert_int_equal(json_call("athena", "AmazonAthena", "StartQueryExecution",
                               "{\"QueryString\":\"select month, count(*) from transactions group by 1\","
                               "\"WorkGroup\":\"sparkflow-finances\",\"QueryExecutionContext\":{\"Database\":"
                               "\"finances\"}}",
                               &q, NULL),
                     0);
    assert_non_null(str_at(q, "QueryExecutionId"));
    cJSON_Delete(q);
}

/* Second sync: the same tables updated in place, nothing else sent. */
static void test_sync_again_is_stable(void **state)
{
    (void)state;
    if (!have_moto) skip();
    sf_catalog_spec spec = spec_for("finances", OUT, "finances", "sparkflow-finances");
    sf_diags d;
    sf_diags_init(&d);
    sf_catalog_state st;
    sent_reset();
    assert_int_equal(cat_sync(&spec, &st, &d), 0);
    sf_catalog_state_clear(&st);
    sf_diags_clear(&d);
    assert_int_equal(sent_count("AWSGlue.CreateDatabase"), 0);
    assert_int_equal(sent_count("AWSGlue.CreateTable"), 0);
    assert_int_equal(sent_count("AWSGlue.DeleteTable"), 0);
    cJSON *calls = sent("AWSGlue.UpdateTable");
    assert_int_equal(cJSON_GetArraySize(calls), 3);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(calls, 0), "SkipArchive")));
    cJSON_Delete(calls);
    /* the workgroup holds its settings already: no update */
    assert_int_equal(sent_count("AmazonAthena.CreateWorkGroup"), 0);
    assert_int_equal(sent_count("AmazonAthena.UpdateWorkGroup"), 0);
    char *names = table_names("finances");
    assert_string_equal(names, "monthly_summary,transactions,valid");
    free(names);
}

/* A second run: locations move, a dropped table goes, another's stays. */
static void test_sync_follows_runs(void **state)
{
    (void)state;
    if (!have_moto) skip();
    /* a table of the user's own in our database */
    cJSON_Delete(glue("CreateTable", "{\"DatabaseName\":\"finances\",\"TableInput\":{\"Name\":\"mine\","
                                     "\"StorageDescriptor\":{\"Location\":\"s3://cat/mine/\"}}}"));
    publish_run(OUT, "run-2", RUN2);
    sf_catalog_spec spec = spec_for("finances", OUT, "finances", "sparkflow-finances");
    sf_diags d;
    sf_diags_init(&d);
    sf_catalog_state st;
    sent_reset();
    int rc = cat_sync(&spec, &st, &d);
    print_diags(&d);
    assert_int_equal(rc, 0);
    assert_int_equal(d.n, 0);
    assert_int_equal(st.n_tables, 2);
    assert_string_equal(state_location(&st, "transactions"),
                        "s3://cat/lake/curated/_sparkflow/runs/run-2/transactions/");
    sf_catalog_state_clear(&st);
    sf_diags_clear(&d);
    cJSON *calls = sent("AWSGlue.DeleteTable");
    assert_int_equal(cJSON_GetArraySize(calls), 1);
    assert_string_equal(str_at(cJSON_GetArrayItem(calls, 0), "Name"), "monthly_summary");
    cJSON_Delete(calls);
    char *names = table_names("finances");
    assert_string_equal(names, "mine,transactions,valid");
    free(names);
    cJSON *t = get_table("finances", "transactions");
    assert_string_equal(str_at(t, "StorageDescriptor.Location"),
                        "s3://cat/lake/curated/_sparkflow/runs/run-2/transactions/");
    assert_string_equal(param(t, "projection.month.range"), "2024-01,2024-03");
    assert_string_equal(param(t, SF_GLUE_RUN), "run-2");
    cJSON_Delete(t);
    t = get_table("finances", "mine");
    assert_string_equal(str_at(t, "StorageDescriptor.Location"), "s3://cat/mine/");
    cJSON_Delete(t);
}

/* A failed sync names the table and the cause; the next one repairs. */
static void test_failed_sync_repairs(void **state)
{
    (void)state;
    if (!have_moto) skip();
    /* run-3's valid schema file is broken: valid cannot be written, and its
     * run-2 location is gone, so it is dropped rather than left stale */
    const char *const run3[] = {
        "valid/_sparkflow_schema.json",
        "{\"schema\": 1}",
        "valid/part-0.parquet",
        "PAR1",
        "transactions/_sparkflow_schema.json",
        SCHEMA_TXN,
        "transactions/month=2024-03/part-0.parquet",
        "PAR1",
        NULL,
    };
    publish_run(OUT, "run-3", run3);
    sf_catalog_spec spec = spec_for("finances", OUT, "finances", "sparkflow-finances");
    sf_diags d;
    sf_diags_init(&d);
    sf_catalog_state st;
    assert_int_equal(cat_sync(&spec, &st, &d), -1);
    assert_null(st.tables);
    const sf_diag *e = diag_with(&d, SF_DIAG_ERROR, "table valid");
    assert_non_null(e);
    assert_non_null(strstr(e->detail, "runs/run-3/valid/_sparkflow_schema.json"));
    sf_diags_clear(&d);
    char *names = table_names("finances");
    assert_string_equal(names, "mine,transactions");
    free(names);
    cJSON *t = get_table("finances", "transactions");
    assert_string_equal(str_at(t, "StorageDescriptor.Location"),
                        "s3://cat/lake/curated/_sparkflow/runs/run-3/transactions/");
    cJSON_Delete(t);

    /* The job is fixed; run-4 publishes; one sync repairs. */
    publish_run(OUT, "run-4", RUN2);
    assert_int_equal(cat_sync(&spec, &st, &d), 0);
    print_diags(&d);
    assert_int_equal(d.n, 0);
    assert_int_equal(st.n_tables, 2);
    sf_catalog_state_clear(&st);
    names = table_names("finances");
    assert_string_equal(names, "mine,transactions,valid");
    free(names);
    t = get_table("finances", "valid");
    assert_string_equal(str_at(t, "StorageDescriptor.Location"), "s3://cat/lake/curated/_sparkflow/runs/run-4/valid/");
    cJSON_Delete(t);
    sf_diags_clear(&d);
}

/* A changed cutoff is an UpdateWorkGroup; a too small one is refused. */
static void test_workgroup_update(void **state)
{
    (void)state;
    if (!have_moto) skip();
    sf_catalog_spec spec = spec_for("finances", OUT, "finances", "sparkflow-finances");
    spec.bytes_scanned_cutoff = 2 * CUTOFF;
    sf_diags d;
    sf_diags_init(&d);
    sf_catalog_state st;
    sent_reset();
    /* moto does not implement UpdateWorkGroup: the sync fails naming the
     * workgroup, and what it sent is checked */
    assert_int_equal(cat_sync(&spec, &st, &d), -1);
    const sf_diag *e = diag_with(&d, SF_DIAG_ERROR, "Cannot update the Athena workgroup sparkflow-finances");
    assert_non_null(e);
    assert_non_null(strstr(e->detail, "UpdateWorkGroup"));
    char *p = path_of(e);
    assert_string_equal(p, "catalog.workgroup");
    free(p);
    sf_diags_clear(&d);
    cJSON *calls = sent("AmazonAthena.UpdateWorkGroup");
    assert_true(cJSON_GetArraySize(calls) >= 1); /* retried: a 500 */
    const cJSON *c = cJSON_GetArrayItem(calls, 0);
    assert_string_equal(str_at(c, "WorkGroup"), "sparkflow-finances");
    assert_string_equal(str_at(c, "State"), "ENABLED");
    const cJSON *up = cJSON_GetObjectItemCaseSensitive(c, "ConfigurationUpdates");
    assert_true(cJSON_GetObjectItemCaseSensitive(up, "BytesScannedCutoffPerQuery")->valuedouble ==
                (double)(2 * CUTOFF));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(up, "EnforceWorkGroupConfiguration")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(up, "PublishCloudWatchMetricsEnabled")));
    assert_string_equal(str_at(up, "ResultConfigurationUpdates.OutputLocation"),
                        "s3://cat/lake/_sparkflow/athena-results/finances/");
    assert_null(cJSON_GetObjectItemCaseSensitive(up, "RemoveBytesScannedCutoffPerQuery"));
    cJSON_Delete(calls);
    /* the tables were synced all the same */
    assert_int_equal(sent_count("AWSGlue.UpdateTable"), 2);

    /* cutoff 0: the update removes the cutoff */
    spec.bytes_scanned_cutoff = 0;
    sent_reset();
    assert_int_equal(cat_sync(&spec, &st, &d), -1);
    sf_diags_clear(&d);
    calls = sent("AmazonAthena.UpdateWorkGroup");
    up = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(calls, 0), "ConfigurationUpdates");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(up, "RemoveBytesScannedCutoffPerQuery")));
    assert_null(cJSON_GetObjectItemCaseSensitive(up, "BytesScannedCutoffPerQuery"));
    cJSON_Delete(calls);

    /* below Athena's minimum: refused before any call, at the attribute */
    spec.bytes_scanned_cutoff = 1024;
    sent_reset();
    assert_int_equal(cat_sync(&spec, &st, &d), -1);
    e = diag_with(&d, SF_DIAG_ERROR, "cutoff");
    assert_non_null(e);
    p = path_of(e);
    assert_string_equal(p, "catalog.bytes_scanned_cutoff");
    free(p);
    assert_int_equal(sent_count("AWSGlue.GetDatabase"), 0);
    sf_diags_clear(&d);
}

/* What is not SparkFlow's (for this pipeline) is refused and never touched. */
static void test_others_untouched(void **state)
{
    (void)state;
    if (!have_moto) skip();
    cJSON_Delete(glue("CreateDatabase", "{\"DatabaseInput\":{\"Name\":\"analytics\"}}"));
    cJSON_Delete(glue("CreateTable", "{\"DatabaseName\":\"analytics\",\"TableInput\":{\"Name\":\"valid\"}}"));
    assert_int_equal(json_call("athena", "AmazonAthena", "CreateWorkGroup", "{\"Name\":\"team-wg\"}", NULL, NULL), 0);
    sf_diags d;
    sf_diags_init(&d);
    sf_catalog_state st;

    /* a database without our marker: refused; remove leaves it (and drops
     * the workgroup sync made) */
    sf_catalog_spec spec = spec_for("finances", OUT, "analytics", "sparkflow-other");
    sent_reset();
    assert_int_equal(cat_sync(&spec, &st, &d), -1);
    const sf_diag *e = diag_with(&d, SF_DIAG_ERROR, "Glue database belongs to someone else");
    assert_non_null(e);
    assert_non_null(strstr(e->detail, "\"analytics\""));
    char *p = path_of(e);
    assert_string_equal(p, "catalog.database");
    free(p);
    sf_diags_clear(&d);
    assert_int_equal(sent_count("AWSGlue.CreateTable") + sent_count("AWSGlue.UpdateTable"), 0);
    assert_int_equal(cat_remove(&spec, &d), 0);
    assert_non_null(diag_with(&d, SF_DIAG_WARNING, "Glue database left in place"));
    sf_diags_clear(&d);
    assert_true(db_exists("analytics"));
    char *names = table_names("analytics");
    assert_string_equal(names, "valid");
    free(names);

    /* another pipeline's database: the same */
    spec = spec_for("Savings Plan", LAKE "/savings", "finances", "sparkflow-other");
    sent_reset();
    assert_int_equal(cat_sync(&spec, &st, &d), -1);
    e = diag_with(&d, SF_DIAG_ERROR, "Glue database belongs to someone else");
    assert_non_null(e);
    assert_non_null(strstr(e->detail, "pipeline \"finances\""));
    sf_diags_clear(&d);
    assert_int_equal(sent_count("AWSGlue.CreateTable") + sent_count("AWSGlue.UpdateTable"), 0);
    assert_int_equal(cat_remove(&spec, &d), 0);
    assert_non_null(diag_with(&d, SF_DIAG_WARNING, "Glue database left in place"));
    sf_diags_clear(&d);
    names = table_names("finances");
    assert_string_equal(names, "mine,transactions,valid");
    free(names);
    assert_null(get_workgroup("sparkflow-other"));

    /* a workgroup without our tags: refused, never changed nor deleted */
    spec = spec_for("finances", OUT, "finances", "team-wg");
    sent_reset();
    assert_int_equal(cat_sync(&spec, &st, &d), -1);
    e = diag_with(&d, SF_DIAG_ERROR, "Athena workgroup belongs to someone else");
    assert_non_null(e);
    p = path_of(e);
    assert_string_equal(p, "catalog.workgroup");
    free(p);
    sf_diags_clear(&d);
    assert_int_equal(sent_count("AmazonAthena.UpdateWorkGroup"), 0);
    spec = spec_for("finances", OUT, "analytics", "team-wg");
    assert_int_equal(cat_remove(&spec, &d), 0);
    assert_non_null(diag_with(&d, SF_DIAG_WARNING, "Athena workgroup left in place"));
    sf_diags_clear(&d);
    cJSON *wg = get_workgroup("team-wg");
    assert_non_null(wg);
    cJSON_Delete(wg);
    assert_int_equal(sent_count("AmazonAthena.DeleteWorkGroup"), 0);
}

/* Two pipelines in one lake: two databases; one's remove leaves the other's. */
static void test_two_pipelines(void **state)
{
    (void)state;
    if (!have_moto) skip();
    publish_run(LAKE "/savings", "s-1", RUN2);
    sf_catalog_spec a = spec_for("finances", OUT, "finances", "sparkflow-finances");
    sf_catalog_spec b = spec_for("Savings Plan", LAKE "/savings", "savings_plan", "sparkflow-savings");
    sf_diags d;
    sf_diags_init(&d);
    sf_catalog_state st;
    assert_int_equal(cat_sync(&b, &st, &d), 0);
    assert_string_equal(state_location(&st, "valid"), "s3://cat/lake/savings/_sparkflow/runs/s-1/valid/");
    sf_catalog_state_clear(&st);
    sf_diags_clear(&d);

    /* remove a: its tables go, "mine" (the user's) keeps its database */
    sent_reset();
    assert_int_equal(cat_remove(&a, &d), 0);
    const sf_diag *w = diag_with(&d, SF_DIAG_WARNING, "(mine)");
    assert_non_null(w);
    sf_diags_clear(&d);
    char *names = table_names("finances");
    assert_string_equal(names, "mine");
    free(names);
    assert_int_equal(sent_count("AWSGlue.DeleteDatabase"), 0);
    cJSON *calls = sent("AmazonAthena.DeleteWorkGroup");
    assert_int_equal(cJSON_GetArraySize(calls), 1);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(calls, 0), "RecursiveDeleteOption")));
    cJSON_Delete(calls);
    cJSON *wg = get_workgroup("sparkflow-finances");
    assert_null(wg);
    /* b is whole */
    names = table_names("savings_plan");
    assert_string_equal(names, "transactions,valid");
    free(names);
    wg = get_workgroup("sparkflow-savings");
    assert_non_null(wg);
    cJSON_Delete(wg);

    /* the user drops their table: the next remove drops the database; a
     * third remove finds nothing and succeeds */
    cJSON_Delete(glue("DeleteTable", "{\"DatabaseName\":\"finances\",\"Name\":\"mine\"}"));
    assert_int_equal(cat_remove(&a, &d), 0);
    assert_int_equal(d.n, 0);
    assert_false(db_exists("finances"));
    sent_reset();
    assert_int_equal(cat_remove(&a, &d), 0);
    assert_int_equal(d.n, 0);
    assert_int_equal(sent_count("AWSGlue.DeleteDatabase") + sent_count("AmazonAthena.DeleteWorkGroup"), 0);
    /* the data stays */
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    sf_published pub = {0};
    assert_int_equal(sf_lake_s3.published(ctx, &lake_env, OUT, &pub, &d), 0);
    assert_string_equal(pub.run_id, "run-4");
    sf_published_clear(&pub);
    sf_ctx_free(ctx);

    assert_int_equal(cat_remove(&b, &d), 0);
    assert_int_equal(d.n, 0);
    assert_false(db_exists("savings_plan"));
    assert_null(get_workgroup("sparkflow-savings"));
    sf_diags_clear(&d);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sf-catalog-glue-XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    snprintf(recording, sizeof recording, "%s/requests.jsonl", tmpdir);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    setenv("SPARKFLOW_AWS_RETRY_BASE_MS", "10", 1);
    setenv("MOTO_ENABLE_RECORDING", "True", 1);
    setenv("MOTO_RECORDER_FILEPATH", recording, 1);
    have_moto = aws_moto_start(&moto) == 0;
    if (!have_moto) fprintf(stderr, "moto not available: the moto tests are skipped\n");
    sf_aws_config cfg = {.max_retries = 1};
    cfg.region = sf_strdup("us-east-1");
    cfg.access_key = sf_strdup("AKIDCATALOGTEST");
    cfg.secret_key = sf_strdup("catalog/secret");
    cfg.default_tags = calloc(2, sizeof *cfg.default_tags);
    cfg.default_tags[0] = (sf_header){sf_strdup("team"), sf_strdup("household")};
    cfg.n_default_tags = 1;
    if (have_moto) {
        cfg.endpoint_s3 = sf_strdup(moto.url);
        cfg.endpoint_sts = sf_strdup(moto.url);
        /* Glue and Athena have no endpoint setting of their own (yet): the
         * generic variable reaches them */
        setenv("AWS_ENDPOINT_URL", moto.url, 1);
    }
    aws = sf_aws_client_new(&cfg);
    lake_env.aws = aws;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    sf_aws_client_free(aws);
    aws_moto_stop(&moto);
    char *cmd = sf_fmt("rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
    free(cmd);
    return 0;
}

int main(void)
{
    /* The moto tests run in order: each starts from what the one before left. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_schema_file),
        cmocka_unit_test(test_find_tables),
        cmocka_unit_test(test_table_input),
        cmocka_unit_test(test_registered),
        cmocka_unit_test(test_sync_creates),
        cmocka_unit_test(test_sync_again_is_stable),
        cmocka_unit_test(test_sync_follows_runs),
        cmocka_unit_test(test_failed_sync_repairs),
        cmocka_unit_test(test_workgroup_update),
        cmocka_unit_test(test_others_untouched),
        cmocka_unit_test(test_two_pipelines),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
