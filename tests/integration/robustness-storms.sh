#!/bin/bash
# SPDX-License-Identifier: MIT
# natwardend under storms, the real daemon against the real kernel in lib.sh's namespace, with
# exact assertions (robustness-lib.sh, robustness.py). Run as root; everything nft happens
# inside the test's namespace.
#
#  1. Flush storm: 100 `nft flush ruleset` while submissions flow from two users (the mixed
#     plans of robustness-crash.sh, every verdict checked against what was asked), and 50
#     one-second leases end meanwhile: at the end the kernel equals the state, no valid
#     submission was rejected for the flush, no lease outlived its time.
#  2. Reload storm: 100 SIGHUPs alternating two valid policies (A and B allow the first user
#     different ports) with broken ones (syntax, missing key, unknown key, world-writable,
#     duplicate section) while submissions flow: every verdict must come from A or B (each
#     rejection quotes the allowed ports of the policy that judged it), the second user (the
#     same in A and B) is always served, the daemon never exits, each reload is logged once as
#     "reloaded" or "reload failed", the last valid policy is in force at the end.
#
# Environment:
#   NW_HEAVY=1               1,000 flushes, 1,000 reloads
#   NW_FLUSHES, NW_RELOADS   each count alone (defaults 100, 100)
#   NW_SEED                  the seed (the plans; not the timing)
. "$(dirname "$0")/lib.sh"
nw_init
. "$(dirname "$0")/robustness-lib.sh"

if [ "${NW_HEAVY:-0}" = 1 ]; then
	: "${NW_FLUSHES:=1000}" "${NW_RELOADS:=1000}"
fi
FLUSHES=${NW_FLUSHES:-100}
RELOADS=${NW_RELOADS:-100}

rb_setup
diag "seed $SEED; $FLUSHES flushes, $RELOADS reloads"
rb_start

# ---- 1. flush storm ----------------------------------------------------------------------------

kernel_is_state() { [ "$(nw_kernel 2>/dev/null)" = "$(rb_py derive "$NW_T/state" | sort)" ]; }

t2=$(date +%s)
rb_reload "$NW_T/policy-big.ini" "a policy without tight quotas is in force for the flush storm"
rm -f "$P/stop-flush"
rb_py plan "$SEED" flush u1 "$NW_U1" "$NW_U2" 5000 48 0 "$P/plan-flush-u1"
rb_py plan "$SEED" flush u2 "$NW_U1" "$NW_U2" 5000 48 0 "$P/plan-flush-u2"
restored0=$(log_count 'was changed or removed by someone else')
writer "$NW_U1" "$P/plan-flush-u1" "$P/out-flush-u1" 120 2 "$P/stop-flush"
w1=$W
writer "$NW_U2" "$P/plan-flush-u2" "$P/out-flush-u2" 120 2 "$P/stop-flush"
w2=$W
rb_py plan-flush-leases "$NW_U1" 50 "$P/plan-flush-leases"
writer "$NW_U1" "$P/plan-flush-leases" "$P/out-flush-leases" 60 40 -
w3=$W
sleep 0.2
flushed=0
for _ in $(seq "$FLUSHES"); do
	ip netns exec "$NW_NS" nft flush ruleset && flushed=$((flushed + 1))
	sleep "$(printf '0.%03d' $((RANDOM % 21)))"
done
touch "$P/stop-flush"
nw_wait_pids 120 "$w1" "$w2" "$w3"
is "$flushed" "$FLUSHES" "$FLUSHES flushes of the whole ruleset ran while submissions flowed"
check "the daemon survived the flush storm" nw_alive
nw_wait_for 10 nw_spool_empty
t_flush=$(nw_ms)
check "within 10 s of the last flush the kernel holds exactly the saved state" nw_wait_for 10 kernel_is_state
diag "the kernel held the saved state $(($(nw_ms) - t_flush)) ms after the spool was empty"
rb_py check-flow "$NW_T" "flush storm" "$NW_U1" "$NW_U2" "$P/counts-flush.json" \
	"$P/out-flush-u1" "$P/out-flush-u2" >"$P/flow-flush"
refused=$(sed -n 's/^REFUSED //p' "$P/flow-flush")
nw_tap < <(grep -v '^REFUSED ' "$P/flow-flush")
is "${refused:-?}" 0 "no valid submission was rejected because someone flushed the ruleset meanwhile"
sleep 2 # the last one-second lease has ended
rb_py flush-leases "$NW_T" "$P/out-flush-leases" "$UID1" >"$P/flush-leases"
nw_tap < <(grep -v '^STUCK' "$P/flush-leases")
sed -n 's/^STUCK //p' "$P/flush-leases" | tr ' ' '\n' | while read -r name; do
	[ -n "$name" ] && nw_withdraw "$NW_U1" "$name" >/dev/null # out of the way of the checks below
