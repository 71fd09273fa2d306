/*
 * sha_lanes.h - the message driver shared by the SHA-NI kernels
 * (sha1_shani.c, sha256_shani.c), and SHA padding.
 *
 * A SHA-NI kernel runs whole 64-byte blocks for 1, 2 or 4 messages whose
 * rounds it interleaves (independent dependency chains hide the latency of
 * sha256rnds2 / sha1rnds4). Everything about messages is here: bodies read in
 * place, the padded last 1-2 blocks from a per-lane buffer, a finished lane
 * taking the batch's next message, and narrower kernels once fewer messages
 * are left. The kernels are called through pointers once per run of blocks,
 * so the indirection costs nothing measurable.
 */
#ifndef DDX_SHA_LANES_H
#define DDX_SHA_LANES_H

#include <stddef.h>
#include <stdint.h>

#include "hash_impl.h"

/* Room for a kernel's state (two xmm registers for both algorithms). */
#define DDX_SHA_STATE_BYTES 32

typedef struct ddx_sha_lanes {
    size_t digest;      /* digest bytes: 20 or 32 */
    const uint32_t *iv; /* initial state words */
    /* state from words H0, H1, ... (FIPS 180-4 order), and the digest out */
    void (*load)(void *st, const uint32_t *h);
    void (*store)(const void *st, uint8_t *out);
    /* nblocks blocks of one, two or four messages; st[i] and p[i] per lane */
    void (*x1)(void *st, const uint8_t *p, size_t nblocks);
    void (*x2)(void *const *st, const uint8_t *const *p, size_t nblocks);
    void (*x4)(void *const *st, const uint8_t *const *p, size_t nblocks);
} ddx_sha_lanes;

/* FIPS 180-4 5.1.1 padding of the last len % 64 bytes of msg: those bytes,
 * 0x80, zeros, the bit length (64-bit big-endian). Writes 1 or 2 blocks to
 * tail and returns how many; reads only [msg, msg + len). */
size_t ddx_sha_pad_tail(const uint8_t *msg, size_t len, uint8_t tail[128]);

/* One message at a time with the x1 kernel. */
void ddx_sha_lanes_one(const ddx_sha_lanes *k, const ddx_hash_msg *msgs, size_t n, uint8_t *out);
/* Up to width (2 or 4) messages at a time. */
void ddx_sha_lanes_run(const ddx_sha_lanes *k, const ddx_hash_msg *msgs, size_t n, uint8_t *out,
                       int width);

/* A message part way through, handed over by the multi-buffer lane manager
 * (hash_mb.c) when too few of its lanes are left busy: the state words so
 * far, `left` blocks still to run from p (in place, or already the padded
 * tail), then tail_n padded blocks from tail (0 if p is the tail), and
 * where the digest goes. */
typedef struct ddx_sha_resume {
    uint32_t h[8];
    const uint8_t *p;
    size_t left;
    const uint8_t *tail;
    size_t tail_n;
    uint8_t *dst;
} ddx_sha_resume;

/* Finish n such messages, up to 4 at a time. */
void ddx_sha_lanes_resume(const ddx_sha_lanes *k, const ddx_sha_resume *r, size_t n);

/* The SHA-NI lanes (sha1_shani.c, sha256_shani.c), declared whether or not
 * they are compiled in: only ddx_sha_drain (dispatch.c) names them. */
extern const ddx_sha_lanes ddx_sha1_shani_lanes, ddx_sha256_shani_lanes;
/* The lanes a multi-buffer kernel with `words` state words (5: SHA-1, 8:
 * SHA-256) hands its last messages to, or NULL where the CPU (or
 * DDX_CPU_MASK) has no SHA-NI or the build left it out. */
const ddx_sha_lanes *ddx_sha_drain(unsigned words);

#endif
