/*
 * test_index.c - the fingerprint index (engine/src/index) on exact counts.
 *
 * The index is the one place where threads meet on shared data without a
 * lock, so its tests assert exact numbers, never "about": every distinct
 * fingerprint is new exactly once, however many threads race to insert it and
 * however often the table grows underneath them, and every thread that loses
 * the race sees the winner's location.
 *
 * Fingerprints are distinct by construction (see make_fps), so an exact count
 * that fails is a bug, not bad luck. They come from tu_seed(): a failure is
 * replayed with DDX_TEST_SEED. Worker threads never call cr_assert (it may not
 * be called off the test's main thread); they record what they saw and the
 * main thread checks it after the join.
 *
 * The concurrent tests run 4 threads on purpose even on a 2-core machine:
 * oversubscription preempts threads between the claim and the publish of a
 * slot and inside the brlock, which is where races hide.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ddx.h"
#include "index.h"
#include "testutil.h"

#define NTHREADS 4

/* n fingerprints of fp_size bytes, salted so that different tests draw
 * different sets. The first 8 bytes of fingerprint i are output i of one
 * splitmix stream; splitmix is a bijection of its counter, so the n
 * fingerprints are distinct for certain, and the index (which takes its home
 * slot from those bytes) still sees uniformly random keys. */
static uint8_t *make_fps(size_t n, size_t fp_size, uint64_t salt)
{
    uint8_t *fps = malloc(n * fp_size);
    cr_assert_not_null(fps);
    uint64_t head = tu_seed() ^ salt;
    uint64_t tail = ~head * 0x2545f4914f6cdd1dull;
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = fps + i * fp_size;
        uint64_t w = tu_splitmix(&head);
        memcpy(p, &w, 8);
        for (size_t k = 8; k < fp_size; k += 8) {
            w = tu_splitmix(&tail);
            memcpy(p + k, &w, fp_size - k < 8 ? fp_size - k : 8);
        }
    }
    return fps;
}

/* Insert with the documented protocol: on DDX_EFULL leave, grow, enter, retry.
 * Counts the DDX_EFULL answers in *efulls when given. */
static int insert_retry(ddx_index *ix, ddx_index_thread *t, const uint8_t *fp, uint64_t value,
                        uint64_t *existing, uint64_t *efulls)
{
    int rc;
    while ((rc = ddx_index_insert(ix, fp, value, existing)) == DDX_EFULL) {
        if (efulls)
            (*efulls)++;
        ddx_index_leave(ix, t);
        int g = ddx_index_grow(ix);
        ddx_index_enter(ix, t);
        if (g)
            return g;
    }
    return rc;
}

/* Grow early, as the engine does between batches, when the soft limit says so. */
static int grow_if_wanted(ddx_index *ix, ddx_index_thread *t)
{
    if (!ddx_index_wants_grow(ix))
        return 0;
    ddx_index_leave(ix, t);
    int rc = ddx_index_grow(ix);
    ddx_index_enter(ix, t);
    return rc;
}

/* Every table starts at the capacity create() chose and only ever doubles. */
static void expect_doublings(const ddx_index *ix, uint64_t initial_cap)
{
    uint64_t grows = ddx_index_grows(ix);
    cr_assert_lt(grows, 64);
    cr_expect_eq(ddx_index_capacity(ix), initial_cap << grows,
                 "capacity %llu after %llu grows from %llu",
                 (unsigned long long)ddx_index_capacity(ix), (unsigned long long)grows,
                 (unsigned long long)initial_cap);
}

/* ---- single thread -------------------------------------------------------- */

/* The value stored for fingerprint i: the two ends of the value range among
 * them, since the slot state stores value + 2 and must not collide with the
 * empty and busy states at either end. */
static uint64_t value_of(size_t i)
{
    if (i == 0)
        return 0;
    if (i == 1)
        return DDX_INDEX_VALUE_MAX;
    return (uint64_t)i * 7 + 3;
}

