/*
 * test_store.c - the persistent store through the public API: round trips,
 * dedup across versions, rm + gc (with compaction), corruption detection
 * (container, log, superblock), torn log tails, locking, newer formats,
 * crashes at random points (a writer killed with SIGKILL 120 times in puts,
 * and 100 times in a loop of put, rm, gc and forced log compaction), and
 * readers running while a writer ingests.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chunk_list.h"
#include "crc32c.h"
#include "ddx.h"
#include "store_fmt.h"
#include "store_testutil.h"
#include "testutil.h"

#define mktmp() tu_mktmp("store-test")
#define rmrf tu_rmrf
#define store_path tu_join

/* This file's names for the shared helpers (store_testutil.h). */
#define version_bytes stu_version_bytes
#define init_store stu_init
#define open_store(dir, flags) stu_open(dir, flags, "")
#define check_get(s, name, n, want, len) stu_check_get(s, name, n, want, len, "")

static void put(ddx_store *s, const char *name, const uint8_t *p, size_t n, ddx_put_stats *st)
{
    int rc = ddx_store_put_mem(s, name, p, n, st);
    cr_assert_eq(rc, 0, "put %s: %s (%s)", name, ddx_strerror(rc), ddx_store_errmsg(s));
}

Test(store, round_trip_dedup_and_reopen)
{
    char *tmp = mktmp(), *dir = store_path(tmp, "s");
    init_store(dir, NULL, 0);
    ddx_store *s = open_store(dir, DDX_STORE_WRITE);
    size_t n = 5u << 20;
    uint8_t *v[4];
    ddx_put_stats st[4];
    for (unsigned k = 0; k < 4; k++) {
        v[k] = version_bytes(tu_seed(), k * 5, n);
        put(s, "docs", v[k], n, &st[k]);
        cr_assert_eq(st[k].version, k + 1);
    }
    cr_assert_gt(st[0].new_chunks, 300);
    cr_assert_lt(st[1].new_chunks, st[0].new_chunks / 10, "version 2 shares most chunks");
    /* metadata budget: <= 48 bytes per new chunk, <= 32 per reference */
    uint64_t budget = 48 * st[1].new_chunks + 32 * st[1].chunks + 512;
    cr_assert_leq(st[1].meta_bytes, budget, "meta %llu bytes for %llu new / %llu refs",
                  (unsigned long long)st[1].meta_bytes, (unsigned long long)st[1].new_chunks,
                  (unsigned long long)st[1].chunks);
    ddx_put_stats e;
    put(s, "empty", (const uint8_t *)"", 0, &e);
    for (unsigned k = 0; k < 4; k++)
        check_get(s, "docs", k + 1, v[k], n);
    check_get(s, "docs", 0, v[3], n);
    ddx_store_close(s);

    s = open_store(dir, DDX_STORE_READ); /* everything comes back from the log */
    for (unsigned k = 0; k < 4; k++)
        check_get(s, "docs", k + 1, v[k], n);
    check_get(s, "empty", 1, NULL, 0);
    ddx_version_info vi;
    cr_assert_eq(ddx_store_version(s, 4, &vi), 0);
    cr_assert_str_eq(vi.name, "empty");
    cr_assert_eq(ddx_store_version(s, 5, &vi), DDX_ENOENT);
    cr_assert_eq(ddx_store_get(s, "docs", 9, 1), DDX_ENOENT);
    cr_assert(strstr(ddx_store_errmsg(s), "docs has 4 live versions"), "%s", ddx_store_errmsg(s));
    cr_assert_eq(ddx_store_put_mem(s, "x", "a", 1, NULL), DDX_ESTATE); /* read-only */
    ddx_verify_stats vs;
    cr_assert_eq(ddx_store_verify(s, NULL, NULL, &vs), 0, "%s", ddx_store_errmsg(s));
    cr_assert_eq(vs.damaged_chunks, 0);
    ddx_store_close(s);
    for (unsigned k = 0; k < 4; k++)
        free(v[k]);
    rmrf(tmp);
    free(tmp), free(dir);
}

