/* timeouts.c — Go-style durations and the `timeouts {}` block. */
#include "provider/timeouts.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const sf_attr_def timeout_attrs[] = {
    {"create", "string", SF_ATTR_OPTIONAL, "Time allowed to create, e.g. `\"20m\"`.", NULL, sf_validate_duration},
    {"update", "string", SF_ATTR_OPTIONAL, "Time allowed to update, e.g. `\"20m\"`.", NULL, sf_validate_duration},
    {"delete", "string", SF_ATTR_OPTIONAL, "Time allowed to delete, e.g. `\"10m\"`.", NULL, sf_validate_duration},
    {NULL},
};

const sf_block_def sf_timeouts_block = {
    .description = "Operation timeouts, as Go durations (`\"90s\"`, `\"40m\"`, `\"1h30m\"`).",
    .attrs = timeout_attrs,
};

/* Milliseconds per unit, longest spellings first so "ms" wins over "m". */
static const struct {
    const char *unit;
    double ms;
} units[] = {
    {"ns", 1e-6}, {"us", 1e-3}, {"\xc2\xb5s", 1e-3}, {"ms", 1}, {"s", 1e3}, {"m", 6e4}, {"h", 3.6e6},
};

int sf_duration_parse(const char *text, int64_t *ms)
{
    const char *s = text;
    if (!s || !*s) return -1;
    if (strcmp(s, "0") == 0) {
        *ms = 0;
        return 0;
    }
    double total = 0;
    while (*s) {
        if (!isdigit((unsigned char)*s) && *s != '.') return -1;
        char *end;
        double n = strtod(s, &end);
        if (end == s) return -1;
        s = end;
        size_t best = 0, which = 0;
        for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
            size_t len = strlen(units[i].unit);
            if (strncmp(s, units[i].unit, len) == 0 && len > best) {
                best = len;
                which = i;
            }
        }
        if (!best) return -1;
        total += n * units[which].ms;
        s += best;
    }
    if (total > 9.0e15) return -1;
    *ms = (int64_t)total;
    return 0;
}

int64_t sf_timeout_ms(const sf_value *resource, const char *op, int64_t default_ms)
{
    const sf_value *t = resource ? sf_value_get(resource, "timeouts") : NULL;
    const char *text = t && !sf_value_is_null(t) ? sf_value_get_str(sf_value_get(t, op)) : NULL;
    int64_t ms;
    if (text && sf_duration_parse(text, &ms) == 0) return ms;
    return default_ms;
}
