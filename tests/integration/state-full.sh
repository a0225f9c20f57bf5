#!/bin/bash
# SPDX-License-Identifier: MIT
# The state journal on a really full filesystem (daemon/state.h): a batch with a put is
# refused and leaves nothing, removals are still saved (into the journal's reserve), a
# compaction fails without losing or corrupting anything, also after a restart, and all works
# again once space is freed. tests/state-full-check does it, once on a 2 MiB tmpfs and once on
# an ext4 image on a loop device, each mounted in a private mount namespace (unshare -m) that
# dies with it: no mount outlives the test. It runs as an unprivileged uid, as natwardend does
# (ext4 keeps its root reserve from it).
#
#   NW_BUILD=build tests/integration/state-full.sh          (as root)

SF_SELF=$(readlink -f "$0")
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$SF_SELF")/lib.sh"

SF_UID=65534
SF_CHECK=$NW_BUILD/tests/state-full-check
SF_TESTS=58 # what the check prints on one filesystem

# sf_inside KIND DIR [IMAGE], in the new mount namespace: mount, run the check there.
sf_inside() {
	local kind=$1 dir=$2 image=${3:-}
	case $kind in
	tmpfs) mount -t tmpfs -o size=2m,mode=0755 tmpfs "$dir" ;;
	ext4) mount -o loop "$image" "$dir" ;;
	esac 2>/dev/null || exit 77
	chown "$SF_UID:$SF_UID" "$dir" || exit 1
	exec setpriv --reuid="$SF_UID" --regid="$SF_UID" --clear-groups -- "$SF_CHECK" "$dir"
}

if [ "${1:-}" = --inside ]; then
	shift
	sf_inside "$@"
fi

# sf_run KIND [IMAGE]: the check on KIND, its TAP lines renumbered into ours.
sf_run() {
	local kind=$1 out=$NW_T/$1.tap rc=0 line n=0
	unshare -m --propagation private "$SF_SELF" --inside "$kind" "$NW_T/mnt" "${2:-}" \
		>"$out" 2>&1 || rc=$?
	if [ "$rc" = 77 ]; then
		ok "$kind # SKIP cannot mount a $kind here"
		return
	fi
	while IFS= read -r line; do
		case $line in
		"ok "*) ok "$kind: ${line#ok * - }"; n=$((n + 1)) ;;
		"not ok "*) not_ok "$kind: ${line#not ok * - }"; n=$((n + 1)) ;;
		1..*) ;;
		*) echo "$line" ;;
		esac
	done <"$out"
	is "$n $rc" "$SF_TESTS 0" "$kind: the check ran all its tests and exited 0"
}

nw_init
[ -x "$SF_CHECK" ] || skip_all "build the tests first ($SF_CHECK)"
unshare -m true 2>/dev/null || skip_all "cannot create mount namespaces here"
NW_T=$(mktemp -d /tmp/natwarden-test.XXXXXX)
NW_DIRS+=("$NW_T")
chmod 0755 "$NW_T"
mkdir "$NW_T/mnt"

sf_run tmpfs

if ! command -v mkfs.ext4 >/dev/null; then
	ok "ext4 # SKIP no mkfs.ext4"
elif ! truncate -s 32M "$NW_T/ext4.img" || ! mkfs.ext4 -q -F -b 4096 "$NW_T/ext4.img"; then
	ok "ext4 # SKIP mkfs.ext4 cannot make an image here"
else
	sf_run ext4 "$NW_T/ext4.img"
fi
