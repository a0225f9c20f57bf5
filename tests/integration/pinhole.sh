#!/bin/bash
# SPDX-License-Identifier: MIT
# IPv6 pinholes and the administrator's own forward chain, with real traffic. The router holds
# an admin table whose forward chain drops by default, admits established/related and, with
# one more rule, what natwardend marks: that rule is the one `natwardend --check` prints. Proves:
# TCP and UDP over IPv6 reach a LAN host's port only while its pinhole is active (not before,
# not after the withdrawal), with the client's own address (no translation); the router's own
# IPv6 addresses (also one added while it runs) are refused; other ports and
# another LAN host stay closed; a port range works end to end; an IPv4 forward passes the
# admin's drop policy through the same rule; without that rule both fail; natwardend never
# changes the admin's table (byte-identical `nft -a list table` before and after);
# natwarden-sync renders a dual-stack Service into dnat and pinhole lines of one fragment and
# submits it through the forced command.
#
# Topology (namespaces made here; the host's network and ruleset are never touched):
#
#   wan ns  eth0 203.0.113.1/24 2001:db8:ff::1/64 ---- wan0 203.0.113.7/24 2001:db8:ff::7/64
#                                                     router ($NW_NS, natwardend, admin table)
#                                                     br-lan 192.168.1.1/24 2001:db8:1::1/64
#     |-- srv ns  eth0 192.168.1.240/24 2001:db8:1::240/64  (the server)
#     '-- lan ns  eth0 192.168.1.10/24  2001:db8:1::10/64   (another LAN host)
. "$(dirname "$0")/lib.sh"
nw_init
nw_setup
NW_U1_DEST6=2001:db8:1::/64 nw_policy

. "$(dirname "$0")/net.sh"
net_topology
net_server 80

WAN6=2001:db8:ff::1
ROUTER6=2001:db8:ff::7
SERVER6=2001:db8:1::240
OTHER6=2001:db8:1::10

v6() { # v6 NS ADDR/LEN DEV [GATEWAY]
	ip -n "$1" addr add "$2" dev "$3" nodad || return 1
	[ -z "${4:-}" ] || ip -n "$1" route add default via "$4"
}
if v6 "$NW_NS" "$ROUTER6/64" wan0 && v6 "$NW_NS" 2001:db8:1::1/64 br-lan &&
	v6 "$WAN_NS" "$WAN6/64" eth0 "$ROUTER6" && v6 "$SRV_NS" "$SERVER6/64" eth0 2001:db8:1::1 &&
	v6 "$LAN_NS" "$OTHER6/64" eth0 2001:db8:1::1 &&
	ip netns exec "$NW_NS" sysctl -qw net.ipv6.conf.all.forwarding=1; then
	ok "IPv6 on every link (documentation prefix 2001:db8::/32)"
else
	not_ok "IPv6 addresses"
	exit 1
fi

# servers: TCP and UDP on the server, TCP 443 on the other LAN host too
: >"$NW_T/v6.log"
tw_server "$SRV_NS" "$SERVER6" "$NW_T/v6.log" 443 8443 30000 30001 30002 30003
ip netns exec "$SRV_NS" python3 "$(nw_py)" udp-serve "$SERVER6" "$NW_T/v6.log" 443 3478 &
NW_PIDS+=($!)
tw_server "$LAN_NS" "$OTHER6" "$NW_T/v6.log" 443
three_ready() { [ "$(grep -cx ready "$NW_T/v6.log")" -ge 3 ]; }
if nw_wait_for 10 three_ready; then
	ok "IPv6 servers listen"
else
	not_ok "IPv6 servers listen"
	exit 1
fi

tcp6() { tw_tcp "$WAN_NS" "$WAN6" "$1" "$2"; }
udp6() {
	local sport
	sport=$(($(cat "$NW_T/sport") + 1))
	echo "$sport" >"$NW_T/sport"
	ip netns exec "$WAN_NS" python3 "$(nw_py)" udp-connect "$WAN6" "$sport" "$1" "$2"
}
closed() { # closed WHAT...: the attempt must not be served
	local out
	out=$("$@")
	case $out in served*) return 1 ;; *) return 0 ;; esac
}

