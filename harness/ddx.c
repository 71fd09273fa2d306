/*
 * ddx.c - the command-line tool for the persistent store:
 * `ddx init | put | get | ls | stat | rm | gc | verify STORE ...`.
 *
 * Uses only the public header ddx.h (its "persistent store" section). Exit
 * status: 0 success; 2 a malformed command line (unknown option, missing
 * operand, bad NAME@N), found before the store is touched; 1 anything that
 * fails at run time (missing, locked, newer or damaged store, unknown
 * version, unreadable input, unwritable output; verify finding damage).
 * Every failure is one line on stderr, "ddx: WHAT: why", naming the store
 * or file at fault.
 *
 * A directory given to `put` is stored as a ustar archive of its contents,
 * written by a thread into a pipe that the store ingests like stdin. The
 * archive is deterministic (names sorted bytewise, owner 0, only mode, size
 * and mtime), so putting an unchanged tree again stores no new chunks. The
 * tree is walked once up front, so that unsupported files and names that do
 * not fit ustar fail before the store is locked; what changes during the
 * stream (a file shrinks, grows or vanishes) is found by the writer thread.
 * A pipe cannot carry that failure to the store (it would see a clean end of
 * input and commit), so the version is removed again after the put and the
 * command fails: the store never keeps an archive that differs from the tree.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_size.h"
#include "ddx.h"

#define EXIT_USAGE 2
#define EXIT_FAIL 1

static const char *prog = "ddx";

/* `get` to a file writes OUT.tmp and renames it; a failure or a signal
 * removes the temporary so that no partial file is left behind. */
static char tmp_path[PATH_MAX + 8];
static volatile sig_atomic_t tmp_live;

static void die(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
static void die(int code, const char *fmt, ...)
{
    va_list ap;
    if (tmp_live)
        unlink(tmp_path);
    fflush(stdout);
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(code);
}

/* The store's messages already start with the store's path (or a path
 * inside it): print those as they are, prefix the others, so that every line
 * names the store exactly once. */
static void store_die(int code, const char *store, const char *msg, int rc)
    __attribute__((noreturn));
static void store_die(int code, const char *store, const char *msg, int rc)
{
    if (!msg || !*msg)
        msg = ddx_strerror(rc);
    size_t n = strlen(store);
    if (!strncmp(msg, store, n) && (msg[n] == ':' || msg[n] == '/'))
        die(code, "%s", msg);
    die(code, "%s: %s", store, msg);
}

static void on_signal(int sig)
{
    if (tmp_live)
        unlink(tmp_path);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* ---- commands and their help ------------------------------------------------ */

typedef struct command {
    const char *name;
    int (*run)(const struct command *cmd, int argc, char **argv);
    const char *args;    /* operands, for the usage line */
    const char *summary; /* one line, for ddx --help */
    const char *help;    /* what it does, and its options */
} command;

static const command commands[];

static void usage(FILE *f)
{
    fprintf(f, "usage: ddx COMMAND [options] STORE [ARGS...]\n"
               "       ddx COMMAND --help | ddx --help | ddx --version\n"
               "\n"
               "Keep versions of files in a deduplicating store: each unique chunk is kept\n"
               "once, in containers under STORE/data, and each version is a recipe of chunk\n"
               "references in the metadata log (STORE/meta, or the --meta DIR given to init;\n"
               "docs/format.md describes the layout).\n"
               "\n"
               "commands:\n");
    for (const command *c = commands; c->name; c++) {
        char head[64];
        snprintf(head, sizeof head, "%s %s", c->name, c->args);
        fprintf(f, "  %-32s %s\n", head, c->summary);
    }
    fprintf(f, "\n"
               "A version is named NAME@N: versions of a NAME are numbered 1, 2, 3, ... in the\n"
               "order they were put; NAME alone means the latest. Names are 1..255 bytes\n"
               "without '@', '/' or control characters.\n"
               "One writer at a time: put, rm and gc lock the store and fail at once if\n"
               "another ddx holds the lock; get, ls, stat and verify run alongside a writer and\n"
               "see the versions committed when they started.\n"
               "Exit status: 0 success, 1 run-time failure (verify: damage found), 2 bad\n"
               "command line. SIZE takes a K, M or G suffix (powers of 1024).\n"
               "`ddx COMMAND --help` describes a command and its options.\n");
}

static void cmd_usage(FILE *f, const command *c)
{
    fprintf(f, "usage: ddx %s %s\n\n%s", c->name, c->args, c->help);
}

/* ---- parsing ------------------------------------------------------------------ */

static uint64_t parse_size(const char *opt, const char *s)
{
    uint64_t v;
    if (ddx_cli_size(s, &v))
        die(EXIT_USAGE, "%s: expected a size such as 8192 or 8K, got '%s'", opt, s);
    return v;
}

/* A version name as the store accepts it; NULL if fine, else why not. */
static const char *name_problem(const char *name)
{
    size_t n = strlen(name);
    if (n == 0)
        return "empty name";
    if (n > 255)
        return "longer than 255 bytes";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '@')
            return "names may not contain '@' (NAME@N picks a version)";
        if (c == '/')
            return "names may not contain '/'";
        if (c < 0x20 || c == 0x7f)
            return "names may not contain control characters";
    }
    return NULL;
}

/* "NAME" or "NAME@N" (N a decimal integer >= 1, digits only). *number is 0
 * for a bare NAME. The name is copied into buf. */
static void parse_spec(const char *cmd, const char *spec, char *buf, size_t len, uint32_t *number)
{
    const char *at = strchr(spec, '@');
    size_t nl = at ? (size_t)(at - spec) : strlen(spec);
    if (nl >= len)
        die(EXIT_USAGE, "%s: '%.40s...': name longer than 255 bytes", cmd, spec);
    memcpy(buf, spec, nl);
    buf[nl] = 0;
    *number = 0;
    if (at) {
        const char *d = at + 1;
        uint64_t v = 0;
        int ok = *d != 0;
        for (; *d && ok; d++) {
            ok = *d >= '0' && *d <= '9';
            v = v * 10 + (uint64_t)(*d - '0');
            if (v > UINT32_MAX)
                ok = 0;
        }
        if (!ok || v == 0)
            die(EXIT_USAGE,
                "%s: '%s': expected NAME@N with N a version number 1, 2, 3, ... (see ddx ls)", cmd,
                spec);
        *number = (uint32_t)v;
    }
    const char *why = name_problem(buf);
    if (why)
        die(EXIT_USAGE, "%s: '%s': %s", cmd, spec, why);
}

