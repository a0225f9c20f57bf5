/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "fragment.h"
#include "hashmap.h"
#include "pinset.h"
#include "policy.h"

/*
 * The daemon's nftables table, as a model of elements, and the text that builds or changes
 * it. Pure: renders text from validated numbers only, never touches the kernel.
 *
 * The packet path is a constant set of rules over two maps and three sets, whatever the number
 * of forwards and pinholes (7 rules, 10 with hairpin, which adds the set `wan4`): single public ports in `dnat_port`
 * (protocol . port -> address . port), port ranges in the interval map `dnat_range` (ports .
 * protocol -> address, same port), and the public ports (or ranges) whose connections are masqueraded in
 * the interval sets `masq_tcp` and `masq_udp`; IPv6 pinholes (host . protocol . port) to one
 * port in the hash set `pinholes`, to a port range in the interval set `pinhole_ranges`, each
 * matched by one rule of the `pinhole` chain on the forward hook for new connections arriving
 * on the WAN interface. Single ports apart from ranges as for the forwards: a change of an
 * interval set costs in proportion to the elements it holds (`nft -f` of one replacement,
 * delete + add: 12.3 ms at 10 elements, 23.5 ms at 10,000), one of a hash set does not (12.4
 * and 12.9 ms).
 *
 * Every connection the table admits, forwarded (prerouting, with the translation) or through
 * a pinhole, gets the [wan] mark bits in its conntrack mark: an accept here cannot override a
 * drop in the administrator's own forward chain, so that chain admits both with one rule,
 * ruleset_admin_rule().
 *
 * A fragment's `masquerade PREFIX` applies only to the connections that fragment's own
 * forwards translate to an address inside PREFIX. Public ports are claimed by one active
 * fragment at a time (the engine guarantees it), so the public port names the forward, and
 * so the fragment: masquerading by the original destination port of our own translations
 * touches no other user's forward and no translation made outside this table.
 *
 * dnat_range is keyed port first: the kernel keeps a concatenation with intervals in a pipapo
 * set, whose lookup matches field by field, and every element of one protocol matches a
 * protocol-first key's first field, so each lookup walked all of them (about 34 us at 10,000
 * ranges); the port first leaves the protocol only the few elements whose ports matched
 * (tests/bench/analysis.md, "Connection rate at 10,000 mappings").
 */

/*
 * The conntrack label bit marking every connection this table translated: set in the same
 * rule just before the dnat, and only when the key is one of ours. The postrouting rules
 * masquerade only connections carrying it, and the `guard` chain (input hook) drops any such
 * connection that would be delivered to a local socket, a second line of defence should the
 * engine ever let a target that is the router itself through.
 * A label and not a mark: `ct label set` changes only this bit of the 128-bit label bitmap,
 * so the administrator's own ct marks (and other label bits) stay untouched. Bit 127 is
 * reserved for natwarden.
 */
#define RULESET_CT_LABEL 127

/*
 * The comment of the table natwardend made: the daemon replaces a table of its name only
 * when it carries exactly this comment (nft_table_owner()), never a table someone else made.
 */
#define RULESET_TABLE_COMMENT "natwarden: managed by natwardend, do not edit"

#define RULESET_WAN4_MAX 16 /* public IPv4 addresses hairpin matches; more are left out */

/*
 * The table's settings. Hairpin matches the public addresses through the set `wan4`: the
 * address from [wan] address, or (follow_wan) the IPv4 addresses the WAN interface has now,
 * which the daemon keeps in step through rtnetlink. A change of those addresses is a change of
 * the set's elements (ruleset_render_wan4()), never of a rule: ruleset_config_equal() leaves
 * them out.
 */
#define RULESET_NO_INTERFACE "auto/none" /* in the rules while auto has found no interface */

struct ruleset_config {
	char table[NAME_MAX_TABLE + 1];
	char wan_interface[IFNAME_MAX + 1];
	bool hairpin;
	bool follow_wan; /* no [wan] address: the interface's own addresses */
	bool wan_auto;	 /* [wan] interface = auto: wan_interface is the IPv4 default route's
			  * ("" while there is none), chosen by the daemon */
	size_t n_wan4;
	uint32_t wan4[RULESET_WAN4_MAX]; /* sorted, without duplicates */
	uint32_t mark, mark_mask;	 /* [wan] mark */
};

void ruleset_config_from_policy(struct ruleset_config *c, const struct policy *p);
bool ruleset_config_equal(const struct ruleset_config *a, const struct ruleset_config *b);
/*
 * Replace the public addresses with `addrs` (any order, duplicates allowed; at most
 * RULESET_WAN4_MAX kept, the lowest). Returns true when they changed.
 */
