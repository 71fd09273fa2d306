/*
 * ddx_cuda.cu - the CUDA backend of gpu.h: two kernels and their host glue.
 *
 * The kernels are thin: ddx_k_scan stages the Gear table in shared memory
 * and runs one segment scan per thread (kernels/common/gear_dev.h);
 * ddx_k_hash hashes one chunk per thread (kernels/common/sha_dev.h), one
 * instantiation per algorithm so that neither carries the other's registers.
 *
 * Each slot owns a stream, so batch k+1's copy overlaps batch k's kernels,
 * and four events on that stream (before the copy in, after it, after the
 * kernel, after the copy out) that split the time between h2d, kernel and
 * d2h. Everything a slot needs is allocated at open: the hot path allocates
 * nothing, and a configuration that does not fit in device memory fails at
 * open, not in the middle of a stream.
 *
 * The current device is per host thread in CUDA and slots may be driven from
 * different threads, so every entry point selects the device first.
 *
 * Built twice: by nvcc for the GPU, and by g++ with cuda_emu.h
 * (-DDDX_CUDA_EMU) so that the same kernels and glue run on the CPU under
 * the sanitizers. No raw <<<>>> here: launches go through DDX_LAUNCH.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef DDX_CUDA_EMU
#include <cuda_runtime.h>
#define DDX_LAUNCH(kernel, grid, block, shmem, stream, ...)                                        \
    kernel<<<grid, block, shmem, stream>>>(__VA_ARGS__)
#endif

#include "ddx_dev.h"
#include "gear_dev.h"
#include "sha_dev.h"

#include "ddx.h"
extern "C" {
#include "gpu.h"
}

#define DDX_CUDA_BLOCK 128u   /* threads per block, both kernels */
#define DDX_CUDA_MAX_SLOTS 4u /* gpu.h: 2..4 */
#define DDX_CUDA_PAD 64u      /* readable bytes after a batch (gear_dev.h, sha_dev.h) */
#define DDX_CUDA_GEAR_BYTES (256u * sizeof(uint64_t))

/* ---- kernels ------------------------------------------------------------ */

static __global__ void __launch_bounds__(DDX_CUDA_BLOCK)
    ddx_k_scan(const ddx_u8 *data, ddx_u32 len, ddx_u32 nseg, ddx_u32 seg_bytes,
               const ddx_u64 *gear, ddx_u64 mask_s, ddx_u64 mask_l, ddx_u32 *counts, ddx_u32 *cands,
               ddx_u32 cap)
{
    __shared__ ddx_u64 g[256];
    for (ddx_u32 i = threadIdx.x; i < 256; i += blockDim.x)
        g[i] = gear[i];
    __syncthreads(); /* every thread, also those past the last segment */
    ddx_u32 seg = blockIdx.x * blockDim.x + threadIdx.x;
    if (seg < nseg)
        ddx_dev_scan_segment(data, len, seg, seg_bytes, g, mask_s, mask_l, counts, cands, cap);
}

template <ddx_u32 SHA256>
static __global__ void __launch_bounds__(DDX_CUDA_BLOCK)
    ddx_k_hash(const ddx_u8 *data, const ddx_u32 *table, ddx_u32 n, ddx_u8 *digests)
{
    ddx_u32 j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j < n)
        ddx_dev_hash_chunk(data, table, j, SHA256, digests);
}

/* ---- host glue ---------------------------------------------------------- */

enum { DDX_CUDA_IDLE, DDX_CUDA_COPY, DDX_CUDA_SCAN, DDX_CUDA_HASH };

typedef struct ddx_cuda_slot {
    cudaStream_t stream;
    cudaEvent_t ev[4];              /* before copy in, after it, after the kernel, after copy out */
    uint8_t *h_data, *d_data;       /* batch_bytes + DDX_CUDA_PAD, pad zeroed */
    uint32_t *h_counts, *d_counts;  /* max_seg */
    uint32_t *h_cands, *d_cands;    /* max_seg * seg_cap */
    uint32_t *h_table, *d_table;    /* 2 * max_chunks */
    uint8_t *h_digests, *d_digests; /* max_chunks * digest size */
    int pending;                    /* DDX_CUDA_*: what the next *_wait waits for */
    int have_data;                  /* a batch was copied in: hashing is meaningful */
    size_t len;                     /* bytes of the last scan_submit */
    size_t nseg;                    /* segments it scanned */
    size_t n;                       /* chunks of the pending hash_submit */
    char err[256];                  /* the last failed call, for last_error */
} ddx_cuda_slot;

