/*
 * test_hash_mb_sha256.c - the multi-buffer SHA-256 kernels (AVX2, 8 lanes;
 * AVX-512, 16 lanes) against the reference ddx_sha256_ref, digest by digest.
 *
 * The lane manager (hash_mb.c) is tested on its own with portable lanes in
 * test_hash_mb.c; here the SIMD block functions are the suspects, so the
 * cases go after what they can get wrong: the 16x16 / 8x8 word transpose and
 * byte swap (which lane and word lands where), rounds and schedule, the state
 * carried between calls of every run length the manager asks for, and lanes
 * that start and finish out of step:
 *   - the FIPS 180 examples ("abc", the 448-bit message, one million 'a'),
 *     alone and at several lane positions of one batch;
 *   - every length 0..4097, shuffled into batches of 1..100;
 *   - random lengths up to 1 MiB, in one batch and alone;
 *   - start offsets 0..63 around the block and padding edges;
 *   - batches of every size 1..100 of mixed lengths, empty ones included,
 *     every fifth with one 1 MiB message among the short ones;
 *   - equal lengths (all lanes in lockstep), n = 0, and messages that share
 *     or overlap their bytes (identical chunks are the dedup case);
 *   - messages flush against PROT_NONE pages on both sides.
 * Every message has an allocation of its own that ends where it ends, so a
 * read past a message faults under ASan (make SAN=1); the guard-page case
 * catches the same in the normal build. A guard after the last digest
 * catches writes past the output.
 *
 * A kernel runs only where ddx_cpu_features() offers its ISA (so
 * DDX_CPU_MASK can switch it off); elsewhere its tests are skipped, saying
 * why. Random inputs come from tu_seed(); a failure names the kernel, case,
 * batch size, message, length and offset, and DDX_TEST_SEED replays it.
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
    unsigned need; /* DDX_CPU_* bits it runs on */
    const char *isa;
} kernel;

static const kernel mb_avx2 = {"sha256_mb_avx2", ddx_sha256_mb_avx2_batch, DDX_CPU_AVX2, "AVX2"};
static const kernel mb_avx512 = {"sha256_mb_avx512", ddx_sha256_mb_avx512_batch, DDX_CPU_AVX512,
                                 "AVX-512 (F, BW, VL, DQ)"};

#define DIGEST 32
#define OUT_GUARD 64
#define GUARD_BYTE 0xa5
#define MIB ((size_t)1 << 20)

static void require(const kernel *k)
{
    if ((ddx_cpu_features() & k->need) != k->need)
        cr_skip_test("%s needs %s, which this CPU (or DDX_CPU_MASK) does not offer", k->name,
                     k->isa);
}

/* ---- message sets ------------------------------------------------------------
 * Message i lives at off[i] in an allocation of exactly off[i] + len bytes
 * (owned[i]), or points into memory the case owns (owned[i] == NULL). */
typedef struct msgs {
    ddx_hash_msg *m;
    uint8_t **owned;
    size_t *off;
    size_t n, cap;
} msgs;

static void msgs_init(msgs *s, size_t cap)
{
    s->m = tu_xmalloc(cap * sizeof *s->m);
    s->owned = tu_xmalloc(cap * sizeof *s->owned);
    s->off = tu_xmalloc(cap * sizeof *s->off);
    s->n = 0;
    s->cap = cap;
}

static void msgs_add(msgs *s, size_t len, size_t off, enum tu_class c, uint64_t seed)
{
    cr_assert_lt(s->n, s->cap, "message set full");
    uint8_t *base = tu_xmalloc(off + len);
    memset(base, 0xee, off);
    tu_fill(base + off, len, c, seed);
    s->owned[s->n] = base;
    s->off[s->n] = off;
    s->m[s->n] = (ddx_hash_msg){base + off, len};
    s->n++;
}

/* A message over bytes the caller keeps alive. */
static void msgs_add_ref(msgs *s, const uint8_t *p, size_t len)
{
    cr_assert_lt(s->n, s->cap, "message set full");
    s->owned[s->n] = NULL;
    s->off[s->n] = (size_t)((uintptr_t)p % 64);
    s->m[s->n] = (ddx_hash_msg){p, len};
    s->n++;
}

static void msgs_clear(msgs *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->owned[i]);
    s->n = 0;
}

static void msgs_free(msgs *s)
{
    msgs_clear(s);
    free(s->m);
    free(s->owned);
    free(s->off);
}