/* getopt_long over a command's arguments (argv[0] is the command). Operands
 * may come before, between and after options ("ddx init STORE --avg 16K"),
 * the same whatever POSIXLY_CORRECT says: "+" stops at each operand, which is
 * collected, and parsing resumes after it; "--" ends the options. Returns the
 * next option, or -1 when done; the operands are then in ops[0..*nops). */
static int next_opt(const command *cmd, int argc, char **argv, const struct option *lo, char **ops,
                    int *nops)
{
    for (;;) {
        if (optind < argc && !strcmp(argv[optind], "--")) {
            for (optind++; optind < argc; optind++)
                ops[(*nops)++] = argv[optind];
            return -1;
        }
        int c = getopt_long(argc, argv, "+:h", lo, NULL);
        if (c == 'h') {
            cmd_usage(stdout, cmd);
            exit(0);
        }
        if (c == ':')
            die(EXIT_USAGE, "%s: option '%s' needs a value (try ddx %s --help)", cmd->name,
                argv[optind - 1], cmd->name);
        if (c == '?') {
            if (optopt && optopt < 256)
                die(EXIT_USAGE, "%s: unknown option '-%c' (try ddx %s --help)", cmd->name, optopt,
                    cmd->name);
            die(EXIT_USAGE, "%s: unknown option '%s' (try ddx %s --help)", cmd->name,
                argv[optind - 1], cmd->name);
        }
        if (c != -1)
            return c;
        if (optind >= argc)
            return -1;
        ops[(*nops)++] = argv[optind++];
    }
}

static void check_operands(const command *cmd, char **ops, int n, int lo, int hi)
{
    if (n < lo)
        die(EXIT_USAGE, "%s: expected %s (try ddx %s --help)", cmd->name, cmd->args, cmd->name);
    if (n > hi)
        die(EXIT_USAGE, "%s: unexpected operand '%s' (usage: ddx %s %s)", cmd->name, ops[hi],
            cmd->name, cmd->args);
}

/* Parse the arguments of a command without options of its own (--help
 * aside): lo..hi operands, returned in a calloc'ed array. */
static char **operands(const command *cmd, int argc, char **argv, int lo, int hi, int *nops)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    char **ops = calloc((size_t)argc + 1, sizeof *ops);
    if (!ops)
        die(EXIT_FAIL, "out of memory");
    *nops = 0;
    optind = 1;
    opterr = 0;
    while (next_opt(cmd, argc, argv, opts, ops, nops) != -1)
        ;
    check_operands(cmd, ops, *nops, lo, hi);
    return ops;
}

/* ---- output helpers ---------------------------------------------------------- */

static const char *human(uint64_t n, char buf[32])
{
    static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (n < 1024) {
        snprintf(buf, 32, "%" PRIu64 " B", n);
        return buf;
    }
    double v = (double)n / 1024;
    int u = 0;
    while (v >= 1024 && u < 5)
        v /= 1024, u++;
    snprintf(buf, 32, "%.1f %s", v, unit[u]);
    return buf;
}

static ddx_store *open_store(const char *store, unsigned flags)
{
    ddx_store *s;
    char why[1024];
    why[0] = 0;
    int rc = ddx_store_open(&s, store, flags, why, sizeof why);
    struct stat st;
    if (rc == DDX_ENOENT && stat(store, &st) && errno == ENOENT)
        die(EXIT_FAIL, "%s: no such store (no such directory; ddx init creates one)", store);
    if (rc)
        store_die(EXIT_FAIL, store, why, rc);
    const char *note = ddx_store_recovery_note(s);
    if (note && *note)
        fprintf(stderr, "%s: %s: %s\n", prog, store, note);
    return s;
}

static void fail_op(ddx_store *s, const char *store, int rc)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", ddx_store_errmsg(s));
    ddx_store_close(s);
    store_die(EXIT_FAIL, store, msg, rc);
}

/* The number of name's version to use (the latest if want is 0), or fail
 * with a line saying which versions exist. */
static uint32_t resolve(ddx_store *s, const char *store, const char *name, uint32_t want)
{
    uint32_t *nums = NULL;
    size_t n = 0, cap = 0;
    int found = 0;
    for (size_t i = 0;; i++) {
        ddx_version_info vi;
        int rc = ddx_store_version(s, i, &vi);
        if (rc == DDX_ENOENT)
            break;
        if (rc)
            fail_op(s, store, rc);
        if (strcmp(vi.name, name))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            if (!(nums = realloc(nums, cap * sizeof *nums)))
                die(EXIT_FAIL, "out of memory");
        }
        nums[n++] = vi.number;
        found |= vi.number == want;
    }
    if (!n) /* nums is NULL */
        die(EXIT_FAIL, "%s: %s: no such name in the store (ddx ls lists the versions)", store,
            name);
    uint32_t latest = 0;
    for (size_t i = 0; i < n; i++)
        latest = nums[i] > latest ? nums[i] : latest;
    if (!want || found) {
        free(nums);
        return want ? want : latest;
    }
    /* "@1, @2, @3" or "@1, @2, ..., @9, @10" */
    char list[160];
    size_t ln = 0;
    for (size_t i = 0; i < n && ln < sizeof list - 40; i++) {
        if (n > 6 && i == 3) {
            ln += (size_t)snprintf(list + ln, sizeof list - ln, ", ...");
            i = n - 3;
            continue;
        }
        ln += (size_t)snprintf(list + ln, sizeof list - ln, "%s@%" PRIu32, i ? ", " : "", nums[i]);
    }
    free(nums);
    die(EXIT_FAIL, "%s: %s@%" PRIu32 ": no such version%s; %s has %zu version%s (%s)", store, name,
        want, want < latest ? " (it was removed)" : "", name, n, n == 1 ? "" : "s", list);
}

