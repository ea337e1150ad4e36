#!/usr/bin/python3
# SPDX-License-Identifier: MIT OR Apache-2.0
# A reader of an MCAP file's top-level records, written from the spec
# (https://mcap.dev/spec) and independent of proto/mcap.c: the Metadata and
# Attachment records (an attachment's CRC checked with zlib), their indexes
# and the Statistics record of the summary.  Prints one JSON object.
# usage: mcap_records.py FILE.mcap
import json
import struct
import sys
import zlib

MAGIC = b"\x89MCAP0\r\n"


def string(b, at):
    n, = struct.unpack_from("<I", b, at)
    return b[at + 4:at + 4 + n].decode(), at + 4 + n


def records(b, at, end):
    while at + 9 <= end:
        op, n = struct.unpack_from("<BQ", b, at)
        yield op, b[at + 9:at + 9 + n]
        at += 9 + n


def main(path):
    b = open(path, "rb").read()
    assert b[:8] == MAGIC and b[-8:] == MAGIC, "not a finished MCAP file"
    out = {"metadata": {}, "attachments": [], "metadata_index": [], "attachment_index": [],
           "channels": {}}
    # the data section: up to Data End (0x0f)
    for op, r in records(b, 8, len(b) - 8):
        if op == 0x0F:
            break
        if op == 0x04:
            cid, _ = struct.unpack_from("<HH", r, 0)
            out["channels"][cid], _ = string(r, 4)
        elif op == 0x0C:
            name, at = string(r, 0)
            size, = struct.unpack_from("<I", r, at)
            at += 4
            end, pairs = at + size, {}
            while at < end:
                k, at = string(r, at)
                v, at = string(r, at)
                pairs[k] = v
            out["metadata"][name] = pairs
        elif op == 0x09:
            log_time, create_time = struct.unpack_from("<QQ", r, 0)
            name, at = string(r, 16)
            media, at = string(r, at)
            size, = struct.unpack_from("<Q", r, at)
            data = r[at + 8:at + 8 + size]
            crc, = struct.unpack_from("<I", r, at + 8 + size)
            out["attachments"].append({"name": name, "media_type": media, "size": size,
                                       "log_time": log_time,
                                       "crc_ok": crc == zlib.crc32(r[:at + 8 + size]),
                                       "text": data.decode(errors="replace")})
    # the summary, from the footer
    summary_start, = struct.unpack_from("<Q", b, len(b) - 8 - 20)  # footer: start, offsets, crc
    for op, r in records(b, summary_start, len(b) - 8):
        if op == 0x0B:
            (msgs, nsch, nch, natt, nmeta, nchunks, start, end,
             size) = struct.unpack_from("<QHIIIIQQI", r, 0)
            counts = {}
            for at in range(46, 46 + size, 10):
                cid, n = struct.unpack_from("<HQ", r, at)
                counts[out["channels"].get(cid, str(cid))] = n
            out["statistics"] = {"messages": msgs, "attachments": natt, "metadata": nmeta,
                                 "start": start, "end": end, "per_topic": counts}
        elif op == 0x0D:
            out["metadata_index"].append(string(r, 16)[0])
        elif op == 0x0A:
            out["attachment_index"].append(string(r, 40)[0])
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main(sys.argv[1])
