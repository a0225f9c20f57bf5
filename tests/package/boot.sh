#!/bin/bash
# SPDX-License-Identifier: MIT
# The Debian package in a booted Debian 12: systemd as PID 1 in systemd-nspawn, on a root file
# system built by mmdebstrap from the machine's Debian mirror and cached outside the clone
# (NW_ROOTFS_CACHE, default /var/cache/natwarden-test). The test builds two packages: this
# tree's, and 0.1.0 (the first packaged version, from the repository's history), checks this
# tree's with lintian, and boots two containers, each a fresh copy of the root file system:
#   life: this tree's package installed with apt: enabled, active, idle with the shipped
#     policy; a member of natwarden-submit submits (accepted, rejected) and lists; traffic
#     flows; reload with a good and with a broken policy; restart keeps the forward; a flush
#     of the whole ruleset is recovered; the watchdog restarts a stopped daemon, forward
#     intact; the journal's NATWARDEN_* fields and catalog text; systemd-analyze security;
#     remove (the table goes; state, spool and policy stay); purge (they go, the user stays).
#   upgrade: 0.1.0 installed and forwarding, then this tree's package over it while a
#     connection loop runs and `nft monitor` records every change: no failed connection, no
#     committed generation without the forward, the new binary runs, 0.1.0's saved state is
#     read and rewritten in the current format.
# Traffic: per container, a client namespace and a backend namespace on the host side, joined
# to it by veth pairs (the container's wan0 and lan0). Nothing touches the host's ruleset: each
# container has a network namespace of its own.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh" # the TAP helpers; this test makes its own world

SRC=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${NW_ROOTFS_CACHE:-/var/cache/natwarden-test}
NWTEST=$SRC/tests/integration/nwtest.py
# natwarden 0.1.0, the first packaged version: its state files have no format line
OLD_COMMIT=883fea5d049b55ffc0f06c5234f5949a11cd8750
[ "$(id -u)" = 0 ] || skip_all "needs root (containers, mounts, network namespaces)"
for tool in dpkg-buildpackage dpkg-deb lintian mmdebstrap systemd-nspawn nsenter ip python3 git curl; do
	command -v "$tool" >/dev/null || skip_all "needs $tool (tests/deps.sh installs it)"
done
[ -d /sys/fs/cgroup/systemd ] || [ -f /sys/fs/cgroup/cgroup.controllers ] || skip_all "no cgroup hierarchy for a container"
unshare -n true 2>/dev/null || skip_all "cannot create network namespaces here"

ID=nwp$$
T=$(mktemp -d /tmp/natwarden-package.XXXXXX) || { echo "Bail out! mktemp"; exit 1; }
NSPAWN= # the running container's systemd-nspawn (our child) and its init (PID 1 inside)
INIT=
ROOT=
PIDS=()
MOUNTS=()
NAMESPACES=()
CGROUPS=()
MID_ACCEPTED=50c4e8d60983493681daec5e53b14533
MID_REJECTED=fcef0e3d545943d185c1a869747687c0
MID_RELOADED=48b107baf2d8469ab8ff07e970d42a1f
MID_RELOAD_FAILED=817469b6cc9e43d592f5cb62d61df3d6

