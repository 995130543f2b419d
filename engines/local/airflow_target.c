/* airflow_target.c — how Airflow submits a pipeline's stages to a local
 * cluster itself (engine.h's airflow_target): the master, the
 * spark-submit, Python and Java the cluster runs with, and the settings
 * the provider's own runs add (the lean JVM options, submit.c) as the
 * engine's defaults (`local.conf`: a stage's own spark_conf wins, and they
 * stay out of the fingerprint), so that a run through Airflow is the same
 * Spark work as a direct one.
 *
 * Also what a direct run uses to put all its stages in one Spark
 * application (run_one_app.c): the stage runner, written into the
 * cluster's runs folder (`local.stage_runner`), and that folder
 * (`local.runs_dir`), where the DAG keeps each run's files as direct runs
 * do.  The DAG factory uses them under the same condition as run.c. */
#include "engines/local/local.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/files.h"
#include "engines/run.h"

extern const char sf_local_stage_runner_py[];

/* The runner's bytes at `path`, rewritten only when they differ (a run
 * may be reading the file). */
static int put_runner(const char *dir, const char *path, sf_diags *diags)
{
    char *have = sf_file_read(path);
    bool same = have && strcmp(have, sf_local_stage_runner_py) == 0;
    free(have);
    if (same) return 0;
    if (sf_file_mkdirs(dir) == 0 &&
        sf_file_write_atomic(path, sf_local_stage_runner_py, strlen(sf_local_stage_runner_py), 0644) == 0)
        return 0;
    sf_diag_error(diags, "cluster_id", "Cannot write the stage runner",
                  "Airflow runs the stages of a pipeline in one Spark application through %s, which could not "
                  "be written: %s.",
                  path, strerror(errno));
    return -1;
}

sf_engine_status sf_local_airflow_target(sf_ctx *ctx, const sf_engine_env *env, const char *id,
                                         const sf_run_pipeline *p, cJSON *target, cJSON *stages, sf_diags *diags)
{
    (void)env;
    (void)p;
    (void)stages;
    sf_local_cluster c = {0};
    if (sf_local_usable_cluster(ctx, id, &c, diags) != 0) return SF_ENGINE_ERROR;
    char *runs = sf_fmt("%s/runs", c.spec.work_dir);
    char *runner = sf_fmt("%s/_stage_runner.py", runs);
    sf_engine_status st = put_runner(runs, runner, diags) == 0 ? SF_ENGINE_OK : SF_ENGINE_ERROR;
    const char *pythons[4];
    sf_spawn_pythons(pythons);
    char *master = sf_fmt("spark://127.0.0.1:%d", c.master.port);
    char *submit = sf_fmt("%s/bin/spark-submit", c.spec.spark_home);
    cJSON_AddStringToObject(target, "master", master);
    cJSON_AddStringToObject(target, "spark_submit", submit);
    cJSON_AddStringToObject(target, "python", pythons[0]);
    if (c.java_home) cJSON_AddStringToObject(target, "java_home", c.java_home);
    else cJSON_AddNullToObject(target, "java_home");
    cJSON_AddObjectToObject(target, "env");
    cJSON *conf = cJSON_AddObjectToObject(target, "conf");
    char *jvm_opts = sf_local_jvm_opts(c.spec.spark_home, c.java_home);
    for (size_t i = 0; i < 2; i++) cJSON_AddStringToObject(conf, sf_local_lean_jvm_keys[i], jvm_opts);
    free(jvm_opts);
    cJSON_AddStringToObject(target, "runs_dir", runs);
    cJSON_AddStringToObject(target, "stage_runner", runner);
    free(master);
    free(submit);
    free(runner);
    free(runs);
    sf_local_cluster_clear(&c);
    return st;
}
