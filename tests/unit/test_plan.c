/* test_plan.c — the runtime's generic plan rules and apply merge, the part
 * that keeps Terraform from reporting "inconsistent final plan/result". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "provider/plan.h"
#include "provider/timeouts.h"

static const sf_attr_def inner_attrs[] = {
    {"size", "number", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED, "", "1", sf_validate_positive_int},
    {"home", "string", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED, ""},
    {"mode", "string", SF_ATTR_OPTIONAL, ""},
    {NULL},
};
static const sf_block_def inner = {.attrs = inner_attrs};

static const sf_attr_def item_attrs[] = {
    {"name", "string", SF_ATTR_REQUIRED, ""},
    {"status", "string", SF_ATTR_COMPUTED, ""},
    {NULL},
};
static const sf_block_def item = {.attrs = item_attrs};

static const sf_attr_def top_attrs[] = {
    {"id", "string", SF_ATTR_COMPUTED | SF_ATTR_STABLE, ""},
    {"name", "string", SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, ""},
    {"tags", "[\"map\",\"string\"]", SF_ATTR_OPTIONAL, ""},
    {"url", "string", SF_ATTR_COMPUTED, ""},
    {NULL},
};
static const sf_nested_def top_blocks[] = {
    {"inner", SF_NEST_SINGLE, &inner, 0, 0, 0, ""},
    {"item", SF_NEST_LIST, &item, 1, 3, 0, ""},
    SF_TIMEOUTS_BLOCK,
    {NULL},
};
static const sf_block_def top = {.attrs = top_attrs, .blocks = top_blocks};

/* A configuration: everything the user did not write is null. */
static sf_value *config_value(const char *name, const char *mode, int nitems)
{
    sf_value *v = sf_value_object();
    sf_value_put(v, "id", sf_value_null());
    sf_value_put(v, "name", sf_value_string(name));
    sf_value_put(v, "tags", sf_value_null());
    sf_value_put(v, "url", sf_value_null());
    sf_value *in = sf_value_object();
    sf_value_put(in, "size", sf_value_null());
    sf_value_put(in, "home", sf_value_null());
    sf_value_put(in, "mode", mode ? sf_value_string(mode) : sf_value_null());
    sf_value_put(v, "inner", in);
    sf_value *items = sf_value_list();
    for (int i = 0; i < nitems; i++) {
        sf_value *it = sf_value_object();
        char n[16];
        snprintf(n, sizeof n, "s%d", i);
        sf_value_put(it, "name", sf_value_string(n));
        sf_value_put(it, "status", sf_value_null());
        sf_value_append(items, it);
    }
    sf_value_put(v, "item", items);
    sf_value_put(v, "timeouts", sf_value_null());
    return v;
}

/* What apply would have recorded for a config: every computed value known. */
static sf_value *applied_state(const sf_value *config)
{
    sf_value *s = sf_value_copy(config);
    sf_value_put(s, "id", sf_value_string("x-1"));
    sf_value_put(s, "url", sf_value_string("spark://127.0.0.1:7077"));
    sf_value *in = sf_value_get(s, "inner");
    sf_value_put(in, "size", sf_value_int(1));
    sf_value_put(in, "home", sf_value_string("/opt/spark"));
    sf_value *items = sf_value_get(s, "item");
    for (size_t i = 0; i < items->n; i++) sf_value_put(items->elems[i], "status", sf_value_string("ok"));
    return s;
}

/* Terraform's proposed new state: config, with prior values for computed
 * attributes the config leaves null. */
static sf_value *proposed(const sf_value *config, const sf_value *prior)
{
    if (sf_value_is_null(prior)) return sf_value_copy(config);
    sf_value *p = sf_value_copy(config);
    sf_value_put(p, "id", sf_value_copy(sf_value_get(prior, "id")));
    sf_value_put(p, "url", sf_value_copy(sf_value_get(prior, "url")));
    sf_value *in = sf_value_get(p, "inner");
    const sf_value *pin = sf_value_get(prior, "inner");
    sf_value_put(in, "size", sf_value_copy(sf_value_get(pin, "size")));
    sf_value_put(in, "home", sf_value_copy(sf_value_get(pin, "home")));
    sf_value *items = sf_value_get(p, "item");
    const sf_value *pitems = sf_value_get(prior, "item");
    for (size_t i = 0; i < items->n && i < pitems->n; i++)
        sf_value_put(items->elems[i], "status", sf_value_copy(sf_value_get(pitems->elems[i], "status")));
    return p;
}

