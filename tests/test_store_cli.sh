#!/usr/bin/env bash
# The ddx command-line tool over a real store: init, put (file, again,
# stdin, directory as ustar), get (byte-exact, @N, untar), ls, stat, rm, gc,
# verify, damage found by verify and get, the writer lock, and every error
# path: one line on stderr naming the store or file, exit 2 for a bad command
# line, 1 for a run-time failure.
# usage: test_store_cli.sh BUILD_DIR        ends with "test_store_cli: N passed, N failed"
set -u
B=${1:?usage: test_store_cli.sh BUILD_DIR}
DDX="$B/ddx"
T=$(mktemp -d)
[ -n "${KEEP:-}" ] && echo "keeping $T"
BG=
trap '[ -n "$BG" ] && kill "$BG" 2>/dev/null; [ -n "${KEEP:-}" ] || { chmod -R u+rwx "$T"; rm -rf "$T"; }' EXIT
pass=0 fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
check() { # check NAME COMMAND...: pass if the command succeeds
    local name=$1
    shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}

# expect_err NAME WANT_RC PATTERN ARGS...: exit status WANT_RC, exactly one
# line on stderr matching PATTERN, nothing on stdout
expect_err() {
    local name=$1 want=$2 pat=$3
    shift 3
    $DDX "$@" >"$T/out" 2>"$T/err" </dev/null
    local rc=$?
    local lines
    lines=$(wc -l <"$T/err")
    if [ "$rc" -eq "$want" ] && [ "$lines" -eq 1 ] && grep -qE -- "$pat" "$T/err" && [ ! -s "$T/out" ]; then
        ok "$name"
    else
        bad "$name (rc=$rc want $want, $lines stderr lines: $(head -c 300 "$T/err"), stdout $(wc -c <"$T/out") bytes)"
    fi
}

S="$T/store"
head -c 5000000 /dev/urandom >"$T/a.bin"
head -c 700000 /dev/urandom >"$T/b.bin"
# a small tree: nested directories, an empty one, a symlink, modes, a path
# that needs ustar's prefix field (over 100 bytes, split at a '/')
c40=$(printf 'd%.0s' {1..40})
long="$c40/$c40/$c40/$c40"
mkdir -p "$T/tree/sub/deeper" "$T/tree/empty" "$T/tree/$long"
cp "$T/b.bin" "$T/tree/sub/b.bin"
echo hello >"$T/tree/hello.txt"
printf 'x%.0s' {1..1000} >"$T/tree/sub/deeper/xs"
: >"$T/tree/zero"
chmod 600 "$T/tree/zero"
printf '#!/bin/sh\n' >"$T/tree/run.sh" && chmod 755 "$T/tree/run.sh"
ln -s sub/b.bin "$T/tree/link"
echo far >"$T/tree/$long/$(printf 'f%.0s' {1..50})"

# ---- happy paths ----
if $DDX init "$S" --avg 8K >"$T/out" 2>"$T/err" && grep -q "fastcdc min 2048 avg 8192 max 65536" "$T/out" &&
    [ -f "$S/ddx-store" ] && [ ! -s "$T/err" ]; then ok "init"; else bad "init: $(cat "$T/out" "$T/err")"; fi
if $DDX put "$S" f "$T/a.bin" >"$T/put1" 2>"$T/err" &&
    grep -qE "^f@1 \(version id 1\): 4\.8 MiB, [0-9]+ chunks, [0-9]+ new \(4\.8 MiB written\), dedup 1\.00x, metadata [0-9.]+ [KM]?i?B, [0-9.]+ s \([0-9.]+ GB/s\)$" "$T/put1"; then
    ok "put a 5 MB file"
else bad "put a 5 MB file: $(cat "$T/put1" "$T/err")"; fi
if $DDX put "$S" f "$T/a.bin" >"$T/put2" 2>&1 && grep -qE "^f@2 .* 0 new \(0 B written\), nothing new" "$T/put2"; then
    ok "put again: no new chunks"
else bad "put again: $(cat "$T/put2")"; fi
if cat "$T/b.bin" | $DDX put "$S" f - >"$T/put3" 2>&1 && grep -qE "^f@3 \(version id 3\): 683\.6 KiB" "$T/put3"; then
    ok "put stdin"
else bad "put stdin: $(cat "$T/put3")"; fi
if $DDX put "$S" tree "$T/tree" >"$T/put4" 2>&1 && grep -qE "^tree@1 \(version id 4\)" "$T/put4"; then
    ok "put a directory"
else bad "put a directory: $(cat "$T/put4")"; fi
if $DDX put "$S" tree "$T/tree" >"$T/put5" 2>&1 && grep -qE "^tree@2 .* 0 new" "$T/put5"; then
    ok "put the same directory again: the archive is deterministic"
else bad "put the same directory again: $(cat "$T/put5")"; fi

