/* validate.c — declarative checks of configuration values.
 *
 * Attributes name a validator in their definition; this walks a config
 * value along its block definition and runs them, so resources rarely need
 * a validate callback of their own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "provider/diag.h"
#include "provider/schema.h"
#include "provider/timeouts.h"

static char *join(const char *path, const char *name)
{
    char *out;
    out = sf_fmt("%s%s%s", path && *path ? path : "", path && *path ? "." : "", name);
    return out;
}

static void validate_nested(const sf_nested_def *nd, const sf_value *v, const char *path, sf_diags *diags)
{
    if (sf_value_is_unknown(v)) return;
    if (nd->nesting == SF_NEST_SINGLE) {
        if (!sf_value_is_null(v)) sf_schema_validate(nd->block, v, path, diags);
        return;
    }
    size_t n = sf_value_is_null(v) ? 0 : v->n;
    if (nd->min_items && n < (size_t)nd->min_items)
        sf_diag_error(diags, path, "Too few blocks", "At least %d \"%s\" block%s required; found %zu.", nd->min_items,
                      nd->name, nd->min_items == 1 ? " is" : "s are", n);
    if (nd->max_items && n > (size_t)nd->max_items)
        sf_diag_error(diags, path, "Too many blocks", "At most %d \"%s\" block%s allowed; found %zu.", nd->max_items,
                      nd->name, nd->max_items == 1 ? " is" : "s are", n);
    for (size_t i = 0; i < n; i++) {
        char *ipath;
        ipath = sf_fmt("%s[%zu]", path, i);
        if (!sf_value_is_unknown(v->elems[i]) && !sf_value_is_null(v->elems[i]))
            sf_schema_validate(nd->block, v->elems[i], ipath, diags);
        free(ipath);
    }
}

void sf_schema_validate(const sf_block_def *block, const sf_value *config, const char *path, sf_diags *diags)
{
    if (sf_value_is_null(config) || sf_value_is_unknown(config)) return;
    for (size_t i = 0; block->attrs && block->attrs[i].name; i++) {
        const sf_attr_def *a = &block->attrs[i];
        const sf_value *v = sf_value_get(config, a->name);
        if (sf_value_is_null(v)) continue;
        char *apath = join(path, a->name);
        if (a->nested) {
            const sf_block_def shape = {.attrs = a->nested->attrs};
            const sf_nested_def as_block = {.name = a->name, .nesting = a->nested->nesting, .block = &shape};
            validate_nested(&as_block, v, apath, diags);
        }
        if (a->validate && sf_value_is_wholly_known(v)) a->validate(v, apath, diags);
        free(apath);
    }
    for (size_t i = 0; block->blocks && block->blocks[i].name; i++) {
        const sf_nested_def *nd = &block->blocks[i];
        char *bpath = join(path, nd->name);
        validate_nested(nd, sf_value_get(config, nd->name), bpath, diags);
        free(bpath);
    }
}

void sf_validate_positive_int(const sf_value *v, const char *path, sf_diags *d)
{
    int64_t n;
    double x;
    if (sf_value_get_int(v, &n) != 0 || sf_value_get_double(v, &x) != 0 || x != (double)n)
        sf_diag_error(d, path, "Expected a whole number", "%s must be a whole number, got %s.", path, v->str);
    else if (n < 1)
        sf_diag_error(d, path, "Value out of range", "%s must be at least 1, got %lld.", path, (long long)n);
}

void sf_validate_duration(const sf_value *v, const char *path, sf_diags *d)
{
    int64_t ms;
    if (sf_duration_parse(sf_value_get_str(v), &ms) != 0)
        sf_diag_error(
            d, path, "Invalid duration",
            "%s = \"%s\" is not a duration. Write a number followed by a unit, e.g. \"90s\", \"40m\" or \"1h30m\".",
            path, sf_value_get_str(v));
}

void sf_validate_not_empty(const sf_value *v, const char *path, sf_diags *d)
{
    const char *s = sf_value_get_str(v);
    if (!s || !*s) sf_diag_error(d, path, "Empty value", "%s must not be empty.", path);
}

void sf_validate_name(const sf_value *v, const char *path, sf_diags *d)
{
    const char *s = sf_value_get_str(v);
    size_t len = s ? strlen(s) : 0;
    bool ok = len > 0 && len <= 64 && s[0] != '.';
    for (size_t i = 0; ok && i < len; i++)
        ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
             s[i] == '-' || s[i] == '_' || s[i] == '.';
    if (!ok)
        sf_diag_error(d, path, "Invalid name",
                      "%s = \"%s\": use 1 to 64 letters, digits, '-', '_' or '.' (not starting with '.'); "
                      "the name labels files, processes and cloud resources.",
                      path, s ? s : "");
}
