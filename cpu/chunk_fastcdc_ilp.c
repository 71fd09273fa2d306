/*
 * chunk_fastcdc_ilp.c - FastCDC 2020 with two interleaved hash chains,
 * portable C (no intrinsics, no ISA flags).
 *
 * The reference loop (chunk_fastcdc.c) carries one state through a lea and
 * an add per pair of bytes, so it runs at about one byte per cycle however
 * wide the core is. Here the scan is cut into blocks of 2 * seg + 48
 * positions and two chains run side by side:
 *
 *   chain 0: continues the reference's state and tests positions
 *            [a, a + seg + 48);
 *   chain 1: starts from 0 at a + seg, hashes 48 bytes untested (after 24
 *            pairs its state agrees with the reference's in every bit a
 *            mask can see; see chunk_fastcdc_fast.h), then tests
 *            [a + seg + 48, a + 2 * seg + 48).
 *
 * Each step is the reference's own pair step (same tables, same masks, same
 * order of the two tests), so a candidate here is a candidate there. Chain
 * 0's positions come first: its hit is the answer. If chain 1 hits first
 * (in time), chain 0 finishes its segment alone and its hit, if any, still
 * wins. With no hit, chain 1's state is the reference's state at the next
 * block start, so the next chain 0 continues from it and never warms up.
 *
 * Cost over the reference: 48 warm-up bytes per block (2.3% at seg = 1024),
 * and when the cut falls in chain 0's segment, chain 1's steps past it (at
 * most seg + 48 bytes per chunk). A region too short for two SEG_MIN
 * segments goes through the reference's loop.
 *
 * Each block asks for the next block's cache lines as it starts (and a scan
 * for its first block): the two streams jump ahead a block at a time, and
 * without the hint the kernel loses to the reference's single stream once
 * the data comes from DRAM.
 *
 * What limits it: two loads per byte (the byte, its gear value) and one
 * test-and-branch per byte, 3.5 instructions per byte in all; with the
 * latency gone, the load ports and the dispatch width are the bound, about
 * 1.1 bytes per cycle on Zen 4: 4.6 GB/s walking 2K/8K/64K chunks over data
 * from DRAM (the reference: 3.5 to 3.6), 4.8 GB/s in cache (4.2).
 */
#include "chunk_fastcdc_fast.h"

#define WARM DDX_FASTCDC_WINDOW /* chain 1's untested lead-in: even, >= 47 */
#define SEG 1024                /* positions chain 1 tests per block */
#define SEG_MIN 128             /* shorter segments are not worth a warm-up */

/* One pair step of each chain at offset j + o of its segment. Chain 0's hit
 * is final; chain 1's needs chain 0 finished first (chain1_hit). */
#define PAIR0(o)                                                                                   \
    h0 = (h0 << 2) + gl[q0[j + (o)]];                                                              \
    if (!(h0 & m2))                                                                                \
        return a + j + (o);                                                                        \
    h0 += g[q0[j + (o) + 1]];                                                                      \
    if (!(h0 & m))                                                                                 \
        return a + j + (o) + 1;
#define PAIR1(o)                                                                                   \
    h1 = (h1 << 2) + gl[q1[j + (o)]];                                                              \
    if (!(h1 & m2)) {                                                                              \
        hit = j + (o);                                                                             \
        goto chain1_hit;                                                                           \
    }                                                                                              \
    h1 += g[q1[j + (o) + 1]];                                                                      \
    if (!(h1 & m)) {                                                                               \
        hit = j + (o) + 1;                                                                         \
        goto chain1_hit;                                                                           \
    }
#define WARM1(o)                                                                                   \
    h1 = (h1 << 2) + gl[q1[j + (o)]];                                                              \
    h1 += g[q1[j + (o) + 1]];

size_t ddx_fastcdc_ilp_scan(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t from, size_t to,
                            int large, uint64_t *hp)
{
    const uint64_t *g = cfg->gear, *gl = cfg->gear_ls;
    uint64_t m = large ? cfg->mask_l : cfg->mask_s;
    uint64_t m2 = large ? cfg->mask_l_ls : cfg->mask_s_ls;
    uint64_t h0 = *hp;
    size_t a = from;

    ddx_fastcdc_prefetch(p + a, to - a < 2 * SEG + WARM ? to - a : 2 * SEG + WARM);
    while (to - a >= 2 * SEG_MIN + WARM) {
        size_t seg = (to - a - WARM) / 2;
        if (seg > SEG)
            seg = SEG;
        seg &= ~(size_t)7; /* the loops step 8 bytes */
        const uint8_t *q0 = p + a, *q1 = q0 + seg;
        uint64_t h1 = 0;
        size_t j, hit;
        ddx_fastcdc_prefetch(q0 + 2 * seg + WARM, 2 * SEG + WARM); /* the next block */
        for (j = 0; j < WARM; j += 8) {
            PAIR0(0) WARM1(0) PAIR0(2) WARM1(2) PAIR0(4) WARM1(4) PAIR0(6) WARM1(6)
        }
        for (; j < seg + WARM; j += 8) {
            PAIR0(0) PAIR1(0) PAIR0(2) PAIR1(2) PAIR0(4) PAIR1(4) PAIR0(6) PAIR1(6)
        }
        h0 = h1;
        a += 2 * seg + WARM;
        continue;
    chain1_hit:
        /* chain 0 has passed the pair at (hit & ~1) without a candidate */
        size_t r =
            ddx_fastcdc_ref_scan(cfg, p, a + (hit & ~(size_t)1) + 2, a + seg + WARM, large, &h0);
        return r < a + seg + WARM ? r : a + seg + hit;
    }
    size_t r = ddx_fastcdc_ref_scan(cfg, p, a, to, large, &h0);
    if (r == to)
        *hp = h0;
    return r;
}

size_t ddx_fastcdc_ilp_find(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t n, int eof)
{
    if (!ddx_fastcdc_window_ok(cfg))
        return ddx_fastcdc_find(cfg, p, n, eof);
    return ddx_fastcdc_find_with(cfg, p, n, eof, ddx_fastcdc_ilp_scan);
}
