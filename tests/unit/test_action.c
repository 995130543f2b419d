/* test_action.c — provider-defined actions through the runtime's RPC
 * handlers, driven in-process with packed protobuf requests as Terraform
 * sends them: GetProviderSchema/GetMetadata advertise them (and a provider
 * without actions advertises none), ValidateActionConfig and PlanAction
 * return the schema's and the action's diagnostics, InvokeAction streams
 * the progress events then exactly one Completed event with the
 * diagnostics, stops sending once the client is gone, and malformed or
 * unknown requests.
 *
 * The test action (nothing SparkFlow-specific): test_count {steps, fail}
 * reports "step i of n" per step, then fails with an error when `fail`. */
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

static const sf_attr_def thing_attrs[] = {{"id", "string", SF_ATTR_COMPUTED, ""}, {NULL}};
static const sf_block_def thing_schema = {.attrs = thing_attrs};
static const sf_resource_type thing = {.name = "test_thing", .schema = &thing_schema};
static const sf_resource_type *const types[] = {&thing, NULL};

static void positive(const sf_value *v, const char *path, sf_diags *d)
{
    sf_validate_positive_int(v, path, d);
}

static const sf_attr_def count_attrs[] = {
    {"steps", "number", SF_ATTR_REQUIRED, "How many steps.", NULL, positive},
    {"fail", "bool", SF_ATTR_OPTIONAL, "Fail at the end."},
    {NULL},
};
static const sf_block_def count_schema = {.attrs = count_attrs};

static void count_validate(sf_call *call, const sf_value *config, sf_diags *diags)
{
    (void)call;
    int64_t n = 0;
    const sf_value *v = sf_value_get(config, "steps");
    if (!sf_value_is_unknown(v) && !sf_value_is_null(v) && sf_value_get_int(v, &n) == 0 && n > 10)
        sf_diag_error(diags, "steps", "Too many steps", "at most 10, not %lld", (long long)n);
}

static void count_invoke(sf_call *call, const sf_value *config, sf_action_progress *progress, sf_diags *diags)
{
    (void)call;
    int64_t n = 0;
    sf_value_get_int(sf_value_get(config, "steps"), &n);
    for (int64_t i = 1; i <= n; i++)
        if (sf_action_progress_send(progress, "step %lld of %lld", (long long)i, (long long)n) != 0) return;
    const sf_value *fail = sf_value_get(config, "fail");
    if (!sf_value_is_null(fail) && fail->boolean) sf_diag_error(diags, "fail", "Counting failed", "as asked");
    else sf_diag_warning(diags, NULL, "Counted", "%lld steps", (long long)n);
}

static const sf_action_type count_action = {.name = "test_count",
                                            .schema = &count_schema,
                                            .validate = count_validate,
                                            .invoke = count_invoke};
static const sf_action_type *const actions[] = {&count_action, NULL};

static const sf_attr_def no_attrs[] = {{NULL}};
static const sf_block_def provider_schema = {.attrs = no_attrs};
static const sf_provider_def provider = {.name = "test",
                                         .schema = &provider_schema,
                                         .resources = types,
                                         .actions = actions};
static const sf_provider_def provider_without_actions = {.name = "old", .schema = &provider_schema, .resources = types};

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

typedef struct sink {
    Tfplugin6__InvokeAction__Event *events[64];
    size_t n;
    size_t gone_after;
    size_t refused;
} sink;

static int collect(void *arg, const void *msg, size_t len)
{
    sink *s = arg;
    if (s->gone_after && s->n >= s->gone_after) {
        s->refused++;
        return -1;
    }
    assert_true(s->n < 64);
    s->events[s->n] = (void *)protobuf_c_message_unpack(&tfplugin6__invoke_action__event__descriptor, NULL, len, msg);
    assert_non_null(s->events[s->n]);
    s->n++;
    return 0;
}

static void sink_clear(sink *s)
{
    for (size_t i = 0; i < s->n; i++) protobuf_c_message_free_unpacked(&s->events[i]->base, NULL);
    s->n = 0;
}

