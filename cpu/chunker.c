/*
 * chunker.c - chunker parameters (validation, precomputation) and the
 * streaming wrapper shared by every chunker.
 *
 * The wrapper scans the caller's buffer in place while whole chunks fit in
 * it, and copies only the undecided tail (< max bytes) into a carry buffer.
 * The carry is rescanned only once it holds max bytes or the stream ends, so
 * feeding one byte at a time costs O(n), not O(n * max).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chunk_impl.h"

/* fastcdc-rs and pyfastcdc: round(log2(avg)). */
static int log2_round(uint32_t v)
{
    return (int)floor(log2((double)v) + 0.5);
}

int ddx_chunk_cfg_init(ddx_chunk_cfg *cfg, ddx_chunker_kind kind, uint32_t min, uint32_t avg,
                       uint32_t max, int normalization, uint64_t seed, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = kind;
    cfg->normalization = normalization;
    cfg->seed = seed;
    if (kind == DDX_CHUNKER_FIXED) {
        if (avg < DDX_CHUNK_MIN_LIMIT || avg > DDX_CHUNK_MAX_LIMIT) {
            *why = "fixed chunk size (--avg) must be between 64 B and 64 MiB";
            return DDX_EINVAL;
        }
        cfg->min_size = cfg->avg_size = cfg->max_size = avg;
        cfg->find = ddx_fixed_find;
        cfg->impl = "fixed";
        return 0;
    }
    if (kind == DDX_CHUNKER_RAM) {
        /* window = avg - 256: on random bytes the window's maximum is 255
         * and a byte >= 255 follows after 256 bytes on average; real data
         * varies more (docs/design.md). min is the window; max as given. */
        if (avg < 512 || avg > DDX_CHUNK_MAX_LIMIT) {
            *why = "ram avg chunk size must be between 512 B and 64 MiB";
            return DDX_EINVAL;
        }
        if (max <= avg - 256 || max > DDX_CHUNK_MAX_LIMIT) {
            *why = "ram max chunk size must be above the window (avg - 256) and at most 64 MiB";
            return DDX_EINVAL;
        }
        cfg->ram_window = avg - 256;
        cfg->min_size = cfg->ram_window + 1;
        cfg->avg_size = avg;
        cfg->max_size = max;
        cfg->find = ddx_ram_find;
        cfg->impl = "ram-scalar";
        return 0;
    }
    if (kind != DDX_CHUNKER_RABIN && kind != DDX_CHUNKER_TTTD && kind != DDX_CHUNKER_FASTCDC) {
        *why = "unknown chunker";
        return DDX_EINVAL;
    }
    if (min < DDX_CHUNK_MIN_LIMIT) {
        *why = "min chunk size must be at least 64 bytes";
        return DDX_EINVAL;
    }
    if (max > DDX_CHUNK_MAX_LIMIT) {
        *why = "max chunk size must be at most 64 MiB";
        return DDX_EINVAL;
    }
    if (min > avg) {
        *why = "min chunk size must be <= avg";
        return DDX_EINVAL;
    }
    if (avg > max) {
        *why = "avg chunk size must be <= max";
        return DDX_EINVAL;
    }
    if (min == max) {
        *why = "min and max chunk size must differ (use --chunker fixed for equal sizes)";
        return DDX_EINVAL;
    }
    cfg->min_size = min;
    cfg->avg_size = avg;
    cfg->max_size = max;
    if (kind == DDX_CHUNKER_FASTCDC) {
        if (normalization < 0 || normalization > 3) {
            *why = "fastcdc normalization level must be 0..3";
            return DDX_EINVAL;
        }
        int bits = log2_round(avg);
        if (bits - normalization < 5 || bits + normalization > 25) {
            *why =
                "fastcdc avg size out of range for this normalization (256 B..16 MiB at level 1)";
            return DDX_EINVAL;
        }
        cfg->mask_s = ddx_fastcdc_masks[bits + normalization];
        cfg->mask_l = ddx_fastcdc_masks[bits - normalization];
        cfg->mask_s_ls = cfg->mask_s << 1;
        cfg->mask_l_ls = cfg->mask_l << 1;
        for (int i = 0; i < 256; i++) {
            cfg->gear[i] = ddx_fastcdc_gear[i] ^ seed;
            cfg->gear_ls[i] = cfg->gear[i] << 1;
        }
        cfg->find = ddx_fastcdc_find;
        cfg->impl = "fastcdc2020-scalar";
        return 0;
    }
    if (avg - min < 64) {
        *why = "avg - min must be at least 64 bytes for rabin and tttd (it is their divisor)";
        return DDX_EINVAL;
    }
    cfg->divisor = avg - min;
    cfg->backup_divisor = cfg->divisor / 2;
    ddx_rabin_tables(&cfg->rabin_push, &cfg->rabin_pop);
    cfg->find = kind == DDX_CHUNKER_RABIN ? ddx_rabin_find : ddx_tttd_find;
    cfg->impl = kind == DDX_CHUNKER_RABIN ? "rabin48-scalar" : "tttd-rabin48-scalar";
    return 0;
}

int ddx_chunker_init(ddx_chunker *c, const ddx_chunk_cfg *cfg, uint64_t start)
{
    c->cfg = cfg;
    c->start = start;
    c->carry_len = 0;
    c->carry = malloc(cfg->max_size);
    return c->carry ? 0 : DDX_ENOMEM;
}

void ddx_chunker_free(ddx_chunker *c)
{
    free(c->carry);
    c->carry = NULL;
}

size_t ddx_chunker_feed(ddx_chunker *c, const uint8_t *buf, size_t len, uint64_t *cuts, size_t cap,
                        size_t *used_out)
{
    const ddx_chunk_cfg *cfg = c->cfg;
    size_t max = cfg->max_size, used = 0, nc = 0;

    /* Undecided bytes from earlier feeds: fill the carry to max, decide. */
    while (c->carry_len > 0 && used < len && nc < cap) {
        size_t take = max - c->carry_len;
        if (take > len - used)
            take = len - used;
        memcpy(c->carry + c->carry_len, buf + used, take);
        c->carry_len += take;
        used += take;
        if (c->carry_len < max)
            break; /* input exhausted, still undecided */
        size_t l = cfg->find(cfg, c->carry, c->carry_len, 0);
        cuts[nc++] = c->start + l;
        c->start += l;
        size_t left = c->carry_len - l;
        if (left <= take) {
            /* What is left came from buf: go back to scanning it in place. */
            used -= left;
            c->carry_len = 0;
        } else {
            memmove(c->carry, c->carry + l, left);
            c->carry_len = left;
        }
    }
    /* In place. */
    while (c->carry_len == 0 && used < len && nc < cap) {
        size_t l = cfg->find(cfg, buf + used, len - used, 0);
        if (l == 0) {
            memcpy(c->carry, buf + used, len - used); /* < max bytes */
            c->carry_len = len - used;
            used = len;
            break;
        }
        cuts[nc++] = c->start + l;
        c->start += l;
        used += l;
    }
    *used_out = used;
    return nc;
}

size_t ddx_chunker_finish(ddx_chunker *c, uint64_t *cuts, size_t cap)
{
    size_t nc = 0, off = 0;
    while (off < c->carry_len && nc < cap) {
        size_t l = c->cfg->find(c->cfg, c->carry + off, c->carry_len - off, 1);
        cuts[nc++] = c->start + l;
        c->start += l;
        off += l;
    }
    memmove(c->carry, c->carry + off, c->carry_len - off);
    c->carry_len -= off;
    return nc;
}
