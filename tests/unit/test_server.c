/* test_server.c — the transport run for real: this program is both a tiny
 * plugin (an echo service behind sf_server_main) and, under ctest, a gRPC
 * C-core client that starts itself as that plugin and talks to it.
 *
 * With SF_ECHO_SERVER=1 in the environment it serves "tfplugin6.Provider"
 * with the echo handler below; tests/e2e/test_transport.py drives that mode
 * from Python (SF_PROVIDER_BIN=<build>/test_server).  Requests are text:
 *   "sleep:<ms>"          wait (cancelled by shutdown), answer "slept"
 *   "status:<code>:<msg>" answer with that gRPC status
 *   "stdout:<text>"       write text to stdout (must not reach the client)
 *   "stats"               answer "max_active=<n>": peak concurrent handlers
 *   anything else         echoed back (so an empty GetMetadata gets an empty reply)
 * ListResource is served as a server-streaming method: "count:<n>[:<code>:<msg>]"
 * streams "msg 0".."msg <n-1>", then that status (default OK).
 * GetProviderSchema is answered with an empty provider schema, enough for a
 * real `terraform providers schema` run to succeed through the transport.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>

#include "proto/tfplugin6.pb-c.h"
#include "provider/handshake.h"
#include "provider/server.h"
#include "provider/tls.h"

/* ---- The echo plugin -------------------------------------------------------- */

typedef struct echo_app {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    int active, max_active;
} echo_app;

static int reply_text(void **resp, size_t *len, const char *text)
{
    *len = strlen(text);
    *resp = *len ? strdup(text) : NULL;
    return 0;
}

static int echo_sleep(echo_app *app, long ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&app->mu);
    int rc = 0;
    while (!app->stopping && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&app->cv, &app->mu, &until);
    bool cancelled = app->stopping;
    pthread_mutex_unlock(&app->mu);
    return cancelled ? 1 /* CANCELLED */ : 0;
}

/* GetProviderSchema.Response{provider: Schema{block: Block{}}} */
static int empty_schema(void **resp, size_t *resp_len)
{
    Tfplugin6__Schema__Block block = TFPLUGIN6__SCHEMA__BLOCK__INIT;
    Tfplugin6__Schema schema = TFPLUGIN6__SCHEMA__INIT;
    Tfplugin6__GetProviderSchema__Response r = TFPLUGIN6__GET_PROVIDER_SCHEMA__RESPONSE__INIT;
    schema.block = &block;
    r.provider = &schema;
    *resp_len = protobuf_c_message_get_packed_size(&r.base);
    *resp = malloc(*resp_len);
    protobuf_c_message_pack(&r.base, *resp);
    return 0;
}

static int echo_handle(void *appv, const char *method, const void *req, size_t req_len, void **resp, size_t *resp_len,
                       char **status_msg)
{
    echo_app *app = appv;
    if (strcmp(method, "/tfplugin6.Provider/GetProviderSchema") == 0) return empty_schema(resp, resp_len);
    char *text = strndup(req, req_len);
    pthread_mutex_lock(&app->mu);
    if (++app->active > app->max_active) app->max_active = app->active;
    pthread_mutex_unlock(&app->mu);

    int status = 0;
    if (strncmp(text, "sleep:", 6) == 0) {
        status = echo_sleep(app, atol(text + 6));
        if (status == 0) reply_text(resp, resp_len, "slept");
        else *status_msg = strdup("cancelled by shutdown");
    } else if (strncmp(text, "status:", 7) == 0) {
        char *colon = strchr(text + 7, ':');
        status = atoi(text + 7);
        *status_msg = strdup(colon ? colon + 1 : "");
    } else if (strncmp(text, "stdout:", 7) == 0) {
        fputs(text + 7, stdout);
        fflush(stdout);
        reply_text(resp, resp_len, "ok");
    } else if (strcmp(text, "stats") == 0) {
        char buf[64];
        pthread_mutex_lock(&app->mu);
        snprintf(buf, sizeof buf, "max_active=%d", app->max_active);
        pthread_mutex_unlock(&app->mu);
        reply_text(resp, resp_len, buf);
    } else {
        *resp_len = req_len;
        *resp = req_len ? malloc(req_len) : NULL;
        if (req_len) memcpy(*resp, req, req_len);
    }
    pthread_mutex_lock(&app->mu);
    app->active--;
    pthread_mutex_unlock(&app->mu);
    free(text);
    return status;
}

