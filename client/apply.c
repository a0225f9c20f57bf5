/* SPDX-License-Identifier: MIT */
/*
 * natwarden apply PREFIX: a whole set of the caller's fragments in one stream on stdin
 * (grammar in common/batch.h). The stream is read and checked whole before anything is done:
 * one that is cut short (a dropped SSH connection) submits and withdraws nothing. Then each
 * fragment is checked locally as submit does, the caller's active PREFIX fragments the stream
 * lacks are withdrawn, everything goes into the spool, and all verdicts are awaited together.
 * The files go in no faster than the caller's max_spool_entries and max_spool_bytes let them
 * (policy.ini): past those the daemon would refuse part of the set unjudged.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "client.h"
#include "fileio.h"
#include "fragment.h"
#include "json.h"
#include "macro.h"
#include "policy.h"
#include "status.h"
#include "verdict.h"

#define USAGE "apply [--timeout S] PREFIX"
/* Files of ours in the spool at once at most, whatever max_spool_entries allows: open fds. */
#define APPLY_MAX_OPEN 256
/* What the spool counts a file as, rounded up to (st_blocks, on most file systems). */
#define APPLY_BLOCK 4096

/* One line of output: a fragment of the stream, or a withdrawal. */
struct outcome {
	char name[FRAGMENT_NAME_MAX + 1];
	bool withdrawal;
	int fd;		       /* its file in the spool, while its verdict is awaited; else -1 */
	uint64_t size;	       /* what that file counts against max_spool_bytes */
	struct verdict_text v; /* v.verdict "" while undecided; "error": no verdict */
};

struct apply_run {
	const struct client_options *o;
	struct outcome *out; /* the stream's fragments in order, then the withdrawals */
	size_t n, n_stream, allocated;
	bool status_unknown;		 /* the status file could not be read: nothing withdrawn */
	uint32_t max_entries, max_bytes; /* the caller's spool limits (policy.ini) */
};

/* Handing the files in: the next one, and those of ours in the spool (not yet taken). */
struct pacing {
	size_t next, pending;
	uint64_t bytes;
};

static int add_reason(struct verdict_text *v, const char *reason)
{
	char *copy = strdup(reason);
	char **grown = copy ? reallocarray(v->reasons, v->n_reasons + 1, sizeof(char *)) : NULL;

	if (!grown) {
		free(copy);
		return -ENOMEM;
	}
	v->reasons = grown;
	v->reasons[v->n_reasons++] = copy;
	return 0;
}

/* Decided here, not by the daemon: "rejected" (locally) or "error" with one sentence. */
static void decide(struct outcome *x, const char *verdict, const char *reason)
{
	snprintf(x->v.verdict, sizeof(x->v.verdict), "%s", verdict);
	if (reason)
		(void)add_reason(&x->v, reason); /* out of memory: the verdict without it */
}

static struct outcome *add_outcome(struct apply_run *run, const char *name, bool withdrawal)
{
	struct outcome *x;

	if (run->n == run->allocated) {
		size_t want = run->allocated ? run->allocated * 2 : 16;
		struct outcome *grown = reallocarray(run->out, want, sizeof(*grown));
		if (!grown)
			return NULL;
		run->out = grown;
		run->allocated = want;
	}
	x = &run->out[run->n++];
	*x = (struct outcome){ .withdrawal = withdrawal, .fd = -1 };
	snprintf(x->name, sizeof(x->name), "%s", name);
	return x;
}

static void run_finish(struct apply_run *run)
{
	for (size_t i = 0; i < run->n; i++) {
		if (run->out[i].fd >= 0)
			close(run->out[i].fd);
		verdict_text_free(&run->out[i].v);
	}
	free(run->out);
}

/* The lines `natwarden submit` prints for a fragment that fails the local check. */
static void reject_locally(struct outcome *x, const struct diag_list *errs)
{
	char *text = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	decide(x, "rejected", NULL);
	if (!out) {
		(void)add_reason(&x->v, "(out of memory)");
		return;
	}
	diag_print(errs, x->name, out);
	if (fclose(out) == 0)
		for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			(void)add_reason(&x->v, line);
	free(text);
}

