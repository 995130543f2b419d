/* planned_fp.h — the fingerprint the last refreshing plan of a pipeline
 * saw (planned_fp.c says why it exists). */
#ifndef SF_PLANNED_FP_H
#define SF_PLANNED_FP_H

/* Record that a plan of pipeline `id` (publishing to output_uri), made from
 * the state of run `prior_run_id` (NULL: none), planned `fingerprint`;
 * durably (sf_file_write_atomic).  Returns 0, or -1 when it could not be
 * written (the caller goes on). */
int sf_planned_fp_write(const char *id, const char *output_uri, const char *prior_run_id, const char *fingerprint);

/* The fingerprint recorded for the same pipeline, output and prior run, or
 * NULL when there is no such record (malloc'd). */
char *sf_planned_fp_read(const char *id, const char *output_uri, const char *prior_run_id);

#endif
