#!/bin/bash
# SPDX-License-Identifier: MIT
# The natwarden demo: the home-lab story, told on real components in throwaway namespaces.
#
# A Kubernetes cluster at home has ingress-nginx on a MetalLB load-balancer IP. The Linux
# router in front of it has one public address. natwarden-sync in the cluster submits the
# forwards for the ingress over SSH as the unprivileged user nat_update; natwardend on the
# router judges them against its policy and puts them into nftables; the internet reaches the
# ingress. The network is a real home network's: dual-stack (MetalLB gives the ingress an IPv6
# address too, which natwarden opens with a pinhole, no NAT), the administrator's own forward
# chain drops by default (one rule, printed by natwardend --check, admits what natwarden
# marks), and the public IPv4 address changes once mid-demo (a new DHCP lease; hairpin follows
# it). Then: a fragment that asks for too much, a ruleset flush, and the Service going away.
# At the end: the table, `natwarden list` and the audit trail in a (private) journal.
#
# Run as root on Debian 12: tests/demo.sh. It installs what is missing, builds, and removes
# every namespace, user and file it made when it ends. The host's network, ruleset and
# journal are never touched: everything happens in network namespaces, and journald runs in
# private mount and pid namespaces.
set -u
JR_SELF=$(readlink -f "$0")
TOP=$(cd "$(dirname "$JR_SELF")/.." && pwd)

if [ "${1:-}" != --inner ]; then
	[ "$(id -u)" = 0 ] || { echo "natwarden demo: run me as root (namespaces, users, nftables)" >&2; exit 1; }
	echo "== getting ready: packages and the build"
	"$TOP/tests/deps.sh" || exit 1
	[ -f "$TOP/build/build.ninja" ] || meson setup "$TOP/build" >/dev/null || exit 1
	ninja -C "$TOP/build" >/dev/null || { echo "natwarden demo: the build failed" >&2; exit 1; }
fi
. "$TOP/tests/integration/journald.sh"
jr_outer "$@"

# ==== from here on: inside private mount and pid namespaces ====================================
. "$TOP/tests/integration/lib.sh"
nw_init
demo_exit() {
	local rc=$?
	trap '' PIPE # from here on a closed output only fails the writes, the clean-up goes on
	{ echo; echo "== cleaning up: stopping what the demo started, removing its namespaces, users and files"; } 2>/dev/null
	nw_cleanup >/dev/null 2>&1
	echo "done." 2>/dev/null
	exit "$rc"
}
trap demo_exit EXIT
trap 'exit 141' PIPE # output into a closed pipe (| head): still clean up
jr_inner

# lib.sh's and net.sh's test output is not for this audience
ok() { :; }
not_ok() { echo "!! $*"; }
is() { [ "$1" = "$2" ] || echo "!! $3"; }
check() { local d=$1; shift; "$@" >/dev/null 2>&1 || echo "!! $d"; }

BOLD=$(tput bold 2>/dev/null || true)
PLAIN=$(tput sgr0 2>/dev/null || true)
STEP=0
say() { STEP=$((STEP + 1)); printf '\n%s%d. %s%s\n' "$BOLD" "$STEP" "$*" "$PLAIN"; }
note() { printf '   %s\n' "$@"; }
# show [-as TEXT] COMMAND...: print the command (or TEXT, the way a person would type it), run it
show() {
	local text
	if [ "$1" = -as ]; then text=$2; shift 2; else text="$*"; fi
	printf '   $ %s\n' "$text"
	"$@" 2>&1 | sed 's/^/     /'
}
indent() { sed 's/^/     /'; }

