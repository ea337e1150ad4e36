# SPDX-License-Identifier: MIT OR Apache-2.0
"""A Foxglove client that stays connected while the segment is attacked
(tests/integration/hostile.sh): it subscribes to every channel and counts
what arrives until the server closes the connection or LIMIT seconds pass.
Usage: watch.py PORT LIMIT_S READY_FILE (written once subscribed)
Prints one line: "messages N statuses [level:message ...] close CODE"
(close -1: still open at the limit).  Exit 0 unless it could not connect or
the server broke the protocol."""
import asyncio
import json
import sys

import websockets

PORT, LIMIT, READY = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]


async def main():
    n, statuses, code = 0, [], -1
    async with websockets.connect(f"ws://127.0.0.1:{PORT}", subprotocols=["foxglove.websocket.v1"],
                                  max_size=None, ping_interval=None) as ws:
        loop = asyncio.get_running_loop()
        end = loop.time() + LIMIT
        try:
            while loop.time() < end:
                try:
                    m = await asyncio.wait_for(ws.recv(), max(0.01, end - loop.time()))
                except asyncio.TimeoutError:
                    break
                if isinstance(m, bytes):
                    n += 1
                    continue
                j = json.loads(m)
                if j["op"] == "advertise":
                    await ws.send(json.dumps({"op": "subscribe", "subscriptions": [
                        {"id": c["id"], "channelId": c["id"]} for c in j["channels"]]}))
                    open(READY, "w").close()
                elif j["op"] == "status":
                    statuses.append(f'{j["level"]}:{j["message"]}')
        except websockets.exceptions.ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd else 1006
    print(f"messages {n} statuses {statuses} close {code}", flush=True)


try:
    asyncio.run(main())
except (OSError, websockets.exceptions.WebSocketException) as e:
    print(f"cannot connect: {e}", flush=True)
    sys.exit(1)
