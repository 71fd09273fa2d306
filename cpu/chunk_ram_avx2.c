/*
 * chunk_ram_avx2.c - RAM (chunk_ram.c) with AVX2: the window maximum with
 * vpmaxub, 32 bytes at a time, and the scan as a 32-byte compare + movemask
 * + tzcnt. Same cut points as ddx_ram_find; tails shorter than a vector go
 * through the same scalar steps.
 */
#include <immintrin.h>

#include "chunk_impl.h"

size_t ddx_ram_avx2_find(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t n, int eof)
{
    size_t w = cfg->ram_window, max = cfg->max_size;
    size_t rem = n < max ? n : max;
    int complete = eof || n >= max;
    if (rem <= w)
        return complete ? rem : 0;
    __m256i vm = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 32 <= w; i += 32)
        vm = _mm256_max_epu8(vm, _mm256_loadu_si256((const __m256i *)(p + i)));
    __m128i h = _mm_max_epu8(_mm256_castsi256_si128(vm), _mm256_extracti128_si256(vm, 1));
    h = _mm_max_epu8(h, _mm_srli_si128(h, 8));
    h = _mm_max_epu8(h, _mm_srli_si128(h, 4));
    h = _mm_max_epu8(h, _mm_srli_si128(h, 2));
    h = _mm_max_epu8(h, _mm_srli_si128(h, 1));
    uint8_t m = (uint8_t)_mm_cvtsi128_si32(h);
    for (; i < w; i++)
        m = p[i] > m ? p[i] : m;
    /* p[i] >= m  <=>  max(p[i], m) == p[i] */
    __m256i bm = _mm256_set1_epi8((char)m);
    for (i = w; i + 32 <= rem; i += 32) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(p + i));
        unsigned hit = (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_max_epu8(v, bm), v));
        if (hit)
            return i + (size_t)__builtin_ctz(hit) + 1;
    }
    for (; i < rem; i++)
        if (p[i] >= m)
            return i + 1;
    return complete ? rem : 0;
}
