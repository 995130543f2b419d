/* spec.c — the `local {}` block of sparkflow_cluster.
 *
 * Declares the block's schema and converts between its value (what
 * Terraform sends and stores) and sf_local_spec (what the engine works
 * with), applying the defaults the schema promises.
 */
#include "engines/local/local.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Paths handed to daemons that outlive Terraform's working directory must
 * not depend on it. */
void sf_local_validate_abs_path(const sf_value *v, const char *path, sf_diags *d)
{
    const char *s = sf_value_get_str(v);
    if (!s) return;
    if (s[0] != '/')
        sf_diag_error(d, path, "Path must be absolute",
                      "\"%s\" is relative. Spark's processes outlive this Terraform run, so "
                      "give an absolute path, e.g. \"${abspath(path.module)}/%s\".",
                      s, s);
}

static const sf_attr_def local_attrs[] = {
    {"workers", "number", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "Number of Spark workers to run. Changing it starts or stops workers in place.",
     "1", sf_validate_positive_int},
    {"worker_cores", "number", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "CPU cores each worker offers to executors (`--cores`).", "1",
     sf_validate_positive_int},
    {"worker_memory", "string", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "Memory each worker offers to executors (`--memory`), e.g. `\"1g\"`, `\"512m\"`.",
     "\"1g\"", sf_local_validate_memory},
    {"spark_home", "string", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "Spark installation to run (must hold `bin/spark-class`). Default: `$SPARK_HOME`, "
     "else the Spark shipped inside the `pyspark` Python package (found through "
     "`$SPARKFLOW_PYTHON`, `python3` on `PATH`, or the project's `.venv`).",
     NULL, sf_local_validate_abs_path},
    {"work_dir", "string", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "Directory for the daemons' logs and the workers' scratch space. Default: "
     "`~/.sparkflow/local/<id>`. On destroy the engine removes only what it created there.",
     NULL, sf_local_validate_abs_path},
    {"java_home", "string", SF_ATTR_OPTIONAL,
     "Java installation (17 or later) to run Spark with. Default: `$JAVA_HOME`, else "
     "the `java` found on `PATH`.",
     NULL, sf_local_validate_abs_path},
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

static int int_attr(const sf_value *v, const char *name, int64_t dflt, int64_t *out,
                    sf_diags *diags)
{
    const sf_value *a = known_attr(v, name);
    *out = dflt;
    if (!a) return 0;
    if (sf_value_get_int(a, out) != 0 || *out < 1 || *out > 1024) {
        char path[64];
        snprintf(path, sizeof path, "local.%s", name);
        sf_diag_error(diags, path, "Invalid value",
                      "%s must be a whole number between 1 and 1024.", name);
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
