/*
 * test_store_faults.c - the persistent store under injected I/O failures.
 *
 * An injecting ddx_io table (store_io.h) wraps the default one: it counts
 * and traces every call, can fail the N-th call of a kind (open, pwrite,
 * fdatasync, fsync, ftruncate, unlink) with ENOSPC or EIO, or make the N-th
 * pwrite short and then fail or pass the retry. Each case restores a
 * snapshot of the store, fails one call of an operation (put, rm, gc, a
 * recovering open), checks the error (code, and a message naming the file
 * and the errno), checks that the handle refuses further writes, reopens
 * and checks that exactly the acknowledged state is there, restores
 * byte-exact, verifies clean, and takes a new write.
 *
 * The same table is a durability oracle. It keeps, per file, the bytes
 * written since the last successful sync and the bytes whose sync failed
 * (Linux marks such pages clean: they read back fine, may never reach the
 * disk, and a second fdatasync reports success - "fsyncgate"; only writing
 * them again makes them durable). A log write while a container holds such
 * bytes, or a superblock write while a container or the log does, breaks
 * the commit order (docs/format.md) and fails the case, even though nothing
 * can be seen without a real power cut.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ddx.h"
#include "store_io.h"
#include "store_testutil.h"
#include "testutil.h"

/* ---- the injecting, tracing I/O table ------------------------------------------ */

enum kind { K_OPEN, K_PREAD, K_PWRITE, K_FDATASYNC, K_FSYNC, K_FTRUNCATE, K_RENAME, K_UNLINK, K_N };
static const char *const kind_name[K_N] = {"open",  "pread",     "pwrite", "fdatasync",
                                           "fsync", "ftruncate", "rename", "unlink"};
/* The kinds faults are injected into (reads and rename are only counted). */
static const int fault_kinds[] = {K_PWRITE, K_FDATASYNC, K_FSYNC, K_FTRUNCATE, K_OPEN, K_UNLINK};
#define NFAULT_KINDS (sizeof fault_kinds / sizeof fault_kinds[0])

enum mode {
    FAIL,         /* the call fails with err */
    SHORT_ENOSPC, /* pwrite writes half, the retry fails with ENOSPC */
    SHORT_OK,     /* pwrite writes half, the retry goes through */
};

#define REL_MAX 96
typedef struct call {
    int kind;
    char rel[REL_MAX]; /* the target, relative to the store directory */
} call;

typedef struct fault {
    int kind, mode, err, fired;
    unsigned nth; /* 1-based, among calls of kind */
} fault;

/* Per-file durability state: half-open byte ranges (hulls; empty: lo == hi). */
typedef struct fstate {
    int used;
    char rel[REL_MAX];
    uint64_t dlo, dhi; /* written since the last successful sync */
    uint64_t llo, lhi; /* a sync over them failed; not written again since */
    int unnamed;       /* created; the directory entry is not synced yet */
} fstate;

#define TRACE_MAX 8192
#define MAX_FILES 512
#define MAX_FAULTS 4

static struct {
    const ddx_io *base;
    int real_sync;       /* pass syncs to the system (DDX_TEST_REAL_SYNC) */
    char root[PATH_MAX]; /* the store directory (canonical) */
    size_t rootlen;
    fault f[MAX_FAULTS];
    size_t nf;
    int short_pending; /* the next pwrite is the retry of a short one: ENOSPC */
    long fault_at;     /* trace index of the first fired fault, -1 if none */
    unsigned count[K_N];
    call trace[TRACE_MAX];
    size_t ntrace;
    fstate fs[MAX_FILES];
    unsigned violations;
    char violation[600]; /* the first one */
} g;

static void set_root(const char *dir)
{
    cr_assert(realpath(dir, g.root), "%s: %s", dir, strerror(errno));
    g.rootlen = strlen(g.root);
}

static void to_rel(const char *path, char *rel)
{
    const char *r = path;
    if (!strncmp(path, g.root, g.rootlen) && (path[g.rootlen] == '/' || !path[g.rootlen]))
        r = path + g.rootlen + (path[g.rootlen] == '/');
    size_t n = strlen(r) < REL_MAX - 1 ? strlen(r) : REL_MAX - 1;
    memcpy(rel, r, n);
    rel[n] = 0;
    char *d = strstr(rel, " (deleted)");
    if (d)
        *d = 0;
}

static void fd_rel(int fd, char *rel)
{
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    path[n > 0 ? n : 0] = 0;
    to_rel(path, rel);
}

static int ends_with(const char *s, const char *t)
{
    size_t a = strlen(s), b = strlen(t);
    return a >= b && !strcmp(s + a - b, t);
}

static int is_ctr(const char *rel)
{
    return ends_with(rel, ".ctr");
}

static int is_log(const char *rel)
{
    return !strcmp(rel, "meta/log") || !strncmp(rel, "meta/log.", 9); /* and generations */
}

static int is_super(const char *rel)
{
    return !strcmp(rel, "meta/super");
}

static fstate *file(const char *rel, int create)
{
    fstate *free_slot = NULL;
    for (size_t i = 0; i < MAX_FILES; i++) {
        if (g.fs[i].used && !strcmp(g.fs[i].rel, rel))
            return &g.fs[i];
        if (!g.fs[i].used && !free_slot)
            free_slot = &g.fs[i];
    }
    if (!create)
        return NULL;
    cr_assert(free_slot, "oracle: more than %d files", MAX_FILES);
    memset(free_slot, 0, sizeof *free_slot);
    free_slot->used = 1;
    snprintf(free_slot->rel, REL_MAX, "%s", rel);
    return free_slot;
}

static int iv_empty(uint64_t lo, uint64_t hi)
{
    return lo >= hi;
}

static void iv_add(uint64_t *lo, uint64_t *hi, uint64_t a, uint64_t b)
{
    if (a >= b)
        return;
    if (iv_empty(*lo, *hi))
        *lo = a, *hi = b;
    else {
        *lo = a < *lo ? a : *lo;
        *hi = b > *hi ? b : *hi;
    }
}

/* Remove [a, b) from a hull: exactly where it covers an end, else keep the
 * hull (conservative: bytes are only ever considered more at risk). */
static void iv_cut(uint64_t *lo, uint64_t *hi, uint64_t a, uint64_t b)
{
    if (iv_empty(*lo, *hi) || b <= *lo || a >= *hi)
        return;
    if (a <= *lo && b >= *hi)
        *lo = *hi = 0;
    else if (a <= *lo)
        *lo = b;
    else if (b >= *hi)
        *hi = a;
}

static void iv_clip(uint64_t *lo, uint64_t *hi, uint64_t len)
{
    if (*hi > len)
        *hi = len;
    if (iv_empty(*lo, *hi))
        *lo = *hi = 0;
}

static void oracle_reset(void)
{
    memset(g.fs, 0, sizeof g.fs);
    g.violations = 0;
    g.violation[0] = 0;
}

static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void violation(const char *fmt, ...)
{
    if (g.violations++)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g.violation, sizeof g.violation, fmt, ap);
    va_end(ap);
}

