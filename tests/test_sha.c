/*
 * test_sha.c - the fingerprint paths against each other and against FIPS 180.
 *
 * The reference SHA-1/SHA-256 (cpu/sha_ref.c) is the oracle later SIMD and GPU
 * kernels are tested against, so it is pinned here first: known answers from
 * the FIPS 180 examples, then byte-for-byte agreement with OpenSSL on every
 * length across the padding boundaries, on every input class of testutil.h,
 * at odd start addresses (the reference loads bytes one at a time and must not
 * care about alignment). ddx_hash2 must equal ddx_hash of the concatenation at
 * every split point, since the engine uses it for chunks that cross a batch
 * edge.
 *
 * Random inputs come from tu_seed(); a failure prints the class, length and
 * offset, and DDX_TEST_SEED replays it.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hash_impl.h"
#include "testutil.h"

typedef void (*ref_fn)(const void *p, size_t n, uint8_t *out);

/* One row per algorithm so every property is checked for both. */
static const struct algo {
    const char *name;
    ddx_hash_kind kind;
    size_t size;
    ref_fn ref;
} algos[] = {
    {"sha1", DDX_HASH_SHA1, 20, ddx_sha1_ref},
    {"sha256", DDX_HASH_SHA256, 32, ddx_sha256_ref},
};
#define NALGO (sizeof algos / sizeof algos[0])
/* `at` names what `pos` is: the start offset, or the split point for hash2. */
static void expect_same(const uint8_t *got, const uint8_t *want, size_t n, const char *what,
                        const char *algo, const char *cls, size_t len, const char *at, size_t pos)
{
    char g[2 * DDX_FP_MAX + 1], w[2 * DDX_FP_MAX + 1];
    tu_hex(got, n, g);
    tu_hex(want, n, w);
    cr_assert_str_eq(g, w, "%s %s: class %s, length %zu, %s %zu:\n  got  %s\n  want %s", algo, what,
                     cls, len, at, pos, g, w);
}

static void open_hasher(ddx_hasher *h, ddx_hash_kind kind)
{
    int rc = ddx_hasher_init(h, kind);
    cr_assert_eq(rc, 0, "ddx_hasher_init(%d) returned %d", (int)kind, rc);
    cr_assert_eq(h->size, ddx_hash_size(kind));
}

static uint8_t *xmalloc(size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    cr_assert_not_null(p, "malloc(%zu)", n);
    return p;
}

/* ---- known answers ------------------------------------------------------ */

/* FIPS 180 example messages and their published digests. A message is text
 * repeated `repeat` times (the million-'a' example). */
