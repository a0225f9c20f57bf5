/* SPDX-License-Identifier: MIT */
/*
 * The IPv6 text codec: exact outcomes for the spellings a submitter may write, RFC 5952
 * output, prefixes, special addresses, and glibc's inet_pton()/inet_ntop() as a second opinion
 * on random addresses and spellings (without IPv4 tails, which glibc prints and we refuse).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>

#include "ipv6.h"
#include "macro.h"
#include "strutil.h"
#include "tap.h"

#define DOC_NET "2001:db8::/32"
#define BAD_LEN "the prefix length must be 0-128, decimal without leading zeros"

static const struct {
	const char *s, *canonical;
} valid[] = {
	{ "::", "::" },
	{ "::1", "::1" },
	{ "1::", "1::" },
	{ "1::1", "1::1" },
	{ "0::0", "::" },
	{ "::0", "::" },
	{ "0::", "::" },
	{ "0:0:0:0:0:0:0:0", "::" },
	{ "0000:0000:0000:0000:0000:0000:0000:0000", "::" },
	{ "0:0:0:0:0:0:0:1", "::1" },
	{ "1:0:0:0:0:0:0:0", "1::" },
	{ "fe80:0:0:0:0:0:0:0", "fe80::" },
	{ "2001:db8::1", "2001:db8::1" },
	{ "2001:DB8::1", "2001:db8::1" },
	{ "2001:Db8:0:0:0:0:0:1", "2001:db8::1" },
	{ "2001:db8::0:1", "2001:db8::1" },
	{ "2001:db8:0:0:1::1", "2001:db8::1:0:0:1" },
	{ "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8" },
	{ "1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0" },
	{ "::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8" },
	{ "1:2:3::5:6:7:8", "1:2:3:0:5:6:7:8" },
	{ "1:0:0:2:0:0:0:3", "1:0:0:2::3" },
	{ "1:0:0:0:2:0:0:0", "1::2:0:0:0" },
	{ "1:0:2:0:3:0:4:0", "1:0:2:0:3:0:4:0" },
	{ "0:1:0:1:0:1:0:1", "0:1:0:1:0:1:0:1" },
	{ "a:b:c:d:e:f:0:0", "a:b:c:d:e:f::" },
	{ "0:0:a:b:c:d:e:f", "::a:b:c:d:e:f" },
	{ "00:000:0000:0::1:01:001", "::1:1:1" },
	{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" },
	{ "FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" },
	{ "abcd:EF01:2345:6789:ABCD:ef01:2345:6789", "abcd:ef01:2345:6789:abcd:ef01:2345:6789" },
	{ "fe80::1", "fe80::1" },
	{ "FE80::0001", "fe80::1" },
	{ "ff02::1", "ff02::1" },
	{ "::ffff:0:0", "::ffff:0:0" },
	{ "::ffff:102:304", "::ffff:102:304" },
	{ "::102:304", "::102:304" },
	{ "64:ff9b::102:304", "64:ff9b::102:304" },
	{ "fd00:1234:5678::abcd", "fd00:1234:5678::abcd" },
	{ "2001:db8:a:b:c:d:e:f", "2001:db8:a:b:c:d:e:f" },
	{ "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff" },
	{ "2001:db8:1000:100:10:1::", "2001:db8:1000:100:10:1::" },
};

/* RFC 5952 section 4, example by example (our own addresses of the same shapes). */
static const struct {
	const char *rule, *s, *canonical;
} rfc5952[] = {
	{ "4.1 no leading zeros", "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1" },
	{ "4.1 no leading zeros", "2001:0db8:00aa:0bbb:000c:0000:0000:0001",
	  "2001:db8:aa:bbb:c::1" },
	{ "4.2.1 shorten as much as possible", "2001:db8:0:0:0:0:2:1", "2001:db8::2:1" },
	{ "4.2.1 shorten as much as possible", "2001:db8::0:2:1", "2001:db8::2:1" },
	{ "4.2.2 one zero group stays", "2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1" },
	{ "4.2.2 one zero group stays", "2001:db8::1:1:1:1:1", "2001:db8:0:1:1:1:1:1" },
	{ "4.2.3 the longest run", "2001:0:0:1:0:0:0:1", "2001:0:0:1::1" },
	{ "4.2.3 the first of equal runs", "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1" },
	{ "4.3 lower case", "2001:DB8::ABCD:EF", "2001:db8::abcd:ef" },
};

