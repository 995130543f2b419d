/* action.h — actions inside the runtime: the progress sink an action's
 * invoke callback writes to (action.c), used by the InvokeAction handler
 * (rpc_action.c).  Providers see only sf_action_progress_send (resource.h). */
#ifndef SF_ACTION_H
#define SF_ACTION_H

#include "provider/runtime.h"

/* One InvokeAction call's sink: each line becomes one Progress event.
 * Sends are serialized: an action may report from a thread of its own. */
struct sf_action_progress {
    sf_rpc *rpc;
    pthread_mutex_t lock; /* guards the fields below and the stream */
    const char *name;     /* the action type, for the log */
    int64_t sent;         /* progress events sent */
    bool gone;            /* the client went away: send nothing more */
};

void sf_action_progress_init(sf_action_progress *p, sf_rpc *rpc, const char *name);
void sf_action_progress_clear(sf_action_progress *p);

/* The final event: Completed with these diagnostics.  Returns 0 or -1. */
int sf_action_send_completed(sf_rpc *rpc, const sf_diags *diags);

#endif
