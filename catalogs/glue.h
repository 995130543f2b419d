/* glue.h — the Glue + Athena catalog of s3:// lakes (sf_catalog_glue,
 * catalog.h), in pieces:
 *
 *   glue.c         sync and remove: which tables, written how, dropped when
 *   glue_db.c      the Glue database: calls, marker, table list, removal
 *   glue_find.c    which tables a published run holds, from its listing
 *   glue_schema.c  a table's _sparkflow_schema.json → Glue columns and types
 *   glue_table.c   the TableInput of one table, partition projection included
 *   athena.c       the pipeline's Athena workgroup
 *
 * (The plan-time checks of its names and cutoff are catalog.h's.)
 *
 * What SparkFlow makes carries a marker, and nothing without it is ever
 * changed or deleted: the database has the parameters (and tags)
 * SF_GLUE_MANAGED = "true" and SF_GLUE_PIPELINE = the pipeline; every table
 * the same parameters; the workgroup the same two tags.
 */
#ifndef SF_CATALOG_GLUE_H
#define SF_CATALOG_GLUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/aws.h"
#include "catalogs/catalog.h"

#define SF_GLUE_MANAGED "sparkflow:managed"
#define SF_GLUE_PIPELINE "sparkflow:pipeline"
#define SF_GLUE_RUN "sparkflow:run" /* a table's: the run it reads */
#define SF_GLUE_DIR "sparkflow:dir" /* a table's: its directory in the run */
#define SF_GLUE_SCHEMA_FILE "_sparkflow_schema.json"

/* An AWS error as an error diagnostic at `path` (NULL: none) whose summary
 * (printf) names what failed; the detail is the AWS error's text
 * (sf_aws_diag_error).  *err is cleared.  (glue.c) */
