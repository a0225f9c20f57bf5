#!/bin/bash
# SPDX-License-Identifier: MIT
# Hostile fragment contents and names, judged by the real daemon. The corpus is the table
# tests/data/hostile-fragments.tsv (its header says how to add a case). The client refuses
# syntax errors before sending, so every case is dropped the way a hostile user would do it by
# hand: as the submitter, the bytes go into a dot-file (mode 0660) in the submitter's own
# spool directory (incoming/UID), which is renamed to the case's name and kept open; once the
# daemon has removed it (bounded wait) the verdict is read from the open descriptor and
# compared with the table: the verdict, the fragment and user it names, and each expected
# reason at its exact line. A group member that is no submitter has no directory there.
# For every case the kernel table must be unchanged afterwards, except for the few valid
# control cases, whose exact additions are checked and which are then withdrawn again.
# At the end: the daemon is alive, still answers, and the spool is empty.
#
# Cases whose 8th column holds a note are known daemon problems: their points print
# "# TODO note" (TAP: they do not fail the run; when fixed they pass: remove the note).
. "$(dirname "$0")/lib.sh"
nw_init
command -v python3 >/dev/null || skip_all "needs python3"
command -v jq >/dev/null || skip_all "needs jq"
DATA=$NW_TOP/tests/data/hostile-fragments.tsv
[ -r "$DATA" ] || { echo "Bail out! cannot read $DATA"; exit 1; }
T0=$(nw_ms)
nw_setup
# a fourth user in the submit group without a [submitter] section (U3 gets one below): it
# has no spool directory, so the client refuses it
NW_U4=nwe$NW_ID
nw_add_user "$NW_U4" "$NW_GROUP"
# U3: a small quota, a lease required, udp only, other destinations
nw_policy "
[submitter $NW_U3]
ports = 8000-8999
protocols = udp
destinations = 10.9.0.0/16
masquerade = yes
max_fragments = 1
max_rules = 2
max_lease = 3600"
IN=$NW_T/spool/incoming # a user's own directory is $IN/UID
WAIT=${NW_CASE_TIMEOUT:-5}

# ---- the user side: one small program, run as the submitter ----------------------------------
cat >"$NW_T/hf.py" <<'PY'
"""hf.py MODE ...: drop hostile fragments into the spool by hand and check the verdict.

  decode SPEC                      print the bytes SPEC stands for
  drop INCOMING NAME INPUT VERDICT USER EXPECT TIMEOUT
                                   drop INPUT as NAME, wait for the verdict, compare
  dot INCOMING NAME INPUT TIMEOUT  create NAME (a dot-file), then show it is left alone
  norename INCOMING NAME EXPECT    renaming a dot-file to NAME must fail (EXPECT: errno:NAME)

SPEC (names and inputs) is - (nothing) or text with escapes: \\n \\r \\t \\e (ESC) \\0 \\\\ \\xHH (a byte),
\\uHHHH (a character in UTF-8), \\*N(...\\) (... N times), \\*N+B(...\\) with \\i = B, B+1, ...
EXPECT is a list joined by '||': LINE:TEXT (a reason at LINE, 0: the file as a whole,
containing TEXT), n=K (exactly K reasons), live:TEXT (exactly this live line), errno:NAME,
'-' for nothing. Prints PASS or FAIL, then details.
"""
import errno, os, re, sys, time

MAGIC = b"natwarden-verdict 1\n"


def parse(spec, i=0, inner=False):
    """SPEC -> list of nodes: bytes, 'IDX', ('rep', count, base, nodes)."""
    nodes = []
    while i < len(spec):
        c = spec[i]
        if c != "\\":
            nodes.append(c.encode())
            i += 1
            continue
        e = spec[i + 1]
        simple = {"n": b"\n", "r": b"\r", "t": b"\t", "e": b"\x1b", "0": b"\0", "\\": b"\\"}
        if e in simple:
            nodes.append(simple[e])
            i += 2
        elif e == "x":
            nodes.append(bytes([int(spec[i + 2:i + 4], 16)]))
            i += 4
        elif e == "u":
            nodes.append(chr(int(spec[i + 2:i + 6], 16)).encode())
            i += 6
        elif e == "i":
            nodes.append("IDX")
            i += 2
        elif e == "*":
            m = re.match(r"(\d+)(?:\+(\d+))?\(", spec[i + 2:])
            if not m:
                raise SystemExit("bad repeat at %d in %r" % (i, spec))
            body, i = parse(spec, i + 2 + m.end(), True)
            nodes.append(("rep", int(m.group(1)), int(m.group(2) or 0), body))
        elif e == ")" and inner:
            return nodes, i + 2
        else:
            raise SystemExit("bad escape \\%s in %r" % (e, spec))
    if inner:
        raise SystemExit("unclosed repeat in %r" % spec)
    return nodes


