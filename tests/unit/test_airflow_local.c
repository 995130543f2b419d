/* test_airflow_local.c — the pure pieces of the local Airflow orchestrator
 * (orchestrators/local/): the block's defaults and paths, the processes'
 * environment, the password and its 0600 file, the DAG folder copy, the
 * health and version documents, and the details <-> host round trip that
 * lets a later command find a host from the state alone.  The processes
 * themselves are exercised by tests/e2e/test_airflow.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/files.h"
#include "orchestrators/local/airflow_local.h"

static sf_value *obj(const char *k1, sf_value *v1, const char *k2, sf_value *v2)
{
    sf_value *o = sf_value_object();
    if (k1) sf_value_put(o, k1, v1);
    if (k2) sf_value_put(o, k2, v2);
    return o;
}

static const char *env_get(char **env, const char *name)
{
    size_t n = strlen(name);
    const char *found = NULL;
    for (char **p = env; *p; p++)
        if (strncmp(*p, name, n) == 0 && (*p)[n] == '=') found = *p + n + 1; /* the last one wins */
    return found;
}

/* ---- spec -------------------------------------------------------------- */

static void test_spec_defaults(void **state)
{
    (void)state;
    char *saved = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    setenv("HOME", "/home/tester", 1);
    sf_diags d;
    sf_diags_init(&d);
    sf_afl_spec s;
    char *written[SF_AFL_N_PATHS];
    sf_value *v = sf_value_object();
    assert_int_equal(sf_afl_spec_from_value(v, "ops", &s, written, &d), 0);
    assert_string_equal(s.work_dir, "/home/tester/.sparkflow/airflow/ops");
    assert_int_equal(s.api_port, 0);
    assert_int_equal(s.parallelism, 4);
    assert_non_null(strstr(s.airflow_bin, ".venv-airflow/bin/airflow"));
    assert_non_null(strstr(s.dags_source, "dags/airflow"));
    for (int i = 0; i < SF_AFL_N_PATHS; i++) assert_null(written[i]);
    sf_afl_spec_clear(&s);
    sf_value_free(v);
    sf_diags_clear(&d);
    if (saved) setenv("HOME", saved, 1);
    free(saved);
}

static void test_spec_relative_paths_keep_their_spelling(void **state)
{
    (void)state;
    sf_diags d;
    sf_diags_init(&d);
    sf_afl_spec s;
    char *written[SF_AFL_N_PATHS];
    sf_value *v = obj("work_dir", sf_value_string("af/./home/"), "parallelism", sf_value_int(2));
    assert_int_equal(sf_afl_spec_from_value(v, "x", &s, written, &d), 0);
    char *cwd = getcwd(NULL, 0);
    char *want = sf_fmt("%s/af/home", strcmp(cwd, "/") ? cwd : "");
    assert_string_equal(s.work_dir, want);
    assert_string_equal(written[0], "af/./home/");
    assert_int_equal(s.parallelism, 2);
    /* The value as applied: defaults filled, the spelling kept. */
    sf_value *back = sf_afl_spec_to_value(&s, written);
    assert_string_equal(sf_value_get_str(sf_value_get(back, "work_dir")), "af/./home/");
    int64_t n;
    assert_int_equal(sf_value_get_int(sf_value_get(back, "parallelism"), &n), 0);
    assert_int_equal(n, 2);
    assert_true(sf_value_is_null(sf_value_get(back, "env")));
    sf_value_free(back);
    for (int i = 0; i < SF_AFL_N_PATHS; i++) free(written[i]);
    free(want);
    free(cwd);
    sf_afl_spec_clear(&s);
    sf_value_free(v);
    sf_diags_clear(&d);
}