check "get latest (to stdout) is byte-exact" bash -c "$DDX get '$S' f | cmp -s - '$T/b.bin'"
check "get @1 to a file is byte-exact" bash -c "$DDX get '$S' f@1 '$T/o1' && cmp -s '$T/o1' '$T/a.bin' && [ ! -e '$T/o1.tmp' ]"
check "get @2 with - is byte-exact" bash -c "$DDX get '$S' f@2 - | cmp -s - '$T/a.bin'"
check "get overwrites an existing OUT" bash -c "echo old >'$T/o3' && $DDX get '$S' f@3 '$T/o3' && cmp -s '$T/o3' '$T/b.bin'"
mkdir "$T/restored"
if $DDX get "$S" tree | tar -x -C "$T/restored" 2>"$T/err" && diff -r "$T/tree" "$T/restored" >"$T/out" 2>&1 &&
    [ "$(readlink "$T/restored/link")" = sub/b.bin ] &&
    [ "$(stat -c %a "$T/restored/zero")" = 600 ] && [ "$(stat -c %a "$T/restored/run.sh")" = 755 ] &&
    [ "$(stat -c %Y "$T/restored/sub/b.bin")" = "$(stat -c %Y "$T/tree/sub/b.bin")" ] && [ -d "$T/restored/empty" ]; then
    ok "directory version untars to an identical tree (symlink, modes, mtime, empty dir, long path)"
else bad "directory untar: $(head -5 "$T/out" "$T/err")"; fi

$DDX ls "$S" >"$T/ls" 2>&1
if [ "$(wc -l <"$T/ls")" -eq 5 ] &&
    grep -qE "^f@1 +1 +5000000 +[0-9]+  20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z$" "$T/ls" &&
    grep -qE "^f@3 +3 +700000 " "$T/ls" && grep -qE "^tree@2 +5 " "$T/ls"; then
    ok "ls lists the versions"
else bad "ls: $(cat "$T/ls")"; fi
$DDX stat "$S" >"$T/stat" 2>&1
if grep -qE "^versions +5$" "$T/stat" && grep -qE "^logical_bytes +[0-9]{8} +\([0-9.]+ MiB\)$" "$T/stat" &&
    grep -qE "^chunker +fastcdc$" "$T/stat" && grep -qE "^hash +sha256$" "$T/stat" &&
    grep -qE "^dedup_ratio +[0-9]+\.[0-9]+$" "$T/stat" && grep -qE "^containers +[1-9]" "$T/stat"; then
    ok "stat"
else bad "stat: $(cat "$T/stat")"; fi

# ---- rm, gc ----
if $DDX rm "$S" f@1 >"$T/out" 2>&1 && grep -q "removed f@1" "$T/out"; then ok "rm f@1"; else bad "rm: $(cat "$T/out")"; fi
expect_err "get a removed version" 1 "store: f@1: no such version \(it was removed\); f has 2 versions \(@2, @3\)" get "$S" f@1
check "f@2 still restores" bash -c "$DDX get '$S' f@2 | cmp -s - '$T/a.bin'"
$DDX rm "$S" f@2 >/dev/null 2>&1
if $DDX gc "$S" >"$T/gc" 2>&1 && grep -qE "^freed_chunks +[0-9]+$" "$T/gc" && grep -qE "^containers_removed +[0-9]+$" "$T/gc"; then
    ok "gc"
else bad "gc: $(cat "$T/gc")"; fi
# the removed 5 MB were most of the log: gc rewrites it as generation 1
if grep -qE "^log_bytes +[0-9]+  \(compacted from [0-9]+\)$" "$T/gc" && [ -f "$S/meta/log.00000001" ] &&
    [ ! -e "$S/meta/log" ]; then
    ok "gc compacts the log"
else bad "gc compacts the log: $(cat "$T/gc"; ls "$S/meta")"; fi
if $DDX gc --compact-log "$S" >"$T/gc2" 2>&1 && grep -qE "^log_bytes .*compacted from" "$T/gc2" &&
    [ -f "$S/meta/log.00000002" ] && [ ! -e "$S/meta/log.00000001" ]; then
    ok "gc --compact-log forces a compaction"