def render(nodes, idx=0):
    out = bytearray()
    for n in nodes:
        if n == "IDX":
            out += str(idx).encode()
        elif isinstance(n, tuple):
            for k in range(n[1]):
                out += render(n[3], n[2] + k)
        else:
            out += n
    return bytes(out)


def decode(spec):
    return b"" if spec == "-" else render(parse(spec))


def name_valid(b):
    ok = set(b"abcdefghijklmnopqrstuvwxyz0123456789._-")
    return 1 <= len(b) <= 64 and (chr(b[0]).islower() or chr(b[0]).isdigit()) and \
        b[0] < 128 and all(c in ok for c in b)


def shown(b):
    """The daemon's quoting of a name (str_quote)."""
    body = "".join(chr(c) if 0x20 <= c <= 0x7e and c not in (0x27, 0x5c) else "\\x%02x" % c
                   for c in b[:40])
    return "'" + body + "'" + ("..." if len(b) > 40 else "")


def create(dfd, tmp, data):
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o660, dir_fd=dfd)
    os.fchmod(fd, 0o660)
    os.write(fd, data) if len(data) < 65536 else [os.write(fd, data[k:k + 65536])
                                                  for k in range(0, len(data), 65536)]
    os.fsync(fd)
    return fd


def tmpname(tag):
    return ".hf.%s.%d.%d" % (tag, os.getpid(), time.monotonic_ns())


def wait_gone(fd, timeout):
    deadline = time.monotonic() + timeout
    while os.fstat(fd).st_nlink != 0:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)
    return True


def read_all(fd):
    chunks, off = [], 0
    while True:
        b = os.pread(fd, 1 << 20, off)
        if not b:
            return b"".join(chunks)
        chunks.append(b)
        off += len(b)


def submit(incoming, name, data, timeout, tag="case"):
    """Drop DATA as NAME; returns (status, text): 'verdict', 'none' (removed unanswered), 'timeout'."""
    dfd = os.open(incoming, os.O_PATH | os.O_DIRECTORY)
    tmp = tmpname(tag)
    fd = create(dfd, tmp, data)
    try:
        os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
    except OSError:
        os.unlink(tmp, dir_fd=dfd)
        raise
    if not wait_gone(fd, timeout):
        try:  # do not leave it for the next case
            os.unlink(name, dir_fd=dfd)
        except OSError:
            pass
        return "timeout", ""
    text = read_all(fd)
    if not text.startswith(MAGIC) or text == data:
        return "none", text.decode(errors="replace")
    return "verdict", text.decode(errors="replace")


def fields(text):
    f = {"reason": [], "live": []}
    for line in text.split("\n")[1:]:
        if not line:
            continue
        k, _, v = line.partition(" ")
        if k in ("reason", "live"):
            f[k].append(v)
        else:
            f[k] = v
    return f


def items(expect):
    return [] if expect in ("", "-") else expect.split("||")


