/*
 * test_hash_mb.c - the multi-buffer lane manager, driven by the portable lane
 * kernels: every message of a mixed batch gets the reference digest.
 */
#include <criterion/criterion.h>

#include "hash_mb.h"
#include "testutil.h"

static const ddx_mb_kernel k256 = {8, 8, ddx_sha256_iv, ddx_sha256_mb_ref_blocks8};
static const ddx_mb_kernel k1 = {8, 5, ddx_sha1_iv, ddx_sha1_mb_ref_blocks8};

static void check_batch(const ddx_hash_msg *m, size_t n, const char *what)
{
    uint8_t *out = malloc(n * 32 + 1), *ref = malloc(32);
    for (int alg = 0; alg < 2; alg++) {
        const ddx_mb_kernel *k = alg ? &k1 : &k256;
        size_t ds = alg ? 20 : 32;
        memset(out, 0xee, n * 32 + 1);
        ddx_mb_run(k, m, n, out);
        for (size_t i = 0; i < n; i++) {
            if (alg)
                ddx_sha1_ref(m[i].p, m[i].len, ref);
            else
                ddx_sha256_ref(m[i].p, m[i].len, ref);
            cr_assert_eq(memcmp(out + i * ds, ref, ds), 0, "%s %s: message %zu (len %zu) differs",
                         alg ? "sha1" : "sha256", what, i, m[i].len);
        }
        cr_assert_eq(out[n * ds], 0xee, "%s: wrote past the last digest", what);
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
