/*
 * gpu_driver.c - the engine's GPU path: one driver thread feeds a device.
 *
 * The reader (the caller's thread, pipeline.c) fills the backend's pinned
 * batch buffers; this thread takes the batches in order and keeps three of
 * them in flight, one per slot:
 *
 *   batch k+2: host -> device copy and candidate scan, submitted
 *   batch k+1: candidates back -> host selection -> chunk hashing, submitted
 *   batch k:   digests back -> index inserts, callbacks, statistics
 *
 * so the device copies one batch while it hashes the previous one and the
 * host selects and indexes. When the queue runs dry the pipeline is drained,
 * so a slow reader never leaves finished batches waiting.
 *
 * Chunks crossing a batch edge. Host selection of batch k+1 starts at the
 * first undecided chunk of batch k (the "tail"). The chunks that start in
 * batch k's tail are cut and hashed on the CPU from a stitch buffer holding
 * the tail and the first max bytes of batch k+1 (at most a few per batch);
 * once the chain enters batch k+1 it continues from the device's candidates
 * (cand_select.c). Batch k's buffer is held (its "stitch" reference) until
 * then. Chunkers without a device scan (fixed, rabin, tttd, ram) are cut on
 * this thread with the CPU kernel and hashed on the device.
 *
 * After a device error the engine is poisoned (ddx_engine_finish() returns
 * it, the note says what failed); the driver keeps taking batches and
 * releasing them so that no caller blocks forever.
 */
#include <stdio.h>
#include <string.h>

#include "cand_select.h"
#include "engine_int.h"
#include "gpu.h"

#define SEG_BYTES 4096u
#define DEFAULT_GPU_BATCH (256u << 20)
#define GPU_SLOTS 3u

typedef struct gslot {
    uint64_t *off;   /* stream offsets of the batch's chunks, in order */
    uint32_t *len;   /* their lengths */
    uint8_t *cpu_fp; /* fingerprints of chunks [0, ncpu): cut across the edge */
    size_t n, ncpu, cap;
    int scanned, hashed; /* device work submitted for this batch */
} gslot;

struct ddx_gpu_drv {
    const ddx_gpu_ops *ops;
    ddx_gpu *g;
    ddx_gpu_config cfg;
    int scan; /* FastCDC: candidates come from the device */
    gslot *slot;
    batch *scanning;    /* scan submitted, not yet selected */
    batch *selected;    /* hash submitted, not yet indexed */
    batch *stitch_prev; /* previous batch of the stream, holding the tail */
    uint64_t tail;      /* stream offset of the first undecided chunk */
    uint8_t *sbuf;      /* 2 * max: the tail plus the next batch's head */
    _Atomic uint64_t select_ns, wait_ns, overflow;
    char chunk_impl[96], hash_impl[32];
};

static const ddx_gpu_ops *ops_of(ddx_backend_kind k)
{
    return k == DDX_BACKEND_CUDA ? &ddx_gpu_cuda_ops : &ddx_gpu_opencl_ops;
}

int ddx_backend_probe(ddx_backend_kind kind, int gpu_only, char *why, size_t why_len)
{
    if (why && why_len)
        why[0] = 0;
    if (kind == DDX_BACKEND_CPU)
        return 1;
    if (kind != DDX_BACKEND_CUDA && kind != DDX_BACKEND_OPENCL)
        return DDX_EINVAL;
    char tmp[256];
    int n = ops_of(kind)->probe(gpu_only, tmp, sizeof tmp);
    if (why && why_len)
        snprintf(why, why_len, "%s", tmp);
    return n;
}

/* Candidate slots per segment: four times the expected count (mask bits
 * are 1 with probability 1/2 on random data), so an overflow, which costs a
 * CPU cut of the chunks over it, stays rare even on skewed data. */
static uint32_t seg_cap_for(const ddx_chunk_cfg *c)
{
    double expect = (double)SEG_BYTES * (1.0 / (double)(1ull << __builtin_popcountll(c->mask_s)) +
                                         1.0 / (double)(1ull << __builtin_popcountll(c->mask_l)));
    double cap = 4 * expect + 8;
    return cap > 1024 ? 1024u : (uint32_t)cap;
}

