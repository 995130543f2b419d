/* time.c — clocks and UTC timestamp formatting (time.h). */
#include "base/time.h"

#include <ctype.h>
#include <stdio.h>
#include <time.h>

static int64_t clock_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t sf_time_wall_ms(void)
{
    return clock_us(CLOCK_REALTIME) / 1000;
}
int64_t sf_time_wall_us(void)
{
    return clock_us(CLOCK_REALTIME);
}
int64_t sf_time_mono_ms(void)
{
    return clock_us(CLOCK_MONOTONIC) / 1000;
}

/* Floor division, so that instants before 1970 still format correctly. */
static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* strftime of the UTC time `seconds` into out[cap]. */
static void utc_format(char *out, size_t cap, const char *fmt, int64_t seconds)
{
    time_t t = (time_t)seconds;
    struct tm tm;
    gmtime_r(&t, &tm);
    if (strftime(out, cap, fmt, &tm) == 0) out[0] = '\0';
}

void sf_time_rfc3339(char out[SF_TIME_RFC3339_LEN], int64_t wall_ms)
{
    utc_format(out, SF_TIME_RFC3339_LEN, "%Y-%m-%dT%H:%M:%SZ", floor_div(wall_ms, 1000));
}

void sf_time_compact(char out[SF_TIME_COMPACT_LEN], int64_t wall_ms)
{
    utc_format(out, SF_TIME_COMPACT_LEN, "%Y%m%dT%H%M%SZ", floor_div(wall_ms, 1000));
}

void sf_time_rfc3339_us(char out[SF_TIME_RFC3339_US_LEN], int64_t wall_us)
{
    int64_t s = floor_div(wall_us, 1000000);
    char stamp[SF_TIME_RFC3339_LEN];
    utc_format(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", s);
    snprintf(out, SF_TIME_RFC3339_US_LEN, "%.19s.%06dZ", stamp, (int)(wall_us - s * 1000000));
}

int64_t sf_time_parse_rfc3339_ms(const char *s)
{
    if (!s) return -1;
    struct tm tm = {0};
    const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest) return -1;
    int64_t ms = 0;
    if (*rest == '.') {
        int64_t scale = 100;
        for (rest++; isdigit((unsigned char)*rest); rest++, scale /= 10) ms += (*rest - '0') * scale;
    }
    int64_t offset = 0;
    if (*rest == '+' || *rest == '-') {
        int hh = 0, mm = 0;
        if (sscanf(rest + 1, "%2d:%2d", &hh, &mm) < 1) return -1;
        offset = (hh * 3600 + mm * 60) * (*rest == '+' ? 1 : -1);
    } else if (*rest != 'Z' && *rest != 0) {
        return -1;
    }
    return ((int64_t)timegm(&tm) - offset) * 1000 + ms;
}

void sf_time_span(char out[SF_TIME_SPAN_LEN], int64_t s)
{
    if (s < 0) s = 0;
    long long d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60;
    if (d) snprintf(out, SF_TIME_SPAN_LEN, "%lldd%lldh", d, h);
    else if (h) snprintf(out, SF_TIME_SPAN_LEN, "%lldh%02lldm", h, m);
    else snprintf(out, SF_TIME_SPAN_LEN, "%lldm", m);
}
