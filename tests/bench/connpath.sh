#!/bin/bash
# SPDX-License-Identifier: MIT
# The packet path on its own: new TCP connections through a router namespace whose only
# ruleset is one table in a given layout and size (tests/bench/tables.py), no daemon running.
# Cases alternate round by round (A B C A B C ...), so a noisy machine hits all alike; each
# round is `connrate.py client` for SECS seconds from the WAN namespace to 203.0.113.7.
#
# usage: tests/bench/connpath.sh [--rounds R] [--secs S] [--perf DIR] LAYOUT:N...
#   e.g. tests/bench/connpath.sh daemon:10 daemon:10000 daemon-masq:10000 split-masq:10000
#   --perf DIR: afterwards, one more round per case under `perf record -a -g` (cpu-clock),
#               kept in DIR/perf-LAYOUT-N.data, and the share of the samples spent in
#               nf_tables, set lookups, conntrack and NAT printed per case, and the CPU time
#               per connection in each (rounds under perf do not count for the rates)
# Prints TAP (the topology, the loads) and then one line per case: median rate, its ratio to
# the first case, the median of the per-round ratios to the first case, every round's rate.
# As root; only namespaces it makes; removes them (and its directory) on exit.
set -u
export LC_ALL=C
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
ROUNDS=7 SECS=2 PERF_DIR=""
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) ROUNDS=$2; shift 2 ;;
	--secs) SECS=$2; shift 2 ;;
	--perf) PERF_DIR=$2; shift 2 ;;
	-h | --help) sed -n '3,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || { echo "usage: tests/bench/connpath.sh [--rounds R] [--secs S] [--perf DIR] LAYOUT:N..." >&2; exit 2; }
CASES=("$@")

# shellcheck source=../integration/lib.sh
. "$TOP/tests/integration/lib.sh"
nw_init
NW_ID=$$
NW_NS=nwcp$NW_ID
NW_T=$(mktemp -d /tmp/natwarden-connpath.XXXXXX)
NW_DIRS+=("$NW_T")
nw_netns "$NW_NS"
# shellcheck source=../integration/net.sh
. "$TOP/tests/integration/net.sh"
net_topology
TABLE=nwcp

