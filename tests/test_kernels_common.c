/*
 * test_kernels_common.c - the GPU device code of kernels/common/, run as
 * plain C on the host, against the CPU references.
 *
 * The CUDA and OpenCL kernels are thin wrappers around these functions, so
 * their arithmetic is proven here, on every machine, without a device: SHA
 * digests against cpu/sha_ref.c (every length 0..300 at every start offset
 * 0..7, long random messages, FIPS known answers), the hash kernel's chunk
 * table walk, and the candidate scan against a brute-force windowed Gear hash
 * computed from its definition. Buffers are allocated exactly as large as
 * the device contract promises (round_up(end, 4) + 64 bytes, the padding
 * filled with garbage), so a read past the contract is an ASan error and a
 * read of a padding byte into a result is a mismatch.
 *
 * Random inputs come from tu_seed(); failures print what is needed to replay.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chunk_impl.h"
#include "ddx_dev.h"
#include "gear_dev.h"
#include "hash_impl.h"
#include "sha_dev.h"
#include "testutil.h"

/* The padding the backends put after every batch buffer (gpu.h). */
#define PAD 64

static size_t round4(size_t n)
{
    return (n + 3) & ~(size_t)3;
}

/* A buffer holding end bytes plus the contract's padding, all of it random:
 * data past a message must never reach a digest or a candidate. malloc's
 * 16-byte alignment is what the scan's 128-bit loads need. */
static uint8_t *padded(size_t end, uint64_t seed)
{
    size_t n = round4(end) + PAD;
    uint8_t *p = tu_xmalloc(n);
    cr_assert_eq((uintptr_t)p % 16, 0, "malloc returned a buffer that is not 16-byte aligned");
    tu_fill_random(p, n, seed);
    return p;
}

/* ---- SHA ------------------------------------------------------------------ */

typedef void (*ref_fn)(const void *p, size_t n, uint8_t *out);
typedef void (*dev_fn)(const ddx_u8 *data, ddx_u32 off, ddx_u32 len, ddx_u8 *digest);

static const struct algo {
    const char *name;
    size_t size;
    ref_fn ref;
    dev_fn dev;
} algos[] = {
    {"sha1", 20, ddx_sha1_ref, ddx_dev_sha1},
    {"sha256", 32, ddx_sha256_ref, ddx_dev_sha256},
};
#define NALGO (sizeof algos / sizeof algos[0])

/* Digest of the len bytes at buf + off both ways; fails with the case named. */
static void check_sha(const struct algo *al, const uint8_t *buf, size_t off, size_t len,
                      const char *what)
{
    uint8_t want[DDX_FP_MAX], got[DDX_FP_MAX + 1];
    char w[2 * DDX_FP_MAX + 1], g[2 * DDX_FP_MAX + 1];
    got[al->size] = 0xa5; /* canary: the device writes exactly size bytes */
    al->ref(buf + off, len, want);
    al->dev(buf, (ddx_u32)off, (ddx_u32)len, got);
    tu_hex(want, al->size, w);
    tu_hex(got, al->size, g);
    cr_assert_str_eq(g, w, "%s %s: length %zu at offset %zu:\n  got  %s\n  want %s", al->name, what,
                     len, off, g, w);
    cr_assert_eq(got[al->size], 0xa5, "%s wrote past its digest", al->name);
}

/* FIPS 180 examples: text repeated `repeat` times. */
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

/* Known answers at an aligned and a misaligned start. */
Test(kernels_common, sha_known_answers)
{
    for (size_t k = 0; k < NKAT; k++) {
        size_t tl = strlen(kats[k].text), n = tl * kats[k].repeat;
        for (size_t off = 0; off < 4; off += 3) {
            uint8_t *buf = padded(off + n, tu_seed() ^ k);
            for (size_t r = 0; r < kats[k].repeat; r++)
                memcpy(buf + off + r * tl, kats[k].text, tl);
            for (size_t a = 0; a < NALGO; a++) {
                const struct algo *al = &algos[a];
                uint8_t d[DDX_FP_MAX];
                char hex[2 * DDX_FP_MAX + 1];
                al->dev(buf, (ddx_u32)off, (ddx_u32)n, d);
                tu_hex(d, al->size, hex);
                cr_assert_str_eq(hex, al->size == 20 ? kats[k].sha1 : kats[k].sha256,
                                 "%s, FIPS example %zu (%zu bytes) at offset %zu", al->name, k, n,
                                 off);
            }
            free(buf);
        }
    }
}

