/* rpc_resource.c — a managed resource's life: validate, upgrade, read, plan,
 * apply, import.
 *
 * The generic rules live here and in plan.c; resources are called only for
 * what is theirs.  Every value crossing back to Terraform is checked against
 * the schema type first, so a resource bug becomes a diagnostic, not a
 * "Provider produced inconsistent result" from Terraform.
 */
#include <stdlib.h>
#include <string.h>

#include "provider/identity.h"
#include "provider/plan.h"
#include "provider/runtime.h"
#include "provider/timeouts.h"
#include "provider/wire.h"

/* Resolve the resource type; adds a diagnostic and returns NULL if unknown. */
static const sf_runtime_resource *resource(sf_rpc *rpc, const char *name, sf_diags *diags)
{
    const sf_runtime_resource *r = sf_runtime_resource_find(rpc->rt, name);
    if (!r)
        sf_diag_error(diags, NULL, "Unknown resource type", "The provider %s has no resource type \"%s\".",
                      rpc->rt->def->name, name ? name : "");
    return r;
}

/* Terraform never sends an unknown stored state, nor an unknown object as
 * a whole; a request that does is refused before any resource sees it. */
static bool request_sane(const sf_value *state, const sf_value *object, sf_diags *diags)
{
    if ((!state || sf_value_is_wholly_known(state)) && !sf_value_is_unknown(object)) return true;
    sf_diag_error(diags, NULL, "Invalid request from Terraform",
                  "The stored state holds unknown values, or the resource object as a whole is unknown. "
                  "Terraform does not send such requests; nothing was done.");
    return false;
}

/* Copy of v where every unknown is null: a state must be wholly known. */
static sf_value *known_or_null(const sf_value *v)
{
    if (sf_value_is_unknown(v)) return sf_value_null();
    sf_value *c = sf_value_copy(v);
    for (size_t i = 0; i < c->n && c->elems; i++) {
        sf_value *k = known_or_null(c->elems[i]);
        sf_value_free(c->elems[i]);
        c->elems[i] = k;
    }
    return c;
}

/* A resource returned something that is not of its own type: its bug. */
static bool conforms(const sf_runtime_resource *res, const sf_value *v, sf_diags *diags)
{
    char *err = NULL;
    if (sf_value_conforms(v, res->type, &err) == 0) return true;
    sf_diag_error(diags, NULL, "Provider produced an invalid object",
                  "%s returned a value that does not match its schema: %s. This is a bug in the "
                  "provider; please report it.",
                  res->def->name, err ? err : "?");
    free(err);
    return false;
}

static void set_deadline(sf_rpc *rpc, const sf_runtime_resource *res, const sf_value *v, const char *op,
                         int64_t default_ms)
{
    int64_t ms = sf_schema_nested(res->def->schema, "timeouts") ? sf_timeout_ms(v, op, default_ms) : default_ms;
    if (ms > 0) sf_ctx_set_deadline(rpc->ctx, sf_time_mono_ms() + ms);
}

static ProtobufCMessage *validate_resource_config(sf_rpc *rpc, const ProtobufCMessage *msg)
{
    const Tfplugin6__ValidateResourceConfig__Request *req = (const void *)msg;
    Tfplugin6__ValidateResourceConfig__Response *r =
        SF_ARENA_NEW(&rpc->arena, Tfplugin6__ValidateResourceConfig__Response);
    tfplugin6__validate_resource_config__response__init(r);
    sf_diags diags;
    sf_diags_init(&diags);
    const sf_runtime_resource *res = resource(rpc, req->type_name, &diags);
    sf_value *config = res ? sf_wire_decode(req->config, res->type, "configuration", &diags) : NULL;
    if (config) {
        sf_schema_validate(res->def->schema, config, "", &diags);
        if (res->def->validate) res->def->validate(&rpc->call, config, &diags);
    }
    sf_wire_diags(&rpc->arena, &diags, &r->n_diagnostics, &r->diagnostics);
    sf_value_free(config);
    sf_diags_clear(&diags);
    return &r->base;
}

/* State written by an older schema arrives as JSON: decode it with the
 * current type (dropping removed attributes), then let the resource adapt. */
