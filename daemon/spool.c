/* SPDX-License-Identifier: MIT */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "fragment.h"
#include "macro.h"
#include "verdict.h"

static enum spool_kind kind_of(mode_t mode)
{
	if (S_ISREG(mode))
		return SPOOL_REGULAR;
	if (S_ISLNK(mode))
		return SPOOL_SYMLINK;
	if (S_ISDIR(mode))
		return SPOOL_DIRECTORY;
	if (S_ISFIFO(mode))
		return SPOOL_FIFO;
	if (S_ISSOCK(mode))
		return SPOOL_SOCKET;
	return SPOOL_DEVICE;
}

static const char *kind_name(enum spool_kind k)
{
	static const char *const names[] = {
		[SPOOL_REGULAR] = "a regular file", [SPOOL_SYMLINK] = "a symbolic link",
		[SPOOL_DIRECTORY] = "a directory",  [SPOOL_FIFO] = "a FIFO",
		[SPOOL_SOCKET] = "a socket",	    [SPOOL_DEVICE] = "a device node",
		[SPOOL_GONE] = "gone",
	};
	return names[k];
}

static struct submission *submission_new(const char *name)
{
	struct submission *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->fd = -1;
	s->dirfd = -1;
	diag_init(&s->problems);
	s->name_valid = fragment_name_valid(name, strlen(name));
	if (s->name_valid)
		snprintf(s->name, sizeof(s->name), "%s", name);
	str_quote(s->shown, sizeof(s->shown), name, strlen(name));
	return s;
}

/* Open the regular file we have looked at, for reading and for the answer. */
static int open_checked(struct submission *s, const struct stat *seen)
{
	struct stat st;
	int fd;

	fd = openat(s->dirfd, s->entry, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0)
		s->can_answer = true;
	else if (errno == EACCES)
		fd = openat(s->dirfd, s->entry, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		diag_add(&s->problems, 0,
			 "the daemon cannot read it (%s): it must be readable by its group",
			 strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) < 0 || st.st_dev != seen->st_dev || st.st_ino != seen->st_ino) {
		close(fd);
		s->can_answer = false;
		diag_add(&s->problems, 0, "it was replaced while being opened");
		return -ESTALE;
	}
	s->fd = fd;
	return 0;
}

static void inspect(const struct spool *sp, struct submission *s)
{
	_cleanup_close_ int pfd = -1;
	struct stat st;
	enum spool_kind kind;
	int r;

	/* O_PATH: look at whatever it is without opening it (no FIFO, no device side effects) */
	pfd = openat(s->dirfd, s->entry, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0 || fstat(pfd, &st) < 0) {
		diag_add(&s->problems, 0, "it vanished before it could be read");
		return;
	}
	kind = kind_of(st.st_mode);
	s->uid = st.st_uid;
	s->owner_known = true;
	s->user = sp->lookup(sp->userdata, st.st_uid);
	if (!s->name_valid)
		diag_add(&s->problems, 0,
			 "invalid fragment name %s: use 1-%d of a-z 0-9 . _ -, starting with a letter or digit",
			 s->shown, FRAGMENT_NAME_MAX);
	if (kind != SPOOL_REGULAR) {
		diag_add(&s->problems, 0, "it is %s, not a regular file", kind_name(kind));
		return;
	}
	if (st.st_nlink != 1) {
		diag_add(&s->problems, 0, "it has %ju hard links: submit a file of your own",
			 (uintmax_t)st.st_nlink);
		return;
	}
	/*
	 * Created in incoming, a file gets the daemon's group. Any other group means it was made
	 * elsewhere and linked in (its other name since removed): its content need not be its
	 * owner's, so it must not be judged as the owner's submission.
	 */
	if (st.st_gid != sp->gid) {
		diag_add(&s->problems, 0,
			 "it was not created in the spool (its group is %u): submit with natwarden submit",
			 (unsigned)st.st_gid);
		return;
	}
	/*
	 * A single-link regular file, taken into our own directory: whatever it is, it is only
	 * its owner's, so writing the verdict into it can hurt nobody else.
	 */
	if (open_checked(s, &st) < 0)
		return;
	if (!s->user) {
		const struct passwd *pw = getpwuid(st.st_uid);
		if (pw)
			diag_add(&s->problems, 0,
				 "user '%s' is not a submitter: policy.ini has no [submitter %s]",
				 pw->pw_name, pw->pw_name);
		else
			diag_add(&s->problems, 0, "uid %u is not a submitter (no such user)",
				 (unsigned)st.st_uid);
		return;
	}
	if (st.st_size > FRAGMENT_MAX_BYTES) {
		diag_add(&s->problems, 0, "it is %jd bytes, the limit is %d", (intmax_t)st.st_size,
			 FRAGMENT_MAX_BYTES);
		return;
	}
	if (!s->name_valid)
		return;
	r = read_fd_capped(s->fd, FRAGMENT_MAX_BYTES, &s->text, &s->len);
	if (r == -EFBIG)
		diag_add(&s->problems, 0, "it grew past the limit of %d bytes while being read",
			 FRAGMENT_MAX_BYTES);
	else if (r < 0)
		diag_add(&s->problems, 0, "it cannot be read: %s", strerror(-r));
	else if (verdict_is(s->text, s->len))
		s->judged_before = true;
}

