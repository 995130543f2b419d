/* runtime.c — the provider server: owns the runtime state and routes each
 * tfplugin6 call to its handler.
 *
 * The transport (server.c) calls `handle` on a thread of its own per call;
 * here the request is unpacked, given an arena and a context (a child of the
 * root that StopProvider cancels), handled, packed and released.
 */
#include "provider/runtime.h"

#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "provider/identity.h"
#include "provider/server.h"

static const sf_rpc_method *const method_tables[] = {
    sf_rpc_schema_methods,
    sf_rpc_provider_methods,
    sf_rpc_resource_methods,
    sf_rpc_identity_methods,
};

enum { GRPC_OK = 0, GRPC_INVALID_ARGUMENT = 3, GRPC_UNIMPLEMENTED = 12, GRPC_INTERNAL = 13 };

const sf_runtime_resource *sf_runtime_resource_find(const sf_runtime *rt, const char *name)
{
    for (size_t i = 0; name && i < rt->n_resources; i++)
        if (strcmp(rt->resources[i].def->name, name) == 0) return &rt->resources[i];
    return NULL;
}

static const sf_rpc_method *find_method(const char *full)
{
    const char *name = strrchr(full, '/');
    name = name ? name + 1 : full;
    for (size_t t = 0; t < sizeof method_tables / sizeof *method_tables; t++)
        for (const sf_rpc_method *m = method_tables[t]; m->name; m++)
            if (strcmp(m->name, name) == 0) return m;
    return NULL;
}

int sf_runtime_handle(void *app, const char *method, const void *req, size_t req_len, void **resp, size_t *resp_len,
                      char **status_msg)
{
    sf_runtime *rt = app;
    const sf_rpc_method *m = find_method(method);
    if (!m) {
        sf_log(rt->root, SF_LOG_DEBUG, "unimplemented method %s", method);
        *status_msg = sf_strdup("method not offered by this provider");
        return GRPC_UNIMPLEMENTED;
    }
    ProtobufCMessage *in = protobuf_c_message_unpack(m->request, NULL, req_len, req);
    if (!in) {
        *status_msg = sf_strdup("malformed request message");
        return GRPC_INVALID_ARGUMENT;
    }
    sf_rpc rpc = {.rt = rt, .ctx = sf_ctx_new_child(rt->root)};
    pthread_mutex_lock(&rt->lock);
    rpc.call = (sf_call){.ctx = rpc.ctx, .provider_data = rt->provider_data};
    pthread_mutex_unlock(&rt->lock);
    int64_t started = sf_time_mono_ms();
    sf_log(rpc.ctx, SF_LOG_DEBUG, "%s: start", m->name);
    ProtobufCMessage *out = m->handle(&rpc, in);
    sf_log(rpc.ctx, SF_LOG_DEBUG, "%s: done in %lld ms", m->name, (long long)(sf_time_mono_ms() - started));
    int status = GRPC_OK;
    if (out) {
        *resp_len = protobuf_c_message_get_packed_size(out);
        *resp = malloc(*resp_len ? *resp_len : 1);
        if (!*resp) abort();
        protobuf_c_message_pack(out, *resp);
    } else {
        *status_msg = sf_strdup("internal error");
        status = GRPC_INTERNAL;
    }
    protobuf_c_message_free_unpacked(in, NULL);
    sf_arena_free(&rpc.arena);
    sf_ctx_free(rpc.ctx);
    return status;
}

static void on_shutdown(void *app)
{
    sf_runtime *rt = app;
    sf_ctx_cancel(rt->root);
}

void sf_runtime_init(sf_runtime *rt, const sf_provider_def *def)
{
    memset(rt, 0, sizeof *rt);
    rt->def = def;
    rt->provider_type = sf_schema_type(def->schema);
    while (def->resources[rt->n_resources]) rt->n_resources++;
    rt->resources = calloc(rt->n_resources ? rt->n_resources : 1, sizeof *rt->resources);
    if (!rt->resources) abort();
    for (size_t i = 0; i < rt->n_resources; i++) {
        rt->resources[i].def = def->resources[i];
        rt->resources[i].type = sf_schema_type(def->resources[i]->schema);
        if (def->resources[i]->identity) rt->resources[i].identity_type = sf_identity_type(def->resources[i]->identity);
    }
    rt->root = sf_ctx_new_named_root(sf_log_level_from_env(), def->name);
    pthread_mutex_init(&rt->lock, NULL);
}

void sf_runtime_clear(sf_runtime *rt)
{
    if (rt->configured && rt->def->free_data) rt->def->free_data(rt->provider_data);
    for (size_t i = 0; i < rt->n_resources; i++) {
        sf_type_free(rt->resources[i].type);
        sf_type_free(rt->resources[i].identity_type);
    }
    free(rt->resources);
    sf_type_free(rt->provider_type);
    sf_ctx_free(rt->root);
    free(rt->refreshed);
    pthread_mutex_destroy(&rt->lock);
}

int sf_provider_serve(const sf_provider_def *def, int argc, char **argv)
{
    sf_runtime rt;
    sf_runtime_init(&rt, def);
    sf_server_options opts = {
        .service = "tfplugin6.Provider",
        .handle = sf_runtime_handle,
        .app = &rt,
        .on_shutdown = on_shutdown,
        .name = def->name,
        .display_name = def->display_name,
        .registry_address = def->registry_address,
    };
    int rc = sf_server_main(&opts, argc, argv);
    sf_runtime_clear(&rt);
    return rc;
}