static const struct {
	const char *s, *reason;
} invalid[] = {
	{ "", "the address is empty" },
	{ "fe80::1%eth0", "zone ids (%...) are not allowed" },
	{ "fe80::1%1", "zone ids (%...) are not allowed" },
	{ "fe80::1%", "zone ids (%...) are not allowed" },
	{ "ff02::1%25eth0", "zone ids (%...) are not allowed" },
	{ "::%eth0", "zone ids (%...) are not allowed" },
	{ "::ffff:1.2.3.4", "an IPv4 tail is not allowed; write the address in hex groups" },
	{ "::1.2.3.4", "an IPv4 tail is not allowed; write the address in hex groups" },
	{ "64:ff9b::1.2.3.4", "an IPv4 tail is not allowed; write the address in hex groups" },
	{ "::ffff:1.2.3", "an IPv4 tail is not allowed; write the address in hex groups" },
	{ "1.2.3.4", "an IPv4 address where an IPv6 one is expected" },
	{ "1.2.3.4:1", "an IPv4 tail is not allowed; write the address in hex groups" },
	{ "1:2:3:4:5:6:7:8:9", "more than 8 groups" },
	{ "1:2:3:4:5:6:7:8:9:10", "more than 8 groups" },
	{ "1::2:3:4:5:6:7:8:9", "more than 8 groups" },
	{ "1:2:3:4:5:6:7", "fewer than 8 groups and no '::'" },
	{ "1", "fewer than 8 groups and no '::'" },
	{ "12345::1", "a group has more than 4 hex digits" },
	{ "1:2:3:4:5:6:7:00000", "a group has more than 4 hex digits" },
	{ "1:2:3:4:5:6:77777:8", "a group has more than 4 hex digits" },
	{ "1::2:", "a single ':' at the end" },
	{ "1:", "a single ':' at the end" },
	{ "1:2:3:4:5:6:7:8:", "a single ':' at the end" },
	{ ":1::2", "a single ':' at the start" },
	{ ":", "a single ':' at the start" },
	{ "1:::2", "an empty group (':::')" },
	{ ":::", "an empty group (':::')" },
	{ "1::2::3", "'::' may appear only once" },
	{ "::1::", "'::' may appear only once" },
	{ "1:2:3:4::5:6:7:8", "'::' stands for no group here: there are 8 already" },
	{ "::1:2:3:4:5:6:7:8", "'::' stands for no group here: there are 8 already" },
	{ "1:2:3:4:5:6:7:8::", "'::' stands for no group here: there are 8 already" },
	{ "2001:db8::g", "only hex digits and ':' may appear in an address" },
	{ "2001:db8::x1", "only hex digits and ':' may appear in an address" },
	{ "0x1::1", "only hex digits and ':' may appear in an address" },
	{ "-1::1", "only hex digits and ':' may appear in an address" },
	{ "2001:db8::1\n", "only hex digits and ':' may appear in an address" },
	{ "\xd9\xa3::1", "only hex digits and ':' may appear in an address" },
	{ " ::1", "blanks are not allowed" },
	{ "::1 ", "blanks are not allowed" },
	{ "::1\t", "blanks are not allowed" },
	{ "[2001:db8::1]", "brackets are not allowed; write the bare address" },
	{ "[::1]:80", "brackets are not allowed; write the bare address" },
	{ DOC_NET, "a prefix length is not allowed here" },
	{ "::1/128", "a prefix length is not allowed here" },
};