/* The server-streaming method of the echo plugin. */
static bool echo_is_stream(void *appv, const char *method)
{
    (void)appv;
    return strcmp(method, "/tfplugin6.Provider/ListResource") == 0;
}

/* "count:<n>" sends "msg 0".."msg <n-1>" and ends OK; "count:<n>:<code>:<text>"
 * ends with that status after the n messages. */
static int echo_stream(void *appv, const char *method, const void *req, size_t req_len, sf_stream *out,
                       char **status_msg)
{
    (void)appv;
    (void)method;
    char *text = strndup(req, req_len);
    int n = strncmp(text, "count:", 6) == 0 ? atoi(text + 6) : 0, status = 0;
    char *rest = strchr(text + (strncmp(text, "count:", 6) == 0 ? 6 : 0), ':');
    if (rest) {
        status = atoi(rest + 1);
        char *msg = strchr(rest + 1, ':');
        *status_msg = strdup(msg ? msg + 1 : "");
    }
    for (int i = 0; i < n; i++) {
        char buf[32];
        int len = snprintf(buf, sizeof buf, "msg %d", i);
        if (sf_stream_send(out, buf, (size_t)len) != 0) break;
    }
    free(text);
    return status;
}

static void echo_on_shutdown(void *appv)
{
    echo_app *app = appv;
    pthread_mutex_lock(&app->mu);
    app->stopping = true;
    pthread_cond_broadcast(&app->cv);
    pthread_mutex_unlock(&app->mu);
}

static int echo_main(int argc, char **argv)
{
    echo_app app = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    sf_server_options opts = {
        .service = "tfplugin6.Provider",
        .handle = echo_handle,
        .is_stream = echo_is_stream,
        .handle_stream = echo_stream,
        .app = &app,
        .on_shutdown = echo_on_shutdown,
        /* tests/e2e/test_transport.py runs this plugin in the provider's place */
        .name = "sparkflow",
        .display_name = "SparkFlow",
        .registry_address = "registry.terraform.io/sparkflow/sparkflow",
    };
    return sf_server_main(&opts, argc, argv);
}

/* ---- The client side: start the echo plugin as Terraform would ---------------- */

typedef struct plugin {
    pid_t pid;
    FILE *out;       /* its stdout */
    char line[8192]; /* the handshake line */
    char socket[512];
    char cert_b64[4096];
} plugin;

extern char **environ;

/* Start this program in echo mode, as Terraform starts a plugin: with the
 * cookie, the protocol list and (optionally) the client certificate in the
 * environment.  fd `target` (1 or 2) of the child comes back as a pipe.
 * posix_spawn, not fork: this process runs gRPC threads. */
static pid_t spawn_echo(bool cookie, const char *client_cert_pem, int target, int *fd)
{
    size_t n = 0;
    while (environ[n]) n++;
    char **envp = calloc(n + 8, sizeof *envp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(environ[i], "TF_PLUGIN_MAGIC_COOKIE=", 23) == 0 ||
            strncmp(environ[i], "PLUGIN_CLIENT_CERT=", 19) == 0 ||
            strncmp(environ[i], "PLUGIN_PROTOCOL_VERSIONS=", 25) == 0 ||
            strncmp(environ[i], "SF_ECHO_SERVER=", 15) == 0)
            continue;
        envp[k++] = environ[i];
    }
    char *cert_env = NULL;
    envp[k++] = "SF_ECHO_SERVER=1";
    envp[k++] = "PLUGIN_PROTOCOL_VERSIONS=5,6";
    if (cookie) envp[k++] = "TF_PLUGIN_MAGIC_COOKIE=" SF_HANDSHAKE_COOKIE_VALUE;
    if (client_cert_pem) {
        assert_true(asprintf(&cert_env, "PLUGIN_CLIENT_CERT=%s", client_cert_pem) > 0);
        envp[k++] = cert_env;
    }
    envp[k] = NULL;

    int fds[2];
    assert_int_equal(pipe(fds), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], target);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    char *argv[] = {"test_server", NULL};
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, envp), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    free(cert_env);
    free(envp);
    *fd = fds[0];
    return pid;
}

