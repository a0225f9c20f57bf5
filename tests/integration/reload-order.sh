#!/bin/bash
# SPDX-License-Identifier: MIT
# Which fragments survive a lowered max_fragments: the oldest accepted ones, the same at a
# reload and at the next start, never decided by name. The names are chosen so their order
# is the reverse of their acceptance (zz-first, mm-second, aa-third): a judge that went by
# name, or by hash, keeps the wrong ones.
# Everything runs in a network namespace made here; the host's ruleset is never touched.
# shellcheck disable=SC2119 # nw_start and nw_policy take optional arguments; none here
. "$(dirname "$0")/lib.sh"
nw_init
nw_setup
nw_start || { not_ok "daemon starts"; exit 1; }
ok "daemon starts"

readies() { grep -c 'READY=1' "$NW_T/notify.log"; }
log_lines() { wc -l <"$NW_T/daemon.log" | tr -d ' '; }
log_since() { tail -n +"$(($1 + 1))" "$NW_T/daemon.log"; }

# reload: SIGHUP, and wait (10 s at most) for the READY=1 that ends it
reload() {
	local n
	n=$(readies)
	kill -HUP "$NW_DPID"
	nw_wait_for 10 bash -c "[ \"\$(grep -c 'READY=1' '$NW_T/notify.log')\" -gt $n ]"
}

# submit USER NAME FRAGMENT: must be accepted
submit() {
	local out
	out=$(printf '%s\n' "$3" | nw_submit "$1" "$2")
	like "exit $? $out" "^exit 0 $2: accepted for $1" "$1's '$2' accepted"
}

# fragments USER: the user's active fragments in the status file, sorted
fragments() {
	awk -F'\t' -v u="$1" '$1 == "dnat" && $2 == u { print $3 }' "$NW_T/run/status" | sort -u | tr '\n' ' '
}

# revoked_events USER: the fragments named by 'revoked' events in the status file, sorted
revoked_events() {
	awk -F'\t' -v u="$1" '$1 == "event" && $3 == "revoked" && $4 == u { print $5 }' \
		"$NW_T/run/status" | sort | tr '\n' ' '
}

# accepted_times USER NAME...: the acceptance time (ms) the saved state holds for each, one a
# line ("-" for none); the snapshot first, then the journal (its last record wins)
accepted_times() {
	local uid name
	uid=$(id -u "$1")
	shift
	for name in "$@"; do
		cat "$NW_T/state/snapshot" "$NW_T/state/journal" 2>/dev/null |
			awk -v uid="$uid" -v n="$name" '$1 == "put" && $2 == uid && $6 == n { t = $3 }
				$1 == "del" && $2 == uid && $3 == n { t = "" }
				END { print (t == "" ? "-" : t) }'
	done
}
# in_order USER NAME...: "increasing" when the saved acceptance times of these fragments
# strictly increase, else the times
in_order() {
	local prev=-1 x
	for x in $(accepted_times "$@"); do
		if [ "$x" = - ] || [ "$x" -le "$prev" ]; then
			accepted_times "$@" | tr '\n' ' '
			return
		fi
		prev=$x
	done
	echo increasing
}

# ---- max_fragments 8 -> 1 at a reload: the oldest one stays ---------------------------------

submit "$NW_U1" zz-first 'dnat tcp 8001 to 192.168.1.240'
submit "$NW_U1" mm-second 'dnat tcp 8002 to 192.168.1.241'
submit "$NW_U1" aa-third 'dnat tcp 8003 to 192.168.1.242'
is "$(in_order "$NW_U1" zz-first mm-second aa-third)" increasing "their saved acceptance times increase in that order"
is "$(nw_kernel)" "tcp 8001 192.168.1.240:8001
tcp 8002 192.168.1.241:8002
tcp 8003 192.168.1.242:8003" "the kernel holds all three"

NW_MAX_FRAGMENTS=1 nw_policy
n=$(log_lines)
reload || not_ok "the reload ends with READY=1"
is "$(log_since "$n")" "<4>revoked $NW_U1's fragment 'mm-second' after a policy change: mm-second: $NW_U1 already has 1 active fragments (max_fragments = 1)
<4>revoked $NW_U1's fragment 'aa-third' after a policy change: aa-third: $NW_U1 already has 1 active fragments (max_fragments = 1)
<5>reloaded $NW_T/policy.ini: 1 fragments still active, 2 revoked" \
	"max_fragments = 1, reload: the two newer ones are revoked, naming max_fragments"
is "$(nw_kernel)" "tcp 8001 192.168.1.240:8001" "the kernel keeps exactly zz-first, the oldest"
is "$(fragments "$NW_U1")" "zz-first " "the status file lists exactly zz-first"
is "$(revoked_events "$NW_U1")" "aa-third mm-second " "the status file has a 'revoked' event for each of the others"

n=$(log_lines)
nw_stop
nw_start || { not_ok "daemon restarts"; exit 1; }
is "$(nw_kernel)" "tcp 8001 192.168.1.240:8001" "after a restart the kernel still holds exactly zz-first"
is "$(fragments "$NW_U1")" "zz-first " "and so does the status file"
is "$(log_since "$n" | grep -c revoked)" 0 "the restart revoked nothing more"

# ---- max_fragments 8 -> 2 at a reload: two of three stay ---------------------------------------

