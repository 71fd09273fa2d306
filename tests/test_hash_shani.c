/*
 * test_hash_shani.c - the SHA-NI batch kernels against the reference.
 *
 * Each of the six kernels (SHA-1 and SHA-256; 1, 2 and 4 lanes) must give the
 * digests of ddx_sha*_ref_batch, byte for byte, on:
 *   - every length 0..4097 (every padding case many times over), shuffled
 *     into batches of mixed sizes so lanes start and finish out of step;
 *   - random lengths up to 1 MiB (the bit length's upper bytes non-zero);
 *   - start addresses at offsets 0..7 from 16-byte alignment;
 *   - batches of 1..100 messages of mixed lengths, zero-length (and NULL)
 *     messages among them, and one long message among many short ones, which
 *     keeps one lane busy while the others cycle through the batch;
 *   - n = 0, which must write nothing.
 * Every message lives in its own allocation that ends exactly where the
 * message ends, so under ASan a kernel reading past a message fails the test;
 * a guard after the last digest catches writes past the output.
 *
 * Random inputs come from tu_seed(); a failure names the kernel, batch size,
 * message index, length and offset, and DDX_TEST_SEED replays it.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_features.h"
#include "hash_impl.h"
#include "testutil.h"

static const struct kernel {
    const char *name;
    ddx_hash_batch_fn fn;
    ddx_hash_batch_fn ref;
    size_t size;
} sha1_x1 = {"sha1_shani", ddx_sha1_shani_batch, ddx_sha1_ref_batch, 20},
  sha1_x2 = {"sha1_shani_x2", ddx_sha1_shani_x2_batch, ddx_sha1_ref_batch, 20},
  sha1_x4 = {"sha1_shani_x4", ddx_sha1_shani_x4_batch, ddx_sha1_ref_batch, 20},
  sha256_x1 = {"sha256_shani", ddx_sha256_shani_batch, ddx_sha256_ref_batch, 32},
  sha256_x2 = {"sha256_shani_x2", ddx_sha256_shani_x2_batch, ddx_sha256_ref_batch, 32},
  sha256_x4 = {"sha256_shani_x4", ddx_sha256_shani_x4_batch, ddx_sha256_ref_batch, 32};

#define GUARD 64
#define GUARD_BYTE 0xa5

/* A batch under construction: each message in an allocation of exactly
 * off + len bytes, so the byte after the message is outside it. */
typedef struct batch {
    ddx_hash_msg *msgs;
    uint8_t **bases;
    size_t *offs;
    size_t n, cap;
} batch;

static void batch_init(batch *b, size_t cap)
{
    b->msgs = tu_xmalloc(cap * sizeof *b->msgs);
    b->bases = tu_xmalloc(cap * sizeof *b->bases);
    b->offs = tu_xmalloc(cap * sizeof *b->offs);
    b->n = 0;
    b->cap = cap;
}

/* Add a message of len bytes of class c at offset off (a NULL pointer if
 * len is 0 and off is SIZE_MAX). */
static void batch_add(batch *b, size_t len, size_t off, enum tu_class c, uint64_t seed)
{
    cr_assert_lt(b->n, b->cap);
    uint8_t *base = NULL;
    const uint8_t *p = NULL;
    if (off != SIZE_MAX) {
        base = tu_xmalloc(off + len);
        tu_fill(base + off, len, c, seed);
        p = base + off;
    }
    b->bases[b->n] = base;
    b->offs[b->n] = off;
    b->msgs[b->n] = (ddx_hash_msg){p, len};
    b->n++;
}

static void batch_clear(batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->bases[i]);
    b->n = 0;
}

static void batch_free(batch *b)
{
    batch_clear(b);
    free(b->msgs);
    free(b->bases);
    free(b->offs);
}

/* Run the kernel and the reference on msgs[0..n) of b and compare. */
static void check_range(const struct kernel *k, const batch *b, size_t first, size_t n,
                        const char *what)
{
    size_t bytes = n * k->size;
    uint8_t *want = tu_xmalloc(bytes), *got = tu_xmalloc(bytes + GUARD);
    const ddx_hash_msg *m = b->msgs + first;

    memset(got, GUARD_BYTE, bytes + GUARD);
    k->ref(m, n, want);
    k->fn(m, n, got);
    for (size_t i = 0; i < n; i++) {
        if (memcmp(got + i * k->size, want + i * k->size, k->size) == 0)
            continue;
        char g[2 * DDX_FP_MAX + 1], w[2 * DDX_FP_MAX + 1];
        tu_hex(got + i * k->size, k->size, g);
        tu_hex(want + i * k->size, k->size, w);
        cr_assert_fail("%s, %s: batch of %zu, message %zu, length %zu, offset %zu:\n"
                       "  got  %s\n  want %s",
                       k->name, what, n, i, m[i].len, b->offs[first + i], g, w);
    }
    for (size_t i = 0; i < GUARD; i++)
        cr_assert_eq(got[bytes + i], GUARD_BYTE, "%s, %s: batch of %zu wrote past its digests",
                     k->name, what, n);
    free(want);
    free(got);
}

