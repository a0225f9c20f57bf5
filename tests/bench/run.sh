#!/bin/bash
# SPDX-License-Identifier: MIT
# natwarden measured against the alternatives: ONE command, as root, on a fresh Debian 12
# machine.
#
#   tests/bench/run.sh           the full benchmark (minutes): installs what is missing, makes a
#                                release build in build-bench/, measures, prints the table and
#                                writes BENCHMARKS.md and tests/bench/apply-time.png
#   tests/bench/run.sh --smoke   seconds: small sizes, no miniupnpd, no install, no files
#                                written outside its temporary directory; TAP output that asserts
#                                only that every measurement produced a number and that the
#                                invariants hold (equal rule counts, every mapping live), never
#                                a timing target. Uses $NW_BUILD (default build/) like the
#                                integration tests.
#
# What it measures (each comparison side by side in the same run):
#   1. submit -> verdict latency (p50/p99) at a small and a large number of active mappings,
#      beside its floors in the same loop: `natwarden check` of the same fragment (the client's
#      start and parse, no daemon) and /bin/true (a process start)
#   2. a burst of fragments dropped into the spool at once: time until all are live
#   3. the limit: the same element changes by one `nft -f` process each and in-process through
#      one libnftables context (tests/bench/nftlimit.c, compiled here with cc + pkg-config)
#   4. the peer: miniupnpd (Debian's miniupnpd-nftables) adding and removing the same mappings
#      through upnpc from a LAN namespace, against natwarden submit/withdraw
#   5. start-up time to READY=1 with the large state saved, beside `nft -f` of the table the
#      daemon renders (`natwardend --print-ruleset`) in a namespace of its own
#   6. daemon VmRSS at both sizes
#   7. rules in the table and new connections/s through the router at both sizes
#   8. a new address on the WAN interface: the time until hairpin works on it
#   9. IPv6 pinholes: submit -> live latency (p50/p99) and rules at a small and a large number
#
# Every latency is what the user of that command sees: each timing loop is one process
# (tests/bench/timeloop.c) started once as the submitting user (one setpriv for the whole loop)
# or once in the LAN namespace (upnpc), and only the command itself (natwarden, upnpc, nft)
# runs between the two clock readings.
#
# Containment: every command that touches the network runs in namespaces made here (lib.sh's
# nw_netns), all traffic goes to addresses inside them, every loop is bounded in count and
# time, only processes started here are stopped (by PID, lib.sh's nw_cleanup), and users,
# namespaces and directories are removed on exit (lib.sh's EXIT trap).
set -u
export LC_ALL=C
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BENCH_T0=$EPOCHREALTIME

MODE=full
case "${1:-}" in
--smoke) MODE=smoke ;;
"") ;;
-h | --help)
	sed -n '3,14p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
*)
	echo "usage: tests/bench/run.sh [--smoke]" >&2
	exit 2
	;;
esac

# ---- sizes and budgets -------------------------------------------------------------------
if [ "$MODE" = full ]; then
	SMALL=10 LARGE=10000
	SIZES="10 1000 2500 5000 10000" # the plot's points; the first and last are the comparison
	LAT_N=1000 LAT_N_MID=200        # submissions at SMALL/LARGE, and at the sizes in between
	COLD_N=20 REST_WAIT=1.5         # submissions after a rest (REST_WAIT s: the daemon's 1 s, and more)
	LIM_N=1000 LIM_N_MID=200        # element changes for the limit
	BURST_N=1000 BURST_ROUNDS=3
	PEER_N=1000
	MU_LARGE=1000 # miniupnpd: mappings added through upnpc (its rule count and rate at this size)
	CONN_SECS=1 CONN_ROUNDS=15
	WAN_ROUNDS=20
	STARTS=3
	LOOP_BUDGET=600 # seconds any one loop may take
else
	SMALL=10 LARGE=100
	SIZES="10 100"
	LAT_N=50 LAT_N_MID=50
	COLD_N=2 REST_WAIT=1.5
	LIM_N=50 LIM_N_MID=50
	BURST_N=50 BURST_ROUNDS=1
	PEER_N=20
	MU_LARGE=0
	CONN_SECS=0.3 CONN_ROUNDS=2
	WAN_ROUNDS=2
	STARTS=1
	LOOP_BUDGET=60
fi

# ---- packages and build (full run only) ----------------------------------------------------

