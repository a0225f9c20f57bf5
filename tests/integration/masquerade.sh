#!/bin/bash
# SPDX-License-Identifier: MIT
# Whose connections a masquerade hides, and the kernel's own line of defence, with real TCP.
#
#  1. A fragment's `masquerade PREFIX` applies only to the connections that same fragment's
#     forwards translate: user A forwards tcp 8080 to the server with `masquerade` of it, user
#     B forwards tcp 9000 to the same server without: the server sees the router for A's
#     forward and the WAN client's real address for B's. A masquerade that covers none of its
#     own fragment's forwards is refused with its reason.
#  2. The administrator's own DNAT in another table, to the same server, is not masqueraded.
#  3. The guard: every connection natwarden translates carries conntrack label bit 127, and
#     the table's input chain drops such a connection before it reaches a local socket. With
#     an element added by hand that points a public port at the router's own LAN address
#     (where a server listens), the WAN connection is dropped (the guard counts it) while a
#     forward to the server still works; without the guard the same element would reach it.
# Also: the table carries natwardend's comment on the line after its header (what
# nft_table_owner() checks), and its constant rules.
#
# Topology (net.sh; all namespaces made here, the host's network and ruleset are never touched):
#
#   wan ns  eth0 203.0.113.1/24 ---- wan0 203.0.113.7/24   router ($NW_NS, natwardend)
#                                    br-lan 192.168.1.1/24  (a server on :8500, for the guard)
#                                      |-- srv ns  eth0 192.168.1.240/24  (the server H)
#                                      '-- lan ns  eth0 192.168.1.10/24   (LAN client)
. "$(dirname "$0")/lib.sh"
nw_init
command -v jq >/dev/null || skip_all "needs jq"
nw_setup
# B: a submitter with a port of its own and the same server as A, without masquerade
nw_policy "
[submitter $NW_U3]
ports = 9000
protocols = tcp
destinations = 192.168.1.240"

. "$(dirname "$0")/net.sh"
net_topology
net_server 8080 9000 7000
A=$NW_U1
B=$NW_U3

nw_start || { not_ok "daemon starts"; exit 1; }
ok "daemon starts in the router namespace"
is "$(nw_nft -t list table inet "$NW_TABLE" | sed -n 2p)" \
	"$(printf '\tcomment "natwarden: managed by natwardend, do not edit"')" \
	"the table carries natwardend's comment on the line after its header"
is "$(nw_rule_count)" 10 "ten constant rules (hairpin on): the guard is one of them"

# ---- 1. A's masquerade is A's alone -------------------------------------------------------

out=$(printf 'dnat tcp 8080 to 192.168.1.240\ndnat udp 30020-30030 to 192.168.1.240\ndnat udp 30040 to 192.168.1.241\nmasquerade 192.168.1.240\n' |
	nw_submit "$A" web)
is "$?" 0 "A's fragment with a masquerade of its server is accepted"
out=$(printf 'dnat tcp 9000 to 192.168.1.240\n' | nw_submit "$B" game)
is "$?" 0 "B's forward to the same server, without masquerade, is accepted"
is "$(nw_kernel)" "masq tcp 8080
masq udp 30020-30030
tcp 8080 192.168.1.240:8080
tcp 9000 192.168.1.240:9000
udp 30020-30030 192.168.1.240
udp 30040 192.168.1.241:30040" \
	"the kernel masquerades A's forwards to the server, by public port, and nothing else"

is "$(wan 8080)" "served $SERVER:8080 to $ROUTER_LAN" "A's forward: the server sees the router (masquerade)"
is "$(wan 9000)" "served $SERVER:9000 to $WAN_CLIENT" \
	"B's forward to the same server: the server sees the WAN client's real address"
is "$(lan 9000)" "served $SERVER:9000 to $ROUTER_LAN" \
	"B's forward from the LAN (hairpin): masqueraded by the hairpin rule, as it must be"