/* ---- init ------------------------------------------------------------------------ */

static int cmd_init(const command *cmd, int argc, char **argv)
{
    enum { O_META = 256, O_CHUNKER, O_AVG, O_MIN, O_MAX, O_NORM, O_HASH, O_CONTAINER };
    static const struct option lo[] = {
        {"meta", required_argument, 0, O_META}, {"chunker", required_argument, 0, O_CHUNKER},
        {"avg", required_argument, 0, O_AVG},   {"min", required_argument, 0, O_MIN},
        {"max", required_argument, 0, O_MAX},   {"normalization", required_argument, 0, O_NORM},
        {"hash", required_argument, 0, O_HASH}, {"container", required_argument, 0, O_CONTAINER},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0},
    };
    ddx_store_params p;
    ddx_store_default_params(&p);
    char **ops = calloc((size_t)argc + 1, sizeof *ops);
    if (!ops)
        die(EXIT_FAIL, "out of memory");
    int nops = 0, c;
    uint64_t v;
    optind = 1;
    opterr = 0;
    while ((c = next_opt(cmd, argc, argv, lo, ops, &nops)) != -1) {
        switch (c) {
        case O_META:
            if (!*optarg)
                die(EXIT_USAGE, "init: --meta: empty directory name");
            p.meta_dir = optarg;
            break;
        case O_CHUNKER:
            if (ddx_chunker_from_name(optarg, &p.chunker))
                die(EXIT_USAGE,
                    "init: --chunker: expected fixed, rabin, tttd, fastcdc or ram, got '%s'",
                    optarg);
            break;
        case O_AVG:
        case O_MIN:
        case O_MAX: {
            const char *on = c == O_AVG   ? "init: --avg"
                             : c == O_MIN ? "init: --min"
                                          : "init: --max";
            v = parse_size(on, optarg);
            if (v < DDX_CHUNK_MIN_LIMIT || v > DDX_CHUNK_MAX_LIMIT)
                die(EXIT_USAGE, "%s: must be between 64 B and 64 MiB, got '%s'", on, optarg);
            *(c == O_AVG ? &p.avg : c == O_MIN ? &p.min : &p.max) = (uint32_t)v;
            break;
        }
        case O_NORM:
            if (strlen(optarg) != 1 || optarg[0] < '0' || optarg[0] > '3')
                die(EXIT_USAGE, "init: --normalization: expected 0, 1, 2 or 3, got '%s'", optarg);
            p.normalization = optarg[0] - '0';
            break;
        case O_HASH:
            if (ddx_hash_from_name(optarg, &p.hash))
                die(EXIT_USAGE, "init: --hash: expected sha1 or sha256, got '%s'", optarg);
            break;
        case O_CONTAINER:
            v = parse_size("init: --container", optarg);
            if (v < (64u << 10) || v > (1u << 30))
                die(EXIT_USAGE, "init: --container: must be between 64K and 1G, got '%s'", optarg);
            p.container_bytes = (uint32_t)v;
            break;
        }
    }
    check_operands(cmd, ops, nops, 1, 1);
    const char *store = ops[0];
    char why[1024];
    why[0] = 0;
    int rc = ddx_store_init(store, &p, why, sizeof why);
    if (rc) {
        /* parameters the chunker refuses are a bad command line; the store
         * checks them before it touches the directory */
        int usage_err = rc == DDX_EINVAL && !strncmp(why, "chunker parameters", 18);
        store_die(usage_err ? EXIT_USAGE : EXIT_FAIL, store, why, rc);
    }
    /* report the parameters as the store resolved them (defaults filled in) */
    ddx_store *s = open_store(store, DDX_STORE_READ);
    ddx_store_stats st;
    if ((rc = ddx_store_stat(s, &st)) != 0)
        fail_op(s, store, rc);
    char cb[32];
    printf("initialized %s: %s min %" PRIu32 " avg %" PRIu32 " max %" PRIu32
           ", %s, %s containers, metadata in %s%s\n",
           store, ddx_chunker_name(st.chunker), st.min, st.avg, st.max, ddx_hash_name(st.hash),
           human(p.container_bytes, cb), p.meta_dir ? p.meta_dir : store,
           p.meta_dir ? "" : "/meta");
    ddx_store_close(s);
    free(ops);
    return 0;
}

/* ---- put: directories as ustar archives -------------------------------------- */

typedef struct tar_ent {
    char *path; /* where to read it */
    char *rel;  /* its name in the archive; a directory's ends in '/' */
    char *link; /* a symlink's target */
    char type;  /* ustar typeflag: '0' file, '2' symlink, '5' directory */
    unsigned mode;
    uint64_t size;
    int64_t mtime;
} tar_ent;

typedef struct tar_list {
    tar_ent *v;
    size_t n, cap;
    uint64_t bytes; /* archive size */
} tar_list;

#define TAR_BLOCK 512
#define TAR_RECORD 10240 /* tar's default blocking factor 20, as GNU tar pads */
#define TAR_NAME 100
#define TAR_PREFIX 155

/* Where to split a path into ustar prefix and name (at a '/'): 0 if the path
 * fits the name field alone, the '/' position if it needs the prefix, -1 if
 * it fits neither way. */
static long ustar_split(const char *rel)
{
    size_t n = strlen(rel);
    if (n <= TAR_NAME)
        return 0;
    /* the rightmost '/' within the prefix field leaves the shortest name;
     * a directory's trailing '/' cannot be the split (the name would be empty) */
    size_t k = n - 2 < TAR_PREFIX ? n - 2 : TAR_PREFIX;
    for (; k > 0; k--)
        if (rel[k] == '/')
            break;
    if (k == 0 || n - k - 1 > TAR_NAME)
        return -1;
    return (long)k;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join(const char *a, const char *b, const char *tail)
{
    size_t n = strlen(a) + strlen(b) + strlen(tail) + 2;
    char *p = malloc(n);
    if (!p)
        die(EXIT_FAIL, "out of memory");
    if (*a)
        snprintf(p, n, "%s%s%s%s", a, a[strlen(a) - 1] == '/' ? "" : "/", b, tail);
    else
        snprintf(p, n, "%s%s", b, tail);
    return p;
}

static void tar_add(tar_list *l, tar_ent e)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        if (!(l->v = realloc(l->v, l->cap * sizeof *l->v)))
            die(EXIT_FAIL, "out of memory");
    }
    l->v[l->n++] = e;
    l->bytes += TAR_BLOCK + (e.type == '0' ? (e.size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK : 0);
}

