/* SPDX-License-Identifier: MIT */
/*
 * The periodic look at the submitters' spool directories (intake.h): entries no event
 * announced, stale temporary files, and whatever is past a submitter's limits, removed
 * unjudged (answering the submitter's own files), within a bounded budget per call.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "fragment.h"
#include "macro.h"
#include "verdict.h"
#include "intake-internal.h"

/*
 * A directory in work (from an older daemon, or a swap that could not be undone) is never a
 * submission: empty, it goes; else back to its user's directory, out of the way; else it
 * stays, and is skipped. True when it was a directory.
 */
bool leftover_directory(struct intake *in, const char *name)
{
	struct user_spool *u;
	struct stat st;
	char stuck[64];
	uint32_t uid;

	if (fstatat(in->sp.work, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
		return false;
	if (unlinkat(in->sp.work, name, AT_REMOVEDIR) == 0)
		return true;
	/* "SEQ-UID-NAME": the directory of UID, if it is a submitter's */
	if (strlen(name) > 21 && parse_uint32(name + 21, strcspn(name + 21, "-"), 0, UINT32_MAX - 1, &uid) == 0 &&
	    (u = find_user(in, uid)) && u->dirfd >= 0) {
		snprintf(stuck, sizeof(stuck), ".stuck.%020" PRIu64, intake_next_seq(in));
		if (renameat(in->sp.work, name, u->dirfd, stuck) == 0)
			intake_note_stuck(in, uid, st.st_ino);
	}
	return true;
}

/* ---- the sweep -------------------------------------------------------------------------- */

static void cut(int fd, off_t len)
{
	if (ftruncate(fd, len) < 0)
		return; /* the entry is removed anyway; only its space stays taken while held open */
}

/* A short verdict for an entry removed unjudged, written over it (which frees its space). */
static void answer_unjudged(int fd, const struct user_spool *u, const char *name, const char *why)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	char shown[STR_QUOTE_MAX], reason[400];
	bool valid = fragment_name_valid(name, strlen(name));

	if (!out)
		return;
	str_quote(shown, sizeof(shown), name, strlen(name));
	verdict_write_head(out, valid ? name : shown, u->name, "rejected", false, 0);
	snprintf(reason, sizeof(reason), "%s: %s", valid ? name : shown, why);
	verdict_write_reason(out, reason);
	cut(fd, fclose(out) == 0 && pwrite(fd, text, len, 0) == (ssize_t)len ? (off_t)len : 0);
}

/* Remove an entry unjudged (past a limit, or a stale temporary file); answer its owner's file. */
static bool discard(struct intake *in, struct user_spool *u, const char *name,
		    const struct stat *st, const char *why, struct intake_sweep_result *res)
{
	char entry[64];

	if (S_ISDIR(st->st_mode)) {
		struct stat now;
		/* only what was looked at, and only when empty */
		if (fstatat(u->dirfd, name, &now, AT_SYMLINK_NOFOLLOW) < 0 ||
		    now.st_ino != st->st_ino || now.st_dev != st->st_dev)
			return false;
		if (unlinkat(u->dirfd, name, AT_REMOVEDIR) == 0)
			return true;
		if (!u64map_get(&in->stuck_reported, st->st_ino, NULL)) {
			/* counted once per directory, in the summary: never a line each */
			u64map_put(&in->stuck_reported, st->st_ino, 1);
			u->stuck++;
			if (res->n_stuck < ELEMENTSOF(res->stuck)) {
				struct intake_stuck *k = &res->stuck[res->n_stuck++];
				k->error = errno;
				k->uid = u->cfg.uid;
				str_quote(k->name, sizeof(k->name), name, strlen(name));
			}
		}
		return false;
	}
	snprintf(entry, sizeof(entry), "%020" PRIu64 "-%u-", intake_next_seq(in), (unsigned)u->cfg.uid);
	if (renameat(u->dirfd, name, in->sp.work, entry) < 0)
		return false;
	/* a directory swapped in since it was looked at: back where it came from, at once */
	struct stat now;
	if (fstatat(in->sp.work, entry, &now, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(now.st_mode)) {
		char back[64];
		snprintf(back, sizeof(back), ".taken.%020" PRIu64, intake_next_seq(in));
		if (renameat(in->sp.work, entry, u->dirfd, back) < 0)
			leftover_directory(in, entry);
		return false;
	}
	/* in work now, ours alone; only the submitter's own single-link file is touched */
	if (S_ISREG(st->st_mode)) {
		_cleanup_close_ int fd = openat(in->sp.work, entry,
						O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		struct stat fst;
		if (fd >= 0 && fstat(fd, &fst) == 0 && fst.st_ino == st->st_ino &&
		    fst.st_uid == u->cfg.uid && fst.st_nlink == 1) {
			if (name[0] != '.')
				answer_unjudged(fd, u, name, why);
			else
				cut(fd, 0); /* frees the space even while a writer holds it open */
		}
	}
	unlinkat(in->sp.work, entry, 0);
	return true;
}

/*
 * Look at up to `budget` entries of one user's directory: queue what waits to be judged,
 * remove stale dot-files and whatever is past the user's limits. Returns 1 when the budget
 * ended before the directory did.
 */
/* Entries a scan found waiting, to be queued oldest first. */
struct found {
	struct found_entry {
		char *name;
		int64_t ctime_ns;
	} *v;
	size_t n, allocated;
};

static void found_add(struct found *f, const char *name, const struct stat *st)
{
	if (f->n == f->allocated) {
		size_t n = f->allocated ? f->allocated * 2 : 64;
		struct found_entry *grown = reallocarray(f->v, n, sizeof(*grown));
		if (!grown)
			return; /* the next scan finds it */
		f->v = grown;
		f->allocated = n;
	}
	f->v[f->n].name = strdup(name);
	f->v[f->n].ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
	if (f->v[f->n].name)
		f->n++;
}

static int compare_found(const void *x, const void *y)
{
	const struct found_entry *a = x, *b = y;

	if (a->ctime_ns != b->ctime_ns)
		return a->ctime_ns < b->ctime_ns ? -1 : 1;
	return strcmp(a->name, b->name);
}

static void found_queue(struct found *f, struct user_spool *u)
{
	if (f->n)
		qsort(f->v, f->n, sizeof(*f->v), compare_found);
	for (size_t i = 0; i < f->n; i++) {
		queue_push(u, f->v[i].name);
		free(f->v[i].name);
	}
	free(f->v);
	*f = (struct found){ 0 };
}

int scan_user(struct intake *in, struct user_spool *u, int64_t now, size_t budget,
	      struct intake_sweep_result *res)
{
	struct found found = { 0 };
	struct dirent *de = NULL;
	char why[200];

	/*
	 * One pass over the directory may take several calls: the stream and the counts carry
	 * over, so a limit above one call's budget still holds, and entries further in are
	 * reached too.
	 */
	if (!u->scan) {
		u->scan = opendir_at(u->dirfd);
		if (!u->scan)
			return -errno;
		u->scan_entries = u->scan_bytes = 0;
	}
	if (!now)
		now = (int64_t)time(NULL);
	while (res->read < budget && (de = readdir(u->scan))) {
		const char *name = de->d_name;
		struct stat st;
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		res->read++;
		if (fstatat(u->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		u->scan_entries++;
		u->scan_bytes += (uint64_t)st.st_blocks * 512;
		int64_t age = now - (int64_t)st.st_ctime; /* negative: a time we cannot trust */
		if (u->scan_entries > u->cfg.max_entries || u->scan_bytes > u->cfg.max_bytes) {
			snprintf(why, sizeof(why),
				 "refused unjudged: %s has more than max_spool_entries = %u entries or max_spool_bytes = %u bytes in the spool; wait for your verdicts",
				 u->name, u->cfg.max_entries, u->cfg.max_bytes);
			if (discard(in, u, name, &st, why, res)) {
				/* gone: it no longer counts against what comes after it */
				u->over_limit++;
				u->scan_entries--;
				u->scan_bytes -= (uint64_t)st.st_blocks * 512;
			}
			continue;
		}
		if (name[0] == '.') {
			if (age < 0 || age > SPOOL_STALE_SECONDS) {
				if (discard(in, u, name, &st, "a stale temporary file", res))
					u->stale++;
			}
			continue;
		}
		if (S_ISREG(st.st_mode) && st.st_nlink == 1 && age >= 0 && age < SPOOL_QUIET_SECONDS)
			continue; /* being written: its close comes, or the next sweep takes it */
		if (!queue_has(u, name))
			found_add(&found, name, &st);
	}
	bool more = de != NULL;
	if (!more) {
		closedir(u->scan);
		u->scan = NULL;
	}
	/* in the order they arrived (ctime), not the directory's */
	found_queue(&found, u);
	return more ? 1 : 0;
}

int intake_sweep(struct intake *in, int64_t now, size_t budget, struct intake_sweep_result *ret)
{
	bool more = false;

	*ret = (struct intake_sweep_result){ 0 };
	/*
	 * Each user in turn, and the next slice starts with the next user: a directory that
	 * holds more than one slice's budget (say, entries nobody can remove) never keeps the
	 * sweep from the others'.
	 */
	for (size_t k = 0; k < in->n_users && ret->read < budget; k++) {
		struct user_spool *u = &in->users[in->next_sweep];
		size_t share = budget - ret->read;
		int r = u->dirfd >= 0 ? scan_user(in, u, now, ret->read + share, ret) : 0;
		in->next_sweep = (in->next_sweep + 1) % in->n_users;
		if (r > 0)
			more = true;
	}
	return more ? 1 : 0;
}

void intake_note_stuck(struct intake *in, uid_t uid, uint64_t ino)
{
	struct user_spool *u = find_user(in, uid);

	if (!u || u64map_get(&in->stuck_reported, ino, NULL))
		return;
	u64map_put(&in->stuck_reported, ino, 1);
	u->stuck++;
}

bool intake_next_summary(struct intake *in, struct intake_summary *ret)
{
	for (size_t i = 0; i < in->n_users; i++) {
		struct user_spool *u = &in->users[i];
		if (!u->rate_limited && !u->over_limit && !u->stale && !u->stuck)
			continue;
		*ret = (struct intake_summary){
			.uid = u->cfg.uid,
			.rate_limited = u->rate_limited,
			.over_limit = u->over_limit,
			.stale = u->stale,
			.stuck = u->stuck,
			.per_minute = u->cfg.per_minute,
			.max_entries = u->cfg.max_entries,
			.max_bytes = u->cfg.max_bytes,
		};
		snprintf(ret->user, sizeof(ret->user), "%s", u->name);
		u->rate_limited = u->over_limit = u->stale = u->stuck = 0;
		return true;
	}
	return false;
}
