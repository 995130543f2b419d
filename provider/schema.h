/* schema.h — how a provider, a resource or a nested block declares its shape.
 *
 * Resources declare their schema as static tables (attributes and nested
 * blocks, NULL-terminated).  The runtime derives from them the object type of
 * the whole block, the protocol's Schema message, defaults and the plan rules
 * (computed, requires-replace), so resources never repeat that logic.
 */
#ifndef SF_SCHEMA_H
#define SF_SCHEMA_H

#include "provider/value.h"

enum {
    SF_ATTR_REQUIRED = 1 << 0,
    SF_ATTR_OPTIONAL = 1 << 1,
    SF_ATTR_COMPUTED = 1 << 2,
    SF_ATTR_SENSITIVE = 1 << 3,
    /* A change of this attribute (or anything in this block) replaces the
     * resource instead of updating it in place. */
    SF_ATTR_FORCE_NEW = 1 << 4,
    /* Computed and never moved by an update (an id, a creation time): the
     * plan keeps the prior value instead of marking it unknown. */
    SF_ATTR_STABLE = 1 << 5,
    /* Write-only/deprecated markers could follow here. */
};

typedef struct sf_diags sf_diags;

/* Checks a known, non-null configured value; reports with `path` (the
 * attribute's spelling, e.g. "local.workers"). */
typedef void (*sf_validator)(const sf_value *v, const char *path, sf_diags *diags);

typedef enum {
    SF_NEST_SINGLE = 1, /* block { } at most once: object or null */
    SF_NEST_LIST = 2,   /* ordered repeated blocks: list of objects */
    SF_NEST_SET = 3,
} sf_nesting;

typedef struct sf_attr_def sf_attr_def;

/* A nested attribute (protocol 6 `nested_type`): its value is an object
 * (SINGLE) or a list or set of objects whose attributes are declared, each
 * with its own flags and description, like a block's. */
typedef struct sf_attr_object {
    sf_nesting nesting;
    const sf_attr_def *attrs; /* terminated by {NULL} */
} sf_attr_object;

struct sf_attr_def {
    const char *name;
    const char *type; /* type: a primitive's name (string, number,
                         bool, dynamic) or compact JSON such as
                         ["map","string"]; NULL with `nested` */
    unsigned flags;
    const char *description;      /* markdown, shown in docs */
    const char *default_json;     /* OPTIONAL|COMPUTED default, JSON; or NULL */
    sf_validator validate;        /* optional */
    const sf_attr_object *nested; /* a nested attribute's shape, or NULL */
};

typedef struct sf_block_def sf_block_def;

typedef struct sf_nested_def {
    const char *name;
    sf_nesting nesting;
    const sf_block_def *block;
    int min_items, max_items; /* 0 = unbounded */
    unsigned flags;           /* SF_ATTR_FORCE_NEW applies to the whole block */
    const char *description;
} sf_nested_def;

struct sf_block_def {
    const char *description;
    const sf_attr_def *attrs;    /* terminated by {NULL} */
    const sf_nested_def *blocks; /* terminated by {NULL}; may be NULL */
};

/* Run every attribute validator (and check min/max items of nested
 * blocks) over a configuration value of `block`.  Unknown values are
 * skipped: they are checked again when known. */
void sf_schema_validate(const sf_block_def *block, const sf_value *config, const char *path, sf_diags *diags);

/* Common validators. */
void sf_validate_positive_int(const sf_value *v, const char *path, sf_diags *d);
void sf_validate_duration(const sf_value *v, const char *path, sf_diags *d);
void sf_validate_not_empty(const sf_value *v, const char *path, sf_diags *d);
/* A name that may label files, processes and cloud resources: 1 to 64
 * letters, digits, '-', '_' or '.', not starting with '.'. */
void sf_validate_name(const sf_value *v, const char *path, sf_diags *d);

/* The type of an attribute (caller frees).  Can't fail for a valid schema;
 * asserts on a malformed declaration. */
sf_type *sf_schema_attr_type(const sf_attr_def *attr);

/* The default of an OPTIONAL|COMPUTED attribute as a value (caller frees),
 * or NULL when it declares none. */
sf_value *sf_schema_attr_default(const sf_attr_def *attr);

/* The object type of a block (attributes and nested blocks). */
sf_type *sf_schema_type(const sf_block_def *block);
/* Attribute or nested block definition by name; NULL when absent. */
const sf_attr_def *sf_schema_attr(const sf_block_def *block, const char *name);
const sf_nested_def *sf_schema_nested(const sf_block_def *block, const char *name);

#endif
