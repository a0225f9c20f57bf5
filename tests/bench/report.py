# SPDX-License-Identifier: MIT
# Turns the raw measurements of tests/bench/run.sh into the results table, the target
# verdicts, the plot data and (for the full run) BENCHMARKS.md.
#
# usage: python3 report.py RESULTS-DIR table|markdown OUT-MD PLOT-DATA
#   RESULTS-DIR/results.txt  "key value" lines written by run.sh
#   RESULTS-DIR/*.txt        series: "START END [OK]" lines (EPOCHREALTIME) or one number (µs)
# "table" prints the table for the terminal; "markdown" also writes OUT-MD and PLOT-DATA.
# Exit status 0; the numbers are judged by run.sh, not here.
import math
import os
import statistics
import sys

rdir, what = sys.argv[1], sys.argv[2]
out_md = sys.argv[3] if len(sys.argv) > 3 else None
plot_data = sys.argv[4] if len(sys.argv) > 4 else None

res = {}
with open(os.path.join(rdir, "results.txt")) as f:
    for line in f:
        line = line.rstrip("\n")
        if not line:
            continue
        k, _, v = line.partition(" ")
        res[k] = (res[k] + " " + v) if k in res else v  # a repeated key collects its values


def get(k, default=None):
    return res.get(k, default)


def num(k):
    v = res.get(k)
    try:
        return float(v.split()[0]) if v else None
    except ValueError:
        return None


def nums(k):
    v = res.get(k)
    if not v:
        return []
    out = []
    for x in v.split():
        try:
            out.append(float(x))
        except ValueError:
            pass
    return out


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(v)))
    return v[rank - 1]


def pairs(name):
    """Durations (ms) of a "START END [OK]" file, and wall time and ok count."""
    path = os.path.join(rdir, name)
    if not os.path.exists(path):
        return None
    d, first, last, ok = [], None, None, 0
    for line in open(path):
        p = line.split()
        if len(p) < 2:
            continue
        t0, t1 = float(p[0]), float(p[1])
        d.append((t1 - t0) * 1000)
        first = t0 if first is None else first
        last = t1
        ok += 1 if len(p) < 3 or p[2] == "1" else 0
    if not d:
        return None
    return {"n": len(d), "ok": ok, "p50": pct(d, 50), "p99": pct(d, 99),
            "mean": statistics.fmean(d), "sum": sum(d), "wall": (last - first) * 1000}


def micros(name):
    path = os.path.join(rdir, name)
    if not os.path.exists(path):
        return None
    d = [float(x) / 1000 for x in open(path).read().split()]
    if not d:
        return None
    return {"n": len(d), "ok": len(d), "p50": pct(d, 50), "p99": pct(d, 99),
            "mean": statistics.fmean(d), "sum": sum(d), "wall": sum(d)}


def fmt(v, unit="", digits=None):
    if v is None:
        return "n/a"
    if digits is None:
        digits = 0 if abs(v) >= 100 else 1 if abs(v) >= 10 else 2 if abs(v) >= 1 else 3
    s = f"{v:,.{digits}f}"
    return s + (" " + unit if unit else "")


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def median(values):
    return statistics.median(values) if values else None


small, large = int(get("small", "10")), int(get("large", "10000"))
sizes = [int(x) for x in get("sizes", f"{small} {large}").split()]
lat = {s: pairs(f"lat-{s}.txt") for s in sizes}
chk = {s: pairs(f"check-{s}.txt") for s in sizes}  # floors, from the same loops
true = {s: pairs(f"true-{s}.txt") for s in sizes}
lib = {s: micros(f"lim-lib-{s}.txt") for s in sizes}
exe = {s: micros(f"lim-exec-{s}.txt") for s in sizes}
S, L = small, large


def g(d, s, k):
    return d[s][k] if d.get(s) else None


def diff(a, b):
    return a - b if a is not None and b is not None else None


share = {s: diff(g(lat, s, "p50"), g(chk, s, "p50")) for s in sizes}

