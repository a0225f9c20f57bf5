#!/bin/sh
# SPDX-License-Identifier: MIT
# Install the Debian packages natwarden needs to build and test, only those missing.
# usage: tests/deps.sh [extra-package ...]
set -eu
packages="gcc clang libclang-rt-14-dev meson ninja-build pkg-config
	libnftables-dev nftables libmnl-dev libjansson-dev libcap-ng-dev libinih-dev libsystemd-dev libacl1-dev
	systemd procps iproute2 util-linux passwd jq python3 python3-yaml curl openssh-server openssh-client scdoc
	strace acl
	$*"
missing=
for p in $packages; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "natwarden: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "natwarden: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Installing openssh-server must not start a real sshd on this machine: the tests run their
# own, inside network namespaces.
made_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 0755 /usr/sbin/policy-rc.d
	made_policy=yes
fi
status=0
apt-get update -qq >&2 || status=$?
# shellcheck disable=SC2086
[ $status -ne 0 ] || apt-get install -y -qq --no-install-recommends $missing >&2 || status=$?
[ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
exit $status
