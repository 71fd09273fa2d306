/*
 * chunk_impl.h - chunkers (internal interface, also used by tests and benches).
 *
 * Every chunker is written as one pure function
 *
 *     size_t find(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t n, int eof);
 *
 * that looks at the bytes of one chunk starting at p (n of them are available;
 * eof says whether the stream ends after them) and returns the chunk length if
 * it is decided, or 0 if more bytes are needed. A decision may only use bytes
 * from the chunk start on, so "the same cut point implies the same following
 * cut points": that is what lets a stream be split into segments chunked in
 * parallel and stitched back together (engine/src/pipeline.c), and what makes
 * the streaming wrapper (ddx_chunker_*) give the same cut points whatever the
 * feed sizes. A find function never returns 0 when eof is set or n >= max.
 */
#ifndef DDX_CHUNK_IMPL_H
#define DDX_CHUNK_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "ddx.h"

#define DDX_RABIN_WINDOW 48

/* Everything a find function needs, precomputed once from the parameters. */
typedef struct ddx_chunk_cfg {
    ddx_chunker_kind kind;
    uint32_t min_size; /* no chunk is shorter, except the last of a stream */
    uint32_t avg_size; /* target size (fixed: the block size) */
    uint32_t max_size; /* no chunk is longer */
    int normalization; /* fastcdc: 0..3 */
    uint64_t seed;     /* fastcdc: xored into the gear table (0 = reference table) */
    /* fastcdc */
    uint64_t mask_s, mask_l, mask_s_ls, mask_l_ls;
    uint64_t gear[256], gear_ls[256];
    /* rabin / tttd: cut where fp % divisor == divisor - 1 */
    uint64_t divisor;           /* avg - min */
    uint64_t backup_divisor;    /* tttd: divisor / 2 */
    const uint64_t *rabin_push; /* [256]: shifted-out top byte -> reduction */
    const uint64_t *rabin_pop;  /* [256]: byte leaving the window -> its contribution */
    /* ram: the leading window whose maximum byte sets the cut threshold */
    uint32_t ram_window;
    size_t (*find)(const struct ddx_chunk_cfg *cfg, const uint8_t *p, size_t n, int eof);
    const char *impl; /* implementation name for reports */
} ddx_chunk_cfg;

/* Validate parameters and fill cfg. Returns 0 or DDX_EINVAL; on error, if
 * why is not NULL, *why names the violated rule ("min must be <= avg"). */
int ddx_chunk_cfg_init(ddx_chunk_cfg *cfg, ddx_chunker_kind kind, uint32_t min, uint32_t avg,
                       uint32_t max, int normalization, uint64_t seed, const char **why);

size_t ddx_fixed_find(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t n, int eof);
size_t ddx_rabin_find(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t n, int eof);
size_t ddx_tttd_find(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t n, int eof);
size_t ddx_fastcdc_find(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t n, int eof);

/* FastCDC kernels differ only in how they scan a region for the first cut
 * candidate: positions [from, to) (even, from >= min & ~1) of the chunk at p,
 * with mask_l if large else mask_s; *h is the state after position from - 1
 * (0 at the hashing start) and becomes the state after to - 1 if nothing is
 * found. Returns the candidate's position, or to. */
typedef size_t (*ddx_fastcdc_scan_fn)(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t from,
                                      size_t to, int large, uint64_t *h);
/* The reference's scan: two bytes per step (chunk_fastcdc.c). */
size_t ddx_fastcdc_ref_scan(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t from, size_t to,
                            int large, uint64_t *h);

/* The FastCDC 2020 rule around a scan (chunk_fastcdc.c explains it): written
 * once; each kernel's find is this with its own scan, inlined. */
static inline size_t ddx_fastcdc_find_with(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t n,
                                           int eof, ddx_fastcdc_scan_fn scan)
{
    size_t max = cfg->max_size;
    size_t rem = n < max ? n : max;
    int complete = eof || n >= max;
    if (rem <= cfg->min_size)
        return complete ? rem : 0;
    size_t i = cfg->min_size & ~(size_t)1;
    size_t end = rem & ~(size_t)1;
    size_t mid = cfg->avg_size & ~(size_t)1;
    if (mid > end)
        mid = end;
    uint64_t h = 0;
    size_t r = scan(cfg, p, i, mid, 0, &h);
    if (r < mid)
        return r;
    r = scan(cfg, p, mid, end, 1, &h);
    if (r < end)
        return r;
    return complete ? rem : 0;
}
size_t ddx_ram_find(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t n, int eof);
size_t ddx_ram_avx2_find(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t n, int eof);
size_t ddx_ram_avx512_find(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t n, int eof);

/* The Gear table of the FastCDC reference code (chunk_gear_table.c). */
extern const uint64_t ddx_fastcdc_gear[256];
/* The masks of FastCDC 2020 by log2(size) (chunk_gear_table.c). */
extern const uint64_t ddx_fastcdc_masks[26];

/* Rabin: the irreducible polynomial of degree 63 and the fingerprint of a
 * whole window computed the slow way (tests compare the rolling one to it). */
#define DDX_RABIN_POLY 0xbfe6b8a5bf378d83ull
uint64_t ddx_rabin_slow(const uint8_t *p, size_t n);
/* Push one byte into a fingerprint (fp * x^8 + b mod P), slow and obvious. */
uint64_t ddx_rabin_append_slow(uint64_t fp, uint8_t b);
/* The rolling tables (built once, thread-safe). */
void ddx_rabin_tables(const uint64_t **push, const uint64_t **pop);

/* ---- registry (dispatch.c) ----------------------------------------------- */
typedef size_t (*ddx_find_fn)(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t n, int eof);
typedef struct ddx_chunk_impl {
    const char *name; /* "fastcdc2020-scalar": what --impl chunk=NAME takes */
    ddx_chunker_kind kind;
    unsigned need; /* DDX_CPU_* bits */
    ddx_find_fn find;
} ddx_chunk_impl;

/* All compiled-in chunker implementations, fastest first within a kind. */
const ddx_chunk_impl *ddx_chunk_impls(size_t *n);
/* As ddx_hash_impl_select; on success also sets cfg->find and cfg->impl. */
int ddx_chunk_impl_select(ddx_chunk_cfg *cfg, const char *name, const ddx_chunk_impl **out);

/* ---- streaming wrapper -------------------------------------------------
 * Feed bytes in pieces of any size; get the absolute end offsets of chunks.
 * Keeps at most max_size bytes of the undecided chunk. */
typedef struct ddx_chunker {
    const ddx_chunk_cfg *cfg;
    uint64_t start; /* absolute offset of the undecided chunk's first byte */
    uint8_t *carry; /* bytes of the undecided chunk fed so far (<= max) */
    size_t carry_len;
} ddx_chunker;

int ddx_chunker_init(ddx_chunker *c, const ddx_chunk_cfg *cfg, uint64_t start);
void ddx_chunker_free(ddx_chunker *c);
/* Consume up to len bytes; writes cut offsets (chunk end, absolute) to cuts,
 * at most cap of them; returns how many. *used gets the bytes consumed, which
 * is less than len only if cap cuts were produced. */
size_t ddx_chunker_feed(ddx_chunker *c, const uint8_t *buf, size_t len, uint64_t *cuts, size_t cap,
                        size_t *used);
/* End of stream: returns the cuts still pending (at most max/min + 1 of them,
 * so cap >= 2 + max/min is always enough). */
size_t ddx_chunker_finish(ddx_chunker *c, uint64_t *cuts, size_t cap);

#endif
