/* rpc_identity.c — resource identities over the protocol: the two identity
 * RPCs, and the identity every read, plan, apply and import response
 * carries.
 *
 * The rules, as Terraform (internal/terraform, internal/plugin6) and
 * terraform-plugin-framework apply them:
 * - An identity names one remote object and never changes while that object
 *   lives: read, an in-place plan and apply keep the stored one, and a
 *   resource whose state says otherwise gets an error (a provider bug),
 *   unless its identity is declared mutable in place.  Replacement makes a
 *   new object, with a new identity.
 * - Every identity sent is wholly known; a create whose identity is not
 *   known yet plans none (Terraform allows that) and apply sends it.
 * - A state stored before identities existed has none: the next read, plan
 *   or apply sends the one its state implies, and Terraform stores it.
 * - Import by identity must answer with an identity.
 * Terraform before 1.12 (and OpenTofu) never asks for identity schemas,
 * sends no identity, and skips the response fields it does not know.
 */
#include <stdlib.h>
#include <string.h>

#include "provider/identity.h"
#include "provider/wire.h"

/* ---- GetResourceIdentitySchemas -------------------------------------------- */

static ProtobufCMessage *get_identity_schemas(sf_rpc *rpc, const ProtobufCMessage *req)
{
    (void)req;
    sf_arena *a = &rpc->arena;
    const sf_runtime *rt = rpc->rt;
    Tfplugin6__GetResourceIdentitySchemas__Response *r =
        SF_ARENA_NEW(a, Tfplugin6__GetResourceIdentitySchemas__Response);
    tfplugin6__get_resource_identity_schemas__response__init(r);
    r->identity_schemas = sf_arena_alloc(a, rt->n_resources * sizeof *r->identity_schemas);
    for (size_t i = 0; i < rt->n_resources; i++) {
        const sf_resource_type *def = rt->resources[i].def;
        if (!def->identity) continue;
        Tfplugin6__GetResourceIdentitySchemas__Response__IdentitySchemasEntry *e =
            SF_ARENA_NEW(a, Tfplugin6__GetResourceIdentitySchemas__Response__IdentitySchemasEntry);
        tfplugin6__get_resource_identity_schemas__response__identity_schemas_entry__init(e);
        e->key = sf_arena_strdup(a, def->name);
        e->value = sf_identity_schema_msg(a, def->identity);
        r->identity_schemas[r->n_identity_schemas++] = e;
    }
    return &r->base;
}

/* ---- UpgradeResourceIdentity ------------------------------------------------ */

/* The identity stored with `version`, in the current shape; NULL with
 * diagnostics.  Terraform asks only when the versions differ. */
static sf_value *upgraded(sf_rpc *rpc, const sf_runtime_resource *res, int64_t version, const Tfplugin6__RawState *raw,
                          sf_diags *diags)
{
    const sf_identity_def *idef = res->def->identity;
    const char *name = res->def->name;
    if (version > idef->version) {
        sf_diag_error(diags, NULL, "Identity written by a newer provider",
                      "The identity of this %s was stored with identity version %lld, newer than this provider's "
                      "%lld. Use the provider version that wrote it, or a newer one.",
                      name, (long long)version, (long long)idef->version);
        return NULL;
    }
    if (version < 0 || (version < idef->version && !idef->upgrade)) {
        sf_diag_error(diags, NULL, "Unknown identity version",
                      "The identity of this %s was stored with identity version %lld, which this provider cannot "
                      "upgrade (its identity version is %lld).",
                      name, (long long)version, (long long)idef->version);
        return NULL;
    }
    if (!raw || !raw->json.len) {
        sf_diag_error(diags, NULL, "Unreadable identity",
                      "The stored identity of this %s came without JSON (the only form Terraform stores "
                      "identities in).",
                      name);
        return NULL;
    }
    sf_value *v = NULL;
    char *err = NULL;
    /* An older version may hold attributes that are gone: drop them. */
    if (sf_value_from_json((const char *)raw->json.data, raw->json.len, res->identity_type, version < idef->version, &v,
                           &err) != 0) {
        sf_diag_error(diags, NULL, "Unreadable identity", "The stored identity of this %s could not be read: %s.", name,
                      err ? err : "?");
        free(err);
        return NULL;
    }
    if (version < idef->version) v = idef->upgrade(&rpc->call, version, v, diags);
    return v;
}

