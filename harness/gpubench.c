/*
 * gpubench.c - a GPU backend's parts, measured on their own (make gpu-bench).
 *
 *   gpubench [--backend cuda|opencl] [--device N] [--batch SIZE] [--reps N]
 *            [--avg SIZE] [--json FILE]
 *
 * Opens the backend directly (engine/src/backend/gpu.h) with one batch of
 * random bytes and reports, from the device's own timers (events / profiling
 * info), medians over --reps runs:
 *   - host -> device bandwidth from pinned memory (scan_submit without scan);
 *   - candidate-scan kernel throughput, data resident on the device;
 *   - SHA-1 and SHA-256 kernel throughput over FastCDC-sized chunks of the
 *     resident batch (one thread per chunk), for --avg chunks;
 * and checks once that the candidates and digests equal the CPU reference.
 * End to end numbers come from `ddbench run --backend X` (harness/gpu_bench.sh).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk_impl.h"
#include "cli_size.h"
#include "ddx.h"
#include "ddx_dev.h"
#include "gpu.h"
#include "hash_impl.h"

static void die(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "gpubench: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    exit(1);
}

static uint64_t parse_size(const char *opt, const char *s)
{
    uint64_t v;
    if (ddx_cli_size(s, &v))
        die("%s: expected a size such as 256M, got '%s'", opt, s);
    return v;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void check(int rc, const char *what, const char *why)
{
    if (rc)
        die("%s failed: %s", what, why && *why ? why : ddx_strerror(rc));
}

int main(int argc, char **argv)
{
    ddx_backend_kind be = DDX_BACKEND_CUDA;
    int device = 0, reps = 5;
    size_t batch = 256u << 20;
    uint32_t avg = 8192;
    const char *json = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--backend") && v) {
            if (ddx_backend_from_name(v, &be) ||
                (be != DDX_BACKEND_CUDA && be != DDX_BACKEND_OPENCL))
                die("--backend: expected cuda or opencl, got '%s'%s", v, "");
        } else if (!strcmp(a, "--device") && v) {
            device = atoi(v);
        } else if (!strcmp(a, "--batch") && v) {
            batch = parse_size("--batch", v);
        } else if (!strcmp(a, "--avg") && v) {
            avg = (uint32_t)parse_size("--avg", v);
        } else if (!strcmp(a, "--reps") && v) {
            reps = atoi(v);
        } else if (!strcmp(a, "--json") && v) {
            json = v;
        } else {
            die("unknown or incomplete option '%s'%s (see the comment at the top of gpubench.c)", a,
                "");
        }
        i++;
    }
    if (reps < 1 || reps > 100 || batch < (1u << 20) || batch > (1u << 30))
        die("--reps 1..100, --batch 1M..1G%s%s", "", "");
    batch &= ~(size_t)4095;

    ddx_chunk_cfg cc;
    if (ddx_chunk_cfg_init(&cc, DDX_CHUNKER_FASTCDC, avg / 4, avg, avg * 8, 1, 0, NULL))
        die("--avg: not a FastCDC size%s%s", "", "");
    const ddx_gpu_ops *ops = be == DDX_BACKEND_CUDA ? &ddx_gpu_cuda_ops : &ddx_gpu_opencl_ops;
    char why[256] = "";
    int n = ops->probe(0, why, sizeof why);
    if (n <= device)
        die("%s: no device: %s", ops->name, why);
    ddx_gpu_config cfg = {2,
                          batch,
                          4096,
                          32,
                          (uint32_t)(batch / (cc.min_size - 1) + 4),
                          DDX_HASH_SHA256,
                          cc.gear,
                          cc.mask_s,
                          cc.mask_l};
    ddx_gpu *g[2] = {NULL, NULL}; /* one per hash kind */
    check(ops->open(&g[0], device, 0, &cfg, why, sizeof why), "open", why);
    cfg.hash_kind = DDX_HASH_SHA1;
    check(ops->open(&g[1], device, 0, &cfg, why, sizeof why), "open (sha1)", why);
    printf("device: %s\nbatch %zu MiB, chunks avg %u, %d reps (medians)\n", ops->device_name(g[0]),
           batch >> 20, avg, reps);

    uint8_t *h0 = ops->host_buffer(g[0], 0), *h1 = ops->host_buffer(g[1], 0);
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < batch; i += 8) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        memcpy(h0 + i, &s, 8);
    }
    memcpy(h1, h0, batch);

    /* FastCDC cut points of the batch, for the hash kernels' chunk table */
    size_t nch = 0;
    uint32_t *t0 = ops->chunk_table(g[0], 0), *t1 = ops->chunk_table(g[1], 0);
    for (size_t pos = 0; pos < batch;) {
        size_t l = cc.find(&cc, h0 + pos, batch - pos, 1);
        t0[2 * nch] = t1[2 * nch] = (uint32_t)pos;
        t0[2 * nch + 1] = t1[2 * nch + 1] = (uint32_t)l;
        nch++;
        pos += l;
    }

    double *h2d = calloc((size_t)reps, sizeof(double)),
           *scan = calloc((size_t)reps, sizeof(double));
    double *sha256 = calloc((size_t)reps, sizeof(double)),
           *sha1 = calloc((size_t)reps, sizeof(double));
    const uint32_t *counts, *cands;
    const uint8_t *dig;
    ddx_gpu_times a, b;
    for (int r = 0; r < reps; r++) {
        ops->times(g[0], &a);
        check(ops->scan_submit(g[0], 0, batch, 0), "copy", NULL);
        check(ops->scan_wait(g[0], 0, &counts, &cands), "copy wait", NULL);
        ops->times(g[0], &b);
        h2d[r] = (double)batch / (b.h2d_s - a.h2d_s) / 1e9;

        check(ops->scan_submit(g[0], 0, batch, 1), "scan", NULL);
        check(ops->scan_wait(g[0], 0, &counts, &cands), "scan wait", NULL);
        ops->times(g[0], &a);
        scan[r] = (double)batch / (a.kernel_s - b.kernel_s) / 1e9;

        check(ops->hash_submit(g[0], 0, nch), "sha256", NULL);
        check(ops->hash_wait(g[0], 0, &dig), "sha256 wait", NULL);
        ops->times(g[0], &b);
        sha256[r] = (double)batch / (b.kernel_s - a.kernel_s) / 1e9;
    }
    /* correctness, once: digests and candidates against the CPU */
    for (size_t j = 0; j < nch; j += 97) {
        uint8_t want[32];
        ddx_sha256_ref(h0 + t0[2 * j], t0[2 * j + 1], want);
        if (memcmp(want, dig + 32 * j, 32))
            die("SHA-256 of chunk differs from the CPU reference%s%s", "", "");
    }
    uint64_t w = 0;
    size_t seg = 0, k = 0;
    for (size_t i = 0; i < batch; i++) {
        w = (w << 1) + cc.gear[h0[i]];
        if (i / 4096 != seg)
            seg = i / 4096, k = 0;
        uint32_t f = (!(w & cc.mask_s) ? DDX_CAND_S : 0) | (!(w & cc.mask_l) ? DDX_CAND_L : 0);
        if (!f)
            continue;
        if (k < 32 && cands[seg * 32 + k] != ((uint32_t)i | f))
            die("candidate list differs from the CPU reference%s%s", "", "");
        k++;
    }
    for (int r = 0; r < reps; r++) {
        if (r == 0) {
            check(ops->scan_submit(g[1], 0, batch, 0), "copy", NULL);
            check(ops->scan_wait(g[1], 0, &counts, &cands), "copy wait", NULL);
        }
        ops->times(g[1], &a);
        check(ops->hash_submit(g[1], 0, nch), "sha1", NULL);
        check(ops->hash_wait(g[1], 0, &dig), "sha1 wait", NULL);
        ops->times(g[1], &b);
        sha1[r] = (double)batch / (b.kernel_s - a.kernel_s) / 1e9;
    }
    double m[4] = {median(h2d, reps), median(scan, reps), median(sha256, reps), median(sha1, reps)};
    printf("%-34s %10s\n", "measurement (device timers)", "GB/s");
    printf("%-34s %10.2f\n", "host->device, pinned", m[0]);
    printf("%-34s %10.2f\n", "gear candidate scan, resident", m[1]);
    printf("%-34s %10.2f\n", "sha256 chunks, resident", m[2]);
    printf("%-34s %10.2f\n", "sha1 chunks, resident", m[3]);
    printf("(%zu chunks; digests and candidates checked against the CPU)\n", nch);
    if (json) {
        FILE *f = fopen(json, "w");
        if (!f)
            die("%s: %s", json, strerror(errno));
        fprintf(f,
                "{\"schema\": \"ddx.gpubench/1\", \"backend\": \"%s\", \"device\": \"%s\", "
                "\"batch_bytes\": %zu, \"chunk_avg\": %u, \"chunks\": %zu, \"reps\": %d, "
                "\"h2d_GBps\": %.3f, \"scan_GBps\": %.3f, \"sha256_GBps\": %.3f, "
                "\"sha1_GBps\": %.3f}\n",
                ops->name, ops->device_name(g[0]), batch, avg, nch, reps, m[0], m[1], m[2], m[3]);
        fclose(f);
    }
    ops->close(g[0]);
    ops->close(g[1]);
    free(h2d), free(scan), free(sha256), free(sha1);
    return 0;
}