Test(store, metadata_elsewhere_and_put_fd_from_pipe)
{
    char *tmp = mktmp(), *dir = store_path(tmp, "data"), *meta = store_path(tmp, "other/meta");
    char *other = store_path(tmp, "other");
    cr_assert_eq(mkdir(other, 0755), 0);
    init_store(dir, meta, 0);
    ddx_store *s = open_store(dir, DDX_STORE_WRITE);
    size_t n = 3u << 20;
    uint8_t *v = version_bytes(tu_seed() + 7, 0, n);
    int pfd[2];
    cr_assert_eq(pipe(pfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        for (size_t off = 0; off < n;) {
            ssize_t w = write(pfd[1], v + off, n - off < 65536 ? n - off : 65536);
            if (w <= 0)
                _exit(1);
            off += (size_t)w;
        }
        _exit(0);
    }
    close(pfd[1]);
    ddx_put_stats st;
    int rc = ddx_store_put_fd(s, "piped", pfd[0], &st);
    cr_assert_eq(rc, 0, "%s", ddx_store_errmsg(s));
    close(pfd[0]);
    waitpid(pid, NULL, 0);
    cr_assert_eq(st.bytes, n);
    check_get(s, "piped", 1, v, n);
    ddx_store_close(s);
    struct stat sb;
    cr_assert_eq(stat(meta, &sb), 0);
    char *log = store_path(meta, "log");
    cr_assert_eq(stat(log, &sb), 0, "the log lives in --meta");
    cr_assert_gt(sb.st_size, 0);
    free(v), free(log);
    rmrf(tmp);
    free(tmp), free(dir), free(meta), free(other);
}

/* The number of versions s holds. */
static size_t nversions(ddx_store *s)
{
    ddx_version_info vi;
    size_t k = 0;
    while (ddx_store_version(s, k, &vi) == 0)
        k++;
    return k;
}

/* Put v[0, n) as the next version of "v" into the store at dir, through a
 * writable open of its own. */
static void put_into(const char *dir, const uint8_t *v, size_t n)
{
    ddx_store *s = open_store(dir, DDX_STORE_WRITE);
    put(s, "v", v, n, NULL);
    ddx_store_close(s);
}

/* Reopen dir read-only: it holds exactly `count` versions, the k-th of
 * them want[k][0, n), and every chunk verifies. */
static void check_store(const char *dir, size_t count, uint8_t *const *want, size_t n)
{
    ddx_store *s = open_store(dir, DDX_STORE_READ);
    cr_assert_eq(nversions(s), count, "%s: %zu versions", dir, nversions(s));
    for (size_t k = 0; k < count; k++)
        check_get(s, "v", (uint32_t)k + 1, want[k], n);
    ddx_verify_stats vs;
    int rc = ddx_store_verify(s, NULL, NULL, &vs);
    cr_assert_eq(rc, 0, "verify %s: %s (%s)", dir, ddx_strerror(rc), ddx_store_errmsg(s));
    ddx_store_close(s);
}

static void copy_dir(const char *from, const char *to)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", from, to);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* Write dir's identity file as format 1.0 wrote it: the metadata's
 * absolute path, identity minor 0. */
static void write_identity_1_0(const char *dir, const char *meta)
{
    char *p = store_path(dir, "ddx-store");
    uint8_t b[64 + 4096];
    int fd = open(p, O_RDWR);
    cr_assert(fd >= 0);
    cr_assert_geq(pread(fd, b, 34, 0), 34);
    size_t ml = strlen(meta);
    ddx_put16(b + 10, 0);
    ddx_put16(b + 28, (uint16_t)ml);
    memcpy(b + 30, meta, ml);
    ddx_put32(b + 30 + ml, ddx_crc32c(0, b, 30 + ml));
    cr_assert_eq(ftruncate(fd, 0), 0);
    cr_assert_eq(pwrite(fd, b, 34 + ml, 0), (ssize_t)(34 + ml));
    close(fd);
    free(p);
}

/* A store is often moved or copied whole (mv, cp -a, a backup restored).
 * With its metadata inside, the copy must be a store of its own; with its
 * metadata elsewhere (--meta), the two data directories would share one log,
 * so a writable open of the copy is refused while the original exists, and a
 * moved store is followed. Either way nothing already stored may be lost. */
Test(store, moved_or_copied_store_keeps_its_own_metadata)
{
    char *tmp = mktmp();
    char *a = store_path(tmp, "a"), *b = store_path(tmp, "b"), *c = store_path(tmp, "c");
    size_t n = 1u << 20;
    uint8_t *v[6];
    for (unsigned k = 0; k < 6; k++)
        v[k] = version_bytes(tu_seed() + 11, k * 3, n);
    char why[512];
    ddx_store *s;

    /* metadata inside: move, then copy, then write to both */
    init_store(a, NULL, 0);
    put_into(a, v[0], n);
    cr_assert_eq(rename(a, b), 0);
    put_into(b, v[1], n);
    copy_dir(b, c);
    put_into(c, v[2], n);
    put_into(b, v[3], n);
    check_store(b, 3, (uint8_t *[]){v[0], v[1], v[3]}, n);
    check_store(c, 3, (uint8_t *[]){v[0], v[1], v[2]}, n);

    /* --meta naming a directory inside the store is inside too */
    char *f = store_path(tmp, "f"), *fmeta = store_path(tmp, "f/md"), *g = store_path(tmp, "g");
    init_store(f, fmeta, 0);
    put_into(f, v[0], n);
    cr_assert_eq(rename(f, g), 0);
    put_into(g, v[1], n);
    check_store(g, 2, v, n);

    /* a format 1.0 identity (absolute path) in a copy: the copy uses its own
     * metadata and a writable open rewrites the path as relative */
    char *bmeta = store_path(b, "meta"), *d = store_path(tmp, "d");
    write_identity_1_0(b, bmeta);
    copy_dir(b, d);
    put_into(d, v[4], n);
    check_store(b, 3, (uint8_t *[]){v[0], v[1], v[3]}, n);
    check_store(d, 4, (uint8_t *[]){v[0], v[1], v[3], v[4]}, n);
    char *did = store_path(d, "ddx-store");
    uint8_t idb[64];
    int fd = open(did, O_RDONLY);
    cr_assert_eq(read(fd, idb, sizeof idb), 38, "identity of 4 + 34 bytes");
    close(fd);
    cr_assert_eq(ddx_get16(idb + 10), 1);
    cr_assert(!memcmp(idb + 30, "meta", 4));
    /* ... and a moved 1.0 store still opens, from its own directory */
    char *e = store_path(tmp, "e");
    cr_assert_eq(rename(b, e), 0);
    check_store(e, 3, (uint8_t *[]){v[0], v[1], v[3]}, n);

    /* metadata elsewhere */
    char *x = store_path(tmp, "x"), *m = store_path(tmp, "m"), *y = store_path(tmp, "y");
    char *z = store_path(tmp, "z");
    init_store(x, m, 0);
    put_into(x, v[0], n);
    copy_dir(x, y);
    cr_assert_eq(ddx_store_open(&s, y, DDX_STORE_WRITE, why, sizeof why), DDX_ESTATE);
    cr_assert(strstr(why, "a copy of the store at") && strstr(why, x), "%s", why);
    check_store(y, 1, v, n); /* reading the copy harms nothing, and says what it is */
    s = open_store(y, DDX_STORE_READ);
    cr_assert(strstr(ddx_store_recovery_note(s), "a copy of the store at") &&
                  strstr(ddx_store_recovery_note(s), x),
              "note: '%s'", ddx_store_recovery_note(s));
    ddx_store_close(s);
    s = open_store(x, DDX_STORE_READ);
    cr_assert_str_empty(ddx_store_recovery_note(s), "the original is no copy");
    ddx_store_close(s);
    cr_assert_eq(rename(x, z), 0);
    put_into(z, v[1], n); /* moved: followed */
    cr_assert_eq(ddx_store_open(&s, y, DDX_STORE_WRITE, why, sizeof why), DDX_ESTATE);
    cr_assert(strstr(why, z), "the refusal names where the store is now: %s", why);
    check_store(z, 2, v, n);
    /* a copy whose original is gone (a backup restored) takes the metadata over */
    char *w = store_path(tmp, "w");
    copy_dir(z, w);
    rmrf(z);
    put_into(w, v[2], n);
    check_store(w, 3, v, n);

    /* a damaged owner file is reported by name */
    char *own = store_path(m, "owner");
    fd = open(own, O_RDWR);
    cr_assert(fd >= 0);
    uint8_t byte;
    cr_assert_eq(pread(fd, &byte, 1, 31), 1);
    byte ^= 0x20;
    cr_assert_eq(pwrite(fd, &byte, 1, 31), 1);
    close(fd);
    cr_assert_eq(ddx_store_open(&s, w, DDX_STORE_WRITE, why, sizeof why), DDX_ECORRUPT);
    cr_assert(strstr(why, "owner: checksum mismatch"), "%s", why);

    for (unsigned k = 0; k < 6; k++)
        free(v[k]);
    rmrf(tmp);
    free(tmp), free(a), free(b), free(c), free(bmeta), free(d), free(did), free(e);
    free(x), free(m), free(y), free(z), free(w), free(own);
    free(f), free(fmeta), free(g);
}

/* A store with its metadata elsewhere, reached through a bind mount of its
 * data directory (as a container runtime mounts it): the same directory
 * under another path, not a copy, so writes through either path go on. */
Test(store, bind_mounted_data_directory_is_not_a_copy)
{
    char *tmp = mktmp(), *x = store_path(tmp, "x"), *m = store_path(tmp, "m");
    char *y = store_path(tmp, "y");
    size_t n = 1u << 20;
    uint8_t *v[2] = {version_bytes(tu_seed() + 31, 0, n), version_bytes(tu_seed() + 31, 3, n)};
    init_store(x, m, 0);
    put_into(x, v[0], n);
    cr_assert_eq(mkdir(y, 0755), 0);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "mount --bind '%s' '%s' 2>/dev/null", x, y);
    if (system(cmd) != 0) {
        rmrf(tmp);
        cr_skip_test("mount --bind is not permitted here");
    }
    ddx_store *s;
    char why[512];
    int rc = ddx_store_open(&s, y, DDX_STORE_WRITE, why, sizeof why);
    int prc = rc ? rc : ddx_store_put_mem(s, "v", v[1], n, NULL);
    if (!rc)
        ddx_store_close(s);
    snprintf(cmd, sizeof cmd, "umount '%s'", y);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    cr_assert_eq(rc, 0, "open through the bind mount: %s", why);
    cr_assert_eq(prc, 0, "put through the bind mount: %s", ddx_strerror(prc));
    check_store(x, 2, v, n);
    put_into(x, v[0], n); /* and through the first path again */
    free(v[0]), free(v[1]);
    rmrf(tmp);
    free(tmp), free(x), free(m), free(y);
}

/* Feed a pipe with p[0, n) from a thread, in writes of varying odd sizes. */
typedef struct pipe_job {
    int fd;
    const uint8_t *p;
    size_t n;
    int err;
} pipe_job;

static void *pipe_writer(void *arg)
{
    pipe_job *j = arg;
    uint64_t r = 12345;
    for (size_t off = 0; off < j->n;) {
        size_t want = 1 + tu_splitmix(&r) % 200000;
        ssize_t w = write(j->fd, j->p + off, j->n - off < want ? j->n - off : want);
        if (w <= 0) {
            j->err = w < 0 ? errno : EIO;
            break;
        }
        off += (size_t)w;
    }
    close(j->fd);
    return NULL;
}

/* A put streams (store.c, put_bytes): a pipe through buffers the store
 * keeps until it is past them, a file through a mapping, memory in place,
 * with the chunker a bounded window ahead of the store. 96 MiB from a pipe
 * is twice that window, so the feeder waits, buffers are recycled and many
 * chunks straddle two buffers; half of the input repeats, so duplicates
 * within one put are found. All three routes must store the same chunks. */
