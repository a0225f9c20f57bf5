/* SPDX-License-Identifier: MIT */
#include "ipv6.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "strutil.h"

/* The groups as read: those before "::" are w[0..gap), those after it w[gap..n). */
struct groups {
	uint16_t w[8];
	int n;
	int gap; /* -1: no "::" */
};

static int hex_value(char c)
{
	if (char_is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Why a byte that is neither a hex digit nor ':' is there, as far as one can guess. */
static const char *stray_char_reason(char c)
{
	switch (c) {
	case '%':
		return "zone ids (%...) are not allowed";
	case '.':
		return "an IPv4 tail is not allowed; write the address in hex groups";
	case '/':
		return "a prefix length is not allowed here";
	case '[':
	case ']':
		return "brackets are not allowed; write the bare address";
	case ' ':
	case '\t':
		return "blanks are not allowed";
	default:
		return "only hex digits and ':' may appear in an address";
	}
}

/* The first byte that cannot be in an address decides the reason: it says what the token is. */
static const char *check_chars(const char *s, size_t len)
{
	if (len == 0)
		return "the address is empty";
	for (size_t i = 0; i < len; i++)
		if (s[i] != ':' && hex_value(s[i]) < 0) {
			if (s[i] == '.' && !memchr(s, ':', len))
				return "an IPv4 address where an IPv6 one is expected";
			return stray_char_reason(s[i]);
		}
	return NULL;
}

/*
 * The state machine over [0-9a-fA-F:]*: a group, then ':' and a group, or "::" and maybe a
 * group, until the end. Returns NULL or the reason.
 */
static const char *scan_groups(const char *s, size_t len, struct groups *g)
{
	size_t i = 0;

	if (len >= 2 && s[0] == ':' && s[1] == ':') {
		g->gap = 0;
		i = 2;
		if (i == len)
			return NULL;
	} else if (s[0] == ':') {
		return "a single ':' at the start";
	}
	for (;;) {
		size_t start = i;
		unsigned w = 0;

		for (; i < len && s[i] != ':'; i++) {
			if (i - start == 4)
				return "a group has more than 4 hex digits";
			w = w << 4 | (unsigned)hex_value(s[i]);
		}
		if (i == start)
			return "an empty group (':::')";
		if (g->n == 8)
			return "more than 8 groups";
		g->w[g->n++] = (uint16_t)w;
		if (i == len)
			return NULL;
		if (++i == len)
			return "a single ':' at the end";
		if (s[i] == ':') {
			if (g->gap >= 0)
				return "'::' may appear only once";
			g->gap = g->n;
			if (++i == len)
				return NULL;
		}
	}
}

static int fail(const char **ret_reason, const char *reason, int r)
{
	if (ret_reason)
		*ret_reason = reason;
	return r;
}

int ipv6_parse(const char *s, size_t len, struct in6 *ret, const char **ret_reason)
{
	struct groups g = { .n = 0, .gap = -1 };
	struct in6 a = { 0 };
	const char *reason;
	int tail;

	reason = check_chars(s, len);
	if (!reason)
		reason = scan_groups(s, len, &g);
	if (!reason && g.gap < 0 && g.n < 8)
		reason = "fewer than 8 groups and no '::'";
	if (!reason && g.gap >= 0 && g.n == 8)
		reason = "'::' stands for no group here: there are 8 already";
	if (reason)
		return fail(ret_reason, reason, -EINVAL);

	/* The groups after "::" go to the end; those it stands for stay 0. */
	tail = g.gap < 0 ? 0 : g.n - g.gap;
	for (int i = 0; i < g.n; i++) {
		size_t at = (size_t)(i < g.n - tail ? i : 8 - g.n + i);
		a.b[2 * at] = (uint8_t)(g.w[i] >> 8);
		a.b[2 * at + 1] = (uint8_t)g.w[i];
	}
	*ret = a;
	return 0;
}

void ipv6_mask(struct in6 *a, uint8_t len)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = len > 8 * i ? len - 8 * i : 0;

		if (keep < 8)
			a->b[i] &= (uint8_t)(0xff00u >> keep);
	}
}

int prefix6_parse(const char *s, size_t len, struct prefix6 *ret, const char **ret_reason)
{
	static _Thread_local char hint[32 + PREFIX6_STRLEN];
	const char *slash = memchr(s, '/', len);
	size_t alen = slash ? (size_t)(slash - s) : len;
	struct prefix6 p = { .len = 128 };
	uint32_t plen = 128;
	char buf[PREFIX6_STRLEN];
	int r;

	r = ipv6_parse(s, alen, &p.addr, ret_reason);
	if (r < 0)
		return r;
	if (slash && alen + 1 == len)
		return fail(ret_reason, "no prefix length after '/'", -EINVAL);
	if (slash && parse_uint32(slash + 1, len - alen - 1, 0, 128, &plen) < 0)
		return fail(ret_reason,
			    "the prefix length must be 0-128, decimal without leading zeros",
			    -EINVAL);
	p.len = (uint8_t)plen;
	if (!prefix6_contains_addr(&p, &p.addr)) {
		ipv6_mask(&p.addr, p.len);
		snprintf(hint, sizeof(hint), "host bits set; did you mean %s",
			 prefix6_format(&p, true, buf));
		return fail(ret_reason, hint, -EDOM);
	}
	*ret = p;
	return 0;
}

