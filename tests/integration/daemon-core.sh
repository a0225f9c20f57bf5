#!/bin/bash
# SPDX-License-Identifier: MIT
# natwardend core, against the real kernel in a private network namespace: verdicts for
# every reason, replace, withdraw, conflicts between users, renewals that leave the kernel
# alone, incremental changes, the status file, the saved state and a restart.
. "$(dirname "$0")/lib.sh"
nw_init
nw_setup
nw_start || { not_ok "daemon starts"; exit 1; }
ok "daemon starts and says READY=1"

is "$(nw_kernel)" "" "the table starts empty"
is "$(nw_rule_count)" 10 "ten constant rules (hairpin on)"

# --- accept
out=$(printf 'dnat tcp 80 to 192.168.1.240\ndnat tcp 443 to 192.168.1.240:8443\ndnat udp 30000-30010 to 192.168.1.241\nmasquerade 192.168.1.240\n' |
	nw_submit "$NW_U1" ingress)
rc=$?
is "$rc" 0 "accepted fragment exits 0"
like "$out" "^ingress: accepted for $NW_U1" "client prints the verdict"
like "$out" "live: dnat tcp 443 to 192.168.1.240:8443" "client prints what is live"
is "$(nw_kernel)" "masq tcp 443
masq tcp 80
tcp 443 192.168.1.240:8443
tcp 80 192.168.1.240:80
udp 30000-30010 192.168.1.241" "the kernel holds exactly the fragment's forwards"

# --- each rejection reason, with its line; nothing reaches the kernel
before=$(nw_kernel)
reject() { # reject USER NAME FRAGMENT EXPECTED-LINE DESCRIPTION
	local out rc
	# shellcheck disable=SC2059 # FRAGMENT is written with printf's escapes (\n)
	out=$(printf "$3" | nw_submit "$1" "$2")
	rc=$?
	if [ "$rc" = 1 ] && printf '%s\n' "$out" | grep -Fqx -- "$4"; then
		ok "$5"
	else
		not_ok "$5"
		printf '%s\n' "$out" | sed 's/^/#   /'
		echo "#   rc=$rc, want line: $4"
	fi
}
reject "$NW_U1" r1 'dnat tcp 7070 to 192.168.1.240\n' \
	"r1:1: port 7070 is not allowed for $NW_U1 (allowed: 80, 443, 30000-30100, 8000-8999)" \
	"port outside the user's ports"
reject "$NW_U1" r2 '# first line\ndnat tcp 22 to 192.168.1.240\n' "r2:2: port 22 is not allowed for $NW_U1 (allowed: 80, 443, 30000-30100, 8000-8999)" \
	"reserved port: not allowed for the user"
reject "$NW_U1" r2 '# first line\ndnat tcp 22 to 192.168.1.240\n' "r2:2: port 22 is reserved" \
	"reserved port: reserved"
reject "$NW_U2" r3 'dnat udp 8080 to 192.168.2.10\n' "r3:1: protocol udp is not allowed for $NW_U2" \
	"protocol not allowed"
reject "$NW_U1" r4 'dnat tcp 8001 to 10.0.0.1\n' \
	"r4:1: destination 10.0.0.1 is outside $NW_U1's destinations (192.168.1.240/28, 192.168.1.250)" \
	"destination outside"
reject "$NW_U2" r5 'masquerade 192.168.2.0/24\n' "r5:1: masquerade is not allowed for $NW_U2" \
	"masquerade not allowed"
reject "$NW_U1" r6 'masquerade 192.168.1.0/24\n' \
	"r6:1: masquerade 192.168.1.0/24 is outside $NW_U1's destinations (192.168.1.240/28, 192.168.1.250)" \
	"masquerade outside destinations"
reject "$NW_U2" r7 'dnat tcp 80 to 192.168.2.10\n' \
	"r7:1: tcp port 80 is already forwarded by $NW_U1's fragment 'ingress'" \
	"conflict with another user's fragment names owner and fragment"
reject "$NW_U1" r8 'dnat tcp 80 to 192.168.1.241\n' \
	"r8:1: tcp port 80 is already forwarded by $NW_U1's fragment 'ingress'" \
	"conflict with the user's own other fragment"
reject "$NW_U1" r9 'dnat tcp 080 to 192.168.1.240\n' \
	"r9:1: '080' is not a port or port range: use a decimal number 1-65535 without sign or leading zeros" \
	"syntax errors are caught by the client before sending"
out=$(printf 'dnat tcp 80 to 192.168.1.240\n' | nw_submit "$NW_U3" r10 2>&1)
rc=$?
is "$rc" 2 "a group member without a [submitter] section cannot submit at all (exit 2)"
is "$out" "natwarden: there is no spool directory for you ($NW_T/spool/incoming/$(id -u "$NW_U3")): natwardend makes one for each [submitter] in policy.ini; is $NW_U3 one, and has natwardend started since?" \
	"... and the client says why: it has no spool directory, being no submitter"
is "$(nw_kernel)" "$before" "no rejection changed the kernel"

# --- quotas: max_fragments = 8 and max_rules = 64 (defaults of the test policy)
# --- replace: only the changed elements move (nft monitor sees exactly them)
ip netns exec "$NW_NS" nft monitor elements >"$NW_T/monitor.log" 2>&1 &
mon=$!
NW_PIDS+=("$mon")
sleep 0.3
out=$(printf 'dnat tcp 80 to 192.168.1.241\ndnat tcp 443 to 192.168.1.240:8443\ndnat udp 30000-30010 to 192.168.1.241\nmasquerade 192.168.1.240\n' |
	nw_submit "$NW_U1" ingress)