/* Start the echo plugin and read its handshake line. */
static void plugin_start(plugin *p, const char *client_cert_pem)
{
    int fd;
    p->pid = spawn_echo(true, client_cert_pem, STDOUT_FILENO, &fd);
    p->out = fdopen(fd, "r");
    assert_non_null(fgets(p->line, sizeof p->line, p->out));
    /* 1|6|unix|<socket>|grpc|<cert> */
    char *fields[6] = {0}, *save = NULL, *copy = strdup(p->line);
    copy[strcspn(copy, "\n")] = '\0';
    int n = 0;
    for (char *f = strtok_r(copy, "|", &save); f && n < 6; f = strtok_r(NULL, "|", &save)) fields[n++] = f;
    assert_true(n >= 5);
    assert_string_equal(fields[0], "1");
    assert_string_equal(fields[1], "6");
    assert_string_equal(fields[2], "unix");
    assert_string_equal(fields[4], "grpc");
    const char *socket_field = fields[3] ? fields[3] : "", *cert_field = n == 6 && fields[5] ? fields[5] : "";
    snprintf(p->socket, sizeof p->socket, "%s", socket_field);
    snprintf(p->cert_b64, sizeof p->cert_b64, "%s", cert_field);
    free(copy);
}

static int plugin_wait(plugin *p, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        int st;
        if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
            fclose(p->out);
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        usleep(10000);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    fclose(p->out);
    return -1;
}

/* The server's certificate as PEM, from the handshake's unpadded base64. */
static char *cert_pem_from_b64(const char *b64)
{
    size_t n = strlen(b64), padded = (n + 3) / 4 * 4;
    char *full = calloc(padded + 1, 1);
    memcpy(full, b64, n);
    memset(full + n, '=', padded - n);
    char *pem = malloc(padded + padded / 64 + 80), *o = pem;
    o += sprintf(o, "-----BEGIN CERTIFICATE-----\n");
    for (size_t i = 0; i < padded; i += 64) o += sprintf(o, "%.64s\n", full + i);
    sprintf(o, "-----END CERTIFICATE-----\n");
    free(full);
    return pem;
}

typedef struct client {
    grpc_channel *ch;
    grpc_completion_queue *cq;
} client;

static void client_open(client *c, const plugin *p, grpc_channel_credentials *creds)
{
    char target[600];
    snprintf(target, sizeof target, "unix:%s", p->socket);
    grpc_arg arg = {.type = GRPC_ARG_STRING, .key = GRPC_SSL_TARGET_NAME_OVERRIDE_ARG, .value.string = "localhost"};
    grpc_channel_args args = {.num_args = 1, .args = &arg};
    c->ch = grpc_channel_create(target, creds, &args);
    grpc_channel_credentials_release(creds);
    c->cq = grpc_completion_queue_create_for_pluck(NULL);
}

