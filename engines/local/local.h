/* local.h — internals of the local engine, shared by its files.
 *
 * The local engine runs a Spark standalone cluster (one master, N workers)
 * as detached processes on this machine.  What it started is written to a
 * record, $HOME/.sparkflow/local/<id>/cluster.json, so that any later
 * provider process can find, inspect and stop the cluster by its id alone;
 * Terraform's state records enough to find it again under another HOME.
 *
 *   spec.c          the `local {}` block: schema, defaults, value <-> struct,
 *                   relative paths made absolute against Terraform's cwd
 *   spark.c         where Spark and Java are
 *   process.c       spawning detached daemons, process identity, stopping
 *   ports.c         free loopback ports, is a port open
 *   master_status.c the master's JSON status page (libcurl + cJSON)
 *   registry.c      the cluster record (cJSON) and ids
 *   locate.c        finding a cluster from what Terraform's state recorded
 *                   when this HOME's registry does not know it
 *   workdir.c       directories the engine creates and removes, log tails
 *   daemons.c       starting/stopping master and workers and waiting on them
 *   submit.c        one spark-submit: command line, environment, driver
 *                   process group, waiting/stopping, metrics JSON
 *   run.c           pipeline runs: one application, or one per stage
 *   run_one_app.c   the stages of a run in one application (the runner
 *                   stage_runner.py is compiled in)
 *   local.c         the engine table entry
 */
#ifndef SF_LOCAL_H
#define SF_LOCAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/spawn.h"
#include "base/str.h"
#include "engines/engine.h"

extern const sf_engine sf_engine_local;
extern const sf_block_def sf_local_spec_block;

/* ---- list.c ------------------------------------------------------------- */

/* The engine's cluster_list (see engine.h): every cluster in this HOME's
 * registry whose processes run. */
sf_engine_status sf_local_cluster_list(sf_ctx *ctx, const sf_engine_env *env, const sf_list_filter *filter,
                                       sf_cluster_found_fn found, void *arg, sf_diags *diags);

/* ---- run.c -------------------------------------------------------------- */

/* The engine's pipeline_run and airflow_target (see engine.h). */
sf_engine_status sf_local_airflow_target(sf_ctx *ctx, const sf_engine_env *env, const char *id,
                                         const sf_run_pipeline *p, cJSON *target, cJSON *stages, sf_diags *diags);
sf_engine_status sf_local_pipeline_run(sf_ctx *ctx, const sf_engine_env *env, const char *id, const sf_run_spec *run,
                                       sf_stage_result *results, sf_diags *diags);

/* ---- launch.c ----------------------------------------------------------- */

/* The engine's pipeline_run_launched and spec_summary (see engine.h). */
sf_engine_status sf_local_pipeline_run_launched(sf_ctx *ctx, const sf_engine_env *env, const char *name,
                                                const sf_value *spec, const sf_run_spec *run, sf_stage_result *results,
                                                sf_launch_report *launch, sf_diags *diags);
char *sf_local_spec_summary(const sf_value *spec);

/* ---- submit.c ----------------------------------------------------------- */

/* The JVM options of drivers and executors unless a stage's spark_conf
 * sets these keys (submit.c says why). */
#define SF_LOCAL_LEAN_JVM_OPTS "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
extern const char *const sf_local_lean_jvm_keys[2];

#include <sys/types.h>

typedef struct sf_local_cluster sf_local_cluster;
int64_t sf_local_wall_ms(void);
/* spark-submit to c's master: app name, "k=v" settings, the program and
 * its arguments (all NULL-terminated; result malloc'd, NULL-terminated). */
char **sf_local_submit_argv(const sf_local_cluster *c, const char *app_name, const char *const *conf,
                            const char *program, const char *const *program_args);
/* The job contract's arguments of a stage (--input, --work, --reference,
 * --metrics) then its own. */
char **sf_local_stage_args(const sf_run_spec *run, const sf_stage_spec *st, const char *metrics);
/* The environment for spark-submit: JAVA_HOME, SPARK_HOME, PYSPARK_PYTHON. */
char **sf_local_submit_env(const sf_local_cluster *c);
void sf_local_strv_free(char **v);
/* Start a driver in its own process group, cwd `dir`, output to `log`. */
pid_t sf_local_spawn_driver(char **argv, char **env, const char *dir, const char *log, char **err);
/* Wait for the driver, calling tick (if any) every poll; on cancel stop
 * its group (TERM, then KILL).  Returns the wait status, -1 if stopped. */
int sf_local_wait_driver(sf_ctx *ctx, pid_t pid, void (*tick)(void *), void *arg);
/* A metrics JSON as a map of numbers (nested objects flattened with '.'),
 * or NULL when missing or not an object. */
