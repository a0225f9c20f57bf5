/* SPDX-License-Identifier: MIT */
/*
 * natwarden submit / withdraw: check the fragment locally, drop it into the spool atomically,
 * then wait for the verdict the daemon writes into that very file.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "fileio.h"
#include "fragment.h"
#include "macro.h"
#include "status.h"
#include "verdict.h"

struct submit_args {
	const char *name;
	const char *input; /* NULL: withdraw */
	double timeout;
	bool wait;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int print_verdict(const char *name, const char *text, size_t len)
{
	struct verdict_text v;
	char when[64];
	int r = verdict_parse(text, len, &v);

	if (r < 0) {
		fprintf(stderr, "natwarden: %s: the daemon's answer is unreadable\n", name);
		return EXIT_NO_VERDICT;
	}
	if (strcmp(v.verdict, "rejected") == 0) {
		printf("%s: rejected\n", name);
		for (size_t i = 0; i < v.n_reasons; i++)
			printf("%s\n", v.reasons[i]);
		r = EXIT_REJECTED;
	} else {
		printf("%s: %s for %s%s\n", name, v.verdict, v.user,
		       v.renewed ? " (unchanged, lease renewed)" : "");
		for (size_t i = 0; i < v.n_live; i++)
			printf("  live: %s\n", v.live[i]);
		if (v.expires) {
			/* rounded up, without the overflow of (expires + 999) / 1000 */
			time_t t = (time_t)(v.expires / 1000 + (v.expires % 1000 > 0));
			struct tm tm;
			/* gmtime_r() fails for a time past the year 2^31: show the number then */
			if (!gmtime_r(&t, &tm) ||
			    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
				snprintf(when, sizeof(when), "%" PRId64, (int64_t)t);
			printf("  expires: %s\n", when);
		}
		r = EXIT_ACCEPTED;
	}
	verdict_text_free(&v);
	return r;
}

/*
 * The file left the spool without an answer in it: the daemon could not write one (its file
 * system full?), or a newer submission of ours replaced it. The status file, which the daemon
 * writes (on /run) before it answers, says where the fragment stands.
 */
int client_lost_answer(const struct client_options *o, const char *name, bool withdrawal, char *why,
		       size_t size)
{
	const char *me = client_user_name();
	struct statusfile st;
	bool listed = false;

	if (!me || status_read(o->runtime, &st) < 0) {
		snprintf(why, size,
			 "%s was removed from the spool without a verdict (a newer submission of "
			 "the same name replaced it, or the spool's file system is full?)",
			 name);
		return EXIT_NO_VERDICT;
	}
	for (size_t i = 0; i < st.n_maps; i++)
		if (strcmp(st.maps[i].user, me) == 0 && strcmp(st.maps[i].fragment, name) == 0)
			listed = true;
	statusfile_finish(&st);
	if (withdrawal && !listed) {
		snprintf(why, size,
			 "withdrawn for %s (no answer came through the spool, whose file system "
			 "may be full; the status file no longer lists %s)",
			 me, name);
		return EXIT_ACCEPTED;
	}
	snprintf(why, size,
		 "%s was removed from the spool without a verdict (the spool's file system full, "
		 "or a newer submission of the same name?); the status file %s it as active",
		 name, listed ? "lists" : "does not list");
	return EXIT_NO_VERDICT;
}

static int lost_answer(const struct client_options *o, const char *name, bool withdrawal)
{
	char why[512];
	int r = client_lost_answer(o, name, withdrawal, why, sizeof(why));

	if (r == EXIT_ACCEPTED)
		printf("%s: %s\n", name, why);
	else
		fprintf(stderr, "natwarden: %s\n", why);
	return r;
}

void client_wait_start(struct client_wait *w, double timeout)
{
	w->start = now_ms();
	w->deadline = w->start + (uint64_t)(timeout * 1000);
	/* sleep what is asked, not up to 50 us more (the default timer slack): the steps are short */
	(void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
}

int client_parse_timeout(const char *arg, double *ret)
{
	char *end;

	errno = 0;
	*ret = strtod(arg, &end);
	if (errno || end == arg || *end || !(*ret > 0 && *ret <= 3600)) {
		fprintf(stderr, "natwarden: --timeout takes seconds, more than 0 and at most 3600\n");
		return -1;
	}
	return 0;
}

bool client_wait_pause(const struct client_wait *w)
{
	uint64_t now = now_ms(), since = now - w->start;

	if (now >= w->deadline)
		return false;
	/*
	 * A verdict comes within a few milliseconds (most of them the daemon's journal sync):
	 * look every 50 us for the first 20 ms, then less often.
	 */
	long step_us = since < 20 ? 50 : since < 100 ? 250 : since < 500 ? 2000 : 10000;
	struct timespec pause = { 0, step_us * 1000 };
	nanosleep(&pause, NULL);
	return true;
}

/*
 * The daemon has taken the file once it has removed it from the spool: the link count is
 * polled, briefly at first, then less often. An inotify watch would wake us sooner, but
 * closing it waits for a kernel grace period of up to ~15 ms on every exit.
 */
int client_take_answer(int fd, char **ret, size_t *ret_len)
{
	struct stat st;
	char *text = NULL;
	size_t len;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_nlink > 0)
		return 0;
	if (lseek(fd, 0, SEEK_SET) < 0 || read_fd_capped(fd, VERDICT_MAX_BYTES, &text, &len) < 0)
		return -ENODATA;
	if (!verdict_is(text, len)) {
		free(text);
		return -ENODATA;
	}
	*ret = text;
	*ret_len = len;
	return 1;
}

/* Wait until the daemon has taken our file, then read what it wrote into it. */
static int wait_verdict(const struct client_options *o, int fd, const char *name, double timeout,
			bool withdrawal)
{
	struct client_wait w;

	client_wait_start(&w, timeout);
	for (;;) {
		_cleanup_free_ char *text = NULL;
		size_t len = 0;
		int r = client_take_answer(fd, &text, &len);
		if (r == -ENODATA)
			return lost_answer(o, name, withdrawal);
		if (r < 0) {
			fprintf(stderr, "natwarden: %s: %s\n", name, strerror(-r));
			return EXIT_USAGE;
		}
		if (r > 0)
			return print_verdict(name, text, len);
		if (!client_wait_pause(&w)) {
			fprintf(stderr,
				"natwarden: no verdict for %s within %.0f s: is natwardend running? (the submission stays queued)\n",
				name, timeout);
			return EXIT_NO_VERDICT;
		}
	}
}

/* The caller's own spool directory, SPOOL/incoming/UID: nobody else can write there. */
int client_open_incoming(const struct client_options *o)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/incoming/%u", o->spool, (unsigned)getuid());
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	if (errno == ENOENT) {
		const char *me = client_user_name();
		fprintf(stderr,
			"natwarden: there is no spool directory for you (%s): natwardend makes one for each [submitter] in policy.ini; is %s one, and has natwardend started since?\n",
			path, me ? me : "your user");
		return -1;
	}
	fprintf(stderr, "natwarden: cannot reach your spool directory %s: %s%s\n", path,
		strerror(errno), errno == EACCES ? " (are you in the submit group?)" : "");
	return -1;
}

