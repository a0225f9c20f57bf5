#!/bin/bash
# SPDX-License-Identifier: MIT
# natwarden apply PREFIX: a set of fragments in one stream. What it submits and withdraws, its
# output, exit codes and refusals; that a stream cut short changes nothing; that only the
# caller's own PREFIX fragments are withdrawn; and the SSH forced command.
. "$(dirname "$0")/lib.sh"
nw_init
nw_setup

opts=(--spool "$NW_T/spool" --runtime "$NW_T/run" --config "$NW_T/policy.ini")
# apply USER [ARGS...] < stream: natwarden apply; sets $out (stdout), $err (stderr) and $rc
apply() {
	local u=$1
	shift
	out=$(nw_as "$u" "$NW_CLIENT" "${opts[@]}" apply "$@" 2>"$NW_T/stderr")
	rc=$?
	err=$(cat "$NW_T/stderr")
}
# frag NAME BODY: one fragment of a stream (BODY's bytes, then the newline after it)
frag() { printf 'fragment %s %d\n%s\n' "$1" "${#2}" "$2"; }
head_line() { printf 'natwarden-apply 1\n'; }
end_line() { printf 'end\n'; }
# verdict NAME VERDICT RENEWED LIVE REASONS: the line apply prints (LIVE, REASONS: JSON lists)
verdict() { printf '{"fragment":"%s","verdict":"%s","renewed":%s,"live":%s,"reasons":%s}' "$@"; }
kernel() { nw_kernel | tr '\n' ';'; }

A=$'dnat tcp 8001 to 192.168.1.240\n'
B=$'dnat tcp 8002 to 192.168.1.241'
nothing="; nothing was submitted or withdrawn"

# --- before the daemon: usage errors
apply "$NW_U1" </dev/null
is "$rc:$err" "2:usage: natwarden apply [--timeout S] PREFIX" "apply without a prefix: exit 2, the usage"
for bad in K8s -x .x "a/b" "" "abcdefghijabcdefghijabcdefghijabc"; do
	apply "$NW_U1" -- "$bad" </dev/null
	is "$rc:$err" "2:natwarden: apply: invalid prefix '$bad': use 1-32 of a-z 0-9 . _ -, starting with a letter or digit" \
		"apply refuses the prefix '$bad'"
done
apply "$NW_U1" --timeout 0 k8s- </dev/null
is "$rc" 2 "a bad --timeout exits 2"

nw_start || { not_ok "daemon starts"; exit 1; }

# --- fragments that are no business of apply k8s-: another user's of the same prefix, and
# the caller's own without it
printf 'dnat tcp 9000 to 192.168.2.5\n' | nw_submit "$NW_U2" k8s-a >/dev/null
is "$?" 0 "(another user's fragment k8s-a is accepted)"
printf 'dnat tcp 8500 to 192.168.1.250\n' | nw_submit "$NW_U1" web >/dev/null
is "$?" 0 "(the caller's fragment web, without the prefix, is accepted)"
others="tcp 8500 192.168.1.250:8500;tcp 9000 192.168.2.5:9000;"
is "$(kernel)" "$others" "(both in the kernel)"

# --- two fragments: both accepted, both in the kernel
apply "$NW_U1" k8s- < <(head_line; frag k8s-a "$A"; frag k8s-b "$B"; end_line)
is "$rc" 0 "a stream of two fragments: exit 0"
is "$out" "$(verdict k8s-a accepted false '["dnat tcp 8001 to 192.168.1.240"]' '[]')
$(verdict k8s-b accepted false '["dnat tcp 8002 to 192.168.1.241"]' '[]')" \
	"one JSON line each, in stream order: accepted, what is live"
is "$err" "" "nothing on stderr"
is "$(printf '%s\n' "$out" | jq -c '[.fragment, .verdict]' | tr '\n' ' ')" \
	'["k8s-a","accepted"] ["k8s-b","accepted"] ' "each line is JSON"
