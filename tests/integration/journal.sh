#!/bin/bash
# SPDX-License-Identifier: MIT
# natwardend's audit events in a real systemd-journald: every verdict (accepted, renewed,
# rejected, withdrawn, expired, revoked by a reload), reloads that work and fail, a flush
# recovery, a fatal start error, start and stop. Each must be one structured entry with its
# MESSAGE_ID and the exact NATWARDEN_* fields, never duplicated, findable by user, explained by
# the catalog (journalctl -x); without journald the same events go to stderr with "<N>" levels.
#
# journald runs in private mount and pid namespaces (unshare, below) with tmpfs over
# /run/systemd, /run/log and /var/log/journal, so the host's journal, /run and audit settings
# are never touched; it dies with the pid namespace. The test itself runs inside that
# namespace too (lib.sh's helpers, its cleanup trap for users, netns, dirs and pids), so the
# daemon, started by `ip netns exec` from there, sees the private journal socket.
#
#   NW_BUILD=build tests/integration/journal.sh          (as root)
#   NW_KEEP=1 ...                                        keep $NW_T (journal dump in journal.txt)

JR_SELF=$(readlink -f "$0")
. "$(dirname "$JR_SELF")/journald.sh"
jr_outer "$@"

# ==== inner part: PID 1 of a pid namespace, in a private mount namespace =======================
. "$(dirname "$JR_SELF")/lib.sh"

nw_init
# lib.sh's cleanup, and an exit status that says whether anything failed
# shellcheck disable=SC2317 # run by the EXIT trap
jr_exit() {
	local rc=$?
	jr_show_on_failure 40 natwardend
	nw_cleanup || { [ "$rc" -ne 0 ] || rc=1; }
	exit "$rc"
}
trap jr_exit EXIT
jr_inner
nw_setup

# The stable contract: these MESSAGE_IDs never change (daemon/log.h, systemd/natwarden.catalog).
MID_ACCEPTED=50c4e8d60983493681daec5e53b14533
MID_REJECTED=fcef0e3d545943d185c1a869747687c0
MID_WITHDRAWN=6b8e11fdb72e4fd4bb219f0dab7f43b7
MID_EXPIRED=eddb1fd448f14b7eba6628814a81fedf
MID_REVOKED=203f4c6959bf4b8fa8d54311f475e68d
MID_RELOADED=48b107baf2d8469ab8ff07e970d42a1f
MID_RELOAD_FAILED=817469b6cc9e43d592f5cb62d61df3d6
MID_RECOVERED=7f55188a2d6445feb715a25d6d906b61
MID_FATAL=c8473ed9afeb469c9f02c669f91fd36f
MID_STARTED=d4b9f00b1d594207b4bbd8f26622b7c9
MID_STOPPED=0bf60f9dfbcb4d5a89956c62c690e742
MID_WAN=5ecb56b0694b4beeb893fde83f067200
UID1=$(id -u "$NW_U1")
UID2=$(id -u "$NW_U2")
DUID=$(id -u "$NW_DUSER")
U1=$NW_U1
U2=$NW_U2
# the reasons the verdict engine gives, as the daemon-core test knows them
U1_PORTS="80, 443, 30000-30100, 8000-8999"
U1_DESTS="192.168.1.240/28, 192.168.1.250"

# ---- helpers ----------------------------------------------------------------------------


jr() { journalctl --no-pager -q "$@"; }
# natwardend's entries as JSON, one object per line (--all: long fields too)
jr_json() { jr --all -o json -t natwardend "$@"; }
jr_count() { jr_json "$@" | jq -s length; }
jr_sync() { journalctl --sync 2>/dev/null; }

# jr_wait N MATCH...: wait (max 10 s) until at least N natwardend entries match.
jr_wait() {
	local n=$1
	shift
	for _ in $(seq 200); do
		jr_sync
		[ "$(jr_count "$@")" -ge "$n" ] && return 0
		sleep 0.05
	done
	return 1
}

# jr_once DESCRIPTION MATCH...: wait for the entry, let late duplicates arrive, expect one.
jr_once() {
	local desc=$1
	shift
	jr_wait 1 "$@"
	sleep 0.2
	jr_sync
	is "$(jr_count "$@")" 1 "$desc"
}

# jr_fields MATCH...: MESSAGE_ID, PRIORITY, SYSLOG_IDENTIFIER and every NATWARDEN_* field of
# the matching entries, KEY=VALUE sorted by key (a repeated field would show as a JSON array).
jr_fields() {
	jr_json "$@" | jq -r 'to_entries
		| map(select(.key | test("^(MESSAGE_ID|PRIORITY|SYSLOG_IDENTIFIER|NATWARDEN_.*)$")))
		| sort_by(.key) | .[] | "\(.key)=\(.value)"'
}

jr_field() { # jr_field FIELD MATCH...: that field of the matching entries, one per line
	local f=$1
	shift
	jr_json "$@" | jq -r --arg f "$f" '.[$f] // "<absent>"'
}

jr_dump() { # the whole journal of this test, for the record (kept with NW_KEEP=1)
	jr -o verbose --all >"$NW_T/journal.txt" 2>&1
}

