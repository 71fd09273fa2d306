/*
 * store_testutil.h - helpers shared by the store tests (test_store.c,
 * test_store_faults.c): versioned test data, and init / open / get with a
 * Criterion assertion that names the step (`what`) on failure.
 */
#ifndef DDX_STORE_TESTUTIL_H
#define DDX_STORE_TESTUTIL_H

#include <criterion/criterion.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ddx.h"
#include "testutil.h"

/* Version k of a test stream: a base of mixed classes with k small edits,
 * so consecutive versions share most chunks. */
static inline uint8_t *stu_version_bytes(uint64_t seed, unsigned k, size_t n)
{
    uint8_t *p = tu_xmalloc(n);
    size_t q = n / 4;
    tu_fill(p, q, TU_RANDOM, seed);
    tu_fill(p + q, q, TU_TEXT, seed + 1);
    tu_fill(p + 2 * q, q, TU_REAL, seed + 2);
    tu_fill(p + 3 * q, n - 3 * q, TU_RANDOM, seed + 3);
    uint64_t s = seed ^ 0xabcdef;
    for (unsigned i = 0; i < k; i++) {
        size_t at = tu_splitmix(&s) % n, len = 1 + tu_splitmix(&s) % 3000;
        for (size_t j = at; j < at + len && j < n; j++)
            p[j] = (uint8_t)tu_splitmix(&s);
    }
    return p;
}

/* A store with the default parameters; meta NULL: DIR/meta; container 0:
 * the default size. */
static inline void stu_init(const char *dir, const char *meta, uint32_t container)
{
    ddx_store_params p;
    ddx_store_default_params(&p);
    p.meta_dir = meta;
    if (container)
        p.container_bytes = container;
    char why[512];
    int rc = ddx_store_init(dir, &p, why, sizeof why);
    cr_assert_eq(rc, 0, "init %s: %s", dir, why);
}

static inline ddx_store *stu_open(const char *dir, unsigned flags, const char *what)
{
    ddx_store *s;
    char why[512];
    int rc = ddx_store_open(&s, dir, flags, why, sizeof why);
    cr_assert_eq(rc, 0, "%s: open %s: %s (%s)", what, dir, ddx_strerror(rc), why);
    return s;
}

/* Restore name@n through a file and compare it with want[0, len). */
static inline void stu_check_get(ddx_store *s, const char *name, uint32_t n, const uint8_t *want,
                                 size_t len, const char *what)
{
    char path[] = "/tmp/ddx-get-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    unlink(path);
    int rc = ddx_store_get(s, name, n, fd);
    cr_assert_eq(rc, 0, "%s: get %s@%u: %s (%s)", what, name, n, ddx_strerror(rc),
                 ddx_store_errmsg(s));
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    cr_assert_eq((size_t)st.st_size, len, "%s: get %s@%u: %lld bytes, want %zu", what, name, n,
                 (long long)st.st_size, len);
    uint8_t *got = tu_xmalloc(len);
    cr_assert_eq(pread(fd, got, len, 0), (ssize_t)len);
    cr_assert(len == 0 || memcmp(got, want, len) == 0, "%s: get %s@%u: bytes differ", what, name,
              n);
    free(got);
    close(fd);
}

#endif
