#!/bin/bash
# SPDX-License-Identifier: MIT
# Inside a LAN namespace (ip netns exec NS bash upnp-loop.sh ...): COUNT sequential upnpc calls,
# one process each, as a UPnP client on the LAN would make them. Adds map public TCP port
# BASE+i to ADDR:BASE+i; deletes remove them. Writes "START END OK" per call (EPOCHREALTIME)
# to OUT; stops early after BUDGET seconds.
# usage: upnp-loop.sh URL ADDR BASE FIRST COUNT add|del OUT BUDGET
set -u
export LC_ALL=C
url=$1 addr=$2 base=$3 first=$4 count=$5 op=$6 out=$7 budget=$8
deadline=$((SECONDS + budget))
for ((i = first; i < first + count; i++)); do
	((SECONDS < deadline)) || break
	port=$((base + i))
	t0=$EPOCHREALTIME
	if [ "$op" = add ]; then
		upnpc -u "$url" -e natwarden-bench -a "$addr" "$port" "$port" TCP >"$out.last" 2>&1
		t1=$EPOCHREALTIME
		grep -q "is redirected to internal" "$out.last" && good=1 || good=0
	else
		upnpc -u "$url" -d "$port" TCP >"$out.last" 2>&1
		t1=$EPOCHREALTIME
		grep -q "returned : 0" "$out.last" && good=1 || good=0
	fi
	echo "$t0 $t1 $good" >>"$out"
done
