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
 *   - The transpose of block k+1 runs on the integer side during block k's
 *     rounds (sha1_mbgt_avx512.c's scheme): 64-bit copies, byte-swapped by
 *     bswapq, into a stack buffer, then 16 loads and 16 vpermt2d a block
 *     instead of 96 vector ops (48 merge-masked loads, 32 unpacks, 16
 *     vpshufb). The kernel is bound by vector ops (a synthetic stream of a
 *     round's 28 ops, all independent, runs at ~15 cycles a round here), so
 *     that alone was 9-10% (in cache and on 8 KiB messages from DRAM).
 *   - K[t] is added as an embedded broadcast ({1to16}) from the 256-byte
 *     table. Written as _mm512_set1_epi32, GCC hoisted the 64 broadcasts out
 *     of the loop and spilled them to a 4 KiB stack table; and the state at
 *     the start of a block goes to memory (added back from there at its
 *     end) instead of 8 more live zmm: with 8 state + 16 window registers
 *     that left ~60 zmm spills and reloads a block. Together +2%.
 * Tried and dropped (slower, or no gain, here): computing the next block's
 * schedule into a stack buffer during the current block's rounds; loading or
 * transposing the next block during the last rounds; the schedule 16 rounds
 * ahead; a latency-4 round with an extra add; two-input XORs instead of the
 * XOR ternlog; K as full vectors in memory; a fully unrolled block (alone;
 * with the two changes above it is +1%); the state copy kept in memory
 * by storing the state itself each block and reloading it at the next
 * (-2%; probably the 512-bit loads waiting on those stores); -mtune=znver3, -fschedule-insns (-4%).
 * Rotates could go to the shift pipes (vprord and vpsrld/vpsllvd run on
 * different pipe pairs, one zmm op a cycle each), but as two shifts and an
 * extra XOR: the synthetic round got slower (15.4 vs 15.1 cycles).
 */
#include <immintrin.h>
#include <stdint.h>

#include "hash_impl.h"
#include "hash_mb.h"
#include "mb_copy_gt.h"

/* When the rest of a batch goes to SHA-NI (hash_mb.h): about 100 x
 * sha256-shani-x4's rate over this kernel's (3.3 / 3.2 GB/s), kept under
 * 100 so balanced batches stay. Swept over the first 64 MiB of the /usr
 * tar, 64 messages per call, median of 9: FastCDC chunks 2.42 GB/s never,
 * 3.01 from 30, 3.11-3.15 from 60 on; 8 KiB messages 3.19-3.26 throughout.
 * That sweep predates the transpose on the integer side; at 3.5-3.7 GB/s
 * now the ratio is about 95, so 90 still keeps balanced batch ends here. */
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

/* x + K[t], K[t] broadcast by the add itself from the table ({1to16}): as
 * _mm512_set1_epi32, GCC hoists the broadcasts out of the block loop and
 * spills them (see the top). The asm also pins the sum where PIN would. */
static inline __m512i add_k(__m512i x, const uint32_t *k)
{
    __m512i r;
    __asm__("vpaddd %2%{1to16%}, %1, %0" : "=v"(r) : "v"(x), "m"(*k));
    return r;
}

/* One round; the caller rotates the roles of a..h instead of moving values.
 * Sum order: (h + (W + K)) + Ch(e, f, g) + Sigma1(e), so only the last two
 * adds wait for e; Sigma0(a) + Maj(a, b, c) is formed on the side. */
#define ROUND(a, b, c, d, e, f, g, h, w, t)                                                        \
    do {                                                                                           \
        __m512i t1_ = add_k(ADD(h, w), &ddx_sha256_k[t]);                                          \
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
 * at the latest) is already in the window. R is the round: ROUND, or RC
 * (ROUND and a share of the next block's copies). */
#define ROUNDS8(R, w, j0, t, sched)                                                                \
    do {                                                                                           \
        if (sched)                                                                                 \
            SCHED(w, ((j0) + 8) & 15);                                                             \
        R(a, b, c, d, e, f, g, h, w[(j0) + 0], (t) + 0);                                           \
        if (sched)                                                                                 \
            SCHED(w, ((j0) + 9) & 15);                                                             \
        R(h, a, b, c, d, e, f, g, w[(j0) + 1], (t) + 1);                                           \
        if (sched)                                                                                 \
            SCHED(w, ((j0) + 10) & 15);                                                            \
        R(g, h, a, b, c, d, e, f, w[(j0) + 2], (t) + 2);                                           \
        if (sched)                                                                                 \
            SCHED(w, ((j0) + 11) & 15);                                                            \
        R(f, g, h, a, b, c, d, e, w[(j0) + 3], (t) + 3);                                           \
        if (sched)                                                                                 \
            SCHED(w, ((j0) + 12) & 15);                                                            \
        R(e, f, g, h, a, b, c, d, w[(j0) + 4], (t) + 4);                                           \
        if (sched)                                                                                 \
            SCHED(w, ((j0) + 13) & 15);                                                            \
        R(d, e, f, g, h, a, b, c, w[(j0) + 5], (t) + 5);                                           \
        if (sched)                                                                                 \
            SCHED(w, ((j0) + 14) & 15);                                                            \
        R(c, d, e, f, g, h, a, b, w[(j0) + 6], (t) + 6);                                           \
        if (sched)                                                                                 \
            SCHED(w, ((j0) + 15) & 15);                                                            \
        R(b, c, d, e, f, g, h, a, w[(j0) + 7], (t) + 7);                                           \
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

/* The word-major state (word w of lane l at state[w * LANES + l]) in and
 * out of the working variables a..h, which both kernels keep in zmm. */
#define STATE_LOAD(state)                                                                          \
    __m512i a = _mm512_loadu_si512((state) + 0 * LANES),                                           \
            b = _mm512_loadu_si512((state) + 1 * LANES),                                           \
            c = _mm512_loadu_si512((state) + 2 * LANES),                                           \
            d = _mm512_loadu_si512((state) + 3 * LANES),                                           \
            e = _mm512_loadu_si512((state) + 4 * LANES),                                           \
            f = _mm512_loadu_si512((state) + 5 * LANES),                                           \
            g = _mm512_loadu_si512((state) + 6 * LANES),                                           \
            h = _mm512_loadu_si512((state) + 7 * LANES)
#define STATE_STORE(state)                                                                         \
    do {                                                                                           \
        const __m512i v_[8] = {a, b, c, d, e, f, g, h};                                            \
        for (unsigned w_ = 0; w_ < 8; w_++)                                                        \
            _mm512_storeu_si512((state) + w_ * LANES, v_[w_]);                                     \
    } while (0)

/* The kernel for runs of 1 or 2 blocks (see sha256_x16_blocks): the
 * transpose by vector loads and unpacks, no buffer to fill first. */
static void blocks_plain(uint32_t *state, const uint8_t *const *ptr, size_t nblocks)
{
    STATE_LOAD(state);

    for (size_t blk = 0; blk < nblocks; blk++) {
        size_t off = 64 * blk;
        for (unsigned l = 0; l < LANES; l++)
            prefetch_block(ptr[l], blk + PREFETCH_AHEAD);

        __m512i w[16];
        for (unsigned q = 0; q < 4; q++)
            load_quarter(w, ptr, off, q);

        __m512i a0 = a, b0 = b, c0 = c, d0 = d, e0 = e, f0 = f, g0 = g, h0 = h;
        /* Rounds 8..55 compute W[16..63], eight rounds ahead of use. */
        ROUNDS8(ROUND, w, 0, 0, 0);
        ROUNDS8(ROUND, w, 8, 8, 1);
        for (unsigned t = 16; t < 48; t += 16) {
            ROUNDS8(ROUND, w, 0, t, 1);
            ROUNDS8(ROUND, w, 8, t + 8, 1);
        }
        ROUNDS8(ROUND, w, 0, 48, 1);
        ROUNDS8(ROUND, w, 8, 56, 0);
        a = ADD(a, a0);
        b = ADD(b, b0);
        c = ADD(c, c0);
        d = ADD(d, d0);
        e = ADD(e, e0);
        f = ADD(f, f0);
        g = ADD(g, g0);
        h = ADD(h, h0);
    }

    STATE_STORE(state);
}

/* A round and, in every even round, one copy of the next block: the 32
 * copies spread over all 64 rounds fill integer slots between vector ops. */
#define RC(a, b, c, d, e, f, g, h, w, t)                                                           \
    do {                                                                                           \
        ROUND(a, b, c, d, e, f, g, h, w, t);                                                       \
        if ((t) % 2 == 0)                                                                          \
            DDX_MBGT_COPY(next, nptr, noff, (t) / 2);                                              \
    } while (0)

static void blocks_gt(uint32_t *state, const uint8_t *const *ptr, size_t nblocks)
{
    /* One zmm load holds qword p of 8 lanes; two of them (lanes 0-7, 8-15)
     * give word 2p of all 16 lanes by one vpermt2d, and word 2p + 1 by
     * another. */
    const __m512i even =
        _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const __m512i odd =
        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    /* Two buffers: block k reads one while its rounds fill the other. */
    uint64_t buf[2][8 * LANES] __attribute__((aligned(64)));
    /* The state at the start of a block, added back at its end: in memory,
     * as 8 more live zmm registers they cost more in spills (see the top).
     * volatile: GCC would otherwise keep it in registers. */
    volatile __m512i start[8];

    STATE_LOAD(state);

    for (int i = 0; i < DDX_MBGT_COPIES; i++)
        DDX_MBGT_COPY(buf[0], ptr, 0, i);

    for (size_t blk = 0; blk < nblocks; blk++) {
        const uint64_t *cur = buf[blk & 1];
        uint64_t *next = buf[(blk + 1) & 1];
        /* The copies read block blk + 1 during this one. */
        for (unsigned l = 0; l < LANES; l++)
            prefetch_block(ptr[l], blk + 1 + PREFETCH_AHEAD);

        __m512i w[16];
        for (unsigned p = 0; p < 8; p++) {
            __m512i lo = _mm512_load_si512((const void *)(cur + LANES * p));
            __m512i hi = _mm512_load_si512((const void *)(cur + LANES * p + 8));
            w[2 * p] = _mm512_permutex2var_epi32(lo, even, hi);
            w[2 * p + 1] = _mm512_permutex2var_epi32(lo, odd, hi);
        }
        const int more = blk + 1 < nblocks;
        const uint8_t *const *nptr = more ? ptr : ddx_mbgt_zero_ptrs;
        const size_t noff = more ? 64 * (blk + 1) : 0;

        start[0] = a;
        start[1] = b;
        start[2] = c;
        start[3] = d;
        start[4] = e;
        start[5] = f;
        start[6] = g;
        start[7] = h;
        /* Rounds 8..55 compute W[16..63], eight rounds ahead of use. Fully
         * unrolled: a loop over rounds 16..47 made GCC spill the window at
         * its back edge. */
        ROUNDS8(RC, w, 0, 0, 0);
        ROUNDS8(RC, w, 8, 8, 1);
        ROUNDS8(RC, w, 0, 16, 1);
        ROUNDS8(RC, w, 8, 24, 1);
        ROUNDS8(RC, w, 0, 32, 1);
        ROUNDS8(RC, w, 8, 40, 1);
        ROUNDS8(RC, w, 0, 48, 1);
        ROUNDS8(RC, w, 8, 56, 0);
        a = ADD(a, start[0]);
        b = ADD(b, start[1]);
        c = ADD(c, start[2]);
        d = ADD(d, start[3]);
        e = ADD(e, start[4]);
        f = ADD(f, start[5]);
        g = ADD(g, start[6]);
        h = ADD(h, start[7]);
    }

    STATE_STORE(state);
}

#ifndef GT_MIN_BLOCKS
#define GT_MIN_BLOCKS 3
#endif

/* Runs shorter than GT_MIN_BLOCKS go to blocks_plain: blocks_gt's first
 * block waits on its own copies, a fixed cost per call (as for SHA-1, where
 * runs of 1 block cost 24% more and from 3 blocks on the copies win). */
static void sha256_x16_blocks(uint32_t *state, const uint8_t *const *ptr, size_t nblocks)
{
    if (nblocks < GT_MIN_BLOCKS)
        blocks_plain(state, ptr, nblocks);
    else
        blocks_gt(state, ptr, nblocks);
}

static const ddx_mb_kernel sha256_x16 = {LANES, 8, ddx_sha256_iv, sha256_x16_blocks, DRAIN_PCT};

void ddx_sha256_mb_avx512_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out)
{
    ddx_mb_run(&sha256_x16, msgs, n, out);
}
