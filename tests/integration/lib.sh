# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2034 # variables set here are for the tests that source it
#
# Shared harness for natwarden's integration tests (TAP). A test sources this file, calls
# nw_init (which skips cleanly where it cannot run), then nw_setup to get:
#   - temporary users: $NW_DUSER (the daemon user), $NW_U1 and $NW_U2 (submitters in the
#     submit group $NW_GROUP), $NW_U3 (in the group, not a submitter), $NW_OUT (neither)
#   - a private directory $NW_T (policy, spool, state, runtime, logs)
#   - a network namespace $NW_NS for the daemon; nothing touches the host's ruleset
# Everything made here is removed on exit, also when the test fails. The shell side is here
# (the daemon, the real client, the kernel's elements, TAP); what is done in Python (reading
# verdicts, the status file and the state journal; submitting without the client; the notify
# socket; TCP servers and clients) is nwtest.py, run through nw_py.

set -u
NW_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NW_BUILD=${NW_BUILD:-$NW_TOP/build}
NW_DAEMON=$NW_BUILD/daemon/natwardend
NW_CLIENT=$NW_BUILD/client/natwarden
NW_TAP_N=0
NW_TAP_FAILED=0
NW_PIDS=()
NW_NAMESPACES=()
NW_USERS=()
NW_GROUPS=()
NW_DIRS=()
# NW_VALGRIND=1: run every natwardend under valgrind's memcheck (use a plain build, not an
# ASan one). Each daemon writes $NW_T/valgrind.PID.log; nw_cleanup fails the test on any
# memory error or definite/indirect leak. Everything waits NW_SLOW times longer.
NW_SLOW=1
[ "${NW_VALGRIND:-}" = 1 ] && NW_SLOW=${NW_VALGRIND_SLOW:-10}

# ---- TAP -------------------------------------------------------------------------------

ok() { # ok DESCRIPTION (after a command that succeeded)
	NW_TAP_N=$((NW_TAP_N + 1))
	echo "ok $NW_TAP_N - $*"
}

not_ok() {
	NW_TAP_N=$((NW_TAP_N + 1))
	NW_TAP_FAILED=$((NW_TAP_FAILED + 1))
	echo "not ok $NW_TAP_N - $*"
}

check() { # check DESCRIPTION COMMAND...: passes when the command succeeds
	local desc=$1
	shift
	if "$@" >/dev/null 2>&1; then ok "$desc"; else not_ok "$desc"; echo "#   command: $*"; fi
}

is() { # is GOT WANT DESCRIPTION
	if [ "$1" = "$2" ]; then
		ok "$3"
	else
		not_ok "$3"
		printf '%s\n' "$1" | head -n 20 | sed 's/^/#   got:  /'
		printf '%s\n' "$2" | head -n 20 | sed 's/^/#   want: /'
	fi
}

like() { # like GOT PATTERN DESCRIPTION (grep -E pattern; a line of GOT must match; a
	# pattern of several lines means any one of them)
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		ok "$3"
	else
		not_ok "$3"
		printf '%s\n' "$1" | head -n 20 | sed 's/^/#   got:  /'
		printf '%s\n' "$2" | sed 's/^/#   want match: /'
	fi
}

diag() { echo "# $*"; }

skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

# ---- environment -----------------------------------------------------------------------

nw_init() {
	[ "$(id -u)" = 0 ] || skip_all "needs root (users, network namespaces, nftables)"
	command -v ip >/dev/null || skip_all "needs iproute2 (ip)"
	command -v nft >/dev/null || skip_all "needs nft"
	command -v setpriv >/dev/null || skip_all "needs setpriv (util-linux)"
	command -v python3 >/dev/null || skip_all "needs python3"
	unshare -n true 2>/dev/null || skip_all "cannot create network namespaces here"
	{ [ -x "$NW_DAEMON" ] && [ -x "$NW_CLIENT" ]; } || skip_all "build natwarden first ($NW_BUILD)"
	trap nw_cleanup EXIT
	trap 'exit 130' INT TERM HUP
}

# nw_ours PID: is PID still a child of this shell? A process that has ended leaves its PID
# free for anyone (pid_max may be as low as 32768 and tests start thousands of processes):
# never signal a PID without this check.
nw_ours() {
	local info ppid state
	[ -n "$1" ] || return 1
	info=$(ps -o ppid=,stat= -p "$1" 2>/dev/null) || return 1
	read -r ppid state <<<"$info"
	[ "${ppid:-}" = "$$" ] && [ "${state#Z}" = "${state:-}" ] # our child, and not already a zombie
}

