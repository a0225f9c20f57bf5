/* SPDX-License-Identifier: MIT */
/* The fragment language: every rule of the grammar, the hostile forms, and the printer. */
#include <errno.h>
#include <stdlib.h>

#include "fragment.h"
#include "tap.h"

struct parse_case {
	const char *text;
	unsigned line;	    /* 0 with reason NULL: must parse */
	const char *reason; /* substring of the first finding */
};

#define GOOD(t) { t, 0, NULL }
#define BAD(t, l, r) { t, l, r }

static const struct parse_case cases[] = {
	/* the language as documented */
	GOOD("# ingress for the home cluster\n"
	     "dnat tcp 80 to 192.168.1.240\n"
	     "dnat tcp 443 to 192.168.1.240:8443\n"
	     "dnat udp 27015-27030 to 192.168.1.241\n"
	     "masquerade 192.168.1.240\n"
	     "lease 3600\n"),
	GOOD(""),
	GOOD("\n\n# only comments\n   \t\n"),
	GOOD("dnat tcp 80 to 192.168.1.240"), /* no final newline */
	GOOD("dnat tcp 80 to 192.168.1.240\r\nlease 60\r\n"),
	GOOD("\tdnat\ttcp  80 to\t192.168.1.240   # trailing comment\n"),
	GOOD("dnat udp 1-65535 to 10.0.0.1\n"),
	GOOD("dnat tcp 65535 to 10.0.0.1:1\n"),
	GOOD("dnat tcp 80 to 10.0.0.1:80\n"),
	GOOD("masquerade 0.0.0.0/0\n"),
	GOOD("masquerade 192.168.1.0/24\n"),
	GOOD("masquerade 192.168.1.7/32\n"),
	GOOD("dnat tcp 80 to 1.2.3.4\ndnat udp 80 to 1.2.3.4\n"),
	GOOD("lease 31536000\ndnat tcp 80 to 1.2.3.4\n"),
	/* ports */
	BAD("dnat tcp 0 to 1.2.3.4\n", 1, "'0' is not a port or port range: ports are 1-65535"),
	BAD("dnat tcp 65536 to 1.2.3.4\n", 1, "'65536' is not a port or port range: ports are 1-65535"),
	BAD("dnat tcp 99999999999 to 1.2.3.4\n", 1, "ports are 1-65535"),
	BAD("dnat tcp -1 to 1.2.3.4\n", 1, "'-1' is not a port"),
	BAD("dnat tcp +80 to 1.2.3.4\n", 1, "'+80' is not a port or port range: use a decimal"),
	BAD("dnat tcp 080 to 1.2.3.4\n", 1, "'080' is not a port or port range: use a decimal"),
	BAD("dnat tcp 0x50 to 1.2.3.4\n", 1, "'0x50' is not a port"),
	BAD("dnat tcp 80- to 1.2.3.4\n", 1, "'80-' is not a port"),
	BAD("dnat tcp 30-20 to 1.2.3.4\n", 1, "'30-20' is not a port or port range: the range ends below its start"),
	BAD("dnat tcp 20-30-40 to 1.2.3.4\n", 1, "'20-30-40' is not a port"),
	BAD("dnat tcp 8O to 1.2.3.4\n", 1, "'8O' is not a port"),
	BAD("dnat tcp 20-30 to 1.2.3.4:8080\n", 1, "a port range is forwarded to the same ports"),
	BAD("dnat tcp 80 to 1.2.3.4:0\n", 1, "target port '0' is not a port: ports are 1-65535"),
	BAD("dnat tcp 80 to 1.2.3.4:65536\n", 1, "target port '65536'"),
	BAD("dnat tcp 80 to 1.2.3.4:08080\n", 1, "target port '08080'"),
	BAD("dnat tcp 80 to 1.2.3.4:\n", 1, "target port ''"),
	BAD("dnat tcp 80 to 1.2.3.4:http\n", 1, "target port 'http'"),
	/* addresses: never inet_aton's forms */
	BAD("dnat tcp 80 to 010.1.1.1\n", 1, "'010.1.1.1' is not an IPv4 address"),
	BAD("dnat tcp 80 to 0x7f.1\n", 1, "'0x7f.1' is not an IPv4 address"),
	BAD("dnat tcp 80 to 127.1\n", 1, "'127.1' is not an IPv4 address"),
	BAD("dnat tcp 80 to 1.2.3.4.5\n", 1, "'1.2.3.4.5' is not an IPv4 address"),
	BAD("dnat tcp 80 to 256.1.1.1\n", 1, "'256.1.1.1' is not an IPv4 address"),
	BAD("dnat tcp 80 to 1.2.3.\n", 1, "'1.2.3.' is not an IPv4 address"),
	BAD("dnat tcp 80 to 1..2.3\n", 1, "'1..2.3' is not an IPv4 address"),
	BAD("dnat tcp 80 to 2130706433\n", 1, "'2130706433' is not an IPv4 address"),
	BAD("dnat tcp 80 to router.lan\n", 1, "'router.lan' is not an IPv4 address"),
	BAD("dnat tcp 80 to ::1\n", 1, "'::1' is an IPv6 target: there is no NAT66; use 'pinhole tcp 80 to ::1'"),
	BAD("dnat tcp 80 to 1.2.3.4/32\n", 1, "'1.2.3.4/32' is not an IPv4 address"),
	BAD("masquerade 192.168.1.1/24\n", 1, "'192.168.1.1/24' is not an IPv4 address or prefix: the address has host bits set"),
	BAD("masquerade 192.168.1.0/33\n", 1, "'192.168.1.0/33' is not an IPv4 address or prefix"),
	BAD("masquerade 192.168.1.0/024\n", 1, "'192.168.1.0/024'"),
	BAD("masquerade 192.168.1.0/\n", 1, "'192.168.1.0/'"),
	BAD("masquerade 10.1\n", 1, "'10.1' is not an IPv4 address or prefix"),
	/* statements */
	BAD("DNAT tcp 80 to 1.2.3.4\n", 1, "unknown statement 'DNAT': expected dnat, pinhole, masquerade or lease"),
	BAD("forward tcp 80 to 1.2.3.4\n", 1, "unknown statement 'forward'"),
	BAD("include \"/etc/shadow\"\n", 1, "unknown statement 'include'"),
	BAD("dnat tcp 80 to 1.2.3.4; flush ruleset\n", 1, "'1.2.3.4;' is not an IPv4 address"),
	BAD("dnat tcp 80 to { 1.2.3.4 }\n", 1, "'{' is not an IPv4 address"),
	BAD("dnat tcp 80 to \"1.2.3.4\"\n", 1, "'\"1.2.3.4\"' is not an IPv4 address"),
	BAD("dnat sctp 80 to 1.2.3.4\n", 1, "unknown protocol 'sctp': use tcp or udp"),
	BAD("dnat TCP 80 to 1.2.3.4\n", 1, "unknown protocol 'TCP'"),
	BAD("dnat tcp 80 1.2.3.4\n", 1, "incomplete dnat"),
	BAD("dnat tcp 80 via 1.2.3.4\n", 1, "expected 'to' after the public port, found 'via'"),
	BAD("dnat tcp 80 to 1.2.3.4 now\n", 1, "unexpected 'now' after the dnat statement"),
	BAD("dnat\n", 1, "incomplete dnat"),
	BAD("masquerade\n", 1, "incomplete masquerade"),
	BAD("masquerade 1.2.3.4 5.6.7.8\n", 1, "unexpected '5.6.7.8' after the masquerade"),
	BAD("lease\n", 1, "incomplete lease"),
	BAD("lease 60 s\n", 1, "unexpected 's' after the lease"),
	BAD("lease 0\ndnat tcp 80 to 1.2.3.4\n", 1, "'0' is not a lease: use a decimal number of seconds, 1-31536000"),
	BAD("lease 31536001\ndnat tcp 80 to 1.2.3.4\n", 1, "'31536001' is not a lease"),
	BAD("lease 1h\ndnat tcp 80 to 1.2.3.4\n", 1, "'1h' is not a lease"),
	BAD("lease 060\ndnat tcp 80 to 1.2.3.4\n", 1, "'060' is not a lease"),
	BAD("dnat tcp 80 to 1.2.3.4\nlease 60\nlease 60\n", 3, "duplicate lease: the first one is at line 2"),
	BAD("lease 60\n", 1, "a lease needs at least one dnat, pinhole or masquerade statement"),
	/* overlaps inside one fragment */
	BAD("dnat tcp 80 to 1.2.3.4\ndnat tcp 80 to 1.2.3.5\n", 2, "tcp '80' overlaps the dnat at line 1"),
	BAD("dnat udp 100-200 to 1.2.3.4\n\ndnat udp 150 to 1.2.3.5\n", 3, "udp '150' overlaps the dnat at line 1"),
	BAD("dnat udp 150 to 1.2.3.4\ndnat udp 100-150 to 1.2.3.5\n", 2, "overlaps the dnat at line 1"),
	BAD("masquerade 192.168.1.0/24\nmasquerade 192.168.1.5\n", 2, "masquerade '192.168.1.5' overlaps the masquerade at line 1"),
	BAD("masquerade 10.0.0.1\nmasquerade 10.0.0.1/32\n", 2, "overlaps the masquerade at line 1"),
	/* pinholes (version 2) */
	GOOD("pinhole tcp 443 to 2001:db8::10\n"),
	GOOD("pinhole udp 3478-3480 to 2001:DB8:0:0:0:0:0:10\n"),
	GOOD("pinhole tcp 443 to 2001:db8::10\npinhole tcp 443 to 2001:db8::11\n"),
	GOOD("pinhole tcp 443 to 2001:db8::10\npinhole udp 443 to 2001:db8::10\n"),
	GOOD("dnat tcp 443 to 192.168.1.240\npinhole tcp 443 to 2001:db8::10\nlease 60\n"),
	GOOD("pinhole tcp 1-65535 to ::\n"), /* the engine refuses the unspecified address */
	GOOD("pinhole tcp 80 to 1:2:3:4:5:6:7::\n"),
	BAD("pinhole tcp 443 to 192.168.1.240\n", 1, "'192.168.1.240' is an IPv4 target: pinholes are for IPv6; use 'dnat tcp 443 to 192.168.1.240'"),
	BAD("pinhole tcp 443 to 192.168.1.240:8443\n", 1, "pinholes are for IPv6; use 'dnat tcp 443 to 192.168.1.240'"),
	BAD("dnat tcp 443 to 2001:DB8::0010\n", 1, "there is no NAT66; use 'pinhole tcp 443 to 2001:db8::10'"),
	BAD("dnat tcp 80 to 1.2.3.4:80:80\n", 1, "target port '80:80' is not a port"),
	BAD("dnat tcp 443 to [2001:db8::10]:443\n", 1, "there is no NAT66; use 'pinhole tcp 443 to IPV6'"),
	BAD("pinhole tcp 443 to fe80::1%eth0\n", 1, "'fe80::1%eth0' is not an IPv6 address: zone ids"),
	BAD("pinhole tcp 443 to ::ffff:192.0.2.1\n", 1, "'::ffff:192.0.2.1' is not an IPv6 address: an IPv4 tail"),
	BAD("pinhole tcp 443 to 1:2:3:4:5:6:7:8:9\n", 1, "more than 8 groups"),
	BAD("pinhole tcp 443 to 2001:db8::1::2\n", 1, "'::' may appear only once"),
	BAD("pinhole tcp 443 to 2001:db8:12345::1\n", 1, "more than 4 hex digits"),
	BAD("pinhole tcp 443 to :2001:db8::1\n", 1, "a single ':' at the start"),
	BAD("pinhole tcp 443 to [2001:db8::1]\n", 1, "brackets are not allowed"),
	BAD("pinhole tcp 443 to 2001:db8::/64\n", 1, "a prefix length is not allowed"),
	BAD("pinhole tcp 443 to host.example\n", 1, "'host.example' is not an IPv6 address"),
	BAD("pinhole sctp 443 to 2001:db8::1\n", 1, "unknown protocol 'sctp'"),
	BAD("pinhole tcp 0 to 2001:db8::1\n", 1, "'0' is not a port or port range"),
	BAD("pinhole tcp 443 2001:db8::1\n", 1, "incomplete pinhole: expected 'pinhole tcp|udp PORT[-PORT] to IPV6'"),
	BAD("pinhole tcp 443 to 2001:db8::1 now\n", 1, "unexpected 'now' after the pinhole statement"),
	BAD("pinhole tcp 400-500 to 2001:db8::1\npinhole tcp 443 to 2001:db8:0::1\n", 2, "tcp '443' overlaps the pinhole at line 1"),
	BAD("PINHOLE tcp 443 to 2001:db8::1\n", 1, "unknown statement 'PINHOLE'"),
	/* bytes */
	BAD("dnat tcp 80 to 1.2.3.4\x01\n", 1, "control byte 0x01 at column 23"),
	BAD("# fine\ndnat tcp 80 to 1.2.3.4\x7f\n", 2, "control byte 0x7f at column 23"),
	BAD("dnat tcp 80 to 1.2.3.4\rlease 5\n", 1, "carriage return inside the line (column 23)"),
	BAD("# caf\xc3\xa9\n", 1, "non-ASCII byte 0xc3 at column 6"),
	BAD("dnat tcp 80\x0bto 1.2.3.4\n", 1, "control byte 0x0b"),
	BAD("\x1b[31mdnat tcp 80 to 1.2.3.4\n", 1, "control byte 0x1b at column 1"),
};

