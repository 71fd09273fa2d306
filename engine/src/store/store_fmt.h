/*
 * store_fmt.h - every on-disk structure of a store, encoded and decoded
 * field by field (little-endian, versioned, CRC-32C). docs/format.md draws
 * them. Decoders take untrusted bytes: they check every length against the
 * buffer and return DDX_ECORRUPT (or DDX_EFORMAT for a newer version) with a
 * one-line reason naming the field, never read out of bounds, and are the
 * libFuzzer targets' entry points.
 */
#ifndef DDX_STORE_FMT_H
#define DDX_STORE_FMT_H

#include <stddef.h>
#include <stdint.h>

#define DDX_FMT_MAJOR 1
#define DDX_FMT_MINOR 0
/* The superblock of a store that holds absent chunks (put from a fingerprint
 * trace: container id DDX_CTR_ABSENT, no bytes anywhere) carries this major
 * version instead, so that a ddx that does not know absent chunks refuses the
 * store as newer rather than misreading it. */
#define DDX_FMT_MAJOR_ABSENT 2
#define DDX_CTR_ABSENT 0xFFFFFFFFu
/* The superblock of a store whose log was compacted (ddx_store_compact_log)
 * carries this major version: its log is META/log.<generation>, which an
 * older ddx would not look for. Such a superblock says in its features
 * field whether the store holds absent chunks (major 2 said it alone). */
#define DDX_FMT_MAJOR_LOGGEN 3
#define DDX_FEAT_ABSENT 1u

/* ---- path files: STORE/ddx-store (the identity: where the metadata lives)
 * and META/owner (with --meta elsewhere: which data directory it belongs to)
 * share one layout: magic[8], u16 major, u16 minor, uuid[16], u16 path
 * length L, the path (L bytes, no NUL), u32 CRC-32C of everything before. */
#define DDX_PATHF_FIXED 34 /* bytes besides the path */
#define DDX_ID_MAGIC "DDXSTORE"
#define DDX_ID_MINOR 1 /* 1: the meta path may be relative to STORE */
#define DDX_OWNER_MAGIC "DDXOWNER"
typedef struct ddx_pathf {
    uint16_t major, minor;
    uint8_t uuid[16];
    const char *path; /* encode: NUL-terminated; decode: into the input, path_len bytes */
    size_t path_len;
} ddx_pathf;
/* The file's bytes (DDX_PATHF_FIXED + strlen(f->path), malloc'ed) into *out. */
uint8_t *ddx_pathf_encode(const char magic[8], const ddx_pathf *f, size_t *out_len);
/* Checks, in this order: magic and size, the major (above max_major:
 * DDX_EFORMAT, "NOUN format M.m; this ddx reads format N"; 0: DDX_ECORRUPT),
 * the path length against the size (no NUL in the path), the checksum.
 * noun names the file in messages ("store", "owner"). */
int ddx_pathf_decode(const uint8_t *in, size_t n, const char magic[8], const char *noun,
                     uint16_t max_major, ddx_pathf *f, char *why, size_t why_len);

/* ---- superblock: two slots of 512 bytes; commit N is written to slot N % 2 */
#define DDX_SUPER_SLOT 512
typedef struct ddx_super {
    uint64_t seq;   /* commit number: the valid slot with the larger one wins */
    uint16_t major; /* DDX_FMT_MAJOR, _ABSENT or _LOGGEN (0 writes DDX_FMT_MAJOR) */
    uint8_t uuid[16];
    uint32_t hash, chunker, min, avg, max, normalization;
    uint32_t container_bytes;
    uint64_t log_end;      /* committed bytes of META/log */
    uint64_t next_chunk;   /* next chunk id */
    uint64_t next_version; /* next version id */
    uint64_t next_lsn;     /* next log record sequence number */
    uint32_t open_ctr;     /* container being filled (0: none yet) */
    uint32_t open_ctr_len; /* its committed length in bytes, header included */
    uint32_t log_gen;      /* the log is META/log (0) or META/log.<gen, 8 hex digits> */
    uint32_t features;     /* DDX_FEAT_*: what the store holds (major 3; 2 implies ABSENT) */
} ddx_super;
void ddx_super_encode(const ddx_super *s, uint8_t out[DDX_SUPER_SLOT]);
int ddx_super_decode(const uint8_t *in, size_t n, ddx_super *s, char *why, size_t why_len);

/* ---- log records: 24-byte header, payload, zero padding to 8 bytes ------ */
#define DDX_REC_HDR 24
#define DDX_REC_MAX (16u << 20) /* payload limit: a record is read whole */
enum {
    DDX_REC_CHUNKS = 1,  /* new chunks: id, fingerprint, container, offset, length, crc */
    DDX_REC_RECIPE = 2,  /* part of a version's chunk list */
    DDX_REC_VERSION = 3, /* a version: commits the recipe parts before it */
    DDX_REC_REMOVE = 4,  /* a version removed */
    DDX_REC_FREE = 5,    /* gc: chunk ids no longer stored */
    DDX_REC_MOVE = 6,    /* gc: chunks moved to another container */
};
typedef struct ddx_rec {
    uint16_t type;
    uint64_t lsn;
    const uint8_t *payload; /* points into the decoded buffer */
    uint32_t len;
    size_t total; /* header + payload + padding: where the next record starts */
} ddx_rec;
/* Header + payload + padding bytes of a record with len bytes of payload. */
size_t ddx_rec_size(uint32_t len);
/* Write the header (CRC over header and payload) in front of the payload at
 * out + DDX_REC_HDR, and zero the padding; returns the total size. */
