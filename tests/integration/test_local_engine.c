/* test_local_engine.c — the local engine against a real Spark.
 *
 * Starts real Spark standalone clusters (so it is slow: two clusters and one
 * aborted start) and checks every claim from the outside: pids in /proc,
 * sessions and parents, the master's own JSON page fetched here with
 * libcurl, TCP connects to each port, the files left on disk.  Each test
 * runs with a private HOME; the teardown kills whatever a failed assertion
 * left behind (any process whose stdout is a log under that HOME).
 *
 * Skips only when no Java is found.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engines/engine.h"
#include "engines/local/local.h"

typedef struct fixture {
    char home[128];
    char *old_home;
    sf_ctx *ctx;
} fixture;

/* ---- independent observations -------------------------------------------- */

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    char *s = NULL;
    if (vasprintf(&s, f, ap) < 0) abort();
    va_end(ap);
    return s;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Alive and not a zombie, by /proc alone. */
static bool pid_running(int pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static int stat_field(int pid, int field)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    int k = 3;
    for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " "), k++)
        if (k == field) return atoi(tok);
    return -1;
}

static bool port_accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* Pids of live processes whose stdout is a file under `dir`. */
static size_t procs_writing_under(const char *dir, int *pids, size_t cap)
{
    size_t n = 0, len = strlen(dir);
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        int pid = atoi(e->d_name);
        if (pid <= 0 || !pid_running(pid)) continue;
        char link[64], target[PATH_MAX];
        snprintf(link, sizeof link, "/proc/%d/fd/1", pid);
        ssize_t k = readlink(link, target, sizeof target - 1);
        if (k <= 0) continue;
        target[k] = 0;
        if (strncmp(target, dir, len) == 0 && target[len] == '/' && n < cap) pids[n++] = pid;
    }
    if (d) closedir(d);
    return n;
}

typedef struct body {
    char *data;
    size_t len;
} body;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    body *b = userdata;
    b->data = realloc(b->data, b->len + size * nmemb + 1);
    memcpy(b->data + b->len, ptr, size * nmemb);
    b->len += size * nmemb;
    b->data[b->len] = 0;
    return size * nmemb;
}

/* The master's /json/ page, parsed; NULL when it cannot be fetched. */
static cJSON *master_json(const char *web_ui_url)
{
    char url[256];
    snprintf(url, sizeof url, "%s/json/", web_ui_url);
    CURL *c = curl_easy_init();
    body b = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    cJSON *j = rc == CURLE_OK && b.data ? cJSON_Parse(b.data) : NULL;
    free(b.data);
    return j;
}

static int json_int(const cJSON *o, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(it) ? it->valueint : -1;
}

static const char *detail(const sf_cluster_info *info, const char *key)
{
    const sf_value *v = sf_value_get(info->details, key);
    const char *s = sf_value_get_str(v);
    assert_non_null(s);
    return s;
}

/* Parse "a b c" into ints; returns how many. */
static size_t ints(const char *s, int *out, size_t cap)
{
    size_t n = 0;
    char *end;
    for (long v = strtol(s, &end, 10); end != s && n < cap; v = strtol(s, &end, 10)) {
        out[n++] = (int)v;
        s = end;
    }
    return n;
}

/* Every pid and port of a cluster as its info reports them. */
typedef struct observed {
    int pids[16];
    size_t n_pids;
    int ports[32];
    size_t n_ports;
} observed;

static observed observe(const sf_cluster_info *info)
{
    observed o = {0};
    o.pids[o.n_pids++] = atoi(detail(info, "master_pid"));
    o.n_pids += ints(detail(info, "worker_pids"), o.pids + o.n_pids, 15);
    o.ports[o.n_ports++] = atoi(detail(info, "master_port"));
    o.ports[o.n_ports++] = atoi(detail(info, "master_webui_port"));
    o.n_ports += ints(detail(info, "worker_ports"), o.ports + o.n_ports, 30);
    return o;
}