static ProtobufCMessage *upgrade_resource_state(sf_rpc *rpc, const ProtobufCMessage *msg)
{
    const Tfplugin6__UpgradeResourceState__Request *req = (const void *)msg;
    Tfplugin6__UpgradeResourceState__Response *r = SF_ARENA_NEW(&rpc->arena, Tfplugin6__UpgradeResourceState__Response);
    tfplugin6__upgrade_resource_state__response__init(r);
    sf_diags diags;
    sf_diags_init(&diags);
    sf_value *state = NULL;
    const sf_runtime_resource *res = resource(rpc, req->type_name, &diags);
    if (res && req->version > res->def->schema_version) {
        sf_diag_error(&diags, NULL, "State written by a newer provider",
                      "The state of this %s was written with schema version %lld, newer than this "
                      "provider's %lld. Use the provider version that wrote it, or a newer one.",
                      res->def->name, (long long)req->version, (long long)res->def->schema_version);
    } else if (res && req->raw_state && req->raw_state->json.len) {
        char *err = NULL;
        if (sf_value_from_json((const char *)req->raw_state->json.data, req->raw_state->json.len, res->type, true,
                               &state, &err) != 0) {
            sf_diag_error(&diags, NULL, "Unreadable state", "The stored state of this %s could not be read: %s.",
                          res->def->name, err ? err : "?");
            free(err);
        } else if (req->version < res->def->schema_version && res->def->upgrade) {
            state = res->def->upgrade(&rpc->call, req->version, state, &diags);
        }
    } else if (res) {
        sf_diag_error(&diags, NULL, "Unsupported state format",
                      "The stored state of this %s is in the legacy flatmap format, which this provider "
                      "never wrote.",
                      res->def->name);
    }
    if (state && !sf_diags_has_error(&diags) && conforms(res, state, &diags))
        r->upgraded_state = sf_wire_encode(&rpc->arena, state, res->type, &diags);
    sf_wire_diags(&rpc->arena, &diags, &r->n_diagnostics, &r->diagnostics);
    sf_value_free(state);
    sf_diags_clear(&diags);
    return &r->base;
}

static ProtobufCMessage *read_resource(sf_rpc *rpc, const ProtobufCMessage *msg)
{
    const Tfplugin6__ReadResource__Request *req = (const void *)msg;
    Tfplugin6__ReadResource__Response *r = SF_ARENA_NEW(&rpc->arena, Tfplugin6__ReadResource__Response);
    tfplugin6__read_resource__response__init(r);
    r->private_ = req->private_;
    sf_diags diags;
    sf_diags_init(&diags);
    const sf_runtime_resource *res = resource(rpc, req->type_name, &diags);
    sf_value *state = res ? sf_wire_decode(req->current_state, res->type, "current state", &diags) : NULL;
    sf_value *fresh = NULL;
    if (state && !sf_value_is_null(state) && request_sane(state, state, &diags)) {
        set_deadline(rpc, res, state, "read", res->def->timeouts.read);
        fresh = res->def->read(&rpc->call, state, &diags);
        if (fresh && sf_value_is_null(fresh))
            sf_log(rpc->ctx, SF_LOG_INFO, "%s no longer exists; removing it from state", res->def->name);
    }
    /* On error keep what Terraform had: never drop a resource we could not see. */
    const sf_value *out = fresh ? fresh : state;
    if (out && conforms(res, out, &diags)) r->new_state = sf_wire_encode(&rpc->arena, out, res->type, &diags);
    if (r->new_state)
        r->new_identity = sf_rpc_identity_read(rpc, res, req->current_identity, out, fresh != NULL, &diags);
    if (fresh && r->new_state && !sf_diags_has_error(&diags))
        sf_runtime_note_refreshed(rpc->rt, res->def->name, r->new_state->msgpack.data, r->new_state->msgpack.len);
    sf_wire_diags(&rpc->arena, &diags, &r->n_diagnostics, &r->diagnostics);
    sf_value_free(fresh);
    sf_value_free(state);
    sf_diags_clear(&diags);
    return &r->base;
}

/* Is `prior` a state this process's ReadResource returned?  Compared in
 * the runtime's own encoding, so Terraform's re-encoding does not matter. */
static bool prior_was_refreshed(sf_rpc *rpc, const sf_runtime_resource *res, const sf_value *prior)
{
    if (sf_value_is_null(prior)) return false;
    sf_diags ignored;
    sf_diags_init(&ignored);
    Tfplugin6__DynamicValue *dv = sf_wire_encode(&rpc->arena, prior, res->type, &ignored);
    sf_diags_clear(&ignored);
    return dv && sf_runtime_was_refreshed(rpc->rt, res->def->name, dv->msgpack.data, dv->msgpack.len);
}

