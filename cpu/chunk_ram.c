/*
 * chunk_ram.c - RAM, Rapid Asymmetric Maximum (Widodo et al., 2017), a
 * hashless content-defined chunker, portable C.
 *
 * Rule for a chunk starting at p, window W = cfg->ram_window:
 *   M = max(p[0 .. W-1]);
 *   the chunk ends after the first byte p[i], i >= W, with p[i] >= M
 *   (length i + 1); if there is none within max bytes, it is max bytes
 *   (or the rest of the stream).
 * Only the chunk's own bytes decide its end (chunk_impl.h). There is no hash
 * and the scan is a compare against a constant, which is why the vector
 * versions (chunk_ram_avx2.c, chunk_ram_avx512.c: VectorCDC's VRAM idea)
 * run at memory speed; they return exactly what this one returns.
 */
#include "chunk_impl.h"

size_t ddx_ram_find(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t n, int eof)
{
    size_t w = cfg->ram_window, max = cfg->max_size;
    size_t rem = n < max ? n : max;
    int complete = eof || n >= max;
    if (rem <= w)
        return complete ? rem : 0;
    uint8_t m = 0;
    for (size_t i = 0; i < w; i++)
        m = p[i] > m ? p[i] : m;
    for (size_t i = w; i < rem; i++)
        if (p[i] >= m)
            return i + 1;
    return complete ? rem : 0;
}
