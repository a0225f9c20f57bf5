/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "fragment.h"
#include "hashmap.h"
#include "policy.h"

/*
 * The daemon's nftables table, as a model of elements, and the text that builds or changes
 * it. Pure: renders text from validated numbers only, never touches the kernel.
 *
 * The packet path is four constant rules over two maps and two sets, whatever the number of
 * forwards: single public ports in `dnat_port` (protocol . port -> address . port), port
 * ranges in the interval map `dnat_range` (protocol . ports -> address, same port), and
 * masquerade destinations in `masq_host` (addresses) and `masq_net` (prefixes, interval set).
 */

struct ruleset_config {
	char table[NAME_MAX_TABLE + 1];
	char wan_interface[IFNAME_MAX + 1];
	bool hairpin;
	uint32_t wan_address;
};

void ruleset_config_from_policy(struct ruleset_config *c, const struct policy *p);
bool ruleset_config_equal(const struct ruleset_config *a, const struct ruleset_config *b);

struct elements {
	struct u64map ports;  /* proto<<16 | port -> addr<<16 | target port */
	struct u64map ranges; /* proto<<32 | lo<<16 | hi -> addr */
	struct u64map hosts;  /* addr -> count of fragments asking */
	struct u64map nets;   /* addr<<8 | len -> count of fragments asking */
};

void elements_init(struct elements *e);
void elements_finish(struct elements *e);
void elements_clear(struct elements *e);
int elements_copy(struct elements *dst, const struct elements *src);

/* Add or remove a fragment's statements to a desired model (counts masquerade requests). */
int elements_add_fragment(struct elements *e, const struct fragment *f);
void elements_remove_fragment(struct elements *e, const struct fragment *f);

/*
 * The keys one change touches, so a diff only looks where something moved. A NULL list is
 * "everything" (used after a rebuild or for a reload).
 */
struct touched {
	struct u64map ports, ranges, hosts;
	bool nets;
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
 * The whole table: create-if-missing, delete, define, fill. One buffer, one transaction, so
 * an existing table is replaced without a moment of absence.
 */
int ruleset_render_full(const struct ruleset_config *c, const struct elements *desired, FILE *out);

/* The kernel's masquerade prefixes: requested prefixes not inside another requested one. */
int ruleset_effective_nets(const struct elements *desired, struct u64map *ret);

static inline uint64_t port_key(uint8_t proto, uint16_t port)
{
	return (uint64_t)proto << 16 | port;
}

static inline uint64_t range_key(uint8_t proto, uint16_t lo, uint16_t hi)
{
	return (uint64_t)proto << 32 | (uint64_t)lo << 16 | hi;
}

static inline uint64_t net_key(const struct prefix4 *p)
{
	return (uint64_t)p->addr << 8 | p->len;
}
