# SPDX-License-Identifier: MIT
"""The submitter's side of integration/hostile-fragments.sh: drop hostile fragments into the
spool by hand (nwtest.Spool: the client's way, without the client's checks) and check the
verdict. Run as the submitter: python3 -S hostile-fragments.py MODE ...

  decode SPEC                      print the bytes SPEC stands for
  drop INCOMING NAME INPUT VERDICT USER EXPECT TIMEOUT
                                   drop INPUT as NAME, wait for the verdict, compare
  dot INCOMING NAME INPUT TIMEOUT  create NAME (a dot-file), then show it is left alone
  norename INCOMING NAME EXPECT    renaming a dot-file to NAME must fail (EXPECT: errno:NAME)

SPEC (names and inputs) is - (nothing) or text with escapes: \\n \\r \\t \\e (ESC) \\0 \\\\
\\xHH (a byte), \\uHHHH (a character in UTF-8), \\*N(...\\) (... N times), \\*N+B(...\\) with
\\i = B, B+1, ...
EXPECT is a list joined by '||': LINE:TEXT (a reason at LINE, 0: the file as a whole,
containing TEXT), n=K (exactly K reasons), live:TEXT (exactly this live line), errno:NAME,
'-' for nothing. Prints PASS or FAIL, then details.
"""
import errno
import os
import re
import sys
import time

import nwtest


def parse(spec, i=0, inner=False):
    """SPEC -> list of nodes: bytes, 'IDX', ('rep', count, base, nodes)."""
    nodes = []
    while i < len(spec):
        c = spec[i]
        if c != "\\":
            nodes.append(c.encode())
            i += 1
            continue
        e = spec[i + 1]
        simple = {"n": b"\n", "r": b"\r", "t": b"\t", "e": b"\x1b", "0": b"\0", "\\": b"\\"}
        if e in simple:
            nodes.append(simple[e])
            i += 2
        elif e == "x":
            nodes.append(bytes([int(spec[i + 2:i + 4], 16)]))
            i += 4
        elif e == "u":
            nodes.append(chr(int(spec[i + 2:i + 6], 16)).encode())
            i += 6
        elif e == "i":
            nodes.append("IDX")
            i += 2
        elif e == "*":
            m = re.match(r"(\d+)(?:\+(\d+))?\(", spec[i + 2:])
            if not m:
                raise SystemExit("bad repeat at %d in %r" % (i, spec))
            body, i = parse(spec, i + 2 + m.end(), True)
            nodes.append(("rep", int(m.group(1)), int(m.group(2) or 0), body))
        elif e == ")" and inner:
            return nodes, i + 2
        else:
            raise SystemExit("bad escape \\%s in %r" % (e, spec))
    if inner:
        raise SystemExit("unclosed repeat in %r" % spec)
    return nodes


def render(nodes, idx=0):
    out = bytearray()
    for n in nodes:
        if n == "IDX":
            out += str(idx).encode()
        elif isinstance(n, tuple):
            for k in range(n[1]):
                out += render(n[3], n[2] + k)
        else:
            out += n
    return bytes(out)


def decode(spec):
    return b"" if spec == "-" else render(parse(spec))


def name_valid(b):
    ok = set(b"abcdefghijklmnopqrstuvwxyz0123456789._-")
    return 1 <= len(b) <= 64 and (chr(b[0]).islower() or chr(b[0]).isdigit()) and \
        b[0] < 128 and all(c in ok for c in b)


def shown(b):
    """The daemon's quoting of a name (str_quote)."""
    body = "".join(chr(c) if 0x20 <= c <= 0x7e and c not in (0x27, 0x5c) else "\\x%02x" % c
                   for c in b[:40])
    return "'" + body + "'" + ("..." if len(b) > 40 else "")


def submit(spool, name, data, timeout, tag="case"):
    """Drop DATA as NAME; returns (status, text): 'verdict', 'none' (removed unanswered),
    'timeout'."""
    fd = spool.submit(name, data, fsync=True, tag="hf." + tag)
    if nwtest.wait_answers([fd], timeout):
        try:  # do not leave it for the next case
            spool.unlink(name)
        except OSError:
            pass
        return "timeout", b""
    text = nwtest.read_all(fd)
    if nwtest.parse_verdict(text) is None or text == data:
        return "none", text
    return "verdict", text


def items(expect):
    return [] if expect in ("", "-") else expect.split("||")


