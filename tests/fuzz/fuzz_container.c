/*
 * fuzz_container.c - libFuzzer target: the input is a container file
 * (STORE/data/NNNNNNNN.ctr).
 *
 * Decodes it as a reader of a sealed container would: the 64-byte header;
 * the trailer from the last 32 bytes with the input's size as the file size
 * (from a shorter input, the whole of it, which must be refused); and when
 * the trailer is valid and the descriptor table's CRC-32C matches, every
 * descriptor, reading the first and last byte of the chunk each one points
 * at (ASan catches a descriptor that escapes the file). The header is
 * decoded whether or not the trailer is, and the other way round.
 *
 * As in fuzz_log.c, the decoding runs a second time on a copy whose header,
 * table and trailer CRCs were recomputed, so that mutated fields get past
 * the checksums.
 *
 * Invariants (abort() when broken): decoders return 0, DDX_ECORRUPT or
 * DDX_EFORMAT and say why on failure; a decoded header and trailer survive
 * encode + decode unchanged; a valid trailer's table and a valid
 * descriptor's chunk lie in the file's data section [64, table_off).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "ddx.h"
#include "store_fmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink;

static void check_rc(int rc, const char *why)
{
    if (rc != 0 && rc != DDX_ECORRUPT && rc != DDX_EFORMAT)
        abort();
    if (rc && !why[0])
        abort();
}

static void header(const uint8_t *b, size_t n)
{
    ddx_ctr_hdr h, h2;
    char why[256] = "";
    int rc = ddx_ctr_hdr_decode(b, n, &h, why, sizeof why);
    check_rc(rc, why);
    if (rc)
        return;
    uint8_t enc[DDX_CTR_HDR];
    ddx_ctr_hdr_encode(&h, enc);
    why[0] = 0;
    if (ddx_ctr_hdr_decode(enc, sizeof enc, &h2, why, sizeof why) || h2.id != h.id ||
        memcmp(h2.uuid, h.uuid, 16))
        abort();
}

static void container(const uint8_t *b, size_t n)
{
    header(b, n);
    ddx_ctr_trailer t, t2;
    char why[256] = "";
    int rc;
    if (n < DDX_CTR_TRAILER) {
        /* A file shorter than a trailer: all there is, and refused. */
        rc = ddx_ctr_trailer_decode(b, n, n, &t, why, sizeof why);
        check_rc(rc, why);
        if (!rc)
            abort();
        return;
    }
    rc = ddx_ctr_trailer_decode(b + n - DDX_CTR_TRAILER, DDX_CTR_TRAILER, n, &t, why, sizeof why);
    check_rc(rc, why);
    if (rc)
        return;
    if (t.table_off < DDX_CTR_HDR ||
        t.table_off + (uint64_t)t.count * DDX_CTR_DESC + DDX_CTR_TRAILER != n)
        abort();
    uint8_t enc[DDX_CTR_TRAILER];
    ddx_ctr_trailer_encode(&t, enc);
    why[0] = 0;
    if (ddx_ctr_trailer_decode(enc, sizeof enc, n, &t2, why, sizeof why) || t2.count != t.count ||
        t2.table_off != t.table_off || t2.table_crc != t.table_crc)
        abort();
    const uint8_t *tab = b + t.table_off;
    if (ddx_crc32c(0, tab, (size_t)t.count * DDX_CTR_DESC) != t.table_crc)
        return;
    for (uint32_t i = 0; i < t.count; i++) {
        ddx_ctr_desc d;
        why[0] = 0;
        rc = ddx_ctr_desc_decode(tab + (size_t)i * DDX_CTR_DESC, t.table_off, &d, why, sizeof why);
        check_rc(rc, why);
        if (rc)
            continue;
        if (d.offset < DDX_CTR_HDR || (uint64_t)d.offset + d.length > t.table_off)
            abort();
        /* The ends of the chunk are enough for ASan; every byte would make
         * a table of many large chunks quadratic. */
        if (d.length)
            sink += b[d.offset] + b[(size_t)d.offset + d.length - 1];
        sink += d.fp[0] + d.fp[31] + d.crc;
    }
}

/* Recompute the header CRC (if the magic is there), the table CRC (if the
 * trailer's fields put the table inside the file) and the trailer's own
 * CRC. Returns whether anything changed. */
static int fix_crcs(uint8_t *b, size_t n)
{
    int changed = 0;
    if (n >= DDX_CTR_HDR && !memcmp(b, "DDXCONTR", 8)) {
        uint32_t crc = ddx_crc32c(0, b, DDX_CTR_HDR - 4);
        changed |= ddx_get32(b + DDX_CTR_HDR - 4) != crc;
        ddx_put32(b + DDX_CTR_HDR - 4, crc);
    }
    if (n >= DDX_CTR_TRAILER) {
        uint8_t *t = b + n - DDX_CTR_TRAILER;
        uint64_t count = ddx_get32(t + 8), off = ddx_get64(t + 16);
        if (off <= n - DDX_CTR_TRAILER && count * DDX_CTR_DESC <= n - DDX_CTR_TRAILER - off) {
            uint32_t crc = ddx_crc32c(0, b + off, count * DDX_CTR_DESC);
            changed |= ddx_get32(t + 24) != crc;
            ddx_put32(t + 24, crc);
        }
        uint32_t crc = ddx_crc32c(0, t, 28);
        changed |= ddx_get32(t + 28) != crc;
        ddx_put32(t + 28, crc);
    }
    return changed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    container(data, size);
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        abort();
    if (size)
        memcpy(copy, data, size);
    if (fix_crcs(copy, size))
        container(copy, size);
    free(copy);
    return 0;
}
