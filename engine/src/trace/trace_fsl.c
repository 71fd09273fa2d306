/*
 * trace_fsl.c - FSL fs-hasher traces as hf-stat prints them (docs/traces.md):
 *
 *     HASH SIZE [anything]     a chunk: HASH is 1..32 bytes as hex pairs
 *                              joined by ':' ("b5:2e:e9:82:66:a5"), SIZE
 *                              decimal 1..64 MiB; every chunk of a trace
 *                              has the hash length of the first
 *     File path: ... / File: ...   a text line that starts a new stream
 *                              (when the current one has records)
 *     any other line whose first character is a letter or '#': a text line,
 *                              skipped and counted; blank lines: ignored
 *
 * Leading blanks are ignored. A line is a chunk line if it starts with a
 * digit, or with two hex digits and ':'; it must then parse, else "FILE:LINE:
 * expected 'HASH SIZE' ...". A line starting with two hex digits and a
 * blank (a 1-byte hash, or a word such as "Be") is a chunk line if it
 * parses, else a text line. Any other line is an error. Offsets are the
 * running byte offset within the stream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace_int.h"

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_letter(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The bytes of a hash token "xx:xx:...": their number (1..), -1 if it is not
 * hex pairs joined by ':'. out (DDX_FP_MAX bytes, may be NULL) gets them
 * when there are at most DDX_FP_MAX. */
static long fsl_hash(const char *s, size_t n, uint8_t *out)
{
    if (n < 2 || (n + 1) % 3)
        return -1;
    size_t bytes = (n + 1) / 3;
    for (size_t b = 0; b < bytes; b++) {
        int hi = tr_hexval((unsigned char)s[3 * b]), lo = tr_hexval((unsigned char)s[3 * b + 1]);
        if (hi < 0 || lo < 0 || (b + 1 < bytes && s[3 * b + 2] != ':'))
            return -1;
        if (out && bytes <= DDX_FP_MAX)
            out[b] = (uint8_t)(hi << 4 | lo);
    }
    return (long)bytes;
}

/* Parse s[i, n) as a chunk line into pend[0]. 0; 1 with why if it is not of
 * the form HASH SIZE; 2 with why if it is but cannot be taken (hash too
 * long, another hash length than the first record's, offset overflow). */
static int fsl_chunk(ddx_trace *t, const char *s, size_t n, size_t i, char *why, size_t wl)
{
    char q[TR_QUOTE_MAX];
    const char *tok, *sz;
    size_t tl, sl;
    ddx_chunk *c = &t->pend[0];
    tr_token(s, n, &i, &tok, &tl);
    long bytes = fsl_hash(tok, tl, c->fp);
    if (bytes < 0) {
        snprintf(why, wl, "expected 'HASH SIZE' (HASH: hex byte pairs joined by ':'), got '%s'",
                 tr_quote(q, tok, tl));
        return 1;
    }
    if (!tr_token(s, n, &i, &sz, &sl)) {
        snprintf(why, wl, "expected 'HASH SIZE', got no SIZE after '%s'", tr_quote(q, tok, tl));
        return 1;
    }
    uint64_t size;
    if (tr_u64(sz, sl, &size) || size == 0 || size > TR_REC_MAX) {
        snprintf(why, wl, "expected 'HASH SIZE' (SIZE decimal, 1..%u), got '%s'", TR_REC_MAX,
                 tr_quote(q, sz, sl));
        return 1;
    }
    if (bytes > DDX_FP_MAX) {
        snprintf(why, wl, "expected a HASH of 1..%d bytes, got %ld bytes ('%s')", DDX_FP_MAX, bytes,
                 tr_quote(q, tok, tl));
        return 2;
    }
    if (t->fp_size && (size_t)bytes != t->fp_size) {
        snprintf(why, wl,
                 "expected a HASH of %zu bytes (as the first record's), got %ld bytes ('%s')",
                 t->fp_size, bytes, tr_quote(q, tok, tl));
        return 2;
    }
    if (t->offset > UINT64_MAX - size) {
        snprintf(why, wl, "expected a stream shorter than 2^64 bytes, got a chunk past it");
        return 2;
    }
    if (!t->fp_size)
        t->fp_size = (size_t)bytes;
    memset(c->fp + bytes, 0, sizeof c->fp - (size_t)bytes);
    c->stream = t->stream;
    c->offset = t->offset;
    c->length = (uint32_t)size;
    c->is_new = 0;
    t->offset += size;
    t->stream_used = 1;
    t->npend = 1;
    return 0;
}

static int fsl_line(ddx_trace *t, const char *s, size_t n)
{
    unsigned long long ln = (unsigned long long)t->counts.lines;
    size_t i = 0;
    while (i < n && tr_blank(s[i]))
        i++;
    if (i == n)
        return 0; /* blank */
    unsigned char c = (unsigned char)s[i];
    int hex2 = n - i >= 2 && tr_hexval(c) >= 0 && tr_hexval((unsigned char)s[i + 1]) >= 0;
    int strict = is_digit(c) || (hex2 && n - i >= 3 && s[i + 2] == ':');
    int soft = !strict && hex2 && (n - i == 2 || tr_blank(s[i + 2]));
    char why[512];
    if (strict || soft) {
        int k = fsl_chunk(t, s, n, i, why, sizeof why);
        if (k == 0)
            return 0;
        if (strict || k == 2)
            return tr_fail(t, DDX_ECORRUPT, ":%llu: %s", ln, why);
    }
    if (is_letter(c) || c == '#') {
        t->counts.skipped++;
        if ((n - i >= 10 && !memcmp(s + i, "File path:", 10)) ||
            (n - i >= 5 && !memcmp(s + i, "File:", 5))) {
            if (t->stream_used) {
                t->stream++;
                t->offset = 0;
                t->stream_used = 0;
            }
        }
        return 0;
    }
    char q[TR_QUOTE_MAX];
    const char *tok;
    size_t tl;
    tr_token(s, n, &i, &tok, &tl);
    return tr_fail(t, DDX_ECORRUPT, ":%llu: expected 'HASH SIZE' or a text line, got '%s'", ln,
                   tr_quote(q, tok, tl));
}

static int fsl_advance(ddx_trace *t)
{
    return tr_text_advance(t, fsl_line);
}

int tr_fsl_shape(const char *s, size_t n)
{
    size_t i = 0;
    const char *tok, *sz;
    size_t tl, sl;
    uint64_t size;
    if (!tr_token(s, n, &i, &tok, &tl) || fsl_hash(tok, tl, NULL) < 0)
        return 0;
    return tl > 2 || (tr_token(s, n, &i, &sz, &sl) && !tr_u64(sz, sl, &size));
}

int tr_fsl_open(ddx_trace *t)
{
    t->hash = "";
    t->pend_cap = 1;
    t->pend = malloc(sizeof *t->pend);
    if (!t->pend)
        return tr_fail(t, DDX_ENOMEM, ": out of memory");
    t->advance = fsl_advance;
    /* Read up to the first record: its hash length is the trace's
     * fingerprint size (0 if the trace has no records). */
    return fsl_advance(t);
}
