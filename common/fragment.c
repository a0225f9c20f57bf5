/* SPDX-License-Identifier: MIT */
#include "fragment.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOKENS 6

struct token {
	const char *s;
	size_t len;
};

struct parser {
	struct fragment *f;
	struct diag_list *errs;
	size_t errs_before;
	size_t allocated;
	unsigned n_statements; /* every statement, lease included */
};

const char *proto_name(uint8_t proto)
{
	return proto == PROTO_TCP ? "tcp" : proto == PROTO_UDP ? "udp" : "?";
}

static bool token_is(const struct token *t, const char *word)
{
	return t->len == strlen(word) && memcmp(t->s, word, t->len) == 0;
}

#define Q(t) str_quote((char[STR_QUOTE_MAX]){ 0 }, STR_QUOTE_MAX, (t)->s, (t)->len)

static const char *port_error(int r)
{
	switch (r) {
	case -ERANGE:
		return "ports are 1-65535";
	case -EDOM:
		return "the range ends below its start";
	default:
		return "use a decimal number 1-65535 without sign or leading zeros";
	}
}

static const char *address_error(int r)
{
	return r == -EDOM ? "the address has host bits set beyond the prefix length"
			  : "use four decimal octets 0-255 without leading zeros";
}

static struct fragment_stmt *push_stmt(struct parser *p)
{
	struct fragment *f = p->f;

	if (f->n_stmts == p->allocated) {
		size_t n = p->allocated ? p->allocated * 2 : 8;
		struct fragment_stmt *s = reallocarray(f->stmts, n, sizeof(*s));
		if (!s)
			return NULL;
		f->stmts = s;
		p->allocated = n;
	}
	memset(&f->stmts[f->n_stmts], 0, sizeof(f->stmts[0]));
	return &f->stmts[f->n_stmts++];
}

/* TARGET is IPV4 or IPV4:PORT. */
static int parse_target(struct parser *p, unsigned line, const struct token *t,
			struct fragment_stmt *st)
{
	const char *colon = memchr(t->s, ':', t->len);
	size_t alen = colon ? (size_t)(colon - t->s) : t->len;
	int r;

	if (ipv4_parse(t->s, alen, &st->to_addr) < 0) {
		diag_add(p->errs, line, "%s is not an IPv4 address: %s", Q(t), address_error(-EINVAL));
		return -EINVAL;
	}
	if (!colon)
		return 0;
	if (st->port_lo != st->port_hi) {
		diag_add(p->errs, line,
			 "%s: a port range is forwarded to the same ports, it cannot take a target port",
			 Q(t));
		return -EINVAL;
	}
	uint32_t port;
	r = parse_uint32(colon + 1, t->len - alen - 1, 1, 65535, &port);
	if (r < 0) {
		struct token pt = { colon + 1, t->len - alen - 1 };
		diag_add(p->errs, line, "target port %s is not a port: %s", Q(&pt), port_error(r));
		return -EINVAL;
	}
	st->to_port = port == st->port_lo ? 0 : (uint16_t)port;
	return 0;
}

/* Does a target token look like IPv6 text (two colons or more, or a bracket)? */
static bool looks_ipv6(const struct token *t)
{
	const char *colon = memchr(t->s, ':', t->len);

	return memchr(t->s, '[', t->len) ||
	       (colon && memchr(colon + 1, ':', t->len - (size_t)(colon + 1 - t->s)));
}

/* 'dnat tcp|udp PORTS' or 'pinhole ...' with the protocol and ports of `tok`, for reasons. */
static void suggest(const struct token *tok, const char *kind, const char *target, char *buf,
		    size_t size)
{
	snprintf(buf, size, "%s %.*s %.*s to %s", kind, (int)tok[1].len, tok[1].s, (int)tok[2].len,
		 tok[2].s, target);
}

