/* test_list.c — list resources through the runtime's RPC handlers, driven
 * in-process with packed protobuf requests as Terraform sends them:
 * GetProviderSchema/GetMetadata advertise them, ListResource streams one
 * Event per object (identity always, the resource object only when asked,
 * Terraform's limit honoured, an error as an Event with only diagnostics,
 * nothing more once the client is gone), ValidateListResourceConfig, and
 * malformed requests.
 *
 * The test provider (nothing SparkFlow-specific): test_thing {id, name},
 * identity {id}, and its list resource whose config {count, mode} says how
 * many things to find (t-0, t-1, ...) and how to misbehave:
 *   mode "fail"    an error diagnostic after the first object,
 *   mode "warn"    a warning after all objects,
 *   mode "bad"     an object without id (a provider bug),
 * and a warning "stopped after N" whenever emit said stop.
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
#include "proto/tfplugin6.pb-c.h"
#include "provider/runtime.h"
#include "tests/unit/rpc_driver.h"

/* ---- The test provider ------------------------------------------------------- */

static const sf_attr_def thing_attrs[] = {
    {"id", "string", SF_ATTR_COMPUTED | SF_ATTR_STABLE, ""},
    {"name", "string", SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, ""},
    {NULL},
};
static const sf_block_def thing_schema = {.attrs = thing_attrs};

static sf_value *read_(sf_call *call, const sf_value *state, sf_diags *diags)
{
    (void)call, (void)diags;
    return sf_value_copy(state);
}

static const sf_identity_attr thing_identity_attrs[] = {
    {"id", "string", SF_IDENTITY_REQUIRED, "The thing's id."},
    {NULL},
};
static const sf_identity_def thing_identity = {.attrs = thing_identity_attrs, .import_id = "id"};
static const sf_resource_type thing = {.name = "test_thing",
                                       .schema = &thing_schema,
                                       .read = read_,
                                       .identity = &thing_identity};
static const sf_resource_type *const types[] = {&thing, NULL};

static void positive_count(const sf_value *v, const char *path, sf_diags *d)
{
    sf_validate_positive_int(v, path, d);
}

static const sf_attr_def list_attrs[] = {
    {"count", "number", SF_ATTR_OPTIONAL, "How many.", NULL, positive_count},
    {"mode", "string", SF_ATTR_OPTIONAL, "How to misbehave."},
    {NULL},
};
static const sf_block_def list_schema = {.attrs = list_attrs};

static void list_validate(sf_call *call, const sf_value *config, sf_diags *diags)
{
    (void)call;
    const char *mode = sf_value_get_str(sf_value_get(config, "mode"));
    if (mode && strcmp(mode, "nonsense") == 0) sf_diag_error(diags, "mode", "Unknown mode", "mode %s", mode);
}

static sf_value *thing_state(const char *id, const char *name)
{
    sf_value *v = sf_value_object();
    sf_value_put(v, "id", id ? sf_value_string(id) : sf_value_null());
    sf_value_put(v, "name", sf_value_string(name));
    return v;
}

static void list_things(sf_call *call, const sf_value *config, bool include, int64_t limit, sf_list_emitter *emit,
                        sf_diags *diags)
{
    (void)call, (void)include, (void)limit;
    const sf_value *c = sf_value_get(config, "count");
    int64_t count = 3;
    if (c && !sf_value_is_null(c)) sf_value_get_int(c, &count);
    const char *mode = sf_value_get_str(sf_value_get(config, "mode"));
    mode = mode ? mode : "";
    for (int64_t i = 0; i < count; i++) {
        char *id = sf_fmt("t-%lld", (long long)i), *name = sf_fmt("thing %lld", (long long)i);
        sf_value *state = thing_state(strcmp(mode, "bad") == 0 ? NULL : id, name);
        char *display = sf_fmt("%s (%s)", name, id);
        bool more = sf_list_emit(emit, state, display);
        free(display), free(id), free(name);
        sf_value_free(state);
        if (!more) {
            sf_diag_warning(diags, NULL, "stopped", "stopped after %lld", (long long)i + 1);
            return;
        }
        if (strcmp(mode, "fail") == 0) {
            sf_diag_error(diags, "mode", "Listing failed", "the backend broke after %lld", (long long)i + 1);
            return;
        }
    }
    if (strcmp(mode, "warn") == 0) sf_diag_warning(diags, NULL, "Some not listed", "two were unreadable");
}

