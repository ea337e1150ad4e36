#!/usr/bin/env bash
# A replay of the fuzzers' seed corpora (issue 14): every seed through the
# libFuzzer targets built by `make fuzz-ops` (make test builds them), under
# ASan and UBSan.  Seconds, not the campaign: `make fuzz-ops-run` is that.
# usage: tests/integration/fuzz_replay.sh BUILD_DIR
set -uo pipefail
B=${1:-build}
cd "$(dirname "$0")/../.."
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
replay() {	# NAME DIR...
  local name=$1 bin=$B/fuzz/fuzz_$1 n=0; shift
  [ -x "$bin" ] || { fail "$bin is not built (make fuzz-ops)"; return; }
  for d; do n=$((n + $(find "$d" -type f | wc -l))); done
  if "$bin" -runs=0 "$@" >"$B/fuzz/replay-$name.log" 2>&1; then
    echo "fuzz_$name: $n seeds replayed"
  else
    fail "fuzz_$name: a seed fails"; tail -20 "$B/fuzz/replay-$name.log"
  fi
}
replay ctlargs tests/fuzz/corpus/ctlargs
replay config tests/fuzz/corpus/config rt/config/profiles tests/config/yaml
replay mcap tests/fuzz/corpus/mcap "$B/fuzz/seeds/mcap"
[ "$fails" = 0 ] && echo "fuzz_replay: all passed" || echo "fuzz_replay: $fails failed"
[ "$fails" = 0 ]
