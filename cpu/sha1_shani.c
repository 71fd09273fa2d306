/*
 * sha1_shani.c - SHA-1 with the x86 SHA extensions, 1, 2 or 4 messages at a time.
 *
 * sha1rnds4 does four rounds, each group depending on the one before, so a
 * single message waits on the instruction's latency while the SHA unit could
 * accept more work. The _x2 and _x4 kernels hash 2 or 4 independent messages
 * in one loop so their dependency chains overlap; the per-lane code is the
 * same as for one message. Measured on Zen 4 (sha1rnds4: 6 cycles latency,
 * one every 2 cycles): 1 lane takes ~120 cycles a block, 2 lanes ~68, 4 lanes
 * ~52, against a floor of 40 (20 sha1rnds4 at one per 2 cycles).
 *
 * State layout. sha1rnds4 takes {A,B,C,D} in one vector (A in the top lane)
 * and E, already added to the first message word, in the top lane of the
 * other. sha1nexte produces the next group's E (A of four rounds earlier,
 * rotated left by 30) and adds it to the next message words in one step, so
 * E is never kept as a working variable; between blocks it sits in the top
 * lane of a vector whose other lanes are zero.
 *
 * Lanes (the driver in sha_lanes.c, shared with sha256_shani.c): a lane
 * walks a message's whole 64-byte blocks in place, then its 1 or 2 padded
 * final blocks from the lane's own 128-byte buffer (nothing past the end of
 * the message is read). All lanes run for as many blocks as the shortest
 * segment has left; finished lanes take the batch's next message, and once
 * there is none the loop drops to the 2-lane and then the 1-lane kernel.
 */
#include <immintrin.h>
#include <string.h>

#include "hash_impl.h"
#include "sha_lanes.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

#define MAX_LANES 4

/* Hash state in sha1rnds4's layout. */
typedef struct sha1_state {
    __m128i abcd; /* lanes 3..0: A, B, C, D */
    __m128i e;    /* lane 3: E; lanes 2..0: zero (they become W[t+1..t+3]) */
} sha1_state;

static void state_load(void *vs, const uint32_t *h)
{
    sha1_state *s = vs;
    s->abcd = _mm_set_epi32((int)h[0], (int)h[1], (int)h[2], (int)h[3]);
    s->e = _mm_set_epi32((int)h[4], 0, 0, 0);
}

static void state_store(const void *vs, uint8_t *out)
{
    const sha1_state *s = vs;
    /* Reversing all 16 bytes of {D,C,B,A} (lane 0 first) writes A..D as
     * big-endian words in that order. */
    const __m128i rev = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    uint32_t e = __builtin_bswap32((uint32_t)_mm_extract_epi32(s->e, 3));
    _mm_storeu_si128((__m128i *)out, _mm_shuffle_epi8(s->abcd, rev));
    memcpy(out + 16, &e, 4);
}

/*
 * Message schedule (6.1.2 step 1) for W[t..t+3], from w0 = W[t-16..t-13],
 * ..., w3 = W[t-4..t-1] (W[t-16] in the top lane): sha1msg1 xors in
 * W[t-14..t-11], the xor adds W[t-8..t-5], and sha1msg2 xors W[t-3..] (two of
 * which it has just produced) and rotates.
 */
static ALWAYS_INLINE __m128i schedule(__m128i w0, __m128i w1, __m128i w2, __m128i w3)
{
    return _mm_sha1msg2_epu32(_mm_xor_si128(_mm_sha1msg1_epu32(w0, w1), w2), w3);
}

/*
 * Rounds 4g..4g+3 for each lane of blocks_n(), f the round function (0: Ch,
 * 1: Parity, 2: Maj, 3: Parity), a literal because sha1rnds4 takes it as an
 * immediate. prev[l] is {A,B,C,D} as it was four rounds ago, from which
 * sha1nexte makes this group's E.
 */
#define LOAD_GROUP(g)                                                                              \
    for (int l = 0; l < lanes; l++) {                                                              \
        w[l][g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p[l] + 16 * (g))), rev);      \
        __m128i e =                                                                                \
            (g) == 0 ? _mm_add_epi32(e_in[l], w[l][g]) : _mm_sha1nexte_epu32(prev[l], w[l][g]);    \
        prev[l] = abcd[l];                                                                         \
        abcd[l] = _mm_sha1rnds4_epu32(abcd[l], e, 0);                                              \
    }
