#!/bin/sh
# SPDX-License-Identifier: MIT
# The whole natwarden test suite. Installs what is missing (Debian 12, as root), then:
#   build       plain build: unit, integration and benchmark-smoke suites, and the Debian
#               package in a booted Debian 12 (tests/package/boot.sh; not with --quick)
#   build-asan  ASan+UBSan: unit and integration suites
#   build-fuzz  clang + libFuzzer (+ASan+UBSan): a short run of every fuzz target
#   valgrind    the integration suite's daemons under valgrind's memcheck (plain build)
#   lint        cppcheck and clang-tidy on the C code, shellcheck and flake8 on the test code,
#               configured in the repository
# and ends with "N passed, N failed, N skipped", counting every TAP test point (lint counts
# as one). Exit status 0 only when nothing failed and, with CI=true, no integration test
# was skipped.
# usage: tests/run.sh [--quick]   (--quick: the plain build's suites only)
set -u
cd "$(dirname "$0")/.." || exit 2
quick=no
[ "${1:-}" = --quick ] && quick=yes

tests/deps.sh valgrind cppcheck clang-tidy shellcheck flake8 \
	systemd-container mmdebstrap debhelper fakeroot dpkg-dev lintian prometheus-node-exporter || exit 2

# Tests whose daemons run under valgrind. Not there: spool-hostile and robustness-* (they kill
# daemons with SIGKILL, or run them through wrappers, on purpose), systemd-units (no daemon).
VALGRIND_TESTS="daemon-core cli service traffic flush article journal hostile-fragments"

# meson's own summary of a run: one line per test program, the totals
summary() {
	grep -E '^ *[0-9]+/[0-9]+ |^(Ok|Fail|Skipped|Timeout):' "$1" || true
}

builds="build"
[ "$quick" = yes ] || builds="build build-asan build-fuzz"
logs=
broken=
for b in $builds; do
	if [ ! -f "$b/build.ninja" ]; then
		case $b in
		build) opts="" ;;
		build-asan) opts="-Db_sanitize=address,undefined -Db_lundef=false" ;;
		build-fuzz) opts="-Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false" ;;
		esac
		cc=cc
		[ "$b" = build-fuzz ] && cc=clang
		# shellcheck disable=SC2086
		CC=$cc meson setup "$b" $opts >/dev/null || { echo "meson setup $b failed"; exit 2; }
	fi
	ninja -C "$b" >/dev/null || { ninja -C "$b"; echo "build $b failed"; exit 2; }
	case $b in
	build) suites="--suite unit --suite integration --suite bench"
		[ "$quick" = yes ] || suites="$suites --suite package" ;;
	build-asan) suites="--suite unit --suite integration" ;;
	build-fuzz) suites="--suite fuzz" ;;
	esac
	echo "== $b"
	# meson's own summary, one line per test program
	# shellcheck disable=SC2086
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
		meson test -C "$b" $suites --print-errorlogs --num-processes 1 >"$b/meson-run.txt" 2>&1 ||
		broken="$broken $b:$?"
	summary "$b/meson-run.txt"
	logs="$logs $b/meson-logs/testlog.json"
done

if [ "$quick" = no ]; then
	echo "== valgrind (memcheck on the daemons of: $VALGRIND_TESTS)"
	# shellcheck disable=SC2086
	NW_VALGRIND=1 meson test -C build $VALGRIND_TESTS --logbase valgrind --timeout-multiplier 3 \
		--print-errorlogs --num-processes 1 >build/meson-run-valgrind.txt 2>&1 ||
		broken="$broken valgrind:$?"
	summary build/meson-run-valgrind.txt
	logs="$logs build/meson-logs/valgrind.json"

	echo "== lint"
	lint_status=0
	tests/lint.sh >build/meson-logs/lint.txt 2>&1 || lint_status=$?
	tail -n 1 build/meson-logs/lint.txt
	[ "$lint_status" = 0 ] || grep -v '^==' build/meson-logs/lint.txt | head -n 40
else
	lint_status=skip
fi

# Count every TAP test point of every run, and the skips.
# shellcheck disable=SC2086 # $logs: a list of paths without blanks
BROKEN=$broken LINT_STATUS=$lint_status python3 tests/tap-summary.py $logs
