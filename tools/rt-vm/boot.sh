#!/usr/bin/env bash
# Boots Debian's PREEMPT_RT kernel (prepared by tools/rt-vm/prepare.sh) in
# QEMU with the host's / shared read-only, runs SCRIPT [ARGS] from this
# worktree inside, and exits with the guest's verdict (SCRIPT's exit status).
# KVM when a probe shows that it boots the kernel, TCG otherwise; the choice
# is printed and written to OUT/accel.
# usage: tools/rt-vm/boot.sh BUILD_DIR OUT_DIR SCRIPT [ARGS...]
# env:   QK_RTVM_APPEND  more kernel parameters (e.g. clocksource=hpet)
#        QK_RTVM_ACCEL   kvm or tcg: skip the probe
#        QK_RTVM_TIMEOUT seconds before the guest is given up (default 1800)
#        QK_RTVM_MEM, QK_RTVM_SMP  guest memory (MiB, default 2048) and CPUs (2)
#        QK_RTVM_TEST_TIMEOUT  seconds each unit test may take in the guest (600)
set -euo pipefail
B=$1 out=$2 script=$3
shift 3
wt=$(cd "$(dirname "$0")/../.." && pwd)
rv=$(cd "$B/rt-vm" && pwd)
kernel=$rv/kernel/vmlinuz initrd=$rv/initrd.cpio.gz
[ -e "$kernel" ] && [ -e "$initrd" ] || { echo "rt-vm: run tools/rt-vm/prepare.sh first" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null ||
  { echo "rt-vm: qemu-system-x86_64 is missing: make deps-rt (qemu-system-x86)" >&2; exit 2; }
mkdir -p "$out"
out=$(cd "$out" && pwd)

qemu_base=(qemu-system-x86_64 -nodefaults -nographic -no-reboot -serial stdio
  -m "${QK_RTVM_MEM:-2048}" -kernel "$kernel" -initrd "$initrd")

# The probe: does this host's KVM boot the kernel to our init?  (A nested
# "PVM" /dev/kvm does not: QEMU aborts on an MSR or the guest hangs.)  The
# answer is cached per kernel in build/rt-vm/accel.
probe() {
  [ -w /dev/kvm ] || { echo "tcg (no writable /dev/kvm)"; return; }
  local log=$rv/kvm-probe.log
  if timeout 25 "${qemu_base[@]}" -accel kvm -cpu host -smp 1 \
       -append "console=ttyS0 panic=-1 qiki.probe=1" >"$log" 2>&1 </dev/null &&
     grep -q QIKI-RTVM-PROBE-OK "$log"; then
    echo kvm
  else
    echo "tcg (KVM did not boot the kernel: $(grep -m1 -iE 'error|assert|abort' "$log" |
          cut -c1-120 || true)${log:+; see $log})"
  fi
}
if [ -n "${QK_RTVM_ACCEL:-}" ]; then
  accel="${QK_RTVM_ACCEL} (QK_RTVM_ACCEL)"
elif [ -s "$rv/accel" ] && [ "$rv/accel" -nt "$kernel" ]; then
  accel=$(cat "$rv/accel")
else
  accel=$(probe)
  echo "$accel" > "$rv/accel"
fi
echo "rt-vm: accelerator: $accel"
echo "${accel%% *}" > "$out/accel"
echo "$accel" > "$out/accel-why"
case $accel in
  kvm*) accel_args=(-accel kvm -cpu host) ;;
  *)    accel_args=(-accel tcg,thread=multi -cpu max) ;;
esac

cat > "$out/guest.env" <<ENV
QK_RTVM_WT='$wt'
QK_RTVM_PID1='$wt/tools/rt-vm/guest-pid1.sh'
QK_RTVM_SCRIPT='$script'
QK_RTVM_ARGS='$*'
QK_RTVM_ACCEL='${accel%% *}'
QK_RTVM_B='$B'
QK_RTVM_HPET_TESTS='${QK_RTVM_HPET_TESTS:-0}'
QK_RTVM_TEST_TIMEOUT='${QK_RTVM_TEST_TIMEOUT:-600}'
ENV
rm -f "$out/verdict"
append="console=ttyS0 panic=-1 quiet loglevel=3 ${QK_RTVM_APPEND:-}"
# Under TCG the kernel judges the emulated TSC unstable and falls back to
# hpet, which the vDSO cannot read; unless a clocksource is asked for, boot
# with the fix qiki doctor gives (the emulated TSC is monotonic).
case "${accel%% *} $append" in
  tcg*clocksource=*) ;;
  tcg*) append="$append clocksource=tsc tsc=reliable" ;;
esac
echo "$append" > "$out/append"
echo "rt-vm: booting $(cat "$rv/kernel/release") (${append})"
start=$EPOCHREALTIME
set +e
# timeout(1) runs in a process group of its own: a kill of ours must reach it
timeout "${QK_RTVM_TIMEOUT:-1800}" "${qemu_base[@]}" "${accel_args[@]}" -smp "${QK_RTVM_SMP:-2}" \
  -append "$append" \
  -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
  -virtfs "local,path=$out,mount_tag=out,security_model=none" \
  </dev/null > "$out/console.log" 2>&1 &
qpid=$!
trap 'kill $qpid 2>/dev/null' EXIT
trap 'kill $qpid 2>/dev/null; exit 130' INT TERM
wait $qpid
qrc=$?
trap - EXIT INT TERM
set -e
awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f\n", b - a }' > "$out/seconds"
if [ ! -s "$out/verdict" ]; then
  echo "rt-vm: the guest gave no verdict (qemu exit $qrc); its console:" >&2
  tail -n 40 "$out/console.log" | sed 's/^/    /' >&2
  exit 3
fi
exit "$(cat "$out/verdict")"