def check_verdict(text, name, want, user, expect):
    problems = []
    f = fields(text)
    if f.get("verdict") != want:
        problems.append("verdict %r, want %r" % (f.get("verdict"), want))
    frag = name.decode() if name_valid(name) else shown(name)
    if f.get("fragment") != frag:
        problems.append("fragment %r, want %r" % (f.get("fragment"), frag))
    if f.get("user") != user:
        problems.append("user %r, want %r" % (f.get("user"), user))
    if want == "rejected" and (f["live"] or not f["reason"] or f.get("expires") != "0"):
        problems.append("a rejection must have reasons, no live lines and expires 0")
    if want != "rejected" and f["reason"]:
        problems.append("reasons in a verdict %r" % want)
    for it in items(expect):
        if it.startswith("n="):
            if len(f["reason"]) != int(it[2:]):
                problems.append("%d reasons, want %s" % (len(f["reason"]), it[2:]))
        elif it.startswith("live:"):
            if it[5:] not in f["live"]:
                problems.append("no live line %r" % it[5:])
        elif it.startswith("+"):
            pass  # the kernel: checked by the caller
        else:
            line, _, sub = it.partition(":")
            prefix = "%s:%s: " % (frag, line) if line != "0" else "%s: " % frag
            if not any(r.startswith(prefix) and sub in r[len(prefix):] for r in f["reason"]):
                problems.append("no reason %r...%r" % (prefix, sub))
    return problems


def main():
    mode = sys.argv[1]
    if mode == "decode":
        sys.stdout.buffer.write(decode(sys.argv[2]))
        return
    incoming = sys.argv[2]
    name = decode(sys.argv[3])
    if mode == "drop":
        data, want, user, expect = decode(sys.argv[4]), sys.argv[5], sys.argv[6], sys.argv[7]
        t0 = time.monotonic()
        try:
            status, text = submit(incoming, name, data, float(sys.argv[8]))
        except OSError as e:
            print("FAIL\ncannot drop it: %s" % os.strerror(e.errno))
            return
        ms = (time.monotonic() - t0) * 1000
        if status == "timeout":
            print("FAIL\nno verdict within %s s: the file is still in the spool" % sys.argv[8])
            return
        if status == "none":
            print("FAIL\nremoved from the spool without a verdict; the file holds%s: %r" %
                  (" what was submitted" if text.encode() == data else "", text[:200]))
            return
        problems = check_verdict(text, name, want, user, expect)
        print("PASS" if not problems else "FAIL")
        print("answered in %.0f ms" % ms)
        for p in problems:
            print(p)
        if problems:
            for line in text.rstrip("\n").split("\n"):
                print("verdict> " + line)
    elif mode == "dot":
        # a client's temporary file: created (IN_CREATE, IN_CLOSE_WRITE), renamed to another
        # dot-name (IN_MOVED_TO); then a barrier submission proves the daemon has seen both
        data, timeout = decode(sys.argv[4]), float(sys.argv[5])
        dfd = os.open(incoming, os.O_PATH | os.O_DIRECTORY)
        tmp = tmpname("dot")
        fd = create(dfd, tmp, data)
        os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        before = os.fstat(fd)
        status, text = submit(incoming, b"hf-barrier-%d" % os.getpid(),
                              b"dnat tcp 7070 to 192.168.1.240\n", timeout, "barrier")
        problems = []
        if status != "verdict" or fields(text).get("verdict") != "rejected":
            problems.append("the barrier submission got %s %r" % (status, text[:200]))
        try:
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            if (st.st_ino, st.st_nlink) != (before.st_ino, 1):
                problems.append("%r was replaced or linked" % name)
        except OSError as e:
            problems.append("%r is gone: %s" % (name, os.strerror(e.errno)))
        now = read_all(fd)
        if now != data:
            problems.append("its content changed: %r" % now[:120])
        if os.fstat(fd).st_mtime_ns != before.st_mtime_ns:
            problems.append("it was written to")
        try:
            os.unlink(name, dir_fd=dfd)
        except OSError:
            pass
        print("PASS" if not problems else "FAIL")
        for p in problems:
            print(p)
    elif mode == "norename":
        want = sys.argv[4]
        dfd = os.open(incoming, os.O_PATH | os.O_DIRECTORY)
        tmp = tmpname("norename")
        fd = create(dfd, tmp, b"dnat tcp 8001 to 192.168.1.240\n")
        got = "renamed"
        try:
            os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except OSError as e:
            got = "errno:" + errno.errorcode.get(e.errno, str(e.errno))
        os.unlink(tmp if got != "renamed" else name, dir_fd=dfd)
        print("PASS" if got == want else "FAIL")
        print("rename to %r: %s" % (name, got))
    else:
        raise SystemExit("hf.py: unknown mode " + mode)