def check_verdict(v, name, want, user, expect):
    problems = []
    if v["verdict"] != want:
        problems.append("verdict %r, want %r" % (v["verdict"], want))
    frag = name.decode() if name_valid(name) else shown(name)
    if v["fragment"] != frag:
        problems.append("fragment %r, want %r" % (v["fragment"], frag))
    if v["user"] != user:
        problems.append("user %r, want %r" % (v["user"], user))
    if want == "rejected" and (v["live"] or not v["reasons"] or v["expires"] != 0):
        problems.append("a rejection must have reasons, no live lines and expires 0")
    if want != "rejected" and v["reasons"]:
        problems.append("reasons in a verdict %r" % want)
    for it in items(expect):
        if it.startswith("n="):
            if len(v["reasons"]) != int(it[2:]):
                problems.append("%d reasons, want %s" % (len(v["reasons"]), it[2:]))
        elif it.startswith("live:"):
            if it[5:] not in v["live"]:
                problems.append("no live line %r" % it[5:])
        elif it.startswith("+"):
            pass  # the kernel: checked by the caller
        else:
            line, _, sub = it.partition(":")
            prefix = "%s:%s: " % (frag, line) if line != "0" else "%s: " % frag
            if not any(r.startswith(prefix) and sub in r[len(prefix):] for r in v["reasons"]):
                problems.append("no reason %r...%r" % (prefix, sub))
    return problems


def drop(spool, name, args):
    data, want, user, expect, timeout = decode(args[0]), args[1], args[2], args[3], args[4]
    t0 = time.monotonic()
    try:
        status, text = submit(spool, name, data, float(timeout))
    except OSError as e:
        print("FAIL\ncannot drop it: %s" % os.strerror(e.errno))
        return
    ms = (time.monotonic() - t0) * 1000
    if status == "timeout":
        print("FAIL\nno verdict within %s s: the file is still in the spool" % timeout)
        return
    if status == "none":
        print("FAIL\nremoved from the spool without a verdict; the file holds%s: %r" %
              (" what was submitted" if text == data else "",
               text.decode(errors="replace")[:200]))
        return
    problems = check_verdict(nwtest.parse_verdict(text), name, want, user, expect)
    print("PASS" if not problems else "FAIL")
    print("answered in %.0f ms" % ms)
    for p in problems:
        print(p)
    if problems:
        for line in text.decode(errors="replace").rstrip("\n").split("\n"):
            print("verdict> " + line)


def dot(spool, name, args):
    """A client's temporary file: created (IN_CREATE, IN_CLOSE_WRITE), renamed to another
    dot-name (IN_MOVED_TO); then a barrier submission proves the daemon has seen both."""
    data, timeout = decode(args[0]), float(args[1])
    tmp, fd = spool.create(data, fsync=True, tag="hf.dot")
    spool.rename(tmp, name)
    before = os.fstat(fd)
    status, text = submit(spool, b"hf-barrier-%d" % os.getpid(),
                          b"dnat tcp 7070 to 192.168.1.240\n", timeout, "barrier")
    problems = []
    v = nwtest.parse_verdict(text)
    if status != "verdict" or v["verdict"] != "rejected":
        problems.append("the barrier submission got %s %r" % (
            status, text.decode(errors="replace")[:200]))
    try:
        st = os.stat(name, dir_fd=spool.dfd, follow_symlinks=False)
        if (st.st_ino, st.st_nlink) != (before.st_ino, 1):
            problems.append("%r was replaced or linked" % name)
    except OSError as e:
        problems.append("%r is gone: %s" % (name, os.strerror(e.errno)))
    now = nwtest.read_all(fd)
    if now != data:
        problems.append("its content changed: %r" % now[:120])
    if os.fstat(fd).st_mtime_ns != before.st_mtime_ns:
        problems.append("it was written to")
    try:
        spool.unlink(name)
    except OSError:
        pass
    print("PASS" if not problems else "FAIL")
    for p in problems:
        print(p)


def norename(spool, name, args):
    want = args[0]
    tmp, fd = spool.create(b"dnat tcp 8001 to 192.168.1.240\n", fsync=True, tag="hf.norename")
    got = "renamed"
    try:
        spool.rename(tmp, name)
    except OSError as e:
        got = "errno:" + errno.errorcode.get(e.errno, str(e.errno))
    spool.unlink(tmp if got != "renamed" else name)
    print("PASS" if got == want else "FAIL")
    print("rename to %r: %s" % (name, got))


def main():
    mode = sys.argv[1]
    if mode == "decode":
        sys.stdout.buffer.write(decode(sys.argv[2]))
        return
    modes = {"drop": drop, "dot": dot, "norename": norename}
    if mode not in modes:
        raise SystemExit("hostile-fragments.py: unknown mode " + mode)
    modes[mode](nwtest.Spool(sys.argv[2]), decode(sys.argv[3]), sys.argv[4:])


if __name__ == "__main__":
    main()
