#!/bin/bash
# SPDX-License-Identifier: MIT
# The systemd integration files, as installed: `meson install` into a staging root, the exact
# file list, `systemd-analyze verify` and `security` on the unit, sysusers.d and tmpfiles.d
# applied to a throwaway root, and the journal catalog. Nothing is started and nothing on the
# host changes: every tool works on a temporary root (--root), and systemd-analyze runs in a
# private mount namespace with a tmpfs over /run/systemd (it leaves a marker file there).
#
# NW_BUILD: the meson build directory (default: build/ in the source tree); it must be built.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh" # the TAP helpers only: no users, namespaces or daemons here

[ "$(id -u)" = 0 ] || skip_all "needs root (staging roots with other owners, mount namespaces)"
for tool in systemd-analyze systemd-sysusers systemd-tmpfiles journalctl unshare meson python3; do
	command -v "$tool" >/dev/null || skip_all "needs $tool"
done
[ -f "$NW_BUILD/meson-private/install.dat" ] || skip_all "no configured meson build in $NW_BUILD"
if [ ! -x "$NW_DAEMON" ] || [ ! -x "$NW_CLIENT" ]; then skip_all "build natwarden first ($NW_BUILD)"; fi
unshare -m --propagation private true 2>/dev/null || skip_all "cannot create mount namespaces here"

