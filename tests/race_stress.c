/*
 * race_stress.c - the concurrent parts of ddx under load, written to run
 * under ThreadSanitizer (make SAN=thread builds build/tsan/tests/race_stress;
 * every build has it, and tests/run_all.sh runs it in each).
 *
 * Criterion cannot run under TSan (it cannot set up its shared arena at the
 * address TSan reserves for shadow memory), so this is a plain program. Each
 * scenario checks its own results, so it is a test in every build; under
 * TSan, a report of a data race, a lock-order inversion or a misuse of a
 * lock also makes the process exit non-zero (TSan's exitcode, 66).
 *
 *   index     threads insert overlapping fingerprints into the lock-free
 *             index from its smallest table, so it doubles while they run:
 *             one winner per fingerprint, every thread sees its value.
 *   pipeline  the engine with more workers than cores, small batches and
 *             random feed sizes (many ring hand-overs and stitches) against
 *             a sequential chunk-and-hash of the same bytes, dedup on and off;
 *             then through the GPU driver (its feeder thread and streams):
 *             OpenCL (PoCL on the CPU), and CUDA where a device is present
 *             (the sanitizer builds' CUDA emulation is one).
 *   store     a writer puts versions while reader threads, each with its own
 *             read-only handle, list and restore the latest versions.
 *
 * The last line is "race_stress: N passed, N failed".
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "chunk_impl.h"
#include "chunk_list.h"
#include "ddx.h"
#include "hash_impl.h"
#include "index.h"
#include "testutil.h"

static int passed, failed;

/* Record a failed check (with its message) and return 0, else return 1. */
__attribute__((format(printf, 2, 3))) static int check(int ok, const char *fmt, ...)
{
    if (ok)
        return 1;
    va_list ap;
    va_start(ap, fmt);
    fputs("  ", stdout);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    return 0;
}

static void report(const char *name, int ok)
{
    printf("%s %s\n", ok ? "PASS" : "FAIL", name);
    fflush(stdout);
    ok ? passed++ : failed++;
}

/* ---- index ------------------------------------------------------------------ */

#define IX_THREADS 4
#define IX_FPS 40000
#define IX_FS 20

typedef struct ix_job {
    ddx_index *ix;
    const uint8_t *fps;
    uint32_t *order; /* this thread's insertion order */
    uint64_t *seen;  /* per fingerprint: the value it got back (its own if new) */
    uint8_t *won;    /* per fingerprint: 1 if this thread inserted it */
    unsigned id;
    int err;
} ix_job;

static void *ix_worker(void *arg)
{
    ix_job *j = arg;
    ddx_index_thread t;
    ddx_index_register(j->ix, &t);
    ddx_index_enter(j->ix, &t);
    for (uint32_t k = 0; k < IX_FPS && !j->err; k++) {
        uint32_t f = j->order[k];
        uint64_t mine = ((uint64_t)j->id << 32) | f, existing = 0;
        int r;
        while ((r = ddx_index_insert(j->ix, j->fps + (size_t)f * IX_FS, mine, &existing)) ==
               DDX_EFULL) {
            ddx_index_leave(j->ix, &t);
            j->err = ddx_index_grow(j->ix);
            ddx_index_enter(j->ix, &t);
        }
        if (r < 0)
            j->err = r;
        j->won[f] = r == 1;
        j->seen[f] = r == 1 ? mine : existing;
        if (ddx_index_wants_grow(j->ix)) { /* as the pipeline does: grow early, not on EFULL */
            ddx_index_leave(j->ix, &t);
            int g = ddx_index_grow(j->ix);
            if (g)
                j->err = g;
            ddx_index_enter(j->ix, &t);
        }
    }
    ddx_index_leave(j->ix, &t);
    ddx_index_unregister(j->ix, &t);
    return NULL;
}

