/* wire.c — DynamicValue and Diagnostic messages. */
#include "provider/wire.h"

#include <stdlib.h>
#include <string.h>

sf_value *sf_wire_decode(const Tfplugin6__DynamicValue *dv, const sf_type *type, const char *what, sf_diags *diags)
{
    sf_value *v = NULL;
    char *err = NULL;
    int rc;
    if (!dv || (dv->msgpack.len == 0 && dv->json.len == 0)) return sf_value_null();
    if (dv->msgpack.len) rc = sf_value_from_msgpack(dv->msgpack.data, dv->msgpack.len, type, &v, &err);
    else rc = sf_value_from_json((const char *)dv->json.data, dv->json.len, type, false, &v, &err);
    if (rc != 0) {
        sf_diag_error(diags, NULL, "Invalid value from Terraform",
                      "The %s could not be decoded: %s. Terraform and the provider disagree on the "
                      "schema; run `terraform init -upgrade` and try again.",
                      what, err ? err : "malformed data");
        free(err);
        return NULL;
    }
    return v;
}

Tfplugin6__DynamicValue *sf_wire_encode(sf_arena *a, const sf_value *v, const sf_type *type, sf_diags *diags)
{
    void *buf = NULL;
    size_t len = 0;
    char *err = NULL;
    if (sf_value_to_msgpack(v, type, &buf, &len, &err) != 0) {
        sf_diag_error(diags, NULL, "Provider produced a value it cannot encode",
                      "This is a bug in the provider; please report it: %s", err ? err : "?");
        free(err);
        return NULL;
    }
    Tfplugin6__DynamicValue *dv = SF_ARENA_NEW(a, Tfplugin6__DynamicValue);
    tfplugin6__dynamic_value__init(dv);
    dv->msgpack.data = sf_arena_keep(a, buf);
    dv->msgpack.len = len;
    return dv;
}

Tfplugin6__AttributePath *sf_wire_path(sf_arena *a, const sf_path *p)
{
    Tfplugin6__AttributePath *ap = SF_ARENA_NEW(a, Tfplugin6__AttributePath);
    tfplugin6__attribute_path__init(ap);
    ap->n_steps = p->n;
    ap->steps = sf_arena_alloc(a, p->n * sizeof *ap->steps);
    for (size_t i = 0; i < p->n; i++) {
        Tfplugin6__AttributePath__Step *st = SF_ARENA_NEW(a, Tfplugin6__AttributePath__Step);
        tfplugin6__attribute_path__step__init(st);
        switch (p->steps[i].kind) {
        case SF_STEP_ATTR:
            st->selector_case = TFPLUGIN6__ATTRIBUTE_PATH__STEP__SELECTOR_ATTRIBUTE_NAME;
            st->attribute_name = sf_arena_strdup(a, p->steps[i].name);
            break;
        case SF_STEP_KEY:
            st->selector_case = TFPLUGIN6__ATTRIBUTE_PATH__STEP__SELECTOR_ELEMENT_KEY_STRING;
            st->element_key_string = sf_arena_strdup(a, p->steps[i].name);
            break;
        case SF_STEP_INDEX:
            st->selector_case = TFPLUGIN6__ATTRIBUTE_PATH__STEP__SELECTOR_ELEMENT_KEY_INT;
            st->element_key_int = p->steps[i].index;
            break;
        }
        ap->steps[i] = st;
    }
    return ap;
}

void sf_wire_diags(sf_arena *a, const sf_diags *d, size_t *n_out, Tfplugin6__Diagnostic ***out)
{
    *n_out = d->n;
    *out = sf_arena_alloc(a, d->n * sizeof **out);
    for (size_t i = 0; i < d->n; i++) {
        Tfplugin6__Diagnostic *m = SF_ARENA_NEW(a, Tfplugin6__Diagnostic);
        tfplugin6__diagnostic__init(m);
        m->severity = d->items[i].severity == SF_DIAG_ERROR ? TFPLUGIN6__DIAGNOSTIC__SEVERITY__ERROR
                                                            : TFPLUGIN6__DIAGNOSTIC__SEVERITY__WARNING;
        m->summary = sf_arena_strdup(a, d->items[i].summary);
        m->detail = sf_arena_strdup(a, d->items[i].detail);
        if (d->items[i].path && d->items[i].path->n) m->attribute = sf_wire_path(a, d->items[i].path);
        (*out)[i] = m;
    }
}
