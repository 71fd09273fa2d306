#!/usr/bin/env bash
# make gpu-bench: a GPU backend checked and measured in one command (docs/gpu.md).
#
#   GPU_BENCH_BACKEND  cuda (default) or opencl
#   GPU_BENCH_DATA     input file for the end-to-end runs (default: the
#                      built-in generator's backup archives, GPU_BENCH_SIZE
#                      of them, written once to /dev/shm so the page cache is warm)
#   GPU_BENCH_SIZE     default 4G
#   GPU_BENCH_BATCH    GPU batch for the end-to-end runs (default 256M)
#   GPU_BENCH_REPS     end-to-end repetitions, interleaved with the cpu backend (default 3)
#   GPU_BENCH_OUT      results file (default results/gpu-bench-<backend>.json)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
BACKEND=${GPU_BENCH_BACKEND:-cuda}
SIZE=${GPU_BENCH_SIZE:-4G}
BATCH=${GPU_BENCH_BATCH:-256M}
REPS=${GPU_BENCH_REPS:-3}
OUT=${GPU_BENCH_OUT:-results/gpu-bench-$BACKEND.json}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "== 1/3 correctness: $BACKEND against the CPU reference (tests/test_gpu_backend.c)"
"$B/tests/test_gpu_backend" --filter "gpu_$BACKEND/*" --jobs 1 2>&1 | tail -3
if "$B/tests/test_gpu_backend" --filter "gpu_$BACKEND/*" --jobs 1 2>&1 | grep -q 'Skipping'; then
    echo "gpu-bench: the $BACKEND tests were skipped: there is no $BACKEND device here" >&2
    exit 1
fi

echo "== 2/3 parts: bandwidth and kernels with the data on the device (harness/gpubench.c)"
"$B/gpubench" --backend "$BACKEND" --batch "$BATCH" --json "$TMP/parts.json"

echo "== 3/3 end to end: ddbench run --backend $BACKEND vs --backend cpu, same bytes, warm cache"
DATA=${GPU_BENCH_DATA:-}
if [ -z "$DATA" ]; then
    DATA=/dev/shm/ddx-gpu-bench-$SIZE.tar
    if [ ! -s "$DATA" ]; then
        "$B/ddx-datagen" --tree-bytes "$SIZE" --generations 1 --stdout > "$DATA.tmp"
        mv "$DATA.tmp" "$DATA"
    fi
fi
cat "$DATA" > /dev/null # warm the page cache
for r in $(seq "$REPS"); do
    "$B/ddbench" run -q --backend cpu --json "$TMP/cpu-$r.json" "$DATA" > /dev/null
    "$B/ddbench" run -q --backend "$BACKEND" --batch "$BATCH" --json "$TMP/gpu-$r.json" "$DATA" \
        > "$TMP/gpu-$r.txt"
done
cat "$TMP/gpu-$REPS.txt"

python3 - "$TMP" "$REPS" "$OUT" "$DATA" "$BACKEND" "$BATCH" <<'EOF'
import json, os, platform, statistics, sys
tmp, reps, out, data, backend, batch = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
parts = json.load(open(f"{tmp}/parts.json"))
cpu = [json.load(open(f"{tmp}/cpu-{r}.json")) for r in range(1, reps + 1)]
gpu = [json.load(open(f"{tmp}/gpu-{r}.json")) for r in range(1, reps + 1)]
for k in ("chunks", "unique_chunks", "unique_bytes", "logical_bytes"):
    if len({x[k] for x in cpu + gpu}) != 1:
        sys.exit(f"gpu-bench: {k} differs between the cpu and {backend} runs: "
                 f"{[x[k] for x in cpu]} vs {[x[k] for x in gpu]}")
e2e = lambda runs: statistics.median(x["end_to_end"]["bytes_per_s"] for x in runs) / 1e9
g = gpu[-1]["gpu"]
res = {
    "schema": "ddx.gpu-bench/1",
    "command": "make gpu-bench " + " ".join(f"{k}={v}" for k, v in sorted(os.environ.items())
                                            if k.startswith("GPU_BENCH_")),
    "device": parts["device"], "backend": backend, "host": platform.node(),
    "cpu_model": cpu[0]["machine"]["cpu_model"], "data": data,
    "data_bytes": cpu[0]["logical_bytes"], "dedup_ratio": cpu[0]["dedup_ratio"],
    "parts": parts,
    "end_to_end_GBps": {"cpu": e2e(cpu), backend: e2e(gpu)},
    "end_to_end_runs": {"cpu": [x["end_to_end"]["bytes_per_s"] for x in cpu],
                         backend: [x["end_to_end"]["bytes_per_s"] for x in gpu]},
    "time_split_last_run_s": g,
    "identical_results": True,
}
os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
json.dump(res, open(out, "w"), indent=2)
print()
print(f"{'gpu-bench: ' + parts['device']:<60}")
print(f"{'measurement':<44}{'GB/s':>10}")
rows = [("host->device, pinned (device timer)", parts["h2d_GBps"]),
        ("gear candidate scan, kernel only", parts["scan_GBps"]),
        ("SHA-256 chunks, kernel only", parts["sha256_GBps"]),
        ("SHA-1 chunks, kernel only", parts["sha1_GBps"]),
        (f"end to end, ddbench --backend {backend} (median)", e2e(gpu)),
        ("end to end, ddbench --backend cpu (median)", e2e(cpu))]
for name, v in rows:
    print(f"{name:<44}{v:>10.2f}")
print(f"chunks and dedup identical to the cpu backend; written to {out}")
EOF
