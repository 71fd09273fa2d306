/*
 * cuda_emu.h - just enough of CUDA to run kernels/cuda/ddx_cuda.cu on the CPU.
 *
 *     g++ -x c++ -std=c++17 -DDDX_CUDA_EMU -include kernels/cuda/cuda_emu.h \
 *         -fsanitize=address,undefined -c kernels/cuda/ddx_cuda.cu
 *
 * Why: the machines that build and test ddx mostly have no GPU, yet the device
 * code and the host glue should still meet the sanitizers. So this header is
 * written to expose bugs rather than to be fast:
 *
 *  - Device and pinned memory are plain malloc() blocks of the exact size, so
 *    ASan reports an access one byte past a buffer, and LSan a buffer never
 *    freed. New memory is filled with 0xa5, as a GPU leaves it dirty.
 *  - Copies, memsets and launches are finished when the call returns, so
 *    streams only exist to be created and destroyed, and an event records
 *    the host clock: event times measure the real work.
 *  - The threads of a block are real pthreads and __syncthreads() is a real
 *    barrier, so a race between them is a race TSan can see. A barrier that
 *    some threads of a block skip (they returned) aborts with a message
 *    instead of hanging or passing silently.
 *  - Blocks run one after another on those same threads, and one launch at a
 *    time in the process: __shared__ is `static`, so two blocks or two
 *    launches alive at once would share it. Unlike real shared memory it
 *    starts zeroed, which can hide a read before the first write.
 *
 * Only the runtime calls ddx_cuda.cu makes are here; the error codes are
 * CUDA's own numbers. One device: "CUDA emulation on the CPU (cuda_emu.h)".
 * DDX_CUDA_EMU_FAIL_ALLOC=n makes the n-th allocation (1-based) fail, to test
 * the cleanup paths.
 */
#ifndef DDX_CUDA_EMU_H
#define DDX_CUDA_EMU_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)

struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_)
    {
    }
};

inline thread_local dim3 threadIdx, blockIdx, blockDim, gridDim;

typedef enum cudaError {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidDevice = 101,
    cudaErrorInvalidResourceHandle = 400,
    cudaErrorLaunchOutOfResources = 701,
} cudaError_t;

enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4,
};

struct cudaDeviceProp {
    char name[256];
    size_t totalGlobalMem;
    int major, minor;
    int multiProcessorCount;
    int maxThreadsPerBlock;
};

struct cudaFuncAttributes {
    int numRegs;
    size_t localSizeBytes;
    int maxThreadsPerBlock;
};

/* Dummy objects, allocated so that a stream or event never destroyed leaks. */
typedef struct ddx_emu_stream {
    int unused;
} * cudaStream_t;
typedef struct ddx_emu_event {
    double t; /* seconds on CLOCK_MONOTONIC, < 0 until recorded */
} * cudaEvent_t;

inline thread_local cudaError_t ddx_emu_last_error = cudaSuccess;

inline cudaError_t ddx_emu_fail(cudaError_t e)
{
    ddx_emu_last_error = e; /* as in CUDA, a failed call is also the last error */
    return e;
}

inline const char *cudaGetErrorString(cudaError_t e)
{
    switch (e) {
    case cudaSuccess:
        return "no error";
    case cudaErrorInvalidValue:
        return "invalid argument";
    case cudaErrorMemoryAllocation:
        return "out of memory";
    case cudaErrorInvalidConfiguration:
        return "invalid configuration argument";
    case cudaErrorLaunchOutOfResources:
        return "too many resources requested for launch";
    case cudaErrorInvalidDevice:
        return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle:
        return "invalid resource handle";
    }
    return "unrecognized error code";
}

inline cudaError_t cudaGetLastError(void)
{
    cudaError_t e = ddx_emu_last_error;
    ddx_emu_last_error = cudaSuccess;
    return e;
}

inline cudaError_t cudaGetDeviceCount(int *n)
{
    if (!n)
        return ddx_emu_fail(cudaErrorInvalidValue);
    *n = 1;
    return cudaSuccess;
}

inline cudaError_t cudaSetDevice(int d)
{
    return d == 0 ? cudaSuccess : ddx_emu_fail(cudaErrorInvalidDevice);
}

inline cudaError_t cudaMemGetInfo(size_t *free_b, size_t *total_b)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    *free_b = (size_t)sysconf(_SC_AVPHYS_PAGES) * page;
    *total_b = (size_t)sysconf(_SC_PHYS_PAGES) * page;
    return cudaSuccess;
}

inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int d)
{
    if (d != 0)
        return ddx_emu_fail(cudaErrorInvalidDevice);
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "CUDA emulation on the CPU (cuda_emu.h)");
    size_t free_b;
    cudaMemGetInfo(&free_b, &p->totalGlobalMem);
    p->multiProcessorCount = 1; /* one block at a time */
    p->maxThreadsPerBlock = 1024;
    return cudaSuccess; /* major.minor stay 0.0: no real architecture */
}

template <class F> cudaError_t cudaFuncGetAttributes(cudaFuncAttributes *a, F *)
{
    memset(a, 0, sizeof *a);
    a->maxThreadsPerBlock = 1024;
    return cudaSuccess;
}

/* ---- memory ------------------------------------------------------------- */

inline cudaError_t ddx_emu_alloc(void **p, size_t n)
{
    static long count;
    const char *fail_at = getenv("DDX_CUDA_EMU_FAIL_ALLOC");
    if (!p)
        return ddx_emu_fail(cudaErrorInvalidValue);
    *p = NULL;
    if (__atomic_add_fetch(&count, 1, __ATOMIC_RELAXED) == (fail_at ? atol(fail_at) : 0))
        return ddx_emu_fail(cudaErrorMemoryAllocation);
    if (n == 0)
        return cudaSuccess;
    *p = malloc(n);
    if (!*p)
        return ddx_emu_fail(cudaErrorMemoryAllocation);
    memset(*p, 0xa5, n);
    return cudaSuccess;
}

template <class T> cudaError_t cudaMalloc(T **p, size_t n)
{
    return ddx_emu_alloc((void **)p, n);
}
template <class T> cudaError_t cudaMallocHost(T **p, size_t n)
{
    return ddx_emu_alloc((void **)p, n);
}
inline cudaError_t cudaFree(void *p)
{
    free(p);
    return cudaSuccess;
}
inline cudaError_t cudaFreeHost(void *p)
{
    free(p);
    return cudaSuccess;
}

inline cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, cudaMemcpyKind,
                                   cudaStream_t = 0)
{
    if (n && (!dst || !src))
        return ddx_emu_fail(cudaErrorInvalidValue);
    if (n)
        memcpy(dst, src, n);
    return cudaSuccess;
}
inline cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, cudaMemcpyKind k)
{
    return cudaMemcpyAsync(dst, src, n, k);
}
inline cudaError_t cudaMemsetAsync(void *dst, int v, size_t n, cudaStream_t = 0)
{
    if (n && !dst)
        return ddx_emu_fail(cudaErrorInvalidValue);
    if (n)
        memset(dst, v, n);
    return cudaSuccess;
}
inline cudaError_t cudaMemset(void *dst, int v, size_t n)
{
    return cudaMemsetAsync(dst, v, n);
}

/* ---- streams and events ------------------------------------------------- */

inline cudaError_t cudaStreamCreate(cudaStream_t *s)
{
    *s = (cudaStream_t)calloc(1, sizeof **s);
    return *s ? cudaSuccess : ddx_emu_fail(cudaErrorMemoryAllocation);
}
inline cudaError_t cudaStreamSynchronize(cudaStream_t)
{
    return cudaSuccess; /* everything already ran */
}
inline cudaError_t cudaStreamDestroy(cudaStream_t s)
{
    free(s);
    return cudaSuccess;
}

inline cudaError_t cudaEventCreate(cudaEvent_t *e)
{
    *e = (cudaEvent_t)malloc(sizeof **e);
    if (!*e)
        return ddx_emu_fail(cudaErrorMemoryAllocation);
    (*e)->t = -1;
    return cudaSuccess;
}
inline cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t = 0)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    e->t = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    return cudaSuccess;
}
inline cudaError_t cudaEventSynchronize(cudaEvent_t)
{
    return cudaSuccess;
}
inline cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b)
{
    if (a->t < 0 || b->t < 0)
        return ddx_emu_fail(cudaErrorInvalidResourceHandle); /* CUDA's answer too */
    *ms = (float)((b->t - a->t) * 1e3);
    return cudaSuccess;
}
inline cudaError_t cudaEventDestroy(cudaEvent_t e)
{
    free(e);
    return cudaSuccess;
}

/* ---- launches ----------------------------------------------------------- */

/* The barrier of the running block. Threads that returned from the kernel
 * count as `done`; a __syncthreads() that waits on them can never complete. */
struct ddx_emu_block {
    pthread_mutex_t m;
    pthread_cond_t c;
    unsigned n, waiting, done;
    unsigned long gen;
};

inline thread_local ddx_emu_block *ddx_emu_cur;