static ProtobufCMessage *plan_resource_change(sf_rpc *rpc, const ProtobufCMessage *msg)
{
    const Tfplugin6__PlanResourceChange__Request *req = (const void *)msg;
    Tfplugin6__PlanResourceChange__Response *r = SF_ARENA_NEW(&rpc->arena, Tfplugin6__PlanResourceChange__Response);
    tfplugin6__plan_resource_change__response__init(r);
    r->planned_private = req->prior_private;
    sf_diags diags;
    sf_diags_init(&diags);
    sf_plan plan = {0};
    sf_value *prior = NULL, *config = NULL, *proposed = NULL;
    const sf_runtime_resource *res = resource(rpc, req->type_name, &diags);
    if (res) {
        prior = sf_wire_decode(req->prior_state, res->type, "prior state", &diags);
        config = sf_wire_decode(req->config, res->type, "configuration", &diags);
        proposed = sf_wire_decode(req->proposed_new_state, res->type, "proposed new state", &diags);
    }
    if (prior && config && proposed && request_sane(prior, proposed, &diags)) {
        plan.prior = prior;
        plan.config = config;
        plan.prior_refreshed = prior_was_refreshed(rpc, res, prior);
        sf_plan_rules(res->def->schema, &plan, proposed, &diags);
        proposed = NULL;
        if (res->def->modify_plan && !sf_diags_has_error(&diags)) res->def->modify_plan(&rpc->call, &plan, &diags);
        if (!sf_diags_has_error(&diags) && conforms(res, plan.planned, &diags)) {
            r->planned_state = sf_wire_encode(&rpc->arena, plan.planned, res->type, &diags);
            r->n_requires_replace = plan.n_requires_replace;
            r->requires_replace = sf_arena_alloc(&rpc->arena, plan.n_requires_replace * sizeof *r->requires_replace);
            for (size_t i = 0; i < plan.n_requires_replace; i++)
                r->requires_replace[i] = sf_wire_path(&rpc->arena, plan.requires_replace[i]);
            r->planned_identity = sf_rpc_identity_plan(rpc, res, req->prior_identity, &plan, &diags);
        }
    }
    sf_wire_diags(&rpc->arena, &diags, &r->n_diagnostics, &r->diagnostics);
    sf_plan_clear(&plan);
    sf_value_free(prior);
    sf_value_free(config);
    sf_value_free(proposed);
    sf_diags_clear(&diags);
    return &r->base;
}

/* Create, update or delete; returns the state to record (owned). */
static sf_value *apply(sf_rpc *rpc, const sf_runtime_resource *res, const sf_value *prior, const sf_value *planned,
                       sf_diags *diags)
{
    const sf_resource_type *def = res->def;
    if (sf_value_is_null(planned)) {
        set_deadline(rpc, res, prior, "delete", def->timeouts.delete);
        return def->delete (&rpc->call, prior, diags) == 0 ? sf_value_null() : sf_value_copy(prior);
    }
    bool create = sf_value_is_null(prior);
    sf_value *result;
    if (create) {
        set_deadline(rpc, res, planned, "create", def->timeouts.create);
        result = def->create(&rpc->call, planned, diags);
    } else {
        set_deadline(rpc, res, planned, "update", def->timeouts.update);
        result = def->update(&rpc->call, prior, planned, diags);
    }
    if (sf_diags_has_error(diags)) {
        /* Record what the resource says exists (a partial object), else what
         * existed before; never an unknown. */
        sf_value *keep = result ? known_or_null(result) : sf_value_copy(prior);
        sf_value_free(result);
        return keep;
    }
    sf_value *merged = sf_plan_merge(rpc->ctx, planned, result, diags);
    sf_value_free(result);
    return merged ? merged : sf_value_copy(prior);
}

