/* dlib.h — a shared library loaded on first use, with the table of
 * functions its caller needs.
 *
 * Why: a library the binary lists as NEEDED is mapped, with its whole
 * dependency tree, at every start, before main() — also when Terraform only
 * asks for the schema.  libcurl (with ~30 libraries behind it: GnuTLS via
 * librtmp, Kerberos, LDAP...) and libxml2 (ICU) were two thirds of the
 * provider's start-up, for calls most runs never make.  Their modules
 * (curl_api.c, xml_api.c) load them through here instead, by soname: the
 * same stable ABI the release promises, found the way the dynamic loader
 * would find a NEEDED library.  Nothing is ever unloaded.
 */
#ifndef SF_BASE_DLIB_H
#define SF_BASE_DLIB_H

#include <stddef.h>

/* One function to resolve: its name and where to store its address. */
typedef struct sf_dlib_sym {
    const char *name;
    void **slot;
} sf_dlib_sym;

/* Loads `soname` (RTLD_NOW | RTLD_LOCAL) and stores every symbol's address
 * in its slot.  0 on success; -1 when the library or any one symbol is
 * missing, with why in err (truncated to errlen, NUL-terminated): the
 * loader's message or the missing symbol.  Slots are written only when
 * every symbol resolved. */
int sf_dlib_load(const char *soname, const sf_dlib_sym *syms, size_t n, char *err, size_t errlen);

/* The file a loaded library came from, in path (truncated to len): what
 * `--libraries` shows.  0 on success; -1 when `soname` is not loaded. */
int sf_dlib_path(const char *soname, char *path, size_t len);

#endif
