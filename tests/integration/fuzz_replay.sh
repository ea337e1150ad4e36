#!/usr/bin/env bash
# Replays the committed libFuzzer corpora (tests/fuzz/corpus/<target>)
# through the fuzz targets built by `make fuzz` (clang, ASan, UBSan): every
# input once, a few seconds in all.  The long runs are `make fuzz-run`.
# usage: tests/integration/fuzz_replay.sh BUILD_DIR
set -uo pipefail
B=${1:-build}
cd "$(dirname "$0")/../.."
fails=0
for src in tests/fuzz/fuzz_*.c; do
  t=$(basename "$src" .c)
  if [ ! -x "$B/fuzz/$t" ]; then
    echo "FAIL: $B/fuzz/$t is not built (make fuzz)"; fails=$((fails + 1)); continue
  fi
  if ! "$B/fuzz/$t" -runs=0 "tests/fuzz/corpus/$t" >"$B/fuzz/$t.replay.log" 2>&1; then
    echo "FAIL: $t on its corpus:"; tail -n 20 "$B/fuzz/$t.replay.log"; fails=$((fails + 1))
  else
    echo "  $t: $(grep -c . <(ls "tests/fuzz/corpus/$t")) inputs replayed"
  fi
done
# fuzz_seg names its segment after its pid; a crash must not leave it behind
# (only a dead fuzzer's: a long `make fuzz-run` may be using its own)
for f in /dev/shm/qiki.fuzz-seg-*; do
  [ -e "$f" ] && ! kill -0 "${f##*-}" 2>/dev/null && rm -f "$f"
done
[ "$fails" = 0 ] && echo "fuzz_replay: all passed"
[ "$fails" = 0 ]
