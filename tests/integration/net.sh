# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2034 # variables set here are for the tests that source it
#
# A home network in namespaces, for the tests that send real traffic (after lib.sh):
#
#   wan ns  eth0 203.0.113.1/24 ---- wan0 203.0.113.7/24   router ($NW_NS, natwardend)
#                                    br-lan 192.168.1.1/24
#                                      |-- srv ns  eth0 192.168.1.240/24  (the server)
#                                      '-- lan ns  eth0 192.168.1.10/24   (LAN client)
#
# net_topology builds it, net_server starts the server; wan PORT and lan PORT make one new
# TCP connection to the public address from either side. Only addresses inside these
# namespaces are ever used.

WAN_NS=nwwan$NW_ID
SRV_NS=nwsrv$NW_ID
LAN_NS=nwlan$NW_ID
PUBLIC=203.0.113.7
WAN_CLIENT=203.0.113.1
ROUTER_LAN=192.168.1.1
SERVER=192.168.1.240
LAN_CLIENT=192.168.1.10

# ---- helpers ---------------------------------------------------------------------------

# The server: one process listening on SERVER at every port given, for at most 300 s. Each
# connection gets one line, "served LOCAL-ADDR:LOCAL-PORT to PEER-ADDR", and is closed.
# Writes "ready" to its log once every socket listens.
tw_server() { # tw_server NS ADDR LOG PORT...
	local ns=$1 addr=$2 log=$3
	shift 3
	ip netns exec "$ns" python3 "$(nw_py)" tcp-serve "$addr" "$log" "$@" &
	NW_PIDS+=($!)
}

# tw_tcp NS SRC DST PORT: one new TCP connection from SRC to DST:PORT, 3 s at most. Each
# attempt uses the next source port (counted in a file, as callers run in subshells), so every
# attempt is a new conntrack entry and NAT is decided afresh. Prints the server's line, or
# "refused" / "timeout" / "error: ...". Exit status 0 only when a server answered.
tw_tcp() {
	local ns=$1 src=$2 dst=$3 port=$4 sport
	local counter=${NET_SPORT_FILE:-$NW_T/sport}
	sport=$(($(cat "$counter") + 1))
	echo "$sport" >"$counter"
	ip netns exec "$ns" python3 "$(nw_py)" tcp-connect "$src" "$sport" "$dst" "$port"
}

wan() { tw_tcp "$WAN_NS" "$WAN_CLIENT" "$PUBLIC" "$1"; }
lan() { tw_tcp "$LAN_NS" "$LAN_CLIENT" "$PUBLIC" "$1"; }

# ---- the topology ----------------------------------------------------------------------

