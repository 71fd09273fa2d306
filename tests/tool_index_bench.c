/*
 * tool_index_bench.c - insert-or-lookup throughput and memory of the
 * fingerprint index, against Concurrency Kit's ck_hs.
 *
 *   tool_index_bench [--entries N] [--json FILE]
 *
 * Two streams of 32-byte fingerprints (SHA-256 sized), N operations each
 * (default 4,000,000): "unique", N distinct fingerprints; "dup50", N/2
 * distinct fingerprints each appearing twice, shuffled, so exactly half of
 * the operations find an entry some thread inserted before. Each operation is
 * "insert this fingerprint with this location, or tell me the location it
 * already has", the engine's index stage. 1 and 2 threads split the stream
 * into contiguous slices.
 *
 * The comparison is the obvious way to do this with CK: ck_hs is single
 * writer / many readers (CK_HS_MODE_SPMC), so lookups run without a lock and
 * inserts are serialized by a ck_spinlock_fas. ck_hs stores pointers, so each
 * new entry also needs a key object (fingerprint + location, 40 bytes), taken
 * from a per-thread bump arena: the cheapest allocator there is, which favours
 * ck_hs over per-object malloc. Maps that ck_hs frees with defer=true (old maps
 * after growth, which lock-free readers may still be reading) are kept until
 * the run ends, standing in for epoch reclamation; they are not counted in
 * bytes per entry, as the live ddx figure does not count the table it freed.
 *
 * Both tables start small (ddx: capacity hint 0; ck_hs: 1024) and grow
 * inside the timed region, as they do in the engine; growth is most of the
 * single-thread ddx time (the kernel zeroing the new tables' pages), and where
 * the range is wide that is why. ddx threads leave and re-enter every 512
 * operations and grow there when asked to, as the engine does once per batch.
 * Every configuration runs once unreported, then 5 times; the table shows the
 * median and the range. Each run checks its exact counts (entries and "new"
 * answers) and the tool fails if they are wrong, so a fast wrong table cannot
 * look good.
 */
#include <ck_hs.h>
#include <ck_spinlock.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ddx.h"
#include "index.h"
#include "testutil.h"

#define FS 32         /* fingerprint bytes */
#define RUNS 5        /* runs per configuration; the median is reported */
#define MAX_THREADS 2 /* thread counts measured: 1 .. MAX_THREADS */
#define BATCH 512     /* ddx operations between leave/enter, as an engine batch */

enum { IMPL_DDX, IMPL_CKHS, NIMPL };
static const char *const impl_name[NIMPL] = {"ddx_index", "ck_hs+fas"};

enum { WL_UNIQUE, WL_DUP50, NWL };
static const char *const wl_name[NWL] = {"unique", "dup50"};

/* One stream of operations. */
typedef struct stream {
    uint8_t *fps;    /* n fingerprints, FS bytes apart, in operation order */
    size_t n;        /* operations */
    uint64_t unique; /* distinct fingerprints among them: the exact entry count */
} stream;

/* One measured run. */
typedef struct result {
    double mops;
    uint64_t entries;
    uint64_t table_bytes; /* ddx: the slot array; ck_hs: its live map */
    uint64_t key_bytes;   /* ck_hs: key objects of the entries; ddx: 0 (inline) */
} result;

