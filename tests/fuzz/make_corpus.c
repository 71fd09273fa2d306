/*
 * make_corpus.c - writes the seed corpora of the fuzz targets,
 * tests/fuzz/corpus/{log,container,recipe}/, from the files of real stores
 * plus hand-made edge cases. Run by hand (not by the build) when the formats
 * change; its output is committed:
 *
 *   make BUILD=build/fz CUDA=none build/fz/libddx.a
 *   cc -std=c11 -D_GNU_SOURCE -Iengine/include -Icpu -Iengine/src/store \
 *      -o /tmp/make_corpus tests/fuzz/make_corpus.c build/fz/libddx.a \
 *      -lcrypto -lisal -lhwloc -lck -lm -lOpenCL -pthread
 *   /tmp/make_corpus tests/fuzz/corpus
 *
 * It creates two stores in a fresh directory under /tmp (SHA-256 and SHA-1;
 * FastCDC with 256/1024/4096-byte chunks and 64 KiB containers, so a few
 * small puts fill and seal containers) and drives them through the public
 * API - puts, a deduplicating re-put, a tiny and an empty version, rm, gc
 * (which frees chunks and compacts a sealed container), a put after gc - so
 * that the log holds every record type. Then it cuts the seeds out of the
 * log, a sealed and the open container and the superblock, and derives
 * truncated, bit-flipped and hostile variants (CRCs recomputed where the
 * point is to reach the field behind them). Every seed is under 16 KiB.
 *
 * Rerunning rewrites the seeds named here (store uuids and version times
 * differ from run to run, the data does not: it comes from a fixed-seed
 * generator) and leaves other files - inputs added from fuzzer runs - alone.
 * The stores are removed at the end.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crc32c.h"
#include "ddx.h"
#include "store_fmt.h"

#define SEED_MAX (16u << 10) /* every seed is smaller */
#define HEAD (12u << 10)     /* the part of a container kept as a seed */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("make_corpus: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory");
    return p;
}

static uint8_t *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st))
        die("%s: %s", path, strerror(errno));
    *n = (size_t)st.st_size;
    uint8_t *b = xmalloc(*n);
    if (fread(b, 1, *n, f) != *n)
        die("%s: short read", path);
    fclose(f);
    return b;
}

static char out_dir[4096];
static unsigned seeds;

static void seed(const char *target, const char *name, const void *p, size_t n)
{
    if (n >= SEED_MAX)
        die("seed %s/%s is %zu bytes, not under the %u limit", target, name, n, SEED_MAX);
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", out_dir, target);
    if (mkdir(path, 0755) && errno != EEXIST)
        die("%s: %s", path, strerror(errno));
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f))
        die("%s: write failed", path);
    printf("  %-40s %6zu bytes\n", path, n);
    seeds++;
}

/* ---- stores --------------------------------------------------------------------------- */

static uint64_t rng_state;

static uint8_t *random_bytes(size_t n, uint64_t seed_value)
{
    uint8_t *b = xmalloc(n);
    rng_state = seed_value * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < n; i++) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        b[i] = (uint8_t)(rng_state >> 24);
    }
    return b;
}

static void check(int rc, const char *what, const char *why)
{
    if (rc)
        die("%s: %s (%s)", what, why && why[0] ? why : "", ddx_strerror(rc));
}

static void put(ddx_store *s, const char *name, const void *p, size_t n)
{
    ddx_put_stats st;
    int rc = ddx_store_put_mem(s, name, p, n, &st);
    check(rc, name, ddx_store_errmsg(s));
}

/* A store in dir whose log holds every record type; *sealed gets a copy of
 * the first container taken while it is sealed (gc rewrites it later). */