# Install the Debian packages the benchmark needs, only those missing; like tests/deps.sh, no
# service may start while installing (miniupnpd must not run on the host).
bench_deps() {
	local p missing="" made_policy=""
	for p in gcc meson ninja-build pkg-config libnftables-dev nftables libmnl-dev libjansson-dev libcap-ng-dev \
		libinih-dev libsystemd-dev iproute2 util-linux passwd procps jq python3 \
		miniupnpd-nftables miniupnpc gnuplot-nox; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	echo "# installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 0755 /usr/sbin/policy-rc.d
		made_policy=yes
	fi
	local status=0
	apt-get update -qq >&2 || status=$?
	# shellcheck disable=SC2086
	[ $status -ne 0 ] || apt-get install -y -qq --no-install-recommends $missing >&2 || status=$?
	[ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
	return $status
}

if [ "$MODE" = full ]; then
	[ "$(id -u)" = 0 ] || { echo "tests/bench/run.sh: run it as root" >&2; exit 2; }
	bench_deps || { echo "tests/bench/run.sh: cannot install the packages it needs" >&2; exit 2; }
	# A release build of its own. -Dwerror=false: at -O3, GCC 12 warns (format-truncation,
	# maybe-uninitialized) where the default debug build does not, and werror=true would stop.
	NW_BUILD=$TOP/build-bench
	if [ ! -f "$NW_BUILD/build.ninja" ]; then
		meson setup "$NW_BUILD" "$TOP" --buildtype=release -Dwerror=false >/dev/null ||
			{ echo "meson setup build-bench failed" >&2; exit 2; }
	fi
	ninja -C "$NW_BUILD" >/dev/null || { ninja -C "$NW_BUILD"; echo "build-bench failed" >&2; exit 2; }
	export NW_BUILD
fi

# ---- the harness -----------------------------------------------------------------------------
# shellcheck source=../integration/lib.sh
. "$TOP/tests/integration/lib.sh"
nw_init
for tool in python3 jq cc pkg-config; do
	command -v "$tool" >/dev/null || skip_all "needs $tool"
done
pkg-config --exists libnftables || skip_all "needs libnftables-dev (pkg-config libnftables)"
nw_setup
# miniupnpd daemonizes: should the run end before its PID is known, whatever runs in its
# namespace (made here, so started here) is stopped by PID before lib.sh's cleanup.
MU_NS=""
RUN_MOUNTS=()
bench_cleanup() {
	local pid m
	for m in "${RUN_MOUNTS[@]}"; do
		umount -l "$m" 2>/dev/null || echo "# cannot unmount $m"
	done
	[ -n "$MU_NS" ] || return 0
	for pid in $(ip netns pids "$MU_NS" 2>/dev/null); do
		kill "$pid" 2>/dev/null
	done
}
trap 'bench_cleanup; nw_cleanup' EXIT

R=$NW_T/results # everything measured, for report.py
mkdir -p "$R"
res() { echo "$*" >>"$R/results.txt"; } # res KEY VALUE...
: >"$R/results.txt"

# The third temporary user gets a generous section of its own: 10,000 mappings and more, and
# its bursts of 1,000 fragments (written first as 1,000 dot-files) and thousands of
# submissions a minute within its spool limits and submission rate (these are at their
# maximum: the benchmark measures the daemon's speed, not its refusals).
NW_MAX_FRAGMENTS=100000 NW_MAX_RULES=1000000 nw_policy "
[submitter $NW_U3]
ports = 1024-65535
protocols = tcp, udp
destinations = 192.168.1.0/24, 2001:db8:1::/64
masquerade = yes
max_fragments = 100000
max_rules = 1000000
max_spool_entries = 100000
max_spool_bytes = 1073741824
max_submissions_per_minute = 1000000"
BU=$NW_U3 # the benchmark's submitter

# The limit program, compiled into the temporary directory.
NFTLIMIT=$NW_T/nftlimit
# shellcheck disable=SC2046 # pkg-config's flags: one word each
if cc -O2 -std=gnu11 -o "$NFTLIMIT" "$HERE/nftlimit.c" $(pkg-config --cflags --libs libnftables) 2>"$NW_T/cc.log"; then
	ok "nftlimit (the libnftables limit) compiles"
else
	not_ok "nftlimit (the libnftables limit) compiles"
	sed 's/^/#   /' "$NW_T/cc.log" | head -n 20
fi

# The timing loop, compiled into the temporary directory (readable and runnable by the
# submitting user); its output files go to a directory that user may write.
TIMELOOP=$NW_T/timeloop
TL=$NW_T/tl
mkdir -p "$TL"
chown "$BU" "$TL"
if cc -O2 -std=gnu11 -o "$TIMELOOP" "$HERE/timeloop.c" 2>"$NW_T/cc.log"; then
	ok "timeloop (the timing loop) compiles"
else
	not_ok "timeloop (the timing loop) compiles"
	sed 's/^/#   /' "$NW_T/cc.log" | head -n 20
fi

# A notify socket that stamps every message: start-up is measured to the microsecond.
NW_NOTIFY=$NW_T/notify.sock
: >"$NW_T/notify.log"
python3 "$HERE/notify.py" "$NW_NOTIFY" "$NW_T/notify.log" 7200 &
NW_PIDS+=($!)
nw_wait_for 10 test -S "$NW_NOTIFY" || { echo "Bail out! notify listener did not start"; exit 1; }

# ---- two instances, interleaved ------------------------------------------------------------------
# A keeps SMALL mappings for the whole run; B grows to each size in turn. Every comparison of
# the two sizes alternates between them (A, B, A, B, ...), so drift of a noisy machine (disk
# journal, CPU steal, caches) hits both sides alike. A is lib.sh's instance ($NW_T, $NW_NS,
# $NW_TABLE, net.sh's network); B has the same layout under $NW_T/b with its own namespaces,
# table and notify socket. on_b runs a command with B's values in the variables lib.sh and
# net.sh use (bash locals are visible to the functions called).
B_T=$NW_T/b
B_TABLE=${NW_TABLE}b
mkdir -p "$B_T"
chmod 0755 "$B_T"
# Each instance's runtime directory (the status file, rewritten after every change) on a
# tmpfs of its own, as on a real router, where systemd makes it under /run. The tests keep it
# under $NW_T, on the disk, where each rewrite makes and frees an inode: work no installation
# does.
for dir in "$NW_T/run" "$B_T/run"; do
	mkdir -p "$dir"
	mount -t tmpfs -o "size=64m,mode=0750,uid=$(id -u "$NW_DUSER"),gid=$(getent group "$NW_GROUP" | cut -d: -f3),nosuid,nodev,noexec" \
		tmpfs "$dir" || { echo "Bail out! cannot mount a tmpfs on $dir"; exit 1; }
	RUN_MOUNTS+=("$dir")
done
sed -e "s|= $NW_T/|= $B_T/|" -e "s|^table = $NW_TABLE\$|table = $B_TABLE|" "$NW_T/policy.ini" >"$B_T/policy.ini"
chmod 0644 "$B_T/policy.ini"
B_NOTIFY=$B_T/notify.sock
: >"$B_T/notify.log"
python3 "$HERE/notify.py" "$B_NOTIFY" "$B_T/notify.log" 7200 &
NW_PIDS+=($!)
nw_wait_for 10 test -S "$B_NOTIFY" || { echo "Bail out! notify listener did not start"; exit 1; }
B_DPID="" B_ACTIVE=0 B_NEXT=20000 B_SEQ=0 B_LAT=""
ACTIVE=0 NEXT_PORT=20000 BULK_SEQ=0 LAT_CUR="" # A's; B's live in B_* between on_b calls

on_b() {
	local NW_T=$B_T NW_NS=$B_NS NW_TABLE=$B_TABLE NW_NOTIFY=$B_NOTIFY NW_DPID=$B_DPID
	local WAN_NS=$B_WAN SRV_NS=$B_SRV LAN_NS=$B_LAN
	local ACTIVE=$B_ACTIVE NEXT_PORT=$B_NEXT BULK_SEQ=$B_SEQ LAT_CUR=$B_LAT rc
	"$@"
	rc=$?
	B_DPID=$NW_DPID B_ACTIVE=$ACTIVE B_NEXT=$NEXT_PORT B_SEQ=$BULK_SEQ B_LAT=$LAT_CUR
	return $rc
}

# ---- helpers (each works on the instance in the variables: A, or B through on_b) ------------------

# seconds between two EPOCHREALTIME stamps, in milliseconds
ms_between() { python3 -c 'import sys; print("%.3f" % ((float(sys.argv[2]) - float(sys.argv[1])) * 1000))' "$1" "$2"; }

# start the daemon, and record its start-up under KEY (a key may collect several): from the
# moment natwardend is executed (stamped by a wrapper that then execs it, so the harness's `ip
# netns exec` stays outside) to READY=1
stamped_daemon() { # stamped_daemon DIR: the wrapper, and the file it stamps, in DIR
	# shellcheck disable=SC2016 # $EPOCHREALTIME and "$@" belong to the wrapper
	printf '#!/bin/bash\nprintf "%%s\\n" "$EPOCHREALTIME" >>%q\nexec %q "$@"\n' \
		"$1/exec-stamps" "$NW_DAEMON" >"$1/natwardend-stamped"
	chmod 0755 "$1/natwardend-stamped"
}
timed_start() {
	local key=$1 t0 ready took NW_DAEMON=$NW_T/natwardend-stamped
	nw_start || return 1
	t0=$(tail -n 1 "$NW_T/exec-stamps")
	ready=$(grep 'READY=1' "$NW_T/notify.log" | tail -n 1 | awk -F'\t' '{ print $NF }')
	took=$(ms_between "$t0" "$ready")
	res "$key" "$took"
	diag "start-up ($key): $took ms"
}

# the kernel's dnat_port elements: how many, and is one there
kernel_ports() { nw_nft -j list map inet "$NW_TABLE" dnat_port | jq '[.nftables[] | select(.map) | .map.elem[]?] | length'; }
kernel_has_port() { nw_nft list map inet "$NW_TABLE" dnat_port | grep -q "tcp \. $1 :"; }

# add_mappings N [TIMES]: N more mappings, as fragments of at most 250 statements
# ("bulk-SEQ"), submitted one after another by one timing loop as the submitter; appends each
# submission's "START END OK" to TIMES when given.
add_mappings() {
	local n=$1 times=${2:-} chunk i seq0=$BULK_SEQ chunks=0 dir=$NW_T/bulk good
	mkdir -p "$dir"
	while [ "$n" -gt 0 ]; do
		chunk=$((n > 250 ? 250 : n))
		for ((i = 0; i < chunk; i++)); do
			echo "dnat tcp $((NEXT_PORT + i)) to 192.168.1.240"
		done >"$dir/$((seq0 + chunks)).frag"
		chunks=$((chunks + 1))
		NEXT_PORT=$((NEXT_PORT + chunk))
		ACTIVE=$((ACTIVE + chunk))
		n=$((n - chunk))
	done
	[ "$chunks" -gt 0 ] || return 0
	BULK_SEQ=$((seq0 + chunks))
	nw_as "$BU" "$TIMELOOP" -n "$chunks" -b "$LOOP_BUDGET" "$TL/fill.txt" \
		"$NW_CLIENT" --spool "$NW_T/spool" --runtime "$NW_T/run" submit --timeout 60 \
		"bulk-{i+$seq0}" "$dir/{i+$seq0}.frag" >/dev/null 2>>"$NW_T/timeloop.log"
	good=$(awk '$3 == 1' "$TL/fill.txt" | wc -l)
	[ -z "$times" ] || cat "$TL/fill.txt" >>"$times"
	if [ "$good" != "$chunks" ]; then
		not_ok "bulk fragments $seq0-$((BULK_SEQ - 1)) accepted ($good of $chunks)"
		return 1
	fi
}

# The latency fragment "lat": two versions, so every submission replaces one mapping (one
# delete and one add in the kernel). The loops submit lat-0 on even and lat-1 on odd
# iterations and run an even number of them, so "lat" is lat-1 (port 40001) between loops.
printf 'dnat tcp 40000 to 192.168.1.240\n' >"$NW_T/lat-0.frag"
printf 'dnat tcp 40001 to 192.168.1.240\n' >"$NW_T/lat-1.frag"
LATF=$NW_T
lat_init() { nw_submit "$BU" lat <"$LATF/lat-1.frag" >/dev/null && LAT_CUR=40001; }

# answer_pauses FROM TO COMMAND...: answer a timing loop's pauses (timeloop -p): for each
# "pause I" line read from fd FROM, run COMMAND... I, then let the loop go on through fd TO.
# LOOP_DONE is the N of its closing "done N" (0 if the loop ended without one).
answer_pauses() {
	local from=$1 to=$2 word i
	shift 2
	LOOP_DONE=0
	while read -r word i <&"$from"; do
		if [ "$word" = "done" ]; then
			LOOP_DONE=$i
			break
		fi
		"$@" "$i"
		echo go >&"$to"
	done
}
# spot_check I: is iteration I's forward in both kernels? Counts misses in the caller's `spot`.
spot_check() {
	kernel_has_port $((40000 + $1 % 2)) || spot=$((spot + 1))
	on_b kernel_has_port $((40000 + $1 % 2)) || spot=$((spot + 1))
}
rest_pause() { sleep "$REST_WAIT"; } # the loop's next iteration finds the daemons at rest

# latency SIZE COUNT: COUNT iterations of one timing loop, started once as the submitter: a
# submission of "lat" to A, one to B (at SIZE mappings), and the floors: `natwarden check` of
# the same fragment (no policy: the client's start, read and parse) and /bin/true. Odd
# iterations run them in the reverse order. Every
# few iterations the loop pauses for spot checks (outside every timed part): the forward is
# in the kernel when the client returned.
latency() {
	local size=$1 n=$(($2 / 2 * 2)) fails spot=0 done=0 every
	local client_a=("$NW_CLIENT" --spool "$NW_T/spool" --runtime "$NW_T/run")
	local client_b=("$NW_CLIENT" --spool "$B_T/spool" --runtime "$B_T/run")
	every=$((n / 5 > 0 ? n / 5 : 1))
	coproc TIMING {
		nw_as "$BU" "$TIMELOOP" -n "$n" -b "$LOOP_BUDGET" -p "$every" -s \
			"$TL/lat-a" "${client_a[@]}" submit lat "$LATF/lat-{i%2}.frag" ::: \
			"$TL/lat-b" "${client_b[@]}" submit lat "$LATF/lat-{i%2}.frag" ::: \
			"$TL/check" "$NW_CLIENT" --config "$NW_T/no-policy.ini" --runtime "$NW_T/no-runtime" \
			check --user "$BU" --name lat "$LATF/lat-{i%2}.frag" ::: \
			"$TL/true" /bin/true 2>>"$NW_T/timeloop.log"
	}
	# bash unsets TIMING and TIMING_PID once it reaps the loop, which may be before the last
	# line is read: keep the pid and the pipe's ends now
	local tpid=$TIMING_PID from to
	exec {from}<&"${TIMING[0]}" {to}>&"${TIMING[1]}"
	answer_pauses "$from" "$to" spot_check
	done=$LOOP_DONE
	exec {from}<&- {to}>&-
	wait "$tpid"
	cp "$TL/lat-a" "$R/lat-a-$size.txt"
	cp "$TL/lat-b" "$R/lat-$size.txt"
	cp "$TL/check" "$R/check-$size.txt"
	cp "$TL/true" "$R/true-$size.txt"
	fails=$(cat "$TL/lat-a" "$TL/lat-b" "$TL/check" | awk '$3 != 1' | wc -l)
	is "$done/$(wc -l <"$R/lat-a-$size.txt")/$(wc -l <"$R/lat-$size.txt")/$fails/$spot" "$n/$n/$n/0/0" \
		"latency at $SMALL and $size mappings, interleaved with its floors: $n submissions each, all accepted, live in the kernel when the client returned"
	LAT_CUR=40001 B_LAT=40001
}

# cold_latency COUNT: submissions that find each daemon at rest. The same loop as latency(),
# pausing after every iteration for REST_WAIT seconds (outside every timed part): a second
# after its last transaction a daemon drops libnftables' cache, which the transaction after a
# busy one finds ready, so each of these pays the fetch again.
cold_latency() {
	local n=$(($1 / 2 * 2)) done=0 fails
	local client_a=("$NW_CLIENT" --spool "$NW_T/spool" --runtime "$NW_T/run")
	local client_b=("$NW_CLIENT" --spool "$B_T/spool" --runtime "$B_T/run")
	sleep "$REST_WAIT"
	coproc COLD {
		nw_as "$BU" "$TIMELOOP" -n "$n" -b "$LOOP_BUDGET" -p 1 -s \
			"$TL/cold-a" "${client_a[@]}" submit lat "$LATF/lat-{i%2}.frag" ::: \
			"$TL/cold-b" "${client_b[@]}" submit lat "$LATF/lat-{i%2}.frag" ::: \
			"$TL/cold-check" "$NW_CLIENT" --config "$NW_T/no-policy.ini" --runtime "$NW_T/no-runtime" \
			check --user "$BU" --name lat "$LATF/lat-{i%2}.frag" 2>>"$NW_T/timeloop.log"
	}
	local cpid=$COLD_PID from to
	exec {from}<&"${COLD[0]}" {to}>&"${COLD[1]}"
	answer_pauses "$from" "$to" rest_pause
	done=$LOOP_DONE
	exec {from}<&- {to}>&-
	wait "$cpid"
	cp "$TL/cold-a" "$R/cold-$SMALL.txt"
	cp "$TL/cold-b" "$R/cold-$LARGE.txt"
	cp "$TL/cold-check" "$R/cold-check.txt"
	fails=$(cat "$TL/cold-a" "$TL/cold-b" "$TL/cold-check" | awk '$3 != 1' | wc -l)
	is "$done/$(wc -l <"$R/cold-$SMALL.txt")/$(wc -l <"$R/cold-$LARGE.txt")/$fails" "$n/$n/$n/0" \
		"after a rest of $REST_WAIT s each: $n submissions at $SMALL and at $LARGE mappings, all accepted"
	LAT_CUR=40001 B_LAT=40001
}

# limit SIZE COUNT: the same element changes natwarden sends for a replacement of "lat"
# (delete + add of one dnat_port element), replayed against copies of A's and B's tables, each
# in a namespace of its own, interleaved; once through one libnftables context per side, once
# through one `nft -f` process per change.
LIM_A=nwlima$NW_ID
LIM_B=nwlimb$NW_ID
nw_netns "$LIM_A"
nw_netns "$LIM_B"
limit_copy() { # limit_copy NS FILE: A's or B's table, as it is now, into NS; changes into FILE
	local ns=$1 file=$2 n=$3 cur other i t
	nw_nft list table inet "$NW_TABLE" >"$NW_T/table.nft" || return 1
	ip netns exec "$ns" nft -f - <<<"table inet $NW_TABLE {}
delete table inet $NW_TABLE" || return 1
	ip netns exec "$ns" nft -f "$NW_T/table.nft" || return 1
	cur=$LAT_CUR
	other=$((cur == 40000 ? 40001 : 40000))
	: >"$file"
	for ((i = 0; i < n; i++)); do
		{
			echo "delete element inet $NW_TABLE dnat_port { tcp . $cur }"
			echo "add element inet $NW_TABLE dnat_port { tcp . $other : 192.168.1.240 . $other }"
			echo "--"
		} >>"$file"
		t=$cur cur=$other other=$t
	done
}
limit() {
	local size=$1 n=$(($2 / 2 * 2)) how # even: each table ends as it started, for the second replay
	if ! limit_copy "$LIM_A" "$NW_T/changes-a.nft" "$n" || ! on_b limit_copy "$LIM_B" "$NW_T/changes-b.nft" "$n"; then
		not_ok "limit at $size: the copies of the tables load"
		return 1
	fi
	local good=""
	for how in lib exec; do
		if timeout $LOOP_BUDGET "$NFTLIMIT" --$how --nft "$(command -v nft)" "$NW_T" \
			"/run/netns/$LIM_A" "$NW_T/changes-a.nft" "/run/netns/$LIM_B" "$NW_T/changes-b.nft" \
			>"$NW_T/lim.out" 2>"$NW_T/lim.err"; then
			good="$good$how "
		else
			sed 's/^/#   /' "$NW_T/lim.err" | head -n 5
		fi
		awk '$1 == 0 { print $2 }' "$NW_T/lim.out" >"$R/lim-$how-a-$size.txt"
		awk '$1 == 1 { print $2 }' "$NW_T/lim.out" >"$R/lim-$how-$size.txt"
	done
	is "$good/$(wc -l <"$R/lim-lib-$size.txt")/$(wc -l <"$R/lim-exec-$size.txt")" "lib exec /$n/$n" \
		"limit at $SMALL and $size mappings, interleaved: $n changes each through libnftables and through nft -f"
}

vmrss() { awk '/^VmRSS:/ { print $2 }' "/proc/$NW_DPID/status"; }
rss_below() { [ "$(vmrss)" -lt "$1" ]; }

# snapshot SIZE: rules, live mappings, memory of the instance at hand: right after the
# mappings went in, and at rest (a second after its last transaction the daemon drops
# libnftables' cache and gives the allocator's free pages back: waited for, 30 s at most)
snapshot() {
	local size=$1 rules elements rss rest t0 waited
	rss=$(vmrss)
	rules=$(nw_rule_count)
	elements=$(kernel_ports)
	res "rules_$size" "$rules"
	res "elements_$size" "$elements"
	res "rss_$size" "$rss"
	# every mapping the benchmark made active, and the latency fragment's one
	is "$elements" "$((ACTIVE + 1))" "at $size mappings: all $((ACTIVE + 1)) mappings live in the kernel"
	like "$rss" '^[0-9]+$' "at $size mappings: daemon VmRSS measured ($rss kB)"
	t0=$(nw_ms)
	nw_wait_for 30 rss_below "$rss"
	waited=$(($(nw_ms) - t0))
	sleep 0.2
	rest=$(vmrss)
	res "rss_rest_$size" "$rest"
	check "at $size mappings: at rest the daemon gives memory back (VmRSS $rss -> $rest kB, after $waited ms)" \
		test "$rest" -lt "$rss"
}

# conn_round KEY NS PORT: one round of new connections to $PUBLIC:PORT from NS; appends the rate
conn_round() {
	local key=$1 ns=$2 port=$3 out
	out=$(timeout 60 ip netns exec "$ns" python3 "$HERE/connrate.py" client "$PUBLIC" "$port" "$CONN_SECS" 1000000)
	case $out in *" fail=0 "*) ;; *) diag "connections to $PUBLIC:$port from $ns: $out" ;; esac
	echo "${out##*rate=}" >>"$NW_T/$key.rates"
}
conn_check() { # conn_check KEY
	local rates
	rates=$(tr '\n' ' ' <"$NW_T/$1.rates")
	res "$1" "$rates"
	like "$rates" '[1-9]' "$1: new connections through the router ($rates/s)"
}

