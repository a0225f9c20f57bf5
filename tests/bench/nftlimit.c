/* SPDX-License-Identifier: MIT */
/*
 * The limit natwarden is measured against: the same element changes applied
 *   --lib:  in-process, through one long-lived libnftables context (nft_run_cmd_from_buffer),
 *   --exec: by one `nft -f FILE` process per change (posix_spawn + waitpid).
 *
 * usage: nftlimit --lib|--exec [--nft PATH] TMPDIR NETNS CHANGES-FILE [NETNS CHANGES-FILE]
 *
 * Each CHANGES-FILE holds changes, each one or more lines of nftables commands, separated by a
 * line "--", to be applied in the network namespace NETNS (a path such as /run/netns/NAME).
 * With two of them the changes are interleaved (first file's change i, second file's change i,
 * ...) so both sides see the same machine at the same moments. Prints "K MICROSECONDS" per
 * change, K the index of its file. Exits non-zero at the first change that fails.
 * Built by tests/bench/run.sh with: cc -O2 nftlimit.c $(pkg-config --cflags --libs libnftables)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <nftables/libnftables.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static char *slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, size = 0, n;

	if (!f)
		return NULL;
	do {
		if (size - len < 65536) {
			size = size ? size * 2 : 1 << 20;
			char *grown = realloc(buf, size);
			if (!grown) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = grown;
		}
		n = fread(buf + len, 1, size - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	*ret_len = len;
	return buf;
}

/* Split the text at lines "--" into NUL-terminated changes, in place. */
static size_t split(char *text, char ***ret)
{
	size_t n = 0, allocated = 0;
	char **v = NULL, *start = text;

	for (char *p = text;; p++) {
		bool at_sep = (p == text || p[-1] == '\n') && strncmp(p, "--\n", 3) == 0;
		if (at_sep || *p == '\0') {
			bool end = *p == '\0';
			*p = '\0';
			if (strspn(start, " \t\n") != strlen(start)) {
				if (n == allocated) {
					allocated = allocated ? allocated * 2 : 1024;
					v = realloc(v, allocated * sizeof(*v));
					if (!v)
						exit(3);
				}
				v[n++] = start;
			}
			if (end)
				break;
			p += 2; /* past "--", the loop's p++ passes the newline */
			start = p + 1;
		}
	}
	*ret = v;
	return n;
}

struct side {
	int netns; /* fd of the namespace */
	char **changes;
	size_t n;
	struct nft_ctx *ctx;
};

static int enter(const struct side *s)
{
	if (setns(s->netns, CLONE_NEWNET) < 0) {
		perror("nftlimit: setns");
		return -1;
	}
	return 0;
}

static int run_lib(struct side *sides, size_t n_sides, size_t n)
{
	for (size_t k = 0; k < n_sides; k++) {
		if (enter(&sides[k]) < 0)
			return 3;
		sides[k].ctx = nft_ctx_new(NFT_CTX_DEFAULT);
		if (!sides[k].ctx)
			return 3;
		nft_ctx_buffer_output(sides[k].ctx);
		nft_ctx_buffer_error(sides[k].ctx);
	}
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < n_sides; k++) {
			struct nft_ctx *ctx = sides[k].ctx;
			if (enter(&sides[k]) < 0)
				return 3;
			double t0 = now_us();
			int r = nft_run_cmd_from_buffer(ctx, sides[k].changes[i]);
			double t1 = now_us();
			if (r != 0) {
				fprintf(stderr, "nftlimit: change %zu of file %zu failed: %s\n", i, k,
					nft_ctx_get_error_buffer(ctx));
				return 1;
			}
			(void)nft_ctx_get_output_buffer(ctx);
			(void)nft_ctx_get_error_buffer(ctx);
			printf("%zu %.1f\n", k, t1 - t0);
		}
	for (size_t k = 0; k < n_sides; k++)
		nft_ctx_free(sides[k].ctx);
	return 0;
}

static int run_exec(const char *nft, struct side *sides, size_t n_sides, size_t n, const char *tmpdir)
{
	char path[4096];

	/* every file exists before the clock starts: the change is there, as with sudo nft -f */
	for (size_t k = 0; k < n_sides; k++)
		for (size_t i = 0; i < n; i++) {
			snprintf(path, sizeof(path), "%s/change-%zu-%zu.nft", tmpdir, k, i);
			FILE *f = fopen(path, "we");
			if (!f || fputs(sides[k].changes[i], f) < 0 || fclose(f) != 0) {
				fprintf(stderr, "nftlimit: cannot write %s\n", path);
				return 3;
			}
		}
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < n_sides; k++) {
			char *argv[] = { (char *)nft, "-f", path, NULL };
			pid_t pid;
			int status, r;

			snprintf(path, sizeof(path), "%s/change-%zu-%zu.nft", tmpdir, k, i);
			if (enter(&sides[k]) < 0) /* the child inherits the namespace */
				return 3;
			double t0 = now_us();
			r = posix_spawn(&pid, nft, NULL, NULL, argv, environ);
			if (r != 0) {
				fprintf(stderr, "nftlimit: cannot run %s: %s\n", nft, strerror(r));
				return 3;
			}
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
			}
			double t1 = now_us();
			unlink(path);
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
				fprintf(stderr, "nftlimit: nft -f failed on change %zu of file %zu\n", i, k);
				return 1;
			}
			printf("%zu %.1f\n", k, t1 - t0);
		}
	return 0;
}

int main(int argc, char **argv)
{
	const char *nft = "/usr/sbin/nft", *mode, *tmpdir;
	struct side sides[2] = { 0 };
	size_t n_sides = 0, n = SIZE_MAX;
	int a = 1;

	if (argc < 5)
		goto usage;
	mode = argv[a++];
	if (strcmp(argv[a], "--nft") == 0 && a + 1 < argc) {
		nft = argv[a + 1];
		a += 2;
	}
	if (a >= argc)
		goto usage;
	tmpdir = argv[a++];
	if ((argc - a) % 2 != 0 || argc - a < 2 || argc - a > 4)
		goto usage;
	for (; a < argc; a += 2) {
		struct side *s = &sides[n_sides++];
		size_t len;
		char *text = slurp(argv[a + 1], &len);
		s->netns = open(argv[a], O_RDONLY | O_CLOEXEC);
		if (s->netns < 0 || !text) {
			fprintf(stderr, "nftlimit: cannot open %s or read %s\n", argv[a], argv[a + 1]);
			return 2;
		}
		s->n = split(text, &s->changes);
		if (s->n < n)
			n = s->n;
	}
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	if (strcmp(mode, "--lib") == 0)
		return run_lib(sides, n_sides, n);
	if (strcmp(mode, "--exec") == 0)
		return run_exec(nft, sides, n_sides, n, tmpdir);
usage:
	fprintf(stderr, "usage: nftlimit --lib|--exec [--nft PATH] TMPDIR NETNS CHANGES-FILE [NETNS CHANGES-FILE]\n");
	return 2;
}
