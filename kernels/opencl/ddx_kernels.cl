/*
 * ddx_kernels.cl - the OpenCL kernels: thin wrappers around kernels/common/.
 *
 * The work itself is dialect-neutral device code shared with CUDA and the
 * plain-C tests; these wrappers only map work-items to segments / chunks and
 * stage the Gear table in local memory. The host (opencl_backend.c) rounds
 * the global size up to a multiple of the work-group size, so every kernel
 * has work-items past the end that must do nothing. This file and its
 * includes are embedded in the binary by embed.sh (OpenCL C 1.2).
 */
#include "ddx_dev.h"
#include "gear_dev.h"
#include "sha_dev.h"

/* One work-item per segment of seg_bytes; len bytes in the batch. */
__kernel void ddx_scan(__global const uchar *data, uint len, uint seg_bytes,
                       __global const ulong *gear_g, ulong mask_s, ulong mask_l,
                       __global uint *counts, __global uint *cands, uint cap)
{
    /* Every lookup of the scan hits the table at a data-dependent index:
     * local memory instead of global keeps those off the memory bus. */
    __local ulong gear[256];
    for (uint i = get_local_id(0); i < 256u; i += get_local_size(0))
        gear[i] = gear_g[i];
    /* Work-items past the last segment still reach the barrier: a barrier
     * that some work-items of the group skip is undefined behaviour. */
    barrier(CLK_LOCAL_MEM_FENCE);

    uint seg = get_global_id(0);
    uint nseg = (len + seg_bytes - 1u) / seg_bytes;
    if (seg >= nseg)
        return;
    ddx_dev_scan_segment(data, len, seg, seg_bytes, gear, mask_s, mask_l, counts, cands, cap);
}

/* One work-item per chunk table entry; n entries. */
__kernel void ddx_hash(__global const uchar *data, __global const uint *table, uint n,
                       uint sha256, __global uchar *digests)
{
    uint j = get_global_id(0);
    if (j >= n)
        return;
    ddx_dev_hash_chunk(data, table, j, sha256, digests);
}
