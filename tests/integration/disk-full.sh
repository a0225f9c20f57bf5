#!/bin/bash
# SPDX-License-Identifier: MIT
# A full disk fails closed. With the spool and the state on one full filesystem, a forward that
# ends (withdrawn, or its lease run out) still leaves the kernel and the saved state at once;
# new forwards are refused, and the status file says why; once there is room, additions work
# again and the saved state catches up; a restart, on a full disk too, brings back exactly
# what is live. (The finding: an expired `lease 20` forward stayed in the kernel 25 s later,
# "cannot expire ... could not be saved: No space left on device; trying again".)
#
# The spool and the state live on an 8 MiB tmpfs mounted under $NW_T (the host's mount
# namespace, unmounted by the EXIT trap once the daemon has stopped), filled by a root-owned
# file. Room is made in whole pages: 2 pages take a 6,200-byte submission, but leave nothing
# for the state journal to grow by.
#
#   NW_BUILD=build tests/integration/disk-full.sh          (as root)
#   NW_KEEP=1 ...                                          keep $NW_T

# SC2119: nw_start passes its arguments to natwardend, none here; SC2317: the functions that
# check, nw_wait_for and the EXIT trap call.
# shellcheck disable=SC2119,SC2317
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"

nw_init
[ "$(getconf PAGESIZE)" = 4096 ] || skip_all "the room this test makes is counted in 4 KiB pages"
for c in dd truncate stat; do command -v "$c" >/dev/null || skip_all "needs $c"; done
NW_MAX_RULES=256 # A's 200-statement fragment
nw_setup
A=$NW_U1
B=$NW_U2
UIDA=$(id -u "$A")
DF=$NW_T/disk
DF_MOUNTED=

df_exit() {
	local rc=$?
	nw_stop # the daemon holds the state journal open: it goes first
	if [ -n "$DF_MOUNTED" ]; then
		umount "$DF" || umount -l "$DF" || echo "# cannot unmount $DF"
	fi
	nw_cleanup || { [ "$rc" -ne 0 ] || rc=1; }
	exit "$rc"
}
trap df_exit EXIT
mkdir -m 0755 "$DF"
mount -t tmpfs -o size=8m,mode=0755,nosuid,nodev tmpfs "$DF" || skip_all "cannot mount a tmpfs"
DF_MOUNTED=1
sed -i "s|^spool = .*|spool = $DF/spool|; s|^state = .*|state = $DF/state|" "$NW_T/policy.ini"
is "$(grep -E '^(spool|state) = ' "$NW_T/policy.ini")" "spool = $DF/spool
state = $DF/state" "spool and state on one 8 MiB tmpfs"

df_submit() { # df_submit USER NAME < fragment: natwarden submit, stdout and stderr
	nw_as "$1" "$NW_CLIENT" --spool "$DF/spool" --runtime "$NW_T/run" submit "$2" - 2>&1
}
df_withdraw() { # df_withdraw USER NAME
	nw_as "$1" "$NW_CLIENT" --spool "$DF/spool" --runtime "$NW_T/run" withdraw "$2" 2>&1
}
df_free() { stat -f -c %a "$DF"; } # free 4 KiB blocks
df_fill() {
	dd if=/dev/zero of="$DF/filler" bs=64k 2>/dev/null # until ENOSPC
	is "$(df_free)" 0 "$1: the filesystem is full ($(stat -c %s "$DF/filler") bytes of filler)"
}
df_expect() { printf '%s\n' "$@" | sort; } # lines in nw_kernel's order
df_log() { tail -n +"${2:-1}" "$NW_T/daemon.log" | grep -cFx -- "$1"; } # df_log LINE [FROM]
df_log_from() { echo $(($(wc -l <"$NW_T/daemon.log") + 1)); }
# df_poll SECONDS COMMAND...: like nw_wait_for; prints the milliseconds it took
df_poll() {
	local t0
	t0=$(nw_ms)
	nw_wait_for "$@"
	local rc=$?
	echo $(($(nw_ms) - t0))
	return "$rc"
}
df_gone() { ! nw_kernel | grep -q "^$1 "; } # df_gone "tcp 9000"
df_status_is() { [ "$(nw_status last_error)" = "$1" ]; }