is "$(kernel)" "tcp 8001 192.168.1.240:8001;tcp 8002 192.168.1.241:8002;$others" "both in the kernel"

# --- the next round without k8s-a: withdrawn; k8s-b renewed; nothing else touched
apply "$NW_U1" k8s- < <(head_line; frag k8s-b "$B"; end_line)
is "$rc" 0 "a stream without k8s-a: exit 0"
is "$out" "$(verdict k8s-b accepted true '["dnat tcp 8002 to 192.168.1.241"]' '[]')
$(verdict k8s-a withdrawn false '[]' '[]')" "k8s-b renewed, then k8s-a withdrawn"
is "$(kernel)" "tcp 8002 192.168.1.241:8002;$others" \
	"k8s-a left the kernel; the other user's k8s-a and the caller's web stay"

# --- rejected: by the daemon, and locally; the reasons are those submit prints
bad_policy=$'dnat tcp 27015 to 192.168.1.240\n'
bad_syntax=$'# a comment\ndnat tcp 70000 to 192.168.1.240\n'
want_policy=$(printf '%s' "$bad_policy" | nw_submit "$NW_U1" k8s-port 2>&1 | tail -n +2)
want_syntax=$(printf '%s' "$bad_syntax" | nw_submit "$NW_U1" k8s-syntax 2>&1 | tail -n +2)
is "$want_policy" "k8s-port:1: port 27015 is not allowed for $NW_U1 (allowed: 80, 443, 30000-30100, 8000-8999)" \
	"(submit's reason for a port the policy does not allow)"
is "$want_syntax" "k8s-syntax:2: '70000' is not a port or port range: ports are 1-65535" "(submit's reason for a syntax error)"
apply "$NW_U1" k8s- < <(head_line; frag k8s-b "$B"; frag k8s-port "$bad_policy"; frag k8s-syntax "$bad_syntax"; end_line)
is "$rc" 1 "a stream with rejected fragments: exit 1"
is "$(printf '%s\n' "$out" | sed -n 2p)" "$(verdict k8s-port rejected false '[]' "[\"$want_policy\"]")" \
	"rejected by the daemon, with submit's reason line"
is "$(printf '%s\n' "$out" | sed -n 3p)" "$(verdict k8s-syntax rejected false '[]' "[\"$want_syntax\"]")" \
	"rejected locally, with submit's reason line"
is "$(printf '%s\n' "$out" | jq -r .verdict | tr '\n' ' ')" "accepted rejected rejected " \
	"the good one still accepted, nothing withdrawn"
is "$(kernel)" "tcp 8002 192.168.1.241:8002;$others" "the kernel unchanged"

# --- streams that are not whole: exit 2, nothing submitted, nothing withdrawn
before=$(kernel)
C=$'dnat tcp 8003 to 192.168.1.242\n'
apply "$NW_U1" k8s- < <(head_line; frag k8s-c "$C")
is "$rc:$out" "2:" "a stream without end: exit 2, no output"
is "$err" "natwarden: apply: stdin:5: missing 'end': the stream was cut short$nothing" \
	"saying where and why"
apply "$NW_U1" k8s- < <(head_line; frag k8s-c "$C" | head -c 30)
is "$rc:$err" "2:natwarden: apply: stdin:2: fragment 'k8s-c' is cut short: 31 bytes announced, 12 there$nothing" \
	"a stream cut inside a body: exit 2"
apply "$NW_U1" k8s- < <(head_line; frag k8s-c "$C"; frag k8s-c "$C"; end_line)
is "$rc:$err" "2:natwarden: apply: stdin:5: fragment 'k8s-c' appears twice$nothing" "a duplicate: exit 2"
apply "$NW_U1" k8s- < <(head_line; frag web "$C"; end_line)
is "$rc:$err" "2:natwarden: apply: stdin:2: fragment 'web' does not start with the prefix 'k8s-'$nothing" \
	"a name without the prefix: exit 2"
