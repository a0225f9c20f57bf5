#!/bin/bash
# SPDX-License-Identifier: MIT
# The scripted Kubernetes API server of the sync's tests (tests/integration/fakekube.py)
# against the real kubectl, with exactly the commands natwarden-sync uses:
#   kubectl get services --all-namespaces -o json
#   kubectl get services --all-namespaces --watch --output-watch-events -o json  (one line per
#       event: {"type", "object"}; an ERROR event carries the 410's Status)
#   kubectl annotate service -n NS NAME --overwrite natwarden.io/status=VALUE  (a merge patch)
#   kubectl create -f - (a v1 Event, with the default --validate=strict), kubectl patch event
# and the server's scripting: Services put and deleted while a watch runs, watches dropped,
# resource versions expired, requests failed. It needs neither root nor a build: only
# python3, kubectl, curl and jq. kubectl's discovery cache goes to a temporary directory.
#
# What kubectl 1.32 does, as asserted here: a watch whose connection drops ends with status 0
# and says nothing; a 410 ERROR event is printed like any event (-o json --output-watch-events:
# {"type":"ERROR","object":{"kind":"Status",...,"code":410}}) and the watch ends with status 0;
# a 503 or 500 fails the command with status 1 and "Error from server (ServiceUnavailable): ..."
# on stderr, without a retry unless the answer has Retry-After.
#
#   tests/integration/fakekube.sh          NW_KEEP=1 keeps the temporary directory
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh" # the TAP helpers only
for cmd in python3 kubectl curl jq timeout; do
	command -v "$cmd" >/dev/null || skip_all "needs $cmd"
done
FK_T=$(mktemp -d /tmp/natwarden-fakekube.XXXXXX) || { echo "Bail out! mktemp"; exit 1; }
FK_PIDS=()
fk_cleanup() {
	local rc=$1 pid
	for pid in "${FK_PIDS[@]}"; do
		nw_ours "$pid" && kill "$pid" 2>/dev/null
	done
	for pid in "${FK_PIDS[@]}"; do
		nw_wait_for 5 fk_ended "$pid" || { nw_ours "$pid" && kill -9 "$pid" 2>/dev/null; }
		wait "$pid" 2>/dev/null
	done
	nw_finish "$rc" "$FK_T"
}
trap 'fk_cleanup $?' EXIT
trap 'exit 130' INT TERM HUP

fk_ended() { ! nw_ours "$1"; }

# ---- the server, started with a scenario of two Services

svc() { # svc NS NAME: a LoadBalancer Service forwarding port 80
	jq -cn --arg ns "$1" --arg name "$2" '{apiVersion: "v1", kind: "Service",
		metadata: {namespace: $ns, name: $name, annotations: {"natwarden.io/forward": "80"}},
		spec: {type: "LoadBalancer", ports: [{port: 80, protocol: "TCP"}]},
		status: {loadBalancer: {ingress: [{ip: "192.168.1.240"}]}}}'
}
jq -n --argjson a "$(svc a one)" --argjson b "$(svc b two)" '{services: [$a, $b]}' \
	>"$FK_T/scenario.json"
REC=$FK_T/records.jsonl
python3 "$(dirname "$0")/fakekube.py" --port 0 --port-file "$FK_T/port" --record "$REC" \
	--scenario "$FK_T/scenario.json" >"$FK_T/server.log" 2>&1 &
FK_PIDS+=($!)
nw_wait_for 10 test -s "$FK_T/port" || { echo "Bail out! the server did not start"; exit 1; }
URL=http://127.0.0.1:$(cat "$FK_T/port")
ok "the server listens on $URL"
cat >"$FK_T/kubeconfig" <<-CONF
	apiVersion: v1
	kind: Config
	clusters: [{name: fake, cluster: {server: "$URL"}}]
	users: [{name: fake, user: {}}]
	contexts: [{name: fake, context: {cluster: fake, user: fake}}]
	current-context: fake
CONF
export KUBECONFIG=$FK_T/kubeconfig KUBECACHEDIR=$FK_T/cache

