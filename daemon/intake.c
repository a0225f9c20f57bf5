/* SPDX-License-Identifier: MIT */
#include "intake.h"

#include <acl/libacl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/acl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"

#define USERDIR_MODE 0770
#define WATCH_MASK (IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE | IN_ONLYDIR)
#include "intake-internal.h"

static uint64_t name_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return h == UINT64_MAX ? h - 1 : h;
}

int intake_new(int incoming, int work, struct intake **ret)
{
	struct intake *in = calloc(1, sizeof(*in));

	if (!in)
		return -ENOMEM;
	in->incoming = incoming;
	in->sp.work = work;
	u64map_init(&in->stuck_reported);
	in->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (in->inotify_fd < 0) {
		int r = -errno;
		intake_free(in);
		return r;
	}
	in->seq = spool_max_seq(work);
	*ret = in;
	return 0;
}

static void queue_clear(struct user_spool *u)
{
	for (size_t i = 0; i < u->queue_n; i++)
		free(u->queue[i]);
	u->queue_n = 0;
	u64map_clear(&u->queued);
}

static void user_close(struct intake *in, struct user_spool *u)
{
	if (u->scan)
		closedir(u->scan);
	u->scan = NULL;
	queue_clear(u);
	free(u->queue);
	u->queue = NULL;
	u64map_finish(&u->queued);
	if (u->wd >= 0)
		inotify_rm_watch(in->inotify_fd, u->wd);
	if (u->dirfd >= 0)
		close(u->dirfd);
	u->dirfd = u->wd = -1;
}

void intake_free(struct intake *in)
{
	if (!in)
		return;
	for (size_t i = 0; i < in->n_users; i++)
		user_close(in, &in->users[i]);
	free(in->users);
	u64map_finish(&in->stuck_reported);
	if (in->inotify_fd >= 0)
		close(in->inotify_fd);
	free(in);
}

int intake_fd(const struct intake *in)
{
	return in->inotify_fd;
}

const struct spool *intake_spool(const struct intake *in)
{
	return &in->sp;
}

uint64_t intake_next_seq(struct intake *in)
{
	return ++in->seq;
}

const char *intake_user_name(const struct intake *in, uid_t uid)
{
	for (size_t i = 0; i < in->n_users; i++)
		if (in->users[i].cfg.uid == uid)
			return in->users[i].name;
	return NULL;
}

/* ---- the directories ------------------------------------------------------------------ */

/* Set one ACL of a directory (held as `fd`) unless it is already exactly `text`. */
static int ensure_acl(int fd, acl_type_t type, const char *text)
{
	char path[64];
	acl_t want, have;
	int r = 0;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	want = acl_from_text(text);
	if (!want)
		return -errno;
	have = acl_get_file(path, type);
	if (!have || acl_cmp(have, want) != 0)
		r = acl_set_file(path, type, want) < 0 ? -errno : 0;
	if (have)
		acl_free(have);
	acl_free(want);
	return r;
}

/*
 * The directory's ACLs. Access: the daemon (owner and group) rwx, the submitter `uid` -wx (when
 * not -1), nobody else anything. Default, inherited by what the submitter creates there: the
 * daemon's user may read and answer it (within the mask the file's mode sets: the client
 * makes its files 0660), the file's group and others nothing. No setgid bit is needed (the
 * service may not make one: RestrictSUIDSGID=).
 */
static int set_acl(int fd, uid_t uid)
{
	char access[96], dflt[96];
	int r;

	if (uid == (uid_t)-1)
		snprintf(access, sizeof(access), "u::rwx,g::rwx,o::---");
	else
		snprintf(access, sizeof(access), "u::rwx,u:%u:-wx,g::rwx,m::rwx,o::---", (unsigned)uid);
	snprintf(dflt, sizeof(dflt), "u::rw-,u:%u:rw-,g::---,m::rw-,o::---", (unsigned)geteuid());
	r = ensure_acl(fd, ACL_TYPE_ACCESS, access);
	if (r == 0)
		r = ensure_acl(fd, ACL_TYPE_DEFAULT, dflt);
	return r;
}

