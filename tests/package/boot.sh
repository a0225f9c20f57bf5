#!/bin/bash
# SPDX-License-Identifier: MIT
# The Debian package in a booted Debian 12: systemd as PID 1 in systemd-nspawn, on a root file
# system built by mmdebstrap from the machine's Debian mirror and cached outside the clone
# (NW_ROOTFS_CACHE, default /var/cache/natwarden-test). The test builds the package twice from
# this tree (version N, and N+1 with a version of its own), checks it with lintian, boots, and
# inside the container:
#   install (apt): the service is enabled and active, idle with the shipped policy;
#   a member of natwarden-submit submits (accepted, rejected), lists; traffic flows;
#   reload with a good and with a broken policy; restart keeps the forwards; a flush of the
#   whole ruleset is recovered; the watchdog restarts a stopped daemon, forwards intact;
#   the journal's NATWARDEN_* fields and catalog text; systemd-analyze security;
#   upgrade N -> N+1 while a connection loop runs and `nft monitor` records every change:
#   no failed connection and no committed generation without the forward;
#   remove: the table goes, state, spool and policy stay; purge: they go, the user stays.
# Traffic: a client namespace and a backend namespace on the host side, joined to the
# container by veth pairs (the container's wan0 and lan0). Nothing touches the host's ruleset:
# the container has a network namespace of its own.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh" # the TAP helpers; this test makes its own world

SRC=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${NW_ROOTFS_CACHE:-/var/cache/natwarden-test}
NWTEST=$SRC/tests/integration/nwtest.py
[ "$(id -u)" = 0 ] || skip_all "needs root (a container, mounts, network namespaces)"
for tool in dpkg-buildpackage dpkg-deb lintian mmdebstrap systemd-nspawn nsenter ip python3 git; do
	command -v "$tool" >/dev/null || skip_all "needs $tool (tests/deps.sh installs it)"
done
[ -d /sys/fs/cgroup/systemd ] || [ -f /sys/fs/cgroup/cgroup.controllers ] || skip_all "no cgroup hierarchy for a container"
unshare -n true 2>/dev/null || skip_all "cannot create network namespaces here"