NW_MAX_FRAGMENTS=8 nw_policy
reload || not_ok "the reload ends with READY=1"
submit "$NW_U2" zz-first 'dnat tcp 9001 to 192.168.2.1'
submit "$NW_U2" mm-second 'dnat tcp 9002 to 192.168.2.2'
submit "$NW_U2" aa-third 'dnat tcp 9003 to 192.168.2.3'
is "$(in_order "$NW_U2" zz-first mm-second aa-third)" increasing "their saved acceptance times increase in that order"
NW_MAX_FRAGMENTS=2 nw_policy
n=$(log_lines)
reload || not_ok "the reload ends with READY=1"
is "$(log_since "$n")" "<4>revoked $NW_U2's fragment 'aa-third' after a policy change: aa-third: $NW_U2 already has 2 active fragments (max_fragments = 2)
<5>reloaded $NW_T/policy.ini: 3 fragments still active, 1 revoked" \
	"max_fragments = 2, reload: only the newest is revoked"
is "$(nw_kernel)" "tcp 8001 192.168.1.240:8001
tcp 9001 192.168.2.1:9001
tcp 9002 192.168.2.2:9002" "the kernel keeps $NW_U2's two oldest (and $NW_U1's zz-first)"
is "$(fragments "$NW_U2")" "mm-second zz-first " "the status file lists exactly those"

n=$(log_lines)
nw_stop
nw_start || { not_ok "daemon restarts"; exit 1; }
is "$(nw_kernel)" "tcp 8001 192.168.1.240:8001
tcp 9001 192.168.2.1:9001
tcp 9002 192.168.2.2:9002" "after a restart the kernel holds the same three"
is "$(log_since "$n" | grep -c revoked)" 0 "the restart revoked nothing more"

# ---- lowered while the daemon is stopped: start-up keeps the oldest too ----------------------

NW_MAX_FRAGMENTS=8 nw_policy
reload || not_ok "the reload ends with READY=1"
submit "$NW_U1" bb-fourth 'dnat tcp 8004 to 192.168.1.243'
submit "$NW_U1" ab-fifth 'dnat tcp 8005 to 192.168.1.244'
is "$(in_order "$NW_U1" zz-first bb-fourth ab-fifth)" increasing \
	"$NW_U1's saved acceptance times increase: zz-first, bb-fourth, ab-fifth"
nw_stop
NW_MAX_FRAGMENTS=2 nw_policy
n=$(log_lines)
nw_start || { not_ok "daemon starts with max_fragments = 2"; exit 1; }
is "$(log_since "$n" | grep revoked)" "<4>revoked $NW_U1's fragment 'ab-fifth' at start-up: ab-fifth: $NW_U1 already has 2 active fragments (max_fragments = 2)" \
	"lowered to 2 while stopped: start-up revokes only $NW_U1's newest"
is "$(nw_kernel)" "tcp 8001 192.168.1.240:8001
tcp 8004 192.168.1.243:8004
tcp 9001 192.168.2.1:9001
tcp 9002 192.168.2.2:9002" "the kernel keeps $NW_U1's zz-first and bb-fourth, $NW_U2's zz-first and mm-second"
is "$(fragments "$NW_U1")" "bb-fourth zz-first " "the status file lists $NW_U1's two oldest"
n=$(log_lines)
reload || not_ok "the reload ends with READY=1"
is "$(log_since "$n")" "<5>reloaded $NW_T/policy.ini: 4 fragments still active, 0 revoked" \
	"a reload of the same policy then revokes nothing: start-up and reload agree"
nw_stop
nw_start || { not_ok "daemon restarts"; exit 1; }
is "$(nw_kernel)" "tcp 8001 192.168.1.240:8001
tcp 8004 192.168.1.243:8004
tcp 9001 192.168.2.1:9001
tcp 9002 192.168.2.2:9002" "and a restart keeps the same four"

# ---- a backlog judged in one batch: arrival order, not the names, decides ---------------------
# Entries left in the spool while the daemon is down are judged together at the start (one
# batch). They arrived in the order zz-b1, mm-b2, aa-b3, 0.3 s apart: the oldest is zz-b1.

nw_stop
NW_MAX_FRAGMENTS=8 nw_policy
for f in zz-b1:9011 mm-b2:9012 aa-b3:9013; do
	printf 'dnat tcp %s to 192.168.2.%s\n' "${f#*:}" "${f#*:90}" | nw_submit "$NW_U2" "${f%%:*}" --no-wait >/dev/null
	sleep 0.3
done
sleep 2.5 # older than SPOOL_QUIET_SECONDS (2 s): the start-up rescan takes all three at once
n=$(log_lines)
nw_start || { not_ok "daemon restarts"; exit 1; }
check "the three are judged at start-up" \
	nw_wait_for 10 bash -c "[ \"\$(tail -n +$((n + 1)) '$NW_T/daemon.log' | grep -c \"accepted $NW_U2's fragment\")\" = 3 ]"
diag "judged in this order: $(log_since "$n" | sed -n "s/^<5>accepted $NW_U2's fragment '\([^']*\)'.*/\1/p" | tr '\n' ' ')"
diag "saved acceptance times (zz-b1 mm-b2 aa-b3): $(accepted_times "$NW_U2" zz-b1 mm-b2 aa-b3 | tr '\n' ' ')"
NW_MAX_FRAGMENTS=3 nw_policy
reload || not_ok "the reload ends with READY=1"
is "$(fragments "$NW_U2")" "mm-second zz-b1 zz-first " \
	"max_fragments = 3, reload: $NW_U2 keeps zz-first, mm-second and the oldest of the batch, zz-b1"
kept=$(nw_kernel)
nw_stop
nw_start || { not_ok "daemon restarts"; exit 1; }
is "$(nw_kernel)" "$kept" "a restart keeps the same forwards as the reload"
check "daemon still running" nw_alive
