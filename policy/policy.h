/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "ipv4.h"
#include "ipv6.h"
#include "macro.h"

#define POLICY_DEFAULT_PATH "/etc/natwarden/policy.ini"
#define POLICY_MAX_BYTES (1 << 20) /* 1 MiB */
#define POLICY_MAX_LINE 1024
#define POLICY_MAX_SUBMITTERS 1024
#define POLICY_MAX_LIST 256 /* items in one list value */
#define NAME_MAX_USER 32
#define NAME_MAX_TABLE 32
#define IFNAME_MAX 15

struct port_range {
	uint16_t lo, hi;
};

struct port_list {
	size_t n;
	struct port_range *items;
};

struct submitter {
	char name[NAME_MAX_USER + 1];
	unsigned line; /* of the section header */
	struct port_list ports;
	bool tcp, udp;
	size_t n_destinations;
	struct prefix4 *destinations;
	size_t n_destinations6;
	struct prefix6 *destinations6;
	bool masquerade;
	uint32_t max_fragments;
	uint32_t max_rules;
	uint32_t max_lease; /* 0: leases optional */
	/* What one submitter may hold in the spool at once, and how fast it may submit. */
	uint32_t max_spool_entries;	     /* entries in its spool directory (temporary files too) */
	uint32_t max_spool_bytes;	     /* disk space they occupy */
	uint32_t max_submissions_per_minute; /* judged submissions; more are refused unjudged */
};

/*
 * The default [wan] mark: one bit, high enough to stay clear of the low bits that multi-WAN
 * setups (mwan3: 0x3f00) and kube-proxy (0x4000, 0x8000) use.
 */
#define POLICY_DEFAULT_MARK 0x10000000u

#define SUBMITTER_DEFAULT_MAX_SPOOL_ENTRIES 64
#define SUBMITTER_DEFAULT_MAX_SPOOL_BYTES (4u << 20)
#define SUBMITTER_DEFAULT_MAX_SUBMISSIONS_PER_MINUTE 120

/* [wan] interface = auto: the interface of the IPv4 default route, followed */
#define POLICY_WAN_AUTO "auto"

struct policy {
	char *path; /* for messages */
	struct {
		char user[NAME_MAX_USER + 1];
		char group[NAME_MAX_USER + 1];
		char table[NAME_MAX_TABLE + 1];
		char *spool, *state, *runtime;
		char *metrics; /* a *.prom file for node-exporter's textfile collector; NULL: off */
	} daemon;
	struct {
		char interface[IFNAME_MAX + 1]; /* POLICY_WAN_AUTO: the IPv4 default route's */
		bool has_address;
		uint32_t address;
		bool hairpin;
		/* conntrack mark bits set on the connections natwarden admits (mark & mask) */
		uint32_t mark, mark_mask;
	} wan;
	struct port_list reserved;
	size_t n_submitters;
	struct submitter *submitters;
};

/*
 * Parse policy.ini text. Pure: no I/O, no logging. `path` only names the file in messages.
 * Returns 0 and a new policy, or -EINVAL with every finding in `errs` (line, reason), or
 * -ENOMEM.
 */
int policy_parse(const char *path, const char *text, size_t len, struct policy **ret,
		 struct diag_list *errs);

/*
 * Open `path`, refuse it unless it is a regular file owned by root and not writable by group
 * or others (checked on the opened descriptor), read it and parse it. File-level problems go
 * into `errs` at line 0. Returns 0, -EINVAL (see errs), -EPERM (unsafe file: see errs), or
 * another -errno from the file system (see errs too).
 */
int policy_load(const char *path, struct policy **ret, struct diag_list *errs);

void policy_free(struct policy *p);
static inline void policy_freep(struct policy **p)
{
	policy_free(*p);
}
#define _cleanup_policy_ _cleanup_(policy_freep)

const struct submitter *policy_find_submitter(const struct policy *p, const char *user);

bool port_list_contains(const struct port_list *l, uint16_t lo, uint16_t hi);
/* First port of [lo, hi] that is in the list, or 0. */
uint16_t port_list_first_hit(const struct port_list *l, uint16_t lo, uint16_t hi);
/* "80, 443, 30000-30100" */
void port_list_format(const struct port_list *l, char *buf, size_t size);

/*
 * policy/destinations.c. Replace a submitter's destinations with the list `v` (IPv4 and IPv6
 * prefixes, comma-separated): 0, -EINVAL with the reason in `err`, or -ENOMEM.
 */
int destinations_parse(const char *v, struct submitter *s, char *err, size_t size);
bool destinations_allow4(const struct submitter *s, const struct prefix4 *p);
bool destinations_allow6(const struct submitter *s, const struct in6 *a);
/* "192.168.1.0/24, 2001:db8:0:1::/64" */
void destinations_format(const struct submitter *s, char *buf, size_t size);
/*
 * "0xVALUE" (the mask is the value) or "0xVALUE/0xMASK": 0, or -EINVAL with a static reason
 * (no bits, value outside the mask, not hex).
 */
int policy_mark_parse(const char *s, uint32_t *ret_value, uint32_t *ret_mask,
		      const char **ret_reason);