# burst KEY COUNT PORT-BASE [withdraw]: COUNT fragments renamed into the spool at once (into
# the submitter's own directory, incoming/UID)
burst() {
	local key=$1 n=$2 base=$3 how=${4:-} json all acc wd miss
	json=$(nw_as "$BU" python3 "$HERE/burst.py" "$NW_T/spool/incoming/$(id -u "$BU")" "$n" burst- "$base" 60 ${how:+"$how"})
	echo "$json" >"$R/$key.json"
	all=$(jq -r '.all_ms // "null"' <<<"$json")
	acc=$(jq -r '.accepted' <<<"$json")
	wd=$(jq -r '.withdrawn' <<<"$json")
	miss=$(jq -r '.missing' <<<"$json")
	res "${key}_all_ms" "$all"
	res "${key}_rename_ms" "$(jq -r '.rename_ms' <<<"$json")"
	if [ -z "$how" ]; then
		is "$acc/$miss" "$n/0" "$key: $n fragments dropped at once, all accepted ($all ms)"
		is "$(kernel_ports)" "$((ACTIVE + 1 + n))" "$key: all $n are live in the kernel"
	else
		is "$wd/$miss" "$n/0" "$key: $n withdrawals dropped at once, all answered ($all ms)"
		is "$(kernel_ports)" "$((ACTIVE + 1))" "$key: the kernel is back to $((ACTIVE + 1)) mappings"
	fi
	like "$all" '^[0-9.]+$' "$key: a time was measured"
}

