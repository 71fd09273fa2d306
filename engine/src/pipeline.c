/*
 * pipeline.c - the ingest engine: read -> chunk -> stitch -> hash -> index.
 *
 * Design. The caller's thread is the reader: it copies (or read(2)s) a stream
 * into fixed-size batch buffers and pushes them down a bounded queue (a
 * Concurrency Kit ring plus a counting semaphore, so an idle stage sleeps
 * instead of spinning on a 2-core machine). N workers, pinned one per core
 * with hwloc, take batches in any order and do the expensive work in
 * parallel: each chunks its batch *as if a chunk started at the batch's first
 * byte* (the "local chain") and fingerprints every local chunk.
 *
 * Resynchronisation. The local chain of batch k is usually wrong for its
 * first chunk or two: the true chain arrives from batch k-1 with a chunk that
 * crosses the edge. But every chunker here decides a cut from the chunk's own
 * bytes only (cpu/chunk_impl.h), so once the true chain lands on any cut of
 * the local chain, the two continue identically. The stitcher, which handles
 * batches strictly in sequence order, runs the true chain from the last true
 * cut of batch k-1 until it meets a local cut of batch k and accepts the
 * rest of the local chain. The one or two chunks that cross the edge are
 * hashed at once (from the stitch buffer); chunks it cut inside batch k are
 * hashed later, outside the lock. Data with no cut points at all (long zero
 * runs, all chunks max-sized) may never meet the local chain; then the
 * stitcher cuts that whole batch itself: correct, the cutting is serial, the
 * hashing still parallel (docs/design.md).
 *
 * Stitching is serialised by a try-lock: the worker that completes batch k
 * stitches every batch that is ready in order, releases the lock, then does
 * the index inserts for them outside it. Nobody waits for the lock: if it is
 * taken, the holder will see our batch (the re-check after unlock closes the
 * race). Batch buffers return to the free queue when both their own index
 * stage and the stitching of the next batch (which reads their tail) are done.
 */
#include <errno.h>
#include <hwloc.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cpu_features.h"
#include "engine_int.h"
#include "tsan_annot.h"

#define DEFAULT_BATCH (4u << 20)

static size_t cuts_capacity(const ddx_engine *e)
{
    /* FastCDC may cut at (min & ~1) = min - 1 when min is odd */
    size_t m = e->ccfg.min_size > 1 ? e->ccfg.min_size - 1 : 1;
    return e->batch_size / m + 2;
}

/* ---- configuration ---------------------------------------------------------- */

int ddx_engine_create(ddx_engine **out)
{
    if (!out)
        return DDX_EINVAL;
    ddx_engine *e = calloc(1, sizeof *e);
    if (!(*out = e))
        return DDX_ENOMEM;
    e->ck = DDX_CHUNKER_FASTCDC;
    e->min = 2048;
    e->avg = 8192;
    e->max = 65536;
    e->norm = 1;
    e->hk = DDX_HASH_SHA256;
    e->batch_size = DEFAULT_BATCH;
    e->pin = 1;
    return 0;
}

#define CONFIG_GUARD(e)                                                                            \
    do {                                                                                           \
        if (!(e))                                                                                  \
            return DDX_EINVAL;                                                                     \
        if ((e)->opened)                                                                           \
            return DDX_ESTATE;                                                                     \
    } while (0)

int ddx_engine_set_chunker(ddx_engine *e, ddx_chunker_kind kind, uint32_t min, uint32_t avg,
                           uint32_t max)
{
    CONFIG_GUARD(e);
    ddx_chunk_cfg tmp;
    int rc = ddx_chunk_cfg_init(&tmp, kind, min, avg, max, e->norm, 0, NULL);
    if (rc)
        return rc;
    e->ck = kind;
    e->min = min;
    e->avg = avg;
    e->max = max;
    return 0;
}

int ddx_engine_set_normalization(ddx_engine *e, int level)
{
    CONFIG_GUARD(e);
    if (level < 0 || level > 3)
        return DDX_EINVAL;
    e->norm = level;
    return 0;
}

int ddx_engine_set_hash(ddx_engine *e, ddx_hash_kind kind)
{
    CONFIG_GUARD(e);
    if (kind != DDX_HASH_SHA1 && kind != DDX_HASH_SHA256)
        return DDX_EINVAL;
    e->hk = kind;
    return 0;
}

int ddx_engine_set_threads(ddx_engine *e, unsigned threads)
{
    CONFIG_GUARD(e);
    if (threads > 1024)
        return DDX_EINVAL;
    e->threads = threads;
    return 0;
}

int ddx_engine_set_batch_size(ddx_engine *e, size_t bytes)
{
    CONFIG_GUARD(e);
    if (bytes < 4096 || bytes > (1ull << 32))
        return DDX_EINVAL;
    e->batch_size = bytes;
    e->batch_size_set = 1;
    return 0;
}

int ddx_engine_set_pinning(ddx_engine *e, int on)
{
    CONFIG_GUARD(e);
    e->pin = !!on;
    return 0;
}

int ddx_engine_set_chunk_callback(ddx_engine *e, ddx_chunk_fn fn, void *ctx)
{
    CONFIG_GUARD(e);
    e->cb = fn;
    e->cb_ctx = ctx;
    return 0;
}

static int set_name(char **dst, const char *name)
{
    char *c = NULL;
    if (name && !(c = strdup(name)))
        return DDX_ENOMEM;
    free(*dst);
    *dst = c;
    return 0;
}

int ddx_engine_set_chunker_impl(ddx_engine *e, const char *name)
{
    CONFIG_GUARD(e);
    return set_name(&e->chunk_impl_name, name);
}

int ddx_engine_set_hash_impl(ddx_engine *e, const char *name)
{
    CONFIG_GUARD(e);
    return set_name(&e->hash_impl_name, name);
}

