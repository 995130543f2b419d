/* str.c — malloc'd string building (str.h). */
#include "str.h"

#include <stdio.h>
#include <stdlib.h>

char *sf_vfmt(const char *fmt, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) abort();
    return s;
}

char *sf_fmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = sf_vfmt(fmt, ap);
    va_end(ap);
    return s;
}
