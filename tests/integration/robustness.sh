#!/bin/bash
# SPDX-License-Identifier: MIT
# Robustness of natwardend, the real daemon against the real kernel in lib.sh's namespace, with
# exact assertions. Run as root; everything nft happens inside the test's namespace.
#
#  1. Crash consistency. Rounds of: start the daemon, start a burst of 1,000 submissions from
#     two users (new fragments, replacements, withdrawals, identical resubmissions, and ones that
#     must be rejected: outside the policy, or claiming tcp/80, which the first user's 'anchor'
#     holds), SIGKILL the daemon 0-300 ms in, record the spool, the state and the kernel at that
#     moment, restart it and let it finish. The submitters are python programs doing what the
#     client does (dot-file, mode 0660, rename, in the user's own spool directory incoming/UID;
#     no fsync: only the daemon dies here) that keep
#     each file open and read the verdict written into it, like `natwarden submit`. A name is
#     not submitted again before its previous submission is answered, so each name's verdicts
#     come in order and make a model of what must be live. After each round: every submission
#     has exactly one verdict that fits what it asked (none lost, none left in the spool, no
#     fragment with statements answered 'withdrawn', every must-reject rejected for its reason,
#     every acceptance listing exactly what was submitted); the saved state (snapshot and
#     journal replayed as daemon/state.h says) equals the model; the kernel equals the state
#     (nw_kernel against the elements the state implies: nothing missing, no orphans, no
#     duplicates); no two live fragments claim one port. Then crash points: SIGKILL at the
#     Nth call of each system call on the way from intake to verdict (strace fault injection;
#     skipped without strace); then 1,100 submissions waiting in the spool while the daemon is
#     down. Counts accepted, rejected, pending-at-a-kill-then-judged. At the end the status
#     file, state and kernel agree after a last restart.
#  2. Flush storm: 100 `nft flush ruleset` while submissions flow, and 50 one-second leases
#     end meanwhile: at the end the kernel equals the state, no valid submission was rejected
#     for the flush, no lease outlived its time.
#  3. Reload storm: 100 SIGHUPs alternating two valid policies (A and B allow the first user
#     different ports) with broken ones (syntax, missing key, unknown key, world-writable,
#     duplicate section) while submissions flow: every verdict must come from A or B (each
#     rejection quotes the allowed ports of the policy that judged it), the second user (the
#     same in A and B) is always served, the daemon never exits, each reload is logged once as
#     "reloaded" or "reload failed", the last valid policy is in force at the end.
#  4. Lease clock: 200 fragments with leases of 2-4 s (20 renewed after about a second) while
#     the other user's traffic flows; each must leave the kernel after its lease ends, within
#     one second (kernel polled every 50 ms; the daemon's "expired" lines stamped as they are
#     written); prints the worst lateness.
#
# The daemon runs with 1024 open files at most (soft and hard), as under its unit. Prints the
# seed: NW_SEED=N reproduces the plans and the kill delays (not the timing).
#
# Environment:
#   NW_HEAVY=1     the long run (about 5 minutes): 60 crash rounds of 2,000 submissions,
#                  3 crash rounds of 100,000-submission bursts (distinct names), 20,000
#                  waiting at a restart, 1,000 flushes, 1,000 reloads, 1,000 leases
#   NW_ROUNDS, NW_BURST, NW_BIG_ROUNDS, NW_BIG_BURST, NW_WAITING, NW_FLUSHES, NW_RELOADS,
#   NW_LEASES      each count alone (defaults 20, 1000, 0, 100000, 1100, 100, 100, 200)
#   NW_SEED        the seed
#   NW_PARTS       the parts to run (default "1 2 3 4")
. "$(dirname "$0")/lib.sh"
nw_init
command -v python3 >/dev/null || skip_all "needs python3"
command -v jq >/dev/null || skip_all "needs jq"

if [ "${NW_HEAVY:-0}" = 1 ]; then
	: "${NW_ROUNDS:=60}" "${NW_BURST:=2000}" "${NW_BIG_ROUNDS:=3}" "${NW_BIG_BURST:=100000}"
	: "${NW_WAITING:=20000}" "${NW_FLUSHES:=1000}" "${NW_RELOADS:=1000}" "${NW_LEASES:=1000}"
fi
ROUNDS=${NW_ROUNDS:-20}
BURST=${NW_BURST:-1000}
BIG_ROUNDS=${NW_BIG_ROUNDS:-0}
BIG_BURST=${NW_BIG_BURST:-100000}
WAITING=${NW_WAITING:-1100}
FLUSHES=${NW_FLUSHES:-100}
RELOADS=${NW_RELOADS:-100}
LEASES=${NW_LEASES:-200}
PARTS=${NW_PARTS:-1 2 3 4}
SEED=${NW_SEED:-$((RANDOM * 32768 + RANDOM))}
RANDOM=$SEED
T0=$(date +%s)

nw_setup
diag "seed $SEED; $ROUNDS crash rounds of $BURST submissions, $BIG_ROUNDS of $BIG_BURST, $WAITING waiting at a restart, $FLUSHES flushes, $RELOADS reloads, $LEASES leases"
# The daemon gets 1024 descriptors, soft and hard: what a service gets from systemd without
# LimitNOFILE= (soft 1024), with no way up (the unit's system-call filter denies setrlimit).
if [ "${NW_VALGRIND:-}" = 1 ]; then
	diag "under valgrind the daemon has the shell's descriptor limit ($(ulimit -n))"
else
	cat >"$NW_T/natwardend" <<-SH
	#!/bin/sh
	ulimit -n 1024 || exit 1
	exec "$NW_DAEMON" "\$@"
	SH
	chmod 0755 "$NW_T/natwardend"
	NW_DAEMON=$NW_T/natwardend
fi
UID1=$(id -u "$NW_U1")
UID2=$(id -u "$NW_U2")
P=$NW_T/pub # the writers' outputs: theirs, readable by the test
mkdir -m 1777 "$P"
H=$NW_T/nwr.py
cat >"$H" <<'PY'
#!/usr/bin/env python3
# robustness.sh's helper: the submitters' side (run as a test user) and every check (as root).
import json, os, random, re, resource, subprocess, sys, time

MAGIC = b"natwarden-verdict 1\n"


def now_ms():
    return time.time_ns() // 1000000


def parse_verdict(data):
    if not data.startswith(MAGIC):
        return None
    v = {"verdict": "", "renewed": False, "expires": 0, "live": [], "reasons": []}
    for line in data[len(MAGIC):].decode(errors="replace").split("\n"):
        k, _, val = line.partition(" ")
        if k in ("fragment", "user", "verdict"):
            v[k] = val
        elif k == "renewed":
            v["renewed"] = val == "yes"
        elif k == "expires":
            v["expires"] = int(val or 0)
        elif k == "live":
            v["live"].append(val)
        elif k == "reason":
            v["reasons"].append(val)
    return v


