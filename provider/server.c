/* server.c — the plugin process: handshake, AutoMTLS, and a gRPC C-core
 * server that routes every call to a small state machine.
 *
 * One thread (the caller of sf_server_main) owns the completion queue and
 * only routes events.  Each call of the application's service runs its
 * handler on a thread of its own (unary, or server-streaming: the handler
 * sends its messages one by one with sf_stream_send), because Terraform runs up to ten operations
 * at once and StopProvider must get through while others block for minutes.
 * The go-plugin services (broker, controller, stdio) and health are answered
 * on the queue thread: they never block.
 *
 * Every completion-queue tag is an sf_tag whose function knows what the
 * event means; a call is freed once no batch of it is outstanding.
 */
#include "provider/server.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/log.h>

#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "proto/health.pb-c.h"
#include "provider/handshake.h"
#include "provider/tls.h"

#define MAX_MESSAGE (256 * 1024 * 1024) /* Terraform's own limit */
#define ACCEPTS 4                       /* grpc_server_request_call kept armed at once */
#define POLL_MS 100                     /* how often the queue thread looks at signals */
#define CANCEL_GRACE_MS 500             /* in-flight calls get this long before cancel_all */
#define GRPC_DRAIN_MS 3000              /* longest wait for gRPC's own last teardown */

/* ---- Logging (hclog JSON on stderr, only when asked for) ----------------- */