else bad "gc --compact-log: $(cat "$T/gc2"; ls "$S/meta")"; fi
# a reader blocked on a full pipe keeps its handle open: no forced compaction
$DDX get "$S" f - | { sleep 3; cat >/dev/null; } &
sleep 1
$DDX gc --compact-log "$S" >"$T/out" 2>"$T/err"
rc=$?
wait
if [ "$rc" -eq 1 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "other handles have the store open" "$T/err"; then
    ok "gc --compact-log refuses while a reader has the store open"
else bad "gc --compact-log with a reader: rc=$rc $(cat "$T/err")"; fi
check "after gc: f restores" bash -c "$DDX get '$S' f | cmp -s - '$T/b.bin'"
check "after gc: tree@1 restores" bash -c "mkdir '$T/r2' && $DDX get '$S' tree@1 | tar -x -C '$T/r2' && diff -r '$T/tree' '$T/r2'"
if $DDX verify "$S" >"$T/out" 2>&1 && grep -q "intact" "$T/out"; then ok "verify: intact, exit 0"
else bad "verify clean: $(cat "$T/out")"; fi

# ---- the writer lock: a put waiting on a slow pipe holds it ----
(sleep 2 | $DDX put "$S" slow - >"$T/slow.out" 2>&1) &
BG=$!
sleep 0.5
expect_err "second writer: locked" 1 "store: locked: another ddx is writing" put "$S" f "$T/b.bin"
expect_err "rm while locked" 1 "locked" rm "$S" f@3
check "a reader runs alongside the writer" bash -c "$DDX ls '$S' | grep -q '^f@3 '"
wait "$BG"
brc=$?
BG=
if [ "$brc" -eq 0 ] && grep -qE "^slow@1 .*: 0 B, 0 chunks" "$T/slow.out"; then ok "the slow put completes"
else bad "slow put: rc=$brc $(cat "$T/slow.out")"; fi

# ---- error paths ----
expect_err "missing store" 1 "nostore: no such store" ls "$T/nostore"
mkdir "$T/notastore"
expect_err "directory that is not a store" 1 "notastore: not a ddx store" stat "$T/notastore"
$DDX init "$T/newer" >/dev/null && printf '\x09\x00' | dd of="$T/newer/ddx-store" bs=1 seek=8 conv=notrunc 2>/dev/null
expect_err "newer store format" 1 "newer/ddx-store: store format 9\.1; this ddx reads format" ls "$T/newer"
$DDX init "$T/cor" >/dev/null && head -c 1024 /dev/urandom | dd of="$T/cor/meta/super" conv=notrunc 2>/dev/null
expect_err "corrupt superblock" 1 "cor/meta/super: both slots unreadable" get "$T/cor" f
# a store copied whole is a store of its own; with --meta elsewhere a copy
# is refused for writing while its original exists
cp -a "$S" "$T/copy" && printf 'only in the copy' >"$T/c.txt" &&
    $DDX put "$T/copy" onlycopy "$T/c.txt" >/dev/null 2>&1
if $DDX get "$T/copy" onlycopy - 2>/dev/null | cmp -s - "$T/c.txt" &&
    ! $DDX ls "$S" | grep -q onlycopy && $DDX verify "$S" >/dev/null; then ok "a copied store is a store of its own"
else bad "copied store: $($DDX ls "$S" 2>&1 | head -3)"; fi
$DDX init "$T/ext" --meta "$T/extmeta" >/dev/null && cp -a "$T/ext" "$T/extcopy"
if $DDX ls "$T/extcopy" 2>"$T/err" >/dev/null && grep -q "extcopy: a copy of the store at .*/ext, whose metadata it shares" "$T/err"; then
    ok "reading a copy of a store with --meta elsewhere says it is a copy"
else bad "ls of a copy: $(cat "$T/err")"; fi
expect_err "copy of a store with --meta elsewhere" 1 "extcopy: a copy of the store at .*/ext, whose metadata \\(.*/extmeta\\) it shares" put "$T/extcopy" f "$T/c.txt"
expect_err "init a non-empty directory" 1 "store: directory is not empty" init "$S"
expect_err "unknown name" 1 "store: nope: no such name" get "$S" nope
expect_err "unknown version" 1 "store: f@9: no such version; f has 1 version \(@3\)" get "$S" f@9
expect_err "bad NAME@N: @0" 2 "get: 'f@0': expected NAME@N" get "$S" f@0
expect_err "bad NAME@N: @x" 2 "get: 'f@x': expected NAME@N" get "$S" f@x
expect_err "bad NAME@N: empty N" 2 "get: 'f@': expected NAME@N" get "$S" f@
expect_err "bad NAME@N: sign" 2 "get: 'f@\+1': expected NAME@N" get "$S" f@+1
expect_err "bad NAME@N: overflow" 2 "get: 'f@99999999999': expected NAME@N" get "$S" f@99999999999
expect_err "bad NAME@N: empty name" 2 "get: '@1': empty name" get "$S" @1
expect_err "rm needs @N" 2 "rm: 'f': give the version to remove as f@N" rm "$S" f
expect_err "put name with @" 2 "put: 'f@2': names may not contain '@'" put "$S" f@2 "$T/a.bin"
expect_err "put name with /" 2 "put: 'a/b': names may not contain '/'" put "$S" a/b "$T/a.bin"
expect_err "put missing path" 1 "nofile: No such file or directory" put "$S" f "$T/nofile"
expect_err "get to an unwritable OUT" 1 "nodir/out: No such file or directory" get "$S" f "$T/nodir/out"
expect_err "get to a directory" 1 "is a directory" get "$S" f "$T"
expect_err "missing operand" 2 "put: expected STORE NAME PATH" put "$S" f
expect_err "extra operand" 2 "ls: unexpected operand 'x'" ls "$S" x
expect_err "unknown option" 2 "get: unknown option '--frob'" get --frob "$S" f
expect_err "option without its value" 2 "init: option '--avg' needs a value" init "$T/s2" --avg
expect_err "unknown command" 2 "unknown command 'push'" push "$S"
expect_err "bad chunk size" 2 "init: --avg: expected a size" init "$T/s2" --avg 8Q
expect_err "chunker parameters refused" 2 "min chunk size must be <= avg" init "$T/s2" --min 16K --avg 8K
expect_err "unknown hash" 2 "init: --hash: expected sha1 or sha256, got 'md5'" init "$T/s2" --hash md5
[ -e "$T/s2" ] && bad "a refused init left $T/s2 behind" || ok "a refused init creates nothing"
mkfifo "$T/tree2fifo" && mkdir "$T/t2" && mv "$T/tree2fifo" "$T/t2/pipe"
expect_err "directory with a FIFO" 1 "t2/pipe: is a FIFO" put "$S" t2 "$T/t2"
mkdir "$T/t3" && : >"$T/t3/$(printf 'n%.0s' {1..101})"
expect_err "name too long for ustar" 1 "t3/n+: archive name 'n+' is 101 bytes" put "$S" t3 "$T/t3"
# unreadable input: root reads anything, so as root run ddx as nobody
chmod 755 "$T" && head -c 1000 /dev/urandom >"$T/secret" && chmod 000 "$T/secret"
if [ "$(id -u)" -ne 0 ]; then
    expect_err "unreadable PATH" 1 "secret: Permission denied" put "$S" s "$T/secret"
elif command -v runuser >/dev/null && runuser -u nobody -- "$DDX" --version >/dev/null 2>&1; then
    DDX_SAVE=$DDX
    DDX="runuser -u nobody -- $DDX_SAVE"
    expect_err "unreadable PATH" 1 "secret: Permission denied" put "$S" s "$T/secret"
    DDX=$DDX_SAVE
else
    echo "SKIP unreadable PATH (root, and cannot run ddx as nobody)"
fi

# ---- damage: flip one byte in the middle of the largest container ----
# (after gc the remaining containers may hold dead bytes; a fresh 5 MB put
# fills the largest one with live chunks past its middle)
$DDX put "$S" g "$T/a.bin" >/dev/null 2>&1 || bad "put before the damage test"
ctr=$(ls -S "$S"/data/*.ctr | head -1)
size=$(stat -c %s "$ctr")
old=$(od -An -tu1 -j $((size / 2)) -N1 "$ctr" | tr -d ' ')
printf "\\x$(printf %02x $(((old + 1) % 256)))" | dd of="$ctr" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
$DDX verify "$S" >"$T/out" 2>"$T/err"
vrc=$?
if [ "$vrc" -eq 1 ] && grep -q "data/$(basename "$ctr") offset .*fingerprint mismatch" "$T/out" &&
    grep -qE "[1-9][0-9]* damaged chunk" "$T/out"; then
    ok "verify finds the flipped byte, names the container, exit 1"
else bad "verify damaged: rc=$vrc $(cat "$T/out" "$T/err")"; fi
# which version uses the damaged chunk: verify says "in: NAME@N, ..."
victim=$(grep -oE "in: [^,]+" "$T/out" | head -1 | cut -c5-)
if [ -n "$victim" ]; then
    expect_err "get of a damaged version" 1 "fingerprint mismatch|checksum" get "$S" "$victim" "$T/dmg"
    [ ! -e "$T/dmg" ] && [ ! -e "$T/dmg.tmp" ] && ok "a failed get leaves no OUT and no OUT.tmp" ||
        bad "a failed get left $(ls "$T"/dmg*)"
else bad "verify named no version using the damaged chunk: $(cat "$T/out")"; fi

# ---- help and version ----
check "--version" bash -c "$DDX --version | grep -qE '^ddx [0-9]+\.[0-9]+\.[0-9]+$'"
check "--help lists the commands" bash -c "$DDX --help | grep -qE '^  verify STORE '"
for c in init put get ls stat rm gc verify; do
    if $DDX $c --help >"$T/out" 2>&1 && grep -q "^usage: ddx $c " "$T/out" && grep -q -- "--help" "$T/out"; then :
    else bad "ddx $c --help: $(head -3 "$T/out")"; continue; fi
    ok "ddx $c --help"
done
check "put --help says get returns the archive" bash -c "$DDX put --help | grep -q 'tar -x'"

echo "test_store_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
