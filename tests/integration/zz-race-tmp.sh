#!/bin/bash
# shellcheck disable=SC2119
. "$(dirname "$0")/lib.sh"
nw_init
nw_setup
nw_start || exit 1
printf 'dnat tcp 80 to 192.168.1.240\n' | nw_submit "$NW_U1" ingress >/dev/null
lost=0; created=0; tries=${TRIES:-100}
for i in $(seq "$tries"); do
	d=$(awk -v i="$i" 'BEGIN { printf "%.4f", 0.015 + (i % 60) * 0.0002 }')
	out=$( (echo "delete table inet $NW_TABLE"; sleep "$d"; echo "create table inet $NW_TABLE { comment \"admin\"; }"; sleep 0.2; echo "list table inet $NW_TABLE") |
		ip netns exec "$NW_NS" nft -i 2>&1)
	if printf '%s' "$out" | grep -q 'Error'; then :; else
		created=$((created + 1))
		if printf '%s' "$out" | grep -q 'comment "admin"'; then
			ip netns exec "$NW_NS" nft delete table inet "$NW_TABLE"
		else
			lost=$((lost + 1)); echo "LOST admin table at try $i (delay $d)"; printf '%s\n' "$out" | head -4
		fi
	fi
	nw_wait_for 5 bash -c "ip netns exec $NW_NS nft list table inet $NW_TABLE | grep -q natwarden" || echo "no restore at $i"
done
echo "created=$created lost=$lost of $tries"
grep -c "cannot restore" "$NW_T/daemon.log"
