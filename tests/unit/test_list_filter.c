/* test_list_filter.c — what `terraform query` judges and prints for a
 * listing, without Terraform: the shared filter verdicts (list_filter.h),
 * the uptime spans of display names (base/time.h), the Airflow list's
 * display name, and the local orchestrator's records (host.json under
 * $HOME/.sparkflow/airflow, as import finds them) with its listing,
 * which reports no host whose processes are gone and stops nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/files.h"
#include "base/time.h"
#include "orchestrators/local/airflow_local.h"
#include "resources/resources.h"

static void filter_verdicts(void **state)
{
    (void)state;
    static const char *const active[] = {"pending", "running", NULL};
    sf_list_filter none = {0};
    assert_true(sf_list_filter_state(&none, "running", active));
    assert_false(sf_list_filter_state(&none, "stopped", active));
    assert_false(sf_list_filter_state(&none, NULL, active));
    const char *const asked[] = {"Stopped", "TERMINATED"};
    sf_list_filter some = {.states = asked, .n_states = 2, .name_prefix = "fin"};
    assert_true(sf_list_filter_state(&some, "stopped", active)); /* any case */
    assert_true(sf_list_filter_state(&some, "terminated", active));
    assert_false(sf_list_filter_state(&some, "running", active)); /* asked replaces active */
    assert_true(sf_list_filter_name(&none, NULL));
    assert_true(sf_list_filter_name(&some, "finances"));
    assert_false(sf_list_filter_name(&some, "Finances"));
    assert_false(sf_list_filter_name(&some, NULL));

    sf_value *want = sf_value_map();
    sf_value_put(want, "team", sf_value_string("data"));
    sf_list_filter tagged = {.tags = want};
    sf_value *have = sf_value_map();
    assert_true(sf_list_filter_tags(&none, NULL));
    assert_false(sf_list_filter_tags(&tagged, NULL)); /* no tags: none kept */
    assert_false(sf_list_filter_tags(&tagged, have));
    sf_value_put(have, "team", sf_value_string("ops"));
    assert_false(sf_list_filter_tags(&tagged, have));
    sf_value_put(have, "team", sf_value_string("data"));
    sf_value_put(have, "other", sf_value_string("x"));
    assert_true(sf_list_filter_tags(&tagged, have));
    sf_value_free(want);
    sf_value_free(have);
}

