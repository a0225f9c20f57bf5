#!/bin/bash
# SPDX-License-Identifier: MIT
# The router's own addresses as daemon/localaddr.c reads them from the kernel (rtnetlink), in
# a network namespace of its own (veth pairs: no `dummy` links here): addresses up and down,
# every prefix length that matters, secondaries and labels, loopback, AnyIP and local routes
# in other tables, broadcast routes the kernel (or an admin) made; and the notifications that
# tell a change, and only a change, happened. Never touches the host's network.
. "$(dirname "$0")/lib.sh"
nw_init

DUMP=$NW_BUILD/tests/localaddr-dump
[ -x "$DUMP" ] || skip_all "build tests/localaddr-dump first ($NW_BUILD)"
NS=nwla$$
T=$(mktemp -d /tmp/natwarden-localaddr.XXXXXX)
NW_DIRS+=("$T")
chmod 0755 "$T"
ip netns add "$NS" || { echo "Bail out! cannot create netns $NS"; exit 1; }
NW_NAMESPACES+=("$NS")
# IPv4 only: IPv6's address configuration would report each link's link-local address one to
# two seconds after it comes up (duplicate address detection), long after the step it belongs to
ip netns exec "$NS" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1 ||
	{ echo "Bail out! cannot turn IPv6 off in $NS"; exit 1; }

in_ns() { ip netns exec "$NS" "$@"; }
nsip() { ip -n "$NS" "$@"; }

