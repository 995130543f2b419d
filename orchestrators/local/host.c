/* host.c — a local Airflow host's facts, as the state and host.json keep them.
 *
 * Each Terraform command runs in a new provider process, so what a host is
 * made of (its process group, every component's pid with its start time,
 * its ports and folders) is written into the state's `details`, enough to
 * find and stop it from the state alone (as engines/local/locate.c does for
 * clusters).  The same map is written to <work_dir>/host.json so that
 * `terraform import` of an id finds the host under the default root.  The
 * password is in neither: it lives in the sensitive attribute and the 0600
 * passwords file.
 */
#include "orchestrators/local/airflow_local.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/files.h"

#define ID_PREFIX "airflow-"
#define ID_PREFIX_LEN 8
#define ID_HEX 12

int sf_afl_new_id(char out[21], char **err)
{
    unsigned char bytes[ID_HEX / 2];
    if (RAND_bytes(bytes, sizeof bytes) != 1) {
        *err = sf_strdup("no random bytes for an Airflow id (OpenSSL RAND_bytes failed)");
        return -1;
    }
    memcpy(out, ID_PREFIX, ID_PREFIX_LEN);
    for (size_t i = 0; i < sizeof bytes; i++) snprintf(out + ID_PREFIX_LEN + 2 * i, 3, "%02x", bytes[i]);
    return 0;
}

bool sf_afl_id_valid(const char *id)
{
    if (!id || strncmp(id, ID_PREFIX, ID_PREFIX_LEN) != 0 || strlen(id) != ID_PREFIX_LEN + ID_HEX) return false;
    for (const char *p = id + ID_PREFIX_LEN; *p; p++)
        if (!strchr("0123456789abcdef", *p)) return false;
    return true;
}

/* "api-server" -> "api_server_<suffix>" */
static char *component_key(int i, const char *suffix)
{
    char *k = sf_fmt("%s_%s", sf_afl_components[i], suffix);
    for (char *p = k; *p; p++)
        if (*p == '-') *p = '_';
    return k;
}

static void put(sf_value *d, const char *key, char *owned)
{
    sf_value_put(d, key, sf_value_string(owned));
    free(owned);
}

sf_value *sf_afl_details(const sf_afl_host *h)
{
    sf_value *d = sf_value_map();
    sf_value_put(d, "work_dir", sf_value_string(h->spec.work_dir));
    sf_value_put(d, "dags_folder", sf_value_string(h->dags_folder));
    sf_value_put(d, "log_dir", sf_value_string(h->log_dir));
    sf_value_put(d, "password_file", sf_value_string(h->password_file));
    sf_value_put(d, "airflow_bin", sf_value_string(h->spec.airflow_bin));
    sf_value_put(d, "dags_source", sf_value_string(h->spec.dags_source));
    put(d, "parallelism", sf_fmt("%lld", (long long)h->spec.parallelism));
    put(d, "pgid", sf_fmt("%d", h->group.pgid));
    put(d, "api_port", sf_fmt("%d", h->ports.api));
    put(d, "worker_log_server_port", sf_fmt("%d", h->ports.worker_logs));
    put(d, "trigger_log_server_port", sf_fmt("%d", h->ports.trigger_logs));
    for (int i = 0; i < SF_AFL_N_COMPONENTS; i++) {
        char *k = component_key(i, "pid");
        put(d, k, sf_fmt("%d", h->group.procs[i].pid));
        free(k);
        k = component_key(i, "start_time");
        put(d, k, sf_fmt("%lld", h->group.procs[i].start_time));
        free(k);
    }
    return d;
}

static const char *detail(const sf_value *d, const char *key)
{
    const sf_value *v = d ? sf_value_get(d, key) : NULL;
    const char *s = v && !sf_value_is_null(v) && !sf_value_is_unknown(v) ? sf_value_get_str(v) : NULL;
    return s && *s ? s : NULL;
}

static bool number(const sf_value *d, const char *key, long long *out)
{
    const char *s = detail(d, key);
    if (!s) return false;
    char *end;
    *out = strtoll(s, &end, 10);
    return end != s && *end == 0;
}

int sf_afl_from_details(const char *id, const sf_value *d, sf_afl_host *h, char **err)
{
    memset(h, 0, sizeof *h);
    long long pgid, api, wl = 0, tl = 0, par = 4;
    const char *wd = detail(d, "work_dir");
    if (!wd || wd[0] != '/' || !number(d, "pgid", &pgid) || !number(d, "api_port", &api)) {
        *err = sf_fmt("the state's details of %s lack work_dir, pgid or api_port", id);
        return -1;
    }
    number(d, "worker_log_server_port", &wl);
    number(d, "trigger_log_server_port", &tl);
    number(d, "parallelism", &par);
    h->id = sf_strdup(id);
    h->spec.work_dir = sf_strdup(wd);
    h->spec.api_port = api;
    h->spec.parallelism = par;
    h->spec.airflow_bin = sf_strdup(detail(d, "airflow_bin"));
    h->spec.dags_source = sf_strdup(detail(d, "dags_source"));
    h->ports = (sf_afl_ports){(int)api, (int)wl, (int)tl};
    h->dags_folder = detail(d, "dags_folder") ? sf_strdup(detail(d, "dags_folder")) : sf_fmt("%s/dags", wd);
    h->log_dir = detail(d, "log_dir") ? sf_strdup(detail(d, "log_dir")) : sf_fmt("%s/logs", wd);
    h->password_file =
        detail(d, "password_file") ? sf_strdup(detail(d, "password_file")) : sf_fmt("%s/passwords.json", wd);
    h->group.pgid = (int)pgid;
    for (int i = 0; i < SF_AFL_N_COMPONENTS; i++) {
        long long pid = 0, start = 0;
        char *k = component_key(i, "pid");
        bool ok = number(d, k, &pid);
        free(k);
        k = component_key(i, "start_time");
        ok = number(d, k, &start) && ok;
        free(k);
        if (!ok) {
            *err = sf_fmt("the state's details of %s lack the %s's pid or start time", id, sf_afl_components[i]);
            sf_afl_host_clear(h);
            return -1;
        }
        h->group.procs[i] = (sf_local_proc){.pid = (int)pid, .pgid = (int)pgid, .start_time = start};
        h->group.procs[i].log = sf_fmt("%s/%s.log", h->log_dir, sf_afl_components[i]);
    }
    return 0;
}

