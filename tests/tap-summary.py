# SPDX-License-Identifier: MIT
"""The closing count of tests/run.sh: every TAP test point of every meson test log given, and
the skips.

usage: BROKEN="BUILD:STATUS ..." LINT_STATUS=0|N|skip CI=true python3 tests/tap-summary.py LOG...

LOG is a meson testlog.json (BUILD/meson-logs/testlog.json, or valgrind.json). BROKEN lists the
meson test runs that failed (each counts as one failure: a run cut short leaves tests out of its
log); LINT_STATUS is tests/lint.sh's exit status (0 counts as one pass). Prints what failed, the
skipped integration tests, and "N passed, N failed, N skipped"; exits 1 when anything failed or,
with CI set, an integration test was skipped.
"""
import json
import os
import re
import sys


def main():
    passed = failed = skipped = 0
    ci = os.environ.get("CI", "") in ("1", "true", "yes")
    skipped_integration = []
    for path in sys.argv[1:]:
        run = path.split("/")[0] + ("/valgrind" if path.endswith("valgrind.json") else "")
        if not os.path.exists(path):
            print(f"{run}: no test log")
            failed += 1
            continue
        with open(path) as f:
            tests = [json.loads(line) for line in f]
        for t in tests:
            out = t.get("stdout") or ""
            suite = (t.get("suite") or [""])[0]
            bad = 0
            for line in out.splitlines():
                m = re.match(r"(not ok|ok)\b", line)
                if m:
                    if re.search(r"#\s*skip", line, re.I):
                        skipped += 1
                        if "integration" in suite or "package" in suite:
                            skipped_integration.append(f"{run}/{t['name']}: {line}")
                    elif m.group(1) == "ok":
                        passed += 1
                    else:
                        failed += 1
                        bad += 1
                elif re.match(r"1\.\.0 # (SKIP|skip)", line):
                    skipped += 1
                    if "integration" in suite or "package" in suite:
                        skipped_integration.append(f"{run}/{t['name']}: {line}")
            if t["result"] not in ("OK", "SKIP", "EXPECTEDFAIL"):
                print(f"{run}/{t['name']}: {t['result']}")
                if bad == 0:
                    failed += 1  # it failed without a failing point: crashed, timed out, no plan
    for run in os.environ.get("BROKEN", "").split():
        # meson test itself failed: a test failed, or the run was cut short (every test it did
        # not get to is missing from the log, so this must count)
        print(f"meson test of {run.split(':')[0]} exited with status {run.split(':')[1]}")
        failed += 1
    lint = os.environ.get("LINT_STATUS", "skip")
    if lint == "0":
        passed += 1
    elif lint != "skip":
        print("lint: cppcheck, clang-tidy, shellcheck or flake8 found something "
              "(build/meson-logs/lint.txt)")
        failed += 1
    for s in skipped_integration:
        print("skipped:", s)
    if ci and skipped_integration:
        print("CI: integration tests must run here, not skip")
        failed += 1
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
