/*
 * ddbench.c - the benchmark front end: `ddbench run [options] [PATH...]`.
 *
 * Uses only the public header ddx.h (and the dataset generator). Every input
 * is checked before the engine starts (paths exist, are readable, no directory
 * loops; option values valid), so a bad invocation fails with one line and
 * exit status 2 before any work; an I/O error during the run fails with one
 * line and exit status 1, and no report is printed or written.
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
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "cli_size.h"
#include "datagen.h"
#include "ddbench.h"
#include "ddx.h"

#define EXIT_USAGE DDB_EXIT_USAGE
#define die ddb_die

static const char *prog = "ddbench";

void ddb_die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(code);
}

/* ---- options ---------------------------------------------------------------- */

typedef struct opts {
    ddx_chunker_kind chunker;
    uint64_t min, avg, max;
    int min_set, max_set;
    int normalization;
    ddx_hash_kind hash;
    unsigned threads;
    uint64_t batch;
    int pin;
    ddx_backend_kind backend; /* --backend / --gpu */
    int backend_set, gpu;
    int device;
    const char *store;          /* --store DIR */
    ddx_trace_format trace_fmt; /* --trace-format */
    int trace_set;              /* --trace-format given: every PATH is a trace */
    int hash_set;
    const char *record_trace; /* --record-trace FILE */
    int per_stream;           /* --per-stream */
    const char *json, *csv;
    const char *chunk_impl, *hash_impl; /* --impl chunk=,hash= */
    char impl_spec[256];
    int verbose, quiet;
    ddx_gen_params gen;
    char **paths;
    int npaths;
    char command[4096];
} opts;

static void usage(FILE *f)
{
    fprintf(f, "usage: ddbench run [options] [PATH...]\n"
               "       ddbench sweep [options] -o FILE.jsonl [PATH...] [-- RUN-OPTIONS]\n"
               "       ddbench plot RESULTS... -o DIR\n"
               "       ddbench --help | --version\n"
               "\n"
               "Chunk, fingerprint and deduplicate PATHs (files, directories walked\n"
               "recursively in name order, '-' for stdin; each file is one stream) and\n"
               "report the dedup ratio, chunk statistics and the speed of every stage.\n"
               "With no PATH, runs the built-in dataset: backup generations of a\n"
               "synthetic file tree (datasets/README.md).\n"
               "\n"
               "options:\n"
               "  --chunker NAME      fixed | rabin | tttd | fastcdc | ram (default fastcdc)\n"
               "  --avg SIZE          average (fixed: block) chunk size (default 8K)\n"
               "  --min SIZE          minimum chunk size (default avg/4)\n"
               "  --max SIZE          maximum chunk size (default avg*8)\n"
               "  --normalization N   fastcdc normalized chunking level 0..3 (default 1)\n"
               "  --hash NAME         sha1 | sha256 (default sha256)\n"
               "  --threads N         worker threads (default: one per core)\n"
               "  --batch SIZE        bytes per batch (default 4M; GPU backends 256M)\n"
               "  --backend NAME      cpu | cuda | opencl | auto (default cpu); auto: CUDA,\n"
               "                      else an OpenCL GPU, else cpu (docs/gpu.md)\n"
               "  --gpu               the same as --backend auto, saying why if no GPU is used\n"
               "  --device N          device number within the backend (default 0)\n"
               "  --store DIR         ingest into a persistent store at DIR (created with the\n"
               "                      chunker and hash options if missing; docs/format.md):\n"
               "                      each file, or each generation, becomes a version;\n"
               "                      a trace's streams become versions of its name (at\n"
               "                      most 2^20 chunks each) holding metadata only\n"
               "  --trace-format NAME auto | ddx | fiu | fsl: PATHs are fingerprint traces\n"
               "                      (docs/traces.md), replayed into the index; without\n"
               "                      it, files starting with ddx's trace magic or named\n"
               "                      *.ddxt, *.fiu, *.fsl are traces\n"
               "  --record-trace FILE write every chunk (stream order: length, fingerprint)\n"
               "                      to FILE as a ddx binary trace (docs/format.md)\n"
               "  --per-stream        report cumulative statistics after every stream (each\n"
               "                      file or generation); drains the pipeline after each,\n"
               "                      so it costs throughput\n"
               "  --no-pin            do not pin workers to cores\n"
               "  --impl chunk=NAME,hash=NAME  pick kernels by name (default: the fastest\n"
               "                      this CPU runs; DDX_CPU_MASK restricts ISAs)\n"
               "  --list-impls        list the kernels and whether this CPU runs them\n"
               "  --json FILE         write the report as JSON (docs/report-schema.md)\n"
               "  --csv FILE          write the report as one CSV row with a header\n"
               "  --seed N            built-in dataset: generator seed (default 1)\n"
               "  --generations N     built-in dataset: backup generations (default 10)\n"
               "  --tree-size SIZE    built-in dataset: size of the file tree (default 64M)\n"
               "  -v, --verbose       print worker bindings and per-file progress\n"
               "  -q, --quiet         no progress line\n"
               "  -h, --help          this text\n"
               "  -V, --version       print the version\n"
               "SIZE takes a K, M or G suffix (powers of 1024).\n");
}

static uint64_t parse_size(const char *opt, const char *s)
{
    uint64_t v;
    if (ddx_cli_size(s, &v))
        die(EXIT_USAGE, "%s: expected a size such as 8192 or 8K, got '%s'", opt, s);
    return v;
}

static unsigned long parse_uint(const char *opt, const char *s, unsigned long lo, unsigned long hi)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-')
        die(EXIT_USAGE, "%s: expected an integer in %lu..%lu, got '%s'", opt, lo, hi, s);
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        die(EXIT_USAGE, "%s: expected an integer in %lu..%lu, got '%s'", opt, lo, hi, s);
    return v;
}

static void list_impls(void)
{
    static const char *const cls[] = {"chunk", "hash"};
    for (int c = 0; c < 2; c++) {
        const char *name;
        int kind, usable;
        for (size_t i = 0; ddx_impl_get((ddx_impl_class)c, i, &name, &kind, &usable) == 0; i++)
            printf("%-5s %-10s %-24s %s\n", cls[c],
                   c ? ddx_hash_name((ddx_hash_kind)kind)
                     : ddx_chunker_name((ddx_chunker_kind)kind),
                   name, usable ? "available" : "not available on this CPU (or DDX_CPU_MASK)");
    }
}

/* "chunk=NAME,hash=NAME" (either part optional) */
static void parse_impl(opts *o, const char *spec)
{
    if (strlen(spec) >= sizeof o->impl_spec)
        die(EXIT_USAGE, "--impl: too long");
    strcpy(o->impl_spec, spec);
    for (char *save, *tok = strtok_r(o->impl_spec, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq || eq[1] == 0)
            die(EXIT_USAGE, "--impl: expected chunk=NAME,hash=NAME, got '%s'", spec);
        *eq = 0;
        if (!strcmp(tok, "chunk"))
            o->chunk_impl = eq + 1;
        else if (!strcmp(tok, "hash"))
            o->hash_impl = eq + 1;
        else
            die(EXIT_USAGE, "--impl: unknown class '%s' (expected chunk or hash)", tok);
    }
}

/* A named implementation must exist, fit the chunker/hash, and run here. */
static void check_impl(ddx_impl_class c, const char *want, int kind)
{
    const char *name, *cls = c == DDX_IMPL_CHUNK ? "chunk" : "hash";
    int k, usable;
    const char *prefix = c == DDX_IMPL_CHUNK ? ddx_chunker_name((ddx_chunker_kind)kind)
                                             : ddx_hash_name((ddx_hash_kind)kind);
    char full[160];
    snprintf(full, sizeof full, "%s-%s",
             kind == DDX_CHUNKER_FASTCDC && c == DDX_IMPL_CHUNK ? "fastcdc2020" : prefix, want);
    for (size_t i = 0; ddx_impl_get(c, i, &name, &k, &usable) == 0; i++) {
        if (strcmp(name, want) && strcmp(name, full))
            continue;
        if (k != kind)
            die(EXIT_USAGE, "--impl %s=%s: implements %s, not the selected %s", cls, want,
                c == DDX_IMPL_CHUNK ? ddx_chunker_name((ddx_chunker_kind)k)
                                    : ddx_hash_name((ddx_hash_kind)k),
                c == DDX_IMPL_CHUNK ? ddx_chunker_name((ddx_chunker_kind)kind)
                                    : ddx_hash_name((ddx_hash_kind)kind));
        if (!usable)
            die(EXIT_USAGE, "--impl %s=%s: not available on this CPU (or excluded by DDX_CPU_MASK)",
                cls, want);
        return;
    }
    die(EXIT_USAGE, "--impl %s=%s: unknown implementation (see ddbench run --list-impls)", cls,
        want);
}

