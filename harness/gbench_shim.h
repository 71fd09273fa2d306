/*
 * gbench_shim.h - Google Benchmark from C: register C callbacks, run.
 * The only C++ in the project is gbench_shim.cc behind this header.
 */
#ifndef DDX_GBENCH_SHIM_H
#define DDX_GBENCH_SHIM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One iteration of a benchmark: process bytes_per_iter bytes. */
typedef void (*ddx_gb_fn)(void *ctx);

/* Register fn under name; Google Benchmark reports bytes/s from
 * bytes_per_iter and items/s from items_per_iter (0: none). */
void ddx_gb_register(const char *name, ddx_gb_fn fn, void *ctx, uint64_t bytes_per_iter,
                     uint64_t items_per_iter);
/* Extra key/value in the JSON context (machine, command). */
void ddx_gb_context(const char *key, const char *value);
/* Parse Google Benchmark's flags, run, return 0 (or 1 on bad flags). */
int ddx_gb_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
