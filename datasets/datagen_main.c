/*
 * datagen_main.c - ddx-datagen, the command-line face of datasets/datagen.h.
 *
 * The data kinds (backup, vm, lowdedup) are written either as DIR/gen-01.tar ... (one file
 * per generation, the way a backup tool or a hypervisor would leave them) or concatenated
 * on stdout (to pipe into a benchmark without touching the disk). The trace kind is written
 * through libddx's trace writer (ddx_trace_writer_*, engine/include/ddx.h), which needs a
 * path: it writes PATH.tmp and renames it over PATH when complete. Exit status: 0 success,
 * 1 I/O or generator error, 2 bad usage.
 */
#include "datagen.h"
#include "ddx.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROG "ddx-datagen"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: " PROG " [--kind backup|vm|lowdedup|trace] [--seed N] [kind options]\n"
            "                   (--out PATH | --stdout) [--help]\n"
            "\n"
            "Deterministic test data for deduplication (datasets/README.md):\n"
            "  backup    backups of a file tree that changes a little between them, each\n"
            "            generation a ustar archive (the default)\n"
            "  vm        VM disk images of one size: a base image, then clones that diverge\n"
            "  lowdedup  incompressible random data sharing a small fixed share (the control)\n"
            "  trace     a synthetic fingerprint trace (lengths and fingerprints, no data) in\n"
            "            ddx's binary trace format, for replaying many chunks through an index\n"
            "\n"
            "  --kind KIND         what to generate (default backup)\n"
            "  --seed N            PRNG seed; the same seed gives the same bytes (default 1)\n"
            "  --generations N     backup, vm, lowdedup: generations (images), N >= 1\n"
            "                      (default 10)\n"
            "  --tree-bytes SIZE   backup: approximate tree size, 1M to 64G (default 64M)\n"
            "  --gen-bytes SIZE    vm: image size; lowdedup: generation size; a multiple of\n"
            "                      4K, 1M to 64G (default 64M)\n"
            "  --share-permille N  lowdedup: blocks of each later generation copied from\n"
            "                      earlier ones, 0 to 1000 (default 20, i.e. 2%%)\n"
            "  --chunks N          trace: records, 1 to 10^12 (default 1000000)\n"
            "  --dup-ratio R       trace: chunks per distinct chunk, 1 to 1000, up to three\n"
            "                      decimals (default 4)\n"
            "  --avg SIZE          trace: mean chunk length, 64 to 8M; lengths stay within\n"
            "                      [avg/4, 8 avg] (default 8K)\n"
            "  --out PATH          backup, vm, lowdedup: write PATH/gen-01.EXT ... (tar, img,\n"
            "                      bin), creating the directory PATH; trace: the trace file\n"
            "  --stdout            backup, vm, lowdedup: write every generation, concatenated,\n"
            "                      to standard output\n"
            "  --help              show this text\n"
            "\n"
            "SIZE takes a suffix K, M or G (powers of 1024).\n");
}

static int bad(const char *opt, const char *expected, const char *got)
{
    fprintf(stderr, PROG ": %s: expected %s, got '%s'\n", opt, expected, got);
    return 2;
}

/* Whole decimal numbers only: strtoull alone would accept "-1", " 7" and "0x10". */
static int parse_u64(const char *s, uint64_t *v, const char **end)
{
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *e;
    unsigned long long x = strtoull(s, &e, 10);
    if (errno)
        return -1;
    *v = x;
    *end = e;
    return 0;
}

static int parse_size(const char *s, uint64_t *v)
{
    const char *e;
    if (parse_u64(s, v, &e))
        return -1;
    unsigned shift = 0;
    switch (*e) {
    case '\0':
        break;
    case 'K':
    case 'k':
        shift = 10;
        break;
    case 'M':
    case 'm':
        shift = 20;
        break;
    case 'G':
    case 'g':
        shift = 30;
        break;
    default:
        return -1;
    }
    if (shift && *++e != '\0')
        return -1;
    if (*v > (UINT64_MAX >> shift))
        return -1;
    *v <<= shift;
    return 0;
}

