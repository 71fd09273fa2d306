/*
 * ddx_dev.h - the dialect-neutral subset of C that device code is written in.
 *
 * kernels/common/ is included three ways: by the CUDA .cu (nvcc, or g++ with
 * kernels/cuda/cuda_emu.h for CPU emulation), by the OpenCL .cl (embedded in
 * the binary at build time), and as plain C by the tests. So it uses only:
 * fixed-width types spelled ddx_u8/ddx_u32/ddx_u64, functions declared
 * DDX_DEV, pointers to device memory qualified DDX_GLOBAL (OpenCL 1.2 has no
 * generic address space), no libc, no globals and no tables at file scope
 * (round constants are literals in unrolled code; the Gear table is a kernel
 * argument, staged in DDX_GEAR_AS memory by the kernel wrapper).
 */
#ifndef DDX_DEV_H
#define DDX_DEV_H

#if defined(__OPENCL_VERSION__)
typedef uchar ddx_u8;
typedef uint ddx_u32;
typedef ulong ddx_u64;
#define DDX_DEV static inline
#define DDX_GLOBAL __global
#define DDX_GEAR_AS __local
#elif defined(__CUDACC__) || defined(DDX_CUDA_EMU)
typedef unsigned char ddx_u8;
typedef unsigned int ddx_u32;
typedef unsigned long long ddx_u64;
#define DDX_DEV static __device__ __forceinline__
#define DDX_GLOBAL
#define DDX_GEAR_AS
#else
#include <stdint.h>
typedef uint8_t ddx_u8;
typedef uint32_t ddx_u32;
typedef uint64_t ddx_u64;
#define DDX_DEV static inline
#define DDX_GLOBAL
#define DDX_GEAR_AS
#endif

/* Candidate words of the Gear scan: position in the batch (< 2^30) plus the
 * masks it satisfies. */
#define DDX_CAND_S 0x80000000u /* (W & mask_s) == 0 */
#define DDX_CAND_L 0x40000000u /* (W & mask_l) == 0 */
#define DDX_CAND_POS 0x3fffffffu
/* Bytes of history the windowed Gear hash depends on: W_i = sum over
 * k < 64 of gear[b[i - k]] << k, since older terms are shifted out. */
#define DDX_GEAR_WINDOW 64u

/* ---- loads, rotations, byte order -----------------------------------------
 * Device code reads the batch in aligned words and assembles message bytes
 * with shifts and byte permutes: a byte load costs a GPU as much as a word
 * load, and an unaligned word load does not exist. Callers own the bounds:
 * the batch buffers are padded (gpu.h) so that the whole aligned word holding
 * a message's last byte, and the 64 bytes after it, can be read. Every device
 * target is little-endian; the plain C build checks the host's byte order and
 * an OpenCL device that is not __ENDIAN_LITTLE__ takes the byte-wise path. */

#if defined(__OPENCL_VERSION__)

typedef uint4 ddx_u32x4; /* .x .y .z .w: four consecutive words */

/* The little-endian word at base + 4 * word_index (base 4-byte aligned). */
DDX_DEV ddx_u32 ddx_dev_load32(DDX_GLOBAL const ddx_u8 *base, ddx_u32 word_index)
{
#ifdef __ENDIAN_LITTLE__
    return ((DDX_GLOBAL const ddx_u32 *)base)[word_index];
#else
    DDX_GLOBAL const ddx_u8 *p = base + 4 * word_index;
    return (ddx_u32)p[0] | (ddx_u32)p[1] << 8 | (ddx_u32)p[2] << 16 | (ddx_u32)p[3] << 24;
#endif
}

/* The four little-endian words at base + 16 * quad_index (base 16-byte
 * aligned): one 128-bit load where a thread walks its own stretch of memory. */
DDX_DEV ddx_u32x4 ddx_dev_load128(DDX_GLOBAL const ddx_u8 *base, ddx_u32 quad_index)
{
#ifdef __ENDIAN_LITTLE__
    return ((DDX_GLOBAL const uint4 *)base)[quad_index];
#else
    ddx_u32x4 v;
    v.x = ddx_dev_load32(base, 4 * quad_index);
    v.y = ddx_dev_load32(base, 4 * quad_index + 1);
    v.z = ddx_dev_load32(base, 4 * quad_index + 2);
    v.w = ddx_dev_load32(base, 4 * quad_index + 3);
    return v;
#endif
}

/* n in 1..31 (constants in practice). */
DDX_DEV ddx_u32 ddx_dev_rotl32(ddx_u32 x, ddx_u32 n)
{
    return rotate(x, n);
}

DDX_DEV ddx_u32 ddx_dev_rotr32(ddx_u32 x, ddx_u32 n)
{
    return rotate(x, 32u - n);
}