static void single_thread(size_t fp_size)
{
    enum { N = 100000, ABSENT = 1000 };
    uint8_t *fps = make_fps(N + ABSENT, fp_size, 0x51e6 + fp_size);
    ddx_index *ix;
    cr_assert_eq(ddx_index_create(&ix, fp_size, N), 0);
    ddx_index_thread t;
    ddx_index_register(ix, &t);
    ddx_index_enter(ix, &t);

    for (size_t i = 0; i < N; i++) {
        uint64_t ex = 0;
        int rc = insert_retry(ix, &t, fps + i * fp_size, value_of(i), &ex, NULL);
        cr_assert_eq(rc, 1, "fp_size %zu: first insert of fp %zu returned %d", fp_size, i, rc);
    }
    cr_assert_eq(ddx_index_entries(ix), N);

    /* Again, with other values: each must report the first value and keep it. */
    for (size_t i = 0; i < N; i++) {
        uint64_t ex = ~0ull;
        int rc = insert_retry(ix, &t, fps + i * fp_size, value_of(i) ^ 1, &ex, NULL);
        cr_assert_eq(rc, 0, "fp_size %zu: second insert of fp %zu returned %d", fp_size, i, rc);
        cr_assert_eq(ex, value_of(i), "fp_size %zu: fp %zu: existing %llu, stored %llu", fp_size, i,
                     (unsigned long long)ex, (unsigned long long)value_of(i));
    }
    /* existing may be NULL when the caller does not need it. */
    cr_assert_eq(insert_retry(ix, &t, fps, 5, NULL, NULL), 0);
    cr_assert_eq(ddx_index_entries(ix), N);
    /* values that would alias the empty / being-written states are refused */
    uint8_t fresh[32];
    memset(fresh, 0x5a, sizeof fresh);
    cr_assert_eq(ddx_index_insert(ix, fresh, DDX_INDEX_VALUE_MAX + 1, NULL), DDX_EINVAL);
    cr_assert_eq(ddx_index_insert(ix, fresh, UINT64_MAX, NULL), DDX_EINVAL);
    cr_assert_eq(ddx_index_lookup(ix, fresh, NULL), 0);
    cr_assert_eq(ddx_index_entries(ix), N);

    for (size_t i = 0; i < N; i++) {
        uint64_t v = ~0ull;
        cr_assert_eq(ddx_index_lookup(ix, fps + i * fp_size, &v), 1,
                     "fp_size %zu: fp %zu not found", fp_size, i);
        cr_assert_eq(v, value_of(i), "fp_size %zu: fp %zu: found %llu, stored %llu", fp_size, i,
                     (unsigned long long)v, (unsigned long long)value_of(i));
    }
    for (size_t i = N; i < N + ABSENT; i++) {
        uint64_t v;
        cr_assert_eq(ddx_index_lookup(ix, fps + i * fp_size, &v), 0,
                     "fp_size %zu: never-inserted fp %zu found", fp_size, i);
    }

    /* Same home slot and chain as an inserted fingerprint, different last
     * byte: only the full comparison tells them apart, so this is absent and
     * then new. */
    uint8_t near[DDX_FP_MAX];
    memcpy(near, fps + 2 * fp_size, fp_size);
    near[fp_size - 1] ^= 0x80;
    uint64_t v;
    cr_assert_eq(ddx_index_lookup(ix, near, &v), 0, "fp_size %zu: last byte ignored", fp_size);
    cr_assert_eq(insert_retry(ix, &t, near, 42, NULL, NULL), 1);
    cr_assert_eq(ddx_index_lookup(ix, near, &v), 1);
    cr_assert_eq(v, 42);
    cr_assert_eq(ddx_index_lookup(ix, fps + 2 * fp_size, &v), 1);
    cr_assert_eq(v, value_of(2));
    cr_assert_eq(ddx_index_entries(ix), N + 1);

    ddx_index_leave(ix, &t);
    ddx_index_unregister(ix, &t);
    ddx_index_destroy(ix);
    free(fps);
}

Test(index, single_thread_sha1)
{
    single_thread(20);
}

Test(index, single_thread_sha256)
{
    single_thread(32);
}

/* ---- growth, one thread --------------------------------------------------- */

