/* local.c — the `local` orchestrator: Airflow 3 on this machine.
 *
 * Create prepares the work dir (AIRFLOW_HOME: a copy of the DAG factory,
 * specs/, the 0600 passwords file), migrates the SQLite database, starts
 * the four components in one process group and waits until the health
 * endpoint says every one is healthy; any failure stops the group and
 * reports the end of the failing component's log.  Read reports the host
 * gone as soon as one component died (and stops the rest, so that the
 * create the plan then proposes leaks nothing).  Delete stops the group
 * (TERM, then KILL), waits until no process of it is left and its API port
 * is free, and keeps the work dir: its logs and database of past runs stay
 * for the user to read (a new host on the same work dir reuses them).
 */
#include "orchestrators/local/airflow_local.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/files.h"
#include "base/time.h"

extern char **environ;

/* Upper bound on a start when Terraform gives no timeout. */
#define START_TIMEOUT_MS (10 * 60 * 1000)
/* SIGTERM -> every component gone: 3-10 s measured (the api-server is the
 * slowest).  A broken host (a component killed) keeps orphaned executor
 * workers that wait for their dead scheduler: they get less time. */
#define STOP_GRACE_MS 15000
#define BROKEN_GRACE_MS 5000
#define PORT_CLOSE_MS 10000
#define TAIL_LINES 30
#define POLL_MS 250

/* ---- small pieces -------------------------------------------------------- */

static char *now_rfc3339(void)
{
    char buf[SF_TIME_RFC3339_LEN];
    sf_time_rfc3339(buf, sf_time_wall_ms());
    return sf_strdup(buf);
}

static void truncate_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) close(fd);
}

/* Which component a health key speaks for. */
static int component_of_health(const char *why)
{
    if (!why) return -1;
    if (strncmp(why, "scheduler", 9) == 0) return 1;
    if (strncmp(why, "dag_processor", 13) == 0) return 2;
    if (strncmp(why, "triggerer", 9) == 0) return 3;
    return 0; /* metadatabase: the api-server reports it */
}

/* An error whose detail ends with the last lines of component i's log. */
static void diag_with_log(sf_diags *diags, const char *summary, const char *reason, const sf_afl_host *h, int i)
{
    const char *log = h->group.procs[i].log;
    char *tail = sf_local_log_tail(log, TAIL_LINES);
    sf_diag_error(diags, NULL, summary, "%s\n\nLast lines of %s:\n%s", reason, log ? log : "(no log)", tail);
    free(tail);
}

static void fill_out(const sf_afl_host *h, const char *password, const char *version, sf_airflow_host *out)
{
    sf_airflow_host_clear(out);
    out->id = sf_strdup(h->id);
    out->name = sf_strdup(h->name);
    out->state = sf_strdup("running");
    out->url = sf_fmt("http://127.0.0.1:%d", h->ports.api);
    out->user = sf_strdup(SF_AFL_USER);
    out->password = sf_strdup(password);
    out->version = sf_strdup(version);
    out->created_at = sf_strdup(h->created_at);
    out->spec = sf_afl_spec_to_value(&h->spec, h->written);
    out->details = sf_afl_details(h);
}

/* ---- create ----------------------------------------------------------------- */

/* Ports: the API's (given, or picked) and the two log servers'. */
static int choose_ports(sf_afl_host *h, sf_diags *diags)
{
    int picked[3];
    char *err = NULL;
    if (sf_local_pick_ports(picked, 3, &err) != 0) {
        sf_diag_error(diags, NULL, "No free port for Airflow", "%s", err);
        free(err);
        return -1;
    }
    if (h->spec.api_port && sf_local_port_open((int)h->spec.api_port)) {
        sf_diag_error(diags, "local.api_port", "Port in use",
                      "127.0.0.1:%lld already accepts connections; choose another api_port or leave it unset.",
                      (long long)h->spec.api_port);
        return -1;
    }
    if (!h->spec.api_port) h->spec.api_port = picked[0];
    h->ports = (sf_afl_ports){(int)h->spec.api_port, picked[1], picked[2]};
    return 0;
}

