/* catalog.h — where the published tables are queried: a catalog per lake.
 *
 * A run publishes Parquet tables into the lake (lakes/lake.h); a catalog
 * makes them queryable with SQL the moment the publication is done:
 *
 *   file://  a DuckDB database file in the lake (catalogs/duckdb.c): one
 *            view per table, over the published output's stable path, so
 *            the views follow every later publication with nothing to do
 *   s3://    a Glue database with one table per published table, queried
 *            from an Athena workgroup made for the pipeline, with a
 *            bytes-scanned cutoff (catalogs/glue.c); table locations name
 *            the published run, so sync runs after each publication
 *
 * The tables are found in what the run published, not declared: a table is
 * a directory holding Parquet files or Hive-style `key=value` partition
 * directories (whose keys become partition columns); directories whose
 * name starts with '_' or '.' are SparkFlow's or Spark's own and are
 * skipped.  A table's name is its directory's last segment, made a legal
 * name (catalog_name.c).  Columns come from the files: DuckDB reads the
 * Parquet footers itself; Glue takes the `_sparkflow_schema.json` a job
 * writes next to each table (sparkflow_jobs.contract.write_schema: Spark's
 * own schema JSON, so it cannot drift from what the job wrote):
 *
 *   {"format": "parquet", "partition_by": ["month"],
 *    "schema": {"type": "struct", "fields": [{"name": ..., "type": ...,
 *               "nullable": ..., "metadata": {}}, ...]}}
 *
 * where "schema" is pyspark's StructType.jsonValue() of the DataFrame
 * written, partition columns included (they are not in the files).
 *
 * A catalog never owns data: removing it drops the database (views, Glue
 * tables, the workgroup), never a published file.  Every call is
 * idempotent: sync after a failed sync repairs, with no duplicate and no
 * stale location left; remove of what is not there is success.
 */
#ifndef SF_CATALOG_H
#define SF_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/ctx.h"
#include "lakes/lake.h"
#include "provider/diag.h"

/* What a pipeline asks of its catalog.  Strings borrowed from the caller. */
typedef struct sf_catalog_spec {
    const char *pipeline;         /* the pipeline's name, for messages and tags */
    const char *lake;             /* the lake's root URI */
    const char *output_uri;       /* the published output (lake + output) */
    const char *database;         /* a legal name (sf_catalog_check_name) */
    const char *workgroup;        /* Athena workgroup (s3); ignored by DuckDB */
    int64_t bytes_scanned_cutoff; /* Athena per-query cutoff, bytes; 0 = none */
} sf_catalog_spec;

/* One table the catalog holds. */
typedef struct sf_catalog_table {
    char *name;     /* as queried */
    char *location; /* the URI its data is read from */
} sf_catalog_table;

/* What a sync made.  Owned; release with sf_catalog_state_clear. */
typedef struct sf_catalog_state {
    char *database;  /* DuckDB: the database file's absolute path; Glue: the database name */
    char *workgroup; /* Athena workgroup; NULL for DuckDB */
    sf_catalog_table *tables;
    size_t n_tables;
} sf_catalog_state;

void sf_catalog_state_clear(sf_catalog_state *s);

typedef struct sf_catalog sf_catalog;
struct sf_catalog {
    const char *name;         /* "duckdb", "glue" */
    const char *lake_scheme;  /* the lake it catalogs: "file", "s3" */
    bool workgroups;          /* it makes a query workgroup (spec->workgroup) */
    bool follows_publication; /* its tables read the output's stable path: a
                                 later publication needs no sync */
    bool kept_with_data;      /* it is a file in the lake: destroy keeps it
                                 while it keeps the outputs */
    /* Where a person points their query tool: the DuckDB file's path, the
     * Glue database's name (malloc'd); NULL with a diagnostic when spec's
     * URIs are not this catalog's lake's.  Known at plan. */
    char *(*where)(const sf_catalog_spec *spec, sf_diags *diags);
    /* Make the catalog hold exactly the tables published at spec->output_uri
     * (creating the database, and the workgroup, when missing; dropping
     * tables no longer published).  0, or -1 with error diagnostics that
     * name the table and the cause; warnings for tables left out (no
     * files, no schema).  *out is filled on 0. */
    int (*sync)(sf_ctx *ctx, const sf_lake_env *env, const sf_catalog_spec *spec, sf_catalog_state *out,
                sf_diags *diags);
    /* Drop the database (and the workgroup) of spec; data stays.  Missing is
     * success, and so is a database that is not this pipeline's (another
     * pipeline's, or not SparkFlow's): it is left as it is, with a
     * warning.  0, or -1 with error diagnostics. */
    int (*remove)(sf_ctx *ctx, const sf_lake_env *env, const sf_catalog_spec *spec, sf_diags *diags);
};

/* The catalogs compiled in. */
extern const sf_catalog sf_catalog_duckdb;
extern const sf_catalog sf_catalog_glue;

/* The catalog of a lake URI by its scheme; NULL when the lake has none. */
const sf_catalog *sf_catalog_for_lake(const char *lake_uri);

/* ---- names (catalog_name.c) ----------------------------------------------------- */

#define SF_CATALOG_NAME_MAX 64 /* the shortest limit of the three (DuckDB files: ours) */

/* The default database name of a pipeline: its name lower-cased, every run
 * of characters other than [a-z0-9_] made one '_', leading/trailing '_'
 * dropped, "p_" put before a leading digit, cut to SF_CATALOG_NAME_MAX
 * (malloc'd; "pipeline" when nothing is left).  A table name is made the
 * same way from its directory name. */
char *sf_catalog_default_name(const char *pipeline_name);

/* True when `name` is a legal database name: 1..SF_CATALOG_NAME_MAX of
 * [a-z0-9_], starting with a letter (what Glue, Athena and a DuckDB file
 * name all accept unquoted).  Else false, with an error diagnostic at
 * `path` that says what is wrong and the name that would be accepted. */
bool sf_catalog_check_name(const char *name, const char *path, sf_diags *diags);

/* True when `name` is a legal Athena workgroup name: 1..128 of
 * [A-Za-z0-9._-].  Else false with an error diagnostic at `path`. */
bool sf_catalog_check_workgroup(const char *name, const char *path, sf_diags *diags);

#define SF_CATALOG_MIN_CUTOFF 10485760 /* Athena's smallest bytes-scanned cutoff: 10 MB */

/* True when `bytes` is 0 (no cutoff) or at least SF_CATALOG_MIN_CUTOFF.
 * Else false with an error diagnostic at `path`. */
bool sf_catalog_check_cutoff(int64_t bytes, const char *path, sf_diags *diags);

/* The default workgroup of a database: "sparkflow-<database>" (malloc'd). */
char *sf_catalog_default_workgroup(const char *database);

#endif