/* Grows on both signals (soft limit and DDX_EFULL) from the smallest table. */
Test(index, growth_one_million, .timeout = 300)
{
    enum { N = 1000000, FS = 32 };
    uint8_t *fps = make_fps(N, FS, 0x6e0);
    ddx_index *ix;
    cr_assert_eq(ddx_index_create(&ix, FS, 0), 0);
    uint64_t cap0 = ddx_index_capacity(ix);
    ddx_index_thread t;
    ddx_index_register(ix, &t);
    ddx_index_enter(ix, &t);
    for (size_t i = 0; i < N; i++) {
        int rc = insert_retry(ix, &t, fps + i * FS, i, NULL, NULL);
        cr_assert_eq(rc, 1, "insert of fp %zu returned %d", i, rc);
        cr_assert_eq(grow_if_wanted(ix, &t), 0);
    }
    cr_assert_eq(ddx_index_entries(ix), N);
    cr_assert_gt(ddx_index_grows(ix), 0);
    expect_doublings(ix, cap0);
    for (size_t i = 0; i < N; i++) {
        uint64_t v = ~0ull;
        cr_assert_eq(ddx_index_lookup(ix, fps + i * FS, &v), 1, "fp %zu lost by growth", i);
        cr_assert_eq(v, i, "fp %zu: found %llu after growth", i, (unsigned long long)v);
    }
    ddx_index_leave(ix, &t);

    /* 40-byte slots (8-byte state + 32-byte fp) at a load between 30 % and 90 %. */
    double per_entry = (double)ddx_index_bytes(ix) / (double)ddx_index_entries(ix);
    cr_expect(per_entry >= 40 / 0.9 && per_entry <= 40 / 0.3, "%.1f bytes per entry", per_entry);

    ddx_index_unregister(ix, &t);
    ddx_index_destroy(ix);
    free(fps);
}

/* Grows only when told DDX_EFULL: the hard limit alone must keep the table
 * usable, and from one thread every DDX_EFULL is answered by one doubling
 * (past the hard limit is past the soft one). */
Test(index, growth_on_efull_only, .timeout = 300)
{
    enum { N = 200000, FS = 20 };
    uint8_t *fps = make_fps(N, FS, 0xef);
    ddx_index *ix;
    cr_assert_eq(ddx_index_create(&ix, FS, 0), 0);
    uint64_t cap0 = ddx_index_capacity(ix);
    ddx_index_thread t;
    ddx_index_register(ix, &t);
    ddx_index_enter(ix, &t);
    uint64_t efulls = 0;
    for (size_t i = 0; i < N; i++) {
        int rc = insert_retry(ix, &t, fps + i * FS, i, NULL, &efulls);
        cr_assert_eq(rc, 1, "insert of fp %zu returned %d", i, rc);
    }
    cr_assert_eq(ddx_index_entries(ix), N);
    cr_assert_gt(efulls, 0);
    cr_assert_eq(ddx_index_grows(ix), efulls);
    expect_doublings(ix, cap0);
    for (size_t i = 0; i < N; i++) {
        uint64_t v = ~0ull;
        cr_assert_eq(ddx_index_lookup(ix, fps + i * FS, &v), 1, "fp %zu lost by growth", i);
        cr_assert_eq(v, i);
    }
    ddx_index_leave(ix, &t);
    ddx_index_unregister(ix, &t);
    ddx_index_destroy(ix);
    free(fps);
}

/* ---- concurrency ---------------------------------------------------------- */

/* One inserting thread: inserts fps[order[k]] for k < n with value
 * (tid << 32) | order[k] and records what it saw per position k. */
typedef struct worker {
    ddx_index *ix;
    pthread_barrier_t *start; /* all threads registered before any inserts */
    const uint8_t *fps;
    size_t fp_size;
    const uint32_t *order; /* fingerprint numbers, in this thread's order */
    size_t n;
    uint64_t tid;
    /* results, read by the main thread after the join */
    uint8_t *won;          /* [k]: 1 if the insert returned 1 */
    uint64_t *seen;        /* [k]: our value if won, else the existing value */
    uint64_t added;        /* inserts that returned 1 */
    uint64_t grows_at_end; /* ddx_index_grows() right after our last insert */
    int err;               /* first unexpected return code, 0 if none */
} worker;

