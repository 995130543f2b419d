/* api.h — a client of Airflow 3's REST API v2.
 *
 * What the provider asks of a running Airflow: is it healthy, which
 * version, a DAG and its reparse, pause, trigger a run, follow it, read its
 * task instances, their logs and XComs, and fail a run that must stop.
 * The client logs in with the SimpleAuthManager's user and password (POST
 * /auth/token), keeps the token and renews it once when it is refused.
 * Neither ever reaches a log or an error text.
 *
 * Calls go through base/http.h (connections reused, cancellable through the
 * context).  A call that did not get an answer, or got 502/503/504/429, is
 * tried again with backoff, up to the client's attempts; a POST only when the
 * request never left (a refused connection), or, for a trigger, because the
 * run id makes a repeat harmless (409: it exists).  Stands on base/ alone.
 */
#ifndef SF_AIRFLOW_API_H
#define SF_AIRFLOW_API_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/ctx.h"

typedef struct sf_af sf_af;

/* A client of the Airflow at `base_url` (e.g. http://127.0.0.1:8080, no
 * trailing path), logging in as `user`/`password` (either NULL: no login,
 * for the endpoints that need none).  Copies its arguments; can't fail. */
sf_af *sf_af_new(const char *base_url, const char *user, const char *password);
void sf_af_free(sf_af *af);
/* Attempts per call (default 4); per-request timeout (default 30 s). */
void sf_af_set_attempts(sf_af *af, int attempts);
void sf_af_set_timeout_ms(sf_af *af, int64_t timeout_ms);

/* What went wrong with a call.  `status` is the HTTP status (0: no answer);
 * `message` says what was asked and what came back (Airflow's `detail`),
 * never a credential.  Owned; sf_af_error_clear releases it. */
typedef struct sf_af_error {
    long status;
    char *message;
} sf_af_error;

void sf_af_error_clear(sf_af_error *e);

/* One call: `method` on `path` (starting with "/", query included), with a
 * JSON body or none.  On 2xx, 0 and *answer the parsed JSON body (NULL when
 * empty; the caller frees it with cJSON_Delete; `answer` may be NULL);
 * otherwise -1 and *err. */
int sf_af_call(sf_af *af, sf_ctx *ctx, const char *method, const char *path, const cJSON *body, cJSON **answer,
               sf_af_error *err);

/* A GET of an endpoint that needs no login (health, version). */
int sf_af_get_public(sf_af *af, sf_ctx *ctx, const char *path, cJSON **answer, sf_af_error *err);

/* ---- the calls the provider makes (calls.c) ------------------------------ */

/* GET /api/v2/monitor/health (no login): 0 when every component it lists
 * says "healthy"; 1 when it answered but some did not (*err names them);
 * -1 when it did not answer as Airflow. */
int sf_af_health(sf_af *af, sf_ctx *ctx, sf_af_error *err);
/* GET /api/v2/version: the version string (malloc'd) or NULL with *err. */
char *sf_af_version(sf_af *af, sf_ctx *ctx, sf_af_error *err);

/* GET /api/v2/dags/{dag_id}: the DAG, or NULL with *err (status 404 when it
 * does not exist, yet or any more). */
cJSON *sf_af_dag(sf_af *af, sf_ctx *ctx, const char *dag_id, sf_af_error *err);
/* PUT /api/v2/parseDagFile/{file_token}: ask for the DAG's file to be
 * parsed again now. */
int sf_af_reparse(sf_af *af, sf_ctx *ctx, const char *file_token, sf_af_error *err);
/* PATCH /api/v2/dags/{dag_id} {"is_paused": paused}. */
int sf_af_set_paused(sf_af *af, sf_ctx *ctx, const char *dag_id, bool paused, sf_af_error *err);

/* POST /api/v2/dags/{dag_id}/dagRuns with dag_run_id `run_id`, a null
 * logical date and `conf` (may be NULL).  A run of that id that already
 * exists (409, e.g. after a retried POST) is success. */
int sf_af_trigger(sf_af *af, sf_ctx *ctx, const char *dag_id, const char *run_id, const cJSON *conf, sf_af_error *err);
/* GET the DAG run; NULL with *err. */
cJSON *sf_af_dag_run(sf_af *af, sf_ctx *ctx, const char *dag_id, const char *run_id, sf_af_error *err);
/* PATCH the DAG run's state ("failed", "success", "queued"). */
int sf_af_set_run_state(sf_af *af, sf_ctx *ctx, const char *dag_id, const char *run_id, const char *state,
                        sf_af_error *err);
/* GET the run's task instances: the array under "task_instances"
 * (detached from the answer, the caller frees it); NULL with *err. */
cJSON *sf_af_task_instances(sf_af *af, sf_ctx *ctx, const char *dag_id, const char *run_id, sf_af_error *err);
/* The log of try `try_number` of a task, as text (malloc'd; its lines'
 * events joined by newlines); NULL with *err. */
char *sf_af_task_log(sf_af *af, sf_ctx *ctx, const char *dag_id, const char *run_id, const char *task_id,
                     int try_number, sf_af_error *err);
/* The value of XCom `key` of a task (parsed JSON; the caller frees it);
 * NULL with *err (404: none). */
cJSON *sf_af_xcom(sf_af *af, sf_ctx *ctx, const char *dag_id, const char *run_id, const char *task_id, const char *key,
                  sf_af_error *err);

#endif