static const struct {
	const char *s;
	int r;
	const char *want; /* the prefix with its length, or the reason */
} prefixes[] = {
	{ DOC_NET, 0, DOC_NET },
	{ "::/0", 0, "::/0" },
	{ "1::/64", 0, "1::/64" },
	{ "fe80::/10", 0, "fe80::/10" },
	{ "2001:DB8:0:0::/48", 0, "2001:db8::/48" },
	{ "2001:db8::1", 0, "2001:db8::1/128" },
	{ "2001:db8::1/128", 0, "2001:db8::1/128" },
	{ "::6/127", 0, "::6/127" },
	{ "2001:db8::1/32", -EDOM, "host bits set; did you mean " DOC_NET },
	{ "2001:db9::/31", -EDOM, "host bits set; did you mean 2001:db8::/31" },
	{ "::1/0", -EDOM, "host bits set; did you mean ::/0" },
	{ "ff00::/7", -EDOM, "host bits set; did you mean fe00::/7" },
	{ "::7/127", -EDOM, "host bits set; did you mean ::6/127" },
	{ "2001:db8::/129", -EINVAL, BAD_LEN },
	{ "2001:db8::/032", -EINVAL, BAD_LEN },
	{ "2001:db8::/-1", -EINVAL, BAD_LEN },
	{ "2001:db8::/ 32", -EINVAL, BAD_LEN },
	{ "::/64/64", -EINVAL, BAD_LEN },
	{ "2001:db8::/", -EINVAL, "no prefix length after '/'" },
	{ "/32", -EINVAL, "the address is empty" },
	{ "2001:db8::1.2.3.4/96", -EINVAL,
	  "an IPv4 tail is not allowed; write the address in hex groups" },
	{ "fe80::%eth0/64", -EINVAL, "zone ids (%...) are not allowed" },
	{ "[2001:db8::]/32", -EINVAL, "brackets are not allowed; write the bare address" },
};

static const struct {
	const char *s, *kind;
} specials[] = {
	{ "::", "the unspecified address (::)" },
	{ "::1", "the loopback address (::1)" },
	{ "::2", "an IPv4-compatible address (::/96, deprecated)" },
	{ "::102:304", "an IPv4-compatible address (::/96, deprecated)" },
	{ "::ffff:0:0", "an IPv4-mapped address (::ffff:0:0/96)" },
	{ "::ffff:102:304", "an IPv4-mapped address (::ffff:0:0/96)" },
	{ "fe80::1", "a link-local address (fe80::/10)" },
	{ "febf:ffff::1", "a link-local address (fe80::/10)" },
	{ "ff02::1", "a multicast address (ff00::/8)" },
	{ "ff00::", "a multicast address (ff00::/8)" },
	{ "fec0::1", "a site-local address (fec0::/10, deprecated)" },
	{ "feff:ffff::1", "a site-local address (fec0::/10, deprecated)" },
	{ "64:ff9b::102:304", "a NAT64 address (64:ff9b::/96): it leads to IPv4" },
	{ "64:ff9b::c0a8:101", "a NAT64 address (64:ff9b::/96): it leads to IPv4" },
	{ "64:ff9b:1::c0a8:101", "a NAT64 address (64:ff9b:1::/48, local use): it leads to IPv4" },
	{ "64:ff9b:1:ffff:ffff:ffff:ffff:ffff",
	  "a NAT64 address (64:ff9b:1::/48, local use): it leads to IPv4" },
	{ "::ffff:0:c0a8:101", "an IPv4-translated address (::ffff:0:0:0/96, SIIT): it leads to IPv4" },
	{ "100::1", "a discard-only address (100::/64)" },
	{ "2001::1", "a Teredo address (2001::/32): it leads to IPv4" },
	{ "2001:0:ffff:ffff::1", "a Teredo address (2001::/32): it leads to IPv4" },
	{ "2002:c0a8:101::1", "a 6to4 address (2002::/16): it leads to IPv4" },
	{ "2001:db8:0:1:0:5efe:c0a8:101",
	  "an ISATAP address (interface identifier [02]00:5efe:a.b.c.d): it leads to IPv4" },
	{ "2001:db8:0:1:200:5efe:c0a8:101",
	  "an ISATAP address (interface identifier [02]00:5efe:a.b.c.d): it leads to IPv4" },
	{ "2001:db8:0:1:fdff:ffff:ffff:ff80",
	  "a reserved subnet anycast address (interface identifier fdff:ffff:ffff:ff80 and up)" },
	{ "2001:db8:0:1:fdff:ffff:ffff:ffff",
	  "a reserved subnet anycast address (interface identifier fdff:ffff:ffff:ff80 and up)" },
	/* next to each of them, and ordinary */
	{ "2001:db8::1", NULL },
	{ "2001:db8:0:1:fdff:ffff:ffff:ff7f", NULL },
	{ "2001:db8:0:1:300:5efe:c0a8:101", NULL },
	{ "2001:db8:0:1:0:5eff:c0a8:101", NULL },
	{ "2001:1::1", NULL },
	{ "2003::1", NULL },
	{ "100:0:0:1::1", NULL },
	{ "64:ff9b:2::1", NULL },
	{ "64:ff9a:ffff::1", NULL },
	{ "fd00::1", NULL },
	{ "2606:4700::1111", NULL },
	{ "::1:0:0", NULL },
	{ "0:0:0:0:ffff::", "an IPv4-translated address (::ffff:0:0:0/96, SIIT): it leads to IPv4" },
	{ "::fffe:0:0", NULL },
	{ "fe7f:ffff::1", NULL },
	{ "ff7f::", "a multicast address (ff00::/8)" },
};

