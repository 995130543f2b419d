/* locate.c — finding a cluster when this HOME's registry does not know it.
 *
 * The registry lives under $HOME, but HOME is not a property of a cluster:
 * a CI runner, sudo, another account or a container may run the next
 * command with another one.  A cluster whose processes run must never be
 * reported gone for that (the plan would start a second one and destroy
 * would leave the first running), so what Terraform's state recorded in
 * `details` is enough to find it again: the record's directory, and, should
 * the record be lost, every process with its start time, process group and
 * ports.
 */
#include "engines/local/local.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/time.h"

/* A detail of the state, or NULL. */
static const char *detail(const sf_cluster_info *recorded, const char *key)
{
    if (!recorded || !recorded->details) return NULL;
    const sf_value *v = sf_value_get(recorded->details, key);
    const char *s = v && !sf_value_is_null(v) && !sf_value_is_unknown(v) ? sf_value_get_str(v) : NULL;
    return s && *s ? s : NULL;
}

/* A whole decimal number; false when s is not one. */
static bool parse_ll(const char *s, long long *out)
{
    if (!s) return false;
    char *end;
    *out = strtoll(s, &end, 10);
    return end != s && *end == 0;
}

/* Space-separated numbers into a new array; -1 when one is not a number. */
static long long *parse_list(const char *s, size_t *n)
{
    *n = 0;
    size_t cap = strlen(s) / 2 + 1;
    long long *v = calloc(cap, sizeof *v);
    if (!v) abort();
    for (const char *p = s; *p;) {
        while (*p == ' ') p++;
        if (!*p) break;
        char *end;
        long long x = strtoll(p, &end, 10);
        if (end == p || (*end && *end != ' ') || *n == cap) {
            free(v);
            *n = (size_t)-1;
            return NULL;
        }
        v[(*n)++] = x;
        p = end;
    }
    return v;
}

/* A list detail of exactly `want` numbers (want 0: any length). */
static long long *list_detail(const sf_cluster_info *recorded, const char *key, size_t want, size_t *n)
{
    const char *s = detail(recorded, key);
    if (!s && want == 0) s = ""; /* a cluster without workers */
    if (!s) return NULL;
    long long *v = parse_list(s, n);
    if (v && want && *n != want) {
        free(v);
        return NULL;
    }
    return v;
}

/* The spec's string attribute as the state holds it, or NULL. */
static char *spec_str(const sf_cluster_info *recorded, const char *key)
{
    const sf_value *v = recorded->spec ? sf_value_get(recorded->spec, key) : NULL;
    const char *s = v && !sf_value_is_null(v) && !sf_value_is_unknown(v) ? sf_value_get_str(v) : NULL;
    return s ? sf_strdup(s) : NULL;
}

static void set_proc(sf_local_proc *p, long long pid, long long pgid, long long start, long long port, long long webui,
                     char *log)
{
    p->pid = (int)pid;
    p->pgid = (int)pgid;
    p->start_time = start;
    p->port = (int)port;
    p->webui_port = (int)webui;
    p->log = log;
}

/* Rebuild c from the details alone.  0 when every fact needed is there,
 * 1 when the state is too old to say (no start times: a pid alone proves
 * nothing). */
