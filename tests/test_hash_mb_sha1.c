/*
 * test_hash_mb_sha1.c - the multi-buffer SHA-1 kernels (AVX2 x8, AVX-512
 * x16, AVX-512 x16 with the transpose on the integer side) against the
 * reference, ddx_sha1_ref, message by message.
 *
 * The SIMD kernels only run blocks; the lane manager (hash_mb.c, tested with
 * portable lanes in test_hash_mb.c) decides what each lane reads. So the
 * cases aim at what a kernel gets wrong: the transpose (which lane and word
 * lands where), the byte swap, the round functions and the schedule, and the
 * state carried across block runs of every length the manager asks for:
 *   - every length 0..4097 (every padding case, one- and two-block tails),
 *     shuffled into batches of 1..100 so lanes start and finish out of step;
 *   - random lengths up to 1 MiB, in one batch and alone;
 *   - start offsets 0..63 around block and padding edges;
 *   - batches of every size 1..100 of mixed lengths with zero-length
 *     messages, and one 1 MiB message among short ones (the long lane runs
 *     while the others cycle through the batch);
 *   - n = 0, which writes nothing;
 *   - the FIPS 180 examples: "abc", the 448-bit message, a million 'a';
 *   - messages flush against PROT_NONE pages on both sides.
 * Each message lives in its own allocation ending where the message ends, so
 * under ASan a kernel reading past a message fails; the guard pages catch
 * the same in every build, and reads ASan does not see (the _gt kernel's
 * message copies are inline asm); a guard after the last digest catches
 * writes past the output.
 *
 * A kernel is only run where ddx_cpu_features() has its ISA; elsewhere its
 * tests are skipped, saying why. Random inputs come from tu_seed(); a
 * failure names the kernel, case, batch size, message, length and offset,
 * and DDX_TEST_SEED replays it.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_features.h"
#include "hash_impl.h"
#include "testutil.h"

typedef struct kernel {
    const char *name;
    ddx_hash_batch_fn fn;
    unsigned need; /* DDX_CPU_* bits */
    const char *isa;
} kernel;

static const kernel sha1_mb_avx2 = {"sha1_mb_avx2", ddx_sha1_mb_avx2_batch, DDX_CPU_AVX2, "AVX2"};
static const kernel sha1_mb_avx512 = {"sha1_mb_avx512", ddx_sha1_mb_avx512_batch, DDX_CPU_AVX512,
                                      "AVX-512"};
static const kernel sha1_mb_avx512_gt = {"sha1_mb_avx512_gt", ddx_sha1_mb_avx512_gt_batch,
                                         DDX_CPU_AVX512, "AVX-512"};

#define DIGEST 20
#define GUARD 64
#define GUARD_BYTE 0x5c
#define MIB (1u << 20)

static void require(const kernel *k)
{
    if ((ddx_cpu_features() & k->need) != k->need)
        cr_skip_test("%s needs %s, which this CPU (or DDX_CPU_MASK) does not offer", k->name,
                     k->isa);
}

/* Messages, each in an allocation of exactly off + len bytes. */
typedef struct msgset {
    ddx_hash_msg *m;
    uint8_t **base;
    size_t *off;
    size_t n, cap;
} msgset;

static void set_init(msgset *s, size_t cap)
{
    s->m = tu_xmalloc(cap * sizeof *s->m);
    s->base = tu_xmalloc(cap * sizeof *s->base);
    s->off = tu_xmalloc(cap * sizeof *s->off);
    s->n = 0;
    s->cap = cap;
}

static void set_add(msgset *s, size_t len, size_t off, enum tu_class c, uint64_t seed)
{
    cr_assert_lt(s->n, s->cap);
    uint8_t *base = tu_xmalloc(off + len);
    tu_fill(base + off, len, c, seed);
    s->base[s->n] = base;
    s->off[s->n] = off;
    s->m[s->n] = (ddx_hash_msg){base + off, len};
    s->n++;
}

static void set_clear(msgset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->base[i]);
    s->n = 0;
}

static void set_free(msgset *s)
{
    set_clear(s);
    free(s->m);
    free(s->base);
    free(s->off);
}

/* Hash messages first..first+n of s with k, compare each digest with
 * ddx_sha1_ref and check nothing was written past the last digest. */
