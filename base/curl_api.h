/* curl_api.h — libcurl, loaded on first use (base/dlib.h says why).
 *
 * The functions SparkFlow calls, as a table: `api->easy_init()` where code
 * linked against libcurl would call `curl_easy_init()`.  Types and
 * constants come from <curl/curl.h> as usual; only the calls go through the
 * table.  The first call to sf_curl_api() loads libcurl.so.4 and runs
 * curl_global_init() once for the process (pthread_once: any thread may be
 * first); the table never changes after that.
 */
#ifndef SF_BASE_CURL_API_H
#define SF_BASE_CURL_API_H

#include <curl/curl.h>

/* The soname loaded: libcurl 4's ABI (curl 7.16 and every later release). */
#define SF_CURL_SONAME "libcurl.so.4"

typedef struct sf_curl_api {
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
    CURLcode (*easy_perform)(CURL *h);
    CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
    const char *(*easy_strerror)(CURLcode rc);
    void (*easy_cleanup)(CURL *h);
    struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
    void (*slist_free_all)(struct curl_slist *list);
    CURLSH *(*share_init)(void);
    CURLSHcode (*share_setopt)(CURLSH *sh, CURLSHoption opt, ...);
    CURLSHcode (*share_cleanup)(CURLSH *sh);
} sf_curl_api;

/* The loaded libcurl, initialised.  NULL when it cannot be loaded or
 * initialised, with *why (static, never freed) saying so and how to fix it
 * (install libcurl 4); the same answer for the life of the process. */
const sf_curl_api *sf_curl_api_get(const char **why);

#endif
