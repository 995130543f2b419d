/* ini.c — the AWS shared config and credentials files.
 *
 * ~/.aws/config names profiles "[profile dev]" (and "[default]");
 * ~/.aws/credentials names them "[dev]".  Keys are `key = value`; lines
 * starting with '#' or ';' are comments; indented lines continue a nested
 * setting (`s3 =` followed by indented keys) and are skipped, as no key this
 * client reads is nested.  A key in the credentials file wins over the same
 * key in the config file, as in the SDKs.
 */
#include "aws/aws.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

static bool has_key(const sf_aws_profile *p, const char *key)
{
    return sf_aws_profile_get(p, key) != NULL;
}

static void add(sf_aws_profile *p, const char *key, const char *value)
{
    char *k = sf_strdup(key);
    for (char *c = k; *c; c++) *c = (char)tolower((unsigned char)*c);
    if (has_key(p, k)) { /* the first file read wins, whatever the case of the key */
        free(k);
        return;
    }
    p->kv = realloc(p->kv, (p->n + 1) * sizeof *p->kv);
    if (!p->kv) abort();
    p->kv[p->n++] = (sf_header){k, sf_strdup(value)};
}

/* Whether a section header (text between the brackets) names the profile. */
static bool section_matches(const char *section, const char *name, bool config_file)
{
    if (!config_file) return strcmp(section, name) == 0;
    if (strcmp(name, "default") == 0 && strcmp(section, "default") == 0) return true;
    if (strncmp(section, "profile", 7) != 0 || !isspace((unsigned char)section[7])) return false;
    const char *rest = section + 7;
    while (isspace((unsigned char)*rest)) rest++;
    return strcmp(rest, name) == 0;
}

static void load_file(const char *path, const char *name, bool config_file, sf_aws_profile *p)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f) return;
    char *line = NULL;
    size_t cap = 0;
    bool in = false;
    while (getline(&line, &cap, f) > 0) {
        bool indented = line[0] == ' ' || line[0] == '\t';
        char *s = trim(line);
        if (!*s || *s == '#' || *s == ';') continue;
        if (*s == '[') {
            char *end = strrchr(s, ']');
            if (!end) continue;
            *end = 0;
            in = section_matches(trim(s + 1), name, config_file);
            if (in) p->found = true;
            continue;
        }
        if (!in || indented) continue;
        char *eq = strchr(s, '=');
        if (!eq) continue;
        *eq = 0;
        char *key = trim(s), *value = trim(eq + 1);
        if (*key && *value) add(p, key, value);
    }
    free(line);
    fclose(f);
}

void sf_aws_profile_load(const char *const *config_files, size_t n_config, const char *const *cred_files, size_t n_cred,
                         const char *name, sf_aws_profile *out)
{
    *out = (sf_aws_profile){.name = sf_strdup(name)};
    for (size_t i = 0; i < n_cred; i++) load_file(cred_files[i], name, false, out);
    for (size_t i = 0; i < n_config; i++) load_file(config_files[i], name, true, out);
}

const char *sf_aws_profile_get(const sf_aws_profile *p, const char *key)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->kv[i].name, key) == 0) return p->kv[i].value;
    return NULL;
}

void sf_aws_profile_clear(sf_aws_profile *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->kv[i].name);
        if (p->kv[i].value) memset(p->kv[i].value, 0, strlen(p->kv[i].value));
        free(p->kv[i].value);
    }
    free(p->kv);
    free(p->name);
    *p = (sf_aws_profile){0};
}
