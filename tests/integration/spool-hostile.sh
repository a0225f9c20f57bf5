#!/bin/bash
# SPDX-License-Identifier: MIT
# Hostile spool entries, dropped by real unprivileged users into the spool directory natwardend
# gives each of them (SPOOL/incoming/UID, that only its user and the daemon may write):
#
#  - what each entry can be: symbolic and hard links to files that are not the user's, FIFOs,
#    sockets, directories (empty, non-empty, 0777), a 1 GiB sparse file, a file that keeps
#    growing, a file replaced between events, unreadable files, binary garbage, invalid names
#    (a newline, 255 characters), files created without writing (no close event), clients'
#    temporary dot-files by their ctime, 5,000 files at once, an inotify queue overflow and a
#    restart with a thousand directories the daemon cannot remove. $NW_U1 is the attacker
#    there, with spool limits that never stop it; $NW_U2 probes that others are still served.
#  - what one submitter can do to another (A = $NW_U1, the victim; B = $NW_U2, the attacker,
#    with the default limits: 64 entries, 4 MiB, 120 submissions a minute): reach A's
#    directory or pending files at all; squat A's names (an open, never-closed file with an
#    mtime in 2100, a FIFO, a directory, a symlink, 64 files named like A's fragments); race
#    its own entries (the daemon must never remove a file it did not judge); hand A's files in
#    as its own (provenance is directory and owner); flood its directory with 5,000 and
#    30,000 files, a 5 MiB dot-file, 700 submissions in a second, 1,100 directories the daemon
#    cannot remove. A must be answered promptly every time, its forwards untouched; B's excess
#    is refused unjudged and summarized, not logged line by line.
#
# For every case: the daemon stays up and keeps answering, the kernel table does not change,
# the entry ends with a verdict or is removed (what truly cannot be removed is reported in the
# log) and, where the owner can be told, the verdict written into the file says why. Times are
# bounded generously and printed.
#
# The spool lives on an ext4 image of its own when loop devices work here, mounted in the
# test's own mount namespace, so that debugfs can give files a ctime in the past or the future
# (ages are ctimes, which no user can set); else those points are skipped. The daemon runs
# with a soft RLIMIT_NOFILE of 1024, as under systemd (DefaultLimitNOFILE=1024:524288;
# natwarden.service sets none), and without the journal (a private empty /run/systemd/journal
# in its own mount namespace), so that thousands of verdicts do not land in the host's journal;
# everything it logs is in $NW_T/daemon.log.
#
#
# NW_PARTS="..." runs only the named parts (see the end of this file), for debugging.

# nw_start takes the daemon's extra arguments, none here
# shellcheck disable=SC2119

# In a mount namespace of its own: the spool's image is mounted there only, so no namespace
# another program makes meanwhile keeps a copy of that mount (and the loop device) alive.
if [ -z "${NW_SPOOL_PRIVATE_NS:-}" ] && unshare --mount --propagation private true 2>/dev/null; then
	NW_SPOOL_PRIVATE_NS=1 exec unshare --mount --propagation private -- "$(readlink -f "$0")" "$@"
fi

. "$(dirname "$0")/lib.sh"
nw_init
command -v jq >/dev/null || skip_all "needs jq"
command -v setfacl >/dev/null || skip_all "needs the acl tools (getfacl)"
# $NW_U1 drops thousands of entries below: limits that never stop it (lib.sh's nw_policy)
export NW_U1_MAX_SPOOL_ENTRIES=100000 NW_U1_MAX_SPOOL_BYTES=1073741824 NW_U1_MAX_SUBMISSIONS=1000000
nw_setup
T0=$(nw_ms)

SPOOL=$NW_T/spool
IN=$SPOOL/incoming
WORK=$SPOOL/work
LOG=$NW_T/daemon.log
U1ID=$(id -u "$NW_U1")
U2ID=$(id -u "$NW_U2")
D1=$IN/$U1ID # A's directory
D2=$IN/$U2ID # B's directory
# users' own directories on the spool's file system (hard links and renames need that)
HOMES=$SPOOL/homes
IMG=$NW_T/spool.img
LOOP=   # the spool is on the image
CTIMES= # and debugfs may set ctimes there

# The spool's file system: an ext4 image (debugfs can set ctimes there), or the test directory.
mkdir "$SPOOL"
if command -v mkfs.ext4 >/dev/null && command -v debugfs >/dev/null &&
	truncate -s 512M "$IMG" && mkfs.ext4 -q -F -N 120000 "$IMG" >/dev/null 2>&1 &&
	mount -o loop "$IMG" "$SPOOL" 2>/dev/null; then
	LOOP=1
	CTIMES=1
	rmdir "$SPOOL/lost+found"
fi
chown "$NW_DUSER:$NW_GROUP" "$SPOOL"
chmod 0710 "$SPOOL"
mkdir -m 0755 "$HOMES" "$HOMES/$NW_U1" "$HOMES/$NW_U2"
chown "$NW_U1:" "$HOMES/$NW_U1"
chown "$NW_U2:" "$HOMES/$NW_U2"
NWH=$(nw_py nwh)

# a daemon left stopped by SIGSTOP (a failure in between) would ignore lib's SIGTERM; the
# image is detached lazily (the daemon and helpers still hold it until nw_cleanup ends them)
trap '[ -n "${NW_DPID:-}" ] && kill -CONT "$NW_DPID" 2>/dev/null; [ -z "$LOOP" ] || umount -l "$SPOOL"; nw_cleanup' EXIT

# point RC DESCRIPTION [DIAGNOSTIC]: ok when RC is 0
point() {
	if [ "$1" = 0 ]; then ok "$2"; else not_ok "$2"; [ -z "${3:-}" ] || printf '%s\n' "$3" | head -n 20 | sed 's/^/#   /'; fi
}

udir() { echo "$IN/$(id -u "$1")"; }

# h USER CMD ARGS...: the helper (nwh.py) as USER, in USER's spool directory
h() {
	local u=$1
	shift
	nw_as "$u" python3 "$NWH" "$(udir "$u")" "$@"
}

# h_bg OUTFILE USER CMD ARGS... (< input): the helper as USER in the background (reading the
# caller's input: a background command reads /dev/null unless told); H_PID is its own pid
# (setpriv execs python3), registered for clean-up
h_bg() {
	local outfile=$1 u=$2
	shift 2
	setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups --reset-env -- \
		python3 "$NWH" "$(udir "$u")" "$@" <&0 >"$outfile" 2>&1 &
	H_PID=$!
	NW_PIDS+=("$H_PID")
}

# as_user_xargs USER COMMAND...: COMMAND as USER on NUL-separated paths from stdin
as_user_xargs() {
	local u=$1
	shift
	xargs -0 -r setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups --reset-env -- "$@"
}

# wait_line SECONDS FILE PATTERN: until a line of FILE matches (grep -E)
wait_line() { nw_wait_for "$1" grep -Eq -- "$3" "$2"; }

# logged LINE DESCRIPTION: the daemon logged exactly this line (waits up to 10 s)
logged() {
	log_has -F "$1" "$2" "want log line" 40
}

# logged_re PATTERN DESCRIPTION: a log line matches (grep -E, whole line; waits up to 10 s)
logged_re() {
	log_has -E "$1" "$2" "want a log line matching" 30
}

# log_has -F|-E WANT DESCRIPTION WHAT N: a whole log line is WANT (grep -F or -E); otherwise
# "WHAT: WANT" and the last lines that begin with the first N characters of WANT, as comments
log_has() {
	if nw_wait_for 10 grep "$1"xq -- "$2" "$LOG"; then
		ok "$3"
	else
		not_ok "$3"
		echo "#   $4: $2"
		grep -F -- "$(printf '%s' "$2" | cut -c1-"$5")" "$LOG" | tail -n 3 | sed 's/^/#   got: /'
	fi
}

# log_mark: the log's length now; log_since MARK: what was logged after it
log_mark() { wc -l <"$LOG"; }
log_since() { tail -n "+$(($1 + 1))" "$LOG"; }

# summed MARK USER FIELD: the sum of one count over USER's summary lines since MARK
# (FIELD: rate or over)
summed() {
	log_since "$1" | sed -nE "s/^<4>refused $2's spool entries unjudged: ([0-9]+) over max_submissions_per_minute = [0-9]+, ([0-9]+) past .*/\\1 \\2/p" |
		awk -v f="$3" '{ s += (f == "rate" ? $1 : $2) } END { print s + 0 }'
}
# accounted MARK USER PREFIX: USER's withdrawals of PREFIX* judged since MARK (one line each),
# and its refusals summarized since
accounted() {
	echo $(($(count_log "$1" "withdrawn $2's fragment '$3") + $(summed "$1" "$2" rate) + $(summed "$1" "$2" over)))
}
# sums MARK USER: "OVER RATE", summed over USER's summary lines since MARK
sums() { echo "$(summed "$1" "$2" over) $(summed "$1" "$2" rate)"; }

