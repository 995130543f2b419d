/* dlib.c — dlopen by soname and resolve a table of functions (see dlib.h). */
#include "base/dlib.h"

#include <dlfcn.h>
#include <link.h>
#include <stdio.h>

int sf_dlib_load(const char *soname, const sf_dlib_sym *syms, size_t n, char *err, size_t errlen)
{
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        snprintf(err, errlen, "%s", why ? why : soname);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!dlsym(h, syms[i].name)) {
            snprintf(err, errlen, "%s has no %s", soname, syms[i].name);
            return -1; /* h stays loaded, unused: harmless, and never a half table */
        }
    }
    for (size_t i = 0; i < n; i++) *syms[i].slot = dlsym(h, syms[i].name);
    return 0;
}

int sf_dlib_path(const char *soname, char *path, size_t len)
{
    void *h = dlopen(soname, RTLD_NOW | RTLD_NOLOAD);
    struct link_map *map = NULL;
    if (!h) return -1;
    int rc = dlinfo(h, RTLD_DI_LINKMAP, &map) == 0 && map ? 0 : -1;
    if (rc == 0) snprintf(path, len, "%s", map->l_name);
    dlclose(h); /* drops only the reference RTLD_NOLOAD took */
    return rc;
}
