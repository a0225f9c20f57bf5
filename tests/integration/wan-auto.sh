#!/bin/bash
# SPDX-License-Identifier: MIT
# [wan] interface = auto: the forwards apply on the interface of the IPv4 default route
# (main table, lowest metric), followed through rtnetlink. Proves:
#   - started without a default route, the daemon serves, says it waits (status file,
#     natwarden status, its log, --check), and its rules match nothing from outside;
#   - a default route via wan0: the rules name wan0, the status and the journal say so, and a
#     forward works from the WAN side;
#   - the default route moved to wan1 (another uplink): the whole table moves in one
#     transaction, the forward works on wan1 and no longer on wan0, the rule count is the same;
#   - of two default routes the lower metric wins; without any the daemon waits again.
# Topology: net.sh's (wan0, router, bridged LAN with the server), plus a second uplink wan1.
# Every wait is bounded (seconds) and prints the time it saw.
. "$(dirname "$0")/lib.sh"
nw_init
nw_setup
NW_WAN_IF=auto NW_WAN_ADDR=follow NW_HAIRPIN=no nw_policy
. "$(dirname "$0")/net.sh"
WAN2_NS=nwwan2$NW_ID
PUBLIC2=198.51.100.7
WAN2_CLIENT=198.51.100.1

wan_record() { awk -F'\t' '$1 == "wan" { print $2, $3, $4, $5 }' "$NW_T/run/status"; }
wan_is() { [ "$(wan_record)" = "$1" ]; }
# wait_wan WANT DESCRIPTION: the status file's wan record becomes WANT (10 s at most)
wait_wan() {
	local t0
	t0=$(nw_ms)
	nw_wait_for 10 wan_is "$1"
	diag "$2: seen after $(($(nw_ms) - t0)) ms"
	is "$(wan_record)" "$1" "$2"
}
iifnames() { nw_nft list table inet "$NW_TABLE" | grep -o 'iifname [^ ]*' | sort -u | paste -sd' '; }
wan2() { tw_tcp "$WAN2_NS" "$WAN2_CLIENT" "$PUBLIC2" "$1"; }

# ---- no default route yet ---------------------------------------------------------------------

nw_start || { not_ok "daemon starts without a default route"; exit 1; }
ok "daemon starts without a default route"
is "$(wan_record)" "- default-route no-route -" "status: no interface yet, waiting for a default route"
is "$(nw_as "$NW_U1" "$NW_CLIENT" --spool "$NW_T/spool" --runtime "$NW_T/run" status | grep '^WAN interface')" \
	"WAN interface auto: no IPv4 default route (yet); waiting for one" "natwarden status says it waits"
like "$(cat "$NW_T/daemon.log")" "WAN interface auto: there is no IPv4 default route \(yet\): waiting for one" \
	"the log says it waits"
is "$(iifnames)" 'iifname "auto/none"' "the rules name no interface that can exist"
rules=$(nw_rule_count)
printf 'dnat tcp 80 to 192.168.1.240:8080\n' | nw_submit "$NW_U1" ingress >/dev/null
is "$?" 0 "a fragment is accepted while there is no default route"

net_topology
nw_netns "$WAN2_NS"
{ ip -n "$NW_NS" link add wan1 type veth peer name eth0 netns "$WAN2_NS" &&
	ip -n "$NW_NS" addr add "$PUBLIC2/24" dev wan1 && ip -n "$NW_NS" link set wan1 up &&
	ip -n "$WAN2_NS" addr add "$WAN2_CLIENT/24" dev eth0 && ip -n "$WAN2_NS" link set eth0 up; } ||
	{ echo "Bail out! the second uplink"; exit 1; }
net_server 8080

# ---- a default route via wan0 -------------------------------------------------------------------

ip -n "$NW_NS" route add default via "$WAN_CLIENT" dev wan0
wait_wan "wan0 default-route up $PUBLIC" "default route via wan0: the status names wan0 and its address"
is "$(iifnames)" 'iifname "wan0"' "the rules name wan0"
is "$(wan 80)" "served $SERVER:8080 to $WAN_CLIENT" "the forward works from wan0's side"
like "$(cat "$NW_T/daemon.log")" "WAN interface auto: wan0, the interface of the IPv4 default route \(was -\)" \
	"the log names the chosen interface"
out=$(ip netns exec "$NW_NS" "$NW_DAEMON" --check --config "$NW_T/policy.ini" 2>&1)
like "$out" "^table inet $NW_TABLE on interface wan0 \(auto: the IPv4 default route's\)$" "natwardend --check names it"

# ---- the default route moves to wan1 ------------------------------------------------------------

ip -n "$NW_NS" route replace default via "$WAN2_CLIENT" dev wan1
wait_wan "wan1 default-route up $PUBLIC2" "default route via wan1: the status follows"
is "$(iifnames)" 'iifname "wan1"' "the rules name wan1"
is "$(nw_rule_count)" "$rules" "the same rules, on another interface"
is "$(wan2 80)" "served $SERVER:8080 to $WAN2_CLIENT" "the forward works from wan1's side"
out=$(wan 80)
check "... and no longer from wan0's ($out)" test "${out#served}" = "$out"
like "$(cat "$NW_T/daemon.log")" "WAN interface auto: wan1, the interface of the IPv4 default route \(was wan0\)" \
	"the log says it moved"
is "$(nw_as "$NW_U1" "$NW_CLIENT" --spool "$NW_T/spool" --runtime "$NW_T/run" status | grep '^WAN interface')" \
	"WAN interface wan1: public address $PUBLIC2 (followed on the interface of the IPv4 default route)" \
	"natwarden status names wan1 and where the address comes from"

# ---- the lowest metric wins; none: waiting again --------------------------------------------------

ip -n "$NW_NS" route add default via "$WAN_CLIENT" dev wan0 metric 10
sleep 0.5
is "$(wan_record)" "wan1 default-route up $PUBLIC2" "a second default route with a higher metric changes nothing"
ip -n "$NW_NS" route del default via "$WAN2_CLIENT" dev wan1
wait_wan "wan0 default-route up $PUBLIC" "the lower one gone: the other one's interface, wan0"
is "$(wan 80)" "served $SERVER:8080 to $WAN_CLIENT" "the forward works from wan0's side again"
ip -n "$NW_NS" route del default
wait_wan "- default-route no-route -" "no default route left: waiting again"
is "$(iifnames)" 'iifname "auto/none"' "the rules name no interface again"
nw_stop
