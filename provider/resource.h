/* resource.h — what a provider built on this runtime declares.
 *
 * A resource type is its schema plus a table of callbacks, as in
 * terraform-plugin-framework.  The runtime owns the protocol and the plan
 * rules (config values kept, computed attributes unknown until known,
 * defaults, requires-replace, consistency between plan and apply); a
 * resource only adds what is specific to it.  Adding a resource type is one
 * new file and one line in the provider's resource list.
 */
#ifndef SF_RESOURCE_H
#define SF_RESOURCE_H

#include "base/ctx.h"
#include "provider/diag.h"
#include "provider/schema.h"
#include "provider/value.h"

/* The context of one callback: cancellation/deadline/logging and the data
 * the provider's configure callback returned (NULL before configure). */
typedef struct sf_call {
    sf_ctx *ctx;
    void *provider_data;
} sf_call;

/* A plan being made: the runtime fills `planned` by the generic rules, then
 * the resource's modify_plan may change computed parts of it and add paths
 * to `requires_replace`. */
typedef struct sf_plan {
    const sf_value *prior; /* null value on create */
    const sf_value *config;
    sf_value *planned; /* owned by the runtime */
    sf_path **requires_replace;
    size_t n_requires_replace;
    /* The prior state is one this process's read just returned: this is
     * the plan phase of a refreshing plan.  False in the apply phase, where
     * Terraform plans again without refreshing and requires the result to
     * agree with the saved plan, and in `plan -refresh=false`. */
    bool prior_refreshed;
} sf_plan;

/* Add a requires-replace path (spelling as in sf_path_parse). */
void sf_plan_require_replace(sf_plan *plan, const char *path);
/* True when this plan creates the resource (no prior state). */
bool sf_plan_is_create(const sf_plan *plan);

/* ---- Identity (Terraform 1.12+) -------------------------------------------
 *
 * A resource identity is a small object, stored by Terraform beside the
 * state, that names one remote object: `import { identity = {...} }` takes
 * it, list results carry it.  Most identities are a projection of state
 * attributes, so that is the default: each identity attribute is the state
 * attribute of the same name (or `state_attr`).  Clients that do not know
 * identities never see any of this. */

/* For import by identity: a required attribute must be given, an optional
 * one the provider can find by itself. */
enum { SF_IDENTITY_REQUIRED = 1 << 0, SF_IDENTITY_OPTIONAL = 1 << 1 };

typedef struct sf_identity_attr {
    const char *name;
    const char *type;        /* as sf_attr_def: "string" or compact JSON; a
                                primitive or a list of primitives */
    unsigned flags;          /* SF_IDENTITY_REQUIRED or SF_IDENTITY_OPTIONAL */
    const char *description; /* markdown, shown in docs */
    const char *state_attr;  /* the state attribute it projects; NULL: `name` */
} sf_identity_attr;

typedef struct sf_identity_def {
    int64_t version;               /* bump when the attributes or their meaning change */
    const sf_identity_attr *attrs; /* terminated by {NULL} */
    /* The identity of a (non-null) state, when not the projection above;
     * returns an object of the identity type (caller frees).  Optional. */
    sf_value *(*derive)(const sf_value *state);
    /* Import by identity.  The declarative way: `import_id` names the
     * identity attribute whose value is the id the resource's `import`
     * callback already takes.  Otherwise `import` gets the identity (an
     * object with every required attribute set) and returns a state that
     * read will complete, or NULL with diagnostics. */
    const char *import_id;
    sf_value *(*import)(sf_call *call, const sf_value *identity, sf_diags *diags);
    /* Upgrade an identity stored with an older `version` (decoded with the
     * current type).  Without it an older version is an error. */
    sf_value *(*upgrade)(sf_call *call, int64_t from_version, sf_value *owned_identity, sf_diags *diags);
    /* The identity follows attributes that change in place (e.g. where a
     * pipeline publishes).  Otherwise a change without replacement is a
     * provider bug, reported as an error. */
    bool mutable_in_place;
} sf_identity_def;

typedef struct sf_resource_type {
    const char *name; /* "sparkflow_cluster" */
    const sf_block_def *schema;
    int64_t schema_version;
    /* Default timeouts (ms) of create, update, delete; when the schema has
     * a `timeouts` block, its values override these.  0: no deadline. */
    struct {
        int64_t create, update, delete, read;
    } timeouts;

    /* Checks beyond types and required-ness; skip unknown values. */
    void (*validate)(sf_call *call, const sf_value *config, sf_diags *diags);
    /* Resource-specific plan changes (after the generic rules). */
    void (*modify_plan)(sf_call *call, sf_plan *plan, sf_diags *diags);
    /* Each returns the new state (owned by the caller) or NULL on error
     * (diagnostics say why).  The runtime keeps every value that was known
     * in the plan and takes the resource's values for the unknown ones. */
    sf_value *(*create)(sf_call *call, const sf_value *planned, sf_diags *diags);
    sf_value *(*update)(sf_call *call, const sf_value *prior, const sf_value *planned, sf_diags *diags);
    /* Refresh: the current state, or a null value when the object is gone
     * (the runtime then removes it from state); NULL on error. */
    sf_value *(*read)(sf_call *call, const sf_value *state, sf_diags *diags);
    /* Destroy; returns 0 on success, -1 with diagnostics. */
    int (*delete)(sf_call *call, const sf_value *prior, sf_diags *diags);
    /* Import by id: a state that read will complete, or NULL.  Optional. */
    sf_value *(*import)(sf_call *call, const char *id, sf_diags *diags);
    /* Upgrade state decoded from an older schema version (attributes that
     * no longer exist dropped, new ones null).  Optional. */
    sf_value *(*upgrade)(sf_call *call, int64_t from_version, sf_value *owned_state, sf_diags *diags);
    /* Its identity, or NULL when it has none (identity.h). */
    const sf_identity_def *identity;
} sf_resource_type;

