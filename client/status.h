/* SPDX-License-Identifier: MIT */
#pragma once

#include "active.h"
#include "statusfile.h"

/* The daemon's RUNTIME/status file, as the client reads it (format: common/statusfile.h). */

/* Read and parse RUNTIME/status. -ENOENT when there is none; -EBADMSG when it is not one. */
int status_read(const char *runtime, struct statusfile *ret);

/* The active fragments the status file lists, rebuilt for the verdict engine. */
int status_active_set(const struct statusfile *s, struct active_set **ret);

/* Is the daemon of that status file still running? */
int status_daemon_alive(const struct statusfile *s);
