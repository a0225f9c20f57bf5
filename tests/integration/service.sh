#!/bin/bash
# SPDX-License-Identifier: MIT
# natwardend as a system service: the exact sd_notify conversation (start, changes, reload,
# watchdog, stop, fatal errors), least privilege read back from /proc (started as root, and
# started as the daemon user with an ambient CAP_NET_ADMIN), and reloads that revoke, or that
# fail and keep the old policy in force.
. "$(dirname "$0")/lib.sh"
nw_init
nw_setup
nw_notify_listen
notes() { cat "$NW_T/notify.log"; }
note_count() { wc -l <"$NW_T/notify.log" | tr -d ' '; }
since() { tail -n +"$(($1 + 1))" "$NW_T/notify.log"; }

# --- start: exactly one message, READY=1 with a STATUS, after the table is in place
WATCHDOG_USEC=400000 nw_start || { not_ok "daemon starts"; exit 1; }
first=$(grep -v '^WATCHDOG=1$' "$NW_T/notify.log" | head -n 1)
is "$first" "READY=1|STATUS=0 mappings from 0 fragments of 0 users; no change since start" \
	"start-up sends READY=1 together with a readable STATUS"
check "READY=1 came after the table existed" nw_nft list table inet "$NW_TABLE"

# --- the watchdog is fed through sd-event
sleep 1
like "$(notes)" "^WATCHDOG=1$" "with WATCHDOG_USEC set, sd-event sends WATCHDOG=1"

# --- a change updates STATUS
n=$(note_count)
printf 'dnat tcp 80 to 192.168.1.240\n' | nw_submit "$NW_U1" ingress >/dev/null
sleep 0.2
like "$(since "$n" | grep -v WATCHDOG)" "^STATUS=1 mappings from 1 fragment of 1 user; last change [0-9]+s ago$" \
	"an accepted fragment updates STATUS"

# --- least privilege, read back from the kernel
field() { awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "/proc/$NW_DPID/status"; }
duid=$(id -u "$NW_DUSER")
dgid=$(id -g "$NW_DUSER")
is "$(field Uid)" "$duid $duid $duid $duid" "started as root: runs as the [daemon] user (real, effective, saved, fs)"
is "$(field Gid)" "$dgid $dgid $dgid $dgid" "with that user's primary group"
is "$(field Groups)" "" "and no supplementary groups"
is "$(field CapEff)" "0000000000001000" "CapEff is CAP_NET_ADMIN only"
is "$(field CapPrm)" "0000000000001000" "CapPrm is CAP_NET_ADMIN only"
is "$(field CapInh)" "0000000000000000" "CapInh is empty"
is "$(field CapBnd)" "0000000000000000" "the bounding set is empty"
is "$(field CapAmb)" "0000000000000000" "no ambient capabilities"
is "$(field NoNewPrivs)" "1" "no_new_privs is set"

# --- reload: a narrower policy revokes, in one go, with a reason each
printf 'dnat tcp 8080 to 192.168.2.9\n' | nw_submit "$NW_U2" web >/dev/null
printf 'dnat tcp 9000 to 192.168.2.9\n' | nw_submit "$NW_U2" other >/dev/null
sed -i "s/^ports = 80, 8080, 9000-9999/ports = 9000-9999/" "$NW_T/policy.ini"
n=$(note_count)
ip netns exec "$NW_NS" nft monitor elements >"$NW_T/mon.log" 2>&1 &
mon=$!
NW_PIDS+=("$mon")
sleep 0.3
kill -HUP "$NW_DPID"
check "the reload finishes with READY=1" nw_wait_for 5 bash -c "tail -n +$((n + 1)) '$NW_T/notify.log' | grep -q '^READY=1'"
sleep 0.3
kill "$mon"; wait "$mon" 2>/dev/null
is "$(since "$n" | grep -v WATCHDOG)" "RELOADING=1|STATUS=Reloading $NW_T/policy.ini
READY=1|STATUS=2 mappings from 2 fragments of 2 users; last change 0s ago" \
	"reload: RELOADING=1, then READY=1 with the new STATUS, nothing else"
is "$(grep -c 'delete element' "$NW_T/mon.log")" 1 "the revoked forward left in one transaction"
like "$(cat "$NW_T/daemon.log")" "revoked $NW_U2's fragment 'web' after a policy change: web:1: port 8080 is not allowed for $NW_U2" \
	"the revocation is recorded with its reason"
