/* rpc_schema.c — what the provider offers: metadata and schemas.
 *
 * Terraform asks for these first (and caches nothing across runs), so they
 * are answered from the static definitions without any I/O.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "provider/runtime.h"
#include "provider/wire.h"

static Tfplugin6__ServerCapabilities *capabilities(sf_arena *a)
{
    Tfplugin6__ServerCapabilities *c = SF_ARENA_NEW(a, Tfplugin6__ServerCapabilities);
    tfplugin6__server_capabilities__init(c);
    c->plan_destroy = 1; /* resources may warn about what destroy keeps */
    return c;
}

static Tfplugin6__Schema__Block *block_msg(sf_arena *a, const sf_block_def *def);

static Tfplugin6__Schema__Attribute *attr_msg(sf_arena *a, const sf_attr_def *def);

/* A nested attribute's shape: Terraform derives its type from it. */
static Tfplugin6__Schema__Object *object_msg(sf_arena *a, const sf_attr_object *def)
{
    Tfplugin6__Schema__Object *m = SF_ARENA_NEW(a, Tfplugin6__Schema__Object);
    tfplugin6__schema__object__init(m);
    while (def->attrs[m->n_attributes].name) m->n_attributes++;
    m->attributes = sf_arena_alloc(a, m->n_attributes * sizeof *m->attributes);
    for (size_t i = 0; i < m->n_attributes; i++) m->attributes[i] = attr_msg(a, &def->attrs[i]);
    switch (def->nesting) {
    case SF_NEST_SINGLE: m->nesting = TFPLUGIN6__SCHEMA__OBJECT__NESTING_MODE__SINGLE; break;
    case SF_NEST_LIST: m->nesting = TFPLUGIN6__SCHEMA__OBJECT__NESTING_MODE__LIST; break;
    case SF_NEST_SET: m->nesting = TFPLUGIN6__SCHEMA__OBJECT__NESTING_MODE__SET; break;
    }
    return m;
}

static Tfplugin6__Schema__Attribute *attr_msg(sf_arena *a, const sf_attr_def *def)
{
    Tfplugin6__Schema__Attribute *m = SF_ARENA_NEW(a, Tfplugin6__Schema__Attribute);
    tfplugin6__schema__attribute__init(m);
    m->name = sf_arena_strdup(a, def->name);
    if (def->nested) {
        m->nested_type = object_msg(a, def->nested);
    } else {
        /* Re-emit the type in compact form: Terraform parses it as JSON. */
        sf_type *t = sf_schema_attr_type(def);
        char *json = sf_arena_keep(a, sf_type_to_json(t));
        sf_type_free(t);
        m->type.data = (uint8_t *)json;
        m->type.len = strlen(json);
    }
    const char *desc = def->description ? def->description : "";
    if (def->default_json) {
        char *full;
        full = sf_fmt("%s%sDefaults to `%s`.", desc, *desc ? " " : "", def->default_json);
        m->description = sf_arena_keep(a, full);
    } else {
        m->description = sf_arena_strdup(a, desc);
    }
    m->description_kind = TFPLUGIN6__STRING_KIND__MARKDOWN;
    m->required = (def->flags & SF_ATTR_REQUIRED) != 0;
    m->optional = (def->flags & SF_ATTR_OPTIONAL) != 0;
    m->computed = (def->flags & SF_ATTR_COMPUTED) != 0;
    m->sensitive = (def->flags & SF_ATTR_SENSITIVE) != 0;
    return m;
}