ctl() { # ctl METHOD PATH [BODY]: the server's control API
	curl -sS -f --max-time 5 -X "$1" ${3+--data-binary "$3"} "$URL/_test/$2"
}
kc() { timeout 20 kubectl "$@"; }
# requests recorded so far that match a jq condition, e.g. count '.method == "PATCH"'
count() { jq -s "[.[] | select($1)] | length" "$REC"; }
watches() { ctl GET state | jq .watches; }
names() { jq -r '[.items[] | .metadata.namespace + "/" + .metadata.name] | join(" ")'; }

is "$(kc version -o json 2>/dev/null | jq -r .serverVersion.gitVersion)" v1.32.0 \
	"kubectl version reads /version (the Cloud SDK's dispatcher picks its kubectl by it)"

# ---- 1. the full list

is "$(kc get services --all-namespaces -o json | names)" "a/one b/two" \
	"get services --all-namespaces -o json: the scenario's Services"
ctl PUT services/web/nginx "$(svc web nginx)" >/dev/null
is "$(kc get services --all-namespaces -o json | names)" "a/one b/two web/nginx" \
	"a Service put through /_test/ is in the next list"
is "$(count '.method == "GET" and .path == "/api/v1/services" and .query.watch == null')" 2 \
	"the record counts the two list requests"
check "kubectl's discovery cache is in KUBECACHEDIR" test -d "$FK_T/cache/discovery"

# ---- 2. the watch

# events FILE: what a watch printed with --output-watch-events -o json, as "TYPE NS/NAME" or
# "ERROR CODE REASON" lines
events() {
	jq -r 'if .type == "ERROR" then "ERROR \(.object.code) \(.object.reason)"
		else "\(.type) \(.object.metadata.namespace)/\(.object.metadata.name)" end' "$1" 2>/dev/null
}
has_event() { events "$1" | grep -qxF "$2"; }
# watch NAME ARGS...: kubectl get services -A --watch ARGS in the background, to $FK_T/NAME.out
# (stderr NAME.err); its PID in WATCH_PID
watch_start() {
	local name=$1
	shift
	timeout 60 kubectl get services --all-namespaces --watch "$@" \
		>"$FK_T/$name.out" 2>"$FK_T/$name.err" &
	WATCH_PID=$!
	FK_PIDS+=("$WATCH_PID")
}
# watch_end PID: wait (10 s at most) for a watch to end; its exit status in WATCH_RC (-1: still
# running, killed)
watch_end() {
	WATCH_RC=-1
	if nw_wait_for 10 fk_ended "$1"; then
		wait "$1"
		WATCH_RC=$?
	else
		kill "$1" 2>/dev/null
	fi
}
# waits DESCRIPTION COMMAND...: a test point: COMMAND succeeds within 10 s (polled every 50 ms);
# how long it took goes to the diagnostics
waits() {
	local desc=$1 start
	shift
	start=$(nw_ms)
	if nw_wait_for 10 "$@"; then
		ok "$desc"
		diag "  after $(($(nw_ms) - start)) ms"
	else
		not_ok "$desc"
		diag "  not after 10 s"
	fi
}
watches_open() { [ "$(watches)" = "$1" ]; }

watch_start events --output-watch-events -o json
EV_PID=$WATCH_PID
watch_start names --watch-only -o name
NAMES_PID=$WATCH_PID
waits "both watches open (/_test/state)" watches_open 2
is "$(events "$FK_T/events.out")" "ADDED a/one
ADDED b/two
ADDED web/nginx" "--watch --output-watch-events -o json: the list first, one ADDED line each"
is "$(count '.query.watch == "true" and .path == "/api/v1/services"')" 2 \
	"each kubectl lists, then watches (GET /api/v1/services?watch=true&resourceVersion=N)"
ctl PUT services/web/new "$(svc web new)" >/dev/null
waits "a Service put: the watch prints its ADDED line" has_event "$FK_T/events.out" "ADDED web/new"
ctl DELETE services/web/new >/dev/null
waits "a Service deleted: DELETED" has_event "$FK_T/events.out" "DELETED web/new"
is "$(jq -c 'keys' "$FK_T/events.out" | sort -u)" '["object","type"]' \
	"every line of the -o json watch is one whole event"
