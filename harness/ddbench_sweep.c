/*
 * ddbench_sweep.c - `ddbench sweep`: run a grid of `ddbench run` cells.
 *
 * Each cell (input x chunker x average size x hash x backend x threads x
 * repetition) is one child `ddbench run ... --json -`, so a row's "command"
 * is a command that reproduces it, and a crashing cell cannot take the sweep
 * down. A row is appended to the output (JSON Lines) only after its run
 * succeeded, with one write(2) and an fsync, so the file holds whole rows;
 * a row torn by a crash is cut off on the next start. Cells whose key is
 * already in the output are skipped: rerunning the same command resumes,
 * and widening the grid runs only the new cells.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_size.h"
#include "ddbench.h"
#include "ddx.h"

#define MAX_AXIS 64
#define MAX_EXTRA 64 /* run options after "--" */

typedef struct axis {
    const char *v[MAX_AXIS];
    int n;
    char own[MAX_AXIS][24]; /* values made here (the sizes of A..B) */
} axis;

typedef struct sweep {
    axis chunker, avg, hash, backend, threads, input;
    unsigned reps;
    const char *out, *csv;
    int dry_run, quiet;
    char **extra; /* run options after "--" */
    int nextra;
    char extra_key[1024];
    char csv_tmp[PATH_MAX]; /* the CSV a cell's run writes */
    /* keys already in the output, JSON-escaped as they appear there */
    char **done;
    size_t ndone, cdone;
} sweep;

static void usage(FILE *f)
{
    fprintf(f, "usage: ddbench sweep [options] -o FILE.jsonl [PATH...] [-- RUN-OPTIONS...]\n"
               "\n"
               "Run `ddbench run` over a grid and append one JSON report per cell to FILE\n"
               "(JSON Lines; docs/report-schema.md). Cells already in FILE are skipped, so\n"
               "the same command resumes an interrupted sweep and a wider grid runs only the\n"
               "new cells. Each PATH is one input (a file, a directory of generations, a\n"
               "trace); with none, the built-in dataset. RUN-OPTIONS go to every run.\n"
               "\n"
               "options (LIST is comma-separated):\n"
               "  --chunkers LIST     fixed, rabin, tttd, fastcdc, ram (default fastcdc)\n"
               "  --avg LIST          average chunk sizes, e.g. 4K,8K, or A..B for the powers\n"
               "                      of two from A to B, e.g. 1K..64K (default 8K)\n"
               "  --hash LIST         sha1, sha256 (default sha256)\n"
               "  --backend LIST      cpu, cuda, opencl, auto (default cpu)\n"
               "  --threads LIST      worker threads, or auto (default auto: one per core)\n"
               "  --reps N            repetitions of each cell, 1..100 (default 1)\n"
               "  -o, --out FILE      the JSON Lines output (appended; required)\n"
               "  --csv FILE          also append one CSV row per cell (header if new)\n"
               "  --dry-run           list the cells and their commands; run nothing\n"
               "  -q, --quiet         no line per cell\n"
               "  -h, --help          this text\n"
               "A failed cell is reported and skipped (no row); the sweep goes on and exits 1.\n");
}

static void split_list(axis *a, char *list, const char *opt)
{
    a->n = 0;
    for (char *save, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (a->n == MAX_AXIS)
            ddb_die(DDB_EXIT_USAGE, "%s: at most %d values", opt, MAX_AXIS);
        a->v[a->n++] = tok;
    }
    if (!a->n)
        ddb_die(DDB_EXIT_USAGE, "%s: expected a comma-separated list", opt);
}

/* Sizes: each must parse; "A..B" expands to the powers of two in [A, B]. */
static void expand_avg(axis *a, char *list)
{
    axis raw;
    split_list(&raw, list, "--avg");
    a->n = 0;
    for (int i = 0; i < raw.n; i++) {
        char *dots = strstr(raw.v[i], "..");
        uint64_t lo, hi;
        if (!dots) {
            if (ddx_cli_size(raw.v[i], &lo) || !lo)
                ddb_die(DDB_EXIT_USAGE, "--avg: expected a size such as 8K, got '%s'", raw.v[i]);
            if (a->n == MAX_AXIS)
                ddb_die(DDB_EXIT_USAGE, "--avg: at most %d values", MAX_AXIS);
            a->v[a->n++] = raw.v[i];
            continue;
        }
        *dots = 0;
        if (ddx_cli_size(raw.v[i], &lo) || ddx_cli_size(dots + 2, &hi) || !lo || lo > hi ||
            (lo & (lo - 1)))
            ddb_die(DDB_EXIT_USAGE,
                    "--avg: expected A..B with A a power of two and A <= B, got '%s..%s'", raw.v[i],
                    dots + 2);
        for (uint64_t v = lo; v <= hi; v *= 2) {
            if (a->n == MAX_AXIS)
                ddb_die(DDB_EXIT_USAGE, "--avg: at most %d values", MAX_AXIS);
            snprintf(a->own[a->n], sizeof a->own[a->n], "%" PRIu64, v);
            a->v[a->n] = a->own[a->n];
            a->n++;
        }
    }
}

