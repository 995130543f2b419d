/* duckdb.c — the catalog of a file:// lake: a DuckDB database in the lake.
 *
 * <lake>/<database>.duckdb holds one view per published table, over the
 * output's stable path (catalog.h), so a reader runs
 *
 *   duckdb <lake>/finances.duckdb -c "select * from monthly_summary"
 *
 * with nothing else to know.  DuckDB has no C library on this machine's
 * package lists, but the project's Python has the `duckdb` package (pinned in
 * requirements.txt), so the work is done by duckdb_catalog.py, compiled in
 * and run with the first of sf_spawn_pythons() that can import duckdb; this
 * file finds the paths, runs it and turns its JSON answer into a
 * sf_catalog_state or diagnostics.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/files.h"
#include "base/spawn.h"
#include "base/str.h"
#include "catalogs/catalog.h"
#include "lakes/file.h"

#define SCRIPT_TIMEOUT_MS (5 * 60 * 1000)

extern const char sf_catalog_duckdb_py[];

/* ---- paths --------------------------------------------------------------------- */

/* The database file and the output's path, both absolute (malloc'd); -1
 * with a diagnostic when a URI is not a file:// one. */
static int paths_of(const sf_catalog_spec *spec, char **db, char **output, sf_diags *diags)
{
    *db = *output = NULL;
    char *lake = sf_lake_file_uri_path(spec->lake, "Invalid lake URI", diags);
    if (!lake) return -1;
    *output = sf_lake_file_uri_path(spec->output_uri, "Invalid output URI", diags);
    if (!*output) {
        free(lake);
        return -1;
    }
    char *file = sf_fmt("%s.duckdb", spec->database);
    *db = sf_lake_file_join(lake, file);
    free(file);
    free(lake);
    return 0;
}

/* ---- running the script -------------------------------------------------------- */

/* The script written to a private temporary file (malloc'd path), or NULL
 * with *why. */
static char *script_file(char **why)
{
    char *dir =
        sf_fmt("%s/sparkflow-catalog-XXXXXX", getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        *why = sf_fmt("cannot make a temporary directory under %s", dir);
        free(dir);
        return NULL;
    }
    char *path = sf_fmt("%s/duckdb_catalog.py", dir);
    free(dir);
    if (sf_file_write_atomic(path, sf_catalog_duckdb_py, strlen(sf_catalog_duckdb_py), 0600) != 0) {
        *why = sf_fmt("cannot write %s", path);
        free(path);
        return NULL;
    }
    return path;
}

static void script_remove(char *path)
{
    if (!path) return;
    unlink(path);
    char *dir = sf_strndup(path, (size_t)(strrchr(path, '/') - path));
    rmdir(dir);
    free(dir);
    free(path);
}

/* Run the script with `args` under each Python in turn until one answers
 * with JSON (a Python without duckdb answers {"error": "...cannot import
 * duckdb..."}: the next one is tried).  The parsed answer, or NULL with
 * *why (malloc'd). */
static cJSON *run_script(sf_ctx *ctx, const char *const *args, size_t n_args, char **why)
{
    *why = NULL;
    char *script = script_file(why);
    if (!script) return NULL;
    const char *pythons[4];
    size_t n_py = sf_spawn_pythons(pythons);
    cJSON *answer = NULL;
    char *tried = sf_strdup("");
    for (size_t i = 0; i < n_py && !answer; i++) {
        char **argv = calloc(n_args + 3, sizeof *argv);
        if (!argv) abort();
        argv[0] = (char *)pythons[i];
        argv[1] = script;
        for (size_t k = 0; k < n_args; k++) argv[2 + k] = (char *)args[k];
        char *out = NULL, *err = NULL;
        int status = sf_spawn_capture(ctx, argv, SCRIPT_TIMEOUT_MS, &out, &err);
        free(argv);
        cJSON *j = status >= 0 && out ? cJSON_Parse(out) : NULL;
        const char *error = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "error"));
        char *line = NULL;
        if (status < 0) line = sf_fmt("%s: %s", pythons[i], err ? err : "did not run");
        else if (!j) line = sf_fmt("%s: exit %d, no answer", pythons[i], status);
        else if (error && strstr(error, "cannot import duckdb")) line = sf_fmt("%s: %s", pythons[i], error);
        if (line) {
            char *joined = sf_fmt("%s  - %s\n", tried, line);
            free(tried);
            tried = joined;
            free(line);
            cJSON_Delete(j);
        } else {
            answer = j;
        }
        free(out);
        free(err);
        if (sf_ctx_done(ctx)) break;
    }
    script_remove(script);
    if (!answer)
        *why = sf_fmt("no Python with the duckdb package could run the catalog script. Tried:\n%s"
                      "Install the project's Python (make install), or point $SPARKFLOW_PYTHON at a "
                      "Python that has duckdb (pip install duckdb).",
                      tried);
    free(tried);
    return answer;
}