bool ruleset_config_set_wan4(struct ruleset_config *c, const uint32_t *addrs, size_t n);
/* "203.0.113.7, 198.51.100.2", or "-" for none. */
void ruleset_wan4_format(const struct ruleset_config *c, char *buf, size_t size);
/*
 * One transaction's text that makes the set `wan4` hold c's public addresses: a flush of the
 * set, then the addresses. Only meaningful with hairpin (without it there is no such set).
 */
void ruleset_render_wan4(const struct ruleset_config *c, FILE *out);

struct elements {
	struct u64map ports;  /* proto<<16 | port -> addr<<16 | target port */
	struct u64map ranges; /* proto<<32 | lo<<16 | hi -> addr */
	struct u64map masq;   /* proto<<32 | lo<<16 | hi -> 1: public ports to masquerade */
	struct pinset pinholes; /* host . proto . ports */
};

void elements_init(struct elements *e);
void elements_finish(struct elements *e);
void elements_clear(struct elements *e);
int elements_copy(struct elements *dst, const struct elements *src);

/*
 * Add or remove a fragment's statements to a desired model. Each dnat statement gives its
 * map element; one whose target address is inside a masquerade prefix of the same fragment
 * also gives its public port(s) to `masq`. Public ports are exclusive across the active
 * fragments, so nothing is counted.
 */
int elements_add_fragment(struct elements *e, const struct fragment *f);
void elements_remove_fragment(struct elements *e, const struct fragment *f);

/*
 * The keys one change touches, so a diff only looks where something moved: every dnat
 * statement's key in `ports` or `ranges`, and in `masq` (masqueraded or not, so a replacement
 * that moves a forward out of masquerade is seen). `all` is "everything" (used after a
 * rebuild or for a reload).
 */
struct touched {
	struct u64map ports, ranges, masq;
	struct pinset pinholes;
	bool all;
};

void touched_init(struct touched *t);
void touched_finish(struct touched *t);
int touched_add_fragment(struct touched *t, const struct fragment *f);

/* Counts of a diff, for logs and the status file. */
struct delta_stats {
	size_t added, deleted;
};

/*
 * Render the element commands that turn `kernel` into `desired` over the touched keys:
 * deletions first, then additions, all meant for ONE transaction. Writes nothing when
 * nothing changes (returns 0 changes).
 */
int ruleset_render_delta(const struct ruleset_config *c, const struct elements *kernel,
			 const struct elements *desired, const struct touched *t, FILE *out,
			 struct delta_stats *ret_stats);

/* Make `kernel` what `desired` looks like in the kernel, after the delta was applied. */
int ruleset_commit_view(struct elements *kernel, const struct elements *desired,
			const struct touched *t);

/*
 * A transaction that changes nothing but leaves libnftables' cache filled for the next element
 * change: "add table" with an empty body (the table as it is) and one element `kernel` holds,
 * exactly as it is there, added again. libnftables 1.0.6 fetches its cache afresh before any
 * command after a change of the ruleset (every commit of ours): done while nobody waits, the
 * next submission's transaction skips it. Only an element of a hash set is used (the same
 * interval again would be judged against its neighbours); when `kernel` has none, nothing is
 * written and 0 returned, else 1. Should the table or the element be gone, the batch fails
 * as a whole and changes nothing.
 */
int ruleset_render_prime(const struct ruleset_config *c, const struct elements *kernel, FILE *out);

/*
 * The one rule for the administrator's own forward chain that admits what this table admits:
 * "ct mark and 0x10000000 == 0x10000000 accept".
 */
void ruleset_admin_rule(const struct ruleset_config *c, char *buf, size_t size);

/* The whole table: its definition (starting with the comment RULESET_TABLE_COMMENT), filled. */
int ruleset_render_full(const struct ruleset_config *c, const struct elements *desired, FILE *out);

/*
 * What goes before ruleset_render_full() in the same transaction, so that the table is
 * replaced without a moment of absence and only if it is still the one the caller looked at:
 * `handle` 0 (there was no such table) creates it, failing should anyone have made one of
 * that name since; otherwise the table of that handle (ours: nft_table_owner()) is deleted,
 * failing should it have been replaced since. Never a delete by name, which takes anyone's.
 */
void ruleset_render_replace(const struct ruleset_config *c, uint64_t handle, FILE *out);

static inline uint64_t port_key(uint8_t proto, uint16_t port)
{
	return (uint64_t)proto << 16 | port;
}

static inline uint64_t range_key(uint8_t proto, uint16_t lo, uint16_t hi)
{
	return (uint64_t)proto << 32 | (uint64_t)lo << 16 | hi;
}
