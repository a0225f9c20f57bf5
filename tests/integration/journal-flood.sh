#!/bin/bash
# SPDX-License-Identifier: MIT
# The audit trail survives a flood under journald's default rate limit. journald drops a
# unit's messages of one priority pool (NOTICE and INFO share one) past RateLimitBurst (10000,
# scaled with the journal's free space) in RateLimitIntervalSec (30 s): one submitter sending
# no-op withdrawals, each logged at NOTICE, used to push another submitter's "accepted" out of
# the journal. Now a submitter's submissions past max_submissions_per_minute (120 by default)
# are refused unjudged and counted in one summary entry per submitter at most every 5 s.
#
# A private journald (tests/integration/journald.sh) runs with its default rate limit on a
# 16 MiB /run/log, so that the scaled burst is known; natwardend runs in a cgroup of its own,
# named like a service, for journald only limits the processes of a unit. User A floods with
# 20,000 no-op withdrawals (tests/integration/journal-flood.py: never more than 60 unanswered,
# so none is removed for max_spool_entries), user B submits real fragments during and after it:
#   1. the default limit: B's "accepted" entries are in the journal, A's judged withdrawals
#      each once, and A's summaries count every refused one (logged + refused = sent); all
#      natwardend sent is there, and after the interval journald reports nothing suppressed;
#   2. the same flood with max_submissions_per_minute = 1000000 for A (as before the limit):
#      journald drops B's "accepted", and says so ("Suppressed N messages") once the interval
#      is over, N exactly what went past the burst. This part shows the test can fail.
#
#   NW_BUILD=build tests/integration/journal-flood.sh          (as root)
#   NW_KEEP=1 ...                                              keep $NW_T

JR_SELF=$(readlink -f "$0")
# shellcheck source=tests/integration/journald.sh
. "$(dirname "$JR_SELF")/journald.sh"
jr_outer "$@"

# ==== inner part: PID 1 of a pid namespace, in a private mount namespace =======================
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$JR_SELF")/lib.sh"

nw_init
# shellcheck disable=SC2317 # the EXIT trap
jf_exit() {
	local rc=$?
	jr_show_on_failure 15 natwardend systemd-journald
	nw_stop # before its cgroup can go
	jr_unit_cleanup
	nw_cleanup || { [ "$rc" -ne 0 ] || rc=1; }
	exit "$rc"
}
trap jf_exit EXIT
jr_inner
nw_setup

MID_ACCEPTED=50c4e8d60983493681daec5e53b14533
MID_WITHDRAWN=6b8e11fdb72e4fd4bb219f0dab7f43b7
MID_LIMITED=3a2489169bf94a5fa3777777ce272242
MID_STARTED=d4b9f00b1d594207b4bbd8f26622b7c9
MID_RELOADED=48b107baf2d8469ab8ff07e970d42a1f
MID_JOURNAL_USAGE=ec387f577b844b8fa948f33cad9a75e6   # journald's "Runtime Journal ... is ..."
MID_JOURNAL_DROPPED=a596d6fe7bfa4994828e72309e95d61e # journald's "Suppressed N messages from U"
A=$NW_U1
B=$NW_U2
UIDA=$(id -u "$A")
FLOOD=${JF_FLOOD:-20000}
PENDING=60 # under max_spool_entries (64)
BURST=10000
INTERVAL=30

jr_sync() { journalctl --sync 2>/dev/null; }
jr_json() { journalctl --no-pager -q --all -o json "$@"; }
jr_count() { jr_json "$@" | jq -s length; }
# jf_sum FIELD MATCH...: the sum of FIELD over the matching entries (0 for none)
jf_sum() {
	local f=$1
	shift
	jr_json "$@" | jq -s --arg f "$f" 'map(.[$f] // "0" | tonumber) | add // 0'
}
# jf_events FROM: natwardend's events at NOTICE and INFO (journald's one priority pool) on its
# stderr since line FROM of daemon.log: what it sent the journal, whatever journald kept.
jf_events() {
	tail -n +"$1" "$NW_T/daemon.log" |
		grep -Ec '^<5>(accepted|withdrawn|expired|revoked|reloaded) |^<6>(started: |stopped; )'
}

