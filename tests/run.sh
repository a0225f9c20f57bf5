#!/bin/sh
# SPDX-License-Identifier: MIT
# The whole natwarden test suite: installs what is missing (Debian 12, as root), builds three
# ways (plain; ASan+UBSan; clang with libFuzzer), runs every suite in each, and ends with
# "N passed, N failed, N skipped". Exit status 0 only when nothing failed, and, with CI=true,
# when no integration test was skipped.
# usage: tests/run.sh [--quick]   (--quick: plain build only)
set -u
cd "$(dirname "$0")/.." || exit 2
quick=no
[ "${1:-}" = --quick ] && quick=yes

tests/deps.sh || exit 2

builds="build"
[ "$quick" = yes ] || builds="build build-asan build-fuzz"
status=0
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
	echo "== $b"
	# the fuzz build only runs the fuzzers: the other two builds run everything else
	suites=
	[ "$b" = build-fuzz ] && suites="--suite fuzz"
	# meson's own summary, one line per test program
	# shellcheck disable=SC2086
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
		meson test -C "$b" $suites --print-errorlogs --num-processes 1 2>&1 |
		grep -E '^ *[0-9]+/[0-9]+ |^(Ok|Fail|Skipped|Timeout):' || true
done

# Count every TAP test point of every run, and the skips.
python3 - $builds <<'PY' || status=1
import json, os, re, sys
passed = failed = skipped = 0
ci = os.environ.get("CI", "") in ("1", "true", "yes")
skipped_integration = []
for b in sys.argv[1:]:
    path = os.path.join(b, "meson-logs", "testlog.json")
    if not os.path.exists(path):
        print(f"{b}: no test log"); failed += 1; continue
    for line in open(path):
        t = json.loads(line)
        out = t.get("stdout") or ""
        points = 0
        for l in out.splitlines():
            m = re.match(r"(not ok|ok)\b", l)
            if m:
                points += 1
                if "# SKIP" in l or "# skip" in l:
                    skipped += 1
                    if "integration" in t.get("suite", [""])[0]:
                        skipped_integration.append(f"{b}/{t['name']}: {l}")
                elif m.group(1) == "ok":
                    passed += 1
                else:
                    failed += 1
            elif re.match(r"1\.\.0 # (SKIP|skip)", l):
                skipped += 1
                skipped_integration.append(f"{b}/{t['name']}: {l}")
        if t["result"] not in ("OK", "SKIP", "EXPECTEDFAIL") and points == 0:
            failed += 1
            print(f"{b}/{t['name']}: {t['result']} without test points")
        elif t["result"] not in ("OK", "SKIP", "EXPECTEDFAIL"):
            print(f"{b}/{t['name']}: {t['result']}")
            if failed == 0:
                failed += 1
for s in skipped_integration:
    print("skipped:", s)
if ci and skipped_integration:
    print("CI: integration tests must run here, not skip")
    failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
PY
[ $? -eq 0 ] || status=1
exit $status