static void parse_opts(opts *o, int argc, char **argv)
{
    enum {
        O_CHUNKER = 256,
        O_MIN,
        O_AVG,
        O_MAX,
        O_NORM,
        O_HASH,
        O_THREADS,
        O_BATCH,
        O_NOPIN,
        O_JSON,
        O_CSV,
        O_SEED,
        O_GENS,
        O_TREE,
        O_BACKEND,
        O_GPU,
        O_DEVICE,
        O_STORE,
        O_IMPL,
        O_LIST,
        O_TRACE_FMT,
        O_RECORD,
        O_PER_STREAM
    };
    static const struct option lo[] = {
        {"chunker", required_argument, 0, O_CHUNKER},
        {"min", required_argument, 0, O_MIN},
        {"avg", required_argument, 0, O_AVG},
        {"max", required_argument, 0, O_MAX},
        {"normalization", required_argument, 0, O_NORM},
        {"hash", required_argument, 0, O_HASH},
        {"threads", required_argument, 0, O_THREADS},
        {"batch", required_argument, 0, O_BATCH},
        {"no-pin", no_argument, 0, O_NOPIN},
        {"impl", required_argument, 0, O_IMPL},
        {"list-impls", no_argument, 0, O_LIST},
        {"json", required_argument, 0, O_JSON},
        {"csv", required_argument, 0, O_CSV},
        {"seed", required_argument, 0, O_SEED},
        {"generations", required_argument, 0, O_GENS},
        {"tree-size", required_argument, 0, O_TREE},
        {"backend", required_argument, 0, O_BACKEND},
        {"gpu", no_argument, 0, O_GPU},
        {"device", required_argument, 0, O_DEVICE},
        {"store", required_argument, 0, O_STORE},
        {"trace-format", required_argument, 0, O_TRACE_FMT},
        {"record-trace", required_argument, 0, O_RECORD},
        {"per-stream", no_argument, 0, O_PER_STREAM},
        {"verbose", no_argument, 0, 'v'},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0},
    };
    memset(o, 0, sizeof *o);
    o->chunker = DDX_CHUNKER_FASTCDC;
    o->avg = 8192;
    o->normalization = 1;
    o->hash = DDX_HASH_SHA256;
    o->batch = 0; /* the engine's default for the backend */
    o->pin = 1;
    ddx_gen_default_params(&o->gen);
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+vqhV", lo, NULL)) != -1) {
        switch (c) {
        case O_CHUNKER:
            if (ddx_chunker_from_name(optarg, &o->chunker))
                die(EXIT_USAGE, "--chunker: expected fixed, rabin, tttd, fastcdc or ram, got '%s'",
                    optarg);
            break;
        case O_MIN:
            o->min = parse_size("--min", optarg);
            o->min_set = 1;
            break;
        case O_AVG:
            o->avg = parse_size("--avg", optarg);
            break;
        case O_MAX:
            o->max = parse_size("--max", optarg);
            o->max_set = 1;
            break;
        case O_NORM:
            o->normalization = (int)parse_uint("--normalization", optarg, 0, 3);
            break;
        case O_HASH:
            if (ddx_hash_from_name(optarg, &o->hash))
                die(EXIT_USAGE, "--hash: expected sha1 or sha256, got '%s'", optarg);
            o->hash_set = 1;
            break;
        case O_TRACE_FMT:
            if (ddx_trace_format_from_name(optarg, &o->trace_fmt))
                die(EXIT_USAGE, "--trace-format: expected auto, ddx, fiu or fsl, got '%s'", optarg);
            o->trace_set = 1;
            break;
        case O_RECORD:
            o->record_trace = optarg;
            break;
        case O_PER_STREAM:
            o->per_stream = 1;
            break;
        case O_THREADS:
            o->threads = (unsigned)parse_uint("--threads", optarg, 1, 1024);
            break;
        case O_BATCH:
            o->batch = parse_size("--batch", optarg);
            if (o->batch < 4096 || o->batch > (1ull << 32))
                die(EXIT_USAGE, "--batch: expected a size in 4K..4G, got '%s'", optarg);
            break;
        case O_BACKEND: {
            ddx_backend_kind k;
            if (ddx_backend_from_name(optarg, &k))
                die(EXIT_USAGE, "--backend: expected cpu, cuda, opencl or auto, got '%s'", optarg);
            if (o->gpu && k != DDX_BACKEND_AUTO)
                die(EXIT_USAGE, "--backend %s: conflicts with --gpu (which means auto)", optarg);
            o->backend = k;
            o->backend_set = 1;
            break;
        }
        case O_GPU:
            if (o->backend_set && o->backend != DDX_BACKEND_AUTO)
                die(EXIT_USAGE, "--gpu: conflicts with --backend %s", ddx_backend_name(o->backend));
            o->gpu = 1;
            o->backend = DDX_BACKEND_AUTO;
            break;
        case O_STORE:
            o->store = optarg;
            break;
        case O_DEVICE:
            o->device = (int)parse_uint("--device", optarg, 0, 1023);
            break;
        case O_NOPIN:
            o->pin = 0;
            break;
        case O_IMPL:
            parse_impl(o, optarg);
            break;
        case O_LIST:
            list_impls();
            exit(0);
        case O_JSON:
            o->json = optarg;
            break;
        case O_CSV:
            o->csv = optarg;
            break;
        case O_SEED:
            o->gen.seed = parse_uint("--seed", optarg, 0, ULONG_MAX);
            break;
        case O_GENS:
            o->gen.generations = (unsigned)parse_uint("--generations", optarg, 1, 1000);
            break;
        case O_TREE:
            o->gen.tree_bytes = parse_size("--tree-size", optarg);
            if (o->gen.tree_bytes < (1u << 20) || o->gen.tree_bytes > (64ull << 30))
                die(EXIT_USAGE, "--tree-size: expected a size in 1M..64G, got '%s'", optarg);
            break;
        case 'v':
            o->verbose = 1;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case 'V':
            printf("ddbench (ddx) %s\n", ddx_version_string());
            exit(0);
        default:
            if (optopt && optopt < 256)
                die(EXIT_USAGE, "option -%c: %s (try --help)", optopt,
                    strchr("vqhV", optopt) ? "takes no argument" : "unknown option");
            die(EXIT_USAGE, "option '%s': unknown or missing its argument (try --help)",
                argv[optind - 1]);
        }
    }
    if (o->avg == 0 || o->avg > UINT32_MAX)
        die(EXIT_USAGE, "--avg: must be between 64 B and 64 MiB");
    if (!o->min_set)
        o->min = o->avg / 4;
    if (!o->max_set)
        o->max = o->avg * 8;
    if (o->chunker == DDX_CHUNKER_FIXED) {
        o->min = o->max = o->avg;
    }
    if (o->min > UINT32_MAX || o->max > UINT32_MAX)
        die(EXIT_USAGE, "--min/--max: must be at most 64 MiB");
    o->paths = argv + optind;
    o->npaths = argc - optind;
}

/* ---- input walk -------------------------------------------------------------- */

typedef struct input {
    char *path; /* "-" for stdin */
    uint64_t size;
} input;

typedef struct inputs {
    input *v;
    size_t n, cap;
    uint64_t bytes;
    int has_stdin;
} inputs;

typedef struct dirstack {
    dev_t dev;
    ino_t ino;
    struct dirstack *up;
} dirstack;

static void add_input(inputs *in, const char *path, uint64_t size)
{
    if (in->n == in->cap) {
        in->cap = in->cap ? in->cap * 2 : 64;
        in->v = realloc(in->v, in->cap * sizeof *in->v);
        if (!in->v)
            die(1, "out of memory listing inputs");
    }
    in->v[in->n].path = strdup(path);
    if (!in->v[in->n].path)
        die(1, "out of memory listing inputs");
    in->v[in->n++].size = size;
    in->bytes += size;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void walk(inputs *in, const char *path, dirstack *up, int top, int verbose)
{
    struct stat st;
    if (stat(path, &st) != 0)
        die(EXIT_USAGE, "%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        for (dirstack *d = up; d; d = d->up)
            if (d->dev == st.st_dev && d->ino == st.st_ino)
                die(EXIT_USAGE, "%s: directory loop (it is its own ancestor)", path);
        dirstack me = {st.st_dev, st.st_ino, up};
        DIR *dir = opendir(path);
        if (!dir)
            die(EXIT_USAGE, "%s: %s", path, strerror(errno));
        char **names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        while ((errno = 0, de = readdir(dir)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 32;
                names = realloc(names, cap * sizeof *names);
                if (!names)
                    die(1, "out of memory listing %s", path);
            }
            names[n] = strdup(de->d_name);
            if (!names[n++])
                die(1, "out of memory listing %s", path);
        }
        if (errno)
            die(EXIT_USAGE, "%s: %s", path, strerror(errno));
        closedir(dir);
        qsort(names, n, sizeof *names, name_cmp);
        for (size_t i = 0; i < n; i++) {
            size_t pl = strlen(path);
            char *child = malloc(pl + strlen(names[i]) + 2);
            if (!child)
                die(1, "out of memory listing %s", path);
            sprintf(child, "%s%s%s", path, pl && path[pl - 1] == '/' ? "" : "/", names[i]);
            walk(in, child, &me, 0, verbose);
            free(child);
            free(names[i]);
        }
        free(names);
        return;
    }
    if (!S_ISREG(st.st_mode) && !top) {
        if (verbose)
            fprintf(stderr, "%s: skipping %s (not a regular file)\n", prog, path);
        return;
    }
    if (access(path, R_OK) != 0)
        die(EXIT_USAGE, "%s: %s", path, strerror(errno));
    add_input(in, path, S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0);
}

/* ---- progress ---------------------------------------------------------------- */

typedef struct progress {
    ddx_engine *e;
    uint64_t total;
    _Atomic int stop;
    pthread_t th;
    int running;
    int shown;
} progress;

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *progress_main(void *arg)
{
    progress *p = arg;
    double t0 = mono_s();
    while (!atomic_load(&p->stop)) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        double t = mono_s() - t0;
        if (t < 1.0 || atomic_load(&p->stop))
            continue;
        uint64_t fed, done;
        ddx_engine_progress(p->e, &fed, &done);
        if (p->total)
            fprintf(stderr, "\r  %.1f / %.1f MiB (%3.0f%%)  %.2f GB/s  ", done / 1048576.0,
                    p->total / 1048576.0, 100.0 * done / p->total, done / t / 1e9);
        else
            fprintf(stderr, "\r  %.1f MiB  %.2f GB/s  ", done / 1048576.0, done / t / 1e9);
        p->shown = 1;
    }
    if (p->shown)
        fprintf(stderr, "\r%60s\r", "");
    return NULL;
}