# ---- machine -------------------------------------------------------------------------------------
pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "not installed"; }
res mode "$MODE"
res date "$(date -u '+%Y-%m-%d %H:%M UTC')"
res cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
res cores "$(nproc)"
res mem "$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
res kernel "$(uname -r)"
res debian "$(cat /etc/debian_version 2>/dev/null)"
res pkg_nftables "$(pkgver nftables)"
res pkg_libnftables "$(pkgver libnftables1)"
res pkg_libnftnl "$(pkgver libnftnl11)"
res pkg_miniupnpd "$(pkgver miniupnpd-nftables)"
res pkg_miniupnpc "$(pkgver miniupnpc)"
res natwarden "$("$NW_DAEMON" --version 2>/dev/null | awk '{ print $2 }') ($(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo unknown))"
res build "$(python3 -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(open(sys.argv[1]))}
print("buildtype=%s, b_ndebug=%s, werror=%s" % (o.get("buildtype"), o.get("b_ndebug"), o.get("werror")))' \
	"$NW_BUILD/meson-info/intro-buildoptions.json" 2>/dev/null)"
res fs "$(findmnt -n -o FSTYPE,OPTIONS -T "$NW_T" | cut -c1-80)"
res small "$SMALL"
res large "$LARGE"
res sizes "$SIZES"
res lat_n "$LAT_N"
res lat_n_mid "$LAT_N_MID"
res rest_wait "$REST_WAIT"
res burst_n "$BURST_N"
res burst_rounds "$BURST_ROUNDS"
res peer_n "$PEER_N"

# ---- the two routers -----------------------------------------------------------------------------
# shellcheck source=../integration/net.sh
. "$TOP/tests/integration/net.sh"
net_topology
A_WAN=$WAN_NS
# B's network: net.sh read again with another id builds a second one (same addresses, its own
# namespaces); read once more to get A's names back.
SAVE_ID=$NW_ID SAVE_NS=$NW_NS
NW_ID=b$SAVE_ID NW_NS=nwnsb$SAVE_ID
nw_netns "$NW_NS"
. "$TOP/tests/integration/net.sh"
net_topology
B_NS=$NW_NS B_WAN=$WAN_NS B_SRV=$SRV_NS B_LAN=$LAN_NS
NW_ID=$SAVE_ID NW_NS=$SAVE_NS
. "$TOP/tests/integration/net.sh"