/* Hash messages first .. first+n-1 of s as one batch with k; every digest
 * must equal ddx_sha256_ref's and nothing may be written past the last. */
static void check(const kernel *k, const msgs *s, size_t first, size_t n, const char *what)
{
    uint8_t *got = tu_xmalloc(n * DIGEST + OUT_GUARD), want[DIGEST];
    const ddx_hash_msg *m = s->m + first;

    memset(got, GUARD_BYTE, n * DIGEST + OUT_GUARD);
    k->fn(m, n, got);
    for (size_t i = 0; i < n; i++) {
        ddx_sha256_ref(m[i].p, m[i].len, want);
        if (memcmp(got + i * DIGEST, want, DIGEST) == 0)
            continue;
        char g[2 * DIGEST + 1], w[2 * DIGEST + 1];
        tu_hex(got + i * DIGEST, DIGEST, g);
        tu_hex(want, DIGEST, w);
        cr_assert_fail("%s, %s: batch of %zu, message %zu, length %zu, offset %zu:\n"
                       "  got  %s\n  want %s",
                       k->name, what, n, i, m[i].len, s->off[first + i], g, w);
    }
    for (size_t i = 0; i < OUT_GUARD; i++)
        cr_assert_eq(got[n * DIGEST + i], GUARD_BYTE,
                     "%s, %s: batch of %zu wrote byte %zu past its digests", k->name, what, n, i);
    free(got);
}

/* ---- cases -------------------------------------------------------------------- */

