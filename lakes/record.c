/* record.c — the run record both lakes write with each publication
 * (file://: _sparkflow_run.json inside the run; s3://: published.json,
 * the pointer), and the rule that one output belongs to one pipeline.
 *
 * The record says which run is published, the fingerprint it was made
 * from and, since records name it, the pipeline that published it.  Two
 * pipelines configured with the same output would otherwise replace each
 * other's run at every apply, and each would see "its" run gone at the
 * next refresh and plan it again, forever.  With the owner recorded, the
 * lake refuses to publish over another pipeline's run, and the pipeline's
 * plan says which one holds the output.  A record without the field (one
 * written before it existed, or by a writer that does not set it) names no
 * pipeline: it is replaced as before, and the next publication names one.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "base/time.h"
#include "lakes/lake.h"

void sf_lake_record_clear(sf_lake_record *r)
{
    if (!r) return;
    free(r->run_id);
    free(r->fingerprint);
    free(r->pipeline);
    free(r->prefix);
    *r = (sf_lake_record){0};
}

/* A string member of `j`, copied; NULL when absent, null, or not a string
 * (an empty string counts as absent). */
static char *member(const cJSON *j, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, key));
    return s && *s ? sf_strdup(s) : NULL;
}

int sf_lake_record_parse(const char *text, size_t len, sf_lake_record *out)
{
    *out = (sf_lake_record){0};
    cJSON *j = text ? cJSON_ParseWithLength(text, len) : NULL;
    if (!cJSON_IsObject(j) || !(out->run_id = member(j, "run_id"))) {
        cJSON_Delete(j);
        return -1;
    }
    out->fingerprint = member(j, "fingerprint");
    out->pipeline = member(j, "pipeline");
    out->prefix = member(j, "prefix");
    cJSON_Delete(j);
    return 0;
}

char *sf_lake_record_json(const sf_lake_record *r)
{
    char stamp[SF_TIME_RFC3339_LEN];
    sf_time_rfc3339(stamp, sf_time_wall_ms());
    cJSON *j = cJSON_CreateObject();
    if (!j) abort();
    cJSON_AddStringToObject(j, "run_id", r->run_id);
    if (r->fingerprint) cJSON_AddStringToObject(j, "fingerprint", r->fingerprint);
    else if (!r->prefix) cJSON_AddNullToObject(j, "fingerprint"); /* the S3 pointer leaves it out */
    if (r->pipeline) cJSON_AddStringToObject(j, "pipeline", r->pipeline);
    if (r->prefix) cJSON_AddStringToObject(j, "prefix", r->prefix);
    cJSON_AddStringToObject(j, "published_at", stamp);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    if (!text) abort();
    return text;
}

bool sf_lake_owned_by_other(const char *owner, const char *pipeline)
{
    return owner && pipeline && strcmp(owner, pipeline) != 0;
}

void sf_lake_refuse_other(sf_diags *d, const char *output_uri, const char *pipeline, const char *owner,
                          const char *run_id)
{
    sf_diag_error(d, "output", "Output published by another pipeline",
                  "Pipeline \"%s\" cannot publish to %s: pipeline \"%s\" publishes there (run %s). Two pipelines "
                  "with one output would replace each other's tables at every run. Nothing of this run was "
                  "published and its staging area is removed; pipeline \"%s\"'s run stays published. Give one "
                  "of the two pipelines another `output`.",
                  pipeline, output_uri, owner, run_id ? run_id : "unknown", owner);
}