static void make_store(const char *dir, ddx_hash_kind hash, uint8_t **sealed, size_t *sealed_len)
{
    ddx_store_params p;
    ddx_store_default_params(&p);
    p.chunker = DDX_CHUNKER_FASTCDC;
    p.min = 256;
    p.avg = 1024;
    p.max = 4096;
    p.hash = hash;
    p.container_bytes = 64u << 10;
    char why[512] = "";
    check(ddx_store_init(dir, &p, why, sizeof why), "init", why);
    ddx_store *s;
    check(ddx_store_open(&s, dir, DDX_STORE_WRITE, why, sizeof why), "open", why);

    size_t n = 48u << 10;
    uint8_t *a = random_bytes(n + 2048, 1), *b = random_bytes(n, 2);
    put(s, "b", b, n); /* fills most of container 1 */
    put(s, "a", a, n); /* the rest of it, seals it, and starts container 2 */
    if (sealed) {
        char path[4200];
        snprintf(path, sizeof path, "%s/data/00000001.ctr", dir);
        *sealed = read_file(path, sealed_len);
    }
    /* a@2: a with 1 KiB rewritten in the middle and 2 KiB appended: mostly
     * references to a@1's chunks, so its recipe jumps back and forth. */
    uint8_t *edit = random_bytes(1024, 3);
    memcpy(a + 20000, edit, 1024);
    put(s, "a", a, n + 2048);
    put(s, "tiny", "hello, ddx", 10);
    put(s, "empty", "", 0);
    /* b's chunks die; container 1 keeps only a's first chunks, less than
     * half: gc frees (FREE) and compacts it (MOVE). */
    check(ddx_store_rm(s, "b", 1), "rm b@1", ddx_store_errmsg(s));
    check(ddx_store_rm(s, "a", 1), "rm a@1", ddx_store_errmsg(s));
    ddx_gc_stats gs;
    check(ddx_store_gc(s, &gs), "gc", ddx_store_errmsg(s));
    uint8_t *c = random_bytes(8192, 4);
    put(s, "c", c, 8192);
    ddx_store_close(s);
    free(a);
    free(b);
    free(c);
    free(edit);
}

/* ---- log records ---------------------------------------------------------------------- */

typedef struct rec {
    size_t off, total;
    uint16_t type;
    uint32_t len;
} rec;

/* Walks a valid log; returns the number of records. */
static size_t walk_log(const uint8_t *log, size_t n, rec *out, size_t max)
{
    size_t at = 0, k = 0;
    while (at < n && k < max) {
        ddx_rec r;
        char why[256];
        int rc = ddx_rec_decode(log + at, n - at, &r, why, sizeof why);
        if (rc)
            die("log at %zu: %s", at, why);
        out[k++] = (rec){at, r.total, r.type, r.len};
        at += r.total;
    }
    return k;
}

static const rec *first_of(const rec *recs, size_t n, uint16_t type)
{
    for (size_t i = 0; i < n; i++)
        if (recs[i].type == type)
            return &recs[i];
    die("the log has no record of type %u", type);
}

/* Re-seal a record after editing its header or payload. */
static void refinish(uint8_t *r)
{
    uint32_t len = ddx_get32(r + 4);
    ddx_put32(r, ddx_crc32c(0, r + 4, DDX_REC_HDR - 4 + (size_t)len));
}

/* A record of type with this payload, in out (ddx_rec_size(len) bytes). */
static size_t make_rec(uint8_t *out, uint16_t type, uint64_t lsn, const void *payload, uint32_t len)
{
    memcpy(out + DDX_REC_HDR, payload, len);
    return ddx_rec_finish(out, type, lsn, len);
}

/* The longest prefix of whole records of less than limit bytes. */
static size_t cut(const rec *recs, size_t n, size_t limit)
{
    size_t end = 0;
    for (size_t i = 0; i < n && recs[i].off + recs[i].total < limit; i++)
        end = recs[i].off + recs[i].total;
    return end;
}

