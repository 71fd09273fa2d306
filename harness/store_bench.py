#!/usr/bin/env python3
"""Persistent-store benchmark: ddx against restic and borg on the same
versioned data, in one interleaved run (issue 5; docs/benchmarks.md).

    harness/store_bench.py [--data DIR] [--versions N] [--max-mb MB]
                           [--tools ddx,restic,borg,borg-8k] [--work DIR]
                           [--out results/store-bench.json] [--build build]

Data: DIR/usr-*.tar (made by datasets/usr_versions.py if DIR has none; by
default in /dev/shm so reads come from memory). For each version in order,
every tool ingests it (tools in rotating order, so no tool always runs on a
cold or warm machine; a sync before each ingest, so none pays for the
previous tool's writeback). The whole ingest sequence runs --rounds times
(default: as many as there are tools) into fresh repositories, the rotation
shifted by one each round, so every tool ingests every version once in each
position of the order: the first version writes everything, and this VM's
disk slows down after sustained writes, so a single run penalises whichever
tool comes last on it. Each version's time is the median over the rounds
(every sample kept). Then each repository's size on disk is taken, and the
last version is restored by each tool: once untimed (it warms the page cache
with the repository), then --restore-reps timed times, interleaved across
tools, the median reported and every sample kept. Restores go into tmpfs, so
the restore and not the disk is timed (ddx get also fsyncs its output, a
no-op there), and each is compared byte for byte with the input. Wall time
and peak RSS come from /usr/bin/time.

Tools and settings (compression off wherever the tool allows it):
  ddx      ddx put / ddx get, FastCDC 2/8/64 KiB, SHA-256 (the defaults)
  restic   restic 0.14, repository v2, --compression off; its chunker is
           fixed at 512 KiB..8 MiB (1 MiB average), no small-chunk setting
  borg     borg 1.2, --encryption none, --compression none, default
           chunker (buzhash 19,23,21: 2 MiB average)
  borg-8k  the same with --chunker-params buzhash,11,16,13,4095 (2/8/64 KiB)
"""
import argparse
import filecmp
import glob
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

ENV = dict(os.environ, RESTIC_PASSWORD="ddx-bench", BORG_PASSPHRASE="",
           BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK="yes", BORG_RELOCATED_REPO_ACCESS_IS_OK="yes")


def timed(cmd, cwd=None, stdout=subprocess.DEVNULL):
    """Run cmd under /usr/bin/time: (wall seconds, peak RSS KiB)."""
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, cwd=cwd, env=ENV, stdout=stdout,
                       stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit("store_bench: %s failed (%d): %s" % (" ".join(cmd), p.returncode,
                                                     p.stderr.strip()[-500:]))
    rss = int(p.stderr.strip().splitlines()[-1])
    return wall, rss


def du(path):
    return int(subprocess.run(["du", "-sb", path], capture_output=True, text=True,
                              check=True).stdout.split()[0])