/* About to write rel: the commit order says what must be durable first. */
static void oracle_before_write(const char *rel)
{
    int to_log = is_log(rel), to_super = is_super(rel);
    if (!to_log && !to_super)
        return;
    for (size_t i = 0; i < MAX_FILES; i++) {
        const fstate *f = &g.fs[i];
        if (!f->used || !(is_ctr(f->rel) || (to_super && is_log(f->rel))))
            continue;
        char why[128] = "";
        if (f->unnamed)
            snprintf(why, sizeof why, "is a new file whose directory entry was not synced");
        else if (!iv_empty(f->dlo, f->dhi))
            snprintf(why, sizeof why, "bytes %llu..%llu are written and not synced",
                     (unsigned long long)f->dlo, (unsigned long long)f->dhi);
        else if (!iv_empty(f->llo, f->lhi))
            snprintf(why, sizeof why,
                     "bytes %llu..%llu were not written again since their sync failed",
                     (unsigned long long)f->llo, (unsigned long long)f->lhi);
        if (why[0])
            violation("call %zu: %s written while %s %s", g.ntrace, rel, f->rel, why);
    }
}

static void oracle_wrote(const char *rel, uint64_t off, uint64_t n)
{
    fstate *f = file(rel, 1);
    iv_cut(&f->llo, &f->lhi, off, off + n); /* written again: dirty, no longer lost */
    iv_add(&f->dlo, &f->dhi, off, off + n);
}

static void oracle_synced(const char *rel, int ok)
{
    fstate *f = file(rel, 1);
    if (!ok)
        iv_add(&f->llo, &f->lhi, f->dlo, f->dhi);
    f->dlo = f->dhi = 0;
    if (ok) { /* a directory: the names of new files in it are durable */
        size_t n = strlen(rel);
        for (size_t i = 0; i < MAX_FILES; i++)
            if (g.fs[i].used && !strncmp(g.fs[i].rel, rel, n) && g.fs[i].rel[n] == '/')
                g.fs[i].unnamed = 0;
    }
}

/* Record a call; returns the fault to inject into it, or NULL. */
static fault *hit(int kind, const char *rel)
{
    unsigned n = ++g.count[kind];
    size_t at = g.ntrace;
    if (g.ntrace < TRACE_MAX) {
        call *c = &g.trace[g.ntrace++];
        c->kind = kind;
        snprintf(c->rel, REL_MAX, "%s", rel);
    }
    for (size_t i = 0; i < g.nf; i++)
        if (!g.f[i].fired && g.f[i].kind == kind && g.f[i].nth == n) {
            g.f[i].fired = 1;
            if (g.fault_at < 0)
                g.fault_at = (long)at;
            return &g.f[i];
        }
    return NULL;
}

static int x_open(const char *path, int flags, mode_t mode)
{
    char rel[REL_MAX];
    to_rel(path, rel);
    fault *f = hit(K_OPEN, rel);
    if (f) {
        errno = f->err;
        return -1;
    }
    int fresh = (flags & O_CREAT) && access(path, F_OK) != 0;
    int fd = g.base->open(path, flags, mode);
    if (fd >= 0 && (fresh || (flags & O_TRUNC))) {
        fstate *s = file(rel, 1);
        s->dlo = s->dhi = s->llo = s->lhi = 0;
        s->unnamed |= fresh;
    }
    return fd;
}

static ssize_t x_pread(int fd, void *p, size_t n, off_t off)
{
    char rel[REL_MAX];
    fd_rel(fd, rel);
    hit(K_PREAD, rel);
    return g.base->pread(fd, p, n, off);
}

static ssize_t x_pwrite(int fd, const void *p, size_t n, off_t off)
{
    char rel[REL_MAX];
    fd_rel(fd, rel);
    if (g.short_pending) { /* the retry after a short write: the device is full */
        g.short_pending = 0;
        hit(K_PWRITE, rel);
        errno = ENOSPC;
        return -1;
    }
    oracle_before_write(rel);
    fault *f = hit(K_PWRITE, rel);
    if (f && f->mode == FAIL) {
        errno = f->err;
        return -1;
    }
    if (f && n >= 2) {
        n /= 2;
        g.short_pending = f->mode == SHORT_ENOSPC;
    }
    ssize_t w = g.base->pwrite(fd, p, n, off);
    if (w > 0)
        oracle_wrote(rel, (uint64_t)off, (uint64_t)w);
    return w;
}

static int sync_call(int kind, int fd)
{
    char rel[REL_MAX];
    fd_rel(fd, rel);
    fault *f = hit(kind, rel);
    int rc = -1;
    if (f)
        errno = f->err;
    else if (!g.real_sync)
        rc = 0; /* see inj_install */
    else
        rc = kind == K_FSYNC ? g.base->fsync(fd) : g.base->fdatasync(fd);
    oracle_synced(rel, rc == 0);
    return rc;
}

static int x_fdatasync(int fd)
{
    return sync_call(K_FDATASYNC, fd);
}

static int x_fsync(int fd)
{
    return sync_call(K_FSYNC, fd);
}

static int x_ftruncate(int fd, off_t len)
{
    char rel[REL_MAX];
    fd_rel(fd, rel);
    fault *f = hit(K_FTRUNCATE, rel);
    if (f) {
        errno = f->err;
        return -1;
    }
    int rc = g.base->ftruncate(fd, len);
    if (rc == 0) {
        fstate *s = file(rel, 1);
        iv_clip(&s->dlo, &s->dhi, (uint64_t)len);
        iv_clip(&s->llo, &s->lhi, (uint64_t)len);
    }
    return rc;
}

static int x_rename(const char *from, const char *to)
{
    char rel[REL_MAX];
    to_rel(from, rel);
    hit(K_RENAME, rel);
    return g.base->rename(from, to);
}

static int x_unlink(const char *path)
{
    char rel[REL_MAX];
    to_rel(path, rel);
    fault *f = hit(K_UNLINK, rel);
    if (f) {
        errno = f->err;
        return -1;
    }
    int rc = g.base->unlink(path);
    fstate *s = rc == 0 ? file(rel, 0) : NULL;
    if (s)
        s->used = 0;
    return rc;
}

static const ddx_io inj_io = {x_open,  x_pread,     x_pwrite, x_fdatasync,
                              x_fsync, x_ftruncate, x_rename, x_unlink};

/* Install the table over the default one (taken first, and wrapped). Syncs
 * are counted, traced, failed and modelled by the oracle, but not passed on
 * unless DDX_TEST_REAL_SYNC is set: no case here cuts the power, so a real
 * fdatasync changes nothing the tests can see, and they cost 85% of the run
 * time on ext4. */
static void inj_install(void)
{
    g.real_sync = getenv("DDX_TEST_REAL_SYNC") != NULL;
    g.base = ddx_io_get();
    cr_assert(g.base != &inj_io);
    ddx_io_set(&inj_io);
}

/* Forget counts, trace and faults (the oracle's file states stay). */
static void inj_reset(void)
{
    memset(g.count, 0, sizeof g.count);
    g.ntrace = 0;
    g.nf = 0;
    g.short_pending = 0;
    g.fault_at = -1;
}

static void inj_arm(int kind, unsigned nth, int err, int mode)
{
    cr_assert(g.nf < MAX_FAULTS);
    g.f[g.nf++] = (fault){kind, mode, err, 0, nth};
}

static void assert_no_violation(const char *what)
{
    cr_assert_eq(g.violations, 0, "%s: commit order broken (%u times); first: %s", what,
                 g.violations, g.violation);
}

/* ---- files and stores -------------------------------------------------------------- */

static char *mktmp(void)
{
    char t[] = "/tmp/ddx-faults-XXXXXX";
    cr_assert(mkdtemp(t));
    char *r = realpath(t, NULL); /* error messages name canonical paths */
    cr_assert(r);
    return r;
}