# verdict_has OUTPUT LINE...: the helper's output holds each of these verdict lines
verdict_has() {
	local out=$1 l
	shift
	printf '%s\n' "$out" | grep -qx 'result verdict' || return 1
	for l in "$@"; do
		printf '%s\n' "$out" | grep -Fqx -- "  $l" || return 1
	done
}

# signal our own daemon (checked by pid and name first)
dsig() {
	if [ -z "${NW_DPID:-}" ] || [ "$(cat "/proc/$NW_DPID/comm" 2>/dev/null)" != natwardend ]; then
		echo "# refusing to signal pid ${NW_DPID:-?}: not our natwardend"
		return 1
	fi
	kill -"$1" "$NW_DPID"
}

# entries DIR [NAME-GLOB]: how many entries (named so) a directory holds (root lists it)
entries() { find "$1" -mindepth 1 -maxdepth 1 -name "${2:-*}" -printf . | wc -c; }
# no_entry DIR [NAME-GLOB]: it holds none (named so)
no_entry() { [ -z "$(find "$1" -mindepth 1 -maxdepth 1 -name "${2:-*}" -print -quit)" ]; }

# Conditions on what a command prints now, for nw_wait_for and poll (which run them again and
# again): yields WANT COMMAND..., at_least N COMMAND..., at_most N COMMAND...
yields() { [ "$("${@:2}")" = "$1" ]; }
at_least() { [ "$("${@:2}")" -ge "$1" ]; }
at_most() { [ "$("${@:2}")" -le "$1" ]; }

# poll SECONDS INTERVAL COMMAND...: like nw_wait_for, for costly conditions
poll() {
	local end=$(($(nw_ms) + $1 * 1000)) gap=$2
	shift 2
	until "$@" >/dev/null 2>&1; do
		[ "$(nw_ms)" -lt "$end" ] || return 1
		sleep "$gap"
	done
}

# count_log MARK PATTERN: log lines since MARK that match (grep -E)
count_log() { log_since "$1" | grep -Ec -- "$2"; }