# ---- the admin's table, with the rule natwardend --check prints ----------------------------

rule=$("$NW_DAEMON" --config "$NW_T/policy.ini" --check | sed -n 's/^admin rule: //p')
is "$rule" "ct mark and 0x10000000 == 0x10000000 accept" "natwardend --check prints the admin rule on a line of its own"
admin_table() { # admin_table [RULE]
	printf 'table inet admin {\n\tchain forward {\n\t\ttype filter hook forward priority 0; policy drop;\n'
	printf '\t\tct state established,related accept\n'
	[ -z "${1:-}" ] || printf '\t\t%s\n' "$1"
	printf '\t}\n}\n'
}
if admin_table "$rule" | nw_nft -f -; then ok "the admin table is in place (policy drop + the rule)"; else
	not_ok "the admin table"
fi
before=$(nw_nft -a list table inet admin)

nw_start || { not_ok "daemon starts"; exit 1; }
ok "daemon starts in the router namespace"

# ---- before the pinhole ------------------------------------------------------------------

check "before the pinhole, TCP [$SERVER6]:443 from the WAN is dropped" closed tcp6 "$SERVER6" 443
check "before the pinhole, UDP [$SERVER6]:443 from the WAN is dropped" closed udp6 "$SERVER6" 443

# ---- the router's own IPv6 addresses, from rtnetlink -------------------------------------

out=$(printf 'pinhole tcp 443 to 2001:db8:1::1\n' | nw_submit "$NW_U1" own)
like "$out" "destination 2001:db8:1::1 is the router's own address \\(on br-lan\\)" \
	"a pinhole to the router's own LAN address is refused, naming the interface"
ip -n "$NW_NS" addr add 2001:db8:1::2/64 dev br-lan nodad
refused_new() {
	printf 'pinhole tcp 443 to 2001:db8:1::2\n' | nw_submit "$NW_U1" own | grep -q "router's own address"
}
if nw_wait_for 10 refused_new; then
	ok "an IPv6 address added while the daemon runs is the router's own at once (notification)"
else
	not_ok "an added IPv6 address is refused"
fi
ip -n "$NW_NS" addr del 2001:db8:1::2/64 dev br-lan

# ---- the pinholes, and an IPv4 forward ---------------------------------------------------

frag="dnat tcp 80 to $SERVER
pinhole tcp 443 to 2001:DB8:1:0::240
pinhole udp 443 to $SERVER6
pinhole tcp 30000-30002 to $SERVER6
"
out=$(printf '%s' "$frag" | nw_submit "$NW_U1" dual)
is "$?" 0 "a fragment with pinholes and a dnat is accepted"
like "$out" "live: pinhole tcp 443 to $SERVER6" "the verdict shows the pinhole in RFC 5952 form"
is "$(nw_kernel)" "pinhole tcp 30000-30002 $SERVER6
pinhole tcp 443 $SERVER6
pinhole udp 443 $SERVER6
tcp 80 $SERVER:80" "the kernel holds the pinholes as set elements and the forward"
is "$(nw_rule_count)" 10 "ten constant rules (hairpin on), pinholes included"
cl() { nw_as "$1" "$NW_CLIENT" --spool "$NW_T/spool" --runtime "$NW_T/run" --config "$NW_T/policy.ini" "${@:2}"; }
out=$(printf 'pinhole tcp 443 to 2001:db8:1:0::240\n' | cl "$NW_U1" check --name other 2>&1)
like "$out" "other:1: tcp port 443 of $SERVER6 is already opened by $NW_U1's fragment 'dual'" \
	"natwarden check sees the active pinhole (from the status file) and names its owner"
