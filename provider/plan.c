/* plan.c — defaults, unknowns and requires-replace, decided once for all
 * resources; and the merge that makes apply agree with its plan. */
#include "provider/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"

void sf_plan_require_replace(sf_plan *plan, const char *path)
{
    plan->requires_replace =
        realloc(plan->requires_replace, (plan->n_requires_replace + 1) * sizeof *plan->requires_replace);
    if (!plan->requires_replace) abort();
    plan->requires_replace[plan->n_requires_replace++] = sf_path_parse(path);
}

bool sf_plan_is_create(const sf_plan *plan)
{
    return sf_value_is_null(plan->prior);
}

bool sf_plan_changes(const sf_plan *plan)
{
    return !sf_value_equal(plan->planned, plan->prior);
}

void sf_plan_clear(sf_plan *plan)
{
    for (size_t i = 0; i < plan->n_requires_replace; i++) sf_path_free(plan->requires_replace[i]);
    free(plan->requires_replace);
    sf_value_free(plan->planned);
    plan->requires_replace = NULL;
    plan->n_requires_replace = 0;
    plan->planned = NULL;
}

static char *path_join(const char *path, const char *name)
{
    char *out;
    out = sf_fmt("%s%s%s", *path ? path : "", *path ? "." : "", name);
    return out;
}

static char *path_index(const char *path, size_t i)
{
    char *out;
    out = sf_fmt("%s[%zu]", path, i);
    return out;
}

static const sf_value *child(const sf_value *obj, const char *name)
{
    return obj && obj->kind == SF_VAL_OBJECT ? sf_value_get(obj, name) : NULL;
}

static void plan_block(const sf_block_def *block, const sf_value *prior, const sf_value *config, sf_value *planned,
                       const char *path, sf_plan *plan);

/* The objects of a nested block or nested attribute (`shape`), each planned
 * against its prior counterpart: lists by position; set elements have no
 * stable identity, so nothing is carried over. */
static void plan_nested(sf_nesting nesting, const sf_block_def *shape, const sf_value *prior, const sf_value *config,
                        sf_value *planned, const char *path, sf_plan *plan)
{
    if (!planned) return;
    if (nesting == SF_NEST_SINGLE && planned->kind == SF_VAL_OBJECT) {
        plan_block(shape, prior, config, planned, path, plan);
    } else if (nesting == SF_NEST_LIST && planned->kind == SF_VAL_LIST) {
        for (size_t k = 0; k < planned->n; k++) {
            if (planned->elems[k]->kind != SF_VAL_OBJECT) continue;
            const sf_value *pk = prior && prior->kind == SF_VAL_LIST && k < prior->n ? prior->elems[k] : NULL;
            const sf_value *ck = config && config->kind == SF_VAL_LIST && k < config->n ? config->elems[k] : NULL;
            char *ip = path_index(path, k);
            plan_block(shape, pk, ck, planned->elems[k], ip, plan);
            free(ip);
        }
    } else if (nesting == SF_NEST_SET && planned->kind == SF_VAL_SET) {
        for (size_t k = 0; k < planned->n; k++)
            if (planned->elems[k]->kind == SF_VAL_OBJECT)
                plan_block(shape, NULL, planned->elems[k], planned->elems[k], path, plan);
    }
}

