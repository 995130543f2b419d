/* answers.h — the parse step of Airflow's answers, apart from the calls that
 * fetched them (internal to airflow/).
 *
 * Each function here turns what Airflow sent (a status and a body, or the
 * JSON parsed from a body) into what the calls of api.h return, with no
 * network: client.c and calls.c use them, and so do the fuzz target
 * (tests/fuzz/fuzz_airflow_json.c) and the unit tests that replay what it
 * found.  Every error message is valid UTF-8 (it reaches Terraform as a
 * protobuf string) and never empty.  Ownership and errors as in api.h.
 */
#ifndef SF_AIRFLOW_ANSWERS_H
#define SF_AIRFLOW_ANSWERS_H

#include <stddef.h>

#include "airflow/api.h"

/* client.c: sets err's status and message (owned_message is taken; a byte
 * that is not part of valid UTF-8 becomes '?').  err may be NULL. */
void sf_af_error_set(sf_af_error *err, long status, char *owned_message);

/* client.c: Airflow's reason in an error answer: its `detail` (a string, or
 * FastAPI's list of {msg, loc}), else the start of the body; at most 300
 * characters, malloc'd, never NULL (may be ""). */
char *sf_af_answer_detail(const char *body, size_t len);

/* client.c: the answer of a call `what` (e.g. "GET http://host/api/v2/dags/x"):
 * on 2xx, 0 and *answer the parsed body (NULL when empty; with answer NULL
 * the body is not read); otherwise -1 with *err (the status, and `what` with
 * Airflow's detail). */
int sf_af_answer_json(long status, const char *body, size_t len, const char *what, cJSON **answer, sf_af_error *err);

/* client.c: the token of a POST /auth/token answer (malloc'd), or NULL with
 * *err.  The token is wiped from the parsed copy (not from `body`). */
char *sf_af_answer_token(long status, const char *body, size_t len, const char *base_url, const char *user,
                         sf_af_error *err);

/* calls.c: each reads a 2xx answer parsed by sf_af_answer_json (`doc`, NULL
 * when the body was empty) and frees it. */

/* /monitor/health: 0 when every component says "healthy"; 1 when some do
 * not (*err names them, status 200); -1 when it is not Airflow's shape. */
int sf_af_answer_health(cJSON *doc, sf_af_error *err);
/* /version: the version string (malloc'd), or NULL with *err. */
char *sf_af_answer_version(cJSON *doc, sf_af_error *err);
/* A DAG or a DAG run: the JSON object (returned, not freed), or NULL with
 * *err when the answer is not an object. */
cJSON *sf_af_answer_object(cJSON *doc, const char *what, sf_af_error *err);
/* .../taskInstances: the array under "task_instances" (detached), or NULL
 * with *err. */
cJSON *sf_af_answer_task_instances(cJSON *doc, const char *what, sf_af_error *err);
/* .../logs/{try}: the lines' events joined by newlines (malloc'd; "" when it
 * holds none); can't fail. */
char *sf_af_answer_log(cJSON *doc);
/* .../xcomEntries/{key}: its "value" (detached; a string holding JSON text is
 * parsed), or NULL with *err when it has none. */
cJSON *sf_af_answer_xcom(cJSON *doc, const char *what, sf_af_error *err);

#endif