static void scenario_index(void)
{
    uint8_t *fps = tu_xmalloc((size_t)IX_FPS * IX_FS);
    tu_fill_random(fps, (size_t)IX_FPS * IX_FS, tu_seed() + 1);
    ddx_index *ix;
    int ok = check(ddx_index_create(&ix, IX_FS, 0) == 0, "index: create failed");
    uint64_t cap0 = ok ? ddx_index_capacity(ix) : 0;
    ix_job j[IX_THREADS];
    pthread_t th[IX_THREADS];
    uint64_t s = tu_seed() + 2;
    for (unsigned i = 0; ok && i < IX_THREADS; i++) {
        j[i] = (ix_job){ix,
                        fps,
                        tu_xmalloc(IX_FPS * sizeof(uint32_t)),
                        tu_xmalloc(IX_FPS * sizeof(uint64_t)),
                        tu_xmalloc(IX_FPS),
                        i,
                        0};
        for (uint32_t k = 0; k < IX_FPS; k++)
            j[i].order[k] = k;
        for (uint32_t k = IX_FPS - 1; k > 0; k--) { /* each thread its own order */
            uint32_t r = (uint32_t)(tu_splitmix(&s) % (k + 1)), tmp = j[i].order[k];
            j[i].order[k] = j[i].order[r];
            j[i].order[r] = tmp;
        }
    }
    for (unsigned i = 0; ok && i < IX_THREADS; i++)
        ok = check(pthread_create(&th[i], NULL, ix_worker, &j[i]) == 0, "index: thread");
    for (unsigned i = 0; i < IX_THREADS && cap0; i++) {
        pthread_join(th[i], NULL);
        ok &= check(!j[i].err, "index: thread %u: %s", i, ddx_strerror(j[i].err));
    }
    if (ok) {
        ok &= check(ddx_index_entries(ix) == IX_FPS, "index: %llu entries for %d fingerprints",
                    (unsigned long long)ddx_index_entries(ix), IX_FPS);
        ok &= check(ddx_index_capacity(ix) > cap0, "index: never grew");
        ddx_index_thread t;
        ddx_index_register(ix, &t);
        ddx_index_enter(ix, &t);
        for (uint32_t f = 0; ok && f < IX_FPS; f++) {
            unsigned wins = 0;
            uint64_t v = 0;
            for (unsigned i = 0; i < IX_THREADS; i++)
                wins += j[i].won[f];
            ok &= check(wins == 1, "index: fingerprint %u inserted as new %u times", f, wins);
            ok &= check(ddx_index_lookup(ix, fps + (size_t)f * IX_FS, &v) == 1,
                        "index: fingerprint %u lost", f);
            for (unsigned i = 0; ok && i < IX_THREADS; i++)
                ok &= check(j[i].seen[f] == v,
                            "index: fingerprint %u: thread %u saw %#llx, "
                            "the index holds %#llx",
                            f, i, (unsigned long long)j[i].seen[f], (unsigned long long)v);
        }
        ddx_index_leave(ix, &t);
        ddx_index_unregister(ix, &t);
    }
    for (unsigned i = 0; i < IX_THREADS && cap0; i++)
        free(j[i].order), free(j[i].seen), free(j[i].won);
    if (cap0)
        ddx_index_destroy(ix);
    free(fps);
    report("index: concurrent inserts of overlapping fingerprints while the table doubles", ok);
}

/* ---- pipeline --------------------------------------------------------------- */

/* This file's names for the shared chunk list (chunk_list.h). */
typedef tu_chunks chunk_list;
#define collect tu_chunks_add
#define by_position tu_chunks_by_position

/* The engine over the streams on backend be; 0 on success, the chunk list
 * sorted. */
static int run_engine(ddx_backend_kind be, const uint8_t *const *p, const size_t *n, size_t ns,
                      int dedup, chunk_list *out, ddx_stats *st)
{
    ddx_engine *e;
    int rc = ddx_engine_create(&e);
    if (rc)
        return rc;
    out->n = 0;
    if (!(rc = ddx_engine_set_chunker(e, DDX_CHUNKER_FASTCDC, 2048, 8192, 65536)) &&
        !(rc = ddx_engine_set_hash(e, DDX_HASH_SHA256)) && !(rc = ddx_engine_set_threads(e, 4)) &&
        !(rc = ddx_engine_set_batch_size(e, be == DDX_BACKEND_CPU ? 64 << 10 : 256 << 10)) &&
        !(rc = ddx_engine_set_backend(e, be, 0)) && !(rc = ddx_engine_set_pinning(e, 0)) &&
        !(rc = ddx_engine_set_dedup(e, dedup)) &&
        !(rc = ddx_engine_set_chunk_callback(e, collect, out)) && !(rc = ddx_engine_open(e))) {
        uint64_t s = tu_seed() + 3;
        for (size_t i = 0; i < ns && !rc; i++) {
            rc = ddx_engine_stream_begin(e);
            for (size_t off = 0; off < n[i] && !rc;) {
                size_t take = 1 + tu_splitmix(&s) % 200000;
                take = take < n[i] - off ? take : n[i] - off;
                rc = ddx_engine_feed(e, p[i] + off, take);
                off += take;
            }
            if (!rc)
                rc = ddx_engine_stream_end(e);
        }
        if (!rc)
            rc = ddx_engine_finish(e);
        if (!rc)
            rc = ddx_engine_get_stats(e, st);
    }
    ddx_engine_close(e);
    qsort(out->v, out->n, sizeof *out->v, by_position);
    return rc;
}

