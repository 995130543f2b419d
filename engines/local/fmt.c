/* fmt.c — string helpers the local engine's files share.
 *
 * Like the runtime's constructors they abort on allocation failure, so
 * callers only handle the failures a user can cause.
 */
#include "local.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *sf_local_strdup(const char *s)
{
    char *d = strdup(s);
    if (!d) abort();
    return d;
}
