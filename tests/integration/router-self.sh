#!/bin/bash
# SPDX-License-Identifier: MIT
# No forward may reach the router itself, whatever `destinations` allows: natwardend learns the
# router's own IPv4 addresses from the kernel (every address on every interface, up or down;
# the directed broadcast of every subnet shorter than /31; every local, broadcast and anycast
# route in any routing table), refuses a target among them with a reason at the statement's
# line, also says when the target port is a reserved one, and revokes at once an active
# forward that a new address makes point at the router. Behind the engine the kernel holds a
# second line: every connection the table translates carries ct label 127, and the `guard`
# chain (input hook) drops any such connection bound for a local socket. Proved with an
# element added by hand (an engine miss) and real TCP from a WAN client.
#
# First the router namespace holds its own test interfaces (veth pairs, no traffic); then
# net.sh's topology (WAN client, bridged LAN, server) for the traffic. Everything is inside
# namespaces made here; the host's network and ruleset are never touched.
# shellcheck disable=SC2119 # nw_start and net_topology take optional arguments; none here
. "$(dirname "$0")/lib.sh"
nw_init
nw_setup
. "$(dirname "$0")/net.sh"

nsip() { ip -n "$NW_NS" "$@"; }

# The third user submits here with destinations that cover the router's LAN and every other
# range used below (and 127.0.0.0/8): only the router check stands in the way.
U3_POLICY="
[submitter $NW_U3]
ports = 30000-30100
protocols = tcp, udp
destinations = 192.168.0.0/16, 10.0.0.0/8, 203.0.113.0/24, 127.0.0.0/8
max_fragments = 16
"
nw_policy "$U3_POLICY"

# same GOT WANT DESCRIPTION: like `is`, but shows a difference of many lines as TAP comments
same() {
	if [ "$1" = "$2" ]; then
		ok "$3"
	else
		not_ok "$3"
		diff <(printf '%s\n' "$2") <(printf '%s\n' "$1") | sed 's/^/#   /'
	fi
}

# refused USER NAME FRAGMENT REASONS DESCRIPTION: exit 1, exactly these reason lines (one per
# line), and the kernel's forwards unchanged.
refused() {
	local user=$1 name=$2 frag=$3 reasons=$4 desc=$5 out rc before
	before=$(nw_kernel)
	out=$(printf '%s' "$frag" | nw_submit "$user" "$name" 2>&1)
	rc=$?
	same "exit $rc
$out" "exit 1
$name: rejected
$reasons" "$desc: exit 1 and the exact reasons"
	same "$(nw_kernel)" "$before" "$desc: the kernel is unchanged"
}

# accepted USER NAME FRAGMENT DESCRIPTION
accepted() {
	local out rc
	out=$(printf '%s' "$3" | nw_submit "$1" "$2" 2>&1)
	rc=$?
	like "exit $rc $out" "^exit 0 $2: accepted for $1" "$4"
}

# ---- the router's own interfaces (no traffic in this part) ---------------------------------

topo1() {
	nsip link add lan0 type veth peer name lan0p &&
		nsip link set lan0 up && nsip link set lan0p up &&
		nsip addr add 192.168.1.1/24 dev lan0 &&
		nsip addr add 192.168.1.2/24 dev lan0 &&
		nsip addr add 192.168.1.3/24 dev lan0 label lan0:1 &&
		nsip link add lan1 type veth peer name lan1p &&
		nsip addr add 192.168.5.1/24 dev lan1 &&
		nsip link add lan2 type veth peer name lan2p &&
		nsip link set lan2 up && nsip link set lan2p up &&
		nsip addr add 10.20.30.1/30 dev lan2 &&
		nsip addr add 10.50.0.0/31 dev lan2 &&
		nsip addr add 10.40.0.1 peer 10.40.0.2/30 dev lan2 &&
		nsip route add local 10.77.0.0/16 dev lo &&
		nsip route add local 10.88.0.0/16 dev lo table 100 &&
		nsip route add anycast 10.99.0.0/24 dev lan0 table local &&
		nsip route add broadcast 10.66.6.6 dev lan0 table local
}
if topo1; then
	ok "router interfaces: lan0 (up, 192.168.1.1/24, secondaries .2 and .3 as lan0:1), lan1 (down, 192.168.5.1/24), lan2 (10.20.30.1/30, 10.50.0.0/31, 10.40.0.1 peer 10.40.0.2/30), AnyIP 10.77.0.0/16, a local route in table 100, an anycast and a broadcast route"
