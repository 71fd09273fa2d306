/*
 * datagen.c - the public API of datagen.h and the backup kind: generations of a slowly
 * changing file tree. The vm and lowdedup kinds live in datagen_vm.c and
 * datagen_lowdedup.c, the trace generator in datagen_trace.c; the PRNG and the text
 * vocabulary they share are in datagen_impl.h.
 *
 * Design. The tree is an array of files, each owning a realloc'd buffer with its current
 * contents. Generation 1 draws files until the tree reaches tree_bytes; each later
 * generation removes ~2% of the bytes, edits ~11% of the files and adds ~3% of the bytes
 * as new files, then the array is sorted by path and written out as a ustar archive. Only
 * the edits, the new files and the headers of touched files differ from the previous
 * generation, which is what makes the redundancy between generations realistic: a
 * content-defined chunker finds the unchanged stretches again at new offsets.
 *
 * Determinism. Every random decision comes, in a fixed order, from one xoshiro256** stream;
 * stores are explicitly little-endian; the size distribution is computed in fixed point
 * (2^x by linear interpolation) rather than with exp()/log(), whose last bits differ
 * between C libraries. qsort() is safe because paths are unique, so the order is total.
 *
 * Content. Four kinds, chosen per file, so that the first generation has almost no
 * internal duplication at chunk granularity (only the zero runs of sparse files repeat):
 *   text     words of a seeded vocabulary (Zipf-like pick), spaces, punctuation, newlines;
 *   media    uniformly random bytes, like compressed images or video;
 *   records  fixed-size records from a per-file template, with an increasing id, a
 *            timestamp, an amount, a status, a name and a varying word every 32 bytes, so
 *            every 64-byte window (the Gear hash's reach) holds bytes that change;
 *   sparse   random extents separated by zero runs, like a thin-provisioned disk image.
 * Edits respect the kind: records are edited in whole records, sparse images are
 * overwritten in 4 KiB blocks or grow at the end, text and media take any edit.
 */
#include "datagen.h"
#include "datagen_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- model constants ----------------------------------------------------------------- */

/* File sizes: log2(size) = SIZE_LOG2_MEDIAN + SIZE_LOG2_SPREAD * (Irwin-Hall(4) - 2), a
 * bounded stand-in for a log-normal with sigma ~2.3 bits: median 22 KiB, mean ~75 KiB,
 * extremes ~90 B and ~5.6 MiB, which is the shape of real home and project directories. */
#define SIZE_LOG2_MEDIAN_Q16 ((uint64_t)(14.43 * 65536)) /* log2(22 KiB) in 16.16 */
#define SIZE_LOG2_SPREAD 4                               /* 4 bits per unit of the sum */
#define SIZE_MIN 64
#define FILE_MAX ((size_t)64 << 20) /* beyond this, growing edits become overwrites */

/* Per-generation change rates, tuned so that ten default generations dedup ~5-8x with
 * 8 KiB content-defined chunks (datasets/README.md has the measurements). */
#define MODIFY_PERMILLE 110 /* chance that a file is edited in a generation */
#define ADD_PERCENT 3       /* new files, as a share of the tree's bytes */
#define REMOVE_PERCENT 2    /* removed files, as a share of the tree's bytes */

/* Time: generation 1 is taken at EPOCH, one generation per day after it; the files of the
 * first tree were last written during the two years before. */
#define EPOCH 1700000000u
#define DAY 86400u

#define VOCAB_WORDS DGEN_VOCAB_WORDS
#define DIR_SUBDIRS 8
#define DIR_FILES_EST 96 /* files per top-level directory, to size the tree's shape */
#define MEAN_FILE_EST (80 << 10)

#define TAR_BLOCK 512
#define PATH_MAX_LEN 100 /* ustar name field, NUL-terminated when shorter */

enum file_kind { KIND_TEXT, KIND_MEDIA, KIND_RECORDS, KIND_SPARSE };

enum edit_op { OP_INSERT, OP_DELETE, OP_OVERWRITE, OP_APPEND };

