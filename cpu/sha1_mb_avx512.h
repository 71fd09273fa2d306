/*
 * sha1_mb_avx512.h - the SHA-1 rounds of the AVX-512 multi-buffer kernels
 * (sha1_mb_avx512.c, sha1_mbgt_avx512.c): 16 lanes, one message per 32-bit
 * lane of a zmm register. Only for files compiled with ISA_avx512; the
 * kernels differ in how message words reach the vectors, not in the rounds.
 */
#ifndef DDX_SHA1_MB_AVX512_H
#define DDX_SHA1_MB_AVX512_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

/* sha1_mb_avx512.c's block runner (the ddx_mb_kernel blocks interface,
 * 16 lanes): sha1_mbgt_avx512.c hands it the short runs. */
void ddx_sha1_mb_avx512_blocks16(uint32_t *state, const uint8_t *const *ptr, size_t nblocks);

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

/* Five rounds bring the names back to (a, b, c, d, e). R is RS, or a kernel's
 * wrapper of it that hangs other work on some rounds. */
#define R5(R, f, k, t)                                                                             \
    do {                                                                                           \
        R(a, b, c, d, e, f, k, (t));                                                               \
        R(e, a, b, c, d, f, k, (t) + 1);                                                           \
        R(d, e, a, b, c, f, k, (t) + 2);                                                           \
        R(c, d, e, a, b, f, k, (t) + 3);                                                           \
        R(b, c, d, e, a, f, k, (t) + 4);                                                           \
    } while (0)

/* The 80 rounds of one block: state in a..e, message words in w[16]. */
#define ROUNDS80(R)                                                                                \
    do {                                                                                           \
        R5(R, F_CH, K0, 0);                                                                        \
        R5(R, F_CH, K0, 5);                                                                        \
        R5(R, F_CH, K0, 10);                                                                       \
        R5(R, F_CH, K0, 15);                                                                       \
        R5(R, F_PARITY, K1, 20);                                                                   \
        R5(R, F_PARITY, K1, 25);                                                                   \
        R5(R, F_PARITY, K1, 30);                                                                   \
        R5(R, F_PARITY, K1, 35);                                                                   \
        R5(R, F_MAJ, K2, 40);                                                                      \
        R5(R, F_MAJ, K2, 45);                                                                      \
        R5(R, F_MAJ, K2, 50);                                                                      \
        R5(R, F_MAJ, K2, 55);                                                                      \
        R5(R, F_PARITY, K3, 60);                                                                   \
        R5(R, F_PARITY, K3, 65);                                                                   \
        R5(R, F_PARITY, K3, 70);                                                                   \
        R5(R, F_PARITY, K3, 75);                                                                   \
    } while (0)

#endif
