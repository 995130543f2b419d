/* testpoint.c — see testpoint.h. */
#include "base/testpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/files.h"
#include "base/str.h"

#define PAUSE_MAX_MS (10 * 60 * 1000)

void sf_testpoint(sf_ctx *ctx, const char *name)
{
    const char *want = getenv("SPARKFLOW_TEST_PAUSE"), *file = getenv("SPARKFLOW_TEST_PAUSE_FILE");
    if (!want || !file || strcmp(want, name) != 0) return;
    char *pid = sf_fmt("%d\n", (int)getpid());
    sf_log(ctx, SF_LOG_WARN, "test point %s: pausing (pid %d) for the test", name, (int)getpid());
    if (sf_file_write_atomic(file, pid, strlen(pid), 0644) == 0) sf_ctx_sleep_ms(ctx, PAUSE_MAX_MS);
    free(pid);
}
