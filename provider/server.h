/* server.h -- the go-plugin transport: handshake, AutoMTLS and a gRPC C-core
 * server that hands every call of one service (unary, or server-streaming)
 * to an application handler running on its own thread.  Nothing here knows tfplugin6 semantics. */
#ifndef SF_SERVER_H
#define SF_SERVER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct sf_server sf_server;

/* A unary handler: runs on its own thread (may block for minutes).  Returns a
 * grpc_status_code (0 OK); on OK *resp and *resp_len hold a malloc'd serialized
 * response (may be empty: *resp NULL, *resp_len 0); else *status_msg may hold a
 * malloc'd message.  The server frees *resp and *status_msg. */
typedef int (*sf_unary_handler)(void *app, const char *method /* e.g. "/tfplugin6.Provider/PlanResourceChange" */,
                                const void *req, size_t req_len, void **resp, size_t *resp_len, char **status_msg);

/* A server-streaming call in progress (ListResource, InvokeAction). */
typedef struct sf_stream sf_stream;

/* Send one message of a stream (serialized; copied).  Blocks until gRPC has
 * taken it.  Returns 0, or -1 once the client is gone (stop sending: the
 * call's status is not delivered either). */
int sf_stream_send(sf_stream *stream, const void *msg, size_t len);

/* A server-streaming handler: like sf_unary_handler, but it sends its
 * messages with sf_stream_send (none is fine) and returns the call's final
 * status (and *status_msg) after them. */
typedef int (*sf_stream_handler)(void *app, const char *method, const void *req, size_t req_len, sf_stream *out,
                                 char **status_msg);

typedef struct sf_server_options {
    const char *service; /* "tfplugin6.Provider": methods under it go to `handle` */
    sf_unary_handler handle;
    /* Methods of `service` for which is_stream says true go to handle_stream
     * instead (both may be NULL: unary only). */
    bool (*is_stream)(void *app, const char *method);
    sf_stream_handler handle_stream;
    void *app;
    void (*on_shutdown)(void *app); /* called once when shutdown starts (Controller/Shutdown,
                                       SIGTERM) so the app cancels in-flight work; runs on the
                                       server's event thread, so it must not block; may be NULL */
    /* Who the plugin is (each may be NULL): */
    const char *name;             /* "sparkflow": log module "<name>.server", socket
                                     directory "<name>-plugin-..."; NULL: "plugin" */
    const char *display_name;     /* "SparkFlow": in messages for a person; NULL: name */
    const char *registry_address; /* "registry.terraform.io/sparkflow/sparkflow": the key
                                     of -debug's reattach line; NULL: -debug is refused */
} sf_server_options;

/* Runs the whole plugin life: handshake from the environment (argv may hold
 * -debug), TLS, serve until shutdown.  Returns the process exit code: 0 after
 * an orderly shutdown, 1 when started outside Terraform or on a setup error
 * (a message has been written to stderr).
 * Call it before the process starts any thread: it blocks SIGTERM (SIGINT too
 * in -debug) for every thread created afterwards and takes it through a
 * signalfd; outside -debug SIGINT is ignored.  Children spawned later inherit
 * that mask and disposition: reset them (posix_spawnattr_setsigmask /
 * setsigdefault) when spawning.  Waits for running handlers before returning. */
int sf_server_main(const sf_server_options *opts, int argc, char **argv);

#endif
