/*
 * tool_cuts.c - print a chunker's cut points for a file, for cross-checks
 * against other implementations (tests/fastcdc_oracle.py).
 *
 *   tool_cuts CHUNKER MIN AVG MAX NORMALIZATION FEED FILE [IMPL]
 *
 * IMPL names a registered implementation (default: the dispatcher's pick).
 * FEED 0 scans the whole file with the find function directly; FEED > 0
 * goes through the streaming wrapper in pieces of FEED bytes. Prints one
 * chunk end offset per line. --tables prints the FastCDC gear table and masks.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk_impl.h"

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--tables")) {
        for (int i = 0; i < 256; i++)
            printf("%" PRIu64 "\n", ddx_fastcdc_gear[i]);
        for (int i = 0; i < 26; i++)
            printf("%" PRIu64 "\n", ddx_fastcdc_masks[i]);
        return 0;
    }
    if (argc != 8 && argc != 9) {
        fprintf(stderr, "usage: tool_cuts CHUNKER MIN AVG MAX NORMALIZATION FEED FILE [IMPL]\n");
        return 2;
    }
    ddx_chunker_kind kind;
    if (ddx_chunker_from_name(argv[1], &kind)) {
        fprintf(stderr, "tool_cuts: unknown chunker '%s'\n", argv[1]);
        return 2;
    }
    ddx_chunk_cfg cfg;
    const char *why = "";
    if (ddx_chunk_cfg_init(&cfg, kind, (uint32_t)atol(argv[2]), (uint32_t)atol(argv[3]),
                           (uint32_t)atol(argv[4]), atoi(argv[5]), 0, &why)) {
        fprintf(stderr, "tool_cuts: %s\n", why);
        return 2;
    }
    int rc = ddx_chunk_impl_select(&cfg, argc == 9 ? argv[8] : NULL, NULL);
    if (rc) {
        fprintf(stderr, "tool_cuts: implementation %s: %s\n", argc == 9 ? argv[8] : "(default)",
                ddx_strerror(rc));
        return 2;
    }
    size_t feed = (size_t)atol(argv[6]);
    FILE *f = fopen(argv[7], "rb");
    if (!f) {
        fprintf(stderr, "tool_cuts: %s: %s\n", argv[7], strerror(errno));
        return 1;
    }
    size_t cap = 1 << 20, n = 0;
    uint8_t *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    if (!buf)
        return 1;
    if (feed == 0) {
        size_t pos = 0;
        while (pos < n) {
            pos += cfg.find(&cfg, buf + pos, n - pos, 1);
            printf("%zu\n", pos);
        }
    } else {
        ddx_chunker c;
        if (ddx_chunker_init(&c, &cfg, 0))
            return 1;
        uint64_t cuts[64];
        for (size_t pos = 0; pos < n;) {
            size_t len = n - pos < feed ? n - pos : feed, used;
            size_t k = ddx_chunker_feed(&c, buf + pos, len, cuts, 64, &used);
            for (size_t i = 0; i < k; i++)
                printf("%" PRIu64 "\n", cuts[i]);
            pos += used;
        }
        size_t k;
        while ((k = ddx_chunker_finish(&c, cuts, 64)) > 0)
            for (size_t i = 0; i < k; i++)
                printf("%" PRIu64 "\n", cuts[i]);
        ddx_chunker_free(&c);
    }
    free(buf);
    return 0;
}