# jf_start UNIT: natwardend, started in cgroup UNIT (journald rate-limits it as that unit).
jf_start() {
	local unit=$1
	JF_LOG0=$(($(wc -l <"$NW_T/daemon.log") + 1))
	jr_unit_enter "$unit" "$BASHPID" || { not_ok "natwardend runs as $unit"; exit 1; }
	# shellcheck disable=SC2119 # no extra arguments for natwardend
	nw_start
	local rc=$?
	jr_unit_leave "$BASHPID"
	[ "$rc" = 0 ] || { not_ok "natwardend starts as $unit"; exit 1; }
	JF_START_MS=$(nw_ms)
	local got=
	for _ in $(seq 100); do
		jr_sync
		got=$(jr_json MESSAGE_ID=$MID_STARTED _PID="$NW_DPID" | jq -r ._SYSTEMD_UNIT)
		[ -n "$got" ] && break
		sleep 0.05
	done
	is "$got" "$unit" "natwardend's entries carry _SYSTEMD_UNIT=$unit: journald rate-limits it as a unit"
}

# jf_flood PREFIX OUT: A's flood, into OUT ("COUNT SECONDS withdrawn=N rate_limited=N ...").
jf_flood() {
	nw_as "$A" /usr/bin/python3 "$(nw_py journal-flood)" \
		"$NW_T/spool/incoming/$UIDA" "$FLOOD" "$PENDING" "$1" >"$2" 2>&1
}
jf_field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" "$2"; } # jf_field KEY OUT

: >"$NW_T/daemon.log"
nw_notify_listen # outside natwardend's cgroup

# ==== journald and its burst ====================================================================
JR_RUN_LOG_SIZE=16m jr_start_journald || { not_ok "journald starts on a 16 MiB /run/log"; exit 1; }
ok "journald starts on a 16 MiB /run/log, with its default rate limit"
usage=$(jr_json MESSAGE_ID=$MID_JOURNAL_USAGE | head -n 1)
limit=$(jq -r .LIMIT <<<"$usage")
avail=$(jq -r .AVAILABLE <<<"$usage")
if [[ "$limit $avail" =~ ^[0-9]+\ [0-9]+$ ]]; then
	ok "journald reports its journal's size limit and free space"
else
	not_ok "journald reports its journal's size limit and free space"
	diag "its usage entry: $usage"
	exit 1
fi
# journald-rate-limit.c (systemd 252): burst_modulate(burst, available): k = log2(available)
# rounded down; k <= 20 keeps the burst, else burst * (k - 16) / 4. The free space it uses
# never exceeds the journal's size limit (LIMIT: 10% of the file system).
jf_modulate() {
	local k=0 v=$1
	while [ "$v" -gt 1 ]; do v=$((v / 2)); k=$((k + 1)); done
	if [ "$k" -le 20 ]; then echo "$BURST"; else echo $((BURST * (k - 16) / 4)); fi
}
diag "journal: $(jq -r .MESSAGE <<<"$usage") (LIMIT=$limit, AVAILABLE=$avail)"
diag "modulated burst: $(jf_modulate "$avail") now, at most $(jf_modulate "$limit") (RateLimitBurst=$BURST, ${INTERVAL}s)"
is "$(jf_modulate "$limit")" "$BURST" \
	"the journal's limit ($limit bytes) is under 2 MiB: the burst stays $BURST however full it gets"

# ==== 1. the default max_submissions_per_minute (120) =========================================
UNIT1=natwarden-flood-$NW_JID.service
jf_start "$UNIT1"
D1=$NW_DPID
log1=$JF_LOG0