else
	not_ok "router interfaces"
	exit 1
fi
is "$(nsip -br link show lan1 | awk '{ print $2 }')" DOWN "lan1 is down"

nw_start || { not_ok "daemon starts"; exit 1; }
ok "daemon starts"
is "$(nw_kernel)" "" "the table starts empty"

# ---- every kind of the router's own address is refused, whatever `destinations` says -----

refused "$NW_U3" attack 'dnat tcp 30022 to 192.168.1.1:22
' "attack:1: destination 192.168.1.1 is the router's own address (on lan0)
attack:1: port 22 of the router is reserved" \
	"the original attack: the router's LAN address, port 22"
refused "$NW_U1" attack 'dnat tcp 30022 to 192.168.1.1:22
' "attack:1: destination 192.168.1.1 is the router's own address (on lan0)
attack:1: port 22 of the router is reserved" \
	"the same by $NW_U1, whose destinations do not even hold it: the router's reason, not the policy's"
is "$(grep -F "rejected $NW_U3's fragment 'attack'" "$NW_T/daemon.log")" \
	"<4>rejected $NW_U3's fragment 'attack': attack:1: destination 192.168.1.1 is the router's own address (on lan0); attack:1: port 22 of the router is reserved" \
	"the rejection is logged with both reasons"
refused "$NW_U3" plain 'dnat tcp 30080 to 192.168.1.1
' "plain:1: destination 192.168.1.1 is the router's own address (on lan0)" \
	"the router's LAN address, an unreserved port"
refused "$NW_U3" dns 'dnat udp 30053 to 192.168.1.1:53
' "dns:1: destination 192.168.1.1 is the router's own address (on lan0)
dns:1: port 53 of the router is reserved" "the router's LAN address, udp port 53"
refused "$NW_U3" bcast 'dnat udp 30001 to 192.168.1.255:5353
' "bcast:1: destination 192.168.1.255 is a broadcast address of the router's subnet 192.168.1.0/24 (on lan0)" \
	"the LAN's directed broadcast"
refused "$NW_U3" second 'dnat tcp 30002 to 192.168.1.2
' "second:1: destination 192.168.1.2 is the router's own address (on lan0)" \
	"a secondary address"
refused "$NW_U3" label 'dnat tcp 30003 to 192.168.1.3:8080
' "label:1: destination 192.168.1.3 is the router's own address (on lan0)" \
	"an address with a label (lan0:1): named by its interface"
refused "$NW_U3" down 'dnat tcp 30004 to 192.168.5.1
' "down:1: destination 192.168.5.1 is the router's own address (on lan1)" \
	"an address on a DOWN interface"
refused "$NW_U3" downbc 'dnat udp 30005 to 192.168.5.255
' "downbc:1: destination 192.168.5.255 is a broadcast address of the router's subnet 192.168.5.0/24 (on lan1)" \
	"the broadcast of a DOWN interface's subnet (the kernel has no broadcast route for it)"
refused "$NW_U3" p2p 'dnat udp 30006 to 10.20.30.3
' "p2p:1: destination 10.20.30.3 is a broadcast address of the router's subnet 10.20.30.0/30 (on lan2)" \
	"the broadcast of a /30"
refused "$NW_U3" p2pself 'dnat tcp 30007 to 10.20.30.1:22
' "p2pself:1: destination 10.20.30.1 is the router's own address (on lan2)
p2pself:1: port 22 of the router is reserved" "the router's end of the /30, port 22"
refused "$NW_U3" p31 'dnat tcp 30017 to 10.50.0.0
' "p31:1: destination 10.50.0.0 is the router's own address (on lan2)" "the router's end of a /31"
refused "$NW_U3" ptp 'dnat tcp 30018 to 10.40.0.1
' "ptp:1: destination 10.40.0.1 is the router's own address (on lan2)" \
	"the router's end of a point-to-point address (peer 10.40.0.2/30)"
refused "$NW_U3" ptpbc 'dnat udp 30019 to 10.40.0.3
' "ptpbc:1: destination 10.40.0.3 is a broadcast address of the router's subnet 10.40.0.0/30 (on lan2)" \
	"the broadcast of the peer's /30"
refused "$NW_U3" anyip 'dnat tcp 30008 to 10.77.0.5
' "anyip:1: destination 10.77.0.5 is delivered locally by the router (local route 10.77.0.0/16 on lo)" \
	"an AnyIP route (local 10.77.0.0/16 dev lo)"