static void test_spec_rejects_bad_values(void **state)
{
    (void)state;
    sf_value *env = sf_value_map();
    sf_value_put(env, "AIRFLOW__API__PORT", sf_value_string("80"));
    sf_value *cases[] = {
        obj("parallelism", sf_value_int(0), NULL, NULL),
        obj("api_port", sf_value_int(80), NULL, NULL),
        obj("work_dir", sf_value_string("~/af"), NULL, NULL),
        obj("env", env, NULL, NULL),
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sf_diags d;
        sf_diags_init(&d);
        sf_afl_spec s;
        assert_int_equal(sf_afl_spec_from_value(cases[i], "x", &s, NULL, &d), -1);
        assert_true(sf_diags_has_error(&d));
        sf_diags_clear(&d);
        sf_value_free(cases[i]);
    }
    assert_false(sf_afl_env_key_allowed("AIRFLOW_HOME"));
    assert_false(sf_afl_env_key_allowed("A=B"));
    assert_true(sf_afl_env_key_allowed("AIRFLOW__CORE__DEFAULT_TIMEZONE"));
}

/* ---- environment ------------------------------------------------------- */

static void test_env(void **state)
{
    (void)state;
    sf_value *extra = sf_value_map();
    sf_value_put(extra, "AIRFLOW__CORE__DEFAULT_TIMEZONE", sf_value_string("utc"));
    sf_afl_spec s = {.work_dir = "/w", .parallelism = 3, .env = extra};
    sf_afl_ports ports = {8080, 9001, 9002};
    char *base[] = {"PATH=/bin", "AIRFLOW__API__HOST=0.0.0.0", "AIRFLOW_HOME=/elsewhere", "PYTHONPATH=/x", NULL};
    char **env = sf_afl_env(&s, &ports, base);
    assert_string_equal(env_get(env, "PATH"), "/bin");
    assert_string_equal(env_get(env, "AIRFLOW_HOME"), "/w");
    assert_string_equal(env_get(env, "PYTHONPATH"), "/w/dags");
    assert_string_equal(env_get(env, "AIRFLOW__CORE__DAGS_FOLDER"), "/w/dags");
    assert_string_equal(env_get(env, "AIRFLOW__API__HOST"), "127.0.0.1");
    assert_string_equal(env_get(env, "AIRFLOW__API__PORT"), "8080");
    assert_string_equal(env_get(env, "AIRFLOW__API__BASE_URL"), "http://localhost:8080");
    assert_string_equal(env_get(env, "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"), "9001");
    assert_string_equal(env_get(env, "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"), "9002");
    assert_string_equal(env_get(env, "AIRFLOW__CORE__PARALLELISM"), "3");
    assert_string_equal(env_get(env, "AIRFLOW__CORE__LOAD_EXAMPLES"), "False");
    assert_string_equal(env_get(env, "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"), "sparkflow:admin");
    assert_string_equal(env_get(env, "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"), "/w/passwords.json");
    assert_string_equal(env_get(env, "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL"), "5");
    assert_string_equal(env_get(env, "AIRFLOW__CORE__DEFAULT_TIMEZONE"), "utc");
    assert_null(env_get(env, "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"));
    /* The provider's own Airflow settings do not leak in. */
    for (char **p = env; *p; p++) assert_null(strstr(*p, "0.0.0.0"));
    sf_local_strv_free(env);
    sf_value_free(extra);
}

/* ---- password, files, DAG folder ----------------------------------------- */

static void test_password(void **state)
{
    (void)state;
    char a[33], b[33], *err = NULL;
    assert_int_equal(sf_afl_new_password(a, &err), 0);
    assert_int_equal(sf_afl_new_password(b, &err), 0);
    assert_int_equal(strlen(a), 32);
    assert_string_not_equal(a, b);
    for (const char *p = a; *p; p++)
        assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *p));

    char dir[] = "/tmp/sf-afl-unit-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = sf_fmt("%s/passwords.json", dir);
    mode_t old = umask(0);
    assert_int_equal(sf_afl_write_passwords(path, "sparkflow", a, &err), 0);
    umask(old);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char *back = sf_afl_read_password(path, "sparkflow");
    assert_string_equal(back, a);
    assert_null(sf_afl_read_password(path, "admin"));
    free(back);
    unlink(path);
    rmdir(dir);
    free(path);
}

