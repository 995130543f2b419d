/* retry.c — which failed calls to try again, and how long to wait first.
 *
 * The AWS SDKs' "standard" retry mode: throttling error codes (whatever the
 * HTTP status: JSON services throttle with 400), transient codes, HTTP 500,
 * 502, 503 and 504, and transport failures (timeouts, resets, refused
 * connections: base/http.h).  The wait between attempts is base/http.h's
 * sf_backoff_ms.
 */
#include "aws/aws.h"

#include <string.h>

#include "base/http.h"

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
    if (status == 0) return sf_http_transient(curl_code);
    if (in(throttling_codes, code) || in(transient_codes, code)) return true;
    return status == 500 || status == 502 || status == 503 || status == 504 || status == 429;
}