/* The longest run of two or more zero groups, the first of equal ones; *ret_len 0 if none. */
static int longest_zero_run(const uint16_t w[static 8], int *ret_len)
{
	int best = -1, best_len = 1;

	for (int i = 0; i < 8;) {
		int j = i;

		while (j < 8 && w[j] == 0)
			j++;
		if (j - i > best_len) {
			best = i;
			best_len = j - i;
		}
		i = j == i ? i + 1 : j;
	}
	*ret_len = best < 0 ? 0 : best_len;
	return best;
}

char *ipv6_format(const struct in6 *a, char buf[static IPV6_STRLEN])
{
	static const char digits[] = "0123456789abcdef";
	uint16_t w[8];
	int run, run_len;
	char *p = buf;

	for (size_t i = 0; i < 8; i++)
		w[i] = (uint16_t)(a->b[2 * i] << 8 | a->b[2 * i + 1]);
	run = longest_zero_run(w, &run_len);
	for (int i = 0; i < 8; i++) {
		if (i == run) {
			*p++ = ':';
			*p++ = ':';
			i += run_len - 1;
			continue;
		}
		if (i > 0 && i != run + run_len)
			*p++ = ':';
		for (int shift = 12; shift >= 0; shift -= 4)
			if (shift == 0 || w[i] >> shift)
				*p++ = digits[(w[i] >> shift) & 0xf];
	}
	*p = '\0';
	return buf;
}

char *prefix6_format(const struct prefix6 *p, bool always_len, char buf[static PREFIX6_STRLEN])
{
	char a[IPV6_STRLEN];

	if (p->len == 128 && !always_len)
		snprintf(buf, PREFIX6_STRLEN, "%s", ipv6_format(&p->addr, a));
	else
		snprintf(buf, PREFIX6_STRLEN, "%s/%u", ipv6_format(&p->addr, a), p->len);
	return buf;
}

bool prefix6_contains_addr(const struct prefix6 *p, const struct in6 *addr)
{
	struct in6 masked = *addr;

	ipv6_mask(&masked, p->len);
	return memcmp(masked.b, p->addr.b, sizeof(masked.b)) == 0;
}

/* The interface identifier (the low 64 bits) of an ISATAP address: [02]00:5efe:a.b.c.d. */
static bool isatap_interface_id(const struct in6 *a)
{
	return (a->b[8] & ~0x02) == 0 && a->b[9] == 0 && a->b[10] == 0x5e && a->b[11] == 0xfe;
}

/* RFC 2526: the 128 highest interface identifiers of a /64, fdff:ffff:ffff:ff80 and up. */
static bool reserved_subnet_anycast(const struct in6 *a)
{
	static const uint8_t id[7] = { 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	return memcmp(&a->b[8], id, sizeof(id)) == 0 && a->b[15] >= 0x80;
}

const char *ipv6_special_kind(const struct in6 *a)
{
	/* First match wins: :: and ::1 before the ::/96 they are in. */
	static const struct {
		struct prefix6 p;
		const char *kind;
	} specials[] = {
		{ { { { 0 } }, 128 }, "the unspecified address (::)" },
		{ { { { [15] = 1 } }, 128 }, "the loopback address (::1)" },
		{ { { { [10] = 0xff, [11] = 0xff } }, 96 },
		  "an IPv4-mapped address (::ffff:0:0/96)" },
		{ { { { [8] = 0xff, [9] = 0xff } }, 96 },
		  "an IPv4-translated address (::ffff:0:0:0/96, SIIT): it leads to IPv4" },
		{ { { { 0 } }, 96 }, "an IPv4-compatible address (::/96, deprecated)" },
		{ { { { 0, 0x64, 0xff, 0x9b } }, 96 },
		  "a NAT64 address (64:ff9b::/96): it leads to IPv4" },
		{ { { { 0, 0x64, 0xff, 0x9b, 0, 1 } }, 48 },
		  "a NAT64 address (64:ff9b:1::/48, local use): it leads to IPv4" },
		{ { { { 0x01, 0x00 } }, 64 }, "a discard-only address (100::/64)" },
		{ { { { 0x20, 0x01, 0, 0 } }, 32 }, "a Teredo address (2001::/32): it leads to IPv4" },
		{ { { { 0x20, 0x02 } }, 16 }, "a 6to4 address (2002::/16): it leads to IPv4" },
		{ { { { 0xfe, 0x80 } }, 10 }, "a link-local address (fe80::/10)" },
		{ { { { 0xfe, 0xc0 } }, 10 }, "a site-local address (fec0::/10, deprecated)" },
		{ { { { 0xff } }, 8 }, "a multicast address (ff00::/8)" },
	};

	for (size_t i = 0; i < ELEMENTSOF(specials); i++)
		if (prefix6_contains_addr(&specials[i].p, a))
			return specials[i].kind;
	if (isatap_interface_id(a))
		return "an ISATAP address (interface identifier [02]00:5efe:a.b.c.d): it leads to IPv4";
	if (reserved_subnet_anycast(a))
		return "a reserved subnet anycast address (interface identifier fdff:ffff:ffff:ff80 and up)";
	return NULL;
}