# settled WHAT: the daemon is up, answers a valid submission of $PROBER at once, the kernel is
# as before the hostile entries and the spool is empty
PROBE=0
PROBER=$NW_U2
settled() {
	local why="" out t0
	nw_alive || why+=" daemon is gone;"
	PROBE=$((PROBE + 1))
	t0=$(nw_ms)
	out=$(nw_withdraw "$PROBER" "probe$PROBE" --timeout 5 2>&1)
	[[ $out == "probe$PROBE: withdrawn for $PROBER"* ]] || why+=" no answer to a valid submission ($out);"
	[ "$(nw_kernel)" = "$KBEFORE" ] || why+=" kernel changed: $(nw_kernel | tr '\n' ',');"
	nw_wait_for 10 nw_spool_empty ||
		why+=" spool not empty: $(find "$IN" "$WORK" -mindepth 1 \( -path "$IN/*/*" -o -path "$WORK/*" \) -printf '%P ' | head -c 300);"
	if [ -z "$why" ]; then
		ok "$1: daemon up and answering ($(($(nw_ms) - t0)) ms), kernel unchanged, spool empty"
	else
		not_ok "$1: daemon up and answering, kernel unchanged, spool empty"
		echo "#  $why"
	fi
}

# clear_dir USER: the user deletes everything in its directory (again while the daemon still
# moves entries aside meanwhile; 10 s at most)
clear_dir() {
	local d
	d=$(udir "$1")
	for _ in $(seq 50); do
		find "$d" -mindepth 1 -maxdepth 1 -print0 | as_user_xargs "$1" rm -rf
		no_entry "$d" && return 0
		sleep 0.2
	done
	return 1
}

# remove_stuck USER: the user deletes what the daemon moved aside (.stuck.N), as its owner would
# (it cannot list its own directory: root names the entries)
remove_stuck() {
	find "$(udir "$1")" -mindepth 1 -maxdepth 1 -name '.stuck.*' -print0 | as_user_xargs "$1" rm -rf
}

# The daemon as under systemd: soft RLIMIT_NOFILE 1024; and no journal (see the top).
NW_REAL_DAEMON=$NW_DAEMON
NW_DAEMON=$NW_T/natwardend-as-service
cat >"$NW_DAEMON" <<EOF
#!/bin/sh
hard=\$(ulimit -Hn)
if [ "\$hard" = unlimited ] || [ "\$hard" -ge 1024 ]; then ulimit -Sn 1024; fi
if [ -S /run/systemd/journal/socket ]; then
	exec unshare --mount --propagation private sh -c \\
		'mount -t tmpfs -o size=64k,mode=0755 nw-nojournal /run/systemd/journal && exec "\$0" "\$@"' \\
		"$NW_REAL_DAEMON" "\$@"
fi
exec "$NW_REAL_DAEMON" "\$@"
EOF
chmod 0755 "$NW_DAEMON"

# ==== start, baseline, the spool's layout ===================================================

part_start() {
	nw_start || { not_ok "daemon starts"; exit 1; }
	local hard
	hard=$(ulimit -Hn)
	is "$(cat "/proc/$NW_DPID/comm") $(awk '/^Max open files/ { print $4 }' "/proc/$NW_DPID/limits")" \
		"natwardend $hard" "started with the service's soft limit of 1024 open files, the daemon takes its hard limit"
	printf 'dnat tcp 80 to 192.168.1.240\n' | nw_submit "$NW_U1" base >/dev/null
	printf 'dnat tcp 8080 to 192.168.2.10\n' | nw_submit "$NW_U2" web >/dev/null
	KBEFORE=$(nw_kernel)
	is "$KBEFORE" "tcp 80 192.168.1.240:80
tcp 8080 192.168.2.10:8080" "baseline: one fragment of each submitter in the kernel"
	is "$(stat -c '%U:%G %a' "$SPOOL" "$IN" "$D1" "$D2" "$WORK" | tr '\n' ' ')" \
		"$NW_DUSER:$NW_GROUP 710 $NW_DUSER:$NW_GROUP 710 $NW_DUSER:$NW_DUSER 770 $NW_DUSER:$NW_DUSER 770 $NW_DUSER:$NW_DUSER 700 " \
		"the spool's layout: SPOOL and incoming daemon:submit 0710, incoming/UID daemon:daemon 0770, work 0700"
	is "$(getfacl -cp "$D1" 2>/dev/null | grep -E '^(user|default:user):[a-z]' | tr '\n' ' ')" \
		"user:$NW_U1:-wx default:user:$NW_DUSER:rw- " \
		"incoming/$U1ID: only $NW_U1 may create there (user:$NW_U1:-wx), the daemon may answer every file (default ACL)"
	diag "spool file system: $([ -n "$CTIMES" ] && echo "an ext4 image of its own (ctimes settable)" || echo "the test directory's (ctime points skipped)")"
}

# ==== clients' temporary dot-files, by ctime ================================================

part_dotfiles() {
	local now c1 c2 m cmds
	nw_stop
	nw_as "$NW_U1" touch "$D1/.stale.0123456789abcdef" "$D1/..." "$D1/.future.0123456789abcdef" \
		"$D1/.fresh.0123456789abcdef" "$D1/..fresh" "$D1/future-ctime"
	nw_as "$NW_U1" touch -d '2100-01-01 00:00:00' "$D1/.mtime-future-ctime-old" "$D1/.mtime-future"
	nw_as "$NW_U1" touch -d '-11 min' "$D1/.mtime-old"
	nw_as "$NW_U1" mkdir "$D1/.old-dir"
	nw_as "$NW_U1" chmod 0700 "$D1/.old-dir" # a directory made there inherits rw- from the default ACL
	nw_as "$NW_U1" touch "$D1/.old-dir/inside"
	if [ -n "$CTIMES" ]; then
		# ctimes no user can set: 11 minutes ago, and in the year 2099
		now=$(date +%s)
		c1=$(date -u -d "@$((now - 660))" +%Y%m%d%H%M%S)
		c2=$(date -u -d '2099-06-01 00:00:00' +%Y%m%d%H%M%S)
		umount "$SPOOL"
		# the kernel lets the loop device go a little later
		poll 10 0.1 yields "" losetup -j "$IMG"
		if losetup -j "$IMG" | grep -q .; then
			# mounted elsewhere still: never write to it with debugfs; mount the same device
			CTIMES=
			diag "the image is still attached after umount: ctime points skipped"
			mount "$(losetup -j "$IMG" | head -n 1 | cut -d: -f1)" "$SPOOL"
		else
			cmds=$NW_T/debugfs.cmd
			for m in .stale.0123456789abcdef ... .mtime-future-ctime-old .old-dir; do
				echo "set_inode_field /incoming/$U1ID/$m ctime $c1"
			done >"$cmds"
			for m in .future.0123456789abcdef future-ctime; do
				echo "set_inode_field /incoming/$U1ID/$m ctime $c2"
			done >>"$cmds"
			debugfs -w -f "$cmds" "$IMG" >"$NW_T/debugfs.out" 2>&1
			mount -o loop "$IMG" "$SPOOL"
			is "$(stat -c '%Z %n' "$D1/.stale.0123456789abcdef" "$D1/.future.0123456789abcdef" "$D1/future-ctime" | awk -v n="$now" '{ print ($1 < n - 600 ? "old" : $1 > n + 3600 ? "future" : "now"), $2 }' | sed "s|$D1/||" | tr '\n' ' ')" \
				"old .stale.0123456789abcdef future .future.0123456789abcdef future future-ctime " \
				"debugfs set the ctimes on the spool's image (11 minutes ago; 2099)"
		fi
	fi
	nw_start || { not_ok "daemon restarts"; exit 1; }
	if [ -n "$CTIMES" ]; then
		grep -Fxq "<5>withdrawn $NW_U1's fragment 'future-ctime'" "$LOG" && [ ! -e "$D1/future-ctime" ]
		point $? "a regular file with a ctime in the future was taken at once, during start-up (no quiet time waited for)"
		logged "<6>removed 4 stale temporary files of $NW_U1 from the spool" \
			"dot-files with a ctime over ten minutes old, or in the future, are removed (4: whatever their mtime, 2100 included)"
		check "... they are gone" test ! -e "$D1/.stale.0123456789abcdef" -a ! -e "$D1/..." \
			-a ! -e "$D1/.future.0123456789abcdef" -a ! -e "$D1/.mtime-future-ctime-old"
		logged "<4>$NW_U1's spool directory holds 1 more directory that natwardend cannot remove (not empty); they stay until $NW_U1 removes them" \
			"an old non-empty dot-directory that cannot be removed is reported in the log"
	else
		ok "# SKIP a ctime cannot be set here (no image of its own, or it stayed attached): stale and future dot-files"
	fi
	# the first sweep has run (1 s after the start): what is fresh by its ctime stays
	nw_wait_for 5 grep -q "stale temporary file\|holds 1 more director" "$LOG" || sleep 1.5
	check "fresh dot-files stay, even with an mtime 11 minutes old or in 2100 (only the ctime counts)" \
		test -f "$D1/.fresh.0123456789abcdef" -a -f "$D1/..fresh" -a -f "$D1/.mtime-old" -a -f "$D1/.mtime-future"
	nw_as "$NW_U1" touch "$D1/..evil"
	nw_withdraw "$NW_U1" after-dots >/dev/null
	check "a new dot-name is never taken as a submission (ignored, not judged)" \
		bash -c "test -f '$D1/..evil' && ! grep -q \"'\\.\\.evil'\" '$LOG'"
	# (without an image, the "stale" ones are fresh and stay too)
	nw_as "$NW_U1" rm -rf "$D1/.fresh.0123456789abcdef" "$D1/..fresh" "$D1/..evil" "$D1/.old-dir" \
		"$D1/.mtime-old" "$D1/.mtime-future" "$D1/.stale.0123456789abcdef" "$D1/..." \
		"$D1/.future.0123456789abcdef" "$D1/.mtime-future-ctime-old"
	settled "dot-files"
}

# ==== who may reach the spool at all =========================================================

part_access() {
	local out rc outid u3id
	outid=$(id -u "$NW_OUT")
	u3id=$(id -u "$NW_U3")
	is "$(h "$NW_OUT" attempt create "$D1/outsider") / $(h "$NW_OUT" attempt list "$SPOOL")" \
		"create EACCES / list EACCES" "a user outside the submit group cannot create anything in the spool, nor list it"
	out=$(printf '' | nw_submit "$NW_OUT" outsider 2>&1)
	rc=$?
	is "$rc $out" "2 natwarden: cannot reach your spool directory $IN/$outid: Permission denied (are you in the submit group?)" \
		"... and the client tells it why"
	is "$(h "$NW_U3" attempt create "$IN/$u3id") / $(h "$NW_U3" attempt mkdir "$IN/$u3id")" "create EACCES / mkdir EACCES" \
		"a group member without a [submitter] cannot create its own directory (nor anything) in incoming"
	out=$(printf '' | nw_submit "$NW_U3" u3frag 2>&1)
	rc=$?
	is "$rc $out" "2 natwarden: there is no spool directory for you ($IN/$u3id): natwardend makes one for each [submitter] in policy.ini; is $NW_U3 one, and has natwardend started since?" \
		"... and the client says why: it has no spool directory"
	is "$(h "$NW_U2" attempt list "$SPOOL") / $(h "$NW_U2" attempt list "$IN") / $(h "$NW_U2" attempt list "$WORK") / $(h "$NW_U2" attempt list "$D1") / $(h "$NW_U2" attempt list "$D2")" \
		"list EACCES / list EACCES / list EACCES / list EACCES / list EACCES" \
		"a submitter cannot list the spool, incoming, work, another's directory, nor even its own"
	is "$(h "$NW_U2" attempt create "$D1/intruder") / $(h "$NW_U2" attempt mkfifo "$D1/intruder") / $(h "$NW_U2" attempt symlink /x "$D1/intruder")" \
		"create EACCES / mkfifo EACCES / symlink EACCES" "B cannot create a file, a FIFO or a link in A's directory"
}

# ==== another submitter's pending file: no replace, no delete, no read ========================

part_pending() {
	local holder out hpid hfd
	dsig STOP
	h_bg "$NW_T/victim.out" "$NW_U1" hold victim 20 </dev/null
	holder=$H_PID
	wait_line 5 "$NW_T/victim.out" '^dropped' && test -f "$D1/victim"
	point $? "with the daemon stopped (SIGSTOP), A's submission stays pending in its directory"
	h "$NW_U2" attempt create "$HOMES/$NW_U2/replacement" >/dev/null
	is "$(h "$NW_U2" attempt open "$D1/victim") / $(h "$NW_U2" attempt rename "$HOMES/$NW_U2/replacement" "$D1/victim") / $(h "$NW_U2" attempt unlink "$D1/victim") / $(h "$NW_U2" attempt link "$D1/victim" "$HOMES/$NW_U2/l")" \
		"open EACCES / rename EACCES / unlink EACCES / link EACCES" \
		"B cannot open A's pending file, rename its own over it, delete it, nor hard-link it out"
	h "$NW_U2" attempt unlink "$HOMES/$NW_U2/replacement" >/dev/null
	dsig CONT
	wait_line 10 "$NW_T/victim.out" '^held '
	out=$(cat "$NW_T/victim.out")
	verdict_has "$out" "fragment victim" "user $NW_U1" "verdict withdrawn"
	point $? "after SIGCONT the owner reads its own verdict from its own file" "$out"
	read -r _ hpid hfd < <(grep '^held ' "$NW_T/victim.out")
	is "$(h "$NW_U2" attempt open "/proc/${hpid:-0}/fd/${hfd:-0}")" "open EACCES" \
		"B cannot read that verdict through the owner's descriptor"
	kill "$holder" 2>/dev/null
	wait "$holder" 2>/dev/null
	settled "pending files of another user"
}

# ==== links ==================================================================================

fp() { stat -c '%s %Y %h %a' "$@"; sha256sum <"$1"; }

part_links() {
	local u2home=$HOMES/$NW_U2 u1home=$HOMES/$NW_U1 secret_fp private_fp shared_fp
	# root's secret (like /etc/shadow, which other programs may change meanwhile)
	echo "root secret" >"$NW_T/secret"
	chmod 0600 "$NW_T/secret"
	echo "u2 private" >"$u2home/private"
	echo "u2 shared" >"$u2home/shared"
	chown "$NW_U2:" "$u2home/private" "$u2home/shared"
	chmod 0600 "$u2home/private"
	chmod 0666 "$u2home/shared"
	secret_fp=$(fp "$NW_T/secret")
	private_fp=$(fp "$u2home/private")
	shared_fp=$(fp "$u2home/shared")
	local owner_why="it belongs to uid $U2ID, not to uid $U1ID whose spool directory it is in: submit files of your own"

	is "$(h "$NW_U1" attempt symlink /etc/shadow "$D1/lnk-shadow")" "symlink OK" "$NW_U1 makes a symlink to /etc/shadow in its spool directory"
	logged "<4>rejected $NW_U1's fragment 'lnk-shadow': lnk-shadow: it is a symbolic link, not a regular file" \
		"the symlink is rejected as a symlink (logged: a symlink cannot carry a verdict)"
	h "$NW_U1" attempt symlink "$NW_T/secret" "$D1/lnk-secret" >/dev/null
	logged "<4>rejected $NW_U1's fragment 'lnk-secret': lnk-secret: it is a symbolic link, not a regular file" \
		"a symlink to root's secret file is rejected the same way"
	h "$NW_U1" attempt symlink "$u2home/private" "$D1/lnk-other" >/dev/null
	logged "<4>rejected $NW_U1's fragment 'lnk-other': lnk-other: it is a symbolic link, not a regular file" \
		"a symlink to another user's file is rejected the same way"
	if [ "$(cat /proc/sys/fs/protected_hardlinks)" = 1 ]; then
		is "$(h "$NW_U1" attempt link "$u2home/private" "$D1/hl-private")" "link EPERM" \
			"$NW_U1 cannot hard-link another user's private file (fs.protected_hardlinks=1)"
	else
		ok "# SKIP fs.protected_hardlinks is off here"
	fi
	# what an attacker can do even with protected_hardlinks: link a file it may read and write
	is "$(h "$NW_U1" attempt link "$u2home/shared" "$D1/hl-shared")" "link OK" \
		"$NW_U1 hard-links $NW_U2's world-writable file into its directory (allowed by the kernel)"
	logged "<4>rejected $NW_U1's fragment 'hl-shared': hl-shared: $owner_why" \
		"... rejected: not $NW_U1's file, never judged as anybody's submission"
	# what protected_hardlinks=0 would allow: simulated by root
	ln "$u2home/private" "$D1/hl-root"
	logged "<4>rejected $NW_U1's fragment 'hl-root': hl-root: $owner_why" \
		"a hard link to another user's private file (made by root, as if protected_hardlinks=0) is rejected the same way"
	is "$(fp "$NW_T/secret") | $(fp "$u2home/private") | $(fp "$u2home/shared")" \
		"$secret_fp | $private_fp | $shared_fp" \
		"root's secret and $NW_U2's files are untouched: same size, mtime, links, mode and content"
	# the same link, its other name gone before the daemon looks: one link, $NW_U2's file
	printf 'dnat tcp 8081 to 192.168.2.66\n' >"$u2home/planted"
	chown "$NW_U2:" "$u2home/planted"
	chmod 0666 "$u2home/planted"
	dsig STOP
	h "$NW_U1" attempt link "$u2home/planted" "$D1/hl-planted" >/dev/null
	rm -f "$u2home/planted"
	dsig CONT
	logged "<4>rejected $NW_U1's fragment 'hl-planted': hl-planted: $owner_why" \
		"a linked-in file whose other name is gone (one link, another user's) is rejected for its owner"
	# its own file, with a second name in its home
	h "$NW_U1" attempt create "$u1home/own" >/dev/null
	h "$NW_U1" attempt link "$u1home/own" "$D1/hl-own" >/dev/null
	logged "<4>rejected $NW_U1's fragment 'hl-own': hl-own: it has 2 hard links: submit a file of your own" \
		"a file of its own with a second name elsewhere is rejected for its 2 links"
	check "... and that other name is untouched" test -f "$u1home/own"
	rm -f "$u1home/own"
	settled "symlinks and hard links"
}

# ==== FIFO, socket, directories ================================================================

part_special() {
	local out t0 dt
	is "$(h "$NW_U1" attempt mkfifo "$D1/pipe")" "mkfifo OK" "$NW_U1 makes a FIFO in its directory"
	t0=$(nw_ms)
	out=$(nw_withdraw "$NW_U2" after-fifo --timeout 5 2>&1)
	dt=$(($(nw_ms) - t0))
	[[ $out == "after-fifo: withdrawn for $NW_U2"* ]]
	point $? "a valid submission right after the FIFO is judged ($dt ms; bound 5 s): the FIFO blocks nothing" "$out"
	logged "<4>rejected $NW_U1's fragment 'pipe': pipe: it is a FIFO, not a regular file" "the FIFO is rejected as a FIFO"
	is "$(h "$NW_U1" attempt socket "$D1/sock")" "socket OK" "$NW_U1 binds a UNIX socket in its directory"
	logged "<4>rejected $NW_U1's fragment 'sock': sock: it is a socket, not a regular file" "the socket is rejected as a socket"
	settled "FIFO and socket"

	nw_as "$NW_U1" mkdir "$D1/edir"
	logged "<4>rejected $NW_U1's fragment 'edir': edir: it is a directory, not a regular file" \
		"an empty directory is rejected as a directory"
	nw_wait_for 10 test ! -e "$D1/edir"
	point $? "... and removed"
	h "$NW_U1" dirs fdir 1 755 >/dev/null
	logged "<4>rejected $NW_U1's fragment 'fdir': fdir: it is a directory, not a regular file" \
		"a non-empty directory (0755) is rejected as a directory"
	nw_wait_for 10 test ! -e "$D1/fdir"
	[ -z "$(ls -A "$WORK")" ] && [ -n "$(find "$D1" -maxdepth 1 -name '.stuck.*')" ]
	point $? "... it cannot be removed by the daemon: it is moved aside (.stuck.N in its directory), its name is free, nothing in work"
	# (one line for it, or its count in $NW_U1's summary)
	logged_re "<4>(cannot remove spool entry 'fdir' in incoming/$U1ID; moved aside as \\.stuck\\.[0-9]{20} until its owner removes it: Directory not empty|$NW_U1's spool directory holds [0-9]+ more director(y|ies) that natwardend cannot remove \\(not empty\\); they stay until $NW_U1 removes them)" \
		"... and the log says that it is left behind"
	h "$NW_U1" dirs gdir 1 777 >/dev/null
	logged "<4>rejected $NW_U1's fragment 'gdir': gdir: it is a directory, not a regular file" \
		"a non-empty world-writable directory (0777) is rejected as a directory"
	nw_wait_for 10 test ! -e "$D1/gdir"
	test -z "$(ls -A "$WORK")"
	point $? "... and it is not left inside the daemon's private work directory"
	remove_stuck "$NW_U1" # their owner clears what the daemon moved aside
	settled "directories"
}

# ==== sizes, replaced files, unreadable, binary, invalid names ==================================

invalid_name() { # invalid_name NAME SHOWN DESCRIPTION
	local out
	out=$(printf '' | h "$NW_U1" drop "$1" 660 10)
	verdict_has "$out" "fragment $2" "user $NW_U1" "verdict rejected" \
		"reason $2: invalid fragment name $2: use 1-64 of a-z 0-9 . _ -, starting with a letter or digit"
	point $? "$3" "$out"
}

part_contents() {
	local t0 out reason bad bytes a40
	t0=$(nw_ms)
	nw_as "$NW_U1" truncate -s 1G "$D1/sparse"
	logged "<4>rejected $NW_U1's fragment 'sparse': sparse: it is 1073741824 bytes, the limit is 65536" \
		"a 1 GiB sparse file (truncate -s 1G) is rejected for its size, in the log ($(($(nw_ms) - t0)) ms)"
	out=$(printf '' | h "$NW_U1" drop sparse2 660 10 1073741824)
	verdict_has "$out" "fragment sparse2" "verdict rejected" "reason sparse2: it is 1073741824 bytes, the limit is 65536"
	point $? "a 1 GiB sparse file dropped like the client (0660) gets the size verdict" "$out"
	out=$(h "$NW_U1" grow growing 10)
	reason=$(printf '%s\n' "$out" | sed -n 's/^  reason //p' | head -n 1)
	diag "growing file: $reason"
	verdict_has "$out" "fragment growing" "verdict rejected" &&
		printf '%s\n' "$reason" | grep -Eqx "growing: it grew past the limit of 65536 bytes while being read|growing: it is [0-9]+ bytes, the limit is 65536|growing:1: port 7070 is not allowed for $NW_U1 .*"
	point $? "a file that keeps growing while it is read is rejected (size, or the first line of what was read)" "$out"
	settled "sparse and growing files"

	out=$(h "$NW_U1" replace swapped 20 5)
	diag "replace, 20 rounds: $out"
	bad=$(printf '%s\n' "$out" | tr ' ' '\n' | grep -Ev '^(A-answered-for-itself|A-none|B-answered-for-itself)=[0-9]+$')
	[ -z "$bad" ] && printf '%s\n' "$out" | tr ' ' '\n' | grep -qx 'B-answered-for-itself=20'
	point $? "a file replaced by its user's rename at once: each version answered for its own content, or the replaced one removed unanswered" "$out"
	settled "replaced files"

	out=$(printf 'dnat tcp 8002 to 192.168.1.240\n' | h "$NW_U1" drop private 600 10)
	is "$out" "result none" "a 0600 file (the default ACL's mask lets the daemon nothing) is removed without a verdict"
	logged "<4>rejected $NW_U1's fragment 'private': private: the daemon cannot read it (Permission denied): make it 0660, as natwarden submit does" \
		"... and the log says why"
	out=$(printf 'dnat tcp 8003 to 192.168.1.240\n\0\0\0binary\0' | h "$NW_U1" drop nul 660 10)
	verdict_has "$out" "fragment nul" "user $NW_U1" "verdict rejected" "reason nul: NUL byte at offset 31: not a text file"
	point $? "NUL bytes: rejected, the verdict says where" "$out"
	# every byte value but NUL, 12 times over: a deterministic 3 KiB of binary, first line fixed
	bytes=$(for i in $(seq 1 255); do printf '%b' "\\$(printf %03o "$i")"; done)
	out=$( { printf '\xff\xfe garbage\n'; for _ in $(seq 12); do printf '%s' "$bytes"; done; } |
		h "$NW_U1" drop garbage 660 10)
	verdict_has "$out" "fragment garbage" "verdict rejected" "reason garbage:1: non-ASCII byte 0xff at column 1"
	point $? "binary garbage: rejected, the verdict says where" "$out"

	invalid_name Upper "'Upper'" "an upper-case name is rejected, the verdict says why"
	a40=$(printf 'a%.0s' $(seq 40))
	invalid_name "$(printf 'a%.0s' $(seq 65))" "'$a40'..." "a 65-character name is rejected (shown cut), the verdict says why"
	invalid_name "$(printf 'Z%.0s' $(seq 255))" "'$(printf 'Z%.0s' $(seq 40))'..." "a 255-character name is rejected"
	invalid_name $'bad\nname' "'bad\\x0aname'" "a name with a newline is rejected, shown escaped"
	invalid_name -dash "'-dash'" "a name starting with '-' is rejected"
	check "no raw newline from a name reached the log" bash -c "! grep -q '^name' '$LOG'"
	grep -F "<4>rejected $NW_U1's fragment " "$LOG" | grep -Fq "'bad\\x0aname': invalid fragment name 'bad\\x0aname': use 1-64"
	point $? "the log line shows the newline escaped"
	out=$(printf '' | h "$NW_U1" drop web 660 10)
	verdict_has "$out" "fragment web" "user $NW_U1" "verdict withdrawn"
	point $? "$NW_U1 withdrawing a name that $NW_U2 uses withdraws only its own (nothing; $NW_U2's stays)" "$out"
	settled "unreadable, binary, invalid names"

	# regular files that never signal the end of their writing
	is "$(h "$NW_U1" attempt squat "$D1/squat1") $(h "$NW_U1" attempt mknod "$D1/squat2")" "squat OK mknod OK" \
		"$NW_U1 creates two regular files without writing (open O_RDONLY|O_CREAT; mknod)"
	t0=$(nw_ms)
	poll 15 0.1 test ! -e "$D1/squat1" -a ! -e "$D1/squat2"
	point $? "... both are taken and judged by the periodic sweep ($(($(nw_ms) - t0)) ms; bound 15 s)"
	logged "<5>withdrawn $NW_U1's fragment 'squat2'" "... as what they are: empty files, withdrawals"
	settled "files created without writing"
}

# ==== 5000 files at once, an inotify overflow (the attacker's limits raised) ====================

part_flood() {
	local probe_pid out ms rest n
	(
		sleep 0.5
		t0=$(nw_ms)
		out=$(nw_withdraw "$NW_U2" midflood --timeout 20 2>&1)
		echo "$(($(nw_ms) - t0)) $out"
	) >"$NW_T/midflood.out" &
	probe_pid=$!
	NW_PIDS+=("$probe_pid")
	out=$(timeout 90 setpriv --reuid="$NW_U1" --regid="$(id -g "$NW_U1")" --init-groups --reset-env -- \
		python3 "$NWH" "$D1" flood f 5000 wrjnawu 30)
	wait "$probe_pid"
	diag "$(printf '%s\n' "$out" | grep -E '^(dropped|settled|tally)' | tr '\n' ';')"
	is "$(printf '%s\n' "$out" | grep '^summary')" "summary total=5000 right=5000 pending=0" \
		"5000 files from one user (withdrawals, fragments, policy rejections, NUL garbage, invalid names, unreadable): each answered for itself within 30 s"
	printf '%s\n' "$out" | grep '^wrong' | sed 's/^/#   /'
	grep -E "fragment '(f|F)[0-9]+.*Too many open files" "$LOG" | head -n 2 | sed 's/^/#   the daemon fell behind by a whole batch: /'
	read -r ms rest <"$NW_T/midflood.out"
	[[ $rest == "midflood: withdrawn for $NW_U2"* ]]
	point $? "a valid submission of $NW_U2 in the middle of the flood is answered ($ms ms; bound 20 s)" "$rest"
	is "$(nw_kernel)" "$(printf '%s\ntcp 8001 192.168.1.240:8001\ntcp 8002 192.168.1.240:8002\ntcp 8003 192.168.1.240:8003\ntcp 8004 192.168.1.240:8004\n' "$KBEFORE" | sort)" \
		"exactly the four valid fragments of the flood reached the kernel"
	for n in $(printf '%s\n' "$out" | sed -n 's/^accepted-names //p'); do
		nw_withdraw "$NW_U1" "$n" >/dev/null
	done
	settled "5000 files at once"
}

part_overflow() {
	local maxq n flooder t0 mark
	maxq=$(cat /proc/sys/fs/inotify/max_queued_events)
	if [ "$maxq" -gt 60000 ]; then
		ok "# SKIP fs.inotify.max_queued_events is $maxq: too many files for this test"
		return
	fi
	n=$((maxq + 100))
	mark=$(log_mark)
	dsig STOP
	h_bg "$NW_T/overflow.out" "$NW_U1" flood o "$n" w 60
	flooder=$H_PID
	wait_line 60 "$NW_T/overflow.out" '^dropped'
	point $? "with the daemon stopped (SIGSTOP), $NW_U1 drops $n files (max_queued_events $maxq + 100)" "$(cat "$NW_T/overflow.out")"
	t0=$(nw_ms)
	dsig CONT
	for _ in $(seq 600); do kill -0 "$flooder" 2>/dev/null || break; sleep 0.1; done
	kill "$flooder" 2>/dev/null
	wait "$flooder" 2>/dev/null
	diag "$(grep -E '^(dropped|settled|tally|wrong)' "$NW_T/overflow.out" | tr '\n' ';') after SIGCONT: $(($(nw_ms) - t0)) ms"
	poll 30 0.2 nw_spool_empty
	point $? "every one of the $n entries is taken and removed (the queue overflowed: a rescan found them; $(($(nw_ms) - t0)) ms after SIGCONT, bound 30 s)"
	is "$(log_since "$mark" | grep -Ec "fragment 'o[0-9]+'")" "$n" "each is judged exactly once (one log line each)"
	if grep -q 'not held' "$NW_T/overflow.out"; then
		ok "# SKIP the fd limit does not let one process hold $n files"
	else
		grep -qx "summary total=$n right=$n pending=0" "$NW_T/overflow.out"
		point $? "each of them is answered for itself (withdrawn)"
		grep "Too many open files" "$LOG" | head -n 2 | sed 's/^/#   /'
	fi
	settled "inotify overflow"
}

# ==== many entries the daemon cannot remove, and a restart ======================================

part_restart() {
	local ready before_ready t0 mark
	mark=$(log_mark)
	t0=$(nw_ms)
	h "$NW_U1" dirs stuck 1025 777 >/dev/null
	nw_wait_for 30 no_entry "$D1" 'stuck[0-9]*'
	point $? "$NW_U1's 1025 non-empty 0777 directories are each taken ($(($(nw_ms) - t0)) ms; bound 30 s)"
	is "$(count_log "$mark" "^<4>rejected $NW_U1's fragment 'stuck[0-9]+': stuck[0-9]+: it is a directory, not a regular file$")" 1025 \
		"... each judged once, as a directory"
	diag "$(find "$WORK" -mindepth 1 -maxdepth 1 | wc -l) ended up in work, $(find "$D1" -maxdepth 1 -name '.stuck.*' | wc -l) moved aside in $NW_U1's directory"
	nw_stop
	before_ready=$(grep -c 'READY=1' "$NW_T/notify.log")
	t0=$(nw_ms)
	NOTIFY_SOCKET=$NW_NOTIFY ip netns exec "$NW_NS" "$NW_DAEMON" --config "$NW_T/policy.ini" >>"$LOG" 2>&1 &
	NW_DPID=$!
	NW_PIDS+=("$NW_DPID")
	ready=1
	nw_wait_alive "$NW_DPID" 100 0.05 nw_readied "$before_ready" && ready=0
	point $ready "with 1025 such directories left behind, the daemon restarts ($(($(nw_ms) - t0)) ms; bound 5 s)"
	if [ "$ready" != 0 ]; then
		diag "not ready after 5 s; killing it (SIGTERM is blocked before the event loop)"
		dsig KILL
		wait "$NW_DPID" 2>/dev/null
		NW_DPID=
	else
		nw_stop
	fi
	remove_stuck "$NW_U1" # their owner removes what the daemon could not
	rm -rf "${WORK:?}"/*
	nw_start
	point $? "after their owner removed them, the daemon starts"
	settled "restart"
}

# ==== B against A: squatting names, future times ===============================================

# a_submit NAME FRAGMENT-TEXT: A's `natwarden submit`, timed; sets A_OUT, A_MS
a_submit() {
	local t0
	t0=$(nw_ms)
	A_OUT=$(printf '%b' "$2" | nw_submit "$NW_U1" "$1" --timeout 10 2>&1)
	A_MS=$(($(nw_ms) - t0))
}

part_squat() {
	local webtext='dnat tcp 8443 to 192.168.1.241\nlease 3600\n' round worst=0 fails="" out i
	local want_web want_base
	PROBER=$NW_U1
	a_submit web "$webtext"
	is "$(printf '%s\n' "$A_OUT" | grep -v expires)" "web: accepted for $NW_U1
  live: dnat tcp 8443 to 192.168.1.241" "A's fragment 'web' is accepted (a 1 h lease)"
	KBEFORE=$(printf '%s\ntcp 8443 192.168.1.241:8443\n' "$KBEFORE" | sort)
	want_web="web: accepted for $NW_U1 (unchanged, lease renewed)
  live: dnat tcp 8443 to 192.168.1.241"
	want_base="base: accepted for $NW_U1 (unchanged, lease renewed)
  live: dnat tcp 80 to 192.168.1.240"
	# B: an open, never-closed file 'web' with an mtime in 2100; another in 2000
	printf '%b' "$webtext" >"$NW_T/webtext"
	h_bg "$NW_T/squat-web.out" "$NW_U2" open-hold web 4102444800 15 <"$NW_T/webtext"
	local sq1=$H_PID
	h_bg "$NW_T/squat-past.out" "$NW_U2" open-hold past 946684800 15 </dev/null
	local sq2=$H_PID
	wait_line 5 "$NW_T/squat-web.out" '^mtime'
	nw_wait_for 10 test -e "$D2/past"
	for round in open-file fifo directory symlink copies; do
		case $round in
		fifo) nw_wait_for 15 test ! -e "$D2/web"; h "$NW_U2" attempt mkfifo "$D2/web" >/dev/null ;;
		directory) nw_wait_for 10 test ! -e "$D2/web"; h "$NW_U2" dirs web 1 755 >/dev/null ;;
		symlink) nw_wait_for 10 test ! -e "$D2/web"; h "$NW_U2" attempt symlink "$D1/web" "$D2/web" >/dev/null ;;
		copies)
			# 64 files of B (its limit) named like A's fragments, holding A's very texts
			nw_wait_for 10 test ! -e "$D2/web"
			nw_wait_for 10 no_entry "$D2" past
			remove_stuck "$NW_U2"
			# shellcheck disable=SC2016 # $f is the inner shell's
			for i in $(seq 0 61); do printf '%s\0' "$D2/a$i"; done |
				as_user_xargs "$NW_U2" sh -c 'for f; do printf "dnat tcp 80 to 192.168.1.240\n" >"$f"; done' sh
			nw_as "$NW_U2" sh -c "printf 'dnat tcp 80 to 192.168.1.240\n' >'$D2/base'; printf '$webtext' >'$D2/web'"
			;;
		esac
		a_submit web "$webtext"
		[ "$A_MS" -gt "$worst" ] && worst=$A_MS
		[ "$(printf '%s\n' "$A_OUT" | grep -v expires)" = "$want_web" ] || fails+=" $round web: $A_OUT;"
		a_submit base 'dnat tcp 80 to 192.168.1.240\n'
		[ "$A_MS" -gt "$worst" ] && worst=$A_MS
		[ "$(printf '%s\n' "$A_OUT" | grep -v expires)" = "$want_base" ] || fails+=" $round base: $A_OUT;"
	done
	[ -z "$fails" ] && [ "$worst" -lt 5000 ]
	point $? "five rounds of B's tricks on the names (an open file 'web' with mtime 2100, a FIFO, a directory, a symlink, 64 copies of A's fragments): A's 'web' and 'base' renewed every time, only A's own text in A's verdicts (slowest $worst ms; bound 5 s)" "$fails"
	is "$(nw_kernel)" "$KBEFORE" "the kernel holds A's and B's forwards as before: B's entries were judged as B's"
	logged "<4>rejected $NW_U2's fragment 'web': web: it is a FIFO, not a regular file" "B's FIFO 'web' is rejected as B's"
	logged_re "<4>rejected $NW_U2's fragment 'a61': a61:1: .*" "B's copies of A's fragments are judged as B's"
	wait "$sq1" "$sq2" 2>/dev/null
	out=$(cat "$NW_T/squat-web.out")
	diag "B's open file 'web' (mtime 2100): $(grep -E '^(mtime|taken)' "$NW_T/squat-web.out" | tr '\n' ' ')"
	printf '%s\n' "$out" | grep -qx 'taken after [0-9.]* s' && verdict_has "$out" "fragment web" "user $NW_U2" "verdict rejected"
	point $? "B's never-closed file with an mtime in 2100 is taken by the sweep (ctime decides) and judged as B's" "$out"
	out=$(cat "$NW_T/squat-past.out")
	diag "B's open file 'past' (mtime 2000): $(grep -E '^(mtime|taken)' "$NW_T/squat-past.out" | tr '\n' ' ')"
	printf '%s\n' "$out" | grep -qx 'taken after [0-9.]* s' && verdict_has "$out" "fragment past" "user $NW_U2" "verdict withdrawn"
	point $? "... and one with an mtime in 2000 the same way, within 15 s" "$out"
	# a dot-file of B with an mtime in 2100: its ctime is fresh, so it stays (part_dotfiles
	# shows such a file go once its ctime is old)
	nw_as "$NW_U2" touch -d '2100-01-01 00:00:00' "$D2/.mtime-2100"
	remove_stuck "$NW_U2"
	sleep 0.5
	check "a fresh dot-file of B with an mtime in 2100 stays (only its ctime can make it stale)" test -f "$D2/.mtime-2100"
	nw_as "$NW_U2" rm -f "$D2/.mtime-2100"
	nw_wait_for 10 no_entry "$D2"
	out=$(nw_withdraw "$NW_U1" web 2>&1)
	KBEFORE=$(printf '%s\n' "$KBEFORE" | grep -v 8443)
	settled "names squatted by another user"
}

# ==== B races its own entries: nothing is removed unjudged ==============================================

part_race() {
	local out mark apid hit
	PROBER=$NW_U1
	mark=$(log_mark)
	h_bg "$NW_T/race-a.out" "$NW_U1" hold apending 3 </dev/null
	apid=$H_PID
	out=$(h "$NW_U2" race r 48 10)
	diag "B's race, 48 trials (FIFO, symlink, socket, invalid name; a valid file renamed over each at once): $(printf '%s\n' "$out" | tr '\n' ';')"
	hit=$(log_since "$mark" | grep -Ec "<4>rejected $NW_U2's fragment '(r[0-9]{3})': r[0-9]{3}: it is a (FIFO|symbolic link|socket), not")
	diag "the daemon took the obstacle first in $hit of the 36 non-regular trials; the valid file replaced it first in the others"
	is "$(printf '%s\n' "$out" | grep '^tally')" "tally own-verdict=48" \
		"every valid file B renamed over its own FIFO, symlink, socket or invalid name got a verdict of its own: none removed unjudged"
	wait "$apid" 2>/dev/null
	verdict_has "$(cat "$NW_T/race-a.out")" "fragment apending" "user $NW_U1" "verdict withdrawn"
	point $? "A's submission during the race is answered for itself" "$(cat "$NW_T/race-a.out")"
	h "$NW_U1" attempt create "$HOMES/$NW_U1/mine" >/dev/null
	is "$(h "$NW_U1" attempt rename "$HOMES/$NW_U1/mine" "$D2/r000")" "rename EACCES" \
		"A cannot rename a file of its own into B's directory (nor B into A's: see above)"
	rm -f "$HOMES/$NW_U1/mine"
	settled "races of B's own entries"
}

# ==== provenance: B hands in A's files =========================================================

part_provenance() {
	local bhome=$HOMES/$NW_U2 ahome=$HOMES/$NW_U1 out pid why afp
	PROBER=$NW_U1
	why="it belongs to uid $U1ID, not to uid $U2ID whose spool directory it is in: submit files of your own"
	is "$(h "$NW_U2" attempt mkdir "$D2/.pdir") / $(h "$NW_U2" attempt rename "$D2/.pdir" "$bhome/pdir")" \
		"mkdir OK / rename OK" "B makes a directory in its own spool directory and moves it out into its home (allowed)"
	nw_as "$NW_U2" chmod 0777 "$bhome/pdir"
	diag "the directory carries the spool's default ACL: $(getfacl -cp "$bhome/pdir" 2>/dev/null | grep '^default:user:[a-z]' | tr '\n' ' ')"
	# A writes a fragment there, keeps it open, and watches it
	printf 'dnat tcp 80 to 192.168.1.240\n' >"$NW_T/a-base"
	h_bg "$NW_T/plant.out" "$NW_U1" plant "$bhome/pdir/afile" 10 <"$NW_T/a-base"
	pid=$H_PID
	wait_line 5 "$NW_T/plant.out" '^planted'
	is "$(h "$NW_U2" attempt rename "$bhome/pdir/afile" "$D2/base")" "rename OK" "B renames A's file into its own spool directory as 'base'"
	logged "<4>rejected $NW_U2's fragment 'base': base: $why" \
		"... rejected: the file is A's, not B's, so it is judged as nobody's submission"
	wait "$pid" 2>/dev/null
	out=$(cat "$NW_T/plant.out")
	is "$(printf '%s\n' "$out" | grep -E '^(nlink|content)')" "nlink 0
content 'dnat tcp 80 to 192.168.1.240\\n'" "no verdict was written into A's file (its content is unchanged)"
	is "$(nw_kernel)" "$KBEFORE" "A's forwards are unchanged"
	# a withdrawal of A's (an empty file) handed in by B under A's fragment's name
	h_bg "$NW_T/plant2.out" "$NW_U1" plant "$bhome/pdir/awithdraw" 10 </dev/null
	pid=$H_PID
	wait_line 5 "$NW_T/plant2.out" '^planted'
	h "$NW_U2" attempt rename "$bhome/pdir/awithdraw" "$D2/web" >/dev/null
	logged "<4>rejected $NW_U2's fragment 'web': web: $why" "B hands in A's empty file (a withdrawal) as 'web': rejected"
	wait "$pid" 2>/dev/null
	is "$(grep -E '^content' "$NW_T/plant2.out")" "content ''" "... nothing written into it"
	is "$(nw_kernel)" "$KBEFORE" "A's 'base' and B's 'web' are both still forwarded"
	# a hard link to A's world-writable file (what protected_hardlinks allows), and, made by
	# root, to A's 0644 one (what protected_hardlinks=0 allows)
	printf 'dnat tcp 80 to 192.168.1.240\n' >"$ahome/rw"
	cp "$ahome/rw" "$ahome/ro"
	chown "$NW_U1:" "$ahome/rw" "$ahome/ro"
	chmod 0666 "$ahome/rw"
	chmod 0644 "$ahome/ro"
	afp="$(fp "$ahome/rw") | $(fp "$ahome/ro")"
	is "$(h "$NW_U2" attempt link "$ahome/rw" "$D2/hl-rw")" "link OK" "B hard-links A's world-writable file into its directory"
	logged "<4>rejected $NW_U2's fragment 'hl-rw': hl-rw: $why" "... rejected: not B's file"
	ln "$ahome/ro" "$D2/hl-ro"
	logged "<4>rejected $NW_U2's fragment 'hl-ro': hl-ro: $why" "a link to A's 0644 file (made by root, as if protected_hardlinks=0) is rejected the same way"
	nw_wait_for 10 yields "$(printf '1\n1')" stat -c %h "$ahome/rw" "$ahome/ro"
	is "$(fp "$ahome/rw") | $(fp "$ahome/ro")" "$afp" "A's files are untouched: same size, mtime, links, mode and content"
	rm -rf "$bhome/pdir" "$ahome/rw" "$ahome/ro"
	settled "B hands in A's files"
}

# ==== limits: B's floods, B's big dot-file ======================================================

# a_probes OUTFILE COUNT GAP: A's withdrawals, one every GAP seconds, in the background; each
# line: "MS OUTPUT"
a_probes() {
	local outfile=$1 count=$2 gap=$3
	(
		for i in $(seq "$count"); do
			t0=$(nw_ms)
			o=$(nw_withdraw "$NW_U1" "aprobe$i" --timeout 20 2>&1)
			echo "$(($(nw_ms) - t0)) $o"
			sleep "$gap"
		done
	) >"$outfile" &
	A_PROBES=$!
	NW_PIDS+=("$A_PROBES")
}

# probes_ok OUTFILE COUNT BOUND-MS: each probe answered "withdrawn" within the bound; prints the worst
probes_ok() {
	local worst
	worst=$(awk '{ if ($1 > w) w = $1 } END { print w + 0 }' "$1")
	echo "$worst"
	[ "$(grep -c ": withdrawn for $NW_U1" "$1")" = "$2" ] && [ "$worst" -le "$3" ]
}

part_limits() {
	local mark out judged rate over worst lines t0 drain n ok_probes rc
	PROBER=$NW_U1
	# a fresh daemon: no summary of an earlier part's refusals (they come every 5 s) falls in here
	nw_stop
	nw_start || { not_ok "daemon restarts"; exit 1; }
	# ---- 5,000 files at once, written straight into their names, each descriptor held
	mark=$(log_mark)
	a_probes "$NW_T/aprobes1.out" 4 0.3
	out=$(h "$NW_U2" fill f 5000 30)
	wait "$A_PROBES"
	diag "B's 5000: $(printf '%s\n' "$out" | grep -E '^(dropped|settled|tally)' | tr '\n' ';')"
	worst=$(probes_ok "$NW_T/aprobes1.out" 4 10000)
	point $? "A's four submissions during B's 5,000-file flood are answered (slowest $worst ms; bound 10 s)" "$(cat "$NW_T/aprobes1.out")"
	judged=$(printf '%s\n' "$out" | sed -n 's/^tally.* withdrawn=\([0-9]*\).*/\1/p')
	rate=$(printf '%s\n' "$out" | sed -n 's/^tally.* rate=\([0-9]*\).*/\1/p')
	over=$(printf '%s\n' "$out" | sed -n 's/^tally.* over=\([0-9]*\).*/\1/p')
	printf '%s\n' "$out" | grep -Eqx "tally( over=[0-9]+)?( rate=[0-9]+)?( withdrawn=[0-9]+)?" &&
		[ $((${judged:-0} + ${rate:-0} + ${over:-0})) = 5000 ] && [ "${judged:-0}" -le 300 ]
	point $? "each of B's 5,000 files has a verdict: judged (${judged:-0}, at most the rate allows), refused for the rate (${rate:-0}) or for the limits (${over:-0})" "$out"
	like "$(printf '%s\n' "$out" | grep '^sample-over')" \
		"^sample-over natwarden-verdict 1\|fragment f[0-9]{5}\|user $NW_U2\|verdict rejected\|renewed no\|expires 0\|reason f[0-9]{5}: refused unjudged: $NW_U2 has more than max_spool_entries = 64 entries or max_spool_bytes = 4194304 bytes in the spool; wait for your verdicts$" \
		"... the short verdict of an entry removed past the limits"
	nw_wait_for 15 yields "${over:-0} ${rate:-0}" sums "$mark" "$NW_U2"
	point $? "B's summary lines count exactly the refusals: $(summed "$mark" "$NW_U2" rate) for the rate, $(summed "$mark" "$NW_U2" over) past the limits"
	lines=$(log_since "$mark" | grep -c "$NW_U2")
	[ "$lines" -le $((${judged:-0} + 10)) ]
	point $? "the log has $lines lines about B for its 5,000 files: one per judged file and a few summaries, not 5,000"
	is "$(log_since "$mark" | grep -c "withdrawn $NW_U2's fragment 'f")" "${judged:-0}" "... one line for each file judged"
	is "$(nw_kernel)" "$KBEFORE" "the kernel is unchanged"
	settled "B's 5,000 files"

	# ---- 30,000 empty files, made as fast as python can
	mark=$(log_mark)
	a_probes "$NW_T/aprobes2.out" 6 0.5
	t0=$(nw_ms)
	out=$(h "$NW_U2" mass e 30000)
	diag "B: $(printf '%s\n' "$out" | tr '\n' ';')"
	poll 60 0.25 at_most 64 entries "$D2"
	rc=$?
	drain=$(($(nw_ms) - t0))
	n=$(entries "$D2")
	point $rc "B's 30,000 empty files are brought down to max_spool_entries = 64 in $drain ms after its first (bound 60 s; $n left)"
	wait "$A_PROBES"
	worst=$(probes_ok "$NW_T/aprobes2.out" 6 10000)
	ok_probes=$?
	point $ok_probes "A's six submissions meanwhile are answered (slowest $worst ms; bound 10 s)" "$(cat "$NW_T/aprobes2.out")"
	poll 40 0.2 nw_spool_empty
	point $? "... and then the rest is judged or refused: B's directory is empty ($(($(nw_ms) - t0)) ms after its first file; bound 40 s)"
	# the last refusals are summarized at the next sweep
	poll 15 0.2 yields 30000 accounted "$mark" "$NW_U2" e
	diag "B's 30,000: $(count_log "$mark" "withdrawn $NW_U2's fragment 'e") judged, $(summed "$mark" "$NW_U2" rate) refused for the rate, $(summed "$mark" "$NW_U2" over) past the limits, in $(count_log "$mark" "refused $NW_U2's spool entries unjudged") summary lines"
	is "$(accounted "$mark" "$NW_U2" e)" 30000 "every one of the 30,000 is judged (one line each) or counted in a summary"
	is "$(nw_kernel)" "$KBEFORE" "the kernel is unchanged"
	settled "B's 30,000 files"

	# ---- max_spool_bytes: a 5 MiB dot-file held open, beside B's small in-flight dot-files
	for i in $(seq 48); do printf '%s\0' "$D2/.small$i"; done | as_user_xargs "$NW_U2" touch
	out=$(h "$NW_U2" bigdot .big 5 12)
	diag "B's 5 MiB dot-file: $(printf '%s\n' "$out" | tr '\n' ';')"
	printf '%s\n' "$out" | grep -Eqx 'removed after [0-9.]+ s, size through the descriptor 0, blocks 0'
	point $? "a dot-file of B grown past max_spool_bytes (5 MiB) is truncated and removed by the sweep while B holds it open" "$out"
	n=$(entries "$D2" '.small*')
	[ "$n" = 48 ]
	# (the bug hits the files that come after the big one in the directory's order)
	point $? "... and only it: B's 48 small fresh dot-files stay ($n left)" \
		"$(log_since "$mark" | grep "refused $NW_U2's" | tail -n 1)"
	find "$D2" -mindepth 1 -maxdepth 1 -name '.small*' -print0 | as_user_xargs "$NW_U2" rm -f
	settled "B's big dot-file"
}