struct ddx_gpu {
    ddx_gpu_config cfg; /* gear not kept: it is on the device */
    int device;
    size_t max_seg, digest_size;
    uint64_t *d_gear;
    char name[384];
    mutable pthread_mutex_t lock; /* guards times: slots finish on different threads */
    ddx_gpu_times times;
    ddx_cuda_slot slot[DDX_CUDA_MAX_SLOTS];
};

/* Fill why (may be NULL) with one line. */
static void say(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t why_len, const char *fmt, ...)
{
    if (!why || !why_len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

/* In open: any failure of a CUDA call is DDX_EDEVICE, named with the call. */
#define DDX_CU_OPEN(call, what)                                                                    \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess) {                                                                   \
            say(why, why_len, "CUDA: %s returned %d (%s)", what, (int)e_, cudaGetErrorString(e_)); \
            rc = DDX_EDEVICE;                                                                      \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)

/* After open: the slot keeps the message for last_error. */
#define DDX_CU(call)                                                                               \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess) {                                                                   \
            say(s->err, sizeof s->err, "CUDA: %.80s returned %d (%s)", #call, (int)e_,             \
                cudaGetErrorString(e_));                                                           \
            return DDX_EDEVICE;                                                                    \
        }                                                                                          \
    } while (0)

static int cuda_probe(int gpu_only, char *why, size_t why_len)
{
    (void)gpu_only; /* every CUDA device is a GPU */
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError(); /* a failed probe must not fail the next call */
        say(why, why_len, "CUDA unavailable: cudaGetDeviceCount returned %d (%s)", (int)e,
            cudaGetErrorString(e));
        return 0;
    }
    if (n == 0)
        say(why, why_len, "CUDA unavailable: cudaGetDeviceCount found no device");
    return n;
}

static const char *cfg_problem(const ddx_gpu_config *c)
{
    if (c->slots < 1 || c->slots > DDX_CUDA_MAX_SLOTS)
        return "slots must be 1 to 4";
    if (c->seg_bytes < 64 || c->seg_bytes % 64)
        return "seg_bytes must be a positive multiple of 64";
    if (c->batch_bytes == 0 || c->batch_bytes >= (size_t)1 << 30 || c->batch_bytes % c->seg_bytes)
        return "batch_bytes must be a positive multiple of seg_bytes below 2^30";
    /* The kernels index candidates and digests with 32-bit words. */
    if (c->seg_cap == 0 || (uint64_t)(c->batch_bytes / c->seg_bytes) * c->seg_cap > UINT32_MAX)
        return "seg_cap must be positive and batch_bytes / seg_bytes * seg_cap below 2^32";
    if (c->max_chunks > UINT32_MAX / 32)
        return "max_chunks must be below 2^27";
    if (c->hash_kind != DDX_HASH_SHA1 && c->hash_kind != DDX_HASH_SHA256)
        return "hash_kind must be SHA-1 or SHA-256";
    if (!c->gear)
        return "no Gear table";
    return NULL;
}