#define SMALL_MAX 300
#define MAX_OFF 7

/* Every tail case (remainder < 56, 56..63, 0; one or two padding blocks)
 * at every byte position within a word, and a word further on. */
Test(kernels_common, sha_every_small_length_and_offset)
{
    uint64_t s = tu_seed() ^ 0x5aa11u;
    for (size_t len = 0; len <= SMALL_MAX; len++) {
        for (size_t off = 0; off <= MAX_OFF; off++) {
            uint8_t *buf = padded(off + len, tu_splitmix(&s));
            for (size_t a = 0; a < NALGO; a++)
                check_sha(&algos[a], buf, off, len, "small");
            free(buf);
        }
    }
}

#define BIG_MAX (1u << 20)
#define BIG_N 12

/* Many blocks, every input class; the exact 1 MiB is always included. */
Test(kernels_common, sha_random_large_lengths)
{
    uint64_t s = tu_seed() ^ 0xb16u;
    for (int i = 0; i < BIG_N; i++) {
        size_t len = i == 0 ? BIG_MAX : (size_t)(tu_splitmix(&s) % (BIG_MAX + 1));
        size_t off = (size_t)(tu_splitmix(&s) % 256);
        enum tu_class c = (enum tu_class)(i % TU_NCLASS);
        uint8_t *buf = padded(off + len, tu_splitmix(&s));
        tu_fill(buf + off, len, c, tu_splitmix(&s));
        for (size_t a = 0; a < NALGO; a++)
            check_sha(&algos[a], buf, off, len, tu_class_name[c]);
        free(buf);
    }
}

/* The longest chunk the engine could hand over (64 MiB), misaligned. */
Test(kernels_common, sha_64mib)
{
    size_t len = (size_t)64 << 20, off = 5;
    uint8_t *buf = padded(off + len, tu_seed() ^ 0x64u);
    for (size_t a = 0; a < NALGO; a++)
        check_sha(&algos[a], buf, off, len, "64 MiB");
    free(buf);
}

/* ---- the hash kernel's per-thread work ------------------------------------ */

#define BATCH (1u << 20)
#define NCHUNK 300

/* A chunk table as the engine builds it, plus the edge cases: empty chunks,
 * every padding case, a chunk ending on the batch's last byte. Every digest
 * lands in its own slot and nothing is written past the last. */
Test(kernels_common, hash_chunk_table)
{
    uint64_t s = tu_seed() ^ 0x7ab1eu;
    uint8_t *batch = padded(BATCH, tu_splitmix(&s));
    uint32_t *table = tu_xmalloc(2 * NCHUNK * sizeof *table);
    for (ddx_u32 j = 0; j < NCHUNK; j++) {
        static const uint32_t edge[] = {0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 128};
        uint32_t len = j < 12 ? edge[j] : (uint32_t)(tu_splitmix(&s) % 70000);
        uint32_t off = (uint32_t)(tu_splitmix(&s) % (BATCH - len + 1));
        if (j == NCHUNK - 1)
            off = BATCH - len; /* ends on the batch's last byte */
        table[2 * j] = off;
        table[2 * j + 1] = len;
    }
    for (size_t a = 0; a < NALGO; a++) {
        const struct algo *al = &algos[a];
        size_t sz = al->size;
        uint8_t *dig = tu_xmalloc(NCHUNK * sz + 1);
        dig[NCHUNK * sz] = 0xa5;
        for (ddx_u32 j = 0; j < NCHUNK; j++)
            ddx_dev_hash_chunk(batch, table, j, sz == 32, dig);
        cr_assert_eq(dig[NCHUNK * sz], 0xa5, "%s: hash_chunk wrote past the digests", al->name);
        for (ddx_u32 j = 0; j < NCHUNK; j++) {
            uint8_t want[DDX_FP_MAX];
            char w[2 * DDX_FP_MAX + 1], g[2 * DDX_FP_MAX + 1];
            al->ref(batch + table[2 * j], table[2 * j + 1], want);
            tu_hex(want, sz, w);
            tu_hex(dig + j * sz, sz, g);
            cr_assert_str_eq(g, w, "%s chunk %u (offset %u, length %u):\n  got  %s\n  want %s",
                             al->name, j, table[2 * j], table[2 * j + 1], g, w);
        }
        free(dig);
    }
    free(table);
    free(batch);
}

