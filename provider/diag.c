/* diag.c — diagnostics and attribute paths.
 *
 * Paths are written the way a user reads them ("local.workers",
 * "stage[1].script", "triggers[\"k\"]") and parsed into steps only when the
 * protocol message is built, so callers stay short.
 */
#include "provider/diag.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"

static void *xrealloc(void *p, size_t size)
{
    p = realloc(p, size);
    if (!p && size) abort();
    return p;
}

static void path_push(sf_path *p, sf_step step)
{
    p->steps = xrealloc(p->steps, (p->n + 1) * sizeof *p->steps);
    p->steps[p->n++] = step;
}

/* Parses a quoted key starting at s (after '['); returns the position after
 * the closing ']' and sets *key.  Backslash escapes the next character. */
static const char *parse_key(const char *s, char **key)
{
    const char *start = ++s; /* skip opening quote */
    char *buf = malloc(strlen(start) + 1);
    if (!buf) abort();
    size_t n = 0;
    for (; *s && *s != '"'; s++) {
        if (*s == '\\' && s[1]) s++;
        buf[n++] = *s;
    }
    buf[n] = 0;
    *key = buf;
    if (*s == '"') s++;
    if (*s == ']') s++;
    return s;
}

sf_path *sf_path_parse(const char *spelling)
{
    sf_path *p = calloc(1, sizeof *p);
    if (!p) abort();
    const char *s = spelling ? spelling : "";
    while (*s) {
        if (*s == '.') {
            s++;
            continue;
        }
        if (*s == '[') {
            if (s[1] == '"') {
                sf_step step = {.kind = SF_STEP_KEY};
                s = parse_key(s + 1, &step.name);
                path_push(p, step);
            } else {
                char *end;
                sf_step step = {.kind = SF_STEP_INDEX, .index = strtoll(s + 1, &end, 10)};
                s = *end == ']' ? end + 1 : end;
                path_push(p, step);
            }
            continue;
        }
        size_t len = strcspn(s, ".[");
        sf_step step = {.kind = SF_STEP_ATTR, .name = sf_strndup(s, len)};
        path_push(p, step);
        s += len;
    }
    return p;
}

sf_path *sf_path_copy(const sf_path *p)
{
    if (!p) return NULL;
    sf_path *c = calloc(1, sizeof *c);
    if (!c) abort();
    for (size_t i = 0; i < p->n; i++) {
        sf_step step = p->steps[i];
        if (step.name) step.name = sf_strdup(step.name);
        path_push(c, step);
    }
    return c;
}

void sf_path_free(sf_path *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) free(p->steps[i].name);
    free(p->steps);
    free(p);
}

char *sf_path_to_string(const sf_path *p)
{
    size_t cap = 16, n = 0;
    for (size_t i = 0; p && i < p->n; i++) cap += (p->steps[i].name ? 2 * strlen(p->steps[i].name) : 0) + 24;
    char *out = malloc(cap);
    if (!out) abort();
    out[0] = 0;
    for (size_t i = 0; p && i < p->n; i++) {
        const sf_step *st = &p->steps[i];
        if (st->kind == SF_STEP_ATTR) {
            n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "." : "", st->name);
        } else if (st->kind == SF_STEP_INDEX) {
            n += (size_t)snprintf(out + n, cap - n, "[%lld]", (long long)st->index);
        } else {
            out[n++] = '[';
            out[n++] = '"';
            for (const char *c = st->name; *c; c++) {
                if (*c == '"' || *c == '\\') out[n++] = '\\';
                out[n++] = *c;
            }
            out[n++] = '"';
            out[n++] = ']';
            out[n] = 0;
        }
    }
    return out;
}

void sf_diags_init(sf_diags *d)
{
    memset(d, 0, sizeof *d);
}

void sf_diags_clear(sf_diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->items[i].summary);
        free(d->items[i].detail);
        sf_path_free(d->items[i].path);
    }
    free(d->items);
    sf_diags_init(d);
}

static void diags_push(sf_diags *d, sf_diag diag)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 4;
        d->items = xrealloc(d->items, d->cap * sizeof *d->items);
    }
    d->items[d->n++] = diag;
}

static void diag_add(sf_diags *d, sf_diag_severity sev, const char *path, const char *summary, const char *fmt,
                     va_list ap)
{
    sf_diag diag = {.severity = sev, .summary = sf_strdup(summary)};
    diag.detail = sf_vfmt(fmt, ap);
    diag.path = path ? sf_path_parse(path) : NULL;
    diags_push(d, diag);
}

void sf_diag_error(sf_diags *d, const char *path, const char *summary, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_add(d, SF_DIAG_ERROR, path, summary, fmt, ap);
    va_end(ap);
}

void sf_diag_warning(sf_diags *d, const char *path, const char *summary, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_add(d, SF_DIAG_WARNING, path, summary, fmt, ap);
    va_end(ap);
}

void sf_diags_move(sf_diags *into, sf_diags *from, const char *prefix)
{
    for (size_t i = 0; i < from->n; i++) {
        sf_diag diag = from->items[i];
        if (prefix && *prefix) {
            sf_path *joined = sf_path_parse(prefix);
            for (size_t k = 0; diag.path && k < diag.path->n; k++) {
                path_push(joined, diag.path->steps[k]);
                diag.path->steps[k].name = NULL; /* moved */
            }
            if (diag.path) sf_path_free(diag.path);
            diag.path = joined;
        }
        diags_push(into, diag);
    }
    free(from->items);
    sf_diags_init(from);
}

bool sf_diags_has_error(const sf_diags *d)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->items[i].severity == SF_DIAG_ERROR) return true;
    return false;
}
