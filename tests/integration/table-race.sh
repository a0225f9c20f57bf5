#!/bin/bash
# SPDX-License-Identifier: MIT
# A lookalike swapped in for natwarden's table never receives natwarden's elements from the
# transaction that follows a restore. Someone deletes natwarden's table; as soon as natwardend
# has put it back, they replace it, in one transaction, by a table of the same name with the
# same map and set names and types but without natwarden's mark. An interval set of 20,000
# prefixes in another table (a blocklist) makes every fetch of libnftables' cache take long,
# which is the window to hit. natwardend must send nothing by the table's name after a
# whole-table apply until a submission asks for a change: the lookalike stays empty, and the
# restore that follows refuses to touch it. Bounded: 8 rounds, 300 s (a few seconds here).
. "$(dirname "$0")/lib.sh"
nw_init
nw_setup

python3 -c "
print('table inet blocklist { set bl { type ipv4_addr; flags interval; elements = {')
print(',\n'.join('10.%d.%d.0/24' % (i // 256, i % 256) for i in range(20000)))
print('} }\n}')" | nw_nft -f -
check "another table holds an interval set of 20,000 prefixes" \
	test "$(nw_nft list set inet blocklist bl | grep -o '/24' | wc -l)" = 20000

nw_start || { not_ok "daemon starts"; exit 1; }
printf 'dnat tcp 80 to 192.168.1.240\n' | nw_submit "$NW_U1" ingress >/dev/null
is "$(nw_kernel)" "tcp 80 192.168.1.240:80" "the forward is live"

lookalike() {
	printf 'table inet %s {\n' "$NW_TABLE"
	printf '\tmap dnat_port { type inet_proto . inet_service : ipv4_addr . inet_service; }\n'
	printf '\tset pinholes { type ipv6_addr . inet_proto . inet_service; }\n'
	printf '\tchain c { type nat hook prerouting priority dstnat + 5; policy accept; }\n}\n'
}
# swap_in: once natwardend has restored its table (deleting a missing table fails), replace it
# by the lookalike in one transaction; tried every 2 ms, 30 s at most
swap_in() {
	for _ in $(seq 15000); do
		{ echo "delete table inet $NW_TABLE"; lookalike; } | nw_nft -f - 2>/dev/null && return 0
		sleep 0.002
	done
	return 1
}
written=0 swapped=0 t0=$(date +%s) deadline=$(($(date +%s) + 300))
for round in $(seq 8); do
	[ "$(date +%s)" -lt "$deadline" ] || break
	swap_in || break
	swapped=$round
	sleep 1 # what natwardend would send after the restore has been sent by now
	if nw_nft list map inet "$NW_TABLE" dnat_port | grep -q elements; then
		written=$round
		diag "round $round: the lookalike received an element:"
		nw_nft list table inet "$NW_TABLE" | sed 's/^/#   /'
		break
	fi
	nw_nft delete table inet "$NW_TABLE" # the name is free again: natwardend restores
done
diag "8 rounds took $(($(date +%s) - t0)) s"
is "$swapped" 8 "the lookalike was swapped in right after each of 8 restores"
is "$written" 0 "the lookalike never received an element from natwardend"
like "$(cat "$NW_T/daemon.log")" "exists and is not natwarden's" \
	"the restore after a swap refuses to touch the lookalike, and says so"
check "natwardend is still running" nw_alive