# the servers behind both routers, for the connection rates
PORT_A=$((20000 + SMALL - 1)) PORT_B=$((20000 + LARGE - 1))
for side in a b; do
	ns=$SRV_NS
	[ $side = b ] && ns=$B_SRV
	: >"$NW_T/connsrv-$side.log"
	ip netns exec "$ns" python3 "$HERE/connrate.py" serve "$NW_T/connsrv-$side.log" "$SERVER" 7200 "$PORT_A" "$PORT_B" &
	NW_PIDS+=($!)
	nw_wait_for 10 grep -qx ready "$NW_T/connsrv-$side.log" || { echo "Bail out! server did not start"; exit 1; }
done

stamped_daemon "$NW_T"
stamped_daemon "$B_T"
{ timed_start startup_0 && on_b timed_start startup_0b; } || { echo "Bail out! natwardend does not start"; exit 1; }
ok "two natwardend instances started, each in its router namespace"

{ add_mappings "$SMALL" && lat_init; } || not_ok "A: $SMALL mappings and the latency fragment"
{ on_b add_mappings "$SMALL" && on_b lat_init; } || not_ok "B: $SMALL mappings and the latency fragment"
diag "== A at $SMALL mappings"
snapshot "$SMALL"

# B through the sizes; at each, A and B side by side
for size in $SIZES; do
	[ "$size" -gt "$SMALL" ] || continue
	on_b add_mappings $((size - B_ACTIVE)) "$R/fill.txt" || break
	diag "== B at $size mappings (A at $SMALL)"
	on_b snapshot "$size"
	is "$(on_b nw_rule_count)" "$(nw_rule_count)" "the number of rules is the same at $SMALL and $size mappings"
	n_lat=$LAT_N_MID n_lim=$LIM_N_MID
	if [ "$size" = "$LARGE" ]; then n_lat=$LAT_N n_lim=$LIM_N; fi
	latency "$size" "$n_lat"
	limit "$size" "$n_lim"
done
cold_latency "$COLD_N"
# What an earlier version of this benchmark timed around every client call besides the client:
# `id -g USER` and `setpriv --init-groups` (which reads the groups through NSS), measured here
# as root with the same loop, so old and new figures can be compared.
"$TIMELOOP" -n "$LAT_N_MID" -b "$LOOP_BUDGET" "$TL/idg" id -g "$BU" ::: "$TL/setpriv" \
	setpriv --reuid="$BU" --regid="$(id -g "$BU")" --init-groups --reset-env -- /bin/true \
	>/dev/null 2>>"$NW_T/timeloop.log"
cp "$TL/idg" "$R/harness-idg.txt"
cp "$TL/setpriv" "$R/harness-setpriv.txt"
res fill_mappings $((B_ACTIVE - SMALL))
res fill_fragments $((B_SEQ - 1))
# the small size's figures are A's, taken side by side with B at the large size
for f in lat lim-lib lim-exec; do
	cp "$R/$f-a-$LARGE.txt" "$R/$f-$SMALL.txt" 2>/dev/null
done
for f in check true; do # the same jobs in the same loop: one floor for both sizes
	cp "$R/$f-$LARGE.txt" "$R/$f-$SMALL.txt" 2>/dev/null
done

# new connections through both routers: short rounds, many of them, A and B in turn and in
# alternating order (ABBA...), so a noisy machine hits both alike; the report gives the ratio
# of the medians and the median of the per-round ratios. The daemons' CPU time over the
# rounds is kept too (nothing should run in them while only packets flow).
cpu_ms() { awk '{ printf "%.0f", ($14 + $15) * 1000 / '"$(getconf CLK_TCK)"' }' "/proc/$1/stat"; }
: >"$NW_T/conn_$SMALL.rates"
: >"$NW_T/conn_$LARGE.rates"
cpu_a0=$(cpu_ms "$NW_DPID") cpu_b0=$(cpu_ms "$B_DPID")
for ((r = 0; r < CONN_ROUNDS; r++)); do
	if ((r % 2 == 0)); then
		conn_round "conn_$SMALL" "$A_WAN" "$PORT_A"
		conn_round "conn_$LARGE" "$B_WAN" "$PORT_B"
	else
		conn_round "conn_$LARGE" "$B_WAN" "$PORT_B"
		conn_round "conn_$SMALL" "$A_WAN" "$PORT_A"
	fi
done
res "conn_cpu_$SMALL" $(($(cpu_ms "$NW_DPID") - cpu_a0))
res "conn_cpu_$LARGE" $(($(cpu_ms "$B_DPID") - cpu_b0))
conn_check "conn_$SMALL"
conn_check "conn_$LARGE"

# bursts, A and B in turn, BURST_ROUNDS times (a burst's time depends much on the file
# system's recent history: the median is reported, every value is kept)
for ((r = 0; r < BURST_ROUNDS; r++)); do
	burst "burst_$SMALL" "$BURST_N" 30000
	on_b burst "burst_$LARGE" "$BURST_N" 30000
	burst "burstw_$SMALL" "$BURST_N" 30000 withdraw
	on_b burst "burstw_$LARGE" "$BURST_N" 30000 withdraw
done

# burst_floor: the kernel's part of a burst, its floor: the same BURST_N elements added in one
# transaction (and deleted again) through one libnftables context, against the copies of A's
# and B's tables the limit left in its namespaces, BURST_ROUNDS times each, interleaved.
burst_floor() {
	local side table file i adds="" keys="" good
	for ((i = 0; i < BURST_N; i++)); do
		adds="${adds}${adds:+, }tcp . $((30000 + i)) : 192.168.1.240 . $((30000 + i))"
		keys="${keys}${keys:+, }tcp . $((30000 + i))"
	done
	for side in a b; do
		table=$NW_TABLE
		[ $side = b ] && table=$B_TABLE
		file=$NW_T/burst-floor-$side.nft
		for ((i = 0; i < BURST_ROUNDS; i++)); do
			printf 'add element inet %s dnat_port { %s }\n--\n' "$table" "$adds"
			printf 'delete element inet %s dnat_port { %s }\n--\n' "$table" "$keys"
		done >"$file"
	done
	if timeout $LOOP_BUDGET "$NFTLIMIT" --lib "$NW_T" "/run/netns/$LIM_A" "$NW_T/burst-floor-a.nft" \
		"/run/netns/$LIM_B" "$NW_T/burst-floor-b.nft" >"$NW_T/burst-floor.out" 2>"$NW_T/lim.err"; then
		good=yes
	else
		sed 's/^/#   /' "$NW_T/lim.err" | head -n 5
	fi
	# per side, the odd lines are the additions (in milliseconds)
	res "burst_floor_$SMALL" "$(awk '$1 == 0 && n0++ % 2 == 0 { printf "%.3f ", $2 / 1000 }' "$NW_T/burst-floor.out")"
	res "burst_floor_$LARGE" "$(awk '$1 == 1 && n1++ % 2 == 0 { printf "%.3f ", $2 / 1000 }' "$NW_T/burst-floor.out")"
	is "${good:-no}/$(wc -l <"$NW_T/burst-floor.out")" "yes/$((4 * BURST_ROUNDS))" \
		"burst floor: $BURST_N elements added and deleted in one transaction, $BURST_ROUNDS times at $SMALL and $LARGE"
}
burst_floor

