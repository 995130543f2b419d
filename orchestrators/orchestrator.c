/* orchestrator.c — the Airflow hosts compiled in (orchestrator.h). */
#include "orchestrators/orchestrator.h"

#include <stdlib.h>
#include <string.h>

extern const sf_orchestrator sf_orchestrator_local;
extern const sf_orchestrator sf_orchestrator_ec2;

const sf_orchestrator *const sf_orchestrators[] = {
    &sf_orchestrator_local,
    &sf_orchestrator_ec2,
    NULL,
};

const sf_orchestrator *sf_orchestrator_for_id(const char *id)
{
    for (size_t i = 0; id && sf_orchestrators[i]; i++)
        if (strncmp(id, sf_orchestrators[i]->id_prefix, strlen(sf_orchestrators[i]->id_prefix)) == 0)
            return sf_orchestrators[i];
    return NULL;
}

void sf_airflow_host_clear(sf_airflow_host *h)
{
    if (!h) return;
    char **strings[] = {&h->id, &h->name, &h->state, &h->url, &h->user, &h->password, &h->version, &h->created_at};
    for (size_t i = 0; i < sizeof strings / sizeof *strings; i++) free(*strings[i]);
    sf_value_free(h->spec);
    sf_value_free(h->details);
    *h = (sf_airflow_host){0};
}
