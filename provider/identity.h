/* identity.h — resource identities (Terraform 1.12+): what the runtime does
 * with a resource type's sf_identity_def (resource.h).
 *
 * identity.c: the identity's type and schema message, the identity of a
 * state, identities on the wire.  rpc_identity.c: GetResourceIdentitySchemas,
 * UpgradeResourceIdentity, and the identity each read, plan, apply and
 * import response carries (the rules are written there, once).
 */
#ifndef SF_IDENTITY_H
#define SF_IDENTITY_H

#include "proto/tfplugin6.pb-c.h"
#include "provider/runtime.h"

/* The object type of an identity (caller frees).  Can't fail for a valid
 * declaration; asserts on a malformed one (a type Terraform could not
 * parse, an attribute neither required nor optional for import). */
sf_type *sf_identity_type(const sf_identity_def *def);

/* The identity of a state: a null value for a null state, else an object
 * of the identity type (the projection, or def->derive).  Caller frees. */
sf_value *sf_identity_of(const sf_identity_def *def, const sf_value *state);

/* True when no attribute of `identity` is set (or it is null). */
bool sf_identity_is_empty(const sf_value *identity);

/* True when every required-for-import attribute is set and known. */
bool sf_identity_complete(const sf_identity_def *def, const sf_value *identity);
/* Error diagnostics for each required-for-import attribute that is null or
 * unknown in `identity`; returns true when there was none. */
bool sf_identity_check_required(const sf_identity_def *def, const char *type_name, const sf_value *identity,
                                sf_diags *diags);

/* The schema message of GetResourceIdentitySchemas (arena-owned). */
Tfplugin6__ResourceIdentitySchema *sf_identity_schema_msg(sf_arena *a, const sf_identity_def *def);

/* An identity as a response field: NULL for a null or empty identity (the
 * field is then left out), else arena-owned msgpack; NULL with an error
 * diagnostic when it does not fit the type (a provider bug). */
Tfplugin6__ResourceIdentityData *sf_identity_wire(sf_arena *a, const sf_value *identity, const sf_type *type,
                                                  sf_diags *diags);
/* An identity from a request: a null value when absent, NULL with an error
 * diagnostic naming `what` when it cannot be decoded. */
sf_value *sf_identity_decode(const Tfplugin6__ResourceIdentityData *d, const sf_type *type, const char *what,
                             sf_diags *diags);

/* ---- For the resource RPCs (rpc_identity.c) -------------------------------
 * Each returns the identity field of its response (arena-owned) or NULL to
 * leave it out; all are no-ops (NULL) for a type without an identity. */

/* ReadResource: `state` is what the response carries; `fresh` false when
 * the read failed and the stored state is kept. */
Tfplugin6__ResourceIdentityData *sf_rpc_identity_read(sf_rpc *rpc, const sf_runtime_resource *res,
                                                      const Tfplugin6__ResourceIdentityData *current,
                                                      const sf_value *state, bool fresh, sf_diags *diags);
/* PlanResourceChange, once plan->planned is final. */
Tfplugin6__ResourceIdentityData *sf_rpc_identity_plan(sf_rpc *rpc, const sf_runtime_resource *res,
                                                      const Tfplugin6__ResourceIdentityData *prior, const sf_plan *plan,
                                                      sf_diags *diags);
/* ApplyResourceChange: `state` is the state recorded. */
Tfplugin6__ResourceIdentityData *sf_rpc_identity_apply(sf_rpc *rpc, const sf_runtime_resource *res,
                                                       const Tfplugin6__ResourceIdentityData *planned,
                                                       const sf_value *prior, const sf_value *state, sf_diags *diags);
/* ImportResourceState by identity: the state to import (owned) or NULL
 * with diagnostics. */
sf_value *sf_rpc_identity_import(sf_rpc *rpc, const sf_runtime_resource *res,
                                 const Tfplugin6__ResourceIdentityData *requested, sf_diags *diags);
/* The identity of an imported state; `requested` (NULL on import by id)
 * fills what the state leaves null. */
Tfplugin6__ResourceIdentityData *sf_rpc_identity_imported(sf_rpc *rpc, const sf_runtime_resource *res,
                                                          const Tfplugin6__ResourceIdentityData *requested,
                                                          const sf_value *state, sf_diags *diags);

#endif
