/*
 * sha_ref.c - reference SHA-256 and SHA-1, written from FIPS 180-4.
 *
 * These are the slow oracles every fast fingerprint path (OpenSSL, SIMD
 * multi-buffer, GPU) is tested against, so they are written to be checked by
 * eye against the standard, not to be fast:
 *
 *   - one function per algorithm, one message in, one digest out: no streaming
 *     state to get wrong;
 *   - words are assembled from bytes and written back byte by byte in
 *     big-endian order, so the code has no type punning, no alignment
 *     assumption and no dependency on the host's byte order;
 *   - padding (FIPS 180-4 5.1.1) is built in a separate 128-byte tail buffer
 *     that holds the last partial block, the 0x80 byte, the zeros and the
 *     64-bit bit length: one block if the remainder is at most 55 bytes, two
 *     otherwise. Every length works, including 0 and p == NULL with n == 0.
 *
 * Section numbers in the comments refer to FIPS 180-4 (August 2015).
 */
#include <string.h>

#include "hash_impl.h"

/* Rotations on 32-bit words (3.2). The shift counts are constants in 1..31,
 * so neither shift is by 32. */
static uint32_t rotr32(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

static uint32_t rotl32(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

static uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/*
 * Pad the final n % 64 bytes of an n-byte message into tail (5.1.1): the
 * remaining bytes, one 1 bit, zeros, then the message length in bits as a
 * 64-bit big-endian integer. Returns the number of tail blocks (1 or 2).
 * Both SHA-1 and SHA-256 use this same padding.
 */
static size_t pad_tail(const uint8_t *msg, size_t n, uint8_t tail[128])
{
    size_t rem = n % 64;
    size_t blocks = rem < 56 ? 1 : 2;
    /* n fits in size_t; the bit count is computed in 64 bits so a message of
     * 2^29 bytes or more does not overflow on a 32-bit size_t. */
    uint64_t bits = (uint64_t)n * 8;

    memset(tail, 0, 128);
    if (rem)
        memcpy(tail, msg + (n - rem), rem);
    tail[rem] = 0x80;
    for (int i = 0; i < 8; i++)
        tail[blocks * 64 - 1 - i] = (uint8_t)(bits >> (8 * i));
    return blocks;
}

/* ---- SHA-256 (6.2) ------------------------------------------------------ */

/* The first 32 bits of the fractional parts of the cube roots of the first 64
 * primes (4.2.2). */
/* clang-format off: eight to a row, as printed in the standard. */
/* Shared with every SHA-256 kernel; 64-byte aligned for their vector loads. */
const uint32_t ddx_sha256_k[64] __attribute__((aligned(64))) = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};
/* clang-format on */

/* The first 32 bits of the fractional parts of the square roots of the first 8
 * primes (5.3.3). */
const uint32_t ddx_sha256_iv[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

/* Functions of 4.1.2. */
static uint32_t ch(uint32_t x, uint32_t y, uint32_t z)
{
    return (x & y) ^ (~x & z);
}

static uint32_t maj(uint32_t x, uint32_t y, uint32_t z)
{
    return (x & y) ^ (x & z) ^ (y & z);
}

static uint32_t big_sigma0(uint32_t x)
{
    return rotr32(x, 2) ^ rotr32(x, 13) ^ rotr32(x, 22);
}

static uint32_t big_sigma1(uint32_t x)
{
    return rotr32(x, 6) ^ rotr32(x, 11) ^ rotr32(x, 25);
}

static uint32_t small_sigma0(uint32_t x)
{
    return rotr32(x, 7) ^ rotr32(x, 18) ^ (x >> 3);
}

static uint32_t small_sigma1(uint32_t x)
{
    return rotr32(x, 17) ^ rotr32(x, 19) ^ (x >> 10);
}

/* One 64-byte block into the hash state h (6.2.2, steps 1-4). */
void ddx_sha256_ref_block(uint32_t h[8], const uint8_t block[64])
{
    uint32_t w[64];

    /* Step 1: the message schedule. */
    for (int t = 0; t < 16; t++)
        w[t] = load_be32(block + 4 * t);
    for (int t = 16; t < 64; t++)
        w[t] = small_sigma1(w[t - 2]) + w[t - 7] + small_sigma0(w[t - 15]) + w[t - 16];

    /* Step 2: the working variables. */
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    uint32_t e = h[4], f = h[5], g = h[6], hh = h[7];

    /* Step 3: 64 rounds. */
    for (int t = 0; t < 64; t++) {
        uint32_t t1 = hh + big_sigma1(e) + ch(e, f, g) + ddx_sha256_k[t] + w[t];
        uint32_t t2 = big_sigma0(a) + maj(a, b, c);
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }

    /* Step 4: the intermediate hash value. */
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

void ddx_sha256_ref(const void *p, size_t n, uint8_t out[32])
{
    const uint8_t *msg = p;
    uint8_t tail[128];
    uint32_t h[8];

    memcpy(h, ddx_sha256_iv, sizeof h);
    for (size_t i = 0; i + 64 <= n; i += 64)
        ddx_sha256_ref_block(h, msg + i);
    size_t blocks = pad_tail(msg, n, tail);
    for (size_t i = 0; i < blocks; i++)
        ddx_sha256_ref_block(h, tail + 64 * i);
    for (int i = 0; i < 8; i++)
        store_be32(out + 4 * i, h[i]);
}

/* ---- SHA-1 (6.1) -------------------------------------------------------- */

/* Initial hash value (5.3.1). */
const uint32_t ddx_sha1_iv[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};

/* f_t and K_t of 4.1.1 and 4.2.1: the round function and constant change every
 * 20 rounds. */
static uint32_t sha1_f(int t, uint32_t x, uint32_t y, uint32_t z)
{
    if (t < 20)
        return ch(x, y, z);
    if (t < 40)
        return x ^ y ^ z; /* Parity */
    if (t < 60)
        return maj(x, y, z);
    return x ^ y ^ z; /* Parity */
}

static uint32_t sha1_k(int t)
{
    if (t < 20)
        return 0x5a827999;
    if (t < 40)
        return 0x6ed9eba1;
    if (t < 60)
        return 0x8f1bbcdc;
    return 0xca62c1d6;
}

/* One 64-byte block into the hash state h (6.1.2, steps 1-4). */
void ddx_sha1_ref_block(uint32_t h[5], const uint8_t block[64])
{
    uint32_t w[80];

    /* Step 1: the message schedule. */
    for (int t = 0; t < 16; t++)
        w[t] = load_be32(block + 4 * t);
    for (int t = 16; t < 80; t++)
        w[t] = rotl32(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);

    /* Step 2: the working variables. */
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];

    /* Step 3: 80 rounds. */
    for (int t = 0; t < 80; t++) {
        uint32_t tmp = rotl32(a, 5) + sha1_f(t, b, c, d) + e + sha1_k(t) + w[t];
        e = d;
        d = c;
        c = rotl32(b, 30);
        b = a;
        a = tmp;
    }

    /* Step 4: the intermediate hash value. */
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void ddx_sha1_ref(const void *p, size_t n, uint8_t out[20])
{
    const uint8_t *msg = p;
    uint8_t tail[128];
    uint32_t h[5];

    memcpy(h, ddx_sha1_iv, sizeof h);
    for (size_t i = 0; i + 64 <= n; i += 64)
        ddx_sha1_ref_block(h, msg + i);
    size_t blocks = pad_tail(msg, n, tail);
    for (size_t i = 0; i < blocks; i++)
        ddx_sha1_ref_block(h, tail + 64 * i);
    for (int i = 0; i < 5; i++)
        store_be32(out + 4 * i, h[i]);
}

void ddx_sha256_ref_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++)
        ddx_sha256_ref(msgs[i].p, msgs[i].len, out + i * 32);
}

void ddx_sha1_ref_batch(const ddx_hash_msg *msgs, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++)
        ddx_sha1_ref(msgs[i].p, msgs[i].len, out + i * 20);
}
