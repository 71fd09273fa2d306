/*
 * hash_isal.c - isa-l_crypto's multi-buffer SHA-256 / SHA-1 as registry
 * entries ("sha256-isal-mb", "sha1-isal-mb"), so users compare it with ours
 * in-process. Built only when isa-l_crypto is found (Makefile: pkg-config
 * libisal_crypto, or ISAL_CRYPTO_DIR=<a build tree>); the default build
 * never needs it (it is not packaged in Debian 12).
 *
 * One context manager per thread; the messages of a batch are submitted one
 * context each (isa-l's manager fills its lanes), completed contexts are
 * collected as submit/flush return them. isa-l reports the state words in
 * host order; digests are big-endian bytes.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <isa-l_crypto/sha1_mb.h>
#include <isa-l_crypto/sha256_mb.h>

#include "hash_impl.h"

#define MAXB 64 /* contexts per round trip */

typedef struct isal_tls {
    ISAL_SHA256_HASH_CTX_MGR *m256;
    ISAL_SHA1_HASH_CTX_MGR *m1;
    ISAL_SHA256_HASH_CTX c256[MAXB];
    ISAL_SHA1_HASH_CTX c1[MAXB];
} isal_tls;

static pthread_key_t key;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void tls_free(void *p)
{
    isal_tls *t = p;
    free(t->m256);
    free(t->m1);
    free(t);
}

static void key_init(void)
{
    (void)pthread_key_create(&key, tls_free);
}

static isal_tls *tls(void)
{
    pthread_once(&once, key_init);
    isal_tls *t = pthread_getspecific(key);
    if (t)
        return t;
    t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    if (posix_memalign((void **)&t->m256, 64, sizeof *t->m256) ||
        posix_memalign((void **)&t->m1, 64, sizeof *t->m1) || isal_sha256_ctx_mgr_init(t->m256) ||
        isal_sha1_ctx_mgr_init(t->m1) || pthread_setspecific(key, t)) {
        tls_free(t);
        return NULL;
    }
    return t;
}

static void put_be(uint8_t *d, const uint32_t *w, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        d[4 * i] = (uint8_t)(w[i] >> 24);
        d[4 * i + 1] = (uint8_t)(w[i] >> 16);
        d[4 * i + 2] = (uint8_t)(w[i] >> 8);
        d[4 * i + 3] = (uint8_t)w[i];
    }
}

/* The same driver for both algorithms, written once as a macro over the
 * isa-l type and function names. */
#define ISAL_BATCH(NAME, MGR, CTX, PFX, WORDS)                                                     \
    void NAME(const ddx_hash_msg *m, size_t n, uint8_t *out)                                       \
    {                                                                                              \
        isal_tls *t = tls();                                                                       \
        if (!t) {                                                                                  \
            memset(out, 0, n * 4 * WORDS);                                                         \
            return;                                                                                \
        }                                                                                          \
        for (size_t base = 0; base < n; base += MAXB) {                                            \
            size_t k = n - base < MAXB ? n - base : MAXB;                                          \
            CTX *done = NULL;                                                                      \
            for (size_t i = 0; i < k; i++) {                                                       \
                CTX *c = &t->CTX##_arr[i];                                                         \
                isal_hash_ctx_init(c);                                                             \
                c->user_data = (void *)(uintptr_t)(base + i);                                      \
                PFX##_ctx_mgr_submit(t->MGR, c, &done, m[base + i].p, (uint32_t)m[base + i].len,   \
                                     ISAL_HASH_ENTIRE);                                            \
                if (done)                                                                          \
                    put_be(out + (uintptr_t)done->user_data * 4 * WORDS, done->job.result_digest,  \
                           WORDS);                                                                 \
            }                                                                                      \
            for (;;) {                                                                             \
                PFX##_ctx_mgr_flush(t->MGR, &done);                                                \
                if (!done)                                                                         \
                    break;                                                                         \
                put_be(out + (uintptr_t)done->user_data * 4 * WORDS, done->job.result_digest,      \
                       WORDS);                                                                     \
            }                                                                                      \
        }                                                                                          \
    }

#define ISAL_SHA256_HASH_CTX_arr c256
#define ISAL_SHA1_HASH_CTX_arr c1
ISAL_BATCH(ddx_sha256_isal_batch, m256, ISAL_SHA256_HASH_CTX, isal_sha256, 8)
ISAL_BATCH(ddx_sha1_isal_batch, m1, ISAL_SHA1_HASH_CTX, isal_sha1, 5)