static struct in6 addr(const char *s)
{
	struct in6 a = { { 0 } };

	if (ipv6_parse(s, strlen(s), &a, NULL) < 0)
		printf("# test bug: '%s' does not parse\n", s);
	return a;
}

static bool same(const struct in6 *a, const struct in6 *b)
{
	return memcmp(a->b, b->b, sizeof(a->b)) == 0;
}

/* Parses, prints as expected, means what inet_ntop() thinks, and parses back the same. */
static void check_valid(const char *s, const char *canonical, const char *what)
{
	struct in6 a, b, glibc;
	char buf[IPV6_STRLEN];
	const char *reason = NULL;
	int r = ipv6_parse(s, strlen(s), &a, &reason);

	if (!ok(r == 0, "%s '%s' parses", what, s)) {
		printf("#   reason: %s\n", reason ? reason : "(none)");
		return;
	}
	is_str(ipv6_format(&a, buf), canonical, "%s '%s' prints as '%s'", what, s, canonical);
	ok(inet_pton(AF_INET6, s, &glibc) == 1 && same(&a, &glibc), "%s '%s' same bytes as glibc",
	   what, s);
	ok(ipv6_parse(buf, strlen(buf), &b, NULL) == 0 && same(&a, &b), "%s '%s' round trip", what,
	   s);
}

static void test_valid(void)
{
	for (size_t i = 0; i < ELEMENTSOF(valid); i++)
		check_valid(valid[i].s, valid[i].canonical, "valid");
	for (size_t i = 0; i < ELEMENTSOF(rfc5952); i++)
		check_valid(rfc5952[i].s, rfc5952[i].canonical, rfc5952[i].rule);
}

static void test_invalid(void)
{
	for (size_t i = 0; i < ELEMENTSOF(invalid); i++) {
		const char *s = invalid[i].s, *reason = NULL;
		struct in6 a = { { 0xaa } };
		char q[STR_QUOTE_MAX];
		int r = ipv6_parse(s, strlen(s), &a, &reason);

		str_quote(q, sizeof(q), s, strlen(s));
		if (!ok(r == -EINVAL && a.b[0] == 0xaa, "invalid %s refused", q))
			continue;
		is_str(reason, invalid[i].reason, "invalid %s: the reason", q);
	}
	/* A length, not a NUL, ends the address, and a NUL inside it is a stray byte. */
	struct in6 a, want = addr("::1");
	const char *reason = NULL;
	ok(ipv6_parse("::1/64", 3, &a, NULL) == 0 && same(&a, &want), "bounded by length");
	ok(ipv6_parse("::1:", 3, &a, NULL) == 0 && same(&a, &want), "bounded before a ':'");
	is_int(ipv6_parse("::1\0", 4, &a, &reason), -EINVAL, "NUL inside the length");
	is_str(reason, "only hex digits and ':' may appear in an address", "NUL: the reason");
	is_int(ipv6_parse("::1", 0, &a, NULL), -EINVAL, "no reason asked for");
}

