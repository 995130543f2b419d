/* rpc_action.c — provider-defined actions over the protocol (Terraform
 * 1.14+): ValidateActionConfig, PlanAction and the server-streaming
 * InvokeAction.
 *
 * What Terraform (internal/plugin6) does with them:
 * - It learns which actions exist from GetProviderSchema's action_schemas
 *   (rpc_schema.c); each schema is the `config { ... }` block of an
 *   `action "type" "name" {}` block, and Terraform sends only its value.
 * - ValidateActionConfig at validate time (values may be unknown),
 *   PlanAction when the action is planned (config may still hold unknowns
 *   when triggered from a resource's lifecycle), InvokeAction at apply.
 * - It prints each Progress event and ends at the Completed event, whose
 *   error diagnostics fail the command.
 * So: validation in the first two; in InvokeAction, progress events then one
 * Completed event with every diagnostic (a request error included); the
 * call itself ends OK.  Older clients never call these methods.
 */
#include <stdlib.h>
#include <string.h>

#include "provider/action.h"
#include "provider/wire.h"

enum { GRPC_OK = 0 };

static const sf_runtime_action *find_action(sf_rpc *rpc, const char *name, sf_diags *diags)
{
    const sf_runtime_action *act = sf_runtime_action_find(rpc->rt, name);
    if (!act)
        sf_diag_error(diags, NULL, "Unknown action type", "The provider %s has no action \"%s\".", rpc->rt->def->name,
                      name ? name : "");
    return act;
}

/* The config block's value, checked: NULL with diagnostics.  A null config
 * (no `config {}` written) is an object of nulls. */
static sf_value *config_of(sf_rpc *rpc, const sf_runtime_action *act, const Tfplugin6__DynamicValue *dv,
                           sf_diags *diags)
{
    sf_value *config = sf_wire_decode(dv, act->config_type, "action configuration", diags);
    if (!config) return NULL;
    if (sf_value_is_null(config)) {
        sf_value_free(config);
        config = sf_value_object();
        for (size_t i = 0; i < act->config_type->n; i++)
            sf_value_put(config, act->config_type->names[i], sf_value_null());
    }
    if (sf_value_is_unknown(config)) return config; /* nothing to check yet */
    sf_schema_validate(act->def->schema, config, "", diags);
    if (act->def->validate) act->def->validate(&rpc->call, config, diags);
    return config;
}

/* Validate (and Plan): diagnostics only. */
static void check(sf_rpc *rpc, const char *type, const Tfplugin6__DynamicValue *dv, sf_diags *diags)
{
    const sf_runtime_action *act = find_action(rpc, type, diags);
    if (act) sf_value_free(config_of(rpc, act, dv, diags));
}

static ProtobufCMessage *validate_action_config(sf_rpc *rpc, const ProtobufCMessage *msg)
{
    const Tfplugin6__ValidateActionConfig__Request *req = (const void *)msg;
    Tfplugin6__ValidateActionConfig__Response *r = SF_ARENA_NEW(&rpc->arena, Tfplugin6__ValidateActionConfig__Response);
    tfplugin6__validate_action_config__response__init(r);
    sf_diags diags;
    sf_diags_init(&diags);
    check(rpc, req->type_name, req->config, &diags);
    sf_wire_diags(&rpc->arena, &diags, &r->n_diagnostics, &r->diagnostics);
    sf_diags_clear(&diags);
    return &r->base;
}

static ProtobufCMessage *plan_action(sf_rpc *rpc, const ProtobufCMessage *msg)
{
    const Tfplugin6__PlanAction__Request *req = (const void *)msg;
    Tfplugin6__PlanAction__Response *r = SF_ARENA_NEW(&rpc->arena, Tfplugin6__PlanAction__Response);
    tfplugin6__plan_action__response__init(r);
    sf_diags diags;
    sf_diags_init(&diags);
    check(rpc, req->action_type, req->config, &diags);
    sf_wire_diags(&rpc->arena, &diags, &r->n_diagnostics, &r->diagnostics);
    sf_diags_clear(&diags);
    return &r->base;
}

static int invoke_action(sf_rpc *rpc, const ProtobufCMessage *msg, char **status_msg)
{
    (void)status_msg;
    const Tfplugin6__InvokeAction__Request *req = (const void *)msg;
    sf_diags diags;
    sf_diags_init(&diags);
    const sf_runtime_action *act = find_action(rpc, req->action_type, &diags);
    sf_value *config = act ? config_of(rpc, act, req->config, &diags) : NULL;
    if (config && !sf_diags_has_error(&diags) && !sf_value_is_wholly_known(config))
        sf_diag_error(&diags, NULL, "Invalid request from Terraform",
                      "The configuration of action %s holds unknown values at invoke time. Terraform does not send "
                      "such requests.",
                      act->def->name);
    sf_action_progress progress;
    sf_action_progress_init(&progress, rpc, act ? act->def->name : "?");
    if (config && !sf_diags_has_error(&diags)) {
        sf_log(rpc->ctx, SF_LOG_DEBUG, "InvokeAction %s", act->def->name);
        act->def->invoke(&rpc->call, config, &progress, &diags);
    }
    if (!progress.gone) sf_action_send_completed(rpc, &diags);
    sf_action_progress_clear(&progress);
    sf_value_free(config);
    sf_diags_clear(&diags);
    return GRPC_OK;
}

const sf_rpc_method sf_rpc_action_methods[] = {
    {"ValidateActionConfig", &tfplugin6__validate_action_config__request__descriptor, validate_action_config},
    {"PlanAction", &tfplugin6__plan_action__request__descriptor, plan_action},
    {NULL, NULL, NULL},
};

const sf_rpc_stream_method sf_rpc_action_stream_methods[] = {
    {"InvokeAction", &tfplugin6__invoke_action__request__descriptor, invoke_action},
    {NULL, NULL, NULL},
};
