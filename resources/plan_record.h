/* plan_record.h — the fingerprint the last refreshing plan of a pipeline
 * saw (plan_record.c says why it exists). */
#ifndef SF_PLAN_RECORD_H
#define SF_PLAN_RECORD_H

#include <stdbool.h>

/* Record that a plan of pipeline `id` (publishing to output_uri), made from
 * the state of run `prior_run_id` (NULL: none), planned `fingerprint`.
 * Returns 0, or -1 when it could not be written (the caller goes on). */
int sf_plan_record_write(const char *id, const char *output_uri, const char *prior_run_id,
                         const char *fingerprint);

/* The fingerprint recorded for the same pipeline, output and prior run, or
 * NULL when there is no such record (malloc'd). */
char *sf_plan_record_fingerprint(const char *id, const char *output_uri, const char *prior_run_id);

#endif
