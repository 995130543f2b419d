/* local.c — the local engine: a Spark standalone cluster on this machine.
 *
 * Implements the engine table entry on top of the other files of this
 * folder: resolve the spec, start master and workers, keep the record, judge
 * drift, scale workers in place, and stop everything on delete.
 */
#include "engines/local/local.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/time.h"

/* Upper bound on a create or an update when Terraform gives no timeout. */
#define START_TIMEOUT_MS (5 * 60 * 1000)

static char *now_rfc3339(void)
{
    char buf[SF_TIME_RFC3339_LEN];
    sf_time_rfc3339(buf, sf_time_wall_ms());
    return sf_strdup(buf);
}

static char *join_ints(const sf_local_cluster *c, long long (*of)(const sf_local_proc *))
{
    sf_buf b = {0};
    for (size_t i = 0; i < c->n_workers; i++) sf_buf_printf(&b, "%s%lld", i ? " " : "", of(&c->workers[i]));
    return sf_buf_take(&b);
}

static long long pid_of(const sf_local_proc *p)
{
    return p->pid;
}
static long long pgid_of(const sf_local_proc *p)
{
    return p->pgid;
}
static long long start_of(const sf_local_proc *p)
{
    return p->start_time;
}

static void put_fmt(sf_value *d, const char *key, char *owned)
{
    sf_value_put(d, key, sf_value_string(owned));
    free(owned);
}

/* Everything a later command needs to find the cluster again from the state
 * alone, whatever its HOME (locate.c): the record's directory, and each
 * process with its process group, start time and ports. */
static sf_value *details_of(const sf_local_cluster *c)
{
    sf_value *d = sf_value_map();
    sf_value_put(d, "work_dir", sf_value_string(c->spec.work_dir));
    put_fmt(d, "log_dir", sf_fmt("%s/logs", c->spec.work_dir));
    sf_value_put(d, "spark_home", sf_value_string(c->spec.spark_home));
    sf_value_put(d, "java_home", sf_value_string(c->java_home));
    if (c->record_dir) sf_value_put(d, "record_dir", sf_value_string(c->record_dir));
    put_fmt(d, "master_pid", sf_fmt("%d", c->master.pid));
    put_fmt(d, "master_pgid", sf_fmt("%d", c->master.pgid));
    put_fmt(d, "master_start_time", sf_fmt("%lld", c->master.start_time));
    put_fmt(d, "master_port", sf_fmt("%d", c->master.port));
    put_fmt(d, "master_webui_port", sf_fmt("%d", c->master.webui_port));
    /* Space-separated, in worker order. */
    put_fmt(d, "worker_pids", join_ints(c, pid_of));
    put_fmt(d, "worker_pgids", join_ints(c, pgid_of));
    put_fmt(d, "worker_start_times", join_ints(c, start_of));
    sf_buf ports = {0};
    for (size_t i = 0; i < c->n_workers; i++)
        sf_buf_printf(&ports, "%s%d %d", i ? " " : "", c->workers[i].port, c->workers[i].webui_port);
    put_fmt(d, "worker_ports", sf_buf_take(&ports));
    return d;
}

/* The block as the state keeps it: resolved, except that a path the user
 * wrote relative stays as written (the configuration must match). */
static sf_value *spec_value(const sf_local_cluster *c)
{
    sf_value *v = sf_local_spec_to_value(&c->spec);
    for (size_t i = 0; i < SF_LOCAL_N_PATHS; i++)
        if (c->written.path[i]) sf_value_put(v, sf_local_path_attrs[i], sf_value_string(c->written.path[i]));
    return v;
}

void sf_local_cluster_info(const sf_local_cluster *c, sf_cluster_info *out)
{
    sf_cluster_info_clear(out);
    out->id = sf_strdup(c->id);
    out->name = c->name ? sf_strdup(c->name) : NULL;
    out->state = sf_strdup("running");
    out->master_url = sf_fmt("spark://127.0.0.1:%d", c->master.port);
    out->web_ui_url = sf_fmt("http://127.0.0.1:%d", c->master.webui_port);
    out->created_at = sf_strdup(c->created_at);
    out->spec = spec_value(c);
    out->details = details_of(c);
}

static void record_error(sf_diags *diags, const char *id, const char *err)
{
    sf_diag_error(diags, NULL, "Cannot read the local cluster's record", "Local cluster %s: %s", id ? id : "", err);
}

/* Save the record; a failure becomes a diagnostic. */
static int save(const sf_local_cluster *c, sf_diags *diags)
{
    char *err = NULL;
    if (sf_local_record_save(c, &err) == 0) return 0;
    sf_diag_error(diags, NULL, "Cannot write the local cluster's record", "%s", err);
    free(err);
    return -1;
}

