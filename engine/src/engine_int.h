/*
 * engine_int.h - the engine's internal state, shared by the CPU pipeline
 * (pipeline.c) and the GPU driver (backend/gpu_driver.c). Not installed.
 */
#ifndef DDX_ENGINE_INT_H
#define DDX_ENGINE_INT_H

#include <hwloc.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include <ck_ring.h>
#include <ck_spinlock.h>

#include "chunk_impl.h"
#include "ddx.h"
#include "hash_impl.h"
#include "index.h"

/* Caller memory fed with ddx_engine_feed_ref(): released when the last batch
 * viewing it is released. */
typedef struct region {
    _Atomic long refs;
    ddx_release_fn release;
    void *ctx;
} region;

static inline void region_put(region *r)
{
    /* acq_rel: the releasing thread sees all reads of the memory as done */
    if (r && atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1) {
        if (r->release)
            r->release(r->ctx);
        free(r);
    }
}

typedef struct batch {
    uint64_t seq;    /* global order of submission = order of stitching */
    uint64_t stream; /* stream number */
    uint64_t base;   /* logical offset of the stream's byte 0 (chunk locations) */
    uint64_t off;    /* stream offset of data[0] */
    size_t len;
    int first, last;     /* first / last batch of its stream */
    const uint8_t *data; /* the bytes: own, or a view of caller memory (reg) */
    uint8_t *own;        /* batch_size bytes owned by the batch */
    region *reg;         /* caller memory data points into, or NULL */
    /* local chain: chunk j spans [P(j), P(j+1)), P(0) = off, P(j+1) = cuts[j] */
    uint64_t *cuts;
    size_t ncuts;
    uint8_t *fps;       /* fingerprint of local chunk j at j * fp_size */
    int fp0_done;       /* local chunk 0 hashed (skipped unless first: rarely true) */
    size_t accept_from; /* stitch result: local chunks >= this are true chunks */
    /* chunks the stitcher made itself (crossing the edge, or before sync) */
    size_t nst, st_cap;
    size_t st_hashed; /* stitched chunks [0, st_hashed) have fingerprints; the
                       * rest lie inside this batch and are hashed outside
                       * the stitch lock, in parallel (hash_stitched) */
    uint64_t *st_off;
    uint32_t *st_len;
    uint8_t *st_fps;
    _Atomic int refs;        /* index stage + next batch's stitch; 0 -> free queue */
    struct batch *next_done; /* list of batches a worker stitched */
} batch;

typedef struct worker {
    struct ddx_engine *e;
    unsigned id;
    pthread_t th;
    int started;
    ddx_hash_msg *msgs; /* one sub-block's chunks, handed to the batch kernel */
    size_t msgs_cap;
    ddx_index_thread it;
    char binding[160];
    /* statistics: written by this worker only, read by anyone (relaxed) */
    _Atomic uint64_t ns_wall[DDX_STAGE_COUNT], ns_cpu[DDX_STAGE_COUNT];
    _Atomic uint64_t st_bytes[DDX_STAGE_COUNT], st_items[DDX_STAGE_COUNT];
    _Atomic uint64_t chunks, sum, min, max, sumsq_lo, sumsq_hi, uniq, uniq_bytes;
    _Atomic uint64_t hist[DDX_CHUNK_HIST_BINS];
} __attribute__((aligned(64))) worker;

struct ddx_engine {
    /* configuration */
    ddx_chunker_kind ck;
    uint32_t min, avg, max;
    int norm;
    ddx_hash_kind hk;
    unsigned threads;
    size_t batch_size;
    int pin;
    ddx_chunk_fn cb;
    void *cb_ctx;
    uint64_t index_hint;
    int no_dedup; /* ddx_engine_set_dedup(e, 0): no index, every chunk new */
    int opened;

    ddx_chunk_cfg ccfg;
    char *chunk_impl_name, *hash_impl_name; /* requested by name, or NULL = best */
    const ddx_hash_impl *hash;              /* local chunks, many per call */
    const ddx_hash_impl *hash_single;       /* the stitcher's few chunks, one per call */
    size_t sub_bytes; /* chunk and hash alternate over sub-blocks of this size */
    size_t fp_size;
    ddx_index *index;
    hwloc_topology_t topo;

    /* batches and queues */
    batch *batches;
    unsigned nbatches;
    struct ck_ring free_ring, work_ring;
    ck_ring_buffer_t *free_buf, *work_buf;
    sem_t free_sem, work_sem;
    int sems;
    batch stop; /* sentinel telling a worker to exit */

    /* reader state (caller's thread only) */
    batch *cur;
    int in_stream;
    uint64_t next_stream, cur_stream, stream_off, stream_base;
    int replay_registered; /* e->w[threads], the replay slot, is in the index's reader list */
    int stream_replay;     /* the current stream holds replayed chunks, so no data */
    uint64_t next_seq;
    uint64_t submitted;
    _Atomic uint64_t fed;
    uint64_t read_ns_wall, read_ns_cpu, read_wait_ns, read_items;
    _Atomic uint64_t read_bytes;