# Stop the running container: poweroff, then (after 10 s) SIGKILL to its nspawn.
poweroff() {
	[ -n "$NSPAWN" ] && nw_ours "$NSPAWN" || return 0
	[ -n "$INIT" ] && nsenter -t "$INIT" -a systemctl poweroff >/dev/null 2>&1
	for _ in $(seq 100); do nw_ours "$NSPAWN" || break; sleep 0.1; done
	nw_ours "$NSPAWN" && kill -9 "$NSPAWN" 2>/dev/null
	wait "$NSPAWN" 2>/dev/null
	NSPAWN=
	INIT=
}
cleanup() {
	local rc=$? pid x
	for pid in "${PIDS[@]}"; do nw_ours "$pid" && kill "$pid" 2>/dev/null; done
	poweroff
	for x in "${MOUNTS[@]}"; do mountpoint -q "$x" && { umount "$x" 2>/dev/null || umount -l "$x"; }; done
	for x in "${NAMESPACES[@]}"; do ip netns del "$x" 2>/dev/null; done
	# the containers' cgroups below ours (payload, supervisor, ...) first
	for x in "${CGROUPS[@]}"; do find "$x" -depth -type d -exec rmdir {} + 2>/dev/null; done
	nw_finish "$rc" "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ct CMD...: run CMD in the running container (all its namespaces, as its root)
ct() { nsenter -t "$INIT" -a "$@"; }
now() { echo $(($(date +%s%N) / 1000000)); }
since() { echo $(($(now) - $1)); } # ms since a now() stamp

# ---- the packages ---------------------------------------------------------------------------

# build_deb DIR [COMMIT]: this tree's tracked files as they are on disk, or COMMIT's, built in
# DIR as a binary package (its unit tests are the suite's job).
build_deb() {
	local dir=$1 commit=${2:-}
	mkdir -p "$dir/src"
	if [ -n "$commit" ]; then
		git -C "$SRC" archive "$commit" | tar -xf - -C "$dir/src"
	else
		git -C "$SRC" ls-files -z | (cd "$SRC" && tar --null -T - -cf -) | tar -xf - -C "$dir/src"
	fi || return 1
	(cd "$dir/src" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b) >"$dir/build.log" 2>&1
}
t0=$(now)
build_deb "$T/new" || { tail -n 30 "$T/new/build.log" | sed 's/^/#   /'; echo "Bail out! dpkg-buildpackage failed"; exit 1; }
DEB=$(ls "$T"/new/natwarden_*.deb)
VERSION=$(dpkg-deb -f "$DEB" Version)
ok "dpkg-buildpackage builds $(basename "$DEB") ($(since "$t0") ms)"
lint=$(lintian --fail-on error,warning "$DEB" 2>&1)
is "$?:$(printf '%s\n' "$lint" | grep -E '^[EW]: ')" "0:" "lintian: no errors, no warnings"
OLD_DEB=
if git -C "$SRC" cat-file -e "$OLD_COMMIT^{commit}" 2>/dev/null; then
	t0=$(now)
	if build_deb "$T/old" "$OLD_COMMIT"; then
		OLD_DEB=$(ls "$T"/old/natwarden_*.deb)
		ok "0.1.0 builds from the repository's history ($(since "$t0") ms)"
	else
		tail -n 30 "$T/old/build.log" | sed 's/^/#   /'
		not_ok "0.1.0 builds from the repository's history"
	fi
else
	ok "# SKIP no 0.1.0 to upgrade from: commit $OLD_COMMIT is not in this clone (shallow?)"
fi

# ---- the root file system: cached, one per list of packages ---------------------------------

# What the package needs at run time, and what a booted system with nftables needs.
deps=$(dpkg-deb -f "$DEB" Depends | tr ',' '\n' | sed 's/[(|].*//; s/ //g' | grep . | sort -u)
# shellcheck disable=SC2086 # $deps: package names, one per line
includes=$(printf '%s\n' systemd systemd-sysv dbus nftables iproute2 procps passwd prometheus-node-exporter $deps |
	sort -u | paste -sd, -)
mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || { echo "Bail out! no Debian mirror in /etc/apt/sources.list(.d)"; exit 1; }
key=$(printf '%s\n' "$includes" | sha256sum | cut -c1-12)
ROOTFS=$CACHE/bookworm-$key
if [ ! -f "$ROOTFS/.complete" ]; then
	t0=$(now)
	mkdir -p "$CACHE" && rm -rf "$ROOTFS.tmp"
	if ! mmdebstrap --variant=minbase --include="$includes" bookworm "$ROOTFS.tmp" \
		"deb $mirror bookworm main" "deb $mirror bookworm-updates main" >"$T/mmdebstrap.log" 2>&1; then
		tail -n 20 "$T/mmdebstrap.log" | sed 's/^/#   /'
		rm -rf "$ROOTFS.tmp"
		echo "Bail out! mmdebstrap failed"
		exit 1
	fi
	touch "$ROOTFS.tmp/.complete" && mv "$ROOTFS.tmp" "$ROOTFS"
	diag "root file system built in $(since "$t0") ms: $ROOTFS"
fi
ok "a cached Debian 12 root file system ($includes)"

# ---- a container --------------------------------------------------------------------------------

# boot NAME: a fresh copy of the root file system (an overlay) booted as NAME, with the
# packages in /var/tmp; client namespace NAMEc (203.0.113.50) -- wan0 203.0.113.1 (container)
# and lan0 192.168.50.1 (container) -- backend namespace NAMEs (192.168.50.2, a TCP server on
# port 80). Sets ROOT, NSPAWN and INIT.
boot() {
	local name=$1 h state t0
	ROOT=$T/$name/root
	mkdir -p "$T/$name/upper" "$T/$name/work" "$ROOT"
	mount -t overlay overlay -o "lowerdir=$ROOTFS,upperdir=$T/$name/upper,workdir=$T/$name/work" "$ROOT" ||
		{ echo "Bail out! cannot mount an overlay over $ROOTFS"; exit 1; }
	MOUNTS+=("$ROOT")
	cp "$DEB" ${OLD_DEB:+"$OLD_DEB"} "$ROOT/var/tmp/"
	# Without a host systemd, nspawn puts the container in <its own cgroup>/payload: a cgroup
	# of its own per container, so that two never collide.
	for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup; do
		if [ -f "$h/cgroup.procs" ] && mkdir "$h/$name" 2>/dev/null; then CGROUPS+=("$h/$name"); fi
	done
	t0=$(now)
	# shellcheck disable=SC2016 # expanded by the launching shell
	setsid bash -c 'for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup; do
		[ -f "$h/cgroup.procs" ] && [ -d "$h/$1" ] && echo $$ >"$h/$1/cgroup.procs"; done
		shift; exec systemd-nspawn "$@"' launch "$name" -D "$ROOT" -M "$name" -b --register=no \
		--keep-unit --console=passive --private-network >"$T/$name/nspawn.log" 2>&1 &
	NSPAWN=$!
	for _ in $(seq 300); do
		INIT=$(pgrep -P "$NSPAWN" -x systemd)
		[ -n "$INIT" ] && break
		sleep 0.1
	done
	[ -n "$INIT" ] || { sed 's/^/#   /' "$T/$name/nspawn.log"; echo "Bail out! the container did not start"; exit 1; }
	for _ in $(seq 300); do
		state=$(ct systemctl is-system-running 2>/dev/null)
		case $state in running | degraded) break ;; esac
		sleep 0.1
	done
	is "$state" running "$name: Debian 12 boots with systemd as PID 1 ($(since "$t0") ms)"
	[ "$state" = degraded ] && ct systemctl --failed --no-legend | sed 's/^/#   /'

	NAMESPACES+=("${name}c" "${name}s")
	{ ip netns add "${name}c" && ip netns add "${name}s"; } || { echo "Bail out! ip netns add"; exit 1; }
	{ ip link add "${name}w" type veth peer name wan0 && ip link set wan0 netns "$INIT" &&
		ip link set "${name}w" netns "${name}c" &&
		ip link add "${name}l" type veth peer name lan0 && ip link set lan0 netns "$INIT" &&
		ip link set "${name}l" netns "${name}s"; } || { echo "Bail out! veth pairs"; exit 1; }
	{ ip -n "${name}c" addr add 203.0.113.50/24 dev "${name}w" && ip -n "${name}c" link set "${name}w" up &&
		ip -n "${name}c" link set lo up &&
		ip -n "${name}s" addr add 192.168.50.2/24 dev "${name}l" && ip -n "${name}s" link set "${name}l" up &&
		ip -n "${name}s" link set lo up && ip -n "${name}s" route add default via 192.168.50.1 &&
		ct ip addr add 203.0.113.1/24 dev wan0 && ct ip link set wan0 up &&
		ct ip addr add 192.168.50.1/24 dev lan0 && ct ip link set lan0 up &&
		ct ip route add default via 203.0.113.50 dev wan0 &&
		nsenter -t "$INIT" -n sysctl -qw net.ipv4.ip_forward=1; } || { echo "Bail out! addresses"; exit 1; }
	ip netns exec "${name}s" python3 "$NWTEST" tcp-serve --seconds 900 --quiet 192.168.50.2 "$T/$name/server.log" 80 &
	PIDS+=($!)
	nw_wait_for 10 grep -q ready "$T/$name/server.log" || { echo "Bail out! the backend server did not start"; exit 1; }
	CLIENT_NS=${name}c
}
connect() { ip netns exec "$CLIENT_NS" python3 "$NWTEST" tcp-connect 203.0.113.50 0 203.0.113.1 80; }
# as an unattended upgrade does: a policy.ini the administrator changed is kept
apt_get() {
	ct env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0 \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
}
as_user() { ct runuser -u nat_update -- "$@"; }
# The forward in the kernel (the container has no /etc/protocols: nft prints tcp as 6).
forwarded() { ct nft list map inet natwarden dnat_port 2>/dev/null | grep -Eq '(tcp|6) \. 80 : 192\.168\.50\.2 \. 80'; }