# ---- the cast -----------------------------------------------------------------------------
NW_ID=$NW_JID
NW_GROUP=nwdemo-submit
NW_DUSER=nwdemo
NAT_UPDATE=nat_update
id "$NAT_UPDATE" >/dev/null 2>&1 && NAT_UPDATE=nat_update_demo
NW_U1=$NAT_UPDATE
NW_TABLE=natwarden
NW_NS=nwdemo-router
groupadd --system "$NW_GROUP" || exit 1
NW_GROUPS+=("$NW_GROUP")
nw_add_user "$NW_DUSER"
nw_add_user "$NAT_UPDATE" "$NW_GROUP"
NW_T=$(mktemp -d /tmp/natwarden-demo.XXXXXX)
NW_DIRS+=("$NW_T")
chmod 0755 "$NW_T"
nw_netns "$NW_NS"
. "$TOP/tests/integration/net.sh"
K8S_NS=nwdemo-k8s
CLUSTER=192.168.1.20

WAN6=2001:db8:ff::1
ROUTER6=2001:db8:ff::7
SERVER6=2001:db8:1::240

say "The home network, in network namespaces (IPv4 and IPv6)"
net_topology "$K8S_NS:$CLUSTER"
v6() { # v6 NS ADDR/LEN DEV [GATEWAY]
	ip -n "$1" addr add "$2" dev "$3" nodad || return 1
	[ -z "${4:-}" ] || ip -n "$1" route add default via "$4"
}
{ v6 "$NW_NS" "$ROUTER6/64" wan0 && v6 "$NW_NS" 2001:db8:1::1/64 br-lan &&
	v6 "$WAN_NS" "$WAN6/64" eth0 "$ROUTER6" && v6 "$SRV_NS" "$SERVER6/64" eth0 2001:db8:1::1 &&
	ip netns exec "$NW_NS" sysctl -qw net.ipv6.conf.all.forwarding=1; } ||
	{ echo "!! the IPv6 half of the network"; exit 1; }
note "internet    $WAN_CLIENT, $WAN6  --wan0-- router $PUBLIC (public, from DHCP), $ROUTER6" \
	"            router LAN: $ROUTER_LAN, 2001:db8:1::1 (the ISP's delegated prefix 2001:db8:1::/64)" \
	"cluster     $CLUSTER (runs natwarden-sync), ingress on the MetalLB IPs $SERVER and $SERVER6" \
	"LAN client  $LAN_CLIENT"

say "The cluster: ingress-nginx answers on its load-balancer IPs $SERVER and $SERVER6"
net_ingress "Guestbook: hello from the home cluster" || { echo "!! the ingress did not start"; exit 1; }
for port in 80 443; do
	ip netns exec "$SRV_NS" timeout 600 python3 -m http.server "$port" --bind "$SERVER6" \
		--directory "$NW_T/www" >>"$NW_T/http.log" 2>&1 &
	NW_PIDS+=($!)
done
nw_wait_for 10 bash -c "ip netns exec $SRV_NS curl -s --max-time 1 'http://[$SERVER6]:443/' | grep -q Guestbook" ||
	{ echo "!! the ingress did not start on IPv6"; exit 1; }
note "on the LAN it works:"
show ip netns exec "$LAN_NS" curl -s --max-time 3 "http://$SERVER/"
note "from the internet it does not (the router forwards nothing yet):"
show ip netns exec "$WAN_NS" curl -sS --max-time 3 "http://$PUBLIC/"

say "The router: the administrator's policy"
{
	nw_policy_daemon
	cat <<EOF

[wan]
interface = wan0          ; no address: the public IPv4 address is the one wan0 has now
hairpin = yes

[reserved]
ports = 22, 53

; the user the cluster logs in as: web ports only, only towards the MetalLB range
[submitter $NAT_UPDATE]
ports = 80, 443
protocols = tcp
destinations = 192.168.1.240/28, 2001:db8:1::240/124
masquerade = yes
max_fragments = 8
EOF
} >"$NW_T/policy.ini"
chmod 0644 "$NW_T/policy.ini"
sed -n '/^\[wan\]/,$p' "$NW_T/policy.ini" | indent
show -as "natwardend --config policy.ini --check" ip netns exec "$NW_NS" "$NW_DAEMON" --config "$NW_T/policy.ini" --check