/* config {steps, fail}: steps < 0 unknown, 0 null. */
static Tfplugin6__DynamicValue *config_dv(sf_runtime *rt, int64_t steps, int fail)
{
    sf_value *v = sf_value_object();
    sf_value_put(v, "steps", steps < 0 ? sf_value_unknown() : steps ? sf_value_int(steps) : sf_value_null());
    sf_value_put(v, "fail", fail < 0 ? sf_value_null() : sf_value_bool(fail));
    Tfplugin6__DynamicValue *d = malloc(sizeof *d);
    tfplugin6__dynamic_value__init(d);
    void *buf = NULL;
    size_t len = 0;
    assert_int_equal(sf_value_to_msgpack(v, sf_runtime_action_find(rt, "test_count")->config_type, &buf, &len, NULL),
                     0);
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

static void invoke(sf_runtime *rt, sink *s, const char *type, Tfplugin6__DynamicValue *config)
{
    Tfplugin6__InvokeAction__Request req;
    tfplugin6__invoke_action__request__init(&req);
    req.action_type = (char *)type;
    req.config = config;
    size_t len;
    uint8_t *buf = rpc_packed(&req, &len);
    char *msg = NULL;
    assert_int_equal(sf_runtime_handle_stream_to(rt, "/tfplugin6.Provider/InvokeAction", buf, len, collect, s, &msg),
                     0);
    assert_null(msg);
    free(buf);
}

static bool has_diag(Tfplugin6__Diagnostic **d, size_t n, Tfplugin6__Diagnostic__Severity sev, const char *needle)
{
    for (size_t i = 0; i < n; i++)
        if (d[i]->severity == sev && (strstr(d[i]->summary, needle) || strstr(d[i]->detail, needle))) return true;
    return false;
}

#define ERROR TFPLUGIN6__DIAGNOSTIC__SEVERITY__ERROR
#define WARNING TFPLUGIN6__DIAGNOSTIC__SEVERITY__WARNING
#define PROGRESS TFPLUGIN6__INVOKE_ACTION__EVENT__TYPE_PROGRESS
#define COMPLETED TFPLUGIN6__INVOKE_ACTION__EVENT__TYPE_COMPLETED

/* ---- Tests ---------------------------------------------------------------------- */

static void test_schema_and_metadata_offer_the_action(void **state)
{
    sf_runtime *rt = *state;
    Tfplugin6__GetProviderSchema__Request sreq;
    tfplugin6__get_provider_schema__request__init(&sreq);
    Tfplugin6__GetProviderSchema__Response *s =
        rpc_unary(rt, "GetProviderSchema", &sreq, &tfplugin6__get_provider_schema__response__descriptor);
    assert_int_equal(s->n_action_schemas, 1);
    assert_string_equal(s->action_schemas[0]->key, "test_count");
    const Tfplugin6__Schema__Block *b = s->action_schemas[0]->value->schema->block;
    assert_int_equal(b->n_attributes, 2);
    assert_string_equal(b->attributes[0]->name, "steps");
    assert_true(b->attributes[0]->required);
    assert_true(b->attributes[1]->optional);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    Tfplugin6__GetMetadata__Request mreq;
    tfplugin6__get_metadata__request__init(&mreq);
    Tfplugin6__GetMetadata__Response *m =
        rpc_unary(rt, "GetMetadata", &mreq, &tfplugin6__get_metadata__response__descriptor);
    assert_int_equal(m->n_actions, 1);
    assert_string_equal(m->actions[0]->type_name, "test_count");
    protobuf_c_message_free_unpacked(&m->base, NULL);
}

static void test_provider_without_actions_offers_none(void **state)
{
    (void)state;
    sf_runtime rt;
    sf_runtime_init(&rt, &provider_without_actions);
    Tfplugin6__GetProviderSchema__Request sreq;
    tfplugin6__get_provider_schema__request__init(&sreq);
    Tfplugin6__GetProviderSchema__Response *s =
        rpc_unary(&rt, "GetProviderSchema", &sreq, &tfplugin6__get_provider_schema__response__descriptor);
    assert_int_equal(s->n_action_schemas, 0);
    assert_int_equal(s->n_resource_schemas, 1);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    Tfplugin6__GetMetadata__Request mreq;
    tfplugin6__get_metadata__request__init(&mreq);
    Tfplugin6__GetMetadata__Response *m =
        rpc_unary(&rt, "GetMetadata", &mreq, &tfplugin6__get_metadata__response__descriptor);
    assert_int_equal(m->n_actions, 0);
    protobuf_c_message_free_unpacked(&m->base, NULL);
    /* Invoking anything: one Completed event with an error. */
    sink s2 = {0};
    invoke(&rt, &s2, "test_count", NULL);
    assert_int_equal(s2.n, 1);
    assert_int_equal(s2.events[0]->type_case, COMPLETED);
    assert_true(has_diag(s2.events[0]->completed->diagnostics, s2.events[0]->completed->n_diagnostics, ERROR,
                         "no action \"test_count\""));
    sink_clear(&s2);
    sf_runtime_clear(&rt);
}

static void test_invoke_streams_progress_then_completed(void **state)
{
    sf_runtime *rt = *state;
    sink s = {0};
    Tfplugin6__DynamicValue *c = config_dv(rt, 3, -1);
    invoke(rt, &s, "test_count", c);
    dv_free(c);
    assert_int_equal(s.n, 4);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(s.events[i]->type_case, PROGRESS);
        char *want = sf_fmt("step %zu of 3", i + 1);
        assert_string_equal(s.events[i]->progress->message, want);
        free(want);
    }
    assert_int_equal(s.events[3]->type_case, COMPLETED);
    const Tfplugin6__InvokeAction__Event__Completed *done = s.events[3]->completed;
    assert_int_equal(done->n_diagnostics, 1);
    assert_true(has_diag(done->diagnostics, done->n_diagnostics, WARNING, "3 steps"));
    sink_clear(&s);
    /* An error from the action: in the Completed event, after the progress. */
    c = config_dv(rt, 2, 1);
    invoke(rt, &s, "test_count", c);
    dv_free(c);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.events[2]->type_case, COMPLETED);
    done = s.events[2]->completed;
    assert_int_equal(done->n_diagnostics, 1);
    assert_true(has_diag(done->diagnostics, done->n_diagnostics, ERROR, "Counting failed"));
    assert_non_null(done->diagnostics[0]->attribute);
    sink_clear(&s);
}