/* The server's own messages: debug or trace only, under "<name>.server". */
static void slog(const sf_server *s, sf_log_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* gRPC's own log (filtered by GRPC_VERBOSITY, default errors only), in the
 * same format so that Terraform files it under the right level.  gRPC's log
 * hook carries no context, so its lines name the library alone. */
static void grpc_log_to_hclog(gpr_log_func_args *args)
{
    sf_log_level level = args->severity == GPR_LOG_SEVERITY_ERROR  ? SF_LOG_ERROR
                         : args->severity == GPR_LOG_SEVERITY_INFO ? SF_LOG_INFO
                                                                   : SF_LOG_DEBUG;
    sf_log_write(level, "grpc", args->message);
}

#define LOGD(s, ...) slog((s), SF_LOG_DEBUG, __VA_ARGS__)
#define LOGT(s, ...) slog((s), SF_LOG_TRACE, __VA_ARGS__)

/* ---- Types --------------------------------------------------------------- */

typedef struct sf_tag sf_tag;
struct sf_tag {
    void (*fn)(sf_server *s, sf_tag *tag, bool ok);
    void *owner;
};

typedef enum {
    CALL_APP,           /* unary call of opts->service: handler thread */
    CALL_HEALTH,        /* grpc.health.v1.Health/Check */
    CALL_SHUTDOWN,      /* plugin.GRPCController/Shutdown */
    CALL_BROKER,        /* plugin.GRPCBroker/StartStream: bidi, ignored */
    CALL_STDIO,         /* plugin.GRPCStdio/StreamStdio: open until shutdown */
    CALL_UNIMPLEMENTED, /* anything else */
} call_kind;

typedef struct srv_call srv_call;
struct srv_call {
    sf_server *s;
    call_kind kind;
    grpc_call *call;
    char *method; /* gpr_malloc'd */
    int pending;  /* batches started and not yet completed */
    sf_tag recv_tag, reply_tag, close_tag, status_tag, meta_tag;

    grpc_byte_buffer *recv_buf; /* filled by RECV_MESSAGE */
    grpc_slice req;             /* the flattened request */
    bool have_req;

    grpc_byte_buffer *send_buf; /* reply, kept until the batch completes */
    grpc_slice status_details;
    bool have_details;
    int cancelled; /* RECV_CLOSE_ON_SERVER result */

    pthread_t thread; /* CALL_APP handler */
    bool has_thread;

    /* A server-streaming call: its handler thread sends one message at a
     * time and waits here until gRPC took it (sf_stream_send). */
    pthread_mutex_t send_mu;
    pthread_cond_t send_cv;
    bool streaming; /* its messages went with sf_stream_send: the reply is the status alone */
    bool send_done, send_ok, sent_metadata;
    sf_tag send_tag;

    bool closed;           /* streams: RECV_CLOSE_ON_SERVER completed */
    bool status_sent;      /* streams: SEND_STATUS started */
    srv_call *prev, *next; /* streams: the server's open-stream list */
};

typedef struct sf_accept {
    sf_tag tag;
    bool armed;
    grpc_call *call;
    grpc_call_details details;
    grpc_metadata_array md;
} sf_accept;

struct sf_server {
    const sf_server_options *opts;
    const char *name; /* opts->name, or "plugin" */
    char *log_module; /* "<name>.server" */
    sf_log_level log_level;
    sf_handshake hs;
    sf_tls_identity tls;
    sf_sockdir sock;

    grpc_completion_queue *cq;
    grpc_server *server;
    sf_accept accepts[ACCEPTS];
    int armed;         /* accepts armed */
    int live;          /* srv_call objects alive */
    srv_call *streams; /* open broker/stdio streams */

    int sigfd; /* signalfd for SIGTERM (and SIGINT in debug) */
    sigset_t sigs, old_mask;
    struct sigaction old_int;
    bool signals_set; /* old_mask is valid */
    bool int_ignored;

    bool shutting_down;
    bool shutdown_notified; /* grpc_server_shutdown_and_notify completed */
    bool cancelled_all;
    int64_t cancel_at_ms; /* sf_time_mono_ms clock */
    sf_tag shutdown_tag;
};

/* ---- Small helpers -------------------------------------------------------- */

/* How messages for a person name the plugin: "SparkFlow". */
static const char *display_name(const sf_server *s)
{
    return s->opts->display_name ? s->opts->display_name : s->name;
}

static void slog(const sf_server *s, sf_log_level level, const char *fmt, ...)
{
    if (level < s->log_level || level > SF_LOG_DEBUG) return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = sf_vfmt(fmt, ap);
    va_end(ap);
    sf_log_write(level, s->log_module, msg);
    free(msg);
}

static gpr_timespec deadline_ms(long ms)
{
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

static void start_batch(srv_call *c, const grpc_op *ops, size_t n, sf_tag *tag)
{
    c->pending++;
    grpc_call_error e = grpc_call_start_batch(c->call, ops, n, tag, NULL);
    /* Only a programming error (two ops of a kind in flight, a bad op for a
     * server call) makes this fail. */
    assert(e == GRPC_CALL_OK);
    (void)e;
}

/* ---- Calls ---------------------------------------------------------------- */

static void begin_shutdown(sf_server *s, const char *why);

static void stream_unlink(sf_server *s, srv_call *c)
{
    if (c->prev) c->prev->next = c->next;
    else if (s->streams == c) s->streams = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static void call_free(srv_call *c)
{
    sf_server *s = c->s;
    assert(c->pending == 0);
    stream_unlink(s, c);
    if (c->recv_buf) grpc_byte_buffer_destroy(c->recv_buf);
    if (c->have_req) grpc_slice_unref(c->req);
    if (c->send_buf) grpc_byte_buffer_destroy(c->send_buf);
    if (c->have_details) grpc_slice_unref(c->status_details);
    pthread_mutex_destroy(&c->send_mu);
    pthread_cond_destroy(&c->send_cv);
    grpc_call_unref(c->call);
    gpr_free(c->method);
    free(c);
    s->live--;
}

static void call_maybe_free(srv_call *c)
{
    if (c->pending == 0) call_free(c);
}

/* Reply to a unary call in one batch.  Takes ownership of resp (malloc'd)
 * and msg.  May run on a handler thread: after start_batch, c belongs to the
 * queue thread again and must not be touched. */
static void call_reply(srv_call *c, int status, void *resp, size_t resp_len, char *msg)
{
    grpc_op ops[4];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    if (!c->sent_metadata) ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (status == GRPC_STATUS_OK && !c->streaming) {
        assert(resp || resp_len == 0);
        grpc_slice slice = resp_len ? grpc_slice_new(resp, resp_len, free) : grpc_empty_slice();
        if (!resp_len) free(resp);
        c->send_buf = grpc_raw_byte_buffer_create(&slice, 1);
        grpc_slice_unref(slice);
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = c->send_buf;
    } else {
        free(resp);
    }
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = (grpc_status_code)status;
    if (msg) {
        c->status_details = grpc_slice_from_copied_string(msg);
        c->have_details = true;
        ops[n].data.send_status_from_server.status_details = &c->status_details;
        free(msg);
    }
    n++;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n++].data.recv_close_on_server.cancelled = &c->cancelled;
    start_batch(c, ops, n, &c->reply_tag);
}

static void on_reply_done(sf_server *s, sf_tag *tag, bool ok)
{
    srv_call *c = tag->owner;
    c->pending--;
    if (c->has_thread) {
        pthread_join(c->thread, NULL); /* it ended right after starting the batch */
        c->has_thread = false;
    }
    LOGT(s, "%s: reply %s%s", c->method, ok ? "sent" : "failed", c->cancelled ? " (cancelled by the client)" : "");
    bool shutdown = c->kind == CALL_SHUTDOWN;
    call_maybe_free(c);
    if (shutdown) begin_shutdown(s, "plugin.GRPCController/Shutdown");
}

static void *handler_main(void *arg)
{
    srv_call *c = arg;
    const sf_server_options *o = c->s->opts;
    void *resp = NULL;
    size_t resp_len = 0;
    char *msg = NULL;
    int status =
        o->handle(o->app, c->method, GRPC_SLICE_START_PTR(c->req), GRPC_SLICE_LENGTH(c->req), &resp, &resp_len, &msg);
    if (status < 0 || status > GRPC_STATUS_UNAUTHENTICATED) {
        free(msg);
        msg = sf_strdup("the provider returned an invalid gRPC status");
        status = GRPC_STATUS_INTERNAL;
    }
    call_reply(c, status, resp, resp_len, msg);
    return NULL;
}

/* ---- Server streaming -------------------------------------------------------- */

struct sf_stream {
    srv_call *call;
    bool failed; /* a send failed: the client is gone */
};

/* A message of a stream was taken by gRPC (or the call failed): wake the
 * handler waiting in sf_stream_send.  c is not freed here: its handler
 * thread still owns it until the final reply. */
static void on_stream_send_done(sf_server *s, sf_tag *tag, bool ok)
{
    (void)s;
    srv_call *c = tag->owner;
    c->pending--;
    pthread_mutex_lock(&c->send_mu);
    c->send_ok = ok;
    c->send_done = true;
    pthread_cond_signal(&c->send_cv);
    pthread_mutex_unlock(&c->send_mu);
}

int sf_stream_send(sf_stream *st, const void *msg, size_t len)
{
    if (st->failed) return -1;
    srv_call *c = st->call;
    grpc_slice slice = grpc_slice_from_copied_buffer(msg, len);
    grpc_byte_buffer *buf = grpc_raw_byte_buffer_create(&slice, 1);
    grpc_slice_unref(slice);
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    if (!c->sent_metadata) ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    c->sent_metadata = true;
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = buf;
    c->send_done = false;
    /* No other batch of c is outstanding, so the queue thread does not touch
     * c until this one completes. */
    start_batch(c, ops, n, &c->send_tag);
    pthread_mutex_lock(&c->send_mu);
    while (!c->send_done) pthread_cond_wait(&c->send_cv, &c->send_mu);
    bool ok = c->send_ok;
    pthread_mutex_unlock(&c->send_mu);
    grpc_byte_buffer_destroy(buf);
    if (!ok) st->failed = true;
    return ok ? 0 : -1;
}

static void *stream_handler_main(void *arg)
{
    srv_call *c = arg;
    const sf_server_options *o = c->s->opts;
    sf_stream st = {.call = c};
    char *msg = NULL;
    int status =
        o->handle_stream(o->app, c->method, GRPC_SLICE_START_PTR(c->req), GRPC_SLICE_LENGTH(c->req), &st, &msg);
    if (status < 0 || status > GRPC_STATUS_UNAUTHENTICATED) {
        free(msg);
        msg = sf_strdup("the provider returned an invalid gRPC status");
        status = GRPC_STATUS_INTERNAL;
    }
    call_reply(c, status, NULL, 0, msg); /* the status after the messages */
    return NULL;
}

/* grpc.health.v1.Health/Check: the server and service "plugin" are SERVING. */
static void answer_health(srv_call *c)
{
    Grpc__Health__V1__HealthCheckRequest *req =
        grpc__health__v1__health_check_request__unpack(NULL, GRPC_SLICE_LENGTH(c->req), GRPC_SLICE_START_PTR(c->req));
    if (!req) {
        call_reply(c, GRPC_STATUS_INVALID_ARGUMENT, NULL, 0, sf_strdup("cannot parse HealthCheckRequest"));
        return;
    }
    bool known = req->service[0] == '\0' || strcmp(req->service, "plugin") == 0;
    grpc__health__v1__health_check_request__free_unpacked(req, NULL);
    if (!known) {
        call_reply(c, GRPC_STATUS_NOT_FOUND, NULL, 0, sf_strdup("unknown service"));
        return;
    }
    Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    resp.status = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
    size_t len = grpc__health__v1__health_check_response__get_packed_size(&resp);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) abort();
    grpc__health__v1__health_check_response__pack(&resp, buf);
    call_reply(c, GRPC_STATUS_OK, buf, len, NULL);
}

/* Is `method` of the application's service a server-streaming one? */
static bool o_streams(const sf_server *s, const char *method)
{
    const sf_server_options *o = s->opts;
    return o->handle_stream && o->is_stream && o->is_stream(o->app, method);
}

/* The request of a call arrived (or the call failed first). */
static void on_unary_recv(sf_server *s, sf_tag *tag, bool ok)
{
    srv_call *c = tag->owner;
    c->pending--;
    if (!ok) { /* the client went away before sending its request */
        LOGT(s, "%s: call ended before its request arrived", c->method);
        call_maybe_free(c);
        return;
    }
    if (c->recv_buf) {
        grpc_byte_buffer_reader r;
        if (!grpc_byte_buffer_reader_init(&r, c->recv_buf)) {
            call_reply(c, GRPC_STATUS_INTERNAL, NULL, 0, sf_strdup("cannot read the request"));
            return;
        }
        c->req = grpc_byte_buffer_reader_readall(&r);
        grpc_byte_buffer_reader_destroy(&r);
        grpc_byte_buffer_destroy(c->recv_buf);
        c->recv_buf = NULL;
    } else {
        c->req = grpc_empty_slice(); /* half-closed without a message */
    }
    c->have_req = true;
    LOGT(s, "%s: request of %zu bytes", c->method, GRPC_SLICE_LENGTH(c->req));

    switch (c->kind) {
    case CALL_APP:
        if (s->shutting_down) {
            call_reply(c, GRPC_STATUS_UNAVAILABLE, NULL, 0, sf_strdup("the provider is shutting down"));
            break;
        }
        c->streaming = o_streams(s, c->method);
        if (pthread_create(&c->thread, NULL, c->streaming ? stream_handler_main : handler_main, c) == 0) {
            c->has_thread = true;
        } else {
            c->streaming = false;
            call_reply(c, GRPC_STATUS_RESOURCE_EXHAUSTED, NULL, 0, sf_strdup("cannot start a thread for the call"));
        }
        break;
    case CALL_HEALTH: answer_health(c); break;
    case CALL_SHUTDOWN:
        call_reply(c, GRPC_STATUS_OK, NULL, 0, NULL); /* plugin.Empty */
        break;
    default: assert(!"not a unary call");
    }
}

/* ---- Streams: broker and stdio --------------------------------------------- */

static void stream_end(srv_call *c)
{
    if (c->status_sent || c->closed) return;
    c->status_sent = true;
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    op.data.send_status_from_server.status = GRPC_STATUS_OK;
    start_batch(c, &op, 1, &c->status_tag);
}

static void stream_recv(srv_call *c)
{
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &c->recv_buf;
    start_batch(c, &op, 1, &c->recv_tag);
}

static void on_stream_op(sf_server *s, sf_tag *tag, bool ok)
{
    (void)s;
    (void)ok;
    srv_call *c = tag->owner;
    c->pending--;
    call_maybe_free(c);
}

static void on_stream_recv(sf_server *s, sf_tag *tag, bool ok)
{
    srv_call *c = tag->owner;
    c->pending--;
    bool got = ok && c->recv_buf;
    if (c->recv_buf) {
        grpc_byte_buffer_destroy(c->recv_buf); /* nothing to broker */
        c->recv_buf = NULL;
    }
    if (got && !c->closed && !c->status_sent) {
        stream_recv(c);
    } else if (ok && !got && c->kind == CALL_BROKER) {
        LOGT(s, "%s: client closed its side", c->method);
        stream_end(c); /* the client is done brokering */
    }
    call_maybe_free(c);
}

static void on_stream_closed(sf_server *s, sf_tag *tag, bool ok)
{
    (void)ok;
    srv_call *c = tag->owner;
    c->pending--;
    c->closed = true;
    stream_unlink(s, c);
    LOGT(s, "%s: stream closed%s", c->method, c->cancelled ? " (cancelled)" : "");
    call_maybe_free(c);
}

static void stream_start(sf_server *s, srv_call *c)
{
    c->next = s->streams;
    if (s->streams) s->streams->prev = c;
    s->streams = c;

    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[0].data.recv_close_on_server.cancelled = &c->cancelled;
    start_batch(c, ops, 1, &c->close_tag);
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    start_batch(c, ops, 1, &c->meta_tag);
    stream_recv(c);
    if (s->shutting_down) stream_end(c);
}

/* ---- Accepting calls --------------------------------------------------------- */

static call_kind route(const sf_server *s, const char *method)
{
    size_t n = strlen(s->opts->service);
    if (method[0] == '/' && strncmp(method + 1, s->opts->service, n) == 0 && method[n + 1] == '/' &&
        method[n + 2] != '\0')
        return CALL_APP;
    if (strcmp(method, "/grpc.health.v1.Health/Check") == 0) return CALL_HEALTH;
    if (strcmp(method, "/plugin.GRPCController/Shutdown") == 0) return CALL_SHUTDOWN;
    if (strcmp(method, "/plugin.GRPCBroker/StartStream") == 0) return CALL_BROKER;
    if (strcmp(method, "/plugin.GRPCStdio/StreamStdio") == 0) return CALL_STDIO;
    return CALL_UNIMPLEMENTED;
}

static void on_accept(sf_server *s, sf_tag *tag, bool ok);

static void accept_arm(sf_server *s, sf_accept *a)
{
    assert(!a->armed);
    a->tag.fn = on_accept;
    a->tag.owner = a;
    a->call = NULL;
    grpc_call_details_init(&a->details);
    grpc_metadata_array_init(&a->md);
    grpc_call_error e = grpc_server_request_call(s->server, &a->call, &a->details, &a->md, s->cq, s->cq, &a->tag);
    if (e != GRPC_CALL_OK) { /* only once the server is shutting down */
        grpc_call_details_destroy(&a->details);
        grpc_metadata_array_destroy(&a->md);
        return;
    }
    a->armed = true;
    s->armed++;
}

static srv_call *call_new(sf_server *s, grpc_call *call, char *method)
{
    srv_call *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->s = s;
    c->call = call;
    c->method = method;
    c->kind = route(s, method);
    sf_tag *tags[] = {&c->recv_tag, &c->reply_tag, &c->close_tag, &c->status_tag, &c->meta_tag, &c->send_tag};
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) tags[i]->owner = c;
    c->reply_tag.fn = on_reply_done;
    c->close_tag.fn = on_stream_closed;
    c->status_tag.fn = on_stream_op;
    c->meta_tag.fn = on_stream_op;
    c->send_tag.fn = on_stream_send_done;
    pthread_mutex_init(&c->send_mu, NULL);
    pthread_cond_init(&c->send_cv, NULL);
    c->recv_tag.fn = (c->kind == CALL_BROKER || c->kind == CALL_STDIO) ? on_stream_recv : on_unary_recv;
    s->live++;
    return c;
}

