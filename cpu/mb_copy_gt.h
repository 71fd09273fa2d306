/*
 * mb_copy_gt.h - the integer-side half of the 16-lane message transpose
 * shared by sha1_mbgt_avx512.c and sha256_mb_avx512.c: during block k's
 * vector rounds, 32 inline-asm copies move block k + 1 of every lane into a
 * stack buffer as byte-swapped 64-bit words, so the vector side needs only
 * 16 loads and 16 vpermt2d a block to finish the transpose.
 */
#ifndef DDX_MB_COPY_GT_H
#define DDX_MB_COPY_GT_H

#include <stdint.h>

/* Read by the last block's copies in place of the block after the run, so
 * the loop needs no special last pass and never reads past a message. */
static const uint8_t ddx_mbgt_zero_block[64] __attribute__((aligned(64)));
static const uint8_t *const ddx_mbgt_zero_ptrs[16] = {
    ddx_mbgt_zero_block, ddx_mbgt_zero_block, ddx_mbgt_zero_block, ddx_mbgt_zero_block,
    ddx_mbgt_zero_block, ddx_mbgt_zero_block, ddx_mbgt_zero_block, ddx_mbgt_zero_block,
    ddx_mbgt_zero_block, ddx_mbgt_zero_block, ddx_mbgt_zero_block, ddx_mbgt_zero_block,
    ddx_mbgt_zero_block, ddx_mbgt_zero_block, ddx_mbgt_zero_block, ddx_mbgt_zero_block};

/*
 * Copy i (0..DDX_MBGT_COPIES-1) of a block's transpose: qwords 4h..4h+3 of
 * lane i / 2 (h = i % 2) from src[lane] + off into dst, where dst[16 p + l]
 * is qword p of lane l, byte-swapped (word 2p + 1 in its low dword, word 2p
 * in its high one). Inline asm: as C, GCC vectorizes the copies back into
 * vector inserts or hoists and spills the loads; the "memory" clobber keeps
 * them where they are written among the rounds.
 */
#define DDX_MBGT_COPIES 32
#define DDX_MBGT_COPY(dst, src, off, i)                                                            \
    do {                                                                                           \
        const uint8_t *s_ = (src)[(i) >> 1] + (off) + 32 * ((i)&1);                                \
        uint64_t *d_ = (dst) + 64 * ((i)&1) + ((i) >> 1);                                          \
        uint64_t t_, u_;                                                                           \
        __asm__ volatile("movq (%[s]), %[t]\n\t"                                                   \
                         "movq 8(%[s]), %[u]\n\t"                                                  \
                         "bswapq %[t]\n\t"                                                         \
                         "bswapq %[u]\n\t"                                                         \
                         "movq %[t], (%[d])\n\t"                                                   \
                         "movq %[u], 128(%[d])\n\t"                                                \
                         "movq 16(%[s]), %[t]\n\t"                                                 \
                         "movq 24(%[s]), %[u]\n\t"                                                 \
                         "bswapq %[t]\n\t"                                                         \
                         "bswapq %[u]\n\t"                                                         \
                         "movq %[t], 256(%[d])\n\t"                                                \
                         "movq %[u], 384(%[d])"                                                    \
                         : [t] "=&r"(t_), [u] "=&r"(u_)                                            \
                         : [s] "r"(s_), [d] "r"(d_)                                                \
                         : "memory");                                                              \
    } while (0)

#endif
