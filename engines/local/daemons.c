/* daemons.c — bringing a cluster's master and workers up and down.
 *
 * Starting means: pick ports, spawn the daemon detached, then poll until the
 * master's status page shows the effect (master ALIVE, each worker ALIVE on
 * its port).  Polls start at 100 ms and back off to 1 s; every wait watches
 * the context.  A daemon that loses the race for a port exits at once (we
 * run Spark with spark.port.maxRetries=0); it is restarted on new ports.
 * Any other failure stops what this step started and reports why, with the
 * end of the daemon's log.
 */
#include "engines/local/local.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

#define MASTER_CLASS "org.apache.spark.deploy.master.Master"
#define WORKER_CLASS "org.apache.spark.deploy.worker.Worker"
#define PORT_ATTEMPTS 3
#define STOP_GRACE_MS 10000
#define PORT_CLOSE_MS 10000
#define TAIL_LINES 20
#define POLL_FIRST_MS 100
#define POLL_MAX_MS 250
#define STATUS_SETTLE_MS 15000

/* Sleep `*delay` then grow it toward POLL_MAX_MS; -1 when ctx is done. */
static int backoff(sf_ctx *ctx, int64_t *delay)
{
    int rc = sf_ctx_sleep_ms(ctx, *delay);
    *delay = *delay * 3 / 2 > POLL_MAX_MS ? POLL_MAX_MS : *delay * 3 / 2;
    return rc;
}

/* ---- environment -------------------------------------------------------- */

typedef struct env_list {
    char **v;
    size_t n;
} env_list;

static void env_push(env_list *e, char *owned)
{
    char **grown = realloc(e->v, (e->n + 2) * sizeof *grown);
    if (!grown) abort();
    e->v = grown;
    e->v[e->n++] = owned;
    e->v[e->n] = NULL;
}

static void env_free(env_list *e)
{
    for (size_t i = 0; i < e->n; i++) free(e->v[i]);
    free(e->v);
}

static bool env_overridden(const char *entry)
{
    static const char *const ours[] = {
        "SPARK_HOME=",         "JAVA_HOME=",
        "SPARK_LOCAL_IP=",     "SPARK_LOG_DIR=",
        "SPARK_NO_DAEMONIZE=", "SPARK_DAEMON_JAVA_OPTS=",
        "SPARK_LOCAL_DIRS=",   "SPARK_WORKER_DIR=",
        "SPARK_PUBLIC_DNS=",   NULL,
    };
    for (size_t i = 0; ours[i]; i++)
        if (strncmp(entry, ours[i], strlen(ours[i])) == 0) return true;
    return false;
}

/* The provider's environment with Spark's settings for one daemon.
 * local_dirs: the worker's scratch space (NULL for the master). */
static env_list daemon_env(const sf_local_cluster *c, const char *local_dirs)
{
    env_list e = {0};
    for (char **p = environ; p && *p; p++)
        if (!env_overridden(*p)) env_push(&e, sf_strdup(*p));
    const char *user_opts = getenv("SPARK_DAEMON_JAVA_OPTS");
    env_push(&e, sf_fmt("SPARK_HOME=%s", c->spec.spark_home));
    env_push(&e, sf_fmt("JAVA_HOME=%s", c->java_home));
    env_push(&e, sf_strdup("SPARK_LOCAL_IP=127.0.0.1"));
    env_push(&e, sf_strdup("SPARK_PUBLIC_DNS=127.0.0.1"));
    env_push(&e, sf_fmt("SPARK_LOG_DIR=%s/logs", c->spec.work_dir));
    env_push(&e, sf_strdup("SPARK_NO_DAEMONIZE=1"));
    /* Fail on a taken port instead of moving to the next one: the ports
     * recorded must be the ports in use.  Unless the user tunes the daemons'
     * JVM, start it lean: master and worker only route messages (executors
     * are separate JVMs), and C1 with the serial GC starts ~30% faster; with
     * Spark's class archive when there is one (cds.c). */
    if (user_opts && *user_opts) env_push(&e, sf_fmt("SPARK_DAEMON_JAVA_OPTS=%s -Dspark.port.maxRetries=0", user_opts));
    else {
        char *jvm_opts = sf_local_jvm_opts(c->spec.spark_home, c->java_home);
        env_push(&e, sf_fmt("SPARK_DAEMON_JAVA_OPTS=-Dspark.port.maxRetries=0 %s", jvm_opts));
        free(jvm_opts);
    }
    if (local_dirs) env_push(&e, sf_fmt("SPARK_LOCAL_DIRS=%s", local_dirs));
    return e;
}