static int choose(ddx_engine *e, const ddx_gpu_ops **ops, int *gpu_only)
{
    char why_cuda[256], why_cl[256];
    ddx_backend_kind k = e->backend_req;
    if (k == DDX_BACKEND_CUDA || k == DDX_BACKEND_OPENCL) {
        *ops = ops_of(k);
        *gpu_only = 0;
        int n = (*ops)->probe(0, why_cuda, sizeof why_cuda);
        if (n <= 0) {
            snprintf(e->backend_note, sizeof e->backend_note, "--backend %s: %s",
                     ddx_backend_name(k), why_cuda);
            return n < 0 ? n : DDX_EUNSUPP;
        }
        if (e->device_req >= n) {
            snprintf(e->backend_note, sizeof e->backend_note,
                     "--backend %s: no device %d (%d found, numbered from 0)", ddx_backend_name(k),
                     e->device_req, n);
            return DDX_EUNSUPP;
        }
        return 1;
    }
    /* AUTO: CUDA, else an OpenCL GPU, else the CPU, saying why */
    int n = ddx_gpu_cuda_ops.probe(0, why_cuda, sizeof why_cuda);
    if (n > e->device_req) {
        *ops = &ddx_gpu_cuda_ops;
        *gpu_only = 0;
        return 1;
    }
    if (n > 0)
        snprintf(why_cuda, sizeof why_cuda, "no CUDA device %d (%d found)", e->device_req, n);
    n = ddx_gpu_opencl_ops.probe(1, why_cl, sizeof why_cl);
    if (n > e->device_req) {
        *ops = &ddx_gpu_opencl_ops;
        *gpu_only = 1;
        snprintf(e->backend_note, sizeof e->backend_note, "no CUDA device (%s); using OpenCL",
                 why_cuda);
        return 1;
    }
    if (n > 0)
        snprintf(why_cl, sizeof why_cl, "no OpenCL GPU %d (%d found)", e->device_req, n);
    snprintf(e->backend_note, sizeof e->backend_note,
             "no GPU: CUDA: %s; OpenCL: %s; running on the cpu backend instead", why_cuda, why_cl);
    return 0;
}

