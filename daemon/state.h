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
 *             anything after it, is ignored (state_open cuts such a tail off, so that the
 *             batches appended after it count).
 *
 * One append and one sync per batch, whatever its size, and no new file per fragment: a
 * burst of 1,000 submissions costs what one costs. Both files are text, a sequence of batches:
 * the batch's "put" and "del" records, then its "commit" line (the records' format, writer and
 * reader: common/staterecord.h).
 *
 * A full disk. Removals must be saved even then (a forward the journal still holds would
 * come back at the next start), so the journal keeps STATE_RESERVE_BYTES allocated past its
 * end: fallocate(FALLOC_FL_KEEP_SIZE), which st_size does not show and a load never reads
 * (it reads up to st_size; what follows the last commit line is ignored anyway). It is taken
 * at state_open (a failure there is not fatal: it is remembered), and again after every
 * append, compaction or cut-off tail. Appending into it needs no free space: measured on a
 * full tmpfs and a full ext4 (as a user without ext4's root reserve, Linux 6.18) by
 * tests/integration/state-full.sh. Not measured elsewhere: on a copy-on-write filesystem
 * (btrfs, ZFS) a write into preallocated space may still need free space.
 *
 *   - Refused: a batch with any "put", unless room for it and a whole reserve after it can
 *     be allocated first. It fails with that error (-ENOSPC, -EDQUOT), nothing of it is
 *     written, and it stays staged. Additions never eat into the reserve.
 *   - Always written, also on a full disk: a batch of only "del" records, into the reserve
 *     (or past it while there is room). It fails only when it is larger than what is left
 *     of the reserve on a full disk (1 MiB: over 8,000 removals even one per batch with the
 *     longest names), or on an I/O error.
 *   - state_compact needs free space for its new snapshot. Without it, it fails with the
 *     error and changes nothing: the old snapshot and the journal load as before, and the
 *     journal keeps taking batches. A start on a full disk can thus load, and save
 *     removals, but not compact.
 *   - Where nothing can be preallocated (fallocate fails with -EOPNOTSUPP, or any error but
 *     -ENOSPC and -EDQUOT) there is no reserve: batches are written as they come, as they
 *     were before the reserve existed, and state_space_error() says so.
 */

/* Room kept past the journal's end for removals: ~20-80 bytes each. */
#define STATE_RESERVE_BYTES ((int64_t)1 << 20)

struct state;

/* Open (creating it when missing) the journal in the state directory, and take the reserve. */
int state_open(int dirfd, struct state **ret);
void state_free(struct state *s);

struct state_batch;

struct state_batch *state_batch_new(struct state *s);
/* Stage the current version of an active entry. */
int state_batch_save(struct state_batch *b, const struct active_entry *e);
/* Stage the removal of (uid, name). */
int state_batch_remove(struct state_batch *b, uint32_t uid, const char *name);
/*
 * Append everything staged, durably, as one batch. On failure nothing of it counts. A batch
 * with a "put" is refused (-ENOSPC) when it cannot leave the reserve whole: then nothing was
 * written and it stays staged as it was, to commit again later. A batch of only "del"
 * records may use the reserve (see above).
 */
int state_batch_commit(struct state_batch *b);
void state_batch_free(struct state_batch *b);

/*
 * Is the reserve whole, and did the last attempt to allocate journal space succeed? When not
 * for lack of space (see state_space_error), additions are being refused while removals
 * still live on the reserve: "the state disk is full".
 */
bool state_reserve_ok(const struct state *s);
/*
 * Why not: 0 when state_reserve_ok(), else the -errno of the last failed allocation:
 * -ENOSPC or -EDQUOT (the state disk is full: additions are refused), -EOPNOTSUPP (this
 * filesystem cannot preallocate: there is no reserve, additions are not limited), other.
 */
int state_space_error(const struct state *s);
/*
 * Try again, e.g. from a timer while state_reserve_ok() is false: take the reserve plus room
 * for one more addition of the largest fragment (so it fails while the disk is full, even
 * with the reserve whole). 0 when that worked and state_reserve_ok() is true again, else
 * the -errno, also remembered.
 */
int state_retry_reserve(struct state *s);

/* Has the journal grown enough to be folded into a new snapshot? */
bool state_wants_compaction(const struct state *s);
/*
 * Write every active fragment as the new snapshot, then empty the journal and take the
 * reserve again. On failure (-ENOSPC on a full disk) the files still load to what they held
 * before, and the journal keeps working.
 */
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