static void assert_all_gone(const observed *o)
{
    for (size_t i = 0; i < o->n_pids; i++) {
        if (pid_running(o->pids[i])) fail_msg("pid %d still runs", o->pids[i]);
    }
    for (size_t i = 0; i < o->n_ports; i++) {
        if (port_accepts(o->ports[i])) fail_msg("port %d still accepts connections", o->ports[i]);
    }
}

static void print_diags(const sf_diags *d)
{
    for (size_t i = 0; i < d->n; i++) print_message("diag: %s\n%s\n", d->items[i].summary, d->items[i].detail);
}

static sf_value *spec_with(int64_t workers, const char *work_dir)
{
    sf_value *v = sf_value_object();
    sf_value_put(v, "workers", sf_value_int(workers));
    sf_value_put(v, "worker_cores", sf_value_null());
    sf_value_put(v, "worker_memory", sf_value_string("512m"));
    sf_value_put(v, "spark_home", sf_value_null());
    sf_value_put(v, "work_dir", work_dir ? sf_value_string(work_dir) : sf_value_null());
    sf_value_put(v, "java_home", sf_value_null());
    return v;
}

/* ---- fixture ----------------------------------------------------------- */

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->home, sizeof f->home, "/tmp/sf-local-test-XXXXXX");
    if (!mkdtemp(f->home)) return -1;
    const char *h = getenv("HOME");
    f->old_home = h ? strdup(h) : NULL;
    setenv("HOME", f->home, 1);
    f->ctx = sf_ctx_new_root(SF_LOG_WARN);
    sf_ctx_set_deadline(f->ctx, sf_time_mono_ms() + 10 * 60 * 1000);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    /* Whatever a failed assertion left running goes now. */
    int pids[64];
    size_t n = procs_writing_under(f->home, pids, 64);
    for (size_t i = 0; i < n; i++) {
        int pgid = stat_field(pids[i], 5);
        if (pgid > 1) kill(-pgid, SIGKILL);
        kill(pids[i], SIGKILL);
    }
    if (n) sleep(1);
    sf_local_remove_tree(f->home);
    if (f->old_home) setenv("HOME", f->old_home, 1);
    free(f->old_home);
    sf_ctx_free(f->ctx);
    free(f);
    return 0;
}

static void skip_without_java(void)
{
    sf_diags d;
    sf_diags_init(&d);
    char *java = sf_local_find_java(NULL, &d);
    if (!java) {
        print_message("skipping: no Java found (%s)\n", d.n ? d.items[0].detail : "");
        sf_diags_clear(&d);
        skip();
    }
    free(java);
    sf_diags_clear(&d);
}

/* ---- cheap tests (no Spark) ---------------------------------------------- */

static void test_table_and_ids(void **state)
{
    fixture *f = *state;
    const sf_engine *e = sf_engine_by_name("local");
    assert_non_null(e);
    assert_ptr_equal(e, &sf_engine_local);
    assert_null(sf_engine_by_name("nope"));
    assert_ptr_equal(sf_engine_for_id("local-0123456789ab"), e);
    assert_string_equal(e->updatable[0], "workers");
    assert_null(e->updatable[1]);

    char id[19], *err = NULL;
    assert_int_equal(sf_local_new_id(id, &err), 0);
    assert_true(sf_local_id_valid(id));
    char id2[19];
    assert_int_equal(sf_local_new_id(id2, &err), 0);
    assert_string_not_equal(id, id2);
    assert_false(sf_local_id_valid("local-../../etc1"));
    assert_false(sf_local_id_valid("local-0123456789AB"));
    assert_false(sf_local_id_valid("local-0123"));

    /* Unknown but well-formed id: gone for read, success for delete;
     * a malformed one is an error, never a path. */
    sf_diags d;
    sf_diags_init(&d);
    sf_cluster_info info = {0};
    assert_int_equal(e->cluster_read(f->ctx, NULL, "local-0123456789ab", NULL, &info, &d), SF_ENGINE_GONE);
    assert_int_equal(e->cluster_delete(f->ctx, NULL, "local-0123456789ab", NULL, &d), SF_ENGINE_OK);
    assert_false(sf_diags_has_error(&d));
    assert_int_equal(e->cluster_read(f->ctx, NULL, "local-../../x", NULL, &info, &d), SF_ENGINE_ERROR);
    assert_true(sf_diags_has_error(&d));
    sf_diags_clear(&d);
}

