# SPDX-License-Identifier: MIT OR Apache-2.0
# tests/integration/lib.sh - sourced by the integration scripts (it is not
# run by itself: not executable).  Set `name` first; the script's $1 is the
# build dir.  Gives: $bin, a unique $inst, a scratch $out removed at exit
# with every process of the instance, and the helpers below.
set -uo pipefail
B=${1:-build}
cd "$(dirname "$0")/../.."
bin=$B/bin
inst="t-$name-$$"
fails=0
out=$(mktemp -d)
cleanup() {
  pkill -f -- "--instance $inst( |\$)" 2>/dev/null
  pkill -f -- "-i $inst( |\$)" 2>/dev/null
  sleep 0.3
  rm -f "/dev/shm/qiki.$inst"
  umount "$out/tiny" 2>/dev/null	# a tmpfs a full-disk case may have left
  rm -rf "$out"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ctl() { "$bin/qikictl" -i "$inst" "$@"; }
wait_idle() {
  for _ in $(seq 100); do [ "$(ctl state 2>/dev/null)" = IDLE ] && return 0; sleep 0.1; done
  fail "the loop did not boot to IDLE"; return 1
}
sim_cycles() { ctl stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["sim"]["cycles"])'; }
finish() {
  [ "$fails" = 0 ] && echo "$name: all passed" || echo "$name: $fails failed"
  [ "$fails" = 0 ]
}