int ddx_impl_get(ddx_impl_class c, size_t i, const char **name, int *kind, int *usable)
{
    size_t n;
    if (c == DDX_IMPL_CHUNK) {
        const ddx_chunk_impl *all = ddx_chunk_impls(&n);
        if (i >= n)
            return DDX_EINVAL;
        *name = all[i].name;
        *kind = (int)all[i].kind;
        *usable = (all[i].need & ~ddx_cpu_features()) == 0;
        return 0;
    }
    if (c == DDX_IMPL_HASH) {
        const ddx_hash_impl *all = ddx_hash_impls(&n);
        if (i >= n)
            return DDX_EINVAL;
        *name = all[i].name;
        *kind = (int)all[i].kind;
        *usable = ddx_hash_impl_usable(&all[i]);
        return 0;
    }
    return DDX_EINVAL;
}

int ddx_engine_set_index_hint(ddx_engine *e, uint64_t chunks)
{
    CONFIG_GUARD(e);
    e->index_hint = chunks;
    return 0;
}

int ddx_engine_set_dedup(ddx_engine *e, int on)
{
    CONFIG_GUARD(e);
    e->no_dedup = !on;
    return 0;
}

/* ---- batches ---------------------------------------------------------------- */

void ddx_eng_batch_release(ddx_engine *e, batch *b)
{
    /* acq_rel: the last owner sees every write the other owner made */
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) {
        region_put(b->reg);
        b->reg = NULL;
        DDX_TSAN_RELEASE(b);
        while (!ck_ring_enqueue_mpmc(&e->free_ring, e->free_buf, b))
            ck_pr_stall(); /* cannot stay full: it holds every batch at most once */
        sem_post(&e->free_sem);
    }
}

static int st_push(batch *b, uint64_t off, uint32_t len, size_t fp_size)
{
    if (b->nst == b->st_cap) {
        size_t nc = b->st_cap ? b->st_cap * 2 : 16;
        uint64_t *o = realloc(b->st_off, nc * sizeof *o);
        if (o)
            b->st_off = o;
        uint32_t *l = realloc(b->st_len, nc * sizeof *l);
        if (l)
            b->st_len = l;
        uint8_t *f = realloc(b->st_fps, nc * fp_size);
        if (f)
            b->st_fps = f;
        if (!o || !l || !f)
            return DDX_ENOMEM;
        b->st_cap = nc;
    }
    b->st_off[b->nst] = off;
    b->st_len[b->nst] = len;
    b->nst++;
    return 0;
}

/* ---- worker stages -------------------------------------------------------- */

static void hash_one(ddx_engine *e, const uint8_t *p, size_t len, uint8_t *out)
{
    ddx_hash_msg m = {p, len};
    e->hash_single->batch(&m, 1, out);
}

/* Chunk and fingerprint a batch as if a chunk started at its first byte.
 * The two passes alternate over sub-blocks (e->sub_bytes) so the bytes the
 * chunker just read are still in L2 when they are hashed (a whole 4 MiB
 * batch would be re-read from L3 or memory). Wall time is taken per pass
 * with the cheap monotonic clock; thread CPU time (a system call) once per
 * batch, split between the two stages in proportion to their wall time. */
/* Sub-block: 256 KiB keeps the chunker's bytes in L2 for single-buffer
 * hashes; multi-buffer kernels get 1 MiB (~100 chunks at 8 KiB) so that a
 * call keeps 16 lanes busy for more than one refill round. */
#define SUB_BYTES (256u << 10)
#define SUB_BYTES_MB (1u << 20)

static void local_process(worker *w, batch *b)
{
    ddx_engine *e = w->e;
    const ddx_chunk_cfg *cc = &e->ccfg;
    uint64_t cpu0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    uint64_t t_chunk = 0, t_hash = 0, hashed = 0, nhashed = 0;
    size_t pos = 0, n = 0, l = 1;
    /* Local chunk 0 is a true chunk only if the true chain cuts exactly at
     * the batch start; the stitcher hashes it in that rare case. */
    b->fp0_done = b->first;
    while (pos < b->len && l) {
        uint64_t t0 = now_ns(CLOCK_MONOTONIC);
        size_t j_from = n, target = pos + e->sub_bytes;
        while (pos < b->len && pos < target) {
            l = cc->find(cc, b->data + pos, b->len - pos, b->last);
            if (!l)
                break;
            pos += l;
            b->cuts[n++] = b->off + pos;
        }
        uint64_t t1 = now_ns(CLOCK_MONOTONIC);
        size_t j0 = j_from == 0 && !b->first ? 1 : j_from, k = 0;
        for (size_t j = j0; j < n; j++, k++) {
            uint64_t st = j ? b->cuts[j - 1] : b->off;
            w->msgs[k].p = b->data + (st - b->off);
            w->msgs[k].len = (size_t)(b->cuts[j] - st);
            hashed += w->msgs[k].len;
        }
        if (k)
            e->hash->batch(w->msgs, k, b->fps + j0 * e->fp_size);
        nhashed += k;
        uint64_t t2 = now_ns(CLOCK_MONOTONIC);
        t_chunk += t1 - t0;
        t_hash += t2 - t1;
    }
    b->ncuts = n;
    uint64_t cpu = now_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0;
    uint64_t cpu_chunk =
        t_chunk + t_hash ? (uint64_t)((double)cpu * t_chunk / (t_chunk + t_hash)) : 0;
    add_relaxed(&w->ns_wall[DDX_STAGE_CHUNK], t_chunk);
    add_relaxed(&w->ns_cpu[DDX_STAGE_CHUNK], cpu_chunk);
    add_relaxed(&w->st_bytes[DDX_STAGE_CHUNK], b->len);
    add_relaxed(&w->st_items[DDX_STAGE_CHUNK], 1);
    add_relaxed(&w->ns_wall[DDX_STAGE_HASH], t_hash);
    add_relaxed(&w->ns_cpu[DDX_STAGE_HASH], cpu - cpu_chunk);
    add_relaxed(&w->st_bytes[DDX_STAGE_HASH], hashed);
    add_relaxed(&w->st_items[DDX_STAGE_HASH], nhashed);
}