/* A dnat's target, refusing IPv6 text with the statement to use instead. */
static int parse_dnat_target(struct parser *p, unsigned line, const struct token *tok,
			     struct fragment_stmt *st)
{
	const char *colon = memchr(tok[4].s, ':', tok[4].len);
	char use[96], a[IPV6_STRLEN];
	struct in6 v6;
	uint32_t v4;

	/* IPV4:PORT with more after it is a bad target port, not IPv6 */
	if (!looks_ipv6(&tok[4]) ||
	    (colon && ipv4_parse(tok[4].s, (size_t)(colon - tok[4].s), &v4) == 0))
		return parse_target(p, line, &tok[4], st);
	if (ipv6_parse(tok[4].s, tok[4].len, &v6, NULL) == 0)
		suggest(tok, "pinhole", ipv6_format(&v6, a), use, sizeof(use));
	else
		suggest(tok, "pinhole", "IPV6", use, sizeof(use));
	diag_add(p->errs, line, "%s is an IPv6 target: there is no NAT66; use '%s'", Q(&tok[4]),
		 use);
	return -EINVAL;
}

/* A pinhole's target: IPv6 text only; IPv4 text is answered with the dnat to use. */
static int parse_pinhole_target(struct parser *p, unsigned line, const struct token *tok,
				struct fragment_stmt *st)
{
	const char *colon = memchr(tok[4].s, ':', tok[4].len);
	size_t alen = colon ? (size_t)(colon - tok[4].s) : tok[4].len;
	const char *why = NULL;
	char use[96], a[IPV4_STRLEN];
	uint32_t v4;

	if (!looks_ipv6(&tok[4]) && ipv4_parse(tok[4].s, alen, &v4) == 0) {
		suggest(tok, "dnat", ipv4_format(v4, a), use, sizeof(use));
		diag_add(p->errs, line, "%s is an IPv4 target: pinholes are for IPv6; use '%s'",
			 Q(&tok[4]), use);
		return -EINVAL;
	}
	if (ipv6_parse(tok[4].s, tok[4].len, &st->to_addr6, &why) < 0) {
		diag_add(p->errs, line, "%s is not an IPv6 address: %s", Q(&tok[4]),
			 why ? why : "use RFC 4291 text");
		return -EINVAL;
	}
	return 0;
}

/* Do statements `a` and `b` of one fragment claim the same public port (dnat) or host port (pinhole)? */
static bool stmts_overlap(const struct fragment_stmt *a, const struct fragment_stmt *b)
{
	if (a->kind != b->kind || a->proto != b->proto || a->port_lo > b->port_hi ||
	    b->port_lo > a->port_hi)
		return false;
	return a->kind == STMT_DNAT || memcmp(&a->to_addr6, &b->to_addr6, sizeof(a->to_addr6)) == 0;
}

/* dnat and pinhole: KIND tcp|udp PORT[-PORT] to TARGET */
static int parse_forward(struct parser *p, unsigned line, const struct token *tok, size_t n,
			 enum stmt_kind kind)
{
	struct fragment_stmt st = { .kind = kind, .line = line };
	const char *word = kind == STMT_DNAT ? "dnat" : "pinhole";
	int r;

	if (n < 5) {
		diag_add(p->errs, line, "incomplete %s: expected '%s'", word,
			 kind == STMT_DNAT ? "dnat tcp|udp PORT[-PORT] to IPV4[:PORT]"
					   : "pinhole tcp|udp PORT[-PORT] to IPV6");
		return -EINVAL;
	}
	if (token_is(&tok[1], "tcp"))
		st.proto = PROTO_TCP;
	else if (token_is(&tok[1], "udp"))
		st.proto = PROTO_UDP;
	else {
		diag_add(p->errs, line, "unknown protocol %s: use tcp or udp", Q(&tok[1]));
		return -EINVAL;
	}
	r = parse_port_range(tok[2].s, tok[2].len, &st.port_lo, &st.port_hi);
	if (r < 0) {
		diag_add(p->errs, line, "%s is not a port or port range: %s", Q(&tok[2]), port_error(r));
		return -EINVAL;
	}
	if (!token_is(&tok[3], "to")) {
		diag_add(p->errs, line, "expected 'to' after the public port, found %s", Q(&tok[3]));
		return -EINVAL;
	}
	r = kind == STMT_DNAT ? parse_dnat_target(p, line, tok, &st)
			      : parse_pinhole_target(p, line, tok, &st);
	if (r < 0)
		return r;
	if (n > 5) {
		diag_add(p->errs, line, "unexpected %s after the %s statement", Q(&tok[5]), word);
		return -EINVAL;
	}