/*
 * The file's mode 0660, whatever the umask. Under the directory's default ACL it is made so
 * already; a chmod anyway would rewrite its ACL (a journalled change the submitter waits for).
 */
static int set_mode(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && (st.st_mode & 07777) == 0660)
		return 0;
	return fchmod(fd, 0660);
}

/*
 * Write the temporary dot-file and rename it to its name: in our own directory, so the name
 * is ours alone (an older submission of ours of that name, not yet taken, is replaced).
 * Returns the open fd or -1.
 */
int client_drop(int dirfd, const char *name, const char *text, size_t len, bool durable)
{
	char tmp[96];
	uint64_t rnd = 0;
	int fd;

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint64_t)now_ms() ^ (uint64_t)getpid() << 32;
	snprintf(tmp, sizeof(tmp), ".%s.%016" PRIx64, name, rnd);
	fd = openat(dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0660);
	if (fd < 0) {
		fprintf(stderr, "natwarden: cannot create a file in the spool: %s\n", strerror(errno));
		return -1;
	}
	/*
	 * The directory's default ACL lets the daemon read and answer it within this mode's group
	 * bits. No room is preallocated for the answer: the fragment's first block holds it (up
	 * to 4 KiB, overwritten in place), and a file whose blocks were allocated costs a
	 * synchronous discard when it is freed (0.25 ms, at times 2 ms, on ext4 with online
	 * discard), while one that lives a few milliseconds is never written out at all. Should
	 * a longer answer find the disk full, the status file tells what became of it.
	 */
	/*
	 * Durable before it is handed in only when nobody waits for it: a client that waits for
	 * its verdict has the daemon's journal (synced before it answers) as the durability point.
	 */
	if (set_mode(fd) < 0 || write_all(fd, text, len) < 0 || (durable && fsync(fd) < 0)) {
		fprintf(stderr, "natwarden: cannot write into the spool: %s\n", strerror(errno));
		goto fail;
	}
	if (renameat(dirfd, tmp, dirfd, name) == 0)
		return fd;
	fprintf(stderr, "natwarden: cannot submit %s: %s\n", name, strerror(errno));
