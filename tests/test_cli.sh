#!/usr/bin/env bash
# CLI behaviour of ddbench: error paths (one line naming the problem, non-zero
# exit, no report), and the happy paths (files, directories, stdin, JSON, CSV).
# usage: test_cli.sh BUILD_DIR        ends with "N passed, N failed"
set -u
B=${1:?usage: test_cli.sh BUILD_DIR}
DDB="$B/ddbench"
T=$(mktemp -d)
trap 'chmod -R u+rwx "$T"; rm -rf "$T"' EXIT
pass=0 fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }

# expect_err NAME WANT_RC PATTERN ARGS...: exit status WANT_RC, exactly one
# line on stderr matching PATTERN, nothing on stdout (no partial report)
expect_err() {
    local name=$1 want=$2 pat=$3
    shift 3
    $DDB "$@" >"$T/out" 2>"$T/err" </dev/null
    local rc=$?
    local lines
    lines=$(wc -l <"$T/err")
    if [ "$rc" -eq "$want" ] && [ "$lines" -eq 1 ] && grep -qE -- "$pat" "$T/err" && [ ! -s "$T/out" ]; then
        ok "$name"
    else
        bad "$name (rc=$rc want $want, $lines stderr lines: $(head -c 300 "$T/err"), stdout $(wc -c <"$T/out") bytes)"
    fi
}

head -c 3000000 /dev/urandom >"$T/a.bin"
mkdir -p "$T/dir/sub" && cp "$T/a.bin" "$T/dir/x" && cp "$T/a.bin" "$T/dir/sub/y"

expect_err "missing path" 2 "nope.*No such file" run "$T/nope"
expect_err "unknown chunker" 2 "--chunker.*got 'gear'" run --chunker gear "$T/a.bin"
expect_err "unknown hash" 2 "--hash.*got 'md5'" run --hash md5 "$T/a.bin"
expect_err "min > avg" 2 "min.*avg" run --min 16K --avg 8K "$T/a.bin"
expect_err "avg > max" 2 "avg.*max" run --avg 128K --max 64K "$T/a.bin"
expect_err "zero avg" 2 "--avg" run --avg 0 "$T/a.bin"
expect_err "zero min" 2 "--min" run --min 0 "$T/a.bin"
expect_err "bad size" 2 "--avg: expected a size.*8Q" run --avg 8Q "$T/a.bin"
expect_err "negative size" 2 "--max: expected a size" run --max -5 "$T/a.bin"
expect_err "bad threads" 2 "--threads: expected an integer" run --threads 0 "$T/a.bin"
expect_err "bad normalization" 2 "--normalization" run --normalization 9 "$T/a.bin"
expect_err "unknown option" 2 "unknown" run --frobnicate "$T/a.bin"
expect_err "missing option value" 2 "chunker|missing" run --chunker
expect_err "unknown command" 2 "unknown command 'walk'" walk
expect_err "unknown impl" 2 "--impl hash=nope: unknown implementation" run --impl hash=nope "$T/a.bin"
expect_err "impl of another kind" 2 "implements sha1, not the selected sha256" run --impl hash=sha1-ref "$T/a.bin"
expect_err "bad impl spec" 2 "--impl: expected chunk=NAME,hash=NAME" run --impl fastcdc "$T/a.bin"
DDX_CPU_MASK=0 expect_err "impl the CPU mask excludes" 2 "not available on this CPU|unknown implementation" run --impl chunk=ram-avx2 --chunker ram "$T/a.bin"
expect_err "rabin divisor too small" 2 "at least 64" run --chunker rabin --min 8150 --avg 8K "$T/a.bin"
# unreadable file: root reads anything, so as root run ddbench as nobody
chmod 755 "$T" && mkdir -m 755 "$T/ro" && head -c 1000 /dev/urandom >"$T/ro/secret" && chmod 000 "$T/ro/secret"
if [ "$(id -u)" -ne 0 ]; then
    expect_err "unreadable file" 2 "secret.*Permission denied" run "$T/ro/secret"
