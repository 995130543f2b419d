/* config.c — what a local Airflow host is configured with.
 *
 * Airflow reads its configuration from AIRFLOW__<SECTION>__<KEY> variables,
 * so the host needs no airflow.cfg of ours: every process gets the same
 * environment (AIRFLOW_HOME, DAG folder, loopback API on its port and the
 * base URL the task runners derive the execution API from, log-server
 * ports, small parallelism, fast DAG-folder scans, the user and the 0600
 * passwords file).  The DAG factory is copied, not linked: the host must
 * keep working while its source is edited.
 */
#include "orchestrators/local/airflow_local.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/files.h"

/* ---- environment -------------------------------------------------------- */

typedef struct strv {
    char **v;
    size_t n;
} strv;

static void push(strv *e, char *owned)
{
    char **grown = realloc(e->v, (e->n + 2) * sizeof *grown);
    if (!grown) abort();
    e->v = grown;
    e->v[e->n++] = owned;
    e->v[e->n] = NULL;
}

/* The provider's own Airflow settings (a user's shell may carry some) must
 * not leak into a host: its configuration is the block. */
static bool inherited(const char *entry)
{
    return strncmp(entry, "AIRFLOW", 7) != 0 && strncmp(entry, "PYTHONPATH=", 11) != 0;
}

char **sf_afl_env(const sf_afl_spec *s, const sf_afl_ports *ports, char *const *base)
{
    strv e = {0};
    for (char *const *p = base; p && *p; p++)
        if (inherited(*p)) push(&e, sf_strdup(*p));
    const char *wd = s->work_dir;
    push(&e, sf_fmt("AIRFLOW_HOME=%s", wd));
    /* The triggerer imports sparkflow_airflow.trigger by class path and,
     * unlike the DAG processor and task runner, does not put the DAG folder
     * on sys.path itself (dags/airflow/README.md). */
    push(&e, sf_fmt("PYTHONPATH=%s/dags", wd));
    push(&e, sf_fmt("AIRFLOW__CORE__DAGS_FOLDER=%s/dags", wd));
    push(&e, sf_strdup("AIRFLOW__CORE__EXECUTOR=LocalExecutor"));
    push(&e, sf_strdup("AIRFLOW__CORE__LOAD_EXAMPLES=False"));
    push(&e, sf_fmt("AIRFLOW__CORE__PARALLELISM=%lld", (long long)s->parallelism));
    push(&e, sf_fmt("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=%s:admin", SF_AFL_USER));
    push(&e, sf_fmt("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=%s/passwords.json", wd));
    push(&e, sf_strdup("AIRFLOW__API__HOST=127.0.0.1"));
    push(&e, sf_fmt("AIRFLOW__API__PORT=%d", ports->api));
    push(&e, sf_fmt("AIRFLOW__API__BASE_URL=http://localhost:%d", ports->api));
    /* The scheduler and triggerer run without their log servers (they
     * would bind every interface: serve_logs hard-codes host ""); the
     * api-server reads task logs from logs/ directly.  The ports still
     * point at free loopback ports, never at 8793/8794 of someone else. */
    push(&e, sf_fmt("AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=%d", ports->worker_logs));
    push(&e, sf_fmt("AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=%d", ports->trigger_logs));
    push(&e, sf_fmt("AIRFLOW__LOGGING__BASE_LOG_FOLDER=%s/logs", wd));
    /* New specs are seen within seconds, not after the 300 s default. */
    push(&e, sf_strdup("AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=5"));
    push(&e, sf_strdup("AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL=5"));
    push(&e, sf_strdup("AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME=0.2"));
    /* Its health server would listen on 0.0.0.0; the REST API reports the
     * scheduler's health already. */
    push(&e, sf_strdup("AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK=False"));
    push(&e, sf_strdup("AIRFLOW__API__WORKERS=1"));
    /* The provider migrates the database before starting anything; each
     * component's own check (alembic reading every migration script, about
     * 0.3 s of CPU each) could only prompt on a terminal, which they lack. */
    push(&e, sf_strdup("AIRFLOW__DATABASE__CHECK_MIGRATIONS=False"));
    if (s->env && s->env->kind == SF_VAL_MAP)
        for (size_t i = 0; i < s->env->n; i++) {
            const char *val = sf_value_get_str(s->env->elems[i]);
            if (sf_afl_env_key_allowed(s->env->keys[i])) push(&e, sf_fmt("%s=%s", s->env->keys[i], val ? val : ""));
        }
    return e.v;
}

