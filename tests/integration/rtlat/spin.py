#!/usr/bin/env python3
# A competing real-time thread for tests/integration/rtlat.sh: pinned to the
# loop's CPU at a SCHED_FIFO priority above the loop's, it spins BURSTS times
# for MS milliseconds (far under RT throttling's 950 ms/s), sleeping between.
# usage: spin.py CPU PRIO BURSTS MS
import os, sys, time

cpu, prio, bursts, ms = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
os.sched_setaffinity(0, {cpu})
with open('/proc/self/comm', 'w') as f:
    f.write('qk-spin')
os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(prio))
for _ in range(bursts):
    end = time.monotonic() + ms / 1000
    while time.monotonic() < end:
        pass
    time.sleep(0.15)
# the interpreter's exit is not part of the burst: it runs as an ordinary task
os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
