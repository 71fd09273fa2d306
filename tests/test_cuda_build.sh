#!/usr/bin/env bash
# The nvcc build of kernels/cuda (docs/gpu.md): code for every target
# architecture, no register spills or stack, and a spill fails the build.
# Runs the Makefile's own rule into a scratch build directory.
# usage: test_cuda_build.sh        ends with "N passed, N failed"
set -u
cd "$(dirname "$0")/.."
pass=0 fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
NVCC=$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
if [ -z "$NVCC" ]; then
    echo "SKIP: nvcc not found (the CUDA build is not made on this machine)"
    echo "test_cuda_build: 0 passed, 0 failed"
    exit 0
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
OBJ=obj/kernels/cuda/ddx_cuda_nvcc.o

if make -s BUILD="$T/v" CUDA=nvcc NVCC_EXTRA="-Xptxas -v" "$T/v/$OBJ" >"$T/log" 2>&1; then
    ok "nvcc build"
else bad "nvcc build: $(tail -5 "$T/log")"; fi
for a in 75 80 86 90; do
    n=$(grep -c "Compiling entry function .* for 'sm_$a'" "$T/log")
    [ "$n" -ge 3 ] && ok "sm_$a: $n kernels compiled" || bad "sm_$a: $n kernels compiled"
done
spills=$(grep -E "bytes spill stores" "$T/log" | grep -vc "0 bytes spill stores, 0 bytes spill loads")
stack=$(grep -E "bytes stack frame" "$T/log" | grep -vcE "^ *0 bytes stack frame")
[ "$spills" -eq 0 ] && ok "no spills in any kernel" || bad "$spills kernels spill: $(grep spill "$T/log" | head -3)"
[ "$stack" -eq 0 ] && ok "no stack frame in any kernel" || bad "$stack kernels use a stack frame"
grep -hE "Used [0-9]+ registers" "$T/log" | sed -E 's/.*(Used [0-9]+ registers).*/  \1/' | sort | uniq -c
# PTX for the newest architecture rides along (JIT on future GPUs)
if grep -aq "compute_90" "$T/v/$OBJ"; then ok "PTX for compute_90 embedded"
else bad "no PTX in the object"; fi

# A kernel that must spill, under the same flags: the build has to fail.
if "$NVCC" $(make -s print-NVCC_FLAGS) -c tests/cuda_spill_probe.cu -o "$T/probe.o" >"$T/log2" 2>&1; then
    bad "a kernel that spills compiled: the flags do not make spills fatal"
elif grep -q "spill" "$T/log2"; then ok "a register spill fails the build"
else bad "the spill probe failed for another reason: $(tail -3 "$T/log2")"; fi
echo "test_cuda_build: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
