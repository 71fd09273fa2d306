/*
 * chunk_fastcdc_fast.h - faster FastCDC 2020 kernels, cut-for-cut equal to
 * ddx_fastcdc_find (and so to pyfastcdc). Same contract as every find
 * function in chunk_impl.h; the prototypes move there when they are wired
 * into the dispatcher.
 *
 * Why they can be faster and still exact: every mask FastCDC 2020 uses has
 * no bit at or above 48, and the reference's state is multiplied by 4 per
 * pair of bytes, so the bits a test looks at depend only on the last 48
 * bytes. A hash chain started from 0 at least 48 bytes (24 pairs) before a
 * position, and not before min & ~1 where the reference starts, computes the
 * same test results there as the reference. The kernels split the scan into segments, warm
 * each later segment's chain up on the 48 bytes before it, run the chains
 * side by side, and take the earliest candidate. The first segment of a scan
 * continues the reference's own chain, so the first 47 positions after the
 * hashing start (where the reference has seen fewer than 48 bytes) are exact
 * by construction.
 *
 * All three kernels fall back to ddx_fastcdc_find for a cfg whose masks have
 * bits at or above 48 (ddx_chunk_cfg_init never builds one). The vector
 * kernels step one byte at a time with gear[] only, so they also rely on
 * what ddx_chunk_cfg_init guarantees: gear_ls[i] == gear[i] << 1.
 *
 * Measured on Zen 4 (walking 2K/8K/64K chunks, data from DRAM): reference
 * 3.5 to 3.6 GB/s, ILP 4.6, AVX2 3.9 to 4.1, AVX-512 4.1 to 4.2.
 */
#ifndef DDX_CHUNK_FASTCDC_FAST_H
#define DDX_CHUNK_FASTCDC_FAST_H

#include "chunk_impl.h"

/* Portable C: two interleaved hash chains (chunk_fastcdc_ilp.c). */
size_t ddx_fastcdc_ilp_find(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t n, int eof);
/* AVX2: four segments in the lanes of a ymm, gear values fetched with
 * scalar loads (chunk_fastcdc_avx2.c). Needs DDX_CPU_AVX2. */
size_t ddx_fastcdc_avx2_find(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t n, int eof);
/* AVX-512 F/BW/VL/DQ: as the AVX2 kernel, tested with mask registers
 * (chunk_fastcdc_avx512.c, which also records the wider designs tried).
 * Needs DDX_CPU_AVX512. */
size_t ddx_fastcdc_avx512_find(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t n, int eof);

/* ---- shared by the kernels ------------------------------------------------ */

/* The bits of a FastCDC state that tests can see: masks below this bit,
 * the _ls masks below this bit + 1. */
#define DDX_FASTCDC_WINDOW 48

/* 1 if the kernels above are exact for cfg (its masks are below
 * DDX_FASTCDC_WINDOW bits), else 0: then they call ddx_fastcdc_find. */
static inline int ddx_fastcdc_window_ok(const ddx_chunk_cfg *cfg)
{
    return ((cfg->mask_s | cfg->mask_l) >> DDX_FASTCDC_WINDOW) == 0 &&
           ((cfg->mask_s_ls | cfg->mask_l_ls) >> (DDX_FASTCDC_WINDOW + 1)) == 0;
}

/* Ask for the cache lines of [p, p + len) ahead of use: into L1
 * (ddx_fastcdc_prefetch) or into L2 (..._l2). The kernels read two or four
 * streams that jump ahead block by block, which the hardware prefetchers
 * follow poorly: without the hint they lose 10 to 25% to the reference's
 * single stream once the data comes from DRAM. The four-stream kernels do
 * better asking for L2 (a block's 33 lines at once would fill L1's miss
 * buffers ahead of their own loads). A hint only: it never faults, and no
 * result depends on the lines it touches past the caller's n. */
static inline void ddx_fastcdc_prefetch(const uint8_t *p, size_t len)
{
#if defined(__GNUC__) || defined(__clang__)
    for (size_t x = 0; x < len; x += 64)
        __builtin_prefetch(p + x, 0, 3);
#else
    (void)p;
    (void)len;
#endif
}

static inline void ddx_fastcdc_prefetch_l2(const uint8_t *p, size_t len)
{
#if defined(__GNUC__) || defined(__clang__)
    for (size_t x = 0; x < len; x += 64)
        __builtin_prefetch(p + x, 0, 2);
#else
    (void)p;
    (void)len;
#endif
}

/* The ILP scan (a ddx_fastcdc_scan_fn). Scan positions [from, to) of the chunk at p (from and to
 * even, from >= min & ~1) for the first cut candidate, testing with mask_l if large, else mask_s.
 * *h is the reference's state after position from - 1 (0 at the hashing start; only its low 48 bits
 * matter) and becomes the state after to - 1 if nothing is found. Returns the candidate's position,
 * or to. The vector kernels hand their tails to it. */
size_t ddx_fastcdc_ilp_scan(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t from, size_t to,
                            int large, uint64_t *h);

#endif
