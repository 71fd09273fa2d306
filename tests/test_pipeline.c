/*
 * test_pipeline.c - the engine end to end, through the public API only
 * (plus the internal chunker and hasher as the sequential reference).
 *
 * The chunk list of the parallel pipeline (any threads, any batch size, any
 * feed sizes) must equal the list a plain sequential loop produces: find()
 * from the stream start, hash each chunk. Dedup ratios of constructed inputs
 * must be exactly the expected values.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include "chunk_impl.h"
#include "chunk_list.h"
#include "ddx.h"
#include "hash_impl.h"
#include "testutil.h"

/* This file's names for the shared chunk list (chunk_list.h). */
typedef tu_chunks list;
#define collect tu_chunks_add
#define chunk_cmp tu_chunks_by_position

typedef struct stream_in {
    const uint8_t *p;
    size_t n;
} stream_in;

typedef struct run_cfg {
    ddx_chunker_kind kind;
    uint32_t min, avg, max;
    ddx_hash_kind hash;
    unsigned threads;
    size_t batch;
    int random_feeds; /* feed in random pieces of 1..100000 bytes */
} run_cfg;

/* Run the engine over streams s[0, ns), with ddx_engine_set_dedup(dedup). */
static void run_engine_dedup(const run_cfg *rc, const stream_in *s, size_t ns, list *out,
                             ddx_stats *st, int dedup)
{
    ddx_engine *e;
    cr_assert_eq(ddx_engine_create(&e), 0);
    cr_assert_eq(ddx_engine_set_chunker(e, rc->kind, rc->min, rc->avg, rc->max), 0);
    cr_assert_eq(ddx_engine_set_hash(e, rc->hash), 0);
    cr_assert_eq(ddx_engine_set_threads(e, rc->threads), 0);
    if (rc->batch)
        cr_assert_eq(ddx_engine_set_batch_size(e, rc->batch), 0);
    cr_assert_eq(ddx_engine_set_pinning(e, 0), 0);
    cr_assert_eq(ddx_engine_set_dedup(e, dedup), 0);
    pthread_mutex_init(&out->mu, NULL);
    out->n = 0;
    cr_assert_eq(ddx_engine_set_chunk_callback(e, collect, out), 0);
    cr_assert_eq(ddx_engine_open(e), 0);
    uint64_t seed = tu_seed();
    for (size_t i = 0; i < ns; i++) {
        cr_assert_eq(ddx_engine_stream_begin(e), 0);
        size_t pos = 0;
        while (pos < s[i].n) {
            size_t take = rc->random_feeds ? 1 + tu_splitmix(&seed) % 100000 : s[i].n - pos;
            if (take > s[i].n - pos)
                take = s[i].n - pos;
            cr_assert_eq(ddx_engine_feed(e, s[i].p + pos, take), 0);
            pos += take;
        }
        cr_assert_eq(ddx_engine_stream_end(e), 0);
    }
    cr_assert_eq(ddx_engine_finish(e), 0);
    cr_assert_eq(ddx_engine_get_stats(e, st), 0);
    ddx_engine_close(e);
    qsort(out->v, out->n, sizeof *out->v, chunk_cmp);
}

static void run_engine(const run_cfg *rc, const stream_in *s, size_t ns, list *out, ddx_stats *st)
{
    run_engine_dedup(rc, s, ns, out, st, 1);
}

/* The sequential reference: find() from each stream start, hash each chunk. */
static void reference(const run_cfg *rc, const stream_in *s, size_t ns, list *out)
{
    ddx_chunk_cfg c;
    cr_assert_eq(ddx_chunk_cfg_init(&c, rc->kind, rc->min, rc->avg, rc->max, 1, 0, NULL), 0);
    ddx_hasher h;
    cr_assert_eq(ddx_hasher_init(&h, rc->hash), 0);
    out->n = 0;
    for (size_t i = 0; i < ns; i++) {
        size_t pos = 0;
        while (pos < s[i].n) {
            size_t l = c.find(&c, s[i].p + pos, s[i].n - pos, 1);
            ddx_chunk ch = {i, pos, (uint32_t)l, 0, {0}};
            cr_assert_eq(ddx_hash(&h, s[i].p + pos, l, ch.fp), 0);
            collect(out, &ch);
            pos += l;
        }
    }
    ddx_hasher_free(&h);
}

