#!/usr/bin/env python3
"""Kernel rates of ddx beside its competitors, on the same bytes, in one run.

  ddx            build/stagebench: every kernel in the registry, one thread
  isa-l_crypto   the same stagebench built with it (make ISAL_CRYPTO_DIR=...),
                 whose registry then also holds sha*-isal-mb: measured in the
                 same process and loop as ours
  dedup-bench    its dedup.exe in chunk-only mode, FastCDC and RAM at 8 KiB
                 (DEDUP_BENCH_EXE=/path/to/dedup.exe)
  pyfastcdc      FastCDC(8192, 2048, 65536, nc 1).cut_buf over the bytes

Competitors are never built or fetched by this script: point it at your own
builds in /tmp (docs/benchmarks.md says how they were made). Missing ones are
reported as "not run". Writes results/kernels.json and prints a Markdown table.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def stagebench(exe, path, reps):
    out = subprocess.run([exe, "--reps", str(reps), "--max-bytes", "512", path], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)["rates_bytes_per_s"]


def dedup_bench(exe, path, reps):
    """dedup-bench reports 'Chunking Throughput (MB/sec)'; its MB is 2^20 bytes
    (bytes / 1024 / 1024 / seconds in its driver)."""
    res = {}
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "in")
        os.mkdir(data)
        os.symlink(os.path.abspath(path), os.path.join(data, "input"))
        confs = {
            "fastcdc": "chunking_algo=fastcdc\nfastcdc_min_block_size=2048\n"
                       "fastcdc_avg_block_size=8192\nfastcdc_max_block_size=65536\n"
                       "fastcdc_normalization_level=1\nfastcdc_disable_normalization=false\n",
            "ram": "chunking_algo=ram\nram_avg_block_size=8192\nram_max_block_size=65536\n",
        }
        for name, body in confs.items():
            for simd in ("none", "avx512"):
                if name == "fastcdc" and simd != "none":
                    continue
                conf = os.path.join(d, f"{name}-{simd}.conf")
                with open(conf, "w") as f:
                    f.write(f"hashing_algo=sha256\noutput_file={d}/out.txt\nsimd_mode={simd}\n"
                            f"buffer_size=1048576\n{body}")
                rates = []
                for _ in range(reps):
                    p = subprocess.run([exe, data, conf, "t"], capture_output=True, text=True)
                    m = re.search(r"Chunking Throughput \(MB/sec\): ([0-9.]+)", p.stdout + p.stderr)
                    if not m:
                        break
                    rates.append(float(m.group(1)) * 1024 * 1024)
                if rates:
                    res[f"dedup-bench {name}" + ("" if simd == "none" else f" ({simd})")] = \
                        statistics.median(rates)
    return res


def pyfastcdc_rate(path, reps):
    try:
        from pyfastcdc import FastCDC
    except ImportError:
        return None
    with open(path, "rb") as f:
        data = f.read(512 << 20)
    cdc = FastCDC(8192, min_size=2048, max_size=65536, normalized_chunking=1)
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _c in cdc.cut_buf(data):
            pass
        t.append(time.perf_counter() - t0)
    return len(data) / statistics.median(t)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("inputs", nargs="*", default=["/tmp/ddx-bench/usr.tar"])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(ROOT, "results", "kernels.json"))
    a = ap.parse_args()
    isal_exe = os.path.join(a.build, "isal", "stagebench")
    db_exe = os.environ.get("DEDUP_BENCH_EXE")
    res = {"schema": "ddx.kernels/1", "command": "harness/kernel_bench.py " + " ".join(sys.argv[1:]),
           "env": {"DEDUP_BENCH_EXE": db_exe, "DDX_CPU_MASK": os.environ.get("DDX_CPU_MASK")},
           "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "inputs": {}}
    for path in a.inputs:
        r = {}
        # interleave the contenders rep by rep so drift hits all alike
        runs = {"ddx": [], "isal": [], "db": [], "py": []}
        for _ in range(a.reps):
            runs["ddx"].append(stagebench(os.path.join(a.build, "stagebench"), path, 1))
            if os.path.exists(isal_exe):
                runs["isal"].append(stagebench(isal_exe, path, 1))
            if db_exe and os.path.exists(db_exe):
                runs["db"].append(dedup_bench(db_exe, path, 1))
            runs["py"].append(pyfastcdc_rate(path, 1))

        def med(dicts, key):
            v = [d[key] for d in dicts if key in d]
            return statistics.median(v) if v else None

        for k in runs["ddx"][0]:
            r["ddx " + k] = med(runs["ddx"], k)
        for k in (runs["isal"][0] if runs["isal"] else {}):
            if "isal" in k:
                r["isa-l_crypto " + k] = med(runs["isal"], k)
        for k in (runs["db"][0] if runs["db"] else {}):
            r[k] = med(runs["db"], k)
        py = [x for x in runs["py"] if x]
        if py:
            r["pyfastcdc fastcdc"] = statistics.median(py)
        res["inputs"][path] = r
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out + ".tmp", "w") as f:
        json.dump(res, f, indent=1)
    os.replace(a.out + ".tmp", a.out)
    for path, r in res["inputs"].items():
        print(f"\n{path}: single-thread GB/s (1e9 B/s), median of {a.reps} interleaved runs\n")
        print("| kernel | GB/s |\n|---|---|")
        for k, v in r.items():
            if v:
                print(f"| {k} | {v / 1e9:.2f} |")
    print(f"\nwrote {os.path.relpath(a.out, ROOT)}")


if __name__ == "__main__":
    main()
