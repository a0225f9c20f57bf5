#!/bin/bash
# SPDX-License-Identifier: MIT
# A public IPv4 address that changes (DHCP, PPPoE), with no [wan] address in the policy: the
# daemon follows the WAN interface's addresses through rtnetlink. Proves:
#   - started before the WAN interface exists (PPPoE comes up later), the daemon serves, says
#     it waits (status file, natwarden status, its log), and forwards work as soon as the
#     interface appears, with hairpin on the address it came up with;
#   - after `ip addr del` + `ip addr add` on the WAN interface, hairpin works on the new
#     address without a restart or a reload, the old address is gone from the set wan4, the
#     WAN side keeps working, and the change is logged with the old and new address;
#   - an interface without an IPv4 address leaves wan4 empty and says so; an address another
#     interface has too (the router's LAN address) is left out; reloads to a [wan] address and
#     back; the rule count stays constant throughout; natwardend --check names the followed
#     address.
# Topology: net.sh's (wan, router, bridged LAN with server and client), made after the daemon
# started. Every wait is bounded (seconds) and prints the time it saw.
. "$(dirname "$0")/lib.sh"
nw_init
nw_setup
NW_WAN_ADDR=follow nw_policy

. "$(dirname "$0")/net.sh"

wan4() { # the kernel's set wan4, one address per line ("NO SET" when there is none)
	local json
	json=$(nw_nft -j list set inet "$NW_TABLE" wan4 2>/dev/null) || { echo "NO SET"; return; }
	jq -r '.nftables[].set.elem // [] | .[]' <<<"$json" | sort
}
wan_record() { awk -F'\t' '$1 == "wan" { print $2, $3, $4, $5 }' "$NW_T/run/status"; }
client_status() {
	nw_as "$NW_U1" "$NW_CLIENT" --spool "$NW_T/spool" --runtime "$NW_T/run" status |
		grep '^WAN interface'
}
wan_is() { [ "$(wan_record)" = "$1" ]; }
# wait_wan SECONDS WANT DESCRIPTION: the status file's wan record becomes WANT
wait_wan() {
	local t0
	t0=$(nw_ms)
	nw_wait_for "$1" wan_is "$2"
	diag "$3: seen after $(($(nw_ms) - t0)) ms"
	is "$(wan_record)" "$2" "$3"
}

# ---- the daemon starts before the WAN interface exists ------------------------------------

nw_start || { not_ok "daemon starts without its WAN interface"; exit 1; }
ok "daemon starts without its WAN interface"
is "$(wan_record)" "wan0 interface missing -" "status: wan0 is followed, missing, no address"
is "$(client_status)" "WAN interface wan0: does not exist (yet); waiting for it" \
	"natwarden status says the daemon waits for wan0"
like "$(cat "$NW_T/daemon.log")" "WAN interface wan0 does not exist \(yet\): waiting for it" \
	"the log says the daemon waits for wan0"
is "$(wan4)" "" "the set wan4 is empty"
is "$(nw_rule_count)" 10 "ten rules (hairpin on), with no address yet"
out=$(printf 'dnat tcp 80 to 192.168.1.240:8080\n' | nw_submit "$NW_U1" ingress)
is "$?" 0 "a fragment is accepted while the WAN interface is missing"

# ---- the interface appears (PPPoE came up) -----------------------------------------------

net_topology
net_server 8080
wait_wan 10 "wan0 interface up 203.0.113.7" "status: wan0 is up with 203.0.113.7"
is "$(wan4)" 203.0.113.7 "the set wan4 holds the interface's address"
is "$(wan 80)" "served $SERVER:8080 to $WAN_CLIENT" "WAN -> $PUBLIC:80 reaches the server"
is "$(lan 80)" "served $SERVER:8080 to $ROUTER_LAN" "hairpin: LAN -> $PUBLIC:80 reaches the server"
is "$(client_status)" "WAN interface wan0: public address 203.0.113.7 (followed on the interface)" \
	"natwarden status shows the followed address"
out=$(ip netns exec "$NW_NS" "$NW_DAEMON" --check --config "$NW_T/policy.ini" 2>&1)
like "$out" "^wan address: 203.0.113.7 \(followed on the interface\)$" \
	"natwardend --check names the followed address"

# ---- the address changes (a new DHCP lease) ------------------------------------------------

OLD=$PUBLIC
PUBLIC=203.0.113.8
t0=$(nw_ms)
ip -n "$NW_NS" addr del "$OLD/24" dev wan0
ip -n "$NW_NS" addr add "$PUBLIC/24" dev wan0
wait_wan 10 "wan0 interface up $PUBLIC" "status: wan0 has the new address"
# the first connection that works on the new address, polled every 50 ms (10 s at most)
got=
for _ in $(seq 200); do
	got=$(lan 80) && break
	sleep 0.05
