/* time.h — the two clocks (wall and monotonic milliseconds) and the UTC
 * timestamp forms SparkFlow writes: RFC 3339 for state and records, the
 * compact ISO 8601 basic form for SigV4 dates and run ids, and RFC 3339 with
 * microseconds for log lines; and reading the timestamps APIs send. */
#ifndef SF_BASE_TIME_H
#define SF_BASE_TIME_H

#include <stdint.h>

/* Milliseconds since the Unix epoch (CLOCK_REALTIME).  Can't fail. */
int64_t sf_time_wall_ms(void);
/* Microseconds since the Unix epoch (CLOCK_REALTIME).  Can't fail. */
int64_t sf_time_wall_us(void);
/* Milliseconds of a monotonic clock (CLOCK_MONOTONIC): for deadlines and
 * durations, never for display.  Can't fail. */
int64_t sf_time_mono_ms(void);

/* "2026-12-07T01:02:03Z" (UTC, whole seconds) */
#define SF_TIME_RFC3339_LEN 21
void sf_time_rfc3339(char out[SF_TIME_RFC3339_LEN], int64_t wall_ms);

/* "20261207T010203Z" (UTC; SigV4's X-Amz-Date, run ids) */
#define SF_TIME_COMPACT_LEN 17
void sf_time_compact(char out[SF_TIME_COMPACT_LEN], int64_t wall_ms);

/* "2026-12-07T01:02:03.123456Z" (UTC; hclog's @timestamp) */
#define SF_TIME_RFC3339_US_LEN 28
void sf_time_rfc3339_us(char out[SF_TIME_RFC3339_US_LEN], int64_t wall_us);

/* Milliseconds since the epoch of an RFC 3339 / ISO 8601 timestamp as APIs
 * send them ("2026-12-07T01:02:03Z", with an optional fraction and a `Z`
 * or +hh:mm offset); -1 when `s` is NULL or not one. */
int64_t sf_time_parse_rfc3339_ms(const char *s);

/* How long a thing has been up, for a person: "2d4h", "3h12m", "45m"
 * (negative spans count as 0).  Can't fail. */
#define SF_TIME_SPAN_LEN 32
void sf_time_span(char out[SF_TIME_SPAN_LEN], int64_t seconds);

#endif