/* Run the engine on backend be over the two streams and compare with ref. */
static int same_as_reference(ddx_backend_kind be, const uint8_t *const *p, const size_t *len,
                             int dedup, const chunk_list *ref)
{
    chunk_list got = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0};
    ddx_stats st;
    const char *bn = ddx_backend_name(be);
    int rc = run_engine(be, p, len, 2, dedup, &got, &st);
    int ok = check(!rc, "%s (dedup %d): %s", bn, dedup, ddx_strerror(rc));
    ok &= check(got.n == ref->n, "%s (dedup %d): %zu chunks, reference %zu", bn, dedup, got.n,
                ref->n);
    size_t fresh = 0;
    for (size_t i = 0; ok && i < got.n; i++) {
        const ddx_chunk *x = &got.v[i], *y = &ref->v[i];
        ok &= check(x->stream == y->stream && x->offset == y->offset && x->length == y->length &&
                        !memcmp(x->fp, y->fp, 32),
                    "%s (dedup %d): chunk %zu differs from the reference", bn, dedup, i);
        fresh += x->is_new;
    }
    if (ok && dedup)
        ok &= check(fresh == st.unique_chunks && fresh < got.n,
                    "%s: %zu chunks reported new, %llu unique, %zu in all", bn, fresh,
                    (unsigned long long)st.unique_chunks, got.n);
    if (ok && !dedup)
        ok &= check(fresh == got.n, "%s (dedup off): %zu of %zu new", bn, fresh, got.n);
    free(got.v);
    return ok;
}

static void scenario_pipeline(void)
{
    size_t n = 3u << 20;
    uint8_t *a = tu_xmalloc(n);
    tu_fill(a, n / 3, TU_RANDOM, tu_seed() + 4);
    tu_fill(a + n / 3, n / 3, TU_TEXT, tu_seed() + 5);
    memcpy(a + 2 * (n / 3), a, n - 2 * (n / 3)); /* a repeat: duplicates within a stream */
    const uint8_t *p[] = {a, a + n / 4};
    size_t len[] = {n, n / 2};

    /* the reference: find() from each stream start, hash each chunk */
    ddx_chunk_cfg cc;
    ddx_hasher h;
    chunk_list ref = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0};
    int ok =
        check(ddx_chunk_cfg_init(&cc, DDX_CHUNKER_FASTCDC, 2048, 8192, 65536, 1, 0, NULL) == 0 &&
                  ddx_hasher_init(&h, DDX_HASH_SHA256) == 0,
              "pipeline: reference setup");
    for (size_t i = 0; ok && i < 2; i++)
        for (size_t off = 0; off < len[i];) {
            size_t l = cc.find(&cc, p[i] + off, len[i] - off, 1);
            ddx_chunk c = {i, off, (uint32_t)l, 0, {0}};
            ok &= check(ddx_hash(&h, p[i] + off, l, c.fp) == 0, "pipeline: reference hash");
            collect(&ref, &c);
            off += l;
        }
    if (ok)
        ddx_hasher_free(&h);
    for (int dedup = 1; dedup >= 0 && ok; dedup--)
        ok &= same_as_reference(DDX_BACKEND_CPU, p, len, dedup, &ref);
    report("pipeline: 4 workers, 64 KiB batches, random feeds == sequential reference", ok);
    for (int b = DDX_BACKEND_CUDA; b <= DDX_BACKEND_OPENCL && ok; b++) {
        char why[256], name[96];
        snprintf(name, sizeof name,
                 "pipeline: the %s driver, 256 KiB batches == sequential reference",
                 ddx_backend_name((ddx_backend_kind)b));
        if (ddx_backend_probe((ddx_backend_kind)b, 0, why, sizeof why) <= 0) {
            /* CUDA needs a device or the emulation; PoCL comes with make deps */
            if (b == DDX_BACKEND_OPENCL)
                report(name, check(0, "no OpenCL device: %s", why));
            else
                printf("SKIP %s (%s)\n", name, why);
            continue;
        }
        report(name, same_as_reference((ddx_backend_kind)b, p, len, 1, &ref));
    }
    free(ref.v);
    free(a);
}

/* ---- store ------------------------------------------------------------------ */

#define ST_VERSIONS 6
#define ST_READERS 2
#define ST_SIZE ((size_t)768 << 10)

/* Version k (1-based) of the stored stream: a shared base with k edits. */
static uint8_t *version(unsigned k)
{
    uint8_t *v = tu_xmalloc(ST_SIZE);
    tu_fill(v, ST_SIZE, TU_RANDOM, tu_seed() + 6);
    uint64_t s = tu_seed() + k;
    for (unsigned i = 0; i < k; i++)
        v[tu_splitmix(&s) % ST_SIZE] ^= 0x5a;
    return v;
}

