/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "diag.h"
#include "policy.h"
#include "spool.h"

/*
 * The intake: every submitter's spool directory, the inotify watches on them, a queue of
 * names per submitter, the periodic sweep, and the limits that keep one submitter from
 * hurting the others. It takes entries; judging them is someone else's business.
 *
 *   SPOOL/incoming       daemon:submit  0710  pass-through for the submit group, nothing more
 *   SPOOL/incoming/UID   daemon:daemon  0770  plus the ACL entry user:UID:-wx, so only that
 *                                             user (and the daemon) may create, rename or
 *                                             remove entries there; its default ACL gives the
 *                                             daemon's user read and write on every file made
 *                                             there (within the file's mask: the client makes
 *                                             its files 0660), and nobody else anything
 *
 * The daemon makes and repairs these directories itself, also for a submitter that a reload
 * added. A submitter that a reload removed loses its ACL entry (it cannot write there any
 * more) and its watch.
 *
 * Fairness and limits, per submitter (policy.ini):
 *   - batches take names round-robin across submitters, at most max_spool_entries queued each;
 *   - max_submissions_per_minute: past it, entries are refused unjudged ("quiet": counted in a
 *     summary instead of logged one by one);
 *   - max_spool_entries and max_spool_bytes: what the directory may hold at once; past them,
 *     the sweep removes entries unjudged (answering the submitter's own files), counted;
 *   - a client's temporary dot-file is removed once its ctime is SPOOL_STALE_SECONDS old (a
 *     time the user cannot set; a ctime in the future counts as old);
 *   - the sweep reads at most a budget of entries per call, so its cost is bounded whatever
 *     the spool holds; it says when there is more to do.
 */

struct intake;

struct intake_user {
	uid_t uid;
	const char *name;
	uint32_t max_entries, max_bytes, per_minute;
};

/* `incoming` and `work` are SPOOL/incoming and SPOOL/work; the intake does not close them. */
int intake_new(int incoming, int work, struct intake **ret);
void intake_free(struct intake *in);
/* The inotify descriptor, for the event loop. */
int intake_fd(const struct intake *in);

/*
 * Make the set of submitters `users` (replacing the previous set): create or repair their
 * directories (owner, mode, ACL), watch them. A directory that cannot be made usable leaves
 * that one user out, with a line in `warnings`. Returns 0, or -ENOMEM.
 */
int intake_set_users(struct intake *in, const struct intake_user *users, size_t n,
		     struct diag_list *warnings);
/* The submitter's name for a uid, or NULL. */
const char *intake_user_name(const struct intake *in, uid_t uid);

/* Read the pending inotify events into the queues. Returns true when something is queued. */
bool intake_read_events(struct intake *in);
/* Is anything queued, or to be looked for? */
bool intake_has_work(const struct intake *in);
/* Look at every directory again at the next take (after a start, or lost events). */
void intake_rescan_all(struct intake *in);

/*
 * Take up to `max` queued entries, round-robin over the submitters. `now_ms` is a monotonic
 * time for the rate limits. Returns how many were stored in `subs`.
 */
size_t intake_take(struct intake *in, int64_t now_ms, struct submission **subs, size_t max);
/* Entries a crash left in work, in arrival order: up to `max`. */
size_t intake_take_leftovers(struct intake *in, struct submission **subs, size_t max);
/* The next sequence number (for names in work and moved-aside entries). */
uint64_t intake_next_seq(struct intake *in);
const struct spool *intake_spool(const struct intake *in);

/* What a sweep did, for the log. */
struct intake_stuck {
	char name[STR_QUOTE_MAX];
	uid_t uid;
	int error;
};
struct intake_sweep_result {
	size_t read;		 /* directory entries looked at */
	struct intake_stuck stuck[8]; /* the first entries it cannot remove (counted in summaries) */
	size_t n_stuck;
};

/*
 * The periodic look at the directories: stale dot-files, entries no event announced (files
 * created and never closed, anything not a regular file), and everything past a submitter's
 * limits. Reads at most `budget` entries; returns 1 when there is more to do (call again
 * soon), 0 when done, or a negative errno. `now` is the real time in seconds (ctimes are).
 */
int intake_sweep(struct intake *in, int64_t now, size_t budget, struct intake_sweep_result *ret);

/* An entry of `uid`'s that could not be removed (inode `ino`): counted once, in its summary. */
void intake_note_stuck(struct intake *in, uid_t uid, uint64_t ino);

/* Entries refused unjudged since the last summary, per submitter, for one log line each. */
struct intake_summary {
	uid_t uid;
	char user[NAME_MAX_USER + 1];
	uint64_t rate_limited, over_limit, stale, stuck; /* stuck: directories it cannot remove */
	uint32_t per_minute, max_entries, max_bytes;
};
/* The next submitter with something to summarize (its counters are reset), or false. */
bool intake_next_summary(struct intake *in, struct intake_summary *ret);