elif command -v runuser >/dev/null && runuser -u nobody -- "$DDB" --version >/dev/null 2>&1; then
    DDB_SAVE=$DDB
    DDB="runuser -u nobody -- $DDB_SAVE"
    expect_err "unreadable file" 2 "secret.*Permission denied" run "$T/ro/secret"
    DDB=$DDB_SAVE
else
    echo "SKIP unreadable file (root, and cannot run ddbench as nobody)"
fi
ln -s .. "$T/dir/sub/loop"
expect_err "directory loop" 2 "loop.*directory loop" run "$T/dir"
rm "$T/dir/sub/loop"
expect_err "stdin twice" 2 "stdin given more than once" run - -
expect_err "json to unwritable path" 1 "nodir.*No such file" run --json "$T/nodir/r.json" "$T/a.bin"

# happy paths
if "$DDB" run -q "$T/a.bin" "$T/a.bin" >"$T/out" 2>&1 && grep -qE "dedup ratio +2\.0" "$T/out"; then
    ok "same file twice: ratio 2.0"
else bad "same file twice: $(cat "$T/out")"; fi
if "$DDB" run -q --json "$T/r.json" --csv "$T/r.csv" "$T/dir" >"$T/out" 2>&1 &&
    python3 -c "
import json,sys,csv
r=json.load(open('$T/r.json'))
assert r['schema']=='ddx.run/1' and r['logical_bytes']==6000000, r['logical_bytes']
assert abs(r['dedup_ratio']-2.0)<1e-9 and r['unique_bytes']==3000000
for k in ('chunks','chunk_size','stages','end_to_end','implementations','machine','command'): assert k in r, k
assert set(r['stages'])=={'read','chunk','stitch','hash','index'}
rows=list(csv.DictReader(open('$T/r.csv')))
assert len(rows)==1 and int(rows[0]['logical_bytes'])==6000000
"; then ok "directory walk + json + csv"; else bad "directory walk + json + csv: $(tail -3 "$T/out")"; fi
if cat "$T/a.bin" | "$DDB" run -q - "$T/a.bin" >"$T/out" 2>&1 && grep -qE "dedup ratio +2\.0" "$T/out"; then
    ok "stdin + file"
else bad "stdin + file: $(cat "$T/out")"; fi
if "$DDB" run -q --chunker fixed --avg 4K --hash sha1 --threads 3 "$T/a.bin" >"$T/out" 2>&1 &&
    grep -q "fixed" "$T/out" && grep -q "sha1" "$T/out"; then ok "fixed + sha1 + 3 threads"
else bad "fixed + sha1 + 3 threads: $(cat "$T/out")"; fi
if "$DDB" run -q -v --generations 2 --tree-size 4M >"$T/out" 2>"$T/err" && grep -q "built-in dataset" "$T/out" &&
    grep -q "worker 0: " "$T/err"; then ok "built-in dataset, -v prints bindings"
else bad "built-in dataset: $(cat "$T/out" "$T/err")"; fi
"$DDB" --help | grep -q "usage: ddbench run" && ok "--help" || bad "--help"
if DDX_CPU_MASK=0 "$DDB" run -q --json "$T/p.json" "$T/a.bin" >/dev/null 2>&1 &&
    grep -q '"hash": "sha256-openssl"' "$T/p.json"; then ok "DDX_CPU_MASK=0 runs portable kernels and names them"
else bad "DDX_CPU_MASK=0: $(grep -A3 implementations "$T/p.json")"; fi
if "$DDB" run -q --json "$T/s.json" --impl hash=ref,chunk=scalar "$T/a.bin" >/dev/null 2>&1 &&
    grep -q '"hash": "sha256-ref"' "$T/s.json" && grep -q '"chunker": "fastcdc2020-scalar"' "$T/s.json"; then
    ok "--impl short names (hash=ref, chunk=scalar)"
