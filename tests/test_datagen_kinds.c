/*
 * test_datagen_kinds.c - the dataset generators (datasets/datagen.h) and ddx-datagen.
 *
 * What is pinned:
 *   backup    its bytes: golden FNV-1a digests of a small run, taken before the vm,
 *             lowdedup and trace kinds were added, so any change to its draw order fails;
 *   every kind  determinism (same seed, same bytes; generation k the same whatever the
 *             number of generations asked for; another seed, other bytes);
 *   vm        every image the same size, zeros 30-40% of the blocks of every image, some
 *             duplication inside the base, and 1-10% new blocks per later image;
 *   lowdedup  at 4 KiB granularity the documented share exactly, hence the documented ratio;
 *   trace     records, duplicate ratio within 3% of R, lengths within [avg/4, 8 avg] and a
 *             mean within 3% of avg, a duplicate repeating its original's length; then
 *             end to end: ddx-datagen --kind trace read back with ddx_trace_open/read;
 *   CLI       bad options exit 2 with one line naming the option.
 * Redundancy is measured with a set of 64-bit hashes of 4 KiB blocks (or of fingerprints):
 * at these sizes a collision has a chance below 2^-30. The generator seeds of the property
 * tests come from tu_seed() (DDX_TEST_SEED replays a run); the golden test uses its own.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "datagen.h"
#include "ddx.h"
#include "testutil.h"

#define BLK 4096

/* ---- helpers ------------------------------------------------------------------------- */

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* A 64-bit hash of a 4 KiB block, a word at a time (fnv1a per byte is slow under ASan). */
static uint64_t block_hash(const uint8_t *p)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < BLK; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 29;
    }
    return h;
}

static int is_zero_block(const uint8_t *p)
{
    for (size_t i = 0; i < BLK; i++)
        if (p[i])
            return 0;
    return 1;
}

/* An open-addressing set of nonzero 64-bit keys (0 is mapped to 1). */
typedef struct hset {
    uint64_t *slot;
    size_t mask, n;
} hset;

static void hset_init(hset *s, size_t expect)
{
    size_t cap = 1024;
    while (cap < 2 * expect)
        cap *= 2;
    s->slot = calloc(cap, sizeof(*s->slot));
    cr_assert_not_null(s->slot);
    s->mask = cap - 1;
    s->n = 0;
}

/* 1 if k was new. */
static int hset_add(hset *s, uint64_t k)
{
    k = k ? k : 1;
    cr_assert(s->n < s->mask / 2, "hset sized too small");
    for (size_t i = (size_t)(k * 0x9e3779b97f4a7c15ull >> 20) & s->mask;; i = (i + 1) & s->mask) {
        if (s->slot[i] == k)
            return 0;
        if (s->slot[i] == 0) {
            s->slot[i] = k;
            s->n++;
            return 1;
        }
    }
}

static void hset_free(hset *s)
{
    free(s->slot);
}

/* All generations of p, concatenated lengths in lens[] (at most max). */
static uint8_t **gen_all(const ddx_gen_params *p, size_t *lens)
{
    ddx_gen *g;
    cr_assert_eq(ddx_gen_create(&g, p), 0);
    uint8_t **bufs = calloc(p->generations, sizeof(*bufs));
    cr_assert_not_null(bufs);
    for (unsigned i = 0; i < p->generations; i++)
        cr_assert_eq(ddx_gen_next(g, &bufs[i], &lens[i]), 1, "generation %u", i + 1);
    uint8_t *end;
    size_t endlen;
    cr_assert_eq(ddx_gen_next(g, &end, &endlen), 0);
    cr_assert_null(end);
    ddx_gen_free(g);
    return bufs;
}

static void free_all(uint8_t **bufs, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        free(bufs[i]);
    free(bufs);
}

/* The same parameters twice, and with fewer generations: identical prefixes; another seed:
 * a different first generation. */