static void skip_without_shani(void)
{
    if (!(ddx_cpu_features() & DDX_CPU_SHANI))
        cr_skip_test("no SHA-NI on this CPU");
}

/* ---- properties ---------------------------------------------------------- */

#define SMALL_MAX 4097

/* Lengths 0..4097 in a seeded shuffle, cut into batches of 1..64, each
 * message at offset len % 8 and of a class that varies with the length. */
static void all_small_lengths(const struct kernel *k)
{
    const size_t total = SMALL_MAX + 1;
    uint64_t s = tu_seed() ^ 0x5a11u;
    size_t *len = tu_xmalloc(total * sizeof *len);
    batch b;

    for (size_t i = 0; i < total; i++)
        len[i] = i;
    for (size_t i = total - 1; i > 0; i--) {
        size_t j = (size_t)(tu_splitmix(&s) % (i + 1)), t = len[i];
        len[i] = len[j];
        len[j] = t;
    }
    batch_init(&b, total);
    for (size_t i = 0; i < total; i++)
        batch_add(&b, len[i], len[i] % 8, (enum tu_class)(len[i] % TU_NCLASS), tu_splitmix(&s));
    for (size_t first = 0; first < total;) {
        size_t n = 1 + (size_t)(tu_splitmix(&s) % 64);
        if (n > total - first)
            n = total - first;
        check_range(k, &b, first, n, "all lengths 0..4097");
        first += n;
    }
    batch_free(&b);
    free(len);
}

#define BIG_MAX (1u << 20)
#define BIG_COUNT 6

/* Random lengths up to 1 MiB, 1 MiB itself first, at random offsets 1..7:
 * as one batch, then one by one. */
static void random_large_lengths(const struct kernel *k)
{
    uint64_t s = tu_seed() ^ 0xb16u;
    batch b;

    batch_init(&b, BIG_COUNT);
    for (int i = 0; i < BIG_COUNT; i++) {
        size_t len = i == 0 ? BIG_MAX : (size_t)(tu_splitmix(&s) % (BIG_MAX + 1));
        size_t off = 1 + (size_t)(tu_splitmix(&s) % 7);
        batch_add(&b, len, off, (enum tu_class)(i % TU_NCLASS), tu_splitmix(&s));
    }
    check_range(k, &b, 0, BIG_COUNT, "large lengths, one batch");
    for (size_t i = 0; i < BIG_COUNT; i++)
        check_range(k, &b, i, 1, "large lengths, alone");
    batch_free(&b);
}

/* Lengths around the block and padding edges at each offset 0..7. */
static void odd_alignments(const struct kernel *k)
{
    static const size_t lens[] = {0,   1,   3,   55,  56,  57,   63,   64,   65,  111,
                                  119, 120, 127, 128, 129, 1000, 4095, 4096, 8192};
    const size_t nl = sizeof lens / sizeof lens[0];
    uint64_t s = tu_seed() ^ 0xa119u;
    batch b;

    batch_init(&b, nl);
    for (size_t off = 0; off < 8; off++) {
        for (size_t i = 0; i < nl; i++)
            batch_add(&b, lens[i], off, TU_RANDOM, tu_splitmix(&s));
        check_range(k, &b, 0, nl, "odd alignment");
        batch_clear(&b);
    }
    batch_free(&b);
}

/* Batches of every size 1..100. Lengths: 1 in 8 zero (half of those with a
 * NULL pointer), the rest short, up to a few blocks, or up to 20 KiB; every
 * fourth batch has one 300 KiB message at a random position among them. */
static void mixed_batches(const struct kernel *k)
{
    uint64_t s = tu_seed() ^ 0x3b17u;
    batch b;

    batch_init(&b, 100);
    for (size_t n = 1; n <= 100; n++) {
        size_t long_at = n % 4 == 0 ? (size_t)(tu_splitmix(&s) % n) : SIZE_MAX;
        for (size_t i = 0; i < n; i++) {
            uint64_t r = tu_splitmix(&s);
            size_t len, off = (size_t)(r >> 32) % 8;
            switch (r % 8) {
            case 0:
                len = 0;
                if (r & 8)
                    off = SIZE_MAX;
                break;
            case 1:
            case 2:
            case 3:
                len = (size_t)(r >> 8) % 130;
                break;
            case 4:
            case 5:
            case 6:
                len = (size_t)(r >> 8) % 1000;
                break;
            default:
                len = (size_t)(r >> 8) % 20000;
                break;
            }
            if (i == long_at) {
                len = 300 * 1024 + (size_t)(r >> 8) % 64;
                off = (size_t)(r >> 32) % 8;
            }
            batch_add(&b, len, off, (enum tu_class)(r % TU_NCLASS), tu_splitmix(&s));
        }
        check_range(k, &b, 0, n, "mixed batch");
        batch_clear(&b);
    }
    batch_free(&b);
}

