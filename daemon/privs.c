/* SPDX-License-Identifier: MIT */
#include "privs.h"

#include <cap-ng.h>
#include <errno.h>
#include <grp.h>
#include <stdbool.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static int fail(int r, char *why, size_t size, const char *what)
{
	snprintf(why, size, "%s: %s", what, strerror(r < 0 ? -r : r));
	return r < 0 ? r : -r;
}

/*
 * Does the process hold CAP_NET_ADMIN, effective and permitted, and no other capability in
 * any set (the inheritable set may hold CAP_NET_ADMIN: ambient capabilities need it there)?
 */
static bool only_net_admin(void)
{
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_get_caps_process() < 0 ||
	    !capng_have_capability(CAPNG_EFFECTIVE, CAP_NET_ADMIN) ||
	    !capng_have_capability(CAPNG_PERMITTED, CAP_NET_ADMIN))
		return false;
	for (unsigned c = 0; c <= CAP_LAST_CAP; c++)
		if (c != CAP_NET_ADMIN && (capng_have_capability(CAPNG_EFFECTIVE, c) ||
					   capng_have_capability(CAPNG_PERMITTED, c) ||
					   capng_have_capability(CAPNG_INHERITABLE, c)))
			return false;
	return true;
}

/* After the drop: exactly CAP_NET_ADMIN, as nobody but uid/gid. */
static int verify(uid_t uid, gid_t gid, char *why, size_t size)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return fail(-errno, why, size, "cannot read ids");
	if (ru != uid || eu != uid || su != uid || rg != gid || eg != gid || sg != gid)
		return fail(-EPERM, why, size, "ids did not change as asked");
	if (!only_net_admin())
		return fail(-EPERM, why, size, "CAP_NET_ADMIN is not held, or not alone");
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return fail(-EPERM, why, size, "no_new_privs is not set");
	return 0;
}

static int drop_from_root(uid_t uid, gid_t gid, char *why, size_t size)
{
	int r;

	capng_clear(CAPNG_SELECT_ALL);
	if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_NET_ADMIN) < 0)
		return fail(-EINVAL, why, size, "cannot prepare the capability set");
	r = capng_change_id((int)uid, (int)gid,
			    CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING | CAPNG_CLEAR_AMBIENT);
	if (r < 0) {
		/* libcap-ng's codes: -1..-4 before the id change, -5..-9 around it */
		char what[96];
		snprintf(what, sizeof(what), "capng_change_id(%u, %u) failed at step %d",
			 (unsigned)uid, (unsigned)gid, -r);
		return fail(errno ? -errno : -EPERM, why, size, what);
	}
	return 0;
}

static int drop_as_user(gid_t gid, char *why, size_t size)
{
	gid_t groups[64];
	int n;

	/*
	 * systemd's User= with AmbientCapabilities=CAP_NET_ADMIN hands over exactly that: then
	 * nothing is left to clear, and the unit's system call filter may forbid capset(2).
	 */
	if (!only_net_admin()) {
		capng_clear(CAPNG_SELECT_CAPS);
		if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_NET_ADMIN) < 0 ||
		    capng_apply(CAPNG_SELECT_CAPS) < 0)
			return fail(errno ? -errno : -EPERM, why, size,
				    "cannot clear other capabilities");
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return fail(-errno, why, size, "cannot clear ambient capabilities");
	/*
	 * Without CAP_SETGID the groups can only be checked, not changed. systemd's User= (like
	 * su and login) calls initgroups(), which lists the primary group again: that one is
	 * harmless, any other is not.
	 */
	n = getgroups((int)(sizeof(groups) / sizeof(groups[0])), groups);
	for (int i = 0; n < 0 || i < n; i++)
		if (n < 0 || groups[i] != gid)
			return fail(-EPERM, why, size,
				    "started with supplementary groups besides its own: start as root, or without them");
	return 0;
}

int privs_drop(uid_t uid, gid_t gid, char *why, size_t size)
{
	int r;

	if (geteuid() == 0)
		r = drop_from_root(uid, gid, why, size);
	else if (geteuid() == uid)
		r = drop_as_user(gid, why, size);
	else {
		char what[96];
		snprintf(what, sizeof(what), "started as uid %u: run as root or as uid %u",
			 (unsigned)geteuid(), (unsigned)uid);
		return fail(-EPERM, why, size, what);
	}
	if (r < 0)
		return r;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return fail(-errno, why, size, "cannot set no_new_privs");
	return verify(uid, gid, why, size);
}
