/*
 * ddx.h - the public interface of libddx, a deduplication engine.
 *
 * One header, one prefix (ddx_ / DDX_), opaque handles. Read it top to bottom:
 * version -> errors -> constants -> the engine (create -> configure -> open ->
 * feed -> finish -> statistics -> close).
 *
 * Threads. A ddx_engine owns a pool of worker threads (chunk, fingerprint and
 * index stages). The handle itself is not thread-safe: one thread at a time
 * calls ddx_engine_* on it. That thread is the reader stage: the bytes it
 * passes to ddx_engine_feed() are copied into batch buffers and handed to the
 * workers through bounded queues, so feed() blocks when the workers fall behind
 * (backpressure, never unbounded memory).
 *
 * Streams. Data is deduplicated across everything fed to one engine, but it is
 * chunked per stream: ddx_engine_stream_begin() starts a new stream (a file, a
 * backup image) whose first chunk starts at its first byte. Chunk boundaries
 * are a pure function of (chunker, parameters, stream bytes): they do not depend
 * on how the bytes are split across feed() calls or on the number of threads.
 *
 * Errors. Every fallible function returns int: 0 on success, a positive errno
 * value passed through from the operating system, or a negative DDX_E* code.
 * ddx_strerror() explains both. An engine that returned an error from
 * feed()/stream_end()/finish() is poisoned: later calls return the same error.
 */
#ifndef DDX_H
#define DDX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define DDX_NODISCARD __attribute__((warn_unused_result))
#define DDX_API __attribute__((visibility("default")))
#else
#define DDX_NODISCARD
#define DDX_API
#endif

/* ---- version ------------------------------------------------------------ */
#define DDX_VERSION_MAJOR 0
#define DDX_VERSION_MINOR 1
#define DDX_VERSION_PATCH 0
#define DDX_VERSION_NUMBER (DDX_VERSION_MAJOR * 10000 + DDX_VERSION_MINOR * 100 + DDX_VERSION_PATCH)

/* The version of the library actually linked ("0.1.0"), and its number. */
DDX_API const char *ddx_version_string(void);
DDX_API unsigned ddx_version_number(void);

/* ---- errors ------------------------------------------------------------- */
/* Library codes: one pinned negative block. Positive values are errno. */
enum {
    DDX_OK = 0,
    DDX_EINVAL = -30001,   /* an argument or parameter is out of range */
    DDX_ESTATE = -30002,   /* call not allowed in the handle's current state */
    DDX_ENOMEM = -30003,   /* allocation failed */
    DDX_ETHREAD = -30004,  /* a worker thread could not be created */
    DDX_EHASH = -30005,    /* the fingerprint provider (OpenSSL) failed */
    DDX_EUNSUPP = -30006,  /* the requested implementation is not available */
    DDX_ECORRUPT = -30007, /* input failed an integrity check */
    DDX_EFULL = -30008,    /* a fixed-capacity structure is full */
    DDX_EDEVICE = -30009,  /* the GPU runtime (CUDA, OpenCL) reported a failure */
    DDX_ELOCKED = -30010,  /* another process holds the store's writer lock */
    DDX_EFORMAT = -30011,  /* on-disk format newer than this library, or unknown */
    DDX_ENOENT = -30012,   /* no such store, name or version */
};

/* A static, human-readable string for a ddx_* return value (never NULL). */
DDX_API const char *ddx_strerror(int err);

/* ---- constants ---------------------------------------------------------- */
typedef enum ddx_chunker_kind {
    DDX_CHUNKER_FIXED = 0,   /* fixed-size blocks of avg bytes */
    DDX_CHUNKER_RABIN = 1,   /* Rabin fingerprint over a 48-byte window */
    DDX_CHUNKER_TTTD = 2,    /* two thresholds, two divisors (HP Labs TR 2005-30) */
    DDX_CHUNKER_FASTCDC = 3, /* FastCDC 2020: Gear hash, normalized chunking */
    DDX_CHUNKER_RAM = 4,     /* RAM, hashless: byte >= max of a leading window */
} ddx_chunker_kind;

typedef enum ddx_hash_kind {
    DDX_HASH_SHA1 = 0,   /* 20-byte digests */
    DDX_HASH_SHA256 = 1, /* 32-byte digests */
} ddx_hash_kind;

#define DDX_FP_MAX 32 /* the largest fingerprint, in bytes */