static inline uint64_t local_point(const batch *b, size_t m)
{
    return m ? b->cuts[m - 1] : b->off;
}

/* Run the true chain into batch b (see the top of the file). */
static void stitch(worker *w, batch *b)
{
    ddx_engine *e = w->e;
    const ddx_chunk_cfg *cc = &e->ccfg;
    size_t fs = e->fp_size;
    stopwatch sw = sw_start();
    uint64_t hashed = 0;
    b->nst = 0;
    b->st_hashed = 0;
    if (b->first) {
        b->accept_from = 0;
        goto tail;
    }
    batch *prev = e->tail_batch;
    uint64_t s = e->tail_pos;
    uint64_t end = b->off + b->len;

    /* Phase A: chunks that start in prev's tail (< max bytes) and cross the
     * edge, decided on a copy of tail + the first max bytes of b. */
    if (s < b->off) {
        size_t tlen = (size_t)(b->off - s);
        size_t take = b->len < cc->max_size ? b->len : cc->max_size;
        memcpy(e->sbuf, prev->data + (s - prev->off), tlen);
        memcpy(e->sbuf + tlen, b->data, take);
        size_t sn = tlen + take;
        int seof = b->last && take == b->len;
        while (s < b->off) {
            size_t rel = (size_t)(s - (b->off - tlen));
            size_t l = cc->find(cc, e->sbuf + rel, sn - rel, seof);
            if (!l || st_push(b, s, (uint32_t)l, fs)) {
                set_err(e, l ? DDX_ENOMEM : DDX_ECORRUPT); /* !l: broken invariant */
                s = b->off;
                break;
            }
            hash_one(e, e->sbuf + rel, l, b->st_fps + (b->nst - 1) * fs);
            hashed += l;
            s += l;
        }
    }
    ddx_eng_batch_release(e, prev); /* its tail is no longer needed */
    b->st_hashed = b->nst;          /* phase A hashed from sbuf, which the next stitch reuses */

    /* Phase B: chunk in place until the true chain lands on a local cut. */
    size_t m = 0;
    for (;;) {
        while (m <= b->ncuts && local_point(b, m) < s)
            m++;
        if (m <= b->ncuts && local_point(b, m) == s)
            break; /* synchronised */
        size_t l = s < end ? cc->find(cc, b->data + (s - b->off), (size_t)(end - s), b->last) : 0;
        if (!l) {
            /* undecided before the end of b: b's tail carries the true chain */
            b->accept_from = b->ncuts;
            e->tail_batch = b;
            e->tail_pos = s;
            goto out;
        }
        if (st_push(b, s, (uint32_t)l, fs)) {
            set_err(e, DDX_ENOMEM);
            b->accept_from = b->ncuts;
            goto out;
        }
        s += l; /* hashed later, outside the lock: see hash_stitched() */
    }
    b->accept_from = m;
    if (m == 0 && b->ncuts > 0 && !b->fp0_done) {
        hash_one(e, b->data, (size_t)(b->cuts[0] - b->off), b->fps);
        hashed += b->cuts[0] - b->off;
    }
tail:
    if (b->last) {
        e->tail_batch = NULL;
    } else {
        e->tail_batch = b;
        e->tail_pos = local_point(b, b->ncuts);
    }
out:
    sw_stop(w, DDX_STAGE_STITCH, sw, hashed, 1);
}

/* Fingerprint the chunks the stitcher cut inside b without hashing them: on
 * data where the chains never meet (long runs without cut points) that is the
 * whole batch, and doing it here keeps it off the serial path. */
static void hash_stitched(worker *w, batch *b)
{
    ddx_engine *e = w->e;
    if (b->st_hashed == b->nst)
        return;
    stopwatch sw = sw_start();
    uint64_t bytes = 0;
    for (size_t k = b->st_hashed; k < b->nst;) {
        size_t c = 0, k0 = k;
        for (; k < b->nst && c < w->msgs_cap; k++, c++) {
            w->msgs[c].p = b->data + (b->st_off[k] - b->off);
            w->msgs[c].len = b->st_len[k];
            bytes += b->st_len[k];
        }
        e->hash->batch(w->msgs, c, b->st_fps + k0 * e->fp_size);
    }
    sw_stop(w, DDX_STAGE_HASH, sw, bytes, b->nst - b->st_hashed);
    b->st_hashed = b->nst;
}

void ddx_eng_index_begin(worker *w, ddx_eng_tally *t)
{
    memset(t, 0, sizeof *t);
    t->mn = UINT64_MAX;
    t->sw = sw_start();
    if (w->e->index)
        ddx_index_enter(w->e->index, &w->it);
}

void ddx_eng_index_one(worker *w, ddx_eng_tally *t, const batch *b, uint64_t off, uint32_t len,
                       const uint8_t *fp)
{
    ddx_engine *e = w->e;
    uint64_t existing;
    int r = 1; /* without an index (ddx_engine_set_dedup off) every chunk counts as new */
    while (e->index &&
           (r = ddx_index_insert(e->index, fp, b->base + off, &existing)) == DDX_EFULL) {
        ddx_index_leave(e->index, &w->it);
        set_err(e, ddx_index_grow(e->index));
        ddx_index_enter(e->index, &w->it);
        if (atomic_load(&e->err))
            break;
    }
    if (r == 1) {
        t->uniq++;
        t->ubytes += len;
    }
    t->n++;
    t->sum += len;
    t->sq += (unsigned __int128)len * len;
    t->mn = len < t->mn ? len : t->mn;
    t->mx = len > t->mx ? len : t->mx;
    t->hist[ddx_chunk_hist_bin(len)]++;
    if (e->cb) {
        ddx_chunk c = {b->stream, off, len, r == 1, {0}};
        memcpy(c.fp, fp, e->fp_size);
        e->cb(e->cb_ctx, &c);
    }
}

