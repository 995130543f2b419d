/* schema.c — from a declared block to the type Terraform exchanges.
 *
 * A block's value is an object: one attribute per declared attribute, plus
 * one per nested block (an object for SINGLE, a list or set of objects for
 * LIST/SET).  This is the type every DynamicValue of the block is decoded
 * and encoded with.  A nested attribute's value has the same shape as a
 * nested block of its attributes.
 */
#include "provider/schema.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t count_attrs(const sf_block_def *b)
{
    size_t n = 0;
    while (b->attrs && b->attrs[n].name) n++;
    return n;
}

static size_t count_blocks(const sf_block_def *b)
{
    size_t n = 0;
    while (b->blocks && b->blocks[n].name) n++;
    return n;
}

static sf_type *wrap_nesting(sf_nesting nesting, sf_type *obj)
{
    switch (nesting) {
    case SF_NEST_LIST: return sf_type_collection(SF_TYPE_LIST, obj);
    case SF_NEST_SET: return sf_type_collection(SF_TYPE_SET, obj);
    case SF_NEST_SINGLE: return obj;
    }
    assert(!"unknown nesting");
    return obj;
}

static sf_type *nested_type(const sf_nested_def *nd)
{
    return wrap_nesting(nd->nesting, sf_schema_type(nd->block));
}

sf_type *sf_schema_attr_type(const sf_attr_def *attr)
{
    if (attr->nested) {
        sf_block_def shape = {.attrs = attr->nested->attrs};
        return wrap_nesting(attr->nested->nesting, sf_schema_type(&shape));
    }
    const char *decl = attr->type;
    char quoted[32];
    if (decl[0] != '[' && decl[0] != '"' && strlen(decl) < sizeof quoted - 2) {
        snprintf(quoted, sizeof quoted, "\"%s\"", decl);
        decl = quoted;
    }
    sf_type *t = sf_type_from_json(decl, strlen(decl), NULL);
    assert(t && "schema declares an invalid type");
    return t;
}

sf_value *sf_schema_attr_default(const sf_attr_def *attr)
{
    if (!attr->default_json) return NULL;
    sf_type *t = sf_schema_attr_type(attr);
    sf_value *v = NULL;
    char *err = NULL;
    int rc = sf_value_from_json(attr->default_json, strlen(attr->default_json), t, false, &v, &err);
    assert(rc == 0 && "schema declares an invalid default");
    (void)rc;
    free(err);
    sf_type_free(t);
    return v;
}

sf_type *sf_schema_type(const sf_block_def *block)
{
    size_t na = count_attrs(block), nb = count_blocks(block), n = na + nb;
    const char **names = calloc(n ? n : 1, sizeof *names);
    sf_type **types = calloc(n ? n : 1, sizeof *types);
    if (!names || !types) abort();
    for (size_t i = 0; i < na; i++) {
        names[i] = block->attrs[i].name;
        types[i] = sf_schema_attr_type(&block->attrs[i]);
    }
    for (size_t i = 0; i < nb; i++) {
        names[na + i] = block->blocks[i].name;
        types[na + i] = nested_type(&block->blocks[i]);
    }
    sf_type *t = sf_type_object(n, names, types);
    assert(t && "schema declares a name twice");
    free(names);
    free(types);
    return t;
}

const sf_attr_def *sf_schema_attr(const sf_block_def *block, const char *name)
{
    for (size_t i = 0; block->attrs && block->attrs[i].name; i++)
        if (strcmp(block->attrs[i].name, name) == 0) return &block->attrs[i];
    return NULL;
}

const sf_nested_def *sf_schema_nested(const sf_block_def *block, const char *name)
{
    for (size_t i = 0; block->blocks && block->blocks[i].name; i++)
        if (strcmp(block->blocks[i].name, name) == 0) return &block->blocks[i];
    return NULL;
}