t0=$(nw_ms)
jf_flood a "$NW_T/flood1.out" &
fpid=$!
sleep 1
printf 'dnat tcp 9000 to 192.168.2.10\n' | nw_submit "$B" during >/dev/null
is "$?" 0 "B's fragment during A's flood: accepted"
wait "$fpid"
is "$?" 0 "A's flood ran to its end"
t1=$(nw_ms)
printf 'dnat tcp 9001 to 192.168.2.11\n' | nw_submit "$B" after >/dev/null
is "$?" 0 "B's fragment after A's flood: accepted"
f1=$(cat "$NW_T/flood1.out")
diag "flood 1 (max_submissions_per_minute = 120): $f1; $((t1 - t0)) ms"
judged1=$(jf_field withdrawn "$NW_T/flood1.out")
limited1=$(jf_field rate_limited "$NW_T/flood1.out")
like "$f1" "^$FLOOD [0-9.]+ withdrawn=[0-9]+ rate_limited=[0-9]+ over_limit=0 none=0 other=0\$" \
	"every one of A's $FLOOD files got a verdict: judged, or refused for the rate (none for the entries limit)"
is "$((judged1 + limited1))" "$FLOOD" "judged + refused = sent"
# a token bucket of 120, refilled at 2 a second
secs=$(((t1 - t0 + 999) / 1000))
if [ "$judged1" -ge 120 ] && [ "$judged1" -le $((120 + 2 * secs + 2)) ]; then
	ok "A had $judged1 judged: the bucket's 120, plus 2 a second for ${secs} s at most"
else
	not_ok "A had $judged1 judged: the bucket's 120, plus 2 a second for ${secs} s at most"
fi

# the last summary comes with the next sweep (every 5 s)
for _ in $(seq 240); do
	jr_sync
	[ "$(jf_sum NATWARDEN_RATE_LIMITED MESSAGE_ID=$MID_LIMITED NATWARDEN_USER="$A")" -ge "$limited1" ] && break
	sleep 0.05
done
sleep 0.3
jr_sync
summaries=$(jr_count MESSAGE_ID=$MID_LIMITED NATWARDEN_USER="$A")
logged=$(jr_count MESSAGE_ID=$MID_WITHDRAWN NATWARDEN_USER="$A" _PID="$D1")
diag "journal: $logged withdrawals of A logged one by one, $summaries summaries of A"
is "$logged" "$judged1" "each judged withdrawal of A is in the journal, once"
is "$(jf_sum NATWARDEN_RATE_LIMITED MESSAGE_ID=$MID_LIMITED NATWARDEN_USER="$A")" "$limited1" \
	"A's summaries count every refused one: sum of NATWARDEN_RATE_LIMITED = $limited1"
is "$((logged + $(jf_sum NATWARDEN_RATE_LIMITED MESSAGE_ID=$MID_LIMITED NATWARDEN_USER="$A")))" "$FLOOD" \
	"logged one by one + summarized = A's $FLOOD submissions"
is "$(jf_sum NATWARDEN_OVER_LIMIT MESSAGE_ID=$MID_LIMITED NATWARDEN_USER="$A")" 0 \
	"no summary counts an entry past max_spool_entries"
if [ "$summaries" -ge 1 ] && [ "$summaries" -le $((secs / 5 + 3)) ]; then
	ok "$summaries summary entries for a flood of ${secs} s: one a sweep at most"
else
	not_ok "$summaries summary entries for a flood of ${secs} s: one a sweep at most"
fi
is "$(jr_json MESSAGE_ID=$MID_LIMITED NATWARDEN_USER="$A" | jq -r '"\(.PRIORITY) \(.NATWARDEN_UID)"' | sort -u)" \
	"4 $UIDA" "the summaries: PRIORITY=4 (a pool of their own), NATWARDEN_UID of A"
like "$(jr_json MESSAGE_ID=$MID_LIMITED NATWARDEN_USER="$A" | jq -r .MESSAGE | head -n 1)" \
	"^refused $A's spool entries unjudged: [0-9]+ over max_submissions_per_minute = 120, 0 past max_spool_entries = 64 or max_spool_bytes = 4194304; 0 stale temporary files removed\$" \
	"a summary's MESSAGE"
is "$(jr_json MESSAGE_ID=$MID_ACCEPTED NATWARDEN_USER="$B" | jq -r '"\(.NATWARDEN_FRAGMENT) \(.NATWARDEN_MAPPINGS)"')" \
	"during dnat tcp 9000 to 192.168.2.10