void ddx_eng_index_end(worker *w, ddx_eng_tally *t, uint64_t bytes)
{
    ddx_engine *e = w->e;
    if (e->index) {
        ddx_index_leave(e->index, &w->it);
        if (ddx_index_wants_grow(e->index))
            set_err(e, ddx_index_grow(e->index));
    }

    add_relaxed(&w->chunks, t->n);
    add_relaxed(&w->sum, t->sum);
    unsigned __int128 tot =
        ((unsigned __int128)atomic_load(&w->sumsq_hi) << 64) | atomic_load(&w->sumsq_lo);
    tot += t->sq;
    atomic_store_explicit(&w->sumsq_lo, (uint64_t)tot, memory_order_relaxed);
    atomic_store_explicit(&w->sumsq_hi, (uint64_t)(tot >> 64), memory_order_relaxed);
    if (t->n && t->mn < atomic_load_explicit(&w->min, memory_order_relaxed))
        atomic_store_explicit(&w->min, t->mn, memory_order_relaxed);
    if (t->mx > atomic_load_explicit(&w->max, memory_order_relaxed))
        atomic_store_explicit(&w->max, t->mx, memory_order_relaxed);
    add_relaxed(&w->uniq, t->uniq);
    add_relaxed(&w->uniq_bytes, t->ubytes);
    for (unsigned i = 0; i < DDX_CHUNK_HIST_BINS; i++)
        if (t->hist[i])
            add_relaxed(&w->hist[i], t->hist[i]);
    sw_stop(w, DDX_STAGE_INDEX, t->sw, bytes, t->n);
}

/* Chunks whose index slot is prefetched ahead of the one being inserted. */
#define INDEX_AHEAD 8

static void index_batch(worker *w, batch *b)
{
    size_t fs = w->e->fp_size;
    size_t total = b->nst + (b->ncuts - b->accept_from);
    hash_stitched(w, b);
    ddx_eng_tally t;
    ddx_eng_index_begin(w, &t);
    for (size_t k = 0; k < total; k++) {
        size_t ahead = k + INDEX_AHEAD; /* overlap the probes' cache misses */
        if (ahead < total && w->e->index)
            ddx_index_prefetch(w->e->index, ahead < b->nst
                                                ? b->st_fps + ahead * fs
                                                : b->fps + (b->accept_from + ahead - b->nst) * fs);
        if (k < b->nst) {
            ddx_eng_index_one(w, &t, b, b->st_off[k], b->st_len[k], b->st_fps + k * fs);
        } else {
            size_t j = b->accept_from + (k - b->nst);
            uint64_t off = local_point(b, j);
            ddx_eng_index_one(w, &t, b, off, (uint32_t)(b->cuts[j] - off), b->fps + j * fs);
        }
    }
    ddx_eng_index_end(w, &t, b->len);
}

void ddx_eng_complete(ddx_engine *e, batch *b)
{
    size_t len = b->len;
    ddx_eng_batch_release(e, b);
    atomic_fetch_add_explicit(&e->done_bytes, len, memory_order_relaxed);
    pthread_mutex_lock(&e->done_mu);
    e->done_batches++;
    pthread_cond_broadcast(&e->done_cv);
    pthread_mutex_unlock(&e->done_mu);
}

static batch *ready_next(ddx_engine *e)
{
    uint64_t seq = atomic_load(&e->stitch_next);
    batch *b = atomic_load_explicit(&e->pending[seq % e->nbatches], memory_order_acquire);
    return b && b->seq == seq ? b : NULL;
}

static void try_stitch(worker *w)
{
    ddx_engine *e = w->e;
    for (;;) {
        if (!ck_spinlock_trylock(&e->stitch_lock))
            return; /* the holder re-checks after unlocking and will see ours */
        DDX_TSAN_ACQUIRE(&e->stitch_lock);
        batch *head = NULL, **tailp = &head, *b;
        while ((b = ready_next(e)) != NULL) {
            atomic_store(&e->pending[b->seq % e->nbatches], NULL);
            stitch(w, b);
            atomic_store(&e->stitch_next, b->seq + 1);
            b->next_done = NULL;
            *tailp = b;
            tailp = &b->next_done;
        }
        DDX_TSAN_RELEASE(&e->stitch_lock);
        ck_spinlock_unlock(&e->stitch_lock);
        while (head) {
            b = head;
            head = b->next_done;
            index_batch(w, b);
            ddx_eng_complete(e, b);
        }
        /* seq_cst load after unlock: pairs with the publisher's seq_cst store
         * before its trylock, so one of us always sees the other's batch */
        if (!ready_next(e))
            return;
    }
}

static void pin_self(worker *w)
{
    ddx_engine *e = w->e;
    int ncores = hwloc_get_nbobjs_by_type(e->topo, HWLOC_OBJ_CORE);
    if (ncores <= 0) {
        snprintf(w->binding, sizeof w->binding, "worker %u: not pinned (no core topology)", w->id);
        return;
    }
    hwloc_obj_t core = hwloc_get_obj_by_type(e->topo, HWLOC_OBJ_CORE, w->id % (unsigned)ncores);
    char pus[64];
    hwloc_bitmap_list_snprintf(pus, sizeof pus, core->cpuset);
    if (hwloc_set_cpubind(e->topo, core->cpuset, HWLOC_CPUBIND_THREAD) == 0)
        snprintf(w->binding, sizeof w->binding, "worker %u: core L#%u (PU %s)", w->id,
                 core->logical_index, pus);
    else
        snprintf(w->binding, sizeof w->binding, "worker %u: binding to core L#%u failed: %s", w->id,
                 core->logical_index, strerror(errno));
}