static void assert_same_chunks(const list *a, const list *ref, size_t fps, const char *what)
{
    cr_assert_eq(a->n, ref->n, "%s: %zu chunks, reference %zu", what, a->n, ref->n);
    for (size_t i = 0; i < a->n; i++) {
        const ddx_chunk *x = &a->v[i], *y = &ref->v[i];
        cr_assert(x->stream == y->stream && x->offset == y->offset && x->length == y->length,
                  "%s: chunk %zu is (%llu, %llu, %u), reference (%llu, %llu, %u)", what, i,
                  (unsigned long long)x->stream, (unsigned long long)x->offset, x->length,
                  (unsigned long long)y->stream, (unsigned long long)y->offset, y->length);
        cr_assert_eq(memcmp(x->fp, y->fp, fps), 0, "%s: chunk %zu fingerprint differs", what, i);
    }
}

/* A mix that exercises resynchronisation: random, text, long zero runs (no
 * cut points: the stitcher has to chunk them itself), and repeats. */
static uint8_t *make_mixed(size_t n, uint64_t seed)
{
    uint8_t *p = malloc(n);
    size_t q = n / 8;
    tu_fill(p, q, TU_RANDOM, seed);
    tu_fill(p + q, q, TU_TEXT, seed + 1);
    tu_fill(p + 2 * q, 2 * q, TU_ZERO, 0);
    tu_fill(p + 4 * q, q, TU_RANDOM, seed + 2);
    memcpy(p + 5 * q, p, q); /* a repeat */
    tu_fill(p + 6 * q, n - 6 * q, TU_REAL, seed + 3);
    return p;
}

Test(pipeline, equals_sequential_reference_any_threads_batches_feeds)
{
    size_t n = 3 * 1024 * 1024 + 12345;
    uint8_t *a = make_mixed(n, tu_seed());
    uint8_t *b = malloc(n / 3);
    tu_fill(b, n / 3, TU_RANDOM, tu_seed() + 99);
    stream_in s[] = {{a, n}, {b, n / 3}, {a, 0}, {a + 7, n - 7}, {b, 100}};
    size_t ns = sizeof s / sizeof s[0];
    static const run_cfg base[] = {
        {DDX_CHUNKER_FASTCDC, 2048, 8192, 65536, DDX_HASH_SHA256, 0, 0, 0},
        {DDX_CHUNKER_FASTCDC, 512, 2048, 8192, DDX_HASH_SHA1, 0, 0, 0},
        {DDX_CHUNKER_RABIN, 1024, 4096, 16384, DDX_HASH_SHA256, 0, 0, 0},
        {DDX_CHUNKER_TTTD, 1024, 4096, 16384, DDX_HASH_SHA1, 0, 0, 0},
        {DDX_CHUNKER_FIXED, 0, 4096, 0, DDX_HASH_SHA256, 0, 0, 0},
        {DDX_CHUNKER_FIXED, 0, 3000, 0, DDX_HASH_SHA256, 0, 0, 0},
    };
    static const unsigned threads[] = {1, 2, 3};
    static const size_t batches[] = {0 /* default */, 4096 /* raised to 2*max */, 100000};
    list got = {0}, ref = {0};
    pthread_mutex_init(&ref.mu, NULL);
    for (size_t c = 0; c < sizeof base / sizeof base[0]; c++) {
        reference(&base[c], s, ns, &ref);
        qsort(ref.v, ref.n, sizeof *ref.v, chunk_cmp);
        for (size_t t = 0; t < 3; t++)
            for (size_t bi = 0; bi < 3; bi++) {
                run_cfg rc = base[c];
                rc.threads = threads[t];
                rc.batch = batches[bi];
                rc.random_feeds = (t + bi) % 2;
                ddx_stats st;
                run_engine(&rc, s, ns, &got, &st);
                char what[128];
                snprintf(what, sizeof what, "%s/%s threads %u batch %zu feeds %s",
                         ddx_chunker_name(rc.kind), ddx_hash_name(rc.hash), rc.threads, rc.batch,
                         rc.random_feeds ? "random" : "whole");
                assert_same_chunks(&got, &ref, ddx_hash_size(rc.hash), what);
                cr_assert_eq(st.chunks, ref.n, "%s", what);
                cr_assert_eq(st.logical_bytes, n + n / 3 + n - 7 + 100, "%s", what);
                cr_assert_eq(st.streams, ns);
            }
    }
    free(got.v);
    free(ref.v);
    free(a);
    free(b);
}