sf_value *sf_local_read_metrics(const char *path);
/* "spark-submit exited with status N" / "... killed by signal N". */
char *sf_local_describe_exit(int status);
/* A stage that exited 0: succeeded with its metrics, or failed when it
 * wrote none. */
void sf_local_stage_succeeded(sf_stage_result *r, const char *metrics_path);

/* ---- cds.c -------------------------------------------------------------- */

/* The lean JVM options, plus Spark's class-data sharing archive when a
 * valid one exists for this Spark and Java (malloc'd). */
char *sf_local_jvm_opts(const char *spark_home, const char *java_home);
/* Start building the archive in the background (detached, low priority)
 * when there is no valid one; a failure to start is only logged. */
void sf_local_cds_build(sf_ctx *ctx, const sf_local_cluster *c);
/* Stop a build c started that still runs. */
void sf_local_cds_stop(const sf_local_cluster *c);

/* ---- run_one_app.c -------------------------------------------------------- */

/* Run every stage of `run` in one application; fills results.  Returns 0
 * when all succeeded. */
int sf_local_run_one_app(sf_ctx *ctx, const sf_local_cluster *c, const sf_run_spec *run, const char *dir,
                         sf_stage_result *results);

/* ---- spec.c -------------------------------------------------------------- */

/* The `local {}` block with every attribute resolved (strings malloc'd). */
typedef struct sf_local_spec {
    int64_t workers;
    int64_t worker_cores;
    char *worker_memory;
    char *spark_home; /* NULL until located */
    char *work_dir;   /* NULL until chosen */
    char *java_home;  /* as configured; NULL when not set */
} sf_local_spec;

/* Read a spec value (nulls and unknowns take the defaults; spark_home and
 * work_dir stay NULL when not configured).  Returns 0, or -1 with a
 * diagnostic when a value is out of range.  A NULL value is all defaults. */
int sf_local_spec_from_value(const sf_value *v, sf_local_spec *out, sf_diags *diags);
/* The object value of the block's type for a fully resolved spec. */
sf_value *sf_local_spec_to_value(const sf_local_spec *spec);
void sf_local_spec_clear(sf_local_spec *spec);
/* Validators for the block (exposed for tests). */
void sf_local_validate_memory(const sf_value *v, const char *path, sf_diags *d);
void sf_local_validate_abs_path(const sf_value *v, const char *path, sf_diags *d);
void sf_local_validate_path(const sf_value *v, const char *path, sf_diags *d);

/* The path attributes, in this order: spark_home, work_dir, java_home. */
#define SF_LOCAL_N_PATHS 3
extern const char *const sf_local_path_attrs[SF_LOCAL_N_PATHS];
/* Path attributes as the user wrote them, where that was relative (NULL
 * otherwise): state keeps the spelling, the engine the absolute path. */
typedef struct sf_local_paths {
    char *path[SF_LOCAL_N_PATHS];
} sf_local_paths;
void sf_local_paths_clear(sf_local_paths *p);
/* `path` made absolute against `cwd` and lexically cleaned (malloc'd). */
char *sf_local_path_absolute(const char *cwd, const char *path);
/* A copy of spec value v whose relative path attributes are made absolute
 * against the provider's working directory (Terraform's, as for
 * hashicorp/local's `filename`); *written gets what they were.  NULL with a
 * diagnostic when the working directory cannot be named. */
sf_value *sf_local_spec_absolute(const sf_value *v, sf_local_paths *written, sf_diags *diags);

/* ---- spark.c ------------------------------------------------------------- */

/* The Spark installation to use: `configured`, else $SPARK_HOME, else the
 * pyspark package of $SPARKFLOW_PYTHON, python3 on PATH, or the project's
 * Python.  Returns a malloc'd directory that holds bin/spark-class, or NULL
 * with a diagnostic saying what was tried. */
char *sf_local_find_spark(sf_ctx *ctx, const char *configured, sf_diags *diags);
/* The Java home to run Spark with: `configured`, else $JAVA_HOME, else the
 * installation of `java` on PATH.  Returns a malloc'd directory that holds
 * bin/java, or NULL with a diagnostic. */
char *sf_local_find_java(const char *configured, sf_diags *diags);

/* ---- process.c ----------------------------------------------------------- */

/* A daemon the engine started.  `pgid` is its process group, which is also
 * its session: the daemon and anything it spawns (executors) live there. */
typedef struct sf_local_proc {
    int pid;
    int pgid;
    long long start_time; /* /proc/<pid>/stat field 22: tells pid reuse apart */
    int port;
    int webui_port;
    char *log; /* its stdout+stderr */
} sf_local_proc;