cold = {s: pairs(f"cold-{s}.txt") for s in (S, L)}  # after a rest: libnftables' cache dropped
cold_chk = pairs("cold-check.txt")
cold_share = {s: diff(g(cold, s, "p50"), cold_chk["p50"] if cold_chk else None) for s in (S, L)}

rows = []  # (measurement, small, large, note)
rows.append(("1. submit → verdict, p50 (forward live in the kernel)",
             fmt(g(lat, S, "p50"), "ms"), fmt(g(lat, L, "p50"), "ms"),
             "ratio " + fmt(ratio(g(lat, L, "p50"), g(lat, S, "p50")), "x", 2)))
rows.append(("1. floor: `natwarden check` of the same fragment, p50",
             fmt(g(chk, S, "p50"), "ms"), fmt(g(chk, L, "p50"), "ms"),
             "the client's start, read and parse; no daemon (same loop)"))
rows.append(("1. floor: `/bin/true`, p50",
             fmt(g(true, S, "p50"), "ms"), fmt(g(true, L, "p50"), "ms"), "a process start"))
rows.append(("1. daemon's share: submit p50 − check p50",
             fmt(share[S], "ms"), fmt(share[L], "ms"), "target ≤ 1.0 ms at both sizes"))
rows.append(("1. after a rest: submit → verdict, p50",
             fmt(g(cold, S, "p50"), "ms"), fmt(g(cold, L, "p50"), "ms"),
             "{} submissions each, every one {} s after the last transaction: libnftables' cache "
             "fetched again; daemon's share {} / {}".format(
                 g(cold, L, "n") or 0, get("rest_wait", "n/a"),
                 fmt(cold_share[S], "ms"), fmt(cold_share[L], "ms"))))
rows.append(("1. submit → verdict, p99",
             fmt(g(lat, S, "p99"), "ms"), fmt(g(lat, L, "p99"), "ms"),
             "ratio " + fmt(ratio(g(lat, L, "p99"), g(lat, S, "p99")), "x", 2)))
rows.append(("1. submissions timed (all accepted)",
             f"{g(lat, S, 'ok')}/{g(lat, S, 'n')}" if lat.get(S) else "n/a",
             f"{g(lat, L, 'ok')}/{g(lat, L, 'n')}" if lat.get(L) else "n/a",
             "sequential, one client process each"))


def all_of(k):
    return ", ".join(fmt(v, "", 0) for v in nums(k))


rows.append(("2. burst of {} fragments: all live (median of {})".format(
                 get("burst_n", "?"), get("burst_rounds", "1")),
             fmt(median(nums(f"burst_{S}_all_ms")), "ms"),
             fmt(median(nums(f"burst_{L}_all_ms")), "ms"),
             f"target < 1,000 ms; each run: {all_of(f'burst_{S}_all_ms')} / "
             f"{all_of(f'burst_{L}_all_ms')} ms"))
rows.append(("2. floor: the same {} elements added in one libnftables transaction "
             "(median)".format(get("burst_n", "?")),
             fmt(median(nums(f"burst_floor_{S}")), "ms"),
             fmt(median(nums(f"burst_floor_{L}")), "ms"),
             "the kernel's part, against a copy of the same table"))
rows.append(("2. the same burst withdrawn: all gone (median)",
             fmt(median(nums(f"burstw_{S}_all_ms")), "ms"),
             fmt(median(nums(f"burstw_{L}_all_ms")), "ms"),
             f"each run: {all_of(f'burstw_{S}_all_ms')} / {all_of(f'burstw_{L}_all_ms')} ms"))
rows.append(("3. limit (a): one `nft -f` process per change, p50",
             fmt(g(exe, S, "p50"), "ms"), fmt(g(exe, L, "p50"), "ms"),
             "ratio " + fmt(ratio(g(exe, L, "p50"), g(exe, S, "p50")), "x", 2)))
rows.append(("3. limit (b): one libnftables context, p50",
             fmt(g(lib, S, "p50"), "ms"), fmt(g(lib, L, "p50"), "ms"),
             "ratio " + fmt(ratio(g(lib, L, "p50"), g(lib, S, "p50")), "x", 2)))
