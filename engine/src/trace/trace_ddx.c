/*
 * trace_ddx.c - reader of ddx binary traces, version 1 (docs/format.md,
 * "Fingerprint trace"): a 64-byte header, data blocks of up to 4096 entries
 * (records and stream marks) each covered by a CRC-32C, and an end block
 * whose totals must match what was read. Nothing may follow it.
 *
 * Untrusted input: a block header's count and payload size are checked
 * against the limits (4096 entries, 4 + fp_size bytes each) before any of
 * the payload is read, so a block never needs more than 16 + 4096 x 36
 * bytes of the read buffer; every entry is checked against the payload's
 * end. The whole block (checksum and every entry) is validated before its
 * first record is delivered. Stream marks must separate non-empty streams:
 * none before the first record, two in a row, or last (the writer never
 * makes them, and accepting them would give two encodings of one trace).
 */
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "trace_int.h"

static int ddx_header(ddx_trace *t)
{
    size_t avail;
    int rc = tr_need(t, TR_HDR, &avail);
    if (rc)
        return tr_io_fail(t, rc);
    const uint8_t *h = t->data + t->pos;
    if (memcmp(h, TR_MAGIC, avail < 8 ? avail : 8))
        return tr_fail(t, DDX_ECORRUPT, ": header: bad magic (not a ddx trace)");
    if (avail < TR_HDR)
        return tr_fail(t, DDX_ECORRUPT, ": header: truncated (%zu of %d bytes)", avail, TR_HDR);
    unsigned version = (unsigned)h[8] | (unsigned)h[9] << 8;
    /* The version comes before the checksum: a newer format may lay out
     * the rest of its header differently. */
    if (version > TR_VERSION)
        return tr_fail(t, DDX_EFORMAT, ": trace format version %u is newer than this reader (%d)",
                       version, TR_VERSION);
    if (tr_get32(h + 60) != ddx_crc32c(0, h, 60))
        return tr_fail(t, DDX_ECORRUPT, ": header: checksum mismatch");
    if (version != TR_VERSION)
        return tr_fail(t, DDX_ECORRUPT, ": header: version %u, expected %d", version, TR_VERSION);
    if (h[10] < 1 || h[10] > DDX_FP_MAX)
        return tr_fail(t, DDX_ECORRUPT, ": header: fingerprint size %u out of range 1..%d", h[10],
                       DDX_FP_MAX);
    if (h[11] > TR_HASH_MD5)
        return tr_fail(t, DDX_ECORRUPT, ": header: unknown hash id %u", h[11]);
    if (tr_get32(h + 12))
        return tr_fail(t, DDX_ECORRUPT, ": header: unknown flags 0x%x", tr_get32(h + 12));
    for (int i = 24; i < 60; i++)
        if (h[i])
            return tr_fail(t, DDX_ECORRUPT, ": header: reserved byte %d is not zero", i);
    t->fp_size = h[10];
    t->hash = tr_hash_name(h[11]);
    tr_consume(t, TR_HDR);
    return 0;
}

/* After the end block: one more byte is an error. */
static int ddx_trailing(ddx_trace *t, unsigned long long no, unsigned long long off)
{
    size_t avail;
    int rc = tr_need(t, 1, &avail);
    if (rc)
        return tr_io_fail(t, rc);
    if (avail)
        return tr_fail(t, DDX_ECORRUPT,
                       ": block %llu at byte %llu: bytes follow the end block (nothing may)", no,
                       off);
    return 0;
}

static int ddx_end(ddx_trace *t, const uint8_t *p, unsigned long long no, unsigned long long off)
{
    if (t->tot_records && !t->stream_used)
        return tr_fail(t, DDX_ECORRUPT,
                       ": block %llu at byte %llu: the last stream mark is followed by no record",
                       no, off);
    uint64_t recs = tr_get64(p), streams = tr_get64(p + 8), bytes = tr_get64(p + 16);
    uint64_t have_streams = t->tot_records ? t->stream + 1 : 0;
    if (recs != t->tot_records || streams != have_streams || bytes != t->tot_bytes)
        return tr_fail(t, DDX_ECORRUPT,
                       ": block %llu at byte %llu: end block says %llu records, %llu streams, "
                       "%llu bytes; the trace holds %llu, %llu, %llu",
                       no, off, (unsigned long long)recs, (unsigned long long)streams,
                       (unsigned long long)bytes, (unsigned long long)t->tot_records,
                       (unsigned long long)have_streams, (unsigned long long)t->tot_bytes);
    return 0;
}

