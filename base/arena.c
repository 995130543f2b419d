/* arena.c — a list of allocations freed together (arena.h). */
#include "base/arena.h"

#include <stdlib.h>
#include <string.h>

void *sf_arena_keep(sf_arena *a, void *p)
{
    if (!p) return NULL;
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 32;
        a->ptrs = realloc(a->ptrs, a->cap * sizeof *a->ptrs);
        if (!a->ptrs) abort();
    }
    a->ptrs[a->n++] = p;
    return p;
}

void *sf_arena_alloc(sf_arena *a, size_t size)
{
    void *p = calloc(1, size ? size : 1);
    if (!p) abort();
    return sf_arena_keep(a, p);
}

char *sf_arena_strdup(sf_arena *a, const char *s)
{
    return s ? strcpy(sf_arena_alloc(a, strlen(s) + 1), s) : NULL;
}

void sf_arena_free(sf_arena *a)
{
    for (size_t i = 0; i < a->n; i++) free(a->ptrs[i]);
    free(a->ptrs);
    a->ptrs = NULL;
    a->n = a->cap = 0;
}
