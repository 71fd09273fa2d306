/*
 * chunk_fastcdc_avx512.c - FastCDC 2020, four segments in the lanes of a
 * ymm, tested with AVX-512VL mask compares (AVX-512 F/BW/VL/DQ; compiled
 * with only those flags).
 *
 * Layout as in chunk_fastcdc_avx2.c: a block of seg + 48 steps covers
 * 4 * seg + 48 positions; lane s reads from a + s * seg; lane 0 continues the
 * reference's state and tests every step, lanes 1..3 start from 0 and test
 * from step 48 on (their warm-up, see chunk_fastcdc_fast.h). The state is the
 * per-byte form H = 2H + gear[b]; even positions test H against
 * mask_ls >> 1, which is the reference's test of 2H against mask_ls.
 * What AVX-512 adds over the AVX2 kernel: one vptestnmq per step gives the
 * hit lanes straight into a mask register (AVX2 needs and, compare, or and
 * a movemask), and the lanes' start state is set and moved with masked ops.
 *
 * Why four lanes of a ymm and scalar loads for the gear values, measured on
 * Zen 4, walking 2K/8K/64K chunks over 4 MiB of random data in cache, where
 * the reference runs at 4.2 GB/s:
 *   - this kernel: 4.6 GB/s (the AVX2 one 4.5, the two-chain ILP one 4.8);
 *   - eight lanes of a zmm, same scalar loads: 3.3 GB/s (a zmm built from
 *     eight loads costs more shuffles per step, and 512-bit ops are split);
 *   - eight lanes as two ymm: 3.5 GB/s (lockstep work past the cut);
 *   - no memory lookups at all: the gear table's low 48 bits as three 16-bit
 *     planes, 64 entries per vpermi2w, four merge-masked lookups per plane,
 *     then unpacks to rebuild one qword per lane and step: 2.7 GB/s. The
 *     lookups and unpacks alone take about 52 cycles per 64 positions, on
 *     the shuffle pipes, before any hashing.
 * Without VBMI (vpermb) there is no cheaper in-register lookup of a 256-entry
 * table, and vpgatherqq is slower than the loads it replaces. On data from
 * DRAM this kernel runs at 4.1 to 4.2 GB/s, the ILP kernel at 4.6, the
 * reference at 3.5 to 3.6: on Zen 4 a dispatcher should prefer the ILP
 * kernel.
 *
 * Earliest cut: a hit in lane s makes s the best lane; lanes at or above it
 * stop counting, lanes below keep going (their positions come first); a hit
 * in lane 0 is final at once. At the block end the best lane's hit is the
 * answer. With no hit, lane 3's state continues in lane 0 of the next block.
 * Regions too short for a block, and each region's tail, go to the ILP
 * kernel (ddx_fastcdc_ilp_scan). Each block asks for the next block's lines
 * into L2 as it starts (see ddx_fastcdc_prefetch_l2).
 *
 * What limits it: two loads per byte (the byte, then its gear value) plus
 * the packing of four values into a ymm, against three load ports; the hash
 * and the tests are cheap.
 */
#include <immintrin.h>

#include "chunk_fastcdc_fast.h"

#define WARM DDX_FASTCDC_WINDOW
#define SEG 512     /* positions each of lanes 1..3 tests per block */
#define SEG_MIN 128 /* shorter regions go to the ILP kernel */

static size_t scan(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t from, size_t to, int large,
                   uint64_t *hp)
{
    const uint64_t *g = cfg->gear;
    uint64_t mo = large ? cfg->mask_l : cfg->mask_s;
    uint64_t me = (large ? cfg->mask_l_ls : cfg->mask_s_ls) >> 1;
    __m256i vm[2] = {_mm256_set1_epi64x((long long)me), _mm256_set1_epi64x((long long)mo)};
    __m256i lane3 = _mm256_set1_epi64x(3);
    size_t a = from;
    __m256i h = _mm256_maskz_set1_epi64(1, (long long)*hp);

    ddx_fastcdc_prefetch_l2(p + a, to - a < 4 * SEG + WARM ? to - a : 4 * SEG + WARM);
    while (to - a >= 4 * SEG_MIN + WARM) {
        size_t seg = (to - a - WARM) / 4;
        if (seg > SEG)
            seg = SEG;
        seg &= ~(size_t)7;
        size_t steps = seg + WARM;
        const uint8_t *q0 = p + a, *q1 = q0 + seg, *q2 = q1 + seg, *q3 = q2 + seg;
        ddx_fastcdc_prefetch_l2(q0 + 4 * seg + WARM, 4 * SEG + WARM); /* the next block */
        unsigned below = 0xf; /* lanes that can still give an earlier cut */
        size_t best = 0;
        for (size_t j = 0; j < steps; j += 8) {
            __mmask8 act = (__mmask8)(j < WARM ? 1 : 0xf);
            __mmask8 k[8];
            for (int t = 0; t < 8; t++) {
                __m256i gv = _mm256_set_epi64x((long long)g[q3[j + t]], (long long)g[q2[j + t]],
                                               (long long)g[q1[j + t]], (long long)g[q0[j + t]]);
                h = _mm256_add_epi64(_mm256_add_epi64(h, h), gv);
                k[t] = _mm256_mask_testn_epi64_mask(act, h, vm[t & 1]);
            }
            if (!(k[0] | k[1] | k[2] | k[3] | k[4] | k[5] | k[6] | k[7]))
                continue;
            for (int t = 0; t < 8; t++) {
                unsigned hit = k[t] & below;
                if (!hit)
                    continue;
                unsigned s = (unsigned)__builtin_ctz(hit);
                best = a + s * seg + j + (size_t)t;
                if (s == 0)
                    return best;
                below = (1u << s) - 1;
            }
        }
        if (below != 0xf)
            return best;
        h = _mm256_maskz_permutexvar_epi64(1, lane3, h); /* lane 3's state into lane 0 */
        a += 4 * seg + WARM;
    }
    uint64_t h0 = (uint64_t)_mm_cvtsi128_si64(_mm256_castsi256_si128(h));
    size_t r = ddx_fastcdc_ilp_scan(cfg, p, a, to, large, &h0);
    if (r == to)
        *hp = h0;
    return r;
}

size_t ddx_fastcdc_avx512_find(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t n, int eof)
{
    if (!ddx_fastcdc_window_ok(cfg))
        return ddx_fastcdc_find(cfg, p, n, eof);
    return ddx_fastcdc_find_with(cfg, p, n, eof, scan);
}
