#!/bin/bash
# SPDX-License-Identifier: MIT
# The home-lab article, end to end, on real components. A Kubernetes cluster on the LAN has
# ingress-nginx on a MetalLB load-balancer IP (192.168.1.240); natwarden-sync, run against a
# stand-in kubectl that replays a recorded `kubectl get services -A -o json`, submits the
# ingress fragment over SSH (a real sshd in the router namespace) as the unprivileged
# nat_update user through its forced command; natwardend puts it into nftables; a client on
# the internet fetches the page through the router's public address on 80 and 443, and so does
# a LAN client (hairpin). Removing the Service withdraws the forward. Keys without the forced
# command, and command lines outside the allow-list, are refused.
. "$(dirname "$0")/lib.sh"
nw_init
command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || skip_all "needs openssh-server (sshd)"
command -v ssh >/dev/null || skip_all "needs openssh-client (ssh)"
command -v curl >/dev/null || skip_all "needs curl"
nw_setup
. "$(dirname "$0")/net.sh"
K8S_NS=nwk8s$NW_ID
CLUSTER=192.168.1.20
net_topology "$K8S_NS:$CLUSTER"

# --- the cluster's ingress: HTTP on the load-balancer IP, ports 80 and 443 (plain TCP)
fetch() { # fetch NS URL: the page, or nothing (3 s at most)
	ip netns exec "$1" curl -s --max-time 3 "$2" 2>/dev/null
}
net_ingress "guestbook: served by ingress-nginx"
for port in 80 443; do
	check "ingress answers on the LAN, port $port" bash -c "ip netns exec $LAN_NS curl -s --max-time 1 http://$SERVER:$port/ | grep -q guestbook"
done

# --- the router: natwardend and sshd (listening only inside the router namespace)
nw_start || { not_ok "natwardend starts"; exit 1; }
NAT_UPDATE=$NW_U1
check "sshd runs in the router namespace, on its LAN address only" net_sshd "$NAT_UPDATE"
ssh-keygen -q -t ed25519 -N '' -C stranger -f "$NW_T/ssh/stranger_key"
# ssh always from inside the cluster's namespace: the router's address exists only in there
# shellcheck disable=SC2086 # $SSH is net.sh's command line
k8s_ssh() { ip netns exec "$K8S_NS" $SSH "$@"; }

# --- the cluster side: natwarden-sync with a stand-in kubectl replaying a recording
mkdir -p "$NW_T/bin"
cp "$NW_TOP/tests/data/services.json" "$NW_T/services.json"
printf '#!/bin/sh\n# stand-in kubectl: replays a recorded "kubectl get services -A -o json"\ncat %s\n' \
	"$NW_T/services.json" >"$NW_T/bin/kubectl"
chmod +x "$NW_T/bin/kubectl"
sync() {
	ip netns exec "$K8S_NS" env KUBECTL="$NW_T/bin/kubectl" NATWARDEN_ROUTERS="$NAT_UPDATE@$ROUTER_LAN" \
		NATWARDEN_SSH="$SSH -i $NW_T/ssh/cluster_key" NATWARDEN_LEASE=600 \
		"$NW_TOP/client/kubernetes/natwarden-sync" --once 2>&1
}
out=$(sync)
rc=$?
# the recording also has a UDP game server: the test policy does not allow UDP 27015 for it
like "$out" "$NAT_UPDATE@$ROUTER_LAN: k8s-ingress-nginx-ingress-nginx-controller: accepted" \
	"natwarden-sync submits the ingress fragment over SSH and it is accepted"
like "$out" "$NAT_UPDATE@$ROUTER_LAN: k8s-games-game: rejected" "a Service the policy does not allow is reported with the router's answer"
like "$out" "k8s-games-game:2: port 27015 is not allowed for $NAT_UPDATE" "with the reason from the router"
is "$rc" 1 "natwarden-sync exits non-zero when a router rejected something"
is "$(nw_kernel)" "masq tcp 443
masq tcp 80
tcp 443 192.168.1.240:443
tcp 80 192.168.1.240:80" "the router's kernel forwards 80 and 443 to the load-balancer IP, with masquerade"

