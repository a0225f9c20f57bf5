/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipv6.h"

/*
 * The elements of the pinhole set: (IPv6 host, protocol, port range), kept sorted (by
 * address, protocol, ports) in one array, so that lookups are a binary search and rendering
 * is in a stable order. Pure data.
 */
struct pin_key {
	struct in6 addr;
	uint8_t proto;
	uint16_t lo, hi;
};

struct pinset {
	size_t n, allocated;
	struct pin_key *items;
};

void pinset_init(struct pinset *s);
void pinset_finish(struct pinset *s);
void pinset_clear(struct pinset *s);
/* Add `k` (nothing when present): 0 or -ENOMEM. */
int pinset_add(struct pinset *s, const struct pin_key *k);
void pinset_remove(struct pinset *s, const struct pin_key *k);
bool pinset_has(const struct pinset *s, const struct pin_key *k);
/* `dst` becomes a copy of `src` (or the union of `src` and `also`, when not NULL). */
int pinset_copy(struct pinset *dst, const struct pinset *src, const struct pinset *also);