Test(store, streaming_put_from_pipe_file_and_memory_agree)
{
    char *tmp = mktmp();
    size_t half = 48u << 20, n = 2 * half;
    uint8_t *v = tu_xmalloc(n);
    uint8_t *a = version_bytes(tu_seed() + 11, 0, half);
    memcpy(v, a, half);
    memcpy(v + half, a, half);
    free(a);
    for (size_t i = half; i < n; i += 1u << 20) /* the repeat differs here and there */
        v[i] ^= 0x5a;
    char *file = store_path(tmp, "input");
    int ffd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(ffd, 0);
    cr_assert_eq(write(ffd, v, n), (ssize_t)n);
    ddx_put_stats st[3];
    const char *route[3] = {"pipe", "file", "memory"};
    for (int k = 0; k < 3; k++) {
        char *dir = store_path(tmp, route[k]);
        init_store(dir, NULL, 0);
        ddx_store *s = open_store(dir, DDX_STORE_WRITE);
        int rc;
        if (k == 0) {
            int pfd[2];
            cr_assert_eq(pipe(pfd), 0);
            pipe_job j = {pfd[1], v, n, 0};
            pthread_t th;
            cr_assert_eq(pthread_create(&th, NULL, pipe_writer, &j), 0);
            rc = ddx_store_put_fd(s, "v", pfd[0], &st[k]);
            close(pfd[0]);
            pthread_join(th, NULL);
            cr_assert_eq(j.err, 0, "the pipe writer: %s", strerror(j.err));
        } else if (k == 1) {
            cr_assert_eq(lseek(ffd, 0, SEEK_SET), 0);
            rc = ddx_store_put_fd(s, "v", ffd, &st[k]);
        } else {
            rc = ddx_store_put_mem(s, "v", v, n, &st[k]);
        }
        cr_assert_eq(rc, 0, "%s: %s", route[k], ddx_store_errmsg(s));
        cr_assert_eq(st[k].bytes, n, "%s", route[k]);
        check_get(s, "v", 1, v, n);
        if (k == 0) {
            /* the same bytes again, from a file: nothing new */
            ddx_put_stats again;
            cr_assert_eq(lseek(ffd, 0, SEEK_SET), 0);
            cr_assert_eq(ddx_store_put_fd(s, "v", ffd, &again), 0, "%s", ddx_store_errmsg(s));
            cr_assert_eq(again.new_chunks, 0);
            cr_assert_eq(again.chunks, st[0].chunks);
        }
        ddx_store_close(s);
        s = open_store(dir, DDX_STORE_READ); /* and from the log */
        check_get(s, "v", 1, v, n);
        ddx_store_close(s);
        free(dir);
    }
    cr_assert_lt(st[0].new_bytes, n * 3 / 4, "the repeated half deduplicates: %llu of %zu new",
                 (unsigned long long)st[0].new_bytes, n);
    for (int k = 1; k < 3; k++) {
        cr_assert_eq(st[k].chunks, st[0].chunks, "%s", route[k]);
        cr_assert_eq(st[k].new_chunks, st[0].new_chunks, "%s", route[k]);
        cr_assert_eq(st[k].new_bytes, st[0].new_bytes, "%s", route[k]);
    }
    /* a read error on a stream fails the put naming the input, commits
     * nothing, and a reopen finds the store as it was (a directory's fd
     * is not a regular file, so it is read as a stream: EISDIR) */
    {
        char *dir = store_path(tmp, "pipe");
        ddx_store *s = open_store(dir, DDX_STORE_WRITE);
        int dfd = open(tmp, O_RDONLY | O_DIRECTORY);
        cr_assert_geq(dfd, 0);
        ddx_put_stats bad;
        int rc = ddx_store_put_fd(s, "v", dfd, &bad);
        close(dfd);
        cr_assert_eq(rc, EISDIR, "%d: %s", rc, ddx_store_errmsg(s));
        cr_assert(strstr(ddx_store_errmsg(s), "input: read:"), "%s", ddx_store_errmsg(s));
        ddx_store_close(s);
        s = open_store(dir, DDX_STORE_WRITE);
        ddx_version_info vi;
        cr_assert_eq(ddx_store_version(s, 2, &vi), DDX_ENOENT, "nothing was committed");
        check_get(s, "v", 2, v, n); /* the file put above */
        ddx_store_close(s);
        free(dir);
    }
    /* an empty pipe and an empty buffer are empty versions */
    char *dir = store_path(tmp, "empty");
    init_store(dir, NULL, 0);
    ddx_store *s = open_store(dir, DDX_STORE_WRITE);
    int pfd[2];
    cr_assert_eq(pipe(pfd), 0);
    close(pfd[1]);
    ddx_put_stats e;
    cr_assert_eq(ddx_store_put_fd(s, "e", pfd[0], &e), 0, "%s", ddx_store_errmsg(s));
    close(pfd[0]);
    cr_assert_eq(e.bytes, 0);
    cr_assert_eq(e.chunks, 0);
    cr_assert_eq(ddx_store_put_mem(s, "e", NULL, 0, &e), 0, "%s", ddx_store_errmsg(s));
    cr_assert_eq(e.version, 2);
    check_get(s, "e", 2, NULL, 0);
    ddx_store_close(s);
    close(ffd);
    free(v), free(file), free(dir);
    rmrf(tmp);
    free(tmp);
}

/* every live version's (name, number, id, bytes, chunks), in order */
static size_t list_versions(ddx_store *s, ddx_version_info *out, size_t max)
{
    size_t k = 0;
    while (k < max && ddx_store_version(s, k, &out[k]) == 0)
        k++;
    return k;
}

static void same_versions(ddx_store *s, const ddx_version_info *want, size_t n, const char *what)
{
    ddx_version_info got[16];
    size_t k = list_versions(s, got, 16);
    cr_assert_eq(k, n, "%s: %zu versions, want %zu", what, k, n);
    for (size_t i = 0; i < n; i++)
        cr_assert(!strcmp(got[i].name, want[i].name) && got[i].number == want[i].number &&
                      got[i].id == want[i].id && got[i].bytes == want[i].bytes &&
                      got[i].chunks == want[i].chunks,
                  "%s: version %zu is %s@%u (id %llu), want %s@%u (id %llu)", what, i, got[i].name,
                  got[i].number, (unsigned long long)got[i].id, want[i].name, want[i].number,
                  (unsigned long long)want[i].id);
}

static off_t meta_size(const char *dir, const char *name)
{
    char *m = store_path(dir, "meta"), *p = store_path(m, name);
    struct stat sb;
    off_t r = stat(p, &sb) ? -1 : sb.st_size;
    free(m), free(p);
    return r;
}

/* Log compaction (ddx_store_compact_log): the log is rewritten as what the
 * store holds, in META/log.<generation>; versions, ids, numbers and bytes
 * are unchanged, dedup goes on against the renumbered chunks, and strays of
 * an interrupted compaction are deleted by a writable open only. */
