/*
 * test_trace.c - fingerprint traces through the public API (ddx.h,
 * "fingerprint traces"; docs/format.md and docs/traces.md).
 *
 * ddx binary traces: writer -> reader round trips (random records and
 * streams, fingerprint sizes 1, 16, 20, 32, several blocks, the empty
 * trace), read from a file, from memory and with max = 1, 7 and 4096 giving
 * the same records; an independent encoder written here from the spec
 * builds hand-made traces for every semantic check (versions, header fields,
 * counts, record lengths, stream marks, end totals); every single-byte change
 * of small traces (header, block headers, payloads, end block), truncation
 * at every length and trailing bytes are rejected with a message naming the
 * file and the block. FIU and FSL text: valid lines, skipped reads, comments
 * and headers, FSL streams, CRLF, 64 KiB lines, every malformed-line class
 * with its exact message, errors after delivered records, files larger than
 * the read buffer, stdin. Auto-detection of each format and its failures.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crc32c.h"
#include "ddx.h"
#include "testutil.h"

/* ---- helpers -------------------------------------------------------------------- */

#define mktmp() tu_mktmp("trace-test")
#define rmrf tu_rmrf
#define join tu_join

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long len = ftell(f);
    rewind(f);
    uint8_t *p = tu_xmalloc((size_t)len);
    cr_assert_eq(fread(p, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return p;
}

static void spit(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(p, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

/* What reading a whole trace gave: the records, the first error and its
 * message (from open or from read), the counts. */
typedef struct result {
    ddx_chunk *rec;
    size_t n;
    int rc;
    char msg[1024];
    ddx_trace_format fmt;
    size_t fp_size;
    char hash[16];
    ddx_trace_counts counts;
} result;

static void drain(ddx_trace *t, size_t max, result *r)
{
    ddx_chunk *buf = tu_xmalloc(max * sizeof *buf);
    size_t cap = 0;
    for (;;) {
        size_t got = 12345;
        int rc = ddx_trace_read(t, buf, max, &got);
        if (rc) {
            cr_assert_eq(got, 0);
            r->rc = rc;
            snprintf(r->msg, sizeof r->msg, "%s", ddx_trace_errmsg(t));
            /* sticky */
            cr_assert_eq(ddx_trace_read(t, buf, max, &got), rc);
            cr_assert_str_eq(ddx_trace_errmsg(t), r->msg);
            break;
        }
        cr_assert_leq(got, max);
        if (!got) {
            cr_assert_str_eq(ddx_trace_errmsg(t), "");
            cr_assert_eq(ddx_trace_read(t, buf, max, &got), 0, "end stays end");
            cr_assert_eq(got, 0);
            break;
        }
        if (r->n + got > cap) {
            cap = (r->n + got) * 2;
            r->rec = realloc(r->rec, cap * sizeof *r->rec);
            cr_assert(r->rec);
        }
        memcpy(r->rec + r->n, buf, got * sizeof *buf);
        r->n += got;
    }
    free(buf);
    ddx_trace_get_counts(t, &r->counts);
    cr_assert_eq(r->counts.records, r->n);
}

static void finish_open(ddx_trace *t, int rc, const char *why, size_t max, result *r)
{
    memset(r, 0, sizeof *r);
    if (rc) {
        cr_assert_null(t);
        r->rc = rc;
        snprintf(r->msg, sizeof r->msg, "%s", why);
        return;
    }
    cr_assert_not_null(t);
    r->fmt = ddx_trace_get_format(t);
    r->fp_size = ddx_trace_fp_size(t);
    snprintf(r->hash, sizeof r->hash, "%s", ddx_trace_hash_name(t));
    drain(t, max, r);
    ddx_trace_close(t);
}

static void read_mem(const void *p, size_t n, const char *name, ddx_trace_format fmt, size_t max,
                     result *r)
{
    ddx_trace *t = (ddx_trace *)1;
    char why[1024] = "";
    int rc = ddx_trace_open_mem(&t, p, n, name, fmt, why, sizeof why);
    finish_open(t, rc, why, max, r);
}

static void read_path(const char *path, ddx_trace_format fmt, size_t max, result *r)
{
    ddx_trace *t = (ddx_trace *)1;
    char why[1024] = "";
    int rc = ddx_trace_open(&t, path, fmt, why, sizeof why);
    finish_open(t, rc, why, max, r);
}

static void read_str(const char *s, const char *name, ddx_trace_format fmt, result *r)
{
    read_mem(s, strlen(s), name, fmt, 4096, r);
}

static void same_records(const result *a, const result *b, const char *what)
{
    cr_assert_eq(a->n, b->n, "%s: %zu vs %zu records", what, a->n, b->n);
    cr_assert_eq(a->rc, b->rc, "%s: rc %d vs %d", what, a->rc, b->rc);
    cr_assert_str_eq(a->msg, b->msg, "%s", what);
    for (size_t i = 0; i < a->n; i++)
        cr_assert(!memcmp(&a->rec[i], &b->rec[i], sizeof a->rec[i]), "%s: record %zu differs", what,
                  i);
}

static void expect_error(const result *r, int rc, const char *msg)
{
    cr_assert_eq(r->rc, rc, "rc %d (%s), expected %d; message '%s'", r->rc, ddx_strerror(r->rc), rc,
                 r->msg);
    cr_assert_str_eq(r->msg, msg);
}

static void free_result(result *r)
{
    free(r->rec);
    r->rec = NULL;
}

/* ---- an encoder of ddx traces written from the spec (not the library's) --------- */

typedef struct obuf {
    uint8_t *p;
    size_t n, cap;
} obuf;

static void ob_put(obuf *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        cr_assert(b->p);
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void ob_u32(obuf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    ob_put(b, x, 4);
}

static void ob_u64(obuf *b, uint64_t v)
{
    ob_u32(b, (uint32_t)v);
    ob_u32(b, (uint32_t)(v >> 32));
}

static void set32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16),
    p[3] = (uint8_t)(v >> 24);
}

static void enc_header(obuf *b, unsigned version, unsigned fp, unsigned hash, uint32_t flags,
                       int reserved_byte)
{
    uint8_t h[64] = {0};
    memcpy(h, "DDXTRACE", 8);
    h[8] = (uint8_t)version, h[9] = (uint8_t)(version >> 8);
    h[10] = (uint8_t)fp;
    h[11] = (uint8_t)hash;
    set32(h + 12, flags);
    h[16] = 0x42; /* created: any */
    if (reserved_byte >= 24)
        h[reserved_byte] = 1;
    set32(h + 60, ddx_crc32c(0, h, 60));
    ob_put(b, h, 64);
}

/* A block of raw payload with the given header fields (crc computed). */
static void enc_raw_block(obuf *b, uint32_t count, const void *payload, uint32_t plen)
{
    ob_u32(b, 0x4B425444u);
    ob_u32(b, count);
    ob_u32(b, plen);
    ob_u32(b, ddx_crc32c(0, payload, plen));
    ob_put(b, payload, plen);
}

/* A data block: lens[i] == 0 is a stream mark; record i's fingerprint is fp
 * bytes of value (i + 1) * 7 + k. */
static void enc_block(obuf *b, const uint32_t *lens, size_t count, unsigned fp)
{
    obuf pl = {0};
    for (size_t i = 0; i < count; i++) {
        ob_u32(&pl, lens[i]);
        for (unsigned k = 0; lens[i] && k < fp; k++) {
            uint8_t v = (uint8_t)((i + 1) * 7 + k);
            ob_put(&pl, &v, 1);
        }
    }
    enc_raw_block(b, (uint32_t)count, pl.p, (uint32_t)pl.n);
    free(pl.p);
}

static void enc_end(obuf *b, uint64_t recs, uint64_t streams, uint64_t bytes)
{
    obuf pl = {0};
    ob_u64(&pl, recs);
    ob_u64(&pl, streams);
    ob_u64(&pl, bytes);
    enc_raw_block(b, 0, pl.p, 24);
    free(pl.p);
}

/* ---- names ------------------------------------------------------------------------ */

Test(trace, format_names)
{
    const char *names[] = {"auto", "ddx", "fiu", "fsl"};
    for (int i = 0; i < 4; i++) {
        ddx_trace_format f;
        cr_assert_str_eq(ddx_trace_format_name((ddx_trace_format)i), names[i]);
        cr_assert_eq(ddx_trace_format_from_name(names[i], &f), 0);
        cr_assert_eq(f, (ddx_trace_format)i);
    }
    ddx_trace_format f;
    cr_assert_eq(ddx_trace_format_from_name("FIU", &f), DDX_EINVAL);
    cr_assert_eq(ddx_trace_format_from_name("", &f), DDX_EINVAL);
    cr_assert_eq(ddx_trace_format_from_name(NULL, &f), DDX_EINVAL);
}

/* ---- ddx binary: round trips ---------------------------------------------------------- */

/* n random records: streams change now and then (by jumps: the reader
 * renumbers them 0, 1, 2, ...), lengths 1..64 MiB with the edges. */
static ddx_chunk *random_records(size_t n, size_t fp, uint64_t seed)
{
    ddx_chunk *c = tu_xmalloc(n * sizeof *c);
    uint64_t s = seed, stream = 5;
    for (size_t i = 0; i < n; i++) {
        uint64_t r = tu_splitmix(&s);
        if (r % 97 == 0)
            stream += 1 + r % 3;
        memset(&c[i], 0, sizeof c[i]);
        c[i].stream = stream;
        switch (r >> 60) {
        case 0:
            c[i].length = 1;
            break;
        case 1:
            c[i].length = 64u << 20;
            break;
        default:
            c[i].length = 1 + (uint32_t)((r >> 8) % (64u << 20));
        }
        tu_fill_random(c[i].fp, fp, r);
        if (fp < DDX_FP_MAX)
            memset(c[i].fp + fp, 0xee, DDX_FP_MAX - fp); /* must not be written */
    }
    return c;
}

/* What a reader must return for records written by the writer. */
static void check_records(const result *r, const ddx_chunk *in, size_t n, size_t fp,
                          const char *what)
{
    cr_assert_eq(r->rc, 0, "%s: %s", what, r->msg);
    cr_assert_eq(r->n, n, "%s: %zu records, expected %zu", what, r->n, n);
    uint64_t stream = 0, off = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && in[i].stream != in[i - 1].stream)
            stream++, off = 0;
        const ddx_chunk *c = &r->rec[i];
        cr_assert_eq(c->stream, stream, "%s: record %zu stream", what, i);
        cr_assert_eq(c->offset, off, "%s: record %zu offset", what, i);
        cr_assert_eq(c->length, in[i].length, "%s: record %zu length", what, i);
        cr_assert_eq(c->is_new, 0);
        cr_assert(!memcmp(c->fp, in[i].fp, fp), "%s: record %zu fingerprint", what, i);
        for (size_t k = fp; k < DDX_FP_MAX; k++)
            cr_assert_eq(c->fp[k], 0, "%s: record %zu fp byte %zu not zero", what, i, k);
        off += c->length;
    }
}