size_t ddx_rec_finish(uint8_t *out, uint16_t type, uint64_t lsn, uint32_t len);
/* Decode the record at in[0, n). 0 on success; DDX_EFULL if n is too short
 * for the record its header announces (a torn tail); DDX_ECORRUPT if the
 * checksum or a field is wrong; DDX_EFORMAT for a newer record version. */
int ddx_rec_decode(const uint8_t *in, size_t n, ddx_rec *r, char *why, size_t why_len);

/* CHUNKS payload: u64 first id, u32 count, u32 container, u16 fp size,
 * u16 0, then count x {fp, u32 offset, u32 length, u32 crc32c of the data}. */
#define DDX_CHUNKS_HDR 20
typedef struct ddx_chunk_ent {
    const uint8_t *fp;
    uint32_t offset, length, crc;
} ddx_chunk_ent;
typedef struct ddx_chunks_rec {
    uint64_t first_id;
    uint32_t count, container;
    uint16_t fp_size;
    const uint8_t *ents; /* count entries of fp_size + 12 bytes */
} ddx_chunks_rec;
int ddx_chunks_decode(const uint8_t *p, uint32_t len, size_t fp_size, ddx_chunks_rec *c, char *why,
                      size_t why_len);
void ddx_chunks_entry(const ddx_chunks_rec *c, uint32_t i, ddx_chunk_ent *e);

/* RECIPE payload: u64 version id, u32 part, u32 count, then count chunk ids
 * as LEB128 varints of the zigzag difference from the previous id (the
 * first from 0): consecutive new chunks cost one byte each. */
#define DDX_RECIPE_HDR 16
typedef struct ddx_recipe_rec {
    uint64_t version_id;
    uint32_t part, count;
    const uint8_t *ids; /* varint bytes */
    uint32_t ids_len;
} ddx_recipe_rec;
int ddx_recipe_decode(const uint8_t *p, uint32_t len, ddx_recipe_rec *r, char *why, size_t why_len);
/* Decode all count ids into out (count entries); checks every varint. */
int ddx_recipe_ids(const ddx_recipe_rec *r, uint64_t *out, char *why, size_t why_len);
/* Append id as a varint delta after prev; returns bytes written (<= 10). */
size_t ddx_varint_delta(uint8_t *out, uint64_t prev, uint64_t id);

/* VERSION payload: u64 id, u32 number, u32 recipe parts, u64 bytes,
 * u64 chunks, i64 time_ns, u16 name length, name. */
#define DDX_VERSION_HDR 42
typedef struct ddx_version_rec {
    uint64_t id;
    uint32_t number, parts;
    uint64_t bytes, chunks;
    int64_t time_ns;
    char name[256];
} ddx_version_rec;
size_t ddx_version_encode(const ddx_version_rec *v, uint8_t *out);
int ddx_version_decode(const uint8_t *p, uint32_t len, ddx_version_rec *v, char *why,
                       size_t why_len);

/* ---- containers: 64-byte header, chunk data, and when sealed a table of
 * 48-byte descriptors and a 32-byte trailer */
#define DDX_CTR_HDR 64
#define DDX_CTR_DESC 48
#define DDX_CTR_TRAILER 32
typedef struct ddx_ctr_hdr {
    uint32_t id;
    uint8_t uuid[16];
} ddx_ctr_hdr;
void ddx_ctr_hdr_encode(const ddx_ctr_hdr *h, uint8_t out[DDX_CTR_HDR]);
int ddx_ctr_hdr_decode(const uint8_t *in, size_t n, ddx_ctr_hdr *h, char *why, size_t why_len);
typedef struct ddx_ctr_desc {
    uint8_t fp[32]; /* SHA-1 fingerprints are zero-padded */
    uint32_t offset, length, crc;
} ddx_ctr_desc;
void ddx_ctr_desc_encode(const ddx_ctr_desc *d, uint8_t out[DDX_CTR_DESC]);
typedef struct ddx_ctr_trailer {
    uint32_t count;     /* descriptors */
    uint64_t table_off; /* where they start (= end of the data section) */
    uint32_t table_crc; /* CRC-32C of the table */
} ddx_ctr_trailer;
void ddx_ctr_trailer_encode(const ddx_ctr_trailer *t, uint8_t out[DDX_CTR_TRAILER]);
/* Checks the trailer's own CRC and that the table fits before it in a file
 * of file_size bytes. */
int ddx_ctr_trailer_decode(const uint8_t *in, size_t n, uint64_t file_size, ddx_ctr_trailer *t,
                           char *why, size_t why_len);
/* Decode descriptor i of a table whose CRC was checked by the caller; checks
 * that the chunk lies in the data section [DDX_CTR_HDR, table_off). */
int ddx_ctr_desc_decode(const uint8_t *in, uint64_t table_off, ddx_ctr_desc *d, char *why,
                        size_t why_len);

/* little-endian helpers */
static inline void ddx_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8);
}
static inline void ddx_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void ddx_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t ddx_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}
static inline uint32_t ddx_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t ddx_get64(const uint8_t *p)
{
    return (uint64_t)ddx_get32(p) | (uint64_t)ddx_get32(p + 4) << 32;
}

#endif
