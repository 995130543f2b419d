/* spark.c — where the Spark installation and the Java runtime are.
 *
 * A new user has neither SPARK_HOME nor a Spark download: the `pyspark`
 * package ships Spark (jars and bin/spark-class), so the engine asks Python
 * where that package is.  Java is whatever the user names, else JAVA_HOME,
 * else the `java` on PATH.  When nothing fits, the diagnostic lists every
 * place that was tried and how to fix it.
 */
#include "engines/local/local.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PYTHON_TIMEOUT_MS 60000
#define MIN_JAVA 17

/* Where pyspark is, without importing it (an import costs seconds). */
static const char FIND_PYSPARK[] = "import importlib.util, os; s = importlib.util.find_spec('pyspark'); "
                                   "print(os.path.dirname(s.origin)) if s and s.origin else exit(1)";

/* What was tried, one line each, for the diagnostic. */
typedef struct tried {
    char *text;
} tried;

static void tried_add(tried *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tried_add(tried *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *line = sf_vfmt(fmt, ap);
    va_end(ap);
    char *joined = sf_fmt("%s  - %s\n", t->text ? t->text : "", line);
    free(line);
    free(t->text);
    t->text = joined;
}

static bool executable(const char *dir, const char *rel)
{
    char *path = sf_fmt("%s/%s", dir, rel);
    bool ok = access(path, X_OK) == 0;
    free(path);
    return ok;
}

static bool is_spark_home(const char *dir)
{
    return executable(dir, "bin/spark-class");
}

/* Last non-empty line of s, trimmed, malloc'd; NULL when there is none. */
static char *last_line(const char *s)
{
    const char *end = s + strlen(s);
    while (end > s && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ')) end--;
    const char *start = end;
    while (start > s && start[-1] != '\n') start--;
    if (start == end) return NULL;
    return sf_strndup(start, (size_t)(end - start));
}

/* The pyspark directory according to `python`, or NULL (reason in *t). */
static char *pyspark_of(sf_ctx *ctx, const char *python, tried *t)
{
    char *argv[] = {(char *)python, "-c", (char *)FIND_PYSPARK, NULL};
    char *out = NULL, *err = NULL;
    int status = sf_spawn_capture(ctx, argv, PYTHON_TIMEOUT_MS, &out, &err);
    char *dir = status == 0 ? last_line(out) : NULL;
    free(out);
    if (status < 0) tried_add(t, "%s: %s", python, err);
    else if (status != 0) tried_add(t, "%s: cannot import pyspark", python);
    else if (!dir || !is_spark_home(dir)) {
        tried_add(t, "%s: pyspark at %s has no bin/spark-class", python, dir ? dir : "?");
        free(dir);
        dir = NULL;
    }
    free(err);
    return dir;
}

char *sf_local_find_spark(sf_ctx *ctx, const char *configured, sf_diags *diags)
{
    if (configured) {
        if (is_spark_home(configured)) return sf_strdup(configured);
        sf_diag_error(diags, "local.spark_home", "Spark not found at spark_home",
                      "%s/bin/spark-class does not exist or is not executable. Point "
                      "spark_home at a Spark installation (the directory that holds bin/ "
                      "and jars/), or remove it to use the Spark shipped with pyspark.",
                      configured);
        return NULL;
    }
    tried t = {0};
    const char *env = getenv("SPARK_HOME");
    if (env && *env) {
        if (is_spark_home(env)) return sf_strdup(env);
        tried_add(&t, "$SPARK_HOME=%s: no executable bin/spark-class", env);
    } else {
        tried_add(&t, "$SPARK_HOME: not set");
    }
    const char *pythons[4];
    size_t n = sf_spawn_pythons(pythons);
    for (size_t i = 0; i < n; i++) {
        char *dir = pyspark_of(ctx, pythons[i], &t);
        if (dir) {
            free(t.text);
            return dir;
        }
        if (sf_ctx_done(ctx)) break;
    }
    sf_diag_error(diags, "local.spark_home", "Spark not found",
                  "The local engine runs the Spark that the pyspark Python package ships "
                  "(or the one spark_home / SPARK_HOME names). Tried:\n%s"
                  "Fix one of: set spark_home in the local block to a Spark installation; "
                  "export SPARK_HOME; install pyspark (`pip install pyspark`) for the Python "
                  "named by $SPARKFLOW_PYTHON (or $PYSPARK_PYTHON, or python3 on PATH).",
                  t.text ? t.text : "");
    free(t.text);
    return NULL;
}

/* Major version from <home>/release (JAVA_VERSION="17.0.15"); 0 unknown. */
static int java_major(const char *home)
{
    char *path = sf_fmt("%s/release", home);
    FILE *f = fopen(path, "re");
    free(path);
    if (!f) return 0;
    char line[256];
    int major = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "JAVA_VERSION=\"", 14) == 0) {
            major = atoi(line + 14);
            if (major == 1) major = atoi(line + 16); /* "1.8.0" */
            break;
        }
    }
    fclose(f);
    return major;
}

