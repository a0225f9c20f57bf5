#!/bin/bash
# SPDX-License-Identifier: MIT
# Surviving a ruleset flush: with forwards active and connections flowing, someone runs
# `nft flush ruleset`, `nft delete table inet TABLE`, or a Debian-style nftables.service reload
# (`nft -f` of a file that begins with `flush ruleset`). natwardend notices through nftables'
# netlink notifications (no polling) and restores exactly its table; each time the content is
# back and a new connection succeeds (within a generous bound of ten seconds: the figures are printed
# here and owned by the benchmark, not asserted). Prints the measured recovery times.
. "$(dirname "$0")/lib.sh"
nw_init
nw_setup
. "$(dirname "$0")/net.sh"
net_topology
net_server 80 443 8080

nw_start || { not_ok "daemon starts"; exit 1; }
printf 'dnat tcp 80 to 192.168.1.240\ndnat tcp 443 to 192.168.1.240\nmasquerade 192.168.1.240\n' |
	nw_submit "$NW_U1" ingress >/dev/null
printf 'dnat tcp 8080 to 192.168.2.9\n' | nw_submit "$NW_U2" other >/dev/null
want=$(nw_kernel)
is "$want" "masq tcp 443
masq tcp 80
tcp 443 192.168.1.240:443
tcp 80 192.168.1.240:80
tcp 8080 192.168.2.9:8080" "forwards of two users are live"
is "$(wan 80)" "served $SERVER:80 to $ROUTER_LAN" "traffic flows before any disruption"

# Background traffic: one new connection every 100 ms for at most 60 s, results logged (with
# source ports of its own, so it never collides with the foreground's).
echo 51000 >"$NW_T/sport-bg"
(
	export NET_SPORT_FILE=$NW_T/sport-bg
	end=$(($(date +%s) + 60))
	while [ "$(date +%s)" -lt "$end" ] && [ ! -e "$NW_T/stop-traffic" ]; do
		wan 443 >>"$NW_T/traffic.log" 2>&1
		sleep 0.1
	done
) &
NW_PIDS+=($!)

# A Debian-style /etc/nftables.conf: what `systemctl reload nftables` runs.
cat >"$NW_T/nftables.conf" <<'NFT'
#!/usr/sbin/nft -f
flush ruleset

table inet filter {
	chain input { type filter hook input priority filter; }
	chain forward { type filter hook forward priority filter; }
	chain output { type filter hook output priority filter; }
}
NFT

table_is_back() { [ "$(nw_kernel 2>/dev/null)" = "$want" ]; }
wan_answers() { wan 80 >/dev/null; }

# first_ms T0 PAUSE COMMAND...: the time (nw_ms) at which COMMAND first succeeds, tried every
# PAUSE seconds until 10 s after T0; nothing (and 1) when it never does.
first_ms() {
	local t0=$1 pause=$2
	shift 2
	while :; do
		if "$@"; then
			nw_ms
			return 0
		fi
		[ $(($(nw_ms) - t0)) -lt 10000 ] || return 1
		sleep "$pause"
	done
}

# disrupt DESCRIPTION COMMAND...: run it, then time until the table and traffic are back.
disrupt() {
	local desc=$1 t0 t_table t_conn
	shift
	t0=$(nw_ms)
	ip netns exec "$NW_NS" "$@" || { not_ok "$desc: the disruption itself ran"; return; }
	t_table=$(first_ms "$t0" 0.01 table_is_back)
	if [ -n "$t_table" ]; then
		ok "$desc: the table is back with exactly its content"
	else
		not_ok "$desc: the table is back with exactly its content"
		diag "kernel now: $(nw_kernel 2>&1 | tr '\n' ' ')"
		return
	fi
	t_conn=$(first_ms "$t0" 0.02 wan_answers)
	if [ -n "$t_conn" ]; then
		ok "$desc: a new connection succeeds afterwards ($((t_conn - t0)) ms; bound 10 s)"
	else
		not_ok "$desc: a new connection succeeds afterwards (none within 10 s)"
	fi
	diag "recovery after '$desc': table back in $((t_table - t0)) ms, first new connection after $((t_conn - t0)) ms"
	echo "$desc $((t_table - t0)) $((t_conn - t0))" >>"$NW_T/recovery"
}

disrupt "nft flush ruleset" nft flush ruleset
disrupt "nft delete table inet $NW_TABLE" nft delete table inet "$NW_TABLE"
disrupt "nftables.service reload (nft -f, beginning with flush ruleset)" nft -f "$NW_T/nftables.conf"
check "the admin's own table from that reload is untouched" nw_nft list table inet filter
disrupt "nft delete element (someone edits our map)" nft delete element inet "$NW_TABLE" dnat_port '{ tcp . 80 }'
disrupt "nft add element (someone adds to our map)" nft add element inet "$NW_TABLE" dnat_port '{ tcp . 9999 : 10.9.9.9 . 9999 }'

# Each recovery is recorded.
is "$(grep -c 'was changed or removed by someone else: restored 4 mappings' "$NW_T/daemon.log")" 5 \
	"each of the five recoveries is logged with what was restored"
check "a change to another table does not trigger a restore" bash -c "
	n=\$(grep -c 'restored' '$NW_T/daemon.log')
	ip netns exec $NW_NS nft add table inet unrelated
	ip netns exec $NW_NS nft add chain inet unrelated c
	sleep 0.3
	[ \"\$(grep -c 'restored' '$NW_T/daemon.log')\" = \"\$n\" ]"

# A storm: 50 flushes in a row; at the end the kernel equals the state.
for _ in $(seq 50); do ip netns exec "$NW_NS" nft flush ruleset; done
check "after 50 flushes in a row the table is back" nw_wait_for 10 table_is_back
check "the daemon survived the storm" nw_alive

touch "$NW_T/stop-traffic"
sleep 0.3
total=$(grep -c . "$NW_T/traffic.log")
served=$(grep -c '^served' "$NW_T/traffic.log")
diag "background traffic: $served of $total connections served while the disruptions went on"
check "background connections were served between the disruptions" test "$served" -gt 0
is "$(wan 80)" "served $SERVER:80 to $ROUTER_LAN" "after all of it a new connection is forwarded as before"
