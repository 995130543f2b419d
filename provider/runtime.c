/* runtime.c — the provider server: owns the runtime state and routes each
 * tfplugin6 call to its handler.
 *
 * The transport (server.c) calls `handle` (or `handle_stream` for the
 * server-streaming ListResource and InvokeAction) on a thread of its own per call;
 * here the request is unpacked, given an arena and a context (a child of the
 * root that StopProvider cancels), handled, packed and released.
 */
#include "provider/runtime.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "provider/identity.h"
#include "provider/server.h"

static const sf_rpc_method *const method_tables[] = {
    sf_rpc_schema_methods,   sf_rpc_provider_methods, sf_rpc_resource_methods,
    sf_rpc_identity_methods, sf_rpc_list_methods,     sf_rpc_action_methods,
};

static const sf_rpc_stream_method *const stream_tables[] = {
    sf_rpc_list_stream_methods,
    sf_rpc_action_stream_methods,
};

enum { GRPC_OK = 0, GRPC_INVALID_ARGUMENT = 3, GRPC_UNIMPLEMENTED = 12, GRPC_INTERNAL = 13 };

const sf_runtime_resource *sf_runtime_resource_find(const sf_runtime *rt, const char *name)
{
    for (size_t i = 0; name && i < rt->n_resources; i++)
        if (strcmp(rt->resources[i].def->name, name) == 0) return &rt->resources[i];
    return NULL;
}

const sf_runtime_action *sf_runtime_action_find(const sf_runtime *rt, const char *name)
{
    for (size_t i = 0; name && i < rt->n_actions; i++)
        if (strcmp(rt->actions[i].def->name, name) == 0) return &rt->actions[i];
    return NULL;
}

const sf_runtime_list *sf_runtime_list_find(const sf_runtime *rt, const char *name)
{
    for (size_t i = 0; name && i < rt->n_lists; i++)
        if (strcmp(rt->lists[i].def->name, name) == 0) return &rt->lists[i];
    return NULL;
}

static const char *short_name(const char *full)
{
    const char *name = strrchr(full, '/');
    return name ? name + 1 : full;
}

static const sf_rpc_method *find_method(const char *full)
{
    const char *name = short_name(full);
    for (size_t t = 0; t < sizeof method_tables / sizeof *method_tables; t++)
        for (const sf_rpc_method *m = method_tables[t]; m->name; m++)
            if (strcmp(m->name, name) == 0) return m;
    return NULL;
}

static const sf_rpc_stream_method *find_stream_method(const char *full)
{
    const char *name = short_name(full);
    for (size_t t = 0; t < sizeof stream_tables / sizeof *stream_tables; t++)
        for (const sf_rpc_stream_method *m = stream_tables[t]; m->name; m++)
            if (strcmp(m->name, name) == 0) return m;
    return NULL;
}

/* A new RPC: a child context of the root and the provider data as now. */
static void rpc_begin(sf_rpc *rpc, sf_runtime *rt)
{
    *rpc = (sf_rpc){.rt = rt, .ctx = sf_ctx_new_child(rt->root)};
    pthread_mutex_lock(&rt->lock);
    rpc->call = (sf_call){.ctx = rpc->ctx, .provider_data = rt->provider_data};
    pthread_mutex_unlock(&rt->lock);
}

static void rpc_end(sf_rpc *rpc)
{
    sf_arena_free(&rpc->arena);
    sf_ctx_free(rpc->ctx);
}

int sf_rpc_send(sf_rpc *rpc, const ProtobufCMessage *msg)
{
    assert(rpc->send);
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) abort();
    protobuf_c_message_pack(msg, buf);
    int rc = rpc->send(rpc->sink, buf, len);
    free(buf);
    return rc;
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
    sf_rpc rpc;
    rpc_begin(&rpc, rt);
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
    rpc_end(&rpc);
    return status;
}

bool sf_runtime_is_stream(void *app, const char *method)
{
    (void)app;
    return find_stream_method(method) != NULL;
}

int sf_runtime_handle_stream_to(void *app, const char *method, const void *req, size_t req_len, sf_rpc_send_fn send,
                                void *sink, char **status_msg)
{
    sf_runtime *rt = app;
    const sf_rpc_stream_method *m = find_stream_method(method);
    if (!m) {
        *status_msg = sf_strdup("method not offered by this provider");
        return GRPC_UNIMPLEMENTED;
    }
    ProtobufCMessage *in = protobuf_c_message_unpack(m->request, NULL, req_len, req);
    if (!in) {
        *status_msg = sf_strdup("malformed request message");
        return GRPC_INVALID_ARGUMENT;
    }
    sf_rpc rpc;
    rpc_begin(&rpc, rt);
    rpc.send = send;
    rpc.sink = sink;
    int64_t started = sf_time_mono_ms();
    sf_log(rpc.ctx, SF_LOG_DEBUG, "%s: start", m->name);
    int status = m->handle(&rpc, in, status_msg);
    sf_log(rpc.ctx, SF_LOG_DEBUG, "%s: done in %lld ms", m->name, (long long)(sf_time_mono_ms() - started));
    protobuf_c_message_free_unpacked(in, NULL);
    rpc_end(&rpc);
    return status;
}

static int stream_send(void *sink, const void *msg, size_t len)
{
    return sf_stream_send(sink, msg, len);
}

static int handle_stream(void *app, const char *method, const void *req, size_t req_len, sf_stream *out,
                         char **status_msg)
{
    return sf_runtime_handle_stream_to(app, method, req, req_len, stream_send, out, status_msg);
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
    while (def->list_resources && def->list_resources[rt->n_lists]) rt->n_lists++;
    rt->lists = calloc(rt->n_lists ? rt->n_lists : 1, sizeof *rt->lists);
    if (!rt->lists) abort();
    for (size_t i = 0; i < rt->n_lists; i++) {
        rt->lists[i].def = def->list_resources[i];
        rt->lists[i].config_type = sf_schema_type(def->list_resources[i]->schema);
        rt->lists[i].listed = sf_runtime_resource_find(rt, def->list_resources[i]->name);
        /* Terraform refuses a list resource without a managed type of the
         * same name with an identity: a declaration error. */
        assert(rt->lists[i].listed && rt->lists[i].listed->identity_type);
    }
    while (def->actions && def->actions[rt->n_actions]) rt->n_actions++;
    rt->actions = calloc(rt->n_actions ? rt->n_actions : 1, sizeof *rt->actions);
    if (!rt->actions) abort();
    for (size_t i = 0; i < rt->n_actions; i++) {
        rt->actions[i].def = def->actions[i];
        rt->actions[i].config_type = sf_schema_type(def->actions[i]->schema);
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
    for (size_t i = 0; i < rt->n_lists; i++) sf_type_free(rt->lists[i].config_type);
    free(rt->lists);
    for (size_t i = 0; i < rt->n_actions; i++) sf_type_free(rt->actions[i].config_type);
    free(rt->actions);
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
        .is_stream = sf_runtime_is_stream,
        .handle_stream = handle_stream,
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
