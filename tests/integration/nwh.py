# SPDX-License-Identifier: MIT
"""The user side of natwarden's spool attacks (integration/spool-hostile.sh).

Run as an unprivileged user: python3 nwh.py DIR COMMAND ARGS..., where DIR is that user's own
spool directory (SPOOL/incoming/UID). Every command prints what it saw, one fact a line, for
the shell test to compare exactly. A file submitted here is kept open, like `natwarden submit`
keeps it, so the verdict the daemon writes into it can be read after its removal (nwtest.Spool
and nwtest.outcome: the client's way).

Outcomes of a submitted file: "pending" (still in the spool), "none" (removed without a
verdict) or the verdict text (common/verdict.h).
"""

import errno
import os
import resource
import signal
import socket
import stat
import subprocess
import sys
import time

import nwtest

# the reasons of the two unjudged refusals (daemon/intake.c)
RATE_REASON = "submits faster than max_submissions_per_minute"
OVER_REASON = "refused unjudged: "


def out(*a):
    print(*a, flush=True)


def outcome(fd):
    """'pending', 'none' (removed without a verdict) or the verdict text."""
    status, data = nwtest.outcome(fd)
    if status == "pending":
        return "pending"
    return data[:70000].decode(errors="replace") if status == "verdict" else "none"


def field(res, key):
    """The verdict's first KEY line ("verdict", "fragment", "reason"), None for none."""
    v = nwtest.parse_verdict(res)
    if v is None:
        return None
    if key == "reason":
        return v["reasons"][0] if v["reasons"] else None
    return v[key] or None


def kind(res):
    """One word for an outcome: pending, none, rate, over, or the verdict."""
    if res in ("pending", "none"):
        return res
    reason = field(res, "reason") or ""
    if RATE_REASON in reason:
        return "rate"
    if OVER_REASON in reason:
        return "over"
    return field(res, "verdict") or "unreadable"


def wait_all(fds, timeout):
    return nwtest.wait_answers(fds, timeout, poll=0.02)


def show(res):
    if res in ("pending", "none"):
        out("result " + res)
    else:
        out("result verdict")
        for line in res.splitlines():
            out("  " + line)


def tally_line(words):
    counts = {}
    for w in words:
        counts[w] = counts.get(w, 0) + 1
    return " ".join("%s=%d" % kv for kv in sorted(counts.items()))


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


def cmd_drop(d, args):
    """drop NAME MODE TIMEOUT [SIZE] < content: submit like the client, wait, print the outcome"""
    name, mode, timeout = args[0], int(args[1], 8), float(args[2])
    sp = nwtest.Spool(d)
    tmp, fd = sp.create(sys.stdin.buffer.read(), mode, tag="nwh")
    if len(args) > 3:
        os.ftruncate(fd, int(args[3]))
    sp.rename(tmp, name)
    wait_all([fd], timeout)
    show(outcome(fd))


def cmd_hold(d, args):
    """hold NAME TIMEOUT < content: like drop, then keep the descriptor open TIMEOUT more s"""
    name, timeout = args[0], float(args[1])
    fd = nwtest.Spool(d).submit(name, sys.stdin.buffer.read(), tag="nwh")
    out("dropped")
    wait_all([fd], timeout)
    show(outcome(fd))
    out("held %d %d" % (os.getpid(), fd))
    time.sleep(timeout)


