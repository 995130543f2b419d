/* test_identity.c — resource identities through the runtime's RPC handlers,
 * driven in-process (sf_runtime_handle) with packed protobuf requests, as
 * Terraform sends them: GetResourceIdentitySchemas, UpgradeResourceIdentity,
 * and the identity in read, plan, apply and import responses.
 *
 * The provider here is a test one (nothing SparkFlow-specific):
 *   test_thing  identity {id} (required), import by id through `import_id`;
 *   test_spot   identity {name (required), where (optional, projects
 *               `zone`)}, version 2 with an upgrade from 1, mutable in
 *               place, its own import-by-identity callback;
 *   test_plain  no identity at all (what every response looked like before).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/str.h"
#include "provider/identity.h"
#include "tests/unit/rpc_driver.h"

/* ---- The test provider ------------------------------------------------------- */

static const sf_attr_def thing_attrs[] = {
    {"id", "string", SF_ATTR_COMPUTED | SF_ATTR_STABLE, ""},
    {"name", "string", SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, ""},
    {"zone", "string", SF_ATTR_OPTIONAL, ""},
    {NULL},
};
static const sf_block_def thing_schema = {.attrs = thing_attrs};

static sf_value *copy_state(sf_call *call, const sf_value *state, sf_diags *diags)
{
    (void)call, (void)diags;
    const char *id = sf_value_get_str(sf_value_get(state, "id"));
    if (id && strcmp(id, "t-gone") == 0) return sf_value_null();
    sf_value *v = sf_value_copy(state);
    /* A buggy resource: its read moves the identity. */
    if (id && strcmp(id, "t-shifty") == 0) sf_value_put(v, "id", sf_value_string("t-elsewhere"));
    return v;
}

static sf_value *create(sf_call *call, const sf_value *planned, sf_diags *diags)
{
    (void)call, (void)diags;
    sf_value *v = sf_value_copy(planned);
    char *id = sf_fmt("t-%s", sf_value_get_str(sf_value_get(planned, "name")));
    sf_value_put(v, "id", sf_value_string(id));
    free(id);
    return v;
}

static sf_value *update(sf_call *call, const sf_value *prior, const sf_value *planned, sf_diags *diags)
{
    (void)call, (void)prior, (void)diags;
    return sf_value_copy(planned);
}

static int delete_(sf_call *call, const sf_value *prior, sf_diags *diags)
{
    (void)call, (void)prior, (void)diags;
    return 0;
}

static sf_value *object_of(const char *id, const char *name, const char *zone)
{
    sf_value *v = sf_value_object();
    sf_value_put(v, "id", id ? sf_value_string(id) : sf_value_null());
    sf_value_put(v, "name", name ? sf_value_string(name) : sf_value_null());
    sf_value_put(v, "zone", zone ? sf_value_string(zone) : sf_value_null());
    return v;
}

static sf_value *import_id(sf_call *call, const char *id, sf_diags *diags)
{
    (void)call;
    if (strncmp(id, "t-", 2) != 0) {
        sf_diag_error(diags, NULL, "Cannot import thing", "\"%s\" is not a thing id.", id);
        return NULL;
    }
    return object_of(id, NULL, NULL);
}

static const sf_identity_attr thing_identity_attrs[] = {
    {"id", "string", SF_IDENTITY_REQUIRED, "The thing's id."},
    {NULL},
};
static const sf_identity_def thing_identity = {.attrs = thing_identity_attrs, .import_id = "id"};

static sf_value *spot_import(sf_call *call, const sf_value *identity, sf_diags *diags)
{
    (void)call, (void)diags;
    const char *name = sf_value_get_str(sf_value_get(identity, "name"));
    return object_of("s-1", name, NULL); /* `where` is left to the identity given */
}