static void log_seeds(const uint8_t *log, size_t n, const uint8_t *log1, size_t n1)
{
    static rec recs[4096], recs1[4096];
    size_t k = walk_log(log, n, recs, 4096), k1 = walk_log(log1, n1, recs1, 4096);
    uint8_t *b = xmalloc(2 * SEED_MAX + 64);
    printf("log: %zu records, %zu bytes (SHA-256); %zu records, %zu bytes (SHA-1)\n", k, n, k1, n1);

    size_t whole = cut(recs, k, SEED_MAX);
    seed("log", "real-sha256", log, whole);
    seed("log", "real-sha1", log1, cut(recs1, k1, SEED_MAX));
    seed("log", "slice-head", log, recs[3].off);
    const rec *rm = first_of(recs, k, DDX_REC_REMOVE);
    seed("log", "slice-gc", log + rm->off, whole - rm->off); /* lsn does not start at 0 */

    /* A torn tail: whole records, then the first half of another one. */
    size_t half = recs[1].total / 2, base = cut(recs, k, SEED_MAX - half);
    memcpy(b, log, base);
    memcpy(b + base, log + recs[1].off, half);
    seed("log", "torn-tail", b, base + half);

    /* A flipped bit in the second record's payload: checksum mismatch. */
    size_t head = recs[3].off;
    memcpy(b, log, head);
    b[recs[1].off + DDX_REC_HDR + recs[1].len / 2] ^= 0x10;
    seed("log", "bitflip", b, head);

    /* Nonzero padding (not covered by the CRC). */
    for (size_t i = 0; i < k; i++)
        if (recs[i].len % 8) {
            memcpy(b, log + recs[i].off, recs[i].total);
            b[recs[i].total - 1] = 0xa5;
            seed("log", "bad-padding", b, recs[i].total);
            break;
        }

    /* Header fields, CRC recomputed so the field itself is what fails. */
    memcpy(b, log, recs[0].total);
    ddx_put16(b + 10, 2);
    refinish(b);
    seed("log", "rec-version-2", b, recs[0].total);
    ddx_put16(b + 10, 0);
    refinish(b);
    seed("log", "rec-version-0", b, recs[0].total);
    memcpy(b, log, recs[0].total);
    ddx_put16(b + 8, 9);
    refinish(b);
    seed("log", "rec-type-9", b, recs[0].total);
    memcpy(b, log, recs[0].total);
    ddx_put16(b + 8, 0);
    refinish(b);
    seed("log", "rec-type-0", b, recs[0].total);

    /* Length fields: over the 16 MiB limit; at the limit with 4 KiB present.
     * Both fail before the CRC is looked at. */
    memset(b, 0, 4096 + DDX_REC_HDR);
    ddx_put32(b + 4, 0xfffffff8u);
    ddx_put16(b + 8, DDX_REC_CHUNKS);
    ddx_put16(b + 10, 1);
    seed("log", "len-over-limit", b, 4096 + DDX_REC_HDR);
    ddx_put32(b + 4, DDX_REC_MAX);
    seed("log", "len-torn-16mib", b, 4096 + DDX_REC_HDR);

    /* CHUNKS: a count far beyond the payload; container 0. */
    const rec *ch = first_of(recs, k, DDX_REC_CHUNKS);
    size_t chn = ch->total;
    if (chn > SEED_MAX)
        die("the first chunks record is %zu bytes", chn);
    memcpy(b, log + ch->off, chn);
    ddx_put32(b + DDX_REC_HDR + 8, 0x7fffffffu);
    refinish(b);
    seed("log", "chunks-count-huge", b, chn);
    memcpy(b, log + ch->off, chn);
    ddx_put32(b + DDX_REC_HDR + 12, 0);
    refinish(b);
    seed("log", "chunks-container-0", b, chn);

    /* CHUNKS: a payload shorter than its header. */
    seed("log", "chunks-short", b,
         make_rec(b, DDX_REC_CHUNKS, 0, log + ch->off + DDX_REC_HDR, DDX_CHUNKS_HDR - 8));

    /* RECIPE: count larger than the bytes; an 11-byte varint. */
    const rec *rc = first_of(recs, k, DDX_REC_RECIPE);
    memcpy(b, log + rc->off, rc->total);
    ddx_put32(b + DDX_REC_HDR + 12, 0xffffffffu);
    refinish(b);
    seed("log", "recipe-count-huge", b, rc->total);
    uint8_t pl[64];
    memcpy(pl, log + rc->off + DDX_REC_HDR, DDX_RECIPE_HDR);
    ddx_put32(pl + 12, 1);
    memset(pl + DDX_RECIPE_HDR, 0xff, 10);
    pl[DDX_RECIPE_HDR + 10] = 0x01;
    seed("log", "recipe-varint-11", b, make_rec(b, DDX_REC_RECIPE, 0, pl, DDX_RECIPE_HDR + 11));

    /* VERSION: a '/' in the name. */
    const rec *vr = first_of(recs, k, DDX_REC_VERSION);
    memcpy(b, log + vr->off, vr->total);
    b[DDX_REC_HDR + DDX_VERSION_HDR] = '/';
    refinish(b);
    seed("log", "version-bad-name", b, vr->total);

    /* A gap in the sequence numbers: the second record's lsn + 5. */
    memcpy(b, log, recs[2].off);
    ddx_put64(b + recs[1].off + 16, ddx_get64(b + recs[1].off + 16) + 5);
    refinish(b + recs[1].off);
    seed("log", "lsn-gap", b, recs[2].off);

    seed("log", "short-23", log, DDX_REC_HDR - 1);
    free(b);
}

