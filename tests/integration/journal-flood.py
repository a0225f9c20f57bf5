# SPDX-License-Identifier: MIT
"""A flood of no-op withdrawals, for integration/journal-flood.sh.

Run as the flooding submitter: python3 journal-flood.py DIR COUNT MAX_PENDING PREFIX, where DIR
is that user's own spool directory (SPOOL/incoming/UID). It submits COUNT empty files (a
withdrawal each, of fragments PREFIX0, PREFIX1, ... that are not live) the way the client does
(a dot-file renamed to its name, kept open), with at most MAX_PENDING of them unanswered at any
time: under max_spool_entries they are all taken and answered, none removed for the entries
limit. It reads every verdict the daemon writes into its file and prints one line,

    COUNT SECONDS withdrawn=N rate_limited=N over_limit=N none=N other=N

withdrawn: judged (each also logged alone); rate_limited and over_limit: refused unjudged
(counted in the user's summaries); none: removed without a verdict.
"""

import collections
import os
import sys
import time

MAGIC = b"natwarden-verdict 1\n"
RATE_REASON = b"submits faster than max_submissions_per_minute"
OVER_REASON = b"refused unjudged: "
PATIENCE = 60.0  # seconds an answer may take before the flood gives up


def outcome(text):
    if not text.startswith(MAGIC):
        return "none"
    lines = text.split(b"\n")
    if b"verdict withdrawn" in lines:
        return "withdrawn"
    if b"verdict rejected" in lines:
        if RATE_REASON in text:
            return "rate_limited"
        if OVER_REASON in text:
            return "over_limit"
    return "other"


def answer(fd):
    """Wait until the daemon removed the file, then read what it wrote into it."""
    deadline = time.monotonic() + PATIENCE
    while os.fstat(fd).st_nlink:
        if time.monotonic() > deadline:
            sys.exit("no answer within %.0f s" % PATIENCE)
        time.sleep(0.0005)
    text = os.pread(fd, 65536, 0)
    os.close(fd)
    return outcome(text)


def main():
    directory, prefix = sys.argv[1], sys.argv[4]
    count, max_pending = int(sys.argv[2]), int(sys.argv[3])
    counts = collections.Counter()
    waiting = collections.deque()
    start = time.monotonic()
    for i in range(count):
        if len(waiting) >= max_pending:
            counts[answer(waiting.popleft())] += 1
        name = "%s%d" % (prefix, i)
        tmp = os.path.join(directory, ".%s.tmp" % name)
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o660)
        os.fchmod(fd, 0o660)
        os.rename(tmp, os.path.join(directory, name))
        waiting.append(fd)
    while waiting:
        counts[answer(waiting.popleft())] += 1
    took = time.monotonic() - start
    kinds = ("withdrawn", "rate_limited", "over_limit", "none", "other")
    print("%d %.3f %s" % (count, took, " ".join("%s=%d" % (k, counts[k]) for k in kinds)))


if __name__ == "__main__":
    main()