Test(pipeline, one_thread_equals_n_threads_unique_bytes)
{
    size_t n = 4 * 1024 * 1024;
    uint8_t *a = make_mixed(n, tu_seed() + 5);
    stream_in s[] = {{a, n}, {a, n / 2}, {a + n / 4, n / 2}};
    list got = {0};
    ddx_stats st1, stn;
    run_cfg rc = {DDX_CHUNKER_FASTCDC, 2048, 8192, 65536, DDX_HASH_SHA256, 1, 0, 0};
    run_engine(&rc, s, 3, &got, &st1);
    for (unsigned t = 2; t <= 4; t++) {
        rc.threads = t;
        run_engine(&rc, s, 3, &got, &stn);
        cr_assert_eq(st1.chunks, stn.chunks);
        cr_assert_eq(st1.unique_chunks, stn.unique_chunks);
        cr_assert_eq(st1.unique_bytes, stn.unique_bytes, "%u threads: %llu vs %llu", t,
                     (unsigned long long)stn.unique_bytes, (unsigned long long)st1.unique_bytes);
        cr_assert_eq(st1.index_entries, stn.index_entries);
        cr_assert_eq(st1.chunk_min, stn.chunk_min);
        cr_assert_eq(st1.chunk_max, stn.chunk_max);
        cr_assert_float_eq(st1.chunk_stddev, stn.chunk_stddev, 1e-9);
    }
    free(got.v);
    free(a);
}

Test(pipeline, exact_dedup_ratio_of_constructed_input)
{
    /* streams X, X, Y, X of random data: unique = |X| + |Y| exactly (chunks of
     * a stream depend only on its bytes; random data has no internal repeats) */
    size_t nx = 2 * 1024 * 1024 + 333, ny = 1024 * 1024;
    uint8_t *x = malloc(nx), *y = malloc(ny);
    tu_fill(x, nx, TU_RANDOM, tu_seed() + 1);
    tu_fill(y, ny, TU_RANDOM, tu_seed() + 2);
    stream_in s[] = {{x, nx}, {x, nx}, {y, ny}, {x, nx}};
    list got = {0};
    for (int k = 0; k < 4; k++) {
        run_cfg rc = {(ddx_chunker_kind)k, 2048, 8192, 65536, DDX_HASH_SHA256, 2, 0, 1};
        ddx_stats st;
        run_engine(&rc, s, 4, &got, &st);
        cr_assert_eq(st.logical_bytes, 3 * nx + ny);
        cr_assert_eq(st.unique_bytes, nx + ny, "%s: unique %llu, expected %zu",
                     ddx_chunker_name(rc.kind), (unsigned long long)st.unique_bytes, nx + ny);
        cr_assert_float_eq(st.dedup_ratio, (double)(3 * nx + ny) / (double)(nx + ny), 1e-12);
        cr_assert_eq(st.index_entries, st.unique_chunks);
    }
    /* fixed 4 KiB blocks of one stream: Z Z Z Z with |Z| a multiple of 4096,
     * and a zero region: every block of it is the same chunk */
    size_t nz = 64 * 4096;
    uint8_t *z = malloc(4 * nz + nz);
    tu_fill(z, nz, TU_RANDOM, tu_seed() + 3);
    for (int i = 1; i < 4; i++)
        memcpy(z + i * nz, z, nz);
    memset(z + 4 * nz, 0, nz);
    stream_in s2[] = {{z, 5 * nz}};
    run_cfg rc = {DDX_CHUNKER_FIXED, 0, 4096, 0, DDX_HASH_SHA1, 2, 0, 1};
    ddx_stats st;
    run_engine(&rc, s2, 1, &got, &st);
    cr_assert_eq(st.unique_bytes, nz + 4096);
    cr_assert_eq(st.chunks, 5 * nz / 4096);
    cr_assert_eq(st.unique_chunks, nz / 4096 + 1);
    cr_assert_float_eq(st.dedup_ratio, 5.0 * nz / (nz + 4096), 1e-12);
    free(got.v);
    free(x);
    free(y);
    free(z);
}

