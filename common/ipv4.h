/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Addresses are kept in host byte order: 192.168.1.240 is 0xc0a801f0. */
struct prefix4 {
	uint32_t addr;
	uint8_t len;
};

#define IPV4_STRLEN 16	 /* "255.255.255.255" + NUL */
#define PREFIX4_STRLEN 19 /* plus "/32" */

/*
 * Exactly four decimal octets 0-255 without leading zeros. No octal, hex or short forms:
 * deliberately not inet_aton(). Returns 0 or -EINVAL.
 */
int ipv4_parse(const char *s, size_t len, uint32_t *ret);

/* "A.B.C.D" or "A.B.C.D/LEN". -EINVAL for syntax, -EDOM when host bits are set. */
int prefix4_parse(const char *s, size_t len, struct prefix4 *ret);

char *ipv4_format(uint32_t addr, char buf[static IPV4_STRLEN]);
/* "A.B.C.D/LEN", or just the address when full_len is false and len is 32. */
char *prefix4_format(const struct prefix4 *p, bool always_len, char buf[static PREFIX4_STRLEN]);

static inline uint32_t prefix4_mask(uint8_t len)
{
	return len == 0 ? 0 : (uint32_t)0xffffffffu << (32 - len);
}

static inline bool prefix4_contains_addr(const struct prefix4 *p, uint32_t addr)
{
	return (addr & prefix4_mask(p->len)) == p->addr;
}

/* Is all of `inner` inside `outer`? */
static inline bool prefix4_contains(const struct prefix4 *outer, const struct prefix4 *inner)
{
	return inner->len >= outer->len && prefix4_contains_addr(outer, inner->addr);
}

static inline bool prefix4_overlaps(const struct prefix4 *a, const struct prefix4 *b)
{
	return prefix4_contains(a, b) || prefix4_contains(b, a);
}

/* Addresses no forward may ever point at: this-network, loopback, multicast, reserved, broadcast. */
const char *ipv4_special_kind(uint32_t addr);