int ddx_gpu_drv_open(ddx_engine *e)
{
    e->backend_name = "cpu";
    if (e->backend_req == DDX_BACKEND_CPU)
        return 0;
    const ddx_gpu_ops *ops = NULL;
    int gpu_only = 0;
    int rc = choose(e, &ops, &gpu_only);
    if (rc <= 0)
        return rc;

    struct ddx_gpu_drv *d = calloc(1, sizeof *d);
    if (!d)
        return DDX_ENOMEM;
    e->gd = d;
    d->ops = ops;
    const ddx_chunk_cfg *c = &e->ccfg;
    d->scan = e->ck == DDX_CHUNKER_FASTCDC;
    /* Batch: the caller's size or 256 MiB, a whole number of scan segments
     * (and of blocks for fixed chunks), at least 2 * max so a chunk spans at
     * most two batches, and below 2^30 (candidate positions are 30 bits). */
    size_t bs = e->batch_size_set ? e->batch_size : DEFAULT_GPU_BATCH;
    size_t unit = e->ck == DDX_CHUNKER_FIXED ? (size_t)e->avg * SEG_BYTES : SEG_BYTES;
    if (e->ck == DDX_CHUNKER_FIXED && e->avg % SEG_BYTES == 0)
        unit = e->avg;
    size_t lo = (size_t)c->max_size * 2;
    if (bs < lo)
        bs = lo;
    bs = (bs + unit - 1) / unit * unit;
    while (bs > (1u << 30) && bs > unit)
        bs -= unit;
    if (bs > (1u << 30)) {
        snprintf(e->backend_note, sizeof e->backend_note,
                 "--batch: a GPU batch must stay below 1 GiB with these chunk sizes");
        return DDX_EINVAL;
    }
    e->batch_size = bs;
    e->nbatches = GPU_SLOTS;

    d->cfg.slots = GPU_SLOTS;
    d->cfg.batch_bytes = bs;
    d->cfg.seg_bytes = SEG_BYTES;
    d->cfg.seg_cap = seg_cap_for(c);
    /* Testing knob: a tiny cap forces the overflow path (tests/test_gpu_backend.c). */
    const char *capenv = getenv("DDX_GPU_SEG_CAP");
    if (capenv && atoi(capenv) > 0)
        d->cfg.seg_cap = (uint32_t)atoi(capenv);
    size_t minc = c->min_size > 1 ? c->min_size - 1 : 1;
    d->cfg.max_chunks = (uint32_t)(bs / minc + 4);
    d->cfg.hash_kind = (int)e->hk;
    d->cfg.gear = c->gear;
    d->cfg.mask_s = c->mask_s;
    d->cfg.mask_l = c->mask_l;

    char why[256];
    rc = ops->open(&d->g, e->device_req, gpu_only, &d->cfg, why, sizeof why);
    if (rc) {
        snprintf(e->backend_note, sizeof e->backend_note, "%s: %s", ops->name, why);
        return rc;
    }
    e->backend_name = ops->name;
    /* Names for the report: the device scans for FastCDC candidates (the
     * host selects), other chunkers run their CPU kernel on this thread. */
    if (d->scan)
        snprintf(d->chunk_impl, sizeof d->chunk_impl, "%s-gear-candidates+host-select", ops->name);
    else
        snprintf(d->chunk_impl, sizeof d->chunk_impl, "%s (host)", c->impl);
    snprintf(d->hash_impl, sizeof d->hash_impl, "%s-%s", ops->name, ddx_hash_name(e->hk));
    snprintf(e->device_desc, sizeof e->device_desc, "%s", ops->device_name(d->g));

    d->slot = calloc(GPU_SLOTS, sizeof *d->slot);
    d->sbuf = malloc((size_t)c->max_size * 2);
    if (!d->slot || !d->sbuf)
        return DDX_ENOMEM;
    size_t cap = (bs + 2 * (size_t)c->max_size) / minc + 8;
    for (unsigned i = 0; i < GPU_SLOTS; i++) {
        gslot *s = &d->slot[i];
        s->cap = cap;
        s->off = malloc(cap * sizeof *s->off);
        s->len = malloc(cap * sizeof *s->len);
        /* crossing chunks: at most 2 * max / min + 2 of them */
        s->cpu_fp = malloc((2 * (size_t)c->max_size / minc + 4) * e->fp_size);
        if (!s->off || !s->len || !s->cpu_fp)
            return DDX_ENOMEM;
    }
    return 0;
}

const char *ddx_gpu_drv_chunk_impl(const ddx_engine *e)
{
    return e->gd->chunk_impl;
}

const char *ddx_gpu_drv_hash_impl(const ddx_engine *e)
{
    return e->gd->hash_impl;
}

uint8_t *ddx_gpu_drv_buffer(ddx_engine *e, unsigned slot)
{
    return e->gd->ops->host_buffer(e->gd->g, slot);
}

void ddx_gpu_drv_close(ddx_engine *e)
{
    struct ddx_gpu_drv *d = e->gd;
    if (!d)
        return;
    if (d->ops && d->g)
        d->ops->close(d->g);
    for (unsigned i = 0; d->slot && i < GPU_SLOTS; i++) {
        free(d->slot[i].off);
        free(d->slot[i].len);
        free(d->slot[i].cpu_fp);
    }
    free(d->slot);
    free(d->sbuf);
    free(d);
    e->gd = NULL;
}

void ddx_gpu_drv_stats(const ddx_engine *e, ddx_stats *st)
{
    const struct ddx_gpu_drv *d = e->gd;
    if (!d || !d->g)
        return;
    ddx_gpu_times t;
    d->ops->times(d->g, &t);
    st->gpu_h2d_s = t.h2d_s;
    st->gpu_kernel_s = t.kernel_s;
    st->gpu_d2h_s = t.d2h_s;
    st->gpu_h2d_bytes = t.h2d_bytes;
    st->gpu_d2h_bytes = t.d2h_bytes;
    st->gpu_select_s = (double)atomic_load(&d->select_ns) / 1e9;
    st->gpu_wait_s = (double)atomic_load(&d->wait_ns) / 1e9;
    st->gpu_overflow_chunks = atomic_load(&d->overflow);
}

/* ---- the driver thread ---------------------------------------------------- */

static unsigned slot_of(const ddx_engine *e, const batch *b)
{
    return (unsigned)(b - e->batches);
}

