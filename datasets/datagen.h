/*
 * datagen.h - deterministic generators of the data a dedup engine is measured on.
 *
 * Deduplication is measured on data whose redundancy is known and repeatable. Three kinds
 * of data (ddx_gen_kind), each a sequence of generations returned as byte buffers:
 *
 *   backup    the workload dedup engines are built for: the same file tree backed up again
 *             and again while it slowly changes. Generation 1 is a fresh tree of files
 *             (text, incompressible media, fixed-layout records, sparse images) with little
 *             internal duplication; every later generation modifies, adds and removes a few
 *             percent of it. Each generation is a ustar archive (sorted paths), the shape a
 *             backup tool hands to a dedup engine.
 *   vm        virtual machine disk images: a base "OS image" of 4 KiB blocks (libraries
 *             repeated from a seeded pool, text configuration, unique data, ~35% zeros),
 *             then clones of it or of recent images that diverge by a few percent per
 *             generation (in-place overwrites, filled and trimmed free space, package
 *             installs and upgrades). Every image has the same size, like a block device.
 *   lowdedup  the control: incompressible random data in which each generation after the
 *             first copies only share_permille of its blocks from earlier generations, so
 *             the dedup ratio stays close to 1.
 *
 * A fourth generator, ddx_gen_trace, makes no bytes at all: a synthetic fingerprint trace
 * (chunk lengths and fingerprints with a chosen duplicate ratio) for replaying very large
 * chunk counts through an index. datasets/README.md describes every model and its rates.
 *
 * Determinism. The output is a pure function of the parameters: xoshiro256** streams
 * seeded through splitmix64, little-endian stores, integer arithmetic only (no libm, no
 * rand()), so a seed names the same data on every machine and in every build. Generation k
 * of a kind is the same whatever the number of generations asked for.
 *
 * Threads. A generator is used by one thread at a time; distinct generators are
 * independent.
 */
#ifndef DDX_DATAGEN_H
#define DDX_DATAGEN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define DDX_GEN_NODISCARD __attribute__((warn_unused_result))
#else
#define DDX_GEN_NODISCARD
#endif

/* What a ddx_gen produces. */
typedef enum ddx_gen_kind {
    DDX_GEN_BACKUP = 0,   /* backups of a slowly changing file tree, as ustar archives */
    DDX_GEN_VM = 1,       /* same-size VM disk images: a base image and diverging clones */
    DDX_GEN_LOWDEDUP = 2, /* random data sharing share_permille with earlier generations */
} ddx_gen_kind;

/* Limits enforced by ddx_gen_create() (EINVAL outside them). */
#define DDX_GEN_MIN_TREE_BYTES ((uint64_t)1 << 20) /* below this the size model degenerates */
#define DDX_GEN_MAX_TREE_BYTES ((uint64_t)1 << 36) /* 64 GiB: the tree lives in memory */
#define DDX_GEN_BLOCK 4096                         /* vm, lowdedup: gen_bytes is a multiple */
#define DDX_GEN_MIN_GEN_BYTES ((uint64_t)1 << 20)  /* vm, lowdedup */
#define DDX_GEN_MAX_GEN_BYTES ((uint64_t)1 << 36)  /* 64 GiB: one generation is one buffer */
#define DDX_GEN_MAX_SHARE_PERMILLE 1000            /* lowdedup: 1000 copies everything */

typedef struct ddx_gen_params {
    uint64_t seed;           /* same seed -> same bytes, on every machine */
    unsigned generations;    /* number of generations, >= 1 (default 10) */
    uint64_t tree_bytes;     /* backup: approximate size of the file tree (default 64 MiB) */
    ddx_gen_kind kind;       /* what to generate (default DDX_GEN_BACKUP) */
    uint64_t gen_bytes;      /* vm: size of every image; lowdedup: size of every generation;
                                a multiple of DDX_GEN_BLOCK (default 64 MiB) */
    unsigned share_permille; /* lowdedup: blocks of generations 2..N copied from earlier
                                generations, in 1/1000 (default 20, i.e. 2%) */
} ddx_gen_params;

/* Fill *p with the defaults: seed 1, 10 generations, the backup kind of a 64 MiB tree (and
 * for the other kinds 64 MiB generations, 2% shared). */
void ddx_gen_default_params(ddx_gen_params *p);

/* "backup", "vm", "lowdedup" <-> values; from_name returns -1 for an unknown name and NULL
 * for an unknown value. */
const char *ddx_gen_kind_name(ddx_gen_kind k);
DDX_GEN_NODISCARD int ddx_gen_kind_from_name(const char *name, ddx_gen_kind *out);

/* A generator: the current tree (backup) or image maps (vm, lowdedup) and the position in
 * the sequence of generations. */
typedef struct ddx_gen ddx_gen;

/* Validate *p and create a generator in *out. Cheap: the data is built by the first
 * ddx_gen_next(). Returns 0, or -1 with errno EINVAL (a NULL pointer, generations == 0, an
 * unknown kind; backup: tree_bytes outside [DDX_GEN_MIN_TREE_BYTES, DDX_GEN_MAX_TREE_BYTES];
 * vm and lowdedup: gen_bytes outside [DDX_GEN_MIN_GEN_BYTES, DDX_GEN_MAX_GEN_BYTES] or not a
 * multiple of DDX_GEN_BLOCK; lowdedup: share_permille > DDX_GEN_MAX_SHARE_PERMILLE) or
 * ENOMEM. Parameters of other kinds are ignored. */