/* Stop the processes, then remove the work dir and the record. */
static int teardown(sf_local_cluster *c, sf_diags *diags)
{
    sf_local_cds_stop(c);
    if (sf_local_stop_cluster(c, diags) != 0) return -1;
    sf_local_workdir_remove(c);
    sf_local_record_remove(c);
    return 0;
}

/* Fill c from the spec: tools located, id drawn, directories made. */
static int prepare(sf_ctx *ctx, const char *name, const sf_value *spec, sf_local_cluster *c, sf_diags *diags)
{
    char *err = NULL;
    sf_value *abs = sf_local_spec_absolute(spec, &c->written, diags);
    if (!abs) return -1;
    int parsed = sf_local_spec_from_value(abs, &c->spec, diags);
    sf_value_free(abs);
    if (parsed != 0) return -1;
    c->java_home = sf_local_find_java(c->spec.java_home, diags);
    if (!c->java_home) return -1;
    char *spark = sf_local_find_spark(ctx, c->spec.spark_home, diags);
    if (!spark) return -1;
    free(c->spec.spark_home);
    c->spec.spark_home = spark;
    char id[19];
    if (sf_local_new_id(id, &err) != 0) goto fail;
    c->id = sf_strdup(id);
    c->name = name ? sf_strdup(name) : NULL;
    c->created_at = now_rfc3339();
    c->record_dir = sf_local_registry_dir(c->id, &err);
    if (!c->record_dir) goto fail;
    if (!c->spec.work_dir) {
        c->spec.work_dir = sf_strdup(c->record_dir);
        c->default_work_dir = true;
    }
    /* logs/ for the daemons, runs/ for pipeline stages (run.c): made here so
     * that delete knows they are the engine's. */
    static const char *const subdirs[] = {"logs", "runs"};
    for (size_t i = 0; i < 2; i++) {
        char *dir = sf_fmt("%s/%s", c->spec.work_dir, subdirs[i]);
        int rc = sf_local_mkdirs(c, dir, &err);
        free(dir);
        if (rc != 0) goto fail;
    }
    return save(c, diags);
fail:
    sf_diag_error(diags, c->spec.work_dir && !c->default_work_dir ? "local.work_dir" : NULL,
                  "Cannot prepare the local cluster", "%s", err);
    free(err);
    return -1;
}

static sf_engine_status local_create(sf_ctx *ctx, const sf_engine_env *env, const char *name, const sf_value *spec,
                                     sf_cluster_info *out, sf_diags *diags)
{
    (void)env;
    sf_local_cluster c = {0};
    int64_t t0 = sf_time_mono_ms();
    if (prepare(ctx, name, spec, &c, diags) != 0) {
        if (c.id) teardown(&c, diags);
        sf_local_cluster_clear(&c);
        return SF_ENGINE_ERROR;
    }
    sf_ctx *op = sf_ctx_new_child(ctx);
    sf_ctx_set_deadline(op, sf_time_mono_ms() + START_TIMEOUT_MS);
    int rc = sf_local_start_master(op, &c, diags);
    if (rc == 0) rc = save(&c, diags);
    if (rc == 0) rc = sf_local_start_workers(op, &c, (size_t)c.spec.workers, diags);
    if (rc == 0) rc = save(&c, diags);
    sf_ctx_free(op);
    if (rc != 0) {
        teardown(&c, diags);
        sf_local_cluster_clear(&c);
        return SF_ENGINE_ERROR;
    }
    sf_log(ctx, SF_LOG_INFO, "local cluster %s up: master spark://127.0.0.1:%d, %zu workers, %lld ms", c.id,
           c.master.port, c.n_workers, (long long)(sf_time_mono_ms() - t0));
    sf_local_cds_build(ctx, &c);
    sf_local_cluster_info(&c, out);
    sf_local_cluster_clear(&c);
    return SF_ENGINE_OK;
}

/* Find cluster id (locate.c) with what the state recorded (may be NULL):
 * 0 found, 1 none (GONE), -1 error (diagnosed). */
static int load(sf_ctx *ctx, const char *id, const sf_cluster_info *recorded, sf_local_cluster *c, sf_diags *diags)
{
    char *err = NULL;
    int rc = sf_local_locate(ctx, id, recorded, c, &err);
    if (rc < 0) record_error(diags, id, err);
    free(err);
    return rc;
}