# nw_start, but with stdout and stderr connected to the journal the way systemd does it for a
# service: a stream, and JOURNAL_STREAM=DEV:INODE naming it.
jr_start_streamed() {
	[ -S "${NW_NOTIFY:-/nonexistent}" ] || nw_notify_listen
	local before
	before=$(grep -c 'READY=1' "$NW_T/notify.log")
	# shellcheck disable=SC2016
	NOTIFY_SOCKET=$NW_NOTIFY systemd-cat --identifier=natwardend --level-prefix=true \
		ip netns exec "$NW_NS" bash -c \
		'export JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) && exec "$@"' bash \
		"$NW_DAEMON" --config "$NW_T/policy.ini" &
	NW_DPID=$!
	NW_PIDS+=("$NW_DPID")
	nw_wait_alive "$NW_DPID" 200 0.05 nw_readied "$before" && return 0
	echo "# natwardend (stderr to the journal) did not become ready"
	return 1
}

# ==== 1. no journald: the events go to stderr with "<N>" level prefixes =====================
check "no journal socket in the namespace yet" test ! -e "$JSOCK"
nw_start || { not_ok "daemon starts without journald"; exit 1; }
ok "daemon starts without journald"
printf 'dnat tcp 8001 to 192.168.1.242\n' | nw_submit "$U1" plain >/dev/null
is "$?" 0 "accepted without journald"
printf 'dnat tcp 7070 to 192.168.1.240\n' | nw_submit "$U1" plain-bad >/dev/null
is "$?" 1 "rejected without journald"
nw_withdraw "$U1" plain >/dev/null
is "$?" 0 "withdrawn without journald"
nw_stop
log=$(cat "$NW_T/daemon.log")
is "$(grep -cFx "<5>accepted $U1's fragment 'plain': dnat tcp 8001 to 192.168.1.242" <<<"$log")" 1 \
	"stderr: <5>accepted, once, with the mappings"
is "$(grep -cFx "<4>rejected $U1's fragment 'plain-bad': plain-bad:1: port 7070 is not allowed for $U1 (allowed: $U1_PORTS)" <<<"$log")" 1 \
	"stderr: <4>rejected, once, with FRAGMENT:LINE: reason"
is "$(grep -cFx "<5>withdrawn $U1's fragment 'plain'" <<<"$log")" 1 "stderr: <5>withdrawn, once"
is "$(grep -c '^<6>started: ' <<<"$log")" 1 "stderr: <6>started, once"
is "$(grep -cFx "<6>stopped; table inet $NW_TABLE stays in the kernel" <<<"$log")" 1 "stderr: <6>stopped, once"
like "$(grep -v '^<[0-7]>' <<<"$log")" '^$' "every stderr line has a <N> level prefix"

# ==== 2. journald in this namespace ==========================================================
jr_start_journald || { not_ok "journald starts in the private namespaces"; exit 1; }
ok "journald starts in the private namespaces"
is "$(stat -c %a "$JSOCK")" 666 "the journal socket is 0666 (writable for the unprivileged daemon)"
is "$(ip netns exec "$NW_NS" stat -L -c %i "$JSOCK" 2>&1)" "$(stat -c %i "$JSOCK")" \
	"ip netns exec still sees this namespace's journal socket"
jr_install_catalog
is "$?:$(cat "$NW_T/catalog.log")" "0:" "journalctl --update-catalog takes systemd/natwarden.catalog without a complaint"

# ==== 3. the events, with journald ===========================================================
JR_LOG0=$(wc -l <"$NW_T/daemon.log")
nw_start || { not_ok "daemon starts with journald"; exit 1; }
ok "daemon starts with journald"
D1=$NW_DPID

# --- started
jr_once "started: one entry" MESSAGE_ID=$MID_STARTED _PID="$D1"
is "$(jr_fields MESSAGE_ID=$MID_STARTED _PID="$D1")" "MESSAGE_ID=$MID_STARTED
NATWARDEN_MAPPINGS=0
NATWARDEN_TABLE=$NW_TABLE
PRIORITY=6
SYSLOG_IDENTIFIER=natwardend" "started: exact fields"
is "$(jr_field _UID MESSAGE_ID=$MID_STARTED _PID="$D1")" "$DUID" \
	"started: sent as the daemon user (after the privilege drop)"
is "$(jr_field _TRANSPORT MESSAGE_ID=$MID_STARTED _PID="$D1")" journal "started: native journal protocol"

# --- accepted
out=$(printf 'dnat tcp 80 to 192.168.1.240\ndnat tcp 443 to 192.168.1.240:8443\nmasquerade 192.168.1.240\n' |
	nw_submit "$U1" web)
