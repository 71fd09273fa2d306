#!/usr/bin/env bash
# ddbench sweep (grid expansion, rows, resumption, torn and foreign rows,
# failing cells, CSV) and the trace paths of ddbench run (--record-trace,
# replay of each format, per-stream rows, the chunk histogram, bad traces).
# usage: test_sweep.sh BUILD_DIR        ends with "N passed, N failed"
set -u
B=${1:?usage: test_sweep.sh BUILD_DIR}
DDB="$B/ddbench"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
check() { # check NAME COMMAND...: passes if the command succeeds
    local name=$1
    shift
    if "$@" >"$T/chk" 2>&1; then ok "$name"; else bad "$name: $(head -c 400 "$T/chk")"; fi
}
# expect_err NAME WANT_RC PATTERN ARGS...: that exit status, one stderr line matching
expect_err() {
    local name=$1 want=$2 pat=$3
    shift 3
    $DDB "$@" >"$T/out" 2>"$T/err" </dev/null
    local rc=$? lines
    lines=$(wc -l <"$T/err")
    if [ "$rc" -eq "$want" ] && [ "$lines" -eq 1 ] && grep -qE -- "$pat" "$T/err"; then
        ok "$name"
    else
        bad "$name (rc=$rc want $want, $lines stderr lines: $(head -c 300 "$T/err"))"
    fi
}
# py CODE ARGS...: a python check over JSON files (exit status is the verdict)
py() { python3 -c "$@"; }

SMALL=(-- --tree-size 1M --generations 2 --per-stream)

# ---- grid expansion ---------------------------------------------------------------
$DDB sweep --dry-run -o "$T/none.jsonl" --chunkers fastcdc,ram --avg 4K..16K --hash sha1,sha256 \
    --threads 1,2 >"$T/dry" 2>"$T/dryerr"
n=$(grep -c '^input=' "$T/dry")
if [ "$n" -eq 24 ] && grep -q "24 cells, 0 already in .*, 24 to run" "$T/dryerr" &&
    grep -q "input=builtin chunker=ram avg=16384 hash=sha256 backend=cpu threads=2 rep=1" "$T/dry" &&
    grep -q "run -q --chunker ram --avg 16384 --hash sha256 --backend cpu --threads 2 --json -" "$T/dry" &&
    [ ! -e "$T/none.jsonl" ]; then
    ok "dry run expands 2x3x2x2 cells in order, writes nothing"
else
    bad "dry run: $n cells; $(cat "$T/dryerr")"
fi
expect_err "--avg A..B refuses a start that is not a power of two" 2 "--avg: expected A..B with A a power of two" \
    sweep --dry-run -o "$T/none.jsonl" --avg 1K,3K..12K
$DDB sweep --dry-run -o "$T/none.jsonl" --avg 1K..4K,64K --reps 2 >"$T/dry" 2>/dev/null
check "--avg 1K..4K,64K --reps 2 is 8 cells" test "$(grep -c '^input=' "$T/dry")" -eq 8
expect_err "sweep without -o" 2 "-o FILE is required" sweep --avg 8K
expect_err "sweep unknown chunker" 2 "--chunkers: unknown value 'gear'" sweep -o "$T/x" --chunkers fastcdc,gear
expect_err "sweep bad threads" 2 "--threads: unknown value '0'" sweep -o "$T/x" --threads 0
expect_err "sweep bad reps" 2 "--reps: expected an integer" sweep -o "$T/x" --reps 0
expect_err "sweep bad avg" 2 "--avg: expected a size" sweep -o "$T/x" --avg 8Q
expect_err "sweep missing input" 2 "nope.*No such file" sweep -o "$T/x" "$T/nope"
expect_err "sweep forbids --json after --" 2 "not allowed after '--'" sweep -o "$T/x" -- --json y

# ---- rows --------------------------------------------------------------------------
OUT="$T/s.jsonl"
$DDB sweep -o "$OUT" --csv "$T/s.csv" --chunkers fastcdc,fixed --avg 4K "${SMALL[@]}" 2>"$T/log"
rc=$?
check "sweep of 2 cells exits 0 and writes 2 rows" test "$rc" -eq 0 -a "$(wc -l <"$OUT")" -eq 2
check "each row is a whole run report with its cell, command and per-stream rows" py '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["sweep"]["key"] for r in rows] == [
    "input=builtin chunker=%s avg=4096 hash=sha256 backend=cpu threads=auto rep=1 run=--tree-size 1M --generations 2 --per-stream" % c
    for c in ("fastcdc", "fixed")], [r["sweep"]["key"] for r in rows]
for r, c in zip(rows, ("fastcdc", "fixed")):
    assert r["schema"] == "ddx.run/1" and r["config"]["chunker"] == c and r["config"]["avg"] == 4096
    assert r["command"].startswith("ddbench run -q --chunker %s --avg 4096" % c), r["command"]
    assert len(r["per_stream"]) == 2 and r["per_stream"][1]["logical_bytes"] == r["logical_bytes"]
    assert sum(n for _, n in r["chunk_hist"]) == r["chunks"]
    assert r["machine"]["logical_cpus"] >= 1
