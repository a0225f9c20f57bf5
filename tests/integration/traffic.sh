#!/bin/bash
# SPDX-License-Identifier: MIT
# Real forwarded TCP traffic through natwardend's table, end to end: the home-lab story. A
# client on the "internet" reaches an HTTP-ish server on a MetalLB-style LAN address through
# the router's public address. Proves: nothing is forwarded before a fragment; a single port
# (with a different target port), another port and a port range forward to the right server
# socket, and the server sees the client's real address (no masquerade); hairpin lets a LAN
# client use the public address, masqueraded to the router's LAN address; a `masquerade`
# statement makes the server see the router for WAN connections too; after a withdraw new
# connections fail again; with hairpin = no the LAN client's hairpin connection fails while
# the WAN connection still works.
#
# Topology (all namespaces made here; the host's network and ruleset are never touched):
#
#   wan ns  eth0 203.0.113.1/24 ---- wan0 203.0.113.7/24   router ($NW_NS, natwardend)
#                                    br-lan 192.168.1.1/24
#                                      |-- srv ns  eth0 192.168.1.240/24  (the server)
#                                      '-- lan ns  eth0 192.168.1.10/24   (LAN client)
. "$(dirname "$0")/lib.sh"
nw_init
nw_setup

. "$(dirname "$0")/net.sh"
net_topology
net_server 8080 80 443 30000 30005 30010 30011

nw_start || { not_ok "daemon starts"; exit 1; }
ok "daemon starts in the router namespace"

# ---- nothing forwarded yet -------------------------------------------------------------

is "$(wan 80)" refused "before any fragment, WAN -> $PUBLIC:80 is refused by the router itself"
is "$(lan 80)" refused "before any fragment, LAN -> $PUBLIC:80 is refused by the router itself"

# ---- the ingress fragment --------------------------------------------------------------

ingress='dnat tcp 80 to 192.168.1.240:8080
dnat tcp 443 to 192.168.1.240
dnat tcp 30000-30010 to 192.168.1.240
'
out=$(printf '%s' "$ingress" | nw_submit "$NW_U1" ingress)
is "$?" 0 "ingress fragment accepted"
like "$out" "^ingress: accepted for $NW_U1" "client prints the verdict"
is "$(nw_kernel)" "tcp 30000-30010 192.168.1.240
tcp 443 192.168.1.240:443
tcp 80 192.168.1.240:8080" "the kernel holds the three forwards"

is "$(wan 80)" "served $SERVER:8080 to $WAN_CLIENT" \
	"WAN -> :80 reaches the server's :8080 and the server sees the WAN client's real address"
is "$(wan 443)" "served $SERVER:443 to $WAN_CLIENT" "WAN -> :443 reaches the server's :443"
is "$(wan 30000)" "served $SERVER:30000 to $WAN_CLIENT" "WAN -> :30000 (range start) reaches the same port"
is "$(wan 30005)" "served $SERVER:30005 to $WAN_CLIENT" "WAN -> :30005 (inside the range) reaches the same port"
is "$(wan 30010)" "served $SERVER:30010 to $WAN_CLIENT" "WAN -> :30010 (range end) reaches the same port"
is "$(wan 30011)" refused "WAN -> :30011, just past the range, is not forwarded (the server listens there)"

# hairpin (on in the default test policy): the LAN client uses the public address
is "$(lan 80)" "served $SERVER:8080 to $ROUTER_LAN" \
	"hairpin: LAN client -> $PUBLIC:80 reaches the server, masqueraded to the router's LAN address"
is "$(lan 30005)" "served $SERVER:30005 to $ROUTER_LAN" "hairpin works for a port of the range too"

# ---- replacement with masquerade -------------------------------------------------------

out=$(printf '%smasquerade 192.168.1.240\n' "$ingress" | nw_submit "$NW_U1" ingress)
is "$?" 0 "replacement fragment with masquerade accepted"
is "$(nw_kernel)" "masq tcp 30000-30010
masq tcp 443
masq tcp 80
tcp 30000-30010 192.168.1.240
tcp 443 192.168.1.240:443
tcp 80 192.168.1.240:8080" "the kernel holds the forwards and the masquerade"
is "$(wan 80)" "served $SERVER:8080 to $ROUTER_LAN" "with masquerade the server sees the router for WAN connections"
is "$(wan 30005)" "served $SERVER:30005 to $ROUTER_LAN" "with masquerade, also through the range"
is "$(lan 80)" "served $SERVER:8080 to $ROUTER_LAN" "hairpin still works with masquerade"

# ---- withdraw ----------------------------------------------------------------------------

out=$(nw_withdraw "$NW_U1" ingress)
is "$?" 0 "withdraw exits 0"
is "$(nw_kernel)" "" "the kernel holds no forwards"
is "$(wan 80)" refused "after the withdraw a new WAN connection to :80 is refused again"
is "$(wan 30005)" refused "after the withdraw a new WAN connection to :30005 is refused again"
is "$(lan 80)" refused "after the withdraw the hairpin connection is refused again"

# ---- hairpin = no ------------------------------------------------------------------------

nw_stop
NW_HAIRPIN=no nw_policy
nw_start || { not_ok "daemon restarts with hairpin = no"; exit 1; }
ok "daemon restarts with hairpin = no"
is "$(nw_rule_count)" 7 "seven rules without hairpin"
out=$(printf '%s' "$ingress" | nw_submit "$NW_U1" ingress)
is "$?" 0 "ingress fragment accepted again"
is "$(wan 80)" "served $SERVER:8080 to $WAN_CLIENT" "hairpin = no: WAN -> :80 still reaches the server, real address"
is "$(lan 80)" refused "hairpin = no: LAN client -> $PUBLIC:80 is not forwarded (the router refuses it)"
is "$(lan 30005)" refused "hairpin = no: nor through the range"

check "daemon still running" nw_alive
if [ "$NW_TAP_FAILED" -gt 0 ]; then
	diag "server log:"
	sed 's/^/#   /' "$NW_T/server.log"
fi
