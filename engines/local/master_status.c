/* master_status.c — what the Spark master says about itself.
 *
 * The standalone master serves its state as JSON on its web UI port
 * (/json/): its URL, its status (ALIVE once it leads) and every worker that
 * registered, with its port and state.  Readiness, scaling and drift are all
 * judged from this page, fetched with libcurl and parsed with cJSON.
 */
#include "engines/local/local.h"

#include "base/curl_api.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BODY (4u << 20)

static char *json_str(const cJSON *obj, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(it) && it->valuestring ? sf_strdup(it->valuestring) : NULL;
}

int sf_local_status_parse(const char *json, size_t len, sf_local_status *out, char **err)
{
    memset(out, 0, sizeof *out);
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        *err = sf_strdup("the master's status page is not a JSON object");
        return -1;
    }
    out->url = json_str(root, "url");
    out->status = json_str(root, "status");
    const cJSON *workers = cJSON_GetObjectItemCaseSensitive(root, "workers");
    if (!out->status || (workers && !cJSON_IsArray(workers))) {
        cJSON_Delete(root);
        sf_local_status_clear(out);
        *err = sf_strdup("the master's status page has no status or a bad workers list");
        return -1;
    }
    int n = workers ? cJSON_GetArraySize(workers) : 0;
    out->workers = calloc(n > 0 ? (size_t)n : 1, sizeof *out->workers);
    if (!out->workers) abort();
    const cJSON *w;
    cJSON_ArrayForEach(w, workers) {
        const cJSON *port = cJSON_GetObjectItemCaseSensitive(w, "port");
        sf_local_status_worker *sw = &out->workers[out->n_workers++];
        sw->id = json_str(w, "id");
        sw->state = json_str(w, "state");
        sw->port = cJSON_IsNumber(port) ? port->valueint : 0;
        if (!sw->state) sw->state = sf_strdup("UNKNOWN");
    }
    cJSON_Delete(root);
    return 0;
}

typedef struct body {
    char *data;
    size_t len;
} body;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    body *b = userdata;
    size_t n = size * nmemb;
    if (b->len + n > MAX_BODY) return 0; /* makes curl fail the transfer */
    char *grown = realloc(b->data, b->len + n + 1);
    if (!grown) abort();
    b->data = grown;
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = 0;
    return n;
}

int sf_local_status_fetch(int webui_port, sf_local_status *out, char **err)
{
    memset(out, 0, sizeof *out);
    const char *no_curl = NULL;
    const sf_curl_api *api = sf_curl_api_get(&no_curl);
    if (!api) {
        *err = sf_strdup(no_curl);
        return -1;
    }
    CURL *curl = api->easy_init();
    if (!curl) {
        *err = sf_strdup("libcurl could not start a request");
        return -1;
    }
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/json/", webui_port);
    body b = {0};
    char curl_err[CURL_ERROR_SIZE] = "";
    api->easy_setopt(curl, CURLOPT_URL, url);
    api->easy_setopt(curl, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM */
    api->easy_setopt(curl, CURLOPT_NOPROXY, "*"); /* never via a proxy */
    api->easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    api->easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
    api->easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    api->easy_setopt(curl, CURLOPT_WRITEDATA, &b);
    api->easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
    CURLcode rc = api->easy_perform(curl);
    long http = 0;
    api->easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http);
    api->easy_cleanup(curl);
    int result = -1;
    if (rc != CURLE_OK) *err = sf_fmt("GET %s: %s", url, curl_err[0] ? curl_err : api->easy_strerror(rc));
    else if (http != 200) *err = sf_fmt("GET %s: HTTP %ld", url, http);
    else result = sf_local_status_parse(b.data ? b.data : "", b.len, out, err);
    free(b.data);
    return result;
}

size_t sf_local_status_alive_count(const sf_local_status *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_workers; i++)
        if (strcmp(s->workers[i].state, "ALIVE") == 0) n++;
    return n;
}

bool sf_local_status_worker_alive(const sf_local_status *s, int port)
{
    for (size_t i = 0; i < s->n_workers; i++)
        if (s->workers[i].port == port && strcmp(s->workers[i].state, "ALIVE") == 0) return true;
    return false;
}

void sf_local_status_clear(sf_local_status *s)
{
    for (size_t i = 0; i < s->n_workers; i++) {
        free(s->workers[i].id);
        free(s->workers[i].state);
    }
    free(s->workers);
    free(s->url);
    free(s->status);
    memset(s, 0, sizeof *s);
}