refused "$NW_U3" anyipend 'dnat tcp 30009 to 10.77.255.255:22
' "anyipend:1: destination 10.77.255.255 is delivered locally by the router (local route 10.77.0.0/16 on lo)
anyipend:1: port 22 of the router is reserved" "the last address of the AnyIP route, port 22"
refused "$NW_U3" table100 'dnat tcp 30010 to 10.88.0.9
' "table100:1: destination 10.88.0.9 is delivered locally by the router (local route 10.88.0.0/16 on lo)" \
	"a local route in routing table 100"
refused "$NW_U3" anycast 'dnat tcp 30011 to 10.99.0.7
' "anycast:1: destination 10.99.0.7 is delivered locally by the router (local route 10.99.0.0/24 on lan0)" \
	"an anycast route"
refused "$NW_U3" bcroute 'dnat udp 30012 to 10.66.6.6
' "bcroute:1: destination 10.66.6.6 is a broadcast address of the router (on lan0)" \
	"a broadcast route an administrator added"
refused "$NW_U3" wan 'dnat tcp 30013 to 203.0.113.7
' "wan:1: destination 203.0.113.7 is the router's public address" \
	"the [wan] address (not on any interface yet)"
refused "$NW_U3" wanssh 'dnat tcp 30014 to 203.0.113.7:22
' "wanssh:1: destination 203.0.113.7 is the router's public address
wanssh:1: port 22 of the router is reserved" "the [wan] address, port 22"
refused "$NW_U3" loop 'dnat tcp 30015 to 127.0.0.1
' "loop:1: destination 127.0.0.1 is a loopback address (127.0.0.0/8)" \
	"127.0.0.1, though 127.0.0.0/8 is in the destinations"
refused "$NW_U3" loopdns 'dnat udp 30016 to 127.0.0.53:53
' "loopdns:1: destination 127.0.0.53 is a loopback address (127.0.0.0/8)" "127.0.0.53:53"
refused "$NW_U3" range 'dnat tcp 30020-30030 to 192.168.1.1
' "range:1: destination 192.168.1.1 is the router's own address (on lan0)" \
	"a port range to the router's address"
refused "$NW_U3" lines '# a comment, then a good forward
dnat tcp 30040 to 192.168.1.240
dnat tcp 30022 to 192.168.1.1:22
dnat udp 30041 to 10.77.1.1
' "lines:3: destination 192.168.1.1 is the router's own address (on lan0)
lines:3: port 22 of the router is reserved
lines:4: destination 10.77.1.1 is delivered locally by the router (local route 10.77.0.0/16 on lo)" \
	"several statements: each reason at its own line, and the good forward is not taken alone"

# ---- what is near the router, but not the router, passes -----------------------------------

accepted "$NW_U3" near 'dnat tcp 30050 to 192.168.1.77
dnat tcp 30051 to 10.20.30.2
dnat tcp 30052 to 10.78.0.1
dnat tcp 30053 to 192.168.5.9
dnat tcp 30054 to 10.50.0.1
dnat tcp 30055 to 10.40.0.2
' "the LAN's other hosts, the peer of the /30, just past the AnyIP route, a host on the down interface's subnet, the other end of the /31 (no broadcast), the point-to-point peer: accepted"
is "$(nw_kernel)" "tcp 30050 192.168.1.77:30050
tcp 30051 10.20.30.2:30051
tcp 30052 10.78.0.1:30052
tcp 30053 192.168.5.9:30053
tcp 30054 10.50.0.1:30054
tcp 30055 10.40.0.2:30055" "the kernel holds exactly those"
nw_withdraw "$NW_U3" near >/dev/null
is "$(nw_kernel)" "" "withdrawn again"

# ---- revocation when the router's addresses change -----------------------------------------

accepted "$NW_U3" lanhost 'dnat tcp 30060 to 192.168.1.77
' "a forward to 192.168.1.77 (not the router's) is accepted"
accepted "$NW_U3" mixed 'dnat tcp 30061 to 192.168.1.240
dnat udp 30062 to 10.66.0.9
' "a fragment with a forward to 10.66.0.9 on its line 2 is accepted"
accepted "$NW_U3" subnet 'dnat tcp 30063-30065 to 10.55.0.255
' "a forward to 10.55.0.255 (no subnet of the router's yet) is accepted"
accepted "$NW_U3" downhost 'dnat tcp 30066 to 192.168.5.9
' "a forward to 192.168.5.9 (on the down interface's subnet) is accepted"
accepted "$NW_U3" keep 'dnat tcp 30067 to 10.20.30.2
' "a forward to the /30's peer is accepted"
is "$(nw_kernel)" "tcp 30060 192.168.1.77:30060
tcp 30061 192.168.1.240:30061
tcp 30063-30065 10.55.0.255
tcp 30066 192.168.5.9:30066
tcp 30067 10.20.30.2:30067
udp 30062 10.66.0.9:30062" "the kernel holds the five fragments"