static void write_trace(const char *path, const char *hash, size_t fp, const ddx_chunk *c, size_t n,
                        size_t per_call)
{
    ddx_trace_writer *w = NULL;
    char why[512];
    int rc = ddx_trace_writer_open(&w, path, hash, fp, why, sizeof why);
    cr_assert_eq(rc, 0, "%s", why);
    for (size_t i = 0; i < n; i += per_call) {
        size_t k = n - i < per_call ? n - i : per_call;
        cr_assert_eq(ddx_trace_writer_add(w, c + i, k), 0);
    }
    cr_assert_eq(ddx_trace_writer_finish(w), 0);
}

Test(trace, ddx_round_trip_sizes_blocks_and_read_sizes)
{
    char *tmp = mktmp();
    const size_t fps[] = {1, 16, 20, 32};
    const char *hashes[] = {"", "md5", "sha1", "sha256"};
    for (int k = 0; k < 4; k++) {
        size_t fp = fps[k], n = 4096 * 2 + 300 + (size_t)k * 1000;
        ddx_chunk *in = random_records(n, fp, tu_seed() + (uint64_t)k);
        char *path = join(tmp, "t.ddxt");
        write_trace(path, hashes[k], fp, in, n, 1 + (size_t)k * 333);
        struct stat st;
        char *tmpfile = join(tmp, "t.ddxt.tmp");
        cr_assert_neq(stat(tmpfile, &st), 0, "PATH.tmp renamed away");
        uint64_t marks = 0;
        for (size_t i = 1; i < n; i++)
            marks += in[i].stream != in[i - 1].stream;
        size_t blocks = (size_t)((n + marks + 4095) / 4096) + 1;

        result a, b, c, d;
        read_path(path, DDX_TRACE_AUTO, 4096, &a);
        check_records(&a, in, n, fp, "auto, max 4096");
        cr_assert_eq(a.fmt, DDX_TRACE_DDX);
        cr_assert_eq(a.fp_size, fp);
        cr_assert_str_eq(a.hash, hashes[k]);
        cr_assert_eq(a.counts.lines, blocks, "blocks %llu, expected %zu",
                     (unsigned long long)a.counts.lines, blocks);
        cr_assert_eq(a.counts.skipped, 0);
        size_t size;
        uint8_t *bytes = slurp(path, &size);
        cr_assert_eq(a.counts.bytes_read, size);
        cr_assert_eq(size, 64 + 16 * blocks + (n + marks) * 4 + n * fp + 24);

        read_path(path, DDX_TRACE_DDX, 1, &b);
        same_records(&a, &b, "max 1");
        read_path(path, DDX_TRACE_DDX, 7, &c);
        same_records(&a, &c, "max 7");
        read_mem(bytes, size, "m", DDX_TRACE_AUTO, 4096, &d);
        same_records(&a, &d, "memory");
        free_result(&a), free_result(&b), free_result(&c), free_result(&d);
        free(bytes);
        free(path);
        free(tmpfile);
        free(in);
    }
    rmrf(tmp);
    free(tmp);
}

Test(trace, ddx_empty_trace_and_replacing_a_file)
{
    char *tmp = mktmp(), *path = join(tmp, "e.ddxt");
    spit(path, "old contents", 12);
    write_trace(path, "sha256", 32, NULL, 0, 1);
    size_t size;
    uint8_t *bytes = slurp(path, &size);
    cr_assert_eq(size, 64 + 16 + 24, "header and end block only");
    result r;
    read_path(path, DDX_TRACE_AUTO, 10, &r);
    cr_assert_eq(r.rc, 0, "%s", r.msg);
    cr_assert_eq(r.n, 0);
    cr_assert_eq(r.counts.lines, 1);
    /* the same bytes from the spec's encoder (the header's time aside) */
    obuf b = {0};
    enc_header(&b, 1, 32, 2, 0, -1);
    enc_end(&b, 0, 0, 0);
    cr_assert_eq(b.n, size);
    cr_assert(!memcmp(b.p + 64, bytes + 64, size - 64));
    cr_assert(!memcmp(b.p, bytes, 16));
    free(b.p);
    free(bytes);
    free_result(&r);
    rmrf(tmp);
    free(tmp), free(path);
}

Test(trace, ddx_writer_matches_the_spec_encoder)
{
    char *tmp = mktmp(), *path = join(tmp, "s.ddxt");
    /* records in streams 3, 3, 9, 9, 9, 4: marks before the third and sixth */
    ddx_chunk in[6];
    memset(in, 0, sizeof in);
    const uint64_t streams[6] = {3, 3, 9, 9, 9, 4};
    const uint32_t lens[6] = {10, 20, 30, 40, 50, 60};
    for (int i = 0; i < 6; i++) {
        in[i].stream = streams[i];
        in[i].length = lens[i];
    }
    /* fingerprints as enc_block makes them: entry index e -> (e + 1) * 7 + k */
    const int entry_of[6] = {0, 1, 3, 4, 5, 7};
    for (int i = 0; i < 6; i++)
        for (int k = 0; k < 4; k++)
            in[i].fp[k] = (uint8_t)((entry_of[i] + 1) * 7 + k);
    write_trace(path, "", 4, in, 6, 6);
    size_t size;
    uint8_t *bytes = slurp(path, &size);
    obuf b = {0};
    enc_header(&b, 1, 4, 0, 0, -1);
    const uint32_t ent[8] = {10, 20, 0, 30, 40, 50, 0, 60};
    enc_block(&b, ent, 8, 4);
    enc_end(&b, 6, 3, 210);
    cr_assert_eq(b.n, size);
    /* all but the creation time and the header CRC that covers it */
    cr_assert(!memcmp(b.p, bytes, 16) && !memcmp(b.p + 24, bytes + 24, 36) &&
              !memcmp(b.p + 64, bytes + 64, size - 64));
    free(b.p), free(bytes);
    rmrf(tmp);
    free(tmp), free(path);
}

