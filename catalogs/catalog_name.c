/* catalog_name.c — the names a catalog gives: databases and tables.
 *
 * Glue lower-cases names and accepts [a-z0-9_] unquoted (255 chars), Athena
 * wants the same in SQL without quotes, and a DuckDB view named like that
 * needs no quoting either.  So a database name is 1..64 of [a-z0-9_]
 * starting with a letter, checked at plan when the user gives one; the
 * default, and every table name, is mapped to that form deterministically
 * (catalog.h).
 */
#include "catalogs/catalog.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"

char *sf_catalog_default_name(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    char *out = malloc(len + 3);
    if (!out) abort();
    size_t o = 0;
    bool gap = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)tolower((unsigned char)name[i]);
        if (isalnum(c) && c < 0x80) {
            if (gap && o) out[o++] = '_';
            gap = false;
            if (!o && isdigit(c)) {
                out[o++] = 'p';
                out[o++] = '_';
            }
            out[o++] = (char)c;
        } else {
            gap = true; /* '_' and every other character: one separator */
        }
    }
    if (o > SF_CATALOG_NAME_MAX) o = SF_CATALOG_NAME_MAX;
    while (o && out[o - 1] == '_') o--;
    out[o] = 0;
    if (!o) {
        free(out);
        return sf_strdup("pipeline");
    }
    return out;
}

static bool legal(const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n > SF_CATALOG_NAME_MAX || !(name[0] >= 'a' && name[0] <= 'z')) return false;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '_')) return false;
    return true;
}

bool sf_catalog_check_name(const char *name, const char *path, sf_diags *diags)
{
    if (name && legal(name)) return true;
    char *fixed = sf_catalog_default_name(name);
    sf_diag_error(diags, path, "Invalid catalog name",
                  "\"%s\" cannot name a catalog database: Glue, Athena and DuckDB take 1 to %d lower-case "
                  "letters, digits and underscores, starting with a letter. \"%s\" would be accepted.",
                  name ? name : "", SF_CATALOG_NAME_MAX, fixed);
    free(fixed);
    return false;
}

bool sf_catalog_check_workgroup(const char *name, const char *path, sf_diags *diags)
{
    size_t n = name ? strlen(name) : 0;
    bool ok = n >= 1 && n <= 128;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)name[i]) || name[i] == '.' || name[i] == '_' || name[i] == '-';
    if (!ok)
        sf_diag_error(diags, path, "Invalid workgroup name",
                      "\"%s\" cannot name an Athena workgroup: it takes 1 to 128 letters, digits, '.', '_' and "
                      "'-'.",
                      name ? name : "");
    return ok;
}

bool sf_catalog_check_cutoff(int64_t bytes, const char *path, sf_diags *diags)
{
    if (bytes == 0 || bytes >= SF_CATALOG_MIN_CUTOFF) return true;
    sf_diag_error(diags, path, "Invalid bytes-scanned cutoff",
                  "%lld is not a cutoff Athena accepts: give 0 (no cutoff) or at least %d bytes (10 MB).",
                  (long long)bytes, SF_CATALOG_MIN_CUTOFF);
    return false;
}

char *sf_catalog_default_workgroup(const char *database)
{
    return sf_fmt("sparkflow-%s", database);
}