static void test_cases(void)
{
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		const struct parse_case *c = &cases[i];
		struct fragment *f = NULL;
		struct diag_list errs;
		int r;

		diag_init(&errs);
		r = fragment_parse("case", c->text, strlen(c->text), &f, &errs);
		if (!c->reason) {
			if (!ok(r == 0 && f && errs.n == 0, "case %zu parses", i))
				diag_print(&errs, "#   case", stdout);
		} else {
			bool hit = r == -EINVAL && !f && errs.n >= 1 && errs.items[0].line == c->line &&
				   strstr(errs.items[0].text, c->reason);
			if (!ok(hit, "case %zu rejected at line %u: %s", i, c->line, c->reason))
				diag_print(&errs, "#   got", stdout);
		}
		fragment_free(f);
	}
}

static void test_fields(void)
{
	const char *text = "dnat tcp 443 to 192.168.1.240:8443\n"
			   "dnat udp 27015-27030 to 192.168.1.241\n"
			   "masquerade 192.168.1.240/28\n"
			   "dnat tcp 80 to 192.168.1.240:80\n"
			   "lease 3600\n";
	struct fragment *f = NULL;
	struct diag_list errs;

	diag_init(&errs);
	is_int(fragment_parse("ingress", text, strlen(text), &f, &errs), 0, "example parses");
	if (!f)
		return;
	is_str(f->name, "ingress", "name kept");
	is_int(f->n_stmts, 4, "four rules");
	is_int(f->stmts[0].kind, STMT_DNAT, "dnat kind");
	is_int(f->stmts[0].proto, PROTO_TCP, "tcp");
	is_int(f->stmts[0].port_lo, 443, "port");
	is_int(f->stmts[0].port_hi, 443, "single port");
	is_int(f->stmts[0].to_addr, 0xc0a801f0u, "address in host order");
	is_int(f->stmts[0].to_port, 8443, "target port");
	is_int(f->stmts[1].proto, PROTO_UDP, "udp");
	is_int(f->stmts[1].port_lo, 27015, "range start");
	is_int(f->stmts[1].port_hi, 27030, "range end");
	is_int(f->stmts[1].to_port, 0, "range keeps ports");
	is_int(f->stmts[1].line, 2, "line numbers");
	is_int(f->stmts[2].kind, STMT_MASQUERADE, "masquerade");
	is_int(f->stmts[2].masq.addr, 0xc0a801f0u, "prefix address");
	is_int(f->stmts[2].masq.len, 28, "prefix length");
	is_int(f->stmts[3].to_port, 0, ":80 on port 80 is the same port");
	is_int(f->lease, 3600, "lease");
	is_int(f->lease_line, 5, "lease line");
	ok(!fragment_is_withdrawal(f), "not a withdrawal");

	char *printed = fragment_print(f);
	is_str(printed, "dnat tcp 443 to 192.168.1.240:8443\n"
			"dnat udp 27015-27030 to 192.168.1.241\n"
			"masquerade 192.168.1.240/28\n"
			"dnat tcp 80 to 192.168.1.240\n"
			"lease 3600\n",
	       "canonical form");
	free(printed);
	fragment_free(f);
}

