/*
 * sha256_shani.c - SHA-256 with the x86 SHA extensions, 1, 2 or 4 messages at a time.
 *
 * sha256rnds2 does two rounds, and each round depends on the one before, so a
 * single message is bound by the instruction's latency: the SHA unit could
 * start a new sha256rnds2 every cycle or two but waits several for the
 * previous result. Hashing 2 or 4 independent messages in one loop gives the
 * core that many independent chains to overlap, which is the whole point of
 * the _x2 and _x4 kernels; the per-lane code is identical. Measured on Zen 4
 * (sha256rnds2: 4 cycles latency, one per cycle): 1 lane is latency bound at
 * ~128 cycles a block, 2 lanes at ~64, and 4 lanes reach the SHA unit's
 * throughput, ~66 cycles a block, of which the message schedule (sha256msg2
 * holds the unit for 2 cycles) is about a third; more lanes would not help,
 * and SSE has only 16 registers for them anyway.
 *
 * State layout. sha256rnds2 wants the eight working variables as two vectors,
 * {A,B,E,F} and {C,D,G,H} (A in the top lane). The state is kept in that form
 * from the initial value (written directly in that order below) to the final
 * digest, so no per-block shuffling is needed; only the output is reordered.
 *
 * Lanes (the driver lives in sha_lanes.c, shared with SHA-1 / SHA-256).
 * x2/x4 keep a lane per message being hashed. A lane walks through two
 * segments: the message's whole 64-byte blocks, read in place, then the 1 or
 * 2 padded final blocks, built in the lane's own 128-byte buffer so nothing
 * past the end of the message is ever read. The block loop runs all lanes
 * for as many blocks as the shortest segment has left; then the finished
 * lanes move on (body -> tail -> digest and the batch's next message). When
 * the batch runs out of messages, lanes go idle and the loop drops to the
 * 2-lane and then the 1-lane kernel for what is left, rather than padding
 * with dummy work.
 */
#include <immintrin.h>
#include <string.h>

#include "hash_impl.h"
#include "sha_lanes.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* Round constants: ddx_sha256_k (sha_ref.c, 64-byte aligned), read four per
 * vector so each group of four rounds adds them with one paddd. */

#define MAX_LANES 4

/* Hash state in sha256rnds2's layout. */
typedef struct sha256_state {
    __m128i abef; /* lanes 3..0: A, B, E, F */
    __m128i cdgh; /* lanes 3..0: C, D, G, H */
} sha256_state;

static void state_load(void *vs, const uint32_t *h)
{
    sha256_state *s = vs;
    /* H0..H7 = A..H, placed in the rounds' layout. */
    s->abef = _mm_set_epi32((int)h[0], (int)h[1], (int)h[4], (int)h[5]);
    s->cdgh = _mm_set_epi32((int)h[2], (int)h[3], (int)h[6], (int)h[7]);
}

static void state_store(const void *vs, uint8_t *out)
{
    const sha256_state *s = vs;
    /* Reversing all 16 bytes of {D,C,B,A} (lane 0 first) writes A,B,C,D as
     * big-endian words in that order; likewise {H,G,F,E}. */
    const __m128i rev = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m128i dcba = _mm_unpackhi_epi64(s->cdgh, s->abef);
    __m128i hgfe = _mm_unpacklo_epi64(s->cdgh, s->abef);
    _mm_storeu_si128((__m128i *)out, _mm_shuffle_epi8(dcba, rev));
    _mm_storeu_si128((__m128i *)(out + 16), _mm_shuffle_epi8(hgfe, rev));
}

/*
 * Four rounds. wk holds W[t..t+3] + K[t..t+3]; sha256rnds2 uses its low two
 * words. After the first call the old {A,B,E,F} is, by the rotation of the
 * working variables, the new {C,D,G,H}, so the two calls ping-pong between
 * the two vectors and leave them in the right roles.
 */
static ALWAYS_INLINE void rounds4(__m128i *abef, __m128i *cdgh, __m128i wk)
{
    *cdgh = _mm_sha256rnds2_epu32(*cdgh, *abef, wk);
    *abef = _mm_sha256rnds2_epu32(*abef, *cdgh, _mm_shuffle_epi32(wk, 0x0e));
}

/*
 * Message schedule (6.2.2 step 1) for W[t..t+3] from the previous sixteen
 * words w0 = W[t-16..t-13], ..., w3 = W[t-4..t-1]: sha256msg1 adds
 * sigma0(W[t-15..]), the alignr supplies W[t-7..t-4], and sha256msg2 adds
 * sigma1 of W[t-2], W[t-1] and of the two words it has just produced.
 */
static ALWAYS_INLINE __m128i schedule(__m128i w0, __m128i w1, __m128i w2, __m128i w3)
{
    __m128i x = _mm_add_epi32(_mm_sha256msg1_epu32(w0, w1), _mm_alignr_epi8(w3, w2, 4));
    return _mm_sha256msg2_epu32(x, w3);
}

