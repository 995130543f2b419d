/* glue.c — sf_catalog_glue: the tables of an s3:// lake's published run in
 * the Glue Data Catalog, queried from an Athena workgroup (glue.h has the
 * pieces).
 *
 * sync, after each publication:
 *   1. what is published (the lake's pointer) and its objects (one listing);
 *      the tables in it (glue_find.c), each with its schema file;
 *   2. the database: created when missing, with SparkFlow's parameters and
 *      tags; one that lacks them, or names another pipeline, is refused;
 *   3. each table: CreateTable, or UpdateTable (SkipArchive: no version
 *      pile-up) when the database has it already — so a second sync, or one
 *      after a failed one, leaves one table per name at the new location;
 *   4. the tables of ours the run no longer has (or that failed now: their
 *      location would be a deleted run) are deleted; tables without our
 *      parameters are never touched;
 *   5. the workgroup (athena.c).
 * Every failure is an error diagnostic naming the table, database or
 * workgroup and the AWS error; the rest goes on, and the next sync repairs.
 *
 * remove: our tables, then the database when it is ours and nothing else is
 * left in it, then the workgroup.  Missing is success; data stays.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "catalogs/glue.h"
#include "engines/aws_diag.h"

void sf_glue_diag(sf_diags *d, const char *path, sf_aws_error *err, const char *summary_fmt, ...)
{
    va_list ap;
    va_start(ap, summary_fmt);
    char *summary = sf_vfmt(summary_fmt, ap);
    va_end(ap);
    sf_aws_diag_error(d, path, summary, err, NULL);
    free(summary);
    sf_aws_error_clear(err);
}

/* ---- one table ------------------------------------------------------------------------------- */

/* The table's schema file, read and mapped; -1 with a diagnostic. */
static int table_schema(sf_aws_client *c, sf_ctx *ctx, const char *bucket, const char *run_key, const sf_glue_found *t,
                        sf_glue_schema *s, sf_diags *d)
{
    char *key = sf_fmt("%s/%s/%s", run_key, t->dir, SF_GLUE_SCHEMA_FILE);
    sf_buf body = {0};
    sf_aws_error err = {0};
    int rc = sf_aws_s3_get(c, ctx, bucket, key, &body, &err);
    char *why = NULL;
    if (rc != 0) {
        if (rc == 1) sf_aws_error_clear(&err); /* listed a moment ago: deleted meanwhile */
        sf_glue_diag(d, NULL, &err, "Cannot read the schema of table %s", t->name);
    } else if (sf_glue_schema_parse(body.data ? body.data : "", body.len, s, &why) != 0) {
        sf_diag_error(d, NULL, "Cannot catalog a table",
                      "The schema file s3://%s/%s of table %s cannot give its Glue columns: %s. Write it with "
                      "sparkflow_jobs.contract.write_schema(df, uri, partition_by).",
                      bucket, key, t->name, why);
        rc = -1;
    }
    free(why);
    sf_buf_free(&body);
    free(key);
    return rc == 0 ? 0 : -1;
}

/* CreateTable, or UpdateTable of a table of ours.  `in` is taken. */
static int table_put(sf_aws_client *c, sf_ctx *ctx, const char *db, const char *name, cJSON *in, sf_glue_had *had,
                     sf_diags *d)
{
    sf_aws_error err = {0};
    bool update = had != NULL;
    if (had && !had->ours) {
        sf_diag_error(d, NULL, "Glue table belongs to someone else",
                      "The Glue database %s holds a table \"%s\" that SparkFlow did not make (it has no %s "
                      "parameter); SparkFlow does not replace it, so the published table of that name is not in "
                      "the catalog. Drop or rename that table.",
                      db, name, SF_GLUE_MANAGED);
        cJSON_Delete(in);
        return -1;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        cJSON *body = cJSON_CreateObject();
        cJSON_AddStringToObject(body, "DatabaseName", db);
        if (update) cJSON_AddBoolToObject(body, "SkipArchive", true);
        cJSON_AddItemReferenceToObject(body, "TableInput", in);
        /* Both retried like reads: a retried CreateTable that was applied
         * fails with AlreadyExistsException (handled below), a repeated
         * UpdateTable writes the same. */
        int rc = sf_glue_do(c, ctx, update ? "UpdateTable" : "CreateTable", body, true, &err);
        if (rc == 0) break;
        /* Made meanwhile (or by our own call, retried): it is ours when it
         * is, and then updated. */
        if (!update && sf_aws_error_is(&err, "AlreadyExistsException") && attempt == 0) {
            sf_aws_error_clear(&err);
            sf_glue_tables now;
            if (sf_glue_tables_get(c, ctx, db, &now, &err) == 0) {
                sf_glue_had *h = sf_glue_tables_find(&now, name);
                bool ours = h && h->ours;
                sf_glue_tables_clear(&now);
                if (ours) {
                    update = true;
                    continue;
                }
                sf_diag_error(d, NULL, "Glue table belongs to someone else",
                              "A table \"%s\" that SparkFlow did not make appeared in the Glue database %s; "
                              "SparkFlow does not replace it.",
                              name, db);
                cJSON_Delete(in);
                return -1;
            }
        }
        sf_glue_diag(d, NULL, &err, "Cannot %s the Glue table %s.%s", update ? "update" : "create", db, name);
        cJSON_Delete(in);
        return -1;
    }
    cJSON_Delete(in);
    return 0;
}

