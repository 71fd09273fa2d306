/*
 * index.c - lock-free open-addressing fingerprint table (see index.h).
 *
 * Slot: one 8-byte state word followed by the fingerprint, padded to 8 bytes
 * (32 bytes for SHA-1, 40 for SHA-256). State word: 0 = empty, 1 = claimed and
 * being written, v + 2 = holds location v. Fingerprints are uniformly random,
 * so their first 8 bytes pick the home slot directly (no extra hashing), and
 * linear probing keeps a probe within one or two cache lines.
 *
 * Load: grow (double) at 70 %; refuse inserts past 90 % so that a probe always
 * finds an empty slot even while other threads are still inserting before
 * they notice. After growth the load is 35 %, so bytes per entry swing between
 * slot/0.7 and slot/0.35 (57..114 B for SHA-256); ddx_index_bytes() reports
 * the real figure.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <ck_pr.h>

#include "ddx.h"
#include "index.h"
#include "tsan_annot.h"

#define ST_EMPTY 0u
#define ST_BUSY 1u

struct ddx_index {
    uint8_t *slots; /* cap * slot_size bytes */
    uint64_t cap;   /* power of two */
    uint64_t mask;  /* cap - 1 */
    size_t fp_size;
    size_t slot_size;
    uint64_t soft_limit;    /* entries at which growth is wanted */
    uint64_t hard_limit;    /* entries at which inserts are refused */
    _Atomic uint64_t count; /* entries; fetch_add per new entry (new entries only) */
    _Atomic uint64_t grows;
    _Atomic uint64_t bytes_pub; /* cap * slot_size, readable while another thread grows */
    ck_brlock_t lock;           /* readers: inserting threads; writer: grow */
};

static inline _Atomic uint64_t *slot_state(const ddx_index *ix, uint64_t i)
{
    return (_Atomic uint64_t *)(void *)(ix->slots + i * ix->slot_size);
}

static inline uint8_t *slot_fp(const ddx_index *ix, uint64_t i)
{
    return ix->slots + i * ix->slot_size + 8;
}

static inline uint64_t home(const ddx_index *ix, const uint8_t *fp)
{
    uint64_t h;
    memcpy(&h, fp, 8);
    return h & ix->mask;
}

/* Fresh anonymous pages are already zero: mmap them rather than zeroing a
 * malloc'd block (touching every page twice, under the grow lock). Huge pages
 * where possible: a probe is a random access, so TLB misses dominate. */
static size_t slots_bytes(uint64_t cap, size_t slot_size)
{
    return ((size_t)cap * slot_size + 4095) & ~(size_t)4095;
}

static uint8_t *alloc_slots(uint64_t cap, size_t slot_size)
{
    size_t bytes = slots_bytes(cap, slot_size);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
#ifdef MADV_HUGEPAGE
    if (bytes >= (2u << 20))
        (void)madvise(p, bytes, MADV_HUGEPAGE);
#endif
    return p;
}

static void free_slots(uint8_t *p, uint64_t cap, size_t slot_size)
{
    if (p)
        munmap(p, slots_bytes(cap, slot_size));
}

static void set_cap(ddx_index *ix, uint64_t cap)
{
    ix->cap = cap;
    ix->mask = cap - 1;
    atomic_store_explicit(&ix->soft_limit, cap / 10 * 7, memory_order_relaxed);
    ix->hard_limit = cap / 10 * 9;
    atomic_store_explicit(&ix->bytes_pub, cap * ix->slot_size, memory_order_relaxed);
}

int ddx_index_create(ddx_index **out, size_t fp_size, uint64_t hint)
{
    *out = NULL;
    if (fp_size < 8 || fp_size > DDX_FP_MAX)
        return DDX_EINVAL;
    ddx_index *ix = calloc(1, sizeof *ix);
    if (!ix)
        return DDX_ENOMEM;
    ix->fp_size = fp_size;
    ix->slot_size = (8 + fp_size + 7) & ~(size_t)7;
    uint64_t cap = 1024;
    while (cap / 10 * 7 < hint && cap < (1ull << 40))
        cap <<= 1;
    set_cap(ix, cap);
    ix->slots = alloc_slots(cap, ix->slot_size);
    if (!ix->slots) {
        free(ix);
        return DDX_ENOMEM;
    }
    ck_brlock_init(&ix->lock);
    *out = ix;
    return 0;
}

void ddx_index_destroy(ddx_index *ix)
{
    if (!ix)
        return;
    free_slots(ix->slots, ix->cap, ix->slot_size);
    free(ix);
}

void ddx_index_register(ddx_index *ix, ddx_index_thread *t)
{
    ck_brlock_read_register(&ix->lock, &t->reader);
}

void ddx_index_unregister(ddx_index *ix, ddx_index_thread *t)
{
    ck_brlock_read_unregister(&ix->lock, &t->reader);
}

/* For TSan (tsan_annot.h): readers release to the grower at &ix->grows
 * and the grower releases to readers at ->lock; readers are not ordered
 * with each other. */
void ddx_index_enter(ddx_index *ix, ddx_index_thread *t)
{
    ck_brlock_read_lock(&ix->lock, &t->reader);
    DDX_TSAN_ACQUIRE(&ix->lock);
}