apply "$NW_U1" k8s- < <(head_line; frag k8s-c "$C"; end_line; printf 'x\n')
is "$rc:$err" "2:natwarden: apply: stdin:6: data after 'end': 'x\\x0a'$nothing" "data after end: exit 2"
apply "$NW_U1" k8s- < <(head_line; head -c $((4 << 20)) /dev/zero)
is "$rc:$err" "2:natwarden: apply: stdin: the stream is larger than 4194304 bytes$nothing" \
	"a stream over 4 MiB: exit 2"
apply "$NW_U1" k8s- </dev/null
is "$rc:$err" "2:natwarden: apply: stdin:1: missing 'natwarden-apply 1': the stream was cut short$nothing" \
	"an empty stream: exit 2"
is "$(kernel)" "$before" "after all of them the kernel is unchanged (k8s-b still there, no k8s-c)"
check "and nothing waits in the spool" nw_spool_empty

# --- no status file to read: submissions go, nothing is withdrawn, exit 3
opts=(--spool "$NW_T/spool" --runtime "$NW_T/nowhere" --config "$NW_T/policy.ini")
apply "$NW_U1" k8s- < <(head_line; frag k8s-c "$C"; end_line)
is "$rc" 3 "without the status file: exit 3"
is "$out" "$(verdict k8s-c accepted false '["dnat tcp 8003 to 192.168.1.242"]' '[]')" \
	"the submission went through; k8s-b was not withdrawn"
like "$err" "^natwarden: apply: cannot read $NW_T/nowhere/status \(No such file or directory\): nothing is withdrawn$" \
	"and it says why nothing was withdrawn"
opts=(--spool "$NW_T/spool" --runtime "$NW_T/run" --config "$NW_T/policy.ini")
is "$(kernel)" "tcp 8002 192.168.1.241:8002;tcp 8003 192.168.1.242:8003;$others" "k8s-b and k8s-c live"

# --- the empty set withdraws all the caller's PREFIX fragments, and only those
apply "$NW_U1" k8s- < <(head_line; end_line)
is "$rc" 0 "an empty set: exit 0"
is "$(printf '%s\n' "$out" | jq -r '"\(.fragment) \(.verdict)"' | sort | tr '\n' ';')" \
	"k8s-b withdrawn;k8s-c withdrawn;" "withdraws k8s-b and k8s-c"
is "$(kernel)" "$others" "the other user's k8s-a and the caller's web stay"

# --- through the SSH forced command
ssh_apply() { # ssh_apply "ORIGINAL COMMAND" < stream
	out=$(nw_as "$NW_U1" env SSH_ORIGINAL_COMMAND="$1" NATWARDEN_SPOOL=/nonexistent \
		"$NW_CLIENT" "${opts[@]}" ssh-command 2>"$NW_T/stderr")
	rc=$?
	err=$(cat "$NW_T/stderr")
}
ssh_apply "apply k8s-" < <(head_line; frag k8s-a "$A"; end_line)
is "$rc:$out" "0:$(verdict k8s-a accepted false '["dnat tcp 8001 to 192.168.1.240"]' '[]')" \
	"ssh: 'apply k8s-' runs"
ssh_apply "natwarden apply k8s-" < <(head_line; frag k8s-b "$B"; end_line)
is "$rc:$out" "0:$(verdict k8s-b accepted false '["dnat tcp 8002 to 192.168.1.241"]' '[]')
$(verdict k8s-a withdrawn false '[]' '[]')" "ssh: 'natwarden apply k8s-' runs"
ssh_apply "apply k8s-" < <(head_line; frag k8s-b "$B")
is "$rc" 2 "ssh: a cut stream is refused"
for bad in "apply" "apply -x" "apply K8s" "apply .k8s" "apply k8s- extra" "apply --timeout 1 k8s-" \
	"apply --help" "apply abcdefghijabcdefghijabcdefghijabc"; do
	ssh_apply "$bad" < <(head_line; end_line)
	if [ "$rc" = 2 ] && [ -z "$out" ] && printf '%s' "$err" | grep -q "^natwarden: refused"; then
		ok "ssh refuses '$bad'"
	else
		not_ok "ssh refuses '$bad'"
		echo "#   rc=$rc out=$out err=$err"
	fi
