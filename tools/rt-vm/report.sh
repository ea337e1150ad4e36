#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Writes report.md (on stdout) for a test-rt run: the kernel, accelerator,
# clocksource, every check's result and the figures of each boot.
# usage: report.sh TOP_DIR MODE SECONDS BOOT...
set -uo pipefail
top=$1 mode=$2 secs=$3
shift 3
fence() { echo '```'; cat "$1"; echo '```'; }
echo "# qiki on PREEMPT_RT: make test-rt ($mode)"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(basename "$top"); $secs s in all (package fetch and"
echo "initramfs build included when build/rt-vm was cold). Host: $(uname -r) ($(uname -v | cut -c1-40)),"
echo "$(nproc) CPUs, shared with other work while this ran (load average at the end:"
echo "$(cut -d' ' -f1-3 /proc/loadavg))."
for b in "$@"; do
  d=$top/$b
  echo
  echo "## Boot '$b'"
  echo
  accel=$(cat "$d/accel" 2>/dev/null || echo '?')
  echo "- kernel: $(cat "$d/kernel" 2>/dev/null || echo 'no answer from the guest')"
  echo "- accelerator: $(cat "$d/accel-why" 2>/dev/null || echo '?')"
  echo "- clocksource: $(cat "$d/clocksource" 2>/dev/null || echo '?')"
  echo "- kernel parameters: $(cat "$d/append" 2>/dev/null)"
  echo "- boot to verdict: $(cat "$d/seconds" 2>/dev/null || echo '?') s; verdict $(cat "$d/verdict" 2>/dev/null || echo 'none')"
  if [ "$accel" = tcg ]; then
    echo
    echo "**emulated: not the kernel's latency.** Under QEMU TCG every guest instruction is"
    echo "translated, and a guest CPU is a host thread: the latency figures below are the"
    echo "emulator's and the host's, not PREEMPT_RT's. Tests that measure speed or wait on"
    echo "the wall clock say they are skipped under TCG, and why."
  fi
  echo
  echo "| check | result | detail |"
  echo "|---|---|---|"
  if [ -s "$d/results.tsv" ]; then
    awk -F'\t' '{ gsub(/\|/, "/", $3); printf "| %s | %s | %s |\n", $1, $2, $3 }' "$d/results.tsv"
  else
    echo "| guest | FAIL | no results: see console.log |"
  fi
  for f in doctor.txt cyclictest.txt timerlat.txt rtlat.txt timerlat-loop.txt rt-run.txt lockstep.txt hpet-run.err; do
    [ -s "$d/$f" ] || continue
    echo
    echo "### $f"
    echo
    case $f in
      rtlat.txt)
        echo "qiki-rtlat (eBPF, ours) on the loop threads themselves, during the 1 kHz run;"
        echo "rtla timerlat (timerlat-loop.txt) ran on the same CPU for the same seconds."
        echo
        fence "$d/$f" ;;
      timerlat-loop.txt)
        echo "rtla timerlat (the kernel's tool) on the loop's CPU while qiki-rtlat loaded and ran"
        echo "(started first, stopped with SIGINT when qiki-rtlat was done). rtla 6.1 has no"
        echo "user-space mode: it times its own SCHED_FIFO 95 thread, woken by a timer beside the"
        echo "loop threads, not the loop threads themselves."
        echo
        fence <(sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$d/$f" | grep . | head -n 20) ;;
      cyclictest.txt) fence <(grep -v '^0' "$d/$f" | grep -E '^#|^T:' | grep -vE '^# (Histogram|Thread)' | head -n 12) ;;
      rt-run.txt) fence <({ grep -v '^\[' "$d/$f"; echo "(last status line:)"; grep '^\[' "$d/$f" | tail -n 1; }) ;;
      timerlat.txt) fence <(sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$d/$f" | grep . | head -n 20) ;;
      *) fence <(head -n 40 "$d/$f") ;;
    esac
  done
  [ -s "$d/bench.txt" ] && { echo; echo "### bench (quick)"; echo; fence <(grep -E '^==|p50|p99|max' "$d/bench.txt" | head -n 60); }
done
if [ -s "$top/host-doctor.txt" ]; then
  echo
  echo "## qiki doctor on the host"
  echo
  fence "$top/host-doctor.txt"
fi
