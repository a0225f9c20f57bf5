# SPDX-License-Identifier: MIT
"""natwarden's test helpers: the one implementation, for every test written in Python and for
the shell harness (lib.sh, net.sh), of what natwardend's files and the kernel say.

  submitting     the client's way (client/submit.c): a dot-file of mode 0660 in the
                 submitter's own spool directory SPOOL/incoming/UID, renamed to its name and
                 kept open; once the daemon has removed it (its link count is 0), the verdict
                 is read from the open descriptor
  the verdict    common/verdict.h: "natwarden-verdict 1", then "fragment", "user", "verdict",
                 "renewed", "expires", "live" and "reason" lines (parse_verdict)
  the status     common/statusfile.h: RUNTIME/status, one TAB-separated record a line
                 (parse_status)
  the state      common/staterecord.h: the put, del and commit records of STATE/snapshot and
                 STATE/journal; a batch counts only with its commit line (read_state)
  the kernel     `nft -j list table inet TABLE` as lib.sh's nw_kernel prints it, one element a
                 line (kernel_lines): "tcp 80 192.168.1.240:80", "udp 30000-30010 1.2.3.4",
                 "masq tcp 80"
  TAP lines      what a Python check prints for lib.sh's nw_tap to number (class Tap)

As a program, for the shell tests: python3 nwtest.py COMMAND ARGS...

  notify [--stamp] [--seconds N] SOCKET LOG
        systemd's NOTIFY_SOCKET stand-in: one line a datagram in LOG, its own newlines shown
        as '|'; --stamp adds a TAB and the wall-clock time it came (seconds, microseconds);
        --seconds: exit after N seconds (default: run until killed)
  kernel
        `nft -j list ...` on stdin: the elements of natwarden's maps and sets, one a line, as
        nw_kernel prints them (unsorted: the shell sorts)
  tcp-serve [--seconds N] [--backlog N] [--answer TEXT] [--quiet] ADDR LOG PORT...
        listen on ADDR at every PORT (300 s by default); "ready" in LOG once all listen. Each
        connection is answered with one line, "served LOCAL-ADDR:LOCAL-PORT to PEER-ADDR" (or
        TEXT), and closed; LOG gets that line and " (port PEER-PORT)" (not with --quiet)
  tcp-connect SRC SPORT DST PORT
        one TCP connection from SRC:SPORT, 3 s at most: prints the server's line, or "refused",
        "timeout", "error: ..."; exit status 0 only for a line starting "served "
  udp-serve [--seconds N] ADDR LOG PORT...
        as tcp-serve, for UDP: each datagram is answered with one "served ..." datagram
  udp-connect SRC SPORT DST PORT
        one datagram from SRC:SPORT, the answer awaited 3 s at most; prints as tcp-connect
  (ADDR, SRC and DST may be IPv6 addresses)
"""

import itertools
import json
import os
import selectors
import socket
import subprocess
import sys
import time

VERDICT_MAGIC = b"natwarden-verdict 1\n"
VERDICT_MAX_BYTES = 65536
TMP_SEQ = itertools.count(1)


def now_ms():
    return time.time_ns() // 1000000


# ---- the verdict (common/verdict.h) ----------------------------------------------------------

def is_verdict(data):
    if isinstance(data, str):
        data = data.encode(errors="surrogateescape")
    return data.startswith(VERDICT_MAGIC)


def parse_verdict(data):
    """A verdict's fields, as verdict_parse() reads them: {"fragment", "user", "verdict",
    "renewed" (bool), "expires" (unix ms, 0: no lease), "live": [...], "reasons": [...]}; None
    when DATA (bytes or text) is no verdict (no magic line, or no verdict line)."""
    if isinstance(data, bytes):
        if not data.startswith(VERDICT_MAGIC):
            return None
        text = data[len(VERDICT_MAGIC):].decode(errors="replace")
    else:
        if not data.startswith(VERDICT_MAGIC.decode()):
            return None
        text = data[len(VERDICT_MAGIC):]
    v = {"fragment": "", "user": "", "verdict": "", "renewed": False, "expires": 0,
         "live": [], "reasons": []}
    for line in text.split("\n"):
        key, sep, val = line.partition(" ")
        if not sep:
            continue
        if key in ("fragment", "user", "verdict"):
            v[key] = val
        elif key == "renewed":
            v["renewed"] = val == "yes"
        elif key == "expires":
            v["expires"] = leading_int(val)
        elif key == "live":
            v["live"].append(val)
        elif key == "reason":
            v["reasons"].append(val)
    return v if v["verdict"] else None


