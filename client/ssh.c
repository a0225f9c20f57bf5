/* SPDX-License-Identifier: MIT */
/*
 * natwarden ssh-command: the forced command for the submitter's SSH key
 * (command="natwarden ssh-command",restrict ... in ~nat_update/.ssh/authorized_keys).
 * It runs SSH_ORIGINAL_COMMAND only if it is exactly one of a few command lines, itself,
 * without any shell. The command line it runs is one of the fixed argument vectors below, so
 * the remote side cannot pass an option; main() ignores the environment under ssh-command, so
 * the spool, the runtime directory and the policy that names them are the defaults or what
 * the forced command itself says.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "client.h"
#include "strutil.h"

#define MAX_WORDS 4
#define MAX_COMMAND 256

static const char *const allowed_usage = "submit NAME, withdraw NAME, apply PREFIX (stream on "
					 "stdin), list, list --json, status, status --json, "
					 "check (fragment on stdin)";

static int refuse(const char *why)
{
	fprintf(stderr, "natwarden: refused: %s; allowed: %s\n", why, allowed_usage);
	return EXIT_USAGE;
}

/* Words separated by single spaces, from a tiny alphabet: nothing a shell would act on. */
static int split_words(char *cmd, char **words)
{
	int n = 0;

	for (const char *p = cmd; *p; p++)
		if (!char_is_lower(*p) && !char_is_digit(*p) && !strchr("._- ", *p))
			return -1;
	for (char *w = strtok(cmd, " "); w; w = strtok(NULL, " ")) {
		if (n == MAX_WORDS)
			return -1;
		words[n++] = w;
	}
	return n;
}

int cmd_ssh(const struct client_options *o, int argc, char **argv)
{
	const char *orig = getenv("SSH_ORIGINAL_COMMAND");
	char cmd[MAX_COMMAND + 1], *w[MAX_WORDS + 1] = { 0 };
	int n;

	(void)argv; /* the signature of every command */
	if (argc != 1)
		return refuse("ssh-command takes no arguments");
	if (!orig || !*orig)
		return refuse("no command given (this key only runs natwarden commands)");
	if (strlen(orig) > MAX_COMMAND)
		return refuse("command too long");
	snprintf(cmd, sizeof(cmd), "%s", orig);
	n = split_words(cmd, w);
	if (n < 0)
		return refuse("unexpected characters or too many words in the command");
	/* "natwarden submit x" and "submit x" both work */
	if (n > 0 && strcmp(w[0], "natwarden") == 0) {
		memmove(w, w + 1, sizeof(char *) * (size_t)n);
		n--;
	}
	if (n == 0)
		return refuse("no command given");
	/* the one option a command line may hold is list's and status's --json */
	for (int i = 1; i < n; i++)
		if (w[i][0] == '-' && strcmp(w[i], "--json") != 0)
			return refuse("options cannot be given");
	if (n == 2 && strcmp(w[0], "submit") == 0)
		return cmd_submit(o, 2, (char *[]){ "submit", w[1], NULL });
	if (n == 2 && strcmp(w[0], "withdraw") == 0)
		return cmd_withdraw(o, 2, (char *[]){ "withdraw", w[1], NULL });
	if (n == 2 && strcmp(w[0], "apply") == 0) {
		/* never an option: a prefix starts with a letter or digit */
		if (!batch_prefix_valid(w[1], strlen(w[1])))
			return refuse("apply takes a PREFIX of 1-32 of a-z 0-9 . _ -, starting "
				      "with a letter or digit");
		return cmd_apply(o, 2, (char *[]){ "apply", w[1], NULL });
	}
	if (n == 1 && strcmp(w[0], "list") == 0)
		return cmd_list(o, 1, (char *[]){ "list", NULL });
	if (n == 2 && strcmp(w[0], "list") == 0 && strcmp(w[1], "--json") == 0)
		return cmd_list(o, 2, (char *[]){ "list", "--json", NULL });
	if (n == 1 && strcmp(w[0], "status") == 0)
		return cmd_status(o, 1, (char *[]){ "status", NULL });
	if (n == 2 && strcmp(w[0], "status") == 0 && strcmp(w[1], "--json") == 0)
		return cmd_status(o, 2, (char *[]){ "status", "--json", NULL });
	if (n == 1 && strcmp(w[0], "check") == 0)
		return cmd_check(o, 1, (char *[]){ "check", NULL });
	return refuse("not an allowed command");
}
