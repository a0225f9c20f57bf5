#!/bin/bash
# SPDX-License-Identifier: MIT
# Hostile spool entries, dropped by real unprivileged users: links (symbolic and hard) to
# files that are not theirs, FIFOs, sockets, directories, a 1 GiB sparse file, a file that
# keeps growing, a file replaced between events, unreadable files, binary garbage, invalid
# names, non-submitters, outsiders, clients' stale temporary files, 5000 files at once and an
# inotify queue overflow. For every one: the daemon stays up and keeps answering, the kernel
# table does not change, the entry ends with a verdict or is removed (what truly cannot be
# removed must at least be reported in the log) and, where the owner can be told, the verdict
# written into the file says why. Also: submitters cannot list the spool, nor replace, delete
# or read each other's pending files or verdicts.
#
# The daemon runs with a soft RLIMIT_NOFILE of 1024, as under systemd (DefaultLimitNOFILE=
# 1024:524288; natwarden.service sets none), and without the journal (a private empty
# /run/systemd/journal in its own mount namespace), so that thousands of verdicts do not
# land in the host's journal; everything it logs is in $NW_T/daemon.log.

. "$(dirname "$0")/lib.sh"
nw_init
command -v python3 >/dev/null || skip_all "needs python3"
command -v jq >/dev/null || skip_all "needs jq"
nw_setup
T0=$(nw_ms)
# a daemon left stopped by SIGSTOP (a failure in between) would ignore lib's SIGTERM
trap '[ -n "${NW_DPID:-}" ] && kill -CONT "$NW_DPID" 2>/dev/null; nw_cleanup' EXIT

IN=$NW_T/spool/incoming
WORK=$NW_T/spool/work
LOG=$NW_T/daemon.log

# point RC DESCRIPTION [DIAGNOSTIC]: ok when RC is 0
point() {
	if [ "$1" = 0 ]; then ok "$2"; else not_ok "$2"; [ -z "${3:-}" ] || printf '%s\n' "$3" | head -n 20 | sed 's/^/#   /'; fi
}

# The user side of the attacks: a small python3 program run as the user (see nwh.py below).
cat >"$NW_T/nwh.py" <<'PY'
import errno, os, resource, signal, socket, stat, sys, time

MAGIC = b"natwarden-verdict 1\n"
INCOMING, CMD, ARGS = sys.argv[1], sys.argv[2], sys.argv[3:]
SEQ = [0]


def out(*a):
    print(*a, flush=True)


def dirfd():
    return os.open(INCOMING, os.O_PATH | os.O_DIRECTORY)


def create(dfd, data, mode):
    """The client's way: a dot-file, written, made MODE whatever the umask."""
    SEQ[0] += 1
    tmp = ".nwh.%d.%d" % (os.getpid(), SEQ[0])
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode, dir_fd=dfd)
    os.fchmod(fd, mode)
    if data:
        os.write(fd, data)
    return tmp, fd


def outcome(fd):
    """'pending', 'none' (removed without a verdict) or the verdict text."""
    if os.fstat(fd).st_nlink != 0:
        return "pending"
    text = os.pread(fd, 70000, 0)
    return text.decode(errors="replace") if text.startswith(MAGIC) else "none"


def field(res, key):
    for line in res.splitlines()[1:]:
        k, _, v = line.partition(" ")
        if k == key:
            return v
    return None


def wait_all(fds, timeout):
    deadline = time.monotonic() + timeout
    pending = list(range(len(fds)))
    while pending and time.monotonic() < deadline:
        pending = [i for i in pending if os.fstat(fds[i]).st_nlink != 0]
        if pending:
            time.sleep(0.02)
    return pending


def show(res):
    if res in ("pending", "none"):
        out("result " + res)
    else:
        out("result verdict")
        for line in res.splitlines():
            out("  " + line)


def attempt(what, f):
    try:
        f()
        out("%s OK" % what)
    except OSError as e:
        out("%s %s" % (what, errno.errorcode.get(e.errno, str(e.errno))))


