/* timeouts.h — the `timeouts {}` block users expect of long-running resources.
 *
 * Durations use Terraform's (Go's) syntax: "90s", "40m", "1h30m".  A resource
 * adds `SF_TIMEOUTS_BLOCK` to its nested blocks and asks for the deadline of
 * an operation; the runtime validates the strings.
 */
#ifndef SF_TIMEOUTS_H
#define SF_TIMEOUTS_H

#include <stdint.h>

#include "provider/schema.h"

extern const sf_block_def sf_timeouts_block;
/* Not formatted: clang-format 14 puts each item of a braced initialiser in a
 * macro on a line of its own. */
// clang-format off
#define SF_TIMEOUTS_BLOCK \
    {"timeouts", SF_NEST_SINGLE, &sf_timeouts_block, 0, 0, 0, \
     "How long each operation may take before it is stopped and reported as failed."}
// clang-format on

/* Parse a Go duration into milliseconds.  Returns 0, or -1 when malformed
 * or negative. */
int sf_duration_parse(const char *text, int64_t *ms);
/* The timeout of `op` ("create", "update", "delete", "read") set in the
 * `timeouts` block of a resource value, else `default_ms`. */
int64_t sf_timeout_ms(const sf_value *resource, const char *op, int64_t default_ms);

#endif