static sf_engine_status local_read(sf_ctx *ctx, const sf_engine_env *env, const char *id,
                                   const sf_cluster_info *recorded, sf_cluster_info *out, sf_diags *diags)
{
    (void)env;
    sf_local_cluster c;
    int rc = load(ctx, id, recorded, &c, diags);
    if (rc != 0) return rc > 0 ? SF_ENGINE_GONE : SF_ENGINE_ERROR;
    char *why = NULL;
    sf_engine_status st = SF_ENGINE_OK;
    rc = sf_local_check_cluster(ctx, &c, &why);
    if (rc == 0) {
        sf_local_cluster_info(&c, out);
    } else if (rc > 0) {
        /* Drifted: the resource will plan a new cluster.  Stop what is left
         * of this one first so that nothing leaks. */
        sf_log(ctx, SF_LOG_WARN, "local cluster %s is broken (%s): stopping what remains", id, why);
        st = teardown(&c, diags) == 0 ? SF_ENGINE_GONE : SF_ENGINE_ERROR;
    } else {
        sf_diag_error(diags, NULL, "Cannot tell whether the local cluster runs",
                      "Local cluster %s: %s. Its processes are alive; try again, or look at "
                      "the logs in %s/logs.",
                      id, why, c.spec.work_dir);
        st = SF_ENGINE_ERROR;
    }
    free(why);
    sf_local_cluster_clear(&c);
    return st;
}

static sf_engine_status local_update(sf_ctx *ctx, const sf_engine_env *env, const char *id,
                                     const sf_cluster_info *recorded, const sf_value *old_spec,
                                     const sf_value *new_spec, sf_cluster_info *out, sf_diags *diags)
{
    (void)env;
    (void)old_spec; /* the record knows what runs */
    sf_local_paths written;
    sf_value *abs = sf_local_spec_absolute(new_spec, &written, diags);
    sf_local_paths_clear(&written);
    sf_local_spec want;
    int parsed = abs ? sf_local_spec_from_value(abs, &want, diags) : -1;
    sf_value_free(abs);
    if (parsed != 0) return SF_ENGINE_ERROR;
    size_t n = (size_t)want.workers;
    sf_local_spec_clear(&want);
    sf_local_cluster c;
    int rc = load(ctx, id, recorded, &c, diags);
    if (rc > 0) {
        sf_diag_error(diags, NULL, "Local cluster not found",
                      "Local cluster %s has no record any more; run `terraform apply` again "
                      "to create a new one.",
                      id);
        return SF_ENGINE_ERROR;
    }
    if (rc < 0) return SF_ENGINE_ERROR;
    sf_ctx *op = sf_ctx_new_child(ctx);
    sf_ctx_set_deadline(op, sf_time_mono_ms() + START_TIMEOUT_MS);
    char *why = NULL;
    rc = sf_local_check_cluster(op, &c, &why);
    if (rc != 0) {
        sf_diag_error(diags, NULL, "Local cluster is not running",
                      "Cannot scale local cluster %s: %s. Run `terraform apply` again: the "
                      "refresh will notice and replace it.",
                      id, why);
        free(why);
    } else if (n != c.n_workers) {
        rc = n > c.n_workers ? sf_local_start_workers(op, &c, n, diags) : sf_local_stop_workers(op, &c, n, diags);
        /* Record what runs now, whether or not the wait succeeded. */
        c.spec.workers = (int64_t)c.n_workers;
        if (save(&c, diags) != 0) rc = -1;
    }
    if (rc == 0) rc = sf_local_wait_alive(op, &c, diags);
    sf_ctx_free(op);
    if (rc == 0) sf_local_cluster_info(&c, out);
    sf_local_cluster_clear(&c);
    return rc == 0 ? SF_ENGINE_OK : SF_ENGINE_ERROR;
}

static sf_engine_status local_delete(sf_ctx *ctx, const sf_engine_env *env, const char *id,
                                     const sf_cluster_info *recorded, sf_diags *diags)
{
    (void)env;
    sf_local_cluster c;
    /* From the state too: destroy -refresh=false under another HOME has not
     * read (and linked) the cluster first. */
    int rc = load(ctx, id, recorded, &c, diags);
    if (rc > 0) return SF_ENGINE_OK;
    if (rc < 0) return SF_ENGINE_ERROR;
    sf_log(ctx, SF_LOG_INFO, "stopping local cluster %s (master pid %d, %zu workers)", id, c.master.pid, c.n_workers);
    rc = teardown(&c, diags);
    sf_local_cluster_clear(&c);
    return rc == 0 ? SF_ENGINE_OK : SF_ENGINE_ERROR;
}

static const char *const local_updatable[] = {"workers", NULL};

const sf_engine sf_engine_local = {
    .name = "local",
    .id_prefix = "local-",
    .spec = &sf_local_spec_block,
    .updatable = local_updatable,
    .cluster_create = local_create,
    .cluster_read = local_read,
    .cluster_update = local_update,
    .cluster_delete = local_delete,
    .pipeline_run = sf_local_pipeline_run,
    .spec_summary = sf_local_spec_summary,
    .pipeline_run_launched = sf_local_pipeline_run_launched,
    .cluster_list = sf_local_cluster_list,
    .airflow_target = sf_local_airflow_target,
};