static void check_determinism(ddx_gen_params p)
{
    size_t la[8], lb[8], lc[8];
    cr_assert_leq(p.generations, 8);
    uint8_t **a = gen_all(&p, la);
    uint8_t **b = gen_all(&p, lb);
    ddx_gen_params q = p;
    q.generations = p.generations - 1;
    uint8_t **c = gen_all(&q, lc);
    for (unsigned i = 0; i < p.generations; i++) {
        cr_assert_eq(la[i], lb[i]);
        cr_assert(memcmp(a[i], b[i], la[i]) == 0, "generation %u differs between runs", i + 1);
        if (i < q.generations) {
            cr_assert_eq(la[i], lc[i]);
            cr_assert(memcmp(a[i], c[i], la[i]) == 0,
                      "generation %u depends on the number of generations", i + 1);
        }
    }
    q = p;
    q.seed = p.seed + 1;
    q.generations = 1;
    uint8_t **d = gen_all(&q, lc);
    cr_assert(lc[0] != la[0] || memcmp(a[0], d[0], la[0]) != 0, "seed changes nothing");
    free_all(a, p.generations);
    free_all(b, p.generations);
    free_all(c, p.generations - 1);
    free_all(d, 1);
}

/* ---- backup -------------------------------------------------------------------------- */

Test(datagen, backup_bytes_unchanged)
{
    /* ddx-datagen --seed 7 --generations 3 --tree-bytes 2M, before the other kinds. */
    static const uint64_t GOLDEN[3] = {0x60dcc5cadb2e7665ull, 0xbd320a52730d2e3eull,
                                       0xf4327817928eac4aull};
    static const size_t LEN[3] = {2106880, 2121728, 2147840};
    ddx_gen_params p;
    ddx_gen_default_params(&p);
    cr_assert_eq(p.kind, DDX_GEN_BACKUP);
    p.seed = 7;
    p.generations = 3;
    p.tree_bytes = 2u << 20;
    size_t lens[3];
    uint8_t **b = gen_all(&p, lens);
    for (unsigned i = 0; i < 3; i++) {
        cr_assert_eq(lens[i], LEN[i], "generation %u: %zu bytes", i + 1, lens[i]);
        cr_assert_eq(fnv1a(b[i], lens[i]), GOLDEN[i], "generation %u: digest %016llx", i + 1,
                     (unsigned long long)fnv1a(b[i], lens[i]));
    }
    free_all(b, 3);
    char d[128];
    ddx_gen_describe(&p, d, sizeof(d));
    cr_assert_str_eq(d, "backup: 3 generations of a 2 MiB tree, seed 7");
}

Test(datagen, backup_deterministic)
{
    ddx_gen_params p;
    ddx_gen_default_params(&p);
    p.seed = tu_seed();
    p.generations = 3;
    p.tree_bytes = 2u << 20;
    check_determinism(p);
}

/* ---- parameters ---------------------------------------------------------------------- */

Test(datagen, params_validated)
{
    ddx_gen_params p;
    ddx_gen *g = NULL;
    ddx_gen_default_params(&p);
    p.kind = DDX_GEN_VM;
    p.gen_bytes = (1u << 20) + 512; /* not a multiple of 4 KiB */
    cr_assert_eq(ddx_gen_create(&g, &p), -1);
    p.gen_bytes = 1u << 19;
    cr_assert_eq(ddx_gen_create(&g, &p), -1);
    p.gen_bytes = 1u << 20;
    p.tree_bytes = 0; /* ignored by vm */
    cr_assert_eq(ddx_gen_create(&g, &p), 0);
    ddx_gen_free(g);
    p.kind = DDX_GEN_LOWDEDUP;
    p.share_permille = 1001;
    cr_assert_eq(ddx_gen_create(&g, &p), -1);
    p.kind = (ddx_gen_kind)7;
    cr_assert_eq(ddx_gen_create(&g, &p), -1);

    ddx_gen_kind k;
    cr_assert_eq(ddx_gen_kind_from_name("lowdedup", &k), 0);
    cr_assert_eq(k, DDX_GEN_LOWDEDUP);
    cr_assert_eq(ddx_gen_kind_from_name("trace", &k), -1);
    cr_assert_str_eq(ddx_gen_kind_name(DDX_GEN_VM), "vm");

    ddx_gen_trace_params tp;
    ddx_gen_trace *t = NULL;
    ddx_gen_trace_default_params(&tp);
    tp.dup_ratio_milli = 999;
    cr_assert_eq(ddx_gen_trace_create(&t, &tp), -1);
    ddx_gen_trace_default_params(&tp);
    tp.avg = 32;
    cr_assert_eq(ddx_gen_trace_create(&t, &tp), -1);
    ddx_gen_trace_default_params(&tp);
    tp.chunks = 0;
    cr_assert_eq(ddx_gen_trace_create(&t, &tp), -1);
}

