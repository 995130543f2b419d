/* test_catalog_name.c — the names a catalog gives (catalogs/catalog_name.c):
 * the deterministic mapping of pipeline and table names, and the plan-time
 * checks of database, workgroup and cutoff, with the attribute path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "catalogs/catalog.h"

static void expect_default(const char *in, const char *want)
{
    char *got = sf_catalog_default_name(in);
    assert_string_equal(got, want);
    sf_diags d;
    sf_diags_init(&d);
    assert_true(sf_catalog_check_name(got, "catalog.database", &d)); /* a default is always legal */
    assert_int_equal(d.n, 0);
    free(got);
}

static void test_default_names(void **state)
{
    (void)state;
    expect_default("household-finances", "household_finances");
    expect_default("Monthly-Totals", "monthly_totals");
    expect_default("fx", "fx");
    expect_default("a--b__c..d", "a_b_c_d");
    expect_default("-lead-and-trail-", "lead_and_trail");
    expect_default("2024 budget", "p_2024_budget");
    expect_default("Straße", "stra_e");
    expect_default("---", "pipeline");
    expect_default("", "pipeline");
    char longname[200];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    longname[63] = '-'; /* the cut falls on a separator: no trailing '_' */
    char *got = sf_catalog_default_name(longname);
    assert_int_equal(strlen(got), 63);
    assert_true(got[62] == 'x');
    free(got);
}

static void expect_bad_name(const char *name, const char *suggestion)
{
    sf_diags d;
    sf_diags_init(&d);
    assert_false(sf_catalog_check_name(name, "catalog.database", &d));
    assert_int_equal(d.n, 1);
    assert_string_equal(d.items[0].summary, "Invalid catalog name");
    char *path = sf_path_to_string(d.items[0].path);
    assert_string_equal(path, "catalog.database");
    free(path);
    assert_non_null(strstr(d.items[0].detail, suggestion));
    sf_diags_clear(&d);
}

static void test_check_name(void **state)
{
    (void)state;
    expect_bad_name("Finances", "\"finances\" would be accepted");
    expect_bad_name("my-db", "\"my_db\" would be accepted");
    expect_bad_name("1st", "\"p_1st\" would be accepted");
    expect_bad_name("_x", "\"x\" would be accepted");
    expect_bad_name("", "\"pipeline\" would be accepted");
    char longname[70];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    expect_bad_name(longname, "would be accepted");
    sf_diags d;
    sf_diags_init(&d);
    assert_true(sf_catalog_check_name("finances_2024", "catalog.database", &d));
    assert_int_equal(d.n, 0);
}

static void test_check_workgroup_and_cutoff(void **state)
{
    (void)state;
    sf_diags d;
    sf_diags_init(&d);
    assert_true(sf_catalog_check_workgroup("sparkflow-Finances.v2_x", "catalog.workgroup", &d));
    assert_true(sf_catalog_check_cutoff(0, "catalog.bytes_scanned_cutoff", &d));
    assert_true(sf_catalog_check_cutoff(SF_CATALOG_MIN_CUTOFF, "catalog.bytes_scanned_cutoff", &d));
    assert_int_equal(d.n, 0);
    assert_false(sf_catalog_check_workgroup("no spaces!", "catalog.workgroup", &d));
    assert_false(sf_catalog_check_workgroup("", "catalog.workgroup", &d));
    assert_false(sf_catalog_check_cutoff(SF_CATALOG_MIN_CUTOFF - 1, "catalog.bytes_scanned_cutoff", &d));
    assert_false(sf_catalog_check_cutoff(-1, "catalog.bytes_scanned_cutoff", &d));
    assert_int_equal(d.n, 4);
    assert_string_equal(d.items[0].summary, "Invalid workgroup name");
    assert_string_equal(d.items[2].summary, "Invalid bytes-scanned cutoff");
    char *path = sf_path_to_string(d.items[3].path);
    assert_string_equal(path, "catalog.bytes_scanned_cutoff");
    free(path);
    sf_diags_clear(&d);
    char *wg = sf_catalog_default_workgroup("finances");
    assert_string_equal(wg, "sparkflow-finances");
    free(wg);
}

static void test_catalog_for_lake(void **state)
{
    (void)state;
    assert_ptr_equal(sf_catalog_for_lake("file:///lake"), &sf_catalog_duckdb);
    assert_ptr_equal(sf_catalog_for_lake("FILE:/lake"), &sf_catalog_duckdb);
    assert_null(sf_catalog_for_lake("gs://bucket"));
    assert_null(sf_catalog_for_lake("no-scheme"));
    assert_null(sf_catalog_for_lake(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_names),
        cmocka_unit_test(test_check_name),
        cmocka_unit_test(test_check_workgroup_and_cutoff),
        cmocka_unit_test(test_catalog_for_lake),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
