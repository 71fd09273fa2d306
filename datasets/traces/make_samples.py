#!/usr/bin/env python3
"""Writes the two sample traces in datasets/traces/ (sample.fiu, sample.fsl).

These are SYNTHETIC samples in the published FIU and FSL trace formats, made
up by this script to exercise ddx's trace readers and `ddbench run TRACE`.
They are not real FIU or FSL data and say nothing about real workloads. The
real traces are published by their owners (FIU: the SNIA IOTTA repository;
FSL: the FSL traces and snapshots site) under their own terms and are not
part of this repository.

Deterministic: a splitmix64 generator with fixed seeds, no clock, no
randomness from Python's `random`; running it again rewrites the same bytes.

    python3 datasets/traces/make_samples.py     # writes next to this script

Grammars accepted by the readers: docs/traces.md.
"""
import hashlib
import os

HERE = os.path.dirname(os.path.abspath(__file__))
MASK = (1 << 64) - 1


class Rng:
    """splitmix64, as tests/testutil.h."""

    def __init__(self, seed):
        self.s = seed & MASK

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & MASK
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, n):
        return self.next() % n


def md5_of(tag, n):
    """The MD5 of a made-up block or chunk: the hex digest of a label."""
    return hashlib.md5(("%s-%d" % (tag, n)).encode()).hexdigest()


def make_fiu(path, lines=200):
    """FIU block-trace lines: ts pid process lba size W|R major minor md5...

    One MD5 per 4 KiB block (size is in 512-byte sectors). Block contents
    come from a small pool for a share of the writes (rewrites of the same
    data: duplicates), the rest are new; some requests span 2..4 blocks.
    """
    r = Rng(0xF1D0)
    procs = [(4890, "syslogd"), (1532, "nfsd"), (77, "kjournald"), (2210, "httpd")]
    ts = 89966553139291
    fresh = 0
    out = ["# synthetic sample in the FIU block-trace format (datasets/traces/make_samples.py);\n",
           "# not FIU data. Fields: ts pid process lba size(sectors) W|R major minor md5...\n"]
    for _ in range(lines):
        ts += 1000 + r.below(5_000_000)
        pid, proc = procs[r.below(len(procs))]
        blocks = 1 if r.below(4) else 2 + r.below(3)
        lba = 8 * r.below(1 << 24)
        op = "W" if r.below(10) < 7 else "R"
        md5s = []
        for _ in range(blocks):
            if r.below(10) < 4:
                md5s.append(md5_of("pool", r.below(24)))  # a popular block: dedups
            else:
                fresh += 1
                md5s.append(md5_of("block", fresh))
        out.append("%d %d %s %d %d %s 8 0 %s\n" % (ts, pid, proc, lba, 8 * blocks, op,
                                                   " ".join(md5s)))
    with open(path, "w") as f:
        f.writelines(out)


def fsl_hash(n):
    """A 48-bit chunk hash as hf-stat prints it: 6 colon-separated bytes."""
    return ":".join(md5_of("chunk", n)[2 * i:2 * i + 2] for i in range(6))


def make_fsl(path, chunks=200):
    """An hf-stat-style dump: header lines, then two "File path:" sections
    (a file and a later version of it that shares most chunks), one chunk
    per line: HASH SIZE COMPRESSION-RATIO."""
    r = Rng(0xF51)
    first = []
    for i in range(chunks // 2):
        first.append((i, 2048 + r.below(62 * 1024)))
    second = []
    nxt = len(first)
    for cid, size in first:
        k = r.below(10)
        if k < 7:
            second.append((cid, size))  # unchanged chunk: a duplicate
        elif k < 9:
            second.append((nxt, 2048 + r.below(62 * 1024)))  # changed chunk
            nxt += 1
        else:  # an inserted chunk, then the old one
            second.append((nxt, 2048 + r.below(62 * 1024)))
            nxt += 1
            second.append((cid, size))
    second = second[:chunks - len(first)]
    out = ["Hash file version: 7\n",
           "Hash file: synthetic sample (datasets/traces/make_samples.py); not FSL data\n",
           "Hashing method: md5-48bit\n",
           "Chunking method: variable-sized, Rabin, average 8 KiB\n"]
    for name, lst in (("/home/user/project/archive.tar", first),
                      ("/home/user/project/archive-v2.tar", second)):
        out.append("File path: %s\n" % name)
        out.append("File size: %d B\n" % sum(s for _, s in lst))
        out.append("Chunks: %d\n" % len(lst))
        out.append("Chunk hash          Chunk size (bytes)  Compression ratio (tenth)\n")
        for cid, size in lst:
            out.append("%s  %d  %d\n" % (fsl_hash(cid), size, 5 + r.below(20)))
    with open(path, "w") as f:
        f.writelines(out)


def main():
    make_fiu(os.path.join(HERE, "sample.fiu"))
    make_fsl(os.path.join(HERE, "sample.fsl"))


if __name__ == "__main__":
    main()
