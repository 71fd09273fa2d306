/*
 * test_dispatch.c - every registered implementation against the reference,
 * under every feature subset DDX_CPU_MASK can express on this host; and the
 * dispatcher's rules (default = first usable, a named unusable one is an
 * error, never a fallback).
 *
 * Each Test runs in its own process (Criterion), so setting DDX_CPU_MASK
 * before the first ddx_cpu_features() call applies to that test only.
 */
#include <criterion/criterion.h>

#include "chunk_impl.h"
#include "cpu_features.h"
#include "hash_impl.h"
#include "testutil.h"

static void set_mask(unsigned mask)
{
    char v[16];
    snprintf(v, sizeof v, "0x%x", mask);
    setenv("DDX_CPU_MASK", v, 1);
    cr_assert_eq(ddx_cpu_features(), ddx_cpu_detected() & mask);
}

static void ref_digest(ddx_hash_kind k, const uint8_t *p, size_t n, uint8_t *out)
{
    if (k == DDX_HASH_SHA1)
        ddx_sha1_ref(p, n, out);
    else
        ddx_sha256_ref(p, n, out);
}

static void check_hashes(void)
{
    size_t cap = 3 << 20;
    uint8_t *buf = malloc(cap);
    tu_fill(buf, cap, TU_REAL, tu_seed());
    tu_fill(buf, 1 << 20, TU_RANDOM, tu_seed() + 1);
    size_t ni;
    const ddx_hash_impl *all = ddx_hash_impls(&ni);
    ddx_hash_msg *m = malloc(4200 * sizeof *m);
    uint8_t *out = malloc(4200 * 32), ref[32];
    for (size_t i = 0; i < ni; i++) {
        const ddx_hash_impl *h = &all[i];
        if (!ddx_hash_impl_usable(h))
            continue;
        size_t ds = ddx_hash_size(h->kind);
        /* every length 0..4097 in one batch, odd alignments */
        for (size_t j = 0; j <= 4097; j++) {
            m[j].p = buf + (j * 131) % (cap - 4200) + j % 7;
            m[j].len = j;
        }
        h->batch(m, 4098, out);
        for (size_t j = 0; j <= 4097; j++) {
            ref_digest(h->kind, m[j].p, m[j].len, ref);
            cr_assert_eq(memcmp(out + j * ds, ref, ds), 0, "%s: length %zu differs", h->name, j);
        }
        /* batches of 1..100 mixed lengths up to 1 MiB */
        uint64_t s = tu_seed() + i;
        for (size_t n = 1; n <= 100; n += 9) {
            for (size_t j = 0; j < n; j++) {
                size_t len = j == n / 2            ? tu_splitmix(&s) % (1 << 20) + 1
                             : tu_splitmix(&s) % 8 ? tu_splitmix(&s) % 20000
                                                   : tu_splitmix(&s) % (256 << 10);
                m[j].len = len;
                m[j].p = buf + tu_splitmix(&s) % (cap - len);
            }
            h->batch(m, n, out);
            for (size_t j = 0; j < n; j++) {
                ref_digest(h->kind, m[j].p, m[j].len, ref);
                cr_assert_eq(memcmp(out + j * ds, ref, ds), 0, "%s: batch %zu msg %zu (len %zu)",
                             h->name, n, j, m[j].len);
            }
        }
    }
    free(m);
    free(out);
    free(buf);
}

