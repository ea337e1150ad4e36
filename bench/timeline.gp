# SPDX-License-Identifier: MIT OR Apache-2.0
# bench/timeline.gp - the loop's latency over time: the worst value in each
# 10 ms window, beside cyclictest's p99 and maximum from the same run.
# Called by bench/report.py:
#   gnuplot -e "data='x.dat'; out='x.png'; ttl='...'; ct99=12.3; ctmax=456" bench/timeline.gp
# data columns: seconds, sim wake-up us, agent compute us, sensor-to-actuation us
# ("?" for a window the reader did not see).
set terminal pngcairo size 1100,520 font "sans,10" noenhanced
set output out
set title ttl
set logscale y
set format y "%g"
set xlabel "time in the run (s)"
set ylabel "worst in each 10 ms window (us), log scale"
set grid xtics ytics
set key outside right top
set datafile missing "?"
plot data using 1:2 with lines lw 1 title "sim wake-up latency", \
     data using 1:4 with lines lw 1 title "sensor-to-actuation", \
     data using 1:3 with lines lw 1 title "agent compute", \
     ct99 with lines dt 2 lw 1.5 lc rgb "black" title "cyclictest p99 (same run)", \
     ctmax with lines dt 3 lw 1.5 lc rgb "red" title "cyclictest max (same run)"
