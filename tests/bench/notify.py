# SPDX-License-Identifier: MIT
# A stand-in for systemd's NOTIFY_SOCKET, like lib.sh's, that also stamps each message with
# the wall-clock time it arrived: one line per message, "MESSAGE<TAB>SECONDS.MICROS", the
# message's own newlines shown as '|'. lib.sh's nw_start counts READY=1 lines in the same log.
# usage: python3 notify.py SOCKET LOG SECONDS   (exits by itself after SECONDS)
import os, socket, sys, time

path, out, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o777)
s.settimeout(1.0)
end = time.monotonic() + limit
with open(out, "a", buffering=1) as f:
    while time.monotonic() < end:
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        f.write("%s\t%.6f\n" % (data.decode(errors="replace").rstrip("\n").replace("\n", "|"), time.time()))
