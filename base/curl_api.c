/* curl_api.c — load libcurl.so.4 once and initialise it (see curl_api.h).
 *
 * The table and the load error are written once, under pthread_once, and
 * only read after that: process-wide, like libcurl's own global state. */
#include "base/curl_api.h"

#include <pthread.h>
#include <stdio.h>

#include "base/dlib.h"

typedef struct loaded {
    sf_curl_api api;
    CURLcode (*global_init)(long flags);
    int ok;
    char why[512];
} loaded;

static loaded curl_lib;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void load(void)
{
    loaded *l = &curl_lib;
    const sf_dlib_sym syms[] = {
        {"curl_global_init", (void **)&l->global_init},
        {"curl_easy_init", (void **)&l->api.easy_init},
        {"curl_easy_setopt", (void **)&l->api.easy_setopt},
        {"curl_easy_perform", (void **)&l->api.easy_perform},
        {"curl_easy_getinfo", (void **)&l->api.easy_getinfo},
        {"curl_easy_strerror", (void **)&l->api.easy_strerror},
        {"curl_easy_cleanup", (void **)&l->api.easy_cleanup},
        {"curl_slist_append", (void **)&l->api.slist_append},
        {"curl_slist_free_all", (void **)&l->api.slist_free_all},
        {"curl_share_init", (void **)&l->api.share_init},
        {"curl_share_setopt", (void **)&l->api.share_setopt},
        {"curl_share_cleanup", (void **)&l->api.share_cleanup},
    };
    char err[256];
    if (sf_dlib_load(SF_CURL_SONAME, syms, sizeof syms / sizeof *syms, err, sizeof err) != 0) {
        snprintf(l->why, sizeof l->why,
                 "cannot load libcurl (%s), which HTTP calls need: install libcurl 4 "
                 "(Debian/Ubuntu: libcurl4; Fedora/RHEL: libcurl)",
                 err);
        return;
    }
    CURLcode rc = l->global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        snprintf(l->why, sizeof l->why, "curl_global_init failed: %s", l->api.easy_strerror(rc));
        return;
    }
    l->ok = 1;
}

const sf_curl_api *sf_curl_api_get(const char **why)
{
    pthread_once(&curl_once, load);
    if (curl_lib.ok) return &curl_lib.api;
    if (why) *why = curl_lib.why;
    return NULL;
}
