/* action.c — what an action's progress and its end become on the wire: one
 * InvokeAction.Event{progress} per line the action reports (Terraform
 * prints each as it arrives), then exactly one Event{completed} carrying
 * the diagnostics.  Once the client is gone nothing more is sent.
 */
#include "provider/action.h"

#include <stdarg.h>
#include <stdlib.h>

#include "base/str.h"
#include "provider/wire.h"

void sf_action_progress_init(sf_action_progress *p, sf_rpc *rpc, const char *name)
{
    *p = (sf_action_progress){.rpc = rpc, .name = name};
    pthread_mutex_init(&p->lock, NULL);
}

void sf_action_progress_clear(sf_action_progress *p)
{
    pthread_mutex_destroy(&p->lock);
}

int sf_action_progress_send(sf_action_progress *p, const char *fmt, ...)
{
    pthread_mutex_lock(&p->lock);
    if (p->gone) {
        pthread_mutex_unlock(&p->lock);
        return -1;
    }
    va_list ap;
    va_start(ap, fmt);
    char *text = sf_vfmt(fmt, ap);
    va_end(ap);
    Tfplugin6__InvokeAction__Event__Progress pr;
    tfplugin6__invoke_action__event__progress__init(&pr);
    pr.message = text;
    Tfplugin6__InvokeAction__Event ev;
    tfplugin6__invoke_action__event__init(&ev);
    ev.type_case = TFPLUGIN6__INVOKE_ACTION__EVENT__TYPE_PROGRESS;
    ev.progress = &pr;
    sf_log(p->rpc->ctx, SF_LOG_DEBUG, "action %s: %s", p->name, text);
    if (sf_rpc_send(p->rpc, &ev.base) != 0) p->gone = true;
    else p->sent++;
    free(text);
    int rc = p->gone ? -1 : 0;
    pthread_mutex_unlock(&p->lock);
    return rc;
}

int sf_action_send_completed(sf_rpc *rpc, const sf_diags *diags)
{
    Tfplugin6__InvokeAction__Event__Completed done;
    tfplugin6__invoke_action__event__completed__init(&done);
    sf_arena a = {0};
    sf_wire_diags(&a, diags, &done.n_diagnostics, &done.diagnostics);
    Tfplugin6__InvokeAction__Event ev;
    tfplugin6__invoke_action__event__init(&ev);
    ev.type_case = TFPLUGIN6__INVOKE_ACTION__EVENT__TYPE_COMPLETED;
    ev.completed = &done;
    int rc = sf_rpc_send(rpc, &ev.base);
    sf_arena_free(&a);
    return rc;
}
