# SPDX-License-Identifier: MIT
"""The burst, as real users make it: COUNT fragments are written first as dot-files in the
user's own spool directory, INCOMING = SPOOL/incoming/UID (mode 0660, fsync'd, held open like
natwarden submit holds them: nwtest.Spool), then renamed to their names in one tight loop. The
clock starts before the first rename and stops when the last verdict is in its file (the daemon
answers only after the kernel transaction): the time until every fragment of the burst is live
in the kernel. Run as the submitting user.

usage: python3 burst.py INCOMING COUNT PREFIX PORT-BASE TIMEOUT [withdraw]
prints one JSON object: n, rename_ms, first_ms, all_ms, accepted, withdrawn, rejected, missing
"""
import json
import os
import resource
import sys
import time

# nwtest.py, the tests' shared helpers, is in tests/integration (no byte-code cache left there)
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import nwtest  # noqa: E402 (found through the path above)


def main():
    incoming, count, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    port_base, timeout = int(sys.argv[4]), float(sys.argv[5])
    withdraw = len(sys.argv) > 6 and sys.argv[6] == "withdraw"

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 1024), hard))

    spool = nwtest.Spool(incoming)
    names, tmps, fds = [], [], []
    for i in range(count):
        data = b"" if withdraw else b"dnat tcp %d to 192.168.1.240\n" % (port_base + i)
        tmp, fd = spool.create(data, fsync=True, tag="burst")
        names.append("%s%04d" % (prefix, i))
        tmps.append(tmp)
        fds.append(fd)

    t0 = time.monotonic()
    for tmp, name in zip(tmps, names):
        spool.rename(tmp, name)
    t_renamed = time.monotonic()

    pending = set(range(count))
    first = last = None
    deadline = t0 + timeout
    while pending and time.monotonic() < deadline:
        done = [i for i in pending if nwtest.answered(fds[i])]
        now = time.monotonic()
        if done:
            pending.difference_update(done)
            first = first if first is not None else now
            last = now
        else:
            time.sleep(0.0002)

    counts = {"accepted": 0, "withdrawn": 0, "rejected": 0}
    for i, fd in enumerate(fds):
        if i in pending:
            continue
        v = nwtest.parse_verdict(nwtest.read_all(fd))
        if v is not None and v["verdict"] in counts:
            counts[v["verdict"]] += 1
        os.close(fd)

    print(json.dumps({
        "n": count,
        "rename_ms": round((t_renamed - t0) * 1000, 3),
        "first_ms": round((first - t0) * 1000, 3) if first is not None else None,
        "all_ms": round((last - t0) * 1000, 3) if not pending and last is not None else None,
        "missing": len(pending),
        **counts,
    }))


if __name__ == "__main__":
    main()