# ==== the rate: 700 submissions in about a second =================================================

part_rate() {
	local out took judged rate mark max ms late refused_late
	PROBER=$NW_U1
	# a fresh daemon: B's bucket starts full (120) with B's first submission
	nw_stop
	nw_start || { not_ok "daemon restarts"; exit 1; }
	mark=$(log_mark)
	out=$(h "$NW_U2" rate rt 700 50 60 10 "$NW_CLIENT" --spool "$SPOOL" --runtime "$NW_T/run")
	took=$(printf '%s\n' "$out" | sed -n 's/^took \([0-9.]*\) s$/\1/p')
	judged=$(printf '%s\n' "$out" | sed -n 's/^tally.* withdrawn=\([0-9]*\).*/\1/p')
	rate=$(printf '%s\n' "$out" | sed -n 's/^tally.*rate=\([0-9]*\).*/\1/p')
	# 2 tokens a second come back while it runs: at most 120 + 2 * took + 1 get through
	max=$(awk -v t="${took:-0}" 'BEGIN { printf "%d", 120 + 2 * t + 1 }')
	diag "B's 700 withdrawals (at most 50 pending): $(printf '%s\n' "$out" | tr '\n' ';') so $judged judged, at most $max allowed"
	printf '%s\n' "$out" | grep -Eqx "tally( rate=[0-9]+)? withdrawn=[0-9]+" &&
		[ $((${judged:-0} + ${rate:-0})) = 700 ] && [ "${judged:-0}" -ge 120 ] && [ "${judged:-0}" -le "$max" ]
	point $? "of B's 700 submissions in $took s, $judged are judged (120 at once, and 2 a second more: 120..$max), the other ${rate:-0} refused unjudged" "$out"
	# ten real clients started as the last of the 700 went in: a token comes back every 500 ms
	late=$(printf '%s\n' "$out" | sed -n 's/^late //p' | sed -E 's/in [0-9]+ s$/in N s/')
	refused_late=$(printf '%s\n' "$late" | grep -c '^1 ')
	diag "of ten clients of B right after: $refused_late refused"
	[ "$refused_late" -ge 5 ] && ! printf '%s\n' "$late" | grep -Evxq "0 late[0-9]+: withdrawn for $NW_U2|1 late[0-9]+: rejected\|late[0-9]+: $NW_U2 submits faster than max_submissions_per_minute = 120: refused unjudged; try again in N s"
	point $? "B's next submissions at once are refused ($refused_late of 10), and the client says for how long ('try again in N s')" "$late"
	is "$(log_since "$mark" | grep -c "^<5>withdrawn $NW_U2's fragment 'rt")" "${judged:-0}" "one log line for each judged submission"
	nw_wait_for 12 yields "$((${rate:-0} + refused_late))" summed "$mark" "$NW_U2" rate
	point $? "the refused ones are counted in B's summary lines: $(summed "$mark" "$NW_U2" rate) (want ${rate:-0} + $refused_late), and logged no other way"
	is "$(count_log "$mark" "fragment 'rt")" "${judged:-0}" "... no line names a refused submission"
	like "$(log_since "$mark" | grep "refused $NW_U2's spool entries unjudged" | head -n 1)" \
		"^<4>refused $NW_U2's spool entries unjudged: [0-9]+ over max_submissions_per_minute = 120, 0 past max_spool_entries = 64 or max_spool_bytes = 4194304; 0 stale temporary files removed$" \
		"the summary line names the limit"
	ms=$(nw_ms)
	out=$(nw_withdraw "$NW_U1" a-after-rate 2>&1)
	[[ $out == "a-after-rate: withdrawn for $NW_U1"* ]]
	point $? "A is not limited by B's rate ($(($(nw_ms) - ms)) ms)" "$out"
	settled "B's 700 submissions"
}