/* Everything before the processes: spec, id, folders, DAGs, password file. */
static int prepare(const char *name, const sf_value *spec, sf_afl_host *h, char password[33], sf_diags *diags)
{
    if (sf_afl_spec_from_value(spec, name, &h->spec, h->written, diags) != 0) return -1;
    if (access(h->spec.airflow_bin, X_OK) != 0) {
        sf_diag_error(diags, "local.airflow_bin", "Airflow not found",
                      "%s is not an executable (%s). Run scripts/airflow-venv (or scripts/bootstrap) to make "
                      ".venv-airflow, or set airflow_bin to an Airflow 3 `airflow` command.",
                      h->spec.airflow_bin, strerror(errno));
        return -1;
    }
    char id[21], *err = NULL;
    if (sf_afl_new_id(id, &err) != 0 || sf_afl_new_password(password, &err) != 0) goto fail;
    h->id = sf_strdup(id);
    h->name = sf_strdup(name);
    h->created_at = now_rfc3339();
    h->dags_folder = sf_fmt("%s/dags", h->spec.work_dir);
    h->log_dir = sf_fmt("%s/logs", h->spec.work_dir);
    h->password_file = sf_fmt("%s/passwords.json", h->spec.work_dir);
    /* Private: the database holds the host's sessions and connections. */
    if (sf_file_mkdirs_mode(h->spec.work_dir, 0700) != 0 || sf_file_mkdirs(h->log_dir) != 0) {
        err = sf_fmt("cannot create %s: %s", h->spec.work_dir, strerror(errno));
        goto fail;
    }
    if (sf_afl_copy_dags(h->spec.dags_source, h->dags_folder, &err) != 0 ||
        sf_afl_write_passwords(h->password_file, SF_AFL_USER, password, &err) != 0)
        goto fail;
    return choose_ports(h, diags);
fail:
    sf_diag_error(diags, NULL, "Cannot prepare the Airflow host", "%s", err);
    free(err);
    return -1;
}

/* Poll until every component is healthy.  0 with *version, or -1 with a
 * diagnostic. */
static int wait_healthy(sf_ctx *ctx, const sf_afl_host *h, char **version, sf_diags *diags)
{
    char *last = NULL;
    for (;;) {
        int dead = sf_afl_dead_component(&h->group);
        if (dead >= 0) {
            char *why = sf_fmt("The Airflow %s (pid %d) exited during start-up.", sf_afl_components[dead],
                               h->group.procs[dead].pid);
            diag_with_log(diags, "Airflow did not start", why, h, dead);
            free(why);
            free(last);
            return -1;
        }
        char *body = NULL, *err = NULL;
        long status = sf_afl_get(ctx, h->ports.api, "/api/v2/monitor/health", &body, &err);
        free(last);
        last = NULL;
        if (status == 200 && sf_afl_health_parse(body, strlen(body), &last) == 0) {
            free(body);
            body = NULL;
            if (sf_afl_get(ctx, h->ports.api, "/api/v2/version", &body, &err) == 200)
                *version = sf_afl_version_parse(body, strlen(body));
            free(body);
            free(err);
            return 0;
        }
        if (!last) last = err ? err : sf_fmt("the health endpoint answered HTTP %ld", status);
        else free(err);
        free(body);
        if (sf_ctx_sleep_ms(ctx, POLL_MS) != 0) {
            const char *r = sf_ctx_reason(ctx);
            char *why = sf_fmt("Waiting for every Airflow component to report healthy: the operation was %s "
                               "before it finished. Last seen: %s.",
                               r ? r : "stopped", last);
            diag_with_log(diags, "Airflow did not become healthy", why, h, component_of_health(last));
            free(why);
            free(last);
            return -1;
        }
    }
}

static sf_engine_status local_create(sf_ctx *ctx, const sf_engine_env *env, const char *name, const sf_value *spec,
                                     sf_airflow_host *out, sf_diags *diags)
{
    (void)env;
    sf_afl_host h = {0};
    char password[33] = {0};
    int64_t t0 = sf_time_mono_ms();
    if (prepare(name, spec, &h, password, diags) != 0) {
        sf_afl_host_clear(&h);
        return SF_ENGINE_ERROR;
    }
    sf_ctx *op = sf_ctx_new_child(ctx);
    sf_ctx_set_deadline(op, sf_time_mono_ms() + START_TIMEOUT_MS);
    char **envp = sf_afl_env(&h.spec, &h.ports, environ);
    char *migrate_log = sf_fmt("%s/db-migrate.log", h.log_dir), *err = NULL, *version = NULL;
    truncate_file(migrate_log);
    int rc = sf_afl_migrate(op, h.spec.airflow_bin, envp, h.spec.work_dir, migrate_log, &err);
    if (rc != 0) {
        char *tail = sf_local_log_tail(migrate_log, TAIL_LINES);
        sf_diag_error(diags, NULL, "Airflow database migration failed", "%s.\n\nLast lines of %s:\n%s", err,
                      migrate_log, tail);
        free(tail);
    }
    int64_t t_migrated = sf_time_mono_ms();
    if (rc == 0) {
        for (int i = 0; i < SF_AFL_N_COMPONENTS; i++) {
            char *log = sf_fmt("%s/%s.log", h.log_dir, sf_afl_components[i]);
            truncate_file(log);
            free(log);
        }
        rc = sf_afl_start(h.spec.airflow_bin, envp, h.spec.work_dir, h.log_dir, &h.group, &err);
        if (rc != 0) sf_diag_error(diags, NULL, "Airflow did not start", "%s", err);
    }
    if (rc == 0) {
        sf_log(ctx, SF_LOG_DEBUG, "airflow %s: group %d, api-server pid %d on port %d", h.id, h.group.pgid,
               h.group.procs[0].pid, h.ports.api);
        /* On disk at once: a provider killed now leaves a findable host. */
        char *save_err = NULL;
        if (sf_afl_host_save(&h, &save_err) != 0) sf_log(ctx, SF_LOG_WARN, "airflow %s: %s", h.id, save_err);
        free(save_err);
        rc = wait_healthy(op, &h, &version, diags);
    }
    sf_ctx_free(op);
    sf_local_strv_free(envp);
    free(migrate_log);
    free(err);
    if (rc != 0) {
        if (h.group.pgid) sf_afl_stop(&h.group, STOP_GRACE_MS);
        char *path = sf_fmt("%s/host.json", h.spec.work_dir);
        unlink(path);
        free(path);
    } else {
        int64_t now = sf_time_mono_ms();
        sf_log(ctx, SF_LOG_INFO, "airflow %s %s up at http://127.0.0.1:%d: migrate %lld ms, start to healthy %lld ms",
               h.id, version ? version : "?", h.ports.api, (long long)(t_migrated - t0), (long long)(now - t_migrated));
        fill_out(&h, password, version, out);
    }
    memset(password, 0, sizeof password);
    free(version);
    sf_afl_host_clear(&h);
    return rc == 0 ? SF_ENGINE_OK : SF_ENGINE_ERROR;
}

