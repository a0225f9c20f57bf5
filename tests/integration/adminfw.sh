#!/bin/bash
# SPDX-License-Identifier: MIT
# The administrator's forward chain, read and never written. The router namespace holds an
# admin table `inet filter` whose forward chain drops by default and admits only
# established/related connections: natwardend must say, at start, in the status file, in
# `natwarden status`, in `--check` and in the journal (one structured entry), that this chain
# drops its forwards and pinholes and which rule to add. Adding that rule (the one `--check`
# prints as `admin rule:`) clears the finding without a restart (the ruleset change is
# noticed) and journals that the chain no longer drops; deleting it brings the finding back;
# a reload with nothing changed journals nothing new. The admin table stays byte-identical
# across every daemon action: natwarden never changes a table it does not own. A chain that
# drops in a rule is told to insert the rule before it; a chain whose name cannot be shown
# makes the check "partial", never "ok"; a mark of contiguous high bits (listed by nft as a
# prefix) is recognised in the admin rule.
#
# journald runs in private mount and pid namespaces (journald.sh), as in journal.sh; the
# host's journal and ruleset are never touched.

JR_SELF=$(readlink -f "$0")
. "$(dirname "$JR_SELF")/journald.sh"
jr_outer "$@"

# ==== inner part: PID 1 of a pid namespace, in a private mount namespace =======================
. "$(dirname "$JR_SELF")/lib.sh"

nw_init
# shellcheck disable=SC2317 # run by the EXIT trap
af_exit() {
	local rc=$?
	jr_show_on_failure 40 natwardend
	nw_cleanup || { [ "$rc" -ne 0 ] || rc=1; }
	exit "$rc"
}
trap af_exit EXIT
jr_inner
nw_setup

# the stable contract (daemon/log.h, systemd/natwarden.catalog)
MID_ADMIN_DROPS=9dfcb49d17464dd4a7d0ef504c1e9663
MID_ADMIN_ADMITS=0334ba5bff9b4c3582a66dab35053bf8
RULE='ct mark and 0x10000000 == 0x10000000 accept'
FINDING="admin chain inet filter forward drops natwarden's forwards and pinholes: add \"$RULE\""
DROP_LINES="admin_check	ok
admin_drop	inet filter	forward	forwards and pinholes	add \"$RULE\""

jr_json() { journalctl --no-pager -q --all -o json -t natwardend "$@"; }
jr_count() { jr_json "$@" | jq -s length; }
jr_sync() { journalctl --sync 2>/dev/null; }
# jr_fields MATCH...: MESSAGE_ID, PRIORITY and every NATWARDEN_* field, KEY=VALUE sorted
jr_fields() {
	jr_json "$@" | jq -r 'to_entries
		| map(select(.key | test("^(MESSAGE_ID|PRIORITY|NATWARDEN_.*)$")))
		| sort_by(.key) | .[] | "\(.key)=\(.value)"'
}
jr_has() { # jr_has N MATCH...: at least N natwardend entries match
	local n=$1
	shift
	jr_sync
	[ "$(jr_count "$@")" -ge "$n" ]
}
admin_lines() { grep '^admin_' "$NW_T/run/status"; }
admin_lines_are() { [ "$(admin_lines)" = "$1" ]; }
admin_lines_sorted_are() { [ "$(admin_lines | sort)" = "$(sort <<<"$1")" ]; } # chains in any order
admin_table() { nw_nft list table inet filter; }
client_status() { nw_as "$NW_U1" "$NW_CLIENT" --runtime "$NW_T/run" status; }
# waited SECONDS DESCRIPTION COMMAND...: poll, print how long it took, pass when it succeeds
waited() {
	local secs=$1 desc=$2 t0
	shift 2
	t0=$(nw_ms)
	if nw_wait_for "$secs" "$@"; then
		ok "$desc"
	else
		not_ok "$desc"
	fi
	diag "seen after $(($(nw_ms) - t0)) ms (bound: $secs s)"
}

jr_start_journald || { not_ok "journald starts in the private namespaces"; exit 1; }
ok "journald starts in the private namespaces"

# ---- the administrator's table ------------------------------------------------------------
if nw_nft -f - <<-'NFT'; then ok "admin table inet filter: forward chain, policy drop, established/related only"; else not_ok "admin table"; exit 1; fi
	table inet filter {
		chain forward {
			type filter hook forward priority filter; policy drop;
			ct state established,related accept
		}
	}
NFT
table0=$(admin_table)

# ---- --check ------------------------------------------------------------------------------
out=$(ip netns exec "$NW_NS" "$NW_DAEMON" --config "$NW_T/policy.ini" --check)
is "$?" 0 "natwardend --check succeeds although the admin chain would drop natwarden's connections"
rule=$(sed -n 's/^admin rule: //p' <<<"$out")
is "$rule" "$RULE" "--check: the admin rule on a line of its own"
is "$(sed -n '/^admin rule: /{n;p}' <<<"$out")" "$FINDING" \
	"--check: the finding on the line after the admin rule, naming table, chain and rule"