check "web's forward is gone" bash -c "! ip netns exec $NW_NS nft list map inet $NW_TABLE dnat_port | grep -q 'tcp . 8080'"
check "other's forward stays" bash -c "ip netns exec $NW_NS nft list map inet $NW_TABLE dnat_port | grep -q 'tcp . 9000'"

# --- a broken policy: logged with FILE:LINE: reason, the old one stays in force
cp "$NW_T/policy.ini" "$NW_T/policy.good"
printf '[wan]\nbogus = 1\n' >>"$NW_T/policy.ini"
n=$(note_count)
kill -HUP "$NW_DPID"
check "a failed reload still ends with READY=1" nw_wait_for 5 bash -c "tail -n +$((n + 1)) '$NW_T/notify.log' | grep -q '^READY=1'"
like "$(cat "$NW_T/daemon.log")" "$NW_T/policy.ini:[0-9]+: .*(section \[wan\] appears twice|unknown key 'bogus')" \
	"the broken policy is reported as FILE:LINE: reason"
like "$(cat "$NW_T/daemon.log")" "reload failed, the previous policy stays in force" "and the old policy stays"
printf 'dnat tcp 9001 to 192.168.2.9\n' | nw_submit "$NW_U2" after >/dev/null
is "$?" 0 "submissions are still judged by the old policy"
check "the daemon is still running" nw_alive
cp "$NW_T/policy.good" "$NW_T/policy.ini"

# --- stop: STOPPING=1, forwards stay
n=$(note_count)
nw_stop
like "$(since "$n" | grep -v WATCHDOG)" "^STOPPING=1\|STATUS=Stopping; the forwards stay in the kernel$" "SIGTERM sends STOPPING=1"
check "the forwards stay after the stop" bash -c "ip netns exec $NW_NS nft list map inet $NW_TABLE dnat_port | grep -q 'tcp . 9000'"

# --- started as the daemon user with an ambient CAP_NET_ADMIN (systemd User= + AmbientCapabilities=)
: >"$NW_T/notify.log"
# setpriv --init-groups, like systemd's User=, lists the primary group as a supplementary one
NOTIFY_SOCKET=$NW_NOTIFY ip netns exec "$NW_NS" setpriv --reuid="$duid" --regid="$dgid" --init-groups \
	--inh-caps=-all,+net_admin --ambient-caps=-all,+net_admin --bounding-set=-all,+net_admin \
	"$NW_DAEMON" --config "$NW_T/policy.ini" >>"$NW_T/daemon.log" 2>&1 &
NW_DPID=$!
NW_PIDS+=("$NW_DPID")
check "started as the daemon user, it becomes ready" nw_wait_for 10 grep -q READY=1 "$NW_T/notify.log"
is "$(field Uid)" "$duid $duid $duid $duid" "unprivileged start: same user"
is "$(field CapEff) $(field CapPrm)" "0000000000001000 0000000000001000" "unprivileged start: CAP_NET_ADMIN only"
# Nothing to drop, so no capset(2) (the unit's system call filter forbids it): the inheritable
# set stays as the service manager gave it, the ambient one is cleared (prctl).
is "$(field CapInh) $(field CapAmb)" "0000000000001000 0000000000000000" "unprivileged start: no capset, ambient cleared"
is "$(field CapBnd)" "0000000000001000" "unprivileged start: bounding set as the service manager gave it"
is "$(field NoNewPrivs)" "1" "unprivileged start: no_new_privs"
printf 'dnat tcp 9002 to 192.168.2.9\n' | nw_submit "$NW_U2" late >/dev/null
is "$?" 0 "unprivileged start: intake and apply work"
nw_nft delete table inet "$NW_TABLE"
check "unprivileged start: flush recovery works" nw_wait_for 5 bash -c "ip netns exec $NW_NS nft list map inet $NW_TABLE dnat_port | grep -q 'tcp . 9002'"
nw_stop

# --- started as the daemon user with more than CAP_NET_ADMIN: it drops the rest (capset)
: >"$NW_T/notify.log"
NOTIFY_SOCKET=$NW_NOTIFY ip netns exec "$NW_NS" setpriv --reuid="$duid" --regid="$dgid" --init-groups \
	--inh-caps=-all,+net_admin,+net_raw --ambient-caps=-all,+net_admin,+net_raw \
	--bounding-set=-all,+net_admin,+net_raw \
	"$NW_DAEMON" --config "$NW_T/policy.ini" >>"$NW_T/daemon.log" 2>&1 &