WEB="tcp 80 192.168.1.240:80"
B1="tcp 9000 192.168.2.10:9000"
B2="tcp 9001 192.168.2.11:9001"
B3="tcp 9002 192.168.2.12:9002"
NEW="tcp 8002 192.168.1.242:8002"
FULL="the state disk is full: new forwards are refused until there is room; removals and expiries still work"

: >"$NW_T/daemon.log"
nw_start || { not_ok "natwardend starts"; exit 1; }
ok "natwardend starts with its spool and state on the tmpfs"
for f in "$A web dnat tcp 80 to 192.168.1.240" "$B b1 dnat tcp 9000 to 192.168.2.10" \
	"$B b2 dnat tcp 9001 to 192.168.2.11" "$B b3 dnat tcp 9002 to 192.168.2.12"; do
	read -r u name stmt <<<"$f"
	printf '%s\n' "$stmt" | df_submit "$u" "$name" >/dev/null || { not_ok "$name accepted"; exit 1; }
done
out=$(printf 'dnat tcp 8001 to 192.168.1.241\nlease 3\n' | df_submit "$A" short)
is "$?" 0 "short (lease 3): accepted"
t_short=$(nw_ms)
is "$(nw_kernel)" "$(df_expect "$WEB" "$B1" "$B2" "$B3" "tcp 8001 192.168.1.241:8001")" "five forwards live"

# ==== 1. a full disk =============================================================================
df_fill "before the lease ends"

# a withdrawal needs only an inode for its (empty) file
out=$(df_withdraw "$B" b1)
rc=$?
check "withdrawal on the full disk: b1 left the kernel at once" df_gone "tcp 9000"
is "$rc $out" "0 b1: withdrawn for $B (no answer came through the spool, whose file system may be full; the status file no longer lists b1)" \
	"withdrawal on the full disk: the client learns it is withdrawn (exit 0), from the status file, and says why"
is "$(grep -c "cannot write the verdict into 'b1' in incoming/$(id -u "$B") (its verdict is in the journal): No space left on device" "$NW_T/daemon.log")" 1 \
	"withdrawal on the full disk: the daemon says it could not answer in the file"
is "$(df_log "<5>withdrawn $B's fragment 'b1'")" 1 "withdrawal on the full disk: logged"

# the lease
if ms=$(df_poll $((3 + 7)) df_gone "tcp 8001"); then
	ok "lease 3 on the full disk: gone from the kernel $(($(nw_ms) - t_short)) ms after its accept"
else
	not_ok "lease 3 on the full disk: gone from the kernel within 10 s of its accept"