/* Start argv detached: its own session, stdin /dev/null, stdout and stderr
 * appended to log_path, environment envp, reparented to init at once.
 * Fills pid, pgid and start_time of *p.  Returns 0, or -1 with *err. */
int sf_local_spawn_detached(char *const argv[], char *const envp[], const char *log_path, sf_local_proc *p, char **err);
/* Start time of a live (non-zombie) pid, -1 when there is none. */
long long sf_local_proc_start_time(int pid);
/* True when p->pid is still the process that was started. */
bool sf_local_proc_alive(const sf_local_proc *p);
/* True when a live process is still in process group pgid. */
bool sf_local_group_alive(int pgid);
/* Stop the processes: SIGTERM to each group, up to grace_ms for them to
 * exit, then SIGKILL; waits until every group is empty (not cancellable, so
 * a cancelled create still cleans up; bounded by grace_ms + 10 s).  Returns
 * 0 when everything is gone, -1 if something survived. */
int sf_local_stop_procs(sf_local_proc *const *procs, size_t n, int64_t grace_ms);
/* Sleep without a context (used where cleanup must finish). */
void sf_local_sleep_ms(int64_t ms);

/* ---- ports.c ------------------------------------------------------------- */

/* n distinct free TCP ports on 127.0.0.1 (free when picked: a daemon may
 * still lose the race for one).  Returns 0, or -1 with *err. */
int sf_local_pick_ports(int *ports, size_t n, char **err);
/* True when something accepts connections on 127.0.0.1:port. */
bool sf_local_port_open(int port);

/* ---- master_status.c ----------------------------------------------------- */

typedef struct sf_local_status_worker {
    char *id;
    int port;
    char *state; /* ALIVE, DEAD, DECOMMISSIONED, UNKNOWN */
} sf_local_status_worker;

typedef struct sf_local_status {
    char *url;    /* spark://host:port */
    char *status; /* ALIVE, STANDBY, RECOVERING... */
    size_t n_workers;
    sf_local_status_worker *workers;
} sf_local_status;

/* Parse the master's /json/ page.  Returns 0, or -1 with *err. */
int sf_local_status_parse(const char *json, size_t len, sf_local_status *out, char **err);
/* GET http://127.0.0.1:<webui_port>/json/ and parse it.  Returns 0, or -1
 * with *err (connection refused, timeout, bad JSON). */
int sf_local_status_fetch(int webui_port, sf_local_status *out, char **err);
/* Workers in state ALIVE; and whether the one on `port` is among them. */
size_t sf_local_status_alive_count(const sf_local_status *s);
bool sf_local_status_worker_alive(const sf_local_status *s, int port);
void sf_local_status_clear(sf_local_status *s);

/* ---- registry.c ---------------------------------------------------------- */

/* Everything the engine knows about one cluster: what cluster.json holds. */
typedef struct sf_local_cluster {
    char *id;
    char *name;
    char *created_at;
    sf_local_spec spec;     /* resolved: spark_home and work_dir set */
    char *java_home;        /* resolved */
    sf_local_paths written; /* relative spellings of the spec's paths */
    char *record_dir;       /* where cluster.json lives (absolute); not saved */
    bool default_work_dir;
    char **created; /* paths the engine created, in creation order */
    size_t n_created;
    sf_local_proc master;
    sf_local_proc *workers;
    size_t n_workers;
} sf_local_cluster;

/* A fresh id: "local-" + 12 hex chars.  Returns 0, or -1 with *err. */
int sf_local_new_id(char out[19], char **err);
/* True for ids this engine hands out (guards the paths built from them). */
bool sf_local_id_valid(const char *id);
/* $HOME/.sparkflow/local (malloc'd); NULL with *err when HOME is unset. */
char *sf_local_registry_root(char **err);
/* $HOME/.sparkflow/local/<id> (malloc'd); NULL with *err. */
char *sf_local_registry_dir(const char *id, char **err);
/* Write the record atomically (temp file + rename) into c->record_dir (this
 * HOME's registry dir when NULL).  Returns 0, or -1 with *err. */
int sf_local_record_save(const sf_local_cluster *c, char **err);
/* Read the record of `id` from this HOME's registry: 0 loaded, 1 no such
 * record, -1 unreadable (with *err). */
int sf_local_record_load(const char *id, sf_local_cluster *out, char **err);
/* The same from `dir`/cluster.json (a record elsewhere, e.g. under the HOME
 * a cluster was created with). */
int sf_local_record_load_from(const char *dir, const char *id, sf_local_cluster *out, char **err);
/* Remove the record file and its directory when empty, and this HOME's
 * registry entry of c (a link to it, or the directory).  Missing is fine. */