static void test_client_gone_stops_everything(void **state)
{
    sf_runtime *rt = *state;
    sink s = {.gone_after = 2};
    Tfplugin6__DynamicValue *c = config_dv(rt, 9, -1);
    invoke(rt, &s, "test_count", c);
    dv_free(c);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.refused, 1); /* the third step, then nothing: no Completed */
    sink_clear(&s);
}

static void test_invalid_config_invokes_nothing(void **state)
{
    sf_runtime *rt = *state;
    sink s = {0};
    Tfplugin6__DynamicValue *c = config_dv(rt, 11, -1);
    invoke(rt, &s, "test_count", c);
    dv_free(c);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.events[0]->type_case, COMPLETED);
    assert_true(
        has_diag(s.events[0]->completed->diagnostics, s.events[0]->completed->n_diagnostics, ERROR, "Too many steps"));
    sink_clear(&s);
    /* Unknown values at invoke time: Terraform never sends them. */
    c = config_dv(rt, -1, 0);
    invoke(rt, &s, "test_count", c);
    dv_free(c);
    assert_int_equal(s.n, 1);
    assert_true(
        has_diag(s.events[0]->completed->diagnostics, s.events[0]->completed->n_diagnostics, ERROR, "unknown values"));
    sink_clear(&s);
    invoke(rt, &s, "test_nothing", NULL);
    assert_true(
        has_diag(s.events[0]->completed->diagnostics, s.events[0]->completed->n_diagnostics, ERROR, "test_nothing"));
    sink_clear(&s);
}

