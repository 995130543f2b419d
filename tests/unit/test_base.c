/* test_base.c — the base/ layer: strings and buffers, files, time, the
 * TF_LOG parser and hclog lines, spawning with a clean signal state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/ctx.h"
#include "base/files.h"
#include "base/log.h"
#include "base/spawn.h"
#include "base/str.h"
#include "base/time.h"

/* ---- helpers ---------------------------------------------------------------- */

static char *temp_dir(void)
{
    char *dir = sf_strdup("/tmp/sf-test-base-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return dir;
}

static void remove_tree(const char *path)
{
    char *cmd = sf_fmt("rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* Run fn with stderr redirected to a file; returns what it wrote. */
static char *capture_stderr(void (*fn)(void *), void *arg)
{
    char path[] = "/tmp/sf-test-base-stderr-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    char *text = sf_file_read(path);
    unlink(path);
    assert_non_null(text);
    return text;
}

/* ---- str -------------------------------------------------------------------- */

static void test_strings_and_buffer(void **state)
{
    (void)state;
    assert_null(sf_strdup(NULL));
    char *s = sf_strndup("abcdef", 3);
    assert_string_equal(s, "abc");
    free(s);
    s = sf_fmt("%s-%d", "x", 7);
    assert_string_equal(s, "x-7");
    free(s);

    sf_buf b = {0};
    char *empty = sf_buf_take(&b);
    assert_string_equal(empty, "");
    free(empty);
    sf_buf_puts(&b, "a");
    sf_buf_append(&b, "b\0c", 3);
    sf_buf_printf(&b, "%03d", 5);
    assert_int_equal(b.len, 7);
    assert_memory_equal(b.data, "ab\0c005", 8); /* NUL-terminated */
    for (int i = 0; i < 1000; i++) sf_buf_puts(&b, "0123456789");
    assert_int_equal(b.len, 10007);
    char *taken = sf_buf_take(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(strlen(taken + 4), 10003);
    free(taken);
    sf_buf_puts(&b, "again");
    assert_string_equal(b.data, "again");
    sf_buf_free(&b);
    assert_null(b.data);
}

/* ---- files ------------------------------------------------------------------ */

static void test_mkdirs(void **state)
{
    (void)state;
    char *root = temp_dir();
    char *deep = sf_fmt("%s/a/b/c", root);
    assert_int_equal(sf_file_mkdirs(deep), 0);
    assert_int_equal(sf_file_mkdirs(deep), 0); /* already there */
    struct stat st;
    assert_int_equal(stat(deep, &st), 0);
    assert_true(S_ISDIR(st.st_mode));

    char *priv = sf_fmt("%s/p/q", root);
    assert_int_equal(sf_file_mkdirs_mode(priv, 0700), 0);
    assert_int_equal(stat(priv, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    char *file = sf_fmt("%s/f", root);
    assert_int_equal(sf_file_write_atomic(file, "x", 1, 0644), 0);
    assert_int_equal(sf_file_mkdirs(file), -1);
    assert_int_equal(errno, ENOTDIR);
    char *under = sf_fmt("%s/f/g", root);
    assert_int_equal(sf_file_mkdirs(under), -1);
    assert_int_equal(sf_file_mkdirs(""), -1);

    free(under);
    free(file);
    free(priv);
    free(deep);
    remove_tree(root);
    free(root);
}

static void test_write_atomic_and_read(void **state)
{
    (void)state;
    char *root = temp_dir();
    char *path = sf_fmt("%s/record.json", root);
    assert_int_equal(sf_file_write_atomic(path, "first", 5, 0600), 0);
    assert_int_equal(sf_file_write_atomic(path, "se\0cond", 7, 0600), 0);
    size_t len = 0;
    char *text = sf_file_read_len(path, &len);
    assert_int_equal(len, 7);
    assert_memory_equal(text, "se\0cond", 8);
    free(text);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(count_entries(root), 1); /* no temp file left behind */
    assert_int_equal(sf_file_fsync_dir(root), 0);

    /* A failure leaves nothing behind and says why. */
    char *missing = sf_fmt("%s/no/such/dir/x", root);
    assert_int_equal(sf_file_write_atomic(missing, "x", 1, 0644), -1);
    assert_int_equal(errno, ENOENT);
    char *onto_dir = sf_fmt("%s/sub", root);
    assert_int_equal(sf_file_mkdirs(onto_dir), 0);
    assert_int_equal(sf_file_write_atomic(onto_dir, "x", 1, 0644), -1);
    assert_int_equal(count_entries(root), 2);
    assert_int_equal(count_entries(onto_dir), 0);

    assert_null(sf_file_read(missing));
    assert_int_equal(errno, ENOENT);

    free(onto_dir);
    free(missing);
    free(path);
    remove_tree(root);
    free(root);
}

/* ---- time ------------------------------------------------------------------- */

static void test_time_formats(void **state)
{
    (void)state;
    const int64_t ms = 1796605323456; /* 2026-12-07T01:02:03.456Z */
    char r[SF_TIME_RFC3339_LEN], c[SF_TIME_COMPACT_LEN], us[SF_TIME_RFC3339_US_LEN];
    sf_time_rfc3339(r, ms);
    assert_string_equal(r, "2026-12-07T01:02:03Z");
    sf_time_compact(c, ms);
    assert_string_equal(c, "20261207T010203Z");
    sf_time_rfc3339_us(us, ms * 1000 + 789);
    assert_string_equal(us, "2026-12-07T01:02:03.456789Z");
    sf_time_rfc3339(r, -1); /* floor, not truncation */
    assert_string_equal(r, "1969-12-31T23:59:59Z");

    int64_t a = sf_time_mono_ms(), w = sf_time_wall_ms();
    assert_true(sf_time_mono_ms() >= a);
    assert_true(w > ms - 400LL * 24 * 3600 * 1000); /* a plausible wall clock */
    assert_true(sf_time_wall_us() / 1000 >= w);
}

/* ---- log -------------------------------------------------------------------- */

static void test_log_level_from_env(void **state)
{
    (void)state;
    static const struct {
        const char *provider, *tf;
        sf_log_level want;
    } cases[] = {
        {NULL, NULL, SF_LOG_WARN},        {"", "", SF_LOG_WARN},
        {NULL, "TRACE", SF_LOG_TRACE},    {NULL, "json", SF_LOG_TRACE},
        {"debug", "error", SF_LOG_DEBUG}, {"", "Info", SF_LOG_INFO},
        {"off", "trace", SF_LOG_WARN},    {NULL, "bogus", SF_LOG_WARN},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (cases[i].provider) setenv("TF_LOG_PROVIDER", cases[i].provider, 1);
        else unsetenv("TF_LOG_PROVIDER");
        if (cases[i].tf) setenv("TF_LOG", cases[i].tf, 1);
        else unsetenv("TF_LOG");
        assert_int_equal(sf_log_level_from_env(), cases[i].want);
    }
    unsetenv("TF_LOG_PROVIDER");
    unsetenv("TF_LOG");
    assert_string_equal(sf_log_level_name(SF_LOG_WARN), "warn");
    assert_string_equal(sf_log_level_name(SF_LOG_OFF), "info");
}

static void write_lines(void *arg)
{
    (void)arg;
    sf_log_write(SF_LOG_ERROR, "mod.server", "a \"quoted\"\nline\t\x01");
    sf_ctx *ctx = sf_ctx_new_named_root(SF_LOG_INFO, "mod");
    sf_log(ctx, SF_LOG_DEBUG, "below the threshold");
    sf_log(ctx, SF_LOG_INFO, "n=%d", 3);
    sf_ctx *cl = sf_ctx_new_cleanup(ctx, 1000); /* keeps the module */
    sf_log(cl, SF_LOG_WARN, "cleanup");
    sf_ctx_free(cl);
    sf_ctx_free(ctx);
    sf_log_writef(SF_LOG_TRACE, NULL, "%s", "no module");
}

static void test_hclog_lines(void **state)
{
    (void)state;
    char *out = capture_stderr(write_lines, NULL);
    static const struct {
        const char *level, *message, *module;
    } want[] = {
        {"error", "a \"quoted\"\nline\t\x01", "mod.server"},
        {"info", "n=3", "mod"},
        {"warn", "cleanup", "mod"},
        {"trace", "no module", NULL},
    };
    char *line = out;
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        cJSON *o = cJSON_Parse(line);
        assert_non_null(o);
        assert_string_equal(cJSON_GetObjectItem(o, "@level")->valuestring, want[i].level);
        assert_string_equal(cJSON_GetObjectItem(o, "@message")->valuestring, want[i].message);
        const cJSON *m = cJSON_GetObjectItem(o, "@module");
        if (want[i].module) assert_string_equal(m->valuestring, want[i].module);
        else assert_null(m);
        const char *ts = cJSON_GetObjectItem(o, "@timestamp")->valuestring;
        assert_int_equal(strlen(ts), SF_TIME_RFC3339_US_LEN - 1);
        assert_int_equal(ts[26], 'Z');
        cJSON_Delete(o);
        line = nl + 1;
    }
    assert_string_equal(line, "");
    free(out);
}

/* ---- spawn ------------------------------------------------------------------ */

static int wait_status(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0) assert_int_equal(errno, EINTR);
    return status;
}

static void test_spawn_redirects_and_cwd(void **state)
{
    (void)state;
    char *root = temp_dir();
    char *log = sf_fmt("%s/out.log", root);
    char *argv[] = {"/bin/sh", "-c", "pwd; echo err >&2; read x || echo stdin-empty", NULL};
    sf_spawn_opts o = {
        .cwd = root,
        .in = {SF_SPAWN_DEVNULL},
        .out = {SF_SPAWN_FILE, .path = log},
        .err = {SF_SPAWN_STDOUT},
    };
    pid_t pid;
    assert_int_equal(sf_spawn(&pid, argv, &o), 0);
    int st = wait_status(pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char *text = sf_file_read(log);
    char *want = sf_fmt("%s\nerr\nstdin-empty\n", root);
    assert_string_equal(text, want);
    free(want);
    free(text);

    /* A pipe as stdout, PATH lookup, an explicit environment. */
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    char *env[] = {"SF_TEST_VALUE=42", "PATH=/usr/bin:/bin", NULL};
    char *argv2[] = {"sh", "-c", "echo \"$SF_TEST_VALUE\"", NULL};
    sf_spawn_opts o2 = {.envp = env, .search_path = true, .close_others = true, .out = {SF_SPAWN_FD, .fd = fds[1]}};
    assert_int_equal(sf_spawn(&pid, argv2, &o2), 0);
    close(fds[1]);
    char buf[16] = {0};
    assert_int_equal(read(fds[0], buf, sizeof buf - 1), 3);
    close(fds[0]);
    assert_string_equal(buf, "42\n");
    wait_status(pid);

    char *nope[] = {"/nonexistent/binary", NULL};
    assert_int_equal(sf_spawn(&pid, nope, &(sf_spawn_opts){0}), ENOENT);

    free(log);
    remove_tree(root);
    free(root);
}

static void test_spawn_resets_signals(void **state)
{
    (void)state;
    /* The provider blocks SIGTERM and ignores SIGPIPE; a child must not. */
    sigset_t term, old;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &term, &old);
    struct sigaction ignore = {.sa_handler = SIG_IGN}, old_pipe;
    sigaction(SIGPIPE, &ignore, &old_pipe);

    char *argv[] = {"/bin/sh", "-c", "kill -TERM $$; sleep 2; exit 3", NULL};
    pid_t pid;
    assert_int_equal(sf_spawn(&pid, argv, &(sf_spawn_opts){.new_session = true}), 0);
    int st = wait_status(pid);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGTERM);

    /* What the child runs with: /proc/self/status of a program it execs. */
    char *argv2[] = {"/bin/sh", "-c", "exec cat /proc/self/status", NULL};
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    assert_int_equal(sf_spawn(&pid, argv2, &(sf_spawn_opts){.new_pgroup = true, .out = {SF_SPAWN_FD, .fd = fds[1]}}),
                     0);
    close(fds[1]);
    sf_buf status = {0};
    char chunk[512];
    for (ssize_t k; (k = read(fds[0], chunk, sizeof chunk)) > 0;) sf_buf_append(&status, chunk, (size_t)k);
    close(fds[0]);
    const char *blk = strstr(status.data, "SigBlk:"), *ign = strstr(status.data, "SigIgn:");
    assert_non_null(blk);
    assert_non_null(ign);
    assert_int_equal(strtoull(blk + 7, NULL, 16), 0);
    assert_int_equal(strtoull(ign + 7, NULL, 16) & (1ULL << (SIGPIPE - 1)), 0);
    sf_buf_free(&status);
    assert_int_equal(getpgid(pid) == getpgid(0) ? 1 : 0, 0);
    wait_status(pid);

    sigaction(SIGPIPE, &old_pipe, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings_and_buffer),      cmocka_unit_test(test_mkdirs),
        cmocka_unit_test(test_write_atomic_and_read),   cmocka_unit_test(test_time_formats),
        cmocka_unit_test(test_log_level_from_env),      cmocka_unit_test(test_hclog_lines),
        cmocka_unit_test(test_spawn_redirects_and_cwd), cmocka_unit_test(test_spawn_resets_signals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
