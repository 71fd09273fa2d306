/*
 * test_gpu_backend.c - the GPU backends end to end, through the public API:
 * their chunk lists (offsets, lengths, fingerprints) must equal the
 * sequential CPU reference bit for bit, on every input class, with chunks
 * crossing batch edges, streams shorter than a batch, empty streams, feeds
 * of random sizes, and segments with more candidates than the device keeps
 * (DDX_GPU_SEG_CAP forces that).
 *
 * OpenCL runs for real (PoCL's CPU device in CI): no OpenCL device is a
 * failure, since make deps installs one. CUDA runs where this build has a
 * device: the CUDA emulation (CUDA=emu, the sanitizer build) or a real GPU;
 * an nvcc build without a driver must instead report why, and --gpu (AUTO)
 * must fall back to the cpu backend saying so.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "chunk_impl.h"
#include "chunk_list.h"
#include "ddx.h"
#include "hash_impl.h"
#include "testutil.h"

/* This file's names for the shared chunk list (chunk_list.h). */
typedef tu_chunks list;
#define collect tu_chunks_add

typedef struct stream_in {
    const uint8_t *p;
    size_t n;
} stream_in;

typedef struct gcfg {
    ddx_chunker_kind kind;
    uint32_t min, avg, max;
    ddx_hash_kind hash;
    size_t batch; /* 0: the backend's default */
} gcfg;

static void run_backend(ddx_backend_kind be, const gcfg *g, const stream_in *s, size_t ns,
                        list *out, ddx_stats *st)
{
    ddx_engine *e;
    cr_assert_eq(ddx_engine_create(&e), 0);
    cr_assert_eq(ddx_engine_set_chunker(e, g->kind, g->min, g->avg, g->max), 0);
    cr_assert_eq(ddx_engine_set_hash(e, g->hash), 0);
    if (g->batch)
        cr_assert_eq(ddx_engine_set_batch_size(e, g->batch), 0);
    cr_assert_eq(ddx_engine_set_pinning(e, 0), 0);
    cr_assert_eq(ddx_engine_set_backend(e, be, 0), 0);
    pthread_mutex_init(&out->mu, NULL);
    out->n = 0;
    cr_assert_eq(ddx_engine_set_chunk_callback(e, collect, out), 0);
    int rc = ddx_engine_open(e);
    cr_assert_eq(rc, 0, "open %s: %s (%s)", ddx_backend_name(be), ddx_strerror(rc),
                 ddx_engine_backend_note(e));
    cr_assert_str_eq(ddx_engine_backend(e), ddx_backend_name(be));
    uint64_t seed = tu_seed();
    for (size_t i = 0; i < ns; i++) {
        cr_assert_eq(ddx_engine_stream_begin(e), 0);
        size_t pos = 0;
        while (pos < s[i].n) {
            size_t take = 1 + tu_splitmix(&seed) % 300000;
            if (take > s[i].n - pos)
                take = s[i].n - pos;
            cr_assert_eq(ddx_engine_feed(e, s[i].p + pos, take), 0);
            pos += take;
        }
        cr_assert_eq(ddx_engine_stream_end(e), 0);
    }
    rc = ddx_engine_finish(e);
    cr_assert_eq(rc, 0, "finish: %s (%s)", ddx_strerror(rc), ddx_engine_backend_note(e));
    cr_assert_eq(ddx_engine_get_stats(e, st), 0);
    ddx_engine_close(e);
}

/* find() from each stream start, each chunk hashed: the CPU definition. */
static void reference(const gcfg *g, const stream_in *s, size_t ns, list *out)
{
    ddx_chunk_cfg c;
    cr_assert_eq(ddx_chunk_cfg_init(&c, g->kind, g->min, g->avg, g->max, 1, 0, NULL), 0);
    ddx_hasher h;
    cr_assert_eq(ddx_hasher_init(&h, g->hash), 0);
    pthread_mutex_init(&out->mu, NULL);
    out->n = 0;
    for (size_t i = 0; i < ns; i++)
        for (size_t pos = 0; pos < s[i].n;) {
            size_t l = c.find(&c, s[i].p + pos, s[i].n - pos, 1);
            ddx_chunk ch = {i, pos, (uint32_t)l, 0, {0}};
            cr_assert_eq(ddx_hash(&h, s[i].p + pos, l, ch.fp), 0);
            collect(out, &ch);
            pos += l;
        }
    ddx_hasher_free(&h);
}

/* The driver indexes in stream order, so the lists compare as they are. */
static void assert_same(const list *a, const list *ref, size_t fps, const char *what)
{
    cr_assert_eq(a->n, ref->n, "%s: %zu chunks, reference %zu", what, a->n, ref->n);
    for (size_t i = 0; i < a->n; i++) {
        const ddx_chunk *x = &a->v[i], *y = &ref->v[i];
        cr_assert(x->stream == y->stream && x->offset == y->offset && x->length == y->length,
                  "%s: chunk %zu is (%llu, %llu, %u), reference (%llu, %llu, %u)", what, i,
                  (unsigned long long)x->stream, (unsigned long long)x->offset, x->length,
                  (unsigned long long)y->stream, (unsigned long long)y->offset, y->length);
        char hx[65], hy[65];
        tu_hex(x->fp, fps, hx);
        tu_hex(y->fp, fps, hy);
        cr_assert_str_eq(hx, hy, "%s: chunk %zu (offset %llu, %u bytes) fingerprint", what, i,
                         (unsigned long long)x->offset, x->length);
    }
}