ID=nwpkg$$
T=$(mktemp -d /tmp/natwarden-package.XXXXXX) || { echo "Bail out! mktemp"; exit 1; }
ROOT=$T/root
NSPAWN=
INIT=
LOOP=
SERVER=
CGROUPS=()
cleanup() {
	local rc=$? pid
	for pid in $LOOP $SERVER; do nw_ours "$pid" && kill "$pid" 2>/dev/null; done
	if [ -n "$NSPAWN" ] && nw_ours "$NSPAWN"; then
		[ -n "$INIT" ] && nsenter -t "$INIT" -a systemctl poweroff >/dev/null 2>&1
		for _ in $(seq 100); do nw_ours "$NSPAWN" || break; sleep 0.1; done
		nw_ours "$NSPAWN" && kill -9 "$NSPAWN" 2>/dev/null
		wait "$NSPAWN" 2>/dev/null
	fi
	mountpoint -q "$ROOT" && { umount "$ROOT" 2>/dev/null || umount -l "$ROOT"; }
	ip netns del "${ID}c" 2>/dev/null
	ip netns del "${ID}b" 2>/dev/null
	# the container's cgroups below ours (payload, supervisor, ...) first
	for pid in "${CGROUPS[@]}"; do find "$pid" -depth -type d -exec rmdir {} + 2>/dev/null; done
	nw_finish "$rc" "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ct CMD...: run CMD in the container (all its namespaces, as its root)
ct() { nsenter -t "$INIT" -a "$@"; }
MID_RELOADED=48b107baf2d8469ab8ff07e970d42a1f
MID_RELOAD_FAILED=817469b6cc9e43d592f5cb62d61df3d6
since() { echo $(($(date +%s%N) / 1000000 - $1)); } # ms since a date +%s%N/1e6 stamp
now() { echo $(($(date +%s%N) / 1000000)); }

# ---- the package, twice ---------------------------------------------------------------------

# build_deb DIR VERSION: this tree's tracked files (as they are on disk) in DIR, built as a
# binary package; with VERSION, as that version (meson's and the changelog's).
build_deb() {
	local dir=$1 version=${2:-}
	mkdir -p "$dir/src"
	git -C "$SRC" ls-files -z | (cd "$SRC" && tar --null -T - -cf -) | tar -xf - -C "$dir/src" || return 1
	if [ -n "$version" ]; then
		sed -i "s/^\tversion: '[^']*',/\tversion: '$version',/" "$dir/src/meson.build"
		{
			printf 'natwarden (%s) bookworm; urgency=medium\n\n  * Test build.\n\n' "$version"
			printf ' -- natwarden developers <natwarden@example.org>  %s\n\n' "$(date -R)"
			cat "$dir/src/debian/changelog"
		} >"$dir/changelog" && mv "$dir/changelog" "$dir/src/debian/changelog"
	fi
	(cd "$dir/src" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b) >"$dir/build.log" 2>&1
}
t0=$(now)
build_deb "$T/n" || { tail -n 30 "$T/n/build.log" | sed 's/^/#   /'; echo "Bail out! dpkg-buildpackage failed"; exit 1; }
DEB_N=$(ls "$T"/n/natwarden_*.deb)
VERSION_N=$(dpkg-deb -f "$DEB_N" Version)
VERSION_U=$VERSION_N+upgrade1
build_deb "$T/u" "$VERSION_U" || { tail -n 30 "$T/u/build.log" | sed 's/^/#   /'; echo "Bail out! dpkg-buildpackage (N+1) failed"; exit 1; }
DEB_U=$(ls "$T"/u/natwarden_*.deb)
ok "dpkg-buildpackage builds $(basename "$DEB_N") and $(basename "$DEB_U") ($(since "$t0") ms)"
lint=$(lintian --fail-on error,warning --suppress-tags-from-file /dev/null "$DEB_N" 2>&1)
is "$?:$(printf '%s\n' "$lint" | grep -E '^[EW]: ')" "0:" "lintian: no errors, no warnings"

# ---- the root file system: cached, one per list of packages ---------------------------------

# What the package needs at run time, and what a booted system with nftables needs.
deps=$(dpkg-deb -f "$DEB_N" Depends | tr ',' '\n' | sed 's/[(|].*//; s/ //g' | grep . | sort -u)
# shellcheck disable=SC2086 # $deps: package names, one per line
includes=$(printf '%s\n' systemd systemd-sysv dbus nftables iproute2 procps passwd $deps | sort -u | paste -sd, -)
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

# ---- boot -------------------------------------------------------------------------------------

mkdir -p "$T/upper" "$T/work" "$ROOT"
mount -t overlay overlay -o "lowerdir=$ROOTFS,upperdir=$T/upper,workdir=$T/work" "$ROOT" ||
	{ echo "Bail out! cannot mount an overlay over $ROOTFS"; exit 1; }
cp "$DEB_N" "$DEB_U" "$ROOT/var/tmp/"
# Without a host systemd, nspawn puts the container in <its own cgroup>/payload: a cgroup of
# its own per run, so that two never collide.
# shellcheck disable=SC2016 # expanded by the launching shell
launch='for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup; do
	[ -f "$h/cgroup.procs" ] && [ -d "$h/$1" ] && echo $$ >"$h/$1/cgroup.procs"; done
	shift; exec systemd-nspawn "$@"'
for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup; do
	if [ -f "$h/cgroup.procs" ] && mkdir "$h/$ID" 2>/dev/null; then CGROUPS+=("$h/$ID"); fi
done
t0=$(now)
setsid bash -c "$launch" launch "$ID" -D "$ROOT" -M "$ID" -b --register=no --keep-unit \
	--console=passive --private-network >"$T/nspawn.log" 2>&1 &
NSPAWN=$!
for _ in $(seq 300); do
	INIT=$(pgrep -P "$NSPAWN" -x systemd)
	[ -n "$INIT" ] && break
	sleep 0.1
done
[ -n "$INIT" ] || { sed 's/^/#   /' "$T/nspawn.log"; echo "Bail out! the container did not start"; exit 1; }
state=
for _ in $(seq 300); do
	state=$(ct systemctl is-system-running 2>/dev/null)
	case $state in running | degraded) break ;; esac
	sleep 0.1
done
is "$state" running "Debian 12 boots with systemd as PID 1 ($(since "$t0") ms)"
[ "$state" = degraded ] && ct systemctl --failed --no-legend | sed 's/^/#   /'

# The network: client namespace -- wan0 (container) ... lan0 (container) -- backend namespace.
{ ip netns add "${ID}c" && ip netns add "${ID}b"; } || { echo "Bail out! ip netns add"; exit 1; }
{ ip link add "${ID}w" type veth peer name wan0 && ip link set wan0 netns "$INIT" &&
	ip link set "${ID}w" netns "${ID}c" &&
	ip link add "${ID}l" type veth peer name lan0 && ip link set lan0 netns "$INIT" &&
	ip link set "${ID}l" netns "${ID}b"; } || { echo "Bail out! veth pairs"; exit 1; }
{ ip -n "${ID}c" addr add 203.0.113.50/24 dev "${ID}w" && ip -n "${ID}c" link set "${ID}w" up &&
	ip -n "${ID}c" link set lo up &&
	ip -n "${ID}b" addr add 192.168.50.2/24 dev "${ID}l" && ip -n "${ID}b" link set "${ID}l" up &&
	ip -n "${ID}b" link set lo up && ip -n "${ID}b" route add default via 192.168.50.1 &&
	ct ip addr add 203.0.113.1/24 dev wan0 && ct ip link set wan0 up &&
	ct ip addr add 192.168.50.1/24 dev lan0 && ct ip link set lan0 up &&
	nsenter -t "$INIT" -n sysctl -qw net.ipv4.ip_forward=1; } || { echo "Bail out! addresses"; exit 1; }