DDX_DEV ddx_u32 ddx_dev_bswap32(ddx_u32 x)
{
    return rotate(x & 0x00ff00ffu, 24u) | rotate(x & 0xff00ff00u, 8u);
}

/* The big-endian word of bytes o..o+3 (o in 0..3) of the eight bytes lo, hi
 * (little-endian words, lo first): a message word at any byte offset. */
DDX_DEV ddx_u32 ddx_dev_be32_pair(ddx_u32 lo, ddx_u32 hi, ddx_u32 o)
{
    return ddx_dev_bswap32((ddx_u32)(upsample(hi, lo) >> (8 * o)));
}

#elif defined(__CUDA_ARCH__)

typedef struct ddx_u32x4 {
    ddx_u32 x, y, z, w;
} ddx_u32x4;

/* __ldg: the batch is read-only while a kernel runs, so the loads may go
 * through the non-coherent read-only path. */
DDX_DEV ddx_u32 ddx_dev_load32(DDX_GLOBAL const ddx_u8 *base, ddx_u32 word_index)
{
    return __ldg((const unsigned int *)base + word_index);
}

DDX_DEV ddx_u32x4 ddx_dev_load128(DDX_GLOBAL const ddx_u8 *base, ddx_u32 quad_index)
{
    uint4 v = __ldg((const uint4 *)base + quad_index);
    ddx_u32x4 r;
    r.x = v.x;
    r.y = v.y;
    r.z = v.z;
    r.w = v.w;
    return r;
}

DDX_DEV ddx_u32 ddx_dev_rotl32(ddx_u32 x, ddx_u32 n)
{
    return __funnelshift_l(x, x, n);
}

DDX_DEV ddx_u32 ddx_dev_rotr32(ddx_u32 x, ddx_u32 n)
{
    return __funnelshift_r(x, x, n);
}

DDX_DEV ddx_u32 ddx_dev_bswap32(ddx_u32 x)
{
    return __byte_perm(x, 0, 0x0123);
}

/* One PRMT: the selector picks input bytes o+3, o+2, o+1, o (result byte 0
 * first) out of lo (bytes 0-3) and hi (bytes 4-7). */
DDX_DEV ddx_u32 ddx_dev_be32_pair(ddx_u32 lo, ddx_u32 hi, ddx_u32 o)
{
    return __byte_perm(lo, hi, 0x0123u + o * 0x1111u);
}

#else /* plain C, C++ CUDA emulation, and nvcc's host pass */

typedef struct ddx_u32x4 {
    ddx_u32 x, y, z, w;
} ddx_u32x4;

/* __builtin_memcpy rather than a cast: the buffer is written as bytes, and a
 * uint32 load through a cast pointer would break strict aliasing. */
DDX_DEV ddx_u32 ddx_dev_load32(DDX_GLOBAL const ddx_u8 *base, ddx_u32 word_index)
{
    ddx_u32 v;
    __builtin_memcpy(&v, base + 4 * (unsigned long)word_index, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

DDX_DEV ddx_u32x4 ddx_dev_load128(DDX_GLOBAL const ddx_u8 *base, ddx_u32 quad_index)
{
    ddx_u32x4 r;
    r.x = ddx_dev_load32(base, 4 * quad_index);
    r.y = ddx_dev_load32(base, 4 * quad_index + 1);
    r.z = ddx_dev_load32(base, 4 * quad_index + 2);
    r.w = ddx_dev_load32(base, 4 * quad_index + 3);
    return r;
}

/* n in 1..31: neither shift is by 32. */
DDX_DEV ddx_u32 ddx_dev_rotl32(ddx_u32 x, ddx_u32 n)
{
    return (x << n) | (x >> (32 - n));
}

DDX_DEV ddx_u32 ddx_dev_rotr32(ddx_u32 x, ddx_u32 n)
{
    return (x >> n) | (x << (32 - n));
}

DDX_DEV ddx_u32 ddx_dev_bswap32(ddx_u32 x)
{
    return __builtin_bswap32(x);
}

DDX_DEV ddx_u32 ddx_dev_be32_pair(ddx_u32 lo, ddx_u32 hi, ddx_u32 o)
{
    return ddx_dev_bswap32((ddx_u32)((((ddx_u64)hi << 32) | lo) >> (8 * o)));
}

#endif

/* Write v big-endian at p (any alignment): digests are byte strings. */
DDX_DEV void ddx_dev_store_be32(DDX_GLOBAL ddx_u8 *p, ddx_u32 v)
{
    p[0] = (ddx_u8)(v >> 24);
    p[1] = (ddx_u8)(v >> 16);
    p[2] = (ddx_u8)(v >> 8);
    p[3] = (ddx_u8)v;
}

#endif
