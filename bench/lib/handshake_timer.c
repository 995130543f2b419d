/* handshake_timer.c -- time "plugin start -> handshake line" the way
 * go-plugin (Terraform's plugin client) starts a provider.
 *
 * Python's subprocess adds a millisecond or more of its own to every spawn, as
 * much as the thing being measured, so the timing loop is this small C program.
 * For each run it: builds the environment go-plugin gives a plugin (magic
 * cookie, PLUGIN_MIN_PORT/PLUGIN_MAX_PORT, PLUGIN_PROTOCOL_VERSIONS,
 * PLUGIN_CLIENT_CERT with a real PEM certificate, so AutoMTLS is part of
 * start-up); takes CLOCK_MONOTONIC; posix_spawn()s the provider with stdout on
 * a pipe; reads until the first newline; takes the clock again.  It then checks
 * the line (core version 1, the protocol asked for, a unix socket, grpc, a
 * server certificate), reads memory and CPU figures from /proc, and stops the
 * provider (SIGTERM, SIGKILL after 2 s).
 *
 * Targets are interleaved run by run, so drift on a shared machine hits all of
 * them alike.  A target whose protocol is "-" is a floor: the run ends at EOF
 * on stdout (e.g. /bin/true), its line is not checked.
 *
 * usage: handshake_timer RUNS WARMUP CERT_PEM_FILE LABEL:PROTOS:PATH...
 *   PROTOS is the PLUGIN_PROTOCOL_VERSIONS value ("6", "5", "5,6"); the line
 *   must name one of them.
 * output (stdout), one line per measured run:
 *   LABEL <tab> RUN <tab> MILLISECONDS <tab> VMHWM_KB <tab> VMRSS_KB <tab>
 *   RSSANON_KB <tab> RSSFILE_KB <tab> CPU_MS
 * (memory as /proc/<pid>/status shows it right after the line; CPU_MS is the
 * on-CPU time of the provider's live threads by then, from
 * /proc/<pid>/task/<tid>/schedstat, which load on the machine inflates far
 * less than wall time; -1 for a floor target, which has exited by then).
 * The provider's stderr goes to $BENCH_STDERR_DIR/LABEL.stderr (default: the
 * current directory), shown when a run fails.  Exit 0, or 1 with a message on
 * the first failed run. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAGIC_COOKIE "TF_PLUGIN_MAGIC_COOKIE=d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
#define LINE_MAX_BYTES 8192
#define LINE_TIMEOUT_MS 30000 /* a provider silent this long has hung */

typedef struct {
    const char *label;
    const char *protos; /* "-" for a floor target */
    const char *path;
    char **envp;       /* owned */
    char *stderr_path; /* owned */
} target;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d) {
        perror("strdup");
        exit(1);
    }
    return d;
}

static char *concat(const char *a, const char *b, const char *c, const char *d)
{
    char *s;
    if (asprintf(&s, "%s%s%s%s", a, b, c, d) < 0) {
        perror("asprintf");
        exit(1);
    }
    return s;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "handshake_timer: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    if (!buf) {
        perror("malloc");
        exit(1);
    }
    buf[len] = '\0';
    return buf;
}

/* True when ENTRY ("K=V") sets one of the variables the harness itself sets. */
static int overridden(const char *entry)
{
    static const char *keys[] = {"TF_PLUGIN_MAGIC_COOKIE=",
                                 "PLUGIN_MIN_PORT=",
                                 "PLUGIN_MAX_PORT=",
                                 "PLUGIN_PROTOCOL_VERSIONS=",
                                 "PLUGIN_CLIENT_CERT=",
                                 "TF_DISABLE_PLUGIN_TLS=",
                                 NULL};
    for (int i = 0; keys[i]; i++)
        if (strncmp(entry, keys[i], strlen(keys[i])) == 0) return 1;
    return 0;
}

