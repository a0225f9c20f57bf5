#!/bin/sh
# SPDX-License-Identifier: MIT
# The long fuzz run: every target for SECONDS (default 600) each, from the checked-in seeds,
# under ASan and UBSan. New interesting inputs go to tests/fuzz/findings/TARGET (not tracked);
# crashes are kept there too and should become regression seeds in tests/fuzz/corpus.
# usage: tests/fuzz/run-long.sh [SECONDS]
set -eu
cd "$(dirname "$0")/../.."
seconds=${1:-600}
tests/deps.sh
[ -d build-fuzz ] || CC=clang meson setup build-fuzz -Dfuzz=true \
	-Db_sanitize=address,undefined -Db_lundef=false >/dev/null
ninja -C build-fuzz >/dev/null
for target in build-fuzz/tests/fuzz-*; do
	# not meson's fuzz-NAME.p directories
	if [ ! -f "$target" ] || [ ! -x "$target" ]; then continue; fi
	name=${target##*/fuzz-}
	out=tests/fuzz/findings/$name
	mkdir -p "$out"
	echo "== $name: $seconds s"
	"$target" -max_total_time="$seconds" -max_len=70000 -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$out/" "$out" "tests/fuzz/corpus/$name" 2>&1 |
		grep -E '^(#[0-9]+ *DONE|Done|stat::number_of_executed_units|stat::peak_rss_mb)|ERROR|SUMMARY' || true
done
