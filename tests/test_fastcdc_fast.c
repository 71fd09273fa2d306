/*
 * test_fastcdc_fast.c - the fast FastCDC 2020 kernels (two-chain ILP, AVX2,
 * AVX-512) against ddx_fastcdc_find, call by call: every kernel must return
 * exactly what the reference returns for the same cfg, bytes, n and eof.
 *
 * The kernels split a scan into segments and warm each later segment's hash
 * up on the 48 bytes before it, so the cases go after what that can get
 * wrong: the positions right after the hashing start, segment and block
 * edges, the mask switch at avg, the pair rule at the end of the window, and
 * which of several hits is the first:
 *   - a chunk-by-chunk walk, eof = 1 and eof = 0 at every chunk start, over
 *     every input class of testutil.h at the six parameter sets below (and
 *     a seeded gear table), 3 MiB for 2K/8K/64K, 1 MiB for the others;
 *   - the same walk at start addresses 1..7 bytes off alignment;
 *   - lengths 0..2 * max near every edge (tiny, min, avg, max - 1, max,
 *     max + 1) at eight alignments, eof = 0 and 1, with the data ending
 *     where its allocation ends (a read past n fails under make SAN=1);
 *   - eof = 0 for every n from min to 600 bytes past avg and around max:
 *     0 ("need more bytes") exactly when the reference says 0;
 *   - masks of 1..16 bits that always include bit 47 (the bit that depends
 *     on all 48 bytes), so cuts fall at every density, deep inside blocks
 *     and at their edges;
 *   - an independent per-byte reference written from the rule (as in
 *     test_chunkers.c), so the kernels are not only checked against the
 *     code they were derived from;
 *   - a cfg whose masks reach bit 48 or above, where the kernels must hand
 *     over to the reference.
 *
 * A vector kernel runs only where ddx_cpu_features() offers its ISA (so
 * DDX_CPU_MASK can switch it off) and where the build has it (DISABLE_ISA);
 * elsewhere its tests are skipped, saying why. Random inputs come from
 * tu_seed(); a failure names the kernel, parameters, class, position, n and
 * eof, and DDX_TEST_SEED replays it.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chunk_fastcdc_fast.h"
#include "cpu_features.h"
#include "testutil.h"

typedef size_t (*find_fn)(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t n, int eof);

typedef struct kernel {
    const char *name;
    find_fn fn;    /* NULL when the build left its ISA out */
    unsigned need; /* DDX_CPU_* bits it runs on */
    const char *isa;
} kernel;

static const kernel k_ilp = {"fastcdc_ilp", ddx_fastcdc_ilp_find, 0, "nothing"};
#ifndef DDX_NO_AVX2
static const kernel k_avx2 = {"fastcdc_avx2", ddx_fastcdc_avx2_find, DDX_CPU_AVX2, "AVX2"};
#else
static const kernel k_avx2 = {"fastcdc_avx2", NULL, DDX_CPU_AVX2, "AVX2"};
#endif
#ifndef DDX_NO_AVX512
static const kernel k_avx512 = {"fastcdc_avx512", ddx_fastcdc_avx512_find, DDX_CPU_AVX512,
                                "AVX-512 (F, BW, VL, DQ)"};
#else
static const kernel k_avx512 = {"fastcdc_avx512", NULL, DDX_CPU_AVX512, "AVX-512 (F, BW, VL, DQ)"};
#endif

/* Criterion lists skips only with --verbose, so the first test of each
 * kernel also says it on stderr. */
static void require_said(const kernel *k, int say)
{
    if (!k->fn) {
        if (say)
            fprintf(stderr, "fastcdc_fast: skipping %s: compiled out (make DISABLE_ISA)\n",
                    k->name);
        cr_skip_test("%s was compiled out (make DISABLE_ISA)", k->name);
    }
    if ((ddx_cpu_features() & k->need) != k->need) {
        if (say)
            fprintf(stderr,
                    "fastcdc_fast: skipping %s: needs %s, which this CPU (or DDX_CPU_MASK) "
                    "does not offer\n",
                    k->name, k->isa);
        cr_skip_test("%s needs %s, which this CPU (or DDX_CPU_MASK) does not offer", k->name,
                     k->isa);
    }
}

