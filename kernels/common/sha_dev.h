/*
 * sha_dev.h - SHA-256 and SHA-1 of one chunk per device thread.
 *
 * The GPU hashes the chunks the host selected, one thread per chunk, out of
 * the batch that is already in device memory (gpu.h). Chunks start at any
 * byte, so a thread reads the aligned 32-bit words that cover its chunk and
 * builds each big-endian message word from two of them with one byte permute
 * (ddx_dev_be32_pair): 17 word loads per 64-byte block instead of 64 byte
 * loads. The final block(s) are built in registers from the same loads: the
 * message bytes are masked off, the 0x80 byte and the 64-bit bit length are
 * or-ed in (FIPS 180-4 5.1.1), so the padding never touches memory.
 *
 * Everything a block needs lives in registers: the state, the working
 * variables and a rolling 16-word message schedule (w0..w15, extended in
 * place). The rounds are unrolled with their constants as literals; a
 * constant table indexed by the round number would sit in local memory on a
 * GPU. There is one copy of each compression function per algorithm: full
 * blocks and the padded tail only differ in how w0..w15 are filled.
 *
 * Reads, relative to the 4-aligned `data`: full blocks read the 17 words
 * that cover them (the 17th may lie up to 4 bytes past the message end); the
 * tail reads only words that hold message bytes. So no read goes past
 * round_up(off + len, 4) + 4, well inside the padding gpu.h guarantees.
 * Lengths are 32-bit: any chunk (2^32 - 1 bytes at most) works.
 */
#ifndef DDX_SHA_DEV_H
#define DDX_SHA_DEV_H

#include "ddx_dev.h"

/* ---- message blocks ------------------------------------------------------- */

/* Word jj (0..31) of the tail: the r = len % 64 last message bytes, then
 * 0x80, then zeros (the caller ors in the bit length). m is the loaded word,
 * whose bytes past the message are garbage. */
DDX_DEV ddx_u32 ddx_dev_sha_tail_word(ddx_u32 m, ddx_u32 jj, ddx_u32 r)
{
    ddx_u32 k = r - 4 * jj; /* message bytes in this word, when below 4 */
    if (r >= 4 * jj + 4)
        return m;
    if (r < 4 * jj)
        return 0;
    return (m & ~(0xffffffffu >> (8 * k))) | (0x80000000u >> (8 * k));
}

/* One word of a full block: lo_ holds the aligned word where it starts. */
#define DDX_SHA_FULL_(wj, j)                                                                       \
    do {                                                                                           \
        ddx_u32 hi_ = ddx_dev_load32(data, q + (j) + 1);                                           \
        wj = ddx_dev_be32_pair(lo_, hi_, o);                                                       \
        lo_ = hi_;                                                                                 \
    } while (0)

/* One word of a tail block: loads only words that hold message bytes (word x
 * of the tail holds bytes 4x - o .. 4x - o + 3 of the tail). */
#define DDX_SHA_TAIL_(wj, j)                                                                       \
    do {                                                                                           \
        ddx_u32 hi_ = 4 * (t16 + (j) + 1) < lim ? ddx_dev_load32(data, q + (j) + 1) : 0;           \
        wj = ddx_dev_sha_tail_word(ddx_dev_be32_pair(lo_, hi_, o), t16 + (j), r);                  \
        lo_ = hi_;                                                                                 \
    } while (0)

/* Fill w0..w15 with block blk of the message, padded: the shared front end of
 * both algorithms, written against the locals of ddx_dev_sha256/ddx_dev_sha1
 * (data, q: aligned word where block blk starts, o: off % 4, len, r, nfull,
 * nblocks, blk). Blocks nfull and nfull + 1 (if there is one) are the tail. */
