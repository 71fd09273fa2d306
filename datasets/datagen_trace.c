/*
 * datagen_trace.c - synthetic fingerprint traces (ddx_gen_trace in datagen.h).
 *
 * Design. Distinct chunks are numbered 0, 1, 2, ... in the order they first appear; a
 * chunk's fingerprint and length are pure functions of its number (and the seed), so a
 * duplicate is produced by emitting an earlier number again and nothing is stored: memory
 * is constant and each record costs a few splitmix64 rounds, whatever the trace's length.
 *
 * Which records are duplicates: a two-state Markov chain. From "new" the chain moves to
 * "duplicate" with probability a, back with probability b; the stationary share of
 * duplicates is a / (a + b), set to 1 - 1/R for a dup ratio R (ratio >= 2: a = 1/4, runs of
 * new chunks average 4; ratio < 2: b = 1/4, runs of duplicates average 4). Runs, not
 * independent coin flips, because a backup's duplicates come in long stretches.
 *
 * Which earlier chunk a duplicate repeats: a run of duplicates replays consecutive chunk
 * numbers in their original order (the locality that makes a fingerprint cache work),
 * starting 90% of the time at a recent chunk (distance back log-uniform over the last
 * RECENT_WINDOW distinct chunks, so the last few hundred are as likely as the rest) and 10%
 * of the time anywhere (uniform over every distinct chunk so far). A run that catches up
 * with the newest chunk starts again from a new pick.
 *
 * Lengths: avg/4 plus an exponential of mean 3/4 avg, cut at 8 avg (3 in 10^5 are), computed
 * in fixed point (-log2 of a uniform from its leading zeros and a quadratic in the mantissa),
 * so the mean is avg and the shape that of content-defined chunks: a floor, a long tail.
 */
#include "datagen.h"
#include "datagen_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define RECENT_PERCENT 90
#define RECENT_WINDOW ((uint64_t)1 << 20)
#define LN2_Q16 45426        /* ln 2 in 16.16 */
#define LOG2_CURVE_Q16 22715 /* 0.3466 in 16.16: log2(1 + f) ~ f + 0.3466 f (1 - f) */
#define GOLDEN 0x9e3779b97f4a7c15ull

struct ddx_gen_trace {
    ddx_gen_trace_params p; /* validated copy */
    uint64_t s[4];          /* xoshiro256**: dup decisions and sources */
    uint64_t fp_salt;       /* fingerprint of chunk i: splitmix64 from fp_salt + 4 i GOLDEN */
    uint64_t len_salt;      /* length of chunk i: splitmix64 of len_salt + i GOLDEN */
    uint64_t produced;      /* records returned */
    uint64_t unique;        /* chunks 0..unique-1 have appeared */
    uint64_t run_next;      /* the chunk a duplicate run repeats next */
    int in_dup;             /* the chain's state */
    uint64_t to_dup;        /* probability new -> duplicate, in 2^-32 */
    uint64_t to_new;        /* probability duplicate -> new, in 2^-32 */
    uint32_t min_len;       /* avg / 4 */
    uint32_t max_len;       /* avg * 8 */
    uint64_t mean_excess;   /* avg - min_len */
};

void ddx_gen_trace_default_params(ddx_gen_trace_params *p)
{
    p->seed = 1;
    p->chunks = 1000000;
    p->dup_ratio_milli = 4000;
    p->avg = 8192;
}

int ddx_gen_trace_create(ddx_gen_trace **out, const ddx_gen_trace_params *p)
{
    if (!out || !p || p->chunks < 1 || p->chunks > DDX_GEN_TRACE_MAX_CHUNKS ||
        p->dup_ratio_milli < 1000 || p->dup_ratio_milli > DDX_GEN_TRACE_MAX_RATIO_MILLI ||
        p->avg < DDX_GEN_TRACE_MIN_AVG || p->avg > DDX_GEN_TRACE_MAX_AVG) {
        errno = EINVAL;
        return -1;
    }
    ddx_gen_trace *t = calloc(1, sizeof(*t));
    if (!t)
        return -1;
    t->p = *p;
    dgen_seed(t->s, p->seed);
    t->fp_salt = dgen_next(t->s);
    t->len_salt = dgen_next(t->s);
    uint64_t r = p->dup_ratio_milli, quarter = (uint64_t)1 << 30;
    if (r >= 2000) {
        t->to_dup = quarter;
        t->to_new = quarter * 1000 / (r - 1000);
    } else {
        t->to_new = quarter;
        t->to_dup = quarter * (r - 1000) / 1000;
    }
    t->min_len = p->avg / 4;
    t->max_len = p->avg * 8;
    t->mean_excess = p->avg - t->min_len;
    *out = t;
    return 0;
}

