/*
 * fuzz_recipe.c - libFuzzer target for the payload decoders without a log
 * around them (no record CRC in the fuzzer's way): the input is
 *
 *   - one RECIPE payload: ddx_recipe_decode, then every id with
 *     ddx_recipe_ids (the varint decoder);
 *   - one VERSION payload: ddx_version_decode;
 *   - a superblock file (META/super): ddx_super_decode on the slot at 0
 *     and, when the input has 1024 bytes, on the slot at 512 - once as is
 *     and once with the slot's CRC recomputed, so that mutated fields get
 *     past the checksum;
 *   - a path file (STORE/ddx-store or META/owner): ddx_pathf_decode with
 *     either magic, as is and with its CRC recomputed.
 *
 * Invariants (abort() when broken): decoders return 0, DDX_ECORRUPT or
 * DDX_EFORMAT and say why on failure (and the same without a buffer for
 * the reason); decoded recipe ids and VERSION
 * payloads re-encode to the bytes they came from (one encoding per value);
 * a decoded superblock survives encode + decode unchanged; a decoded path
 * file's path lies inside the input and re-encodes to the input's bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "ddx.h"
#include "store_fmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_rc(int rc, const char *why)
{
    if (rc != 0 && rc != DDX_ECORRUPT && rc != DDX_EFORMAT)
        abort();
    if (rc && !why[0])
        abort();
}

static void recipe(const uint8_t *p, uint32_t len)
{
    ddx_recipe_rec rr;
    char why[256] = "";
    int rc = ddx_recipe_decode(p, len, &rr, why, sizeof why);
    check_rc(rc, why);
    if (rc)
        return;
    if (rr.count > rr.ids_len || rr.ids != p + DDX_RECIPE_HDR ||
        (uint64_t)rr.ids_len + DDX_RECIPE_HDR != len)
        abort();
    /* count <= ids_len < len: bounded by the input's size. */
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

static void version(const uint8_t *p, uint32_t len)
{
    ddx_version_rec v;
    char why[256] = "";
    int rc = ddx_version_decode(p, len, &v, why, sizeof why);
    check_rc(rc, why);
    /* Without a message buffer, the same answer. */
    if (ddx_version_decode(p, len, &v, NULL, 0) != rc)
        abort();
    if (rc)
        return;
    uint8_t enc[DDX_VERSION_HDR + 256];
    size_t n = ddx_version_encode(&v, enc);
    if (n != len || memcmp(enc, p, n) || v.number == 0 || strlen(v.name) != len - DDX_VERSION_HDR)
        abort();
}

static int super_same(const ddx_super *a, const ddx_super *b)
{
    return a->seq == b->seq && !memcmp(a->uuid, b->uuid, 16) && a->hash == b->hash &&
           a->chunker == b->chunker && a->min == b->min && a->avg == b->avg && a->max == b->max &&
           a->normalization == b->normalization && a->container_bytes == b->container_bytes &&
           a->log_end == b->log_end && a->next_chunk == b->next_chunk &&
           a->next_version == b->next_version && a->next_lsn == b->next_lsn &&
           a->open_ctr == b->open_ctr && a->open_ctr_len == b->open_ctr_len;
}

static void super(const uint8_t *slot, size_t n)
{
    ddx_super s, s2;
    char why[256] = "";
    int rc = ddx_super_decode(slot, n, &s, why, sizeof why);
    check_rc(rc, why);
    if (rc)
        return;
    uint8_t enc[DDX_SUPER_SLOT];
    ddx_super_encode(&s, enc);
    why[0] = 0;
    if (ddx_super_decode(enc, sizeof enc, &s2, why, sizeof why) || !super_same(&s, &s2))
        abort();
}

static void super_slot(const uint8_t *slot, size_t n)
{
    super(slot, n);
    if (n < DDX_SUPER_SLOT)
        return;
    uint8_t copy[DDX_SUPER_SLOT];
    memcpy(copy, slot, sizeof copy);
    ddx_put32(copy + DDX_SUPER_SLOT - 4, ddx_crc32c(0, copy, DDX_SUPER_SLOT - 4));
    if (memcmp(copy, slot, sizeof copy))
        super(copy, sizeof copy);
}

static void pathf(const uint8_t *p, size_t n, const char *magic)
{
    ddx_pathf f;
    char why[256] = "";
    int rc = ddx_pathf_decode(p, n, magic, "store", 1, &f, why, sizeof why);
    check_rc(rc, why);
    if (ddx_pathf_decode(p, n, magic, "store", 1, &f, NULL, 0) != rc)
        abort();
    if (rc)
        return;
    if (f.path != (const char *)p + 30 || f.path_len + DDX_PATHF_FIXED != n ||
        memchr(f.path, 0, f.path_len))
        abort();
    char *path = malloc(f.path_len + 1);
    if (!path)
        abort();
    memcpy(path, f.path, f.path_len);
    path[f.path_len] = 0;
    ddx_pathf g = f;
    g.path = path;
    size_t m;
    uint8_t *enc = ddx_pathf_encode(magic, &g, &m);
    if (!enc || m != n || memcmp(enc, p, n))
        abort();
    free(enc);
    free(path);
}

static void pathf_both(const uint8_t *p, size_t n)
{
    for (int k = 0; k < 2; k++) {
        const char *magic = k ? DDX_OWNER_MAGIC : DDX_ID_MAGIC;
        pathf(p, n, magic);
        if (n < DDX_PATHF_FIXED || n > DDX_PATHF_FIXED + 65535)
            continue;
        uint8_t *copy = malloc(n);
        if (!copy)
            abort();
        memcpy(copy, p, n);
        ddx_put32(copy + n - 4, ddx_crc32c(0, copy, n - 4));
        if (memcmp(copy, p, n))
            pathf(copy, n, magic);
        free(copy);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t len = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
    recipe(data, len);
    version(data, len);
    super_slot(data, size < DDX_SUPER_SLOT ? size : DDX_SUPER_SLOT);
    if (size >= 2 * DDX_SUPER_SLOT)
        super_slot(data + DDX_SUPER_SLOT, DDX_SUPER_SLOT);
    pathf_both(data, size);
    return 0;
}
