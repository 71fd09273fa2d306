/*
 * chunk_fastcdc_avx2.c - FastCDC 2020, four segments in the lanes of a ymm
 * (AVX2 + BMI1/2; compiled with only those flags).
 *
 * Layout as in chunk_fastcdc_avx512.c, with four lanes: a block of seg + 48
 * steps covers 4 * seg + 48 positions; lane s reads from a + s * seg; lane 0
 * continues the reference's state and tests every step, lanes 1..3 start
 * from 0 and test from step 48 on (their warm-up, see chunk_fastcdc_fast.h).
 * The state is the per-byte form H = 2H + gear[b]; even positions test H
 * against mask_ls >> 1, which is the reference's test of 2H against mask_ls.
 *
 * Gear values: AVX2 has no table lookup wider than vpshufb's 16 bytes, so
 * each step fetches the four lanes' values with scalar loads and packs them
 * into a ymm (vmovq/vpinsrq/vinserti128). vpgatherqq does the same in one
 * instruction, but on Zen 4 it costs 6 to 15 cycles per four values: with it
 * this kernel walked 2K/8K/64K chunks at 2.0 GB/s, with the scalar loads at
 * 3.9 to 4.1 GB/s (the reference: 3.5 to 3.6, on data from DRAM).
 *
 * Earliest cut: as in the AVX-512 kernel; a hit in lane s stops the lanes at
 * or above s from counting, lanes below keep going, a hit in lane 0 is final.
 * With no hit, lane 3's state continues in lane 0 of the next block. Tails
 * go to the ILP kernel (ddx_fastcdc_ilp_scan). Each block asks for the next
 * block's lines into L2 as it starts (see ddx_fastcdc_prefetch_l2).
 *
 * What limits it: still two loads per byte (the byte and its gear value),
 * plus three shuffles per step to pack them; the hash and the tests are
 * cheap. On Zen 4 it is about 12% slower than the two-chain scalar kernel
 * (chunk_fastcdc_ilp.c), which a dispatcher should prefer there.
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
    __m256i zero = _mm256_setzero_si256();
    size_t a = from;
    __m256i h = _mm256_set_epi64x(0, 0, 0, (long long)*hp);

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
            __m256i z[8], any = zero;
            for (int t = 0; t < 8; t++) {
                __m256i gv = _mm256_set_epi64x((long long)g[q3[j + t]], (long long)g[q2[j + t]],
                                               (long long)g[q1[j + t]], (long long)g[q0[j + t]]);
                h = _mm256_add_epi64(_mm256_add_epi64(h, h), gv);
                z[t] = _mm256_cmpeq_epi64(_mm256_and_si256(h, vm[t & 1]), zero);
                any = _mm256_or_si256(any, z[t]);
            }
            if (_mm256_testz_si256(any, any))
                continue;
            unsigned act = j < WARM ? 1 : 0xf;
            for (int t = 0; t < 8; t++) {
                unsigned hit =
                    (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(z[t])) & act & below;
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
        h = _mm256_permute4x64_epi64(h, 0xff);
        h = _mm256_blend_epi32(zero, h, 0x03); /* lane 3's state into lane 0 */
        a += 4 * seg + WARM;
    }
    uint64_t h0 = (uint64_t)_mm256_extract_epi64(h, 0);
    size_t r = ddx_fastcdc_ilp_scan(cfg, p, a, to, large, &h0);
    if (r == to)
        *hp = h0;
    return r;
}

size_t ddx_fastcdc_avx2_find(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t n, int eof)
{
    if (!ddx_fastcdc_window_ok(cfg))
        return ddx_fastcdc_find(cfg, p, n, eof);
    return ddx_fastcdc_find_with(cfg, p, n, eof, scan);
}
