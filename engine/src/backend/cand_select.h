/*
 * cand_select.h - host selection: FastCDC cut points from device candidates.
 *
 * The device scans a batch for positions whose *windowed* Gear hash W_i
 * (the last 64 bytes) satisfies mask_s or mask_l (gpu.h). FastCDC's own hash
 * H_i restarts at each chunk's hashing start hs = start + (min & ~1), so
 * H_i == W_i only from hs + 63 on; the 63 positions before that are
 * recomputed here, on the CPU, from the bytes (only bits above i - hs
 * differ, so fewer would do for FastCDC's masks, which stop below bit 48;
 * 63 keeps the rule independent of the masks). Past them, the first
 * candidate with the right flag for its region (mask_s before avg, mask_l
 * after) is the cut, exactly as cpu/chunk_fastcdc.c decides it. A segment
 * whose candidate list overflowed cannot be trusted to be complete: a chunk
 * that needs it is cut by the CPU kernel instead. So the cut points equal the
 * CPU path's for every input, whatever the device found.
 */
#ifndef DDX_CAND_SELECT_H
#define DDX_CAND_SELECT_H

#include <stddef.h>
#include <stdint.h>

#include "chunk_impl.h"

typedef struct ddx_cand_view {
    const uint32_t *counts; /* per segment: candidates found (> cap: overflowed) */
    const uint32_t *cands;  /* seg_cap words per segment (ddx_dev.h DDX_CAND_*) */
    uint32_t seg_bytes, seg_cap;
    size_t nseg;
    uint64_t overflow_chunks; /* out: chunks cut by the CPU because of an overflow */
} ddx_cand_view;

/* The length of the FastCDC chunk starting at byte `start` of the batch
 * data[0, len) (start must be a true cut point, or the stream start), or 0
 * if it needs bytes beyond len (possible only when !eof). Equal to
 * cfg->find(cfg, data + start, len - start, eof). */
size_t ddx_cand_chunk(const ddx_chunk_cfg *cfg, const uint8_t *data, size_t len, int eof,
                      size_t start, ddx_cand_view *v);

#endif
