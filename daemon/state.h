/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "active.h"
#include "diag.h"

/*
 * Accepted fragments on disk, one file per fragment: STATE/UID-NAME, written to a temporary
 * file, made durable, renamed over the old one, and the directory synced. A batch of changes
 * costs two syncs, not two per fragment.
 */

struct state_batch;

struct state_batch *state_batch_new(int dirfd);
/* Stage the current version of an active entry (written now, renamed at commit). */
int state_batch_save(struct state_batch *b, const struct active_entry *e);
/* Stage the removal of (uid, name). */
int state_batch_remove(struct state_batch *b, uint32_t uid, const char *name);
/* Make everything staged durable and visible. On failure nothing staged is renamed. */
int state_batch_commit(struct state_batch *b);
/* Forget (and delete the temporary files of) whatever is still staged. */
void state_batch_free(struct state_batch *b);

struct state_record {
	uint32_t uid;
	char user[NAME_MAX_USER + 1];
	int64_t accepted, expires;
	struct fragment *frag;
	char file[96];
};

/*
 * Read every state file, oldest acceptance first. Files that cannot be read or parsed are
 * reported in `errs` (line 0, naming the file) and skipped. Returns the number of records.
 */
int state_load(int dirfd, struct state_record **ret, size_t *ret_n, struct diag_list *errs);
void state_records_free(struct state_record *r, size_t n);
