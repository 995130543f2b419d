/* spec.c — the `local {}` block of sparkflow_cluster.
 *
 * Declares the block's schema and converts between its value (what
 * Terraform sends and stores) and sf_local_spec (what the engine works
 * with), applying the defaults the schema promises.
 */
#include "engines/local/local.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_WORKERS 1
#define DEFAULT_CORES 1
#define DEFAULT_MEMORY "1g"

/* Spark's memory strings as the Worker's --memory takes them: digits and a
 * unit (k, m, g, t, optionally followed by b), at least 1 MiB. */
void sf_local_validate_memory(const sf_value *v, const char *path, sf_diags *d)
{
    const char *s = sf_value_get_str(v);
    if (!s) return;
    char *end;
    unsigned long long n = strtoull(s, &end, 10);
    bool ok = end != s && isdigit((unsigned char)s[0]) && n > 0;
    char unit = ok ? (char)tolower((unsigned char)*end) : 0;
    ok = ok && strchr("kmgt", unit) && unit != 0;
    if (ok) {
        const char *rest = end + 1;
        if (tolower((unsigned char)*rest) == 'b') rest++;
        ok = *rest == 0;
    }
    if (ok && unit == 'k') ok = n >= 1024;
    if (!ok)
        sf_diag_error(d, path, "Invalid worker memory",
                      "\"%s\" is not a memory size Spark accepts. Write a whole number "
                      "and a unit, e.g. \"512m\" or \"2g\" (units: k, m, g, t; at least 1m).",
                      s);
}

/* What the engine works with: spark_home, work_dir and java_home are
 * absolute once sf_local_spec_absolute has resolved them (the daemons
 * outlive Terraform's working directory). */
void sf_local_validate_abs_path(const sf_value *v, const char *path, sf_diags *d)
{
    const char *s = sf_value_get_str(v);
    if (!s) return;
    if (s[0] != '/')
        sf_diag_error(d, path, "Path must be absolute",
                      "\"%s\" is relative; the local engine resolves relative paths against "
                      "Terraform's working directory before it uses them.",
                      s);
}

/* What a user may write: an absolute path, or one relative to the directory
 * Terraform runs in (as hashicorp/local's `filename`).  Terraform does not
 * expand `~`, and an empty path names nothing. */
void sf_local_validate_path(const sf_value *v, const char *path, sf_diags *d)
{
    const char *s = sf_value_get_str(v);
    if (!s) return;
    if (!*s)
        sf_diag_error(d, path, "Empty path",
                      "Give a directory: an absolute path, or one relative to the directory "
                      "Terraform runs in, e.g. \"${path.module}/work\".");
    else if (s[0] == '~')
        sf_diag_error(d, path, "Path starts with ~",
                      "\"%s\": Terraform does not expand ~. Write pathexpand(\"%s\"), or a "
                      "path relative to the directory Terraform runs in.",
                      s, s);
}

static const sf_attr_def local_attrs[] = {
    {"workers", "number", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "Number of Spark workers to run. Changing it starts or stops workers in place.", "1", sf_validate_positive_int},
    {"worker_cores", "number", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "CPU cores each worker offers to executors (`--cores`).", "1", sf_validate_positive_int},
    {"worker_memory", "string", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "Memory each worker offers to executors (`--memory`), e.g. `\"1g\"`, `\"512m\"`.", "\"1g\"",
     sf_local_validate_memory},
    {"spark_home", "string", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "Spark installation to run (must hold `bin/spark-class`); a relative path is "
     "relative to the directory Terraform runs in. Default: `$SPARK_HOME`, "
     "else the Spark shipped inside the `pyspark` Python package (found through "
     "`$SPARKFLOW_PYTHON`, `python3` on `PATH`, or the project's `.venv`).",
     NULL, sf_local_validate_path},
    {"work_dir", "string", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "Directory for the daemons' logs and the workers' scratch space; a relative path is "
     "relative to the directory Terraform runs in. Default: "
     "`~/.sparkflow/local/<id>`. On destroy the engine removes only what it created there.",
     NULL, sf_local_validate_path},
    {"java_home", "string", SF_ATTR_OPTIONAL,
     "Java installation (17 or later) to run Spark with; a relative path is relative to "
     "the directory Terraform runs in. Default: `$JAVA_HOME`, else "
     "the `java` found on `PATH`.",
     NULL, sf_local_validate_path},
    {NULL},
};

const sf_block_def sf_local_spec_block = {
    .description = "Runs a Spark standalone cluster (one master, `workers` workers) "
                   "on this machine, bound to 127.0.0.1. The processes outlive "
                   "Terraform and are stopped by destroy.",
    .attrs = local_attrs,
    .blocks = NULL,
};

/* A known, non-null attribute of v, or NULL. */
static const sf_value *known_attr(const sf_value *v, const char *name)
{
    if (!v || v->kind != SF_VAL_OBJECT) return NULL;
    const sf_value *a = sf_value_get(v, name);
    if (sf_value_is_null(a) || sf_value_is_unknown(a)) return NULL;
    return a;
}

static int int_attr(const sf_value *v, const char *name, int64_t dflt, int64_t *out, sf_diags *diags)
{
    const sf_value *a = known_attr(v, name);
    *out = dflt;
    if (!a) return 0;
    if (sf_value_get_int(a, out) != 0 || *out < 1 || *out > 1024) {
        char path[64];
        snprintf(path, sizeof path, "local.%s", name);
        sf_diag_error(diags, path, "Invalid value", "%s must be a whole number between 1 and 1024.", name);
        return -1;
    }
    return 0;
}