Test(trace, writer_arguments_abort_and_errors)
{
    char *tmp = mktmp(), *path = join(tmp, "w.ddxt"), *tmpf = join(tmp, "w.ddxt.tmp");
    ddx_trace_writer *w = (ddx_trace_writer *)1;
    char why[512];
    cr_assert_eq(ddx_trace_writer_open(&w, path, "sha256", 0, why, sizeof why), DDX_EINVAL);
    cr_assert_null(w);
    cr_assert_eq(ddx_trace_writer_open(&w, path, "sha256", 33, why, sizeof why), DDX_EINVAL);
    cr_assert_eq(ddx_trace_writer_open(&w, path, "blake3", 32, why, sizeof why), DDX_EINVAL);
    cr_assert_eq(ddx_trace_writer_open(&w, NULL, "", 32, why, sizeof why), DDX_EINVAL);
    char *nodir = join(tmp, "no/such/dir.ddxt");
    cr_assert_eq(ddx_trace_writer_open(&w, nodir, "sha1", 20, why, sizeof why), ENOENT);
    cr_assert(strstr(why, "no/such/dir.ddxt.tmp"), "%s", why);
    free(nodir);

    cr_assert_eq(ddx_trace_writer_open(&w, path, "sha1", 20, why, sizeof why), 0);
    struct stat st;
    cr_assert_eq(stat(tmpf, &st), 0, "written to PATH.tmp");
    cr_assert_neq(stat(path, &st), 0);
    ddx_chunk c[2];
    memset(c, 0, sizeof c);
    c[0].length = 5;
    c[1].length = 0;
    cr_assert_eq(ddx_trace_writer_add(w, c, 2), DDX_EINVAL, "length 0");
    c[1].length = (64u << 20) + 1;
    cr_assert_eq(ddx_trace_writer_add(w, c, 2), DDX_EINVAL, "length over 64 MiB");
    c[1].length = 7;
    cr_assert_eq(ddx_trace_writer_add(w, c, 2), 0);
    ddx_trace_writer_abort(w);
    cr_assert_neq(stat(tmpf, &st), 0, "abort removes PATH.tmp");
    cr_assert_neq(stat(path, &st), 0, "abort leaves no PATH");
    ddx_trace_writer_abort(NULL);

    /* the rejected calls added nothing */
    cr_assert_eq(ddx_trace_writer_open(&w, path, "sha1", 20, why, sizeof why), 0);
    c[1].length = 0;
    cr_assert_eq(ddx_trace_writer_add(w, c, 2), DDX_EINVAL);
    c[1].length = 7;
    cr_assert_eq(ddx_trace_writer_add(w, c, 2), 0);
    cr_assert_eq(ddx_trace_writer_finish(w), 0);
    result r;
    read_path(path, DDX_TRACE_AUTO, 16, &r);
    cr_assert_eq(r.rc, 0, "%s", r.msg);
    cr_assert_eq(r.n, 2);
    cr_assert_eq(r.rec[1].offset, 5);
    free_result(&r);
    rmrf(tmp);
    free(tmp), free(path), free(tmpf);
}

/* ---- ddx binary: hand-made hostile traces ---------------------------------------------- */

static void expect_ddx(const obuf *b, int rc, const char *msg)
{
    result r;
    read_mem(b->p, b->n, "t.ddxt", DDX_TRACE_AUTO, 4096, &r);
    expect_error(&r, rc, msg);
    free_result(&r);
    read_mem(b->p, b->n, "t.ddxt", DDX_TRACE_DDX, 1, &r);
    expect_error(&r, rc, msg);
    free_result(&r);
}

Test(trace, ddx_header_fields)
{
    obuf b = {0};
    enc_header(&b, 2, 20, 1, 0, -1);
    expect_ddx(&b, DDX_EFORMAT, "t.ddxt: trace format version 2 is newer than this reader (1)");
    b.n = 0;
    enc_header(&b, 0x100, 20, 1, 0, -1);
    expect_ddx(&b, DDX_EFORMAT, "t.ddxt: trace format version 256 is newer than this reader (1)");
    b.n = 0;
    enc_header(&b, 0, 20, 1, 0, -1);
    expect_ddx(&b, DDX_ECORRUPT, "t.ddxt: header: version 0, expected 1");
    b.n = 0;
    enc_header(&b, 1, 0, 1, 0, -1);
    expect_ddx(&b, DDX_ECORRUPT, "t.ddxt: header: fingerprint size 0 out of range 1..32");
    b.n = 0;
    enc_header(&b, 1, 33, 1, 0, -1);
    expect_ddx(&b, DDX_ECORRUPT, "t.ddxt: header: fingerprint size 33 out of range 1..32");
    b.n = 0;
    enc_header(&b, 1, 20, 4, 0, -1);
    expect_ddx(&b, DDX_ECORRUPT, "t.ddxt: header: unknown hash id 4");
    b.n = 0;
    enc_header(&b, 1, 20, 1, 0x10, -1);
    expect_ddx(&b, DDX_ECORRUPT, "t.ddxt: header: unknown flags 0x10");
    for (int i = 24; i < 60; i += 7) {
        b.n = 0;
        enc_header(&b, 1, 20, 1, 0, i);
        char want[128];
        snprintf(want, sizeof want, "t.ddxt: header: reserved byte %d is not zero", i);
        expect_ddx(&b, DDX_ECORRUPT, want);
    }
    b.n = 0;
    enc_header(&b, 1, 20, 1, 0, -1);
    b.p[61] ^= 1;
    expect_ddx(&b, DDX_ECORRUPT, "t.ddxt: header: checksum mismatch");
    /* each hash id */
    const char *names[] = {"", "sha1", "sha256", "md5"};
    for (unsigned h = 0; h < 4; h++) {
        b.n = 0;
        enc_header(&b, 1, 8, h, 0, -1);
        enc_end(&b, 0, 0, 0);
        result r;
        read_mem(b.p, b.n, "t.ddxt", DDX_TRACE_AUTO, 4, &r);
        cr_assert_eq(r.rc, 0, "%s", r.msg);
        cr_assert_str_eq(r.hash, names[h]);
        cr_assert_eq(r.fp_size, 8);
        free_result(&r);
    }
    free(b.p);
}

