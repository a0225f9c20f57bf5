/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipv6.h"
#include "policy.h" /* IFNAME_MAX */

/*
 * The router's own IPv4 addresses as the kernel reports them (daemon/localaddr.c reads them
 * over rtnetlink): every address a packet would be delivered to locally or as a broadcast.
 * No forward may point at one of them, whatever the policy allows. Pure data: no I/O, no
 * logging.
 */

#define ROUTER_VIEW_MAX 65536 /* entries in one view; more is -E2BIG */
#define ROUTER_REASON_MAX 128 /* enough for any router_addr_reason() text */

/* In order of preference: when several entries match an address, the first kind wins. */
enum router_addr_kind {
	ROUTER_ADDRESS,	    /* an address assigned to one of the router's interfaces */
	ROUTER_BROADCAST,   /* a directed broadcast of a connected subnet (or IFA_BROADCAST) */
	ROUTER_LOCAL_ROUTE, /* a prefix the kernel delivers locally: a local, broadcast or anycast
			       route in any table that is not one of the above (AnyIP) */
};

struct router_addr {
	uint32_t addr; /* host order; LOCAL_ROUTE: the prefix, host bits clear */
	/*
	 * ADDRESS: the prefix length of the address's subnet. BROADCAST: the length of the
	 * subnet it is the broadcast of, or 32 when that subnet is unknown (a broadcast route
	 * or an IFA_BROADCAST outside the address's subnet). LOCAL_ROUTE: the route's length.
	 */
	uint8_t len;
	enum router_addr_kind kind;
	char ifname[IFNAME_MAX + 1]; /* "" when unknown */
};

/* An IPv6 address assigned to one of the router's interfaces: no pinhole may point at it. */
struct router_addr6 {
	struct in6 addr;
	uint8_t len; /* of its prefix */
	char ifname[IFNAME_MAX + 1]; /* "" when unknown */
};

/*
 * A set of entries. Canonical after router_view_sort(): sorted and without duplicates, so
 * that two views of the same kernel state compare equal.
 */
struct router_view {
	size_t n;
	struct router_addr *items;
	/* private */
	size_t allocated;
	size_t n_exact; /* when sorted: items[0, n_exact) are ADDRESS/BROADCAST, by address */
	bool sorted;
	/* the IPv6 addresses, apart: sorted (by address) with the rest */
	size_t n6, allocated6;
	struct router_addr6 *items6;
	/* the interface of the IPv4 default route (main table, lowest metric); "" for none */
	char default4[IFNAME_MAX + 1];
};

void router_view_init(struct router_view *v);
/* Frees the entries; the view is empty (and reusable) afterwards. */
void router_view_finish(struct router_view *v);

/*
 * Append one entry. `ifname` may be NULL or "" (unknown) and is cut at IFNAME_MAX bytes; a
 * LOCAL_ROUTE's host bits are cleared. Duplicates are dropped by router_view_sort(), which
 * keeps adding linear. Returns 0, -EINVAL (len > 32 or an unknown kind), -E2BIG (the view
 * holds ROUTER_VIEW_MAX entries already) or -ENOMEM.
 */
int router_view_add(struct router_view *v, enum router_addr_kind kind, uint32_t addr,
		    uint8_t len, const char *ifname);

/*
 * An address assigned to an interface: ADDRESS, plus the directed broadcast of its subnet
 * (addr | ~mask) as BROADCAST when len < 31 (a /31 or /32 has no broadcast address).
 * Returns what router_view_add() returns.
 */
int router_view_add_address(struct router_view *v, uint32_t addr, uint8_t len,
			    const char *ifname);

/* An IPv6 address of an interface. Returns 0, -EINVAL (len > 128), -E2BIG or -ENOMEM. */
int router_view_add6(struct router_view *v, const struct in6 *addr, uint8_t len,
		     const char *ifname);

/* The entry that makes `addr` one of the router's own IPv6 addresses, or NULL. */
const struct router_addr6 *router_view_match6(const struct router_view *v, const struct in6 *addr);

/* "the router's own address (on wan0)", or without " (on X)" when the interface is unknown. */
void router_addr6_reason(const struct router_addr6 *a, char *buf, size_t size);

/*
 * The entry whose subnet's Subnet-Router anycast address `addr` is (RFC 4291 2.6.1: the
 * prefix with every host bit zero, which a forwarding router answers itself; not for /127
 * and /128, RFC 6164), or NULL. Its reason: router_anycast6_reason().
 */
const struct router_addr6 *router_view_anycast6(const struct router_view *v, const struct in6 *addr);
void router_anycast6_reason(const struct router_addr6 *a, char *buf, size_t size);

/*
 * The IPv4 addresses (ADDRESS entries) assigned to interface `ifname`: at most `max` into
 * `out` (NULL with 0: only count), in the view's order. Returns how many there are, which
 * may be more than `max`.
 */
size_t router_view_addresses_on(const struct router_view *v, const char *ifname, uint32_t *out,
				size_t max);

/* Sort into the canonical order and drop duplicates. */
void router_view_sort(struct router_view *v);

/* Same entries in the same order: compare two sorted views. */
bool router_view_equal(const struct router_view *a, const struct router_view *b);

/* A deep copy into `ret` (not initialized before). Returns 0 or -ENOMEM. */
int router_view_copy(const struct router_view *src, struct router_view *ret);

/*
 * The entry that makes `addr` the router's, or NULL: ADDRESS and BROADCAST match the very
 * address, LOCAL_ROUTE when its prefix contains it. When several match: ADDRESS before
 * BROADCAST before LOCAL_ROUTE, the longest route prefix among routes, then the canonical
 * order. O(log n) plus one pass over the LOCAL_ROUTE entries on a sorted view; an unsorted
 * view gives the same answer with a linear scan.
 */
const struct router_addr *router_view_match(const struct router_view *v, uint32_t addr);

/*
 * Why an address that `a` matched is refused: the words after "destination X is ", e.g.
 * "the router's own address (on lan0)",
 * "a broadcast address of the router's subnet 192.168.1.0/24 (on lan0)",
 * "delivered locally by the router (local route 10.0.0.0/8 on lo)".
 * Without an interface name the " (on X)" / " on X" part is left out. A BROADCAST of an
 * unknown subnet (len 32) reads "a broadcast address of the router (on lan0)".
 */
void router_addr_reason(const struct router_addr *a, char *buf, size_t size);