static void spans(void **state)
{
    (void)state;
    char out[SF_TIME_SPAN_LEN];
    struct {
        int64_t s;
        const char *want;
    } cases[] = {{-5, "0m"},       {59, "0m"},
                 {45 * 60, "45m"}, {3 * 3600 + 12 * 60 + 7, "3h12m"},
                 {3600, "1h00m"},  {2 * 86400 + 4 * 3600 + 59, "2d4h"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sf_time_span(out, cases[i].s);
        assert_string_equal(out, cases[i].want);
    }
}

static void display_names(void **state)
{
    (void)state;
    sf_airflow_host h = {.id = "i-0abc", .name = "nightly", .state = "stopped"};
    char *s = sf_airflow_display_name("ec2", &h, "running, up 3h12m, t3.large");
    assert_string_equal(s, "nightly (ec2 i-0abc, running, up 3h12m, t3.large)");
    free(s);
    s = sf_airflow_display_name("ec2", &h, NULL);
    assert_string_equal(s, "nightly (ec2 i-0abc, stopped)");
    free(s);
    h.name = NULL;
    s = sf_airflow_display_name("local", &h, "running, api 127.0.0.1:8080");
    assert_string_equal(s, "(no name) (local i-0abc, running, api 127.0.0.1:8080)");
    free(s);
}

/* ---- local records ------------------------------------------------------------ */

static char home[64];

static int make_home(void **state)
{
    (void)state;
    snprintf(home, sizeof home, "/tmp/sf-listfilter-XXXXXX");
    if (!mkdtemp(home)) return -1;
    return setenv("HOME", home, 1);
}

static int remove_home(void **state)
{
    (void)state;
    char *cmd = sf_fmt("rm -rf '%s'", home);
    int rc = system(cmd);
    free(cmd);
    return rc;
}

/* A host.json in $HOME/.sparkflow/airflow/<dir>, its processes long
 * gone (pids no process has: start times that match none). */
static void write_record(const char *dir, const char *id, const char *name)
{
    char *wd = sf_fmt("%s/.sparkflow/airflow/%s", home, dir);
    assert_int_equal(sf_file_mkdirs(wd), 0);
    char *text = sf_fmt("{\"id\":\"%s\",\"name\":\"%s\",\"created_at\":\"2026-12-07T01:02:03Z\",\"details\":{"
                        "\"work_dir\":\"%s\",\"pgid\":\"999999\",\"api_port\":\"1\","
                        "\"api_server_pid\":\"999999\",\"api_server_start_time\":\"1\","
                        "\"scheduler_pid\":\"999998\",\"scheduler_start_time\":\"1\","
                        "\"dag_processor_pid\":\"999997\",\"dag_processor_start_time\":\"1\","
                        "\"triggerer_pid\":\"999996\",\"triggerer_start_time\":\"1\"}}",
                        id, name, wd);
    char *path = sf_fmt("%s/host.json", wd);
    assert_int_equal(sf_file_write_atomic(path, text, strlen(text), 0644), 0);
    free(path);
    free(text);
    free(wd);
}

static void records_found_by_id(void **state)
{
    (void)state;
    write_record("b-host", "airflow-0000000000bb", "b-host");
    write_record("a-host", "airflow-0000000000aa", "a-host");
    char *bogus = sf_fmt("%s/.sparkflow/airflow/not-a-host", home);
    assert_int_equal(sf_file_mkdirs(bogus), 0);
    free(bogus);

    char **dirs = sf_afl_record_dirs();
    size_t n = 0;
    for (; dirs[n]; n++) {}
    assert_int_equal(n, 3);
    assert_non_null(strstr(dirs[0], "/a-host")); /* sorted */
    sf_afl_record r;
    assert_int_equal(sf_afl_record_load(dirs[2], &r), 1); /* not-a-host: no host.json */
    for (size_t i = 0; i < n; i++) free(dirs[i]);
    free(dirs);

    assert_int_equal(sf_afl_host_find("airflow-0000000000bb", &r), 0);
    assert_string_equal(r.name, "b-host"); /* what an import of the id now gets */
    assert_string_equal(r.created_at, "2026-12-07T01:02:03Z");
    assert_string_equal(sf_value_get_str(sf_value_get(r.details, "pgid")), "999999");
    sf_afl_record_clear(&r);
    assert_int_equal(sf_afl_host_find("airflow-0000000000cc", &r), 1);
    assert_int_equal(sf_afl_host_find("local-0000000000aa", &r), 1);
}

static bool count_found(void *arg, const sf_airflow_host *h, const char *summary)
{
    (void)h, (void)summary;
    ++*(int *)arg;
    return true;
}

static void listing_skips_dead_hosts(void **state)
{
    (void)state;
    write_record("a-host", "airflow-0000000000aa", "a-host");
    sf_afl_record r;
    assert_int_equal(sf_afl_host_find("airflow-0000000000aa", &r), 0); /* the listing sees it */
    sf_afl_record_clear(&r);
    sf_list_filter none = {0};
    int n = 0;
    sf_diags diags;
    sf_diags_init(&diags);
    sf_ctx *ctx = sf_ctx_new_root(SF_LOG_ERROR);
    assert_int_equal(sf_orchestrator_local.host_list(ctx, NULL, &none, count_found, &n, &diags), SF_ENGINE_OK);
    assert_int_equal(n, 0);
    assert_int_equal(diags.n, 0);
    /* Nothing was cleaned up: the record stays for the refresh that owns it. */
    char *path = sf_fmt("%s/.sparkflow/airflow/a-host/host.json", home);
    assert_int_equal(access(path, F_OK), 0);
    free(path);
    sf_ctx_free(ctx);
    sf_diags_clear(&diags);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(filter_verdicts),
        cmocka_unit_test(spans),
        cmocka_unit_test(display_names),
        cmocka_unit_test_setup_teardown(records_found_by_id, make_home, remove_home),
        cmocka_unit_test_setup_teardown(listing_skips_dead_hosts, make_home, remove_home),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
