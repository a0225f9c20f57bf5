/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "active.h"

/* The daemon's RUNTIME/status file, as read by the client (format: daemon/status.h). */
struct status_mapping {
	char user[40];
	char fragment[72];
	char kind[12]; /* "dnat" or "masquerade" */
	char proto[8];
	char ports[16];
	char target[40];
	int64_t expires;
	size_t seq; /* its place in the file */
};

struct status_event_line {
	int64_t time;
	char kind[16], user[40], fragment[72], text[256];
};

struct status_file {
	int version;
	pid_t pid;
	int64_t started, updated, last_change;
	uint64_t last_apply_us;
	char table[64];
	size_t users, fragments, mappings;
	char last_error[512];
	struct status_mapping *maps;
	size_t n_maps;
	struct status_event_line *events;
	size_t n_events;
};

/* Read RUNTIME/status. -ENOENT when there is none; -EBADMSG when it is not one. */
int status_file_read(const char *runtime, struct status_file *s);
void status_file_free(struct status_file *s);

/* The active fragments the status file lists, rebuilt for the verdict engine. */
int status_file_active_set(const struct status_file *s, struct active_set **ret);

/* Is the daemon of that status file still running? */
int status_file_daemon_alive(const struct status_file *s);