changes() { grep -c "the router's addresses changed" "$NW_T/daemon.log"; }

# revoked_after DESCRIPTION PORT-PATTERN COMMAND...: run the command in the router namespace,
# then poll (10 s at most) until no kernel forward matches the pattern; print the time seen.
revoked_after() {
	local desc=$1 pattern=$2 t0 t1
	shift 2
	like "$(nw_nft list table inet "$NW_TABLE")" "$pattern" "$desc: the forward is in the kernel before"
	t0=$(nw_ms)
	nsip "$@" || { not_ok "$desc: ip $*"; return; }
	if nw_wait_for 10 bash -c "! nft_out=\$(ip netns exec $NW_NS nft list table inet $NW_TABLE) || ! printf '%s' \"\$nft_out\" | grep -Eq '$pattern'"; then
		t1=$(nw_ms)
		ok "$desc: the forward left the kernel"
		diag "$desc: revoked $((t1 - t0)) ms after the change"
	else
		not_ok "$desc: the forward left the kernel within 10 s"
		diag "kernel: $(nw_kernel | tr '\n' ' ')"
	fi
}

# event KIND USER FRAGMENT: the status file's event lines of that kind for it (without time)
event() {
	awk -F'\t' -v k="$1" -v u="$2" -v f="$3" \
		'$1 == "event" && $3 == k && $4 == u && $5 == f { print $3 "\t" $4 "\t" $5 "\t" $6 }' \
		"$NW_T/run/status"
}

revoked_after "192.168.1.77/24 added to lan0" 'tcp \. 30060 ' addr add 192.168.1.77/24 dev lan0
is "$(grep -F "revoked $NW_U3's fragment 'lanhost'" "$NW_T/daemon.log")" \
	"<4>revoked $NW_U3's fragment 'lanhost' after the router's addresses changed: lanhost:1: destination 192.168.1.77 is the router's own address (on lan0)" \
	"the log says who lost what, why, at which line"
check "the status file is rewritten with the event" nw_wait_for 5 bash -c "grep -q \$'^event\t[0-9]*\trevoked\t$NW_U3\tlanhost\t' '$NW_T/run/status'"
is "$(event revoked "$NW_U3" lanhost)" "revoked	$NW_U3	lanhost	lanhost:1: destination 192.168.1.77 is the router's own address (on lan0)" \
	"the status file has a 'revoked' event for it"
is "$(awk -F'\t' '$1 == "dnat" && $3 == "lanhost"' "$NW_T/run/status")" "" "the status file no longer lists its forward"
is "$(nw_kernel)" "tcp 30061 192.168.1.240:30061
tcp 30063-30065 10.55.0.255
tcp 30066 192.168.5.9:30066
tcp 30067 10.20.30.2:30067
udp 30062 10.66.0.9:30062" "only that forward went"

revoked_after "AnyIP route local 10.66.0.0/16 added" 'udp \. 30062 ' route add local 10.66.0.0/16 dev lo
is "$(grep -F "revoked $NW_U3's fragment 'mixed'" "$NW_T/daemon.log")" \
	"<4>revoked $NW_U3's fragment 'mixed' after the router's addresses changed: mixed:2: destination 10.66.0.9 is delivered locally by the router (local route 10.66.0.0/16 on lo)" \
	"the log names the route and line 2"
is "$(nw_kernel)" "tcp 30063-30065 10.55.0.255
tcp 30066 192.168.5.9:30066
tcp 30067 10.20.30.2:30067" "the whole fragment went (its good line 1 too), nothing else"

revoked_after "10.55.0.1/24 added to lan2 (its broadcast is 10.55.0.255)" '30063-30065 \. tcp ' addr add 10.55.0.1/24 dev lan2
is "$(grep -F "revoked $NW_U3's fragment 'subnet'" "$NW_T/daemon.log")" \
	"<4>revoked $NW_U3's fragment 'subnet' after the router's addresses changed: subnet:1: destination 10.55.0.255 is a broadcast address of the router's subnet 10.55.0.0/24 (on lan2)" \
	"the log names the new subnet's broadcast"