static void cuda_close(ddx_gpu *g)
{
    if (!g)
        return;
    (void)cudaSetDevice(g->device);
    for (unsigned i = 0; i < DDX_CUDA_MAX_SLOTS; i++) {
        ddx_cuda_slot *s = &g->slot[i];
        if (s->stream)
            (void)cudaStreamSynchronize(s->stream); /* nothing may still use the buffers */
        for (unsigned k = 0; k < 4; k++)
            if (s->ev[k])
                (void)cudaEventDestroy(s->ev[k]);
        if (s->stream)
            (void)cudaStreamDestroy(s->stream);
        (void)cudaFreeHost(s->h_data);
        (void)cudaFreeHost(s->h_counts);
        (void)cudaFreeHost(s->h_cands);
        (void)cudaFreeHost(s->h_table);
        (void)cudaFreeHost(s->h_digests);
        (void)cudaFree(s->d_data);
        (void)cudaFree(s->d_counts);
        (void)cudaFree(s->d_cands);
        (void)cudaFree(s->d_table);
        (void)cudaFree(s->d_digests);
    }
    (void)cudaFree(g->d_gear);
    (void)cudaGetLastError(); /* leave no error behind for the caller's next CUDA call */
    pthread_mutex_destroy(&g->lock);
    free(g);
}