static void require(const kernel *k)
{
    require_said(k, 0);
}

typedef struct params {
    uint32_t min, avg, max;
    int norm;
    uint64_t seed;
} params;

static const params sets[] = {
    {2048, 8192, 65536, 1, 0},
    {64, 256, 1024, 2, 0},
    {16384, 65536, 262144, 0, 0},
    {1024, 4096, 16384, 3, 0},
    {1000, 3000, 9000, 1, 0},
    {257, 1000, 4099, 3, 0},
    {2048, 8192, 65536, 1, 0x9e3779b97f4a7c15ull}, /* seeded gear table */
};
#define NSETS (sizeof sets / sizeof sets[0])

static void cfg_for(ddx_chunk_cfg *c, const params *s)
{
    const char *why = "";
    int rc =
        ddx_chunk_cfg_init(c, DDX_CHUNKER_FASTCDC, s->min, s->avg, s->max, s->norm, s->seed, &why);
    cr_assert_eq(rc, 0, "cfg %u/%u/%u nc %d: %s", s->min, s->avg, s->max, s->norm, why);
}

static uint8_t *xmalloc(size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    cr_assert_not_null(p, "malloc(%zu)", n);
    return p;
}

/* One call of the kernel against the reference. */
static size_t same_as_ref(const kernel *k, const ddx_chunk_cfg *c, const uint8_t *p, size_t n,
                          int eof, const char *what, size_t pos)
{
    size_t want = ddx_fastcdc_find(c, p, n, eof);
    size_t got = k->fn(c, p, n, eof);
    cr_assert_eq(got, want,
                 "%s, %u/%u/%u nc %d seed %llx, %s, at %zu (addr %% 64 = %u), n %zu, eof %d: "
                 "got %zu, want %zu",
                 k->name, c->min_size, c->avg_size, c->max_size, c->normalization,
                 (unsigned long long)c->seed, what, pos, (unsigned)((uintptr_t)p % 64), n, eof, got,
                 want);
    return got;
}

/* Walk buf chunk by chunk with the reference's cuts, checking both eof = 1
 * and eof = 0 at each chunk start with everything that is left. */
static size_t walk(const kernel *k, const ddx_chunk_cfg *c, const uint8_t *buf, size_t n,
                   const char *what)
{
    size_t pos = 0, chunks = 0;
    while (pos < n) {
        same_as_ref(k, c, buf + pos, n - pos, 0, what, pos);
        size_t l = same_as_ref(k, c, buf + pos, n - pos, 1, what, pos);
        cr_assert(l > 0 && l <= n - pos);
        pos += l;
        chunks++;
    }
    return chunks;
}

/* ---- the properties, each run for every kernel ----------------------------- */

static void check_walk_every_class(const kernel *k)
{
    require_said(k, 1);
    for (size_t s = 0; s < NSETS; s++) {
        ddx_chunk_cfg c;
        cfg_for(&c, &sets[s]);
        size_t n = (s == 0 ? 3u << 20 : 1u << 20) + 777;
        uint8_t *buf = xmalloc(n);
        for (int cl = 0; cl < TU_NCLASS; cl++) {
            tu_fill(buf, n, (enum tu_class)cl, tu_seed() + 31 * s + cl);
            size_t chunks = walk(k, &c, buf, n, tu_class_name[cl]);
            cr_assert_gt(chunks, 0);
        }
        free(buf);
    }
}