def leading_int(text):
    """strtoll(text, NULL, 10): the leading (signed) digits, 0 for none."""
    text = text.lstrip()
    n = 1 if text[:1] in ("-", "+") else 0
    while n < len(text) and text[n].isdigit():
        n += 1
    try:
        return int(text[:n])
    except ValueError:
        return 0


# ---- submitting, the client's way ------------------------------------------------------------

class Spool:
    """A submitter's own spool directory (SPOOL/incoming/UID), opened once. Files are created
    with O_EXCL and O_NOFOLLOW and made MODE whatever the umask, as the client makes them."""

    def __init__(self, directory):
        self.path = directory
        self.dfd = os.open(directory, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)

    @staticmethod
    def tmpname(tag="nwtest"):
        """A dot-name no other file of this process has: the daemon leaves it alone."""
        return ".%s.%d.%d" % (tag, os.getpid(), next(TMP_SEQ))

    def create(self, data=b"", mode=0o660, name=None, fsync=False, tag="nwtest"):
        """A new file NAME (default: a fresh dot-name) holding DATA: (name, descriptor)."""
        if name is None:
            name = self.tmpname(tag)
        fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     mode, dir_fd=self.dfd)
        os.fchmod(fd, mode)
        write_all(fd, data)
        if fsync:
            os.fsync(fd)
        return name, fd

    def rename(self, old, new):
        os.rename(old, new, src_dir_fd=self.dfd, dst_dir_fd=self.dfd)

    def submit(self, name, data=b"", mode=0o660, fsync=False, tag="nwtest"):
        """Write a dot-file and rename it to NAME; returns the descriptor, which stays open. When
        the rename fails the dot-file is removed and the error raised."""
        tmp, fd = self.create(data, mode, fsync=fsync, tag=tag)
        try:
            self.rename(tmp, name)
        except OSError:
            os.unlink(tmp, dir_fd=self.dfd)
            os.close(fd)
            raise
        return fd

    def unlink(self, name):
        os.unlink(name, dir_fd=self.dfd)


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view[:1 << 20]):]


def answered(fd):
    """Has the daemon removed the submitted file (taken it and written into it, or refused it)?"""
    return os.fstat(fd).st_nlink == 0


def wait_answers(fds, timeout, poll=0.005):
    """Wait (TIMEOUT s at most) until every file is removed; the indices of those still there."""
    deadline = time.monotonic() + timeout
    pending = list(range(len(fds)))
    while True:
        pending = [i for i in pending if not answered(fds[i])]
        if not pending or time.monotonic() >= deadline:
            return pending
        time.sleep(poll)


def read_all(fd, limit=None):
    """The file's bytes from the start, through the descriptor (LIMIT bytes at most)."""
    chunks, off = [], 0
    while limit is None or off < limit:
        want = 1 << 20 if limit is None else min(1 << 20, limit - off)
        b = os.pread(fd, want, off)
        if not b:
            break
        chunks.append(b)
        off += len(b)
    return b"".join(chunks)


def outcome(fd):
    """("pending", None): still in the spool; ("none", BYTES): removed without a verdict;
    ("verdict", BYTES): answered, BYTES holds the verdict."""
    if not answered(fd):
        return "pending", None
    data = read_all(fd)
    return ("verdict" if is_verdict(data) else "none"), data


# ---- the status file (common/statusfile.h) ---------------------------------------------------

STATUS_MAPPING_FIELDS = {"dnat": ("user", "fragment", "proto", "ports", "target", "expires"),
                         "masquerade": ("user", "fragment", "target", "expires")}
STATUS_EVENT_FIELDS = ("time", "kind", "user", "fragment", "text")


def parse_status(text):
    """{"head": {RECORD: VALUE} (the two-field records, "natwarden-status" included),
    "mappings": [{"kind", "user", "fragment", ("proto", "ports",) "target", "expires"}],
    "events": [{"time", "kind", "user", "fragment", "text"}]}, as statusfile_parse() reads it:
    unknown records, and mapping or event lines with the wrong number of fields, are skipped.
    Values stay text."""
    st = {"head": {}, "mappings": [], "events": []}
    for line in text.split("\n"):
        f = line.split("\t")
        names = STATUS_MAPPING_FIELDS.get(f[0])
        if names is not None:
            if len(f) == len(names) + 1:
                m = dict(zip(names, f[1:]))
                m["kind"] = f[0]
                st["mappings"].append(m)
        elif f[0] == "event":
            if len(f) == len(STATUS_EVENT_FIELDS) + 1:
                st["events"].append(dict(zip(STATUS_EVENT_FIELDS, f[1:])))
        elif len(f) == 2:
            st["head"][f[0]] = f[1]
    return st