static char *join(const char *a, const char *b)
{
    char *p = tu_xmalloc(strlen(a) + strlen(b) + 2);
    sprintf(p, "%s/%s", a, b);
    return p;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static void rm_tree(const char *d)
{
    if (access(d, F_OK) == 0)
        cr_assert_eq(nftw(d, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0, "rm %s: %s", d, strerror(errno));
}

static void copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    cr_assert(in >= 0 && out >= 0, "copy %s -> %s: %s", from, to, strerror(errno));
    char b[1 << 16];
    ssize_t r;
    while ((r = read(in, b, sizeof b)) > 0)
        cr_assert_eq(write(out, b, (size_t)r), r);
    cr_assert_eq(r, 0);
    close(in);
    close(out);
}

static void copy_tree(const char *from, const char *to)
{
    cr_assert_eq(mkdir(to, 0755), 0, "%s: %s", to, strerror(errno));
    DIR *d = opendir(from);
    cr_assert(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char *a = join(from, de->d_name), *b = join(to, de->d_name);
        struct stat st;
        cr_assert_eq(lstat(a, &st), 0);
        if (S_ISDIR(st.st_mode))
            copy_tree(a, b);
        else
            copy_file(a, b);
        free(a), free(b);
    }
    closedir(d);
}

/* The store's metadata lives at DIR/meta, named by an absolute path in
 * DIR/ddx-store: a snapshot is restored to the same path, never opened
 * where it lies. */
static void restore(const char *snap, const char *dir)
{
    rm_tree(dir);
    copy_tree(snap, dir);
    oracle_reset(); /* the restored files count as durable */
}

static off_t file_size(const char *dir, const char *rel)
{
    char *p = join(dir, rel);
    struct stat st;
    cr_assert_eq(stat(p, &st), 0, "%s: %s", p, strerror(errno));
    free(p);
    return st.st_size;
}

static void append_junk(const char *dir, const char *rel, size_t n, uint64_t seed)
{
    char *p = join(dir, rel);
    int fd = open(p, O_WRONLY | O_APPEND | O_CREAT, 0644);
    cr_assert(fd >= 0, "%s: %s", p, strerror(errno));
    uint8_t *b = tu_xmalloc(n);
    tu_fill_random(b, n, seed);
    cr_assert_eq(write(fd, b, n), (ssize_t)n);
    close(fd);
    free(b), free(p);
}

/* Version k of a test stream: a base of mixed classes with k small edits,
 * so consecutive versions share most chunks (as in test_store.c). */
#define version_bytes stu_version_bytes
#define init_store(dir, container) stu_init(dir, NULL, container)
#define open_store stu_open
#define check_get stu_check_get

/* Bytes the store has never seen: every chunk new. */
static uint8_t *unique_bytes(uint64_t seed, size_t n)
{
    uint8_t *p = tu_xmalloc(n);
    tu_fill_random(p, n, seed);
    return p;
}

static void put(ddx_store *s, const char *name, const uint8_t *p, size_t n, const char *what)
{
    int rc = ddx_store_put_mem(s, name, p, n, NULL);
    cr_assert_eq(rc, 0, "%s: put %s: %s (%s)", what, name, ddx_strerror(rc), ddx_store_errmsg(s));
}

typedef struct want {
    const char *name;
    uint32_t number;
    const uint8_t *p;
    size_t n;
} want;

/* Exactly the versions w[0..nw) are live, in this order, and restore
 * byte-exact; verify is clean. */
static void check_versions(ddx_store *s, const want *w, size_t nw, const char *what)
{
    ddx_version_info vi;
    size_t k = 0;
    for (; ddx_store_version(s, k, &vi) == 0; k++) {
        cr_assert_lt(k, nw, "%s: unexpected version %s@%u", what, vi.name, vi.number);
        cr_assert(!strcmp(vi.name, w[k].name) && vi.number == w[k].number,
                  "%s: version %zu is %s@%u, want %s@%u", what, k, vi.name, vi.number, w[k].name,
                  w[k].number);
        cr_assert_eq(vi.bytes, w[k].n, "%s: %s@%u has %llu bytes", what, vi.name, vi.number,
                     (unsigned long long)vi.bytes);
    }
    cr_assert_eq(k, nw, "%s: %zu live versions, want %zu", what, k, nw);
    for (size_t i = 0; i < nw; i++)
        check_get(s, w[i].name, w[i].number, w[i].p, w[i].n, what);
    ddx_verify_stats vs;
    int rc = ddx_store_verify(s, NULL, NULL, &vs);
    cr_assert_eq(rc, 0, "%s: verify: %s (%s)", what, ddx_strerror(rc), ddx_store_errmsg(s));
    cr_assert_eq(vs.damaged_chunks, 0);
}

/* ---- cases ------------------------------------------------------------------------- */
/* Every test has the same .timeout: Criterion 2.4.1's runner leaks when
 * tests with different timeouts run in parallel, and LSan then fails the
 * sanitizer build's run. */

typedef struct put_ctx {
    const char *name;
    const uint8_t *p;
    size_t n;
} put_ctx;

static int op_put(ddx_store *s, void *ctx)
{
    put_ctx *c = ctx;
    return ddx_store_put_mem(s, c->name, c->p, c->n, NULL);
}

/* Calls of each kind up to 40, then every 7th: bounded time per test. */
static int pick(unsigned nth)
{
    return nth <= 40 || (nth - 40) % 7 == 0;
}

typedef struct trace_copy {
    call *c;
    size_t n;
    unsigned count[K_N];
} trace_copy;

static void keep_trace(trace_copy *t)
{
    cr_assert_lt(g.ntrace, TRACE_MAX, "trace overflow");
    t->c = tu_xmalloc(g.ntrace * sizeof *t->c);
    memcpy(t->c, g.trace, g.ntrace * sizeof *t->c);
    t->n = g.ntrace;
    memcpy(t->count, g.count, sizeof t->count);
}

/* Index in t of the nth call of kind (1-based). */
static size_t nth_call(const trace_copy *t, int kind, unsigned nth)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->c[i].kind == kind && --nth == 0)
            return i;
    cr_assert_fail("no call %u of kind %s", nth, kind_name[kind]);
    return 0;
}

/* The faulted run followed the dry run's calls up to the fault. */
static void check_same_path(const trace_copy *dry, const char *what)
{
    cr_assert_geq(g.fault_at, 0, "%s: the fault was never reached", what);
    cr_assert_leq((size_t)g.fault_at, dry->n);
    for (long i = 0; i <= g.fault_at; i++)
        cr_assert(g.trace[i].kind == dry->c[i].kind && !strcmp(g.trace[i].rel, dry->c[i].rel),
                  "%s: call %ld is %s %s, the dry run's was %s %s", what, i,
                  kind_name[g.trace[i].kind], g.trace[i].rel, kind_name[dry->c[i].kind],
                  dry->c[i].rel);
}

static const char *fault_desc(char *b, size_t n, const char *op, int kind, unsigned nth,
                              const char *rel, int err, int mode)
{
    snprintf(b, n, "%s: %s #%u on %s: %s", op, kind_name[kind], nth, rel,
             mode == SHORT_ENOSPC ? "short write, then ENOSPC"
             : mode == SHORT_OK   ? "short write, then the rest"
             : err == EIO         ? "EIO"
                                  : "ENOSPC");
    return b;
}

/* A failed write operation: the error is the errno, the message names the
 * file ("PATH:") and the errno's text, and the handle takes no more writes. */
