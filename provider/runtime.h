/* runtime.h — the provider server's own state, shared by the RPC handlers.
 *
 * One sf_runtime exists per plugin process.  It is the only mutable state
 * outside a single RPC: the provider definition, the derived types, the
 * configured provider data, and the root context that StopProvider cancels.
 */
#ifndef SF_RUNTIME_H
#define SF_RUNTIME_H

#include <pthread.h>
#include <protobuf-c/protobuf-c.h>

#include "base/arena.h"
#include "provider/resource.h"

typedef struct sf_runtime_resource {
    const sf_resource_type *def;
    sf_type *type;          /* object type of its schema */
    sf_type *identity_type; /* object type of its identity; NULL: none */
} sf_runtime_resource;

/* A list resource and the managed resource type it lists. */
typedef struct sf_runtime_list {
    const sf_list_resource_type *def;
    sf_type *config_type;              /* object type of its config block */
    const sf_runtime_resource *listed; /* the resource type of that name */
} sf_runtime_list;

/* An action and its config type. */
typedef struct sf_runtime_action {
    const sf_action_type *def;
    sf_type *config_type;
} sf_runtime_action;

typedef struct sf_runtime {
    const sf_provider_def *def;
    sf_type *provider_type;
    sf_runtime_resource *resources;
    size_t n_resources;
    sf_runtime_list *lists;
    size_t n_lists;
    sf_runtime_action *actions;
    size_t n_actions;
    sf_ctx *root;         /* cancelled by StopProvider and shutdown */
    pthread_mutex_t lock; /* guards the fields below */
    void *provider_data;
    bool configured;
    uint64_t *refreshed; /* digests of states ReadResource returned */
    size_t n_refreshed, cap_refreshed;
} sf_runtime;

/* Where a streaming RPC's messages go: sf_stream_send in the server, a
 * collector in tests.  Returns 0, or -1 once the client is gone. */
typedef int (*sf_rpc_send_fn)(void *sink, const void *msg, size_t len);

/* One RPC in flight: its arena, context and the call handed to resources;
 * a streaming one also where its messages go. */
typedef struct sf_rpc {
    sf_runtime *rt;
    sf_arena arena;
    sf_ctx *ctx;
    sf_call call;
    sf_rpc_send_fn send; /* NULL for a unary RPC */
    void *sink;
} sf_rpc;

/* Send one message of a streaming RPC (packed here).  Returns 0, or -1
 * once the client is gone. */
int sf_rpc_send(sf_rpc *rpc, const ProtobufCMessage *msg);

const sf_runtime_action *sf_runtime_action_find(const sf_runtime *rt, const char *name);
const sf_runtime_list *sf_runtime_list_find(const sf_runtime *rt, const char *name);

/* Remember a state this process's ReadResource returned (its msgpack
 * bytes); ask later whether a prior state is one of them (refresh_memo.c). */
void sf_runtime_note_refreshed(sf_runtime *rt, const char *type_name, const uint8_t *bytes, size_t len);
bool sf_runtime_was_refreshed(sf_runtime *rt, const char *type_name, const uint8_t *bytes, size_t len);

const sf_runtime_resource *sf_runtime_resource_find(const sf_runtime *rt, const char *name);

/* A handler returns the response message (arena-owned) or NULL with a gRPC
 * status in *status and a message in *status_msg (malloc'd). */
typedef ProtobufCMessage *(*sf_rpc_fn)(sf_rpc *rpc, const ProtobufCMessage *req);

typedef struct sf_rpc_method {
    const char *name;                          /* "PlanResourceChange" */
    const ProtobufCMessageDescriptor *request; /* how to unpack */
    sf_rpc_fn handle;
} sf_rpc_method;

/* A server-streaming method: sends its messages with sf_rpc_send and
 * returns the call's gRPC status (0; else *status_msg malloc'd). */
typedef int (*sf_rpc_stream_fn)(sf_rpc *rpc, const ProtobufCMessage *req, char **status_msg);

typedef struct sf_rpc_stream_method {
    const char *name;
    const ProtobufCMessageDescriptor *request;
    sf_rpc_stream_fn handle;
} sf_rpc_stream_method;

/* The handler tables of each rpc_*.c file, NULL-name terminated. */
extern const sf_rpc_stream_method sf_rpc_list_stream_methods[];
extern const sf_rpc_method sf_rpc_list_methods[];
extern const sf_rpc_stream_method sf_rpc_action_stream_methods[];
extern const sf_rpc_method sf_rpc_action_methods[];
extern const sf_rpc_method sf_rpc_schema_methods[];
extern const sf_rpc_method sf_rpc_provider_methods[];
extern const sf_rpc_method sf_rpc_resource_methods[];
extern const sf_rpc_method sf_rpc_identity_methods[];

/* The runtime without the transport, for sf_provider_serve and for tests
 * that drive RPCs in-process: init (can't fail), handle one call by its
 * method name ("/tfplugin6.Provider/X" or "X") and packed request, giving
 * a malloc'd packed response and a gRPC status (0, or an error with
 * *status_msg malloc'd), and clear. */
void sf_runtime_init(sf_runtime *rt, const sf_provider_def *def);
int sf_runtime_handle(void *rt, const char *method, const void *req, size_t req_len, void **resp, size_t *resp_len,
                      char **status_msg);
void sf_runtime_clear(sf_runtime *rt);

/* The streaming side, same contract: is_stream says which methods stream;
 * handle_stream_to runs one, handing each packed message to send(sink, ...)
 * (the server's handle_stream is this with sf_stream_send). */
bool sf_runtime_is_stream(void *rt, const char *method);
int sf_runtime_handle_stream_to(void *rt, const char *method, const void *req, size_t req_len, sf_rpc_send_fn send,
                                void *sink, char **status_msg);

#endif
