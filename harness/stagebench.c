/*
 * stagebench.c - single-thread rate of each pipeline stage's kernel on the
 * bytes of a file: the chunkers' find loops, the fingerprints over the chunks
 * FastCDC cuts, index inserts, and memcpy (the reader's copy). These are the
 * per-core ceilings the pipeline's end-to-end rate is compared against.
 *
 *   stagebench [--max-bytes MIB] [--reps N] FILE     prints JSON to stdout
 *
 * Every usable implementation in the registry is measured (chunkers over the
 * whole buffer; hashes over the FastCDC chunks, and over 8 KiB messages in
 * batches of 64 as "hash.NAME.8k"). Uses the internal kernel headers
 * (chunk_impl.h, hash_impl.h): unstable.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chunk_impl.h"
#include "hash_impl.h"
#include "index.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, dcmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static volatile uint64_t sink;

int main(int argc, char **argv)
{
    size_t maxb = 512u << 20;
    int reps = 5;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--max-bytes") && i + 1 < argc) {
            char *end;
            unsigned long long v = strtoull(argv[++i], &end, 10);
            if (*end || v == 0 || v > (1u << 16)) {
                fprintf(stderr, "stagebench: --max-bytes: expected MiB in 1..65536, got '%s'\n",
                        argv[i]);
                return 2;
            }
            maxb = (size_t)v << 20;
        } else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else {
            fprintf(stderr, "usage: stagebench [--max-bytes MIB] [--reps N] FILE\n");
            return 2;
        }
    }
    if (!path || reps < 1 || reps > 100) {
        fprintf(stderr, "usage: stagebench [--max-bytes MIB] [--reps N] FILE\n");
        return 2;
    }
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "stagebench: %s: %s\n", path, strerror(errno));
        return 1;
    }
    uint8_t *buf = malloc(maxb), *dst = malloc(4u << 20);
    size_t n = 0;
    ssize_t r;
    while (buf && dst && n < maxb && (r = read(fd, buf + n, maxb - n)) > 0)
        n += (size_t)r;
    close(fd);
    if (!buf || !dst || n == 0) {
        fprintf(stderr, "stagebench: %s: empty or unreadable\n", path);
        return 1;
    }
    double t[100];
    printf("{\n  \"schema\": \"ddx.stagebench/1\",\n  \"bytes\": %zu,\n  \"reps\": %d,\n", n, reps);
    printf("  \"rates_bytes_per_s\": {\n");

    /* every usable chunker implementation, 2K/8K/64K (RAM: avg 8K, max 64K) */
    size_t ncuts = 0, nci;
    uint64_t *cuts = malloc(sizeof(uint64_t) * (n / 64 + 2));
    const ddx_chunk_impl *ci = ddx_chunk_impls(&nci);
    for (size_t c = 0; c < nci; c++) {
        ddx_chunk_cfg cfg;
        if (ddx_chunk_cfg_init(&cfg, ci[c].kind, 2048, 8192, 65536, 1, 0, NULL) ||
            ddx_chunk_impl_select(&cfg, ci[c].name, NULL))
            continue; /* not runnable here */
        int fast = ci[c].kind == DDX_CHUNKER_FASTCDC && ncuts == 0;
        /* i = -1: one untimed pass first. Without it the first kernel of the
         * run came out 10-25 % slow in every run (3.49, 2.76 and 2.61 GB/s
         * for fastcdc2020-ilp, against 4.2-4.4 walking the same bytes in a
         * loop of its own). */
        for (int i = -1; i < reps; i++) {
            double t0 = now();
            size_t pos = 0, k = 0;
            while (pos < n) {
                pos += cfg.find(&cfg, buf + pos, n - pos, 1);
                if (fast)
                    cuts[k] = pos;
                k++;
            }
            if (i >= 0)
                t[i] = now() - t0;
            if (fast)
                ncuts = k;
            sink += k;
        }
        printf("    \"chunk.%s\": %.0f,\n", ci[c].name, (double)n / median(t, reps));
    }
    /* every usable hash implementation (references excluded), over the
     * FastCDC chunks of the same bytes and over 8 KiB messages, 64 per call */
    size_t nhi;
    const ddx_hash_impl *hi = ddx_hash_impls(&nhi);
    ddx_hash_msg *msgs = malloc(sizeof *msgs * (ncuts + n / 8192 + 1));
    uint8_t *out = malloc(32 * (ncuts + n / 8192 + 1));
    for (size_t h = 0; h < nhi; h++) {
        if (!ddx_hash_impl_usable(&hi[h]) || strstr(hi[h].name, "-ref"))
            continue;
        for (int shape = 0; shape < 2; shape++) {
            size_t nm = 0;
            if (shape == 0)
                for (size_t k = 0; k < ncuts; k++) {
                    size_t st = k ? cuts[k - 1] : 0;
                    msgs[nm].p = buf + st;
                    msgs[nm++].len = cuts[k] - st;
                }
            else
                for (size_t o = 0; o + 8192 <= n; o += 8192) {
                    msgs[nm].p = buf + o;
                    msgs[nm++].len = 8192;
                }
            size_t bytes = 0;
            for (size_t k = 0; k < nm; k++)
                bytes += msgs[k].len;
            for (int i = -1; i < reps; i++) { /* -1: untimed, as above */
                double t0 = now();
                for (size_t k = 0; k < nm; k += 64)
                    hi[h].batch(msgs + k, nm - k < 64 ? nm - k : 64, out + k * 32);
                if (i >= 0)
                    t[i] = now() - t0;
            }
            printf("    \"hash.%s%s\": %.0f,\n", hi[h].name, shape ? ".8k" : "",
                   (double)bytes / median(t, reps));
        }
    }
    free(msgs);
    free(out);
    /* memcpy in 4 MiB pieces: the reader's copy into batch buffers */
    for (int i = 0; i < reps; i++) {
        double t0 = now();
        for (size_t p = 0; p < n; p += 4u << 20) {
            size_t l = n - p < (4u << 20) ? n - p : (4u << 20);
            memcpy(dst, buf + p, l);
            sink += dst[l - 1];
        }
        t[i] = now() - t0;
    }
    printf("    \"read.memcpy\": %.0f,\n", (double)n / median(t, reps));
    /* index: one insert per chunk; bytes/s at the mean FastCDC chunk size */
    double mean = (double)n / (double)ncuts;
    size_t ni = 1u << 20;
    uint8_t *fps = malloc(ni * 32);
    uint64_t s = 12345;
    for (size_t i = 0; i < ni * 4; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        memcpy(fps + i * 8, &s, 8);
    }
    for (int i = 0; i < reps; i++) {
        ddx_index *ix;
        ddx_index_thread th;
        if (ddx_index_create(&ix, 32, ni))
            return 1;
        ddx_index_register(ix, &th);
        ddx_index_enter(ix, &th);
        double t0 = now();
        for (size_t k = 0; k < ni; k++)
            sink += (uint64_t)ddx_index_insert(ix, fps + k * 32, k, NULL);
        t[i] = now() - t0;
        ddx_index_leave(ix, &th);
        ddx_index_unregister(ix, &th);
        ddx_index_destroy(ix);
    }
    double ips = (double)ni / median(t, reps);
    printf("    \"index.insert\": %.0f\n  },\n", ips * mean);
    printf("  \"index_inserts_per_s\": %.0f,\n  \"fastcdc_chunks\": %zu,\n", ips, ncuts);
    printf("  \"fastcdc_mean_chunk\": %.1f\n}\n", mean);
    free(fps);
    free(cuts);
    free(buf);
    free(dst);
    return 0;
}