/* Rounds 4g..4g+3 on words loaded from the block (g < 4), for each lane of
 * blocks_n(). */
#define LOAD_GROUP(g)                                                                              \
    for (int l = 0; l < lanes; l++) {                                                              \
        w[l][g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p[l] + 16 * (g))), bswap);    \
        rounds4(&abef[l], &cdgh[l], _mm_add_epi32(w[l][g], _mm_load_si128(k + (g))));              \
    }
/* Rounds 4g..4g+3 on scheduled words (g >= 4); W[t-16..t-13] is replaced. */
#define SCHED_GROUP(g)                                                                             \
    for (int l = 0; l < lanes; l++) {                                                              \
        w[l][(g)&3] =                                                                              \
            schedule(w[l][(g)&3], w[l][((g) + 1) & 3], w[l][((g) + 2) & 3], w[l][((g) + 3) & 3]);  \
        rounds4(&abef[l], &cdgh[l], _mm_add_epi32(w[l][(g)&3], _mm_load_si128(k + (g))));          \
    }

/*
 * Compress nblocks consecutive 64-byte blocks for each of `lanes` messages.
 * Always inlined with a constant lane count, so the lane loops unroll and the
 * lanes' rounds interleave instruction by instruction. The sixteen groups of
 * four rounds are written out because the message words live in a ring of
 * four vectors per lane, whose indices must be constants to stay in
 * registers.
 */
static ALWAYS_INLINE void blocks_n(int lanes, sha256_state *const *st, const uint8_t *const *src,
                                   size_t nblocks)
{
    const __m128i bswap = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
    const __m128i *k = (const __m128i *)ddx_sha256_k;
    __m128i abef[MAX_LANES], cdgh[MAX_LANES], w[MAX_LANES][4];
    const uint8_t *p[MAX_LANES];

    for (int l = 0; l < lanes; l++) {
        abef[l] = st[l]->abef;
        cdgh[l] = st[l]->cdgh;
        p[l] = src[l];
    }
    while (nblocks--) {
        __m128i abef0[MAX_LANES], cdgh0[MAX_LANES];
        for (int l = 0; l < lanes; l++) {
            abef0[l] = abef[l];
            cdgh0[l] = cdgh[l];
        }
        LOAD_GROUP(0)
        LOAD_GROUP(1)
        LOAD_GROUP(2)
        LOAD_GROUP(3)
        SCHED_GROUP(4)
        SCHED_GROUP(5)
        SCHED_GROUP(6)
        SCHED_GROUP(7)
        SCHED_GROUP(8)
        SCHED_GROUP(9)
        SCHED_GROUP(10)
        SCHED_GROUP(11)
        SCHED_GROUP(12)
        SCHED_GROUP(13)
        SCHED_GROUP(14)
        SCHED_GROUP(15)
        for (int l = 0; l < lanes; l++) {
            abef[l] = _mm_add_epi32(abef[l], abef0[l]);
            cdgh[l] = _mm_add_epi32(cdgh[l], cdgh0[l]);
            p[l] += 64;
        }
    }
    for (int l = 0; l < lanes; l++) {
        st[l]->abef = abef[l];
        st[l]->cdgh = cdgh[l];
    }
}

/* One instance per lane count; noinline keeps three copies of the rounds,
 * not one per call site. */
static __attribute__((noinline)) void blocks_x1(void *st, const uint8_t *p, size_t nblocks)
{
    sha256_state *s = st;
    blocks_n(1, &s, &p, nblocks);
}

static __attribute__((noinline)) void blocks_x2(void *const *st, const uint8_t *const *p,
                                                size_t nblocks)
{
    sha256_state *s[2];
    for (int i = 0; i < 2; i++)
        s[i] = st[i];
    blocks_n(2, s, p, nblocks);
}

static __attribute__((noinline)) void blocks_x4(void *const *st, const uint8_t *const *p,
                                                size_t nblocks)
{
    sha256_state *s[4];
    for (int i = 0; i < 4; i++)
        s[i] = st[i];
    blocks_n(4, s, p, nblocks);
}

_Static_assert(sizeof(sha256_state) <= DDX_SHA_STATE_BYTES, "lane state too small");

const ddx_sha_lanes ddx_sha256_shani_lanes = {32,        ddx_sha256_iv, state_load, state_store,
                                              blocks_x1, blocks_x2,     blocks_x4};

void ddx_sha256_shani_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out)
{
    ddx_sha_lanes_one(&ddx_sha256_shani_lanes, msgs, n, out);
}

void ddx_sha256_shani_x2_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out)
{
    ddx_sha_lanes_run(&ddx_sha256_shani_lanes, msgs, n, out, 2);
}

void ddx_sha256_shani_x4_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out)
{
    ddx_sha_lanes_run(&ddx_sha256_shani_lanes, msgs, n, out, 4);
}
