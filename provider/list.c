/* list.c — what a list resource's objects become on the wire: one
 * ListResource.Event per object, with the identity Terraform requires, the
 * provider's display name and, only when Terraform asked, the resource
 * object (the state `terraform query -generate-config-out` writes
 * configuration from).  Enforces Terraform's limit so that a provider's
 * search stops as soon as nothing more would be read.
 */
#include "provider/list.h"

#include <stdlib.h>

#include "base/str.h"
#include "provider/identity.h"
#include "provider/wire.h"

void sf_list_emitter_init(sf_list_emitter *e, sf_rpc *rpc, const sf_runtime_list *list, bool include_resource,
                          int64_t limit, sf_diags *diags)
{
    *e = (sf_list_emitter){
        .rpc = rpc, .list = list, .include_resource = include_resource, .limit = limit, .diags = diags};
}

/* A state the runtime can send: an object of the listed type, wholly known. */
static bool sendable(sf_list_emitter *e, const sf_value *state)
{
    const char *name = e->list->def->name;
    char *err = NULL;
    if (!state || sf_value_is_null(state) || !sf_value_is_wholly_known(state)) {
        err = sf_strdup("a null or partly unknown object");
    } else if (sf_value_conforms(state, e->list->listed->type, &err) == 0) {
        return true;
    }
    sf_diag_error(e->diags, NULL, "Provider produced an invalid list result",
                  "The list of %s found an object it cannot describe: %s. This is a bug in the provider; please "
                  "report it.",
                  name, err ? err : "?");
    free(err);
    return false;
}

/* The event of one object, in `a`; NULL with a diagnostic on a provider bug. */
static Tfplugin6__ListResource__Event *event_of(sf_list_emitter *e, sf_arena *a, const sf_value *state,
                                                const char *display_name)
{
    const sf_runtime_resource *res = e->list->listed;
    Tfplugin6__ListResource__Event *ev = SF_ARENA_NEW(a, Tfplugin6__ListResource__Event);
    tfplugin6__list_resource__event__init(ev);
    sf_value *id = sf_identity_of(res->def->identity, state);
    if (sf_value_is_wholly_known(id) && !sf_identity_is_empty(id))
        ev->identity = sf_identity_wire(a, id, res->identity_type, e->diags);
    sf_value_free(id);
    if (!ev->identity) {
        if (!sf_diags_has_error(e->diags))
            sf_diag_error(e->diags, NULL, "Provider produced a list result without an identity",
                          "The list of %s found an object whose identity is empty or unknown; Terraform requires "
                          "one. This is a bug in the provider; please report it.",
                          e->list->def->name);
        return NULL;
    }
    ev->display_name = sf_arena_strdup(a, display_name ? display_name : "");
    if (e->include_resource) {
        ev->resource_object = sf_wire_encode(a, state, res->type, e->diags);
        if (!ev->resource_object) return NULL;
        ev->_resource_object_case = TFPLUGIN6__LIST_RESOURCE__EVENT___RESOURCE_OBJECT_RESOURCE_OBJECT;
    }
    return ev;
}

bool sf_list_emit(sf_list_emitter *e, const sf_value *state, const char *display_name)
{
    if (e->gone || e->broken || e->sent >= e->limit) return false;
    if (!sendable(e, state)) {
        e->broken = true;
        return false;
    }
    /* Its own arena: a long list does not grow the RPC's. */
    sf_arena a = {0};
    Tfplugin6__ListResource__Event *ev = event_of(e, &a, state, display_name);
    if (!ev) {
        e->broken = true;
    } else if (sf_rpc_send(e->rpc, &ev->base) != 0) {
        e->gone = true;
    } else {
        e->sent++;
    }
    sf_arena_free(&a);
    return !e->gone && !e->broken && e->sent < e->limit;
}
