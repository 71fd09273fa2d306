#!/usr/bin/env python3
"""FastCDC 2020 cut points of ddx == those of pyfastcdc, an independent
implementation (a port of fastcdc-rs's v2020 module), on random, zero, text
and real data at several parameter sets, through both ddx paths: the find
function over the whole buffer and the streaming wrapper fed in odd pieces.

usage: fastcdc_oracle.py BUILD_DIR      (uses BUILD_DIR/tests/tool_cuts)
Prints one line per case and ends with "N passed, N failed".
"""
import os
import random
import subprocess
import sys
import tempfile

try:
    from pyfastcdc import FastCDC
    from pyfastcdc.py.constants import GEAR, MASKS
except ImportError:
    print("fastcdc_oracle: pyfastcdc is not installed (make deps installs it)", file=sys.stderr)
    sys.exit(1)

SEED = int(os.environ.get("DDX_TEST_SEED", "0x5eed2026"), 0)
PARAMS = [  # (min, avg, max, normalization)
    (2048, 8192, 65536, 1),
    (64, 256, 1024, 2),
    (16384, 65536, 262144, 0),
    (1024, 4096, 16384, 3),
    (1000, 3000, 9000, 1),  # not powers of two, odd ratios
]
REAL_CANDIDATES = ["/usr/lib/x86_64-linux-gnu/libcrypto.so.3", "/usr/bin/python3",
                   "/usr/lib/x86_64-linux-gnu/libc.so.6", "/bin/bash"]


def datasets(n):
    rnd = random.Random(SEED)
    yield "random", rnd.randbytes(n)
    yield "zero", bytes(n)
    words = [b"the ", b"chunk ", b"index ", b"of ", b"data ", b"and ", b"backup ", b"\n"]
    text = bytearray()
    while len(text) < n:
        text += rnd.choice(words)
    yield "text", bytes(text[:n])
    real = bytearray()
    for path in REAL_CANDIDATES:
        if os.path.exists(path):
            with open(os.path.realpath(path), "rb") as f:
                real += f.read(n - len(real))
        if len(real) >= n:
            break
    yield "real", bytes(real)


def ours(tool, p, feed, path, impl):
    out = subprocess.run([tool, "fastcdc", *map(str, p), str(feed), path, impl], check=True,
                         capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def fastcdc_impls(build):
    """Every FastCDC kernel this CPU runs (ddbench --list-impls)."""
    out = subprocess.run([os.path.join(build, "ddbench"), "run", "--list-impls"], check=True,
                         capture_output=True, text=True).stdout
    return [f[2] for f in (line.split() for line in out.splitlines())
            if f[:2] == ["chunk", "fastcdc"] and f[3] == "available"]


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    tool = os.path.join(sys.argv[1], "tests", "tool_cuts")
    impls = fastcdc_impls(sys.argv[1])
    passed = failed = 0

    def check(name, ok, detail=""):
        nonlocal passed, failed
        print(f"{'PASS' if ok else 'FAIL'} {name}{(': ' + detail) if detail and not ok else ''}")
        passed += ok
        failed += not ok

    tables = [int(x) for x in subprocess.run([tool, "--tables"], check=True, capture_output=True,
                                             text=True).stdout.split()]
    check("gear table == pyfastcdc GEAR", tables[:256] == list(GEAR))
    check("mask table == pyfastcdc MASKS", tables[256:] == list(MASKS))

    with tempfile.TemporaryDirectory() as tmp:
        for cls, data in datasets(3 * 1024 * 1024 + 777):
            path = os.path.join(tmp, cls)
            with open(path, "wb") as f:
                f.write(data)
            for p in PARAMS:
                mn, avg, mx, nc = p
                ref = [c.offset + c.length for c in
                       FastCDC(avg, min_size=mn, max_size=mx, normalized_chunking=nc).cut_buf(data)]
                # every kernel one-shot; the default (first) also streaming
                runs = [(impl, 0) for impl in impls] + [(impls[0], 1), (impls[0], 4093)]
                for impl, feed in runs:
                    got = ours(tool, p, feed, path, impl)
                    first = next((i for i, (a, b) in enumerate(zip(got, ref)) if a != b), None)
                    detail = (f"{len(got)} vs {len(ref)} chunks" if first is None else
                              f"cut {first}: {got[first]} vs {ref[first]}")
                    check(f"{impl} {cls} min={mn} avg={avg} max={mx} nc={nc} "
                          f"{'one-shot' if feed == 0 else f'feed {feed}'} ({len(ref)} chunks)",
                          got == ref, detail)
    print(f"fastcdc_oracle: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