static void check_chunkers(void)
{
    size_t n = 1 << 20;
    uint8_t *buf = malloc(n);
    size_t ni;
    const ddx_chunk_impl *all = ddx_chunk_impls(&ni);
    for (int cl = 0; cl < TU_NCLASS; cl++) {
        tu_fill(buf, n, (enum tu_class)cl, tu_seed() + cl);
        for (size_t i = 0; i < ni; i++) {
            const ddx_chunk_impl *c = &all[i];
            ddx_chunk_cfg ref, fast;
            cr_assert_eq(ddx_chunk_cfg_init(&ref, c->kind, 2048, 8192, 65536, 1, 0, NULL), 0);
            fast = ref;
            int rc = ddx_chunk_impl_select(&fast, c->name, NULL);
            if ((c->need & ~ddx_cpu_features()) != 0) {
                cr_assert_eq(rc, DDX_EUNSUPP, "%s: selectable without its ISA", c->name);
                continue;
            }
            cr_assert_eq(rc, 0);
            for (size_t pos = 0; pos < n;) {
                for (int eof = 0; eof < 2; eof++) {
                    size_t a = ref.find(&ref, buf + pos, n - pos, eof);
                    size_t b = fast.find(&fast, buf + pos, n - pos, eof);
                    cr_assert_eq(a, b, "%s class %s at %zu eof %d: %zu vs %zu", c->name,
                                 tu_class_name[cl], pos, eof, b, a);
                }
                pos += ref.find(&ref, buf + pos, n - pos, 1);
            }
        }
    }
    free(buf);
}

static void check_rules(void)
{
    unsigned have = ddx_cpu_features();
    size_t ni;
    const ddx_hash_impl *all = ddx_hash_impls(&ni);
    for (int k = 0; k < 2; k++) {
        const ddx_hash_impl *def = NULL;
        cr_assert_eq(ddx_hash_impl_select((ddx_hash_kind)k, NULL, &def), 0);
        cr_assert((def->need & ~have) == 0, "default %s needs more than the mask", def->name);
        /* the default is the first usable of its kind in registry order */
        for (size_t i = 0; i < ni; i++)
            if (all[i].kind == (ddx_hash_kind)k && ddx_hash_impl_usable(&all[i])) {
                cr_assert_eq(&all[i], def);
                break;
            }
    }
    for (size_t i = 0; i < ni; i++) {
        const ddx_hash_impl *got = NULL;
        int rc = ddx_hash_impl_select(all[i].kind, all[i].name, &got);
        if (all[i].need & ~have)
            cr_assert_eq(rc, DDX_EUNSUPP, "%s: no error without its ISA", all[i].name);
        else
            cr_assert(rc == 0 && got == &all[i]);
        /* a name of the other kind is unknown for this kind */
        cr_assert_eq(
            ddx_hash_impl_select(all[i].kind == DDX_HASH_SHA1 ? DDX_HASH_SHA256 : DDX_HASH_SHA1,
                                 all[i].name, &got),
            DDX_EINVAL);
    }
    const ddx_hash_impl *got;
    cr_assert_eq(ddx_hash_impl_select(DDX_HASH_SHA256, "no-such-kernel", &got), DDX_EINVAL);
}

#define MASK_TEST(name, mask)                                                                      \
    Test(dispatch, name)                                                                           \
    {                                                                                              \
        set_mask(mask);                                                                            \
        check_rules();                                                                             \
        check_hashes();                                                                            \
        check_chunkers();                                                                          \
    }

MASK_TEST(portable_only, 0)
MASK_TEST(sse41, DDX_CPU_SSE41)
MASK_TEST(sse41_shani, DDX_CPU_SSE41 | DDX_CPU_SHANI)
MASK_TEST(avx2, DDX_CPU_SSE41 | DDX_CPU_AVX2)
MASK_TEST(avx2_shani, DDX_CPU_SSE41 | DDX_CPU_SHANI | DDX_CPU_AVX2)
MASK_TEST(avx512_no_shani, DDX_CPU_SSE41 | DDX_CPU_AVX2 | DDX_CPU_AVX512)
MASK_TEST(everything, DDX_CPU_ALL)

Test(dispatch, bad_mask_means_portable)
{
    setenv("DDX_CPU_MASK", "avx2", 1);
    cr_assert_eq(ddx_cpu_features(), 0u);
}

Test(dispatch, describe)
{
    char b[128];
    ddx_cpu_describe(0, b, sizeof b);
    cr_assert_str_eq(b, "portable");
    ddx_cpu_describe(DDX_CPU_SHANI | DDX_CPU_AVX2, b, sizeof b);
    cr_assert_str_eq(b, "shani,avx2");
}
