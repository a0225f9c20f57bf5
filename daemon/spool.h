/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <sys/stat.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <sys/types.h>

#include "diag.h"
#include "strutil.h"

/*
 * One spool entry, from the moment it is taken to its removal. The spool gives every
 * submitter a directory of its own, SPOOL/incoming/UID, that only that user (and the daemon)
 * may write: an entry found there was put there by that user, so it is judged as that user's
 * only when the kernel also names that user as the file's owner. Names cannot collide across
 * users, and nobody can put a file, a link or a name into another user's directory.
 *
 * Every entry but a directory is first renamed into SPOOL/work (the daemon's own, unreachable
 * for submitters) and only then looked at, judged and removed, so what is removed is always
 * the inode that was judged. A directory cannot always be moved (that needs write access to
 * it); it is renamed to a dot-name (".taken.SEQ") in its own directory, judged there, and
 * removed only after its device and inode were compared again. Regular files are opened there without following links and without blocking, checked
 * and read once into memory. The verdict is written into that same file before it is removed
 * (the client still holds it open): only into a file the submitter owns.
 */

#define SPOOL_STALE_SECONDS 600 /* a client's temporary dot-file older than this is removed */
#define SPOOL_QUIET_SECONDS 2	/* a regular file unchanged this long is taken without a close */

enum spool_kind {
	SPOOL_REGULAR,
	SPOOL_SYMLINK,
	SPOOL_DIRECTORY,
	SPOOL_FIFO,
	SPOOL_SOCKET,
	SPOOL_DEVICE,
};

struct submission {
	char name[FRAGMENT_NAME_MAX + 1]; /* valid names only, else "" */
	char shown[STR_QUOTE_MAX];	  /* the name as it may be printed (quoted when invalid) */
	bool name_valid;
	int dirfd;	 /* where the entry is now: work, or the user's directory (a directory) */
	char entry[NAME_MAX + 1]; /* its name there */
	dev_t dev;	 /* what was judged, for a directory removed where it is */
	ino_t ino;
	bool in_place;	    /* a directory, judged in the user's directory, never opened */
	int fd;		    /* the opened file, -1 if never opened */
	bool can_answer;    /* fd is the submitter's own file, writable: the verdict goes into it */
	int answer_error;   /* writing the verdict failed (-errno): the submitter was not told */
	bool judged_before; /* it already carries a verdict (crash between answer and removal) */
	uid_t uid;	    /* the submitter: the user whose spool directory it was found in */
	uid_t owner;	    /* the file's owner, as the kernel says */
	bool owner_known;
	const char *user; /* submitter name, or NULL when uid is no submitter */
	bool quiet;	  /* refused before judging (rate limit): counted, not logged one by one */
	char *text;	  /* the bytes, read once */
	size_t len;
	/* last: large, and only what is used of it is ever written */
	struct diag_list problems; /* why it cannot even be parsed: type, links, size, owner */
};

struct spool {
	int work; /* SPOOL/work */
};

/*
 * Take entry `name` of user `uid`'s directory `userdir`: move it into work (a directory stays),
 * look at it, and read it unless `read_it` is false (it is refused anyway). `user` is the
 * submitter's name (NULL: not a submitter). `looked`: what the caller has just seen at that
 * name (fstatat, not following links), or NULL to look now. -ENOENT when it is gone.
 */
int spool_take(const struct spool *sp, int userdir, uid_t uid, const char *user, uint64_t seq,
	       const char *name, const struct stat *looked, bool read_it, struct submission **ret);

/*
 * The same for an entry a crash left in work ("SEQ-UID-NAME"); `lookup` names the submitter
 * of a uid (NULL for none). -EINVAL for a name this daemon did not make.
 */
typedef const char *(*spool_user_lookup)(void *userdata, uid_t uid);
int spool_take_work(const struct spool *sp, const char *entry, spool_user_lookup lookup,
		    void *userdata, struct submission **ret);

/*
 * Write `verdict` into the submitted file, if it is the submitter's own (s->answer_error says
 * when that failed: the submitter was not told through its file).
 */
void spool_answer(struct submission *s, const char *verdict, size_t len);
/*
 * Then remove the entry (the client, holding its file, sees it gone and reads its answer).
 * Returns 0, or a negative errno when it could not be removed (a non-empty directory of its
 * owner): it is then renamed out of the way (".stuck.SEQ" in the user's directory), so it
 * neither blocks its name nor is judged again.
 */
int spool_remove(const struct spool *sp, struct submission *s, uint64_t seq);
void submission_free(struct submission *s);

/* The highest sequence number used in work, so new ones stay ordered after it. */
uint64_t spool_max_seq(int work);
/* Entries in work ("SEQ-UID-NAME"), in arrival order, at most `max`. */
int spool_list_work(int work, size_t max, char ***ret, size_t *ret_n);
void spool_names_free(char **names, size_t n);