	for (size_t i = 0; i < p->f->n_stmts; i++) {
		const struct fragment_stmt *o = &p->f->stmts[i];
		if (stmts_overlap(o, &st)) {
			diag_add(p->errs, line, "%s %s overlaps the %s at line %u", proto_name(st.proto),
				 Q(&tok[2]), word, o->line);
			return -EINVAL;
		}
	}
	struct fragment_stmt *slot = push_stmt(p);
	if (!slot)
		return -ENOMEM;
	*slot = st;
	return 0;
}

static int parse_masquerade(struct parser *p, unsigned line, const struct token *tok, size_t n)
{
	struct fragment_stmt st = { .kind = STMT_MASQUERADE, .line = line };
	int r;

	if (n < 2) {
		diag_add(p->errs, line, "incomplete masquerade: expected 'masquerade IPV4[/LEN]'");
		return -EINVAL;
	}
	r = prefix4_parse(tok[1].s, tok[1].len, &st.masq);
	if (r < 0) {
		diag_add(p->errs, line, "%s is not an IPv4 address or prefix: %s", Q(&tok[1]),
			 r == -EDOM ? address_error(r)
				    : "use four decimal octets 0-255 without leading zeros, and /0-/32");
		return -EINVAL;
	}
	if (n > 2) {
		diag_add(p->errs, line, "unexpected %s after the masquerade statement", Q(&tok[2]));
		return -EINVAL;
	}
	for (size_t i = 0; i < p->f->n_stmts; i++) {
		const struct fragment_stmt *o = &p->f->stmts[i];
		if (o->kind == STMT_MASQUERADE && prefix4_overlaps(&o->masq, &st.masq)) {
			diag_add(p->errs, line, "masquerade %s overlaps the masquerade at line %u",
				 Q(&tok[1]), o->line);
			return -EINVAL;
		}
	}
	struct fragment_stmt *slot = push_stmt(p);
	if (!slot)
		return -ENOMEM;
	*slot = st;
	return 0;
}

static int parse_lease(struct parser *p, unsigned line, const struct token *tok, size_t n)
{
	uint32_t v;
	int r;

	if (n < 2) {
		diag_add(p->errs, line, "incomplete lease: expected 'lease SECONDS'");
		return -EINVAL;
	}
	if (p->f->lease_line) {
		diag_add(p->errs, line, "duplicate lease: the first one is at line %u", p->f->lease_line);
		return -EINVAL;
	}
	r = parse_uint32(tok[1].s, tok[1].len, 1, FRAGMENT_MAX_LEASE, &v);
	if (r < 0) {
		diag_add(p->errs, line, "%s is not a lease: use a decimal number of seconds, 1-%u",
			 Q(&tok[1]), FRAGMENT_MAX_LEASE);
		return -EINVAL;
	}
	if (n > 2) {
		diag_add(p->errs, line, "unexpected %s after the lease statement", Q(&tok[2]));
		return -EINVAL;
	}
	p->f->lease = v;
	p->f->lease_line = line;
	return 0;
}

