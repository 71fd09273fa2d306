/*
 * trace_int.h - internals shared by the fingerprint-trace readers and the
 * writer (ddx.h, "fingerprint traces"; layouts in docs/format.md, text
 * grammars in docs/traces.md).
 *
 * Design. A reader is one ddx_trace over a byte source: a file descriptor
 * read through a fixed 1 MiB buffer, or caller memory used in place. The
 * format modules never touch the source directly: they ask for a line
 * (tr_line_at, text formats) or for n contiguous bytes (tr_need, binary), and
 * consume what they used (tr_consume). Each module's advance() turns the next
 * unit of input - one line, one block - into "pending" records, validated as
 * a whole before any of them is delivered, so an error never leaves half a
 * unit delivered. ddx_trace_read() copies pending records out and calls
 * advance() again. Memory is the buffer plus the pending array (at most one
 * block of 4096 records): independent of the trace's length.
 */
#ifndef DDX_TRACE_INT_H
#define DDX_TRACE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "ddx.h"

/* ---- limits ------------------------------------------------------------ */
#define TR_BUF_SIZE (1u << 20)      /* read buffer of an fd source */
#define TR_LINE_MAX 65536u          /* longest text line, terminator excluded */
#define TR_DETECT_WINDOW (1u << 19) /* detection reads lines starting in these first bytes */
#define TR_REC_MAX (64u << 20)      /* largest record (chunk) length */

/* ---- ddx binary trace, version 1 (docs/format.md) ----------------------- */
#define TR_MAGIC "DDXTRACE"
#define TR_VERSION 1
#define TR_HDR 64                /* file header */
#define TR_BLK_HDR 16            /* block header */
#define TR_BLK_MAGIC 0x4B425444u /* "DTBK" as bytes */
#define TR_BLK_ENTRIES 4096u     /* entries (records and stream marks) per block */
#define TR_END_PAYLOAD 24        /* u64 records, u64 streams, u64 bytes */
/* hash ids in the header */
enum { TR_HASH_UNKNOWN = 0, TR_HASH_SHA1 = 1, TR_HASH_SHA256 = 2, TR_HASH_MD5 = 3 };

/* FIU: a line of at most TR_LINE_MAX bytes holds at most this many md5
 * fields (33 bytes each with their separator). */
#define TR_FIU_MAX_MD5 (TR_LINE_MAX / 33 + 1)

static inline void tr_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline void tr_put64(uint8_t *p, uint64_t v)
{
    tr_put32(p, (uint32_t)v);
    tr_put32(p + 4, (uint32_t)(v >> 32));
}
static inline uint32_t tr_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t tr_get64(const uint8_t *p)
{
    return (uint64_t)tr_get32(p) | (uint64_t)tr_get32(p + 4) << 32;
}

/* The name of a header hash id ("" for unknown or out of range). */
const char *tr_hash_name(unsigned id);

/* ---- the reader ---------------------------------------------------------- */
struct ddx_trace {
    ddx_trace_format fmt; /* detected or given; never AUTO after open */
    char *name;           /* for messages: the path, "<stdin>" or the caller's name */

    /* The source: data[pos, end) is buffered and not yet consumed. For
     * memory, data is the caller's bytes and eof is set from the start. */
    int fd;              /* -1: memory */
    int own_fd;          /* close fd at close (not stdin) */
    const uint8_t *data; /* buf, or the caller's memory */
    uint8_t *buf;        /* TR_BUF_SIZE bytes (fd sources only) */
    size_t pos, end;
    int eof;           /* read() returned 0: nothing follows data[end] */
    uint64_t consumed; /* bytes consumed: the input offset of data[pos] */

    int err;        /* sticky: every later read returns it */
    char msg[1024]; /* the error's one line ("" if none) */

    size_t fp_size; /* bytes of fingerprint per record */
    const char *hash;
    ddx_trace_counts counts;

    /* Records of the last unit of input (line or block), validated whole,
     * not yet delivered: pend[ipend, npend). */
    ddx_chunk *pend;
    size_t npend, ipend, pend_cap;
    int done;                           /* advance() found the end */
    int (*advance)(struct ddx_trace *); /* fill pend, or set done; 0 or an error */

    /* Stream state (FSL, ddx): records so far in the current stream decide
     * whether a stream start opens a new number. */
    uint64_t stream, offset;
    int stream_used;

    /* ddx: blocks read, totals for the end block's check. */
    uint64_t blocks, tot_records, tot_bytes;
};

/* Set the sticky error with a message: the trace's name, then fmt (which
 * starts with ":LINE: ..." or ": block ..."). Returns rc. */
int tr_fail(ddx_trace *t, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* An I/O error on the source: "NAME: read: strerror". Returns rc. */
int tr_io_fail(ddx_trace *t, int rc);
/* Up to 40 bytes of p[0, n) for a message, non-printable bytes as \xNN,
 * "..." when cut; out must hold TR_QUOTE_MAX bytes. */
#define TR_QUOTE_MAX 200
const char *tr_quote(char *out, const char *p, size_t n);

/* Make n bytes (n <= TR_BUF_SIZE) contiguous at data + pos, or as many as
 * the input still has. 0 or an errno value; *avail gets the bytes there. */
int tr_need(ddx_trace *t, size_t n, size_t *avail);
static inline void tr_consume(ddx_trace *t, size_t n)
{
    t->pos += n;
    t->consumed += n;
}
/* The line starting off bytes after pos (off < TR_DETECT_WINDOW): *line,
 * *len without its terminator ("\n" or "\r\n"; the last line may have none),
 * *adv the bytes it takes with the terminator. Returns 0; 1 when no line is
 * left; TR_LONG for a line over TR_LINE_MAX; or an errno value. The pointer
 * is valid until the next call that reads from the source. */
#define TR_LONG (-1)
int tr_line_at(ddx_trace *t, size_t off, const char **line, size_t *len, size_t *adv);
/* The next line, consumed; counts.lines counts it. Same returns, except that
 * a long line has become the sticky DDX_ECORRUPT with its message. */
int tr_next_line(ddx_trace *t, const char **line, size_t *len);
/* advance() of the text formats: feed lines to line() until one yields
 * records or the input ends. */
int tr_text_advance(ddx_trace *t, int (*line)(ddx_trace *, const char *, size_t));

/* ---- text helpers ---------------------------------------------------------- */
static inline int tr_blank(int c)
{
    return c == ' ' || c == '\t';
}
static inline int tr_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}
/* The next blank-separated token of s[*i, n): 1 with *tok, *tlen and *i past
 * it, or 0 at the end of the line. */
int tr_token(const char *s, size_t n, size_t *i, const char **tok, size_t *tlen);
/* A decimal u64 (digits only, no sign, no overflow): 0 or -1. */
int tr_u64(const char *s, size_t n, uint64_t *out);

/* ---- the formats ------------------------------------------------------------ */
/* Each open_* runs after the source is set up: reads what it needs (the
 * header; FSL: up to its first record, for the fingerprint size), sets
 * fp_size, hash, advance, and the pending array. 0 or an error with t->msg. */
int tr_ddx_open(ddx_trace *t);
int tr_fiu_open(ddx_trace *t);
int tr_fsl_open(ddx_trace *t);
/* Auto-detection helpers: does this non-blank line have FIU's shape (>= 9
 * fields, the sixth W or R), or start with an FSL hash? */
int tr_fiu_shape(const char *s, size_t n);
int tr_fsl_shape(const char *s, size_t n);

#endif
