/* SPDX-License-Identifier: MIT */
/* The router's own addresses: matching, precedence, reasons, the canonical order. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"
#include "tap.h"

static uint32_t ip(const char *s)
{
	uint32_t a;

	if (ipv4_parse(s, strlen(s), &a) < 0)
		abort();
	return a;
}

static void add(struct router_view *v, enum router_addr_kind kind, const char *addr, uint8_t len,
		const char *ifname)
{
	if (router_view_add(v, kind, ip(addr), len, ifname) < 0)
		abort();
}

static void add_address(struct router_view *v, const char *addr, uint8_t len, const char *ifname)
{
	if (router_view_add_address(v, ip(addr), len, ifname) < 0)
		abort();
}

/* Whether `v` equals the view of this one entry alone. */
static bool equals_one(const struct router_view *v, enum router_addr_kind kind, const char *addr,
		       uint8_t len, const char *ifname)
{
	struct router_view one;
	bool same;

	router_view_init(&one);
	add(&one, kind, addr, len, ifname);
	router_view_sort(&one);
	same = router_view_equal(v, &one);
	router_view_finish(&one);
	return same;
}

/* The reason for `addr`, or "(none)" when the router does not claim it. */
static const char *reason(const struct router_view *v, const char *addr)
{
	static char buf[ROUTER_REASON_MAX];
	const struct router_addr *a = router_view_match(v, ip(addr));

	if (!a)
		return "(none)";
	router_addr_reason(a, buf, sizeof(buf));
	return buf;
}

static void test_empty(void)
{
	struct router_view v, w;

	router_view_init(&v);
	ok(!router_view_match(&v, ip("192.168.1.1")), "an empty view matches nothing");
	router_view_sort(&v);
	ok(!router_view_match(&v, ip("0.0.0.0")) && v.n == 0, "sorted, still nothing");
	is_int(router_view_copy(&v, &w), 0, "an empty view copies");
	ok(router_view_equal(&v, &w) && w.n == 0 && !w.items, "and equals its copy");
	router_view_finish(&w);
	router_view_finish(&v);
	ok(v.n == 0 && !v.items, "finish leaves an empty view");
}

static void test_reasons(void)
{
	struct router_view v;

	router_view_init(&v);
	add_address(&v, "192.168.1.1", 24, "lan0");
	add(&v, ROUTER_LOCAL_ROUTE, "10.0.0.0", 8, "lo");
	add(&v, ROUTER_BROADCAST, "172.16.5.5", 32, "lan2");
	router_view_sort(&v);
	is_str(reason(&v, "192.168.1.1"), "the router's own address (on lan0)", "address");
	is_str(reason(&v, "192.168.1.255"),
	       "a broadcast address of the router's subnet 192.168.1.0/24 (on lan0)",
	       "directed broadcast");
	is_str(reason(&v, "10.1.2.3"),
	       "delivered locally by the router (local route 10.0.0.0/8 on lo)", "local route");
	is_str(reason(&v, "172.16.5.5"), "a broadcast address of the router (on lan2)",
	       "broadcast of an unknown subnet");
	is_str(reason(&v, "192.168.1.2"), "(none)", "another host of the subnet is not ours");
	is_str(reason(&v, "192.168.1.0"), "(none)", "nor the network address");
	router_view_finish(&v);

	router_view_init(&v);
	add_address(&v, "192.168.7.1", 24, NULL);
	add(&v, ROUTER_LOCAL_ROUTE, "10.0.0.0", 8, "");
	router_view_sort(&v);
	is_str(reason(&v, "192.168.7.1"), "the router's own address", "address, no interface");
	is_str(reason(&v, "192.168.7.255"),
	       "a broadcast address of the router's subnet 192.168.7.0/24",
	       "broadcast, no interface");
	is_str(reason(&v, "10.9.9.9"), "delivered locally by the router (local route 10.0.0.0/8)",
	       "local route, no interface");
	router_view_finish(&v);
}

