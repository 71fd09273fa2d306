#!/usr/bin/env bash
# Install what ddx needs on a fresh Debian 12: fast when everything is present.
set -euo pipefail
PKGS=(build-essential pkg-config libssl-dev libisal-dev libhwloc-dev libck-dev libcriterion-dev
      libbenchmark-dev ocl-icd-opencl-dev opencl-headers pocl-opencl-icd python3-matplotlib
      python3-pip hwloc clang-format clang restic borgbackup libtsan2)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    echo "deps: installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The test oracle for FastCDC cut points, for the python3 on PATH.
if ! python3 -c 'import pyfastcdc' 2>/dev/null; then
    echo "deps: pip install pyfastcdc"
    python3 -m pip install -q pyfastcdc 2>/dev/null ||
        python3 -m pip install -q --break-system-packages pyfastcdc
fi
# The plotter (harness/ddx_plot.py, tests/test_plot.sh), for the python3 on PATH
# (python3-matplotlib above serves only Debian's own python3).
if ! python3 -c 'import matplotlib' 2>/dev/null; then
    echo "deps: pip install matplotlib"
    python3 -m pip install -q matplotlib 2>/dev/null ||
        python3 -m pip install -q --break-system-packages matplotlib
fi