is "$?" 0 "web: accepted"
WEB_MAPS="dnat tcp 80 to 192.168.1.240; dnat tcp 443 to 192.168.1.240:8443; masquerade 192.168.1.240"
jr_once "accepted: one entry" MESSAGE_ID=$MID_ACCEPTED NATWARDEN_FRAGMENT=web
is "$(jr_fields MESSAGE_ID=$MID_ACCEPTED NATWARDEN_FRAGMENT=web)" "MESSAGE_ID=$MID_ACCEPTED
NATWARDEN_EXPIRES=0
NATWARDEN_FRAGMENT=web
NATWARDEN_MAPPINGS=$WEB_MAPS
NATWARDEN_UID=$UID1
NATWARDEN_USER=$U1
NATWARDEN_VERDICT=accepted
PRIORITY=5
SYSLOG_IDENTIFIER=natwardend" "accepted: exact fields (user, numeric uid, fragment, verdict, mappings, no lease)"
is "$(jr_field MESSAGE MESSAGE_ID=$MID_ACCEPTED NATWARDEN_FRAGMENT=web)" \
	"accepted $U1's fragment 'web': $WEB_MAPS" "accepted: MESSAGE"

# --- rejected, two reasons
out=$(printf 'dnat tcp 7070 to 192.168.1.240\ndnat tcp 8001 to 10.0.0.1\n' | nw_submit "$U1" bad)
is "$?" 1 "bad: rejected"
R1="bad:1: port 7070 is not allowed for $U1 (allowed: $U1_PORTS)"
R2="bad:2: destination 10.0.0.1 is outside $U1's destinations ($U1_DESTS)"
jr_once "rejected: one entry" MESSAGE_ID=$MID_REJECTED NATWARDEN_FRAGMENT=bad
reason=$(jr_field NATWARDEN_REASON MESSAGE_ID=$MID_REJECTED NATWARDEN_FRAGMENT=bad)
check "rejected: NATWARDEN_REASON has reason 1 as FRAGMENT:LINE: text" grep -qF -- "$R1" <<<"$reason"
check "rejected: NATWARDEN_REASON has reason 2 as FRAGMENT:LINE: text" grep -qF -- "$R2" <<<"$reason"
is "$(jr_fields MESSAGE_ID=$MID_REJECTED NATWARDEN_FRAGMENT=bad | grep -v '^NATWARDEN_REASON=')" \
	"MESSAGE_ID=$MID_REJECTED
NATWARDEN_FRAGMENT=bad
NATWARDEN_UID=$UID1
NATWARDEN_USER=$U1
NATWARDEN_VERDICT=rejected
PRIORITY=4
SYSLOG_IDENTIFIER=natwardend" "rejected: exact fields besides the reason (no mappings, no expiry)"
is "$(printf '%s\n' "$out" | grep -F "bad:" | grep -v ': rejected$' | sort)" \
	"$(printf '%s\n%s\n' "$R1" "$R2" | sort)" "the submitter was told exactly these two reasons"

# --- renewal
printf 'dnat tcp 8080 to 192.168.1.241\nlease 600\n' | nw_submit "$U1" leased >/dev/null
is "$?" 0 "leased: accepted"
jr_wait 1 MESSAGE_ID=$MID_ACCEPTED NATWARDEN_FRAGMENT=leased
t0=$(date +%s)
out=$(printf 'dnat tcp 8080 to 192.168.1.241\nlease 600\n' | nw_submit "$U1" leased)
like "$out" "lease renewed" "leased: identical resubmission renews the lease"
t1=$(date +%s)
jr_wait 2 MESSAGE_ID=$MID_ACCEPTED NATWARDEN_FRAGMENT=leased
sleep 0.2
jr_sync
is "$(jr_count MESSAGE_ID=$MID_ACCEPTED NATWARDEN_FRAGMENT=leased)" 2 "leased: two accepted entries, first and renewal"
is "$(jr_count MESSAGE_ID=$MID_ACCEPTED NATWARDEN_FRAGMENT=leased NATWARDEN_RENEWED=yes)" 1 \
	"leased: exactly one of them says NATWARDEN_RENEWED=yes"
expires=$(jr_field NATWARDEN_EXPIRES MESSAGE_ID=$MID_ACCEPTED NATWARDEN_RENEWED=yes)
if [ "$expires" -ge $((t0 + 600)) ] 2>/dev/null && [ "$expires" -le $((t1 + 601)) ]; then
	ok "renewal: NATWARDEN_EXPIRES is the new end of the lease in epoch seconds"
else
	not_ok "renewal: NATWARDEN_EXPIRES is the new end of the lease in epoch seconds"
	echo "#   got $expires, want $((t0 + 600))..$((t1 + 601))"
fi
is "$(jr_fields MESSAGE_ID=$MID_ACCEPTED NATWARDEN_RENEWED=yes | sed 's/^NATWARDEN_EXPIRES=[0-9]*$/NATWARDEN_EXPIRES=<end>/')" \
	"MESSAGE_ID=$MID_ACCEPTED
NATWARDEN_EXPIRES=<end>
NATWARDEN_FRAGMENT=leased
NATWARDEN_MAPPINGS=dnat tcp 8080 to 192.168.1.241
NATWARDEN_RENEWED=yes
NATWARDEN_UID=$UID1
NATWARDEN_USER=$U1
NATWARDEN_VERDICT=accepted
PRIORITY=5
SYSLOG_IDENTIFIER=natwardend" "renewal: exact fields (the lease line is not a mapping)"
is "$(jr_field NATWARDEN_RENEWED MESSAGE_ID=$MID_ACCEPTED NATWARDEN_FRAGMENT=leased | sort | tr '\n' ' ')" \
	"<absent> yes " "the first acceptance has no NATWARDEN_RENEWED"