static void test_prefixes(void)
{
	for (size_t i = 0; i < ELEMENTSOF(prefixes); i++) {
		struct prefix6 p = { .len = 200 };
		const char *s = prefixes[i].s, *reason = NULL;
		char buf[PREFIX6_STRLEN];
		int r = prefix6_parse(s, strlen(s), &p, &reason);

		if (!ok(r == prefixes[i].r, "prefix6_parse '%s' returns %d", s, prefixes[i].r))
			printf("#   got %d (%s)\n", r, reason ? reason : "no reason");
		else if (r == 0)
			is_str(prefix6_format(&p, true, buf), prefixes[i].want, "prefix '%s'", s);
		else
			is_str(reason, prefixes[i].want, "prefix '%s': the reason", s);
	}
	char buf[PREFIX6_STRLEN];
	struct prefix6 p = { addr("2001:db8::1"), 128 };
	is_str(prefix6_format(&p, false, buf), "2001:db8::1", "format host");
	is_str(prefix6_format(&p, true, buf), "2001:db8::1/128", "format host with length");
	p = (struct prefix6){ addr("2001:db8::"), 32 };
	is_str(prefix6_format(&p, false, buf), DOC_NET, "format prefix");
	p = (struct prefix6){ addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), 128 };
	is_int(strlen(prefix6_format(&p, true, buf)), PREFIX6_STRLEN - 1,
	       "the longest prefix fits");
}

static void test_containment(void)
{
	struct prefix6 net = { addr("2001:db8::"), 32 }, sub = { addr("2001:db8:1::"), 48 },
		       host = { addr("2001:db8::1"), 128 }, other = { addr("2001:db9::"), 32 },
		       all = { addr("::"), 0 }, ll = { addr("fe80::"), 10 },
		       odd = { addr("2001:db8::"), 31 };
	struct in6 a = addr("febf::1"), b = addr("fec0::1"), c = addr("2001:db9::1");

	ok(prefix6_contains(&net, &sub) && prefix6_contains(&net, &host), "/32 holds /48 and /128");
	ok(!prefix6_contains(&sub, &net) && !prefix6_contains(&host, &net), "not the other way");
	ok(prefix6_contains(&net, &net), "a prefix holds itself");
	ok(!prefix6_contains(&net, &other) && !prefix6_overlaps(&net, &other), "neighbours apart");
	ok(prefix6_overlaps(&net, &sub) && prefix6_overlaps(&sub, &net), "overlap both ways");
	ok(prefix6_contains(&all, &net) && prefix6_contains(&all, &ll), "::/0 holds everything");
	ok(prefix6_contains_addr(&ll, &a) && !prefix6_contains_addr(&ll, &b), "fe80::/10 bounds");
	ok(prefix6_contains_addr(&odd, &c) && !prefix6_contains_addr(&net, &c), "a /31 edge");
	ok(prefix6_contains(&odd, &other) && prefix6_overlaps(&other, &odd), "/31 holds its /32s");
	ok(!prefix6_overlaps(&sub, &other), "disjoint prefixes of other lengths");

	struct in6 m = addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), want = addr("ffff:e000::");
	ipv6_mask(&m, 19);
	ok(same(&m, &want), "mask to 19 bits");
}

static void test_specials(void)
{
	for (size_t i = 0; i < ELEMENTSOF(specials); i++) {
		struct in6 a = addr(specials[i].s);
		const char *kind = ipv6_special_kind(&a);

		if (specials[i].kind)
			is_str(kind, specials[i].kind, "special '%s'", specials[i].s);
		else
			ok(!kind, "'%s' is not special (%s)", specials[i].s, kind ? kind : "NULL");
	}
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 32) % n;
}

/* Half the time any 16 bytes, else groups that are often zero or small, for runs of "::". */
static void random_address(struct in6 *a)
{
	bool plain = rnd(2);

	for (int i = 0; i < 8; i++) {
		uint32_t w = rnd(65536);

		if (!plain && rnd(2))
			w = 0;
		else if (!plain && rnd(3) == 0)
			w = rnd(16) << (4 * rnd(4));
		a->b[2 * i] = (uint8_t)(w >> 8);
		a->b[2 * i + 1] = (uint8_t)w;
	}
}

/* Our text for random addresses is inet_ntop()'s, except where glibc writes an IPv4 tail. */
static void test_random_format(void)
{
	int n = 0, tails = 0, wrong = 0;

	for (int i = 0; i < 50000; i++) {
		char ours[IPV6_STRLEN], theirs[INET6_ADDRSTRLEN];
		struct in6 a, b;

		random_address(&a);
		ipv6_format(&a, ours);
		n++;
		if (!inet_ntop(AF_INET6, &a, theirs, sizeof(theirs)))
			snprintf(theirs, sizeof(theirs), "(inet_ntop failed)");
		if (strchr(theirs, '.'))
			tails++;
		else if (strcmp(ours, theirs) != 0 && wrong++ == 0)
			printf("# '%s', glibc '%s'\n", ours, theirs);
		if ((strchr(ours, '.') || ipv6_parse(ours, strlen(ours), &b, NULL) < 0 ||
		     !same(&a, &b)) &&
		    wrong++ == 0)
			printf("# '%s' does not parse back\n", ours);
	}
	ok(wrong == 0, "%d random addresses print as inet_ntop and parse back (%d IPv4 tails)", n,
	   tails);
}

