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
    const char *impl;
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

#endif