static void test_precedence(void)
{
	struct router_view v;

	router_view_init(&v);
	add(&v, ROUTER_LOCAL_ROUTE, "10.0.0.0", 8, "lo");
	add(&v, ROUTER_LOCAL_ROUTE, "10.1.0.0", 16, "lo");
	add_address(&v, "10.1.2.3", 24, "lan1");
	add_address(&v, "192.168.1.1", 24, "lan0");
	add(&v, ROUTER_ADDRESS, "192.168.1.255", 32, "lan9"); /* odd, but an address wins */
	add(&v, ROUTER_LOCAL_ROUTE, "192.168.1.255", 32, "lo");
	for (int pass = 0; pass < 2; pass++) {
		const char *how = pass ? "sorted" : "unsorted";

		is_str(reason(&v, "10.1.2.3"), "the router's own address (on lan1)",
		       "%s: an address inside a local route is the address", how);
		is_str(reason(&v, "10.1.2.255"),
		       "a broadcast address of the router's subnet 10.1.2.0/24 (on lan1)",
		       "%s: a broadcast inside a local route is the broadcast", how);
		is_str(reason(&v, "10.1.9.9"),
		       "delivered locally by the router (local route 10.1.0.0/16 on lo)",
		       "%s: the longest local route", how);
		is_str(reason(&v, "10.2.0.1"),
		       "delivered locally by the router (local route 10.0.0.0/8 on lo)",
		       "%s: the shorter one elsewhere", how);
		is_str(reason(&v, "192.168.1.255"), "the router's own address (on lan9)",
		       "%s: address before broadcast before local route", how);
		router_view_sort(&v);
	}
	router_view_finish(&v);
}

static void test_small_subnets(void)
{
	struct router_view v;

	router_view_init(&v);
	add_address(&v, "10.31.0.0", 31, "p2p0");
	is_int(v.n, 1, "a /31 has no broadcast address");
	add_address(&v, "10.32.0.1", 32, "lo");
	is_int(v.n, 2, "nor has a /32");
	add_address(&v, "10.30.0.1", 30, "lan3");
	is_int(v.n, 4, "a /30 has one");
	router_view_sort(&v);
	is_str(reason(&v, "10.31.0.0"), "the router's own address (on p2p0)", "/31 address");
	is_str(reason(&v, "10.31.0.1"), "(none)", "the /31 peer is not the router's");
	is_str(reason(&v, "10.32.0.1"), "the router's own address (on lo)", "/32 address");
	is_str(reason(&v, "10.32.0.255"), "(none)", "no broadcast around a /32");
	is_str(reason(&v, "10.30.0.3"),
	       "a broadcast address of the router's subnet 10.30.0.0/30 (on lan3)",
	       "/30 broadcast");
	is_str(reason(&v, "10.30.0.2"), "(none)", "the /30 peer is not the router's");
	router_view_finish(&v);
}

static void test_prefix_edges(void)
{
	struct router_view v;

	router_view_init(&v);
	add(&v, ROUTER_LOCAL_ROUTE, "10.77.1.2", 16, "lo"); /* host bits: cleared */
	add(&v, ROUTER_LOCAL_ROUTE, "10.88.0.1", 32, "lo");
	router_view_sort(&v);
	is_int(v.items[0].addr, ip("10.77.0.0"), "a route's host bits are cleared");
	ok(router_view_match(&v, ip("10.77.0.0")) && router_view_match(&v, ip("10.77.255.255")),
	   "both ends of a /16 are inside");
	ok(!router_view_match(&v, ip("10.76.255.255")) && !router_view_match(&v, ip("10.78.0.0")),
	   "one past either end is outside");
	is_str(reason(&v, "10.88.0.1"),
	       "delivered locally by the router (local route 10.88.0.1/32 on lo)",
	       "a /32 route matches its address");
	ok(!router_view_match(&v, ip("10.88.0.0")) && !router_view_match(&v, ip("10.88.0.2")),
	   "and nothing next to it");
	add(&v, ROUTER_LOCAL_ROUTE, "0.0.0.0", 0, "lo");
	router_view_sort(&v);
	is_str(reason(&v, "203.0.113.9"),
	       "delivered locally by the router (local route 0.0.0.0/0 on lo)",
	       "a /0 local route takes everything");
	is_str(reason(&v, "10.88.0.1"),
	       "delivered locally by the router (local route 10.88.0.1/32 on lo)",
	       "but the longest prefix names the reason");
	is_int(router_view_add(&v, ROUTER_ADDRESS, 1, 33, "x"), -EINVAL,
	       "a length over 32 is refused");
	is_int(router_view_add(&v, (enum router_addr_kind)7, 1, 8, "x"), -EINVAL,
	       "an unknown kind is refused");
	router_view_finish(&v);
}

