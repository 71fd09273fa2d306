/*
 * test_cand_select.c - cut points from device candidates equal FastCDC's.
 *
 * The device code of kernels/common/gear_dev.h, compiled here as plain C,
 * scans a buffer for candidates; host selection (cand_select.c) turns them
 * into cut points. The chain must equal cpu/chunk_fastcdc.c's on every input
 * class, for several chunk sizes, segment sizes and candidate capacities
 * (capacity 1 forces the overflow fallback), starting at any offset.
 */
#include <criterion/criterion.h>

#include "cand_select.h"
#include "chunk_impl.h"
#include "ddx_dev.h"
#include "gear_dev.h"
#include "testutil.h"

typedef struct scan {
    uint32_t *counts, *cands;
    ddx_cand_view v;
} scan;

static void device_scan(const ddx_chunk_cfg *c, const uint8_t *data, size_t len, uint32_t seg,
                        uint32_t cap, scan *s)
{
    size_t nseg = (len + seg - 1) / seg;
    s->counts = tu_xmalloc(nseg * sizeof *s->counts);
    s->cands = tu_xmalloc(nseg * cap * sizeof *s->cands);
    for (size_t i = 0; i < nseg; i++)
        ddx_dev_scan_segment(data, (ddx_u32)len, (ddx_u32)i, seg, c->gear, c->mask_s, c->mask_l,
                             s->counts, s->cands, cap);
    s->v = (ddx_cand_view){s->counts, s->cands, seg, cap, nseg, 0};
}

static void check_chain(const ddx_chunk_cfg *c, const uint8_t *data, size_t len, int eof,
                        size_t start, ddx_cand_view *v, const char *what)
{
    size_t pos = start, n = 0;
    for (;;) {
        size_t want = c->find(c, data + pos, len - pos, eof);
        size_t got = pos < len ? ddx_cand_chunk(c, data, len, eof, pos, v) : 0;
        cr_assert_eq(got, want, "%s: chunk %zu at %zu: selection says %zu, fastcdc %zu", what, n,
                     pos, got, want);
        if (!want || pos + want >= len)
            break;
        pos += want;
        n++;
    }
    cr_assert_gt(n, 3, "%s: too few chunks to test anything", what);
}

Test(cand_select, equals_fastcdc_on_every_class)
{
    static const uint32_t sizes[][3] = {{2048, 8192, 65536}, {64, 256, 1024}, {1001, 4099, 17001}};
    static const uint32_t segs[] = {64, 4096};
    static const uint32_t caps[] = {1, 4, 64};
    size_t len = 600000 + 13;
    uint8_t *buf = tu_xmalloc(len + 64); /* device code reads whole words */
    for (int cls = 0; cls < TU_NCLASS; cls++) {
        tu_fill(buf, len, (enum tu_class)cls, tu_seed() + (uint64_t)cls);
        memset(buf + len, 0, 64);
        for (size_t z = 0; z < sizeof sizes / sizeof *sizes; z++) {
            ddx_chunk_cfg c;
            cr_assert_eq(ddx_chunk_cfg_init(&c, DDX_CHUNKER_FASTCDC, sizes[z][0], sizes[z][1],
                                            sizes[z][2], 1, 0, NULL),
                         0);
            for (size_t si = 0; si < 2; si++)
                for (size_t ci = 0; ci < 3; ci++) {
                    scan s;
                    device_scan(&c, buf, len, segs[si], caps[ci], &s);
                    char what[128];
                    snprintf(what, sizeof what, "%s, avg %u, seg %u, cap %u", tu_class_name[cls],
                             sizes[z][1], segs[si], caps[ci]);
                    check_chain(&c, buf, len, 1, 0, &s.v, what);
                    check_chain(&c, buf, len, 0, 0, &s.v, what); /* undecided tail: 0 */
                    check_chain(&c, buf, len, 1, 777, &s.v, what);
                    if (caps[ci] == 1 && segs[si] == 4096 && cls == TU_RANDOM)
                        cr_assert_gt(s.v.overflow_chunks, 0, "%s: no overflow at cap 1", what);
                    free(s.counts);
                    free(s.cands);
                }
        }
    }
    free(buf);
}

/* Masks with few bits: nearly every position is a candidate. */
Test(cand_select, dense_candidates)
{
    ddx_chunk_cfg c;
    cr_assert_eq(ddx_chunk_cfg_init(&c, DDX_CHUNKER_FASTCDC, 256, 1024, 8192, 1, 0, NULL), 0);
    c.mask_s = 0x3;
    c.mask_l = 0x1;
    c.mask_s_ls = c.mask_s << 1; /* the reference tests pairs with shifted masks */
    c.mask_l_ls = c.mask_l << 1;
    size_t len = 200000;
    uint8_t *buf = tu_xmalloc(len + 64);
    tu_fill(buf, len, TU_RANDOM, tu_seed());
    memset(buf + len, 0, 64);
    scan s;
    device_scan(&c, buf, len, 4096, 4096, &s);
    check_chain(&c, buf, len, 1, 0, &s.v, "dense");
    free(s.counts);
    free(s.cands);
    free(buf);
}
