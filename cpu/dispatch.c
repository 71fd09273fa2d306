/*
 * dispatch.c - the one place that knows every kernel and picks one.
 *
 * Each registry lists the compiled-in implementations, fastest first within
 * a kind as measured on the development machine (docs/benchmarks.md); the
 * default is the first one the CPU (ddx_cpu_features(), so DDX_CPU_MASK
 * applies) can run. A variant whose ISA was compiled out (make
 * DISABLE_ISA=...) is simply absent. Asking by name for one the CPU cannot
 * run is an error, never a silent fallback.
 */
#include <string.h>

#include "chunk_fastcdc_fast.h"
#include "chunk_impl.h"
#include "cpu_features.h"
#include "hash_impl.h"
#include "sha_lanes.h"

static const ddx_hash_impl hash_impls[] = {
/* mb-avx512 first since its transpose moved to the integer side and its
 * batch ends go to SHA-NI: ahead of shani-x4 on 8 KiB messages (3.48-3.67
 * against 3.43) and inside the pipeline (docs/benchmarks.md). */
#ifndef DDX_NO_AVX512
    {"sha256-mb-avx512", DDX_HASH_SHA256, DDX_CPU_AVX512, ddx_sha256_mb_avx512_batch, 1},
#endif
#ifndef DDX_NO_SHANI
    {"sha256-shani-x4", DDX_HASH_SHA256, DDX_CPU_SHANI, ddx_sha256_shani_x4_batch, 0},
    {"sha256-shani-x2", DDX_HASH_SHA256, DDX_CPU_SHANI, ddx_sha256_shani_x2_batch, 0},
    {"sha256-shani", DDX_HASH_SHA256, DDX_CPU_SHANI, ddx_sha256_shani_batch, 0},
#endif
    {"sha256-openssl", DDX_HASH_SHA256, 0, ddx_sha256_openssl_batch, 0},
#ifndef DDX_NO_AVX2
    {"sha256-mb-avx2", DDX_HASH_SHA256, DDX_CPU_AVX2, ddx_sha256_mb_avx2_batch, 1},
#endif
#ifndef DDX_NO_AVX512
    {"sha1-mb-avx512-gt", DDX_HASH_SHA1, DDX_CPU_AVX512, ddx_sha1_mb_avx512_gt_batch, 1},
    {"sha1-mb-avx512", DDX_HASH_SHA1, DDX_CPU_AVX512, ddx_sha1_mb_avx512_batch, 1},
#endif
#ifndef DDX_NO_SHANI
    {"sha1-shani-x4", DDX_HASH_SHA1, DDX_CPU_SHANI, ddx_sha1_shani_x4_batch, 0},
    {"sha1-shani-x2", DDX_HASH_SHA1, DDX_CPU_SHANI, ddx_sha1_shani_x2_batch, 0},
    {"sha1-shani", DDX_HASH_SHA1, DDX_CPU_SHANI, ddx_sha1_shani_batch, 0},
#endif
#ifndef DDX_NO_AVX2
    {"sha1-mb-avx2", DDX_HASH_SHA1, DDX_CPU_AVX2, ddx_sha1_mb_avx2_batch, 1},
#endif
    {"sha1-openssl", DDX_HASH_SHA1, 0, ddx_sha1_openssl_batch, 0},
#ifdef DDX_HAVE_ISAL_CRYPTO
    /* a competitor, offered for side-by-side runs; never the default */
    {"sha256-isal-mb", DDX_HASH_SHA256, DDX_CPU_SSE41, ddx_sha256_isal_batch, 1},
    {"sha1-isal-mb", DDX_HASH_SHA1, DDX_CPU_SSE41, ddx_sha1_isal_batch, 1},
#endif
    /* the portable references: the oracles of every test, slow */
    {"sha256-ref", DDX_HASH_SHA256, 0, ddx_sha256_ref_batch, 0},
    {"sha1-ref", DDX_HASH_SHA1, 0, ddx_sha1_ref_batch, 0},
};

