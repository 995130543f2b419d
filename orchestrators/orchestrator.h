/* orchestrator.h — what a resource may ask of the place where Airflow runs.
 *
 * An Airflow host has a lifecycle of its own (a Spark cluster's is shorter
 * and changes more), so it is its own resource, `sparkflow_airflow`, with
 * one implementation per place, as clusters have engines: `local` (Airflow
 * processes on this machine, orchestrators/local/) and `ec2` (one EC2
 * instance running Airflow with docker compose, orchestrators/ec2/).  Each
 * declares the block it owns in sparkflow_airflow and implements the
 * lifecycle on it; the resource knows them only through this table.
 *
 * The host's DAG folder holds the DAG factory (dags/airflow/) and one spec
 * per pipeline (dags/airflow/README.md); a pipeline that runs through
 * Airflow puts its spec there with `spec_put` and talks to the host's REST
 * API (airflow/api.h) at `url` with `user` and `password`.
 *
 * Failures are diagnostics (summary + detail); waits watch the context so
 * that Ctrl-C and timeouts stop them promptly.
 */
#ifndef SF_ORCHESTRATOR_H
#define SF_ORCHESTRATOR_H

#include "base/ctx.h"
#include "engines/engine.h"
#include "provider/diag.h"
#include "provider/schema.h"
#include "provider/value.h"

/* What an orchestrator reports about an Airflow host.  Strings malloc'd,
 * owned by the struct; release with sf_airflow_host_clear. */
typedef struct sf_airflow_host {
    char *id;          /* implementation-unique; import takes it */
    char *name;        /* the name it was created with */
    char *state;       /* e.g. "running" */
    char *url;         /* the API and UI, e.g. http://127.0.0.1:8080 */
    char *user;        /* the API user */
    char *password;    /* that user's password: sensitive, never logged */
    char *version;     /* Airflow's version, as /api/v2/version says */
    char *created_at;  /* RFC 3339, UTC */
    sf_value *spec;    /* the block as it really is; may be NULL */
    sf_value *details; /* map of string: implementation facts; may be NULL */
} sf_airflow_host;

void sf_airflow_host_clear(sf_airflow_host *h);

/* One host a listing found: `host` as host_read reports it right after an
 * import of its id, but without the password (a listing never fetches
 * secrets: NULL), `summary` what it costs in a few words ("running, up
 * 3h12m, t3.large", "running, api 127.0.0.1:8080").  Returns false to stop. */
typedef bool (*sf_airflow_found_fn)(void *arg, const sf_airflow_host *host, const char *summary);

typedef struct sf_orchestrator {
    const char *name;         /* the block name: "local", "ec2" */
    const char *id_prefix;    /* every host id it makes starts so: "airflow-", "i-" */
    const sf_block_def *spec; /* that block's schema */
    /* Spec attributes that can change in place (NULL-terminated); any other
     * change to the block replaces the host. */
    const char *const *updatable;
    /* Whether the host can start runs on files landing in an S3 lake (it
     * wires bucket notifications to a queue in spec_put); without it, an S3
     * pipeline's DAG runs only when triggered. */
    bool watches_s3;
    /* The API user every host it makes has (known when planning). */
    const char *user;

    /* Start a host named `name` from `spec` and wait until every Airflow
     * component reports healthy.  On error nothing may be left running
     * (or billed) and the diagnostic says what the failing part said. */
    sf_engine_status (*host_create)(sf_ctx *ctx, const sf_engine_env *env, const char *name, const sf_value *spec,
                                    sf_airflow_host *out, sf_diags *diags);
    /* Look at a host: OK with `out` filled, GONE when it no longer runs
     * (a component killed, the instance terminated), ERROR when it cannot
     * tell.  `recorded` is what the state holds (after an import, only the
     * id); it is read-only. */
    sf_engine_status (*host_read)(sf_ctx *ctx, const sf_engine_env *env, const char *id,
                                  const sf_airflow_host *recorded, sf_airflow_host *out, sf_diags *diags);
    /* Apply an in-place change (only `updatable` attributes differ). */
    sf_engine_status (*host_update)(sf_ctx *ctx, const sf_engine_env *env, const char *id,
                                    const sf_airflow_host *recorded, const sf_value *old_spec, const sf_value *new_spec,
                                    sf_airflow_host *out, sf_diags *diags);
    /* Stop everything and wait until it is gone, then remove what the
     * create made for it.  A host already gone is success. */
    sf_engine_status (*host_delete)(sf_ctx *ctx, const sf_engine_env *env, const char *id,
                                    const sf_airflow_host *recorded, sf_diags *diags);

    /* Put the spec of pipeline `pipeline` (JSON text, dags/airflow/README.md)
     * where the host's DAG processor reads it; `json` NULL removes it. */
    sf_engine_status (*spec_put)(sf_ctx *ctx, const sf_engine_env *env, const sf_airflow_host *host,
                                 const char *pipeline, const char *json, sf_diags *diags);

    /* Every host of this orchestrator the provider made that `filter`
     * keeps, found without any state (the orphan finder of `terraform
     * query`), each handed to `found` until it returns false.  Read-only:
     * nothing is stopped or cleaned up.  OK, or ERROR with diagnostics
     * (hosts found before stay found).  NULL: it cannot list. */
    sf_engine_status (*host_list)(sf_ctx *ctx, const sf_engine_env *env, const sf_list_filter *filter,
                                  sf_airflow_found_fn found, void *arg, sf_diags *diags);
} sf_orchestrator;

/* Each orchestrator's block in sparkflow_airflow, for the resource's schema
 * table.  Adding one takes: its folder under orchestrators/ with an
 * sf_orchestrator table and its block, its line here and in
 * sf_orchestrators[] (orchestrator.c). */
extern const sf_block_def sf_airflow_local_block;
extern const sf_block_def sf_airflow_ec2_block;
// clang-format off
#define SF_ORCHESTRATOR_BLOCKS                                                      \
    {"local", SF_NEST_SINGLE, &sf_airflow_local_block, 0, 0, 0,                     \
     "Run Airflow on this machine: its api-server, scheduler, DAG processor and "   \
     "triggerer as processes of their own group, SQLite and the LocalExecutor in "  \
     "the work directory, listening on loopback only. The default."},               \
    {"ec2", SF_NEST_SINGLE, &sf_airflow_ec2_block, 0, 0, 0,                         \
     "Run Airflow on one EC2 instance with docker compose, reachable from "        \
     "`allowed_cidrs` only, that terminates itself after `max_lifetime`. (Tests "   \
     "only: `SPARKFLOW_TEST_EC2_AIRFLOW_URL` replaces the instance's address in "  \
     "the health wait, for moto, which runs no instance.)"}
// clang-format on

/* The orchestrators compiled in, NULL-terminated; the first is the default. */
extern const sf_orchestrator *const sf_orchestrators[];
/* The orchestrator that made a host id (by id_prefix), or NULL. */
const sf_orchestrator *sf_orchestrator_for_id(const char *id);

#endif
