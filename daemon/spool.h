/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "diag.h"
#include "strutil.h"

/*
 * The spool: intake of untrusted files. Names arrive from inotify on SPOOL/incoming (or a
 * rescan). A valid name is taken at once by renaming it into SPOOL/work (the daemon's own,
 * unreachable for submitters), so what is judged can no longer be replaced; it is then opened
 * there without following symlinks and without blocking, checked, and read once into memory.
 * The verdict is written into that same file before it is removed: the client, which still
 * holds it open, reads it there.
 */

#define SPOOL_STALE_SECONDS 600 /* a client's dot-file older than this is removed */

enum spool_kind {
	SPOOL_REGULAR,
	SPOOL_SYMLINK,
	SPOOL_DIRECTORY,
	SPOOL_FIFO,
	SPOOL_SOCKET,
	SPOOL_DEVICE,
	SPOOL_GONE,
};

struct submission {
	char name[FRAGMENT_NAME_MAX + 1]; /* valid names only, else "" */
	char shown[STR_QUOTE_MAX];	 /* the name as it may be printed */
	bool name_valid;
	int dirfd;	   /* where the entry is now: work, or incoming for invalid names */
	char entry[320];   /* its name there */
	int fd;		   /* the opened file, -1 if never opened */
	bool can_answer;   /* fd is writable: the verdict can be written into it */
	bool judged_before; /* it already carries a verdict (crash between answer and removal) */
	uid_t uid;
	bool owner_known;
	const char *user; /* submitter name, or NULL */
	char *text;	  /* the bytes, read once */
	size_t len;
	struct diag_list problems; /* why it cannot even be parsed: type, links, size, owner */
	struct submission *next;
};

typedef const char *(*spool_user_lookup)(void *userdata, uid_t uid);

struct spool {
	int incoming, work;
	gid_t gid; /* the daemon's group: what incoming gives every file created in it */
	spool_user_lookup lookup;
	void *userdata;
};

#define SPOOL_QUIET_SECONDS 2 /* a regular file untouched this long is taken even without a close */

/*
 * Make the submission for incoming entry `name`: take a regular file into work, look at
 * anything else where it is, and read what can be read. -ENOENT when it is gone.
 */
int spool_take(const struct spool *sp, uint64_t seq, const char *name, struct submission **ret);
/* The same for an entry already in work (left there by a crash). */
int spool_take_work(const struct spool *sp, const char *entry, struct submission **ret);

/*
 * Write `verdict` into the submitted file (if it can be), then remove the entry. Returns 0,
 * or a negative errno when it could not be removed (a non-empty directory of its owner): it
 * is then renamed out of the way (".stuck.SEQ" in incoming) when possible, so it neither
 * blocks its name nor is judged again.
 */
int spool_finish(const struct spool *sp, struct submission *s, const char *verdict, size_t len,
		 uint64_t seq);
void submission_free(struct submission *s);

/* For an inotify IN_CREATE: is this worth acting on now (not a regular file being written)? */
bool spool_needs_attention_now(int incoming, const char *name);

/*
 * The periodic look at incoming: removes clients' dot-files older than SPOOL_STALE_SECONDS
 * (returned in *ret_removed), and returns the names of entries that no event announced but
 * that are there to be judged: anything not a regular file, and regular files untouched for
 * SPOOL_QUIET_SECONDS (created and never closed after writing, e.g. by mknod). Stale
 * entries it cannot remove (a submitter's non-empty directory) are listed in `stuck`.
 */
struct spool_stuck {
	char name[STR_QUOTE_MAX]; /* quoted for printing */
	uint64_t ino;
	uid_t uid;
	int error;
};

int spool_sweep(const struct spool *sp, int64_t now, size_t max, char ***ret, size_t *ret_n,
		int *ret_removed, struct spool_stuck *stuck, size_t stuck_max, size_t *ret_n_stuck);

/*
 * Names to look at after a start or an inotify overflow, oldest first (by ctime): up to
 * `max`. Sets *ret_more when there were more. For work, entries by name (= arrival order).
 */
int spool_list(int dirfd, size_t max, char ***ret, size_t *ret_n, bool *ret_more);
void spool_names_free(char **names, size_t n);

/* The highest sequence number used in work, so new ones stay ordered after it. */
uint64_t spool_max_seq(int work);