else bad "--impl short names: $(grep -A3 implementations "$T/s.json")"; fi
"$DDB" run --list-impls | grep -qE "^hash +sha256 +sha256-ref +available" && ok "--list-impls" || bad "--list-impls"
"$DDB" --version | grep -qE "^ddbench \(ddx\) [0-9]+\.[0-9]+\.[0-9]+$" && ok "--version" || bad "--version"
: >"$T/empty"
if "$DDB" run -q "$T/empty" >"$T/out" 2>&1 && grep -qE "chunks +0" "$T/out"; then ok "empty file"
else bad "empty file: $(cat "$T/out")"; fi

# ---- backends (docs/gpu.md) ----
expect_err "unknown backend" 2 "--backend: expected cpu, cuda, opencl or auto, got 'vulkan'" run --backend vulkan "$T/a.bin"
expect_err "--gpu with --backend cpu" 2 "conflicts" run --backend cpu --gpu "$T/a.bin"
expect_err "bad --device" 2 "--device: expected an integer" run --device x "$T/a.bin"
expect_err "opencl device out of range" 1 "--backend opencl: no device 7 \\([0-9]+ found" run --backend opencl --device 7 "$T/a.bin"
# the same bytes through OpenCL (PoCL here) and the CPU: identical results
if "$DDB" run -q --json "$T/c.json" "$T/a.bin" >/dev/null 2>&1 &&
    "$DDB" run -q --backend opencl --batch 1M --json "$T/o.json" "$T/a.bin" >"$T/out" 2>"$T/err" &&
    grep -q "opencl time split" "$T/out" && grep -q '"backend": "opencl"' "$T/o.json" &&
    grep -q '"gpu": {"h2d_s"' "$T/o.json" &&
    [ "$(grep -E '"(chunks|unique_bytes|unique_chunks)"' "$T/c.json")" = "$(grep -E '"(chunks|unique_bytes|unique_chunks)"' "$T/o.json")" ]; then
    ok "--backend opencl equals --backend cpu, reports the time split"
else bad "--backend opencl: $(cat "$T/out" "$T/err" | head -20)"; fi
# CUDA: this build has nvcc (then, with no driver, error 35), the emulation, or none
if [ -e "$B/obj/kernels/cuda/ddx_cuda_nvcc.o" ] && ! ls /dev/nvidia0 >/dev/null 2>&1; then
    expect_err "--backend cuda without a driver" 1 "--backend cuda: CUDA unavailable: cudaGetDeviceCount returned 35" run --backend cuda "$T/a.bin"
    if "$DDB" run -q --gpu "$T/a.bin" >"$T/out" 2>"$T/err" && [ "$(wc -l <"$T/err")" -eq 1 ] &&
        grep -q "^ddbench: --gpu: no GPU: CUDA: CUDA unavailable: cudaGetDeviceCount returned 35" "$T/err" &&
        grep -q "running on the cpu backend instead" "$T/err" && grep -q "backend cpu" "$T/out"; then
        ok "--gpu without a GPU says why and runs on the cpu"
    else bad "--gpu without a GPU: $(cat "$T/err" "$T/out" | head -5)"; fi
elif [ -e "$B/obj/kernels/cuda/ddx_cuda_emu.o" ]; then
    if "$DDB" run -q --backend cuda --batch 1M --json "$T/u.json" "$T/a.bin" >"$T/out" 2>&1 &&
        grep -q "CUDA emulation on the CPU" "$T/out" &&
        [ "$(grep -E '"(chunks|unique_bytes)"' "$T/c.json")" = "$(grep -E '"(chunks|unique_bytes)"' "$T/u.json")" ]; then
        ok "--backend cuda (emulation) equals --backend cpu"
    else bad "--backend cuda (emulation): $(head -20 "$T/out")"; fi
elif ! [ -e "$B/obj/kernels/cuda" ]; then
    expect_err "--backend cuda not built" 1 "--backend cuda: CUDA not built into this libddx" run --backend cuda "$T/a.bin"
fi

echo "test_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
