#!/usr/bin/python3
# SPDX-License-Identifier: MIT OR Apache-2.0
# Decodes qiki-telemetry's live TCP stream with an independent protobuf
# implementation (Debian's python3-protobuf), from the FileDescriptorSet
# protoc wrote: no qiki code involved.
# usage: read_stream.py PORT FDS_FILE N_FRAMES INSTANCE
import json, socket, sys
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

port, fds_path, want, instance = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
fds = descriptor_pb2.FileDescriptorSet.FromString(open(fds_path, "rb").read())
pool = descriptor_pool.DescriptorPool()
for f in fds.file:
    pool.Add(f)
Frame = message_factory.MessageFactory(pool).GetPrototype(
    pool.FindMessageTypeByName("qiki.v1.TelemetryFrame"))

s = socket.create_connection(("127.0.0.1", port), timeout=10)
buf = b""
frames, problems = [], []

def varint(b):
    v = shift = 0
    for i, c in enumerate(b):
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return v, i + 1
    return None, 0

while len(frames) < want:
    chunk = s.recv(65536)
    if not chunk:
        problems.append("the stream ended early")
        break
    buf += chunk
    while True:
        n, h = varint(buf)
        if n is None or len(buf) < h + n:
            break
        m = Frame()
        m.ParseFromString(buf[h:h + n])
        frames.append(m)
        buf = buf[h + n:]
s.close()

cycles = [f.cycle for f in frames]
bad = [(a, b) for a, b in zip(cycles, cycles[1:]) if b <= a]
if bad:
    problems.append(f"cycles do not increase: {bad[:3]}")
for f in frames:
    if f.instance != instance:
        problems.append(f"instance {f.instance!r}")
        break
    if f.timing.sensor_to_actuation_ns <= 0 or not f.timing.answered:
        problems.append(f"cycle {f.cycle}: timing {f.timing}")
        break
    if len(f.sensors.readings) < 5 or f.sensors.cycle != f.cycle or f.actuators.answers_cycle != f.cycle:
        problems.append(f"cycle {f.cycle}: frame does not hang together")
        break
print(json.dumps({"frames": len(frames), "first": cycles[:1], "last": cycles[-1:],
                  "readings": len(frames[0].sensors.readings) if frames else 0,
                  "commands": len(frames[0].actuators.commands) if frames else 0,
                  "problems": problems}))
sys.exit(1 if problems else 0)