/* ---- vm ------------------------------------------------------------------------------ */

Test(datagen, vm_deterministic)
{
    ddx_gen_params p;
    ddx_gen_default_params(&p);
    p.kind = DDX_GEN_VM;
    p.seed = tu_seed();
    p.generations = 4;
    p.gen_bytes = 2u << 20;
    check_determinism(p);
}

Test(datagen, vm_images_same_size_zero_share_and_divergence)
{
    enum { GENS = 8 };
    ddx_gen_params p;
    ddx_gen_default_params(&p);
    p.kind = DDX_GEN_VM;
    p.seed = tu_seed() ^ 0x7a;
    p.generations = GENS;
    p.gen_bytes = 16u << 20;
    size_t nb = p.gen_bytes / BLK;
    size_t lens[GENS];
    uint8_t **img = gen_all(&p, lens);
    hset all;
    hset_init(&all, nb * 2);
    for (unsigned i = 0; i < GENS; i++) {
        cr_assert_eq(lens[i], p.gen_bytes, "image %u: %zu bytes", i + 1, lens[i]);
        size_t zero = 0, fresh = 0;
        for (size_t b = 0; b < nb; b++) {
            const uint8_t *blk = img[i] + b * BLK;
            zero += is_zero_block(blk);
            fresh += hset_add(&all, block_hash(blk));
        }
        /* Zeros: 35% in the base (datasets/README.md), kept there by the trims. */
        cr_assert(zero * 100 >= nb * 30 && zero * 100 <= nb * 40,
                  "image %u: %zu of %zu blocks zero", i + 1, zero, nb);
        if (i > 0) {
            /* ~4% of the blocks new per image (overwrites, fills, packages). */
            cr_assert(fresh * 100 >= nb * 1 && fresh * 100 <= nb * 10,
                      "image %u: %zu of %zu blocks new", i + 1, fresh, nb);
        }
    }
    hset_free(&all);
    free_all(img, GENS);
    char d[128];
    ddx_gen_describe(&p, d, sizeof(d));
    cr_assert(strncmp(d, "vm: 8 images of 16 MiB, seed ", 29) == 0, "%s", d);
}

/* Libraries repeat inside the base: its non-zero blocks dedup ~1.3x at 64 MiB (1.13-1.48
 * over 80 seeds; smaller images have fewer pool entries and vary more). */
Test(datagen, vm_base_duplicates_itself)
{
    ddx_gen_params p;
    ddx_gen_default_params(&p);
    p.kind = DDX_GEN_VM;
    p.seed = tu_seed() ^ 0xba5e;
    p.generations = 1;
    size_t nb = p.gen_bytes / BLK, len;
    uint8_t **img = gen_all(&p, &len);
    hset own;
    hset_init(&own, nb);
    size_t nonzero = 0;
    for (size_t b = 0; b < nb; b++) {
        if (is_zero_block(img[0] + b * BLK))
            continue;
        nonzero++;
        hset_add(&own, block_hash(img[0] + b * BLK));
    }
    cr_assert(nonzero * 100 >= own.n * 110, "base: %zu non-zero blocks, %zu distinct", nonzero,
              own.n);
    hset_free(&own);
    free_all(img, 1);
}

/* ---- lowdedup ------------------------------------------------------------------------ */

Test(datagen, lowdedup_deterministic)
{
    ddx_gen_params p;
    ddx_gen_default_params(&p);
    p.kind = DDX_GEN_LOWDEDUP;
    p.seed = tu_seed();
    p.generations = 4;
    p.gen_bytes = 1u << 20;
    p.share_permille = 100;
    check_determinism(p);
}

/* Generations 2..N bring exactly nb - floor(nb * share / 1000) new blocks: random blocks
 * never collide, so the shared blocks are the only duplicates. */