static void progress_start(progress *p, ddx_engine *e, uint64_t total, int quiet)
{
    memset(p, 0, sizeof *p);
    p->e = e;
    p->total = total;
    if (quiet || !isatty(STDERR_FILENO))
        return;
    if (pthread_create(&p->th, NULL, progress_main, p) == 0)
        p->running = 1;
}

static void progress_stop(progress *p)
{
    if (!p->running)
        return;
    atomic_store(&p->stop, 1);
    pthread_join(p->th, NULL);
    p->running = 0;
}

/* ---- machine ------------------------------------------------------------------ */

typedef struct machine {
    char host[256], cpu[256], kernel[256], os[256];
    long pus;
    uint64_t mem;
} machine;

static void read_machine(machine *m)
{
    memset(m, 0, sizeof *m);
    gethostname(m->host, sizeof m->host - 1);
    snprintf(m->cpu, sizeof m->cpu, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "model name", 10)) {
            char *c = strchr(line, ':');
            if (c) {
                c += 1 + (c[1] == ' ');
                c[strcspn(c, "\n")] = 0;
                snprintf(m->cpu, sizeof m->cpu, "%.200s", c);
            }
            break;
        }
    }
    if (f)
        fclose(f);
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(m->kernel, sizeof m->kernel, "%s %s %s", u.sysname, u.release, u.machine);
    snprintf(m->os, sizeof m->os, "unknown");
    f = fopen("/etc/os-release", "r");
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "PRETTY_NAME=", 12)) {
            char *v = line + 12;
            v[strcspn(v, "\n")] = 0;
            if (*v == '"') {
                v++;
                v[strcspn(v, "\"")] = 0;
            }
            snprintf(m->os, sizeof m->os, "%.200s", v);
        }
    }
    if (f)
        fclose(f);
    m->pus = sysconf(_SC_NPROCESSORS_ONLN);
    m->mem = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* ---- report ------------------------------------------------------------------- */

/* Cumulative statistics after one stream (--per-stream, the built-in dataset). */
typedef struct stream_row {
    char name[200];
    uint64_t logical, unique, chunks, unique_chunks;
} stream_row;

typedef struct report {
    const opts *o;
    const struct inputs *in;
    stream_row *rows;
    size_t nrows, crows;
    /* trace replays */
    int trace;
    const char *trace_format, *trace_hash;
    size_t trace_fp;
    uint64_t trace_records, trace_skipped;
    ddx_stats st;
    const char *chunk_impl, *hash_impl, *backend, *device;
    char input_desc[512];
    const char *input_kind;
    machine m;
    char timestamp[64];
    double gen_s; /* built-in dataset: generation time (not in the measurement) */
} report;

static double rate(uint64_t bytes, double s)
{
    return s > 0 ? (double)bytes / s : 0;
}

/* Index operations (an insert-or-lookup per chunk) per second of index-stage time. */
static double lookups_per_s(const ddx_stats *s)
{
    const ddx_stage_stats *g = &s->stage[DDX_STAGE_INDEX];
    return g->wall_s > 0 ? (double)g->items / g->wall_s : 0;
}

