#!/bin/bash
# SPDX-License-Identifier: MIT
# natwarden-sync against a hostile cluster and a hostile router, without a daemon: a stand-in
# kubectl replays a Service list (and records every other call), a stand-in ssh records the
# stream, checks it strictly against natwarden(1)'s APPLY STREAM and answers with verdicts.
# Covered: Service ports and load-balancer IPs that smuggle fragment lines; a kubectl that
# prints nothing or garbage with status 0 (never an empty stream, which would withdraw
# everything); one malformed Service does not stop the others; a fragment over 64 KiB, and
# more fragments than one stream may hold, do not get the whole stream refused; names that
# kubectl would take for options; a router's answer with control characters, forged lines and
# odd types; and Service changes that do not change the stream (the sync's own
# natwarden.io/status among them) make no new SSH session.
#
#   tests/integration/sync-hostile.sh      NW_KEEP=1 keeps the temporary directory
# shellcheck disable=SC2016 # the strings given to eval expand when they are evaluated
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh" # the TAP helpers only
for cmd in python3 jq flock timeout; do
	command -v "$cmd" >/dev/null || skip_all "needs $cmd"
done
T=$(mktemp -d /tmp/natwarden-sync-hostile.XXXXXX) || { echo "Bail out! mktemp"; exit 1; }
SYNC_PID=
sh_cleanup() {
	local rc=$1
	[ -z "$SYNC_PID" ] || { kill "$SYNC_PID" 2>/dev/null; wait "$SYNC_PID" 2>/dev/null; }
	nw_finish "$rc" "$T"
}
trap 'sh_cleanup $?' EXIT
trap 'exit 130' INT TERM HUP
SYNC=$NW_TOP/client/kubernetes/natwarden-sync
mkdir -p "$T/bin"

# ---- the stand-ins

# kubectl: the list from $T/services.json (exit status from $T/list.rc), a watch that follows
# $T/watch.lines (one line each 0.3 s: each one a round of its own), every call recorded in
# $T/calls.jsonl
cat >"$T/bin/kubectl" <<SH
#!/bin/bash
T=$T
jq -cn '\$ARGS.positional' --args -- "\$@" >>"\$T/calls.jsonl"
case " \$* " in
*" --watch-only "*)
	timeout 60 tail -n +1 -f "\$T/watch.lines" | while IFS= read -r l; do echo "\$l"; echo >>"\$T/emitted"; sleep 0.3; done
	;;
*" get services --all-namespaces -o json "*)
	cat "\$T/services.json"
	exit "\$(cat "\$T/list.rc" 2>/dev/null || echo 0)"
	;;
*" create -f - "*) { cat; echo; } >>"\$T/events.jsonl" ;;
*" get service "*) echo '{"metadata": {"annotations": {}}}' ;;
esac
exit 0
SH
# ssh: the stream into $T/stream.N, its check into $T/check.N; the answer from $T/reply when
# that exists (run with the stream's file), else "accepted" for each fragment
cat >"$T/check.py" <<'PY'
import json, re, sys
data = open(sys.argv[1], 'rb').read()
LINE = [rb'# natwarden-sync: Service [A-Za-z0-9._/:?-]{0,200}',
        rb'dnat (tcp|udp) [1-9][0-9]{0,4} to [0-9]{1,3}(\.[0-9]{1,3}){3}',
        rb'pinhole (tcp|udp) [1-9][0-9]{0,4} to [0-9a-fA-F:.]{2,45}',
        rb'masquerade [0-9]{1,3}(\.[0-9]{1,3}){3}', rb'lease [0-9]+']
def fail(why):
    print('bad: ' + why)
    sys.exit(0)
if not data.startswith(b'natwarden-apply 1\n'):
    fail('first line')
pos, names, total = len(b'natwarden-apply 1\n'), [], 0
while True:
    nl = data.find(b'\n', pos)
    if nl < 0:
        fail('no end')
    head = data[pos:nl]
    if len(head) > 128:
        fail('header over 128 bytes')
    if head == b'end':
        if nl + 1 != len(data):
            fail('bytes after end')
        break
    m = re.fullmatch(rb'fragment (k8s-[a-z0-9._-]{1,60}) ([1-9][0-9]{0,5})', head)
    if not m or int(m.group(2)) > 65536:
        fail('fragment line %r' % head[:80])
    name, n = m.group(1).decode(), int(m.group(2))
    if name in names:
        fail('%s twice' % name)
    names.append(name)
    body = data[nl + 1:nl + 1 + n]
    total += n
    if len(body) != n or data[nl + 1 + n:nl + 2 + n] != b'\n':
        fail('%s: body length' % name)
    for line in body.split(b'\n')[:-1]:
        if not any(re.fullmatch(p, line) for p in LINE):
            fail('%s: line %r' % (name, line[:80]))
    pos = nl + 2 + n