static void check(const kernel *k, const msgset *s, size_t first, size_t n, const char *what)
{
    uint8_t *got = tu_xmalloc(n * DIGEST + GUARD), want[DIGEST];
    const ddx_hash_msg *m = s->m + first;

    memset(got, GUARD_BYTE, n * DIGEST + GUARD);
    k->fn(m, n, got);
    for (size_t i = 0; i < n; i++) {
        ddx_sha1_ref(m[i].p, m[i].len, want);
        if (memcmp(got + i * DIGEST, want, DIGEST) == 0)
            continue;
        char g[2 * DIGEST + 1], w[2 * DIGEST + 1];
        tu_hex(got + i * DIGEST, DIGEST, g);
        tu_hex(want, DIGEST, w);
        cr_assert_fail("%s, %s: batch of %zu, message %zu, length %zu, offset %zu:\n"
                       "  got  %s\n  want %s",
                       k->name, what, n, i, m[i].len, s->off[first + i], g, w);
    }
    for (size_t i = 0; i < GUARD; i++)
        cr_assert_eq(got[n * DIGEST + i], GUARD_BYTE, "%s, %s: batch of %zu wrote past its digests",
                     k->name, what, n);
    free(got);
}

/* ---- cases ---------------------------------------------------------------- */

#define SMALL_MAX 4097

/* Every length 0..4097 once, in a seeded order, cut into batches of 1..100;
 * the offset and input class vary with the length. */
static void every_small_length(const kernel *k)
{
    const size_t total = SMALL_MAX + 1;
    uint64_t r = tu_seed() ^ 0x5111u;
    size_t *len = tu_xmalloc(total * sizeof *len);
    msgset s;

    for (size_t i = 0; i < total; i++)
        len[i] = i;
    for (size_t i = total - 1; i > 0; i--) {
        size_t j = (size_t)(tu_splitmix(&r) % (i + 1)), t = len[i];
        len[i] = len[j];
        len[j] = t;
    }
    set_init(&s, total);
    for (size_t i = 0; i < total; i++)
        set_add(&s, len[i], len[i] % 11, (enum tu_class)(len[i] % TU_NCLASS), tu_splitmix(&r));
    for (size_t first = 0; first < total;) {
        size_t n = 1 + (size_t)(tu_splitmix(&r) % 100);
        if (n > total - first)
            n = total - first;
        check(k, &s, first, n, "lengths 0..4097");
        first += n;
    }
    set_free(&s);
    free(len);
}

#define LARGE_COUNT 20

/* Random lengths up to 1 MiB (1 MiB itself first) at odd offsets: as one
 * batch - more messages than lanes, so lanes refill mid-batch - then alone. */
static void random_large_lengths(const kernel *k)
{
    uint64_t r = tu_seed() ^ 0x1a26eu;
    msgset s;

    set_init(&s, LARGE_COUNT);
    for (size_t i = 0; i < LARGE_COUNT; i++) {
        size_t len = i == 0 ? MIB : (size_t)(tu_splitmix(&r) % (MIB + 1));
        set_add(&s, len, 1 + (size_t)(tu_splitmix(&r) % 63), (enum tu_class)(i % TU_NCLASS),
                tu_splitmix(&r));
    }
    check(k, &s, 0, LARGE_COUNT, "large lengths, one batch");
    for (size_t i = 0; i < 3; i++)
        check(k, &s, i, 1, "large lengths, alone");
    set_free(&s);
}

/* Lengths at the block and padding edges, at start offsets 0..63: the rows
 * of the transpose come from unaligned addresses. */
static void odd_alignments(const kernel *k)
{
    static const size_t lens[] = {0,   1,   3,   55,  56,  63,   64,   65,   119,
                                  120, 127, 128, 129, 191, 1000, 4095, 4096, 4159};
    const size_t nl = sizeof lens / sizeof lens[0];
    uint64_t r = tu_seed() ^ 0x0ddu;
    msgset s;

    set_init(&s, nl);
    for (size_t off = 0; off < 64; off++) {
        for (size_t i = 0; i < nl; i++)
            set_add(&s, lens[i], off, TU_RANDOM, tu_splitmix(&r));
        check(k, &s, 0, nl, "odd alignment");
        set_clear(&s);
    }
    set_free(&s);
}

/* Batches of every size 1..100: 1 in 8 messages empty, the rest up to 130
 * bytes, 1000 bytes or 20 KiB; every fifth batch has one 1 MiB message at a
 * seeded position. */