static int cuda_open(ddx_gpu **out, int device, int gpu_only, const ddx_gpu_config *cfg, char *why,
                     size_t why_len)
{
    (void)gpu_only;
    *out = NULL;
    const char *bad = cfg_problem(cfg);
    if (bad) {
        say(why, why_len, "CUDA: %s", bad);
        return DDX_EINVAL;
    }
    int ndev = 0;
    cudaError_t e = cudaGetDeviceCount(&ndev);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        say(why, why_len, "CUDA unavailable: cudaGetDeviceCount returned %d (%s)", (int)e,
            cudaGetErrorString(e));
        return DDX_EUNSUPP;
    }
    if (device < 0 || device >= ndev) {
        say(why, why_len, "CUDA: no device %d (%d found)", device, ndev);
        return DDX_EUNSUPP;
    }

    int rc = DDX_ENOMEM;
    ddx_gpu *g = (ddx_gpu *)calloc(1, sizeof *g);
    if (!g) {
        say(why, why_len, "CUDA: out of host memory");
        return DDX_ENOMEM;
    }
    pthread_mutex_init(&g->lock, NULL);
    g->cfg = *cfg;
    g->cfg.gear = NULL;
    g->device = device;
    g->max_seg = cfg->batch_bytes / cfg->seg_bytes;
    g->digest_size = cfg->hash_kind == DDX_HASH_SHA256 ? 32 : 20;

    cudaDeviceProp p;
    DDX_CU_OPEN(cudaSetDevice(device), "cudaSetDevice");
    DDX_CU_OPEN(cudaGetDeviceProperties(&p, device), "cudaGetDeviceProperties");
    snprintf(g->name, sizeof g->name, "%s (sm_%d%d, %d SMs, %zu GiB)", p.name, p.major, p.minor,
             p.multiProcessorCount, (size_t)(p.totalGlobalMem >> 30));

    /* A build without code for this architecture (and no PTX it can JIT)
     * fails here, where the reason can still be told. */
    {
        cudaFuncAttributes a[3];
        cudaError_t fe = cudaFuncGetAttributes(&a[0], ddx_k_scan);
        if (fe == cudaSuccess)
            fe = cudaFuncGetAttributes(&a[1], ddx_k_hash<0>);
        if (fe == cudaSuccess)
            fe = cudaFuncGetAttributes(&a[2], ddx_k_hash<1>);
        if (fe != cudaSuccess) {
            (void)cudaGetLastError();
            say(why, why_len,
                "CUDA: no kernel for sm_%d%d in this build: "
                "cudaFuncGetAttributes returned %d (%s)",
                p.major, p.minor, (int)fe, cudaGetErrorString(fe));
            rc = DDX_EUNSUPP;
            goto fail;
        }
        for (int k = 0; k < 3; k++)
            if (a[k].maxThreadsPerBlock < (int)DDX_CUDA_BLOCK) {
                say(why, why_len, "CUDA: a kernel can only run %d threads per block, needs %u",
                    a[k].maxThreadsPerBlock, DDX_CUDA_BLOCK);
                rc = DDX_EUNSUPP;
                goto fail;
            }
    }

    {
        size_t per_slot = cfg->batch_bytes + DDX_CUDA_PAD + g->max_seg * 4 +
                          g->max_seg * cfg->seg_cap * 4 + (size_t)cfg->max_chunks * 8 +
                          (size_t)cfg->max_chunks * g->digest_size;
        size_t need = DDX_CUDA_GEAR_BYTES + cfg->slots * per_slot, free_b = 0, total_b = 0;
        DDX_CU_OPEN(cudaMemGetInfo(&free_b, &total_b), "cudaMemGetInfo");
        if (need > free_b) {
            say(why, why_len, "CUDA: %s has %zu MiB free, %u slots of %zu MiB batches need %zu MiB",
                p.name, free_b >> 20, cfg->slots, cfg->batch_bytes >> 20, (need + 0xfffff) >> 20);
            rc = DDX_ENOMEM;
            goto fail;
        }
    }

    DDX_CU_OPEN(cudaMalloc(&g->d_gear, DDX_CUDA_GEAR_BYTES), "cudaMalloc(Gear table)");
    DDX_CU_OPEN(cudaMemcpy(g->d_gear, cfg->gear, DDX_CUDA_GEAR_BYTES, cudaMemcpyHostToDevice),
                "cudaMemcpy(Gear table)");
    for (unsigned i = 0; i < cfg->slots; i++) {
        ddx_cuda_slot *s = &g->slot[i];
        size_t data = cfg->batch_bytes + DDX_CUDA_PAD;
        size_t counts = g->max_seg * 4, cands = g->max_seg * cfg->seg_cap * 4;
        /* 1, not 0, so that every buffer exists even for max_chunks 0 */
        size_t chunks = cfg->max_chunks ? cfg->max_chunks : 1;
        DDX_CU_OPEN(cudaStreamCreate(&s->stream), "cudaStreamCreate");
        for (unsigned k = 0; k < 4; k++)
            DDX_CU_OPEN(cudaEventCreate(&s->ev[k]), "cudaEventCreate");
        DDX_CU_OPEN(cudaMallocHost(&s->h_data, data), "cudaMallocHost(batch)");
        DDX_CU_OPEN(cudaMallocHost(&s->h_counts, counts), "cudaMallocHost(counts)");
        DDX_CU_OPEN(cudaMallocHost(&s->h_cands, cands), "cudaMallocHost(candidates)");
        DDX_CU_OPEN(cudaMallocHost(&s->h_table, chunks * 8), "cudaMallocHost(chunk table)");
        DDX_CU_OPEN(cudaMallocHost(&s->h_digests, chunks * g->digest_size),
                    "cudaMallocHost(digests)");
        DDX_CU_OPEN(cudaMalloc(&s->d_data, data), "cudaMalloc(batch)");
        DDX_CU_OPEN(cudaMalloc(&s->d_counts, counts), "cudaMalloc(counts)");
        DDX_CU_OPEN(cudaMalloc(&s->d_cands, cands), "cudaMalloc(candidates)");
        DDX_CU_OPEN(cudaMalloc(&s->d_table, chunks * 8), "cudaMalloc(chunk table)");
        DDX_CU_OPEN(cudaMalloc(&s->d_digests, chunks * g->digest_size), "cudaMalloc(digests)");
        /* The kernels read whole words past the end of a batch: the pad is
         * never copied over, so zeroing it once keeps those reads defined. */
        memset(s->h_data + cfg->batch_bytes, 0, DDX_CUDA_PAD);
        DDX_CU_OPEN(cudaMemsetAsync(s->d_data + cfg->batch_bytes, 0, DDX_CUDA_PAD, s->stream),
                    "cudaMemsetAsync(batch pad)");
        DDX_CU_OPEN(cudaStreamSynchronize(s->stream), "cudaStreamSynchronize");
    }
    *out = g;
    return 0;
fail:
    cuda_close(g);
    return rc;
}

static const char *cuda_device_name(const ddx_gpu *g)
{
    return g->name;
}

static uint8_t *cuda_host_buffer(ddx_gpu *g, unsigned slot)
{
    return slot < g->cfg.slots ? g->slot[slot].h_data : NULL;
}

static uint32_t *cuda_chunk_table(ddx_gpu *g, unsigned slot)
{
    return slot < g->cfg.slots ? g->slot[slot].h_table : NULL;
}