say "The router: the administrator's own firewall drops forwarded traffic by default"
RULE=$("$NW_DAEMON" --config "$NW_T/policy.ini" --check | sed -n 's/^admin rule: //p')
printf '%s\n' "flush ruleset" "table inet filter {" "	chain forward {" \
	"		type filter hook forward priority filter; policy drop;" \
	"		ct state established,related accept" "		iifname \"br-lan\" accept" \
	"		$RULE" "	}" "}" >"$NW_T/nftables.conf"
indent <"$NW_T/nftables.conf"
ip netns exec "$NW_NS" nft -f "$NW_T/nftables.conf" || { echo "!! the administrator's table"; exit 1; }
note "(/etc/nftables.conf: an accept in natwarden's own table cannot override this drop; the last" \
	" rule, taken from the 'admin rule:' line of natwardend --check, admits what natwarden marks)" \
	"IPv6 from the internet to the ingress is dropped now:"
show ip netns exec "$WAN_NS" curl -sS --max-time 2 "http://[$SERVER6]/"

say "natwardend starts (as root, then drops to '$NW_DUSER' with CAP_NET_ADMIN only)"
jr_start_journald >/dev/null || { echo "!! journald did not start"; exit 1; }
jr_install_catalog >/dev/null 2>&1
nw_start || { echo "!! natwardend did not start"; exit 1; }
show -as "natwarden status" "$NW_CLIENT" --runtime "$NW_T/run" status
note "its process, as the kernel sees it:"
grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs)' "/proc/$NW_DPID/status" | indent

say "SSH: $NAT_UPDATE may only run natwarden (a forced command)"
net_sshd "$NAT_UPDATE" || { echo "!! sshd did not start"; exit 1; }
SSH="$SSH -i $NW_T/ssh/cluster_key"
note "~$NAT_UPDATE/.ssh/authorized_keys on the router:"
note "  command=\"natwarden ssh-command\",restrict ssh-ed25519 AAAA... cluster"
note "anything else than natwarden's few commands is refused:"
printf '   $ ssh %s@router '"'"'sh -c id'"'"'\n' "$NAT_UPDATE"
# shellcheck disable=SC2086 # $SSH is net.sh's command line
ip netns exec "$K8S_NS" $SSH "$NAT_UPDATE@$ROUTER_LAN" 'sh -c id' </dev/null 2>&1 | indent

say "The cluster: the dual-stack ingress Service carries natwarden.io/forward"
# the cluster's API: a scripted API server (the real kubectl talks to it) holding the recorded
# Services, with the IPv6 half MetalLB gives a dual-stack Service
K=$NW_T/kube
mkdir -p "$K/home"
jq --arg v6 "$SERVER6" '.items[0].spec.ipFamilies = ["IPv4", "IPv6"]
	| .items[0].status.loadBalancer.ingress += [{"ip": $v6}] | {services: .items}' \
	"$TOP/tests/data/services.json" >"$K/scenario.json"
ip netns exec "$K8S_NS" python3 "$TOP/tests/integration/fakekube.py" --port 0 --port-file "$K/port" \
	--record "$K/records.jsonl" --scenario "$K/scenario.json" >"$K/server.log" 2>&1 &
NW_PIDS+=($!)
nw_wait_for 10 test -s "$K/port" || echo "!! the cluster's API server did not start"
printf 'apiVersion: v1\nkind: Config\nclusters: [{name: home, cluster: {server: "http://127.0.0.1:%s"}}]\nusers: [{name: home, user: {}}]\ncontexts: [{name: home, context: {cluster: home, user: home}}]\ncurrent-context: home\n' \
	"$(cat "$K/port")" >"$K/config"