static void device_fail(ddx_engine *e, const char *what, int rc, unsigned slot)
{
    int zero = 0;
    const char *msg = e->gd->ops->last_error ? e->gd->ops->last_error(e->gd->g, slot) : "";
    if (atomic_compare_exchange_strong(&e->err, &zero, rc))
        snprintf(e->backend_note, sizeof e->backend_note, "%s: %s failed: %s", e->backend_name,
                 what, *msg ? msg : ddx_strerror(rc));
}

static void wait_add(struct ddx_gpu_drv *d, uint64_t t0)
{
    atomic_fetch_add_explicit(&d->wait_ns, now_ns(CLOCK_MONOTONIC) - t0, memory_order_relaxed);
}

/* Drop the previous batch's stitch reference: its tail is consumed. */
static void drop_prev(ddx_engine *e, struct ddx_gpu_drv *d)
{
    if (d->stitch_prev) {
        ddx_eng_batch_release(e, d->stitch_prev);
        d->stitch_prev = NULL;
    }
}

static void start_scan(ddx_engine *e, struct ddx_gpu_drv *d, batch *b)
{
    gslot *s = &d->slot[slot_of(e, b)];
    s->n = s->ncpu = 0;
    s->scanned = s->hashed = 0;
    if (atomic_load(&e->err) || !b->len)
        return;
    int rc = d->ops->scan_submit(d->g, slot_of(e, b), b->len, d->scan);
    if (rc)
        device_fail(e, "scan_submit", rc, slot_of(e, b));
    else
        s->scanned = 1;
}

static int push(gslot *s, uint64_t off, size_t len)
{
    if (s->n == s->cap)
        return DDX_EFULL; /* cannot happen: cap bounds chunks of >= min - 1 bytes */
    s->off[s->n] = off;
    s->len[s->n] = (uint32_t)len;
    s->n++;
    return 0;
}

/* The chunks that start in the previous batch's tail, cut and hashed on the
 * CPU from the stitch buffer; advances d->tail into batch b. */
static int cross_edge(ddx_engine *e, struct ddx_gpu_drv *d, batch *b, gslot *s, worker *w)
{
    batch *prev = d->stitch_prev;
    if (!prev || d->tail >= b->off)
        return 0;
    const ddx_chunk_cfg *c = &e->ccfg;
    size_t tl = (size_t)(prev->off + prev->len - d->tail);
    size_t head = b->len < c->max_size ? b->len : c->max_size;
    memcpy(d->sbuf, prev->data + (d->tail - prev->off), tl);
    memcpy(d->sbuf + tl, b->data, head);
    int eof = b->last && head == b->len;
    stopwatch sw = sw_start();
    size_t used = 0, nb = tl + head, n0 = s->n;
    while (used < tl) {
        size_t l = c->find(c, d->sbuf + used, nb - used, eof);
        if (!l || push(s, d->tail, l))
            return DDX_ESTATE; /* a non-last batch holds >= max bytes: unreachable */
        ddx_hash_msg m = {d->sbuf + used, l};
        e->hash_single->batch(&m, 1, s->cpu_fp + s->ncpu * e->fp_size);
        s->ncpu++;
        used += l;
        d->tail += l;
    }
    sw_stop(w, DDX_STAGE_STITCH, sw, used, s->n - n0);
    return 0;
}

