/*
 * microbench.c - every kernel (every usable hash and chunker implementation
 * in the registry) through Google Benchmark: hashes at 4 KiB, 8 KiB, 64 KiB
 * and 1 MiB messages in batches of 1, 16 and 64 messages per call; chunkers
 * (2K/8K/64K parameters) over buffers of 4 KiB, 8 KiB, 64 KiB and 1 MiB,
 * walked chunk by chunk. Bytes/s per core. `make microbench` writes
 * results/microbench.json. Inputs are seeded random bytes (the chunkers
 * also get a second, text-like input, whose cut rate differs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk_impl.h"
#include "cpu_features.h"
#include "gbench_shim.h"
#include "hash_impl.h"

typedef struct hash_case {
    const ddx_hash_impl *impl;
    ddx_hash_msg msgs[64];
    size_t n;
    uint8_t *out;
} hash_case;

typedef struct chunk_case {
    ddx_chunk_cfg cfg;
    const uint8_t *p;
    size_t len;
} chunk_case;

static volatile uint64_t sink;

static void run_hash(void *ctx)
{
    hash_case *c = ctx;
    c->impl->batch(c->msgs, c->n, c->out);
    sink += c->out[0];
}

static void run_chunk(void *ctx)
{
    chunk_case *c = ctx;
    size_t pos = 0, k = 0;
    while (pos < c->len) {
        pos += c->cfg.find(&c->cfg, c->p + pos, c->len - pos, 1);
        k++;
    }
    sink += k;
}

/* Not a kernel: the two loads per byte that every table-driven FastCDC scan
 * makes (the byte, then its gear entry), summed into four independent
 * accumulators, with no hash chain, no shift and no test. Its rate bounds
 * what any exact FastCDC kernel built on gear[] lookups can reach on this
 * core (docs/benchmarks.md, "FastCDC: the load ceiling"). The empty asm keeps
 * gcc -O3 from turning the loop into vpgatherqq, which runs at half the rate
 * of the scalar loads here. */
static void run_gear_lookups(void *ctx)
{
    const chunk_case *c = ctx;
    const uint64_t *g = c->cfg.gear;
    uint64_t a = 0, b = 0, d = 0, e = 0;
    for (size_t i = 0; i + 4 <= c->len; i += 4) {
        a += g[c->p[i]];
        b += g[c->p[i + 1]];
        d += g[c->p[i + 2]];
        e += g[c->p[i + 3]];
        __asm__("" : "+r"(a));
    }
    sink += a ^ b ^ d ^ e;
}

static void fill(uint8_t *p, size_t n, uint64_t s, int text)
{
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = text ? (uint8_t)("etaoin shrdlu\n"[(s >> 59) % 14]) : (uint8_t)(s >> 56);
    }
}

int main(int argc, char **argv)
{
    static const size_t sizes[] = {4096, 8192, 65536, 1 << 20};
    static const size_t batches[] = {1, 16, 64};
    size_t big = 64u << 20; /* 64 messages of 1 MiB */
    uint8_t *buf = malloc(big), *text = malloc(1 << 20);
    if (!buf || !text)
        return 1;
    fill(buf, big, 1, 0);
    fill(text, 1 << 20, 2, 1);
    char feat[128], cmd[1024] = "";
    ddx_cpu_describe(ddx_cpu_features(), feat, sizeof feat);
    ddx_gb_context("ddx_cpu_features", feat);
    for (int i = 0, n = 0; i < argc; i++)
        n += snprintf(cmd + n, sizeof cmd - (size_t)n, "%s%s", i ? " " : "", argv[i]);
    ddx_gb_context("command", cmd);

    size_t nh;
    const ddx_hash_impl *hs = ddx_hash_impls(&nh);
    for (size_t i = 0; i < nh; i++) {
        if (!ddx_hash_impl_usable(&hs[i]) || strstr(hs[i].name, "-ref"))
            continue; /* the portable references are oracles, not contenders */
        for (size_t s = 0; s < 4; s++)
            for (size_t b = 0; b < 3; b++) {
                hash_case *c = calloc(1, sizeof *c);
                c->impl = &hs[i];
                c->n = batches[b];
                c->out = malloc(64 * 32);
                for (size_t j = 0; j < c->n; j++) {
                    c->msgs[j].p = buf + (j * sizes[s]) % (big - sizes[s] + 1);
                    c->msgs[j].len = sizes[s];
                }
                char name[128];
                snprintf(name, sizeof name, "hash/%s/%zuK/batch%zu", hs[i].name, sizes[s] / 1024,
                         c->n);
                ddx_gb_register(name, run_hash, c, (uint64_t)sizes[s] * c->n, c->n);
            }
    }
    size_t nc;
    const ddx_chunk_impl *cs = ddx_chunk_impls(&nc);
    for (size_t i = 0; i < nc; i++) {
        if (cs[i].need & ~ddx_cpu_features())
            continue;
        for (int t = 0; t < 2; t++)
            for (size_t s = 0; s < 4; s++) {
                chunk_case *c = calloc(1, sizeof *c);
                int rc = ddx_chunk_cfg_init(&c->cfg, cs[i].kind, 2048, 8192, 65536, 1, 0, NULL);
                if (!rc)
                    rc = ddx_chunk_impl_select(&c->cfg, cs[i].name, NULL);
                if (rc) {
                    fprintf(stderr, "microbench: %s: %s\n", cs[i].name, ddx_strerror(rc));
                    return 1;
                }
                c->p = t ? text : buf;
                c->len = sizes[s];
                char name[128];
                snprintf(name, sizeof name, "chunk/%s/%s/%zuK", cs[i].name, t ? "text" : "random",
                         sizes[s] / 1024);
                ddx_gb_register(name, run_chunk, c, sizes[s], 0);
            }
    }
    chunk_case *lc = calloc(1, sizeof *lc);
    if (!lc || ddx_chunk_cfg_init(&lc->cfg, DDX_CHUNKER_FASTCDC, 2048, 8192, 65536, 1, 0, NULL))
        return 1;
    lc->p = buf;
    lc->len = 1 << 20;
    ddx_gb_register("ceiling/gear-lookups/random/1024K", run_gear_lookups, lc, lc->len, 0);
    return ddx_gb_main(argc, argv);
}
