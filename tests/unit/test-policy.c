/* SPDX-License-Identifier: MIT */
/* policy.ini: the grammar, every key, the hostile forms, and the file checks. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy.h"
#include "tap.h"

#define WAN "[wan]\ninterface = eth0\n"
#define SUB "[submitter nat_update]\nports = 80, 443\ndestinations = 192.168.1.240/28\n"

struct policy_case {
	const char *text;
	unsigned line;	    /* with reason NULL: must parse */
	const char *reason; /* substring of the finding at that line */
};

#define GOOD(t) { t, 0, NULL }
#define BAD(t, l, r) { t, l, r }

static const struct policy_case cases[] = {
	GOOD(WAN),
	GOOD(WAN SUB),
	GOOD("; comment\n# comment\n\n" WAN "address = 203.0.113.7\nhairpin = yes\n"),
	GOOD("[daemon]\nuser = nw\ngroup = nw-submit\ntable = nat_fw\nspool = /srv/nw/spool\n"
	     "state = /srv/nw/state\nruntime = /run/nw\n" WAN),
	GOOD(WAN "[reserved]\nports = 22, 53, 6000-6010\n"),
	GOOD(WAN "[submitter a]\nports = 1-65535\nprotocols = udp\ndestinations = 10.0.0.0/8\n"
	     "masquerade = no\nmax_fragments = 100000\nmax_rules = 1000000\nmax_lease = 31536000\n"),
	GOOD("[wan]\r\ninterface = eth0\r\n"),
	GOOD("[wan]\ninterface = ppp0\nhairpin = yes\n"), /* hairpin follows the interface */
	GOOD("[wan]\ninterface = eth0   ; inline comment\n"),
	GOOD("  [wan]\n  interface = eth0\n"), /* indentation is not a continuation */
	/* required keys */
	BAD("", 0, "[wan] interface is required"),
	BAD("[wan]\naddress = 1.2.3.4\n", 1, "[wan] interface is required"),
	BAD(WAN "[submitter a]\nports = 80\n", 3, "[submitter a] needs destinations"),
	BAD(WAN "[submitter a]\ndestinations = 10.0.0.1\n", 3, "[submitter a] needs ports"),
	/* structure */
	BAD("interface = eth0\n" WAN, 1, "key 'interface' before any [section]"),
	BAD(WAN "[firewall]\nzone = x\n", 3, "unknown section [firewall]"),
	BAD(WAN "[empty]\n", 3, "unknown section [empty]"),
	BAD(WAN "[ wan ]\n", 3, "unknown section [ wan ]"),
	BAD(WAN "[WAN]\n", 3, "unknown section [WAN]"),
	BAD(WAN "[wan]\n", 3, "section [wan] appears twice (first at line 1)"),
	BAD(WAN SUB "[submitter nat_update]\nports = 22\n", 6, "section [submitter nat_update] appears twice"),
	BAD(WAN "[submitter]\n", 3, "unknown section [submitter]"),
	BAD(WAN "[submitter bad/name]\n", 3, "'bad/name' is not a user name"),
	BAD(WAN "[submitter a b]\n", 3, "'a b' is not a user name"),
	BAD(WAN "interface = eth1\n", 3, "duplicate key 'interface' (first set at line 2)"),
	BAD(WAN "mtu = 1500\n", 3, "unknown key 'mtu' in [wan]"),
	BAD(WAN "[daemon]\nusr = x\n", 4, "unknown key 'usr' in [daemon]"),
	GOOD(WAN "[daemon]\nmetrics = /var/lib/prometheus/node-exporter/natwarden.prom\n"),
	BAD(WAN "[daemon]\nmetrics = /var/lib/prometheus/node-exporter/natwarden.txt\n", 4,
	    "must name a file ending in .prom"),
	BAD(WAN "[daemon]\nmetrics = /var/lib/prometheus/.prom\n", 4, "must name a file ending in .prom"),
	BAD(WAN "[daemon]\nmetrics = relative/natwarden.prom\n", 4, "metrics: 'relative/natwarden.prom' is not a clean absolute path"),
	BAD(WAN "[daemon]\nmetrics = /var/lib/../etc/natwarden.prom\n", 4, "is not a clean absolute path"),
	BAD(WAN "[reserved]\nport = 22\n", 4, "unknown key 'port' in [reserved]"),
	BAD(WAN SUB "max_leases = 5\n", 6, "unknown key 'max_leases' in [submitter nat_update]"),
	BAD(WAN "just some words\n", 3, "syntax error"),
	BAD(WAN "[unterminated\n", 3, "syntax error"),
	BAD(WAN "  ports = 80\n", 3, "unknown key 'ports' in [wan]"),
	/* values */
	BAD("[wan]\ninterface = eth0/1\n", 2, "'eth0/1' is not an interface name"),
	BAD("[wan]\ninterface = a-very-long-ifname0\n", 2, "is not an interface name"),
	BAD("[wan]\ninterface = \"eth0\"\n", 2, "is not an interface name"),
	BAD("[wan]\ninterface = eth0; flush ruleset\n", 2, "is not an interface name"),
	BAD(WAN "address = 010.0.0.1\n", 3, "'010.0.0.1' is not an IPv4 address"),
	BAD(WAN "address = 203.0.113\n", 3, "is not an IPv4 address"),
	BAD(WAN "hairpin = maybe\n", 3, "hairpin: 'maybe' is not yes or no"),
	BAD(WAN "[daemon]\ntable = 9tables\n", 4, "'9tables' is not a table name"),
	BAD(WAN "[daemon]\ntable = nat;flush\n", 4, "is not a table name"),
	BAD(WAN "[daemon]\nuser = root user\n", 4, "'root user' is not a user name"),
	BAD(WAN "[daemon]\nspool = var/spool\n", 4, "'var/spool' is not a clean absolute path"),
	BAD(WAN "[daemon]\nspool = /var/../etc\n", 4, "is not a clean absolute path"),
	BAD(WAN "[daemon]\nspool = /var/spool/\n", 4, "is not a clean absolute path"),
	BAD(WAN "[daemon]\nstate = /run/natwarden\n", 0, "must be different directories"),
	BAD(WAN "[reserved]\nports = 22, 0\n", 4, "ports: '0' is not a port or range"),
	BAD(WAN "[reserved]\nports = 22,,53\n", 4, "ports: '' is not a port or range"),
	BAD(WAN "[reserved]\nports = 53-22\n", 4, "ports: '53-22' is not a port or range"),
	BAD(WAN "[reserved]\nports = 080\n", 4, "ports: '080'"),
	BAD(WAN "[submitter a]\nports = 80x\ndestinations = 10.0.0.1\n", 4, "ports: '80x' is not a port"),
	BAD(WAN "[submitter a]\nports = 80\nprotocols = tcp, sctp\ndestinations = 10.0.0.1\n", 5,
	    "protocols: unknown protocol 'sctp'"),
	BAD(WAN "[submitter a]\nports = 80\ndestinations = 10.0.0.1/8\n", 5,
	    "destinations: '10.0.0.1/8' has host bits set"),
	BAD(WAN "[submitter a]\nports = 80\ndestinations = 10.0.0.0/33\n", 5,
	    "destinations: '10.0.0.0/33' is not an IPv4 address or prefix"),
	BAD(WAN SUB "masquerade = 1\n", 6, "masquerade: '1' is not yes or no"),
	BAD(WAN SUB "max_fragments = 0\n", 6, "max_fragments: '0' is not a number 1-100000"),
	BAD(WAN SUB "max_rules = -5\n", 6, "max_rules: '-5' is not a number"),
	BAD(WAN SUB "max_lease = 1h\n", 6, "max_lease: '1h' is not a number 0-31536000"),
	/* IPv6 destinations and the mark */
	GOOD(WAN "[submitter a]\nports = 80\ndestinations = 2001:db8:1::/48\n"),
	GOOD(WAN "[submitter a]\nports = 80\ndestinations = 10.0.0.0/8, 2001:DB8::10, ::/0\n"),
	GOOD(WAN "mark = 0x10000000\n"),
	GOOD(WAN "mark = 0x4e570000/0xffff0000\n"),
	BAD(WAN "[submitter a]\nports = 80\ndestinations = 2001:db8::1/48\n", 5,
	    "destinations: '2001:db8::1/48' is not an IPv6 address or prefix: host bits set; did you mean 2001:db8::/48"),
	BAD(WAN "[submitter a]\nports = 80\ndestinations = fe80::1%eth0\n", 5,
	    "destinations: 'fe80::1%eth0' is not an IPv6 address or prefix: zone ids"),
	BAD(WAN "[submitter a]\nports = 80\ndestinations = ::ffff:10.0.0.1\n", 5,
	    "is not an IPv6 address or prefix: an IPv4 tail"),
	BAD(WAN "[submitter a]\nports = 80\ndestinations = 2001:db8::/129\n", 5,
	    "the prefix length must be 0-128"),
	BAD(WAN "mark = 0\n", 3, "mark: '0': use 0xVALUE or 0xVALUE/0xMASK"),
	BAD(WAN "mark = 0x0\n", 3, "mark: '0x0': the value and the mask need at least one bit"),
	BAD(WAN "mark = 0x3/0x1\n", 3, "mark: '0x3/0x1': the value has bits outside the mask"),
	BAD(WAN "mark = 0x123456789\n", 3, "use 0xVALUE or 0xVALUE/0xMASK"),
	BAD(WAN "mark = 0x10/\n", 3, "use 0xVALUE or 0xVALUE/0xMASK"),
	BAD(WAN "mark = 0xg0\n", 3, "use 0xVALUE or 0xVALUE/0xMASK"),
	BAD(WAN "mark = 0x0/0xff\n", 3, "at least one bit"),
	/* bytes */
	BAD(WAN "address = 1.2.3.4\x01\n", 3, "control byte 0x01 at column 18"),
	BAD(WAN "address = 1.2.3.4\rx\n", 3, "control byte 0x0d"),
};