static void on_accept(sf_server *s, sf_tag *tag, bool ok)
{
    sf_accept *a = tag->owner;
    assert(a->armed);
    a->armed = false;
    s->armed--;
    char *method = ok ? grpc_slice_to_c_string(a->details.method) : NULL;
    grpc_call *call = ok ? a->call : NULL;
    grpc_call_details_destroy(&a->details);
    grpc_metadata_array_destroy(&a->md);
    if (!ok) return; /* the server is shutting down */
    if (!s->shutting_down) accept_arm(s, a);

    srv_call *c = call_new(s, call, method);
    LOGD(s, "call %s", method);
    switch (c->kind) {
    case CALL_APP:
    case CALL_HEALTH:
    case CALL_SHUTDOWN: {
        grpc_op op;
        memset(&op, 0, sizeof op);
        op.op = GRPC_OP_RECV_MESSAGE;
        op.data.recv_message.recv_message = &c->recv_buf;
        start_batch(c, &op, 1, &c->recv_tag);
        break;
    }
    case CALL_BROKER:
    case CALL_STDIO: stream_start(s, c); break;
    case CALL_UNIMPLEMENTED: {
        char *msg = NULL;
        msg = sf_fmt("unknown method %s", method);
        call_reply(c, GRPC_STATUS_UNIMPLEMENTED, NULL, 0, msg);
        break;
    }
    }
}