Test(store, log_compaction_keeps_every_version_and_shrinks_the_log)
{
    char *tmp = mktmp(), *dir = store_path(tmp, "s");
    init_store(dir, NULL, 256u << 10);
    ddx_store *s = open_store(dir, DDX_STORE_WRITE);
    size_t n = 2u << 20;
    uint8_t *v[4]; /* unrelated contents: docs@1 = v[0], docs@2..4 = v[1], v[2], v[0] */
    for (unsigned k = 0; k < 4; k++)
        v[k] = version_bytes(tu_seed() + 21 + 1000 * k, 0, n);
    put(s, "docs", v[0], n, NULL);
    put(s, "docs", v[1], n, NULL);
    put(s, "docs", v[2], n, NULL);
    put(s, "other", v[3], n, NULL);
    put(s, "docs", v[0], n, NULL);
    for (unsigned k = 0; k < 6; k++) { /* garbage: versions of their own, removed */
        uint8_t *g = version_bytes(tu_seed() + 77 + 1000 * k, 0, n);
        put(s, "tmp", g, n, NULL);
        free(g);
    }
    for (unsigned k = 1; k <= 6; k++)
        cr_assert_eq(ddx_store_rm(s, "tmp", k), 0, "%s", ddx_store_errmsg(s));
    cr_assert_eq(ddx_store_rm(s, "docs", 1), 0, "%s", ddx_store_errmsg(s));
    cr_assert_eq(ddx_store_rm(s, "docs", 2), 0, "%s", ddx_store_errmsg(s));
    cr_assert_eq(ddx_store_gc(s, NULL), 0, "%s", ddx_store_errmsg(s));
    ddx_version_info before[16];
    size_t nv = list_versions(s, before, 16);
    cr_assert_eq(nv, 3); /* docs@3, other@1, docs@4 */

    ddx_log_stats ls;
    /* another handle open: refused */
    ddx_store *r = open_store(dir, DDX_STORE_READ);
    cr_assert_eq(ddx_store_compact_log(s, 1, &ls), DDX_ELOCKED);
    cr_assert(strstr(ddx_store_errmsg(s), "other handles"), "%s", ddx_store_errmsg(s));
    ddx_store_close(r);

    off_t log0 = meta_size(dir, "log");
    cr_assert_eq(ddx_store_compact_log(s, 1, &ls), 0, "%s", ddx_store_errmsg(s));
    cr_assert_eq(ls.compacted, 1);
    cr_assert_eq(ls.bytes_before, (uint64_t)log0);
    cr_assert_lt(ls.bytes_after, ls.bytes_before / 2, "%llu of %llu bytes",
                 (unsigned long long)ls.bytes_after, (unsigned long long)ls.bytes_before);
    cr_assert_eq(meta_size(dir, "log"), -1, "the old log is deleted");
    /* a compact log is not worth rewriting: left alone without force */
    ddx_log_stats again;
    cr_assert_eq(ddx_store_compact_log(s, 0, &again), 0, "%s", ddx_store_errmsg(s));
    cr_assert_eq(again.compacted, 0);
    cr_assert_eq(again.bytes_before, ls.bytes_after);
    cr_assert_eq(meta_size(dir, "log.00000001"), (off_t)ls.bytes_after);
    same_versions(s, before, nv, "after compaction");
    check_get(s, "docs", 3, v[2], n);
    check_get(s, "docs", 4, v[0], n);
    check_get(s, "other", 1, v[3], n);
    cr_assert_eq(ddx_store_verify(s, NULL, NULL, NULL), 0, "%s", ddx_store_errmsg(s));
    /* the same bytes again deduplicate against the renumbered chunks; ids
     * and numbers go on */
    ddx_put_stats st;
    put(s, "docs", v[2], n, &st);
    cr_assert_eq(st.new_chunks, 0);
    cr_assert_eq(st.version, 5);
    cr_assert_eq(st.version_id, 12); /* 11 put before, 8 of them removed */
    ddx_store_close(s);

    s = open_store(dir, DDX_STORE_READ); /* from the new log */
    ddx_version_info after[16];
    size_t na = list_versions(s, after, 16);
    cr_assert_eq(na, nv + 1);
    same_versions(s, after, na, "reopened"); /* the lister agrees with itself... */
    for (size_t i = 0; i < nv; i++)          /* ...and with the store before compaction */
        cr_assert(after[i].id == before[i].id && after[i].number == before[i].number &&
                  after[i].bytes == before[i].bytes && after[i].chunks == before[i].chunks);
    check_get(s, "docs", 5, v[2], n);
    check_get(s, "docs", 4, v[0], n);
    ddx_store_close(s);

    /* again: generation 2, after a rm and gc on the compacted store */
    s = open_store(dir, DDX_STORE_WRITE);
    cr_assert_eq(ddx_store_rm(s, "docs", 3), 0, "%s", ddx_store_errmsg(s));
    cr_assert_eq(ddx_store_gc(s, NULL), 0, "%s", ddx_store_errmsg(s));
    cr_assert_eq(ddx_store_compact_log(s, 1, &ls), 0, "%s", ddx_store_errmsg(s));
    cr_assert_eq(meta_size(dir, "log.00000001"), -1);
    cr_assert_gt(meta_size(dir, "log.00000002"), 0);
    check_get(s, "docs", 5, v[2], n);
    ddx_store_close(s);

    /* strays: a reader leaves them, a writer deletes them and says so */
    char *meta = store_path(dir, "meta"), *stray = store_path(meta, "log.0000000a");
    int fd = open(stray, O_WRONLY | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "junk", 4), 4);
    close(fd);
    s = open_store(dir, DDX_STORE_READ);
    check_get(s, "other", 1, v[3], n);
    ddx_store_close(s);
    cr_assert_eq(meta_size(dir, "log.0000000a"), 4);
    s = open_store(dir, DDX_STORE_WRITE);
    cr_assert_eq(meta_size(dir, "log.0000000a"), -1);
    const char *note = ddx_store_recovery_note(s);
    cr_assert(note && strstr(note, "another generation"), "note: %s", note ? note : "(none)");
    check_get(s, "docs", 4, v[0], n);
    ddx_store_close(s);
    for (unsigned k = 0; k < 4; k++)
        free(v[k]);
    free(meta), free(stray);
    rmrf(tmp);
    free(tmp), free(dir);
}

Test(store, rm_gc_compaction_and_reuse)
{
    char *tmp = mktmp(), *dir = store_path(tmp, "s");
    init_store(dir, NULL, 64u << 10); /* small containers: many of them */
    ddx_store *s = open_store(dir, DDX_STORE_WRITE);
    size_t n = 1u << 20;
    uint8_t *v[6];
    for (unsigned k = 0; k < 6; k++) {
        v[k] = version_bytes(tu_seed() + 100 * k, 0, n); /* unrelated versions */
        put(s, "v", v[k], n, NULL);
    }
    ddx_store_stats a, b;
    cr_assert_eq(ddx_store_stat(s, &a), 0);
    for (unsigned k = 1; k <= 4; k++)
        cr_assert_eq(ddx_store_rm(s, "v", k), 0, "%s", ddx_store_errmsg(s));
    cr_assert_eq(ddx_store_rm(s, "v", 2), DDX_ENOENT);
    ddx_gc_stats g;
    cr_assert_eq(ddx_store_gc(s, &g), 0, "%s", ddx_store_errmsg(s));
    cr_assert_gt(g.freed_chunks, 0);
    cr_assert_gt(g.containers_removed, 0);
    cr_assert_eq(ddx_store_stat(s, &b), 0);
    cr_assert_lt(b.container_bytes, a.container_bytes / 2, "gc reclaimed space");
    check_get(s, "v", 5, v[4], n);
    check_get(s, "v", 6, v[5], n);
    /* freed content comes back: stored again, deduplicated again */
    ddx_put_stats st;
    put(s, "v", v[0], n, &st);
    cr_assert_eq(st.version, 7, "numbers keep counting after removals");
    cr_assert_gt(st.new_chunks, 0);
    put(s, "v", v[0], n, &st);
    cr_assert_eq(st.new_chunks, 0, "a freed fingerprint that came back deduplicates");
    ddx_store_close(s);
    s = open_store(dir, DDX_STORE_WRITE);
    check_get(s, "v", 5, v[4], n);
    check_get(s, "v", 6, v[5], n);
    check_get(s, "v", 8, v[0], n);
    put(s, "v", v[0], n, &st);
    cr_assert_eq(st.new_chunks, 0, "after replaying FREE records too");
    cr_assert_eq(ddx_store_verify(s, NULL, NULL, NULL), 0, "%s", ddx_store_errmsg(s));
    ddx_store_close(s);
    for (unsigned k = 0; k < 6; k++)
        free(v[k]);
    rmrf(tmp);
    free(tmp), free(dir);
}

static void flip_byte(const char *path, off_t at)
{
    int fd = open(path, O_RDWR);
    cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
    uint8_t b;
    cr_assert_eq(pread(fd, &b, 1, at), 1);
    b ^= 0x20;
    cr_assert_eq(pwrite(fd, &b, 1, at), 1);
    close(fd);
}

static void count_line(void *ctx, const char *line)
{
    (*(int *)ctx)++;
    cr_log_info("verify: %s", line);
    cr_assert(strstr(line, "data/00000001.ctr") && strstr(line, "fingerprint mismatch") &&
                  strstr(line, "in: f@1"),
              "line: %s", line);
}

Test(store, flipped_byte_in_container_is_detected)
{
    char *tmp = mktmp(), *dir = store_path(tmp, "s");
    init_store(dir, NULL, 0);
    ddx_store *s = open_store(dir, DDX_STORE_WRITE);
    size_t n = 2u << 20;
    uint8_t *v = version_bytes(tu_seed() + 5, 0, n);
    put(s, "f", v, n, NULL);
    ddx_store_close(s);
    char *ctr = store_path(dir, "data/00000001.ctr");
    flip_byte(ctr, 100000);
    s = open_store(dir, DDX_STORE_READ);
    int fd = open("/dev/null", O_WRONLY);
    cr_assert_eq(ddx_store_get(s, "f", 1, fd), DDX_ECORRUPT);
    close(fd);
    cr_assert(strstr(ddx_store_errmsg(s), "f@1 at byte") &&
                  strstr(ddx_store_errmsg(s), "data/00000001.ctr offset"),
              "%s", ddx_store_errmsg(s));
    int lines = 0;
    ddx_verify_stats vs;
    cr_assert_eq(ddx_store_verify(s, count_line, &lines, &vs), DDX_ECORRUPT);
    cr_assert_eq(lines, 1);
    cr_assert_eq(vs.damaged_chunks, 1);
    cr_assert_eq(vs.damaged_versions, 1);
    ddx_store_close(s);
    free(v), free(ctr);
    rmrf(tmp);
    free(tmp), free(dir);
}