#define SCHED_GROUP(g, f)                                                                          \
    for (int l = 0; l < lanes; l++) {                                                              \
        w[l][(g)&3] =                                                                              \
            schedule(w[l][(g)&3], w[l][((g) + 1) & 3], w[l][((g) + 2) & 3], w[l][((g) + 3) & 3]);  \
        __m128i e = _mm_sha1nexte_epu32(prev[l], w[l][(g)&3]);                                     \
        prev[l] = abcd[l];                                                                         \
        abcd[l] = _mm_sha1rnds4_epu32(abcd[l], e, f);                                              \
    }

/*
 * Compress nblocks consecutive 64-byte blocks for each of `lanes` messages.
 * Always inlined with a constant lane count, so the lane loops unroll and the
 * lanes' rounds interleave instruction by instruction. The twenty groups are
 * written out: the message words live in a ring of four vectors per lane
 * whose indices must be constants to stay in registers, and the round
 * function is an immediate.
 */
static ALWAYS_INLINE void blocks_n(int lanes, sha1_state *const *st, const uint8_t *const *src,
                                   size_t nblocks)
{
    const __m128i rev = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m128i abcd[MAX_LANES], e_in[MAX_LANES], prev[MAX_LANES], w[MAX_LANES][4];
    const uint8_t *p[MAX_LANES];

    for (int l = 0; l < lanes; l++) {
        abcd[l] = st[l]->abcd;
        e_in[l] = st[l]->e;
        p[l] = src[l];
    }
    while (nblocks--) {
        __m128i abcd0[MAX_LANES];
        for (int l = 0; l < lanes; l++)
            abcd0[l] = abcd[l];
        LOAD_GROUP(0)
        LOAD_GROUP(1)
        LOAD_GROUP(2)
        LOAD_GROUP(3)
        SCHED_GROUP(4, 0)
        SCHED_GROUP(5, 1)
        SCHED_GROUP(6, 1)
        SCHED_GROUP(7, 1)
        SCHED_GROUP(8, 1)
        SCHED_GROUP(9, 1)
        SCHED_GROUP(10, 2)
        SCHED_GROUP(11, 2)
        SCHED_GROUP(12, 2)
        SCHED_GROUP(13, 2)
        SCHED_GROUP(14, 2)
        SCHED_GROUP(15, 3)
        SCHED_GROUP(16, 3)
        SCHED_GROUP(17, 3)
        SCHED_GROUP(18, 3)
        SCHED_GROUP(19, 3)
        /* Feed-forward (step 4): E is rol30 of A before the last group, and
         * its zero lanes stay zero because e_in's are. */
        for (int l = 0; l < lanes; l++) {
            e_in[l] = _mm_sha1nexte_epu32(prev[l], e_in[l]);
            abcd[l] = _mm_add_epi32(abcd[l], abcd0[l]);
            p[l] += 64;
        }
    }
    for (int l = 0; l < lanes; l++) {
        st[l]->abcd = abcd[l];
        st[l]->e = e_in[l];
    }
}

/* One instance per lane count; noinline keeps three copies of the rounds,
 * not one per call site. */
static __attribute__((noinline)) void blocks_x1(void *st, const uint8_t *p, size_t nblocks)
{
    sha1_state *s = st;
    blocks_n(1, &s, &p, nblocks);
}

static __attribute__((noinline)) void blocks_x2(void *const *st, const uint8_t *const *p,
                                                size_t nblocks)
{
    sha1_state *s[2];
    for (int i = 0; i < 2; i++)
        s[i] = st[i];
    blocks_n(2, s, p, nblocks);
}

static __attribute__((noinline)) void blocks_x4(void *const *st, const uint8_t *const *p,
                                                size_t nblocks)
{
    sha1_state *s[4];
    for (int i = 0; i < 4; i++)
        s[i] = st[i];
    blocks_n(4, s, p, nblocks);
}

_Static_assert(sizeof(sha1_state) <= DDX_SHA_STATE_BYTES, "lane state too small");

const ddx_sha_lanes ddx_sha1_shani_lanes = {20,        ddx_sha1_iv, state_load, state_store,
                                            blocks_x1, blocks_x2,   blocks_x4};

void ddx_sha1_shani_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out)
{
    ddx_sha_lanes_one(&ddx_sha1_shani_lanes, msgs, n, out);
}

void ddx_sha1_shani_x2_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out)
{
    ddx_sha_lanes_run(&ddx_sha1_shani_lanes, msgs, n, out, 2);
}

void ddx_sha1_shani_x4_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out)
{
    ddx_sha_lanes_run(&ddx_sha1_shani_lanes, msgs, n, out, 4);
}
