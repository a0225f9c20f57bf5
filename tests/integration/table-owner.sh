#!/bin/bash
# SPDX-License-Identifier: MIT
# A table-name collision never destroys a foreign table. natwardend's table carries the comment
# "natwarden: managed by natwardend, do not edit"; a `table inet NAME` without exactly that mark
# is never replaced, restored over or deleted: at start-up (refuses to start), at a reload that
# names it (fails, the old policy and table stay), when someone swaps natwarden's table for one
# of their own (no restore over it, said in the log and the status file; restored once the name
# is free again), when a reload leaves a table that is no longer natwarden's (not deleted), and
# by `natwardend --remove`. Each time the foreign table is compared byte for byte, handles
# included (a table deleted and made again gets new handles).
# Everything runs in a network namespace made here; the host's ruleset is never touched.
# shellcheck disable=SC2119 # nw_start takes optional arguments; none here
. "$(dirname "$0")/lib.sh"
nw_init
nw_setup

MARK="natwarden: managed by natwardend, do not edit"
OTHER=nwx$NW_ID  # a name for the administrator's tables
THIRD=nwy$NW_ID  # a free name
FOURTH=nwz$NW_ID # another free name
FIRST=$NW_TABLE

# foreign NAME [COMMENT]: the administrator's table NAME, with a chain and a rule of theirs
foreign() {
	echo "table inet $1 {"
	[ -z "${2:-}" ] || printf '\tcomment "%s"\n' "$2"
	printf '\tchain input {\n'
	printf '\t\ttype filter hook input priority filter + 7; policy accept;\n'
	printf '\t\ttcp dport 4444 counter accept comment "the admin rule"\n'
	printf '\t}\n}\n'
}
# listing NAME: the table as the kernel has it, with handles
listing() { nw_nft -a list table inet "$1" 2>&1; }
no_table() { ! nw_nft list tables inet | grep -qx "table inet $1"; }
set_table() { sed -i "s/^table = .*/table = $1/" "$NW_T/policy.ini"; }
ours() { [ "$(nw_nft list table inet "$1" | sed -n 2p)" = "	comment \"$MARK\"" ]; }
log_since() { tail -n +"$(($1 + 1))" "$NW_T/daemon.log"; }
log_lines() { wc -l <"$NW_T/daemon.log" | tr -d ' '; }
readies() { grep -c 'READY=1' "$NW_T/notify.log"; }

# reload: SIGHUP, and wait (10 s at most) for the READY=1 that ends it
reload() {
	local n
	n=$(readies)
	kill -HUP "$NW_DPID"
	nw_wait_for 10 bash -c "[ \"\$(grep -c 'READY=1' '$NW_T/notify.log')\" -gt $n ]"
}

# refuses_to_start DESCRIPTION EXPECTED-LOG: natwardend does not become ready, exits 1, and
# its log holds exactly these lines
refuses_to_start() {
	local desc=$1 want=$2 n r rc
	n=$(log_lines)
	r=$(readies)
	nw_start >/dev/null
	wait "$NW_DPID"
	rc=$?
	NW_DPID=
	is "exit $rc, $(($(readies) - r)) READY" "exit 1, 0 READY" "$desc: natwardend exits 1 without READY=1"
	is "$(log_since "$n")" "$want" "$desc: the log says why"
}

not_ours_why() {
	echo "table inet $1 exists and is not natwarden's (it lacks natwarden's mark): natwardend never replaces or deletes a table it did not make; set another [daemon] table, or remove that table"
}
start_refused_log() {
	printf '<3>cannot install table inet %s: %s\n<2>fatal: cannot start: see the messages above' \
		"$1" "$(not_ours_why "$1")"
}

# ---- start-up with the administrator's table of that name --------------------------------

nw_notify_listen
: >"$NW_T/daemon.log"

foreign "$NW_TABLE" | nw_nft -f - || { not_ok "the administrator's table"; exit 1; }
before=$(listing "$NW_TABLE")
refuses_to_start "a table inet $NW_TABLE of the administrator's" "$(start_refused_log "$NW_TABLE")"
is "$(tail -n 1 "$NW_T/notify.log")" "STATUS=Failed: cannot start: see the messages above|ERRNO=17" \
	"systemd is told why"
is "$(listing "$NW_TABLE")" "$before" "the administrator's table is byte for byte unchanged, handles included"
nw_nft delete table inet "$NW_TABLE"