void sf_glue_diag(sf_diags *diags, const char *path, sf_aws_error *err, const char *summary_fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- tables of a published run (glue_find.c) ------------------------------------- */

/* A Hive-style partition key of a table and the values its directories
 * hold (sorted, distinct). */
typedef struct sf_glue_part {
    char *key;
    char **values;
    size_t n_values;
} sf_glue_part;

/* A table found in a run's listing. */
typedef struct sf_glue_found {
    char *dir;           /* its directory, relative to the run, no trailing '/' */
    char *name;          /* sf_catalog_default_name of the last segment */
    bool has_schema;     /* SF_GLUE_SCHEMA_FILE lies in dir */
    sf_glue_part *parts; /* in path order; none: not partitioned */
    size_t n_parts;
} sf_glue_found;

typedef struct sf_glue_found_list {
    sf_glue_found *items; /* sorted by name */
    size_t n;
    char **empty; /* directories with a schema file but no Parquet file (sorted) */
    size_t n_empty;
} sf_glue_found_list;

void sf_glue_found_list_clear(sf_glue_found_list *l);

/* The tables among the object keys of one run, given relative to the run
 * (catalog.h says what a table is).  0, or -1 with error diagnostics: two
 * directories with one table name, a table whose files lie at different
 * partition depths or keys.  *out is filled either way (clear it). */
int sf_glue_find_tables(const char *const *rel_keys, size_t n, sf_glue_found_list *out, sf_diags *diags);

/* ---- columns (glue_schema.c) ----------------------------------------------------- */

typedef struct sf_glue_column {
    char *name;    /* lower case, as Glue keeps it */
    char *type;    /* Hive type: bigint, decimal(12,2), array<struct<a:int>>... */
    char *comment; /* the Spark field's metadata "comment", or NULL */
} sf_glue_column;

typedef struct sf_glue_schema {
    sf_glue_column *columns; /* the data columns, in schema order */
    size_t n_columns;
    sf_glue_column *partitions; /* the partition_by columns, in that order */
    size_t n_partitions;
} sf_glue_schema;

void sf_glue_schema_clear(sf_glue_schema *s);

/* The Hive/Glue type of a Spark type as StructType.jsonValue() writes it
 * ("long", "decimal(12,2)", {"type": "array", ...}).  malloc'd, or NULL
 * with *why (malloc'd) naming what has no Glue type. */
char *sf_glue_type(const cJSON *spark_type, char **why);

/* A _sparkflow_schema.json as columns.  0, or -1 with *why (malloc'd):
 * not JSON, not the format, a type with no Glue type, a partition column
 * missing from the schema. */
int sf_glue_schema_parse(const char *json, size_t len, sf_glue_schema *out, char **why);

/* ---- one table (glue_table.c) ----------------------------------------------------- */

/* The TableInput of table t of run `run_id` whose files lie under
 * `location` (s3://..., no trailing '/'): external Parquet table, columns
 * and partition keys from s, partition projection over the values found,
 * SparkFlow's parameters.  NULL with *why (malloc'd) when t's partition
 * keys are not s's partition_by, or a value cannot be projected. */
cJSON *sf_glue_table_input(const sf_catalog_spec *spec, const sf_glue_found *t, const sf_glue_schema *s,
                           const char *location, const char *run_id, char **why);

/* ---- the database (glue_db.c) ----------------------------------------------------- */

/* A Glue JSON 1.1 call (target AWSGlue); `body` is taken.  *out as
 * sf_aws_json_call. */
int sf_glue_call(sf_aws_client *c, sf_ctx *ctx, const char *op, cJSON *body, bool idempotent, cJSON **out,
                 sf_aws_error *err);
/* The same, for a call whose answer is not needed. */
int sf_glue_do(sf_aws_client *c, sf_ctx *ctx, const char *op, cJSON *body, bool idempotent, sf_aws_error *err);

/* spec->database, created when missing (with SparkFlow's parameters and
 * tags).  0 when it is this pipeline's; -1 with an error diagnostic at
 * catalog.database when it cannot be made or read, or is someone else's. */
int sf_glue_db_ensure(sf_aws_client *c, sf_ctx *ctx, const sf_catalog_spec *spec, sf_diags *diags);

/* Drop our tables of spec->database, then the database when it is this
 * pipeline's and holds nothing else (else a warning says why it stays).
 * Missing is success. */
int sf_glue_db_remove(sf_aws_client *c, sf_ctx *ctx, const sf_catalog_spec *spec, sf_diags *diags);

/* A table a database holds. */
typedef struct sf_glue_had {
    char *name;
    bool ours; /* has SparkFlow's parameters */
    bool kept; /* written by this sync (the caller's mark) */
} sf_glue_had;

typedef struct sf_glue_tables {
    sf_glue_had *items;
    size_t n;
} sf_glue_tables;

void sf_glue_tables_clear(sf_glue_tables *t);
/* The table named `name`, or NULL. */
sf_glue_had *sf_glue_tables_find(sf_glue_tables *t, const char *name);
/* Every table of database `db` (GetTables, all pages); *out empty on -1. */
int sf_glue_tables_get(sf_aws_client *c, sf_ctx *ctx, const char *db, sf_glue_tables *out, sf_aws_error *err);
/* DeleteTable; a table already gone is success. */
int sf_glue_table_delete(sf_aws_client *c, sf_ctx *ctx, const char *db, const char *name, sf_aws_error *err);

/* ---- the workgroup (athena.c) ---------------------------------------------------- */

/* Make the workgroup spec->workgroup exist with the settings SparkFlow
 * holds it to: results under `results_uri`, settings enforced, CloudWatch
 * metrics, the cutoff.  Refuses a workgroup SparkFlow did not make.  0, or
 * -1 with error diagnostics naming the workgroup and the AWS error. */
int sf_athena_workgroup_sync(sf_aws_client *c, sf_ctx *ctx, const sf_catalog_spec *spec, const char *results_uri,
                             sf_diags *diags);

/* Delete the workgroup (with its saved queries) when SparkFlow made it for
 * this pipeline; missing is success, another's is left with a warning. */
int sf_athena_workgroup_remove(sf_aws_client *c, sf_ctx *ctx, const sf_catalog_spec *spec, sf_diags *diags);

#endif
