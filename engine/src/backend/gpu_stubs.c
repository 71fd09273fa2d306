/*
 * gpu_stubs.c - the backends this libddx was built without. They answer
 * every probe with the reason, so `--backend cuda` on such a build is a
 * clear error rather than a missing symbol.
 */
#include <stdio.h>

#include "ddx.h"
#include "gpu.h"

#if !defined(DDX_HAVE_CUDA) || !defined(DDX_HAVE_OPENCL)
static int stub_open(ddx_gpu **out, int device, int gpu_only, const ddx_gpu_config *cfg, char *why,
                     size_t why_len)
{
    (void)device, (void)gpu_only, (void)cfg;
    *out = NULL;
    snprintf(why, why_len, "not built into this libddx");
    return DDX_EUNSUPP;
}
#endif

#ifndef DDX_HAVE_CUDA
static int cuda_probe(int gpu_only, char *why, size_t why_len)
{
    (void)gpu_only;
    snprintf(why, why_len,
             "CUDA not built into this libddx (nvcc was not found at build time; "
             "rebuild with nvcc on PATH)");
    return 0;
}
const ddx_gpu_ops ddx_gpu_cuda_ops = {.name = "cuda", .probe = cuda_probe, .open = stub_open};
#endif

#ifndef DDX_HAVE_OPENCL
static int opencl_probe(int gpu_only, char *why, size_t why_len)
{
    (void)gpu_only;
    snprintf(why, why_len, "OpenCL not built into this libddx (built with OPENCL=0)");
    return 0;
}
const ddx_gpu_ops ddx_gpu_opencl_ops = {.name = "opencl", .probe = opencl_probe, .open = stub_open};
#endif
