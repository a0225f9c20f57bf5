/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct policy;

/* Exit codes of the client, documented in natwarden(1). */
enum {
	EXIT_ACCEPTED = 0,
	EXIT_REJECTED = 1,
	EXIT_USAGE = 2,
	EXIT_NO_VERDICT = 3,
};

#define DEFAULT_SPOOL "/var/spool/natwarden"
#define DEFAULT_RUNTIME "/run/natwarden"

/*
 * Each from its option, else its variable (never under ssh-command), else, for the two
 * directories, the [daemon] section of the policy `config` when that could be read, else the
 * built-in default.
 */
struct client_options {
	const char *config;  /* --config, $NATWARDEN_CONFIG */
	const char *spool;   /* --spool, $NATWARDEN_SPOOL, [daemon] spool */
	const char *runtime; /* --runtime, $NATWARDEN_RUNTIME, [daemon] runtime */
	const struct policy *policy; /* what main() loaded from `config`, or NULL */
};

struct command {
	const char *name;
	int (*run)(const struct client_options *o, int argc, char **argv);
	const char *usage;
	const char *help;
};

int cmd_check(const struct client_options *o, int argc, char **argv);
int cmd_submit(const struct client_options *o, int argc, char **argv);
int cmd_withdraw(const struct client_options *o, int argc, char **argv);
int cmd_apply(const struct client_options *o, int argc, char **argv);
int cmd_list(const struct client_options *o, int argc, char **argv);
int cmd_status(const struct client_options *o, int argc, char **argv);
int cmd_ssh(const struct client_options *o, int argc, char **argv);

/* Read a fragment from a file name or "-" (stdin), at most the fragment size limit. */
int client_read_input(const char *path, char **ret, size_t *ret_len);
/* Name of the calling user, or NULL. */
const char *client_user_name(void);

/*
 * The spool, as submit, withdraw and apply use it (submit.c). client_open_incoming(): the
 * caller's own directory SPOOL/incoming/UID (O_PATH), or -1 after saying why. client_drop():
 * `text` handed in as `name` (synced first when `durable`; "" withdraws), its file left open
 * for the verdict: the fd, or -1 after saying why.
 */
int client_open_incoming(const struct client_options *o);
int client_drop(int dirfd, const char *name, const char *text, size_t len, bool durable);

/* Waiting for verdicts: one deadline, and pauses of 50 us for the first 20 ms, then longer. */
struct client_wait {
	uint64_t start, deadline; /* ms, CLOCK_MONOTONIC */
};

void client_wait_start(struct client_wait *w, double timeout);
/* --timeout's value: seconds, more than 0 and at most 3600. -1 after saying why. */
int client_parse_timeout(const char *arg, double *ret);
/* Pause one step; false, without pausing, once the deadline has passed. */
bool client_wait_pause(const struct client_wait *w);

/*
 * Has the daemon taken the submission whose file is open as `fd`? 0: not yet; 1: yes, and its
 * verdict text is in `ret` (malloc()ed); -ENODATA: taken with no verdict in it (see
 * client_lost_answer()); another -errno when the file cannot be looked at.
 */
int client_take_answer(int fd, char **ret, size_t *ret_len);

/*
 * What became of a submission taken without a verdict, as the status file tells:
 * EXIT_ACCEPTED for a withdrawal it no longer lists (`why`: "withdrawn for USER (...)"), else
 * EXIT_NO_VERDICT (`why`: "NAME was removed from the spool without a verdict (...)").
 */
int client_lost_answer(const struct client_options *o, const char *name, bool withdrawal, char *why,
		       size_t size);
