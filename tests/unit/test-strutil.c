/* SPDX-License-Identifier: MIT */
/* Numbers, addresses, names and quoting: the helpers every parser leans on. */
#include <errno.h>

#include "ipv4.h"
#include "macro.h"
#include "strutil.h"
#include "tap.h"

static void test_numbers(void)
{
	static const struct {
		const char *s;
		uint32_t min, max;
		int r;
		uint32_t v;
	} cases[] = {
		{ "0", 0, 10, 0, 0 },	     { "10", 0, 10, 0, 10 },
		{ "11", 0, 10, -ERANGE, 0 }, { "007", 0, 10, -EINVAL, 0 },
		{ "", 0, 10, -EINVAL, 0 },   { "+1", 0, 10, -EINVAL, 0 },
		{ "-1", 0, 10, -EINVAL, 0 }, { " 1", 0, 10, -EINVAL, 0 },
		{ "1 ", 0, 10, -EINVAL, 0 }, { "0x1", 0, 10, -EINVAL, 0 },
		{ "4294967295", 0, UINT32_MAX, 0, UINT32_MAX },
		{ "4294967296", 0, UINT32_MAX, -ERANGE, 0 },
		{ "99999999999999999999", 0, UINT32_MAX, -ERANGE, 0 },
		{ "1e3", 0, 10000, -EINVAL, 0 },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		uint32_t v = 12345;
		int r = parse_uint32(cases[i].s, strlen(cases[i].s), cases[i].min, cases[i].max, &v);
		ok(r == cases[i].r && (r < 0 ? v == 12345 : v == cases[i].v), "parse_uint32 '%s'",
		   cases[i].s);
	}
	/* A length, not a NUL, ends the number. */
	uint32_t v;
	ok(parse_uint32("123456", 2, 0, 100, &v) == 0 && v == 12, "bounded by length");

	uint16_t lo, hi;
	ok(parse_port_range("1-65535", 7, &lo, &hi) == 0 && lo == 1 && hi == 65535, "full range");
	is_int(parse_port_range("5-4", 3, &lo, &hi), -EDOM, "reversed range");
	is_int(parse_port_range("0-4", 3, &lo, &hi), -ERANGE, "port 0");
	is_int(parse_port_range("-4", 2, &lo, &hi), -EINVAL, "no start");
	is_int(parse_port_range("4-", 2, &lo, &hi), -EINVAL, "no end");
}

static void test_addresses(void)
{
	static const struct {
		const char *s;
		int r;
		uint32_t addr;
		uint8_t len;
	} cases[] = {
		{ "0.0.0.0", 0, 0, 32 },
		{ "255.255.255.255", 0, 0xffffffffu, 32 },
		{ "192.168.1.240", 0, 0xc0a801f0u, 32 },
		{ "10.0.0.0/8", 0, 0x0a000000u, 8 },
		{ "0.0.0.0/0", 0, 0, 0 },
		{ "10.0.0.1/8", -EDOM, 0, 0 },
		{ "10.0.0.0/33", -EINVAL, 0, 0 },
		{ "10.0.0.0/08", -EINVAL, 0, 0 },
		{ "10.0.0.0/", -EINVAL, 0, 0 },
		{ "010.0.0.0", -EINVAL, 0, 0 },
		{ "1.2.3", -EINVAL, 0, 0 },
		{ "1.2.3.4.5", -EINVAL, 0, 0 },
		{ "1.2.3.256", -EINVAL, 0, 0 },
		{ "1.2.3.-1", -EINVAL, 0, 0 },
		{ "1.2.3.4 ", -EINVAL, 0, 0 },
		{ "0x7f.0.0.1", -EINVAL, 0, 0 },
		{ "", -EINVAL, 0, 0 },
		{ "....", -EINVAL, 0, 0 },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		struct prefix4 p = { 0 };
		int r = prefix4_parse(cases[i].s, strlen(cases[i].s), &p);
		ok(r == cases[i].r && (r < 0 || (p.addr == cases[i].addr && p.len == cases[i].len)),
		   "prefix4_parse '%s'", cases[i].s);
	}
	char buf[PREFIX4_STRLEN];
	struct prefix4 p = { 0xc0a80100u, 24 };
	is_str(prefix4_format(&p, false, buf), "192.168.1.0/24", "format prefix");
	p.len = 32;
	is_str(prefix4_format(&p, false, buf), "192.168.1.0", "format host");
	is_str(prefix4_format(&p, true, buf), "192.168.1.0/32", "format host with length");
	struct prefix4 net = { 0xc0a80100u, 24 }, host = { 0xc0a801f0u, 32 }, other = { 0xc0a80200u, 24 };
	ok(prefix4_contains(&net, &host) && !prefix4_contains(&host, &net), "containment");
	ok(prefix4_overlaps(&net, &host) && !prefix4_overlaps(&net, &other), "overlap");
	ok(ipv4_special_kind(0x7f000001u) && ipv4_special_kind(0xe0000001u) &&
		   ipv4_special_kind(0xffffffffu) && ipv4_special_kind(0x00000001u) &&
		   !ipv4_special_kind(0xc0a80101u),
	   "special addresses");
}

static void test_quote(void)
{
	char buf[STR_QUOTE_MAX];

	is_str(str_quote(buf, sizeof(buf), "abc", 3), "'abc'", "plain");
	is_str(str_quote(buf, sizeof(buf), "a'b\\c\n\x01\xff", 8), "'a\\x27b\\x5cc\\x0a\\x01\\xff'",
	       "escapes");
	is_str(str_quote(buf, sizeof(buf), "0123456789012345678901234567890123456789XYZ", 43),
	       "'0123456789012345678901234567890123456789'...", "cut after 40 bytes");
	char tiny[4];
	is_str(str_quote(tiny, sizeof(tiny), "abcdef", 6), "'ab", "never overruns");
}

static void test_items(void)
{
	const char *list = " 80, 443 ,,30000-30100 ", *cur = list, *item;
	const char *end = list + strlen(list);
	const char *want[] = { "80", "443", "", "30000-30100" };
	size_t len, n = 0;

	while (str_next_item(&cur, end, ',', &item, &len)) {
		ok(n < 4 && len == strlen(want[n]) && memcmp(item, want[n], len) == 0,
		   "list item %zu", n);
		n++;
	}
	is_int(n, 4, "four items, the empty one included");
}

static void test_names(void)
{
	ok(fragment_name_valid("k8s-a.b_c", 9), "a name of the whole alphabet");
	ok(!fragment_name_valid("-a", 2), "not starting with '-'");
	ok(!fragment_name_valid("", 0), "not empty");
	ok(fragment_name_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
			       64),
	   "64 characters");
	ok(!fragment_name_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
				65),
	   "not 65");
	ok(!fragment_name_valid("a\0b", 3), "no NUL inside the length");
	ok(!fragment_name_valid("ab\0", 3), "nor at its end");
}

int main(void)
{
	test_numbers();
	test_addresses();
	test_quote();
	test_items();
	test_names();
	return tap_done();
}
