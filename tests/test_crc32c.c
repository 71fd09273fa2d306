/*
 * test_crc32c.c - the ISA-L-backed CRC-32C against a bitwise reference
 * written from the definition (reflected polynomial 0x82f63b78).
 */
#include <criterion/criterion.h>

#include "crc32c.h"
#include "testutil.h"

static uint32_t crc32c_slow(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
    }
    return ~crc;
}

Test(crc32c, known_answers)
{
    cr_assert_eq(ddx_crc32c(0, "123456789", 9), 0xe3069283u);
    cr_assert_eq(ddx_crc32c(0, "", 0), 0u);
    uint8_t z[32] = {0};
    cr_assert_eq(ddx_crc32c(0, z, 32), 0x8a9136aau); /* RFC 3720 B.4: 32 zero bytes */
    uint8_t f[32];
    memset(f, 0xff, 32);
    cr_assert_eq(ddx_crc32c(0, f, 32), 0x62a8ab43u); /* RFC 3720 B.4: 32 0xff bytes */
}

Test(crc32c, equals_reference_all_lengths_alignments_and_chaining)
{
    uint8_t buf[5000];
    tu_fill_random(buf, sizeof buf, tu_seed());
    for (size_t n = 0; n <= 4097; n++) {
        size_t off = n % 8;
        cr_assert_eq(ddx_crc32c(0, buf + off, n), crc32c_slow(0, buf + off, n), "length %zu", n);
    }
    for (size_t split = 0; split <= 300; split++)
        cr_assert_eq(ddx_crc32c(ddx_crc32c(0, buf, split), buf + split, 300 - split),
                     crc32c_slow(0, buf, 300), "split %zu", split);
}