static ProtobufCMessage *apply_resource_change(sf_rpc *rpc, const ProtobufCMessage *msg)
{
    const Tfplugin6__ApplyResourceChange__Request *req = (const void *)msg;
    Tfplugin6__ApplyResourceChange__Response *r = SF_ARENA_NEW(&rpc->arena, Tfplugin6__ApplyResourceChange__Response);
    tfplugin6__apply_resource_change__response__init(r);
    r->private_ = req->planned_private;
    sf_diags diags;
    sf_diags_init(&diags);
    sf_value *prior = NULL, *planned = NULL, *state = NULL;
    const sf_runtime_resource *res = resource(rpc, req->type_name, &diags);
    if (res) {
        prior = sf_wire_decode(req->prior_state, res->type, "prior state", &diags);
        planned = sf_wire_decode(req->planned_state, res->type, "planned state", &diags);
    }
    if (prior && planned && request_sane(prior, planned, &diags)) {
        state = apply(rpc, res, prior, planned, &diags);
        if (conforms(res, state, &diags)) r->new_state = sf_wire_encode(&rpc->arena, state, res->type, &diags);
        if (r->new_state)
            r->new_identity = sf_rpc_identity_apply(rpc, res, req->planned_identity, prior, state, &diags);
    }
    sf_wire_diags(&rpc->arena, &diags, &r->n_diagnostics, &r->diagnostics);
    sf_value_free(state);
    sf_value_free(prior);
    sf_value_free(planned);
    sf_diags_clear(&diags);
    return &r->base;
}

static ProtobufCMessage *import_resource_state(sf_rpc *rpc, const ProtobufCMessage *msg)
{
    const Tfplugin6__ImportResourceState__Request *req = (const void *)msg;
    Tfplugin6__ImportResourceState__Response *r = SF_ARENA_NEW(&rpc->arena, Tfplugin6__ImportResourceState__Response);
    tfplugin6__import_resource_state__response__init(r);
    sf_diags diags;
    sf_diags_init(&diags);
    const sf_runtime_resource *res = resource(rpc, req->type_name, &diags);
    sf_value *state = NULL;
    /* Terraform 1.12+ sends an identity instead of an id (`import { identity = ... }`). */
    bool by_identity = (!req->id || !*req->id) && req->identity;
    if (res && !res->def->import && !by_identity) {
        sf_diag_error(&diags, NULL, "Import not supported", "%s cannot be imported by id.%s", res->def->name,
                      res->def->identity ? " Import it by identity (Terraform 1.12 or later): `import { to = ..., "
                                           "identity = { ... } }`."
                                         : "");
    } else if (res) {
        set_deadline(rpc, res, NULL, "read", res->def->timeouts.read);
        state = by_identity ? sf_rpc_identity_import(rpc, res, req->identity, &diags)
                            : res->def->import(&rpc->call, req->id ? req->id : "", &diags);
    }
    if (state && !sf_diags_has_error(&diags) && conforms(res, state, &diags)) {
        Tfplugin6__ImportResourceState__ImportedResource *ir =
            SF_ARENA_NEW(&rpc->arena, Tfplugin6__ImportResourceState__ImportedResource);
        tfplugin6__import_resource_state__imported_resource__init(ir);
        ir->type_name = sf_arena_strdup(&rpc->arena, res->def->name);
        ir->state = sf_wire_encode(&rpc->arena, state, res->type, &diags);
        ir->identity = sf_rpc_identity_imported(rpc, res, by_identity ? req->identity : NULL, state, &diags);
        r->n_imported_resources = 1;
        r->imported_resources = sf_arena_alloc(&rpc->arena, sizeof *r->imported_resources);
        r->imported_resources[0] = ir;
    }
    sf_wire_diags(&rpc->arena, &diags, &r->n_diagnostics, &r->diagnostics);
    sf_value_free(state);
    sf_diags_clear(&diags);
    return &r->base;
}

const sf_rpc_method sf_rpc_resource_methods[] = {
    {"ValidateResourceConfig", &tfplugin6__validate_resource_config__request__descriptor, validate_resource_config},
    {"UpgradeResourceState", &tfplugin6__upgrade_resource_state__request__descriptor, upgrade_resource_state},
    {"ReadResource", &tfplugin6__read_resource__request__descriptor, read_resource},
    {"PlanResourceChange", &tfplugin6__plan_resource_change__request__descriptor, plan_resource_change},
    {"ApplyResourceChange", &tfplugin6__apply_resource_change__request__descriptor, apply_resource_change},
    {"ImportResourceState", &tfplugin6__import_resource_state__request__descriptor, import_resource_state},
    {NULL, NULL, NULL},
};