static void print_report(FILE *f, const report *r)
{
    const ddx_stats *s = &r->st;
    const opts *o = r->o;
    fprintf(f, "ddx %s  ddbench run  %s\n", ddx_version_string(), r->timestamp);
    fprintf(f, "input      %s\n", r->input_desc);
    if (r->trace) {
        fprintf(f,
                "trace      %s, %s fingerprints of %zu bytes, %" PRIu64 " records (%" PRIu64
                " skipped), index keys of %zu bytes\n",
                r->trace_format, *r->trace_hash ? r->trace_hash : "unnamed", r->trace_fp,
                r->trace_records, r->trace_skipped, ddx_hash_size(o->hash));
    } else {
        fprintf(f, "chunker    %s (%s)  min %" PRIu64 "  avg %" PRIu64 "  max %" PRIu64,
                ddx_chunker_name(o->chunker), r->chunk_impl, o->min, o->avg, o->max);
        if (o->chunker == DDX_CHUNKER_FASTCDC)
            fprintf(f, "  normalization %d", o->normalization);
        fprintf(f, "\nhash       %s (%s)  backend %s  threads %u  batch %.1f MiB\n",
                ddx_hash_name(o->hash), r->hash_impl, r->backend, s->threads,
                s->batch_size / 1048576.0);
    }
    if (strcmp(r->backend, "cpu"))
        fprintf(f, "device     %s\n", r->device);
    fprintf(f, "machine    %s, %ld CPUs, %.1f GiB, %s\n\n", r->m.cpu, r->m.pus,
            r->m.mem / 1073741824.0, r->m.kernel);
    fprintf(f, "logical bytes   %15" PRIu64 "  (%.1f MiB in %" PRIu64 " streams)\n",
            s->logical_bytes, s->logical_bytes / 1048576.0, s->streams);
    fprintf(f, "unique bytes    %15" PRIu64 "  (%.1f MiB)\n", s->unique_bytes,
            s->unique_bytes / 1048576.0);
    fprintf(f, "dedup ratio     %15.3f\n", s->dedup_ratio);
    fprintf(f, "chunks          %15" PRIu64 "  (%" PRIu64 " unique)\n", s->chunks,
            s->unique_chunks);
    fprintf(f, "chunk size      mean %.1f  min %" PRIu64 "  max %" PRIu64 "  stddev %.1f\n",
            s->chunk_mean, s->chunk_min, s->chunk_max, s->chunk_stddev);
    fprintf(f,
            "index           %" PRIu64 " entries  %.1f MiB  %.1f B/entry  %" PRIu64
            " grows  %.2f M lookups/s\n",
            s->index_entries, s->index_bytes / 1048576.0, s->index_bytes_per_entry, s->index_grows,
            lookups_per_s(s) / 1e6);
    if (r->nrows > 1) {
        fprintf(f, "cumulative dedup ratio by stream:");
        for (size_t i = 0; i < r->nrows && i < 12; i++)
            fprintf(f, " %.2f",
                    r->rows[i].unique ? (double)r->rows[i].logical / r->rows[i].unique : 1.0);
        fprintf(f, "%s\n", r->nrows > 12 ? " ..." : "");
    }
    fputc('\n', f);
    fprintf(f, "stage        wall s     cpu s        MiB   items    GB/s per thread\n");
    for (int i = 0; i < DDX_STAGE_COUNT; i++) {
        const ddx_stage_stats *g = &s->stage[i];
        fprintf(f, "%-8s %10.3f %9.3f %10.1f %7" PRIu64 " %10.2f\n", ddx_stage_name((ddx_stage)i),
                g->wall_s, g->cpu_s, g->bytes / 1048576.0, g->items,
                rate(g->bytes, g->wall_s) / 1e9);
    }
    fprintf(f, "%-8s %10.3f %9.3f %10.1f %7s %10.2f  (end to end; reader waited %.3f s)\n", "total",
            s->wall_s, s->cpu_s, s->logical_bytes / 1048576.0, "",
            rate(s->logical_bytes, s->wall_s) / 1e9, s->read_wait_s);
    if (strcmp(r->backend, "cpu")) {
        fprintf(f, "\n%s time split (device-measured copies and kernels, summed over batches)\n",
                r->backend);
        fprintf(f, "  host->device   %8.3f s  %8.1f MiB  %7.2f GB/s\n", s->gpu_h2d_s,
                s->gpu_h2d_bytes / 1048576.0, rate(s->gpu_h2d_bytes, s->gpu_h2d_s) / 1e9);
        fprintf(f, "  kernels        %8.3f s  (candidate scan + hashing)\n", s->gpu_kernel_s);
        fprintf(f, "  device->host   %8.3f s  %8.1f MiB  (candidates, digests)\n", s->gpu_d2h_s,
                s->gpu_d2h_bytes / 1048576.0);
        fprintf(f, "  host selection %8.3f s  (cut points from candidates, edge chunks)\n",
                s->gpu_select_s);
        fprintf(f, "  waiting        %8.3f s  (driver thread blocked on the device)\n",
                s->gpu_wait_s);
        if (s->gpu_overflow_chunks)
            fprintf(f, "  %" PRIu64 " chunks cut on the CPU after a candidate list overflowed\n",
                    s->gpu_overflow_chunks);
    }
    if (r->gen_s > 0)
        fprintf(f, "(dataset generated in %.2f s before the run, not counted)\n", r->gen_s);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void write_json(FILE *f, const report *r)
{
    const ddx_stats *s = &r->st;
    const opts *o = r->o;
    fprintf(f, "{\n  \"schema\": \"ddx.run/1\",\n  \"tool\": \"ddbench\",\n  \"version\": ");
    json_str(f, ddx_version_string());
    fprintf(f, ",\n  \"timestamp\": ");
    json_str(f, r->timestamp);
    fprintf(f, ",\n  \"command\": ");
    json_str(f, o->command);
    fprintf(f, ",\n  \"input\": {\"kind\": ");
    json_str(f, r->input_kind);
    fprintf(f, ", \"description\": ");
    json_str(f, r->input_desc);
    fprintf(f, ", \"streams\": %" PRIu64 "},\n", s->streams);
    if (r->trace) /* no chunking: the trace's chunks, keyed at the index width of "hash" */
        fprintf(f,
                "  \"config\": {\"chunker\": \"trace\", \"min\": %" PRIu64 ", \"avg\": %.0f"
                ", \"max\": %" PRIu64 ", \"normalization\": 0, \"hash\": \"%s\", "
                "\"threads\": 1, \"batch_size\": 0},\n",
                s->chunk_min, s->chunk_mean, s->chunk_max, ddx_hash_name(o->hash));
    else
        fprintf(f,
                "  \"config\": {\"chunker\": \"%s\", \"min\": %" PRIu64 ", \"avg\": %" PRIu64
                ", \"max\": %" PRIu64 ", \"normalization\": %d, \"hash\": \"%s\", "
                "\"threads\": %u, \"batch_size\": %zu},\n",
                ddx_chunker_name(o->chunker), o->min, o->avg, o->max, o->normalization,
                ddx_hash_name(o->hash), s->threads, s->batch_size);
    fprintf(f, "  \"implementations\": {\"chunker\": ");
    json_str(f, r->chunk_impl);
    fprintf(f, ", \"hash\": ");
    json_str(f, r->hash_impl);
    fprintf(f, ", \"backend\": ");
    json_str(f, r->backend);
    fprintf(f, ", \"device\": ");
    json_str(f, r->device);
    fprintf(f, "},\n");
    fprintf(f,
            "  \"gpu\": {\"h2d_s\": %.6f, \"kernel_s\": %.6f, \"d2h_s\": %.6f, \"select_s\": %.6f, "
            "\"wait_s\": %.6f, \"h2d_bytes\": %" PRIu64 ", \"d2h_bytes\": %" PRIu64
            ", \"overflow_chunks\": %" PRIu64 "},\n",
            s->gpu_h2d_s, s->gpu_kernel_s, s->gpu_d2h_s, s->gpu_select_s, s->gpu_wait_s,
            s->gpu_h2d_bytes, s->gpu_d2h_bytes, s->gpu_overflow_chunks);
    fprintf(f,
            "  \"logical_bytes\": %" PRIu64 ",\n  \"unique_bytes\": %" PRIu64
            ",\n  \"dedup_ratio\": %.6f,\n  \"chunks\": %" PRIu64 ",\n  \"unique_chunks\": %" PRIu64
            ",\n",
            s->logical_bytes, s->unique_bytes, s->dedup_ratio, s->chunks, s->unique_chunks);
    fprintf(f,
            "  \"chunk_size\": {\"mean\": %.3f, \"min\": %" PRIu64 ", \"max\": %" PRIu64
            ", \"stddev\": %.3f},\n",
            s->chunk_mean, s->chunk_min, s->chunk_max, s->chunk_stddev);
    fprintf(f, "  \"chunk_hist\": [");
    for (unsigned i = 0, n = 0; i < DDX_CHUNK_HIST_BINS; i++)
        if (s->chunk_hist[i])
            fprintf(f, "%s[%" PRIu64 ", %" PRIu64 "]", n++ ? ", " : "", ddx_chunk_hist_lower(i),
                    s->chunk_hist[i]);
    fprintf(f, "],\n");
    fprintf(f,
            "  \"index\": {\"entries\": %" PRIu64 ", \"bytes\": %" PRIu64
            ", \"bytes_per_entry\": %.3f, \"grows\": %" PRIu64 ", \"lookups_per_s\": %.1f},\n",
            s->index_entries, s->index_bytes, s->index_bytes_per_entry, s->index_grows,
            lookups_per_s(s));
    fprintf(f, "  \"stages\": {\n");
    for (int i = 0; i < DDX_STAGE_COUNT; i++) {
        const ddx_stage_stats *g = &s->stage[i];
        fprintf(f,
                "    \"%s\": {\"wall_s\": %.6f, \"cpu_s\": %.6f, \"bytes\": %" PRIu64
                ", \"items\": %" PRIu64 ", \"bytes_per_s\": %.1f}%s\n",
                ddx_stage_name((ddx_stage)i), g->wall_s, g->cpu_s, g->bytes, g->items,
                rate(g->bytes, g->wall_s), i + 1 < DDX_STAGE_COUNT ? "," : "");
    }
    fprintf(f, "  },\n");
    fprintf(f,
            "  \"end_to_end\": {\"wall_s\": %.6f, \"cpu_s\": %.6f, \"bytes_per_s\": %.1f, "
            "\"read_wait_s\": %.6f},\n",
            s->wall_s, s->cpu_s, rate(s->logical_bytes, s->wall_s), s->read_wait_s);
    if (r->nrows) {
        fprintf(f, "  \"per_stream\": [\n");
        for (size_t i = 0; i < r->nrows; i++) {
            const stream_row *w = &r->rows[i];
            fprintf(f, "    {\"stream\": %zu, \"name\": ", i);
            json_str(f, w->name);
            fprintf(f,
                    ", \"logical_bytes\": %" PRIu64 ", \"unique_bytes\": %" PRIu64
                    ", \"chunks\": %" PRIu64 ", \"unique_chunks\": %" PRIu64
                    ", \"dedup_ratio\": %.6f}%s\n",
                    w->logical, w->unique, w->chunks, w->unique_chunks,
                    w->unique ? (double)w->logical / (double)w->unique : 1.0,
                    i + 1 < r->nrows ? "," : "");
        }
        fprintf(f, "  ],\n");
    }
    if (r->trace) {
        fprintf(f, "  \"trace\": {\"format\": ");
        json_str(f, r->trace_format);
        fprintf(f, ", \"hash\": ");
        json_str(f, r->trace_hash);
        fprintf(f,
                ", \"fp_bytes\": %zu, \"records\": %" PRIu64 ", \"skipped\": %" PRIu64
                ", \"files\": [",
                r->trace_fp, r->trace_records, r->trace_skipped);
        for (size_t i = 0; i < r->in->n; i++) {
            fprintf(f, "%s", i ? ", " : "");
            json_str(f, r->in->v[i].path);
        }
        fprintf(f, "]},\n");
    }
    fprintf(f, "  \"machine\": {\"hostname\": ");
    json_str(f, r->m.host);
    fprintf(f, ", \"cpu_model\": ");
    json_str(f, r->m.cpu);
    fprintf(f, ", \"logical_cpus\": %ld, \"memory_bytes\": %" PRIu64 ", \"kernel\": ", r->m.pus,
            r->m.mem);
    json_str(f, r->m.kernel);
    fprintf(f, ", \"os\": ");
    json_str(f, r->m.os);
    fprintf(f, "}\n}\n");
}

static void csv_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void write_csv(FILE *f, const report *r)
{
    const ddx_stats *s = &r->st;
    const opts *o = r->o;
    fprintf(f, "timestamp,command,input,chunker,min,avg,max,normalization,hash,threads,"
               "batch_size,chunker_impl,hash_impl,backend,logical_bytes,unique_bytes,"
               "dedup_ratio,chunks,unique_chunks,chunk_mean,chunk_min,chunk_max,chunk_stddev,"
               "index_entries,index_bytes,index_bytes_per_entry");
    for (int i = 0; i < DDX_STAGE_COUNT; i++) {
        const char *n = ddx_stage_name((ddx_stage)i);
        fprintf(f, ",%s_wall_s,%s_cpu_s,%s_bytes,%s_bytes_per_s", n, n, n, n);
    }
    fprintf(f,
            ",wall_s,cpu_s,bytes_per_s,cpu_model,logical_cpus,device,gpu_h2d_s,gpu_kernel_s,"
            "gpu_d2h_s,gpu_select_s,gpu_wait_s,gpu_h2d_bytes,gpu_d2h_bytes,index_lookups_per_s\n");
    csv_str(f, r->timestamp);
    fputc(',', f);
    csv_str(f, o->command);
    fputc(',', f);
    csv_str(f, r->input_desc);
    fprintf(f, ",%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%d,%s,%u,%zu,",
            r->trace ? "trace" : ddx_chunker_name(o->chunker), o->min, o->avg, o->max,
            o->normalization, ddx_hash_name(o->hash), s->threads, s->batch_size);
    csv_str(f, r->chunk_impl);
    fputc(',', f);
    csv_str(f, r->hash_impl);
    fputc(',', f);
    csv_str(f, r->backend);
    fprintf(f,
            ",%" PRIu64 ",%" PRIu64 ",%.6f,%" PRIu64 ",%" PRIu64 ",%.3f,%" PRIu64 ",%" PRIu64
            ",%.3f,%" PRIu64 ",%" PRIu64 ",%.3f",
            s->logical_bytes, s->unique_bytes, s->dedup_ratio, s->chunks, s->unique_chunks,
            s->chunk_mean, s->chunk_min, s->chunk_max, s->chunk_stddev, s->index_entries,
            s->index_bytes, s->index_bytes_per_entry);
    for (int i = 0; i < DDX_STAGE_COUNT; i++) {
        const ddx_stage_stats *g = &s->stage[i];
        fprintf(f, ",%.6f,%.6f,%" PRIu64 ",%.1f", g->wall_s, g->cpu_s, g->bytes,
                rate(g->bytes, g->wall_s));
    }
    fprintf(f, ",%.6f,%.6f,%.1f,", s->wall_s, s->cpu_s, rate(s->logical_bytes, s->wall_s));
    csv_str(f, r->m.cpu);
    fprintf(f, ",%ld,", r->m.pus);
    csv_str(f, r->device);
    fprintf(f, ",%.6f,%.6f,%.6f,%.6f,%.6f,%" PRIu64 ",%" PRIu64 ",%.1f\n", s->gpu_h2d_s,
            s->gpu_kernel_s, s->gpu_d2h_s, s->gpu_select_s, s->gpu_wait_s, s->gpu_h2d_bytes,
            s->gpu_d2h_bytes, lookups_per_s(s));
}

/* Write to FILE.tmp, then rename: a reader never sees half a report. */
static void write_file(const char *path, void (*fn)(FILE *, const report *), const report *r)
{
    int to_stdout = !strcmp(path, "-");
    char tmp[PATH_MAX];
    if (!to_stdout && snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        die(1, "%s: path too long", path);
    FILE *f = to_stdout ? stdout : fopen(tmp, "w");
    if (!f)
        die(1, "%s: %s", path, strerror(errno));
    fn(f, r);
    if (to_stdout) {
        fflush(f);
        return;
    }
    if (fflush(f) || ferror(f) || fsync(fileno(f))) {
        int err = errno;
        fclose(f);
        unlink(tmp);
        die(1, "%s: %s", path, strerror(err ? err : EIO));
    }
    fclose(f);
    if (rename(tmp, path) != 0)
        die(1, "%s: %s", path, strerror(errno));
}

/* ---- zero-copy input ---------------------------------------------------------------
 * Regular files of at least one batch are mmap(2)ed and fed in place
 * (ddx_engine_feed_ref): no copy from the page cache. If such a file shrinks
 * while mapped, touching the lost pages raises SIGBUS; we turn that into the
 * usual one-line error instead of a crash. */

typedef struct mapping {
    void *addr;
    size_t len;
} mapping;

static void unmap(void *ctx)
{
    mapping *m = ctx;
    munmap(m->addr, m->len);
    free(m);
}

static void on_sigbus(int sig)
{
    static const char msg[] = "ddbench: an input file shrank while being read (SIGBUS); "
                              "no report\n";
    (void)sig;
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
    _exit(1);
}

/* Feed one open file; 0 or a ddx/errno code. */
static int feed_file(ddx_engine *e, int fd, size_t batch)
{
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size >= batch &&
        (uint64_t)st.st_size <= SIZE_MAX) {
        mapping *m = malloc(sizeof *m);
        void *p = m ? mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
        if (p != MAP_FAILED) {
            m->addr = p;
            m->len = (size_t)st.st_size;
            (void)madvise(p, m->len, MADV_SEQUENTIAL);
            return ddx_engine_feed_ref(e, p, m->len, unmap, m);
        }
        free(m); /* not mappable: fall back to read(2) */
    }
    return ddx_engine_feed_fd(e, fd);
}

/* ---- run ------------------------------------------------------------------------ */

static void check(int rc, const char *what)
{
    if (rc)
        die(1, "%s: %s", what, ddx_strerror(rc));
}

/* ---- --record-trace: chunks in stream order to a ddx binary trace --------------
 * The chunk callback runs on the workers, in no particular order. A min-heap
 * on (stream, offset) holds the chunks that arrived early; whenever its top
 * is the next chunk of the stream (its offset is where the last written chunk
 * ended) it goes to the writer. Workers finish batches roughly in order, so
 * the heap holds about the batches in flight, not the input. At the end of a
 * stream (ddx_engine_finish() has drained it) the rest is written. */

typedef struct recorder {
    pthread_mutex_t mu;
    ddx_chunk *heap;
    size_t n, cap;
    uint64_t stream, next_off; /* where the next chunk to write starts */
    ddx_trace_writer *w;
    int err;
} recorder;

static int chunk_before(const ddx_chunk *a, const ddx_chunk *b)
{
    return a->stream != b->stream ? a->stream < b->stream : a->offset < b->offset;
}

static void heap_pop(recorder *rc)
{
    ddx_chunk *h = rc->heap;
    h[0] = h[--rc->n];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < rc->n && chunk_before(&h[l], &h[m]))
            m = l;
        if (l + 1 < rc->n && chunk_before(&h[l + 1], &h[m]))
            m = l + 1;
        if (m == i)
            break;
        ddx_chunk t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* Write the heap's top while it is the next chunk (or, at the end of a
 * stream, while it belongs to that stream). Holding mu. */