# --- withdrawal
nw_withdraw "$U1" leased >/dev/null
is "$?" 0 "leased: withdrawn"
jr_once "withdrawn: one entry" MESSAGE_ID=$MID_WITHDRAWN NATWARDEN_FRAGMENT=leased
is "$(jr_fields MESSAGE_ID=$MID_WITHDRAWN NATWARDEN_FRAGMENT=leased)" "MESSAGE_ID=$MID_WITHDRAWN
NATWARDEN_FRAGMENT=leased
NATWARDEN_MAPPINGS=dnat tcp 8080 to 192.168.1.241
NATWARDEN_UID=$UID1
NATWARDEN_USER=$U1
NATWARDEN_VERDICT=withdrawn
PRIORITY=5
SYSLOG_IDENTIFIER=natwardend" "withdrawn: exact fields"

# --- lease expiry
printf 'dnat tcp 9000 to 192.168.2.10\nlease 1\n' | nw_submit "$U2" short >/dev/null
is "$?" 0 "short (lease 1): accepted"
jr_once "expired: one entry" MESSAGE_ID=$MID_EXPIRED NATWARDEN_FRAGMENT=short
is "$(jr_fields MESSAGE_ID=$MID_EXPIRED NATWARDEN_FRAGMENT=short)" "MESSAGE_ID=$MID_EXPIRED
NATWARDEN_FRAGMENT=short
NATWARDEN_MAPPINGS=dnat tcp 9000 to 192.168.2.10
NATWARDEN_UID=$UID2
NATWARDEN_USER=$U2
NATWARDEN_VERDICT=expired
PRIORITY=5
SYSLOG_IDENTIFIER=natwardend" "expired: exact fields"
acc=$(jr_field __REALTIME_TIMESTAMP MESSAGE_ID=$MID_ACCEPTED NATWARDEN_FRAGMENT=short)
exp=$(jr_field __REALTIME_TIMESTAMP MESSAGE_ID=$MID_EXPIRED NATWARDEN_FRAGMENT=short)
d=$(((exp - acc) / 1000))
if [ "$d" -ge 900 ] && [ "$d" -le 3000 ]; then ok "expired about 1 s after it was accepted ($d ms)"; else
	not_ok "expired about 1 s after it was accepted ($d ms)"; fi
check "the expired forward is gone from the kernel" bash -c "! ip netns exec $NW_NS nft list map inet $NW_TABLE dnat_port | grep -q 'tcp . 9000'"

# --- a reload that revokes a fragment
printf 'dnat tcp 8080 to 192.168.2.20\n' | nw_submit "$U2" web2 >/dev/null
is "$?" 0 "web2: accepted"
jr_wait 1 MESSAGE_ID=$MID_ACCEPTED NATWARDEN_FRAGMENT=web2
sed -i "s/^ports = 80, 8080, 9000-9999$/ports = 9000-9999/" "$NW_T/policy.ini"
kill -HUP "$D1"
jr_once "reloaded: one entry" MESSAGE_ID=$MID_RELOADED
is "$(jr_fields MESSAGE_ID=$MID_RELOADED)" "MESSAGE_ID=$MID_RELOADED
NATWARDEN_FRAGMENTS=1
NATWARDEN_POLICY=$NW_T/policy.ini
NATWARDEN_REVOKED=1
PRIORITY=5
SYSLOG_IDENTIFIER=natwardend" "reloaded: exact fields (policy, still active, revoked)"
jr_once "revoked: one entry" MESSAGE_ID=$MID_REVOKED NATWARDEN_FRAGMENT=web2
is "$(jr_fields MESSAGE_ID=$MID_REVOKED NATWARDEN_FRAGMENT=web2 | grep -v '^NATWARDEN_UID=')" "MESSAGE_ID=$MID_REVOKED
NATWARDEN_FRAGMENT=web2
NATWARDEN_REASON=web2:1: port 8080 is not allowed for $U2 (allowed: 9000-9999)
NATWARDEN_USER=$U2
NATWARDEN_VERDICT=revoked
PRIORITY=4
SYSLOG_IDENTIFIER=natwardend" "revoked: exact fields, the reason as FRAGMENT:LINE: text"
is "$(jr_field NATWARDEN_UID MESSAGE_ID=$MID_REVOKED NATWARDEN_FRAGMENT=web2)" "$UID2" \
	"revoked: NATWARDEN_UID like every other verdict"
is "$(jr -o json MESSAGE_ID=$MID_REVOKED + MESSAGE_ID=$MID_RELOADED | jq -r .MESSAGE_ID | tr '\n' ' ')" \
	"$MID_REVOKED $MID_RELOADED " "the revocation is logged before the reload summary"
check "the revoked forward is gone from the kernel" bash -c "! ip netns exec $NW_NS nft list map inet $NW_TABLE dnat_port | grep -q 'tcp . 8080'"