/* ---- Shutdown and signals ----------------------------------------------------- */

static void on_shutdown_notified(sf_server *s, sf_tag *tag, bool ok)
{
    (void)tag;
    (void)ok;
    s->shutdown_notified = true;
    LOGD(s, "server stopped accepting calls");
}

/* Start the orderly shutdown; idempotent.  In-flight handlers are told
 * through on_shutdown; calls still running after CANCEL_GRACE_MS are
 * cancelled; the loop ends when every call is gone. */
static void begin_shutdown(sf_server *s, const char *why)
{
    if (s->shutting_down) return;
    s->shutting_down = true;
    LOGD(s, "shutting down: %s", why);
    if (s->opts->on_shutdown) s->opts->on_shutdown(s->opts->app);
    for (srv_call *c = s->streams; c; c = c->next) stream_end(c);
    s->shutdown_tag.fn = on_shutdown_notified;
    s->shutdown_tag.owner = s;
    grpc_server_shutdown_and_notify(s->server, s->cq, &s->shutdown_tag);
    s->cancel_at_ms = sf_time_mono_ms() + CANCEL_GRACE_MS;
}

static void check_signals(sf_server *s)
{
    struct signalfd_siginfo si;
    while (read(s->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGTERM) begin_shutdown(s, "SIGTERM");
        else if (si.ssi_signo == SIGINT) begin_shutdown(s, "SIGINT (debug mode)");
    }
}