static void check_walk_misaligned(const kernel *k)
{
    require(k);
    size_t n = (1u << 20) + 333;
    for (size_t s = 0; s < NSETS; s += 2) {
        ddx_chunk_cfg c;
        cfg_for(&c, &sets[s]);
        for (size_t off = 1; off < 8; off++) {
            /* the data starts off bytes into its allocation and ends at its end */
            uint8_t *base = xmalloc(off + n);
            enum tu_class cl = off % 2 ? TU_RANDOM : TU_REAL;
            tu_fill(base + off, n, cl, tu_seed() + 7 * off + s);
            char what[64];
            snprintf(what, sizeof what, "%s, offset %zu", tu_class_name[cl], off);
            walk(k, &c, base + off, n, what);
            free(base);
        }
    }
}

/* Lengths near every edge of the window, eight alignments, data ending where
 * its allocation ends. Each of the eight buffers has its own size, so
 * p = end - n lands at a different alignment in each. */
static void check_lengths_at_edges(const kernel *k)
{
    require(k);
    for (size_t s = 0; s < NSETS; s++) {
        ddx_chunk_cfg c;
        cfg_for(&c, &sets[s]);
        size_t mn = c.min_size, av = c.avg_size, mx = c.max_size;
        size_t lens[] = {0,       1,       2,      3,      7,      63,     64,     65,
                         mn - 3,  mn - 2,  mn - 1, mn,     mn + 1, mn + 2, mn + 3, mn + 47,
                         mn + 48, mn + 49, av - 2, av - 1, av,     av + 1, av + 2, av + 3,
                         mx - 3,  mx - 2,  mx - 1, mx,     mx + 1, mx + 2, mx + 3, 2 * mx};
        size_t big = 2 * mx + 16;
        for (size_t d = 0; d < 8; d++) {
            size_t size = big + d;
            uint8_t *buf = xmalloc(size);
            enum tu_class cl = (enum tu_class)(d % TU_NCLASS);
            tu_fill(buf, size, cl, tu_seed() + 101 * s + d);
            for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
                size_t n = lens[i];
                for (int eof = 0; eof < 2; eof++)
                    same_as_ref(k, &c, buf + size - n, n, eof, tu_class_name[cl], size - n);
            }
            free(buf);
        }
    }
}

/* eof = 0: "need more bytes" (0) exactly when the reference says so. */
static void check_streaming_zero(const kernel *k)
{
    require(k);
    for (size_t s = 0; s < NSETS; s++) {
        ddx_chunk_cfg c;
        cfg_for(&c, &sets[s]);
        size_t mn = c.min_size, av = c.avg_size, mx = c.max_size;
        uint8_t *buf = xmalloc(mx + 64);
        for (int cl = 0; cl < TU_NCLASS; cl++) {
            tu_fill(buf, mx + 64, (enum tu_class)cl, tu_seed() + 13 * s + cl);
            size_t zeros = 0, cuts = 0;
            for (size_t n = mn > 2 ? mn - 2 : 0; n <= mx + 64; n++) {
                /* every n up to 600 past avg and around max, sparser between */
                if (n > av + 600 && n + 80 < mx && n % 97)
                    continue;
                size_t want = ddx_fastcdc_find(&c, buf, n, 0);
                size_t got = k->fn(&c, buf, n, 0);
                cr_assert_eq(got == 0, want == 0,
                             "%s, %u/%u/%u, %s, n %zu, eof 0: got %zu, reference %zu", k->name,
                             c.min_size, c.avg_size, c.max_size, tu_class_name[cl], n, got, want);
                cr_assert_eq(got, want, "%s, %u/%u/%u, %s, n %zu, eof 0", k->name, c.min_size,
                             c.avg_size, c.max_size, tu_class_name[cl], n);
                zeros += got == 0;
                cuts += got != 0;
            }
            if (cl == TU_RANDOM)
                cr_assert(zeros > 0, "no n needed more bytes: the case tests nothing");
            (void)cuts;
        }
        free(buf);
    }
}

