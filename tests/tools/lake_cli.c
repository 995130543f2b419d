/* lake_cli.c — the lakes' operations (lakes/lake.h) as a command, for
 * tests/aws/test_lake_shared_output.py, which drives the s3:// lake
 * against moto (through the fault proxy) one operation at a time, so that
 * two runs can be interleaved at the moments that matter.
 *
 *   sf-lake-call stage OUTPUT_URI RUN_ID                 -> {"work_uri"}
 *   sf-lake-call publish OUTPUT_URI WORK_URI RUN_ID FINGERPRINT PIPELINE
 *   sf-lake-call discard WORK_URI
 *   sf-lake-call published OUTPUT_URI                    -> {"run_id", "fingerprint", "pipeline", "location"}
 *
 * The lake's AWS client comes from the environment (AWS_ENDPOINT_URL_S3,
 * credentials, region), as a lake used outside a configured provider does.
 * Prints one JSON object on stdout: the answer and "diagnostics" (each
 * {"severity", "summary", "detail", "path"}); exits 0 when the operation
 * succeeded, 1 when it failed, 64 on a usage error.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lakes/lake.h"

static void add_str(cJSON *o, const char *key, const char *s)
{
    if (s) cJSON_AddStringToObject(o, key, s);
    else cJSON_AddNullToObject(o, key);
}

static cJSON *diags_json(const sf_diags *d)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < d->n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "severity", d->items[i].severity == SF_DIAG_ERROR ? "error" : "warning");
        add_str(o, "summary", d->items[i].summary);
        add_str(o, "detail", d->items[i].detail);
        char *path = d->items[i].path ? sf_path_to_string(d->items[i].path) : NULL;
        add_str(o, "path", path);
        free(path);
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

static int run(sf_ctx *ctx, int argc, char **argv, cJSON *out, sf_diags *d)
{
    const char *op = argv[0];
    const sf_lake *lake = argc > 1 ? sf_lake_for(argv[1], NULL, d) : NULL;
    if (!lake) return 1;
    if (strcmp(op, "stage") == 0 && argc == 3) {
        char *work = NULL;
        int rc = lake->stage(ctx, NULL, argv[1], argv[2], &work, d);
        add_str(out, "work_uri", work);
        free(work);
        return rc;
    }
    if (strcmp(op, "publish") == 0 && argc == 6)
        return lake->publish(ctx, NULL, argv[1], argv[2], argv[3], argv[4], *argv[5] ? argv[5] : NULL, d);
    if (strcmp(op, "discard") == 0 && argc == 2) return lake->discard(ctx, NULL, argv[1], d);
    if (strcmp(op, "published") == 0 && argc == 2) {
        sf_published p = {0};
        int rc = lake->published(ctx, NULL, argv[1], &p, d);
        add_str(out, "run_id", p.run_id);
        add_str(out, "fingerprint", p.fingerprint);
        add_str(out, "pipeline", p.pipeline);
        add_str(out, "location", p.location);
        sf_published_clear(&p);
        return rc;
    }
    return 64;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: sf-lake-call stage|publish|discard|published ARGS...\n");
        return 64;
    }
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    sf_diags d;
    sf_diags_init(&d);
    cJSON *out = cJSON_CreateObject();
    int rc = run(ctx, argc - 1, argv + 1, out, &d);
    if (rc == 64) fprintf(stderr, "sf-lake-call: bad arguments for %s\n", argv[1]);
    cJSON_AddItemToObject(out, "diagnostics", diags_json(&d));
    char *text = cJSON_PrintUnformatted(out);
    puts(text);
    free(text);
    cJSON_Delete(out);
    sf_diags_clear(&d);
    sf_ctx_free(ctx);
    return rc == 0 ? 0 : rc == 64 ? 64 : 1;
}