/* ---- the candidate scan --------------------------------------------------- */

/* W_i from its definition: sum over k <= min(i, 63) of gear[d[i - k]] << k. */
static uint64_t *windowed_gear(const uint8_t *d, size_t n, const uint64_t *gear)
{
    uint64_t *w = tu_xmalloc(n * sizeof *w);
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 0;
        for (size_t k = 0; k < 64 && k <= i; k++)
            v += gear[d[i - k]] << k;
        w[i] = v;
    }
    return w;
}

#define SENTINEL 0xdeadbeefu

static const char *mask_name;
/* What check_scan saw, so a mask set that finds nothing cannot pass quietly. */
static uint64_t seen_cands, seen_overflows;

/* Scan a len-byte prefix of the data whose windowed hashes are W, in
 * segments of seg_bytes with cap candidates each, and compare every
 * segment with what W says: the true count, the first min(count, cap)
 * candidates in order, and untouched slots after them. */
static void check_scan(const uint8_t *master, const uint64_t *W, size_t len, uint32_t seg_bytes,
                       uint32_t cap, const uint64_t *gear, uint64_t ms, uint64_t ml,
                       const char *cls)
{
    uint8_t *data = padded(len, len * 31 + seg_bytes);
    memcpy(data, master, len);
    uint32_t nseg = (uint32_t)((len + seg_bytes - 1) / seg_bytes);
    uint32_t *counts = tu_xmalloc(nseg * sizeof *counts);
    uint32_t *cands = tu_xmalloc((size_t)nseg * cap * sizeof *cands);
    for (size_t k = 0; k < (size_t)nseg * cap; k++)
        cands[k] = SENTINEL;

    for (uint32_t seg = 0; seg < nseg; seg++)
        ddx_dev_scan_segment(data, (ddx_u32)len, seg, seg_bytes, gear, ms, ml, counts, cands, cap);

    for (uint32_t seg = 0; seg < nseg; seg++) {
        size_t a = (size_t)seg * seg_bytes, b = a + seg_bytes < len ? a + seg_bytes : len;
        uint32_t n = 0;
        for (size_t i = a; i < b; i++) {
            uint32_t f = ((W[i] & ms) == 0 ? DDX_CAND_S : 0) | ((W[i] & ml) == 0 ? DDX_CAND_L : 0);
            if (!f)
                continue;
            if (n < cap) {
                uint32_t got = cands[(size_t)seg * cap + n];
                cr_assert_eq(got, (uint32_t)i | f,
                             "%s, masks %s, len %zu, seg_bytes %u, cap %u: segment %u candidate "
                             "%u is 0x%08x, want 0x%08x",
                             cls, mask_name, len, seg_bytes, cap, seg, n, got, (uint32_t)i | f);
            }
            n++;
        }
        seen_cands += n;
        seen_overflows += n > cap;
        cr_assert_eq(counts[seg], n,
                     "%s, masks %s, len %zu, seg_bytes %u, cap %u: segment %u count %u, want %u",
                     cls, mask_name, len, seg_bytes, cap, seg, counts[seg], n);
        for (uint32_t k = n; k < cap; k++)
            cr_assert_eq(cands[(size_t)seg * cap + k], SENTINEL,
                         "%s, len %zu, seg_bytes %u: segment %u slot %u written past the count",
                         cls, len, seg_bytes, seg, k);
    }
    free(cands);
    free(counts);
    free(data);
}

#define SCAN_MAX 70003

/* Short period: the same window over and over, so a wrong start of the
 * window (hashing too few or too many bytes before a segment) shows up as
 * candidates in the wrong phase. */
static void fill_short_period(uint8_t *p, size_t n, uint64_t seed)
{
    uint8_t pat[7];
    tu_fill_random(pat, sizeof pat, seed);
    for (size_t i = 0; i < n; i++)
        p[i] = pat[i % sizeof pat];
}

