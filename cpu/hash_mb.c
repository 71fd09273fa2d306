/*
 * hash_mb.c - lane manager for multi-buffer SHA kernels (see hash_mb.h).
 */
#include <string.h>

#include "hash_mb.h"
#include "sha_lanes.h"

static const uint8_t idle_blocks[64 * DDX_MB_MAX_RUN];

typedef struct lane {
    size_t msg;         /* message index, or SIZE_MAX when idle */
    const uint8_t *ptr; /* next block to read */
    size_t left;        /* blocks left in the current region */
    int in_tail;        /* reading the padded tail */
    uint8_t tail[128];  /* last partial block + padding + length */
} lane;

static void start(const ddx_mb_kernel *k, uint32_t *state, lane *ln, unsigned l,
                  const ddx_hash_msg *m, size_t idx)
{
    for (unsigned w = 0; w < k->words; w++)
        state[w * k->lanes + l] = k->iv[w];
    ln->msg = idx;
    ln->left = m->len / 64;
    ln->in_tail = 0;
    ln->ptr = m->p;
    if (ln->left == 0) {
        ln->left = ddx_sha_pad_tail(m->p, m->len, ln->tail);
        ln->ptr = ln->tail;
        ln->in_tail = 1;
    }
}

/* Whether the busy lanes' blocks left (a tail not yet started counted as
 * one) fill less than drain_pct % of lanes x the longest remainder. */
static int worth_handing_over(const ddx_mb_kernel *k, const lane *ln)
{
    size_t sum = 0, longest = 0;
    for (unsigned l = 0; l < k->lanes; l++) {
        if (ln[l].msg == SIZE_MAX)
            continue;
        size_t r = ln[l].left + !ln[l].in_tail;
        sum += r;
        longest = r > longest ? r : longest;
    }
    return sum * 100 < (size_t)longest * k->lanes * k->drain_pct;
}

/* Finish the messages still in lanes on the SHA-NI lanes: state words out
 * of the word-major state, the rest of the body in place, the padded tail
 * (built here unless the lane is already in it). Every busy lane has blocks
 * left: one that ran out has moved to its tail or taken a new message. */
static void hand_over(const ddx_mb_kernel *k, const ddx_sha_lanes *drain, const uint32_t *state,
                      lane *ln, const ddx_hash_msg *msgs, uint8_t *out)
{
    ddx_sha_resume r[DDX_MB_MAX_LANES];
    size_t nr = 0;
    for (unsigned l = 0; l < k->lanes; l++) {
        lane *x = &ln[l];
        if (x->msg == SIZE_MAX)
            continue;
        ddx_sha_resume *j = &r[nr++];
        for (unsigned w = 0; w < k->words; w++)
            j->h[w] = state[w * k->lanes + l];
        j->p = x->ptr;
        j->left = x->left;
        j->tail = x->tail;
        j->tail_n = 0;
        if (!x->in_tail) {
            const ddx_hash_msg *m = &msgs[x->msg];
            j->tail_n = ddx_sha_pad_tail(m->p, m->len, x->tail);
        }
        j->dst = out + x->msg * 4u * k->words;
    }
    ddx_sha_lanes_resume(drain, r, nr);
}

void ddx_mb_run(const ddx_mb_kernel *k, const ddx_hash_msg *msgs, size_t n, uint8_t *out)
{
    unsigned L = k->lanes;
    uint32_t state[8 * DDX_MB_MAX_LANES];
    lane ln[DDX_MB_MAX_LANES];
    const uint8_t *ptr[DDX_MB_MAX_LANES];
    size_t next = 0, dsize = 4u * k->words;
    unsigned active = 0;
    const ddx_sha_lanes *drain = k->drain_pct ? ddx_sha_drain(k->words) : NULL;
    for (unsigned l = 0; l < L; l++) {
        if (next < n) {
            start(k, state, &ln[l], l, &msgs[next], next);
            next++;
            active++;
        } else {
            ln[l].msg = SIZE_MAX;
        }
    }
    while (active) {
        if (drain && next >= n && worth_handing_over(k, ln)) {
            hand_over(k, drain, state, ln, msgs, out);
            return;
        }
        size_t run = DDX_MB_MAX_RUN;
        for (unsigned l = 0; l < L; l++)
            if (ln[l].msg != SIZE_MAX && ln[l].left < run)
                run = ln[l].left;
        for (unsigned l = 0; l < L; l++)
            ptr[l] = ln[l].msg != SIZE_MAX ? ln[l].ptr : idle_blocks;
        k->blocks(state, ptr, run);
        for (unsigned l = 0; l < L; l++) {
            lane *x = &ln[l];
            if (x->msg == SIZE_MAX)
                continue;
            x->ptr += 64 * run;
            x->left -= run;
            if (x->left)
                continue;
            const ddx_hash_msg *m = &msgs[x->msg];
            if (!x->in_tail) {
                x->left = ddx_sha_pad_tail(m->p, m->len, x->tail);
                x->ptr = x->tail;
                x->in_tail = 1;
                continue;
            }
            uint8_t *d = out + x->msg * dsize;
            for (unsigned w = 0; w < k->words; w++) {
                uint32_t v = state[w * L + l];
                d[4 * w] = (uint8_t)(v >> 24);
                d[4 * w + 1] = (uint8_t)(v >> 16);
                d[4 * w + 2] = (uint8_t)(v >> 8);
                d[4 * w + 3] = (uint8_t)v;
            }
            if (next < n) {
                start(k, state, x, l, &msgs[next], next);
                next++;
            } else {
                x->msg = SIZE_MAX;
                active--;
            }
        }
    }
}

/* ---- portable lane kernels -------------------------------------------------- */

/* Lane by lane with the reference compression (8 lanes, `words` state words). */
static void ref_blocks8(uint32_t *state, const uint8_t *const *ptr, size_t nblocks, unsigned words,
                        void (*block)(uint32_t *h, const uint8_t *blk))
{
    for (unsigned l = 0; l < 8; l++) {
        uint32_t h[8];
        for (unsigned w = 0; w < words; w++)
            h[w] = state[w * 8 + l];
        for (size_t b = 0; b < nblocks; b++)
            block(h, ptr[l] + 64 * b);
        for (unsigned w = 0; w < words; w++)
            state[w * 8 + l] = h[w];
    }
}

void ddx_sha256_mb_ref_blocks8(uint32_t *state, const uint8_t *const *ptr, size_t nblocks)
{
    ref_blocks8(state, ptr, nblocks, 8, ddx_sha256_ref_block);
}

void ddx_sha1_mb_ref_blocks8(uint32_t *state, const uint8_t *const *ptr, size_t nblocks)
{
    ref_blocks8(state, ptr, nblocks, 5, ddx_sha1_ref_block);
}