/* ---- finding a host again ------------------------------------------------- */

/* h from what the state recorded (or, after an import, host.json).
 * 0 found, 1 nothing to find, -1 error (diagnosed). */
static int load(const char *id, const sf_airflow_host *recorded, sf_afl_host *h, sf_diags *diags)
{
    sf_afl_record found = {0};
    const sf_value *d = recorded ? recorded->details : NULL;
    if (!d || !sf_value_get(d, "pgid")) {
        if (sf_afl_host_find(id, &found) != 0) return 1;
        d = found.details;
    }
    char *err = NULL;
    int rc = sf_afl_from_details(id, d, h, &err);
    if (rc != 0) {
        sf_diag_error(diags, NULL, "Cannot find the Airflow host", "%s", err);
        free(err);
    } else {
        /* After an import the state has neither: host.json has both. */
        const char *name = recorded && recorded->name ? recorded->name : found.name;
        const char *created = recorded && recorded->created_at ? recorded->created_at : found.created_at;
        h->name = sf_strdup(name);
        h->created_at = sf_strdup(created);
    }
    sf_afl_record_clear(&found);
    return rc == 0 ? 0 : -1;
}

/* The block as the state holds it, when it holds one (relative spellings
 * kept); else the one rebuilt from the details. */
static void keep_recorded_spec(const sf_airflow_host *recorded, sf_airflow_host *out)
{
    const sf_value *wd = recorded && recorded->spec ? sf_value_get(recorded->spec, "work_dir") : NULL;
    if (!wd || sf_value_is_null(wd) || sf_value_is_unknown(wd)) return;
    sf_value_free(out->spec);
    out->spec = sf_value_copy(recorded->spec);
}

/* Stop the group (TERM, grace_ms, KILL) and wait until its API port is free.  0, or -1 with a
 * diagnostic. */
static int stop_host(sf_afl_host *h, int64_t grace_ms, sf_diags *diags)
{
    if (sf_afl_stop(&h->group, grace_ms) != 0) {
        sf_diag_error(diags, NULL, "Airflow did not stop",
                      "Processes of Airflow %s (process group %d) survived SIGTERM and SIGKILL; check them with "
                      "`ps -g %d`.",
                      h->id, h->group.pgid, h->group.pgid);
        return -1;
    }
    for (int64_t waited = 0; sf_local_port_open(h->ports.api); waited += 100) {
        if (waited >= PORT_CLOSE_MS) {
            sf_diag_warning(diags, NULL, "Port still open after stopping Airflow",
                            "127.0.0.1:%d still accepts connections although every process of Airflow %s has "
                            "exited; another program uses it now.",
                            h->ports.api, h->id);
            break;
        }
        sf_local_sleep_ms(100);
    }
    char *path = sf_fmt("%s/host.json", h->spec.work_dir);
    unlink(path);
    free(path);
    return 0;
}

/* ---- read, update, delete ---------------------------------------------------- */

