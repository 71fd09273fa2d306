/*
 * gear_dev.h - the candidate scan: windowed Gear hash of a batch segment.
 *
 * FastCDC's cut test at byte i looks at the Gear hash H = (H << 1) + gear[b]
 * after byte i. Every term is shifted one place per byte, so only the last 64
 * bytes survive in a 64-bit H, whatever the hash started from:
 *
 *     W_i = sum over k in 0..63 (and k <= i) of gear[data[i - k]] << k
 *
 * That makes the scan embarrassingly parallel: a thread that starts hashing
 * DDX_GEAR_WINDOW bytes before its segment has the exact W_i at the
 * segment's first byte. Each thread reports every position that satisfies
 * either FastCDC mask; the host applies the min / avg / max rule to those
 * candidates (gpu.h), which are rare (one in 2^11 or so bytes for an 8 KiB
 * average), so the output is small.
 *
 * The loop is the whole cost of the kernel, and runs at memory speed only if
 * a byte costs a handful of instructions: a shift and an add in a register, a
 * table load from DDX_GEAR_AS (shared / local) memory, and one test. The two
 * mask tests are folded into one: (W & mask_s) == 0 or (W & mask_l) == 0
 * both imply (W & (mask_s & mask_l)) == 0, and with FastCDC's nested masks
 * that pre-test is exactly the rarer exit, so the hot path has one branch and
 * the flags are worked out only under it. The batch is read 16 bytes per
 * load: one thread walks a stretch of seg_bytes alone, so a warp's loads are
 * never coalesced and each load instruction should bring as much as it can.
 */
#ifndef DDX_GEAR_DEV_H
#define DDX_GEAR_DEV_H

#include "ddx_dev.h"

/* One byte into h, at batch position pos; written against the locals of
 * ddx_dev_scan_segment. */
#define DDX_GEAR_STEP_(byte, pos)                                                                  \
    do {                                                                                           \
        h = (h << 1) + gear[byte];                                                                 \
        if ((((ddx_u32)h & both_lo) | ((ddx_u32)(h >> 32) & both_hi)) == 0) {                      \
            ddx_u32 c_ = (pos) | ((ddx_u32)((h & mask_s) == 0) << 31) |                            \
                         ((ddx_u32)((h & mask_l) == 0) << 30);                                     \
            if (c_ & (DDX_CAND_S | DDX_CAND_L)) {                                                  \
                if (n < cap)                                                                       \
                    cands[first + n] = c_;                                                         \
                n++;                                                                               \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* The four bytes of a little-endian word, at positions pos..pos + 3. */
#define DDX_GEAR_WORD_(w, pos)                                                                     \
    do {                                                                                           \
        DDX_GEAR_STEP_((w)&0xffu, pos);                                                            \
        DDX_GEAR_STEP_(((w) >> 8) & 0xffu, (pos) + 1);                                             \
        DDX_GEAR_STEP_(((w) >> 16) & 0xffu, (pos) + 2);                                            \
        DDX_GEAR_STEP_((w) >> 24, (pos) + 3);                                                      \
    } while (0)

/* Without the test: the DDX_GEAR_WINDOW bytes before the segment. */
#define DDX_GEAR_WARM_(w)                                                                          \
    do {                                                                                           \
        h = (h << 1) + gear[(w)&0xffu];                                                            \
        h = (h << 1) + gear[((w) >> 8) & 0xffu];                                                   \
        h = (h << 1) + gear[((w) >> 16) & 0xffu];                                                  \
        h = (h << 1) + gear[(w) >> 24];                                                            \
    } while (0)

/*
 * Scan segment seg, positions [seg * seg_bytes, min((seg + 1) * seg_bytes,
 * len)) of the len-byte batch at data, for positions whose W_i satisfies
 * mask_s (flag DDX_CAND_S) or mask_l (DDX_CAND_L). Writes the first cap
 * candidate words (position | flags, in increasing position) to
 * cands[seg * cap ...] and the true number found to counts[seg] (above cap:
 * overflow). A segment at or past len finds nothing.
 *
 * data: 16-byte aligned, readable up to round_up(len, 4) + 64; seg_bytes: a
 * multiple of 64; len < 2^30; gear: the 256-entry table.
 */
DDX_DEV void ddx_dev_scan_segment(DDX_GLOBAL const ddx_u8 *data, ddx_u32 len, ddx_u32 seg,
                                  ddx_u32 seg_bytes, DDX_GEAR_AS const ddx_u64 *gear,
                                  ddx_u64 mask_s, ddx_u64 mask_l, DDX_GLOBAL ddx_u32 *counts,
                                  DDX_GLOBAL ddx_u32 *cands, ddx_u32 cap)
{
    ddx_u64 both = mask_s & mask_l;
    ddx_u32 both_lo = (ddx_u32)both, both_hi = (ddx_u32)(both >> 32);
    ddx_u32 start = seg * seg_bytes;
    ddx_u32 first = seg * cap;
    ddx_u32 n = 0;
    ddx_u64 h = 0;

    if (start >= len) {
        counts[seg] = 0;
        return;
    }
    ddx_u32 end = len - start < seg_bytes ? len : start + seg_bytes;

    /* start is a multiple of 64: the window is four whole 16-byte loads. */
    if (start >= DDX_GEAR_WINDOW) {
        for (ddx_u32 i = start - DDX_GEAR_WINDOW; i < start; i += 16) {
            ddx_u32x4 v = ddx_dev_load128(data, i >> 4);
            DDX_GEAR_WARM_(v.x);
            DDX_GEAR_WARM_(v.y);
            DDX_GEAR_WARM_(v.z);
            DDX_GEAR_WARM_(v.w);
        }
    }

    ddx_u32 i = start;
    for (; i + 16 <= end; i += 16) {
        ddx_u32x4 v = ddx_dev_load128(data, i >> 4);
        DDX_GEAR_WORD_(v.x, i);
        DDX_GEAR_WORD_(v.y, i + 4);
        DDX_GEAR_WORD_(v.z, i + 8);
        DDX_GEAR_WORD_(v.w, i + 12);
    }
    /* Only the batch's last segment gets here: its last < 16 bytes. */
    for (; i + 4 <= end; i += 4) {
        ddx_u32 w = ddx_dev_load32(data, i >> 2);
        DDX_GEAR_WORD_(w, i);
    }
    if (i < end) {
        ddx_u32 w = ddx_dev_load32(data, i >> 2);
        for (; i < end; i++, w >>= 8)
            DDX_GEAR_STEP_(w & 0xffu, i);
    }
    counts[seg] = n;
}

#undef DDX_GEAR_STEP_
#undef DDX_GEAR_WORD_
#undef DDX_GEAR_WARM_

#endif
