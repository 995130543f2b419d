/* run.c — pipeline runs on a local cluster: one spark-submit per stage.
 *
 * Each stage is a Spark application submitted in client mode to the
 * cluster's master; the driver is a child of the provider in its own process
 * group, so a cancel (Ctrl-C, timeout) stops it and everything it started by
 * signalling the group.  Logs and metrics files live under the cluster's
 * work dir: runs/<pipeline>/<run_id>/<stage>.{log,metrics.json}.
 */
#include "local.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define STOP_GRACE_MS 10000
#define POLL_MS 25
#define LOG_TAIL_LINES 25

static int64_t wall_ms(void)
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
    sf_local_pythons(pythons);
    return pythons[0];
}

/* argv of spark-submit for one stage (strings malloc'd, NULL-terminated). */
static char **submit_argv(const sf_local_cluster *c, const sf_run_spec *run, const sf_stage_spec *st,
                          const char *script, const char *metrics)
{
    size_t n = 0, cap = 32;
    for (size_t i = 0; st->args && st->args[i]; i++) cap++;
    for (size_t i = 0; st->conf && st->conf[i]; i++) cap += 2;
    char **argv = calloc(cap, sizeof *argv);
    if (!argv) abort();
    argv[n++] = sf_local_fmt("%s/bin/spark-submit", c->spec.spark_home);
    argv[n++] = sf_local_strdup("--master");
    argv[n++] = sf_local_fmt("spark://127.0.0.1:%d", c->master.port);
    argv[n++] = sf_local_strdup("--name");
    argv[n++] = sf_local_fmt("%s-%s-%s", run->pipeline, st->name, run->run_id);
    argv[n++] = sf_local_strdup("--conf");
    argv[n++] = sf_local_fmt("spark.pyspark.python=%s", job_python());
    argv[n++] = sf_local_strdup("--conf");
    argv[n++] = sf_local_strdup("spark.driver.host=127.0.0.1");
    for (size_t i = 0; st->conf && st->conf[i]; i++) {
        argv[n++] = sf_local_strdup("--conf");
        argv[n++] = sf_local_strdup(st->conf[i]);
    }
    argv[n++] = sf_local_strdup(script);
    const char *std_args[][2] = {{"--input", run->input_uri}, {"--work", run->work_uri},
                                 {"--reference", run->reference_uri}, {"--metrics", metrics}};
    for (size_t i = 0; i < 4; i++) {
        if (!std_args[i][1]) continue;
        argv[n++] = sf_local_strdup(std_args[i][0]);
        argv[n++] = sf_local_strdup(std_args[i][1]);
    }
    for (size_t i = 0; st->args && st->args[i]; i++) argv[n++] = sf_local_strdup(st->args[i]);
    return argv;
}

static void free_argv(char **argv)
{
    for (size_t i = 0; argv && argv[i]; i++) free(argv[i]);
    free(argv);
}

/* The environment with JAVA_HOME, SPARK_HOME and PYSPARK_PYTHON set. */
static char **submit_env(const sf_local_cluster *c)
{
    size_t n = 0;
    while (environ[n]) n++;
    char **env = calloc(n + 8, sizeof *env);
    if (!env) abort();
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "JAVA_HOME=", 10) && strncmp(environ[i], "SPARK_HOME=", 11) &&
            strncmp(environ[i], "PYSPARK_PYTHON=", 15) && strncmp(environ[i], "SPARK_LOCAL_IP=", 15))
            env[k++] = sf_local_strdup(environ[i]);
    env[k++] = sf_local_fmt("JAVA_HOME=%s", c->java_home);
    env[k++] = sf_local_fmt("SPARK_HOME=%s", c->spec.spark_home);
    env[k++] = sf_local_fmt("PYSPARK_PYTHON=%s", job_python());
    env[k++] = sf_local_strdup("SPARK_LOCAL_IP=127.0.0.1");
    return env;
}

/* Start the driver in a process group of its own, in `dir`, output to `log`. */
static pid_t spawn_driver(char **argv, char **env, const char *dir, const char *log, char **err)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    /* Spark drops spark-warehouse/ and metastore files in its cwd: keep them
     * with the run, not in the user's Terraform directory. */
    posix_spawn_file_actions_addchdir_np(&fa, dir);
    posix_spawnattr_setpgroup(&attr, 0);
    /* The provider blocks SIGTERM and ignores SIGINT; the driver must not. */
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, &attr, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        *err = sf_local_fmt("cannot start %s: %s", argv[0], strerror(rc));
        return -1;
    }
    return pid;
}

/* Wait for the driver; on cancel stop its group (TERM, then KILL).
 * Returns the wait status, or -1 when it was stopped. */
static int wait_driver(sf_ctx *ctx, pid_t pid)
{
    int status;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return status;
        if (r < 0 && errno != EINTR) return -1;
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

/* Numbers of a metrics JSON object, flattened with '.' for nested objects. */
static void flatten_metrics(const cJSON *obj, const char *prefix, sf_value *out)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        if (!it->string) continue;
        char *key = prefix ? sf_local_fmt("%s.%s", prefix, it->string) : sf_local_strdup(it->string);
        if (cJSON_IsNumber(it)) sf_value_put(out, key, sf_value_double(it->valuedouble));
        else if (cJSON_IsObject(it)) flatten_metrics(it, key, out);
        free(key);
    }
}