/* Parameter limits (bytes). min <= avg <= max is also required; for
 * rabin and tttd avg - min >= 64 (avg - min is their divisor). */
#define DDX_CHUNK_MIN_LIMIT 64u
#define DDX_CHUNK_MAX_LIMIT (64u << 20)

/* Names <-> values, for front ends. *_from_name returns DDX_EINVAL if unknown. */
DDX_API const char *ddx_chunker_name(ddx_chunker_kind kind);
DDX_API const char *ddx_hash_name(ddx_hash_kind kind);
DDX_API DDX_NODISCARD int ddx_chunker_from_name(const char *name, ddx_chunker_kind *out);
DDX_API DDX_NODISCARD int ddx_hash_from_name(const char *name, ddx_hash_kind *out);
/* Bytes in a digest of this kind (20 or 32). */
DDX_API size_t ddx_hash_size(ddx_hash_kind kind);

/* ---- engine ------------------------------------------------------------- */
typedef struct ddx_engine ddx_engine;

/* One chunk, as reported to a chunk callback. */
typedef struct ddx_chunk {
    uint64_t stream;        /* stream number, 0-based, in begin order */
    uint64_t offset;        /* byte offset of the chunk within its stream */
    uint32_t length;        /* chunk length in bytes */
    uint32_t is_new;        /* 1 if this fingerprint was new to the index (or dedup off) */
    uint8_t fp[DDX_FP_MAX]; /* fingerprint; ddx_hash_size() bytes are valid */
} ddx_chunk;

/* Called once per chunk from worker threads, concurrently and in no particular
 * order; (stream, offset) identify the chunk. It must be thread-safe and fast:
 * it runs inside the index stage. */
typedef void (*ddx_chunk_fn)(void *ctx, const ddx_chunk *chunk);

/* Create an engine with defaults: fastcdc 2 KiB/8 KiB/64 KiB, normalization 1,
 * sha256, one worker per core. Configure it, then ddx_engine_open(). */
DDX_API DDX_NODISCARD int ddx_engine_create(ddx_engine **out);

/* Configuration: only before ddx_engine_open(). min/avg/max in bytes; for the
 * fixed chunker only avg is used (min and max may be 0). */
DDX_API DDX_NODISCARD int ddx_engine_set_chunker(ddx_engine *e, ddx_chunker_kind kind, uint32_t min,
                                                 uint32_t avg, uint32_t max);
/* FastCDC normalization level 0..3 (default 1, as fastcdc-rs and pyfastcdc). */
DDX_API DDX_NODISCARD int ddx_engine_set_normalization(ddx_engine *e, int level);
DDX_API DDX_NODISCARD int ddx_engine_set_hash(ddx_engine *e, ddx_hash_kind kind);
/* Worker threads; 0 means one per core (hwloc). */
DDX_API DDX_NODISCARD int ddx_engine_set_threads(ddx_engine *e, unsigned threads);
/* Bytes per batch handed to a worker (default 4 MiB; rounded to a multiple of
 * the fixed chunk size for the fixed chunker). Tests use small batches to make
 * every chunk cross batch edges. */
DDX_API DDX_NODISCARD int ddx_engine_set_batch_size(ddx_engine *e, size_t bytes);
/* Pin workers to cores with hwloc (default on). */
DDX_API DDX_NODISCARD int ddx_engine_set_pinning(ddx_engine *e, int on);
DDX_API DDX_NODISCARD int ddx_engine_set_chunk_callback(ddx_engine *e, ddx_chunk_fn fn, void *ctx);
/* Expected number of unique chunks, to size the index up front (it grows
 * anyway; 0 = a small default). */
DDX_API DDX_NODISCARD int ddx_engine_set_index_hint(ddx_engine *e, uint64_t chunks);
/* Look every chunk up in the engine's own index (default on). Off: no index
 * is built; chunks are only cut and fingerprinted, the callback gets each
 * one with is_new = 1 and the statistics count every chunk as unique. For a
 * caller that deduplicates against an index of its own (the store does),
 * this saves the lookups and an index whose memory grows with the input. */
DDX_API DDX_NODISCARD int ddx_engine_set_dedup(ddx_engine *e, int on);

/* Implementations by name (see ddx_impl_get; NULL = the fastest this CPU
 * runs, the default). Checked by ddx_engine_open(): an unknown name, or one
 * for another chunker/hash, gives DDX_EINVAL; one this CPU (or DDX_CPU_MASK)
 * cannot run gives DDX_EUNSUPP. Never a silent fallback. */
