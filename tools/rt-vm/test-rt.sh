#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# make test-rt / test-rt-ci / bench-rt: boots Debian's PREEMPT_RT kernel in
# QEMU (tools/rt-vm/boot.sh) and runs qiki there (tools/rt-vm/guest.sh),
# then writes build/rt-vm/<ts>/report.md.  Exit status: the guests' verdict.
# usage: tools/rt-vm/test-rt.sh BUILD_DIR full|ci|bench
# env:   QK_RTVM_CYCLES, QK_RTVM_SEED  the lockstep run compared with the host
set -uo pipefail
B=${1:-build} mode=${2:-full}
cd "$(dirname "$0")/../.."
t0=$EPOCHREALTIME
ts=$(date -u +%Y%m%dT%H%M%SZ)
top=$B/rt-vm/$ts
mkdir -p "$top"
cycles=${QK_RTVM_CYCLES:-$([ "$mode" = full ] && echo 20000 || echo 5000)} seed=${QK_RTVM_SEED:-7}
./tools/rt-vm/prepare.sh "$B" || exit 2

# The host's hash: the same binary, this kernel.
QIKI_LOG_DIR=$top/host-logs "$B/bin/qiki" run --instance "rtvm-host-$$" --lockstep \
  --cycles "$cycles" --seed "$seed" -q > "$top/host-lockstep.txt" 2>&1
hash=$(sed -n 's/.*sensor stream hash \([0-9a-f]*\) over.*/\1/p' "$top/host-lockstep.txt")
[ -n "$hash" ] || { echo "rt-vm: the host's lockstep run gave no hash:"; cat "$top/host-lockstep.txt"; exit 1; }
echo "rt-vm: host lockstep hash $hash ($cycles cycles, seed $seed)"
"$B/bin/qiki" doctor > "$top/host-doctor.txt"

# The guest runs a copy: editing the tree while a guest runs must not
# change the script under it (the guest reads the host's files live).
cp tools/rt-vm/guest.sh "$top/guest.sh"
case $top in /*) guest=$top/guest.sh ;; *) guest=$PWD/$top/guest.sh ;; esac
rc=0 boots=()
boot() {	# name append mode
  local name=$1 app=$2 m=$3 r
  echo "rt-vm: == boot '$name' ($m${app:+, $app})"
  QK_RTVM_APPEND=$app ./tools/rt-vm/boot.sh "$B" "$top/$name" "$guest" "$m" "$hash" \
    "$cycles" "$seed"
  r=$?
  echo "rt-vm: == boot '$name': verdict $r in $(cat "$top/$name/seconds" 2>/dev/null) s"
  [ $r = 0 ] || rc=1
  boots+=("$name")
}
# the full run takes most of an hour emulated on a busy host (the verifier
# alone takes minutes there): its limit is two hours, the others' 30 min
[ "$mode" = full ] && export QK_RTVM_TIMEOUT=${QK_RTVM_TIMEOUT:-7200}
case $mode in
  full)  boot main "" full; QK_RTVM_HPET_TESTS=1 boot hpet "clocksource=hpet" hpet ;;
  ci)    boot main "" ci; boot hpet "clocksource=hpet" hpet ;;
  bench) boot bench "" bench ;;
  *) echo "usage: $0 BUILD_DIR full|ci|bench" >&2; exit 1 ;;
esac
secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
./tools/rt-vm/report.sh "$top" "$mode" "$secs" "${boots[@]}" > "$top/report.md"
echo "rt-vm: report $top/report.md"
grep -E '^\| .* \| (FAIL|SKIP) ' "$top/report.md" || true
echo "rt-vm: $mode $([ $rc = 0 ] && echo passed || echo FAILED) in $secs s"
exit $rc
