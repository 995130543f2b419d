/* spec.c — the `local {}` block of sparkflow_airflow.
 *
 * Declares the block's schema (its descriptions become the docs) and turns
 * its value into sf_afl_spec with every default filled: the work dir under
 * ~/.sparkflow/airflow/<name>, Airflow from the build's .venv-airflow, the
 * DAG factory from the build's dags/airflow.  Relative paths are resolved
 * against Terraform's working directory, as the local Spark engine does;
 * the state keeps them as written.
 */
#include "orchestrators/local/airflow_local.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SF_DEFAULT_AIRFLOW
#define SF_DEFAULT_AIRFLOW "airflow"
#endif
#ifndef SF_DEFAULT_DAGS
#define SF_DEFAULT_DAGS "dags/airflow"
#endif

#define DEFAULT_PARALLELISM 4
#define MAX_PARALLELISM 64

const char *const sf_afl_path_attrs[SF_AFL_N_PATHS] = {"work_dir", "airflow_bin", "dags_source"};

/* Environment the orchestrator sets itself: the block's env may not. */
static const char *const OWN_ENV[] = {
    "AIRFLOW_HOME",
    "PYTHONPATH",
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW__CORE__EXECUTOR",
    "AIRFLOW__CORE__AUTH_MANAGER",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS",
    "AIRFLOW__API__HOST",
    "AIRFLOW__API__PORT",
    "AIRFLOW__API__BASE_URL",
    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT",
    "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    NULL,
};

bool sf_afl_env_key_allowed(const char *key)
{
    if (!key || !*key || strchr(key, '=')) return false;
    for (size_t i = 0; OWN_ENV[i]; i++)
        if (strcmp(OWN_ENV[i], key) == 0) return false;
    return true;
}

static void validate_env(const sf_value *v, const char *path, sf_diags *d)
{
    if (!v || v->kind != SF_VAL_MAP) return;
    for (size_t i = 0; i < v->n; i++)
        if (!sf_afl_env_key_allowed(v->keys[i]))
            sf_diag_error(d, path, "Environment variable set by the provider",
                          "\"%s\" cannot be set in env: the provider sets it (the host's home, ports, "
                          "database and authentication are its own).",
                          v->keys[i]);
}

static void validate_port(const sf_value *v, const char *path, sf_diags *d)
{
    int64_t p;
    if (!v || v->kind != SF_VAL_NUMBER) return;
    if (sf_value_get_int(v, &p) != 0 || p < 1024 || p > 65535)
        sf_diag_error(d, path, "Invalid port", "api_port must be a whole number between 1024 and 65535.");
}

static const sf_attr_def local_attrs[] = {
    {"work_dir", "string", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "Directory of the host, also its `AIRFLOW_HOME`: `airflow.db` (SQLite), the DAG folder `dags/` (a copy of "
     "`dags_source` plus `dags/specs/`, where pipelines put their specs), the components' logs in `logs/` and "
     "the 0600 passwords file. A relative path is relative to the directory Terraform runs in. Default: "
     "`~/.sparkflow/airflow/<name>`. Destroy stops the processes and keeps this directory (logs and the "
     "database of past runs); a new host with the same work directory reuses its database.",
     NULL, sf_local_validate_path},
    {"api_port", "number", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "Port of the UI and REST API, on 127.0.0.1 only. Default: a free port picked at creation.", NULL, validate_port},
    {"parallelism", "number", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "Task instances that may run at once (`[core] parallelism`); the LocalExecutor starts one worker process "
     "(~130 MB) per slot, so keep it small.",
     "4", sf_validate_positive_int},
    {"airflow_bin", "string", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "The `airflow` command to run (Airflow 3). A relative path is relative to the directory Terraform runs "
     "in. Default: `.venv-airflow/bin/airflow` of the source tree the provider was built from "
     "(`scripts/airflow-venv` makes it).",
     NULL, sf_local_validate_path},
    {"dags_source", "string", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED,
     "The DAG factory folder (`sparkflow_dags.py`, `sparkflow_airflow/`, `.airflowignore`) copied into the "
     "host's DAG folder at creation, so that the host survives edits to it. A relative path is relative to "
     "the directory Terraform runs in. Default: `dags/airflow` of the source tree the provider was built "
     "from.",
     NULL, sf_local_validate_path},
    {"env", "[\"map\",\"string\"]", SF_ATTR_OPTIONAL,
     "Extra environment of every Airflow process, e.g. `{ AIRFLOW__CORE__DEFAULT_TIMEZONE = \"utc\" }` "
     "(Airflow reads `AIRFLOW__<SECTION>__<KEY>` as configuration). The variables the provider sets itself "
     "(home, DAG folder, ports, base URL, authentication, database) cannot be set here.",
     NULL, validate_env},
    {NULL},
};

const sf_block_def sf_airflow_local_block = {
    .description = "Airflow on this machine, listening on 127.0.0.1 only. The processes outlive Terraform "
                   "and are stopped by destroy.",
    .attrs = local_attrs,
    .blocks = NULL,
};

/* ---- value -> spec ---------------------------------------------------------- */

