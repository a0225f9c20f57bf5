#!/bin/sh
# SPDX-License-Identifier: MIT
# The natwarden demo. For now: build, then check the example fragment against the example
# policy, as the router's admin would before enabling a submitter.
set -eu
cd "$(dirname "$0")/.."
tests/deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
policy=$(mktemp)
trap 'rm -f "$policy"' EXIT
cp policy/policy.ini.example "$policy"
chmod 0644 "$policy"
echo "== natwarden check: the example fragment, judged for nat_update"
build/client/natwarden check --policy "$policy" --user nat_update --name ingress \
	policy/ingress.fragment.example
echo
echo "== a fragment that asks for too much"
printf 'dnat tcp 22 to 192.168.1.240\ndnat udp 443 to 10.0.0.9\n' |
	build/client/natwarden check --policy "$policy" --user nat_update --name greedy || true