typedef struct st_job {
    const char *dir;
    atomic_int *writer_done;
    int rounds, restores;
    char err[256];
} st_job;

/* Restore name@n through a memfd and compare it with version n. */
static int restore_matches(ddx_store *s, uint32_t n, char *err, size_t el)
{
    int fd = memfd_create("race-restore", 0);
    if (fd < 0)
        return snprintf(err, el, "memfd_create: %s", strerror(errno)), 0;
    int rc = ddx_store_get(s, "v", n, fd), ok = 0;
    uint8_t *want = version(n), *got = tu_xmalloc(ST_SIZE);
    if (rc)
        snprintf(err, el, "get v@%u: %s (%s)", n, ddx_strerror(rc), ddx_store_errmsg(s));
    else if (lseek(fd, 0, SEEK_END) != (off_t)ST_SIZE ||
             pread(fd, got, ST_SIZE, 0) != (ssize_t)ST_SIZE)
        snprintf(err, el, "v@%u: restored %lld bytes", n, (long long)lseek(fd, 0, SEEK_END));
    else if (memcmp(got, want, ST_SIZE))
        snprintf(err, el, "v@%u: restored bytes differ", n);
    else
        ok = 1;
    free(want), free(got);
    close(fd);
    return ok;
}

static void *st_reader(void *arg)
{
    st_job *j = arg;
    for (int last = 0; !j->err[0] && !last;) {
        last = atomic_load(j->writer_done);
        ddx_store *s;
        char why[256];
        int rc = ddx_store_open(&s, j->dir, DDX_STORE_READ, why, sizeof why);
        if (rc) {
            snprintf(j->err, sizeof j->err, "open: %.200s", why);
            break;
        }
        ddx_version_info vi;
        size_t nv = 0;
        while (ddx_store_version(s, nv, &vi) == 0)
            nv++;
        for (size_t k = nv > 2 ? nv - 2 : 0; k < nv && !j->err[0]; k++) {
            if (ddx_store_version(s, k, &vi) == 0 &&
                restore_matches(s, vi.number, j->err, sizeof j->err))
                j->restores++;
        }
        ddx_store_close(s);
        j->rounds++;
    }
    return NULL;
}

static void scenario_store(void)
{
    char *tmp = tu_mktmp("race-store"), *dir = tu_join(tmp, "s");
    char why[256];
    int ok = check(ddx_store_init(dir, NULL, why, sizeof why) == 0, "store: init: %s", why);
    ddx_store *w = NULL;
    if (ok)
        ok = check(ddx_store_open(&w, dir, DDX_STORE_WRITE, why, sizeof why) == 0,
                   "store: open: %s", why);
    atomic_int writer_done = 0;
    st_job j[ST_READERS];
    pthread_t th[ST_READERS];
    unsigned started = 0;
    uint8_t *v1 = ok ? version(1) : NULL;
    if (ok) /* one version first, so readers always find something to restore */
        ok = check(ddx_store_put_mem(w, "v", v1, ST_SIZE, NULL) == 0, "store: put 1: %s",
                   ddx_store_errmsg(w));
    free(v1);
    for (unsigned i = 0; ok && i < ST_READERS; i++) {
        j[i] = (st_job){dir, &writer_done, 0, 0, {0}};
        ok = check(pthread_create(&th[i], NULL, st_reader, &j[i]) == 0, "store: thread");
        started += ok;
    }
    for (unsigned k = 2; ok && k <= ST_VERSIONS; k++) {
        uint8_t *v = version(k);
        ok = check(ddx_store_put_mem(w, "v", v, ST_SIZE, NULL) == 0, "store: put %u: %s", k,
                   ddx_store_errmsg(w));
        free(v);
    }
    atomic_store(&writer_done, 1);
    for (unsigned i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        ok &= check(!j[i].err[0], "store: reader %u: %s", i, j[i].err);
        ok &= check(j[i].restores > 0, "store: reader %u restored nothing", i);
    }
    if (ok && w) {
        for (unsigned k = 1; ok && k <= ST_VERSIONS; k++)
            ok = check(restore_matches(w, k, why, sizeof why), "store: %s", why);
    }
    ddx_store_close(w);
    tu_rmrf(tmp);
    free(tmp), free(dir);
    report("store: readers restoring while a writer puts", ok);
}

int main(void)
{
    scenario_index();
    scenario_pipeline();
    scenario_store();
    printf("race_stress: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
