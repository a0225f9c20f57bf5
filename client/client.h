/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

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
int cmd_list(const struct client_options *o, int argc, char **argv);
int cmd_status(const struct client_options *o, int argc, char **argv);
int cmd_ssh(const struct client_options *o, int argc, char **argv);

/* Read a fragment from a file name or "-" (stdin), at most the fragment size limit. */
int client_read_input(const char *path, char **ret, size_t *ret_len);
/* Name of the calling user, or NULL. */
const char *client_user_name(void);