static void test_cases(void)
{
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		const struct policy_case *c = &cases[i];
		struct policy *p = NULL;
		struct diag_list errs;
		int r;

		diag_init(&errs);
		r = policy_parse("test.ini", c->text, strlen(c->text), &p, &errs);
		if (!c->reason) {
			if (!ok(r == 0 && p, "policy case %zu parses", i))
				diag_print(&errs, "#   test.ini", stdout);
		} else if (!ok(r == -EINVAL && !p && diag_has(&errs, c->line, c->reason),
			       "policy case %zu rejected at line %u: %s", i, c->line, c->reason)) {
			diag_print(&errs, "#   test.ini", stdout);
		}
		policy_free(p);
	}
}

static void test_values(void)
{
	const char *text = "[daemon]\ntable = nw\n"
			   "[wan]\ninterface = wan0\naddress = 203.0.113.7\nhairpin = yes\n"
			   "[reserved]\nports = 22, 53\n"
			   "[submitter nat_update]\nports = 80, 443, 30000-30100\n"
			   "protocols = tcp\ndestinations = 192.168.1.240/28, 192.168.1.250\n"
			   "masquerade = yes\nmax_fragments = 3\nmax_rules = 9\nmax_lease = 600\n"
			   "[submitter alice]\nports = 8080\ndestinations = 192.168.2.0/24\n";
	struct policy *p = NULL;
	struct diag_list errs;

	diag_init(&errs);
	is_int(policy_parse("t.ini", text, strlen(text), &p, &errs), 0, "full policy parses");
	if (!p)
		return;
	is_str(p->daemon.table, "nw", "table");
	is_str(p->daemon.user, "natwarden", "default user");
	is_str(p->daemon.group, "natwarden-submit", "default group");
	is_str(p->daemon.spool, "/var/spool/natwarden", "default spool");
	is_str(p->daemon.state, "/var/lib/natwarden", "default state");
	is_str(p->daemon.runtime, "/run/natwarden", "default runtime");
	is_str(p->wan.interface, "wan0", "interface");
	ok(p->wan.has_address && p->wan.address == 0xcb007107u, "wan address");
	ok(p->wan.hairpin, "hairpin");
	is_int(p->reserved.n, 2, "two reserved ports");
	is_int(p->n_submitters, 2, "two submitters");
	const struct submitter *s = policy_find_submitter(p, "nat_update");
	ok(s != NULL, "nat_update found");
	if (s) {
		is_int(s->ports.n, 3, "three port items");
		is_int(s->ports.items[2].lo, 30000, "range start");
		is_int(s->ports.items[2].hi, 30100, "range end");
		ok(s->tcp && !s->udp, "tcp only");
		is_int(s->n_destinations, 2, "two destinations");
		is_int(s->destinations[1].len, 32, "plain address is /32");
		ok(s->masquerade, "masquerade");
		is_int(s->max_fragments, 3, "max_fragments");
		is_int(s->max_rules, 9, "max_rules");
		is_int(s->max_lease, 600, "max_lease");
		ok(port_list_contains(&s->ports, 30000, 30100), "whole range allowed");
		ok(!port_list_contains(&s->ports, 30000, 30101), "one port past the range");
		ok(port_list_contains(&s->ports, 443, 443), "443 allowed");
	}
	const struct submitter *a = policy_find_submitter(p, "alice");
	ok(a && a->tcp && a->udp && !a->masquerade && a->max_fragments == 8 && a->max_rules == 64 &&
		   a->max_lease == 0,
	   "submitter defaults");
	ok(policy_find_submitter(p, "bob") == NULL, "unknown user");
	ok(p->wan.mark == POLICY_DEFAULT_MARK && p->wan.mark_mask == POLICY_DEFAULT_MARK,
	   "default mark");
	policy_free(p);

	text = "[wan]\ninterface = wan0\nmark = 0x4e570000/0xffff0000\n"
	       "[submitter a]\nports = 80\ndestinations = 10.0.0.0/8, 2001:db8:1::/48, 2001:db8::7\n";
	is_int(policy_parse("t.ini", text, strlen(text), &p, &errs), 0, "dual-stack policy parses");
	if (!p)
		return;
	ok(p->wan.mark == 0x4e570000u && p->wan.mark_mask == 0xffff0000u, "mark and mask");
	s = policy_find_submitter(p, "a");
	ok(s && s->n_destinations == 1 && s->n_destinations6 == 2 && s->destinations6[0].len == 48 &&
		   s->destinations6[1].len == 128,
	   "one IPv4 and two IPv6 destinations");
	if (s) {
		char buf[200];
		destinations_format(s, buf, sizeof(buf));
		is_str(buf, "10.0.0.0/8, 2001:db8:1::/48, 2001:db8::7", "destinations printed");
	}
	policy_free(p);
}