out=$(cl "$NW_U1" list 2>&1)
like "$out" "^$NW_U1 +dual +tcp +30000-30002 +$SERVER6 " "natwarden list shows the pinhole range"
out=$(cl "$NW_U1" list --json 2>&1)
like "$out" "\"type\": \"pinhole\", \"protocol\": \"udp\", \"public\": \"443\", \"target\": \"$SERVER6\"" \
	"natwarden list --json shows the UDP pinhole"

is "$(tcp6 "$SERVER6" 443)" "served $SERVER6:443 to $WAN6" \
	"TCP over IPv6 reaches the server through the pinhole, with the client's own address"
is "$(udp6 "$SERVER6" 443)" "served $SERVER6:443 to $WAN6" "UDP over IPv6 too"
is "$(tcp6 "$SERVER6" 30000)" "served $SERVER6:30000 to $WAN6" "the port range: its first port"
is "$(tcp6 "$SERVER6" 30002)" "served $SERVER6:30002 to $WAN6" "the port range: its last port"
check "the port after the range stays closed (the server listens there)" closed tcp6 "$SERVER6" 30003
check "another port of the server stays closed" closed tcp6 "$SERVER6" 8443
check "UDP 3478 (no pinhole) stays closed" closed udp6 "$SERVER6" 3478
check "the same port on another LAN host stays closed" closed tcp6 "$OTHER6" 443
is "$(wan 80)" "served $SERVER:80 to $WAN_CLIENT" \
	"the IPv4 forward passes the admin's drop policy through the same rule"

# ---- someone else deletes natwarden's table: the restore brings the pinholes back ------------

want_kernel=$(nw_kernel)
nw_nft delete table inet "$NW_TABLE"
restored() { [ "$(nw_kernel)" = "$want_kernel" ]; }
t0=$(nw_ms)
if nw_wait_for 30 restored; then
	ok "after an outside delete the table is restored with its pinholes ($(($(nw_ms) - t0)) ms; bound 30 s)"
else
	not_ok "the table is restored with its pinholes"
	diag "want: $(echo "$want_kernel" | tr '\n' '|')"
	diag "got:  $(nw_kernel 2>&1 | tr '\n' '|')"
fi
is "$(tcp6 "$SERVER6" 443)" "served $SERVER6:443 to $WAN6" "the restored pinhole lets TCP over IPv6 through"

# ---- withdrawn ---------------------------------------------------------------------------

out=$(nw_withdraw "$NW_U1" dual)
is "$?" 0 "withdraw exits 0"
is "$(nw_kernel)" "" "the kernel holds nothing"
check "after the withdrawal TCP over IPv6 is dropped again" closed tcp6 "$SERVER6" 443
check "after the withdrawal UDP over IPv6 is dropped again" closed udp6 "$SERVER6" 443
check "after the withdrawal the range is dropped again" closed tcp6 "$SERVER6" 30001
is "$(wan 80)" refused "after the withdrawal the IPv4 forward is gone (the router refuses)"

# ---- the cluster side: a dual-stack Service through natwarden-sync ------------------------

# MetalLB gave the Service an IPv4 and an IPv6 load-balancer IP; a stand-in kubectl replays the
# list, and a stand-in ssh runs the forced command as the login user, as sshd would.
mkdir -p "$NW_T/bin"
cat >"$NW_T/services.json" <<JSON
{"apiVersion": "v1", "kind": "List", "items": [
 {"metadata": {"name": "web", "namespace": "ingress",
   "annotations": {"natwarden.io/forward": "80,443", "natwarden.io/masquerade": "true"}},
  "spec": {"type": "LoadBalancer", "ipFamilies": ["IPv4", "IPv6"],
   "ports": [{"name": "http", "port": 80, "protocol": "TCP"}, {"name": "https", "port": 443, "protocol": "TCP"}]},
  "status": {"loadBalancer": {"ingress": [{"ip": "$SERVER", "ipMode": "VIP"}, {"ip": "$SERVER6", "ipMode": "VIP"}, {"ip": "192.168.1.242"}]}}}
]}
JSON
printf '#!/bin/sh\ncat %s\n' "$NW_T/services.json" >"$NW_T/bin/kubectl"
cat >"$NW_T/bin/ssh" <<SH
#!/bin/sh
# stand-in ssh: ssh USER@HOST COMMAND... runs natwarden's forced command as USER
user=\${1%@*}
shift
exec setpriv --reuid="\$user" --regid="\$(id -g "\$user")" --init-groups --reset-env -- \\
	env SSH_ORIGINAL_COMMAND="\$*" "$NW_CLIENT" --spool "$NW_T/spool" --runtime "$NW_T/run" \\
	--config "$NW_T/policy.ini" ssh-command
