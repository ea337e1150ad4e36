# SPDX-License-Identifier: MIT OR Apache-2.0
"""A Foxglove WebSocket client for the test: connects with the
foxglove.websocket.v1 subprotocol, builds message classes from the schemas
the server advertises (protobuf FileDescriptorSets), subscribes, and checks
what it receives.  Usage: client.py PORT READY_FILE
It writes READY_FILE once subscribed, then waits (up to a bound) for the
state transitions IDLE->ACTIVE and ACTIVE->SAFE and for sensor frames, and
prints one line per check.  Exit 0 when every check held."""
import asyncio
import base64
import json
import struct
import sys

import websockets
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

PORT, READY = int(sys.argv[1]), sys.argv[2]
URI = f"ws://127.0.0.1:{PORT}"


def classes(channels):
    """channel id -> (topic, message class), from the advertised schemas."""
    out = {}
    for ch in channels:
        assert ch["encoding"] == "protobuf", ch
        fds = descriptor_pb2.FileDescriptorSet.FromString(base64.b64decode(ch["schema"]))
        pool = descriptor_pool.DescriptorPool()
        for f in fds.file:
            pool.Add(f)
        desc = pool.FindMessageTypeByName(ch["schemaName"])
        out[ch["id"]] = (ch["topic"], message_factory.GetMessageClass(desc)
                         if hasattr(message_factory, "GetMessageClass")
                         else message_factory.MessageFactory(pool).GetPrototype(desc))
    return out


async def refused_without_subprotocol():
    try:
        async with websockets.connect(URI) as ws:
            await asyncio.wait_for(ws.recv(), 5)
    except websockets.exceptions.ConnectionClosed as e:
        return e.code == 1002
    except Exception:
        return False
    return False


async def main():
    fails = 0

    def check(ok, what):
        nonlocal fails
        print(("ok   " if ok else "FAIL ") + what, flush=True)
        fails += 0 if ok else 1

    check(await refused_without_subprotocol(), "a client without foxglove.websocket.v1 is closed (1002)")
    async with websockets.connect(URI, subprotocols=["foxglove.websocket.v1"],
                                  max_size=None) as ws:
        check(ws.subprotocol == "foxglove.websocket.v1", "the server selects foxglove.websocket.v1")
        info = json.loads(await ws.recv())
        check(info["op"] == "serverInfo", "serverInfo first")
        adv = json.loads(await ws.recv())
        check(adv["op"] == "advertise", "then advertise")
        chans = classes(adv["channels"])
        topics = {t: cid for cid, (t, _) in chans.items()}
        for t in ("/sensors", "/actuators", "/timing", "/fsm", "/fsm/transitions", "/bios",
                  "/pose", "/log", "/params"):
            check(t in topics, f"channel {t} advertised with a schema that decodes")
        await ws.send("{not json")
        st = json.loads(await asyncio.wait_for(ws.recv(), 5))
        check(st["op"] == "status" and st["level"] == 2, "malformed JSON gets an error status")
        await ws.send(json.dumps({"op": "subscribe", "subscriptions": [
            {"channelId": topics["/fsm/transitions"], "id": 7},
            {"id": 9, "channelId": topics["/sensors"]}]}))
        open(READY, "w").close()
        seen, sensors, bad = [], 0, 0
        loop = asyncio.get_running_loop()
        end = loop.time() + 60
        while loop.time() < end and not (("ACTIVE", "SAFE") in seen and sensors >= 100):
            try:
                m = await asyncio.wait_for(ws.recv(), end - loop.time())
            except asyncio.TimeoutError:
                break
            if isinstance(m, str):
                continue
            op, sub, ts = struct.unpack_from("<BIQ", m)
            if op != 1 or sub not in (7, 9):
                bad += 1
                continue
            cls = chans[topics["/fsm/transitions" if sub == 7 else "/sensors"]][1]
            msg = cls.FromString(m[13:])
            if sub == 7:
                f = cls.DESCRIPTOR.fields_by_name["from_state"].enum_type
                seen.append((f.values_by_number[msg.from_state].name.replace("FSM_STATE_", ""),
                             f.values_by_number[msg.to_state].name.replace("FSM_STATE_", "")))
            else:
                sensors += 1 if msg.cycle > 0 else 0
        check(bad == 0, "every binary message is Message Data of a subscription (%d others)" % bad)
        check(("IDLE", "ACTIVE") in seen, f"transition IDLE->ACTIVE decoded (seen {seen})")
        check(("ACTIVE", "SAFE") in seen, "transition ACTIVE->SAFE decoded")
        check(sensors >= 100, f"sensor frames decoded with the advertised schema ({sensors})")
        await ws.send(json.dumps({"op": "unsubscribe", "subscriptionIds": [7, 9]}))
        await asyncio.sleep(0.5)
        while True:	# what was already queued
            try:
                await asyncio.wait_for(ws.recv(), 0.3)
            except asyncio.TimeoutError:
                break
        got = 0
        try:
            while True:
                m = await asyncio.wait_for(ws.recv(), 1.0)
                got += not isinstance(m, str)
        except asyncio.TimeoutError:
            pass
        check(got == 0, f"nothing arrives after unsubscribe ({got})")
    return fails


sys.exit(1 if asyncio.run(main()) else 0)
