/* SPDX-License-Identifier: MIT */
/*
 * Times whole commands, one process each, the way their user sees them: from just before the
 * process is spawned to just after it is reaped, and nothing else in between. The loop itself
 * is started once (as the submitting user, in the right namespace: whatever setpriv or
 * `ip netns exec` costs stays outside every timed part).
 *
 * usage: timeloop [-n COUNT] [-b SECONDS] [-p EVERY] [-s] JOB [::: JOB]...
 *   JOB is   [-e TEXT] OUT COMMAND [ARG]...
 *
 * Each iteration i (0 <= i < COUNT) runs every JOB once, in the order given (with -s, in the
 * reverse order on odd iterations, so no job always follows the same one), and appends
 * "START END OK" to that job's OUT: wall-clock seconds with microseconds (like bash's
 * EPOCHREALTIME; END is START plus the monotonic duration) and 1 when the command exited 0
 * (and, with -e, printed TEXT on its standard output), else 0.
 * In every argument, "{i}" becomes i, "{i%2}" i's parity, and "{i+N}" i + N (decimal N).
 * Standard input is /dev/null, standard output is thrown away (or kept in a memory file for
 * -e, read after the clock stopped), standard error is the loop's own.
 * -b stops the loop after SECONDS (checked before each iteration).
 * -p EVERY: after iterations 0, EVERY, 2*EVERY, ... the loop prints "pause I" on its standard
 * output and waits for a line on its standard input, so the caller can look at the system
 * (outside every timed part) before the next iteration. At the end it prints "done N", N the
 * iterations run.
 * Exit status 0, or 2 for a usage error, 3 when a command cannot be spawned.
 * Built by tests/bench/run.sh with: cc -O2 -std=gnu11 timeloop.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_JOBS 8
#define ARG_MAX_LEN 4096
#define MAX_ARGS 64

struct job {
	const char *expect; /* text the command must print, or NULL */
	FILE *out;
	char **argv; /* the template, NULL-terminated */
	int argc;
	int capture; /* memfd for the command's output when expect is set */
};

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One argument with its "{i...}" placeholders replaced; NULL when it does not fit. */
static char *expand(const char *arg, long i)
{
	char buf[ARG_MAX_LEN];
	size_t len = 0;

	for (const char *p = arg; *p;) {
		long v;
		const char *end;
		if (strncmp(p, "{i}", 3) == 0) {
			v = i;
			end = p + 3;
		} else if (strncmp(p, "{i%2}", 5) == 0) {
			v = i % 2;
			end = p + 5;
		} else if (strncmp(p, "{i+", 3) == 0) {
			char *stop;
			long n = strtol(p + 3, &stop, 10);
			if (stop == p + 3 || *stop != '}')
				goto literal;
			v = i + n;
			end = stop + 1;
		} else {
			goto literal;
		}
		int w = snprintf(buf + len, sizeof(buf) - len, "%ld", v);
		if (w < 0 || (size_t)w >= sizeof(buf) - len)
			return NULL;
		len += (size_t)w;
		p = end;
		continue;
literal:
		if (len + 1 >= sizeof(buf))
			return NULL;
		buf[len++] = *p++;
	}
	buf[len] = '\0';
	return strdup(buf);
}

/* Run one job once: returns 1 (success) or 0, and the stamps; -1 when it cannot be spawned. */
static int run_job(struct job *j, long i, double *ret_start, double *ret_end)
{
	char *argv[MAX_ARGS + 1];
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status, r, good;

	for (int a = 0; a < j->argc; a++) {
		argv[a] = expand(j->argv[a], i);
		if (!argv[a]) {
			fprintf(stderr, "timeloop: argument too long: %s\n", j->argv[a]);
			return -1;
		}
	}
	argv[j->argc] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (j->capture >= 0)
		posix_spawn_file_actions_adddup2(&fa, j->capture, 1);
	else
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);

	double real0 = clock_s(CLOCK_REALTIME), t0 = clock_s(CLOCK_MONOTONIC);
	r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	if (r == 0)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
		}
	double t1 = clock_s(CLOCK_MONOTONIC);

	posix_spawn_file_actions_destroy(&fa);
	if (r != 0) {
		fprintf(stderr, "timeloop: cannot run %s: %s\n", argv[0], strerror(r));
		for (int a = 0; a < j->argc; a++)
			free(argv[a]);
		return -1;
	}
	for (int a = 0; a < j->argc; a++)
		free(argv[a]);
	good = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (j->capture >= 0) {
		static char text[65536];
		ssize_t n = pread(j->capture, text, sizeof(text) - 1, 0);
		text[n > 0 ? n : 0] = '\0';
		good = good && strstr(text, j->expect) != NULL;
		if (ftruncate(j->capture, 0) < 0 || lseek(j->capture, 0, SEEK_SET) < 0)
			return -1;
	}
	*ret_start = real0;
	*ret_end = real0 + (t1 - t0);
	return good;
}