static char **build_env(const char *protos, const char *cert_pem)
{
    size_t n = 0;
    while (environ[n]) n++;
    char **env = calloc(n + 6, sizeof *env);
    if (!env) {
        perror("calloc");
        exit(1);
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!overridden(environ[i])) env[k++] = environ[i];
    env[k++] = MAGIC_COOKIE;
    env[k++] = "PLUGIN_MIN_PORT=10000";
    env[k++] = "PLUGIN_MAX_PORT=25000";
    env[k++] = concat("PLUGIN_PROTOCOL_VERSIONS=", protos, "", "");
    env[k++] = concat("PLUGIN_CLIENT_CERT=", cert_pem, "", "");
    env[k] = NULL;
    return env;
}

typedef struct {
    long hwm, rss, anon, file; /* kB; -1 when unknown */
    double cpu_ms;             /* -1 when unknown */
} mem_kb;

static long field_kb(const char *line, const char *key)
{
    size_t n = strlen(key);
    return strncmp(line, key, n) == 0 ? strtol(line + n, NULL, 10) : -1;
}

/* Sum of the on-CPU nanoseconds of PID's threads, in ms; -1 if unreadable. */
static double cpu_ms(pid_t pid)
{
    char path[96];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d) return -1;
    double ns = 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "/proc/%d/task/%.20s/schedstat", (int)pid, e->d_name);
        FILE *f = fopen(path, "r");
        unsigned long long run;
        if (f && fscanf(f, "%llu", &run) == 1) {
            ns += (double)run;
            n++;
        }
        if (f) fclose(f);
    }
    closedir(d);
    return n ? ns / 1e6 : -1;
}

static void status_kb(pid_t pid, mem_kb *m)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    m->hwm = m->rss = m->anon = m->file = -1;
    m->cpu_ms = cpu_ms(pid);
    FILE *f = fopen(path, "r");
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        long v;
        if ((v = field_kb(line, "VmHWM:")) >= 0) m->hwm = v;
        else if ((v = field_kb(line, "VmRSS:")) >= 0) m->rss = v;
        else if ((v = field_kb(line, "RssAnon:")) >= 0) m->anon = v;
        else if ((v = field_kb(line, "RssFile:")) >= 0) m->file = v;
    }
    fclose(f);
}

/* Stops the provider and anything it started: each run has its own process
 * group, so nothing outlives the run. */
static void stop(pid_t pid)
{
    int st;
    kill(-pid, SIGTERM);
    for (int i = 0; i < 200; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid) {
            kill(-pid, SIGKILL); /* children that ignored SIGTERM */
            return;
        }
        usleep(10000);
    }
    kill(-pid, SIGKILL);
    waitpid(pid, &st, 0);
}

static void show_stderr(const target *t)
{
    char *err = read_file(t->stderr_path);
    size_t len = strlen(err);
    fprintf(stderr, "--- %s stderr (last 2000 bytes) ---\n%s\n", t->label, len > 2000 ? err + len - 2000 : err);
    free(err);
}

/* Checks a go-plugin handshake line: CORE|APP|NETWORK|ADDR|PROTOCOL|CERT.
 * Returns NULL when it is good, else why not. */
static const char *check_line(const char *line, const char *protos)
{
    char *copy = xstrdup(line), *save = NULL, *f[7] = {0};
    int n = 0;
    for (char *p = strtok_r(copy, "|", &save); p && n < 7; p = strtok_r(NULL, "|", &save)) f[n++] = p;
    const char *why = NULL;
    if (n != 6) why = "not 6 '|'-separated fields (is AutoMTLS off?)";
    else if (strcmp(f[0], "1") != 0) why = "core protocol is not 1";
    else if (!strstr(protos, f[1])) why = "answered a protocol that was not offered";
    else if (strcmp(f[2], "unix") != 0 && strcmp(f[2], "tcp") != 0) why = "network is not unix/tcp";
    else if (strcmp(f[4], "grpc") != 0) why = "protocol is not grpc";
    else if (strlen(f[5]) <= 50) why = "no server certificate (AutoMTLS not in effect)";
    free(copy);
    return why;
}

