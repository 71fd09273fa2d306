/*
 * datagen.h - a deterministic generator of backup generations.
 *
 * Deduplication is measured on data whose redundancy is known and repeatable, so this
 * generator models the workload dedup engines are built for: the same file tree backed up
 * again and again while it slowly changes. Generation 1 is a fresh tree of files (text,
 * incompressible media, fixed-layout records, sparse images) with little internal
 * duplication; every later generation modifies, adds and removes a few percent of it. Each
 * generation is serialized as a ustar archive (sorted paths), the shape a backup tool hands
 * to a dedup engine. datasets/README.md describes the model and its rates.
 *
 * Determinism. The bytes are a pure function of the parameters: one xoshiro256** stream
 * seeded through splitmix64, little-endian stores, integer arithmetic only (no libm, no
 * rand()), so a seed names the same data on every machine and in every build.
 *
 * Threads. A ddx_gen is used by one thread at a time; distinct generators are independent.
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

/* Limits enforced by ddx_gen_create() (EINVAL outside them). */
#define DDX_GEN_MIN_TREE_BYTES ((uint64_t)1 << 20) /* below this the size model degenerates */
#define DDX_GEN_MAX_TREE_BYTES ((uint64_t)1 << 36) /* 64 GiB: the tree lives in memory */

typedef struct ddx_gen_params {
    uint64_t seed;        /* same seed -> same bytes, on every machine */
    unsigned generations; /* number of backup generations (default 10) */
    uint64_t tree_bytes;  /* approximate size of the file tree (default 64 MiB) */
} ddx_gen_params;

/* Fill *p with the defaults: seed 1, 10 generations, a 64 MiB tree. */
void ddx_gen_default_params(ddx_gen_params *p);

/* A generator: the current tree and the position in the sequence of generations. */
typedef struct ddx_gen ddx_gen;

/* Validate *p and create a generator in *out. Cheap: the tree is built by the first
 * ddx_gen_next(). Returns 0, or -1 with errno EINVAL (generations == 0, tree_bytes outside
 * [DDX_GEN_MIN_TREE_BYTES, DDX_GEN_MAX_TREE_BYTES], or a NULL pointer) or ENOMEM. */
DDX_GEN_NODISCARD int ddx_gen_create(ddx_gen **out, const ddx_gen_params *p);

/* Produce the next generation's backup stream into a malloc'd buffer (caller frees).
 * Returns 1 and fills *buf,*len while generations remain; 0 when all are produced (then
 * *buf = NULL, *len = 0); -1 on error with errno set (ENOMEM, EOVERFLOW when the stream does
 * not fit in size_t, EINVAL for NULL arguments). After an error the generator is poisoned:
 * later calls fail with the same errno, because the tree may be half mutated. */
DDX_GEN_NODISCARD int ddx_gen_next(ddx_gen *g, uint8_t **buf, size_t *len);

/* Release a generator and its tree. Accepts NULL. */
void ddx_gen_free(ddx_gen *g);

/* A one-line description of the parameters for reports, e.g.
 * "backup: 10 generations of a 64 MiB tree, seed 1". Always NUL-terminates (len > 0). */
void ddx_gen_describe(const ddx_gen_params *p, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* DDX_DATAGEN_H */
