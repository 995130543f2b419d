/* registry.c — the record of each local cluster, found by id alone.
 *
 * Terraform keeps only the id; each command runs in a new provider process.
 * So what a cluster is made of (pids and their start times, ports, paths,
 * the resolved spec) lives in $HOME/.sparkflow/local/<id>/cluster.json,
 * written atomically, even when the user chose another work_dir.  Terraform's
 * state names that directory too (details.record_dir): a command run with
 * another HOME finds the record there (locate.c) and links it into its own
 * registry, $HOME/.sparkflow/local/<id> -> the record's directory.
 */
#include "engines/local/local.h"

#include "base/files.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RECORD_VERSION 1
#define ID_PREFIX "local-"
#define ID_HEX 12

int sf_local_new_id(char out[19], char **err)
{
    unsigned char bytes[ID_HEX / 2];
    if (RAND_bytes(bytes, sizeof bytes) != 1) {
        *err = sf_strdup("no random bytes for a cluster id (OpenSSL RAND_bytes failed)");
        return -1;
    }
    memcpy(out, ID_PREFIX, 6);
    for (size_t i = 0; i < sizeof bytes; i++) snprintf(out + 6 + 2 * i, 3, "%02x", bytes[i]);
    return 0;
}

bool sf_local_id_valid(const char *id)
{
    if (!id || strncmp(id, ID_PREFIX, 6) != 0 || strlen(id) != 6 + ID_HEX) return false;
    for (const char *p = id + 6; *p; p++)
        if (!strchr("0123456789abcdef", *p)) return false;
    return true;
}

char *sf_local_registry_root(char **err)
{
    const char *home = getenv("HOME");
    if (home && *home) return sf_fmt("%s/.sparkflow/local", home);
    /* No HOME (a bare service environment): the account's home. */
    struct passwd pw, *found = NULL;
    char buf[4096];
    if (getpwuid_r(getuid(), &pw, buf, sizeof buf, &found) == 0 && found && found->pw_dir && *found->pw_dir)
        return sf_fmt("%s/.sparkflow/local", found->pw_dir);
    *err = sf_strdup("HOME is not set and the account has no home directory: the "
                     "local engine keeps its records in $HOME/.sparkflow/local");
    return NULL;
}

char *sf_local_registry_dir(const char *id, char **err)
{
    if (!sf_local_id_valid(id)) {
        *err = sf_fmt("\"%s\" is not a local cluster id (local- and 12 hex digits)", id ? id : "");
        return NULL;
    }
    char *root = sf_local_registry_root(err);
    if (!root) return NULL;
    char *dir = sf_fmt("%s/%s", root, id);
    free(root);
    return dir;
}

/* ---- to JSON ---------------------------------------------------------- */

static void add_str(cJSON *o, const char *key, const char *s)
{
    if (s) cJSON_AddStringToObject(o, key, s);
    else cJSON_AddNullToObject(o, key);
}

static cJSON *proc_to_json(const sf_local_proc *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "pid", p->pid);
    cJSON_AddNumberToObject(o, "pgid", p->pgid);
    cJSON_AddNumberToObject(o, "start_time", (double)p->start_time);
    cJSON_AddNumberToObject(o, "port", p->port);
    cJSON_AddNumberToObject(o, "webui_port", p->webui_port);
    add_str(o, "log", p->log);
    return o;
}

static char *record_to_text(const sf_local_cluster *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "version", RECORD_VERSION);
    add_str(o, "id", c->id);
    add_str(o, "name", c->name);
    add_str(o, "created_at", c->created_at);
    add_str(o, "java_home", c->java_home);
    cJSON_AddBoolToObject(o, "default_work_dir", c->default_work_dir);
    cJSON *spec = cJSON_AddObjectToObject(o, "spec");
    cJSON_AddNumberToObject(spec, "workers", (double)c->spec.workers);
    cJSON_AddNumberToObject(spec, "worker_cores", (double)c->spec.worker_cores);
    add_str(spec, "worker_memory", c->spec.worker_memory);
    add_str(spec, "spark_home", c->spec.spark_home);
    add_str(spec, "work_dir", c->spec.work_dir);
    add_str(spec, "java_home", c->spec.java_home);
    cJSON *written = cJSON_AddObjectToObject(o, "written");
    for (size_t i = 0; i < SF_LOCAL_N_PATHS; i++)
        if (c->written.path[i]) cJSON_AddStringToObject(written, sf_local_path_attrs[i], c->written.path[i]);
    cJSON *created = cJSON_AddArrayToObject(o, "created");
    for (size_t i = 0; i < c->n_created; i++) cJSON_AddItemToArray(created, cJSON_CreateString(c->created[i]));
    cJSON_AddItemToObject(o, "master", proc_to_json(&c->master));
    cJSON *workers = cJSON_AddArrayToObject(o, "workers");
    for (size_t i = 0; i < c->n_workers; i++) cJSON_AddItemToArray(workers, proc_to_json(&c->workers[i]));
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text) abort();
    return text;
}

