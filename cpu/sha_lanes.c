/*
 * sha_lanes.c - message driver for the interleaved SHA-NI kernels (see
 * sha_lanes.h). Portable C: no ISA flags of its own.
 */
#include <string.h>

#include "cpu_features.h"
#include "sha_lanes.h"

#define MAX_LANES 4

size_t ddx_sha_pad_tail(const uint8_t *msg, size_t len, uint8_t tail[128])
{
    size_t rem = len % 64;
    size_t blocks = rem < 56 ? 1 : 2;
    uint64_t bits = (uint64_t)len * 8;

    memset(tail, 0, 128);
    if (rem)
        memcpy(tail, msg + (len - rem), rem);
    tail[rem] = 0x80;
    for (int i = 0; i < 8; i++)
        tail[blocks * 64 - 1 - i] = (uint8_t)(bits >> (8 * i));
    return blocks;
}

void ddx_sha_lanes_one(const ddx_sha_lanes *k, const ddx_hash_msg *msgs, size_t n, uint8_t *out)
{
    _Alignas(16) unsigned char st[DDX_SHA_STATE_BYTES];
    uint8_t tail[128];

    for (size_t i = 0; i < n; i++) {
        k->load(st, k->iv);
        size_t nt = ddx_sha_pad_tail(msgs[i].p, msgs[i].len, tail);
        ddx_cpu_clear_upper(); /* pad_tail's memcpy may have dirtied it */
        if (msgs[i].len >= 64)
            k->x1(st, msgs[i].p, msgs[i].len / 64);
        k->x1(st, tail, nt);
        k->store(st, out + k->digest * i);
    }
}

/* One message in flight. */
typedef struct lane {
    _Alignas(16) unsigned char st[DDX_SHA_STATE_BYTES];
    const uint8_t *p; /* next block of the current segment */
    size_t left;      /* blocks left in the current segment */
    size_t tail_n;    /* padded blocks in tail, still to do after the body */
    uint8_t *dst;     /* where the digest goes */
    uint8_t tail[128];
} lane;

/* Where a driver's lanes get their next message: a batch from its start,
 * or messages handed over part way through. */
typedef struct source {
    const ddx_hash_msg *msgs; /* batch: msgs[next..n), digests at out */
    uint8_t *out;
    const ddx_sha_resume *r; /* or r[next..n) */
    size_t next, n;
} source;

/* Start a message in a lane: body blocks in place, then the padded tail. */
static void lane_start(const ddx_sha_lanes *k, lane *l, const ddx_hash_msg *m, uint8_t *dst)
{
    k->load(l->st, k->iv);
    l->dst = dst;
    l->tail_n = ddx_sha_pad_tail(m->p, m->len, l->tail);
    l->p = m->p;
    l->left = m->len / 64;
    if (l->left == 0) {
        l->p = l->tail;
        l->left = l->tail_n;
        l->tail_n = 0;
    }
}

/*
 * A lane that moves to a new message jumps to a new stream (lane k takes
 * every width-th message), and the hardware prefetcher needs a few misses to
 * pick it up; at 4-8 KiB per message those misses cost several percent. So
 * the first lines of the next messages to be started are fetched into L2
 * ahead of time, only within [p, p + len).
 */
#define PREFETCH_BYTES 512

static void prefetch_msg(const ddx_hash_msg *m)
{
    size_t n = m->len < PREFETCH_BYTES ? m->len : PREFETCH_BYTES;
    for (size_t o = 0; o < n; o += 64)
        __builtin_prefetch(m->p + o, 0, 2);
}

/* Give lane l the source's next message; 0 if it has none left. */
static int lane_next(const ddx_sha_lanes *k, lane *l, source *src)
{
    if (src->next >= src->n)
        return 0;
    size_t i = src->next++;
    if (src->msgs) {
        lane_start(k, l, &src->msgs[i], src->out + k->digest * i);
        return 1;
    }
    const ddx_sha_resume *r = &src->r[i];
    k->load(l->st, r->h);
    l->dst = r->dst;
    l->tail_n = r->tail_n;
    if (r->tail_n)
        memcpy(l->tail, r->tail, 64 * r->tail_n);
    l->p = r->p;
    l->left = r->left;
    if (l->left == 0) { /* nothing left before the tail */
        l->p = l->tail;
        l->left = l->tail_n;
        l->tail_n = 0;
    }
    return 1;
}

/* Blocks still to compress in a lane, body and tail. */
static size_t lane_remaining(const lane *l)
{
    return l->left + l->tail_n;
}

/*
 * width is the most lanes run at once. live[0..active) names the lanes with
 * a message in flight; a lane whose message is done takes the batch's next
 * one, and once there are none left it drops out of live[] and the remaining
 * lanes run on a narrower kernel.
 */
static void drive(const ddx_sha_lanes *k, source *from, int width)
{
    lane lanes[MAX_LANES];
    int live[MAX_LANES];
    int active = 0;

    if (width > MAX_LANES)
        width = MAX_LANES;
    while (active < width && lane_next(k, &lanes[active], from)) {
        live[active] = active;
        active++;
    }
    size_t pf = from->next; /* msgs[next..pf) have been prefetched */
    while (active > 0) {
        while (from->msgs && pf < from->next + (size_t)width && pf < from->n)
            prefetch_msg(&from->msgs[pf++]);
        /* All four, else two, else one. With three in flight the two with
         * the most left go first: the shortest then pairs with whichever
         * finishes, so less is left for the 1-lane kernel at the end. */
        int use = active >= 4 ? 4 : active >= 2 ? 2 : 1;
        if (active == 3) {
            int lo = 0;
            for (int i = 1; i < 3; i++)
                if (lane_remaining(&lanes[live[i]]) < lane_remaining(&lanes[live[lo]]))
                    lo = i;
            int t = live[lo];
            live[lo] = live[2];
            live[2] = t;
        }
        void *st[MAX_LANES];
        const uint8_t *src[MAX_LANES];
        size_t run = SIZE_MAX;
        for (int i = 0; i < use; i++) {
            lane *l = &lanes[live[i]];
            st[i] = l->st;
            src[i] = l->p;
            if (l->left < run)
                run = l->left;
        }
        ddx_cpu_clear_upper(); /* lane_start's memcpy may have dirtied it */
        if (use == 4)
            k->x4(st, src, run);
        else if (use == 2)
            k->x2(st, src, run);
        else
            k->x1(st[0], src[0], run);

        int keep = 0;
        for (int i = 0; i < active; i++) {
            lane *l = &lanes[live[i]];
            if (i < use) {
                l->p += 64 * run;
                l->left -= run;
            }
            if (l->left == 0 && l->tail_n) {
                l->p = l->tail;
                l->left = l->tail_n;
                l->tail_n = 0;
            } else if (l->left == 0) {
                k->store(l->st, l->dst);
                if (!lane_next(k, l, from))
                    continue; /* drops out of live[] */
            }
            live[keep++] = live[i];
        }
        active = keep;
    }
}

void ddx_sha_lanes_run(const ddx_sha_lanes *k, const ddx_hash_msg *msgs, size_t n, uint8_t *out,
                       int width)
{
    source src = {msgs, out, NULL, 0, n};
    drive(k, &src, width);
}

void ddx_sha_lanes_resume(const ddx_sha_lanes *k, const ddx_sha_resume *r, size_t n)
{
    source src = {NULL, NULL, r, 0, n};
    drive(k, &src, MAX_LANES);
}