# view [IFNAME]: what localaddr sees, as nobody (no privilege needed), one entry a line; with
# IFNAME, only that interface's entries.
view() {
	local out
	out=$(in_ns setpriv --reuid=65534 --regid=65534 --clear-groups -- "$DUMP") ||
		{ echo "localaddr-dump failed"; return 1; }
	if [ $# -eq 0 ]; then
		printf '%s\n' "$out"
	else
		printf '%s\n' "$out" | awk -v i="$1" '$3 == i'
	fi
}

# watch_change SECONDS COMMAND...: start watching, run COMMAND, print what the watcher said.
watch_change() {
	local secs=$1 pid
	shift
	: >"$T/watch.out"
	in_ns setpriv --reuid=65534 --regid=65534 --clear-groups -- "$DUMP" --watch "$secs" \
		>"$T/watch.out" 2>&1 &
	pid=$!
	NW_PIDS+=("$pid")
	nw_wait_for 5 grep -q '^watching$' "$T/watch.out" ||
		{ echo "watcher did not start: $(cat "$T/watch.out")"; return 1; }
	"$@" >/dev/null 2>&1 || echo "command failed: $*"
	wait "$pid"
	grep -v '^watching$' "$T/watch.out"
}

# ---- the view ----------------------------------------------------------------------------

is "$(view)" "" "a fresh namespace (lo down) has no address"

nsip link set lo up
is "$(view)" "address 127.0.0.1/8 lo
broadcast 127.255.255.255/8 lo
local-route 127.0.0.0/8 lo" "lo up: 127.0.0.1, its broadcast, and the 127.0.0.0/8 local route"

nsip link add lan0 type veth peer name lan0p
nsip link add lan1 type veth peer name lan1p
nsip addr add 192.168.1.1/24 dev lan0
is "$(view lan0)" "address 192.168.1.1/24 lan0
broadcast 192.168.1.255/24 lan0" "an address on a down interface, and its subnet's broadcast"
is "$(nsip -4 route show table local type broadcast dev lan0)" "" \
	"(the kernel has no broadcast route yet: the link is down)"

nsip link set lan0p up
nsip link set lan0 up
is "$(view lan0)" "address 192.168.1.1/24 lan0
broadcast 192.168.1.255/24 lan0" "up: the kernel's broadcast route is the same entry"
diag "kernel $(uname -r), broadcast routes of a /24: $(nsip -4 route show table local \
	type broadcast dev lan0 | awk '{ print $2 }' | tr '\n' ' ')"

nsip addr add 192.168.1.2/24 dev lan0
nsip addr add 192.168.1.3/24 dev lan0 label lan0:1
is "$(view lan0)" "address 192.168.1.1/24 lan0
address 192.168.1.2/24 lan0
address 192.168.1.3/24 lan0
broadcast 192.168.1.255/24 lan0" \
	"a secondary and an alias label: the interface's name, one broadcast"

nsip addr add 10.30.0.1/30 dev lan1
nsip addr add 10.31.0.0/31 dev lan1
nsip addr add 10.32.0.1/32 dev lan1
nsip addr add 10.40.0.1/24 broadcast 10.40.0.127 dev lan1
nsip addr add 10.50.0.1 peer 10.50.0.2/32 dev lan1
nsip addr add 10.60.0.1 peer 10.60.9.0/24 dev lan1
nsip link set lan1 up
is "$(view lan1)" "address 10.30.0.1/30 lan1
broadcast 10.30.0.3/30 lan1
address 10.31.0.0/31 lan1
address 10.32.0.1/32 lan1
address 10.40.0.1/24 lan1
broadcast 10.40.0.127/24 lan1
broadcast 10.40.0.255/24 lan1
address 10.50.0.1/32 lan1
address 10.60.0.1/24 lan1
broadcast 10.60.9.255/24 lan1" \
	"/30 with broadcast; /31 and /32 without; IFA_BROADCAST too; a peer's subnet is the peer's"

nsip route add local 10.77.0.0/16 dev lo
nsip route add local 10.88.0.1 dev lo table 100
nsip route add local 10.89.0.0/24 dev lo table 1000
is "$(view lo)" "address 127.0.0.1/8 lo
broadcast 127.255.255.255/8 lo
local-route 10.77.0.0/16 lo
local-route 10.88.0.1/32 lo
local-route 10.89.0.0/24 lo
local-route 127.0.0.0/8 lo" "AnyIP, and local routes in table 100 and table 1000"

# What older kernels made for the network address, and what an admin can add by hand.
nsip route add broadcast 192.168.1.0 dev lan0 table local
nsip route add broadcast 172.16.9.9 dev lan0
nsip route add broadcast 172.17.0.0/16 dev lan0 table 7
nsip route add anycast 10.99.0.0/24 dev lan0 table 8
nsip route add 10.98.0.0/16 dev lan0
is "$(view lan0)" "broadcast 172.16.9.9/32 lan0
broadcast 192.168.1.0/24 lan0
address 192.168.1.1/24 lan0
address 192.168.1.2/24 lan0
address 192.168.1.3/24 lan0
broadcast 192.168.1.255/24 lan0
local-route 10.99.0.0/24 lan0
local-route 172.17.0.0/16 lan0" \
	"broadcast routes (in one of our subnets or not), a broadcast prefix, anycast; no unicast"

is "$(view | wc -l)" 24 "24 entries in all"
is "$(view | sort | uniq -d)" "" "no duplicates"
is "$(view)" "$(view)" "two dumps of the same state are identical"

nsip addr del 192.168.1.2/24 dev lan0
nsip route del local 10.88.0.1 dev lo table 100
is "$(view | grep -c -e '192\.168\.1\.2/' -e '10\.88\.0\.1/')" 0 \
	"a deleted address and a deleted local route are gone"
nsip link del lan1
is "$(view lan1)" "" "a deleted interface takes its addresses along"

# ---- notifications -----------------------------------------------------------------------

# Link notifications count as changes, and linkwatch sends carrier changes up to a second late:
# wait until a whole second passes without any (10 s at most), then assert that a quiet second
# stays quiet.
for i in $(seq 10); do [ "$(watch_change 1 true)" = timeout ] && break; done
diag "the links settled after $i s"
is "$(watch_change 1 true)" "timeout" "nothing happens: nothing is noticed"
is "$(watch_change 1 nsip route add 10.97.0.0/16 dev lan0)" "timeout" \
	"a unicast route is no change"
is "$(watch_change 10 nsip addr add 192.168.5.1/24 dev lan0)" "changed" \
	"adding an address is noticed"
is "$(watch_change 10 nsip addr del 192.168.5.1/24 dev lan0)" "changed" "removing one too"
is "$(watch_change 10 nsip route add local 10.88.0.1 dev lo table 100)" "changed" \
	"a local route in another table"
is "$(watch_change 10 nsip route replace 10.88.0.1 dev lan0 table 100)" "changed" \
	"a local route replaced by a unicast one"
is "$(view | grep -c '10\.88\.0\.1/')" 0 "(and it is gone from the view)"
is "$(watch_change 10 nsip link set lan0 down)" "changed" \
	"a link going down (its routes go without a RTM_DELROUTE)"
is "$(view lan0)" "address 192.168.1.1/24 lan0
address 192.168.1.3/24 lan0
broadcast 192.168.1.255/24 lan0" "and the view has its addresses only"