/* Candidates back -> cut points of batch b -> chunk hashing submitted. */
static void select_batch(ddx_engine *e, struct ddx_gpu_drv *d, batch *b, worker *w)
{
    unsigned si = slot_of(e, b);
    gslot *s = &d->slot[si];
    const ddx_chunk_cfg *c = &e->ccfg;
    int rc = 0;
    if (b->first) {
        d->tail = b->off;
        drop_prev(e, d); /* the previous stream's last batch holds no tail */
    }
    if (atomic_load(&e->err))
        goto skip;
    ddx_cand_view v = {0};
    if (s->scanned) {
        uint64_t t0 = now_ns(CLOCK_MONOTONIC);
        rc = d->ops->scan_wait(d->g, si, &v.counts, &v.cands);
        wait_add(d, t0);
        if (rc) {
            device_fail(e, "scan", rc, si);
            goto skip;
        }
        v.seg_bytes = d->cfg.seg_bytes;
        v.seg_cap = d->cfg.seg_cap;
        v.nseg = (b->len + v.seg_bytes - 1) / v.seg_bytes;
    }
    uint64_t t0 = now_ns(CLOCK_MONOTONIC);
    if ((rc = cross_edge(e, d, b, s, w)) != 0) {
        set_err(e, rc);
        goto skip;
    }
    drop_prev(e, d);

    stopwatch sw = sw_start();
    size_t pos = (size_t)(d->tail - b->off), n0 = s->n;
    uint32_t *tab = s->scanned ? d->ops->chunk_table(d->g, si) : NULL;
    while (pos < b->len) {
        size_t l = d->scan ? ddx_cand_chunk(c, b->data, b->len, b->last, pos, &v)
                           : c->find(c, b->data + pos, b->len - pos, b->last);
        if (!l)
            break;
        size_t k = s->n - s->ncpu;
        if (push(s, b->off + pos, l)) {
            set_err(e, DDX_EFULL);
            goto skip;
        }
        tab[2 * k] = (uint32_t)pos;
        tab[2 * k + 1] = (uint32_t)l;
        pos += l;
    }
    d->tail = b->off + pos;
    atomic_fetch_add_explicit(&d->overflow, v.overflow_chunks, memory_order_relaxed);
    sw_stop(w, DDX_STAGE_CHUNK, sw, b->len, s->n - n0);
    atomic_fetch_add_explicit(&d->select_ns, now_ns(CLOCK_MONOTONIC) - t0, memory_order_relaxed);
    if (s->n > s->ncpu) {
        if ((rc = d->ops->hash_submit(d->g, si, s->n - s->ncpu)) != 0) {
            device_fail(e, "hash_submit", rc, si);
            goto skip;
        }
        s->hashed = 1;
    }
skip:
    drop_prev(e, d);
    if (!b->last)
        d->stitch_prev = b; /* its tail is the next batch's first chunk */
}

/* Digests back -> index, callbacks, statistics; the batch is done. */
static void index_batch(ddx_engine *e, struct ddx_gpu_drv *d, batch *b, worker *w)
{
    unsigned si = slot_of(e, b);
    gslot *s = &d->slot[si];
    const uint8_t *dig = NULL;
    if (s->hashed && !atomic_load(&e->err)) {
        uint64_t t0 = now_ns(CLOCK_MONOTONIC);
        int rc = d->ops->hash_wait(d->g, si, &dig);
        wait_add(d, t0);
        if (rc)
            device_fail(e, "hash", rc, si);
    }
    if (!atomic_load(&e->err)) {
        ddx_eng_tally t;
        ddx_eng_index_begin(w, &t);
        for (size_t k = 0; k < s->n; k++) {
            const uint8_t *fp =
                k < s->ncpu ? s->cpu_fp + k * e->fp_size : dig + (k - s->ncpu) * e->fp_size;
            ddx_eng_index_one(w, &t, b, s->off[k], s->len[k], fp);
        }
        ddx_eng_index_end(w, &t, b->len);
    }
    ddx_eng_complete(e, b);
}

/* One step of the pipeline: select the scanned batch, index the hashed one. */
static void advance(ddx_engine *e, struct ddx_gpu_drv *d, worker *w)
{
    batch *sel = d->scanning, *idx = d->selected;
    d->scanning = NULL;
    d->selected = sel;
    if (sel)
        select_batch(e, d, sel, w);
    if (idx)
        index_batch(e, d, idx, w);
}

void *ddx_gpu_drv_main(void *arg)
{
    worker *w = arg;
    ddx_engine *e = w->e;
    struct ddx_gpu_drv *d = e->gd;
    ddx_eng_worker_up(w);
    for (;;) {
        int busy = d->scanning || d->selected;
        batch *b = ddx_eng_next_work(e, !busy);
        if (!b) { /* the reader is behind: finish what is in flight */
            advance(e, d, w);
            continue;
        }
        if (b == &e->stop) {
            while (d->scanning || d->selected)
                advance(e, d, w);
            drop_prev(e, d);
            break;
        }
        start_scan(e, d, b);
        advance(e, d, w);
        d->scanning = b;
    }
    if (e->index)
        ddx_index_unregister(e->index, &w->it);
    return NULL;
}