Test(store, flipped_byte_in_log_or_superblock_is_detected)
{
    char *tmp = mktmp(), *dir = store_path(tmp, "s");
    init_store(dir, NULL, 0);
    ddx_store *s = open_store(dir, DDX_STORE_WRITE);
    size_t n = 1u << 20;
    uint8_t *v = version_bytes(tu_seed() + 9, 0, n);
    put(s, "a", v, n, NULL);
    put(s, "b", v, n, NULL);
    ddx_store_close(s);
    char *log = store_path(dir, "meta/log"), *sup = store_path(dir, "meta/super");
    char why[512];
    /* the log: any committed record */
    flip_byte(log, 200);
    cr_assert_eq(ddx_store_open(&s, dir, DDX_STORE_READ, why, sizeof why), DDX_ECORRUPT);
    cr_assert(strstr(why, "meta/log: record at offset 0 (lsn 0): checksum mismatch"), "%s", why);
    flip_byte(log, 200);
    /* one superblock slot: the other (the previous commit) takes over */
    ddx_store *r = open_store(dir, DDX_STORE_READ);
    ddx_version_info vi;
    cr_assert_eq(ddx_store_version(r, 1, &vi), 0);
    ddx_store_close(r);
    /* the newest slot lost: slot 0 (commit 2) plus the log's complete
     * records after it bring back commit 3 */
    flip_byte(sup, 3 * DDX_SUPER_SLOT / 2); /* slot 1 holds commit 3 (odd) */
    r = open_store(dir, DDX_STORE_READ);
    cr_assert(strstr(ddx_store_recovery_note(r), "complete records after the last superblock"),
              "%s", ddx_store_recovery_note(r));
    check_get(r, "b", 1, v, n);
    ddx_store_close(r);
    flip_byte(sup, 3 * DDX_SUPER_SLOT / 2);
    flip_byte(sup, DDX_SUPER_SLOT / 2);
    flip_byte(sup, 3 * DDX_SUPER_SLOT / 2);
    cr_assert_eq(ddx_store_open(&s, dir, DDX_STORE_READ, why, sizeof why), DDX_ECORRUPT);
    cr_assert(strstr(why, "both slots unreadable"), "%s", why);
    free(v), free(log), free(sup);
    rmrf(tmp);
    free(tmp), free(dir);
}

Test(store, torn_log_tail_is_reported_and_truncated)
{
    char *tmp = mktmp(), *dir = store_path(tmp, "s");
    init_store(dir, NULL, 0);
    ddx_store *s = open_store(dir, DDX_STORE_WRITE);
    size_t n = 1u << 20;
    uint8_t *v = version_bytes(tu_seed() + 11, 0, n);
    put(s, "a", v, n, NULL);
    ddx_store_close(s);
    char *log = store_path(dir, "meta/log");
    struct stat st;
    cr_assert_eq(stat(log, &st), 0);
    off_t committed = st.st_size;
    FILE *f = fopen(log, "ab");
    uint8_t junk[3000];
    tu_fill(junk, sizeof junk, TU_RANDOM, 1);
    cr_assert_eq(fwrite(junk, 1, sizeof junk, f), sizeof junk);
    fclose(f);
    s = open_store(dir, DDX_STORE_READ);
    cr_assert(strstr(ddx_store_recovery_note(s), "3000 bytes after the last commit"), "%s",
              ddx_store_recovery_note(s));
    ddx_store_close(s);
    cr_assert_eq(stat(log, &st), 0);
    cr_assert_eq(st.st_size, committed + 3000, "a reader changes nothing");
    s = open_store(dir, DDX_STORE_WRITE);
    cr_assert(strstr(ddx_store_recovery_note(s), "were discarded"), "%s",
              ddx_store_recovery_note(s));
    cr_assert_eq(stat(log, &st), 0);
    cr_assert_eq(st.st_size, committed);
    check_get(s, "a", 1, v, n);
    put(s, "a", v, n, NULL);
    ddx_store_close(s);
    free(v), free(log);
    rmrf(tmp);
    free(tmp), free(dir);
}

Test(store, lock_missing_and_newer_format)
{
    char *tmp = mktmp(), *dir = store_path(tmp, "s");
    char why[512];
    ddx_store *s;
    cr_assert_eq(ddx_store_open(&s, dir, DDX_STORE_READ, why, sizeof why), DDX_ENOENT);
    cr_assert(strstr(why, dir), "%s", why);
    init_store(dir, NULL, 0);
    cr_assert_neq(ddx_store_init(dir, NULL, why, sizeof why), 0, "init on a store");
    cr_assert(strstr(why, "not empty"), "%s", why);
    ddx_store *w = open_store(dir, DDX_STORE_WRITE);
    cr_assert_eq(ddx_store_open(&s, dir, DDX_STORE_WRITE, why, sizeof why), DDX_ELOCKED);
    cr_assert(strstr(why, "locked"), "%s", why);
    ddx_store *r = open_store(dir, DDX_STORE_READ); /* readers need no lock */
    ddx_store_close(r);
    ddx_store_close(w);
    w = open_store(dir, DDX_STORE_WRITE); /* released on close */
    ddx_store_close(w);
    /* a superblock from a future major version */
    char *sup = store_path(dir, "meta/super");
    int fd = open(sup, O_RDWR);
    uint8_t slot[DDX_SUPER_SLOT];
    cr_assert_eq(pread(fd, slot, sizeof slot, DDX_SUPER_SLOT), DDX_SUPER_SLOT);
    ddx_put16(slot + 8, DDX_FMT_MAJOR_LOGGEN + 1);
    ddx_put32(slot + DDX_SUPER_SLOT - 4, ddx_crc32c(0, slot, DDX_SUPER_SLOT - 4));
    cr_assert_eq(pwrite(fd, slot, sizeof slot, DDX_SUPER_SLOT), DDX_SUPER_SLOT);
    cr_assert_eq(ddx_store_open(&s, dir, DDX_STORE_READ, why, sizeof why), DDX_EFORMAT);
    cr_assert(strstr(why, "format 4.0"), "%s", why);
    /* a major-3 superblock with a feature this ddx does not know */
    ddx_put16(slot + 8, DDX_FMT_MAJOR_LOGGEN);
    ddx_put32(slot + 116, 0x80);
    ddx_put32(slot + DDX_SUPER_SLOT - 4, ddx_crc32c(0, slot, DDX_SUPER_SLOT - 4));
    cr_assert_eq(pwrite(fd, slot, sizeof slot, DDX_SUPER_SLOT), DDX_SUPER_SLOT);
    close(fd);
    cr_assert_eq(ddx_store_open(&s, dir, DDX_STORE_READ, why, sizeof why), DDX_EFORMAT);
    cr_assert(strstr(why, "unknown features 0x80"), "%s", why);
    free(sup);
    rmrf(tmp);
    free(tmp), free(dir);
}

/* ---- crashes ---------------------------------------------------------------- */

#define CRASH_ROUNDS 120
#define CRASH_SIZE(i) ((size_t)(64 << 10) + (size_t)((i)*7919 % 11) * (96u << 10))

/* Writer: put versions 1, 2, ... of "c" (content from the seed and the
 * version number), reporting each acknowledged number on fd. */
static void crash_writer(const char *dir, int fd, uint64_t seed)
{
    ddx_store *s;
    if (ddx_store_open(&s, dir, DDX_STORE_WRITE, NULL, 0))
        _exit(3);
    for (unsigned i = 1;; i++) {
        ddx_version_info vi;
        uint32_t next = 1;
        for (size_t k = 0; ddx_store_version(s, k, &vi) == 0; k++)
            next = vi.number + 1;
        uint8_t *v = version_bytes(seed + next, next % 7, CRASH_SIZE(next));
        ddx_put_stats st;
        if (ddx_store_put_mem(s, "c", v, CRASH_SIZE(next), &st))
            _exit(4);
        free(v);
        uint32_t num = st.version;
        if (write(fd, &num, sizeof num) != sizeof num)
            _exit(5);
    }
}

/* Fork a writer running fn(dir, fd, seed); *rfd gets the read end of the
 * pipe it reports on. */
typedef void (*writer_fn)(const char *dir, int fd, uint64_t seed);
static pid_t start_writer(writer_fn fn, const char *dir, uint64_t seed, int *rfd)
{
    int pfd[2];
    cr_assert_eq(pipe(pfd), 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        fn(dir, pfd[1], seed);
    }
    close(pfd[1]);
    *rfd = pfd[0];
    return pid;
}

/* SIGKILL pid at a random moment within window_ns. */
static void kill_within(pid_t pid, uint64_t *rnd, long window_ns)
{
    long wait = (long)(tu_splitmix(rnd) % (uint64_t)window_ns);
    struct timespec ts = {wait / 1000000000L, wait % 1000000000L};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
}

/* The kill window from the time an open and three rounds of the writer
 * took: at least 40 ms, at most 2 s. */