/* The stream's fragments, each checked as submit checks it: 0, or -ENOMEM. */
static int check_stream(struct apply_run *run, const struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		const struct batch_item *it = &b->items[i];
		struct outcome *x = add_outcome(run, it->name, false);
		struct fragment *f = NULL;
		struct diag_list errs;
		if (!x)
			return -ENOMEM;
		diag_init(&errs);
		int r = fragment_parse(it->name, it->text, it->len, &f, &errs);
		if (r == -ENOMEM)
			decide(x, "error", "out of memory checking it");
		else if (r < 0)
			reject_locally(x, &errs);
		fragment_free(f);
	}
	run->n_stream = run->n;
	return 0;
}

static bool listed(const struct apply_run *run, const char *name)
{
	for (size_t i = 0; i < run->n; i++)
		if (strcmp(run->out[i].name, name) == 0)
			return true;
	return false;
}

/*
 * The caller's active fragments whose names start with `prefix` and that the stream lacks,
 * from the status file, to withdraw. When it cannot be read, none (and exit status 3).
 */
static int find_withdrawals(struct apply_run *run, const char *prefix)
{
	const char *me = client_user_name();
	struct statusfile st;
	int r = me ? status_read(run->o->runtime, &st) : -ENOENT;

	if (r < 0) {
		fprintf(stderr,
			"natwarden: apply: cannot read %s/status (%s): nothing is withdrawn\n",
			run->o->runtime, me ? strerror(-r) : "who are you?");
		run->status_unknown = true;
		return 0;
	}
	for (size_t i = 0; i < st.n_maps; i++) {
		const char *name = st.maps[i].fragment;
		if (strcmp(st.maps[i].user, me) != 0 ||
		    strncmp(name, prefix, strlen(prefix)) != 0 ||
		    !fragment_name_valid(name, strlen(name)) || listed(run, name))
			continue;
		if (!add_outcome(run, name, true)) {
			statusfile_finish(&st);
			return -ENOMEM;
		}
	}
	statusfile_finish(&st);
	return 0;
}

/*
 * The policy's spool limits for the caller, or the defaults when it cannot be read. The
 * policy main() loaded, or (given --spool and --runtime, it loaded none) read here.
 */
static void spool_limits(struct apply_run *run)
{
	_cleanup_policy_ struct policy *p = NULL;
	const struct policy *policy = run->o->policy;
	const char *me = client_user_name();
	const struct submitter *s = NULL;
	struct diag_list errs;

	run->max_entries = SUBMITTER_DEFAULT_MAX_SPOOL_ENTRIES;
	run->max_bytes = SUBMITTER_DEFAULT_MAX_SPOOL_BYTES;
	diag_init(&errs);
	if (!policy && policy_load(run->o->config, &p, &errs) == 0)
		policy = p;
	if (me && policy)
		s = policy_find_submitter(policy, me);
	if (s) {
		run->max_entries = s->max_spool_entries;
		run->max_bytes = s->max_spool_bytes;
	}
	run->max_entries = MIN(run->max_entries, (uint32_t)APPLY_MAX_OPEN);
}

/* What x's file takes in the spool: its bytes in whole blocks. */
static uint64_t spool_size(size_t len)
{
	return ((uint64_t)len + APPLY_BLOCK - 1) / APPLY_BLOCK * APPLY_BLOCK;
}

/*
 * The next file into the spool, if the files of ours still there leave room for it (and its
 * temporary name) within max_spool_entries and max_spool_bytes, which would otherwise refuse
 * it unjudged: true when it was handled (put there, or decided), false to wait.
 */
static bool drop_next(struct apply_run *run, struct pacing *pc, int dirfd, const struct batch *b)
{
	size_t i = (run->n_stream + pc->next) % run->n; /* the withdrawals first: they free room */
	struct outcome *x = &run->out[i];
	const char *text = x->withdrawal ? "" : b->items[i].text;
	size_t len = x->withdrawal ? 0 : b->items[i].len;

	if (!x->v.verdict[0] && pc->pending > 0 &&
	    (pc->pending >= run->max_entries || pc->bytes + spool_size(len) > run->max_bytes))
		return false;
	pc->next++;
	if (x->v.verdict[0])
		return true; /* decided locally */
	x->fd = client_drop(dirfd, x->name, text, len, false);
	if (x->fd < 0) {
		decide(x, "error", "it could not be put into the spool");
		return true;
	}
	x->size = spool_size(len);
	pc->pending++;
	pc->bytes += x->size;
	return true;
}

