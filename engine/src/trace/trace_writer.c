/*
 * trace_writer.c - writes ddx binary traces, version 1 (docs/format.md).
 *
 * Memory is one block: entries are appended to it and it is written out
 * when its 4096 entries are full. A stream mark (an entry of length 0) goes
 * in whenever a record's stream differs from the previous record's, never
 * before the first record. Durability, in order:
 *
 *     header and blocks  -> PATH.tmp
 *     finish: last block, end block -> fsync(PATH.tmp) -> rename to PATH
 *             -> fsync(the directory)
 *
 * so PATH is either absent (or an older trace) or a complete trace with its
 * end block. Any failure removes PATH.tmp.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "trace_int.h"

struct ddx_trace_writer {
    char *path, *tmp;                 /* PATH, PATH.tmp */
    int fd;                           /* PATH.tmp, -1 once closed */
    size_t fp_size;                   /* bytes of fingerprint per record */
    uint8_t *blk;                     /* block header + payload being filled */
    size_t plen;                      /* payload bytes in blk */
    uint32_t count;                   /* entries in blk */
    uint64_t records, streams, bytes; /* totals for the end block */
    uint64_t last_stream;             /* the previous record's stream */
    int err;                          /* sticky: a write failed */
};

static int write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno ? errno : EIO;
        if (w == 0)
            return EIO;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int flush_block(ddx_trace_writer *w)
{
    if (w->err)
        return w->err;
    tr_put32(w->blk, TR_BLK_MAGIC);
    tr_put32(w->blk + 4, w->count);
    tr_put32(w->blk + 8, (uint32_t)w->plen);
    tr_put32(w->blk + 12, ddx_crc32c(0, w->blk + TR_BLK_HDR, w->plen));
    w->err = write_all(w->fd, w->blk, TR_BLK_HDR + w->plen);
    w->count = 0;
    w->plen = 0;
    return w->err;
}

/* Append one entry: a record (length > 0, fp) or a stream mark (0, NULL). */
static int entry(ddx_trace_writer *w, uint32_t length, const uint8_t *fp)
{
    if (w->count == TR_BLK_ENTRIES && flush_block(w))
        return w->err;
    uint8_t *p = w->blk + TR_BLK_HDR + w->plen;
    tr_put32(p, length);
    w->plen += 4;
    if (length) {
        memcpy(p + 4, fp, w->fp_size);
        w->plen += w->fp_size;
    }
    w->count++;
    return 0;
}

static void drop(ddx_trace_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    unlink(w->tmp);
    free(w->blk);
    free(w->tmp);
    free(w->path);
    free(w);
}

static int hash_id(const char *hash)
{
    if (!hash || !*hash)
        return TR_HASH_UNKNOWN;
    for (unsigned id = TR_HASH_SHA1; id <= TR_HASH_MD5; id++)
        if (!strcmp(hash, tr_hash_name(id)))
            return (int)id;
    return -1;
}

int ddx_trace_writer_open(ddx_trace_writer **out, const char *path, const char *hash,
                          size_t fp_size, char *why, size_t why_len)
{
    int id = hash_id(hash);
    if (!out || !path || !*path || id < 0 || fp_size < 1 || fp_size > DDX_FP_MAX) {
        if (out)
            *out = NULL;
        if (why && why_len)
            snprintf(why, why_len, "%s: trace writer: invalid argument (hash '%s', fp size %zu)",
                     path ? path : "(null)", hash ? hash : "", fp_size);
        return DDX_EINVAL;
    }
    *out = NULL;
    ddx_trace_writer *w = calloc(1, sizeof *w);
    size_t pl = strlen(path);
    if (!w || !(w->path = strdup(path)) || !(w->tmp = malloc(pl + 5)) ||
        !(w->blk = malloc(TR_BLK_HDR + TR_BLK_ENTRIES * (4 + fp_size)))) {
        if (w) {
            free(w->blk);
            free(w->tmp);
            free(w->path);
            free(w);
        }
        if (why && why_len)
            snprintf(why, why_len, "%s: out of memory", path);
        return DDX_ENOMEM;
    }
    memcpy(w->tmp, path, pl);
    memcpy(w->tmp + pl, ".tmp", 5);
    w->fp_size = fp_size;
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        int rc = errno;
        if (why && why_len)
            snprintf(why, why_len, "%s: %s", w->tmp, strerror(rc));
        free(w->blk);
        free(w->tmp);
        free(w->path);
        free(w);
        return rc;
    }
    uint8_t h[TR_HDR] = {0};
    memcpy(h, TR_MAGIC, 8);
    h[8] = TR_VERSION;
    h[10] = (uint8_t)fp_size;
    h[11] = (uint8_t)id;
    tr_put64(h + 16, (uint64_t)time(NULL));
    tr_put32(h + 60, ddx_crc32c(0, h, 60));
    int rc = write_all(w->fd, h, sizeof h);
    if (rc) {
        if (why && why_len)
            snprintf(why, why_len, "%s: write: %s", w->tmp, strerror(rc));
        drop(w);
        return rc;
    }
    *out = w;
    return 0;
}

int ddx_trace_writer_add(ddx_trace_writer *w, const ddx_chunk *c, size_t n)
{
    if (!w || (!c && n))
        return DDX_EINVAL;
    if (w->err)
        return w->err;
    for (size_t i = 0; i < n; i++)
        if (c[i].length < 1 || c[i].length > TR_REC_MAX)
            return DDX_EINVAL; /* nothing of this call added */
    for (size_t i = 0; i < n; i++) {
        if (w->records && c[i].stream != w->last_stream) {
            if (entry(w, 0, NULL))
                return w->err;
            w->streams++;
        }
        if (entry(w, c[i].length, c[i].fp))
            return w->err;
        if (!w->records)
            w->streams = 1;
        w->records++;
        w->bytes += c[i].length;
        w->last_stream = c[i].stream;
    }
    return 0;
}

/* fsync the directory holding path, so that the rename persists. */
static int sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir)
        return ENOMEM;
    int rc = 0, fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd))
        rc = errno;
    if (fd >= 0)
        close(fd);
    free(dir);
    return rc;
}

int ddx_trace_writer_finish(ddx_trace_writer *w)
{
    if (!w)
        return DDX_EINVAL;
    int rc = w->err;
    if (!rc && w->count)
        rc = flush_block(w);
    if (!rc) {
        uint8_t end[TR_BLK_HDR + TR_END_PAYLOAD];
        tr_put64(end + TR_BLK_HDR, w->records);
        tr_put64(end + TR_BLK_HDR + 8, w->streams);
        tr_put64(end + TR_BLK_HDR + 16, w->bytes);
        tr_put32(end, TR_BLK_MAGIC);
        tr_put32(end + 4, 0);
        tr_put32(end + 8, TR_END_PAYLOAD);
        tr_put32(end + 12, ddx_crc32c(0, end + TR_BLK_HDR, TR_END_PAYLOAD));
        rc = write_all(w->fd, end, sizeof end);
    }
    if (!rc && fsync(w->fd))
        rc = errno;
    if (!rc) {
        int fd = w->fd;
        w->fd = -1;
        if (close(fd))
            rc = errno;
    }
    if (!rc && rename(w->tmp, w->path))
        rc = errno;
    if (rc) {
        drop(w); /* removes PATH.tmp */
        return rc;
    }
    rc = sync_dir(w->path);
    free(w->blk);
    free(w->tmp);
    free(w->path);
    free(w);
    return rc;
}

void ddx_trace_writer_abort(ddx_trace_writer *w)
{
    if (w)
        drop(w);
}
