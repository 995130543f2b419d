/* engine.c — the engines compiled into the provider.
 *
 * Resources look engines up here by the name of the block the user wrote
 * (`local {}`, `emr {}`) or by the prefix of a cluster id.  The table below
 * is one line per engine; the rest of what adding one takes is listed at
 * SF_ENGINE_BLOCKS in engine.h.
 */
#include "engines/engine.h"

#include <stdlib.h>
#include <string.h>

#include "engines/emr/emr.h"
#include "engines/local/local.h"

const sf_engine *const sf_engines[] = {
    &sf_engine_local,
    &sf_engine_emr,
    NULL,
};

/* The engine named `name`, or NULL when none is compiled in. */
const sf_engine *sf_engine_by_name(const char *name)
{
    for (size_t i = 0; name && sf_engines[i]; i++)
        if (strcmp(sf_engines[i]->name, name) == 0) return sf_engines[i];
    return NULL;
}

/* The engine whose ids start with id's prefix, or NULL. */
const sf_engine *sf_engine_for_id(const char *id)
{
    for (size_t i = 0; id && sf_engines[i]; i++) {
        const char *prefix = sf_engines[i]->id_prefix;
        if (prefix && strncmp(id, prefix, strlen(prefix)) == 0) return sf_engines[i];
    }
    return NULL;
}

/* Free every field and zero the struct; safe on a zeroed or cleared one. */
void sf_cluster_info_clear(sf_cluster_info *info)
{
    if (!info) return;
    free(info->id);
    free(info->name);
    free(info->state);
    free(info->master_url);
    free(info->web_ui_url);
    free(info->created_at);
    if (info->spec) sf_value_free(info->spec);
    if (info->details) sf_value_free(info->details);
    memset(info, 0, sizeof *info);
}

void sf_launch_report_clear(sf_launch_report *l)
{
    if (!l) return;
    free(l->cluster_id);
    free(l->final_state);
    memset(l, 0, sizeof *l);
}