void ddx_eng_worker_up(worker *w)
{
    ddx_engine *e = w->e;
    if (e->pin)
        pin_self(w);
    else
        snprintf(w->binding, sizeof w->binding, "worker %u: not pinned (--no-pin)", w->id);
    if (e->index)
        ddx_index_register(e->index, &w->it);
    pthread_mutex_lock(&e->done_mu);
    e->workers_up++;
    pthread_cond_broadcast(&e->done_cv);
    pthread_mutex_unlock(&e->done_mu);
}

batch *ddx_eng_next_work(ddx_engine *e, int block)
{
    if (block) {
        while (sem_wait(&e->work_sem) != 0)
            ;
    } else if (sem_trywait(&e->work_sem) != 0) {
        return NULL;
    }
    void *p;
    while (!ck_ring_dequeue_mpmc(&e->work_ring, e->work_buf, &p))
        ck_pr_stall(); /* the semaphore said one is there */
    DDX_TSAN_ACQUIRE(p);
    return p;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    ddx_engine *e = w->e;
    ddx_eng_worker_up(w);
    for (;;) {
        batch *b = ddx_eng_next_work(e, 1);
        if (b == &e->stop)
            break;
        local_process(w, b);
        atomic_store_explicit(&e->pending[b->seq % e->nbatches], b, memory_order_seq_cst);
        try_stitch(w);
    }
    if (e->index)
        ddx_index_unregister(e->index, &w->it);
    return NULL;
}

/* ---- open / close ---------------------------------------------------------- */

static unsigned next_pow2(unsigned v)
{
    unsigned p = 1;
    while (p < v)
        p <<= 1;
    return p;
}

int ddx_engine_open(ddx_engine *e)
{
    CONFIG_GUARD(e);
    int rc = ddx_chunk_cfg_init(&e->ccfg, e->ck, e->min, e->avg, e->max, e->norm, 0, NULL);
    if (rc)
        return rc;
    if ((rc = ddx_chunk_impl_select(&e->ccfg, e->chunk_impl_name, NULL)) != 0)
        return rc;
    if ((rc = ddx_hash_impl_select(e->hk, e->hash_impl_name, &e->hash)) != 0)
        return rc;
    e->sub_bytes = e->hash->multi ? SUB_BYTES_MB : SUB_BYTES;
    /* The stitcher hashes one chunk at a time: a multi-buffer kernel would
     * run 15 idle lanes, so it gets the fastest single-buffer one. */
    e->hash_single = e->hash;
    size_t nh;
    const ddx_hash_impl *all = ddx_hash_impls(&nh);
    for (size_t i = 0; e->hash->multi && i < nh; i++)
        if (all[i].kind == e->hk && !all[i].multi && ddx_hash_impl_usable(&all[i])) {
            e->hash_single = &all[i];
            break;
        }
    e->fp_size = ddx_hash_size(e->hk);
    if ((rc = ddx_gpu_drv_open(e)) != 0) /* a GPU backend sizes its own batches */
        return rc;
    if (!e->gd && e->ccfg.max_size * 2 > e->batch_size)
        e->batch_size = (size_t)e->ccfg.max_size * 2; /* a chunk spans at most 2 batches */
    if (!e->gd && e->ck == DDX_CHUNKER_FIXED)         /* batch edges on block edges: local = true */
        e->batch_size = (e->batch_size + e->avg - 1) / e->avg * e->avg;

    if (hwloc_topology_init(&e->topo) || hwloc_topology_load(e->topo)) {
        return DDX_EUNSUPP;
    }
    if (e->gd)
        e->threads = 1; /* the driver thread */
    if (!e->threads) {
        int n = hwloc_get_nbobjs_by_type(e->topo, HWLOC_OBJ_CORE);
        if (n <= 0)
            n = (int)sysconf(_SC_NPROCESSORS_ONLN);
        e->threads = n > 0 ? (unsigned)n : 1;
    }
    if (!e->no_dedup && (rc = ddx_index_create(&e->index, e->fp_size, e->index_hint)) != 0)
        return rc;

    if (!e->gd)
        e->nbatches = e->threads * 2 + 2;
    unsigned rsz = next_pow2(e->nbatches + e->threads + 2) * 2;
    e->batches = calloc(e->nbatches, sizeof *e->batches);
    e->free_buf = calloc(rsz, sizeof *e->free_buf);
    e->work_buf = calloc(rsz, sizeof *e->work_buf);
    e->pending = calloc(e->nbatches, sizeof *e->pending);
    e->sbuf = malloc((size_t)e->ccfg.max_size * 2);
    /* e->w[threads] is the replay slot (ddx_engine_feed_chunks): statistics and
     * an index reader handle for the caller's thread, no thread of its own */
    e->w = aligned_alloc(64, (e->threads + 1) * sizeof *e->w);
    if (!e->batches || !e->free_buf || !e->work_buf || !e->pending || !e->sbuf || !e->w)
        return DDX_ENOMEM;
    memset(e->w, 0, (e->threads + 1) * sizeof *e->w);
    e->w[e->threads].e = e;
    e->w[e->threads].id = e->threads;
    atomic_store(&e->w[e->threads].min, UINT64_MAX);
    ck_ring_init(&e->free_ring, rsz);
    ck_ring_init(&e->work_ring, rsz);
    size_t ccap = cuts_capacity(e);
    for (unsigned i = 0; i < e->nbatches; i++) {
        batch *b = &e->batches[i];
        if (e->gd) { /* pinned, the backend's; the driver keeps its own chunk lists */
            b->data = b->own = ddx_gpu_drv_buffer(e, i);
        } else {
            b->data = b->own = malloc(e->batch_size);
            b->cuts = malloc(ccap * sizeof *b->cuts);
            b->fps = malloc(ccap * e->fp_size);
            if (!b->own || !b->cuts || !b->fps)
                return DDX_ENOMEM;
        }
        DDX_TSAN_RELEASE(b);
        if (!ck_ring_enqueue_mpmc(&e->free_ring, e->free_buf, b))
            return DDX_ENOMEM;
    }
    if (sem_init(&e->free_sem, 0, e->nbatches) || sem_init(&e->work_sem, 0, 0))
        return errno;
    e->sems = 1;
    ck_spinlock_init(&e->stitch_lock);
    pthread_mutex_init(&e->done_mu, NULL);
    pthread_cond_init(&e->done_cv, NULL);
    e->opened = 1;

    for (unsigned i = 0; i < e->threads; i++) {
        worker *w = &e->w[i];
        w->e = e;
        w->id = i;
        atomic_store(&w->min, UINT64_MAX);
        w->msgs_cap = e->sub_bytes / (e->ccfg.min_size > 1 ? e->ccfg.min_size - 1 : 1) + 4;
        w->msgs = malloc(w->msgs_cap * sizeof *w->msgs);
        if (!w->msgs)
            return DDX_ENOMEM;
        if (pthread_create(&w->th, NULL, e->gd ? ddx_gpu_drv_main : worker_main, w) != 0)
            return DDX_ETHREAD;
        w->started = 1;
    }
    /* wait for the workers to pin themselves: bindings are reported right away */
    pthread_mutex_lock(&e->done_mu);
    while (e->workers_up < e->threads)
        pthread_cond_wait(&e->done_cv, &e->done_mu);
    pthread_mutex_unlock(&e->done_mu);
    clock_gettime(CLOCK_MONOTONIC, &e->t0);
    e->t1 = e->t0;
    getrusage(RUSAGE_SELF, &e->ru0);
    e->ru1 = e->ru0;
    return 0;
}