/* One file of the tree. */
typedef struct gen_file {
    char path[PATH_MAX_LEN]; /* "dirD/subS/fileNNNN.ext", unique for the generator's life */
    uint8_t *data;           /* current contents; data[0..size) */
    size_t size;             /* current length in bytes */
    size_t cap;              /* allocated length of data */
    uint64_t mtime;          /* seconds since 1970, changes when the file is written */
    uint64_t tmpl_seed;      /* records: seeds the per-file template, regenerated on use */
    uint64_t next_id;        /* records: id of the next record written */
    uint32_t ts;             /* records: timestamp of the last record written */
    uint32_t rec_size;       /* records: bytes per record (a multiple of 32) */
    enum file_kind kind;     /* decides content and the edits that make sense */
} gen_file;

struct ddx_gen {
    ddx_gen_params p;      /* validated copy */
    unsigned produced;     /* generations returned so far */
    int err;               /* errno of a failed next(): the state is suspect */
    dgen_vm *vm;           /* kind vm: its state (datagen_vm.c), else NULL */
    dgen_low *low;         /* kind lowdedup: its state (datagen_lowdedup.c), else NULL */
    uint64_t s[4];         /* backup: xoshiro256** state, every decision is drawn here */
    gen_file **files;      /* backup: the tree; sorted by path between generations */
    size_t nfiles;         /* files in use */
    size_t capfiles;       /* allocated slots in files */
    uint64_t bytes;        /* sum of file sizes */
    uint64_t next_file_no; /* numbers file names so they never repeat */
    unsigned ndirs;        /* top-level directories new files land in */
    dgen_vocab vocab;      /* words of text files and of record names */
};

/* ---- PRNG (datagen_impl.h): one stream per generator ---------------------------------- */

static inline uint64_t rng_next(uint64_t s[4])
{
    return dgen_next(s);
}

static uint64_t splitmix64(uint64_t *x)
{
    return dgen_splitmix64(x);
}

static uint64_t rand_below(ddx_gen *g, uint64_t n)
{
    return dgen_below(g->s, n);
}

/* Log-uniform in [2^lo, 2^(hi+1)): "a few bytes to a few KiB" without a float in sight. */
static size_t rand_log2(ddx_gen *g, unsigned lo, unsigned hi)
{
    return (size_t)dgen_log2(g->s, lo, hi);
}

static inline void store_le64(uint8_t *p, uint64_t v)
{
    dgen_store_le64(p, v);
}

static inline void store_le32(uint8_t *p, uint32_t v)
{
    dgen_store_le32(p, v);
}

/* ---- content ------------------------------------------------------------------------- */

static void fill_random(ddx_gen *g, uint8_t *dst, size_t n)
{
    dgen_fill_random(g->s, dst, n);
}

/* Letters weighted roughly like English, so text looks like text to a compressor too. */
static const char LETTERS[64] = "eeeeeeeetttttaaaaaooooiiiinnnnssssshhhrrrrddllluuccmmwffgypbvkjx";

void dgen_vocab_make(dgen_vocab *v, uint64_t s[4])
{
    for (unsigned w = 0; w < DGEN_VOCAB_WORDS; w++) {
        uint64_t r = dgen_next(s);
        unsigned len = 1 + (unsigned)(r % 4) + (unsigned)((r >> 2) % 4) + (unsigned)((r >> 4) % 5);
        r >>= 8;
        for (unsigned i = 0; i < len; i++, r >>= 6)
            v->words[w][i] = LETTERS[r & 63];
        v->len[w] = (uint8_t)len;
    }
}

/* Words from the vocabulary; the product of two uniform 12-bit draws favours low indices,
 * a cheap Zipf-like skew. One draw per word: 24 bits pick it, 8 bits pick what follows. */
void dgen_fill_text(const dgen_vocab *v, uint64_t s[4], uint8_t *dst, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint64_t r = dgen_next(s);
        unsigned w = (unsigned)(((r & 4095) * ((r >> 12) & 4095)) >> 12);
        unsigned sep = (unsigned)(r >> 24) & 255;
        char tail[2];
        size_t tlen;
        if (sep < 24) {
            tail[0] = '\n';
            tlen = 1;
        } else if (sep < 40) {
            memcpy(tail, ". ", 2);
            tlen = 2;
        } else if (sep < 52) {
            memcpy(tail, ", ", 2);
            tlen = 2;
        } else {
            tail[0] = ' ';
            tlen = 1;
        }
        size_t wl = v->len[w];
        if (wl > n - i)
            wl = n - i;
        memcpy(dst + i, v->words[w], wl);
        i += wl;
        if (tlen > n - i)
            tlen = n - i;
        memcpy(dst + i, tail, tlen);
        i += tlen;
    }
}

