#!/bin/bash
# PID 1 in the guest, after switch_root into the host's tree (overlaid):
# mounts what a Linux userland expects, runs the script named in
# /rtvm-out/guest.env from the worktree, records its exit status as the
# verdict and powers off.  Never returns (PID 1 must not exit).
set -u
set -a; . /rtvm-out/guest.env; set +a
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
hostname qiki-rtvm
ip link set lo up 2>/dev/null
cd "$QK_RTVM_WT" || { echo "QIKI-RTVM-VERDICT 98"; busybox poweroff -f; }
echo "rt-vm: guest up: $(uname -r) $(uname -v), clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
# shellcheck disable=SC2086
bash "$QK_RTVM_SCRIPT" $QK_RTVM_ARGS 2>&1 | tee /rtvm-out/guest.log
rc=${PIPESTATUS[0]}
echo "$rc" > /rtvm-out/verdict
sync
echo "QIKI-RTVM-VERDICT $rc"
busybox poweroff -f
sleep 5
echo o > /proc/sysrq-trigger
sleep 100000
