/* log.c — the TF_LOG parser and the one hclog JSON line writer (log.h). */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "base/str.h"
#include "base/time.h"

static const char *const level_names[] = {"trace", "debug", "info", "warn", "error"};

sf_log_level sf_log_level_from_env(void)
{
    const char *v = getenv("TF_LOG_PROVIDER");
    if (!v || !*v) v = getenv("TF_LOG");
    if (!v || !*v) return SF_LOG_WARN;
    for (int i = SF_LOG_TRACE; i <= SF_LOG_ERROR; i++)
        if (strcasecmp(v, level_names[i]) == 0) return (sf_log_level)i;
    return strcasecmp(v, "json") == 0 ? SF_LOG_TRACE : SF_LOG_WARN;
}

const char *sf_log_level_name(sf_log_level level)
{
    return level >= SF_LOG_TRACE && level <= SF_LOG_ERROR ? level_names[level] : "info";
}

void sf_log_write(sf_log_level level, const char *module, const char *message)
{
    char stamp[SF_TIME_RFC3339_US_LEN];
    sf_time_rfc3339_us(stamp, sf_time_wall_us());
    cJSON *o = cJSON_CreateObject();
    if (!o) abort();
    cJSON_AddStringToObject(o, "@level", sf_log_level_name(level));
    cJSON_AddStringToObject(o, "@message", message ? message : "");
    if (module) cJSON_AddStringToObject(o, "@module", module);
    cJSON_AddStringToObject(o, "@timestamp", stamp);
    char *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!json) abort();
    size_t n = strlen(json);
    char *line = malloc(n + 2);
    if (!line) abort();
    memcpy(line, json, n);
    line[n] = '\n';
    line[n + 1] = '\0';
    cJSON_free(json);
    fwrite(line, 1, n + 1, stderr); /* one stdio call: stderr's lock keeps lines whole */
    free(line);
}

void sf_log_writef(sf_log_level level, const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = sf_vfmt(fmt, ap);
    va_end(ap);
    sf_log_write(level, module, msg);
    free(msg);
}
