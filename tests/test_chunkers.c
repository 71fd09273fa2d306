/*
 * test_chunkers.c - every chunker against its rules and against a slow,
 * obvious reference written from the definition (per byte, no tables, no
 * unrolling), on every input class; streaming == one-shot; resynchronisation.
 */
#include <criterion/criterion.h>

#include "chunk_impl.h"
#include "testutil.h"

#define N_IN (768 * 1024)

typedef struct params {
    ddx_chunker_kind kind;
    uint32_t min, avg, max;
    int norm;
} params;

static const params param_sets[] = {
    {DDX_CHUNKER_FIXED, 0, 4096, 0, 0},
    {DDX_CHUNKER_FIXED, 0, 3000, 0, 0},
    {DDX_CHUNKER_RABIN, 2048, 8192, 65536, 0},
    {DDX_CHUNKER_RABIN, 512, 2048, 8192, 0},
    {DDX_CHUNKER_TTTD, 2048, 8192, 65536, 0},
    {DDX_CHUNKER_TTTD, 460, 1000, 2800, 0},
    {DDX_CHUNKER_FASTCDC, 2048, 8192, 65536, 1},
    {DDX_CHUNKER_FASTCDC, 1024, 4096, 16384, 2},
    {DDX_CHUNKER_FASTCDC, 4096, 16384, 131072, 0},
    {DDX_CHUNKER_FASTCDC, 257, 1000, 4099, 3},
};
#define NSETS (sizeof param_sets / sizeof param_sets[0])

static void cfg_for(ddx_chunk_cfg *c, const params *p)
{
    const char *why = "";
    int rc = ddx_chunk_cfg_init(c, p->kind, p->min, p->avg, p->max, p->norm, 0, &why);
    cr_assert_eq(rc, 0, "cfg %s %u/%u/%u: %s", ddx_chunker_name(p->kind), p->min, p->avg, p->max,
                 why);
}

/* Cut ends of the whole buffer with the find function, one shot. */
static size_t cut_all(const ddx_chunk_cfg *c, const uint8_t *p, size_t n, uint64_t *out)
{
    size_t k = 0, pos = 0;
    while (pos < n) {
        size_t l = c->find(c, p + pos, n - pos, 1);
        cr_assert(l > 0 && l <= n - pos, "find returned %zu at %zu/%zu", l, pos, n);
        pos += l;
        out[k++] = pos;
    }
    return k;
}

/* ---- slow references ----------------------------------------------------- */