    /* stitcher (under stitch_lock, in seq order) */
    ck_spinlock_t stitch_lock;
    _Atomic uint64_t stitch_next;
    _Atomic(batch *) *pending; /* [nbatches]: ready batch with seq s at s % nbatches */
    batch *tail_batch;         /* holds the true chain's undecided chunk start */
    uint64_t tail_pos;         /* stream offset of that start */
    uint8_t *sbuf;             /* 2 * max: a chunk crossing a batch edge */

    /* completion */
    pthread_mutex_t done_mu;
    pthread_cond_t done_cv;
    uint64_t done_batches;
    unsigned workers_up; /* started, pinned and registered with the index */
    _Atomic uint64_t done_bytes;
    _Atomic int err;

    /* backend: cpu, or a GPU driven by backend/gpu_driver.c */
    ddx_backend_kind backend_req;
    int device_req;
    int batch_size_set;       /* the caller chose the batch size */
    struct ddx_gpu_drv *gd;   /* non-NULL: a GPU backend drives the engine */
    const char *backend_name; /* "cpu", "cuda", "opencl" */
    char device_desc[256];
    char backend_note[1024];

    worker *w;
    struct timespec t0, t1;
    struct rusage ru0, ru1;
    int finished_once;
};

/* ---- small helpers -------------------------------------------------------- */

static inline uint64_t now_ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct stopwatch {
    uint64_t wall, cpu;
} stopwatch;

static inline stopwatch sw_start(void)
{
    stopwatch s = {now_ns(CLOCK_MONOTONIC), now_ns(CLOCK_THREAD_CPUTIME_ID)};
    return s;
}

static inline void add_relaxed(_Atomic uint64_t *a, uint64_t v)
{
    /* single writer: a plain load + store is enough and avoids a locked op */
    atomic_store_explicit(a, atomic_load_explicit(a, memory_order_relaxed) + v,
                          memory_order_relaxed);
}

static inline void sw_stop(worker *w, ddx_stage st, stopwatch s, uint64_t bytes, uint64_t items)
{
    add_relaxed(&w->ns_wall[st], now_ns(CLOCK_MONOTONIC) - s.wall);
    add_relaxed(&w->ns_cpu[st], now_ns(CLOCK_THREAD_CPUTIME_ID) - s.cpu);
    add_relaxed(&w->st_bytes[st], bytes);
    add_relaxed(&w->st_items[st], items);
}

static inline void set_err(ddx_engine *e, int rc)
{
    int zero = 0;
    if (rc)
        atomic_compare_exchange_strong(&e->err, &zero, rc);
}

/* pipeline.c, for the GPU driver */
void ddx_eng_batch_release(ddx_engine *e, batch *b);
/* The index stage and its end: release the batch's index reference. */
void ddx_eng_complete(ddx_engine *e, batch *b);
/* The next batch of the work queue (in submission order when one thread
 * consumes it), or NULL if none is queued and !block. */
batch *ddx_eng_next_work(ddx_engine *e, int block);
/* A worker thread's start: pin it, register it with the index, count it up. */
void ddx_eng_worker_up(worker *w);
/* Index a batch's chunks, in stream order, with statistics and callbacks:
 * begin, one call per chunk (off: stream offset), end. */
typedef struct ddx_eng_tally {
    uint64_t n, sum, mn, mx, uniq, ubytes;
    unsigned __int128 sq;
    stopwatch sw;
    uint32_t hist[DDX_CHUNK_HIST_BINS]; /* per batch: a batch holds < 2^32 chunks */
} ddx_eng_tally;
void ddx_eng_index_begin(worker *w, ddx_eng_tally *t);
void ddx_eng_index_one(worker *w, ddx_eng_tally *t, const batch *b, uint64_t off, uint32_t len,
                       const uint8_t *fp);
void ddx_eng_index_end(worker *w, ddx_eng_tally *t, uint64_t bytes);

/* backend/gpu_driver.c */
/* Resolve the requested backend; for a GPU one, open the device and size
 * the batches (e->batch_size, e->nbatches). 0 with e->gd NULL: cpu. */
int ddx_gpu_drv_open(ddx_engine *e);
uint8_t *ddx_gpu_drv_buffer(ddx_engine *e, unsigned slot);
void *ddx_gpu_drv_main(void *worker);
void ddx_gpu_drv_stats(const ddx_engine *e, ddx_stats *st);
void ddx_gpu_drv_close(ddx_engine *e);
/* "opencl-gear-scan+host-select", "cuda-sha256": what the report names. */
const char *ddx_gpu_drv_chunk_impl(const ddx_engine *e);
const char *ddx_gpu_drv_hash_impl(const ddx_engine *e);

#endif