fail:
	unlinkat(dirfd, tmp, 0);
	close(fd);
	return -1;
}

static int submit(const struct client_options *o, const struct submit_args *a)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int dirfd = -1, fd = -1;
	struct fragment *f = NULL;
	struct diag_list errs;
	size_t len = 0;
	int r;

	if (!fragment_name_valid(a->name, strlen(a->name))) {
		fprintf(stderr,
			"natwarden: invalid fragment name '%s': use 1-%d of a-z 0-9 . _ -, starting with a letter or digit\n",
			a->name, FRAGMENT_NAME_MAX);
		return EXIT_USAGE;
	}
	if (a->input) {
		r = client_read_input(a->input, &text, &len);
		if (r < 0) {
			fprintf(stderr, "natwarden: %s: %s\n", a->input,
				r == -EFBIG ? "larger than the 65536-byte fragment limit" : strerror(-r));
			return r == -EFBIG ? EXIT_REJECTED : EXIT_USAGE;
		}
	} else {
		text = strdup("");
	}
	diag_init(&errs);
	r = fragment_parse(a->name, text ? text : "", len, &f, &errs);
	if (r < 0) {
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): text is _cleanup_free_ */
		printf("%s: rejected (not sent)\n", a->name);
		diag_print(&errs, a->name, stdout);
		return r == -ENOMEM ? EXIT_USAGE : EXIT_REJECTED;
	}
	fragment_free(f);
	dirfd = client_open_incoming(o);
	if (dirfd < 0)
		return EXIT_USAGE;
	fd = client_drop(dirfd, a->name, text ? text : "", len, !a->wait);
	if (fd < 0)
		return EXIT_USAGE;
	if (!a->wait) {
		printf("%s: submitted\n", a->name);
		return EXIT_ACCEPTED;
	}
	return wait_verdict(o, fd, a->name, a->timeout, !a->input);
}

static int parse_common(int argc, char **argv, struct submit_args *a, const char *usage)
{
	static const struct option longopts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "no-wait", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	a->timeout = 10;
	a->wait = true;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+t:nh", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (client_parse_timeout(optarg, &a->timeout) < 0)
				return -1;
			break;
		case 'n':
			a->wait = false;
			break;
		case 'h':
			printf("usage: natwarden %s\n", usage);
			return 1;
		default:
			return -1;
		}
	}
	return 0;
}

int cmd_submit(const struct client_options *o, int argc, char **argv)
{
	struct submit_args a = { 0 };
	int r = parse_common(argc, argv, &a, "submit [--timeout S] [--no-wait] NAME [FILE|-]");

	if (r)
		return r < 0 ? EXIT_USAGE : EXIT_ACCEPTED;
	if (argc - optind < 1 || argc - optind > 2) {
		fprintf(stderr, "usage: natwarden submit [--timeout S] [--no-wait] NAME [FILE|-]\n");
		return EXIT_USAGE;
	}
	a.name = argv[optind];
	a.input = argc - optind == 2 ? argv[optind + 1] : "-";
	return submit(o, &a);
}

int cmd_withdraw(const struct client_options *o, int argc, char **argv)
{
	struct submit_args a = { 0 };
	int r = parse_common(argc, argv, &a, "withdraw [--timeout S] [--no-wait] NAME");

	if (r)
		return r < 0 ? EXIT_USAGE : EXIT_ACCEPTED;
	if (argc - optind != 1) {
		fprintf(stderr, "usage: natwarden withdraw [--timeout S] [--no-wait] NAME\n");
		return EXIT_USAGE;
	}
	a.name = argv[optind];
	a.input = NULL;
	return submit(o, &a);
}
