/*
 * test_hash_mb.c - the multi-buffer lane manager, driven by the portable lane
 * kernels: every message of a mixed batch gets the reference digest, with
 * the batch's last messages kept in the lanes (drain_pct 0), handed to the
 * SHA-NI lanes once they fill less than 40 % of the lanes' remaining run
 * (part way through bodies and tails), and as soon as the last message has
 * started (drain_pct 1000). Where the CPU or DDX_CPU_MASK has no SHA-NI the
 * hand-over is off and the three runs are the same one; run_all.sh runs the
 * SIMD kernels' tests both ways.
 */
#include <criterion/criterion.h>

#include "hash_mb.h"
#include "sha_lanes.h"
#include "testutil.h"

static const ddx_mb_kernel k256[3] = {{8, 8, ddx_sha256_iv, ddx_sha256_mb_ref_blocks8, 0},
                                      {8, 8, ddx_sha256_iv, ddx_sha256_mb_ref_blocks8, 40},
                                      {8, 8, ddx_sha256_iv, ddx_sha256_mb_ref_blocks8, 1000}};
static const ddx_mb_kernel k1[3] = {{8, 5, ddx_sha1_iv, ddx_sha1_mb_ref_blocks8, 0},
                                    {8, 5, ddx_sha1_iv, ddx_sha1_mb_ref_blocks8, 40},
                                    {8, 5, ddx_sha1_iv, ddx_sha1_mb_ref_blocks8, 1000}};

static void check_batch(const ddx_hash_msg *m, size_t n, const char *what)
{
    uint8_t *out = malloc(n * 32 + 1), *ref = malloc(32);
    for (int run = 0; run < 6; run++) {
        int alg = run & 1;
        const ddx_mb_kernel *k = alg ? &k1[run / 2] : &k256[run / 2];
        size_t ds = alg ? 20 : 32;
        memset(out, 0xee, n * 32 + 1);
        ddx_mb_run(k, m, n, out);
        for (size_t i = 0; i < n; i++) {
            if (alg)
                ddx_sha1_ref(m[i].p, m[i].len, ref);
            else
                ddx_sha256_ref(m[i].p, m[i].len, ref);
            cr_assert_eq(memcmp(out + i * ds, ref, ds), 0,
                         "%s %s, drain_pct %u: message %zu (len %zu) differs",
                         alg ? "sha1" : "sha256", what, k->drain_pct, i, m[i].len);
        }
        cr_assert_eq(out[n * ds], 0xee, "%s, drain_pct %u: wrote past the last digest", what,
                     k->drain_pct);
    }
    free(out);
    free(ref);
}

Test(hash_mb, every_length_0_to_300_in_one_batch)
{
    size_t n = 301;
    uint8_t *buf = malloc(300 * 301 / 2 + 8);
    tu_fill_random(buf, 300 * 301 / 2 + 8, tu_seed());
    ddx_hash_msg *m = malloc(n * sizeof *m);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        m[i].p = buf + off + (i % 7); /* odd alignments */
        m[i].len = i;
        off += i;
    }
    check_batch(m, n, "lengths 0..300");
    free(m);
    free(buf);
}

Test(hash_mb, mixed_batches_1_to_100)
{
    size_t cap = 1 << 22;
    uint8_t *buf = malloc(cap);
    tu_fill(buf, cap, TU_TEXT, tu_seed() + 1);
    uint64_t s = tu_seed();
    ddx_hash_msg m[100];
    for (size_t n = 1; n <= 100; n++) {
        for (size_t i = 0; i < n; i++) {
            size_t len = tu_splitmix(&s) % 3 == 0 ? tu_splitmix(&s) % 70000 : tu_splitmix(&s) % 200;
            if (i == n / 2 && n % 5 == 0)
                len = 1 << 20; /* one long message among short ones */
            m[i].len = len;
            m[i].p = buf + tu_splitmix(&s) % (cap - len);
        }
        char what[32];
        snprintf(what, sizeof what, "batch of %zu", n);
        check_batch(m, n, what);
    }
    check_batch(m, 0, "empty batch");
    free(buf);
}

/* The hand-over is only there with SHA-NI: say so rather than pass quietly. */
Test(hash_mb, hand_over_to_shani_is_exercised_where_the_cpu_has_it)
{
    if (!ddx_sha_drain(8) || !ddx_sha_drain(5))
        cr_skip_test("no SHA-NI here (or DDX_CPU_MASK hides it): the drain_pct runs above "
                     "kept every message in the lanes");
    cr_assert_eq(ddx_sha_drain(5)->digest, 20);
    cr_assert_eq(ddx_sha_drain(8)->digest, 32);
}