/* Every input class as its own stream, plus the awkward ones: empty, shorter
 * than min, one byte past a batch, and a zero run between random data (no
 * cut points across a batch edge). */
#define NSTREAMS (TU_NCLASS + 4)
static uint8_t *bufs[NSTREAMS];

static size_t make_streams(stream_in *s, size_t each, size_t batch)
{
    size_t n = 0;
    for (int c = 0; c < TU_NCLASS; c++) {
        bufs[n] = tu_xmalloc(each);
        tu_fill(bufs[n], each, (enum tu_class)c, tu_seed() + (uint64_t)c);
        s[n].p = bufs[n];
        s[n].n = each;
        n++;
    }
    s[n].p = NULL, s[n].n = 0, n++;
    bufs[n] = tu_xmalloc(100);
    tu_fill(bufs[n], 100, TU_RANDOM, tu_seed() + 100);
    s[n].p = bufs[n], s[n].n = 100, n++;
    bufs[n] = tu_xmalloc(batch + 1);
    tu_fill(bufs[n], batch + 1, TU_TEXT, tu_seed() + 101);
    s[n].p = bufs[n], s[n].n = batch + 1, n++;
    size_t m = 3 * batch + 12345;
    bufs[n] = tu_xmalloc(m);
    tu_fill(bufs[n], m, TU_RANDOM, tu_seed() + 102);
    memset(bufs[n] + batch / 2, 0, 2 * batch);
    s[n].p = bufs[n], s[n].n = m, n++;
    return n;
}

static void free_streams(void)
{
    for (size_t i = 0; i < NSTREAMS; i++) {
        free(bufs[i]);
        bufs[i] = NULL;
    }
}

static int have(ddx_backend_kind be, char *why, size_t n)
{
    return ddx_backend_probe(be, 0, why, n);
}

static void equals_reference(ddx_backend_kind be, const gcfg *g, size_t each, const char *what,
                             ddx_stats *st)
{
    stream_in s[NSTREAMS];
    size_t ns = make_streams(s, each, g->batch ? g->batch : (256u << 20));
    list got = {0}, ref = {0};
    reference(g, s, ns, &ref);
    run_backend(be, g, s, ns, &got, st);
    char label[160];
    snprintf(label, sizeof label, "%s %s (%s)", ddx_backend_name(be), what, ddx_hash_name(g->hash));
    assert_same(&got, &ref, ddx_hash_size(g->hash), label);
    cr_assert_gt(got.n, 100, "%s: too few chunks to mean anything", label);
    free(got.v);
    free(ref.v);
    free_streams();
}

/* The configurations every backend must pass. */
static void backend_suite(ddx_backend_kind be)
{
    ddx_stats st;
    static const gcfg fast = {DDX_CHUNKER_FASTCDC, 2048, 8192, 65536, DDX_HASH_SHA256, 256 << 10};
    equals_reference(be, &fast, 3 << 20, "fastcdc 8K, 256K batches", &st);
    cr_assert_gt(st.gpu_h2d_bytes, 0, "no bytes went to the device");
    static const gcfg small = {DDX_CHUNKER_FASTCDC, 64, 256, 1024, DDX_HASH_SHA1, 64 << 10};
    equals_reference(be, &small, 1 << 20, "fastcdc 256 B, 64K batches", &st);
    static const gcfg odd = {DDX_CHUNKER_FASTCDC, 1001, 4099, 17001, DDX_HASH_SHA256, 40000};
    equals_reference(be, &odd, 1 << 20, "fastcdc odd sizes and batch", &st);
}

static void host_cut_suite(ddx_backend_kind be)
{
    ddx_stats st;
    static const gcfg cfgs[] = {
        {DDX_CHUNKER_FIXED, 0, 4096, 0, DDX_HASH_SHA256, 64 << 10},
        {DDX_CHUNKER_RABIN, 2048, 8192, 65536, DDX_HASH_SHA1, 256 << 10},
        {DDX_CHUNKER_RAM, 2048, 8192, 65536, DDX_HASH_SHA256, 256 << 10},
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof *cfgs; i++)
        equals_reference(be, &cfgs[i], 1 << 20, ddx_chunker_name(cfgs[i].kind), &st);
}

