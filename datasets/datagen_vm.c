/*
 * datagen_vm.c - the vm kind of datagen.h: same-size virtual machine disk images.
 *
 * Design. An image is an array of 64-bit block keys, one per 4 KiB block; the bytes of a
 * block are a pure function of its key (vm_fill_block), so cloning an image is copying its
 * key array (1/512 of its size) and an image is materialized only when it is returned.
 * Keys name what a block holds:
 *   0                      a zero block (free space of a thin-provisioned disk);
 *   LIB  | entry << 16 | j block j of pool entry `entry`: a library, binary or package
 *                          file, binary-like bytes; the same entry placed twice gives the
 *                          same blocks twice, which is where an image duplicates itself;
 *   TEXT | n               configuration and log text (words of a seeded vocabulary);
 *   DATA | n               unique data (caches, compressed archives): random bytes.
 * n counts up, so every TEXT and DATA block ever written is new.
 *
 * Generation 1, the base image, is laid out front to back as extents whose kinds keep to
 * BASE_SHARE (zeros ~35% of the blocks). Every later generation clones a parent (the
 * previous image 70%, the base 15%, one of the last VM_KEEP images 15%) and diverges:
 *   overwrites   OVERWRITE_PERMILLE of the blocks rewritten in place, in runs of 1-63
 *                blocks at random positions (70% data, 30% text);
 *   fills        FILL_PERMILLE of the blocks: new files written into zero runs;
 *   packages     PACKAGE_PERMILLE of the blocks: installs (a pool entry written into free
 *                space: half of them entries earlier generations added, so clones of one
 *                base that install the same update share it) and upgrades (a library
 *                extent replaced in place by a new entry of the same length);
 *   trims        as many blocks zeroed (deleted files discarded) as the three steps above
 *                turned from zero to non-zero, so the zero share stays where the base put it.
 *
 * Memory: the base and the last VM_KEEP images' key arrays, (VM_KEEP + 1) * 8 bytes per
 * 4 KiB block, plus the returned image.
 */
#include "datagen_impl.h"

#include <stdlib.h>
#include <string.h>

#define BLOCK DDX_GEN_BLOCK
#define VM_KEEP 8 /* recent images a clone may start from, besides the base */

/* Block keys: the type in the top four bits (0 is the zero block). */
enum key_type { T_ZERO, T_LIB, T_TEXT, T_DATA };
#define KEY_TYPE_SHIFT 60
#define KEY_LIB ((uint64_t)T_LIB << KEY_TYPE_SHIFT)
#define KEY_TEXT ((uint64_t)T_TEXT << KEY_TYPE_SHIFT)
#define KEY_DATA ((uint64_t)T_DATA << KEY_TYPE_SHIFT)
#define KEY_TYPE(k) ((enum key_type)((k) >> KEY_TYPE_SHIFT))
#define LIB_KEY(entry, j) (KEY_LIB | (uint64_t)(entry) << 16 | (uint64_t)(j))
#define LIB_J(k) ((k)&0xffff)

/* The base image, in percent of its blocks, by extent kind, and how often each kind is
 * picked for the next extent, in permille: share / mean extent length, normalized (the
 * mean lengths are ~85, ~47, 3 and ~47 blocks, see build_base). */
enum extent_kind { EXT_ZERO, EXT_LIB, EXT_TEXT, EXT_DATA, EXT_KINDS };
static const unsigned BASE_SHARE[EXT_KINDS] = {
    [EXT_ZERO] = 35, /* free space */
    [EXT_LIB] = 42,  /* the OS and its packages, drawn from the pool */
    [EXT_TEXT] = 8,  /* /etc, logs */
    [EXT_DATA] = 15, /* caches, package archives, user data */
};
static const unsigned BASE_PICK[EXT_KINDS] = {
    [EXT_ZERO] = 96,
    [EXT_LIB] = 207,
    [EXT_TEXT] = 623,
    [EXT_DATA] = 74,
};

/* Per generation after the first, in permille of the image's blocks. */
#define OVERWRITE_PERMILLE 20
#define FILL_PERMILLE 10
#define PACKAGE_PERMILLE 15

/* Pool: one library-like entry per POOL_BLOCKS_PER_ENTRY blocks of the image at first
 * (at least POOL_MIN); entries are 1-255 blocks (log-uniform, mean ~48 blocks, ~190 KiB). */
#define POOL_BLOCKS_PER_ENTRY 64
#define POOL_MIN 32