/* One group, with 0-3 extra leading zeros and letters in either case. */
static char *spell_group(char *p, unsigned w)
{
	static const char hex[] = "0123456789abcdef0123456789ABCDEF";
	int digits = w >= 0x1000 ? 4 : w >= 0x100 ? 3 : w >= 0x10 ? 2 : 1;

	digits += (int)rnd((uint32_t)(5 - digits));
	for (int shift = 4 * (digits - 1); shift >= 0; shift -= 4)
		*p++ = hex[((w >> shift) & 0xf) + 16 * rnd(2)];
	return p;
}

/* Any legal spelling of `a`: "::" in place of some (or none) of the zero groups. */
static void spell(const struct in6 *a, char buf[static 64])
{
	int from = -1, to = -1, i = 0;
	unsigned w[8];
	char *p = buf;

	for (int k = 0; k < 8; k++)
		w[k] = (unsigned)a->b[2 * k] << 8 | a->b[2 * k + 1];
	for (int k = (int)rnd(8), tries = 0; tries < 8 && rnd(4); tries++, k = (k + 1) % 8)
		if (w[k] == 0) {
			from = k;
			for (to = k + 1; to < 8 && w[to] == 0 && rnd(4); to++)
				;
			break;
		}
	while (i < 8) {
		if (i == from) {
			p += sprintf(p, "::");
			i = to;
			continue;
		}
		if (i > 0 && i != to)
			*p++ = ':';
		p = spell_group(p, w[i++]);
	}
	*p = '\0';
}

static void test_random_spellings(void)
{
	int n = 0, wrong = 0;

	for (int i = 0; i < 50000; i++) {
		struct in6 a, ours, theirs;
		char s[64];

		random_address(&a);
		spell(&a, s);
		n++;
		if ((inet_pton(AF_INET6, s, &theirs) != 1 || !same(&a, &theirs) ||
		     ipv6_parse(s, strlen(s), &ours, NULL) < 0 || !same(&a, &ours)) &&
		    wrong++ == 0)
			printf("# '%s'\n", s);
	}
	ok(wrong == 0, "%d random spellings: glibc and we read the address they were made from", n);
}

/* Random strings of hex digits and colons: we take exactly what inet_pton() takes. */
static void test_random_strings(void)
{
	static const char hex[] = "0123456789abcdefABCDEF";
	int n = 0, accepted = 0, wrong = 0;

	for (int i = 0; i < 200000; i++) {
		struct in6 ours, theirs;
		char s[128], *p = s;
		int groups = (int)rnd(11), r, r_glibc;

		p += sprintf(p, "%s", rnd(8) ? "" : rnd(2) ? ":" : "::");
		for (int g = 0; g < groups; g++) {
			for (uint32_t d = rnd(8) ? 1 + rnd(4) : rnd(6); d > 0; d--)
				*p++ = hex[rnd(sizeof(hex) - 1)];
			if (g + 1 < groups)
				p += sprintf(p, "%s", rnd(12) ? ":" : rnd(2) ? "::" : ":::");
		}
		p += sprintf(p, "%s", rnd(8) ? "" : rnd(2) ? ":" : "::");
		r = ipv6_parse(s, strlen(s), &ours, NULL);
		r_glibc = inet_pton(AF_INET6, s, &theirs);
		n++;
		accepted += r == 0;
		if ((r == 0) != (r_glibc == 1) || (r == 0 && !same(&ours, &theirs)))
			if (wrong++ == 0)
				printf("# '%s': ours %d, glibc %d\n", s, r, r_glibc);
	}
	ok(wrong == 0, "%d random strings (%d addresses): the same verdict as inet_pton", n,
	   accepted);
}

int main(void)
{
	test_valid();
	test_invalid();
	test_prefixes();
	test_containment();
	test_specials();
	test_random_format();
	test_random_spellings();
	test_random_strings();
	return tap_done();
}