[[noreturn]] inline void ddx_emu_diverged(void)
{
    fprintf(stderr,
            "cuda_emu: __syncthreads() in block (%u,%u,%u) not reached by all %u threads "
            "(some returned)\n",
            blockIdx.x, blockIdx.y, blockIdx.z, ddx_emu_cur->n);
    abort();
}

/* Arrive (done = 0: __syncthreads, 1: end of the kernel for this block) and
 * wait for the other threads of the block. */
inline void ddx_emu_arrive(ddx_emu_block *b, int done)
{
    pthread_mutex_lock(&b->m);
    if (done)
        b->done++;
    else
        b->waiting++;
    if (b->waiting + b->done == b->n) {
        if (b->waiting && b->done)
            ddx_emu_diverged();
        b->waiting = b->done = 0;
        b->gen++;
        pthread_cond_broadcast(&b->c);
    } else {
        unsigned long gen = b->gen;
        while (gen == b->gen)
            pthread_cond_wait(&b->c, &b->m);
    }
    pthread_mutex_unlock(&b->m);
}

inline void __syncthreads(void)
{
    ddx_emu_arrive(ddx_emu_cur, 0);
}

struct ddx_emu_launch_ctx {
    dim3 grid, block;
    void (*run)(void *);
    void *fn;
    ddx_emu_block bar;
};
struct ddx_emu_thread_arg {
    ddx_emu_launch_ctx *l;
    unsigned tid;
};

inline void *ddx_emu_thread(void *p)
{
    ddx_emu_thread_arg *a = (ddx_emu_thread_arg *)p;
    ddx_emu_launch_ctx *l = a->l;
    blockDim = l->block;
    gridDim = l->grid;
    threadIdx = dim3(a->tid % l->block.x, a->tid / l->block.x % l->block.y,
                     a->tid / (l->block.x * l->block.y));
    ddx_emu_cur = &l->bar;
    for (unsigned z = 0; z < l->grid.z; z++)
        for (unsigned y = 0; y < l->grid.y; y++)
            for (unsigned x = 0; x < l->grid.x; x++) {
                blockIdx = dim3(x, y, z);
                l->run(l->fn);
                ddx_emu_arrive(&l->bar, 1); /* no thread starts the next block early */
            }
    return NULL;
}

inline cudaError_t ddx_emu_launch_run(dim3 grid, dim3 block, void (*run)(void *), void *fn)
{
    static pthread_mutex_t one_at_a_time = PTHREAD_MUTEX_INITIALIZER;
    unsigned long nt = (unsigned long)block.x * block.y * block.z;
    if (!grid.x || !grid.y || !grid.z || grid.y > 65535 || grid.z > 65535 || !nt || nt > 1024 ||
        block.z > 64)
        return ddx_emu_fail(cudaErrorInvalidConfiguration);
    ddx_emu_launch_ctx l = {grid, block, run, fn, {}};
    pthread_mutex_init(&l.bar.m, NULL);
    pthread_cond_init(&l.bar.c, NULL);
    l.bar.n = (unsigned)nt;
    ddx_emu_thread_arg *args = (ddx_emu_thread_arg *)calloc(nt, sizeof *args);
    pthread_t *th = (pthread_t *)calloc(nt, sizeof *th);
    if (!args || !th) {
        free(args);
        free(th);
        return ddx_emu_fail(cudaErrorLaunchOutOfResources);
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1 << 20);
    pthread_mutex_lock(&one_at_a_time);
    for (unsigned t = 0; t < nt; t++) {
        args[t] = {&l, t};
        if (pthread_create(&th[t], &attr, ddx_emu_thread, &args[t])) {
            /* The threads already started wait for this one forever. */
            fprintf(stderr, "cuda_emu: cannot start thread %u of a %lu-thread block\n", t, nt);
            abort();
        }
    }
    for (unsigned t = 0; t < nt; t++)
        pthread_join(th[t], NULL);
    pthread_mutex_unlock(&one_at_a_time);
    pthread_attr_destroy(&attr);
    pthread_cond_destroy(&l.bar.c);
    pthread_mutex_destroy(&l.bar.m);
    free(args);
    free(th);
    return cudaSuccess;
}

template <class F> void ddx_emu_launch(dim3 grid, dim3 block, F f)
{
    void (*run)(void *) = [](void *p) { (*(F *)p)(); };
    ddx_emu_launch_run(grid, block, run, &f);
}

/* kernel<<<grid, block, shmem, stream>>>(args...): the arguments are copied
 * by value, as a real launch does. */
#define DDX_LAUNCH(kernel, grid, block, shmem, stream, ...)                                        \
    ddx_emu_launch(dim3(grid), dim3(block), [=] { kernel(__VA_ARGS__); })

#endif