static void recorder_drain(recorder *rc, int stream_done)
{
    while (rc->n && !rc->err) {
        ddx_chunk *top = &rc->heap[0];
        if (top->stream != rc->stream || (!stream_done && top->offset != rc->next_off))
            break;
        rc->err = ddx_trace_writer_add(rc->w, top, 1);
        rc->next_off = top->offset + top->length;
        heap_pop(rc);
    }
}

static void record_chunk(void *ctx, const ddx_chunk *c)
{
    recorder *rc = ctx;
    pthread_mutex_lock(&rc->mu);
    if (rc->n == rc->cap) {
        size_t cap = rc->cap ? rc->cap * 2 : 4096;
        ddx_chunk *h = realloc(rc->heap, cap * sizeof *h);
        if (!h) {
            rc->err = ENOMEM;
            pthread_mutex_unlock(&rc->mu);
            return;
        }
        rc->heap = h, rc->cap = cap;
    }
    size_t i = rc->n++;
    while (i && chunk_before(c, &rc->heap[(i - 1) / 2])) {
        rc->heap[i] = rc->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    rc->heap[i] = *c;
    recorder_drain(rc, 0);
    pthread_mutex_unlock(&rc->mu);
}

/* After ddx_engine_finish(): every chunk of the current stream has arrived. */
static void recorder_stream_done(recorder *rc)
{
    pthread_mutex_lock(&rc->mu);
    recorder_drain(rc, 1);
    rc->stream++;
    rc->next_off = 0;
    pthread_mutex_unlock(&rc->mu);
}

static void recorder_finish(recorder *rc, const char *path)
{
    if (!rc->err && rc->n)
        rc->err = EPROTO; /* chunks of a stream never finished: a bug, not the input */
    if (rc->err) {
        ddx_trace_writer_abort(rc->w);
        die(1, "--record-trace %s: %s", path, ddx_strerror(rc->err));
    }
    int err = ddx_trace_writer_finish(rc->w);
    if (err)
        die(1, "--record-trace %s: %s", path, ddx_strerror(err));
    free(rc->heap);
    pthread_mutex_destroy(&rc->mu);
}

/* ---- per-stream statistics ------------------------------------------------------ */

static void add_row(report *r, ddx_engine *e, const char *name)
{
    ddx_stats st;
    check(ddx_engine_get_stats(e, &st), "stats");
    if (r->nrows == r->crows) {
        r->crows = r->crows ? r->crows * 2 : 16;
        r->rows = realloc(r->rows, r->crows * sizeof *r->rows);
        if (!r->rows)
            die(1, "out of memory");
    }
    stream_row *w = &r->rows[r->nrows++];
    snprintf(w->name, sizeof w->name, "%s", name);
    w->logical = st.logical_bytes, w->unique = st.unique_bytes;
    w->chunks = st.chunks, w->unique_chunks = st.unique_chunks;
}

/* ---- trace inputs ------------------------------------------------------------------ */

/* Without --trace-format, a file is a trace if it starts with the ddx trace
 * magic or is named like one; everything else is data. */
static int looks_like_trace(const char *path)
{
    size_t n = strlen(path);
    static const char *const ext[] = {".ddxt", ".fiu", ".fsl"};
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
        size_t k = strlen(ext[i]);
        if (n > k && !strcmp(path + n - k, ext[i]))
            return 1;
    }
    char magic[8];
    int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0)
        return 0;
    ssize_t got = read(fd, magic, sizeof magic);
    close(fd);
    return got == (ssize_t)sizeof magic && !memcmp(magic, "DDXTRACE", 8);
}

static ddx_trace *open_trace(const opts *o, const char *path)
{
    ddx_trace *t;
    char why[512];
    if (ddx_trace_open(&t, path, o->trace_fmt, why, sizeof why))
        die(1, "%s", why);
    return t;
}