/* Split a line into blank-separated tokens; a token starting with '#' starts a comment. */
static size_t tokenize(const char *s, size_t len, struct token tok[static MAX_TOKENS])
{
	size_t n = 0, i = 0;

	while (i < len && n < MAX_TOKENS) {
		while (i < len && char_is_blank(s[i]))
			i++;
		if (i == len || s[i] == '#')
			break;
		size_t start = i;
		while (i < len && !char_is_blank(s[i]))
			i++;
		tok[n++] = (struct token){ s + start, i - start };
	}
	return n;
}

/* Bytes allowed on a line: printable ASCII and tab. Reports the first bad one. */
static bool line_bytes_ok(struct parser *p, unsigned line, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (char_is_print((char)c) || c == '\t')
			continue;
		if (c == '\r')
			diag_add(p->errs, line, "carriage return inside the line (column %zu)", i + 1);
		else if (c >= 0x80)
			diag_add(p->errs, line, "non-ASCII byte 0x%02x at column %zu", c, i + 1);
		else
			diag_add(p->errs, line, "control byte 0x%02x at column %zu", c, i + 1);
		return false;
	}
	return true;
}

static int parse_line(struct parser *p, unsigned line, const char *s, size_t len)
{
	struct token tok[MAX_TOKENS];
	size_t n;

	if (len > 0 && s[len - 1] == '\r') /* CRLF */
		len--;
	if (len > FRAGMENT_MAX_LINE) {
		diag_add(p->errs, line, "line is %zu bytes long, the limit is %d", len,
			 FRAGMENT_MAX_LINE);
		return -EINVAL;
	}
	if (!line_bytes_ok(p, line, s, len))
		return -EINVAL;
	n = tokenize(s, len, tok);
	if (n == 0)
		return 0;
	if (++p->n_statements > FRAGMENT_MAX_STATEMENTS) {
		diag_add(p->errs, line, "more than %d statements", FRAGMENT_MAX_STATEMENTS);
		return -E2BIG;
	}
	if (token_is(&tok[0], "dnat"))
		return parse_forward(p, line, tok, n, STMT_DNAT);
	if (token_is(&tok[0], "pinhole"))
		return parse_forward(p, line, tok, n, STMT_PINHOLE);
	if (token_is(&tok[0], "masquerade"))
		return parse_masquerade(p, line, tok, n);
	if (token_is(&tok[0], "lease"))
		return parse_lease(p, line, tok, n);
	diag_add(p->errs, line, "unknown statement %s: expected dnat, pinhole, masquerade or lease", Q(&tok[0]));
	return -EINVAL;
}

static int parse_body(struct parser *p, const char *data, size_t len)
{
	const char *s = data, *end = data + len;
	unsigned line = 0;

	if (memchr(data, '\0', len)) {
		diag_add(p->errs, 0, "NUL byte at offset %zu: not a text file",
			 (size_t)((const char *)memchr(data, '\0', len) - data));
		return -EINVAL;
	}
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t l = nl ? (size_t)(nl - s) : (size_t)(end - s);
		int r = parse_line(p, ++line, s, l);
		if (r == -ENOMEM || r == -E2BIG)
			return r;
		s += l + 1;
	}
	if (p->f->lease_line && p->f->n_stmts == 0 &&
	    p->errs->n + p->errs->dropped == p->errs_before)
		diag_add(p->errs, p->f->lease_line,
			 "a lease needs at least one dnat, pinhole or masquerade statement (an empty fragment withdraws)");
	return 0;
}

int fragment_parse(const char *name, const char *data, size_t len, struct fragment **ret,
		   struct diag_list *errs)
{
	_cleanup_fragment_ struct fragment *f = NULL;
	size_t before = errs->n + errs->dropped;
	struct parser p = { .errs = errs, .errs_before = before };
	int r;