static ProtobufCMessage *upgrade_identity(sf_rpc *rpc, const ProtobufCMessage *msg)
{
    const Tfplugin6__UpgradeResourceIdentity__Request *req = (const void *)msg;
    Tfplugin6__UpgradeResourceIdentity__Response *r =
        SF_ARENA_NEW(&rpc->arena, Tfplugin6__UpgradeResourceIdentity__Response);
    tfplugin6__upgrade_resource_identity__response__init(r);
    sf_diags diags;
    sf_diags_init(&diags);
    const sf_runtime_resource *res = sf_runtime_resource_find(rpc->rt, req->type_name);
    sf_value *id = NULL;
    if (!res) {
        sf_diag_error(&diags, NULL, "Unknown resource type", "The provider %s has no resource type \"%s\".",
                      rpc->rt->def->name, req->type_name ? req->type_name : "");
    } else if (!res->def->identity) {
        sf_diag_error(&diags, NULL, "Resource type has no identity",
                      "%s has no resource identity, so there is none to upgrade. This is a bug in Terraform or in "
                      "the state; nothing was changed.",
                      res->def->name);
    } else {
        id = upgraded(rpc, res, req->version, req->raw_identity, &diags);
    }
    if (id && !sf_diags_has_error(&diags))
        r->upgraded_identity = sf_identity_wire(&rpc->arena, id, res->identity_type, &diags);
    sf_wire_diags(&rpc->arena, &diags, &r->n_diagnostics, &r->diagnostics);
    sf_value_free(id);
    sf_diags_clear(&diags);
    return &r->base;
}

const sf_rpc_method sf_rpc_identity_methods[] = {
    {"GetResourceIdentitySchemas", &tfplugin6__get_resource_identity_schemas__request__descriptor,
     get_identity_schemas},
    {"UpgradeResourceIdentity", &tfplugin6__upgrade_resource_identity__request__descriptor, upgrade_identity},
    {NULL, NULL, NULL},
};

/* ---- Identity in the resource RPCs ------------------------------------------ */

static void changed(const sf_runtime_resource *res, const char *when, sf_diags *diags)
{
    sf_diag_error(diags, NULL, "Provider changed a resource identity",
                  "During %s, %s reported an identity other than the one Terraform stored for it, although the "
                  "object was not replaced. An identity never changes while its object exists: this is a bug in "
                  "the provider; please report it.",
                  when, res->def->name);
}

/* Send `id` (taken) when it is wholly known and not empty. */
static Tfplugin6__ResourceIdentityData *send(sf_rpc *rpc, const sf_runtime_resource *res, sf_value *owned_id,
                                             sf_diags *diags)
{
    Tfplugin6__ResourceIdentityData *d = NULL;
    if (sf_value_is_wholly_known(owned_id)) d = sf_identity_wire(&rpc->arena, owned_id, res->identity_type, diags);
    sf_value_free(owned_id);
    return d;
}

Tfplugin6__ResourceIdentityData *sf_rpc_identity_read(sf_rpc *rpc, const sf_runtime_resource *res,
                                                      const Tfplugin6__ResourceIdentityData *current,
                                                      const sf_value *state, bool fresh, sf_diags *diags)
{
    if (!res || !res->identity_type || sf_value_is_null(state)) return NULL;
    sf_value *stored = sf_identity_decode(current, res->identity_type, "stored identity", diags);
    if (!stored) return NULL;
    sf_value *now = sf_identity_of(res->def->identity, state);
    bool keep = !sf_identity_is_empty(stored);
    if (keep && fresh && !sf_value_equal(stored, now)) {
        if (res->def->identity->mutable_in_place) keep = false;
        else changed(res, "refresh", diags);
    }
    /* A read that failed keeps the stored state, and so its identity. */
    sf_value *out = keep ? stored : now;
    sf_value_free(keep ? now : stored);
    return send(rpc, res, out, diags);
}

