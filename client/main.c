/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "fileio.h"
#include "fragment.h"
#include "macro.h"
#include "policy.h"

static int cmd_help(const struct client_options *o, int argc, char **argv);

static const struct command commands[] = {
	{ "check", cmd_check, "check [--policy FILE] [--user NAME] [--name NAME] [FILE|-]",
	  "parse a fragment, print its canonical form, and judge it against a policy" },
	{ "submit", cmd_submit, "submit [--timeout S] [--no-wait] NAME [FILE|-]",
	  "submit a fragment and wait for its verdict" },
	{ "withdraw", cmd_withdraw, "withdraw [--timeout S] [--no-wait] NAME",
	  "withdraw your fragment of that name" },
	{ "apply", cmd_apply, "apply [--timeout S] PREFIX",
	  "submit a set of fragments from stdin, withdraw your PREFIX ones it lacks" },
	{ "list", cmd_list, "list [--json]", "list the active forwards of all users" },
	{ "status", cmd_status, "status [--json]",
	  "is natwardend running, since when, what changed last" },
	{ "ssh-command", cmd_ssh, "ssh-command",
	  "forced command for an SSH key: runs $SSH_ORIGINAL_COMMAND if it is allowed" },
	{ "help", cmd_help, "help", "show this help" },
};

static int cmd_help(const struct client_options *o, int argc, char **argv)
{
	(void)o;
	(void)argc;
	(void)argv;
	printf("usage: natwarden COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		printf("  %-60s %s\n", commands[i].usage, commands[i].help);
	printf("\nglobal options (before the command): --spool DIR, --runtime DIR, --config FILE\n"
	       "(or $NATWARDEN_SPOOL, $NATWARDEN_RUNTIME, $NATWARDEN_CONFIG); spool and runtime\n"
	       "not given are those of the policy's [daemon] section (--config, default %s)\n",
	       POLICY_DEFAULT_PATH);
	printf("\nexit codes: 0 accepted/ok, 1 rejected, 2 usage or local error,\n"
	       "            3 no verdict in time, or the daemon is not running\n");
	return EXIT_ACCEPTED;
}

int client_read_input(const char *path, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = -1;

	if (strcmp(path, "-") == 0)
		return read_fd_capped(STDIN_FILENO, FRAGMENT_MAX_BYTES, ret, ret_len);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	return read_fd_capped(fd, FRAGMENT_MAX_BYTES, ret, ret_len);
}

const char *client_user_name(void)
{
	struct passwd *pw = getpwuid(getuid());

	return pw ? pw->pw_name : NULL;
}

enum { GLOBAL_CONFIG, GLOBAL_SPOOL, GLOBAL_RUNTIME, N_GLOBALS };

/* The options before the command, each also read from the environment. */
static const struct {
	const char *option, *env;
} globals[N_GLOBALS] = {
	[GLOBAL_CONFIG] = { "--config", "NATWARDEN_CONFIG" },
	[GLOBAL_SPOOL] = { "--spool", "NATWARDEN_SPOOL" },
	[GLOBAL_RUNTIME] = { "--runtime", "NATWARDEN_RUNTIME" },
};

/* Which global option `arg` is, or N_GLOBALS for none. */
static size_t global_index(const char *arg)
{
	size_t i = 0;

	while (i < N_GLOBALS && strcmp(arg, globals[i].option) != 0)
		i++;
	return i;
}

/*
 * The global options before the command, then the environment for those not given, except
 * when `forced`: as an SSH forced command only the key's own options count. Moves argv past
 * the options. given[i] is NULL for one that was not given.
 */
static void parse_globals(int *argc, char ***argv, bool forced, const char *given[N_GLOBALS])
{
	for (size_t i = 0; i < N_GLOBALS; i++)
		given[i] = NULL;
	while (*argc >= 3) {
		size_t i = global_index((*argv)[1]);
		if (i == N_GLOBALS)
			break;
		given[i] = (*argv)[2];
		*argc -= 2;
		*argv += 2;
	}
	for (size_t i = 0; i < N_GLOBALS && !forced; i++) {
		const char *v = getenv(globals[i].env);
		if (!given[i] && v && *v)
			given[i] = v;
	}
}

/*
 * The spool and runtime directories of the policy's [daemon] section, for those that no
 * option or variable gave, as natwardend --config takes them. A default policy that does not
 * exist or that the caller may not read leaves the built-in directories; a policy named by
 * --config or $NATWARDEN_CONFIG must load, unless `unreadable_ok` (check, which then judges
 * the syntax only) and it does not exist or cannot be read. 0 (`ret` owns the strings now in
 * `o`, or is NULL), or -1 after saying why.
 */
static int take_policy_dirs(struct client_options *o, const char *const given[N_GLOBALS],
			    bool unreadable_ok, struct policy **ret)
{
	_cleanup_policy_ struct policy *p = NULL;
	bool explicit_config = given[GLOBAL_CONFIG] != NULL;
	struct diag_list errs;
	int r;

	*ret = NULL;
	if (!explicit_config && given[GLOBAL_SPOOL] && given[GLOBAL_RUNTIME])
		return 0; /* nothing left to take from the default policy */
	diag_init(&errs);
	r = policy_load(o->config, &p, &errs);
	if (r < 0 && (!explicit_config || unreadable_ok) && (r == -ENOENT || r == -EACCES))
		return 0;
	if (r < 0) {
		if (errs.n == 0)
			fprintf(stderr, "%s: %s\n", o->config, strerror(-r));
		diag_print(&errs, o->config, stderr);
		return -1;
	}
	if (!given[GLOBAL_SPOOL])
		o->spool = p->daemon.spool;
	if (!given[GLOBAL_RUNTIME])
		o->runtime = p->daemon.runtime;
	o->policy = p;
	*ret = steal_pointer(&p);
	return 0;
}

int main(int argc, char **argv)
{
	_cleanup_policy_ struct policy *policy = NULL;
	const char *given[N_GLOBALS];
	bool forced = false;

	/* As an SSH forced command only the key's own options count, never the environment. */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "ssh-command") == 0)
			forced = true;
	parse_globals(&argc, &argv, forced, given);
	struct client_options o = {
		.config = given[GLOBAL_CONFIG] ? given[GLOBAL_CONFIG] : POLICY_DEFAULT_PATH,
		.spool = given[GLOBAL_SPOOL] ? given[GLOBAL_SPOOL] : DEFAULT_SPOOL,
		.runtime = given[GLOBAL_RUNTIME] ? given[GLOBAL_RUNTIME] : DEFAULT_RUNTIME,
	};
	if (argc < 2) {
		cmd_help(&o, 0, NULL);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("natwarden %s\n", NATWARDEN_VERSION);
		return EXIT_ACCEPTED;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cmd_help(&o, 0, NULL);
	for (size_t i = 0; i < ELEMENTSOF(commands); i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		/* check judges against a policy only when it can read one (natwarden(1)) */
		if (commands[i].run != cmd_help &&
		    take_policy_dirs(&o, given, commands[i].run == cmd_check, &policy) < 0)
			return EXIT_USAGE;
		return commands[i].run(&o, argc - 1, argv + 1);
	}
	fprintf(stderr, "natwarden: unknown command '%s'; try 'natwarden help'\n", argv[1]);
	return EXIT_USAGE;
}