# --- a reload that fails
cp "$NW_T/policy.ini" "$NW_T/policy.good"
printf 'bogus = 1\ncolour = blue\n' >>"$NW_T/policy.ini"
L1=$(grep -n '^bogus = 1$' "$NW_T/policy.ini" | cut -d: -f1)
L2=$((L1 + 1))
F1="$NW_T/policy.ini:$L1: unknown key 'bogus' in [submitter $U2]"
F2="$NW_T/policy.ini:$L2: unknown key 'colour' in [submitter $U2]"
kill -HUP "$D1"
jr_once "reload failed: one entry" MESSAGE_ID=$MID_RELOAD_FAILED
is "$(jr_fields MESSAGE_ID=$MID_RELOAD_FAILED | grep -v '^NATWARDEN_REASON=')" "MESSAGE_ID=$MID_RELOAD_FAILED
NATWARDEN_POLICY=$NW_T/policy.ini
PRIORITY=3
SYSLOG_IDENTIFIER=natwardend" "reload failed: exact fields besides the reason"
reason=$(jr_field NATWARDEN_REASON MESSAGE_ID=$MID_RELOAD_FAILED)
check "reload failed: NATWARDEN_REASON has the first finding as FILE:LINE: text" grep -qF -- "$F1" <<<"$reason"
is "$(grep -cF -- "$F2" <<<"$reason")" 1 "reload failed: NATWARDEN_REASON has every finding"
is "$(jr_count MESSAGE_ID=$MID_RELOADED)" 1 "a failed reload logs no 'reloaded' entry"
cp "$NW_T/policy.good" "$NW_T/policy.ini"

# --- flush recovery
ip netns exec "$NW_NS" nft flush ruleset
jr_once "recovered: one entry for one flush" MESSAGE_ID=$MID_RECOVERED
ms=$(jr_field NATWARDEN_RESTORE_MS MESSAGE_ID=$MID_RECOVERED)
like "$ms" '^[0-9]+\.[0-9]{3}$' "recovered: NATWARDEN_RESTORE_MS is milliseconds"
is "$(jr_fields MESSAGE_ID=$MID_RECOVERED | sed 's/^NATWARDEN_RESTORE_MS=.*/NATWARDEN_RESTORE_MS=<ms>/')" \
	"MESSAGE_ID=$MID_RECOVERED
NATWARDEN_MAPPINGS=3
NATWARDEN_RESTORE_MS=<ms>
NATWARDEN_TABLE=$NW_TABLE
PRIORITY=4
SYSLOG_IDENTIFIER=natwardend" "recovered: exact fields (table, mappings, time)"
is "$(nw_kernel)" "masq tcp 443
masq tcp 80
tcp 443 192.168.1.240:8443
tcp 80 192.168.1.240:80" "the kernel holds web's forwards again"

# --- a fatal start error: a second daemon whose [daemon] user does not exist
sed "s/^user = $NW_DUSER\$/user = nwnouser$NW_ID/" "$NW_T/policy.ini" >"$NW_T/policy-fatal.ini"
chmod 0644 "$NW_T/policy-fatal.ini"
timeout 30 ip netns exec "$NW_NS" "$NW_DAEMON" --config "$NW_T/policy-fatal.ini" 2>"$NW_T/fatal.log"
is "$?" 1 "a daemon with a missing [daemon] user exits 1"
cat "$NW_T/fatal.log" >>"$NW_T/daemon.log" # for lib.sh's sanitizer check
FATAL="fatal: [daemon] user 'nwnouser$NW_ID' does not exist (see sysusers.d/natwarden.conf)"
jr_once "fatal: one entry" MESSAGE_ID=$MID_FATAL
is "$(jr_fields MESSAGE_ID=$MID_FATAL)" "MESSAGE_ID=$MID_FATAL
NATWARDEN_ERRNO=2
PRIORITY=2
SYSLOG_IDENTIFIER=natwardend" "fatal: exact fields (errno ENOENT)"
is "$(jr_field MESSAGE MESSAGE_ID=$MID_FATAL)" "$FATAL" "fatal: MESSAGE says why"
is "$(grep -cFx "<2>$FATAL" "$NW_T/fatal.log")" 1 "fatal: also once on its stderr, as <2>"
check "the running daemon is unaffected" nw_alive

# --- stop
nw_stop
jr_once "stopped: one entry" MESSAGE_ID=$MID_STOPPED _PID="$D1"
is "$(jr_fields MESSAGE_ID=$MID_STOPPED _PID="$D1")" "MESSAGE_ID=$MID_STOPPED
NATWARDEN_TABLE=$NW_TABLE
PRIORITY=6
SYSLOG_IDENTIFIER=natwardend" "stopped: exact fields"
# the router namespace has no wan0: the daemon said once, at start, that it waits for it
is "$(jr_fields MESSAGE_ID=$MID_WAN _PID="$D1")" "MESSAGE_ID=$MID_WAN
NATWARDEN_WAN_ADDRESS=203.0.113.7
NATWARDEN_WAN_INTERFACE=wan0
NATWARDEN_WAN_STATE=missing
PRIORITY=4
SYSLOG_IDENTIFIER=natwardend" "WAN interface missing: exact fields, once"
is "$(jr_field MESSAGE MESSAGE_ID=$MID_WAN _PID="$D1")" \
	"WAN interface wan0 does not exist (yet): waiting for it; forwards from the WAN start when it appears" \
	"WAN interface missing: MESSAGE says the daemon waits"

