/* choice.c — the rules of a resource whose implementation is chosen by
 * its nested block (choice.h). */
#include "resources/choice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"

size_t sf_choice_of(const sf_choice *choices, size_t n, const sf_value *v)
{
    for (size_t i = 0; i < n; i++) {
        const sf_value *block = sf_value_get(v, choices[i].name);
        if (block && !sf_value_is_null(block)) return i;
    }
    return 0;
}

sf_value *sf_choice_spec(const sf_choice *c, const sf_value *v)
{
    const sf_value *block = sf_value_get(v, c->name);
    if (block && !sf_value_is_null(block)) return sf_value_copy(block);
    sf_value *empty = sf_value_object();
    for (size_t i = 0; c->spec->attrs[i].name; i++) sf_value_put(empty, c->spec->attrs[i].name, sf_value_null());
    return empty;
}

void sf_choice_validate(const sf_choice *choices, size_t n, const sf_value *config, const char *at, const char *summary,
                        const char *detail_start, sf_diags *diags)
{
    const char *first = NULL;
    for (size_t i = 0; i < n; i++) {
        const sf_value *block = sf_value_get(config, choices[i].name);
        if (!block || sf_value_is_null(block)) continue;
        if (first) {
            char *path = at ? sf_fmt("%s.%s", at, choices[i].name) : sf_strdup(choices[i].name);
            sf_diag_error(diags, path, summary, "%s: remove either the \"%s\" or the \"%s\" block.", detail_start,
                          first, choices[i].name);
            free(path);
        }
        first = choices[i].name;
    }
}

static bool is_updatable(const sf_choice *c, const char *attr)
{
    for (size_t i = 0; c->updatable && c->updatable[i]; i++)
        if (strcmp(c->updatable[i], attr) == 0) return true;
    return false;
}

/* Whether a block attribute really changes (see choice.h on nulls). */
static bool attr_changes(const sf_attr_def *a, const sf_value *old_v, const sf_value *new_v, const sf_value *cfg_v)
{
    if (sf_value_is_unknown(cfg_v)) return true; /* not known yet: may change */
    if (sf_value_is_null(new_v) || sf_value_is_unknown(new_v)) return false;
    if (!sf_value_is_null(old_v)) return !sf_value_equal(old_v, new_v);
    sf_value *def = sf_schema_attr_default(a);
    bool changes = !def || !sf_value_equal(def, new_v);
    sf_value_free(def);
    return changes;
}

bool sf_choice_plan(const sf_choice *choices, size_t n, sf_plan *plan)
{
    const sf_choice *was = &choices[sf_choice_of(choices, n, plan->prior)];
    const sf_choice *now = &choices[sf_choice_of(choices, n, plan->planned)];
    if (was != now) {
        sf_plan_require_replace(plan, was->name);
        sf_plan_require_replace(plan, now->name);
        return true;
    }
    sf_value *old_spec = sf_choice_spec(now, plan->prior), *new_spec = sf_choice_spec(now, plan->planned);
    sf_value *cfg_spec = sf_choice_spec(now, plan->config);
    bool replace = false;
    for (size_t i = 0; now->spec->attrs[i].name; i++) {
        const sf_attr_def *a = &now->spec->attrs[i];
        if (is_updatable(now, a->name) ||
            !attr_changes(a, sf_value_get(old_spec, a->name), sf_value_get(new_spec, a->name),
                          sf_value_get(cfg_spec, a->name)))
            continue;
        char path[128];
        snprintf(path, sizeof path, "%s.%s", now->name, a->name);
        sf_plan_require_replace(plan, path);
        replace = true;
    }
    sf_value_free(cfg_spec);
    sf_value_free(old_spec);
    sf_value_free(new_spec);
    return replace;
}

void sf_choice_put_spec(const sf_choice *c, sf_value *state, const sf_value *spec, bool fill)
{
    const sf_value *block = sf_value_get(state, c->name);
    if (spec && (fill || (block && !sf_value_is_null(block)))) sf_value_put(state, c->name, sf_value_copy(spec));
}
