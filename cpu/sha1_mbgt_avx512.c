/*
 * sha1_mbgt_avx512.c - multi-buffer SHA-1, 16 messages in zmm registers,
 * with the message transpose done by the integer units.
 *
 * The rounds are sha1_mb_avx512.c's (sha1_mb_avx512.h); only the way the
 * message words reach the vectors differs. That kernel is bound by the
 * number of vector ops, not by their kind: on Zen 4 replacing its rotates
 * (2 of the 4 pipes) by adds (all 4) changed nothing, while dropping its
 * transpose (80 of ~840 vector ops a block, in a burst the first rounds
 * wait on) made it 13% faster. Its integer units meanwhile sit idle.
 *
 * So the transpose of block k+1 runs on the integer side during block k's
 * rounds, as 64-bit copies into a stack buffer: buf[p][l] = qword p (words
 * 2p and 2p+1) of lane l, byte-swapped by bswapq, which also swaps the two
 * words. Then one zmm load covers a pair of words for 8 lanes, and one
 * vpermt2d per word puts the 16 lanes of word j in place: 16 vector ops a
 * block instead of 80. The integer side does 128 loads, bswaps and stores a
 * block (the stores, at most 2 a cycle, about 15% of the block's time).
 * Copying 32-bit words instead (256 stores a block, no vector work left at
 * all) measured slower than this split in the C prototype.
 *
 * The copies are inline asm. As C, GCC's SLP vectorizer turned them back
 * into vector inserts, and its scheduler hoisted the loads to the top of
 * the block and spilled them: about 5% slower than the asm in the same A/B.
 *
 * Measured on Zen 4, in-process A/B against sha1-mb-avx512 (medians of 21
 * alternating rounds, 8 KiB messages in cache, batches of 144): +11% on
 * 64-byte aligned messages, +38% on messages at 16 or 1 mod 64. That kernel's
 * 64-byte row loads split cache lines there (7.1 -> 5.6 GB/s); 8-byte copies
 * split one time in 8 at most. FastCDC-like lengths: +2% (short runs, below).
 */
#include <immintrin.h>

#include "hash_mb.h"
#include "mb_copy_gt.h"
#include "sha1_mb_avx512.h"

/* When the rest of a batch goes to SHA-NI (hash_mb.h): about 100 x
 * sha1-shani-x4's rate over this kernel's (4.1 / 7.4 GB/s on 8 KiB
 * messages). Swept over the first 64 MiB of the /usr tar, 64 messages per
 * call, median of 9: FastCDC chunks 4.58 GB/s never, 5.31-5.35 from 30 to
 * 200; 8 KiB messages 7.28 never, 7.35-7.40 from 30 to 90, 6.1 from 110 on
 * (balanced batches then leave the full-rate lanes). */
#define DRAIN_PCT 60
#define LANES 16

/* One copy every other round, rounds 4 to 66: spread thin, they fill
 * integer slots between the vector ops. In the prototype, starting at round 0
 * or 10 measured the same, at round 16 (the last copies at the end of the
 * block) 3% slower. */
#define COPY_FIRST 4
#define COPY_STEP 2
#define RC(a, b, c, d, e, f, k, t)                                                                 \
    do {                                                                                           \
        RS(a, b, c, d, e, f, k, t);                                                                \
        if ((t) >= COPY_FIRST && ((t)-COPY_FIRST) % COPY_STEP == 0 &&                              \
            ((t)-COPY_FIRST) / COPY_STEP < DDX_MBGT_COPIES)                                        \
            DDX_MBGT_COPY(next, nptr, noff, ((t)-COPY_FIRST) / COPY_STEP);                         \
    } while (0)

#ifndef GT_MIN_BLOCKS
#define GT_MIN_BLOCKS 3 /* see sha1_blocks16 */
#endif

static void blocks_gt(uint32_t *state, const uint8_t *const *ptr, size_t nblocks)
{
    /* After bswapq, qword l of a row holds word 2p + 1 of its lane in the
     * low dword and word 2p in the high one; rows for lanes 8..15 are the
     * second source. */
    const __m512i even =
        _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const __m512i odd =
        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    /* Two buffers: block k reads one while its rounds fill the other. */
    uint64_t buf[2][8 * LANES] __attribute__((aligned(64)));

    __m512i a = _mm512_loadu_si512((const void *)(state + 0 * LANES));
    __m512i b = _mm512_loadu_si512((const void *)(state + 1 * LANES));
    __m512i c = _mm512_loadu_si512((const void *)(state + 2 * LANES));
    __m512i d = _mm512_loadu_si512((const void *)(state + 3 * LANES));
    __m512i e = _mm512_loadu_si512((const void *)(state + 4 * LANES));

    for (int i = 0; i < DDX_MBGT_COPIES; i++)
        DDX_MBGT_COPY(buf[0], ptr, 0, i);

    for (size_t blk = 0; blk < nblocks; blk++) {
        const uint64_t *cur = buf[blk & 1];
        uint64_t *next = buf[(blk + 1) & 1];
        __m512i w[16];
        for (int p = 0; p < 8; p++) {
            __m512i lo = _mm512_load_si512((const void *)(cur + LANES * p));
            __m512i hi = _mm512_load_si512((const void *)(cur + LANES * p + 8));
            w[2 * p] = _mm512_permutex2var_epi32(lo, even, hi);
            w[2 * p + 1] = _mm512_permutex2var_epi32(lo, odd, hi);
        }
        const int more = blk + 1 < nblocks;
        const uint8_t *const *nptr = more ? ptr : ddx_mbgt_zero_ptrs;
        const size_t noff = more ? 64 * (blk + 1) : 0;
        __m512i a0 = a, b0 = b, c0 = c, d0 = d, e0 = e;

        ROUNDS80(RC);

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

/* The first block's copies run before any rounds, and its vector loads wait
 * for their stores: a fixed cost per call that later blocks must pay back.
 * Per block against sha1_mb_avx512.c (in cache, Zen 4): runs of 1 block
 * cost 24% more, 2 blocks 3% more (10% less on messages not 64-byte
 * aligned), 3 blocks 3% less, 64 blocks 12% less (29% less unaligned). So
 * runs of 1 or 2 blocks go to that kernel. They are common: the lane manager
 * ends a run whenever a lane's body or tail does, and over FastCDC-like
 * lengths (2-64 KiB, mean 8 KiB, batches of 64) half of the runs are 1
 * block (mean 6.3). */
static void sha1_blocks16(uint32_t *state, const uint8_t *const *ptr, size_t nblocks)
{
    if (nblocks < GT_MIN_BLOCKS)
        ddx_sha1_mb_avx512_blocks16(state, ptr, nblocks);
    else
        blocks_gt(state, ptr, nblocks);
}

void ddx_sha1_mb_avx512_gt_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out)
{
    static const ddx_mb_kernel k = {LANES, 5, ddx_sha1_iv, sha1_blocks16, DRAIN_PCT};
    ddx_mb_run(&k, msgs, n, out);
}
