/* file_claims.c — who may touch an output of the file:// lake, and when:
 * the per-output lock, owner records of staged runs, the sweep of runs whose
 * process is gone.
 *
 * Lock.  stage, publish, discard and remove of one output hold an exclusive
 * flock(2) on <store>/.lock (per open file, so threads of one provider
 * exclude each other too — except on NFS, where Linux maps flock to
 * per-process locks; waiting follows the context).  Without it two
 * publishes could each delete the other's run, or a sweep (below) could
 * take a run another process is publishing.  published() takes no lock:
 * it reads the record through the link, which is atomic.  discard refuses
 * the published run.
 *
 * Interrupted runs.  A provider killed mid-run leaves its run directory.
 * Stage sweeps the runs of the same output that are not published, using
 * the owner record stage writes before creating the run directory (host,
 * boot id, pid namespace, pid and the process's start time): a run whose
 * process is gone (pid absent, or reused by another process) is removed at
 * once, a run whose process lives is never touched however long it takes.
 * When liveness cannot be told (another host on a shared mount, no /proc,
 * no record) a run is removed after 24 h.  Publish checks that the owner
 * record is still there, so a run swept from under a live process (the 24 h
 * case) fails to publish instead of publishing what Spark wrote after.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/files.h"
#include "base/str.h"
#include "lakes/file.h"

#define LOCK_NAME ".lock"
#define OWNER_SUFFIX ".owner"
#define STALE_AFTER_S (24 * 60 * 60)

/* A directory of SparkFlow's own: a real directory, never a symlink.  With
 * `create`, made when missing.  0, or -1 with errno (ENOENT: missing;
 * ENOTDIR: something else is there). */
static int own_dir(const char *path, bool create)
{
    if (create && mkdir(path, 0755) != 0 && errno != EEXIST) return -1;
    struct stat st;
    if (lstat(path, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* ---- lock --------------------------------------------------------------- */

typedef enum { LOCK_TAKEN, LOCK_AGAIN, LOCK_NO_STORE, LOCK_FAILED } lock_try;

static lock_try lock_once(sf_ctx *ctx, const sf_lake_file_layout *o, bool create, const char *lock_path, int *fd_out,
                          const char *summary, sf_diags *d)
{
    if (create && sf_file_mkdirs(o->parent) != 0) {
        sf_diag_error(d, NULL, summary, "Cannot create %s: %s.", o->parent, strerror(errno));
        return LOCK_FAILED;
    }
    const char *dirs[] = {o->sfdir, o->store};
    for (int i = 0; i < 2; i++) {
        if (own_dir(dirs[i], create) == 0) continue;
        if (errno == ENOENT) return create ? LOCK_AGAIN : LOCK_NO_STORE;
        if (errno == ENOTDIR)
            sf_diag_error(d, NULL, summary,
                          "%s is not a directory. SparkFlow keeps its runs there and needs it "
                          "to be a real directory (not a file or a symbolic link); move it "
                          "away and apply again.",
                          dirs[i]);
        else sf_diag_error(d, NULL, summary, "Cannot create %s: %s.", dirs[i], strerror(errno));
        return LOCK_FAILED;
    }
    int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        if (errno == ENOENT) return LOCK_AGAIN;
        sf_diag_error(d, NULL, summary, "Cannot open %s: %s.", lock_path, strerror(errno));
        return LOCK_FAILED;
    }
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK && errno != EINTR) {
            sf_diag_error(d, NULL, summary, "Cannot lock %s: %s.", lock_path, strerror(errno));
            close(fd);
            return LOCK_FAILED;
        }
        if (sf_ctx_sleep_ms(ctx, 20) != 0) {
            sf_diag_error(d, NULL, summary,
                          "%s while waiting for another SparkFlow operation on %s to finish "
                          "(it holds %s).",
                          sf_ctx_reason(ctx), o->path, lock_path);
            close(fd);
            return LOCK_FAILED;
        }
    }
    /* A remove() may have deleted the lock file while we waited: the lock
     * then guards nothing, take the new one. */
    struct stat a, b;
    if (fstat(fd, &a) == 0 && lstat(lock_path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
        *fd_out = fd;
        return LOCK_TAKEN;
    }
    close(fd);
    return LOCK_AGAIN;
}

/* Takes the output's lock, creating the store when `create`.  0 when held
 * (*fd to pass to unlock), 1 when the store does not exist (only without
 * `create`), -1 with a diagnostic (also when the context ends). */
int sf_lake_file_lock(sf_ctx *ctx, const sf_lake_file_layout *o, bool create, int *fd, const char *summary, sf_diags *d)
{
    *fd = -1;
    char *lock_path = sf_lake_file_join(o->store, LOCK_NAME);
    int rc;
    for (;;) {
        lock_try t = lock_once(ctx, o, create, lock_path, fd, summary, d);
        if (t == LOCK_TAKEN) {
            rc = 0;
            break;
        }
        if (t == LOCK_NO_STORE) {
            rc = 1;
            break;
        }
        if (t == LOCK_FAILED) {
            rc = -1;
            break;
        }
        if (sf_ctx_done(ctx)) {
            sf_diag_error(d, NULL, summary, "%s while preparing %s.", sf_ctx_reason(ctx), o->store);
            rc = -1;
            break;
        }
    }
    free(lock_path);
    return rc;
}

void sf_lake_file_unlock(int fd)
{
    if (fd >= 0) close(fd); /* releases the flock */
}

/* ---- owner records ------------------------------------------------------ */

/* Who staged a run: enough to tell later whether that process still lives. */
typedef struct owner {
    char host[256];
    char boot[64];  /* /proc/sys/kernel/random/boot_id */
    char pidns[64]; /* /proc/self/ns/pid link text */
    long long pid;
    long long start; /* process start, clock ticks after boot; 0: unknown */
} owner;

typedef enum { OWNER_ALIVE, OWNER_DEAD, OWNER_UNKNOWN } owner_verdict;

/* A small text file's first line into buf; "" when unreadable. */
static void read_line(const char *path, char *buf, size_t cap)
{
    buf[0] = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    buf[strcspn(buf, "\n")] = 0;
}

/* Start time of process pid (field 22 of /proc/<pid>/stat), 0 when it
 * cannot be read (no such process, no /proc, not ours to see). */
static long long proc_start(long long pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%lld/stat", pid);
    read_line(path, buf, sizeof buf);
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p) return 0;
    char *save = NULL, *tok = strtok_r(p + 1, " ", &save); /* field 3 */
    for (int field = 4; tok && field <= 22; field++) tok = strtok_r(NULL, " ", &save);
    return tok ? strtoll(tok, NULL, 10) : 0;
}

