#!/bin/bash
# SPDX-License-Identifier: MIT
# natwardend's lease clock, the real daemon against the real kernel in lib.sh's namespace, with
# exact assertions (robustness-lib.sh, robustness.py). Run as root; everything nft happens
# inside the test's namespace.
#
# 200 fragments with leases of 2-4 s (20 renewed after about a second) while the other user's
# traffic flows: each must leave the kernel after its lease ends, never before, and be logged
# as expired once per life; each renewal submitted in good time renews its lease. How late the
# leases left (the kernel polled every 50 ms; the daemon's "expired" lines stamped as they are
# written) is printed; what is asserted about it is bounded generously (seconds). At the end
# the daemon still runs, and the status file, state and kernel agree.
#
# Environment:
#   NW_HEAVY=1    1,000 leases
#   NW_LEASES     the count alone (default 200)
#   NW_SEED       the seed (the plans; not the timing)
. "$(dirname "$0")/lib.sh"
nw_init
. "$(dirname "$0")/robustness-lib.sh"

[ "${NW_HEAVY:-0}" = 1 ] && : "${NW_LEASES:=1000}"
LEASES=${NW_LEASES:-200}
# The bounds on time: a lease leaves the kernel (and is logged) within MAX_LATE_MS of its end; a
# renewal submitted RENEW_MARGIN_MS or more before its lease ends renews it.
MAX_LATE_MS=5000
RENEW_MARGIN_MS=2000

rb_setup
diag "seed $SEED; $LEASES leases"
rb_start

t4=$(date +%s)
rb_reload "$NW_T/policy-big.ini" "a policy with room for the leases is in force"
rb_py model-init "$NW_T" "$NW_U1" "$UID1" "$NW_U2" "$UID2"
renew=$((LEASES / 10))
rb_py plan-lease "$NW_U1" "$LEASES" "$renew" "$P/plan-lease"
rb_py plan-traffic "$SEED" "$NW_U2" 20000 "$P/plan-traffic"
rm -f "$P/stop-traffic" "$P/stop-follow"
rb_py log-follow "$NW_T/daemon.log" "$P/stamped.log" "$P/stop-follow" &
follower=$!
NW_PIDS+=("$follower")
writer "$NW_U2" "$P/plan-traffic" "$P/out-traffic" 120 5 "$P/stop-traffic"
wt=$W
sleep 0.3
# the watcher stops once every lease was seen and gone, or at this generous bound
watch_max=$((240 + LEASES / 5))
rm -f "$P/stop-watch"
rb_py lease-watch "$NW_NS" "$NW_TABLE" "$P/plan-lease.ports" "$P/watch.json" "$watch_max" "$P/stop-watch" &
watcher=$!
NW_PIDS+=("$watcher")
# the first leases last 2 s: they are submitted only once the watcher is looking
nw_wait_for 60 test -e "$P/watch.json.ready" || diag "the kernel watcher did not start looking within 60 s"
writer "$NW_U1" "$P/plan-lease" "$P/out-lease" 60 0 -
wl=$W
nw_wait_pids 60 "$wl"
# the last lease (4 s, or renewed after about 1 s) ends within 5 s of the last submission; past
# that and MAX_LATE_MS, anything still in the kernel is late whatever the watcher sees later
watcher_done() { ! nw_ours "$watcher"; }
nw_wait_for $((5 + MAX_LATE_MS / 1000 + 2)) watcher_done || touch "$P/stop-watch"
nw_wait_pids "$watch_max" "$watcher"
touch "$P/stop-traffic"
nw_wait_pids 120 "$wt"
sleep 0.1
touch "$P/stop-follow"
nw_wait_pids 2 "$follower"
nw_tap < <(rb_py check-lease "$NW_U1" "$P/out-lease" "$P/watch.json" "$P/stamped.log" \
	"$MAX_LATE_MS" "$RENEW_MARGIN_MS")
rb_py check-flow "$NW_T" "traffic during the leases" "$NW_U1" "$NW_U2" "$P/counts-traffic.json" "$P/out-traffic" >"$P/flow-traffic"
nw_tap < <(grep -v '^REFUSED ' "$P/flow-traffic")
nw_wait_for 10 nw_spool_empty
nw_kernel >"$P/kernel-lease"
nw_tap < <(rb_py check-state "$NW_T" "$P/kernel-lease" "after the leases" model)
is "$(rb_py names "$NW_T/state" | grep -c "^$UID1-l[0-9]")" 0 "no leased fragment is left in the state"
diag "lease part took $(($(date +%s) - t4)) s"

# ---- the end -----------------------------------------------------------------------------------

check "the daemon is still running" nw_alive
status_updated() { [ -n "$(nw_status updated)" ]; }
nw_wait_for 10 status_updated # looked at again on every try, not once
nw_kernel >"$P/kernel-final"
nw_tap < <(rb_py agree "$NW_T" "$P/kernel-final")
diag "total run time $(($(date +%s) - T0)) s"