/* Block the signals we wait for before any thread exists (gRPC's threads and
 * the handlers inherit the mask), and ignore SIGINT unless debugging: the
 * terminal's Ctrl-C reaches Terraform, which asks us with StopProvider. */
static int signals_setup(sf_server *s, char **err)
{
    sigemptyset(&s->sigs);
    sigaddset(&s->sigs, SIGTERM);
    if (s->hs.debug) sigaddset(&s->sigs, SIGINT);
    if (pthread_sigmask(SIG_BLOCK, &s->sigs, &s->old_mask) != 0) goto fail;
    s->signals_set = true;
    s->sigfd = signalfd(-1, &s->sigs, SFD_NONBLOCK | SFD_CLOEXEC);
    if (s->sigfd < 0) goto fail;
    if (!s->hs.debug) {
        struct sigaction ign;
        memset(&ign, 0, sizeof ign);
        ign.sa_handler = SIG_IGN;
        sigemptyset(&ign.sa_mask);
        sigaction(SIGINT, &ign, &s->old_int);
        s->int_ignored = true;
    }
    return 0;
fail:
    *err = sf_fmt("cannot set up signal handling: %s", strerror(errno));
    return -1;
}

static void signals_restore(sf_server *s)
{
    if (s->sigfd >= 0) close(s->sigfd);
    s->sigfd = -1;
    if (s->int_ignored) sigaction(SIGINT, &s->old_int, NULL);
    if (s->signals_set) pthread_sigmask(SIG_SETMASK, &s->old_mask, NULL);
    s->int_ignored = s->signals_set = false;
}