static int cuda_scan_submit(ddx_gpu *g, unsigned slot, size_t len, int scan)
{
    if (slot >= g->cfg.slots || len > g->cfg.batch_bytes)
        return DDX_EINVAL;
    ddx_cuda_slot *s = &g->slot[slot];
    if (s->pending != DDX_CUDA_IDLE)
        return DDX_ESTATE;
    uint32_t seg = g->cfg.seg_bytes, cap = g->cfg.seg_cap;
    s->len = len;
    s->nseg = scan ? (len + seg - 1) / seg : 0;
    s->have_data = 0;
    DDX_CU(cudaSetDevice(g->device));
    DDX_CU(cudaEventRecord(s->ev[0], s->stream));
    DDX_CU(cudaMemcpyAsync(s->d_data, s->h_data, len, cudaMemcpyHostToDevice, s->stream));
    DDX_CU(cudaEventRecord(s->ev[1], s->stream));
    if (s->nseg) {
        unsigned blocks = (unsigned)((s->nseg + DDX_CUDA_BLOCK - 1) / DDX_CUDA_BLOCK);
        DDX_LAUNCH(ddx_k_scan, dim3(blocks), dim3(DDX_CUDA_BLOCK), 0, s->stream, s->d_data,
                   (ddx_u32)len, (ddx_u32)s->nseg, seg, (const ddx_u64 *)g->d_gear,
                   (ddx_u64)g->cfg.mask_s, (ddx_u64)g->cfg.mask_l, s->d_counts, s->d_cands, cap);
        DDX_CU(cudaGetLastError());
        DDX_CU(cudaEventRecord(s->ev[2], s->stream));
        DDX_CU(cudaMemcpyAsync(s->h_counts, s->d_counts, s->nseg * 4, cudaMemcpyDeviceToHost,
                               s->stream));
        DDX_CU(cudaMemcpyAsync(s->h_cands, s->d_cands, s->nseg * cap * 4, cudaMemcpyDeviceToHost,
                               s->stream));
        DDX_CU(cudaEventRecord(s->ev[3], s->stream));
    }
    s->pending = s->nseg ? DDX_CUDA_SCAN : DDX_CUDA_COPY;
    return 0;
}

/* Add the slot's event times, in seconds, to the totals; `kernel` says
 * whether events 2 and 3 were recorded. */
static int add_times(ddx_gpu *g, ddx_cuda_slot *s, int kernel, uint64_t h2d_bytes,
                     uint64_t d2h_bytes, uint64_t scans, uint64_t hashes)
{
    float h2d = 0, k = 0, d2h = 0;
    DDX_CU(cudaEventElapsedTime(&h2d, s->ev[0], s->ev[1]));
    if (kernel) {
        DDX_CU(cudaEventElapsedTime(&k, s->ev[1], s->ev[2]));
        DDX_CU(cudaEventElapsedTime(&d2h, s->ev[2], s->ev[3]));
    }
    pthread_mutex_lock(&g->lock);
    g->times.h2d_s += h2d * 1e-3;
    g->times.kernel_s += k * 1e-3;
    g->times.d2h_s += d2h * 1e-3;
    g->times.h2d_bytes += h2d_bytes;
    g->times.d2h_bytes += d2h_bytes;
    g->times.scan_launches += scans;
    g->times.hash_launches += hashes;
    pthread_mutex_unlock(&g->lock);
    return 0;
}

static int cuda_scan_wait(ddx_gpu *g, unsigned slot, const uint32_t **counts,
                          const uint32_t **cands)
{
    if (slot >= g->cfg.slots)
        return DDX_EINVAL;
    ddx_cuda_slot *s = &g->slot[slot];
    if (s->pending != DDX_CUDA_COPY && s->pending != DDX_CUDA_SCAN)
        return DDX_ESTATE;
    int scanned = s->pending == DDX_CUDA_SCAN;
    s->pending = DDX_CUDA_IDLE;
    DDX_CU(cudaSetDevice(g->device));
    DDX_CU(cudaStreamSynchronize(s->stream));
    uint64_t back = scanned ? s->nseg * 4 * (1 + (uint64_t)g->cfg.seg_cap) : 0;
    int rc = add_times(g, s, scanned, s->len, back, scanned, 0);
    if (rc)
        return rc;
    s->have_data = 1;
    if (counts)
        *counts = s->h_counts;
    if (cands)
        *cands = s->h_cands;
    return 0;
}

