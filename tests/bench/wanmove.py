# SPDX-License-Identifier: MIT
# The time from a change of the WAN interface's address to the first hairpin connection that
# works on the new address, seen from a LAN client. Started once in the LAN namespace, before
# the rounds, so no process start is timed:
#
#   wanmove.py SRC PORT-BASE DST-PORT
#
# For every line "go ADDRESS" on stdin (written just after `ip addr add` returned), it
# connects from SRC to ADDRESS:DST-PORT again and again until a server answers, each attempt
# from the next source port (a new conntrack entry, so NAT is decided afresh), 1 ms apart, for
# at most 10 s (a generous bound: the benchmark reports the time, no test asserts it); then
# prints "ok EPOCH-SECONDS" (when the answer came) or "fail N" (attempts made).
# Source ports: PORT-BASE onwards, one per attempt over all rounds, wrapping after 20,000.
import socket
import sys
import time

DEADLINE_S = 10.0


def attempt(src, sport, dst, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(0.05)
    try:
        s.bind((src, sport))
        s.connect((dst, port))
        return s.recv(16).startswith(b"ok")
    except OSError:
        return False
    finally:
        s.close()


def main():
    src, base, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    print("ready", flush=True)
    used = 0
    for line in sys.stdin:
        words = line.split()
        if len(words) != 2 or words[0] != "go":
            break
        done = None
        tries = 0
        end = time.monotonic() + DEADLINE_S
        while done is None and time.monotonic() < end:
            used += 1
            tries += 1
            if attempt(src, base + used % 20000, words[1], port):
                done = time.time()
            else:
                time.sleep(0.001)
        print("ok %.6f" % done if done else "fail %d" % tries, flush=True)


if __name__ == "__main__":
    main()