static void test_create_marks_computed_unknown_and_applies_defaults(void **state)
{
    (void)state;
    sf_value *prior = sf_value_null(), *config = config_value("a", "fast", 2);
    sf_plan plan = {.prior = prior, .config = config};
    sf_diags d;
    sf_diags_init(&d);
    sf_plan_rules(&top, &plan, proposed(config, prior), &d);
    assert_false(sf_diags_has_error(&d));
    assert_true(sf_value_is_unknown(sf_value_get(plan.planned, "id")));
    assert_true(sf_value_is_unknown(sf_value_get(plan.planned, "url")));
    assert_string_equal(sf_value_get_str(sf_value_get(plan.planned, "name")), "a");
    const sf_value *in = sf_value_get(plan.planned, "inner");
    int64_t size = 0;
    assert_int_equal(sf_value_get_int(sf_value_get(in, "size"), &size), 0);
    assert_int_equal(size, 1);
    assert_true(sf_value_is_unknown(sf_value_get(in, "home")));
    assert_string_equal(sf_value_get_str(sf_value_get(in, "mode")), "fast");
    const sf_value *items = sf_value_get(plan.planned, "item");
    assert_int_equal(items->n, 2);
    assert_true(sf_value_is_unknown(sf_value_get(items->elems[1], "status")));
    assert_true(sf_value_is_null(sf_value_get(plan.planned, "tags"))); /* not computed: stays null */
    assert_int_equal(plan.n_requires_replace, 0);
    sf_plan_clear(&plan);
    sf_value_free(prior);
    sf_value_free(config);
    sf_diags_clear(&d);
}

static void test_update_without_change_is_no_op(void **state)
{
    (void)state;
    sf_value *config = config_value("a", "fast", 2), *prior = applied_state(config);
    sf_plan plan = {.prior = prior, .config = config};
    sf_diags d;
    sf_diags_init(&d);
    sf_plan_rules(&top, &plan, proposed(config, prior), &d);
    assert_true(sf_value_equal(plan.planned, prior));
    assert_false(sf_plan_changes(&plan));
    sf_plan_clear(&plan);
    sf_value_free(prior);
    sf_value_free(config);
    sf_diags_clear(&d);
}

static void test_update_with_change_unknowns_movable_computed(void **state)
{
    (void)state;
    sf_value *old = config_value("a", "fast", 2), *prior = applied_state(old);
    sf_value *config = config_value("a", "slow", 2);
    sf_plan plan = {.prior = prior, .config = config};
    sf_diags d;
    sf_diags_init(&d);
    sf_plan_rules(&top, &plan, proposed(config, prior), &d);
    assert_true(sf_plan_changes(&plan));
    assert_string_equal(sf_value_get_str(sf_value_get(plan.planned, "id")), "x-1"); /* stable */
    assert_true(sf_value_is_unknown(sf_value_get(plan.planned, "url")));
    /* Nested computed values are the prior ones: the change cannot move them. */
    assert_string_equal(sf_value_get_str(sf_value_get(sf_value_get(plan.planned, "inner"), "home")), "/opt/spark");
    assert_int_equal(plan.n_requires_replace, 0);
    sf_plan_clear(&plan);
    sf_value_free(prior);
    sf_value_free(old);
    sf_value_free(config);
    sf_diags_clear(&d);
}

