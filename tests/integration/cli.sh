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
bare() { # bare USER [VAR=VALUE...] ARGS...: the client with only these options and variables
	local u=$1 vars=()
	shift
	while [[ ${1:-} == *=* ]]; do vars+=("$1"); shift; done
	out=$(nw_as "$u" env "${vars[@]}" "$NW_CLIENT" "$@" 2>&1 </dev/null)
	rc=$?
}
# json_ascii: the JSON on stdin, which must be UTF-8, re-encoded by Python in ASCII, keys sorted
json_ascii() {
	python3 -c 'import json, sys; print(json.dumps(json.loads(sys.stdin.buffer.read().decode("utf-8", "strict")), sort_keys=True))'
}

# --- help, version, usage
out=$("$NW_CLIENT" help)
is "$?" 0 "help exits 0"
for c in check submit withdraw apply list status ssh-command; do
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
text_status=$out

# --- status --json: what status prints, as one JSON object
run "$NW_U2" status --json
is "$rc" 0 "status --json exits 0 while the daemon runs"
is "$(printf '%s' "$out" | json_ascii | jq -c 'del(.started, .updated, .last_change, .last_apply_us)')" \
	"{\"admin_check\":\"ok\",\"admin_drops\":[],\"events\":[],\"fragments\":3,\"last_error\":null,\"mappings\":4,\"pid\":$NW_DPID,\"running\":true,\"table\":\"inet $NW_TABLE\",\"users\":2,\"wan\":{\"addresses\":[\"203.0.113.7\"],\"interface\":\"wan0\",\"source\":\"policy\",\"state\":\"missing\"}}" \
	"status --json is valid UTF-8 JSON with every field"
is "$(printf '%s' "$out" | jq -r '"\(.started <= .last_change) \(.last_change <= .updated) \(.last_apply_us > 0)"')" \
	"true true true" "status --json: started <= last_change <= updated, last_apply_us"
is "$(printf '%s' "$out" | jq -r '"table \(.table): \(.mappings) mappings from \(.fragments) fragments of \(.users) users"')" \
	"$(printf '%s\n' "$text_status" | grep '^table ')" "status --json counts as status does"
is "$(printf '%s' "$out" | jq -r '.started | strftime("%Y-%m-%d %H:%M:%S UTC")')" \
	"$(printf '%s\n' "$text_status" | sed -n 's/^natwardend is running (pid [0-9]*) since //p')" "status --json: started as status says it"
run "$NW_U2" status --json extra
is "$rc:$out" "2:usage: natwarden status [--json]" "status --json with an extra word exits 2 with the usage"
run "$NW_U2" status --frobnicate
is "$rc" 2 "status with an unknown option exits 2"