after dnat tcp 9001 to 192.168.2.11" "B's two accepts are in the journal, once each"
sent=$(jf_events "$log1")
is "$(jr_count _PID="$D1" PRIORITY=5 + _PID="$D1" PRIORITY=6)" "$sent" \
	"journald kept all $sent NOTICE and INFO events natwardend sent (far under the burst of $BURST)"
nw_stop

# ==== 2. the same flood without the limit (max_submissions_per_minute = 1000000 for A) ===========
NW_U1_MAX_SUBMISSIONS=1000000 nw_policy ""
UNIT2=natwarden-noflood-$NW_JID.service
jf_start "$UNIT2"
D2=$NW_DPID
log2=$JF_LOG0
t0=$(nw_ms)
jf_flood b "$NW_T/flood2.out"
is "$?" 0 "A's second flood ran to its end"
t1=$(nw_ms)
printf 'dnat tcp 9002 to 192.168.2.12\n' | nw_submit "$B" late >/dev/null
is "$?" 0 "B's fragment after A's unlimited flood: accepted"
t2=$(nw_ms)
f2=$(cat "$NW_T/flood2.out")
diag "flood 2 (max_submissions_per_minute = 1000000): $f2; $((t1 - t0)) ms"
like "$f2" "^$FLOOD [0-9.]+ withdrawn=$FLOOD rate_limited=0 over_limit=0 none=0 other=0\$" \
	"without the limit all $FLOOD were judged"
is "$(grep -cFx "<5>accepted $B's fragment 'late': dnat tcp 9002 to 192.168.2.12" "$NW_T/daemon.log")" 1 \
	"natwardend logged B's accept (its stderr has it)"
sent=$(jf_events "$log2")
diag "natwardend sent $sent NOTICE and INFO events in $((t2 - JF_START_MS)) ms since its start"
if [ $((t2 - JF_START_MS)) -gt $(((INTERVAL - 5) * 1000)) ]; then
	# journald's interval ended during the flood: a second burst was let through
	ok "journald dropped B's accept # SKIP the flood took longer than journald's interval"
	ok "journald's count of dropped messages # SKIP the flood took longer than journald's interval"
	exit 0
fi
sleep 0.3
jr_sync
is "$(jr_count MESSAGE_ID=$MID_ACCEPTED NATWARDEN_FRAGMENT=late)" 0 \
	"but journald dropped it: B's accept is not in the journal (the failure the limit prevents)"
# journald reports what it dropped with the unit's first message of the pool after the interval
left=$((JF_START_MS + INTERVAL * 1000 + 1500 - $(nw_ms)))
[ "$left" -gt 0 ] && sleep "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))"
kill -HUP "$D2"
# and for the first unit: a probe at NOTICE from its cgroup (its interval is over too)
# (alive a while: journald reads the cgroup of a stream's process when it gets to the stream)
(jr_unit_enter "$UNIT1" "$BASHPID" &&
	exec systemd-cat -t jf-probe -p notice sh -c "echo 'probe of $UNIT1' && sleep 1")
for _ in $(seq 200); do
	jr_sync
	[ "$(jr_count MESSAGE_ID=$MID_JOURNAL_DROPPED)" -ge 1 ] && [ "$(jr_count -t jf-probe)" -ge 1 ] && break
	sleep 0.05
done
sleep 0.3
jr_sync
got=$(jr_json MESSAGE_ID=$MID_JOURNAL_DROPPED | jq -r '"\(.N_DROPPED) \(.MESSAGE)"')
diag "journald: $got"
is "$got" "$((sent - BURST)) Suppressed $((sent - BURST)) messages from $UNIT2" \
	"journald suppressed exactly what natwardend sent past the burst ($sent - $BURST), and only in the unlimited run"
is "$(jr_json -t jf-probe | jq -r '"\(._SYSTEMD_UNIT) \(.MESSAGE)"')" "$UNIT1 probe of $UNIT1" \
	"a message of the first unit after its interval: journald had nothing of it to report suppressed"
# shellcheck disable=SC2317 # called through nw_wait_for
jf_reloaded() { jr_sync; [ "$(jr_count MESSAGE_ID="$MID_RELOADED" _PID="$D2")" = 1 ]; }
check "the reload after the interval is in the journal again" nw_wait_for 5 jf_reloaded
exit 0