def read_status(path):
    with open(path, errors="replace") as f:
        return parse_status(f.read())


# ---- the saved state (common/staterecord.h) --------------------------------------------------

def fnv1a(data):
    """staterecord_checksum(): FNV-1a 64."""
    h = 0xcbf29ce484222325
    for c in data:
        h = ((h ^ c) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def replay(path, frags):
    """Apply the committed batches of one state file to FRAGS ("UID-NAME" -> {"uid", "user",
    "name", "accepted", "expires", "body", "stmts"}; stmts: the body's lines but the lease), as
    the daemon loads it: after the format line, records count only with their batch's commit
    line; the first thing that is not part of a valid batch ends the file. Returns the bytes
    ignored after the last complete batch (a batch being written when the daemon died)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return 0
    p = start = 0
    n = len(data)
    pend = []
    # the format line ("natwarden-state 2"), outside every batch; a format-1 file has none
    first = data.find(b"\n")
    if data.startswith(b"natwarden-state ") and first > 0:
        if data[16:first] != b"2":
            return n  # a format this harness does not read
        p = start = first + 1
    while p < n:
        nl = data.find(b"\n", p)
        if nl < 0:
            break
        line = data[p:nl]
        if line.startswith(b"commit "):
            w = line.split(b" ")
            try:
                good = (len(w) == 3 and int(w[1]) == len(pend)
                        and int(w[2], 16) == fnv1a(data[start:p]))
            except ValueError:
                good = False
            if not good:
                break
            for kind, key, rec in pend:
                if kind == "put":
                    frags[key] = rec
                else:
                    frags.pop(key, None)
            pend = []
            p = start = nl + 1
            continue
        p = nl + 1
        w = line.decode(errors="replace").split(" ")
        if w[0] == "put" and len(w) == 7:
            try:
                uid, accepted, expires, length = int(w[1]), int(w[2]), int(w[3]), int(w[6])
            except ValueError:
                break
            if n - p < length:
                break
            body = data[p:p + length].decode(errors="replace")
            p += length
            stmts = [s for s in body.split("\n") if s and not s.startswith("lease ")]
            pend.append(("put", "%d-%s" % (uid, w[5]),
                         {"uid": uid, "user": w[4], "name": w[5], "accepted": accepted,
                          "expires": expires, "body": body, "stmts": stmts}))
        elif w[0] == "del" and len(w) == 3:
            pend.append(("del", "%s-%s" % (w[1], w[2]), None))
        else:
            break
    return n - start


def read_state(statedir, tails=None):
    """The saved fragments: the snapshot, then the journal. Keys "UID-NAME". TAILS (a list)
    gets a line for each file with bytes after its last complete batch."""
    frags = {}
    for name in ("snapshot", "journal"):
        tail = replay(os.path.join(statedir, name), frags)
        if tails is not None and tail:
            tails.append("%s: %d bytes after its last complete batch" % (name, tail))
    return frags


# ---- the kernel ------------------------------------------------------------------------------

def jq_text(value):
    """A JSON value as jq's string interpolation shows it."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def kernel_lines(listing):
    """The parsed output of `nft -j list table|map|set ...`: natwarden's forwards, one a line
    ("PROTO PORT ADDR:PORT" from dnat_port, "PROTO LO-HI ADDR[:PORT]" from dnat_range), and the
    masqueraded public ports ("masq PROTO PORT" or "masq PROTO LO-HI"), and the pinholes
    ("pinhole PROTO PORT[-HI] IPV6"), in the listing's order."""
    lines = []
    for obj in listing.get("nftables", []):
        m = obj.get("map") or {}
        s = obj.get("set") or {}
        if m.get("name") == "dnat_port":
            for key, val in m.get("elem", []):
                lines.append("%s %s %s:%s" % (jq_text(key["concat"][0]), jq_text(key["concat"][1]),
                                              jq_text(val["concat"][0]), jq_text(val["concat"][1])))
        elif m.get("name") == "dnat_range":
            for key, val in m.get("elem", []):  # key: ports . protocol
                port = key["concat"][0]
                if isinstance(port, dict):
                    port = "%s-%s" % (jq_text(port["range"][0]), jq_text(port["range"][1]))
                lines.append("%s %s %s" % (jq_text(key["concat"][1]), jq_text(port), jq_text(val)))
        elif s.get("name") in ("pinholes", "pinhole_ranges"):
            for el in s.get("elem", []):
                addr, proto, port = el["concat"]
                if isinstance(port, dict):
                    port = "%s-%s" % (jq_text(port["range"][0]), jq_text(port["range"][1]))
                lines.append("pinhole %s %s %s" % (jq_text(proto), jq_text(port), jq_text(addr)))
        elif s.get("name") in ("masq_tcp", "masq_udp"):
            proto = s["name"][len("masq_"):]
            for el in s.get("elem", []):
                if isinstance(el, dict) and "range" in el:
                    lines.append("masq %s %s-%s" % (proto, jq_text(el["range"][0]),
                                                    jq_text(el["range"][1])))
                else:
                    lines.append("masq %s %s" % (proto, jq_text(el)))
    return lines


def list_kernel(ns, table, what=("table",)):
    """`nft -j list table inet TABLE` (or WHAT, e.g. ("map", "dnat_port")) in namespace NS, as
    kernel_lines(); None when nft fails or says nothing."""
    cmd = ["ip", "netns", "exec", ns, "nft", "-j", "list", what[0], "inet", table] + list(what[1:])
    try:
        out = subprocess.run(cmd, capture_output=True, timeout=5).stdout
        return kernel_lines(json.loads(out)) if out else None
    except (subprocess.SubprocessError, ValueError):
        return None


# ---- checks, as TAP for lib.sh's nw_tap --------------------------------------------------------

class Tap:
    """A check's results, one line each: "OK DESC", "NOK DESC" (then "#   " details, 25 at
    most), "# DIAGNOSTIC"; lib.sh's nw_tap numbers them."""

    def ok(self, cond, desc, details=()):
        print(("OK " if cond else "NOK ") + desc)
        if not cond:
            for d in list(details)[:25]:
                print("#   " + str(d))
        return cond

    def diag(self, text):
        print("# " + text)


# ---- the command line ------------------------------------------------------------------------

def options(args, spec):
    """Leading --NAME VALUE (or --FLAG) options of ARGS; SPEC: {name: default}, a bool default
    for a flag. Returns (values, the other arguments)."""
    vals = dict(spec)
    while args and args[0].startswith("--"):
        name = args.pop(0)[2:]
        if name not in spec:
            sys.exit("nwtest.py: unknown option --" + name)
        vals[name] = True if isinstance(spec[name], bool) else type(spec[name])(args.pop(0))
    return vals, args


def cmd_notify(args):
    opt, (path, log) = options(args, {"stamp": False, "seconds": 0.0})
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(path, 0o777)
    end = time.monotonic() + opt["seconds"] if opt["seconds"] else None
    if end is not None:
        s.settimeout(1.0)
    with open(log, "a", buffering=1) as f:
        while end is None or time.monotonic() < end:
            try:
                data = s.recv(65536)
            except socket.timeout:
                continue
            line = data.decode(errors="replace").rstrip("\n").replace("\n", "|")
            f.write(line + ("\t%.6f" % time.time() if opt["stamp"] else "") + "\n")


def cmd_kernel(args):
    text = sys.stdin.read()
    if text.strip():
        for line in kernel_lines(json.loads(text)):
            print(line)


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def tcp_listen(addr, ports, backlog=16):
    """A selector with a listening TCP socket on ADDR at every port."""
    sel = selectors.DefaultSelector()
    for port in ports:
        s = socket.socket(family(addr), socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, port))
        s.listen(backlog)
        sel.register(s, selectors.EVENT_READ)
    return sel


