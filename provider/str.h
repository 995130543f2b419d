/* str.h — malloc'd string building for every part of the provider.  Like
 * the value constructors these abort on allocation failure, so callers
 * handle only the failures a user can cause. */
#ifndef SF_STR_H
#define SF_STR_H

#include <stdarg.h>

/* printf into a new string (malloc'd). */
char *sf_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *sf_vfmt(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

#endif