void ddx_engine_close(ddx_engine *e)
{
    if (!e)
        return;
    if (e->w) {
        for (unsigned i = 0; i < e->threads; i++)
            if (e->w[i].started) {
                DDX_TSAN_RELEASE(&e->stop);
                while (!ck_ring_enqueue_mpmc(&e->work_ring, e->work_buf, &e->stop))
                    ck_pr_stall();
                sem_post(&e->work_sem);
            }
        for (unsigned i = 0; i < e->threads; i++) {
            if (e->w[i].started)
                pthread_join(e->w[i].th, NULL);
            free(e->w[i].msgs);
        }
        if (e->replay_registered && e->index)
            ddx_index_unregister(e->index, &e->w[e->threads].it);
        free(e->w);
    }
    if (e->batches)
        for (unsigned i = 0; i < e->nbatches; i++) {
            batch *b = &e->batches[i];
            region_put(b->reg); /* batches never processed (close without finish) */
            if (!e->gd)
                free(b->own);
            free(b->cuts);
            free(b->fps);
            free(b->st_off);
            free(b->st_len);
            free(b->st_fps);
        }
    if (e->sems) {
        sem_destroy(&e->free_sem);
        sem_destroy(&e->work_sem);
        pthread_mutex_destroy(&e->done_mu);
        pthread_cond_destroy(&e->done_cv);
    }
    free(e->batches);
    free(e->free_buf);
    free(e->work_buf);
    free(e->pending);
    free(e->sbuf);
    ddx_gpu_drv_close(e);
    free(e->chunk_impl_name);
    free(e->hash_impl_name);
    ddx_index_destroy(e->index);
    if (e->topo)
        hwloc_topology_destroy(e->topo);
    free(e);
}

/* ---- reader ---------------------------------------------------------------- */

#define USE_GUARD(e)                                                                               \
    do {                                                                                           \
        if (!(e))                                                                                  \
            return DDX_EINVAL;                                                                     \
        if (!(e)->opened)                                                                          \
            return DDX_ESTATE;                                                                     \
        int err_ = atomic_load(&(e)->err);                                                         \
        if (err_)                                                                                  \
            return err_;                                                                           \
    } while (0)

static batch *get_batch(ddx_engine *e)
{
    uint64_t t = now_ns(CLOCK_MONOTONIC);
    while (sem_wait(&e->free_sem) != 0)
        ;
    e->read_wait_ns += now_ns(CLOCK_MONOTONIC) - t;
    void *p;
    while (!ck_ring_dequeue_mpmc(&e->free_ring, e->free_buf, &p))
        ck_pr_stall();
    DDX_TSAN_ACQUIRE(p);
    batch *b = p;
    b->data = b->own;
    b->reg = NULL;
    b->stream = e->cur_stream;
    b->base = e->stream_base;
    b->off = e->stream_off;
    b->first = e->stream_off == 0;
    b->len = 0;
    return b;
}

static void submit(ddx_engine *e, batch *b, int last)
{
    b->last = last;
    b->seq = e->next_seq++;
    b->ncuts = 0;
    b->nst = 0;
    atomic_store_explicit(&b->refs, last ? 1 : 2, memory_order_relaxed);
    e->submitted++;
    /* the ring's enqueue is a release: the worker sees the filled batch */
    DDX_TSAN_RELEASE(b);
    while (!ck_ring_enqueue_mpmc(&e->work_ring, e->work_buf, b))
        ck_pr_stall();
    sem_post(&e->work_sem);
}

int ddx_engine_stream_begin(ddx_engine *e)
{
    USE_GUARD(e);
    if (e->in_stream)
        return DDX_ESTATE;
    e->in_stream = 1;
    e->cur_stream = e->next_stream++;
    e->stream_base = atomic_load(&e->fed);
    e->stream_off = 0;
    e->cur = NULL;
    return 0;
}

