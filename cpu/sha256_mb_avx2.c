/*
 * sha256_mb_avx2.c - multi-buffer SHA-256, 8 messages at a time in ymm
 * registers (one message per 32-bit lane); hash_mb.c feeds the lanes.
 *
 * Why it is shaped this way:
 *   - AVX2 has no rotate and no three-input logic op, so every rotate is two
 *     shifts and an XOR (the halves never overlap, so XOR works as OR).
 *     Sigma0/Sigma1 are six shifts in one flat XOR tree: the same op count as
 *     three rotates, with a shorter dependency chain. About 35 ops per round
 *     and 21 per schedule word against 17 and 11 zmm ops with AVX-512, for
 *     half the lanes: this kernel is the fallback for CPUs without AVX-512.
 *   - Maj(a, b, c) = b ^ ((a ^ b) & (b ^ c)), and b ^ c of a round is a ^ b
 *     of the round before, so Maj costs three ops instead of four.
 *   - As in the AVX-512 kernel, PIN keeps the compiler from reassociating a
 *     round's adds (K last, on the e -> e chain), and the message schedule
 *     runs eight rounds ahead of its use.
 *   - The input transpose avoids cross-lane shuffles: a ymm gets words
 *     4q..4q+3 of lanes s and s+4 from one 128-bit load and one vinserti128
 *     from memory, then two unpack stages finish a 4x4 transpose inside each
 *     128-bit half.
 *   - The state stays in registers for the whole nblocks run. Only 16 ymm
 *     registers exist, so part of the 16-word schedule window lives on the
 *     stack (the compiler spills it; those reloads go to the load ports).
 *   - Each lane's next block is prefetched (one block ahead measured best).
 */
#include <immintrin.h>
#include <stdint.h>

#include "hash_impl.h"
#include "hash_mb.h"

/* When the rest of a batch goes to SHA-NI (hash_mb.h): about 100 x
 * sha256-shani-x4's rate over this kernel's (3.3 / 1.7 GB/s): even a full
 * batch end is finished sooner there. Swept as for sha256_mb_avx512.c
 * (median of 7): FastCDC chunks 1.41 GB/s never, 1.59-1.70 from 30 on; 8 KiB
 * messages 1.61 never, 1.71-1.77 from 110. */
#define DRAIN_PCT 190
#define LANES 8
/* Blocks ahead to prefetch. A block of all lanes takes ~1000 cycles, so one
 * block ahead already covers DRAM latency; measured, 1 was as fast as 4 at
 * 8 KiB messages and ~1% faster at 4 KiB (as for the AVX-512 kernel, where
 * the gap is larger). */
#define PREFETCH_AHEAD 1

#define ADD(x, y) _mm256_add_epi32(x, y)
#define XOR(x, y) _mm256_xor_si256(x, y)
#define SHR(x, n) _mm256_srli_epi32(x, n)
#define SHL(x, n) _mm256_slli_epi32(x, n)
/* ror(x, r) ^ ror(x, s) ^ ror(x, t) as six shifts in one XOR tree. */
#define ROR3(x, r, s, t)                                                                           \
    XOR(XOR(XOR(SHR(x, r), SHL(x, 32 - (r))), XOR(SHR(x, s), SHL(x, 32 - (s)))),                   \
        XOR(SHR(x, t), SHL(x, 32 - (t))))
#define BSIG0(x) ROR3(x, 2, 13, 22)
#define BSIG1(x) ROR3(x, 6, 11, 25)
/* ror(x, r) ^ ror(x, s) ^ (x >> u) */
#define SSIG(x, r, s, u)                                                                           \
    XOR(XOR(XOR(SHR(x, r), SHL(x, 32 - (r))), XOR(SHR(x, s), SHL(x, 32 - (s)))), SHR(x, u))
#define SSIG0(x) SSIG(x, 7, 18, 3)
#define SSIG1(x) SSIG(x, 17, 19, 10)

/* An empty asm that claims to change x: the compiler must materialize x here
 * and cannot reassociate the adds around it. Costs no instruction. */
#define PIN(x) __asm__("" : "+x"(x))

/* One round; the caller rotates the roles of a..h instead of moving values.
 * bc holds b ^ c on entry and a ^ b (the next round's b ^ c) on exit.
 * Sum order: (h + (W + K)) + Ch(e, f, g) + Sigma1(e), so only the last two
 * adds wait for e; Sigma0(a) + Maj(a, b, c) is formed on the side. */