static void test_pinhole_fields(void)
{
	const char *text = "pinhole tcp 443 to 2001:DB8:0:0:0:0:0:0010\n"
			   "pinhole udp 3478-3480 to 2001:db8:0:1:0:0:0:1\n";
	struct fragment *f = NULL;
	struct diag_list errs;
	char buf[64];

	diag_init(&errs);
	is_int(fragment_parse("v6", text, strlen(text), &f, &errs), 0, "pinholes parse");
	if (!f)
		return;
	is_int(f->stmts[0].kind, STMT_PINHOLE, "pinhole kind");
	is_int(f->stmts[0].to_addr6.b[15], 0x10, "last byte of the host");
	is_int(f->stmts[0].to_addr6.b[1], 0x01, "second byte of the host");
	is_int(f->stmts[1].port_hi, 3480, "range end");
	is_str(stmt_format_target(&f->stmts[0], buf, sizeof(buf)), "2001:db8::10", "target text");
	char *printed = fragment_print(f);
	is_str(printed, "pinhole tcp 443 to 2001:db8::10\npinhole udp 3478-3480 to 2001:db8:0:1::1\n",
	       "RFC 5952 canonical form");
	free(printed);
	fragment_free(f);
}

static void test_round_trip(void)
{
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		struct fragment *f = NULL, *g = NULL;
		struct diag_list errs;
		char *text;

		if (cases[i].reason)
			continue;
		diag_init(&errs);
		if (fragment_parse("rt", cases[i].text, strlen(cases[i].text), &f, &errs) < 0)
			continue;
		text = fragment_print(f);
		ok(text && fragment_parse("rt", text, strlen(text), &g, &errs) == 0 &&
			   fragment_equal(f, g),
		   "parse(print(f)) == f for case %zu", i);
		free(text);
		fragment_free(f);
		fragment_free(g);
	}
}

