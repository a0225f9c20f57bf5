/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Addresses are kept as the 16 bytes in network order: 2001:db8::1 is 20 01 0d b8 00 .. 00 01. */
struct in6 {
	uint8_t b[16];
};

struct prefix6 {
	struct in6 addr;
	uint8_t len;
};

#define IPV6_STRLEN 40	  /* "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" + NUL */
#define PREFIX6_STRLEN 44 /* plus "/128" */

/*
 * RFC 4291 text and nothing else: 8 groups of 1-4 hex digits (either case) separated by ':',
 * at most one "::" standing for one or more zero groups. Refused: zone ids ("%eth0"), IPv4
 * tails ("::ffff:1.2.3.4"), brackets, blanks, a prefix length, an empty group, and anything
 * else. Hand-written as a small state machine, not inet_pton(): that accepts the dotted tails
 * and says nothing about why it refuses, and the submitter is owed a reason.
 *
 * Returns 0, or -EINVAL with *ret_reason (when ret_reason is not NULL) set to a short static
 * sentence without the token, for the caller to put after the quoted token.
 */
int ipv6_parse(const char *s, size_t len, struct in6 *ret, const char **ret_reason);

/*
 * "ADDR" (length 128) or "ADDR/LEN", LEN decimal 0-128 without leading zeros. Returns 0,
 * -EINVAL for syntax, or -EDOM when bits beyond LEN are set; then the reason names the masked
 * prefix ("host bits set; did you mean 2001:db8::/32"). That reason lives in a per-thread
 * buffer, valid until the next prefix6_parse() in the same thread; all others are static.
 */
int prefix6_parse(const char *s, size_t len, struct prefix6 *ret, const char **ret_reason);

/*
 * RFC 5952 canonical text: lower case, no leading zeros, the longest run of two or more zero
 * groups as "::" (the first of equal runs), a lone zero group written "0". Unlike inet_ntop(),
 * never an IPv4 tail (::ffff:0:0/96 and ::/96 come out in hex groups), so that what is printed
 * parses back with ipv6_parse(). Returns buf.
 */
char *ipv6_format(const struct in6 *a, char buf[static IPV6_STRLEN]);
/* "ADDR/LEN", or just the address when always_len is false and len is 128. */
char *prefix6_format(const struct prefix6 *p, bool always_len, char buf[static PREFIX6_STRLEN]);

/* Clear every bit of `a` after the first `len` (0-128). */
void ipv6_mask(struct in6 *a, uint8_t len);

bool prefix6_contains_addr(const struct prefix6 *p, const struct in6 *addr);

/* Is all of `inner` inside `outer`? */
static inline bool prefix6_contains(const struct prefix6 *outer, const struct prefix6 *inner)
{
	return inner->len >= outer->len && prefix6_contains_addr(outer, &inner->addr);
}

static inline bool prefix6_overlaps(const struct prefix6 *a, const struct prefix6 *b)
{
	return prefix6_contains(a, b) || prefix6_contains(b, a);
}

/*
 * Addresses no pinhole may ever point at, with the reason: unspecified, loopback, link-local,
 * site-local (deprecated), multicast, discard-only, reserved subnet anycast, and every form
 * that a router may carry on to IPv4 (IPv4-mapped, IPv4-compatible, IPv4-translated, NAT64,
 * Teredo, 6to4, ISATAP): a pinhole must end at an IPv6 host, never at a translator or tunnel.
 * NULL for any other. The documentation prefix 2001:db8::/32 is deliberately not special:
 * examples and tests use it as ordinary addresses.
 */
const char *ipv6_special_kind(const struct in6 *a);
