/*
 * trace.c - opening fingerprint traces (file, stdin or memory), format
 * detection, the buffered source and line reader every format reads
 * through, and ddx_trace_read(), which hands out the pending records the
 * format modules (trace_ddx.c, trace_fiu.c, trace_fsl.c) produce.
 *
 * Detection (DDX_TRACE_AUTO): the ddx magic in the first 8 bytes; else the
 * first line, among those starting in the first 512 KiB, that is not blank,
 * not a '#' comment and not a text line (first character a letter that does
 * not begin an FSL hash): FIU if it has FIU's shape (>= 9 fields, the sixth
 * W or R; checked first, since a 2-digit FIU timestamp is also a 1-byte FSL
 * hash), FSL if it starts with an FSL hash, else "unknown trace format".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddx.h"
#include "trace_int.h"

/* ---- names ------------------------------------------------------------------- */

static const char *const FORMAT_NAMES[] = {"auto", "ddx", "fiu", "fsl"};

const char *ddx_trace_format_name(ddx_trace_format f)
{
    return (unsigned)f < sizeof FORMAT_NAMES / sizeof *FORMAT_NAMES ? FORMAT_NAMES[f] : "unknown";
}

int ddx_trace_format_from_name(const char *name, ddx_trace_format *out)
{
    if (!name || !out)
        return DDX_EINVAL;
    for (unsigned i = 0; i < sizeof FORMAT_NAMES / sizeof *FORMAT_NAMES; i++)
        if (!strcmp(name, FORMAT_NAMES[i])) {
            *out = (ddx_trace_format)i;
            return 0;
        }
    return DDX_EINVAL;
}

const char *tr_hash_name(unsigned id)
{
    switch (id) {
    case TR_HASH_SHA1:
        return "sha1";
    case TR_HASH_SHA256:
        return "sha256";
    case TR_HASH_MD5:
        return "md5";
    default:
        return "";
    }
}

/* ---- errors ------------------------------------------------------------------ */

int tr_fail(ddx_trace *t, int rc, const char *fmt, ...)
{
    int n = snprintf(t->msg, sizeof t->msg, "%s", t->name);
    if (n < 0 || (size_t)n >= sizeof t->msg)
        n = (int)sizeof t->msg - 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->msg + n, sizeof t->msg - (size_t)n, fmt, ap);
    va_end(ap);
    t->err = rc;
    return rc;
}

int tr_io_fail(ddx_trace *t, int rc)
{
    return tr_fail(t, rc, ": read: %s", strerror(rc));
}

const char *tr_quote(char *out, const char *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    size_t o = 0, shown = n < 40 ? n : 40;
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = digits[c >> 4];
            out[o++] = digits[c & 15];
        }
    }
    if (shown < n) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

/* ---- the source -------------------------------------------------------------- */

/* One read() appending to the buffer, after moving the unconsumed bytes to
 * the front when less than a quarter of the buffer is free behind them. */
static int read_more(ddx_trace *t)
{
    if (t->eof)
        return 0;
    if (t->pos && TR_BUF_SIZE - t->end < TR_BUF_SIZE / 4) {
        memmove(t->buf, t->buf + t->pos, t->end - t->pos);
        t->end -= t->pos;
        t->pos = 0;
    }
    if (t->end == TR_BUF_SIZE)
        return 0; /* full: callers never ask for more than it holds */
    for (;;) {
        ssize_t r = read(t->fd, t->buf + t->end, TR_BUF_SIZE - t->end);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errno ? errno : EIO;
        if (r == 0)
            t->eof = 1;
        t->end += (size_t)r;
        return 0;
    }
}

int tr_need(ddx_trace *t, size_t n, size_t *avail)
{
    while (t->end - t->pos < n && !t->eof) {
        size_t before = t->end - t->pos;
        int rc = read_more(t);
        if (rc)
            return rc;
        if (t->end - t->pos == before && !t->eof && t->end == TR_BUF_SIZE && t->pos == 0)
            break; /* n > TR_BUF_SIZE: a caller bug; give what there is */
    }
    *avail = t->end - t->pos;
    return 0;
}

