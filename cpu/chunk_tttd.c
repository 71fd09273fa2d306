/*
 * chunk_tttd.c - TTTD, the Two Thresholds Two Divisors chunker (Eshghi and
 * Tang, HP Labs TR 2005-30), over the rolling Rabin fingerprint of
 * chunk_rabin.c.
 *
 * Thresholds: min (Tmin) and max (Tmax). Divisors: D = avg - min (main) and
 * D' = D / 2 (backup). Scanning a chunk from Tmin on, a position where
 * fp % D' == D' - 1 is remembered as the backup break; the first position
 * where fp % D == D - 1 ends the chunk. At Tmax the chunk ends at the last
 * backup break if there was one, else at Tmax.
 *
 * One deliberate difference from the TR's pseudo-code: after a backup break
 * the next chunk is scanned from the break itself (the TR resumes scanning at
 * the Tmax position). Rescanning keeps every cut a function of the chunk's own
 * bytes (chunk_impl.h), which streaming and parallel chunking need; it is what
 * per-chunk implementations such as Destor's already do.
 */
#include "chunk_impl.h"

#define W DDX_RABIN_WINDOW

size_t ddx_tttd_find(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t n, int eof)
{
    size_t max = cfg->max_size, min = cfg->min_size;
    size_t rem = n < max ? n : max;
    int complete = eof || n >= max;
    if (rem < min)
        return complete ? rem : 0;
    const uint64_t *push = cfg->rabin_push, *pop = cfg->rabin_pop;
    uint64_t d = cfg->divisor, d2 = cfg->backup_divisor;
    size_t i0 = min > W ? min - W : 0;
    uint64_t fp = 0;
    size_t i = i0, backup = 0;
    for (; i < min - 1; i++) {
        uint8_t out = i >= i0 + W ? p[i - W] : 0;
        fp ^= pop[out];
        fp = ((fp << 8) | p[i]) ^ push[fp >> 55];
    }
    for (; i < rem; i++) {
        uint8_t out = i >= i0 + W ? p[i - W] : 0;
        fp ^= pop[out];
        fp = ((fp << 8) | p[i]) ^ push[fp >> 55];
        if (fp % d2 == d2 - 1)
            backup = i + 1;
        if (fp % d == d - 1)
            return i + 1;
    }
    if (!complete)
        return 0;
    if (n >= max && backup)
        return backup;
    return rem;
}
