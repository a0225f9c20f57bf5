/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <syslog.h>

#include "macro.h"

/*
 * The daemon's one logging module. Plain messages go to stderr with sd-daemon's "<N>" level
 * prefixes. Audit events (verdicts, reloads, recoveries, fatal errors) are structured journal
 * entries with a MESSAGE_ID and NATWARDEN_* fields when journald is reachable, and the same
 * line on stderr otherwise (or additionally, when stderr is not already the journal).
 */

/* MESSAGE_IDs, one per kind of event: documented in README.md and systemd/natwarden.catalog. */
#define MID_ACCEPTED "50c4e8d60983493681daec5e53b14533"
#define MID_REJECTED "fcef0e3d545943d185c1a869747687c0"
#define MID_WITHDRAWN "6b8e11fdb72e4fd4bb219f0dab7f43b7"
#define MID_EXPIRED "eddb1fd448f14b7eba6628814a81fedf"
#define MID_REVOKED "203f4c6959bf4b8fa8d54311f475e68d"
#define MID_RELOADED "48b107baf2d8469ab8ff07e970d42a1f"
#define MID_RELOAD_FAILED "817469b6cc9e43d592f5cb62d61df3d6"
#define MID_RECOVERED "7f55188a2d6445feb715a25d6d906b61"
#define MID_FATAL "c8473ed9afeb469c9f02c669f91fd36f"
#define MID_STARTED "d4b9f00b1d594207b4bbd8f26622b7c9"
#define MID_STOPPED "0bf60f9dfbcb4d5a89956c62c690e742"
#define MID_LIMITED "3a2489169bf94a5fa3777777ce272242"
#define MID_WAN "5ecb56b0694b4beeb893fde83f067200"
#define MID_ADMIN_DROPS "9dfcb49d17464dd4a7d0ef504c1e9663"
#define MID_ADMIN_ADMITS "0334ba5bff9b4c3582a66dab35053bf8"

struct log_field {
	const char *name; /* without the NATWARDEN_ prefix, e.g. "USER" */
	const char *value;
};

/* Find out where the journal is. Call again after changing namespaces or privileges. */
void log_open(void);
void log_set_max_level(int level);
/* Is journald reachable (its socket accepts a connection)? */
int log_journal_reachable(void);

int log_internal(int level, int error, const char *fmt, ...) _printf_(3, 4);

/* One audit event: MESSAGE from fmt, MESSAGE_ID, and NATWARDEN_<name>=<value> fields. */
void log_event(int level, const char *message_id, const struct log_field *fields, size_t n_fields,
	       const char *fmt, ...) _printf_(5, 6);

#define log_debug(...) log_internal(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_internal(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_internal(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_internal(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_internal(LOG_ERR, 0, __VA_ARGS__)
/* These return the (negative) error they were given, so "return log_error_errno(r, ...)". */
#define log_warning_errno(r, ...) log_internal(LOG_WARNING, (r), __VA_ARGS__)
#define log_error_errno(r, ...) log_internal(LOG_ERR, (r), __VA_ARGS__)