nw_cleanup() {
	local pid ns u g d log
	for pid in "${NW_PIDS[@]}"; do
		nw_ours "$pid" && kill "$pid" 2>/dev/null
	done
	for pid in "${NW_PIDS[@]}"; do
		for _ in $(seq $((50 * NW_SLOW))); do nw_ours "$pid" || break; sleep 0.1; done
		nw_ours "$pid" && kill -9 "$pid" 2>/dev/null
	done
	# after the daemons have exited: LeakSanitizer and valgrind report at exit
	if [ -n "${NW_T:-}" ] && [ -f "$NW_T/daemon.log" ]; then
		# sanitizer builds: any report from the daemon is a failure
		if grep -Eq 'runtime error|Sanitizer|LeakSanitizer|AddressSanitizer' "$NW_T/daemon.log"; then
			not_ok "natwardend ran clean under the sanitizers"
			grep -E -A5 'runtime error|Sanitizer' "$NW_T/daemon.log" | head -n 30 | sed 's/^/#   /'
		fi
	fi
	for log in "${NW_T:-/nonexistent}"/valgrind.*.log; do
		[ -f "$log" ] || continue
		if grep -q 'ERROR SUMMARY: 0 errors' "$log"; then
			ok "natwardend ran clean under valgrind (${log##*/})"
		else
			not_ok "natwardend ran clean under valgrind (${log##*/})"
			grep -q 'ERROR SUMMARY' "$log" || echo "#   valgrind did not finish (killed?)"
			grep -E -A14 '^==[0-9]+== [A-Z0-9].*(Invalid|uninitialised|Syscall param|Mismatched|definitely lost|indirectly lost|by 0x)' "$log" |
				head -n 60 | sed 's/^/#   /'
		fi
	done
	for ns in "${NW_NAMESPACES[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	[ -z "${NET_MADE_RUN_SSHD:-}" ] || rmdir /run/sshd 2>/dev/null
	for u in "${NW_USERS[@]}"; do
		userdel "$u" 2>/dev/null
	done
	for g in "${NW_GROUPS[@]}"; do
		groupdel "$g" 2>/dev/null
	done
	for d in "${NW_DIRS[@]}"; do
		[ -n "${NW_KEEP:-}" ] && { echo "# kept $d"; continue; }
		rm -rf "$d"
	done
	if [ "$NW_TAP_N" -gt 0 ]; then
		echo "1..$NW_TAP_N"
	fi
	[ "$NW_TAP_FAILED" -eq 0 ] || exit 1
}

nw_add_user() { # nw_add_user NAME [GROUP]
	useradd --system --no-create-home --shell /usr/sbin/nologin ${2:+-G "$2"} "$1" ||
		{ echo "Bail out! cannot create user $1"; exit 1; }
	NW_USERS+=("$1")
}

nw_netns() { # nw_netns NAME: a fresh network namespace with lo up
	ip netns add "$1" || { echo "Bail out! cannot create netns $1"; exit 1; }
	NW_NAMESPACES+=("$1")
	ip -n "$1" link set lo up
}

nw_setup() {
	local id=$$
	NW_ID=$id
	NW_GROUP=nwg$id
	NW_DUSER=nwd$id
	NW_U1=nwa$id
	NW_U2=nwb$id
	NW_U3=nwc$id
	NW_OUT=nwo$id
	NW_TABLE=nwt$id
	NW_NS=nwns$id
	groupadd --system "$NW_GROUP" || { echo "Bail out! cannot create group"; exit 1; }
	NW_GROUPS+=("$NW_GROUP")
	nw_add_user "$NW_DUSER"
	nw_add_user "$NW_U1" "$NW_GROUP"
	nw_add_user "$NW_U2" "$NW_GROUP"
	nw_add_user "$NW_U3" "$NW_GROUP"
	nw_add_user "$NW_OUT"
	NW_T=$(mktemp -d /tmp/natwarden-test.XXXXXX)
	NW_DIRS+=("$NW_T")
	chmod 0755 "$NW_T"
	nw_netns "$NW_NS"
	nw_py >/dev/null
	nw_policy
}