/* With dedup off (a caller with an index of its own, like the store) the
 * engine cuts and fingerprints exactly as with it on, builds no index, and
 * reports every chunk as new, repeats included. */
Test(pipeline, dedup_off_gives_the_same_chunks_all_new_and_no_index)
{
    size_t n = 3 * 1024 * 1024 + 77;
    uint8_t *a = make_mixed(n, tu_seed() + 9);
    stream_in s[] = {{a, n}, {a, n}, {a + n / 3, n / 2}};
    list on = {0}, off = {0};
    ddx_stats st_on, st_off;
    for (unsigned t = 1; t <= 3; t += 2) {
        run_cfg rc = {DDX_CHUNKER_FASTCDC, 2048, 8192, 65536, DDX_HASH_SHA1, t, 1 << 20, 1};
        run_engine_dedup(&rc, s, 3, &on, &st_on, 1);
        run_engine_dedup(&rc, s, 3, &off, &st_off, 0);
        assert_same_chunks(&off, &on, 20, "dedup off");
        size_t repeats = 0;
        for (size_t i = 0; i < on.n; i++) {
            repeats += !on.v[i].is_new;
            cr_assert_eq(off.v[i].is_new, 1, "chunk %zu: dedup off reports every chunk new", i);
        }
        cr_assert_gt(repeats, on.n / 3, "the input repeats: dedup on finds it");
        cr_assert_eq(st_off.chunks, st_on.chunks);
        cr_assert_eq(st_off.logical_bytes, st_on.logical_bytes);
        cr_assert_eq(st_off.unique_chunks, st_off.chunks);
        cr_assert_eq(st_off.unique_bytes, st_off.logical_bytes);
        cr_assert_float_eq(st_off.dedup_ratio, 1.0, 1e-12);
        cr_assert_eq(st_off.index_entries, 0);
        cr_assert_eq(st_off.index_bytes, 0);
        cr_assert_gt(st_on.index_entries, 0);
    }
    ddx_engine *e;
    cr_assert_eq(ddx_engine_create(&e), 0);
    cr_assert_eq(ddx_engine_open(e), 0);
    cr_assert_eq(ddx_engine_set_dedup(e, 0), DDX_ESTATE, "configuration only before open");
    ddx_engine_close(e);
    free(on.v), free(off.v);
    free(a);
}