# configure LINE INTERFACE: user nat_update in natwarden-submit, and a policy that lets it
# forward 80 and 443 to the backend's network, with LINE in [daemon] and [wan] interface =
# INTERFACE (also in $T/policy.ini); a reload.
configure() {
	ct useradd -m -G natwarden-submit nat_update || not_ok "useradd nat_update"
	cat >"$T/policy.ini" <<-INI
	[daemon]
	user = natwarden
	group = natwarden-submit
	table = natwarden
	spool = /var/spool/natwarden
	state = /var/lib/natwarden
	runtime = /run/natwarden
	${1:-}

	[wan]
	interface = $2

	[reserved]
	ports = 22

	[submitter nat_update]
	ports = 80, 443
	protocols = tcp
	destinations = 192.168.50.0/24
	INI
	cp "$T/policy.ini" "$ROOT/etc/natwarden/policy.ini"
	check "natwardend --check accepts the policy" ct natwardend --check
	ct systemctl reload natwarden
	check "systemctl reload with a good policy: the journal says reloaded" \
		nw_wait_for 10 bash -c "nsenter -t $INIT -a journalctl MESSAGE_ID=$MID_RELOADED --no-pager -q | grep -q ."
}

# ---- life: install, use, remove, purge ------------------------------------------------------------