/* ---- containers ----------------------------------------------------------------------- */

static void retrail(uint8_t *b, size_t n, uint32_t count, uint64_t table_off)
{
    ddx_ctr_trailer t = {count, table_off, ddx_crc32c(0, b + table_off, (size_t)count * 48)};
    ddx_ctr_trailer_encode(&t, b + n - DDX_CTR_TRAILER);
}

static void container_seeds(const uint8_t *ctr, size_t n, const uint8_t *open, size_t open_n)
{
    ddx_ctr_trailer t;
    char why[256];
    if (n < DDX_CTR_HDR + DDX_CTR_TRAILER ||
        ddx_ctr_trailer_decode(ctr + n - DDX_CTR_TRAILER, DDX_CTR_TRAILER, n, &t, why, sizeof why))
        die("container 1 is not sealed");
    printf("container 1: %zu bytes, %u chunks\n", n, t.count);
    uint8_t *b = xmalloc(SEED_MAX);
    size_t len;

    /* The real container cut to the chunks in its first 12 KiB, with its
     * own descriptors for them and a new trailer. */
    uint32_t keep = 0;
    uint64_t end = DDX_CTR_HDR;
    const uint8_t *tab = ctr + t.table_off;
    while (keep < t.count) {
        uint64_t e = ddx_get32(tab + keep * 48 + 32) + (uint64_t)ddx_get32(tab + keep * 48 + 36);
        if (e > 12u << 10)
            break;
        end = e;
        keep++;
    }
    size_t small = end + (size_t)keep * 48 + DDX_CTR_TRAILER;
    memcpy(b, ctr, end);
    memcpy(b + end, tab, (size_t)keep * 48);
    retrail(b, small, keep, end);
    seed("container", "sealed-small", b, small);

    /* Descriptors pointing outside the data, table and trailer CRCs right. */
    uint8_t *d = b + end + 48 * (keep - 1);
    uint32_t off = ddx_get32(d + 32), dl = ddx_get32(d + 36);
    ddx_put32(d + 36, dl + 1);
    uint32_t len0 = ddx_get32(b + end + 36);
    ddx_put32(b + end + 36, 0); /* and the first chunk empty, which is valid */
    retrail(b, small, keep, end);
    seed("container", "desc-past-table", b, small);
    ddx_put32(b + end + 36, len0);
    ddx_put32(d + 32, 8);
    ddx_put32(d + 36, dl);
    retrail(b, small, keep, end);
    seed("container", "desc-in-header", b, small);
    ddx_put32(d + 32, 0xffffff00u);
    ddx_put32(d + 36, 0x200);
    retrail(b, small, keep, end);
    seed("container", "desc-wrap", b, small);
    ddx_put32(d + 32, off);
    ddx_put32(d + 36, dl);
    retrail(b, small, keep, end);

    /* The table changed after the trailer was written. */
    b[end + 40] ^= 1;
    seed("container", "table-crc-bad", b, small);
    b[end + 40] ^= 1;

    /* Trailer fields, its own CRC right. The header is decoded on its own,
     * so these also carry header faults: magic, format 0. */
    ddx_ctr_trailer bad = {0x7fffffffu, end, 0};
    ddx_ctr_trailer_encode(&bad, b + small - DDX_CTR_TRAILER);
    b[0] ^= 0x20; /* "dDXCONTR" */
    seed("container", "trailer-count-huge", b, small);
    b[0] ^= 0x20;
    bad = (ddx_ctr_trailer){keep, 16, 0};
    ddx_ctr_trailer_encode(&bad, b + small - DDX_CTR_TRAILER);
    seed("container", "trailer-off-in-header", b, small);
    bad = (ddx_ctr_trailer){keep, 1ull << 63, 0};
    ddx_ctr_trailer_encode(&bad, b + small - DDX_CTR_TRAILER);
    seed("container", "trailer-off-huge", b, small);
    retrail(b, small, keep, end);
    b[small - DDX_CTR_TRAILER + 16] ^= 0x01; /* table_off, under the old CRC */
    ddx_put16(b + 8, 0);
    ddx_put32(b + DDX_CTR_HDR - 4, ddx_crc32c(0, b, DDX_CTR_HDR - 4));
    seed("container", "trailer-crc-bad", b, small);

    seed("container", "sealed-head", ctr, HEAD);
    len = open_n < HEAD ? open_n : HEAD;
    seed("container", "open-head", open, len);
    seed("container", "header-only", ctr, DDX_CTR_HDR);

    /* Sealed with no chunks: header, empty table, trailer. */
    memcpy(b, ctr, DDX_CTR_HDR);
    retrail(b, DDX_CTR_HDR + DDX_CTR_TRAILER, 0, DDX_CTR_HDR);
    seed("container", "sealed-empty", b, DDX_CTR_HDR + DDX_CTR_TRAILER);

    memcpy(b, ctr, DDX_CTR_HDR);
    ddx_put16(b + 8, 2);
    ddx_put32(b + DDX_CTR_HDR - 4, ddx_crc32c(0, b, DDX_CTR_HDR - 4));
    seed("container", "header-major-2", b, DDX_CTR_HDR);
    memcpy(b, ctr, DDX_CTR_HDR);
    b[20] ^= 0x04;
    seed("container", "header-bitflip", b, DDX_CTR_HDR);

    seed("container", "short-31", ctr + n - 31, 31);
    seed("container", "empty", ctr, 0);
    free(b);
}