static void write_file(const char *path, const char *text)
{
    assert_int_equal(sf_file_write_atomic(path, text, strlen(text), 0644), 0);
}

static void test_copy_dags(void **state)
{
    (void)state;
    char dir[] = "/tmp/sf-afl-unit-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *src = sf_fmt("%s/src", dir), *dst = sf_fmt("%s/dst", dir), *err = NULL;
    /* Not a DAG factory folder: refused. */
    assert_int_equal(sf_file_mkdirs(src), 0);
    assert_int_equal(sf_afl_copy_dags(src, dst, &err), -1);
    assert_non_null(strstr(err, "sparkflow_dags.py"));
    free(err);
    err = NULL;
    char *p[6] = {
        sf_fmt("%s/sparkflow_dags.py", src),
        sf_fmt("%s/.airflowignore", src),
        sf_fmt("%s/sparkflow_airflow/__pycache__", src),
        sf_fmt("%s/sparkflow_airflow/spec.py", src),
        sf_fmt("%s/specs", src),
        sf_fmt("%s/specs/old.json", src),
    };
    write_file(p[0], "# factory\n");
    write_file(p[1], "sparkflow_airflow/\n");
    assert_int_equal(sf_file_mkdirs(p[2]), 0);
    write_file(p[3], "# spec\n");
    assert_int_equal(sf_file_mkdirs(p[4]), 0);
    write_file(p[5], "{}");
    assert_int_equal(sf_afl_copy_dags(src, dst, &err), 0);
    char *q[5] = {
        sf_fmt("%s/sparkflow_dags.py", dst),
        sf_fmt("%s/.airflowignore", dst),
        sf_fmt("%s/sparkflow_airflow/spec.py", dst),
        sf_fmt("%s/specs", dst),
        sf_fmt("%s/specs/old.json", dst),
    };
    struct stat st;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(lstat(q[i], &st), 0);
        assert_true(S_ISREG(st.st_mode)); /* a copy, not a link */
    }
    assert_int_equal(stat(q[3], &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_not_equal(access(q[4], F_OK), 0); /* the source's specs stay behind */
    char *pyc = sf_fmt("%s/sparkflow_airflow/__pycache__", dst);
    assert_int_not_equal(access(pyc, F_OK), 0);
    free(pyc);
    for (int i = 0; i < 6; i++) free(p[i]);
    for (int i = 0; i < 5; i++) free(q[i]);
    char *rm = sf_fmt("rm -rf '%s'", dir);
    assert_int_equal(system(rm), 0);
    free(rm);
    free(src);
    free(dst);
}

/* ---- health and version ---------------------------------------------------- */

static void test_health_parse(void **state)
{
    (void)state;
    const char *ok = "{\"metadatabase\":{\"status\":\"healthy\"},\"scheduler\":{\"status\":\"healthy\","
                     "\"latest_scheduler_heartbeat\":\"2026-12-07T00:00:00Z\"},\"triggerer\":{\"status\":"
                     "\"healthy\"},\"dag_processor\":{\"status\":\"healthy\"}}";
    char *why = NULL;
    assert_int_equal(sf_afl_health_parse(ok, strlen(ok), &why), 0);
    assert_null(why);
    const char *starting = "{\"metadatabase\":{\"status\":\"healthy\"},\"scheduler\":{\"status\":\"healthy\"},"
                           "\"triggerer\":{\"status\":null},\"dag_processor\":{\"status\":\"unhealthy\"}}";
    assert_int_equal(sf_afl_health_parse(starting, strlen(starting), &why), 1);
    assert_string_equal(why, "triggerer: no status, dag_processor: unhealthy");
    free(why);
    const char *sick = "{\"metadatabase\":{\"status\":\"healthy\"},\"scheduler\":{\"status\":\"unhealthy\"}}";
    assert_int_equal(sf_afl_health_parse(sick, strlen(sick), &why), 1);
    assert_string_equal(why, "triggerer: not reported, dag_processor: not reported, scheduler: unhealthy");
    free(why);
    assert_int_equal(sf_afl_health_parse("<html>", 6, &why), -1);
    free(why);

    char *v = sf_afl_version_parse("{\"version\":\"3.3.2\",\"git_version\":null}", 38);
    assert_string_equal(v, "3.3.2");
    free(v);
    assert_null(sf_afl_version_parse("{}", 2));
    assert_null(sf_afl_version_parse("nope", 4));
}

/* ---- ids and details ----------------------------------------------------------- */

static void test_ids(void **state)
{
    (void)state;
    char id[21], *err = NULL;
    assert_int_equal(sf_afl_new_id(id, &err), 0);
    assert_int_equal(strlen(id), 20);
    assert_true(sf_afl_id_valid(id));
    assert_false(sf_afl_id_valid("airflow-0123456789a"));
    assert_false(sf_afl_id_valid("airflow-0123456789aG"));
    assert_false(sf_afl_id_valid("local-0123456789ab"));
    assert_ptr_equal(sf_orchestrator_for_id(id), &sf_orchestrator_local);
}

static void test_details_round_trip(void **state)
{
    (void)state;
    sf_afl_host h = {0};
    h.id = sf_strdup("airflow-0123456789ab");
    h.spec.work_dir = sf_strdup("/w");
    h.spec.airflow_bin = sf_strdup("/v/bin/airflow");
    h.spec.dags_source = sf_strdup("/src/dags/airflow");
    h.spec.parallelism = 2;
    h.spec.api_port = 8080;
    h.ports = (sf_afl_ports){8080, 9001, 9002};
    h.dags_folder = sf_strdup("/w/dags");
    h.log_dir = sf_strdup("/w/logs");
    h.password_file = sf_strdup("/w/passwords.json");
    h.group.pgid = 500;
    for (int i = 0; i < SF_AFL_N_COMPONENTS; i++)
        h.group.procs[i] = (sf_local_proc){.pid = 501 + i, .pgid = 500, .start_time = 1000 + i};
    sf_value *d = sf_afl_details(&h);
    assert_string_equal(sf_value_get_str(sf_value_get(d, "scheduler_pid")), "502");
    assert_string_equal(sf_value_get_str(sf_value_get(d, "dag_processor_start_time")), "1002");
    assert_null(sf_value_get(d, "password"));
    sf_afl_host back;
    char *err = NULL;
    assert_int_equal(sf_afl_from_details(h.id, d, &back, &err), 0);
    assert_int_equal(back.group.pgid, 500);
    assert_int_equal(back.ports.api, 8080);
    assert_int_equal(back.ports.trigger_logs, 9002);
    assert_int_equal(back.spec.parallelism, 2);
    assert_string_equal(back.spec.airflow_bin, "/v/bin/airflow");
    for (int i = 0; i < SF_AFL_N_COMPONENTS; i++) {
        assert_int_equal(back.group.procs[i].pid, 501 + i);
        assert_int_equal(back.group.procs[i].start_time, 1000 + i);
    }
    assert_string_equal(back.group.procs[3].log, "/w/logs/triggerer.log");
    /* Processes that do not exist are not ours: dead at once. */
    assert_true(sf_afl_dead_component(&back.group) >= 0);
    sf_afl_host_clear(&back);
    /* A fact missing: an error, not a guess. */
    sf_value_put(d, "triggerer_start_time", sf_value_null());
    assert_int_equal(sf_afl_from_details(h.id, d, &back, &err), -1);
    assert_non_null(strstr(err, "triggerer"));
    free(err);
    sf_value_free(d);
    sf_afl_host_clear(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_defaults),
        cmocka_unit_test(test_spec_relative_paths_keep_their_spelling),
        cmocka_unit_test(test_spec_rejects_bad_values),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_password),
        cmocka_unit_test(test_copy_dags),
        cmocka_unit_test(test_health_parse),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_details_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