/* Open (making it when missing) incoming/UID as the daemon's own, with its mode and ACL. */
static int userdir_open(struct intake *in, uid_t uid, char *why, size_t size)
{
	_cleanup_close_ int fd = -1;
	char name[16];
	struct stat st;
	int r;

	snprintf(name, sizeof(name), "%u", (unsigned)uid);
	fd = openat(in->incoming, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (mkdirat(in->incoming, name, 0700) < 0 && errno != EEXIST)
			goto fail;
		fd = openat(in->incoming, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0 || fstat(fd, &st) < 0)
		goto fail;
	if (st.st_uid != geteuid() || st.st_gid != getegid()) {
		snprintf(why, size,
			 "incoming/%s belongs to uid %u gid %u, not to the daemon: remove it so natwardend makes it anew",
			 name, (unsigned)st.st_uid, (unsigned)st.st_gid);
		return -EPERM;
	}
	if ((st.st_mode & 07777) != USERDIR_MODE && fchmod(fd, USERDIR_MODE) < 0)
		goto fail;
	r = set_acl(fd, uid);
	if (r < 0) {
		snprintf(why, size, "cannot set the ACL of incoming/%s: %s%s", name, strerror(-r),
			 r == -EOPNOTSUPP ? " (the spool's file system must support POSIX ACLs)" : "");
		return r;
	}
	return steal_fd(&fd);
fail:
	r = -errno;
	snprintf(why, size, "cannot make incoming/%s: %s", name, strerror(errno));
	return r;
}

static int watch(struct intake *in, int dirfd)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", dirfd);
	int wd = inotify_add_watch(in->inotify_fd, path, WATCH_MASK);
	return wd < 0 ? -errno : wd;
}

struct user_spool *find_user(struct intake *in, uid_t uid)
{
	for (size_t i = 0; i < in->n_users; i++)
		if (in->users[i].cfg.uid == uid)
			return &in->users[i];
	return NULL;
}

/* A submitter no longer: it may not write there any more; what it left stays until it returns. */
static void user_retire(struct intake *in, struct user_spool *u)
{
	if (u->dirfd >= 0)
		(void)set_acl(u->dirfd, (uid_t)-1);
	user_close(in, u);
}

static int user_setup(struct intake *in, struct user_spool *u, const struct intake_user *cfg,
		      struct diag_list *warnings)
{
	char why[300];
	int fd, wd;

	u->cfg = *cfg;
	snprintf(u->name, sizeof(u->name), "%s", cfg->name);
	u->cfg.name = u->name;
	if (u->dirfd < 0) {
		fd = userdir_open(in, cfg->uid, why, sizeof(why));
		if (fd < 0) {
			diag_add(warnings, 0, "[submitter %s]: %s; its submissions wait until it is fixed",
				 cfg->name, why);
			return fd == -ENOMEM ? fd : 0;
		}
		wd = watch(in, fd);
		if (wd < 0) {
			diag_add(warnings, 0, "[submitter %s]: cannot watch incoming/%u: %s", cfg->name,
				 (unsigned)cfg->uid, strerror(-wd));
			close(fd);
			return 0;
		}
		u->dirfd = fd;
		u->wd = wd;
		u->rescan = true;
	}
	/* a lower limit applies to what is queued already */
	char **grown = reallocarray(u->queue, cfg->max_entries + 1, sizeof(char *));
	if (!grown)
		return -ENOMEM;
	u->queue = grown;
	while (u->queue_n > cfg->max_entries) {
		char *name = u->queue[--u->queue_n];
		u64map_remove(&u->queued, name_hash(name));
		free(name);
		u->rescan = true;
	}
	return 0;
}

int intake_set_users(struct intake *in, const struct intake_user *users, size_t n,
		     struct diag_list *warnings)
{
	struct user_spool *next = calloc(n + 1, sizeof(*next));
	size_t kept = 0;
	int r = 0;

	if (!next)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct user_spool *old = find_user(in, users[i].uid);
		struct user_spool *u = &next[kept];
		if (old) {
			*u = *old; /* its directory, watch, queue and counters move over */
			old->dirfd = old->wd = -1;
			old->scan = NULL;
			old->queue = NULL;
			old->queue_n = 0;
			u64map_init(&old->queued);
		} else {
			u->dirfd = u->wd = -1;
			u64map_init(&u->queued);
		}
		r = user_setup(in, u, &users[i], warnings);
		if (r < 0)
			break;
		kept++;
	}
	if (r < 0) {
		for (size_t i = 0; i < kept; i++)
			user_close(in, &next[i]);
		free(next);
		return r;
	}
	for (size_t i = 0; i < in->n_users; i++)
		user_retire(in, &in->users[i]);
	free(in->users);
	in->users = next;
	in->n_users = kept;
	in->next_take = in->next_sweep = 0;
	return 0;
}

/* ---- queues ----------------------------------------------------------------------------- */

bool queue_has(const struct user_spool *u, const char *name)
{
	return u64map_get(&u->queued, name_hash(name), NULL);
}

/* Queue a name; false when the queue is full (the sweep finds the rest). */
bool queue_push(struct user_spool *u, const char *name)
{
	char *copy;

	if (queue_has(u, name))
		return true;
	if (u->queue_n >= u->cfg.max_entries || !(copy = strdup(name))) {
		u->rescan = true;
		return false;
	}
	if (u64map_put(&u->queued, name_hash(name), 1) < 0) {
		free(copy);
		u->rescan = true;
		return false;
	}
	u->queue[u->queue_n++] = copy;
	return true;
}