main()
PY
chmod 0644 "$NW_T/hf.py"

hf() { # hf USER ARGS...: the helper as USER
	local u=$1
	shift
	nw_as "$u" python3 -S "$NW_T/hf.py" "$@" </dev/null
}

# point OK DESCRIPTION TODO DETAILS: a TAP point, "# TODO ..." when the case carries a note
point() {
	local good=$1 desc=$2 todo=$3 details=$4 suffix=""
	[ -n "$todo" ] && suffix=" # TODO $todo"
	NW_TAP_N=$((NW_TAP_N + 1))
	if [ "$good" = yes ]; then
		echo "ok $NW_TAP_N - $desc$suffix"
	else
		echo "not ok $NW_TAP_N - $desc$suffix"
		[ -n "$todo" ] || NW_TAP_FAILED=$((NW_TAP_FAILED + 1))
	fi
	[ -z "$details" ] || printf '%s\n' "$details" | head -n 40 | sed 's/^/#   /'
}

# ---- start, fixtures --------------------------------------------------------------------------

nw_start || { not_ok "daemon starts"; exit 1; }
ok "daemon starts"
printf 'dnat tcp 8080 to 192.168.2.20\n' | nw_submit "$NW_U2" web >/dev/null
is "$?" 0 "fixture: $NW_U2's fragment 'web' (tcp 8080) is accepted"
printf 'dnat udp 8000 to 10.9.0.1\nlease 3600\n' | nw_submit "$NW_U3" u3fix >/dev/null
is "$?" 0 "fixture: $NW_U3's fragment 'u3fix' (udp 8000, its whole quota) is accepted"
BASE=$(nw_kernel)
KNOW=$BASE
is "$BASE" "tcp 8080 192.168.2.20:8080
udp 8000 10.9.0.1:8000" "baseline: the kernel holds exactly the two fixtures"

# ---- the corpus ----------------------------------------------------------------------------------

declare -A PER_CAT=()
CATS=()
N_CASES=0
N_CONTROLS=0
N_TODO=0
HANGS=0