static sf_value *spot_upgrade(sf_call *call, int64_t from, sf_value *owned, sf_diags *diags)
{
    (void)call;
    if (from != 1) {
        sf_diag_error(diags, NULL, "No upgrade", "from %lld", (long long)from);
        sf_value_free(owned);
        return NULL;
    }
    if (sf_value_is_null(sf_value_get(owned, "where"))) sf_value_put(owned, "where", sf_value_string("legacy"));
    return owned;
}

static const sf_identity_attr spot_identity_attrs[] = {
    {"name", "string", SF_IDENTITY_REQUIRED, "The name."},
    {"where", "string", SF_IDENTITY_OPTIONAL, "The zone.", "zone"},
    {NULL},
};
static const sf_identity_def spot_identity = {
    .version = 2,
    .attrs = spot_identity_attrs,
    .import = spot_import,
    .upgrade = spot_upgrade,
    .mutable_in_place = true,
};

#define TYPE_BODY .schema = &thing_schema, .create = create, .read = copy_state, .update = update, .delete = delete_

static const sf_resource_type thing = {.name = "test_thing",
                                       TYPE_BODY,
                                       .import = import_id,
                                       .identity = &thing_identity};
static const sf_resource_type spot = {.name = "test_spot", TYPE_BODY, .identity = &spot_identity};
static const sf_resource_type plain = {.name = "test_plain", TYPE_BODY, .import = import_id};
static const sf_resource_type *const types[] = {&thing, &spot, &plain, NULL};

static const sf_attr_def no_attrs[] = {{NULL}};
static const sf_block_def provider_schema = {.attrs = no_attrs};
static const sf_provider_def provider = {.name = "test", .schema = &provider_schema, .resources = types};

/* ---- Driving RPCs -------------------------------------------------------------- */

static int setup(void **state)
{
    sf_runtime *rt = malloc(sizeof *rt);
    sf_runtime_init(rt, &provider);
    *state = rt;
    return 0;
}

static int teardown(void **state)
{
    sf_runtime_clear(*state);
    free(*state);
    return 0;
}

static void done(void *resp)
{
    protobuf_c_message_free_unpacked(resp, NULL);
}

/* The one error diagnostic whose summary or detail holds `needle`. */
static bool has_error(size_t n, Tfplugin6__Diagnostic **d, const char *needle)
{
    for (size_t i = 0; i < n; i++)
        if (d[i]->severity == TFPLUGIN6__DIAGNOSTIC__SEVERITY__ERROR &&
            (strstr(d[i]->summary, needle) || strstr(d[i]->detail, needle)))
            return true;
    return false;
}

static void assert_no_error(size_t n, Tfplugin6__Diagnostic **d)
{
    for (size_t i = 0; i < n; i++)
        if (d[i]->severity == TFPLUGIN6__DIAGNOSTIC__SEVERITY__ERROR) fail_msg("%s: %s", d[i]->summary, d[i]->detail);
}

static const sf_type *type_of(sf_runtime *rt, const char *name, bool identity)
{
    const sf_runtime_resource *r = sf_runtime_resource_find(rt, name);
    assert_non_null(r);
    return identity ? r->identity_type : r->type;
}

/* A DynamicValue (msgpack) of v as the given type; freed by dv_free. */
static Tfplugin6__DynamicValue *dv(const sf_value *v, const sf_type *t)
{
    Tfplugin6__DynamicValue *d = malloc(sizeof *d);
    tfplugin6__dynamic_value__init(d);
    void *buf = NULL;
    size_t len = 0;
    assert_int_equal(sf_value_to_msgpack(v, t, &buf, &len, NULL), 0);
    d->msgpack.data = buf;
    d->msgpack.len = len;
    return d;
}

static void dv_free(Tfplugin6__DynamicValue *d)
{
    if (d) free(d->msgpack.data);
    free(d);
}

static Tfplugin6__ResourceIdentityData *idata(Tfplugin6__DynamicValue *d)
{
    Tfplugin6__ResourceIdentityData *r = malloc(sizeof *r);
    tfplugin6__resource_identity_data__init(r);
    r->identity_data = d;
    return r;
}