static void owner_self(owner *me)
{
    memset(me, 0, sizeof *me);
    if (gethostname(me->host, sizeof me->host - 1) != 0) me->host[0] = 0;
    read_line("/proc/sys/kernel/random/boot_id", me->boot, sizeof me->boot);
    ssize_t n = readlink("/proc/self/ns/pid", me->pidns, sizeof me->pidns - 1);
    me->pidns[n > 0 ? n : 0] = 0;
    me->pid = getpid();
    me->start = proc_start(me->pid);
}

static char *owner_name(const char *run)
{
    return sf_fmt(".%s%s", run, OWNER_SUFFIX);
}

static int owner_write(const sf_lake_file_layout *o, const char *run, const owner *me, char **err)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) abort();
    cJSON_AddStringToObject(j, "run_id", run);
    cJSON_AddStringToObject(j, "host", me->host);
    cJSON_AddStringToObject(j, "boot_id", me->boot);
    cJSON_AddStringToObject(j, "pid_ns", me->pidns);
    cJSON_AddNumberToObject(j, "pid", (double)me->pid);
    cJSON_AddNumberToObject(j, "start_ticks", (double)me->start);
    cJSON_AddNumberToObject(j, "staged_at", (double)time(NULL));
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    if (!text) abort();
    char *name = owner_name(run);
    int rc = sf_lake_file_write_record(o->store, name, text, err);
    free(name);
    free(text);
    return rc;
}

char *sf_lake_file_owner_path(const sf_lake_file_layout *o, const char *run)
{
    char *name = owner_name(run);
    char *path = sf_lake_file_join(o->store, name);
    free(name);
    return path;
}

int sf_lake_file_claim(const sf_lake_file_layout *o, const char *run, char **err)
{
    owner me;
    owner_self(&me);
    return owner_write(o, run, &me, err);
}

static void copy_field(const cJSON *j, const char *key, char *dst, size_t cap)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, key));
    snprintf(dst, cap, "%s", s ? s : "");
}

/* Reads an owner record; -1 when missing or unreadable. */
static int owner_read(const char *path, owner *rec)
{
    memset(rec, 0, sizeof *rec);
    size_t len;
    char *text = sf_file_read_len(path, &len);
    if (!text) return -1;
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return -1;
    }
    copy_field(j, "host", rec->host, sizeof rec->host);
    copy_field(j, "boot_id", rec->boot, sizeof rec->boot);
    copy_field(j, "pid_ns", rec->pidns, sizeof rec->pidns);
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(j, "pid");
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(j, "start_ticks");
    rec->pid = cJSON_IsNumber(pid) ? (long long)pid->valuedouble : 0;
    rec->start = cJSON_IsNumber(start) ? (long long)start->valuedouble : 0;
    cJSON_Delete(j);
    return 0;
}

