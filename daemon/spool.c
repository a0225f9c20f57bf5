/* SPDX-License-Identifier: MIT */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <stddef.h>
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
	};
	return names[k];
}

static struct submission *submission_new(const char *name, uid_t uid, const char *user)
{
	struct submission *s = malloc(sizeof(*s));

	if (!s)
		return NULL;
	/* all zero but the room for problems (kilobytes, written only as far as used) */
	memset(s, 0, offsetof(struct submission, problems));
	s->fd = -1;
	s->dirfd = -1;
	s->uid = uid;
	s->user = user;
	diag_init(&s->problems);
	s->name_valid = fragment_name_valid(name, strlen(name));
	if (s->name_valid)
		snprintf(s->name, sizeof(s->name), "%s", name);
	str_quote(s->shown, sizeof(s->shown), name, strlen(name));
	return s;
}

/*
 * Open the regular file we have looked at, for reading and for the answer; `st` becomes what
 * the opened file is (the same inode, or it is refused).
 */
static int open_checked(struct submission *s, const struct stat *seen, struct stat *st)
{
	int fd;

	fd = openat(s->dirfd, s->entry, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0)
		s->can_answer = true;
	else if (errno == EACCES)
		fd = openat(s->dirfd, s->entry, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		int saved = errno;
		diag_add(&s->problems, 0,
			 "the daemon cannot read it (%s): make it 0660, as natwarden submit does",
			 strerror(saved));
		return saved > 0 ? -saved : -EIO;
	}
	if (fstat(fd, st) < 0 || st->st_dev != seen->st_dev || st->st_ino != seen->st_ino) {
		close(fd);
		s->can_answer = false;
		diag_add(&s->problems, 0, "it was replaced while being opened");
		return -ESTALE;
	}
	s->fd = fd;
	return 0;
}

static void not_a_submitter(struct submission *s)
{
	const struct passwd *pw = getpwuid(s->uid);

	if (pw)
		diag_add(&s->problems, 0, "user '%s' is not a submitter: policy.ini has no [submitter %s]",
			 pw->pw_name, pw->pw_name);
	else
		diag_add(&s->problems, 0, "uid %u is not a submitter (no such user)", (unsigned)s->uid);
}

/* The first findings that make judging pointless, from what the kernel says of the entry. */
static bool acceptable_kind(struct submission *s, const struct stat *st)
{
	enum spool_kind kind = kind_of(st->st_mode);

	if (!s->name_valid)
		diag_add(&s->problems, 0,
			 "invalid fragment name %s: use 1-%d of a-z 0-9 . _ -, starting with a letter or digit",
			 s->shown, FRAGMENT_NAME_MAX);
	if (st->st_uid != s->uid) {
		/* only its user can put anything into a user's directory: it moved this in */
		diag_add(&s->problems, 0,
			 "it belongs to uid %u, not to uid %u whose spool directory it is in: submit files of your own",
			 (unsigned)st->st_uid, (unsigned)s->uid);
		return false;
	}
	if (kind != SPOOL_REGULAR) {
		diag_add(&s->problems, 0, "it is %s, not a regular file", kind_name(kind));
		return false;
	}
	if (st->st_nlink != 1) {
		diag_add(&s->problems, 0, "it has %ju hard links: submit a file of your own",
			 (uintmax_t)st->st_nlink);
		return false;
	}
	return true;
}

/*
 * Look at the entry without opening it (no FIFO, no device side effects): `seen`, when the
 * caller has just done so, else now. Only a regular file is opened, and only as this inode.
 */
