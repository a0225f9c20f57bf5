# SPDX-License-Identifier: MIT
# New TCP connections through the router, one after another, each a new conntrack entry whose
# first packet crosses the NAT hooks.
#
#   serve LOG ADDR SECONDS PORT...   listen on ADDR at every PORT for at most SECONDS; each
#                                    connection gets "ok\n" and is closed. Writes "ready" to LOG.
#   client DST PORT SECONDS MAX      connect to DST:PORT again and again, for SECONDS or MAX
#                                    connections; prints "ok=N fail=N seconds=S rate=R"
#                                    (successful connections per second). Stops after 20
#                                    failures in a row.
import selectors, socket, struct, sys, time


def serve(log, addr, seconds, ports):
    sel = selectors.DefaultSelector()
    for port in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, port))
        s.listen(512)
        sel.register(s, selectors.EVENT_READ)
    with open(log, "a") as f:
        f.write("ready\n")
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=1):
            try:
                c, _ = key.fileobj.accept()
            except OSError:
                continue
            try:
                c.sendall(b"ok\n")
            except OSError:
                pass
            c.close()


def client(dst, port, seconds, limit):
    ok = fail = streak = 0
    linger = struct.pack("ii", 1, 0)  # close with RST: no TIME_WAIT, no port exhaustion
    t0 = time.monotonic()
    end = t0 + seconds
    while time.monotonic() < end and ok + fail < limit and streak < 20:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect((dst, port))
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(16)
                if not chunk:
                    break
                data += chunk
            good = data == b"ok\n"
        except OSError:
            good = False
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        s.close()
        if good:
            ok += 1
            streak = 0
        else:
            fail += 1
            streak += 1
    took = time.monotonic() - t0
    print("ok=%d fail=%d seconds=%.3f rate=%.1f" % (ok, fail, took, ok / took if took > 0 else 0))


if sys.argv[1] == "serve":
    serve(sys.argv[2], sys.argv[3], float(sys.argv[4]), [int(p) for p in sys.argv[5:]])
else:
    client(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]))
