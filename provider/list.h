/* list.h — list resources inside the runtime: the emitter a list callback
 * hands its objects to (list.c), used by the ListResource handler
 * (rpc_list.c).  Providers see only sf_list_emit (resource.h). */
#ifndef SF_LIST_H
#define SF_LIST_H

#include "provider/runtime.h"

/* One ListResource call's sink: each emitted object becomes one Event. */
struct sf_list_emitter {
    sf_rpc *rpc;
    const sf_runtime_list *list;
    bool include_resource; /* put the resource object in each event */
    int64_t limit;         /* Terraform reads no more events than this */
    int64_t sent;          /* events sent so far */
    bool gone;             /* the client went away: send nothing more */
    bool broken;           /* an object could not be sent (provider bug) */
    sf_diags *diags;       /* where that bug is reported */
};

void sf_list_emitter_init(sf_list_emitter *e, sf_rpc *rpc, const sf_runtime_list *list, bool include_resource,
                          int64_t limit, sf_diags *diags);

#endif
