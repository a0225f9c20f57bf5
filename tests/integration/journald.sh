# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# A real systemd-journald for a script that wants one (the journal test, the demo), without
# ever touching the host's: the script runs again inside private mount and pid namespaces
# (unshare) with tmpfs over /run/systemd, /run/log and /var/log/journal; journald dies with
# the pid namespace. Network namespaces made in there stay in there (a private /run/netns).
#
#   JR_SELF=$(readlink -f "$0")
#   . "$(dirname "$JR_SELF")/journald.sh"     (tests/integration/journald.sh)
#   jr_outer "$@"                 in the host: checks, then runs "$JR_SELF --inner", exits
#   . lib.sh; trap ... EXIT; jr_inner    in the namespaces: guards and private mounts
#   jr_start_journald; jr_install_catalog
#
# journald keeps its default rate limit, as on a real system (RateLimitIntervalSec=30s,
# RateLimitBurst=10000 per unit and priority pool, the burst scaled up with the journal's free
# space), set explicitly so that no journald.conf of the host changes it. journald limits only
# processes of a unit, i.e. in a unit's cgroup; PID 1 here is not systemd, so by default no
# process is: jr_unit_enter puts one there. JR_RUN_LOG_SIZE (e.g. 16m) caps the tmpfs on
# /run/log, and with it the journal's size and free space.

JR_JOURNALD=${JR_JOURNALD:-/lib/systemd/systemd-journald}
[ -x "$JR_JOURNALD" ] || [ ! -x /usr/lib/systemd/systemd-journald ] || JR_JOURNALD=/usr/lib/systemd/systemd-journald
JSOCK=/run/systemd/journal/socket