static void test_spec_defaults_and_validation(void **state)
{
    (void)state;
    sf_diags d;
    sf_diags_init(&d);
    sf_local_spec s;
    assert_int_equal(sf_local_spec_from_value(NULL, &s, &d), 0);
    assert_int_equal(s.workers, 1);
    assert_int_equal(s.worker_cores, 1);
    assert_string_equal(s.worker_memory, "1g");
    assert_null(s.spark_home);
    assert_null(s.work_dir);
    sf_local_spec_clear(&s);

    const char *good[] = {"512m", "2g", "1G", "2gb", "1t", "2048k"};
    const char *bad[] = {"abc", "1", "0g", "1.5g", "g", "12q", "1k", ""};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        sf_value *v = sf_value_string(good[i]);
        sf_local_validate_memory(v, "local.worker_memory", &d);
        sf_value_free(v);
        if (sf_diags_has_error(&d)) fail_msg("%s rejected", good[i]);
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sf_value *v = sf_value_string(bad[i]);
        sf_local_validate_memory(v, "local.worker_memory", &d);
        sf_value_free(v);
        if (!sf_diags_has_error(&d)) fail_msg("%s accepted", bad[i]);
        sf_diags_clear(&d);
    }
    sf_value *rel = spec_with(1, "relative/dir");
    assert_int_equal(sf_local_spec_from_value(rel, &s, &d), -1);
    assert_true(sf_diags_has_error(&d));
    sf_value_free(rel);
    sf_diags_clear(&d);

    /* Every attribute has a description. */
    for (const sf_attr_def *a = sf_local_spec_block.attrs; a->name; a++)
        assert_true(a->description && strlen(a->description) > 10);
}

static void test_status_parse(void **state)
{
    (void)state;
    const char *json = "{\"url\":\"spark://127.0.0.1:7077\",\"status\":\"ALIVE\",\"workers\":["
                       "{\"id\":\"w1\",\"port\":4001,\"state\":\"ALIVE\"},"
                       "{\"id\":\"w2\",\"port\":4002,\"state\":\"DEAD\"}]}";
    sf_local_status st;
    char *err = NULL;
    assert_int_equal(sf_local_status_parse(json, strlen(json), &st, &err), 0);
    assert_string_equal(st.status, "ALIVE");
    assert_int_equal(sf_local_status_alive_count(&st), 1);
    assert_true(sf_local_status_worker_alive(&st, 4001));
    assert_false(sf_local_status_worker_alive(&st, 4002));
    sf_local_status_clear(&st);
    assert_int_equal(sf_local_status_parse("[1]", 3, &st, &err), -1);
    assert_non_null(err);
    free(err);
}

/* A Spark or Java that is not where the user says: an error at that
 * attribute, and nothing started or written. */
static void test_bad_locations(void **state)
{
    fixture *f = *state;
    const sf_engine *e = sf_engine_by_name("local");
    sf_diags d;
    sf_diags_init(&d);
    char *missing = fmt("%s/no-such-dir", f->home);
    assert_null(sf_local_find_spark(f->ctx, missing, &d));
    assert_int_equal(d.n, 1);
    char *path = sf_path_to_string(d.items[0].path);
    assert_string_equal(path, "local.spark_home");
    free(path);
    assert_non_null(strstr(d.items[0].detail, missing));
    sf_diags_clear(&d);
    assert_null(sf_local_find_java(missing, &d));
    assert_int_equal(d.n, 1);
    path = sf_path_to_string(d.items[0].path);
    assert_string_equal(path, "local.java_home");
    free(path);
    sf_diags_clear(&d);

    sf_value *spec = spec_with(1, NULL);
    sf_value_put(spec, "spark_home", sf_value_string(missing));
    sf_cluster_info info = {0};
    assert_int_equal(e->cluster_create(f->ctx, NULL, "bad", spec, &info, &d), SF_ENGINE_ERROR);
    assert_true(sf_diags_has_error(&d));
    assert_null(info.id);
    char *reg = fmt("%s/.sparkflow", f->home);
    assert_false(exists(reg));
    free(reg);
    sf_value_free(spec);
    free(missing);
    sf_diags_clear(&d);
}