Test(pipeline, feed_fd_equals_feed)
{
    size_t n = 5 * 1024 * 1024 + 17;
    uint8_t *a = make_mixed(n, tu_seed() + 11);
    char path[] = "/tmp/ddx-test-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, a, n), (ssize_t)n);
    lseek(fd, 0, SEEK_SET);
    ddx_engine *e;
    cr_assert_eq(ddx_engine_create(&e), 0);
    cr_assert_eq(ddx_engine_set_pinning(e, 0), 0);
    cr_assert_eq(ddx_engine_open(e), 0);
    cr_assert_eq(ddx_engine_stream_begin(e), 0);
    cr_assert_eq(ddx_engine_feed_fd(e, fd), 0);
    cr_assert_eq(ddx_engine_stream_end(e), 0);
    cr_assert_eq(ddx_engine_finish(e), 0);
    ddx_stats st_fd, st_mem;
    cr_assert_eq(ddx_engine_get_stats(e, &st_fd), 0);
    ddx_engine_close(e);
    close(fd);
    unlink(path);
    list got = {0};
    stream_in s[] = {{a, n}};
    run_cfg rc = {DDX_CHUNKER_FASTCDC, 2048, 8192, 65536, DDX_HASH_SHA256, 0, 0, 1};
    run_engine(&rc, s, 1, &got, &st_mem);
    cr_assert_eq(st_fd.logical_bytes, n);
    cr_assert_eq(st_fd.chunks, st_mem.chunks);
    cr_assert_eq(st_fd.unique_bytes, st_mem.unique_bytes);
    free(got.v);
    free(a);
}

Test(pipeline, api_states_and_errors)
{
    ddx_engine *e;
    cr_assert_eq(ddx_engine_create(&e), 0);
    cr_assert_eq(ddx_engine_set_chunker(e, DDX_CHUNKER_FASTCDC, 9000, 8192, 65536), DDX_EINVAL);
    cr_assert_eq(ddx_engine_set_hash(e, (ddx_hash_kind)5), DDX_EINVAL);
    cr_assert_eq(ddx_engine_set_normalization(e, 7), DDX_EINVAL);
    cr_assert_eq(ddx_engine_feed(e, "x", 1), DDX_ESTATE); /* not open */
    cr_assert_eq(ddx_engine_set_pinning(e, 0), 0);
    cr_assert_eq(ddx_engine_open(e), 0);
    cr_assert_eq(ddx_engine_set_threads(e, 2), DDX_ESTATE); /* configure after open */
    cr_assert_eq(ddx_engine_feed(e, "x", 1), DDX_ESTATE);   /* no stream */
    cr_assert_eq(ddx_engine_stream_end(e), DDX_ESTATE);
    cr_assert_eq(ddx_engine_stream_begin(e), 0);
    cr_assert_eq(ddx_engine_stream_begin(e), DDX_ESTATE);
    cr_assert_eq(ddx_engine_finish(e), DDX_ESTATE); /* inside a stream */
    cr_assert_eq(ddx_engine_feed(e, NULL, 3), DDX_EINVAL);
    cr_assert_eq(ddx_engine_feed(e, NULL, 0), 0);
    cr_assert_eq(ddx_engine_stream_end(e), 0);
    cr_assert_eq(ddx_engine_finish(e), 0);
    ddx_stats st;
    cr_assert_eq(ddx_engine_get_stats(e, &st), 0);
    cr_assert_eq(st.logical_bytes, 0);
    cr_assert_eq(st.chunks, 0);
    cr_assert_float_eq(st.dedup_ratio, 1.0, 0);
    char b[128];
    cr_assert_eq(ddx_engine_worker_binding(e, 0, b, sizeof b), 0);
    cr_assert(strstr(b, "worker 0"));
    cr_assert_eq(ddx_engine_worker_binding(e, 4096, b, sizeof b), DDX_EINVAL);
    ddx_engine_close(e);
    ddx_engine_close(NULL);

    char v[32];
    snprintf(v, sizeof v, "%d.%d.%d", DDX_VERSION_MAJOR, DDX_VERSION_MINOR, DDX_VERSION_PATCH);
    cr_assert_str_eq(ddx_version_string(), v);
    cr_assert_eq(ddx_version_number(), DDX_VERSION_NUMBER);
    cr_assert_str_eq(ddx_strerror(0), "success");
    cr_assert_str_eq(ddx_strerror(ENOENT), strerror(ENOENT));
    cr_assert(strstr(ddx_strerror(DDX_EINVAL), "invalid"));
    ddx_chunker_kind k;
    cr_assert_eq(ddx_chunker_from_name("tttd", &k), 0);
    cr_assert_eq(k, DDX_CHUNKER_TTTD);
    cr_assert_eq(ddx_chunker_from_name("gear", &k), DDX_EINVAL);
    ddx_hash_kind hk;
    cr_assert_eq(ddx_hash_from_name("sha1", &hk), 0);
    cr_assert_eq(ddx_hash_from_name("md5", &hk), DDX_EINVAL);
}

