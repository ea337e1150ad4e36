#!/usr/bin/env bash
# The live Foxglove view: `qiki run --foxglove` serves the run over the
# Foxglove WebSocket protocol.  A real client (Python's websockets, the
# schemas decoded with python3-protobuf from what the server advertises)
# subscribes, and sees the FSM transitions of a short operator scenario and
# the sensor frames; refusals of a bad client and bad input are checked too.
# usage: tests/integration/foxglove.sh BUILD_DIR
name=foxglove
. "$(dirname "$0")/lib.sh"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

"$bin/qiki" run --instance "$inst" --duration 120 --quiet --foxglove="127.0.0.1:$port" \
  >"$out/run.out" 2>&1 &
qiki=$!
wait_idle || { cat "$out/run.out"; exit 1; }

# bad input: a port that is not a port, and a port already taken
"$bin/qiki-telemetry" -i "$inst" --foxglove 70000 >"$out/bad.out" 2>&1
[ $? = 1 ] && grep -q -- "--foxglove '70000': expected \[HOST:\]PORT" "$out/bad.out" ||
  { fail "a bad --foxglove port is not refused clearly"; cat "$out/bad.out"; }
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
  sleep 0.1
done

# a plain HTTP request is answered 400, with what to do
reply=$(printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' | timeout 5 python3 -c "
import socket, sys
s = socket.create_connection(('127.0.0.1', $port)); s.sendall(sys.stdin.buffer.read())
print(s.recv(4096).decode(errors='replace'))")
echo "$reply" | grep -q '^HTTP/1.1 400' && echo "$reply" | grep -q 'foxglove.websocket.v1' ||
  fail "plain HTTP is not refused with 400 and the subprotocol: $reply"

timeout 90 /usr/bin/python3 tests/integration/foxglove/client.py "$port" "$out/ready" >"$out/client.out" 2>&1 &
client=$!
for _ in $(seq 300); do [ -e "$out/ready" ] && break; sleep 0.1; done
[ -e "$out/ready" ] || fail "the client did not subscribe"
ctl setpoint 5 0 0 >/dev/null || fail "setpoint"
ctl state ACTIVE >/dev/null || fail "ACTIVE"
ctl fault tank_pressure bias 30 >/dev/null || fail "fault"
wait $client; rc=$?
cat "$out/client.out"
[ $rc = 0 ] || fail "the Foxglove client's checks (exit $rc)"

ctl state SHUTDOWN >/dev/null 2>&1
wait $qiki; rc=$?
[ $rc = 0 ] || { fail "qiki run exit $rc"; cat "$out/run.out"; }
finish