/* The Java home of the `java` found on PATH, or NULL. */
static char *java_on_path(void)
{
    const char *path = getenv("PATH");
    if (!path) return NULL;
    char *copy = sf_strdup(path), *save = NULL, *home = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir && !home; dir = strtok_r(NULL, ":", &save)) {
        if (!*dir) continue;
        char *java = sf_fmt("%s/java", dir);
        char real[PATH_MAX];
        if (access(java, X_OK) == 0 && realpath(java, real)) {
            /* <home>/bin/java: strip the last two components. */
            char *slash = strrchr(real, '/');
            if (slash) *slash = 0;
            slash = strrchr(real, '/');
            if (slash && strcmp(slash, "/bin") == 0) {
                *slash = 0;
                if (executable(real, "bin/java")) home = sf_strdup(real);
            }
        }
        free(java);
    }
    free(copy);
    return home;
}

static bool java_ok(const char *home, const char *path_spelling, sf_diags *diags)
{
    int major = java_major(home);
    if (major && major < MIN_JAVA) {
        sf_diag_error(diags, path_spelling, "Java too old for Spark",
                      "The Java at %s is version %d; Spark 4 needs Java %d or later. Set "
                      "java_home in the local block (or JAVA_HOME) to a newer Java.",
                      home, major, MIN_JAVA);
        return false;
    }
    return true;
}

char *sf_local_find_java(const char *configured, sf_diags *diags)
{
    if (configured) {
        if (!executable(configured, "bin/java")) {
            sf_diag_error(diags, "local.java_home", "Java not found at java_home",
                          "%s/bin/java does not exist or is not executable. Point java_home "
                          "at a Java %d+ installation (the directory that holds bin/java), or "
                          "remove it to use $JAVA_HOME or the java on PATH.",
                          configured, MIN_JAVA);
            return NULL;
        }
        return java_ok(configured, "local.java_home", diags) ? sf_strdup(configured) : NULL;
    }
    const char *env = getenv("JAVA_HOME");
    char *home = NULL;
    char *env_note = NULL;
    if (env && *env) {
        if (executable(env, "bin/java")) home = sf_strdup(env);
        else env_note = sf_fmt("$JAVA_HOME=%s has no executable bin/java", env);
    }
    if (!home) home = java_on_path();
    if (!home) {
        sf_diag_error(diags, "local.java_home", "Java not found",
                      "Spark needs a Java %d+ runtime. Tried: java_home in the local block "
                      "(not set); %s; `java` on PATH (not found).\n"
                      "Fix: install Java %d (e.g. `apt-get install openjdk-17-jre-headless` or "
                      "`brew install openjdk@17`), then export JAVA_HOME or set java_home.",
                      MIN_JAVA, env_note ? env_note : "$JAVA_HOME (not set)", MIN_JAVA);
        free(env_note);
        return NULL;
    }
    free(env_note);
    if (!java_ok(home, "local.java_home", diags)) {
        free(home);
        return NULL;
    }
    return home;
}