/* ---- payloads and the superblock ------------------------------------------------------- */

/* The superblock slot base with the field at off (2 or 4 bytes wide) set
 * to v and the CRC recomputed; width 0 breaks the magic instead. */
static void bad_slot(uint8_t *out, const uint8_t *base, size_t off, int width, uint32_t v)
{
    memcpy(out, base, DDX_SUPER_SLOT);
    if (width == 2)
        ddx_put16(out + off, (uint16_t)v);
    else if (width == 4)
        ddx_put32(out + off, v);
    else
        out[off] ^= 0x20;
    ddx_put32(out + DDX_SUPER_SLOT - 4, ddx_crc32c(0, out, DDX_SUPER_SLOT - 4));
}

static void recipe_seeds(const uint8_t *log, size_t n, const uint8_t *super, size_t super_n)
{
    static rec recs[4096];
    size_t k = walk_log(log, n, recs, 4096);
    uint8_t b[2 * DDX_SUPER_SLOT];

    /* Real payloads: b@1 (consecutive new ids), a@2 (mostly old ids, out
     * of order), a VERSION. */
    int nr = 0;
    for (size_t i = 0; i < k; i++) {
        if (recs[i].type != DDX_REC_RECIPE)
            continue;
        const uint8_t *p = log + recs[i].off + DDX_REC_HDR;
        if (nr == 0)
            seed("recipe", "real-first", p, recs[i].len);
        if (nr == 2)
            seed("recipe", "real-dedup", p, recs[i].len);
        nr++;
    }
    const rec *vr = first_of(recs, k, DDX_REC_VERSION);
    seed("recipe", "version-real", log + vr->off + DDX_REC_HDR, vr->len);

    /* The superblock file, then pairs of broken slots (the target decodes
     * both slots of a 1024-byte input): each field check once, CRC right. */
    if (super_n != 2 * DDX_SUPER_SLOT)
        die("META/super is %zu bytes", super_n);
    seed("recipe", "super", super, super_n);
    ddx_super s;
    char why[256];
    const uint8_t *base =
        super + (ddx_super_decode(super, DDX_SUPER_SLOT, &s, why, sizeof why) ? DDX_SUPER_SLOT : 0);
    bad_slot(b, base, 8, 2, 2);                  /* format 2.0: EFORMAT */
    bad_slot(b + DDX_SUPER_SLOT, base, 8, 2, 0); /* format 0.0 */
    seed("recipe", "super-format", b, sizeof b);
    bad_slot(b, base, 12, 4, 1024);               /* slot size field */
    bad_slot(b + DDX_SUPER_SLOT, base, 40, 4, 2); /* hash 2 */
    seed("recipe", "super-fields-1", b, sizeof b);
    bad_slot(b, base, 44, 4, 5);                     /* chunker 5 */
    bad_slot(b + DDX_SUPER_SLOT, base, 64, 4, 1024); /* 1 KiB containers */
    seed("recipe", "super-fields-2", b, sizeof b);
    bad_slot(b, base, 64, 4, 0x80000000u);       /* 2 GiB containers */
    bad_slot(b + DDX_SUPER_SLOT, base, 0, 0, 0); /* "dDXSUPER" */
    seed("recipe", "super-fields-3", b, sizeof b);
    memcpy(b, base, DDX_SUPER_SLOT);
    b[16] ^= 0x02; /* seq, under the old CRC */
    seed("recipe", "super-bitflip", b, DDX_SUPER_SLOT);

    /* Hand-made RECIPE payloads: version 7, part 0, count, ids. */
    struct {
        const char *name;
        uint32_t count;
        uint8_t ids[16];
        size_t n;
    } hand[] = {
        {"count-huge", 0xffffffffu, {2, 2, 2}, 3},
        /* zigzag 2^64-1: the largest 10-byte varint (id 2^63) */
        {"varint-10-max", 1, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10},
        {"varint-11", 1, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 11},
        {"count-zero", 0, {0}, 0},
        {"runs-past-end", 2, {0x02, 0x82}, 2},
        {"stray-bytes", 1, {0x02, 0x02}, 2},
        {"ids-negative", 4, {0x14, 0x01, 0x01, 0x13}, 4}, /* 10, 9, 8, then 2^64 - 2 */
    };
    for (size_t i = 0; i < sizeof hand / sizeof *hand; i++) {
        ddx_put64(b, 7);
        ddx_put32(b + 8, 0);
        ddx_put32(b + 12, hand[i].count);
        memcpy(b + DDX_RECIPE_HDR, hand[i].ids, hand[i].n);
        seed("recipe", hand[i].name, b, DDX_RECIPE_HDR + hand[i].n);
    }

    /* VERSION payloads: the longest name, then each name and number check. */
    ddx_version_rec v = {3, 1, 1, 4096, 4, 1700000000000000000ll, ""};
    memset(v.name, 'n', 255);
    v.name[255] = 0;
    size_t vn = ddx_version_encode(&v, b);
    seed("recipe", "version-name-255", b, vn);
    ddx_put16(b + 40, 256);
    b[vn] = 'n';
    seed("recipe", "version-name-256", b, vn + 1);
    strcpy(v.name, "a\tb");
    seed("recipe", "version-name-ctrl", b, ddx_version_encode(&v, b));
    strcpy(v.name, "a@b");
    seed("recipe", "version-name-at", b, ddx_version_encode(&v, b));
    strcpy(v.name, "a/b");
    seed("recipe", "version-name-slash", b, ddx_version_encode(&v, b));
    v.name[0] = 0;
    seed("recipe", "version-name-empty", b, ddx_version_encode(&v, b));
    strcpy(v.name, "v");
    v.number = 0;
    seed("recipe", "version-number-0", b, ddx_version_encode(&v, b));

    seed("recipe", "short-15", super, DDX_RECIPE_HDR - 1);
}

