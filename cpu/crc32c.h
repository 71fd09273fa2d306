/*
 * crc32c.h - CRC-32C (Castagnoli, iSCSI), the checksum of ddx's on-disk
 * records. Computed by ISA-L (libisal), which dispatches to its SSE4.2 /
 * PCLMUL / AVX-512 kernels itself; not hand-written here.
 */
#ifndef DDX_CRC32C_H
#define DDX_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Standard CRC-32C of n bytes, continuing from crc (0 for a new checksum):
 * ddx_crc32c(0, "123456789", 9) == 0xe3069283, and
 * ddx_crc32c(ddx_crc32c(0, a, na), b, nb) == CRC-32C of a followed by b. */
uint32_t ddx_crc32c(uint32_t crc, const void *p, size_t n);

#endif
