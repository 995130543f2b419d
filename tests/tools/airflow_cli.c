/* airflow_cli.c — the Airflow REST client (airflow/api.h) as a command, for
 * tests/airflow/test_rest_client.py, which drives it against a real Airflow.
 *
 *   sf-airflow-call URL OP [ARGS...]
 *
 * The user and password come from SF_AF_USER and SF_AF_PASSWORD (never
 * argv: other users can read a command line).  Prints the answer as JSON on
 * stdout and exits 0; on error prints "HTTP <status>: <message>" on stderr
 * and exits 1 (health: 2 when some component is not healthy).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airflow/api.h"

static int print_json(cJSON *doc)
{
    char *text = doc ? cJSON_PrintUnformatted(doc) : strdup("null");
    puts(text);
    free(text);
    cJSON_Delete(doc);
    return 0;
}

static int fail(const sf_af_error *err)
{
    fprintf(stderr, "HTTP %ld: %s\n", err->status, err->message ? err->message : "(no message)");
    return 1;
}

static int run(sf_af *af, sf_ctx *ctx, int argc, char **argv, sf_af_error *err)
{
    const char *op = argv[0];
#define NEED(n)                                              \
    if (argc < (n) + 1) {                                    \
        fprintf(stderr, "%s needs %d argument(s)\n", op, n); \
        return 64;                                           \
    }
    if (strcmp(op, "health") == 0) {
        int rc = sf_af_health(af, ctx, err);
        if (rc == 1) fprintf(stderr, "unhealthy: %s\n", err->message);
        return rc == 0 ? 0 : rc == 1 ? 2 : fail(err);
    }
    if (strcmp(op, "version") == 0) {
        char *v = sf_af_version(af, ctx, err);
        if (!v) return fail(err);
        puts(v);
        free(v);
        return 0;
    }
    if (strcmp(op, "dag") == 0) {
        NEED(1);
        cJSON *doc = sf_af_dag(af, ctx, argv[1], err);
        return doc ? print_json(doc) : fail(err);
    }
    if (strcmp(op, "reparse") == 0) {
        NEED(1);
        return sf_af_reparse(af, ctx, argv[1], err) == 0 ? print_json(NULL) : fail(err);
    }
    if (strcmp(op, "pause") == 0) {
        NEED(2);
        return sf_af_set_paused(af, ctx, argv[1], strcmp(argv[2], "1") == 0, err) == 0 ? print_json(NULL) : fail(err);
    }
    if (strcmp(op, "trigger") == 0) {
        NEED(3);
        cJSON *conf = cJSON_Parse(argv[3]);
        int rc = sf_af_trigger(af, ctx, argv[1], argv[2], conf, err);
        cJSON_Delete(conf);
        return rc == 0 ? print_json(NULL) : fail(err);
    }
    if (strcmp(op, "run") == 0) {
        NEED(2);
        cJSON *doc = sf_af_dag_run(af, ctx, argv[1], argv[2], err);
        return doc ? print_json(doc) : fail(err);
    }
    if (strcmp(op, "set-state") == 0) {
        NEED(3);
        return sf_af_set_run_state(af, ctx, argv[1], argv[2], argv[3], err) == 0 ? print_json(NULL) : fail(err);
    }
    if (strcmp(op, "tis") == 0) {
        NEED(2);
        cJSON *doc = sf_af_task_instances(af, ctx, argv[1], argv[2], err);
        return doc ? print_json(doc) : fail(err);
    }
    if (strcmp(op, "log") == 0) {
        NEED(4);
        char *text = sf_af_task_log(af, ctx, argv[1], argv[2], argv[3], atoi(argv[4]), err);
        if (!text) return fail(err);
        fputs(text, stdout);
        free(text);
        return 0;
    }
    if (strcmp(op, "xcom") == 0) {
        NEED(4);
        cJSON *doc = sf_af_xcom(af, ctx, argv[1], argv[2], argv[3], argv[4], err);
        return doc ? print_json(doc) : fail(err);
    }
    if (strcmp(op, "call") == 0) {
        NEED(2);
        cJSON *body = argc > 3 ? cJSON_Parse(argv[3]) : NULL, *answer = NULL;
        int rc = sf_af_call(af, ctx, argv[1], argv[2], body, &answer, err);
        cJSON_Delete(body);
        return rc == 0 ? print_json(answer) : fail(err);
    }
#undef NEED
    fprintf(stderr, "unknown operation %s\n", op);
    return 64;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: sf-airflow-call URL OP [ARGS...]\n");
        return 64;
    }
    sf_af *af = sf_af_new(argv[1], getenv("SF_AF_USER"), getenv("SF_AF_PASSWORD"));
    const char *attempts = getenv("SF_AF_ATTEMPTS");
    if (attempts) sf_af_set_attempts(af, atoi(attempts));
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_OFF);
    sf_af_error err = {0};
    int rc = run(af, ctx, argc - 2, argv + 2, &err);
    sf_af_error_clear(&err);
    sf_ctx_free(ctx);
    sf_af_free(af);
    return rc;
}
