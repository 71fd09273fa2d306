/*
 * chunk_ram_avx512.c - RAM (chunk_ram.c) with AVX-512BW: window maximum with
 * vpmaxub over 64 bytes, the scan as one vpcmpub into a mask register and a
 * tzcnt, 64 bytes per step (two steps per loop to keep two loads in flight).
 * Same cut points as ddx_ram_find.
 */
#include <immintrin.h>

#include "chunk_impl.h"

size_t ddx_ram_avx512_find(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t n, int eof)
{
    size_t w = cfg->ram_window, max = cfg->max_size;
    size_t rem = n < max ? n : max;
    int complete = eof || n >= max;
    if (rem <= w)
        return complete ? rem : 0;
    __m512i vm = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 64 <= w; i += 64)
        vm = _mm512_max_epu8(vm, _mm512_loadu_si512((const void *)(p + i)));
    if (i < w) /* masked load: never touches bytes past the window */
        vm = _mm512_max_epu8(vm, _mm512_maskz_loadu_epi8(_bzhi_u64(~0ull, (unsigned)(w - i)),
                                                         (const void *)(p + i)));
    __m256i y = _mm256_max_epu8(_mm512_castsi512_si256(vm), _mm512_extracti64x4_epi64(vm, 1));
    __m128i h = _mm_max_epu8(_mm256_castsi256_si128(y), _mm256_extracti128_si256(y, 1));
    h = _mm_max_epu8(h, _mm_srli_si128(h, 8));
    h = _mm_max_epu8(h, _mm_srli_si128(h, 4));
    h = _mm_max_epu8(h, _mm_srli_si128(h, 2));
    h = _mm_max_epu8(h, _mm_srli_si128(h, 1));
    __m512i bm = _mm512_set1_epi8((char)_mm_cvtsi128_si32(h));
    for (i = w; i + 128 <= rem; i += 128) {
        __mmask64 a = _mm512_cmpge_epu8_mask(_mm512_loadu_si512((const void *)(p + i)), bm);
        __mmask64 b = _mm512_cmpge_epu8_mask(_mm512_loadu_si512((const void *)(p + i + 64)), bm);
        if (a)
            return i + (size_t)_tzcnt_u64(a) + 1;
        if (b)
            return i + 64 + (size_t)_tzcnt_u64(b) + 1;
    }
    for (; i < rem; i += 64) {
        __mmask64 live = rem - i >= 64 ? ~0ull : _bzhi_u64(~0ull, (unsigned)(rem - i));
        __mmask64 a = _mm512_mask_cmpge_epu8_mask(
            live, _mm512_maskz_loadu_epi8(live, (const void *)(p + i)), bm);
        if (a)
            return i + (size_t)_tzcnt_u64(a) + 1;
    }
    return complete ? rem : 0;
}
