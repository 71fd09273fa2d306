/*
 * gpu.h - what a GPU backend (CUDA, OpenCL) provides to the engine (internal).
 *
 * A backend owns `slots` batch slots. Each slot is a pinned host buffer of
 * batch_bytes (the reader fills it), the same amount of device memory, and
 * the slot's own stream / command queue, so that batch k+1 is copied to the
 * device while batch k is scanned or hashed. Per batch the engine calls, in
 * this order, on the slot that holds it:
 *
 *   scan_submit -> scan_wait -> (host selection: the engine turns candidates
 *   into cut points, cpu/ rules) -> fill chunk_table -> hash_submit ->
 *   hash_wait
 *
 * Only candidates and digests come back; the data never leaves the device.
 * The *_submit calls return at once (asynchronous on the slot's stream); the
 * *_wait calls block until the results are in host memory. Calls for one slot
 * are made from one thread; different slots may be in different phases.
 *
 * Candidate scan (kernels/common/gear_dev.h): the batch is cut into segments
 * of seg_bytes, one device thread each. Thread s writes counts[s], the number
 * of positions i in its segment whose windowed Gear hash W_i satisfies mask_s
 * or mask_l, and the first min(counts[s], seg_cap) of them, in increasing
 * order, to cands[s * seg_cap ...] as (i | DDX_CAND_S | DDX_CAND_L flags). A
 * count above seg_cap means "overflowed": the engine then cuts the chunks
 * that touch that segment on the CPU. W_i for i < 63 in a batch is partial
 * (no history): the engine never uses those positions.
 *
 * Hashing: chunk_table(slot) is a pinned array of n (offset, length) uint32
 * pairs (offsets within the batch); hash_submit copies it to the device,
 * hashes chunk j with one device thread, and copies n digests back (digest j
 * at j * digest size: 20 bytes SHA-1, 32 bytes SHA-256).
 *
 * Errors: DDX_EUNSUPP when there is no driver / device / build support,
 * DDX_EDEVICE for a failure of the device API; `why` gets one line naming the
 * call and the driver's own message.
 */
#ifndef DDX_GPU_H
#define DDX_GPU_H

#include <stddef.h>
#include <stdint.h>

typedef struct ddx_gpu ddx_gpu;

typedef struct ddx_gpu_config {
    unsigned slots;       /* batch slots, 2..4 */
    size_t batch_bytes;   /* per slot; a multiple of seg_bytes, < 2^30 */
    uint32_t seg_bytes;   /* scan: bytes per device thread, a multiple of 64 */
    uint32_t seg_cap;     /* scan: candidate words kept per segment */
    uint32_t max_chunks;  /* hash: chunk table entries per slot */
    int hash_kind;        /* ddx_hash_kind: DDX_HASH_SHA1 or DDX_HASH_SHA256 */
    const uint64_t *gear; /* [256] Gear table, copied to the device at open */
    uint64_t mask_s, mask_l;
} ddx_gpu_config;

/* Cumulative over the device's life; measured on the device (events /
 * profiling info) where the API offers it. */
typedef struct ddx_gpu_times {
    double h2d_s;    /* host -> device copies (batches, chunk tables) */
    double kernel_s; /* scan and hash kernels */
    double d2h_s;    /* device -> host copies (counts, candidates, digests) */
    uint64_t h2d_bytes, d2h_bytes;
    uint64_t scan_launches, hash_launches;
} ddx_gpu_times;

typedef struct ddx_gpu_ops {
    const char *name; /* "cuda" or "opencl" */
    /* Usable devices (>= 0) or a negative DDX_E* code. When it returns 0 or
     * an error, why says why in one line ("CUDA driver not found:
     * cudaGetDeviceCount returned 35 (...)"). gpu_only: count only GPUs (an
     * OpenCL CPU device such as PoCL's does not count for --gpu). */
    int (*probe)(int gpu_only, char *why, size_t why_len);
    /* Open device number `device` (among the ones probe counts). */
    int (*open)(ddx_gpu **out, int device, int gpu_only, const ddx_gpu_config *cfg, char *why,
                size_t why_len);
    /* "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79 GiB)"; valid until close. */
    const char *(*device_name)(const ddx_gpu *g);
    /* The slot's pinned host batch buffer: batch_bytes, plus at least 64
     * readable bytes after it (device code reads whole aligned words). */
    uint8_t *(*host_buffer)(ddx_gpu *g, unsigned slot);
    /* Copy len bytes of the slot's host buffer to the device; if scan, also
     * run the candidate scan over them and copy counts/candidates back. */
    int (*scan_submit)(ddx_gpu *g, unsigned slot, size_t len, int scan);
    /* Wait for scan_submit. With scan: *counts has ceil(len / seg_bytes)
     * entries, *cands seg_cap per segment (host memory, valid until the
     * slot's next scan_submit). */
    int (*scan_wait)(ddx_gpu *g, unsigned slot, const uint32_t **counts, const uint32_t **cands);
    /* The slot's pinned chunk table: 2 * max_chunks uint32 (offset, length). */
    uint32_t *(*chunk_table)(ddx_gpu *g, unsigned slot);
    /* Hash the first n entries of the chunk table (n <= max_chunks; 0 is
     * allowed) over the data of the slot's last scan_submit. */
    int (*hash_submit)(ddx_gpu *g, unsigned slot, size_t n);
    /* Wait for hash_submit; *digests: n digests (valid until the next one). */
    int (*hash_wait)(ddx_gpu *g, unsigned slot, const uint8_t **digests);
    void (*times)(const ddx_gpu *g, ddx_gpu_times *t);
    void (*close)(ddx_gpu *g); /* accepts NULL */
    /* One line on the slot's last failed call ("" if none), for the report:
     * "clEnqueueNDRangeKernel(ddx_scan): -5 (CL_OUT_OF_RESOURCES)". */
    const char *(*last_error)(const ddx_gpu *g, unsigned slot);
} ddx_gpu_ops;

/* kernels/cuda/ (or a stub saying the build has no CUDA) and kernels/opencl/. */
extern const ddx_gpu_ops ddx_gpu_cuda_ops;
extern const ddx_gpu_ops ddx_gpu_opencl_ops;

#endif