out=$(printf 'masquerade 192.168.1.240\n' | nw_submit "$A" hide 2>&1)
is "$?" 1 "a fragment whose masquerade covers none of its own forwards is rejected"
like "$out" "hide:1: masquerade 192\.168\.1\.240 covers none of this fragment's forwards: it applies only to connections this fragment's own forwards translate" \
	"with the reason, at its line"
is "$(wan 9000)" "served $SERVER:9000 to $WAN_CLIENT" "B's forward is still not masqueraded"

# ---- 2. the administrator's own DNAT in another table ------------------------------------

if nw_nft -f - <<-NFT; then
	table ip admin {
		chain pre {
			type nat hook prerouting priority dstnat - 10; policy accept;
			iifname "wan0" tcp dport 7000 dnat to $SERVER
		}
	}
	NFT
	ok "the administrator's own table, with a DNAT to the same server"
else
	not_ok "the administrator's own table, with a DNAT to the same server"
fi
is "$(wan 7000)" "served $SERVER:7000 to $WAN_CLIENT" \
	"the administrator's DNAT to the masqueraded server is not masqueraded"
is "$(wan 8080)" "served $SERVER:8080 to $ROUTER_LAN" "A's forward still is"

guard_packets() {
	nw_nft -j list chain inet "$NW_TABLE" guard |
		jq '[.nftables[] | select(.rule) | .rule.expr[] | select(.counter) | .counter.packets] | add // 0'
}
is "$(guard_packets)" 0 "forwarded connections never reach the guard (it sits on the input hook)"

# ---- 3. the guard --------------------------------------------------------------------------

# Stop the daemon (its table stays in the kernel) so the hand-made element is not repaired
# away, then point a public port at the router's own LAN address, where a server listens.
nw_stop
ok "daemon stopped, the table stays"
: >"$NW_T/router.log"
tw_server "$NW_NS" "$ROUTER_LAN" "$NW_T/router.log" 8500
if nw_wait_for 10 grep -qx ready "$NW_T/router.log"; then ok "a server listens on the router's $ROUTER_LAN:8500"; else
	not_ok "a server listens on the router's $ROUTER_LAN:8500"
fi
is "$(tw_tcp "$LAN_NS" "$LAN_CLIENT" "$ROUTER_LAN" 8500)" "served $ROUTER_LAN:8500 to $LAN_CLIENT" \
	"sanity: the LAN client reaches the router's server directly"
check "an element by hand: tcp/8500 to the router's own LAN address (what the engine must refuse)" \
	nw_nft add element inet "$NW_TABLE" dnat_port "{ tcp . 8500 : $ROUTER_LAN . 8500 }"

out=$(wan 8500)
is "$out" timeout "a WAN connection translated to the router's own address is dropped"
like "$(guard_packets)" '^[1-9][0-9]*$' "the guard counted it ($(guard_packets) packets)"
check "the router's server saw no connection from the WAN" bash -c "! grep -q 'to $WAN_CLIENT' '$NW_T/router.log'"
is "$(wan 8080)" "served $SERVER:8080 to $ROUTER_LAN" "meanwhile a forward to the server works"
is "$(wan 9000)" "served $SERVER:9000 to $WAN_CLIENT" "and so does B's"

# Without the guard the same element would reach the router's socket: the threat is real.
check "the guard's rule flushed (the daemon is not running to restore it)" \
	nw_nft flush chain inet "$NW_TABLE" guard
is "$(wan 8500)" "served $ROUTER_LAN:8500 to $WAN_CLIENT" \
	"without the guard, the translated WAN connection reaches the router's own socket"

if [ "$NW_TAP_FAILED" -gt 0 ]; then
	diag "server log:"
	sed 's/^/#   /' "$NW_T/server.log"
	diag "router server log:"
	sed 's/^/#   /' "$NW_T/router.log"
	nw_nft list ruleset | sed 's/^/#   /'
fi
