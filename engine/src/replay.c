/*
 * replay.c - indexing chunks whose fingerprints are already known
 * (ddx_engine_feed_chunks), and the chunk-size histogram's bin mapping.
 *
 * A fingerprint trace carries no bytes, so there is nothing to batch, chunk or
 * hash: the caller's thread looks the fingerprints up itself, through the
 * same per-chunk accounting as the workers (ddx_eng_index_one), so a replay
 * reports exactly what a data run with those chunks would. It uses the engine's
 * replay slot, e->w[threads]: a worker record with no thread, whose index
 * reader handle is registered on first use.
 */
#include <stdatomic.h>
#include <string.h>

#include "engine_int.h"

unsigned ddx_chunk_hist_bin(uint64_t length)
{
    if (length < 16)
        return (unsigned)length;
    unsigned e = 63u - (unsigned)__builtin_clzll(length);
    uint64_t bin = 16u * (e - 3u) + ((length >> (e - 4u)) & 15u);
    return bin < DDX_CHUNK_HIST_BINS ? (unsigned)bin : DDX_CHUNK_HIST_BINS - 1;
}

uint64_t ddx_chunk_hist_lower(unsigned bin)
{
    if (bin >= DDX_CHUNK_HIST_BINS)
        return UINT64_MAX;
    if (bin < 16)
        return bin;
    unsigned e = bin / 16u + 3u;
    return (uint64_t)(16u + bin % 16u) << (e - 4u);
}

/* Chunks per index_begin/end: bounds the tally's 32-bit histogram counters
 * and keeps the index stage's timing granular. */
#define REPLAY_SLICE 65536
/* Fingerprints prefetched ahead of the one being looked up: enough to cover
 * a DRAM miss with the work of the ones between. */
#define REPLAY_AHEAD 8

int ddx_engine_feed_chunks(ddx_engine *e, ddx_chunk *c, size_t n)
{
    if (!e || (!c && n))
        return DDX_EINVAL;
    if (!e->opened)
        return DDX_ESTATE;
    int err = atomic_load(&e->err);
    if (err)
        return err;
    /* a stream holds data or replayed chunks: the chunker's batches of a stream
     * tile it from offset 0 */
    if (!e->in_stream || (e->stream_off && !e->stream_replay))
        return DDX_ESTATE;
    for (size_t i = 0; i < n; i++)
        if (c[i].length == 0 || c[i].length > DDX_CHUNK_MAX_LIMIT)
            return DDX_EINVAL;
    e->stream_replay = 1;
    worker *w = &e->w[e->threads];
    if (!e->replay_registered) {
        if (e->index)
            ddx_index_register(e->index, &w->it);
        e->replay_registered = 1;
    }
    /* ddx_eng_index_one takes the chunk's stream and location base from its
     * batch: a stand-in carries the current stream's */
    batch b;
    memset(&b, 0, sizeof b);
    b.stream = e->cur_stream;
    b.base = e->stream_base;
    ddx_eng_tally t;
    for (size_t i = 0; i < n;) {
        size_t end = n - i > REPLAY_SLICE ? i + REPLAY_SLICE : n;
        uint64_t bytes = 0;
        ddx_eng_index_begin(w, &t);
        for (; i < end; i++) {
            if (i + REPLAY_AHEAD < end && e->index)
                ddx_index_prefetch(e->index, c[i + REPLAY_AHEAD].fp);
            uint64_t before = t.uniq;
            ddx_eng_index_one(w, &t, &b, e->stream_off, c[i].length, c[i].fp);
            c[i].is_new = t.uniq != before;
            e->stream_off += c[i].length;
            bytes += c[i].length;
        }
        ddx_eng_index_end(w, &t, bytes);
        atomic_fetch_add_explicit(&e->fed, bytes, memory_order_relaxed);
        atomic_fetch_add_explicit(&e->done_bytes, bytes, memory_order_relaxed);
        if ((err = atomic_load(&e->err)) != 0)
            return err;
    }
    return 0;
}
