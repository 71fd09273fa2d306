/*
 * fuzz_log.c - libFuzzer target: the input is a metadata log (META/log).
 *
 * Walks it as replay() in store.c does: ddx_rec_decode from offset 0, one
 * record after another, stopping at the first error or at a gap in the
 * sequence numbers (counted from the first record's, so that slices of a log
 * make good seeds). Each payload goes through the decoder for its type -
 * CHUNKS with both fingerprint sizes (SHA-256 and SHA-1), RECIPE with every
 * id decoded, VERSION - and every decoded entry is read, so that ASan sees
 * any pointer a decoder hands out past the input.
 *
 * A mutated record almost never keeps a valid CRC-32C, so on its own the
 * fuzzer would seldom get past the checksum into the payload decoders. The
 * walk therefore runs twice: on the input as it is (what replay sees), and
 * on a copy whose record CRCs were recomputed, which feeds mutated payloads
 * to the decoders.
 *
 * Invariants (abort() when broken): decoders return 0, DDX_ECORRUPT,
 * DDX_EFULL or DDX_EFORMAT and say why on failure; DDX_EFULL only for a
 * record cut short; a decoded record lies inside the input; a CHUNKS payload
 * is exactly its entries; recipe ids and VERSION payloads re-encode to the
 * bytes they were decoded from (one encoding per value).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "ddx.h"
#include "store_fmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads of decoded bytes land here so the compiler cannot drop them. */
static volatile uint64_t sink;

static void touch(const uint8_t *p, size_t n)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += p[i];
    sink += s;
}

/* The decoders' contract: one of four codes, and a reason with each failure. */
static void check_rc(int rc, const char *why)
{
    if (rc != 0 && rc != DDX_ECORRUPT && rc != DDX_EFULL && rc != DDX_EFORMAT)
        abort();
    if (rc && !why[0])
        abort();
}

static void chunks(const ddx_rec *r, size_t fp_size)
{
    ddx_chunks_rec c;
    char why[256] = "";
    int rc = ddx_chunks_decode(r->payload, r->len, fp_size, &c, why, sizeof why);
    check_rc(rc, why);
    if (rc)
        return;
    if (c.fp_size != fp_size || c.container == 0 ||
        DDX_CHUNKS_HDR + (uint64_t)c.count * (fp_size + 12) != r->len ||
        c.ents != r->payload + DDX_CHUNKS_HDR)
        abort();
    const uint8_t *end = r->payload + r->len;
    for (uint32_t i = 0; i < c.count; i++) {
        ddx_chunk_ent e;
        ddx_chunks_entry(&c, i, &e);
        if (e.fp < c.ents || e.fp + fp_size + 12 > end)
            abort();
        touch(e.fp, fp_size);
        sink += (uint64_t)e.offset + e.length + e.crc;
    }
}

static void recipe(const ddx_rec *r)
{
    ddx_recipe_rec rr;
    char why[256] = "";
    int rc = ddx_recipe_decode(r->payload, r->len, &rr, why, sizeof why);
    check_rc(rc, why);
    if (rc)
        return;
    if (rr.count > rr.ids_len || rr.ids != r->payload + DDX_RECIPE_HDR ||
        (uint64_t)rr.ids_len + DDX_RECIPE_HDR != r->len)
        abort();
    /* count <= ids_len <= the input's size: a hostile count cannot make
     * these allocations larger than 10 bytes per input byte. */
    uint64_t *ids = malloc(((size_t)rr.count + 1) * sizeof *ids);
    uint8_t *enc = malloc((size_t)rr.count * 10 + 1);
    if (!ids || !enc)
        abort();
    why[0] = 0;
    rc = ddx_recipe_ids(&rr, ids, why, sizeof why);
    check_rc(rc, why);
    if (!rc) {
        size_t n = 0;
        uint64_t prev = 0;
        for (uint32_t i = 0; i < rr.count; i++) {
            n += ddx_varint_delta(enc + n, prev, ids[i]);
            prev = ids[i];
        }
        if (n != rr.ids_len || memcmp(enc, rr.ids, n))
            abort();
    }
    free(enc);
    free(ids);
}

static void version(const ddx_rec *r)
{
    ddx_version_rec v;
    char why[256] = "";
    int rc = ddx_version_decode(r->payload, r->len, &v, why, sizeof why);
    check_rc(rc, why);
    if (rc)
        return;
    uint8_t enc[DDX_VERSION_HDR + 256];
    size_t n = ddx_version_encode(&v, enc);
    if (n != r->len || memcmp(enc, r->payload, n) || v.number == 0)
        abort();
}

static void payload(const ddx_rec *r)
{
    switch (r->type) {
    case DDX_REC_CHUNKS:
        chunks(r, 32);
        chunks(r, 20);
        break;
    case DDX_REC_RECIPE:
        recipe(r);
        break;
    case DDX_REC_VERSION:
        version(r);
        break;
    default:
        /* REMOVE, FREE and MOVE are arrays of fixed-size fields that
         * store.c reads directly; reading them all checks the payload
         * pointer and length the record decoder handed out. */
        touch(r->payload, r->len);
        break;
    }
}

static void walk(const uint8_t *buf, size_t n)
{
    size_t at = 0;
    uint64_t lsn = 0;
    int first = 1;
    while (at < n) {
        ddx_rec r;
        char why[256] = "";
        int rc = ddx_rec_decode(buf + at, n - at, &r, why, sizeof why);
        check_rc(rc, why);
        if (rc == DDX_EFULL && n - at >= DDX_REC_HDR &&
            n - at >= ddx_rec_size(ddx_get32(buf + at + 4)))
            abort(); /* "torn" only for a record cut short by the end */
        if (rc)
            break;
        if (r.total > n - at || r.total != ddx_rec_size(r.len) || r.total % 8 ||
            r.payload != buf + at + DDX_REC_HDR || r.len > DDX_REC_MAX || r.type < DDX_REC_CHUNKS ||
            r.type > DDX_REC_MOVE)
            abort();
        if (!first && r.lsn != lsn)
            break; /* replay stops at a gap in the sequence */
        first = 0;
        lsn = r.lsn + 1;
        payload(&r);
        at += r.total;
    }
}

/* Recompute the CRC of every record whose header announces a length that
 * fits; stop at the first that does not. Returns whether anything changed. */
static int fix_crcs(uint8_t *b, size_t n)
{
    int changed = 0;
    size_t at = 0;
    while (n - at >= DDX_REC_HDR) {
        uint32_t len = ddx_get32(b + at + 4);
        if (len > DDX_REC_MAX || ddx_rec_size(len) > n - at)
            break;
        uint32_t crc = ddx_crc32c(0, b + at + 4, DDX_REC_HDR - 4 + (size_t)len);
        if (ddx_get32(b + at) != crc) {
            ddx_put32(b + at, crc);
            changed = 1;
        }
        at += ddx_rec_size(len);
    }
    return changed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    walk(data, size);
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        abort();
    if (size)
        memcpy(copy, data, size);
    if (fix_crcs(copy, size))
        walk(copy, size);
    free(copy);
    return 0;
}
