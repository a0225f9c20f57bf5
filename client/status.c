/* SPDX-License-Identifier: MIT */
#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"

int status_read(const char *runtime, struct statusfile *ret)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int fd = -1;
	char path[4200];
	size_t len;
	int r;

	*ret = (struct statusfile){ 0 };
	snprintf(path, sizeof(path), "%s/status", runtime);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	r = read_fd_capped(fd, STATUSFILE_MAX_BYTES, &text, &len);
	if (r < 0)
		return r;
	return statusfile_parse(text, len, ret);
}

int status_active_set(const struct statusfile *s, struct active_set **ret)
{
	struct active_set *a = active_set_new();

	if (!a)
		return -ENOMEM;
	/* Lines of one fragment are adjacent: rebuild each fragment's text and parse it. */
	for (size_t i = 0; i < s->n_maps;) {
		size_t j = i;
		char *text = NULL;
		size_t len = 0;
		FILE *out = open_memstream(&text, &len);
		if (!out)
			break;
		for (; j < s->n_maps && strcmp(s->maps[j].user, s->maps[i].user) == 0 &&
		       strcmp(s->maps[j].fragment, s->maps[i].fragment) == 0;
		     j++) {
			const struct statusfile_mapping *m = &s->maps[j];
			if (strcmp(m->kind, "dnat") == 0 || strcmp(m->kind, "pinhole") == 0)
				fprintf(out, "%s %s %s to %s\n", m->kind, m->proto, m->ports,
					m->target);
			else
				fprintf(out, "masquerade %s\n", m->target);
		}
		if (fclose(out) != 0) { /* out of memory: the text may be cut short */
			free(text);
			text = NULL;
		}
		struct fragment *f = NULL;
		struct diag_list errs;
		diag_init(&errs);
		if (text && fragment_parse(s->maps[i].fragment, text, len, &f, &errs) == 0) {
			const struct passwd *pw = getpwnam(s->maps[i].user);
			struct active_entry *e = active_entry_new(s->maps[i].user, pw ? pw->pw_uid : 0, f);
			if (!e || active_set_insert(a, e) < 0) {
				if (e)
					active_entry_free(e);
				else
					fragment_free(f);
			}
		}
		free(text);
		i = j;
	}
	*ret = a;
	return 0;
}

int status_daemon_alive(const struct statusfile *s)
{
	char path[64], cmdline[4096];
	size_t n;
	FILE *f;

	if (s->head.pid <= 0)
		return 0;
	if (kill(s->head.pid, 0) < 0 && errno == ESRCH)
		return 0;
	/* the pid may have been reused: is that process a natwardend (also under valgrind)? */
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)s->head.pid);
	f = fopen(path, "re");
	if (!f)
		return 1; /* it exists; we may not look closer */
	n = fread(cmdline, 1, sizeof(cmdline) - 1, f);
	(void)fclose(f); /* read-only: nothing to lose */
	for (size_t i = 0; i < n; i++)
		if (cmdline[i] == '\0')
			cmdline[i] = ' ';
	cmdline[n] = '\0';
	return strstr(cmdline, "natwardend") != NULL;
}
