/*
 * cpu_features.c - CPUID + XGETBV feature detection (the one place).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_features.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long xgetbv0(void)
{
    unsigned eax, edx;
    /* the instruction, not the intrinsic: this file is compiled without -mxsave */
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

static unsigned detect(void)
{
    unsigned a, b, c, d, f = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    int sse41 = (c >> 19) & 1, ssse3 = (c >> 9) & 1, osxsave = (c >> 27) & 1;
    if (sse41 && ssse3)
        f |= DDX_CPU_SSE41;
    unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
    int ymm = (xcr0 & 0x6) == 0x6;          /* XMM and YMM state */
    int zmm = ymm && (xcr0 & 0xe0) == 0xe0; /* opmask, ZMM0-15 upper, ZMM16-31 */
    if (__get_cpuid_max(0, NULL) < 7)
        return f;
    __cpuid_count(7, 0, a, b, c, d);
    int avx2 = (b >> 5) & 1, bmi1 = (b >> 3) & 1, bmi2 = (b >> 8) & 1, sha = (b >> 29) & 1;
    int avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1, avx512bw = (b >> 30) & 1;
    int avx512vl = (b >> 31) & 1, vbmi = (c >> 1) & 1;
    if (sha && (f & DDX_CPU_SSE41))
        f |= DDX_CPU_SHANI;
    if (avx2 && bmi1 && bmi2 && ymm)
        f |= DDX_CPU_AVX2;
    if ((f & DDX_CPU_AVX2) && avx512f && avx512dq && avx512bw && avx512vl && zmm) {
        f |= DDX_CPU_AVX512;
        if (vbmi)
            f |= DDX_CPU_AVX512VBMI;
    }
    return f;
}
#else
static unsigned detect(void)
{
    return 0;
}
#endif

static unsigned detected, usable;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
    detected = detect();
    usable = detected;
    const char *m = getenv("DDX_CPU_MASK");
    if (m && *m) {
        char *end;
        unsigned long v = strtoul(m, &end, 0);
        if (*end) {
            /* a bad mask must not silently enable anything: use none */
            fprintf(stderr, "ddx: DDX_CPU_MASK='%s' is not a number; using portable code only\n",
                    m);
            v = 0;
        }
        usable &= (unsigned)v;
    }
}

unsigned ddx_cpu_features(void)
{
    pthread_once(&once, init);
    return usable;
}

unsigned ddx_cpu_detected(void)
{
    pthread_once(&once, init);
    return detected;
}

void ddx_cpu_describe(unsigned f, char *buf, unsigned long len)
{
    static const char *const names[] = {"sse41", "shani", "avx2", "avx512", "avx512vbmi"};
    size_t n = 0;
    buf[0] = 0;
    for (unsigned i = 0; i < 5; i++)
        if (f & (1u << i))
            n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s", n ? "," : "", names[i]);
    if (!n)
        snprintf(buf, len, "portable");
}

void ddx_cpu_clear_upper(void)
{
    /* detected, not usable: DDX_CPU_MASK does not stop glibc using AVX */
#if defined(__x86_64__) || defined(__i386__)
    if (ddx_cpu_detected() & DDX_CPU_AVX2)
        __asm__ volatile("vzeroupper" ::: "memory");
#endif
}