static void fill_text(ddx_gen *g, uint8_t *dst, size_t n)
{
    dgen_fill_text(&g->vocab, g->s, dst, n);
}

/* Whole records; n is a multiple of f->rec_size. The template is regenerated from its seed
 * rather than stored, to keep per-file state small for million-file trees. */
static void fill_records(ddx_gen *g, gen_file *f, uint8_t *dst, size_t n)
{
    static const uint8_t STATUS[4] = {'A', 'P', 'C', 'X'};
    uint8_t tmpl[256];
    uint64_t ts = f->tmpl_seed;
    for (unsigned i = 0; i < f->rec_size; i += 8) {
        uint64_t r = splitmix64(&ts);
        /* Mostly zeros and a few ASCII constants: column padding and type tags. */
        for (unsigned j = 0; j < 8; j++, r >>= 8)
            tmpl[i + j] = (r & 0x80) ? 0 : (uint8_t)(0x41 + (r & 0x1f));
    }
    for (size_t off = 0; off < n; off += f->rec_size) {
        uint8_t *rec = dst + off;
        memcpy(rec, tmpl, f->rec_size);
        uint64_t r = rng_next(g->s);
        f->ts += (uint32_t)(r & 63);
        store_le64(rec, f->next_id++);
        store_le32(rec + 8, f->ts);
        store_le32(rec + 12, (uint32_t)(r >> 32) & 0xfffff); /* an amount in cents */
        rec[16] = STATUS[(r >> 6) & 3];
        unsigned w = (unsigned)((r >> 8) & (VOCAB_WORDS - 1));
        size_t wl = g->vocab.len[w] < 12 ? g->vocab.len[w] : 11;
        memcpy(rec + 20, g->vocab.words[w], wl);
        memset(rec + 20 + wl, 0, 12 - wl);
        for (unsigned k = 32; k < f->rec_size; k += 32) {
            if ((k & 127) == 32)
                r = rng_next(g->s);
            store_le32(rec + k + 24, (uint32_t)(r & 0xffff));
            r >>= 16;
        }
    }
}

/* Alternating random extents (4 KiB - 512 KiB) and zero runs (8 KiB - 512 KiB), 4 KiB
 * aligned within the write; zeros are ~35% of the bytes. */
static void fill_sparse(ddx_gen *g, uint8_t *dst, size_t n)
{
    size_t i = 0;
    int zero = 0;
    while (i < n) {
        size_t run = zero ? rand_log2(g, 13, 18) : rand_log2(g, 12, 18);
        run &= ~(size_t)4095;
        if (run > n - i)
            run = n - i;
        if (zero)
            memset(dst + i, 0, run);
        else
            fill_random(g, dst + i, run);
        i += run;
        zero = !zero;
    }
}

static void fill_content(ddx_gen *g, gen_file *f, uint8_t *dst, size_t n)
{
    switch (f->kind) {
    case KIND_TEXT:
        fill_text(g, dst, n);
        break;
    case KIND_MEDIA:
        fill_random(g, dst, n);
        break;
    case KIND_RECORDS:
        fill_records(g, f, dst, n);
        break;
    case KIND_SPARSE:
        fill_sparse(g, dst, n);
        break;
    }
}

/* ---- files --------------------------------------------------------------------------- */

/* A file size from the bounded log-normal model, in fixed point: the 16-bit fraction of
 * log2 is turned into 2^f by linear interpolation (at most 6% high), good enough for sizes. */
static size_t draw_size(ddx_gen *g)
{
    uint64_t r = rng_next(g->s);
    int64_t sum = (int64_t)(r & 0xffff) + (int64_t)((r >> 16) & 0xffff) +
                  (int64_t)((r >> 32) & 0xffff) + (int64_t)(r >> 48);
    int64_t l2 = (int64_t)SIZE_LOG2_MEDIAN_Q16 + (sum - 2 * 65536) * SIZE_LOG2_SPREAD;
    unsigned ip = (unsigned)(l2 >> 16);
    uint64_t frac = (uint64_t)l2 & 0xffff;
    uint64_t size = ((uint64_t)1 << ip) + ((((uint64_t)1 << ip) * frac) >> 16);
    return size < SIZE_MIN ? SIZE_MIN : (size_t)size;
}