static void check_failed_op(ddx_store *s, int rc, const char *rel, int err, const char *word,
                            const char *what)
{
    const char *msg = ddx_store_errmsg(s);
    cr_assert(strstr(msg, word), "%s: message lacks \"%s\": %s", what, word, msg);
    cr_assert_eq(rc, err, "%s: returned %d (%s), want %d; message: %s", what, rc, ddx_strerror(rc),
                 err, msg);
    char path[PATH_MAX + REL_MAX + 2];
    snprintf(path, sizeof path, "%s/%s:", g.root, rel);
    cr_assert(strstr(msg, path), "%s: message does not name %s: %s", what, path, msg);
    cr_assert(strstr(msg, strerror(err)), "%s: message lacks \"%s\": %s", what, strerror(err), msg);
    cr_assert_eq(ddx_store_put_mem(s, "again", "x", 1, NULL), DDX_ESTATE, "%s: put after", what);
    cr_assert(strstr(ddx_store_errmsg(s), "reopen"), "%s: %s", what, ddx_store_errmsg(s));
    cr_assert_eq(ddx_store_rm(s, "f", 1), DDX_ESTATE, "%s: rm after", what);
    cr_assert_eq(ddx_store_gc(s, NULL), DDX_ESTATE, "%s: gc after", what);
}

/* ---- fixture: a store with committed versions, and the put to fail ---------------- */

typedef struct fixture {
    char *tmp, *dir, *snap;
    uint8_t *v[4];
    size_t n[4];
    ddx_store_stats st0; /* the snapshot's */
    off_t log0;
    trace_copy dry;
} fixture;

/* f@1, f@2 (related, n12 bytes each) committed in a store of container-byte
 * containers, snapshotted; f@3 (n3 new bytes) is the put faults go into:
 * its calls are traced once without faults. */
static void fixture_init(fixture *x, uint32_t container, size_t n12, size_t n3)
{
    memset(x, 0, sizeof *x);
    x->tmp = mktmp();
    x->dir = join(x->tmp, "s");
    x->snap = join(x->tmp, "snap");
    init_store(x->dir, container);
    set_root(x->dir);
    inj_install();
    uint64_t seed = tu_seed();
    x->n[0] = x->n[1] = n12, x->n[2] = n3;
    x->v[0] = version_bytes(seed, 0, n12);
    x->v[1] = version_bytes(seed, 4, n12);
    x->v[2] = unique_bytes(seed + 1000, n3);
    ddx_store *s = open_store(x->dir, DDX_STORE_WRITE, "fixture");
    put(s, "f", x->v[0], n12, "fixture");
    put(s, "f", x->v[1], n12, "fixture");
    cr_assert_eq(ddx_store_stat(s, &x->st0), 0);
    ddx_store_close(s);
    x->log0 = file_size(x->dir, "meta/log");
    copy_tree(x->dir, x->snap);

    restore(x->snap, x->dir);
    s = open_store(x->dir, DDX_STORE_WRITE, "dry run");
    inj_reset();
    put_ctx pc = {"f", x->v[2], n3};
    cr_assert_eq(op_put(s, &pc), 0, "dry run: %s", ddx_store_errmsg(s));
    keep_trace(&x->dry);
    assert_no_violation("dry run");
    ddx_store_close(s);
    cr_log_info("put of %zu bytes: %u pwrite, %u fdatasync, %u fsync, %u open", n3,
                x->dry.count[K_PWRITE], x->dry.count[K_FDATASYNC], x->dry.count[K_FSYNC],
                x->dry.count[K_OPEN]);
}

static void fixture_free(fixture *x)
{
    ddx_io_set(NULL);
    rm_tree(x->tmp);
    for (int i = 0; i < 4; i++)
        free(x->v[i]);
    free(x->dry.c);
    free(x->tmp), free(x->dir), free(x->snap);
}

/* After a failed put of f@3 (rolled: its log records were synced before the
 * failure, so recovery rolls the commit forward): reopen, check, and put
 * again. */
static void check_after_failed_put(fixture *x, int rolled, const char *what)
{
    want w[4] = {
        {"f", 1, x->v[0], x->n[0]}, {"f", 2, x->v[1], x->n[1]}, {"f", 3, x->v[2], x->n[2]}};
    size_t nw = rolled ? 3 : 2;
    /* a reader first: it changes nothing and must see the same state */
    ddx_store *s = open_store(x->dir, DDX_STORE_READ, what);
    check_versions(s, w, nw, what);
    ddx_store_close(s);
    s = open_store(x->dir, DDX_STORE_WRITE, what);
    check_versions(s, w, nw, what);
    if (!rolled) { /* recovery removed everything the failed put wrote */
        ddx_store_stats st;
        cr_assert_eq(ddx_store_stat(s, &st), 0);
        cr_assert_eq(st.containers, x->st0.containers, "%s: containers left behind", what);
        cr_assert_eq(st.container_bytes, x->st0.container_bytes, "%s: container bytes", what);
        cr_assert_eq(file_size(x->dir, "meta/log"), x->log0, "%s: log not cut back", what);
    }
    w[nw] = (want){"f", (uint32_t)nw + 1, x->v[2], x->n[2]};
    put(s, "f", x->v[2], x->n[2], what);
    /* on the same handle, which read the open container before the put */
    check_get(s, "f", (uint32_t)nw + 1, x->v[2], x->n[2], what);
    int rc = ddx_store_verify(s, NULL, NULL, NULL);
    cr_assert_eq(rc, 0, "%s: verify after the put: %s", what, ddx_store_errmsg(s));
    ddx_store_close(s);
    s = open_store(x->dir, DDX_STORE_READ, what);
    check_versions(s, w, nw + 1, what);
    ddx_store_close(s);
    assert_no_violation(what);
}

/* One faulted put; returns whether the failing call was on the superblock
 * (then the log was synced and the commit rolls forward on reopen). */
static int fail_put(fixture *x, int kind, unsigned nth, int err, int mode, const char *word,
                    char *what, size_t wl)
{
    const call *c = &x->dry.c[nth_call(&x->dry, kind, nth)];
    fault_desc(what, wl, "put", kind, nth, c->rel, err, mode);
    restore(x->snap, x->dir);
    ddx_store *s = open_store(x->dir, DDX_STORE_WRITE, what);
    inj_reset();
    inj_arm(kind, nth, err, mode);
    put_ctx pc = {"f", x->v[2], x->n[2]};
    int rc = op_put(s, &pc);
    check_same_path(&x->dry, what);
    cr_assert(g.f[0].fired);
    inj_reset();
    check_failed_op(s, rc, c->rel, mode == FAIL ? err : ENOSPC, word, what);
    ddx_store_close(s);
    return is_super(c->rel);
}

/* ---- 1. every call of a put fails in turn ----------------------------------------- */

