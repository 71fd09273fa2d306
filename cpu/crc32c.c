/*
 * crc32c.c - CRC-32C through ISA-L (see crc32c.h).
 *
 * ISA-L's crc32_iscsi takes and returns the raw register (no pre/post
 * inversion) and an int length; we present the standard convention and
 * split lengths above INT_MAX.
 */
#include <isa-l/crc.h>
#include <limits.h>

#include "crc32c.h"

uint32_t ddx_crc32c(uint32_t crc, const void *p, size_t n)
{
    const unsigned char *b = p;
    uint32_t reg = ~crc;
    while (n) {
        int k = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        reg = crc32_iscsi((unsigned char *)b, k, reg);
        b += k;
        n -= (size_t)k;
    }
    return ~reg;
}