static const sf_list_resource_type thing_list = {.name = "test_thing",
                                                 .schema = &list_schema,
                                                 .validate = list_validate,
                                                 .list = list_things};
static const sf_list_resource_type *const lists[] = {&thing_list, NULL};

static const sf_attr_def no_attrs[] = {{NULL}};
static const sf_block_def provider_schema = {.attrs = no_attrs};
static const sf_provider_def provider = {.name = "test",
                                         .schema = &provider_schema,
                                         .resources = types,
                                         .list_resources = lists};
static const sf_provider_def provider_without_lists = {.name = "old", .schema = &provider_schema, .resources = types};

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

/* ---- Driving RPCs -------------------------------------------------------------- */

/* What a stream sent: its Events, unpacked; `gone_after` > 0 makes the
 * client go away once it has that many. */
typedef struct sink {
    Tfplugin6__ListResource__Event *events[64];
    size_t n;
    size_t gone_after;
    size_t refused; /* sends after the client left */
} sink;

static int collect(void *arg, const void *msg, size_t len)
{
    sink *s = arg;
    if (s->gone_after && s->n >= s->gone_after) {
        s->refused++;
        return -1;
    }
    assert_true(s->n < 64);
    s->events[s->n] = (void *)protobuf_c_message_unpack(&tfplugin6__list_resource__event__descriptor, NULL, len, msg);
    assert_non_null(s->events[s->n]);
    s->n++;
    return 0;
}

static void sink_clear(sink *s)
{
    for (size_t i = 0; i < s->n; i++) protobuf_c_message_free_unpacked(&s->events[i]->base, NULL);
    s->n = 0;
}

static Tfplugin6__DynamicValue *config_dv(sf_runtime *rt, int64_t count, const char *mode)
{
    sf_value *v = sf_value_object();
    sf_value_put(v, "count", count ? sf_value_int(count) : sf_value_null());
    sf_value_put(v, "mode", mode ? sf_value_string(mode) : sf_value_null());
    Tfplugin6__DynamicValue *d = malloc(sizeof *d);
    tfplugin6__dynamic_value__init(d);
    void *buf = NULL;
    size_t len = 0;
    assert_int_equal(sf_value_to_msgpack(v, sf_runtime_list_find(rt, "test_thing")->config_type, &buf, &len, NULL), 0);
    d->msgpack.data = buf;
    d->msgpack.len = len;
    sf_value_free(v);
    return d;
}

static void dv_free(Tfplugin6__DynamicValue *d)
{
    if (d) free(d->msgpack.data);
    free(d);
}

/* ListResource of test_thing (count 0: the default 3); status must be OK. */
static void list(sf_runtime *rt, sink *s, const char *type, int64_t count, const char *mode, bool include,
                 int64_t limit)
{
    Tfplugin6__ListResource__Request req;
    tfplugin6__list_resource__request__init(&req);
    req.type_name = (char *)type;
    req.config = config_dv(rt, count, mode);
    req.include_resource_object = include;
    req.limit = limit;
    size_t len;
    uint8_t *buf = rpc_packed(&req, &len);
    char *msg = NULL;
    assert_int_equal(sf_runtime_handle_stream_to(rt, "/tfplugin6.Provider/ListResource", buf, len, collect, s, &msg),
                     0);
    assert_null(msg);
    free(buf);
    dv_free(req.config);
}

static char *identity_id(sf_runtime *rt, const Tfplugin6__ListResource__Event *ev)
{
    assert_non_null(ev->identity);
    sf_value *v = NULL;
    const Tfplugin6__DynamicValue *d = ev->identity->identity_data;
    assert_int_equal(sf_value_from_msgpack(d->msgpack.data, d->msgpack.len,
                                           sf_runtime_resource_find(rt, "test_thing")->identity_type, &v, NULL),
                     0);
    char *id = sf_strdup(sf_value_get_str(sf_value_get(v, "id")));
    sf_value_free(v);
    return id;
}

static bool has_diag(const Tfplugin6__ListResource__Event *ev, Tfplugin6__Diagnostic__Severity sev, const char *needle)
{
    for (size_t i = 0; i < ev->n_diagnostic; i++)
        if (ev->diagnostic[i]->severity == sev &&
            (strstr(ev->diagnostic[i]->summary, needle) || strstr(ev->diagnostic[i]->detail, needle)))
            return true;
    return false;
}

