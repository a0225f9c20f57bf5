# SPDX-License-Identifier: MIT
"""The helper of the robustness tests (robustness-crash.sh, robustness-storms.sh,
robustness-lease.sh, with robustness-lib.sh): the submitters' side, run as a test user (writer),
their plans, and every check, run as root. The verdicts, the state, the status file and the
kernel are read through nwtest.py. A check prints nwtest.Tap lines for lib.sh's nw_tap.

usage: python3 robustness.py COMMAND ARGS... (see main())
"""
import ipaddress
import json
import os
import random
import re
import resource
import sys
import time
import traceback

import nwtest
from nwtest import now_ms, read_state


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
    spool = nwtest.Spool(incoming)
    with open(plan_path) as f:
        plan = [json.loads(line) for line in f]
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
                if not nwtest.answered(rec["fd"]):
                    continue
            except OSError:
                continue
            data = nwtest.read_all(rec["fd"])
            os.close(rec.pop("fd"))
            del inflight[name]
            rec["t_done"] = now_ms()
            v = nwtest.parse_verdict(data)
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
        rec = {k: v for k, v in item.items() if k != "body"}
        try:
            fd = spool.submit(item["name"], item["body"].encode(), tag="w")
        except OSError as e:
            # the directory is this user's alone: no one else's file can stand in the way
            rec["state"] = "error"
            rec["err"] = "submit: %s" % os.strerror(e.errno)
            emit(rec)
            continue
        rec["ino"] = os.fstat(fd).st_ino
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
        nlink = os.fstat(rec["fd"]).st_nlink
        os.close(rec.pop("fd"))
        rec["state"] = "pending"
        rec["nlink"] = nlink
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


def plan_item(i, user, name, kind, stmts, body, **more):
    """One submission of a plan: its order, submitter, fragment name, kind ("valid", "withdraw",
    "port", "lease", "renew"), the statements it should put into the kernel and the text to
    submit (empty: withdraw the fragment); `more` adds what its kind needs (port, proto, lease)."""
    return {"i": i, "user": user, "name": name, "kind": kind, **more, "stmts": stmts, "body": body}


def valid_or_withdrawal(rng, share, i, user, name, stmt, body):
    """A withdrawal of `name` with the probability `share`, else `body`, which yields `stmt`."""
    if rng.random() < share:
        return plan_item(i, user, name, "withdraw", [], "")
    return plan_item(i, user, name, "valid", [stmt], body)


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
        with open(path) as f:
            return sorted(line for line in f.read().split("\n") if line)
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
    """The status file's mapping lines, as status_of() makes them, and its head records."""
    st = nwtest.read_status(path)
    rows = []
    for m in st["mappings"]:
        if m["kind"] == "dnat":
            rows.append("%s %s dnat %s %s %s exp=%s" % (
                m["user"], m["fragment"], m["proto"], m["ports"], m["target"], m["expires"]))
        else:
            rows.append("%s %s masquerade %s exp=%s" % (m["user"], m["fragment"], m["target"],
                                                        m["expires"]))
    return sorted(rows), st["head"]


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


T = nwtest.Tap()


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
                    head = f.read(len(nwtest.VERDICT_MAGIC))
            except OSError:
                pass
            snap[d].append({"name": e.name, "ino": st.st_ino, "size": st.st_size,
                            "verdict": nwtest.is_verdict(head)})
    snap["state_tmp"] = sum(1 for e in os.scandir("%s/state" % t) if e.name.startswith("."))
    tails = []
    frags = read_state("%s/state" % t, tails)
    snap["state_torn"] = tails
    snap["derived"] = kernel_of(frags)
    save_json(out, snap)


# ---- verdicts against what was asked ----------------------------------------------------------

ALLOWED_REJECT = [re.compile(r"is already forwarded by "),
                  re.compile(r"active fragments \(max_fragments = "),
                  re.compile(r"is over max_rules = ")]