revoked_after "192.168.5.9/24 added to lan1, which is down" 'tcp \. 30066 ' addr add 192.168.5.9/24 dev lan1
is "$(grep -F "revoked $NW_U3's fragment 'downhost'" "$NW_T/daemon.log")" \
	"<4>revoked $NW_U3's fragment 'downhost' after the router's addresses changed: downhost:1: destination 192.168.5.9 is the router's own address (on lan1)" \
	"an address on a down interface revokes too"
is "$(nw_kernel)" "tcp 30067 10.20.30.2:30067" "only the forward to the /30's peer stays"
is "$(event revoked "$NW_U3" mixed | wc -l)$(event revoked "$NW_U3" subnet | wc -l)$(event revoked "$NW_U3" downhost | wc -l)" 111 \
	"the status file has one 'revoked' event for each"
is "$(nw_status fragments)" 1 "the status file counts one fragment"

# Removing the addresses and routes again: nothing is revoked, nothing comes back.
unchange() { # unchange DESCRIPTION COMMAND...: the daemon sees it and revokes nothing
	local desc=$1 n
	shift
	n=$(changes)
	nsip "$@" || { not_ok "$desc: ip $*"; return; }
	if nw_wait_for 10 bash -c "[ \"\$(grep -c \"the router's addresses changed\" '$NW_T/daemon.log')\" -gt $n ]"; then
		like "$(grep "the router's addresses changed" "$NW_T/daemon.log" | tail -n 1)" \
			"^<6>the router's addresses changed \([0-9]+ local addresses and routes now\): 0 forwards revoked$" \
			"$desc: seen, and nothing revoked"
	else
		not_ok "$desc: the daemon saw the change within 10 s"
	fi
}
unchange "192.168.1.77/24 removed" addr del 192.168.1.77/24 dev lan0
unchange "the AnyIP route removed" route del local 10.66.0.0/16 dev lo
unchange "10.55.0.1/24 removed" addr del 10.55.0.1/24 dev lan2
unchange "192.168.5.9/24 removed" addr del 192.168.5.9/24 dev lan1
is "$(nw_kernel)" "tcp 30067 10.20.30.2:30067" "the kernel is unchanged: nothing revoked came back"
is "$(nw_status fragments)" 1 "the status file still counts one fragment"
is "$("$NW_DAEMON" --config "$NW_T/policy.ini" --check | sed -n 's/^saved state: //p')" \
	"1 active fragments of 1 users, 1 mappings" "the saved state holds only what stays"
accepted "$NW_U3" lanhost 'dnat tcp 30060 to 192.168.1.77
' "with 192.168.1.77 no longer the router's, it can be forwarded to again"
nw_withdraw "$NW_U3" lanhost >/dev/null
nw_withdraw "$NW_U3" keep >/dev/null
is "$(nw_kernel)" "" "withdrawn: the table is empty"
check "daemon still running" nw_alive
nw_stop

# ---- the kernel's second line: the guard ----------------------------------------------------

nsip link del lan0
nsip link del lan1
nsip link del lan2
net_topology
net_server 8080
: >"$NW_T/router.log"
tw_server "$NW_NS" "$ROUTER_LAN" "$NW_T/router.log" 8022
check "a listener on the router's own LAN address ($ROUTER_LAN:8022)" nw_wait_for 10 grep -qx ready "$NW_T/router.log"
is "$(tw_tcp "$LAN_NS" "$LAN_CLIENT" "$ROUTER_LAN" 8022)" "served $ROUTER_LAN:8022 to $LAN_CLIENT" \
	"sanity: the LAN client reaches it directly"

