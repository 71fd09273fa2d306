/*
 * datagen_lowdedup.c - the lowdedup kind of datagen.h: the control with nothing to find.
 *
 * Design. Every generation is gen_bytes of uniformly random 4 KiB blocks. Generation 1 is
 * all fresh; in each later generation exactly share_permille of the blocks (rounded down)
 * are copies of earlier content, in extents of 16-511 blocks (64 KiB - 2 MiB, log-uniform,
 * the last one trimmed to the budget) placed at random block positions between fresh runs.
 * Each extent copies a random block range of a random earlier generation, so at 4 KiB
 * granularity the duplicates are exact and
 *     dedup ratio = N / (1 + (N - 1) * (1 - share))          (N generations)
 * e.g. 1.0183 for 10 generations at 2%. A content-defined chunker loses about one chunk at
 * each end of an extent, slightly less (datasets/README.md has measurements).
 *
 * Blocks are regenerated, not stored: a fresh block's bytes are a function of the key
 * (generation << 32 | block), and a copied block resolves, through the extent lists of the
 * generations it copies from, to the fresh block it is a copy of. Memory: the extent lists
 * (32 bytes per extent, a few per generation) and the returned buffer.
 */
#include "datagen_impl.h"

#include <stdlib.h>
#include <string.h>

#define BLOCK DDX_GEN_BLOCK
#define EXTENT_LOG2_MIN 4 /* 16 blocks */
#define EXTENT_LOG2_MAX 8 /* up to 511 blocks */

/* Blocks [start, start + len) of generation `gen` copy blocks [src, src + len) of
 * generation src_gen < gen. */
typedef struct low_extent {
    uint64_t start, len, src;
    uint32_t gen, src_gen;
} low_extent;

struct dgen_low {
    uint64_t s[4];    /* xoshiro256**: every layout decision is drawn here */
    uint64_t salt;    /* mixed into every fresh block's key */
    uint64_t nblocks; /* blocks per generation */
    unsigned share;   /* permille of blocks copied, generations 2..N */
    unsigned produced;
    low_extent *ext; /* every generation's extents, by generation then start (the cuts
                        are sorted, so they are laid out in order) */
    size_t next;     /* extents in use */
    size_t cap;      /* allocated */
    size_t *first;   /* first[g]: index in ext of generation g's first extent; first[g + 1]
                        ends it (first has produced + 1 entries in use) */
    size_t first_cap;
};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The key of the fresh block that block b of generation g is (a copy of). */
static uint64_t resolve(const dgen_low *l, uint32_t g, uint64_t b)
{
    for (;;) {
        size_t lo = l->first[g], hi = l->first[g + 1];
        /* The last extent of generation g starting at or before b. */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (l->ext[mid].start <= b)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == l->first[g] || b >= l->ext[lo - 1].start + l->ext[lo - 1].len)
            return (uint64_t)g << 32 | b;
        const low_extent *e = &l->ext[lo - 1];
        b = e->src + (b - e->start);
        g = e->src_gen;
    }
}

static void fill_block(const dgen_low *l, uint64_t key, uint8_t *dst)
{
    uint64_t s[4];
    dgen_seed(s, l->salt ^ key);
    dgen_fill_random(s, dst, BLOCK);
}

static int ext_push(dgen_low *l, low_extent e)
{
    if (l->next == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        low_extent *p = realloc(l->ext, cap * sizeof(*p));
        if (!p)
            return -1;
        l->ext = p;
        l->cap = cap;
    }
    l->ext[l->next++] = e;
    return 0;
}

/* Lay out generation g >= 1 (0-based): extents summing to the budget, then gaps between
 * them cut from the fresh blocks at sorted uniform points. */
static int layout(dgen_low *l, uint32_t g)
{
    uint64_t budget = l->nblocks * l->share / 1000, placed = 0;
    size_t first = l->next;
    while (placed < budget) {
        uint64_t len = dgen_log2(l->s, EXTENT_LOG2_MIN, EXTENT_LOG2_MAX);
        if (len > budget - placed)
            len = budget - placed;
        low_extent e = {.len = len, .gen = g};
        e.src_gen = (uint32_t)dgen_below(l->s, g);
        e.src = dgen_below(l->s, l->nblocks - len + 1);
        if (ext_push(l, e))
            return -1;
        placed += len;
    }
    size_t k = l->next - first;
    uint64_t fresh = l->nblocks - budget;
    uint64_t *cut = malloc((k ? k : 1) * sizeof(*cut));
    if (!cut)
        return -1;
    for (size_t i = 0; i < k; i++)
        cut[i] = dgen_below(l->s, fresh + 1);
    qsort(cut, k, sizeof(*cut), cmp_u64);
    /* Extent i starts after cut[i] fresh blocks and the extents before it. */
    uint64_t copied = 0;
    for (size_t i = 0; i < k; i++) {
        l->ext[first + i].start = cut[i] + copied;
        copied += l->ext[first + i].len;
    }
    free(cut);
    return 0;
}

int dgen_low_create(dgen_low **out, const ddx_gen_params *p)
{
    dgen_low *l = calloc(1, sizeof(*l));
    if (!l)
        return -1;
    dgen_seed(l->s, p->seed);
    l->salt = dgen_next(l->s);
    l->nblocks = p->gen_bytes / BLOCK;
    l->share = p->share_permille;
    *out = l;
    return 0;
}

int dgen_low_next(dgen_low *l, uint8_t **buf, size_t *len)
{
    uint32_t g = l->produced;
    if (l->first_cap < (size_t)g + 2) {
        size_t cap = l->first_cap ? l->first_cap * 2 : 16;
        size_t *p = realloc(l->first, cap * sizeof(*p));
        if (!p)
            return -1;
        l->first = p;
        l->first_cap = cap;
    }
    l->first[g] = l->next;
    if (g > 0 && layout(l, g))
        return -1;
    l->first[g + 1] = l->next;

    uint8_t *outp = malloc((size_t)l->nblocks * BLOCK);
    if (!outp)
        return -1;
    for (uint64_t b = 0; b < l->nblocks; b++)
        fill_block(l, resolve(l, g, b), outp + b * BLOCK);
    l->produced++;
    *buf = outp;
    *len = (size_t)l->nblocks * BLOCK;
    return 0;
}

void dgen_low_free(dgen_low *l)
{
    if (!l)
        return;
    free(l->ext);
    free(l->first);
    free(l);
}