/* ---- logs and diagnostics ------------------------------------------------ */

static bool log_says_port_taken(const char *log)
{
    char *tail = sf_local_log_tail(log, 200);
    bool taken = strstr(tail, "BindException") || strstr(tail, "Address already in use");
    free(tail);
    return taken;
}

static void truncate_log(const char *log)
{
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) close(fd);
}

/* Error diagnostic: reason, then the last lines of each log. */
static void diag_with_logs(sf_diags *diags, const char *summary, const char *reason, const sf_local_proc *const *procs,
                           size_t n)
{
    char *detail = sf_strdup(reason);
    for (size_t i = 0; i < n; i++) {
        if (!procs[i]->log) continue;
        char *tail = sf_local_log_tail(procs[i]->log, TAIL_LINES);
        char *next = sf_fmt("%s\n\nLast lines of %s:\n%s", detail, procs[i]->log, tail);
        free(tail);
        free(detail);
        detail = next;
    }
    sf_diag_error(diags, NULL, summary, "%s", detail);
    free(detail);
}

static char *ctx_why(sf_ctx *ctx, const char *what)
{
    const char *r = sf_ctx_reason(ctx);
    return sf_fmt("%s: the operation was %s before it finished.", what, r ? r : "stopped");
}

/* Record what was just spawned, so that even if this provider dies before
 * the step finishes the pids are on disk.  Best effort: the step saves
 * again (and reports errors) when it completes. */
static void note_spawned(const sf_local_cluster *c)
{
    char *err = NULL;
    sf_local_record_save(c, &err);
    free(err);
}

/* ---- master ------------------------------------------------------------- */

static int spawn_master(const sf_local_cluster *c, sf_local_proc *m, char **err)
{
    int ports[2];
    if (sf_local_pick_ports(ports, 2, err) != 0) return -1;
    m->port = ports[0];
    m->webui_port = ports[1];
    char port[16], webui[16];
    snprintf(port, sizeof port, "%d", m->port);
    snprintf(webui, sizeof webui, "%d", m->webui_port);
    char *spark_class = sf_fmt("%s/bin/spark-class", c->spec.spark_home);
    char *argv[] = {spark_class, MASTER_CLASS, "--host", "127.0.0.1", "--port", port, "--webui-port", webui, NULL};
    env_list env = daemon_env(c, NULL);
    truncate_log(m->log);
    int rc = sf_local_spawn_detached(argv, env.v, m->log, m, err);
    env_free(&env);
    free(spark_class);
    return rc;
}

typedef enum { WAIT_OK, WAIT_PORT_TAKEN, WAIT_FAILED } wait_result;

/* Poll until the master is ALIVE at its URL. */
static wait_result wait_master(sf_ctx *ctx, const sf_local_proc *m, char **why)
{
    char *want = sf_fmt("spark://127.0.0.1:%d", m->port);
    wait_result res = WAIT_FAILED;
    for (int64_t delay = POLL_FIRST_MS;;) {
        if (!sf_local_proc_alive(m)) {
            if (log_says_port_taken(m->log)) res = WAIT_PORT_TAKEN;
            else *why = sf_fmt("The Spark master (pid %d) exited during start-up.", m->pid);
            break;
        }
        sf_local_status st;
        char *err = NULL;
        if (sf_local_status_fetch(m->webui_port, &st, &err) == 0) {
            bool up = strcmp(st.status, "ALIVE") == 0 && st.url && strcmp(st.url, want) == 0;
            sf_local_status_clear(&st);
            if (up) {
                res = WAIT_OK;
                break;
            }
        }
        free(err);
        if (backoff(ctx, &delay) != 0) {
            *why = ctx_why(ctx, "Waiting for the Spark master");
            break;
        }
    }
    free(want);
    return res;
}

int sf_local_start_master(sf_ctx *ctx, sf_local_cluster *c, sf_diags *diags)
{
    sf_local_proc *m = &c->master;
    free(m->log);
    m->log = sf_fmt("%s/logs/master.log", c->spec.work_dir);
    for (int attempt = 1;; attempt++) {
        char *why = NULL;
        wait_result res = WAIT_FAILED;
        if (spawn_master(c, m, &why) == 0) {
            sf_log(ctx, SF_LOG_DEBUG, "local %s: master pid %d on ports %d/%d", c->id, m->pid, m->port, m->webui_port);
            note_spawned(c);
            res = wait_master(ctx, m, &why);
        }
        if (res == WAIT_OK) return 0;
        sf_local_proc *procs[] = {m};
        sf_local_stop_procs(procs, 1, STOP_GRACE_MS);
        if (res == WAIT_PORT_TAKEN && attempt < PORT_ATTEMPTS) {
            sf_log(ctx, SF_LOG_INFO, "local %s: master lost a port race, retrying", c->id);
            continue;
        }
        if (res == WAIT_PORT_TAKEN)
            why = sf_fmt("The Spark master could not bind its ports in %d attempts "
                         "(another process took them).",
                         PORT_ATTEMPTS);
        const sf_local_proc *shown[] = {m};
        diag_with_logs(diags, "Spark master did not start", why, shown, 1);
        free(why);
        return -1;
    }
}

