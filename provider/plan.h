/* plan.h — the generic plan rules every resource gets from the runtime.
 *
 * See PlanResourceChange in Terraform's resource instance change lifecycle:
 * a planned value keeps every configured value, may only choose values for
 * computed attributes, and apply must return exactly what the plan knew.
 */
#ifndef SF_PLAN_H
#define SF_PLAN_H

#include "provider/diag.h"
#include "provider/resource.h"

/* Fill plan->planned from the proposed new state: defaults for unset
 * optional+computed attributes, unknown for computed ones on create (and on
 * update when anything changed, except SF_ATTR_STABLE), requires-replace for
 * changed SF_ATTR_FORCE_NEW attributes and blocks.  Takes `proposed`. */
void sf_plan_rules(const sf_block_def *block, sf_plan *plan, sf_value *owned_proposed, sf_diags *diags);
/* True when planned differs from prior in anything (unknowns count). */
bool sf_plan_changes(const sf_plan *plan);
void sf_plan_clear(sf_plan *plan);

/* The state apply records: `planned` with each unknown replaced by the
 * resource's value at the same place in `result`.  Known planned values win
 * (a difference is logged as a provider bug); an unknown left without a known
 * result becomes an error diagnostic naming its path.  Returns NULL then. */
sf_value *sf_plan_merge(const sf_ctx *ctx, const sf_value *planned, const sf_value *result, sf_diags *diags);

#endif