static void test_validate_and_plan(void **state)
{
    sf_runtime *rt = *state;
    Tfplugin6__ValidateActionConfig__Request vreq;
    tfplugin6__validate_action_config__request__init(&vreq);
    vreq.type_name = "test_count";
    vreq.config = config_dv(rt, 4, 0);
    Tfplugin6__ValidateActionConfig__Response *v =
        rpc_unary(rt, "ValidateActionConfig", &vreq, &tfplugin6__validate_action_config__response__descriptor);
    assert_int_equal(v->n_diagnostics, 0);
    protobuf_c_message_free_unpacked(&v->base, NULL);
    dv_free(vreq.config);
    /* Unknown at validate time is fine (known only at apply). */
    vreq.config = config_dv(rt, -1, 0);
    v = rpc_unary(rt, "ValidateActionConfig", &vreq, &tfplugin6__validate_action_config__response__descriptor);
    assert_int_equal(v->n_diagnostics, 0);
    protobuf_c_message_free_unpacked(&v->base, NULL);
    dv_free(vreq.config);
    vreq.config = config_dv(rt, 12, 0);
    v = rpc_unary(rt, "ValidateActionConfig", &vreq, &tfplugin6__validate_action_config__response__descriptor);
    assert_true(has_diag(v->diagnostics, v->n_diagnostics, ERROR, "Too many steps"));
    assert_non_null(v->diagnostics[0]->attribute);
    protobuf_c_message_free_unpacked(&v->base, NULL);
    dv_free(vreq.config);

    Tfplugin6__PlanAction__Request preq;
    tfplugin6__plan_action__request__init(&preq);
    preq.action_type = "test_count";
    preq.config = config_dv(rt, 12, 0);
    Tfplugin6__PlanAction__Response *p =
        rpc_unary(rt, "PlanAction", &preq, &tfplugin6__plan_action__response__descriptor);
    assert_true(has_diag(p->diagnostics, p->n_diagnostics, ERROR, "Too many steps"));
    protobuf_c_message_free_unpacked(&p->base, NULL);
    dv_free(preq.config);
    preq.config = config_dv(rt, 2, 0);
    p = rpc_unary(rt, "PlanAction", &preq, &tfplugin6__plan_action__response__descriptor);
    assert_int_equal(p->n_diagnostics, 0);
    protobuf_c_message_free_unpacked(&p->base, NULL);
    dv_free(preq.config);
    preq.action_type = "test_nothing";
    preq.config = NULL;
    p = rpc_unary(rt, "PlanAction", &preq, &tfplugin6__plan_action__response__descriptor);
    assert_true(has_diag(p->diagnostics, p->n_diagnostics, ERROR, "Unknown action type"));
    protobuf_c_message_free_unpacked(&p->base, NULL);
}

static void test_malformed_requests(void **state)
{
    sf_runtime *rt = *state;
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0x0f, 0x12, 0x99};
    sink s = {0};
    char *msg = NULL;
    assert_int_equal(sf_runtime_handle_stream_to(rt, "InvokeAction", garbage, sizeof garbage, collect, &s, &msg), 3);
    assert_non_null(msg);
    assert_int_equal(s.n, 0);
    free(msg);
    msg = NULL;
    /* A config that is not msgpack of the config type: a Completed error. */
    Tfplugin6__DynamicValue dv;
    tfplugin6__dynamic_value__init(&dv);
    dv.msgpack.data = (uint8_t *)"\x93\x01\x02";
    dv.msgpack.len = 3;
    invoke(rt, &s, "test_count", &dv);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.events[0]->type_case, COMPLETED);
    assert_int_equal(s.events[0]->completed->diagnostics[0]->severity, ERROR);
    sink_clear(&s);
    assert_true(sf_runtime_is_stream(rt, "/tfplugin6.Provider/InvokeAction"));
    assert_false(sf_runtime_is_stream(rt, "/tfplugin6.Provider/PlanAction"));
    void *resp = NULL;
    size_t resp_len = 0;
    assert_int_equal(sf_runtime_handle(rt, "InvokeAction", NULL, 0, &resp, &resp_len, &msg), 12);
    free(msg);
    msg = NULL;
    assert_int_equal(sf_runtime_handle(rt, "PlanAction", garbage, sizeof garbage, &resp, &resp_len, &msg), 3);
    free(msg);
    msg = NULL;
    assert_int_equal(sf_runtime_handle(rt, "ValidateActionConfig", garbage, sizeof garbage, &resp, &resp_len, &msg), 3);
    free(msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_schema_and_metadata_offer_the_action, setup, teardown),
        cmocka_unit_test(test_provider_without_actions_offers_none),
        cmocka_unit_test_setup_teardown(test_invoke_streams_progress_then_completed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_gone_stops_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_config_invokes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validate_and_plan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_requests, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