def bump(counts, key):
    counts[key] = counts.get(key, 0) + 1


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
            bump(counts, "pending_at_kill")
            if at_kill["verdict"]:
                bump(counts, "answered_not_removed_at_kill")
        if r["state"] != "answered":
            (lost if r["state"] == "lost" else problems).append(
                "%s: %s %r" % (who, r["state"], r.get("content", r.get("err", ""))))
            bump(counts, r["state"])
            model.pop(key, None)
            model.setdefault("?unknown", []).append(key)
            continue
        if at_kill is not None:
            bump(counts, "pending_then_judged")
        v = r["verdict"]
        bump(counts, v)
        if r.get("renewed"):
            bump(counts, "renewed")
        if r["kind"] == "withdraw":
            if v == "withdrawn":
                model.pop(key, None)
            else:
                problems.append("%s: an empty fragment was answered %s %s" % (who, v, r["reasons"]))
            continue
        if v == "withdrawn":
            if at_kill is not None and at_kill["size"] == 0 and not at_kill["verdict"]:
                truncated.append("%s: %s submitted, answered 'withdrawn'; at the kill its file in "
                                 "work was empty (truncated for the verdict, not yet written)"
                                 % (who, r["stmts"]))
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
            if not any(x.startswith(r["expect"]) for x in r["reasons"]):
                problems.append("%s: rejected without the reason %r: %s"
                                % (who, r["expect"], r["reasons"]))
            bump(counts, "rejected_by_policy")
        else:
            odd = [x for x in r["reasons"] if not any(p.search(x) for p in ALLOWED_REJECT)]
            if odd:
                problems.append("%s: rejected for an unexpected reason: %s" % (who, odd))
                bump(counts, "rejected_odd")
            else:
                bump(counts, "rejected_conflict_or_quota")
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


def cmd_check_round(t, label, u1, u2, uid1, uid2, kernel_file, snap_file, kernel_kill_file, outs):
    uids = {u1: int(uid1), u2: int(uid2)}
    counts = load_json("%s/counts.json" % t, {})
    model = load_json("%s/model.json" % t, {})
    snap = None
    if snap_file != "-":
        snap = load_json(snap_file, None)
    recs, ends = read_outs(outs)
    problems, truncated, lost = judge_records(recs, snap, counts, model, uids)
    problems += SHORT + lost
    if ends != len(outs):
        problems.append("%d of %d writers did not finish (killed at their deadline?)"
                        % (len(outs) - ends, len(outs)))
    if snap is not None:
        kk = read_lines(kernel_kill_file)
        bump(counts, "rounds")
        if snap["incoming"] or snap["work"]:
            bump(counts, "rounds_kill_with_spool")
        if snap["state_tmp"] or snap["state_torn"]:
            bump(counts, "rounds_kill_during_save")
        if kk != snap["derived"]:
            bump(counts, "rounds_state_ahead_of_kernel")
        if any(e["verdict"] for e in snap["work"]):
            bump(counts, "rounds_kill_while_answering")
    state, sproblems, kproblems, cl, spool, tmp = check_state(t, kernel_file, model)
    save_json("%s/model.json" % t, model)
    round_label = label.split(" (SIGKILL")[0]
    counts["truncated"] = counts.get("truncated", []) + ["%s: %s" % (round_label, x)
                                                         for x in truncated]
    save_json("%s/counts.json" % t, counts)
    n = len(recs)
    acc = sum(1 for r in recs if r.get("verdict") == "accepted")
    rej = sum(1 for r in recs if r.get("verdict") == "rejected")
    wd = sum(1 for r in recs if r.get("verdict") == "withdrawn")
    tail = ""
    if snap is not None:
        tail = ", %d in the spool at the kill" % (len(snap["incoming"]) + len(snap["work"]))
    T.ok(not problems, "%s: each of %d submissions has its verdict (%d accepted, %d withdrawn, "
         "%d rejected%s), consistent with what it asked" % (label, n, acc, wd, rej, tail), problems)
    T.ok(not sproblems and not kproblems and not cl and not spool and not tmp,
         "%s: saved state = the verdicts (%d fragments), kernel = saved state (%d elements), "
         "no double claims, spool drained" % (label, len(state), len(kernel_of(state))),
         state_problems(sproblems, kproblems, cl, spool, tmp))


def state_problems(sproblems, kproblems, cl, spool, tmp):
    """check_state()'s findings, one line each."""
    return (sproblems + ["kernel: " + x for x in kproblems] + cl
            + ["left in the spool: %s" % spool[:10]] * bool(spool)
            + ["left in state: %s" % tmp] * bool(tmp))


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
    T.ok(not problems and not kp, "status file, saved state and kernel agree (%d fragments, "
         "%d mappings, %d kernel elements)" % (len(state), stmts, len(kern)),
         problems + ["kernel: " + x for x in kp])


