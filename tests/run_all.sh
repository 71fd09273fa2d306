#!/usr/bin/env bash
# Run every test tier against one or more build directories (build, build/san)
# and print one closing line: "N passed, N failed".
# usage: run_all.sh BUILD_DIR...
set -u
cd "$(dirname "$0")/.."
total_pass=0 total_fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
add() { total_pass=$((total_pass + $1)); total_fail=$((total_fail + $2)); }

for B in "$@"; do
    echo "== $B"
    for t in "$B"/tests/test_*; do
        [ -x "$t" ] || continue
        "$t" >"$log" 2>&1
        rc=$?
        syn=$(grep "Synthesis:" "$log" | tail -1)
        p=$(sed -nE 's/.*Passing: ([0-9]+).*/\1/p' <<<"$syn")
        f=$(sed -nE 's/.*Failing: ([0-9]+) \| Crashing: ([0-9]+).*/\1+\2/p' <<<"$syn")
        p=${p:-0}
        f=$((${f:-1}))
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
        if [ "$f" -ne 0 ]; then grep -vE "^test seed" "$log" | tail -30; fi
        echo "$(basename "$t"): $p passed, $f failed"
        add "$p" "$f"
    done
    for s in tests/test_cli.sh; do
        "$s" "$B" >"$log" 2>&1
        rc=$?
        line=$(tail -1 "$log")
        p=$(sed -nE 's/.* ([0-9]+) passed, ([0-9]+) failed/\1/p' <<<"$line")
        f=$(sed -nE 's/.* ([0-9]+) passed, ([0-9]+) failed/\2/p' <<<"$line")
        p=${p:-0} f=${f:-1}
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
        if [ "$f" -ne 0 ]; then grep -v "^PASS" "$log" | tail -30; fi
        echo "$(basename "$s") ($B): $p passed, $f failed"
        add "$p" "$f"
    done
done
# The pipeline again on portable kernels only (every ISA masked off).
DDX_CPU_MASK=0 "$1/tests/test_pipeline" >"$log" 2>&1
rc=$?
syn=$(grep "Synthesis:" "$log" | tail -1)
p=$(sed -nE 's/.*Passing: ([0-9]+).*/\1/p' <<<"$syn")
f=$(sed -nE 's/.*Failing: ([0-9]+) \| Crashing: ([0-9]+).*/\1+\2/p' <<<"$syn")
p=${p:-0}
f=$((${f:-1}))
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
if [ "$f" -ne 0 ]; then tail -30 "$log"; fi
echo "test_pipeline (DDX_CPU_MASK=0): $p passed, $f failed"
add "$p" "$f"

# The cross-implementation oracle needs only the optimised build.
python3 tests/fastcdc_oracle.py "$1" >"$log" 2>&1
rc=$?
line=$(tail -1 "$log")
p=$(sed -nE 's/.* ([0-9]+) passed, ([0-9]+) failed/\1/p' <<<"$line")
f=$(sed -nE 's/.* ([0-9]+) passed, ([0-9]+) failed/\2/p' <<<"$line")
p=${p:-0} f=${f:-1}
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
if [ "$f" -ne 0 ]; then grep -v "^PASS" "$log" | tail -30; fi
echo "fastcdc_oracle.py: $p passed, $f failed"
add "$p" "$f"

echo "total: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
