/* submit.c — starting, watching and stopping one spark-submit.
 *
 * Every Spark application a pipeline run makes goes through here: the
 * command line (master, name, Python, settings, program and its arguments),
 * the environment (JAVA_HOME, SPARK_HOME, PYSPARK_PYTHON), a driver in a
 * process group of its own so that a cancel stops it and everything it
 * started, and the metrics JSON a job leaves behind.
 */
#include "engines/local/local.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "base/spawn.h"

extern char **environ;

#define STOP_GRACE_MS 10000
#define POLL_MS 25

int64_t sf_local_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The Python that runs drivers and executors: the first of the candidates
 * the Spark lookup tries (spark.c), so jobs run where pyspark was found. */
static const char *job_python(void)
{
    const char *pythons[4];
    sf_spawn_pythons(pythons);
    return pythons[0];
}

static size_t count(const char *const *v)
{
    size_t n = 0;
    while (v && v[n]) n++;
    return n;
}

/* The JVM options of the driver and the executors unless the stage's
 * spark_conf sets them: C1 only and the serial GC, as for the daemons
 * (daemons.c).  A household-sized run is mostly JVM start-up, class loading
 * and one-off code generation, so C2's compiler threads and the parallel
 * GC's threads cost more CPU than they ever win back: on the quickstart
 * (100k rows, local[2]) CPU time fell from 67 s to 36 s.  For long runs
 * over many millions of rows, set both keys in spark_conf (e.g. to "")
 * to get the JVM's defaults back.  With them goes Spark's class archive
 * when there is one (cds.c). */
const char *const sf_local_lean_jvm_keys[2] = {"spark.driver.extraJavaOptions", "spark.executor.extraJavaOptions"};

static bool conf_sets(const char *const *conf, const char *key)
{
    size_t len = strlen(key);
    for (size_t i = 0; conf && conf[i]; i++)
        if (strncmp(conf[i], key, len) == 0 && conf[i][len] == '=') return true;
    return false;
}

char **sf_local_submit_argv(const sf_local_cluster *c, const char *app_name, const char *const *conf,
                            const char *program, const char *const *program_args)
{
    size_t n = 0, cap = 20 + 2 * count(conf) + count(program_args);
    char **argv = calloc(cap, sizeof *argv);
    if (!argv) abort();
    argv[n++] = sf_fmt("%s/bin/spark-submit", c->spec.spark_home);
    argv[n++] = sf_strdup("--master");
    argv[n++] = sf_fmt("spark://127.0.0.1:%d", c->master.port);
    argv[n++] = sf_strdup("--name");
    argv[n++] = sf_strdup(app_name);
    argv[n++] = sf_strdup("--conf");
    argv[n++] = sf_fmt("spark.pyspark.python=%s", job_python());
    argv[n++] = sf_strdup("--conf");
    argv[n++] = sf_strdup("spark.driver.host=127.0.0.1");
    char *jvm_opts = sf_local_jvm_opts(c->spec.spark_home, c->java_home);
    for (size_t i = 0; i < 2; i++) {
        if (conf_sets(conf, sf_local_lean_jvm_keys[i])) continue;
        argv[n++] = sf_strdup("--conf");
        argv[n++] = sf_fmt("%s=%s", sf_local_lean_jvm_keys[i], jvm_opts);
    }
    free(jvm_opts);
    for (size_t i = 0; conf && conf[i]; i++) {
        argv[n++] = sf_strdup("--conf");
        argv[n++] = sf_strdup(conf[i]);
    }
    argv[n++] = sf_strdup(program);
    for (size_t i = 0; program_args && program_args[i]; i++) argv[n++] = sf_strdup(program_args[i]);
    return argv;
}