# the peer comparison, natwarden's side (on A): PEER_N one-mapping fragments submitted one by
# one, then withdrawn one by one, by the client as a user runs it (one timing loop each,
# started once as the submitter: only the client runs inside each timed part)
peer_nw() {
	local i client=("$NW_CLIENT" --spool "$NW_T/spool" --runtime "$NW_T/run")
	mkdir -p "$NW_T/peer"
	for ((i = 0; i < PEER_N; i++)); do
		echo "dnat tcp $((41000 + i)) to 192.168.1.240" >"$NW_T/peer/$i"
	done
	nw_as "$BU" "$TIMELOOP" -n "$PEER_N" -b "$LOOP_BUDGET" \
		"$TL/peer-add" "${client[@]}" submit "peer-{i}" "$NW_T/peer/{i}" >/dev/null 2>>"$NW_T/timeloop.log"
	cp "$TL/peer-add" "$R/peer-nw-add.txt"
	is "$(kernel_ports)" "$((ACTIVE + 1 + PEER_N))" "peer, natwarden: $PEER_N mappings added one by one are live"
	nw_as "$BU" "$TIMELOOP" -n "$PEER_N" -b "$LOOP_BUDGET" \
		"$TL/peer-del" "${client[@]}" withdraw "peer-{i}" >/dev/null 2>>"$NW_T/timeloop.log"
	cp "$TL/peer-del" "$R/peer-nw-del.txt"
	is "$(kernel_ports)" "$((ACTIVE + 1))" "peer, natwarden: and all withdrawn again"
}
peer_nw

# start-up, A and B in turn, and the floor: the time the kernel needs to load the same table,
# `nft -f` of what the daemon renders from its saved state (`natwardend --print-ruleset`, run
# in the router's namespace while the daemon is stopped) into a namespace of its own; and, as
# the daemon's restart does it, the same with the old table deleted in the same transaction.
LOAD_NS=nwload$NW_ID
nw_netns "$LOAD_NS"
render_table() { # render_table FILE
	ip netns exec "$NW_NS" "$NW_DAEMON" --config "$NW_T/policy.ini" --print-ruleset >"$1" 2>"$NW_T/print-ruleset.err"
}
load_floor() { # load_floor SIZE TABLE FILE: one fresh load, one replace, then delete
	local size=$1 table=$2 file=$3
	{ echo "delete table inet $table"; cat "$file"; } >"$file.replace"
	if ip netns exec "$LOAD_NS" "$TIMELOOP" -n 1 "$TL/load" nft -f "$file" ::: \
		"$TL/replace" nft -f "$file.replace" ::: "$TL/unload" nft delete table inet "$table" \
		>/dev/null 2>>"$NW_T/timeloop.log" && [ "$(cut -d' ' -f3 "$TL/load" "$TL/replace" "$TL/unload" | tr -d '\n')" = 111 ]; then
		res "nftload_$size" "$(awk '{ printf "%.3f", ($2 - $1) * 1000 }' "$TL/load")"
		res "nftreplace_$size" "$(awk '{ printf "%.3f", ($2 - $1) * 1000 }' "$TL/replace")"
	else
		not_ok "nft -f of the rendered table at $size loads in a namespace of its own"
	fi
}
for ((s = 0; s < STARTS; s++)); do
	nw_stop
	[ "$s" -gt 0 ] || render_table "$NW_T/rendered.nft" || not_ok "natwardend --print-ruleset at $SMALL"
	timed_start "startup_$SMALL" || not_ok "restart at $SMALL"
	on_b nw_stop
	[ "$s" -gt 0 ] || on_b render_table "$B_T/rendered.nft" || not_ok "natwardend --print-ruleset at $LARGE"
	on_b timed_start "startup_$LARGE" || { not_ok "restart at $LARGE"; break; }
	load_floor "$SMALL" "$NW_TABLE" "$NW_T/rendered.nft"
	load_floor "$LARGE" "$B_TABLE" "$B_T/rendered.nft"
done
is "$(grep -o 'tcp \. [0-9]* : ' "$B_T/rendered.nft" | wc -l)" "$((B_ACTIVE + 1))" \
	"the rendered table at $LARGE holds all $((B_ACTIVE + 1)) mappings"
is "$(on_b kernel_ports)" "$((B_ACTIVE + 1))" "after the restarts, all $((B_ACTIVE + 1)) mappings are live"
like "$(grep "^startup_$LARGE " "$R/results.txt")" '[0-9]' "start-up with $LARGE mappings saved was measured"
res rss_after_start_$LARGE "$(awk '/^VmRSS:/ { print $2 }' "/proc/$B_DPID/status")"
res hwm_end "$(awk '/^VmHWM:/ { print $2 }' "/proc/$B_DPID/status")"

# ---- IPv6 pinholes ----------------------------------------------------------------------------------
# A gets SMALL pinholes, B LARGE ones (fragments of 250 `pinhole` statements, besides their
# forwards); then one timing loop, as the submitter, replaces the pinhole of the fragment "pin"
# on A and on B in turn (a delete and an add in the set `pinholes`), PIN_N times each.
kernel_pins() { nw_nft -j list set inet "$NW_TABLE" pinholes | jq '[.nftables[] | select(.set) | .set.elem[]?] | length'; }
kernel_has_pin() { nw_nft list set inet "$NW_TABLE" pinholes | grep -q "2001:db8:1::240 \. tcp \. $1\b"; }
add_pinholes() { # add_pinholes N: N pinholes to 2001:db8:1::241 (ports from 20000), 250 per fragment
	local n=$1 chunk i f=0 dir=$NW_T/pins
	mkdir -p "$dir"
	chown "$BU" "$dir"
	while [ "$n" -gt 0 ]; do
		chunk=$((n > 250 ? 250 : n))
		for ((i = 0; i < chunk; i++)); do
			echo "pinhole tcp $((20000 + f * 250 + i)) to 2001:db8:1::241"
		done >"$dir/$f.frag"
		f=$((f + 1))
		n=$((n - chunk))
	done
	nw_as "$BU" "$TIMELOOP" -n "$f" -b "$LOOP_BUDGET" "$TL/pinfill.txt" \
		"$NW_CLIENT" --spool "$NW_T/spool" --runtime "$NW_T/run" submit --timeout 60 \
		"pins-{i}" "$dir/{i}.frag" >/dev/null 2>>"$NW_T/timeloop.log"
	[ "$(awk '$3 == 1' "$TL/pinfill.txt" | wc -l)" = "$f" ]
}
printf 'pinhole tcp 40000 to 2001:db8:1::240\n' >"$NW_T/pin-0.frag"
printf 'pinhole tcp 40001 to 2001:db8:1::240\n' >"$NW_T/pin-1.frag"
pin_latency() { # pin_latency COUNT: interleaved, A then B (B then A on odd iterations)
	local n=$(($1 / 2 * 2)) word i spot=0 done=0 every tpid from to
	every=$((n / 5 > 0 ? n / 5 : 1))
	coproc PTIMING {
		nw_as "$BU" "$TIMELOOP" -n "$n" -b "$LOOP_BUDGET" -p "$every" -s \
			"$TL/pin-a" "$NW_CLIENT" --spool "$NW_T/spool" --runtime "$NW_T/run" submit pin "$LATF/pin-{i%2}.frag" ::: \
			"$TL/pin-b" "$NW_CLIENT" --spool "$B_T/spool" --runtime "$B_T/run" submit pin "$LATF/pin-{i%2}.frag" \
			2>>"$NW_T/timeloop.log"
	}
	tpid=$PTIMING_PID
	exec {from}<&"${PTIMING[0]}" {to}>&"${PTIMING[1]}"
	while read -r word i <&"$from"; do
		if [ "$word" = "done" ]; then
			done=$i
			break
		fi
		kernel_has_pin $((40000 + i % 2)) || spot=$((spot + 1))
		on_b kernel_has_pin $((40000 + i % 2)) || spot=$((spot + 1))
		echo go >&"$to"
	done
	exec {from}<&- {to}>&-
	wait "$tpid"
	cp "$TL/pin-a" "$R/pin-$SMALL.txt"
	cp "$TL/pin-b" "$R/pin-$LARGE.txt"
	is "$done/$(awk '$3 == 1' "$R/pin-$SMALL.txt" | wc -l)/$(awk '$3 == 1' "$R/pin-$LARGE.txt" | wc -l)/$spot" "$n/$n/$n/0" \
		"pinhole latency at $SMALL and $LARGE pinholes, interleaved: $n replacements each, all accepted, live in the kernel when the client returned"
}
if add_pinholes "$SMALL" && on_b add_pinholes "$LARGE"; then
	is "$(kernel_pins)/$(on_b kernel_pins)" "$SMALL/$LARGE" "pinholes live: $SMALL on A, $LARGE on B"
	res "pin_rules_$SMALL" "$(nw_rule_count)"
	res "pin_rules_$LARGE" "$(on_b nw_rule_count)"
	is "$(on_b nw_rule_count)" "$(nw_rule_count)" "the number of rules is the same at $SMALL and $LARGE pinholes"
	pin_latency "$LAT_N"
