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

size_t ddx_fastcdc_ref_scan(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t from, size_t to,
                            int large, uint64_t *hp)
{
    const uint64_t *gear = cfg->gear, *gear_ls = cfg->gear_ls;
    uint64_t m = large ? cfg->mask_l : cfg->mask_s;
    uint64_t m_ls = large ? cfg->mask_l_ls : cfg->mask_s_ls;
    uint64_t h = *hp;
    for (size_t i = from; i < to; i += 2) {
        h = (h << 2) + gear_ls[p[i]];
        if (!(h & m_ls))
            return i;
        h += gear[p[i + 1]];
        if (!(h & m))
            return i + 1;
    }
    *hp = h;
    return to;
}

size_t ddx_fastcdc_find(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t n, int eof)
{
    return ddx_fastcdc_find_with(cfg, p, n, eof, ddx_fastcdc_ref_scan);
}
