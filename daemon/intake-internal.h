/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What intake.c (the directories, the queues, taking entries) and sweep.c (the periodic look
 * at the directories, the limits, unjudged removals) share. Private to the two.
 */

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>

#include "hashmap.h"
#include "intake.h"
#include "ratelimit.h"

struct user_spool {
	struct intake_user cfg;
	char name[NAME_MAX_USER + 1];
	int dirfd, wd;
	char **queue; /* names waiting to be taken, at most cfg.max_entries */
	size_t queue_n;
	struct u64map queued; /* hashes of the queued names */
	bool rescan;	      /* names may be waiting that no event announced */
	DIR *scan;	      /* a pass over the directory under way, and its counts so far */
	uint64_t scan_entries, scan_bytes;
	struct ratelimit rate;
	uint64_t rate_limited, over_limit, stale, stuck;
};

struct intake {
	struct spool sp;
	int incoming;
	int inotify_fd;
	struct user_spool *users;
	size_t n_users;
	size_t next_take, next_sweep; /* round-robin cursors */
	uint64_t seq;
	struct u64map stuck_reported; /* inodes already reported as impossible to remove */
};

struct user_spool *find_user(struct intake *in, uid_t uid);
bool queue_has(const struct user_spool *u, const char *name);
/* Queue a name; false when the queue is full (the sweep finds the rest). */
bool queue_push(struct user_spool *u, const char *name);
/*
 * Look at up to `budget` entries of one user's directory (a pass may span several calls):
 * queue what waits to be judged, remove stale dot-files and whatever is past the user's
 * limits. Returns 1 when the budget ended before the directory did.
 */
int scan_user(struct intake *in, struct user_spool *u, int64_t now, size_t budget,
	      struct intake_sweep_result *res);
/* A directory in work is never a submission: removed, or moved back to its user. */
bool leftover_directory(struct intake *in, const char *name);