Test(trace, ddx_blocks_entries_and_totals)
{
    obuf b = {0};
    const uint32_t big[1] = {0x5000000};
    enc_header(&b, 1, 20, 1, 0, -1);
    enc_block(&b, big, 1, 20);
    enc_end(&b, 1, 1, 0x5000000);
    expect_ddx(&b, DDX_ECORRUPT,
               "t.ddxt: block 1 at byte 64: record length 0x5000000 exceeds 64 MiB");

    /* at the limit: fine */
    const uint32_t max[2] = {64u << 20, 1};
    b.n = 0;
    enc_header(&b, 1, 20, 1, 0, -1);
    enc_block(&b, max, 2, 20);
    enc_end(&b, 2, 1, (64u << 20) + 1);
    result r;
    read_mem(b.p, b.n, "t.ddxt", DDX_TRACE_AUTO, 4096, &r);
    cr_assert_eq(r.rc, 0, "%s", r.msg);
    cr_assert_eq(r.n, 2);
    cr_assert_eq(r.rec[1].offset, 64u << 20);
    cr_assert_eq(r.rec[1].fp[0], 14);
    free_result(&r);

    /* the second block: offsets in messages */
    const uint32_t two[2] = {100, 200};
    size_t blk2 = 64 + 16 + 2 * 24;
    char want[256];

    b.n = 0;
    enc_header(&b, 1, 20, 1, 0, -1);
    enc_block(&b, two, 2, 20);
    uint8_t zeros[4 * 4097] = {0};
    enc_raw_block(&b, 4097, zeros, sizeof zeros);
    snprintf(want, sizeof want, "t.ddxt: block 2 at byte %zu: count 4097 exceeds 4096 entries",
             blk2);
    expect_ddx(&b, DDX_ECORRUPT, want);

    b.n = 0;
    enc_header(&b, 1, 20, 1, 0, -1);
    enc_block(&b, two, 2, 20);
    b.n -= 48 + 16;
    enc_raw_block(&b, 2, zeros, 49); /* more than 2 x 24 */
    snprintf(want, sizeof want,
             "t.ddxt: block 1 at byte 64: payload of 49 bytes does not fit 2 entries");
    expect_ddx(&b, DDX_ECORRUPT, want);

    b.n = 0;
    enc_header(&b, 1, 20, 1, 0, -1);
    enc_raw_block(&b, 2, zeros, 7); /* less than 2 x 4 */
    expect_ddx(&b, DDX_ECORRUPT,
               "t.ddxt: block 1 at byte 64: payload of 7 bytes does not fit 2 entries");

    /* a payload with bytes after its entries: a mark (4 bytes) in a 24-byte payload */
    b.n = 0;
    enc_header(&b, 1, 20, 1, 0, -1);
    enc_block(&b, two, 2, 20);
    {
        uint8_t p[24] = {0};
        p[0] = 5; /* record of 5 bytes, fp zero ... */
        enc_raw_block(&b, 1, p, 24);
        /* fine: 4 + 20; now a mark followed by 20 stray bytes */
        uint8_t m[24] = {0};
        enc_raw_block(&b, 1, m, 24);
    }
    snprintf(want, sizeof want, "t.ddxt: block 3 at byte %zu: 20 payload bytes after its 1 entries",
             blk2 + 16 + 24);
    expect_ddx(&b, DDX_ECORRUPT, want);

    /* a record cut by the payload's end: count 2, payload 4 + 20 + 4 + 3 */
    b.n = 0;
    enc_header(&b, 1, 20, 1, 0, -1);
    {
        uint8_t p[31] = {0};
        p[0] = 9;
        p[24] = 9;
        enc_raw_block(&b, 2, p, 31);
    }
    expect_ddx(&b, DDX_ECORRUPT, "t.ddxt: block 1 at byte 64: entry 1 of 2 runs past the payload");

    /* end block payload size */
    b.n = 0;
    enc_header(&b, 1, 20, 1, 0, -1);
    enc_raw_block(&b, 0, zeros, 23);
    expect_ddx(&b, DDX_ECORRUPT,
               "t.ddxt: block 1 at byte 64: end block payload of 23 bytes, expected 24");

    /* end totals: records, streams, bytes */
    const uint32_t marked[4] = {100, 0, 200, 300};
    for (int which = 0; which < 4; which++) {
        b.n = 0;
        enc_header(&b, 1, 20, 1, 0, -1);
        enc_block(&b, marked, 4, 20);
        enc_end(&b, 3 + (which == 0), 2 + (which == 1), 600 + (which == 2));
        if (which == 3) {
            read_mem(b.p, b.n, "t.ddxt", DDX_TRACE_AUTO, 4096, &r);
            cr_assert_eq(r.rc, 0, "%s", r.msg);
            cr_assert_eq(r.n, 3);
            cr_assert_eq(r.rec[0].stream, 0);
            cr_assert_eq(r.rec[1].stream, 1);
            cr_assert_eq(r.rec[2].stream, 1);
            cr_assert_eq(r.rec[2].offset, 200);
            free_result(&r);
            continue;
        }
        snprintf(want, sizeof want,
                 "t.ddxt: block 2 at byte %zu: end block says %d records, %d streams, %d bytes; "
                 "the trace holds 3, 2, 600",
                 (size_t)64 + 16 + 4 * 4 + 3 * 20, 3 + (which == 0), 2 + (which == 1),
                 600 + (which == 2));
        expect_ddx(&b, DDX_ECORRUPT, want);
    }

    /* stream marks: leading, doubled, last */
    const uint32_t lead[2] = {0, 100}, dbl[4] = {100, 0, 0, 100}, last[2] = {100, 0};
    b.n = 0;
    enc_header(&b, 1, 20, 1, 0, -1);
    enc_block(&b, lead, 2, 20);
    enc_end(&b, 1, 1, 100);
    expect_ddx(
        &b, DDX_ECORRUPT,
        "t.ddxt: block 1 at byte 64: entry 0: stream mark with no record before it in its stream");
    b.n = 0;
    enc_header(&b, 1, 20, 1, 0, -1);
    enc_block(&b, dbl, 4, 20);
    enc_end(&b, 2, 2, 200);
    expect_ddx(
        &b, DDX_ECORRUPT,
        "t.ddxt: block 1 at byte 64: entry 2: stream mark with no record before it in its stream");
    b.n = 0;
    enc_header(&b, 1, 20, 1, 0, -1);
    enc_block(&b, last, 2, 20);
    enc_end(&b, 1, 2, 100);
    snprintf(want, sizeof want,
             "t.ddxt: block 2 at byte %d: the last stream mark is followed by no record",
             64 + 16 + 28);
    expect_ddx(&b, DDX_ECORRUPT, want);

    /* a mark at the end of one block and the record in the next: fine */
    b.n = 0;
    enc_header(&b, 1, 20, 1, 0, -1);
    enc_block(&b, last, 2, 20);
    enc_block(&b, two, 1, 20);
    enc_end(&b, 2, 2, 200);
    read_mem(b.p, b.n, "t.ddxt", DDX_TRACE_AUTO, 1, &r);
    cr_assert_eq(r.rc, 0, "%s", r.msg);
    cr_assert_eq(r.n, 2);
    cr_assert_eq(r.rec[1].stream, 1);
    cr_assert_eq(r.rec[1].offset, 0);
    free_result(&r);

    /* a block of 4096 entries */
    uint32_t *full = tu_xmalloc(4096 * sizeof *full);
    for (int i = 0; i < 4096; i++)
        full[i] = 1 + (uint32_t)i;
    b.n = 0;
    enc_header(&b, 1, 1, 0, 0, -1);
    enc_block(&b, full, 4096, 1);
    enc_end(&b, 4096, 1, 4096ull * 4097 / 2);
    read_mem(b.p, b.n, "t.ddxt", DDX_TRACE_AUTO, 1000, &r);
    cr_assert_eq(r.rc, 0, "%s", r.msg);
    cr_assert_eq(r.n, 4096);
    free_result(&r);
    free(full);

    /* records delivered before a bad block come first, then the error */
    b.n = 0;
    enc_header(&b, 1, 20, 1, 0, -1);
    enc_block(&b, two, 2, 20);
    enc_block(&b, big, 1, 20);
    {
        ddx_trace *t;
        char why[256];
        cr_assert_eq(ddx_trace_open_mem(&t, b.p, b.n, "t.ddxt", DDX_TRACE_AUTO, why, sizeof why),
                     0);
        ddx_chunk c[10];
        size_t got;
        cr_assert_eq(ddx_trace_read(t, c, 10, &got), 0);
        cr_assert_eq(got, 2);
        cr_assert_eq(ddx_trace_read(t, c, 10, &got), DDX_ECORRUPT);
        cr_assert_eq(got, 0);
        snprintf(want, sizeof want,
                 "t.ddxt: block 2 at byte %zu: record length 0x5000000 exceeds 64 MiB", blk2);
        cr_assert_str_eq(ddx_trace_errmsg(t), want);
        cr_assert_eq(ddx_trace_read(t, c, 10, &got), DDX_ECORRUPT);
        ddx_trace_close(t);
    }
    free(b.p);
}

/* A small trace with several blocks, a stream mark, and its block offsets. */
static void small_trace(obuf *b, size_t *starts, size_t *nblocks)
{
    const uint32_t b1[3] = {100, 200, 300}, b2[3] = {0, 400, 500}, b3[2] = {600, 700};
    b->n = 0;
    enc_header(b, 1, 8, 3, 0, -1);
    starts[0] = b->n;
    enc_block(b, b1, 3, 8);
    starts[1] = b->n;
    enc_block(b, b2, 3, 8);
    starts[2] = b->n;
    enc_block(b, b3, 2, 8);
    starts[3] = b->n;
    enc_end(b, 7, 2, 2800);
    starts[4] = b->n;
    *nblocks = 4;
}

/* The message names the file and, for a byte in block k (1-based), that
 * block; header bytes give a header or version message. */
static void check_names_place(const result *r, size_t at, const size_t *starts, size_t nblocks,
                              const char *what)
{
    cr_assert(r->rc == DDX_ECORRUPT || r->rc == DDX_EFORMAT, "%s: rc %d (%s)", what, r->rc, r->msg);
    cr_assert(!strncmp(r->msg, "t.ddxt: ", 8), "%s: %s", what, r->msg);
    cr_assert_null(strchr(r->msg, '\n'));
    if (at < 64) {
        cr_assert(strstr(r->msg, "header") || strstr(r->msg, "version"), "%s: %s", what, r->msg);
        return;
    }
    size_t k = 0;
    while (k + 1 < nblocks && at >= starts[k + 1])
        k++;
    char a[96], t[96];
    snprintf(a, sizeof a, "block %zu at byte %zu:", k + 1, starts[k]);
    snprintf(t, sizeof t, "truncated after block %zu ", k + 1);
    cr_assert(strstr(r->msg, a) || strstr(r->msg, t), "%s (byte %zu in block %zu): %s", what, at,
              k + 1, r->msg);
}