static void overflow_suite(ddx_backend_kind be)
{
    ddx_stats st;
    setenv("DDX_GPU_SEG_CAP", "1", 1);
    static const gcfg g = {DDX_CHUNKER_FASTCDC, 256, 1024, 8192, DDX_HASH_SHA256, 128 << 10};
    equals_reference(be, &g, 1 << 20, "fastcdc, 1 candidate kept per segment", &st);
    unsetenv("DDX_GPU_SEG_CAP");
    cr_assert_gt(st.gpu_overflow_chunks, 0, "the overflow path was not taken");
}

/* ---- OpenCL: must run (PoCL) -------------------------------------------- */

static void need_opencl(void)
{
    char why[256];
    int n = have(DDX_BACKEND_OPENCL, why, sizeof why);
    cr_assert_gt(n, 0, "no OpenCL device (make deps installs PoCL): %s", why);
}

Test(gpu_opencl, equals_cpu_fastcdc, .timeout = 600)
{
    need_opencl();
    backend_suite(DDX_BACKEND_OPENCL);
}

Test(gpu_opencl, equals_cpu_host_cut_chunkers, .timeout = 600)
{
    need_opencl();
    host_cut_suite(DDX_BACKEND_OPENCL);
}

Test(gpu_opencl, equals_cpu_with_candidate_overflow, .timeout = 600)
{
    need_opencl();
    overflow_suite(DDX_BACKEND_OPENCL);
}

/* ---- CUDA: emulation or a real device; otherwise the reason ------------- */

static int cuda_present(void)
{
    char why[256];
    int n = have(DDX_BACKEND_CUDA, why, sizeof why);
    if (n <= 0)
        fprintf(stderr, "CUDA: %s\n", why);
    return n > 0;
}

Test(gpu_cuda, equals_cpu_fastcdc, .timeout = 600)
{
    if (!cuda_present())
        cr_skip_test("no CUDA device in this build or machine");
    backend_suite(DDX_BACKEND_CUDA);
}

Test(gpu_cuda, equals_cpu_host_cut_chunkers, .timeout = 600)
{
    if (!cuda_present())
        cr_skip_test("no CUDA device in this build or machine");
    host_cut_suite(DDX_BACKEND_CUDA);
}

Test(gpu_cuda, equals_cpu_with_candidate_overflow, .timeout = 600)
{
    if (!cuda_present())
        cr_skip_test("no CUDA device in this build or machine");
    overflow_suite(DDX_BACKEND_CUDA);
}

/* Without a device: a named backend is an error that says why; AUTO falls
 * back to the CPU (PoCL's CPU device is not a GPU) and says why too. */
Test(gpu_cuda, missing_device_is_reported)
{
    char why[256];
    int n = have(DDX_BACKEND_CUDA, why, sizeof why);
    if (n > 0)
        cr_skip_test("a CUDA device is present");
    cr_assert_neq(why[0], 0, "probe gave no reason");
    ddx_engine *e;
    cr_assert_eq(ddx_engine_create(&e), 0);
    cr_assert_eq(ddx_engine_set_backend(e, DDX_BACKEND_CUDA, 0), 0);
    cr_assert_eq(ddx_engine_open(e), DDX_EUNSUPP);
    cr_assert(strstr(ddx_engine_backend_note(e), why), "note '%s' lacks '%s'",
              ddx_engine_backend_note(e), why);
    ddx_engine_close(e);

    char clwhy[256];
    if (ddx_backend_probe(DDX_BACKEND_OPENCL, 1, clwhy, sizeof clwhy) > 0)
        return; /* an OpenCL GPU is present: AUTO would use it */
    cr_assert_eq(ddx_engine_create(&e), 0);
    cr_assert_eq(ddx_engine_set_backend(e, DDX_BACKEND_AUTO, 0), 0);
    cr_assert_eq(ddx_engine_open(e), 0);
    cr_assert_str_eq(ddx_engine_backend(e), "cpu");
    cr_assert(strstr(ddx_engine_backend_note(e), "running on the cpu backend"), "note: %s",
              ddx_engine_backend_note(e));
    cr_assert(strstr(ddx_engine_backend_note(e), why));
    ddx_engine_close(e);
}

Test(gpu, bad_backend_arguments)
{
    ddx_engine *e;
    cr_assert_eq(ddx_engine_create(&e), 0);
    cr_assert_eq(ddx_engine_set_backend(e, (ddx_backend_kind)9, 0), DDX_EINVAL);
    cr_assert_eq(ddx_engine_set_backend(e, DDX_BACKEND_OPENCL, -1), DDX_EINVAL);
    cr_assert_eq(ddx_engine_set_backend(e, DDX_BACKEND_OPENCL, 999), 0);
    cr_assert_eq(ddx_engine_open(e), DDX_EUNSUPP); /* no device 999 */
    cr_assert(strstr(ddx_engine_backend_note(e), "no device 999"), "note: %s",
              ddx_engine_backend_note(e));
    ddx_engine_close(e);
    ddx_backend_kind k;
    cr_assert_eq(ddx_backend_from_name("opencl", &k), 0);
    cr_assert_eq(k, DDX_BACKEND_OPENCL);
    cr_assert_eq(ddx_backend_from_name("vulkan", &k), DDX_EINVAL);
}