def cmd_counts(t):
    c = load_json("%s/counts.json" % t, {})

    def n(*keys):
        return tuple(c.get(k, 0) for k in keys)

    T.diag("crash rounds: %d; the kill found submissions in the spool in %d, a state save under "
           "way in %d, the state ahead of the kernel (saved, not yet applied) in %d, verdicts "
           "written but not yet removed in %d"
           % n("rounds", "rounds_kill_with_spool", "rounds_kill_during_save",
               "rounds_state_ahead_of_kernel", "rounds_kill_while_answering"))
    T.diag("submissions: %d accepted (%d of them renewals), %d withdrawn, %d rejected (%d by "
           "policy or the anchor as they must be, %d by conflicts or quotas, %d for other reasons)"
           % n("accepted", "renewed", "withdrawn", "rejected", "rejected_by_policy",
               "rejected_conflict_or_quota", "rejected_odd"))
    T.diag("pending at a kill, then judged after the restart: %d (of them %d already answered, not "
           "yet removed); lost: %d; still pending: %d"
           % n("pending_then_judged", "answered_not_removed_at_kill", "lost", "pending"))


# ---- the reload storm ---------------------------------------------------------------------

def cmd_plan_reload(seed, u1, u2, n1, n2, out1, out2):
    rng = random.Random("%s-reload" % seed)
    p1, p2 = [], []
    for i in range(int(n1)):
        port = rng.randint(8500, 8620)
        name = "p%d" % port
        stmt = "dnat tcp %d to 192.168.1.%d" % (port, 241 + i % 10)
        p1.append(plan_item(i, u1, name, "port", [stmt], "# reload #%d\n%s\n" % (i, stmt),
                            port=port))
    for i in range(int(n2)):
        port = rng.randint(9200, 9399)
        stmt = "dnat tcp %d to 192.168.2.%d" % (port, 1 + i % 250)
        p2.append(valid_or_withdrawal(rng, 0.15, i, u2, "q%d" % port, stmt,
                                      "# reload #%d\n%s\n" % (i, stmt)))
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
    rx = re.compile(r"^p(\d+):2: port (\d+) is not allowed for %s \(allowed: (.*)\)$"
                    % re.escape(u1))
    for r in recs1:
        who = "%s %s #%d" % (u1, r["name"], r["i"])
        if r["state"] != "answered":
            problems.append("%s: %s" % (who, r["state"]))
            continue
        p = r["port"]
        pol = {name for name, ports in (("A", list_a), ("B", list_b)) if in_list(p, ports)}
        if r["verdict"] == "accepted":
            if not pol:
                problems.append("%s: port %d accepted, but neither valid policy allows it"
                                % (who, p))
            elif r["live"] != r["stmts"]:
                problems.append("%s: live %s" % (who, r["live"]))
            else:
                by[" or ".join(sorted(pol))] += 1
        elif r["verdict"] == "rejected":
            lists = set()
            for x in r["reasons"]:
                m = rx.match(x)
                if (not m or int(m.group(2)) != p or m.group(3) not in (list_a, list_b)
                        or in_list(p, m.group(3))):
                    problems.append("%s: rejected with a reason no valid policy gives: %s"
                                    % (who, x))
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
            problems.append("%s: %s %s %s (want %s)"
                            % (who, r["state"], r.get("verdict"), r.get("reasons"), want))
        else:
            acc2 += 1
    if e1 + e2 != 2:
        problems.append("a writer did not finish")
    problems += SHORT
    T.ok(not problems, "reload storm: every one of %d submissions was judged by valid policy A "
         "or B (%s judged under A, %d under B, %d either; %d of %s's submissions answered as "
         "asked)" % (len(recs1) + len(recs2), by["A"], by["B"], by["A or B"], acc2, u2), problems)


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
    T.ok(not bad, "after the storm only what the policy in force allows is live (%d fragments)"
         % len(state), bad)


# ---- leases -------------------------------------------------------------------------------

def cmd_plan_lease(user, n, renew, out):
    """N fragments with leases of 2-4 s, one port each; the first RENEW resubmitted unchanged
    after a second (a renewal: the lease restarts)."""
    plan = []
    n, renew = int(n), int(renew)
    # ports no other plan uses: 8000-8039 and 8080 are the crash rounds', 8950-8999 the flush
    # storm's, 8500-8620 the reload storm's
    free = [p for p in range(8040, 8950) if not 8500 <= p <= 8620 and p != 8080]
    keys = [("tcp", p) for p in free] + [("udp", p) for p in free]
    for i in range(n):
        lease = 2 + i % 3
        proto, port = keys[i]
        stmt = "dnat %s %d to 192.168.1.%d" % (proto, port, 241 + i % 10)
        plan.append(plan_item(i, user, "l%04d" % i, "lease", [stmt],
                              "%s\nlease %d\n" % (stmt, lease), port=port, proto=proto,
                              lease=lease))
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
        stmt = "dnat udp %d to 192.168.1.%d" % (8950 + i, 241 + i % 10)
        plan.append(plan_item(i, user, "lf%02d" % i, "lease", [stmt], stmt + "\nlease 1\n"))
    write_plan(out, plan)


