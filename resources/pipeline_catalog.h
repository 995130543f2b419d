/* pipeline_catalog.h — the `catalog` of a sparkflow_pipeline: its plan rules
 * and when it is synced or removed (pipeline_catalog.c).
 *
 * State: `catalog_database` and `catalog_workgroup` are known at plan (from
 * the `catalog` block, the name and the lake); `tables` is what the last
 * sync made, unknown in a plan that will sync, and null when the catalog is
 * off or the last sync failed — a null `tables` with the catalog on makes
 * the next plan sync again, so a failed catalog call never loses a run and
 * is repaired by the next apply.
 */
#ifndef SF_PIPELINE_CATALOG_H
#define SF_PIPELINE_CATALOG_H

#include <stdbool.h>

#include "provider/resource.h"

/* Plan the catalog attributes of plan->planned.  `runs`: the plan runs the
 * pipeline (the catalog is synced after it publishes). */
void sf_pipeline_catalog_plan(sf_call *call, sf_plan *plan, bool runs, sf_diags *diags);

/* True when an update to `planned` that runs nothing must still settle the
 * catalog: it syncs (`tables` unknown), or the catalog `prior` had is
 * turned off (and removed). */
bool sf_pipeline_catalog_pending(const sf_value *prior, const sf_value *planned);

/* Bring the catalog of `state` (a state about to be recorded, whose run is
 * published) in line: drop the catalog `prior` had when it moved or was
 * turned off, then sync; sets `tables` in state (null on failure, with
 * error diagnostics — warnings on create, where an error would make
 * Terraform taint the pipeline and re-run it for a catalog repair).  `published`: false after a failed run, which keeps
 * prior's tables when nothing about the catalog changed. */
void sf_pipeline_catalog_settle(sf_call *call, const sf_value *prior, sf_value *state, bool published, sf_diags *diags);

/* After a run Airflow published (adopted by a refresh): `tables` becomes
 * null when the catalog does not follow publications by itself, so the
 * next plan syncs it. */
void sf_pipeline_catalog_adopted(sf_value *state);

/* Remove the catalog of `prior` (destroy); a catalog kept with the data
 * (a DuckDB file in the lake) only with `outputs_too`.  0, or -1 with
 * diagnostics. */
int sf_pipeline_catalog_remove(sf_call *call, const sf_value *prior, bool outputs_too, sf_diags *diags);

#endif
