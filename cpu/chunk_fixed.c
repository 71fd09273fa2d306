/*
 * chunk_fixed.c - fixed-size chunks of avg bytes; the last one of a stream
 * may be shorter.
 */
#include "chunk_impl.h"

size_t ddx_fixed_find(const ddx_chunk_cfg *cfg, const uint8_t *p, size_t n, int eof)
{
    (void)p;
    if (n >= cfg->avg_size)
        return cfg->avg_size;
    return eof ? n : 0;
}
