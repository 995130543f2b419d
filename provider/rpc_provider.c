/* rpc_provider.c — the provider block (validate, configure), StopProvider,
 * and polite refusals for protocol features this provider does not offer. */
#include <stdlib.h>

#include "base/str.h"
#include "provider/runtime.h"
#include "provider/wire.h"

static ProtobufCMessage *validate_provider_config(sf_rpc *rpc, const ProtobufCMessage *msg)
{
    const Tfplugin6__ValidateProviderConfig__Request *req = (const void *)msg;
    Tfplugin6__ValidateProviderConfig__Response *r =
        SF_ARENA_NEW(&rpc->arena, Tfplugin6__ValidateProviderConfig__Response);
    tfplugin6__validate_provider_config__response__init(r);
    sf_diags diags;
    sf_diags_init(&diags);
    sf_value *config = sf_wire_decode(req->config, rpc->rt->provider_type, "provider configuration", &diags);
    if (config) {
        sf_schema_validate(rpc->rt->def->schema, config, "", &diags);
        if (rpc->rt->def->validate) rpc->rt->def->validate(&rpc->call, config, &diags);
    }
    sf_wire_diags(&rpc->arena, &diags, &r->n_diagnostics, &r->diagnostics);
    sf_value_free(config);
    sf_diags_clear(&diags);
    return &r->base;
}

static ProtobufCMessage *configure_provider(sf_rpc *rpc, const ProtobufCMessage *msg)
{
    const Tfplugin6__ConfigureProvider__Request *req = (const void *)msg;
    sf_runtime *rt = rpc->rt;
    Tfplugin6__ConfigureProvider__Response *r = SF_ARENA_NEW(&rpc->arena, Tfplugin6__ConfigureProvider__Response);
    tfplugin6__configure_provider__response__init(r);
    sf_diags diags;
    sf_diags_init(&diags);
    sf_log(rpc->ctx, SF_LOG_INFO, "configuring provider for Terraform %s",
           req->terraform_version ? req->terraform_version : "?");
    sf_value *config = sf_wire_decode(req->config, rt->provider_type, "provider configuration", &diags);
    if (config) {
        void *data = rt->def->configure ? rt->def->configure(&rpc->call, config, &diags) : NULL;
        pthread_mutex_lock(&rt->lock);
        if (rt->configured && rt->def->free_data) rt->def->free_data(rt->provider_data);
        rt->provider_data = data;
        rt->configured = !sf_diags_has_error(&diags);
        pthread_mutex_unlock(&rt->lock);
    }
    sf_wire_diags(&rpc->arena, &diags, &r->n_diagnostics, &r->diagnostics);
    sf_value_free(config);
    sf_diags_clear(&diags);
    return &r->base;
}

/* Ctrl-C: every wait in flight returns promptly; so does every later one. */
static ProtobufCMessage *stop_provider(sf_rpc *rpc, const ProtobufCMessage *msg)
{
    (void)msg;
    sf_log(rpc->ctx, SF_LOG_INFO, "StopProvider: cancelling operations in flight");
    sf_ctx_cancel(rpc->rt->root);
    Tfplugin6__StopProvider__Response *r = SF_ARENA_NEW(&rpc->arena, Tfplugin6__StopProvider__Response);
    tfplugin6__stop_provider__response__init(r);
    r->error = sf_arena_strdup(&rpc->arena, "");
    return &r->base;
}

/* ---- Features not offered: an error diagnostic, never a crash. ---------- */

static void not_offered(sf_rpc *rpc, const char *what, size_t *n, Tfplugin6__Diagnostic ***out)
{
    sf_diags diags;
    sf_diags_init(&diags);
    const char *name = rpc->rt->def->name;
    sf_diag_error(&diags, NULL, sf_arena_keep(&rpc->arena, sf_fmt("Not supported by the %s provider", name)),
                  "The provider %s offers no %s. It manages resources only: see the provider's "
                  "documentation for what it supports.",
                  name, what);
    sf_wire_diags(&rpc->arena, &diags, n, out);
    sf_diags_clear(&diags);
}