ip netns exec "${ID}b" python3 "$NWTEST" tcp-serve --seconds 600 --quiet 192.168.50.2 "$T/server.log" 80 &
SERVER=$!
nw_wait_for 10 grep -q ready "$T/server.log" || { echo "Bail out! the backend server did not start"; exit 1; }
connect() { ip netns exec "${ID}c" python3 "$NWTEST" tcp-connect 203.0.113.50 0 203.0.113.1 80; }

# ---- install ----------------------------------------------------------------------------------

apt_get() { ct env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0 "$@"; }
t0=$(now)
apt_get install "/var/tmp/$(basename "$DEB_N")" >"$T/install.log" 2>&1
is "$?" 0 "apt install ./$(basename "$DEB_N") ($(since "$t0") ms)"
is "$(ct systemctl is-enabled natwarden)" enabled "the service is enabled"
is "$(ct systemctl is-active natwarden)" active "the service is active right after the installation"
like "$(ct systemctl status natwarden --no-pager 2>&1)" \
	"Status: \"no submitters in /etc/natwarden/policy.ini; nothing to do\"" \
	"systemctl status shows the daemon's STATUS: idle with the shipped policy"
is "$(ct nft list map inet natwarden dnat_port 2>&1 | grep -c 'elements')" 0 "nothing is forwarded"
is "$(ct stat -c '%U:%G %a' /var/spool/natwarden /var/lib/natwarden /run/natwarden | paste -sd' ')" \
	"natwarden:natwarden-submit 710 natwarden:natwarden 700 natwarden:natwarden-submit 750" \
	"tmpfiles made the spool, state and runtime directories with their owners and modes"
is "$(ct stat -c '%U:%G %a' /etc/natwarden/policy.ini)" "root:root 644" "the shipped policy: root's, 0644"
is "$(ct dpkg-query -W -f="\${Conffiles}" natwarden | awk '{ print $1 }' | paste -sd' ')" \
	/etc/natwarden/policy.ini "policy.ini is the package's one conffile"

# ---- configure and submit ---------------------------------------------------------------------

ct useradd -m -G natwarden-submit nat_update || not_ok "useradd nat_update"
cat >"$T/policy.ini" <<'INI'
[daemon]
user = natwarden
group = natwarden-submit
table = natwarden
spool = /var/spool/natwarden
state = /var/lib/natwarden
runtime = /run/natwarden

[wan]
interface = wan0

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
like "$(ct systemctl status natwarden --no-pager)" 'Status: "0 mappings from 0 fragments of 0 users' \
	"... and systemctl status shows the daemon's new STATUS"
as_user() { ct runuser -u nat_update -- "$@"; }
out=$(printf 'dnat tcp 80 to 192.168.50.2\n' | as_user natwarden submit ingress - 2>&1)
is "$?" 0 "nat_update submits a forward of port 80: accepted"
diag "$out"
out=$(printf 'dnat tcp 22 to 192.168.50.2\n' | as_user natwarden submit sshd - 2>&1)
is "$?" 1 "a forward of the reserved port 22: rejected (exit 1)"
like "$out" "sshd:1: .*22" "the rejection names the fragment's line and the port"
like "$(as_user natwarden list 2>&1)" "^nat_update +ingress +tcp +80 +192\.168\.50\.2:80 +-$" "natwarden list shows the accepted forward"
is "$(connect)" "served 192.168.50.2:80 to 203.0.113.50" "traffic to the WAN address reaches the backend"

# ---- reload, restart, flush, watchdog ---------------------------------------------------------

# The forward in the kernel (the container has no /etc/protocols: nft prints tcp as 6).
forwarded() { ct nft list map inet natwarden dnat_port 2>/dev/null | grep -Eq '(tcp|6) \. 80 : 192\.168\.50\.2 \. 80'; }
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

# ---- the journal and the catalog, from the container's journald --------------------------------

fields=$(ct journalctl -o export MESSAGE_ID=50c4e8d60983493681daec5e53b14533 NATWARDEN_FRAGMENT=ingress |
	grep -aE '^(NATWARDEN_(USER|FRAGMENT|VERDICT)|_SYSTEMD_UNIT)=' | sort -u | paste -sd' ')
