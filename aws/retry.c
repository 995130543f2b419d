/* retry.c — which failed calls to try again, and how long to wait first.
 *
 * The AWS SDKs' "standard" retry mode: throttling error codes (whatever the
 * HTTP status: JSON services throttle with 400), transient codes, HTTP 500,
 * 502, 503 and 504, and transport failures (timeouts, resets, refused
 * connections).  The wait before attempt i+1 is full jitter over a capped
 * exponential: uniform in [0, min(cap, base * 2^i)].
 */
#include "aws/aws.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const throttling_codes[] = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    NULL,
};

static const char *const transient_codes[] = {
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "IDPCommunicationError",
    NULL,
};

static bool in(const char *const *list, const char *code)
{
    for (size_t i = 0; code && list[i]; i++)
        if (strcmp(list[i], code) == 0) return true;
    return false;
}

bool sf_aws_throttling_code(const char *code)
{
    return in(throttling_codes, code);
}

bool sf_aws_retryable(long status, const char *code, int curl_code)
{
    if (status == 0) {
        switch ((CURLcode)curl_code) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_GOT_NOTHING:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_PARTIAL_FILE:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM: return true;
        default: return false;
        }
    }
    if (in(throttling_codes, code) || in(transient_codes, code)) return true;
    return status == 500 || status == 502 || status == 503 || status == 504 || status == 429;
}

int64_t sf_aws_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms)
{
    int64_t ceiling = base_ms;
    for (int i = 0; i < attempt && ceiling < cap_ms; i++) ceiling *= 2;
    if (ceiling > cap_ms) ceiling = cap_ms;
    /* Jitter needs no cryptographic quality; a per-call seed keeps threads apart. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned seed = (unsigned)(ts.tv_nsec ^ (ts.tv_sec << 8) ^ (long)attempt);
    return ceiling > 0 ? (int64_t)(rand_r(&seed) % (ceiling + 1)) : 0;
}
