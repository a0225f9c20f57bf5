#!/bin/sh
# SPDX-License-Identifier: MIT
# Static analysis of common/ policy/ daemon/ client/: cppcheck and clang-tidy, with the
# configuration checked in (tests/cppcheck-suppressions.xml, .clang-tidy) and the compiler
# flags of build/compile_commands.json. Prints every finding as FILE:LINE:COLUMN and ends with
# "lint: N findings"; exits 1 when there is any, 2 when the tools cannot run.
# usage: tests/lint.sh
set -u
cd "$(dirname "$0")/.." || exit 2
dirs="common policy daemon client"

tests/deps.sh cppcheck clang-tidy || exit 2
if [ ! -f build/build.ninja ]; then
	meson setup build >/dev/null || { echo "lint: meson setup build failed"; exit 2; }
fi
# compile_commands.json must describe the sources as they are (and generated files exist)
ninja -C build >/dev/null || { echo "lint: the build fails: fix that first"; exit 2; }

out=$(mktemp -d) || exit 2
trap 'rm -rf "$out"' EXIT

echo "== cppcheck $(cppcheck --version | sed 's/^Cppcheck //')"
filters=
for d in $dirs; do
	filters="$filters --file-filter=$d/*"
done
# shellcheck disable=SC2086
cppcheck --project=build/compile_commands.json $filters \
	--enable=warning,style,performance,portability --inconclusive \
	--inline-suppr --suppress-xml=tests/cppcheck-suppressions.xml \
	--error-exitcode=1 --quiet \
	--template='{file}:{line}:{column}: {severity}: {message} [{id}]' 2>"$out/cppcheck"
cppcheck_status=$?
cat "$out/cppcheck"
cppcheck_n=$(grep -c '\[[A-Za-z0-9_]*\]$' "$out/cppcheck")
[ "$cppcheck_status" -ne 0 ] && [ "$cppcheck_n" -eq 0 ] && cppcheck_n=1 # failed without a finding

echo "== $(clang-tidy --version | grep -o 'LLVM version [0-9.]*' | sed 's/LLVM/clang-tidy/')"
# One file per process, as many at once as there are CPUs; headers are checked through the
# files that include them (HeaderFilterRegex), so a header finding may come more than once.
# shellcheck disable=SC2086
find $dirs -name '*.c' | sort |
	xargs -n 1 -P "$(nproc)" clang-tidy -p build --quiet >"$out/tidy" 2>"$out/tidy-err"
tidy_status=$?
# keep the findings (with their source excerpts), once each, in file order
grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$' "$out/tidy-err" >>"$out/tidy"
python3 - "$out/tidy" <<'PY'
import re, sys
blocks, cur = [], None
for line in open(sys.argv[1], errors="replace"):
    if re.match(r"^\S+:\d+:\d+: (warning|error):", line):
        cur = [line]
        blocks.append(cur)
    elif cur is not None:
        cur.append(line)
    elif line.strip():
        blocks.append([line])
seen = set()
for b in blocks:
    key = b[0]
    if key in seen:
        continue
    seen.add(key)
    sys.stdout.write("".join(b))
PY
tidy_n=$(grep -E '^\S+:[0-9]+:[0-9]+: (warning|error):' "$out/tidy" | sort -u | wc -l)
[ "$tidy_status" -ne 0 ] && [ "$tidy_n" -eq 0 ] && tidy_n=1 # failed without a finding

total=$((cppcheck_n + tidy_n))
echo "lint: $total findings (cppcheck $cppcheck_n, clang-tidy $tidy_n)"
[ "$total" -eq 0 ]