static void client_close(client *c)
{
    grpc_channel_destroy(c->ch);
    grpc_completion_queue_shutdown(c->cq);
    while (grpc_completion_queue_pluck(c->cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN) {}
    grpc_completion_queue_destroy(c->cq);
}

/* One unary call with raw bytes.  Returns the status; *out gets the reply. */
static grpc_status_code client_call(client *c, const char *method, const char *req, char **out)
{
    grpc_slice m = grpc_slice_from_static_string(method);
    grpc_call *call =
        grpc_channel_create_call(c->ch, NULL, 0, c->cq, m, NULL,
                                 gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_seconds(10, GPR_TIMESPAN)),
                                 NULL);
    grpc_slice body = grpc_slice_from_copied_string(req);
    grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&body, 1);
    grpc_slice_unref(body);
    grpc_byte_buffer *recv = NULL;
    grpc_metadata_array initial, trailing;
    grpc_metadata_array_init(&initial);
    grpc_metadata_array_init(&trailing);
    grpc_status_code status = GRPC_STATUS_UNKNOWN;
    grpc_slice details;
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &trailing;
    ops[5].data.recv_status_on_client.status = &status;
    ops[5].data.recv_status_on_client.status_details = &details;
    assert_int_equal(grpc_call_start_batch(call, ops, 6, call, NULL), GRPC_CALL_OK);
    grpc_event ev = grpc_completion_queue_pluck(c->cq, call, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    assert_int_equal(ev.type, GRPC_OP_COMPLETE);
    *out = NULL;
    if (recv) {
        grpc_byte_buffer_reader r;
        grpc_byte_buffer_reader_init(&r, recv);
        grpc_slice s = grpc_byte_buffer_reader_readall(&r);
        grpc_byte_buffer_reader_destroy(&r);
        *out = strndup((const char *)GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s));
        grpc_slice_unref(s);
        grpc_byte_buffer_destroy(recv);
    }
    grpc_slice_unref(details);
    grpc_byte_buffer_destroy(send);
    grpc_metadata_array_destroy(&initial);
    grpc_metadata_array_destroy(&trailing);
    grpc_call_unref(call);
    return status;
}

/* A server-streaming call: every message in order (into msgs, at most max),
 * then the status.  Returns the status; *n gets how many messages came. */