static int cuda_hash_submit(ddx_gpu *g, unsigned slot, size_t n)
{
    if (slot >= g->cfg.slots || n > g->cfg.max_chunks)
        return DDX_EINVAL;
    ddx_cuda_slot *s = &g->slot[slot];
    if (s->pending != DDX_CUDA_IDLE || !s->have_data)
        return DDX_ESTATE;
    /* A chunk outside the batch would make the device read past its
     * buffer: cheaper to refuse here (n is about len / average chunk). */
    for (size_t j = 0; j < n; j++) {
        uint32_t off = s->h_table[2 * j], l = s->h_table[2 * j + 1];
        if (off > s->len || l > s->len - off)
            return DDX_EINVAL;
    }
    s->n = n;
    if (n) {
        unsigned blocks = (unsigned)((n + DDX_CUDA_BLOCK - 1) / DDX_CUDA_BLOCK);
        DDX_CU(cudaSetDevice(g->device));
        DDX_CU(cudaEventRecord(s->ev[0], s->stream));
        DDX_CU(cudaMemcpyAsync(s->d_table, s->h_table, n * 8, cudaMemcpyHostToDevice, s->stream));
        DDX_CU(cudaEventRecord(s->ev[1], s->stream));
        if (g->cfg.hash_kind == DDX_HASH_SHA256)
            DDX_LAUNCH(ddx_k_hash<1>, dim3(blocks), dim3(DDX_CUDA_BLOCK), 0, s->stream, s->d_data,
                       s->d_table, (ddx_u32)n, s->d_digests);
        else
            DDX_LAUNCH(ddx_k_hash<0>, dim3(blocks), dim3(DDX_CUDA_BLOCK), 0, s->stream, s->d_data,
                       s->d_table, (ddx_u32)n, s->d_digests);
        DDX_CU(cudaGetLastError());
        DDX_CU(cudaEventRecord(s->ev[2], s->stream));
        DDX_CU(cudaMemcpyAsync(s->h_digests, s->d_digests, n * g->digest_size,
                               cudaMemcpyDeviceToHost, s->stream));
        DDX_CU(cudaEventRecord(s->ev[3], s->stream));
    }
    s->pending = DDX_CUDA_HASH;
    return 0;
}

static int cuda_hash_wait(ddx_gpu *g, unsigned slot, const uint8_t **digests)
{
    if (slot >= g->cfg.slots)
        return DDX_EINVAL;
    ddx_cuda_slot *s = &g->slot[slot];
    if (s->pending != DDX_CUDA_HASH)
        return DDX_ESTATE;
    s->pending = DDX_CUDA_IDLE;
    if (s->n) {
        DDX_CU(cudaSetDevice(g->device));
        DDX_CU(cudaStreamSynchronize(s->stream));
        int rc = add_times(g, s, 1, s->n * 8, s->n * g->digest_size, 0, 1);
        if (rc)
            return rc;
    }
    if (digests)
        *digests = s->h_digests;
    return 0;
}

static void cuda_times(const ddx_gpu *g, ddx_gpu_times *t)
{
    pthread_mutex_lock(&g->lock);
    *t = g->times;
    pthread_mutex_unlock(&g->lock);
}

/* Positional: designated initializers are not C++17. */
static const char *cuda_last_error(const ddx_gpu *g, unsigned slot)
{
    return slot < g->cfg.slots ? g->slot[slot].err : "";
}

extern "C" const ddx_gpu_ops ddx_gpu_cuda_ops = {
    "cuda",           cuda_probe,       cuda_open,      cuda_device_name,
    cuda_host_buffer, cuda_scan_submit, cuda_scan_wait, cuda_chunk_table,
    cuda_hash_submit, cuda_hash_wait,   cuda_times,     cuda_close,       cuda_last_error,
};
