/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "active.h"
#include "diag.h"

/*
 * Accepted fragments on disk, in the state directory:
 *
 *   snapshot  every active fragment, written as a whole: a temporary file, fsync, rename,
 *             directory fsync. At start-up, and when the journal has grown past it.
 *   journal   the changes since, appended one batch at a time with one fdatasync. A batch
 *             counts only with its closing "commit" line and checksum: a torn tail, or
 *             anything after it, is ignored.
 *
 * One append and one sync per batch, whatever its size, and no new file per fragment: a
 * burst of 1,000 submissions costs what one costs. Records are text:
 *
 *   put UID ACCEPTED_MS EXPIRES_MS USER NAME LENGTH\n<LENGTH bytes: the canonical fragment>
 *   del UID NAME\n
 *   commit RECORDS CHECKSUM\n       (FNV-1a 64 of the batch's bytes before this line, hex)
 */

struct state;

/* Open (creating it when missing) the journal in the state directory. */
int state_open(int dirfd, struct state **ret);
void state_free(struct state *s);

struct state_batch;

struct state_batch *state_batch_new(struct state *s);
/* Stage the current version of an active entry. */
int state_batch_save(struct state_batch *b, const struct active_entry *e);
/* Stage the removal of (uid, name). */
int state_batch_remove(struct state_batch *b, uint32_t uid, const char *name);
/* Append everything staged, durably, as one batch. On failure nothing of it counts. */
int state_batch_commit(struct state_batch *b);
void state_batch_free(struct state_batch *b);

/* Has the journal grown enough to be folded into a new snapshot? */
bool state_wants_compaction(const struct state *s);
/* Write every active fragment as the new snapshot, then empty the journal. */
int state_compact(struct state *s, const struct active_set *a);

struct state_record {
	uint32_t uid;
	char user[NAME_MAX_USER + 1];
	int64_t accepted, expires;
	struct fragment *frag;
};

/*
 * The saved fragments (snapshot, then the journal's committed batches), oldest acceptance
 * first. What cannot be read is reported in `errs` (line 0) and skipped; the rest counts.
 * Read-only: nothing is written. Returns the number of records.
 */
int state_load(int dirfd, struct state_record **ret, size_t *ret_n, struct diag_list *errs);
void state_records_free(struct state_record *r, size_t n);
