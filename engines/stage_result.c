/* stage_result.c — releasing what an engine reports about a stage. */
#include <stdlib.h>

#include "engines/engine.h"

void sf_stage_result_clear(sf_stage_result *r)
{
    free(r->status);
    free(r->step_id);
    sf_value_free(r->metrics);
    free(r->log);
    free(r->reason);
    free(r->log_tail);
    *r = (sf_stage_result){0};
}
