/* catalog.c — the catalogs compiled in, and which lake each one serves
 * (catalog.h). */
#include "catalogs/catalog.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const sf_catalog *const catalogs[] = {&sf_catalog_duckdb, &sf_catalog_glue, NULL};

const sf_catalog *sf_catalog_for_lake(const char *lake_uri)
{
    if (!lake_uri) return NULL;
    size_t n = strcspn(lake_uri, ":");
    if (!lake_uri[n]) return NULL;
    for (size_t i = 0; catalogs[i]; i++)
        if (strlen(catalogs[i]->lake_scheme) == n && strncasecmp(catalogs[i]->lake_scheme, lake_uri, n) == 0)
            return catalogs[i];
    return NULL;
}

void sf_catalog_state_clear(sf_catalog_state *s)
{
    for (size_t i = 0; i < s->n_tables; i++) {
        free(s->tables[i].name);
        free(s->tables[i].location);
    }
    free(s->tables);
    free(s->database);
    free(s->workgroup);
    *s = (sf_catalog_state){0};
}