#define ERROR TFPLUGIN6__DIAGNOSTIC__SEVERITY__ERROR
#define WARNING TFPLUGIN6__DIAGNOSTIC__SEVERITY__WARNING

/* ---- Tests ---------------------------------------------------------------------- */

static void test_schema_and_metadata_offer_the_list(void **state)
{
    sf_runtime *rt = *state;
    Tfplugin6__GetProviderSchema__Request sreq;
    tfplugin6__get_provider_schema__request__init(&sreq);
    Tfplugin6__GetProviderSchema__Response *s =
        rpc_unary(rt, "GetProviderSchema", &sreq, &tfplugin6__get_provider_schema__response__descriptor);
    assert_int_equal(s->n_list_resource_schemas, 1);
    assert_string_equal(s->list_resource_schemas[0]->key, "test_thing");
    const Tfplugin6__Schema__Block *b = s->list_resource_schemas[0]->value->block;
    assert_int_equal(b->n_attributes, 2);
    assert_string_equal(b->attributes[0]->name, "count");
    assert_true(b->attributes[0]->optional);
    protobuf_c_message_free_unpacked(&s->base, NULL);

    Tfplugin6__GetMetadata__Request mreq;
    tfplugin6__get_metadata__request__init(&mreq);
    Tfplugin6__GetMetadata__Response *m =
        rpc_unary(rt, "GetMetadata", &mreq, &tfplugin6__get_metadata__response__descriptor);
    assert_int_equal(m->n_list_resources, 1);
    assert_string_equal(m->list_resources[0]->type_name, "test_thing");
    protobuf_c_message_free_unpacked(&m->base, NULL);
}

static void test_provider_without_lists_offers_none(void **state)
{
    (void)state;
    sf_runtime rt;
    sf_runtime_init(&rt, &provider_without_lists);
    Tfplugin6__GetProviderSchema__Request sreq;
    tfplugin6__get_provider_schema__request__init(&sreq);
    Tfplugin6__GetProviderSchema__Response *s =
        rpc_unary(&rt, "GetProviderSchema", &sreq, &tfplugin6__get_provider_schema__response__descriptor);
    assert_int_equal(s->n_list_resource_schemas, 0);
    assert_int_equal(s->n_resource_schemas, 1);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    Tfplugin6__GetMetadata__Request mreq;
    tfplugin6__get_metadata__request__init(&mreq);
    Tfplugin6__GetMetadata__Response *m =
        rpc_unary(&rt, "GetMetadata", &mreq, &tfplugin6__get_metadata__response__descriptor);
    assert_int_equal(m->n_list_resources, 0);
    protobuf_c_message_free_unpacked(&m->base, NULL);
    /* ListResource of a provider without lists: one error event. */
    sink s2 = {0};
    Tfplugin6__ListResource__Request req;
    tfplugin6__list_resource__request__init(&req);
    req.type_name = "test_thing";
    req.limit = 10;
    size_t len;
    uint8_t *buf = rpc_packed(&req, &len);
    char *msg = NULL;
    assert_int_equal(sf_runtime_handle_stream_to(&rt, "ListResource", buf, len, collect, &s2, &msg), 0);
    assert_int_equal(s2.n, 1);
    assert_null(s2.events[0]->identity);
    assert_true(has_diag(s2.events[0], ERROR, "no list resource \"test_thing\""));
    free(buf);
    sink_clear(&s2);
    sf_runtime_clear(&rt);
}

static void test_one_event_per_object_with_identity(void **state)
{
    sf_runtime *rt = *state;
    sink s = {0};
    list(rt, &s, "test_thing", 3, NULL, false, 100);
    assert_int_equal(s.n, 3);
    for (size_t i = 0; i < 3; i++) {
        char *want = sf_fmt("t-%zu", i), *display = sf_fmt("thing %zu (t-%zu)", i, i);
        char *id = identity_id(rt, s.events[i]);
        assert_string_equal(id, want);
        assert_string_equal(s.events[i]->display_name, display);
        assert_int_equal(s.events[i]->n_diagnostic, 0);
        /* Not asked for: no resource object. */
        assert_int_equal(s.events[i]->_resource_object_case,
                         TFPLUGIN6__LIST_RESOURCE__EVENT___RESOURCE_OBJECT__NOT_SET);
        free(want), free(display), free(id);
    }
    sink_clear(&s);
}

