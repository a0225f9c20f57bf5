#!/bin/bash
# SPDX-License-Identifier: MIT
# The natwarden demo: the home-lab story, told on real components in throwaway namespaces.
#
# A Kubernetes cluster at home has ingress-nginx on a MetalLB load-balancer IP. The Linux
# router in front of it has one public address. natwarden-sync in the cluster submits the
# forwards for the ingress over SSH as the unprivileged user nat_update; natwardend on the
# router judges them against its policy and puts them into nftables; the internet reaches the
# ingress. Then: a fragment that asks for too much, a ruleset flush, and the Service going
# away. At the end: the table, `natwarden list` and the audit trail in a (private) journal.
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

say "The home network, in network namespaces"
net_topology "$K8S_NS:$CLUSTER"
note "internet    $WAN_CLIENT  --wan0-- router $PUBLIC (public), $ROUTER_LAN (LAN)" \
	"cluster     $CLUSTER (runs natwarden-sync), ingress on the MetalLB IP $SERVER" \
	"LAN client  $LAN_CLIENT"

say "The cluster: ingress-nginx answers on its load-balancer IP $SERVER"
net_ingress "Guestbook: hello from the home cluster" || { echo "!! the ingress did not start"; exit 1; }
note "on the LAN it works:"
show ip netns exec "$LAN_NS" curl -s --max-time 3 "http://$SERVER/"
note "from the internet it does not (the router forwards nothing yet):"
show ip netns exec "$WAN_NS" curl -sS --max-time 3 "http://$PUBLIC/"

say "The router: the administrator's policy"
{
	nw_policy_daemon
	cat <<EOF

[wan]
interface = wan0
address = $PUBLIC
hairpin = yes

[reserved]
ports = 22, 53

; the user the cluster logs in as: web ports only, only towards the MetalLB range
[submitter $NAT_UPDATE]
ports = 80, 443
protocols = tcp
destinations = 192.168.1.240/28
masquerade = yes
max_fragments = 8
EOF
} >"$NW_T/policy.ini"
chmod 0644 "$NW_T/policy.ini"
sed -n '/^\[wan\]/,$p' "$NW_T/policy.ini" | indent
show -as "natwardend --config policy.ini --check" "$NW_DAEMON" --config "$NW_T/policy.ini" --check

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

say "The cluster: the ingress Service carries natwarden.io/forward"
mkdir -p "$NW_T/bin"
cp "$TOP/tests/data/services.json" "$NW_T/services.json"
printf '#!/bin/sh\ncat %s\n' "$NW_T/services.json" >"$NW_T/bin/kubectl"
chmod +x "$NW_T/bin/kubectl"
jq -r '.items[0] | "   \(.metadata.namespace)/\(.metadata.name): type \(.spec.type), ingress IP \(.status.loadBalancer.ingress[0].ip)",
	(.metadata.annotations | to_entries[] | select(.key | startswith("natwarden.io/")) | "     \(.key): \"\(.value)\"")' \
	"$NW_T/services.json"
note "(kubectl here replays a recorded 'kubectl get services -A -o json')"
sync() {
	ip netns exec "$K8S_NS" env KUBECTL="$NW_T/bin/kubectl" NATWARDEN_ROUTERS="$NAT_UPDATE@$ROUTER_LAN" \
		NATWARDEN_SSH="$SSH" NATWARDEN_LEASE=3600 "$TOP/client/kubernetes/natwarden-sync" "$@" 2>&1
}
note "the fragment natwarden-sync renders for it:"
sync --dry-run | sed -n '/ingress-nginx-controller/,/^==/p' | grep -v '^== k8s-games' | indent

say "natwarden-sync submits over SSH; the router answers"
sync --once | indent
note "(the game server's UDP port is not in $NAT_UPDATE's policy: rejected, with the reason)"

say "The router's table: constant rules, the forwards are map elements"
show ip netns exec "$NW_NS" nft list table inet "$NW_TABLE"

say "The internet reaches the ingress through the router's public address"
show ip netns exec "$WAN_NS" curl -s --max-time 3 "http://$PUBLIC/"
show ip netns exec "$WAN_NS" curl -s --max-time 3 "http://$PUBLIC:443/"
note "and a LAN client using the public address too (hairpin):"
show ip netns exec "$LAN_NS" curl -s --max-time 3 "http://$PUBLIC/"

say "What is forwarded, for whom"
show -as "natwarden list" nw_as "$NAT_UPDATE" "$NW_CLIENT" --runtime "$NW_T/run" list

say "A fragment that asks for too much is rejected whole, with every reason"
printf 'dnat tcp 22 to 192.168.1.240\ndnat tcp 8080 to 10.0.0.5\ndnat udp 443 to 192.168.1.240\n' >"$NW_T/greedy"
printf '   $ ssh %s@router natwarden submit greedy < greedy\n' "$NAT_UPDATE"
note "(greedy:)"
indent <"$NW_T/greedy"
# shellcheck disable=SC2086 # $SSH is net.sh's command line
ip netns exec "$K8S_NS" $SSH "$NAT_UPDATE@$ROUTER_LAN" natwarden submit greedy <"$NW_T/greedy" 2>&1 | indent

say "Someone runs 'nft flush ruleset' (as a reload of nftables.service does)"
show ip netns exec "$NW_NS" nft flush ruleset
sleep 0.2
note "natwardend noticed through nftables' notifications and put its table back:"
grep 'restored' "$NW_T/daemon.log" | tail -n 1 | sed 's/^<[0-9]>//' | indent
show ip netns exec "$WAN_NS" curl -s --max-time 3 "http://$PUBLIC/"

say "The Service goes away in the cluster: the next sync withdraws its forward"
jq '.items |= map(select(.metadata.name != "ingress-nginx-controller"))' "$NW_T/services.json" \
	>"$NW_T/services.json.new" && mv "$NW_T/services.json.new" "$NW_T/services.json"
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