/* Masks of 1..16 bits, bit 47 always among them: cuts at every density. The
 * _ls masks are set as ddx_chunk_cfg_init sets them. */
static void check_dense_masks(const kernel *k)
{
    require(k);
    static const unsigned bits[] = {47, 40, 44, 31, 22, 46, 17, 35, 28, 43, 19, 38, 25, 33, 16, 41};
    size_t n = 256u << 10;
    uint8_t *buf = xmalloc(n);
    for (size_t nb = 1; nb <= 16; nb++) {
        uint64_t ms = 0, ml = 0;
        for (size_t i = 0; i < nb; i++)
            ms |= 1ull << bits[i];
        for (size_t i = 0; i < (nb + 1) / 2; i++)
            ml |= 1ull << bits[i];
        ddx_chunk_cfg c;
        cfg_for(&c, &(params){64, 8192, 131072, 0, 0});
        c.mask_s = ms;
        c.mask_l = ml;
        c.mask_s_ls = ms << 1;
        c.mask_l_ls = ml << 1;
        for (int cl = 0; cl < TU_NCLASS; cl++) {
            if (cl == TU_ZERO)
                continue;
            tu_fill(buf, n, (enum tu_class)cl, tu_seed() + 57 * nb + cl);
            char what[64];
            snprintf(what, sizeof what, "%s, %zu-bit mask_s %llx", tu_class_name[cl], nb,
                     (unsigned long long)ms);
            walk(k, &c, buf, n, what);
        }
    }
    free(buf);
}

/* Per byte, from the rule in chunk_fastcdc.c (as test_chunkers.c does it):
 * no tables of shifted values, no pairs, no segments. */
static size_t fastcdc_slow(const ddx_chunk_cfg *c, const uint8_t *p, size_t n)
{
    size_t rem = n < c->max_size ? n : c->max_size;
    if (rem <= c->min_size)
        return rem;
    uint64_t h = 0;
    for (size_t i = c->min_size & ~(size_t)1; i < rem; i++) {
        h = (h << 1) + (ddx_fastcdc_gear[p[i]] ^ c->seed);
        if ((i | 1) >= rem)
            break; /* its pair is incomplete: not tested */
        uint64_t mask = (i & ~(size_t)1) < (c->avg_size & ~(size_t)1) ? c->mask_s : c->mask_l;
        if ((h & mask) == 0)
            return i;
    }
    return rem;
}

static void check_per_byte_reference(const kernel *k)
{
    require(k);
    size_t n = 384u << 10;
    uint8_t *buf = xmalloc(n);
    for (size_t s = 0; s < NSETS; s++) {
        ddx_chunk_cfg c;
        cfg_for(&c, &sets[s]);
        for (int cl = 0; cl < TU_NCLASS; cl++) {
            tu_fill(buf, n, (enum tu_class)cl, tu_seed() + 3 * s + cl);
            for (size_t pos = 0; pos < n;) {
                size_t want = fastcdc_slow(&c, buf + pos, n - pos);
                size_t got = k->fn(&c, buf + pos, n - pos, 1);
                cr_assert_eq(got, want, "%s, %u/%u/%u nc %d, %s, at %zu: got %zu, per-byte %zu",
                             k->name, c.min_size, c.avg_size, c.max_size, c.normalization,
                             tu_class_name[cl], pos, got, want);
                pos += want;
            }
        }
    }
    free(buf);
}

/* Masks reaching bit 48 or above break the 48-byte window: the kernels must
 * give the reference's answer (they hand the call over to it). */
