/*
 * hash_impl.h - fingerprint implementations (internal).
 *
 * One hasher per thread. The OpenSSL EVP path uses SHA-NI where the CPU has
 * it (OpenSSL dispatches internally). The message digest object is fetched
 * once per process: an implicit fetch on every EVP_DigestInit costs a lookup
 * in OpenSSL 3's provider tables.
 */
#ifndef DDX_HASH_IMPL_H
#define DDX_HASH_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "ddx.h"

typedef struct ddx_hasher {
    ddx_hash_kind kind;
    size_t size; /* digest bytes */
    void *ctx;   /* EVP_MD_CTX */
    const void *md;
} ddx_hasher;

int ddx_hasher_init(ddx_hasher *h, ddx_hash_kind kind);
void ddx_hasher_free(ddx_hasher *h);
/* Digest of n bytes at p into out (h->size bytes). */
int ddx_hash(ddx_hasher *h, const void *p, size_t n, uint8_t *out);
/* Digest of a message split in two pieces (a chunk crossing a batch edge). */
int ddx_hash2(ddx_hasher *h, const void *a, size_t na, const void *b, size_t nb, uint8_t *out);

/* Reference implementations for tests: plain C, slow and obvious. */
void ddx_sha256_ref(const void *p, size_t n, uint8_t out[32]);
void ddx_sha1_ref(const void *p, size_t n, uint8_t out[20]);
/* Their initial states and one-block compressions (multi-buffer lane models). */
extern const uint32_t ddx_sha256_iv[8];
extern const uint32_t ddx_sha1_iv[5];
/* FIPS 180-4 4.2.2, the SHA-256 round constants (sha_ref.c, 64-byte aligned). */
extern const uint32_t ddx_sha256_k[64];
void ddx_sha256_ref_block(uint32_t h[8], const uint8_t block[64]);
void ddx_sha1_ref_block(uint32_t h[5], const uint8_t block[64]);

/* ---- batch kernels ---------------------------------------------------------
 * One interface for every implementation: n messages in, n digests out
 * (digest i at out + i * digest size: 20 bytes for SHA-1, 32 for SHA-256).
 * Messages may have any length (0 included) and any alignment; kernels never
 * read outside [p, p + len). One file per (algorithm, ISA), compiled with
 * only that ISA's flags (Makefile: ISA_<suffix>); a kernel is called only
 * when ddx_cpu_features() has the bits its registry entry names. */
typedef struct ddx_hash_msg {
    const uint8_t *p;
    size_t len;
} ddx_hash_msg;

typedef void (*ddx_hash_batch_fn)(const ddx_hash_msg *msgs, size_t n, uint8_t *out);

/* hash_openssl.c: OpenSSL EVP, one message at a time (SHA-NI inside) */
void ddx_sha256_openssl_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out);
void ddx_sha1_openssl_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out);
/* hash_isal.c: isa-l_crypto's multi-buffer managers (only when built with it) */
void ddx_sha256_isal_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out);
void ddx_sha1_isal_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out);
/* sha_ref.c: portable C */
void ddx_sha256_ref_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out);
void ddx_sha1_ref_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out);
/* sha256_shani.c, sha1_shani.c: SHA extensions, 1 buffer and 2 or 4
 * buffers interleaved (independent dependency chains) */
void ddx_sha256_shani_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out);
void ddx_sha256_shani_x2_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out);
void ddx_sha256_shani_x4_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out);
void ddx_sha1_shani_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out);
void ddx_sha1_shani_x2_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out);
void ddx_sha1_shani_x4_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out);
/* sha256_mb_avx2.c, sha256_mb_avx512.c, sha1_mb_*.c: multi-buffer, one
 * message per 32-bit lane (8 with AVX2, 16 with AVX-512), lanes refilled
 * as messages finish (hash_mb.c) */
void ddx_sha256_mb_avx2_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out);
void ddx_sha256_mb_avx512_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out);
void ddx_sha1_mb_avx2_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out);
void ddx_sha1_mb_avx512_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out);
/* sha1_mbgt_avx512.c: the same rounds, the message transpose on the integer
 * side (64-bit copies during the previous block's rounds) */
void ddx_sha1_mb_avx512_gt_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out);

/* ---- registry (dispatch.c) ----------------------------------------------- */
typedef struct ddx_hash_impl {
    const char *name; /* "sha256-shani-x2": what --impl hash=NAME takes */
    ddx_hash_kind kind;
    unsigned need; /* DDX_CPU_* bits it requires */
    ddx_hash_batch_fn batch;
    int multi; /* wants many messages per call (multi-buffer lanes) */
} ddx_hash_impl;

/* Every compiled-in implementation, fastest first within a kind (the order
 * measured by `make microbench`, docs/benchmarks.md). */
const ddx_hash_impl *ddx_hash_impls(size_t *n);
/* name NULL: the first usable one for kind. A named one: DDX_EINVAL if no
 * such name (or another kind), DDX_EUNSUPP if this CPU / DDX_CPU_MASK cannot
 * run it; never a silent fallback. */
int ddx_hash_impl_select(ddx_hash_kind kind, const char *name, const ddx_hash_impl **out);
/* Usable on this CPU under DDX_CPU_MASK. */
int ddx_hash_impl_usable(const ddx_hash_impl *impl);

#endif