/* ---- sync ------------------------------------------------------------------------------------------ */

/* What one sync works on. */
typedef struct job {
    sf_ctx *ctx;
    sf_aws_client *c;
    const sf_catalog_spec *spec;
    sf_published pub;
    char *bucket, *run_key; /* the published run: s3://bucket/run_key */
    sf_glue_found_list found;
    sf_catalog_state state;
} job;

static void job_clear(job *j)
{
    sf_published_clear(&j->pub);
    free(j->bucket);
    free(j->run_key);
    sf_glue_found_list_clear(&j->found);
    sf_catalog_state_clear(&j->state);
}

/* The published run's tables; -1 with a diagnostic (nothing is then
 * changed in the database's tables). */
static int find(job *j, sf_diags *d)
{
    if (sf_lake_s3.published(j->ctx, &(sf_lake_env){.aws = j->c}, j->spec->output_uri, &j->pub, d) != 0) return -1;
    if (!j->pub.location) return 0; /* nothing published yet: no tables */
    if (sf_aws_s3_parse_uri(j->pub.location, &j->bucket, &j->run_key) != 0) {
        sf_diag_error(d, NULL, "Cannot catalog the published run", "\"%s\" is not an s3:// location.", j->pub.location);
        return -1;
    }
    char *prefix = sf_fmt("%s/", j->run_key);
    sf_aws_s3_listing l;
    sf_aws_error err = {0};
    int rc = sf_aws_s3_list(j->c, j->ctx, j->bucket, prefix, &l, &err);
    if (rc != 0) {
        sf_glue_diag(d, NULL, &err, "Cannot list the published run %s", j->pub.location);
    } else {
        const char **rel = malloc((l.n + 1) * sizeof *rel);
        if (!rel) abort();
        for (size_t i = 0; i < l.n; i++) rel[i] = l.items[i].key + strlen(prefix);
        rc = sf_glue_find_tables(rel, l.n, &j->found, d);
        free(rel);
        sf_aws_s3_listing_clear(&l);
    }
    free(prefix);
    return rc;
}

static void state_add(sf_catalog_state *s, const char *name, const char *location)
{
    s->tables = realloc(s->tables, (s->n_tables + 1) * sizeof *s->tables);
    if (!s->tables) abort();
    s->tables[s->n_tables++] = (sf_catalog_table){.name = sf_strdup(name), .location = sf_strdup(location)};
}

/* One found table into the database; 0 when it is there now, at the run. */
static int sync_table(job *j, const sf_glue_found *t, sf_glue_tables *had, sf_diags *d)
{
    if (!t->has_schema) {
        sf_diag_warning(d, NULL, "Table left out of the catalog",
                        "The published table %s (s3://%s/%s/%s/) has no %s, so Glue cannot be given its columns "
                        "and it is not in the Glue database %s. Have its job write one with "
                        "sparkflow_jobs.contract.write_schema(df, uri, partition_by) next to the table.",
                        t->name, j->bucket, j->run_key, t->dir, SF_GLUE_SCHEMA_FILE, j->spec->database);
        return -1;
    }
    sf_glue_schema s;
    if (table_schema(j->c, j->ctx, j->bucket, j->run_key, t, &s, d) != 0) return -1;
    char *location = sf_fmt("s3://%s/%s/%s", j->bucket, j->run_key, t->dir), *why = NULL;
    cJSON *in = sf_glue_table_input(j->spec, t, &s, location, j->pub.run_id, &why);
    int rc = -1;
    if (!in) {
        sf_diag_error(d, NULL, "Cannot catalog a table", "The published table %s (%s/) cannot be a Glue table: %s.",
                      t->name, location, why);
    } else {
        sf_glue_had *h = sf_glue_tables_find(had, t->name);
        rc = table_put(j->c, j->ctx, j->spec->database, t->name, in, h, d);
        if (rc == 0) {
            char *slash = sf_fmt("%s/", location);
            state_add(&j->state, t->name, slash);
            free(slash);
            if (h) h->kept = true;
        }
    }
    free(why);
    free(location);
    sf_glue_schema_clear(&s);
    return rc;
}

