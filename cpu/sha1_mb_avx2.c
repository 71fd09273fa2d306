/*
 * sha1_mb_avx2.c - multi-buffer SHA-1, 8 messages at once in ymm registers.
 *
 * One message per 32-bit lane: every vector instruction below runs the same
 * step of SHA-1 (FIPS 180-4 6.1.2) for 8 independent messages. hash_mb.c
 * feeds the lanes (padding, refill, idle lanes); this file only runs whole
 * blocks.
 *
 * Per block, for all 8 lanes:
 *   - load the 8 blocks and transpose them, 8x8 words per half block, so
 *     that vector j holds message word j of every lane: 32-bit unpacks,
 *     64-bit unpacks, then vperm2i128 across the 128-bit halves (24
 *     shuffles per half; a gather would cost 8 element loads per vector);
 *   - byte-swap with vpshufb (SHA words are big-endian);
 *   - 80 rounds with a 16-word rolling message schedule.
 * AVX2 has neither rotates nor three-input logic, so a rotate is two shifts
 * and an OR, and the round functions take 2-4 ops: about 20 ops per round
 * against 10 with AVX-512, on half as many lanes.
 *
 * Only 16 ymm registers exist: the state (5), its copy for the final add and
 * the temporaries fill them, so the compiler keeps most schedule words on
 * the stack, where they enter the adds and XORs as memory operands (loads
 * are cheap next to the vector ALU work, which bounds this kernel: ~1470
 * ops per 8-lane block at 4 per cycle on Zen 4, >= 370 cycles per 512
 * bytes, ~410 measured). The state stays in registers across all nblocks
 * blocks.
 */
#include <immintrin.h>

#include "hash_mb.h"

/* When the rest of a batch goes to SHA-NI (hash_mb.h): about 100 x
 * sha1-shani-x4's rate over this kernel's (4.1 / 4.05 GB/s), kept under
 * 100 so balanced batches stay. Swept as for sha1_mbgt_avx512.c (median of
 * 7): FastCDC chunks 3.32 GB/s never, 3.58-3.74 from 30 on; 8 KiB messages
 * 3.96-4.09 throughout. */
#define DRAIN_PCT 90
#define LANES 8

#define K0 0x5a827999
#define K1 0x6ed9eba1
#define K2 0x8f1bbcdc
#define K3 0xca62c1d6

static inline __m256i rotl(__m256i x, int n)
{
    return _mm256_or_si256(_mm256_slli_epi32(x, n), _mm256_srli_epi32(x, 32 - n));
}

/* Round functions (FIPS 180-4 4.1.1) in the fewest AVX2 ops. */
static inline __m256i f_ch(__m256i b, __m256i c, __m256i d)
{
    return _mm256_xor_si256(d, _mm256_and_si256(b, _mm256_xor_si256(c, d)));
}

static inline __m256i f_parity(__m256i b, __m256i c, __m256i d)
{
    return _mm256_xor_si256(_mm256_xor_si256(b, c), d);
}

static inline __m256i f_maj(__m256i b, __m256i c, __m256i d)
{
    return _mm256_or_si256(_mm256_and_si256(b, c), _mm256_and_si256(d, _mm256_or_si256(b, c)));
}

/* Message-schedule word t lives in w[t & 15] (a rolling window). */
#define W(t) w[(t)&15]

/* W[t] = rotl1(W[t-3] ^ W[t-8] ^ W[t-14] ^ W[t-16]), written over W[t-16].
 * The rotate's left shift is x + x: adds run on all four vector pipes,
 * shifts on two. */
#define SCHED(t)                                                                                   \
    do {                                                                                           \
        __m256i x_ = _mm256_xor_si256(_mm256_xor_si256(W(t), W((t)-14)),                           \
                                      _mm256_xor_si256(W((t)-8), W((t)-3)));                       \
        W(t) = _mm256_or_si256(_mm256_add_epi32(x_, x_), _mm256_srli_epi32(x_, 31));               \
    } while (0)

/* GCC reassociates the adds of a round freely and hangs some after rotl5(a),
 * on the round-to-round chain; an empty asm makes a partial sum opaque, so
 * the adds run in the order written: W + K, + e, + f, + rotl5(a). Measured
 * on Zen 4: 3.97 -> 4.49 GB/s. */
#define OPAQUE(x) __asm__("" : "+x"(x))

/* One round with the variables renamed instead of moved (the caller rotates
 * the argument order): T = rotl5(a) + f(b, c, d) + e + K + W lands in e, and
 * b becomes rotl30(b). Everything but the last add is off the chain from
 * this round's a, so the chain is shift, OR, add: 3 cycles. */
#define ROUND(a, b, c, d, e, f, k, t)                                                              \
    do {                                                                                           \
        __m256i r5_ = rotl(a, 5);                                                                  \
        __m256i b30_ = rotl(b, 30);                                                                \
        __m256i wk_ = _mm256_add_epi32(W(t), _mm256_set1_epi32(k));                                \
        OPAQUE(wk_);                                                                               \
        e = _mm256_add_epi32(e, wk_);                                                              \
        OPAQUE(e);                                                                                 \
        e = _mm256_add_epi32(e, f(b, c, d));                                                       \
        OPAQUE(e);                                                                                 \
        e = _mm256_add_epi32(e, r5_);                                                              \
        b = b30_;                                                                                  \
    } while (0)