boot "${ID}a"
# As if prometheus-node-exporter came after natwarden: its textfile directory is not there yet.
ct mv /var/lib/prometheus/node-exporter /var/lib/prometheus/node-exporter.later
t0=$(now)
apt_get install "/var/tmp/$(basename "$DEB")" >"$T/install.log" 2>&1
is "$?" 0 "apt install ./$(basename "$DEB") ($(since "$t0") ms)"
is "$(ct systemctl is-enabled natwarden)" enabled "the service is enabled"
is "$(ct systemctl is-active natwarden)" active "the service is active right after the installation"
like "$(ct systemctl status natwarden --no-pager 2>&1)" \
	"Status: \"no submitters in /etc/natwarden/policy.ini; nothing to do\"" \
	"systemctl status shows the daemon's STATUS: idle with the shipped policy"
is "$(ct nft list map inet natwarden dnat_port 2>&1 | grep -c 'elements')" 0 "nothing is forwarded"
is "$(ct natwarden status | grep '^WAN interface')" \
	"WAN interface wan0: public address 203.0.113.1 (followed on the interface of the IPv4 default route)" \
	"[wan] interface = auto, as shipped: the interface of the default route, wan0"
is "$(ct stat -c '%U:%G %a' /var/spool/natwarden /var/lib/natwarden /run/natwarden | paste -sd' ')" \
	"natwarden:natwarden-submit 710 natwarden:natwarden 700 natwarden:natwarden-submit 750" \
	"tmpfiles made the spool, state and runtime directories with their owners and modes"
is "$(ct stat -c '%U:%G %a' /etc/natwarden/policy.ini)" "root:root 644" "the shipped policy: root's, 0644"
is "$(ct dpkg-query -W -f="\${Conffiles}" natwarden | awk '{ print $1 }' | paste -sd' ')" \
	/etc/natwarden/policy.ini "policy.ini is the package's one conffile"

# [daemon] metrics, as the package sets it: written in /run/natwarden-metrics; once
# node-exporter's textfile directory is there, dpkg's file trigger links them into it.
check "natwardend writes /run/natwarden-metrics/natwarden.prom" \
	nw_wait_for 10 ct test -f /run/natwarden-metrics/natwarden.prom
