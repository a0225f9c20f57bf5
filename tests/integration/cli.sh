#!/bin/bash
# SPDX-License-Identifier: MIT
# The natwarden client as its users meet it: every subcommand, every documented exit code,
# usage errors, local checks, list and status output, and the SSH forced command's allow-list.
. "$(dirname "$0")/lib.sh"
nw_init
nw_setup

cl() { nw_as "$1" "$NW_CLIENT" --spool "$NW_T/spool" --runtime "$NW_T/run" --config "$NW_T/policy.ini" "${@:2}"; }
run() { # run USER ARGS... ; sets $out and $rc (stdout+stderr)
	out=$(cl "$@" 2>&1 </dev/null)
	rc=$?
}

# --- help, version, usage
out=$("$NW_CLIENT" help)
is "$?" 0 "help exits 0"
for c in check submit withdraw list status ssh-command; do
	like "$out" "^  $c" "help lists $c"
done
like "$("$NW_CLIENT" --version)" "^natwarden [0-9]+\.[0-9]+\.[0-9]+$" "--version"
"$NW_CLIENT" frobnicate >/dev/null 2>&1
is "$?" 2 "unknown command exits 2"
"$NW_CLIENT" >/dev/null 2>&1
is "$?" 2 "no command exits 2"
run "$NW_U1" submit
is "$rc" 2 "submit without a name exits 2"
run "$NW_U1" submit Bad_Name
is "$rc" 2 "submit with an invalid name exits 2"
like "$out" "invalid fragment name 'Bad_Name'" "and says why"
run "$NW_U1" submit --timeout 0 x
is "$rc" 2 "a bad --timeout exits 2"

# --- no daemon yet: submit waits, then exits 3; status says not running
run "$NW_U1" status
is "$rc" 3 "status without a daemon exits 3"
like "$out" "has not run here" "status says the daemon has not run"

nw_start || { not_ok "daemon starts"; exit 1; }

# --- local check before sending: rejected locally, nothing written
out=$(printf 'dnat tcp 70000 to 192.168.1.240\n' | cl "$NW_U1" submit bad 2>&1)
is "$?" 1 "a fragment with a syntax error exits 1"
like "$out" "^bad:1: '70000' is not a port" "with NAME:LINE: reason"
like "$out" "not sent" "and says it was not sent"

# --- submit: 0 accepted, 1 rejected, stdin and file
printf 'dnat tcp 80 to 192.168.1.240\nmasquerade 192.168.1.240\nlease 3600\n' >"$NW_T/ingress.frag"
chmod 644 "$NW_T/ingress.frag"
run "$NW_U1" submit ingress "$NW_T/ingress.frag"
is "$rc" 0 "submit from a file: accepted, exit 0"
like "$out" "^ingress: accepted for $NW_U1" "prints the verdict"
like "$out" "live: dnat tcp 80 to 192.168.1.240" "prints what is live"
like "$out" "expires: 20[0-9]{2}-" "prints the lease end"
out=$(printf 'dnat tcp 8080 to 192.168.2.9\n' | cl "$NW_U2" submit web 2>&1)
is "$?" 0 "submit from stdin: accepted"
out=$(printf 'dnat tcp 80 to 192.168.2.9\n' | cl "$NW_U2" submit steal 2>&1)
is "$?" 1 "a rejected fragment exits 1"
like "$out" "steal:1: tcp port 80 is already forwarded by $NW_U1's fragment 'ingress'" "with every reason"

# --- --no-wait returns at once; the verdict still happens
out=$(printf 'dnat tcp 443 to 192.168.1.240\n' | cl "$NW_U1" submit --no-wait tls 2>&1)
is "$?" 0 "--no-wait exits 0"
is "$out" "tls: submitted" "--no-wait says submitted"
check "the no-wait submission becomes live" nw_wait_for 5 bash -c "ip netns exec $NW_NS nft list map inet $NW_TABLE dnat_port | grep -q 'tcp . 443'"

# --- list
run "$NW_U2" list
is "$rc" 0 "list exits 0"
like "$out" "^OWNER +FRAGMENT +PROTO +PUBLIC +TARGET +EXPIRES" "list has a header"
like "$out" "^$NW_U1 +ingress +tcp +80 +192.168.1.240:80 +20" "list shows owner, fragment, port, target, expiry"
like "$out" "^$NW_U1 +ingress +- +masquerade +192.168.1.240/32" "list shows masquerade"
like "$out" "^$NW_U2 +web +tcp +8080 +192.168.2.9:8080 +-" "list shows other users' forwards"
run "$NW_U2" list --json
is "$rc" 0 "list --json exits 0"
is "$(printf '%s' "$out" | jq -r '.[] | select(.fragment == "web") | "\(.owner) \(.type) \(.protocol) \(.public) \(.target) \(.expires)"')" \
	"$NW_U2 dnat tcp 8080 192.168.2.9:8080 0" "list --json is valid JSON with every field"
is "$(printf '%s' "$out" | jq length)" 4 "list --json has one object per mapping"
run "$NW_U1" list extra
is "$rc" 2 "list with an extra word exits 2"

# --- status
run "$NW_U2" status
is "$rc" 0 "status exits 0 while the daemon runs"
like "$out" "^natwardend is running \(pid $NW_DPID\) since 20" "status says running, pid and since when"
like "$out" "^table inet $NW_TABLE: 4 mappings from 3 fragments of 2 users" "status counts"
like "$out" "^last change: 20.* ago\); last kernel transaction took [0-9.]+ ms" "status says when it last changed"