Tfplugin6__ResourceIdentityData *sf_rpc_identity_plan(sf_rpc *rpc, const sf_runtime_resource *res,
                                                      const Tfplugin6__ResourceIdentityData *prior, const sf_plan *plan,
                                                      sf_diags *diags)
{
    if (!res || !res->identity_type || sf_value_is_null(plan->planned)) return NULL; /* destroy: none */
    sf_value *planned = sf_identity_of(res->def->identity, plan->planned);
    if (sf_plan_is_create(plan)) return send(rpc, res, planned, diags); /* also a replacement's new object */
    sf_value *stored = sf_identity_decode(prior, res->identity_type, "prior identity", diags);
    if (!stored) {
        sf_value_free(planned);
        return NULL;
    }
    if (sf_identity_is_empty(stored)) { /* a state from before identities */
        sf_value_free(stored);
        if (!sf_value_is_wholly_known(planned)) {
            sf_value_free(planned);
            planned = sf_identity_of(res->def->identity, plan->prior);
        }
        return send(rpc, res, planned, diags);
    }
    /* Replaced: the stored identity still names the object until then. */
    bool moves = plan->n_requires_replace == 0 && sf_value_is_wholly_known(planned) && !sf_value_equal(stored, planned);
    if (moves && !res->def->identity->mutable_in_place) changed(res, "planning", diags);
    sf_value *out = moves ? planned : stored;
    sf_value_free(moves ? stored : planned);
    return send(rpc, res, out, diags);
}

Tfplugin6__ResourceIdentityData *sf_rpc_identity_apply(sf_rpc *rpc, const sf_runtime_resource *res,
                                                       const Tfplugin6__ResourceIdentityData *planned,
                                                       const sf_value *prior, const sf_value *state, sf_diags *diags)
{
    if (!res || !res->identity_type || sf_value_is_null(state)) return NULL; /* destroyed: none */
    sf_value *now = sf_identity_of(res->def->identity, state);
    bool update = !sf_value_is_null(prior) && !sf_diags_has_error(diags);
    if (update && !res->def->identity->mutable_in_place) {
        sf_value *want = sf_identity_decode(planned, res->identity_type, "planned identity", diags);
        if (want && !sf_identity_is_empty(want) && !sf_value_equal(want, now)) changed(res, "apply", diags);
        sf_value_free(want);
    }
    return send(rpc, res, now, diags);
}

/* The id the resource's import takes, from the identity (`import_id`). */
static const char *import_id_of(const sf_identity_def *idef, const sf_value *identity)
{
    return idef->import_id ? sf_value_get_str(sf_value_get(identity, idef->import_id)) : NULL;
}

sf_value *sf_rpc_identity_import(sf_rpc *rpc, const sf_runtime_resource *res,
                                 const Tfplugin6__ResourceIdentityData *requested, sf_diags *diags)
{
    const sf_identity_def *idef = res->def->identity;
    if (!idef || (!idef->import && !(idef->import_id && res->def->import))) {
        sf_diag_error(diags, NULL, "Import by identity not supported", "%s cannot be imported by identity%s.",
                      res->def->name,
                      res->def->import ? ": import it by id (`import { id = ... }` or `terraform import`)" : "");
        return NULL;
    }
    sf_value *identity = sf_identity_decode(requested, res->identity_type, "identity to import", diags);
    sf_value *state = NULL;
    if (identity && sf_identity_is_empty(identity)) {
        sf_diag_error(diags, NULL, "No identity to import",
                      "The request to import a %s carries neither an id nor an identity.", res->def->name);
    } else if (identity && sf_identity_check_required(idef, res->def->name, identity, diags)) {
        state = idef->import ? idef->import(&rpc->call, identity, diags)
                             : res->def->import(&rpc->call, import_id_of(idef, identity), diags);
    }
    sf_value_free(identity);
    return state;
}

Tfplugin6__ResourceIdentityData *sf_rpc_identity_imported(sf_rpc *rpc, const sf_runtime_resource *res,
                                                          const Tfplugin6__ResourceIdentityData *requested,
                                                          const sf_value *state, sf_diags *diags)
{
    if (!res->identity_type) return NULL;
    sf_value *id = sf_identity_of(res->def->identity, state);
    sf_value *asked = requested ? sf_identity_decode(requested, res->identity_type, "identity to import", diags) : NULL;
    for (size_t i = 0; asked && !sf_value_is_null(asked) && i < id->n; i++)
        if (sf_value_is_null(id->elems[i]))
            sf_value_put(id, id->keys[i], sf_value_copy(sf_value_get(asked, id->keys[i])));
    sf_value_free(asked);
    /* By id, an identity with a required part still null would be stored
     * as it is: leave it to the read that follows. */
    if (!requested && !sf_identity_complete(res->def->identity, id)) {
        sf_value_free(id);
        return NULL;
    }
    return send(rpc, res, id, diags);
}