static void check_share(unsigned share, uint64_t seed)
{
    enum { GENS = 6 };
    ddx_gen_params p;
    ddx_gen_default_params(&p);
    p.kind = DDX_GEN_LOWDEDUP;
    p.seed = seed;
    p.generations = GENS;
    p.gen_bytes = 4u << 20;
    p.share_permille = share;
    size_t nb = p.gen_bytes / BLK, lens[GENS];
    uint8_t **g = gen_all(&p, lens);
    hset all;
    hset_init(&all, nb * GENS);
    for (unsigned i = 0; i < GENS; i++) {
        cr_assert_eq(lens[i], p.gen_bytes);
        size_t fresh = 0;
        for (size_t b = 0; b < nb; b++)
            fresh += hset_add(&all, block_hash(g[i] + b * BLK));
        size_t want = i == 0 ? nb : nb - nb * share / 1000;
        cr_assert_eq(fresh, want, "share %u permille, generation %u: %zu new blocks, want %zu",
                     share, i + 1, fresh, want);
    }
    /* The documented ratio N / (1 + (N - 1)(1 - share)), in thousandths, to 0.5%. */
    uint64_t ratio_milli = (uint64_t)nb * GENS * 1000 / all.n;
    uint64_t want_milli =
        (uint64_t)GENS * 1000 * 1000 / (1000 + (uint64_t)(GENS - 1) * (1000 - share));
    cr_assert(ratio_milli * 1000 >= want_milli * 995 && ratio_milli * 1000 <= want_milli * 1005,
              "share %u: ratio %llu/1000, documented %llu/1000", share,
              (unsigned long long)ratio_milli, (unsigned long long)want_milli);
    hset_free(&all);
    free_all(g, GENS);
}

Test(datagen, lowdedup_share)
{
    check_share(20, tu_seed());
    check_share(0, tu_seed() + 1);
    check_share(250, tu_seed() + 2);
    check_share(1000, tu_seed() + 3);
}

/* ---- trace --------------------------------------------------------------------------- */

static uint64_t fp_key(const uint8_t *fp)
{
    uint64_t k;
    memcpy(&k, fp, 8);
    return k;
}

/* Generate a trace and check ratio, lengths, and that duplicates repeat their originals. */
static void check_trace(uint32_t ratio_milli, uint32_t avg, uint64_t chunks, uint64_t seed)
{
    ddx_gen_trace_params tp;
    ddx_gen_trace_default_params(&tp);
    tp.seed = seed;
    tp.chunks = chunks;
    tp.dup_ratio_milli = ratio_milli;
    tp.avg = avg;
    ddx_gen_trace *t;
    cr_assert_eq(ddx_gen_trace_create(&t, &tp), 0);
    /* The length of each distinct chunk, by its fingerprint's slot in a parallel table. */
    hset seen;
    hset_init(&seen, chunks);
    uint32_t *len_of = calloc(seen.mask + 1, sizeof(*len_of));
    cr_assert_not_null(len_of);
    ddx_gen_trace_rec rec[1000];
    uint64_t n = 0, bytes = 0;
    size_t got;
    while ((got = ddx_gen_trace_next(t, rec, 1000)) > 0) {
        for (size_t i = 0; i < got; i++, n++) {
            cr_assert(rec[i].length >= avg / 4 && rec[i].length <= avg * 8, "length %u",
                      rec[i].length);
            bytes += rec[i].length;
            uint64_t k = fp_key(rec[i].fp);
            int fresh = hset_add(&seen, k);
            cr_assert_eq(fresh, !rec[i].is_dup, "record %llu: is_dup %u, first time %d",
                         (unsigned long long)n, rec[i].is_dup, fresh);
            /* Find k's slot again to check the length a duplicate repeats. */
            k = k ? k : 1;
            size_t s = (size_t)(k * 0x9e3779b97f4a7c15ull >> 20) & seen.mask;
            while (seen.slot[s] != k)
                s = (s + 1) & seen.mask;
            if (fresh)
                len_of[s] = rec[i].length;
            else
                cr_assert_eq(len_of[s], rec[i].length, "a duplicate changed its length");
        }
    }
    cr_assert_eq(n, chunks);
    cr_assert_eq(ddx_gen_trace_unique(t), seen.n);
    uint64_t measured_milli = n * 1000 / seen.n;
    cr_assert(measured_milli * 100 >= (uint64_t)ratio_milli * 97 &&
                  measured_milli * 100 <= (uint64_t)ratio_milli * 103,
              "dup ratio %llu/1000, asked %u/1000", (unsigned long long)measured_milli,
              ratio_milli);
    uint64_t mean = bytes / n;
    cr_assert(mean * 100 >= (uint64_t)avg * 97 && mean * 100 <= (uint64_t)avg * 103,
              "mean length %llu, avg %u", (unsigned long long)mean, avg);
    free(len_of);
    hset_free(&seen);
    ddx_gen_trace_free(t);
}

