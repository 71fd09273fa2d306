/*
 * fuzz_trace.c - libFuzzer target: the fingerprint-trace readers
 * (engine/src/trace/, docs/format.md, docs/traces.md).
 *
 * The first input byte picks the format (byte % 4: auto, ddx, fiu, fsl),
 * the rest is the trace, opened with ddx_trace_open_mem() and read to its
 * end or its first error, twice: 7 records per call, then 1 record per
 * call. Both passes must give the same records, the same final code and
 * the same message.
 *
 * A mutated binary trace almost never keeps its CRC-32Cs, so a binary input
 * (one with the ddx magic) is also read as a copy whose header CRC and block
 * CRCs were recomputed: mutated block headers and payloads then reach the
 * entry decoder and the end block's checks.
 *
 * Invariants (abort() when broken): open and read return 0, DDX_ECORRUPT or
 * DDX_EFORMAT (open only); a failure has a message of one line that starts
 * with the trace's name; an opened trace has a format (the one asked for,
 * if any) and a fingerprint size of 1..32 (0 only for an FSL trace that has
 * no records); every record has length 1..64 MiB, is_new 0 and zeros past
 * the fingerprint size; streams start at 0 and go up by one; ddx and FSL
 * offsets run from 0 within each stream, FIU records are 4096-byte blocks
 * at 512-byte-aligned addresses in stream 0; the counts agree with what was
 * delivered; an error is sticky.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "ddx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAME "fuzz.trace"

typedef struct outcome {
    int open_rc, rc;
    uint64_t records, hash;
    char msg[1024];
} outcome;

static void check_msg(const char *m)
{
    if (!m[0] || strchr(m, '\n') || strncmp(m, NAME, strlen(NAME)))
        abort();
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static void check_record(const ddx_chunk *c, ddx_trace_format fmt, size_t fp, uint64_t *stream,
                         uint64_t *off, int first)
{
    if (c->length < 1 || c->length > (64u << 20) || c->is_new)
        abort();
    for (size_t k = fp; k < DDX_FP_MAX; k++)
        if (c->fp[k])
            abort();
    if (fmt == DDX_TRACE_FIU) {
        if (c->stream || c->length != 4096 || c->offset % 512)
            abort();
        return;
    }
    if (first ? c->stream != 0 : c->stream != *stream && c->stream != *stream + 1)
        abort();
    if (first || c->stream != *stream)
        *off = 0;
    if (c->offset != *off)
        abort();
    *stream = c->stream;
    *off += c->length;
}

static void run(const uint8_t *p, size_t n, ddx_trace_format want, size_t max, outcome *o)
{
    memset(o, 0, sizeof *o);
    o->hash = 0xcbf29ce484222325ull;
    ddx_trace *t = NULL;
    char why[1024] = "";
    o->open_rc = ddx_trace_open_mem(&t, p, n, NAME, want, why, sizeof why);
    if (o->open_rc) {
        if (t || (o->open_rc != DDX_ECORRUPT && o->open_rc != DDX_EFORMAT))
            abort();
        check_msg(why);
        memcpy(o->msg, why, sizeof o->msg);
        return;
    }
    ddx_trace_format fmt = ddx_trace_get_format(t);
    size_t fp = ddx_trace_fp_size(t);
    if (fmt == DDX_TRACE_AUTO || (want != DDX_TRACE_AUTO && fmt != want) || fp > DDX_FP_MAX ||
        (fp == 0 && fmt != DDX_TRACE_FSL) || ddx_trace_errmsg(t)[0])
        abort();
    ddx_chunk c[7];
    uint64_t stream = 0, off = 0;
    for (;;) {
        size_t got = 99;
        int rc = ddx_trace_read(t, c, max, &got);
        if (rc) {
            if (rc != DDX_ECORRUPT || got)
                abort();
            o->rc = rc;
            check_msg(ddx_trace_errmsg(t));
            memcpy(o->msg, ddx_trace_errmsg(t), sizeof o->msg);
            if (ddx_trace_read(t, c, max, &got) != rc || got || strcmp(o->msg, ddx_trace_errmsg(t)))
                abort(); /* sticky */
            break;
        }
        if (got > max)
            abort();
        if (!got) {
            if (ddx_trace_errmsg(t)[0])
                abort();
            break;
        }
        if (fp == 0)
            abort(); /* records without a fingerprint size */
        for (size_t i = 0; i < got; i++) {
            check_record(&c[i], fmt, fp, &stream, &off, o->records == 0 && i == 0);
            o->hash = fnv(o->hash, &c[i], sizeof c[i]);
        }
        o->records += got;
    }
    ddx_trace_counts k;
    ddx_trace_get_counts(t, &k);
    if (k.records != o->records || k.bytes_read > n)
        abort();
    ddx_trace_close(t);
}

static void both(const uint8_t *p, size_t n, ddx_trace_format want)
{
    outcome a, b;
    run(p, n, want, 7, &a);
    run(p, n, want, 1, &b);
    if (a.open_rc != b.open_rc || a.rc != b.rc || a.records != b.records || a.hash != b.hash ||
        strcmp(a.msg, b.msg))
        abort();
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16),
    p[3] = (uint8_t)(v >> 24);
}

/* Recompute the header CRC and the CRC of every block whose payload fits.
 * Returns whether anything changed. */
static int fix_crcs(uint8_t *b, size_t n)
{
    if (n < 64 || memcmp(b, "DDXTRACE", 8))
        return 0;
    int changed = 0;
    uint32_t crc = ddx_crc32c(0, b, 60);
    if (get32(b + 60) != crc)
        put32(b + 60, crc), changed = 1;
    size_t at = 64;
    while (n - at >= 16) {
        uint32_t plen = get32(b + at + 8);
        if (plen > n - at - 16)
            break;
        crc = ddx_crc32c(0, b + at + 16, plen);
        if (get32(b + at + 12) != crc)
            put32(b + at + 12, crc), changed = 1;
        at += 16 + (size_t)plen;
    }
    return changed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    ddx_trace_format want = (ddx_trace_format)(data[0] % 4);
    /* an exact-size copy: a read past the trace is an ASan error */
    size_t n = size - 1;
    uint8_t *p = malloc(n ? n : 1);
    if (!p)
        abort();
    memcpy(p, data + 1, n);
    both(p, n, want);
    if (fix_crcs(p, n))
        both(p, n, want);
    free(p);
    return 0;
}