/* ---- main --------------------------------------------------------------------------------- */

static void rm_rf(const char *dir)
{
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd))
        fprintf(stderr, "make_corpus: could not remove %s\n", dir);
}

/* ---- path files: the identity and the owner (fuzz_recipe decodes both) ------------------ */

/* A path file with the given fields, CRC right (hostile values behind it). */
static void pathf_seed(const char *name, const char *magic, uint16_t major, const uint8_t uuid[16],
                       const char *path, int nul_at)
{
    ddx_pathf f = {major, 0, {0}, path, 0};
    memcpy(f.uuid, uuid, 16);
    size_t n;
    uint8_t *b = ddx_pathf_encode(magic, &f, &n);
    if (!b)
        die("encoding %s", name);
    if (nul_at >= 0) { /* a NUL inside the path */
        b[30 + nul_at] = 0;
        ddx_put32(b + n - 4, ddx_crc32c(0, b, n - 4));
    }
    seed("recipe", name, b, n);
    free(b);
}

static void pathf_seeds(const uint8_t *id, size_t n)
{
    ddx_pathf f;
    char why[256];
    if (ddx_pathf_decode(id, n, DDX_ID_MAGIC, "store", DDX_FMT_MAJOR, &f, why, sizeof why))
        die("ddx-store: %s", why);
    seed("recipe", "pathf-identity", id, n); /* "meta", relative to the store */
    pathf_seed("pathf-identity-absolute", DDX_ID_MAGIC, 1, f.uuid, "/srv/ddx-meta", -1);
    pathf_seed("pathf-owner", DDX_OWNER_MAGIC, 1, f.uuid, "/srv/backup", -1);
    pathf_seed("pathf-owner-major-2", DDX_OWNER_MAGIC, 2, f.uuid, "/srv/backup", -1);
    pathf_seed("pathf-identity-nul", DDX_ID_MAGIC, 1, f.uuid, "meta/x", 4);
    uint8_t b[64];
    memcpy(b, id, n < sizeof b ? n : sizeof b);
    ddx_put16(b + 28, 200); /* a path length past the end, CRC right */
    ddx_put32(b + n - 4, ddx_crc32c(0, b, n - 4));
    seed("recipe", "pathf-length-past-end", b, n);
    seed("recipe", "pathf-short-33", id, n < 33 ? n : 33);
}