static void test_force_new_attribute_requires_replace(void **state)
{
    (void)state;
    sf_value *old = config_value("a", NULL, 1), *prior = applied_state(old);
    sf_value *config = config_value("b", NULL, 1);
    sf_plan plan = {.prior = prior, .config = config};
    sf_diags d;
    sf_diags_init(&d);
    sf_plan_rules(&top, &plan, proposed(config, prior), &d);
    assert_int_equal(plan.n_requires_replace, 1);
    char *p = sf_path_to_string(plan.requires_replace[0]);
    assert_string_equal(p, "name");
    free(p);
    sf_plan_clear(&plan);
    sf_value_free(prior);
    sf_value_free(old);
    sf_value_free(config);
    sf_diags_clear(&d);
}

static void test_removed_default_attribute_returns_to_default(void **state)
{
    (void)state;
    sf_value *old = config_value("a", NULL, 1);
    sf_value *prior = applied_state(old);
    sf_value_put(sf_value_get(prior, "inner"), "size", sf_value_int(4)); /* user had size = 4 */
    sf_plan plan = {.prior = prior, .config = old};
    sf_diags d;
    sf_diags_init(&d);
    sf_plan_rules(&top, &plan, proposed(old, prior), &d);
    int64_t size = 0;
    sf_value_get_int(sf_value_get(sf_value_get(plan.planned, "inner"), "size"), &size);
    assert_int_equal(size, 1);
    sf_plan_clear(&plan);
    sf_value_free(prior);
    sf_value_free(old);
    sf_diags_clear(&d);
}

static void test_destroy_plans_null(void **state)
{
    (void)state;
    sf_value *config = config_value("a", NULL, 1), *prior = applied_state(config);
    sf_plan plan = {.prior = prior, .config = config};
    sf_diags d;
    sf_diags_init(&d);
    sf_plan_rules(&top, &plan, sf_value_null(), &d);
    assert_true(sf_value_is_null(plan.planned));
    sf_plan_clear(&plan);
    sf_value_free(prior);
    sf_value_free(config);
    sf_diags_clear(&d);
}

static void test_merge_fills_unknowns_and_keeps_known(void **state)
{
    (void)state;
    sf_value *prior = sf_value_null(), *config = config_value("a", NULL, 2);
    sf_plan plan = {.prior = prior, .config = config};
    sf_diags d;
    sf_diags_init(&d);
    sf_plan_rules(&top, &plan, proposed(config, prior), &d);
    sf_value *result = applied_state(config);
    sf_value_put(result, "name", sf_value_string("changed-by-a-bug"));
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    sf_value *merged = sf_plan_merge(ctx, plan.planned, result, &d);
    assert_non_null(merged);
    assert_true(sf_value_is_wholly_known(merged));
    assert_string_equal(sf_value_get_str(sf_value_get(merged, "name")), "a"); /* the plan wins */
    assert_string_equal(sf_value_get_str(sf_value_get(merged, "id")), "x-1");
    const sf_value *items = sf_value_get(merged, "item");
    assert_int_equal(items->n, 2);
    assert_string_equal(sf_value_get_str(sf_value_get(items->elems[1], "status")), "ok");
    sf_value_free(merged);

    /* A resource that leaves an unknown unset is reported with its path. */
    sf_value_put(sf_value_get(result, "item")->elems[1], "status", sf_value_unknown());
    merged = sf_plan_merge(ctx, plan.planned, result, &d);
    assert_null(merged);
    assert_true(sf_diags_has_error(&d));
    char *p = sf_path_to_string(d.items[0].path);
    assert_string_equal(p, "item[1].status");
    free(p);
    sf_ctx_free(ctx);
    sf_value_free(result);
    sf_plan_clear(&plan);
    sf_value_free(prior);
    sf_value_free(config);
    sf_diags_clear(&d);
}

static void test_validation_reports_paths(void **state)
{
    (void)state;
    sf_value *config = config_value("a", NULL, 0);
    sf_value_put(sf_value_get(config, "inner"), "size", sf_value_int(0));
    sf_value *t = sf_value_object();
    sf_value_put(t, "create", sf_value_string("ten minutes"));
    sf_value_put(t, "update", sf_value_null());
    sf_value_put(t, "delete", sf_value_string("1h30m"));
    sf_value_put(config, "timeouts", t);
    sf_diags d;
    sf_diags_init(&d);
    sf_schema_validate(&top, config, "", &d);
    assert_int_equal(d.n, 3);
    const char *want[] = {"inner.size", "item", "timeouts.create"};
    for (size_t i = 0; i < 3; i++) {
        char *p = sf_path_to_string(d.items[i].path);
        assert_string_equal(p, want[i]);
        free(p);
    }
    sf_value_free(config);
    sf_diags_clear(&d);
}

