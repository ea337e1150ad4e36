#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Writes small MCAP files into DIR as seeds for fuzz_mcap: a header only,
schema + channel + messages, the same in a chunk, and one with a summary.
Its output is the committed seed corpus tests/fuzz/corpus/fuzz_mcap/*.mcap.
usage: tests/fuzz/mcap_seeds.py DIR"""
import os, struct, sys, zlib

MAGIC = b"\x89MCAP0\r\n"
def rec(op, body): return struct.pack("<BQ", op, len(body)) + body
def s(x): x = x.encode(); return struct.pack("<I", len(x)) + x
def b(x): return struct.pack("<I", len(x)) + x
header = rec(1, s("") + s("seed"))
schema = rec(3, struct.pack("<H", 1) + s("qiki.v1.SensorFrame") + s("protobuf") + b(b"\x0a\x00"))
channel = rec(4, struct.pack("<HH", 0, 1) + s("/sensors") + s("protobuf") + struct.pack("<I", 0))
msgs = b"".join(rec(5, struct.pack("<HIQQ", 0, i, 1000 + i, 1000 + i) + bytes([i] * 8)) for i in range(3))
records = schema + channel + msgs
chunk = rec(6, struct.pack("<QQQI", 1000, 1002, len(records), zlib.crc32(records)) + s("") +
            struct.pack("<Q", len(records)) + records)
footer = rec(2, struct.pack("<QQI", 0, 0, 0))
stats = rec(0x0b, struct.pack("<QHIIIIQQ", 3, 1, 1, 0, 0, 1, 1000, 1002) + struct.pack("<I", 10) +
            struct.pack("<HQ", 0, 3))
dataend = rec(0x0f, struct.pack("<I", 0))
seeds = {
    "header": MAGIC + header + footer + MAGIC,
    "plain": MAGIC + header + records + dataend + footer + MAGIC,
    "chunked": MAGIC + header + chunk + dataend + footer + MAGIC,
    "summary": MAGIC + header + chunk + dataend + schema + channel + stats + footer + MAGIC,
    "cut": (MAGIC + header + chunk)[:-5],
}
os.makedirs(sys.argv[1], exist_ok=True)
for name, data in seeds.items():
    open(os.path.join(sys.argv[1], name + ".mcap"), "wb").write(data)