int tr_line_at(ddx_trace *t, size_t off, const char **line, size_t *len, size_t *adv)
{
    const uint8_t *p;
    size_t n;
    for (;;) {
        size_t avail = t->end - t->pos - off;
        size_t look = avail < TR_LINE_MAX + 2 ? avail : TR_LINE_MAX + 2;
        p = t->data + t->pos + off;
        const uint8_t *nl = look ? memchr(p, '\n', look) : NULL;
        if (nl) {
            n = (size_t)(nl - p);
            *adv = n + 1;
            break;
        }
        if (avail >= TR_LINE_MAX + 2)
            return TR_LONG;
        if (t->eof) {
            if (avail == 0)
                return 1;
            n = avail;
            *adv = avail;
            break;
        }
        int rc = read_more(t);
        if (rc)
            return rc;
    }
    if (n && p[n - 1] == '\r')
        n--;
    if (n > TR_LINE_MAX)
        return TR_LONG;
    *line = (const char *)p;
    *len = n;
    return 0;
}

int tr_next_line(ddx_trace *t, const char **line, size_t *len)
{
    size_t adv;
    int rc = tr_line_at(t, 0, line, len, &adv);
    if (rc == TR_LONG)
        return tr_fail(t, DDX_ECORRUPT,
                       ":%llu: expected a line of at most %u bytes, got a longer one",
                       (unsigned long long)t->counts.lines + 1, TR_LINE_MAX);
    if (rc > 1)
        return tr_io_fail(t, rc);
    if (rc == 1)
        return 1;
    t->counts.lines++;
    tr_consume(t, adv);
    return 0;
}

int tr_text_advance(ddx_trace *t, int (*line)(ddx_trace *, const char *, size_t))
{
    for (;;) {
        const char *s;
        size_t n;
        int rc = tr_next_line(t, &s, &n);
        if (rc == 1) {
            t->done = 1;
            return 0;
        }
        if (rc)
            return rc;
        if ((rc = line(t, s, n)) != 0)
            return rc;
        if (t->npend)
            return 0;
    }
}

/* ---- text helpers ------------------------------------------------------------ */

int tr_token(const char *s, size_t n, size_t *i, const char **tok, size_t *tlen)
{
    size_t k = *i;
    while (k < n && tr_blank(s[k]))
        k++;
    if (k == n) {
        *i = k;
        return 0;
    }
    size_t b = k;
    while (k < n && !tr_blank(s[k]))
        k++;
    *tok = s + b;
    *tlen = k - b;
    *i = k;
    return 1;
}

