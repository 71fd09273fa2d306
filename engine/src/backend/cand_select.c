/*
 * cand_select.c - host selection of FastCDC cut points from device candidates
 * (cand_select.h explains why the result equals the CPU kernels').
 */
#include "cand_select.h"

#include "ddx_dev.h"

#define WARM (DDX_GEAR_WINDOW - 1) /* positions after hs that need the CPU */

size_t ddx_cand_chunk(const ddx_chunk_cfg *cfg, const uint8_t *data, size_t len, int eof,
                      size_t start, ddx_cand_view *v)
{
    size_t avail = len - start, max = cfg->max_size;
    size_t rem = avail < max ? avail : max;
    int complete = eof || avail >= max;
    if (rem <= cfg->min_size)
        return complete ? rem : 0;
    /* relative positions, as in ddx_fastcdc_find_with */
    size_t hs = cfg->min_size & ~(size_t)1, end = rem & ~(size_t)1;
    size_t mid = cfg->avg_size & ~(size_t)1;
    if (mid > end)
        mid = end;

    /* positions [hs, hs + WARM): H differs from W there, compute it */
    const uint8_t *p = data + start;
    size_t exact_end = hs + WARM < end ? hs + WARM : end;
    uint64_t h = 0;
    for (size_t i = hs; i < exact_end; i++) {
        h = (h << 1) + cfg->gear[p[i]];
        if (!(h & (i < mid ? cfg->mask_s : cfg->mask_l)))
            return i;
    }
    if (exact_end == end)
        return complete ? rem : 0;

    /* positions [exact_end, end): the device's candidates, in batch offsets */
    size_t from = start + exact_end, to = start + end, split = start + mid;
    for (size_t s = from / v->seg_bytes; s < v->nseg && (size_t)s * v->seg_bytes < to; s++) {
        uint32_t n = v->counts[s];
        if (n > v->seg_cap) { /* incomplete list: let the CPU decide this chunk */
            v->overflow_chunks++;
            return cfg->find(cfg, p, avail, eof);
        }
        const uint32_t *c = v->cands + (size_t)s * v->seg_cap;
        for (uint32_t k = 0; k < n; k++) {
            size_t pos = c[k] & DDX_CAND_POS;
            if (pos < from)
                continue;
            if (pos >= to)
                break;
            if (c[k] & (pos < split ? DDX_CAND_S : DDX_CAND_L))
                return pos - start;
        }
    }
    return complete ? rem : 0;
}