done
ssh_apply "frobnicate"
like "$err" "allowed: .*apply PREFIX \(stream on stdin\)" "ssh: the refusal lists apply"
is "$(kernel)" "tcp 8002 192.168.1.241:8002;$others" "the kernel holds what the streams said"

# --- a spool that holds few entries at once: apply hands the stream in no faster than the
# policy's max_spool_entries and max_spool_bytes let it, so no part of it is refused unjudged
# (the withdrawal of k8s-b included)
nw_stop
NW_MAX_FRAGMENTS=40 NW_U1_MAX_SPOOL_ENTRIES=3 NW_U1_MAX_SPOOL_BYTES=65536 nw_policy
nw_start || { not_ok "daemon restarts with max_spool_entries = 3"; exit 1; }
apply "$NW_U1" k8s- < <(head_line; for i in $(seq 10 39); do
	frag "k8s-q$i" "dnat tcp 80$i to 192.168.1.240"
done; end_line)
is "$rc:$err" "0:" "30 fragments and a withdrawal through a spool of 3 entries: exit 0"
is "$(printf '%s\n' "$out" | jq -r .verdict | sort | uniq -c | tr -s ' ' | tr '\n' ';')" \
	" 30 accepted; 1 withdrawn;" "every one judged: none refused for max_spool_entries"
is "$(nw_kernel | grep -c ' 192.168.1.240:80[1-3]')" 30 "all 30 in the kernel"
# three fragments of 40 KiB: two of them are more than the 64 KiB of max_spool_bytes
pad=$(for _ in $(seq 160); do printf '# %0240d\n' 0; done)
apply "$NW_U1" k8s- < <(head_line; for i in 40 41 42; do
	frag "k8s-q$i" "$pad"$'\n'"dnat tcp 80$i to 192.168.1.240"
done; end_line)
is "$rc:$(printf '%s\n' "$out" | jq -r .verdict | sort | uniq -c | tr -s ' ' | tr '\n' ';')" \
	"0: 3 accepted; 30 withdrawn;" "3 fragments of 40 KiB through 64 KiB of max_spool_bytes: all judged"
apply "$NW_U1" k8s- < <(head_line; end_line)
is "$rc:$(kernel)" "0:$others" "(and withdrawn again)"
nw_stop
nw_policy
nw_start || { not_ok "daemon restarts with the default policy"; exit 1; }

# --- no daemon: no verdict within --timeout, exit 3
nw_stop
apply "$NW_U1" --timeout 1 k8s- < <(head_line; frag k8s-b "$B"; end_line)
is "$rc" 3 "no daemon: exit 3"
is "$out" "$(verdict k8s-b error false '[]' '["no verdict within 1 s: is natwardend running? (the file stays queued)"]')" \
	"verdict error, with a reason"
# with max_spool_entries = 1, the second fragment waits for the first's verdict, which never
# comes: it is not handed in (the first stays queued, k8s-b's file replaced by it)
NW_U1_MAX_SPOOL_ENTRIES=1 nw_policy
apply "$NW_U1" --timeout 1 k8s- < <(head_line; frag k8s-b "$B"; frag k8s-c "$C"; end_line)
is "$rc:$(printf '%s\n' "$out" | jq -r '"\(.fragment) \(.verdict) \(.reasons[0])"' | tr '\n' ';')" \
	"3:k8s-b error no verdict within 1 s: is natwardend running? (the file stays queued);k8s-c error not handed in: no verdict for those before it within 1 s (is natwardend running?);" \
	"a spool of one entry and no daemon: one queued, one not handed in, exit 3"