Test(trace, ddx_every_byte_changed_truncated_or_extended)
{
    obuf b = {0};
    size_t starts[5], nblocks;
    small_trace(&b, starts, &nblocks);
    result r;
    read_mem(b.p, b.n, "t.ddxt", DDX_TRACE_AUTO, 4096, &r);
    cr_assert_eq(r.rc, 0, "%s", r.msg);
    cr_assert_eq(r.n, 7);
    cr_assert_eq(r.rec[3].stream, 1);
    free_result(&r);

    uint8_t *copy = tu_xmalloc(b.n + 128);
    const uint8_t masks[] = {0x01, 0x02, 0x10, 0x80, 0xff};
    for (size_t at = 0; at < b.n; at++)
        for (size_t m = 0; m < sizeof masks; m++) {
            memcpy(copy, b.p, b.n);
            copy[at] ^= masks[m];
            char what[64];
            snprintf(what, sizeof what, "byte %zu ^ 0x%02x", at, masks[m]);
            read_mem(copy, b.n, "t.ddxt", DDX_TRACE_DDX, 3, &r);
            check_names_place(&r, at, starts, nblocks, what);
            free_result(&r);
        }
    for (size_t len = 0; len < b.n; len++) {
        char what[64];
        snprintf(what, sizeof what, "truncated to %zu bytes", len);
        read_mem(b.p, len, "t.ddxt", DDX_TRACE_DDX, 4096, &r);
        if (len == 0) {
            expect_error(&r, DDX_ECORRUPT, "t.ddxt: empty trace (no bytes)");
        } else {
            cr_assert(strstr(r.msg, "truncated"), "%s: %s", what, r.msg);
            check_names_place(&r, len - 1, starts, nblocks, what); /* the last byte there */
            if (len >= 8) { /* auto-detection sees the magic */
                result a;
                read_mem(b.p, len, "t.ddxt", DDX_TRACE_AUTO, 4096, &a);
                same_records(&r, &a, what);
                free_result(&a);
            }
        }
        free_result(&r);
    }
    /* at a block boundary: "truncated after block N" */
    read_mem(b.p, starts[2], "t.ddxt", DDX_TRACE_DDX, 4096, &r);
    expect_error(&r, DDX_ECORRUPT, "t.ddxt: truncated after block 2 (no end block)");
    cr_assert_eq(r.n, 5, "the records of the complete blocks are delivered");
    free_result(&r);
    read_mem(b.p, 64, "t.ddxt", DDX_TRACE_DDX, 4096, &r);
    expect_error(&r, DDX_ECORRUPT, "t.ddxt: truncated after the header (no end block)");
    free_result(&r);
    /* trailing bytes */
    const size_t extra[] = {1, 2, 40, 128};
    for (size_t i = 0; i < sizeof extra / sizeof *extra; i++) {
        memcpy(copy, b.p, b.n);
        memset(copy + b.n, 0, extra[i]);
        if (extra[i] == 40) /* another end block */
            memcpy(copy + b.n, b.p + starts[3], 40);
        read_mem(copy, b.n + extra[i], "t.ddxt", DDX_TRACE_AUTO, 4096, &r);
        char want[128];
        snprintf(want, sizeof want,
                 "t.ddxt: block 4 at byte %zu: bytes follow the end block (nothing may)",
                 starts[3]);
        expect_error(&r, DDX_ECORRUPT, want);
        free_result(&r);
    }
    free(copy);
    free(b.p);
}

Test(trace, ddx_every_byte_of_a_written_trace)
{
    /* the writer's own output, fp 20: one data block with marks, the end block */
    char *tmp = mktmp(), *path = join(tmp, "t.ddxt");
    ddx_chunk in[9];
    memset(in, 0, sizeof in);
    for (int i = 0; i < 9; i++) {
        in[i].stream = (uint64_t)i / 4;
        in[i].length = 1000 + (uint32_t)i;
        memset(in[i].fp, 0x30 + i, 20);
    }
    write_trace(path, "sha1", 20, in, 9, 2);
    size_t n;
    uint8_t *p = slurp(path, &n);
    size_t starts[3] = {64, n - 40, n};
    uint8_t *copy = tu_xmalloc(n);
    for (size_t at = 0; at < n; at++)
        for (unsigned m = 1; m < 256; m <<= 1) {
            memcpy(copy, p, n);
            copy[at] ^= (uint8_t)m;
            result r;
            char what[64];
            snprintf(what, sizeof what, "byte %zu ^ 0x%02x", at, m);
            read_mem(copy, n, "t.ddxt", DDX_TRACE_DDX, 5, &r);
            if (at >= 16 && at < 24) { /* "created" is informational, but under the CRC */
                cr_assert_eq(r.rc, DDX_ECORRUPT, "%s", what);
            }
            check_names_place(&r, at, starts, 2, what);
            free_result(&r);
        }
    free(copy);
    free(p);
    rmrf(tmp);
    free(tmp), free(path);
}

/* ---- FIU --------------------------------------------------------------------------------- */

#define MD5A "531e779059fe8a1ab8e0fbb4d4f0e05c"
#define MD5B "0123456789ABCDEFabcdef0123456789"
#define MD5C "ffffffffffffffffffffffffffffffff"

static const char FIU_OK[] =
    "# a comment\n"
    "89966553139291 4890 syslogd 904265560 8 W 6 0 " MD5A "\n"
    "89966553139292 4890 syslogd 904265568 16 R 6 0 " MD5A " " MD5B "\n"
    "   \n"
    "\n"
    "89966553139293\t4891\t\tnfsd  100 24 W 6 0 " MD5B "\t" MD5C " " MD5A "  \n"
    "  # indented comment\n"
    "0 0 p 18014398509481983 8 W 0 0 " MD5C;

static void check_fiu_ok(const result *r)
{
    cr_assert_eq(r->rc, 0, "%s", r->msg);
    cr_assert_eq(r->fmt, DDX_TRACE_FIU);
    cr_assert_eq(r->fp_size, 16);
    cr_assert_str_eq(r->hash, "md5");
    cr_assert_eq(r->n, 5);
    const uint64_t off[5] = {904265560ull * 512, 51200, 51200 + 4096, 51200 + 8192,
                             18014398509481983ull * 512};
    const uint8_t first[5] = {0x53, 0x01, 0xff, 0x53, 0xff};
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(r->rec[i].offset, off[i], "record %d", i);
        cr_assert_eq(r->rec[i].length, 4096);
        cr_assert_eq(r->rec[i].stream, 0);
        cr_assert_eq(r->rec[i].fp[0], first[i], "record %d", i);
        for (int k = 16; k < DDX_FP_MAX; k++)
            cr_assert_eq(r->rec[i].fp[k], 0);
    }
    cr_assert_eq(r->rec[1].fp[15], 0x89);
    cr_assert_eq(r->rec[1].fp[7], 0xef, "upper-case hex");
    cr_assert_eq(r->counts.lines, 8);
    cr_assert_eq(r->counts.skipped, 3, "two comments and a read");
}

static char *crlf(const char *s)
{
    char *o = tu_xmalloc(2 * strlen(s) + 1), *q = o;
    for (; *s; s++) {
        if (*s == '\n')
            *q++ = '\r';
        *q++ = *s;
    }
    *q = 0;
    return o;
}

Test(trace, fiu_valid_lines_reads_comments_and_crlf)
{
    result r, one, auto_r, c;
    read_str(FIU_OK, "t.fiu", DDX_TRACE_FIU, &r);
    check_fiu_ok(&r);
    read_mem(FIU_OK, strlen(FIU_OK), "t.fiu", DDX_TRACE_FIU, 1, &one);
    same_records(&r, &one, "max 1");
    read_str(FIU_OK, "t.fiu", DDX_TRACE_AUTO, &auto_r);
    check_fiu_ok(&auto_r);
    char *w = crlf(FIU_OK);
    read_str(w, "t.fiu", DDX_TRACE_AUTO, &c);
    check_fiu_ok(&c);
    same_records(&r, &c, "CRLF");
    cr_assert_eq(c.counts.bytes_read, strlen(w));
    free(w);
    free_result(&r), free_result(&one), free_result(&auto_r), free_result(&c);
}

/* A FIU trace whose line 2 is bad; the message must be exactly want. */
static void fiu_bad(const char *line2, const char *want)
{
    char s[4096];
    snprintf(s, sizeof s, "1 2 p 3 8 W 6 0 " MD5A "\n%s\n1 2 p 3 8 W 6 0 " MD5A "\n", line2);
    result r;
    read_str(s, "t.fiu", DDX_TRACE_FIU, &r);
    expect_error(&r, DDX_ECORRUPT, want);
    cr_assert_eq(r.n, 1, "the record of line 1 is delivered");
    free_result(&r);
}

