// gbench_shim.cc - adapts C callbacks (gbench_shim.h) to benchmark::RegisterBenchmark.
#include <benchmark/benchmark.h>

#include "gbench_shim.h"

extern "C" void ddx_gb_register(const char *name, ddx_gb_fn fn, void *ctx,
                                uint64_t bytes_per_iter, uint64_t items_per_iter)
{
    benchmark::RegisterBenchmark(name, [=](benchmark::State &st) {
        for (auto _ : st)
            fn(ctx);
        st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * bytes_per_iter));
        if (items_per_iter)
            st.SetItemsProcessed(static_cast<int64_t>(st.iterations() * items_per_iter));
    });
}

extern "C" void ddx_gb_context(const char *key, const char *value)
{
    benchmark::AddCustomContext(key, value);
}

extern "C" int ddx_gb_main(int argc, char **argv)
{
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