DDX_API DDX_NODISCARD int ddx_engine_set_chunker_impl(ddx_engine *e, const char *name);
DDX_API DDX_NODISCARD int ddx_engine_set_hash_impl(ddx_engine *e, const char *name);

typedef enum ddx_impl_class { DDX_IMPL_CHUNK = 0, DDX_IMPL_HASH = 1 } ddx_impl_class;
/* The i-th compiled-in implementation of a class (fastest first within a
 * kind): its name, the ddx_chunker_kind or ddx_hash_kind it serves, and
 * whether this CPU can run it. DDX_EINVAL past the last one. */
DDX_API DDX_NODISCARD int ddx_impl_get(ddx_impl_class c, size_t i, const char **name, int *kind,
                                       int *usable);

/* Validate the configuration and start the workers. */
/* Backends: where cut-point candidates and fingerprints are computed. A GPU
 * backend copies large batches (default 256 MiB, pinned) to the device,
 * scans them there for FastCDC cut candidates, picks the cut points on the
 * host (so they equal the CPU path's, bit for bit), hashes the chunks on the
 * device and brings back only candidates and digests. Other chunkers are cut
 * on the host and hashed on the device. One driver thread feeds the device;
 * ddx_engine_set_threads() applies to the cpu backend. */
typedef enum ddx_backend_kind {
    DDX_BACKEND_CPU = 0,    /* cpu/ kernels on the worker threads (the default) */
    DDX_BACKEND_AUTO = 1,   /* CUDA if a device is present, else an OpenCL GPU, else cpu */
    DDX_BACKEND_CUDA = 2,   /* CUDA (libddx built with nvcc) */
    DDX_BACKEND_OPENCL = 3, /* OpenCL 1.2+, any device type (PoCL's CPU device included) */
} ddx_backend_kind;

DDX_API const char *ddx_backend_name(ddx_backend_kind kind);
DDX_API DDX_NODISCARD int ddx_backend_from_name(const char *name, ddx_backend_kind *out);
/* Devices the backend can use (>= 0), or a negative DDX_E* code. When the
 * answer is 0 or an error, why (if not NULL) gets one line saying why
 * ("CUDA unavailable: cudaGetDeviceCount returned 35 (...)"). gpu_only: for
 * OpenCL, count GPU devices only (what AUTO does). */
DDX_API int ddx_backend_probe(ddx_backend_kind kind, int gpu_only, char *why, size_t why_len);
/* Backend and device number within it (0 = the first). Checked by
 * ddx_engine_open(): a named backend without a usable device gives
 * DDX_EUNSUPP; AUTO then falls back to cpu. Either way
 * ddx_engine_backend_note() says why. */
DDX_API DDX_NODISCARD int ddx_engine_set_backend(ddx_engine *e, ddx_backend_kind kind, int device);

DDX_API DDX_NODISCARD int ddx_engine_open(ddx_engine *e);

/* Streams: begin, feed any number of times, end. */
DDX_API DDX_NODISCARD int ddx_engine_stream_begin(ddx_engine *e);
DDX_API DDX_NODISCARD int ddx_engine_feed(ddx_engine *e, const void *buf, size_t len);
/* Read fd to end of file into the current stream (the reader stage reads
 * straight into batch buffers, without an extra copy). */
DDX_API DDX_NODISCARD int ddx_engine_feed_fd(ddx_engine *e, int fd);
/* Zero-copy feed: the engine reads the len bytes at p in place (whole batches
 * of them; a remainder smaller than a batch is copied) and calls release(ctx)
 * exactly once when it no longer needs them: from any thread, at the latest
 * in ddx_engine_close(), and also when this call fails. The bytes must stay
 * valid and unchanged until then. ddbench feeds mmap(2)ed files this way. */
typedef void (*ddx_release_fn)(void *ctx);
DDX_API DDX_NODISCARD int ddx_engine_feed_ref(ddx_engine *e, const void *p, size_t len,
                                              ddx_release_fn release, void *ctx);