if len(names) > 256 or total > 4194304:
    fail('%d fragments, %d bytes' % (len(names), total))
print('good %d' % len(names))
if len(sys.argv) > 2:
    for name in names:
        print(json.dumps({'fragment': name, 'verdict': 'accepted', 'renewed': False,
                          'live': [], 'reasons': []}), file=open(sys.argv[2], 'a'))
PY
cat >"$T/bin/ssh" <<SH
#!/bin/bash
T=$T
exec 9>>"\$T/ssh.lock"
flock 9
n=\$((\$(cat "\$T/ssh.n" 2>/dev/null || echo 0) + 1))
echo "\$n" >"\$T/ssh.n"
flock -u 9
cat >"\$T/stream.\$n"
if [ -x "\$T/reply" ]; then
	python3 "\$T/check.py" "\$T/stream.\$n" >"\$T/check.\$n"
	exec "\$T/reply" "\$T/stream.\$n"
fi
python3 "\$T/check.py" "\$T/stream.\$n" "\$T/out.\$n" >"\$T/check.\$n"
cat "\$T/out.\$n" 2>/dev/null
exit 0
SH
chmod 0755 "$T/bin/kubectl" "$T/bin/ssh"

# svc NS NAME CREATED IPS FORWARD [PORT/PROTO...]: one Service as JSON (ports may be JSON
# strings: "\"80\\nx\"/TCP")
svc() {
	local ns=$1 name=$2 created=$3 ips=$4 fwd=$5
	shift 5
	local ports=("$@")
	[ ${#ports[@]} -gt 0 ] || ports=(80/TCP)
	jq -cn --arg ns "$ns" --arg name "$name" --arg c "$created" --arg ips "$ips" --arg fwd "$fwd" \
		--arg ports "$(printf '%s\n' "${ports[@]}")" '{apiVersion: "v1", kind: "Service",
		metadata: {namespace: $ns, name: $name, uid: ($ns + "/" + $name), creationTimestamp: $c,
			annotations: {"natwarden.io/forward": $fwd}},
		spec: {type: "LoadBalancer", ports: [$ports | split("\n")[] | select(. != "")
			| split("/") | {port: (.[0] | fromjson), protocol: .[1]}]},
		status: {loadBalancer: {ingress: [$ips | split(",")[] | select(. != "") | {ip: .}]}}}'
}
cluster() { # cluster SERVICE-JSON...: the list kubectl replays
	printf '%s\n' "$@" | jq -s '{apiVersion: "v1", kind: "List", items: ., metadata: {resourceVersion: ""}}' \
		>"$T/services.json"
}
sessions() { cat "$T/ssh.n" 2>/dev/null || echo 0; }
last() { cat "$T/$1.$(sessions)" 2>/dev/null; }
R=nat_update@r1
run() { # run [ARG...]: one --once round (or what ARG says); output in $out, status in $rc
	out=$(env -i PATH="$T/bin:$PATH" HOME="$T" KUBECTL="$T/bin/kubectl" NATWARDEN_SSH="$T/bin/ssh" \
		NATWARDEN_ROUTERS="$R" NATWARDEN_LEASE=600 NATWARDEN_TIMEOUT=20 \
		timeout 60 "$SYNC" "${@:---once}" 2>&1)
	rc=$?
}
GOOD=$(svc web web 2024-01-01T00:00:00Z 192.168.1.240 80)

# ---- fragment lines smuggled through ports and addresses

cluster "$GOOD" "$(svc evil port 2024-01-02T00:00:00Z 192.168.1.241 "80 to 10.0.0.9
dnat tcp 22" '"80 to 10.0.0.9\ndnat tcp 22"/TCP')" \
	"$(svc evil num 2024-01-02T00:00:00Z 192.168.1.242 "1e3,8.5,-1,70000" 1e3/TCP 8.5/TCP -1/TCP 70000/TCP)" \
	"$(svc evil ip4 2024-01-02T00:00:00Z "192.168.1.243
lease 1" 80)" "$(svc evil ip6 2024-01-02T00:00:00Z "2001:db8::1
" 80)"
run
is "$(last check)" "good 1" "ports that are not 1-65535 and addresses with a line break give no fragment line"
like "$out" "evil/port: port .* is not a TCP or UDP port of the Service" "the smuggling port is named in the log"

# ---- kubectl that succeeds with nothing, or with garbage: never an empty stream

n0=$(sessions)
for garbage in '' '{}' '[]' 'null' '{"items": null}' '{"kind": "Status", "code": 500}' \
	'{"apiVersion": "v1", "kind": "List", "items": [' '{"items": {}}' \
	'{"kind": "List", "items": []} {"kind": "List", "items": []}'; do
	printf '%s' "$garbage" >"$T/services.json"
	run
	is "$(sessions)/$rc" "$n0/1" "kubectl printing '$garbage' with status 0: no stream, exit 1"
done
printf '{"kind": "List", "items": []}' >"$T/services.json"
echo 1 >"$T/list.rc"
run
is "$(sessions)/$rc" "$n0/1" "kubectl failing after a valid empty list: no stream, exit 1"
rm "$T/list.rc"

# ---- one malformed Service does not stop the round

cluster "$GOOD" '{"metadata": {"namespace": "evil", "name": "ann"}, "spec": {"type": "LoadBalancer"}, "annotations": 1}' \
	'{"metadata": {"namespace": "evil", "name": "a", "annotations": "natwarden.io/forward"}, "spec": {"type": "LoadBalancer"}}' \
	'{"metadata": {"namespace": "evil", "name": "b", "annotations": {"natwarden.io/forward": "80"}}, "spec": {"type": "LoadBalancer", "ports": [80, {"port": 80, "protocol": 6}]}, "status": {"loadBalancer": {"ingress": ["x", {"ip": 5}]}}}' \
	'{"metadata": "x", "spec": {"type": "LoadBalancer"}}' '{"spec": "LoadBalancer"}' '5' 'null'
run
is "$(last check)" "good 1" "Services the sync cannot read are left out, the others still sent"
like "$(last stream)" "^fragment k8s-web-web " "the good Service's fragment is in the stream"
is "$rc" 0 "and the round succeeds"

# ---- sizes: one huge fragment, many fragments

ports=()
for p in $(seq 1000 4999); do ports+=("$p/TCP"); done
cluster "$GOOD" "$(svc evil huge 2024-01-02T00:00:00Z 192.168.1.244 "$(seq -s, 1000 4999)" "${ports[@]}")" \
	"$(svc evil dup 2024-01-02T00:00:00Z 192.168.1.245 "$(printf '80,%.0s' $(seq 3000))80")"
run
is "$(last check)" "good 2" "a fragment over 64 KiB is left out, the others are sent"
like "$out" "evil/huge: .*65536" "saying so"
is "$(grep -c '^dnat' <"$T/stream.$(sessions)")" 2 "a port named many times gives one line"
# (each already reported as accepted: no Event, no annotation, a quick round)
mapfile -t items < <(jq -c -n --argjson svc "$(svc t s 0 192.168.2.1 80)" --arg r "$R" 'range(1; 301) as $i
	| $svc | .metadata |= (.namespace = "tenant\($i)" | .name = "s\($i)" | .uid = "tenant\($i)/s\($i)"
		| .creationTimestamp = "2024-02-01T00:\($i / 60 | floor + 100 | tostring | .[1:]):\($i % 60 + 100 | tostring | .[1:])Z"
		| .annotations["natwarden.io/status"] = $r + ": accepted")
	| .status.loadBalancer.ingress[0].ip = "192.168.2.\($i % 250 + 1)"')
cluster "$GOOD" "${items[@]}"
run
is "$(last check)" "good 256" "300 Services: a stream of 256 fragments, not one the router refuses whole"
like "$(last stream)" "^fragment k8s-web-web " "the oldest Services keep theirs"
is "$(grep -m1 '^fragment ' "$T/stream.$(sessions)" | cut -d' ' -f2)" k8s-web-web \
	"the oldest come first in the stream (a router's max_fragments is theirs first)"
like "$out" "tenant300/s300: .*256" "the newest are left out, saying so"

# ---- names that kubectl would read as options, and non-ASCII names

: >"$T/calls.jsonl"
cluster "$GOOD" "$(svc evil --all 2024-01-02T00:00:00Z 192.168.1.246 80)" \
	"$(svc evil -nkube-system 2024-01-02T00:00:00Z 192.168.1.247 80)" \
	"$(svc --all-namespaces x=y 2024-01-02T00:00:00Z 192.168.1.248 80)" \
	"$(svc evil "äöü-$(printf '%0100d' 0)" 2024-01-02T00:00:00Z 192.168.1.249 80)"
run
is "$(last check)" "good 5" "odd names reach the router as fragment names only, lengths in bytes"
is "$(jq -r 'select(.[0] == "annotate" or .[0] == "get" and .[1] == "service")
	| .[index(["--"]) // 0:] | map(select(startswith("-") and . != "--")) | .[]' "$T/calls.jsonl" | sort -u)" "" \
	"no name or namespace from the cluster reaches kubectl where it reads options"

# ---- a hostile router

cluster "$GOOD"
rm -f "$T/events.jsonl"
cat >"$T/reply" <<'SH'
#!/bin/sh
printf '%s\n' '{"fragment":"k8s-web-web","verdict":"rejected","renewed":false,"live":[],"reasons":["x\u001b[31m\nnatwarden-sync: forged\u009b2J", 5]}' \
	'{"fragment":"k8s-other\nnatwarden-sync: forged","verdict":"accepted","reasons":"abc"}' '{"fragment":5}' '[1]'
SH
chmod +x "$T/reply"
run
like "$out" "^natwarden-sync: $R: k8s-web-web: rejected" "a hostile answer is still read"
is "$(printf '%s\n' "$out" | grep -c '^natwarden-sync: forged')" 0 "it forges no line of the log"
is "$(printf '%s\n' "$out" | LC_ALL=C grep -c -P '[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]')" 0 \
	"nor puts control characters into the log"
is "$(jq -r '.reason' "$T/events.jsonl" 2>/dev/null)" NatwardenRejected "the Service gets its Event"
is "$(jq -r '.message | test("[\u0000-\u0009\u000b-\u001f\u007f-\u009f]")' "$T/events.jsonl" 2>/dev/null)" false \
	"without control characters"
printf 'not json\n{"fragment": "k8s-web-web", "verdict": "acc' >"$T/reply.out"
printf '#!/bin/sh\ncat %s\nexit 255\n' "$T/reply.out" >"$T/reply"
rm -f "$T/events.jsonl"
run
is "$(jq -r '.reason' "$T/events.jsonl" 2>/dev/null)" NatwardenRouterUnreachable "an answer cut short is reported as unreachable"
rm "$T/reply"

# ---- the watch: changes that leave the stream as it was make no SSH session

cluster "$GOOD"
rm -f "$T"/ssh.n "$T"/stream.* "$T"/check.* "$T"/emitted
for _ in $(seq 15); do echo service/web; done >"$T/watch.lines"
env -i PATH="$T/bin:$PATH" HOME="$T" KUBECTL="$T/bin/kubectl" NATWARDEN_SSH="$T/bin/ssh" \
	NATWARDEN_ROUTERS="$R" NATWARDEN_LEASE=600 "$SYNC" --watch --resync 600 >"$T/watch.log" 2>&1 &
SYNC_PID=$!
# bounded waits, not a fixed pause: the first round's session, then all 15 events handed to the
# sync (the watch stays open 60 s, longer than this takes)
has_session() { [ "$(sessions)" -ge 1 ]; }
all_emitted() { [ "$(wc -l <"$T/emitted" 2>/dev/null || echo 0)" -ge 15 ]; }
nw_wait_for 30 has_session
nw_wait_for 30 all_emitted
sleep 0.5 # the last event's round: should it send (the failure looked for), it is counted
is "$(sessions)" 1 "15 watch events that change nothing: one SSH session (the first round)"
cluster "$(svc web web 2024-01-01T00:00:00Z 192.168.1.250 80)"
echo service/web >>"$T/watch.lines"
nw_wait_for 10 eval '[ "$(sessions)" -ge 2 ]'
kill "$SYNC_PID"
wait "$SYNC_PID" 2>/dev/null
SYNC_PID=
is "$(sessions)" 2 "a change that does alter the stream makes one more session"
like "$(last stream)" "dnat tcp 80 to 192.168.1.250" "a change that does alter the stream is sent"
