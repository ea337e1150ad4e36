# SPDX-License-Identifier: MIT OR Apache-2.0
# bench/hist.gp - latency histograms, log-log, one curve per series.
# Called by bench/report.py:
#   gnuplot -e "data='x.dat'; out='x.png'; ttl='...'; n=3" bench/hist.gp
# data: one block per series (two blank lines apart), each opening with a
# quoted label line, then "latency_us fraction_of_samples" rows: two per
# bucket (its lower and upper edge, so each bucket is a flat top), a blank
# line where a gap lies between, and a third column, set only for a bucket
# alone between gaps (a lone outlier), drawn as a dot so it stays visible.
set terminal pngcairo size 1100,620 font "sans,10" noenhanced
set output out
set title ttl
set logscale xy
set format x "%g"
set format y "1e%L"
set xlabel "latency (us), log scale"
set ylabel "fraction of samples per bucket, log scale"
set grid xtics ytics mxtics
set key outside right top
set datafile missing "?"
# ten distinct colours, dashed from the seventh on: a run has up to ten series
array C[10] = ["#7b3294", "#1b9e77", "#4575b4", "#e66101", "#a6761d", "#d01c8b", \
               "#000000", "#66a61e", "#e7298a", "#666666"]
do for [i=1:10] { d = (i > 6 ? 2 : 1); set linetype i lc rgb C[i] lw 1.6 dt d }
plot for [i=0:n-1] data index i using 1:2 with lines lt (i + 1) title columnheader(1), \
     for [i=0:n-1] data index i using 1:3 with points lt (i + 1) pt 7 ps 0.5 notitle