static const ddx_chunk_impl chunk_impls[] = {
    {"fastcdc2020-ilp", DDX_CHUNKER_FASTCDC, 0, ddx_fastcdc_ilp_find},
#ifndef DDX_NO_AVX512
    {"fastcdc2020-avx512", DDX_CHUNKER_FASTCDC, DDX_CPU_AVX512, ddx_fastcdc_avx512_find},
#endif
#ifndef DDX_NO_AVX2
    {"fastcdc2020-avx2", DDX_CHUNKER_FASTCDC, DDX_CPU_AVX2, ddx_fastcdc_avx2_find},
#endif
    {"fastcdc2020-scalar", DDX_CHUNKER_FASTCDC, 0, ddx_fastcdc_find},
    {"rabin48-scalar", DDX_CHUNKER_RABIN, 0, ddx_rabin_find},
    {"tttd-rabin48-scalar", DDX_CHUNKER_TTTD, 0, ddx_tttd_find},
    {"fixed", DDX_CHUNKER_FIXED, 0, ddx_fixed_find},
#ifndef DDX_NO_AVX512
    {"ram-avx512", DDX_CHUNKER_RAM, DDX_CPU_AVX512, ddx_ram_avx512_find},
#endif
#ifndef DDX_NO_AVX2
    {"ram-avx2", DDX_CHUNKER_RAM, DDX_CPU_AVX2, ddx_ram_avx2_find},
#endif
    {"ram-scalar", DDX_CHUNKER_RAM, 0, ddx_ram_find},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const ddx_hash_impl *ddx_hash_impls(size_t *n)
{
    *n = COUNT(hash_impls);
    return hash_impls;
}

const ddx_chunk_impl *ddx_chunk_impls(size_t *n)
{
    *n = COUNT(chunk_impls);
    return chunk_impls;
}

/* Multi-buffer kernels hand a batch's last few messages to SHA-NI lanes
 * (hash_mb.c says when); this is the one place that decides whether the CPU
 * and the build have them. */
const ddx_sha_lanes *ddx_sha_drain(unsigned words)
{
#ifndef DDX_NO_SHANI
    if (ddx_cpu_features() & DDX_CPU_SHANI)
        return words == 5 ? &ddx_sha1_shani_lanes : &ddx_sha256_shani_lanes;
#endif
    (void)words;
    return NULL;
}

int ddx_hash_impl_usable(const ddx_hash_impl *impl)
{
    return (impl->need & ~ddx_cpu_features()) == 0;
}

/* "shani-x4" for --hash sha256 means "sha256-shani-x4": names may omit
 * the algorithm prefix, as the issue's `--impl hash=isal-mb` does. */
static int name_is(const char *want, const char *name, const char *prefix)
{
    size_t pl = strlen(prefix);
    return strcmp(want, name) == 0 ||
           (strncmp(name, prefix, pl) == 0 && name[pl] == '-' && strcmp(want, name + pl + 1) == 0);
}

int ddx_hash_impl_select(ddx_hash_kind kind, const char *name, const ddx_hash_impl **out)
{
    for (size_t i = 0; i < COUNT(hash_impls); i++) {
        const ddx_hash_impl *h = &hash_impls[i];
        if (h->kind != kind || (name && !name_is(name, h->name, ddx_hash_name(kind))))
            continue;
        if (!ddx_hash_impl_usable(h)) {
            if (name)
                return DDX_EUNSUPP;
            continue;
        }
        *out = h;
        return 0;
    }
    return DDX_EINVAL;
}

int ddx_chunk_impl_select(ddx_chunk_cfg *cfg, const char *name, const ddx_chunk_impl **out)
{
    unsigned have = ddx_cpu_features();
    for (size_t i = 0; i < COUNT(chunk_impls); i++) {
        const ddx_chunk_impl *c = &chunk_impls[i];
        if (c->kind != cfg->kind || (name && !name_is(name, c->name, ddx_chunker_name(c->kind)) &&
                                     !name_is(name, c->name, "fastcdc2020")))
            continue;
        if (c->need & ~have) {
            if (name)
                return DDX_EUNSUPP;
            continue;
        }
        cfg->find = c->find;
        cfg->impl = c->name;
        if (out)
            *out = c;
        return 0;
    }
    return DDX_EINVAL;
}
