/* lake.c — the lakes compiled in, chosen by the scheme of the lake URI.
 *
 * A pipeline names its lake as a URI (file:///home/me/lake or
 * s3://bucket/prefix).  Callers look the implementation up here by the
 * URI's scheme.  Adding a lake takes its file under lakes/ (an sf_lake
 * table), its extern in lake.h and one line in the table below.
 */
#include "lakes/lake.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const sf_lake *const lakes[] = {
    &sf_lake_file,
    &sf_lake_s3,
    NULL,
};

void sf_published_clear(sf_published *p)
{
    if (!p) return;
    free(p->run_id);
    free(p->fingerprint);
    free(p->location);
    free(p->pipeline);
    *p = (sf_published){0};
}

/* Length of the URI's scheme (RFC 3986: ALPHA *(ALPHA / DIGIT / "+" / "-" /
 * ".") followed by ':'), or 0 when it has none. */
static size_t scheme_len(const char *uri)
{
    if (!isalpha((unsigned char)uri[0])) return 0;
    size_t n = 1;
    while (isalnum((unsigned char)uri[n]) || uri[n] == '+' || uri[n] == '-' || uri[n] == '.') n++;
    return uri[n] == ':' ? n : 0;
}

/* "file:// (...), s3:// (...)": what the table holds, for diagnostics.
 * malloc'd; aborts on OOM. */
static char *supported_list(void)
{
    size_t cap = 1;
    for (size_t i = 0; lakes[i]; i++) cap += strlen(lakes[i]->scheme) + 5;
    char *s = malloc(cap);
    if (!s) abort();
    s[0] = 0;
    for (size_t i = 0; lakes[i]; i++) {
        if (i) strcat(s, ", ");
        strcat(s, lakes[i]->scheme);
        strcat(s, "://");
    }
    return s;
}

/* The lake for `uri` by its scheme (case-insensitive), or NULL with an error
 * diagnostic at `path` that says which schemes are supported. */
const sf_lake *sf_lake_for(const char *uri, const char *path, sf_diags *diags)
{
    size_t n = uri ? scheme_len(uri) : 0;
    for (size_t i = 0; n && lakes[i]; i++)
        if (strlen(lakes[i]->scheme) == n && strncasecmp(lakes[i]->scheme, uri, n) == 0) return lakes[i];
    char *supported = supported_list();
    if (!n)
        sf_diag_error(diags, path, "Invalid lake URI",
                      "\"%s\" is not a URI with a scheme. Write the lake as a URI, for "
                      "example file:///home/me/lake (three slashes, then an absolute path) "
                      "for a directory on this machine. Supported schemes: %s.",
                      uri ? uri : "", supported);
    else
        sf_diag_error(diags, path, "Unsupported lake URI scheme",
                      "\"%s\" uses the scheme \"%.*s\", which SparkFlow does not support. "
                      "Supported schemes: %s (for example file:///home/me/lake for a "
                      "directory on this machine).",
                      uri, (int)n, uri, supported);
    free(supported);
    return NULL;
}