def serve(sel, log, seconds, answer):
    """Write "ready" to LOG, then for SECONDS call ANSWER(socket, out) on every socket of SEL
    that is ready."""
    out = open(log, "a", buffering=1)
    out.write("ready\n")
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=1):
            answer(key.fileobj, out)


def cmd_tcp_serve(args):
    opt, args = options(args, {"seconds": 300.0, "backlog": 16, "answer": "", "quiet": False})
    addr, log, ports = args[0], args[1], [int(p) for p in args[2:]]

    def answer(s, out):
        try:
            c, peer = s.accept()
        except OSError:
            return
        with c:
            c.settimeout(2)
            local = c.getsockname()
            line = opt["answer"] or "served %s:%d to %s" % (local[0], local[1], peer[0])
            if not opt["quiet"]:
                out.write(line + " (port %d)\n" % peer[1])
            try:
                c.sendall((line + "\n").encode())
            except OSError:
                pass
    serve(tcp_listen(addr, ports, opt["backlog"]), log, opt["seconds"], answer)


def print_answer(exchange):
    """Run EXCHANGE (a function returning the bytes the server answered) and print the
    answer's line, or "refused", "timeout", "error: ..."; 0 only for a line "served ..."."""
    try:
        data = exchange()
    except ConnectionRefusedError:
        print("refused")
        return 1
    except socket.timeout:
        print("timeout")
        return 1
    except OSError as e:
        print("error: %s" % e)
        return 1
    line = data.decode(errors="replace").strip()
    print(line if line else "error: empty answer")
    return 0 if line.startswith("served ") else 1