	if (!fragment_name_valid(name, strlen(name))) {
		diag_add(errs, 0,
			 "invalid fragment name %s: use 1-%d of a-z 0-9 . _ -, starting with a letter or digit",
			 str_quote((char[STR_QUOTE_MAX]){ 0 }, STR_QUOTE_MAX, name, strlen(name)),
			 FRAGMENT_NAME_MAX);
		return -EINVAL;
	}
	if (len > FRAGMENT_MAX_BYTES) {
		diag_add(errs, 0, "fragment is %zu bytes, the limit is %d", len, FRAGMENT_MAX_BYTES);
		return -EINVAL;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	memcpy(f->name, name, strlen(name) + 1);
	p.f = f;
	r = parse_body(&p, data, len);
	if (r == -ENOMEM)
		return r;
	if (r < 0 || errs->n + errs->dropped > before)
		return -EINVAL; /* NOLINT(clang-analyzer-unix.Malloc): f is _cleanup_fragment_ */
	*ret = steal_pointer(&f);
	return 0;
}

void fragment_free(struct fragment *f)
{
	if (!f)
		return;
	free(f->stmts);
	free(f);
}

char *stmt_format_public(const struct fragment_stmt *s, char *buf, size_t size)
{
	if (s->port_lo == s->port_hi)
		snprintf(buf, size, "%s %u", proto_name(s->proto), s->port_lo);
	else
		snprintf(buf, size, "%s %u-%u", proto_name(s->proto), s->port_lo, s->port_hi);
	return buf;
}

char *stmt_format_target(const struct fragment_stmt *s, char *buf, size_t size)
{
	char a[IPV4_STRLEN], a6[IPV6_STRLEN];

	if (s->kind == STMT_PINHOLE)
		snprintf(buf, size, "%s", ipv6_format(&s->to_addr6, a6));
	else if (s->port_lo != s->port_hi)
		snprintf(buf, size, "%s", ipv4_format(s->to_addr, a));
	else
		snprintf(buf, size, "%s:%u", ipv4_format(s->to_addr, a),
			 (unsigned)(s->to_port ? s->to_port : s->port_lo));
	return buf;
}

char *fragment_print(const struct fragment *f)
{
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);

	if (!out)
		return NULL;
	for (size_t i = 0; i < f->n_stmts; i++) {
		const struct fragment_stmt *s = &f->stmts[i];
		char pub[32], a[IPV4_STRLEN], pfx[PREFIX4_STRLEN], a6[IPV6_STRLEN];

		if (s->kind == STMT_MASQUERADE) {
			fprintf(out, "masquerade %s\n", prefix4_format(&s->masq, false, pfx));
			continue;
		}
		if (s->kind == STMT_PINHOLE) {
			fprintf(out, "pinhole %s to %s\n", stmt_format_public(s, pub, sizeof(pub)),
				stmt_format_target(s, a6, sizeof(a6)));
			continue;
		}
		fprintf(out, "dnat %s to %s", stmt_format_public(s, pub, sizeof(pub)),
			ipv4_format(s->to_addr, a));
		if (s->to_port)
			fprintf(out, ":%u", s->to_port);
		fputc('\n', out);
	}
	if (f->lease)
		fprintf(out, "lease %u\n", f->lease);
	if (fclose(out) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

static bool stmt_equal(const struct fragment_stmt *a, const struct fragment_stmt *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == STMT_MASQUERADE)
		return a->masq.addr == b->masq.addr && a->masq.len == b->masq.len;
	if (a->kind == STMT_PINHOLE && memcmp(&a->to_addr6, &b->to_addr6, sizeof(a->to_addr6)) != 0)
		return false;
	return a->proto == b->proto && a->port_lo == b->port_lo && a->port_hi == b->port_hi &&
	       a->to_addr == b->to_addr && a->to_port == b->to_port;
}

bool fragment_equal(const struct fragment *a, const struct fragment *b)
{
	if (strcmp(a->name, b->name) != 0 || a->n_stmts != b->n_stmts || a->lease != b->lease)
		return false;
	for (size_t i = 0; i < a->n_stmts; i++)
		if (!stmt_equal(&a->stmts[i], &b->stmts[i]))
			return false;
	return true;
}
