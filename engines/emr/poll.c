/* poll.c — how often the engine asks EMR how things are going.
 *
 * Clusters take minutes and steps take seconds to hours, so a poll starts
 * fast (1 s: a quick step or a moto cluster is noticed at once) and backs
 * off by half each time to a cap (30 s for clusters; 10 s for steps, so a
 * finished step is noticed within 10 s while a long step costs at most one
 * call per 10 s).  Intervals run from the start of one poll to the start of
 * the next, so the call's own time does not stretch them.  Tests shorten
 * the schedule with SPARKFLOW_AWS_POLL_MS (first interval) and
 * SPARKFLOW_AWS_POLL_MAX_MS (cap).
 */
#include "engines/emr/emr.h"

#include <stdlib.h>

static int64_t env_ms(const char *name, int64_t dflt)
{
    const char *v = getenv(name);
    long long n = v && *v ? atoll(v) : 0;
    return n > 0 ? (int64_t)n : dflt;
}

void sf_emr_poll_init(sf_emr_poll *p, int64_t default_cap_ms)
{
    p->cap_ms = env_ms("SPARKFLOW_AWS_POLL_MAX_MS", default_cap_ms);
    p->next_ms = env_ms("SPARKFLOW_AWS_POLL_MS", 1000);
    if (p->next_ms > p->cap_ms) p->next_ms = p->cap_ms;
    p->last_start = sf_time_mono_ms();
}

int sf_emr_poll_wait(sf_emr_poll *p, sf_ctx *ctx)
{
    int64_t due = p->last_start + p->next_ms, now = sf_time_mono_ms();
    if (due > now && sf_ctx_sleep_ms(ctx, due - now) != 0) return -1;
    if (sf_ctx_done(ctx)) return -1;
    p->last_start = sf_time_mono_ms();
    p->next_ms += p->next_ms / 2;
    if (p->next_ms > p->cap_ms) p->next_ms = p->cap_ms;
    return 0;
}

void sf_emr_poll_reset(sf_emr_poll *p)
{
    p->next_ms = env_ms("SPARKFLOW_AWS_POLL_MS", 1000);
    if (p->next_ms > p->cap_ms) p->next_ms = p->cap_ms;
}