static grpc_status_code client_stream(client *c, const char *method, const char *req, char **msgs, int max, int *n,
                                      char **details_out)
{
    grpc_slice m = grpc_slice_from_static_string(method);
    grpc_call *call =
        grpc_channel_create_call(c->ch, NULL, 0, c->cq, m, NULL,
                                 gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_seconds(10, GPR_TIMESPAN)),
                                 NULL);
    grpc_slice body = grpc_slice_from_copied_string(req);
    grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&body, 1);
    grpc_slice_unref(body);
    grpc_metadata_array initial, trailing;
    grpc_metadata_array_init(&initial);
    grpc_metadata_array_init(&trailing);
    grpc_op ops[4];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial;
    assert_int_equal(grpc_call_start_batch(call, ops, 4, call, NULL), GRPC_CALL_OK);
    assert_int_equal(grpc_completion_queue_pluck(c->cq, call, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type,
                     GRPC_OP_COMPLETE);
    *n = 0;
    for (;;) {
        grpc_byte_buffer *recv = NULL;
        memset(ops, 0, sizeof ops);
        ops[0].op = GRPC_OP_RECV_MESSAGE;
        ops[0].data.recv_message.recv_message = &recv;
        assert_int_equal(grpc_call_start_batch(call, ops, 1, call, NULL), GRPC_CALL_OK);
        grpc_event ev = grpc_completion_queue_pluck(c->cq, call, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        assert_int_equal(ev.type, GRPC_OP_COMPLETE);
        if (!recv) break; /* the server ended the stream */
        grpc_byte_buffer_reader r;
        grpc_byte_buffer_reader_init(&r, recv);
        grpc_slice sl = grpc_byte_buffer_reader_readall(&r);
        grpc_byte_buffer_reader_destroy(&r);
        if (*n < max) msgs[*n] = strndup((const char *)GRPC_SLICE_START_PTR(sl), GRPC_SLICE_LENGTH(sl));
        (*n)++;
        grpc_slice_unref(sl);
        grpc_byte_buffer_destroy(recv);
    }
    grpc_status_code status = GRPC_STATUS_UNKNOWN;
    grpc_slice details;
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[0].data.recv_status_on_client.trailing_metadata = &trailing;
    ops[0].data.recv_status_on_client.status = &status;
    ops[0].data.recv_status_on_client.status_details = &details;
    assert_int_equal(grpc_call_start_batch(call, ops, 1, call, NULL), GRPC_CALL_OK);
    assert_int_equal(grpc_completion_queue_pluck(c->cq, call, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type,
                     GRPC_OP_COMPLETE);
    *details_out = strndup((const char *)GRPC_SLICE_START_PTR(details), GRPC_SLICE_LENGTH(details));
    grpc_slice_unref(details);
    grpc_byte_buffer_destroy(send);
    grpc_metadata_array_destroy(&initial);
    grpc_metadata_array_destroy(&trailing);
    grpc_call_unref(call);
    return status;
}

static void test_refuses_to_run_by_hand(void **state)
{
    (void)state;
    int fd;
    pid_t pid = spawn_echo(false, NULL, STDERR_FILENO, &fd);
    char buf[2048] = {0};
    size_t n = 0;
    ssize_t r;
    while ((r = read(fd, buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)r;
    close(fd);
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 1);
    assert_non_null(strstr(buf, "Terraform plugin"));
}

static void test_plaintext_call_health_and_shutdown(void **state)
{
    (void)state;
    plugin p;
    plugin_start(&p, NULL);
    assert_string_equal(p.cert_b64, ""); /* plaintext: no certificate */
    client c;
    client_open(&c, &p, grpc_insecure_credentials_create());
    char *out = NULL;
    assert_int_equal(client_call(&c, "/tfplugin6.Provider/Echo", "hello", &out), GRPC_STATUS_OK);
    assert_string_equal(out, "hello");
    free(out);
    assert_int_equal(client_call(&c, "/tfplugin6.Provider/X", "status:5:nope", &out), GRPC_STATUS_NOT_FOUND);
    free(out);
    assert_int_equal(client_call(&c, "/no.Such/Method", "", &out), GRPC_STATUS_UNIMPLEMENTED);
    free(out);
    /* HealthCheckRequest{service: "plugin"} -> HealthCheckResponse{SERVING} */
    assert_int_equal(client_call(&c, "/grpc.health.v1.Health/Check", "\x0a\x06plugin", &out), GRPC_STATUS_OK);
    assert_string_equal(out, "\x08\x01");
    free(out);
    assert_int_equal(client_call(&c, "/plugin.GRPCController/Shutdown", "", &out), GRPC_STATUS_OK);
    free(out);
    client_close(&c);
    assert_int_equal(plugin_wait(&p, 2000), 0);
    struct stat st;
    assert_int_not_equal(stat(p.socket, &st), 0); /* socket removed */
}

/* Server streaming: messages in order, then the status; none at all; an
 * error status after some; and the stream's unary neighbours unaffected. */
static void test_server_streaming(void **state)
{
    (void)state;
    plugin p;
    plugin_start(&p, NULL);
    client c;
    client_open(&c, &p, grpc_insecure_credentials_create());
    char *msgs[64] = {0}, *details = NULL;
    int n = 0;
    assert_int_equal(client_stream(&c, "/tfplugin6.Provider/ListResource", "count:50", msgs, 64, &n, &details),
                     GRPC_STATUS_OK);
    assert_int_equal(n, 50);
    for (int i = 0; i < n; i++) {
        char want[32];
        snprintf(want, sizeof want, "msg %d", i);
        assert_string_equal(msgs[i], want);
        free(msgs[i]);
        msgs[i] = NULL;
    }
    free(details);
    assert_int_equal(client_stream(&c, "/tfplugin6.Provider/ListResource", "count:0", msgs, 64, &n, &details),
                     GRPC_STATUS_OK);
    assert_int_equal(n, 0); /* no message at all, not an empty one */
    free(details);
    assert_int_equal(client_stream(&c, "/tfplugin6.Provider/ListResource", "count:3:9:went wrong", msgs, 64, &n,
                                   &details),
                     GRPC_STATUS_FAILED_PRECONDITION);
    assert_int_equal(n, 3);
    assert_string_equal(details, "went wrong");
    free(details);
    for (int i = 0; i < n; i++) free(msgs[i]);
    assert_int_equal(client_stream(&c, "/tfplugin6.Provider/ListResource", "count:0:13:before any", msgs, 64, &n,
                                   &details),
                     GRPC_STATUS_INTERNAL);
    assert_int_equal(n, 0);
    assert_string_equal(details, "before any");
    free(details);
    char *out = NULL;
    assert_int_equal(client_call(&c, "/tfplugin6.Provider/Echo", "still unary", &out), GRPC_STATUS_OK);
    assert_string_equal(out, "still unary");
    free(out);
    assert_int_equal(client_call(&c, "/plugin.GRPCController/Shutdown", "", &out), GRPC_STATUS_OK);
    free(out);
    client_close(&c);
    assert_int_equal(plugin_wait(&p, 2000), 0);
}

static void test_mtls(void **state)
{
    (void)state;
    sf_tls_identity mine, other;
    assert_int_equal(sf_tls_generate(&mine, NULL), 0);
    assert_int_equal(sf_tls_generate(&other, NULL), 0);
    plugin p;
    plugin_start(&p, mine.cert_pem);
    assert_true(strlen(p.cert_b64) > 50);
    char *server_pem = cert_pem_from_b64(p.cert_b64);

    /* The client Terraform is: its certificate pinned by the plugin. */
    grpc_ssl_pem_key_cert_pair pair = {mine.key_pem, mine.cert_pem};
    client c;
    client_open(&c, &p, grpc_ssl_credentials_create(server_pem, &pair, NULL, NULL));
    char *out = NULL;
    assert_int_equal(client_call(&c, "/tfplugin6.Provider/Echo", "over tls", &out), GRPC_STATUS_OK);
    assert_string_equal(out, "over tls");
    free(out);
    client_close(&c);

    /* Another certificate, or none: refused. */
    grpc_ssl_pem_key_cert_pair wrong = {other.key_pem, other.cert_pem};
    client_open(&c, &p, grpc_ssl_credentials_create(server_pem, &wrong, NULL, NULL));
    assert_int_equal(client_call(&c, "/tfplugin6.Provider/Echo", "x", &out), GRPC_STATUS_UNAVAILABLE);
    free(out);
    client_close(&c);
    client_open(&c, &p, grpc_ssl_credentials_create(server_pem, NULL, NULL, NULL));
    assert_int_equal(client_call(&c, "/tfplugin6.Provider/Echo", "x", &out), GRPC_STATUS_UNAVAILABLE);
    free(out);
    client_close(&c);
    /* A plaintext client cannot talk to a TLS server either. */
    client_open(&c, &p, grpc_insecure_credentials_create());
    assert_int_equal(client_call(&c, "/tfplugin6.Provider/Echo", "x", &out), GRPC_STATUS_UNAVAILABLE);
    free(out);
    client_close(&c);

    kill(p.pid, SIGTERM);
    assert_int_equal(plugin_wait(&p, 2000), 0);
    free(server_pem);
    sf_tls_identity_clear(&mine);
    sf_tls_identity_clear(&other);
}

static int client_setup(void **state)
{
    (void)state;
    grpc_init();
    return 0;
}

static int client_teardown(void **state)
{
    (void)state;
    grpc_shutdown();
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = getenv("SF_ECHO_SERVER");
    if (mode && strcmp(mode, "1") == 0) return echo_main(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refuses_to_run_by_hand),
        cmocka_unit_test(test_plaintext_call_health_and_shutdown),
        cmocka_unit_test(test_server_streaming),
        cmocka_unit_test(test_mtls),
    };
    return cmocka_run_group_tests(tests, client_setup, client_teardown);
}