DDX_API DDX_NODISCARD int ddx_engine_stream_end(ddx_engine *e);
/* Index chunks whose fingerprints are already known, as a fingerprint trace
 * replay does (no bytes, no chunking, no hashing): for each c[i], its length
 * and the first ddx_hash_size() bytes of its fp (zero-pad shorter
 * fingerprints) are looked up and inserted, and c[i].is_new is set. Runs on
 * the calling thread, within the current stream; the chunks count toward the
 * statistics as if cut from data (logical and unique bytes, chunk sizes and
 * histogram, the index stage) and go to the chunk callback. c[i].length must
 * be 1..DDX_CHUNK_MAX_LIMIT (else DDX_EINVAL, nothing of that call indexed).
 * A stream holds either data or replayed chunks: DDX_ESTATE after data was
 * fed to the stream, and feeding data after replayed chunks is DDX_ESTATE. */
DDX_API DDX_NODISCARD int ddx_engine_feed_chunks(ddx_engine *e, ddx_chunk *c, size_t n);

/* Wait until every fed byte is chunked, fingerprinted and indexed. Statistics
 * are complete only after this returns 0. More streams may follow. */
DDX_API DDX_NODISCARD int ddx_engine_finish(ddx_engine *e);

/* Pipeline stages, for per-stage timing. */
typedef enum ddx_stage {
    DDX_STAGE_READ = 0, /* reader: read(2)/copy into batch buffers */
    DDX_STAGE_CHUNK,    /* cut points within each batch */
    DDX_STAGE_STITCH,   /* resynchronising cut points across batch edges */
    DDX_STAGE_HASH,     /* fingerprints */
    DDX_STAGE_INDEX,    /* index insert-or-lookup */
    DDX_STAGE_COUNT
} ddx_stage;

DDX_API const char *ddx_stage_name(ddx_stage stage);

typedef struct ddx_stage_stats {
    double wall_s;  /* summed over threads: wall time spent in the stage */
    double cpu_s;   /* summed over threads: thread CPU time spent in the stage */
    uint64_t bytes; /* bytes that passed through the stage */
    uint64_t items; /* batches (read, chunk, stitch) or chunks (hash, index) */
} ddx_stage_stats;

/* Chunk-size histogram: 16 bins per power of two. Lengths 0..15 have a bin
 * each; a length L >= 16 with e = floor(log2 L) goes to bin
 * 16 * (e - 3) + ((L >> (e - 4)) & 15). The last bin also takes every longer
 * chunk (from 256 MiB). ddx_chunk_hist_bin() and ddx_chunk_hist_lower() map
 * lengths to bins and bins to their smallest length. */
#define DDX_CHUNK_HIST_BINS 400
DDX_API unsigned ddx_chunk_hist_bin(uint64_t length);
DDX_API uint64_t ddx_chunk_hist_lower(unsigned bin);

typedef struct ddx_stats {
    uint64_t streams;       /* streams begun */
    uint64_t logical_bytes; /* bytes fed */
    uint64_t unique_bytes;  /* bytes in chunks whose fingerprint was new */
    uint64_t chunks;        /* chunks cut */
    uint64_t unique_chunks; /* chunks whose fingerprint was new */
    uint64_t chunk_min;     /* smallest chunk (0 if no chunk) */
    uint64_t chunk_max;     /* largest chunk */
    double chunk_mean;      /* mean chunk length */
    double chunk_stddev;    /* population standard deviation of chunk length */
    double dedup_ratio;     /* logical_bytes / unique_bytes (1 if empty) */
    uint64_t index_entries; /* entries in the fingerprint index */
    uint64_t index_bytes;   /* memory held by the index table */
    double index_bytes_per_entry;
    uint64_t index_grows; /* times the index table was doubled */
    double wall_s;        /* open -> last finish, wall clock */
    double cpu_s;         /* process CPU time (user + system) over the same span */
    double read_wait_s;   /* reader time blocked on full queues (backpressure) */
    unsigned threads;     /* worker threads */
    size_t batch_size;    /* bytes per batch */
    uint64_t batches;     /* batches processed */
    ddx_stage_stats stage[DDX_STAGE_COUNT];
    uint64_t chunk_hist[DDX_CHUNK_HIST_BINS]; /* chunks per length bin, see above */
    /* GPU backends (all zero on cpu). Device times are summed over batches
     * (copies and kernels of different batches overlap, so they can add up
     * to more than wall_s). */
    double gpu_h2d_s;             /* host -> device copies, measured on the device */
    double gpu_kernel_s;          /* candidate scan and hash kernels */
    double gpu_d2h_s;             /* device -> host copies (candidates, digests) */
    double gpu_select_s;          /* host: candidates -> cut points, edge chunks */
    double gpu_wait_s;            /* driver thread blocked on the device */
    uint64_t gpu_h2d_bytes;       /* bytes copied to the device */
    uint64_t gpu_d2h_bytes;       /* bytes copied back */
    uint64_t gpu_overflow_chunks; /* chunks cut on the CPU: candidate list overflowed */
} ddx_stats;