static void account_read(ddx_engine *e, stopwatch s, size_t n)
{
    e->read_ns_wall += now_ns(CLOCK_MONOTONIC) - s.wall;
    e->read_ns_cpu += now_ns(CLOCK_THREAD_CPUTIME_ID) - s.cpu;
    e->stream_off += n;
    atomic_fetch_add_explicit(&e->fed, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&e->read_bytes, n, memory_order_relaxed);
}

int ddx_engine_feed(ddx_engine *e, const void *buf, size_t len)
{
    USE_GUARD(e);
    if (!e->in_stream || e->stream_replay || (!buf && len))
        return e->in_stream && !e->stream_replay ? DDX_EINVAL : DDX_ESTATE;
    const uint8_t *p = buf;
    while (len) {
        if (!e->cur)
            e->cur = get_batch(e);
        batch *b = e->cur;
        size_t take = e->batch_size - b->len;
        if (take > len)
            take = len;
        stopwatch s = sw_start();
        memcpy(b->own + b->len, p, take);
        b->len += take;
        account_read(e, s, take);
        p += take;
        len -= take;
        if (b->len == e->batch_size) {
            e->read_items++;
            submit(e, b, 0);
            e->cur = NULL;
        }
    }
    return atomic_load(&e->err);
}

int ddx_engine_feed_fd(ddx_engine *e, int fd)
{
    USE_GUARD(e);
    if (!e->in_stream || e->stream_replay)
        return DDX_ESTATE;
    for (;;) {
        if (!e->cur)
            e->cur = get_batch(e);
        batch *b = e->cur;
        stopwatch s = sw_start();
        ssize_t r = read(fd, b->own + b->len, e->batch_size - b->len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int err = errno;
            set_err(e, err); /* the stream is incomplete: poison, as documented */
            return err;
        }
        b->len += (size_t)r;
        account_read(e, s, (size_t)r);
        if (r == 0)
            return atomic_load(&e->err);
        if (b->len == e->batch_size) {
            e->read_items++;
            submit(e, b, 0);
            e->cur = NULL;
        }
    }
}

int ddx_engine_feed_ref(ddx_engine *e, const void *buf, size_t len, ddx_release_fn release,
                        void *ctx)
{
    region *r = calloc(1, sizeof *r);
    if (!r) {
        if (release)
            release(ctx);
        return DDX_ENOMEM;
    }
    r->release = release;
    r->ctx = ctx;
    atomic_store(&r->refs, 1); /* ours, until the end of this call */
    int rc = 0;
    const uint8_t *p = buf;
    if (!e || !e->opened || !e->in_stream || e->stream_replay || (!buf && len)) {
        rc = !e                                                  ? DDX_EINVAL
             : (!e->opened || !e->in_stream || e->stream_replay) ? DDX_ESTATE
                                                                 : DDX_EINVAL;
        goto out;
    }
    if ((rc = atomic_load(&e->err)) != 0)
        goto out;
    if (e->gd) { /* the device copies from pinned memory: copy once, into it */
        rc = ddx_engine_feed(e, p, len);
        goto out;
    }
    /* Complete a partly filled batch by copying: batches are contiguous in the
     * stream, and a non-last batch must be full (the stitcher relies on it). */
    if (e->cur && e->cur->len) {
        size_t take = e->batch_size - e->cur->len;
        take = take < len ? take : len;
        if ((rc = ddx_engine_feed(e, p, take)) != 0)
            goto out;
        p += take;
        len -= take;
    }
    while (len >= e->batch_size) {
        if (!e->cur)
            e->cur = get_batch(e);
        batch *b = e->cur;
        stopwatch s = sw_start();
        b->data = p;
        b->len = e->batch_size;
        b->reg = r;
        atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
#ifdef MADV_POPULATE_READ
        /* map the pages here, in one call, rather than by faults in workers */
        uintptr_t a = (uintptr_t)p & ~(uintptr_t)4095;
        (void)madvise((void *)a, (size_t)((uintptr_t)p + b->len - a), MADV_POPULATE_READ);
#endif
        account_read(e, s, b->len);
        e->read_items++;
        submit(e, b, 0);
        e->cur = NULL;
        p += e->batch_size;
        len -= e->batch_size;
    }
    if (len)
        rc = ddx_engine_feed(e, p, len);
out:
    region_put(r);
    return rc;
}

int ddx_engine_stream_end(ddx_engine *e)
{
    USE_GUARD(e);
    if (!e->in_stream)
        return DDX_ESTATE;
    e->in_stream = 0;
    if (e->stream_replay) { /* replayed chunks: no batch to end */
        e->stream_replay = 0;
        return 0;
    }
    if (!e->cur)
        e->cur = get_batch(e);
    if (e->cur->len)
        e->read_items++;
    submit(e, e->cur, 1);
    e->cur = NULL;
    return 0;
}

int ddx_engine_finish(ddx_engine *e)
{
    USE_GUARD(e);
    if (e->in_stream)
        return DDX_ESTATE;
    pthread_mutex_lock(&e->done_mu);
    while (e->done_batches < e->submitted)
        pthread_cond_wait(&e->done_cv, &e->done_mu);
    pthread_mutex_unlock(&e->done_mu);
    clock_gettime(CLOCK_MONOTONIC, &e->t1);
    getrusage(RUSAGE_SELF, &e->ru1);
    e->finished_once = 1;
    return atomic_load(&e->err);
}