# ==== 4. the journal as a whole =================================================================
jr_sync
sleep 0.2
jr_sync
jr_dump
# Every event of this run, exactly once: kind, verdict, user, fragment.
names='{"'$MID_ACCEPTED'":"accepted","'$MID_REJECTED'":"rejected","'$MID_WITHDRAWN'":"withdrawn",
	"'$MID_EXPIRED'":"expired","'$MID_REVOKED'":"revoked","'$MID_RELOADED'":"reloaded",
	"'$MID_RELOAD_FAILED'":"reload-failed","'$MID_RECOVERED'":"recovered","'$MID_FATAL'":"fatal",
	"'$MID_STARTED'":"started","'$MID_STOPPED'":"stopped","'$MID_WAN'":"wan"}'
got=$(jr_json | jq -r --argjson n "$names" \
	'"\($n[.MESSAGE_ID // ""] // "NO-MESSAGE-ID") \(.NATWARDEN_VERDICT // "-") \(.NATWARDEN_USER // "-") \(.NATWARDEN_FRAGMENT // "-")\(if .NATWARDEN_RENEWED then " renewed" else "" end)"')
is "$got" "wan - - -
started - - -
accepted accepted $U1 web
rejected rejected $U1 bad
accepted accepted $U1 leased
accepted accepted $U1 leased renewed
withdrawn withdrawn $U1 leased
accepted accepted $U2 short
expired expired $U2 short
accepted accepted $U2 web2
revoked revoked $U2 web2
reloaded - - -
reload-failed - - -
recovered - - -
fatal - - -
stopped - - -" "every event is in the journal exactly once, in order, each with a MESSAGE_ID"
is "$(jr_json | jq -r ._TRANSPORT | sort -u)" journal "all of them through the native protocol (none from stderr)"
# stderr is not the journal here, so each event is also on stderr, once, at the same level
missing=$(jr_json | jq -r '"<\(.PRIORITY)>\(.MESSAGE)"' | while IFS= read -r line; do
	[ "$(tail -n +"$((JR_LOG0 + 1))" "$NW_T/daemon.log" | grep -cFx -- "$line")" = 1 ] || echo "$line"
done)
is "$missing" "" "each journal entry is also once on stderr as <PRIORITY>MESSAGE"
is "$(jr_json | jq -r 'select(.MESSAGE_ID != "'$MID_FATAL'") | ._UID' | sort -u)" "$DUID" \
	"the daemon sent them all as its unprivileged user"

# "Who opened which port when": the audit question, by user, with journalctl alone.
is "$(jr -o cat NATWARDEN_USER="$U1")" "accepted $U1's fragment 'web': $WEB_MAPS
rejected $U1's fragment 'bad': $R1; $R2
accepted $U1's fragment 'leased': dnat tcp 8080 to 192.168.1.241
accepted $U1's fragment 'leased' (lease renewed): dnat tcp 8080 to 192.168.1.241
withdrawn $U1's fragment 'leased'" "journalctl NATWARDEN_USER=$U1: that user's whole story"
is "$(jr -o cat NATWARDEN_USER="$U2")" "accepted $U2's fragment 'short': dnat tcp 9000 to 192.168.2.10
expired $U2's fragment 'short'
accepted $U2's fragment 'web2': dnat tcp 8080 to 192.168.2.20
revoked $U2's fragment 'web2' after a policy change: web2:1: port 8080 is not allowed for $U2 (allowed: 9000-9999)" \
	"journalctl NATWARDEN_USER=$U2: that user's whole story"
opened=$(jr -o json NATWARDEN_UID="$UID1" NATWARDEN_VERDICT=accepted |
	jq -r '"\(.__REALTIME_TIMESTAMP|tonumber/1000000|floor|todate) \(.NATWARDEN_USER) \(.NATWARDEN_FRAGMENT): \(.NATWARDEN_MAPPINGS)"')
like "$opened" "^20[0-9-]+T[0-9:]+Z $U1 web: dnat tcp 80 to 192.168.1.240; " \
	"by uid: when, who, which fragment, which ports (accepted entries)"
is "$(wc -l <<<"$opened")" 3 "by uid: three acceptances of $U1"

# The catalog: journalctl -x explains an accepted and a rejected entry with the values in.
x=$(jr -x -o short -t natwardend MESSAGE_ID=$MID_ACCEPTED NATWARDEN_FRAGMENT=web)
like "$x" "Subject: natwarden accepted fragment web of $U1\$" "-x accepted: Subject with fragment and user"
like "$x" "User $U1 \(uid $UID1\) submitted the fragment\$" "-x accepted: user and uid in the text"
like "$x" "forwards are now live in the kernel: dnat tcp 80 to 192\.168\.1\.240; dnat tcp 443 to 192\.168\.1\.240:8443; masquerade 192\.168\.1\.240\$" \
	"-x accepted: the mappings in the text"