Test(trace, fiu_every_malformed_line)
{
    fiu_bad("1 2 p 3 8 W 6", "t.fiu:2: expected minor, got end of line");
    fiu_bad("1 2 p 3 8 W 6 0", "t.fiu:2: expected 1 md5 fields (size 8 / 8), got 0");
    fiu_bad("1", "t.fiu:2: expected pid, got end of line");
    fiu_bad("x1 2 p 3 8 W 6 0 " MD5A,
            "t.fiu:2: expected timestamp (a decimal integer < 2^64), got 'x1'");
    fiu_bad("18446744073709551616 2 p 3 8 W 6 0 " MD5A,
            "t.fiu:2: expected timestamp (a decimal integer < 2^64), got '18446744073709551616'");
    fiu_bad("1 -2 p 3 8 W 6 0 " MD5A, "t.fiu:2: expected pid (a decimal integer < 2^64), got '-2'");
    fiu_bad("1 2 p 3a 8 W 6 0 " MD5A, "t.fiu:2: expected lba (a decimal integer < 2^64), got '3a'");
    fiu_bad("1 2 p 3 0 W 6 0 " MD5A,
            "t.fiu:2: expected size (sectors, a positive multiple of 8), got '0'");
    fiu_bad("1 2 p 3 12 W 6 0 " MD5A,
            "t.fiu:2: expected size (sectors, a positive multiple of 8), got '12'");
    fiu_bad("1 2 p 3 +8 W 6 0 " MD5A,
            "t.fiu:2: expected size (a decimal integer < 2^64), got '+8'");
    fiu_bad("1 2 p 3 8 w 6 0 " MD5A, "t.fiu:2: expected W or R, got 'w'");
    fiu_bad("1 2 p 3 8 WR 6 0 " MD5A, "t.fiu:2: expected W or R, got 'WR'");
    fiu_bad("1 2 p 3 8 W x 0 " MD5A, "t.fiu:2: expected major (a decimal integer < 2^64), got 'x'");
    fiu_bad("1 2 p 3 8 W 6 0.5 " MD5A,
            "t.fiu:2: expected minor (a decimal integer < 2^64), got '0.5'");
    fiu_bad("1 2 p 3 8 W 6 0 531e779059fe8a1ab8e0fbb4d4f0e05",
            "t.fiu:2: expected md5 (32 hex digits), got '531e779059fe8a1ab8e0fbb4d4f0e05'");
    fiu_bad("1 2 p 3 8 W 6 0 531e779059fe8a1ab8e0fbb4d4f0e05c0",
            "t.fiu:2: expected md5 (32 hex digits), got '531e779059fe8a1ab8e0fbb4d4f0e05c0'");
    fiu_bad("1 2 p 3 8 W 6 0 531e779059fe8a1ab8e0fbb4d4f0e05g",
            "t.fiu:2: expected md5 (32 hex digits), got '531e779059fe8a1ab8e0fbb4d4f0e05g'");
    fiu_bad("1 2 p 3 16 W 6 0 " MD5A, "t.fiu:2: expected 2 md5 fields (size 16 / 8), got 1");
    fiu_bad("1 2 p 3 8 W 6 0 " MD5A " " MD5B, "t.fiu:2: expected 1 md5 fields (size 8 / 8), got 2");
    /* a read is checked as well as a write */
    fiu_bad("1 2 p 3 16 R 6 0 " MD5A, "t.fiu:2: expected 2 md5 fields (size 16 / 8), got 1");
    /* lba: every block's byte address must fit in 64 bits */
    fiu_bad("1 2 p 36028797018963968 8 W 6 0 " MD5A,
            "t.fiu:2: expected lba (byte address lba * 512 < 2^64), got '36028797018963968'");
    fiu_bad("1 2 p 36028797018963967 16 W 6 0 " MD5A " " MD5A,
            "t.fiu:2: expected lba (byte address lba * 512 < 2^64), got '36028797018963967'");
    /* a text line is not FIU */
    fiu_bad("Trace of host 1",
            "t.fiu:2: expected timestamp (a decimal integer < 2^64), got 'Trace'");
    /* long tokens are cut at 40 characters, odd bytes escaped */
    fiu_bad(
        "1 2 p 3 8 W 6 0 " MD5A MD5A,
        "t.fiu:2: expected md5 (32 hex digits), got '531e779059fe8a1ab8e0fbb4d4f0e05c531e7790...'");
    fiu_bad("1 2 p 3 8 W 6 0 zz\x01'\\\x7f",
            "t.fiu:2: expected md5 (32 hex digits), got 'zz\\x01\\x27\\x5c\\x7f'");
    /* a NUL byte */
    char s[256];
    int n = snprintf(s, sizeof s, "1 2 p 3 8 W 6 0 %s\n1 2 p 3 8 W 6 0 %s\n", MD5A, MD5A);
    s[n - 3] = 0;
    result r;
    read_mem(s, (size_t)n, "t.fiu", DDX_TRACE_FIU, 4096, &r);
    expect_error(
        &r, DDX_ECORRUPT,
        "t.fiu:2: expected md5 (32 hex digits), got '531e779059fe8a1ab8e0fbb4d4f0e0\\x00c'");
    free_result(&r);
    /* a bare \r inside a line is not a blank */
    fiu_bad("1 2 p 3 8 W 6 0\r" MD5A, "t.fiu:2: expected minor (a decimal integer < 2^64), got "
                                      "'0\\x0d531e779059fe8a1ab8e0fbb4d4f0e05c'");
    /* the largest values */
    result ok;
    read_str("18446744073709551615 18446744073709551615 p 0 8 R 18446744073709551615 0 " MD5A "\n",
             "t.fiu", DDX_TRACE_FIU, &ok);
    cr_assert_eq(ok.rc, 0, "%s", ok.msg);
    cr_assert_eq(ok.counts.skipped, 1);
    free_result(&ok);
}

/* A FIU line of exactly len bytes (without its terminator). */
static char *fiu_line_of(size_t len, size_t *md5s)
{
    size_t k = (len - 19) / 33, size = 8 * k; /* the tail has 14 characters */
    char head[64];
    int hl = snprintf(head, sizeof head, "7 8 ");
    char tail[64];
    int tl = snprintf(tail, sizeof tail, " 9 %zu W 1 2", size);
    size_t pad = len - (size_t)hl - (size_t)tl - 33 * k;
    cr_assert(pad >= 1 && pad < 40);
    char *s = tu_xmalloc(len + 1);
    memcpy(s, head, (size_t)hl);
    memset(s + hl, 'p', pad);
    memcpy(s + (size_t)hl + pad, tail, (size_t)tl);
    char *q = s + (size_t)hl + pad + (size_t)tl;
    for (size_t i = 0; i < k; i++) {
        *q++ = ' ';
        memcpy(q, MD5B, 32);
        q += 32;
    }
    *q = 0;
    cr_assert_eq(strlen(s), len);
    *md5s = k;
    return s;
}

Test(trace, text_lines_up_to_64_kib)
{
    size_t k;
    char *line = fiu_line_of(65536, &k);
    size_t n = strlen(line);
    char *s = tu_xmalloc(n + 64);
    /* exactly 64 KiB, with \n, with \r\n, without a terminator */
    const char *ends[] = {"\n", "\r\n", ""};
    for (int e = 0; e < 3; e++) {
        sprintf(s, "%s%s", line, ends[e]);
        result r;
        read_str(s, "t.fiu", DDX_TRACE_AUTO, &r);
        cr_assert_eq(r.rc, 0, "%s", r.msg);
        cr_assert_eq(r.n, k);
        cr_assert_eq(r.rec[k - 1].offset, 9 * 512 + 4096 * (k - 1));
        free_result(&r);
    }
    /* one byte more */
    free(line);
    line = fiu_line_of(65537, &k);
    sprintf(s, "%s\n", line);
    result r;
    read_str(s, "t.fiu", DDX_TRACE_FIU, &r);
    expect_error(&r, DDX_ECORRUPT,
                 "t.fiu:1: expected a line of at most 65536 bytes, got a longer one");
    free_result(&r);
    read_str(s, "t.fiu", DDX_TRACE_AUTO, &r);
    expect_error(&r, DDX_ECORRUPT,
                 "t.fiu:1: expected a line of at most 65536 bytes, got a longer one");
    free_result(&r);
    /* a long line without any newline, and a very long one (1 MiB + 10) from a file */
    read_mem(line, strlen(line), "t.fiu", DDX_TRACE_FIU, 16, &r);
    expect_error(&r, DDX_ECORRUPT,
                 "t.fiu:1: expected a line of at most 65536 bytes, got a longer one");
    free_result(&r);
    char *tmp = mktmp(), *path = join(tmp, "long.fiu");
    size_t big = (1u << 20) + 10;
    char *b = tu_xmalloc(big);
    memset(b, 'x', big);
    memcpy(b, "# ", 2);
    spit(path, b, big);
    read_path(path, DDX_TRACE_FIU, 16, &r);
    char want[1200];
    snprintf(want, sizeof want, "%s:1: expected a line of at most 65536 bytes, got a longer one",
             path);
    expect_error(&r, DDX_ECORRUPT, want);
    free_result(&r);
    free(b);
    rmrf(tmp);
    free(tmp), free(path), free(s), free(line);
}

/* ---- FSL ----------------------------------------------------------------------------------- */

static const char FSL_OK[] = "Hash file version: 7\n"
                             "Root path: /home\n"
                             "# a comment\n"
                             "File path: /home/a\n"
                             "00:11:22:33:44:55 4096 3\n"
                             "aa:bb:cc:dd:ee:FF\t8192\n"
                             "File path: /home/b\n"
                             "File size: 4100 B\n"
                             "Chunk hash          Chunk size (bytes)\n"
                             "00:11:22:33:44:55   4096\n"
                             "\n"
                             "  ab:cd:ef:01:23:45 4 extra fields here\n"
                             "Be careful: not a chunk\n"
                             "File: /c\n"
                             "File path: /d\n"
                             "12:34:56:78:9a:bc 67108864";