/* ---- Nested attributes ---------------------------------------------------- */

static const sf_attr_def rule_attrs[] = {
    {"pattern", "string", SF_ATTR_REQUIRED, "What to match."},
    {"weight", "number", SF_ATTR_OPTIONAL | SF_ATTR_COMPUTED, "How much.", "1", sf_validate_positive_int},
    {"id", "string", SF_ATTR_COMPUTED, "Assigned."},
    {NULL},
};
static const sf_attr_object rules_shape = {SF_NEST_LIST, rule_attrs};

static const sf_attr_def result_attrs[] = {
    {"name", "string", SF_ATTR_COMPUTED, "A name."},
    {"rows", "number", SF_ATTR_COMPUTED, "A count."},
    {NULL},
};
static const sf_attr_object results_shape = {SF_NEST_LIST, result_attrs};

static const sf_attr_def with_nested_attrs[] = {
    {"rules", NULL, SF_ATTR_OPTIONAL, "Configured objects.", NULL, NULL, &rules_shape},
    {"results", NULL, SF_ATTR_COMPUTED, "Read-only objects.", NULL, NULL, &results_shape},
    {NULL},
};
static const sf_block_def with_nested = {.attrs = with_nested_attrs};

static sf_value *rules_config(int weight1) /* -1: unset */
{
    sf_value *v = sf_value_object(), *rules = sf_value_list();
    for (int i = 0; i < 2; i++) {
        sf_value *r = sf_value_object();
        sf_value_put(r, "pattern", sf_value_string(i ? "b*" : "a*"));
        sf_value_put(r, "weight", i && weight1 >= 0 ? sf_value_int(weight1) : sf_value_null());
        sf_value_put(r, "id", sf_value_null());
        sf_value_append(rules, r);
    }
    sf_value_put(v, "rules", rules);
    sf_value_put(v, "results", sf_value_null());
    return v;
}

static void test_nested_attribute_has_the_shape_of_a_block(void **state)
{
    (void)state;
    sf_type *t = sf_schema_type(&with_nested);
    char *json = sf_type_to_json(t);
    assert_string_equal(json,
                        "[\"object\",{\"results\":[\"list\",[\"object\",{\"name\":\"string\",\"rows\":\"number\"}]],"
                        "\"rules\":[\"list\",[\"object\",{\"id\":\"string\",\"pattern\":\"string\",\"weight\":"
                        "\"number\"}]]}]");
    free(json);
    sf_type_free(t);
}