static int file_reserve(gen_file *f, size_t need)
{
    if (need <= f->cap)
        return 0;
    size_t cap = f->cap + f->cap / 4 + 4096;
    if (cap < need)
        cap = need;
    uint8_t *p = realloc(f->data, cap);
    if (!p)
        return -1;
    f->data = p;
    f->cap = cap;
    return 0;
}

static void file_free(gen_file *f)
{
    if (f) {
        free(f->data);
        free(f);
    }
}

/* A new file of about `size` bytes (rounded down to whole records, at least one), written
 * at `mtime`, appended to the tree's array (the caller sorts). */
static int add_file(ddx_gen *g, size_t size, uint64_t mtime)
{
    static const char *const EXT[4][4] = {
        {"txt", "log", "c", "md"},
        {"jpg", "gz", "mp4", "png"},
        {"db", "dat", "idx", "csv"},
        {"img", "vdi", "qcow2", "raw"},
    };
    if (g->nfiles == g->capfiles) {
        size_t cap = g->capfiles ? g->capfiles * 2 : 1024;
        gen_file **p = realloc(g->files, cap * sizeof(*p));
        if (!p)
            return -1;
        g->files = p;
        g->capfiles = cap;
    }
    gen_file *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    uint64_t r = rng_next(g->s);
    unsigned k = (unsigned)(r % 100);
    /* 40% text, 25% media, 20% records, 15% sparse, by file (sizes do not depend on kind). */
    f->kind = k < 40 ? KIND_TEXT : k < 65 ? KIND_MEDIA : k < 85 ? KIND_RECORDS : KIND_SPARSE;
    unsigned dir = (unsigned)((r >> 8) % g->ndirs);
    unsigned sub = (unsigned)((r >> 40) % DIR_SUBDIRS);
    snprintf(f->path, sizeof(f->path), "dir%u/sub%u/file%04" PRIu64 ".%s", dir, sub,
             g->next_file_no++, EXT[f->kind][(r >> 60) & 3]);
    f->mtime = mtime;
    if (f->kind == KIND_RECORDS) {
        static const uint32_t REC[4] = {32, 64, 128, 256};
        f->rec_size = REC[(r >> 50) & 3];
        f->tmpl_seed = rng_next(g->s);
        f->next_id = 1;
        f->ts = (uint32_t)(mtime - 30 * DAY);
        size -= size % f->rec_size;
        if (size == 0)
            size = f->rec_size;
    }
    f->data = malloc(size ? size : 1);
    if (!f->data) {
        free(f);
        return -1;
    }
    f->cap = size ? size : 1;
    f->size = size;
    fill_content(g, f, f->data, size);
    g->files[g->nfiles++] = f;
    g->bytes += size;
    return 0;
}

static int cmp_path(const void *a, const void *b)
{
    const gen_file *fa = *(const gen_file *const *)a, *fb = *(const gen_file *const *)b;
    return strcmp(fa->path, fb->path);
}

/* ---- one edit ------------------------------------------------------------------------ */

/* Which edits each kind takes, in percent: insert, delete, overwrite (append is the rest).
 * Logs and documents grow; media gets tag rewrites; databases update rows in place. */
static const uint8_t EDIT_MIX[4][3] = {
    [KIND_TEXT] = {35, 20, 15},
    [KIND_MEDIA] = {20, 10, 50},
    [KIND_RECORDS] = {10, 10, 50},
    [KIND_SPARSE] = {0, 0, 80},
};