static const char *file_kind(mode_t m)
{
    return S_ISFIFO(m)   ? "a FIFO"
           : S_ISSOCK(m) ? "a socket"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
                         : "of an unknown type";
}

/* Walk dir (archive names under rel) in sorted order, checking everything
 * the writer thread will need. skip: the store's own directory, if it lies
 * inside the tree (its files change while the put runs). */
static void tar_walk(tar_list *l, const char *dir, const char *rel, const struct stat *skip)
{
    DIR *d = opendir(dir);
    if (!d)
        die(EXIT_FAIL, "%s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((errno = 0, de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 32;
            if (!(names = realloc(names, cap * sizeof *names)))
                die(EXIT_FAIL, "out of memory");
        }
        if (!(names[n++] = strdup(de->d_name)))
            die(EXIT_FAIL, "out of memory");
    }
    if (errno)
        die(EXIT_FAIL, "%s: %s", dir, strerror(errno));
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, name_cmp);
    for (size_t i = 0; i < n; i++) {
        tar_ent e;
        memset(&e, 0, sizeof e);
        e.path = join(dir, names[i], "");
        struct stat st;
        if (lstat(e.path, &st))
            die(EXIT_FAIL, "%s: %s", e.path, strerror(errno));
        if (S_ISDIR(st.st_mode) && skip && st.st_dev == skip->st_dev && st.st_ino == skip->st_ino) {
            free(e.path);
            free(names[i]);
            continue;
        }
        e.rel = join(rel, names[i], S_ISDIR(st.st_mode) ? "/" : "");
        e.mode = (unsigned)st.st_mode & 07777;
        e.mtime = st.st_mtime;
        if (S_ISREG(st.st_mode)) {
            e.type = '0';
            e.size = (uint64_t)st.st_size;
            int fd = open(e.path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
            if (fd < 0)
                die(EXIT_FAIL, "%s: %s", e.path, strerror(errno));
            close(fd);
        } else if (S_ISDIR(st.st_mode)) {
            e.type = '5';
        } else if (S_ISLNK(st.st_mode)) {
            e.type = '2';
            char t[PATH_MAX + 1];
            ssize_t tl = readlink(e.path, t, sizeof t - 1);
            if (tl < 0)
                die(EXIT_FAIL, "%s: %s", e.path, strerror(errno));
            if (tl > TAR_NAME)
                die(EXIT_FAIL, "%s: symlink target is %zd bytes; a ustar archive holds at most %d",
                    e.path, tl, TAR_NAME);
            t[tl] = 0;
            if (!(e.link = strdup(t)))
                die(EXIT_FAIL, "out of memory");
        } else {
            die(EXIT_FAIL,
                "%s: is %s; a directory is stored as a ustar archive of regular files, "
                "directories and symlinks only",
                e.path, file_kind(st.st_mode));
        }
        if (ustar_split(e.rel) < 0)
            die(EXIT_FAIL,
                "%s: archive name '%s' is %zu bytes and has no '/' that splits it into ustar's "
                "155-byte prefix and 100-byte name",
                e.path, e.rel, strlen(e.rel));
        tar_add(l, e);
        if (e.type == '5') {
            char *sub = join(rel, names[i], "");
            tar_walk(l, e.path, sub, skip);
            free(sub);
        }
        free(names[i]);
    }
    free(names);
}

static void tar_octal(char *f, size_t width, uint64_t v)
{
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%0*" PRIo64, (int)width - 1, v);
    memcpy(f, tmp, width); /* width - 1 digits and a NUL */
}

static void tar_header(const tar_ent *e, uint8_t h[TAR_BLOCK])
{
    memset(h, 0, TAR_BLOCK);
    char *b = (char *)h;
    long k = ustar_split(e->rel);
    if (k > 0) {
        memcpy(b + 345, e->rel, (size_t)k);
        memcpy(b, e->rel + k + 1, strlen(e->rel + k + 1));
    } else {
        memcpy(b, e->rel, strlen(e->rel));
    }
    tar_octal(b + 100, 8, e->mode);
    tar_octal(b + 108, 8, 0); /* uid: owners are not kept */
    tar_octal(b + 116, 8, 0); /* gid */
    uint64_t size = e->type == '0' ? e->size : 0;
    if (size < (1ull << 33)) {
        tar_octal(b + 124, 12, size);
    } else {
        /* 8 GiB and up: the base-256 size of GNU tar and star, which every
         * current tar reads (POSIX ustar has no way to say it) */
        h[124] = 0x80;
        for (int i = 0; i < 8; i++)
            h[135 - i] = (uint8_t)(size >> (8 * i));
    }
    int64_t mt = e->mtime < 0 ? 0 : e->mtime > 077777777777 ? 077777777777 : e->mtime;
    tar_octal(b + 136, 12, (uint64_t)mt);
    b[156] = e->type;
    if (e->link)
        memcpy(b + 157, e->link, strlen(e->link));
    memcpy(b + 257, "ustar", 6); /* magic, NUL-terminated */
    memcpy(b + 263, "00", 2);    /* version */
    memset(b + 148, ' ', 8);     /* the checksum counts its own field as spaces */
    unsigned sum = 0;
    for (int i = 0; i < TAR_BLOCK; i++)
        sum += h[i];
    char ck[8];
    snprintf(ck, sizeof ck, "%06o", sum);
    memcpy(b + 148, ck, 7); /* six digits, NUL, and the space left in place */
}