static Tfplugin6__Schema__NestedBlock *nested_msg(sf_arena *a, const sf_nested_def *def)
{
    Tfplugin6__Schema__NestedBlock *m = SF_ARENA_NEW(a, Tfplugin6__Schema__NestedBlock);
    tfplugin6__schema__nested_block__init(m);
    m->type_name = sf_arena_strdup(a, def->name);
    m->block = block_msg(a, def->block);
    /* The nesting's description speaks of the block where it is used. */
    if (def->description && *def->description) m->block->description = sf_arena_strdup(a, def->description);
    switch (def->nesting) {
    case SF_NEST_SINGLE: m->nesting = TFPLUGIN6__SCHEMA__NESTED_BLOCK__NESTING_MODE__SINGLE; break;
    case SF_NEST_LIST: m->nesting = TFPLUGIN6__SCHEMA__NESTED_BLOCK__NESTING_MODE__LIST; break;
    case SF_NEST_SET: m->nesting = TFPLUGIN6__SCHEMA__NESTED_BLOCK__NESTING_MODE__SET; break;
    }
    /* Terraform only accepts min/max on LIST and SET blocks. */
    if (def->nesting != SF_NEST_SINGLE) {
        m->min_items = def->min_items;
        m->max_items = def->max_items;
    }
    return m;
}

static Tfplugin6__Schema__Block *block_msg(sf_arena *a, const sf_block_def *def)
{
    Tfplugin6__Schema__Block *m = SF_ARENA_NEW(a, Tfplugin6__Schema__Block);
    tfplugin6__schema__block__init(m);
    m->description = sf_arena_strdup(a, def->description ? def->description : "");
    m->description_kind = TFPLUGIN6__STRING_KIND__MARKDOWN;
    while (def->attrs && def->attrs[m->n_attributes].name) m->n_attributes++;
    m->attributes = sf_arena_alloc(a, m->n_attributes * sizeof *m->attributes);
    for (size_t i = 0; i < m->n_attributes; i++) m->attributes[i] = attr_msg(a, &def->attrs[i]);
    while (def->blocks && def->blocks[m->n_block_types].name) m->n_block_types++;
    m->block_types = sf_arena_alloc(a, m->n_block_types * sizeof *m->block_types);
    for (size_t i = 0; i < m->n_block_types; i++) m->block_types[i] = nested_msg(a, &def->blocks[i]);
    return m;
}

static Tfplugin6__Schema *schema_msg(sf_arena *a, const sf_block_def *def, int64_t version)
{
    Tfplugin6__Schema *s = SF_ARENA_NEW(a, Tfplugin6__Schema);
    tfplugin6__schema__init(s);
    s->version = version;
    s->block = block_msg(a, def);
    s->block->version = version;
    return s;
}

static ProtobufCMessage *get_metadata(sf_rpc *rpc, const ProtobufCMessage *req)
{
    (void)req;
    sf_arena *a = &rpc->arena;
    Tfplugin6__GetMetadata__Response *r = SF_ARENA_NEW(a, Tfplugin6__GetMetadata__Response);
    tfplugin6__get_metadata__response__init(r);
    r->server_capabilities = capabilities(a);
    r->n_resources = rpc->rt->n_resources;
    r->resources = sf_arena_alloc(a, r->n_resources * sizeof *r->resources);
    for (size_t i = 0; i < r->n_resources; i++) {
        Tfplugin6__GetMetadata__ResourceMetadata *m = SF_ARENA_NEW(a, Tfplugin6__GetMetadata__ResourceMetadata);
        tfplugin6__get_metadata__resource_metadata__init(m);
        m->type_name = sf_arena_strdup(a, rpc->rt->resources[i].def->name);
        r->resources[i] = m;
    }
    /* Only a provider with list resources says so (older clients skip the field). */
    r->n_list_resources = rpc->rt->n_lists;
    r->list_resources = sf_arena_alloc(a, r->n_list_resources * sizeof *r->list_resources);
    for (size_t i = 0; i < r->n_list_resources; i++) {
        Tfplugin6__GetMetadata__ListResourceMetadata *m = SF_ARENA_NEW(a, Tfplugin6__GetMetadata__ListResourceMetadata);
        tfplugin6__get_metadata__list_resource_metadata__init(m);
        m->type_name = sf_arena_strdup(a, rpc->rt->lists[i].def->name);
        r->list_resources[i] = m;
    }
    r->n_actions = rpc->rt->n_actions;
    r->actions = sf_arena_alloc(a, r->n_actions * sizeof *r->actions);
    for (size_t i = 0; i < r->n_actions; i++) {
        Tfplugin6__GetMetadata__ActionMetadata *m = SF_ARENA_NEW(a, Tfplugin6__GetMetadata__ActionMetadata);
        tfplugin6__get_metadata__action_metadata__init(m);
        m->type_name = sf_arena_strdup(a, rpc->rt->actions[i].def->name);
        r->actions[i] = m;
    }
    return &r->base;
}

