/* server.h -- the go-plugin transport: handshake, AutoMTLS and a gRPC C-core
 * server that hands every unary call of one service to an application
 * handler running on its own thread.  Nothing here knows tfplugin6 semantics. */
#ifndef SF_SERVER_H
#define SF_SERVER_H

#include <stddef.h>

typedef struct sf_server sf_server;

/* A unary handler: runs on its own thread (may block for minutes).  Returns a
 * grpc_status_code (0 OK); on OK *resp and *resp_len hold a malloc'd serialized
 * response (may be empty: *resp NULL, *resp_len 0); else *status_msg may hold a
 * malloc'd message.  The server frees *resp and *status_msg. */
typedef int (*sf_unary_handler)(void *app, const char *method /* e.g. "/tfplugin6.Provider/PlanResourceChange" */,
                                const void *req, size_t req_len, void **resp, size_t *resp_len, char **status_msg);

typedef struct sf_server_options {
    const char *service; /* "tfplugin6.Provider": methods under it go to `handle` */
    sf_unary_handler handle;
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