typedef struct tar_job {
    const tar_list *l;
    int fd;          /* the pipe's write end; the thread closes it */
    char err[1200];  /* why the archive is not the tree ("" if it is) */
    int reader_gone; /* the store stopped reading (its own error is reported) */
} tar_job;

static int write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int tar_copy(tar_job *j, const tar_ent *e, uint8_t *buf, size_t cap)
{
    int fd = open(e->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        snprintf(j->err, sizeof j->err, "%s: %s", e->path, strerror(errno));
        return -1;
    }
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    uint64_t left = e->size;
    int rc = 0;
    while (left && !rc) {
        size_t want = left < cap ? (size_t)left : cap;
        ssize_t r = read(fd, buf, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(j->err, sizeof j->err, "%s: %s", e->path, strerror(errno));
            rc = -1;
        } else if (r == 0) {
            snprintf(j->err, sizeof j->err,
                     "%s: shrank while being archived (%" PRIu64 " bytes when the tree was "
                     "walked, %" PRIu64 " now)",
                     e->path, e->size, e->size - left);
            rc = -1;
        } else if ((rc = write_all(j->fd, buf, (size_t)r)) != 0) {
            j->reader_gone = 1;
        } else {
            left -= (uint64_t)r;
        }
    }
    if (!rc) {
        ssize_t r;
        while ((r = read(fd, buf, 1)) < 0 && errno == EINTR)
            ;
        if (r > 0) {
            snprintf(j->err, sizeof j->err,
                     "%s: grew while being archived (%" PRIu64 " bytes when the tree was walked)",
                     e->path, e->size);
            rc = -1;
        }
    }
    close(fd);
    size_t pad = (size_t)((TAR_BLOCK - e->size % TAR_BLOCK) % TAR_BLOCK);
    if (!rc && pad) {
        memset(buf, 0, pad);
        if (write_all(j->fd, buf, pad))
            j->reader_gone = 1, rc = -1;
    }
    return rc;
}

static void *tar_main(void *arg)
{
    tar_job *j = arg;
    /* if the store stops reading, write() must fail with EPIPE rather than
     * kill the process: the store's own error is what gets reported */
    sigset_t ss;
    sigemptyset(&ss);
    sigaddset(&ss, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &ss, NULL);
    size_t cap = 1u << 20;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        snprintf(j->err, sizeof j->err, "out of memory");
        close(j->fd);
        return NULL;
    }
    int rc = 0;
    uint64_t total = 0;
    for (size_t i = 0; i < j->l->n && !rc; i++) {
        const tar_ent *e = &j->l->v[i];
        uint8_t h[TAR_BLOCK];
        tar_header(e, h);
        if (write_all(j->fd, h, sizeof h)) {
            j->reader_gone = 1;
            rc = -1;
        } else if (e->type == '0') {
            rc = tar_copy(j, e, buf, cap);
        }
        total +=
            TAR_BLOCK + (e->type == '0' ? (e->size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK : 0);
    }
    if (!rc) {
        /* two zero blocks end the archive; pad to a whole record as tar does */
        total += 2 * TAR_BLOCK;
        size_t end = 2 * TAR_BLOCK + (size_t)((TAR_RECORD - total % TAR_RECORD) % TAR_RECORD);
        memset(buf, 0, end);
        if (write_all(j->fd, buf, end))
            j->reader_gone = 1;
    }
    free(buf);
    close(j->fd);
    return NULL;
}

/* ---- put ---------------------------------------------------------------------- */

static void print_put(const char *name, const ddx_put_stats *st)
{
    char b[32], nb[32], mb[32];
    printf("%s@%" PRIu32 " (version id %" PRIu64 "): %s, %" PRIu64 " chunks, %" PRIu64
           " new (%s written), ",
           name, st->version, st->version_id, human(st->bytes, b), st->chunks, st->new_chunks,
           human(st->new_bytes, nb));
    if (st->new_bytes)
        printf("dedup %.2fx", (double)st->bytes / (double)st->new_bytes);
    else
        printf("nothing new");
    printf(", metadata %s, %.*f s (%.2f GB/s)\n", human(st->meta_bytes, mb),
           st->seconds < 1 ? 3 : 1, st->seconds,
           st->seconds > 0 ? (double)st->bytes / st->seconds / 1e9 : 0.0);
}

static int cmd_put(const command *cmd, int argc, char **argv)
{
    int nops;
    char **ops = operands(cmd, argc, argv, 3, 3, &nops);
    const char *store = ops[0], *name = ops[1], *path = ops[2];
    const char *why = name_problem(name);
    if (why)
        die(EXIT_USAGE, "put: '%s': %s", name, why);

    /* the input first: a bad PATH fails before the store is locked */
    int fd = -1, is_dir = 0;
    tar_list tl;
    memset(&tl, 0, sizeof tl);
    if (!strcmp(path, "-")) {
        if (isatty(STDIN_FILENO))
            die(EXIT_USAGE, "put: stdin is a terminal; pipe the data in or give a PATH");
        fd = STDIN_FILENO;
    } else {
        struct stat st;
        if (stat(path, &st))
            die(EXIT_FAIL, "%s: %s", path, strerror(errno));
        if (S_ISDIR(st.st_mode)) {
            struct stat sst, *skip = stat(store, &sst) == 0 ? &sst : NULL;
            if (skip && st.st_dev == sst.st_dev && st.st_ino == sst.st_ino)
                die(EXIT_FAIL, "%s: is the store itself", path);
            tar_walk(&tl, path, "", skip);
            is_dir = 1;
        } else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
            die(EXIT_FAIL, "%s: %s", path, strerror(errno));
        }
    }

    ddx_store *s = open_store(store, DDX_STORE_WRITE);
    ddx_put_stats st;
    int rc;
    if (!is_dir) {
        if ((rc = ddx_store_put_fd(s, name, fd, &st)) != 0) {
            if (rc > 0 && strstr(ddx_store_errmsg(s), "input:"))
                die(EXIT_FAIL, "%s: %s", fd == STDIN_FILENO ? "stdin" : path, strerror(rc));
            fail_op(s, store, rc);
        }
        if (fd != STDIN_FILENO)
            close(fd);
    } else {
        int pfd[2];
        if (pipe2(pfd, O_CLOEXEC))
            die(EXIT_FAIL, "pipe: %s", strerror(errno));
        tar_job job;
        memset(&job, 0, sizeof job);
        job.l = &tl;
        job.fd = pfd[1];
        pthread_t th;
        if ((rc = pthread_create(&th, NULL, tar_main, &job)) != 0)
            die(EXIT_FAIL, "archive writer thread: %s", strerror(rc));
        rc = ddx_store_put_fd(s, name, pfd[0], &st);
        close(pfd[0]); /* a writer still writing gets EPIPE and stops */
        pthread_join(th, NULL);
        if (rc)
            fail_op(s, store, rc);
        if (job.err[0]) {
            int rrc = ddx_store_rm(s, name, st.version);
            if (rrc)
                die(EXIT_FAIL, "%s; and removing the incomplete %s@%" PRIu32 " failed: %s", job.err,
                    name, st.version,
                    *ddx_store_errmsg(s) ? ddx_store_errmsg(s) : ddx_strerror(rrc));
            die(EXIT_FAIL, "%s; nothing stored", job.err);
        }
    }
    print_put(name, &st);
    ddx_store_close(s);
    for (size_t i = 0; i < tl.n; i++) {
        free(tl.v[i].path);
        free(tl.v[i].rel);
        free(tl.v[i].link);
    }
    free(tl.v);
    free(ops);
    return 0;
}