Test(datagen, trace_ratio_and_lengths)
{
    check_trace(4000, 8192, 1000000, tu_seed());
    check_trace(1500, 4096, 500000, tu_seed() + 1);
    check_trace(10000, 16384, 1000000, tu_seed() + 2);
    check_trace(1000, 8192, 100000, tu_seed() + 3);
}

Test(datagen, trace_deterministic)
{
    ddx_gen_trace_params tp;
    ddx_gen_trace_default_params(&tp);
    tp.seed = tu_seed();
    tp.chunks = 20000;
    ddx_gen_trace *a, *b;
    cr_assert_eq(ddx_gen_trace_create(&a, &tp), 0);
    cr_assert_eq(ddx_gen_trace_create(&b, &tp), 0);
    ddx_gen_trace_rec ra[777], rb[500];
    /* Different batch sizes: the records do not depend on how they are fetched. */
    uint64_t i = 0;
    size_t na = 0, nb = 0, ia = 0, ib = 0;
    for (;;) {
        if (ia == na) {
            na = ddx_gen_trace_next(a, ra, 777);
            ia = 0;
        }
        if (ib == nb) {
            nb = ddx_gen_trace_next(b, rb, 500);
            ib = 0;
        }
        if (na == 0 || nb == 0)
            break;
        cr_assert(memcmp(&ra[ia], &rb[ib], sizeof(ra[0])) == 0, "record %llu differs",
                  (unsigned long long)i);
        ia++, ib++, i++;
    }
    cr_assert_eq(na, 0);
    cr_assert_eq(nb, 0);
    cr_assert_eq(i, tp.chunks);
    ddx_gen_trace_free(a);
    ddx_gen_trace_free(b);
    char d[128];
    tp.seed = 3;
    tp.dup_ratio_milli = 2500;
    ddx_gen_trace_describe(&tp, d, sizeof(d));
    cr_assert_str_eq(d, "trace: 20000 chunks, dup ratio 2.500, avg 8 KiB, seed 3");
}

/* ---- ddx-datagen --------------------------------------------------------------------- */

/* BUILD/ddx-datagen, from this test's own path BUILD/tests/test_datagen_kinds. */
static void datagen_path(char *out, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    cr_assert(n > 0);
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    cr_assert_not_null(slash);
    *slash = '\0';
    snprintf(out, len, "%s/../ddx-datagen", exe);
    cr_assert(access(out, X_OK) == 0, "%s not built", out);
}

#define mktmp() tu_mktmp("datagen-test")
#define rmtree tu_rmrf

Test(datagen, cli_trace_reads_back)
{
    char bin[PATH_MAX + 32], cmd[3 * PATH_MAX], path[PATH_MAX];
    datagen_path(bin, sizeof(bin));
    char *tmp = mktmp();
    snprintf(path, sizeof(path), "%s/t.ddxt", tmp);
    uint64_t seed = tu_seed() & 0xffffffff;
    snprintf(cmd, sizeof(cmd),
             "'%s' --kind trace --seed %llu --chunks 300000 --dup-ratio 3 --avg 4K --out '%s'", bin,
             (unsigned long long)seed, path);
    cr_assert_eq(system(cmd), 0, "%s", cmd);

    char why[256] = "";
    ddx_trace *t;
    cr_assert_eq(ddx_trace_open(&t, path, DDX_TRACE_AUTO, why, sizeof(why)), 0, "%s", why);
    cr_assert_eq(ddx_trace_get_format(t), DDX_TRACE_DDX);
    cr_assert_eq(ddx_trace_fp_size(t), DDX_GEN_TRACE_FP_SIZE);
    cr_assert_str_eq(ddx_trace_hash_name(t), "sha256");

    /* The same records as the library generator gives for the same parameters. */
    ddx_gen_trace_params tp;
    ddx_gen_trace_default_params(&tp);
    tp.seed = seed;
    tp.chunks = 300000;
    tp.dup_ratio_milli = 3000;
    tp.avg = 4096;
    ddx_gen_trace *g;
    cr_assert_eq(ddx_gen_trace_create(&g, &tp), 0);
    hset seen;
    hset_init(&seen, tp.chunks);
    static ddx_chunk c[1024];
    ddx_gen_trace_rec rec[1024];
    uint64_t n = 0;
    size_t got;
    for (;;) {
        cr_assert_eq(ddx_trace_read(t, c, 1024, &got), 0, "%s", ddx_trace_errmsg(t));
        if (got == 0)
            break;
        cr_assert_eq(ddx_gen_trace_next(g, rec, got), got);
        for (size_t i = 0; i < got; i++, n++) {
            cr_assert_eq(c[i].stream, 0);
            cr_assert(c[i].length >= 1024 && c[i].length <= 32768, "length %u", c[i].length);
            cr_assert_eq(c[i].length, rec[i].length, "record %llu", (unsigned long long)n);
            cr_assert(memcmp(c[i].fp, rec[i].fp, DDX_GEN_TRACE_FP_SIZE) == 0, "record %llu",
                      (unsigned long long)n);
            hset_add(&seen, fp_key(c[i].fp));
        }
    }
    cr_assert_eq(n, tp.chunks);
    uint64_t ratio_milli = n * 1000 / seen.n;
    cr_assert(ratio_milli >= 2910 && ratio_milli <= 3090, "dup ratio %llu/1000",
              (unsigned long long)ratio_milli);
    ddx_trace_close(t);
    ddx_gen_trace_free(g);
    hset_free(&seen);
    rmtree(tmp);
    free(tmp);
}

