/* airflow_local.h — internals of the local orchestrator, shared by its files.
 *
 * The local orchestrator runs Airflow 3 on this machine: api-server,
 * scheduler, dag-processor and triggerer as detached processes of ONE
 * process group of their own, SQLite and the LocalExecutor under a work
 * directory that is also AIRFLOW_HOME.  Everything needed to find and stop
 * a host again lives in Terraform's state (`details`) and, for import, in
 * <work_dir>/host.json; the password lives only in the sensitive attribute
 * and in the 0600 passwords file the api-server reads.
 *
 *   spec.c       the `local {}` block: schema, defaults, relative paths
 *   config.c     the processes' environment, the password and its file,
 *                the copy of the DAG factory
 *   processes.c  `airflow db migrate`; starting the four components in one
 *                group; recognising and stopping them
 *   health.c     /api/v2/monitor/health and /api/v2/version (no token)
 *   host.c       the host's facts <-> the state's details, host.json
 *   list.c       the hosts host.json files under the default root record
 *                (`terraform query`)
 *   local.c      the orchestrator table entry and the lifecycle
 */
#ifndef SF_AIRFLOW_LOCAL_H
#define SF_AIRFLOW_LOCAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/ctx.h"
#include "base/str.h"
#include "engines/local/local.h"
#include "orchestrators/orchestrator.h"

extern const sf_orchestrator sf_orchestrator_local;

/* ---- spec.c --------------------------------------------------------------- */

typedef struct sf_afl_spec {
    char *work_dir;   /* absolute once resolved; NULL: the default */
    int64_t api_port; /* 0: a free loopback port */
    int64_t parallelism;
    char *airflow_bin; /* absolute once resolved; NULL: the build's venv */
    char *dags_source; /* absolute once resolved; NULL: the build's dags/airflow */
    sf_value *env;     /* map of string (extra environment); NULL when none */
} sf_afl_spec;

/* The path attributes: work_dir, airflow_bin, dags_source. */
#define SF_AFL_N_PATHS 3
extern const char *const sf_afl_path_attrs[SF_AFL_N_PATHS];

/* Read a block value (nulls and unknowns take the defaults; paths are made
 * absolute against Terraform's working directory, *written (may be NULL)
 * keeps each relative spelling).  `name` chooses the default work dir.
 * Returns 0, or -1 with a diagnostic. */
int sf_afl_spec_from_value(const sf_value *v, const char *name, sf_afl_spec *out, char *written[SF_AFL_N_PATHS],
                           sf_diags *diags);
/* The block as applied: every default filled, relative paths as written. */
sf_value *sf_afl_spec_to_value(const sf_afl_spec *s, char *const written[SF_AFL_N_PATHS]);
void sf_afl_spec_clear(sf_afl_spec *s);
/* $HOME/.sparkflow/airflow (malloc'd), NULL with *err. */
char *sf_afl_root(char **err);
/* Whether `key` may be set through `env` (ours are not). */
bool sf_afl_env_key_allowed(const char *key);

/* ---- config.c ------------------------------------------------------------- */

/* Ports a host listens on (api) or reserves for its log servers. */
typedef struct sf_afl_ports {
    int api;
    int worker_logs;
    int trigger_logs;
} sf_afl_ports;

/* The environment of every Airflow process of a host: the provider's own,
 * minus any AIRFLOW__* / AIRFLOW_HOME it carries, plus ours, plus the
 * spec's env.  NULL-terminated, malloc'd; free with sf_local_strv_free. */
char **sf_afl_env(const sf_afl_spec *s, const sf_afl_ports *ports, char *const *base);
/* A fresh password: 24 random bytes in URL-safe base64 (32 chars). */
int sf_afl_new_password(char out[33], char **err);
/* Write {"<user>": "<password>"} to path, mode 0600.  0, or -1 with *err. */
int sf_afl_write_passwords(const char *path, const char *user, const char *password, char **err);
/* The user's password from such a file (malloc'd), NULL when unreadable. */
char *sf_afl_read_password(const char *path, const char *user);
/* Copy the DAG factory folder `src` into `dst` (made), regular files and
 * directories only, skipping specs/ and __pycache__/; then make dst/specs.
 * 0, or -1 with *err. */
int sf_afl_copy_dags(const char *src, const char *dst, char **err);

#define SF_AFL_USER "sparkflow"

/* ---- processes.c ---------------------------------------------------------- */