# ==== B's directories that the daemon cannot remove ===============================================

part_stuck() {
	local mark t0 lines warn judged sums cpu0 cpu1 left named aside t_mknod most
	PROBER=$NW_U1
	# a fresh daemon: B's bucket is full, so its first 120 directories are judged and logged
	nw_stop
	nw_start || { not_ok "daemon restarts"; exit 1; }
	mark=$(log_mark)
	t0=$(nw_ms)
	mkdir -m 0700 "$HOMES/$NW_U2/stage"
	chown "$NW_U2:" "$HOMES/$NW_U2/stage"
	h "$NW_U2" dirs sd 1100 777 "$HOMES/$NW_U2/stage" >/dev/null
	# each is judged where it is and moved aside, or, past B's limits, left where it is
	poll 12 0.2 at_least 1 count_log "$mark" "^<4>$NW_U2's spool directory holds [0-9]+ more director(y|ies) that natwardend cannot remove"
	point $? "B's 1,100 non-empty 0777 directories: those it cannot remove are reported ($(($(nw_ms) - t0)) ms; bound 12 s)"
	# a sweep is at B's directory (a daemon stuck there summarizes B again at every slice)
	poll 2 0.1 at_least 3 count_log "$mark" "^<4>refused $NW_U2's spool entries unjudged"
	# A's regular file made without a close event: only a sweep takes it (after 2 quiet s)
	h "$NW_U1" attempt mknod "$D1/a-mknod" >/dev/null
	t_mknod=$(nw_ms)
	poll 10 0.1 test ! -e "$D1/a-mknod"
	point $? "meanwhile the sweep still reaches A: A's file made without a close event is taken ($(($(nw_ms) - t_mknod)) ms; bound 10 s; a sweep that restarted B's directory at every slice never got there)"
	cpu0=$(awk '{ print $14 + $15 }' "/proc/$NW_DPID/stat")
	lines=$(log_mark)
	sleep 2
	cpu1=$(awk '{ print $14 + $15 }' "/proc/$NW_DPID/stat")
	sums=$(count_log "$lines" "refused $NW_U2's spool entries unjudged")
	[ "$sums" -le 1 ]
	point $? "B's directories that cannot be removed are not summarized again at every slice ($sums summary lines in 2 s; the daemon used $((cpu1 - cpu0)) ticks of CPU meanwhile)" \
		"$(log_since "$lines" | grep "refused $NW_U2's spool" | tail -n 1)"
	# one listing while nothing moves (a name renamed during a listing may show twice, or never)
	find "$D2" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort >"$NW_T/b-entries"
	for _ in $(seq 10); do
		sleep 0.3
		find "$D2" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort >"$NW_T/b-entries2"
		cmp -s "$NW_T/b-entries" "$NW_T/b-entries2" && break
		mv "$NW_T/b-entries2" "$NW_T/b-entries"
	done
	named=$(grep -c '^sd' "$NW_T/b-entries")
	aside=$(grep -c '^\.stuck\.' "$NW_T/b-entries")
	log_since "$mark" | sed -nE "s/^<4>rejected $NW_U2's fragment '(sd[0-9]+)': sd[0-9]+: it is a directory, not a regular file$/\1/p" |
		sort | uniq -c | sort -rn >"$NW_T/b-judged"
	judged=$(awk '{ s += $1 } END { print s + 0 }' "$NW_T/b-judged")
	most=$(awk 'NR == 1 { print $1 + 0 }' "$NW_T/b-judged")
	diag "B's directories: $judged verdicts logged for $(wc -l <"$NW_T/b-judged") of them, $aside moved aside, $named left under their names"
	is "$((aside + named)) $(entries "$WORK")" "1100 0" "all 1,100 are still in B's own directory, none in work"
	[ "${most:-0}" -le 1 ] && [ $((judged + $(summed "$mark" "$NW_U2" rate))) -le 1100 ]
	point $? "each directory is taken once ($judged verdicts, at most ${most:-0} for one; $(summed "$mark" "$NW_U2" rate) refused for the rate)"
	# what else the log says of them, one by one (the verdicts aside): nothing
	warn=$(log_since "$mark" | grep -F "'sd" | grep -Evc "^<4>rejected $NW_U2's fragment 'sd[0-9]+': ")
	[ "$warn" = 0 ]
	point $? "B's directories refused for the rate are not logged one by one ($warn other lines name one of them)" \
		"$(log_since "$mark" | grep -F "'sd" | grep -Ev "^<4>rejected $NW_U2's fragment 'sd[0-9]+': " | head -n 2)"
	clear_dir "$NW_U2"
	t0=$(nw_ms)
	poll 10 0.1 test ! -e "$D1/a-mknod"
	left=$?
	point $left "once B has removed its directories, the sweep reaches A's file again ($(($(nw_ms) - t0)) ms; bound 10 s)"
	[ "$left" = 0 ] || nw_as "$NW_U1" rm -f "$D1/a-mknod"
	rm -rf "$HOMES/$NW_U2/stage"
	settled "B's undeletable directories"
}

# ==== the parts ====================================================================================

part_start
for part in ${NW_PARTS:-dotfiles access pending links special contents flood overflow restart squat race provenance limits rate stuck}; do
	t_part=$(nw_ms)
	"part_$part"
	diag "part $part: $((($(nw_ms) - t_part) / 100)) ds"
done

diag "run time $((($(nw_ms) - T0) / 1000)) s"