/* JOB: [-e TEXT] OUT COMMAND [ARG]..., up to ":::" or the end. Returns the next index. */
static int parse_job(int argc, char **argv, int a, struct job *j)
{
	*j = (struct job){ .capture = -1 };
	if (a + 1 < argc && strcmp(argv[a], "-e") == 0) {
		j->expect = argv[a + 1];
		a += 2;
	}
	if (a + 1 >= argc || strcmp(argv[a], ":::") == 0 || strcmp(argv[a + 1], ":::") == 0)
		return -1;
	j->out = fopen(argv[a], "we");
	if (!j->out) {
		fprintf(stderr, "timeloop: %s: %s\n", argv[a], strerror(errno));
		return -1;
	}
	a++;
	j->argv = &argv[a];
	while (a < argc && strcmp(argv[a], ":::") != 0)
		a++;
	j->argc = (int)(&argv[a] - j->argv);
	if (j->argc > MAX_ARGS)
		return -1;
	if (j->expect) {
		j->capture = memfd_create("timeloop-output", MFD_CLOEXEC);
		if (j->capture < 0)
			return -1;
	}
	return a < argc ? a + 1 : a;
}

static void usage(void)
{
	fprintf(stderr, "usage: timeloop [-n COUNT] [-b SECONDS] [-p EVERY] [-s] JOB [::: JOB]...\n"
			"  JOB: [-e TEXT] OUT COMMAND [ARG]...\n");
}

int main(int argc, char **argv)
{
	struct job jobs[MAX_JOBS];
	long count = 1, every = 0, i;
	double budget = 600;
	bool swap = false;
	int n_jobs = 0;

	/* the loop's own options; the first word that is none of them starts the first JOB */
	int a = 1;
	for (; a < argc; a++) {
		const char *o = argv[a];
		bool has_value = strcmp(o, "-n") == 0 || strcmp(o, "-b") == 0 || strcmp(o, "-p") == 0;
		if (strcmp(o, "-s") == 0) {
			swap = true;
			continue;
		}
		if (!has_value)
			break;
		if (a + 1 >= argc) {
			usage();
			return 2;
		}
		if (o[1] == 'n')
			count = strtol(argv[a + 1], NULL, 10);
		else if (o[1] == 'b')
			budget = strtod(argv[a + 1], NULL);
		else
			every = strtol(argv[a + 1], NULL, 10);
		a++;
	}
	while (a < argc) {
		if (n_jobs == MAX_JOBS || (a = parse_job(argc, argv, a, &jobs[n_jobs++])) < 0) {
			usage();
			return 2;
		}
	}
	if (n_jobs == 0 || count < 0 || every < 0) {
		usage();
		return 2;
	}

	double deadline = clock_s(CLOCK_MONOTONIC) + budget;
	for (i = 0; i < count && clock_s(CLOCK_MONOTONIC) < deadline; i++) {
		for (int k = 0; k < n_jobs; k++) {
			struct job *j = &jobs[swap && i % 2 ? n_jobs - 1 - k : k];
			double t0, t1;
			int good = run_job(j, i, &t0, &t1);
			if (good < 0)
				return 3;
			fprintf(j->out, "%.6f %.6f %d\n", t0, t1, good);
		}
		if (every > 0 && i % every == 0) {
			char line[64];
			printf("pause %ld\n", i);
			fflush(stdout);
			if (!fgets(line, sizeof(line), stdin))
				every = 0; /* nobody listens: go on without pausing */
		}
	}
	for (int k = 0; k < n_jobs; k++)
		if (fclose(jobs[k].out) != 0)
			return 3;
	printf("done %ld\n", i);
	return 0;
}
