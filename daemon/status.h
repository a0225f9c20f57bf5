/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "active.h"
#include "fwcheck.h"
#include "hashmap.h"
#include "statusfile.h"

/*
 * RUNTIME/status, written by the daemon: its data gathered here, written by the codec in
 * common/statusfile.h (the format is described there), the file replaced atomically.
 */

#define STATUS_EVENTS 32

/* What the daemon remembers of an expiry, revocation or recovery, for the event lines. */
struct status_event {
	int64_t time;
	char kind[16];
	char user[NAME_MAX_USER + 1];
	char fragment[FRAGMENT_NAME_MAX + 1];
	char text[200];
};

struct status_info {
	int64_t started, last_change;
	uint64_t last_apply_us;
	const char *table;
	const char *last_error;
	/* the WAN interface: name, "policy"/"interface", "up"/"missing"/..., "A, B" or "-" */
	const char *wan_interface, *wan_source, *wan_state, *wan_addresses;
	const struct status_event *events; /* ring, oldest first as given */
	size_t n_events;
	const char *admin_check; /* "ok", "" (not yet), or why the admin chains were not read */
	const struct fwcheck_finding *admin;
	size_t n_admin;
};

/* Each active entry's lines, rendered once, kept beside the active set (keyed by the entry). */
struct status_cache {
	struct u64map lines;
};
void status_cache_init(struct status_cache *c);
void status_cache_finish(struct status_cache *c);
/* The entry changed (its lease) or is gone: render its lines again, or never. */
void status_forget(struct status_cache *c, const struct active_entry *e);
/* Write dirfd/status: the header from `info`, the mappings of `a`, the events. */
int status_write(int dirfd, const struct status_info *info, const struct active_set *a,
		 struct status_cache *c);