like "$x" "Documentation: man:natwardend\(8\)" "-x accepted: Documentation"
x=$(jr -x -o short -t natwardend MESSAGE_ID=$MID_REJECTED NATWARDEN_FRAGMENT=bad)
like "$x" "Subject: natwarden rejected fragment bad of $U1\$" "-x rejected: Subject with fragment and user"
xtext=$(grep '^░░' <<<"$x") # the explanation, without the log line itself
check "-x rejected: reason 1 in the explanation" grep -qF -- "$R1" <<<"$xtext"
check "-x rejected: reason 2 in the explanation" grep -qF -- "$R2" <<<"$xtext"
like "$x" "change the \[submitter $U1\] section" "-x rejected: the user in the advice"
# journalctl prints a field the entry lacks as its bare name: none may be left in the text
# (the accepted explanation names two fields on purpose).
is "$(jr -x -t natwardend | grep '^░░' | sed 's/NATWARDEN_RENEWED=yes means\|NATWARDEN_EXPIRES is the//' |
	grep -E 'NATWARDEN_|@')" "" "-x: every @FIELD@ the catalog uses is in every entry it explains"

# ==== 5. start-up verdicts, and stderr connected to the journal (as under systemd) ==========
# A fragment whose lease runs out while the daemon is down, and one that a policy changed
# while it was down revokes: both are judged at start-up.
nw_start || { not_ok "daemon starts again"; exit 1; }
printf 'dnat tcp 8003 to 192.168.1.244\nlease 3\n' | nw_submit "$U1" brief >/dev/null
is "$?" 0 "brief (lease 3): accepted"
t_brief=$(nw_ms)
nw_stop
sed -i "s/^ports = 80, 443, 30000-30100, 8000-8999\$/ports = 80, 30000-30100, 8000-8999/" "$NW_T/policy.ini"
U1_PORTS="80, 30000-30100, 8000-8999"
left=$((t_brief + 3300 - $(nw_ms)))
[ "$left" -gt 0 ] && sleep "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))"

jr_start_streamed || { not_ok "daemon starts with stderr to the journal"; exit 1; }
ok "daemon starts with stderr to the journal (JOURNAL_STREAM set)"
D2=$NW_DPID
jr_once "start-up: the lease that ran out while down: one expired entry" MESSAGE_ID=$MID_EXPIRED NATWARDEN_FRAGMENT=brief
is "$(jr_fields MESSAGE_ID=$MID_EXPIRED NATWARDEN_FRAGMENT=brief | grep -v '^NATWARDEN_UID=')" "MESSAGE_ID=$MID_EXPIRED
NATWARDEN_FRAGMENT=brief
NATWARDEN_USER=$U1
NATWARDEN_VERDICT=expired
PRIORITY=5
SYSLOG_IDENTIFIER=natwardend" "start-up expired: exact fields"
is "$(jr_field MESSAGE MESSAGE_ID=$MID_EXPIRED NATWARDEN_FRAGMENT=brief)" \
	"expired $U1's fragment 'brief' while the daemon was down" "start-up expired: MESSAGE"
jr_once "start-up: the fragment the new policy forbids: one revoked entry" MESSAGE_ID=$MID_REVOKED NATWARDEN_FRAGMENT=web
is "$(jr_fields MESSAGE_ID=$MID_REVOKED NATWARDEN_FRAGMENT=web | grep -v '^NATWARDEN_UID=')" "MESSAGE_ID=$MID_REVOKED
NATWARDEN_FRAGMENT=web
NATWARDEN_REASON=web:2: port 443 is not allowed for $U1 (allowed: $U1_PORTS)
NATWARDEN_USER=$U1
NATWARDEN_VERDICT=revoked
PRIORITY=4
SYSLOG_IDENTIFIER=natwardend" "start-up revoked: exact fields, the reason as FRAGMENT:LINE: text"
is "$(jr_field NATWARDEN_UID MESSAGE_ID=$MID_EXPIRED NATWARDEN_FRAGMENT=brief) $(jr_field NATWARDEN_UID MESSAGE_ID=$MID_REVOKED NATWARDEN_FRAGMENT=web)" \
	"$UID1 $UID1" "start-up expired and revoked: NATWARDEN_UID"

printf 'dnat tcp 8002 to 192.168.1.243\n' | nw_submit "$U1" streamed >/dev/null
is "$?" 0 "streamed: accepted"
nw_withdraw "$U1" streamed >/dev/null
is "$?" 0 "streamed: withdrawn"

# a group member who is not a submitter has no spool directory: the client refuses it
# locally, saying why, and nothing reaches the daemon (its journal is checked at the end,
# after the later events have arrived)
UID3=$(id -u "$NW_U3")
out=$(printf 'dnat tcp 80 to 192.168.1.240\n' | nw_submit "$NW_U3" intruder 2>&1)
is "$?" 2 "intruder ($NW_U3, no [submitter]): the client refuses it (exit 2)"
is "$out" "natwarden: there is no spool directory for you ($NW_T/spool/incoming/$UID3): natwardend makes one for each [submitter] in policy.ini; is $NW_U3 one, and has natwardend started since?" \
	"intruder: the client says why"
check "intruder: $NW_U3 has no spool directory" test ! -e "$NW_T/spool/incoming/$UID3"