static ProtobufCMessage *get_provider_schema(sf_rpc *rpc, const ProtobufCMessage *req)
{
    (void)req;
    sf_arena *a = &rpc->arena;
    const sf_runtime *rt = rpc->rt;
    Tfplugin6__GetProviderSchema__Response *r = SF_ARENA_NEW(a, Tfplugin6__GetProviderSchema__Response);
    tfplugin6__get_provider_schema__response__init(r);
    r->provider = schema_msg(a, rt->def->schema, 0);
    r->server_capabilities = capabilities(a);
    r->n_resource_schemas = rt->n_resources;
    r->resource_schemas = sf_arena_alloc(a, rt->n_resources * sizeof *r->resource_schemas);
    for (size_t i = 0; i < rt->n_resources; i++) {
        Tfplugin6__GetProviderSchema__Response__ResourceSchemasEntry *e =
            SF_ARENA_NEW(a, Tfplugin6__GetProviderSchema__Response__ResourceSchemasEntry);
        tfplugin6__get_provider_schema__response__resource_schemas_entry__init(e);
        e->key = sf_arena_strdup(a, rt->resources[i].def->name);
        e->value = schema_msg(a, rt->resources[i].def->schema, rt->resources[i].def->schema_version);
        r->resource_schemas[i] = e;
    }
    /* Each list resource's `config {}` block; Terraform wraps it itself. */
    r->n_list_resource_schemas = rt->n_lists;
    r->list_resource_schemas = sf_arena_alloc(a, rt->n_lists * sizeof *r->list_resource_schemas);
    for (size_t i = 0; i < rt->n_lists; i++) {
        Tfplugin6__GetProviderSchema__Response__ListResourceSchemasEntry *e =
            SF_ARENA_NEW(a, Tfplugin6__GetProviderSchema__Response__ListResourceSchemasEntry);
        tfplugin6__get_provider_schema__response__list_resource_schemas_entry__init(e);
        e->key = sf_arena_strdup(a, rt->lists[i].def->name);
        e->value = schema_msg(a, rt->lists[i].def->schema, 0);
        r->list_resource_schemas[i] = e;
    }
    /* Each action's `config {}` block. */
    r->n_action_schemas = rt->n_actions;
    r->action_schemas = sf_arena_alloc(a, rt->n_actions * sizeof *r->action_schemas);
    for (size_t i = 0; i < rt->n_actions; i++) {
        Tfplugin6__GetProviderSchema__Response__ActionSchemasEntry *e =
            SF_ARENA_NEW(a, Tfplugin6__GetProviderSchema__Response__ActionSchemasEntry);
        tfplugin6__get_provider_schema__response__action_schemas_entry__init(e);
        e->key = sf_arena_strdup(a, rt->actions[i].def->name);
        e->value = SF_ARENA_NEW(a, Tfplugin6__ActionSchema);
        tfplugin6__action_schema__init(e->value);
        e->value->schema = schema_msg(a, rt->actions[i].def->schema, 0);
        r->action_schemas[i] = e;
    }
    return &r->base;
}

static ProtobufCMessage *get_functions(sf_rpc *rpc, const ProtobufCMessage *req)
{
    (void)req;
    Tfplugin6__GetFunctions__Response *r = SF_ARENA_NEW(&rpc->arena, Tfplugin6__GetFunctions__Response);
    tfplugin6__get_functions__response__init(r);
    return &r->base;
}

const sf_rpc_method sf_rpc_schema_methods[] = {
    {"GetMetadata", &tfplugin6__get_metadata__request__descriptor, get_metadata},
    {"GetProviderSchema", &tfplugin6__get_provider_schema__request__descriptor, get_provider_schema},
    {"GetFunctions", &tfplugin6__get_functions__request__descriptor, get_functions},
    {NULL, NULL, NULL},
};