def can_hold(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 64
    if soft >= want:
        return True
    if hard != resource.RLIM_INFINITY and hard < want:
        return False
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return True


if CMD == "drop":
    # drop NAME MODE TIMEOUT [SIZE] < content: submit like the client, wait, print the outcome
    name, mode, timeout = ARGS[0], int(ARGS[1], 8), float(ARGS[2])
    dfd = dirfd()
    tmp, fd = create(dfd, sys.stdin.buffer.read(), mode)
    if len(ARGS) > 3:
        os.ftruncate(fd, int(ARGS[3]))
    os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
    wait_all([fd], timeout)
    show(outcome(fd))

elif CMD == "hold":
    # hold NAME TIMEOUT < content: like drop, then keep the descriptor open TIMEOUT more seconds
    name, timeout = ARGS[0], float(ARGS[1])
    dfd = dirfd()
    tmp, fd = create(dfd, sys.stdin.buffer.read(), 0o660)
    os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
    out("dropped")
    wait_all([fd], timeout)
    show(outcome(fd))
    out("held %d %d" % (os.getpid(), fd))
    time.sleep(timeout)

elif CMD == "grow":
    # grow NAME TIMEOUT: a rejectable first line and 60000 bytes of comments, dropped while a
    # child appends 4 KiB at a time (at most 8 MiB, at most TIMEOUT s) until it is answered
    name, timeout = ARGS[0], float(ARGS[1])
    head = b"dnat tcp 7070 to 192.168.1.240\n"
    line = b"# " + b"g" * 61 + b"\n"
    dfd = dirfd()
    tmp, fd = create(dfd, head + line * ((60000 - len(head)) // len(line)), 0o660)
    app = os.open(tmp, os.O_WRONLY | os.O_APPEND, dir_fd=dfd)
    child = os.fork()
    if child == 0:
        end, grown = time.monotonic() + timeout, 0
        while grown < (8 << 20) and time.monotonic() < end and os.fstat(fd).st_nlink:
            grown += os.write(app, line * 64)
        os._exit(0)
    time.sleep(0.01)
    os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
    wait_all([fd], timeout)
    os.kill(child, signal.SIGKILL)
    os.waitpid(child, 0)
    show(outcome(fd))

elif CMD == "replace":
    # replace NAME ROUNDS TIMEOUT: drop A (rejected by policy) and at once rename B (a
    # withdrawal) over it. Each must be answered for its own content, or A removed unanswered.
    name, rounds, timeout = ARGS[0], int(ARGS[1]), float(ARGS[2])
    dfd = dirfd()
    counts = {}
    for _ in range(rounds):
        ta, fa = create(dfd, b"dnat tcp 7070 to 192.168.1.240\n", 0o660)
        tb, fb = create(dfd, b"", 0o660)
        os.rename(ta, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        os.rename(tb, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        wait_all([fa, fb], timeout)
        for label, fd, want, reason in (
                ("A", fa, "rejected", "%s:1: port 7070 is not allowed" % name),
                ("B", fb, "withdrawn", None)):
            res = outcome(fd)
            if res in ("pending", "none"):
                key = "%s-%s" % (label, res)
            elif (field(res, "verdict") == want and field(res, "fragment") == name and
                  (reason is None or (field(res, "reason") or "").startswith(reason))):
                key = label + "-answered-for-itself"
            else:
                key = label + "-WRONG:" + res.replace("\n", "|")
            counts[key] = counts.get(key, 0) + 1
            os.close(fd)
    out(" ".join("%s=%d" % kv for kv in sorted(counts.items())))

elif CMD == "flood":
    # flood PREFIX COUNT MIX TIMEOUT: COUNT entries as fast as possible, kinds cycling through
    # MIX: w withdrawal, r rejected by policy, j NUL bytes, n invalid name, a accepted (the
    # first 4; later ones are withdrawals), u mode 0600 (unreadable: removed unanswered).
    # Holds every descriptor (when the fd limit allows) and checks each answer.
    prefix, count, mix, timeout = ARGS[0], int(ARGS[1]), ARGS[2], float(ARGS[3])
    hold = can_hold(count)
    dfd = dirfd()
    fds, expect, accepted = [], [], []
    t0 = time.monotonic()
    for i in range(count):
        k = mix[i % len(mix)]
        name, mode, data = "%s%05d" % (prefix, i), 0o660, b""
        if k == "a" and len(accepted) < 4:
            port = 8001 + len(accepted)
            data = b"dnat tcp %d to 192.168.1.240\n" % port
            accepted.append(name)
            want = ("accepted", "live dnat tcp %d to 192.168.1.240" % port)
        elif k == "r":
            data = b"dnat tcp 7070 to 192.168.1.240\n"
            want = ("rejected", "reason %s:1: port 7070 is not allowed" % name)
        elif k == "j":
            data = b"\x00\x01\xfe garbage\x00" * 7
            want = ("rejected", "reason %s: NUL byte at offset 0: not a text file" % name)
        elif k == "n":
            name = "%s%05dX" % (prefix.upper(), i)
            want = ("rejected", "reason '%s': invalid fragment name '%s'" % (name, name))
        elif k == "u":
            mode = 0o600
            want = ("none", "")
        else:
            want = ("withdrawn", "fragment %s\n" % name)
        tmp, fd = create(dfd, data, mode)
        os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        if hold:
            fds.append(fd)
            expect.append((name, want))
        else:
            os.close(fd)
    out("dropped %d in %.2f s%s" % (count, time.monotonic() - t0, "" if hold else " (not held)"))
    out("accepted-names " + " ".join(accepted))
    if not hold:
        sys.exit(0)
    pending = wait_all(fds, timeout)
    out("settled in %.2f s" % (time.monotonic() - t0))
    right, wrong, tally = 0, [], {}
    for (name, (verdict, needle)), fd in zip(expect, fds):
        res = outcome(fd)
        word = res if res in ("pending", "none") else field(res, "verdict")
        tally[word] = tally.get(word, 0) + 1
        if word == verdict and needle in res:
            right += 1
        elif len(wrong) < 3:
            wrong.append("%r: want %s %r, got %r" % (name, verdict, needle, res[:200]))
    out("summary total=%d right=%d pending=%d" % (count, right, len(pending)))
    out("tally " + " ".join("%s=%d" % kv for kv in sorted(tally.items())))
    for w in wrong:
        out("wrong " + w)

elif CMD == "dirs":
    # dirs PREFIX COUNT MODE: COUNT non-empty directories, each made as a dot-directory and
    # renamed into place (so the daemon never sees it empty)
    prefix, count, mode = ARGS[0], int(ARGS[1]), int(ARGS[2], 8)
    dfd = dirfd()
    for i in range(count):
        tmp, name = ".%s%d" % (prefix, i), "%s%d" % (prefix, i) if count > 1 else prefix
        os.mkdir(tmp, mode, dir_fd=dfd)
        os.chmod(tmp, mode, dir_fd=dfd)
        os.close(os.open(tmp + "/inside", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=dfd))
        os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
    out("made %d" % count)

elif CMD == "attempt":
    # attempt OP ARGS: one operation, printing "OP OK" or "OP ERRNO-NAME"
    op, a = ARGS[0], ARGS[1:]
    ops = {
        "rename": lambda: os.rename(a[0], a[1], src_dir_fd=dirfd(), dst_dir_fd=dirfd()),
        "unlink": lambda: os.unlink(a[0], dir_fd=dirfd()),
        "open": lambda: os.close(os.open(a[0], os.O_RDONLY)),
        "list": lambda: os.listdir(a[0]),
        "create": lambda: os.close(os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o660)),
        "link": lambda: os.link(a[0], a[1]),
        "symlink": lambda: os.symlink(a[0], a[1]),
        "mkfifo": lambda: os.mkfifo(a[0], 0o660),
        # a regular file whose creation ends without IN_CLOSE_WRITE (opened read-only)
        "squat": lambda: os.close(os.open(a[0], os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o660)),
        "mknod": lambda: os.mknod(a[0], stat.S_IFREG | 0o660),
    }

    def sock():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(a[0])
        s.close()
    ops["socket"] = sock
    attempt(op, ops[op])
else:
    sys.exit("nwh.py: unknown command " + CMD)
PY
chmod 0644 "$NW_T/nwh.py"

# h USER CMD ARGS...: the helper as USER
h() {
	local u=$1
	shift
	nw_as "$u" python3 "$NW_T/nwh.py" "$IN" "$@"
}

# h_bg OUTFILE USER CMD ARGS... (< input): the helper as USER in the background; H_PID is
# its own pid (setpriv execs python3), registered for clean-up
h_bg() {
	local outfile=$1 u=$2
	shift 2
	setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups --reset-env -- \
		python3 "$NW_T/nwh.py" "$IN" "$@" >"$outfile" 2>&1 &
	H_PID=$!
	NW_PIDS+=("$H_PID")
}

# wait_line SECONDS FILE PATTERN: until a line of FILE matches (grep -E)
wait_line() { nw_wait_for "$1" grep -Eq -- "$3" "$2"; }

# logged LINE DESCRIPTION: the daemon logged exactly this line (waits up to 5 s)
logged() {
	if nw_wait_for 5 grep -Fxq -- "$1" "$LOG"; then
		ok "$2"
	else
		not_ok "$2"
		echo "#   want log line: $1"
		grep -F -- "$(printf '%s' "$1" | cut -c1-40)" "$LOG" | tail -n 3 | sed 's/^/#   got: /'
	fi
}

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
	[ -n "${NW_DPID:-}" ] && [ "$(cat "/proc/$NW_DPID/comm" 2>/dev/null)" = natwardend ] ||
		{ echo "# refusing to signal pid ${NW_DPID:-?}: not our natwardend"; return 1; }
	kill -"$1" "$NW_DPID"
}

# settled WHAT: the daemon is up, answers a valid submission at once, the kernel is as
# before the hostile entries and the spool is empty
PROBE=0
settled() {
	local why="" out t0
	nw_alive || why+=" daemon is gone;"
	PROBE=$((PROBE + 1))
	t0=$(nw_ms)
	out=$(nw_withdraw "$NW_U2" "probe$PROBE" --timeout 5 2>&1)
	[[ $out == "probe$PROBE: withdrawn for $NW_U2"* ]] || why+=" no answer to a valid submission ($out);"
	[ "$(nw_kernel)" = "$KBEFORE" ] || why+=" kernel changed: $(nw_kernel | tr '\n' ',');"
	nw_wait_for 5 nw_spool_empty ||
		why+=" spool not empty: $(ls -A "$IN" "$WORK" | tr '\n' ' ');"
	if [ -z "$why" ]; then
		ok "$1: daemon up and answering ($(($(nw_ms) - t0)) ms), kernel unchanged, spool empty"
	else
		not_ok "$1: daemon up and answering, kernel unchanged, spool empty"
		echo "#  $why"
	fi
}

# remove_stuck USER: the user deletes what the daemon moved aside (.stuck.N), as its owner would.
remove_stuck() {
	local d
	for d in $(ls -A "$IN" | grep '^\.stuck\.'); do
		nw_as "$1" rm -rf "$IN/$d"
	done
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

# ---- start, baseline ------------------------------------------------------------------------

nw_start || { not_ok "daemon starts"; exit 1; }
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=unlimited
is "$(cat "/proc/$NW_DPID/comm") $(awk '/^Max open files/ { print $4 }' "/proc/$NW_DPID/limits")" \
	"natwardend $hard" "started with the service's soft limit of 1024 open files, the daemon takes its hard limit"
printf 'dnat tcp 80 to 192.168.1.240\n' | nw_submit "$NW_U1" base >/dev/null
printf 'dnat tcp 8080 to 192.168.2.10\n' | nw_submit "$NW_U2" web >/dev/null
KBEFORE=$(nw_kernel)
is "$KBEFORE" "tcp 80 192.168.1.240:80
tcp 8080 192.168.2.10:8080" "baseline: one fragment of each submitter in the kernel"

# ---- clients' temporary dot-files: the clean-up 1 s after start, then every 60 s ------------

nw_stop
nw_as "$NW_U1" touch -d '-11 min' "$IN/.old.0123456789abcdef" "$IN/..."
nw_as "$NW_U1" touch "$IN/.fresh.0123456789abcdef" "$IN/..fresh"
nw_as "$NW_U1" mkdir "$IN/.old-dir"
nw_as "$NW_U1" touch "$IN/.old-dir/inside"
nw_as "$NW_U1" touch -d '-11 min' "$IN/.old-dir"
nw_start || { not_ok "daemon restarts"; exit 1; }
logged "<6>removed 2 stale temporary files from the spool" \
	"dot-files older than ten minutes are removed by the clean-up after start"
check "... both are gone" test ! -e "$IN/.old.0123456789abcdef" -a ! -e "$IN/..."
check "fresh dot-files are left alone by the clean-up" \
	test -f "$IN/.fresh.0123456789abcdef" -a -f "$IN/..fresh"
nw_as "$NW_U1" touch "$IN/..evil"
nw_withdraw "$NW_U1" after-dots >/dev/null
check "a new dot-name is never taken as a submission (ignored, not judged)" \
	bash -c "test -f '$IN/..evil' && ! grep -q \"'\\.\\.evil'\" '$LOG'"
# an old dot-directory with something inside cannot be removed: it must be reported
test -d "$IN/.old-dir"
rc=$?
grep -q "\.old-dir" "$LOG"
point $(( rc || $? )) "an old non-empty dot-directory that cannot be removed is reported in the log"
nw_as "$NW_U1" rm -rf "$IN/.fresh.0123456789abcdef" "$IN/..fresh" "$IN/..evil" "$IN/.old-dir"
settled "dot-files"

# ---- who may reach the spool at all ------------------------------------------------------------

is "$(h "$NW_OUT" attempt create "$IN/outsider")" "create EACCES" \
	"a user outside the submit group cannot create anything in the spool"
out=$(printf '' | nw_submit "$NW_OUT" outsider 2>&1)
rc=$?
is "$rc $out" "2 natwarden: cannot reach the spool $IN: Permission denied (are you in the submit group?)" \
	"... and the client tells it why"
is "$(h "$NW_U2" attempt list "$NW_T/spool") / $(h "$NW_U2" attempt list "$IN") / $(h "$NW_U2" attempt list "$WORK")" \
	"list EACCES / list EACCES / list EACCES" "a submitter cannot list the spool, incoming or work"

# ---- another submitter's pending file: no replace, no delete, no read ------------------------

dsig STOP
h_bg "$NW_T/victim.out" "$NW_U1" hold victim 20 </dev/null
holder=$H_PID
wait_line 5 "$NW_T/victim.out" '^dropped' && test -f "$IN/victim"
point $? "with the daemon stopped (SIGSTOP), $NW_U1's submission stays pending in incoming"
is "$(h "$NW_U2" attempt open "$IN/victim")" "open EACCES" "the other submitter cannot open the pending file"
h "$NW_U2" attempt create "$IN/.u2-replacement" >/dev/null
is "$(h "$NW_U2" attempt rename .u2-replacement victim)" "rename EPERM" \
	"the other submitter cannot rename its own file over it (sticky spool)"
is "$(h "$NW_U2" attempt unlink victim)" "unlink EPERM" "the other submitter cannot delete it"
if [ "$(cat /proc/sys/fs/protected_hardlinks)" = 1 ]; then
	is "$(h "$NW_U2" attempt link "$IN/victim" "$IN/.u2-link")" "link EPERM" \
		"the other submitter cannot hard-link it (fs.protected_hardlinks=1)"
fi
h "$NW_U2" attempt unlink .u2-replacement >/dev/null
dsig CONT
wait_line 10 "$NW_T/victim.out" '^held '
out=$(cat "$NW_T/victim.out")
verdict_has "$out" "fragment victim" "user $NW_U1" "verdict withdrawn"
point $? "after SIGCONT the owner reads its own verdict from its own file" "$out"
read -r _ hpid hfd < <(grep '^held ' "$NW_T/victim.out")
is "$(h "$NW_U2" attempt open "/proc/${hpid:-0}/fd/${hfd:-0}")" "open EACCES" \
	"the other submitter cannot read that verdict through the owner's descriptor"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
settled "pending files of another user"

# ---- links ------------------------------------------------------------------------------------

# $NW_U2's own files: a private one and a world-writable one
mkdir "$NW_T/u2home"
echo "u2 private" >"$NW_T/u2home/private"
echo "u2 shared" >"$NW_T/u2home/shared"
chown -R "$NW_U2:$NW_U2" "$NW_T/u2home"
chmod 0600 "$NW_T/u2home/private"
chmod 0666 "$NW_T/u2home/shared"
fp() { stat -c '%s %Y %h %a' "$@"; sha256sum <"$1"; }
shadow_fp=$(fp /etc/shadow)
private_fp=$(fp "$NW_T/u2home/private")
shared_fp=$(fp "$NW_T/u2home/shared")

is "$(h "$NW_U1" attempt symlink /etc/shadow "$IN/lnk-shadow")" "symlink OK" "$NW_U1 makes a symlink to /etc/shadow in the spool"
logged "<4>rejected $NW_U1's fragment 'lnk-shadow': lnk-shadow: it is a symbolic link, not a regular file" \
	"the symlink is rejected as a symlink (logged: a symlink cannot carry a verdict)"
h "$NW_U1" attempt symlink "$NW_T/u2home/private" "$IN/lnk-other" >/dev/null
logged "<4>rejected $NW_U1's fragment 'lnk-other': lnk-other: it is a symbolic link, not a regular file" \
	"a symlink to another user's file is rejected the same way"
if [ "$(cat /proc/sys/fs/protected_hardlinks)" = 1 ]; then
	is "$(h "$NW_U1" attempt link "$NW_T/u2home/private" "$IN/hl-private")" "link EPERM" \
		"$NW_U1 cannot hard-link another user's private file (fs.protected_hardlinks=1)"
else
	ok "# SKIP fs.protected_hardlinks is off here"
fi
# what an attacker can do even with protected_hardlinks: link a file it may read and write
is "$(h "$NW_U1" attempt link "$NW_T/u2home/shared" "$IN/hl-shared")" "link OK" \
	"$NW_U1 hard-links $NW_U2's world-writable file into the spool (allowed by the kernel)"
logged "<4>rejected $NW_U2's fragment 'hl-shared': hl-shared: it has 2 hard links: submit a file of your own" \
	"... rejected for its 2 links, never judged as $NW_U2's submission"
# what protected_hardlinks=0 would allow: simulated by root
ln "$NW_T/u2home/private" "$IN/hl-root"
logged "<4>rejected $NW_U2's fragment 'hl-root': hl-root: it has 2 hard links: submit a file of your own" \
	"a hard link to another user's private file (made by root, as if protected_hardlinks=0) is rejected"
is "$(fp /etc/shadow) | $(fp "$NW_T/u2home/private") | $(fp "$NW_T/u2home/shared")" \
	"$shadow_fp | $private_fp | $shared_fp" \
	"/etc/shadow and $NW_U2's files are untouched: same size, mtime, links, mode and content"
# The same link, but its other name gone before the daemon looks: one link, owned by $NW_U2,
# content written by $NW_U1. It must not be judged as $NW_U2's submission.
printf 'dnat tcp 8081 to 192.168.2.66\n' >"$NW_T/u2home/planted"
chown "$NW_U2:$(id -g "$NW_U2")" "$NW_T/u2home/planted"
chmod 0666 "$NW_T/u2home/planted"
dsig STOP
h "$NW_U1" attempt link "$NW_T/u2home/planted" "$IN/hl-planted" >/dev/null
rm -f "$NW_T/u2home/planted"
dsig CONT
logged "<4>rejected $NW_U2's fragment 'hl-planted': hl-planted: it was not created in the spool (its group is $(id -g "$NW_U2")): submit with natwarden submit" \
	"a linked-in file whose other name is gone (one link, another user's) is rejected: not created in the spool"
settled "symlinks and hard links"

# ---- FIFO, socket --------------------------------------------------------------------------------

is "$(h "$NW_U1" attempt mkfifo "$IN/pipe")" "mkfifo OK" "$NW_U1 makes a FIFO in the spool"
t0=$(nw_ms)
out=$(nw_withdraw "$NW_U2" after-fifo --timeout 5 2>&1)
dt=$(($(nw_ms) - t0))
[[ $out == "after-fifo: withdrawn for $NW_U2"* ]]
point $? "a valid submission right after the FIFO is judged ($dt ms; bound 5 s): the FIFO blocks nothing" "$out"
logged "<4>rejected $NW_U1's fragment 'pipe': pipe: it is a FIFO, not a regular file" "the FIFO is rejected as a FIFO"
is "$(h "$NW_U1" attempt socket "$IN/sock")" "socket OK" "$NW_U1 binds a UNIX socket in the spool"
logged "<4>rejected $NW_U1's fragment 'sock': sock: it is a socket, not a regular file" "the socket is rejected as a socket"
settled "FIFO and socket"

# ---- directories ----------------------------------------------------------------------------------

nw_as "$NW_U1" mkdir "$IN/edir"
logged "<4>rejected $NW_U1's fragment 'edir': edir: it is a directory, not a regular file" \
	"an empty directory is rejected as a directory"
nw_wait_for 5 test ! -e "$IN/edir"
point $? "... and removed"
h "$NW_U1" dirs fdir 1 755 >/dev/null
logged "<4>rejected $NW_U1's fragment 'fdir': fdir: it is a directory, not a regular file" \
	"a non-empty directory (0755) is rejected as a directory"
nw_wait_for 5 test ! -e "$IN/fdir"
[ -z "$(ls -A "$WORK")" ] && ls -A "$IN" | grep -q '^\.stuck\.'
point $? "... it cannot be removed by the daemon: it is moved aside (.stuck.N in incoming), its name is free, nothing in work"
grep -q "cannot remove spool entry 'fdir' of uid $(id -u "$NW_U1")" "$LOG"
point $? "... and the log says that it is left behind"
h "$NW_U1" dirs gdir 1 777 >/dev/null
logged "<4>rejected $NW_U1's fragment 'gdir': gdir: it is a directory, not a regular file" \
	"a non-empty world-writable directory (0777) is rejected as a directory"
nw_wait_for 5 test ! -e "$IN/gdir"
test -z "$(ls -A "$WORK")"
point $? "... and it is not left inside the daemon's private work directory"
remove_stuck "$NW_U1" # their owner clears what the daemon moved aside
settled "directories"

# ---- sizes: a 1 GiB sparse file, a file that keeps growing -----------------------------------------

t0=$(nw_ms)
nw_as "$NW_U1" truncate -s 1G "$IN/sparse"
logged "<4>rejected $NW_U1's fragment 'sparse': sparse: it is 1073741824 bytes, the limit is 65536" \
	"a 1 GiB sparse file (truncate -s 1G, 0644: no verdict possible) is rejected for its size, in the log ($(($(nw_ms) - t0)) ms)"
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

# ---- replaced between events ----------------------------------------------------------------------

out=$(h "$NW_U1" replace swapped 20 5)
diag "replace, 20 rounds: $out"
bad=$(printf '%s\n' "$out" | tr ' ' '\n' | grep -Ev '^(A-answered-for-itself|A-none|B-answered-for-itself)=[0-9]+$')
[ -z "$bad" ] && printf '%s\n' "$out" | tr ' ' '\n' | grep -qx 'B-answered-for-itself=20'
point $? "a file replaced by a rename at once: each version answered for its own content, or the replaced one removed unanswered" "$out"
settled "replaced files"

# ---- unreadable, binary, invalid names, not a submitter --------------------------------------------

out=$(printf 'dnat tcp 8002 to 192.168.1.240\n' | h "$NW_U1" drop private 600 10)
is "$out" "result none" "a 0600 file (unreadable by the daemon's group) is removed without a verdict"
logged "<4>rejected $NW_U1's fragment 'private': private: the daemon cannot read it (Permission denied): it must be readable by its group" \
	"... and the log says why"
out=$(printf 'dnat tcp 8003 to 192.168.1.240\n\0\0\0binary\0' | h "$NW_U1" drop nul 660 10)
verdict_has "$out" "fragment nul" "user $NW_U1" "verdict rejected" "reason nul: NUL byte at offset 31: not a text file"
point $? "NUL bytes: rejected, the verdict says where" "$out"
# every byte value but NUL, 12 times over: a deterministic 3 KiB of binary, first line fixed
bytes=$(for i in $(seq 1 255); do printf "\\$(printf %03o "$i")"; done)
out=$( { printf '\xff\xfe garbage\n'; for _ in $(seq 12); do printf '%s' "$bytes"; done; } |
	h "$NW_U1" drop garbage 660 10)
verdict_has "$out" "fragment garbage" "verdict rejected" "reason garbage:1: non-ASCII byte 0xff at column 1"
point $? "binary garbage: rejected, the verdict says where" "$out"

invalid_name() { # invalid_name NAME SHOWN DESCRIPTION
	local out
	out=$(printf '' | h "$NW_U1" drop "$1" 660 10)
	verdict_has "$out" "fragment $2" "user $NW_U1" "verdict rejected" \
		"reason $2: invalid fragment name $2: use 1-64 of a-z 0-9 . _ -, starting with a letter or digit"
	point $? "$3" "$out"
}
invalid_name Upper "'Upper'" "an upper-case name is rejected, the verdict says why"
a40=$(printf 'a%.0s' $(seq 40))
invalid_name "$(printf 'a%.0s' $(seq 65))" "'$a40'..." "a 65-character name is rejected (shown cut), the verdict says why"
invalid_name "$(printf 'Z%.0s' $(seq 255))" "'$(printf 'Z%.0s' $(seq 40))'..." "a 255-character name is rejected"
invalid_name $'bad\nname' "'bad\\x0aname'" "a name with a newline is rejected, shown escaped"
invalid_name -dash "'-dash'" "a name starting with '-' is rejected"
check "no raw newline from a name reached the log" bash -c "! grep -q '^name' '$LOG'"
grep -F "<4>rejected $NW_U1's fragment " "$LOG" | grep -Fq "'bad\\x0aname': invalid fragment name 'bad\\x0aname': use 1-64"
point $? "the log line shows the newline escaped"

out=$(printf 'dnat tcp 80 to 192.168.1.240\n' | h "$NW_U3" drop u3frag 660 10)
verdict_has "$out" "fragment u3frag" "verdict rejected" \
	"reason u3frag: user '$NW_U3' is not a submitter: policy.ini has no [submitter $NW_U3]"
point $? "a file of $NW_U3 (submit group, no [submitter]): the verdict says it is not a submitter" "$out"
out=$(printf '' | h "$NW_U1" drop web 660 10)
verdict_has "$out" "fragment web" "user $NW_U1" "verdict withdrawn"
point $? "$NW_U1 withdrawing a name that $NW_U2 uses withdraws only its own (nothing)" "$out"
settled "unreadable, binary, invalid names, not a submitter"

# ---- regular files that never signal the end of their writing: squatting a name ---------------------

is "$(h "$NW_U2" attempt squat "$IN/squat1") $(h "$NW_U2" attempt mknod "$IN/squat2")" "squat OK mknod OK" \
	"$NW_U2 creates two regular files without writing (open O_RDONLY|O_CREAT; mknod)"
nw_wait_for 10 test ! -e "$IN/squat1" -a ! -e "$IN/squat2"
point $? "... both are taken and judged by the periodic sweep (within 10 s)"
out=$(printf '' | nw_submit "$NW_U1" squat1 --timeout 2 2>&1)
[[ $out == "squat1: withdrawn for $NW_U1"* ]]
point $? "... and $NW_U1 can still submit that name"
nw_as "$NW_U2" rm -f "$IN/squat1" "$IN/squat2"
settled "files created without writing"

# ---- 5000 files at once ---------------------------------------------------------------------------

(
	sleep 0.5
	t0=$(nw_ms)
	out=$(nw_withdraw "$NW_U2" midflood --timeout 20 2>&1)
	echo "$(($(nw_ms) - t0)) $out"
) >"$NW_T/midflood.out" &
probe_pid=$!
NW_PIDS+=("$probe_pid")
out=$(timeout 90 setpriv --reuid="$NW_U1" --regid="$(id -g "$NW_U1")" --init-groups --reset-env -- \
	python3 "$NW_T/nwh.py" "$IN" flood f 5000 wrjnawu 30)
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

# ---- an inotify queue overflow ----------------------------------------------------------------------

maxq=$(cat /proc/sys/fs/inotify/max_queued_events)
if [ "$maxq" -gt 200000 ]; then
	ok "# SKIP fs.inotify.max_queued_events is $maxq: too many files for this test"
else
	n=$((maxq + 100))
	dsig STOP
	h_bg "$NW_T/overflow.out" "$NW_U1" flood o "$n" w 120
	flooder=$H_PID
	wait_line 120 "$NW_T/overflow.out" '^dropped'
	point $? "with the daemon stopped (SIGSTOP), $NW_U1 drops $n files (max_queued_events $maxq + 100)" "$(cat "$NW_T/overflow.out")"
	dsig CONT
	logged "<4>inotify queue overflow: rescanning the spool" "the daemon notices the overflow and rescans"
	for _ in $(seq 1200); do kill -0 "$flooder" 2>/dev/null || break; sleep 0.1; done
	kill "$flooder" 2>/dev/null
	wait "$flooder" 2>/dev/null
	diag "$(grep -E '^(dropped|settled|tally|wrong)' "$NW_T/overflow.out" | tr '\n' ';')"
	nw_wait_for 10 nw_spool_empty
	point $? "every one of the $n entries is taken and removed"
	is "$(grep -Ec "fragment 'o[0-9]+'" "$LOG")" "$n" "each is judged exactly once (one log line each)"
	if grep -q 'not held' "$NW_T/overflow.out"; then
		ok "# SKIP the fd limit does not let one process hold $n files"
	else
		grep -qx "summary total=$n right=$n pending=0" "$NW_T/overflow.out"
		point $? "each of them is answered for itself (withdrawn)"
		grep "Too many open files" "$LOG" | head -n 2 | sed 's/^/#   /'
	fi
	settled "inotify overflow"
fi

# ---- many entries the daemon cannot remove, and a restart ---------------------------------------------

h "$NW_U1" dirs stuck 1025 777 >/dev/null
nw_wait_for 30 bash -c "! ls -A '$IN' | grep -q '^stuck'"
diag "$(ls "$WORK" | wc -l) of $NW_U1's 1025 non-empty 0777 directories ended up in work, $(ls -A "$IN" | grep -c '^\.stuck\.') moved aside in incoming"
nw_stop
before=$(wc -l <"$LOG")
before_ready=$(grep -c 'READY=1' "$NW_T/notify.log")
NOTIFY_SOCKET=$NW_NOTIFY ip netns exec "$NW_NS" "$NW_DAEMON" --config "$NW_T/policy.ini" >>"$LOG" 2>&1 &
NW_DPID=$!
NW_PIDS+=("$NW_DPID")
ready=1
for _ in $(seq 100); do
	[ "$(grep -c 'READY=1' "$NW_T/notify.log")" -gt "$before_ready" ] && { ready=0; break; }
	kill -0 "$NW_DPID" 2>/dev/null || break
	sleep 0.05
done
point $ready "with 1025 such directories left behind, the daemon restarts within 5 s"
if [ "$ready" != 0 ]; then
	diag "not ready after 5 s; it wrote $(($(wc -l <"$LOG") - before)) log lines meanwhile; killing it (SIGTERM is blocked before the event loop)"
	dsig KILL
	wait "$NW_DPID" 2>/dev/null
	NW_DPID=
else
	nw_stop
fi
remove_stuck "$NW_U1" # their owner removes what the daemon could not
rm -rf "${WORK:?}"/*
nw_start
point $? "after the administrator removed them, the daemon starts"
settled "restart"

diag "run time $((($(nw_ms) - T0) / 1000)) s"
