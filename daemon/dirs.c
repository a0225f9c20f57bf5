/* SPDX-License-Identifier: MIT */
#include "dirs.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"

static int fail(int r, char *why, size_t size, const char *fmt, ...) _printf_(4, 5);
static int fail(int r, char *why, size_t size, const char *fmt, ...)
{
	char what[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(why, size, "%s%s%s", what, r == -EPERM ? "" : ": ",
		 r == -EPERM ? "" : strerror(-r));
	return r;
}

static void describe(char *buf, size_t size, uid_t uid, gid_t gid, mode_t mode)
{
	struct passwd *pw = getpwuid(uid);
	struct group *gr = getgrgid(gid);
	char u[32], g[32];

	snprintf(u, sizeof(u), "%u", (unsigned)uid);
	snprintf(g, sizeof(g), "%u", (unsigned)gid);
	snprintf(buf, size, "%s:%s %04o", pw ? pw->pw_name : u, gr ? gr->gr_name : g,
		 (unsigned)(mode & 07777));
}

/*
 * Every directory above ours must be safe from submitters: owned by root or the daemon, and
 * not writable by group or others unless sticky (like /tmp), or they could move ours away.
 */
static int check_ancestors(const char *path, uid_t daemon_uid, char *why, size_t size)
{
	char buf[300];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *slash = strrchr(buf, '/'); slash; slash = strrchr(buf, '/')) {
		struct stat st;
		*slash = '\0';
		const char *dir = buf[0] ? buf : "/";
		if (stat(dir, &st) < 0)
			return fail(-errno, why, size, "cannot check %s", dir);
		if (st.st_uid != 0 && st.st_uid != daemon_uid) {
			snprintf(why, size, "%s is owned by uid %u: a directory above %s must be owned by root",
				 dir, (unsigned)st.st_uid, path);
			return -EPERM;
		}
		if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
			snprintf(why, size, "%s is writable by group or others (%04o): others could replace %s",
				 dir, (unsigned)(st.st_mode & 07777), path);
			return -EPERM;
		}
		if (!buf[0])
			break;
	}
	return 0;
}

/* Open (creating as root when missing) one directory and insist on owner, group and mode. */
static int open_dir(int parent, const char *path, const char *name, uid_t uid, gid_t gid,
		    mode_t mode, char *why, size_t size)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (geteuid() != 0) {
			snprintf(why, size,
				 "%s is missing: create it with systemd-tmpfiles --create natwarden.conf, or start natwardend as root once",
				 path);
			return -ENOENT;
		}
		if (mkdirat(parent, name, 0700) < 0 && errno != EEXIST)
			return fail(-errno, why, size, "cannot create %s", path);
		fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return fail(-errno, why, size, "cannot open %s", path);
		if (fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0)
			return fail(-errno, why, size, "cannot set the owner and mode of %s", path);
	}
	if (fd < 0)
		return fail(-errno, why, size, "%s %s", path,
			    errno == ELOOP || errno == ENOTDIR ? "is not a directory" : "cannot be opened");
	if (fstat(fd, &st) < 0)
		return fail(-errno, why, size, "cannot check %s", path);
	if (st.st_uid != uid || st.st_gid != gid || (st.st_mode & 07777) != mode) {
		char found[96], wanted[96];
		describe(found, sizeof(found), st.st_uid, st.st_gid, st.st_mode);
		describe(wanted, sizeof(wanted), uid, gid, mode);
		snprintf(why, size,
			 "%s is %s, it must be %s, or submitters could see or tamper with what is not theirs (fix it, or remove it so natwardend recreates it)",
			 path, found, wanted);
		return -EPERM;
	}
	return steal_fd(&fd);
}

static int open_top(const char *path, uid_t uid, gid_t gid, mode_t mode, char *why, size_t size)
{
	_cleanup_close_ int parent = -1;
	char dir[300];
	const char *base = strrchr(path, '/') + 1;
	int r;

	r = check_ancestors(path, uid, why, size);
	if (r < 0)
		return r;
	snprintf(dir, sizeof(dir), "%.*s", (int)(base - path - 1), path);
	parent = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (parent < 0)
		return fail(-errno, why, size, "cannot open %s", dir[0] ? dir : "/");
	return open_dir(parent, path, base, uid, gid, mode, why, size);
}

int dirs_open(struct dirs *d, const struct policy *p, char *why, size_t size)
{
	const struct passwd *pw = getpwnam(p->daemon.user);
	const struct group *gr;
	char path[320];
	int r;

	*d = (struct dirs){ -1, -1, -1, -1, -1, 0, 0, 0 };
	if (!pw) {
		snprintf(why, size, "[daemon] user '%s' does not exist (see sysusers.d/natwarden.conf)",
			 p->daemon.user);
		return -ENOENT;
	}
	d->uid = pw->pw_uid;
	d->gid = pw->pw_gid;
	gr = getgrnam(p->daemon.group);
	if (!gr) {
		snprintf(why, size, "[daemon] group '%s' does not exist (see sysusers.d/natwarden.conf)",
			 p->daemon.group);
		return -ENOENT;
	}
	d->submit_gid = gr->gr_gid;
	if (d->uid == 0) {
		snprintf(why, size, "[daemon] user '%s' is root: use an unprivileged user", p->daemon.user);
		return -EPERM;
	}

	if ((r = open_top(p->daemon.spool, d->uid, d->submit_gid, 0710, why, size)) < 0)
		goto fail;
	d->spool = r;
	snprintf(path, sizeof(path), "%s/incoming", p->daemon.spool);
	if ((r = open_dir(d->spool, path, "incoming", d->uid, d->submit_gid, 0710, why, size)) < 0)
		goto fail;
	d->incoming = r;
	snprintf(path, sizeof(path), "%s/work", p->daemon.spool);
	if ((r = open_dir(d->spool, path, "work", d->uid, d->gid, 0700, why, size)) < 0)
		goto fail;
	d->work = r;
	if ((r = open_top(p->daemon.state, d->uid, d->gid, 0700, why, size)) < 0)
		goto fail;
	d->state = r;
	if ((r = open_top(p->daemon.runtime, d->uid, d->submit_gid, 0750, why, size)) < 0)
		goto fail;
	d->runtime = r;
	return 0;
fail:
	dirs_close(d);
	return r;
}

void dirs_close(struct dirs *d)
{
	int *fds[] = { &d->spool, &d->incoming, &d->work, &d->state, &d->runtime };

	for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
		int *fd = fds[i];
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
}