static void check_fsl_ok(const result *r)
{
    cr_assert_eq(r->rc, 0, "%s", r->msg);
    cr_assert_eq(r->fmt, DDX_TRACE_FSL);
    cr_assert_eq(r->fp_size, 6);
    cr_assert_str_eq(r->hash, "");
    cr_assert_eq(r->n, 5);
    const uint64_t stream[5] = {0, 0, 1, 1, 2}, off[5] = {0, 4096, 0, 4096, 0};
    const uint32_t len[5] = {4096, 8192, 4096, 4, 64u << 20};
    const uint8_t fp0[5] = {0x00, 0xaa, 0x00, 0xab, 0x12};
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(r->rec[i].stream, stream[i], "record %d", i);
        cr_assert_eq(r->rec[i].offset, off[i], "record %d", i);
        cr_assert_eq(r->rec[i].length, len[i], "record %d", i);
        cr_assert_eq(r->rec[i].fp[0], fp0[i], "record %d", i);
        for (int k = 6; k < DDX_FP_MAX; k++)
            cr_assert_eq(r->rec[i].fp[k], 0);
    }
    cr_assert_eq(r->rec[1].fp[5], 0xff, "upper-case hex");
    cr_assert_eq(r->counts.lines, 16);
    cr_assert_eq(r->counts.skipped, 10, "every text line");
}

Test(trace, fsl_valid_lines_streams_headers_and_crlf)
{
    result r, one, a, c;
    read_str(FSL_OK, "t.fsl", DDX_TRACE_FSL, &r);
    check_fsl_ok(&r);
    read_mem(FSL_OK, strlen(FSL_OK), "t.fsl", DDX_TRACE_FSL, 1, &one);
    same_records(&r, &one, "max 1");
    read_str(FSL_OK, "t.fsl", DDX_TRACE_AUTO, &a);
    check_fsl_ok(&a);
    char *w = crlf(FSL_OK);
    read_str(w, "t.fsl", DDX_TRACE_AUTO, &c);
    check_fsl_ok(&c);
    same_records(&r, &c, "CRLF");
    free(w);
    free_result(&r), free_result(&one), free_result(&a), free_result(&c);

    /* 1- and 32-byte hashes; a 1-byte hash may start with a letter */
    read_str("ab 5\n01 6\nFile: x\nff 7\n", "t.fsl", DDX_TRACE_AUTO, &r);
    cr_assert_eq(r.rc, 0, "%s", r.msg);
    cr_assert_eq(r.fmt, DDX_TRACE_FSL);
    cr_assert_eq(r.fp_size, 1);
    cr_assert_eq(r.n, 3);
    cr_assert_eq(r.rec[2].stream, 1);
    free_result(&r);
    char h32[200] = "";
    for (int i = 0; i < 32; i++)
        sprintf(h32 + strlen(h32), "%s%02x", i ? ":" : "", i);
    char s[300];
    snprintf(s, sizeof s, "%s 9\n", h32);
    read_str(s, "t.fsl", DDX_TRACE_AUTO, &r);
    cr_assert_eq(r.rc, 0, "%s", r.msg);
    cr_assert_eq(r.fp_size, 32);
    cr_assert_eq(r.rec[0].fp[31], 31);
    free_result(&r);

    /* text only: no records, fingerprint size 0 */
    read_str("Hash file version: 7\nFile path: /x\n", "t.fsl", DDX_TRACE_FSL, &r);
    cr_assert_eq(r.rc, 0, "%s", r.msg);
    cr_assert_eq(r.n, 0);
    cr_assert_eq(r.fp_size, 0);
    cr_assert_eq(r.counts.skipped, 2);
    free_result(&r);
}

static void fsl_bad(const char *line3, const char *want)
{
    char s[4096];
    snprintf(s, sizeof s, "File path: /a\n00:11:22 5\n%s\n00:11:22 5\n", line3);
    result r;
    read_str(s, "t.fsl", DDX_TRACE_FSL, &r);
    expect_error(&r, DDX_ECORRUPT, want);
    cr_assert_eq(r.n, 1);
    free_result(&r);
}

Test(trace, fsl_every_malformed_line)
{
    fsl_bad("00:11:22 abc", "t.fsl:3: expected 'HASH SIZE' (SIZE decimal, 1..67108864), got 'abc'");
    fsl_bad("00:11:22 0", "t.fsl:3: expected 'HASH SIZE' (SIZE decimal, 1..67108864), got '0'");
    fsl_bad("00:11:22 67108865",
            "t.fsl:3: expected 'HASH SIZE' (SIZE decimal, 1..67108864), got '67108865'");
    fsl_bad("00:11:22", "t.fsl:3: expected 'HASH SIZE', got no SIZE after '00:11:22'");
    fsl_bad("00:11:2g 5",
            "t.fsl:3: expected 'HASH SIZE' (HASH: hex byte pairs joined by ':'), got '00:11:2g'");
    fsl_bad("00:11:22: 5",
            "t.fsl:3: expected 'HASH SIZE' (HASH: hex byte pairs joined by ':'), got '00:11:22:'");
    fsl_bad("00-11:22 5",
            "t.fsl:3: expected 'HASH SIZE' (HASH: hex byte pairs joined by ':'), got '00-11:22'");
    fsl_bad("123 456",
            "t.fsl:3: expected 'HASH SIZE' (HASH: hex byte pairs joined by ':'), got '123'");
    fsl_bad("00:11 5",
            "t.fsl:3: expected a HASH of 3 bytes (as the first record's), got 2 bytes ('00:11')");
    fsl_bad("ab 5",
            "t.fsl:3: expected a HASH of 3 bytes (as the first record's), got 1 bytes ('ab')");
    fsl_bad("-foo", "t.fsl:3: expected 'HASH SIZE' or a text line, got '-foo'");
    fsl_bad("  /path", "t.fsl:3: expected 'HASH SIZE' or a text line, got '/path'");
    char h33[200] = "";
    for (int i = 0; i < 33; i++)
        sprintf(h33 + strlen(h33), "%s%02x", i ? ":" : "", i);
    char line[300], want[300];
    snprintf(line, sizeof line, "%s 5", h33);
    snprintf(want, sizeof want,
             "t.fsl:3: expected a HASH of 1..32 bytes, got 33 bytes "
             "('00:01:02:03:04:05:06:07:08:09:0a:0b:0c:0...')");
    fsl_bad(line, want);
    /* a malformed first record fails the open (it is read for the fingerprint size) */
    ddx_trace *t = (ddx_trace *)1;
    char why[256];
    const char *s = "Hash file version: 7\n00:11 x\n";
    cr_assert_eq(ddx_trace_open_mem(&t, s, strlen(s), "t.fsl", DDX_TRACE_FSL, why, sizeof why),
                 DDX_ECORRUPT);
    cr_assert_null(t);
    cr_assert_str_eq(why, "t.fsl:2: expected 'HASH SIZE' (SIZE decimal, 1..67108864), got 'x'");
}

/* ---- detection, sources ------------------------------------------------------------------ */