DDX_GEN_NODISCARD int ddx_gen_create(ddx_gen **out, const ddx_gen_params *p);

/* Produce the next generation (a ustar archive, a disk image or random blocks) into a
 * malloc'd buffer (caller frees). Returns 1 and fills *buf,*len while generations remain; 0
 * when all are produced (then *buf = NULL, *len = 0); -1 on error with errno set (ENOMEM,
 * EOVERFLOW when the stream does not fit in size_t, EINVAL for NULL arguments). After an
 * error the generator is poisoned: later calls fail with the same errno, because its state
 * may be half mutated. */
DDX_GEN_NODISCARD int ddx_gen_next(ddx_gen *g, uint8_t **buf, size_t *len);

/* Release a generator and its state. Accepts NULL. */
void ddx_gen_free(ddx_gen *g);

/* A one-line description of the parameters for reports, e.g.
 * "backup: 10 generations of a 64 MiB tree, seed 1", "vm: 5 images of 64 MiB, seed 1",
 * "lowdedup: 10 generations of 64 MiB, 2.0% shared, seed 1". Always NUL-terminates
 * (len > 0). */
void ddx_gen_describe(const ddx_gen_params *p, char *buf, size_t len);

/* ---- synthetic fingerprint traces ----------------------------------------------------
 *
 * A stream of chunk records (length, 32-byte fingerprint) with no data behind them, for
 * replaying chunk counts no local data reaches through an index. Constant memory and
 * O(1) work per record, whatever the count. The fingerprints are NOT SHA-256 digests: a
 * chunk's fingerprint is four splitmix64 outputs of its unique id, salted by the seed, so
 * distinct chunks have distinct, uniformly distributed fingerprints and a duplicate repeats
 * its original's fingerprint and length exactly. Model (datasets/README.md):
 *   duplicates  a two-state Markov chain (runs of new chunks, runs of duplicates) whose
 *               stationary share of duplicates is 1 - 1000 / dup_ratio_milli; a run of
 *               duplicates replays consecutive earlier chunks in their original order,
 *               starting at a recent one (90%: a log-uniform distance back among the last
 *               2^20 unique chunks) or anywhere (10%: uniform over all of them);
 *   lengths     avg/4 plus an exponential of mean 3/4 avg, cut at 8 avg: a mean of ~avg,
 *               within [avg/4, 8 avg], the shape of content-defined chunk sizes. */
#define DDX_GEN_TRACE_FP_SIZE 32
#define DDX_GEN_TRACE_MIN_AVG 64u                 /* avg/4 >= 16 bytes */
#define DDX_GEN_TRACE_MAX_AVG (8u << 20)          /* 8 avg <= 64 MiB, ddx's largest chunk */
#define DDX_GEN_TRACE_MAX_CHUNKS 1000000000000ull /* 10^12 */
#define DDX_GEN_TRACE_MAX_RATIO_MILLI 1000000u    /* dup ratio 1000 */

typedef struct ddx_gen_trace_params {
    uint64_t seed;            /* same seed -> same records */
    uint64_t chunks;          /* records to produce, 1..DDX_GEN_TRACE_MAX_CHUNKS */
    uint32_t dup_ratio_milli; /* expected chunks per unique chunk, x1000, >= 1000 (default
                                 4000: a dedup ratio of 4) */
    uint32_t avg;             /* mean chunk length in bytes (default 8192) */
} ddx_gen_trace_params;

/* One record: the chunk's length and fingerprint, and whether it was new. */
typedef struct ddx_gen_trace_rec {
    uint32_t length;                   /* avg/4 .. 8 avg */
    uint32_t is_dup;                   /* 1 if an earlier record had this fingerprint */
    uint8_t fp[DDX_GEN_TRACE_FP_SIZE]; /* unique per distinct chunk, uniformly distributed */
} ddx_gen_trace_rec;

/* Fill *p with the defaults: seed 1, 10^6 chunks, dup ratio 4, avg 8 KiB. */
void ddx_gen_trace_default_params(ddx_gen_trace_params *p);

typedef struct ddx_gen_trace ddx_gen_trace;

/* Validate *p and create a trace generator. Returns 0, or -1 with errno EINVAL (NULL,
 * chunks outside [1, DDX_GEN_TRACE_MAX_CHUNKS], dup_ratio_milli outside [1000,
 * DDX_GEN_TRACE_MAX_RATIO_MILLI], avg outside [DDX_GEN_TRACE_MIN_AVG,
 * DDX_GEN_TRACE_MAX_AVG]) or ENOMEM. */
DDX_GEN_NODISCARD int ddx_gen_trace_create(ddx_gen_trace **out, const ddx_gen_trace_params *p);

/* Produce up to max records into out; returns how many (0 once p->chunks are produced). */
size_t ddx_gen_trace_next(ddx_gen_trace *t, ddx_gen_trace_rec *out, size_t max);

/* Distinct fingerprints produced so far. */
uint64_t ddx_gen_trace_unique(const ddx_gen_trace *t);

/* Release a trace generator. Accepts NULL. */
void ddx_gen_trace_free(ddx_gen_trace *t);

/* "trace: 1000000 chunks, dup ratio 4.000, avg 8 KiB, seed 1". Always NUL-terminates. */
void ddx_gen_trace_describe(const ddx_gen_trace_params *p, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* DDX_DATAGEN_H */