#define SF_AFL_N_COMPONENTS 4
/* api-server, scheduler, dag-processor, triggerer: the CLI's words, the
 * logs' names (logs/<name>.log) and the health report's keys' order. */
extern const char *const sf_afl_components[SF_AFL_N_COMPONENTS];

typedef struct sf_afl_group {
    int pgid;
    sf_local_proc procs[SF_AFL_N_COMPONENTS]; /* pid, start_time, log */
} sf_afl_group;

/* `airflow db migrate` with env, output to log; waits (watching ctx).
 * 0, or -1 with *err. */
int sf_afl_migrate(sf_ctx *ctx, const char *airflow_bin, char *const *env, const char *cwd, const char *log,
                   char **err);
/* Start the four components detached in one new process group (cwd
 * work_dir, output to log_dir/<component>.log).  0, or -1 with *err (then
 * nothing of it runs). */
int sf_afl_start(const char *airflow_bin, char *const *env, const char *work_dir, const char *log_dir, sf_afl_group *g,
                 char **err);
/* The index of a component that is not the process started (-1: all are). */
int sf_afl_dead_component(const sf_afl_group *g);
/* True when any process of the group remains (ours: see process.c). */
bool sf_afl_group_remains(const sf_afl_group *g);
/* TERM the group, wait up to grace_ms, KILL what is left; waits until no
 * process of the group remains.  0, or -1 when something survived. */
int sf_afl_stop(sf_afl_group *g, int64_t grace_ms);
void sf_afl_group_clear(sf_afl_group *g);

/* ---- health.c ------------------------------------------------------------- */

/* Parse /api/v2/monitor/health: 0 when every component (metadatabase,
 * scheduler, triggerer, dag_processor) says "healthy"; 1 when not (*why
 * names the first that is not, and its status); -1 when it is not such a
 * document (*why). */
int sf_afl_health_parse(const char *json, size_t len, char **why);
/* Parse /api/v2/version: the version (malloc'd) or NULL. */
char *sf_afl_version_parse(const char *json, size_t len);
/* GET http://127.0.0.1:<port><path> (one try, short timeouts).  Returns the
 * HTTP status and *body (malloc'd), or -1 with *err. */
long sf_afl_get(sf_ctx *ctx, int port, const char *path, char **body, char **err);

/* ---- host.c --------------------------------------------------------------- */

/* Everything the orchestrator knows about a running host. */
typedef struct sf_afl_host {
    char *id;
    char *name;
    char *created_at;
    sf_afl_spec spec;
    char *written[SF_AFL_N_PATHS];
    sf_afl_ports ports;
    sf_afl_group group;
    char *dags_folder;
    char *log_dir;
    char *password_file;
} sf_afl_host;

/* A fresh id: "airflow-" + 12 hex digits. */
int sf_afl_new_id(char out[21], char **err);
bool sf_afl_id_valid(const char *id);
/* The details map of h (strings only). */
sf_value *sf_afl_details(const sf_afl_host *h);
/* Rebuild h from a details map (what the state holds).  0, or -1 when a
 * fact is missing (*err). */
int sf_afl_from_details(const char *id, const sf_value *details, sf_afl_host *h, char **err);
/* Write <work_dir>/host.json (the details, no password).  0, or -1 *err. */
int sf_afl_host_save(const sf_afl_host *h, char **err);
/* What <work_dir>/host.json holds.  Owned by the struct; release with
 * sf_afl_record_clear. */
typedef struct sf_afl_record {
    char *id, *name, *created_at; /* name and created_at may be NULL */
    sf_value *details;            /* map of string */
} sf_afl_record;
/* dir/host.json: 0 with *r, 1 when there is none or it is no host's. */
int sf_afl_record_load(const char *dir, sf_afl_record *r);
void sf_afl_record_clear(sf_afl_record *r);
/* The folders under the default root that may hold a host.json, sorted;
 * NULL-terminated, caller frees each and the array.  A host
 * with a work_dir of its own elsewhere is in none of them. */
char **sf_afl_record_dirs(void);
/* The record of host `id` under the default root (after an import): 0 with
 * *r, 1 none. */
int sf_afl_host_find(const char *id, sf_afl_record *r);
void sf_afl_host_clear(sf_afl_host *h);

/* ---- list.c --------------------------------------------------------------- */

/* The orchestrator's host_list (orchestrator.h). */
sf_engine_status sf_afl_host_list(sf_ctx *ctx, const sf_engine_env *env, const sf_list_filter *filter,
                                  sf_airflow_found_fn found, void *arg, sf_diags *diags);

#endif
