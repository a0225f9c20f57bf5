/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "ipv4.h"
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
	bool masquerade;
	uint32_t max_fragments;
	uint32_t max_rules;
	uint32_t max_lease; /* 0: leases optional */
	/* What one submitter may hold in the spool at once, and how fast it may submit. */
	uint32_t max_spool_entries;	     /* entries in its spool directory (temporary files too) */
	uint32_t max_spool_bytes;	     /* disk space they occupy */
	uint32_t max_submissions_per_minute; /* judged submissions; more are refused unjudged */
};

#define SUBMITTER_DEFAULT_MAX_SPOOL_ENTRIES 64
#define SUBMITTER_DEFAULT_MAX_SPOOL_BYTES (4u << 20)
#define SUBMITTER_DEFAULT_MAX_SUBMISSIONS_PER_MINUTE 120

struct policy {
	char *path; /* for messages */
	struct {
		char user[NAME_MAX_USER + 1];
		char group[NAME_MAX_USER + 1];
		char table[NAME_MAX_TABLE + 1];
		char *spool, *state, *runtime;
	} daemon;
	struct {
		char interface[IFNAME_MAX + 1];
		bool has_address;
		uint32_t address;
		bool hairpin;
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