static void scan_all(const uint64_t *gear, uint64_t ms, uint64_t ml, const char *name)
{
    /* Lengths around every boundary of the loop: words, 16-byte loads, the
     * window, segments; plus long batches ending at every offset mod 16. */
    static const size_t lens[] = {1,     2,     3,     4,     5,     15,    16,    17,   63,
                                  64,    65,    127,   128,   129,   4095,  4096,  4097, 12345,
                                  70000, 70001, 70002, 70003, 69997, 69998, 69999, 69994};
    static const uint32_t segs[] = {64, 4096};
    static const uint32_t caps[] = {1, 3, 64};
    uint64_t s = tu_seed() ^ 0x5ca4u;
    uint8_t *master = tu_xmalloc(SCAN_MAX);
    mask_name = name;
    seen_cands = seen_overflows = 0;
    for (int c = 0; c < 5; c++) {
        static const char *const cls[] = {"random", "zero", "short-period", "text", "periodic"};
        switch (c) {
        case 0:
            tu_fill(master, SCAN_MAX, TU_RANDOM, tu_splitmix(&s));
            break;
        case 1:
            tu_fill(master, SCAN_MAX, TU_ZERO, 0);
            break;
        case 2:
            fill_short_period(master, SCAN_MAX, tu_splitmix(&s));
            break;
        case 3:
            tu_fill(master, SCAN_MAX, TU_TEXT, tu_splitmix(&s));
            break;
        default:
            tu_fill(master, SCAN_MAX, TU_PERIODIC, tu_splitmix(&s));
            break;
        }
        uint64_t *W = windowed_gear(master, SCAN_MAX, gear);
        for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++)
            for (size_t g = 0; g < sizeof segs / sizeof segs[0]; g++)
                for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++)
                    check_scan(master, W, lens[l], segs[g], caps[k], gear, ms, ml, cls[c]);
        free(W);
    }
    free(master);
    cr_assert_gt(seen_cands, 0, "masks %s: no candidates at all", name);
    cr_assert_gt(seen_overflows, 0, "masks %s: no segment overflowed", name);
    cr_log_info("masks %s: %llu candidates, %llu overflowing segments", name,
                (unsigned long long)seen_cands, (unsigned long long)seen_overflows);
}

static void fastcdc_cfg(ddx_chunk_cfg *cfg)
{
    const char *why = NULL;
    int rc = ddx_chunk_cfg_init(cfg, DDX_CHUNKER_FASTCDC, 2048, 8192, 65536, 1, 0, &why);
    cr_assert_eq(rc, 0, "ddx_chunk_cfg_init: %s", why ? why : "?");
}

/* The masks the engine really uses (FastCDC 2020, 8 KiB average, level 1). */
Test(kernels_common, scan_fastcdc_masks)
{
    ddx_chunk_cfg cfg;
    fastcdc_cfg(&cfg);
    scan_all(cfg.gear, cfg.mask_s, cfg.mask_l, "fastcdc-8k");
}

/* Few mask bits: candidates every few bytes, so segments overflow even with
 * cap 64 and the count must still be the true total. Nested masks (as
 * FastCDC's), disjoint masks (the folded pre-test never rejects), masks in
 * the top bits only, and an empty mask (every position qualifies). */
Test(kernels_common, scan_dense_masks)
{
    static const struct {
        const char *name;
        uint64_t s, l;
    } m[] = {
        {"nested-low", 0x7, 0x1},
        {"disjoint", 0x0001000000000300ull, 0x0000400000000000ull},
        {"top-bits", 0xc000000000000000ull, 0x8000000000000000ull},
        {"empty-s", 0, 0x0000000300000000ull},
    };
    ddx_chunk_cfg cfg;
    fastcdc_cfg(&cfg);
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        scan_all(cfg.gear, m[i].s, m[i].l, m[i].name);
}

/* A thread whose segment starts at or past len reports nothing (a launch
 * rounded up to whole thread blocks may run one). */
Test(kernels_common, scan_segment_past_end)
{
    ddx_chunk_cfg cfg;
    fastcdc_cfg(&cfg);
    uint8_t *data = padded(100, 1);
    uint32_t counts[3] = {SENTINEL, SENTINEL, SENTINEL}, cands[3] = {SENTINEL, SENTINEL, SENTINEL};
    ddx_dev_scan_segment(data, 100, 2, 64, cfg.gear, 0, 0, counts, cands, 1);
    cr_assert_eq(counts[2], 0);
    cr_assert_eq(cands[2], SENTINEL);
    free(data);
}