# ---- the submitter: the client's protocol, many at a time ------------------------------------
#
# writer INCOMING PLAN OUT DEADLINE_S PACE_MS STOPFILE (INCOMING: the user's own incoming/UID)
# For each plan item: wait until no earlier submission of that name is still unanswered (so a
# name's verdicts come in submission order and no submission replaces another unanswered),
# write a dot-file (mode 0660), rename it to the name, keep it open. An answered submission is
# one the daemon unlinked: its verdict is read from the open descriptor. One JSON line per
# submission: answered (with the verdict), lost (unlinked without a verdict), pending (still
# linked at the deadline), error (could not be submitted).
def writer(incoming, plan_path, out_path, deadline_s, pace_ms, stop_file):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    cap = max(16, min(hard, 1 << 20) - 64)  # open submissions at most
    dfd = os.open(incoming, os.O_PATH | os.O_DIRECTORY)
    plan = [json.loads(line) for line in open(plan_path)]
    out = open(out_path, "w", buffering=1)
    end = time.monotonic() + float(deadline_s)
    pace = float(pace_ms) / 1000.0
    inflight = {}
    since = 0
    stopped = False
    dropped = 0

    def emit(rec):
        out.write(json.dumps(rec) + "\n")

    def harvest():
        for name in list(inflight):
            rec = inflight[name]
            try:
                st = os.fstat(rec["fd"])
            except OSError:
                continue
            if st.st_nlink:
                continue
            data = os.pread(rec["fd"], 70000, 0)
            os.close(rec.pop("fd"))
            del inflight[name]
            rec["t_done"] = now_ms()
            v = parse_verdict(data)
            if v is None:
                rec["state"] = "lost"
                rec["content"] = data[:200].decode(errors="replace")
            else:
                rec["state"] = "answered"
                rec.update(v)
            emit(rec)

    for item in plan:
        if stop_file != "-" and os.path.exists(stop_file):
            stopped = True
            break
        if time.monotonic() > end:
            break
        if item.get("delay_ms"):
            t = time.monotonic() + item["delay_ms"] / 1000.0
            while time.monotonic() < t:
                harvest()
                time.sleep(0.005)
        while (item["name"] in inflight or len(inflight) >= cap) and time.monotonic() < end:
            harvest()
            if item["name"] in inflight or len(inflight) >= cap:
                time.sleep(0.003)
        if item["name"] in inflight or len(inflight) >= cap:
            break
        tmp = ".%s.%d.%d" % (item["name"], os.getpid(), item["i"])
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o660,
                     dir_fd=dfd)
        os.fchmod(fd, 0o660)
        os.write(fd, item["body"].encode())
        rec = {k: v for k, v in item.items() if k != "body"}
        rec["ino"] = os.fstat(fd).st_ino
        try:
            os.rename(tmp, item["name"], src_dir_fd=dfd, dst_dir_fd=dfd)
        except OSError as e:
            # the directory is this user's alone: no one else's file can stand in the way
            os.unlink(tmp, dir_fd=dfd)
            os.close(fd)
            rec["state"] = "error"
            rec["err"] = "rename: %s" % os.strerror(e.errno)
            emit(rec)
            continue
        rec["t_drop"] = now_ms()
        rec["fd"] = fd
        dropped += 1
        inflight[item["name"]] = rec
        since += 1
        if since >= max(16, len(inflight) // 8):
            harvest()
            since = 0
        if pace:
            time.sleep(pace)
    while inflight and time.monotonic() < end:
        harvest()
        if inflight:
            time.sleep(0.005)
    for rec in inflight.values():
        st = os.fstat(rec["fd"])
        os.close(rec.pop("fd"))
        rec["state"] = "pending"
        rec["nlink"] = st.st_nlink
        emit(rec)
    emit({"end": True, "stopped": stopped, "t": now_ms(), "dropped": dropped, "planned": len(plan),
          "user": plan[0]["user"] if plan else ""})


SHORT = []  # writers that submitted less than planned without being told to stop


def read_outs(paths):
    recs, ends = [], 0
    for p in paths:
        try:
            for line in open(p):
                r = json.loads(line)
                if r.get("end"):
                    ends += 1
                    if not r["stopped"] and r["dropped"] != r["planned"]:
                        SHORT.append("%s submitted %d of %d planned before its deadline" % (
                            r["user"], r["dropped"], r["planned"]))
                else:
                    recs.append(r)
        except FileNotFoundError:
            pass
    return recs, ends


# ---- plans ------------------------------------------------------------------------------------

U1_MASQ = ["192.168.1.241", "192.168.1.242", "192.168.1.250", "192.168.1.240/30",
           "192.168.1.244/30", "192.168.1.248/30", "192.168.1.252/30"]
U1_PORTS = [443, 8080] + list(range(8000, 8040)) + list(range(30000, 30040))
U2_PORTS = [8080] + list(range(9000, 9040))


def overlaps(used, proto, lo, hi):
    return any(p == proto and not (hi < a or lo > b) for p, a, b in used)


def masq_covers(prefix, target):
    """Is the dnat target ("ADDR" or "ADDR:PORT") inside the masquerade prefix?"""
    import ipaddress
    return ipaddress.ip_address(target.split(":")[0]) in ipaddress.ip_network(prefix)


def stmts_u1(rng, used=None, n=None):
    used = set() if used is None else used
    stmts = []
    for _ in range(n or rng.randint(1, 3)):
        proto = rng.choice(["tcp", "udp"])
        if rng.random() < 0.25:
            lo = 30050 + 5 * rng.randint(0, 9)
            hi = lo + rng.randint(1, 3)
            if overlaps(used, proto, lo, hi):
                continue
            used.add((proto, lo, hi))
            stmts.append("dnat %s %d-%d to 192.168.1.%d" % (proto, lo, hi, rng.randint(241, 254)))
        else:
            p = rng.choice(U1_PORTS)
            if overlaps(used, proto, p, p):
                continue
            used.add((proto, p, p))
            tgt = "192.168.1.%d" % rng.randint(241, 254)
            if rng.random() < 0.4:
                tgt += ":%d" % rng.randint(10000, 20000)
            stmts.append("dnat %s %d to %s" % (proto, p, tgt))
    if n is None and rng.random() < 0.3:
        # a masquerade applies only to its own fragment's forwards: one that covers one of them
        fits = [m for m in U1_MASQ if any(masq_covers(m, s.split()[4]) for s in stmts)]
        if fits:
            stmts.append("masquerade " + rng.choice(fits))
    return stmts


def stmts_u2(rng, used=None, n=None):
    used = set() if used is None else used
    stmts = []
    for _ in range(n or rng.randint(1, 3)):
        if rng.random() < 0.25:
            lo = 9100 + 5 * rng.randint(0, 9)
            hi = lo + rng.randint(1, 3)
            if overlaps(used, "tcp", lo, hi):
                continue
            used.add(("tcp", lo, hi))
            stmts.append("dnat tcp %d-%d to 192.168.2.%d" % (lo, hi, rng.randint(1, 254)))
        else:
            p = rng.choice(U2_PORTS)
            if overlaps(used, "tcp", p, p):
                continue
            used.add(("tcp", p, p))
            tgt = "192.168.2.%d" % rng.randint(1, 254)
            if rng.random() < 0.4:
                tgt += ":%d" % rng.randint(10000, 20000)
            stmts.append("dnat tcp %d to %s" % (p, tgt))
    return stmts


def bad_stmts(u1, u2, tag):
    # (kind, statement, its (proto, port), the reason it must draw)
    if tag == "u1":
        return [("reject-port", "dnat tcp 7070 to 192.168.1.241", ("tcp", 7070),
                 "port 7070 is not allowed for %s (allowed: " % u1),
                ("reject-dest", "dnat tcp 8001 to 10.0.0.1", ("tcp", 8001),
                 "destination 10.0.0.1 is outside %s's destinations (" % u1),
                ("reject-anchor", "dnat tcp 80 to 192.168.1.243", ("tcp", 80),
                 "tcp port 80 is already forwarded by %s's fragment 'anchor'" % u1),
                ("reject-reserved", "dnat udp 53 to 192.168.1.244", ("udp", 53),
                 "port 53 is reserved")]
    return [("reject-proto", "dnat udp 9001 to 192.168.2.5", ("udp", 9001),
             "protocol udp is not allowed for %s" % u2),
            ("reject-masq", "masquerade 192.168.2.0/24", ("masq", 0),
             "masquerade is not allowed for %s" % u2),
            ("reject-anchor", "dnat tcp 80 to 192.168.2.7", ("tcp", 80),
             "tcp port 80 is already forwarded by %s's fragment 'anchor'" % u1),
            ("reject-reserved", "dnat tcp 22 to 192.168.2.8", ("tcp", 22), "port 22 is reserved")]


def gen_mixed(rng, tag, u1, u2, n, names, unique_prefix=None, rnd=""):
    """Submissions of one user: new fragments and replacements, withdrawals, identical
    resubmissions, and some that must be rejected whatever the order (policy, the anchor)."""
    gen = stmts_u1 if tag == "u1" else stmts_u2
    last, plan = {}, []
    for i in range(n):
        name = "%s%05d" % (unique_prefix, i) if unique_prefix else rng.choice(names)
        head = "# %s %s #%d\n" % (rnd, tag, i)
        x = rng.random()
        item = {"i": i, "name": name}
        if x < 0.15:
            item.update(kind="withdraw", stmts=[], body=rng.choice(["", head]))
            last.pop(name, None)
        elif x < 0.20 and name in last:
            item.update(kind="identical", stmts=last[name])
            item["body"] = head + "".join(s + "\n" for s in last[name])
        elif x < 0.45:
            kind, bad, key, reason = rng.choice(bad_stmts(u1, u2, tag))
            used = {(key[0], key[1], key[1])}
            good = gen(rng, used, 1)
            stmts = good + [bad] if rng.random() < 0.5 else [bad] + good
            line = stmts.index(bad) + 2
            item.update(kind=kind, stmts=stmts, expect="%s:%d: %s" % (name, line, reason))
            item["body"] = head + "".join(s + "\n" for s in stmts)
        else:
            stmts = gen(rng)
            if not stmts:
                stmts = gen(rng, None, 1)
            item.update(kind="valid", stmts=stmts, body=head + "".join(s + "\n" for s in stmts))
            last[name] = stmts
        plan.append(item)
    return plan


def write_plan(path, plan):
    with open(path, "w") as f:
        for item in plan:
            f.write(json.dumps(item) + "\n")
    os.chmod(path, 0o644)


def cmd_plan(seed, rnd, tag, u1, u2, n, pool, unique):
    """plan SEED ROUND TAG U1 U2 N POOL UNIQUE OUT"""
    rng = random.Random("%s-%s-%s" % (seed, rnd, tag))
    prefix = "a" if tag == "u1" else "b"
    names = ["%s%03d" % (prefix, k) for k in range(int(pool))] + ["s0", "s1", "s2", "s3"]
    uniq = (prefix + "x" + str(rnd) + "-") if unique == "1" else None
    return gen_mixed(rng, tag, u1, u2, int(n), names, uniq, "r%s" % rnd)


# ---- state, kernel, status --------------------------------------------------------------------

def fnv1a(data):
    h = 0xcbf29ce484222325
    for c in data:
        h = ((h ^ c) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def replay(path, frags):
    """Apply the committed batches of one state file (format: daemon/state.h) to frags, as
    state_load() does: records count only with their batch's "commit N CHECKSUM" line; the
    first thing that is not part of a valid batch ends the file. Returns the bytes ignored
    after the last complete batch (a batch being written when the daemon died)."""
    try:
        data = open(path, "rb").read()
    except FileNotFoundError:
        return 0
    p = start = 0
    n = len(data)
    pend = []
    while p < n:
        nl = data.find(b"\n", p)
        if nl < 0:
            break
        line = data[p:nl]
        if line.startswith(b"commit "):
            w = line.split(b" ")
            try:
                good = len(w) == 3 and int(w[1]) == len(pend) and int(w[2], 16) == fnv1a(data[start:p])
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
            stmts = [l for l in body.split("\n") if l and not l.startswith("lease ")]
            pend.append(("put", "%d-%s" % (uid, w[5]), {"uid": uid, "user": w[4], "accepted": accepted,
                                                        "expires": expires, "stmts": stmts}))
        elif w[0] == "del" and len(w) == 3:
            pend.append(("del", "%s-%s" % (w[1], w[2]), None))
        else:
            break
    return n - start


def read_state(statedir, tails=None):
    """The saved fragments: the snapshot, then the journal. Keys "UID-NAME"."""
    frags = {}
    for f in ("snapshot", "journal"):
        tail = replay("%s/%s" % (statedir, f), frags)
        if tails is not None and tail:
            tails.append("%s: %d bytes after its last complete batch" % (f, tail))
    return frags


def kernel_of(frags):
    """What the kernel must hold for these fragments, as nw_kernel prints it."""
    lines = []
    for f in frags.values():
        masqs = [s.split()[1] for s in f["stmts"] if s.startswith("masquerade ")]
        for s in f["stmts"]:
            w = s.split()
            if w[0] == "dnat":
                proto, port, tgt = w[1], w[2], w[4]
                if "-" in port or ":" in tgt:
                    lines.append("%s %s %s" % (proto, port, tgt))
                else:
                    lines.append("%s %s %s:%s" % (proto, port, tgt, port))
                if any(masq_covers(m, tgt) for m in masqs):
                    lines.append("masq %s %s" % (proto, port))
    return sorted(lines)


def claims(frags):
    """Two live fragments claiming one protocol and port: list them."""
    seen, bad = [], []
    for fname, f in sorted(frags.items()):
        for s in f["stmts"]:
            w = s.split()
            if w[0] != "dnat":
                continue
            lo, _, hi = w[2].partition("-")
            lo, hi = int(lo), int(hi or lo)
            for (p, a, b, other) in seen:
                if p == w[1] and not (hi < a or lo > b):
                    bad.append("%s and %s both claim %s %s" % (other, fname, w[1], w[2]))
            seen.append((w[1], lo, hi, fname))
    return bad


def read_lines(path):
    try:
        return sorted(l for l in open(path).read().split("\n") if l)
    except FileNotFoundError:
        return ["<missing>"]


def diff(got, want, limit=12):
    g, w = set(got), set(want)
    out = ["only in the kernel/state compared: " + x for x in sorted(g - w)[:limit]]
    out += ["missing: " + x for x in sorted(w - g)[:limit]]
    if not out and got != want:
        out.append("same elements, different multiplicity (duplicates)")
    return out


def status_view(path):
    rows, kv = [], {}
    for line in open(path).read().split("\n"):
        f = line.split("\t")
        if f[0] == "dnat" and len(f) == 7:
            rows.append("%s %s dnat %s %s %s exp=%s" % tuple(f[1:7]))
        elif f[0] == "masquerade" and len(f) == 5:
            rows.append("%s %s masquerade %s exp=%s" % tuple(f[1:5]))
        elif len(f) == 2:
            kv[f[0]] = f[1]
    return sorted(rows), kv


def status_of(frags):
    rows = []
    for fname, f in frags.items():
        name = fname.split("-", 1)[1]
        exp = (f["expires"] + 999) // 1000 if f["expires"] else 0
        for s in f["stmts"]:
            w = s.split()
            if w[0] == "dnat":
                tgt = w[4] if ("-" in w[2] or ":" in w[4]) else "%s:%s" % (w[4], w[2])
                rows.append("%s %s dnat %s %s %s exp=%d" % (f["user"], name, w[1], w[2], tgt, exp))
            else:
                pfx = w[1] if "/" in w[1] else w[1] + "/32"
                rows.append("%s %s masquerade %s exp=%d" % (f["user"], name, pfx, exp))
    return sorted(rows)


class Tap:
    def ok(self, cond, desc, details=()):
        print(("OK " if cond else "NOK ") + desc)
        if not cond:
            for d in list(details)[:25]:
                print("#   " + str(d))
        return cond

    def todo(self, cond, desc, why, details=()):
        print(("TODO-OK " if cond else "TODO-NOK ") + desc + "\t" + why)
        if not cond:
            for d in list(details)[:10]:
                print("#   " + str(d))

    def diag(self, text):
        print("# " + text)


T = Tap()


def load_json(path, default):
    try:
        return json.load(open(path))
    except FileNotFoundError:
        return default


def save_json(path, obj):
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f)
    os.rename(path + ".tmp", path)


# ---- snapshot at the moment of a kill -----------------------------------------------------

def spool_dirs(t):
    """(kind, path): every submitter's incoming/UID, then work."""
    users = [("incoming", e.path) for e in os.scandir("%s/spool/incoming" % t) if e.is_dir()]
    return users + [("work", "%s/spool/work" % t)]


def cmd_snapshot(t, out):
    snap = {"incoming": [], "work": [], "state_tmp": 0}
    for d, path in spool_dirs(t):
        for e in os.scandir(path):
            if e.name.startswith("."):
                continue  # a client's temporary file: not submitted yet
            st = e.stat(follow_symlinks=False)
            head = b""
            try:
                with open(e.path, "rb") as f:
                    head = f.read(len(MAGIC))
            except OSError:
                pass
            snap[d].append({"name": e.name, "ino": st.st_ino, "size": st.st_size,
                            "verdict": head == MAGIC})
    snap["state_tmp"] = sum(1 for e in os.scandir("%s/state" % t) if e.name.startswith("."))
    tails = []
    frags = read_state("%s/state" % t, tails)
    snap["state_torn"] = tails
    snap["derived"] = kernel_of(frags)
    save_json(out, snap)


# ---- verdicts against what was asked ----------------------------------------------------------

ALLOWED_REJECT = [re.compile(r"is already forwarded by "), re.compile(r"active fragments \(max_fragments = "),
                  re.compile(r"is over max_rules = ")]


def judge_records(recs, snap, counts, model, uids):
    """Check each submission's verdict against what it asked; update the model (uid-name ->
    statements) in the order of each name's verdicts. Returns (problems, truncated, lost)."""
    problems, truncated, lost = [], [], []
    pend = {}
    if snap:
        for e in snap["incoming"]:
            pend[(e["ino"], e["name"])] = e
        for e in snap["work"]:
            pend[(e["ino"], e["name"].split("-", 2)[-1])] = e  # SEQ-UID-NAME
    recs = sorted(recs, key=lambda r: (r["user"], r["i"]))
    for r in recs:
        who = "%s %s #%d (%s)" % (r["user"], r["name"], r["i"], r.get("kind"))
        key = "%d-%s" % (uids[r["user"]], r["name"])
        at_kill = pend.get((r.get("ino"), r["name"]))
        if at_kill is not None:
            counts["pending_at_kill"] = counts.get("pending_at_kill", 0) + 1
            if at_kill["verdict"]:
                counts["answered_not_removed_at_kill"] = counts.get("answered_not_removed_at_kill", 0) + 1
        if r["state"] != "answered":
            (lost if r["state"] == "lost" else problems).append(
                "%s: %s %r" % (who, r["state"], r.get("content", r.get("err", ""))))
            counts[r["state"]] = counts.get(r["state"], 0) + 1
            model.pop(key, None)
            model.setdefault("?unknown", []).append(key)
            continue
        if at_kill is not None:
            counts["pending_then_judged"] = counts.get("pending_then_judged", 0) + 1
        v = r["verdict"]
        counts[v] = counts.get(v, 0) + 1
        if r.get("renewed"):
            counts["renewed"] = counts.get("renewed", 0) + 1
        if r["kind"] == "withdraw":
            if v == "withdrawn":
                model.pop(key, None)
            else:
                problems.append("%s: an empty fragment was answered %s %s" % (who, v, r["reasons"]))
            continue
        if v == "withdrawn":
            if at_kill is not None and at_kill["size"] == 0 and not at_kill["verdict"]:
                truncated.append("%s: %s submitted, answered 'withdrawn'; at the kill its file in "
                                 "work was empty (truncated for the verdict, not yet written)" % (who, r["stmts"]))
            else:
                problems.append("%s: a fragment with statements was answered 'withdrawn'" % who)
            model.pop(key, None)
            continue
        if v == "accepted":
            if r["kind"].startswith("reject"):
                problems.append("%s: accepted, but must be rejected (%s)" % (who, r.get("expect")))
            if r["live"] != r["stmts"]:
                problems.append("%s: live %s, submitted %s" % (who, r["live"], r["stmts"]))
            model[key] = r["live"]
            continue
        if v != "rejected":
            problems.append("%s: unknown verdict %r" % (who, v))
            continue
        if r["kind"].startswith("reject"):
            if r["expect"] not in r["reasons"] and not any(x.startswith(r["expect"]) for x in r["reasons"]):
                problems.append("%s: rejected without the reason %r: %s" % (who, r["expect"], r["reasons"]))
            counts["rejected_by_policy"] = counts.get("rejected_by_policy", 0) + 1
        else:
            odd = [x for x in r["reasons"] if not any(p.search(x) for p in ALLOWED_REJECT)]
            if odd:
                problems.append("%s: rejected for an unexpected reason: %s" % (who, odd))
                counts["rejected_odd"] = counts.get("rejected_odd", 0) + 1
            else:
                counts["rejected_conflict_or_quota"] = counts.get("rejected_conflict_or_quota", 0) + 1
    return problems, truncated, lost


def check_state(t, kernel_file, model):
    """The saved state against the model; the kernel against the state; claims; the spool."""
    tails = []
    state = read_state("%s/state" % t, tails)
    problems = ["state " + x for x in tails]
    unknown = set(model.get("?unknown", []))
    for k in sorted(set(state) | set(model) - {"?unknown"}):
        if k in unknown:
            continue
        want = model.get(k)
        got = state[k]["stmts"] if k in state else None
        if want != got:
            problems.append("state %s: %s, the verdicts say %s" % (k, got, want))
    for k in unknown:  # submissions without a verdict: believe the state from here on
        if k in state:
            model[k] = state[k]["stmts"]
        else:
            model.pop(k, None)
    model.pop("?unknown", None)
    kern = read_lines(kernel_file)
    want = kernel_of(state)
    kproblems = diff(kern, want)
    if len(set(kern)) != len(kern):
        kproblems.append("duplicate lines in the kernel listing")
    cl = claims(state)
    spool = [e.name for _, path in spool_dirs(t) for e in os.scandir(path)
             if not e.name.startswith(".")]
    tmp = [e.name for e in os.scandir("%s/state" % t) if e.name.startswith(".")]
    return state, problems, kproblems, cl, spool, tmp


def cmd_check_round(t, label, u1, u2, uid1, uid2, kernel_file, snap_file, kernel_kill_file, outs,
                    todo_trunc="", todo_lost=""):
    uids = {u1: int(uid1), u2: int(uid2)}
    counts = load_json("%s/counts.json" % t, {})
    model = load_json("%s/model.json" % t, {})
    snap = None
    if snap_file != "-":
        snap = load_json(snap_file, None)
    recs, ends = read_outs(outs)
    problems, truncated, lost = judge_records(recs, snap, counts, model, uids)
    problems += SHORT
    if not todo_lost:
        problems += lost
    if ends != len(outs):
        problems.append("%d of %d writers did not finish (killed at their deadline?)" % (len(outs) - ends, len(outs)))
    if snap is not None:
        kk = read_lines(kernel_kill_file)
        counts["rounds"] = counts.get("rounds", 0) + 1
        if snap["incoming"] or snap["work"]:
            counts["rounds_kill_with_spool"] = counts.get("rounds_kill_with_spool", 0) + 1
        if snap["state_tmp"] or snap["state_torn"]:
            counts["rounds_kill_during_save"] = counts.get("rounds_kill_during_save", 0) + 1
        if kk != snap["derived"]:
            counts["rounds_state_ahead_of_kernel"] = counts.get("rounds_state_ahead_of_kernel", 0) + 1
        if any(e["verdict"] for e in snap["work"]):
            counts["rounds_kill_while_answering"] = counts.get("rounds_kill_while_answering", 0) + 1
    state, sproblems, kproblems, cl, spool, tmp = check_state(t, kernel_file, model)
    save_json("%s/model.json" % t, model)
    trunc_all = counts.get("truncated", []) + ["%s: %s" % (label.split(" (SIGKILL")[0], x) for x in truncated]
    counts["truncated"] = trunc_all
    save_json("%s/counts.json" % t, counts)
    n = len(recs)
    acc = sum(1 for r in recs if r.get("verdict") == "accepted")
    rej = sum(1 for r in recs if r.get("verdict") == "rejected")
    wd = sum(1 for r in recs if r.get("verdict") == "withdrawn")
    tail = ""
    if snap is not None:
        tail = ", %d in the spool at the kill" % (len(snap["incoming"]) + len(snap["work"]))
    T.ok(not problems, "%s: each of %d submissions has its verdict (%d accepted, %d withdrawn, %d rejected%s), "
         "consistent with what it asked" % (label, n, acc, wd, rej, tail), problems)
    if todo_lost:
        T.todo(not lost, todo_lost, "EMFILE: a batch opens more files than RLIMIT_NOFILE allows", lost)
    if todo_trunc:
        T.todo(not truncated, todo_trunc, "truncate-before-write window in spool_finish()", truncated)
    T.ok(not sproblems and not kproblems and not cl and not spool and not tmp,
         "%s: saved state = the verdicts (%d fragments), kernel = saved state (%d elements), "
         "no double claims, spool drained" % (label, len(state), len(kernel_of(state))),
         sproblems + ["kernel: " + x for x in kproblems] + cl +
         ["left in the spool: %s" % spool[:10]] * bool(spool) + ["left in state: %s" % tmp] * bool(tmp))


def cmd_agree(t, kernel_file):
    state = read_state("%s/state" % t)
    rows, kv = status_view("%s/run/status" % t)
    want = status_of(state)
    problems = diff(rows, want)
    users = len(set(f["user"] for f in state.values()))
    stmts = sum(len(f["stmts"]) for f in state.values())
    for k, v in (("fragments", len(state)), ("mappings", stmts), ("users", users)):
        if kv.get(k) != str(v):
            problems.append("status %s = %s, state has %d" % (k, kv.get(k), v))
    kern = read_lines(kernel_file)
    kp = diff(kern, kernel_of(state))
    T.ok(not problems and not kp, "status file, saved state and kernel agree (%d fragments, %d mappings, "
         "%d kernel elements)" % (len(state), stmts, len(kern)), problems + ["kernel: " + x for x in kp])


def cmd_counts(t):
    c = load_json("%s/counts.json" % t, {})
    T.diag("crash rounds: %d; the kill found submissions in the spool in %d, a state save under way in %d, "
           "the state ahead of the kernel (saved, not yet applied) in %d, verdicts written but not yet "
           "removed in %d" % (c.get("rounds", 0), c.get("rounds_kill_with_spool", 0),
                              c.get("rounds_kill_during_save", 0), c.get("rounds_state_ahead_of_kernel", 0),
                              c.get("rounds_kill_while_answering", 0)))
    T.diag("submissions: %d accepted (%d of them renewals), %d withdrawn, %d rejected (%d by policy or the "
           "anchor as they must be, %d by conflicts or quotas, %d for other reasons)" % (
               c.get("accepted", 0), c.get("renewed", 0), c.get("withdrawn", 0), c.get("rejected", 0),
               c.get("rejected_by_policy", 0), c.get("rejected_conflict_or_quota", 0), c.get("rejected_odd", 0)))
    T.diag("pending at a kill, then judged after the restart: %d (of them %d already answered, not yet "
           "removed); lost: %d; still pending: %d" % (
               c.get("pending_then_judged", 0), c.get("answered_not_removed_at_kill", 0), c.get("lost", 0),
               c.get("pending", 0)))


# ---- the reload storm ------------------------------------------------------------------------------

def cmd_plan_reload(seed, u1, u2, n1, n2, out1, out2):
    rng = random.Random("%s-reload" % seed)
    p1, p2 = [], []
    for i in range(int(n1)):
        port = rng.randint(8500, 8620)
        name = "p%d" % port
        stmts = ["dnat tcp %d to 192.168.1.%d" % (port, 241 + i % 10)]
        p1.append({"i": i, "user": u1, "name": name, "kind": "port", "port": port, "stmts": stmts,
                   "body": "# reload #%d\n%s\n" % (i, stmts[0])})
    for i in range(int(n2)):
        port = rng.randint(9200, 9399)
        name = "q%d" % port
        if rng.random() < 0.15:
            p2.append({"i": i, "user": u2, "name": name, "kind": "withdraw", "stmts": [], "body": ""})
        else:
            stmts = ["dnat tcp %d to 192.168.2.%d" % (port, 1 + i % 250)]
            p2.append({"i": i, "user": u2, "name": name, "kind": "valid", "stmts": stmts,
                       "body": "# reload #%d\n%s\n" % (i, stmts[0])})
    write_plan(out1, p1)
    write_plan(out2, p2)


def in_list(port, text):
    for part in text.split(", "):
        lo, _, hi = part.partition("-")
        if int(lo) <= port <= int(hi or lo):
            return True
    return False


def cmd_check_reload(t, u1, u2, list_a, list_b, out1, out2):
    recs1, e1 = read_outs([out1])
    recs2, e2 = read_outs([out2])
    problems = []
    by = {"A": 0, "B": 0, "A or B": 0}
    rx = re.compile(r"^p(\d+):2: port (\d+) is not allowed for %s \(allowed: (.*)\)$" % re.escape(u1))
    for r in recs1:
        who = "%s %s #%d" % (u1, r["name"], r["i"])
        if r["state"] != "answered":
            problems.append("%s: %s" % (who, r["state"]))
            continue
        p = r["port"]
        pol = {n for n, l in (("A", list_a), ("B", list_b)) if in_list(p, l)}
        if r["verdict"] == "accepted":
            if not pol:
                problems.append("%s: port %d accepted, but neither valid policy allows it" % (who, p))
            elif r["live"] != r["stmts"]:
                problems.append("%s: live %s" % (who, r["live"]))
            else:
                by[" or ".join(sorted(pol))] += 1
        elif r["verdict"] == "rejected":
            lists = set()
            for x in r["reasons"]:
                m = rx.match(x)
                if not m or int(m.group(2)) != p or m.group(3) not in (list_a, list_b) or in_list(p, m.group(3)):
                    problems.append("%s: rejected with a reason no valid policy gives: %s" % (who, x))
                else:
                    lists.add("A" if m.group(3) == list_a else "B")
            if len(lists) == 1:
                by[lists.pop()] += 1
        else:
            problems.append("%s: %s" % (who, r["verdict"]))
    acc2 = 0
    for r in recs2:
        who = "%s %s #%d" % (u2, r["name"], r["i"])
        want = "withdrawn" if r["kind"] == "withdraw" else "accepted"
        if r["state"] != "answered" or r["verdict"] != want:
            problems.append("%s: %s %s %s (want %s)" % (who, r["state"], r.get("verdict"), r.get("reasons"), want))
        else:
            acc2 += 1
    if e1 + e2 != 2:
        problems.append("a writer did not finish")
    problems += SHORT
    T.ok(not problems, "reload storm: every one of %d submissions was judged by valid policy A or B "
         "(%s judged under A, %d under B, %d either; %d of %s's submissions answered as asked)" % (
             len(recs1) + len(recs2), by["A"], by["B"], by["A or B"], acc2, u2), problems)


def cmd_policy_only(t, list_final, u1):
    state = read_state("%s/state" % t)
    bad = []
    for k, f in state.items():
        if f["user"] != u1:
            continue
        for s in f["stmts"]:
            w = s.split()
            if w[0] == "dnat" and not in_list(int(w[2].split("-")[0]), list_final):
                bad.append("%s: %s" % (k, s))
    T.ok(not bad, "after the storm only what the policy in force allows is live (%d fragments)" % len(state), bad)


# ---- leases ---------------------------------------------------------------------------------------

def cmd_plan_lease(user, n, renew, out):
    """N fragments with leases of 2-4 s, one port each; the first RENEW resubmitted unchanged
    after a second (a renewal: the lease restarts)."""
    plan = []
    n, renew = int(n), int(renew)
    # ports no other part uses: 8000-8039 and 8080 are part 1's, 8950-8999 part 2's, 8500-8620 part 3's
    free = [p for p in range(8040, 8950) if not 8500 <= p <= 8620 and p != 8080]
    keys = [("tcp", p) for p in free] + [("udp", p) for p in free]
    for i in range(n):
        lease = 2 + i % 3
        proto, port = keys[i]
        stmts = ["dnat %s %d to 192.168.1.%d" % (proto, port, 241 + i % 10)]
        plan.append({"i": i, "user": user, "name": "l%04d" % i, "kind": "lease", "port": port, "proto": proto,
                     "lease": lease, "stmts": stmts, "body": "%s\nlease %d\n" % (stmts[0], lease)})
    for j in range(renew):
        item = dict(plan[3 * j + 2])  # a 4 s lease, renewed after about a second
        item["i"] = n + j
        item["kind"] = "renew"
        if j == 0:
            item["delay_ms"] = 1000
        plan.append(item)
    write_plan(out, plan)
    save_json(out + ".ports", [list(k) for k in keys[:n]])
    os.chmod(out + ".ports", 0o644)


def cmd_plan_flush_leases(user, n, out):
    """Fragments with a one-second lease, to end while the ruleset is being flushed."""
    plan = []
    for i in range(int(n)):
        stmts = ["dnat udp %d to 192.168.1.%d" % (8950 + i, 241 + i % 10)]
        plan.append({"i": i, "user": user, "name": "lf%02d" % i, "kind": "lease", "stmts": stmts,
                     "body": "%s\nlease 1\n" % stmts[0]})
    write_plan(out, plan)


def cmd_flush_leases(t, out, uid1):
    recs, ends = read_outs([out])
    state = read_state("%s/state" % t)
    stuck = sorted(k.split("-", 1)[1] for k in state if k.startswith(uid1 + "-lf"))
    accepted = sum(1 for r in recs if r.get("verdict") == "accepted")
    problems = ["%s: still live after its lease ended" % n for n in stuck] + SHORT
    problems += ["%s: %s %s" % (r["name"], r.get("verdict", r["state"]), r.get("reasons")) for r in recs
                 if r.get("verdict") != "accepted" and not any("the kernel refused" in x for x in r.get("reasons", []))]
    if ends != 1:
        problems.append("the writer did not finish")
    T.ok(not problems and accepted > 0,
         "each of %d one-second leases that ended during the flush storm ended (%d accepted), none left live"
         % (len(recs), accepted), problems)
    print("STUCK " + " ".join(stuck))


def cmd_plan_traffic(seed, user, n, out):
    rng = random.Random("%s-traffic" % seed)
    plan = []
    for i in range(int(n)):
        port = rng.randint(9400, 9999)
        name = "t%d" % port
        if rng.random() < 0.3:
            plan.append({"i": i, "user": user, "name": name, "kind": "withdraw", "stmts": [], "body": ""})
        else:
            stmts = ["dnat tcp %d to 192.168.2.%d" % (port, 1 + i % 250)]
            plan.append({"i": i, "user": user, "name": name, "kind": "valid", "stmts": stmts, "body": stmts[0] + "\n"})
    write_plan(out, plan)


def cmd_lease_watch(ns, table, ports_file, out, max_s, stop_file):
    """Poll dnat_port every 50 ms: per watched element, when first seen, last seen, first seen gone."""
    want = set(tuple(x) for x in json.load(open(ports_file)))
    seen = {}
    end = time.monotonic() + float(max_s)
    polls = 0
    worst_poll = 0
    while time.monotonic() < end:
        t0 = now_ms()
        try:
            j = json.loads(subprocess.run(["ip", "netns", "exec", ns, "nft", "-j", "list", "map", "inet", table,
                                           "dnat_port"], capture_output=True, timeout=5).stdout or b"{}")
        except Exception:
            j = {}
        t1 = now_ms()
        worst_poll = max(worst_poll, t1 - t0)
        polls += 1
        present = set()
        for obj in j.get("nftables", []):
            m = obj.get("map")
            if m:
                for el in m.get("elem", []):
                    k = el[0]["concat"]
                    present.add((k[0], int(k[1])))
        tm = (t0 + t1) // 2
        for k in want:
            s = seen.setdefault("%s %d" % k, {})
            if k in present:
                s.setdefault("first", tm)
                s["last"] = t0
                s.pop("gone", None)
            elif "first" in s and "gone" not in s:
                s["gone"] = t1
        if all("gone" in s for s in seen.values()) and len(seen) == len(want):
            break
        if stop_file != "-" and os.path.exists(stop_file):
            break
        time.sleep(max(0, 0.05 - (now_ms() - t0) / 1000))
    save_json(out, {"seen": seen, "polls": polls, "worst_poll_ms": worst_poll})


def cmd_log_follow(log, out, stop_file):
    """Stamp each new line of the daemon's log with the time it was read (every 10 ms)."""
    f = open(log, "rb")
    f.seek(0, 2)
    o = open(out, "a", buffering=1)
    buf = b""
    while not os.path.exists(stop_file):
        chunk = f.read()
        if chunk:
            buf += chunk
            t = now_ms()
            *lines, buf = buf.split(b"\n")
            for line in lines:
                o.write("%d %s\n" % (t, line.decode(errors="replace")))
        else:
            time.sleep(0.01)


def cmd_check_lease(u1, outs_file, watch_file, stamped_log, max_late_ms, todo_late=""):
    recs, ends = read_outs([outs_file])
    watch = load_json(watch_file, {"seen": {}})
    problems, late_problems, late_k, late_l = [], [], [], []
    final, lives = {}, {}
    late_renewals = []
    for r in sorted(recs, key=lambda r: r["i"]):
        if r["state"] != "answered" or r["verdict"] != "accepted":
            problems.append("%s #%d: %s %s %s" % (r["name"], r["i"], r["state"], r.get("verdict"), r.get("reasons")))
            continue
        lives[r["name"]] = lives.get(r["name"], 0) + 1
        if r["kind"] == "renew":
            first = final.get(r["name"])
            judged = r["expires"] - r["lease"] * 1000  # when the daemon judged it
            if first and judged < first["expires"]:
                if not r["renewed"]:
                    problems.append("%s: judged %d ms before its lease ended, but not a renewal"
                                    % (r["name"], first["expires"] - judged))
                lives[r["name"]] -= 1  # the same life, extended
            elif first:
                late = "%s: submitted %d ms before its lease ended, judged %d ms after it" % (
                    r["name"], first["expires"] - r["t_drop"], judged - first["expires"])
                if r["t_drop"] < first["expires"] - 300:
                    late_renewals.append(late)
                else:
                    T.diag("a renewal came too close to the end of its lease to count: " + late)
                if r["renewed"]:
                    problems.append("%s: judged after its lease ended, yet called a renewal" % r["name"])
        final[r["name"]] = r
    logged = {}
    rx = re.compile(r"^(\d+) <\d>expired %s's fragment '(l\d+)'$" % re.escape(u1))
    for line in open(stamped_log):
        m = rx.match(line.rstrip("\n"))
        if m:
            logged.setdefault(m.group(2), []).append(int(m.group(1)))
    renewed = 0
    for name, r in sorted(final.items()):
        key = "%s %d" % (r["proto"], r["port"])
        s = watch["seen"].get(key, {})
        exp = r["expires"]
        if "first" not in s:
            problems.append("%s: never seen in the kernel" % name)
            continue
        if "gone" not in s:
            late_problems.append("%s: still in the kernel %d ms after its lease ended" % (name, s["last"] - exp))
            continue
        if s["gone"] < exp:
            problems.append("%s: gone at %d, before its lease ended at %d (%d ms early)" % (name, s["gone"], exp, exp - s["gone"]))
        if s["last"] > exp + max_late_ms:
            late_problems.append("%s: still in the kernel %d ms after its lease ended" % (name, s["last"] - exp))
        late_k.append((s["gone"] - exp, name))
        ls = logged.get(name, [])
        if len(ls) != lives[name]:
            problems.append("%s: logged as expired %d times, lived %d times" % (name, len(ls), lives[name]))
        if ls:
            late_l.append((ls[-1] - exp, name))
            if ls[-1] - exp > max_late_ms:
                late_problems.append("%s: logged as expired %d ms after its lease ended" % (name, ls[-1] - exp))
        if r["kind"] == "renew" and r["renewed"]:
            renewed += 1
    extra = sorted(set(logged) - set(final))
    if extra:
        problems.append("expired, but not submitted with a lease: %s" % extra[:5])
    if ends != 1:
        problems.append("the lease writer did not finish")
    problems += SHORT
    late_k.sort()
    late_l.sort()
    T.ok(not problems and len(final) > 0,
         "each of %d leases (%d renewed on the way) left the kernel, none before its time, each logged "
         "as expired once per life" % (len(final), renewed), problems)
    desc = "each lease left the kernel within %d ms of its end (worst %d ms)" % (
        max_late_ms, late_k[-1][0] if late_k else -1)
    if todo_late:
        T.todo(not late_problems, desc, todo_late, late_problems)
    else:
        T.ok(not late_problems, desc, late_problems)
    n_renew = sum(1 for r in recs if r.get("kind") == "renew")
    desc = "each of %d renewals, submitted at least 300 ms before its lease ended, renewed it (was judged in time)" % n_renew
    if todo_late:
        T.todo(not late_renewals, desc, todo_late, late_renewals)
    else:
        T.ok(not late_renewals, desc, late_renewals)
    if late_k:
        T.diag("lease lateness seen in the kernel (50 ms polls, upper bound): median %d ms, worst %d ms (%s); "
               "%d polls, slowest poll %d ms" % (late_k[len(late_k) // 2][0], late_k[-1][0], late_k[-1][1],
                                                 watch.get("polls", 0), watch.get("worst_poll_ms", 0)))
    if late_l:
        T.diag("lease lateness of the 'expired' log lines (10 ms reads): median %d ms, worst %d ms (%s)"
               % (late_l[len(late_l) // 2][0], late_l[-1][0], late_l[-1][1]))


def cmd_check_flow(t, label, u1, u2, outs, counts_file):
    """Verdicts of free-flowing traffic (no kills): all answered, as asked; the model is updated."""
    recs, ends = read_outs(outs)
    model = load_json("%s/model.json" % t, {})
    counts = {}
    uids = json.load(open("%s/uids.json" % t))
    problems, _, lost = judge_records(recs, None, counts, model, uids)
    problems += lost + SHORT
    kernel_refused = [r for r in recs if r.get("verdict") == "rejected"
                      and any("the kernel refused" in x for x in r["reasons"])]
    if ends != len(outs):
        problems.append("a writer did not finish")
    save_json("%s/model.json" % t, model)
    save_json(counts_file, counts)
    odd_other = [p for p in problems if "the kernel refused" not in p]
    T.ok(not odd_other, "%s: each of %d submissions has its verdict (%d accepted, %d withdrawn, %d rejected), "
         "consistent with what it asked" % (label, len(recs), counts.get("accepted", 0), counts.get("withdrawn", 0),
                                           counts.get("rejected", 0)), odd_other)
    return kernel_refused


def main():
    a = sys.argv[1:]
    cmd = a.pop(0)
    if cmd == "writer":
        writer(*a)
    elif cmd == "plan":
        seed, rnd, tag, u1, u2, n, pool, unique, out = a
        plan = cmd_plan(seed, rnd, tag, u1, u2, n, pool, unique)
        for item in plan:
            item["user"] = u1 if tag == "u1" else u2
        write_plan(out, plan)
    elif cmd == "snapshot":
        cmd_snapshot(a[0], a[1])
        snap = load_json(a[1], None)
        snap["t_kill"] = int(a[2])
        save_json(a[1], snap)
    elif cmd == "names":
        print("\n".join(sorted(read_state(a[0]))))
    elif cmd == "derive":
        print("\n".join(kernel_of(read_state(a[0]))))
    elif cmd == "model-init":
        t = a[0]
        save_json("%s/model.json" % t, {k: f["stmts"] for k, f in read_state("%s/state" % t).items()})
        save_json("%s/uids.json" % t, {a[1]: int(a[2]), a[3]: int(a[4])})
    elif cmd == "check-round":
        t, label, u1, u2, uid1, uid2, kf, sf, kkf, todo, todo_lost = a[:11]
        cmd_check_round(t, label, u1, u2, uid1, uid2, kf, sf, kkf, a[11:], todo, todo_lost)
    elif cmd == "check-flow":
        t, label, u1, u2, counts_file, outs = a[0], a[1], a[2], a[3], a[4], a[5:]
        refused = cmd_check_flow(t, label, u1, u2, outs, counts_file)
        print("REFUSED %d" % len(refused))
        for r in refused[:5]:
            print("#   %s %s #%d: %s" % (r["user"], r["name"], r["i"], r["reasons"][0]))
    elif cmd == "check-state":
        t, kf, label, use_model = a
        if use_model == "model":
            model = load_json("%s/model.json" % t, {})
        else:
            model = {k: f["stmts"] for k, f in read_state("%s/state" % t).items()}
        state, sp, kp, cl, spool, tmp = check_state(t, kf, model)
        if use_model == "model":
            save_json("%s/model.json" % t, model)
        T.ok(not sp and not kp and not cl and not spool and not tmp,
             "%s: %skernel = saved state (%d fragments, %d elements), no double claims, spool drained" % (
                 label, "saved state = the verdicts, " if use_model == "model" else "", len(state),
                 len(kernel_of(state))),
             sp + ["kernel: " + x for x in kp] + cl + ["left in the spool: %s" % spool[:10]] * bool(spool)
             + ["left in state: %s" % tmp] * bool(tmp))
    elif cmd == "agree":
        cmd_agree(a[0], a[1])
    elif cmd == "counts":
        cmd_counts(a[0])
    elif cmd == "truncated":
        c = load_json("%s/counts.json" % a[0], {})
        T.ok(not c.get("truncated"), a[1], c.get("truncated", []))
    elif cmd == "plan-reload":
        cmd_plan_reload(*a)
    elif cmd == "check-reload":
        cmd_check_reload(*a)
    elif cmd == "policy-only":
        cmd_policy_only(*a)
    elif cmd == "plan-lease":
        cmd_plan_lease(*a)
    elif cmd == "plan-flush-leases":
        cmd_plan_flush_leases(*a)
    elif cmd == "flush-leases":
        cmd_flush_leases(*a)
    elif cmd == "plan-traffic":
        cmd_plan_traffic(*a)
    elif cmd == "lease-watch":
        cmd_lease_watch(*a)
    elif cmd == "log-follow":
        cmd_log_follow(*a)
    elif cmd == "check-lease":
        cmd_check_lease(a[0], a[1], a[2], a[3], int(a[4]), a[5] if len(a) > 5 else "")
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    try:
        main()
    except Exception:
        import traceback
        print("NOK the test's helper failed: %s" % " ".join(sys.argv[1:3]))
        for line in traceback.format_exc().split("\n"):
            print("#   " + line)
        sys.exit(1)
PY

# ---- harness ------------------------------------------------------------------------------------

# The helper's lines to TAP: "OK desc", "NOK desc", "TODO-OK|TODO-NOK desc<TAB>why", diagnostics.
tap() {
	local line kind rest
	while IFS= read -r line; do
		case $line in
		"OK "*) ok "${line#OK }" ;;
		"NOK "*) not_ok "${line#NOK }" ;;
		"TODO-OK "* | "TODO-NOK "*)
			kind=${line%% *}
			rest=${line#* }
			NW_TAP_N=$((NW_TAP_N + 1))
			if [ "$kind" = TODO-OK ]; then
				echo "ok $NW_TAP_N - ${rest%%$'\t'*} # TODO ${rest#*$'\t'}"
			else
				echo "not ok $NW_TAP_N - ${rest%%$'\t'*} # TODO ${rest#*$'\t'}"
			fi
			;;
		*) echo "$line" ;;
		esac
	done
}


# writer USER PLAN OUT DEADLINE PACE_MS STOPFILE: a submitter in the background; W is its pid.
writer() {
	setpriv --reuid="$1" --regid="$(id -g "$1")" --init-groups --reset-env -- \
		python3 "$H" writer "$NW_T/spool/incoming/$(id -u "$1")" "$2" "$3" "$4" "$5" "$6" 2>>"$P/writer-errors.log" &
	W=$!
	NW_PIDS+=("$W")
}

# wait_pids SECONDS PID...: wait for our background processes, at most that long; then kill them.
wait_pids() {
	local secs=$1 p alive
	shift
	for _ in $(seq $((secs * 20))); do
		alive=0
		for p; do nw_ours "$p" && alive=1; done
		[ "$alive" = 0 ] && break
		sleep 0.05
	done
	for p; do
		if nw_ours "$p"; then
			diag "process $p still running after $secs s: killed"
			kill -9 "$p" 2>/dev/null
		fi
		wait "$p" 2>/dev/null
	done
}

# Is our daemon running (our child, not a zombie)? kill -0 cannot tell.
daemon_running() { nw_ours "${NW_DPID:-}"; }

# SIGKILL our daemon (its pid, checked to be natwardend), and reap it. DIED counts the times it
# was already gone (unless told that was expected); KILLED_RC is how it ended.
DIED=0
kill_daemon() {
	if ! daemon_running; then
		if [ "${1:-}" != expected ]; then
			DIED=$((DIED + 1))
			diag "the daemon ($NW_DPID) was already gone before the kill"
		fi
	else
		kill -9 "$NW_DPID"
	fi
	wait "$NW_DPID" 2>/dev/null
	KILLED_RC=$?
	NW_DPID=
}

log_count() { grep -c -- "$1" "$NW_T/daemon.log"; }

kernel_is_state() { [ "$(nw_kernel 2>/dev/null)" = "$(python3 "$H" derive "$NW_T/state" | sort)" ]; }

# install FILE MODE: atomically, as an administrator would (write beside, rename over)
install_policy() {
	cp "$1" "$NW_T/policy.ini.new" && chmod "$2" "$NW_T/policy.ini.new" &&
		mv -f "$NW_T/policy.ini.new" "$NW_T/policy.ini"
}
# reloads logged since byte LOG_OFF of the log (grep the whole log each time: too slow when heavy)
LOG_OFF=0
reloads() { tail -c +$((LOG_OFF + 1)) "$NW_T/daemon.log" | grep -c -E '^<[0-9]>(reloaded |reload failed)'; }
reloaded_since() { [ "$(log_count '^<[0-9]>reloaded ')" -gt "$1" ]; }

# entries waiting in the submitters' directories (incoming/UID), dot-files aside
spool_count() { find "$NW_T/spool/incoming" -mindepth 2 -maxdepth 2 ! -name '.*' | wc -l; }

# Both users send bursts (hundreds at once, 50,000 in a heavy big round, thousands a minute):
# every policy here raises their spool limits and submission rate to the maximum, so that no
# burst is refused unjudged (those limits are tested elsewhere).
flood_policy() {
	local limits='max_spool_entries = 100000\nmax_spool_bytes = 1073741824'
	limits+='\nmax_submissions_per_minute = 1000000'
	nw_policy "" && sed -i "/^max_rules = /a $limits" "$NW_T/policy.ini"
}
NW_MAX_FRAGMENTS=5000 NW_MAX_RULES=20000 flood_policy
cp "$NW_T/policy.ini" "$NW_T/policy-big.ini"
NW_MAX_FRAGMENTS=40 NW_MAX_RULES=100 flood_policy # quotas that some submissions hit
nw_start || { not_ok "the daemon starts"; exit 1; }
out=$(printf 'dnat tcp 80 to 192.168.1.250\n' | nw_submit "$NW_U1" anchor)
is "$?" 0 "$NW_U1's 'anchor' holds tcp/80 (every other claim of it must be rejected)"
python3 "$H" model-init "$NW_T" "$NW_U1" "$UID1" "$NW_U2" "$UID2"
part() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }

# ---- 1. crash consistency ----------------------------------------------------------------------

if part 1; then

# crash_round ROUND LABEL PER-USER POOL UNIQUE DEADLINE
crash_round() {
	local r=$1 label=$2 n=$3 pool=$4 uniq=$5 deadline=$6 delay w1 w2 t_kill
	python3 "$H" plan "$SEED" "$r" u1 "$NW_U1" "$NW_U2" "$n" "$pool" "$uniq" "$P/plan-$r-u1"
	python3 "$H" plan "$SEED" "$r" u2 "$NW_U1" "$NW_U2" "$n" "$pool" "$uniq" "$P/plan-$r-u2"
	writer "$NW_U1" "$P/plan-$r-u1" "$P/out-$r-u1" "$deadline" 0 -
	w1=$W
	writer "$NW_U2" "$P/plan-$r-u2" "$P/out-$r-u2" "$deadline" 0 -
	w2=$W
	delay=$((RANDOM % 301))
	sleep "$(printf '0.%03d' "$delay")"
	t_kill=$(nw_ms)
	kill_daemon
	python3 "$H" snapshot "$NW_T" "$P/snap-$r" "$t_kill"
	nw_kernel >"$P/kernel-kill-$r"
	if ! nw_start; then
		not_ok "$label: the daemon restarts after SIGKILL"
		wait_pids 1 "$w1" "$w2"
		return 1
	fi
	wait_pids "$deadline" "$w1" "$w2"
	nw_wait_for 10 nw_spool_empty
	nw_kernel >"$P/kernel-$r"
	tap < <(python3 "$H" check-round "$NW_T" "$label (SIGKILL after $delay ms)" "$NW_U1" "$NW_U2" \
		"$UID1" "$UID2" "$P/kernel-$r" "$P/snap-$r" "$P/kernel-kill-$r" "" "" "$P/out-$r-u1" "$P/out-$r-u2")
}

t1=$(date +%s)
for r in $(seq "$ROUNDS"); do
	crash_round "$r" "crash round $r/$ROUNDS, $BURST submissions" $((BURST / 2)) 48 0 60 || break
done
if [ "$BIG_ROUNDS" -gt 0 ]; then
	install_policy "$NW_T/policy-big.ini" 0644 # no quota: what is accepted is up to the ports
	n0=$(log_count '^<[0-9]>reloaded ')
	kill -HUP "$NW_DPID"
	check "a policy without tight quotas is in force for the big rounds" nw_wait_for 3 reloaded_since "$n0"
fi
for r in $(seq "$BIG_ROUNDS"); do
	crash_round "big$r" "big crash round $r/$BIG_ROUNDS, $BIG_BURST submissions (distinct names)" \
		$((BIG_BURST / 2)) 0 1 900 || break
done

# Crash points: SIGKILL exactly at the Nth call of a system call the daemon makes on its way
# from intake to verdict (strace's fault injection): taking an entry into work (rename), the
# state save (the journal's fdatasync), the kernel transaction (sendmsg), the verdict
# (pwrite, ftruncate), removing the entry (unlinkat).
crash_point() { # crash_point ROUND SYSCALLS WHEN
	local r=$1 sc=$2 when=$3 st w1 w2 t_kill hit
	python3 "$H" plan "$SEED" "$r" u1 "$NW_U1" "$NW_U2" 60 48 0 "$P/plan-$r-u1"
	python3 "$H" plan "$SEED" "$r" u2 "$NW_U1" "$NW_U2" 60 48 0 "$P/plan-$r-u2"
	strace -q -p "$NW_DPID" -e trace="$sc" -e inject="$sc":signal=KILL:when="$when" -o /dev/null 2>>"$P/strace.log" &
	st=$!
	NW_PIDS+=("$st")
	sleep 0.5 # attached
	writer "$NW_U1" "$P/plan-$r-u1" "$P/out-$r-u1" 60 0 -
	w1=$W
	writer "$NW_U2" "$P/plan-$r-u2" "$P/out-$r-u2" 60 0 -
	w2=$W
	exec 4>&2 2>/dev/null # bash would say "Killed" when it reaps the daemon
	for _ in $(seq 200); do daemon_running || break; sleep 0.05; done
	hit="at call $when of $sc"
	daemon_running && hit="after 10 s: call $when of $sc never came"
	t_kill=$(nw_ms)
	kill_daemon expected
	exec 2>&4 4>&-
	[ "$KILLED_RC" = 137 ] || diag "the daemon ended with status $KILLED_RC (137: SIGKILL)"
	wait_pids 3 "$st"
	python3 "$H" snapshot "$NW_T" "$P/snap-$r" "$t_kill"
	nw_kernel >"$P/kernel-kill-$r"
	if ! nw_start; then
		not_ok "crash point $r: the daemon restarts after SIGKILL"
		wait_pids 1 "$w1" "$w2"
		return 1
	fi
	wait_pids 60 "$w1" "$w2"
	nw_wait_for 10 nw_spool_empty
	nw_kernel >"$P/kernel-$r"
	tap < <(python3 "$H" check-round "$NW_T" "crash point: SIGKILL $hit" "$NW_U1" "$NW_U2" \
		"$UID1" "$UID2" "$P/kernel-$r" "$P/snap-$r" "$P/kernel-kill-$r" "" "" "$P/out-$r-u1" "$P/out-$r-u2")
}
if command -v strace >/dev/null && strace -q -e inject=getpid:error=EPERM true 2>/dev/null; then
	k=0
	for point in renameat,renameat2:1 renameat,renameat2:40 fdatasync:1 fdatasync:2 \
		sendmsg:1 sendmsg:2 ftruncate:1 ftruncate:5 pwrite64:1 pwrite64:5 unlinkat:1 unlinkat:5; do
		k=$((k + 1))
		crash_point "point$k" "${point%:*}" "${point##*:}" || break
	done
else
	ok "crash points # SKIP needs strace with fault injection"
fi

# A spool full of submissions waiting for a daemon that is down: more files than fit in one
# batch's worth of descriptors (the daemon has 1024, a batch is up to 1024 files).
r=waiting
python3 "$H" plan "$SEED" "$r" u1 "$NW_U1" "$NW_U2" $((WAITING / 2)) 0 1 "$P/plan-$r-u1"
python3 "$H" plan "$SEED" "$r" u2 "$NW_U1" "$NW_U2" $((WAITING / 2)) 0 1 "$P/plan-$r-u2"
t_kill=$(nw_ms)
kill_daemon
writer "$NW_U1" "$P/plan-$r-u1" "$P/out-$r-u1" 300 0 -
w1=$W
writer "$NW_U2" "$P/plan-$r-u2" "$P/out-$r-u2" 300 0 -
w2=$W
for _ in $(seq 1200); do [ "$(spool_count)" -ge $((WAITING / 2 * 2)) ] && break; sleep 0.05; done
is "$(spool_count)" $((WAITING / 2 * 2)) "$((WAITING / 2 * 2)) submissions wait in the spool while the daemon is down"
python3 "$H" snapshot "$NW_T" "$P/snap-$r" "$t_kill"
nw_kernel >"$P/kernel-kill-$r"
nw_start || not_ok "the daemon starts with a full spool"
wait_pids 300 "$w1" "$w2"
nw_wait_for 30 nw_spool_empty
nw_kernel >"$P/kernel-$r"
tap < <(python3 "$H" check-round "$NW_T" "$((WAITING / 2 * 2)) submissions waiting at a restart" "$NW_U1" "$NW_U2" \
	"$UID1" "$UID2" "$P/kernel-$r" "$P/snap-$r" "$P/kernel-kill-$r" "" "" "$P/out-$r-u1" "$P/out-$r-u2")
is "$(log_count 'Too many open files')" 0 "no submission was refused for lack of file descriptors"

python3 "$H" counts "$NW_T"
diag "the daemon died on its own before a kill in $DIED rounds; crash part took $(($(date +%s) - t1)) s"
is "$DIED" 0 "the daemon never died except by our SIGKILL"
tap < <(python3 "$H" truncated "$NW_T" \
	"no submission with statements was answered 'withdrawn' after a kill (its file emptied for the verdict)")

# After a last restart with nothing in the spool, the status file, state and kernel agree.
kill_daemon
nw_start || not_ok "the daemon restarts a last time"
nw_kernel >"$P/kernel-final1"
tap < <(python3 "$H" agree "$NW_T" "$P/kernel-final1")
check "the restarted daemon left nothing in the spool" nw_spool_empty
fi

# ---- 2. flush storm ----------------------------------------------------------------------------

if part 2; then
t2=$(date +%s)
install_policy "$NW_T/policy-big.ini" 0644 # room for everything: no quota in the way
n0=$(log_count '^<[0-9]>reloaded ')
kill -HUP "$NW_DPID"
check "a policy without tight quotas is in force for the flush storm" nw_wait_for 3 reloaded_since "$n0"
rm -f "$P/stop-flush"
python3 "$H" plan "$SEED" flush u1 "$NW_U1" "$NW_U2" 5000 48 0 "$P/plan-flush-u1"
python3 "$H" plan "$SEED" flush u2 "$NW_U1" "$NW_U2" 5000 48 0 "$P/plan-flush-u2"
restored0=$(log_count 'was changed or removed by someone else')
writer "$NW_U1" "$P/plan-flush-u1" "$P/out-flush-u1" 120 2 "$P/stop-flush"
w1=$W
writer "$NW_U2" "$P/plan-flush-u2" "$P/out-flush-u2" 120 2 "$P/stop-flush"
w2=$W
python3 "$H" plan-flush-leases "$NW_U1" 50 "$P/plan-flush-leases"
writer "$NW_U1" "$P/plan-flush-leases" "$P/out-flush-leases" 60 40 -
w3=$W
sleep 0.2
flushed=0
for _ in $(seq "$FLUSHES"); do
	ip netns exec "$NW_NS" nft flush ruleset && flushed=$((flushed + 1))
	sleep "$(printf '0.%03d' $((RANDOM % 21)))"
done
touch "$P/stop-flush"
wait_pids 120 "$w1" "$w2" "$w3"
is "$flushed" "$FLUSHES" "$FLUSHES flushes of the whole ruleset ran while submissions flowed"
check "the daemon survived the flush storm" nw_alive
nw_wait_for 10 nw_spool_empty
check "within 3 s of the last flush the kernel holds exactly the saved state" nw_wait_for 3 kernel_is_state
python3 "$H" check-flow "$NW_T" "flush storm" "$NW_U1" "$NW_U2" "$P/counts-flush.json" \
	"$P/out-flush-u1" "$P/out-flush-u2" >"$P/flow-flush"
refused=$(sed -n 's/^REFUSED //p' "$P/flow-flush")
tap < <(grep -v '^REFUSED ' "$P/flow-flush")
is "${refused:-?}" 0 "no valid submission was rejected because someone flushed the ruleset meanwhile"
sleep 2 # the last one-second lease has ended
python3 "$H" flush-leases "$NW_T" "$P/out-flush-leases" "$UID1" >"$P/flush-leases"
tap < <(grep -v '^STUCK' "$P/flush-leases")
sed -n 's/^STUCK //p' "$P/flush-leases" | tr ' ' '\n' | while read -r name; do
	[ -n "$name" ] && nw_withdraw "$NW_U1" "$name" >/dev/null # out of the way of the checks below
done
nw_kernel >"$P/kernel-flush"
tap < <(python3 "$H" check-state "$NW_T" "$P/kernel-flush" "flush storm" model)
diag "flush storm: $flushed flushes, $(($(log_count 'was changed or removed by someone else') - restored0)) restores logged, $(jq -r '"\(.accepted // 0) accepted, \(.withdrawn // 0) withdrawn, \(.rejected // 0) rejected"' "$P/counts-flush.json") meanwhile; took $(($(date +%s) - t2)) s"
fi

# ---- 3. reload storm ---------------------------------------------------------------------------

if part 3; then
t3=$(date +%s)
LIST_A="80, 443, 8500-8549"
LIST_B="80, 443, 8550-8599"
cp "$NW_T/policy-big.ini" "$NW_T/policy-base.ini"
sed "s/^ports = 80, 443, 30000-30100, 8000-8999\$/ports = $LIST_A/" "$NW_T/policy-base.ini" >"$NW_T/policy-A.ini"
sed "s/^ports = 80, 443, 30000-30100, 8000-8999\$/ports = $LIST_B/" "$NW_T/policy-base.ini" >"$NW_T/policy-B.ini"
sed 's/^ports = 80, 8080, 9000-9999$/ports = 80, banana/' "$NW_T/policy-A.ini" >"$NW_T/policy-bad0.ini"
grep -v '^interface = ' "$NW_T/policy-A.ini" >"$NW_T/policy-bad1.ini"
sed 's/^\[wan\]$/[wan]\ncolour = blue/' "$NW_T/policy-A.ini" >"$NW_T/policy-bad2.ini"
cp "$NW_T/policy-A.ini" "$NW_T/policy-bad3.ini" # installed world-writable
{ cat "$NW_T/policy-A.ini"; printf '[submitter %s]\nports = 9000\ndestinations = 192.168.2.0/24\n' "$NW_U2"; } >"$NW_T/policy-bad4.ini"
check "policy A differs from the base" bash -c "! cmp -s '$NW_T/policy-A.ini' '$NW_T/policy-base.ini'"
check "policy B differs from A" bash -c "! cmp -s '$NW_T/policy-A.ini' '$NW_T/policy-B.ini'"
for b in 0 1 2 4; do
	check "broken policy $b differs from A" bash -c "! cmp -s '$NW_T/policy-A.ini' '$NW_T/policy-bad$b.ini'"
done

install_policy "$NW_T/policy-A.ini" 0644
n0=$(log_count '^<[0-9]>reloaded ')
kill -HUP "$NW_DPID"
check "policy A is in force before the storm" nw_wait_for 3 reloaded_since "$n0"
ok0=$(log_count '^<[0-9]>reloaded ')
failed0=$(log_count '^<[0-9]>reload failed')
LOG_OFF=$(stat -c %s "$NW_T/daemon.log")
python3 "$H" plan-reload "$SEED" "$NW_U1" "$NW_U2" $((RELOADS * 200)) $((RELOADS * 200)) "$P/plan-reload-u1" "$P/plan-reload-u2"
rm -f "$P/stop-reload"
writer "$NW_U1" "$P/plan-reload-u1" "$P/out-reload-u1" $((120 + RELOADS)) 3 "$P/stop-reload"
w1=$W
writer "$NW_U2" "$P/plan-reload-u2" "$P/out-reload-u2" $((120 + RELOADS)) 3 "$P/stop-reload"
w2=$W
sleep 0.2
dpid=$NW_DPID
unlogged=0
for i in $(seq "$RELOADS"); do
	if [ $((i % 2)) = 1 ]; then
		k=$(((i + 1) / 2))
		if [ $((k % 2)) = 1 ]; then install_policy "$NW_T/policy-A.ini" 0644; else install_policy "$NW_T/policy-B.ini" 0644; fi
	else
		b=$(((i / 2) % 5))
		if [ "$b" = 3 ]; then install_policy "$NW_T/policy-bad3.ini" 0666; else install_policy "$NW_T/policy-bad$b.ini" 0644; fi
	fi
	n0=$(reloads)
	kill -HUP "$dpid" 2>/dev/null || break
	# each SIGHUP is handled before the next (two pending SIGHUPs would be one)
	for _ in $(seq 100); do [ "$(reloads)" -gt "$n0" ] && break; sleep 0.01; done
	[ "$(reloads)" -gt "$n0" ] || unlogged=$((unlogged + 1))
	sleep "$(printf '0.%03d' $((RANDOM % 21)))"
done
touch "$P/stop-reload"
wait_pids $((120 + RELOADS)) "$w1" "$w2"
check "the daemon never exited during $RELOADS reloads" test "$(cat "/proc/$dpid/comm" 2>/dev/null)" = natwardend
is "$NW_DPID" "$dpid" "it is the same daemon process"
is "$unlogged" 0 "each SIGHUP was logged within a second"
is "$(($(log_count '^<[0-9]>reloaded ') - ok0))" $(((RELOADS + 1) / 2)) "$(((RELOADS + 1) / 2)) reloads of a valid policy logged as 'reloaded'"
is "$(($(log_count '^<[0-9]>reload failed') - failed0))" $((RELOADS / 2)) "$((RELOADS / 2)) reloads of a broken policy logged as 'reload failed'"
like "$(grep -A3 'colour' "$NW_T/daemon.log" | head -n 3)" "colour" "a broken policy's finding is logged with its line"
nw_wait_for 10 nw_spool_empty
tap < <(python3 "$H" check-reload "$NW_T" "$NW_U1" "$NW_U2" "$LIST_A" "$LIST_B" "$P/out-reload-u1" "$P/out-reload-u2")
k=$((RELOADS / 2 + RELOADS % 2))
if [ $((k % 2)) = 1 ]; then final=A final_list=$LIST_A; else final=B final_list=$LIST_B; fi
out=$(printf 'dnat tcp 8525 to 192.168.1.241\n' | nw_submit "$NW_U1" probe-a)
if [ "$final" = A ]; then
	like "$out" "^probe-a: accepted" "after the storm the last valid policy ($final) is in force: 8525 accepted"
else
	like "$out" "port 8525 is not allowed for $NW_U1 \(allowed: $LIST_B\)" "after the storm the last valid policy ($final) is in force: 8525 refused"
fi
tap < <(python3 "$H" policy-only "$NW_T" "$final_list" "$NW_U1")
nw_kernel >"$P/kernel-reload"
tap < <(python3 "$H" check-state "$NW_T" "$P/kernel-reload" "reload storm" -)
diag "reload storm: $RELOADS SIGHUPs, $(($(log_count '^<[0-9]>reloaded ') - ok0)) reloaded, $(($(log_count '^<[0-9]>reload failed') - failed0)) failed, $(log_count 'after a policy change') fragments revoked by reloads; took $(($(date +%s) - t3)) s"
fi

# ---- 4. lease clock ----------------------------------------------------------------------------

if part 4; then
t4=$(date +%s)
install_policy "$NW_T/policy-big.ini" 0644
n0=$(log_count '^<[0-9]>reloaded ')
kill -HUP "$NW_DPID"
check "a policy with room for the leases is in force" nw_wait_for 3 reloaded_since "$n0"
python3 "$H" model-init "$NW_T" "$NW_U1" "$UID1" "$NW_U2" "$UID2"
renew=$((LEASES / 10))
python3 "$H" plan-lease "$NW_U1" "$LEASES" "$renew" "$P/plan-lease"
python3 "$H" plan-traffic "$SEED" "$NW_U2" 20000 "$P/plan-traffic"
rm -f "$P/stop-traffic" "$P/stop-follow"
python3 "$H" log-follow "$NW_T/daemon.log" "$P/stamped.log" "$P/stop-follow" &
follower=$!
NW_PIDS+=("$follower")
writer "$NW_U2" "$P/plan-traffic" "$P/out-traffic" 120 5 "$P/stop-traffic"
wt=$W
sleep 0.3
watch_max=$((20 + LEASES / 50))
python3 "$H" lease-watch "$NW_NS" "$NW_TABLE" "$P/plan-lease.ports" "$P/watch.json" "$watch_max" - &
watcher=$!
NW_PIDS+=("$watcher")
writer "$NW_U1" "$P/plan-lease" "$P/out-lease" 60 0 -
wl=$W
wait_pids 60 "$wl"
wait_pids "$watch_max" "$watcher"
touch "$P/stop-traffic"
wait_pids 120 "$wt"
sleep 0.1
touch "$P/stop-follow"
wait_pids 2 "$follower"
tap < <(python3 "$H" check-lease "$NW_U1" "$P/out-lease" "$P/watch.json" "$P/stamped.log" 1000)
python3 "$H" check-flow "$NW_T" "traffic during the leases" "$NW_U1" "$NW_U2" "$P/counts-traffic.json" "$P/out-traffic" >"$P/flow-traffic"
tap < <(grep -v '^REFUSED ' "$P/flow-traffic")
nw_wait_for 10 nw_spool_empty
nw_kernel >"$P/kernel-lease"
tap < <(python3 "$H" check-state "$NW_T" "$P/kernel-lease" "after the leases" model)
is "$(python3 "$H" names "$NW_T/state" | grep -c "^$UID1-l[0-9]")" 0 "no leased fragment is left in the state"
diag "lease part took $(($(date +%s) - t4)) s"
fi

# ---- the end -----------------------------------------------------------------------------------

check "the daemon is still running" nw_alive
nw_wait_for 3 test -n "$(nw_status updated)"
nw_kernel >"$P/kernel-final"
tap < <(python3 "$H" agree "$NW_T" "$P/kernel-final")
diag "total run time $(($(date +%s) - T0)) s"