/* ---- workers ------------------------------------------------------------ */

static int spawn_worker(const sf_local_cluster *c, size_t i, sf_local_proc *w, char **err)
{
    int ports[2];
    if (sf_local_pick_ports(ports, 2, err) != 0) return -1;
    w->port = ports[0];
    w->webui_port = ports[1];
    char port[16], webui[16], cores[24], master[64];
    snprintf(port, sizeof port, "%d", w->port);
    snprintf(webui, sizeof webui, "%d", w->webui_port);
    snprintf(cores, sizeof cores, "%lld", (long long)c->spec.worker_cores);
    snprintf(master, sizeof master, "spark://127.0.0.1:%d", c->master.port);
    char *spark_class = sf_fmt("%s/bin/spark-class", c->spec.spark_home);
    char *dir = sf_fmt("%s/worker-%zu", c->spec.work_dir, i);
    char *local_dirs = sf_fmt("%s/local", dir);
    char *argv[] = {spark_class,  WORKER_CLASS, "--host",       "127.0.0.1",
                    "--cores",    cores,        "--memory",     c->spec.worker_memory,
                    "--port",     port,         "--webui-port", webui,
                    "--work-dir", dir,          master,         NULL};
    env_list env = daemon_env(c, local_dirs);
    truncate_log(w->log);
    int rc = sf_local_spawn_detached(argv, env.v, w->log, w, err);
    env_free(&env);
    free(local_dirs);
    free(dir);
    free(spark_class);
    return rc;
}

/* Stop workers [from, c->n_workers) and forget them. */
static void drop_workers(sf_local_cluster *c, size_t from)
{
    size_t n = c->n_workers - from;
    sf_local_proc **procs = calloc(n ? n : 1, sizeof *procs);
    if (!procs) abort();
    for (size_t i = 0; i < n; i++) procs[i] = &c->workers[from + i];
    sf_local_stop_procs(procs, n, STOP_GRACE_MS);
    free(procs);
    for (size_t i = from; i < c->n_workers; i++) {
        free(c->workers[i].log);
        memset(&c->workers[i], 0, sizeof c->workers[i]);
    }
    c->n_workers = from;
}

static void fail_workers(sf_local_cluster *c, size_t from, const char *why, sf_diags *diags)
{
    size_t n = c->n_workers - from;
    const sf_local_proc **shown = calloc(n + 1, sizeof *shown);
    if (!shown) abort();
    for (size_t i = 0; i < n; i++) shown[i] = &c->workers[from + i];
    shown[n] = &c->master;
    diag_with_logs(diags, "Spark workers did not start", why, shown, n + 1);
    free(shown);
    drop_workers(c, from);
}

/* Poll until every worker in [from, n) is ALIVE at the master; restart
 * those that lost a port race (attempts[i - from] counts restarts).
 * Returns 0, or -1 with *why. */
static int poll_workers(sf_ctx *ctx, sf_local_cluster *c, size_t from, int *attempts, char **why)
{
    for (int64_t delay = POLL_FIRST_MS;;) {
        if (!sf_local_proc_alive(&c->master)) {
            *why = sf_fmt("The Spark master (pid %d) exited.", c->master.pid);
            return -1;
        }
        for (size_t i = from; i < c->n_workers; i++) {
            sf_local_proc *w = &c->workers[i];
            if (sf_local_proc_alive(w)) continue;
            if (!log_says_port_taken(w->log) || ++attempts[i - from] >= PORT_ATTEMPTS) {
                *why = sf_fmt("Spark worker %zu (pid %d) exited during start-up.", i, w->pid);
                return -1;
            }
            sf_log(ctx, SF_LOG_INFO, "local %s: worker %zu lost a port race, retrying", c->id, i);
            sf_local_proc *one[] = {w};
            sf_local_stop_procs(one, 1, STOP_GRACE_MS);
            if (spawn_worker(c, i, w, why) != 0) return -1;
        }
        sf_local_status st;
        char *err = NULL;
        if (sf_local_status_fetch(c->master.webui_port, &st, &err) == 0) {
            bool all = true;
            for (size_t i = from; i < c->n_workers && all; i++)
                all = sf_local_status_worker_alive(&st, c->workers[i].port);
            sf_local_status_clear(&st);
            if (all) return 0;
        }
        free(err);
        if (backoff(ctx, &delay) != 0) {
            *why = ctx_why(ctx, "Waiting for the Spark workers to register");
            return -1;
        }
    }
}