foreign "$NW_TABLE" "natwarden: managed by natwardend" | nw_nft -f - || not_ok "a lookalike table"
before=$(listing "$NW_TABLE")
refuses_to_start "a table with a comment like natwarden's, but not it" "$(start_refused_log "$NW_TABLE")"
is "$(listing "$NW_TABLE")" "$before" "the lookalike table is unchanged"
nw_nft delete table inet "$NW_TABLE"

foreign "$NW_TABLE" "$MARK, or so" | nw_nft -f - || not_ok "a table whose comment starts with the mark"
before=$(listing "$NW_TABLE")
refuses_to_start "a table whose comment starts with natwarden's mark" "$(start_refused_log "$NW_TABLE")"
is "$(listing "$NW_TABLE")" "$before" "that table is unchanged"
nw_nft delete table inet "$NW_TABLE"

# the same name in another family is no collision
printf 'table ip %s {\n\tchain c {\n\t\tip saddr 10.1.2.3 counter\n\t}\n}\n' "$NW_TABLE" | nw_nft -f -
before_ip=$(nw_nft -a list table ip "$NW_TABLE")
nw_start || { not_ok "daemon starts next to a table ip $NW_TABLE"; exit 1; }
ok "daemon starts next to a table ip $NW_TABLE (another family: no collision)"
check "its table inet $NW_TABLE carries natwarden's mark" ours "$NW_TABLE"
is "$(nw_nft -a list table ip "$NW_TABLE")" "$before_ip" "the table ip $NW_TABLE is unchanged"

printf 'dnat tcp 80 to 192.168.1.240\ndnat udp 30000-30010 to 192.168.1.241\n' | nw_submit "$NW_U1" ingress >/dev/null
printf 'dnat tcp 8080 to 192.168.2.9\n' | nw_submit "$NW_U2" web >/dev/null
want="tcp 80 192.168.1.240:80
tcp 8080 192.168.2.9:8080
udp 30000-30010 192.168.1.241"
is "$(nw_kernel)" "$want" "two fragments are live"

# ---- a reload that names the administrator's table ----------------------------------------