static sf_engine_status local_read(sf_ctx *ctx, const sf_engine_env *env, const char *id,
                                   const sf_airflow_host *recorded, sf_airflow_host *out, sf_diags *diags)
{
    (void)env;
    sf_afl_host h;
    int rc = load(id, recorded, &h, diags);
    if (rc != 0) return rc > 0 ? SF_ENGINE_GONE : SF_ENGINE_ERROR;
    sf_engine_status st = SF_ENGINE_OK;
    int dead = sf_afl_dead_component(&h.group);
    if (dead >= 0) {
        /* Drift: the plan will create a new host; stop what is left of this
         * one first so that nothing leaks. */
        sf_log(ctx, SF_LOG_WARN, "airflow %s: the %s (pid %d) is no longer running; stopping what remains", id,
               sf_afl_components[dead], h.group.procs[dead].pid);
        st = stop_host(&h, BROKEN_GRACE_MS, diags) == 0 ? SF_ENGINE_GONE : SF_ENGINE_ERROR;
    } else {
        char *body = NULL, *err = NULL, *version = NULL;
        if (sf_afl_get(ctx, h.ports.api, "/api/v2/version", &body, &err) == 200)
            version = sf_afl_version_parse(body, strlen(body));
        free(body);
        free(err);
        char *password = recorded && recorded->password ? sf_strdup(recorded->password)
                                                        : sf_afl_read_password(h.password_file, SF_AFL_USER);
        fill_out(&h, password, version ? version : (recorded ? recorded->version : NULL), out);
        keep_recorded_spec(recorded, out);
        if (password) memset(password, 0, strlen(password));
        free(password);
        free(version);
    }
    sf_afl_host_clear(&h);
    return st;
}

/* Nothing is updatable in place: the resource asks only when the spec is
 * unchanged, so this is a read. */
static sf_engine_status local_update(sf_ctx *ctx, const sf_engine_env *env, const char *id,
                                     const sf_airflow_host *recorded, const sf_value *old_spec,
                                     const sf_value *new_spec, sf_airflow_host *out, sf_diags *diags)
{
    (void)old_spec;
    (void)new_spec;
    return local_read(ctx, env, id, recorded, out, diags);
}

static sf_engine_status local_delete(sf_ctx *ctx, const sf_engine_env *env, const char *id,
                                     const sf_airflow_host *recorded, sf_diags *diags)
{
    (void)env;
    sf_afl_host h;
    int rc = load(id, recorded, &h, diags);
    if (rc > 0) return SF_ENGINE_OK;
    if (rc < 0) return SF_ENGINE_ERROR;
    sf_log(ctx, SF_LOG_INFO, "stopping airflow %s (process group %d)", id, h.group.pgid);
    rc = stop_host(&h, STOP_GRACE_MS, diags);
    sf_afl_host_clear(&h);
    return rc == 0 ? SF_ENGINE_OK : SF_ENGINE_ERROR;
}

/* ---- specs ------------------------------------------------------------------ */

static bool pipeline_name_ok(const char *p)
{
    if (!p || !*p || p[0] == '.' || strlen(p) > 200) return false;
    for (; *p; p++)
        if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') || ('0' <= *p && *p <= '9') || strchr("-_.", *p)))
            return false;
    return true;
}

static sf_engine_status local_spec_put(sf_ctx *ctx, const sf_engine_env *env, const sf_airflow_host *host,
                                       const char *pipeline, const char *json, sf_diags *diags)
{
    (void)ctx;
    (void)env;
    const sf_value *v = host && host->details ? sf_value_get(host->details, "dags_folder") : NULL;
    const char *dags = v && !sf_value_is_null(v) ? sf_value_get_str(v) : NULL;
    if (!dags || dags[0] != '/' || !pipeline_name_ok(pipeline)) {
        sf_diag_error(diags, NULL, "Cannot place the pipeline's spec", "Airflow %s: %s.",
                      host && host->id ? host->id : "",
                      dags ? "the pipeline name is not a file name" : "its DAG folder is unknown");
        return SF_ENGINE_ERROR;
    }
    char *dir = sf_fmt("%s/specs", dags), *path = sf_fmt("%s/%s.json", dir, pipeline);
    int rc = sf_file_mkdirs(dir);
    if (rc == 0)
        rc = json ? sf_file_write_atomic(path, json, strlen(json), 0644)
                  : (unlink(path) == 0 || errno == ENOENT ? sf_file_fsync_dir(dir) : -1);
    if (rc != 0)
        sf_diag_error(diags, NULL, json ? "Cannot write the pipeline's spec" : "Cannot remove the pipeline's spec",
                      "%s: %s", path, strerror(errno));
    free(dir);
    free(path);
    return rc == 0 ? SF_ENGINE_OK : SF_ENGINE_ERROR;
}

const sf_orchestrator sf_orchestrator_local = {
    .name = "local",
    .id_prefix = "airflow-",
    .spec = &sf_airflow_local_block,
    .updatable = NULL,
    .user = SF_AFL_USER,
    .host_create = local_create,
    .host_read = local_read,
    .host_update = local_update,
    .host_delete = local_delete,
    .spec_put = local_spec_put,
    .host_list = sf_afl_host_list,
};