static void test_long_lines(void)
{
	char buf[4096];
	struct policy *p = NULL;
	struct diag_list errs;
	int n;

	/*
	 * inih's default would split a line past 199 bytes and parse the tail as a new key. A
	 * 1000-byte destinations line must come through whole, so its last item counts.
	 */
	n = snprintf(buf, sizeof(buf), WAN "[submitter a]\nports = 80\ndestinations = ");
	while (n < 1000 + 40)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "10.0.0.%d, ", (n % 250) + 1);
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, "172.16.0.1\n");
	diag_init(&errs);
	int r = policy_parse("long.ini", buf, (size_t)n, &p, &errs);
	ok(r < 0 || p != NULL, "long value parsed or rejected");
	if (r < 0) {
		ok(diag_has(&errs, 5, "line is") && diag_has(&errs, 5, "the limit is 1024"),
		   "overlong policy line rejected at its line");
	} else {
		const struct submitter *s = policy_find_submitter(p, "a");
		ok(s && s->destinations[s->n_destinations - 1].addr == 0xac100001u,
		   "long line not split: last item kept");
	}
	policy_free(p);
	p = NULL;

	/* A line of exactly 1024 bytes is fine; 1025 is rejected, not split. */
	char line[1100];
	memset(line, ' ', sizeof(line));
	memcpy(line, "interface = eth0", 16);
	line[1016] = ';';
	line[1024] = '\0';
	n = snprintf(buf, sizeof(buf), "[wan]\n%s\n", line);
	diag_init(&errs);
	is_int(policy_parse("l.ini", buf, (size_t)n, &p, &errs), 0, "1024-byte line accepted");
	policy_free(p);
	p = NULL;
	memcpy(line, "interface = eth0", 16);
	memset(line + 16, ' ', 1100 - 16);
	memcpy(line + 1018, "bogus = 1", 9); /* where inih would restart a split line */
	line[1027] = '\0';
	n = snprintf(buf, sizeof(buf), "[wan]\n%s\n", line);
	diag_init(&errs);
	is_int(policy_parse("l.ini", buf, (size_t)n, &p, &errs), -EINVAL, "1027-byte line rejected");
	ok(diag_has(&errs, 2, "line is 1027 bytes long, the limit is 1024"), "overlong line reason");
	ok(!diag_has(&errs, 2, "bogus"), "tail not parsed as a key");
	policy_free(p);

	/* NUL inside the file. */
	diag_init(&errs);
	p = NULL;
	is_int(policy_parse("nul.ini", "[wan]\ninterface = eth0\0x\n", 24, &p, &errs), -EINVAL,
	       "NUL rejected");
	ok(diag_has(&errs, 2, "control byte 0x00"), "NUL reason at line 2");
	policy_free(p);
}