subst() { # the table's placeholders
	local s=$1
	s=${s//\{U1\}/$NW_U1}
	s=${s//\{U2\}/$NW_U2}
	s=${s//\{U3\}/$NW_U3}
	s=${s//\{U4\}/$NW_U4}
	printf '%s' "$s"
}

mapfile -t ROWS < <(grep -v -e '^#' -e '^[[:space:]]*$' "$DATA")
for row in "${ROWS[@]}"; do
	IFS=$'\t' read -r cat what who name verdict expect input todo <<<"$row"
	if [ -z "$input" ]; then
		not_ok "table row is well-formed: $row"
		continue
	fi
	[ "$todo" = - ] && todo=""
	N_CASES=$((N_CASES + 1))
	[ -n "$todo" ] && N_TODO=$((N_TODO + 1))
	[ -n "${PER_CAT[$cat]:-}" ] || CATS+=("$cat")
	PER_CAT[$cat]=$((${PER_CAT[$cat]:-0} + 1))
	case $who in
	U1) user=$NW_U1 ;; U2) user=$NW_U2 ;; U3) user=$NW_U3 ;; U4) user=$NW_U4 ;;
	*) not_ok "table row has a known user: $row"; continue ;;
	esac
	vuser=$user
	uin=$IN/$(id -u "$user")
	[ "$name" = - ] && name=$(printf 'hf-%03d' "$N_CASES")
	expect=$(subst "$expect")
	desc="$cat: $what"
	before=$KNOW # what the kernel held after the previous case (checked there)
	want_kernel=$before
	case $verdict in
	accepted | rejected | withdrawn)
		out=$(hf "$user" drop "$uin" "$name" "$input" "$verdict" "$vuser" "$expect" "$WAIT" 2>&1)
		;;
	ignored)
		out=$(hf "$user" dot "$uin" "$name" "$input" "$WAIT" 2>&1)
		;;
	no-rename)
		out=$(hf "$user" norename "$uin" "$name" "$expect" 2>&1)
		;;
	client-refused)
		# the real client, as the user: exit 2, and it says why
		cname=$(hf "$user" decode "$name")
		hf "$user" decode "$input" >"$NW_T/client-input"
		cout=$(nw_submit "$user" "$cname" --timeout 2 <"$NW_T/client-input" 2>&1)
		crc=$?
		want=${expect#stderr:}
		if [ "$crc" = 2 ] && [[ $cout == *"$want"* ]]; then
			out="PASS"
		else
			out=$(printf 'FAIL\nexit %s, want 2; output: %s\nwant: %s' "$crc" "$cout" "$want")
		fi
		;;
	*)
		not_ok "table row has a known verdict: $row"
		continue
		;;
	esac
	# a dead or hanging daemon would make every following case wait: stop early, say why
	if ! nw_alive; then
		not_ok "the daemon survives case $N_CASES ($desc)"
		tail -n 20 "$NW_T/daemon.log" | sed 's/^/#   /'
		break
	fi
	[[ $out == *"no verdict within"* ]] && HANGS=$((HANGS + 1))
	if [ "$HANGS" -ge 3 ]; then
		not_ok "the daemon answers: 3 cases got no verdict within $WAIT s (the last: $desc)"
		break
	fi
	first=${out%%$'\n'*}
	rest=""
	[ "$first" = "$out" ] || rest=${out#*$'\n'}
	if [ "$first" = PASS ]; then
		point yes "$desc: $verdict" "$todo" ""
	else
		point no "$desc: $verdict" "$todo" "$rest"
	fi

	# the kernel: unchanged, or (valid controls) exactly the expected additions
	if [ "$verdict" = accepted ]; then
		N_CONTROLS=$((N_CONTROLS + 1))
		adds=$(printf '%s' "$expect" | tr '|' '\n' | sed -n 's/^+//p')
		want_kernel=$(printf '%s\n%s\n' "$before" "$adds" | sed '/^$/d' | sort)
	fi
	after=$(nw_kernel)
	KNOW=$after
	if [ "$after" = "$want_kernel" ]; then
		point yes "$desc: kernel $([ "$verdict" = accepted ] && echo "holds exactly the new forwards" || echo unchanged)" "$todo" ""
	else
		point no "$desc: kernel $([ "$verdict" = accepted ] && echo "holds exactly the new forwards" || echo unchanged)" "$todo" \
			"$(diff <(printf '%s\n' "$want_kernel") <(printf '%s\n' "$after") | grep '^[<>]')"
	fi
	if [ "$verdict" = accepted ]; then
		wout=$(nw_withdraw "$user" "$name" --timeout 5 2>&1)
		wrc=$?
		after=$(nw_kernel)
		KNOW=$after
		if [ "$wrc" = 0 ] && [ "$after" = "$BASE" ]; then
			point yes "$desc: withdrawn again, kernel back to the baseline" "$todo" ""
		else
			point no "$desc: withdrawn again, kernel back to the baseline" "$todo" \
				"withdraw exit $wrc: $wout; kernel: $(printf '%s' "$after" | tr '\n' ',')"
			BASE=$after # do not blame the following cases
		fi
	fi
done

# ---- afterwards ---------------------------------------------------------------------------------

check "the daemon is alive after $N_CASES hostile cases" nw_alive
out=$(printf 'dnat tcp 8002 to 192.168.1.240\n' | nw_submit "$NW_U1" final --timeout 5 2>&1)
like "$out" "^final: accepted for $NW_U1" "and still answers a valid submission through the client"
nw_withdraw "$NW_U1" final --timeout 5 >/dev/null 2>&1
is "$(nw_kernel)" "$BASE" "the kernel holds only the fixtures at the end"
is "$(nw_rule_count)" 8 "the table still has its eight constant rules (hairpin on)"
check "the spool is empty (every case was taken and answered or removed)" nw_wait_for 5 nw_spool_empty
is "$(nw_status fragments)" 2 "the status file counts only the two fixtures"

summary=""
for c in "${CATS[@]}"; do summary+="$c=${PER_CAT[$c]} "; done
diag "cases per category: ${summary}total=$N_CASES (valid controls: $N_CONTROLS, known problems marked TODO: $N_TODO)"
diag "run time: $((($(nw_ms) - T0) / 1000)).$(((($(nw_ms) - T0) % 1000) / 100)) s"
