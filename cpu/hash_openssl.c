/*
 * hash_openssl.c - SHA-1 / SHA-256 through OpenSSL's EVP interface.
 */
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

#include "hash_impl.h"

static EVP_MD *md_sha1, *md_sha256;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_init(void)
{
    md_sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
    md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

int ddx_hasher_init(ddx_hasher *h, ddx_hash_kind kind)
{
    pthread_once(&md_once, md_init);
    h->kind = kind;
    h->md = kind == DDX_HASH_SHA1 ? md_sha1 : md_sha256;
    h->size = ddx_hash_size(kind);
    h->ctx = NULL;
    if (kind != DDX_HASH_SHA1 && kind != DDX_HASH_SHA256)
        return DDX_EINVAL;
    if (!h->md)
        return DDX_EHASH;
    h->ctx = EVP_MD_CTX_new();
    return h->ctx ? 0 : DDX_ENOMEM;
}

void ddx_hasher_free(ddx_hasher *h)
{
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
}

int ddx_hash2(ddx_hasher *h, const void *a, size_t na, const void *b, size_t nb, uint8_t *out)
{
    EVP_MD_CTX *c = h->ctx;
    unsigned int len;
    if (!EVP_DigestInit_ex2(c, h->md, NULL) || !EVP_DigestUpdate(c, a, na) ||
        (nb && !EVP_DigestUpdate(c, b, nb)) || !EVP_DigestFinal_ex(c, out, &len))
        return DDX_EHASH;
    return 0;
}

int ddx_hash(ddx_hasher *h, const void *p, size_t n, uint8_t *out)
{
    return ddx_hash2(h, p, n, NULL, 0, out);
}

/* Batch entry points for the registry: one EVP context per thread, made on
 * first use and freed when the thread exits. */
static pthread_key_t ctx_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void ctx_free(void *c)
{
    EVP_MD_CTX_free(c);
}

static void key_init(void)
{
    (void)pthread_key_create(&ctx_key, ctx_free);
}

static void evp_batch(const EVP_MD *md, size_t ds, const ddx_hash_msg *m, size_t n, uint8_t *out)
{
    pthread_once(&key_once, key_init);
    EVP_MD_CTX *c = pthread_getspecific(ctx_key);
    if (!c) {
        c = EVP_MD_CTX_new();
        if (!c || pthread_setspecific(ctx_key, c)) {
            EVP_MD_CTX_free(c);
            c = NULL;
        }
    }
    for (size_t i = 0; i < n; i++) {
        unsigned int len;
        /* a failure here means OpenSSL itself is broken (no provider): the
         * digest is left zeroed and the reference tests catch it */
        if (!c || !EVP_DigestInit_ex2(c, md, NULL) || !EVP_DigestUpdate(c, m[i].p, m[i].len) ||
            !EVP_DigestFinal_ex(c, out + i * ds, &len))
            memset(out + i * ds, 0, ds);
    }
}

void ddx_sha256_openssl_batch(const ddx_hash_msg *m, size_t n, uint8_t *out)
{
    pthread_once(&md_once, md_init);
    evp_batch(md_sha256, 32, m, n, out);
}

void ddx_sha1_openssl_batch(const ddx_hash_msg *m, size_t n, uint8_t *out)
{
    pthread_once(&md_once, md_init);
    evp_batch(md_sha1, 20, m, n, out);
}