static void check_names(const axis *a, const char *opt, int (*ok)(const char *))
{
    for (int i = 0; i < a->n; i++)
        if (!ok(a->v[i]))
            ddb_die(DDB_EXIT_USAGE, "%s: unknown value '%s' (see ddbench sweep --help)", opt,
                    a->v[i]);
}

static int ok_chunker(const char *s)
{
    ddx_chunker_kind k;
    return ddx_chunker_from_name(s, &k) == 0;
}
static int ok_hash(const char *s)
{
    ddx_hash_kind k;
    return ddx_hash_from_name(s, &k) == 0;
}
static int ok_backend(const char *s)
{
    ddx_backend_kind k;
    return ddx_backend_from_name(s, &k) == 0;
}
static int ok_threads(const char *s)
{
    if (!strcmp(s, "auto"))
        return 1;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    return *s != '-' && !errno && end != s && !*end && v >= 1 && v <= 1024;
}

/* JSON string escaping into a buffer (the form keys have in the output). */
static void json_esc(char *out, size_t n, const char *s)
{
    size_t k = 0;
    for (; *s && k + 7 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            k += (size_t)snprintf(out + k, n - k, "\\%c", c);
        else if (c < 0x20)
            k += (size_t)snprintf(out + k, n - k, "\\u%04x", c);
        else
            out[k++] = (char)c;
    }
    out[k] = 0;
}