static int wait_workers(sf_ctx *ctx, sf_local_cluster *c, size_t from, char **why)
{
    int *attempts = calloc(c->n_workers - from + 1, sizeof *attempts);
    if (!attempts) abort();
    int rc = poll_workers(ctx, c, from, attempts, why);
    free(attempts);
    return rc;
}

int sf_local_start_workers(sf_ctx *ctx, sf_local_cluster *c, size_t count, sf_diags *diags)
{
    size_t from = c->n_workers;
    if (count <= from) return 0;
    sf_local_proc *grown = realloc(c->workers, count * sizeof *grown);
    if (!grown) abort();
    c->workers = grown;
    memset(&c->workers[from], 0, (count - from) * sizeof *grown);
    char *why = NULL;
    for (size_t i = from; i < count; i++) {
        sf_local_proc *w = &c->workers[i];
        char *dir = sf_fmt("%s/worker-%zu", c->spec.work_dir, i);
        w->log = sf_fmt("%s/logs/worker-%zu.log", c->spec.work_dir, i);
        c->n_workers = i + 1;
        int rc = sf_local_mkdirs(c, dir, &why);
        free(dir);
        if (rc != 0 || spawn_worker(c, i, w, &why) != 0) {
            fail_workers(c, from, why, diags);
            free(why);
            return -1;
        }
        sf_log(ctx, SF_LOG_DEBUG, "local %s: worker %zu pid %d on ports %d/%d", c->id, i, w->pid, w->port,
               w->webui_port);
    }
    note_spawned(c);
    if (wait_workers(ctx, c, from, &why) != 0) {
        fail_workers(c, from, why, diags);
        free(why);
        return -1;
    }
    return 0;
}

int sf_local_stop_workers(sf_ctx *ctx, sf_local_cluster *c, size_t count, sf_diags *diags)
{
    if (count >= c->n_workers) return 0;
    int *ports = calloc(c->n_workers - count, sizeof *ports);
    if (!ports) abort();
    size_t n = c->n_workers - count;
    for (size_t i = 0; i < n; i++) ports[i] = c->workers[count + i].port;
    drop_workers(c, count);
    /* The master drops a worker as soon as its connection closes. */
    int rc = -1;
    for (int64_t delay = POLL_FIRST_MS;;) {
        sf_local_status st;
        char *err = NULL;
        if (sf_local_status_fetch(c->master.webui_port, &st, &err) == 0) {
            bool any = false;
            for (size_t i = 0; i < n && !any; i++) any = sf_local_status_worker_alive(&st, ports[i]);
            sf_local_status_clear(&st);
            if (!any) {
                rc = 0;
                break;
            }
        }
        free(err);
        if (backoff(ctx, &delay) != 0) {
            char *why = ctx_why(ctx, "Waiting for the Spark master to drop stopped workers");
            sf_diag_error(diags, NULL, "Spark workers did not stop", "%s", why);
            free(why);
            break;
        }
    }
    free(ports);
    return rc;
}

/* ---- whole cluster ------------------------------------------------------ */

int sf_local_stop_cluster(sf_local_cluster *c, sf_diags *diags)
{
    size_t n = c->n_workers;
    sf_local_proc **procs = calloc(n + 1, sizeof *procs);
    if (!procs) abort();
    for (size_t i = 0; i < n; i++) procs[i] = &c->workers[i];
    int rc = sf_local_stop_procs(procs, n, STOP_GRACE_MS);
    procs[0] = &c->master;
    if (sf_local_stop_procs(procs, 1, STOP_GRACE_MS) != 0) rc = -1;
    free(procs);
    if (rc != 0) {
        sf_diag_error(diags, NULL, "Spark processes survived",
                      "Some processes of local cluster %s did not exit after SIGTERM and "
                      "SIGKILL (master pid %d, process group %d). Check them with `ps -g %d`.",
                      c->id, c->master.pid, c->master.pgid, c->master.pgid);
        return -1;
    }
    /* Processes gone: their ports close with them; wait for the kernel. */
    for (int64_t waited = 0;; waited += 100) {
        int open_port = 0;
        if (sf_local_port_open(c->master.port)) open_port = c->master.port;
        else if (sf_local_port_open(c->master.webui_port)) open_port = c->master.webui_port;
        for (size_t i = 0; i < n && !open_port; i++) {
            if (sf_local_port_open(c->workers[i].port)) open_port = c->workers[i].port;
            else if (sf_local_port_open(c->workers[i].webui_port)) open_port = c->workers[i].webui_port;
        }
        if (!open_port) return 0;
        if (waited >= PORT_CLOSE_MS) {
            /* Our processes are gone, so someone else listens there now. */
            sf_diag_warning(diags, NULL, "Port still open after stopping Spark",
                            "127.0.0.1:%d still accepts connections although every process "
                            "of local cluster %s has exited; another program uses it now.",
                            open_port, c->id);
            return 0;
        }
        sf_local_sleep_ms(100);
    }
}