char **sf_local_stage_args(const sf_run_spec *run, const sf_stage_spec *st, const char *metrics)
{
    char **args = calloc(9 + count(st->args), sizeof *args);
    if (!args) abort();
    size_t n = 0;
    const char *std_args[][2] = {{"--input", run->input_uri},
                                 {"--work", run->work_uri},
                                 {"--reference", run->reference_uri},
                                 {"--metrics", metrics}};
    for (size_t i = 0; i < 4; i++) {
        if (!std_args[i][1]) continue;
        args[n++] = sf_strdup(std_args[i][0]);
        args[n++] = sf_strdup(std_args[i][1]);
    }
    for (size_t i = 0; st->args && st->args[i]; i++) args[n++] = sf_strdup(st->args[i]);
    return args;
}

void sf_local_strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++) free(v[i]);
    free(v);
}

char **sf_local_submit_env(const sf_local_cluster *c)
{
    size_t n = 0;
    while (environ[n]) n++;
    char **env = calloc(n + 8, sizeof *env);
    if (!env) abort();
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "JAVA_HOME=", 10) && strncmp(environ[i], "SPARK_HOME=", 11) &&
            strncmp(environ[i], "PYSPARK_PYTHON=", 15) && strncmp(environ[i], "SPARK_LOCAL_IP=", 15))
            env[k++] = sf_strdup(environ[i]);
    env[k++] = sf_fmt("JAVA_HOME=%s", c->java_home);
    env[k++] = sf_fmt("SPARK_HOME=%s", c->spec.spark_home);
    env[k++] = sf_fmt("PYSPARK_PYTHON=%s", job_python());
    env[k++] = sf_strdup("SPARK_LOCAL_IP=127.0.0.1");
    return env;
}

pid_t sf_local_spawn_driver(char **argv, char **env, const char *dir, const char *log, char **err)
{
    sf_spawn_opts opts = {
        .envp = env,
        /* Spark drops spark-warehouse/ and metastore files in its cwd: keep
         * them with the run, not in the user's Terraform directory. */
        .cwd = dir,
        .new_pgroup = true, /* stopped as a group */
        .in = {SF_SPAWN_DEVNULL},
        .out = {SF_SPAWN_FILE, .path = log},
        .err = {SF_SPAWN_STDOUT},
    };
    pid_t pid;
    int rc = sf_spawn(&pid, argv, &opts);
    if (rc != 0) {
        *err = sf_fmt("cannot start %s: %s", argv[0], strerror(rc));
        return -1;
    }
    return pid;
}

int sf_local_wait_driver(sf_ctx *ctx, pid_t pid, void (*tick)(void *), void *arg)
{
    int status;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return status;
        if (r < 0 && errno != EINTR) return -1;
        if (tick) tick(arg);
        if (sf_ctx_sleep_ms(ctx, POLL_MS) != 0) break;
    }
    kill(-pid, SIGTERM);
    for (int64_t waited = 0; waited < STOP_GRACE_MS; waited += POLL_MS) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            kill(-pid, SIGKILL); /* anything the driver left in its group */
            return -1;
        }
        sf_local_sleep_ms(POLL_MS);
    }
    kill(-pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

sf_value *sf_local_read_metrics(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char buf[1 << 16];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    cJSON *root = cJSON_Parse(buf);
    sf_value *m = sf_stage_metrics_from_json(root);
    cJSON_Delete(root);
    return m;
}

char *sf_local_describe_exit(int status)
{
    if (WIFEXITED(status)) return sf_fmt("spark-submit exited with status %d", WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return sf_fmt("spark-submit was killed by signal %d", WTERMSIG(status));
    return sf_strdup("spark-submit ended abnormally");
}

void sf_local_stage_succeeded(sf_stage_result *r, const char *metrics_path)
{
    r->metrics = sf_local_read_metrics(metrics_path);
    if (r->metrics) {
        r->status = sf_strdup("succeeded");
        return;
    }
    r->status = sf_strdup("failed");
    r->reason = sf_fmt("the job succeeded but wrote no metrics JSON at %s (see the job contract "
                       "in dags/README.md)",
                       metrics_path);
}