static int parse_buf(const char *name, const char *buf, size_t len, struct diag_list *errs)
{
	struct fragment *f = NULL;
	int r;

	diag_init(errs);
	r = fragment_parse(name, buf, len, &f, errs);
	fragment_free(f);
	return r;
}

static void test_limits(void)
{
	struct diag_list errs;
	char *buf = malloc(FRAGMENT_MAX_BYTES + 2048);
	size_t len = 0;

	/* A line of exactly 256 bytes is fine, 257 is not. */
	memset(buf, ' ', 300);
	memcpy(buf, "dnat tcp 80 to 1.2.3.4 #", 24);
	buf[256] = '\n';
	is_int(parse_buf("l", buf, 257, &errs), 0, "256-byte line accepted");
	buf[256] = 'x';
	buf[257] = '\n';
	is_int(parse_buf("l", buf, 258, &errs), -EINVAL, "257-byte line rejected");
	ok(diag_has(&errs, 1, "line is 257 bytes long, the limit is 256"), "overlong line reason");
	buf[256] = '\r'; /* CRLF does not count towards the limit */
	is_int(parse_buf("l", buf, 258, &errs), 0, "256 bytes plus CRLF accepted");

	/* 256 statements fine, 257 rejected at line 257. */
	len = 0;
	for (int i = 0; i < 257; i++)
		len += (size_t)sprintf(buf + len, "dnat tcp %d to 10.0.0.1\n", 1000 + i);
	size_t len256 = len - strlen("dnat tcp 1256 to 10.0.0.1\n");
	is_int(parse_buf("s", buf, len256, &errs), 0, "256 statements accepted");
	is_int(parse_buf("s", buf, len, &errs), -EINVAL, "257 statements rejected");
	ok(diag_has(&errs, 257, "more than 256 statements"), "statement limit at line 257");

	/* 64 KiB exactly is fine (comments), one byte more is not. */
	memset(buf, '#', FRAGMENT_MAX_BYTES + 1);
	for (size_t i = 200; i < FRAGMENT_MAX_BYTES + 1; i += 201)
		buf[i] = '\n';
	is_int(parse_buf("big", buf, FRAGMENT_MAX_BYTES, &errs), 0, "65536 bytes accepted");
	is_int(parse_buf("big", buf, FRAGMENT_MAX_BYTES + 1, &errs), -EINVAL, "65537 bytes rejected");
	ok(diag_has(&errs, 0, "fragment is 65537 bytes, the limit is 65536"), "size reason");
	memset(buf, '#', 65 * 1024);
	is_int(parse_buf("big", buf, 65 * 1024, &errs), -EINVAL, "65 KiB rejected");

	/* NUL anywhere rejects the file. */
	memcpy(buf, "dnat tcp 80 to 1.2.3.4\n\0\n", 25);
	is_int(parse_buf("nul", buf, 25, &errs), -EINVAL, "NUL rejected");
	ok(diag_has(&errs, 0, "NUL byte at offset 23: not a text file"), "NUL reason");

	/* Every finding is reported, not just the first. */
	const char *many = "dnat tcp 0 to 1.2.3.4\nbogus\nlease 5\nlease 6\n";
	is_int(parse_buf("many", many, strlen(many), &errs), -EINVAL, "several errors");
	is_int(errs.n, 3, "three findings");
	ok(diag_has(&errs, 1, "'0'") && diag_has(&errs, 2, "'bogus'") && diag_has(&errs, 4, "duplicate lease"),
	   "each on its own line");

	/* A flood of bad lines is capped, not unbounded. */
	len = 0;
	for (int i = 0; i < 100; i++)
		len += (size_t)sprintf(buf + len, "x%d\n", i);
	is_int(parse_buf("flood", buf, len, &errs), -EINVAL, "flood rejected");
	is_int(errs.n, DIAG_MAX, "findings capped");
	is_int(errs.dropped, 100 - DIAG_MAX, "rest counted");
	free(buf);
}