/* One measured start.  Returns 0 and fills ms and mem, or returns 1. */
static int run_once(const target *t, double *ms, mem_kb *mem)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        perror("pipe2");
        return 1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, t->stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    char *argv[] = {(char *)t->path, NULL};

    pid_t pid;
    double t0 = now_ms();
    int rc = posix_spawn(&pid, t->path, &fa, &attr, argv, t->envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(pfd[1]);
    if (rc != 0) {
        fprintf(stderr, "handshake_timer: cannot start %s: %s\n", t->path, strerror(rc));
        close(pfd[0]);
        return 1;
    }
    char line[LINE_MAX_BYTES];
    size_t len = 0;
    int got_nl = 0;
    int timed_out = 0;
    while (len < sizeof line - 1) {
        struct pollfd pf = {.fd = pfd[0], .events = POLLIN};
        int pr = poll(&pf, 1, LINE_TIMEOUT_MS);
        if (pr < 0 && errno == EINTR) continue;
        if (pr == 0) {
            timed_out = 1;
            break;
        }
        ssize_t r = read(pfd[0], line + len, sizeof line - 1 - len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        char *nl = memchr(line + len, '\n', (size_t)r);
        len += (size_t)r;
        if (nl) {
            got_nl = 1;
            len = (size_t)(nl - line);
            break;
        }
    }
    double t1 = now_ms();
    line[len] = '\0';
    int floor = strcmp(t->protos, "-") == 0;
    status_kb(pid, mem);
    stop(pid);
    close(pfd[0]);
    if (!floor) {
        const char *why = got_nl      ? check_line(line, t->protos)
                          : timed_out ? "no line on stdout within 30 s"
                                      : "no line on stdout before EOF";
        if (why) {
            fprintf(stderr, "handshake_timer: %s: bad handshake: %s\n  line: %.300s\n", t->label, why, line);
            show_stderr(t);
            return 1;
        }
    }
    *ms = t1 - t0;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s RUNS WARMUP CERT_PEM_FILE LABEL:PROTOS:PATH...\n", argv[0]);
        return 2;
    }
    int runs = atoi(argv[1]), warmup = atoi(argv[2]);
    if (runs < 1 || warmup < 0) {
        fprintf(stderr, "handshake_timer: bad RUNS/WARMUP\n");
        return 2;
    }
    char *cert = read_file(argv[3]);
    const char *errdir = getenv("BENCH_STDERR_DIR");
    if (!errdir || !*errdir) errdir = ".";

    int nt = argc - 4;
    target *ts = calloc((size_t)nt, sizeof *ts);
    if (!ts) {
        perror("calloc");
        return 1;
    }
    for (int i = 0; i < nt; i++) {
        char *spec = xstrdup(argv[4 + i]);
        char *a = strchr(spec, ':'), *b = a ? strchr(a + 1, ':') : NULL;
        if (!a || !b) {
            fprintf(stderr, "handshake_timer: bad target %s\n", argv[4 + i]);
            return 2;
        }
        *a = *b = '\0';
        ts[i].label = spec;
        ts[i].protos = a + 1;
        ts[i].path = b + 1;
        ts[i].envp = build_env(ts[i].protos, cert);
        ts[i].stderr_path = concat(errdir, "/", spec, ".stderr");
    }
    signal(SIGPIPE, SIG_IGN);
    for (int r = -warmup; r < runs; r++) {
        for (int i = 0; i < nt; i++) {
            double ms;
            mem_kb m;
            if (run_once(&ts[i], &ms, &m) != 0) return 1;
            if (r >= 0)
                printf("%s\t%d\t%.4f\t%ld\t%ld\t%ld\t%ld\t%.3f\n", ts[i].label, r, ms, m.hwm, m.rss, m.anon, m.file,
                       m.hwm >= 0 ? m.cpu_ms : -1.0);
        }
        fflush(stdout);
    }
    /* Process exit frees the targets. */
    free(cert);
    return 0;
}