ports=()
for c in "${CASES[@]}"; do
	n=${c#*:}
	python3 "$HERE/tables.py" "${c%%:*}" "$n" "$TABLE" >"$NW_T/$c.nft" || exit 2
	ports+=($((20000 + n - 1)))
	: >"$NW_T/$c.rates"
done
: >"$NW_T/srv.log"
# shellcheck disable=SC2046 # one port per word
ip netns exec "$SRV_NS" python3 "$HERE/connrate.py" serve "$NW_T/srv.log" "$SERVER" 3600 \
	$(printf '%s\n' "${ports[@]}" | sort -u) &
NW_PIDS+=($!)
SRV_PID=$! # ip netns exec and python3 exec in place: the server's own pid
nw_wait_for 10 grep -qx ready "$NW_T/srv.log" || { echo "Bail out! server did not start"; exit 1; }

load() { # load CASE: the case's table replaces whatever table is there, in one transaction
	{ echo "table inet $TABLE {}"; echo "delete table inet $TABLE"; cat "$NW_T/$1.nft"; } |
		ip netns exec "$NW_NS" nft -f -
}
conn() { # conn CASE: one round; prints the rate (and, for amp-* layouts, keeps the packets
	# the amplify chain counted per connection in CASE.pkts)
	local out port=$((20000 + ${1#*:} - 1)) ok pkts
	out=$(timeout 120 ip netns exec "$WAN_NS" python3 "$HERE/connrate.py" client "$PUBLIC" "$port" "$SECS" 10000000)
	case $out in *" fail=0 "*) ;; *) diag "$1: $out" >&2 ;; esac
	case $1 in amp-*)
		ok=$(sed -n 's/.*ok=\([0-9]*\).*/\1/p' <<<"$out")
		pkts=$(ip netns exec "$NW_NS" nft list chain inet "$TABLE" amplify | sed -n 's/.*counter packets \([0-9]*\).*/\1/p')
		[ "${ok:-0}" -gt 0 ] && echo "$pkts $ok" >>"$NW_T/$1.pkts"
		;;
	esac
	echo "${out##*rate=}"
}

for c in $(printf '%s\n' "${CASES[@]}" | awk '!seen[$0]++'); do
	if load "$c" && [ -n "$(conn "$c")" ]; then ok "$c loads and forwards"; else not_ok "$c loads and forwards"; fi
done
diag "conntrack: buckets $(ip netns exec "$NW_NS" cat /proc/sys/net/netfilter/nf_conntrack_buckets)," \
	"max $(ip netns exec "$NW_NS" cat /proc/sys/net/netfilter/nf_conntrack_max)"
# a case given twice is measured twice per round (its rounds are pooled)
for ((r = 0; r < ROUNDS; r++)); do
	for c in "${CASES[@]}"; do
		load "$c" || { not_ok "load $c"; continue; }
		echo "$(conn "$c") $(ip netns exec "$NW_NS" cat /proc/sys/net/netfilter/nf_conntrack_count)" >>"$NW_T/$c.rates"
	done
done

if [ -n "$PERF_DIR" ]; then
	mkdir -p "$PERF_DIR"
	for c in "${CASES[@]}"; do
		load "$c" || continue
		# shellcheck disable=SC2016 # $$ and $0 belong to the inner shell
		perf record -q -a -g -e cpu-clock -F 2999 -o "$PERF_DIR/perf-${c/:/-}.data" -- \
			sh -c 'echo $$ >"$0"; exec "$@"' "$NW_T/$c.perf-pid" ip netns exec "$WAN_NS" python3 "$HERE/connrate.py" client "$PUBLIC" \
			$((20000 + ${c#*:} - 1)) "$SECS" 10000000 >"$NW_T/$c.perf-rate" 2>/dev/null
	done
fi

python3 - "$NW_T" "$ROUNDS" "${CASES[@]}" <<'PY'
import statistics, sys
d, rounds, cases = sys.argv[1], int(sys.argv[2]), list(dict.fromkeys(sys.argv[3:]))


def per_round(values):  # a case measured k times per round: the mean of each round
    k = max(1, len(values) // rounds)
    return [statistics.fmean(values[i:i + k]) for i in range(0, k * rounds, k) if values[i:i + k]]


rates = {c: [float(l.split()[0]) for l in open(f"{d}/{c}.rates") if l.strip()] for c in cases}
ct = {c: [int(l.split()[1]) for l in open(f"{d}/{c}.rates") if len(l.split()) > 1] for c in cases}
base = rates[cases[0]]
print(f"# {'case':<22} {'median/s':>9} {'ratio':>6} {'paired':>6}  conntrack  rounds")
for c in cases:
    r = rates[c]
    med = statistics.median(r) if r else 0
    paired = [a / b for a, b in zip(per_round(r), per_round(base)) if b]
    print(f"# {c:<22} {med:>9.0f} {med / statistics.median(base):>6.3f} "
          f"{statistics.median(paired):>6.3f}  {max(ct[c] or [0]):>9}  "
          + " ".join(f"{x:.0f}" for x in r))
for c in cases:
    try:
        p = [tuple(map(int, l.split())) for l in open(f"{d}/{c}.pkts") if l.strip()]
    except OSError:
        continue
    print(f"# {c}: {sum(x for x, _ in p) / sum(y for _, y in p):.2f} packets per connection"
          " through the amplify chain")
PY

# per_conn DATA CONNS PIDS: the CPU time per connection (samples x 1/2999 s / connections) in
# each part of netfilter, counting only PIDS (client, server, ksoftirqd: a round's packets are
# handled in their contexts; anything else on the machine is left out), by the backend that answered the set lookups:
# rhash/hash (plain sets and maps), array/rbtree (interval sets), pipapo (concatenated
# intervals). Unlike the rates, CPU per connection hardly moves with the machine's load.
per_conn() {
	perf report -i "$1" --pid "$3" --no-children --sort sym --stdio -q -g none -n 2>/dev/null |
		awk -v c="$2" '
	$3 == "[k]" && $4 ~ /^(nf_|nft_|__nf_|.*conntrack|.*_nat_|rhashtable|jhash|.*pipapo|.*rbtree|.*array_lookup)/ {
		n = $2; s = $4; all += n
		if (s ~ /hash_lookup/) h += n
		else if (s ~ /array_lookup|rbtree/) t += n
		else if (s ~ /pipapo/) p += n
		else if (s ~ /^nft_|^__nft_/) e += n
		else if (s ~ /nat/) x += n
		else k += n
	}
	END {
		if (c <= 0) exit
		u = 1e6 / 2999 / c
		printf "#   per connection: netfilter %.2f us = set backends (hash %.2f, array/rbtree %.2f, pipapo %.2f) + nf_tables %.2f + NAT %.2f + conntrack and hooks %.2f\n", all * u, h * u, t * u, p * u, e * u, x * u, k * u
	}'
}

if [ -n "$PERF_DIR" ]; then
	for c in "${CASES[@]}"; do
		f=$PERF_DIR/perf-${c/:/-}.data
		[ -f "$f" ] || continue
		conns=$(sed -n 's/.*ok=\([0-9]*\).*/\1/p' "$NW_T/$c.perf-rate")
		diag "== $c under perf: ${conns:-?} connections; self samples by kernel symbol (nf_*, nft_*, *conntrack*, *nat*):"
		perf report -i "$f" --no-children --sort sym --stdio -q 2>/dev/null |
			grep -E '\[k\] (nf_|nft_|__nf_|nf_ct|.*conntrack|.*_nat_|rhashtable|jhash|pipapo|.*rbtree)' |
			head -n 25 | sed 's/^/#   /'
		per_conn "$f" "${conns:-0}" "$(cat "$NW_T/$c.perf-pid"),$SRV_PID,$(pgrep -d, '^ksoftirqd/')"
	done
fi
