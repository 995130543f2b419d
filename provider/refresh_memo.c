/* refresh_memo.c — which states this plugin process has refreshed.
 *
 * Terraform plans in two phases, each with a provider process of its own:
 * the plan phase refreshes every resource (ReadResource) and then plans it;
 * the apply phase plans each resource again, without refreshing, and
 * requires that second plan to agree with the first.  A resource whose plan
 * depends on the outside world (files, a data lake) needs to know which of
 * the two it is making: the runtime remembers a digest of every state its
 * ReadResource returned, so PlanResourceChange can tell that its prior
 * state is one this process just refreshed (sf_plan.prior_refreshed).
 */
#include "provider/runtime.h"

#include <stdlib.h>
#include <string.h>

/* FNV-1a, 64 bits, over the type name and the state's msgpack bytes. */
static uint64_t state_digest(const char *type_name, const uint8_t *bytes, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = type_name; *p; p++) h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    h = (h ^ 0) * 1099511628211ULL;
    for (size_t i = 0; i < len; i++) h = (h ^ bytes[i]) * 1099511628211ULL;
    return h;
}

void sf_runtime_note_refreshed(sf_runtime *rt, const char *type_name, const uint8_t *bytes, size_t len)
{
    uint64_t d = state_digest(type_name, bytes, len);
    pthread_mutex_lock(&rt->lock);
    if (rt->n_refreshed == rt->cap_refreshed) {
        size_t cap = rt->cap_refreshed ? rt->cap_refreshed * 2 : 64;
        uint64_t *grown = realloc(rt->refreshed, cap * sizeof *grown);
        if (!grown) abort();
        rt->refreshed = grown;
        rt->cap_refreshed = cap;
    }
    rt->refreshed[rt->n_refreshed++] = d;
    pthread_mutex_unlock(&rt->lock);
}

bool sf_runtime_was_refreshed(sf_runtime *rt, const char *type_name, const uint8_t *bytes, size_t len)
{
    uint64_t d = state_digest(type_name, bytes, len);
    bool found = false;
    pthread_mutex_lock(&rt->lock);
    for (size_t i = 0; i < rt->n_refreshed && !found; i++) found = rt->refreshed[i] == d;
    pthread_mutex_unlock(&rt->lock);
    return found;
}