/* Round t also computes schedule word t + SCHED_AHEAD (words 16..79): the
 * schedule is independent of the round chain, and computing it early gives
 * the out-of-order core work to overlap with the chain. Word t + 13
 * overwrites word t - 3, whose last readers (round t - 3, word t) are done. */
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
 * Load block `off` of the 8 lanes and transpose: on return w[j] holds
 * big-endian word j of every lane. Each half block is an 8x8 transpose of
 * rows r[l] (words 8h..8h+7 of lane l): 32-bit unpacks pair rows, 64-bit
 * unpacks make quads, so u[4g + c] holds word 8h + c (low 128 bits) and
 * 8h + 4 + c (high) of lanes 4g..4g+3; vperm2i128 joins the two quads.
 */
static inline __attribute__((always_inline)) void
load_transpose(__m256i w[16], const uint8_t *const *ptr, size_t off)
{
    const __m256i bswap = _mm256_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12, 3,
                                           2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
    for (int h = 0; h < 2; h++) {
        __m256i r[8], t[8], u[8];
        for (int l = 0; l < 8; l++)
            r[l] = _mm256_loadu_si256((const __m256i *)(const void *)(ptr[l] + off + 32 * h));
        for (int i = 0; i < 4; i++) {
            t[2 * i] = _mm256_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm256_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
        }
        for (int g = 0; g < 2; g++) {
            u[4 * g] = _mm256_unpacklo_epi64(t[4 * g], t[4 * g + 2]);
            u[4 * g + 1] = _mm256_unpackhi_epi64(t[4 * g], t[4 * g + 2]);
            u[4 * g + 2] = _mm256_unpacklo_epi64(t[4 * g + 1], t[4 * g + 3]);
            u[4 * g + 3] = _mm256_unpackhi_epi64(t[4 * g + 1], t[4 * g + 3]);
        }
        for (int c = 0; c < 4; c++) {
            __m256i lo = _mm256_permute2x128_si256(u[c], u[4 + c], 0x20);
            __m256i hi = _mm256_permute2x128_si256(u[c], u[4 + c], 0x31);
            w[8 * h + c] = _mm256_shuffle_epi8(lo, bswap);
            w[8 * h + 4 + c] = _mm256_shuffle_epi8(hi, bswap);
        }
    }
}

static void sha1_blocks8(uint32_t *state, const uint8_t *const *ptr, size_t nblocks)
{
    __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(state + 0 * LANES));
    __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(state + 1 * LANES));
    __m256i c = _mm256_loadu_si256((const __m256i *)(const void *)(state + 2 * LANES));
    __m256i d = _mm256_loadu_si256((const __m256i *)(const void *)(state + 3 * LANES));
    __m256i e = _mm256_loadu_si256((const __m256i *)(const void *)(state + 4 * LANES));

    for (size_t blk = 0; blk < nblocks; blk++) {
        __m256i w[16];
        load_transpose(w, ptr, 64 * blk);
        __m256i a0 = a, b0 = b, c0 = c, d0 = d, e0 = e;

        R5(f_ch, K0, 0);
        R5(f_ch, K0, 5);
        R5(f_ch, K0, 10);
        R5(f_ch, K0, 15);
        R5(f_parity, K1, 20);
        R5(f_parity, K1, 25);
        R5(f_parity, K1, 30);
        R5(f_parity, K1, 35);
        R5(f_maj, K2, 40);
        R5(f_maj, K2, 45);
        R5(f_maj, K2, 50);
        R5(f_maj, K2, 55);
        R5(f_parity, K3, 60);
        R5(f_parity, K3, 65);
        R5(f_parity, K3, 70);
        R5(f_parity, K3, 75);

        a = _mm256_add_epi32(a, a0);
        b = _mm256_add_epi32(b, b0);
        c = _mm256_add_epi32(c, c0);
        d = _mm256_add_epi32(d, d0);
        e = _mm256_add_epi32(e, e0);
    }

    _mm256_storeu_si256((__m256i *)(void *)(state + 0 * LANES), a);
    _mm256_storeu_si256((__m256i *)(void *)(state + 1 * LANES), b);
    _mm256_storeu_si256((__m256i *)(void *)(state + 2 * LANES), c);
    _mm256_storeu_si256((__m256i *)(void *)(state + 3 * LANES), d);
    _mm256_storeu_si256((__m256i *)(void *)(state + 4 * LANES), e);
}

void ddx_sha1_mb_avx2_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out)
{
    static const ddx_mb_kernel k = {LANES, 5, ddx_sha1_iv, sha1_blocks8, DRAIN_PCT};
    ddx_mb_run(&k, msgs, n, out);
}
