#!/usr/bin/env python3
"""End-to-end benchmark: `ddbench run` against `openssl dgst -sha256` on the
same bytes, warm page cache, runs interleaved, medians reported.

Inputs (made once under --work, default /tmp/ddx-bench, never committed):
  builtin  the built-in dataset (10 backup generations), written out by
           ddx-datagen so that both tools read the same files;
  usr-tar  the first 1 GiB of `tar -cf - -C / usr`.
Also runs stagebench (single-thread rate of every stage's kernel) on each
input, so the pipeline's efficiency can be read off:
  bound = cores / sum(1 / stage rate)   (chunk + hash + read copy + index)
  efficiency = end-to-end rate / bound.

Writes results/bench-e2e.json (with machine info and the exact commands)
and prints a Markdown table for docs/benchmarks.md.
"""
import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, **kw)


def timed(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    flags = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = line
                break
    return {
        "cpu_model": cpu,
        "logical_cpus": os.cpu_count(),
        "sha_ni": " sha_ni" in flags,
        "avx2": " avx2" in flags,
        "avx512f": " avx512f" in flags,
        "kernel": platform.release(),
        "memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
        "openssl": subprocess.run(["openssl", "version"], capture_output=True,
                                  text=True).stdout.strip(),
    }


def prepare(work, build):
    os.makedirs(work, exist_ok=True)
    gen = os.path.join(work, "builtin")
    if not os.path.exists(os.path.join(gen, "gen-10.tar")):
        sh(f"{build}/ddx-datagen --out {gen}")
    tar = os.path.join(work, "usr.tar")
    if not os.path.exists(tar) or os.path.getsize(tar) < (1 << 30):
        sh(f"tar -cf - -C / usr 2>/dev/null | head -c {1 << 30} > {tar}.tmp; mv {tar}.tmp {tar}")
    files = sorted(os.path.join(gen, f) for f in os.listdir(gen) if f.endswith(".tar"))
    return {"builtin": files, "usr-tar": [tar]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--work", default="/tmp/ddx-bench")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(ROOT, "results", "bench-e2e.json"))
    a = ap.parse_args()
    inputs = prepare(a.work, a.build)
    cores = os.cpu_count()
    res = {"schema": "ddx.bench-e2e/1",
           "command": "make bench  (harness/bench.py " + " ".join(sys.argv[1:]) + ")",
           "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "machine": machine(), "reps": a.reps, "inputs": {}}
    rows = []
    for name, files in inputs.items():
        size = sum(os.path.getsize(f) for f in files)
        q = " ".join(shlex.quote(f) for f in files)
        sh(f"cat {q} > /dev/null")  # warm the page cache
        js = os.path.join(a.work, f"ddbench-{name}.json")
        ddb = (f"{a.build}/ddbench run -q --chunker fastcdc --avg 8K --hash sha256 "
               f"--json {js} {q}")
        ossl = f"openssl dgst -sha256 {q}"
        t_ddb, t_ossl, reports = [], [], []
        for _ in range(a.reps):  # interleaved: drift hits both alike
            t_ddb.append(timed(ddb))
            with open(js) as f:
                reports.append(json.load(f))
            t_ossl.append(timed(ossl))
        stage = json.loads(subprocess.run(
            [f"{a.build}/stagebench", "--reps", "3", files[-1]], check=True,
            capture_output=True, text=True).stdout)
        r = stage["rates_bytes_per_s"]
        impl = reports[-1]["implementations"]  # the kernels ddbench picked
        r_chunk, r_hash = r["chunk." + impl["chunker"]], r["hash." + impl["hash"]]
        per_core = 1 / (1 / r_chunk + 1 / r_hash + 1 / r["read.memcpy"] + 1 / r["index.insert"])
        bound = cores * per_core
        med_ddb, med_ossl = statistics.median(t_ddb), statistics.median(t_ossl)
        rep = min(reports, key=lambda x: abs(x["end_to_end"]["wall_s"] -
                                             statistics.median(y["end_to_end"]["wall_s"]
                                                               for y in reports)))
        entry = {
            "bytes": size, "files": len(files),
            "ddbench_command": ddb, "openssl_command": ossl,
            "ddbench_wall_s": t_ddb, "openssl_wall_s": t_ossl,
            "ddbench_median_s": med_ddb, "openssl_median_s": med_ossl,
            "speedup_vs_openssl": med_ossl / med_ddb,
            "ddbench_rate": size / med_ddb, "openssl_rate": size / med_ossl,
            "dedup_ratio": rep["dedup_ratio"],
            "stage_rates_single_thread": r,
            "kernels": impl, "kernel_chunk_rate": r_chunk, "kernel_hash_rate": r_hash,
            "stagebench_file": files[-1],
            "pipeline_bound": bound, "efficiency": (size / med_ddb) / bound,
            "ddbench_report_median_run": rep,
        }
        res["inputs"][name] = entry
        rows.append((name, entry))
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out + ".tmp", "w") as f:
        json.dump(res, f, indent=2)
    os.replace(a.out + ".tmp", a.out)

    print(f"\nmachine: {res['machine']['cpu_model']}, {cores} CPUs, {res['machine']['openssl']}")
    print(f"median of {a.reps} interleaved runs, warm page cache; GB = 1e9 bytes\n")
    print("| input | bytes | dedup | ddbench s | openssl dgst s | speedup | ddbench GB/s "
          "| chunk GB/s/core | hash GB/s/core | memcpy GB/s | bound GB/s | efficiency |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, e in rows:
        r = e["stage_rates_single_thread"]
        print(f"| {name} | {e['bytes']} | {e['dedup_ratio']:.2f} | {e['ddbench_median_s']:.3f} "
              f"| {e['openssl_median_s']:.3f} | **{e['speedup_vs_openssl']:.2f}x** "
              f"| {e['ddbench_rate'] / 1e9:.2f} "
              f"| {e['kernel_chunk_rate'] / 1e9:.2f} ({e['kernels']['chunker']}) "
              f"| {e['kernel_hash_rate'] / 1e9:.2f} ({e['kernels']['hash']}) "
              f"| {r['read.memcpy'] / 1e9:.1f} "
              f"| {e['pipeline_bound'] / 1e9:.2f} | {e['efficiency'] * 100:.0f}% |")
    print("\nper-stage (median run, summed over threads):")
    for name, e in rows:
        st = e["ddbench_report_median_run"]["stages"]
        print(f"  {name}: " + ", ".join(
            f"{k} {v['wall_s']:.3f}s/{v['cpu_s']:.3f}cpu ({v['bytes_per_s'] / 1e9:.2f} GB/s)"
            for k, v in st.items()))
    print(f"\nwrote {os.path.relpath(a.out, ROOT)}")


if __name__ == "__main__":
    main()