# nw_policy [EXTRA-INI-TEXT]: the default test policy (NW_WAN_ADDR=follow: no [wan] address); EXTRA is appended verbatim (it continues
# [submitter $NW_U2]). NW_MAX_FRAGMENTS and NW_MAX_RULES set both submitters' quotas;
# NW_U1_MAX_SPOOL_ENTRIES, NW_U1_MAX_SPOOL_BYTES and NW_U1_MAX_SUBMISSIONS (per minute) set
# $NW_U1's spool limits (unset: the daemon's defaults).
nw_policy() {
	{
		nw_policy_daemon
		cat <<-INI

	[wan]
	interface = ${NW_WAN_IF:-wan0}
	$([ "${NW_WAN_ADDR:-}" = follow ] || echo "address = ${NW_WAN_ADDR:-203.0.113.7}")
	hairpin = ${NW_HAIRPIN:-yes}
	${NW_MARK:+mark = $NW_MARK}

	[reserved]
	ports = 22, 53

	[submitter $NW_U1]
	ports = 80, 443, 30000-30100, 8000-8999
	protocols = tcp, udp
	destinations = 192.168.1.240/28, 192.168.1.250${NW_U1_DEST6:+, $NW_U1_DEST6}
	masquerade = yes
	max_fragments = ${NW_MAX_FRAGMENTS:-8}
	max_rules = ${NW_MAX_RULES:-64}
	${NW_U1_MAX_SPOOL_ENTRIES:+max_spool_entries = $NW_U1_MAX_SPOOL_ENTRIES}
	${NW_U1_MAX_SPOOL_BYTES:+max_spool_bytes = $NW_U1_MAX_SPOOL_BYTES}
	${NW_U1_MAX_SUBMISSIONS:+max_submissions_per_minute = $NW_U1_MAX_SUBMISSIONS}

	[submitter $NW_U2]
	ports = 80, 8080, 9000-9999
	protocols = tcp
	destinations = 192.168.2.0/24
	max_fragments = ${NW_MAX_FRAGMENTS:-8}
	max_rules = ${NW_MAX_RULES:-64}
	${1:-}
	INI
	} >"$NW_T/policy.ini"
	chmod 0644 "$NW_T/policy.ini"
}

# nw_policy_daemon: the [daemon] section of a test policy: the test's daemon user, group and
# table; its spool, state and runtime directories below $NW_T.
nw_policy_daemon() {
	cat <<-INI
	[daemon]
	user = $NW_DUSER
	group = $NW_GROUP
	table = $NW_TABLE
	spool = $NW_T/spool
	state = $NW_T/state
	runtime = $NW_T/run
	INI
}

# ---- the Python side -------------------------------------------------------------------

