/* choice.h — a resource whose implementation is chosen by the nested block
 * the user writes: sparkflow_cluster (engines: `local {}`, `emr {}`) and
 * sparkflow_airflow (hosts: `local {}`, `ec2 {}`).
 *
 * The rules are the same for both, so they live here once: at most one
 * block; none means the first implementation with its defaults; a block
 * attribute changes in place only when the implementation lists it as
 * updatable, any other change replaces; a null means "the
 * implementation's choice" (a block written later, or left out after an
 * import) and changes nothing unless the new value differs from the
 * default; switching implementation replaces.
 */
#ifndef SF_RESOURCES_CHOICE_H
#define SF_RESOURCES_CHOICE_H

#include <stdbool.h>
#include <stddef.h>

#include "provider/resource.h"

/* What the rules need of an implementation (its table's fields). */
typedef struct sf_choice {
    const char *name;             /* its block's name */
    const sf_block_def *spec;     /* its block's schema */
    const char *const *updatable; /* block attributes that change in place */
} sf_choice;

/* The implementation whose block is set in `v`, else the first (index). */
size_t sf_choice_of(const sf_choice *choices, size_t n, const sf_value *v);

/* The block of `c` in a resource value; an object of nulls when unset, so
 * an implementation always receives an object.  Owned by the caller. */
sf_value *sf_choice_spec(const sf_choice *c, const sf_value *v);

/* An error per extra block: "<what> runs in one place" etc.  `at`: the
 * path of the object holding the blocks (NULL: the resource itself). */
void sf_choice_validate(const sf_choice *choices, size_t n, const sf_value *config, const char *at, const char *summary,
                        const char *detail_start, sf_diags *diags);

/* The plan rules above on an update: requires replacement where they say.
 * Returns true when the resource is replaced. */
bool sf_choice_plan(const sf_choice *choices, size_t n, sf_plan *plan);

/* Copy the block of `c` from an implementation's report (`spec`) into the
 * state: only where the user wrote one, or always with `fill` (import). */
void sf_choice_put_spec(const sf_choice *c, sf_value *state, const sf_value *spec, bool fill);

#endif
