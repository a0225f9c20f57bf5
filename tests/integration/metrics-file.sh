#!/bin/bash
# SPDX-License-Identifier: MIT
# [daemon] metrics: the file for node-exporter's textfile collector, what it counts (forwards,
# fragments per user, verdicts by user and outcome, the kernel's transactions, restores, the
# last reload), that it is replaced whole and at most every 100 ms in a burst with the last
# state never lost, and the real prometheus-node-exporter serving it over HTTP on the test
# namespace's loopback.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
nw_init
command -v prometheus-node-exporter >/dev/null || skip_all "needs prometheus-node-exporter (tests/deps.sh installs it)"
command -v curl >/dev/null || skip_all "needs curl"
NW_MAX_FRAGMENTS=64
nw_setup

PROM=$NW_T/prom
mkdir -m 0755 "$PROM" && chown "$NW_DUSER:$NW_DUSER" "$PROM"
nw_policy
sed -i "s|^runtime = .*|&\nmetrics = $PROM/natwarden.prom|" "$NW_T/policy.ini"
nw_start || { echo "Bail out! natwardend did not start"; exit 1; }
metric() { grep -E "^$1 " "$PROM/natwarden.prom" | awk '{ print $2 }'; }
# wait_metric NAME VALUE: until the file says so (a write may be up to 100 ms away)
wait_metric() { nw_wait_for 5 bash -c "grep -qxF '$1 $2' '$PROM/natwarden.prom'"; }

check "the metrics file is there once the daemon runs" test -f "$PROM/natwarden.prom"
is "$(stat -c '%U %a' "$PROM/natwarden.prom")" "$NW_DUSER 644" "owned by the daemon's user, readable by node-exporter"
is "$(metric 'natwarden_forwards\{kind="dnat"\}')" 0 "nothing forwarded yet"
is "$(metric natwarden_last_reload_failed)" 0 "no failed reload"

printf 'dnat tcp 80 to 192.168.1.240\ndnat tcp 443 to 192.168.1.240\n' | nw_submit "$NW_U1" web >/dev/null
is "$?" 0 "a submission is accepted"
check "forwards by kind: 2 dnat" wait_metric 'natwarden_forwards{kind="dnat"}' 2
is "$(metric "natwarden_fragments\{user=\"$NW_U1\"\}")" 1 "fragments per user"
is "$(metric "natwarden_verdicts_total\{user=\"$NW_U1\",outcome=\"accepted\"\}")" 1 "the accepted verdict is counted"
printf 'dnat tcp 22 to 192.168.1.240\n' | nw_submit "$NW_U2" sshd >/dev/null
is "$?" 1 "a submission is rejected"
check "the rejected verdict is counted, for its user" \
	wait_metric "natwarden_verdicts_total{user=\"$NW_U2\",outcome=\"rejected\"}" 1
count=$(metric natwarden_kernel_transaction_seconds_count)
check "the kernel's transactions are counted ($count)" test "${count:-0}" -ge 2
is "$(metric 'natwarden_kernel_transaction_seconds_bucket\{le="\+Inf"\}')" "$count" "the +Inf bucket holds them all"

nw_nft delete table inet "$NW_TABLE"
check "a restore after an outside change is counted" wait_metric natwarden_restores_total 1

echo 'not ini' >>"$NW_T/policy.ini"
kill -HUP "$NW_DPID"
check "a failed reload shows" wait_metric natwarden_last_reload_failed 1
sed -i '$d' "$NW_T/policy.ini"
kill -HUP "$NW_DPID"
check "a good reload clears it" wait_metric natwarden_last_reload_failed 0

# A burst: the file is replaced at most every 100 ms, and the last state is written.
: >"$NW_T/watch.ready"
rm -f "$NW_T/watch.stop"
python3 "$(nw_py)" count-replaced --seconds 120 "$PROM" natwarden.prom "$NW_T/watch.ready" "$NW_T/watch.stop" >"$NW_T/watch.count" &
watcher=$!
NW_PIDS+=("$watcher")
nw_wait_for 10 grep -q ready "$NW_T/watch.ready" || not_ok "the watcher starts"
t0=$(nw_ms)
for i in $(seq 40); do
	printf 'dnat tcp %d to 192.168.1.240\n' $((8000 + i)) | nw_submit "$NW_U1" "burst$i" --no-wait >/dev/null
done
nw_wait_for 30 nw_spool_empty
check "after the burst the file shows its last verdict" \
	wait_metric "natwarden_verdicts_total{user=\"$NW_U1\",outcome=\"accepted\"}" 41
sleep 0.3
elapsed=$(($(nw_ms) - t0))
touch "$NW_T/watch.stop"
wait "$watcher"
writes=$(cat "$NW_T/watch.count")
diag "41 verdicts in $elapsed ms: the file was replaced $writes times"
check "at most once per 100 ms ($writes writes in $elapsed ms)" test "$writes" -ge 1 -a "$writes" -le $((elapsed / 100 + 2))

# The real node-exporter reads it, on the namespace's loopback.
port=$((20000 + $$ % 20000))
ip netns exec "$NW_NS" prometheus-node-exporter --collector.disable-defaults --collector.textfile \
	--collector.textfile.directory="$PROM" --web.listen-address="127.0.0.1:$port" >"$NW_T/exporter.log" 2>&1 &
NW_PIDS+=($!)
scrape() { ip netns exec "$NW_NS" curl -sf "http://127.0.0.1:$port/metrics"; }
check "prometheus-node-exporter serves /metrics" nw_wait_for 10 scrape
out=$(scrape)
like "$out" '^natwarden_forwards\{kind="dnat"\} 42$' "node-exporter serves natwarden_forwards"
like "$out" "^natwarden_verdicts_total\{outcome=\"rejected\",user=\"$NW_U2\"\} 1$" "... and the verdicts by user and outcome"
like "$out" '^natwarden_kernel_transaction_seconds_bucket\{le="\+Inf"\} [0-9]+$' "... and the histogram"
like "$out" '^node_textfile_scrape_error 0$' "node-exporter found no error in the file"

# A directory others may write: refused (they could swap the file, or leave a FIFO at the
# temporary name); the metrics move there, so the old file goes.
mkdir -m 0775 "$NW_T/prom2" && chown "$NW_DUSER:$NW_GROUP" "$NW_T/prom2"
sed -i "s|^metrics = .*|metrics = $NW_T/prom2/natwarden.prom|" "$NW_T/policy.ini"
kill -HUP "$NW_DPID"
check "a group-writable metrics directory is refused, and the log says why" nw_wait_for 5 \
	grep -q "metrics: $NW_T/prom2 may be written by others than $NW_DUSER and root" "$NW_T/daemon.log"
check "nothing is written there" test ! -e "$NW_T/prom2/natwarden.prom"
check "the old file is gone" test ! -e "$PROM/natwarden.prom"
sed -i "s|^metrics = .*|metrics = $PROM/natwarden.prom|" "$NW_T/policy.ini"
kill -HUP "$NW_DPID"
check "back in a safe directory, it is written again" nw_wait_for 5 test -e "$PROM/natwarden.prom"

# A reload that turns them off removes the file: nothing stale is served.
sed -i '/^metrics = /d' "$NW_T/policy.ini"
kill -HUP "$NW_DPID"
check "a reload without [daemon] metrics removes the file" nw_wait_for 5 test ! -e "$PROM/natwarden.prom"
nw_stop