is "$(admin_table)" "$table0" "--check left the admin table byte-identical"
# without CAP_NET_ADMIN the chains cannot be read: said, and the check does not fail for it
out=$(nw_as "$NW_OUT" "$NW_DAEMON" --config "$NW_T/policy.ini" --check 2>"$NW_T/check-user.err")
is "$?" 0 "natwardend --check as an unprivileged user succeeds"
like "$(sed -n '/^admin rule: /{n;p}' <<<"$out")" "^admin chains: not checked \\(cannot read the forward hook's chains: .+\\)$" \
	"--check as an unprivileged user: the chains were not checked, and why"
diag "its line: $(grep '^admin chains: ' <<<"$out"); its stderr: $(tr '\n' '|' <"$NW_T/check-user.err")"

# ---- start: the finding -------------------------------------------------------------------
nw_start || { not_ok "daemon starts"; exit 1; }
ok "daemon starts in the router namespace"
is "$(admin_lines)" "$DROP_LINES" "status file: admin_check ok and the admin_drop line"
is "$(client_status | grep '^admin ')" "$FINDING" "natwarden status names the table, the chain and the rule to add"
waited 10 "journal: an entry for the dropping chain" jr_has 1 MESSAGE_ID=$MID_ADMIN_DROPS
is "$(jr_fields MESSAGE_ID=$MID_ADMIN_DROPS)" "MESSAGE_ID=$MID_ADMIN_DROPS
NATWARDEN_ADMIN_RULE=$RULE
NATWARDEN_CHAIN=forward
NATWARDEN_DROPS=forwards and pinholes
NATWARDEN_TABLE=inet filter
PRIORITY=4" "journal: its fields"
is "$(jr_json MESSAGE_ID=$MID_ADMIN_DROPS | jq -r .MESSAGE)" "$FINDING" "journal: its MESSAGE"
is "$(admin_table)" "$table0" "the daemon's start left the admin table byte-identical"

# ---- the rule added: the finding goes, without a restart ----------------------------------
nw_nft add rule inet filter forward "$rule" || not_ok "adding the admin rule"
table1=$(admin_table)
waited 10 "status file: no admin_drop line once the rule is in (the change was noticed)" \
	admin_lines_are "admin_check	ok"
is "$(client_status | grep '^admin ')" \
	"admin chains: none on the forward hook drops natwarden's connections" \
	"natwarden status: no chain drops natwarden's connections"
waited 10 "journal: an entry saying the chain no longer drops" jr_has 1 MESSAGE_ID=$MID_ADMIN_ADMITS
is "$(jr_fields MESSAGE_ID=$MID_ADMIN_ADMITS)" "MESSAGE_ID=$MID_ADMIN_ADMITS
NATWARDEN_ADMIN_RULE=$RULE
NATWARDEN_CHAIN=forward
NATWARDEN_DROPS=none
NATWARDEN_TABLE=inet filter
PRIORITY=5" "journal: its fields"
is "$(jr_json MESSAGE_ID=$MID_ADMIN_ADMITS | jq -r .MESSAGE)" \
	"admin chain inet filter forward no longer drops natwarden's connections" "journal: its MESSAGE"
is "$(admin_table)" "$table1" "the re-check left the admin table byte-identical"
is "$(ip netns exec "$NW_NS" "$NW_DAEMON" --config "$NW_T/policy.ini" --check | sed -n '/^admin rule: /{n;p}')" \
	"admin chains: none on the forward hook drops natwarden's connections" "--check: no finding with the rule"

# ---- the rule deleted: the finding comes back ---------------------------------------------
handle=$(nw_nft -a list chain inet filter forward | sed -n 's/.*ct mark.* # handle \([0-9]*\)$/\1/p')
nw_nft delete rule inet filter forward handle "$handle" || not_ok "deleting the admin rule"
table2=$(admin_table)
is "$table2" "$table0" "the admin table is as it was at first"
waited 10 "status file: the admin_drop line is back" admin_lines_are "$DROP_LINES"
waited 10 "journal: a second entry for the dropping chain" jr_has 2 MESSAGE_ID=$MID_ADMIN_DROPS
is "$(admin_table)" "$table2" "the re-check left the admin table byte-identical"

# ---- more tables: a chain that runs too early, a rule behind a jump -----------------------
if nw_nft -f - <<-NFT; then ok "an ip6 table at priority -20 with the rule, an inet table whose rule is behind a jump"; else not_ok "more admin tables"; fi
	table ip6 early {
		chain fw {
			type filter hook forward priority -20; policy drop;
			$RULE
		}
	}
	table inet jumpy {
		chain allow {
			$RULE
		}
		chain fw {
			type filter hook forward priority 0; policy drop;
			jump allow
		}
	}