static const sf_value *known_attr(const sf_value *v, const char *name)
{
    if (!v || v->kind != SF_VAL_OBJECT) return NULL;
    const sf_value *a = sf_value_get(v, name);
    return sf_value_is_null(a) || sf_value_is_unknown(a) ? NULL : a;
}

char *sf_afl_root(char **err)
{
    /* The local Spark engine's registry root is $HOME/.sparkflow/local. */
    char *local = sf_local_registry_root(err);
    if (!local) return NULL;
    char *slash = strrchr(local, '/');
    *slash = 0;
    char *root = sf_fmt("%s/airflow", local);
    free(local);
    return root;
}

static int int_attr(const sf_value *v, const char *name, int64_t dflt, int64_t lo, int64_t hi, int64_t *out,
                    sf_diags *diags)
{
    const sf_value *a = known_attr(v, name);
    *out = dflt;
    if (!a) return 0;
    if (sf_value_get_int(a, out) != 0 || *out < lo || *out > hi) {
        char path[64];
        snprintf(path, sizeof path, "local.%s", name);
        sf_diag_error(diags, path, "Invalid value", "%s must be a whole number between %lld and %lld.", name,
                      (long long)lo, (long long)hi);
        return -1;
    }
    return 0;
}

/* The path attribute `i`, absolute (malloc'd), or NULL when unset. */
static char *path_attr(const sf_value *v, size_t i, const char *cwd, char **written)
{
    const sf_value *a = known_attr(v, sf_afl_path_attrs[i]);
    const char *s = a ? sf_value_get_str(a) : NULL;
    if (!s || !*s) return NULL;
    if (s[0] != '/' && written) *written = sf_strdup(s);
    return sf_local_path_absolute(cwd, s);
}

int sf_afl_spec_from_value(const sf_value *v, const char *name, sf_afl_spec *out, char *written[SF_AFL_N_PATHS],
                           sf_diags *diags)
{
    memset(out, 0, sizeof *out);
    if (written) memset(written, 0, SF_AFL_N_PATHS * sizeof *written);
    if (int_attr(v, "api_port", 0, 1024, 65535, &out->api_port, diags) != 0 ||
        int_attr(v, "parallelism", DEFAULT_PARALLELISM, 1, MAX_PARALLELISM, &out->parallelism, diags) != 0)
        return -1;
    sf_diags check;
    sf_diags_init(&check);
    for (size_t i = 0; i < SF_AFL_N_PATHS; i++) {
        char at[32];
        snprintf(at, sizeof at, "local.%s", sf_afl_path_attrs[i]);
        const sf_value *a = known_attr(v, sf_afl_path_attrs[i]);
        if (a) sf_local_validate_path(a, at, &check);
    }
    const sf_value *env = known_attr(v, "env");
    if (env) validate_env(env, "local.env", &check);
    bool bad = sf_diags_has_error(&check);
    sf_diags_move(diags, &check, NULL);
    if (bad) return -1;
    char *cwd = getcwd(NULL, 0);
    if (!cwd) cwd = sf_strdup("/");
    char **paths[] = {&out->work_dir, &out->airflow_bin, &out->dags_source};
    for (size_t i = 0; i < SF_AFL_N_PATHS; i++) *paths[i] = path_attr(v, i, cwd, written ? &written[i] : NULL);
    free(cwd);
    if (!out->airflow_bin) out->airflow_bin = sf_strdup(SF_DEFAULT_AIRFLOW);
    if (!out->dags_source) out->dags_source = sf_strdup(SF_DEFAULT_DAGS);
    if (!out->work_dir) {
        char *err = NULL, *root = sf_afl_root(&err);
        if (!root) {
            sf_diag_error(diags, "local.work_dir", "No default work directory", "%s; set work_dir.", err);
            free(err);
            sf_afl_spec_clear(out);
            return -1;
        }
        out->work_dir = sf_fmt("%s/%s", root, name && *name ? name : "airflow");
        free(root);
    }
    if (env && env->kind == SF_VAL_MAP) out->env = sf_value_copy(env);
    return 0;
}

sf_value *sf_afl_spec_to_value(const sf_afl_spec *s, char *const written[SF_AFL_N_PATHS])
{
    sf_value *v = sf_value_object();
    const char *paths[] = {s->work_dir, s->airflow_bin, s->dags_source};
    for (size_t i = 0; i < SF_AFL_N_PATHS; i++) {
        const char *p = written && written[i] ? written[i] : paths[i];
        sf_value_put(v, sf_afl_path_attrs[i], p ? sf_value_string(p) : sf_value_null());
    }
    sf_value_put(v, "api_port", sf_value_int(s->api_port));
    sf_value_put(v, "parallelism", sf_value_int(s->parallelism));
    sf_value_put(v, "env", s->env ? sf_value_copy(s->env) : sf_value_null());
    return v;
}

void sf_afl_spec_clear(sf_afl_spec *s)
{
    free(s->work_dir);
    free(s->airflow_bin);
    free(s->dags_source);
    sf_value_free(s->env);
    memset(s, 0, sizeof *s);
}