/* ---- List resources (Terraform 1.14+, `terraform query`) -------------------
 *
 * A list resource finds the remote objects of one managed resource type,
 * whether or not any state holds them.  The provider only finds them: for
 * each it hands the runtime the state the type's read would give and a
 * name for a person; the runtime builds the identity, the resource object
 * (only when Terraform asks for it) and the protocol's events, and stops the
 * search at Terraform's limit.  Clients that do not know list resources
 * never see any of this. */

typedef struct sf_list_emitter sf_list_emitter;

/* Hand one found object to Terraform: `state` a (non-null, wholly known)
 * value of the resource type, `display_name` a line for a person.  Returns
 * true to go on; false once the limit is reached or the client is gone
 * (stop searching, return).  An object whose state the runtime cannot send
 * (a provider bug) becomes an error diagnostic and false. */
bool sf_list_emit(sf_list_emitter *emit, const sf_value *state, const char *display_name);

typedef struct sf_list_resource_type {
    const char *name;           /* a managed resource type's name, which must have an identity */
    const sf_block_def *schema; /* the list block's `config {}`: filters */
    /* Checks beyond types and required-ness; skip unknown values.  Optional. */
    void (*validate)(sf_call *call, const sf_value *config, sf_diags *diags);
    /* Find objects and sf_list_emit each; `config` is an object of the
     * schema's type (every attribute null when the user wrote no `config`).
     * `include_resource` is only a hint (the runtime drops the object when
     * not asked); `limit` is how many Terraform reads.  Diagnostics (warnings
     * too) reach Terraform after the emitted objects. */
    void (*list)(sf_call *call, const sf_value *config, bool include_resource, int64_t limit, sf_list_emitter *emit,
                 sf_diags *diags);
} sf_list_resource_type;

/* ---- Actions (Terraform 1.14+, `terraform apply -invoke`, action_trigger) --
 *
 * An action does something now, outside the plan/apply of any resource: it
 * has a config block (the `config { ... }` of an `action "type" "name" {}`
 * block), may validate it, and when invoked reports progress as it goes.
 * It reads no state.  The runtime owns the protocol (schemas, the stream of
 * progress events and the final completed event with the diagnostics).
 * Clients that do not know actions never see any of this. */

typedef struct sf_action_progress sf_action_progress;

/* Send one progress line to Terraform (printed to the user).  Returns 0, or
 * -1 once the client is gone (the action may stop early).  Callable from
 * any thread while invoke runs (sends are serialized). */
int sf_action_progress_send(sf_action_progress *progress, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef struct sf_action_type {
    const char *name;           /* "sparkflow_pipeline_run" */
    const sf_block_def *schema; /* the action block's `config {}` */
    /* Checks beyond types and required-ness; skip unknown values.  Optional. */
    void (*validate)(sf_call *call, const sf_value *config, sf_diags *diags);
    /* Do it now: `config` is wholly known.  Progress as it goes; errors
     * (and warnings) in diags end up in the completed event. */
    void (*invoke)(sf_call *call, const sf_value *config, sf_action_progress *progress, sf_diags *diags);
} sf_action_type;

typedef struct sf_provider_def {
    const char *name;             /* "sparkflow" */
    const char *display_name;     /* "SparkFlow": in messages for a person; NULL: name */
    const char *registry_address; /* "registry.terraform.io/sparkflow/sparkflow": where
                                     Terraform finds it (-debug's reattach line) */
    const char *version;
    const sf_block_def *schema;                         /* the provider block */
    const sf_resource_type *const *resources;           /* NULL-terminated */
    const sf_list_resource_type *const *list_resources; /* NULL-terminated; NULL: none */
    const sf_action_type *const *actions;               /* NULL-terminated; NULL: none */
    void (*validate)(sf_call *call, const sf_value *config, sf_diags *diags);
    /* Returns the provider data handed to every later call (may be NULL). */
    void *(*configure)(sf_call *call, const sf_value *config, sf_diags *diags);
    void (*free_data)(void *data);
} sf_provider_def;

/* Run the plugin: handshake, serve, exit code.  Never returns early on
 * success paths; the process ends when Terraform shuts it down. */
int sf_provider_serve(const sf_provider_def *def, int argc, char **argv);

#endif