static void die(const char *what)
{
    fprintf(stderr, "tool_index_bench: %s\n", what);
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Fingerprint i's first 8 bytes are splitmix output i: distinct by
 * construction (splitmix is a bijection of its counter), so the exact counts
 * checked below hold for every seed. */
static void fill_fps(uint8_t *out, size_t n, uint64_t salt)
{
    uint64_t head = tu_seed() ^ salt;
    uint64_t tail = ~head * 0x2545f4914f6cdd1dull;
    for (size_t i = 0; i < n; i++) {
        uint64_t w = tu_splitmix(&head);
        memcpy(out + i * FS, &w, 8);
        for (size_t k = 8; k < FS; k += 8) {
            w = tu_splitmix(&tail);
            memcpy(out + i * FS + k, &w, 8);
        }
    }
}

static void make_unique(stream *s, size_t n)
{
    s->fps = tu_xmalloc(n * FS);
    s->n = n;
    s->unique = n;
    fill_fps(s->fps, n, 0xb0);
}

/* n/2 distinct fingerprints, each twice, in a seeded random order. */
static void make_dup50(stream *s, size_t n)
{
    size_t u = n / 2;
    uint8_t *distinct = tu_xmalloc(u * FS);
    fill_fps(distinct, u, 0xb1);
    uint32_t *order = tu_xmalloc(2 * u * sizeof *order);
    for (size_t i = 0; i < 2 * u; i++)
        order[i] = (uint32_t)(i % u);
    uint64_t r = tu_seed() ^ 0x5a5a;
    for (size_t i = 2 * u - 1; i > 0; i--) {
        size_t j = (size_t)(tu_splitmix(&r) % (i + 1));
        uint32_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    s->fps = tu_xmalloc(2 * u * FS);
    for (size_t i = 0; i < 2 * u; i++)
        memcpy(s->fps + i * FS, distinct + (size_t)order[i] * FS, FS);
    s->n = 2 * u;
    s->unique = u;
    free(order);
    free(distinct);
}

/* ---- ck_hs, with insert serialized by a spinlock ------------------------- */

/* What ck_hs points to: the fingerprint and its location. */
typedef struct ck_key {
    uint8_t fp[FS];
    uint64_t value;
} ck_key;

static unsigned long ck_key_hash(const void *k, unsigned long seed)
{
    /* The fingerprint is already uniform; ck_hs wants all 64 bits (low bits
     * pick the bucket, high bits the probe step and the packed tag). */
    uint64_t h;
    memcpy(&h, ((const ck_key *)k)->fp, 8);
    return (unsigned long)(h ^ seed);
}

static bool ck_key_equal(const void *a, const void *b)
{
    return memcmp(((const ck_key *)a)->fp, ((const ck_key *)b)->fp, FS) == 0;
}

/* Allocation hooks. ck_hs calls them only from the writer (under the spinlock)
 * and from init/destroy on the main thread, so plain counters suffice. */
static uint64_t ck_live_bytes;
static void *ck_deferred[128];
static size_t ck_ndeferred;

static void *ck_hook_malloc(size_t n)
{
    void *p = malloc(n);
    if (p)
        ck_live_bytes += n;
    return p;
}

static void *ck_hook_realloc(void *p, size_t old, size_t n, bool defer)
{
    (void)defer;
    void *q = realloc(p, n);
    if (q)
        ck_live_bytes += n - old;
    return q;
}

static void ck_hook_free(void *p, size_t n, bool defer)
{
    ck_live_bytes -= n;
    if (defer && ck_ndeferred < sizeof ck_deferred / sizeof ck_deferred[0])
        ck_deferred[ck_ndeferred++] = p;
    else if (defer)
        die("too many deferred ck_hs maps");
    else
        free(p);
}

static struct ck_malloc ck_allocator = {
    .malloc = ck_hook_malloc, .realloc = ck_hook_realloc, .free = ck_hook_free};

static void ck_free_deferred(void)
{
    while (ck_ndeferred > 0)
        free(ck_deferred[--ck_ndeferred]);
}

/* ---- one run ------------------------------------------------------------- */

typedef struct worker {
    int impl;
    const uint8_t *fps; /* this thread's slice */
    size_t n;
    uint64_t first; /* operation number of fps[0]: the location stored */
    pthread_barrier_t *start;
    ddx_index *ix;
    ck_hs_t *hs;
    ck_spinlock_fas_t *lock;
    ck_key *arena;  /* ck_hs key objects for this thread's new entries */
    uint64_t added; /* operations that inserted */
    uint64_t sink;  /* xor of the locations returned, so no work is dead */
    int err;
} worker;

static void run_ddx(worker *w)
{
    ddx_index_thread t;
    ddx_index_register(w->ix, &t);
    pthread_barrier_wait(w->start);
    for (size_t b = 0; b < w->n && !w->err; b += BATCH) {
        size_t end = w->n - b < BATCH ? w->n : b + BATCH;
        ddx_index_enter(w->ix, &t);
        for (size_t k = b; k < end; k++) {
            uint64_t ex = 0;
            int r;
            while ((r = ddx_index_insert(w->ix, w->fps + k * FS, w->first + k, &ex)) == DDX_EFULL) {
                ddx_index_leave(w->ix, &t);
                int g = ddx_index_grow(w->ix);
                ddx_index_enter(w->ix, &t);
                if (g) {
                    r = g;
                    break;
                }
            }
            if (r == 1) {
                w->added++;
                w->sink ^= w->first + k;
            } else if (r == 0) {
                w->sink ^= ex;
            } else {
                w->err = r;
                break;
            }
        }
        ddx_index_leave(w->ix, &t);
        if (ddx_index_wants_grow(w->ix)) {
            int g = ddx_index_grow(w->ix);
            if (g && !w->err)
                w->err = g;
        }
    }
    ddx_index_unregister(w->ix, &t);
}

static void run_ckhs(worker *w)
{
    pthread_barrier_wait(w->start);
    ck_key *next = w->arena;
    for (size_t k = 0; k < w->n; k++) {
        /* The candidate doubles as the lookup key; it is kept only if put. */
        memcpy(next->fp, w->fps + k * FS, FS);
        next->value = w->first + k;
        unsigned long h = CK_HS_HASH(w->hs, ck_key_hash, next);
        const ck_key *e = ck_hs_get(w->hs, h, next);
        if (!e) {
            ck_spinlock_fas_lock(w->lock);
            if (ck_hs_put(w->hs, h, next)) {
                e = next++;
                w->added++;
            } else {
                /* Another thread put it between our get and the lock. */
                e = ck_hs_get(w->hs, h, next);
            }
            ck_spinlock_fas_unlock(w->lock);
            if (!e) {
                w->err = DDX_ENOMEM;
                return;
            }
        }
        w->sink ^= e->value;
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    if (w->impl == IMPL_DDX)
        run_ddx(w);
    else
        run_ckhs(w);
    return NULL;
}

static result run_once(int impl, const stream *s, int nthreads)
{
    result res = {0};
    ddx_index *ix = NULL;
    ck_hs_t hs;
    ck_spinlock_fas_t lock = CK_SPINLOCK_FAS_INITIALIZER;
    if (impl == IMPL_DDX) {
        if (ddx_index_create(&ix, FS, 0))
            die("ddx_index_create failed");
    } else {
        ck_live_bytes = 0;
        if (!ck_hs_init(&hs, CK_HS_MODE_OBJECT | CK_HS_MODE_SPMC, ck_key_hash, ck_key_equal,
                        &ck_allocator, 1024, 0x9e3779b97f4a7c15ul))
            die("ck_hs_init failed");
    }

    pthread_barrier_t start;
    if (pthread_barrier_init(&start, NULL, (unsigned)nthreads + 1))
        die("pthread_barrier_init failed");
    worker w[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    for (int i = 0; i < nthreads; i++) {
        size_t lo = s->n * (size_t)i / (size_t)nthreads;
        size_t hi = s->n * (size_t)(i + 1) / (size_t)nthreads;
        w[i] = (worker){.impl = impl,
                        .fps = s->fps + lo * FS,
                        .n = hi - lo,
                        .first = lo,
                        .start = &start,
                        .ix = ix,
                        .hs = &hs,
                        .lock = &lock};
        if (impl == IMPL_CKHS)
            w[i].arena = tu_xmalloc((hi - lo) * sizeof(ck_key));
        if (pthread_create(&th[i], NULL, worker_main, &w[i]))
            die("pthread_create failed");
    }
    /* ddx threads register before the barrier: registration is not timed. */
    pthread_barrier_wait(&start);
    double t0 = now_s();
    for (int i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    double t1 = now_s();
    pthread_barrier_destroy(&start);

    uint64_t added = 0;
    for (int i = 0; i < nthreads; i++) {
        if (w[i].err) {
            fprintf(stderr, "tool_index_bench: %s: %s\n", impl_name[impl], ddx_strerror(w[i].err));
            exit(1);
        }
        added += w[i].added;
    }
    res.mops = (double)s->n / (t1 - t0) / 1e6;
    if (impl == IMPL_DDX) {
        res.entries = ddx_index_entries(ix);
        res.table_bytes = ddx_index_bytes(ix);
        ddx_index_destroy(ix);
    } else {
        res.entries = ck_hs_count(&hs);
        res.table_bytes = ck_live_bytes;
        res.key_bytes = res.entries * sizeof(ck_key);
        ck_hs_destroy(&hs);
        ck_free_deferred();
        for (int i = 0; i < nthreads; i++)
            free(w[i].arena);
    }
    if (res.entries != s->unique || added != s->unique) {
        fprintf(stderr,
                "tool_index_bench: %s, %d threads: %" PRIu64 " entries and %" PRIu64
                " inserts for %" PRIu64 " distinct fingerprints\n",
                impl_name[impl], nthreads, res.entries, added, s->unique);
        exit(1);
    }
    return res;
}

/* ---- reporting ----------------------------------------------------------- */

typedef struct config {
    int impl, wl, threads;
    uint64_t ops;
    result runs[RUNS];
    double median, min, max;
} config;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void summarize(config *c)
{
    double v[RUNS];
    for (int r = 0; r < RUNS; r++)
        v[r] = c->runs[r].mops;
    qsort(v, RUNS, sizeof v[0], cmp_double);
    c->median = v[RUNS / 2];
    c->min = v[0];
    c->max = v[RUNS - 1];
}

/* Bytes per entry of the last run: the table size is the same in every run
 * (it depends only on the entry count and the growth policy). */
static double per_entry(const config *c)
{
    const result *r = &c->runs[RUNS - 1];
    return (double)(r->table_bytes + r->key_bytes) / (double)r->entries;
}

static char g_command[1024];

static int write_json(const char *path, const config *cs, int nc, uint64_t entries)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "tool_index_bench: %s: %s\n", path, strerror(errno));
        return 1;
    }
    fprintf(f,
            "{\n  \"tool\": \"tool_index_bench\",\n  \"command\": \"%s\",\n"
            "  \"fp_size\": %d,\n  \"entries\": %" PRIu64
            ",\n  \"runs\": %d,\n  \"seed\": \"0x%" PRIx64 "\",\n  \"results\": [\n",
            g_command, FS, entries, RUNS, tu_seed());
    for (int i = 0; i < nc; i++) {
        const config *c = &cs[i];
        const result *r = &c->runs[RUNS - 1];
        fprintf(f,
                "    {\"impl\": \"%s\", \"workload\": \"%s\", \"threads\": %d, \"ops\": %" PRIu64
                ", \"entries\": %" PRIu64 ", \"mops_median\": %.3f, \"mops_min\": %.3f, "
                "\"mops_max\": %.3f, \"mops_runs\": [",
                impl_name[c->impl], wl_name[c->wl], c->threads, c->ops, r->entries, c->median,
                c->min, c->max);
        for (int k = 0; k < RUNS; k++)
            fprintf(f, "%s%.3f", k ? ", " : "", c->runs[k].mops);
        fprintf(f,
                "], \"table_bytes\": %" PRIu64 ", \"key_bytes\": %" PRIu64
                ", \"bytes_per_entry\": %.2f}%s\n",
                r->table_bytes, r->key_bytes, per_entry(c), i + 1 < nc ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    if (fclose(f)) {
        fprintf(stderr, "tool_index_bench: %s: %s\n", path, strerror(errno));
        return 1;
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: tool_index_bench [--entries N] [--json FILE]\n");
}

int main(int argc, char **argv)
{
    uint64_t entries = 4000000;
    const char *json = NULL;
    size_t cl = 0;
    for (int i = 0; i < argc && cl < sizeof g_command - 1; i++)
        cl += (size_t)snprintf(g_command + cl, sizeof g_command - cl, "%s%s", i ? " " : "",
                               i ? argv[i] : "build/tests/tool_index_bench");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--entries") && i + 1 < argc) {
            char *end;
            errno = 0;
            entries = strtoull(argv[++i], &end, 0);
            /* >= 2 so dup50 has an entry; < 2^32 for its uint32_t shuffle */
            if (errno || *end || entries < 2 || entries >= (1ull << 32)) {
                fprintf(stderr, "tool_index_bench: --entries wants 2 .. 2^32-1\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "--json") && i + 1 < argc) {
            json = argv[++i];
        } else {
            usage();
            return !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h") ? 0 : 2;
        }
    }

    stream streams[NWL];
    make_unique(&streams[WL_UNIQUE], (size_t)entries);
    make_dup50(&streams[WL_DUP50], (size_t)entries);

    config cs[NWL * MAX_THREADS * NIMPL];
    int nc = 0;
    for (int wl = 0; wl < NWL; wl++)
        for (int t = 1; t <= MAX_THREADS; t++) {
            config *c = &cs[nc];
            for (int impl = 0; impl < NIMPL; impl++)
                c[impl] = (config){.impl = impl, .wl = wl, .threads = t, .ops = streams[wl].n};
            /* One unreported run each first: the first runs of a process pay
             * for the kernel's first zeroing of the pages that later runs
             * reuse. Then alternate the implementations run by run, so that
             * drift in the machine (frequency, neighbours) lands on both. */
            for (int impl = 0; impl < NIMPL; impl++)
                (void)run_once(impl, &streams[wl], t);
            for (int r = 0; r < RUNS; r++)
                for (int impl = 0; impl < NIMPL; impl++)
                    c[impl].runs[r] = run_once(impl, &streams[wl], t);
            for (int impl = 0; impl < NIMPL; impl++)
                summarize(&c[impl]);
            nc += NIMPL;
        }

    printf("fingerprint index: insert-or-lookup, %d-byte fps, %" PRIu64
           " ops per stream, median of %d runs\n",
           FS, entries, RUNS);
    printf("%-10s %-7s %7s %9s %9s %9s %9s %8s\n", "impl", "stream", "threads", "entries", "Mops/s",
           "min", "max", "B/entry");
    for (int i = 0; i < nc; i++) {
        const config *c = &cs[i];
        printf("%-10s %-7s %7d %9" PRIu64 " %9.2f %9.2f %9.2f %8.1f\n", impl_name[c->impl],
               wl_name[c->wl], c->threads, c->runs[RUNS - 1].entries, c->median, c->min, c->max,
               per_entry(c));
    }

    for (int wl = 0; wl < NWL; wl++)
        free(streams[wl].fps);
    return json ? write_json(json, cs, nc, entries) : 0;
}