static unsigned clz64(uint64_t x) /* x != 0 */
{
#if defined(__GNUC__)
    return (unsigned)__builtin_clzll(x);
#else
    unsigned n = 0;
    while (!(x >> 63)) {
        x <<= 1;
        n++;
    }
    return n;
#endif
}

static uint32_t chunk_length(const ddx_gen_trace *t, uint64_t id)
{
    uint64_t x = t->len_salt + id * GOLDEN;
    uint64_t u = dgen_splitmix64(&x) | 1; /* U = u / 2^64 in (0, 1) */
    unsigned z = clz64(u);
    /* log2 of the mantissa 1 + f: f + 0.3466 f (1 - f), within 0.008 and unbiased enough
     * that the mean length is avg to ~0.1%. */
    uint64_t f = ((u << z) >> 47) & 0xffff;
    uint64_t lg = f + ((((f * (65536 - f)) >> 16) * LOG2_CURVE_Q16) >> 16);
    uint64_t e2 = ((uint64_t)(z + 1) << 16) - lg; /* -log2 U in 16.16, in (0, 2^22] */
    uint64_t len = t->min_len + ((t->mean_excess * e2 * LN2_Q16) >> 32);
    return len > t->max_len ? t->max_len : (uint32_t)len;
}

static void chunk_fp(const ddx_gen_trace *t, uint64_t id, uint8_t *fp)
{
    uint64_t x = t->fp_salt + 4 * id * GOLDEN;
    for (int i = 0; i < DDX_GEN_TRACE_FP_SIZE / 8; i++)
        dgen_store_le64(fp + 8 * i, dgen_splitmix64(&x));
}

/* Where a run of duplicates starts. */
static uint64_t pick_source(ddx_gen_trace *t)
{
    uint64_t r = dgen_next(t->s);
    if (r % 100 >= RECENT_PERCENT)
        return dgen_below(t->s, t->unique);
    uint64_t w = t->unique < RECENT_WINDOW ? t->unique : RECENT_WINDOW;
    unsigned top = 63 - clz64(w); /* 2^top <= w */
    uint64_t d = dgen_log2(t->s, 0, top);
    return t->unique - (d > w ? w : d);
}

size_t ddx_gen_trace_next(ddx_gen_trace *t, ddx_gen_trace_rec *out, size_t max)
{
    if (!t || !out)
        return 0;
    size_t n = 0;
    for (; n < max && t->produced < t->p.chunks; n++, t->produced++) {
        if (t->unique > 0) {
            uint64_t x = dgen_next(t->s) >> 32;
            if (t->in_dup ? x < t->to_new : x < t->to_dup) {
                t->in_dup = !t->in_dup;
                if (t->in_dup)
                    t->run_next = pick_source(t);
            }
        }
        uint64_t id;
        if (t->in_dup) {
            if (t->run_next >= t->unique)
                t->run_next = pick_source(t);
            id = t->run_next++;
        } else {
            id = t->unique++;
        }
        out[n].length = chunk_length(t, id);
        out[n].is_dup = (uint32_t)t->in_dup;
        chunk_fp(t, id, out[n].fp);
    }
    return n;
}

uint64_t ddx_gen_trace_unique(const ddx_gen_trace *t)
{
    return t ? t->unique : 0;
}

void ddx_gen_trace_free(ddx_gen_trace *t)
{
    free(t);
}

void ddx_gen_trace_describe(const ddx_gen_trace_params *p, char *buf, size_t len)
{
    if (!buf || len == 0)
        return;
    char avg[32];
    dgen_format_size(avg, sizeof(avg), p->avg);
    snprintf(buf, len, "trace: %" PRIu64 " chunks, dup ratio %u.%03u, avg %s, seed %" PRIu64,
             p->chunks, p->dup_ratio_milli / 1000, p->dup_ratio_milli % 1000, avg, p->seed);
}