static int rebuild(const char *id, const sf_cluster_info *recorded, sf_local_cluster *c)
{
    long long mpid, mpgid, mstart, mport, mweb;
    const char *wd = detail(recorded, "work_dir"), *spark = detail(recorded, "spark_home"),
               *java = detail(recorded, "java_home");
    if (!wd || wd[0] != '/' || !spark || !java || !parse_ll(detail(recorded, "master_pid"), &mpid) ||
        !parse_ll(detail(recorded, "master_pgid"), &mpgid) ||
        !parse_ll(detail(recorded, "master_start_time"), &mstart) ||
        !parse_ll(detail(recorded, "master_port"), &mport) || !parse_ll(detail(recorded, "master_webui_port"), &mweb))
        return 1;
    size_t n = 0, k;
    long long *pids = list_detail(recorded, "worker_pids", 0, &n);
    long long *pgids = pids ? list_detail(recorded, "worker_pgids", n, &k) : NULL;
    long long *starts = pids ? list_detail(recorded, "worker_start_times", n, &k) : NULL;
    long long *ports = pids ? list_detail(recorded, "worker_ports", 2 * n, &k) : NULL;
    int rc = 1;
    if (pids && (n == 0 || (pgids && starts && ports))) {
        memset(c, 0, sizeof *c);
        c->id = sf_strdup(id);
        c->name = sf_strdup(recorded->name);
        c->created_at = sf_strdup(recorded->created_at);
        if (!c->created_at) { /* the record requires one */
            char now[SF_TIME_RFC3339_LEN];
            sf_time_rfc3339(now, sf_time_wall_ms());
            c->created_at = sf_strdup(now);
        }
        c->spec.workers = (int64_t)n;
        const sf_value *cores = recorded->spec ? sf_value_get(recorded->spec, "worker_cores") : NULL;
        if (!cores || sf_value_get_int(cores, &c->spec.worker_cores) != 0) c->spec.worker_cores = 1;
        c->spec.worker_memory = spec_str(recorded, "worker_memory");
        if (!c->spec.worker_memory) c->spec.worker_memory = sf_strdup("1g");
        c->spec.spark_home = sf_strdup(spark);
        c->spec.work_dir = sf_strdup(wd);
        char *configured_java = spec_str(recorded, "java_home");
        c->spec.java_home = configured_java ? sf_strdup(java) : NULL;
        free(configured_java);
        c->java_home = sf_strdup(java);
        /* The spellings the state keeps for relative paths. */
        for (size_t i = 0; i < SF_LOCAL_N_PATHS; i++) {
            char *s = spec_str(recorded, sf_local_path_attrs[i]);
            if (s && s[0] != '/') c->written.path[i] = s;
            else free(s);
        }
        /* Which directories the engine made is unknown now: destroy
         * removes none of them, only the processes go. */
        set_proc(&c->master, mpid, mpgid, mstart, mport, mweb, sf_fmt("%s/logs/master.log", wd));
        c->workers = calloc(n ? n : 1, sizeof *c->workers);
        if (!c->workers) abort();
        for (size_t i = 0; i < n; i++)
            set_proc(&c->workers[i], pids[i], pgids[i], starts[i], ports[2 * i], ports[2 * i + 1],
                     sf_fmt("%s/logs/worker-%zu.log", wd, i));
        c->n_workers = n;
        rc = 0;
    }
    free(pids);
    free(pgids);
    free(starts);
    free(ports);
    return rc;
}

/* True when any process of c is still the one that was started. */
static bool any_alive(const sf_local_cluster *c)
{
    if (sf_local_proc_alive(&c->master)) return true;
    for (size_t i = 0; i < c->n_workers; i++)
        if (sf_local_proc_alive(&c->workers[i])) return true;
    return false;
}

/* Make this HOME's registry find c from now on: delete is asked by id
 * alone, so a cluster this HOME cannot find again is an error now rather
 * than an orphan later. */
static int adopt(sf_ctx *ctx, sf_local_cluster *c, char **err)
{
    if (sf_local_registry_link(c, err) != 0) {
        sf_local_cluster_clear(c);
        return -1;
    }
    sf_log(ctx, SF_LOG_INFO, "local cluster %s: found through the state in %s; linked into this HOME's registry", c->id,
           c->record_dir);
    return 0;
}

int sf_local_locate(sf_ctx *ctx, const char *id, const sf_cluster_info *recorded, sf_local_cluster *out, char **err)
{
    int rc = sf_local_record_load(id, out, err);
    if (rc != 1 || !recorded) return rc;
    /* The record where the state says it is; states written before
     * record_dir existed name the default work dir, which holds it too. */
    const char *dirs[] = {detail(recorded, "record_dir"), detail(recorded, "work_dir")};
    for (size_t i = 0; i < 2; i++) {
        if (!dirs[i] || dirs[i][0] != '/') continue;
        rc = sf_local_record_load_from(dirs[i], id, out, err);
        if (rc == 0) return adopt(ctx, out, err);
        if (rc != 1) return rc;
    }
    /* No record anywhere: what runs still counts. */
    if (rebuild(id, recorded, out) != 0) return 1;
    if (!any_alive(out)) {
        sf_local_cluster_clear(out);
        return 1;
    }
    sf_log(ctx, SF_LOG_WARN,
           "local cluster %s: no record found, but its processes run (master pid %d); "
           "writing a new record in this HOME's registry",
           id, out->master.pid);
    if (sf_local_record_save(out, err) != 0) {
        sf_local_cluster_clear(out);
        return -1;
    }
    out->record_dir = sf_local_registry_dir(id, err);
    return 0;
}