static int write_policy(const char *path, mode_t mode, uid_t uid)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	if (write(fd, WAN, strlen(WAN)) < 0 || fchmod(fd, mode) < 0 || fchown(fd, uid, 0) < 0) {
		close(fd);
		return -errno;
	}
	close(fd);
	return 0;
}

static void test_file_checks(void)
{
	char dir[] = "/tmp/natwarden-test-policy-XXXXXX", path[128];
	struct policy *p = NULL;
	struct diag_list errs;

	if (geteuid() != 0) {
		printf("# SKIP file ownership checks: need root to create root-owned files\n");
		return;
	}
	if (!mkdtemp(dir))
		return;
	snprintf(path, sizeof(path), "%s/policy.ini", dir);

	write_policy(path, 0644, 0);
	diag_init(&errs);
	is_int(policy_load(path, &p, &errs), 0, "root-owned 0644 loads");
	policy_free(p);
	p = NULL;

	write_policy(path, 0664, 0);
	diag_init(&errs);
	is_int(policy_load(path, &p, &errs), -EPERM, "group-writable refused");
	ok(diag_has(&errs, 0, "mode 0664 is writable by group or others"), "says why");

	write_policy(path, 0646, 0);
	diag_init(&errs);
	is_int(policy_load(path, &p, &errs), -EPERM, "world-writable refused");

	write_policy(path, 0644, 65534);
	diag_init(&errs);
	is_int(policy_load(path, &p, &errs), -EPERM, "non-root owner refused");
	ok(diag_has(&errs, 0, "owned by uid 65534: the policy must be owned by root"), "says who");

	diag_init(&errs);
	is_int(policy_load(dir, &p, &errs), -EPERM, "directory refused");
	ok(diag_has(&errs, 0, "not a regular file"), "says what");

	unlink(path);
	diag_init(&errs);
	is_int(policy_load(path, &p, &errs), -ENOENT, "missing file");
	ok(diag_has(&errs, 0, "cannot open: No such file or directory"), "says it is missing");

	snprintf(path, sizeof(path), "%s/fifo", dir);
	mkfifo(path, 0644);
	diag_init(&errs);
	is_int(policy_load(path, &p, &errs), -EPERM, "FIFO refused without blocking");
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	test_cases();
	test_values();
	test_long_lines();
	test_file_checks();
	return tap_done();
}