/* ---- host.json ------------------------------------------------------------ */

int sf_afl_host_save(const sf_afl_host *h, char **err)
{
    sf_value *d = sf_afl_details(h);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", h->id);
    if (h->name) cJSON_AddStringToObject(o, "name", h->name);
    if (h->created_at) cJSON_AddStringToObject(o, "created_at", h->created_at);
    cJSON *details = cJSON_AddObjectToObject(o, "details");
    for (size_t i = 0; i < d->n; i++) cJSON_AddStringToObject(details, d->keys[i], sf_value_get_str(d->elems[i]));
    sf_value_free(d);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    char *path = sf_fmt("%s/host.json", h->spec.work_dir);
    int rc = sf_file_write_atomic(path, text, strlen(text), 0644);
    if (rc != 0) *err = sf_fmt("cannot write %s: %s", path, strerror(errno));
    free(path);
    free(text);
    return rc;
}

int sf_afl_record_load(const char *dir, sf_afl_record *r)
{
    *r = (sf_afl_record){0};
    char *path = sf_fmt("%s/host.json", dir);
    char *text = sf_file_read(path);
    free(path);
    cJSON *o = text ? cJSON_Parse(text) : NULL;
    free(text);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    const cJSON *created = cJSON_GetObjectItemCaseSensitive(o, "created_at");
    const cJSON *details = cJSON_GetObjectItemCaseSensitive(o, "details");
    if (cJSON_IsString(id) && sf_afl_id_valid(id->valuestring) && cJSON_IsObject(details)) {
        r->id = sf_strdup(id->valuestring);
        r->name = cJSON_IsString(name) ? sf_strdup(name->valuestring) : NULL;
        r->created_at = cJSON_IsString(created) ? sf_strdup(created->valuestring) : NULL;
        r->details = sf_value_map();
        const cJSON *e;
        cJSON_ArrayForEach(e, details) {
            if (cJSON_IsString(e)) sf_value_put(r->details, e->string, sf_value_string(e->valuestring));
        }
    }
    cJSON_Delete(o);
    return r->id ? 0 : 1;
}

void sf_afl_record_clear(sf_afl_record *r)
{
    free(r->id);
    free(r->name);
    free(r->created_at);
    sf_value_free(r->details);
    *r = (sf_afl_record){0};
}

static int by_path(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **sf_afl_record_dirs(void)
{
    size_t n = 0, cap = 8;
    char **dirs = malloc(cap * sizeof *dirs);
    if (!dirs) abort();
    char *err = NULL, *root = sf_afl_root(&err);
    free(err);
    DIR *dir = root ? opendir(root) : NULL;
    struct dirent *e;
    while (dir && (e = readdir(dir))) {
        if (e->d_name[0] == '.') continue;
        if (n + 1 >= cap && !(dirs = realloc(dirs, (cap *= 2) * sizeof *dirs))) abort();
        dirs[n++] = sf_fmt("%s/%s", root, e->d_name);
    }
    if (dir) closedir(dir);
    free(root);
    qsort(dirs, n, sizeof *dirs, by_path);
    dirs[n] = NULL;
    return dirs;
}

int sf_afl_host_find(const char *id, sf_afl_record *r)
{
    *r = (sf_afl_record){0};
    if (!sf_afl_id_valid(id)) return 1;
    char **dirs = sf_afl_record_dirs();
    int rc = 1;
    for (size_t i = 0; dirs[i]; i++) {
        if (rc != 0 && sf_afl_record_load(dirs[i], r) == 0) {
            if (strcmp(r->id, id) == 0) rc = 0;
            else sf_afl_record_clear(r);
        }
        free(dirs[i]);
    }
    free(dirs);
    return rc;
}

void sf_afl_host_clear(sf_afl_host *h)
{
    free(h->id);
    free(h->name);
    free(h->created_at);
    sf_afl_spec_clear(&h->spec);
    for (size_t i = 0; i < SF_AFL_N_PATHS; i++) free(h->written[i]);
    sf_afl_group_clear(&h->group);
    free(h->dags_folder);
    free(h->log_dir);
    free(h->password_file);
    memset(h, 0, sizeof *h);
}