/* The daemon has taken x's file: its verdict, or what the status file says became of it. */
static void take(struct apply_run *run, struct outcome *x, int r, const char *text, size_t len)
{
	char why[512];

	close(x->fd);
	x->fd = -1;
	if (r == -ENODATA) {
		if (client_lost_answer(run->o, x->name, x->withdrawal, why, sizeof(why)) ==
		    EXIT_ACCEPTED)
			decide(x, "withdrawn", NULL);
		else
			decide(x, "error", why);
	} else if (r < 0) {
		snprintf(why, sizeof(why), "its file in the spool cannot be looked at: %s",
			 strerror(-r));
		decide(x, "error", why);
	} else if (verdict_parse(text, len, &x->v) < 0) {
		decide(x, "error", "the daemon's answer is unreadable");
	}
}

/* The files the daemon has taken since the last look: their verdicts. */
static void take_answers(struct apply_run *run, struct pacing *pc)
{
	for (size_t i = 0; i < run->n; i++) {
		_cleanup_free_ char *text = NULL;
		size_t len = 0;
		struct outcome *x = &run->out[i];
		int r = x->fd >= 0 ? client_take_answer(x->fd, &text, &len) : 0;
		if (r != 0) {
			take(run, x, r, text, len);
			pc->pending--;
			pc->bytes -= x->size;
		}
	}
}

/*
 * Into the spool, a few at a time when the spool limits ask for it, and every verdict
 * awaited, until `timeout` seconds have passed: what has no verdict by then is an error (a
 * file handed in stays queued; one not handed in yet is not).
 */
static void submit_all(struct apply_run *run, int dirfd, const struct batch *b, double timeout)
{
	struct pacing pc = { 0 };
	struct client_wait w;
	char why[200];

	client_wait_start(&w, timeout);
	for (;;) {
		while (pc.next < run->n && drop_next(run, &pc, dirfd, b))
			;
		if (pc.pending > 0)
			take_answers(run, &pc);
		if (pc.next == run->n && pc.pending == 0)
			return;
		if (!client_wait_pause(&w))
			break;
	}
	for (size_t i = 0; i < run->n; i++) {
		struct outcome *x = &run->out[i];
		if (x->fd >= 0) {
			close(x->fd);
			x->fd = -1;
			snprintf(why, sizeof(why),
				 "no verdict within %.0f s: is natwardend running? (the file stays "
				 "queued)",
				 timeout);
			decide(x, "error", why);
		} else if (!x->v.verdict[0]) {
			snprintf(why, sizeof(why),
				 "not handed in: no verdict for those before it within %.0f s (is "
				 "natwardend running?)",
				 timeout);
			decide(x, "error", why);
		}
	}
}

static void print_list(const char *key, char *const *items, size_t n)
{
	printf(",\"%s\":[", key);
	for (size_t i = 0; i < n; i++) {
		if (i)
			putchar(',');
		json_string(items[i]);
	}
	putchar(']');
}

/* {"fragment":…,"verdict":…,"renewed":…,"live":[…],"reasons":[…]}, one line */
static void print_outcome(const struct outcome *x)
{
	printf("{\"fragment\":");
	json_string(x->name);
	printf(",\"verdict\":");
	json_string(x->v.verdict);
	printf(",\"renewed\":%s", x->v.renewed ? "true" : "false");
	print_list("live", x->v.live, x->v.n_live);
	print_list("reasons", x->v.reasons, x->v.n_reasons);
	printf("}\n");
}

