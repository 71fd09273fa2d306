#!/usr/bin/env python3
"""Versioned real data from this machine: tar snapshots of /usr "across
package installs".

    datasets/usr_versions.py OUT_DIR [--versions N] [--max-mb MB]

Snapshot k holds the regular files that the first P_k percent of the
installed Debian packages own under /usr (dpkg -L; packages in name order),
with P_1 = 80 and each later snapshot adding 4 points, as if a few packages
were installed between backups. Files are capped in name order at --max-mb
(default 1024) per snapshot. The archives are deterministic for a given
machine (sorted names, mtime 0, uid/gid 0), so dedup between snapshots comes
only from shared files, the way a backup of a changing system dedups. Files
not owned by a package are left out. Writes OUT_DIR/usr-01.tar ...
"""
import argparse
import os
import subprocess
import sys
import tarfile


def package_files(pkgs):
    files = set()
    for i in range(0, len(pkgs), 200):
        out = subprocess.run(["dpkg", "-L"] + pkgs[i:i + 200], capture_output=True,
                             text=True).stdout
        for f in out.splitlines():
            if f.startswith("/usr/") and os.path.isfile(f) and not os.path.islink(f):
                files.add(f)
    return files


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--versions", type=int, default=6)
    ap.add_argument("--max-mb", type=int, default=1024)
    a = ap.parse_args()
    if a.versions < 1 or a.versions > 6:
        sys.exit("usr_versions.py: --versions must be 1..6 (80%..100% of the packages)")
    pkgs = sorted(subprocess.run(["dpkg-query", "-W", "-f=${Package}\\n"], capture_output=True,
                                 text=True, check=True).stdout.split())
    os.makedirs(a.out, exist_ok=True)
    cap = a.max_mb << 20
    for k in range(1, a.versions + 1):
        share = min(100, 80 + 4 * (k - 1))
        files = sorted(package_files(pkgs[:len(pkgs) * share // 100]))
        path = os.path.join(a.out, "usr-%02d.tar" % k)
        total = 0
        with tarfile.open(path + ".tmp", "w", format=tarfile.USTAR_FORMAT) as t:
            for f in files:
                try:
                    size = os.path.getsize(f)
                    if total + size > cap:
                        continue
                    ti = t.gettarinfo(f, arcname=f.lstrip("/"))
                    ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = 0, 0, 0, "", ""
                    with open(f, "rb") as fh:
                        t.addfile(ti, fh)
                    total += size
                except (OSError, ValueError):
                    continue  # unreadable, or a name ustar cannot hold
        os.replace(path + ".tmp", path)
        print("%s: %d%% of %d packages, %.1f MiB" % (path, share, len(pkgs), total / 2**20))


if __name__ == "__main__":
    main()
