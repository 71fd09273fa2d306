/*
 * index.h - the in-memory fingerprint index (internal).
 *
 * Maps a fingerprint (20 or 32 bytes) to a 64-bit location. Any number of
 * threads insert-or-look-up concurrently with no lock on that path: the table
 * is open addressing with linear probing over slots whose first word is an
 * atomic state (empty / being written / the location), claimed with one CAS.
 *
 * Growth is the only exclusive operation. Each thread brackets its accesses
 * with ddx_index_enter()/ddx_index_leave() (Concurrency Kit's big-reader lock:
 * entering stores to the thread's own cache line, so readers never share a
 * line with each other), and a thread that sees the table past its load limit
 * leaves, doubles the table under the writer side, and enters again.
 */
#ifndef DDX_INDEX_H
#define DDX_INDEX_H

#include <ck_brlock.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ddx_index ddx_index;

/* Per-thread handle; register once per thread, keep it alive while registered. */
typedef struct ddx_index_thread {
    _Alignas(64) struct ck_brlock_reader reader; /* own cache line: see above */
} ddx_index_thread;

#define DDX_INDEX_VALUE_MAX (UINT64_MAX - 2) /* largest storable location */

int ddx_index_create(ddx_index **out, size_t fp_size, uint64_t capacity_hint);
void ddx_index_destroy(ddx_index *ix);
void ddx_index_register(ddx_index *ix, ddx_index_thread *t);
void ddx_index_unregister(ddx_index *ix, ddx_index_thread *t);
void ddx_index_enter(ddx_index *ix, ddx_index_thread *t);
void ddx_index_leave(ddx_index *ix, ddx_index_thread *t);

/* Between enter and leave. Returns 1 if fp was new and is now mapped to value,
 * 0 if it was present (*existing gets its location), DDX_EINVAL if value >
 * DDX_INDEX_VALUE_MAX, DDX_EFULL if the table
 * is past its hard load limit: leave, call ddx_index_grow(), enter, retry. */
int ddx_index_insert(ddx_index *ix, const uint8_t *fp, uint64_t value, uint64_t *existing);
/* Between enter and leave. 1 and *value if present, 0 if not. */
int ddx_index_lookup(ddx_index *ix, const uint8_t *fp, uint64_t *value);
/* Between enter and leave. Start loading fp's home slot: a caller that knows
 * its next fingerprints prefetches a few ahead, so that the cache misses of
 * several probes overlap instead of queuing one after another. */
void ddx_index_prefetch(const ddx_index *ix, const uint8_t *fp);
/* 1 if the table passed its soft load limit and should grow. Any time. */
int ddx_index_wants_grow(const ddx_index *ix);
/* Outside enter/leave. Doubles the table if it still wants to grow. */
int ddx_index_grow(ddx_index *ix);

uint64_t ddx_index_entries(const ddx_index *ix);
uint64_t ddx_index_bytes(const ddx_index *ix);
uint64_t ddx_index_capacity(const ddx_index *ix);
uint64_t ddx_index_grows(const ddx_index *ix);

#endif