static char *queue_pop(struct user_spool *u)
{
	char *name;

	if (!u->queue_n)
		return NULL;
	name = u->queue[0];
	memmove(u->queue, u->queue + 1, (u->queue_n - 1) * sizeof(char *));
	u->queue_n--;
	u64map_remove(&u->queued, name_hash(name));
	return name;
}

static struct user_spool *user_of_wd(struct intake *in, int wd)
{
	for (size_t i = 0; i < in->n_users; i++)
		if (in->users[i].wd == wd)
			return &in->users[i];
	return NULL;
}

/* For IN_CREATE: act now, or wait for the close (a regular file being written)? */
static bool needs_attention_now(int dirfd, const char *name)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	return !(S_ISREG(st.st_mode) && st.st_nlink == 1);
}

bool intake_read_events(struct intake *in)
{
	char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		ssize_t n = read(in->inotify_fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			struct user_spool *u;
			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				intake_rescan_all(in);
				continue;
			}
			if (!ev->len || ev->name[0] == '.' || !(u = user_of_wd(in, ev->wd)))
				continue;
			if ((ev->mask & IN_CREATE) && !needs_attention_now(u->dirfd, ev->name))
				continue;
			queue_push(u, ev->name);
		}
	}
	return intake_has_work(in);
}

bool intake_has_work(const struct intake *in)
{
	for (size_t i = 0; i < in->n_users; i++)
		if (in->users[i].queue_n || in->users[i].rescan)
			return true;
	return false;
}

void intake_rescan_all(struct intake *in)
{
	for (size_t i = 0; i < in->n_users; i++)
		in->users[i].rescan = true;
}

/* ---- taking ----------------------------------------------------------------------------- */

static void refuse_rate(struct user_spool *u, struct submission *s, int64_t wait_ms)
{
	s->quiet = true;
	diag_add(&s->problems, 0,
		 "%s submits faster than max_submissions_per_minute = %u: refused unjudged; try again in %" PRId64 " s",
		 u->name, u->cfg.per_minute, (wait_ms + 999) / 1000);
	u->rate_limited++;
}

/* One entry of `u`'s queue, taken; false when its queue is empty. */
static bool take_one(struct intake *in, struct user_spool *u, int64_t now_ms, struct submission **ret)
{
	char *name;

	while ((name = queue_pop(u))) {
		int64_t wait_ms = 0;
		struct submission *s = NULL;
		struct stat st;
		/* gone already (replaced or removed by its owner): no answer, and no token spent */
		if (fstatat(u->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			free(name);
			continue;
		}
		bool allowed = ratelimit_take(&u->rate, u->cfg.per_minute, now_ms, &wait_ms);
		int r = spool_take(&in->sp, u->dirfd, u->cfg.uid, u->name, intake_next_seq(in), name,
				   &st, allowed, &s);
		free(name);
		if (r < 0)
			continue; /* gone already: nothing to answer */
		if (!allowed)
			refuse_rate(u, s, wait_ms);
		*ret = s;
		return true;
	}
	return false;
}

size_t intake_take(struct intake *in, int64_t now_ms, struct submission **subs, size_t max)
{
	size_t taken = 0;
	bool progress = true;

	if (!in->n_users)
		return 0;
	while (taken < max && progress) {
		progress = false;
		for (size_t k = 0; k < in->n_users && taken < max; k++) {
			struct user_spool *u = &in->users[(in->next_take + k) % in->n_users];
			if (!u->queue_n && u->rescan && u->dirfd >= 0) {
				struct intake_sweep_result res = { 0 };
				u->rescan = false;
				if (scan_user(in, u, 0, u->cfg.max_entries + 256, &res) > 0)
					u->rescan = true;
			}
			if (take_one(in, u, now_ms, &subs[taken])) {
				taken++;
				progress = true;
			}
		}
		in->next_take = (in->next_take + 1) % in->n_users;
	}
	return taken;
}

static const char *lookup(void *userdata, uid_t uid)
{
	return intake_user_name(userdata, uid);
}


size_t intake_take_leftovers(struct intake *in, struct submission **subs, size_t max)
{
	char **names;
	size_t n, taken = 0;

	if (spool_list_work(in->sp.work, max, &names, &n) < 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (leftover_directory(in, names[i]))
			continue;
		if (spool_take_work(&in->sp, names[i], lookup, in, &subs[taken]) < 0) {
			/* not a name we made (nobody else can write work): remove it unjudged */
			unlinkat(in->sp.work, names[i], 0);
			continue;
		}
		taken++;
	}
	spool_names_free(names, n);
	return taken;
}