/* Walk one block: `planned` is an object being edited in place. */
static void plan_block(const sf_block_def *block, const sf_value *prior, const sf_value *config, sf_value *planned,
                       const char *path, sf_plan *plan)
{
    bool create = sf_value_is_null(prior);
    for (size_t i = 0; block->attrs && block->attrs[i].name; i++) {
        const sf_attr_def *a = &block->attrs[i];
        const sf_value *cfg = child(config, a->name);
        if ((a->flags & SF_ATTR_COMPUTED) && sf_value_is_null(cfg)) {
            if (a->default_json) sf_value_put(planned, a->name, sf_schema_attr_default(a));
            else if (create) sf_value_put(planned, a->name, sf_value_unknown());
        }
        if (a->nested && !sf_value_is_null(cfg)) {
            /* Configured objects of a nested attribute get their own
             * attributes' defaults and unknowns. */
            const sf_block_def shape = {.attrs = a->nested->attrs};
            char *p = path_join(path, a->name);
            plan_nested(a->nested->nesting, &shape, child(prior, a->name), cfg, sf_value_get(planned, a->name), p,
                        plan);
            free(p);
        }
        if ((a->flags & SF_ATTR_FORCE_NEW) && !create &&
            !sf_value_equal(sf_value_get(planned, a->name), child(prior, a->name))) {
            char *p = path_join(path, a->name);
            sf_plan_require_replace(plan, p);
            free(p);
        }
    }
    for (size_t i = 0; block->blocks && block->blocks[i].name; i++) {
        const sf_nested_def *nd = &block->blocks[i];
        sf_value *pv = sf_value_get(planned, nd->name);
        const sf_value *prv = child(prior, nd->name);
        char *p = path_join(path, nd->name);
        plan_nested(nd->nesting, nd->block, prv, child(config, nd->name), pv, p, plan);
        if ((nd->flags & SF_ATTR_FORCE_NEW) && !create && !sf_value_equal(pv, prv)) sf_plan_require_replace(plan, p);
        free(p);
    }
}

/* After a real change, computed attributes the change can move are unknown. */
static void unknown_moved_computed(const sf_block_def *block, const sf_value *config, sf_value *planned)
{
    for (size_t i = 0; block->attrs && block->attrs[i].name; i++) {
        const sf_attr_def *a = &block->attrs[i];
        if (!(a->flags & SF_ATTR_COMPUTED) || (a->flags & SF_ATTR_STABLE) || a->default_json) continue;
        if (!sf_value_is_null(child(config, a->name))) continue;
        sf_value_put(planned, a->name, sf_value_unknown());
    }
}

void sf_plan_rules(const sf_block_def *block, sf_plan *plan, sf_value *owned_proposed, sf_diags *diags)
{
    (void)diags;
    plan->planned = owned_proposed;
    if (sf_value_is_null(owned_proposed)) return; /* destroy */
    plan_block(block, plan->prior, plan->config, plan->planned, "", plan);
    if (!sf_plan_is_create(plan) && sf_plan_changes(plan)) unknown_moved_computed(block, plan->config, plan->planned);
}

/* ---- Apply ------------------------------------------------------------- */

static sf_value *merge(const sf_ctx *ctx, const sf_value *planned, const sf_value *result, const char *path,
                       sf_diags *diags)
{
    if (sf_value_is_unknown(planned)) {
        if (!result || !sf_value_is_wholly_known(result)) {
            sf_diag_error(diags, *path ? path : NULL, "Provider left a value unknown after apply",
                          "The provider did not set %s after apply. This is a bug in the provider; "
                          "please report it.",
                          *path ? path : "the resource");
            return NULL;
        }
        return sf_value_copy(result);
    }
    if (sf_value_is_wholly_known(planned) || planned->kind == SF_VAL_SET) {
        if (result && !sf_value_equal(planned, result))
            sf_log(ctx, SF_LOG_WARN, "apply changed planned value %s; keeping the plan", path);
        return sf_value_copy(planned);
    }
    /* A known container with unknowns inside: merge child by child. */
    sf_value *out = sf_value_copy(planned);
    for (size_t i = 0; i < out->n; i++) {
        const sf_value *r = NULL;
        char *p;
        if (out->keys) {
            r = result && result->kind == planned->kind ? sf_value_get(result, out->keys[i]) : NULL;
            p = planned->kind == SF_VAL_OBJECT ? path_join(path, out->keys[i]) : NULL;
            if (!p) p = sf_fmt("%s[\"%s\"]", path, out->keys[i]);
        } else {
            r = result && result->kind == planned->kind && i < result->n ? result->elems[i] : NULL;
            p = path_index(path, i);
        }
        sf_value *m = merge(ctx, planned->elems[i], r, p, diags);
        free(p);
        if (!m) {
            sf_value_free(out);
            return NULL;
        }
        sf_value_free(out->elems[i]);
        out->elems[i] = m;
    }
    return out;
}

sf_value *sf_plan_merge(const sf_ctx *ctx, const sf_value *planned, const sf_value *result, sf_diags *diags)
{
    return merge(ctx, planned, result, "", diags);
}