static void test_resource_object_only_when_asked(void **state)
{
    sf_runtime *rt = *state;
    sink s = {0};
    list(rt, &s, "test_thing", 2, NULL, true, 100);
    assert_int_equal(s.n, 2);
    const sf_type *t = sf_runtime_resource_find(rt, "test_thing")->type;
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(s.events[i]->_resource_object_case,
                         TFPLUGIN6__LIST_RESOURCE__EVENT___RESOURCE_OBJECT_RESOURCE_OBJECT);
        const Tfplugin6__DynamicValue *d = s.events[i]->resource_object;
        sf_value *v = NULL;
        assert_int_equal(sf_value_from_msgpack(d->msgpack.data, d->msgpack.len, t, &v, NULL), 0);
        char *id = sf_fmt("t-%zu", i), *name = sf_fmt("thing %zu", i);
        sf_value *want = thing_state(id, name);
        assert_true(sf_value_equal(v, want));
        sf_value_free(v), sf_value_free(want);
        free(id), free(name);
    }
    sink_clear(&s);
}

static void test_limit_stops_the_search(void **state)
{
    sf_runtime *rt = *state;
    sink s = {0};
    list(rt, &s, "test_thing", 5, NULL, false, 2);
    /* Two objects, then the callback's own "stopped after 2": emit said
     * stop right at the limit, not later. */
    assert_int_equal(s.n, 3);
    assert_non_null(s.events[1]->identity);
    assert_null(s.events[2]->identity);
    assert_true(has_diag(s.events[2], WARNING, "stopped after 2"));
    sink_clear(&s);
    /* A limit below 1 reads nothing: the search does not even start. */
    list(rt, &s, "test_thing", 5, NULL, false, 0);
    assert_int_equal(s.n, 0);
}

static void test_client_gone_stops_everything(void **state)
{
    sf_runtime *rt = *state;
    sink s = {.gone_after = 1};
    list(rt, &s, "test_thing", 5, NULL, false, 100);
    assert_int_equal(s.n, 1);
    /* One refused send (the second object); the callback stopped, and its
     * warning was not sent to nobody. */
    assert_int_equal(s.refused, 1);
    sink_clear(&s);
}

static void test_error_is_an_event_with_only_diagnostics(void **state)
{
    sf_runtime *rt = *state;
    sink s = {0};
    list(rt, &s, "test_thing", 3, "fail", false, 100);
    assert_int_equal(s.n, 2);
    assert_non_null(s.events[0]->identity);
    assert_null(s.events[1]->identity);
    assert_string_equal(s.events[1]->display_name, "");
    assert_true(has_diag(s.events[1], ERROR, "the backend broke after 1"));
    assert_non_null(s.events[1]->diagnostic[0]->attribute);
    sink_clear(&s);
    list(rt, &s, "test_thing", 2, "warn", false, 100);
    assert_int_equal(s.n, 3);
    assert_true(has_diag(s.events[2], WARNING, "two were unreadable"));
    sink_clear(&s);
}

static void test_object_without_identity_is_a_provider_bug(void **state)
{
    sf_runtime *rt = *state;
    sink s = {0};
    list(rt, &s, "test_thing", 3, "bad", false, 100);
    /* Nothing half-made is sent: one error event (and the callback's stop). */
    assert_int_equal(s.n, 1);
    assert_null(s.events[0]->identity);
    assert_true(has_diag(s.events[0], ERROR, "without an identity"));
    assert_true(has_diag(s.events[0], WARNING, "stopped after 1"));
    sink_clear(&s);
}

static void test_invalid_config_and_unknown_type(void **state)
{
    sf_runtime *rt = *state;
    sink s = {0};
    list(rt, &s, "test_thing", -2, NULL, false, 100);
    assert_int_equal(s.n, 1);
    assert_null(s.events[0]->identity);
    assert_int_equal(s.events[0]->diagnostic[0]->severity, ERROR);
    sink_clear(&s);
    list(rt, &s, "test_nothing", 0, NULL, false, 100);
    assert_int_equal(s.n, 1);
    assert_true(has_diag(s.events[0], ERROR, "no list resource \"test_nothing\""));
    sink_clear(&s);
}

