/* wire.h — between protocol messages and the runtime's own types.
 *
 * DynamicValue ⇄ sf_value, diagnostics and attribute paths → protobuf.
 * Everything built here is owned by the RPC's arena.
 */
#ifndef SF_WIRE_H
#define SF_WIRE_H

#include "proto/tfplugin6.pb-c.h"
#include "base/arena.h"
#include "provider/diag.h"
#include "provider/value.h"

/* Decode a DynamicValue (msgpack preferred, JSON accepted; absent → null).
 * On failure adds an error diagnostic naming `what` and returns NULL. */
sf_value *sf_wire_decode(const Tfplugin6__DynamicValue *dv, const sf_type *type, const char *what, sf_diags *diags);
/* Encode as msgpack into an arena-owned DynamicValue; NULL with a
 * diagnostic when the value does not fit the type (a provider bug). */
Tfplugin6__DynamicValue *sf_wire_encode(sf_arena *a, const sf_value *v, const sf_type *type, sf_diags *diags);
Tfplugin6__AttributePath *sf_wire_path(sf_arena *a, const sf_path *p);
/* Fill a response's repeated diagnostics field. */
void sf_wire_diags(sf_arena *a, const sf_diags *d, size_t *n_out, Tfplugin6__Diagnostic ***out);

#endif