static void count_release(void *ctx)
{
    __atomic_add_fetch((int *)ctx, 1, __ATOMIC_SEQ_CST);
}

Test(pipeline, feed_ref_zero_copy_equals_feed_and_releases_once)
{
    size_t n = 9 * 1024 * 1024 + 5000;
    uint8_t *a = make_mixed(n, tu_seed() + 21);
    list got = {0};
    ddx_stats ref_st;
    stream_in s[] = {{a, n}, {a, n}};
    run_cfg rc = {DDX_CHUNKER_FASTCDC, 2048, 8192, 65536, DDX_HASH_SHA256, 2, 0, 0};
    run_engine(&rc, s, 2, &got, &ref_st);
    list ref = got;
    got.v = NULL;
    got.n = got.cap = 0;
    pthread_mutex_init(&got.mu, NULL);

    int released = 0;
    ddx_engine *e;
    cr_assert_eq(ddx_engine_create(&e), 0);
    cr_assert_eq(ddx_engine_set_pinning(e, 0), 0);
    cr_assert_eq(ddx_engine_set_chunk_callback(e, collect, &got), 0);
    cr_assert_eq(ddx_engine_open(e), 0);
    /* stream 0: all in place; stream 1: a copied head, then in place, then copied */
    cr_assert_eq(ddx_engine_stream_begin(e), 0);
    cr_assert_eq(ddx_engine_feed_ref(e, a, n, count_release, &released), 0);
    cr_assert_eq(ddx_engine_stream_end(e), 0);
    cr_assert_eq(ddx_engine_stream_begin(e), 0);
    cr_assert_eq(ddx_engine_feed(e, a, 777), 0);
    cr_assert_eq(ddx_engine_feed_ref(e, a + 777, n - 777 - 100, count_release, &released), 0);
    cr_assert_eq(ddx_engine_feed(e, a + n - 100, 100), 0);
    cr_assert_eq(ddx_engine_stream_end(e), 0);
    cr_assert_eq(ddx_engine_finish(e), 0);
    cr_assert_eq(__atomic_load_n(&released, __ATOMIC_SEQ_CST), 2, "released %d times", released);
    ddx_stats st;
    cr_assert_eq(ddx_engine_get_stats(e, &st), 0);
    ddx_engine_close(e);
    qsort(got.v, got.n, sizeof *got.v, chunk_cmp);
    assert_same_chunks(&got, &ref, 32, "feed_ref");
    cr_assert_eq(st.unique_bytes, ref_st.unique_bytes);

    /* errors release too: no stream open */
    released = 0;
    cr_assert_eq(ddx_engine_create(&e), 0);
    cr_assert_eq(ddx_engine_set_pinning(e, 0), 0);
    cr_assert_eq(ddx_engine_open(e), 0);
    cr_assert_eq(ddx_engine_feed_ref(e, a, n, count_release, &released), DDX_ESTATE);
    cr_assert_eq(released, 1);
    /* close without finish: released by close at the latest */
    cr_assert_eq(ddx_engine_stream_begin(e), 0);
    cr_assert_eq(ddx_engine_feed_ref(e, a, n, count_release, &released), 0);
    ddx_engine_close(e);
    cr_assert_eq(__atomic_load_n(&released, __ATOMIC_SEQ_CST), 2);
    free(got.v);
    free(ref.v);
    free(a);
}