static int edit_file(ddx_gen *g, gen_file *f)
{
    const uint8_t *mix = EDIT_MIX[f->kind];
    unsigned p = (unsigned)rand_below(g, 100);
    unsigned ins = mix[0], del = ins + mix[1], ovw = del + mix[2];
    enum edit_op op = p < ins   ? OP_INSERT
                      : p < del ? OP_DELETE
                      : p < ovw ? OP_OVERWRITE
                                : OP_APPEND;
    /* A few bytes to a few KiB; appends a little more (a day of log lines). */
    size_t n = op == OP_APPEND ? rand_log2(g, 4, 14) : rand_log2(g, 0, 12);
    size_t unit = 1;
    if (f->kind == KIND_RECORDS)
        unit = f->rec_size;
    else if (f->kind == KIND_SPARSE)
        unit = 4096;
    n = (n + unit - 1) / unit * unit;
    if ((op == OP_INSERT || op == OP_APPEND) && f->size + n > FILE_MAX)
        op = OP_OVERWRITE;
    if (f->size == 0 && (op == OP_DELETE || op == OP_OVERWRITE))
        op = OP_APPEND;

    size_t units = f->size / unit;
    size_t pos;
    switch (op) {
    case OP_INSERT:
        pos = (size_t)rand_below(g, units + 1) * unit;
        if (file_reserve(f, f->size + n))
            return -1;
        memmove(f->data + pos + n, f->data + pos, f->size - pos);
        fill_content(g, f, f->data + pos, n);
        f->size += n;
        g->bytes += n;
        break;
    case OP_DELETE:
        pos = (size_t)rand_below(g, units ? units : 1) * unit;
        if (n > f->size - pos)
            n = f->size - pos;
        memmove(f->data + pos, f->data + pos + n, f->size - pos - n);
        f->size -= n;
        g->bytes -= n;
        break;
    case OP_OVERWRITE:
        pos = (size_t)rand_below(g, units ? units : 1) * unit;
        if (n > f->size - pos)
            n = f->size - pos;
        fill_content(g, f, f->data + pos, n);
        break;
    case OP_APPEND:
        if (file_reserve(f, f->size + n))
            return -1;
        fill_content(g, f, f->data + f->size, n);
        f->size += n;
        g->bytes += n;
        break;
    }
    return 0;
}

/* ---- generations --------------------------------------------------------------------- */

static int build_initial(ddx_gen *g)
{
    dgen_vocab_make(&g->vocab, g->s);
    uint64_t est = g->p.tree_bytes / MEAN_FILE_EST;
    g->ndirs = est / DIR_FILES_EST < 4 ? 4 : (unsigned)(est / DIR_FILES_EST);
    while (g->bytes < g->p.tree_bytes) {
        size_t size = draw_size(g);
        if (size > g->p.tree_bytes - g->bytes)
            size = (size_t)(g->p.tree_bytes - g->bytes);
        uint64_t mtime = EPOCH - rand_below(g, 730 * (uint64_t)DAY);
        if (add_file(g, size, mtime))
            return -1;
    }
    return 0;
}

/* Remove ~REMOVE_PERCENT of the bytes, edit ~MODIFY_PERMILLE of the files, add
 * ~ADD_PERCENT of the bytes; `day` is the generation's offset from EPOCH in days. */
static int mutate(ddx_gen *g, uint64_t day)
{
    uint64_t base = EPOCH + day * DAY;

    /* Removals: random victims, skipping any that would overshoot the budget by more than a
     * quarter, so one multi-MiB file cannot dominate; attempts are bounded for tiny trees. */
    uint64_t budget = g->bytes * REMOVE_PERCENT / 100, removed = 0;
    for (size_t tries = 0; removed < budget && g->nfiles > 1 && tries < 64 + g->nfiles; tries++) {
        size_t i = (size_t)rand_below(g, g->nfiles);
        gen_file *f = g->files[i];
        if (f->size > budget - removed + budget / 4)
            continue;
        removed += f->size;
        g->bytes -= f->size;
        file_free(f);
        g->files[i] = g->files[--g->nfiles];
    }

    /* Edits: one to three per chosen file, mostly one. */
    for (size_t i = 0; i < g->nfiles; i++) {
        if (rand_below(g, 1000) >= MODIFY_PERMILLE)
            continue;
        gen_file *f = g->files[i];
        unsigned r = (unsigned)rand_below(g, 10);
        unsigned edits = r < 6 ? 1 : r < 9 ? 2 : 3;
        for (unsigned e = 0; e < edits; e++)
            if (edit_file(g, f))
                return -1;
        f->mtime = base + rand_below(g, DAY);
    }

    /* Additions: new files from the same size model, the last one trimmed to the budget. */
    uint64_t add = g->bytes * ADD_PERCENT / 100, added = 0;
    while (added + SIZE_MIN <= add) {
        size_t size = draw_size(g);
        if (size > add - added)
            size = (size_t)(add - added);
        uint64_t before = g->bytes;
        if (add_file(g, size, base + rand_below(g, DAY)))
            return -1;
        added += g->bytes - before;
    }
    return 0;
}

