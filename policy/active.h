/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fragment.h"
#include "policy.h"

/*
 * The set of active (accepted, live) fragments, indexed by (user, fragment name) and by the
 * public (protocol, port) each one claims. Pure data: no I/O.
 */
struct active_entry {
	char user[NAME_MAX_USER + 1];
	uint32_t uid;
	struct fragment *frag; /* owned by the entry */
	int64_t accepted;      /* unix time (ms) of the last acceptance */
	int64_t expires;       /* unix time (ms), 0 for never */
	/* private */
	size_t index;
	struct active_entry *hash_next;
};

struct active_set;

struct active_set *active_set_new(void);
/* Frees the set and every entry in it. */
void active_set_free(struct active_set *a);

/* A new entry owning `frag`. */
struct active_entry *active_entry_new(const char *user, uint32_t uid, struct fragment *frag);
void active_entry_free(struct active_entry *e);

/*
 * Insert `e`. An entry of the same user and name must not be in the set (remove it first),
 * and its claims must not conflict (judge first): returns -EEXIST otherwise, or -ENOMEM.
 */
int active_set_insert(struct active_set *a, struct active_entry *e);
/* Take `e` out of the set; the caller owns it again. */
void active_set_remove(struct active_set *a, struct active_entry *e);

struct active_entry *active_set_find(const struct active_set *a, const char *user, const char *name);
/* Who forwards public (proto, port)? NULL for nobody. */
const struct active_entry *active_set_claim(const struct active_set *a, uint8_t proto, uint16_t port);

/*
 * Who, other than `except`, opens a pinhole to `addr` with `proto` on a port of [lo, hi]?
 * NULL for nobody; *ret_port (when not NULL) is the first shared port. A scan of the set.
 */
const struct active_entry *active_set_pinhole_owner(const struct active_set *a,
						    const struct in6 *addr, uint8_t proto,
						    uint16_t lo, uint16_t hi,
						    const struct active_entry *except,
						    uint16_t *ret_port);
size_t active_set_size(const struct active_set *a);
/* Entries in no particular order; valid until the set changes. */
struct active_entry *active_set_at(const struct active_set *a, size_t i);
/* A new array of all entries sorted by (user, name); free() it. NULL when out of memory. */
struct active_entry **active_set_sorted(const struct active_set *a);
/*
 * A new array of all entries, oldest acceptance first (then uid, then name): the order in
 * which start-up and a reload judge them again, so both keep the same fragments when a
 * policy shrinks. free() it; NULL when out of memory.
 */
struct active_entry **active_set_by_acceptance(const struct active_set *a);

/* Per-user totals over the active set. */
size_t active_set_user_fragments(const struct active_set *a, const char *user);
size_t active_set_user_rules(const struct active_set *a, const char *user);
size_t active_set_users(const struct active_set *a);
size_t active_set_rules(const struct active_set *a);