/* new_files: the put creates containers (and syncs the data directory) */
static void every_call_of_a_put(uint32_t container, size_t n12, size_t n3, int new_files)
{
    fixture x;
    fixture_init(&x, container, n12, n3);
    cr_assert(x.dry.count[K_PWRITE] && x.dry.count[K_FDATASYNC] &&
              !x.dry.count[K_FSYNC] == !new_files && !x.dry.count[K_OPEN] == !new_files);
    static const struct {
        int err, mode;
    } how[] = {{ENOSPC, FAIL}, {EIO, FAIL}, {ENOSPC, SHORT_ENOSPC}};
    unsigned cases = 0, rolled = 0;
    for (size_t k = 0; k < NFAULT_KINDS; k++) {
        int kind = fault_kinds[k];
        for (unsigned nth = 1; nth <= x.dry.count[kind]; nth++) {
            if (!pick(nth))
                continue;
            for (size_t h = 0; h < sizeof how / sizeof how[0]; h++) {
                if (how[h].mode != FAIL && kind != K_PWRITE)
                    continue;
                char what[256];
                int r = fail_put(&x, kind, nth, how[h].err, how[h].mode, "", what, sizeof what);
                check_after_failed_put(&x, r, what);
                cases++;
                rolled += (unsigned)r;
            }
        }
    }
    cr_log_info("%u faulted puts (%u failed after the log was synced: rolled forward)", cases,
                rolled);
    cr_assert_gt(rolled, 0);
    fixture_free(&x);
}

Test(store_faults, every_call_of_a_put_fails_cleanly, .timeout = 300)
{
    /* seals, new containers, the data directory synced */
    every_call_of_a_put(256u << 10, 512u << 10, 768u << 10, 1);
    /* appending to the open container, across a write-buffer flush */
    every_call_of_a_put(4u << 20, 512u << 10, 1536u << 10, 0);
}

/* ---- 2. short writes whose retry succeeds are invisible ----------------------------- */

Test(store_faults, short_writes_then_success, .timeout = 300)
{
    fixture x;
    fixture_init(&x, 256u << 10, 512u << 10, 768u << 10);
    want w[3] = {{"f", 1, x.v[0], x.n[0]}, {"f", 2, x.v[1], x.n[1]}, {"f", 3, x.v[2], x.n[2]}};
    for (unsigned nth = 1; nth <= x.dry.count[K_PWRITE]; nth++) {
        if (!pick(nth))
            continue;
        char what[256];
        const call *c = &x.dry.c[nth_call(&x.dry, K_PWRITE, nth)];
        fault_desc(what, sizeof what, "put", K_PWRITE, nth, c->rel, 0, SHORT_OK);
        restore(x.snap, x.dir);
        ddx_store *s = open_store(x.dir, DDX_STORE_WRITE, what);
        inj_reset();
        inj_arm(K_PWRITE, nth, 0, SHORT_OK);
        put_ctx pc = {"f", x.v[2], x.n[2]};
        int rc = op_put(s, &pc);
        cr_assert_eq(rc, 0, "%s: %s (%s)", what, ddx_strerror(rc), ddx_store_errmsg(s));
        cr_assert(g.f[0].fired, "%s: not reached", what);
        cr_assert_eq(g.count[K_PWRITE], x.dry.count[K_PWRITE] + 1, "%s: one retry", what);
        check_versions(s, w, 3, what);
        ddx_store_close(s);
        s = open_store(x.dir, DDX_STORE_WRITE, what);
        cr_assert_str_empty(ddx_store_recovery_note(s), "%s", what);
        check_versions(s, w, 3, what);
        ddx_store_close(s);
        assert_no_violation(what);
    }
    fixture_free(&x);
}

/* ---- 3. fsyncgate: EIO from fdatasync of the log and of the superblock -------------- */

Test(store_faults, fdatasync_eio_on_log_and_superblock, .timeout = 300)
{
    fixture x;
    fixture_init(&x, 256u << 10, 512u << 10, 768u << 10);
    unsigned log_sync = 0, super_sync = 0;
    for (unsigned nth = 1, i = 0; i < x.dry.n; i++)
        if (x.dry.c[i].kind == K_FDATASYNC) {
            if (is_log(x.dry.c[i].rel))
                log_sync = nth;
            if (is_super(x.dry.c[i].rel))
                super_sync = nth;
            nth++;
        }
    cr_assert(log_sync && super_sync && log_sync < super_sync);
    char what[256];
    /* the log: the put fails and did not happen */
    cr_assert_eq(fail_put(&x, K_FDATASYNC, log_sync, EIO, FAIL, "append", what, sizeof what), 0);
    check_after_failed_put(&x, 0, what);
    /* the superblock: the put fails, but its records are synced: the commit
     * is there on reopen (and would be after a crash too, rolled forward) */
    cr_assert_eq(
        fail_put(&x, K_FDATASYNC, super_sync, EIO, FAIL, "writing commit", what, sizeof what), 1);
    check_after_failed_put(&x, 1, what);

    /* the log's sync fails and cutting the records off fails too: the
     * records stay readable (page cache) but may not be on disk. A reader
     * may roll them forward; a writer must make them durable before a
     * superblock commits them (the oracle checks), and then they stay. */
    snprintf(what, sizeof what, "put: fdatasync #%u on meta/log EIO, then ftruncate EIO", log_sync);
    restore(x.snap, x.dir);
    ddx_store *s = open_store(x.dir, DDX_STORE_WRITE, what);
    inj_reset();
    inj_arm(K_FDATASYNC, log_sync, EIO, FAIL);
    inj_arm(K_FTRUNCATE, 1, EIO, FAIL);
    put_ctx pc = {"f", x.v[2], x.n[2]};
    int rc = op_put(s, &pc);
    check_same_path(&x.dry, what);
    cr_assert(g.f[1].fired, "%s: the records were not cut off after the failed sync", what);
    inj_reset();
    check_failed_op(s, rc, "meta/log", EIO, "append", what);
    ddx_store_close(s);
    want w[3] = {{"f", 1, x.v[0], x.n[0]}, {"f", 2, x.v[1], x.n[1]}, {"f", 3, x.v[2], x.n[2]}};
    s = open_store(x.dir, DDX_STORE_READ, what);
    ddx_version_info vi;
    size_t nw = ddx_store_version(s, 2, &vi) == 0 ? 3 : 2;
    check_versions(s, w, nw, what);
    ddx_store_close(s);
    s = open_store(x.dir, DDX_STORE_WRITE, what);
    check_versions(s, w, nw, what);
    put(s, "g", x.v[0], x.n[0], what);
    ddx_store_close(s);
    assert_no_violation(what);
    cr_log_info("log sync and truncate failed: reopen has %zu versions", nw);
    fixture_free(&x);
}

/* ---- 4. rm, gc and the truncation of a recovering open ----------------------------- */

static int op_rm(ddx_store *s, void *ctx)
{
    (void)ctx;
    return ddx_store_rm(s, "f", 2);
}

