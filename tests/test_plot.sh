#!/usr/bin/env bash
# harness/ddx_plot.py: every figure from a small synthetic sweep
# (tests/data/plot_small.jsonl, see tests/data/README.md) and results/microbench.json,
# byte-identical reruns, the committed results/*.json, and the error paths (a broken
# line is FILE:LINE and exit 1, a torn last line is tolerated, no data is exit 1).
# usage: test_plot.sh [BUILD_DIR]     (the plotter needs no build)
#        ends with "N passed, N failed"
# Conditions given to all() are single-quoted on purpose: all() evaluates them later.
# shellcheck disable=SC2016
set -euo pipefail
cd "$(dirname "$0")/.."
PLOT=harness/ddx_plot.py
FIX=tests/data/plot_small.jsonl
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
check() { # check NAME COMMAND...: PASS if the command succeeds
    local name=$1
    shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}
all() { # all 'COND' 'COND'...: every shell condition holds (for check)
    local c
    for c in "$@"; do eval "$c" || return 1; done
}

FIGS=(dedup_vs_chunk_size throughput_vs_chunk_size chunk_size_cdf kernel_throughput_vs_size
      backend_throughput thread_scaling stage_breakdown dedup_over_generations index_scaling)

# plot ARGS...: run the plotter; rc, $T/out and $T/err hold what it did
plot() {
    rc=0
    python3 "$PLOT" "$@" >"$T/out" 2>"$T/err" || rc=$?
}
# A real figure: the PNG signature and well over an empty canvas (about 12 KB).
is_png() {
    [ -f "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] &&
        [ "$(wc -c <"$1")" -gt 25000 ]
}
is_svg() { [ -f "$1" ] && grep -q '<svg' "$1" && [ "$(wc -c <"$1")" -gt 25000 ]; }
# figure DIR NAME: both files exist and look like figures
figure() { is_png "$1/$2.png" && is_svg "$1/$2.svg"; }
# svg_text DIR NAME TEXT...: the SVG draws each TEXT (matplotlib notes every text as a comment)
svg_text() {
    local f="$1/$2.svg" t
    shift 2
    for t in "$@"; do
        grep -qF -- "<!-- $t" "$f" 2>/dev/null || { echo "  $f lacks '$t'"; return 1; }
    done
}

if ! python3 -c 'import matplotlib' 2>/dev/null; then
    bad "python3 cannot import matplotlib (make deps)"
echo "test_plot: $pass passed, $fail failed"
    exit 1
fi

# -- everything from the fixture and the microbenchmarks
plot "$FIX" results/microbench.json -o "$T/a"
check "fixture: exit 0" [ "$rc" -eq 0 ]
for f in "${FIGS[@]}"; do
    check "fixture: $f.png and $f.svg" figure "$T/a" "$f"
done
check "fixture: stdout lists the 18 files" \
    [ "$(grep -c "^$T/a/.*\.\(png\|svg\)$" "$T/out")" -eq 18 ]
check "fixture: nothing skipped" [ ! -s "$T/err" ]
check "dedup_vs_chunk_size: a line per chunker, 1K..64K" \
    svg_text "$T/a" dedup_vs_chunk_size fastcdc rabin 1K 64K "Dedup ratio vs average chunk size" \
    "machine: Synthetic CPU (test fixture), 4 logical CPUs" "data: built-in dataset"
check "chunk_size_cdf: both chunkers at 8 KiB" \
    svg_text "$T/a" chunk_size_cdf "fastcdc (avg 8K" "rabin (avg 8K"
check "thread_scaling: ideal line" svg_text "$T/a" thread_scaling "ideal linear scaling"
check "throughput_vs_chunk_size: at 2 threads" \
    svg_text "$T/a" throughput_vs_chunk_size \
    "End-to-end throughput vs average chunk size (2 threads)"
check "backend_throughput: cpu and opencl" svg_text "$T/a" backend_throughput cpu opencl
check "kernel_throughput_vs_size: SHA-1 and SHA-256 panels" \
    svg_text "$T/a" kernel_throughput_vs_size SHA-1 SHA-256 "sha256-shani-x4 (batch 64)"
check "index_scaling: trace replays" svg_text "$T/a" index_scaling "trace replays"
check "dedup_over_generations: traces and chunkers" \
    svg_text "$T/a" dedup_over_generations "fastcdc avg 8K" "trace replay" mac-2013.fsl

# -- the same data gives the same files
plot "$FIX" results/microbench.json -o "$T/b" --formats svg,png
check "rerun: identical SVG and PNG" diff -r "$T/a" "$T/b"

# -- no chunk_hist: no CDF, said on stderr, the rest still drawn
python3 - "$FIX" "$T/nohist.jsonl" <<'PY'
import json, sys
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as g:
    for line in f:
        r = json.loads(line)
        r.pop("chunk_hist", None)
        g.write(json.dumps(r) + "\n")
PY
plot "$T/nohist.jsonl" -o "$T/c" --formats png
check "no chunk_hist: exit 0" [ "$rc" -eq 0 ]
check "no chunk_hist: no chunk_size_cdf" [ ! -e "$T/c/chunk_size_cdf.png" ]
check "no chunk_hist: says so" grep -q "skipped chunk_size_cdf" "$T/err"
check "no chunk_hist: dedup_vs_chunk_size still drawn" is_png "$T/c/dedup_vs_chunk_size.png"

# -- a malformed line: FILE:LINE, exit 1, no figure
sed '5s/.*/{"schema": "ddx.run\/1", "config": {oops}/' "$FIX" >"$T/bad.jsonl"
plot "$T/bad.jsonl" -o "$T/d"
check "malformed line: exit 1" [ "$rc" -eq 1 ]
check "malformed line: one line naming FILE:5" \
    all '[ "$(wc -l <"$T/err")" -eq 1 ]' 'grep -q "^$T/bad.jsonl:5: not valid JSON: " "$T/err"'
check "malformed line: nothing written" all '[ ! -e "$T/d" ]' '[ ! -s "$T/out" ]'
printf '{\n  "schema": "ddx.run/1",\n  "dedup_ratio": 2.0,,\n}\n' >"$T/bad.json"
plot "$T/bad.json" -o "$T/d"
check "malformed document: exit 1, FILE:3" \
    all '[ "$rc" -eq 1 ]' 'grep -q "^$T/bad.json:3: not valid JSON: " "$T/err"'

# -- a torn last line (an interrupted sweep) is ignored with a warning
cp "$FIX" "$T/torn.jsonl"
head -n 1 "$FIX" | cut -c 1-300 | tr -d '\n' >>"$T/torn.jsonl"
plot "$T/torn.jsonl" -o "$T/e" --formats png
check "torn last line: exit 0" [ "$rc" -eq 0 ]
check "torn last line: warned about line 13" grep -q "torn.jsonl:13: .*torn" "$T/err"
check "torn last line: figures drawn" is_png "$T/e/chunk_size_cdf.png"

# -- no data at all: exit 1 and say so
: >"$T/empty.jsonl"
plot "$T/empty.jsonl" -o "$T/f"
check "empty input: exit 1" [ "$rc" -eq 1 ]
check "empty input: 'no figure' message" \
    grep -qx "no figure: the results hold no data for any plot" "$T/err"
check "empty input: no output directory" [ ! -e "$T/f" ]

# -- an unknown file is skipped with one warning; a missing one is an error
echo '{"schema": "someone.else/3", "x": 1}' >"$T/other.json"
plot "$T/other.json" "$FIX" -o "$T/g" --formats svg
check "unknown file: skipped, the rest drawn" all '[ "$rc" -eq 0 ]' \
    '[ "$(grep -c "other.json" "$T/err")" -eq 1 ]' 'is_svg "$T/g/stage_breakdown.svg"'
plot "$T/nope.json" -o "$T/g"
check "missing file: exit 1, one line" all '[ "$rc" -eq 1 ]' '[ "$(wc -l <"$T/err")" -eq 1 ]'

# -- every committed result reads cleanly
plot results/*.json -o "$T/h" --formats svg
check "results/*.json: exit 0, no traceback" all '[ "$rc" -eq 0 ]' '! grep -q Traceback "$T/err"'
check "results/*.json: kernel and stage figures" \
    all 'is_svg "$T/h/kernel_throughput_vs_size.svg"' 'is_svg "$T/h/stage_breakdown.svg"'

# -- the front end: ddbench plot runs this script (when a build is given)
B=${1:-}
if [ -n "$B" ] && [ -x "$B/ddbench" ]; then
    rc=0
    "$B/ddbench" plot "$FIX" -o "$T/w" --formats png >"$T/out" 2>"$T/err" || rc=$?
    check "ddbench plot draws through the script" all '[ "$rc" -eq 0 ]' 'is_png "$T/w/chunk_size_cdf.png"'
    rc=0
    DDX_PYTHON=/nonexistent/python3 "$B/ddbench" plot "$FIX" -o "$T/w" >"$T/out" 2>"$T/err" || rc=$?
    check "ddbench plot without python: one line, exit 1" \
        all '[ "$rc" -eq 1 ]' '[ "$(wc -l <"$T/err")" -eq 1 ]' 'grep -q "cannot run /nonexistent/python3" "$T/err"'
    rc=0
    "$B/ddbench" plot >"$T/out" 2>"$T/err" || rc=$?
    check "ddbench plot with no arguments: usage, exit 2" all '[ "$rc" -eq 2 ]' 'grep -q "usage: ddbench plot" "$T/out"'
fi

echo "test_plot: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