struct dgen_vm {
    uint64_t s[4];           /* xoshiro256**: every layout decision is drawn here */
    uint64_t salt;           /* mixed into every block key before it seeds the block's bytes */
    size_t nblocks;          /* blocks per image */
    unsigned produced;       /* images returned so far */
    uint64_t *base;          /* key array of image 1, the base */
    uint64_t *ring[VM_KEEP]; /* the last VM_KEEP images: image k (0-based) at ring[k % 8] */
    uint64_t *cur;           /* the image being built (then swapped into the ring) */
    uint16_t *pool_len;      /* pool entry lengths in blocks */
    uint64_t npool;          /* entries in the pool */
    uint64_t pool_cap;       /* allocated entries */
    uint64_t npool_base;     /* entries that existed before generation 2 */
    uint64_t next_n;         /* numbers TEXT and DATA blocks: never reused */
    dgen_vocab vocab;        /* words of TEXT blocks */
};

/* ---- block contents ----------------------------------------------------------------- */

/* Binary-like: a quarter of the words keep only their low 32 bits, a quarter only the low
 * 16 bits of each half (small constants, offsets, short opcodes), the rest are random. */
static void fill_binary(uint64_t s[4], uint8_t *dst)
{
    for (size_t i = 0; i < BLOCK; i += 8) {
        uint64_t r = dgen_next(s);
        if ((r & 3) == 0)
            r &= 0x00000000ffffffffull;
        else if ((r & 3) == 1)
            r &= 0x0000ffff0000ffffull;
        dgen_store_le64(dst + i, r);
    }
}

static void vm_fill_block(const dgen_vm *v, uint64_t key, uint8_t *dst)
{
    if (key == 0) {
        memset(dst, 0, BLOCK);
        return;
    }
    uint64_t s[4];
    dgen_seed(s, v->salt ^ key);
    switch (KEY_TYPE(key)) {
    case T_LIB:
        fill_binary(s, dst);
        break;
    case T_TEXT:
        dgen_fill_text(&v->vocab, s, dst, BLOCK);
        break;
    default:
        dgen_fill_random(s, dst, BLOCK);
        break;
    }
}

/* ---- the pool ----------------------------------------------------------------------- */

static int pool_add(dgen_vm *v, uint16_t len)
{
    if (v->npool == v->pool_cap) {
        uint64_t cap = v->pool_cap ? v->pool_cap * 2 : 256;
        uint16_t *p = realloc(v->pool_len, cap * sizeof(*p));
        if (!p)
            return -1;
        v->pool_len = p;
        v->pool_cap = cap;
    }
    v->pool_len[v->npool++] = len;
    return 0;
}

static uint16_t draw_entry_len(dgen_vm *v)
{
    return (uint16_t)dgen_log2(v->s, 0, 7);
}

/* A base entry with a Zipf-like skew (product of two uniforms): libc is in every image
 * several times over, most packages once or never. */
static uint64_t pick_base_entry(dgen_vm *v)
{
    uint64_t n = v->npool_base;
    return dgen_below(v->s, n) * dgen_below(v->s, n) / n;
}

/* ---- writing extents ---------------------------------------------------------------- */

/* Write `len` blocks at `pos` (clipped to the image) from `kind`; returns how many zero
 * blocks became non-zero. A LIB extent writes entry `entry` from its first block. */
static size_t put_extent(dgen_vm *v, uint64_t *img, size_t pos, size_t len, enum extent_kind kind,
                         uint64_t entry)
{
    if (len > v->nblocks - pos)
        len = v->nblocks - pos;
    size_t filled = 0;
    for (size_t i = 0; i < len; i++) {
        uint64_t key = 0;
        switch (kind) {
        case EXT_ZERO:
            break;
        case EXT_LIB:
            key = LIB_KEY(entry, i);
            break;
        case EXT_TEXT:
            key = KEY_TEXT | v->next_n++;
            break;
        default:
            key = KEY_DATA | v->next_n++;
            break;
        }
        filled += img[pos + i] == 0 && key != 0;
        img[pos + i] = key;
    }
    return filled;
}