int spool_take(const struct spool *sp, uint64_t seq, const char *name, struct submission **ret)
{
	struct submission *s;
	struct stat st;

	if (name[0] == '.')
		return -EINVAL;
	if (fstatat(sp->incoming, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -ENOENT;
	s = submission_new(name);
	if (!s)
		return -ENOMEM;
	/* Only regular files go to work: anything else is judged, and removed, where it is. */
	if (s->name_valid && S_ISREG(st.st_mode)) {
		snprintf(s->entry, sizeof(s->entry), "%020" PRIu64 "-%s", seq, name);
		if (renameat(sp->incoming, name, sp->work, s->entry) == 0) {
			s->dirfd = sp->work;
		} else if (errno == ENOENT) {
			submission_free(s);
			return -ENOENT;
		}
	}
	if (s->dirfd < 0) {
		s->dirfd = sp->incoming;
		snprintf(s->entry, sizeof(s->entry), "%s", name);
	}
	inspect(sp, s);
	/* Only a leftover in work can carry our verdict; a new file that looks so is a forgery. */
	s->judged_before = false;
	*ret = s;
	return 0;
}

int spool_take_work(const struct spool *sp, const char *entry, struct submission **ret)
{
	const char *dash = strchr(entry, '-');
	struct submission *s = submission_new(dash ? dash + 1 : entry);

	if (!s)
		return -ENOMEM;
	s->dirfd = sp->work;
	snprintf(s->entry, sizeof(s->entry), "%s", entry);
	inspect(sp, s);
	*ret = s;
	return 0;
}

int spool_finish(const struct spool *sp, struct submission *s, const char *verdict, size_t len,
		 uint64_t seq)
{
	char stuck[64];
	struct stat st;
	int r;

	if (s->fd >= 0 && s->can_answer && verdict) {
		/*
		 * Overwrite, then cut what is left of the fragment: truncating to 0 first would
		 * free the file's block only to allocate it again (slow with online discard).
		 */
		if (pwrite(s->fd, verdict, len, 0) != (ssize_t)len || ftruncate(s->fd, (off_t)len) < 0)
			s->can_answer = false;
	}
	if (fstatat(s->dirfd, s->entry, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0; /* already gone */
	if (unlinkat(s->dirfd, s->entry, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) == 0)
		return 0;
	r = -errno;
	/* Its owner's non-empty directory: out of the way, under a name nobody will judge. */
	snprintf(stuck, sizeof(stuck), ".stuck.%020" PRIu64, seq);
	renameat(s->dirfd, s->entry, sp->incoming, stuck);
	return r;
}

void submission_free(struct submission *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s->text);
	free(s);
}

bool spool_needs_attention_now(int incoming, const char *name)
{
	struct stat st;

	if (fstatat(incoming, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	/* a regular file is being written: its IN_CLOSE_WRITE will come */
	return !(S_ISREG(st.st_mode) && st.st_nlink == 1);
}

int spool_sweep(const struct spool *sp, int64_t now, size_t max, char ***ret, size_t *ret_n,
		int *ret_removed, struct spool_stuck *stuck, size_t stuck_max, size_t *ret_n_stuck)
{
	size_t n_stuck = 0;
	DIR *d = opendir_at(sp->incoming);
	char **names = NULL;
	struct dirent *de;
	size_t n = 0;
	int removed = 0;

	if (!d)
		return -errno;
	names = calloc(max + 1, sizeof(char *));
	if (!names) {
		closedir(d);
		return -ENOMEM;
	}
	while ((de = readdir(d))) {
		struct stat st;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(sp->incoming, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (de->d_name[0] == '.') {
			if (now - (int64_t)st.st_mtime <= SPOOL_STALE_SECONDS)
				continue;
			if (unlinkat(sp->incoming, de->d_name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) == 0)
				removed++;
			else if (n_stuck < stuck_max) {
				struct spool_stuck *k = &stuck[n_stuck++];
				str_quote(k->name, sizeof(k->name), de->d_name, strlen(de->d_name));
				k->ino = st.st_ino;
				k->uid = st.st_uid;
				k->error = errno;
			}
			continue;
		}
		if (S_ISREG(st.st_mode) && st.st_nlink == 1 &&
		    now - (int64_t)st.st_mtime < SPOOL_QUIET_SECONDS)
			continue; /* being written: its close comes, or the next sweep takes it */
		if (n < max && (names[n] = strdup(de->d_name)))
			n++;
	}
	closedir(d);
	*ret = names;
	*ret_n = n;
	*ret_removed = removed;
	*ret_n_stuck = n_stuck;
	return 0;
}

struct listed {
	char *name;
	int64_t ctime_ns;
};

static int compare_listed(const void *x, const void *y)
{
	const struct listed *a = x, *b = y;

	if (a->ctime_ns != b->ctime_ns)
		return a->ctime_ns < b->ctime_ns ? -1 : 1;
	return strcmp(a->name, b->name);
}

int spool_list(int dirfd, size_t max, char ***ret, size_t *ret_n, bool *ret_more)
{
	DIR *d = opendir_at(dirfd);
	struct listed *v = NULL;
	size_t n = 0, allocated = 0;
	struct dirent *de;

	/* defined on every return: a caller that misjudges an error still sees an empty list */
	*ret = NULL;
	*ret_n = 0;
	*ret_more = false;
	if (!d)
		return errno ? -errno : -EIO;
	while ((de = readdir(d))) {
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		if (n == max) {
			*ret_more = true;
			break;
		}
		if (n == allocated) {
			allocated = allocated ? allocated * 2 : 64;
			struct listed *grown = reallocarray(v, allocated, sizeof(*grown));
			if (!grown)
				break;
			v = grown;
		}
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		v[n].name = strdup(de->d_name);
		if (!v[n].name)
			break;
		v[n].ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
		n++;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), compare_listed);
	char **names = calloc(n + 1, sizeof(char *));
	if (!names) {
		for (size_t i = 0; i < n; i++)
			free(v[i].name);
		free(v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		names[i] = v[i].name;
	free(v);
	*ret = names;
	*ret_n = n;
	return 0;
}

void spool_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

uint64_t spool_max_seq(int work)
{
	char **names;
	size_t n;
	bool more;
	uint64_t max = 0;

	if (spool_list(work, SIZE_MAX, &names, &n, &more) < 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t seq = strtoull(names[i], NULL, 10);
		if (seq > max)
			max = seq;
	}
	spool_names_free(names, n);
	return max;
}