/* Statistics so far; complete after ddx_engine_finish(). Call it from the
 * thread that owns the handle; other threads use ddx_engine_progress(). */
DDX_API DDX_NODISCARD int ddx_engine_get_stats(ddx_engine *e, ddx_stats *out);
/* Bytes fed and bytes fully processed so far, for progress lines; any thread. */
DDX_API void ddx_engine_progress(ddx_engine *e, uint64_t *fed, uint64_t *done);

/* Implementations in use ("fastcdc2020-scalar", "openssl-evp"), the backend
 * ("cpu", "cuda", "opencl"), the device it runs on ("cpu" for the cpu
 * backend) and a note on how the backend was chosen ("" if there is nothing
 * to say; after a failed open, why it failed). Valid until close. */
DDX_API const char *ddx_engine_chunker_impl(const ddx_engine *e);
DDX_API const char *ddx_engine_hash_impl(const ddx_engine *e);
DDX_API const char *ddx_engine_backend(const ddx_engine *e);
DDX_API const char *ddx_engine_device(const ddx_engine *e);
DDX_API const char *ddx_engine_backend_note(const ddx_engine *e);
/* A line describing where worker i runs ("worker 0: core 0 (PU 0)"), for -v. */
DDX_API DDX_NODISCARD int ddx_engine_worker_binding(const ddx_engine *e, unsigned i, char *buf,
                                                    size_t len);

/* Stop the workers and free everything. Accepts NULL. */
DDX_API void ddx_engine_close(ddx_engine *e);

/* ---- persistent store (engine/src/store/, docs/format.md) -------------------
 *
 * A store is a data directory of fixed-size containers holding each unique
 * chunk once, and a metadata directory (by default DIR/meta, possibly on
 * another disk) holding a superblock and an append-only log of chunk
 * locations, version recipes and removals. A put is acknowledged (returns 0)
 * only after its container data, its log records and the superblock that
 * commits them are on stable storage, in that order; a crash at any point
 * leaves the store at its last acknowledged put. Versions of a name are
 * numbered 1, 2, 3, ... in the order they were put.
 *
 * One writer at a time (a lock file in the metadata directory; a second
 * writer gets DDX_ELOCKED); any number of readers, also while a put runs:
 * readers see the versions committed when they opened the store.
 *
 * Threads. A ddx_store handle is not thread-safe: one thread at a time calls
 * ddx_store_* on it (a put and a get use threads of their own inside).
 * Threads that work at the same time open handles of their own, readers
 * beside the writer, in one process or several (tests/race_stress.c does,
 * under ThreadSanitizer).
 *
 * Errors: the usual codes plus DDX_ECORRUPT (a checksum or structure check
 * failed), DDX_ELOCKED, DDX_EFORMAT (a newer or unknown format), DDX_ENOENT
 * (no such store, name or version). ddx_store_errmsg() gives one line naming
 * the file and the field or record at fault. */
typedef struct ddx_store ddx_store;

typedef struct ddx_store_params {
    const char *meta_dir; /* NULL: DIR/meta */
    ddx_chunker_kind chunker;
    uint32_t min, avg, max;   /* 0: the chunker's defaults (avg 8 KiB, min avg/4, max 8 avg) */
    int normalization;        /* fastcdc, 0..3 (default 1) */
    ddx_hash_kind hash;       /* default sha256 */
    uint32_t container_bytes; /* data bytes per container (default 4 MiB; 64 KiB..1 GiB) */
} ddx_store_params;

DDX_API void ddx_store_default_params(ddx_store_params *p);
/* Create a store in dir (created if missing, must be empty otherwise). */
DDX_API DDX_NODISCARD int ddx_store_init(const char *dir, const ddx_store_params *p, char *why,
                                         size_t why_len);

#define DDX_STORE_READ 0u  /* read only: get, ls, stat, verify */
#define DDX_STORE_WRITE 1u /* also put, rm, gc: takes the writer lock */
/* Open a store; on failure *out is NULL and why (if not NULL) says why. */
DDX_API DDX_NODISCARD int ddx_store_open(ddx_store **out, const char *dir, unsigned flags,
                                         char *why, size_t why_len);