rows.append(("3. limit (b): one libnftables context, p99",
             fmt(g(lib, S, "p99"), "ms"), fmt(g(lib, L, "p99"), "ms"), ""))
rows.append(("3. natwarden overhead over (b), p50 ratio",
             fmt(ratio(g(lat, S, "p50"), g(lib, S, "p50")), "x", 1),
             fmt(ratio(g(lat, L, "p50"), g(lib, L, "p50")), "x", 1),
             "natwarden p50 / libnftables p50"))
rows.append(("3. natwarden vs (a) `nft -f`, p50 ratio",
             fmt(ratio(g(lat, S, "p50"), g(exe, S, "p50")), "x", 2),
             fmt(ratio(g(lat, L, "p50"), g(exe, L, "p50")), "x", 2), "below 1: faster than nft -f"))
rows.append(("5. start-up: exec → READY=1 (median of {})".format(len(nums(f"startup_{L}")) or "?"),
             fmt(median(nums(f"startup_{S}")), "ms"), fmt(median(nums(f"startup_{L}")), "ms"),
             "ratio to the floor: "
             + fmt(ratio(median(nums(f"startup_{S}")), median(nums(f"nftload_{S}"))), "x", 2)
             + " / "
             + fmt(ratio(median(nums(f"startup_{L}")), median(nums(f"nftload_{L}"))), "x", 2)
             + " (target ≤ 1.5x at {:,})".format(L)))
rows.append(("5. floor: `nft -f` of the rendered table, fresh namespace (median)",
             fmt(median(nums(f"nftload_{S}")), "ms"), fmt(median(nums(f"nftload_{L}")), "ms"),
             "`natwardend --print-ruleset`, loaded in one transaction"))
rows.append(("5. `nft -f` replacing the same table in one transaction (median)",
             fmt(median(nums(f"nftreplace_{S}")), "ms"), fmt(median(nums(f"nftreplace_{L}")), "ms"),
             "delete table + load, as a restart does"))
rows.append(("6. daemon memory, VmRSS right after the mappings went in",
             fmt(num(f"rss_{S}") / 1024 if num(f"rss_{S}") else None, "MiB", 1),
             fmt(num(f"rss_{L}") / 1024 if num(f"rss_{L}") else None, "MiB", 1),
             "libnftables' cache and the allocator's free pages of the load still held"))
rows.append(("6. daemon memory, VmRSS at rest",
             fmt(num(f"rss_rest_{S}") / 1024 if num(f"rss_rest_{S}") else None, "MiB", 1),
             fmt(num(f"rss_rest_{L}") / 1024 if num(f"rss_rest_{L}") else None, "MiB", 1),
             "a second after its last transaction the daemon gives them back; "
             "at {:,} after the restarts: VmRSS {}, VmHWM {}".format(
                 L,
                 fmt(num(f"rss_after_start_{L}") / 1024 if num(f"rss_after_start_{L}") else None,
                     "MiB", 1),
                 fmt(num("hwm_end") / 1024 if num("hwm_end") else None, "MiB", 1))))
rows.append(("7. rules in natwarden's table",
             get(f"rules_{S}", "n/a"), get(f"rules_{L}", "n/a"), "must be equal"))
rows.append(("7. mappings live in the kernel",
             get(f"elements_{S}", "n/a"), get(f"elements_{L}", "n/a"), "every accepted mapping"))
conn_paired = median([b / a for a, b in zip(nums(f"conn_{S}"), nums(f"conn_{L}")) if a])
rows.append(("7. new connections/s through natwarden's router (median of {} rounds)".format(
                 len(nums(f"conn_{S}"))),
             fmt(median(nums(f"conn_{S}")), "/s"), fmt(median(nums(f"conn_{L}")), "/s"),
             "ratio " + fmt(ratio(median(nums(f"conn_{L}")), median(nums(f"conn_{S}"))), "x", 2)
             + ", median of the per-round ratios " + fmt(conn_paired, "x", 2)
             + " (target ≥ 0.95x); range " + fmt(min(nums(f"conn_{S}") or [0]), "", 0) + "–"
             + fmt(max(nums(f"conn_{S}") or [0]), "", 0) + " / "
             + fmt(min(nums(f"conn_{L}") or [0]), "", 0)
             + "–" + fmt(max(nums(f"conn_{L}") or [0]), "", 0) + " /s"))
