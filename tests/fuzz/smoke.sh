#!/bin/sh
# SPDX-License-Identifier: MIT
# A short, bounded libFuzzer run from the checked-in seeds, as one TAP test.
# usage: smoke.sh FUZZER SEED_DIR RUNS
set -u
fuzzer=$1 seeds=$2 runs=$3
work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT
echo "1..1"
if "$fuzzer" -runs="$runs" -max_len=70000 -timeout=10 -rss_limit_mb=2048 \
	-artifact_prefix="$work/" "$work" "$seeds" >"$work/log" 2>&1; then
	execs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$work/log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$work/log" | tail -n 1)
	echo "ok 1 - $(basename "$fuzzer"): ${execs:-?} executions, ${cov:-cov: ?}, no crash"
else
	echo "not ok 1 - $(basename "$fuzzer") found a problem"
	sed 's/^/# /' "$work/log" | tail -n 40
	for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
		[ -e "$f" ] && echo "# artifact: $f"
	done
fi