/* ---- get ---------------------------------------------------------------------- */

static int cmd_get(const command *cmd, int argc, char **argv)
{
    int nops;
    char **ops = operands(cmd, argc, argv, 2, 3, &nops);
    const char *store = ops[0], *out = nops > 2 ? ops[2] : "-";
    char name[256];
    uint32_t want;
    parse_spec("get", ops[1], name, sizeof name, &want);
    int to_stdout = !strcmp(out, "-");
    if (!to_stdout) {
        if (!*out)
            die(EXIT_USAGE, "get: empty OUT path");
        struct stat st;
        if (stat(out, &st) == 0 && S_ISDIR(st.st_mode))
            die(EXIT_FAIL, "%s: is a directory (give a file name, or - for stdout)", out);
        if (strlen(out) + 5 > sizeof tmp_path)
            die(EXIT_FAIL, "%s: path too long", out);
    }

    ddx_store *s = open_store(store, DDX_STORE_READ);
    uint32_t number = resolve(s, store, name, want);
    int fd = STDOUT_FILENO;
    if (!to_stdout) {
        snprintf(tmp_path, sizeof tmp_path, "%s.tmp", out);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (fd < 0)
            die(EXIT_FAIL, "%s: %s (creating %s)", out, strerror(errno), tmp_path);
        tmp_live = 1;
    }
    int rc = ddx_store_get(s, name, number, fd);
    if (rc > 0 && !strncmp(ddx_store_errmsg(s), "output:", 7))
        die(EXIT_FAIL, "%s: write: %s", to_stdout ? "stdout" : tmp_path, strerror(rc));
    if (rc)
        fail_op(s, store, rc);
    if (!to_stdout) {
        if (fsync(fd))
            die(EXIT_FAIL, "%s: fsync: %s", tmp_path, strerror(errno));
        if (close(fd))
            die(EXIT_FAIL, "%s: close: %s", tmp_path, strerror(errno));
        if (rename(tmp_path, out))
            die(EXIT_FAIL, "%s: rename from %s: %s", out, tmp_path, strerror(errno));
        tmp_live = 0;
        /* the rename is durable only once the directory is synced */
        char dir[PATH_MAX + 8];
        snprintf(dir, sizeof dir, "%s", out);
        char *slash = strrchr(dir, '/');
        if (slash == dir)
            dir[1] = 0;
        else if (slash)
            *slash = 0;
        else
            strcpy(dir, ".");
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd))
            die(EXIT_FAIL, "%s: fsync: %s", dir, strerror(errno));
        close(dfd);
    }
    ddx_store_close(s);
    free(ops);
    return 0;
}

/* ---- ls, stat ----------------------------------------------------------------- */

static int cmd_ls(const command *cmd, int argc, char **argv)
{
    int nops;
    char **ops = operands(cmd, argc, argv, 1, 1, &nops);
    const char *store = ops[0];
    ddx_store *s = open_store(store, DDX_STORE_READ);
    /* two passes: column widths, then the lines */
    int w[4] = {0, 0, 0, 0};
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0;; i++) {
            ddx_version_info v;
            int rc = ddx_store_version(s, i, &v);
            if (rc == DDX_ENOENT)
                break;
            if (rc)
                fail_op(s, store, rc);
            char spec[300], id[24], bytes[24], chunks[24], date[32];
            snprintf(spec, sizeof spec, "%s@%" PRIu32, v.name, v.number);
            snprintf(id, sizeof id, "%" PRIu64, v.id);
            snprintf(bytes, sizeof bytes, "%" PRIu64, v.bytes);
            snprintf(chunks, sizeof chunks, "%" PRIu64, v.chunks);
            if (!pass) {
                const char *col[4] = {spec, id, bytes, chunks};
                for (int k = 0; k < 4; k++)
                    if ((int)strlen(col[k]) > w[k])
                        w[k] = (int)strlen(col[k]);
                continue;
            }
            time_t t = (time_t)(v.time_ns / 1000000000);
            struct tm tm;
            if (!gmtime_r(&t, &tm) || !strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm))
                snprintf(date, sizeof date, "?");
            printf("%-*s  %*s  %*s  %*s  %s\n", w[0], spec, w[1], id, w[2], bytes, w[3], chunks,
                   date);
        }
    }
    ddx_store_close(s);
    free(ops);
    return 0;
}