void ddx_index_leave(ddx_index *ix, ddx_index_thread *t)
{
    (void)ix; /* TSan builds only */
    DDX_TSAN_RELEASE(&ix->grows);
    ck_brlock_read_unlock(&t->reader);
}

int ddx_index_insert(ddx_index *ix, const uint8_t *fp, uint64_t value, uint64_t *existing)
{
    size_t fs = ix->fp_size;
    if (value > DDX_INDEX_VALUE_MAX)
        return DDX_EINVAL; /* would collide with the empty / busy states */
    for (uint64_t i = home(ix, fp);; i = (i + 1) & ix->mask) {
        _Atomic uint64_t *st = slot_state(ix, i);
        /* acquire: a non-empty state publishes the fingerprint bytes below */
        uint64_t s = atomic_load_explicit(st, memory_order_acquire);
        for (;;) {
            if (s == ST_EMPTY) {
                if (atomic_load_explicit(&ix->count, memory_order_relaxed) >= ix->hard_limit)
                    return DDX_EFULL;
                /* acq_rel: claiming orders our later fp writes after the claim;
                 * on failure s gets the winner's state and we look again. */
                if (atomic_compare_exchange_strong_explicit(st, &s, ST_BUSY, memory_order_acq_rel,
                                                            memory_order_acquire)) {
                    memcpy(slot_fp(ix, i), fp, fs);
                    /* release: readers that see the location also see the fp */
                    atomic_store_explicit(st, value + 2, memory_order_release);
                    atomic_fetch_add_explicit(&ix->count, 1, memory_order_relaxed);
                    return 1;
                }
                continue;
            }
            if (s == ST_BUSY) {
                /* a writer is between its claim and its publish: a few stores */
                ck_pr_stall();
                s = atomic_load_explicit(st, memory_order_acquire);
                continue;
            }
            break;
        }
        if (memcmp(slot_fp(ix, i), fp, fs) == 0) {
            if (existing)
                *existing = s - 2;
            return 0;
        }
    }
}

void ddx_index_prefetch(const ddx_index *ix, const uint8_t *fp)
{
    __builtin_prefetch(slot_state(ix, home(ix, fp)), 1, 3);
}

int ddx_index_lookup(ddx_index *ix, const uint8_t *fp, uint64_t *value)
{
    for (uint64_t i = home(ix, fp);; i = (i + 1) & ix->mask) {
        _Atomic uint64_t *st = slot_state(ix, i);
        uint64_t s;
        while ((s = atomic_load_explicit(st, memory_order_acquire)) == ST_BUSY)
            ck_pr_stall();
        if (s == ST_EMPTY)
            return 0;
        if (memcmp(slot_fp(ix, i), fp, ix->fp_size) == 0) {
            if (value)
                *value = s - 2;
            return 1;
        }
    }
}

int ddx_index_wants_grow(const ddx_index *ix)
{
    return atomic_load_explicit(&ix->count, memory_order_relaxed) >=
           atomic_load_explicit(&ix->soft_limit, memory_order_relaxed);
}

int ddx_index_grow(ddx_index *ix)
{
    int rc = 0;
    /* Waits until every registered thread has left: after this no one reads
     * ix->slots or ix->cap, which we replace. */
    ck_brlock_write_lock(&ix->lock);
    DDX_TSAN_ACQUIRE(&ix->grows);
    if (!ddx_index_wants_grow(ix))
        goto out; /* another thread grew it first */
    uint64_t ncap = ix->cap * 2;
    uint8_t *ns = alloc_slots(ncap, ix->slot_size);
    if (!ns) {
        rc = DDX_ENOMEM;
        goto out;
    }
    uint8_t *old = ix->slots;
    uint64_t ocap = ix->cap;
    ix->slots = ns;
    set_cap(ix, ncap);
    for (uint64_t i = 0; i < ocap; i++) {
        const uint8_t *os = old + i * ix->slot_size;
        uint64_t s;
        memcpy(&s, os, 8);
        if (s == ST_EMPTY)
            continue;
        uint64_t j = home(ix, os + 8);
        while (atomic_load_explicit(slot_state(ix, j), memory_order_relaxed) != ST_EMPTY)
            j = (j + 1) & ix->mask;
        memcpy(ix->slots + j * ix->slot_size, os, ix->slot_size);
    }
    free_slots(old, ocap, ix->slot_size);
    atomic_fetch_add_explicit(&ix->grows, 1, memory_order_relaxed);
out:
    DDX_TSAN_RELEASE(&ix->lock);
    ck_brlock_write_unlock(&ix->lock);
    return rc;
}

uint64_t ddx_index_entries(const ddx_index *ix)
{
    return atomic_load_explicit(&ix->count, memory_order_relaxed);
}

uint64_t ddx_index_bytes(const ddx_index *ix)
{
    return atomic_load_explicit(&ix->bytes_pub, memory_order_relaxed);
}

uint64_t ddx_index_capacity(const ddx_index *ix)
{
    return ddx_index_bytes(ix) / ix->slot_size;
}

uint64_t ddx_index_grows(const ddx_index *ix)
{
    return atomic_load_explicit(&ix->grows, memory_order_relaxed);
}