/* Input i's trace (the first is open already), checked against the index
 * key width the first one chose (or --hash, or the store's). */
static ddx_trace *trace_at(const opts *o, report *r, size_t i, ddx_trace *first)
{
    const char *path = r->in->v[i].path;
    ddx_trace *t = i ? open_trace(o, path) : first;
    if (strcmp(r->trace_format, ddx_trace_format_name(ddx_trace_get_format(t))))
        r->trace_format = "mixed";
    if (ddx_trace_fp_size(t) > ddx_hash_size(o->hash))
        die(1, "%s: %zu-byte fingerprints do not fit %zu-byte index keys (use --hash sha256)", path,
            ddx_trace_fp_size(t), ddx_hash_size(o->hash));
    return t;
}

static void trace_done(report *r, ddx_trace *t)
{
    ddx_trace_counts n;
    ddx_trace_get_counts(t, &n);
    r->trace_records += n.records;
    r->trace_skipped += n.skipped;
    ddx_trace_close(t);
}

/* Replay every trace: each trace stream becomes an engine stream. Memory is
 * the record array and the index, whatever the traces' length. */
static void run_traces(const opts *o, report *r, ddx_engine *e, ddx_trace *first, recorder *rec)
{
    enum { NREC = 4096 };
    ddx_chunk *c = malloc(NREC * sizeof *c);
    if (!c)
        die(1, "out of memory");
    for (size_t i = 0; i < r->in->n; i++) {
        const char *path = r->in->v[i].path;
        ddx_trace *t = trace_at(o, r, i, first);
        int open_stream = 0;
        uint64_t cur = 0;
        for (;;) {
            size_t got;
            int rc = ddx_trace_read(t, c, NREC, &got);
            if (rc)
                die(1, "%s", rc == DDX_ECORRUPT ? ddx_trace_errmsg(t) : ddx_strerror(rc));
            if (!got)
                break;
            for (size_t k = 0; k < got;) {
                if (!open_stream || c[k].stream != cur) {
                    if (open_stream) {
                        check(ddx_engine_stream_end(e), path);
                        if (rec)
                            recorder_stream_done(rec);
                        if (o->per_stream)
                            add_row(r, e, path);
                    }
                    check(ddx_engine_stream_begin(e), path);
                    open_stream = 1;
                    cur = c[k].stream;
                }
                size_t j = k;
                while (j < got && c[j].stream == cur)
                    j++;
                int fr = ddx_engine_feed_chunks(e, c + k, j - k);
                if (fr)
                    die(1, "%s: %s", path, ddx_strerror(fr));
                k = j;
            }
        }
        if (open_stream) {
            check(ddx_engine_stream_end(e), path);
            if (rec)
                recorder_stream_done(rec);
            if (o->per_stream)
                add_row(r, e, path);
        }
        trace_done(r, t);
    }
    free(c);
}

/* ---- --store: ingest into a persistent store ------------------------------------ */

/* A version name from a path: its last component, with the characters a
 * name may not hold replaced. */
static void version_name(const char *path, char *out, size_t n)
{
    const char *b = strrchr(path, '/');
    b = b && b[1] ? b + 1 : path;
    snprintf(out, n, "%s", !strcmp(path, "-") ? "stdin" : b);
    for (char *c = out; *c; c++)
        if (*c == '@' || *c == '/' || (unsigned char)*c < 0x20)
            *c = '_';
}

/* Records per version when a trace goes into a store: bounds the per-put
 * chunk list (a stream longer than this becomes consecutive versions). */
#define TRACE_PUT_MAX (1u << 20)

static void put_trace_part(ddx_store *s, const char *name, const ddx_chunk *c, size_t n,
                           ddx_put_stats *t, unsigned *puts, int verbose)
{
    ddx_put_stats ps;
    if (ddx_store_put_chunks(s, name, c, n, &ps) != 0)
        die(1, "%s: put: %s", name, ddx_store_errmsg(s));
    t->bytes += ps.bytes, t->chunks += ps.chunks, t->new_chunks += ps.new_chunks;
    t->new_bytes += ps.new_bytes, t->meta_bytes += ps.meta_bytes, (*puts)++;
    if (verbose)
        fprintf(stderr, "%s: %zu chunks -> %s@%u\n", prog, n, name, ps.version);
}

/* Every trace stream as versions of the trace file's name, metadata only
 * (ddx_store_put_chunks): the index and the metadata log at trace scale. */
static void put_traces(const opts *o, report *r, const inputs *in, ddx_trace *first, ddx_store *s,
                       ddx_put_stats *t, unsigned *puts)
{
    enum { NREC = 4096 };
    ddx_chunk *c = malloc(TRACE_PUT_MAX * sizeof *c), *rb = malloc(NREC * sizeof *rb);
    if (!c || !rb)
        die(1, "out of memory");
    for (size_t i = 0; i < in->n; i++) {
        const char *path = in->v[i].path;
        ddx_trace *tr = trace_at(o, r, i, first);
        char name[256];
        version_name(path, name, sizeof name);
        size_t n = 0; /* c[0, n): one stream's next version */
        for (;;) {
            size_t got;
            int rc = ddx_trace_read(tr, rb, NREC, &got);
            if (rc)
                die(1, "%s", rc == DDX_ECORRUPT ? ddx_trace_errmsg(tr) : ddx_strerror(rc));
            for (size_t k = 0; k < got; k++) {
                if (n && (rb[k].stream != c[n - 1].stream || n == TRACE_PUT_MAX)) {
                    put_trace_part(s, name, c, n, t, puts, o->verbose);
                    n = 0;
                }
                c[n++] = rb[k];
            }
            if (!got)
                break;
        }
        if (n)
            put_trace_part(s, name, c, n, t, puts, o->verbose);
        trace_done(r, tr);
    }
    free(c);
    free(rb);
}