static long kill_window(long per3_ns)
{
    return per3_ns < 40000000L ? 40000000L : per3_ns > 2000000000L ? 2000000000L : per3_ns;
}

Test(store, sigkill_at_random_points_loses_nothing_acknowledged, .timeout = 600)
{
    char *tmp = mktmp(), *dir = store_path(tmp, "s");
    init_store(dir, NULL, 256u << 10); /* small containers: seals happen often */
    uint64_t seed = tu_seed(), rnd = seed;
    uint32_t acked = 0;
    /* The kill comes at a random moment within a few puts' time. A put's
     * time depends on the build (ASan makes it several times slower) and
     * on the machine, so it is measured first, on a store of its own:
     * the writer's open and three puts of the sizes it writes. */
    long window_ns;
    {
        char *cdir = store_path(tmp, "calibrate");
        init_store(cdir, NULL, 256u << 10);
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        ddx_store *c = open_store(cdir, DDX_STORE_WRITE);
        for (unsigned k = 1; k <= 3; k++) {
            uint8_t *v = version_bytes(seed + k, k % 7, CRASH_SIZE(k));
            put(c, "c", v, CRASH_SIZE(k), NULL);
            free(v);
        }
        ddx_store_close(c);
        clock_gettime(CLOCK_MONOTONIC, &b);
        long per3 = (b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec);
        window_ns = kill_window(per3);
        cr_log_info("kills within %ld ms (an open and three puts took %ld ms)", window_ns / 1000000,
                    per3 / 1000000);
        rmrf(cdir);
        free(cdir);
    }
    for (int round = 0; round < CRASH_ROUNDS; round++) {
        int rfd;
        pid_t pid = start_writer(crash_writer, dir, seed, &rfd);
        kill_within(pid, &rnd, window_ns);
        uint32_t num;
        while (read(rfd, &num, sizeof num) == sizeof num)
            acked = num > acked ? num : acked;
        close(rfd);
        int status;
        waitpid(pid, &status, 0);
        cr_assert(WIFSIGNALED(status) || WEXITSTATUS(status) == 0,
                  "round %d: writer failed with exit %d", round, WEXITSTATUS(status));
        /* reopen: every acknowledged version is there and byte-exact; any
         * version there (acknowledged or not) has exactly its bytes */
        ddx_store *s = open_store(dir, round % 2 ? DDX_STORE_WRITE : DDX_STORE_READ);
        ddx_version_info vi;
        uint32_t have = 0;
        for (size_t k = 0; ddx_store_version(s, k, &vi) == 0; k++) {
            cr_assert_eq(vi.number, k + 1, "round %d: versions are 1..n", round);
            have = vi.number;
        }
        cr_assert_geq(have, acked, "round %d: version %u was acknowledged, store has %u", round,
                      acked, have);
        for (uint32_t k = have > 3 ? have - 2 : 1; k <= have; k++) {
            uint8_t *v = version_bytes(seed + k, k % 7, CRASH_SIZE(k));
            check_get(s, "c", k, v, CRASH_SIZE(k));
            free(v);
        }
        ddx_store_close(s);
    }
    /* all of them, once, and the store still takes writes */
    ddx_store *s = open_store(dir, DDX_STORE_WRITE);
    ddx_version_info vi;
    size_t k = 0;
    for (; ddx_store_version(s, k, &vi) == 0; k++) {
        uint8_t *v = version_bytes(seed + vi.number, vi.number % 7, CRASH_SIZE(vi.number));
        check_get(s, "c", vi.number, v, CRASH_SIZE(vi.number));
        free(v);
    }
    cr_log_info("%zu versions survived %d kills (%u acknowledged)", k, CRASH_ROUNDS, acked);
    cr_assert_gt(k, 10, "the writer made progress between kills");
    put(s, "after", (const uint8_t *)"still writable", 14, NULL);
    cr_assert_eq(ddx_store_verify(s, NULL, NULL, NULL), 0, "%s", ddx_store_errmsg(s));
    ddx_store_close(s);
    rmrf(tmp);
    free(tmp), free(dir);
}

/* The same, with the kill landing in rm, gc and log compaction: the writer
 * puts, removes its oldest version once it has more than four, collects
 * garbage and rewrites the log (forced) in a loop. Reported on fd: each
 * acknowledged put's number; each rm's number | RM_TRY before the call (after
 * it, a version may be gone without an acknowledgement) and | RM_ACK after. */
#define KILL_GC_ROUNDS 100
#define RM_ACK 0x80000000u
#define RM_TRY 0x40000000u

static void gc_crash_writer(const char *dir, int fd, uint64_t seed)
{
    ddx_store *s;
    if (ddx_store_open(&s, dir, DDX_STORE_WRITE, NULL, 0))
        _exit(3);
    for (;;) {
        ddx_version_info vi;
        uint32_t next = 1, oldest = 0;
        size_t live = 0;
        for (; ddx_store_version(s, live, &vi) == 0; live++) {
            next = vi.number + 1;
            oldest = oldest ? oldest : vi.number;
        }
        uint8_t *v = version_bytes(seed + next, next % 7, CRASH_SIZE(next));
        ddx_put_stats st;
        if (ddx_store_put_mem(s, "c", v, CRASH_SIZE(next), &st) || st.version != next)
            _exit(4);
        free(v);
        if (write(fd, &next, sizeof next) != sizeof next)
            _exit(5);
        if (live + 1 > 4) {
            uint32_t t = oldest | RM_TRY;
            if (write(fd, &t, sizeof t) != sizeof t)
                _exit(5);
            if (ddx_store_rm(s, "c", oldest))
                _exit(6);
            uint32_t m = oldest | RM_ACK;
            if (write(fd, &m, sizeof m) != sizeof m)
                _exit(5);
        }
        ddx_gc_stats gs;
        ddx_log_stats ls;
        if (ddx_store_gc(s, &gs) || ddx_store_compact_log(s, 1, &ls) || !ls.compacted)
            _exit(7);
    }
}

Test(store, sigkill_during_gc_and_log_compaction_loses_nothing_acknowledged, .timeout = 600)
{
    char *tmp = mktmp(), *dir = store_path(tmp, "s");
    init_store(dir, NULL, 256u << 10);
    uint64_t seed = tu_seed() + 77, rnd = seed;
    enum { MAXV = 1 << 14 };
    static uint8_t put_acked[MAXV], rm_tried[MAXV], rm_acked[MAXV];
    memset(put_acked, 0, sizeof put_acked);
    memset(rm_tried, 0, sizeof rm_tried);
    memset(rm_acked, 0, sizeof rm_acked);
    /* kill window: one open and three rounds of the writer, timed on a
     * store of its own (see the test above) */
    long window_ns;
    {
        char *cdir = store_path(tmp, "calibrate");
        init_store(cdir, NULL, 256u << 10);
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        int rfd;
        pid_t pid = start_writer(gc_crash_writer, cdir, seed, &rfd);
        uint32_t num;
        int puts = 0;
        while (puts < 3 && read(rfd, &num, sizeof num) == sizeof num)
            puts += !(num & (RM_ACK | RM_TRY));
        clock_gettime(CLOCK_MONOTONIC, &b);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        close(rfd);
        cr_assert_eq(puts, 3, "the calibration writer failed (exit %d)", WEXITSTATUS(status));
        long per3 = (b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec);
        window_ns = kill_window(per3);
        cr_log_info("kills within %ld ms", window_ns / 1000000);
        rmrf(cdir);
        free(cdir);
    }
    uint64_t removed = 0;
    int two_logs = 0; /* kills that left a compaction's new log beside the old one */
    char *meta = store_path(dir, "meta");
    for (int round = 0; round < KILL_GC_ROUNDS; round++) {
        int rfd;
        pid_t pid = start_writer(gc_crash_writer, dir, seed, &rfd);
        kill_within(pid, &rnd, window_ns);
        uint32_t num;
        while (read(rfd, &num, sizeof num) == sizeof num) {
            uint32_t k = num & ~(RM_ACK | RM_TRY);
            cr_assert_lt(k, MAXV);
            if (num & RM_ACK)
                removed += !rm_acked[k], rm_acked[k] = 1;
            else if (num & RM_TRY)
                rm_tried[k] = 1;
            else
                put_acked[k] = 1;
        }
        close(rfd);
        int status;
        waitpid(pid, &status, 0);
        cr_assert(WIFSIGNALED(status) || WEXITSTATUS(status) == 0,
                  "round %d: writer failed with exit %d", round, WEXITSTATUS(status));
        DIR *md = opendir(meta);
        cr_assert(md != NULL);
        int logs = 0;
        for (struct dirent *de; (de = readdir(md)) != NULL;)
            logs += !strncmp(de->d_name, "log", 3);
        closedir(md);
        two_logs += logs > 1;
        /* reopen (read-only and writable in turn: a writable open deletes an
         * interrupted compaction's log, a reader must ignore it): each
         * acknowledged put is live unless an rm of it was begun, no
         * acknowledged rm is undone, and every live version has its bytes */
        ddx_store *s = open_store(dir, round % 2 ? DDX_STORE_WRITE : DDX_STORE_READ);
        static uint8_t live[MAXV];
        memset(live, 0, sizeof live);
        ddx_version_info vi;
        for (size_t k = 0; ddx_store_version(s, k, &vi) == 0; k++) {
            cr_assert_lt(vi.number, MAXV);
            live[vi.number] = 1;
            uint8_t *v = version_bytes(seed + vi.number, vi.number % 7, CRASH_SIZE(vi.number));
            check_get(s, "c", vi.number, v, CRASH_SIZE(vi.number));
            free(v);
        }
        for (uint32_t k = 1; k < MAXV; k++) {
            cr_assert(!put_acked[k] || rm_tried[k] || live[k],
                      "round %d: put of version %u was acknowledged, it is gone", round, k);
            cr_assert(!rm_acked[k] || !live[k],
                      "round %d: rm of version %u was acknowledged, it is back", round, k);
        }
        ddx_store_close(s);
    }
    ddx_store *s = open_store(dir, DDX_STORE_WRITE);
    cr_log_info("%llu removes acknowledged in %d kills; %d kills left two logs",
                (unsigned long long)removed, KILL_GC_ROUNDS, two_logs);
    cr_assert_gt(removed, 10, "the writer made progress between kills");
    put(s, "after", (const uint8_t *)"still writable", 14, NULL);
    cr_assert_eq(ddx_store_verify(s, NULL, NULL, NULL), 0, "%s", ddx_store_errmsg(s));
    ddx_store_close(s);
    rmrf(tmp);
    free(meta), free(tmp), free(dir);
}