' "$OUT"
check "CSV: one header and one row per cell" test "$(wc -l <"$T/s.csv")" -eq 3 -a "$(grep -c '^timestamp,' "$T/s.csv")" -eq 1

# ---- resumption --------------------------------------------------------------------
$DDB sweep -o "$OUT" --chunkers fastcdc,fixed --avg 4K "${SMALL[@]}" 2>"$T/log"
check "rerun skips both cells" grep -q "2 cells: 0 run, 2 already in" "$T/log"
$DDB sweep -o "$OUT" --chunkers fastcdc,fixed --avg 4K,8K "${SMALL[@]}" 2>"$T/log"
check "a wider grid runs only the new cells" grep -q "4 cells: 2 run, 2 already in" "$T/log"
check "... and appends their rows" test "$(wc -l <"$OUT")" -eq 4
$DDB sweep -o "$OUT" --chunkers fastcdc --avg 4K "${SMALL[@]/1M/2M}" 2>"$T/log"
check "other run options make other cells" grep -q "1 cells: 1 run, 0 already in" "$T/log"
printf '{"schema": "ddx.run/1", "tool": "ddbench", "logical_by' >>"$OUT"
$DDB sweep -o "$OUT" --chunkers fastcdc,fixed --avg 4K,8K "${SMALL[@]}" 2>"$T/log"
if grep -q "incomplete last row" "$T/log" && grep -q "4 cells: 0 run, 4 already in" "$T/log" &&
    [ "$(wc -l <"$OUT")" -eq 5 ] && [ "$(tail -c 1 "$OUT" | od -An -c | tr -d ' ')" = '\n' ]; then
    ok "a torn last row is cut off with a warning"
else
    bad "torn row: $(cat "$T/log")"
fi
cp "$OUT" "$T/bad.jsonl"
sed -i '2s/.*/{"not": "a sweep row"}/' "$T/bad.jsonl"
expect_err "a foreign row names file and line" 1 "bad.jsonl:2: not a ddbench sweep row" sweep -o "$T/bad.jsonl" --avg 4K
$DDB sweep -o "$OUT" --avg 4K "${SMALL[@]}" --impl hash=nope 2>"$T/log"
rc=$?
if [ "$rc" -eq 1 ] && grep -q "run=.*--impl hash=nope: failed (exit 2): .*unknown implementation" "$T/log" &&
    [ "$(wc -l <"$OUT")" -eq 5 ]; then
    ok "a failing cell is reported, leaves no row, and the sweep exits 1"
else
    bad "failing cell: rc=$rc $(cat "$T/log")"
fi

# ---- traces: record, replay, formats ------------------------------------------------
head -c 3000000 /dev/urandom >"$T/a.bin"
{ cat "$T/a.bin"; head -c 1000000 /dev/urandom; cat "$T/a.bin"; } >"$T/b.bin"
$DDB run -q --per-stream --json "$T/data.json" --record-trace "$T/rec.ddxt" "$T/a.bin" "$T/b.bin" >/dev/null 2>"$T/err"
check "--record-trace writes a trace" test -s "$T/rec.ddxt"
$DDB run -q --per-stream --json "$T/replay.json" "$T/rec.ddxt" >/dev/null 2>"$T/err"
check "replaying the recorded trace gives the data run's chunks, sizes and dedup" py '
import json, sys
d, r = (json.load(open(p)) for p in sys.argv[1:3])
assert r["input"]["kind"] == "trace" and r["trace"]["format"] == "ddx", r["input"]
assert r["trace"]["hash"] == "sha256" and r["trace"]["fp_bytes"] == 32
for k in ("logical_bytes", "unique_bytes", "chunks", "unique_chunks", "chunk_hist"):
    assert d[k] == r[k], (k, d[k], r[k])
assert [(s["logical_bytes"], s["unique_bytes"]) for s in d["per_stream"]] == \
       [(s["logical_bytes"], s["unique_bytes"]) for s in r["per_stream"]]