Test(trace, auto_detection)
{
    result r;
    const char *unknown = "t: unknown trace format (expected ddx, fiu or fsl; use --trace-format)";
    struct {
        const char *text;
        ddx_trace_format want;
    } cases[] = {
        {"# c\n\n1 2 p 3 8 W 6 0 " MD5A "\n", DDX_TRACE_FIU},
        {"12 2 p 3 8 W 6 0 " MD5A "\n", DDX_TRACE_FIU}, /* "12 2" is also a 1-byte FSL line */
        {"Hash file version: 7\nFile path: /a\nb5:2e:e9:82:66:a5 4096\n", DDX_TRACE_FSL},
        {"# x\n12 34\n", DDX_TRACE_FSL},
        {"hello world\n", DDX_TRACE_AUTO},
        {"12345\n", DDX_TRACE_AUTO},
        {"1 2 p 3 8 X 6 0 " MD5A "\n", DDX_TRACE_AUTO},
        {"\n\n# only comments\n", DDX_TRACE_AUTO},
        {"\x01\x02garbage", DDX_TRACE_AUTO},
        {"DDXTRAC", DDX_TRACE_AUTO},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        read_str(cases[i].text, "t", DDX_TRACE_AUTO, &r);
        if (cases[i].want == DDX_TRACE_AUTO) {
            expect_error(&r, DDX_ECORRUPT, unknown);
        } else {
            cr_assert_eq(r.rc, 0, "case %zu: %s", i, r.msg);
            cr_assert_eq(r.fmt, cases[i].want, "case %zu", i);
            cr_assert_eq(r.n, 1);
        }
        free_result(&r);
    }
    read_mem("", 0, "t", DDX_TRACE_AUTO, 4, &r);
    expect_error(&r, DDX_ECORRUPT, "t: empty trace (no bytes)");
    free_result(&r);
    read_mem("", 0, "t", DDX_TRACE_FIU, 4, &r);
    expect_error(&r, DDX_ECORRUPT, "t: empty trace (no bytes)");
    free_result(&r);

    /* the first record line must start in the first 512 KiB */
    size_t lines = (512u << 10) / 16, n = lines * 16;
    char *big = tu_xmalloc(n + 64);
    for (size_t i = 0; i < lines; i++)
        memcpy(big + 16 * i, "Header: 0123456\n", 16);
    strcpy(big + n, "00:11 5\n");
    read_str(big, "t", DDX_TRACE_AUTO, &r);
    expect_error(&r, DDX_ECORRUPT, unknown);
    free_result(&r);
    read_str(big, "t", DDX_TRACE_FSL, &r);
    cr_assert_eq(r.rc, 0, "%s", r.msg);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.counts.skipped, lines);
    free_result(&r);
    memcpy(big + n - 16, "00:11 5\n        ", 16);
    read_str(big, "t", DDX_TRACE_AUTO, &r);
    cr_assert_eq(r.rc, 0, "%s", r.msg);
    cr_assert_eq(r.fmt, DDX_TRACE_FSL);
    free_result(&r);
    free(big);

    /* the wrong explicit format */
    read_str(FIU_OK, "t", DDX_TRACE_FSL, &r);
    cr_assert_eq(r.rc, DDX_ECORRUPT);
    cr_assert(!strncmp(r.msg, "t:2: expected 'HASH SIZE'", 25), "%s", r.msg);
    free_result(&r);
    read_str(FSL_OK, "t", DDX_TRACE_FIU, &r);
    expect_error(&r, DDX_ECORRUPT,
                 "t:1: expected timestamp (a decimal integer < 2^64), got 'Hash'");
    free_result(&r);
    read_str(FSL_OK, "t", DDX_TRACE_DDX, &r);
    expect_error(&r, DDX_ECORRUPT, "t: header: bad magic (not a ddx trace)");
    free_result(&r);
}

Test(trace, files_larger_than_the_buffer_stdin_and_open_errors)
{
    /* ~2.5 MiB of FIU: lines cross the 1 MiB read buffer's edges */
    size_t cap = 3u << 20, n = 0, lines = 0;
    char *s = tu_xmalloc(cap);
    uint64_t seed = tu_seed();
    while (n + 400 < (5u << 19)) {
        uint64_t r = tu_splitmix(&seed);
        int k = 1 + (int)(r % 5);
        n +=
            (size_t)sprintf(s + n, "%llu %d proc%d %llu %d %c 8 0", (unsigned long long)lines, 77,
                            (int)(r % 9), (unsigned long long)(r >> 40), 8 * k, r & 64 ? 'R' : 'W');
        for (int i = 0; i < k; i++)
            n += (size_t)sprintf(s + n, " %016llx%016llx", (unsigned long long)tu_splitmix(&seed),
                                 (unsigned long long)r);
        if (r & 128) /* CRLF now and then */
            s[n++] = '\r';
        s[n++] = '\n';
        lines++;
    }
    char *tmp = mktmp(), *path = join(tmp, "big.fiu");
    spit(path, s, n);
    result m, f, f1;
    read_mem(s, n, "big.fiu", DDX_TRACE_AUTO, 4096, &m);
    cr_assert_eq(m.rc, 0, "%s", m.msg);
    cr_assert_gt(m.n, 1000);
    read_path(path, DDX_TRACE_AUTO, 4096, &f);
    same_records(&m, &f, "file");
    read_path(path, DDX_TRACE_FIU, 1, &f1);
    same_records(&m, &f1, "file, max 1");
    cr_assert_eq(f.counts.lines, lines);
    cr_assert_eq(f.counts.bytes_read, n);
    cr_assert_eq(f.counts.skipped + (uint64_t)0, m.counts.skipped);

    /* the same through stdin (a pipe), with an error on the last line */
    n += (size_t)sprintf(s + n, "bad line\n");
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        close(p[0]);
        size_t at = 0;
        while (at < n) {
            size_t k = n - at < 777 ? n - at : 777; /* small writes */
            ssize_t w = write(p[1], s + at, k);
            if (w <= 0)
                _exit(1);
            at += (size_t)w;
        }
        _exit(0);
    }
    close(p[1]);
    int saved = dup(0);
    cr_assert_eq(dup2(p[0], 0), 0);
    close(p[0]);
    result in;
    read_path("-", DDX_TRACE_AUTO, 333, &in);
    dup2(saved, 0);
    close(saved);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert_eq(in.n, m.n);
    char want[128];
    snprintf(want, sizeof want,
             "<stdin>:%zu: expected timestamp (a decimal integer < 2^64), got 'bad'", lines + 1);
    expect_error(&in, DDX_ECORRUPT, want);
    for (size_t i = 0; i < m.n; i++)
        cr_assert(!memcmp(&in.rec[i], &m.rec[i], sizeof m.rec[i]));

    /* open errors name the file */
    result e;
    char *missing = join(tmp, "missing.fiu");
    read_path(missing, DDX_TRACE_AUTO, 4, &e);
    snprintf(want, sizeof want, "%s: %s", missing, strerror(ENOENT));
    expect_error(&e, ENOENT, want);
    read_path(tmp, DDX_TRACE_AUTO, 4, &e);
    snprintf(want, sizeof want, "%s: read: %s", tmp, strerror(EISDIR));
    expect_error(&e, EISDIR, want);
    char *empty = join(tmp, "empty");
    spit(empty, "", 0);
    read_path(empty, DDX_TRACE_AUTO, 4, &e);
    snprintf(want, sizeof want, "%s: empty trace (no bytes)", empty);
    expect_error(&e, DDX_ECORRUPT, want);

    /* arguments */
    ddx_trace *t = (ddx_trace *)1;
    char why[128];
    cr_assert_eq(ddx_trace_open(&t, NULL, DDX_TRACE_AUTO, why, sizeof why), DDX_EINVAL);
    cr_assert_null(t);
    cr_assert_eq(ddx_trace_open(&t, path, (ddx_trace_format)9, why, sizeof why), DDX_EINVAL);
    cr_assert_eq(ddx_trace_open_mem(&t, NULL, 5, "x", DDX_TRACE_AUTO, why, sizeof why), DDX_EINVAL);
    cr_assert_eq(ddx_trace_open(&t, path, DDX_TRACE_AUTO, why, sizeof why), 0);
    ddx_chunk c;
    size_t got = 9;
    cr_assert_eq(ddx_trace_read(t, &c, 0, &got), DDX_EINVAL);
    cr_assert_eq(got, 0);
    ddx_trace_close(t);
    ddx_trace_close(NULL);

    free_result(&m), free_result(&f), free_result(&f1), free_result(&in);
    rmrf(tmp);
    free(tmp), free(path), free(s), free(missing), free(empty);
}

/* ---- the committed samples (datasets/traces/, read from the repository root) ----- */

Test(trace, dataset_samples)
{
    struct stat st;
    if (stat("datasets/traces/sample.fiu", &st) || stat("datasets/traces/sample.fsl", &st))
        cr_skip_test("datasets/traces/ not found: run from the repository root");
    result a, b;
    read_path("datasets/traces/sample.fiu", DDX_TRACE_AUTO, 4096, &a);
    cr_assert_eq(a.rc, 0, "%s", a.msg);
    cr_assert_eq(a.fmt, DDX_TRACE_FIU);
    cr_assert_eq(a.counts.lines, 202);
    cr_assert_gt(a.n, 140, "the writes, some of several blocks");
    cr_assert_gt(a.counts.skipped, 30, "the reads and the comments");
    size_t dup = 0;
    for (size_t i = 1; i < a.n; i++)
        for (size_t j = 0; j < i && !dup; j++)
            dup += !memcmp(a.rec[i].fp, a.rec[j].fp, 16);
    cr_assert_gt(dup, 0, "repeated blocks");
    read_path("datasets/traces/sample.fiu", DDX_TRACE_FIU, 1, &b);
    same_records(&a, &b, "sample.fiu, max 1");
    free_result(&a), free_result(&b);

    read_path("datasets/traces/sample.fsl", DDX_TRACE_AUTO, 4096, &a);
    cr_assert_eq(a.rc, 0, "%s", a.msg);
    cr_assert_eq(a.fmt, DDX_TRACE_FSL);
    cr_assert_eq(a.fp_size, 6);
    cr_assert_eq(a.n, 200);
    cr_assert_eq(a.rec[0].stream, 0);
    cr_assert_eq(a.rec[a.n - 1].stream, 1, "two files, two streams");
    read_path("datasets/traces/sample.fsl", DDX_TRACE_FSL, 1, &b);
    same_records(&a, &b, "sample.fsl, max 1");
    free_result(&a), free_result(&b);
}