int sf_local_record_save(const sf_local_cluster *c, char **err)
{
    char *dir = c->record_dir ? sf_strdup(c->record_dir) : sf_local_registry_dir(c->id, err);
    if (!dir) return -1;
    int rc = -1;
    char *path = sf_fmt("%s/cluster.json", dir);
    char *text = record_to_text(c);
    /* The registry is private to the user: 0700 directories, a 0600 record. */
    if (sf_file_mkdirs_mode(dir, 0700) != 0) {
        *err = sf_fmt("cannot create %s: %s", dir, strerror(errno));
        goto out;
    }
    if (sf_file_write_atomic(path, text, strlen(text), 0600) != 0) {
        *err = sf_fmt("cannot write %s: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    free(text);
    free(path);
    free(dir);
    return rc;
}

/* ---- from JSON -------------------------------------------------------- */

static char *get_str(const cJSON *o, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(it) && it->valuestring ? sf_strdup(it->valuestring) : NULL;
}

static double get_num(const cJSON *o, const char *key, bool *ok)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(it)) {
        *ok = false;
        return 0;
    }
    return it->valuedouble;
}

static void proc_from_json(const cJSON *o, sf_local_proc *p, bool *ok)
{
    if (!cJSON_IsObject(o)) {
        *ok = false;
        return;
    }
    p->pid = (int)get_num(o, "pid", ok);
    p->pgid = (int)get_num(o, "pgid", ok);
    p->start_time = (long long)get_num(o, "start_time", ok);
    p->port = (int)get_num(o, "port", ok);
    p->webui_port = (int)get_num(o, "webui_port", ok);
    p->log = get_str(o, "log");
}

static int record_from_text(const char *text, sf_local_cluster *c)
{
    cJSON *o = cJSON_Parse(text);
    bool ok = cJSON_IsObject(o);
    if (ok && get_num(o, "version", &ok) != RECORD_VERSION) ok = false;
    if (ok) {
        c->id = get_str(o, "id");
        c->name = get_str(o, "name");
        c->created_at = get_str(o, "created_at");
        c->java_home = get_str(o, "java_home");
        c->default_work_dir = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "default_work_dir"));
        const cJSON *spec = cJSON_GetObjectItemCaseSensitive(o, "spec");
        c->spec.workers = (int64_t)get_num(spec, "workers", &ok);
        c->spec.worker_cores = (int64_t)get_num(spec, "worker_cores", &ok);
        c->spec.worker_memory = get_str(spec, "worker_memory");
        c->spec.spark_home = get_str(spec, "spark_home");
        c->spec.work_dir = get_str(spec, "work_dir");
        c->spec.java_home = get_str(spec, "java_home");
        /* Absent from records written before relative paths were allowed. */
        const cJSON *written = cJSON_GetObjectItemCaseSensitive(o, "written");
        for (size_t i = 0; i < SF_LOCAL_N_PATHS; i++) c->written.path[i] = get_str(written, sf_local_path_attrs[i]);
        const cJSON *created = cJSON_GetObjectItemCaseSensitive(o, "created");
        int nc = cJSON_GetArraySize(created);
        c->created = calloc(nc > 0 ? (size_t)nc : 1, sizeof *c->created);
        if (!c->created) abort();
        const cJSON *it;
        cJSON_ArrayForEach(it, created)
            if (cJSON_IsString(it)) c->created[c->n_created++] = sf_strdup(it->valuestring);
        proc_from_json(cJSON_GetObjectItemCaseSensitive(o, "master"), &c->master, &ok);
        const cJSON *workers = cJSON_GetObjectItemCaseSensitive(o, "workers");
        int nw = cJSON_GetArraySize(workers);
        c->workers = calloc(nw > 0 ? (size_t)nw : 1, sizeof *c->workers);
        if (!c->workers) abort();
        cJSON_ArrayForEach(it, workers) proc_from_json(it, &c->workers[c->n_workers++], &ok);
        ok = ok && c->id && c->created_at && c->spec.worker_memory && c->spec.spark_home && c->spec.work_dir &&
             c->java_home;
    }
    cJSON_Delete(o);
    return ok ? 0 : -1;
}