static sf_value *read_metrics(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char buf[1 << 16];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    cJSON *root = cJSON_Parse(buf);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return NULL;
    }
    sf_value *m = sf_value_map();
    flatten_metrics(root, NULL, m);
    cJSON_Delete(root);
    return m;
}

static char *describe_status(int status)
{
    if (WIFEXITED(status)) return sf_local_fmt("spark-submit exited with status %d", WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return sf_local_fmt("spark-submit was killed by signal %d", WTERMSIG(status));
    return sf_local_strdup("spark-submit ended abnormally");
}

/* Run one stage; fills *r.  Returns 0 when it succeeded. */
static int run_stage(sf_ctx *ctx, const sf_local_cluster *c, const sf_run_spec *run, const sf_stage_spec *st,
                     const char *dir, sf_stage_result *r)
{
    char *script = realpath(st->script, NULL);
    char *metrics = sf_local_fmt("%s/%s.metrics.json", dir, st->name);
    r->log = sf_local_fmt("%s/%s.log", dir, st->name);
    r->started_at_ms = wall_ms();
    if (!script) {
        r->status = sf_local_strdup("failed");
        r->reason = sf_local_fmt("cannot read script %s: %s", st->script, strerror(errno));
        r->finished_at_ms = wall_ms();
        free(metrics);
        return -1;
    }
    char **argv = submit_argv(c, run, st, script, metrics), **env = submit_env(c);
    char *err = NULL;
    pid_t pid = spawn_driver(argv, env, dir, r->log, &err);
    int status = -1;
    if (pid > 0) {
        r->step_id = sf_local_fmt("%d", (int)pid);
        sf_log(ctx, SF_LOG_INFO, "pipeline %s: stage %s started (driver pid %d, log %s)", run->pipeline, st->name,
               (int)pid, r->log);
        status = wait_driver(ctx, pid);
    }
    r->finished_at_ms = wall_ms();
    int rc = -1;
    if (pid <= 0) {
        r->status = sf_local_strdup("failed");
        r->reason = err;
        err = NULL;
    } else if (status < 0) {
        r->status = sf_local_strdup("cancelled");
        r->reason = sf_local_fmt("stopped because the operation was %s", sf_ctx_reason(ctx) ? sf_ctx_reason(ctx) : "cancelled");
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        r->metrics = read_metrics(metrics);
        if (r->metrics) {
            r->status = sf_local_strdup("succeeded");
            rc = 0;
        } else {
            r->status = sf_local_strdup("failed");
            r->reason = sf_local_fmt("the job succeeded but wrote no metrics JSON at %s (see the job contract "
                                     "in dags/README.md)", metrics);
        }
    } else {
        r->status = sf_local_strdup("failed");
        r->reason = describe_status(status);
    }
    if (rc != 0) r->log_tail = sf_local_log_tail(r->log, LOG_TAIL_LINES);
    sf_log(ctx, SF_LOG_INFO, "pipeline %s: stage %s %s in %lld ms", run->pipeline, st->name, r->status,
           (long long)(r->finished_at_ms - r->started_at_ms));
    free(err);
    free_argv(argv);
    free_argv(env);
    free(script);
    free(metrics);
    return rc;
}

/* mkdir -p for the run's log directory. */
static int make_dirs(const char *path)
{
    char *p = sf_local_strdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) { free(p); return -1; }
        *s = '/';
    }
    int rc = mkdir(p, 0755) != 0 && errno != EEXIST ? -1 : 0;
    free(p);
    return rc;
}

sf_engine_status sf_local_pipeline_run(sf_ctx *ctx, const sf_engine_env *env, const char *id,
                                       const sf_run_spec *run, sf_stage_result *results, sf_diags *diags)
{
    (void)env;
    sf_local_cluster c = {0};
    char *err = NULL, *why = NULL;
    int loaded = sf_local_id_valid(id) ? sf_local_record_load(id, &c, &err) : 1;
    if (loaded != 0 || sf_local_check_cluster(ctx, &c, &why) != 0) {
        sf_diag_error(diags, "cluster_id", "Cluster is not running",
                      "Cluster %s is not running%s%s. Run `terraform apply` so the cluster is created "
                      "again, then the pipeline runs on it.",
                      id, why || err ? ": " : "", why ? why : err ? err : "");
        free(err);
        free(why);
        sf_local_cluster_clear(&c);
        for (size_t i = 0; i < run->n_stages; i++) results[i].status = sf_local_strdup("not_run");
        return SF_ENGINE_ERROR;
    }
    char *dir = sf_local_fmt("%s/runs/%s/%s", c.spec.work_dir, run->pipeline, run->run_id);
    sf_engine_status st = SF_ENGINE_OK;
    if (make_dirs(dir) != 0) {
        sf_diag_error(diags, NULL, "Cannot create the run's log directory", "%s: %s", dir, strerror(errno));
        st = SF_ENGINE_ERROR;
    }
    for (size_t i = 0; i < run->n_stages; i++) {
        if (st != SF_ENGINE_OK) {
            results[i].status = sf_local_strdup("not_run");
            continue;
        }
        if (run_stage(ctx, &c, run, &run->stages[i], dir, &results[i]) != 0) st = SF_ENGINE_ERROR;
    }
    free(dir);
    sf_local_cluster_clear(&c);
    return st;
}
