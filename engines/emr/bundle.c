/* bundle.c — a stage's code, put where EMR can read it.
 *
 * An EMR step runs on the cluster, which cannot see this machine's files:
 * the script goes to <root>/_sparkflow/code/<sha256>/<basename> in the lake
 * (content-addressed: an unchanged script is uploaded once, a changed one
 * never overwrites what a running step reads).  Scripts import helper
 * packages from their own folder (dags/jobs/sparkflow_jobs/); those
 * packages — every directory beside the script that holds __init__.py —
 * travel as one zip passed with --py-files.  The zip is stored
 * (uncompressed; Python imports it all the same) with fixed timestamps and
 * sorted entries, so the same files always give the same bytes and hash.
 */
#include "engines/emr/emr.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CODE_DIR "_sparkflow/code"
#define FILE_MAX (64 * 1024 * 1024)

/* ---- files ------------------------------------------------------------------ */

static int read_file(const char *path, sf_buf *out)
{
    *out = (sf_buf){0};
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char buf[65536];
    size_t n;
    sf_buf_append(out, "", 0);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0 && out->len < FILE_MAX) sf_buf_append(out, buf, n);
    int rc = ferror(f) ? -1 : 0;
    fclose(f);
    return rc;
}

typedef struct file_list {
    char **names; /* relative to the script's folder */
    size_t n, cap;
} file_list;

static void list_add(file_list *l, char *owned)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 32;
        l->names = realloc(l->names, l->cap * sizeof *l->names);
        if (!l->names) abort();
    }
    l->names[l->n++] = owned;
}

static void list_clear(file_list *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->names[i]);
    free(l->names);
    *l = (file_list){0};
}

/* Every regular file under base/rel, except caches and hidden files. */
static void walk(const char *base, const char *rel, file_list *l)
{
    char *dir = sf_fmt("%s/%s", base, rel);
    DIR *d = opendir(dir);
    free(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        size_t len = strlen(n);
        if (n[0] == '.' || strcmp(n, "__pycache__") == 0 || (len > 4 && strcmp(n + len - 4, ".pyc") == 0)) continue;
        char *sub = sf_fmt("%s/%s", rel, n), *full = sf_fmt("%s/%s", base, sub);
        struct stat st;
        if (stat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
            walk(base, sub, l);
        } else if (stat(full, &st) == 0 && S_ISREG(st.st_mode)) {
            list_add(l, sub);
            sub = NULL;
        }
        free(sub);
        free(full);
    }
    closedir(d);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Packages beside the script: directories with __init__.py.  *name gets
 * "<package>.zip" for one, "packages.zip" for several. */
static void packages(const char *dir, file_list *files, char **name)
{
    *name = NULL;
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    size_t count = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || e->d_name[0] == '_') continue;
        char *init = sf_fmt("%s/%s/__init__.py", dir, e->d_name);
        struct stat st;
        if (stat(init, &st) == 0 && S_ISREG(st.st_mode)) {
            walk(dir, e->d_name, files);
            if (!count++) *name = sf_fmt("%s.zip", e->d_name);
        }
        free(init);
    }
    closedir(d);
    if (count > 1) {
        free(*name);
        *name = sf_strdup("packages.zip");
    }
    if (files->n) qsort(files->names, files->n, sizeof *files->names, cmp_name);
}

/* ---- zip ----------------------------------------------------------------------- */