def cmd_flush_leases(t, out, uid1):
    recs, ends = read_outs([out])
    state = read_state("%s/state" % t)
    stuck = sorted(k.split("-", 1)[1] for k in state if k.startswith(uid1 + "-lf"))
    accepted = sum(1 for r in recs if r.get("verdict") == "accepted")
    problems = ["%s: still live after its lease ended" % n for n in stuck] + SHORT
    problems += ["%s: %s %s" % (r["name"], r.get("verdict", r["state"]), r.get("reasons"))
                 for r in recs if r.get("verdict") != "accepted"
                 and not any("the kernel refused" in x for x in r.get("reasons", []))]
    if ends != 1:
        problems.append("the writer did not finish")
    T.ok(not problems and accepted > 0,
         "each of %d one-second leases that ended during the flush storm ended (%d accepted), "
         "none left live" % (len(recs), accepted), problems)
    print("STUCK " + " ".join(stuck))


def cmd_plan_traffic(seed, user, n, out):
    rng = random.Random("%s-traffic" % seed)
    plan = []
    for i in range(int(n)):
        port = rng.randint(9400, 9999)
        stmt = "dnat tcp %d to 192.168.2.%d" % (port, 1 + i % 250)
        plan.append(valid_or_withdrawal(rng, 0.3, i, user, "t%d" % port, stmt, stmt + "\n"))
    write_plan(out, plan)


def cmd_lease_watch(ns, table, ports_file, out, max_s, stop_file):
    """Poll dnat_port every 50 ms: per watched element, when first seen, last seen, first seen
    gone. OUT.ready appears after the first poll."""
    want = set(tuple(x) for x in load_json(ports_file, []))
    seen = {}
    end = time.monotonic() + float(max_s)
    polls = 0
    worst_poll = 0
    spans = []  # every poll's [start, end]: what a poll could have seen
    failed = 0
    while time.monotonic() < end:
        t0 = now_ms()
        lines = nwtest.list_kernel(ns, table, ("map", "dnat_port"))
        t1 = now_ms()
        if lines is None:
            # nft failed (a dump the ruleset changed under is refused): this poll saw nothing,
            # so it must neither count as a look nor make anything gone
            failed += 1
            time.sleep(0.01)
            continue
        worst_poll = max(worst_poll, t1 - t0)
        polls += 1
        spans.append([t0, t1])
        if polls == 1:
            open(out + ".ready", "w").close()  # the submissions may start
        present = set((w[0], int(w[1])) for w in (line.split() for line in lines))
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
    save_json(out, {"seen": seen, "polls": polls, "failed": failed, "worst_poll_ms": worst_poll,
                    "spans": spans})


def cmd_log_follow(log, out, stop_file):
    """Stamp each new line of the daemon's log with the time it was read (every 10 ms)."""
    with open(log, "rb") as f, open(out, "a", buffering=1) as o:
        f.seek(0, 2)
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