int tr_u64(const char *s, size_t n, uint64_t *out)
{
    if (n == 0)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* ---- detection ----------------------------------------------------------------- */

static int detect(ddx_trace *t)
{
    size_t avail;
    int rc = tr_need(t, 8, &avail);
    if (rc)
        return tr_io_fail(t, rc);
    if (avail >= 8 && !memcmp(t->data + t->pos, TR_MAGIC, 8)) {
        t->fmt = DDX_TRACE_DDX;
        return 0;
    }
    size_t off = 0;
    uint64_t lineno = 0;
    while (off < TR_DETECT_WINDOW) {
        const char *s;
        size_t n, adv;
        rc = tr_line_at(t, off, &s, &n, &adv);
        if (rc == 1)
            break;
        if (rc == TR_LONG)
            return tr_fail(t, DDX_ECORRUPT,
                           ":%llu: expected a line of at most %u bytes, got a longer one",
                           (unsigned long long)lineno + 1, TR_LINE_MAX);
        if (rc)
            return tr_io_fail(t, rc);
        lineno++;
        off += adv;
        size_t i = 0;
        while (i < n && tr_blank(s[i]))
            i++;
        if (i == n || s[i] == '#')
            continue;
        if (tr_fiu_shape(s, n)) {
            t->fmt = DDX_TRACE_FIU;
            return 0;
        }
        if (tr_fsl_shape(s, n)) {
            t->fmt = DDX_TRACE_FSL;
            return 0;
        }
        char c = s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
            continue; /* a text line (an FSL header) */
        break;
    }
    return tr_fail(t, DDX_ECORRUPT,
                   ": unknown trace format (expected ddx, fiu or fsl; use --trace-format)");
}

/* ---- open / read / close ------------------------------------------------------------ */

static int start(ddx_trace *t, ddx_trace_format fmt)
{
    size_t avail;
    int rc = tr_need(t, 1, &avail);
    if (rc)
        return tr_io_fail(t, rc);
    if (avail == 0)
        return tr_fail(t, DDX_ECORRUPT, ": empty trace (no bytes)");
    t->fmt = fmt;
    if (fmt == DDX_TRACE_AUTO && (rc = detect(t)) != 0)
        return rc;
    switch (t->fmt) {
    case DDX_TRACE_DDX:
        return tr_ddx_open(t);
    case DDX_TRACE_FIU:
        return tr_fiu_open(t);
    default:
        return tr_fsl_open(t);
    }
}

static ddx_trace *alloc_trace(const char *name)
{
    ddx_trace *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->fd = -1;
    t->name = strdup(name);
    if (!t->name) {
        free(t);
        return NULL;
    }
    return t;
}

/* Finish an open: on failure copy the message out and free the handle. */
static int opened(ddx_trace **out, ddx_trace *t, int rc, char *why, size_t why_len)
{
    if (!rc) {
        *out = t;
        return 0;
    }
    if (why && why_len) {
        if (t->msg[0])
            snprintf(why, why_len, "%s", t->msg);
        else
            snprintf(why, why_len, "%s: cannot open (error %d)", t->name, rc);
    }
    ddx_trace_close(t);
    *out = NULL;
    return rc;
}

static int bad_args(char *why, size_t why_len)
{
    if (why && why_len)
        snprintf(why, why_len, "trace: invalid argument");
    return DDX_EINVAL;
}

int ddx_trace_open(ddx_trace **out, const char *path, ddx_trace_format fmt, char *why,
                   size_t why_len)
{
    if (!out)
        return bad_args(why, why_len);
    *out = NULL;
    if (!path || (unsigned)fmt > DDX_TRACE_FSL)
        return bad_args(why, why_len);
    int std_in = !strcmp(path, "-");
    ddx_trace *t = alloc_trace(std_in ? "<stdin>" : path);
    if (!t || !(t->buf = malloc(TR_BUF_SIZE))) {
        ddx_trace_close(t);
        if (why && why_len)
            snprintf(why, why_len, "%s: out of memory", path);
        return DDX_ENOMEM;
    }
    t->data = t->buf;
    if (std_in) {
        t->fd = STDIN_FILENO;
    } else {
        t->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (t->fd < 0) {
            int rc = errno;
            tr_fail(t, rc, ": %s", strerror(rc));
            return opened(out, t, rc, why, why_len);
        }
        t->own_fd = 1;
    }
    return opened(out, t, start(t, fmt), why, why_len);
}

int ddx_trace_open_mem(ddx_trace **out, const void *p, size_t n, const char *name,
                       ddx_trace_format fmt, char *why, size_t why_len)
{
    if (!out)
        return bad_args(why, why_len);
    *out = NULL;
    if ((!p && n) || (unsigned)fmt > DDX_TRACE_FSL)
        return bad_args(why, why_len);
    ddx_trace *t = alloc_trace(name ? name : "<memory>");
    if (!t) {
        if (why && why_len)
            snprintf(why, why_len, "%s: out of memory", name ? name : "<memory>");
        return DDX_ENOMEM;
    }
    t->data = p ? p : (const uint8_t *)"";
    t->end = n;
    t->eof = 1;
    return opened(out, t, start(t, fmt), why, why_len);
}

ddx_trace_format ddx_trace_get_format(const ddx_trace *t)
{
    return t ? t->fmt : DDX_TRACE_AUTO;
}

size_t ddx_trace_fp_size(const ddx_trace *t)
{
    return t ? t->fp_size : 0;
}

const char *ddx_trace_hash_name(const ddx_trace *t)
{
    return t && t->hash ? t->hash : "";
}

int ddx_trace_read(ddx_trace *t, ddx_chunk *out, size_t max, size_t *got)
{
    if (got)
        *got = 0;
    if (!t || !out || !got || max == 0)
        return DDX_EINVAL;
    if (t->err)
        return t->err;
    size_t n = 0;
    int rc = 0;
    while (n < max) {
        if (t->ipend < t->npend) {
            size_t k = t->npend - t->ipend;
            if (k > max - n)
                k = max - n;
            memcpy(out + n, t->pend + t->ipend, k * sizeof *out);
            t->ipend += k;
            n += k;
            continue;
        }
        if (t->done)
            break;
        t->npend = t->ipend = 0;
        if ((rc = t->advance(t)) != 0)
            break;
    }
    t->counts.records += n;
    *got = n;
    /* Records validated before the error go out first; the error (sticky in
     * t->err) comes with the next call. */
    return n ? 0 : rc;
}

const char *ddx_trace_errmsg(const ddx_trace *t)
{
    return t ? t->msg : "";
}

void ddx_trace_get_counts(const ddx_trace *t, ddx_trace_counts *out)
{
    if (!out)
        return;
    if (!t) {
        memset(out, 0, sizeof *out);
        return;
    }
    *out = t->counts;
    out->bytes_read = t->consumed;
}

void ddx_trace_close(ddx_trace *t)
{
    if (!t)
        return;
    if (t->own_fd)
        close(t->fd);
    free(t->buf);
    free(t->pend);
    free(t->name);
    free(t);
}