static void run_store(const opts *o, report *r, const inputs *in, uint8_t **gens,
                      const size_t *gen_len, ddx_trace *first)
{
    char why[768], idp[PATH_MAX];
    struct stat sst;
    snprintf(idp, sizeof idp, "%s/ddx-store", o->store);
    int created = 0;
    if (stat(idp, &sst) != 0) {
        ddx_store_params p;
        ddx_store_default_params(&p);
        p.chunker = o->chunker;
        p.min = (uint32_t)o->min, p.avg = (uint32_t)o->avg, p.max = (uint32_t)o->max;
        p.normalization = o->normalization;
        p.hash = o->hash;
        if (ddx_store_init(o->store, &p, why, sizeof why))
            die(1, "--store %s: %s", o->store, why);
        created = 1;
    }
    ddx_store *s;
    int rc = ddx_store_open(&s, o->store, DDX_STORE_WRITE, why, sizeof why);
    if (rc)
        die(1, "--store: %s", why);
    ddx_put_stats t = {0}, ps;
    unsigned puts = 0;
    double t0 = mono_s();
    if (first) {
        ddx_store_stats ss;
        if (ddx_store_stat(s, &ss))
            die(1, "--store: stat: %s", ddx_store_errmsg(s));
        if (ddx_hash_size(ss.hash) < r->trace_fp)
            die(1,
                "--store %s: its %s keys (%zu bytes) cannot hold the trace's %zu-byte "
                "fingerprints",
                o->store, ddx_hash_name(ss.hash), ddx_hash_size(ss.hash), r->trace_fp);
        opts o2 = *o;
        o2.hash = ss.hash;
        put_traces(&o2, r, in, first, s, &t, &puts);
    } else if (o->npaths) {
        for (size_t i = 0; i < in->n; i++) {
            const char *path = in->v[i].path;
            int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
            if (fd < 0)
                die(1, "%s: %s", path, strerror(errno));
            char name[256];
            version_name(path, name, sizeof name);
            if ((rc = ddx_store_put_fd(s, name, fd, &ps)) != 0)
                die(1, "%s: put: %s", path, ddx_store_errmsg(s));
            if (fd != STDIN_FILENO)
                close(fd);
            t.bytes += ps.bytes, t.chunks += ps.chunks, t.new_chunks += ps.new_chunks;
            t.new_bytes += ps.new_bytes, t.meta_bytes += ps.meta_bytes, puts++;
            if (o->verbose)
                fprintf(stderr, "%s: %s -> %s@%u\n", prog, path, name, ps.version);
        }
    } else {
        for (unsigned i = 0; i < o->gen.generations; i++) {
            if ((rc = ddx_store_put_mem(s, "dataset", gens[i], gen_len[i], &ps)) != 0)
                die(1, "dataset: put: %s", ddx_store_errmsg(s));
            t.bytes += ps.bytes, t.chunks += ps.chunks, t.new_chunks += ps.new_chunks;
            t.new_bytes += ps.new_bytes, t.meta_bytes += ps.meta_bytes, puts++;
        }
    }
    double wall = mono_s() - t0;
    ddx_store_stats ss;
    if (ddx_store_stat(s, &ss))
        die(1, "--store: stat: %s", ddx_store_errmsg(s));
    ddx_store_close(s);
    time_t now = time(NULL);
    strftime(r->timestamp, sizeof r->timestamp, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    double refs = (double)t.chunks;
    printf("ddx %s  ddbench run --store  %s\n", ddx_version_string(), r->timestamp);
    printf("input      %s\n", r->input_desc);
    printf("store      %s%s: %s %u/%u/%u, %s, %llu versions, %llu containers (%.1f MiB), "
           "metadata %.1f MiB\n\n",
           o->store, created ? " (created)" : "", ddx_chunker_name(ss.chunker), ss.min, ss.avg,
           ss.max, ddx_hash_name(ss.hash), (unsigned long long)ss.versions,
           (unsigned long long)ss.containers, ss.container_bytes / 1048576.0,
           ss.meta_bytes / 1048576.0);
    printf("versions put     %15u\n", puts);
    printf("logical bytes    %15llu  (%.1f MiB)\n", (unsigned long long)t.bytes,
           t.bytes / 1048576.0);
    printf(r->trace ? "new bytes        %15llu  (%.1f MiB, absent: metadata only)\n"
                    : "new bytes        %15llu  (%.1f MiB written to containers)\n",
           (unsigned long long)t.new_bytes, t.new_bytes / 1048576.0);
    printf("chunks           %15llu  (%llu new)\n", (unsigned long long)t.chunks,
           (unsigned long long)t.new_chunks);
    printf("dedup ratio      %15.3f  (this run: logical / new bytes)\n",
           t.new_bytes ? (double)t.bytes / (double)t.new_bytes : 1.0);
    printf("metadata         %15llu  bytes (%.1f per chunk reference)\n",
           (unsigned long long)t.meta_bytes, refs > 0 ? t.meta_bytes / refs : 0.0);
    if (r->trace)
        printf("replay           %15.3f  s  (%.2f M chunks/s, every put acknowledged durable)\n",
               wall, wall > 0 ? t.chunks / wall / 1e6 : 0.0);
    else
        printf("ingest           %15.3f  s  (%.2f GB/s, every put acknowledged durable)\n", wall,
               wall > 0 ? t.bytes / wall / 1e9 : 0.0);
    if (o->json) {
        FILE *f = !strcmp(o->json, "-") ? stdout : fopen(o->json, "w");
        if (!f)
            die(1, "%s: %s", o->json, strerror(errno));
        fprintf(f,
                "{\"schema\": \"ddx.store-run/1\", \"timestamp\": \"%s\", \"versions_put\": %u, "
                "\"logical_bytes\": %llu, \"new_bytes\": %llu, \"chunks\": %llu, "
                "\"new_chunks\": %llu, \"meta_bytes\": %llu, \"wall_s\": %.6f, "
                "\"bytes_per_s\": %.1f, \"store_container_bytes\": %llu, "
                "\"store_meta_bytes\": %llu}\n",
                r->timestamp, puts, (unsigned long long)t.bytes, (unsigned long long)t.new_bytes,
                (unsigned long long)t.chunks, (unsigned long long)t.new_chunks,
                (unsigned long long)t.meta_bytes, wall, wall > 0 ? t.bytes / wall : 0.0,
                (unsigned long long)ss.container_bytes, (unsigned long long)ss.meta_bytes);
        if (f != stdout)
            fclose(f);
    }
}

static int cmd_run(int argc, char **argv)
{
    opts o;
    parse_opts(&o, argc, argv);
    size_t cl = 0;
    for (int i = 0; i < argc + 1 && cl < sizeof o.command - 1; i++) {
        const char *a = i == 0 ? "ddbench" : argv[i - 1];
        if (i == 1)
            continue; /* argv[0] is "run" (shifted); rebuilt below */
        cl += (size_t)snprintf(o.command + cl, sizeof o.command - cl, "%s%s", i ? " " : "", a);
    }
    /* argv here starts at "run" */
    snprintf(o.command, sizeof o.command, "ddbench");
    cl = strlen(o.command);
    for (int i = 0; i < argc && cl < sizeof o.command - 1; i++)
        cl += (size_t)snprintf(o.command + cl, sizeof o.command - cl, " %s", argv[i]);

    /* Validate the engine configuration before touching any input. */
    ddx_engine *e;
    check(ddx_engine_create(&e), "engine");
    int rc = ddx_engine_set_normalization(e, o.normalization);
    if (!rc)
        rc =
            ddx_engine_set_chunker(e, o.chunker, (uint32_t)o.min, (uint32_t)o.avg, (uint32_t)o.max);
    if (rc) {
        if (o.chunker == DDX_CHUNKER_FIXED)
            die(EXIT_USAGE, "--avg: fixed chunk size must be between 64 B and 64 MiB");
        if (o.min < DDX_CHUNK_MIN_LIMIT)
            die(EXIT_USAGE, "--min: must be at least 64 bytes, got %" PRIu64, o.min);
        if (o.max > DDX_CHUNK_MAX_LIMIT)
            die(EXIT_USAGE, "--max: must be at most 64 MiB, got %" PRIu64, o.max);
        if (o.min > o.avg)
            die(EXIT_USAGE, "--min %" PRIu64 " > --avg %" PRIu64 ": need min <= avg <= max", o.min,
                o.avg);
        if (o.avg > o.max)
            die(EXIT_USAGE, "--avg %" PRIu64 " > --max %" PRIu64 ": need min <= avg <= max", o.avg,
                o.max);
        if (o.min == o.max)
            die(EXIT_USAGE, "--min equals --max: use --chunker fixed for equal sizes");
        if (o.chunker == DDX_CHUNKER_FASTCDC)
            die(EXIT_USAGE,
                "--avg %" PRIu64 ": out of range for fastcdc at normalization %d "
                "(avg 256 B..8 MiB at level 1)",
                o.avg, o.normalization);
        die(EXIT_USAGE,
            "--avg %" PRIu64 " - --min %" PRIu64 " must be at least 64 for %s (the divisor)", o.avg,
            o.min, ddx_chunker_name(o.chunker));
    }
    check(ddx_engine_set_hash(e, o.hash), "--hash");
    check(ddx_engine_set_threads(e, o.threads), "--threads");
    if (o.batch)
        check(ddx_engine_set_batch_size(e, o.batch), "--batch");
    check(ddx_engine_set_backend(e, o.backend, o.device), "--backend");
    check(ddx_engine_set_pinning(e, o.pin), "--no-pin");
    if (o.chunk_impl) {
        check_impl(DDX_IMPL_CHUNK, o.chunk_impl, (int)o.chunker);
        check(ddx_engine_set_chunker_impl(e, o.chunk_impl), "--impl");
    }
    if (o.hash_impl) {
        check_impl(DDX_IMPL_HASH, o.hash_impl, (int)o.hash);
        check(ddx_engine_set_hash_impl(e, o.hash_impl), "--impl");
    }

    report r;
    memset(&r, 0, sizeof r);
    r.o = &o;
    read_machine(&r.m);

    inputs in = {0};
    uint8_t **gens = NULL;
    size_t *gen_len = NULL;
    if (o.npaths) {
        for (int i = 0; i < o.npaths; i++) {
            if (!strcmp(o.paths[i], "-")) {
                if (in.has_stdin)
                    die(EXIT_USAGE, "-: stdin given more than once");
                in.has_stdin = 1;
                add_input(&in, "-", 0);
            } else {
                walk(&in, o.paths[i], NULL, 1, o.verbose);
            }
        }
        r.input_kind = "paths";
        size_t ntrace = 0;
        for (size_t i = 0; i < in.n; i++)
            ntrace += o.trace_set || looks_like_trace(in.v[i].path);
        if (ntrace && ntrace < in.n)
            die(EXIT_USAGE,
                "%s: the inputs mix fingerprint traces and data; replay traces on their "
                "own (or give --trace-format to read every input as a trace)",
                o.paths[0]);
        r.trace = ntrace > 0;
        if (r.trace)
            r.input_kind = "trace";
        snprintf(r.input_desc, sizeof r.input_desc, "%zu %s%s%s, %.1f MiB%s: %s%s", in.n,
                 r.trace ? "trace" : "file", in.n == 1 ? "" : "s",
                 in.has_stdin ? " incl. stdin" : "", in.bytes / 1048576.0,
                 in.has_stdin ? " + stdin" : "", o.paths[0], o.npaths > 1 ? " ..." : "");
    } else {
        if (o.trace_set)
            die(EXIT_USAGE, "--trace-format: give the trace files to replay as PATHs");
        /* Generate first, so the measurement is the engine's alone. */
        double t = mono_s();
        ddx_gen *g;
        if (ddx_gen_create(&g, &o.gen) != 0)
            die(EXIT_USAGE, "built-in dataset: bad parameters: %s", strerror(errno));
        gens = calloc(o.gen.generations, sizeof *gens);
        gen_len = calloc(o.gen.generations, sizeof *gen_len);
        if (!gens || !gen_len)
            die(1, "out of memory");
        uint64_t total = 0;
        for (unsigned i = 0; i < o.gen.generations; i++) {
            int gr = ddx_gen_next(g, &gens[i], &gen_len[i]);
            if (gr != 1)
                die(1, "built-in dataset: generation %u failed: %s", i + 1,
                    gr < 0 ? strerror(errno) : "generator ended early");
            total += gen_len[i];
        }
        ddx_gen_free(g);
        r.gen_s = mono_s() - t;
        in.bytes = total;
        r.input_kind = "dataset";
        char d[256];
        ddx_gen_describe(&o.gen, d, sizeof d);
        snprintf(r.input_desc, sizeof r.input_desc, "built-in dataset (%s), %.1f MiB", d,
                 total / 1048576.0);
    }

    r.in = &in;
    ddx_trace *first = NULL;
    char trace_hash[16] = "";
    if (r.trace) {
        if (o.backend != DDX_BACKEND_CPU)
            die(EXIT_USAGE,
                "--backend %s: a trace replay has nothing to chunk or hash; it runs "
                "on the cpu",
                ddx_backend_name(o.backend));
        first = open_trace(&o, in.v[0].path);
        r.trace_fp = ddx_trace_fp_size(first);
        r.trace_format = ddx_trace_format_name(ddx_trace_get_format(first));
        snprintf(trace_hash, sizeof trace_hash, "%s", ddx_trace_hash_name(first));
        r.trace_hash = trace_hash;
        if (!o.hash_set)
            o.hash = r.trace_fp <= ddx_hash_size(DDX_HASH_SHA1) ? DDX_HASH_SHA1 : DDX_HASH_SHA256;
        else if (ddx_hash_size(o.hash) < r.trace_fp)
            die(EXIT_USAGE,
                "--hash %s: its %zu-byte index keys cannot hold %s's %zu-byte "
                "fingerprints",
                ddx_hash_name(o.hash), ddx_hash_size(o.hash), in.v[0].path, r.trace_fp);
        check(ddx_engine_set_hash(e, o.hash), "--hash");
        check(ddx_engine_set_threads(e, 1), "--threads"); /* the replay runs on this thread */
    }
    if (o.store && o.record_trace)
        die(EXIT_USAGE, "--record-trace: not with --store");
    if (o.store) {
        if (o.backend != DDX_BACKEND_CPU || o.csv)
            die(EXIT_USAGE, "--store: runs on the cpu backend and reports text or --json only");
        ddx_engine_close(e);
        run_store(&o, &r, &in, gens, gen_len, first);
        return 0;
    }
    recorder rec, *recp = NULL;
    if (o.record_trace) {
        memset(&rec, 0, sizeof rec);
        pthread_mutex_init(&rec.mu, NULL);
        char why[512];
        if (ddx_trace_writer_open(&rec.w, o.record_trace,
                                  r.trace ? r.trace_hash : ddx_hash_name(o.hash),
                                  r.trace ? r.trace_fp : ddx_hash_size(o.hash), why, sizeof why))
            die(1, "--record-trace: %s", why);
        recp = &rec;
        check(ddx_engine_set_chunk_callback(e, record_chunk, recp), "--record-trace");
    }
    /* draining the pipeline after every stream costs about a fifth of the
     * built-in dataset's rate: only when asked */
    int per_stream = o.per_stream;
    rc = ddx_engine_open(e);
    const char *note = ddx_engine_backend_note(e);
    if (rc && *note)
        die(1, "%s", note);
    check(rc, "engine open");
    if (*note && o.backend != DDX_BACKEND_CPU)
        fprintf(stderr, "%s: %s%s\n", prog, o.gpu ? "--gpu: " : "", note);
    ddx_stats st0;
    check(ddx_engine_get_stats(e, &st0), "stats");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigbus;
    sigaction(SIGBUS, &sa, NULL);
    if (o.verbose) {
        char b[256];
        for (unsigned i = 0; ddx_engine_worker_binding(e, i, b, sizeof b) == 0; i++)
            fprintf(stderr, "%s: %s\n", prog, b);
    }
    progress pr;
    progress_start(&pr, e, r.trace ? 0 : in.bytes, o.quiet);
    if (r.trace) {
        run_traces(&o, &r, e, first, recp);
    } else if (o.npaths) {
        for (size_t i = 0; i < in.n; i++) {
            const char *p = in.v[i].path;
            int fd = strcmp(p, "-") ? open(p, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
            if (fd < 0) {
                progress_stop(&pr);
                die(1, "%s: %s", p, strerror(errno));
            }
            (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
            check(ddx_engine_stream_begin(e), p);
            rc = fd == STDIN_FILENO ? ddx_engine_feed_fd(e, fd) : feed_file(e, fd, st0.batch_size);
            if (rc) {
                progress_stop(&pr);
                die(1, "%s: %s", !strcmp(p, "-") ? "stdin" : p, ddx_strerror(rc));
            }
            if (fd != STDIN_FILENO)
                close(fd);
            check(ddx_engine_stream_end(e), p);
            if (per_stream || recp)
                check(ddx_engine_finish(e), p);
            if (recp)
                recorder_stream_done(recp);
            if (per_stream)
                add_row(&r, e, p);
            if (o.verbose && !pr.running)
                fprintf(stderr, "%s: %s done\n", prog, p);
        }
    } else {
        for (unsigned i = 0; i < o.gen.generations; i++) {
            check(ddx_engine_stream_begin(e), "dataset");
            check(ddx_engine_feed(e, gens[i], gen_len[i]), "dataset");
            check(ddx_engine_stream_end(e), "dataset");
            if (per_stream || recp)
                check(ddx_engine_finish(e), "dataset");
            if (recp)
                recorder_stream_done(recp);
            if (per_stream) {
                char name[32];
                snprintf(name, sizeof name, "generation %u", i + 1);
                add_row(&r, e, name);
            }
        }
    }
    rc = ddx_engine_finish(e);
    progress_stop(&pr);
    check(rc, "pipeline");
    check(ddx_engine_get_stats(e, &r.st), "stats");
    if (recp)
        recorder_finish(recp, o.record_trace);
    r.chunk_impl = ddx_engine_chunker_impl(e);
    r.hash_impl = ddx_engine_hash_impl(e);
    r.backend = ddx_engine_backend(e);
    r.device = ddx_engine_device(e);
    time_t now = time(NULL);
    strftime(r.timestamp, sizeof r.timestamp, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));

    if (o.json)
        write_file(o.json, write_json, &r);
    if (o.csv)
        write_file(o.csv, write_csv, &r);
    int to_stdout = (o.json && !strcmp(o.json, "-")) || (o.csv && !strcmp(o.csv, "-"));
    print_report(to_stdout ? stderr : stdout, &r);

    ddx_engine_close(e);
    free(r.rows);
    if (gens) {
        for (unsigned i = 0; i < o.gen.generations; i++)
            free(gens[i]);
        free(gens);
        free(gen_len);
    }
    for (size_t i = 0; i < in.n; i++)
        free(in.v[i].path);
    free(in.v);
    return 0;
}

/* ---- plot: harness/ddx_plot.py (matplotlib) ------------------------------------- */

#ifndef DDX_PLOT_SCRIPT_SRC
#define DDX_PLOT_SCRIPT_SRC "harness/ddx_plot.py"
#endif

/* The plotting script: $DDX_PLOT_SCRIPT, else the installed copy beside the
 * executable (PREFIX/bin/../share/ddx), else the source tree's. */
static const char *plot_script(char *buf, size_t n)
{
    const char *env = getenv("DDX_PLOT_SCRIPT");
    if (env && *env)
        return env;
    char exe[PATH_MAX];
    ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (l > 0) {
        exe[l] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            snprintf(buf, n, "%.*s/../share/ddx/ddx_plot.py", (int)(n - 32), exe);
            if (access(buf, R_OK) == 0)
                return buf;
        }
    }
    return DDX_PLOT_SCRIPT_SRC;
}

static int cmd_plot(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        printf("usage: ddbench plot RESULTS... -o DIR [--formats png,svg]\n"
               "\n"
               "Draw the paper-style figures (results/README.md) from run reports\n"
               "(--json), sweep output (JSON Lines) and make microbench's JSON, as PNG\n"
               "and SVG in DIR. Runs harness/ddx_plot.py with python3 and matplotlib\n"
               "(make deps installs them); DDX_PYTHON and DDX_PLOT_SCRIPT override.\n");
        return argc < 2 ? EXIT_USAGE : 0;
    }
    char buf[PATH_MAX];
    const char *script = plot_script(buf, sizeof buf);
    if (access(script, R_OK) != 0)
        die(1, "plot: %s: %s (set DDX_PLOT_SCRIPT to harness/ddx_plot.py)", script,
            strerror(errno));
    const char *py = getenv("DDX_PYTHON");
    if (!py || !*py)
        py = "python3";
    char **args = calloc((size_t)argc + 2, sizeof *args);
    if (!args)
        die(1, "out of memory");
    args[0] = (char *)py;
    args[1] = (char *)script;
    for (int i = 1; i < argc; i++)
        args[i + 1] = argv[i];
    execvp(py, args);
    die(1, "plot: cannot run %s: %s", py, strerror(errno));
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("ddbench (ddx) %s\n", ddx_version_string());
        return 0;
    }
    if (!strcmp(argv[1], "run"))
        return cmd_run(argc - 1, argv + 1);
    if (!strcmp(argv[1], "sweep"))
        return ddbench_sweep(argc - 1, argv + 1);
    if (!strcmp(argv[1], "plot"))
        return cmd_plot(argc - 1, argv + 1);
    die(EXIT_USAGE, "unknown command '%s' (try --help)", argv[1]);
}