int main(int argc, char **argv)
{
    snprintf(out_dir, sizeof out_dir, "%s", argc > 1 ? argv[1] : "tests/fuzz/corpus");
    if (mkdir(out_dir, 0755) && errno != EEXIST)
        die("%s: %s", out_dir, strerror(errno));
    char tmp[] = "/tmp/ddx-corpus-XXXXXX";
    if (!mkdtemp(tmp))
        die("mkdtemp: %s", strerror(errno));
    char s256[4200], s1[4200], path[4300];
    snprintf(s256, sizeof s256, "%s/sha256", tmp);
    snprintf(s1, sizeof s1, "%s/sha1", tmp);

    uint8_t *sealed;
    size_t sealed_n;
    make_store(s256, DDX_HASH_SHA256, &sealed, &sealed_n);
    make_store(s1, DDX_HASH_SHA1, NULL, NULL);

    size_t log_n, log1_n, super_n, open_n;
    snprintf(path, sizeof path, "%s/meta/log", s256);
    uint8_t *log = read_file(path, &log_n);
    snprintf(path, sizeof path, "%s/meta/log", s1);
    uint8_t *log1 = read_file(path, &log1_n);
    snprintf(path, sizeof path, "%s/meta/super", s256);
    uint8_t *super = read_file(path, &super_n);
    /* The open container is the one the newer superblock slot names. */
    ddx_super sa, sb;
    char why[256];
    int ra = super_n < 1024 || ddx_super_decode(super, 512, &sa, why, sizeof why);
    int rb = super_n < 1024 || ddx_super_decode(super + 512, 512, &sb, why, sizeof why);
    if (ra && rb)
        die("META/super: %s", why);
    if (rb || (!ra && sa.seq > sb.seq))
        sb = sa;
    snprintf(path, sizeof path, "%s/data/%08x.ctr", s256, sb.open_ctr);
    uint8_t *open = read_file(path, &open_n);

    size_t id_n;
    snprintf(path, sizeof path, "%s/ddx-store", s256);
    uint8_t *id = read_file(path, &id_n);

    log_seeds(log, log_n, log1, log1_n);
    container_seeds(sealed, sealed_n, open, open_n);
    recipe_seeds(log, log_n, super, super_n);
    pathf_seeds(id, id_n);
    printf("%u seeds in %s\n", seeds, out_dir);

    free(id);
    free(log);
    free(log1);
    free(super);
    free(open);
    free(sealed);
    rm_rf(tmp);
    return 0;
}