int sf_local_record_load_from(const char *dir, const char *id, sf_local_cluster *out, char **err)
{
    memset(out, 0, sizeof *out);
    char *path = sf_fmt("%s/cluster.json", dir);
    char *text = sf_file_read(path);
    if (!text) {
        int e = errno;
        int rc = e == ENOENT || e == ENOTDIR ? 1 : -1;
        if (rc < 0) *err = sf_fmt("cannot read %s: %s", path, strerror(e));
        free(path);
        return rc;
    }
    int rc = record_from_text(text, out);
    free(text);
    if (rc == 0 && strcmp(out->id, id) != 0) rc = -1;
    if (rc != 0) {
        sf_local_cluster_clear(out);
        *err = sf_fmt("%s is not a record this engine wrote (bad or old format)", path);
    } else {
        /* Through a registry link: the record's own directory. */
        char *real = realpath(dir, NULL);
        out->record_dir = real ? real : sf_strdup(dir);
    }
    free(path);
    return rc;
}

int sf_local_record_load(const char *id, sf_local_cluster *out, char **err)
{
    memset(out, 0, sizeof *out);
    char *dir = sf_local_registry_dir(id, err);
    if (!dir) return -1;
    int rc = sf_local_record_load_from(dir, id, out, err);
    free(dir);
    return rc;
}

void sf_local_record_remove(const sf_local_cluster *c)
{
    if (c->record_dir) {
        char *path = sf_fmt("%s/cluster.json", c->record_dir);
        unlink(path);
        free(path);
        rmdir(c->record_dir); /* empty once record and default work dir are gone */
    }
    char *err = NULL;
    char *entry = sf_local_registry_dir(c->id, &err);
    struct stat st;
    if (entry && lstat(entry, &st) == 0) {
        if (S_ISLNK(st.st_mode)) unlink(entry);
        else if (S_ISDIR(st.st_mode)) rmdir(entry);
    }
    free(entry);
    free(err);
}

int sf_local_registry_link(const sf_local_cluster *c, char **err)
{
    char *entry = sf_local_registry_dir(c->id, err);
    if (!entry) return -1;
    int rc = 0;
    struct stat st, target;
    /* A link whose record is gone (a cluster destroyed from elsewhere). */
    if (lstat(entry, &st) == 0 && S_ISLNK(st.st_mode) && stat(entry, &target) != 0) unlink(entry);
    if (lstat(entry, &st) == 0) {
        /* Something is there already: a link (made earlier) or this HOME's
         * own record. */
        char *real = realpath(entry, NULL);
        if (!real || strcmp(real, c->record_dir) != 0) {
            *err = sf_fmt("%s already exists and is not the record in %s", entry, c->record_dir);
            rc = -1;
        }
        free(real);
        free(entry);
        return rc;
    }
    char *root = sf_local_registry_root(err);
    if (!root) {
        free(entry);
        return -1;
    }
    if (sf_file_mkdirs_mode(root, 0700) != 0 || symlink(c->record_dir, entry) != 0) {
        *err = sf_fmt("cannot link %s to %s: %s", entry, c->record_dir, strerror(errno));
        rc = -1;
    }
    free(root);
    free(entry);
    return rc;
}

static void proc_clear(sf_local_proc *p)
{
    free(p->log);
    memset(p, 0, sizeof *p);
}

void sf_local_cluster_clear(sf_local_cluster *c)
{
    free(c->id);
    free(c->name);
    free(c->created_at);
    free(c->java_home);
    free(c->record_dir);
    sf_local_paths_clear(&c->written);
    sf_local_spec_clear(&c->spec);
    for (size_t i = 0; i < c->n_created; i++) free(c->created[i]);
    free(c->created);
    proc_clear(&c->master);
    for (size_t i = 0; i < c->n_workers; i++) proc_clear(&c->workers[i]);
    free(c->workers);
    memset(c, 0, sizeof *c);
}