NW_T=$(mktemp -d /tmp/natwarden-units.XXXXXX) || { echo "Bail out! mktemp"; exit 1; }
cleanup() {
	local rc=$?
	# Mounts only ever exist inside the unshare'd systemd-analyze processes: nothing to undo.
	nw_finish "$rc" "$NW_T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# systemd-analyze in a private mount namespace, with a throwaway /run/systemd.
sa() {
	unshare -m --propagation private -- sh -c '
		if [ -d /run/systemd ]; then mount -t tmpfs tmpfs /run/systemd; else mount -t tmpfs tmpfs /run; fi || exit 99
		exec systemd-analyze "$@"' sa "$@"
}

# Every value of KEY= in a unit file (comments skipped), one per line.
unit_get() { sed -n "s/^$2=//p" "$1"; }

# ---- (a) install into a staging root, the exact file list ------------------------------

ROOT=$NW_T/root
out=$(DESTDIR=$ROOT meson install -C "$NW_BUILD" --no-rebuild --quiet 2>&1)
is "$?" 0 "DESTDIR=... meson install succeeds"
[ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/#   /' | head -n 20

# Where the files must go, from the build's own options and systemd.pc with ${prefix}
# replaced by ours, as systemd/meson.build asks (PREFIX/lib/... without systemd.pc).
{ read -r opt_prefix; read -r opt_bindir; read -r opt_sbindir; read -r opt_datadir; read -r opt_mandir; } < <(
	meson introspect --buildoptions "$NW_BUILD" | python3 -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
print("\n".join(str(o[k]) for k in ("prefix", "bindir", "sbindir", "datadir", "mandir")))')
abs() { case $1 in /*) echo "$1" ;; *) echo "$opt_prefix/$1" ;; esac; }
pcdir() { # pcdir VARIABLE FALLBACK
	local d=
	d=$(pkg-config --define-variable=prefix="$opt_prefix" --variable="$1" systemd 2>/dev/null)
	echo "${d:-$opt_prefix/$2}"
}
BINDIR=$(abs "$opt_bindir")
SBINDIR=$(abs "$opt_sbindir")
DATADIR=$(abs "$opt_datadir")
MANDIR=$(abs "$opt_mandir")
COMPLETIONSDIR=$(pkg-config --define-variable=datadir="$DATADIR" --variable=completionsdir bash-completion 2>/dev/null)
COMPLETIONSDIR=${COMPLETIONSDIR:-$DATADIR/bash-completion/completions}
man_pages=
if command -v scdoc >/dev/null; then
	man_pages="0644 $MANDIR/man1/natwarden.1
0644 $MANDIR/man8/natwardend.8
0644 $MANDIR/man5/natwarden-policy.5
0644 $MANDIR/man5/natwarden-fragment.5"
fi
UNITDIR=$(pcdir systemdsystemunitdir lib/systemd/system)
TMPFILESDIR=$(pcdir tmpfilesdir lib/tmpfiles.d)
SYSUSERSDIR=$(pcdir sysusersdir lib/sysusers.d)
CATALOGDIR=$(pcdir catalogdir lib/systemd/catalog)
UNIT=$ROOT$UNITDIR/natwarden.service

want=$(sort <<-EOF
	0755 $BINDIR/natwarden
	0755 $SBINDIR/natwardend
	0644 $DATADIR/doc/natwarden/policy.ini.example
	0644 $UNITDIR/natwarden.service
	0644 $TMPFILESDIR/natwarden.conf
	0644 $SYSUSERSDIR/natwarden.conf
	0644 $CATALOGDIR/natwarden.catalog
	0644 $COMPLETIONSDIR/natwarden
	0755 $DATADIR/natwarden/kubernetes/natwarden-sync
	0644 $DATADIR/natwarden/kubernetes/deploy.yaml
	$man_pages
	EOF
)
got=$(cd "$ROOT" && find . ! -type d -printf '%#m /%P\n' | sort)
is "$got" "$want" "exactly the expected files are installed, with these modes"
diag "installed: $(printf '%s\n' "$got" | awk '{print $2}' | sort | tr '\n' ' ')"

# ---- (e) the unit's essentials -----------------------------------------------------------

is "$(unit_get "$UNIT" ExecStart)" "$SBINDIR/natwardend" "ExecStart= is the installed daemon (follows the prefix)"
check "no @placeholder@ is left in the unit" bash -c "! grep -q '@[a-z_]*@' '$UNIT'"
is "$(unit_get "$UNIT" Type)" notify "Type=notify"
is "$(unit_get "$UNIT" NotifyAccess)" main "NotifyAccess=main"
# shellcheck disable=SC2016 # a literal $MAINPID
is "$(unit_get "$UNIT" ExecReload)" '/bin/kill -HUP $MAINPID' "ExecReload= sends SIGHUP to the main process"
check "ExecReload's /bin/kill exists on this system" test -x /bin/kill
is "$(unit_get "$UNIT" WatchdogSec)" 30s "WatchdogSec=30s"
is "$(unit_get "$UNIT" Restart)" on-failure "Restart=on-failure"
is "$(unit_get "$UNIT" After)" nftables.service "After=nftables.service"
is "$(grep -Ec '^(Wants|Requires|BindsTo|PartOf|Requisite)=' "$UNIT")" 0 \
	"nftables.service (or anything else) is ordered after, never pulled in"
is "$(unit_get "$UNIT" User):$(unit_get "$UNIT" Group)" natwarden:natwarden "runs as natwarden:natwarden"
is "$(unit_get "$UNIT" AmbientCapabilities):$(unit_get "$UNIT" CapabilityBoundingSet)" \
	CAP_NET_ADMIN:CAP_NET_ADMIN "CAP_NET_ADMIN is its one capability"
is "$(unit_get "$UNIT" SystemCallFilter | tr '\n' '|')" \
	'@system-service|~@privileged @resources @setuid|' \
	"system call filter: @system-service without @privileged (capset included), @resources, @setuid"
is "$(grep -Ec '^(RuntimeDirectory|StateDirectory|DynamicUser|PrivateUsers|PrivateNetwork)=' "$UNIT")" 0 \
	"no RuntimeDirectory=/StateDirectory=/DynamicUser=/PrivateUsers=/PrivateNetwork="
# The unit may write exactly where tmpfiles.d makes the top-level directories.
rw=$(unit_get "$UNIT" ReadWritePaths | tr ' ' '\n' | sed 's/^-//' | sort)
tops=$(awk '$1 == "d" && $2 !~ /\/(incoming|work)$/ { print $2 }' "$ROOT$TMPFILESDIR/natwarden.conf" | sort)
is "$rw" "$tops" "ReadWritePaths= are exactly tmpfiles.d's spool, state, runtime and metrics directories"

# ---- (b) systemd-analyze verify, in a staging root ---------------------------------------

# The install plus what a real system has: /bin/kill for ExecReload=, and the targets every
# service is ordered against by default (stubs, so only our unit is judged). --man=no: the
# unit's Documentation= names man pages (natwardend(8), natwarden-policy(5)) that are not
# written yet, and verify would otherwise run man(1) on the host for them.
VROOT=$NW_T/vroot
cp -a "$ROOT" "$VROOT"
mkdir -p "$VROOT/bin" "$VROOT/usr/lib/systemd/system"
cp /bin/kill "$VROOT/bin/kill" 2>/dev/null || printf '#!/bin/sh\n' >"$VROOT/bin/kill"
chmod 0755 "$VROOT/bin/kill"
for u in sysinit.target basic.target shutdown.target multi-user.target; do
	printf '[Unit]\nDescription=stub %s\n' "$u" >"$VROOT/usr/lib/systemd/system/$u"
done
out=$(sa verify --man=no --root="$VROOT" natwarden.service 2>&1)
rc=$?
is "$rc:$out" "0:" "systemd-analyze verify: exit 0 and not a word of output"

# It really looks into the staging root: without the daemon binary, verify must object.
rm "$VROOT$SBINDIR/natwardend"
out=$(sa verify --man=no --root="$VROOT" natwarden.service 2>&1)
like "$out" "natwardend is not executable" "verify notices a missing ExecStart= binary (it checks the root)"

# ---- (c) systemd-analyze security ------------------------------------------------------

out=$(sa security --offline=true --threshold=15 --no-pager "$UNIT" 2>&1)
rc=$?
score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for natwarden\.service: \([0-9.]*\).*/\1/p')
is "$rc" 0 "systemd-analyze security --threshold=15: exposure at most 1.5"
diag "exposure ${score:-unknown}"
[ "$rc" = 0 ] || printf '%s\n' "$out" | grep -v -e '✓' -e '^+ ' | sed 's/^/#   /' | head -n 40

# Every check that still costs points is one the daemon cannot do without.
justified='AmbientCapabilities=
CapabilityBoundingSet=~CAP_NET_ADMIN
DeviceAllow=
PrivateNetwork=
PrivateUsers=
RestrictAddressFamilies=~AF_NETLINK
RestrictAddressFamilies=~AF_UNIX
RootDirectory=/RootImage='
costs=$(sa security --offline=true --json=short --no-pager "$UNIT" 2>/dev/null | python3 -c '
import json, sys
for i in json.load(sys.stdin):
    if not i["set"] and i["exposure"] not in (None, "0.0"):
        print(i["name"])' | sort)
extra=$(comm -23 <(printf '%s\n' "$costs") <(printf '%s\n' "$justified"))
is "$extra" "" "no exposure beyond the justified ones (CAP_NET_ADMIN, host netns, netlink, ...)"
diag "costs: $(printf '%s\n' "$costs" | tr '\n' ' ')"

# ---- (d) sysusers.d and tmpfiles.d on a throwaway root ----------------------------------

# The installed tree is the root: the tools find our files only if they are installed where
# systemd looks for them.
SROOT=$NW_T/sroot
cp -a "$ROOT" "$SROOT"
mkdir -p "$SROOT/etc"
out=$(systemd-sysusers --root="$SROOT" 2>&1)
is "$?" 0 "systemd-sysusers --root succeeds"
pw=$(awk -F: '$1 == "natwarden"' "$SROOT/etc/passwd")
uid=$(printf '%s' "$pw" | cut -d: -f3)
gid=$(awk -F: '$1 == "natwarden" { print $3 }' "$SROOT/etc/group")
sgid=$(awk -F: '$1 == "natwarden-submit" { print $3 }' "$SROOT/etc/group")
if [ -n "$uid" ] && [ -n "$gid" ] && [ -n "$sgid" ] && [ "$uid" -lt 1000 ] && [ "$sgid" -lt 1000 ]; then
	ok "user natwarden ($uid), groups natwarden ($gid) and natwarden-submit ($sgid): system ids"
else
	not_ok "user natwarden, groups natwarden and natwarden-submit: system ids"
	printf '#   %s\n' "$out" "$(cat "$SROOT/etc/passwd" "$SROOT/etc/group" 2>/dev/null)"
fi
is "$(printf '%s' "$pw" | cut -d: -f4,7)" "$gid:/usr/sbin/nologin" \
	"natwarden's primary group is natwarden, and it cannot log in"
is "$(awk -F: '$4 != "" { print $1 ": " $4 }' "$SROOT/etc/group")" "" \
	"natwarden is in no supplementary group (groups have no members)"

layout() {
	local p
	for p in /var/spool/natwarden /var/spool/natwarden/incoming /var/spool/natwarden/work \
		/var/lib/natwarden /run/natwarden /run/natwarden-metrics; do
		stat -c "$p %a %u:%g" "$SROOT$p" 2>&1
	done
}
want_layout="/var/spool/natwarden 710 $uid:$sgid
/var/spool/natwarden/incoming 710 $uid:$sgid
/var/spool/natwarden/work 700 $uid:$gid
/var/lib/natwarden 700 $uid:$gid
/run/natwarden 750 $uid:$sgid
/run/natwarden-metrics 755 $uid:$gid"
out=$(systemd-tmpfiles --create --root="$SROOT" 2>&1)
is "$?:$out" "0:" "systemd-tmpfiles --create --root: exit 0, silent"
is "$(layout)" "$want_layout" "tmpfiles.d makes the layout of daemon/dirs.h (owners, groups, modes)"

# natwardend refuses a directory with the wrong owner or mode: tmpfiles repairs them.
chmod 0755 "$SROOT/var/spool/natwarden/incoming"
chown 0:0 "$SROOT/var/spool/natwarden/work"
chmod 0777 "$SROOT/run/natwarden"
systemd-tmpfiles --create --root="$SROOT" >/dev/null 2>&1
is "$(layout)" "$want_layout" "a second run puts wrong owners and modes right again"
before=$(cat "$SROOT/etc/passwd" "$SROOT/etc/group")
systemd-sysusers --root="$SROOT" >/dev/null 2>&1
is "$(cat "$SROOT/etc/passwd" "$SROOT/etc/group")" "$before" "a second sysusers run changes nothing"

# ---- (e) the journal catalog ----------------------------------------------------------

out=$(journalctl --root="$SROOT" --update-catalog 2>&1)
is "$?:$out" "0:" "journalctl --update-catalog finds and parses the installed catalog, silently"
ids=$(journalctl --root="$SROOT" --list-catalog 2>/dev/null | awk '{ print $1 }' | sort)
mids=$(sed -n 's/^#define MID_[A-Z_]* "\([0-9a-f]\{32\}\)"$/\1/p' "$NW_TOP/daemon/log.h" | sort)
is "$ids" "$mids" "the catalog explains exactly the MESSAGE_IDs of daemon/log.h"