/* Octal, zero-padded to width-1 digits and NUL-terminated, as ustar numeric fields are. */
static void tar_octal(uint8_t *dst, size_t width, uint64_t v)
{
    dst[width - 1] = 0;
    for (size_t i = width - 1; i-- > 0; v >>= 3)
        dst[i] = (uint8_t)('0' + (v & 7));
}

/* A ustar header, so `tar -tvf` can list a generation; no directory entries (tar does not
 * need them) and fixed owner, mode and type, so a header changes only with size or mtime. */
static void tar_header(uint8_t *h, const gen_file *f)
{
    memset(h, 0, TAR_BLOCK);
    memcpy(h, f->path, strlen(f->path));
    memcpy(h + 100, "0000644", 8);
    memcpy(h + 108, "0001750", 8);
    memcpy(h + 116, "0001750", 8);
    tar_octal(h + 124, 12, f->size);
    tar_octal(h + 136, 12, f->mtime);
    h[156] = '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memcpy(h + 265, "ddx", 3);
    memcpy(h + 297, "ddx", 3);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (size_t i = 0; i < TAR_BLOCK; i++)
        sum += h[i];
    tar_octal(h + 148, 7, sum);
    h[155] = ' ';
}

static int serialize(const ddx_gen *g, uint8_t **buf, size_t *len)
{
    uint64_t total = 2 * TAR_BLOCK; /* the end-of-archive marker */
    for (size_t i = 0; i < g->nfiles; i++)
        total += TAR_BLOCK + (g->files[i]->size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
    if (total > SIZE_MAX) {
        errno = EOVERFLOW;
        return -1;
    }
    uint8_t *out = malloc((size_t)total);
    if (!out)
        return -1;
    uint8_t *p = out;
    for (size_t i = 0; i < g->nfiles; i++) {
        const gen_file *f = g->files[i];
        tar_header(p, f);
        p += TAR_BLOCK;
        memcpy(p, f->data, f->size);
        size_t pad = (TAR_BLOCK - f->size % TAR_BLOCK) % TAR_BLOCK;
        memset(p + f->size, 0, pad);
        p += f->size + pad;
    }
    memset(p, 0, 2 * TAR_BLOCK);
    *buf = out;
    *len = (size_t)total;
    return 0;
}

/* ---- public API ---------------------------------------------------------------------- */

void ddx_gen_default_params(ddx_gen_params *p)
{
    p->seed = 1;
    p->generations = 10;
    p->tree_bytes = (uint64_t)64 << 20;
    p->kind = DDX_GEN_BACKUP;
    p->gen_bytes = (uint64_t)64 << 20;
    p->share_permille = 20;
}

static const char *const KIND_NAME[] = {
    [DDX_GEN_BACKUP] = "backup",
    [DDX_GEN_VM] = "vm",
    [DDX_GEN_LOWDEDUP] = "lowdedup",
};

const char *ddx_gen_kind_name(ddx_gen_kind k)
{
    return (unsigned)k < sizeof(KIND_NAME) / sizeof(KIND_NAME[0]) ? KIND_NAME[k] : NULL;
}

int ddx_gen_kind_from_name(const char *name, ddx_gen_kind *out)
{
    for (unsigned k = 0; name && k < sizeof(KIND_NAME) / sizeof(KIND_NAME[0]); k++) {
        if (strcmp(name, KIND_NAME[k]) == 0) {
            *out = (ddx_gen_kind)k;
            return 0;
        }
    }
    return -1;
}

static int params_valid(const ddx_gen_params *p)
{
    if (p->generations < 1)
        return 0;
    switch (p->kind) {
    case DDX_GEN_BACKUP:
        return p->tree_bytes >= DDX_GEN_MIN_TREE_BYTES && p->tree_bytes <= DDX_GEN_MAX_TREE_BYTES;
    case DDX_GEN_VM:
    case DDX_GEN_LOWDEDUP:
        if (p->gen_bytes < DDX_GEN_MIN_GEN_BYTES || p->gen_bytes > DDX_GEN_MAX_GEN_BYTES ||
            p->gen_bytes % DDX_GEN_BLOCK != 0 || p->gen_bytes > SIZE_MAX)
            return 0;
        return p->kind == DDX_GEN_VM || p->share_permille <= DDX_GEN_MAX_SHARE_PERMILLE;
    }
    return 0;
}

int ddx_gen_create(ddx_gen **out, const ddx_gen_params *p)
{
    if (!out || !p || !params_valid(p)) {
        errno = EINVAL;
        return -1;
    }
    ddx_gen *g = calloc(1, sizeof(*g));
    if (!g)
        return -1;
    g->p = *p;
    int rc = 0;
    if (p->kind == DDX_GEN_VM)
        rc = dgen_vm_create(&g->vm, p);
    else if (p->kind == DDX_GEN_LOWDEDUP)
        rc = dgen_low_create(&g->low, p);
    else
        dgen_seed(g->s, p->seed);
    if (rc) {
        free(g);
        return -1;
    }
    *out = g;
    return 0;
}

static int backup_next(ddx_gen *g, uint8_t **buf, size_t *len)
{
    int rc = g->produced == 0 ? build_initial(g) : mutate(g, g->produced);
    if (rc == 0) {
        qsort(g->files, g->nfiles, sizeof(*g->files), cmp_path);
        rc = serialize(g, buf, len);
    }
    return rc;
}

int ddx_gen_next(ddx_gen *g, uint8_t **buf, size_t *len)
{
    if (!g || !buf || !len) {
        errno = EINVAL;
        return -1;
    }
    *buf = NULL;
    *len = 0;
    if (g->err) {
        errno = g->err;
        return -1;
    }
    if (g->produced >= g->p.generations)
        return 0;
    errno = 0;
    int rc = g->vm    ? dgen_vm_next(g->vm, buf, len)
             : g->low ? dgen_low_next(g->low, buf, len)
                      : backup_next(g, buf, len);
    if (rc) {
        g->err = errno ? errno : ENOMEM;
        errno = g->err;
        return -1;
    }
    g->produced++;
    return 1;
}

void ddx_gen_free(ddx_gen *g)
{
    if (!g)
        return;
    dgen_vm_free(g->vm);
    dgen_low_free(g->low);
    for (size_t i = 0; i < g->nfiles; i++)
        file_free(g->files[i]);
    free(g->files);
    free(g);
}

/* The largest binary unit that divides v exactly, so "64 MiB" rather than "65536 KiB". */
void dgen_format_size(char *buf, size_t len, uint64_t v)
{
    static const char *const UNIT[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    unsigned u = 0;
    while (u < 4 && v >= 1024 && v % 1024 == 0) {
        v /= 1024;
        u++;
    }
    snprintf(buf, len, "%" PRIu64 " %s", v, UNIT[u]);
}

void ddx_gen_describe(const ddx_gen_params *p, char *buf, size_t len)
{
    if (!buf || len == 0)
        return;
    char size[32];
    const char *plural = p->generations == 1 ? "" : "s";
    switch (p->kind) {
    case DDX_GEN_VM:
        dgen_format_size(size, sizeof(size), p->gen_bytes);
        snprintf(buf, len, "vm: %u image%s of %s, seed %" PRIu64, p->generations, plural, size,
                 p->seed);
        break;
    case DDX_GEN_LOWDEDUP:
        dgen_format_size(size, sizeof(size), p->gen_bytes);
        snprintf(buf, len, "lowdedup: %u generation%s of %s, %u.%u%% shared, seed %" PRIu64,
                 p->generations, plural, size, p->share_permille / 10, p->share_permille % 10,
                 p->seed);
        break;
    default:
        dgen_format_size(size, sizeof(size), p->tree_bytes);
        snprintf(buf, len, "backup: %u generation%s of a %s tree, seed %" PRIu64, p->generations,
                 plural, size, p->seed);
        break;
    }
}