# --- --config: the spool and runtime directories of that policy's [daemon] section
P=$NW_T/policy.ini
bare "$NW_U2" --config "$P" status
is "$rc" 0 "--config alone: status reads the policy's runtime directory"
like "$out" "^natwardend is running \(pid $NW_DPID\)" "and finds the daemon running"
bare "$NW_U2" NATWARDEN_CONFIG="$P" list --json
is "$rc:$(printf '%s' "$out" | jq length)" "0:4" "NATWARDEN_CONFIG alone: list reads the policy's runtime directory"
out=$(printf 'dnat tcp 8010 to 192.168.1.241\n' | nw_as "$NW_U1" "$NW_CLIENT" --config "$P" submit viaconfig 2>&1)
is "$?" 0 "--config alone: submit writes into the policy's spool"
like "$out" "^viaconfig: accepted for $NW_U1" "and gets the daemon's verdict"
bare "$NW_U1" NATWARDEN_CONFIG="$P" withdraw viaconfig
is "$rc:$out" "0:viaconfig: withdrawn for $NW_U1" "NATWARDEN_CONFIG alone: withdraw through the policy's spool"
nowhere=$NW_T/nowhere
no_status="natwarden: no status in $nowhere: natwardend has not run here"
bare "$NW_U2" --config "$P" --runtime "$nowhere" status
is "$rc:$out" "3:$no_status" "--runtime wins over the --config policy"
bare "$NW_U2" NATWARDEN_RUNTIME="$nowhere" --config "$P" status
is "$rc:$out" "3:$no_status" "NATWARDEN_RUNTIME wins over the --config policy"
no_spool="natwarden: there is no spool directory for you ($nowhere/incoming/$(id -u "$NW_U1")): natwardend makes one for each [submitter] in policy.ini; is $NW_U1 one, and has natwardend started since?"
bare "$NW_U1" --config "$P" --spool "$nowhere" withdraw --no-wait x
is "$rc:$out" "2:$no_spool" "--spool wins over the --config policy"
bare "$NW_U1" NATWARDEN_SPOOL="$nowhere" NATWARDEN_CONFIG="$P" withdraw --no-wait x
is "$rc:$out" "2:$no_spool" "NATWARDEN_SPOOL wins over the NATWARDEN_CONFIG policy"
bare "$NW_U2" NATWARDEN_CONFIG="$NW_T/missing.ini" --config "$P" status
is "$rc" 0 "--config wins over NATWARDEN_CONFIG"
bare "$NW_U2" --config "$NW_T/missing.ini" status
is "$rc:$out" "2:$NW_T/missing.ini: cannot open: No such file or directory" "a --config that does not exist: exit 2, naming it"
bare "$NW_U2" NATWARDEN_CONFIG="$NW_T/missing.ini" status
is "$rc:$out" "2:$NW_T/missing.ini: cannot open: No such file or directory" "a NATWARDEN_CONFIG that does not exist: exit 2, naming it"
bare "$NW_U2" --config "$NW_T/missing.ini" --spool "$NW_T/spool" --runtime "$NW_T/run" list
is "$rc" 2 "a --config that does not exist is an error even with --spool and --runtime"
out=$(printf 'dnat tcp 8080 to 192.168.2.9\n' | nw_as "$NW_U2" "$NW_CLIENT" --config "$NW_T/missing.ini" check - 2>&1)
is "$?:$out" "0:dnat tcp 8080 to 192.168.2.9" "check with a --config that does not exist: the syntax only, as natwarden(1) says"
install -m 0600 "$P" "$NW_T/private.ini"
bare "$NW_U2" --config "$NW_T/private.ini" status
is "$rc:$out" "2:$NW_T/private.ini: cannot open: Permission denied" "a --config the caller may not read: exit 2, naming it"
sed "s|^spool = .*|spool = spool|" "$P" >"$NW_T/broken.ini"
chmod 0644 "$NW_T/broken.ini"
is "$(sed -n 5p "$NW_T/broken.ini")" "spool = spool" "(the broken policy's line 5 is its spool)"
bare "$NW_U2" --config "$NW_T/broken.ini" status
is "$rc:$out" "2:$NW_T/broken.ini:5: spool: 'spool' is not a clean absolute path (letters, digits, _ . - /; no . or .. parts)" \
	"a --config that does not parse: exit 2, naming the file and the line"

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
old_pid=$NW_DPID
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
run "$NW_U1" status --json
is "$rc:$(printf '%s' "$out" | jq -c '[.running, .pid]')" "3:[false,$old_pid]" "status --json exits 3, running false, the last pid"
out=$(cl "$NW_U1" --runtime "$nowhere" status --json 2>/dev/null)
is "$?:$out" "3:" "status --json without a status file exits 3 and prints nothing"
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
ssh_run "status --json"
is "$rc:$(printf '%s' "$out" | jq -c '[.running, .pid]')" "0:[true,$NW_DPID]" "ssh: 'status --json' runs"
ssh_run "check" 'dnat tcp 8003 to 192.168.1.241\n'
is "$rc" 0 "ssh: 'check' runs with the fragment on stdin"
# shellcheck disable=SC2016 # 'submit $(id)': sent as it is, unexpanded
for bad in "submit" "submit a b" "submit a; rm -rf /" 'submit $(id)' "submit a|b" "submit ../x" \
	"list --json extra" "--spool /tmp submit a" "submit --spool /tmp a" "check --policy /etc/passwd" \
	"ssh-command" "help" "sh -c id" "submit A" "" "submit a  b" "natwarden" \
	"withdraw" "status now" "status --json extra" "--config /tmp/p.ini status" \
	"status --config /tmp/p.ini" "list --json --config /tmp/p.ini" "submit -n" "withdraw -h" \
	"submit --no-wait" "withdraw --timeout"; do
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
# the forced command's own --config names the directories; the environment names nothing
bare "$NW_U1" SSH_ORIGINAL_COMMAND="status" NATWARDEN_CONFIG="$NW_T/missing.ini" NATWARDEN_SPOOL="$nowhere" \
	NATWARDEN_RUNTIME="$nowhere" --config "$P" ssh-command
