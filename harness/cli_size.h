/*
 * cli_size.h - SIZE arguments of the command-line tools (ddbench, ddx,
 * gpubench): decimal bytes with an optional K, M or G suffix (powers of
 * 1024, also written Ki/KiB, any case). One parser, so every tool accepts
 * the same spellings; each caller words its own error.
 */
#ifndef DDX_CLI_SIZE_H
#define DDX_CLI_SIZE_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

/* 0 and *out, or -1 if s is not a size. */
static inline int ddx_cli_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    uint64_t mul = 1;
    if (*end == 'K' || *end == 'k')
        mul = 1024, end++;
    else if (*end == 'M' || *end == 'm')
        mul = 1024 * 1024, end++;
    else if (*end == 'G' || *end == 'g')
        mul = 1024ull * 1024 * 1024, end++;
    if (*end == 'i' && mul > 1)
        end++;
    if (*end == 'B' && mul > 1)
        end++;
    if (errno || end == s || *end || v > UINT64_MAX / mul)
        return -1;
    *out = v * mul;
    return 0;
}

#endif