static uint32_t crc32_of(const void *data, size_t len)
{
    uint32_t table[256];
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    uint32_t crc = 0xFFFFFFFFu;
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

static void u16(sf_buf *b, uint32_t v)
{
    unsigned char x[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    sf_buf_append(b, x, 2);
}

static void u32(sf_buf *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    sf_buf_append(b, x, 4);
}

/* The fields local and central headers share from "version needed" on. */
static void common(sf_buf *b, uint32_t crc, size_t size, size_t name_len)
{
    u16(b, 20);    /* version needed */
    u16(b, 0x800); /* flags: names are UTF-8 */
    u16(b, 0);     /* stored */
    u16(b, 0);     /* time 00:00 */
    u16(b, 0x21);  /* date 1980-01-01 */
    u32(b, crc);
    u32(b, (uint32_t)size);
    u32(b, (uint32_t)size);
    u16(b, (uint32_t)name_len);
    u16(b, 0); /* extra */
}

int sf_emr_zip(const char *const *names, const sf_buf *data, size_t n, sf_buf *out)
{
    *out = (sf_buf){0};
    sf_buf central = {0};
    sf_buf_append(out, "", 0);
    sf_buf_append(&central, "", 0);
    for (size_t i = 0; i < n; i++) {
        uint32_t crc = crc32_of(data[i].data ? data[i].data : "", data[i].len);
        size_t off = out->len, nl = strlen(names[i]);
        if (off > 0xFFFFFFF0u || data[i].len > 0xFFFFFFF0u) {
            sf_buf_free(&central);
            sf_buf_free(out);
            return -1;
        }
        u32(out, 0x04034b50);
        common(out, crc, data[i].len, nl);
        sf_buf_append(out, names[i], nl);
        sf_buf_append(out, data[i].data ? data[i].data : "", data[i].len);
        u32(&central, 0x02014b50);
        u16(&central, 20); /* made by */
        common(&central, crc, data[i].len, nl);
        u16(&central, 0); /* comment */
        u16(&central, 0); /* disk */
        u16(&central, 0); /* internal attributes */
        u32(&central, 0); /* external attributes */
        u32(&central, (uint32_t)off);
        sf_buf_append(&central, names[i], nl);
    }
    size_t cd_off = out->len;
    sf_buf_append(out, central.data, central.len);
    u32(out, 0x06054b50);
    u16(out, 0);
    u16(out, 0);
    u16(out, (uint32_t)n);
    u16(out, (uint32_t)n);
    u32(out, (uint32_t)central.len);
    u32(out, (uint32_t)cd_off);
    u16(out, 0);
    sf_buf_free(&central);
    return 0;
}

/* ---- upload ---------------------------------------------------------------------- */

/* Put data at <root>/_sparkflow/code/<sha>/<name> unless it is there. */
static char *upload(sf_aws_client *c, sf_ctx *ctx, const char *root_uri, const sf_buf *data, const char *name,
                    const char *content_type, const char *path, sf_diags *diags)
{
    char *bucket = NULL, *prefix = NULL;
    sf_aws_s3_parse_uri(root_uri, &bucket, &prefix);
    char sha[65];
    sf_aws_sha256_hex(data->data ? data->data : "", data->len, sha);
    char *key = sf_fmt("%s%s" CODE_DIR "/%s/%s", prefix, *prefix ? "/" : "", sha, name);
    sf_aws_error err = {0};
    int64_t size = -1;
    int rc = sf_aws_s3_head(c, ctx, bucket, key, &size, NULL, &err);
    if (rc == 1 || (rc == 0 && size != (int64_t)data->len))
        rc = sf_aws_s3_put(c, ctx, bucket, key, data->data, data->len, content_type, &err);
    char *uri = NULL;
    if (rc == 0) uri = sf_fmt("s3://%s/%s", bucket, key);
    else
        sf_aws_diag_error(diags, path, "Cannot upload the stage's code", &err,
                          "The code goes next to the lake's data: the credentials need s3:PutObject there.");
    sf_aws_error_clear(&err);
    free(key);
    free(bucket);
    free(prefix);
    return uri;
}

int sf_emr_upload_code(sf_aws_client *c, sf_ctx *ctx, const char *root_uri, const char *script, const char *path,
                       char **script_uri, char **py_files, sf_diags *diags)
{
    *script_uri = *py_files = NULL;
    sf_buf body;
    if (read_file(script, &body) != 0) {
        sf_diag_error(diags, path, "Script not found", "Cannot read the stage script \"%s\": %s.", script,
                      strerror(errno));
        sf_buf_free(&body);
        return -1;
    }
    char *copy = sf_strdup(script), *copy2 = sf_strdup(script);
    const char *base = basename(copy), *dir = dirname(copy2);
    *script_uri = upload(c, ctx, root_uri, &body, base, "text/x-python", path, diags);
    sf_buf_free(&body);
    file_list files = {0};
    char *zip_name = NULL;
    if (*script_uri) packages(dir, &files, &zip_name);
    int rc = *script_uri ? 0 : -1;
    if (rc == 0 && files.n) {
        sf_buf *data = calloc(files.n, sizeof *data);
        if (!data) abort();
        for (size_t i = 0; i < files.n && rc == 0; i++) {
            char *full = sf_fmt("%s/%s", dir, files.names[i]);
            rc = read_file(full, &data[i]);
            if (rc != 0)
                sf_diag_error(diags, path, "Cannot read the script's package", "%s: %s.", full, strerror(errno));
            free(full);
        }
        sf_buf zip = {0};
        if (rc == 0 && sf_emr_zip((const char *const *)files.names, data, files.n, &zip) != 0) {
            sf_diag_error(diags, path, "Cannot bundle the script's package", "The packages beside %s exceed 4 GiB.",
                          script);
            rc = -1;
        }
        if (rc == 0) {
            *py_files = upload(c, ctx, root_uri, &zip, zip_name, "application/zip", path, diags);
            if (!*py_files) rc = -1;
        }
        sf_buf_free(&zip);
        for (size_t i = 0; i < files.n; i++) sf_buf_free(&data[i]);
        free(data);
    }
    list_clear(&files);
    free(zip_name);
    free(copy);
    free(copy2);
    return rc;
}
