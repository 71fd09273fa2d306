#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_trace (tests/fuzz/corpus/trace/).

Run by hand, not by the build:  python3 tests/fuzz/make_trace_corpus.py
It is deterministic (no randomness, no clock), so re-running it rewrites the
same files; crash-* files and fuzzer-found (hash-named) files are left alone.

Every seed starts with the byte fuzz_trace.c reads as the format (0 auto,
1 ddx, 2 fiu, 3 fsl); the rest is a trace. Binary traces are encoded here
from the format's description in docs/format.md (an encoder independent of
engine/src/trace/trace_writer.c), with a table CRC-32C.
"""
import os
import struct
import sys

AUTO, DDX, FIU, FSL = 0, 1, 2, 3
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "trace")


def _crc_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        t.append(c)
    return t


_T = _crc_table()


def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c = _T[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


def header(fp, hash_id=1, version=1, flags=0, reserved=b"\0" * 36):
    h = b"DDXTRACE" + struct.pack("<HBBIQ", version, fp, hash_id, flags, 1700000000) + reserved
    return h + struct.pack("<I", crc32c(h))


def block(payload, count, crc=None, plen=None):
    plen = len(payload) if plen is None else plen
    crc = crc32c(payload) if crc is None else crc
    return struct.pack("<IIII", 0x4B425444, count, plen, crc) + payload


def data_block(entries, fp):
    """entries: lengths (0 = stream mark); fingerprints are derived from the index."""
    p = b""
    for i, n in enumerate(entries):
        p += struct.pack("<I", n)
        if n:
            p += bytes(((i * 37 + k * 11) & 0xFF) for k in range(fp))
    return block(p, len(entries))


def end_block(records, streams, nbytes):
    return block(struct.pack("<QQQ", records, streams, nbytes), 0)


def totals(blocks_entries):
    recs = streams = nbytes = 0
    for ents in blocks_entries:
        for n in ents:
            if n == 0:
                streams += 1
            else:
                recs += 1
                nbytes += n
    return recs, (streams + 1 if recs else 0), nbytes


def ddx_trace(blocks_entries, fp=20, hash_id=1, end=True, **hdr):
    b = header(fp, hash_id, **hdr)
    for ents in blocks_entries:
        b += data_block(ents, fp)
    if end:
        b += end_block(*totals(blocks_entries))
    return b


MD5 = [
    "531e779059fe8a1ab8e0fbb4d4f0e05c",
    "0123456789ABCDEFabcdef0123456789",
    "d41d8cd98f00b204e9800998ecf8427e",
    "ffffffffffffffffffffffffffffffff",
]


def fiu_line(ts, lba, op, md5s, proc="syslogd"):
    return "%d 4890 %s %d %d %s 6 0 %s\n" % (ts, proc, lba, 8 * len(md5s), op, " ".join(md5s))


def seeds():
    s = {}
    two = [[4096, 8192, 0, 100], [1, 0, 64 << 20, 7]]
    s["ddx-valid"] = (DDX, ddx_trace(two))
    s["ddx-valid-auto"] = (AUTO, ddx_trace(two))
    s["ddx-empty"] = (DDX, ddx_trace([]))
    s["ddx-fp1"] = (DDX, ddx_trace([[5, 6, 0, 7]], fp=1, hash_id=0))
    s["ddx-fp32"] = (AUTO, ddx_trace([[5, 6], [0, 7]], fp=32, hash_id=2))
    s["ddx-many-entries"] = (DDX, ddx_trace([list(range(1, 1001))], fp=1))
    full = ddx_trace(two)
    s["ddx-truncated-header"] = (DDX, full[:40])
    s["ddx-truncated-block"] = (DDX, full[:64 + 16 + 30])
    s["ddx-no-end"] = (DDX, ddx_trace(two, end=False))
    s["ddx-trailing"] = (DDX, full + b"\0\0\0")
    s["ddx-version-2"] = (AUTO, ddx_trace(two, version=2))
    s["ddx-version-0"] = (DDX, ddx_trace(two, version=0))
    s["ddx-flags"] = (DDX, ddx_trace(two, flags=1))
    s["ddx-reserved"] = (DDX, ddx_trace(two, reserved=b"\0" * 35 + b"\1"))
    s["ddx-fp-33"] = (DDX, header(33) + end_block(0, 0, 0))
    h = header(20)
    s["ddx-count-huge"] = (DDX, h + block(b"\0" * 24, 0xFFFFFFFF))
    s["ddx-plen-huge"] = (DDX, h + block(b"\0" * 24, 1, plen=0xFFFFFFFF))
    s["ddx-count-4097"] = (DDX, h + block(b"\1\0\0\0" * 4, 4097))
    s["ddx-reclen-huge"] = (DDX, h + block(struct.pack("<I", 0x5000000) + b"\0" * 20, 1)
                            + end_block(1, 1, 0x5000000))
    s["ddx-reclen-max"] = (DDX, h + block(struct.pack("<I", 0xFFFFFFFF) + b"\0" * 20, 1)
                           + end_block(1, 1, 0xFFFFFFFF))
    s["ddx-end-mismatch"] = (DDX, header(20) + data_block([9, 0, 9], 20) + end_block(2, 1, 18))
    s["ddx-end-payload-23"] = (DDX, header(20) + block(b"\0" * 23, 0))
    s["ddx-mark-leading"] = (DDX, ddx_trace([[0, 5]]))
    s["ddx-mark-double"] = (DDX, ddx_trace([[5, 0, 0, 5]]))
    s["ddx-mark-last"] = (DDX, ddx_trace([[5], [0]]))
    bad = bytearray(full)
    bad[64 + 16 + 3] ^= 0x40
    s["ddx-bad-crc"] = (DDX, bytes(bad))
    bad = bytearray(full)
    bad[64 + 4] = 5  # count 5 for 4 entries (CRC still right)
    s["ddx-count-short"] = (DDX, bytes(bad))
    bad = bytearray(full)
    bad[20] ^= 1  # "created", under the header CRC
    s["ddx-header-crc"] = (DDX, bytes(bad))
    bad = bytearray(full)
    bad[64] ^= 1
    s["ddx-block-magic"] = (DDX, bytes(bad))
    s["ddx-hash-4"] = (DDX, header(20, hash_id=4) + end_block(0, 0, 0))
    s["ddx-header-only"] = (DDX, header(20))
    s["ddx-block-header-cut"] = (DDX, header(20) + full[64:64 + 9])
    s["ddx-not-magic"] = (DDX, b"DDXTRACF" + full[8:])
    s["ddx-entry-past"] = (DDX, h + block(struct.pack("<I", 9) + b"\0" * 20 + struct.pack("<I", 9)
                                          + b"\0" * 3, 2))
    s["ddx-payload-extra"] = (DDX, h + block(struct.pack("<I", 5) + b"\0" * 20 + b"\0" * 8, 2)
                              + end_block(1, 1, 5))

    fiu = ("# FIU-style trace\n"
           + fiu_line(89966553139291, 904265560, "W", MD5[:1])
           + fiu_line(89966553139292, 904265568, "R", MD5[:2])
           + "\n"
           + fiu_line(89966553139293, 100, "W", MD5[1:4], proc="nfsd")
           + "\t " + fiu_line(89966553139294, 904265560, "W", MD5[:1])
           + "12\t4891\tkjournald\t\t7 8 W 8 1 " + MD5[2])
    s["fiu-valid"] = (FIU, fiu.encode())
    s["fiu-valid-auto"] = (AUTO, fiu.encode())
    s["fiu-crlf"] = (AUTO, fiu.replace("\n", "\r\n").encode())
    s["fiu-bad-hex"] = (FIU, fiu_line(1, 2, "W", ["531e779059fe8a1ab8e0fbb4d4f0e05g"]).encode())
    s["fiu-size-huge"] = (FIU, b"1 2 p 3 18446744073709551608 W 6 0 " + MD5[0].encode() + b"\n")
    s["fiu-lba-overflow"] = (FIU, fiu_line(1, 36028797018963967, "W", MD5[:2]).encode())
    s["fiu-ts-overflow"] = (FIU, fiu_line(18446744073709551616, 2, "W", MD5[:1]).encode())
    s["fiu-count-mismatch"] = (FIU, b"1 2 p 3 16 W 6 0 " + MD5[0].encode() + b"\n")
    s["fiu-many-md5"] = (FIU, fiu_line(1, 1 << 40, "W", [MD5[i % 4] for i in range(300)]).encode())
    s["fiu-nul"] = (FIU, fiu_line(1, 2, "W", MD5[:1]).encode().replace(b"e05c", b"e\0" + b"5c"))
    s["fiu-short"] = (FIU, b"1 2 p 3 8 W 6\n")
    s["fiu-op"] = (FIU, b"1 2 p 3 8 w 6 0 " + MD5[0].encode() + b"\n")
    s["fiu-size-12"] = (FIU, b"1 2 p 3 12 W 6 0 " + MD5[0].encode() + b"\n")
    s["fiu-md5-short"] = (FIU, b"1 2 p 3 8 W 6 0 " + MD5[0][:31].encode() + b"\n")
    # a line over 64 KiB (the one seed above 16 KiB: the reader's line limit)
    s["fiu-long-line"] = (FIU, fiu_line(1, 2, "W", [MD5[0]] * 1990).encode())

    fsl = ("Hash file version: 7\n"
           "Root path: /home/user\n"
           "Hashing method: md5-48bit\n"
           "File path: /home/user/a.txt\n"
           "File size: 12296 B\n"
           "Chunk hash          Chunk size (bytes)  Compression ratio (tenth)\n"
           "b5:2e:e9:82:66:a5 4096 10\n"
           "0c:4f:11:9a:00:7e 8192 3\n"
           "b5:2e:e9:82:66:a5 8 10\n"
           "\n"
           "File path: /home/user/b.txt\n"
           "File size: 4096 B\n"
           "b5:2e:e9:82:66:a5\t4096\t10\n"
           "File: /empty\n"
           "File path: /home/user/c\n"
           "ff:ff:ff:ff:ff:ff 67108864\n")
    s["fsl-valid"] = (FSL, fsl.encode())
    s["fsl-valid-auto"] = (AUTO, fsl.encode())
    s["fsl-crlf"] = (AUTO, fsl.replace("\n", "\r\n").encode())
    h32 = ":".join("%02x" % i for i in range(32))
    h33 = ":".join("%02x" % i for i in range(33))
    s["fsl-hash-32"] = (FSL, ("%s 4096\n%s 1\n" % (h32, h32)).encode())
    s["fsl-hash-33"] = (FSL, ("%s 4096\n" % h33).encode())
    s["fsl-hash-mismatch"] = (FSL, b"aa:bb:cc 5\naa:bb 5\n")
    s["fsl-size-huge"] = (FSL, b"aa:bb:cc 99999999999999999999\n")
    s["fsl-size-over"] = (FSL, b"aa:bb:cc 67108865\n")
    s["fsl-size-0"] = (FSL, b"aa:bb:cc 0\n")
    s["fsl-1byte"] = (AUTO, b"ab 5\nBe careful\n01 6\nFile: x\nff 7\n")
    s["fsl-bad-line"] = (FSL, b"aa:bb:cc 5\n-oops\n")
    s["fsl-bad-hash"] = (FSL, b"aa:bb:cc 5\naa:bg:cc 5\n")
    s["fsl-no-size"] = (FSL, b"aa:bb:cc 5\n  aa:bb:cc\t\n")

    s["auto-unknown"] = (AUTO, b"hello world\n12345\n")
    s["auto-text-only"] = (AUTO, b"Hash file version: 7\n# comment\n")
    s["auto-garbage"] = (AUTO, bytes(range(256)))
    s["empty"] = (AUTO, b"")
    return s


def main():
    os.makedirs(OUT, exist_ok=True)
    total = 0
    for name, (fmt, body) in sorted(seeds().items()):
        data = bytes([fmt]) + body
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        total += len(data)
    print("%s: %d seeds, %d bytes" % (OUT, len(seeds()), total), file=sys.stderr)


if __name__ == "__main__":
    main()