static char *str_attr(const sf_value *v, const char *name, const char *dflt)
{
    const sf_value *a = known_attr(v, name);
    const char *s = a ? sf_value_get_str(a) : NULL;
    if (s && *s) return sf_strdup(s);
    return dflt ? sf_strdup(dflt) : NULL;
}

int sf_local_spec_from_value(const sf_value *v, sf_local_spec *out, sf_diags *diags)
{
    memset(out, 0, sizeof *out);
    if (int_attr(v, "workers", DEFAULT_WORKERS, &out->workers, diags) != 0 ||
        int_attr(v, "worker_cores", DEFAULT_CORES, &out->worker_cores, diags) != 0)
        return -1;
    out->worker_memory = str_attr(v, "worker_memory", DEFAULT_MEMORY);
    sf_diags check;
    sf_diags_init(&check);
    sf_value *mem = sf_value_string(out->worker_memory);
    sf_local_validate_memory(mem, "local.worker_memory", &check);
    sf_value_free(mem);
    static const char *const paths[] = {"spark_home", "work_dir", "java_home"};
    for (size_t i = 0; i < 3; i++) {
        const sf_value *a = known_attr(v, paths[i]);
        char spelling[32];
        snprintf(spelling, sizeof spelling, "local.%s", paths[i]);
        if (a) sf_local_validate_abs_path(a, spelling, &check);
    }
    bool bad = sf_diags_has_error(&check);
    sf_diags_move(diags, &check, NULL);
    if (bad) {
        sf_local_spec_clear(out);
        return -1;
    }
    out->spark_home = str_attr(v, "spark_home", NULL);
    out->work_dir = str_attr(v, "work_dir", NULL);
    out->java_home = str_attr(v, "java_home", NULL);
    return 0;
}

static sf_value *str_or_null(const char *s)
{
    return s ? sf_value_string(s) : sf_value_null();
}

sf_value *sf_local_spec_to_value(const sf_local_spec *spec)
{
    sf_value *v = sf_value_object();
    sf_value_put(v, "workers", sf_value_int(spec->workers));
    sf_value_put(v, "worker_cores", sf_value_int(spec->worker_cores));
    sf_value_put(v, "worker_memory", str_or_null(spec->worker_memory));
    sf_value_put(v, "spark_home", str_or_null(spec->spark_home));
    sf_value_put(v, "work_dir", str_or_null(spec->work_dir));
    sf_value_put(v, "java_home", str_or_null(spec->java_home));
    return v;
}

void sf_local_spec_clear(sf_local_spec *spec)
{
    free(spec->worker_memory);
    free(spec->spark_home);
    free(spec->work_dir);
    free(spec->java_home);
    memset(spec, 0, sizeof *spec);
}

/* ---- relative paths ---------------------------------------------------- */

const char *const sf_local_path_attrs[SF_LOCAL_N_PATHS] = {"spark_home", "work_dir", "java_home"};

char *sf_local_path_absolute(const char *cwd, const char *path)
{
    char *joined = path[0] == '/' ? sf_strdup(path) : sf_fmt("%s/%s", cwd, path);
    /* Lexically clean, as Go's filepath.Abs: drop "" and "." segments, let
     * ".." take the previous one (never above the root). */
    size_t n = strlen(joined);
    char *out = malloc(n + 2);
    if (!out) abort();
    size_t len = 0;
    char *save = NULL;
    for (char *seg = strtok_r(joined, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
        if (strcmp(seg, ".") == 0) continue;
        if (strcmp(seg, "..") == 0) {
            while (len > 0 && out[len - 1] != '/') len--;
            if (len > 0) len--; /* the slash before it */
            continue;
        }
        out[len++] = '/';
        size_t k = strlen(seg);
        memcpy(out + len, seg, k);
        len += k;
    }
    if (len == 0) out[len++] = '/';
    out[len] = 0;
    free(joined);
    return out;
}

sf_value *sf_local_spec_absolute(const sf_value *v, sf_local_paths *written, sf_diags *diags)
{
    memset(written, 0, sizeof *written);
    sf_value *abs = v ? sf_value_copy(v) : sf_value_object();
    char *cwd = NULL;
    for (size_t i = 0; i < SF_LOCAL_N_PATHS; i++) {
        const sf_value *a = known_attr(v, sf_local_path_attrs[i]);
        const char *s = a ? sf_value_get_str(a) : NULL;
        if (!s || !*s || s[0] == '/' || s[0] == '~') continue; /* validation speaks */
        if (!cwd && !(cwd = getcwd(NULL, 0))) {
            char at[32];
            snprintf(at, sizeof at, "local.%s", sf_local_path_attrs[i]);
            sf_diag_error(diags, at, "Cannot resolve a relative path",
                          "\"%s\" is relative to the directory Terraform runs in, which the "
                          "provider cannot name (%s). Give an absolute path.",
                          s, strerror(errno));
            sf_value_free(abs);
            sf_local_paths_clear(written);
            return NULL;
        }
        written->path[i] = sf_strdup(s);
        char *full = sf_local_path_absolute(cwd, s);
        sf_value_put(abs, sf_local_path_attrs[i], sf_value_string(full));
        free(full);
    }
    free(cwd);
    return abs;
}

void sf_local_paths_clear(sf_local_paths *p)
{
    for (size_t i = 0; i < SF_LOCAL_N_PATHS; i++) free(p->path[i]);
    memset(p, 0, sizeof *p);
}