nw_start || { not_ok "daemon starts in the router of the topology"; exit 1; }
ok "daemon starts in the router of the topology"
is "$(nw_nft list chain inet "$NW_TABLE" guard | sed 's/counter packets [0-9]* bytes [0-9]*/counter/')" \
	"table inet $NW_TABLE {
	chain guard {
		type filter hook input priority filter; policy accept;
		ct label 127 ct status dnat counter drop
	}
}" "the table has the guard chain: translated connections bound for a local socket are dropped"
is "$(nw_nft list chain inet "$NW_TABLE" prerouting)" "table inet $NW_TABLE {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		iifname \"wan0\" fib daddr type local meta nfproto ipv4 meta l4proto . th dport @dnat_port ct label set 127 ct mark set ct mark | 0x10000000 dnat ip to meta l4proto . th dport map @dnat_port
		iifname \"wan0\" fib daddr type local meta nfproto ipv4 th dport . meta l4proto @dnat_range ct label set 127 ct mark set ct mark | 0x10000000 dnat ip to th dport . meta l4proto map @dnat_range
		iifname != \"wan0\" ip daddr @wan4 meta l4proto . th dport @dnat_port ct label set 127 ct mark set ct mark | 0x10000000 dnat ip to meta l4proto . th dport map @dnat_port
		iifname != \"wan0\" ip daddr @wan4 th dport . meta l4proto @dnat_range ct label set 127 ct mark set ct mark | 0x10000000 dnat ip to th dport . meta l4proto map @dnat_range
	}
}" "every prerouting rule sets ct label 127 (and the [wan] mark) on what it translates"
is "$(nw_nft list table inet "$NW_TABLE" | sed -n 2p)" \
	'	comment "natwarden: managed by natwardend, do not edit"' "the table carries natwarden's mark"

refused "$NW_U3" wanself 'dnat tcp 30022 to 203.0.113.7:22
' "wanself:1: destination 203.0.113.7 is the router's own address (on wan0)
wanself:1: port 22 of the router is reserved" "the WAN address, now on wan0, port 22"
refused "$NW_U3" brlan 'dnat tcp 30022 to 192.168.1.1:8022
' "brlan:1: destination 192.168.1.1 is the router's own address (on br-lan)" \
	"the router's address on the bridge, the listener's port"
accepted "$NW_U1" web 'dnat tcp 8080 to 192.168.1.240
' "a forward to the LAN server is accepted"
is "$(wan 8080)" "served $SERVER:8080 to $WAN_CLIENT" "WAN -> :8080 reaches the server (real TCP)"

guard_packets() {
	nw_nft -j list chain inet "$NW_TABLE" guard |
		jq '[.nftables[] | select(.rule) | .rule.expr[] | select(.counter) | .counter.packets] | add'
}
is "$(guard_packets)" 0 "the guard has dropped nothing: a forward through the router never hits it"

# An engine miss, simulated: the daemon is stopped (its table stays, and nobody restores it),
# and an element sending tcp/30022 to the router's own listener is added by hand.
nw_stop
check "the table stays while the daemon is stopped" nw_nft list chain inet "$NW_TABLE" guard
check "an element to the router itself added by hand" \
	nw_nft add element inet "$NW_TABLE" dnat_port "{ tcp . 30022 : $ROUTER_LAN . 8022 }"
is "$(nw_kernel)" "tcp 30022 $ROUTER_LAN:8022
tcp 8080 192.168.1.240:8080" "the kernel now holds the rogue element"
is "$(wan 30022)" timeout "WAN -> :30022, translated to the router's own socket: dropped by the guard"
is "$(lan 30022)" timeout "LAN -> public :30022 (hairpin), translated to the router's own socket: dropped too"
got=$(guard_packets)
like "$got" '^[1-9][0-9]*$' "the guard counted the dropped packets ($got)"
is "$(grep -c '^served' "$NW_T/router.log")" 1 "the router's listener served only the direct sanity connection"
is "$(wan 8080)" "served $SERVER:8080 to $WAN_CLIENT" "the normal forward still works next to it"

# Without the guard rule, the same element reaches the router: the guard is what stopped it.
handle=$(nw_nft -a list chain inet "$NW_TABLE" guard | sed -n 's/.*counter .* drop # handle \([0-9]*\)$/\1/p')
check "the guard rule deleted by hand (handle $handle)" nw_nft delete rule inet "$NW_TABLE" guard handle "$handle"
is "$(wan 30022)" "served $ROUTER_LAN:8022 to $WAN_CLIENT" \
	"without the guard the rogue element does reach the router's socket (so the guard made the difference)"

# A restart puts the table back as the daemon wants it.
nw_start || { not_ok "daemon restarts"; exit 1; }
is "$(nw_kernel)" "tcp 8080 192.168.1.240:8080" "after a restart the rogue element is gone"
is "$(guard_packets)" 0 "and the guard rule is back (a fresh counter)"
is "$(wan 30022)" refused "WAN -> :30022 is not translated any more (the router refuses it)"
is "$(wan 8080)" "served $SERVER:8080 to $WAN_CLIENT" "the forward to the server still works"
check "daemon still running" nw_alive