/* One line about the last failure on this handle ("" if none). */
DDX_API const char *ddx_store_errmsg(const ddx_store *s);
/* What open found and repaired ("" if nothing): an interrupted put's
 * uncommitted log tail and container bytes, discarded (write mode) or
 * ignored (read mode); in read mode also that the data directory is a copy
 * of another that shares its metadata (--meta elsewhere), which a writable
 * open refuses (docs/format.md, "Owner file"). */
DDX_API const char *ddx_store_recovery_note(const ddx_store *s);
DDX_API void ddx_store_close(ddx_store *s); /* accepts NULL */

typedef struct ddx_put_stats {
    uint64_t version_id; /* store-wide id */
    uint32_t version;    /* number within the name: 1, 2, ... */
    uint64_t bytes;      /* logical bytes of the version */
    uint64_t chunks;     /* chunks in its recipe */
    uint64_t new_chunks; /* chunks the store did not have */
    uint64_t new_bytes;  /* their bytes, written to containers */
    uint64_t meta_bytes; /* log bytes this put appended */
    double seconds;      /* wall time, acknowledgement included */
} ddx_put_stats;

/* Ingest everything readable from fd (a file, pipe, socket) as a new
 * version of name (1..255 bytes, no '@' or '/', no control characters).
 * A regular file is read from its current offset; anything else streams
 * through bounded buffers (no spool file), so memory does not grow with the
 * input. Nothing is stored unless the whole input was read: a read error
 * fails the put with that errno and an "input: read: ..." message, and, as
 * after any failed write, the handle must be reopened (which finds the store
 * as it was before the put). */
DDX_API DDX_NODISCARD int ddx_store_put_fd(ddx_store *s, const char *name, int fd,
                                           ddx_put_stats *st);
/* The same from memory. */
DDX_API DDX_NODISCARD int ddx_store_put_mem(ddx_store *s, const char *name, const void *p, size_t n,
                                            ddx_put_stats *st);
/* A metadata-only put, for fingerprint-trace replays: the n chunks (length
 * and the first hash-size bytes of fp, zero-padded) become a new version of
 * name through the same log records and commit as a data put. Chunks already
 * in the store are referenced; new ones are stored ABSENT: indexed and
 * logged, but no container holds their bytes. Such a version lists, counts
 * and deduplicates like any other; ddx_store_get() of it fails with
 * DDX_ENOENT naming the first absent chunk, verify counts absent chunks
 * (absent_chunks) instead of reading them, gc frees them like other chunks.
 * The first absent chunk moves the store to superblock format 2.x, which a
 * ddx without absent chunks refuses as newer (docs/format.md). Lengths must be
 * 1..DDX_CHUNK_MAX_LIMIT. */
DDX_API DDX_NODISCARD int ddx_store_put_chunks(ddx_store *s, const char *name, const ddx_chunk *c,
                                               size_t n, ddx_put_stats *st);

/* Write version `version` of name (0: the latest) to fd, byte-exact. Every
 * chunk is re-hashed before it is written; a mismatch stops the restore with
 * DDX_ECORRUPT and ddx_store_errmsg() names the chunk and its offset. A
 * version put from a trace (absent chunks) gives DDX_ENOENT, nothing written. */
DDX_API DDX_NODISCARD int ddx_store_get(ddx_store *s, const char *name, uint32_t version, int fd);

typedef struct ddx_version_info {
    uint64_t id;
    char name[256];
    uint32_t number;
    uint64_t bytes, chunks;
    int64_t time_ns; /* when it was put (CLOCK_REALTIME) */
} ddx_version_info;

/* The i-th live version (in commit order); DDX_ENOENT past the last. */
DDX_API DDX_NODISCARD int ddx_store_version(ddx_store *s, size_t i, ddx_version_info *out);
/* Remove a version (its chunks stay until gc). */
DDX_API DDX_NODISCARD int ddx_store_rm(ddx_store *s, const char *name, uint32_t version);

typedef struct ddx_store_stats {
    uint64_t versions, logical_bytes;     /* live versions and their bytes */
    uint64_t chunks, chunk_bytes;         /* chunks in the store and their bytes */
    uint64_t referenced_chunks;           /* chunks some live version uses */
    uint64_t containers, container_bytes; /* files and their size on disk */
    uint64_t meta_bytes;                  /* superblock + log on disk */
    double dedup_ratio;                   /* logical / chunk bytes of referenced chunks */
    ddx_hash_kind hash;
    ddx_chunker_kind chunker;
    uint32_t min, avg, max;
} ddx_store_stats;
DDX_API DDX_NODISCARD int ddx_store_stat(ddx_store *s, ddx_store_stats *st);