is "$fields" "NATWARDEN_FRAGMENT=ingress NATWARDEN_USER=nat_update NATWARDEN_VERDICT=accepted _SYSTEMD_UNIT=natwarden.service" \
	"the accepted verdict in the journal, with its NATWARDEN_* fields"
like "$(ct journalctl -x -o short MESSAGE_ID=fcef0e3d545943d185c1a869747687c0 --no-pager)" \
	"Subject: natwarden rejected fragment sshd of nat_update" "journalctl -x explains the rejection from the installed catalog"

# ---- exposure -----------------------------------------------------------------------------------

sec=$(ct systemd-analyze security natwarden --no-pager 2>&1)
level=$(printf '%s\n' "$sec" | sed -n 's/.*Overall exposure level for natwarden.service: \([0-9.]*\).*/\1/p')
diag "systemd-analyze security natwarden: $level"
printf '%s\n' "$sec" | grep '✗' | sed 's/  */ /g; s/^/#   /'
costs=$(printf '%s\n' "$sec" | awk '/✗/ { print $2 }' | sort | paste -sd' ')
is "$costs" "AmbientCapabilities= CapabilityBoundingSet=~CAP_NET_ADMIN DeviceAllow= PrivateNetwork= PrivateUsers= RestrictAddressFamilies=~AF_NETLINK RestrictAddressFamilies=~AF_UNIX RootDirectory=/RootImage=" \
	"the only exposures are the justified ones (the daemon runs with this unit in every check above)"

# ---- upgrade N -> N+1 with the forward live ------------------------------------------------------

ct sh -c 'exec nft monitor >/var/tmp/nft-monitor.log 2>&1' &
MONITOR=$!
sleep 0.5
rm -f "$T/stop"
ip netns exec "${ID}c" python3 "$NWTEST" tcp-loop --seconds 120 203.0.113.1 80 "$T/stop" >"$T/loop.log" 2>&1 &
LOOP=$!
sleep 0.5
pid0=$(ct systemctl show -P MainPID natwarden)
t0=$(now)
apt_get install "/var/tmp/$(basename "$DEB_U")" >"$T/upgrade.log" 2>&1
is "$?" 0 "apt install of $VERSION_U over $VERSION_N, with the forward live ($(since "$t0") ms)"
sleep 0.5
touch "$T/stop"
wait "$LOOP"
loop_rc=$?
LOOP=
is "$loop_rc" 0 "a connection loop through the forward saw no failure during the upgrade: $(head -n 1 "$T/loop.log")"
[ "$loop_rc" = 0 ] || sed 's/^/#   /' "$T/loop.log"
kill "$MONITOR" 2>/dev/null
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
diag "nft monitor: $(wc -l <"$ROOT/var/tmp/nft-monitor.log") lines, generations and gaps: $gaps"
check "nft monitor saw the upgrade change the ruleset" test "${gaps% *}" -gt 0
is "${gaps#* }" 0 "no committed generation without the forward"
is "$(ct dpkg-query -W -f="\${Version}" natwarden)" "$VERSION_U" "the package is now $VERSION_U"
pid1=$(ct systemctl show -P MainPID natwarden)
check "the daemon was restarted ($pid0 -> $pid1)" test "$pid0" != "$pid1"
is "$(ct readlink "/proc/$pid1/exe")" /usr/sbin/natwardend "... and runs the new binary (not a deleted one)"
is "$(ct natwardend --version)" "natwardend $VERSION_U" "natwardend --version: $VERSION_U"
check "the forward is still there" forwarded
is "$(connect)" "served 192.168.50.2:80 to 203.0.113.50" "... and traffic flows"

# ---- remove, purge ------------------------------------------------------------------------------

apt_get remove natwarden >"$T/remove.log" 2>&1
is "$?" 0 "apt remove natwarden"
is "$(ct systemctl is-active natwarden)" inactive "the service is stopped"
ct nft list table inet natwarden >/dev/null 2>&1
is "$?" 1 "its table is gone: no forward outlives the daemon"
connect >/dev/null
is "$?" 1 "traffic to the old forward no longer reaches the backend"
check "state, spool and policy stay" ct test -d /var/lib/natwarden -a -d /var/spool/natwarden -a -f /etc/natwarden/policy.ini
apt_get purge natwarden >"$T/purge.log" 2>&1
is "$?" 0 "apt purge natwarden"
for p in /var/lib/natwarden /var/spool/natwarden /run/natwarden /etc/natwarden/policy.ini; do
	check "purge removed $p" ct test ! -e "$p"
done
is "$(ct nft list ruleset | grep -c natwarden)" 0 "the kernel holds nothing of natwarden"
check "the system user natwarden stays (Debian policy 9.2.2)" ct getent passwd natwarden