static void inspect(struct submission *s, const struct stat *seen, bool read_it)
{
	struct stat st, opened = { 0 };
	int r;

	if (seen)
		st = *seen;
	else if (fstatat(s->dirfd, s->entry, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		diag_add(&s->problems, 0, "it vanished before it could be read");
		return;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->owner = st.st_uid;
	s->owner_known = true;
	if (s->in_place && !S_ISDIR(st.st_mode)) {
		/* what is judged in the user's directory is a directory, never opened: swapped */
		diag_add(&s->problems, 0, "it was replaced while being taken");
		return;
	}
	if (!acceptable_kind(s, &st))
		return;
	/* A single-link regular file of its own: writing the verdict into it hurts nobody else. */
	if (open_checked(s, &st, &opened) < 0)
		return;
	if (!s->user) {
		not_a_submitter(s);
		return;
	}
	if (opened.st_size > FRAGMENT_MAX_BYTES) {
		diag_add(&s->problems, 0, "it is %jd bytes, the limit is %d", (intmax_t)opened.st_size,
			 FRAGMENT_MAX_BYTES);
		return;
	}
	if (!s->name_valid || !read_it)
		return;
	r = read_file_capped(s->fd, (size_t)opened.st_size, FRAGMENT_MAX_BYTES, &s->text, &s->len);
	if (r == -EFBIG)
		diag_add(&s->problems, 0, "it grew past the limit of %d bytes while being read",
			 FRAGMENT_MAX_BYTES);
	else if (r < 0)
		diag_add(&s->problems, 0, "it cannot be read: %s", strerror(-r));
	else if (verdict_is(s->text, s->len))
		s->judged_before = true;
}

/*
 * A directory is judged in its user's directory (moving it elsewhere needs write access to
 * it), under a dot-name first, so that no scan queues it again meanwhile; it is removed only
 * if it is still this inode.
 */
static int take_in_place(int userdir, const char *name, uint64_t seq, struct submission *s)
{
	s->dirfd = userdir;
	s->in_place = true;
	snprintf(s->entry, sizeof(s->entry), ".taken.%020" PRIu64, seq);
	if (renameat(userdir, name, userdir, s->entry) < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	return 0;
}

/*
 * Anything else goes into work first. The user may have swapped a directory in for what was
 * looked at (and made it writable, so the move went through): a directory in work would be
 * the user's there for good, so it goes straight back, to be judged where it belongs.
 */
static int take_into_work(const struct spool *sp, int userdir, const char *name, uint64_t seq,
			  struct submission *s, struct stat *st, bool *seen)
{
	snprintf(s->entry, sizeof(s->entry), "%020" PRIu64 "-%u-%s", seq, (unsigned)s->uid,
		 s->name_valid ? name : "");
	if (renameat(userdir, name, sp->work, s->entry) < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	s->dirfd = sp->work;
	/* what is seen here is what inspect() looks at: work is ours, nobody changes it */
	*seen = fstatat(sp->work, s->entry, st, AT_SYMLINK_NOFOLLOW) == 0;
	if (*seen && S_ISDIR(st->st_mode)) {
		char back[64];
		*seen = false;
		snprintf(back, sizeof(back), ".taken.%020" PRIu64, seq);
		if (renameat(sp->work, s->entry, userdir, back) == 0) {
			snprintf(s->entry, sizeof(s->entry), "%s", back);
			s->dirfd = userdir;
			s->in_place = true;
		}
	}
	return 0;
}

int spool_take(const struct spool *sp, int userdir, uid_t uid, const char *user, uint64_t seq,
	       const char *name, const struct stat *looked, bool read_it, struct submission **ret)
{
	struct submission *s;
	struct stat st, in_work;
	bool seen = false;
	int r;

	if (name[0] == '.')
		return -EINVAL;
	if (looked)
		st = *looked;
	else if (fstatat(userdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -ENOENT;
	s = submission_new(name, uid, user);
	if (!s)
		return -ENOMEM;
	r = S_ISDIR(st.st_mode) ? take_in_place(userdir, name, seq, s) :
				  take_into_work(sp, userdir, name, seq, s, &in_work, &seen);
	if (r < 0) {
		submission_free(s);
		return r;
	}
	inspect(s, seen ? &in_work : NULL, read_it);
	/* Only a leftover in work can carry our verdict; a new file that looks so is a forgery. */
	s->judged_before = false;
	*ret = s;
	return 0;
}

/* "SEQ-UID-NAME" as made by spool_take: the uid and where the name starts. */
static int parse_work_name(const char *entry, uid_t *ret_uid, const char **ret_name)
{
	const char *p, *dash;
	uint32_t uid;

	if (strlen(entry) < 22 || entry[20] != '-')
		return -EINVAL;
	for (size_t i = 0; i < 20; i++)
		if (!char_is_digit(entry[i]))
			return -EINVAL;
	p = entry + 21;
	dash = strchr(p, '-');
	if (!dash || parse_uint32(p, (size_t)(dash - p), 0, UINT32_MAX - 1, &uid) < 0)
		return -EINVAL;
	*ret_uid = uid;
	*ret_name = dash + 1;
	return 0;
}

int spool_take_work(const struct spool *sp, const char *entry, spool_user_lookup lookup,
		    void *userdata, struct submission **ret)
{
	const char *name;
	struct submission *s;
	uid_t uid;

	if (parse_work_name(entry, &uid, &name) < 0)
		return -EINVAL;
	s = submission_new(name, uid, lookup(userdata, uid));
	if (!s)
		return -ENOMEM;
	s->dirfd = sp->work;
	snprintf(s->entry, sizeof(s->entry), "%s", entry);
	inspect(s, NULL, true);
	*ret = s;
	return 0;
}

/* A directory judged in its user's directory: remove it only if it is still what was judged. */
static int remove_in_place(struct submission *s, uint64_t seq)
{
	char stuck[64];
	struct stat st;
	int r;

	if (fstatat(s->dirfd, s->entry, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0; /* already gone */
	if (st.st_dev != s->dev || st.st_ino != s->ino)
		return 0; /* its user replaced it: a new entry, for the next round */
	if (unlinkat(s->dirfd, s->entry, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) == 0)
		return 0;
	r = -errno;
	/* a non-empty directory: out of the way, under a name nobody judges */
	snprintf(stuck, sizeof(stuck), ".stuck.%020" PRIu64, seq);
	if (renameat(s->dirfd, s->entry, s->dirfd, stuck) < 0)
		return -errno;
	return r;
}

void spool_answer(struct submission *s, const char *verdict, size_t len)
{
	if (s->fd >= 0 && s->can_answer && verdict) {
		struct stat st;
		/*
		 * Overwrite, then cut what is left of the fragment: truncating to 0 first would
		 * free the file's block only to allocate it again (slow with online discard). A
		 * file no longer than the verdict has nothing to cut; a truncation anyway would
		 * free the blocks its client reserved past the end, a journalled change the
		 * submitter waits for (ext4: 0.3-3 ms).
		 */
		errno = 0;
		if (pwrite(s->fd, verdict, len, 0) != (ssize_t)len || fstat(s->fd, &st) < 0 ||
		    (st.st_size > (off_t)len && ftruncate(s->fd, (off_t)len) < 0)) {
			s->answer_error = errno ? -errno : -EIO;
			s->can_answer = false;
		}
	}
}

int spool_remove(const struct spool *sp, struct submission *s, uint64_t seq)
{
	if (s->dirfd != sp->work)
		return remove_in_place(s, seq);
	/* in work, which is ours alone: nobody can have put anything else under this name */
	if (unlinkat(sp->work, s->entry, 0) < 0 && errno != ENOENT &&
	    (errno != EISDIR || unlinkat(sp->work, s->entry, AT_REMOVEDIR) < 0))
		return -errno;
	return 0;
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

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int spool_list_work(int work, size_t max, char ***ret, size_t *ret_n)
{
	DIR *d = opendir_at(work);
	char **names = NULL;
	size_t n = 0, allocated = 0;
	struct dirent *de;

	*ret = NULL;
	*ret_n = 0;
	if (!d)
		return errno ? -errno : -EIO;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == allocated) {
			allocated = allocated ? allocated * 2 : 64;
			char **grown = reallocarray(names, allocated + 1, sizeof(char *));
			if (!grown)
				break;
			names = grown;
		}
		if (!(names[n] = strdup(de->d_name)))
			break;
		n++;
	}
	closedir(d);
	/* names are "SEQUENCE-UID-NAME": sorted, they are in arrival order */
	if (n)
		qsort(names, n, sizeof(char *), compare_names);
	if (n > max) {
		for (size_t i = max; i < n; i++)
			free(names[i]);
		n = max;
	}
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
	uint64_t max = 0;

	if (spool_list_work(work, SIZE_MAX, &names, &n) < 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t seq = strtoull(names[i], NULL, 10);
		if (seq > max)
			max = seq;
	}
	spool_names_free(names, n);
	return max;
}