#define DDX_SHA_BLOCK_()                                                                           \
    do {                                                                                           \
        if (blk < nfull) {                                                                         \
            ddx_u32 lo_ = ddx_dev_load32(data, q);                                                 \
            DDX_SHA_FULL_(w0, 0);                                                                  \
            DDX_SHA_FULL_(w1, 1);                                                                  \
            DDX_SHA_FULL_(w2, 2);                                                                  \
            DDX_SHA_FULL_(w3, 3);                                                                  \
            DDX_SHA_FULL_(w4, 4);                                                                  \
            DDX_SHA_FULL_(w5, 5);                                                                  \
            DDX_SHA_FULL_(w6, 6);                                                                  \
            DDX_SHA_FULL_(w7, 7);                                                                  \
            DDX_SHA_FULL_(w8, 8);                                                                  \
            DDX_SHA_FULL_(w9, 9);                                                                  \
            DDX_SHA_FULL_(w10, 10);                                                                \
            DDX_SHA_FULL_(w11, 11);                                                                \
            DDX_SHA_FULL_(w12, 12);                                                                \
            DDX_SHA_FULL_(w13, 13);                                                                \
            DDX_SHA_FULL_(w14, 14);                                                                \
            DDX_SHA_FULL_(w15, 15);                                                                \
        } else {                                                                                   \
            ddx_u32 t16 = (blk - nfull) * 16; /* tail word of w0: 0 or 16 */                       \
            ddx_u32 lim = o + r;              /* tail words below lim / 4 hold message bytes */    \
            ddx_u32 lo_ = 4 * t16 < lim ? ddx_dev_load32(data, q) : 0;                             \
            DDX_SHA_TAIL_(w0, 0);                                                                  \
            DDX_SHA_TAIL_(w1, 1);                                                                  \
            DDX_SHA_TAIL_(w2, 2);                                                                  \
            DDX_SHA_TAIL_(w3, 3);                                                                  \
            DDX_SHA_TAIL_(w4, 4);                                                                  \
            DDX_SHA_TAIL_(w5, 5);                                                                  \
            DDX_SHA_TAIL_(w6, 6);                                                                  \
            DDX_SHA_TAIL_(w7, 7);                                                                  \
            DDX_SHA_TAIL_(w8, 8);                                                                  \
            DDX_SHA_TAIL_(w9, 9);                                                                  \
            DDX_SHA_TAIL_(w10, 10);                                                                \
            DDX_SHA_TAIL_(w11, 11);                                                                \
            DDX_SHA_TAIL_(w12, 12);                                                                \
            DDX_SHA_TAIL_(w13, 13);                                                                \
            DDX_SHA_TAIL_(w14, 14);                                                                \
            DDX_SHA_TAIL_(w15, 15);                                                                \
            if (blk + 1 == nblocks) { /* the bit length, big-endian, in the last block */          \
                w14 = len >> 29;                                                                   \
                w15 = len << 3;                                                                    \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* ---- SHA-256 (FIPS 180-4 6.2) --------------------------------------------- */

#define DDX_SHA_CH(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define DDX_SHA_MAJ(x, y, z) (((x) & (y)) | ((z) & ((x) | (y))))
#define DDX_SHA256_BSIG0(x) (ddx_dev_rotr32(x, 2) ^ ddx_dev_rotr32(x, 13) ^ ddx_dev_rotr32(x, 22))
#define DDX_SHA256_BSIG1(x) (ddx_dev_rotr32(x, 6) ^ ddx_dev_rotr32(x, 11) ^ ddx_dev_rotr32(x, 25))
#define DDX_SHA256_SSIG0(x) (ddx_dev_rotr32(x, 7) ^ ddx_dev_rotr32(x, 18) ^ ((x) >> 3))
#define DDX_SHA256_SSIG1(x) (ddx_dev_rotr32(x, 17) ^ ddx_dev_rotr32(x, 19) ^ ((x) >> 10))

/* One round with the roles of the eight working variables given by the
 * arguments, so no variable is copied: after it, h holds the new a and d the
 * new e, and the next round names them one place further on. */
#define DDX_SHA256_RND(a, b, c, d, e, f, g, h, w, k)                                               \
    do {                                                                                           \
        ddx_u32 t1_ = (h) + DDX_SHA256_BSIG1(e) + DDX_SHA_CH(e, f, g) + (k) + (w);                 \
        (d) += t1_;                                                                                \
        (h) = t1_ + DDX_SHA256_BSIG0(a) + DDX_SHA_MAJ(a, b, c);                                    \
    } while (0)

/* Rounds 16..63: first W_t over W_{t-16} in place (w2, w7, w15 hold W_{t-2},
 * W_{t-7}, W_{t-15}). */
#define DDX_SHA256_RNDX(a, b, c, d, e, f, g, h, w, w2, w7, w15, k)                                 \
    do {                                                                                           \
        (w) += DDX_SHA256_SSIG1(w2) + (w7) + DDX_SHA256_SSIG0(w15);                                \
        DDX_SHA256_RND(a, b, c, d, e, f, g, h, w, k);                                              \
    } while (0)

/* SHA-256 of the len bytes at data + off into the 32 bytes at digest. */
DDX_DEV void ddx_dev_sha256(DDX_GLOBAL const ddx_u8 *data, ddx_u32 off, ddx_u32 len,
                            DDX_GLOBAL ddx_u8 *digest)
{
    ddx_u32 s0 = 0x6a09e667u, s1 = 0xbb67ae85u, s2 = 0x3c6ef372u, s3 = 0xa54ff53au;
    ddx_u32 s4 = 0x510e527fu, s5 = 0x9b05688cu, s6 = 0x1f83d9abu, s7 = 0x5be0cd19u;
    ddx_u32 nfull = len >> 6, r = len & 63;
    ddx_u32 nblocks = nfull + (r < 56 ? 1u : 2u);
    ddx_u32 o = off & 3, q = off >> 2;

    for (ddx_u32 blk = 0; blk < nblocks; blk++, q += 16) {
        ddx_u32 w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11, w12, w13, w14, w15;
        DDX_SHA_BLOCK_();

        ddx_u32 a = s0, b = s1, c = s2, d = s3, e = s4, f = s5, g = s6, h = s7;
        DDX_SHA256_RND(a, b, c, d, e, f, g, h, w0, 0x428a2f98u);
        DDX_SHA256_RND(h, a, b, c, d, e, f, g, w1, 0x71374491u);
        DDX_SHA256_RND(g, h, a, b, c, d, e, f, w2, 0xb5c0fbcfu);
        DDX_SHA256_RND(f, g, h, a, b, c, d, e, w3, 0xe9b5dba5u);
        DDX_SHA256_RND(e, f, g, h, a, b, c, d, w4, 0x3956c25bu);
        DDX_SHA256_RND(d, e, f, g, h, a, b, c, w5, 0x59f111f1u);
        DDX_SHA256_RND(c, d, e, f, g, h, a, b, w6, 0x923f82a4u);
        DDX_SHA256_RND(b, c, d, e, f, g, h, a, w7, 0xab1c5ed5u);
        DDX_SHA256_RND(a, b, c, d, e, f, g, h, w8, 0xd807aa98u);
        DDX_SHA256_RND(h, a, b, c, d, e, f, g, w9, 0x12835b01u);
        DDX_SHA256_RND(g, h, a, b, c, d, e, f, w10, 0x243185beu);
        DDX_SHA256_RND(f, g, h, a, b, c, d, e, w11, 0x550c7dc3u);
        DDX_SHA256_RND(e, f, g, h, a, b, c, d, w12, 0x72be5d74u);
        DDX_SHA256_RND(d, e, f, g, h, a, b, c, w13, 0x80deb1feu);
        DDX_SHA256_RND(c, d, e, f, g, h, a, b, w14, 0x9bdc06a7u);
        DDX_SHA256_RND(b, c, d, e, f, g, h, a, w15, 0xc19bf174u);
        DDX_SHA256_RNDX(a, b, c, d, e, f, g, h, w0, w14, w9, w1, 0xe49b69c1u);
        DDX_SHA256_RNDX(h, a, b, c, d, e, f, g, w1, w15, w10, w2, 0xefbe4786u);
        DDX_SHA256_RNDX(g, h, a, b, c, d, e, f, w2, w0, w11, w3, 0x0fc19dc6u);
        DDX_SHA256_RNDX(f, g, h, a, b, c, d, e, w3, w1, w12, w4, 0x240ca1ccu);
        DDX_SHA256_RNDX(e, f, g, h, a, b, c, d, w4, w2, w13, w5, 0x2de92c6fu);
        DDX_SHA256_RNDX(d, e, f, g, h, a, b, c, w5, w3, w14, w6, 0x4a7484aau);
        DDX_SHA256_RNDX(c, d, e, f, g, h, a, b, w6, w4, w15, w7, 0x5cb0a9dcu);
        DDX_SHA256_RNDX(b, c, d, e, f, g, h, a, w7, w5, w0, w8, 0x76f988dau);
        DDX_SHA256_RNDX(a, b, c, d, e, f, g, h, w8, w6, w1, w9, 0x983e5152u);
        DDX_SHA256_RNDX(h, a, b, c, d, e, f, g, w9, w7, w2, w10, 0xa831c66du);
        DDX_SHA256_RNDX(g, h, a, b, c, d, e, f, w10, w8, w3, w11, 0xb00327c8u);
        DDX_SHA256_RNDX(f, g, h, a, b, c, d, e, w11, w9, w4, w12, 0xbf597fc7u);
        DDX_SHA256_RNDX(e, f, g, h, a, b, c, d, w12, w10, w5, w13, 0xc6e00bf3u);
        DDX_SHA256_RNDX(d, e, f, g, h, a, b, c, w13, w11, w6, w14, 0xd5a79147u);
        DDX_SHA256_RNDX(c, d, e, f, g, h, a, b, w14, w12, w7, w15, 0x06ca6351u);
        DDX_SHA256_RNDX(b, c, d, e, f, g, h, a, w15, w13, w8, w0, 0x14292967u);
        DDX_SHA256_RNDX(a, b, c, d, e, f, g, h, w0, w14, w9, w1, 0x27b70a85u);
        DDX_SHA256_RNDX(h, a, b, c, d, e, f, g, w1, w15, w10, w2, 0x2e1b2138u);
        DDX_SHA256_RNDX(g, h, a, b, c, d, e, f, w2, w0, w11, w3, 0x4d2c6dfcu);
        DDX_SHA256_RNDX(f, g, h, a, b, c, d, e, w3, w1, w12, w4, 0x53380d13u);
        DDX_SHA256_RNDX(e, f, g, h, a, b, c, d, w4, w2, w13, w5, 0x650a7354u);
        DDX_SHA256_RNDX(d, e, f, g, h, a, b, c, w5, w3, w14, w6, 0x766a0abbu);
        DDX_SHA256_RNDX(c, d, e, f, g, h, a, b, w6, w4, w15, w7, 0x81c2c92eu);
        DDX_SHA256_RNDX(b, c, d, e, f, g, h, a, w7, w5, w0, w8, 0x92722c85u);
        DDX_SHA256_RNDX(a, b, c, d, e, f, g, h, w8, w6, w1, w9, 0xa2bfe8a1u);
        DDX_SHA256_RNDX(h, a, b, c, d, e, f, g, w9, w7, w2, w10, 0xa81a664bu);
        DDX_SHA256_RNDX(g, h, a, b, c, d, e, f, w10, w8, w3, w11, 0xc24b8b70u);
        DDX_SHA256_RNDX(f, g, h, a, b, c, d, e, w11, w9, w4, w12, 0xc76c51a3u);
        DDX_SHA256_RNDX(e, f, g, h, a, b, c, d, w12, w10, w5, w13, 0xd192e819u);
        DDX_SHA256_RNDX(d, e, f, g, h, a, b, c, w13, w11, w6, w14, 0xd6990624u);
        DDX_SHA256_RNDX(c, d, e, f, g, h, a, b, w14, w12, w7, w15, 0xf40e3585u);
        DDX_SHA256_RNDX(b, c, d, e, f, g, h, a, w15, w13, w8, w0, 0x106aa070u);
        DDX_SHA256_RNDX(a, b, c, d, e, f, g, h, w0, w14, w9, w1, 0x19a4c116u);
        DDX_SHA256_RNDX(h, a, b, c, d, e, f, g, w1, w15, w10, w2, 0x1e376c08u);
        DDX_SHA256_RNDX(g, h, a, b, c, d, e, f, w2, w0, w11, w3, 0x2748774cu);
        DDX_SHA256_RNDX(f, g, h, a, b, c, d, e, w3, w1, w12, w4, 0x34b0bcb5u);
        DDX_SHA256_RNDX(e, f, g, h, a, b, c, d, w4, w2, w13, w5, 0x391c0cb3u);
        DDX_SHA256_RNDX(d, e, f, g, h, a, b, c, w5, w3, w14, w6, 0x4ed8aa4au);
        DDX_SHA256_RNDX(c, d, e, f, g, h, a, b, w6, w4, w15, w7, 0x5b9cca4fu);
        DDX_SHA256_RNDX(b, c, d, e, f, g, h, a, w7, w5, w0, w8, 0x682e6ff3u);
        DDX_SHA256_RNDX(a, b, c, d, e, f, g, h, w8, w6, w1, w9, 0x748f82eeu);
        DDX_SHA256_RNDX(h, a, b, c, d, e, f, g, w9, w7, w2, w10, 0x78a5636fu);
        DDX_SHA256_RNDX(g, h, a, b, c, d, e, f, w10, w8, w3, w11, 0x84c87814u);
        DDX_SHA256_RNDX(f, g, h, a, b, c, d, e, w11, w9, w4, w12, 0x8cc70208u);
        DDX_SHA256_RNDX(e, f, g, h, a, b, c, d, w12, w10, w5, w13, 0x90befffau);
        DDX_SHA256_RNDX(d, e, f, g, h, a, b, c, w13, w11, w6, w14, 0xa4506cebu);
        DDX_SHA256_RNDX(c, d, e, f, g, h, a, b, w14, w12, w7, w15, 0xbef9a3f7u);
        DDX_SHA256_RNDX(b, c, d, e, f, g, h, a, w15, w13, w8, w0, 0xc67178f2u);

        s0 += a;
        s1 += b;
        s2 += c;
        s3 += d;
        s4 += e;
        s5 += f;
        s6 += g;
        s7 += h;
    }
    ddx_dev_store_be32(digest, s0);
    ddx_dev_store_be32(digest + 4, s1);
    ddx_dev_store_be32(digest + 8, s2);
    ddx_dev_store_be32(digest + 12, s3);
    ddx_dev_store_be32(digest + 16, s4);
    ddx_dev_store_be32(digest + 20, s5);
    ddx_dev_store_be32(digest + 24, s6);
    ddx_dev_store_be32(digest + 28, s7);
}

/* ---- SHA-1 (FIPS 180-4 6.1) ----------------------------------------------- */

#define DDX_SHA1_F1(x, y, z) DDX_SHA_CH(x, y, z)
#define DDX_SHA1_F2(x, y, z) ((x) ^ (y) ^ (z)) /* parity, rounds 20-39 and 60-79 */
#define DDX_SHA1_F3(x, y, z) DDX_SHA_MAJ(x, y, z)

/* One round, roles rotating as in SHA-256: e becomes the new a, and b is
 * rotated in place (it is c from the next round on). */
#define DDX_SHA1_RND(a, b, c, d, e, F, k, w)                                                       \
    do {                                                                                           \
        (e) += ddx_dev_rotl32(a, 5) + F(b, c, d) + (k) + (w);                                      \
        (b) = ddx_dev_rotl32(b, 30);                                                               \
    } while (0)

/* Rounds 16..79: first W_t over W_{t-16} in place (w3, w8, w14 hold W_{t-3},
 * W_{t-8}, W_{t-14}). */
#define DDX_SHA1_RNDX(a, b, c, d, e, F, k, w, w3, w8, w14)                                         \
    do {                                                                                           \
        (w) = ddx_dev_rotl32((w3) ^ (w8) ^ (w14) ^ (w), 1);                                        \
        DDX_SHA1_RND(a, b, c, d, e, F, k, w);                                                      \
    } while (0)

/* SHA-1 of the len bytes at data + off into the 20 bytes at digest. */
DDX_DEV void ddx_dev_sha1(DDX_GLOBAL const ddx_u8 *data, ddx_u32 off, ddx_u32 len,
                          DDX_GLOBAL ddx_u8 *digest)
{
    ddx_u32 s0 = 0x67452301u, s1 = 0xefcdab89u, s2 = 0x98badcfeu, s3 = 0x10325476u;
    ddx_u32 s4 = 0xc3d2e1f0u;
    ddx_u32 nfull = len >> 6, r = len & 63;
    ddx_u32 nblocks = nfull + (r < 56 ? 1u : 2u);
    ddx_u32 o = off & 3, q = off >> 2;

    for (ddx_u32 blk = 0; blk < nblocks; blk++, q += 16) {
        ddx_u32 w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11, w12, w13, w14, w15;
        DDX_SHA_BLOCK_();

        ddx_u32 a = s0, b = s1, c = s2, d = s3, e = s4;
        DDX_SHA1_RND(a, b, c, d, e, DDX_SHA1_F1, 0x5a827999u, w0);
        DDX_SHA1_RND(e, a, b, c, d, DDX_SHA1_F1, 0x5a827999u, w1);
        DDX_SHA1_RND(d, e, a, b, c, DDX_SHA1_F1, 0x5a827999u, w2);
        DDX_SHA1_RND(c, d, e, a, b, DDX_SHA1_F1, 0x5a827999u, w3);
        DDX_SHA1_RND(b, c, d, e, a, DDX_SHA1_F1, 0x5a827999u, w4);
        DDX_SHA1_RND(a, b, c, d, e, DDX_SHA1_F1, 0x5a827999u, w5);
        DDX_SHA1_RND(e, a, b, c, d, DDX_SHA1_F1, 0x5a827999u, w6);
        DDX_SHA1_RND(d, e, a, b, c, DDX_SHA1_F1, 0x5a827999u, w7);
        DDX_SHA1_RND(c, d, e, a, b, DDX_SHA1_F1, 0x5a827999u, w8);
        DDX_SHA1_RND(b, c, d, e, a, DDX_SHA1_F1, 0x5a827999u, w9);
        DDX_SHA1_RND(a, b, c, d, e, DDX_SHA1_F1, 0x5a827999u, w10);
        DDX_SHA1_RND(e, a, b, c, d, DDX_SHA1_F1, 0x5a827999u, w11);
        DDX_SHA1_RND(d, e, a, b, c, DDX_SHA1_F1, 0x5a827999u, w12);
        DDX_SHA1_RND(c, d, e, a, b, DDX_SHA1_F1, 0x5a827999u, w13);
        DDX_SHA1_RND(b, c, d, e, a, DDX_SHA1_F1, 0x5a827999u, w14);
        DDX_SHA1_RND(a, b, c, d, e, DDX_SHA1_F1, 0x5a827999u, w15);
        DDX_SHA1_RNDX(e, a, b, c, d, DDX_SHA1_F1, 0x5a827999u, w0, w13, w8, w2);
        DDX_SHA1_RNDX(d, e, a, b, c, DDX_SHA1_F1, 0x5a827999u, w1, w14, w9, w3);
        DDX_SHA1_RNDX(c, d, e, a, b, DDX_SHA1_F1, 0x5a827999u, w2, w15, w10, w4);
        DDX_SHA1_RNDX(b, c, d, e, a, DDX_SHA1_F1, 0x5a827999u, w3, w0, w11, w5);
        DDX_SHA1_RNDX(a, b, c, d, e, DDX_SHA1_F2, 0x6ed9eba1u, w4, w1, w12, w6);
        DDX_SHA1_RNDX(e, a, b, c, d, DDX_SHA1_F2, 0x6ed9eba1u, w5, w2, w13, w7);
        DDX_SHA1_RNDX(d, e, a, b, c, DDX_SHA1_F2, 0x6ed9eba1u, w6, w3, w14, w8);
        DDX_SHA1_RNDX(c, d, e, a, b, DDX_SHA1_F2, 0x6ed9eba1u, w7, w4, w15, w9);
        DDX_SHA1_RNDX(b, c, d, e, a, DDX_SHA1_F2, 0x6ed9eba1u, w8, w5, w0, w10);
        DDX_SHA1_RNDX(a, b, c, d, e, DDX_SHA1_F2, 0x6ed9eba1u, w9, w6, w1, w11);
        DDX_SHA1_RNDX(e, a, b, c, d, DDX_SHA1_F2, 0x6ed9eba1u, w10, w7, w2, w12);
        DDX_SHA1_RNDX(d, e, a, b, c, DDX_SHA1_F2, 0x6ed9eba1u, w11, w8, w3, w13);
        DDX_SHA1_RNDX(c, d, e, a, b, DDX_SHA1_F2, 0x6ed9eba1u, w12, w9, w4, w14);
        DDX_SHA1_RNDX(b, c, d, e, a, DDX_SHA1_F2, 0x6ed9eba1u, w13, w10, w5, w15);
        DDX_SHA1_RNDX(a, b, c, d, e, DDX_SHA1_F2, 0x6ed9eba1u, w14, w11, w6, w0);
        DDX_SHA1_RNDX(e, a, b, c, d, DDX_SHA1_F2, 0x6ed9eba1u, w15, w12, w7, w1);
        DDX_SHA1_RNDX(d, e, a, b, c, DDX_SHA1_F2, 0x6ed9eba1u, w0, w13, w8, w2);
        DDX_SHA1_RNDX(c, d, e, a, b, DDX_SHA1_F2, 0x6ed9eba1u, w1, w14, w9, w3);
        DDX_SHA1_RNDX(b, c, d, e, a, DDX_SHA1_F2, 0x6ed9eba1u, w2, w15, w10, w4);
        DDX_SHA1_RNDX(a, b, c, d, e, DDX_SHA1_F2, 0x6ed9eba1u, w3, w0, w11, w5);
        DDX_SHA1_RNDX(e, a, b, c, d, DDX_SHA1_F2, 0x6ed9eba1u, w4, w1, w12, w6);
        DDX_SHA1_RNDX(d, e, a, b, c, DDX_SHA1_F2, 0x6ed9eba1u, w5, w2, w13, w7);
        DDX_SHA1_RNDX(c, d, e, a, b, DDX_SHA1_F2, 0x6ed9eba1u, w6, w3, w14, w8);
        DDX_SHA1_RNDX(b, c, d, e, a, DDX_SHA1_F2, 0x6ed9eba1u, w7, w4, w15, w9);
        DDX_SHA1_RNDX(a, b, c, d, e, DDX_SHA1_F3, 0x8f1bbcdcu, w8, w5, w0, w10);
        DDX_SHA1_RNDX(e, a, b, c, d, DDX_SHA1_F3, 0x8f1bbcdcu, w9, w6, w1, w11);
        DDX_SHA1_RNDX(d, e, a, b, c, DDX_SHA1_F3, 0x8f1bbcdcu, w10, w7, w2, w12);
        DDX_SHA1_RNDX(c, d, e, a, b, DDX_SHA1_F3, 0x8f1bbcdcu, w11, w8, w3, w13);
        DDX_SHA1_RNDX(b, c, d, e, a, DDX_SHA1_F3, 0x8f1bbcdcu, w12, w9, w4, w14);
        DDX_SHA1_RNDX(a, b, c, d, e, DDX_SHA1_F3, 0x8f1bbcdcu, w13, w10, w5, w15);
        DDX_SHA1_RNDX(e, a, b, c, d, DDX_SHA1_F3, 0x8f1bbcdcu, w14, w11, w6, w0);
        DDX_SHA1_RNDX(d, e, a, b, c, DDX_SHA1_F3, 0x8f1bbcdcu, w15, w12, w7, w1);
        DDX_SHA1_RNDX(c, d, e, a, b, DDX_SHA1_F3, 0x8f1bbcdcu, w0, w13, w8, w2);
        DDX_SHA1_RNDX(b, c, d, e, a, DDX_SHA1_F3, 0x8f1bbcdcu, w1, w14, w9, w3);
        DDX_SHA1_RNDX(a, b, c, d, e, DDX_SHA1_F3, 0x8f1bbcdcu, w2, w15, w10, w4);
        DDX_SHA1_RNDX(e, a, b, c, d, DDX_SHA1_F3, 0x8f1bbcdcu, w3, w0, w11, w5);
        DDX_SHA1_RNDX(d, e, a, b, c, DDX_SHA1_F3, 0x8f1bbcdcu, w4, w1, w12, w6);
        DDX_SHA1_RNDX(c, d, e, a, b, DDX_SHA1_F3, 0x8f1bbcdcu, w5, w2, w13, w7);
        DDX_SHA1_RNDX(b, c, d, e, a, DDX_SHA1_F3, 0x8f1bbcdcu, w6, w3, w14, w8);
        DDX_SHA1_RNDX(a, b, c, d, e, DDX_SHA1_F3, 0x8f1bbcdcu, w7, w4, w15, w9);
        DDX_SHA1_RNDX(e, a, b, c, d, DDX_SHA1_F3, 0x8f1bbcdcu, w8, w5, w0, w10);
        DDX_SHA1_RNDX(d, e, a, b, c, DDX_SHA1_F3, 0x8f1bbcdcu, w9, w6, w1, w11);
        DDX_SHA1_RNDX(c, d, e, a, b, DDX_SHA1_F3, 0x8f1bbcdcu, w10, w7, w2, w12);
        DDX_SHA1_RNDX(b, c, d, e, a, DDX_SHA1_F3, 0x8f1bbcdcu, w11, w8, w3, w13);
        DDX_SHA1_RNDX(a, b, c, d, e, DDX_SHA1_F2, 0xca62c1d6u, w12, w9, w4, w14);
        DDX_SHA1_RNDX(e, a, b, c, d, DDX_SHA1_F2, 0xca62c1d6u, w13, w10, w5, w15);
        DDX_SHA1_RNDX(d, e, a, b, c, DDX_SHA1_F2, 0xca62c1d6u, w14, w11, w6, w0);
        DDX_SHA1_RNDX(c, d, e, a, b, DDX_SHA1_F2, 0xca62c1d6u, w15, w12, w7, w1);
        DDX_SHA1_RNDX(b, c, d, e, a, DDX_SHA1_F2, 0xca62c1d6u, w0, w13, w8, w2);
        DDX_SHA1_RNDX(a, b, c, d, e, DDX_SHA1_F2, 0xca62c1d6u, w1, w14, w9, w3);
        DDX_SHA1_RNDX(e, a, b, c, d, DDX_SHA1_F2, 0xca62c1d6u, w2, w15, w10, w4);
        DDX_SHA1_RNDX(d, e, a, b, c, DDX_SHA1_F2, 0xca62c1d6u, w3, w0, w11, w5);
        DDX_SHA1_RNDX(c, d, e, a, b, DDX_SHA1_F2, 0xca62c1d6u, w4, w1, w12, w6);
        DDX_SHA1_RNDX(b, c, d, e, a, DDX_SHA1_F2, 0xca62c1d6u, w5, w2, w13, w7);
        DDX_SHA1_RNDX(a, b, c, d, e, DDX_SHA1_F2, 0xca62c1d6u, w6, w3, w14, w8);
        DDX_SHA1_RNDX(e, a, b, c, d, DDX_SHA1_F2, 0xca62c1d6u, w7, w4, w15, w9);
        DDX_SHA1_RNDX(d, e, a, b, c, DDX_SHA1_F2, 0xca62c1d6u, w8, w5, w0, w10);
        DDX_SHA1_RNDX(c, d, e, a, b, DDX_SHA1_F2, 0xca62c1d6u, w9, w6, w1, w11);
        DDX_SHA1_RNDX(b, c, d, e, a, DDX_SHA1_F2, 0xca62c1d6u, w10, w7, w2, w12);
        DDX_SHA1_RNDX(a, b, c, d, e, DDX_SHA1_F2, 0xca62c1d6u, w11, w8, w3, w13);
        DDX_SHA1_RNDX(e, a, b, c, d, DDX_SHA1_F2, 0xca62c1d6u, w12, w9, w4, w14);
        DDX_SHA1_RNDX(d, e, a, b, c, DDX_SHA1_F2, 0xca62c1d6u, w13, w10, w5, w15);
        DDX_SHA1_RNDX(c, d, e, a, b, DDX_SHA1_F2, 0xca62c1d6u, w14, w11, w6, w0);
        DDX_SHA1_RNDX(b, c, d, e, a, DDX_SHA1_F2, 0xca62c1d6u, w15, w12, w7, w1);

        s0 += a;
        s1 += b;
        s2 += c;
        s3 += d;
        s4 += e;
    }
    ddx_dev_store_be32(digest, s0);
    ddx_dev_store_be32(digest + 4, s1);
    ddx_dev_store_be32(digest + 8, s2);
    ddx_dev_store_be32(digest + 12, s3);
    ddx_dev_store_be32(digest + 16, s4);
}

/* ---- one chunk of the hash kernel ----------------------------------------- */

/* The work of device thread j of the hash kernel: chunk j is (table[2j]
 * offset, table[2j + 1] length) within the batch at data; its digest goes to
 * digests + j * (32 or 20). sha256 is the same for every thread of a launch,
 * so the branch does not diverge. */
DDX_DEV void ddx_dev_hash_chunk(DDX_GLOBAL const ddx_u8 *data, DDX_GLOBAL const ddx_u32 *table,
                                ddx_u32 j, ddx_u32 sha256, DDX_GLOBAL ddx_u8 *digests)
{
    ddx_u32 off = table[2 * j], len = table[2 * j + 1];
    if (sha256)
        ddx_dev_sha256(data, off, len, digests + 32 * j);
    else
        ddx_dev_sha1(data, off, len, digests + 20 * j);
}

#undef DDX_SHA_FULL_
#undef DDX_SHA_TAIL_
#undef DDX_SHA_BLOCK_

#endif