/* 1 with *why when a recorded process is no longer the one started. */
static int procs_gone(const sf_local_cluster *c, char **why)
{
    if (!sf_local_proc_alive(&c->master)) {
        *why = sf_fmt("the Spark master (pid %d) is no longer running", c->master.pid);
        return 1;
    }
    for (size_t i = 0; i < c->n_workers; i++) {
        if (!sf_local_proc_alive(&c->workers[i])) {
            *why = sf_fmt("Spark worker %zu (pid %d) is no longer running", i, c->workers[i].pid);
            return 1;
        }
    }
    return 0;
}

/* What the master's page says: 0 when it is ALIVE and lists each of our
 * workers ALIVE, 1 when not (*why), -1 when the page cannot be read. */
static int judge_status(const sf_local_cluster *c, char **why)
{
    sf_local_status st;
    char *err = NULL;
    if (sf_local_status_fetch(c->master.webui_port, &st, &err) != 0) {
        *why = sf_fmt("cannot read the Spark master's status: %s", err);
        free(err);
        return -1;
    }
    int rc = 0;
    if (strcmp(st.status, "ALIVE") != 0) {
        *why = sf_fmt("the Spark master reports status %s", st.status);
        rc = 1;
    }
    for (size_t i = 0; i < c->n_workers && rc == 0; i++) {
        if (!sf_local_status_worker_alive(&st, c->workers[i].port)) {
            *why = sf_fmt("the Spark master does not list worker %zu (port %d) as ALIVE "
                          "(%zu of %zu workers alive)",
                          i, c->workers[i].port, sf_local_status_alive_count(&st), c->n_workers);
            rc = 1;
        }
    }
    sf_local_status_clear(&st);
    return rc;
}

int sf_local_check_cluster(sf_ctx *ctx, const sf_local_cluster *c, char **why)
{
    if (procs_gone(c, why)) return 1;
    /* Every process runs, yet the master may briefly not list a worker: a
     * worker whose heartbeats stopped (a laptop that slept) is dropped and
     * registers again within seconds.  Only a state that lasts is drift. */
    int64_t until = sf_time_mono_ms() + STATUS_SETTLE_MS;
    int64_t delay = POLL_FIRST_MS * 2;
    for (;;) {
        char *seen = NULL;
        int rc = judge_status(c, &seen);
        if (rc == 0) return 0;
        if (sf_time_mono_ms() >= until || backoff(ctx, &delay) != 0) {
            *why = seen;
            return rc;
        }
        free(seen);
        if (procs_gone(c, why)) return 1;
    }
}

int sf_local_wait_alive(sf_ctx *ctx, const sf_local_cluster *c, sf_diags *diags)
{
    char *last = NULL;
    for (int64_t delay = POLL_FIRST_MS;;) {
        sf_local_status st;
        char *err = NULL;
        if (sf_local_status_fetch(c->master.webui_port, &st, &err) == 0) {
            size_t alive = sf_local_status_alive_count(&st);
            bool ours = true;
            for (size_t i = 0; i < c->n_workers && ours; i++)
                ours = sf_local_status_worker_alive(&st, c->workers[i].port);
            sf_local_status_clear(&st);
            if (ours && alive == c->n_workers) {
                free(last);
                return 0;
            }
            free(last);
            last = sf_fmt("the master counts %zu ALIVE workers, expected %zu", alive, c->n_workers);
        } else {
            free(last);
            last = err;
            err = NULL;
        }
        free(err);
        if (backoff(ctx, &delay) != 0) {
            char *why = ctx_why(ctx, "Waiting for the Spark master to count the workers");
            sf_diag_error(diags, NULL, "Spark workers not ready", "%s Last seen: %s.", why, last ? last : "nothing");
            free(why);
            free(last);
            return -1;
        }
    }
}
