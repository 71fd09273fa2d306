/*
 * cpu_features.h - what the CPU and the OS let us use, detected once.
 *
 * A feature counts only if the CPU has it *and* the OS saves the register
 * state it needs (XGETBV: YMM for AVX2, opmask/ZMM for AVX-512), as BLAKE3's
 * dispatcher does. DDX_CPU_MASK (an integer, e.g. 0x5 or 0) in the
 * environment removes features for tests and benchmarks: the result is
 * detected & mask. Read once, cached.
 */
#ifndef DDX_CPU_FEATURES_H
#define DDX_CPU_FEATURES_H

#define DDX_CPU_SSE41 (1u << 0)      /* SSE4.1 + SSSE3 */
#define DDX_CPU_SHANI (1u << 1)      /* SHA-1/SHA-256 extensions (with SSE4.1) */
#define DDX_CPU_AVX2 (1u << 2)       /* AVX2 + BMI1/2, YMM state enabled */
#define DDX_CPU_AVX512 (1u << 3)     /* AVX-512 F+BW+VL+DQ, ZMM/opmask state enabled */
#define DDX_CPU_AVX512VBMI (1u << 4) /* AVX-512 VBMI (byte permutes) on top of AVX512 */
#define DDX_CPU_ALL 0x1fu

/* Usable features (detected & DDX_CPU_MASK). */
unsigned ddx_cpu_features(void);
/* Detected features, ignoring DDX_CPU_MASK. */
unsigned ddx_cpu_detected(void);
/* Clear the upper halves of the vector registers (VZEROUPPER) if the CPU
 * has them. The SHA-NI kernels are legacy-SSE code (SHA-NI has no VEX form,
 * and must run on CPUs without AVX); on Zen 4 they run 3.4x slower while an
 * upper half is dirty, and glibc's EVEX memcpy/memset leave it dirty (they
 * use ymm16-31 and skip VZEROUPPER, which costs nothing on Intel). Measured
 * on `ddx get` of a 785 MiB version (docs/benchmarks.md, store section): its
 * hashing ran at 0.98 GB/s without this, 3.3 GB/s with it. Call it right
 * before legacy-SSE kernels. */
void ddx_cpu_clear_upper(void);

/* "sse41,shani,avx2,avx512,avx512vbmi" style list of a feature set. */
void ddx_cpu_describe(unsigned features, char *buf, unsigned long len);

#endif