static void idata_free(Tfplugin6__ResourceIdentityData *r)
{
    if (r) dv_free(r->identity_data);
    free(r);
}

/* The identity in a response as JSON text (malloc'd), or NULL when absent. */
static char *identity_json(sf_runtime *rt, const char *name, const Tfplugin6__ResourceIdentityData *d)
{
    if (!d) return NULL;
    assert_non_null(d->identity_data);
    const sf_type *t = type_of(rt, name, true);
    sf_value *v = NULL;
    assert_int_equal(sf_value_from_msgpack(d->identity_data->msgpack.data, d->identity_data->msgpack.len, t, &v, NULL),
                     0);
    char *json = sf_value_to_json(v, t);
    sf_value_free(v);
    return json;
}

static void assert_identity(sf_runtime *rt, const char *name, const Tfplugin6__ResourceIdentityData *d,
                            const char *want)
{
    char *got = identity_json(rt, name, d);
    if (!want) {
        if (got) fail_msg("expected no identity, got %s", got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static sf_value *identity_value(const char *k1, const char *v1, const char *k2, const char *v2)
{
    sf_value *v = sf_value_object();
    sf_value_put(v, k1, v1 ? sf_value_string(v1) : sf_value_null());
    if (k2) sf_value_put(v, k2, v2 ? sf_value_string(v2) : sf_value_null());
    return v;
}

/* ---- GetResourceIdentitySchemas -------------------------------------------------- */

static void test_schemas_list_only_types_with_identity(void **state)
{
    sf_runtime *rt = *state;
    Tfplugin6__GetResourceIdentitySchemas__Request req = TFPLUGIN6__GET_RESOURCE_IDENTITY_SCHEMAS__REQUEST__INIT;
    Tfplugin6__GetResourceIdentitySchemas__Response *r =
        rpc_unary(rt, "/tfplugin6.Provider/GetResourceIdentitySchemas", &req,
                  &tfplugin6__get_resource_identity_schemas__response__descriptor);
    assert_int_equal(r->n_diagnostics, 0);
    assert_int_equal(r->n_identity_schemas, 2);
    for (size_t i = 0; i < r->n_identity_schemas; i++) {
        const Tfplugin6__ResourceIdentitySchema *s = r->identity_schemas[i]->value;
        if (strcmp(r->identity_schemas[i]->key, "test_thing") == 0) {
            assert_int_equal(s->version, 0);
            assert_int_equal(s->n_identity_attributes, 1);
            const Tfplugin6__ResourceIdentitySchema__IdentityAttribute *a = s->identity_attributes[0];
            assert_string_equal(a->name, "id");
            assert_int_equal(a->type.len, 8);
            assert_memory_equal(a->type.data, "\"string\"", 8); /* JSON, as Terraform parses it */
            assert_true(a->required_for_import && !a->optional_for_import);
            assert_string_equal(a->description, "The thing's id.");
        } else {
            assert_string_equal(r->identity_schemas[i]->key, "test_spot");
            assert_int_equal(s->version, 2);
            assert_int_equal(s->n_identity_attributes, 2);
            assert_string_equal(s->identity_attributes[1]->name, "where");
            assert_true(s->identity_attributes[1]->optional_for_import);
            assert_false(s->identity_attributes[1]->required_for_import);
        }
    }
    done(r);
}

/* ---- UpgradeResourceIdentity ------------------------------------------------------- */

static Tfplugin6__UpgradeResourceIdentity__Response *upgrade(sf_runtime *rt, const char *type, int64_t version,
                                                             const char *json)
{
    Tfplugin6__RawState raw = TFPLUGIN6__RAW_STATE__INIT;
    raw.json.data = (uint8_t *)json;
    raw.json.len = json ? strlen(json) : 0;
    Tfplugin6__UpgradeResourceIdentity__Request req = TFPLUGIN6__UPGRADE_RESOURCE_IDENTITY__REQUEST__INIT;
    req.type_name = (char *)type;
    req.version = version;
    req.raw_identity = json ? &raw : NULL;
    return rpc_unary(rt, "UpgradeResourceIdentity", &req, &tfplugin6__upgrade_resource_identity__response__descriptor);
}

static void test_upgrade_identity(void **state)
{
    sf_runtime *rt = *state;
    Tfplugin6__UpgradeResourceIdentity__Response *r;

    r = upgrade(rt, "test_spot", 2, "{\"name\":\"a\",\"where\":\"z1\"}"); /* current version: as is */
    assert_no_error(r->n_diagnostics, r->diagnostics);
    assert_identity(rt, "test_spot", r->upgraded_identity, "{\"name\":\"a\",\"where\":\"z1\"}");
    done(r);

    r = upgrade(rt, "test_spot", 1, "{\"name\":\"a\",\"gone\":1}"); /* older: the resource's upgrade */
    assert_no_error(r->n_diagnostics, r->diagnostics);
    assert_identity(rt, "test_spot", r->upgraded_identity, "{\"name\":\"a\",\"where\":\"legacy\"}");
    done(r);

    struct {
        const char *type;
        int64_t version;
        const char *json, *needle;
    } bad[] = {
        {"test_spot", 3, "{\"name\":\"a\"}", "newer provider"},
        {"test_thing", 7, "{\"id\":\"t-1\"}", "newer provider"},
        {"test_thing", -1, "{\"id\":\"t-1\"}", "Unknown identity version"},
        {"test_spot", 0, "{\"name\":\"a\"}", "No upgrade"}, /* the resource refuses */
        {"test_thing", 0, "{\"id\":", "Unreadable identity"},
        {"test_thing", 0, "{\"id\":5,\"extra\":1}", "Unreadable identity"},
        {"test_thing", 0, NULL, "Unreadable identity"},
        {"test_plain", 0, "{}", "has no resource identity"},
        {"test_nonesuch", 0, "{}", "Unknown resource type"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        r = upgrade(rt, bad[i].type, bad[i].version, bad[i].json);
        if (!has_error(r->n_diagnostics, r->diagnostics, bad[i].needle))
            fail_msg("case %zu: no error with \"%s\"", i, bad[i].needle);
        assert_null(r->upgraded_identity);
        done(r);
    }
}

/* ---- ReadResource -------------------------------------------------------------------- */

static Tfplugin6__ReadResource__Response *read_resource(sf_runtime *rt, const char *type, const sf_value *state,
                                                        const sf_value *identity)
{
    Tfplugin6__ReadResource__Request req = TFPLUGIN6__READ_RESOURCE__REQUEST__INIT;
    req.type_name = (char *)type;
    req.current_state = dv(state, type_of(rt, type, false));
    req.current_identity = identity ? idata(dv(identity, type_of(rt, type, true))) : NULL;
    Tfplugin6__ReadResource__Response *r =
        rpc_unary(rt, "ReadResource", &req, &tfplugin6__read_resource__response__descriptor);
    dv_free(req.current_state);
    idata_free(req.current_identity);
    return r;
}

static void test_read_sends_the_identity_of_the_state(void **state)
{
    sf_runtime *rt = *state;
    sf_value *s = object_of("t-a", "a", NULL), *id = identity_value("id", "t-a", NULL, NULL);
    /* A state from before identities: the read gives it one. */
    Tfplugin6__ReadResource__Response *r = read_resource(rt, "test_thing", s, NULL);
    assert_no_error(r->n_diagnostics, r->diagnostics);
    assert_identity(rt, "test_thing", r->new_identity, "{\"id\":\"t-a\"}");
    done(r);
    /* With the stored one: kept. */
    r = read_resource(rt, "test_thing", s, id);
    assert_no_error(r->n_diagnostics, r->diagnostics);
    assert_identity(rt, "test_thing", r->new_identity, "{\"id\":\"t-a\"}");
    done(r);
    /* A type without identity: no field, as before. */
    r = read_resource(rt, "test_plain", s, NULL);
    assert_no_error(r->n_diagnostics, r->diagnostics);
    assert_null(r->new_identity);
    done(r);
    sf_value_free(s);
    sf_value_free(id);
}

static void test_read_of_a_gone_object_has_no_identity(void **state)
{
    sf_runtime *rt = *state;
    sf_value *s = object_of("t-gone", "gone", NULL), *id = identity_value("id", "t-gone", NULL, NULL);
    Tfplugin6__ReadResource__Response *r = read_resource(rt, "test_thing", s, id);
    assert_no_error(r->n_diagnostics, r->diagnostics);
    assert_null(r->new_identity);
    done(r);
    sf_value_free(s);
    sf_value_free(id);
}

static void test_read_that_moves_an_identity_is_an_error(void **state)
{
    sf_runtime *rt = *state;
    sf_value *s = object_of("t-shifty", "shifty", NULL), *id = identity_value("id", "t-shifty", NULL, NULL);
    Tfplugin6__ReadResource__Response *r = read_resource(rt, "test_thing", s, id);
    assert_true(has_error(r->n_diagnostics, r->diagnostics, "Provider changed a resource identity"));
    done(r);
    sf_value_free(s);
    sf_value_free(id);

    /* Declared mutable in place: the new one is sent. */
    s = object_of("s-1", "a", "z2");
    id = identity_value("name", "a", "where", "z1");
    r = read_resource(rt, "test_spot", s, id);
    assert_no_error(r->n_diagnostics, r->diagnostics);
    assert_identity(rt, "test_spot", r->new_identity, "{\"name\":\"a\",\"where\":\"z2\"}");
    done(r);
    sf_value_free(s);
    sf_value_free(id);
}

static void test_read_with_an_undecodable_identity(void **state)
{
    sf_runtime *rt = *state;
    sf_value *s = object_of("t-a", "a", NULL);
    Tfplugin6__ReadResource__Request req = TFPLUGIN6__READ_RESOURCE__REQUEST__INIT;
    req.type_name = "test_thing";
    req.current_state = dv(s, type_of(rt, "test_thing", false));
    Tfplugin6__DynamicValue junk = TFPLUGIN6__DYNAMIC_VALUE__INIT;
    junk.msgpack.data = (uint8_t *)"\x81\xa2id\x2a"; /* {"id": 42} */
    junk.msgpack.len = 5;
    Tfplugin6__ResourceIdentityData cur = TFPLUGIN6__RESOURCE_IDENTITY_DATA__INIT;
    cur.identity_data = &junk;
    req.current_identity = &cur;
    Tfplugin6__ReadResource__Response *r =
        rpc_unary(rt, "ReadResource", &req, &tfplugin6__read_resource__response__descriptor);
    assert_true(has_error(r->n_diagnostics, r->diagnostics, "stored identity could not be decoded"));
    assert_null(r->new_identity);
    done(r);
    dv_free(req.current_state);
    sf_value_free(s);
}

/* ---- PlanResourceChange ---------------------------------------------------------------- */

static Tfplugin6__PlanResourceChange__Response *plan(sf_runtime *rt, const char *type, const sf_value *prior,
                                                     const sf_value *config, const sf_value *prior_identity)
{
    const sf_type *t = type_of(rt, type, false);
    Tfplugin6__PlanResourceChange__Request req = TFPLUGIN6__PLAN_RESOURCE_CHANGE__REQUEST__INIT;
    req.type_name = (char *)type;
    req.prior_state = dv(prior, t);
    req.config = dv(config, t);
    /* Terraform's proposal: the config, with the prior's computed values. */
    sf_value *proposed = sf_value_is_null(config) ? sf_value_null() : sf_value_copy(config);
    if (!sf_value_is_null(prior) && !sf_value_is_null(config))
        sf_value_put(proposed, "id", sf_value_copy(sf_value_get(prior, "id")));
    req.proposed_new_state = dv(proposed, t);
    req.prior_identity = prior_identity ? idata(dv(prior_identity, type_of(rt, type, true))) : NULL;
    Tfplugin6__PlanResourceChange__Response *r =
        rpc_unary(rt, "PlanResourceChange", &req, &tfplugin6__plan_resource_change__response__descriptor);
    dv_free(req.prior_state);
    dv_free(req.config);
    dv_free(req.proposed_new_state);
    idata_free(req.prior_identity);
    sf_value_free(proposed);
    return r;
}

static void test_plan_identity(void **state)
{
    sf_runtime *rt = *state;
    sf_value *null = sf_value_null(), *cfg = object_of(NULL, "a", NULL), *prior = object_of("t-a", "a", NULL);
    sf_value *id = identity_value("id", "t-a", NULL, NULL);

    /* Create: the id is not known yet, so no identity is planned. */
    Tfplugin6__PlanResourceChange__Response *r = plan(rt, "test_thing", null, cfg, NULL);
    assert_no_error(r->n_diagnostics, r->diagnostics);
    assert_null(r->planned_identity);
    done(r);
    /* Create of a type whose identity comes from the config: planned. */
    sf_value *spot_cfg = object_of(NULL, "b", "z1");
    r = plan(rt, "test_spot", null, spot_cfg, NULL);
    assert_no_error(r->n_diagnostics, r->diagnostics);
    assert_identity(rt, "test_spot", r->planned_identity, "{\"name\":\"b\",\"where\":\"z1\"}");
    done(r);
    /* No change: the stored identity. */
    r = plan(rt, "test_thing", prior, cfg, id);
    assert_no_error(r->n_diagnostics, r->diagnostics);
    assert_identity(rt, "test_thing", r->planned_identity, "{\"id\":\"t-a\"}");
    done(r);
    /* A state from before identities: the one its state implies. */
    r = plan(rt, "test_thing", prior, cfg, NULL);
    assert_identity(rt, "test_thing", r->planned_identity, "{\"id\":\"t-a\"}");
    done(r);
    /* Replacement (name forces it): the stored identity until then. */
    sf_value *renamed = object_of(NULL, "b", NULL);
    r = plan(rt, "test_thing", prior, renamed, id);
    assert_no_error(r->n_diagnostics, r->diagnostics);
    assert_int_equal(r->n_requires_replace, 1);
    assert_identity(rt, "test_thing", r->planned_identity, "{\"id\":\"t-a\"}");
    done(r);
    /* Destroy: none. */
    r = plan(rt, "test_thing", prior, null, id);
    assert_no_error(r->n_diagnostics, r->diagnostics);
    assert_null(r->planned_identity);
    done(r);
    /* Mutable in place: an update that moves it plans the new one. */
    sf_value *spot_prior = object_of("s-1", "b", "z1"), *spot_id = identity_value("name", "b", "where", "z1");
    sf_value *moved = object_of(NULL, "b", "z2");
    r = plan(rt, "test_spot", spot_prior, moved, spot_id);
    assert_no_error(r->n_diagnostics, r->diagnostics);
    assert_identity(rt, "test_spot", r->planned_identity, "{\"name\":\"b\",\"where\":\"z2\"}");
    done(r);
    /* A type without identity: none, as before. */
    r = plan(rt, "test_plain", prior, cfg, NULL);
    assert_null(r->planned_identity);
    done(r);
    sf_value *vals[] = {null, cfg, prior, id, spot_cfg, renamed, spot_prior, spot_id, moved};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) sf_value_free(vals[i]);
}

static void test_plan_that_moves_a_fixed_identity_is_an_error(void **state)
{
    sf_runtime *rt = *state;
    /* The stored identity names another object than the state does. */
    sf_value *prior = object_of("t-a", "a", NULL), *cfg = object_of(NULL, "a", "z9");
    sf_value *id = identity_value("id", "t-other", NULL, NULL);
    Tfplugin6__PlanResourceChange__Response *r = plan(rt, "test_thing", prior, cfg, id);
    assert_true(has_error(r->n_diagnostics, r->diagnostics, "Provider changed a resource identity"));
    done(r);
    sf_value_free(prior);
    sf_value_free(cfg);
    sf_value_free(id);
}

/* ---- ApplyResourceChange ----------------------------------------------------------------- */

static Tfplugin6__ApplyResourceChange__Response *apply(sf_runtime *rt, const char *type, const sf_value *prior,
                                                       const sf_value *planned, const sf_value *planned_identity)
{
    const sf_type *t = type_of(rt, type, false);
    Tfplugin6__ApplyResourceChange__Request req = TFPLUGIN6__APPLY_RESOURCE_CHANGE__REQUEST__INIT;
    req.type_name = (char *)type;
    req.prior_state = dv(prior, t);
    req.planned_state = dv(planned, t);
    req.config = dv(planned, t);
    req.planned_identity = planned_identity ? idata(dv(planned_identity, type_of(rt, type, true))) : NULL;
    Tfplugin6__ApplyResourceChange__Response *r =
        rpc_unary(rt, "ApplyResourceChange", &req, &tfplugin6__apply_resource_change__response__descriptor);
    dv_free(req.prior_state);
    dv_free(req.planned_state);
    dv_free(req.config);
    idata_free(req.planned_identity);
    return r;
}

static void test_apply_identity(void **state)
{
    sf_runtime *rt = *state;
    sf_value *null = sf_value_null(), *planned = object_of(NULL, "a", NULL);
    sf_value_put(planned, "id", sf_value_unknown());
    Tfplugin6__ApplyResourceChange__Response *r = apply(rt, "test_thing", null, planned, NULL);
    assert_no_error(r->n_diagnostics, r->diagnostics);
    assert_identity(rt, "test_thing", r->new_identity, "{\"id\":\"t-a\"}"); /* created: now known */
    done(r);

    sf_value *prior = object_of("t-a", "a", NULL), *updated = object_of("t-a", "a", "z1");
    sf_value *id = identity_value("id", "t-a", NULL, NULL), *wrong = identity_value("id", "t-b", NULL, NULL);
    r = apply(rt, "test_thing", prior, updated, id);
    assert_no_error(r->n_diagnostics, r->diagnostics);
    assert_identity(rt, "test_thing", r->new_identity, "{\"id\":\"t-a\"}");
    done(r);
    /* An update whose result names another object than planned. */
    r = apply(rt, "test_thing", prior, updated, wrong);
    assert_true(has_error(r->n_diagnostics, r->diagnostics, "Provider changed a resource identity"));
    done(r);
    /* Destroyed: none. */
    r = apply(rt, "test_thing", prior, null, id);
    assert_no_error(r->n_diagnostics, r->diagnostics);
    assert_null(r->new_identity);
    done(r);
    sf_value *vals[] = {null, planned, prior, updated, id, wrong};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) sf_value_free(vals[i]);
}

/* ---- ImportResourceState ----------------------------------------------------------------- */

static Tfplugin6__ImportResourceState__Response *import(sf_runtime *rt, const char *type, const char *id,
                                                        const sf_value *identity)
{
    Tfplugin6__ImportResourceState__Request req = TFPLUGIN6__IMPORT_RESOURCE_STATE__REQUEST__INIT;
    req.type_name = (char *)type;
    req.id = (char *)(id ? id : "");
    req.identity = identity ? idata(dv(identity, type_of(rt, type, true))) : NULL;
    Tfplugin6__ImportResourceState__Response *r =
        rpc_unary(rt, "ImportResourceState", &req, &tfplugin6__import_resource_state__response__descriptor);
    idata_free(req.identity);
    return r;
}

static void test_import_by_id_sends_the_identity(void **state)
{
    sf_runtime *rt = *state;
    Tfplugin6__ImportResourceState__Response *r = import(rt, "test_thing", "t-a", NULL);
    assert_no_error(r->n_diagnostics, r->diagnostics);
    assert_int_equal(r->n_imported_resources, 1);
    assert_identity(rt, "test_thing", r->imported_resources[0]->identity, "{\"id\":\"t-a\"}");
    done(r);
    /* A type without identity: none, as before. */
    r = import(rt, "test_plain", "t-a", NULL);
    assert_int_equal(r->n_imported_resources, 1);
    assert_null(r->imported_resources[0]->identity);
    done(r);
}

static void test_import_by_identity(void **state)
{
    sf_runtime *rt = *state;
    /* Declarative: the identity's id is the import id. */
    sf_value *id = identity_value("id", "t-b", NULL, NULL);
    Tfplugin6__ImportResourceState__Response *r = import(rt, "test_thing", NULL, id);
    assert_no_error(r->n_diagnostics, r->diagnostics);
    assert_int_equal(r->n_imported_resources, 1);
    assert_identity(rt, "test_thing", r->imported_resources[0]->identity, "{\"id\":\"t-b\"}");
    done(r);
    sf_value_free(id);
    /* The resource refuses the id inside: its diagnostic, nothing imported. */
    id = identity_value("id", "x-1", NULL, NULL);
    r = import(rt, "test_thing", NULL, id);
    assert_true(has_error(r->n_diagnostics, r->diagnostics, "Cannot import thing"));
    assert_int_equal(r->n_imported_resources, 0);
    done(r);
    sf_value_free(id);
    /* A callback of its own; an optional part the state leaves null is
     * taken from the identity given (Terraform requires one back). */
    id = identity_value("name", "n", "where", "z3");
    r = import(rt, "test_spot", NULL, id);
    assert_no_error(r->n_diagnostics, r->diagnostics);
    assert_identity(rt, "test_spot", r->imported_resources[0]->identity, "{\"name\":\"n\",\"where\":\"z3\"}");
    done(r);
    sf_value_free(id);
}

static void test_import_by_identity_refusals(void **state)
{
    sf_runtime *rt = *state;
    sf_value *missing = identity_value("name", NULL, "where", "z"), *empty = identity_value("id", NULL, NULL, NULL);
    Tfplugin6__ImportResourceState__Response *r = import(rt, "test_spot", NULL, missing);
    assert_true(has_error(r->n_diagnostics, r->diagnostics, "Incomplete identity"));
    assert_int_equal(r->n_imported_resources, 0);
    done(r);
    r = import(rt, "test_thing", NULL, empty);
    assert_true(has_error(r->n_diagnostics, r->diagnostics, "neither an id nor an identity"));
    done(r);
    /* Neither id nor identity: the id path, which the resource refuses. */
    r = import(rt, "test_thing", NULL, NULL);
    assert_true(has_error(r->n_diagnostics, r->diagnostics, "Cannot import thing"));
    done(r);
    sf_value_free(missing);
    sf_value_free(empty);

    /* An identity Terraform could not have encoded for this type. */
    Tfplugin6__ImportResourceState__Request req = TFPLUGIN6__IMPORT_RESOURCE_STATE__REQUEST__INIT;
    req.type_name = "test_thing";
    req.id = "";
    Tfplugin6__DynamicValue junk = TFPLUGIN6__DYNAMIC_VALUE__INIT;
    junk.msgpack.data = (uint8_t *)"\x93\x01\x02";
    junk.msgpack.len = 3;
    Tfplugin6__ResourceIdentityData data = TFPLUGIN6__RESOURCE_IDENTITY_DATA__INIT;
    data.identity_data = &junk;
    req.identity = &data;
    r = rpc_unary(rt, "ImportResourceState", &req, &tfplugin6__import_resource_state__response__descriptor);
    assert_true(has_error(r->n_diagnostics, r->diagnostics, "could not be decoded"));
    assert_int_equal(r->n_imported_resources, 0);
    done(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_schemas_list_only_types_with_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_sends_the_identity_of_the_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_of_a_gone_object_has_no_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_that_moves_an_identity_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_with_an_undecodable_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plan_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plan_that_moves_a_fixed_identity_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_by_id_sends_the_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_by_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_by_identity_refusals, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