static int write_all(FILE *fp, const uint8_t *buf, size_t len)
{
    return fwrite(buf, 1, len, fp) == len ? 0 : -1;
}

/* mkdir -p for one level plus its parents; an existing directory is fine. */
static int make_dir(const char *dir)
{
    char path[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char c = path[i];
        path[i] = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return -1;
        path[i] = c;
    }
    struct stat st;
    if (stat(dir, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* A decimal ratio >= 1 with at most three decimals, in thousandths ("4", "2.5", "1.125"). */
static int parse_milli(const char *s, uint64_t *milli)
{
    uint64_t whole;
    const char *e;
    if (parse_u64(s, &whole, &e) || whole > DDX_GEN_TRACE_MAX_RATIO_MILLI / 1000)
        return -1;
    uint64_t frac = 0, scale = 100;
    if (*e == '.') {
        e++;
        if (*e < '0' || *e > '9')
            return -1;
        for (; *e >= '0' && *e <= '9'; e++, scale /= 10) {
            if (scale == 0)
                return -1;
            frac += (uint64_t)(*e - '0') * scale;
        }
    }
    if (*e)
        return -1;
    *milli = whole * 1000 + frac;
    return 0;
}

/* Options and the kinds that use them: one given to a kind that ignores it is an error,
 * since a silently ignored size or count gives other data than the user asked for. */
enum opt_id {
    OPT_KIND,
    OPT_SEED,
    OPT_GENERATIONS,
    OPT_TREE_BYTES,
    OPT_GEN_BYTES,
    OPT_SHARE,
    OPT_CHUNKS,
    OPT_DUP_RATIO,
    OPT_AVG,
    OPT_OUT,
    OPT_STDOUT,
    OPT_COUNT
};

#define K_BACKUP 1u
#define K_VM 2u
#define K_LOW 4u
#define K_TRACE 8u
#define K_DATA (K_BACKUP | K_VM | K_LOW)
#define K_ALL (K_DATA | K_TRACE)

static const struct {
    const char *name;
    unsigned kinds; /* K_* that use it */
    int has_value;
} OPTS[OPT_COUNT] = {
    [OPT_KIND] = {"--kind", K_ALL, 1},
    [OPT_SEED] = {"--seed", K_ALL, 1},
    [OPT_GENERATIONS] = {"--generations", K_DATA, 1},
    [OPT_TREE_BYTES] = {"--tree-bytes", K_BACKUP, 1},
    [OPT_GEN_BYTES] = {"--gen-bytes", K_VM | K_LOW, 1},
    [OPT_SHARE] = {"--share-permille", K_LOW, 1},
    [OPT_CHUNKS] = {"--chunks", K_TRACE, 1},
    [OPT_DUP_RATIO] = {"--dup-ratio", K_TRACE, 1},
    [OPT_AVG] = {"--avg", K_TRACE, 1},
    [OPT_OUT] = {"--out", K_ALL, 1},
    [OPT_STDOUT] = {"--stdout", K_DATA, 0},
};

/* Write the trace to path through libddx's writer; 0 or 1 (after one line on stderr). */
static int write_trace(const ddx_gen_trace_params *tp, const char *path)
{
    enum { BATCH = 4096 };
    ddx_gen_trace *t = NULL;
    ddx_gen_trace_rec *rec = malloc(BATCH * sizeof(*rec));
    ddx_chunk *c = calloc(BATCH, sizeof(*c));
    if (!rec || !c || ddx_gen_trace_create(&t, tp) != 0) {
        fprintf(stderr, PROG ": %s\n", strerror(errno ? errno : ENOMEM));
        free(rec);
        free(c);
        return 1;
    }
    char why[512] = "";
    ddx_trace_writer *w = NULL;
    /* "sha256": the fingerprints stand in for SHA-256 digests (same size, uniformly
     * distributed) so that a replay with ddx's default hash takes them as they are. */
    int rc = ddx_trace_writer_open(&w, path, "sha256", DDX_GEN_TRACE_FP_SIZE, why, sizeof(why));
    if (rc) {
        fprintf(stderr, PROG ": %s\n", why[0] ? why : ddx_strerror(rc));
        ddx_gen_trace_free(t);
        free(rec);
        free(c);
        return 1;
    }
    uint64_t offset = 0;
    size_t n;
    while (rc == 0 && (n = ddx_gen_trace_next(t, rec, BATCH)) > 0) {
        for (size_t i = 0; i < n; i++) {
            c[i].stream = 0;
            c[i].offset = offset;
            c[i].length = rec[i].length;
            c[i].is_new = !rec[i].is_dup;
            memcpy(c[i].fp, rec[i].fp, DDX_GEN_TRACE_FP_SIZE);
            offset += rec[i].length;
        }
        rc = ddx_trace_writer_add(w, c, n);
    }
    if (rc)
        ddx_trace_writer_abort(w);
    else
        rc = ddx_trace_writer_finish(w);
    if (rc)
        fprintf(stderr, PROG ": %s: %s\n", path, rc > 0 ? strerror(rc) : ddx_strerror(rc));
    ddx_gen_trace_free(t);
    free(rec);
    free(c);
    return rc ? 1 : 0;
}

/* Write every generation to out_dir/gen-NN.ext or to stdout; 0 or 1. */
static int write_generations(const ddx_gen_params *p, const char *out_dir)
{
    static const char *const EXT[] = {
        [DDX_GEN_BACKUP] = "tar", [DDX_GEN_VM] = "img", [DDX_GEN_LOWDEDUP] = "bin"};
    if (out_dir && make_dir(out_dir) != 0) {
        fprintf(stderr, PROG ": %s: %s\n", out_dir, strerror(errno));
        return 1;
    }
    ddx_gen *g;
    if (ddx_gen_create(&g, p) != 0) {
        fprintf(stderr, PROG ": %s\n", strerror(errno));
        return 1;
    }
    int status = 0;
    for (unsigned n = 1;; n++) {
        uint8_t *buf;
        size_t len;
        int rc = ddx_gen_next(g, &buf, &len);
        if (rc == 0)
            break;
        if (rc < 0) {
            fprintf(stderr, PROG ": generation %u: %s\n", n, strerror(errno));
            status = 1;
            break;
        }
        if (!out_dir) {
            if (write_all(stdout, buf, len) != 0) {
                fprintf(stderr, PROG ": <stdout>: %s\n", strerror(errno));
                status = 1;
            }
        } else {
            char path[4200];
            snprintf(path, sizeof(path), "%s/gen-%02u.%s", out_dir, n, EXT[p->kind]);
            FILE *fp = fopen(path, "wb");
            int err = fp ? write_all(fp, buf, len) : -1;
            int saved = errno;
            if (fp && fclose(fp) != 0 && err == 0) {
                err = -1;
                saved = errno;
            }
            if (err) {
                fprintf(stderr, PROG ": %s: %s\n", path, strerror(saved));
                status = 1;
            }
        }
        free(buf);
        if (status)
            break;
    }
    if (status == 0 && !out_dir && fflush(stdout) != 0) {
        fprintf(stderr, PROG ": <stdout>: %s\n", strerror(errno));
        status = 1;
    }
    ddx_gen_free(g);
    return status;
}

int main(int argc, char **argv)
{
    ddx_gen_params p;
    ddx_gen_default_params(&p);
    ddx_gen_trace_params tp;
    ddx_gen_trace_default_params(&tp);
    unsigned kind = K_BACKUP;
    const char *kind_name = "backup";
    const char *out = NULL;
    int to_stdout = 0;
    int given[OPT_COUNT] = {0};

    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        int id = -1;
        for (int k = 0; k < OPT_COUNT; k++)
            if (strcmp(opt, OPTS[k].name) == 0)
                id = k;
        if (id < 0) {
            fprintf(stderr, PROG ": %s: unknown option (try --help)\n", opt);
            return 2;
        }
        given[id] = 1;
        if (id == OPT_STDOUT) {
            to_stdout = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, PROG ": %s: expected a value, got nothing\n", opt);
            return 2;
        }
        const char *val = argv[++i];
        uint64_t v;
        const char *end;
        switch ((enum opt_id)id) {
        case OPT_KIND:
            if (strcmp(val, "trace") == 0) {
                kind = K_TRACE;
            } else if (ddx_gen_kind_from_name(val, &p.kind) == 0) {
                kind = p.kind == DDX_GEN_VM ? K_VM : p.kind == DDX_GEN_LOWDEDUP ? K_LOW : K_BACKUP;
            } else {
                return bad(opt, "backup, vm, lowdedup or trace", val);
            }
            kind_name = val;
            break;
        case OPT_SEED:
            if (parse_u64(val, &v, &end) || *end)
                return bad(opt, "an unsigned integer", val);
            p.seed = tp.seed = v;
            break;
        case OPT_GENERATIONS:
            if (parse_u64(val, &v, &end) || *end || v < 1 || v > UINT_MAX)
                return bad(opt, "a positive integer", val);
            p.generations = (unsigned)v;
            break;
        case OPT_TREE_BYTES:
            if (parse_size(val, &v) || v < DDX_GEN_MIN_TREE_BYTES || v > DDX_GEN_MAX_TREE_BYTES)
                return bad(opt, "a size from 1M to 64G (suffix K, M or G)", val);
            p.tree_bytes = v;
            break;
        case OPT_GEN_BYTES:
            if (parse_size(val, &v) || v < DDX_GEN_MIN_GEN_BYTES || v > DDX_GEN_MAX_GEN_BYTES ||
                v % DDX_GEN_BLOCK)
                return bad(opt, "a multiple of 4K from 1M to 64G (suffix K, M or G)", val);
            p.gen_bytes = v;
            break;
        case OPT_SHARE:
            if (parse_u64(val, &v, &end) || *end || v > DDX_GEN_MAX_SHARE_PERMILLE)
                return bad(opt, "an integer from 0 to 1000", val);
            p.share_permille = (unsigned)v;
            break;
        case OPT_CHUNKS:
            if (parse_u64(val, &v, &end) || *end || v < 1 || v > DDX_GEN_TRACE_MAX_CHUNKS)
                return bad(opt, "an integer from 1 to 10^12", val);
            tp.chunks = v;
            break;
        case OPT_DUP_RATIO:
            if (parse_milli(val, &v) || v < 1000 || v > DDX_GEN_TRACE_MAX_RATIO_MILLI)
                return bad(opt, "a number from 1 to 1000 with at most three decimals", val);
            tp.dup_ratio_milli = (uint32_t)v;
            break;
        case OPT_AVG:
            if (parse_size(val, &v) || v < DDX_GEN_TRACE_MIN_AVG || v > DDX_GEN_TRACE_MAX_AVG)
                return bad(opt, "a size from 64 to 8M (suffix K or M)", val);
            tp.avg = (uint32_t)v;
            break;
        case OPT_OUT:
            if (*val == '\0')
                return bad(opt, kind == K_TRACE ? "a file" : "a directory", val);
            out = val;
            break;
        case OPT_STDOUT:
        case OPT_COUNT:
            break;
        }
    }
    for (int k = 0; k < OPT_COUNT; k++) {
        if (given[k] && !(OPTS[k].kinds & kind)) {
            if (k == OPT_STDOUT)
                fprintf(stderr,
                        PROG ": --stdout: --kind trace is written through the trace writer, "
                             "which needs a path (PATH.tmp, then renamed): use --out FILE\n");
            else
                fprintf(stderr, PROG ": %s: not used by --kind %s (try --help)\n", OPTS[k].name,
                        kind_name);
            return 2;
        }
    }
    if (kind == K_TRACE) {
        if (!out) {
            fprintf(stderr, PROG ": --kind trace: expected --out FILE\n");
            return 2;
        }
        return write_trace(&tp, out);
    }
    if (!out == !to_stdout) {
        fprintf(stderr, PROG ": expected exactly one of --out DIR or --stdout (try --help)\n");
        return 2;
    }
    if (to_stdout && isatty(STDOUT_FILENO)) {
        fprintf(stderr, PROG ": --stdout: standard output is a terminal, redirect it\n");
        return 2;
    }
    return write_generations(&p, out);
}