/* ---- the answer ---------------------------------------------------------------- */

static void state_from(const cJSON *answer, const char *db, sf_catalog_state *out)
{
    *out = (sf_catalog_state){.database = sf_strdup(db)};
    const cJSON *tables = cJSON_GetObjectItemCaseSensitive(answer, "tables");
    size_t n = (size_t)cJSON_GetArraySize(tables);
    out->tables = calloc(n ? n : 1, sizeof *out->tables);
    if (!out->tables) abort();
    const cJSON *t;
    cJSON_ArrayForEach(t, tables) {
        if (!cJSON_IsString(t)) continue;
        out->tables[out->n_tables++] = (sf_catalog_table){sf_strdup(t->string), sf_strdup(t->valuestring)};
    }
}

static void warn_skipped(const cJSON *answer, const sf_catalog_spec *spec, const char *db, sf_diags *diags)
{
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(answer, "skipped")) {
        const char *table = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "table"));
        const char *reason = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "reason"));
        sf_diag_warning(diags, "catalog", "Table left out of the catalog",
                        "Table \"%s\" of pipeline \"%s\" has no view in %s: %s. Its files stay published at %s.",
                        table ? table : "?", spec->pipeline, db, reason ? reason : "no reason given", spec->output_uri);
    }
}

/* remove found a file that is not the pipeline's catalog: it stays. */
static void warn_left(const cJSON *answer, const sf_catalog_spec *spec, sf_diags *diags)
{
    const char *left = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(answer, "left"));
    if (left)
        sf_diag_warning(diags, "catalog", "Catalog file left in place",
                        "Pipeline \"%s\" has no catalog to remove there, and the file is not SparkFlow's to "
                        "delete: %s.",
                        spec->pipeline, left);
}

/* ---- the catalog --------------------------------------------------------------- */

static int duckdb_call(sf_ctx *ctx, const sf_catalog_spec *spec, bool sync, sf_catalog_state *out, sf_diags *diags)
{
    char *db, *output;
    if (paths_of(spec, &db, &output, diags) != 0) return -1;
    const char *args[] = {sync ? "sync" : "remove", "--db", db, "--pipeline", spec->pipeline, "--output", output};
    char *why = NULL;
    cJSON *answer = run_script(ctx, args, sync ? 7 : 5, &why);
    const char *error = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(answer, "error"));
    int rc = 0;
    if (!answer || error) {
        sf_diag_error(diags, "catalog", sync ? "Catalog not updated" : "Catalog not removed",
                      "The DuckDB catalog %s of pipeline \"%s\" could not be %s: %s.%s", db, spec->pipeline,
                      sync ? "updated" : "removed", answer ? error : why,
                      sync ? " The run's outputs stay published; the next `terraform apply` repairs the catalog." : "");
        rc = -1;
    } else if (sync) {
        warn_skipped(answer, spec, db, diags);
        state_from(answer, db, out);
    } else {
        warn_left(answer, spec, diags);
    }
    cJSON_Delete(answer);
    free(why);
    free(db);
    free(output);
    return rc;
}

static char *duckdb_where(const sf_catalog_spec *spec, sf_diags *diags)
{
    char *db, *output;
    if (paths_of(spec, &db, &output, diags) != 0) return NULL;
    free(output);
    return db;
}

static int duckdb_sync(sf_ctx *ctx, const sf_lake_env *env, const sf_catalog_spec *spec, sf_catalog_state *out,
                       sf_diags *diags)
{
    (void)env;
    *out = (sf_catalog_state){0};
    return duckdb_call(ctx, spec, true, out, diags);
}

static int duckdb_remove(sf_ctx *ctx, const sf_lake_env *env, const sf_catalog_spec *spec, sf_diags *diags)
{
    (void)env;
    return duckdb_call(ctx, spec, false, NULL, diags);
}

const sf_catalog sf_catalog_duckdb = {
    .name = "duckdb",
    .lake_scheme = "file",
    .workgroups = false,
    .follows_publication = true,
    .kept_with_data = true,
    .where = duckdb_where,
    .sync = duckdb_sync,
    .remove = duckdb_remove,
};