/* ---- password ------------------------------------------------------------- */

int sf_afl_new_password(char out[33], char **err)
{
    unsigned char bytes[24];
    if (RAND_bytes(bytes, sizeof bytes) != 1) {
        *err = sf_strdup("no random bytes for a password (OpenSSL RAND_bytes failed)");
        return -1;
    }
    unsigned char b64[40];
    int n = EVP_EncodeBlock(b64, bytes, sizeof bytes); /* 32 chars, no padding for 24 bytes */
    for (int i = 0; i < n; i++) {
        if (b64[i] == '+') b64[i] = '-';
        else if (b64[i] == '/') b64[i] = '_';
    }
    memcpy(out, b64, 32);
    out[32] = 0;
    return 0;
}

int sf_afl_write_passwords(const char *path, const char *user, const char *password, char **err)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, user, password);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text) abort();
    int rc = sf_file_write_atomic(path, text, strlen(text), 0600);
    int e = errno;
    /* Zero the copy of the secret before it goes back to the heap. */
    memset(text, 0, strlen(text));
    free(text);
    /* A umask cannot widen 0600, but an older file kept its mode. */
    if (rc == 0 && chmod(path, 0600) != 0) {
        rc = -1;
        e = errno;
    }
    if (rc != 0) *err = sf_fmt("cannot write the passwords file %s: %s", path, strerror(e));
    return rc;
}

char *sf_afl_read_password(const char *path, const char *user)
{
    char *text = sf_file_read(path);
    if (!text) return NULL;
    cJSON *o = cJSON_Parse(text);
    memset(text, 0, strlen(text));
    free(text);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, user);
    char *out = cJSON_IsString(p) ? sf_strdup(p->valuestring) : NULL;
    cJSON_Delete(o);
    return out;
}

/* ---- the DAG factory ---------------------------------------------------- */

static int copy_file(const char *src, const char *dst, char **err)
{
    size_t len;
    char *data = sf_file_read_len(src, &len);
    if (!data) {
        *err = sf_fmt("cannot read %s: %s", src, strerror(errno));
        return -1;
    }
    int rc = sf_file_write_atomic(dst, data, len, 0644);
    if (rc != 0) *err = sf_fmt("cannot write %s: %s", dst, strerror(errno));
    free(data);
    return rc;
}

static bool skipped(const char *name, bool top)
{
    return strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strcmp(name, "__pycache__") == 0 ||
           (top && strcmp(name, "specs") == 0);
}

static int copy_tree(const char *src, const char *dst, bool top, char **err)
{
    if (sf_file_mkdirs(dst) != 0) {
        *err = sf_fmt("cannot create %s: %s", dst, strerror(errno));
        return -1;
    }
    DIR *d = opendir(src);
    if (!d) {
        *err = sf_fmt("cannot read the DAG folder %s: %s", src, strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (skipped(e->d_name, top)) continue;
        char *from = sf_fmt("%s/%s", src, e->d_name), *to = sf_fmt("%s/%s", dst, e->d_name);
        struct stat st;
        if (stat(from, &st) != 0) rc = 0; /* gone meanwhile, or a dangling link */
        else if (S_ISDIR(st.st_mode)) rc = copy_tree(from, to, false, err);
        else if (S_ISREG(st.st_mode)) rc = copy_file(from, to, err);
        free(from);
        free(to);
    }
    closedir(d);
    return rc;
}

int sf_afl_copy_dags(const char *src, const char *dst, char **err)
{
    char *factory = sf_fmt("%s/sparkflow_dags.py", src);
    bool ok = access(factory, R_OK) == 0;
    free(factory);
    if (!ok) {
        *err = sf_fmt("%s is not the DAG factory folder (no sparkflow_dags.py in it)", src);
        return -1;
    }
    if (copy_tree(src, dst, true, err) != 0) return -1;
    char *specs = sf_fmt("%s/specs", dst);
    int rc = sf_file_mkdirs(specs);
    if (rc != 0) *err = sf_fmt("cannot create %s: %s", specs, strerror(errno));
    free(specs);
    return rc;
}