/* ---- Life cycle ------------------------------------------------------------------ */

static int serve_start(sf_server *s, char **err)
{
    grpc_arg args[2];
    memset(args, 0, sizeof args);
    args[0].type = args[1].type = GRPC_ARG_INTEGER;
    args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = MAX_MESSAGE;
    args[1].key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    args[1].value.integer = MAX_MESSAGE;
    grpc_channel_args cargs = {.num_args = 2, .args = args};

    s->cq = grpc_completion_queue_create_for_next(NULL);
    s->server = grpc_server_create(&cargs, NULL);
    grpc_server_register_completion_queue(s->server, s->cq, NULL);

    grpc_server_credentials *creds;
    if (s->hs.client_cert) {
        grpc_ssl_pem_key_cert_pair pair = {s->tls.key_pem, s->tls.cert_pem};
        creds = grpc_ssl_server_credentials_create_ex(s->hs.client_cert, &pair, 1,
                                                      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY, NULL);
    } else {
        creds = grpc_insecure_server_credentials_create();
    }
    unlink(s->sock.path); /* a stale socket would make the bind fail */
    char *addr = NULL;
    addr = sf_fmt("unix:%s", s->sock.path);
    int port = creds ? grpc_server_add_http2_port(s->server, addr, creds) : 0;
    free(addr);
    if (creds) grpc_server_credentials_release(creds);
    if (port == 0) {
        *err = sf_fmt("cannot listen on unix socket %s%s", s->sock.path, creds ? "" : " (TLS credentials rejected)");
        return -1;
    }
    grpc_server_start(s->server);
    for (int i = 0; i < ACCEPTS; i++) accept_arm(s, &s->accepts[i]);
    return 0;
}

