# SPDX-License-Identifier: MIT
# Table layouts for the packet-path experiment (tests/bench/connpath.sh): prints, for nft -f,
# one nftables table holding N single-port TCP forwards (public port 20000+i to
# 192.168.1.240, same port) in one of these layouts:
#
#   daemon       natwarden's table exactly as policy/ruleset.c renders it (hairpin on):
#                the forwards in dnat_port, no masquerade (what tests/bench/run.sh loads)
#   daemon-masq  the same, with every forward masqueraded: each public port also in the
#                interval set masq_tcp (the kernel's rbtree), looked up in postrouting for
#                every new translated connection
#   split-masq   like daemon-masq, but single masqueraded ports in a plain set masq_tcp_port
#                (a hash) and only ranges in the interval set masq_tcp (empty here): one more
#                postrouting rule per protocol
#   no-member    daemon without the membership test before `ct label set` (NOT the daemon's
#                semantics: the label would be set on a miss too): measures what the second
#                lookup costs
#   rule         no sets at all: one rule that translates the measured port (the floor)
#   amp-port     daemon-masq plus a chain that looks every packet up AMPLIFY times in
#   amp-masq     dnat_port (a hash) / masq_tcp (the rbtree) / dnat_range (pipapo), to make
#   amp-range    one lookup's cost measurable against a connection's (divide by AMPLIFY and
#                the packets per connection); the packet path is otherwise daemon-masq's.
#                For amp-range, dnat_range also holds N two-port ranges from 30000 (the
#                measured port is in none of them: a miss, like every new connection that
#                is no single-port forward), keyed protocol first (inet_proto . inet_service),
#                as the renderer did before: pipapo's lookup then walks every range
#   amp-range-pf amp-range with dnat_range keyed port first (inet_service . inet_proto), as
#                the renderer does and as every other layout here does
#
# usage: python3 tables.py LAYOUT N TABLE [PORT]
#   PORT (default 20000+N-1) is the port the rule layout translates.
import sys

WAN_IF, WAN_ADDR, TARGET = "wan0", "203.0.113.7", "192.168.1.240"
LABEL = 127
AMPLIFY = 200
COMMENT = "natwarden: managed by natwardend, do not edit"


def range_key(port_first):
    return "th dport . meta l4proto" if port_first else "meta l4proto . th dport"


def prerouting(member=True, port_first=False):
    out = ["\tchain prerouting {",
           "\t\ttype nat hook prerouting priority dstnat; policy accept;"]
    for hairpin in (False, True):
        for m in ("dnat_port", "dnat_range"):
            if hairpin:
                head = f'iifname != "{WAN_IF}" ip daddr {WAN_ADDR}'
            else:
                head = f'iifname "{WAN_IF}" fib daddr type local meta nfproto ipv4'
            key = range_key(port_first) if m == "dnat_range" else range_key(False)
            test = f" {key} @{m}" if member else ""
            out.append(f"\t\t{head}{test} ct label set {LABEL}"
                       f" dnat ip to {key} map @{m}")
    out.append("\t}")
    return out


def postrouting(split=False):
    out = ["\tchain postrouting {",
           "\t\ttype nat hook postrouting priority srcnat; policy accept;"]
    for proto in ("tcp", "udp"):
        if split:
            out.append(f"\t\tct label {LABEL} meta l4proto {proto} ct original proto-dst"
                       f" @masq_{proto}_port masquerade")
        out.append(f"\t\tct label {LABEL} meta l4proto {proto} ct original proto-dst"
                   f" @masq_{proto} masquerade")
    out.append(f'\t\tiifname != "{WAN_IF}" ct label {LABEL} ct status dnat'
               f" ct original ip daddr {WAN_ADDR} masquerade")
    out.append("\t}")
    out += ["\tchain guard {",
            "\t\ttype filter hook input priority filter; policy accept;",
            f"\t\tct label {LABEL} ct status dnat counter drop",
            "\t}"]
    return out


def chunks(items, size=256):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def render(layout, n, table, port):
    if layout == "rule":
        return "\n".join([
            f"table inet {table} {{",
            "\tchain prerouting {",
            "\t\ttype nat hook prerouting priority dstnat; policy accept;",
            f'\t\tiifname "{WAN_IF}" tcp dport {port} dnat ip to {TARGET}',
            "\t}", "}", ""])
    split = layout == "split-masq"
    pf = layout != "amp-range"
    rtype = "inet_service . inet_proto" if pf else "inet_proto . inet_service"
    lines = [f"table inet {table} {{", f'\tcomment "{COMMENT}"',
             "\tmap dnat_port { type inet_proto . inet_service : ipv4_addr . inet_service; }",
             f"\tmap dnat_range {{ type {rtype} : ipv4_addr; flags interval; }}",
             "\tset masq_tcp { type inet_service; flags interval; }",
             "\tset masq_udp { type inet_service; flags interval; }"]
    if split:
        lines += ["\tset masq_tcp_port { type inet_service; }",
                  "\tset masq_udp_port { type inet_service; }"]
    lines += prerouting(member=layout != "no-member", port_first=pf)
    lines += postrouting(split)
    if layout.startswith("amp-"):
        lookup = {"amp-port": "meta l4proto . th dport @dnat_port",
                  "amp-masq": "ct original proto-dst @masq_tcp",
                  "amp-range": "meta l4proto . th dport @dnat_range",
                  "amp-range-pf": "th dport . meta l4proto @dnat_range"}[layout]
        lines += ["\tchain amplify {",
                  "\t\ttype filter hook prerouting priority mangle; policy accept;",
                  "\t\tmeta l4proto tcp counter"]  # packets per connection
        lines += [f"\t\tmeta l4proto tcp {lookup}"] * AMPLIFY
        lines.append("\t}")
    lines.append("}")
    ports = [20000 + i for i in range(n)]
    for c in chunks(ports):
        lines.append(f"add element inet {table} dnat_port {{ "
                     + ", ".join(f"tcp . {p} : {TARGET} . {p}" for p in c) + " }")
    if layout in ("amp-range", "amp-range-pf"):
        ranges = [(30000 + 2 * i, 30001 + 2 * i) for i in range(n)]
        item = "{lo}-{hi} . tcp" if pf else "tcp . {lo}-{hi}"
        for c in chunks(ranges):
            lines.append(f"add element inet {table} dnat_range {{ "
                         + ", ".join(item.format(lo=lo, hi=hi) + f" : {TARGET}" for lo, hi in c)
                         + " }")
    if layout in ("daemon-masq", "split-masq", "amp-port", "amp-masq", "amp-range",
                  "amp-range-pf"):
        dest = "masq_tcp_port" if split else "masq_tcp"
        for c in chunks(ports):
            lines.append(f"add element inet {table} {dest} {{ " + ", ".join(map(str, c)) + " }")
    return "\n".join(lines) + "\n"


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit("usage: tables.py LAYOUT N TABLE [PORT]")
    layout, n, table = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if layout not in ("daemon", "daemon-masq", "split-masq", "no-member", "rule", "amp-port",
                      "amp-masq", "amp-range", "amp-range-pf"):
        sys.exit("tables.py: unknown layout " + layout)
    port = int(sys.argv[4]) if len(sys.argv) == 5 else 20000 + n - 1
    sys.stdout.write(render(layout, n, table, port))


main()