is "$rc" 0 "ssh: the key's --config gives the runtime directory; the environment is ignored"
out=$(printf 'dnat tcp 8011 to 192.168.1.241\n' | nw_as "$NW_U1" env SSH_ORIGINAL_COMMAND="submit viakey" \
	NATWARDEN_SPOOL="$nowhere" "$NW_CLIENT" --config "$P" ssh-command 2>&1)
is "$?:$(printf '%s\n' "$out" | head -n 1)" "0:viakey: accepted for $NW_U1" "ssh: the key's --config gives the spool"
bare "$NW_U1" SSH_ORIGINAL_COMMAND="status" --config "$P" --runtime "$nowhere" ssh-command
is "$rc:$out" "3:$no_status" "ssh: the key's --runtime wins over the key's --config"

# --- status --json and list --json escape every string: a status file of hostile values
mkdir -m 0755 "$NW_T/hostile"
printf '%b' 'natwarden-status\t1\npid\t0\nstarted\t1700000000\nupdated\t1700000100\n' \
	'last_change\t0\nlast_apply_us\t1500\ntable\tinet t"b\\c\nusers\t1\nfragments\t1\nmappings\t1\n' \
	'last_error\tq " b \\ c \001\037\033\r\177 \303\251 \342\202\254 \360\237\230\200 bad \377 \303( \355\240\200 \300\257 end\n' \
	'wan\twan0\tinterface\tno-address\t-\nadmin_check\tpartial: "x"\n' \
	'admin_drop\tinet filter\tfw\\d\tforwards\tadd "ct mark 1 accept"\n' \
	'dnat\tu\303\251\tw\377b\ttcp\t80\t192.168.1.240:80\t0\n' \
	'event\t1700000050\trevoked\t\tf"1\treason \002 "q"\n' >"$NW_T/hostile/status"
chmod 0644 "$NW_T/hostile/status"
out=$(cl "$NW_U2" --runtime "$NW_T/hostile" status --json 2>&1)
is "$?" 3 "status --json of a daemon that is not running exits 3"
is "$(printf '%s' "$out" | json_ascii)" \
	'{"admin_check": "partial: \"x\"", "admin_drops": [{"action": "add \"ct mark 1 accept\"", "chain": "fw\\d", "table": "inet filter", "what": "forwards"}], "events": [{"fragment": "f\"1", "kind": "revoked", "text": "reason \u0002 \"q\"", "time": 1700000050, "user": ""}], "fragments": 1, "last_apply_us": 1500, "last_change": 0, "last_error": "q \" b \\ c \u0001\u001f\u001b\r\u007f \u00e9 \u20ac \ud83d\ude00 bad \ufffd \ufffd( \ufffd\ufffd\ufffd \ufffd\ufffd end", "mappings": 1, "pid": 0, "running": false, "started": 1700000000, "table": "inet t\"b\\c", "updated": 1700000100, "users": 1, "wan": {"addresses": [], "interface": "wan0", "source": "interface", "state": "no-address"}}' \
	"status --json: quotes, backslashes and control bytes escaped, UTF-8 kept, other bytes U+FFFD"
is "$(printf '%s\n' "$out" | grep '"last_error"')" \
	'  "last_error": "q \" b \\ c \u0001\u001f\u001b\u000d\u007f é € 😀 bad \ufffd \ufffd( \ufffd\ufffd\ufffd \ufffd\ufffd end",' \
	"status --json writes control bytes as \\u00XX and well-formed UTF-8 as it is"