/* The tables: each found one written, ours not written now deleted. */
static int sync_tables(job *j, sf_diags *d)
{
    sf_glue_tables had;
    sf_aws_error err = {0};
    if (sf_glue_tables_get(j->c, j->ctx, j->spec->database, &had, &err) != 0) {
        sf_glue_diag(d, NULL, &err, "Cannot list the tables of the Glue database %s", j->spec->database);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < j->found.n_empty; i++)
        sf_diag_warning(d, NULL, "Table left out of the catalog",
                        "s3://%s/%s/%s/ holds a schema file but no Parquet file, so it is not a table in the Glue "
                        "database %s.",
                        j->bucket, j->run_key, j->found.empty[i], j->spec->database);
    for (size_t i = 0; i < j->found.n; i++) {
        const sf_glue_found *t = &j->found.items[i];
        if (sync_table(j, t, &had, d) != 0 && t->has_schema) rc = -1;
    }
    for (size_t i = 0; i < had.n; i++) {
        if (!had.items[i].ours || had.items[i].kept) continue;
        if (sf_glue_table_delete(j->c, j->ctx, j->spec->database, had.items[i].name, &err) != 0) {
            sf_glue_diag(d, NULL, &err, "Cannot drop the Glue table %s.%s", j->spec->database, had.items[i].name);
            rc = -1;
        } else {
            sf_log(j->ctx, SF_LOG_INFO, "catalog: dropped the Glue table %s.%s (not in the published run)",
                   j->spec->database, had.items[i].name);
        }
    }
    sf_glue_tables_clear(&had);
    return rc;
}

/* <lake>/_sparkflow/athena-results/<database>/ (malloc'd). */
static char *results_uri(const sf_catalog_spec *spec)
{
    size_t n = strlen(spec->lake);
    while (n > 0 && spec->lake[n - 1] == '/') n--;
    return sf_fmt("%.*s/_sparkflow/athena-results/%s/", (int)n, spec->lake, spec->database);
}

/* The database's name, once the lake and output are s3:// URIs with a
 * bucket. */
static char *glue_where(const sf_catalog_spec *spec, sf_diags *d)
{
    const char *uris[] = {spec->lake, spec->output_uri};
    for (size_t i = 0; i < 2; i++) {
        char *bucket = NULL, *key = NULL;
        int rc = sf_aws_s3_parse_uri(uris[i], &bucket, &key);
        free(bucket);
        free(key);
        if (rc != 0) {
            sf_diag_error(d, i ? NULL : "lake", "No Glue catalog for this lake",
                          "\"%s\" is not an s3:// URI with a bucket: a Glue catalog serves s3:// lakes only.",
                          uris[i] ? uris[i] : "");
            return NULL;
        }
    }
    return sf_strdup(spec->database);
}

static bool spec_ok(const sf_catalog_spec *spec, sf_diags *d)
{
    bool ok = sf_catalog_check_name(spec->database, "catalog.database", d);
    ok = sf_catalog_check_workgroup(spec->workgroup, "catalog.workgroup", d) && ok;
    return sf_catalog_check_cutoff(spec->bytes_scanned_cutoff, "catalog.bytes_scanned_cutoff", d) && ok;
}

static int glue_sync(sf_ctx *ctx, const sf_lake_env *env, const sf_catalog_spec *spec, sf_catalog_state *out,
                     sf_diags *d)
{
    *out = (sf_catalog_state){0};
    if (!spec_ok(spec, d)) return -1;
    sf_aws_client *owned;
    job j = {.ctx = ctx, .spec = spec, .c = sf_lake_env_aws(env, &owned)};
    int rc = find(&j, d);
    if (sf_glue_db_ensure(j.c, ctx, spec, d) != 0) rc = -1;
    else if (rc == 0 && sync_tables(&j, d) != 0) rc = -1;
    char *results = results_uri(spec);
    if (sf_athena_workgroup_sync(j.c, ctx, spec, results, d) != 0) rc = -1;
    free(results);
    if (rc == 0) {
        j.state.database = sf_strdup(spec->database);
        j.state.workgroup = sf_strdup(spec->workgroup);
        *out = j.state;
        j.state = (sf_catalog_state){0};
        sf_log(ctx, SF_LOG_INFO, "catalog: Glue database %s holds %zu tables of run %s", spec->database, out->n_tables,
               j.pub.run_id ? j.pub.run_id : "(none)");
    }
    job_clear(&j);
    sf_aws_client_free(owned);
    return rc;
}

/* ---- remove ------------------------------------------------------------------------------------------ */

static int glue_remove(sf_ctx *ctx, const sf_lake_env *env, const sf_catalog_spec *spec, sf_diags *d)
{
    sf_aws_client *owned, *c = sf_lake_env_aws(env, &owned);
    int rc = sf_glue_db_remove(c, ctx, spec, d);
    if (sf_athena_workgroup_remove(c, ctx, spec, d) != 0) rc = -1;
    sf_aws_client_free(owned);
    return rc;
}

const sf_catalog sf_catalog_glue = {
    .name = "glue",
    .lake_scheme = "s3",
    .workgroups = true,
    .follows_publication = false, /* locations name the run: sync after each publication */
    .kept_with_data = false,      /* not a file in the lake: destroy always removes it */
    .where = glue_where,
    .sync = glue_sync,
    .remove = glue_remove,
};