names_lines() { [ "$(wc -l <"$FK_T/names.out")" -ge "$1" ]; }
nw_wait_for 5 names_lines 2
is "$(cat "$FK_T/names.out")" "service/new
service/new" "--watch-only -o name: one line per event, the name only (no namespace, no type)"

# ---- 3. annotate

rv_before=$(kc get service -n web nginx -o jsonpath='{.metadata.resourceVersion}')
out=$(kc annotate service -n web nginx --overwrite natwarden.io/status=forwarded 2>&1)
is "$out" "service/nginx annotated" "kubectl annotate --overwrite succeeds"
is "$(kc get service -n web nginx -o jsonpath='{.metadata.annotations.natwarden\.io/status}')" \
	forwarded "the annotation reads back through get -o jsonpath"
kc annotate service -n web nginx --overwrite natwarden.io/status='refused: port 22' >/dev/null
is "$(kc get service -n web nginx -o jsonpath='{.metadata.annotations.natwarden\.io/status}')" \
	"refused: port 22" "--overwrite replaces it"
is "$(kc get service -n web nginx -o jsonpath='{.metadata.annotations.natwarden\.io/forward}')" \
	80 "the other annotations stay"
rv_after=$(kc get service -n web nginx -o jsonpath='{.metadata.resourceVersion}')
check "the patches bumped the resourceVersion ($rv_before -> $rv_after)" test "$rv_after" -gt "$rv_before"
is "$(jq -c 'select(.method == "PATCH") | [.content_type, .body]' "$REC" | head -n 1)" \
	'["application/merge-patch+json",{"metadata":{"annotations":{"natwarden.io/status":"forwarded"}}}]' \
	"annotate sends a JSON merge patch of the annotation alone"
waits "the watch saw the patch as MODIFIED" has_event "$FK_T/events.out" "MODIFIED web/nginx"

# ---- 4. Events

event_json() {
	jq -cn --arg uid "$(kc get service -n web nginx -o jsonpath='{.metadata.uid}')" '{
		apiVersion: "v1", kind: "Event", metadata: {name: "nginx.nw1", namespace: "web"},
		involvedObject: {apiVersion: "v1", kind: "Service", namespace: "web", name: "nginx",
			uid: $uid},
		reason: "NatwardenRejected", message: "router r1: port 22 is reserved", type: "Warning",
		count: 1, firstTimestamp: "2025-01-01T00:00:00Z", lastTimestamp: "2025-01-01T00:00:00Z",
		source: {component: "natwarden-sync"}}'
}
out=$(event_json | kc create -f - 2>&1)
is "$out" "event/nginx.nw1 created" "kubectl create -f - with an Event, default validation"
is "$(jq -r 'select(.method == "POST") | "\(.path) \(.query.fieldValidation) \(.body.reason) \(.body.involvedObject.kind)/\(.body.involvedObject.name)"' "$REC")" \
	"/api/v1/namespaces/web/events Strict NatwardenRejected Service/nginx" \
	"the record holds the Event's reason and involvedObject (validation left to the server)"
uid=$(kc get service -n web nginx -o jsonpath='{.metadata.uid}')
is "$(jq -r 'select(.method == "POST") | .body.involvedObject.uid' "$REC")" "$uid" \
	"the involvedObject's uid is the Service's"
out=$(kc patch event -n web nginx.nw1 -p '{"count":2,"lastTimestamp":"2025-01-01T00:01:00Z"}' 2>&1)
is "$out" "event/nginx.nw1 patched" "kubectl patch event (a strategic merge patch)"
is "$(kc get event -n web nginx.nw1 -o jsonpath='{.count} {.lastTimestamp} {.reason}')" \
	"2 2025-01-01T00:01:00Z NatwardenRejected" "the patched Event reads back"
is "$(count '.method == "PATCH" and .content_type == "application/strategic-merge-patch+json"')" 1 \
	"kubectl patch sends application/strategic-merge-patch+json"