else
	not_ok "pinholes: $SMALL on A and $LARGE on B accepted"
fi
nw_stop
on_b nw_stop

# ---- the peer: miniupnpd ---------------------------------------------------------------------------
mu_run() {
	{ command -v miniupnpd >/dev/null && command -v upnpc >/dev/null; } ||
		{ res mu_skipped "miniupnpd or upnpc not installed"; return 0; }
	# A second home network, the same addresses, its own namespaces: net.sh read again with
	# another id builds it; then read once more to get the first network's names back.
	local save_id=$NW_ID save_ns=$NW_NS
	NW_ID=mu$save_id
	NW_NS=nwmu$save_id
	nw_netns "$NW_NS"
	MU_NS=$NW_NS
	. "$TOP/tests/integration/net.sh"
	net_topology
	MU_NS=$NW_NS MU_WAN=$WAN_NS MU_SRV=$SRV_NS
	NW_ID=$save_id
	NW_NS=$save_ns
	. "$TOP/tests/integration/net.sh"

	# miniupnpd refuses to forward anything when its WAN address is private or reserved, and
	# every documentation range (203.0.113.0/24 included) is reserved to it. So wan0's first
	# address, the one it reads, is 100.128.0.1/32 (the first address past RFC 6598's
	# 100.64.0.0/10, which it also treats as reserved). That address has no route and no
	# neighbour: no packet is ever sent to or from it. Every connection below goes to
	# 203.0.113.7, wan0's second address; miniupnpd's DNAT rules match the interface and port,
	# not the address.
	{ ip -n "$MU_NS" addr del "$PUBLIC/24" dev wan0 &&
		ip -n "$MU_NS" addr add 100.128.0.1/32 dev wan0 &&
		ip -n "$MU_NS" addr add "$PUBLIC/24" dev wan0; } || { not_ok "miniupnpd: WAN addresses"; return 1; }
	# The layout of miniupnpd's nft_init.sh (table inet filter, its chains jumped to first), plus
	# what any router has after the jump: established traffic and the LAN going out.
	ip netns exec "$MU_NS" nft -f - <<-'NFT' || { not_ok "miniupnpd: its nftables structure"; return 1; }
	table inet filter {
		chain forward {
			type filter hook forward priority 0; policy drop;
			jump miniupnpd
			ct state established,related accept
			iifname "br-lan" accept
		}
		chain miniupnpd {
		}
		chain prerouting {
			type nat hook prerouting priority -100; policy accept;
			jump prerouting_miniupnpd
		}
		chain postrouting {
			type nat hook postrouting priority 100; policy accept;
			jump postrouting_miniupnpd
		}
		chain prerouting_miniupnpd {
		}
		chain postrouting_miniupnpd {
		}
	}
	NFT
	mkdir -p "$NW_T/mu"
	cat >"$NW_T/mu/miniupnpd.conf" <<-CONF
	ext_ifname=wan0
	listening_ip=br-lan
	http_port=5555
	enable_natpmp=no
	enable_upnp=yes
	secure_mode=yes
	system_uptime=yes
	clean_ruleset_interval=0
	lease_file=$NW_T/mu/leases
	uuid=7d3c3e2a-0b51-4d53-a1a4-6e61747761726e
	allow 1024-65535 192.168.1.0/24 1024-65535
	deny 0-65535 0.0.0.0/0 0-65535
	CONF
	# Without -d it runs as any installed miniupnpd does (-d would also log every rule it reads,
	# which slows it down many times over); it writes its PID where we say, and we stop that PID.
	ip netns exec "$MU_NS" /usr/sbin/miniupnpd -f "$NW_T/mu/miniupnpd.conf" -P "$NW_T/mu/pid" ||
		{ not_ok "miniupnpd starts"; return 1; }
	nw_wait_for 10 test -s "$NW_T/mu/pid" || { not_ok "miniupnpd writes its pid"; return 1; }
	MU_PID=$(cat "$NW_T/mu/pid")
	NW_PIDS+=("$MU_PID")
	local url=http://$ROUTER_LAN:5555/rootDesc.xml
	nw_wait_for 10 ip netns exec "$MU_SRV" upnpc -u "$url" -s || { not_ok "miniupnpd answers upnpc"; return 1; }
	ok "miniupnpd ($MU_PID) runs in its own router namespace and answers upnpc"

	: >"$NW_T/mu/connsrv.log"
	ip netns exec "$MU_SRV" python3 "$HERE/connrate.py" serve "$NW_T/mu/connsrv.log" "$SERVER" 7200 \
		$((20000 + SMALL - 1)) $((20000 + MU_LARGE - 1)) &
	NW_PIDS+=($!)
	nw_wait_for 10 grep -qx ready "$NW_T/mu/connsrv.log" || { not_ok "miniupnpd side: server"; return 1; }

	local budget=$LOOP_BUDGET
	# upnp_loop FIRST COUNT add|del OUT: COUNT sequential upnpc calls from the server's
	# namespace, one process each, as a UPnP client on the LAN makes them, timed by one loop
	# started once in that namespace: public TCP port 20000+i to $SERVER:20000+i, for i from
	# FIRST; a call counts when upnpc reports success
	upnp_loop() {
		local count=$2 base=$((20000 + $1))
		if [ "$3" = add ]; then
			ip netns exec "$MU_SRV" "$TIMELOOP" -n "$count" -b "$budget" -e "is redirected to internal" \
				"$4" upnpc -u "$url" -e natwarden-bench -a "$SERVER" "{i+$base}" "{i+$base}" TCP
		else
			ip netns exec "$MU_SRV" "$TIMELOOP" -n "$count" -b "$budget" -e "returned : 0" \
				"$4" upnpc -u "$url" -d "{i+$base}" TCP
		fi >/dev/null 2>>"$NW_T/timeloop.log"
	}
	mu_rules() { ip netns exec "$MU_NS" nft -j list ruleset | jq '[.nftables[] | select(.rule)] | length'; }
	mu_dnat() { ip netns exec "$MU_NS" nft -j list chain inet filter prerouting_miniupnpd | jq '[.nftables[] | select(.rule)] | length'; }
	: >"$R/peer-mu-add.txt"
	# the first SMALL mappings: rules and connection rate at the small size
	upnp_loop 0 "$SMALL" add "$R/peer-mu-add.txt"
	res mu_small "$SMALL"
	res mu_rules_small "$(mu_rules)"
	is "$(mu_dnat)" "$SMALL" "miniupnpd: $SMALL mappings live (DNAT rules)"
	: >"$NW_T/mu_conn_small.rates"
	for ((r = 0; r < CONN_ROUNDS; r++)); do conn_round mu_conn_small "$MU_WAN" $((20000 + SMALL - 1)); done
	conn_check mu_conn_small
	# then up to PEER_N: the add total is the sum of both loops (the pause is not counted)
	local t_pause0
	t_pause0=$(tail -n 1 "$R/peer-mu-add.txt" | cut -d' ' -f2)
	upnp_loop "$SMALL" $((PEER_N - SMALL)) add "$R/peer-mu-add.txt.2"
	# shift the second loop's stamps back, so it starts where the first ended: the file's wall
	# time is then the add total, as if the calls had run in one loop
	python3 - "$R/peer-mu-add.txt.2" "$t_pause0" >>"$R/peer-mu-add.txt" <<-'PY'
	import sys
	lines = [l.split() for l in open(sys.argv[1]) if l.strip()]
	shift = float(lines[0][0]) - float(sys.argv[2]) if lines else 0.0
	for t0, t1, good in lines:
	    print("%.6f %.6f %s" % (float(t0) - shift, float(t1) - shift, good))
	PY
	res mu_large "$PEER_N"
	res mu_rules_large "$(mu_rules)"
	is "$(mu_dnat)" "$PEER_N" "miniupnpd: $PEER_N mappings live (DNAT rules)"
	# start-up, miniupnpd's way: stopped, it keeps its mappings in its lease file and puts them
	# back when it starts again (its rules are re-created one by one)
	kill "$MU_PID"
	nw_wait_for 10 bash -c "! kill -0 $MU_PID 2>/dev/null"
	ip netns exec "$MU_NS" nft flush chain inet filter prerouting_miniupnpd
	ip netns exec "$MU_NS" nft flush chain inet filter miniupnpd
	rm -f "$NW_T/mu/pid"
	local t0 t1
	t0=$EPOCHREALTIME
	ip netns exec "$MU_NS" /usr/sbin/miniupnpd -f "$NW_T/mu/miniupnpd.conf" -P "$NW_T/mu/pid" ||
		{ not_ok "miniupnpd starts again"; return 1; }
	nw_wait_for "$budget" test -s "$NW_T/mu/pid" && MU_PID=$(cat "$NW_T/mu/pid") && NW_PIDS+=("$MU_PID")
	nw_wait_for "$budget" ip netns exec "$MU_SRV" upnpc -u "$url" -s
	t1=$EPOCHREALTIME
	res mu_startup_large "$(ms_between "$t0" "$t1")"
	is "$(mu_dnat)" "$PEER_N" "miniupnpd: restarted, its $PEER_N mappings are back from the lease file ($(ms_between "$t0" "$t1") ms)"
	: >"$NW_T/mu_conn_large.rates"
	for ((r = 0; r < CONN_ROUNDS; r++)); do conn_round mu_conn_large "$MU_WAN" $((20000 + PEER_N - 1)); done
	conn_check mu_conn_large
	: >"$R/peer-mu-del.txt"
	upnp_loop 0 "$PEER_N" del "$R/peer-mu-del.txt"
	is "$(mu_dnat)" 0 "miniupnpd: all $PEER_N mappings removed again"
}
if [ "$MODE" = full ]; then
	mu_run