def cmd_tcp_connect(args):
    src, sport, dst, port = args[0], int(args[1]), args[2], int(args[3])
    s = socket.socket(family(dst), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(3)

    def exchange():
        s.bind((src, sport))
        s.connect((dst, port))
        data = b""
        while len(data) < 200 and not data.endswith(b"\n"):
            chunk = s.recv(200)
            if not chunk:
                break
            data += chunk
        return data
    return print_answer(exchange)


def cmd_udp_serve(args):
    opt, args = options(args, {"seconds": 300.0})
    addr, log, ports = args[0], args[1], [int(p) for p in args[2:]]
    sel = selectors.DefaultSelector()
    for port in ports:
        s = socket.socket(family(addr), socket.SOCK_DGRAM)
        s.bind((addr, port))
        sel.register(s, selectors.EVENT_READ)

    def answer(s, out):
        try:
            _, peer = s.recvfrom(2048)
            local = s.getsockname()
            line = "served %s:%d to %s" % (local[0], local[1], peer[0])
            out.write(line + " (udp port %d)\n" % peer[1])
            s.sendto((line + "\n").encode(), peer)
        except OSError:
            pass
    serve(sel, log, opt["seconds"], answer)


def cmd_udp_connect(args):
    src, sport, dst, port = args[0], int(args[1]), args[2], int(args[3])
    s = socket.socket(family(dst), socket.SOCK_DGRAM)
    s.settimeout(3)

    def exchange():
        s.bind((src, sport))
        s.connect((dst, port))
        s.send(b"hello\n")
        return s.recv(200)
    return print_answer(exchange)


def cmd_tcp_loop(args):
    """Connect to DST:PORT again and again until the file STOP exists (or SECONDS or COUNT
    attempts have passed), each with a 2 s timeout; print "attempts N failures M" and the
    first failures. 0 when every attempt was answered by a "served" line."""
    opt, args = options(args, {"seconds": 120.0, "count": 100000})
    dst, port, stop = args[0], int(args[1]), args[2]
    attempts = failures = 0
    first = []
    end = time.monotonic() + opt["seconds"]
    while attempts < opt["count"] and time.monotonic() < end and not os.path.exists(stop):
        attempts += 1
        try:
            with socket.create_connection((dst, port), timeout=2) as s:
                data = s.recv(200)
            ok = data.startswith(b"served ")
            why = data.decode(errors="replace").strip() or "empty answer"
        except OSError as e:
            ok, why = False, str(e) or type(e).__name__
        if not ok:
            failures += 1
            if len(first) < 5:
                first.append("attempt %d: %s" % (attempts, why))
        time.sleep(0.01)
    print("attempts %d failures %d" % (attempts, failures))
    for line in first:
        print(line)
    return 1 if failures or not attempts else 0


def cmd_count_replaced(args):
    """Count how often DIR/NAME is replaced (renamed over: IN_MOVED_TO) until the file STOP
    exists or SECONDS pass. Writes "ready" to READY once watching; prints the count."""
    import ctypes
    import struct
    opt, args = options(args, {"seconds": 60.0})
    d, name, ready, stop = args[0], args[1].encode(), args[2], args[3]
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    if fd < 0 or libc.inotify_add_watch(fd, d.encode(), 0x80) < 0:  # IN_MOVED_TO
        sys.exit("inotify: %s" % os.strerror(ctypes.get_errno()))
    with open(ready, "w") as f:
        f.write("ready\n")
    count = 0
    end = time.monotonic() + opt["seconds"]
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    while time.monotonic() < end and not os.path.exists(stop):
        if not sel.select(timeout=0.05):
            continue
        data = os.read(fd, 65536)
        off = 0
        while off + 16 <= len(data):
            _, _, _, n = struct.unpack_from("iIII", data, off)
            if data[off + 16:off + 16 + n].rstrip(b"\0") == name:
                count += 1
            off += 16 + n
    print(count)
    return 0


COMMANDS = {"notify": cmd_notify, "kernel": cmd_kernel, "tcp-serve": cmd_tcp_serve,
            "tcp-connect": cmd_tcp_connect, "udp-serve": cmd_udp_serve,
            "udp-connect": cmd_udp_connect, "tcp-loop": cmd_tcp_loop,
            "count-replaced": cmd_count_replaced}


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit("usage: nwtest.py COMMAND ARGS... (commands: %s)" % ", ".join(sorted(COMMANDS)))
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]) or 0)


if __name__ == "__main__":
    main()
