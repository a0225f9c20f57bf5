# SPDX-License-Identifier: MIT
"""A stand-in for systemd's NOTIFY_SOCKET, like lib.sh's (nwtest.py notify), that also stamps
each message with the wall-clock time it arrived: one line per message,
"MESSAGE<TAB>SECONDS.MICROS", the message's own newlines shown as '|'. lib.sh's nw_start counts
READY=1 lines in the same log.

usage: python3 notify.py SOCKET LOG SECONDS   (exits by itself after SECONDS)
"""
import os
import sys

# nwtest.py, the tests' shared helpers, is in tests/integration (no byte-code cache left there)
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import nwtest  # noqa: E402 (found through the path above)

if __name__ == "__main__":
    sock, log, seconds = sys.argv[1:4]
    nwtest.cmd_notify(["--stamp", "--seconds", seconds, sock, log])