kubectl() { ip netns exec "$K8S_NS" env HOME="$K/home" KUBECONFIG="$K/config" KUBECACHEDIR="$K/cache" kubectl "$@"; }
kubectl get services -n ingress-nginx ingress-nginx-controller -o json |
	jq -r '"   \(.metadata.namespace)/\(.metadata.name): type \(.spec.type), ingress IPs \([.status.loadBalancer.ingress[].ip] | join(", "))",
	(.metadata.annotations | to_entries[] | select(.key | startswith("natwarden.io/")) | "     \(.key): \"\(.value)\"")'
note "(the cluster's API server is a scripted stand-in; kubectl and natwarden-sync are real)"
sync() {
	ip netns exec "$K8S_NS" env HOME="$K/home" KUBECONFIG="$K/config" KUBECACHEDIR="$K/cache" \
		NATWARDEN_ROUTERS="$NAT_UPDATE@$ROUTER_LAN" NATWARDEN_SSH="$SSH" NATWARDEN_LEASE=3600 \
		"$TOP/client/kubernetes/natwarden-sync" "$@" 2>&1
}
# what `kubectl describe service` shows of natwarden: the annotations, and the Events the
# sync created (from the API server's records)
describe() { # describe NS NAME
	kubectl get service -n "$1" "$2" -o json | jq -r '"Name:         \(.metadata.name)",
		"Namespace:    \(.metadata.namespace)",
		"Annotations:  " + ([.metadata.annotations | to_entries[]
			| "\(.key): \(.value | split("\n") | join("\n                  "))"] | join("\n              "))'
	echo "Events:"
	printf '  %-8s %-18s %-15s %s\n' Type Reason From Message "----" "------" "----" "-------"
	jq -r --arg ns "$1" --arg name "$2" 'select(.method == "POST" and (.path | endswith("/events")))
		| .body | select(.involvedObject.namespace == $ns and .involvedObject.name == $name)
		| "  \(.type | . + " " * (8 - length)) \(.reason | . + " " * (18 - length)) \(.source.component | . + " " * (15 - length)) "
		  + (.message | split("\n") | join("\n" + " " * 46))' "$K/records.jsonl"
}
note "the fragment natwarden-sync renders for it:"
sync --dry-run | sed -n '/ingress-nginx-controller/,/^==/p' | grep -v '^== k8s-games' | indent

say "natwarden-sync submits over SSH; the router answers"
sync --once | indent
note "(the game server's UDP port is not in $NAT_UPDATE's policy: rejected, with the reason;" \
	" all of it went in one SSH session: natwarden apply k8s- with both fragments in one stream)"

say "The cluster sees the router's answer on the Service: an Event and an annotation"
printf '   $ kubectl describe service -n games game\n'
describe games game | indent
note "(the ingress Service got a NatwardenAccepted Event; natwarden-sync --watch reacts to every" \
	" change of the Services within about a second and renews the leases every 10 minutes)"

say "The router's table: constant rules, the forwards and pinholes are set elements"
show ip netns exec "$NW_NS" nft list table inet "$NW_TABLE"

say "The internet reaches the ingress: IPv4 through the public address, IPv6 through the pinhole"
show ip netns exec "$WAN_NS" curl -s --max-time 3 "http://$PUBLIC/"
show ip netns exec "$WAN_NS" curl -s --max-time 3 "http://$PUBLIC:443/"
show ip netns exec "$WAN_NS" curl -s --max-time 3 "http://[$SERVER6]/"
note "and a LAN client using the public address too (hairpin):"
show ip netns exec "$LAN_NS" curl -s --max-time 3 "http://$PUBLIC/"
note "all through the administrator's drop policy, admitted by its one rule (the last one):"
ip netns exec "$NW_NS" nft list chain inet filter forward | indent

say "The ISP hands out a new public IPv4 address (a new DHCP lease)"
NEW_PUBLIC=203.0.113.8
show -as "ip addr del $PUBLIC/24 dev wan0; ip addr add $NEW_PUBLIC/24 dev wan0" \
	sh -c "ip -n $NW_NS addr del $PUBLIC/24 dev wan0 && ip -n $NW_NS addr add $NEW_PUBLIC/24 dev wan0"