def cmd_grow(d, args):
    """grow NAME TIMEOUT: a rejectable first line and 60000 bytes of comments, dropped while a
    child appends 4 KiB at a time (at most 8 MiB, at most TIMEOUT s) until it is answered"""
    name, timeout = args[0], float(args[1])
    head = b"dnat tcp 7070 to 192.168.1.240\n"
    line = b"# " + b"g" * 61 + b"\n"
    sp = nwtest.Spool(d)
    tmp, fd = sp.create(head + line * ((60000 - len(head)) // len(line)), tag="nwh")
    app = os.open(tmp, os.O_WRONLY | os.O_APPEND, dir_fd=sp.dfd)
    child = os.fork()
    if child == 0:
        end, grown = time.monotonic() + timeout, 0
        while grown < (8 << 20) and time.monotonic() < end and os.fstat(fd).st_nlink:
            grown += os.write(app, line * 64)
        os._exit(0)
    time.sleep(0.01)
    sp.rename(tmp, name)
    wait_all([fd], timeout)
    os.kill(child, signal.SIGKILL)
    os.waitpid(child, 0)
    show(outcome(fd))


def cmd_replace(d, args):
    """replace NAME ROUNDS TIMEOUT: drop A (rejected by policy) and at once rename B (a
    withdrawal) over it. Each must be answered for its own content, or A removed unanswered
    (replaced by its own user's rename before the daemon took it)."""
    name, rounds, timeout = args[0], int(args[1]), float(args[2])
    sp = nwtest.Spool(d)
    counts = {}
    for _ in range(rounds):
        ta, fa = sp.create(b"dnat tcp 7070 to 192.168.1.240\n", tag="nwh")
        tb, fb = sp.create(b"", tag="nwh")
        sp.rename(ta, name)
        sp.rename(tb, name)
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


def cmd_flood(d, args):
    """flood PREFIX COUNT MIX TIMEOUT: COUNT entries as fast as possible, kinds cycling through
    MIX: w withdrawal, r rejected by policy, j NUL bytes, n invalid name, a accepted (the first
    4; later ones are withdrawals), u mode 0600 (unreadable: removed unanswered). Holds every
    descriptor (when the fd limit allows) and checks each answer."""
    prefix, count, mix, timeout = args[0], int(args[1]), args[2], float(args[3])
    hold = can_hold(count)
    sp = nwtest.Spool(d)
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
        fd = sp.submit(name, data, mode, tag="nwh")
        if hold:
            fds.append(fd)
            expect.append((name, want))
        else:
            os.close(fd)
    out("dropped %d in %.2f s%s" % (count, time.monotonic() - t0, "" if hold else " (not held)"))
    out("accepted-names " + " ".join(accepted))
    if not hold:
        return
    pending = wait_all(fds, timeout)
    out("settled in %.2f s" % (time.monotonic() - t0))
    right, wrong, words = 0, [], []
    for (name, (verdict, needle)), fd in zip(expect, fds):
        res = outcome(fd)
        word = res if res in ("pending", "none") else field(res, "verdict")
        words.append(word)
        if word == verdict and needle in res:
            right += 1
        elif len(wrong) < 3:
            wrong.append("%r: want %s %r, got %r" % (name, verdict, needle, res[:200]))
    out("summary total=%d right=%d pending=%d" % (count, right, len(pending)))
    out("tally " + tally_line(words))
    for w in wrong:
        out("wrong " + w)


def cmd_dirs(d, args):
    """dirs PREFIX COUNT MODE [STAGE]: COUNT non-empty directories, each made as a dot-directory
    (in STAGE, a directory of this user's on the same file system, when given: a user past its
    spool limits sees an empty one removed at once) and renamed into place, so the daemon never
    sees it empty"""
    prefix, count, mode = args[0], int(args[1]), int(args[2], 8)
    dfd = nwtest.Spool(d).dfd
    sfd = nwtest.Spool(args[3]).dfd if len(args) > 3 else dfd
    for i in range(count):
        name = "%s%d" % (prefix, i) if count > 1 else prefix
        tmp = "." + name
        os.mkdir(tmp, mode, dir_fd=sfd)
        os.chmod(tmp, mode, dir_fd=sfd)
        os.close(os.open(tmp + "/inside", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=sfd))
        os.rename(tmp, name, src_dir_fd=sfd, dst_dir_fd=dfd)
    out("made %d" % count)


def cmd_fill(d, args):
    """fill PREFIX COUNT TIMEOUT: COUNT withdrawals written straight into their names (no
    dot-file), as fast as possible, every descriptor held; then one word per file: withdrawn
    (judged), rate (refused unjudged: rate), over (refused unjudged: limits), none, pending"""
    prefix, count, timeout = args[0], int(args[1]), float(args[2])
    if not can_hold(count):
        sys.exit("nwh.py: cannot hold %d descriptors" % count)
    sp = nwtest.Spool(d)
    fds = []
    t0 = time.monotonic()
    for i in range(count):
        name, fd = sp.create(b"", name="%s%05d" % (prefix, i))
        # a second descriptor, written through and closed: the close event a writer makes
        # (unless the daemon's sweep has taken the file already)
        try:
            os.close(os.open(name, os.O_WRONLY, dir_fd=sp.dfd))
        except FileNotFoundError:
            pass
        fds.append(fd)
    out("dropped %d in %.2f s" % (count, time.monotonic() - t0))
    pending = wait_all(fds, timeout)
    out("settled %d in %.2f s" % (count - len(pending), time.monotonic() - t0))
    words = [kind(outcome(fd)) for fd in fds]
    out("tally " + tally_line(words))
    for kind_wanted in ("rate", "over"):
        for w, fd in zip(words, fds):
            if w == kind_wanted:
                out("sample-%s %s" % (w, outcome(fd).rstrip("\n").replace("\n", "|")))
                break


def cmd_mass(d, args):
    """mass PREFIX COUNT: COUNT empty files (0660), each closed at once, as fast as possible"""
    prefix, count = args[0], int(args[1])
    dfd = nwtest.Spool(d).dfd
    t0 = time.monotonic()
    made = 0
    for i in range(count):
        try:
            os.close(os.open("%s%06d" % (prefix, i), os.O_WRONLY | os.O_CREAT, 0o660, dir_fd=dfd))
            made += 1
        except OSError as e:
            out("error %s after %d" % (errno.errorcode.get(e.errno, str(e.errno)), made))
            break
    out("made %d in %.2f s" % (made, time.monotonic() - t0))


def cmd_rate(d, args):
    """rate PREFIX COUNT WINDOW TIMEOUT [LATE CLIENT ARGS...]: COUNT withdrawals submitted like
    the client, at most WINDOW of them pending at once; one word per file (see fill), and how
    long it took from the first drop to the last answer. Then LATE withdrawals at once (late1,
    late2, ...) through the real client (CLIENT ARGS... withdraw NAME), in parallel: their
    output, one line each ("late RC OUTPUT", its lines joined by '|')"""
    prefix, count, window, timeout = args[0], int(args[1]), int(args[2]), float(args[3])
    late, client = (int(args[4]), args[5:]) if len(args) > 4 else (0, [])
    sp = nwtest.Spool(d)
    pending, words, procs = {}, [], []
    t0 = time.monotonic()
    deadline = t0 + timeout
    i = 0
    while (i < count or pending) and time.monotonic() < deadline:
        while i < count and len(pending) < window:
            pending[sp.submit("%s%04d" % (prefix, i), b"", tag="nwh")] = i
            i += 1
        if i == count and late and not procs:
            # the last one is in: the bucket is empty now, the clients come right after
            procs = [subprocess.Popen(client + ["withdraw", "--timeout", "5", "late%d" % k],
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                     for k in range(1, late + 1)]
        for fd in [fd for fd in pending if os.fstat(fd).st_nlink == 0]:
            words.append(kind(outcome(fd)))
            os.close(fd)
            del pending[fd]
        time.sleep(0.002)
    out("took %.3f s" % (time.monotonic() - t0))
    words += ["pending"] * len(pending) + ["unsent"] * (count - i)
    out("tally " + tally_line(words))
    for p in procs:
        text = p.communicate()[0].decode(errors="replace").rstrip("\n")
        out("late %d %s" % (p.returncode, text.replace("\n", "|")))


def cmd_openhold(d, args):
    """open-hold NAME MTIME TIMEOUT < content: NAME written directly and never closed, its
    mtime set to MTIME (seconds since the epoch); how long until the daemon takes it"""
    name, mtime, timeout = args[0], int(args[1]), float(args[2])
    _, fd = nwtest.Spool(d).create(sys.stdin.buffer.read(), name=name)
    os.utime(fd, (mtime, mtime))
    t0 = time.monotonic()
    out("mtime %d" % os.fstat(fd).st_mtime)
    wait_all([fd], timeout)
    res = outcome(fd)
    if res != "pending":
        out("taken after %.1f s" % (time.monotonic() - t0))
    show(res)


def cmd_bigdot(d, args):
    """bigdot NAME MIB TIMEOUT: a dot-file of MIB MiB, kept open; until it is removed: its
    size seen through the descriptor then"""
    name, mib, timeout = args[0], int(args[1]), float(args[2])
    _, fd = nwtest.Spool(d).create(b"", name=name)
    for _ in range(mib):
        os.write(fd, b"b" * (1 << 20))
    t0 = time.monotonic()
    out("wrote %d bytes" % os.fstat(fd).st_size)
    wait_all([fd], timeout)
    st = os.fstat(fd)
    if st.st_nlink:
        out("still there after %.0f s, %d bytes" % (timeout, st.st_size))
    else:
        out("removed after %.1f s, size through the descriptor %d, blocks %d" % (
            time.monotonic() - t0, st.st_size, st.st_blocks))


def cmd_plant(d, args):
    """plant PATH TIMEOUT < content: a file of this user at PATH (anywhere), kept open; once it
    is removed (or after TIMEOUT s): its link count and its content, read through the
    descriptor"""
    path, timeout = args[0], float(args[1])
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
    os.write(fd, sys.stdin.buffer.read())
    out("planted")
    wait_all([fd], timeout)
    out("nlink %d" % os.fstat(fd).st_nlink)
    out("content %r" % nwtest.read_all(fd, 70000).decode(errors="replace"))


OBSTACLES = ("fifo", "symlink", "socket", "badname")


DIR = [""]


def make_obstacle(sp, what, name):
    if what == "fifo":
        os.mkfifo(name, 0o660, dir_fd=sp.dfd)
    elif what == "symlink":
        os.symlink("/etc/passwd", name, dir_fd=sp.dfd)
    elif what == "socket":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(os.path.join(DIR[0], name))
        s.close()
    else:
        os.close(sp.create(b"\x00garbage\n", name=name)[1])


def cmd_race(d, args):
    """race PREFIX TRIALS TIMEOUT: per trial, an entry the daemon rejects for what it is (a FIFO,
    a symlink, a socket, or a file with an invalid name; cycling) and at once, after 0-3 ms, a
    valid file of the same user renamed over that very name. Each valid file must get a
    verdict of its own (for its name and content): never removed unanswered, never pending."""
    prefix, trials, timeout = args[0], int(args[1]), float(args[2])
    DIR[0] = d
    sp = nwtest.Spool(d)
    fds, names = [], []
    for i in range(trials):
        what = OBSTACLES[i % len(OBSTACLES)]
        name = ("%s%03d" % (prefix, i)).upper() if what == "badname" else "%s%03d" % (prefix, i)
        tmp, fd = sp.create(b"", tag="nwh")
        make_obstacle(sp, what, name)
        time.sleep((i % 4) * 0.001)
        sp.rename(tmp, name)
        fds.append(fd)
        names.append((name, what))
    wait_all(fds, timeout)
    words, wrong = [], []
    for (name, what), fd in zip(names, fds):
        res = outcome(fd)
        if res in ("pending", "none"):
            w = res
        elif what == "badname":
            own = (field(res, "verdict") == "rejected" and field(res, "fragment") == "'%s'" % name
                   and "invalid fragment name" in (field(res, "reason") or ""))
            w = "own-verdict" if own else "WRONG"
        else:
            # judged, or refused unjudged for the rate: either way its own answer
            w = "own-verdict" if (field(res, "fragment") == name and (
                field(res, "verdict") == "withdrawn" or
                "submits faster than max_submissions_per_minute" in (field(res, "reason") or ""))
            ) else "WRONG"
        words.append(w)
        if w != "own-verdict" and len(wrong) < 3:
            wrong.append("%s (%s): %s" % (name, what, res.replace("\n", "|")[:300]))
    out("tally " + tally_line(words))
    for w in wrong:
        out("wrong " + w)


def cmd_attempt(d, args):
    """attempt OP ARGS: one operation on absolute paths, printing "OP OK" or "OP ERRNO-NAME" """
    op, a = args[0], args[1:]

    def sock():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(a[0])
        s.close()

    ops = {
        "rename": lambda: os.rename(a[0], a[1]),
        "unlink": lambda: os.unlink(a[0]),
        "open": lambda: os.close(os.open(a[0], os.O_RDONLY)),
        "list": lambda: os.listdir(a[0]),
        "create": lambda: os.close(os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o660)),
        "link": lambda: os.link(a[0], a[1]),
        "symlink": lambda: os.symlink(a[0], a[1]),
        "mkfifo": lambda: os.mkfifo(a[0], 0o660),
        "mkdir": lambda: os.mkdir(a[0], 0o700),
        # a regular file whose creation ends without IN_CLOSE_WRITE (opened read-only)
        "squat": lambda: os.close(os.open(a[0], os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o660)),
        "mknod": lambda: os.mknod(a[0], stat.S_IFREG | 0o660),
        "socket": sock,
    }
    attempt(op, ops[op])


COMMANDS = {
    "drop": cmd_drop, "hold": cmd_hold, "grow": cmd_grow, "replace": cmd_replace,
    "flood": cmd_flood, "dirs": cmd_dirs, "fill": cmd_fill, "mass": cmd_mass, "rate": cmd_rate,
    "open-hold": cmd_openhold, "bigdot": cmd_bigdot, "race": cmd_race, "plant": cmd_plant,
    "attempt": cmd_attempt,
}


def main():
    if len(sys.argv) < 3 or sys.argv[2] not in COMMANDS:
        sys.exit("usage: nwh.py DIR COMMAND ARGS... (commands: %s)" % ", ".join(sorted(COMMANDS)))
    COMMANDS[sys.argv[2]](sys.argv[1], sys.argv[3:])


if __name__ == "__main__":
    main()
