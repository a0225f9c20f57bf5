/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "active.h"

/*
 * RUNTIME/status: what is live, for `natwarden list` and `status` and for shell scripts.
 * Replaced atomically after every change. Format version 1, one record per line, fields
 * separated by one TAB, the record type first:
 *
 *   natwarden-status  1
 *   pid               PID
 *   started           UNIX-TIME
 *   updated           UNIX-TIME
 *   last_change       UNIX-TIME  (0: nothing applied since start)
 *   last_apply_us     MICROSECONDS (time of the last kernel transaction)
 *   table             inet NAME
 *   users             N
 *   fragments         N
 *   mappings          N (dnat and masquerade statements)
 *   last_error        TEXT (or "-")
 *   dnat              USER FRAGMENT PROTO PORT[-PORT] ADDRESS[:PORT] EXPIRES (UNIX-TIME, 0: none)
 *                     (fragments in no particular order; the lines of one fragment together)
 *   masquerade        USER FRAGMENT PREFIX EXPIRES
 *   event             UNIX-TIME KIND USER FRAGMENT TEXT   (expiries and revocations, newest last)
 */

#define STATUS_EVENTS 32

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
	const struct status_event *events; /* ring, oldest first as given */
	size_t n_events;
};

int status_render(const struct status_info *info, const struct active_set *a, FILE *out);
/* The entry changed (its lease): render its lines again next time. */
void status_forget(struct active_entry *e);
int status_write(int dirfd, const struct status_info *info, const struct active_set *a);
