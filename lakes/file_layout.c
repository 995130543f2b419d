/* file_layout.c — names in the file:// lake: URIs, run ids, where the pieces
 * of an output live (file.h) and what is at its path now.
 *
 * URIs.  file:///abs/path, file:/abs/path and file://localhost/abs/path.
 * Relative paths, other hosts and "." / ".." segments are refused.  Paths are
 * taken literally, without percent-decoding, as Hadoop's Path does with a
 * string: Spark, which reads the same URIs, sees the same directory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/str.h"
#include "lakes/file.h"

#define RUN_ID_MAX 128

/* ---- paths ---------------------------------------------------------------- */

/* dir + "/" + name, without doubling the root's slash. */
char *sf_lake_file_join(const char *dir, const char *name)
{
    return strcmp(dir, "/") == 0 ? sf_fmt("/%s", name) : sf_fmt("%s/%s", dir, name);
}

/* The last segment of a normalised path other than "/". */
const char *sf_lake_file_base_of(const char *path)
{
    return strrchr(path, '/') + 1;
}

/* The directory of a normalised path other than "/" (malloc'd). */
char *sf_lake_file_parent_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash == path ? sf_strdup("/") : sf_strndup(path, (size_t)(slash - path));
}

/* ---- URIs and run ids -------------------------------------------------- */

/* Collapses repeated slashes and drops a trailing one; NULL when a segment is
 * "." or "..".  `p` starts with '/'. */
static char *normalise(const char *p)
{
    char *out = malloc(strlen(p) + 2);
    if (!out) abort();
    size_t o = 0;
    while (*p) {
        while (*p == '/') p++;
        size_t len = strcspn(p, "/");
        if (!len) break;
        if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) {
            free(out);
            return NULL;
        }
        out[o++] = '/';
        memcpy(out + o, p, len);
        o += len;
        p += len;
    }
    if (!o) out[o++] = '/';
    out[o] = 0;
    return out;
}

/* The absolute path a file:// URI names (malloc'd), or NULL with an error
 * diagnostic under `summary`. */
char *sf_lake_file_uri_path(const char *uri, const char *summary, sf_diags *d)
{
    if (!uri || strncasecmp(uri, "file:", 5) != 0) {
        sf_diag_error(d, NULL, summary, "\"%s\" is not a file:// URI.", uri ? uri : "");
        return NULL;
    }
    const char *p = uri + 5;
    if (p[0] == '/' && p[1] == '/') {
        const char *host = p + 2;
        size_t n = strcspn(host, "/");
        if (n && !(n == 9 && strncasecmp(host, "localhost", 9) == 0)) {
            sf_diag_error(d, NULL, summary,
                          "\"%s\" names the host \"%.*s\"; a file:// URI takes an absolute "
                          "path after three slashes, e.g. file:///home/me/lake. Relative "
                          "paths are not allowed: use Terraform's abspath(), e.g. "
                          "\"file://${abspath(path.module)}/lake\".",
                          uri, (int)n, host);
            return NULL;
        }
        p = host + n;
    }
    if (p[0] != '/') {
        sf_diag_error(d, NULL, summary,
                      "\"%s\" is a relative path; a file:// URI needs an absolute one, e.g. "
                      "file:///home/me/lake. Use Terraform's abspath(), e.g. "
                      "\"file://${abspath(path.module)}/lake\".",
                      uri);
        return NULL;
    }
    char *path = normalise(p);
    if (!path)
        sf_diag_error(d, NULL, summary,
                      "\"%s\" contains \".\" or \"..\" segments; write the path without them "
                      "(Terraform's abspath() does this).",
                      uri);
    return path;
}

/* True for a name fit to be a directory name and a link target segment:
 * 1..128 of [A-Za-z0-9._-], starting with a letter or digit. */
bool sf_lake_file_valid_run_id(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > RUN_ID_MAX) return false;
    if (!((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= 'A' && id[0] <= 'Z') || (id[0] >= '0' && id[0] <= '9')))
        return false;
    return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

bool sf_lake_file_check_run_id(const char *id, const char *summary, sf_diags *d)
{
    if (sf_lake_file_valid_run_id(id)) return true;
    sf_diag_error(d, NULL, summary,
                  "Invalid run id \"%s\": it must be 1 to %d letters, digits, '.', '_' or "
                  "'-', starting with a letter or digit.",
                  id ? id : "", RUN_ID_MAX);
    return false;
}

/* ---- layout ------------------------------------------------------------- */

void sf_lake_file_layout_make(sf_lake_file_layout *o, const char *parent, const char *base)
{
    o->parent = sf_strdup(parent);
    o->base = sf_strdup(base);
    o->path = sf_lake_file_join(parent, base);
    o->sfdir = sf_lake_file_join(parent, SF_DIR);
    o->store = sf_lake_file_join(o->sfdir, base);
    char *tmp_name = sf_fmt(".%s.sparkflow-publish", base);
    o->tmp = sf_lake_file_join(parent, tmp_name);
    free(tmp_name);
}