static void mixed_batches(const kernel *k)
{
    uint64_t r = tu_seed() ^ 0x3b1du;
    msgset s;

    set_init(&s, 100);
    for (size_t n = 1; n <= 100; n++) {
        size_t long_at = n % 5 == 0 ? (size_t)(tu_splitmix(&r) % n) : SIZE_MAX;
        for (size_t i = 0; i < n; i++) {
            uint64_t x = tu_splitmix(&r);
            size_t len, off = (size_t)(x >> 40) % 64;
            switch (x % 8) {
            case 0:
                len = 0;
                break;
            case 1:
            case 2:
            case 3:
                len = (size_t)(x >> 8) % 130;
                break;
            case 4:
            case 5:
            case 6:
                len = (size_t)(x >> 8) % 1000;
                break;
            default:
                len = (size_t)(x >> 8) % 20000;
                break;
            }
            if (i == long_at)
                len = MIB;
            set_add(&s, len, off, (enum tu_class)(x % TU_NCLASS), tu_splitmix(&r));
        }
        check(k, &s, 0, n, "mixed batch");
        set_clear(&s);
    }
    set_free(&s);
}

/* One 1 MiB message first, early, in the middle or last among 99 short and
 * empty ones: one lane stays on it while the other lanes take every other
 * message of the batch. */
static void long_among_short(const kernel *k)
{
    static const size_t where[] = {0, 1, 15, 16, 50, 99};
    uint64_t r = tu_seed() ^ 0x10ffu;
    msgset s;

    set_init(&s, 100);
    for (size_t w = 0; w < sizeof where / sizeof where[0]; w++) {
        for (size_t i = 0; i < 100; i++) {
            size_t len = i == where[w] ? MIB : (size_t)(tu_splitmix(&r) % 3 == 0 ? 0 : i * 7);
            set_add(&s, len, i % 13, TU_TEXT, tu_splitmix(&r));
        }
        check(k, &s, 0, 100, "1 MiB among short");
        set_clear(&s);
    }
    set_free(&s);
}

/* Equal lengths: all lanes finish together and refill at once (the common
 * case for fixed-size chunks), with batch sizes around the lane counts. */
static void equal_lengths(const kernel *k)
{
    static const size_t sizes[] = {7, 8, 9, 15, 16, 17, 31, 32, 33, 64};
    static const size_t lens[] = {0, 64, 4096, 8192};
    uint64_t r = tu_seed() ^ 0xe9u;
    msgset s;

    set_init(&s, 64);
    for (size_t j = 0; j < sizeof lens / sizeof lens[0]; j++) {
        for (size_t i = 0; i < 64; i++)
            set_add(&s, lens[j], 0, TU_RANDOM, tu_splitmix(&r));
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            check(k, &s, 0, sizes[i], "equal lengths");
        set_clear(&s);
    }
    set_free(&s);
}

/* n = 0 writes nothing, whatever msgs is. */
static void empty_batch(const kernel *k)
{
    uint8_t out[GUARD];
    ddx_hash_msg m = {(const uint8_t *)"abc", 3};

    memset(out, GUARD_BYTE, sizeof out);
    k->fn(NULL, 0, out);
    k->fn(&m, 0, out);
    for (size_t i = 0; i < sizeof out; i++)
        cr_assert_eq(out[i], GUARD_BYTE, "%s: n = 0 wrote byte %zu", k->name, i);
}

/* The FIPS 180 SHA-1 examples, alone and together with short messages in
 * one batch, so agreement with the reference cannot hide a shared mistake. */
