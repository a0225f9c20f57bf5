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
import os
import socket
import struct
import sys
import time

# nwtest.py, the tests' shared helpers, is in tests/integration (no byte-code cache left there)
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import nwtest  # noqa: E402 (found through the path above)


def serve(log, addr, seconds, ports):
    nwtest.cmd_tcp_serve(["--seconds", str(seconds), "--backlog", "512", "--answer", "ok",
                          "--quiet", addr, log] + [str(p) for p in ports])


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