static int build_base(dgen_vm *v, uint64_t *img)
{
    uint64_t n0 = v->nblocks / POOL_BLOCKS_PER_ENTRY;
    if (n0 < POOL_MIN)
        n0 = POOL_MIN;
    for (uint64_t i = 0; i < n0; i++)
        if (pool_add(v, draw_entry_len(v)))
            return -1;
    v->npool_base = n0;

    /* Extent kinds drawn with BASE_PICK, which gives BASE_SHARE of the blocks on average;
     * when a kind is more than `slack` blocks ahead of its share or another more than
     * `slack` behind, the kind furthest behind goes next, so the shares hold at any size. */
    size_t placed[EXT_KINDS] = {0}, pos = 0, slack = 8 + v->nblocks / 200;
    size_t cap = v->nblocks / 16; /* no extent dominates a small image */
    memset(img, 0, v->nblocks * sizeof(*img));
    while (pos < v->nblocks) {
        enum extent_kind behind = EXT_ZERO, k = EXT_ZERO;
        int64_t most = INT64_MIN;
        for (unsigned t = 0; t < EXT_KINDS; t++) {
            int64_t deficit = (int64_t)(BASE_SHARE[t] * pos) - (int64_t)(100 * placed[t]);
            if (deficit > most) {
                most = deficit;
                behind = (enum extent_kind)t;
            }
        }
        unsigned pick = (unsigned)dgen_below(v->s, 1000), acc = 0;
        for (unsigned t = 0; t < EXT_KINDS; t++) {
            acc += BASE_PICK[t];
            if (pick < acc) {
                k = (enum extent_kind)t;
                break;
            }
        }
        if (most > (int64_t)(100 * slack) || 100 * placed[k] > BASE_SHARE[k] * pos + 100 * slack)
            k = behind;
        size_t len;
        uint64_t entry = 0;
        switch (k) {
        case EXT_ZERO:
            len = (size_t)dgen_log2(v->s, 0, 8); /* 4 KiB - 2 MiB */
            break;
        case EXT_LIB:
            entry = pick_base_entry(v);
            len = v->pool_len[entry];
            break;
        case EXT_TEXT:
            len = (size_t)dgen_log2(v->s, 0, 2); /* 4 - 28 KiB */
            break;
        default:
            len = (size_t)dgen_log2(v->s, 0, 7); /* 4 KiB - 1 MiB */
            break;
        }
        if (len > cap)
            len = cap;
        if (len > v->nblocks - pos)
            len = v->nblocks - pos;
        put_extent(v, img, pos, len, k, entry);
        placed[k] += len;
        pos += len;
    }
    return 0;
}

/* The first block at or after `from` (wrapping) that is zero (want_zero) or not; returns
 * nblocks if there is none. */
static size_t scan(const dgen_vm *v, const uint64_t *img, size_t from, int want_zero)
{
    for (size_t i = 0; i < v->nblocks; i++) {
        size_t b = (from + i) % v->nblocks;
        if ((img[b] == 0) == want_zero)
            return b;
    }
    return v->nblocks;
}

/* How many blocks from pos on, at most max, are zero (want_zero) or not. */
static size_t run_of(const dgen_vm *v, const uint64_t *img, size_t pos, size_t max, int want_zero)
{
    size_t n = 0;
    while (n < max && pos + n < v->nblocks && (img[pos + n] == 0) == want_zero)
        n++;
    return n;
}

/* The start of a library extent at or after `from` (wrapping), or nblocks. */
static size_t scan_lib_start(const dgen_vm *v, const uint64_t *img, size_t from)
{
    for (size_t i = 0; i < v->nblocks; i++) {
        size_t b = (from + i) % v->nblocks;
        if (KEY_TYPE(img[b]) == T_LIB && LIB_J(img[b]) == 0)
            return b;
    }
    return v->nblocks;
}

/* Every try of a step writes at least one block or finds nothing to write; the bound on
 * tries only matters for images with no free space or no library left. */
#define MAX_TRIES(budget) (4 * (budget) + 64)

