#!/bin/bash
# SPDX-License-Identifier: MIT
# natwarden-sync as a Kubernetes controller, against the real kubectl and two real routers.
#
# The cluster is a scripted API server (fakekube.py) in the cluster's namespace; the sync runs
# there in --watch mode and follows the Services through kubectl's watch. The routers are an
# HA pair on the LAN: router A ($NW_NS, the one with the WAN link) and router B, each with its
# own natwardend and a real sshd whose key runs only natwarden's forced command. Covered: a
# new Service reaches both routers and traffic flows; a load-balancer IP change moves the
# forward; a rejected port gives a NatwardenRejected Event with the router's reason; router B
# down gives B's Warning Event while A still gets its update, and B catches up when it is
# back; a dual-stack Service gets a forward and a pinhole; deletion withdraws; a dropped watch
# and a 410 Gone recover; the periodic round renews leases; hostile names and annotations
# reach a router only as a sanitized fragment name; --check finds drift; and every round is
# one SSH session per router (counted in sshd's log).
# shellcheck disable=SC2016 # the strings given to eval expand when they are evaluated
. "$(dirname "$0")/lib.sh"
nw_init
[ -x /usr/sbin/sshd ] || skip_all "needs openssh-server (sshd)"
for cmd in ssh kubectl jq curl flock timeout; do
	command -v "$cmd" >/dev/null || skip_all "needs $cmd"
done
nw_setup
NW_U1_DEST6=2001:db8:1::/64 nw_policy
. "$(dirname "$0")/net.sh"
K8S_NS=nwk8s$NW_ID
CLUSTER=192.168.1.20
RB_NS=nwrb$NW_ID
ROUTER_B=192.168.1.2
net_topology "$K8S_NS:$CLUSTER"
net_server 80 443
NAT_UPDATE=$NW_U1
SYNC=$NW_TOP/client/kubernetes/natwarden-sync

# ---- router A: natwardend and sshd on 192.168.1.1
nw_start || { not_ok "natwardend starts on router A"; exit 1; }
check "sshd runs on router A" net_sshd "$NAT_UPDATE"
SSH_A=$SSH
KEY=$NW_T/ssh/cluster_key

# ---- router B: its own namespace on the LAN bridge, its own natwardend, policy and sshd
RB_T=$NW_T/b
mkdir -p "$RB_T" && chmod 0755 "$RB_T"
router_b() {
	nw_netns "$RB_NS"
	ip -n "$NW_NS" link add lanb type veth peer name eth0 netns "$RB_NS" &&
		ip -n "$NW_NS" link set lanb master br-lan && ip -n "$NW_NS" link set lanb up &&
		ip -n "$RB_NS" addr add "$ROUTER_B/24" dev eth0 && ip -n "$RB_NS" link set eth0 up &&
		ip -n "$RB_NS" link add wan0 type veth peer name wanpeer && ip -n "$RB_NS" addr add 203.0.113.8/24 dev wan0 &&
		ip -n "$RB_NS" link set wan0 up
}
check "router B on the LAN (192.168.1.2)" router_b
A_DPID=$NW_DPID A_NOTIFY=$NW_NOTIFY
NW_T=$RB_T NW_WAN_ADDR=203.0.113.8 NW_U1_DEST6=2001:db8:1::/64 nw_policy
start_b() { NW_T=$RB_T NW_NS=$RB_NS NW_NOTIFY='' nw_start; }
check "natwardend starts on router B" start_b
NW_DPID=$A_DPID NW_NOTIFY=$A_NOTIFY
# B's sshd: its own host key, the cluster's one key (with B's paths in the forced command)
sshd_b() {
	NW_T=$RB_T NW_NS=$RB_NS ROUTER_LAN=$ROUTER_B net_sshd "$NAT_UPDATE" || return 1
	local forced="$NW_CLIENT --spool $RB_T/spool --runtime $RB_T/run --config $RB_T/policy.ini ssh-command"
	echo "command=\"$forced\",restrict $(cat "$KEY.pub")" >"$RB_T/ssh/keys/$NAT_UPDATE"
	SSHD_B=${NW_PIDS[-1]}
}
check "sshd runs on router B" sshd_b
usermod -d "$NW_T/home" "$NAT_UPDATE"
cat "$NW_T/ssh/known_hosts" "$RB_T/ssh/known_hosts" >"$NW_T/known_hosts"
SSH_CMD="ssh -F none -o BatchMode=yes -o UserKnownHostsFile=$NW_T/known_hosts -o StrictHostKeyChecking=yes -o ConnectTimeout=3 -i $KEY"
RA=$NAT_UPDATE@$ROUTER_LAN
RB=$NAT_UPDATE@$ROUTER_B
: "$SSH_A"

