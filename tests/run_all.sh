#!/usr/bin/env bash
# Run every test tier against one or more build directories (build, build/san,
# build/noisa) and print one closing line: "total: N passed, N failed".
# usage: run_all.sh BUILD_DIR...
set -u
cd "$(dirname "$0")/.."
total_pass=0 total_fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# tier LABEL COMMAND...: run it, read its counts from Criterion's "Synthesis"
# line or a plain "N passed, N failed" line; a non-zero exit with no failure
# counted is one failure; print what failed.
tier() {
    local label=$1
    shift
    "$@" >"$log" 2>&1
    local rc=$? p f syn
    syn=$(grep "Synthesis:" "$log" | tail -1)
    if [ -n "$syn" ]; then
        p=$(sed -nE 's/.*Passing: ([0-9]+).*/\1/p' <<<"$syn")
        f=$(sed -nE 's/.*Failing: ([0-9]+) \| Crashing: ([0-9]+).*/\1+\2/p' <<<"$syn")
    else
        local line
        line=$(grep -E "[0-9]+ passed, [0-9]+ failed" "$log" | tail -1)
        p=$(sed -nE 's/.* ([0-9]+) passed, ([0-9]+) failed.*/\1/p' <<<"$line")
        f=$(sed -nE 's/.* ([0-9]+) passed, ([0-9]+) failed.*/\2/p' <<<"$line")
    fi
    p=${p:-0}
    f=$((${f:-1}))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    if [ "$f" -ne 0 ]; then grep -vE "^(PASS|test seed)" "$log" | tail -30; fi
    echo "$label: $p passed, $f failed"
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
}

for B in "$@"; do
    echo "== $B"
    for t in "$B"/tests/test_*; do
        [ -x "$t" ] && tier "$(basename "$t")" "$t"
    done
    tier "race_stress ($B)" "$B/tests/race_stress"
    tier "test_cli.sh ($B)" tests/test_cli.sh "$B"
    tier "test_store_cli.sh ($B)" tests/test_store_cli.sh "$B"
    tier "test_sweep.sh ($B)" tests/test_sweep.sh "$B"
    # The fuzz targets' corpora, each file once (under ASan+UBSan in build/san).
    for f in log container recipe trace; do
        tier "fuzz_$f ($B)" "$B/tests/fuzz_$f" "tests/fuzz/corpus/$f"
    done
done
# The pipeline again on portable kernels only (every ISA masked off).
tier "test_pipeline (DDX_CPU_MASK=0)" env DDX_CPU_MASK=0 "$1/tests/test_pipeline"
# The multi-buffer kernels with SHA-NI masked off: their lane manager then
# keeps a batch's last messages in the lanes instead of handing them over.
for t in test_hash_mb test_hash_mb_sha1 test_hash_mb_sha256; do
    tier "$t (DDX_CPU_MASK=0x1d, no SHA-NI)" env DDX_CPU_MASK=0x1d "$1/tests/$t"
done
# The concurrency stress test under ThreadSanitizer (make race-tests builds
# build/tsan): a reported race fails it even when every check passed.
tier "race_stress (ThreadSanitizer)" env TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp" \
    build/tsan/tests/race_stress
# The nvcc build: every architecture, no spills (needs only one run).
tier "test_cuda_build.sh" tests/test_cuda_build.sh
# The cross-implementation oracle needs only the optimised build.
tier "fastcdc_oracle.py" python3 tests/fastcdc_oracle.py "$1"
# The plotter (harness/ddx_plot.py) needs no build: once.
tier "test_plot.sh" tests/test_plot.sh "$1"

echo "total: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