NFT
EARLY="admin_drop	ip6 early	fw	pinholes	move it to priority filter (0) or later (at priority -20 it runs before natwarden marks pinholes)"
waited 10 "status file: the early chain is reported with the priority as the reason, the jump followed" \
	admin_lines_sorted_are "$DROP_LINES
$EARLY"
like "$(client_status)" "^admin chain ip6 early fw drops natwarden's pinholes: move it to priority filter \\(0\\) or later" \
	"natwarden status: the early chain"
nw_nft delete table ip6 early && nw_nft delete table inet jumpy
waited 10 "both tables deleted: the first finding alone" admin_lines_are "$DROP_LINES"
waited 10 "journal: the early chain no longer drops (it is gone)" jr_has 2 MESSAGE_ID=$MID_ADMIN_ADMITS
is "$(jr_json MESSAGE_ID=$MID_ADMIN_ADMITS NATWARDEN_TABLE="ip6 early" | jq -r .NATWARDEN_CHAIN)" fw \
	"journal: it names the chain"
is "$(jr_count MESSAGE_ID=$MID_ADMIN_DROPS)" 3 "journal: one entry each time a chain starts to drop (3 so far)"
is "$(admin_table)" "$table2" "the admin table inet filter is byte-identical"

# ---- a reload, nothing changed: nothing new in the journal --------------------------------
reloaded=$(jr_count MESSAGE_ID=48b107baf2d8469ab8ff07e970d42a1f)
kill -HUP "$NW_DPID"
waited 10 "the reload is journaled" jr_has $((reloaded + 1)) MESSAGE_ID=48b107baf2d8469ab8ff07e970d42a1f
sleep 0.5
jr_sync
is "$(jr_count MESSAGE_ID=$MID_ADMIN_DROPS):$(jr_count MESSAGE_ID=$MID_ADMIN_ADMITS)" "3:2" \
	"a reload that changes nothing repeats no finding"
is "$(admin_lines)" "$DROP_LINES" "status file after the reload: the same finding"
is "$(admin_table)" "$table2" "the reload left the admin table byte-identical"

# ---- another table's change that is not a forward chain: still quiet ----------------------
nw_nft add table ip other && nw_nft add chain ip other input '{ type filter hook input priority 0; policy drop; }'
sleep 1
jr_sync
is "$(jr_count MESSAGE_ID=$MID_ADMIN_DROPS)" 3 "a drop chain on the input hook is no finding"
nw_nft delete table ip other

# ---- a rule that drops, before the admin rule: insert it, not add it -----------------------
if nw_nft -f - <<-NFT; then ok "a table whose forward chain drops in a rule, the admin rule after it"; else not_ok "table tail"; fi
	table inet tail {
		chain fw {
			type filter hook forward priority 0; policy accept;
			counter drop
			$RULE
		}
	}
NFT
TAIL="admin_drop	inet tail	fw	forwards and pinholes	insert \"$RULE\" before the rule that drops"
waited 10 "status file: the chain is told to insert the rule before the drop (an added rule comes after it)" \
	admin_lines_sorted_are "$DROP_LINES
$TAIL"
nw_nft delete table inet tail

# ---- a chain whose name natwarden cannot show: said, never taken for checked ----------------
LONG=$(printf 'c%.0s' $(seq 70))
nw_nft add table ip longname &&
	nw_nft add chain ip longname "$LONG" '{ type filter hook forward priority 0; policy drop; }'
PARTIAL="partial: 1 chain not read (a name over 64 bytes or with a control character, more than 256 chains, or past the 2000 ms limit)"
waited 10 "status file: a chain with a 70-byte name is counted as not read" \
	admin_lines_are "admin_check	$PARTIAL
admin_drop	inet filter	forward	forwards and pinholes	add \"$RULE\""
is "$(client_status | grep '^admin chains:')" "admin chains: $PARTIAL" "natwarden status says the check is partial"
nw_nft delete table ip longname
waited 10 "the table gone: the check is whole again" admin_lines_are "$DROP_LINES"

# ---- a mark of contiguous high bits, which nft lists as a prefix ----------------------------
NW_MARK=0x4e570000/0xffff0000 nw_policy
RULE2=$("$NW_DAEMON" --config "$NW_T/policy.ini" --check | sed -n 's/^admin rule: //p')
is "$RULE2" "ct mark and 0xffff0000 == 0x4e570000 accept" "--check: the admin rule for the mark 0x4e570000/0xffff0000"
kill -HUP "$NW_DPID"
waited 10 "after a reload with that mark, the chain is told to add its rule" admin_lines_are "admin_check	ok
admin_drop	inet filter	forward	forwards and pinholes	add \"$RULE2\""
nw_nft add rule inet filter forward "$RULE2"
diag "the kernel lists it as: $(nw_nft list chain inet filter forward | grep 'ct mark')"
waited 10 "the rule added (listed by nft as ct mark 0x4e570000/16): the chain admits natwarden's connections" \
	admin_lines_are "admin_check	ok"

nw_stop