# nw_py [MODULE]: the path of one of the tests' Python modules (default nwtest.py, the shared
# helpers: submitting and reading the verdict, the status file, the state journal, the kernel's
# elements, the notify socket, TCP servers and clients). On first use they are all copied to
# $NW_T/py, where every test user can read them whatever the permissions of the checkout (and
# Python's byte-code caches stay out of the tree).
nw_py() {
	local dir=$NW_T/py tmp
	if [ ! -d "$dir" ]; then # made aside and renamed: callers may run at once
		if ! tmp=$(mktemp -d "$NW_T/.py.XXXXXX") || ! chmod 0755 "$tmp" ||
			! install -m 0644 "$NW_TOP"/tests/integration/*.py "$tmp/"; then
			echo "Bail out! cannot copy the Python helpers to $dir" >&2
			exit 1
		fi
		mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
	fi
	echo "$dir/${1:-nwtest}.py"
}

# nw_tap: the lines of a Python check (nwtest.Tap: "OK desc", "NOK desc") as numbered TAP
# points; other lines (diagnostics) pass unchanged.
nw_tap() {
	local line
	while IFS= read -r line; do
		case $line in
		"OK "*) ok "${line#OK }" ;;
		"NOK "*) not_ok "${line#NOK }" ;;
		*) echo "$line" ;;
		esac
	done
}

# ---- the daemon --------------------------------------------------------------------------

# A datagram socket standing in for systemd's NOTIFY_SOCKET: one line per message, the
# message's own newlines shown as '|'.
nw_notify_listen() {
	NW_NOTIFY=$NW_T/notify.sock
	: >"$NW_T/notify.log"
	python3 "$(nw_py)" notify "$NW_NOTIFY" "$NW_T/notify.log" &
	NW_PIDS+=($!)
	for _ in $(seq 50); do [ -S "$NW_NOTIFY" ] && return 0; sleep 0.05; done
	echo "Bail out! notify listener did not start"
	exit 1
}

# nw_wait_alive PID TRIES PAUSE CMD...: run CMD every PAUSE seconds, at most TRIES times,
# until it succeeds (0); 1 when it never does, at once when PID has exited.
nw_wait_alive() {
	local pid=$1 tries=$2 pause=$3
	shift 3
	for _ in $(seq "$tries"); do
		"$@" && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep "$pause"
	done
	return 1
}

# nw_readied BEFORE: natwardend has sent READY=1 more than BEFORE times (a count of them in
# $NW_T/notify.log taken before it was started).
nw_readied() {
	[ "$(grep -c 'READY=1' "$NW_T/notify.log")" -gt "$1" ]
}

# nw_start [EXTRA ARGS]: start natwardend in $NW_NS and wait (max 10 s) for READY=1.
nw_start() {
	[ -S "${NW_NOTIFY:-/nonexistent}" ] || nw_notify_listen
	local before
	before=$(grep -c '^READY=1\|[|]READY=1\|^READY=1|' "$NW_T/notify.log")
	local wrap=()
	if [ "${NW_VALGRIND:-}" = 1 ]; then
		# ip netns exec execs the command: $! is the daemon (valgrind runs it in-process)
		# shellcheck disable=SC2054 # the commas are in option values
		wrap=(valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect
			--errors-for-leak-kinds=definite,indirect --error-exitcode=99 --track-origins=yes
			--vgdb=no --log-file="$NW_T/valgrind.%p.log")
		[ -f "$NW_TOP/tests/valgrind.supp" ] && wrap+=(--suppressions="$NW_TOP/tests/valgrind.supp")
	fi
	NOTIFY_SOCKET=$NW_NOTIFY ip netns exec "$NW_NS" "${wrap[@]}" "$NW_DAEMON" \
		--config "$NW_T/policy.ini" "$@" >>"$NW_T/daemon.log" 2>&1 &
	NW_DPID=$!
	NW_PIDS+=("$NW_DPID")
	nw_wait_alive "$NW_DPID" $((200 * NW_SLOW)) 0.05 nw_readied "$before" && return 0
	echo "# natwardend did not become ready; its log:"
	sed 's/^/#   /' "$NW_T/daemon.log" | tail -n 30
	return 1
}

nw_stop() {
	[ -n "${NW_DPID:-}" ] || return 0
	nw_ours "$NW_DPID" && kill "$NW_DPID" 2>/dev/null
	for _ in $(seq $((100 * NW_SLOW))); do nw_ours "$NW_DPID" || break; sleep 0.05; done
	wait "$NW_DPID" 2>/dev/null
	NW_DPID=
}

nw_alive() { nw_ours "${NW_DPID:-}"; }

# nw_wait_pids SECONDS PID...: wait for our background processes, at most that long; then kill
# those still running (saying so), and reap them all.
nw_wait_pids() {
	local secs=$1 p alive
	shift
	for _ in $(seq $((secs * 20))); do
		alive=0
		for p; do nw_ours "$p" && alive=1; done
		[ "$alive" = 0 ] && break
		sleep 0.05
	done
	for p; do
		if nw_ours "$p"; then
			diag "process $p still running after $secs s: killed"
			kill -9 "$p" 2>/dev/null
		fi
		wait "$p" 2>/dev/null
	done
}

# nw_as USER COMMAND...: run a command as USER with USER's groups.
nw_as() {
	local u=$1
	shift
	setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups --reset-env -- "$@"
}

# nw_submit USER NAME [CLIENT-ARGS...] < fragment: natwarden submit as USER
nw_submit() {
	local u=$1 name=$2
	shift 2
	nw_as "$u" "$NW_CLIENT" --spool "$NW_T/spool" --runtime "$NW_T/run" submit "$@" "$name" -
}

nw_withdraw() {
	local u=$1 name=$2
	shift 2
	nw_as "$u" "$NW_CLIENT" --spool "$NW_T/spool" --runtime "$NW_T/run" withdraw "$@" "$name"
}

nw_nft() { ip netns exec "$NW_NS" nft "$@"; }

# The kernel's forwards, one per line, sorted: "tcp 80 192.168.1.240:80", "udp 30000-30010 1.2.3.4",
# then the public ports whose connections are masqueraded: "masq tcp 80" / "masq udp 30000-30010".
nw_kernel() {
	nw_nft -j list table inet "$NW_TABLE" | python3 "$(nw_py)" kernel | sort
}

# Number of rules in the table (constant, whatever the number of forwards).
nw_rule_count() {
	nw_nft -j list table inet "$NW_TABLE" | jq '[.nftables[] | select(.rule)] | length'
}

# The status file's value for KEY.
nw_status() { awk -F'\t' -v k="$1" '$1 == k { print $2 }' "$NW_T/run/status"; }

# nw_wait_for SECONDS COMMAND...: poll (every 50 ms) until the command succeeds.
# nw_finish RC DIR: for a test with a cleanup of its own: remove DIR (kept with NW_KEEP), print
# the TAP plan, and exit with RC, or 1 when a test point failed.
nw_finish() {
	local rc=$1
	if [ -n "${NW_KEEP:-}" ]; then echo "# kept $2"; else rm -rf "$2"; fi
	echo "1..$NW_TAP_N"
	[ "$NW_TAP_FAILED" -eq 0 ] || rc=1
	exit "$rc"
}
nw_wait_for() {
	local secs=$1
	shift
	for _ in $(seq $((secs * 20))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}

# Nothing waits in the spool: no entry in any submitter's directory (incoming/UID), none in work.
nw_spool_empty() {
	[ -z "$(find "$NW_T/spool/incoming" -mindepth 2 -maxdepth 2 -print -quit)" ] &&
		[ -z "$(ls -A "$NW_T/spool/work")" ]
}

# Milliseconds since the epoch.
nw_ms() { date +%s%3N; }