fi
diag "the expiry was seen after ${ms} ms of polling"
df_expired() { [ "$(df_log "<5>expired $A's fragment 'short'")" = 1 ]; }
check "lease 3 on the full disk: its expiry logged, once" nw_wait_for 10 df_expired
is "$(grep -c 'cannot expire' "$NW_T/daemon.log")" 0 "no 'cannot expire ... trying again'"
is "$(nw_kernel)" "$(df_expect "$WEB" "$B2" "$B3")" "the kernel: the three forwards still live"

# an addition: not even the client's file fits
out=$(printf 'dnat tcp 8002 to 192.168.1.242\n' | df_submit "$A" new)
is "$? $out" "2 natwarden: cannot write into the spool: No space left on device" \
	"addition on the full disk: the client cannot write its file, and says so (exit 2)"
is "$(ls -A "$DF/spool/incoming/$UIDA")" "" "addition on the full disk: the client left nothing in the spool"
is "$(nw_kernel)" "$(df_expect "$WEB" "$B2" "$B3")" "addition on the full disk: the kernel unchanged"

# ==== 2. room for a submission, none for the state ==============================================
truncate -s -8192 "$DF/filler"
is "$(df_free)" 2 "2 pages free"
big=$(for p in $(seq 8000 8199); do echo "dnat tcp $p to 192.168.1.240"; done)
out=$(printf '%s\n' "$big" | df_submit "$A" big)
is "$? $out" "1 big: rejected
big: the change could not be saved: No space left on device" \
	"addition of 200 statements (6,200 bytes: fits the spool, not the state): rejected, could not be saved"
is "$(nw_kernel)" "$(df_expect "$WEB" "$B2" "$B3")" "the refused addition: the kernel unchanged"
is "$(df_log "<4>rejected $A's fragment 'big': big: the change could not be saved: No space left on device")" 1 \
	"the refused addition: logged"
if ms=$(df_poll 10 df_status_is "$FULL"); then
	ok "status file: last_error says the state disk is full (${ms} ms after the refusal)"
else
	not_ok "status file: last_error says the state disk is full (within 10 s of the refusal)"
	diag "last_error: $(nw_status last_error)"
fi

out=$(df_withdraw "$B" b2)
is "$? $out" "0 b2: withdrawn for $B" "withdrawal with room for its verdict: withdrawn"
is "$(nw_kernel)" "$(df_expect "$WEB" "$B3")" "withdrawal with room for its verdict: b2 left the kernel at once"
is "$(nw_status last_error)" "$FULL" "status file after that change: last_error says the state disk is full"

# ==== 3. room again ==============================================================================
rm "$DF/filler"
t0=$(nw_ms)
out=$(printf 'dnat tcp 8002 to 192.168.1.242\n' | df_submit "$A" new)
is "$? $out" "0 new: accepted for $A
  live: dnat tcp 8002 to 192.168.1.242" "room again: an addition is accepted ($(($(nw_ms) - t0)) ms)"
if ms=$(df_poll 10 df_status_is -); then
	ok "room again: last_error cleared (${ms} ms)"
else
	not_ok "room again: last_error cleared within 10 s"
	diag "last_error: $(nw_status last_error)"
fi
LIVE=$(df_expect "$WEB" "$NEW" "$B3")
is "$(nw_kernel)" "$LIVE" "the kernel: web, new, b3"
saved() { "$NW_DAEMON" --config "$NW_T/policy.ini" --check | sed -n 's/^saved state: //p'; }
is "$(saved)" "3 active fragments of 2 users, 3 mappings" \
	"natwardend --check: the saved state is what is live (no withdrawn or expired fragment in it)"
is "$(nw_status fragments) $(nw_status users) $(nw_status mappings)" "3 2 3" "the status file agrees"
nw_stop
log0=$(df_log_from)
nw_start || { not_ok "natwardend starts again"; exit 1; }
is "$(nw_kernel)" "$LIVE" "restart: the kernel holds exactly the live forwards"
is "$(tail -n +"$log0" "$NW_T/daemon.log" | grep -Ec "expired .*while the daemon was down|revoked ")" 0 \
	"restart: nothing expired or revoked at start-up (the expiry saved on the full disk holds)"

# ==== 4. a start on a full disk ====================================================================
nw_stop
df_fill "while the daemon is down"
log0=$(df_log_from)
nw_start || { not_ok "natwardend starts on the full disk (READY)"; exit 1; }
ok "natwardend starts on the full disk (READY)"
is "$(nw_kernel)" "$LIVE" "start on the full disk: the table keeps exactly the live forwards"
is "$(df_log "<3>cannot write the saved state; running on, and trying again later: No space left on device" "$log0")" 1 \
	"start on the full disk: logs that the state cannot be written"
is "$(nw_status last_error)" "the state cannot be written (No space left on device)" \
	"start on the full disk: the status file says so"
out=$(df_withdraw "$B" b3)
diag "withdrawal after a start on the full disk: exit $?: $out"
is "$(nw_kernel)" "$(df_expect "$WEB" "$NEW")" "withdrawal after a start on the full disk: b3 left the kernel at once"
nw_stop
nw_start || { not_ok "natwardend starts on the full disk again"; exit 1; }
is "$(nw_kernel)" "$(df_expect "$WEB" "$NEW")" "restart on the full disk: b3 does not come back"
rm "$DF/filler"
log0=$(df_log_from)
if ms=$(df_poll 10 df_status_is -); then
	ok "room again: last_error cleared (${ms} ms)"
else
	not_ok "room again: last_error cleared within 10 s"
	diag "last_error: $(nw_status last_error)"
fi
is "$(df_log "<5>the state is saved again: every removal since the disk was full is recorded" "$log0")" 1 \
	"room again: the state is saved again, and that is logged"
is "$(saved)" "2 active fragments of 1 users, 2 mappings" "natwardend --check: the saved state is what is live"
nw_stop
nw_start || { not_ok "natwardend starts again"; exit 1; }
is "$(nw_kernel)" "$(df_expect "$WEB" "$NEW")" "a last restart: exactly the live forwards"
exit 0