static void test_validate_list_config(void **state)
{
    sf_runtime *rt = *state;
    Tfplugin6__ValidateListResourceConfig__Request req;
    tfplugin6__validate_list_resource_config__request__init(&req);
    req.type_name = "test_thing";
    req.config = config_dv(rt, 2, "nonsense");
    Tfplugin6__ValidateListResourceConfig__Response *r =
        rpc_unary(rt, "ValidateListResourceConfig", &req,
                  &tfplugin6__validate_list_resource_config__response__descriptor);
    assert_int_equal(r->n_diagnostics, 1);
    assert_string_equal(r->diagnostics[0]->summary, "Unknown mode");
    assert_non_null(r->diagnostics[0]->attribute);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    dv_free(req.config);
    req.config = config_dv(rt, 2, NULL);
    r = rpc_unary(rt, "ValidateListResourceConfig", &req,
                  &tfplugin6__validate_list_resource_config__response__descriptor);
    assert_int_equal(r->n_diagnostics, 0);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    dv_free(req.config);
    /* No config at all (a list block without `config {}`) is fine. */
    req.config = NULL;
    r = rpc_unary(rt, "ValidateListResourceConfig", &req,
                  &tfplugin6__validate_list_resource_config__response__descriptor);
    assert_int_equal(r->n_diagnostics, 0);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void test_malformed_requests(void **state)
{
    sf_runtime *rt = *state;
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0x0f, 0x12, 0x99};
    sink s = {0};
    char *msg = NULL;
    assert_int_equal(sf_runtime_handle_stream_to(rt, "ListResource", garbage, sizeof garbage, collect, &s, &msg), 3);
    assert_non_null(msg);
    assert_int_equal(s.n, 0);
    free(msg);
    msg = NULL;
    /* A config that is not msgpack of the config type: one error event. */
    Tfplugin6__ListResource__Request req;
    tfplugin6__list_resource__request__init(&req);
    req.type_name = "test_thing";
    req.limit = 5;
    Tfplugin6__DynamicValue dv;
    tfplugin6__dynamic_value__init(&dv);
    dv.msgpack.data = (uint8_t *)"\x93\x01\x02";
    dv.msgpack.len = 3;
    req.config = &dv;
    size_t len;
    uint8_t *buf = rpc_packed(&req, &len);
    assert_int_equal(sf_runtime_handle_stream_to(rt, "ListResource", buf, len, collect, &s, &msg), 0);
    assert_int_equal(s.n, 1);
    assert_null(s.events[0]->identity);
    assert_int_equal(s.events[0]->diagnostic[0]->severity, ERROR);
    free(buf);
    sink_clear(&s);
    /* The unary entry point does not take the streaming method, nor the
     * other way round. */
    assert_true(sf_runtime_is_stream(rt, "/tfplugin6.Provider/ListResource"));
    assert_false(sf_runtime_is_stream(rt, "/tfplugin6.Provider/ValidateListResourceConfig"));
    assert_int_equal(sf_runtime_handle_stream_to(rt, "GetMetadata", NULL, 0, collect, &s, &msg), 12);
    free(msg);
    msg = NULL;
    void *resp = NULL;
    size_t resp_len = 0;
    assert_int_equal(sf_runtime_handle(rt, "ListResource", NULL, 0, &resp, &resp_len, &msg), 12);
    free(msg);
    msg = NULL;
    Tfplugin6__ValidateListResourceConfig__Request vreq;
    tfplugin6__validate_list_resource_config__request__init(&vreq);
    assert_int_equal(sf_runtime_handle(rt, "ValidateListResourceConfig", garbage, sizeof garbage, &resp, &resp_len,
                                       &msg),
                     3);
    free(msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_schema_and_metadata_offer_the_list, setup, teardown),
        cmocka_unit_test(test_provider_without_lists_offers_none),
        cmocka_unit_test_setup_teardown(test_one_event_per_object_with_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resource_object_only_when_asked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_stops_the_search, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_gone_stops_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_is_an_event_with_only_diagnostics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_without_identity_is_a_provider_bug, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_config_and_unknown_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validate_list_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_requests, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
