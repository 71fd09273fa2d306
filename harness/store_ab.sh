#!/bin/bash
# store_ab.sh - time two (or more) ddx builds side by side on the same store
# operation, alternating them run by run (this VM's timings drift too much
# for anything else), and print each build's median and all its samples.
#
#   harness/store_ab.sh put     REPS FILE       DDX...   fresh store, put FILE
#   harness/store_ab.sh putdup  REPS BASE FILE  DDX...   store holding BASE, put FILE
#   harness/store_ab.sh pipe    REPS BASE FILE  DDX...   the same, FILE through a pipe (cat |)
#   harness/store_ab.sh get     REPS FILE OUT   DDX...   store holding FILE, get it to OUT
#
# DDX is a path to a ddx binary (build one per commit, e.g. in a git worktree).
# Stores go under ${STORE_AB_DIR:-/var/tmp/ddx-store-ab} (the disk, not tmpfs).
# docs/benchmarks.md ("Put and restore changes measured alone") used it.
set -euo pipefail
[ $# -ge 4 ] || { sed -n 2,14p "$0" >&2; exit 2; }
mode=$1 reps=$2
shift 2
case $mode in
put) base= file=$1; shift ;;
putdup | pipe) base=$1 file=$2; shift 2 ;;
get) base=$1 out=$2; shift 2 ;;
*) echo "store_ab.sh: unknown mode '$mode'" >&2; exit 2 ;;
esac
root=${STORE_AB_DIR:-/var/tmp/ddx-store-ab}
mkdir -p "$root"
n=0
for bin in "$@"; do
    [ -x "$bin" ] || { echo "store_ab.sh: $bin: not an executable" >&2; exit 2; }
    s=$root/s$n
    n=$((n + 1))
    if [ "$mode" != put ]; then
        rm -rf "$s"
        "$bin" init "$s" >/dev/null
        "$bin" put "$s" v "$base" >/dev/null
    fi
done
now() { date +%s.%N; }
for r in $(seq "$reps"); do
    n=0
    for bin in "$@"; do
        s=$root/s$n
        n=$((n + 1))
        case $mode in
        put)
            rm -rf "$s"
            "$bin" init "$s" >/dev/null
            t0=$(now); "$bin" put "$s" v "$file" >/dev/null; t1=$(now) ;;
        putdup) t0=$(now); "$bin" put "$s" v "$file" >/dev/null; t1=$(now) ;;
        pipe) t0=$(now); cat "$file" | "$bin" put "$s" v - >/dev/null; t1=$(now) ;;
        get)
            rm -f "$out"
            t0=$(now); "$bin" get "$s" v@1 "$out"; t1=$(now)
            cmp -s "$out" "$base" || { echo "store_ab.sh: $bin restored different bytes" >&2; exit 1; } ;;
        esac
        echo "$bin $(echo "$t1 - $t0" | bc)"
    done
done | python3 -c '
import sys, statistics
runs = {}
for line in sys.stdin:
    b, t = line.split()
    runs.setdefault(b, []).append(float(t))
for b, v in runs.items():
    print("%-40s median %.3f s   %s" % (b, statistics.median(v), " ".join("%.3f" % x for x in v)))'
[ "$mode" = get ] && rm -f "$out"
rm -rf "$root"