Test(store_faults, rm_fails_cleanly, .timeout = 300)
{
    fixture x;
    fixture_init(&x, 256u << 10, 512u << 10, 256u << 10);
    /* the base: f@1..3 committed */
    restore(x.snap, x.dir);
    ddx_store *s = open_store(x.dir, DDX_STORE_WRITE, "rm base");
    put(s, "f", x.v[2], x.n[2], "rm base");
    ddx_store_close(s);
    rm_tree(x.snap);
    copy_tree(x.dir, x.snap);
    s = open_store(x.dir, DDX_STORE_WRITE, "rm dry run");
    inj_reset();
    cr_assert_eq(op_rm(s, NULL), 0, "%s", ddx_store_errmsg(s));
    trace_copy dry;
    keep_trace(&dry);
    ddx_store_close(s);
    want all[3] = {{"f", 1, x.v[0], x.n[0]}, {"f", 2, x.v[1], x.n[1]}, {"f", 3, x.v[2], x.n[2]}};
    want after[2] = {all[0], all[2]};
    unsigned cases = 0;
    for (size_t k = 0; k < NFAULT_KINDS; k++)
        for (unsigned nth = 1; nth <= dry.count[fault_kinds[k]]; nth++)
            for (int e = 0; e < 2; e++) {
                int kind = fault_kinds[k], err = e ? EIO : ENOSPC;
                const call *c = &dry.c[nth_call(&dry, kind, nth)];
                char what[256];
                fault_desc(what, sizeof what, "rm", kind, nth, c->rel, err, FAIL);
                restore(x.snap, x.dir);
                s = open_store(x.dir, DDX_STORE_WRITE, what);
                inj_reset();
                inj_arm(kind, nth, err, FAIL);
                int rc = op_rm(s, NULL);
                check_same_path(&dry, what);
                inj_reset();
                check_failed_op(s, rc, c->rel, err, "", what);
                ddx_store_close(s);
                int rolled = is_super(c->rel);
                s = open_store(x.dir, DDX_STORE_WRITE, what);
                check_versions(s, rolled ? after : all, rolled ? 2 : 3, what);
                if (!rolled)
                    cr_assert_eq(op_rm(s, NULL), 0, "%s: rm after reopen: %s", what,
                                 ddx_store_errmsg(s));
                put(s, "f", x.v[0], x.n[0], what);
                ddx_store_close(s);
                s = open_store(x.dir, DDX_STORE_READ, what);
                want w[3] = {all[0], all[2], {"f", 4, x.v[0], x.n[0]}};
                check_versions(s, w, 3, what);
                ddx_store_close(s);
                assert_no_violation(what);
                cases++;
            }
    cr_log_info("%u faulted rms", cases);
    free(dry.c);
    fixture_free(&x);
}

static int op_gc(ddx_store *s, void *ctx)
{
    return ddx_store_gc(s, ctx);
}

enum { NV = 6 };

/* The store at dir (64 KiB containers) given g@1..NV, unrelated versions
 * whose sizes are off the container size so that containers are shared
 * between neighbours, with every other one (g@1, g@3, ...) removed: a gc
 * then deletes emptied containers and compacts sparse ones. The live
 * versions go to w; the handle is returned open for writing. */
static ddx_store *every_other_removed(const char *dir, uint8_t *v[NV], size_t n[NV], want w[NV / 2])
{
    ddx_store *s = open_store(dir, DDX_STORE_WRITE, "base");
    for (int i = 0; i < NV; i++) {
        n[i] = (200u << 10) + (size_t)i * 37000;
        v[i] = unique_bytes(tu_seed() + 77 + (uint64_t)i, n[i]);
        put(s, "g", v[i], n[i], "base");
    }
    for (int i = 0; i < NV; i += 2)
        cr_assert_eq(ddx_store_rm(s, "g", (uint32_t)i + 1), 0, "%s", ddx_store_errmsg(s));
    for (int i = 1, k = 0; i < NV; i += 2, k++)
        w[k] = (want){"g", (uint32_t)i + 1, v[i], n[i]};
    return s;
}

Test(store_faults, gc_fails_cleanly_and_leaks_nothing, .timeout = 300)
{
    char *tmp = mktmp(), *dir = join(tmp, "s"), *snap = join(tmp, "snap");
    init_store(dir, 64u << 10);
    set_root(dir);
    inj_install();
    uint8_t *v[NV];
    size_t n[NV];
    want w[NV / 2];
    ddx_store *s = every_other_removed(dir, v, n, w);
    ddx_store_stats base_st;
    cr_assert_eq(ddx_store_stat(s, &base_st), 0);
    ddx_store_close(s);
    copy_tree(dir, snap);

    /* dry run: what a gc does, and what it leaves */
    restore(snap, dir);
    s = open_store(dir, DDX_STORE_WRITE, "gc dry run");
    inj_reset();
    ddx_gc_stats gs;
    cr_assert_eq(op_gc(s, &gs), 0, "%s", ddx_store_errmsg(s));
    trace_copy dry;
    keep_trace(&dry);
    assert_no_violation("gc dry run");
    cr_assert(gs.freed_chunks && gs.containers_removed && gs.containers_compacted,
              "the scenario frees %llu chunks, removes %llu containers, compacts %llu",
              (unsigned long long)gs.freed_chunks, (unsigned long long)gs.containers_removed,
              (unsigned long long)gs.containers_compacted);
    ddx_store_stats want_st;
    cr_assert_eq(ddx_store_stat(s, &want_st), 0);
    ddx_store_close(s);
    /* the acknowledgement: the superblock's fdatasync; calls after it are
     * clean-up (deleting emptied containers) */
    size_t ack = 0;
    for (size_t i = 0; i < dry.n; i++)
        if (dry.c[i].kind == K_FDATASYNC && is_super(dry.c[i].rel))
            ack = i;
    cr_log_info("gc: %zu calls (%u pwrite, %u fdatasync, %u open, %u unlink), acknowledged at %zu",
                dry.n, dry.count[K_PWRITE], dry.count[K_FDATASYNC], dry.count[K_OPEN],
                dry.count[K_UNLINK], ack);

    unsigned cases = 0, after_ack = 0;
    for (size_t k = 0; k < NFAULT_KINDS; k++)
        for (unsigned nth = 1; nth <= dry.count[fault_kinds[k]]; nth++) {
            if (!pick(nth))
                continue;
            for (int e = 0; e < 2; e++) {
                int kind = fault_kinds[k], err = e ? EIO : ENOSPC;
                size_t at = nth_call(&dry, kind, nth);
                const call *c = &dry.c[at];
                char what[256];
                fault_desc(what, sizeof what, "gc", kind, nth, c->rel, err, FAIL);
                restore(snap, dir);
                s = open_store(dir, DDX_STORE_WRITE, what);
                inj_reset();
                inj_arm(kind, nth, err, FAIL);
                int rc = op_gc(s, &gs);
                check_same_path(&dry, what);
                inj_reset();
                if (at > ack) {
                    /* committed; only the clean-up failed: gc succeeds, the
                     * handle stays writable, and the next gc finishes the
                     * clean-up */
                    cr_assert_eq(rc, 0, "%s: %s", what, ddx_store_errmsg(s));
                    check_versions(s, w, NV / 2, what);
                    after_ack++;
                } else {
                    check_failed_op(s, rc, c->rel, err, "", what);
                    ddx_store_close(s);
                    s = open_store(dir, DDX_STORE_WRITE, what);
                    check_versions(s, w, NV / 2, what);
                    /* the gc did not happen, or (its log synced) all of it */
                    ddx_store_stats st;
                    cr_assert_eq(ddx_store_stat(s, &st), 0);
                    cr_assert_eq(st.chunks, is_super(c->rel) ? want_st.chunks : base_st.chunks,
                                 "%s: %llu chunks after reopen", what,
                                 (unsigned long long)st.chunks);
                }
                cr_assert_eq(op_gc(s, &gs), 0, "%s: gc again: %s", what, ddx_store_errmsg(s));
                ddx_store_stats st;
                cr_assert_eq(ddx_store_stat(s, &st), 0);
                cr_assert(st.containers == want_st.containers &&
                              st.container_bytes == want_st.container_bytes,
                          "%s: after a second gc: %llu containers, %llu bytes; a gc without "
                          "faults leaves %llu, %llu",
                          what, (unsigned long long)st.containers,
                          (unsigned long long)st.container_bytes,
                          (unsigned long long)want_st.containers,
                          (unsigned long long)want_st.container_bytes);
                put(s, "g", v[0], n[0], what);
                ddx_store_close(s);
                s = open_store(dir, DDX_STORE_READ, what);
                want w2[NV / 2 + 1];
                memcpy(w2, w, sizeof w);
                w2[NV / 2] = (want){"g", NV + 1, v[0], n[0]};
                check_versions(s, w2, NV / 2 + 1, what);
                ddx_store_close(s);
                assert_no_violation(what);
                cases++;
            }
        }
    cr_log_info("%u faulted gcs (%u after the acknowledgement)", cases, after_ack);
    cr_assert_gt(after_ack, 0);
    ddx_io_set(NULL);
    free(dry.c);
    for (int i = 0; i < NV; i++)
        free(v[i]);
    rm_tree(tmp);
    free(tmp), free(dir), free(snap);
}