NW_DPID=$!
NW_PIDS+=("$NW_DPID")
check "started with CAP_NET_RAW too, it becomes ready" nw_wait_for 10 grep -q READY=1 "$NW_T/notify.log"
is "$(field CapEff) $(field CapPrm) $(field CapInh) $(field CapAmb)" \
	"0000000000001000 0000000000001000 0000000000000000 0000000000000000" \
	"started with CAP_NET_RAW too: it keeps CAP_NET_ADMIN only, inheritable and ambient cleared"
nw_stop

# --- as anyone else it refuses, saying why
: >"$NW_T/notify.log"
NOTIFY_SOCKET=$NW_NOTIFY ip netns exec "$NW_NS" setpriv --reuid="$(id -u "$NW_U1")" --regid="$(id -g "$NW_U1")" --clear-groups \
	"$NW_DAEMON" --config "$NW_T/policy.ini" >>"$NW_T/daemon.log" 2>&1
rc=$?
is "$rc" 1 "started as another user it exits 1"
like "$(cat "$NW_T/notify.log")" "^STATUS=Failed: .*\|ERRNO=[0-9]+$" "and tells systemd STATUS=Failed and ERRNO="

# --- a policy without submitters (as the Debian package ships it): running, idle, and says so
{
	nw_policy_daemon
	printf '\n[wan]\ninterface = wan0\n'
} >"$NW_T/policy.ini"
chmod 0644 "$NW_T/policy.ini"
nw_start || not_ok "a policy without submitters starts"
is "$(grep -v '^WATCHDOG=1$' "$NW_T/notify.log" | grep 'READY=1' | tail -n 1)" \
	"READY=1|STATUS=no submitters in $NW_T/policy.ini; nothing to do" \
	"without submitters: ready, and STATUS says there is nothing to do"
nw_stop

# --- fatal start-up errors are clear
nw_policy
sed -i "s/^user = $NW_DUSER/user = nosuchuser$NW_ID/" "$NW_T/policy.ini"
: >"$NW_T/notify.log"
NOTIFY_SOCKET=$NW_NOTIFY ip netns exec "$NW_NS" "$NW_DAEMON" --config "$NW_T/policy.ini" >"$NW_T/fatal.log" 2>&1
is "$?" 1 "a missing [daemon] user is fatal"
like "$(cat "$NW_T/fatal.log")" "fatal: \[daemon\] user 'nosuchuser$NW_ID' does not exist" "and says which user"
is "$(cat "$NW_T/notify.log")" "STATUS=Failed: [daemon] user 'nosuchuser$NW_ID' does not exist (see sysusers.d/natwarden.conf)|ERRNO=2" \
	"systemd hears the same, with ERRNO=2"
nw_policy
chmod 0666 "$NW_T/policy.ini"
ip netns exec "$NW_NS" "$NW_DAEMON" --config "$NW_T/policy.ini" >"$NW_T/fatal.log" 2>&1
is "$?" 1 "a world-writable policy is fatal"
like "$(cat "$NW_T/fatal.log")" "$NW_T/policy.ini: mode 0666 is writable by group or others" "and says why"
chmod 0644 "$NW_T/policy.ini"
# saved state a newer natwarden wrote (a downgrade): refused, and left as it was
printf 'natwarden-state 3\nsomething only a newer natwardend reads\n' >"$NW_T/state/snapshot"
chown "$NW_DUSER:$NW_DUSER" "$NW_T/state/snapshot" && chmod 0600 "$NW_T/state/snapshot"
sum=$(sha256sum <"$NW_T/state/snapshot")
ip netns exec "$NW_NS" "$NW_DAEMON" --config "$NW_T/policy.ini" >"$NW_T/fatal.log" 2>&1
is "$?" 1 "saved state in a newer format is fatal"
like "$(cat "$NW_T/fatal.log")" "cannot read the saved state in $NW_T/state: state snapshot: format 3, newer than the format 2 this natwardend reads: a newer natwarden wrote it. Nothing was changed" \
	"and says which file, which format and that nothing was changed"
is "$(sha256sum <"$NW_T/state/snapshot")" "$sum" "the snapshot is left as it was"
rm "$NW_T/state/snapshot"
chmod a+r "$NW_T/spool/incoming"
ip netns exec "$NW_NS" "$NW_DAEMON" --config "$NW_T/policy.ini" >"$NW_T/fatal.log" 2>&1
is "$?" 1 "a spool with unsafe modes is fatal"
like "$(cat "$NW_T/fatal.log")" "$NW_T/spool/incoming is $NW_DUSER:$NW_GROUP 0754, it must be $NW_DUSER:$NW_GROUP 0710" \
	"and names the path, what it is and what it must be"
