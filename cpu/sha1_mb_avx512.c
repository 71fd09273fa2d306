/*
 * sha1_mb_avx512.c - multi-buffer SHA-1, 16 messages at once in zmm registers.
 *
 * One message per 32-bit lane: every vector instruction below runs the same
 * step of SHA-1 (FIPS 180-4 6.1.2) for 16 independent messages. hash_mb.c
 * feeds the lanes (padding, refill, idle lanes); this file only runs whole
 * blocks. The rounds are in sha1_mb_avx512.h, shared with sha1_mbgt_avx512.c
 * (the default now: same rounds, transpose on the integer side), which also
 * hands this kernel its runs of 1 or 2 blocks.
 *
 * Per block, for all 16 lanes:
 *   - load 16 rows of 64 bytes (one per lane) and transpose them so that
 *     vector j holds message word j of every lane: 4 stages of 16 2-input
 *     shuffles (32-bit unpack, 64-bit unpack, two 128-bit shuffles), the
 *     least a 16x16 transpose takes; a gather would cost 16 element loads
 *     per vector;
 *   - byte-swap with vpshufb (SHA words are big-endian);
 *   - 80 rounds. AVX-512 makes a round cheap: each round function is one
 *     vpternlogd, each rotate one vprold, so a round is 7 ops (+3 for the
 *     message schedule from round 16 on). The schedule rolls through 16
 *     registers: W[t] overwrites W[t-16], its last reader.
 * The five state vectors stay in registers for all nblocks blocks; memory is
 * touched only for the message bytes.
 *
 * Throughput, not latency, is the limit. A block is ~840 vector ops for 16
 * lanes (757 in the rounds, 80 in the transpose); the round-to-round chain
 * is only rotl5 and one add (3 cycles, 240 per block). Zen 4 splits a zmm op
 * into two 256-bit halves and so retires at most 2 zmm ops per cycle (the
 * rotates and shuffles on 2 of its 4 pipes): >= 420 cycles per KiB, ~480
 * measured. The 16 lanes as two ymm halves (AVX-512VL) do the same work in
 * twice the instructions and measured 3% slower.
 */
#include <immintrin.h>

#include "hash_mb.h"
#include "sha1_mb_avx512.h"

/* When the rest of a batch goes to SHA-NI (hash_mb.h): about 100 x
 * sha1-shani-x4's rate over this kernel's (4.1 / 5.4 GB/s). Swept as for
 * sha1_mbgt_avx512.c (median of 7): FastCDC chunks 4.42 GB/s never, 4.9-5.3
 * from 30 on; 8 KiB messages 5.06-5.31 up to 90, 4.6 from 110. */
#define DRAIN_PCT 75
#define LANES 16

/*
 * Load block `off` of the 16 lanes and transpose: on return w[j] holds
 * big-endian word j of every lane. Rows r[l] are lane l's 16 words.
 */
static inline __attribute__((always_inline)) void
load_transpose(__m512i w[16], const uint8_t *const *ptr, size_t off)
{
    __m512i r[16], t[16], u[16];
    for (int l = 0; l < 16; l++)
        r[l] = _mm512_loadu_si512((const void *)(ptr[l] + off));
    /* Pairs of rows: in each 128-bit chunk q, t[2i] = words 4q, 4q+1 of rows
     * 2i, 2i+1 interleaved, t[2i+1] the same for words 4q+2, 4q+3. */
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    /* Quads of rows: u[4g + c], chunk q = word 4q + c of rows 4g..4g+3. */
    for (int g = 0; g < 4; g++) {
        u[4 * g] = _mm512_unpacklo_epi64(t[4 * g], t[4 * g + 2]);
        u[4 * g + 1] = _mm512_unpackhi_epi64(t[4 * g], t[4 * g + 2]);
        u[4 * g + 2] = _mm512_unpacklo_epi64(t[4 * g + 1], t[4 * g + 3]);
        u[4 * g + 3] = _mm512_unpackhi_epi64(t[4 * g + 1], t[4 * g + 3]);
    }
    /* 4x4 transpose of 128-bit chunks across the quads: word 4q + c is
     * chunk q of u[c], u[4 + c], u[8 + c], u[12 + c]. */
    const __m512i bswap = _mm512_set4_epi32(0x0c0d0e0f, 0x08090a0b, 0x04050607, 0x00010203);
    for (int c = 0; c < 4; c++) {
        __m512i x0 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x44);
        __m512i x1 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xee);
        __m512i y0 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x44);
        __m512i y1 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xee);
        w[c] = _mm512_shuffle_epi8(_mm512_shuffle_i32x4(x0, y0, 0x88), bswap);
        w[4 + c] = _mm512_shuffle_epi8(_mm512_shuffle_i32x4(x0, y0, 0xdd), bswap);
        w[8 + c] = _mm512_shuffle_epi8(_mm512_shuffle_i32x4(x1, y1, 0x88), bswap);
        w[12 + c] = _mm512_shuffle_epi8(_mm512_shuffle_i32x4(x1, y1, 0xdd), bswap);
    }
}

void ddx_sha1_mb_avx512_blocks16(uint32_t *state, const uint8_t *const *ptr, size_t nblocks)
{
    __m512i a = _mm512_loadu_si512((const void *)(state + 0 * LANES));
    __m512i b = _mm512_loadu_si512((const void *)(state + 1 * LANES));
    __m512i c = _mm512_loadu_si512((const void *)(state + 2 * LANES));
    __m512i d = _mm512_loadu_si512((const void *)(state + 3 * LANES));
    __m512i e = _mm512_loadu_si512((const void *)(state + 4 * LANES));

    for (size_t blk = 0; blk < nblocks; blk++) {
        __m512i w[16];
        load_transpose(w, ptr, 64 * blk);
        __m512i a0 = a, b0 = b, c0 = c, d0 = d, e0 = e;

        ROUNDS80(RS);

        a = _mm512_add_epi32(a, a0);
        b = _mm512_add_epi32(b, b0);
        c = _mm512_add_epi32(c, c0);
        d = _mm512_add_epi32(d, d0);
        e = _mm512_add_epi32(e, e0);
    }

    _mm512_storeu_si512((void *)(state + 0 * LANES), a);
    _mm512_storeu_si512((void *)(state + 1 * LANES), b);
    _mm512_storeu_si512((void *)(state + 2 * LANES), c);
    _mm512_storeu_si512((void *)(state + 3 * LANES), d);
    _mm512_storeu_si512((void *)(state + 4 * LANES), e);
}

void ddx_sha1_mb_avx512_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out)
{
    static const ddx_mb_kernel k = {LANES, 5, ddx_sha1_iv, ddx_sha1_mb_avx512_blocks16, DRAIN_PCT};
    ddx_mb_run(&k, msgs, n, out);
}
