/*
 * hash_mb.h - the lane manager shared by the multi-buffer SHA kernels.
 *
 * A multi-buffer kernel hashes L independent messages at once, one per
 * 32-bit SIMD lane (L = 8 with AVX2, 16 with AVX-512). It only knows how to
 * run whole 64-byte blocks for all lanes; everything about messages lives
 * here (the isa-l_crypto design: a job manager that keeps lanes full):
 *   - each lane holds one message; its body blocks are read in place, its
 *     last 1-2 blocks (the tail + 0x80 + zeros + bit length) come from a small
 *     per-lane buffer, so a kernel never reads past a message;
 *   - the kernel runs as many blocks as every active lane can take without a
 *     change (the minimum left in any lane's current region);
 *   - a lane whose message is done emits its digest and takes the next
 *     message of the batch at once, so variable-length chunks keep all lanes
 *     busy until the batch runs out;
 *   - idle lanes (batch tail) read a static block of zeros; their result is
 *     ignored;
 *   - once the lanes left busy at the end of a batch would keep the kernel
 *     mostly idle, the rest of their messages go to the SHA-NI kernels (up
 *     to 4 interleaved), where the CPU has them: a 16-lane kernel with 4
 *     lanes busy runs at a quarter of its rate, and with 64 FastCDC chunks
 *     per call that drain cost a fifth of the time.
 */
#ifndef DDX_HASH_MB_H
#define DDX_HASH_MB_H

#include <stddef.h>
#include <stdint.h>

#include "hash_impl.h"

#define DDX_MB_MAX_LANES 16
#define DDX_MB_MAX_RUN 64 /* blocks per kernel call at most (size of the idle block run) */

typedef struct ddx_mb_kernel {
    unsigned lanes;     /* 8 or 16 (at most DDX_MB_MAX_LANES) */
    unsigned words;     /* state words: 8 for SHA-256, 5 for SHA-1 */
    const uint32_t *iv; /* initial state, `words` words */
    /* Run nblocks consecutive 64-byte blocks in every lane: lane l reads
     * ptr[l][0 .. 64 * nblocks). state is word-major: word w of lane l is
     * state[w * lanes + l]. */
    void (*blocks)(uint32_t *state, const uint8_t *const *ptr, size_t nblocks);
    /* Once the batch has no message left to start, the messages in flight
     * are finished on SHA-NI lanes (ddx_sha_drain) as soon as their blocks
     * left fill less than drain_pct % of what this kernel would run to end
     * them (its lanes times the longest remainder): the SHA-NI kernels then
     * finish sooner than this one with its idle lanes. About 100 times
     * sha*-shani-x4's rate over this kernel's; 0: never. */
    unsigned drain_pct;
} ddx_mb_kernel;

/* Hash n messages with kernel k; digests (big-endian state words) at
 * out + i * 4 * k->words. */
void ddx_mb_run(const ddx_mb_kernel *k, const ddx_hash_msg *msgs, size_t n, uint8_t *out);

/* Portable lane kernels (the scalar reference compression per lane): they
 * test the manager without SIMD and are the model for the SIMD kernels. */
void ddx_sha256_mb_ref_blocks8(uint32_t *state, const uint8_t *const *ptr, size_t nblocks);
void ddx_sha1_mb_ref_blocks8(uint32_t *state, const uint8_t *const *ptr, size_t nblocks);

#endif