# ---- the cluster: the API server and kubectl's configuration
K=$NW_T/kube
mkdir -p "$K/home"
ip netns exec "$K8S_NS" python3 "$NW_TOP/tests/integration/fakekube.py" --port 0 \
	--port-file "$K/port" --record "$K/records.jsonl" >"$K/server.log" 2>&1 &
NW_PIDS+=($!)
nw_wait_for 10 test -s "$K/port" || { not_ok "the API server starts"; exit 1; }
API=http://127.0.0.1:$(cat "$K/port")
cat >"$K/config" <<-CONF
	apiVersion: v1
	kind: Config
	clusters: [{name: test, cluster: {server: "$API"}}]
	users: [{name: test, user: {}}]
	contexts: [{name: test, context: {cluster: test, user: test}}]
	current-context: test
CONF
kenv=(env HOME="$K/home" KUBECONFIG="$K/config" KUBECACHEDIR="$K/cache")
kc() { ip netns exec "$K8S_NS" "${kenv[@]}" kubectl "$@"; }
api() { # api METHOD PATH [BODY]
	ip netns exec "$K8S_NS" curl -sf -X "$1" ${3+--data-binary "$3"} "$API/_test/$2" >/dev/null
}
# service NS NAME IPS FORWARD [PORT/PROTO...]: a LoadBalancer Service, put into the cluster
service() {
	local ns=$1 name=$2 ips=$3 fwd=$4
	shift 4
	local ports=("$@")
	[ ${#ports[@]} -gt 0 ] || ports=(80/TCP 443/TCP)
	api PUT "services/$ns/$(jq -rn --arg n "$name" '$n | @uri')" "$(jq -cn --arg ns "$ns" --arg name "$name" --arg ips "$ips" \
		--arg fwd "$fwd" --arg ports "${ports[*]}" '{apiVersion: "v1", kind: "Service",
		metadata: {namespace: $ns, name: $name, annotations: {"natwarden.io/forward": $fwd}},
		spec: {type: "LoadBalancer", ports: [$ports | split(" ")[] | split("/")
			| {port: (.[0] | tonumber), protocol: .[1]}]},
		status: {loadBalancer: {ingress: [$ips | split(",")[] | select(. != "") | {ip: .}]}}}')"
}
# what a router holds for $NAT_UPDATE: "FRAGMENT TYPE PROTO PUBLIC TARGET", sorted
holds() { # holds RT-DIR
	nw_as "$NAT_UPDATE" "$NW_CLIENT" --runtime "$1/run" list --json |
		jq -r '.[] | "\(.fragment) \(.type) \(.protocol // "-") \(.public // "-") \(.target)"' | sort
}
held_a() { holds "$NW_T"; }
held_b() { holds "$RB_T"; }
# arrive WHICH WANT DESCRIPTION: router WHICH (a or b) comes to hold exactly WANT (20 s at
# most); the time it took is shown, never judged (the benchmark owns figures)
is_held() { [ "$("held_$1")" = "$2" ]; }
arrive() {
	local start
	start=$(nw_ms)
	if nw_wait_for 20 is_held "$1" "$2"; then
		ok "$3 (after $(($(nw_ms) - start)) ms)"
	else
		not_ok "$3"
		"held_$1" | sed 's/^/#   holds: /'
		printf '%s\n' "$2" | sed 's/^/#   want:  /'
	fi
}
events() { # the Events sent so far: "NAME ROUTER REASON TYPE", one per line
	jq -r 'select(.method == "POST" and (.path | endswith("/events"))) | .body
		| "\(.involvedObject.name) \(.message | split(" ")[1]) \(.reason) \(.type)"' "$K/records.jsonl"
}
status_of() { kc get service -n "$1" "$2" -o jsonpath='{.metadata.annotations.natwarden\.io/status}'; }
accepts() { grep -c "Accepted publickey for $NAT_UPDATE" "$1/sshd.log"; } # sshd connections

# ---- the sync, following the watch, with a full round every 4 s
ip netns exec "$K8S_NS" "${kenv[@]}" NATWARDEN_ROUTERS="$RA $RB" NATWARDEN_SSH="$SSH_CMD" \
	NATWARDEN_LEASE=600 NATWARDEN_TIMEOUT=20 "$SYNC" --watch --resync 4 >"$K/sync.log" 2>&1 &
SYNC_PID=$!
NW_PIDS+=("$SYNC_PID")
# rounds in which the router answered (an unreachable one makes no SSH session)
rounds() { grep "^natwarden-sync: $1: round [0-9]*: " "$K/sync.log" | grep -vc ': unreachable$'; }
nw_wait_for 20 eval '[ "$(rounds "$RA")" -ge 1 ] && [ "$(rounds "$RB")" -ge 1 ]' ||
	{ not_ok "the sync makes its first round"; sed 's/^/#   /' "$K/sync.log"; exit 1; }
ok "the sync watches and makes its first round on both routers"

# --- a new annotated Service reaches both routers; traffic flows through router A
service ingress-nginx ingress-nginx-controller 192.168.1.240 80,443
INGRESS="k8s-ingress-nginx-ingress-nginx-controller dnat tcp 443 192.168.1.240:443
k8s-ingress-nginx-ingress-nginx-controller dnat tcp 80 192.168.1.240:80"
arrive a "$INGRESS" "a new annotated Service reaches router A"
arrive b "$INGRESS" "and router B"
is "$(wan 80)" "served 192.168.1.240:80 to $WAN_CLIENT" "a WAN client reaches the Service through router A"
nw_wait_for 10 eval '[ "$(events | grep -c "^ingress-nginx-controller .* NatwardenAccepted Normal$")" -ge 2 ]'
is "$(events | grep '^ingress-nginx-controller' | sort)" \
	"ingress-nginx-controller $RA NatwardenAccepted Normal
ingress-nginx-controller $RB NatwardenAccepted Normal" "one NatwardenAccepted Event per router"
nw_wait_for 10 eval '[ "$(status_of ingress-nginx ingress-nginx-controller | wc -l)" -ge 1 ]'
is "$(status_of ingress-nginx ingress-nginx-controller)" "$RA: accepted
$RB: accepted" "natwarden.io/status has one line per router"

# --- MetalLB moves the IP: the forward moves on both routers
service ingress-nginx ingress-nginx-controller 192.168.1.241 80,443
MOVED=${INGRESS//240/241}
arrive a "$MOVED" "a load-balancer IP change moves the forward on router A"
arrive b "$MOVED" "and on router B"

# --- a port the policy refuses: the Service gets a NatwardenRejected Event with the reason
service games game 192.168.1.242 9000 9000/UDP
nw_wait_for 10 eval '[ "$(events | grep -c "^game .* NatwardenRejected Warning$")" -ge 2 ]'
is "$(events | grep '^game ' | sort)" "game $RA NatwardenRejected Warning
game $RB NatwardenRejected Warning" "a rejected port gives a NatwardenRejected Warning Event from each router"
msg=$(jq -r 'select(.method == "POST" and .body.reason == "NatwardenRejected") | .body.message' "$K/records.jsonl" | head -n 20)
like "$msg" "^k8s-games-game:2: port 9000 is not allowed for $NAT_UPDATE" "the Event carries the router's reason, with its line"
nw_wait_for 10 eval '[ "$(status_of games game | grep -c ": rejected: ")" -ge 2 ]'
like "$(status_of games game)" "^$RA: rejected: k8s-games-game:2: port 9000 is not allowed" "and the annotation the first reason"
arrive a "$MOVED" "router A still holds the ingress only"

# --- router B down: B's Warning Event, A still updated; B catches up when it is back
kill "$SSHD_B"
wait "$SSHD_B" 2>/dev/null
service ingress-nginx ingress-nginx-controller 192.168.1.243 80,443
arrive a "${INGRESS//240/243}" "with router B down, router A still gets the update"
nw_wait_for 20 eval 'events | grep -q "^ingress-nginx-controller $RB NatwardenRouterUnreachable Warning$"'
like "$(events)" "^ingress-nginx-controller $RB NatwardenRouterUnreachable Warning$" \
	"router B's outcome is a NatwardenRouterUnreachable Warning Event"
nw_wait_for 10 eval 'status_of ingress-nginx ingress-nginx-controller | grep -q "^$RB: unreachable$"'
like "$(status_of ingress-nginx ingress-nginx-controller)" "^$RB: unreachable$" "and B's line in natwarden.io/status"
is "$(held_b)" "$MOVED" "router B still holds what it had"
ip netns exec "$RB_NS" /usr/sbin/sshd -D -e -f "$RB_T/ssh/sshd_config" 2>>"$RB_T/sshd.log" &
SSHD_B=$!
NW_PIDS+=("$SSHD_B")
arrive b "${INGRESS//240/243}" "router B back: the periodic round brings it in step"
nw_wait_for 10 eval 'status_of ingress-nginx ingress-nginx-controller | grep -q "^$RB: accepted$"'
is "$(events | grep -c "^ingress-nginx-controller $RB NatwardenAccepted")" 2 "with a new NatwardenAccepted Event for B"

# --- dual-stack: a forward and a pinhole in one fragment
service web web 192.168.1.244,2001:db8:1::244 8443 8443/TCP
WEB="k8s-web-web dnat tcp 8443 192.168.1.244:8443
k8s-web-web pinhole tcp 8443 2001:db8:1::244"
arrive a "$(printf '%s\n%s\n' "${INGRESS//240/243}" "$WEB" | sort)" "a dual-stack Service gets a forward and a pinhole"

# --- deletion withdraws
api DELETE services/web/web
arrive a "${INGRESS//240/243}" "deleting the Service withdraws its forward and pinhole on router A"
arrive b "${INGRESS//240/243}" "and on router B"

# --- a dropped watch and a 410 Gone: the sync opens the watch again and catches up
api POST drop-watches
service ingress-nginx ingress-nginx-controller 192.168.1.245 80,443
arrive a "${INGRESS//240/245}" "after a dropped watch, a change still arrives"
api POST expire
service ingress-nginx ingress-nginx-controller 192.168.1.246 80,443
arrive a "${INGRESS//240/246}" "after a 410 Gone, a change still arrives"
like "$(cat "$K/sync.log")" "the watch ended" "the sync says the watch ended"

# --- a burst of changes becomes few rounds; the API failing for a while stops nothing
# rounds the sync started for changes of the Services (not the periodic ones)
change_rounds() { grep -c '^natwarden-sync: round [0-9]* ([0-9]* change' "$K/sync.log"; }
watching() { [ "$(ip netns exec "$K8S_NS" curl -sf "$API/_test/state" | jq .watches)" -ge 1 ]; }
nw_wait_for 20 watching || diag "no watch open before the burst"
before=$(change_rounds)
# (6: the policy's max_fragments is 8)
# the sync's main loop is held while the 6 go in, so a slow machine cannot spread them over
# several quiet windows: what is asserted is the coalescing, not the speed of curl
kill -STOP "$SYNC_PID"
for i in $(seq 6); do service burst "b$i" "192.168.1.$((240 + i))" "$((8100 + i))" "$((8100 + i))/TCP"; done
kill -CONT "$SYNC_PID"
want=$(for i in $(seq 6); do echo "k8s-burst-b$i dnat tcp $((8100 + i)) 192.168.1.$((240 + i)):$((8100 + i))"; done)
arrive a "$(printf '%s\n%s\n' "${INGRESS//240/246}" "$want" | sort)" "6 new Services in a burst reach router A"
nw_wait_for 30 eval '[ "$(status_of burst b6 | wc -l)" -ge 2 ]'
n=$(($(change_rounds) - before))
check "in fewer rounds than changes ($n for 6 Services; their 12 status annotations sent nothing)" \
	test "$n" -lt 6
for i in $(seq 6); do api DELETE "services/burst/b$i"; done
arrive a "${INGRESS//240/246}" "and are withdrawn again"
api POST "fail?count=4&status=503"
service ingress-nginx ingress-nginx-controller 192.168.1.240 80,443
arrive a "$INGRESS" "after the API server failed 4 requests, the change still arrives"
check "the sync is still running" nw_ours "$SYNC_PID"

# --- the periodic round renews the leases without any change in the cluster
expires() { nw_as "$NAT_UPDATE" "$NW_CLIENT" --runtime "$NW_T/run" list --json | jq -r '.[0].expires'; }
e1=$(expires)
t0=$(nw_ms)
renewed() { [ "$(expires)" -gt "$e1" ]; }
nw_wait_for 60 renewed
e2=$(expires)
check "the periodic round renewed the lease ($e1 -> $e2, seen after $(($(nw_ms) - t0)) ms)" test "$e2" -gt "$e1"

# --- hostile names and annotations
service evil "$(printf 'a"b\nlease 1\n%0300d-ÄÖü' 0)" 192.168.1.247 "8080,22
dnat tcp 23 to 192.168.1.240" 8080/TCP
nw_wait_for 20 eval 'held_a | grep -q 192.168.1.247'
names=$(held_a | cut -d' ' -f1 | sort -u)
like "$names" "^k8s-evil-a-b-lease-1-0+-[0-9]{10}$" "a hostile Service name becomes a sanitized fragment name"
check "every fragment name on the router is 64 characters of a-z 0-9 . _ - at most" \
	bash -c "! printf '%s\n' \"\$1\" | grep -Evx 'k8s-[a-z0-9._-]{1,60}'" _ "$names"
is "$(held_a | grep 192.168.1.247 | cut -d' ' -f2-)" "dnat tcp 8080 192.168.1.247:8080" \
	"a hostile natwarden.io/forward gives only the Service's real port"
like "$(cat "$K/sync.log")" "port '22.dnat.tcp.23.to.192.168.1.240' in natwarden.io/forward is not a TCP or UDP port" \
	"the rest is named in the sync's log"
api DELETE "services/evil/$(printf 'a"b\nlease 1\n%0300d-ÄÖü' 0 | jq -sRr @uri)"

# --- two Services whose names fold into one fragment name: the older one keeps it
service a-b c 192.168.1.248 8081 8081/TCP
sleep 1.1 # creationTimestamp has whole seconds
service a b-c 192.168.1.249 8082 8082/TCP
nw_wait_for 20 eval 'grep -q "a/b-c: its fragment name k8s-a-b-c is the older Service a-b/c.s: not sent" "$K/sync.log"'
like "$(cat "$K/sync.log")" "a/b-c: its fragment name k8s-a-b-c is the older Service a-b/c's: not sent" \
	"a Service whose name folds into an older one's fragment name is not sent, saying so"
is "$(held_a | grep '^k8s-a-b-c ')" "k8s-a-b-c dnat tcp 8081 192.168.1.248:8081" "the older Service keeps its forward"
api DELETE services/a/b-c
api DELETE services/a-b/c

# --- every round was one SSH session per router
sleep 1
nw_wait_for 20 eval '[ "$(rounds "$RA")" = "$(accepts "$NW_T")" ]'
ra=$(rounds "$RA") sa=$(accepts "$NW_T") rb=$(rounds "$RB") sb=$(accepts "$RB_T")
diag "router A: $ra rounds, $sa SSH sessions; router B: $rb rounds, $sb SSH sessions"
is "$sa" "$ra" "router A: one SSH session per round"
nw_wait_for 20 eval '[ "$(rounds "$RB")" = "$(accepts "$RB_T")" ]'
is "$(accepts "$RB_T")" "$(rounds "$RB")" "router B: one SSH session per round (unreachable rounds make none)"

# --- --check: in step, then drift
kill "$SYNC_PID"
wait "$SYNC_PID" 2>/dev/null
check_out() {
	ip netns exec "$K8S_NS" "${kenv[@]}" NATWARDEN_ROUTERS="$RA $RB" NATWARDEN_SSH="$SSH_CMD" \
		NATWARDEN_LEASE=600 "$SYNC" --check 2>&1
}
api DELETE services/games/game
ip netns exec "$K8S_NS" "${kenv[@]}" NATWARDEN_ROUTERS="$RA $RB" NATWARDEN_SSH="$SSH_CMD" \
	NATWARDEN_LEASE=600 "$SYNC" --once >/dev/null 2>&1
out=$(check_out)
is "$?/$out" "0/$RA: in step
$RB: in step" "--check: both routers in step"
nw_withdraw "$NAT_UPDATE" k8s-ingress-nginx-ingress-nginx-controller >/dev/null
out=$(check_out)
is "$?/$out" "1/$RA: differs from the cluster:
  missing on the router: k8s-ingress-nginx-ingress-nginx-controller dnat tcp 443 192.168.1.240:443
  missing on the router: k8s-ingress-nginx-ingress-nginx-controller dnat tcp 80 192.168.1.240:80
$RB: in step" "--check names what router A lacks and exits 1"

# --- deploy.yaml's ClusterRole allows exactly what the sync asked of the API server
rbac=$(python3 - "$NW_TOP/client/kubernetes/deploy.yaml" "$K/records.jsonl" <<'PY'
import json
import sys

import yaml

allowed = set()
for doc in yaml.safe_load_all(open(sys.argv[1])):
    if doc and doc.get("kind") == "ClusterRole":
        for rule in doc["rules"]:
            allowed |= {(r, v) for r in rule["resources"] for v in rule["verbs"]}
used = set()
for line in open(sys.argv[2]):
    rec = json.loads(line)
    parts = rec["path"].strip("/").split("/")
    if parts[:2] != ["api", "v1"] or len(parts) < 3:
        continue  # discovery, /version, /openapi: no RBAC rule needed
    rest = parts[2:]
    if rest[0] == "namespaces" and len(rest) == 2:
        continue  # kubectl's own look after a NotFound, for its message: denied, it says NotFound
    if rest[0] == "namespaces" and len(rest) >= 3:
        rest = rest[2:]
    method = rec["method"]
    if method == "GET":
        watch = rec["query"].get("watch") in ("true", "1")
        verb = "watch" if watch else "get" if len(rest) > 1 else "list"
    else:
        verb = {"POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}[method]
    if (rest[0], verb) not in allowed and (rest[0], verb) not in used:
        print("# %s/%s: %s %s" % (rest[0], verb, method, rec["path"]), file=sys.stderr)
    used.add((rest[0], verb))
print("used but not allowed:", " ".join(sorted("/".join(x) for x in used - allowed)) or "none")
print("allowed but never used:", " ".join(sorted("/".join(x) for x in allowed - used)) or "none")
PY
)
is "$rbac" "used but not allowed: none
allowed but never used: none" "deploy.yaml's ClusterRole allows exactly the requests the sync made"
