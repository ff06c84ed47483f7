/* Arena memory: one block sized up front, bump allocation, one free. Keeps allocation out of
 * the per-token hot path. */
#include "seer/core.h"

#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 64

void *seer_alloc_aligned(size_t n, size_t elem) {
    size_t bytes;
    if (seer_mul_size(n, elem, &bytes)) return NULL;
    if (bytes == 0) bytes = ARENA_ALIGN;
    size_t rounded;
    if (seer_add_size(bytes, ARENA_ALIGN - 1, &rounded)) return NULL;
    rounded &= ~(size_t)(ARENA_ALIGN - 1);
    return aligned_alloc(ARENA_ALIGN, rounded);
}

seer_status seer_arena_init(seer_arena *a, size_t size, seer_err *err) {
    memset(a, 0, sizeof(*a));
    a->base = seer_alloc_aligned(size, 1);
    if (!a->base) return seer_err_set(err, SEER_ERR_NOMEM, "arena: cannot allocate %zu bytes", size);
    a->size = size;
    return SEER_OK;
}

void seer_arena_free(seer_arena *a) {
    free(a->base);
    memset(a, 0, sizeof(*a));
}

void *seer_arena_alloc(seer_arena *a, size_t size) {
    size_t start = (a->used + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    size_t end;
    if (start < a->used || seer_add_size(start, size, &end) || end > a->size) return NULL;
    a->used = end;
    return a->base + start;
}

void *seer_arena_calloc(seer_arena *a, size_t n, size_t elem) {
    size_t bytes;
    if (seer_mul_size(n, elem, &bytes)) return NULL;
    void *p = seer_arena_alloc(a, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}
