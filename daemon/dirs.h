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
 *   SPOOL/incoming   daemon:submit  0710  the same; it holds one directory per submitter,
 *                                         incoming/UID, that only that user may write (made
 *                                         by the intake: see intake.h)
 *   SPOOL/work       daemon:daemon  0700  submissions the daemon has taken, until their verdict
 *   STATE            daemon:daemon  0700  the saved state: a snapshot and a journal (state.h)
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
