/*
 * sha256_mb_avx512.c - multi-buffer SHA-256, 16 messages at a time in zmm
 * registers (one message per 32-bit lane); hash_mb.c feeds the lanes.
 *
 * Why it is shaped this way (measured on Zen 4, which runs each 512-bit op as
 * two 256-bit halves: at most two zmm ops per cycle, vprord on one pipe pair
 * at one per cycle, vpsrld on the other pair, vpternlogd with three live
 * sources at barely more than one per cycle):
 *   - AVX-512 has a real rotate (vprord) and a three-input logic op
 *     (vpternlogd): Sigma0/Sigma1 cost three rotates and one ternlog, Ch and
 *     Maj one ternlog each - 17 ops per round and 11 per schedule word, about
 *     1740 zmm ops per 64-byte block of all 16 lanes, input transpose
 *     included. AVX2 needs about twice as many instructions per lane.
 *   - 16 independent messages leave the kernel throughput-bound, yet the
 *     round's dependency chain still matters: compiled as written, the adds of
 *     a round are reassociated so that K is added last and the e -> e chain
 *     grows from 5 to 7 cycles. PIN fixes the order: h + K + W and Ch, which
 *     do not wait for the previous round, first; Sigma1(e) last.
 *   - The message schedule runs eight rounds ahead of its use (W[t + 8] is
 *     computed in round t), so its ops are ready to fill the gaps of the
 *     round chain instead of sitting on it; that alone was worth 4%.
 *   - The 16x16 word transpose of the input blocks is mostly done by the
 *     loads: a zmm gets one 128-bit piece (four words) of each of four lanes
 *     from one load and three merge-masked vbroadcasti32x4 loads (a load and
 *     a blend, no shuffle), leaving a 4x4 transpose inside each 128-bit
 *     piece: 32 unpacks and 16 vpshufb byte swaps per block instead of 64
 *     cross-lane shuffles.
 *   - The state stays in registers for the whole nblocks run.
 *   - Each lane's next block is prefetched; the hardware prefetcher follows
 *     the 16 streams well enough that prefetching further ahead only hurt.
 * Tried and dropped (slower, or no gain, here): computing the next block's
 * schedule into a stack buffer during the current block's rounds; loading or
 * transposing the next block during the last rounds; the schedule 16 rounds
 * ahead; a latency-4 round with an extra add; two-input XORs instead of the
 * XOR ternlog; K as full vectors in memory; a fully unrolled block.
 */
#include <immintrin.h>
#include <stdint.h>

#include "hash_impl.h"
#include "hash_mb.h"

/* When the rest of a batch goes to SHA-NI (hash_mb.h): about 100 x
 * sha256-shani-x4's rate over this kernel's (3.3 / 3.2 GB/s), kept under
 * 100 so balanced batches stay. Swept over the first 64 MiB of the /usr
 * tar, 64 messages per call, median of 9: FastCDC chunks 2.42 GB/s never,
 * 3.01 from 30, 3.11-3.15 from 60 on; 8 KiB messages 3.19-3.26 throughout. */
#define DRAIN_PCT 90
#define LANES 16
/* Blocks ahead to prefetch. A block of all lanes takes ~1000 cycles, so one
 * block ahead already covers DRAM latency. Measured on 256 MiB of 4-64 KiB
 * messages, 1 beat no prefetch by ~1% and 4 ahead by 2-8% (most with 4 KiB
 * messages, where more of the lines fetched lie past a message's end). */
#define PREFETCH_AHEAD 1

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

/* An empty asm that claims to change x: the compiler must materialize x here
 * and cannot reassociate the adds around it. Costs no instruction. */
#define PIN(x) __asm__("" : "+v"(x))

/* One round; the caller rotates the roles of a..h instead of moving values.
 * Sum order: (h + (W + K)) + Ch(e, f, g) + Sigma1(e), so only the last two
 * adds wait for e; Sigma0(a) + Maj(a, b, c) is formed on the side. */
#define ROUND(a, b, c, d, e, f, g, h, w, t)                                                        \
    do {                                                                                           \
        __m512i t1_ = ADD(h, ADD(w, _mm512_set1_epi32((int)ddx_sha256_k[t])));                     \
        PIN(t1_);                                                                                  \
        t1_ = ADD(t1_, _mm512_ternarylogic_epi32(e, f, g, TL_CH));                                 \
        PIN(t1_);                                                                                  \
        t1_ = ADD(t1_, BSIG1(e));                                                                  \
        d = ADD(d, t1_);                                                                           \
        __m512i s0m_ = ADD(BSIG0(a), _mm512_ternarylogic_epi32(a, b, c, TL_MAJ));                  \
        PIN(s0m_);                                                                                 \
        h = ADD(t1_, s0m_);                                                                        \
    } while (0)

