/*
 * chunk_list.h - the chunks an engine reports through its chunk callback,
 * gathered from its worker threads into one list, for tests that compare
 * them with a reference (test_pipeline.c, test_gpu_backend.c, test_store.c,
 * race_stress.c).
 */
#ifndef DDX_TEST_CHUNK_LIST_H
#define DDX_TEST_CHUNK_LIST_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "ddx.h"

typedef struct tu_chunks {
    pthread_mutex_t mu;
    ddx_chunk *v;
    size_t n, cap;
} tu_chunks;

/* A ddx_chunk_fn: append *c to the tu_chunks at ctx (its mutex initialised). */
static inline void tu_chunks_add(void *ctx, const ddx_chunk *c)
{
    tu_chunks *l = ctx;
    pthread_mutex_lock(&l->mu);
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1024;
        ddx_chunk *v = realloc(l->v, l->cap * sizeof *v);
        if (!v) {
            fprintf(stderr, "test: out of memory for %zu chunks\n", l->cap);
            abort();
        }
        l->v = v;
    }
    l->v[l->n++] = *c;
    pthread_mutex_unlock(&l->mu);
}

/* qsort order: by stream, then by offset. */
static inline int tu_chunks_by_position(const void *a, const void *b)
{
    const ddx_chunk *x = a, *y = b;
    if (x->stream != y->stream)
        return x->stream < y->stream ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

#endif