static unsigned last_container(const char *dir)
{
    unsigned last = 0;
    char *data = join(dir, "data");
    DIR *d = opendir(data);
    cr_assert(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        unsigned id;
        if (sscanf(de->d_name, "%8x.ctr", &id) == 1 && id > last)
            last = id;
    }
    closedir(d);
    free(data);
    return last;
}

/* A crash in the middle of a put: a torn log tail, uncommitted bytes after
 * the open container's committed length, and a container the put had
 * created. rolled: before that, a put whose superblock write failed (its
 * records complete and synced: the open rolls them forward and commits
 * them). Every call of the recovering open fails in turn: the open fails
 * naming the file, and a later open recovers. */
static void recovering_open(fixture *x, int rolled)
{
    restore(x->snap, x->dir);
    size_t nw = 2;
    if (rolled) {
        unsigned nth = 0;
        for (size_t i = 0; i < x->dry.n; i++)
            if (x->dry.c[i].kind == K_PWRITE && (nth++, is_super(x->dry.c[i].rel)))
                break;
        char what[256];
        cr_assert_eq(fail_put(x, K_PWRITE, nth, ENOSPC, FAIL, "writing commit", what, sizeof what),
                     1);
        nw = 3;
    }
    unsigned last = last_container(x->dir);
    cr_assert_gt(last, 0);
    char open_ctr[64], extra[64];
    snprintf(open_ctr, sizeof open_ctr, "data/%08x.ctr", last);
    snprintf(extra, sizeof extra, "data/%08x.ctr", last + 1);
    off_t ctr_len = file_size(x->dir, open_ctr), log_len = file_size(x->dir, "meta/log");
    append_junk(x->dir, "meta/log", 3000, 1);
    append_junk(x->dir, open_ctr, 5000, 2);
    append_junk(x->dir, extra, 7000, 3);
    char *crashed = join(x->tmp, "crashed");
    rm_tree(crashed);
    copy_tree(x->dir, crashed);

    restore(crashed, x->dir);
    inj_reset();
    ddx_store *s = open_store(x->dir, DDX_STORE_WRITE, "recovery dry run");
    trace_copy dry;
    keep_trace(&dry);
    assert_no_violation("recovery dry run");
    ddx_store_close(s);
    cr_assert(dry.count[K_FTRUNCATE] >= 2 && dry.count[K_UNLINK] >= 1,
              "recovery truncates the container and the log, deletes the extra container");
    cr_log_info("recovering open (%s): %zu calls", rolled ? "rolling forward" : "torn tail", dry.n);
    want w[4] = {{"f", 1, x->v[0], x->n[0]},
                 {"f", 2, x->v[1], x->n[1]},
                 {"f", 3, x->v[2], x->n[2]},
                 {"f", 4, x->v[2], x->n[2]}};
    unsigned cases = 0;
    for (size_t k = 0; k < NFAULT_KINDS; k++)
        for (unsigned nth = 1; nth <= dry.count[fault_kinds[k]]; nth++)
            for (int e = 0; e < 2; e++) {
                int kind = fault_kinds[k], err = e ? EIO : ENOSPC;
                const call *c = &dry.c[nth_call(&dry, kind, nth)];
                char what[256], why[768], path[PATH_MAX + REL_MAX + 2];
                fault_desc(what, sizeof what, rolled ? "open rolling forward" : "recovering open",
                           kind, nth, c->rel, err, FAIL);
                restore(crashed, x->dir);
                inj_reset();
                inj_arm(kind, nth, err, FAIL);
                s = (ddx_store *)1;
                int rc = ddx_store_open(&s, x->dir, DDX_STORE_WRITE, why, sizeof why);
                check_same_path(&dry, what);
                inj_reset();
                cr_assert_eq(rc, err, "%s: open returned %d (%s): %s", what, rc, ddx_strerror(rc),
                             why);
                cr_assert_null(s, "%s", what);
                snprintf(path, sizeof path, "%s/%s:", g.root, c->rel);
                cr_assert(strstr(why, path) && strstr(why, strerror(err)),
                          "%s: message should name %s and say \"%s\": %s", what, path,
                          strerror(err), why);
                /* the lock was released; readers and a later writer work */
                s = open_store(x->dir, DDX_STORE_READ, what);
                check_versions(s, w, nw, what);
                ddx_store_close(s);
                /* the failed open may have cut the log's tail already */
                int tail = file_size(x->dir, "meta/log") > log_len;
                s = open_store(x->dir, DDX_STORE_WRITE, what);
                const char *note = ddx_store_recovery_note(s);
                cr_assert(tail ? strstr(note, "were discarded") != NULL
                               : !strstr(note, "bytes after"),
                          "%s: note: %s", what, note);
                check_versions(s, w, nw, what);
                cr_assert_eq(file_size(x->dir, "meta/log"), log_len, "%s", what);
                cr_assert_eq(file_size(x->dir, open_ctr), ctr_len, "%s", what);
                char *ep = join(x->dir, extra);
                cr_assert_neq(access(ep, F_OK), 0, "%s: %s still there", what, extra);
                free(ep);
                put(s, "f", x->v[2], x->n[2], what);
                ddx_store_close(s);
                s = open_store(x->dir, DDX_STORE_READ, what);
                check_versions(s, w, nw + 1, what);
                ddx_store_close(s);
                assert_no_violation(what);
                cases++;
            }
    cr_log_info("%u faulted recovering opens", cases);
    free(dry.c);
    free(crashed);
}

Test(store_faults, recovering_open_fails_cleanly_then_recovers, .timeout = 300)
{
    fixture x;
    fixture_init(&x, 256u << 10, 512u << 10, 256u << 10);
    recovering_open(&x, 0);
    recovering_open(&x, 1);
    fixture_free(&x);
}

/* ---- 5. ENOSPC while sealing a container ---------------------------------------------- */

