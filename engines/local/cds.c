/* cds.c — the JVM options of Spark's processes, and the class-data sharing
 * archive that halves their start-up.
 *
 * A household-sized run is mostly JVM start-up: the master, each worker,
 * each driver and each executor parses some 9,000 classes out of Spark's
 * jars before doing any work.  Java 17 can map the parsed classes of an
 * earlier run from a dynamic CDS archive instead (-XX:SharedArchiveFile):
 * a small spark-submit's CPU time falls from 8.3 to 4.3 s.  The archive is
 * made once per Spark installation and Java by spark_cds.py (a small Spark
 * application run with -XX:ArchiveClassesAtExit) and kept next to Spark's
 * jars, so every HOME, cluster and run on the machine shares it:
 * scripts/bootstrap makes it for the project's pyspark, and creating a
 * cluster makes it in the background when there is none (delete stops an
 * unfinished build).  A missing, stale or refused archive only costs
 * speed: the JVM then reads the jars as usual and says nothing.
 *
 * SPARKFLOW_SPARK_CDS=off turns the archive off; set to a directory, it
 * keeps the archive there (default: <spark_home>/.sparkflow-cds when Spark's
 * folder is writable, else $XDG_CACHE_HOME or ~/.cache/sparkflow/spark-cds).
 */
#include "engines/local/local.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/files.h"
#include "base/spawn.h"

extern char **environ;
extern const char sf_local_spark_cds_py[];

#define ARCHIVE "spark.jsa"
#define STAMP_VERSION 1
#define BUILDER_GRACE_MS 2000
/* Quiet when the archive is refused: it is an optimisation, not an error. */
#define CDS_QUIET "-Xlog:cds=off -Xlog:cds+dynamic=off"

/* ---- where the archive lives --------------------------------------------- */

static char *archive_dir(const char *spark_home)
{
    const char *set = getenv("SPARKFLOW_SPARK_CDS");
    if (set && strcmp(set, "off") == 0) return NULL;
    if (set && *set) return sf_strdup(set);
    char *next_to_jars = sf_fmt("%s/.sparkflow-cds", spark_home);
    if (access(next_to_jars, W_OK) == 0 || access(spark_home, W_OK) == 0) return next_to_jars;
    free(next_to_jars);
    const char *xdg = getenv("XDG_CACHE_HOME");
    if (xdg && *xdg == '/') return sf_fmt("%s/sparkflow/spark-cds", xdg);
    const char *home = getenv("HOME");
    return home && *home ? sf_fmt("%s/.cache/sparkflow/spark-cds", home) : NULL;
}

/* ---- is it valid --------------------------------------------------------- */

static bool stamp_number_is(const cJSON *stamp, const char *key, long long want)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(stamp, key);
    return cJSON_IsNumber(v) && (long long)v->valuedouble == want;
}

static bool stamp_string_is(const cJSON *stamp, const char *key, const char *want)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(stamp, key);
    return cJSON_IsString(v) && strcmp(v->valuestring, want) == 0;
}

/* The archive in dir, when its stamp (spark_cds.py's facts) still
 * describes this Java and these jars and the archive is whole. */
static bool archive_valid(const char *dir, const char *spark_home, const char *java_home)
{
    char *java_path = sf_fmt("%s/bin/java", java_home), *jars_path = sf_fmt("%s/jars", spark_home);
    char *archive = sf_fmt("%s/" ARCHIVE, dir), *stamp_path = sf_fmt("%s/" ARCHIVE ".json", dir);
    char java[PATH_MAX], jars[PATH_MAX];
    struct stat js, ds, as;
    bool ok = realpath(java_path, java) && realpath(jars_path, jars) && stat(java, &js) == 0 && stat(jars, &ds) == 0 &&
              stat(archive, &as) == 0;
    char *text = ok ? sf_file_read(stamp_path) : NULL;
    cJSON *stamp = text ? cJSON_Parse(text) : NULL;
    ok = stamp && stamp_number_is(stamp, "version", STAMP_VERSION) && stamp_string_is(stamp, "java", java) &&
         stamp_number_is(stamp, "java_mtime", (long long)js.st_mtime) &&
         stamp_number_is(stamp, "java_size", (long long)js.st_size) && stamp_string_is(stamp, "jars", jars) &&
         stamp_number_is(stamp, "jars_mtime", (long long)ds.st_mtime) &&
         stamp_number_is(stamp, "archive_size", (long long)as.st_size);
    cJSON_Delete(stamp);
    free(text);
    free(java_path);
    free(jars_path);
    free(archive);
    free(stamp_path);
    return ok;
}