/* Tell the client where we are, once, then detach stdout: whatever else
 * writes to fd 1 later (a library, a child) lands on stderr instead. */
static void announce(sf_server *s)
{
    if (s->hs.debug) {
        char *line = sf_handshake_reattach_line(s->opts->registry_address, (long)getpid(), s->sock.path);
        printf("%s provider started in debug mode. To attach Terraform, run this\n"
               "in the shell where you run it:\n\n\texport %s\n\n"
               "Stop the provider with Ctrl-C.\n",
               display_name(s), line);
        free(line);
    } else {
        char *line = sf_handshake_line(s->sock.path, s->hs.client_cert ? s->tls.cert_b64 : NULL);
        printf("%s\n", line);
        free(line);
    }
    fflush(stdout);
    dup2(STDERR_FILENO, STDOUT_FILENO);
}

static void run_loop(sf_server *s)
{
    while (!(s->shutdown_notified && s->live == 0 && s->armed == 0)) {
        grpc_event ev = grpc_completion_queue_next(s->cq, deadline_ms(POLL_MS), NULL);
        if (ev.type == GRPC_OP_COMPLETE) {
            sf_tag *tag = ev.tag;
            tag->fn(s, tag, ev.success != 0);
        }
        assert(ev.type != GRPC_QUEUE_SHUTDOWN);
        check_signals(s);
        if (s->shutting_down && !s->cancelled_all && sf_time_mono_ms() >= s->cancel_at_ms) {
            LOGD(s, "cancelling %d call(s) still in flight", s->live);
            grpc_server_cancel_all_calls(s->server);
            s->cancelled_all = true;
        }
    }
}