done
nw_kernel >"$P/kernel-flush"
nw_tap < <(rb_py check-state "$NW_T" "$P/kernel-flush" "flush storm" model)
diag "flush storm: $flushed flushes, $(($(log_count 'was changed or removed by someone else') - restored0)) restores logged, $(jq -r '"\(.accepted // 0) accepted, \(.withdrawn // 0) withdrawn, \(.rejected // 0) rejected"' "$P/counts-flush.json") meanwhile; took $(($(date +%s) - t2)) s"

# ---- 2. reload storm ---------------------------------------------------------------------------

# reloads logged since byte LOG_OFF of the log (grep the whole log each time: too slow when heavy)
LOG_OFF=0
reloads() { tail -c +$((LOG_OFF + 1)) "$NW_T/daemon.log" | grep -c -E '^<[0-9]>(reloaded |reload failed)'; }

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

rb_reload "$NW_T/policy-A.ini" "policy A is in force before the storm"
ok0=$(log_count '^<[0-9]>reloaded ')
failed0=$(log_count '^<[0-9]>reload failed')
LOG_OFF=$(stat -c %s "$NW_T/daemon.log")
rb_py plan-reload "$SEED" "$NW_U1" "$NW_U2" $((RELOADS * 200)) $((RELOADS * 200)) "$P/plan-reload-u1" "$P/plan-reload-u2"
rm -f "$P/stop-reload"
writer "$NW_U1" "$P/plan-reload-u1" "$P/out-reload-u1" $((120 + RELOADS)) 3 "$P/stop-reload"
w1=$W
writer "$NW_U2" "$P/plan-reload-u2" "$P/out-reload-u2" $((120 + RELOADS)) 3 "$P/stop-reload"
w2=$W
sleep 0.2
dpid=$NW_DPID
unlogged=0
slowest=0
for i in $(seq "$RELOADS"); do
	if [ $((i % 2)) = 1 ]; then
		k=$(((i + 1) / 2))
		if [ $((k % 2)) = 1 ]; then install_policy "$NW_T/policy-A.ini" 0644; else install_policy "$NW_T/policy-B.ini" 0644; fi
	else
		b=$(((i / 2) % 5))
		if [ "$b" = 3 ]; then install_policy "$NW_T/policy-bad3.ini" 0666; else install_policy "$NW_T/policy-bad$b.ini" 0644; fi
	fi
	n0=$(reloads)
	t_hup=$(nw_ms)
	kill -HUP "$dpid" 2>/dev/null || break
	# each SIGHUP is handled before the next (two pending SIGHUPs would be one): 15 s at most
	while [ "$(reloads)" -le "$n0" ] && [ $(($(nw_ms) - t_hup)) -lt 15000 ]; do sleep 0.01; done
	if [ "$(reloads)" -gt "$n0" ]; then
		[ $(($(nw_ms) - t_hup)) -le "$slowest" ] || slowest=$(($(nw_ms) - t_hup))
	else
		unlogged=$((unlogged + 1))
	fi
	sleep "$(printf '0.%03d' $((RANDOM % 21)))"
done
touch "$P/stop-reload"
nw_wait_pids $((120 + RELOADS)) "$w1" "$w2"
check "the daemon never exited during $RELOADS reloads" test "$(cat "/proc/$dpid/comm" 2>/dev/null)" = natwardend
is "$NW_DPID" "$dpid" "it is the same daemon process"
is "$unlogged" 0 "each SIGHUP was logged before the next was sent (bound 15 s each; slowest $slowest ms)"
is "$(($(log_count '^<[0-9]>reloaded ') - ok0))" $(((RELOADS + 1) / 2)) "$(((RELOADS + 1) / 2)) reloads of a valid policy logged as 'reloaded'"
is "$(($(log_count '^<[0-9]>reload failed') - failed0))" $((RELOADS / 2)) "$((RELOADS / 2)) reloads of a broken policy logged as 'reload failed'"
like "$(grep -A3 'colour' "$NW_T/daemon.log" | head -n 3)" "colour" "a broken policy's finding is logged with its line"
nw_wait_for 10 nw_spool_empty
nw_tap < <(rb_py check-reload "$NW_T" "$NW_U1" "$NW_U2" "$LIST_A" "$LIST_B" "$P/out-reload-u1" "$P/out-reload-u2")
k=$((RELOADS / 2 + RELOADS % 2))
if [ $((k % 2)) = 1 ]; then final=A final_list=$LIST_A; else final=B final_list=$LIST_B; fi
out=$(printf 'dnat tcp 8525 to 192.168.1.241\n' | nw_submit "$NW_U1" probe-a)
if [ "$final" = A ]; then
	like "$out" "^probe-a: accepted" "after the storm the last valid policy ($final) is in force: 8525 accepted"
else
	like "$out" "port 8525 is not allowed for $NW_U1 \(allowed: $LIST_B\)" "after the storm the last valid policy ($final) is in force: 8525 refused"
fi
nw_tap < <(rb_py policy-only "$NW_T" "$final_list" "$NW_U1")
nw_kernel >"$P/kernel-reload"
nw_tap < <(rb_py check-state "$NW_T" "$P/kernel-reload" "reload storm" -)
diag "reload storm: $RELOADS SIGHUPs, $(($(log_count '^<[0-9]>reloaded ') - ok0)) reloaded, $(($(log_count '^<[0-9]>reload failed') - failed0)) failed, $(log_count 'after a policy change') fragments revoked by reloads; took $(($(date +%s) - t3)) s"
diag "total run time $(($(date +%s) - T0)) s"