/* One 1 MiB message first, in the middle or last among 63 short ones (the
 * short lanes go through the whole batch while one lane stays on the long
 * message), and two long ones among shorts. */
static void long_among_short(const struct kernel *k)
{
    static const size_t where[] = {0, 1, 31, 62, 63};
    uint64_t s = tu_seed() ^ 0x10e9u;
    batch b;

    batch_init(&b, 64);
    for (size_t w = 0; w <= sizeof where / sizeof where[0]; w++) {
        /* w == the count of positions: two long messages, at 5 and 40 */
        int two = w == sizeof where / sizeof where[0];
        for (size_t i = 0; i < 64; i++) {
            int is_long = two ? i == 5 || i == 40 : i == where[w];
            size_t len = is_long ? BIG_MAX - i : (size_t)(tu_splitmix(&s) % 100);
            batch_add(&b, len, 1 + i % 7, TU_TEXT, tu_splitmix(&s));
        }
        check_range(k, &b, 0, 64, two ? "two long among short" : "one long among short");
        batch_clear(&b);
    }
    batch_free(&b);
}

/* n = 0 writes nothing, whatever msgs points to. */
static void empty_batch(const struct kernel *k)
{
    uint8_t out[GUARD];
    ddx_hash_msg m = {(const uint8_t *)"abc", 3};

    memset(out, GUARD_BYTE, sizeof out);
    k->fn(NULL, 0, out);
    k->fn(&m, 0, out);
    for (size_t i = 0; i < sizeof out; i++)
        cr_assert_eq(out[i], GUARD_BYTE, "%s: n = 0 wrote byte %zu", k->name, i);
}

/* The FIPS 180 "abc" digests, so agreement with the reference cannot hide a
 * shared mistake in the test itself. */
static void known_answer(const struct kernel *k)
{
    static const char *const sha1_abc = "a9993e364706816aba3e25717850c26c9cd0d89d";
    static const char *const sha256_abc =
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    ddx_hash_msg m[3] = {{(const uint8_t *)"abc", 3}, {NULL, 0}, {(const uint8_t *)"abc", 3}};
    uint8_t out[3 * DDX_FP_MAX];
    char hex[2 * DDX_FP_MAX + 1];

    k->fn(m, 3, out);
    tu_hex(out + 2 * k->size, k->size, hex);
    cr_assert_str_eq(hex, k->size == 20 ? sha1_abc : sha256_abc, "%s(\"abc\")", k->name);
}

/* ---- one suite per kernel ------------------------------------------------ */

#define KERNEL_TESTS(K)                                                                            \
    Test(K, known_answer)                                                                          \
    {                                                                                              \
        skip_without_shani();                                                                      \
        known_answer(&K);                                                                          \
    }                                                                                              \
    Test(K, all_small_lengths)                                                                     \
    {                                                                                              \
        skip_without_shani();                                                                      \
        all_small_lengths(&K);                                                                     \
    }                                                                                              \
    Test(K, random_large_lengths)                                                                  \
    {                                                                                              \
        skip_without_shani();                                                                      \
        random_large_lengths(&K);                                                                  \
    }                                                                                              \
    Test(K, odd_alignments)                                                                        \
    {                                                                                              \
        skip_without_shani();                                                                      \
        odd_alignments(&K);                                                                        \
    }                                                                                              \
    Test(K, mixed_batches_1_to_100)                                                                \
    {                                                                                              \
        skip_without_shani();                                                                      \
        mixed_batches(&K);                                                                         \
    }                                                                                              \
    Test(K, long_among_short)                                                                      \
    {                                                                                              \
        skip_without_shani();                                                                      \
        long_among_short(&K);                                                                      \
    }                                                                                              \
    Test(K, empty_batch)                                                                           \
    {                                                                                              \
        skip_without_shani();                                                                      \
        empty_batch(&K);                                                                           \
    }

KERNEL_TESTS(sha1_x1)
KERNEL_TESTS(sha1_x2)
KERNEL_TESTS(sha1_x4)
KERNEL_TESTS(sha256_x1)
KERNEL_TESTS(sha256_x2)
KERNEL_TESTS(sha256_x4)