# long fields: every mapping of a 60-statement fragment, every reason of a 20-line rejection
frag=$(for p in $(seq 30000 30059); do echo "dnat tcp $p to 192.168.1.240"; done)
printf '%s\n' "$frag" | nw_submit "$U1" big >/dev/null
is "$?" 0 "big (60 statements): accepted"
jr_once "big: one accepted entry" MESSAGE_ID=$MID_ACCEPTED NATWARDEN_FRAGMENT=big
maps=$(jr_field NATWARDEN_MAPPINGS MESSAGE_ID=$MID_ACCEPTED NATWARDEN_FRAGMENT=big)
check "big: NATWARDEN_MAPPINGS starts with the first mapping" grep -q '^dnat tcp 30000 to 192.168.1.240; ' <<<"$maps"
is "$(printf '%s\n' "${maps//; /$'\n'}" | grep -cx 'dnat tcp [0-9]* to 192\.168\.1\.240')" 60 \
	"big: NATWARDEN_MAPPINGS lists all 60 mappings (${#maps} bytes logged)"
frag=$(for p in $(seq 7010 7029); do echo "dnat tcp $p to 192.168.1.240"; done)
printf '%s\n' "$frag" | nw_submit "$U1" many >/dev/null
is "$?" 1 "many (20 bad lines): rejected"
jr_once "many: one rejected entry" MESSAGE_ID=$MID_REJECTED NATWARDEN_FRAGMENT=many
reason=$(jr_field NATWARDEN_REASON MESSAGE_ID=$MID_REJECTED NATWARDEN_FRAGMENT=many)
check "many: NATWARDEN_REASON starts with the first reason" grep -qF -- \
	"many:1: port 7010 is not allowed for $U1 (allowed: $U1_PORTS)" <<<"$reason"
is "$(grep -cF "many:20: port 7029 is not allowed for $U1 (allowed: $U1_PORTS)" <<<"$reason")" 1 \
	"many: NATWARDEN_REASON has all 20 reasons (${#reason} bytes logged)"
nw_stop
jr_wait 1 MESSAGE_ID=$MID_STOPPED _PID="$D2"

# a fatal error with stderr to the journal too: an unusable policy
printf 'bogus\n' >"$NW_T/policy-broken.ini"
chmod 0644 "$NW_T/policy-broken.ini"
# shellcheck disable=SC2016
timeout 30 systemd-cat --identifier=natwardend --level-prefix=true ip netns exec "$NW_NS" bash -c \
	'export JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) && exec "$@"' bash \
	"$NW_DAEMON" --config "$NW_T/policy-broken.ini"
is "$?" 1 "a daemon with an unusable policy exits 1"
jr_wait 2 MESSAGE_ID=$MID_FATAL
D3=$(jr_json MESSAGE_ID=$MID_FATAL | tail -n 1 | jq -r ._PID)
is "$(jr_fields MESSAGE_ID=$MID_FATAL _PID="$D3")" "MESSAGE_ID=$MID_FATAL
NATWARDEN_ERRNO=22
PRIORITY=2
SYSLOG_IDENTIFIER=natwardend" "fatal (unusable policy): exact fields (errno EINVAL)"
like "$(jr_json _PID="$D3" _TRANSPORT=stdout | jq -r '"\(.PRIORITY) \(.MESSAGE)"')" \
	"^3 $NW_T/policy-broken.ini:1: " "fatal (unusable policy): the findings reach the journal through stderr, as errors"

# no duplicates: each event once, natively; nothing of them through the stream
sleep 0.2
jr_sync
jr_dump
got=$(jr_json _PID="$D2" _TRANSPORT=journal | jq -r --argjson n "$names" \
	'"\($n[.MESSAGE_ID // ""] // "NO-MESSAGE-ID") \(.NATWARDEN_FRAGMENT // "-")"' | sort)
is "$got" "$(sort <<-EOT
	wan -
	started -
	revoked web
	expired brief
	accepted streamed
	withdrawn streamed
	accepted big
	rejected many
	stopped -
	EOT
)" "stderr to the journal: every event once, natively"
is "$(jr_count NATWARDEN_UID="$UID3") $(jr_json | grep -c -e "$NW_U3" -e intruder)" "0 0" \
	"intruder: no natwardend entry names $NW_U3, its uid or its fragment"
dups=$(jr_json _PID="$D2" + _PID="$D3" | jq -s -r '
	(map(select(._TRANSPORT == "journal") | .MESSAGE)) as $native |
	map(select(._TRANSPORT == "stdout" and (.MESSAGE as $m | $native | index([$m]))) | .MESSAGE) | .[]')
is "$dups" "" "stderr to the journal: no event also came through the stderr stream"
is "$(jr_json _PID="$D3" _TRANSPORT=journal | jq -s length)" 1 "stderr to the journal: the fatal error once, natively"
like "$(jr_json _PID="$D2" _TRANSPORT=stdout | jq -r '"\(.PRIORITY) \(.MESSAGE)"')" \
	"^6 table inet $NW_TABLE installed with " "plain messages arrive through the stream, '<6>' parsed as PRIORITY=6"
is "$(jr_json _PID="$D2" + _PID="$D3" | jq -r .MESSAGE | grep -Ec 'Sanitizer|runtime error')" 0 \
	"no sanitizer report in the streamed stderr"
if [ -n "${NW_KEEP:-}" ]; then jr -x -t natwardend >"$NW_T/journal-x.txt"; fi
exit 0