out=$(cl "$NW_U2" --runtime "$NW_T/hostile" list --json 2>&1)
is "$?:$(printf '%s' "$out" | json_ascii)" \
	'0:[{"expires": 0, "fragment": "w\ufffdb", "owner": "u\u00e9", "protocol": "tcp", "public": "80", "target": "192.168.1.240:80", "type": "dnat"}]' \
	"list --json: valid UTF-8 JSON whatever bytes the status file holds"

# --- the default policy, /etc/natwarden/policy.ini: read when it is there and readable. Each
# run is in a private mount namespace: /etc is the host's under a throwaway writable layer
# (overlayfs on a tmpfs) with that policy in it, and /run an empty tmpfs.
# etc_run none|MODE|broken USER [VAR=VALUE...] ARGS...: the client as USER in there, with no
# default policy, a copy of the test's policy of that mode, or one whose line 5 is wrong.
etc_run() {
	local policy=$1 u=$2 vars=()
	shift 2
	while [[ ${1:-} == *=* ]]; do vars+=("$1"); shift; done
	mkdir -p "$NW_T/etc"
	# shellcheck disable=SC2016 # expanded by the inner shell
	out=$(unshare -m --propagation private -- bash -c '
		d=$1 policy=$2 src=$3 u=$4
		shift 4
		mount -t tmpfs tmpfs "$d" && mkdir "$d/upper" "$d/work" &&
			mount -t overlay overlay -o "lowerdir=/etc,upperdir=$d/upper,workdir=$d/work" /etc &&
			mount -t tmpfs tmpfs /run || exit 99
		if [ "$policy" != none ]; then
			mkdir /etc/natwarden || exit 99
			if [ "$policy" = broken ]; then
				sed "s|^spool = .*|spool = spool|" "$src" >/etc/natwarden/policy.ini
				policy=0644
			else
				cat "$src" >/etc/natwarden/policy.ini
			fi
			chmod "$policy" /etc/natwarden/policy.ini || exit 99
		fi
		exec setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups --reset-env -- "$@"' \
		etc_run "$NW_T/etc" "$policy" "$P" "$u" env "${vars[@]}" "$NW_CLIENT" "$@" 2>&1 </dev/null)
	rc=$?
}
default_status="natwarden: no status in /run/natwarden: natwardend has not run here"
etc_run none "$NW_U2" --version
if [ "$rc" = 99 ]; then
	for _ in 1 2 3 4 5 6 7 8; do ok "# SKIP no private mount namespace with overlayfs here"; done
else
	etc_run none "$NW_U2" status
	is "$rc:$out" "3:$default_status" "no default policy: the built-in runtime directory"
	etc_run 0644 "$NW_U2" status
	is "$rc" 0 "a readable default policy: its runtime directory"
	like "$out" "^natwardend is running \(pid $NW_DPID\)" "where the daemon runs"
	etc_run 0600 "$NW_U2" status
	is "$rc:$out" "3:$default_status" "a default policy the caller may not read: the built-in runtime directory, no error"
	etc_run broken "$NW_U2" status
	is "$rc:$out" "2:/etc/natwarden/policy.ini:5: spool: 'spool' is not a clean absolute path (letters, digits, _ . - /; no . or .. parts)" \
		"a readable default policy that does not parse: exit 2, naming the file and the line"
	etc_run broken "$NW_U2" --spool "$NW_T/spool" --runtime "$NW_T/run" status
	is "$rc" 0 "with --spool and --runtime the default policy is not read"
	etc_run none "$NW_U1" SSH_ORIGINAL_COMMAND=status NATWARDEN_CONFIG="$P" ssh-command
	is "$rc:$out" "3:$default_status" "ssh: NATWARDEN_CONFIG cannot name the policy"
	etc_run 0644 "$NW_U1" SSH_ORIGINAL_COMMAND=status NATWARDEN_RUNTIME="$nowhere" ssh-command
	is "$rc" 0 "ssh: the default policy gives the runtime directory"
fi
