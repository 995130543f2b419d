/* diag.h — diagnostics: what the user reads when something is wrong.
 *
 * Every error that a user can cause ends up here, as a summary (one line),
 * a detail (the why and what to do) and, where it applies, the attribute
 * path in their configuration.  A diagnostics list is owned by the RPC that
 * created it and converted to the protocol message at the edge.
 */
#ifndef SF_DIAG_H
#define SF_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { SF_DIAG_ERROR = 1, SF_DIAG_WARNING = 2 } sf_diag_severity;

/* An attribute path: steps of attribute names, map keys or list indexes. */
typedef enum { SF_STEP_ATTR, SF_STEP_KEY, SF_STEP_INDEX } sf_step_kind;
typedef struct sf_step {
    sf_step_kind kind;
    char *name;    /* ATTR and KEY */
    int64_t index; /* INDEX */
} sf_step;
typedef struct sf_path {
    size_t n;
    sf_step *steps;
} sf_path;

/* Build a path from a compact spelling: "local.workers", "stage[1].script",
 * "triggers[\"k\"]".  NULL spelling gives the empty path.  Can't fail. */
sf_path *sf_path_parse(const char *spelling);
sf_path *sf_path_copy(const sf_path *p);
void sf_path_free(sf_path *p);
char *sf_path_to_string(const sf_path *p); /* malloc'd, same spelling */

typedef struct sf_diag {
    sf_diag_severity severity;
    char *summary;
    char *detail;
    sf_path *path; /* NULL: not about one attribute */
} sf_diag;

typedef struct sf_diags {
    size_t n, cap;
    sf_diag *items;
} sf_diags;

void sf_diags_init(sf_diags *d);
void sf_diags_clear(sf_diags *d);
/* Add a diagnostic; `path` is a spelling as for sf_path_parse, or NULL.
 * The detail is printf-formatted.  Can't fail. */
void sf_diag_error(sf_diags *d, const char *path, const char *summary, const char *detail_fmt, ...)
    __attribute__((format(printf, 4, 5)));
void sf_diag_warning(sf_diags *d, const char *path, const char *summary, const char *detail_fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Move every diagnostic of `from` into `into`, prefixing their paths with
 * `prefix` (a spelling, may be NULL).  `from` is left empty. */
void sf_diags_move(sf_diags *into, sf_diags *from, const char *prefix);
bool sf_diags_has_error(const sf_diags *d);

#endif
