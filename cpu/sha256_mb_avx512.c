/*
 * sha256_mb_avx512.c - multi-buffer SHA-256, 16 messages at a time in zmm
 * registers (one message per 32-bit lane); hash_mb.c feeds the lanes.
 *
 * Why it is shaped this way:
 *   - AVX-512 has a real rotate (vprord) and a three-input logic op
 *     (vpternlogd): Sigma0/Sigma1 cost three rotates and one ternlog, Ch and
 *     Maj one ternlog each, where AVX2 needs two shifts and an OR per rotate
 *     and two or three ops per Ch/Maj. That op count is the whole game: per
 *     block and lane group the kernel is throughput-bound (~1700 zmm ops per
 *     16 blocks), not latency-bound, because 16 independent messages fill the
 *     machine. On Zen 4 every 512-bit op occupies a 256-bit pipe for two
 *     cycles and rotates/shuffles issue to only two of the four vector pipes,
 *     so shuffles are taken out of the rotate pipes where possible.
 *   - The 16x16 word transpose of the input blocks uses broadcast loads:
 *     a zmm is built from four 128-bit pieces of four lanes by one load and
 *     three merge-masked vbroadcasti32x4 loads (load port + a blend, no
 *     shuffle), leaving only a 4x4 transpose inside each 128-bit lane (two
 *     unpack stages) - 32 shuffles per block instead of 64.
 *   - The state stays in registers for the whole nblocks run; the message
 *     schedule is computed 16 words ahead in a rolling window of 16 registers
 *     (32 zmm registers hold the state, the window and the temporaries), so
 *     the schedule interleaves with the rounds and nothing spills.
 *   - The next blocks of every lane are prefetched a few blocks ahead: the
 *     16 input streams are too many for the hardware prefetcher to follow
 *     reliably.
 */
#include <immintrin.h>
#include <stdint.h>

#include "hash_impl.h"
#include "hash_mb.h"

#define LANES 16
/* Blocks ahead to prefetch: far enough to cover DRAM latency at ~300 cycles
 * per block, near enough to stay in L1. */
#define PREFETCH_AHEAD 4

/* FIPS 180-4 4.2.2 (the reference's table is private to sha_ref.c). */
static const uint32_t k256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* vpternlogd truth tables (bit 4a+2b+c of the immediate is f(a, b, c)). */
#define TL_XOR3 0x96 /* a ^ b ^ c */
#define TL_CH 0xca   /* a ? b : c */
#define TL_MAJ 0xe8  /* at least two of a, b, c */

#define ADD(x, y) _mm512_add_epi32(x, y)
#define XOR3(x, y, z) _mm512_ternarylogic_epi32(x, y, z, TL_XOR3)
#define BSIG0(x) XOR3(_mm512_ror_epi32(x, 2), _mm512_ror_epi32(x, 13), _mm512_ror_epi32(x, 22))
#define BSIG1(x) XOR3(_mm512_ror_epi32(x, 6), _mm512_ror_epi32(x, 11), _mm512_ror_epi32(x, 25))
#define SSIG0(x) XOR3(_mm512_ror_epi32(x, 7), _mm512_ror_epi32(x, 18), _mm512_srli_epi32(x, 3))
#define SSIG1(x) XOR3(_mm512_ror_epi32(x, 17), _mm512_ror_epi32(x, 19), _mm512_srli_epi32(x, 10))

/* One round; the caller rotates the roles of a..h instead of moving values.
 * h + K + W and Ch do not depend on the previous round's e, so they are added
 * first and Sigma1(e), on the critical path, last. */
#define ROUND(a, b, c, d, e, f, g, h, w, t)                                                        \
    do {                                                                                           \
        __m512i t1_ = ADD(ADD(h, ADD(w, _mm512_set1_epi32((int)k256[t]))),                         \
                          _mm512_ternarylogic_epi32(e, f, g, TL_CH));                              \
        t1_ = ADD(t1_, BSIG1(e));                                                                  \
        d = ADD(d, t1_);                                                                           \
        h = ADD(t1_, ADD(BSIG0(a), _mm512_ternarylogic_epi32(a, b, c, TL_MAJ)));                   \
    } while (0)

/* W[t] for t >= 16 into the window slot of W[t - 16]:
 * W[t] = sigma1(W[t-2]) + W[t-7] + sigma0(W[t-15]) + W[t-16]. */
#define SCHED(w, i)                                                                                \
    (w[i] = ADD(ADD(w[i], SSIG0(w[((i) + 1) & 15])), ADD(w[((i) + 9) & 15], SSIG1(w[((i) + 14) & 15]))))

/* Eight rounds with the schedule run ahead: round t + j consumes w[j0 + j],
 * which SCHED has already replaced by W[t + j] when sched is set. */
#define ROUNDS8(w, j0, t, sched)                                                                   \
    do {                                                                                           \
        if (sched)                                                                                 \
            SCHED(w, (j0) + 0);                                                                    \
        ROUND(a, b, c, d, e, f, g, h, w[(j0) + 0], (t) + 0);                                       \
        if (sched)                                                                                 \
            SCHED(w, (j0) + 1);                                                                    \
        ROUND(h, a, b, c, d, e, f, g, w[(j0) + 1], (t) + 1);                                       \
        if (sched)                                                                                 \
            SCHED(w, (j0) + 2);                                                                    \
        ROUND(g, h, a, b, c, d, e, f, w[(j0) + 2], (t) + 2);                                       \
        if (sched)                                                                                 \
            SCHED(w, (j0) + 3);                                                                    \
        ROUND(f, g, h, a, b, c, d, e, w[(j0) + 3], (t) + 3);                                       \
        if (sched)                                                                                 \
            SCHED(w, (j0) + 4);                                                                    \
        ROUND(e, f, g, h, a, b, c, d, w[(j0) + 4], (t) + 4);                                       \
        if (sched)                                                                                 \
            SCHED(w, (j0) + 5);                                                                    \
        ROUND(d, e, f, g, h, a, b, c, w[(j0) + 5], (t) + 5);                                       \
        if (sched)                                                                                 \
            SCHED(w, (j0) + 6);                                                                    \
        ROUND(c, d, e, f, g, h, a, b, w[(j0) + 6], (t) + 6);                                       \
        if (sched)                                                                                 \
            SCHED(w, (j0) + 7);                                                                    \
        ROUND(b, c, d, e, f, g, h, a, w[(j0) + 7], (t) + 7);                                       \
    } while (0)