assert r["dedup_ratio"] > 1.4 and r["index"]["lookups_per_s"] > 0
assert r["stages"]["hash"]["bytes"] == 0 and r["stages"]["index"]["items"] == r["chunks"]
' "$T/data.json" "$T/replay.json"
$DDB run -q --json "$T/sha1.json" --hash sha1 --record-trace "$T/sha1.ddxt" "$T/b.bin" >/dev/null 2>&1
$DDB run -q --json "$T/sha1r.json" --trace-format ddx "$T/sha1.ddxt" >/dev/null 2>&1
check "a SHA-1 trace replays with 20-byte keys and the same counts" py '
import json, sys
d, r = (json.load(open(p)) for p in sys.argv[1:3])
assert r["config"]["hash"] == "sha1" and r["trace"]["fp_bytes"] == 20
assert (d["chunks"], d["unique_chunks"]) == (r["chunks"], r["unique_chunks"])
' "$T/sha1.json" "$T/sha1r.json"
for f in datasets/traces/sample.fiu datasets/traces/sample.fsl; do
    fmt=${f##*.}
    $DDB run -q --json "$T/$fmt.json" --record-trace "$T/$fmt.ddxt" "$f" >/dev/null 2>"$T/err"
    $DDB run -q --json "$T/$fmt-conv.json" "$T/$fmt.ddxt" >/dev/null 2>>"$T/err"
    check "$fmt sample replays, dedups, and converts to a ddx trace with the same counts" py '
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["trace"]["format"] == sys.argv[3] and b["trace"]["format"] == "ddx"
assert a["chunks"] > 100 and a["unique_chunks"] < a["chunks"], (a["chunks"], a["unique_chunks"])
for k in ("logical_bytes", "unique_bytes", "chunks", "unique_chunks"):
    assert a[k] == b[k], k
assert b["trace"]["hash"] == a["trace"]["hash"] and b["trace"]["fp_bytes"] == a["trace"]["fp_bytes"]
' "$T/$fmt.json" "$T/$fmt-conv.json" "$fmt"
done
check "FIU reads are skipped and counted" py '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["trace"]["hash"] == "md5" and r["trace"]["fp_bytes"] == 16 and r["trace"]["skipped"] > 0
assert r["config"]["hash"] == "sha1" and r["chunk_hist"] == [[4096, r["chunks"]]]
' "$T/fiu.json"
printf '89967404265337 4280 syslogd 902799352 8 W 6 0 79a6e6f6d7e2bd1e9d1c1afa0a9c6cb5\n89967404265338 4280 syslogd 902799360 8 W 6 0 79a6e6f6d7e2bd1e9d1c1afa0a9c6cbZ\n' >"$T/bad.fiu"
expect_err "a malformed FIU line names file:line" 1 "bad.fiu:2: " run -q "$T/bad.fiu"
head -c 4000 "$T/rec.ddxt" >"$T/cut.ddxt"
expect_err "a truncated ddx trace is refused" 1 "cut.ddxt.*(truncated|end block)" run -q "$T/cut.ddxt"
expect_err "traces and data do not mix" 2 "mix fingerprint traces and data" run "$T/rec.ddxt" "$T/a.bin"
expect_err "--trace-format needs trace paths" 2 "--trace-format: give the trace files" run --trace-format fiu
expect_err "--trace-format on a data file" 1 "a.bin" run -q --trace-format auto "$T/a.bin"
expect_err "sha1 keys cannot hold sha256 fingerprints" 2 "--hash sha1: its 20-byte index keys" run -q --hash sha1 "$T/rec.ddxt"
expect_err "trace replay refuses a GPU backend" 2 "nothing to chunk or hash" run -q --backend opencl "$T/rec.ddxt"
expect_err "--record-trace into a missing directory" 1 "--record-trace" run -q --record-trace "$T/no/such/dir/t.ddxt" "$T/a.bin"

# ---- traces into a store: the index and the metadata log, no data ------------------
DDXB="$B/ddx"
$DDB run -q --store "$T/ts" --json "$T/ts1.json" "$T/rec.ddxt" >/dev/null 2>"$T/err"
$DDB run -q --store "$T/ts" --json "$T/ts2.json" "$T/rec.ddxt" >/dev/null 2>>"$T/err"
check "a trace replays into a store; the second replay is all duplicates" py '
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["schema"] == "ddx.store-run/1" and a["versions_put"] == 2, a
assert 0 < a["new_chunks"] < a["chunks"], a
assert b["new_chunks"] == 0 and b["new_bytes"] == 0 and b["chunks"] == a["chunks"]
assert a["store_container_bytes"] == 0
' "$T/ts1.json" "$T/ts2.json"
check "ddx ls lists the trace versions" test "$("$DDXB" ls "$T/ts" | grep -c '^rec.ddxt@')" -eq 4
"$DDXB" get "$T/ts" rec.ddxt@1 "$T/out.bin" >/dev/null 2>"$T/err"
rc=$?
if [ "$rc" -ne 0 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "put from a fingerprint trace" "$T/err"; then
    ok "ddx get of a trace version: one line, non-zero exit"
else
    bad "ddx get of a trace version: rc=$rc $(cat "$T/err")"
fi
check "ddx verify counts the absent chunks" sh -c "'$DDXB' verify '$T/ts' | grep -q 'absent (put from fingerprint traces'"
expect_err "a trace store takes no data" 1 "takes no data puts" run -q --store "$T/ts" "$T/a.bin"
$DDB run -q --store "$T/ts1s" --hash sha1 "$T/a.bin" >/dev/null 2>&1
expect_err "sha1 store keys cannot hold sha256 trace fingerprints" 1 "cannot hold the trace's 32-byte" run -q --store "$T/ts1s" "$T/rec.ddxt"

echo "test_sweep: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