out=$(kc patch event -n web nginx.nw1 --type=json -p '[{"op":"replace","path":"/count","value":3}]' 2>&1)
is "$out $(kc get event -n web nginx.nw1 -o jsonpath='{.count}')" "event/nginx.nw1 patched 3" \
	"kubectl patch --type=json (a JSON patch)"

# ---- 5. a dropped watch, an expired resourceVersion

is "$(ctl POST drop-watches)" '{"dropped": 2}' "drop-watches closes both open watches"
watch_end "$EV_PID"
diag "a dropped watch: kubectl exit status $WATCH_RC, stderr: $(tr '\n' ' ' <"$FK_T/events.err")"
is "$WATCH_RC" 0 "kubectl get --watch ends when its connection drops, with status 0"
is "$(cat "$FK_T/events.err")" "" "and prints no error"
watch_end "$NAMES_PID"
is "$WATCH_RC" 0 "the other watch too"

watch_start expire --output-watch-events -o json
EX_PID=$WATCH_PID
waits "a new watch open" watches_open 1
old_rv=$(kc get services -A -o json | jq -r '.items | map(.metadata.resourceVersion | tonumber) | min')
ctl POST expire >/dev/null
rv=$(ctl GET state | jq .resourceVersion)
waits "expire: the open watch prints the ERROR event" has_event "$FK_T/expire.out" "ERROR 410 Expired"
watch_end "$EX_PID"
diag "a 410: kubectl exit status $WATCH_RC, stderr: $(tr '\n' ' ' <"$FK_T/expire.err")"
is "$WATCH_RC" 0 "kubectl get --watch ends on the 410 ERROR event, with status 0"
is "$(tail -n 1 "$FK_T/expire.out" | jq -r '.object.message')" \
	"too old resource version: $rv ($rv)" \
	"its message names the watch's resourceVersion and the current one"
ctl PUT services/web/later "$(svc web later)" >/dev/null
is "$(timeout 10 kubectl get --raw "/api/v1/services?watch=true&resourceVersion=$old_rv" |
	jq -c '[.type, .object.code, .object.reason]')" '["ERROR",410,"Expired"]' \
	"a new watch from a resourceVersion older than the expiry gets the 410 and ends"
watch_start after --output-watch-events -o json
AF_PID=$WATCH_PID
waits "a fresh list and watch" watches_open 1
ctl PUT services/web/after "$(svc web after)" >/dev/null
waits "a fresh list and watch after the expiry works" has_event "$FK_T/after.out" "ADDED web/after"
check "it listed web/later first" has_event "$FK_T/after.out" "ADDED web/later"

# ---- 6. failures

ctl POST 'fail?count=1&status=503' >/dev/null
out=$(kc get services --all-namespaces -o json 2>&1 >/dev/null)
rc=$?
diag "a 503: kubectl exit status $rc, stderr: $out"
is "$rc $out" "1 Error from server (ServiceUnavailable): injected failure (503)" \
	"a 503 fails the list: status 1, the Status message"
is "$(kc get services --all-namespaces -o json | names)" \
	"a/one b/two web/after web/later web/nginx" "the next request succeeds"
before=$(count '.path == "/api/v1/services"')
ctl POST 'fail?count=2&status=503&retry_after=1' >/dev/null
is "$(kc get services --all-namespaces -o json | names)" \
	"a/one b/two web/after web/later web/nginx" "503s with Retry-After: kubectl retries and succeeds"
is "$(($(count '.path == "/api/v1/services"') - before))" 3 "after exactly 2 retries"
ctl POST 'fail?count=1&status=500' >/dev/null
out=$(kc annotate service -n web nginx --overwrite natwarden.io/status=x 2>&1)
is "$? $out" "1 Error from server (InternalError): injected failure (500)" \
	"a 500 fails annotate"
ctl POST 'fail?count=0' >/dev/null
ctl POST drop-watches >/dev/null
watch_end "$AF_PID"

is "$(ctl GET records | jq -c '.[]' | wc -l)" "$(wc -l <"$REC")" \
	"/_test/records and the record file hold the same requests"
is "$(curl -s -o /dev/null -w '%{http_code}' "$URL/_test/nonsense")" 404 \
	"an unknown control endpoint is a 404"