static int diverge(dgen_vm *v, uint64_t *img)
{
    size_t n = v->nblocks, filled = 0;

    /* In-place overwrites: files rewritten where they are. */
    size_t budget = n * OVERWRITE_PERMILLE / 1000, done = 0;
    for (size_t t = 0; done < budget && t < MAX_TRIES(budget); t++) {
        size_t pos = (size_t)dgen_below(v->s, n);
        size_t len = (size_t)dgen_log2(v->s, 0, 5);
        enum extent_kind k = dgen_below(v->s, 10) < 7 ? EXT_DATA : EXT_TEXT;
        if (len > budget - done)
            len = budget - done;
        if (len > n - pos)
            len = n - pos;
        filled += put_extent(v, img, pos, len, k, 0);
        done += len;
    }

    /* New files in free space. */
    budget = n * FILL_PERMILLE / 1000, done = 0;
    for (size_t t = 0; done < budget && t < MAX_TRIES(budget); t++) {
        size_t pos = scan(v, img, (size_t)dgen_below(v->s, n), 1);
        size_t want = (size_t)dgen_log2(v->s, 0, 6);
        enum extent_kind k = dgen_below(v->s, 10) < 8 ? EXT_DATA : EXT_TEXT;
        if (pos == n)
            break;
        if (want > budget - done)
            want = budget - done;
        size_t len = run_of(v, img, pos, want, 1);
        filled += put_extent(v, img, pos, len, k, 0);
        done += len;
    }

    /* Packages: installs into free space, upgrades in place. */
    budget = n * PACKAGE_PERMILLE / 1000, done = 0;
    for (size_t t = 0; done < budget && t < MAX_TRIES(budget); t++) {
        uint64_t r = dgen_next(v->s);
        size_t from = (size_t)dgen_below(v->s, n);
        if (r & 1) {
            /* Install: an entry another generation added (so clones share it) or a new
             * one, written from its first block into the zero run found. */
            uint64_t entry;
            if ((r & 2) && v->npool > v->npool_base) {
                entry = v->npool_base + dgen_below(v->s, v->npool - v->npool_base);
            } else {
                if (pool_add(v, draw_entry_len(v)))
                    return -1;
                entry = v->npool - 1;
            }
            size_t pos = scan(v, img, from, 1);
            if (pos == n)
                continue;
            size_t len = run_of(v, img, pos, v->pool_len[entry], 1);
            filled += put_extent(v, img, pos, len, EXT_LIB, entry);
            done += len;
        } else {
            /* Upgrade: a library extent replaced by a new version of the same length. */
            size_t pos = scan_lib_start(v, img, from);
            if (pos == n)
                continue;
            uint64_t old = (img[pos] >> 16) & ((1ull << 44) - 1);
            uint16_t len = v->pool_len[old];
            if (pool_add(v, len))
                return -1;
            size_t w = 0;
            uint64_t entry = v->npool - 1;
            while (w < len && pos + w < n && img[pos + w] == LIB_KEY(old, w))
                w++;
            filled += put_extent(v, img, pos, w, EXT_LIB, entry);
            done += w;
        }
    }

    /* Trims: as many non-zero blocks zeroed as zero blocks were filled above. */
    done = 0;
    for (size_t t = 0; done < filled && t < MAX_TRIES(filled); t++) {
        size_t pos = scan(v, img, (size_t)dgen_below(v->s, n), 0);
        size_t want = (size_t)dgen_log2(v->s, 0, 6);
        if (pos == n)
            break;
        if (want > filled - done)
            want = filled - done;
        size_t len = run_of(v, img, pos, want, 0);
        put_extent(v, img, pos, len, EXT_ZERO, 0);
        done += len;
    }
    return 0;
}

/* ---- the kind's entry points -------------------------------------------------------- */

int dgen_vm_create(dgen_vm **out, const ddx_gen_params *p)
{
    dgen_vm *v = calloc(1, sizeof(*v));
    if (!v)
        return -1;
    dgen_seed(v->s, p->seed);
    v->salt = dgen_next(v->s);
    dgen_vocab_make(&v->vocab, v->s);
    v->nblocks = (size_t)(p->gen_bytes / BLOCK);
    *out = v;
    return 0;
}

static uint64_t *keys_alloc(const dgen_vm *v)
{
    return malloc(v->nblocks * sizeof(uint64_t));
}

int dgen_vm_next(dgen_vm *v, uint8_t **buf, size_t *len)
{
    unsigned k = v->produced; /* 0-based index of the image being made */
    if (!v->cur && !(v->cur = keys_alloc(v)))
        return -1;
    uint64_t *img = v->cur;
    if (k == 0) {
        if (build_base(v, img))
            return -1;
    } else {
        unsigned r = (unsigned)dgen_below(v->s, 100);
        unsigned back = 1; /* the parent is image k - back (0-based indices) */
        unsigned keep = k < VM_KEEP ? k : VM_KEEP;
        if (r >= 70 && r < 85)
            back = k; /* the base */
        else if (r >= 85)
            back = 1 + (unsigned)dgen_below(v->s, keep);
        const uint64_t *parent = back == k ? v->base : v->ring[(k - back) % VM_KEEP];
        memcpy(img, parent, v->nblocks * sizeof(*img));
        if (diverge(v, img))
            return -1;
    }

    uint8_t *out = malloc(v->nblocks * (size_t)BLOCK);
    if (!out)
        return -1;
    for (size_t b = 0; b < v->nblocks; b++)
        vm_fill_block(v, img[b], out + b * BLOCK);

    /* Keep the keys: the base for ever, every image in the ring for VM_KEEP generations. */
    if (k == 0) {
        v->base = keys_alloc(v);
        if (!v->base) {
            free(out);
            return -1;
        }
        memcpy(v->base, img, v->nblocks * sizeof(*img));
    }
    v->cur = v->ring[k % VM_KEEP];
    v->ring[k % VM_KEEP] = img;
    v->produced++;
    *buf = out;
    *len = v->nblocks * (size_t)BLOCK;
    return 0;
}

void dgen_vm_free(dgen_vm *v)
{
    if (!v)
        return;
    free(v->base);
    for (unsigned i = 0; i < VM_KEEP; i++)
        free(v->ring[i]);
    free(v->cur);
    free(v->pool_len);
    free(v);
}