rows.append(("7. daemon CPU time while the connections ran",
             fmt(num(f"conn_cpu_{S}"), "ms"), fmt(num(f"conn_cpu_{L}"), "ms"),
             "utime + stime of natwardend over all rounds"))

wm = nums("wan_move_ms")
rows.append(("8. new address on the WAN interface → hairpin works on it "
             "(median / max of {})".format(len(wm)),
             fmt(median(wm), "ms"), fmt(max(wm) if wm else None, "ms"),
             "from `ip addr add`'s return to the first answered connection from the LAN client "
             "(1 ms polls); at {} mappings".format(S)))

pin = {sz: pairs(f"pin-{sz}.txt") for sz in (S, L)}
rows.append(("9. pinhole: submit → live (replacing one pinhole), p50",
             fmt(g(pin, S, "p50"), "ms"), fmt(g(pin, L, "p50"), "ms"),
             "ratio " + fmt(ratio(g(pin, L, "p50"), g(pin, S, "p50")), "x", 2)
             + " (target ≤ 1.2x); at {:,} / {:,} pinholes".format(S, L)))
rows.append(("9. pinhole: submit → live, p99",
             fmt(g(pin, S, "p99"), "ms"), fmt(g(pin, L, "p99"), "ms"),
             "ratio " + fmt(ratio(g(pin, L, "p99"), g(pin, S, "p99")), "x", 2)))
rows.append(("9. rules in natwarden's table with pinholes",
             get(f"pin_rules_{S}", "n/a"), get(f"pin_rules_{L}", "n/a"), "must be equal"))

mu_n = get("peer_n")
mu_large = get("mu_large")
if get("mu_skipped"):
    rows.append(("4. miniupnpd", "skipped", "skipped", get("mu_skipped")))
else:
    pa, pd = pairs("peer-nw-add.txt"), pairs("peer-nw-del.txt")
    ma, md = pairs("peer-mu-add.txt"), pairs("peer-mu-del.txt")
    nw_total = (pa["wall"] + pd["wall"]) if pa and pd else None
    mu_total = (ma["wall"] + md["wall"]) if ma and md else None
    rows.append((f"4. peer: add {mu_n} mappings, total (natwarden / miniupnpd)",
                 fmt(pa and pa["wall"], "ms"), fmt(ma and ma["wall"], "ms"),
                 f"ok {pa and pa['ok']}/{pa and pa['n']} / {ma and ma['ok']}/{ma and ma['n']}"))
    rows.append(("4. peer: remove them, total (natwarden / miniupnpd)",
                 fmt(pd and pd["wall"], "ms"), fmt(md and md["wall"], "ms"),
                 f"ok {pd and pd['ok']}/{pd and pd['n']} / {md and md['ok']}/{md and md['n']}"))
    rows.append(("4. peer: per add p50 / p99 (natwarden)",
                 fmt(pa and pa["p50"], "ms"), fmt(pa and pa["p99"], "ms"), ""))
    rows.append(("4. peer: per add p50 / p99 (miniupnpd via upnpc)",
                 fmt(ma and ma["p50"], "ms"), fmt(ma and ma["p99"], "ms"), ""))
    rows.append(("4. peer: miniupnpd total / natwarden total",
                 fmt(nw_total, "ms"), fmt(mu_total, "ms"),
                 "ratio " + fmt(ratio(mu_total, nw_total), "x", 2)))
    rows.append((f"5. miniupnpd: restart until it answers with its {mu_large} mappings back",
                 "", fmt(num("mu_startup_large"), "ms"),
                 "from its lease file; natwarden's start-up is the row above"))
    rows.append((f"7. miniupnpd rules (at {get('mu_small')} / {mu_large} mappings)",
                 get("mu_rules_small", "n/a"), get("mu_rules_large", "n/a"),
                 "grows by one rule per mapping per chain"))
    rows.append((f"7. new connections/s through miniupnpd's router (at {get('mu_small')} / "
                 f"{mu_large})",
                 fmt(median(nums("mu_conn_small")), "/s"), fmt(median(nums("mu_conn_large")), "/s"),
                 "ratio " + fmt(ratio(median(nums("mu_conn_large")), median(nums("mu_conn_small"))),
                                "x", 2)))

