# SPDX-License-Identifier: MIT
# The plot in BENCHMARKS.md: apply time against the number of active mappings.
# usage: gnuplot -e "data='FILE'; out='PNG'" apply-time.gp   (FILE from report.py)
set terminal pngcairo size 960,600 font "sans,11"
set output out
set title "Time to apply one change (replace one mapping) against active mappings"
set xlabel "active mappings"
set ylabel "milliseconds per change (log scale)"
set logscale y
set format x "%.0f"
set key at graph 0.98, graph 0.62 right box opaque
set grid ytics mytics xtics
set style data linespoints
plot data using 1:2 title "natwarden: submit -> verdict, p50" lw 2 pt 7, \
     data using 1:3 title "natwarden: submit -> verdict, p99" lw 1 pt 6 dt 2, \
     data using 1:6 title "floor: natwarden check (client start and parse), p50" lw 1 pt 4 dt 3, \
     data using 1:5 title "one nft -f process per change, p50" lw 2 pt 5, \
     data using 1:4 title "one libnftables context (the limit), p50" lw 2 pt 9
