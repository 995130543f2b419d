/* test_dlib.c — libraries loaded on first use (base/dlib, base/curl_api,
 * base/xml_api): a missing library or function is an error that names it
 * and leaves the table untouched; libcurl and libxml2 load, initialised,
 * from the sonames the release promises, and work through their tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/curl_api.h"
#include "base/dlib.h"
#include "base/xml_api.h"

static void test_missing_library_is_named(void **state)
{
    (void)state;
    void *slot = NULL;
    const sf_dlib_sym syms[] = {{"nothing", &slot}};
    char err[256] = "";
    assert_int_equal(sf_dlib_load("libsparkflow-absent.so.9", syms, 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "libsparkflow-absent.so.9"));
    assert_null(slot);
    char path[256];
    assert_int_equal(sf_dlib_path("libsparkflow-absent.so.9", path, sizeof path), -1);
}

static void test_missing_function_is_named_and_no_slot_is_written(void **state)
{
    (void)state;
    void *first = NULL, *second = NULL;
    const sf_dlib_sym syms[] = {{"getpid", &first}, {"sf_no_such_function", &second}};
    char err[256] = "";
    assert_int_equal(sf_dlib_load("libc.so.6", syms, 2, err, sizeof err), -1);
    assert_string_equal(err, "libc.so.6 has no sf_no_such_function");
    assert_null(first);
    assert_null(second);
}

static void test_functions_resolve_and_path_is_known(void **state)
{
    (void)state;
    pid_t (*get_pid)(void) = NULL;
    const sf_dlib_sym syms[] = {{"getpid", (void **)&get_pid}};
    char err[256] = "", path[4096] = "";
    assert_int_equal(sf_dlib_load("libc.so.6", syms, 1, err, sizeof err), 0);
    assert_non_null(get_pid);
    assert_int_equal(get_pid(), getpid());
    assert_int_equal(sf_dlib_path("libc.so.6", path, sizeof path), 0);
    assert_non_null(strstr(path, "libc.so.6"));
}

static void test_curl_loads_once_and_works(void **state)
{
    (void)state;
    const char *why = "unset";
    const sf_curl_api *curl = sf_curl_api_get(&why);
    assert_non_null(curl);
    assert_string_equal(why, "unset"); /* only set on failure */
    assert_ptr_equal(sf_curl_api_get(NULL), curl);
    assert_string_equal(curl->easy_strerror(CURLE_OK), "No error");
    CURL *h = curl->easy_init();
    assert_non_null(h);
    assert_int_equal(curl->easy_setopt(h, CURLOPT_URL, "http://127.0.0.1:9/"), CURLE_OK);
    curl->easy_cleanup(h);
    struct curl_slist *l = curl->slist_append(NULL, "A: b");
    assert_non_null(l);
    curl->slist_free_all(l);
    char path[4096];
    assert_int_equal(sf_dlib_path(SF_CURL_SONAME, path, sizeof path), 0);
}

static void test_xml_loads_once_and_parses(void **state)
{
    (void)state;
    const sf_xml_api *xml = sf_xml_api_get(NULL);
    assert_non_null(xml);
    assert_ptr_equal(sf_xml_api_get(NULL), xml);
    const char text[] = "<a><b>hello</b></a>";
    xmlDoc *doc = xml->read_memory(text, (int)strlen(text), "t.xml", NULL, XML_PARSE_NONET);
    assert_non_null(doc);
    xmlNode *root = xml->doc_get_root_element(doc);
    assert_string_equal((const char *)root->name, "a");
    xmlChar *c = xml->node_get_content(root->children);
    assert_string_equal((const char *)c, "hello");
    xml->free_mem(c);
    xml->free_doc(doc);
    assert_null(xml->read_memory("<a>", 3, "t.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
    char path[4096];
    assert_int_equal(sf_dlib_path(SF_XML_SONAME, path, sizeof path), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_library_is_named),
        cmocka_unit_test(test_missing_function_is_named_and_no_slot_is_written),
        cmocka_unit_test(test_functions_resolve_and_path_is_known),
        cmocka_unit_test(test_curl_loads_once_and_works),
        cmocka_unit_test(test_xml_loads_once_and_parses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