/* Read the keys of the rows already in the output; cut a torn last row. */
static void load_done(sweep *sw)
{
    int fd = open(sw->out, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return;
        ddb_die(1, "%s: %s", sw->out, strerror(errno));
    }
    FILE *f = fdopen(fd, "r");
    if (!f)
        ddb_die(1, "%s: %s", sw->out, strerror(errno));
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    off_t good = 0;
    ssize_t len;
    static const char tag[] = "\"sweep\": {\"key\": \"";
    while ((len = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (line[len - 1] != '\n') {
            fprintf(stderr,
                    "ddbench sweep: %s:%zu: incomplete last row (an interrupted sweep); "
                    "removing it, its cell runs again\n",
                    sw->out, lineno);
            if (ftruncate(fd, good) != 0)
                ddb_die(1, "%s: %s", sw->out, strerror(errno));
            break;
        }
        char *k = strstr(line, tag);
        char *end = k ? strstr(k + sizeof tag - 1, "\", \"input\": ") : NULL;
        if (line[0] != '{' || !end)
            ddb_die(1,
                    "%s:%zu: not a ddbench sweep row (expected a JSON report with a \"sweep\" key)",
                    sw->out, lineno);
        k += sizeof tag - 1;
        *end = 0;
        if (sw->ndone == sw->cdone) {
            sw->cdone = sw->cdone ? sw->cdone * 2 : 64;
            sw->done = realloc(sw->done, sw->cdone * sizeof *sw->done);
            if (!sw->done)
                ddb_die(1, "out of memory");
        }
        if (!(sw->done[sw->ndone++] = strdup(k)))
            ddb_die(1, "out of memory");
        good += len;
    }
    if (ferror(f))
        ddb_die(1, "%s: %s", sw->out, strerror(errno));
    free(line);
    fclose(f);
}

static int is_done(const sweep *sw, const char *key_esc)
{
    for (size_t i = 0; i < sw->ndone; i++)
        if (!strcmp(sw->done[i], key_esc))
            return 1;
    return 0;
}

/* Run argv with stdout into *out (malloc'd) and stderr into a temporary file
 * whose last line is kept for the error message. Returns the exit status. */
static int run_child(char *const argv[], char **out, size_t *outlen, char *lastline, size_t ll)
{
    int pfd[2];
    FILE *err = tmpfile();
    if (!err || pipe(pfd) != 0)
        ddb_die(1, "sweep: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        ddb_die(1, "sweep: fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(pfd[1], STDOUT_FILENO);
        dup2(fileno(err), STDERR_FILENO);
        close(pfd[0]);
        close(pfd[1]);
        execv("/proc/self/exe", argv);
        fprintf(stderr, "ddbench sweep: exec: %s\n", strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf)
            ddb_die(1, "out of memory");
        if (n + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            continue;
        }
        ssize_t r = read(pfd[0], buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    buf[n] = 0;
    close(pfd[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    lastline[0] = 0;
    rewind(err);
    char line[1024];
    while (fgets(line, sizeof line, err))
        if (line[0] != '\n')
            snprintf(lastline, ll, "%.*s", (int)(ll - 1), line);
    lastline[strcspn(lastline, "\n")] = 0;
    fclose(err);
    *out = buf;
    *outlen = n;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static void write_all(int fd, const char *p, size_t n, const char *path)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            ddb_die(1, "%s: %s", path, strerror(w < 0 ? errno : EIO));
        p += w, n -= (size_t)w;
    }
}

/* The CSV the child wrote: header + one row. Append the row (and the header
 * to an empty file). */
static void append_csv(const char *csv, const char *tmp)
{
    FILE *t = fopen(tmp, "r");
    if (!t)
        ddb_die(1, "%s: %s", tmp, strerror(errno));
    char *hdr = NULL, *row = NULL;
    size_t hc = 0, rc = 0;
    if (getline(&hdr, &hc, t) <= 0 || getline(&row, &rc, t) <= 0)
        ddb_die(1, "%s: the run wrote no CSV row", tmp);
    fclose(t);
    unlink(tmp);
    int fd = open(csv, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        ddb_die(1, "%s: %s", csv, strerror(errno));
    if (st.st_size == 0)
        write_all(fd, hdr, strlen(hdr), csv);
    write_all(fd, row, strlen(row), csv);
    if (fsync(fd) != 0)
        ddb_die(1, "%s: %s", csv, strerror(errno));
    close(fd);
    free(hdr);
    free(row);
}

/* "123.4" after "key": in a flat JSON text, for the progress line. */
static double json_num(const char *json, const char *key)
{
    const char *p = strstr(json, key);
    return p ? strtod(p + strlen(key), NULL) : 0;
}

typedef struct cell {
    int in, ch, av, ha, be, th;
    unsigned rep;
} cell;

typedef struct counts {
    size_t skipped, ran, failed;
} counts;

/* Run one cell unless it is in the output already; append its row. */
static void run_cell(sweep *sw, const cell *c, size_t idx, size_t total, int outfd, counts *n)
{
    const char *input = sw->input.v[c->in] ? sw->input.v[c->in] : "builtin";
    uint64_t avg;
    if (ddx_cli_size(sw->avg.v[c->av], &avg))
        ddb_die(DDB_EXIT_USAGE, "--avg: bad size '%s'", sw->avg.v[c->av]);
    char key[2048], key_esc[4096];
    snprintf(key, sizeof key,
             "input=%s chunker=%s avg=%" PRIu64 " hash=%s backend=%s threads=%s rep=%u%s%s", input,
             sw->chunker.v[c->ch], avg, sw->hash.v[c->ha], sw->backend.v[c->be],
             sw->threads.v[c->th], c->rep, sw->nextra ? " run=" : "", sw->extra_key);
    json_esc(key_esc, sizeof key_esc, key);
    if (is_done(sw, key_esc)) {
        n->skipped++;
        return;
    }
    char avgs[32];
    snprintf(avgs, sizeof avgs, "%" PRIu64, avg);
    const char *args[24 + MAX_EXTRA];
    int na = 0;
    const char *fixed[] = {"ddbench",
                           "run",
                           "-q",
                           "--chunker",
                           sw->chunker.v[c->ch],
                           "--avg",
                           avgs,
                           "--hash",
                           sw->hash.v[c->ha],
                           "--backend",
                           sw->backend.v[c->be]};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        args[na++] = fixed[i];
    if (strcmp(sw->threads.v[c->th], "auto")) {
        args[na++] = "--threads";
        args[na++] = sw->threads.v[c->th];
    }
    for (int i = 0; i < sw->nextra; i++)
        args[na++] = sw->extra[i];
    args[na++] = "--json";
    args[na++] = "-";
    if (sw->csv) {
        args[na++] = "--csv";
        args[na++] = sw->csv_tmp;
    }
    if (sw->input.v[c->in])
        args[na++] = sw->input.v[c->in];
    args[na] = NULL;
    if (sw->dry_run) {
        printf("%s\n ", key);
        for (int i = 0; i < na; i++)
            printf(" %s", args[i]);
        printf("\n");
        n->ran++;
        return;
    }
    char *out, last[512];
    size_t len;
    int st = run_child((char *const *)args, &out, &len, last, sizeof last);
    while (len && (out[len - 1] == '\n' || out[len - 1] == ' '))
        len--;
    if (st != 0 || len < 2 || out[0] != '{' || out[len - 1] != '}') {
        n->failed++;
        fprintf(stderr, "ddbench sweep: [%zu/%zu] %s: failed (%s %d): %s\n", idx, total, key,
                st > 128 ? "signal" : "exit", st > 128 ? st - 128 : st, *last ? last : "no report");
        free(out);
        if (sw->csv)
            unlink(sw->csv_tmp);
        return;
    }
    /* one line: the report's newlines lie between tokens (strings escape theirs) */
    for (size_t i = 0; i < len; i++)
        if (out[i] == '\n')
            out[i] = ' ';
    char in_esc[PATH_MAX * 2];
    json_esc(in_esc, sizeof in_esc, input);
    size_t cap = len + sizeof key_esc + sizeof in_esc + 128;
    char *row = malloc(cap);
    if (!row)
        ddb_die(1, "out of memory");
    int rl =
        snprintf(row, cap, "%.*s, \"sweep\": {\"key\": \"%s\", \"input\": \"%s\", \"rep\": %u}}\n",
                 (int)(len - 1), out, key_esc, in_esc, c->rep);
    /* CSV first: after a crash between the two, the cell reruns and its CSV row
     * may appear twice, but no JSON row lacks its CSV row */
    if (sw->csv)
        append_csv(sw->csv, sw->csv_tmp);
    write_all(outfd, row, (size_t)rl, sw->out);
    if (fsync(outfd) != 0)
        ddb_die(1, "%s: %s", sw->out, strerror(errno));
    n->ran++;
    if (!sw->quiet) {
        const char *e2e = strstr(out, "\"end_to_end\"");
        fprintf(stderr, "ddbench sweep: [%zu/%zu] %s: %.2f GB/s, dedup %.3f\n", idx, total, key,
                e2e ? json_num(e2e, "\"bytes_per_s\": ") / 1e9 : 0.0,
                json_num(out, "\"dedup_ratio\": "));
    }
    free(row);
    free(out);
}

int ddbench_sweep(int argc, char **argv)
{
    enum { O_CHUNKERS = 256, O_AVG, O_HASH, O_BACKEND, O_THREADS, O_REPS, O_CSV, O_DRY };
    static const struct option lo[] = {
        {"chunkers", required_argument, 0, O_CHUNKERS},
        {"chunker", required_argument, 0, O_CHUNKERS},
        {"avg", required_argument, 0, O_AVG},
        {"hash", required_argument, 0, O_HASH},
        {"backend", required_argument, 0, O_BACKEND},
        {"backends", required_argument, 0, O_BACKEND},
        {"threads", required_argument, 0, O_THREADS},
        {"reps", required_argument, 0, O_REPS},
        {"out", required_argument, 0, 'o'},
        {"csv", required_argument, 0, O_CSV},
        {"dry-run", no_argument, 0, O_DRY},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    sweep sw;
    memset(&sw, 0, sizeof sw);
    static char d_chunker[] = "fastcdc", d_avg[] = "8K", d_hash[] = "sha256", d_backend[] = "cpu",
                d_threads[] = "auto";
    char *lists[5] = {d_chunker, d_avg, d_hash, d_backend, d_threads};
    sw.reps = 1;
    /* the run options after "--" are not ours */
    int nopt = argc;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--")) {
            nopt = i;
            sw.extra = argv + i + 1;
            sw.nextra = argc - i - 1;
            break;
        }
    opterr = 0;
    optind = 1;
    int opt;
    while ((opt = getopt_long(nopt, argv, "+o:qh", lo, NULL)) != -1) {
        switch (opt) {
        case O_CHUNKERS:
            lists[0] = optarg;
            break;
        case O_AVG:
            lists[1] = optarg;
            break;
        case O_HASH:
            lists[2] = optarg;
            break;
        case O_BACKEND:
            lists[3] = optarg;
            break;
        case O_THREADS:
            lists[4] = optarg;
            break;
        case O_REPS: {
            char *end;
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            if (errno || end == optarg || *end || v < 1 || v > 100 || *optarg == '-')
                ddb_die(DDB_EXIT_USAGE, "--reps: expected an integer in 1..100, got '%s'", optarg);
            sw.reps = (unsigned)v;
            break;
        }
        case 'o':
            sw.out = optarg;
            break;
        case O_CSV:
            sw.csv = optarg;
            break;
        case O_DRY:
            sw.dry_run = 1;
            break;
        case 'q':
            sw.quiet = 1;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            ddb_die(DDB_EXIT_USAGE,
                    "sweep: option '%s': unknown or missing its argument (try "
                    "ddbench sweep --help)",
                    argv[optind - 1]);
        }
    }
    if (!sw.out)
        ddb_die(DDB_EXIT_USAGE, "sweep: -o FILE is required (the JSON Lines output)");
    split_list(&sw.chunker, lists[0], "--chunkers");
    check_names(&sw.chunker, "--chunkers", ok_chunker);
    expand_avg(&sw.avg, lists[1]);
    split_list(&sw.hash, lists[2], "--hash");
    check_names(&sw.hash, "--hash", ok_hash);
    split_list(&sw.backend, lists[3], "--backend");
    check_names(&sw.backend, "--backend", ok_backend);
    split_list(&sw.threads, lists[4], "--threads");
    check_names(&sw.threads, "--threads", ok_threads);
    for (int i = optind; i < nopt; i++) {
        struct stat st;
        if (strcmp(argv[i], "-") == 0)
            ddb_die(DDB_EXIT_USAGE, "sweep: '-': stdin cannot be read once per cell; give a file");
        if (stat(argv[i], &st) != 0)
            ddb_die(DDB_EXIT_USAGE, "%s: %s", argv[i], strerror(errno));
        if (sw.input.n == MAX_AXIS)
            ddb_die(DDB_EXIT_USAGE, "sweep: at most %d inputs", MAX_AXIS);
        sw.input.v[sw.input.n++] = argv[i];
    }
    if (!sw.input.n)
        sw.input.v[sw.input.n++] = NULL; /* the built-in dataset */
    if (sw.nextra > MAX_EXTRA)
        ddb_die(DDB_EXIT_USAGE, "sweep: at most %d run options after '--'", MAX_EXTRA);
    size_t ek = 0;
    for (int i = 0; i < sw.nextra; i++) {
        const char *a = sw.extra[i];
        if (!strncmp(a, "--json", 6) || !strncmp(a, "--csv", 5) || !strncmp(a, "--store", 7) ||
            !strncmp(a, "--record-trace", 14))
            ddb_die(DDB_EXIT_USAGE,
                    "sweep: run option '%s' is not allowed after '--' (the sweep "
                    "writes the reports)",
                    a);
        ek +=
            (size_t)snprintf(sw.extra_key + ek, sizeof sw.extra_key - ek, "%s%s", i ? " " : "", a);
        if (ek >= sizeof sw.extra_key)
            ddb_die(DDB_EXIT_USAGE, "sweep: run options after '--' too long");
    }

    int lockfd = -1;
    if (!sw.dry_run) {
        lockfd = open(sw.out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (lockfd < 0)
            ddb_die(1, "%s: %s", sw.out, strerror(errno));
        if (flock(lockfd, LOCK_EX | LOCK_NB) != 0)
            ddb_die(1, "%s: another ddbench sweep is writing it", sw.out);
    }
    load_done(&sw);

    size_t total = (size_t)sw.input.n * sw.chunker.n * sw.avg.n * sw.hash.n * sw.backend.n *
                   sw.threads.n * sw.reps;
    counts n = {0};
    if (sw.csv &&
        snprintf(sw.csv_tmp, sizeof sw.csv_tmp, "%s.cell.tmp", sw.csv) >= (int)sizeof sw.csv_tmp)
        ddb_die(DDB_EXIT_USAGE, "--csv: path too long");
    /* input outermost, repetitions innermost */
    cell c;
    size_t idx = 0;
    for (c.in = 0; c.in < sw.input.n; c.in++)
        for (c.ch = 0; c.ch < sw.chunker.n; c.ch++)
            for (c.av = 0; c.av < sw.avg.n; c.av++)
                for (c.ha = 0; c.ha < sw.hash.n; c.ha++)
                    for (c.be = 0; c.be < sw.backend.n; c.be++)
                        for (c.th = 0; c.th < sw.threads.n; c.th++)
                            for (c.rep = 1; c.rep <= sw.reps; c.rep++)
                                run_cell(&sw, &c, ++idx, total, lockfd, &n);
    size_t skipped = n.skipped, ran = n.ran, failed = n.failed;
    if (sw.dry_run)
        fprintf(stderr, "ddbench sweep: %zu cells, %zu already in %s, %zu to run\n", total, skipped,
                sw.out, ran);
    else if (!sw.quiet || failed)
        fprintf(stderr, "ddbench sweep: %zu cells: %zu run, %zu already in %s, %zu failed\n", total,
                ran, skipped, sw.out, failed);
    if (lockfd >= 0)
        close(lockfd);
    for (size_t i = 0; i < sw.ndone; i++)
        free(sw.done[i]);
    free(sw.done);
    return failed ? 1 : 0;
}
