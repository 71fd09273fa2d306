/*
 * chunk_rabin.c - Rabin fingerprint chunking (LBFS style) and the rolling
 * Rabin fingerprint that TTTD shares.
 *
 * The fingerprint of a window of W = 48 bytes b_1..b_W is the polynomial
 * sum(b_k * x^(8(W-k))) mod P over GF(2), P the degree-63 polynomial
 * 0xbfe6b8a5bf378d83 (LBFS's; tests/test_chunkers.c proves it irreducible with
 * Ben-Or's test, so fingerprints of distinct windows collide only by chance).
 * Rolling one byte: remove the leaving byte's term (pop table), multiply by
 * x^8 and add the new byte, reducing the 8 bits pushed past degree 62 (push
 * table).
 *
 * The window restarts (all zero) at every chunk start and rolling begins
 * W bytes before the first position that may cut, so a chunk's cut point
 * depends only on its own bytes (see chunk_impl.h for why that matters).
 * Rule: chunk length L (min <= L <= max) ends a chunk when fp % D == D - 1,
 * D = avg - min, fp taken over the W bytes ending at byte L - 1; otherwise
 * the chunk is max bytes (or the rest of the stream). The expected length is
 * then about min + D = avg, before truncation at max.
 */
#include <pthread.h>

#include "chunk_impl.h"

#define W DDX_RABIN_WINDOW

uint64_t ddx_rabin_append_slow(uint64_t fp, uint8_t b)
{
    for (int k = 0; k < 8; k++) {
        fp <<= 1; /* degree 63 lands in bit 63 */
        if (fp >> 63)
            fp ^= DDX_RABIN_POLY;
    }
    return fp ^ b;
}

uint64_t ddx_rabin_slow(const uint8_t *p, size_t n)
{
    uint64_t fp = 0;
    for (size_t i = 0; i < n; i++)
        fp = ddx_rabin_append_slow(fp, p[i]);
    return fp;
}

/* v * x^k mod P, one bit at a time (table construction only). */
static uint64_t shift_mod(uint64_t v, unsigned k)
{
    while (k--) {
        v <<= 1;
        if (v >> 63)
            v ^= DDX_RABIN_POLY;
    }
    return v;
}

static uint64_t push_tab[256], pop_tab[256];
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;

static void tab_init(void)
{
    for (unsigned j = 0; j < 256; j++) {
        /* (fp << 8) leaves j's low bit in bit 63 and drops the rest; j * x^63
         * mod P replaces all eight, and (j << 63) cancels the stray bit. */
        push_tab[j] = shift_mod(j, 63) ^ ((uint64_t)j << 63);
        pop_tab[j] = shift_mod(j, 8 * (W - 1));
    }
}

void ddx_rabin_tables(const uint64_t **push, const uint64_t **pop)
{
    pthread_once(&tab_once, tab_init);
    *push = push_tab;
    *pop = pop_tab;
}

size_t ddx_rabin_find(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t n, int eof)
{
    size_t max = cfg->max_size, min = cfg->min_size;
    size_t rem = n < max ? n : max;
    int complete = eof || n >= max;
    if (rem < min)
        return complete ? rem : 0;
    const uint64_t *push = cfg->rabin_push, *pop = cfg->rabin_pop;
    uint64_t d = cfg->divisor, hit = d - 1;
    size_t i0 = min > W ? min - W : 0;
    uint64_t fp = 0;
    size_t i = i0;
    for (; i < min - 1; i++) {
        uint8_t out = i >= i0 + W ? p[i - W] : 0;
        fp ^= pop[out];
        fp = ((fp << 8) | p[i]) ^ push[fp >> 55];
    }
    for (; i < rem; i++) {
        uint8_t out = i >= i0 + W ? p[i - W] : 0;
        fp ^= pop[out];
        fp = ((fp << 8) | p[i]) ^ push[fp >> 55];
        if (fp % d == hit)
            return i + 1;
    }
    return complete ? rem : 0;
}