static void test_names(void)
{
	static const struct {
		const char *name;
		bool valid;
	} names[] = {
		{ "ingress", true },
		{ "k8s-ingress-nginx.controller_1", true },
		{ "0day", true },
		{ "a", true },
		{ "", false },
		{ ".", false },
		{ "..", false },
		{ ".hidden", false },
		{ "-x", false },
		{ "_x", false },
		{ "a/b", false },
		{ "Ingress", false },
		{ "in gress", false },
		{ "caf\xc3\xa9", false },
		{ "a\nb", false },
		{ "a;b", false },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", true }, /* 64 */
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false }, /* 65 */
	};
	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		struct diag_list errs;
		int r = parse_buf(names[i].name, "", 0, &errs);
		ok((r == 0) == names[i].valid && (names[i].valid || diag_has(&errs, 0, "invalid fragment name")),
		   "name %zu (%zu bytes) %s", i, strlen(names[i].name),
		   names[i].valid ? "valid" : "invalid");
	}
}

static void test_withdrawal(void)
{
	struct fragment *f = NULL;
	struct diag_list errs;

	diag_init(&errs);
	is_int(fragment_parse("old", "# nothing left\n", 15, &f, &errs), 0, "comment-only parses");
	ok(f && fragment_is_withdrawal(f), "no statements means withdraw");
	char *text = f ? fragment_print(f) : NULL;
	is_str(text, "", "withdrawal prints empty");
	free(text);
	fragment_free(f);
}

int main(void)
{
	test_cases();
	test_fields();
	test_pinhole_fields();
	test_round_trip();
	test_limits();
	test_names();
	test_withdrawal();
	return tap_done();
}
