/*
 * datagen_impl.h - what the generators of datagen.h share inside datasets/: the PRNG, the
 * little-endian stores, the text vocabulary, and the entry points of each kind's module.
 *
 * Dependency rule: datagen.c (the public API and the backup kind) calls into datagen_vm.c
 * and datagen_lowdedup.c through the functions declared here; those two use only this
 * header. Nothing here is exported outside datasets/.
 *
 * Determinism. Every generator draws from xoshiro256** seeded through splitmix64 and
 * stores bytes explicitly little-endian, so the output is the same on every machine and in
 * every build. Content that must be regenerated on demand (a block of a VM image, a block
 * of the low-dedup control) is a pure function of a 64-bit key: the key seeds a private
 * xoshiro256** state (dgen_seed), so equal keys give equal bytes and distinct keys give
 * distinct blocks (splitmix64 is a bijection of its counter).
 */
#ifndef DDX_DATAGEN_IMPL_H
#define DDX_DATAGEN_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "datagen.h"

/* ---- PRNG: splitmix64 seeds xoshiro256** (Blackman & Vigna) -------------------------- */

static inline uint64_t dgen_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t dgen_rotl64(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t dgen_next(uint64_t s[4])
{
    uint64_t r = dgen_rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = dgen_rotl64(s[3], 45);
    return r;
}

static inline void dgen_seed(uint64_t s[4], uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        s[i] = dgen_splitmix64(&seed);
}

/* Uniform in [0, n), n > 0. The modulo bias (< n / 2^64) is irrelevant here and, unlike a
 * rejection loop, keeps the number of draws per call fixed. */
static inline uint64_t dgen_below(uint64_t s[4], uint64_t n)
{
    return dgen_next(s) % n;
}

/* Log-uniform in [2^lo, 2^(hi+1)), lo <= hi <= 40: "a few to a few hundred" in one draw. */
static inline uint64_t dgen_log2(uint64_t s[4], unsigned lo, unsigned hi)
{
    uint64_t r = dgen_next(s);
    unsigned k = lo + (unsigned)(r % (hi - lo + 1));
    return ((uint64_t)1 << k) + ((r >> 8) & (((uint64_t)1 << k) - 1));
}

static inline void dgen_store_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void dgen_store_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* n uniformly random bytes: whole little-endian words, the tail from one more draw. */
static inline void dgen_fill_random(uint64_t s[4], uint8_t *dst, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        dgen_store_le64(dst + i, dgen_next(s));
    if (i < n) {
        uint64_t r = dgen_next(s);
        for (; i < n; i++, r >>= 8)
            dst[i] = (uint8_t)r;
    }
}

/* ---- text (datagen.c) ---------------------------------------------------------------- */

#define DGEN_VOCAB_WORDS 4096 /* a power of two: picked with 12-bit products */
#define DGEN_WORD_MAX 12

/* A seeded vocabulary of made-up words with English-like letter frequencies. */
typedef struct dgen_vocab {
    uint8_t len[DGEN_VOCAB_WORDS];               /* word lengths, 1..DGEN_WORD_MAX-1 */
    char words[DGEN_VOCAB_WORDS][DGEN_WORD_MAX]; /* letters, not NUL-terminated */
} dgen_vocab;

/* Draw a vocabulary from s (one draw per word). */
void dgen_vocab_make(dgen_vocab *v, uint64_t s[4]);

/* n bytes of text: words with a Zipf-like pick, spaces, ". ", ", " and newlines; one draw
 * per word. */
void dgen_fill_text(const dgen_vocab *v, uint64_t s[4], uint8_t *dst, size_t n);

/* The largest binary unit that divides v exactly, so "64 MiB" rather than "65536 KiB". */
void dgen_format_size(char *buf, size_t len, uint64_t v);

/* ---- kinds other than backup --------------------------------------------------------- */

/* Each kind's state; created from validated parameters (datagen.c checks the limits).
 * create returns 0 or -1 with errno; next produces one generation into a malloc'd buffer
 * (0 or -1 with errno; the caller counts generations); free accepts NULL. */
typedef struct dgen_vm dgen_vm;
int dgen_vm_create(dgen_vm **out, const ddx_gen_params *p);
int dgen_vm_next(dgen_vm *v, uint8_t **buf, size_t *len);
void dgen_vm_free(dgen_vm *v);

typedef struct dgen_low dgen_low;
int dgen_low_create(dgen_low **out, const ddx_gen_params *p);
int dgen_low_next(dgen_low *l, uint8_t **buf, size_t *len);
void dgen_low_free(dgen_low *l);

#endif /* DDX_DATAGEN_IMPL_H */