# net_topology [NS:ADDR...]: the network above, plus more LAN hosts (namespaces made here).
net_topology() {
	local extra
	nw_netns "$WAN_NS"
	nw_netns "$SRV_NS"
	nw_netns "$LAN_NS"
	for extra in "$@"; do
		nw_netns "${extra%%:*}"
	done
	tw_run() { "$@" || { echo "#   failed: $*"; exit 1; }; }
	topo() { # in a subshell: the first failing command ends it
		tw_run ip -n "$NW_NS" link add wan0 type veth peer name eth0 netns "$WAN_NS"
		tw_run ip -n "$NW_NS" addr add "$PUBLIC/24" dev wan0
		tw_run ip -n "$NW_NS" link set wan0 up
		tw_run ip -n "$WAN_NS" addr add "$WAN_CLIENT/24" dev eth0
		tw_run ip -n "$WAN_NS" link set eth0 up

		tw_run ip -n "$NW_NS" link add br-lan type bridge
		tw_run ip -n "$NW_NS" addr add "$ROUTER_LAN/24" dev br-lan
		tw_run ip -n "$NW_NS" link set br-lan up
		local ns addr port=0
		for ns in "$SRV_NS:$SERVER" "$LAN_NS:$LAN_CLIENT" "$@"; do
			addr=${ns#*:}
			ns=${ns%%:*}
			port=$((port + 1))
			tw_run ip -n "$NW_NS" link add "lan$port" type veth peer name eth0 netns "$ns"
			tw_run ip -n "$NW_NS" link set "lan$port" master br-lan
			tw_run ip -n "$NW_NS" link set "lan$port" up
			tw_run ip -n "$ns" addr add "$addr/24" dev eth0
			tw_run ip -n "$ns" link set eth0 up
			tw_run ip -n "$ns" route add default via "$ROUTER_LAN"
		done
		tw_run ip netns exec "$NW_NS" sysctl -qw net.ipv4.ip_forward=1
		# With br_netfilter, bridged LAN frames would also cross the router's inet hooks; a plain
		# home router bridge does not do that.
		if ip netns exec "$NW_NS" test -e /proc/sys/net/bridge/bridge-nf-call-iptables; then
			tw_run ip netns exec "$NW_NS" sysctl -qw net.bridge.bridge-nf-call-iptables=0
		fi
	}
	if (topo "$@"); then ok "topology: wan, router, bridged LAN with server and LAN client"; else
		not_ok "topology"
		exit 1
	fi
}

# net_server PORT...: the server on $SERVER, listening on those ports, and a sanity check.
net_server() {
	: >"$NW_T/server.log"
	echo 41000 >"$NW_T/sport"
	tw_server "$SRV_NS" "$SERVER" "$NW_T/server.log" "$@"
	if nw_wait_for 10 grep -qx ready "$NW_T/server.log"; then ok "server listens on $SERVER"; else
		not_ok "server listens on $SERVER"
		exit 1
	fi
	# Wait (10 tries at most) until the bridge forwards and the links are up.
	for _ in $(seq 10); do
		tw_tcp "$LAN_NS" "$LAN_CLIENT" "$SERVER" "$1" >/dev/null && break
		sleep 0.2
	done
	is "$(tw_tcp "$LAN_NS" "$LAN_CLIENT" "$SERVER" "$1")" "served $SERVER:$1 to $LAN_CLIENT" \
		"sanity: the LAN client reaches the server directly over the bridge"
}

# ---- SSH to the router -------------------------------------------------------------------

# net_sshd USER: a real sshd in the router namespace, listening on $ROUTER_LAN:22 only, that
# lets USER in with the key $NW_T/ssh/cluster_key and then runs nothing but natwarden's
# forced command ("natwarden ssh-command", with this test's paths). USER gets /bin/sh (sshd
# runs a forced command through the login shell) and no password. Sets $SSH, the client
# command, to use from a namespace on the LAN; known_hosts holds the router's host key.
net_sshd() {
	local user=$1 forced
	mkdir -p "$NW_T/home" "$NW_T/ssh/keys"
	usermod -s /bin/sh -d "$NW_T/home" -p '*' "$user" # no password, but not locked
	ssh-keygen -q -t ed25519 -N '' -f "$NW_T/ssh/host_key"
	ssh-keygen -q -t ed25519 -N '' -C cluster -f "$NW_T/ssh/cluster_key"
	forced="$NW_CLIENT --spool $NW_T/spool --runtime $NW_T/run --config $NW_T/policy.ini ssh-command"
	echo "command=\"$forced\",restrict $(cat "$NW_T/ssh/cluster_key.pub")" >"$NW_T/ssh/keys/$user"
	cat >"$NW_T/ssh/sshd_config" <<-CONF
	ListenAddress $ROUTER_LAN:22
	HostKey $NW_T/ssh/host_key
	AuthorizedKeysFile $NW_T/ssh/keys/%u
	PidFile $NW_T/ssh/sshd.pid
	StrictModes no
	UsePAM no
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	PermitRootLogin no
	AllowUsers $user
	PermitUserEnvironment no
	LogLevel VERBOSE
	CONF
	# sshd's privilege separation directory; removed again by nw_cleanup if made here
	if [ ! -d /run/sshd ]; then
		mkdir -p /run/sshd && chmod 0755 /run/sshd && NET_MADE_RUN_SSHD=yes
	fi
	ip netns exec "$NW_NS" /usr/sbin/sshd -t -f "$NW_T/ssh/sshd_config" || return 1
	ip netns exec "$NW_NS" /usr/sbin/sshd -D -e -f "$NW_T/ssh/sshd_config" 2>>"$NW_T/sshd.log" &
	NW_PIDS+=($!)
	echo "$ROUTER_LAN $(cut -d' ' -f1,2 "$NW_T/ssh/host_key.pub")" >"$NW_T/ssh/known_hosts"
	SSH="ssh -F none -o BatchMode=yes -o UserKnownHostsFile=$NW_T/ssh/known_hosts -o StrictHostKeyChecking=yes -o ConnectTimeout=3"
	nw_wait_for 10 ip netns exec "$LAN_NS" bash -c "exec 3<>/dev/tcp/$ROUTER_LAN/22"
}

# net_ingress PAGE: the cluster's ingress, an HTTP server on $SERVER ports 80 and 443 (plain
# TCP), serving PAGE; waits (10 s at most each) until the LAN client gets it on both ports.
net_ingress() {
	local port
	mkdir -p "$NW_T/www"
	echo "$1" >"$NW_T/www/index.html"
	for port in 80 443; do
		ip netns exec "$SRV_NS" timeout 600 python3 -m http.server "$port" --bind "$SERVER" \
			--directory "$NW_T/www" >>"$NW_T/http.log" 2>&1 &
		NW_PIDS+=($!)
		nw_wait_for 10 bash -c "ip netns exec $LAN_NS curl -s --max-time 1 http://$SERVER:$port/ | grep -qF '$1'" ||
			return 1
	done
}
