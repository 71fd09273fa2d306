/*
 * testutil.h - shared helpers for the C tests: a seeded PRNG (the seed is
 * printed, DDX_TEST_SEED reproduces a run) and the input classes every fast
 * path is tested on (random, zero, periodic, text, real).
 */
#ifndef DDX_TESTUTIL_H
#define DDX_TESTUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Messages flush against inaccessible pages, so that a read outside
 * [p, p + len) faults in every build, not only under ASan: n slots of
 * span_pages pages, each followed by a PROT_NONE page (and one before the
 * first). tu_guard_at(g, i, len): where a len-byte message goes in slot i,
 * starting right after the guard before it (even i) or ending right at the
 * one after it (odd i). Aborts if the mapping fails. */
typedef struct tu_guard {
    uint8_t *map;
    size_t total, span, slot, page;
} tu_guard;

static inline void tu_guard_init(tu_guard *g, size_t n, size_t span_pages)
{
    g->page = (size_t)sysconf(_SC_PAGESIZE);
    g->span = span_pages * g->page;
    g->slot = g->span + g->page;
    g->total = g->page + n * g->slot;
    g->map = mmap(NULL, g->total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int bad = g->map == MAP_FAILED || mprotect(g->map, g->page, PROT_NONE);
    for (size_t i = 0; !bad && i < n; i++)
        bad = mprotect(g->map + g->page + i * g->slot + g->span, g->page, PROT_NONE);
    if (bad) {
        perror("tu_guard_init");
        abort();
    }
}

static inline uint8_t *tu_guard_at(const tu_guard *g, size_t i, size_t len)
{
    uint8_t *lo = g->map + g->page + i * g->slot;
    return i % 2 == 0 ? lo : lo + g->span - len;
}

static inline void tu_guard_free(tu_guard *g)
{
    munmap(g->map, g->total);
}

/* Scratch directories for tests that write files: a fresh
 * /tmp/ddx-NAME-XXXXXX (malloc'd), removed whole by tu_rmrf(); tu_join()
 * gives DIR/NAME (malloc'd). They abort on failure: a test cannot go on. */
static inline char *tu_mktmp(const char *name)
{
    char *d = malloc(strlen(name) + 32);
    if (!d || (sprintf(d, "/tmp/ddx-%s-XXXXXX", name), !mkdtemp(d))) {
        perror("tu_mktmp");
        abort();
    }
    return d;
}

static inline void tu_rmrf(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "tu_rmrf: %s failed\n", cmd);
        abort();
    }
}

static inline char *tu_join(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    if (!p)
        abort();
    sprintf(p, "%s/%s", dir, name);
    return p;
}

static inline uint64_t tu_splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The seed for this run: DDX_TEST_SEED if set, else a fixed default. Printed
 * once so a failure can be replayed. */
static inline uint64_t tu_seed(void)
{
    static uint64_t seed;
    static int done;
    if (!done) {
        const char *s = getenv("DDX_TEST_SEED");
        seed = s ? strtoull(s, NULL, 0) : 0x5eed2026ull;
        fprintf(stderr, "test seed: 0x%llx (set DDX_TEST_SEED to replay)\n",
                (unsigned long long)seed);
        done = 1;
    }
    return seed;
}

/* malloc that never returns NULL (a test cannot go on without the memory);
 * malloc(0) still gives a unique pointer. */
static inline void *tu_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "test: out of memory allocating %zu bytes\n", n);
        abort();
    }
    return p;
}

/* n bytes as lowercase hex into out (2n + 1 bytes): failures print digests. */
static inline void tu_hex(const uint8_t *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

static inline void tu_fill_random(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = tu_splitmix(&s);
        memcpy(p + i, &v, n - i < 8 ? n - i : 8);
    }
}

enum tu_class { TU_RANDOM, TU_ZERO, TU_PERIODIC, TU_TEXT, TU_REAL, TU_NCLASS };
static const char *const tu_class_name[TU_NCLASS] = {"random", "zero", "periodic", "text", "real"};

/* Fill n bytes of the given class. "real" reads the test binary itself (real
 * machine code and data), repeated with a seeded rotation if it is short. */
static inline void tu_fill(uint8_t *p, size_t n, enum tu_class c, uint64_t seed)
{
    switch (c) {
    case TU_RANDOM:
        tu_fill_random(p, n, seed);
        break;
    case TU_ZERO:
        memset(p, 0, n);
        break;
    case TU_PERIODIC: {
        uint8_t pat[1000];
        tu_fill_random(pat, sizeof pat, seed);
        for (size_t i = 0; i < n; i++)
            p[i] = pat[i % 997];
        break;
    }
    case TU_TEXT: {
        static const char *const words[] = {"the ",  "chunk ", "index ",  "of ",
                                            "data ", "and ",   "backup ", "store ",
                                            "\n",    "log ",   "a ",      "version "};
        uint64_t s = seed;
        size_t i = 0;
        while (i < n) {
            const char *w = words[tu_splitmix(&s) % 12];
            for (; *w && i < n; w++)
                p[i++] = (uint8_t)*w;
        }
        break;
    }
    case TU_REAL: {
        FILE *f = fopen("/proc/self/exe", "rb");
        size_t got = f ? fread(p, 1, n, f) : 0;
        if (f)
            fclose(f);
        if (got == 0) {
            tu_fill_random(p, n, seed);
            break;
        }
        for (size_t i = got; i < n; i++)
            p[i] = p[(i - got + (seed % got)) % got];
        break;
    }
    default:
        break;
    }
}

#endif