nw_wait_for 5 grep -q "public address $NEW_PUBLIC" "$NW_T/daemon.log"
note "natwardend follows wan0 through rtnetlink: one transaction moved hairpin to the new address"
grep "public address $NEW_PUBLIC" "$NW_T/daemon.log" | tail -n 1 | sed 's/^<[0-9]>//' | indent
show -as "natwarden status | grep WAN" sh -c "'$NW_CLIENT' --runtime '$NW_T/run' status | grep WAN"
PUBLIC=$NEW_PUBLIC
show ip netns exec "$WAN_NS" curl -s --max-time 3 "http://$PUBLIC/"
show ip netns exec "$LAN_NS" curl -s --max-time 3 "http://$PUBLIC/"

say "What is forwarded, for whom"
show -as "natwarden list" nw_as "$NAT_UPDATE" "$NW_CLIENT" --runtime "$NW_T/run" list

say "A fragment that asks for too much is rejected whole, with every reason"
printf 'dnat tcp 22 to 192.168.1.240\ndnat tcp 8080 to 10.0.0.5\ndnat udp 443 to 192.168.1.240\npinhole tcp 443 to 2001:db8:1::1\n' >"$NW_T/greedy"
printf '   $ ssh %s@router natwarden submit greedy < greedy\n' "$NAT_UPDATE"
note "(greedy:)"
indent <"$NW_T/greedy"
# shellcheck disable=SC2086 # $SSH is net.sh's command line
ip netns exec "$K8S_NS" $SSH "$NAT_UPDATE@$ROUTER_LAN" natwarden submit greedy <"$NW_T/greedy" 2>&1 | indent

say "The administrator reloads nftables.service: 'flush ruleset', then their own table again"
show -as "nft -f /etc/nftables.conf" ip netns exec "$NW_NS" nft -f "$NW_T/nftables.conf"
sleep 0.2
note "natwardend noticed through nftables' notifications and put its table back:"
grep 'restored' "$NW_T/daemon.log" | tail -n 1 | sed 's/^<[0-9]>//' | indent
show ip netns exec "$WAN_NS" curl -s --max-time 3 "http://$PUBLIC/"
show ip netns exec "$WAN_NS" curl -s --max-time 3 "http://[$SERVER6]/"

say "The Service goes away in the cluster: the next sync withdraws its forward"
printf '   $ kubectl delete service -n ingress-nginx ingress-nginx-controller\n'
ip netns exec "$K8S_NS" curl -sf -X DELETE -o /dev/null \
	"http://127.0.0.1:$(cat "$K/port")/_test/services/ingress-nginx/ingress-nginx-controller"
sync --once | grep -v games | indent
show ip netns exec "$WAN_NS" curl -sS --max-time 3 "http://$PUBLIC/"
show ip netns exec "$NW_NS" nft list map inet "$NW_TABLE" dnat_port

say "The audit trail: who opened which port when (journalctl)"
journalctl --sync
printf '   $ journalctl -t natwardend NATWARDEN_USER=%s -o short\n' "$NAT_UPDATE"
journalctl --no-pager -q -t natwardend NATWARDEN_USER="$NAT_UPDATE" -o short | cut -c1-160 | indent
printf '   $ journalctl -t natwardend NATWARDEN_VERDICT=rejected NATWARDEN_FRAGMENT=greedy -o verbose\n'
journalctl --no-pager -q -t natwardend NATWARDEN_VERDICT=rejected NATWARDEN_FRAGMENT=greedy -o verbose |
	grep -E '^\s+(MESSAGE_ID|NATWARDEN_)' | indent
printf '   $ journalctl -x -t natwardend NATWARDEN_FRAGMENT=greedy\n'
journalctl --no-pager -q -x -t natwardend NATWARDEN_FRAGMENT=greedy | cut -c1-160 | head -n 14 | indent