void sf_local_record_remove(const sf_local_cluster *c);
/* Make this HOME's registry find the record in c->record_dir (a symlink
 * $HOME/.sparkflow/local/<id> -> record_dir), unless it already does.
 * Returns 0, or -1 with *err. */
int sf_local_registry_link(const sf_local_cluster *c, char **err);
void sf_local_cluster_clear(sf_local_cluster *c);
/* What the engine reports about a running cluster c (local.c). */
void sf_local_cluster_info(const sf_local_cluster *c, sf_cluster_info *out);

/* ---- locate.c ------------------------------------------------------------ */

/* Find cluster `id`: in this HOME's registry, else from `recorded`, what
 * Terraform's state holds (may be NULL; its details map): the record in
 * details.record_dir or details.work_dir, or, when the record itself is
 * gone, the cluster rebuilt from the recorded pids (each checked against its
 * start time: a reused pid is not ours), pgids, ports and paths while any of
 * its processes still runs.  A cluster found that way is linked (or its
 * record written anew) into this HOME's registry, so that every later
 * command finds it by id.  0 found, 1 none, -1 error (*err). */
int sf_local_locate(sf_ctx *ctx, const char *id, const sf_cluster_info *recorded, sf_local_cluster *out, char **err);

/* ---- workdir.c ----------------------------------------------------------- */

/* mkdir -p `path`, remembering in c->created each directory that did not
 * exist.  Returns 0, or -1 with *err. */
int sf_local_mkdirs(sf_local_cluster *c, const char *path, char **err);
/* Remove what the engine created under the work dir: the default work dir
 * entirely; for a user-chosen one only the directories the engine made
 * (the work dir itself only if the engine made it and it is then empty). */
void sf_local_workdir_remove(const sf_local_cluster *c);
/* rm -rf without following symlinks or crossing mounts.  Returns 0 when
 * path is gone (or never was), -1 when something of it remains. */
int sf_local_remove_tree(const char *path);
/* The last `lines` lines of a file (malloc'd, at most ~4 KiB), or a short
 * note when it cannot be read.  Can't fail. */
char *sf_local_log_tail(const char *path, int lines);

/* ---- daemons.c ----------------------------------------------------------- */

/* Start the master of c (ports picked here; retried on a lost port race)
 * and wait until its status page says ALIVE.  On error nothing of it is left
 * running and diagnostics carry the master's log. */
int sf_local_start_master(sf_ctx *ctx, sf_local_cluster *c, sf_diags *diags);
/* Start workers until c has `count` and wait until the master lists each
 * one ALIVE.  On error the workers started by this call are stopped (those
 * that were running before are kept) and diagnostics carry their logs. */
int sf_local_start_workers(sf_ctx *ctx, sf_local_cluster *c, size_t count, sf_diags *diags);
/* Stop workers beyond the first `count` and wait until the master no longer
 * counts them.  Returns 0, or -1 with a diagnostic. */
int sf_local_stop_workers(sf_ctx *ctx, sf_local_cluster *c, size_t count, sf_diags *diags);
/* Stop workers then master and wait for their ports to close.  Returns 0,
 * or -1 with a diagnostic naming what survived. */
int sf_local_stop_cluster(sf_local_cluster *c, sf_diags *diags);
/* Check that the cluster runs as recorded: master and worker processes are
 * the ones started (a dead one is drift at once), the master says ALIVE and
 * lists every worker ALIVE (a mismatch must last ~15 s to count, so that a
 * worker re-registering is not taken for drift).  Returns 0 when healthy,
 * 1 when it drifted (*why says how), -1 when the status page cannot be
 * read (*why). */
int sf_local_check_cluster(sf_ctx *ctx, const sf_local_cluster *c, char **why);
/* Cluster `id` loaded from its record and checked: 0, or -1 with an error
 * diagnostic at cluster_id (run.c). */
int sf_local_usable_cluster(sf_ctx *ctx, const char *id, sf_local_cluster *c, sf_diags *diags);
/* Run the stages of `run` on running cluster `c`, logs and metrics files
 * in `dir` (made here); fills results (run.c). */
sf_engine_status sf_local_run_stages(sf_ctx *ctx, const sf_local_cluster *c, const sf_run_spec *run, const char *dir,
                                     sf_stage_result *results, sf_diags *diags);
/* Wait until the master counts exactly c->n_workers ALIVE workers, ours
 * among them.  Returns 0, or -1 with a diagnostic. */
int sf_local_wait_alive(sf_ctx *ctx, const sf_local_cluster *c, sf_diags *diags);

#endif