# --- the internet reaches the ingress through the router's public address
is "$(fetch "$WAN_NS" "http://$PUBLIC/")" "guestbook: served by ingress-nginx" "the WAN client fetches the page on port 80"
is "$(fetch "$WAN_NS" "http://$PUBLIC:443/")" "guestbook: served by ingress-nginx" "and on port 443"
is "$(fetch "$LAN_NS" "http://$PUBLIC/")" "guestbook: served by ingress-nginx" "a LAN client using the public address too (hairpin)"

# --- what the admin sees
list=$(nw_as "$NAT_UPDATE" "$NW_CLIENT" --runtime "$NW_T/run" list)
like "$list" "^$NAT_UPDATE +k8s-ingress-nginx-ingress-nginx-controller +tcp +80 +192.168.1.240:80 " "natwarden list shows the forward and its owner"
out=$(k8s_ssh -i "$NW_T/ssh/cluster_key" "$NAT_UPDATE@$ROUTER_LAN" natwarden list --json </dev/null 2>&1)
is "$(printf '%s' "$out" | jq -r '.[] | select(.protocol == "tcp" and .public == "443") | .fragment')" \
	"k8s-ingress-nginx-ingress-nginx-controller" "the cluster can list over SSH (natwarden list --json)"

# --- a second run changes nothing in the kernel: identical fragments only renew their lease
before=$(nw_kernel)
out=$(sync)
like "$out" "k8s-ingress-nginx-ingress-nginx-controller: accepted" "a second run renews"
is "$(nw_kernel)" "$before" "and leaves the kernel as it was"
like "$(cat "$NW_T/daemon.log")" "lease renewed" "the daemon records the renewal"

# --- the Service goes away: its forward is withdrawn, the page is no longer reachable
jq '.items |= map(select(.metadata.name != "ingress-nginx-controller"))' "$NW_T/services.json" \
	>"$NW_T/services.json.new" && mv "$NW_T/services.json.new" "$NW_T/services.json"
out=$(sync)
like "$out" "$NAT_UPDATE@$ROUTER_LAN: k8s-ingress-nginx-ingress-nginx-controller: withdrawn" \
	"removing the Service from the cluster withdraws its fragment"
is "$(nw_kernel)" "" "the kernel holds no forwards"
is "$(fetch "$WAN_NS" "http://$PUBLIC/")" "" "the WAN client's fetch fails now"

# --- what SSH refuses
out=$(k8s_ssh -i "$NW_T/ssh/stranger_key" "$NAT_UPDATE@$ROUTER_LAN" natwarden list </dev/null 2>&1)
rc=$?
is "$rc" 255 "a key that is not authorized (no forced command for it) is refused by sshd"
like "$out" "Permission denied" "with sshd's refusal"
for bad in "sh -c id" "natwarden submit x; id" "natwarden --spool /tmp submit x" "natwarden check --policy /etc/shadow" "bash"; do
	out=$(k8s_ssh -i "$NW_T/ssh/cluster_key" "$NAT_UPDATE@$ROUTER_LAN" "$bad" </dev/null 2>&1)
	rc=$?
	if [ "$rc" = 2 ] && printf '%s' "$out" | grep -q "natwarden: refused"; then ok "the forced command refuses '$bad'"; else
		not_ok "the forced command refuses '$bad'"
		echo "#   rc=$rc: $out"
	fi
done
# shellcheck disable=SC2086 # $SSH is net.sh's command line
out=$(timeout 10 ip netns exec "$K8S_NS" $SSH -i "$NW_T/ssh/cluster_key" -N -o ExitOnForwardFailure=yes \
	-R 127.0.0.1:18080:127.0.0.1:22 "$NAT_UPDATE@$ROUTER_LAN" </dev/null 2>&1)
like "$out" "remote port forwarding failed" "port forwarding through the key is refused (restrict)"
check "natwardend is still running" nw_alive
