/* identity.c — a resource type's identity as data: its type, its schema
 * message, the identity of a state, and its encoding on the wire.
 *
 * Nothing here decides when an identity is sent (rpc_identity.c does), and
 * nothing here knows a resource: the projection of state attributes covers
 * the common case, a resource's `derive` callback the rest.
 */
#include "provider/identity.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "provider/wire.h"

static size_t count_attrs(const sf_identity_def *def)
{
    size_t n = 0;
    while (def->attrs[n].name) n++;
    return n;
}

/* The type of one attribute, by the schema's own parser (asserts). */
static sf_type *attr_type(const sf_identity_attr *a)
{
    sf_attr_def as_schema = {.name = a->name, .type = a->type};
    return sf_schema_attr_type(&as_schema);
}

sf_type *sf_identity_type(const sf_identity_def *def)
{
    size_t n = count_attrs(def);
    const char **names = calloc(n ? n : 1, sizeof *names);
    sf_type **types = calloc(n ? n : 1, sizeof *types);
    if (!names || !types) abort();
    for (size_t i = 0; i < n; i++) {
        unsigned f = def->attrs[i].flags & (SF_IDENTITY_REQUIRED | SF_IDENTITY_OPTIONAL);
        (void)f;
        assert((f == SF_IDENTITY_REQUIRED || f == SF_IDENTITY_OPTIONAL) &&
               "an identity attribute is either required or optional for import");
        names[i] = def->attrs[i].name;
        types[i] = attr_type(&def->attrs[i]);
    }
    sf_type *t = sf_type_object(n, names, types);
    assert(t && "identity declares an attribute twice");
    free(names);
    free(types);
    return t;
}

sf_value *sf_identity_of(const sf_identity_def *def, const sf_value *state)
{
    if (sf_value_is_null(state) || sf_value_is_unknown(state)) return sf_value_null();
    if (def->derive) return def->derive(state);
    sf_value *id = sf_value_object();
    for (size_t i = 0; def->attrs[i].name; i++) {
        const char *from = def->attrs[i].state_attr ? def->attrs[i].state_attr : def->attrs[i].name;
        const sf_value *v = sf_value_get(state, from);
        sf_value_put(id, def->attrs[i].name, v ? sf_value_copy(v) : sf_value_null());
    }
    return id;
}

bool sf_identity_is_empty(const sf_value *identity)
{
    if (sf_value_is_null(identity)) return true;
    if (identity->kind != SF_VAL_OBJECT) return false;
    for (size_t i = 0; i < identity->n; i++)
        if (!sf_value_is_null(identity->elems[i])) return false;
    return true;
}

static bool has_attr(const sf_value *identity, const char *name)
{
    const sf_value *v = sf_value_get(identity, name);
    return !sf_value_is_null(v) && sf_value_is_wholly_known(v);
}

bool sf_identity_complete(const sf_identity_def *def, const sf_value *identity)
{
    for (size_t i = 0; def->attrs[i].name; i++)
        if ((def->attrs[i].flags & SF_IDENTITY_REQUIRED) && !has_attr(identity, def->attrs[i].name)) return false;
    return true;
}

bool sf_identity_check_required(const sf_identity_def *def, const char *type_name, const sf_value *identity,
                                sf_diags *diags)
{
    bool ok = true;
    for (size_t i = 0; def->attrs[i].name; i++) {
        if (!(def->attrs[i].flags & SF_IDENTITY_REQUIRED)) continue;
        if (has_attr(identity, def->attrs[i].name)) continue;
        const sf_value *v = sf_value_get(identity, def->attrs[i].name);
        sf_diag_error(diags, NULL, "Incomplete identity",
                      "Importing a %s by identity needs `%s` (%s); the identity given has it %s.", type_name,
                      def->attrs[i].name, def->attrs[i].description ? def->attrs[i].description : "",
                      sf_value_is_null(v) ? "null" : "unknown");
        ok = false;
    }
    return ok;
}

Tfplugin6__ResourceIdentitySchema *sf_identity_schema_msg(sf_arena *a, const sf_identity_def *def)
{
    Tfplugin6__ResourceIdentitySchema *m = SF_ARENA_NEW(a, Tfplugin6__ResourceIdentitySchema);
    tfplugin6__resource_identity_schema__init(m);
    m->version = def->version;
    m->n_identity_attributes = count_attrs(def);
    m->identity_attributes = sf_arena_alloc(a, m->n_identity_attributes * sizeof *m->identity_attributes);
    for (size_t i = 0; i < m->n_identity_attributes; i++) {
        const sf_identity_attr *d = &def->attrs[i];
        Tfplugin6__ResourceIdentitySchema__IdentityAttribute *at =
            SF_ARENA_NEW(a, Tfplugin6__ResourceIdentitySchema__IdentityAttribute);
        tfplugin6__resource_identity_schema__identity_attribute__init(at);
        at->name = sf_arena_strdup(a, d->name);
        /* Compact JSON, as Terraform parses it (it panics on anything else). */
        sf_type *t = attr_type(d);
        char *json = sf_arena_keep(a, sf_type_to_json(t));
        sf_type_free(t);
        at->type.data = (uint8_t *)json;
        at->type.len = strlen(json);
        at->required_for_import = (d->flags & SF_IDENTITY_REQUIRED) != 0;
        at->optional_for_import = (d->flags & SF_IDENTITY_OPTIONAL) != 0;
        at->description = sf_arena_strdup(a, d->description ? d->description : "");
        m->identity_attributes[i] = at;
    }
    return m;
}

Tfplugin6__ResourceIdentityData *sf_identity_wire(sf_arena *a, const sf_value *identity, const sf_type *type,
                                                  sf_diags *diags)
{
    if (sf_identity_is_empty(identity)) return NULL;
    char *err = NULL;
    if (!sf_value_is_wholly_known(identity) || sf_value_conforms(identity, type, &err) != 0) {
        sf_diag_error(diags, NULL, "Provider produced an invalid identity",
                      "The resource identity %s. This is a bug in the provider; please report it.",
                      err ? err : "holds unknown values");
        free(err);
        return NULL;
    }
    Tfplugin6__DynamicValue *dv = sf_wire_encode(a, identity, type, diags);
    if (!dv) return NULL;
    Tfplugin6__ResourceIdentityData *d = SF_ARENA_NEW(a, Tfplugin6__ResourceIdentityData);
    tfplugin6__resource_identity_data__init(d);
    d->identity_data = dv;
    return d;
}

sf_value *sf_identity_decode(const Tfplugin6__ResourceIdentityData *d, const sf_type *type, const char *what,
                             sf_diags *diags)
{
    if (!d) return sf_value_null();
    return sf_wire_decode(d->identity_data, type, what, diags);
}
