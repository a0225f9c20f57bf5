# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2034 # variables set here are for the tests that source it
#
# What the robustness tests share, after lib.sh: robustness-crash.sh (SIGKILL at random and at
# chosen system calls, a spool full at a restart), robustness-storms.sh (flush and reload storms
# while submissions flow) and robustness-lease.sh (the lease clock). Each runs the real daemon
# against the real kernel in lib.sh's namespace, with exact assertions. The submitters and the
# checks are robustness.py: `writer` starts a submitter as a test user (the client's protocol,
# many submissions at a time, each verdict read from its own file), rb_py runs a plan or a check
# as root, and nw_tap numbers the check's lines.
#
# rb_setup: the users and directories (lib.sh's nw_setup); the daemon limited to 1024 open
# files, soft and hard, as under its unit; two policies with the spool limits and submission
# rate at their maximum, so that no burst is refused unjudged (those limits are tested
# elsewhere): $NW_T/policy-big.ini without tight quotas, and policy.ini with quotas that some
# submissions hit. Sets UID1, UID2 and P, a directory writable by the submitters for their
# plans and outputs. Then rb_start: the daemon started on policy.ini, and $NW_U1's fragment
# 'anchor' holding tcp/80 (every other claim of it must be rejected) - or rb_anchor, for a test
# that makes the anchor a test point of its own.
#
# NW_SEED=N reproduces the plans and the kill delays (not the timing); NW_HEAVY=1 is the long
# run (each test says what it changes).

SEED=${NW_SEED:-$((RANDOM * 32768 + RANDOM))}
RANDOM=$SEED
T0=$(date +%s)

rb_py() { python3 "$(nw_py robustness)" "$@"; }

# rb_setup: see above.
rb_setup() {
	command -v jq >/dev/null || skip_all "needs jq"
	nw_setup
	# The daemon gets 1024 descriptors, soft and hard: what a service gets from systemd without
	# LimitNOFILE= (soft 1024), with no way up (the unit's system-call filter denies setrlimit).
	if [ "${NW_VALGRIND:-}" = 1 ]; then
		diag "under valgrind the daemon has the shell's descriptor limit ($(ulimit -n))"
	else
		cat >"$NW_T/natwardend" <<-SH
		#!/bin/sh
		ulimit -n 1024 || exit 1
		exec "$NW_DAEMON" "\$@"
		SH
		chmod 0755 "$NW_T/natwardend"
		NW_DAEMON=$NW_T/natwardend
	fi
	UID1=$(id -u "$NW_U1")
	UID2=$(id -u "$NW_U2")
	P=$NW_T/pub # the writers' outputs: theirs, readable by the test
	mkdir -m 1777 "$P"
	NW_MAX_FRAGMENTS=5000 NW_MAX_RULES=20000 flood_policy
	cp "$NW_T/policy.ini" "$NW_T/policy-big.ini"
	NW_MAX_FRAGMENTS=40 NW_MAX_RULES=100 flood_policy # quotas that some submissions hit
}

# rb_anchor: $NW_U1's 'anchor' holds tcp/80; then the model of what is live starts from the state
rb_anchor() {
	local rc
	printf 'dnat tcp 80 to 192.168.1.250\n' | nw_submit "$NW_U1" anchor >/dev/null
	rc=$?
	rb_py model-init "$NW_T" "$NW_U1" "$UID1" "$NW_U2" "$UID2"
	return $rc
}

# rb_start: the daemon started and the anchor accepted, or Bail out.
rb_start() {
	nw_start || { echo "Bail out! the daemon does not start"; exit 1; }
	rb_anchor || { echo "Bail out! $NW_U1's 'anchor' was not accepted"; exit 1; }
}

# lib.sh's policy, with the spool limits and the submission rate at their maximum: both users
# send bursts (hundreds at once, 50,000 in a heavy big round, thousands a minute).
flood_policy() {
	local limits='max_spool_entries = 100000\nmax_spool_bytes = 1073741824'
	limits+='\nmax_submissions_per_minute = 1000000'
	nw_policy "" && sed -i "/^max_rules = /a $limits" "$NW_T/policy.ini"
}

# writer USER PLAN OUT DEADLINE PACE_MS STOPFILE: a submitter in the background, submitting the
# plan (robustness.py writer); W is its pid.
writer() {
	setpriv --reuid="$1" --regid="$(id -g "$1")" --init-groups --reset-env -- \
		python3 "$(nw_py robustness)" writer "$NW_T/spool/incoming/$(id -u "$1")" "$2" "$3" "$4" "$5" "$6" \
		2>>"$P/writer-errors.log" &
	W=$!
	NW_PIDS+=("$W")
}

# Is our daemon running (our child, not a zombie)? kill -0 cannot tell.
daemon_running() { nw_ours "${NW_DPID:-}"; }

# SIGKILL our daemon (its pid, checked to be natwardend), and reap it. DIED counts the times it
# was already gone (unless told that was expected); KILLED_RC is how it ended.
DIED=0
kill_daemon() {
	if ! daemon_running; then
		if [ "${1:-}" != expected ]; then
			DIED=$((DIED + 1))
			diag "the daemon ($NW_DPID) was already gone before the kill"
		fi
	else
		kill -9 "$NW_DPID"
	fi
	wait "$NW_DPID" 2>/dev/null
	KILLED_RC=$?
	NW_DPID=
}

log_count() { grep -c -- "$1" "$NW_T/daemon.log"; }

# install_policy FILE MODE: atomically, as an administrator would (write beside, rename over)
install_policy() {
	cp "$1" "$NW_T/policy.ini.new" && chmod "$2" "$NW_T/policy.ini.new" &&
		mv -f "$NW_T/policy.ini.new" "$NW_T/policy.ini"
}

reloaded_since() { [ "$(log_count '^<[0-9]>reloaded ')" -gt "$1" ]; }

# rb_reload FILE DESCRIPTION: install FILE as the policy, SIGHUP, and check (a TAP point) that it
# was reloaded within 3 s
rb_reload() {
	local n0
	install_policy "$1" 0644
	n0=$(log_count '^<[0-9]>reloaded ')
	kill -HUP "$NW_DPID"
	check "$2" nw_wait_for 10 reloaded_since "$n0"
}
