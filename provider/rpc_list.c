/* rpc_list.c — list resources over the protocol (Terraform 1.14+,
 * `terraform query`): ValidateListResourceConfig and the server-streaming
 * ListResource.
 *
 * What Terraform (internal/plugin6) does with them:
 * - It learns which list resources exist from GetProviderSchema's
 *   list_resource_schemas (rpc_schema.c); each schema is the block the user
 *   writes as `config { ... }` inside `list "type" "name" {}`, and Terraform
 *   sends only that block's value as `config`.
 * - It reads at most `limit` events, stops at the first event with an error
 *   diagnostic, skips an event that has only warnings, and requires an
 *   identity in every other event; the resource object is decoded only when
 *   it asked for it (include_resource, or -generate-config-out).
 * So: one Event per object, an error as an Event with only the diagnostics,
 * sent after the objects found before it.  The call itself ends OK; gRPC
 * errors are kept for requests that are not ListResource requests at all.
 * Older clients never call these methods.
 */
#include <stdlib.h>
#include <string.h>

#include "provider/list.h"
#include "provider/wire.h"

enum { GRPC_OK = 0 };

/* Resolve the list resource; a diagnostic when unknown. */
static const sf_runtime_list *find_list(sf_rpc *rpc, const char *name, sf_diags *diags)
{
    const sf_runtime_list *l = sf_runtime_list_find(rpc->rt, name);
    if (!l)
        sf_diag_error(diags, NULL, "Unknown list resource type", "The provider %s has no list resource \"%s\".",
                      rpc->rt->def->name, name ? name : "");
    return l;
}

/* An object of `type` with every attribute null: the filters of a list
 * block written without `config {}`. */
static sf_value *all_null(const sf_type *type)
{
    sf_value *v = sf_value_object();
    for (size_t i = 0; i < type->n; i++) sf_value_put(v, type->names[i], sf_value_null());
    return v;
}

/* The config block's value, checked: NULL with diagnostics. */
static sf_value *config_of(sf_rpc *rpc, const sf_runtime_list *l, const Tfplugin6__DynamicValue *dv, sf_diags *diags)
{
    sf_value *config = sf_wire_decode(dv, l->config_type, "list configuration", diags);
    if (!config) return NULL;
    if (sf_value_is_null(config)) {
        sf_value_free(config);
        config = all_null(l->config_type);
    }
    if (sf_value_is_unknown(config)) {
        sf_diag_error(diags, NULL, "Invalid request from Terraform",
                      "The list configuration as a whole is unknown. Terraform does not send such requests.");
        sf_value_free(config);
        return NULL;
    }
    sf_schema_validate(l->def->schema, config, "", diags);
    if (l->def->validate) l->def->validate(&rpc->call, config, diags);
    return config;
}

static ProtobufCMessage *validate_list_config(sf_rpc *rpc, const ProtobufCMessage *msg)
{
    const Tfplugin6__ValidateListResourceConfig__Request *req = (const void *)msg;
    Tfplugin6__ValidateListResourceConfig__Response *r =
        SF_ARENA_NEW(&rpc->arena, Tfplugin6__ValidateListResourceConfig__Response);
    tfplugin6__validate_list_resource_config__response__init(r);
    sf_diags diags;
    sf_diags_init(&diags);
    const sf_runtime_list *l = find_list(rpc, req->type_name, &diags);
    if (l) sf_value_free(config_of(rpc, l, req->config, &diags));
    sf_wire_diags(&rpc->arena, &diags, &r->n_diagnostics, &r->diagnostics);
    sf_diags_clear(&diags);
    return &r->base;
}

/* The Event that carries only diagnostics (Terraform stops at an error). */
static void send_diags(sf_rpc *rpc, const sf_diags *diags)
{
    Tfplugin6__ListResource__Event ev;
    tfplugin6__list_resource__event__init(&ev);
    sf_arena a = {0};
    sf_wire_diags(&a, diags, &ev.n_diagnostic, &ev.diagnostic);
    sf_rpc_send(rpc, &ev.base);
    sf_arena_free(&a);
}

static int list_resource(sf_rpc *rpc, const ProtobufCMessage *msg, char **status_msg)
{
    (void)status_msg;
    const Tfplugin6__ListResource__Request *req = (const void *)msg;
    sf_diags diags;
    sf_diags_init(&diags);
    const sf_runtime_list *l = find_list(rpc, req->type_name, &diags);
    sf_value *config = l ? config_of(rpc, l, req->config, &diags) : NULL;
    sf_list_emitter emit;
    sf_list_emitter_init(&emit, rpc, l, req->include_resource_object, req->limit, &diags);
    /* A limit below 1 reads nothing: there is nothing to search for. */
    if (config && !sf_diags_has_error(&diags) && req->limit > 0) {
        sf_log(rpc->ctx, SF_LOG_DEBUG, "ListResource %s: limit %lld, resource objects %s", l->def->name,
               (long long)req->limit, req->include_resource_object ? "yes" : "no");
        l->def->list(&rpc->call, config, req->include_resource_object, req->limit, &emit, &diags);
        sf_log(rpc->ctx, SF_LOG_DEBUG, "ListResource %s: %lld sent", l->def->name, (long long)emit.sent);
    }
    if (diags.n && !emit.gone) send_diags(rpc, &diags);
    sf_value_free(config);
    sf_diags_clear(&diags);
    return GRPC_OK;
}

const sf_rpc_method sf_rpc_list_methods[] = {
    {"ValidateListResourceConfig", &tfplugin6__validate_list_resource_config__request__descriptor,
     validate_list_config},
    {NULL, NULL, NULL},
};

const sf_rpc_stream_method sf_rpc_list_stream_methods[] = {
    {"ListResource", &tfplugin6__list_resource__request__descriptor, list_resource},
    {NULL, NULL, NULL},
};