static void kv(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void kv(const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%-20s ", key);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
}

static int cmd_stat(const command *cmd, int argc, char **argv)
{
    int nops;
    char **ops = operands(cmd, argc, argv, 1, 1, &nops);
    const char *store = ops[0];
    ddx_store *s = open_store(store, DDX_STORE_READ);
    ddx_store_stats st;
    int rc = ddx_store_stat(s, &st);
    if (rc)
        fail_op(s, store, rc);
    char b[32];
    kv("versions", "%" PRIu64, st.versions);
    kv("logical_bytes", "%" PRIu64 "  (%s)", st.logical_bytes, human(st.logical_bytes, b));
    kv("chunks", "%" PRIu64, st.chunks);
    kv("chunk_bytes", "%" PRIu64 "  (%s)", st.chunk_bytes, human(st.chunk_bytes, b));
    kv("referenced_chunks", "%" PRIu64 "  (%" PRIu64 " unreferenced: ddx gc frees them)",
       st.referenced_chunks, st.chunks - st.referenced_chunks);
    kv("dedup_ratio", "%.2f", st.dedup_ratio);
    kv("containers", "%" PRIu64, st.containers);
    kv("container_bytes", "%" PRIu64 "  (%s)", st.container_bytes, human(st.container_bytes, b));
    kv("meta_bytes", "%" PRIu64 "  (%s)", st.meta_bytes, human(st.meta_bytes, b));
    kv("chunker", "%s", ddx_chunker_name(st.chunker));
    kv("chunk_min", "%" PRIu32, st.min);
    kv("chunk_avg", "%" PRIu32, st.avg);
    kv("chunk_max", "%" PRIu32, st.max);
    kv("hash", "%s", ddx_hash_name(st.hash));
    ddx_store_close(s);
    free(ops);
    return 0;
}

/* ---- rm, gc, verify ------------------------------------------------------------ */

static int cmd_rm(const command *cmd, int argc, char **argv)
{
    int nops;
    char **ops = operands(cmd, argc, argv, 2, 2, &nops);
    const char *store = ops[0];
    char name[256];
    uint32_t want;
    parse_spec("rm", ops[1], name, sizeof name, &want);
    if (!want)
        die(EXIT_USAGE, "rm: '%s': give the version to remove as %s@N (ddx ls lists them)", ops[1],
            name);
    ddx_store *s = open_store(store, DDX_STORE_WRITE);
    resolve(s, store, name, want);
    int rc = ddx_store_rm(s, name, want);
    if (rc)
        fail_op(s, store, rc);
    printf("removed %s@%" PRIu32 "; its chunks stay until ddx gc\n", name, want);
    ddx_store_close(s);
    free(ops);
    return 0;
}

static int cmd_gc(const command *cmd, int argc, char **argv)
{
    enum { O_COMPACT = 256 };
    static const struct option lo[] = {
        {"compact-log", no_argument, 0, O_COMPACT}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    char **ops = calloc((size_t)argc + 1, sizeof *ops);
    if (!ops)
        die(EXIT_FAIL, "out of memory");
    int nops = 0, c, force = 0;
    optind = 1;
    opterr = 0;
    while ((c = next_opt(cmd, argc, argv, lo, ops, &nops)) != -1)
        if (c == O_COMPACT)
            force = 1;
    check_operands(cmd, ops, nops, 1, 1);
    const char *store = ops[0];
    ddx_store *s = open_store(store, DDX_STORE_WRITE);
    ddx_gc_stats st;
    int rc = ddx_store_gc(s, &st);
    if (rc)
        fail_op(s, store, rc);
    char b[32];
    kv("freed_chunks", "%" PRIu64, st.freed_chunks);
    kv("freed_bytes", "%" PRIu64 "  (%s)", st.freed_bytes, human(st.freed_bytes, b));
    kv("containers_removed", "%" PRIu64, st.containers_removed);
    kv("containers_compacted", "%" PRIu64, st.containers_compacted);
    kv("moved_bytes", "%" PRIu64 "  (%s)", st.moved_bytes, human(st.moved_bytes, b));
    /* then the log, when rewriting it would at least halve it (or asked to) */
    ddx_log_stats ls;
    rc = ddx_store_compact_log(s, force, &ls);
    if (rc == DDX_ELOCKED && !force)
        fprintf(stderr, "ddx: gc: %s\n", ddx_store_errmsg(s));
    else if (rc)
        fail_op(s, store, rc);
    if (ls.compacted)
        kv("log_bytes", "%" PRIu64 "  (compacted from %" PRIu64 ")", ls.bytes_after,
           ls.bytes_before);
    else
        kv("log_bytes", "%" PRIu64, ls.bytes_before);
    ddx_store_close(s);
    free(ops);
    return 0;
}

static void verify_line(void *ctx, const char *line)
{
    (void)ctx;
    printf("damaged: %s\n", line);
}

static int cmd_verify(const command *cmd, int argc, char **argv)
{
    int nops;
    char **ops = operands(cmd, argc, argv, 1, 1, &nops);
    const char *store = ops[0];
    ddx_store *s = open_store(store, DDX_STORE_READ);
    ddx_verify_stats st;
    int rc = ddx_store_verify(s, verify_line, NULL, &st);
    if (rc && rc != DDX_ECORRUPT)
        fail_op(s, store, rc);
    char b[32];
    printf("%s: %" PRIu64 " chunks (%s) in %" PRIu64 " containers checked: ", store, st.chunks,
           human(st.bytes, b), st.containers);
    if (st.absent_chunks)
        printf("%" PRIu64 " absent (put from fingerprint traces, no bytes to check); ",
               st.absent_chunks);
    if (!rc)
        printf("intact\n");
    else
        printf("%" PRIu64 " damaged chunk%s, in %" PRIu64 " version%s\n", st.damaged_chunks,
               st.damaged_chunks == 1 ? "" : "s", st.damaged_versions,
               st.damaged_versions == 1 ? "" : "s");
    ddx_store_close(s);
    free(ops);
    return rc ? EXIT_FAIL : 0;
}

/* ---- main ---------------------------------------------------------------------- */

static const command commands[] = {
    {"init", cmd_init, "STORE [options]", "create an empty store",
     "Create an empty store in STORE (created if missing; it must be empty). The\n"
     "chunker, its sizes and the hash are fixed for the store's life. A store with\n"
     "its metadata inside (the default) can be moved or copied whole; each copy is a\n"
     "store of its own.\n"
     "\n"
     "options:\n"
     "  --meta DIR          keep the metadata (superblock, log, lock) in DIR instead\n"
     "                      of STORE/meta, e.g. on a faster disk. A moved STORE is\n"
     "                      then followed; a copy of STORE is refused for writing\n"
     "                      while the original exists (both would log into DIR)\n"
     "  --chunker NAME      fixed | rabin | tttd | fastcdc | ram (default fastcdc)\n"
     "  --avg SIZE          average (fixed: block) chunk size (default 8K)\n"
     "  --min SIZE          minimum chunk size (default avg/4)\n"
     "  --max SIZE          maximum chunk size (default avg*8)\n"
     "  --normalization N   fastcdc normalized chunking level 0..3 (default 1)\n"
     "  --hash NAME         sha1 | sha256 (default sha256)\n"
     "  --container SIZE    data bytes per container file, 64K..1G (default 4M)\n"
     "  -h, --help          this text\n"},
    {"put", cmd_put, "STORE NAME PATH|-", "store a file, directory or stdin as NAME's next version",
     "Store PATH (a file; '-' for stdin) as the next version of NAME and print\n"
     "what it cost: its size and chunks, how many chunks were new and the bytes\n"
     "written for them, dedup (the version's bytes over the bytes written), the\n"
     "metadata appended, and the time. The version is on stable storage when put\n"
     "returns.\n"
     "\n"
     "A directory is stored as a ustar archive of its contents: names relative to\n"
     "PATH, sorted, regular files, directories and symlinks with their mode, size\n"
     "and mtime (no owners; other file types are refused). The same tree gives the\n"
     "same archive, so putting it again stores nothing new. `ddx get` returns that\n"
     "archive; restore the tree with\n"
     "    mkdir DEST && ddx get STORE NAME | tar -x -C DEST\n"
     "If a file changes while it is archived, the put fails and keeps nothing.\n"
     "\n"
     "options:\n"
     "  -h, --help          this text\n"},
    {"get", cmd_get, "STORE NAME[@N] [OUT|-]", "restore a version (default: the latest, to stdout)",
     "Write version N of NAME (default: the latest) byte-exact to OUT, or to stdout\n"
     "if OUT is '-' or missing. Every chunk is re-hashed on the way out: damage\n"
     "stops the restore with an error. OUT is written as OUT.tmp, synced and then\n"
     "renamed, so a failed or interrupted get never leaves a partial OUT. A\n"
     "directory's version is a ustar archive (see ddx put --help).\n"
     "\n"
     "options:\n"
     "  -h, --help          this text\n"},
    {"ls", cmd_ls, "STORE", "list the versions",
     "List the versions in the store, oldest first, one per line:\n"
     "    NAME@N  version-id  bytes  chunks  time put (UTC, ISO 8601)\n"
     "\n"
     "options:\n"
     "  -h, --help          this text\n"},
    {"stat", cmd_stat, "STORE", "print store statistics",
     "Print the store's statistics as `key value` lines: versions and their bytes,\n"
     "chunks and their bytes, how many chunks live versions reference, the dedup\n"
     "ratio (live versions' bytes / bytes of the chunks they use), container files\n"
     "and their size on disk, metadata size, and the chunker and hash.\n"
     "\n"
     "options:\n"
     "  -h, --help          this text\n"},
    {"rm", cmd_rm, "STORE NAME@N", "remove a version (its chunks stay until gc)",
     "Remove version N of NAME. The number is required: a bare NAME is refused.\n"
     "Chunks only this version used stay in the containers until ddx gc.\n"
     "\n"
     "options:\n"
     "  -h, --help          this text\n"},
    {"gc", cmd_gc, "STORE", "free unreferenced chunks, compact containers",
     "Drop the chunks no live version references, rewrite containers that are less\n"
     "than half live and delete emptied ones; then, if that would at least halve\n"
     "it, rewrite the metadata log as the records of what the store now holds\n"
     "(removed versions' recipes and freed chunks leave it). Print what was freed,\n"
     "moved and compacted. Emptied containers are deleted, and the log compacted,\n"
     "only while no other ddx has the store open.\n"
     "\n"
     "options:\n"
     "  --compact-log       rewrite the log even if that saves less than half of it\n"
     "                      (an error if another ddx has the store open)\n"
     "  -h, --help          this text\n"},
    {"verify", cmd_verify, "STORE", "re-read and re-hash every chunk",
     "Re-read every chunk and recompute its fingerprint. Print one line per damaged\n"
     "chunk (container, offset, and the versions that use it), then a summary.\n"
     "Exit status 0 if the store is intact, 1 if damage was found.\n"
     "\n"
     "options:\n"
     "  -h, --help          this text\n"},
    {0, 0, 0, 0, 0},
};

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *a = argv[1];
    if (!strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "help")) {
        if (!strcmp(a, "help") && argc > 2)
            for (const command *c = commands; c->name; c++)
                if (!strcmp(c->name, argv[2])) {
                    cmd_usage(stdout, c);
                    return 0;
                }
        if (!strcmp(a, "help") && argc > 2)
            die(EXIT_USAGE, "unknown command '%s' (try ddx --help)", argv[2]);
        usage(stdout);
        return 0;
    }
    if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
        printf("ddx %s\n", ddx_version_string());
        return 0;
    }
    for (const command *c = commands; c->name; c++) {
        if (strcmp(c->name, a))
            continue;
        int rc = c->run(c, argc - 1, argv + 1);
        if (fflush(stdout) || ferror(stdout))
            die(EXIT_FAIL, "stdout: %s", strerror(errno ? errno : EIO));
        return rc;
    }
    if (a[0] == '-')
        die(EXIT_USAGE, "unknown option '%s' (try ddx --help)", a);
    die(EXIT_USAGE, "unknown command '%s' (try ddx --help)", a);
}