static const char fips_abc[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
static const char fips_448[] = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
static const char fips_mil[] = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
static const char msg448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

/* The FIPS 180 examples against their published digests (not just against
 * the reference), alone and then at lane positions 0, 7, 8, 15, 16 and 31 of
 * one batch of short messages, so each runs in several lanes of both
 * kernels and refills around it. */
static void fips_vectors(const kernel *k)
{
    const size_t nmil = 1000000;
    uint8_t *mil = tu_xmalloc(nmil);
    memset(mil, 'a', nmil);
    const ddx_hash_msg v[3] = {
        {(const uint8_t *)"abc", 3},
        {(const uint8_t *)msg448, sizeof msg448 - 1},
        {mil, nmil},
    };
    const char *const want[3] = {fips_abc, fips_448, fips_mil};
    const char *const name[3] = {"\"abc\"", "the 448-bit message", "one million 'a'"};
    static const size_t at[][3] = {{0, 7, 8}, {15, 16, 31}, {31, 0, 15}, {8, 31, 7}};
    ddx_hash_msg batch[32];
    uint8_t out[32 * DIGEST];
    char h[2 * DIGEST + 1];

    for (int i = 0; i < 3; i++) {
        k->fn(&v[i], 1, out);
        tu_hex(out, DIGEST, h);
        cr_assert_str_eq(h, want[i], "%s(%s), alone", k->name, name[i]);
    }
    for (size_t r = 0; r < sizeof at / sizeof at[0]; r++) {
        for (size_t i = 0; i < 32; i++)
            batch[i] = (ddx_hash_msg){(const uint8_t *)msg448, (i * 5) % 57};
        for (int i = 0; i < 3; i++)
            batch[at[r][i]] = v[i];
        k->fn(batch, 32, out);
        for (int i = 0; i < 3; i++) {
            tu_hex(out + at[r][i] * DIGEST, DIGEST, h);
            cr_assert_str_eq(h, want[i], "%s(%s), message %zu of a batch of 32", k->name, name[i],
                             at[r][i]);
        }
    }
    free(mil);
}

#define SMALL_MAX 4097

/* Every length 0..4097 exactly once, in a seeded order, cut into batches of
 * 1..100 messages; offset and input class vary with the length. */
static void every_small_length(const kernel *k)
{
    const size_t total = SMALL_MAX + 1;
    uint64_t r = tu_seed() ^ 0x256a11u;
    size_t *len = tu_xmalloc(total * sizeof *len);
    msgs s;

    for (size_t i = 0; i < total; i++)
        len[i] = i;
    for (size_t i = total - 1; i > 0; i--) {
        size_t j = (size_t)(tu_splitmix(&r) % (i + 1)), t = len[i];
        len[i] = len[j];
        len[j] = t;
    }
    msgs_init(&s, total);
    for (size_t i = 0; i < total; i++)
        msgs_add(&s, len[i], len[i] % 13, (enum tu_class)(len[i] % TU_NCLASS), tu_splitmix(&r));
    for (size_t first = 0; first < total;) {
        size_t n = 1 + (size_t)(tu_splitmix(&r) % 100);
        if (n > total - first)
            n = total - first;
        check(k, &s, first, n, "every length 0..4097");
        first += n;
    }
    msgs_free(&s);
    free(len);
}

#define LARGE_COUNT 24

/* Random lengths up to 1 MiB (exactly 1 MiB first) at odd offsets: all in
 * one batch - more messages than lanes, so lanes refill while long ones run
 * on - then the first few alone, with one lane busy and the others idle. */
static void random_large_lengths(const kernel *k)
{
    uint64_t r = tu_seed() ^ 0x256b16u;
    msgs s;

    msgs_init(&s, LARGE_COUNT);
    for (size_t i = 0; i < LARGE_COUNT; i++) {
        size_t len = i == 0 ? MIB : (size_t)(tu_splitmix(&r) % (MIB + 1));
        msgs_add(&s, len, 1 + (size_t)(tu_splitmix(&r) % 63), (enum tu_class)(i % TU_NCLASS),
                 tu_splitmix(&r));
    }
    check(k, &s, 0, LARGE_COUNT, "random lengths up to 1 MiB, one batch");
    for (size_t i = 0; i < 3; i++)
        check(k, &s, i, 1, "random lengths up to 1 MiB, alone");
    msgs_free(&s);
}

/* Lengths at block and padding edges at every start offset 0..63: the rows
 * of the transpose are loaded from every misalignment. */
static void odd_alignments(const kernel *k)
{
    static const size_t lens[] = {0,   1,   3,   31,  55,  56,   63,   64,   65,   119,
                                  120, 127, 128, 129, 191, 1000, 4095, 4096, 4159, 8193};
    const size_t nl = sizeof lens / sizeof lens[0];
    uint64_t r = tu_seed() ^ 0x256a9u;
    msgs s;

    msgs_init(&s, nl);
    for (size_t off = 0; off < 64; off++) {
        for (size_t i = 0; i < nl; i++)
            msgs_add(&s, lens[i], off, TU_RANDOM, tu_splitmix(&r));
        check(k, &s, 0, nl, "odd alignment");
        msgs_clear(&s);
    }
    msgs_free(&s);
}

/* Batches of every size 1..100: one message in eight empty, the rest up to
 * 130 bytes, 1000 bytes or 70000 bytes (block runs of many lengths); every
 * fifth batch has one 1 MiB message at a seeded position. */
static void mixed_batches(const kernel *k)
{
    uint64_t r = tu_seed() ^ 0x256e1du;
    msgs s;

    msgs_init(&s, 100);
    for (size_t n = 1; n <= 100; n++) {
        size_t long_at = n % 5 == 0 ? (size_t)(tu_splitmix(&r) % n) : SIZE_MAX;
        for (size_t i = 0; i < n; i++) {
            uint64_t x = tu_splitmix(&r);
            size_t len, off = (size_t)(x >> 48) % 64;
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
                len = (size_t)(x >> 8) % 1000;
                break;
            default:
                len = (size_t)(x >> 8) % 70000;
                break;
            }
            if (i == long_at)
                len = MIB;
            msgs_add(&s, len, off, (enum tu_class)((x >> 4) % TU_NCLASS), tu_splitmix(&r));
        }
        char what[48];
        snprintf(what, sizeof what, "mixed batch of %zu", n);
        check(k, &s, 0, n, what);
        msgs_clear(&s);
    }
    msgs_free(&s);
}

/* One 1 MiB message first, at a lane edge, in the middle or last, among 99
 * short and empty ones: its lane stays busy while the others cycle through
 * the rest of the batch and then idle. */
static void long_among_short(const kernel *k)
{
    static const size_t where[] = {0, 7, 8, 15, 16, 50, 99};
    uint64_t r = tu_seed() ^ 0x2561a5u;
    msgs s;

    msgs_init(&s, 100);
    for (size_t w = 0; w < sizeof where / sizeof where[0]; w++) {
        for (size_t i = 0; i < 100; i++) {
            size_t len = i == where[w] ? MIB : (tu_splitmix(&r) % 3 == 0 ? 0 : i * 7);
            msgs_add(&s, len, i % 17, TU_TEXT, tu_splitmix(&r));
        }
        check(k, &s, 0, 100, "1 MiB among short");
        msgs_clear(&s);
    }
    msgs_free(&s);
}

/* Equal lengths: every lane finishes and refills at once (fixed-size
 * chunks), batch sizes around the lane counts. */
