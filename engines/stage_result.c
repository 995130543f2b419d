/* stage_result.c — what every engine reports about a stage the same way:
 * its metrics, and releasing the result. */
#include <stdlib.h>

#include "base/str.h"
#include "engines/engine.h"

/* Numbers of a metrics JSON object, flattened with '.' for nested objects. */
static void flatten(const cJSON *obj, const char *prefix, sf_value *out)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        if (!it->string) continue;
        char *key = prefix ? sf_fmt("%s.%s", prefix, it->string) : sf_strdup(it->string);
        if (cJSON_IsNumber(it)) sf_value_put(out, key, sf_value_double(it->valuedouble));
        else if (cJSON_IsObject(it)) flatten(it, key, out);
        free(key);
    }
}

sf_value *sf_stage_metrics_from_json(const cJSON *metrics)
{
    if (!cJSON_IsObject(metrics)) return NULL;
    sf_value *m = sf_value_map();
    flatten(metrics, NULL, m);
    return m;
}

void sf_stage_result_clear(sf_stage_result *r)
{
    free(r->status);
    free(r->step_id);
    sf_value_free(r->metrics);
    free(r->log);
    free(r->reason);
    free(r->log_tail);
    *r = (sf_stage_result){0};
}

int64_t sf_stage_results_last_end(const sf_stage_result *results, size_t n)
{
    int64_t last = 0;
    for (size_t i = 0; i < n; i++)
        if (results[i].finished_at_ms > last) last = results[i].finished_at_ms;
    return last;
}