/* W[t] for t >= 16 into slot i = t % 16 of the window, where W[t - 16] was:
 * W[t] = sigma1(W[t-2]) + W[t-7] + sigma0(W[t-15]) + W[t-16]. */
#define SCHED(w, i)                                                                                \
    (w[i] = ADD(ADD(w[i], SSIG0(w[((i) + 1) & 15])),                                               \
                ADD(w[((i) + 9) & 15], SSIG1(w[((i) + 14) & 15]))))

/* Rounds t..t+7, consuming window slots j0..j0+7. With sched set, round t+k
 * first computes W[t + k + 8] into slot (j0 + k + 8) % 16: that slot held
 * W[t + k - 8], already consumed, and every input of W[t + k + 8] (W[t+k+6]
 * at the latest) is already in the window. */
#define ROUNDS8(w, j0, t, sched)                                                                   \
    do {                                                                                           \
        if (sched)                                                                                 \
            SCHED(w, ((j0) + 8) & 15);                                                             \
        ROUND(a, b, c, d, e, f, g, h, w[(j0) + 0], (t) + 0);                                       \
        if (sched)                                                                                 \
            SCHED(w, ((j0) + 9) & 15);                                                             \
        ROUND(h, a, b, c, d, e, f, g, w[(j0) + 1], (t) + 1);                                       \
        if (sched)                                                                                 \
            SCHED(w, ((j0) + 10) & 15);                                                            \
        ROUND(g, h, a, b, c, d, e, f, w[(j0) + 2], (t) + 2);                                       \
        if (sched)                                                                                 \
            SCHED(w, ((j0) + 11) & 15);                                                            \
        ROUND(f, g, h, a, b, c, d, e, w[(j0) + 3], (t) + 3);                                       \
        if (sched)                                                                                 \
            SCHED(w, ((j0) + 12) & 15);                                                            \
        ROUND(e, f, g, h, a, b, c, d, w[(j0) + 4], (t) + 4);                                       \
        if (sched)                                                                                 \
            SCHED(w, ((j0) + 13) & 15);                                                            \
        ROUND(d, e, f, g, h, a, b, c, w[(j0) + 5], (t) + 5);                                       \
        if (sched)                                                                                 \
            SCHED(w, ((j0) + 14) & 15);                                                            \
        ROUND(c, d, e, f, g, h, a, b, w[(j0) + 6], (t) + 6);                                       \
        if (sched)                                                                                 \
            SCHED(w, ((j0) + 15) & 15);                                                            \
        ROUND(b, c, d, e, f, g, h, a, w[(j0) + 7], (t) + 7);                                       \
    } while (0)

/* Words 4q..4q+3 of one block of all 16 lanes, byte-swapped, into w[4q..4q+3].
 * x[s] gathers, in 128-bit piece c, words 4q..4q+3 of lane 4c+s; a 4x4 dword
 * transpose inside each 128-bit piece then leaves word 4q+j of lane 4c+i in
 * dword i of piece c of w[4q+j], i.e. lane order. */
static inline void load_quarter(__m512i *w, const uint8_t *const *p, size_t off, unsigned q)
{
    const __m512i bswap =
        _mm512_broadcast_i32x4(_mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3));
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

/* A prefetch never faults, so one past a lane's last block is harmless; the
 * address is formed as an integer because pointer arithmetic beyond the
 * object would be undefined. */
static inline void prefetch_block(const uint8_t *p, size_t block)
{
    _mm_prefetch((const char *)((uintptr_t)p + 64 * block), _MM_HINT_T0);
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
        for (unsigned l = 0; l < LANES; l++)
            prefetch_block(ptr[l], blk + PREFETCH_AHEAD);

        __m512i w[16];
        for (unsigned q = 0; q < 4; q++)
            load_quarter(w, ptr, off, q);

        __m512i a0 = a, b0 = b, c0 = c, d0 = d, e0 = e, f0 = f, g0 = g, h0 = h;
        /* Rounds 8..55 compute W[16..63], eight rounds ahead of use. */
        ROUNDS8(w, 0, 0, 0);
        ROUNDS8(w, 8, 8, 1);
        for (unsigned t = 16; t < 48; t += 16) {
            ROUNDS8(w, 0, t, 1);
            ROUNDS8(w, 8, t + 8, 1);
        }
        ROUNDS8(w, 0, 48, 1);
        ROUNDS8(w, 8, 56, 0);
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

static const ddx_mb_kernel sha256_x16 = {LANES, 8, ddx_sha256_iv, sha256_x16_blocks, DRAIN_PCT};

void ddx_sha256_mb_avx512_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out)
{
    ddx_mb_run(&sha256_x16, msgs, n, out);
}