def cmd_check_lease(u1, outs_file, watch_file, stamped_log, max_late_ms, margin_ms):
    """The leases: each left the kernel after its end, within MAX_LATE_MS; each renewal
    submitted MARGIN_MS or more before its lease ended renewed it."""
    recs, ends = read_outs([outs_file])
    watch = load_json(watch_file, {"seen": {}})
    problems, late_problems, late_k, late_l = [], [], [], []
    final, lives = {}, {}
    late_renewals = []
    for r in sorted(recs, key=lambda r: r["i"]):
        if r["state"] != "answered" or r["verdict"] != "accepted":
            problems.append("%s #%d: %s %s %s" % (r["name"], r["i"], r["state"], r.get("verdict"),
                                                  r.get("reasons")))
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
                if r["t_drop"] <= first["expires"] - margin_ms:
                    late_renewals.append(late)
                else:
                    T.diag("a renewal came too close to the end of its lease to count: " + late)
                if r["renewed"]:
                    problems.append("%s: judged after its lease ended, yet called a renewal"
                                    % r["name"])
        final[r["name"]] = r
    logged = {}
    rx = re.compile(r"^(\d+) <\d>expired %s's fragment '(l\d+)'$" % re.escape(u1))
    with open(stamped_log) as f:
        for line in f:
            m = rx.match(line.rstrip("\n"))
            if m:
                logged.setdefault(m.group(2), []).append(int(m.group(1)))
    renewed = 0
    unobserved = []
    spans = watch.get("spans", [])
    for name, r in sorted(final.items()):
        key = "%s %d" % (r["proto"], r["port"])
        s = watch["seen"].get(key, {})
        exp = r["expires"]
        if "first" not in s:
            # a problem only when a whole poll ran while it had to be there: between the
            # client's answer (after the kernel change) and the lease's end
            if any(r.get("t_done", exp) <= a and b <= exp for a, b in spans):
                problems.append("%s: never seen in the kernel" % name)
            else:
                unobserved.append("%s (answered %d ms after it was judged, %d ms before its end)"
                                  % (name, r.get("t_done", exp) - (exp - r["lease"] * 1000),
                                     exp - r.get("t_done", exp)))
            continue
        still = "%s: still in the kernel %d ms after its lease ended" % (name, s["last"] - exp)
        if "gone" not in s:
            late_problems.append(still)
            continue
        if s["gone"] < exp:
            problems.append("%s: gone at %d, before its lease ended at %d (%d ms early)"
                            % (name, s["gone"], exp, exp - s["gone"]))
        if s["last"] > exp + max_late_ms:
            late_problems.append(still)
        late_k.append((s["gone"] - exp, name))
        ls = logged.get(name, [])
        if len(ls) != lives[name]:
            problems.append("%s: logged as expired %d times, lived %d times"
                            % (name, len(ls), lives[name]))
        if ls:
            late_l.append((ls[-1] - exp, name))
            if ls[-1] - exp > max_late_ms:
                late_problems.append("%s: logged as expired %d ms after its lease ended"
                                     % (name, ls[-1] - exp))
        if r["kind"] == "renew" and r["renewed"]:
            renewed += 1
    extra = sorted(set(logged) - set(final))
    if extra:
        problems.append("expired, but not submitted with a lease: %s" % extra[:5])
    if ends != 1:
        problems.append("the lease writer did not finish")
    problems += SHORT
    if unobserved:
        T.diag("%d leases not observable: no whole poll between the answer and the lease's end "
               "(a loaded machine): %s" % (len(unobserved), "; ".join(unobserved[:5])))
    late_k.sort()
    late_l.sort()
    T.ok(not problems and len(final) > 0,
         "each of %d leases (%d renewed on the way) left the kernel, none before its time, each "
         "logged as expired once per life" % (len(final), renewed), problems)
    T.ok(not late_problems, "each lease left the kernel within %s of its end (worst %d ms)" % (
        seconds(max_late_ms), late_k[-1][0] if late_k else -1), late_problems)
    n_renew = sum(1 for r in recs if r.get("kind") == "renew")
    T.ok(not late_renewals, "each of %d renewals, submitted at least %s before its lease ended, "
         "renewed it (was judged in time)" % (n_renew, seconds(margin_ms)), late_renewals)
    if late_k:
        T.diag("lease lateness seen in the kernel (50 ms polls, upper bound): median %d ms, worst "
               "%d ms (%s); %d polls (and %d that nft could not answer), slowest poll %d ms"
               % (late_k[len(late_k) // 2][0], late_k[-1][0], late_k[-1][1],
                  watch.get("polls", 0), watch.get("failed", 0), watch.get("worst_poll_ms", 0)))
    if late_l:
        T.diag("lease lateness of the 'expired' log lines (10 ms reads): median %d ms, worst %d ms "
               "(%s)" % (late_l[len(late_l) // 2][0], late_l[-1][0], late_l[-1][1]))


def seconds(ms):
    return "%g s" % (ms / 1000)


def cmd_check_flow(t, label, u1, u2, outs, counts_file):
    """Verdicts of free-flowing traffic (no kills): all answered, as asked; the model is updated."""
    recs, ends = read_outs(outs)
    model = load_json("%s/model.json" % t, {})
    counts = {}
    uids = load_json("%s/uids.json" % t, {})
    problems, _, lost = judge_records(recs, None, counts, model, uids)
    problems += lost + SHORT
    kernel_refused = [r for r in recs if r.get("verdict") == "rejected"
                      and any("the kernel refused" in x for x in r["reasons"])]
    if ends != len(outs):
        problems.append("a writer did not finish")
    save_json("%s/model.json" % t, model)
    save_json(counts_file, counts)
    odd_other = [p for p in problems if "the kernel refused" not in p]
    T.ok(not odd_other, "%s: each of %d submissions has its verdict (%d accepted, %d withdrawn, "
         "%d rejected), consistent with what it asked"
         % (label, len(recs), counts.get("accepted", 0), counts.get("withdrawn", 0),
            counts.get("rejected", 0)), odd_other)
    return kernel_refused


def state_stmts(t):
    return {k: f["stmts"] for k, f in read_state("%s/state" % t).items()}


def cmd_plan_cli(seed, rnd, tag, u1, u2, n, pool, unique, out):
    plan = cmd_plan(seed, rnd, tag, u1, u2, n, pool, unique)
    for item in plan:
        item["user"] = u1 if tag == "u1" else u2
    write_plan(out, plan)


def cmd_snapshot_cli(t, out, t_kill):
    cmd_snapshot(t, out)
    snap = load_json(out, None)
    snap["t_kill"] = int(t_kill)
    save_json(out, snap)


def cmd_model_init(t, u1, uid1, u2, uid2):
    save_json("%s/model.json" % t, state_stmts(t))
    save_json("%s/uids.json" % t, {u1: int(uid1), u2: int(uid2)})


def cmd_check_round_cli(t, label, u1, u2, uid1, uid2, kf, sf, kkf, *outs):
    cmd_check_round(t, label, u1, u2, uid1, uid2, kf, sf, kkf, list(outs))


def cmd_check_flow_cli(t, label, u1, u2, counts_file, *outs):
    refused = cmd_check_flow(t, label, u1, u2, list(outs), counts_file)
    print("REFUSED %d" % len(refused))
    for r in refused[:5]:
        print("#   %s %s #%d: %s" % (r["user"], r["name"], r["i"], r["reasons"][0]))


def cmd_check_state(t, kf, label, use_model):
    model = load_json("%s/model.json" % t, {}) if use_model == "model" else state_stmts(t)
    state, sp, kp, cl, spool, tmp = check_state(t, kf, model)
    if use_model == "model":
        save_json("%s/model.json" % t, model)
    T.ok(not sp and not kp and not cl and not spool and not tmp,
         "%s: %skernel = saved state (%d fragments, %d elements), no double claims, spool drained"
         % (label, "saved state = the verdicts, " if use_model == "model" else "", len(state),
            len(kernel_of(state))),
         state_problems(sp, kp, cl, spool, tmp))


def cmd_truncated(t, desc):
    c = load_json("%s/counts.json" % t, {})
    T.ok(not c.get("truncated"), desc, c.get("truncated", []))


def cmd_check_lease_cli(u1, outs_file, watch_file, stamped_log, max_late_ms, margin_ms):
    cmd_check_lease(u1, outs_file, watch_file, stamped_log, int(max_late_ms), int(margin_ms))


COMMANDS = {
    # the submitters
    "writer": writer,
    # plans
    "plan": cmd_plan_cli, "plan-reload": cmd_plan_reload, "plan-lease": cmd_plan_lease,
    "plan-flush-leases": cmd_plan_flush_leases, "plan-traffic": cmd_plan_traffic,
    # the state and the model
    "snapshot": cmd_snapshot_cli, "model-init": cmd_model_init,
    "names": lambda statedir: print("\n".join(sorted(read_state(statedir)))),
    "derive": lambda statedir: print("\n".join(kernel_of(read_state(statedir)))),
    # watching the leases
    "lease-watch": cmd_lease_watch, "log-follow": cmd_log_follow,
    # checks (nwtest.Tap lines)
    "check-round": cmd_check_round_cli, "check-flow": cmd_check_flow_cli,
    "check-state": cmd_check_state, "agree": cmd_agree, "counts": cmd_counts,
    "truncated": cmd_truncated, "check-reload": cmd_check_reload,
    "policy-only": cmd_policy_only, "flush-leases": cmd_flush_leases,
    "check-lease": cmd_check_lease_cli,
}


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit("usage: robustness.py COMMAND ARGS... (commands: %s)"
                 % ", ".join(sorted(COMMANDS)))
    COMMANDS[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    try:
        main()
    except Exception:
        print("NOK the test's helper failed: %s" % " ".join(sys.argv[1:3]))
        for line in traceback.format_exc().split("\n"):
            print("#   " + line)
        sys.exit(1)