static void equal_lengths(const kernel *k)
{
    static const size_t sizes[] = {1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64};
    static const size_t lens[] = {0, 55, 64, 4096, 8192};
    uint64_t r = tu_seed() ^ 0x256e9u;
    msgs s;

    msgs_init(&s, 64);
    for (size_t j = 0; j < sizeof lens / sizeof lens[0]; j++) {
        for (size_t i = 0; i < 64; i++)
            msgs_add(&s, lens[j], 0, TU_RANDOM, tu_splitmix(&r));
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            check(k, &s, 0, sizes[i], "equal lengths");
        msgs_clear(&s);
    }
    msgs_free(&s);
}

/* Messages that share bytes: the same chunk many times (what dedup hashes
 * when data repeats) and overlapping prefixes and suffixes of one buffer. */
static void shared_bytes(const kernel *k)
{
    const size_t n = 9000;
    uint8_t *buf = tu_xmalloc(n);
    msgs s;

    tu_fill(buf, n, TU_REAL, tu_seed() ^ 0x256c0u);
    msgs_init(&s, 100);
    for (size_t i = 0; i < 40; i++)
        msgs_add_ref(&s, buf + 100, 8192);
    check(k, &s, 0, 40, "one chunk 40 times");
    msgs_clear(&s);
    for (size_t i = 0; i < 50; i++) {
        msgs_add_ref(&s, buf, 180 * i);
        msgs_add_ref(&s, buf + n - 170 * i, 170 * i);
    }
    check(k, &s, 0, 100, "overlapping prefixes and suffixes");
    msgs_free(&s);
    free(buf);
}

/* n = 0 writes nothing and reads no message, whatever msgs is. */
static void empty_batch(const kernel *k)
{
    uint8_t out[OUT_GUARD];
    ddx_hash_msg m = {(const uint8_t *)"abc", 3};

    memset(out, GUARD_BYTE, sizeof out);
    k->fn(NULL, 0, out);
    k->fn(&m, 0, out);
    for (size_t i = 0; i < sizeof out; i++)
        cr_assert_eq(out[i], GUARD_BYTE, "%s: n = 0 wrote byte %zu", k->name, i);
}

/* Messages flush against inaccessible pages: each starts right after a
 * PROT_NONE page or ends right before one, so any read outside [p, p + len)
 * faults, without ASan. */
static void guard_pages(const kernel *k)
{
    static const size_t lens[] = {0, 1, 55, 56, 63, 64, 65, 119, 128, 1000, 4095, 4096, 4097, 8192};
    const size_t nl = sizeof lens / sizeof lens[0];
    tu_guard g;
    tu_guard_init(&g, 2 * nl, 3);
    uint64_t r = tu_seed() ^ 0x256f9u;
    msgs s;
    msgs_init(&s, 2 * nl);
    for (size_t i = 0; i < 2 * nl; i++) {
        size_t len = lens[i % nl];
        uint8_t *p = tu_guard_at(&g, i, len);
        tu_fill(p, len, TU_RANDOM, tu_splitmix(&r));
        msgs_add_ref(&s, p, len);
    }
    check(k, &s, 0, 2 * nl, "flush against guard pages");
    for (size_t i = 0; i < 2 * nl; i++)
        check(k, &s, i, 1, "flush against guard pages, alone");
    msgs_free(&s);
    tu_guard_free(&g);
}

/* ---- one suite per kernel ------------------------------------------------------ */

#define CASE(K, name, fn)                                                                          \
    Test(K, name)                                                                                  \
    {                                                                                              \
        require(&K);                                                                               \
        fn(&K);                                                                                    \
    }

#define KERNEL_TESTS(K)                                                                            \
    CASE(K, fips_vectors, fips_vectors)                                                            \
    CASE(K, every_length_0_to_4097, every_small_length)                                            \
    CASE(K, random_lengths_to_1mib, random_large_lengths)                                          \
    CASE(K, odd_alignments, odd_alignments)                                                        \
    CASE(K, mixed_batches_1_to_100, mixed_batches)                                                 \
    CASE(K, long_among_short, long_among_short)                                                    \
    CASE(K, equal_lengths, equal_lengths)                                                          \
    CASE(K, shared_bytes, shared_bytes)                                                            \
    CASE(K, empty_batch, empty_batch)                                                              \
    CASE(K, guard_pages, guard_pages)

KERNEL_TESTS(mb_avx2)
KERNEL_TESTS(mb_avx512)