static void check_wide_masks_fall_back(const kernel *k)
{
    require(k);
    size_t n = 256u << 10;
    uint8_t *buf = xmalloc(n);
    tu_fill(buf, n, TU_RANDOM, tu_seed() + 4242);
    static const uint64_t wide[] = {1ull << 48, 1ull << 55 | 1ull << 20, 1ull << 63};
    for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++) {
        ddx_chunk_cfg c;
        cfg_for(&c, &sets[1]);
        c.mask_l = wide[i];
        c.mask_l_ls = wide[i] << 1;
        walk(k, &c, buf, n, "random, mask_l beyond bit 47");
        cfg_for(&c, &sets[1]);
        c.mask_s_ls |= 1ull << 49;
        walk(k, &c, buf, n, "random, mask_s_ls beyond bit 48");
    }
    free(buf);
}

#define KERNEL_TESTS(k)                                                                            \
    Test(fastcdc_fast, k##_walk_every_class)                                                       \
    {                                                                                              \
        check_walk_every_class(&k_##k);                                                            \
    }                                                                                              \
    Test(fastcdc_fast, k##_walk_misaligned)                                                        \
    {                                                                                              \
        check_walk_misaligned(&k_##k);                                                             \
    }                                                                                              \
    Test(fastcdc_fast, k##_lengths_at_edges)                                                       \
    {                                                                                              \
        check_lengths_at_edges(&k_##k);                                                            \
    }                                                                                              \
    Test(fastcdc_fast, k##_streaming_zero_iff_reference_zero)                                      \
    {                                                                                              \
        check_streaming_zero(&k_##k);                                                              \
    }                                                                                              \
    Test(fastcdc_fast, k##_dense_masks)                                                            \
    {                                                                                              \
        check_dense_masks(&k_##k);                                                                 \
    }                                                                                              \
    Test(fastcdc_fast, k##_per_byte_reference)                                                     \
    {                                                                                              \
        check_per_byte_reference(&k_##k);                                                          \
    }                                                                                              \
    Test(fastcdc_fast, k##_wide_masks_fall_back)                                                   \
    {                                                                                              \
        check_wide_masks_fall_back(&k_##k);                                                        \
    }

KERNEL_TESTS(ilp)
KERNEL_TESTS(avx2)
KERNEL_TESTS(avx512)

/* The ILP scan is also the vector kernels' tail: from any even start with
 * the reference's state there, it must find what the reference's loop finds
 * from there, and leave the same state (in the bits a mask sees) when it
 * finds nothing. */
Test(fastcdc_fast, ilp_scan_resumes_mid_chunk)
{
    ddx_chunk_cfg c;
    cfg_for(&c, &sets[0]);
    size_t n = c.max_size;
    uint8_t *buf = xmalloc(n);
    tu_fill(buf, n, TU_TEXT, tu_seed() + 99);
    size_t s = c.min_size & ~(size_t)1;
    for (int large = 0; large < 2; large++) {
        size_t to = large ? n : c.avg_size & ~(size_t)1;
        uint64_t m = large ? c.mask_l : c.mask_s, m2 = large ? c.mask_l_ls : c.mask_s_ls;
        for (size_t from = s; from < to; from += from < s + 200 ? 2 : 222) {
            uint64_t h = 0; /* the reference's state after from - 1 */
            for (size_t i = s; i < from; i += 2)
                h = ((h << 2) + c.gear_ls[buf[i]]) + c.gear[buf[i + 1]];
            uint64_t want_h = h, got_h = h;
            size_t want = from;
            for (; want < to; want += 2) { /* the reference's loop, from here */
                want_h = (want_h << 2) + c.gear_ls[buf[want]];
                if (!(want_h & m2))
                    break;
                want_h += c.gear[buf[want + 1]];
                if (!(want_h & m)) {
                    want++;
                    break;
                }
            }
            size_t got = ddx_fastcdc_ilp_scan(&c, buf, from, to, large, &got_h);
            cr_assert_eq(got, want, "large %d, resume at %zu: got %zu, want %zu", large, from, got,
                         want);
            if (got == to)
                cr_assert_eq(got_h & 0xffffffffffffull, want_h & 0xffffffffffffull,
                             "large %d, resume at %zu: state differs", large, from);
        }
    }
    free(buf);
}