/* ---- statistics ------------------------------------------------------------- */

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int ddx_engine_get_stats(ddx_engine *e, ddx_stats *st)
{
    if (!e || !st)
        return DDX_EINVAL;
    memset(st, 0, sizeof *st);
    if (!e->opened)
        return 0;
    st->streams = e->next_stream;
    st->logical_bytes = atomic_load_explicit(&e->done_bytes, memory_order_relaxed);
    uint64_t sum = 0, mn = UINT64_MAX;
    unsigned __int128 sq = 0;
    for (unsigned i = 0; i <= e->threads; i++) { /* and the replay slot */
        worker *w = &e->w[i];
        for (unsigned k = 0; k < DDX_CHUNK_HIST_BINS; k++)
            st->chunk_hist[k] += atomic_load_explicit(&w->hist[k], memory_order_relaxed);
        st->chunks += atomic_load_explicit(&w->chunks, memory_order_relaxed);
        sum += atomic_load_explicit(&w->sum, memory_order_relaxed);
        sq += ((unsigned __int128)atomic_load(&w->sumsq_hi) << 64) | atomic_load(&w->sumsq_lo);
        uint64_t m = atomic_load_explicit(&w->min, memory_order_relaxed);
        mn = m < mn ? m : mn;
        uint64_t x = atomic_load_explicit(&w->max, memory_order_relaxed);
        st->chunk_max = x > st->chunk_max ? x : st->chunk_max;
        st->unique_chunks += atomic_load_explicit(&w->uniq, memory_order_relaxed);
        st->unique_bytes += atomic_load_explicit(&w->uniq_bytes, memory_order_relaxed);
        for (int s = 0; s < DDX_STAGE_COUNT; s++) {
            st->stage[s].wall_s += (double)atomic_load(&w->ns_wall[s]) / 1e9;
            st->stage[s].cpu_s += (double)atomic_load(&w->ns_cpu[s]) / 1e9;
            st->stage[s].bytes += atomic_load(&w->st_bytes[s]);
            st->stage[s].items += atomic_load(&w->st_items[s]);
        }
    }
    st->chunk_min = st->chunks ? mn : 0;
    if (st->chunks) {
        st->chunk_mean = (double)sum / (double)st->chunks;
        /* exact integer variance: n * sum(x^2) - (sum x)^2, over n^2 */
        unsigned __int128 n = st->chunks;
        unsigned __int128 num = n * sq - (unsigned __int128)sum * sum;
        double var = (double)num / ((double)st->chunks * (double)st->chunks);
        st->chunk_stddev = var > 0 ? __builtin_sqrt(var) : 0;
    }
    st->dedup_ratio = st->unique_bytes ? (double)st->logical_bytes / (double)st->unique_bytes : 1.0;
    if (e->index) {
        st->index_entries = ddx_index_entries(e->index);
        st->index_bytes = ddx_index_bytes(e->index);
        st->index_grows = ddx_index_grows(e->index);
    }
    st->index_bytes_per_entry =
        st->index_entries ? (double)st->index_bytes / (double)st->index_entries : 0;
    st->stage[DDX_STAGE_READ].wall_s = (double)e->read_ns_wall / 1e9;
    st->stage[DDX_STAGE_READ].cpu_s = (double)e->read_ns_cpu / 1e9;
    st->stage[DDX_STAGE_READ].bytes = atomic_load(&e->read_bytes);
    st->stage[DDX_STAGE_READ].items = e->read_items;
    st->read_wait_s = (double)e->read_wait_ns / 1e9;
    st->threads = e->threads;
    st->batch_size = e->batch_size;
    pthread_mutex_lock(&e->done_mu);
    st->batches = e->done_batches;
    pthread_mutex_unlock(&e->done_mu);
    struct timespec t1 = e->t1;
    struct rusage ru1 = e->ru1;
    if (!e->finished_once || st->batches < e->submitted) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        getrusage(RUSAGE_SELF, &ru1);
    }
    ddx_gpu_drv_stats(e, st);
    st->wall_s = (double)(t1.tv_sec - e->t0.tv_sec) + (double)(t1.tv_nsec - e->t0.tv_nsec) / 1e9;
    st->cpu_s =
        tv_s(ru1.ru_utime) + tv_s(ru1.ru_stime) - tv_s(e->ru0.ru_utime) - tv_s(e->ru0.ru_stime);
    return 0;
}

void ddx_engine_progress(ddx_engine *e, uint64_t *fed, uint64_t *done)
{
    if (fed)
        *fed = e ? atomic_load_explicit(&e->fed, memory_order_relaxed) : 0;
    if (done)
        *done = e ? atomic_load_explicit(&e->done_bytes, memory_order_relaxed) : 0;
}

const char *ddx_engine_chunker_impl(const ddx_engine *e)
{
    if (e && e->opened && e->gd)
        return ddx_gpu_drv_chunk_impl(e);
    return e && e->opened ? e->ccfg.impl : "none";
}

const char *ddx_engine_hash_impl(const ddx_engine *e)
{
    if (e && e->opened && e->gd)
        return ddx_gpu_drv_hash_impl(e);
    return e && e->opened ? e->hash->name : "none";
}

const char *ddx_engine_backend(const ddx_engine *e)
{
    return e && e->backend_name ? e->backend_name : "cpu";
}

const char *ddx_engine_device(const ddx_engine *e)
{
    return e && e->device_desc[0] ? e->device_desc : "cpu";
}

const char *ddx_engine_backend_note(const ddx_engine *e)
{
    return e ? e->backend_note : "";
}

int ddx_engine_set_backend(ddx_engine *e, ddx_backend_kind kind, int device)
{
    CONFIG_GUARD(e);
    if ((unsigned)kind > DDX_BACKEND_OPENCL || device < 0)
        return DDX_EINVAL;
    e->backend_req = kind;
    e->device_req = device;
    return 0;
}

int ddx_engine_worker_binding(const ddx_engine *e, unsigned i, char *buf, size_t len)
{
    if (!e || !buf || !e->opened || i >= e->threads)
        return DDX_EINVAL;
    snprintf(buf, len, "%s", e->w[i].binding);
    return 0;
}
