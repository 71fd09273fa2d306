/*
 * chunk_fastcdc.c - FastCDC 2020 (Xia et al., TPDS 2020), scalar.
 *
 * The cut rule, per byte i of a chunk (i counted from the chunk start):
 *   H = (H << 1) + gear[b_i], H = 0 before byte (min & ~1);
 *   byte i is tested only if i >= (min & ~1) and byte (i | 1) exists within
 *   the first max bytes of the chunk (the reference code walks the bytes in
 *   pairs and never tests a pair it cannot complete);
 *   the mask is mask_s while (i & ~1) < (avg & ~1), mask_l after that;
 *   if (H & mask) == 0 the chunk ends *before* byte i (length i).
 * If no byte qualifies the chunk is max bytes, or the rest of the stream.
 *
 * That is exactly what the reference's two-bytes-per-step loop computes (it
 * keeps H << 1 between the two bytes of a pair, hence gear_ls and mask_ls),
 * so the loop below is that loop: 2 bytes per iteration, one shift.
 */
#include "chunk_impl.h"

size_t ddx_fastcdc_find(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t n, int eof)
{
    size_t max = cfg->max_size;
    size_t rem = n < max ? n : max;
    int complete = eof || n >= max;
    if (rem <= cfg->min_size)
        return complete ? rem : 0;

    size_t i = cfg->min_size & ~(size_t)1;
    size_t end = rem & ~(size_t)1;
    size_t mid = cfg->avg_size & ~(size_t)1;
    if (mid > end)
        mid = end;
    const uint64_t *gear = cfg->gear, *gear_ls = cfg->gear_ls;
    uint64_t h = 0;

    uint64_t ms = cfg->mask_s, ms_ls = cfg->mask_s_ls;
    for (; i < mid; i += 2) {
        h = (h << 2) + gear_ls[p[i]];
        if (!(h & ms_ls))
            return i;
        h += gear[p[i + 1]];
        if (!(h & ms))
            return i + 1;
    }
    uint64_t ml = cfg->mask_l, ml_ls = cfg->mask_l_ls;
    for (; i < end; i += 2) {
        h = (h << 2) + gear_ls[p[i]];
        if (!(h & ml_ls))
            return i;
        h += gear[p[i + 1]];
        if (!(h & ml))
            return i + 1;
    }
    return complete ? rem : 0;
}
