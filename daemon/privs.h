/* SPDX-License-Identifier: MIT */
#pragma once

#include <sys/types.h>

/*
 * The one place where natwardend gives up privilege. Started as root: become uid/gid (the
 * [daemon] user and its primary group), no supplementary groups, keep only CAP_NET_ADMIN
 * (effective and permitted), empty bounding and ambient sets, no_new_privs. Started as that
 * user with CAP_NET_ADMIN (systemd User= and AmbientCapabilities=): clear every other
 * capability it holds the same way. Returns 0 or a negative errno; the caller must exit on
 * failure. Writes a description of what failed to `why`.
 */
int privs_drop(uid_t uid, gid_t gid, char *why, size_t size);
