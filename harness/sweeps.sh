#!/usr/bin/env bash
# The runs behind results/sweep-*.jsonl, which `make plots` draws into
# results/plots/ (results/README.md says which figure comes from which file).
# usage: harness/sweeps.sh             (make sweeps; BUILD=build, DATA=/tmp/ddx-sweeps)
# Long: about 20 minutes on the 2-core development VM, most of it the
# 100-million-record trace. Resumable: every sweep skips the cells already in
# its output, so an interrupted run picks up where it stopped; delete a file to
# redo it. The data sets are generated (deterministically) into DATA first.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
D=${DATA:-/tmp/ddx-sweeps}
R=results
mkdir -p "$D" "$R"
gen() { # gen NAME ARGS...: generate once into $D/NAME
    local name=$1
    shift
    [ -e "$D/$name" ] || "$B/ddx-datagen" "$@" --out "$D/$name"
}
gen backup --kind backup --generations 10 --tree-bytes 64M
gen vm --kind vm --generations 6 --gen-bytes 128M
gen lowdedup --kind lowdedup --generations 4 --gen-bytes 128M
for n in 100000 1000000 10000000 100000000; do
    gen "trace-$n.ddxt" --kind trace --chunks "$n" --dup-ratio 4
done

# Dedup ratio, throughput and chunk sizes against the average chunk size, for
# every chunker, on the three data kinds (per-stream rows: dedup by generation).
"$B/ddbench" sweep -o "$R/sweep-chunkers.jsonl" --chunkers fixed,rabin,tttd,fastcdc,ram \
    --avg 1K..64K "$D/backup" "$D/vm" "$D/lowdedup" -- --per-stream
# Scaling with threads, per hash, for the two fastest chunkers (3 repetitions).
"$B/ddbench" sweep -o "$R/sweep-threads.jsonl" --chunkers fastcdc,ram --hash sha1,sha256 \
    --threads 1,2 --reps 3 "$D/backup"
# Backends side by side on the same bytes (OpenCL runs on PoCL here, not a GPU).
"$B/ddbench" sweep -o "$R/sweep-backends.jsonl" --backend cpu,opencl --reps 3 "$D/backup"
# The index at scale: synthetic traces of 10^5..10^8 fingerprints (4x dedup),
# and the sample traces of each format.
"$B/ddbench" sweep -o "$R/sweep-traces.jsonl" "$D"/trace-*.ddxt \
    datasets/traces/sample.fiu datasets/traces/sample.fsl