/* 3 when anything has no verdict (or nothing could be withdrawn), else 1 for any rejection. */
static int exit_status(const struct apply_run *run)
{
	bool rejected = false, unknown = run->status_unknown;

	for (size_t i = 0; i < run->n; i++) {
		const char *v = run->out[i].v.verdict;
		rejected = rejected || strcmp(v, "rejected") == 0;
		unknown = unknown || (strcmp(v, "accepted") != 0 && strcmp(v, "withdrawn") != 0 &&
				      strcmp(v, "rejected") != 0);
	}
	return unknown ? EXIT_NO_VERDICT : rejected ? EXIT_REJECTED : EXIT_ACCEPTED;
}

/* stdin, whole, into `b`: 0, or -1 after saying why (then nothing has been done). */
static int read_stream(const char *prefix, char **ret_text, struct batch *b)
{
	size_t len = 0;
	int r = read_fd_capped(STDIN_FILENO, BATCH_MAX_BYTES, ret_text, &len);

	if (r == -EFBIG) {
		fprintf(stderr,
			"natwarden: apply: stdin: the stream is larger than %u bytes; nothing was "
			"submitted or withdrawn\n",
			BATCH_MAX_BYTES);
		return -1;
	}
	if (r < 0) {
		fprintf(stderr, "natwarden: apply: stdin: %s; nothing was submitted or withdrawn\n",
			strerror(-r));
		return -1;
	}
	if (batch_parse(prefix, *ret_text, len, b) < 0) {
		if (b->err_line)
			fprintf(
			    stderr,
			    "natwarden: apply: stdin:%u: %s; nothing was submitted or withdrawn\n",
			    b->err_line, b->err);
		else
			fprintf(stderr,
				"natwarden: apply: stdin: %s; nothing was submitted or withdrawn\n",
				b->err);
		return -1;
	}
	return 0;
}

/* The options and the prefix: 0 to go on, else the exit status (1: --help, shown). */
static int parse_args(int argc, char **argv, double *ret_timeout, const char **ret_prefix)
{
	static const struct option longopts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	*ret_timeout = 30;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+t:h", longopts, NULL)) != -1) {
		if (c == 'h') {
			printf("usage: natwarden " USAGE "\n");
			return 1;
		}
		if (c != 't' || client_parse_timeout(optarg, ret_timeout) < 0)
			return -1;
	}
	if (argc - optind != 1) {
		fprintf(stderr, "usage: natwarden " USAGE "\n");
		return -1;
	}
	*ret_prefix = argv[optind];
	if (!batch_prefix_valid(*ret_prefix, strlen(*ret_prefix))) {
		fprintf(stderr,
			"natwarden: apply: invalid prefix '%s': use 1-%d of a-z 0-9 . _ -, "
			"starting with a letter or digit\n",
			*ret_prefix, BATCH_PREFIX_MAX);
		return -1;
	}
	return 0;
}

/* Read, check, submit and withdraw, await, print: the exit status. */
static int apply(const struct client_options *o, const char *prefix, double timeout,
		 struct batch *b)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int dirfd = -1;
	struct apply_run run = { .o = o };
	int r;

	if (read_stream(prefix, &text, b) < 0)
		return EXIT_USAGE;
	dirfd = client_open_incoming(o);
	if (dirfd < 0)
		return EXIT_USAGE;
	if (check_stream(&run, b) < 0 || find_withdrawals(&run, prefix) < 0) {
		fprintf(stderr, "natwarden: out of memory; nothing was submitted or withdrawn\n");
		run_finish(&run);
		return EXIT_USAGE;
	}
	spool_limits(&run);
	submit_all(&run, dirfd, b, timeout);
	for (size_t i = 0; i < run.n; i++)
		print_outcome(&run.out[i]);
	r = exit_status(&run);
	run_finish(&run);
	return r;
}

int cmd_apply(const struct client_options *o, int argc, char **argv)
{
	struct batch *b;
	const char *prefix;
	double timeout;
	int r = parse_args(argc, argv, &timeout, &prefix);

	if (r)
		return r < 0 ? EXIT_USAGE : EXIT_ACCEPTED;
	b = calloc(1, sizeof(*b)); /* 22 KiB: not on the stack */
	if (!b) {
		fprintf(stderr, "natwarden: out of memory\n");
		return EXIT_USAGE;
	}
	r = apply(o, prefix, timeout, b);
	free(b);
	return r;
}