done
diag "hairpin on the new address worked $(($(nw_ms) - t0)) ms after the change"
is "$got" "served $SERVER:8080 to $ROUTER_LAN" "hairpin: LAN -> $PUBLIC:80 works, no restart or reload"
is "$(wan4)" "$PUBLIC" "the set wan4 holds the new address only"
is "$(wan 80)" "served $SERVER:8080 to $WAN_CLIENT" "WAN -> $PUBLIC:80 still reaches the server"
# the old address is nobody's now: a LAN connection to it leaves through wan0 and gets no answer
got=$(tw_tcp "$LAN_NS" "$LAN_CLIENT" "$OLD" 80)
isnt_served=yes
case $got in served*) isnt_served=no ;; esac
is "$isnt_served" yes "the old address $OLD no longer hairpins (got: $got)"
like "$(cat "$NW_T/daemon.log")" \
	"WAN interface wan0: public address $PUBLIC \(was $OLD\); hairpin follows it" \
	"the log names the new and the old address"
is "$(nw_rule_count)" 10 "still ten rules: the address is an element, not a rule"

# ---- no address at all, then two ------------------------------------------------------------

ip -n "$NW_NS" addr del "$PUBLIC/24" dev wan0
wait_wan 10 "wan0 interface no-address -" "status: wan0 without an IPv4 address"
is "$(wan4)" "" "the set wan4 is empty again"
like "$(cat "$NW_T/daemon.log")" "WAN interface wan0 has no IPv4 address: hairpin waits for one" \
	"the log says hairpin waits"
ip -n "$NW_NS" addr add "$PUBLIC/24" dev wan0
ip -n "$NW_NS" addr add 198.51.100.2/32 dev wan0
wait_wan 10 "wan0 interface up 198.51.100.2, $PUBLIC" "status: both addresses, sorted"
is "$(wan4)" "198.51.100.2
$PUBLIC" "the set wan4 holds both"
got=
for _ in $(seq 100); do
	got=$(lan 80) && break
	sleep 0.05
done
is "$got" "served $SERVER:8080 to $ROUTER_LAN" "hairpin works again on $PUBLIC"

# ---- an address other interfaces have too is left out -----------------------------------------

ip -n "$NW_NS" addr add "$ROUTER_LAN/32" dev wan0
# the status reads as it did before the change: wait for the daemon's word on it first
nw_wait_for 10 grep -q "left out: addresses other interfaces have too" "$NW_T/daemon.log"
like "$(cat "$NW_T/daemon.log")" "left out: addresses other interfaces have too" "the log says it was left out"
wait_wan 10 "wan0 interface up 198.51.100.2, $PUBLIC" "status: the LAN's address on wan0 too is not a public one"
is "$(wan4)" "198.51.100.2
$PUBLIC" "the set wan4 does not hold the router's LAN address ($ROUTER_LAN)"
ip -n "$NW_NS" addr del "$ROUTER_LAN/32" dev wan0

# ---- reloads: to [wan] address and back; a flush of the ruleset restores the addresses ------

reload() { # reload: SIGHUP, and wait for the log line that ends it
	local before
	before=$(grep -c '^<5>reloaded' "$NW_T/daemon.log")
	kill -HUP "$NW_DPID"
	nw_wait_for 10 bash -c "[ \$(grep -c '^<5>reloaded' '$NW_T/daemon.log') -gt $before ]"
}
NW_WAN_ADDR=198.51.100.77 nw_policy
reload
is "$(wan4)" 198.51.100.77 "a reload to [wan] address = 198.51.100.77: the set holds that one"
is "$(wan_record)" "wan0 policy up 198.51.100.77" "status: the address from the policy"
NW_WAN_ADDR=follow nw_policy
reload
is "$(wan4)" "198.51.100.2
$PUBLIC" "a reload back to following: the interface's two addresses again"
nw_nft flush ruleset
t0=$(nw_ms)
restored() { [ "$(wan4 2>/dev/null)" = "198.51.100.2
$PUBLIC" ]; }
nw_wait_for 10 restored
diag "table restored $(($(nw_ms) - t0)) ms after the flush"
is "$(wan4)" "198.51.100.2
$PUBLIC" "after a flush of the ruleset the set wan4 is restored with both"

check "daemon still running" nw_alive
if [ "$NW_TAP_FAILED" -gt 0 ]; then
	diag "daemon log:"
	tail -n 40 "$NW_T/daemon.log" | sed 's/^/#   /'
fi