static uint64_t value_for(uint64_t tid, uint32_t fp_no)
{
    return tid << 32 | fp_no;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    ddx_index_thread t;
    ddx_index_register(w->ix, &t);
    pthread_barrier_wait(w->start);
    ddx_index_enter(w->ix, &t);
    for (size_t k = 0; k < w->n && !w->err; k++) {
        uint32_t f = w->order[k];
        uint64_t v = value_for(w->tid, f), ex = ~0ull;
        int rc = insert_retry(w->ix, &t, w->fps + (size_t)f * w->fp_size, v, &ex, NULL);
        if (rc == 1) {
            w->won[k] = 1;
            w->seen[k] = v;
            w->added++;
        } else if (rc == 0) {
            w->seen[k] = ex;
        } else {
            w->err = rc;
        }
        int g = grow_if_wanted(w->ix, &t);
        if (g && !w->err)
            w->err = g;
    }
    w->grows_at_end = ddx_index_grows(w->ix);
    ddx_index_leave(w->ix, &t);
    ddx_index_unregister(w->ix, &t);
    return NULL;
}

static void run_workers(worker *w)
{
    pthread_barrier_t start;
    cr_assert_eq(pthread_barrier_init(&start, NULL, NTHREADS), 0);
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        w[i].start = &start;
        w[i].won = calloc(w[i].n, 1);
        w[i].seen = calloc(w[i].n, sizeof *w[i].seen);
        cr_assert(w[i].won && w[i].seen);
        cr_assert_eq(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        cr_assert_eq(pthread_join(th[i], NULL), 0);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < NTHREADS; i++)
        cr_assert_eq(w[i].err, 0, "thread %d: insert or grow returned %d", i, w[i].err);
}

static void free_workers(worker *w)
{
    for (int i = 0; i < NTHREADS; i++) {
        free(w[i].won);
        free(w[i].seen);
    }
}

/* Every thread inserts the same fingerprints, each in its own shuffled order,
 * so most inserts race with the same fingerprint in another thread: exactly
 * one of them may win, and all others must see the winner's value. */
Test(index, concurrent_duplicates, .timeout = 300)
{
    enum { N = 200000, FS = 32 };
    uint8_t *fps = make_fps(N, FS, 0xd0b);
    ddx_index *ix;
    cr_assert_eq(ddx_index_create(&ix, FS, 0), 0);
    uint64_t cap0 = ddx_index_capacity(ix);

    worker w[NTHREADS];
    uint32_t *order[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        order[i] = malloc(N * sizeof *order[i]);
        cr_assert_not_null(order[i]);
        for (uint32_t k = 0; k < N; k++)
            order[i][k] = k;
        uint64_t s = tu_seed() ^ (0x5107ull * (uint64_t)(i + 1));
        for (uint32_t k = N - 1; k > 0; k--) {
            uint32_t j = (uint32_t)(tu_splitmix(&s) % (k + 1));
            uint32_t tmp = order[i][k];
            order[i][k] = order[i][j];
            order[i][j] = tmp;
        }
        w[i] = (worker){
            .ix = ix, .fps = fps, .fp_size = FS, .order = order[i], .n = N, .tid = (uint64_t)i};
    }
    run_workers(w);

    uint64_t added = 0;
    for (int i = 0; i < NTHREADS; i++)
        added += w[i].added;
    cr_expect_eq(added, N, "%llu inserts returned 1 for %d distinct fps", (unsigned long long)added,
                 N);
    cr_assert_eq(ddx_index_entries(ix), N);

    /* Per fingerprint: who won, and what every thread saw. */
    uint8_t *wins = calloc(N, 1);
    uint64_t *winner = calloc(N, sizeof *winner);
    cr_assert(wins && winner);
    for (int i = 0; i < NTHREADS; i++)
        for (size_t k = 0; k < N; k++)
            if (w[i].won[k]) {
                wins[w[i].order[k]]++;
                winner[w[i].order[k]] = w[i].seen[k];
            }
    for (size_t f = 0; f < N; f++)
        cr_assert_eq(wins[f], 1, "fp %zu: %d threads inserted it as new", f, wins[f]);
    for (int i = 0; i < NTHREADS; i++)
        for (size_t k = 0; k < N; k++) {
            uint32_t f = w[i].order[k];
            cr_assert_eq(w[i].seen[k], winner[f], "fp %u: thread %d saw %#llx, winner stored %#llx",
                         f, i, (unsigned long long)w[i].seen[k], (unsigned long long)winner[f]);
        }

    ddx_index_thread t;
    ddx_index_register(ix, &t);
    ddx_index_enter(ix, &t);
    for (size_t f = 0; f < N; f++) {
        uint64_t v = ~0ull;
        cr_assert_eq(ddx_index_lookup(ix, fps + f * FS, &v), 1, "fp %zu not found", f);
        cr_assert_eq(v, winner[f], "fp %zu: found %#llx, winner stored %#llx", f,
                     (unsigned long long)v, (unsigned long long)winner[f]);
    }
    ddx_index_leave(ix, &t);
    ddx_index_unregister(ix, &t);
    expect_doublings(ix, cap0);

    free(wins);
    free(winner);
    free_workers(w);
    for (int i = 0; i < NTHREADS; i++)
        free(order[i]);
    ddx_index_destroy(ix);
    free(fps);
}

