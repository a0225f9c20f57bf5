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
	{ "list", cmd_list, "list [--json]", "list the active forwards of all users" },
	{ "status", cmd_status, "status", "is natwardend running, since when, what changed last" },
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
	       "(or $NATWARDEN_SPOOL, $NATWARDEN_RUNTIME, $NATWARDEN_CONFIG)\n");
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

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);

	return v && *v ? v : fallback;
}

int main(int argc, char **argv)
{
	struct client_options o = {
		.config = env_or("NATWARDEN_CONFIG", POLICY_DEFAULT_PATH),
		.spool = env_or("NATWARDEN_SPOOL", DEFAULT_SPOOL),
		.runtime = env_or("NATWARDEN_RUNTIME", DEFAULT_RUNTIME),
	};
	bool forced = false;

	/* As an SSH forced command only the key's own options count, never the environment. */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "ssh-command") == 0)
			forced = true;
	if (forced)
		o = (struct client_options){ POLICY_DEFAULT_PATH, DEFAULT_SPOOL, DEFAULT_RUNTIME };

	/* global options before the command */
	while (argc >= 3 && argv[1][0] == '-' && argv[1][1] == '-') {
		const char **slot = strcmp(argv[1], "--spool") == 0	? &o.spool :
				    strcmp(argv[1], "--runtime") == 0 ? &o.runtime :
				    strcmp(argv[1], "--config") == 0	? &o.config :
									  NULL;
		if (!slot)
			break;
		*slot = argv[2];
		argc -= 2;
		argv += 2;
	}
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
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(&o, argc - 1, argv + 1);
	fprintf(stderr, "natwarden: unknown command '%s'; try 'natwarden help'\n", argv[1]);
	return EXIT_USAGE;
}
