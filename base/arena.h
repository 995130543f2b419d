/* arena.h — allocations that live exactly as long as one RPC.
 *
 * Building a protobuf-c response means many small structs, strings and
 * arrays; they all go to the request's arena and are released together once
 * the response is packed.
 */
#ifndef SF_BASE_ARENA_H
#define SF_BASE_ARENA_H

#include <stddef.h>

typedef struct sf_arena {
    void **ptrs;
    size_t n, cap;
} sf_arena;

/* Zeroed memory owned by the arena.  Aborts on OOM; can't fail otherwise. */
void *sf_arena_alloc(sf_arena *a, size_t size);
char *sf_arena_strdup(sf_arena *a, const char *s);
/* Hand a malloc'd pointer to the arena; returns it.  NULL is ignored. */
void *sf_arena_keep(sf_arena *a, void *p);
void sf_arena_free(sf_arena *a);

#define SF_ARENA_NEW(a, type) ((type *)sf_arena_alloc((a), sizeof(type)))

#endif
