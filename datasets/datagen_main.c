/*
 * datagen_main.c - ddx-datagen, the command-line face of datasets/datagen.h.
 *
 * Writes the generations either as DIR/gen-01.tar ... (one file per backup, the way a
 * backup tool would leave them) or concatenated on stdout (to pipe into a benchmark without
 * touching the disk). Exit status: 0 success, 1 I/O or generator error, 2 bad usage.
 */
#include "datagen.h"

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
    fprintf(out, "usage: " PROG " [--seed N] [--generations N] [--tree-bytes SIZE]\n"
                 "                   [--out DIR | --stdout] [--help]\n"
                 "\n"
                 "Deterministic backup generations: a file tree that changes a little between\n"
                 "backups, each generation written as a ustar archive (datasets/README.md).\n"
                 "\n"
                 "  --seed N          PRNG seed; the same seed gives the same bytes (default 1)\n"
                 "  --generations N   number of backups, N >= 1 (default 10)\n"
                 "  --tree-bytes SIZE approximate tree size, suffix K, M or G = 1024^1..3\n"
                 "                    (1M to 64G, default 64M)\n"
                 "  --out DIR         write DIR/gen-01.tar ... DIR/gen-NN.tar, creating DIR\n"
                 "  --stdout          write all generations, concatenated, to standard output\n"
                 "  --help            show this text\n");
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

int main(int argc, char **argv)
{
    ddx_gen_params p;
    ddx_gen_default_params(&p);
    const char *out_dir = NULL;
    int to_stdout = 0;

    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(opt, "--stdout") == 0) {
            to_stdout = 1;
            continue;
        }
        int known = strcmp(opt, "--seed") == 0 || strcmp(opt, "--generations") == 0 ||
                    strcmp(opt, "--tree-bytes") == 0 || strcmp(opt, "--out") == 0;
        if (!known) {
            fprintf(stderr, PROG ": %s: unknown option (try --help)\n", opt);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, PROG ": %s: expected a value, got nothing\n", opt);
            return 2;
        }
        const char *val = argv[++i];
        uint64_t v;
        const char *end;
        if (strcmp(opt, "--seed") == 0) {
            if (parse_u64(val, &v, &end) || *end)
                return bad(opt, "an unsigned integer", val);
            p.seed = v;
        } else if (strcmp(opt, "--generations") == 0) {
            if (parse_u64(val, &v, &end) || *end || v < 1 || v > UINT_MAX)
                return bad(opt, "a positive integer", val);
            p.generations = (unsigned)v;
        } else if (strcmp(opt, "--tree-bytes") == 0) {
            if (parse_size(val, &v) || v < DDX_GEN_MIN_TREE_BYTES || v > DDX_GEN_MAX_TREE_BYTES)
                return bad(opt, "a size from 1M to 64G (suffix K, M or G)", val);
            p.tree_bytes = v;
        } else {
            if (*val == '\0')
                return bad(opt, "a directory", val);
            out_dir = val;
        }
    }
    if (!out_dir == !to_stdout) {
        fprintf(stderr, PROG ": expected exactly one of --out DIR or --stdout (try --help)\n");
        return 2;
    }
    if (to_stdout && isatty(STDOUT_FILENO)) {
        fprintf(stderr, PROG ": --stdout: standard output is a terminal, redirect it\n");
        return 2;
    }
    if (out_dir && make_dir(out_dir) != 0) {
        fprintf(stderr, PROG ": %s: %s\n", out_dir, strerror(errno));
        return 1;
    }

    ddx_gen *g;
    if (ddx_gen_create(&g, &p) != 0) {
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
        if (to_stdout) {
            if (write_all(stdout, buf, len) != 0) {
                fprintf(stderr, PROG ": <stdout>: %s\n", strerror(errno));
                status = 1;
            }
        } else {
            char path[4200];
            snprintf(path, sizeof(path), "%s/gen-%02u.tar", out_dir, n);
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
    if (status == 0 && to_stdout && fflush(stdout) != 0) {
        fprintf(stderr, PROG ": <stdout>: %s\n", strerror(errno));
        status = 1;
    }
    ddx_gen_free(g);
    return status;
}