ct test -e /var/lib/prometheus/node-exporter.later/natwarden.prom
is "$?" 1 "no link while node-exporter's directory is not there"
ct mv /var/lib/prometheus/node-exporter.later /var/lib/prometheus/node-exporter
ct dpkg-trigger --no-await /var/lib/prometheus/node-exporter && ct dpkg --triggers-only --pending >/dev/null
is "$?" 0 "dpkg runs natwarden's trigger for node-exporter's directory"
is "$(ct readlink /var/lib/prometheus/node-exporter/natwarden.prom)" /run/natwarden-metrics/natwarden.prom \
	"... which links the metrics into it"
scrape() { nsenter -t "$INIT" -n curl -sf http://127.0.0.1:9100/metrics; }
check "prometheus-node-exporter runs in the container" nw_wait_for 10 scrape
like "$(scrape)" '^natwarden_forwards\{kind="dnat"\} 0$' "node-exporter serves natwarden's metrics over HTTP"

configure "metrics = /run/natwarden-metrics/natwarden.prom" auto
like "$(ct systemctl status natwarden --no-pager)" 'Status: "0 mappings from 0 fragments of 0 users' \
	"... and systemctl status shows the daemon's new STATUS"
out=$(printf 'dnat tcp 80 to 192.168.50.2\n' | as_user natwarden submit ingress - 2>&1)
is "$?" 0 "nat_update submits a forward of port 80: accepted"
diag "$out"
out=$(printf 'dnat tcp 22 to 192.168.50.2\n' | as_user natwarden submit sshd - 2>&1)
is "$?" 1 "a forward of the reserved port 22: rejected (exit 1)"
like "$out" "sshd:1: .*22" "the rejection names the fragment's line and the port"
like "$(as_user natwarden list 2>&1)" "^nat_update +ingress +tcp +80 +192\.168\.50\.2:80 +-$" "natwarden list shows the accepted forward"
is "$(connect)" "served 192.168.50.2:80 to 203.0.113.50" "traffic to the WAN address reaches the backend"
check "node-exporter serves the forward and the verdicts" nw_wait_for 5 bash -c \
	"nsenter -t $INIT -n curl -sf http://127.0.0.1:9100/metrics | grep -qx 'natwarden_verdicts_total{outcome=\"rejected\",user=\"nat_update\"} 1'" ||
	scrape | grep '^natwarden_\(verdicts\|forwards\)' | sed 's/^/#   /'

bad_line=$(($(wc -l <"$T/policy.ini") + 1))
echo 'this line is not ini' >>"$ROOT/etc/natwarden/policy.ini"
ct systemctl reload natwarden
check "systemctl reload with a broken policy: the error, with its line, is in journalctl -u natwarden" \
	nw_wait_for 10 bash -c "nsenter -t $INIT -a journalctl -u natwarden --no-pager | grep -q 'policy.ini:$bad_line'"
diag "$(ct journalctl -u natwarden --no-pager -q MESSAGE_ID=$MID_RELOAD_FAILED | tail -n 1)"
is "$(ct systemctl is-active natwarden)" active "... the daemon runs on"
check "... with the old policy: the forward stays" forwarded
cp "$T/policy.ini" "$ROOT/etc/natwarden/policy.ini"
ct systemctl reload natwarden

pid0=$(ct systemctl show -P MainPID natwarden)
ct systemctl restart natwarden
pid1=$(ct systemctl show -P MainPID natwarden)
check "systemctl restart: a new daemon ($pid0 -> $pid1)" test "$pid0" != "$pid1"
check "systemctl restart keeps the forward" forwarded
is "$(connect)" "served 192.168.50.2:80 to 203.0.113.50" "... and traffic flows"

ct nft flush ruleset
t0=$(now)
check "nft flush ruleset: natwardend puts its table back" nw_wait_for 10 forwarded
diag "the forward was back after $(since "$t0") ms"

# The watchdog, with a short WatchdogSec= for the test (the shipped unit has 30 s).
mkdir -p "$ROOT/etc/systemd/system/natwarden.service.d"
printf '[Service]\nWatchdogSec=2s\nRestartSec=1s\n' >"$ROOT/etc/systemd/system/natwarden.service.d/test.conf"
ct systemctl daemon-reload && ct systemctl restart natwarden
pid0=$(ct systemctl show -P MainPID natwarden)
restarts0=$(ct systemctl show -P NRestarts natwarden)
ct kill -STOP "$pid0"
t0=$(now)
check "SIGSTOP: systemd's watchdog restarts the daemon" \
	nw_wait_for 30 bash -c "p=\$(nsenter -t $INIT -a systemctl show -P MainPID natwarden); [ \"\$p\" != $pid0 ] && [ \"\$p\" != 0 ]"
diag "restarted after $(since "$t0") ms"
is "$(ct systemctl show -P NRestarts natwarden)" $((restarts0 + 1)) "... counted as one restart"
like "$(ct journalctl -u natwarden --no-pager)" "natwarden.service: Watchdog timeout" "... for a watchdog timeout"
check "... and the forward is intact" nw_wait_for 10 forwarded
rm -r "$ROOT/etc/systemd/system/natwarden.service.d"
ct systemctl daemon-reload && ct systemctl restart natwarden

# the journal and the catalog, from the container's journald
fields=$(ct journalctl -o export MESSAGE_ID=$MID_ACCEPTED NATWARDEN_FRAGMENT=ingress |
	grep -aE '^(NATWARDEN_(USER|FRAGMENT|VERDICT)|_SYSTEMD_UNIT)=' | sort -u | paste -sd' ')
is "$fields" "NATWARDEN_FRAGMENT=ingress NATWARDEN_USER=nat_update NATWARDEN_VERDICT=accepted _SYSTEMD_UNIT=natwarden.service" \
	"the accepted verdict in the journal, with its NATWARDEN_* fields"
like "$(ct journalctl -x -o short MESSAGE_ID=$MID_REJECTED --no-pager)" \
	"Subject: natwarden rejected fragment sshd of nat_update" "journalctl -x explains the rejection from the installed catalog"

# exposure: every check above ran with the shipped unit
sec=$(ct systemd-analyze security natwarden --no-pager 2>&1)
diag "systemd-analyze security natwarden: $(printf '%s\n' "$sec" | sed -n 's/.*Overall exposure level for natwarden.service: \([0-9.]*\).*/\1/p')"
printf '%s\n' "$sec" | grep '✗' | sed 's/  */ /g; s/^/#   /'
costs=$(printf '%s\n' "$sec" | awk '/✗/ { print $2 }' | sort | paste -sd' ')
is "$costs" "AmbientCapabilities= CapabilityBoundingSet=~CAP_NET_ADMIN DeviceAllow= PrivateNetwork= PrivateUsers= RestrictAddressFamilies=~AF_NETLINK RestrictAddressFamilies=~AF_UNIX RootDirectory=/RootImage=" \
	"the only exposures are the justified ones"

apt_get remove natwarden >"$T/remove.log" 2>&1
is "$?" 0 "apt remove natwarden"
is "$(ct systemctl is-active natwarden)" inactive "the service is stopped"
ct nft list table inet natwarden >/dev/null 2>&1
is "$?" 1 "its table is gone: no forward outlives the daemon"
connect >/dev/null
is "$?" 1 "traffic to the old forward no longer reaches the backend"
check "state, spool and policy stay" ct test -d /var/lib/natwarden -a -d /var/spool/natwarden -a -f /etc/natwarden/policy.ini
ct test -e /var/lib/prometheus/node-exporter/natwarden.prom -o -L /var/lib/prometheus/node-exporter/natwarden.prom
is "$?" 1 "the metrics link is gone (no scrape error for a link to nothing)"
apt_get purge natwarden >"$T/purge.log" 2>&1
is "$?" 0 "apt purge natwarden"
for p in /var/lib/natwarden /var/spool/natwarden /run/natwarden /run/natwarden-metrics /etc/natwarden/policy.ini; do
	check "purge removed $p" ct test ! -e "$p"
done
is "$(ct nft list ruleset | grep -c natwarden)" 0 "the kernel holds nothing of natwarden"
check "the system user natwarden stays (Debian policy 9.2.2)" ct getent passwd natwarden
poweroff

# ---- upgrade: 0.1.0, forwarding, then this tree's package over it ---------------------------------

[ -n "$OLD_DEB" ] || exit 0
boot "${ID}b"
apt_get install "/var/tmp/$(basename "$OLD_DEB")" >"$T/install-old.log" 2>&1
is "$?:$(ct dpkg-query -W -f="\${Version}" natwarden)" 0:0.1.0 "apt install 0.1.0"
configure "" wan0
printf 'dnat tcp 80 to 192.168.50.2\n' | as_user natwarden submit ingress - >/dev/null 2>&1
is "$?" 0 "0.1.0 accepts nat_update's forward"
is "$(connect)" "served 192.168.50.2:80 to 203.0.113.50" "... and traffic flows"
like "$(head -c 200 "$ROOT/var/lib/natwarden/snapshot" "$ROOT/var/lib/natwarden/journal" 2>&1)" "^put [0-9]+ " \
	"0.1.0's saved state: records without a format line"

ct sh -c 'exec nft monitor >/var/tmp/nft-monitor.log 2>&1' &
MONITOR=$!
PIDS+=("$MONITOR")
sleep 0.5
rm -f "$T/stop"
ip netns exec "$CLIENT_NS" python3 "$NWTEST" tcp-loop --seconds 120 203.0.113.1 80 "$T/stop" >"$T/loop.log" 2>&1 &
LOOP=$!
PIDS+=("$LOOP")
sleep 0.5
pid0=$(ct systemctl show -P MainPID natwarden)
t0=$(now)
apt_get install "/var/tmp/$(basename "$DEB")" >"$T/upgrade.log" 2>&1
is "$?" 0 "apt install of $VERSION over 0.1.0, with the forward live ($(since "$t0") ms)"
sleep 0.5
touch "$T/stop"
wait "$LOOP"
is "$?" 0 "a connection loop through the forward saw no failure during the upgrade: $(head -n 1 "$T/loop.log")"
sed -n '2,$s/^/#   /p' "$T/loop.log"
ct pkill -x nft
wait "$MONITOR" 2>/dev/null
# Replay the monitor: at every committed generation the table holds the forward.
gaps=$(awk '
	/^delete table inet natwarden/ { fwd = 0 }
	/^delete (map|set) inet natwarden dnat_port/ { fwd = 0 }
	/^add element inet natwarden dnat_port .*(tcp|6) \. 80 : 192\.168\.50\.2 \. 80/ { fwd = 1 }
	/^delete element inet natwarden dnat_port .*(tcp|6) \. 80 / { fwd = 0 }
	/^flush map inet natwarden dnat_port/ { fwd = 0 }
	/^# new generation/ { gens++; if (!fwd) gap++ }
	END { printf "%d %d\n", gens, gap }' fwd=1 "$ROOT/var/tmp/nft-monitor.log")
diag "nft monitor: $(wc -l <"$ROOT/var/tmp/nft-monitor.log") lines; generations, and those without the forward: $gaps"
check "nft monitor saw the upgrade change the ruleset" test "${gaps% *}" -gt 0
is "${gaps#* }" 0 "no committed generation without the forward"
is "$(ct dpkg-query -W -f="\${Version}" natwarden)" "$VERSION" "the package is now $VERSION"
pid1=$(ct systemctl show -P MainPID natwarden)
check "the daemon was restarted ($pid0 -> $pid1)" test "$pid0" != "$pid1"
is "$(ct readlink "/proc/$pid1/exe")" /usr/sbin/natwardend "... and runs the new binary (not a deleted one)"
is "$(ct natwardend --version)" "natwardend ${VERSION%%-*}" "natwardend --version: ${VERSION%%-*}"
is "$(head -n 1 "$ROOT/var/lib/natwarden/snapshot")" "natwarden-state 2" "0.1.0's saved state was read and rewritten in format 2"
check "the forward is still there" forwarded
like "$(as_user natwarden list 2>&1)" "^nat_update +ingress +tcp +80 +192\.168\.50\.2:80 +-$" "natwarden list shows it"
is "$(connect)" "served 192.168.50.2:80 to 203.0.113.50" "... and traffic flows"
