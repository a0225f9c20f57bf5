# SPDX-License-Identifier: MIT
"""A flood of no-op withdrawals, for integration/journal-flood.sh.

Run as the flooding submitter: python3 journal-flood.py DIR COUNT MAX_PENDING PREFIX, where DIR
is that user's own spool directory (SPOOL/incoming/UID). It submits COUNT empty files (a
withdrawal each, of fragments PREFIX0, PREFIX1, ... that are not live) the way the client does
(nwtest.Spool: a dot-file renamed to its name, kept open), with at most MAX_PENDING of them
unanswered at any time: under max_spool_entries they are all taken and answered, none removed
for the entries limit. It reads every verdict the daemon writes into its file and prints one line,

    COUNT SECONDS withdrawn=N rate_limited=N over_limit=N none=N other=N

withdrawn: judged (each also logged alone); rate_limited and over_limit: refused unjudged
(counted in the user's summaries); none: removed without a verdict.
"""

import collections
import os
import sys
import time

import nwtest

RATE_REASON = "submits faster than max_submissions_per_minute"
OVER_REASON = "refused unjudged: "
PATIENCE = 60.0  # seconds an answer may take before the flood gives up


def outcome(data):
    v = nwtest.parse_verdict(data)
    if v is None:
        return "none"
    if v["verdict"] == "withdrawn":
        return "withdrawn"
    if v["verdict"] == "rejected":
        if any(RATE_REASON in r for r in v["reasons"]):
            return "rate_limited"
        if any(OVER_REASON in r for r in v["reasons"]):
            return "over_limit"
    return "other"


def answer(fd):
    """Wait until the daemon removed the file, then read what it wrote into it."""
    if nwtest.wait_answers([fd], PATIENCE, poll=0.0005):
        sys.exit("no answer within %.0f s" % PATIENCE)
    status, data = nwtest.outcome(fd)
    os.close(fd)
    return outcome(data)


def main():
    directory, prefix = sys.argv[1], sys.argv[4]
    count, max_pending = int(sys.argv[2]), int(sys.argv[3])
    spool = nwtest.Spool(directory)
    counts = collections.Counter()
    waiting = collections.deque()
    start = time.monotonic()
    for i in range(count):
        if len(waiting) >= max_pending:
            counts[answer(waiting.popleft())] += 1
        waiting.append(spool.submit("%s%d" % (prefix, i), b"", tag="flood"))
    while waiting:
        counts[answer(waiting.popleft())] += 1
    took = time.monotonic() - start
    kinds = ("withdrawn", "rate_limited", "over_limit", "none", "other")
    print("%d %.3f %s" % (count, took, " ".join("%s=%d" % (k, counts[k]) for k in kinds)))


if __name__ == "__main__":
    main()