typedef struct ddx_gc_stats {
    uint64_t freed_chunks, freed_bytes;
    uint64_t containers_removed, containers_compacted, moved_bytes;
} ddx_gc_stats;
/* Drop chunks no live version references; rewrite containers that are less
 * than half live, and delete emptied ones, but only while no other handle
 * has the store open (readers that opened before the gc may still read the
 * old locations): otherwise they are deleted by a later gc, and
 * ddx_store_recovery_note() says so. */
DDX_API DDX_NODISCARD int ddx_store_gc(ddx_store *s, ddx_gc_stats *st);

/* Log compaction. The metadata log only grows (removed versions' recipes,
 * freed chunks, moves stay in it); this rewrites it as the records of what
 * the store holds now, in a new file that one superblock commit switches to
 * (docs/format.md, "Log compaction"). Versions, their ids and numbers, and
 * every restore are unchanged. Without force, only when the rewrite would be
 * at most half the log; st->compacted says whether it ran. Needs the store
 * opened for writing and no other handle open (DDX_ELOCKED otherwise), and
 * moves the store to superblock format 3.x, which a ddx older than this
 * refuses as newer. */
typedef struct ddx_log_stats {
    int compacted;
    uint64_t bytes_before, bytes_after; /* committed log bytes */
    uint64_t chunks;                    /* stored chunks, renumbered 1..chunks */
} ddx_log_stats;
DDX_API DDX_NODISCARD int ddx_store_compact_log(ddx_store *s, int force, ddx_log_stats *st);

/* verify: re-read the whole committed log (checksums: a checkpoint means an
 * open no longer reads all of it) and every chunk, recomputing its
 * fingerprint. For each damaged record or
 * chunk, fn is called with a line such as "data/00000003.ctr offset 81920
 * (chunk 12, 8211 bytes): fingerprint mismatch; in: docs@2, docs@3". Returns
 * 0 if the store is intact, DDX_ECORRUPT otherwise. */
typedef void (*ddx_verify_fn)(void *ctx, const char *line);
typedef struct ddx_verify_stats {
    uint64_t chunks, bytes, damaged_chunks, damaged_versions, containers;
    uint64_t log_records, damaged_records; /* the committed log, re-read whole */
    uint64_t absent_chunks;                /* put from fingerprint traces: no bytes to check */
} ddx_verify_stats;
DDX_API DDX_NODISCARD int ddx_store_verify(ddx_store *s, ddx_verify_fn fn, void *ctx,
                                           ddx_verify_stats *st);

/* ---- fingerprint traces (engine/src/trace/, docs/format.md) ----------------
 *
 * A trace is the chunk sequence of some data without the data: per chunk its
 * length and fingerprint. Replaying one (ddx_engine_feed_chunks) measures the
 * index and the dedup ratio at scales no local data reaches. Three formats:
 *   DDX_TRACE_DDX  ddx's own binary trace: versioned header, CRC-32C checked
 *                  blocks, an end block (docs/format.md); written by
 *                  ddx_trace_writer (`ddbench run --record-trace FILE`).
 *   DDX_TRACE_FIU  FIU block traces (text, one request per line):
 *                  "ts pid process lba size W|R major minor md5 [md5...]",
 *                  size in 512-byte sectors, one 32-hex-digit MD5 per 4 KiB
 *                  block (size/8 of them); reads are counted and skipped.
 *   DDX_TRACE_FSL  FSL fs-hasher traces as hf-stat prints them: one chunk
 *                  per line, "xx:xx:...:xx SIZE [more fields]", the hash as
 *                  colon-separated hex bytes; text lines (headers, "File
 *                  path: ..." lines that start a new file) are skipped, a new
 *                  file starts a new stream.
 * Readers stream: memory is bounded by the caller's record array, whatever
 * the trace's length. A malformed record stops the reader with DDX_ECORRUPT
 * and ddx_trace_errmsg() gives one line "FILE:LINE: expected ..., got ..."
 * (binary traces: "FILE: block N at byte OFF: ...").
 */