static void test_canonical(void)
{
	struct router_view a, b, c;

	router_view_init(&a);
	router_view_init(&b);
	add_address(&a, "192.168.1.1", 24, "lan0");
	add_address(&a, "192.168.1.2", 24, "lan0"); /* a secondary: same broadcast */
	add(&a, ROUTER_LOCAL_ROUTE, "127.0.0.0", 8, "lo");
	add_address(&a, "127.0.0.1", 8, "lo");
	add(&b, ROUTER_LOCAL_ROUTE, "127.0.0.0", 8, "lo");
	add_address(&b, "127.0.0.1", 8, "lo");
	add_address(&b, "192.168.1.2", 24, "lan0");
	add(&b, ROUTER_LOCAL_ROUTE, "127.0.0.0", 8, "lo"); /* the same route in two tables */
	add_address(&b, "192.168.1.1", 24, "lan0");
	is_int(a.n, 7, "entries before sorting");
	router_view_sort(&a);
	router_view_sort(&b);
	is_int(a.n, 6, "the shared broadcast is kept once");
	is_int(b.n, 6, "so is the duplicate route");
	ok(router_view_equal(&a, &b), "views built in different orders compare equal");
	ok(a.items[0].kind == ROUTER_ADDRESS && a.items[0].addr == ip("127.0.0.1") &&
		   a.items[a.n - 1].kind == ROUTER_LOCAL_ROUTE,
	   "addresses by value first, routes last");
	router_view_sort(&a);
	ok(router_view_equal(&a, &b), "sorting twice changes nothing");

	is_int(router_view_copy(&a, &c), 0, "copy");
	ok(router_view_equal(&a, &c), "the copy is equal");
	router_view_finish(&a);
	is_str(reason(&c, "192.168.1.255"),
	       "a broadcast address of the router's subnet 192.168.1.0/24 (on lan0)",
	       "the copy outlives its source");
	add(&c, ROUTER_ADDRESS, "10.0.0.1", 24, "lan1");
	router_view_sort(&c);
	ok(!router_view_equal(&b, &c), "one more entry: not equal");
	router_view_finish(&c);

	router_view_init(&a);
	add(&a, ROUTER_ADDRESS, "10.0.0.1", 24, "lan1");
	router_view_sort(&a);
	ok(!equals_one(&a, ROUTER_ADDRESS, "10.0.0.1", 24, "lan2"), "another interface: not equal");
	ok(!equals_one(&a, ROUTER_BROADCAST, "10.0.0.1", 24, "lan1"), "another kind: not equal");
	ok(!equals_one(&a, ROUTER_ADDRESS, "10.0.0.1", 16, "lan1"), "another length: not equal");
	router_view_finish(&a);
	router_view_finish(&b);
}

static void test_names(void)
{
	struct router_view v;

	router_view_init(&v);
	add(&v, ROUTER_ADDRESS, "10.0.0.1", 24, "averyveryverylongname");
	is_str(v.items[0].ifname, "averyveryverylo", "a long name is cut at IFNAME_MAX");
	add(&v, ROUTER_ADDRESS, "10.0.0.2", 24, NULL);
	is_str(v.items[1].ifname, "", "no name is \"\"");
	router_view_finish(&v);
}

static void test_limits(void)
{
	struct router_view v;
	int r = 0;
	bool found = true;

	router_view_init(&v);
	for (uint32_t i = 0; i < ROUTER_VIEW_MAX - 1 && r == 0; i++)
		r = router_view_add(&v, i % 3 ? ROUTER_ADDRESS : ROUTER_BROADCAST,
				    0x0a000000u + i * 7919u, 24, "lan0");
	is_int(r, 0, "ROUTER_VIEW_MAX - 1 addresses fit");
	is_int(router_view_add(&v, ROUTER_LOCAL_ROUTE, ip("192.168.0.0"), 16, "lo"), 0,
	       "and a route: the view is full");
	is_int(router_view_add(&v, ROUTER_ADDRESS, 1, 32, "x"), -E2BIG, "one more is -E2BIG");
	router_view_sort(&v);
	is_int(v.n, ROUTER_VIEW_MAX, "nothing was lost by sorting");
	for (uint32_t i = 0; i < 10000; i++)
		found &= router_view_match(&v, 0x0a000000u + i * 7919u) != NULL;
	ok(found, "10,000 lookups in a full view find every address");
	ok(router_view_match(&v, ip("192.168.3.3")) &&
		   router_view_match(&v, ip("192.168.3.3"))->kind == ROUTER_LOCAL_ROUTE,
	   "and the route");
	ok(!router_view_match(&v, 0x0a000001u), "and nothing else");
	router_view_finish(&v);
}

static struct in6 ip6(const char *s)
{
	struct in6 a;

	if (ipv6_parse(s, strlen(s), &a, NULL) < 0)
		abort();
	return a;
}