extra = []
idg, spv = pairs("harness-idg.txt"), pairs("harness-setpriv.txt")
if idg and spv:
    extra.append(("not timed any more: what the harness ran around every client call before it "
                  "timed one loop as the user, `id -g USER` + `setpriv --init-groups` (p50)",
                  fmt(idg["p50"], "ms") + " + " + fmt(spv["p50"], "ms")))
fill = pairs("fill.txt")
if fill:
    extra.append(("bulk load: {:,} mappings in {} fragments (≤250 statements), submitted one "
                  "after another".format(int(num("fill_mappings") or 0), fill["n"]),
                  fmt(fill["sum"], "ms") + " (sum of the clients' times)"))

# ---- targets -----------------------------------------------------------------------------
targets = []


def target(name, value, limit, unit, ok):
    if value is None:
        targets.append((name, "n/a", f"{limit}", "no number"))
    else:
        targets.append((name, fmt(value, unit), limit, "met" if ok else "MISSED"))


for size in (S, L):
    target(f"daemon's share of a submission at {size:,}: submit p50 − check p50", share[size],
           "≤ 1.0 ms", "ms", share[size] is not None and share[size] <= 1.0)
for size in (L, S):
    b = median(nums(f"burst_{size}_all_ms"))
    target(f"burst of {get('burst_n')} on top of {size:,}: all live", b, "≤ 60 ms", "ms",
           b is not None and b <= 60)
st = ratio(median(nums(f"startup_{L}")), median(nums(f"nftload_{L}")))
target(f"start-up with {L:,} saved / `nft -f` of the same table", st, "≤ 1.50x", "x",
       st is not None and st <= 1.5)
rss = [v for v in (num(f"rss_rest_{L}"), num(f"rss_after_start_{L}")) if v is not None]
rss_mib = max(rss) / 1024 if rss else None
target(f"daemon VmRSS at {L:,} at rest (the larger of: after the load, after the restarts)",
       rss_mib, "≤ 8.0 MiB", "MiB", rss_mib is not None and rss_mib <= 8.0)
target(f"new connections/s at {L:,} / at {S} (median of the per-round ratios)", conn_paired,
       "≥ 0.95x", "x", conn_paired is not None and conn_paired >= 0.95)
pin_ratio = ratio(g(pin, L, "p50"), g(pin, S, "p50"))
target(f"pinhole submit → live p50 at {L:,} / at {S} pinholes", pin_ratio, "≤ 1.20x", "x",
       pin_ratio is not None and pin_ratio <= 1.2)
wm_max = max(wm) if wm else None
target("new WAN address → hairpin works on it (slowest of {} changes)".format(len(wm)), wm_max,
       "< 100 ms", "ms", wm_max is not None and wm_max < 100)

# ---- output ------------------------------------------------------------------------------


def md_table(header, body):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for r in body:
        lines.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(lines)


main_table = md_table(["measurement", f"at {S:,}", f"at {L:,}", "note"], rows)
target_table = md_table(["target", "measured", "limit", "verdict"], targets)
curve = []
for s in sizes:
    curve.append((f"{s:,}", fmt(g(lat, s, "p50"), "ms"), fmt(g(lat, s, "p99"), "ms"),
                  fmt(g(chk, s, "p50"), "ms"), fmt(share[s], "ms"),
                  fmt(g(lib, s, "p50"), "ms"), fmt(g(exe, s, "p50"), "ms"),
                  f"{g(lat, s, 'n')}/{g(lib, s, 'n')}/{g(exe, s, 'n')}",
                  fmt(num(f"rss_{s}") / 1024 if num(f"rss_{s}") else None, "MiB", 1)))
