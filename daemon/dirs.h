/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "policy.h"

/*
 * The directories natwardend works in, opened once (before privileges are dropped) and used
 * through these descriptors afterwards.
 *
 *   SPOOL            daemon:submit  0710  members of the submit group may pass through
 *   SPOOL/incoming   daemon:daemon  3733  anyone who can pass SPOOL may create files, nobody
 *                                         but the daemon may list; sticky: nobody may
 *                                         replace or remove another's file; setgid: files
 *                                         get the daemon's group, so it can read and answer
 *                                         them (the client makes them 0660)
 *   SPOOL/work       daemon:daemon  0700  submissions the daemon has taken, until their verdict
 *   STATE            daemon:daemon  0700  accepted fragments
 *   RUNTIME          daemon:submit  0750  the status file (0644), for submitters and admins
 */
struct dirs {
	int spool, incoming, work, state, runtime;
	uid_t uid; /* the daemon user */
	gid_t gid; /* its primary group */
	gid_t submit_gid;
};

struct dir_spec {
	const char *what;
	mode_t mode;
	bool submit_group;
};

/*
 * Resolve the [daemon] user and group, create missing directories (as root), check that
 * existing ones have exactly the owners and modes above, and open them all. Returns 0, or a
 * negative errno with a message naming the path and the problem in `why`.
 */
int dirs_open(struct dirs *d, const struct policy *p, char *why, size_t size);
void dirs_close(struct dirs *d);