static void fips_vectors(const kernel *k)
{
    static const char *const abc = "a9993e364706816aba3e25717850c26c9cd0d89d";
    static const char *const two_blocks = "84983e441c3bd26ebaae4aa1f95129e5e54670f1";
    static const char *const million_a = "34aa973cd4c4daa4f61eeb2bdbad27316534016f";
    static const char msg448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    const size_t nmil = 1000000;
    uint8_t *mil = tu_xmalloc(nmil);
    memset(mil, 'a', nmil);
    const ddx_hash_msg v[3] = {
        {(const uint8_t *)"abc", 3},
        {(const uint8_t *)msg448, sizeof msg448 - 1},
        {mil, nmil},
    };
    const char *const want[3] = {abc, two_blocks, million_a};
    const char *const name[3] = {"\"abc\"", "448-bit message", "one million 'a'"};
    ddx_hash_msg batch[20];
    uint8_t out[20 * DIGEST];
    char h[2 * DIGEST + 1];

    for (int i = 0; i < 3; i++) {
        k->fn(&v[i], 1, out);
        tu_hex(out, DIGEST, h);
        cr_assert_str_eq(h, want[i], "%s(%s) alone", k->name, name[i]);
    }
    /* The vectors at positions 0, 9 and 19 of a 20-message batch. */
    for (size_t i = 0; i < 20; i++)
        batch[i] = (ddx_hash_msg){(const uint8_t *)msg448, i % 5};
    batch[0] = v[2];
    batch[9] = v[0];
    batch[19] = v[1];
    k->fn(batch, 20, out);
    const size_t at[3] = {9, 19, 0};
    for (int i = 0; i < 3; i++) {
        tu_hex(out + at[i] * DIGEST, DIGEST, h);
        cr_assert_str_eq(h, want[i], "%s(%s) in a batch", k->name, name[i]);
    }
    free(mil);
}

/* Messages flush against inaccessible pages: each starts right after a
 * PROT_NONE page or ends right before one, so any read outside [p, p + len)
 * faults, with or without ASan. */
static void guard_pages(const kernel *k)
{
    static const size_t lens[] = {0,   1,    55,   56,   63,   64,   65,   119,
                                  128, 1000, 4095, 4096, 4097, 8192, 9000, 12288};
    const size_t nl = sizeof lens / sizeof lens[0];
    tu_guard g;
    tu_guard_init(&g, 2 * nl, 4);
    uint64_t r = tu_seed() ^ 0x5a1f9u;
    msgset s;
    set_init(&s, 2 * nl);
    for (size_t i = 0; i < 2 * nl; i++) {
        size_t len = lens[i % nl];
        uint8_t *p = tu_guard_at(&g, i, len);
        tu_fill(p, len, TU_RANDOM, tu_splitmix(&r));
        s.base[s.n] = NULL; /* not ours to free */
        s.off[s.n] = 0;
        s.m[s.n++] = (ddx_hash_msg){p, len};
    }
    check(k, &s, 0, 2 * nl, "flush against guard pages");
    for (size_t i = 0; i < 2 * nl; i++)
        check(k, &s, i, 1, "flush against guard pages, alone");
    set_free(&s);
    tu_guard_free(&g);
}

/* ---- one suite per kernel --------------------------------------------------- */

#define KERNEL_TESTS(K)                                                                            \
    Test(K, fips_vectors)                                                                          \
    {                                                                                              \
        require(&K);                                                                               \
        fips_vectors(&K);                                                                          \
    }                                                                                              \
    Test(K, every_length_0_to_4097)                                                                \
    {                                                                                              \
        require(&K);                                                                               \
        every_small_length(&K);                                                                    \
    }                                                                                              \
    Test(K, random_lengths_to_1mib)                                                                \
    {                                                                                              \
        require(&K);                                                                               \
        random_large_lengths(&K);                                                                  \
    }                                                                                              \
    Test(K, odd_alignments)                                                                        \
    {                                                                                              \
        require(&K);                                                                               \
        odd_alignments(&K);                                                                        \
    }                                                                                              \
    Test(K, mixed_batches_1_to_100)                                                                \
    {                                                                                              \
        require(&K);                                                                               \
        mixed_batches(&K);                                                                         \
    }                                                                                              \
    Test(K, long_among_short)                                                                      \
    {                                                                                              \
        require(&K);                                                                               \
        long_among_short(&K);                                                                      \
    }                                                                                              \
    Test(K, equal_lengths)                                                                         \
    {                                                                                              \
        require(&K);                                                                               \
        equal_lengths(&K);                                                                         \
    }                                                                                              \
    Test(K, empty_batch)                                                                           \
    {                                                                                              \
        require(&K);                                                                               \
        empty_batch(&K);                                                                           \
    }                                                                                              \
    Test(K, guard_pages)                                                                           \
    {                                                                                              \
        require(&K);                                                                               \
        guard_pages(&K);                                                                           \
    }

KERNEL_TESTS(sha1_mb_avx2)
KERNEL_TESTS(sha1_mb_avx512)
KERNEL_TESTS(sha1_mb_avx512_gt)