typedef enum ddx_trace_format {
    DDX_TRACE_AUTO = 0, /* detect: the ddx magic, else the shape of the first record line */
    DDX_TRACE_DDX = 1,
    DDX_TRACE_FIU = 2,
    DDX_TRACE_FSL = 3,
} ddx_trace_format;

/* "auto", "ddx", "fiu", "fsl" <-> values; from_name gives DDX_EINVAL if unknown. */
DDX_API const char *ddx_trace_format_name(ddx_trace_format f);
DDX_API DDX_NODISCARD int ddx_trace_format_from_name(const char *name, ddx_trace_format *out);

typedef struct ddx_trace ddx_trace;

/* Open a trace file ("-" reads stdin). On failure *out is NULL and why gets
 * one line naming the file (unreadable, empty, unknown format, bad header). */
DDX_API DDX_NODISCARD int ddx_trace_open(ddx_trace **out, const char *path, ddx_trace_format fmt,
                                         char *why, size_t why_len);
/* The same over n bytes in memory (not copied: keep them valid until close);
 * name is used in messages. For tests and fuzzing. */
DDX_API DDX_NODISCARD int ddx_trace_open_mem(ddx_trace **out, const void *p, size_t n,
                                             const char *name, ddx_trace_format fmt, char *why,
                                             size_t why_len);
/* The format detected or given, and the fingerprint size in bytes (FIU 16;
 * FSL as long as the first record's hash, 1..DDX_FP_MAX, the same for all
 * records; 0 for an FSL trace with no chunk line; ddx as in its header).
 * Valid after a successful open. */
DDX_API ddx_trace_format ddx_trace_get_format(const ddx_trace *t);
DDX_API size_t ddx_trace_fp_size(const ddx_trace *t);
/* The hash named by a ddx trace's header ("sha1", "sha256", "md5", or "" if
 * unknown); "md5" for FIU; "" for FSL. */
DDX_API const char *ddx_trace_hash_name(const ddx_trace *t);
/* Read up to max records into out[0..*got). Each record fills stream (0-based,
 * a new number at each stream start), offset (FIU: the block's byte address
 * lba * 512 + 4096 k; otherwise the running offset within its stream), length
 * and fp (fp_size bytes, the rest zero); is_new is 0. Returns 0 with *got == 0
 * at the end of the trace; DDX_ECORRUPT on a malformed record (the records
 * before it were delivered by earlier calls; ddx_trace_errmsg() says where);
 * an errno value on a read error; DDX_EINVAL for max == 0 (so that it cannot
 * be mistaken for the end). After an error every call returns it again. */
DDX_API DDX_NODISCARD int ddx_trace_read(ddx_trace *t, ddx_chunk *out, size_t max, size_t *got);
DDX_API const char *ddx_trace_errmsg(const ddx_trace *t); /* "" if no error */
/* Progress so far: lines (text) or blocks (ddx) read, records delivered,
 * lines skipped (one per FIU read request, comment or FSL text line; blank
 * lines are not counted). */
typedef struct ddx_trace_counts {
    uint64_t lines, records, skipped, bytes_read;
} ddx_trace_counts;
DDX_API void ddx_trace_get_counts(const ddx_trace *t, ddx_trace_counts *out);
DDX_API void ddx_trace_close(ddx_trace *t); /* accepts NULL */

/* Writing ddx binary traces. Records are appended in the order given; a
 * record whose stream differs from the previous one starts a new stream.
 * Written to PATH.tmp and renamed over PATH by a successful finish, after
 * fsync: a reader never sees a trace without its end block. */
typedef struct ddx_trace_writer ddx_trace_writer;
/* hash: "sha1", "sha256", "md5" or "" (unknown); fp_size 1..DDX_FP_MAX. */
DDX_API DDX_NODISCARD int ddx_trace_writer_open(ddx_trace_writer **out, const char *path,
                                                const char *hash, size_t fp_size, char *why,
                                                size_t why_len);
DDX_API DDX_NODISCARD int ddx_trace_writer_add(ddx_trace_writer *w, const ddx_chunk *c, size_t n);
/* Write the last block and the end block, fsync, rename. 0 or an errno value;
 * the handle is freed either way (on failure PATH.tmp is removed). */
DDX_API DDX_NODISCARD int ddx_trace_writer_finish(ddx_trace_writer *w);
/* Drop a trace being written (PATH.tmp removed). Accepts NULL. */
DDX_API void ddx_trace_writer_abort(ddx_trace_writer *w);

#ifdef __cplusplus
}
#endif
#endif /* DDX_H */