/* Replaying a data run's chunks (ddx_engine_feed_chunks) gives that run's
 * statistics: counts, unique bytes, sizes, histogram; is_new marks exactly
 * the first occurrence; a stream holds data or replayed chunks, not both. */
Test(pipeline, replayed_chunks_equal_the_data_run)
{
    size_t n = 3u << 20;
    uint8_t *a = make_mixed(n, tu_seed());
    stream_in s[3] = {{a, n}, {a + 1000, n - 1000}, {a, n / 2}};
    /* one worker: chunks reach the index in stream order, so is_new marks the
     * first occurrence, as the replay's does */
    run_cfg rc = {DDX_CHUNKER_FASTCDC, 2048, 8192, 65536, DDX_HASH_SHA1, 1, 1u << 20, 0};
    list data = {0};
    ddx_stats want;
    run_engine(&rc, s, 3, &data, &want);

    ddx_engine *e;
    cr_assert_eq(ddx_engine_create(&e), 0);
    cr_assert_eq(ddx_engine_set_hash(e, DDX_HASH_SHA1), 0);
    cr_assert_eq(ddx_engine_set_threads(e, 1), 0);
    cr_assert_eq(ddx_engine_set_pinning(e, 0), 0);
    list back = {0};
    pthread_mutex_init(&back.mu, NULL);
    cr_assert_eq(ddx_engine_set_chunk_callback(e, collect, &back), 0);
    cr_assert_eq(ddx_engine_open(e), 0);
    ddx_chunk *c = malloc(data.n * sizeof *c);
    memcpy(c, data.v, data.n * sizeof *c);
    size_t first_new = 0;
    for (size_t i = 0, j; i < data.n; i = j) {
        for (j = i; j < data.n && c[j].stream == c[i].stream; j++)
            c[j].is_new = 7; /* overwritten */
        cr_assert_eq(ddx_engine_stream_begin(e), 0);
        /* in pieces of 1 and 100 records as well as whole */
        size_t k = i;
        cr_assert_eq(ddx_engine_feed_chunks(e, c + k, 1), 0);
        k++;
        size_t piece = j - k > 100 ? 100 : j - k;
        cr_assert_eq(ddx_engine_feed_chunks(e, c + k, piece), 0);
        k += piece;
        cr_assert_eq(ddx_engine_feed_chunks(e, c + k, j - k), 0);
        cr_assert_eq(ddx_engine_feed(e, "x", 1), DDX_ESTATE); /* no data after replay */
        cr_assert_eq(ddx_engine_stream_end(e), 0);
    }
    for (size_t i = 0; i < data.n; i++) {
        cr_assert_eq(c[i].is_new, data.v[i].is_new, "chunk %zu: is_new %u, the data run said %u", i,
                     c[i].is_new, data.v[i].is_new);
        first_new += c[i].is_new;
    }
    cr_assert_eq(ddx_engine_finish(e), 0);
    ddx_stats got;
    cr_assert_eq(ddx_engine_get_stats(e, &got), 0);
    cr_assert_eq(got.logical_bytes, want.logical_bytes);
    cr_assert_eq(got.unique_bytes, want.unique_bytes);
    cr_assert_eq(got.chunks, want.chunks);
    cr_assert_eq(got.unique_chunks, want.unique_chunks);
    cr_assert_eq(got.unique_chunks, first_new);
    cr_assert_eq(got.chunk_min, want.chunk_min);
    cr_assert_eq(got.chunk_max, want.chunk_max);
    cr_assert_eq(got.streams, 3);
    cr_assert_eq(memcmp(got.chunk_hist, want.chunk_hist, sizeof got.chunk_hist), 0);
    cr_assert_eq(got.stage[DDX_STAGE_INDEX].items, want.chunks);
    cr_assert_eq(got.stage[DDX_STAGE_HASH].bytes, 0);
    uint64_t hsum = 0;
    for (unsigned i = 0; i < DDX_CHUNK_HIST_BINS; i++)
        hsum += got.chunk_hist[i];
    cr_assert_eq(hsum, got.chunks);
    /* the callback saw the same chunks, at the same offsets */
    qsort(back.v, back.n, sizeof *back.v, chunk_cmp);
    cr_assert_eq(back.n, data.n);
    for (size_t i = 0; i < data.n; i++)
        cr_assert(back.v[i].stream == data.v[i].stream && back.v[i].offset == data.v[i].offset &&
                      back.v[i].length == data.v[i].length &&
                      !memcmp(back.v[i].fp, data.v[i].fp, 20),
                  "callback chunk %zu differs", i);
    /* state and argument errors */
    cr_assert_eq(ddx_engine_feed_chunks(e, c, 1), DDX_ESTATE); /* no stream */
    cr_assert_eq(ddx_engine_stream_begin(e), 0);
    cr_assert_eq(ddx_engine_feed(e, "xy", 2), 0);
    cr_assert_eq(ddx_engine_feed_chunks(e, c, 1), DDX_ESTATE); /* data in this stream */
    cr_assert_eq(ddx_engine_stream_end(e), 0);
    cr_assert_eq(ddx_engine_stream_begin(e), 0);
    ddx_chunk bad = c[0];
    bad.length = 0;
    cr_assert_eq(ddx_engine_feed_chunks(e, &bad, 1), DDX_EINVAL);
    bad.length = DDX_CHUNK_MAX_LIMIT + 1;
    cr_assert_eq(ddx_engine_feed_chunks(e, &bad, 1), DDX_EINVAL);
    cr_assert_eq(ddx_engine_feed_chunks(e, NULL, 1), DDX_EINVAL);
    cr_assert_eq(ddx_engine_feed_chunks(e, NULL, 0), 0);
    cr_assert_eq(ddx_engine_stream_end(e), 0);
    cr_assert_eq(ddx_engine_finish(e), 0);
    ddx_engine_close(e);
    free(c);
    free(back.v);
    free(data.v);
    free(a);
}