/* Decode a data block's payload (checksum already checked) into pend. */
static int ddx_entries(ddx_trace *t, const uint8_t *p, uint32_t count, uint32_t plen,
                       unsigned long long no, unsigned long long off)
{
    size_t at = 0, fp = t->fp_size;
    for (uint32_t e = 0; e < count; e++) {
        if (plen - at < 4)
            return tr_fail(t, DDX_ECORRUPT,
                           ": block %llu at byte %llu: entry %u of %u runs past the payload", no,
                           off, e, count);
        uint32_t len = tr_get32(p + at);
        at += 4;
        if (len == 0) {
            if (!t->stream_used)
                return tr_fail(t, DDX_ECORRUPT,
                               ": block %llu at byte %llu: entry %u: stream mark with no record "
                               "before it in its stream",
                               no, off, e);
            t->stream++;
            t->offset = 0;
            t->stream_used = 0;
            continue;
        }
        if (len > TR_REC_MAX)
            return tr_fail(t, DDX_ECORRUPT,
                           ": block %llu at byte %llu: record length 0x%x exceeds 64 MiB", no, off,
                           len);
        if (plen - at < fp)
            return tr_fail(t, DDX_ECORRUPT,
                           ": block %llu at byte %llu: entry %u of %u runs past the payload", no,
                           off, e, count);
        if (t->offset > UINT64_MAX - len || t->tot_bytes > UINT64_MAX - len)
            return tr_fail(t, DDX_ECORRUPT, ": block %llu at byte %llu: byte count overflows 2^64",
                           no, off);
        ddx_chunk *c = &t->pend[t->npend++];
        c->stream = t->stream;
        c->offset = t->offset;
        c->length = len;
        c->is_new = 0;
        memcpy(c->fp, p + at, fp);
        memset(c->fp + fp, 0, sizeof c->fp - fp);
        at += fp;
        t->offset += len;
        t->tot_bytes += len;
        t->tot_records++;
        t->stream_used = 1;
    }
    if (at != plen)
        return tr_fail(t, DDX_ECORRUPT,
                       ": block %llu at byte %llu: %zu payload bytes after its %u entries", no, off,
                       (size_t)plen - at, count);
    return 0;
}

static int ddx_advance(ddx_trace *t)
{
    unsigned long long no = (unsigned long long)t->blocks + 1;
    unsigned long long off = (unsigned long long)t->consumed;
    size_t avail;
    int rc = tr_need(t, TR_BLK_HDR, &avail);
    if (rc)
        return tr_io_fail(t, rc);
    if (avail == 0) {
        if (t->blocks == 0)
            return tr_fail(t, DDX_ECORRUPT, ": truncated after the header (no end block)");
        return tr_fail(t, DDX_ECORRUPT, ": truncated after block %llu (no end block)", no - 1);
    }
    if (avail < TR_BLK_HDR)
        return tr_fail(t, DDX_ECORRUPT,
                       ": block %llu at byte %llu: truncated block header (%zu of %d bytes)", no,
                       off, avail, TR_BLK_HDR);
    const uint8_t *h = t->data + t->pos;
    uint32_t magic = tr_get32(h), count = tr_get32(h + 4), plen = tr_get32(h + 8);
    if (magic != TR_BLK_MAGIC)
        return tr_fail(t, DDX_ECORRUPT, ": block %llu at byte %llu: bad block magic 0x%08x", no,
                       off, magic);
    if (count > TR_BLK_ENTRIES)
        return tr_fail(t, DDX_ECORRUPT, ": block %llu at byte %llu: count %u exceeds %u entries",
                       no, off, count, TR_BLK_ENTRIES);
    if (count == 0 && plen != TR_END_PAYLOAD)
        return tr_fail(t, DDX_ECORRUPT,
                       ": block %llu at byte %llu: end block payload of %u bytes, expected %d", no,
                       off, plen, TR_END_PAYLOAD);
    uint64_t most = (uint64_t)count * (4 + t->fp_size);
    if (count && (plen > most || plen < (uint64_t)count * 4))
        return tr_fail(t, DDX_ECORRUPT,
                       ": block %llu at byte %llu: payload of %u bytes does not fit %u entries", no,
                       off, plen, count);
    if ((rc = tr_need(t, TR_BLK_HDR + (size_t)plen, &avail)) != 0)
        return tr_io_fail(t, rc);
    if (avail < TR_BLK_HDR + (size_t)plen)
        return tr_fail(t, DDX_ECORRUPT,
                       ": block %llu at byte %llu: truncated payload (%zu of %u bytes)", no, off,
                       avail - TR_BLK_HDR, plen);
    h = t->data + t->pos; /* tr_need may have moved the buffer */
    const uint8_t *p = h + TR_BLK_HDR;
    if (tr_get32(h + 12) != ddx_crc32c(0, p, plen))
        return tr_fail(t, DDX_ECORRUPT, ": block %llu at byte %llu: payload checksum mismatch", no,
                       off);
    t->blocks++;
    t->counts.lines++;
    if (count == 0) {
        if ((rc = ddx_end(t, p, no, off)) != 0)
            return rc;
        tr_consume(t, TR_BLK_HDR + (size_t)plen);
        if ((rc = ddx_trailing(t, no, off)) != 0)
            return rc;
        t->done = 1;
        return 0;
    }
    if ((rc = ddx_entries(t, p, count, plen, no, off)) != 0) {
        t->npend = 0;
        return rc;
    }
    tr_consume(t, TR_BLK_HDR + (size_t)plen);
    return 0;
}

int tr_ddx_open(ddx_trace *t)
{
    int rc = ddx_header(t);
    if (rc)
        return rc;
    t->pend_cap = TR_BLK_ENTRIES;
    t->pend = malloc(t->pend_cap * sizeof *t->pend);
    if (!t->pend)
        return tr_fail(t, DDX_ENOMEM, ": out of memory");
    t->advance = ddx_advance;
    return 0;
}