# --- check: local syntax, policy, and conflicts with what is active
out=$(printf 'dnat tcp 80 to 192.168.2.5\n' | cl "$NW_U2" check --name mine 2>&1)
is "$?" 1 "check exits 1 for a conflict with an active fragment"
like "$out" "mine:1: tcp port 80 is already forwarded by $NW_U1's fragment 'ingress'" "check names the conflict"
out=$(printf 'dnat tcp 9000 to 192.168.2.5\n' | cl "$NW_U2" check --name mine 2>&1)
is "$?" 0 "check exits 0 when it would be accepted"
like "$out" "^dnat tcp 9000 to 192.168.2.5$" "check prints the canonical form"
like "$out" "^mine: accepted for $NW_U2 \(1 rules\)$" "check prints the verdict for the caller"
out=$(printf 'dnat tcp 9000 to 192.168.2.5\n' | cl "$NW_U2" check --name mine --user "$NW_U1" 2>&1)
is "$?" 1 "check --user judges for another user"
out=$(printf 'dnat tcp 9000 to 192.168.2.5 extra\n' | cl "$NW_U2" check --name mine 2>&1)
is "$?" 1 "check exits 1 for a syntax error"
out=$(cl "$NW_U2" check --name mine /nonexistent 2>&1)
is "$?" 2 "check exits 2 when the file cannot be read"

# --- withdraw
run "$NW_U1" withdraw tls
is "$rc" 0 "withdraw exits 0"
like "$out" "^tls: withdrawn" "withdraw says withdrawn"

# --- exit 3: daemon stopped, no verdict before --timeout
nw_stop
t0=$(nw_ms)
out=$(printf 'dnat tcp 443 to 192.168.1.240\n' | cl "$NW_U1" submit --timeout 1 late 2>&1)
rc=$?
t1=$(nw_ms)
is "$rc" 3 "no verdict before the timeout exits 3"
like "$out" "no verdict for late within 1 s: is natwardend running\?" "and says what probably happened"
check "the timeout was honoured ($((t1 - t0)) ms for --timeout 1; bound 10 s)" test $((t1 - t0)) -lt 10000
run "$NW_U1" status
is "$rc" 3 "status exits 3 when the daemon is not running"
like "$out" "NOT running" "status says so"
nw_start || not_ok "daemon restarts"
check "the queued submission is judged after the restart" nw_wait_for 5 bash -c "ip netns exec $NW_NS nft list map inet $NW_TABLE dnat_port | grep -q 'tcp . 443'"

# --- the SSH forced command: only the allow-list, no shell, no path options
ssh_run() { # ssh_run "ORIGINAL COMMAND" [stdin-text]
	out=$(printf '%b' "${2:-}" | SSH_ORIGINAL_COMMAND="$1" nw_as "$NW_U1" env SSH_ORIGINAL_COMMAND="$1" \
		NATWARDEN_SPOOL=/nonexistent "$NW_CLIENT" --spool "$NW_T/spool" --runtime "$NW_T/run" \
		--config "$NW_T/policy.ini" ssh-command 2>&1)
	rc=$?
}
ssh_run "natwarden submit viassh" 'dnat tcp 8001 to 192.168.1.241\n'
is "$rc" 0 "ssh: 'natwarden submit NAME' runs (environment cannot move the spool)"
like "$out" "viassh: accepted" "ssh: the submit's verdict comes back"
ssh_run "submit viassh2" 'dnat tcp 8002 to 192.168.1.241\n'
is "$rc" 0 "ssh: 'submit NAME' runs"
ssh_run "withdraw viassh2"
is "$rc" 0 "ssh: 'withdraw NAME' runs"
ssh_run "list"
is "$rc" 0 "ssh: 'list' runs"
ssh_run "list --json"
is "$(printf '%s' "$out" | jq -r 'map(select(.fragment == "viassh")) | length')" 1 "ssh: 'list --json' runs"
ssh_run "status"
is "$rc" 0 "ssh: 'status' runs"
ssh_run "check" 'dnat tcp 8003 to 192.168.1.241\n'
is "$rc" 0 "ssh: 'check' runs with the fragment on stdin"
# shellcheck disable=SC2016 # 'submit $(id)': sent as it is, unexpanded
for bad in "submit" "submit a b" "submit a; rm -rf /" 'submit $(id)' "submit a|b" "submit ../x" \
	"list --json extra" "--spool /tmp submit a" "submit --spool /tmp a" "check --policy /etc/passwd" \
	"ssh-command" "help" "sh -c id" "submit A" "" "submit a  b" "natwarden" \
	"withdraw" "status now"; do
	ssh_run "$bad" 'dnat tcp 8004 to 192.168.1.241\n'
	if [ "$rc" = 2 ] && printf '%s' "$out" | grep -q "natwarden: refused"; then
		ok "ssh refuses '$bad'"
	else
		not_ok "ssh refuses '$bad'"
		echo "#   rc=$rc out=$out"
	fi
done
check "nothing refused reached the kernel" bash -c "! ip netns exec $NW_NS nft list map inet $NW_TABLE dnat_port | grep -q 'tcp . 8004'"
out=$(env -u SSH_ORIGINAL_COMMAND "$NW_CLIENT" ssh-command 2>&1)
is "$?" 2 "ssh-command without SSH_ORIGINAL_COMMAND is refused"