# jr_outer ARGS: unless ARGS start with --inner, check what is needed (a TAP skip when
# something is missing), run "$JR_SELF --inner" in fresh namespaces, and exit with its status.
jr_outer() {
	[ "${1:-}" = --inner ] && return 0
	[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root (mount and pid namespaces, users, journald)"; exit 0; }
	for c in unshare setpriv jq journalctl systemd-cat stat; do
		command -v "$c" >/dev/null || { echo "1..0 # SKIP needs $c"; exit 0; }
	done
	[ -x "$JR_JOURNALD" ] || { echo "1..0 # SKIP no $JR_JOURNALD"; exit 0; }
	unshare --mount --propagation private --pid --fork --kill-child --mount-proc true 2>/dev/null ||
		{ echo "1..0 # SKIP cannot create mount and pid namespaces here"; exit 0; }

	# The inner bash is PID 1 of the new pid namespace: when it exits the kernel kills
	# journald and everything else in there. --kill-child=SIGTERM: if unshare dies, the inner
	# part still gets to run lib.sh's cleanup (users, netns, dirs). NW_JID: lib.sh names users
	# after $$, which is 1 in there; the host pid keeps concurrent runs apart.
	env -u NOTIFY_SOCKET -u LISTEN_FDS -u LISTEN_PID -u LISTEN_FDNAMES -u JOURNAL_STREAM \
		-u WATCHDOG_USEC -u WATCHDOG_PID \
		NW_JID=$$ JR_HOST_MNTNS="$(readlink /proc/self/ns/mnt)" \
		unshare --mount --propagation private --pid --fork --kill-child=SIGTERM --mount-proc \
		bash "$JR_SELF" --inner &
	jr_upid=$!
	# shellcheck disable=SC2317 # run by the traps below
	jr_outer_stop() { # a signal to us: TERM the inner part (it cleans up), then wait for it
		local kid kids
		kids=$(cat "/proc/$jr_upid/task/$jr_upid/children" 2>/dev/null) # PIDs, one blank apart
		for kid in $kids; do
			kill -TERM "$kid" 2>/dev/null
		done
		for _ in $(seq 300); do kill -0 "$jr_upid" 2>/dev/null || break; sleep 0.1; done
		# still our child (not a PID someone else got since)? then it has to go
		[ "$(ps -o ppid= -p "$jr_upid" 2>/dev/null | tr -d ' ')" = "$$" ] && kill -KILL "$jr_upid" 2>/dev/null
		wait "$jr_upid" 2>/dev/null
		exit "$1"
	}
	trap 'jr_outer_stop 129' HUP
	trap 'jr_outer_stop 130' INT
	trap 'jr_outer_stop 143' TERM
	wait "$jr_upid"
	exit $?
}

# jr_inner: in the namespaces (lib.sh sourced, the caller's EXIT trap set): refuse to go on
# anywhere but there, make the mounts private, give lib.sh's names the host pid (here $$ is
# 1), and keep network namespaces in this mount namespace (no files in the host's /run).
jr_inner() {
	# Never start journald where it could become the host's: only as PID 1 of our own pid
	# namespace, in a mount namespace that is not the host's.
	if [ "$$" != 1 ] || [ -z "${NW_JID:-}" ] || [ -z "${JR_HOST_MNTNS:-}" ] ||
		[ "$(readlink /proc/self/ns/mnt)" = "$JR_HOST_MNTNS" ]; then
		echo "Bail out! --inner is internal: run $JR_SELF without arguments"
		exit 1
	fi
	mount --make-rprivate / || { echo "Bail out! cannot make the mounts private"; exit 1; }
	# shellcheck disable=SC2016
	eval "$(declare -f nw_setup | sed 's/local id=\$\$;/local id=$NW_JID;/')"
	# shellcheck disable=SC2016
	declare -f nw_setup | grep -q 'local id=\$NW_JID;' ||
		{ echo "Bail out! lib.sh's nw_setup changed: cannot give it a unique id"; exit 1; }
	mkdir -p /run/netns # what `ip netns add` would do anyway
	mount -t tmpfs -o mode=0755,nosuid,nodev,noexec tmpfs /run/netns ||
		{ echo "Bail out! cannot mount a tmpfs on /run/netns"; exit 1; }
}

# Start journald in this namespace, on tmpfs, volatile, never reading or writing the kernel
# log, with no NOTIFY_SOCKET or LISTEN_FDS of ours; the caller then waits for --sync to work.
jr_start_journald() {
	local size=${JR_RUN_LOG_SIZE:+,size=$JR_RUN_LOG_SIZE}
	mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run/systemd || return 1
	mount -t tmpfs -o "mode=0755,nosuid,nodev$size" tmpfs /run/log || return 1
	# a host's persistent journal must not show up in our queries
	if [ -d /var/log/journal ]; then
		mount -t tmpfs -o mode=2755,nosuid,nodev tmpfs /var/log/journal || return 1
	fi
	[ "$(stat -f -c %T /run/systemd)" = tmpfs ] || return 1
	mkdir -p /run/systemd/journald.conf.d
	cat >/run/systemd/journald.conf.d/zz-natwarden-test.conf <<-'EOF'
	[Journal]
	Storage=volatile
	ReadKMsg=no
	ForwardToSyslog=no
	ForwardToKMsg=no
	ForwardToConsole=no
	ForwardToWall=no
	RateLimitIntervalSec=30s
	RateLimitBurst=10000
	EOF
	# console: its own messages stay off the host's /dev/kmsg. Without CAP_AUDIT_CONTROL it
	# cannot switch kernel auditing on host-wide.
	env -u NOTIFY_SOCKET -u LISTEN_FDS -u LISTEN_PID -u LISTEN_FDNAMES -u WATCHDOG_USEC \
		-u WATCHDOG_PID SYSTEMD_LOG_TARGET=console SYSTEMD_LOG_LEVEL=info \
		setpriv --bounding-set=-audit_control,-audit_read -- "$JR_JOURNALD" \
		>"$NW_T/journald.log" 2>&1 &
	JR_JPID=$!
	nw_wait_alive "$JR_JPID" 500 0.01 jr_listening && return 0
	echo "# journald did not come up; its log:"
	sed 's/^/#   /' "$NW_T/journald.log" | tail -n 20
	return 1
}

# journald takes entries: its socket is there and it answers a sync.
jr_listening() {
	[ -S "$JSOCK" ] && journalctl --sync 2>/dev/null
}

# jr_show_on_failure N IDENTIFIER...: when a test point has failed, the last N journal entries
# of these syslog identifiers, as TAP comments.
jr_show_on_failure() {
	local n=$1 id ids=()
	shift
	[ "$NW_TAP_FAILED" -gt 0 ] && [ -S "$JSOCK" ] || return 0
	for id in "$@"; do
		ids+=(-t "$id")
	done
	echo "# the last $n journal entries of $*:"
	journalctl --no-pager -q "${ids[@]}" 2>&1 | tail -n "$n" | sed 's/^/#   /'
}

# The catalog, compiled like `journalctl --update-catalog` does, but into a private root that
# is then mounted over /var/lib/systemd/catalog (what journalctl -x reads) in here only.
jr_install_catalog() {
	local root=$NW_T/catroot
	install -D -m 0644 "$NW_TOP/systemd/natwarden.catalog" \
		"$root/usr/lib/systemd/catalog/natwarden.catalog" || return 1
	journalctl --root="$root" --update-catalog >"$NW_T/catalog.log" 2>&1 || return 1
	[ -s "$root/var/lib/systemd/catalog/database" ] || return 1
	if [ -d /var/lib/systemd/catalog ]; then
		mount --bind "$root/var/lib/systemd/catalog" /var/lib/systemd/catalog
	elif [ -d /var/lib/systemd ]; then
		mount -t tmpfs tmpfs /var/lib/systemd && mkdir /var/lib/systemd/catalog &&
			cp "$root/var/lib/systemd/catalog/database" /var/lib/systemd/catalog/
	else
		echo "# no /var/lib/systemd to mount the catalog on"
		return 1
	fi
}

# jr_unit_enter UNIT PID: move PID into a cgroup named UNIT (e.g. "natwarden-test.service") at
# the top of every systemd cgroup hierarchy this host has (cgroup2, and the v1 name=systemd of
# a hybrid host), so that journald takes it for a process of that unit and rate-limits it like
# one. journald reads a client's cgroup again once its cached view is a second old. The
# cgroups are the host's (cgroupfs knows no mount namespace): jr_unit_cleanup removes them,
# from the EXIT trap, once their processes are gone.
JR_CGROUPS=()
jr_unit_enter() {
	local unit=$1 pid=$2 h n=0
	for h in /sys/fs/cgroup /sys/fs/cgroup/unified /sys/fs/cgroup/systemd; do
		case $(stat -f -c %T "$h" 2>/dev/null) in
		cgroup2fs) ;;
		cgroupfs) [ "$h" = /sys/fs/cgroup/systemd ] || continue ;;
		*) continue ;;
		esac
		if [ ! -d "$h/$unit" ]; then
			mkdir "$h/$unit" || return 1
			JR_CGROUPS+=("$h/$unit")
		fi
		echo "$pid" >"$h/$unit/cgroup.procs" || return 1
		n=$((n + 1))
	done
	[ "$n" -gt 0 ]
}

# jr_unit_leave PID: back to the top of every hierarchy jr_unit_enter used.
jr_unit_leave() {
	local cg
	for cg in "${JR_CGROUPS[@]}"; do
		echo "$1" >"${cg%/*}/cgroup.procs" || return 1
	done
}

jr_unit_cleanup() {
	local cg
	for cg in "${JR_CGROUPS[@]}"; do
		for _ in $(seq 50); do
			rmdir "$cg" 2>/dev/null && break
			[ -d "$cg" ] || break
			sleep 0.1
		done
		[ -d "$cg" ] && echo "# cannot remove cgroup $cg (still in use?)"
	done
	JR_CGROUPS=()
}
