/*
 * trace_fiu.c - FIU block traces (docs/traces.md): one request per line,
 *
 *     ts pid process lba size W|R major minor md5 [md5 ...]
 *
 * fields separated by runs of blanks (spaces, tabs), size in 512-byte
 * sectors (a positive multiple of 8), one MD5 (32 hex digits, either case)
 * per 4 KiB block: exactly size / 8 of them. A write gives one record per
 * block (length 4096, offset lba * 512 + 4096 k, stream 0); a read is
 * checked the same way, then skipped and counted, as are '#' comments. Blank
 * lines are ignored. Anything else stops the reader with "FILE:LINE:
 * expected ..., got '...'". A line is validated whole before any of its
 * records is delivered.
 */
#include <stdlib.h>
#include <string.h>

#include "trace_int.h"

#define FIU_BLOCK 4096u

static const char *const FIELD[8] = {
    "timestamp", "pid", "process name", "lba", "size", "W or R", "major", "minor",
};

/* 32 hex digits into 16 bytes: 0 or -1. */
static int md5_hex(const char *s, size_t n, uint8_t *out)
{
    if (n != 32)
        return -1;
    for (size_t i = 0; i < 16; i++) {
        int hi = tr_hexval((unsigned char)s[2 * i]), lo = tr_hexval((unsigned char)s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static int fiu_line(ddx_trace *t, const char *s, size_t n)
{
    unsigned long long ln = (unsigned long long)t->counts.lines;
    char q[TR_QUOTE_MAX];
    size_t i = 0;
    while (i < n && tr_blank(s[i]))
        i++;
    if (i == n)
        return 0; /* blank */
    if (s[i] == '#') {
        t->counts.skipped++;
        return 0;
    }
    const char *f[8];
    size_t fl[8];
    uint64_t v[8];
    for (int k = 0; k < 8; k++) {
        if (!tr_token(s, n, &i, &f[k], &fl[k]))
            return tr_fail(t, DDX_ECORRUPT, ":%llu: expected %s, got end of line", ln, FIELD[k]);
        if (k == 2)
            continue; /* any process name */
        if (k == 5) {
            if (fl[5] != 1 || (f[5][0] != 'W' && f[5][0] != 'R'))
                return tr_fail(t, DDX_ECORRUPT, ":%llu: expected W or R, got '%s'", ln,
                               tr_quote(q, f[5], fl[5]));
            continue;
        }
        if (tr_u64(f[k], fl[k], &v[k]))
            return tr_fail(t, DDX_ECORRUPT,
                           ":%llu: expected %s (a decimal integer < 2^64), got '%s'", ln, FIELD[k],
                           tr_quote(q, f[k], fl[k]));
        if (k == 4 && (v[4] == 0 || v[4] % 8))
            return tr_fail(t, DDX_ECORRUPT,
                           ":%llu: expected size (sectors, a positive multiple of 8), got '%s'", ln,
                           tr_quote(q, f[4], fl[4]));
    }
    int write = f[5][0] == 'W';
    size_t count = 0;
    const char *tok;
    size_t tl;
    while (tr_token(s, n, &i, &tok, &tl)) {
        if (count == t->pend_cap) /* cannot happen within TR_LINE_MAX; kept for safety */
            return tr_fail(t, DDX_ECORRUPT, ":%llu: expected at most %zu md5 fields, got more", ln,
                           t->pend_cap);
        ddx_chunk *c = &t->pend[count];
        if (md5_hex(tok, tl, c->fp))
            return tr_fail(t, DDX_ECORRUPT, ":%llu: expected md5 (32 hex digits), got '%s'", ln,
                           tr_quote(q, tok, tl));
        count++;
    }
    if (count != v[4] / 8)
        return tr_fail(t, DDX_ECORRUPT, ":%llu: expected %llu md5 fields (size %llu / 8), got %zu",
                       ln, (unsigned long long)(v[4] / 8), (unsigned long long)v[4], count);
    /* every block's byte address lba * 512 + 4096 k must fit in 64 bits */
    if (v[3] > (UINT64_MAX - (uint64_t)FIU_BLOCK * (count - 1)) / 512)
        return tr_fail(t, DDX_ECORRUPT,
                       ":%llu: expected lba (byte address lba * 512 < 2^64), got '%s'", ln,
                       tr_quote(q, f[3], fl[3]));
    if (!write) {
        t->counts.skipped++;
        return 0;
    }
    for (size_t k = 0; k < count; k++) {
        ddx_chunk *c = &t->pend[k];
        c->stream = 0;
        c->offset = v[3] * 512 + (uint64_t)FIU_BLOCK * k;
        c->length = FIU_BLOCK;
        c->is_new = 0;
        memset(c->fp + 16, 0, sizeof c->fp - 16);
    }
    t->npend = count;
    return 0;
}

static int fiu_advance(ddx_trace *t)
{
    return tr_text_advance(t, fiu_line);
}

int tr_fiu_shape(const char *s, size_t n)
{
    size_t i = 0, k = 0;
    const char *tok, *op = NULL;
    size_t tl, opl = 0;
    while (tr_token(s, n, &i, &tok, &tl)) {
        if (++k == 6)
            op = tok, opl = tl;
    }
    return k >= 9 && opl == 1 && (op[0] == 'W' || op[0] == 'R');
}

int tr_fiu_open(ddx_trace *t)
{
    t->fp_size = 16;
    t->hash = "md5";
    t->pend_cap = TR_FIU_MAX_MD5;
    t->pend = malloc(t->pend_cap * sizeof *t->pend);
    if (!t->pend)
        return tr_fail(t, DDX_ENOMEM, ": out of memory");
    t->advance = fiu_advance;
    return 0;
}