/* Whether the process that wrote `rec` still runs, as far as this process can
 * tell: only on the same host, boot and pid namespace. */
static owner_verdict owner_check(const owner *rec, const owner *me)
{
    if (!rec->host[0] || !rec->boot[0] || !rec->pidns[0] || rec->pid <= 1 || !rec->start || !me->boot[0] ||
        !me->pidns[0] || strcmp(rec->host, me->host) != 0 || strcmp(rec->boot, me->boot) != 0 ||
        strcmp(rec->pidns, me->pidns) != 0)
        return OWNER_UNKNOWN;
    long long start = proc_start(rec->pid);
    if (start == rec->start) return OWNER_ALIVE;
    if (start) return OWNER_DEAD; /* the pid now names another process */
    if (kill((pid_t)rec->pid, 0) != 0 && errno == ESRCH) return OWNER_DEAD;
    return OWNER_UNKNOWN; /* it exists but we may not look at it */
}

/* True when run `run` (its directory stat in *dir_st, or NULL when it has
 * none) belongs to nobody any more. */
static bool run_abandoned(const sf_lake_file_layout *o, const char *run, const struct stat *dir_st, const owner *me,
                          time_t now)
{
    char *path = sf_lake_file_owner_path(o, run);
    owner rec;
    struct stat st;
    bool have = owner_read(path, &rec) == 0 && stat(path, &st) == 0;
    free(path);
    owner_verdict v = have ? owner_check(&rec, me) : OWNER_UNKNOWN;
    if (v != OWNER_UNKNOWN) return v == OWNER_DEAD;
    const struct stat *age = have ? &st : dir_st;
    return age && now - age->st_mtime > STALE_AFTER_S;
}

/* Deletes a run directory and its owner record.  0, or an errno value. */
int sf_lake_file_delete_run(const sf_lake_file_layout *o, const char *run)
{
    char *dir = sf_lake_file_join(o->store, run);
    char *rec = sf_lake_file_owner_path(o, run);
    int e = sf_lake_file_delete_tree(dir);
    if (!e && unlink(rec) != 0 && errno != ENOENT) e = errno;
    free(dir);
    free(rec);
    return e;
}

/* The run a store entry belongs to: "<run>" or ".<run>.owner" (malloc'd),
 * NULL for anything else (.lock, temp files). */
static char *run_of_entry(const char *name)
{
    size_t len = strlen(name), suffix = strlen(OWNER_SUFFIX);
    if (name[0] != '.') return sf_strdup(name);
    if (len > suffix + 1 && strcmp(name + len - suffix, OWNER_SUFFIX) == 0)
        return sf_strndup(name + 1, len - suffix - 1);
    return NULL;
}

/* Under the lock: removes this output's runs (and lone owner records) left
 * by interrupted runs, except `keep1`/`keep2` (published, being staged).
 * Housekeeping: failures are logged, never fail the caller. */
void sf_lake_file_sweep(sf_ctx *ctx, const sf_lake_file_layout *o, const char *keep1, const char *keep2)
{
    DIR *dir = opendir(o->store);
    if (!dir) return;
    char **names = NULL;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(dir));) {
        char **grown = realloc(names, (n + 1) * sizeof *names);
        if (!grown) abort();
        names = grown;
        names[n++] = sf_strdup(e->d_name);
    }
    closedir(dir);
    owner me;
    owner_self(&me);
    time_t now = time(NULL);
    for (size_t i = 0; i < n; i++) {
        char *run = run_of_entry(names[i]);
        if (run && sf_lake_file_valid_run_id(run) && !(keep1 && strcmp(run, keep1) == 0) &&
            !(keep2 && strcmp(run, keep2) == 0)) {
            char *path = sf_lake_file_join(o->store, run);
            struct stat st;
            bool has_dir = lstat(path, &st) == 0;
            /* A run directory, or a record whose directory is gone. */
            bool candidate = has_dir ? S_ISDIR(st.st_mode) && names[i][0] != '.' : names[i][0] == '.';
            if (candidate && run_abandoned(o, run, has_dir ? &st : NULL, &me, now)) {
                int e = sf_lake_file_delete_run(o, run);
                if (e) sf_log(ctx, SF_LOG_WARN, "lake: cannot remove abandoned run %s: %s", path, strerror(e));
                else sf_log(ctx, SF_LOG_INFO, "lake: removed abandoned run %s", path);
            }
            free(path);
        }
        free(run);
        free(names[i]);
    }
    free(names);
}