class Tool:
    def __init__(self, name, repo, build):
        self.name, self.repo, self.build = name, repo, build

    def init(self):
        b, r = self.build, self.repo
        cmds = {
            "ddx": [f"{b}/ddx", "init", r],
            "restic": ["restic", "init", "--repo", r, "--repository-version", "2", "-q"],
            "borg": ["borg", "init", "--encryption", "none", r],
            "borg-8k": ["borg", "init", "--encryption", "none", r],
        }
        subprocess.run(cmds[self.name], env=ENV, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    def put(self, k, path):
        b, r = self.build, self.repo
        d, f = os.path.dirname(path), os.path.basename(path)
        if self.name == "ddx":
            return timed([f"{b}/ddx", "put", r, "usr", path])
        if self.name == "restic":
            return timed(["restic", "backup", "--repo", r, "--compression", "off", "-q", f],
                         cwd=d)
        params = ["--chunker-params", "buzhash,11,16,13,4095"] if self.name == "borg-8k" else []
        return timed(["borg", "create", "--compression", "none"] + params +
                     [f"{r}::v{k}", f], cwd=d)

    def get(self, k, name, out_dir):
        b, r = self.build, self.repo
        os.makedirs(out_dir)
        if self.name == "ddx":
            res = timed([f"{b}/ddx", "get", r, f"usr@{k}", os.path.join(out_dir, name)])
        elif self.name == "restic":
            res = timed(["restic", "restore", "latest", "--repo", r, "--target", out_dir, "-q"])
        else:
            res = timed(["borg", "extract", f"{r}::v{k}"], cwd=out_dir)
        return res, os.path.join(out_dir, name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/dev/shm/ddx-usr-versions")
    ap.add_argument("--versions", type=int, default=6)
    ap.add_argument("--max-mb", type=int, default=768)
    ap.add_argument("--tools", default="ddx,restic,borg,borg-8k")
    ap.add_argument("--work", default="/var/tmp/ddx-store-bench")
    ap.add_argument("--out", default="results/store-bench.json")
    ap.add_argument("--build", default="build")
    ap.add_argument("--rounds", type=int, default=0,
                    help="ingest sequences, the rotation shifted each round (0: one per tool)")
    ap.add_argument("--restore-reps", type=int, default=5,
                    help="timed restores per tool, interleaved across tools; the median is reported")
    ap.add_argument("--restore-dir", default="/dev/shm/ddx-store-bench-restore",
                    help="where restores are written (tmpfs: the restore, not the disk, is timed)")
    a = ap.parse_args()
    for opt, v, lo in (("--versions", a.versions, 1), ("--max-mb", a.max_mb, 1),
                       ("--rounds", a.rounds, 0), ("--restore-reps", a.restore_reps, 1)):
        if v < lo:
            ap.error(f"{opt}: {v}: must be at least {lo}")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.chdir(root)
    files = sorted(glob.glob(os.path.join(a.data, "usr-*.tar")))[:a.versions]
    if len(files) < a.versions:
        subprocess.run([sys.executable, "datasets/usr_versions.py", a.data, "--versions",
                        str(a.versions), "--max-mb", str(a.max_mb)], check=True)
        files = sorted(glob.glob(os.path.join(a.data, "usr-*.tar")))[:a.versions]
    names = a.tools.split(",")
    for n in names:
        exe = {"ddx": f"{a.build}/ddx", "restic": "restic"}.get(n, "borg")
        if not shutil.which(exe) and not os.access(exe, os.X_OK):
            sys.exit(f"store_bench: {exe} not found (make deps installs restic and borgbackup; "
                     f"make builds ddx)")
    tools = [Tool(n, os.path.join(a.work, n), os.path.abspath(a.build)) for n in names]
    rounds = a.rounds or len(tools)
    sizes = [os.path.getsize(f) for f in files]
    res = {t.name: {"ingest_s_all": [], "ingest_rss_kib": [0] * len(files)} for t in tools}
    for r in range(rounds):
        shutil.rmtree(a.work, ignore_errors=True)
        os.makedirs(a.work)
        for t in tools:
            t.init()
            res[t.name]["ingest_s_all"].append([])
        for k, f in enumerate(files, 1):
            s = (k + r) % len(tools)
            for t in tools[s:] + tools[:s]:
                subprocess.run(["cat", f], stdout=subprocess.DEVNULL, check=True)  # warm
                # Every tool syncs what it writes before it returns, but the disk
                # may still be busy with the previous tool's writeback (other files,
                # journal): sync first, so no tool's time includes another's writes.
                os.sync()
                wall, rss = t.put(k, f)
                res[t.name]["ingest_s_all"][r].append(wall)
                res[t.name]["ingest_rss_kib"][k - 1] = max(res[t.name]["ingest_rss_kib"][k - 1],
                                                           rss)
                print(f"round {r + 1} v{k} {t.name:8} {sizes[k - 1] / wall / 1e6:8.1f} MB/s  "
                      f"rss {rss / 1024:.0f} MiB", flush=True)
    for t in tools:  # per version, the median over the rounds
        runs = res[t.name]["ingest_s_all"]
        res[t.name]["ingest_s"] = [statistics.median(x[k] for x in runs) for k in range(len(files))]
    last = files[-1]
    os.sync()  # the ingests' dirty pages must not slow the restores down
    def restore(t):
        out_dir = os.path.join(a.restore_dir, "restore-" + t.name)
        shutil.rmtree(out_dir, ignore_errors=True)
        (wall, rss), got = t.get(len(files), os.path.basename(last), out_dir)
        if not filecmp.cmp(got, last, shallow=False):
            sys.exit(f"store_bench: {t.name} restored {got} with different bytes")
        shutil.rmtree(out_dir)
        return wall, rss

    for t in tools:
        res[t.name]["repo_bytes"] = du(t.repo)
        restore(t)  # warms the page cache with the repository: restores are "from warm cache"
        res[t.name]["restore_s_all"], res[t.name]["restore_rss_kib"] = [], 0
    # Timed restores, interleaved across tools in rotating order, so that a
    # slow moment of this VM (writing into fresh tmpfs pages varies 2-3x from
    # run to run) does not land on one tool; the median is reported.
    for k in range(a.restore_reps):
        for t in tools[k % len(tools):] + tools[:k % len(tools)]:
            wall, rss = restore(t)
            res[t.name]["restore_s_all"].append(wall)
            res[t.name]["restore_rss_kib"] = max(res[t.name]["restore_rss_kib"], rss)
    for t in tools:
        r = res[t.name]
        r["restore_s"] = statistics.median(r["restore_s_all"])
        rss = r["restore_rss_kib"]
        r["ingest_MBps"] = sum(sizes) / sum(r["ingest_s"]) / 1e6
        r["restore_MBps"] = sizes[-1] / r["restore_s"] / 1e6
        r["dedup_ratio"] = sum(sizes) / r["repo_bytes"]
        r["peak_rss_MiB"] = max(r["ingest_rss_kib"] + [rss]) / 1024
    result = {
        "schema": "ddx.store-bench/1",
        "command": "harness/store_bench.py " + " ".join(sys.argv[1:]),
        "host": platform.node(), "cpus": os.cpu_count(),
        "ingest_rounds": rounds,
        "data": {"files": [os.path.basename(f) for f in files], "bytes": sizes,
                 "made_by": f"datasets/usr_versions.py --versions {a.versions} --max-mb {a.max_mb}"},
        "tools": res,
    }
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    with open(a.out, "w") as fh:
        json.dump(result, fh, indent=2)
    print(f"\n{len(files)} versions, {sum(sizes) / 2**30:.2f} GiB in total; ingest: per version "
          f"the median of {rounds} interleaved rounds; restore: median of {a.restore_reps} "
          f"interleaved runs")
    print(f"{'tool':10}{'ingest MB/s':>13}{'repo MiB':>10}{'dedup':>8}{'restore MB/s':>14}"
          f"{'peak RSS MiB':>14}")
    for t in tools:
        r = res[t.name]
        print(f"{t.name:10}{r['ingest_MBps']:13.1f}{r['repo_bytes'] / 2**20:10.1f}"
              f"{r['dedup_ratio']:8.2f}{r['restore_MBps']:14.1f}{r['peak_rss_MiB']:14.1f}")
    print(f"written to {a.out}")


if __name__ == "__main__":
    main()