#define NOT_OFFERED(fn, Type, init, what)                                 \
    static ProtobufCMessage *fn(sf_rpc *rpc, const ProtobufCMessage *msg) \
    {                                                                     \
        (void)msg;                                                        \
        Type *r = SF_ARENA_NEW(&rpc->arena, Type);                        \
        init(r);                                                          \
        not_offered(rpc, what, &r->n_diagnostics, &r->diagnostics);       \
        return &r->base;                                                  \
    }

NOT_OFFERED(validate_data_source, Tfplugin6__ValidateDataResourceConfig__Response,
            tfplugin6__validate_data_resource_config__response__init, "data sources")
NOT_OFFERED(read_data_source, Tfplugin6__ReadDataSource__Response, tfplugin6__read_data_source__response__init,
            "data sources")
NOT_OFFERED(move_resource_state, Tfplugin6__MoveResourceState__Response, tfplugin6__move_resource_state__response__init,
            "moves between resource types")
NOT_OFFERED(validate_ephemeral, Tfplugin6__ValidateEphemeralResourceConfig__Response,
            tfplugin6__validate_ephemeral_resource_config__response__init, "ephemeral resources")
NOT_OFFERED(open_ephemeral, Tfplugin6__OpenEphemeralResource__Response,
            tfplugin6__open_ephemeral_resource__response__init, "ephemeral resources")
NOT_OFFERED(renew_ephemeral, Tfplugin6__RenewEphemeralResource__Response,
            tfplugin6__renew_ephemeral_resource__response__init, "ephemeral resources")
NOT_OFFERED(close_ephemeral, Tfplugin6__CloseEphemeralResource__Response,
            tfplugin6__close_ephemeral_resource__response__init, "ephemeral resources")

static ProtobufCMessage *call_function(sf_rpc *rpc, const ProtobufCMessage *msg)
{
    (void)msg;
    Tfplugin6__CallFunction__Response *r = SF_ARENA_NEW(&rpc->arena, Tfplugin6__CallFunction__Response);
    tfplugin6__call_function__response__init(r);
    r->error = SF_ARENA_NEW(&rpc->arena, Tfplugin6__FunctionError);
    tfplugin6__function_error__init(r->error);
    r->error->text = sf_arena_keep(&rpc->arena, sf_fmt("The %s provider offers no functions.", rpc->rt->def->name));
    return &r->base;
}

const sf_rpc_method sf_rpc_provider_methods[] = {
    {"ValidateProviderConfig", &tfplugin6__validate_provider_config__request__descriptor, validate_provider_config},
    {"ConfigureProvider", &tfplugin6__configure_provider__request__descriptor, configure_provider},
    {"StopProvider", &tfplugin6__stop_provider__request__descriptor, stop_provider},
    {"ValidateDataResourceConfig", &tfplugin6__validate_data_resource_config__request__descriptor,
     validate_data_source},
    {"ReadDataSource", &tfplugin6__read_data_source__request__descriptor, read_data_source},
    {"MoveResourceState", &tfplugin6__move_resource_state__request__descriptor, move_resource_state},
    {"ValidateEphemeralResourceConfig", &tfplugin6__validate_ephemeral_resource_config__request__descriptor,
     validate_ephemeral},
    {"OpenEphemeralResource", &tfplugin6__open_ephemeral_resource__request__descriptor, open_ephemeral},
    {"RenewEphemeralResource", &tfplugin6__renew_ephemeral_resource__request__descriptor, renew_ephemeral},
    {"CloseEphemeralResource", &tfplugin6__close_ephemeral_resource__request__descriptor, close_ephemeral},
    {"CallFunction", &tfplugin6__call_function__request__descriptor, call_function},
    {NULL, NULL, NULL},
};
