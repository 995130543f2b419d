/* testpoint.h — named points where a reliability test may stop the provider.
 *
 * The tests of issue #14 kill the provider with SIGKILL at the worst moments
 * of a run (a run staged, a stage running, mid-publication, published but
 * not yet in Terraform's state) and check that nothing is lost.  A point is
 * a name.  When the environment variable SPARKFLOW_TEST_PAUSE names it, the
 * provider writes its pid to the file SPARKFLOW_TEST_PAUSE_FILE and waits
 * there (until the context ends, at most ten minutes) for the test's kill.
 * Outside tests the variable is unset and a point costs one getenv.
 */
#ifndef SF_BASE_TESTPOINT_H
#define SF_BASE_TESTPOINT_H

#include "base/ctx.h"

void sf_testpoint(sf_ctx *ctx, const char *name);

#endif