/* ---- readers during a put ------------------------------------------------------ */

Test(store, readers_while_a_writer_ingests, .timeout = 300)
{
    char *tmp = mktmp(), *dir = store_path(tmp, "s");
    init_store(dir, NULL, 256u << 10);
    uint64_t seed = tu_seed() + 31;
    pid_t pid = fork();
    if (pid == 0) {
        ddx_store *s;
        if (ddx_store_open(&s, dir, DDX_STORE_WRITE, NULL, 0))
            _exit(3);
        for (unsigned k = 1; k <= 12; k++) {
            uint8_t *v = version_bytes(seed + k, k, CRASH_SIZE(k));
            if (ddx_store_put_mem(s, "r", v, CRASH_SIZE(k), NULL))
                _exit(4);
            free(v);
        }
        ddx_store_close(s);
        _exit(0);
    }
    int done = 0, checks = 0;
    while (!done) {
        int status;
        done = waitpid(pid, &status, WNOHANG) == pid;
        if (done)
            cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer failed");
        ddx_store *s = open_store(dir, DDX_STORE_READ);
        ddx_version_info vi;
        for (size_t k = 0; ddx_store_version(s, k, &vi) == 0; k++) {
            uint8_t *v = version_bytes(seed + vi.number, vi.number, CRASH_SIZE(vi.number));
            check_get(s, "r", vi.number, v, CRASH_SIZE(vi.number));
            free(v);
            checks++;
        }
        ddx_store_close(s);
    }
    cr_log_info("%d restores checked while the writer ran", checks);
    cr_assert_gt(checks, 12);
    rmrf(tmp);
    free(tmp), free(dir);
}

/* ---- checkpoints ----------------------------------------------------------- */

static void copy_file(const char *from, const char *to)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    cr_assert_eq(system(cmd), 0);
}

Test(store, checkpoints_load_fall_back_and_go_stale_safely)
{
    setenv("DDX_CKPT_BYTES", "1", 1); /* one after every commit */
    char *tmp = mktmp(), *dir = store_path(tmp, "s");
    char *ck = store_path(dir, "meta/ckpt"), *old = store_path(tmp, "ckpt.old");
    init_store(dir, NULL, 64u << 10);
    ddx_store *s = open_store(dir, DDX_STORE_WRITE);
    size_t n = 1u << 20;
    uint8_t *v[4];
    for (unsigned k = 0; k < 4; k++) {
        v[k] = version_bytes(tu_seed() + 50 * k, k, n);
        put(s, "k", v[k], n, NULL);
        if (k == 1)
            copy_file(ck, old); /* a checkpoint the log has since outgrown */
    }
    cr_assert_eq(ddx_store_rm(s, "k", 1), 0);
    cr_assert_eq(ddx_store_gc(s, NULL), 0, "%s", ddx_store_errmsg(s));
    ddx_put_stats st;
    put(s, "k", v[0], n, &st);
    ddx_store_close(s);
    unsetenv("DDX_CKPT_BYTES");
    struct stat sb;
    cr_assert_eq(stat(ck, &sb), 0, "no checkpoint written");

    /* from the checkpoint alone (it covers the whole log) */
    s = open_store(dir, DDX_STORE_WRITE);
    cr_assert_str_empty(ddx_store_recovery_note(s), "%s", ddx_store_recovery_note(s));
    for (unsigned k = 1; k < 4; k++)
        check_get(s, "k", k + 1, v[k], n);
    check_get(s, "k", 5, v[0], n);
    put(s, "k", v[0], n, &st);
    cr_assert_eq(st.new_chunks, 0, "the index came back from the checkpoint");
    ddx_store_close(s);

    /* stale: the old checkpoint plus the log after it */
    copy_file(old, ck);
    s = open_store(dir, DDX_STORE_READ);
    cr_assert_str_empty(ddx_store_recovery_note(s), "%s", ddx_store_recovery_note(s));
    for (unsigned k = 1; k < 4; k++)
        check_get(s, "k", k + 1, v[k], n);
    cr_assert_eq(ddx_store_get(s, "k", 1, 1), DDX_ENOENT, "the rm after it was replayed");
    ddx_store_close(s);

    /* a flipped byte in the log before the checkpoint: open does not read
     * that far back any more, verify does */
    char *log = store_path(dir, "meta/log");
    flip_byte(log, 200);
    s = open_store(dir, DDX_STORE_READ);
    ddx_verify_stats vs;
    cr_assert_eq(ddx_store_verify(s, NULL, NULL, &vs), DDX_ECORRUPT);
    cr_assert_eq(vs.damaged_records, 1);
    cr_assert(strstr(ddx_store_errmsg(s), "1 damaged log records"), "%s", ddx_store_errmsg(s));
    ddx_store_close(s);
    flip_byte(log, 200);
    free(log);

    /* damaged: ignored, the whole log replayed, nothing lost */
    flip_byte(ck, 100);
    s = open_store(dir, DDX_STORE_READ);
    cr_assert(strstr(ddx_store_recovery_note(s), "ckpt: checksum mismatch; replayed the whole log"),
              "%s", ddx_store_recovery_note(s));
    for (unsigned k = 1; k < 4; k++)
        check_get(s, "k", k + 1, v[k], n);
    check_get(s, "k", 6, v[0], n);
    ddx_store_close(s);
    for (unsigned k = 0; k < 4; k++)
        free(v[k]);
    free(ck), free(old);
    rmrf(tmp);
    free(tmp), free(dir);
}

Test(store, gc_leaves_containers_that_open_readers_may_need)
{
    char *tmp = mktmp(), *dir = store_path(tmp, "s");
    init_store(dir, NULL, 64u << 10);
    ddx_store *w = open_store(dir, DDX_STORE_WRITE);
    size_t n = 1u << 20;
    uint8_t *a = version_bytes(tu_seed() + 1, 0, n), *b = version_bytes(tu_seed() + 2, 0, n);
    put(w, "g", a, n, NULL);
    put(w, "g", b, n, NULL);
    ddx_store *r = open_store(dir, DDX_STORE_READ); /* sees g@1 */
    cr_assert_eq(ddx_store_rm(w, "g", 1), 0);
    ddx_gc_stats g;
    cr_assert_eq(ddx_store_gc(w, &g), 0, "%s", ddx_store_errmsg(w));
    cr_assert_gt(g.freed_chunks, 0);
    cr_assert_eq(g.containers_removed, 0, "a reader is open");
    cr_assert(strstr(ddx_store_recovery_note(w), "left for a later gc"), "%s",
              ddx_store_recovery_note(w));
    check_get(r, "g", 1, a, n); /* the old version, still readable */
    ddx_store_close(r);
    cr_assert_eq(ddx_store_gc(w, &g), 0, "%s", ddx_store_errmsg(w));
    cr_assert_gt(g.containers_removed, 0, "alone now: the emptied containers go");
    check_get(w, "g", 2, b, n);
    cr_assert_eq(ddx_store_verify(w, NULL, NULL, NULL), 0, "%s", ddx_store_errmsg(w));
    ddx_store_close(w);
    free(a), free(b);
    rmrf(tmp);
    free(tmp), free(dir);
}