/* ---- real Spark ---------------------------------------------------------- */

/* Create (1 worker) -> scale to 2 -> read -> master killed from outside ->
 * read GONE with nothing left. */
static void test_lifecycle_and_drift(void **state)
{
    fixture *f = *state;
    skip_without_java();
    const sf_engine *e = sf_engine_by_name("local");
    sf_diags d;
    sf_diags_init(&d);
    sf_cluster_info info = {0};

    sf_value *spec1 = spec_with(1, NULL);
    int64_t t0 = sf_time_mono_ms();
    sf_engine_status st = e->cluster_create(f->ctx, NULL, "test", spec1, &info, &d);
    print_diags(&d);
    assert_int_equal(st, SF_ENGINE_OK);
    print_message("create (1 master + 1 worker): %lld ms\n", (long long)(sf_time_mono_ms() - t0));
    assert_true(sf_local_id_valid(info.id));
    assert_string_equal(info.name, "test");
    assert_string_equal(info.state, "running");
    assert_non_null(strstr(info.created_at, "T"));
    assert_int_equal(info.created_at[strlen(info.created_at) - 1], 'Z');
    char *id = strdup(info.id);

    /* Spec: every attribute known, defaults resolved. */
    int64_t n;
    assert_int_equal(sf_value_get_int(sf_value_get(info.spec, "workers"), &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(sf_value_get_int(sf_value_get(info.spec, "worker_cores"), &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(sf_value_get_str(sf_value_get(info.spec, "worker_memory")), "512m");
    const char *spark_home = sf_value_get_str(sf_value_get(info.spec, "spark_home"));
    assert_non_null(spark_home);
    char spark_class[PATH_MAX];
    snprintf(spark_class, sizeof spark_class, "%s/bin/spark-class", spark_home);
    assert_int_equal(access(spark_class, X_OK), 0);
    char *default_wd = fmt("%s/.sparkflow/local/%s", f->home, id);
    assert_string_equal(sf_value_get_str(sf_value_get(info.spec, "work_dir")), default_wd);
    char *record = fmt("%s/cluster.json", default_wd);
    assert_true(exists(record));

    /* Processes: alive, detached (own session, not our children). */
    observed o = observe(&info);
    assert_int_equal(o.n_pids, 2);
    for (size_t i = 0; i < o.n_pids; i++) {
        assert_true(pid_running(o.pids[i]));
        assert_int_not_equal(getsid(o.pids[i]), getsid(0));
        assert_int_not_equal(stat_field(o.pids[i], 4), getpid());
    }
    /* The master, asked directly. */
    char want_url[64];
    snprintf(want_url, sizeof want_url, "spark://127.0.0.1:%d", o.ports[0]);
    assert_string_equal(info.master_url, want_url);
    cJSON *j = master_json(info.web_ui_url);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "status")->valuestring, "ALIVE");
    assert_string_equal(cJSON_GetObjectItem(j, "url")->valuestring, info.master_url);
    assert_int_equal(json_int(j, "aliveworkers"), 1);
    cJSON_Delete(j);
    sf_cluster_info_clear(&info);

    /* Scale to 2 in place. */
    sf_value *spec2 = spec_with(2, NULL);
    st = e->cluster_update(f->ctx, NULL, id, NULL, spec1, spec2, &info, &d);
    print_diags(&d);
    assert_int_equal(st, SF_ENGINE_OK);
    o = observe(&info);
    assert_int_equal(o.n_pids, 3);
    assert_int_equal(atoi(detail(&info, "master_pid")), o.pids[0]);
    j = master_json(info.web_ui_url);
    assert_non_null(j);
    assert_int_equal(json_int(j, "aliveworkers"), 2);
    /* The two ALIVE workers are the ones the engine reports. */
    const cJSON *w;
    int matched = 0;
    cJSON_ArrayForEach(w, cJSON_GetObjectItem(j, "workers")) {
        const char *state_s = cJSON_GetObjectItem(w, "state")->valuestring;
        int port = json_int(w, "port");
        if (strcmp(state_s, "ALIVE") == 0 && (port == o.ports[2] || port == o.ports[4])) matched++;
    }
    assert_int_equal(matched, 2);
    cJSON_Delete(j);
    sf_cluster_info_clear(&info);

    /* Read: OK, same cluster, spec says 2 workers. */
    st = e->cluster_read(f->ctx, NULL, id, NULL, &info, &d);
    print_diags(&d);
    assert_int_equal(st, SF_ENGINE_OK);
    assert_string_equal(info.id, id);
    assert_int_equal(sf_value_get_int(sf_value_get(info.spec, "workers"), &n), 0);
    assert_int_equal(n, 2);
    observed o2 = observe(&info);
    assert_memory_equal(o2.pids, o.pids, sizeof o.pids);
    sf_cluster_info_clear(&info);

    /* Kill the master behind the engine's back: read says GONE and stops
     * the workers, so nothing of the cluster remains. */
    assert_int_equal(kill(o.pids[0], SIGKILL), 0);
    for (int i = 0; i < 100 && pid_running(o.pids[0]); i++) usleep(50000);
    st = e->cluster_read(f->ctx, NULL, id, NULL, &info, &d);
    print_diags(&d);
    assert_int_equal(st, SF_ENGINE_GONE);
    assert_all_gone(&o);
    int left[8];
    assert_int_equal(procs_writing_under(f->home, left, 8), 0);
    assert_false(exists(record));
    assert_false(exists(default_wd));
    /* Deleting what is gone succeeds. */
    assert_int_equal(e->cluster_delete(f->ctx, NULL, id, NULL, &d), SF_ENGINE_OK);
    assert_false(sf_diags_has_error(&d));

    sf_value_free(spec1);
    sf_value_free(spec2);
    free(default_wd);
    free(record);
    free(id);
    sf_diags_clear(&d);
}

/* Create in a work dir inside a user's directory -> delete: processes gone,
 * ports closed, the engine's directories gone, the user's files kept. */
static void test_create_delete_custom_work_dir(void **state)
{
    fixture *f = *state;
    skip_without_java();
    const sf_engine *e = sf_engine_by_name("local");
    char *user_dir = fmt("%s/projects", f->home);
    char *keep = fmt("%s/keep.txt", user_dir);
    char *parent = fmt("%s/spark", user_dir);
    char *wd = fmt("%s/work", parent);
    assert_int_equal(mkdir(user_dir, 0755), 0);
    FILE *kf = fopen(keep, "w");
    fputs("mine\n", kf);
    fclose(kf);

    sf_diags d;
    sf_diags_init(&d);
    sf_cluster_info info = {0};
    sf_value *spec = spec_with(1, wd);
    sf_engine_status st = e->cluster_create(f->ctx, NULL, "custom", spec, &info, &d);
    print_diags(&d);
    assert_int_equal(st, SF_ENGINE_OK);
    assert_string_equal(sf_value_get_str(sf_value_get(info.spec, "work_dir")), wd);
    observed o = observe(&info);
    char *log = fmt("%s/logs/master.log", wd);
    assert_true(exists(log));
    /* The record stays in the registry even with a custom work dir. */
    char *record = fmt("%s/.sparkflow/local/%s/cluster.json", f->home, info.id);
    assert_true(exists(record));
    char *id = strdup(info.id);
    sf_cluster_info_clear(&info);

    st = e->cluster_delete(f->ctx, NULL, id, NULL, &d);
    print_diags(&d);
    assert_int_equal(st, SF_ENGINE_OK);
    assert_all_gone(&o);
    int left[8];
    assert_int_equal(procs_writing_under(f->home, left, 8), 0);
    assert_false(exists(wd));
    assert_false(exists(parent)); /* made by the engine, empty afterwards */
    assert_true(exists(keep));
    assert_false(exists(record));
    assert_int_equal(e->cluster_read(f->ctx, NULL, id, NULL, &info, &d), SF_ENGINE_GONE);

    sf_value_free(spec);
    free(user_dir);
    free(keep);
    free(parent);
    free(wd);
    free(log);
    free(record);
    free(id);
    sf_diags_clear(&d);
}

/* Ends an operation's time the moment the master's log appears: the
 * deadline then falls while the master starts, however fast the JVM is. */
typedef struct {
    sf_ctx *op;
    const char *log;
} deadline_at_log;

static void *expire_when_log_appears(void *arg)
{
    deadline_at_log *w = arg;
    for (int i = 0; i < 60000 && access(w->log, F_OK) != 0; i++) usleep(1000);
    sf_ctx_set_deadline(w->op, sf_time_mono_ms());
    return NULL;
}

/* A create that runs out of time stops what it started and says why. */
static void test_create_timeout_cleans_up(void **state)
{
    fixture *f = *state;
    skip_without_java();
    const sf_engine *e = sf_engine_by_name("local");
    sf_diags d;
    sf_diags_init(&d);
    sf_cluster_info info = {0};
    char *wd = fmt("%s/short", f->home);
    char *log = fmt("%s/logs/master.log", wd);
    sf_value *spec = spec_with(1, wd);
    /* Locate Spark now so that the deadline falls on the daemons' start. */
    char *spark = sf_local_find_spark(f->ctx, NULL, &d);
    assert_non_null(spark);
    const char *old = getenv("SPARK_HOME");
    char *old_spark = old ? strdup(old) : NULL;
    setenv("SPARK_HOME", spark, 1);
    free(spark);
    sf_ctx *op = sf_ctx_new_child(f->ctx);
    deadline_at_log w = {.op = op, .log = log};
    pthread_t watcher;
    assert_int_equal(pthread_create(&watcher, NULL, expire_when_log_appears, &w), 0);
    sf_engine_status st = e->cluster_create(op, NULL, "short", spec, &info, &d);
    pthread_join(watcher, NULL);
    sf_ctx_free(op);
    if (old_spark) setenv("SPARK_HOME", old_spark, 1);
    else unsetenv("SPARK_HOME");
    free(old_spark);
    assert_int_equal(st, SF_ENGINE_ERROR);
    assert_true(sf_diags_has_error(&d));
    /* The diagnostic says why and shows the log of what had started. */
    bool says_why = false, shows_log = false;
    for (size_t i = 0; i < d.n; i++) {
        if (strstr(d.items[i].detail, "timed out")) says_why = true;
        if (strstr(d.items[i].detail, "Last lines of ") && strstr(d.items[i].detail, "master.log")) shows_log = true;
    }
    if (!says_why || !shows_log) print_diags(&d);
    assert_true(says_why);
    assert_true(shows_log);
    assert_null(info.id);
    int left[8];
    assert_int_equal(procs_writing_under(f->home, left, 8), 0);
    /* Nothing left in the registry either. */
    char *reg = fmt("%s/.sparkflow/local", f->home);
    DIR *dir = opendir(reg);
    struct dirent *ent;
    int entries = 0;
    while (dir && (ent = readdir(dir)))
        if (ent->d_name[0] != '.') entries++;
    if (dir) closedir(dir);
    assert_int_equal(entries, 0);
    free(reg);
    free(log);
    free(wd);
    sf_value_free(spec);
    sf_diags_clear(&d);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_table_and_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spec_defaults_and_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_locations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_timeout_cleans_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lifecycle_and_drift, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_delete_custom_work_dir, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