/* ---- the options --------------------------------------------------------- */

char *sf_local_jvm_opts(const char *spark_home, const char *java_home)
{
    char *dir = spark_home && java_home ? archive_dir(spark_home) : NULL;
    char *opts = dir && archive_valid(dir, spark_home, java_home)
                     ? sf_fmt("%s -XX:SharedArchiveFile=%s/" ARCHIVE " " CDS_QUIET, SF_LOCAL_LEAN_JVM_OPTS, dir)
                     : sf_strdup(SF_LOCAL_LEAN_JVM_OPTS);
    free(dir);
    return opts;
}

/* ---- building it --------------------------------------------------------- */

static char *builder_pidfile(const sf_local_cluster *c)
{
    return sf_fmt("%s/logs/spark-cds.pid", c->spec.work_dir);
}

void sf_local_cds_build(sf_ctx *ctx, const sf_local_cluster *c)
{
    char *dir = archive_dir(c->spec.spark_home);
    if (!dir || archive_valid(dir, c->spec.spark_home, c->java_home)) {
        free(dir);
        return;
    }
    char *script = sf_fmt("%s/runs/_spark_cds.py", c->spec.work_dir);
    char *log = sf_fmt("%s/logs/spark-cds.log", c->spec.work_dir);
    char *err = NULL;
    if (sf_file_write_atomic(script, sf_local_spark_cds_py, strlen(sf_local_spark_cds_py), 0644) != 0) {
        err = sf_fmt("cannot write %s: %s", script, strerror(errno));
    } else {
        const char *pythons[4];
        sf_spawn_pythons(pythons);
        char *argv[] = {(char *)pythons[0],
                        script,
                        "--spark-home",
                        c->spec.spark_home,
                        "--java-home",
                        c->java_home,
                        "--dir",
                        dir,
                        "--jvm-opts",
                        SF_LOCAL_LEAN_JVM_OPTS,
                        NULL};
        sf_local_proc p = {0};
        if (sf_local_spawn_detached(argv, environ, log, &p, &err) == 0) {
            char *pidfile = builder_pidfile(c), *line = sf_fmt("%d %d %lld\n", p.pid, p.pgid, p.start_time);
            if (sf_file_write_atomic(pidfile, line, strlen(line), 0644) != 0)
                err = sf_fmt("cannot write %s: %s", pidfile, strerror(errno));
            free(pidfile);
            free(line);
            sf_log(ctx, SF_LOG_INFO, "local cluster %s: building Spark's class archive in %s (pid %d, log %s)", c->id,
                   dir, p.pid, log);
        }
    }
    if (err) sf_log(ctx, SF_LOG_WARN, "local cluster %s: Spark's class archive not built: %s", c->id, err);
    free(err);
    free(script);
    free(log);
    free(dir);
}

void sf_local_cds_stop(const sf_local_cluster *c)
{
    char *pidfile = builder_pidfile(c);
    char *line = sf_file_read(pidfile);
    sf_local_proc p = {0};
    if (line && sscanf(line, "%d %d %lld", &p.pid, &p.pgid, &p.start_time) == 3 && sf_local_proc_alive(&p)) {
        sf_local_proc *procs[] = {&p};
        sf_local_stop_procs(procs, 1, BUILDER_GRACE_MS);
    }
    free(line);
    free(pidfile);
}
