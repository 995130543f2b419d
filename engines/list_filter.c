/* list_filter.c — the filters of a listing (list_filter.h), judged the
 * same way by every engine and orchestrator: states by the implementation's
 * own words in any case, names by prefix, tags by exact key and value. */
#include <strings.h>
#include <string.h>

#include "engines/list_filter.h"

static bool among(const char *state, const char *const *words, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (words[i] && strcasecmp(words[i], state) == 0) return true;
    return false;
}

bool sf_list_filter_state(const sf_list_filter *f, const char *state, const char *const *active)
{
    if (!state) return false;
    if (f->n_states) return among(state, f->states, f->n_states);
    size_t n = 0;
    while (active && active[n]) n++;
    return among(state, active, n);
}

bool sf_list_filter_name(const sf_list_filter *f, const char *name)
{
    if (!f->name_prefix || !*f->name_prefix) return true;
    return name && strncmp(name, f->name_prefix, strlen(f->name_prefix)) == 0;
}

bool sf_list_filter_tags(const sf_list_filter *f, const sf_value *tags)
{
    if (!f->tags || sf_value_is_null(f->tags)) return true;
    for (size_t i = 0; i < f->tags->n; i++) {
        const char *want = sf_value_get_str(f->tags->elems[i]);
        const char *have = tags ? sf_value_get_str(sf_value_get(tags, f->tags->keys[i])) : NULL;
        if (!want || !have || strcmp(want, have) != 0) return false;
    }
    return true;
}