void sf_lake_file_layout_clear(sf_lake_file_layout *o)
{
    free(o->path);
    free(o->parent);
    free(o->base);
    free(o->sfdir);
    free(o->store);
    free(o->tmp);
    memset(o, 0, sizeof *o);
}

/* True when a segment of the normalised path equals `name`. */
static bool has_segment(const char *path, const char *name)
{
    size_t n = strlen(name);
    for (const char *s = path; (s = strchr(s, '/')); s++)
        if (strncmp(s + 1, name, n) == 0 && (s[1 + n] == '/' || s[1 + n] == 0)) return true;
    return false;
}

/* The layout of an output URI; -1 with a diagnostic when it cannot be one. */
int sf_lake_file_layout_from_uri(const char *uri, const char *summary, sf_lake_file_layout *o, sf_diags *d)
{
    memset(o, 0, sizeof *o);
    char *path = sf_lake_file_uri_path(uri, summary, d);
    if (!path) return -1;
    int rc = -1;
    if (strcmp(path, "/") == 0)
        sf_diag_error(d, NULL, summary,
                      "The output \"%s\" is the root directory; name a "
                      "directory inside the lake.",
                      uri);
    else if (has_segment(path, SF_DIR))
        sf_diag_error(d, NULL, summary,
                      "The output \"%s\" lies inside a %s directory, which "
                      "SparkFlow keeps for itself; choose another output.",
                      uri, SF_DIR);
    else {
        char *parent = sf_lake_file_parent_of(path);
        sf_lake_file_layout_make(o, parent, sf_lake_file_base_of(path));
        free(parent);
        rc = 0;
    }
    free(path);
    return rc;
}

/* readlink(2) into a malloc'd string; NULL with errno on failure. */
char *sf_lake_file_read_link(const char *path)
{
    for (size_t cap = 256;; cap *= 2) {
        char *buf = malloc(cap);
        if (!buf) abort();
        ssize_t n = readlink(path, buf, cap);
        if (n < 0) {
            int e = errno;
            free(buf);
            errno = e;
            return NULL;
        }
        if ((size_t)n < cap) {
            buf[n] = 0;
            return buf;
        }
        free(buf);
    }
}

/* The run a link target names when it has exactly our form, else NULL. */
static char *run_of_target(const sf_lake_file_layout *o, const char *target)
{
    char *prefix = sf_fmt("%s/%s/", SF_DIR, o->base);
    size_t n = strlen(prefix);
    char *run = strncmp(target, prefix, n) == 0 && sf_lake_file_valid_run_id(target + n) ? sf_strdup(target + n) : NULL;
    free(prefix);
    return run;
}

/* Looks at the output path: *state, and *run (malloc'd) for OUT_OURS.
 * -1 with a diagnostic when it cannot be examined. */
int sf_lake_file_classify(const sf_lake_file_layout *o, sf_lake_file_out *state, char **run, const char *summary,
                          sf_diags *d)
{
    *run = NULL;
    struct stat st;
    if (lstat(o->path, &st) != 0) {
        if (errno == ENOENT) {
            *state = OUT_MISSING;
            return 0;
        }
        sf_diag_error(d, NULL, summary, "Cannot examine %s: %s.", o->path, strerror(errno));
        return -1;
    }
    if (!S_ISLNK(st.st_mode)) {
        *state = OUT_FOREIGN;
        return 0;
    }
    char *target = sf_lake_file_read_link(o->path);
    if (!target) {
        sf_diag_error(d, NULL, summary, "Cannot read the link %s: %s.", o->path, strerror(errno));
        return -1;
    }
    *run = run_of_target(o, target);
    *state = *run ? OUT_OURS : OUT_FOREIGN_LINK;
    free(target);
    return 0;
}

const char *sf_lake_file_kind_of(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return "path";
    return S_ISDIR(st.st_mode) ? "directory" : S_ISLNK(st.st_mode) ? "symbolic link" : "file";
}

void sf_lake_file_refuse_foreign(const sf_lake_file_layout *o, sf_diags *d)
{
    sf_diag_error(d, NULL, "Output location holds data SparkFlow did not write",
                  "%s exists and is a %s that SparkFlow did not create. SparkFlow publishes "
                  "an output as a symbolic link into %s/ and will not overwrite or delete "
                  "data it did not write. Move it away (for example: mv '%s' "
                  "'%s.before-sparkflow') or choose another output, then apply again. "
                  "Nothing was changed.",
                  o->path, sf_lake_file_kind_of(o->path), o->sfdir, o->path, o->path);
}