foreign "$OTHER" | nw_nft -f -
before=$(listing "$OTHER")
ours_before=$(listing "$NW_TABLE")
set_table "$OTHER"
n=$(log_lines)
reload || not_ok "the reload ends with READY=1"
is "$(log_since "$n")" "<3>$NW_T/policy.ini: $(not_ours_why "$OTHER")
<3>reload failed, the previous policy stays in force: $NW_T/policy.ini: $(not_ours_why "$OTHER")" \
	"reload to table = $OTHER (the administrator's): fails, and says why"
is "$(listing "$OTHER")" "$before" "the administrator's table $OTHER is unchanged"
is "$(listing "$NW_TABLE")" "$ours_before" "natwarden's table $NW_TABLE is unchanged, handles included"
is "$(nw_status table)" "inet $NW_TABLE" "the status file names the table still in use"
is "$(nw_status last_error)" "reload failed: $NW_T/policy.ini: $(not_ours_why "$OTHER")" \
	"the status file's last_error says why"
printf 'dnat tcp 443 to 192.168.1.240\n' | nw_submit "$NW_U1" tls >/dev/null
is "$?" 0 "the old policy is in force: a new fragment is accepted"
want="tcp 443 192.168.1.240:443
$want"
is "$(nw_kernel)" "$want" "... into $NW_TABLE"
is "$(listing "$OTHER")" "$before" "and $OTHER is still unchanged"

# A reload to a free name moves the forwards there and deletes natwarden's old table.
set_table "$THIRD"
reload || not_ok "the reload ends with READY=1"
is "$(tail -n 1 "$NW_T/daemon.log")" "<5>reloaded $NW_T/policy.ini: 3 fragments still active, 0 revoked" \
	"reload to table = $THIRD (free): succeeds"
check "$THIRD carries natwarden's mark" ours "$THIRD"
is "$(NW_TABLE=$THIRD nw_kernel)" "$want" "$THIRD holds the forwards"
check "natwarden's old table $NW_TABLE is gone" no_table "$NW_TABLE"

# ---- natwarden's table swapped for someone else's --------------------------------------------

n=$(log_lines)
{ echo "delete table inet $THIRD"; foreign "$THIRD"; } | nw_nft -f - ||
	not_ok "natwarden's table replaced by a foreign one in one transaction"
before=$(listing "$THIRD")
check "the daemon tried to restore and could not" nw_wait_for 10 bash -c "grep -q 'cannot restore' '$NW_T/daemon.log'"
sleep 3
is "$(log_since "$n" | sed 's/ by pid [0-9]* (nft)/ by pid PID (nft)/')" "<4>table inet $THIRD was deleted by pid PID (nft): restoring it
<3>cannot restore table inet $THIRD (attempt 1): $(not_ours_why "$THIRD")" \
	"the log says the table was deleted, and why it is not restored (once in 3 s of retries)"
is "$(listing "$THIRD")" "$before" "after 3 s the foreign $THIRD is byte for byte unchanged"
is "$(nw_status last_error)" "cannot restore table inet $THIRD: $(not_ours_why "$THIRD")" \
	"the status file's last_error says why"
out=$(printf 'dnat tcp 8443 to 192.168.1.240\n' | nw_submit "$NW_U1" late)
rc=$?
is "$rc" 1 "a submission meanwhile is rejected (no table of natwarden's to put it in)"
diag "its verdict: $(printf '%s' "$out" | tr '\n' '|')"
is "$(listing "$THIRD")" "$before" "and the foreign $THIRD is still unchanged"
check "the daemon is still running" nw_alive

# The router's addresses change meanwhile: the forward to the router's new address cannot be
# revoked in the kernel (no table of natwarden's), and is tried again every second; a new
# submission is judged against the new addresses all the same, never against none.
ip -n "$NW_NS" addr add 192.168.1.241/32 dev lo
check "the revocation cannot reach the kernel: the daemon says so and retries" nw_wait_for 10 \
	grep -q "cannot revoke forwards after the router's addresses changed" "$NW_T/daemon.log"
out=$(printf 'dnat tcp 8444 to 192.168.1.241\n' | nw_submit "$NW_U1" own)
like "$out" "^own:1: destination 192.168.1.241 is the router's own address \\(on lo\\)$" \
	"meanwhile a submission is judged against the router's new addresses"
ip -n "$NW_NS" addr del 192.168.1.241/32 dev lo # gone again: once the table is back, nothing to revoke
is "$(listing "$THIRD")" "$before" "the foreign $THIRD is still unchanged"

# Once the name is free again, the daemon's table comes back whole.
n=$(log_lines)
nw_nft delete table inet "$THIRD"
t0=$(nw_ms)
if nw_wait_for 10 ours "$THIRD"; then
	ok "the administrator deletes their $THIRD: natwarden's table is back"
	diag "restored within $(($(nw_ms) - t0)) ms (retries run every second)"
else
	not_ok "the administrator deletes their $THIRD: natwarden's table is back within 10 s"
fi
is "$(NW_TABLE=$THIRD nw_kernel)" "$want" "with every forward"
like "$(log_since "$n")" "<4>table inet $THIRD was changed or removed by someone else: restored 4 mappings in [0-9.]+ ms" \
	"the log says it was restored"
check "the pending judgement after the address change is done, with nothing to revoke" nw_wait_for 10 \
	bash -c "tail -n +$((n + 1)) '$NW_T/daemon.log' | grep -q \"the router's addresses changed (.*): 0 forwards revoked\""
is "$(NW_TABLE=$THIRD nw_kernel)" "$want" "every forward is still there"

# The same in two commands (nft -i: one transaction a line), the second (a table with a comment
# of its own) after a delay around the restore (due 20 ms after the notification). Whoever comes first, nothing is lost: either
# the administrator's table is made and stays theirs, byte for byte, or natwarden's table is
# back first and the administrator's `create` says so.
admin_cmds() { # admin_cmds TABLE DELAY: delete, wait, then make a table of one's own
	echo "delete table inet $1"
	sleep "$2"
	echo "create table inet $1 { comment \"the admin's\"; }"
}
for delay in 0.002 0.005 0.01 0.02 0.03 0.3; do
	restored=$(grep -c 'restored [0-9]* mappings' "$NW_T/daemon.log")
	out=$(admin_cmds "$THIRD" "$delay" | nw_nft -i 2>&1)
	before=$(listing "$THIRD")
	if [ -z "$out" ]; then
		sleep 2
		is "$(printf '%s\n' "$before" | sed -n 2p)" "	comment \"the admin's\"" \
			"two commands $delay s apart: the administrator's table is made"
		is "$(listing "$THIRD")" "$before" "... and 2 s later it is byte for byte unchanged"
		nw_nft delete table inet "$THIRD"
	elif printf '%s\n' "$out" | grep -q '^Error: Could not process rule: File exists'; then
		ok "two commands $delay s apart: natwarden's table came back first, the administrator's create says so"
		is "$(grep -c 'restored [0-9]* mappings' "$NW_T/daemon.log")" "$((restored + 1))" \
			"... (the daemon logged its restore before)"
	else
		not_ok "two commands $delay s apart: the administrator's commands made their table or failed with File exists"
		printf '%s\n' "$out" | sed 's/^/#   /'
	fi
	check "... natwarden's table is (back) there" nw_wait_for 10 ours "$THIRD"
	is "$(NW_TABLE=$THIRD nw_kernel)" "$want" "... with every forward"
done

# An administrator takes natwarden's table over: the same maps and elements, without the mark.
# Submissions and withdrawals may not write into that table.
failed=$(grep -c 'cannot restore' "$NW_T/daemon.log")
{ echo "delete table inet $THIRD"; nw_nft list table inet "$THIRD" | grep -vF "comment \"$MARK\""; } >"$NW_T/takeover.nft"
nw_nft -f "$NW_T/takeover.nft" || not_ok "the takeover"
check "the daemon does not restore over it" nw_wait_for 10 bash -c "[ \$(grep -c 'cannot restore table inet $THIRD (attempt 1)' '$NW_T/daemon.log') -gt $failed ]"
before=$(listing "$THIRD")
out=$(printf 'dnat tcp 8443 to 192.168.1.240\n' | nw_submit "$NW_U1" late)
diag "a submission meanwhile: exit $?: $(printf '%s' "$out" | tr '\n' '|')"
out=$(nw_withdraw "$NW_U2" web)
diag "a withdrawal meanwhile: exit $?: $(printf '%s' "$out" | tr '\n' '|')"
changed=$(diff <(printf '%s\n' "$before") <(listing "$THIRD"))
if [ -z "$changed" ]; then
	ok "the taken-over table is unchanged by a submission and a withdrawal meanwhile"
else
	not_ok "the taken-over table is unchanged by a submission and a withdrawal meanwhile"
	printf '%s\n' "$changed" | sed 's/^/#   /'
fi
nw_nft delete table inet "$THIRD"
check "once deleted, natwarden's table is back" nw_wait_for 10 ours "$THIRD"
# from here on, whatever those two did: the daemon's own view of its forwards
want=$(NW_TABLE=$THIRD nw_kernel)

# Swapped again, then a reload to a free name: the old name is not natwarden's any more and
# is left alone.
failed=$(grep -c 'cannot restore' "$NW_T/daemon.log")
{ echo "delete table inet $THIRD"; foreign "$THIRD"; } | nw_nft -f -
before=$(listing "$THIRD")
check "the daemon could not restore it" nw_wait_for 10 bash -c "[ \$(grep -c 'cannot restore table inet $THIRD (attempt 1)' '$NW_T/daemon.log') -gt $failed ]"
set_table "$FOURTH"
reload || not_ok "the reload ends with READY=1"
like "$(grep '^<5>reloaded' "$NW_T/daemon.log" | tail -n 1)" "^<5>reloaded $NW_T/policy.ini: [0-9]+ fragments still active, 0 revoked$" \
	"reload to table = $FOURTH while $THIRD is someone else's: succeeds"
is "$(NW_TABLE=$FOURTH nw_kernel)" "$want" "$FOURTH holds the forwards"
sleep 1.5 # past a pending restore retry
is "$(listing "$THIRD")" "$before" "the foreign $THIRD was not deleted with the old policy's table"
NW_TABLE=$FOURTH
check "the daemon is still running" nw_alive

# ---- natwardend --remove ------------------------------------------------------------------------

nw_stop
remove() { ip netns exec "$NW_NS" "$NW_DAEMON" --config "$NW_T/policy.ini" --remove 2>&1; }
# remove_refused WITH WHAT: --remove (table = $THIRD) is refused, leaves the table, here WHAT
# (described as WITH), unchanged; then the table is deleted
remove_refused() {
	local before out
	before=$(listing "$THIRD")
	out=$(remove)
	is "exit $?: $out" "exit 1: table inet $THIRD is not natwarden's (it lacks natwarden's mark): not removed" \
		"--remove with $1: refused"
	is "$(listing "$THIRD")" "$before" "the $2 table is unchanged"
	nw_nft delete table inet "$THIRD"
}
set_table "$THIRD"
remove_refused "a foreign table of that name" foreign
foreign "$THIRD" "natwarden: managed by" | nw_nft -f -
remove_refused "a lookalike comment" lookalike

set_table "$FOURTH"
out=$(remove)
is "exit $?: $out" "exit 0: removed table inet $FOURTH and every forward in it" "--remove with natwarden's own table: removed"
check "$FOURTH is gone" no_table "$FOURTH"
out=$(remove)
is "exit $?: $out" "exit 0: table inet $FOURTH does not exist: nothing to remove" "--remove again: nothing to remove"
is "$(nw_nft -a list table ip "$FIRST")" "$before_ip" "the table ip $FIRST was never touched"