static void serve_stop(sf_server *s)
{
    if (s->server) grpc_server_destroy(s->server);
    if (s->cq) {
        grpc_completion_queue_shutdown(s->cq);
        for (;;) {
            grpc_event ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
            if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
        }
        grpc_completion_queue_destroy(s->cq);
    }
    s->server = NULL;
    s->cq = NULL;
}

/* Release our reference to gRPC and wait until the library is really down.
 * Each accepted connection's channel holds a library reference of its own
 * and drops it when its transport finishes closing, on one of gRPC's
 * executor threads, so our grpc_shutdown() is not always the last one: the
 * last one then runs on a detached thread.  Exiting before that thread ends
 * would leave gRPC's threads running (and their OpenSSL per-thread state,
 * allocated, which LeakSanitizer reports: tests/e2e/test_malformed.py under
 * load).  grpc_is_initialized() takes the lock the final clean-up holds, so
 * once it answers 0 the clean-up is finished.  Bounded: exit is never held
 * up by more than GRPC_DRAIN_MS. */
static void grpc_release(sf_server *s)
{
    grpc_shutdown();
    int64_t give_up_at = sf_time_mono_ms() + GRPC_DRAIN_MS;
    while (grpc_is_initialized()) {
        if (sf_time_mono_ms() >= give_up_at) {
            LOGD(s, "gRPC still shutting down after %d ms; exiting anyway", GRPC_DRAIN_MS);
            return;
        }
        struct timespec pause = {0, 2 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}

int sf_server_main(const sf_server_options *opts, int argc, char **argv)
{
    assert(opts && opts->service && opts->handle);
    sf_server *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->opts = opts;
    s->sigfd = -1;
    s->name = opts->name ? opts->name : "plugin";
    s->log_module = sf_fmt("%s.server", s->name);
    s->log_level = sf_log_level_from_env();
    int rc = 1;
    char *err = NULL;
    bool grpc_up = false;

    sf_handshake_env env;
    sf_handshake_env_read(&env);
    if (sf_handshake_configure(&s->hs, &env, sf_handshake_debug_flag(argc, argv), display_name(s), &err) != 0) goto out;
    if (s->hs.debug && !opts->registry_address) {
        err = sf_fmt("-debug needs the provider's registry address, and %s has none", s->name);
        goto out;
    }
    if (s->hs.client_cert && sf_tls_check_cert_pem(s->hs.client_cert, &err) != 0) goto out;
    if (signals_setup(s, &err) != 0) goto out;
    if (s->hs.client_cert && sf_tls_generate(&s->tls, &err) != 0) goto out;
    if (sf_sockdir_create(&s->sock, NULL, s->name, &err) != 0) goto out;

    gpr_set_log_function(grpc_log_to_hclog);
    grpc_init();
    grpc_up = true;
    if (serve_start(s, &err) != 0) goto out;
    LOGD(s, "serving protocol %d on %s (%s)", s->hs.protocol, s->sock.path, s->hs.client_cert ? "mTLS" : "plaintext");
    announce(s);
    run_loop(s);
    LOGD(s, "all calls finished; exiting");
    rc = 0;

out:
    if (err) {
        fprintf(stderr, "%s\n", err);
        free(err);
    }
    if (grpc_up) {
        serve_stop(s);
        grpc_release(s);
    }
    sf_sockdir_remove(&s->sock);
    sf_tls_identity_clear(&s->tls);
    signals_restore(s);
    free(s->log_module);
    free(s);
    return rc;
}