Test(store_faults, enospc_while_sealing, .timeout = 300)
{
    fixture x;
    fixture_init(&x, 64u << 10, 256u << 10, 1u << 20);
    /* seals in the dry run: a container's table written, then the open of
     * the next container; before it, the container's data. Its fdatasync
     * comes later, at the commit (seal defers it), and is found by name. */
    typedef struct seal {
        unsigned data_pw, table_pw, sync, next_open; /* nth of their kinds */
    } seal;
    seal seals[64];
    size_t ns = 0;
    unsigned nth[K_N] = {0};
    unsigned last_pw[2] = {0, 0}; /* the two latest pwrites of the current container */
    char cur[REL_MAX] = "";
    for (size_t i = 0; i < x.dry.n; i++) {
        const call *c = &x.dry.c[i];
        nth[c->kind]++;
        if (c->kind == K_PWRITE && is_ctr(c->rel)) {
            if (strcmp(cur, c->rel))
                last_pw[0] = last_pw[1] = 0;
            snprintf(cur, sizeof cur, "%s", c->rel);
            last_pw[0] = last_pw[1];
            last_pw[1] = nth[K_PWRITE];
        }
        if (c->kind == K_PWRITE && is_ctr(c->rel) && i + 1 < x.dry.n &&
            x.dry.c[i + 1].kind == K_OPEN && is_ctr(x.dry.c[i + 1].rel) && ns < 64) {
            unsigned sync = 0, k = nth[K_FDATASYNC];
            for (size_t m = i + 1; m < x.dry.n && !sync; m++)
                if (x.dry.c[m].kind == K_FDATASYNC && ++k && !strcmp(x.dry.c[m].rel, c->rel))
                    sync = k;
            cr_assert(sync, "call %zu: %s sealed but never synced", i, c->rel);
            /* A container whose data was flushed before the put (the put's
             * first chunk did not fit) is sealed with its table alone: no
             * data write to fail there, so it is not one of the cases. */
            if (last_pw[0])
                seals[ns++] = (seal){last_pw[0], last_pw[1], sync, nth[K_OPEN] + 1};
        }
    }
    cr_assert_geq(ns, 10, "a 1 MiB put into 64 KiB containers seals %zu", ns);
    unsigned cases = 0;
    for (size_t i = 0; i < ns; i++) {
        if (i >= 2 && i != ns / 2 && i + 1 != ns)
            continue; /* the first two, one in the middle, the last */
        const struct {
            int kind;
            unsigned nth;
            int err, mode;
            const char *word;
        } f[] = {{K_PWRITE, seals[i].data_pw, ENOSPC, FAIL, "write"},
                 {K_PWRITE, seals[i].table_pw, ENOSPC, FAIL, "sealing"},
                 {K_PWRITE, seals[i].table_pw, ENOSPC, SHORT_ENOSPC, "sealing"},
                 {K_FDATASYNC, seals[i].sync, ENOSPC, FAIL, "fdatasync"},
                 {K_FDATASYNC, seals[i].sync, EIO, FAIL, "fdatasync"},
                 {K_OPEN, seals[i].next_open, ENOSPC, FAIL, ""}};
        for (size_t j = 0; j < sizeof f / sizeof f[0]; j++) {
            char what[256];
            cr_assert_eq(fail_put(&x, f[j].kind, f[j].nth, f[j].err, f[j].mode, f[j].word, what,
                                  sizeof what),
                         0);
            check_after_failed_put(&x, 0, what);
            cases++;
        }
    }
    cr_log_info("%zu seals in the put, %u faulted", ns, cases);
    fixture_free(&x);
}

/* ---- 6. log compaction ------------------------------------------------------------------ */

static int op_compact(ddx_store *s, void *ctx)
{
    return ddx_store_compact_log(s, 1, ctx);
}

/* log files in DIR/meta ("log", "log.<gen>") */
static int count_logs(const char *dir)
{
    char *m = join(dir, "meta");
    DIR *d = opendir(m);
    cr_assert(d, "%s: %s", m, strerror(errno));
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += !strcmp(de->d_name, "log") || !strncmp(de->d_name, "log.", 4);
    closedir(d);
    free(m);
    return n;
}

/* Every call of a log compaction fails in turn: before the superblock
 * commit the store keeps its old log (the new one is deleted, or left for
 * the next writable open), after it the new one; either way every version
 * restores exactly, the store compacts again and takes new writes, and the
 * write order holds (the new log and its name are synced before the
 * superblock names it). */
Test(store_faults, compact_log_fails_cleanly, .timeout = 300)
{
    char *tmp = mktmp(), *dir = join(tmp, "s"), *snap = join(tmp, "snap");
    init_store(dir, 64u << 10);
    set_root(dir);
    inj_install();
    uint8_t *v[NV];
    size_t n[NV];
    want w[NV / 2 + 1];
    ddx_store *s = every_other_removed(dir, v, n, w);
    cr_assert_eq(ddx_store_gc(s, NULL), 0, "%s", ddx_store_errmsg(s));
    ddx_store_close(s);
    copy_tree(dir, snap);

    restore(snap, dir);
    s = open_store(dir, DDX_STORE_WRITE, "compact dry run");
    inj_reset();
    ddx_log_stats ls;
    cr_assert_eq(op_compact(s, &ls), 0, "%s", ddx_store_errmsg(s));
    cr_assert(ls.compacted && ls.bytes_after < ls.bytes_before);
    trace_copy dry;
    keep_trace(&dry);
    assert_no_violation("compact dry run");
    ddx_store_close(s);
    size_t ack = 0;
    for (size_t i = 0; i < dry.n; i++)
        if (dry.c[i].kind == K_FDATASYNC && is_super(dry.c[i].rel))
            ack = i;
    cr_assert_gt(ack, 0, "the compaction commits a superblock");

    unsigned cases = 0;
    for (size_t k = 0; k < NFAULT_KINDS; k++)
        for (unsigned nth = 1; nth <= dry.count[fault_kinds[k]]; nth++)
            for (int e = 0; e < 2; e++) {
                int kind = fault_kinds[k], err = e ? EIO : ENOSPC;
                size_t at = nth_call(&dry, kind, nth);
                const call *c = &dry.c[at];
                char what[256];
                fault_desc(what, sizeof what, "compact", kind, nth, c->rel, err, FAIL);
                restore(snap, dir);
                s = open_store(dir, DDX_STORE_WRITE, what);
                inj_reset();
                inj_arm(kind, nth, err, FAIL);
                int rc = op_compact(s, &ls);
                check_same_path(&dry, what);
                inj_reset();
                if (at > ack) { /* switched; only deleting the old log failed */
                    cr_assert_eq(rc, 0, "%s: %s", what, ddx_store_errmsg(s));
                    cr_assert(ls.compacted);
                } else {
                    const char *msg = ddx_store_errmsg(s);
                    cr_assert_eq(rc, err, "%s: returned %d (%s): %s", what, rc, ddx_strerror(rc),
                                 msg);
                    char path[PATH_MAX + REL_MAX + 2];
                    snprintf(path, sizeof path, "%s/%s:", g.root, c->rel);
                    cr_assert(strstr(msg, path), "%s: message does not name %s: %s", what, path,
                              msg);
                    cr_assert(strstr(msg, strerror(err)), "%s: %s", what, msg);
                }
                ddx_store_close(s);
                s = open_store(dir, DDX_STORE_WRITE, what);
                cr_assert_eq(count_logs(dir), 1, "%s: a stray log is left after reopening", what);
                check_versions(s, w, NV / 2, what);
                cr_assert_eq(op_compact(s, &ls), 0, "%s: again: %s", what, ddx_store_errmsg(s));
                put(s, "g", v[0], n[0], what);
                ddx_store_close(s);
                s = open_store(dir, DDX_STORE_READ, what);
                w[NV / 2] = (want){"g", NV + 1, v[0], n[0]};
                check_versions(s, w, NV / 2 + 1, what);
                ddx_store_close(s);
                assert_no_violation(what);
                cases++;
            }
    cr_log_info("compaction: %zu calls, acknowledged at %zu, %u faulted", dry.n, ack, cases);
    free(dry.c);
    for (int i = 0; i < NV; i++)
        free(v[i]);
    rm_tree(tmp);
    free(tmp), free(dir), free(snap);
}