/* Run ddx-datagen with args: exit status 2, one line on stderr containing `want`. */
static void expect_usage_error(const char *args, const char *want)
{
    char bin[PATH_MAX + 32], cmd[3 * PATH_MAX + 512], errf[PATH_MAX];
    datagen_path(bin, sizeof(bin));
    char *tmp = mktmp();
    snprintf(errf, sizeof(errf), "%s/err", tmp);
    snprintf(cmd, sizeof(cmd), "cd '%s' && '%s' %s >out 2>'%s' </dev/null", tmp, bin, args, errf);
    int st = system(cmd);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "%s: exit %d", args, WEXITSTATUS(st));
    FILE *f = fopen(errf, "r");
    cr_assert_not_null(f);
    char line[512] = "";
    int lines = 0;
    char first[512] = "";
    while (fgets(line, sizeof(line), f))
        if (lines++ == 0)
            memcpy(first, line, sizeof(first));
    fclose(f);
    cr_assert_eq(lines, 1, "%s: %d lines on stderr", args, lines);
    cr_assert(strstr(first, want) != NULL, "%s: '%s' lacks '%s'", args, first, want);
    rmtree(tmp);
    free(tmp);
}

Test(datagen, cli_usage_errors)
{
    expect_usage_error("--kind disk --stdout", "--kind: expected backup, vm, lowdedup or trace");
    expect_usage_error("--kind vm --gen-bytes 1000K --out d", "--gen-bytes: expected a multiple");
    expect_usage_error("--kind vm --gen-bytes 512K --out d", "--gen-bytes");
    expect_usage_error("--kind vm --tree-bytes 8M --out d", "--tree-bytes: not used by --kind vm");
    expect_usage_error("--gen-bytes 8M --out d", "--gen-bytes: not used by --kind backup");
    expect_usage_error("--kind lowdedup --share-permille 1001 --out d", "--share-permille");
    expect_usage_error("--kind lowdedup --chunks 5 --out d", "--chunks: not used");
    expect_usage_error("--kind trace --chunks 10 --stdout", "--stdout: --kind trace");
    expect_usage_error("--kind trace --chunks 10", "--kind trace: expected --out FILE");
    expect_usage_error("--kind trace --chunks 0 --out t", "--chunks");
    expect_usage_error("--kind trace --chunks 1x --out t", "--chunks");
    expect_usage_error("--kind trace --dup-ratio 0.5 --out t", "--dup-ratio");
    expect_usage_error("--kind trace --dup-ratio 2.0001 --out t", "--dup-ratio");
    expect_usage_error("--kind trace --dup-ratio 4. --out t", "--dup-ratio");
    expect_usage_error("--kind trace --avg 32 --out t", "--avg");
    expect_usage_error("--kind trace --generations 3 --out t", "--generations: not used");
    expect_usage_error("--kind trace --avg", "--avg: expected a value");
}
