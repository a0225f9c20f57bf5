#!/bin/sh
# SPDX-License-Identifier: MIT
# Static analysis, with the configuration checked in:
#   - cppcheck and clang-tidy on the C code of common/ policy/ daemon/ client/ (the flags of
#     build/compile_commands.json, tests/cppcheck-suppressions.xml, .clang-tidy)
#   - ShellCheck on every shell script: tests/**/*.sh, the scripts without a suffix in tests/
#     and .ci/, client/kubernetes/natwarden-sync (.shellcheckrc)
#   - flake8 on every Python file (.flake8)
# Prints every finding as FILE:LINE:COLUMN: ... and ends with "lint: N findings"; exits 1 when
# there is any, 2 when the tools cannot run.
# usage: tests/lint.sh
set -u
cd "$(dirname "$0")/.." || exit 2
dirs="common policy daemon client"

tests/deps.sh cppcheck clang-tidy shellcheck flake8 || exit 2
if [ ! -f build/build.ninja ]; then
	meson setup build >/dev/null || { echo "lint: meson setup build failed"; exit 2; }
fi
# compile_commands.json must describe the sources as they are (and generated files exist)
ninja -C build >/dev/null || { echo "lint: the build fails: fix that first"; exit 2; }

out=$(mktemp -d) || exit 2
trap 'rm -rf "$out"' EXIT

# count FILE PATTERN STATUS: the findings in FILE (lines matching the extended regular
# expression), at least 1 when the tool failed (STATUS) without one
count() {
	n=$(grep -c -E "$2" "$1")
	[ "$3" -ne 0 ] && [ "$n" -eq 0 ] && n=1
	echo "$n"
}

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
cppcheck_n=$(count "$out/cppcheck" '\[[A-Za-z0-9_]*\]$' $?)
cat "$out/cppcheck"

echo "== $(clang-tidy --version | grep -o 'LLVM version [0-9.]*' | sed 's/LLVM/clang-tidy/')"
# One file per process, as many at once as there are CPUs; headers are checked through the
# files that include them (HeaderFilterRegex), so a header finding may come more than once.
# shellcheck disable=SC2086
find $dirs -name '*.c' | sort |
	xargs -n 1 -P "$(nproc)" clang-tidy -p build --quiet >"$out/tidy" 2>"$out/tidy-err"
tidy_status=$?
# keep the findings (with their source excerpts), once each, in file order
grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$' "$out/tidy-err" >>"$out/tidy"
awk '
	/^[^ \t]+:[0-9]+:[0-9]+: (warning|error):/ { shown = !($0 in seen); seen[$0] = 1; found = 1 }
	found { if (shown) print; next }
	NF { print }
' "$out/tidy"
tidy_n=$(grep -E '^\S+:[0-9]+:[0-9]+: (warning|error):' "$out/tidy" | sort -u | wc -l)
[ "$tidy_status" -ne 0 ] && [ "$tidy_n" -eq 0 ] && tidy_n=1 # failed without a finding

# The scripts: *.sh below tests/, and the files without a suffix in tests/, .ci/ and client/
# that start with a shell's #! line.
find tests -path tests/fuzz/findings -prune -o -name '*.sh' -type f -print >"$out/shell"
find tests .ci client \( -path tests/fuzz/findings -o -path tests/fuzz/corpus \) -prune -o \
	-type f ! -name '*.*' -print |
	while read -r f; do
		head -n 1 "$f" | grep -Eq '^#! ?/(usr/)?bin/(env )?(ba|da)?sh\b' && echo "$f"
	done >>"$out/shell"
echo "== $(shellcheck --version | sed -n 's/^version: /shellcheck /p') ($(wc -l <"$out/shell") scripts)"
sort "$out/shell" | xargs shellcheck -f gcc >"$out/shellcheck" 2>&1
shellcheck_n=$(count "$out/shellcheck" '\[SC[0-9]+\]$' $?)
cat "$out/shellcheck"

find . \( -path ./.git -o -path './build*' -o -path ./tests/fuzz/findings \) -prune -o \
	-name '*.py' -type f -print | sort >"$out/python"
echo "== flake8 $(flake8 --version | head -n 1 | cut -d' ' -f1) ($(wc -l <"$out/python") files)"
xargs flake8 <"$out/python" >"$out/flake8" 2>&1
flake8_n=$(count "$out/flake8" '^[^:]+:[0-9]+:[0-9]+: [A-Z][0-9]+ ' $?)
cat "$out/flake8"

total=$((cppcheck_n + tidy_n + shellcheck_n + flake8_n))
echo "lint: $total findings (cppcheck $cppcheck_n, clang-tidy $tidy_n, shellcheck $shellcheck_n, flake8 $flake8_n)"
[ "$total" -eq 0 ]