else
	res mu_skipped "not in the smoke run"
fi

# ---- a new public address: hairpin follows ---------------------------------------------------------
# A, started again without [wan] address, follows wan0; then, WAN_ROUNDS times, `ip addr del` of the
# address and `ip addr add` of another one on wan0, and the time from the add's return to the
# first hairpin connection from the LAN client that a server answers on the new address
# (tests/bench/wanmove.py, started before the rounds: no process start is timed).
wan_move() {
	local cur=$PUBLIC new other=203.0.113.8 r reply t t_add ms fails=0 from to wpid
	sed -i '/^address = /d' "$NW_T/policy.ini"
	nw_start || { not_ok "A starts again without [wan] address"; return 1; }
	wan_up() { awk -F'\t' '$1 == "wan" { print $3, $4, $5 }' "$NW_T/run/status" | grep -qx "interface up $1"; }
	nw_wait_for 10 wan_up "$cur" || { not_ok "A follows wan0 without [wan] address"; return 1; }
	coproc WANMOVE { ip netns exec "$LAN_NS" python3 "$HERE/wanmove.py" "$LAN_CLIENT" 44000 "$PORT_A"; }
	wpid=$WANMOVE_PID
	exec {from}<&"${WANMOVE[0]}" {to}>&"${WANMOVE[1]}"
	read -r reply <&"$from"
	for ((r = 0; r < WAN_ROUNDS; r++)); do
		new=$other other=$cur
		ip -n "$NW_NS" addr del "$cur/24" dev wan0
		ip -n "$NW_NS" addr add "$new/24" dev wan0
		t_add=$EPOCHREALTIME
		echo "go $new" >&"$to"
		read -r reply t <&"$from" || break
		if [ "$reply" = ok ]; then
			ms=$(ms_between "$t_add" "$t")
			res wan_move_ms "$ms"
			diag "address $cur -> $new: hairpin on $new after $ms ms"
		else
			fails=$((fails + 1))
		fi
		cur=$new
	done
	echo stop >&"$to" # the poller ends on any line but "go ADDRESS"
	nw_wait_pids 10 "$wpid"
	exec {to}>&- {from}<&-
	is "$fails/$cur" "0/$PUBLIC" "address changes on wan0: hairpin worked on each new address ($WAN_ROUNDS rounds), back on $PUBLIC"
	nw_stop
}
wan_move

# ---- the report ----------------------------------------------------------------------------------
res runtime_s "$(python3 -c 'import sys; print("%.0f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$BENCH_T0" "$EPOCHREALTIME")"
if [ "$MODE" = full ]; then
	python3 "$HERE/report.py" "$R" markdown "$TOP/BENCHMARKS.md" "$NW_T/apply-time.dat" ||
		not_ok "report"
	if gnuplot -e "data='$NW_T/apply-time.dat'; out='$HERE/apply-time.png'" "$HERE/apply-time.gp"; then
		ok "plot written: tests/bench/apply-time.png"
	else
		not_ok "plot"
	fi
	ok "BENCHMARKS.md written"
else
	python3 "$HERE/report.py" "$R" markdown "$NW_T/BENCHMARKS.md" "$NW_T/apply-time.dat" | sed 's/^/# /'
	check "report: BENCHMARKS.md rendered (in the temporary directory)" test -s "$NW_T/BENCHMARKS.md"
	# every number the smoke run asks for was produced
	for k in "rules_$SMALL" "rules_$LARGE" "rss_$SMALL" "rss_$LARGE" "rss_rest_$SMALL" \
		"rss_rest_$LARGE" "startup_$SMALL" "startup_$LARGE" \
		"burst_${SMALL}_all_ms" "burst_${LARGE}_all_ms" "burst_floor_$SMALL" "burst_floor_$LARGE" \
		"nftload_$SMALL" "nftload_$LARGE" "nftreplace_$LARGE" "conn_$SMALL" "conn_$LARGE" \
		wan_move_ms "pin_rules_$SMALL" "pin_rules_$LARGE"; do
		like "$(grep "^$k " "$R/results.txt" | tail -n 1 | cut -d' ' -f2-)" '[0-9]' "a number for $k"
	done
	# every timed series came out, as "START END OK" lines
	for f in "lat-$SMALL" "lat-$LARGE" "check-$LARGE" "true-$LARGE" "cold-$SMALL" "cold-$LARGE" \
		cold-check peer-nw-add peer-nw-del fill \
		"pin-$SMALL" "pin-$LARGE"; do
		like "$(head -n 1 "$R/$f.txt" 2>/dev/null)" '^[0-9]+\.[0-9]{6} [0-9]+\.[0-9]{6} 1$' "timed series $f"
	done
fi