/* Every thread inserts fingerprints of its own, from the smallest table, so
 * the table doubles many times while all threads are mid-stream: nothing may
 * be lost or reported as present. */
Test(index, concurrent_unique, .timeout = 300)
{
    enum { PER = 250000, N = PER * NTHREADS, FS = 32 };
    uint8_t *fps = make_fps(N, FS, 0x0417);
    ddx_index *ix;
    cr_assert_eq(ddx_index_create(&ix, FS, 0), 0);
    uint64_t cap0 = ddx_index_capacity(ix);

    uint32_t *order = malloc(N * sizeof *order);
    cr_assert_not_null(order);
    for (uint32_t f = 0; f < N; f++)
        order[f] = f;
    worker w[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        w[i] = (worker){.ix = ix,
                        .fps = fps,
                        .fp_size = FS,
                        .order = order + (size_t)i * PER,
                        .n = PER,
                        .tid = (uint64_t)i};
    run_workers(w);

    for (int i = 0; i < NTHREADS; i++) {
        cr_expect_eq(w[i].added, PER, "thread %d: %llu of %d inserts returned 1", i,
                     (unsigned long long)w[i].added, PER);
        /* Every thread was registered and had inserts left from the barrier
         * on, so growth before the first thread finished happened while all
         * of them were inserting. */
        cr_expect_gt(w[i].grows_at_end, 0, "thread %d finished before any growth", i);
    }
    cr_assert_eq(ddx_index_entries(ix), N);
    cr_assert_gt(ddx_index_grows(ix), 0);
    expect_doublings(ix, cap0);

    ddx_index_thread t;
    ddx_index_register(ix, &t);
    ddx_index_enter(ix, &t);
    for (uint32_t f = 0; f < N; f++) {
        uint64_t v = ~0ull, want = value_for(f / PER, f);
        cr_assert_eq(ddx_index_lookup(ix, fps + (size_t)f * FS, &v), 1, "fp %u not found", f);
        cr_assert_eq(v, want, "fp %u: found %#llx, stored %#llx", f, (unsigned long long)v,
                     (unsigned long long)want);
    }
    ddx_index_leave(ix, &t);
    ddx_index_unregister(ix, &t);

    free_workers(w);
    free(order);
    ddx_index_destroy(ix);
    free(fps);
}

/* ---- arguments ------------------------------------------------------------ */

Test(index, invalid_fp_size)
{
    static const size_t bad[] = {0, 4, 7, 33, 64};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ddx_index *ix = (ddx_index *)&ix; /* not NULL, to see create clear it */
        cr_expect_eq(ddx_index_create(&ix, bad[i], 0), DDX_EINVAL, "fp_size %zu accepted", bad[i]);
        cr_expect_null(ix, "fp_size %zu: *out not cleared", bad[i]);
    }
    static const size_t good[] = {20, 32};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ddx_index *ix = NULL;
        cr_expect_eq(ddx_index_create(&ix, good[i], 0), 0, "fp_size %zu refused", good[i]);
        ddx_index_destroy(ix);
    }
    ddx_index_destroy(NULL);
}