/* Words 4q..4q+3 of one block of all 16 lanes, byte-swapped, into w[4q..4q+3].
 * x[s] gathers, in 128-bit piece c, words 4q..4q+3 of lane 4c+s; a 4x4 dword
 * transpose inside each 128-bit piece then leaves word 4q+j of lane 4c+i in
 * dword i of piece c of w[4q+j], i.e. lane order. */
static inline void load_quarter(__m512i *w, const uint8_t *const *p, size_t off, unsigned q)
{
    const __m512i bswap = _mm512_broadcast_i32x4(
        _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3));
    __m512i x[4];
    for (unsigned s = 0; s < 4; s++) {
        x[s] = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(p[s] + off + 16 * q)));
        x[s] = _mm512_mask_broadcast_i32x4(
            x[s], 0x00f0, _mm_loadu_si128((const __m128i *)(p[4 + s] + off + 16 * q)));
        x[s] = _mm512_mask_broadcast_i32x4(
            x[s], 0x0f00, _mm_loadu_si128((const __m128i *)(p[8 + s] + off + 16 * q)));
        x[s] = _mm512_mask_broadcast_i32x4(
            x[s], 0xf000, _mm_loadu_si128((const __m128i *)(p[12 + s] + off + 16 * q)));
    }
    __m512i t0 = _mm512_unpacklo_epi32(x[0], x[1]); /* s0w0 s1w0 s0w1 s1w1 */
    __m512i t1 = _mm512_unpackhi_epi32(x[0], x[1]); /* s0w2 s1w2 s0w3 s1w3 */
    __m512i t2 = _mm512_unpacklo_epi32(x[2], x[3]);
    __m512i t3 = _mm512_unpackhi_epi32(x[2], x[3]);
    w[4 * q + 0] = _mm512_shuffle_epi8(_mm512_unpacklo_epi64(t0, t2), bswap);
    w[4 * q + 1] = _mm512_shuffle_epi8(_mm512_unpackhi_epi64(t0, t2), bswap);
    w[4 * q + 2] = _mm512_shuffle_epi8(_mm512_unpacklo_epi64(t1, t3), bswap);
    w[4 * q + 3] = _mm512_shuffle_epi8(_mm512_unpackhi_epi64(t1, t3), bswap);
}

static void sha256_x16_blocks(uint32_t *state, const uint8_t *const *ptr, size_t nblocks)
{
    __m512i a = _mm512_loadu_si512(state + 0 * LANES);
    __m512i b = _mm512_loadu_si512(state + 1 * LANES);
    __m512i c = _mm512_loadu_si512(state + 2 * LANES);
    __m512i d = _mm512_loadu_si512(state + 3 * LANES);
    __m512i e = _mm512_loadu_si512(state + 4 * LANES);
    __m512i f = _mm512_loadu_si512(state + 5 * LANES);
    __m512i g = _mm512_loadu_si512(state + 6 * LANES);
    __m512i h = _mm512_loadu_si512(state + 7 * LANES);

    for (size_t blk = 0; blk < nblocks; blk++) {
        size_t off = 64 * blk;
        /* A prefetch never faults, so running past a lane's last block is
         * harmless; the address is formed as an integer because pointer
         * arithmetic beyond the object would be undefined. */
        for (unsigned l = 0; l < LANES; l++)
            _mm_prefetch((const char *)((uintptr_t)ptr[l] + off + 64 * PREFETCH_AHEAD),
                         _MM_HINT_T0);

        __m512i w[16];
        for (unsigned q = 0; q < 4; q++)
            load_quarter(w, ptr, off, q);

        __m512i a0 = a, b0 = b, c0 = c, d0 = d, e0 = e, f0 = f, g0 = g, h0 = h;
        ROUNDS8(w, 0, 0, 0);
        ROUNDS8(w, 8, 8, 0);
        for (unsigned t = 16; t < 64; t += 16) {
            ROUNDS8(w, 0, t, 1);
            ROUNDS8(w, 8, t + 8, 1);
        }
        a = ADD(a, a0);
        b = ADD(b, b0);
        c = ADD(c, c0);
        d = ADD(d, d0);
        e = ADD(e, e0);
        f = ADD(f, f0);
        g = ADD(g, g0);
        h = ADD(h, h0);
    }

    _mm512_storeu_si512(state + 0 * LANES, a);
    _mm512_storeu_si512(state + 1 * LANES, b);
    _mm512_storeu_si512(state + 2 * LANES, c);
    _mm512_storeu_si512(state + 3 * LANES, d);
    _mm512_storeu_si512(state + 4 * LANES, e);
    _mm512_storeu_si512(state + 5 * LANES, f);
    _mm512_storeu_si512(state + 6 * LANES, g);
    _mm512_storeu_si512(state + 7 * LANES, h);
}

static const ddx_mb_kernel sha256_x16 = {LANES, 8, ddx_sha256_iv, sha256_x16_blocks};

void ddx_sha256_mb_avx512_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out)
{
    ddx_mb_run(&sha256_x16, msgs, n, out);
}
