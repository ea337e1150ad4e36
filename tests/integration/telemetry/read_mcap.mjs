// SPDX-License-Identifier: MIT OR Apache-2.0
// An independent reader of qiki-telemetry's MCAP files: the official MCAP
// library (@mcap/core, zstd from @mcap/support) and protobufjs loading the
// FileDescriptorSet embedded in each schema.  No qiki code is involved.
//
// usage: node read_mcap.mjs FILE.mcap [--stream] [--messages N] [--history FILE.json]
// Prints a JSON summary; exits 1 with the reasons when a check fails.
import fs from "node:fs";
import { McapIndexedReader, McapStreamReader } from "@mcap/core";
import { loadDecompressHandlers } from "@mcap/support";
import protobuf from "protobufjs";
import descriptor from "protobufjs/ext/descriptor/index.js";

const args = process.argv.slice(2);
const file = args[0];
const opt = (name) => { const i = args.indexOf(name); return i < 0 ? undefined : args[i + 1]; };
const stream = args.includes("--stream");
const problems = [];
const check = (ok, what) => { if (!ok) problems.push(what); };

const decompressHandlers = await loadDecompressHandlers();
const types = new Map();	// schema id -> protobufjs Type
function typeOf(schema) {
  if (!types.has(schema.id)) {
    check(schema.encoding === "protobuf", `schema ${schema.name}: encoding ${schema.encoding}`);
    const fds = descriptor.FileDescriptorSet.decode(schema.data);
    const root = protobuf.Root.fromDescriptor(fds);
    types.set(schema.id, root.lookupType(schema.name));
  }
  return types.get(schema.id);
}

// protobufjs keeps the descriptor's field names (snake_case) or camel-cases
// them, depending on how the root was made: take either
const g = (o, snake) => o[snake] ?? o[snake.replace(/_([a-z])/g, (_, c) => c.toUpperCase())];

const out = { channels: {}, transitions: [], sensors: { first: null, last: null, gaps: 0 },
              timing: { n: 0, s2a_positive: 0 }, pose: 0, log: [], total: 0 };
const lastTime = new Map();
function onMessage(channel, schema, msg) {
  const topic = channel.topic;
  const c = (out.channels[topic] ??= { schema: schema.name, count: 0, monotonic: true });
  const obj = typeOf(schema).toObject(typeOf(schema).decode(msg.data),
                                      { longs: String, enums: String, defaults: true });
  c.count++;
  out.total++;
  if (lastTime.has(topic) && msg.logTime < lastTime.get(topic)) c.monotonic = false;
  lastTime.set(topic, msg.logTime);
  if (topic === "/fsm/transitions")
    out.transitions.push({ from: g(obj, "from_state"), to: g(obj, "to_state"), trigger: obj.trigger,
                           cycle: Number(obj.cycle), index: Number(obj.index) });
  if (topic === "/sensors") {
    const cyc = Number(obj.cycle);
    if (out.sensors.last !== null && cyc !== out.sensors.last + 1) out.sensors.gaps++;
    out.sensors.first ??= cyc;
    out.sensors.last = cyc;
    check(obj.readings.length >= 5, `sensor frame ${cyc} has ${obj.readings.length} readings`);
  }
  if (topic === "/timing") {
    out.timing.n++;
    if (Number(g(obj, "sensor_to_actuation_ns")) > 0) out.timing.s2a_positive++;
  }
  if (topic === "/pose") {
    out.pose++;
    check(g(obj, "frame_id") === "world" && obj.pose.orientation.w === 1, "pose shape");
  }
  if (topic === "/log") out.log.push(`${obj.level} ${obj.name}: ${obj.message}`);
}

if (stream) {
  // a file cut short: the streaming reader takes it up to its last whole record
  const reader = new McapStreamReader({ decompressHandlers });
  reader.append(fs.readFileSync(file));
  const schemas = new Map(), channels = new Map();
  for (let r; (r = reader.nextRecord()); ) {
    if (r.type === "Schema") schemas.set(r.id, r);
    else if (r.type === "Channel") channels.set(r.id, r);
    else if (r.type === "Message") {
      const ch = channels.get(r.channelId);
      onMessage(ch, schemas.get(ch.schemaId), r);
    }
  }
  out.indexed = false;
} else {
  const fd = fs.openSync(file, "r");
  const size = BigInt(fs.fstatSync(fd).size);
  const readable = {
    size: async () => size,
    read: async (offset, length) => {
      const b = Buffer.alloc(Number(length));
      fs.readSync(fd, b, 0, Number(length), Number(offset));
      return new Uint8Array(b.buffer, b.byteOffset, b.length);
    },
  };
  const reader = await McapIndexedReader.Initialize({ readable, decompressHandlers });
  out.indexed = true;
  out.chunks = reader.chunkIndexes.length;
  check(reader.statistics !== undefined, "no Statistics record in the summary");
  for await (const msg of reader.readMessages({ validateCrcs: true })) {
    const ch = reader.channelsById.get(msg.channelId);
    onMessage(ch, reader.schemasById.get(ch.schemaId), msg);
  }
  const st = reader.statistics;
  out.statistics = Number(st.messageCount);
  check(Number(st.messageCount) === out.total, `statistics say ${st.messageCount}, read ${out.total}`);
  for (const [id, n] of st.channelMessageCounts) {
    const topic = reader.channelsById.get(id).topic;
    check(Number(n) === (out.channels[topic]?.count ?? 0),
          `${topic}: statistics say ${n}, read ${out.channels[topic]?.count ?? 0}`);
  }
  for (const topic of ["/sensors", "/actuators", "/timing", "/fsm", "/fsm/transitions", "/bios", "/pose", "/log", "/params"])
    check(out.channels[topic]?.count > 0, `no messages on ${topic}`);
  check(out.channels["/pose"]?.schema === "foxglove.PoseInFrame", "pose schema");
  check(out.channels["/log"]?.schema === "foxglove.Log", "log schema");
}
for (const [topic, c] of Object.entries(out.channels))
  check(c.monotonic, `${topic}: log times go back`);
check(out.timing.n === out.timing.s2a_positive, "a timing message without sensor-to-actuation");
if (opt("--messages") !== undefined)
  check(out.total === Number(opt("--messages")),
        `the exporter says it wrote ${opt("--messages")}, the file holds ${out.total}`);
if (opt("--history") !== undefined) {
  // qikictl history (taken while the loop ran) is a prefix of the file's transitions
  const h = JSON.parse(fs.readFileSync(opt("--history"), "utf8")).transitions;
  const name = (s) => `FSM_STATE_${s}`;
  check(h.length > 0 && out.transitions.length >= h.length, "transitions: too few in the file");
  h.forEach((t, i) => {
    const f = out.transitions[i] ?? {};
    check(f.from === name(t.from) && f.to === name(t.to) && f.cycle === t.cycle,
          `transition ${i}: qikictl ${JSON.stringify(t)}, file ${JSON.stringify(f)}`);
  });
}
out.problems = problems;
console.log(JSON.stringify(out, null, 1));
process.exit(problems.length ? 1 : 0);