/* ---- metadata-only puts (fingerprint traces) ---------------------------------- */

/* This file's names for the shared chunk list (chunk_list.h). */
typedef tu_chunks chunk_list;
#define collect_chunk tu_chunks_add

static int by_offset(const void *a, const void *b)
{
    const ddx_chunk *x = a, *y = b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* The chunk list a store with these parameters cuts from p: what a trace of
 * the same data holds. */
static chunk_list chunks_of(ddx_store *s, const uint8_t *p, size_t n)
{
    ddx_store_stats ss;
    cr_assert_eq(ddx_store_stat(s, &ss), 0);
    chunk_list l = {.mu = PTHREAD_MUTEX_INITIALIZER};
    ddx_engine *e;
    cr_assert_eq(ddx_engine_create(&e), 0);
    cr_assert_eq(ddx_engine_set_chunker(e, ss.chunker, ss.min, ss.avg, ss.max), 0);
    cr_assert_eq(ddx_engine_set_hash(e, ss.hash), 0);
    cr_assert_eq(ddx_engine_set_pinning(e, 0), 0);
    cr_assert_eq(ddx_engine_set_chunk_callback(e, collect_chunk, &l), 0);
    cr_assert_eq(ddx_engine_open(e), 0);
    cr_assert_eq(ddx_engine_stream_begin(e), 0);
    cr_assert_eq(ddx_engine_feed(e, p, n), 0);
    cr_assert_eq(ddx_engine_stream_end(e), 0);
    cr_assert_eq(ddx_engine_finish(e), 0);
    ddx_engine_close(e);
    qsort(l.v, l.n, sizeof *l.v, by_offset);
    return l;
}

Test(store, trace_puts_are_metadata_only_and_survive_replay_checkpoint_and_gc)
{
    char *tmp = mktmp(), *dd = store_path(tmp, "data"), *td = store_path(tmp, "trace");
    init_store(dd, NULL, 0);
    init_store(td, NULL, 0);
    size_t n = 4u << 20;
    uint8_t *v1 = version_bytes(tu_seed(), 0, n), *v2 = version_bytes(tu_seed(), 3, n);
    ddx_store *d = open_store(dd, DDX_STORE_WRITE), *t = open_store(td, DDX_STORE_WRITE);
    ddx_put_stats ds1, ds2, ts1, ts2, ts3;
    put(d, "v", v1, n, &ds1);
    put(d, "v", v2, n, &ds2);
    chunk_list c1 = chunks_of(d, v1, n), c2 = chunks_of(d, v2, n);
    cr_assert_eq(c1.n, ds1.chunks);

    /* the trace store: the same dedup as the data store, no containers */
    cr_assert_eq(ddx_store_put_chunks(t, "v", c1.v, c1.n, &ts1), 0, "%s", ddx_store_errmsg(t));
    cr_assert_eq(ddx_store_put_chunks(t, "v", c2.v, c2.n, &ts2), 0, "%s", ddx_store_errmsg(t));
    cr_assert_eq(ts1.new_chunks, ds1.new_chunks);
    cr_assert_eq(ts2.new_chunks, ds2.new_chunks);
    cr_assert_eq(ts2.new_bytes, ds2.new_bytes);
    cr_assert_eq(ts2.bytes, n);
    cr_assert_eq(ts2.version, 2);
    cr_assert_leq(ts2.meta_bytes, 48 * ts2.new_chunks + 32 * ts2.chunks + 512);
    ddx_store_stats ss;
    cr_assert_eq(ddx_store_stat(t, &ss), 0);
    cr_assert_eq(ss.containers, 0);
    cr_assert_eq(ss.versions, 2);
    /* not restorable, said clearly; no data puts into a trace store */
    cr_assert_eq(ddx_store_get(t, "v", 2, 1), DDX_ENOENT);
    cr_assert(strstr(ddx_store_errmsg(t), "v@2 was put from a fingerprint trace"), "%s",
              ddx_store_errmsg(t));
    cr_assert_eq(ddx_store_put_mem(t, "x", v1, 100, NULL), DDX_ESTATE);
    cr_assert(strstr(ddx_store_errmsg(t), "takes no data puts"), "%s", ddx_store_errmsg(t));
    ddx_chunk bad = c1.v[0];
    bad.length = 0;
    cr_assert_eq(ddx_store_put_chunks(t, "v", &bad, 1, NULL), DDX_EINVAL);
    ddx_store_close(t);

    /* reopened from the log, then from a checkpoint: the absent chunks are back */
    for (int round = 0; round < 2; round++) {
        if (round)
            setenv("DDX_CKPT_BYTES", "1", 1);
        t = open_store(td, DDX_STORE_WRITE);
        cr_assert_eq(ddx_store_put_chunks(t, "v", c2.v, c2.n, &ts3), 0, "%s", ddx_store_errmsg(t));
        cr_assert_eq(ts3.new_chunks, 0, "round %d: the index lost absent chunks", round);
        ddx_verify_stats vs;
        cr_assert_eq(ddx_store_verify(t, NULL, NULL, &vs), 0, "%s", ddx_store_errmsg(t));
        cr_assert_eq(vs.absent_chunks, ds1.new_chunks + ds2.new_chunks);
        cr_assert_eq(vs.damaged_chunks, 0);
        cr_assert_eq(vs.chunks, 0);
        ddx_store_close(t);
        unsetenv("DDX_CKPT_BYTES");
    }
    /* a compacted trace store keeps its absent chunks, and its refusal of
     * data puts, through the superblock's features (format 3) */
    t = open_store(td, DDX_STORE_WRITE);
    ddx_log_stats ls;
    cr_assert_eq(ddx_store_compact_log(t, 1, &ls), 0, "%s", ddx_store_errmsg(t));
    cr_assert(ls.compacted);
    ddx_store_close(t);
    t = open_store(td, DDX_STORE_WRITE);
    cr_assert_eq(ddx_store_put_mem(t, "data", v1, n, NULL), DDX_ESTATE);
    cr_assert(strstr(ddx_store_errmsg(t), "fingerprint traces"), "%s", ddx_store_errmsg(t));
    {
        ddx_verify_stats cv;
        cr_assert_eq(ddx_store_verify(t, NULL, NULL, &cv), 0, "%s", ddx_store_errmsg(t));
        cr_assert_eq(cv.absent_chunks, ds1.new_chunks + ds2.new_chunks);
    }
    ddx_store_close(t);
    /* rm + gc frees absent chunks like any others */
    t = open_store(td, DDX_STORE_WRITE);
    for (uint32_t k = 1; k <= 4; k++)
        cr_assert_eq(ddx_store_rm(t, "v", k), 0, "%s", ddx_store_errmsg(t));
    ddx_gc_stats gs;
    cr_assert_eq(ddx_store_gc(t, &gs), 0, "%s", ddx_store_errmsg(t));
    cr_assert_eq(gs.freed_chunks, ds1.new_chunks + ds2.new_chunks);
    cr_assert_eq(gs.moved_bytes, 0);
    ddx_store_close(t);
    t = open_store(td, DDX_STORE_READ);
    ddx_verify_stats vs;
    cr_assert_eq(ddx_store_verify(t, NULL, NULL, &vs), 0, "%s", ddx_store_errmsg(t));
    cr_assert_eq(vs.absent_chunks, 0);
    ddx_store_close(t);

    /* into the data store: every chunk is already there with its bytes, so the
     * trace version restores and the store still takes data */
    cr_assert_eq(ddx_store_put_chunks(d, "t", c2.v, c2.n, &ts3), 0, "%s", ddx_store_errmsg(d));
    cr_assert_eq(ts3.new_chunks, 0);
    check_get(d, "t", 1, v2, n);
    put(d, "v", v1, n, NULL);
    ddx_store_close(d);
    free(c1.v), free(c2.v), free(v1), free(v2);
    rmrf(tmp);
    free(tmp), free(dd), free(td);
}
