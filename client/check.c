/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>

#include "active.h"
#include "client.h"
#include "engine.h"
#include "fragment.h"
#include "macro.h"
#include "policy.h"
#include "status.h"

/* The currently active fragments (for conflicts), or an empty set when there is no daemon. */
static struct active_set *load_active(const struct client_options *o, bool *ret_known)
{
	struct active_set *a = NULL;
	struct statusfile s;

	*ret_known = false;
	if (status_read(o->runtime, &s) == 0) {
		if (status_active_set(&s, &a) == 0)
			*ret_known = true;
		statusfile_finish(&s);
	}
	return a ? a : active_set_new();
}

static int judge(const struct client_options *o, const char *policy_path, bool explicit_policy,
		 const char *user, const struct fragment *f)
{
	_cleanup_policy_ struct policy *p = NULL;
	struct active_set *active = NULL;
	struct diag_list errs;
	struct judgement j;
	bool known;
	int r;

	diag_init(&errs);
	r = policy_load(policy_path, &p, &errs);
	if (r < 0) {
		if (!explicit_policy && (r == -ENOENT || r == -EACCES))
			return EXIT_ACCEPTED; /* no policy to judge against: the syntax was fine */
		diag_print(&errs, policy_path, stderr);
		return EXIT_USAGE;
	}
	active = load_active(o, &known);
	if (!active) {
		fprintf(stderr, "natwarden: out of memory\n");
		return EXIT_USAGE;
	}
	engine_judge(p, NULL, user, active, f, &j);
	active_set_free(active);
	if (j.verdict == VERDICT_REJECTED) {
		printf("%s: rejected for %s\n", f->name, user);
		diag_print(&j.reasons, f->name, stdout);
		return EXIT_REJECTED;
	}
	printf("%s: %s for %s (%zu rules)%s\n", f->name, verdict_name(j.verdict), user, f->n_stmts,
	       known ? "" : "; active forwards unknown (no status file)");
	return EXIT_ACCEPTED;
}

struct check_args {
	const char *policy_path, *user, *name, *input;
};

/* Options and the one file; returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct check_args *a)
{
	static const struct option longopts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "user", required_argument, NULL, 'u' },
		{ "name", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	*a = (struct check_args){ .input = "-" };
	optind = 1;
	while ((c = getopt_long(argc, argv, "+p:u:n:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			a->policy_path = optarg;
			break;
		case 'u':
			a->user = optarg;
			break;
		case 'n':
			a->name = optarg;
			break;
		case 'h':
			printf("usage: natwarden check [--policy FILE] [--user NAME] [--name NAME] [FILE|-]\n");
			return EXIT_ACCEPTED;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind > 1) {
		fprintf(stderr, "natwarden check: one fragment file at most (got %d)\n", argc - optind);
		return EXIT_USAGE;
	}
	if (optind < argc)
		a->input = argv[optind];
	return -1;
}

int cmd_check(const struct client_options *o, int argc, char **argv)
{
	struct check_args a;
	_cleanup_free_ char *text = NULL, *canonical = NULL, *base = NULL;
	_cleanup_fragment_ struct fragment *f = NULL;
	struct diag_list errs;
	size_t len;
	int r = parse_args(argc, argv, &a);
	const char *policy_path = a.policy_path, *user = a.user, *name = a.name, *input = a.input;

	if (r >= 0)
		return r;
	if (!name) {
		if (strcmp(input, "-") == 0)
			name = "stdin";
		else {
			base = strdup(input);
			if (!base)
				return EXIT_USAGE;
			/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): _cleanup_free_; the analyzer does not model the cleanup attribute */
			name = basename(base);
		}
	}
	r = client_read_input(input, &text, &len);
	if (r < 0) {
		fprintf(stderr, "natwarden check: %s: %s\n", input,
			r == -EFBIG ? "larger than the 65536-byte fragment limit" : strerror(-r));
		return r == -EFBIG ? EXIT_REJECTED : EXIT_USAGE;
	}
	diag_init(&errs);
	r = fragment_parse(name, text, len, &f, &errs);
	if (r == -ENOMEM) {
		fprintf(stderr, "natwarden check: out of memory\n");
		return EXIT_USAGE;
	}
	if (r < 0) {
		diag_print(&errs, name, stderr);
		return EXIT_REJECTED;
	}
	canonical = fragment_print(f);
	if (!canonical)
		return EXIT_USAGE;
	fputs(canonical, stdout);
	bool explicit_policy = policy_path != NULL;
	if (!policy_path)
		policy_path = o->config;
	if (!user)
		user = client_user_name();
	if (!user) {
		fprintf(stderr, "natwarden check: cannot tell who you are: use --user\n");
		return EXIT_USAGE;
	}
	return judge(o, policy_path, explicit_policy, user, f);
}
