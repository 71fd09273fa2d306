/*
 * sha1_mb_avx512.c - multi-buffer SHA-1, 16 messages at once in zmm registers.
 *
 * One message per 32-bit lane: every vector instruction below runs the same
 * step of SHA-1 (FIPS 180-4 6.1.2) for 16 independent messages. hash_mb.c
 * feeds the lanes (padding, refill, idle lanes); this file only runs whole
 * blocks.
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

#define LANES 16

/* Round functions as vpternlogd truth tables over (b, c, d) =
 * (0xf0, 0xcc, 0xaa): Ch = (b & c) | (~b & d), Parity = b ^ c ^ d,
 * Maj = (b & c) | (b & d) | (c & d). */
#define F_CH 0xca
#define F_PARITY 0x96
#define F_MAJ 0xe8

#define K0 0x5a827999
#define K1 0x6ed9eba1
#define K2 0x8f1bbcdc
#define K3 0xca62c1d6

/* Message-schedule word t lives in w[t & 15] (a rolling window). */
#define W(t) w[(t)&15]

/* W[t] = rotl1(W[t-3] ^ W[t-8] ^ W[t-14] ^ W[t-16]); written over W[t-16],
 * which is also the operand vpternlogd overwrites, so no copy is needed. */
#define SCHED(t)                                                                                   \
    W(t) = _mm512_rol_epi32(                                                                       \
        _mm512_xor_si512(_mm512_ternarylogic_epi32(W(t), W((t)-14), W((t)-8), 0x96), W((t)-3)), 1)

/* GCC reassociates the four adds of a round freely: it hung e, K and W
 * after rotl5(a), three adds behind the 2-cycle rotate on the round chain,
 * and f's add after the others. An empty asm makes a partial sum opaque, so
 * the adds run in the order written: W + K, + e (both early), + f, and only
 * + rotl5(a) on the chain. Measured on Zen 4: 6.1 -> 7.6 GB/s. */
#define OPAQUE(x) __asm__("" : "+v"(x))

/* One round with the variables renamed instead of moved: the caller rotates
 * the argument order. T = rotl5(a) + f(b, c, d) + e + K + W lands in e, and
 * b becomes rotl30(b). rotl30 comes first so that b is dead when vpternlogd
 * (which overwrites its first operand) computes f into b's register. */
#define ROUND(a, b, c, d, e, f, k, t)                                                              \
    do {                                                                                           \
        __m512i b30_ = _mm512_rol_epi32(b, 30);                                                    \
        __m512i wk_ = _mm512_add_epi32(W(t), _mm512_set1_epi32(k));                                \
        OPAQUE(wk_);                                                                               \
        e = _mm512_add_epi32(e, wk_);                                                              \
        OPAQUE(e);                                                                                 \
        e = _mm512_add_epi32(e, _mm512_ternarylogic_epi32(b, c, d, f));                            \
        OPAQUE(e);                                                                                 \
        e = _mm512_add_epi32(e, _mm512_rol_epi32(a, 5));                                           \
        b = b30_;                                                                                  \
    } while (0)

/* Round t also computes schedule word t + SCHED_AHEAD (from round 3 on, for
 * words 16..79). The schedule does not depend on the round chain; issuing it
 * 13 rounds early puts independent work in the scheduler window next to the
 * chain's (2-3% on Zen 4). 13 is the most the 16-word window allows: word
 * t + 13 overwrites word t - 3, used by round t - 3 and by word t, both done
 * by then. */
#define SCHED_AHEAD 13
#define RS(a, b, c, d, e, f, k, t)                                                                 \
    do {                                                                                           \
        if ((t) + SCHED_AHEAD >= 16 && (t) + SCHED_AHEAD < 80)                                     \
            SCHED((t) + SCHED_AHEAD);                                                              \
        ROUND(a, b, c, d, e, f, k, t);                                                             \
    } while (0)

/* Five rounds bring the names back to (a, b, c, d, e). */
#define R5(f, k, t)                                                                                \
    do {                                                                                           \
        RS(a, b, c, d, e, f, k, (t));                                                              \
        RS(e, a, b, c, d, f, k, (t) + 1);                                                          \
        RS(d, e, a, b, c, f, k, (t) + 2);                                                          \
        RS(c, d, e, a, b, f, k, (t) + 3);                                                          \
        RS(b, c, d, e, a, f, k, (t) + 4);                                                          \
    } while (0)

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

static void sha1_blocks16(uint32_t *state, const uint8_t *const *ptr, size_t nblocks)
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

        R5(F_CH, K0, 0);
        R5(F_CH, K0, 5);
        R5(F_CH, K0, 10);
        R5(F_CH, K0, 15);

        R5(F_PARITY, K1, 20);
        R5(F_PARITY, K1, 25);
        R5(F_PARITY, K1, 30);
        R5(F_PARITY, K1, 35);

        R5(F_MAJ, K2, 40);
        R5(F_MAJ, K2, 45);
        R5(F_MAJ, K2, 50);
        R5(F_MAJ, K2, 55);

        R5(F_PARITY, K3, 60);
        R5(F_PARITY, K3, 65);
        R5(F_PARITY, K3, 70);
        R5(F_PARITY, K3, 75);

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
    static const ddx_mb_kernel k = {LANES, 5, ddx_sha1_iv, sha1_blocks16};
    ddx_mb_run(&k, msgs, n, out);
}