static size_t fastcdc_slow(const ddx_chunk_cfg *c, const uint8_t *p, size_t n)
{
    /* per byte, from the rule in chunk_fastcdc.c */
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

static uint64_t rabin_window_slow(const uint8_t *p, size_t i, size_t start)
{
    /* fingerprint of the 48 bytes ending at i, zeros before the roll start */
    uint8_t w[DDX_RABIN_WINDOW];
    for (size_t k = 0; k < DDX_RABIN_WINDOW; k++) {
        size_t pos = i + 1 + k - DDX_RABIN_WINDOW; /* may wrap below start */
        w[k] = (i + 1 + k >= DDX_RABIN_WINDOW && pos >= start) ? p[pos] : 0;
    }
    return ddx_rabin_slow(w, DDX_RABIN_WINDOW);
}

static size_t rabin_slow(const ddx_chunk_cfg *c, const uint8_t *p, size_t n, int tttd)
{
    size_t rem = n < c->max_size ? n : c->max_size;
    if (rem < c->min_size)
        return rem;
    size_t start = c->min_size > DDX_RABIN_WINDOW ? c->min_size - DDX_RABIN_WINDOW : 0;
    uint64_t d = c->divisor, d2 = c->backup_divisor;
    size_t backup = 0;
    for (size_t len = c->min_size; len <= rem; len++) {
        uint64_t fp = rabin_window_slow(p, len - 1, start);
        if (tttd && fp % d2 == d2 - 1)
            backup = len;
        if (fp % d == d - 1)
            return len;
    }
    if (tttd && n >= c->max_size && backup)
        return backup;
    return rem;
}

static size_t ram_slow(const ddx_chunk_cfg *c, const uint8_t *p, size_t n)
{
    /* the definition: the first byte after the window at least as large as
     * every byte of the window ends the chunk */
    size_t rem = n < c->max_size ? n : c->max_size;
    for (size_t i = c->ram_window; i < rem; i++) {
        int ge_all = 1;
        for (size_t k = 0; k < c->ram_window && ge_all; k++)
            ge_all = p[i] >= p[k];
        if (ge_all)
            return i + 1;
    }
    return rem;
}

static size_t slow_find(const ddx_chunk_cfg *c, const uint8_t *p, size_t n)
{
    switch (c->kind) {
    case DDX_CHUNKER_RAM:
        return ram_slow(c, p, n);
    case DDX_CHUNKER_FIXED:
        return n < c->avg_size ? n : c->avg_size;
    case DDX_CHUNKER_RABIN:
        return rabin_slow(c, p, n, 0);
    case DDX_CHUNKER_TTTD:
        return rabin_slow(c, p, n, 1);
    default:
        return fastcdc_slow(c, p, n);
    }
}

/* ---- tests ---------------------------------------------------------------- */

Test(chunkers, fast_equals_slow_reference_every_class)
{
    /* the Rabin slow path is O(48) per byte: use a smaller input */
    size_t n = 160 * 1024;
    uint8_t *buf = malloc(n);
    uint64_t *fast = malloc(sizeof(uint64_t) * n), *slow = malloc(sizeof(uint64_t) * n);
    for (size_t s = 0; s < NSETS; s++) {
        ddx_chunk_cfg c;
        cfg_for(&c, &param_sets[s]);
        for (int cl = 0; cl < TU_NCLASS; cl++) {
            tu_fill(buf, n, (enum tu_class)cl, tu_seed() + cl);
            size_t nf = cut_all(&c, buf, n, fast);
            size_t ns = 0;
            for (size_t pos = 0; pos < n;) {
                pos += slow_find(&c, buf + pos, n - pos);
                slow[ns++] = pos;
            }
            cr_assert_eq(nf, ns, "%s set %zu class %s: %zu chunks fast, %zu slow",
                         ddx_chunker_name(c.kind), s, tu_class_name[cl], nf, ns);
            for (size_t k = 0; k < nf; k++)
                cr_assert_eq(fast[k], slow[k], "%s set %zu class %s: cut %zu at %llu vs %llu",
                             ddx_chunker_name(c.kind), s, tu_class_name[cl], k,
                             (unsigned long long)fast[k], (unsigned long long)slow[k]);
        }
    }
    free(buf);
    free(fast);
    free(slow);
}

Test(chunkers, min_max_respected_and_deterministic)
{
    uint8_t *buf = malloc(N_IN);
    uint64_t *a = malloc(sizeof(uint64_t) * N_IN), *b = malloc(sizeof(uint64_t) * N_IN);
    for (size_t s = 0; s < NSETS; s++) {
        ddx_chunk_cfg c;
        cfg_for(&c, &param_sets[s]);
        for (int cl = 0; cl < TU_NCLASS; cl++) {
            tu_fill(buf, N_IN, (enum tu_class)cl, tu_seed() + 7 * cl);
            size_t na = cut_all(&c, buf, N_IN, a);
            size_t nb = cut_all(&c, buf, N_IN, b);
            cr_assert_eq(na, nb);
            cr_assert_eq(memcmp(a, b, na * sizeof *a), 0, "not deterministic");
            cr_assert_eq(a[na - 1], N_IN);
            /* fastcdc may end a chunk at (min & ~1) when min is odd, as the reference */
            size_t lo = c.kind == DDX_CHUNKER_FASTCDC ? (c.min_size & ~1u) : c.min_size;
            for (size_t k = 0; k < na; k++) {
                uint64_t len = a[k] - (k ? a[k - 1] : 0);
                cr_assert(len <= c.max_size, "%s: chunk %zu is %llu > max %u",
                          ddx_chunker_name(c.kind), k, (unsigned long long)len, c.max_size);
                if (k + 1 < na)
                    cr_assert(len >= lo, "%s class %s: chunk %zu is %llu < min %u",
                              ddx_chunker_name(c.kind), tu_class_name[cl], k,
                              (unsigned long long)len, c.min_size);
            }
            if (cl == TU_ZERO && c.kind != DDX_CHUNKER_FIXED && c.kind != DDX_CHUNKER_FASTCDC &&
                c.kind != DDX_CHUNKER_RAM)
                for (size_t k = 0; k + 1 < na; k++) /* zeros never hit the divisor rule */
                    cr_assert_eq(a[k] - (k ? a[k - 1] : 0), c.max_size);
        }
    }
    free(buf);
    free(a);
    free(b);
}

static size_t cut_streaming(const ddx_chunk_cfg *c, const uint8_t *p, size_t n, uint64_t *out,
                            size_t feed, uint64_t seed)
{
    ddx_chunker ch;
    cr_assert_eq(ddx_chunker_init(&ch, c, 0), 0);
    size_t k = 0, pos = 0;
    uint64_t s = seed;
    uint64_t cuts[3];
    while (pos < n) {
        size_t want = feed ? feed : 1 + tu_splitmix(&s) % 100000;
        if (want > n - pos)
            want = n - pos;
        size_t used;
        /* a tiny cut array exercises the "cap reached" path too */
        size_t got = ddx_chunker_feed(&ch, p + pos, want, cuts, 3, &used);
        for (size_t i = 0; i < got; i++)
            out[k++] = cuts[i];
        cr_assert(used <= want);
        cr_assert(used == want || got == 3, "consumed %zu of %zu with %zu cuts", used, want, got);
        pos += used;
    }
    size_t got;
    while ((got = ddx_chunker_finish(&ch, cuts, 3)) > 0)
        for (size_t i = 0; i < got; i++)
            out[k++] = cuts[i];
    ddx_chunker_free(&ch);
    return k;
}

Test(chunkers, streaming_equals_one_shot)
{
    size_t n = 300 * 1024;
    uint8_t *buf = malloc(n);
    uint64_t *a = malloc(sizeof(uint64_t) * n), *b = malloc(sizeof(uint64_t) * n);
    static const size_t feeds[] = {1, 2, 3, 7, 64, 4095, 65537, 0 /* random sizes */};
    for (size_t s = 0; s < NSETS; s++) {
        ddx_chunk_cfg c;
        cfg_for(&c, &param_sets[s]);
        for (int cl = 0; cl < TU_NCLASS; cl++) {
            tu_fill(buf, n, (enum tu_class)cl, tu_seed() + 13 * cl);
            size_t na = cut_all(&c, buf, n, a);
            for (size_t f = 0; f < sizeof feeds / sizeof feeds[0]; f++) {
                size_t nb = cut_streaming(&c, buf, n, b, feeds[f], tu_seed() + f);
                cr_assert_eq(na, nb, "%s class %s feed %zu: %zu vs %zu chunks",
                             ddx_chunker_name(c.kind), tu_class_name[cl], feeds[f], na, nb);
                cr_assert_eq(memcmp(a, b, na * sizeof *a), 0, "%s class %s feed %zu differ",
                             ddx_chunker_name(c.kind), tu_class_name[cl], feeds[f]);
            }
        }
    }
    free(buf);
    free(a);
    free(b);
}

Test(chunkers, resync_after_one_byte_insert)
{
    size_t n = N_IN;
    uint8_t *buf = malloc(n + 1), *mod = malloc(n + 1);
    uint64_t *a = malloc(sizeof(uint64_t) * n), *b = malloc(sizeof(uint64_t) * (n + 1));
    for (size_t s = 0; s < NSETS; s++) {
        ddx_chunk_cfg c;
        cfg_for(&c, &param_sets[s]);
        if (c.kind == DDX_CHUNKER_FIXED)
            continue; /* fixed chunking never resynchronises: that is the point of CDC */
        for (int cl = 0; cl < TU_NCLASS; cl++) {
            if (cl == TU_ZERO || cl == TU_PERIODIC)
                continue; /* no content to resynchronise on */
            tu_fill(buf, n, (enum tu_class)cl, tu_seed() + 29 * cl);
            size_t at = 100;
            memcpy(mod, buf, at);
            mod[at] = 0xA5;
            memcpy(mod + at + 1, buf + at, n - at);
            size_t na = cut_all(&c, buf, n, a);
            size_t nb = cut_all(&c, mod, n + 1, b);
            /* cuts after the insert, shifted back by one byte, that also cut the original */
            size_t ia = 0, ib = 0, differ = 0;
            while (ib < nb && b[ib] <= at)
                ib++;
            while (ia < na && a[ia] <= at)
                ia++;
            size_t first_common = SIZE_MAX;
            for (size_t k = ib; k < nb; k++) {
                uint64_t orig = b[k] - 1;
                while (ia < na && a[ia] < orig)
                    ia++;
                if (ia < na && a[ia] == orig) {
                    first_common = k;
                    break;
                }
                differ++;
            }
            cr_assert(first_common != SIZE_MAX, "%s class %s: never resynchronised",
                      ddx_chunker_name(c.kind), tu_class_name[cl]);
            cr_assert(differ <= 3, "%s class %s: %zu chunks differ after a 1-byte insert",
                      ddx_chunker_name(c.kind), tu_class_name[cl], differ);
            /* and from there on, identical */
            size_t ka = ia;
            for (size_t k = first_common; k < nb; k++, ka++)
                cr_assert_eq(b[k] - 1, a[ka], "%s class %s: diverged again at chunk %zu",
                             ddx_chunker_name(c.kind), tu_class_name[cl], k);
            cr_assert_eq(ka, na);
        }
    }
    free(buf);
    free(mod);
    free(a);
    free(b);
}

/* ---- Rabin polynomial ---------------------------------------------------- */

/* a * b mod P over GF(2), P of degree 63 (bits 0..63 of DDX_RABIN_POLY) */
static uint64_t gf_mulmod(uint64_t a, uint64_t b)
{
    uint64_t r = 0;
    for (int i = 62; i >= 0; i--) {
        r <<= 1;
        if (r >> 63)
            r ^= DDX_RABIN_POLY;
        if ((b >> i) & 1)
            r ^= a;
    }
    return r;
}

static int gf_degree(uint64_t a)
{
    return a ? 63 - __builtin_clzll(a) : -1;
}

static uint64_t gf_gcd(uint64_t a, uint64_t b)
{
    /* polynomial gcd over GF(2) */
    while (b) {
        while (gf_degree(a) >= gf_degree(b) && a)
            a ^= b << (gf_degree(a) - gf_degree(b));
        uint64_t t = a;
        a = b;
        b = t;
    }
    return a;
}

/* x^(2^k) mod P */
static uint64_t x_pow_2k(int k)
{
    uint64_t r = 2; /* x */
    for (int i = 0; i < k; i++)
        r = gf_mulmod(r, r);
    return r;
}

Test(chunkers, rabin_polynomial_is_irreducible)
{
    /* Rabin's test: P of degree n = 63 is irreducible iff x^(2^n) = x mod P and
     * gcd(x^(2^(n/q)) - x, P) = 1 for each prime q dividing n (3 and 7). */
    cr_assert_eq(gf_degree(DDX_RABIN_POLY), 63);
    cr_assert_eq(x_pow_2k(63), 2u, "x^(2^63) != x mod P");
    /* gcd with the full P: reduce the argument first (it already is < P) */
    cr_assert_eq(gf_gcd(DDX_RABIN_POLY, x_pow_2k(21) ^ 2), 1u, "shares a factor of degree | 21");
    cr_assert_eq(gf_gcd(DDX_RABIN_POLY, x_pow_2k(9) ^ 2), 1u, "shares a factor of degree | 9");
}

Test(chunkers, rabin_rolling_tables_equal_slow_window_fingerprint)
{
    /* The chunkers roll with the push/pop tables; the slow way reduces the
     * whole 48-byte window bit by bit. They must agree at every position. */
    const uint64_t *push, *pop;
    ddx_rabin_tables(&push, &pop);
    uint8_t buf[3000];
    tu_fill(buf, sizeof buf, TU_TEXT, tu_seed());
    tu_fill_random(buf + 1500, 1500, tu_seed() + 1);
    uint64_t fp = 0;
    for (size_t i = 0; i < sizeof buf; i++) {
        uint8_t out = i >= DDX_RABIN_WINDOW ? buf[i - DDX_RABIN_WINDOW] : 0;
        fp ^= pop[out];
        fp = ((fp << 8) | buf[i]) ^ push[fp >> 55];
        size_t from = i + 1 >= DDX_RABIN_WINDOW ? i + 1 - DDX_RABIN_WINDOW : 0;
        cr_assert_eq(fp, ddx_rabin_slow(buf + from, i + 1 - from), "position %zu", i);
        cr_assert(fp >> 63 == 0, "fingerprint not reduced at %zu", i);
    }
}

Test(chunkers, invalid_parameters_rejected)
{
    ddx_chunk_cfg c;
    const char *why = NULL;
    cr_assert_eq(ddx_chunk_cfg_init(&c, DDX_CHUNKER_FASTCDC, 0, 8192, 65536, 1, 0, &why),
                 DDX_EINVAL);
    cr_assert(why && strstr(why, "min"));
    cr_assert_eq(ddx_chunk_cfg_init(&c, DDX_CHUNKER_FASTCDC, 9000, 8192, 65536, 1, 0, &why),
                 DDX_EINVAL);
    cr_assert_eq(ddx_chunk_cfg_init(&c, DDX_CHUNKER_FASTCDC, 2048, 8192, 4096, 1, 0, &why),
                 DDX_EINVAL);
    cr_assert_eq(ddx_chunk_cfg_init(&c, DDX_CHUNKER_FASTCDC, 2048, 8192, 65536, 4, 0, &why),
                 DDX_EINVAL);
    cr_assert_eq(ddx_chunk_cfg_init(&c, DDX_CHUNKER_FASTCDC, 64, 64, 1024, 3, 0, &why), DDX_EINVAL);
    cr_assert_eq(ddx_chunk_cfg_init(&c, DDX_CHUNKER_RABIN, 2048, 2050, 65536, 0, 0, &why),
                 DDX_EINVAL);
    cr_assert_eq(ddx_chunk_cfg_init(&c, DDX_CHUNKER_TTTD, 4096, 8192, 4096, 0, 0, &why),
                 DDX_EINVAL);
    cr_assert_eq(ddx_chunk_cfg_init(&c, DDX_CHUNKER_FIXED, 0, 0, 0, 0, 0, &why), DDX_EINVAL);
    cr_assert_eq(ddx_chunk_cfg_init(&c, DDX_CHUNKER_FASTCDC, 2048, 8192, 128u << 20, 1, 0, &why),
                 DDX_EINVAL);
    cr_assert_eq(ddx_chunk_cfg_init(&c, (ddx_chunker_kind)9, 2048, 8192, 65536, 1, 0, &why),
                 DDX_EINVAL);
    cr_assert_eq(ddx_chunk_cfg_init(&c, DDX_CHUNKER_FASTCDC, 2048, 8192, 65536, 1, 0, &why), 0);
}