#define ROUND(a, b, c, d, e, f, g, h, w, t)                                                        \
    do {                                                                                           \
        __m256i ch_ = XOR(_mm256_and_si256(XOR(f, g), e), g);                                      \
        __m256i t1_ = ADD(h, ADD(w, _mm256_set1_epi32((int)ddx_sha256_k[t])));                     \
        PIN(t1_);                                                                                  \
        t1_ = ADD(t1_, ch_);                                                                       \
        PIN(t1_);                                                                                  \
        t1_ = ADD(t1_, BSIG1(e));                                                                  \
        __m256i ab_ = XOR(a, b);                                                                   \
        __m256i maj_ = XOR(b, _mm256_and_si256(ab_, bc));                                          \
        bc = ab_;                                                                                  \
        d = ADD(d, t1_);                                                                           \
        __m256i s0m_ = ADD(BSIG0(a), maj_);                                                        \
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

/* Words 4q..4q+3 of one block of all 8 lanes, byte-swapped, into w[4q..4q+3].
 * x[s] holds words 4q..4q+3 of lane s in its low half and of lane s+4 in its
 * high half; a 4x4 dword transpose inside each half then leaves word 4q+j of
 * lane 4c+i in dword i of half c of w[4q+j], i.e. lane order. */
static inline void load_quarter(__m256i *w, const uint8_t *const *p, size_t off, unsigned q)
{
    const __m256i bswap = _mm256_broadcastsi128_si256(
        _mm_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12));
    __m256i x[4];
    for (unsigned s = 0; s < 4; s++)
        x[s] = _mm256_inserti128_si256(
            _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(p[s] + off + 16 * q))),
            _mm_loadu_si128((const __m128i *)(p[4 + s] + off + 16 * q)), 1);
    __m256i t0 = _mm256_unpacklo_epi32(x[0], x[1]); /* s0w0 s1w0 s0w1 s1w1 */
    __m256i t1 = _mm256_unpackhi_epi32(x[0], x[1]); /* s0w2 s1w2 s0w3 s1w3 */
    __m256i t2 = _mm256_unpacklo_epi32(x[2], x[3]);
    __m256i t3 = _mm256_unpackhi_epi32(x[2], x[3]);
    w[4 * q + 0] = _mm256_shuffle_epi8(_mm256_unpacklo_epi64(t0, t2), bswap);
    w[4 * q + 1] = _mm256_shuffle_epi8(_mm256_unpackhi_epi64(t0, t2), bswap);
    w[4 * q + 2] = _mm256_shuffle_epi8(_mm256_unpacklo_epi64(t1, t3), bswap);
    w[4 * q + 3] = _mm256_shuffle_epi8(_mm256_unpackhi_epi64(t1, t3), bswap);
}

/* A prefetch never faults, so one past a lane's last block is harmless; the
 * address is formed as an integer because pointer arithmetic beyond the
 * object would be undefined. */
static inline void prefetch_block(const uint8_t *p, size_t block)
{
    _mm_prefetch((const char *)((uintptr_t)p + 64 * block), _MM_HINT_T0);
}

static void sha256_x8_blocks(uint32_t *state, const uint8_t *const *ptr, size_t nblocks)
{
    __m256i a = _mm256_loadu_si256((const __m256i *)(state + 0 * LANES));
    __m256i b = _mm256_loadu_si256((const __m256i *)(state + 1 * LANES));
    __m256i c = _mm256_loadu_si256((const __m256i *)(state + 2 * LANES));
    __m256i d = _mm256_loadu_si256((const __m256i *)(state + 3 * LANES));
    __m256i e = _mm256_loadu_si256((const __m256i *)(state + 4 * LANES));
    __m256i f = _mm256_loadu_si256((const __m256i *)(state + 5 * LANES));
    __m256i g = _mm256_loadu_si256((const __m256i *)(state + 6 * LANES));
    __m256i h = _mm256_loadu_si256((const __m256i *)(state + 7 * LANES));

    for (size_t blk = 0; blk < nblocks; blk++) {
        size_t off = 64 * blk;
        for (unsigned l = 0; l < LANES; l++)
            prefetch_block(ptr[l], blk + PREFETCH_AHEAD);

        __m256i w[16];
        for (unsigned q = 0; q < 4; q++)
            load_quarter(w, ptr, off, q);

        __m256i a0 = a, b0 = b, c0 = c, d0 = d, e0 = e, f0 = f, g0 = g, h0 = h;
        __m256i bc = XOR(b, c);
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

    _mm256_storeu_si256((__m256i *)(state + 0 * LANES), a);
    _mm256_storeu_si256((__m256i *)(state + 1 * LANES), b);
    _mm256_storeu_si256((__m256i *)(state + 2 * LANES), c);
    _mm256_storeu_si256((__m256i *)(state + 3 * LANES), d);
    _mm256_storeu_si256((__m256i *)(state + 4 * LANES), e);
    _mm256_storeu_si256((__m256i *)(state + 5 * LANES), f);
    _mm256_storeu_si256((__m256i *)(state + 6 * LANES), g);
    _mm256_storeu_si256((__m256i *)(state + 7 * LANES), h);
}

static const ddx_mb_kernel sha256_x8 = {LANES, 8, ddx_sha256_iv, sha256_x8_blocks, DRAIN_PCT};

void ddx_sha256_mb_avx2_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out)
{
    ddx_mb_run(&sha256_x8, msgs, n, out);
}