curve_table = md_table(["active mappings", "natwarden p50", "natwarden p99", "check p50",
                        "daemon's share", "libnftables p50",
                        "nft -f p50", "samples (nw/lib/nft)", "VmRSS"], curve)

print(main_table)
print()
for e in extra:
    print(f"{e[0]}: {e[1]}")
print()
print(target_table)
print()
print(curve_table)

if what != "markdown":
    sys.exit(0)

if plot_data:
    with open(plot_data, "w") as f:
        f.write("# mappings natwarden_p50 natwarden_p99 libnftables_p50 nft_f_p50 check_p50 (ms)\n")
        for s in sizes:
            vals = [g(lat, s, "p50"), g(lat, s, "p99"), g(lib, s, "p50"), g(exe, s, "p50"),
                    g(chk, s, "p50")]
            f.write(f"{s} " + " ".join("NaN" if v is None else f"{v:.4f}" for v in vals) + "\n")

meta = [
    ("date", get("date")), ("CPU", get("cpu")), ("cores", get("cores")), ("memory", get("mem")),
    ("kernel", get("kernel")), ("Debian", get("debian")),
    ("nftables", get("pkg_nftables")), ("libnftables1", get("pkg_libnftables")),
    ("libnftnl11", get("pkg_libnftnl")),
    ("miniupnpd-nftables", get("pkg_miniupnpd")), ("miniupnpc", get("pkg_miniupnpc")),
    ("natwarden", get("natwarden")), ("build", get("build")),
    ("run time", fmt(num("runtime_s"), "s")),
]
analysis_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "analysis.md")
analysis = open(analysis_path).read() if os.path.exists(analysis_path) else ""

with open(out_md, "w") as f:
    f.write("# Benchmarks\n\n")
    f.write("Generated by `tests/bench/run.sh` (as root, on a fresh Debian 12 machine: it installs "
            "what\nit needs, builds a release build in `build-bench/`, works only in network "
            "namespaces it\ncreates, and removes everything on exit). `tests/bench/run.sh --smoke` "
            "is the seconds-long\nTAP version that asserts no timing target. Everything below the "
            "analysis heading is the\n"
            "output of the last full run; the analysis comes from `tests/bench/analysis.md`.\n\n")
    f.write("## Machine\n\n")
    f.write(md_table(["", ""], [(k, v if v else "n/a") for k, v in meta]) + "\n\n")
    f.write("## Results\n\n")
    f.write(f"Sizes: {S:,} and {L:,} active mappings (plus the fragment being measured). "
            f"Latency: {get('lat_n')} sequential `natwarden submit` runs at each of the two sizes "
            f"({get('lat_n_mid')} at the sizes in between), each replacing one mapping, timed from "
            "the client's start to its exit (it exits once the daemon has answered, which it does "
            "after the kernel transaction). Every timing loop is one process started once as the "
            "submitting user (`tests/bench/timeloop.c`): only the command a user runs is inside a "
            "timed part, never the harness's `setpriv` or `ip netns exec`. The same loop times the "
            "floors, interleaved with the submissions: `natwarden check` of the same fragment "
            "and `/bin/true`. As on a real router, each daemon's runtime directory (its status "
            "file, rewritten after every change) is on a tmpfs, the spool and the state on the "
            "disk. The limit replays "
            "exactly the element changes the daemon sends for that replacement (`delete element` + "
            "`add element`) against a copy of the same table in a namespace of its own.\n\n")
    f.write(main_table + "\n\n")
    for e in extra:
        f.write(f"- {e[0]}: {e[1]}\n")
    f.write("\n## Targets\n\n" + target_table + "\n\n")
    f.write("## Apply time against the number of active mappings\n\n")
    f.write("![apply time against active mappings](tests/bench/apply-time.png)\n\n")
    f.write(curve_table + "\n\n")
    if analysis:
        f.write(analysis.rstrip("\n") + "\n")
