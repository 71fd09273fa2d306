/*
 * store_fmt.c - encoders and checking decoders of the store's on-disk
 * structures (store_fmt.h, docs/format.md).
 */
#include "store_fmt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "ddx.h"

static const char SUPER_MAGIC[8] = {'D', 'D', 'X', 'S', 'U', 'P', 'E', 'R'};
static const char CTR_MAGIC[8] = {'D', 'D', 'X', 'C', 'O', 'N', 'T', 'R'};
static const char TAIL_MAGIC[8] = {'D', 'D', 'X', 'C', 'T', 'A', 'I', 'L'};
#define REC_VERSION 1

static int bad(char *why, size_t n, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int bad(char *why, size_t n, int rc, const char *fmt, ...)
{
    if (why && n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, n, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* ---- superblock ------------------------------------------------------------ */

void ddx_super_encode(const ddx_super *s, uint8_t out[DDX_SUPER_SLOT])
{
    memset(out, 0, DDX_SUPER_SLOT);
    memcpy(out, SUPER_MAGIC, 8);
    ddx_put16(out + 8, s->major ? s->major : DDX_FMT_MAJOR);
    ddx_put16(out + 10, DDX_FMT_MINOR);
    ddx_put32(out + 12, DDX_SUPER_SLOT);
    ddx_put64(out + 16, s->seq);
    memcpy(out + 24, s->uuid, 16);
    ddx_put32(out + 40, s->hash);
    ddx_put32(out + 44, s->chunker);
    ddx_put32(out + 48, s->min);
    ddx_put32(out + 52, s->avg);
    ddx_put32(out + 56, s->max);
    ddx_put32(out + 60, s->normalization);
    ddx_put32(out + 64, s->container_bytes);
    ddx_put64(out + 72, s->log_end);
    ddx_put64(out + 80, s->next_chunk);
    ddx_put64(out + 88, s->next_version);
    ddx_put64(out + 96, s->next_lsn);
    ddx_put32(out + 104, s->open_ctr);
    ddx_put32(out + 108, s->open_ctr_len);
    ddx_put32(out + 112, s->log_gen);
    ddx_put32(out + 116, s->features);
    ddx_put32(out + DDX_SUPER_SLOT - 4, ddx_crc32c(0, out, DDX_SUPER_SLOT - 4));
}

int ddx_super_decode(const uint8_t *in, size_t n, ddx_super *s, char *why, size_t why_len)
{
    if (n < DDX_SUPER_SLOT)
        return bad(why, why_len, DDX_ECORRUPT, "slot is %zu bytes, expected %d", n, DDX_SUPER_SLOT);
    if (memcmp(in, SUPER_MAGIC, 8))
        return bad(why, why_len, DDX_ECORRUPT, "bad magic (not a ddx superblock)");
    if (ddx_get32(in + DDX_SUPER_SLOT - 4) != ddx_crc32c(0, in, DDX_SUPER_SLOT - 4))
        return bad(why, why_len, DDX_ECORRUPT, "checksum mismatch");
    uint16_t major = ddx_get16(in + 8);
    if (major < DDX_FMT_MAJOR || major > DDX_FMT_MAJOR_LOGGEN)
        return bad(why, why_len, major > DDX_FMT_MAJOR_LOGGEN ? DDX_EFORMAT : DDX_ECORRUPT,
                   "format %u.%u, this ddx reads %d.x to %d.x", major, ddx_get16(in + 10),
                   DDX_FMT_MAJOR, DDX_FMT_MAJOR_LOGGEN);
    s->major = major;
    if (ddx_get32(in + 12) != DDX_SUPER_SLOT)
        return bad(why, why_len, DDX_ECORRUPT, "slot size field %u", ddx_get32(in + 12));
    s->seq = ddx_get64(in + 16);
    memcpy(s->uuid, in + 24, 16);
    s->hash = ddx_get32(in + 40);
    s->chunker = ddx_get32(in + 44);
    s->min = ddx_get32(in + 48);
    s->avg = ddx_get32(in + 52);
    s->max = ddx_get32(in + 56);
    s->normalization = ddx_get32(in + 60);
    s->container_bytes = ddx_get32(in + 64);
    s->log_end = ddx_get64(in + 72);
    s->next_chunk = ddx_get64(in + 80);
    s->next_version = ddx_get64(in + 88);
    s->next_lsn = ddx_get64(in + 96);
    s->open_ctr = ddx_get32(in + 104);
    s->open_ctr_len = ddx_get32(in + 108);
    /* before major 3 these bytes were zero, and a generation other than 0
     * would name a log an older ddx does not read */
    s->log_gen = major >= DDX_FMT_MAJOR_LOGGEN ? ddx_get32(in + 112) : 0;
    s->features = major >= DDX_FMT_MAJOR_LOGGEN   ? ddx_get32(in + 116)
                  : major == DDX_FMT_MAJOR_ABSENT ? DDX_FEAT_ABSENT
                                                  : 0;
    if (s->features & ~DDX_FEAT_ABSENT)
        return bad(why, why_len, DDX_EFORMAT, "format %u.%u: unknown features 0x%x", major,
                   ddx_get16(in + 10), s->features & ~DDX_FEAT_ABSENT);
    if (s->hash > DDX_HASH_SHA256 || s->chunker > DDX_CHUNKER_RAM)
        return bad(why, why_len, DDX_ECORRUPT, "hash %u / chunker %u out of range", s->hash,
                   s->chunker);
    if (s->container_bytes < (64u << 10) || s->container_bytes > (1u << 30))
        return bad(why, why_len, DDX_ECORRUPT, "container size %u out of range",
                   s->container_bytes);
    return 0;
}

/* ---- log records ------------------------------------------------------------ */

size_t ddx_rec_size(uint32_t len)
{
    return (DDX_REC_HDR + (size_t)len + 7) & ~(size_t)7;
}

size_t ddx_rec_finish(uint8_t *out, uint16_t type, uint64_t lsn, uint32_t len)
{
    size_t total = ddx_rec_size(len);
    ddx_put32(out + 4, len);
    ddx_put16(out + 8, type);
    ddx_put16(out + 10, REC_VERSION);
    ddx_put32(out + 12, 0);
    ddx_put64(out + 16, lsn);
    memset(out + DDX_REC_HDR + len, 0, total - DDX_REC_HDR - len);
    ddx_put32(out, ddx_crc32c(0, out + 4, DDX_REC_HDR - 4 + (size_t)len));
    return total;
}

int ddx_rec_decode(const uint8_t *in, size_t n, ddx_rec *r, char *why, size_t why_len)
{
    if (n < DDX_REC_HDR)
        return bad(why, why_len, DDX_EFULL, "%zu bytes, shorter than a record header", n);
    uint32_t len = ddx_get32(in + 4);
    if (len > DDX_REC_MAX)
        return bad(why, why_len, DDX_ECORRUPT, "length field %u over the %u limit", len,
                   DDX_REC_MAX);
    size_t total = ddx_rec_size(len);
    if (n < total)
        return bad(why, why_len, DDX_EFULL, "record of %zu bytes, only %zu present", total, n);
    if (ddx_get32(in) != ddx_crc32c(0, in + 4, DDX_REC_HDR - 4 + (size_t)len))
        return bad(why, why_len, DDX_ECORRUPT, "checksum mismatch");
    uint16_t ver = ddx_get16(in + 10);
    if (ver != REC_VERSION)
        return bad(why, why_len, ver > REC_VERSION ? DDX_EFORMAT : DDX_ECORRUPT,
                   "record version %u, this ddx reads %d", ver, REC_VERSION);
    for (size_t i = DDX_REC_HDR + len; i < total; i++)
        if (in[i])
            return bad(why, why_len, DDX_ECORRUPT, "nonzero padding");
    r->type = ddx_get16(in + 8);
    if (r->type < DDX_REC_CHUNKS || r->type > DDX_REC_MOVE)
        return bad(why, why_len, DDX_ECORRUPT, "unknown record type %u", r->type);
    r->lsn = ddx_get64(in + 16);
    r->payload = in + DDX_REC_HDR;
    r->len = len;
    r->total = total;
    return 0;
}

int ddx_chunks_decode(const uint8_t *p, uint32_t len, size_t fp_size, ddx_chunks_rec *c, char *why,
                      size_t why_len)
{
    if (len < DDX_CHUNKS_HDR)
        return bad(why, why_len, DDX_ECORRUPT, "chunks record: %u bytes, header needs %d", len,
                   DDX_CHUNKS_HDR);
    c->first_id = ddx_get64(p);
    c->count = ddx_get32(p + 8);
    c->container = ddx_get32(p + 12);
    c->fp_size = ddx_get16(p + 16);
    if (c->fp_size != fp_size)
        return bad(why, why_len, DDX_ECORRUPT, "chunks record: fingerprint size %u, store uses %zu",
                   c->fp_size, fp_size);
    uint64_t need = DDX_CHUNKS_HDR + (uint64_t)c->count * (fp_size + 12);
    if (need != len)
        return bad(why, why_len, DDX_ECORRUPT, "chunks record: %u entries need %llu bytes, has %u",
                   c->count, (unsigned long long)need, len);
    if (c->container == 0)
        return bad(why, why_len, DDX_ECORRUPT, "chunks record: container id 0");
    c->ents = p + DDX_CHUNKS_HDR;
    return 0;
}

void ddx_chunks_entry(const ddx_chunks_rec *c, uint32_t i, ddx_chunk_ent *e)
{
    const uint8_t *q = c->ents + (size_t)i * (c->fp_size + 12u);
    e->fp = q;
    e->offset = ddx_get32(q + c->fp_size);
    e->length = ddx_get32(q + c->fp_size + 4);
    e->crc = ddx_get32(q + c->fp_size + 8);
}

int ddx_recipe_decode(const uint8_t *p, uint32_t len, ddx_recipe_rec *r, char *why, size_t why_len)
{
    if (len < DDX_RECIPE_HDR)
        return bad(why, why_len, DDX_ECORRUPT, "recipe record: %u bytes, header needs %d", len,
                   DDX_RECIPE_HDR);
    r->version_id = ddx_get64(p);
    r->part = ddx_get32(p + 8);
    r->count = ddx_get32(p + 12);
    r->ids = p + DDX_RECIPE_HDR;
    r->ids_len = len - DDX_RECIPE_HDR;
    if (r->count > r->ids_len) /* every id takes at least one byte */
        return bad(why, why_len, DDX_ECORRUPT, "recipe record: %u ids in %u bytes", r->count,
                   r->ids_len);
    return 0;
}

size_t ddx_varint_delta(uint8_t *out, uint64_t prev, uint64_t id)
{
    int64_t d = (int64_t)(id - prev);
    uint64_t z = ((uint64_t)d << 1) ^ (uint64_t)(d >> 63);
    size_t n = 0;
    while (z >= 0x80) {
        out[n++] = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    out[n++] = (uint8_t)z;
    return n;
}

int ddx_recipe_ids(const ddx_recipe_rec *r, uint64_t *out, char *why, size_t why_len)
{
    size_t pos = 0;
    uint64_t prev = 0;
    for (uint32_t i = 0; i < r->count; i++) {
        uint64_t z = 0;
        int shift = 0;
        for (;;) {
            if (pos >= r->ids_len)
                return bad(why, why_len, DDX_ECORRUPT, "recipe record: id %u runs past the end", i);
            uint8_t b = r->ids[pos++];
            if (shift == 63 && b > 1)
                return bad(why, why_len, DDX_ECORRUPT, "recipe record: id %u overflows", i);
            z |= (uint64_t)(b & 0x7f) << shift;
            if (!(b & 0x80)) {
                /* A zero last byte after others only pads the varint. The
                 * encoder never writes one; refusing it keeps one encoding
                 * per recipe (the fuzz targets check that ids re-encode to
                 * the bytes they were decoded from). */
                if (b == 0 && shift > 0)
                    return bad(why, why_len, DDX_ECORRUPT,
                               "recipe record: id %u is not minimally encoded", i);
                break;
            }
            shift += 7;
            if (shift > 63)
                return bad(why, why_len, DDX_ECORRUPT, "recipe record: id %u overflows", i);
        }
        int64_t d = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
        prev += (uint64_t)d;
        out[i] = prev;
    }
    if (pos != r->ids_len)
        return bad(why, why_len, DDX_ECORRUPT, "recipe record: %zu stray bytes after the ids",
                   r->ids_len - pos);
    return 0;
}

size_t ddx_version_encode(const ddx_version_rec *v, uint8_t *out)
{
    size_t nl = strlen(v->name);
    ddx_put64(out, v->id);
    ddx_put32(out + 8, v->number);
    ddx_put32(out + 12, v->parts);
    ddx_put64(out + 16, v->bytes);
    ddx_put64(out + 24, v->chunks);
    ddx_put64(out + 32, (uint64_t)v->time_ns);
    ddx_put16(out + 40, (uint16_t)nl);
    memcpy(out + DDX_VERSION_HDR, v->name, nl);
    return DDX_VERSION_HDR + nl;
}

int ddx_version_decode(const uint8_t *p, uint32_t len, ddx_version_rec *v, char *why,
                       size_t why_len)
{
    if (len < DDX_VERSION_HDR)
        return bad(why, why_len, DDX_ECORRUPT, "version record: %u bytes, header needs %d", len,
                   DDX_VERSION_HDR);
    v->id = ddx_get64(p);
    v->number = ddx_get32(p + 8);
    v->parts = ddx_get32(p + 12);
    v->bytes = ddx_get64(p + 16);
    v->chunks = ddx_get64(p + 24);
    v->time_ns = (int64_t)ddx_get64(p + 32);
    uint16_t nl = ddx_get16(p + 40);
    if (nl == 0 || nl > 255 || DDX_VERSION_HDR + (uint32_t)nl != len)
        return bad(why, why_len, DDX_ECORRUPT, "version record: name length %u in %u bytes", nl,
                   len);
    for (uint16_t i = 0; i < nl; i++)
        if (p[DDX_VERSION_HDR + i] < 0x20 || p[DDX_VERSION_HDR + i] == 0x7f ||
            p[DDX_VERSION_HDR + i] == '@' || p[DDX_VERSION_HDR + i] == '/')
            return bad(why, why_len, DDX_ECORRUPT, "version record: bad byte in name");
    memcpy(v->name, p + DDX_VERSION_HDR, nl);
    v->name[nl] = 0;
    if (v->number == 0)
        return bad(why, why_len, DDX_ECORRUPT, "version record: number 0");
    return 0;
}

/* ---- path files (identity, owner) ------------------------------------------------ */

uint8_t *ddx_pathf_encode(const char magic[8], const ddx_pathf *f, size_t *out_len)
{
    size_t l = strlen(f->path);
    if (l > UINT16_MAX)
        return NULL;
    uint8_t *b = malloc(DDX_PATHF_FIXED + l);
    if (!b)
        return NULL;
    memcpy(b, magic, 8);
    ddx_put16(b + 8, f->major);
    ddx_put16(b + 10, f->minor);
    memcpy(b + 12, f->uuid, 16);
    ddx_put16(b + 28, (uint16_t)l);
    memcpy(b + 30, f->path, l);
    ddx_put32(b + 30 + l, ddx_crc32c(0, b, 30 + l));
    *out_len = DDX_PATHF_FIXED + l;
    return b;
}

int ddx_pathf_decode(const uint8_t *in, size_t n, const char magic[8], const char *noun,
                     uint16_t max_major, ddx_pathf *f, char *why, size_t why_len)
{
    if (n < DDX_PATHF_FIXED || memcmp(in, magic, 8))
        return bad(why, why_len, DDX_ECORRUPT, "not a ddx %s file (bad magic or size)",
                   !strcmp(noun, "store") ? "store identity" : noun);
    f->major = ddx_get16(in + 8);
    f->minor = ddx_get16(in + 10);
    if (f->major == 0 || f->major > max_major)
        return bad(why, why_len, f->major ? DDX_EFORMAT : DDX_ECORRUPT,
                   "%s format %u.%u; this ddx reads format %u", noun, f->major, f->minor,
                   max_major);
    size_t l = ddx_get16(in + 28);
    if (n != DDX_PATHF_FIXED + l || l == 0 || memchr(in + 30, 0, l))
        return bad(why, why_len, DDX_ECORRUPT, "path length %zu does not match the file", l);
    if (ddx_get32(in + 30 + l) != ddx_crc32c(0, in, 30 + l))
        return bad(why, why_len, DDX_ECORRUPT, "checksum mismatch");
    memcpy(f->uuid, in + 12, 16);
    f->path = (const char *)(in + 30);
    f->path_len = l;
    return 0;
}

/* ---- containers --------------------------------------------------------------- */

void ddx_ctr_hdr_encode(const ddx_ctr_hdr *h, uint8_t out[DDX_CTR_HDR])
{
    memset(out, 0, DDX_CTR_HDR);
    memcpy(out, CTR_MAGIC, 8);
    ddx_put16(out + 8, DDX_FMT_MAJOR);
    ddx_put16(out + 10, DDX_FMT_MINOR);
    ddx_put32(out + 12, DDX_CTR_HDR);
    ddx_put32(out + 16, h->id);
    memcpy(out + 24, h->uuid, 16);
    ddx_put32(out + DDX_CTR_HDR - 4, ddx_crc32c(0, out, DDX_CTR_HDR - 4));
}

int ddx_ctr_hdr_decode(const uint8_t *in, size_t n, ddx_ctr_hdr *h, char *why, size_t why_len)
{
    if (n < DDX_CTR_HDR)
        return bad(why, why_len, DDX_ECORRUPT, "header: %zu bytes, expected %d", n, DDX_CTR_HDR);
    if (memcmp(in, CTR_MAGIC, 8))
        return bad(why, why_len, DDX_ECORRUPT, "header: bad magic (not a ddx container)");
    if (ddx_get32(in + DDX_CTR_HDR - 4) != ddx_crc32c(0, in, DDX_CTR_HDR - 4))
        return bad(why, why_len, DDX_ECORRUPT, "header: checksum mismatch");
    if (ddx_get16(in + 8) != DDX_FMT_MAJOR)
        return bad(why, why_len, ddx_get16(in + 8) > DDX_FMT_MAJOR ? DDX_EFORMAT : DDX_ECORRUPT,
                   "header: format %u, this ddx reads %d", ddx_get16(in + 8), DDX_FMT_MAJOR);
    h->id = ddx_get32(in + 16);
    memcpy(h->uuid, in + 24, 16);
    return 0;
}

void ddx_ctr_desc_encode(const ddx_ctr_desc *d, uint8_t out[DDX_CTR_DESC])
{
    memcpy(out, d->fp, 32);
    ddx_put32(out + 32, d->offset);
    ddx_put32(out + 36, d->length);
    ddx_put32(out + 40, d->crc);
    ddx_put32(out + 44, 0);
}

int ddx_ctr_desc_decode(const uint8_t *in, uint64_t table_off, ddx_ctr_desc *d, char *why,
                        size_t why_len)
{
    memcpy(d->fp, in, 32);
    d->offset = ddx_get32(in + 32);
    d->length = ddx_get32(in + 36);
    d->crc = ddx_get32(in + 40);
    if (d->offset < DDX_CTR_HDR || (uint64_t)d->offset + d->length > table_off)
        return bad(why, why_len, DDX_ECORRUPT, "descriptor: chunk [%u, +%u) outside the data",
                   d->offset, d->length);
    return 0;
}

void ddx_ctr_trailer_encode(const ddx_ctr_trailer *t, uint8_t out[DDX_CTR_TRAILER])
{
    memcpy(out, TAIL_MAGIC, 8);
    ddx_put32(out + 8, t->count);
    ddx_put32(out + 12, 0);
    ddx_put64(out + 16, t->table_off);
    ddx_put32(out + 24, t->table_crc);
    ddx_put32(out + 28, ddx_crc32c(0, out, 28));
}

int ddx_ctr_trailer_decode(const uint8_t *in, size_t n, uint64_t file_size, ddx_ctr_trailer *t,
                           char *why, size_t why_len)
{
    if (n < DDX_CTR_TRAILER)
        return bad(why, why_len, DDX_ECORRUPT, "trailer: %zu bytes", n);
    if (memcmp(in, TAIL_MAGIC, 8))
        return bad(why, why_len, DDX_ECORRUPT, "trailer: bad magic (container not sealed?)");
    if (ddx_get32(in + 28) != ddx_crc32c(0, in, 28))
        return bad(why, why_len, DDX_ECORRUPT, "trailer: checksum mismatch");
    t->count = ddx_get32(in + 8);
    t->table_off = ddx_get64(in + 16);
    t->table_crc = ddx_get32(in + 24);
    if (t->table_off < DDX_CTR_HDR || file_size < DDX_CTR_TRAILER ||
        t->table_off > file_size - DDX_CTR_TRAILER ||
        (file_size - DDX_CTR_TRAILER - t->table_off) != (uint64_t)t->count * DDX_CTR_DESC)
        return bad(why, why_len, DDX_ECORRUPT,
                   "trailer: %u descriptors at %llu do not fit a %llu-byte file", t->count,
                   (unsigned long long)t->table_off, (unsigned long long)file_size);
    return 0;
}