static void test_ipv6(void)
{
	struct router_view v, c;
	struct in6 a = ip6("2001:db8:ff::7"), b = ip6("2001:db8:1::1"), other = ip6("2001:db8:1::2");
	char why[ROUTER_REASON_MAX];

	router_view_init(&v);
	is_int(router_view_add6(&v, &a, 64, "wan0"), 0, "an IPv6 address is added");
	is_int(router_view_add6(&v, &b, 64, "br-lan"), 0, "another");
	is_int(router_view_add6(&v, &a, 64, "wan0"), 0, "a duplicate");
	is_int(router_view_add6(&v, &a, 129, "wan0"), -EINVAL, "a length over 128 is refused");
	router_view_sort(&v);
	is_int(v.n6, 2, "sorting drops the duplicate");
	ok(router_view_match6(&v, &a) && router_view_match6(&v, &b), "both addresses match");
	ok(!router_view_match6(&v, &other), "a neighbour in the subnet does not");
	ok(!router_view_match(&v, 0), "the IPv4 side stays empty");
	router_addr6_reason(router_view_match6(&v, &a), why, sizeof(why));
	is_str(why, "the router's own address (on wan0)", "the reason names the interface");
	{
		struct in6 any_b = ip6("2001:db8:1::"), any_a = ip6("2001:db8:ff::"),
			   near = ip6("2001:db8:1::1:0"), wide = ip6("2001:db8::");
		const struct router_addr6 *m = router_view_anycast6(&v, &any_b);
		ok(m && strcmp(m->ifname, "br-lan") == 0, "the Subnet-Router anycast address of br-lan's /64 matches");
		if (m) {
			router_anycast6_reason(m, why, sizeof(why));
			is_str(why, "the Subnet-Router anycast address of the router's subnet 2001:db8:1::/64 (on br-lan)",
			       "its reason names the subnet and the interface");
		}
		ok(router_view_anycast6(&v, &any_a) != NULL, "so does wan0's");
		ok(!router_view_anycast6(&v, &near) && !router_view_anycast6(&v, &wide) &&
			   !router_view_anycast6(&v, &other) && !router_view_anycast6(&v, &b),
		   "a host of the subnet, a shorter prefix's zero address and the addresses themselves do not");
	}
	is_int(router_view_copy(&v, &c), 0, "copied");
	ok(router_view_equal(&v, &c), "a copy is equal");
	router_view_finish(&c);
	router_view_init(&c);
	if (router_view_add6(&c, &b, 64, "br-lan") < 0)
		abort();
	router_view_sort(&c);
	ok(!router_view_equal(&v, &c), "a view without one IPv6 address differs");
	router_view_finish(&c);
	router_view_finish(&v);

	/* point-to-point links (/127, RFC 6164) and single addresses have no anycast address */
	router_view_init(&v);
	{
		struct in6 p2p = ip6("2001:db8:9::1"), zero = ip6("2001:db8:9::"), host = ip6("2001:db8:8::5"),
			   hostnet = ip6("2001:db8:8::4");
		if (router_view_add6(&v, &p2p, 127, "ppp0") < 0 || router_view_add6(&v, &host, 128, "lo") < 0)
			abort();
		router_view_sort(&v);
		ok(!router_view_anycast6(&v, &zero) && !router_view_anycast6(&v, &hostnet),
		   "no anycast address on a /127 or a /128");
	}
	router_view_finish(&v);
}

/* The addresses of one interface, for a public address that follows the WAN interface. */
static void test_addresses_on(void)
{
	struct router_view v;
	uint32_t out[2];

	router_view_init(&v);
	add_address(&v, "203.0.113.9", 24, "wan0");
	add_address(&v, "192.168.1.1", 24, "lan0");
	add_address(&v, "198.51.100.2", 32, "wan0");
	add_address(&v, "203.0.113.10", 24, "wan0");
	add(&v, ROUTER_LOCAL_ROUTE, "10.0.0.0", 8, "wan0");
	router_view_sort(&v);
	is_int(router_view_addresses_on(&v, "wan0", out, 2), 3,
	       "three addresses on wan0 (not its broadcast, not a local route)");
	ok(out[0] == ip("198.51.100.2") && out[1] == ip("203.0.113.9"),
	   "the first two, in address order");
	is_int(router_view_addresses_on(&v, "lan0", out, 2), 1, "one on lan0");
	is_int(router_view_addresses_on(&v, "ppp0", out, 2), 0, "none on an interface without any");
	is_int(router_view_addresses_on(&v, "wan", out, 2), 0, "a name's prefix is not the name");
	router_view_finish(&v);
}

int main(void)
{
	test_addresses_on();
	test_ipv6();
	test_empty();
	test_reasons();
	test_precedence();
	test_small_subnets();
	test_prefix_edges();
	test_canonical();
	test_names();
	test_limits();
	return tap_done();
}