/* The histogram's bins: every length maps to the bin whose range holds it. */
Test(pipeline, chunk_histogram_bins)
{
    cr_assert_eq(ddx_chunk_hist_bin(0), 0);
    cr_assert_eq(ddx_chunk_hist_bin(15), 15);
    cr_assert_eq(ddx_chunk_hist_bin(16), 16);
    cr_assert_eq(ddx_chunk_hist_lower(DDX_CHUNK_HIST_BINS), UINT64_MAX);
    for (unsigned b = 0; b + 1 < DDX_CHUNK_HIST_BINS; b++)
        cr_assert_lt(ddx_chunk_hist_lower(b), ddx_chunk_hist_lower(b + 1));
    uint64_t seed = tu_seed();
    for (int i = 0; i < 200000; i++) {
        uint64_t len = tu_splitmix(&seed) >> (tu_splitmix(&seed) % 64);
        unsigned b = ddx_chunk_hist_bin(len);
        cr_assert_leq(ddx_chunk_hist_lower(b), len, "length %llu", (unsigned long long)len);
        if (b + 1 < DDX_CHUNK_HIST_BINS)
            cr_assert_lt(len, ddx_chunk_hist_lower(b + 1), "length %llu", (unsigned long long)len);
    }
    for (uint64_t len = 0; len < 70000; len++) {
        unsigned b = ddx_chunk_hist_bin(len);
        cr_assert(ddx_chunk_hist_lower(b) <= len && len < ddx_chunk_hist_lower(b + 1));
    }
}
