#!/bin/bash
# SPDX-License-Identifier: MIT
# The Debian maintainer scripts' link for node-exporter (debian/natwarden.postinst, postrm),
# against the prometheus user, who owns /var/lib/prometheus and may rename what is in it:
# the link is made and removed only in the real, root-owned node-exporter directory, also
# when that directory is swapped for a symlink between the scripts' checks and their ln or rm
# (a hook in PATH does the swap at exactly that moment). Runs the scripts in a private mount
# namespace with a tmpfs over /var/lib, /var/spool and /run: nothing on the host changes.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh" # the TAP helpers only
[ "$(id -u)" = 0 ] || skip_all "needs root (mount namespaces, file owners)"
unshare -m --propagation private true 2>/dev/null || skip_all "cannot create mount namespaces here"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
NW_T=$(mktemp -d /tmp/natwarden-scripts.XXXXXX) || { echo "Bail out! mktemp"; exit 1; }
trap 'nw_finish $? "$NW_T"' EXIT
trap 'exit 130' INT TERM HUP

# scenario SETUP HOOK SCRIPT ARG: in a private mount namespace with an empty /var/lib, run
# SETUP (shell), then SCRIPT ARG with HOOK (shell, run by a fake `ln` or `rm` just before the
# real one) in PATH; print what /var/lib/prometheus then holds (find, with link targets).
scenario() {
	mkdir -p "$NW_T/hook"
	rm -f "$NW_T/hook/done"
	# the hook runs once, at the first ln or rm
	for tool in ln rm; do
		printf '#!/bin/sh\n[ -e %s/done ] || { touch %s/done; %s; }\nexec /bin/%s "$@"\n' \
			"$NW_T/hook" "$NW_T/hook" "$2" "$tool" >"$NW_T/hook/$tool"
	done
	chmod 0755 "$NW_T/hook/ln" "$NW_T/hook/rm"
	# shellcheck disable=SC2016 # expanded by that shell
	unshare -m --propagation private -- sh -c '
		# purge removes natwarden directories in /var/lib, /var/spool and /run: all throwaway
		for m in /var/lib /var/spool /run; do mount -t tmpfs tmpfs $m || exit 99; done
		mkdir -p /var/lib/prometheus/node-exporter && chown 65534 /var/lib/prometheus &&
			chmod 0755 /var/lib/prometheus/node-exporter || exit 98
		cd / && eval "$1" || exit 97
		PATH=$2:$PATH sh "$3" "$4" >/dev/null 2>&1
		cd /var/lib/prometheus && find . -mindepth 1 -printf "%p:%l\n" | LC_ALL=C sort | tr "\n" " "' \
		scenario "$1" "$NW_T/hook" "$SRC/debian/$3" "$4"
}
LINK=/run/natwarden-metrics/natwarden.prom
swap='mv /var/lib/prometheus/node-exporter /var/lib/prometheus/real && mkdir -p /var/lib/prometheus/victim &&
	ln -s victim /var/lib/prometheus/node-exporter'

is "$(scenario : : natwarden.postinst configure)" "./node-exporter/natwarden.prom:$LINK ./node-exporter: " \
	"postinst configure: the link in node-exporter's directory"
is "$(scenario : : natwarden.postinst triggered)" "./node-exporter/natwarden.prom:$LINK ./node-exporter: " \
	"postinst triggered (node-exporter installed later): the same"
is "$(scenario "ln -s $LINK /var/lib/prometheus/node-exporter/natwarden.prom" : natwarden.postrm remove)" \
	"./node-exporter: " "postrm remove: the link goes"
is "$(scenario : "$swap" natwarden.postinst triggered)" \
	"./node-exporter:victim ./real/natwarden.prom:$LINK ./real: ./victim: " \
	"the directory swapped for a symlink just before ln: the link is made in the real one, not where the symlink points"
is "$(scenario "mkdir /var/lib/prometheus/victim && ln -s $LINK /var/lib/prometheus/victim/natwarden.prom &&
	ln -s $LINK /var/lib/prometheus/node-exporter/natwarden.prom" "$swap" natwarden.postrm remove)" \
	"./node-exporter:victim ./real: ./victim/natwarden.prom:$LINK ./victim: " \
	"the directory swapped just before rm: the real link goes, the other directory's file stays"
is "$(scenario 'chown 65534 /var/lib/prometheus/node-exporter' : natwarden.postinst configure)" "./node-exporter: " \
	"a node-exporter directory the prometheus user owns: no link"
is "$(scenario 'chmod 0775 /var/lib/prometheus/node-exporter' : natwarden.postinst configure)" "./node-exporter: " \
	"a group-writable node-exporter directory: no link"
is "$(scenario 'rmdir /var/lib/prometheus/node-exporter && mkdir /var/lib/prometheus/victim &&
	ln -s victim /var/lib/prometheus/node-exporter' : natwarden.postinst configure)" \
	"./node-exporter:victim ./victim: " "node-exporter a symlink: no link anywhere"
is "$(scenario 'echo mine >/var/lib/prometheus/node-exporter/natwarden.prom' : natwarden.postinst configure)" \
	"./node-exporter/natwarden.prom: ./node-exporter: " "a file of that name that is not ours: left alone by postinst"
is "$(scenario 'echo mine >/var/lib/prometheus/node-exporter/natwarden.prom' : natwarden.postrm purge)" \
	"./node-exporter/natwarden.prom: ./node-exporter: " "... and by postrm"