SH
chmod 0755 "$NW_T/bin/kubectl" "$NW_T/bin/ssh"
sync() { env KUBECTL="$NW_T/bin/kubectl" NATWARDEN_SSH="$NW_T/bin/ssh" NATWARDEN_LEASE=0 \
	NATWARDEN_ROUTERS="$NW_U1@router" "$NW_TOP/client/kubernetes/natwarden-sync" "$@" 2>&1; }
is "$(sync --dry-run)" "natwarden-sync: ingress/web: a second IPv4 load-balancer IP '192.168.1.242': left out (one public port, one target)
== k8s-ingress-web
# natwarden-sync: Service ingress/web
dnat tcp 80 to $SERVER
pinhole tcp 80 to $SERVER6
dnat tcp 443 to $SERVER
pinhole tcp 443 to $SERVER6
masquerade $SERVER" "natwarden-sync renders both halves of a dual-stack Service into one fragment (a third IP left out, saying so)"
out=$(sync --once)
is "$?" 0 "natwarden-sync exits 0"
like "$out" "^natwarden-sync: $NW_U1@router: k8s-ingress-web: accepted$" "natwarden-sync submits it (forced command)"
is "$(nw_kernel)" "masq tcp 443
masq tcp 80
pinhole tcp 443 $SERVER6
pinhole tcp 80 $SERVER6
tcp 443 $SERVER:443
tcp 80 $SERVER:80" "the kernel holds the forwards, their masquerade and the pinholes"
is "$(tcp6 "$SERVER6" 443)" "served $SERVER6:443 to $WAN6" "the IPv6 half: TCP over IPv6 through the pinhole"
is "$(wan 80)" "served $SERVER:80 to $ROUTER_LAN" "the IPv4 half: the forward, masqueraded"
printf '{"apiVersion": "v1", "kind": "List", "items": []}\n' >"$NW_T/services.json"
is "$(sync --once)" "natwarden-sync: $NW_U1@router: k8s-ingress-web: withdrawn" "the Service gone: withdrawn"
is "$(nw_kernel)" "" "the kernel holds nothing of it"

after=$(nw_nft -a list table inet admin)
is "$after" "$before" "the admin's table is byte-identical (nft -a list table)"

# ---- without the admin rule --------------------------------------------------------------

nw_nft delete table inet admin
if admin_table | nw_nft -f -; then ok "the admin table again, without the rule"; else
	not_ok "the admin table without the rule"
fi
before=$(nw_nft -a list table inet admin)
out=$(printf '%s' "$frag" | nw_submit "$NW_U1" dual)
is "$?" 0 "the fragment is accepted again"
check "without the rule, the pinhole does not get through the admin's drop" closed tcp6 "$SERVER6" 443
check "without the rule, nor UDP" closed udp6 "$SERVER6" 443
check "without the rule, the IPv4 forward does not either" closed wan 80
is "$(nw_nft -a list table inet admin)" "$before" "the admin's table is still byte-identical"

check "daemon still running" nw_alive
nw_nft delete table inet admin
if [ "$NW_TAP_FAILED" -gt 0 ]; then
	diag "server logs:"
	sed 's/^/#   /' "$NW_T/v6.log" "$NW_T/server.log"
	diag "daemon log:"
	sed 's/^/#   /' "$NW_T/daemon.log" | tail -n 30
fi