static const struct kat {
    const char *text;
    size_t repeat;
    const char *sha1;
    const char *sha256;
} kats[] = {
    {"", 1, "da39a3ee5e6b4b0d3255bfef95601890afd80709",
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc", 1, "a9993e364706816aba3e25717850c26c9cd0d89d",
     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
     "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnop"
     "qrsmnopqrstnopqrstu",
     1, "a49b2446a02c645bf419f995b67091253a04a259",
     "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    {"a", 1000000, "34aa973cd4c4daa4f61eeb2bdbad27316534016f",
     "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
};
#define NKAT (sizeof kats / sizeof kats[0])

Test(sha, known_answers)
{
    for (size_t a = 0; a < NALGO; a++) {
        const struct algo *al = &algos[a];
        ddx_hasher h;
        open_hasher(&h, al->kind);
        for (size_t k = 0; k < NKAT; k++) {
            size_t tl = strlen(kats[k].text), n = tl * kats[k].repeat;
            uint8_t *msg = xmalloc(n);
            for (size_t r = 0; r < kats[k].repeat; r++)
                memcpy(msg + r * tl, kats[k].text, tl);
            const char *want = al->kind == DDX_HASH_SHA1 ? kats[k].sha1 : kats[k].sha256;
            uint8_t d[DDX_FP_MAX];
            char hex[2 * DDX_FP_MAX + 1];

            al->ref(msg, n, d);
            tu_hex(d, al->size, hex);
            cr_expect_str_eq(hex, want, "%s ref, FIPS example %zu (%zu bytes)", al->name, k, n);

            cr_assert_eq(ddx_hash(&h, msg, n, d), 0);
            tu_hex(d, al->size, hex);
            cr_expect_str_eq(hex, want, "%s openssl, FIPS example %zu (%zu bytes)", al->name, k, n);
            free(msg);
        }
        ddx_hasher_free(&h);
    }
}

/* The reference promises to accept (NULL, 0): the engine never passes it, but
 * a kernel test harness might for an empty lane. */
Test(sha, ref_null_empty)
{
    uint8_t d[DDX_FP_MAX];
    char hex[2 * DDX_FP_MAX + 1];
    ddx_sha1_ref(NULL, 0, d);
    tu_hex(d, 20, hex);
    cr_expect_str_eq(hex, kats[0].sha1);
    ddx_sha256_ref(NULL, 0, d);
    tu_hex(d, 32, hex);
    cr_expect_str_eq(hex, kats[0].sha256);
}

/* ---- reference == OpenSSL ----------------------------------------------- */

#define SMALL_MAX 4097
#define MAX_OFF 7

/* Every length 0..4097 covers each padding case (remainder < 56, 56..63, 0)
 * many times over. The start offset cycles through 1..7 with the length so
 * every (length mod 64, misalignment) pair is reached within the range. */
Test(sha, ref_eq_openssl_all_small_lengths)
{
    uint8_t *buf = xmalloc(SMALL_MAX + MAX_OFF + 1);
    uint64_t seed = tu_seed() ^ 0x5ba11u;
    for (size_t a = 0; a < NALGO; a++) {
        const struct algo *al = &algos[a];
        ddx_hasher h;
        open_hasher(&h, al->kind);
        for (int c = 0; c < TU_NCLASS; c++) {
            tu_fill(buf, SMALL_MAX + MAX_OFF + 1, (enum tu_class)c, seed + (uint64_t)c);
            for (size_t len = 0; len <= SMALL_MAX; len++) {
                size_t off = 1 + (len + (size_t)c) % MAX_OFF;
                uint8_t want[DDX_FP_MAX], got[DDX_FP_MAX];
                al->ref(buf + off, len, got);
                cr_assert_eq(ddx_hash(&h, buf + off, len, want), 0);
                expect_same(got, want, al->size, "ref vs openssl", al->name, tu_class_name[c], len,
                            "offset", off);
            }
        }
        ddx_hasher_free(&h);
    }
    free(buf);
}

#define BIG_MAX (1u << 20)
#define BIG_PER_CLASS 6

/* Long messages: many blocks through the compression function, with the bit
 * length's upper bytes non-zero. The exact 1 MiB length is always included. */
Test(sha, ref_eq_openssl_random_large_lengths)
{
    uint8_t *buf = xmalloc(BIG_MAX + MAX_OFF + 1);
    uint64_t s = tu_seed() ^ 0xb16u;
    for (int c = 0; c < TU_NCLASS; c++) {
        tu_fill(buf, BIG_MAX + MAX_OFF + 1, (enum tu_class)c, tu_splitmix(&s));
        for (int i = 0; i < BIG_PER_CLASS; i++) {
            size_t len = i == 0 ? BIG_MAX : (size_t)(tu_splitmix(&s) % (BIG_MAX + 1));
            size_t off = 1 + (size_t)(tu_splitmix(&s) % MAX_OFF);
            for (size_t a = 0; a < NALGO; a++) {
                const struct algo *al = &algos[a];
                ddx_hasher h;
                uint8_t want[DDX_FP_MAX], got[DDX_FP_MAX];
                open_hasher(&h, al->kind);
                al->ref(buf + off, len, got);
                cr_assert_eq(ddx_hash(&h, buf + off, len, want), 0);
                ddx_hasher_free(&h);
                expect_same(got, want, al->size, "ref vs openssl", al->name, tu_class_name[c], len,
                            "offset", off);
            }
        }
    }
    free(buf);
}

/* ---- ddx_hash2 ---------------------------------------------------------- */

#define SPLIT_LEN 300

/* Every split of a 300-byte message: empty first piece, empty second piece,
 * and splits on and off the 64-byte block edges. */
Test(sha, hash2_every_split_point)
{
    uint8_t msg[SPLIT_LEN];
    tu_fill(msg, sizeof msg, TU_RANDOM, tu_seed() ^ 0x2u);
    for (size_t a = 0; a < NALGO; a++) {
        const struct algo *al = &algos[a];
        ddx_hasher h;
        uint8_t whole[DDX_FP_MAX], ref[DDX_FP_MAX];
        open_hasher(&h, al->kind);
        cr_assert_eq(ddx_hash(&h, msg, SPLIT_LEN, whole), 0);
        al->ref(msg, SPLIT_LEN, ref);
        expect_same(whole, ref, al->size, "hash vs ref", al->name, "random", SPLIT_LEN, "offset",
                    0);
        for (size_t k = 0; k <= SPLIT_LEN; k++) {
            uint8_t two[DDX_FP_MAX];
            cr_assert_eq(ddx_hash2(&h, msg, k, msg + k, SPLIT_LEN - k, two), 0);
            expect_same(two, whole, al->size, "hash2 vs hash", al->name, "random", SPLIT_LEN,
                        "split", k);
        }
        ddx_hasher_free(&h);
    }
}

#define SPLIT_BIG 8

/* Large messages split at random points; the two pieces are separate
 * allocations, as they are for a chunk that spans two batch buffers. */
Test(sha, hash2_random_large_splits)
{
    uint64_t s = tu_seed() ^ 0x22u;
    uint8_t *buf = xmalloc(BIG_MAX);
    for (int i = 0; i < SPLIT_BIG; i++) {
        enum tu_class c = (enum tu_class)(i % TU_NCLASS);
        size_t len = (size_t)(tu_splitmix(&s) % (BIG_MAX + 1));
        size_t k = len ? (size_t)(tu_splitmix(&s) % (len + 1)) : 0;
        tu_fill(buf, len, c, tu_splitmix(&s));
        uint8_t *first = xmalloc(k), *second = xmalloc(len - k);
        memcpy(first, buf, k);
        memcpy(second, buf + k, len - k);
        for (size_t a = 0; a < NALGO; a++) {
            const struct algo *al = &algos[a];
            ddx_hasher h;
            uint8_t whole[DDX_FP_MAX], two[DDX_FP_MAX];
            open_hasher(&h, al->kind);
            cr_assert_eq(ddx_hash(&h, buf, len, whole), 0);
            cr_assert_eq(ddx_hash2(&h, first, k, second, len - k, two), 0);
            ddx_hasher_free(&h);
            expect_same(two, whole, al->size, "hash2 vs hash", al->name, tu_class_name[c], len,
                        "split", k);
        }
        free(first);
        free(second);
    }
    free(buf);
}

/* ---- errors ------------------------------------------------------------- */

Test(sha, init_rejects_invalid_kind)
{
    ddx_hasher h;
    int rc = ddx_hasher_init(&h, (ddx_hash_kind)7);
    cr_expect_neq(rc, 0, "ddx_hasher_init(7) returned 0");
    /* A failed init must still leave a handle that free accepts. */
    ddx_hasher_free(&h);
}