static void test_nested_attribute_objects_get_defaults_and_unknowns(void **state)
{
    (void)state;
    sf_value *prior = sf_value_null(), *config = rules_config(5);
    sf_plan plan = {.prior = prior, .config = config};
    sf_diags d;
    sf_diags_init(&d);
    sf_plan_rules(&with_nested, &plan, sf_value_copy(config), &d);
    assert_false(sf_diags_has_error(&d));
    const sf_value *rules = sf_value_get(plan.planned, "rules");
    assert_int_equal(rules->n, 2);
    int64_t w = 0;
    assert_int_equal(sf_value_get_int(sf_value_get(rules->elems[0], "weight"), &w), 0);
    assert_int_equal(w, 1); /* declared default */
    assert_int_equal(sf_value_get_int(sf_value_get(rules->elems[1], "weight"), &w), 0);
    assert_int_equal(w, 5); /* configured */
    assert_true(sf_value_is_unknown(sf_value_get(rules->elems[0], "id")));
    assert_true(sf_value_is_unknown(sf_value_get(rules->elems[1], "id")));
    assert_true(sf_value_is_unknown(sf_value_get(plan.planned, "results"))); /* computed whole */

    /* Applied, then planned again with the prior's computed values proposed:
     * nothing changes, the ids stay. */
    sf_value *applied = sf_value_copy(plan.planned);
    sf_value *arules = sf_value_get(applied, "rules");
    for (size_t i = 0; i < arules->n; i++) sf_value_put(arules->elems[i], "id", sf_value_string(i ? "r1" : "r0"));
    sf_value *results = sf_value_list(), *r0 = sf_value_object();
    sf_value_put(r0, "name", sf_value_string("x"));
    sf_value_put(r0, "rows", sf_value_int(3));
    sf_value_append(results, r0);
    sf_value_put(applied, "results", results);
    sf_plan again = {.prior = applied, .config = config};
    sf_plan_rules(&with_nested, &again, sf_value_copy(applied), &d);
    assert_false(sf_diags_has_error(&d));
    assert_false(sf_plan_changes(&again));
    assert_string_equal(sf_value_get_str(sf_value_get(sf_value_get(again.planned, "rules")->elems[1], "id")), "r1");
    sf_plan_clear(&again);
    sf_value_free(applied);
    sf_plan_clear(&plan);
    sf_value_free(prior);
    sf_value_free(config);
    sf_diags_clear(&d);
}

static void test_nested_attribute_validators_report_element_paths(void **state)
{
    (void)state;
    sf_value *config = rules_config(0);
    sf_diags d;
    sf_diags_init(&d);
    sf_schema_validate(&with_nested, config, "", &d);
    assert_int_equal(d.n, 1);
    char *p = sf_path_to_string(d.items[0].path);
    assert_string_equal(p, "rules[1].weight");
    free(p);
    sf_value_free(config);
    sf_diags_clear(&d);
}

static void test_durations(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(sf_duration_parse("90s", &ms), 0);
    assert_int_equal(ms, 90000);
    assert_int_equal(sf_duration_parse("1h30m", &ms), 0);
    assert_int_equal(ms, 5400000);
    assert_int_equal(sf_duration_parse("250ms", &ms), 0);
    assert_int_equal(ms, 250);
    assert_int_equal(sf_duration_parse("1.5m", &ms), 0);
    assert_int_equal(ms, 90000);
    assert_int_equal(sf_duration_parse("10", &ms), -1);
    assert_int_equal(sf_duration_parse("-5m", &ms), -1);
    assert_int_equal(sf_duration_parse("", &ms), -1);
    assert_int_equal(sf_duration_parse("5 m", &ms), -1);
}

static void test_paths_round_trip(void **state)
{
    (void)state;
    const char *spellings[] = {"a", "a.b", "stage[3].script", "triggers[\"we\\\"ird.key\"]", ""};
    for (size_t i = 0; i < sizeof spellings / sizeof *spellings; i++) {
        sf_path *p = sf_path_parse(spellings[i]);
        char *s = sf_path_to_string(p);
        assert_string_equal(s, spellings[i]);
        free(s);
        sf_path_free(p);
    }
    sf_path *p = sf_path_parse("stage[3].script");
    assert_int_equal(p->n, 3);
    assert_int_equal(p->steps[1].kind, SF_STEP_INDEX);
    assert_int_equal(p->steps[1].index, 3);
    sf_path_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_marks_computed_unknown_and_applies_defaults),
        cmocka_unit_test(test_update_without_change_is_no_op),
        cmocka_unit_test(test_update_with_change_unknowns_movable_computed),
        cmocka_unit_test(test_force_new_attribute_requires_replace),
        cmocka_unit_test(test_removed_default_attribute_returns_to_default),
        cmocka_unit_test(test_destroy_plans_null),
        cmocka_unit_test(test_merge_fills_unknowns_and_keeps_known),
        cmocka_unit_test(test_validation_reports_paths),
        cmocka_unit_test(test_nested_attribute_has_the_shape_of_a_block),
        cmocka_unit_test(test_nested_attribute_objects_get_defaults_and_unknowns),
        cmocka_unit_test(test_nested_attribute_validators_report_element_paths),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_paths_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