is "$?" 0 "replacing a fragment is accepted"
sleep 0.3
kill "$mon"
wait "$mon" 2>/dev/null
changes=$(grep -E '^(add|delete) element' "$NW_T/monitor.log" | sed 's/ *#.*//' | sort)
is "$changes" "add element inet $NW_TABLE dnat_port { tcp . 80 : 192.168.1.241 . 80 }
delete element inet $NW_TABLE dnat_port { tcp . 80 : 192.168.1.240 . 80 }
delete element inet $NW_TABLE masq_tcp { 80 }" \
	"the replacement changed only tcp/80: its forward, and its masquerade (.241 is outside it), nothing else touched"
is "$(nw_kernel)" "masq tcp 443
tcp 443 192.168.1.240:8443
tcp 80 192.168.1.241:80
udp 30000-30010 192.168.1.241" "kernel holds the new version"

# --- identical resubmission: the lease is renewed, the kernel is not touched
ip netns exec "$NW_NS" nft monitor >"$NW_T/monitor2.log" 2>&1 &
mon=$!
NW_PIDS+=("$mon")
sleep 0.3
printf 'dnat tcp 8080 to 192.168.1.240\nlease 600\n' | nw_submit "$NW_U1" leased >/dev/null
out=$(printf 'dnat tcp 8080 to 192.168.1.240\nlease 600\n' | nw_submit "$NW_U1" leased)
like "$out" "accepted for $NW_U1 \(unchanged, lease renewed\)" "identical resubmission renews the lease"
sleep 0.3
kill "$mon"
wait "$mon" 2>/dev/null
is "$(grep -c 'tcp . 8080' "$NW_T/monitor2.log")" 1 "the renewal sent nothing to the kernel (one add, from the first submission)"

# --- withdraw
out=$(nw_withdraw "$NW_U1" leased)
is "$?" 0 "withdraw exits 0"
like "$out" "^leased: withdrawn" "client says withdrawn"
check "tcp/8080 is gone from the kernel" bash -c "! ip netns exec $NW_NS nft list map inet $NW_TABLE dnat_port | grep -q 8080"
out=$(nw_withdraw "$NW_U1" never-existed)
is "$?" 0 "withdrawing a fragment that is not active is fine"

# --- status file
is "$(nw_status natwarden-status)" 1 "status file format version"
is "$(nw_status pid)" "$NW_DPID" "status names the daemon's pid"
is "$(nw_status fragments)" 1 "status counts fragments"
is "$(nw_status mappings)" 4 "status counts mappings"
is "$(awk -F'\t' '$1 == "dnat" { print $2, $3, $4, $5, $6, $7 }' "$NW_T/run/status" | sort)" \
	"$NW_U1 ingress tcp 443 192.168.1.240:8443 0
$NW_U1 ingress tcp 80 192.168.1.241:80 0
$NW_U1 ingress udp 30000-30010 192.168.1.241 0" "status lists every forward with owner and fragment"
is "$(stat -c '%a %U' "$NW_T/run/status")" "644 $NW_DUSER" "status file is 0644, owned by the daemon user"

# --- two users, and the saved state survives a restart with no moment without the table
printf 'dnat tcp 8080 to 192.168.2.20\n' | nw_submit "$NW_U2" web >/dev/null
is "$?" 0 "second user's fragment accepted"
# shellcheck disable=SC2012 # the names, as ls shows them
is "$(ls "$NW_T/state" | tr '\n' ' ')" "journal snapshot " "the state directory holds the snapshot and the journal"
is "$(stat -c '%a %U' "$NW_T/state/journal")" "600 $NW_DUSER" "the journal is the daemon user's, 0600"
is "$(grep -c "^commit " "$NW_T/state/journal")" 6 "one committed batch per change since the start (ingress, its replacement, leased, its renewal, its withdrawal, web)"
saved() { "$NW_DAEMON" --config "$NW_T/policy.ini" --check | sed -n 's/^saved state: //p'; }
is "$(saved)" "2 active fragments of 2 users, 5 mappings" "natwardend --check reads the saved state back"
before=$(nw_kernel)
( for _ in $(seq 400); do ip netns exec "$NW_NS" nft list table inet "$NW_TABLE" >/dev/null 2>&1 || echo gone; sleep 0.01; done ) >"$NW_T/probe.log" &
probe=$!
NW_PIDS+=("$probe")
nw_stop
is "$(nw_kernel)" "$before" "forwards stay in the kernel while the daemon is stopped"
nw_start || not_ok "daemon restarts"
wait "$probe"
is "$(nw_kernel)" "$before" "after a restart the kernel holds the saved state"
is "$(grep -c gone "$NW_T/probe.log")" 0 "the table never disappeared during stop and restart"
is "$(nw_status fragments)" 2 "restarted daemon knows both fragments"

# --- a policy change while stopped: revoked at start-up, with a reason
nw_stop
nw_policy
sed -i "s/^ports = 80, 8080, 9000-9999/ports = 9000-9999/" "$NW_T/policy.ini"
nw_start || not_ok "daemon starts with a narrower policy"
check "tcp/8080 of $NW_U2 was revoked at start-up" bash -c "! ip netns exec $NW_NS nft list map inet $NW_TABLE dnat_port | grep -q 'tcp . 8080'"
like "$(cat "$NW_T/daemon.log")" "revoked $NW_U2's fragment 'web' at start-up: web:1: port 8080 is not allowed" \
	"the revocation is logged with its reason"
is "$(saved)" "1 active fragments of 1 users, 4 mappings" "the revoked fragment is gone from the saved state"
is "$(grep -c '^commit ' "$NW_T/state/journal")" 0 "the start folded the journal into a new snapshot"

# --- no rule count growth, daemon alive
is "$(nw_rule_count)" 10 "still ten rules"
check "daemon still running" nw_alive
