/* SPDX-License-Identifier: MIT */
#include "statusfile.h"

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

#define STATUS_MAX_BYTES (64 << 20) /* 64 MiB */
#define MAX_FIELDS 8

/* Split a line on TABs in place. */
static size_t split(char *line, char **fields, size_t max)
{
	size_t n = 0;

	for (char *p = line; n < max;) {
		fields[n++] = p;
		p = strchr(p, '\t');
		if (!p)
			break;
		*p++ = '\0';
	}
	return n;
}

static int push_map(struct status_file *s, char **f, size_t n)
{
	struct status_mapping m = { 0 };
	bool dnat = strcmp(f[0], "dnat") == 0;

	if ((dnat && n != 7) || (!dnat && n != 5))
		return -EBADMSG;
	snprintf(m.kind, sizeof(m.kind), "%s", f[0]);
	snprintf(m.user, sizeof(m.user), "%s", f[1]);
	snprintf(m.fragment, sizeof(m.fragment), "%s", f[2]);
	if (dnat) {
		snprintf(m.proto, sizeof(m.proto), "%s", f[3]);
		snprintf(m.ports, sizeof(m.ports), "%s", f[4]);
		snprintf(m.target, sizeof(m.target), "%s", f[5]);
		m.expires = strtoll(f[6], NULL, 10);
	} else {
		snprintf(m.target, sizeof(m.target), "%s", f[3]);
		m.expires = strtoll(f[4], NULL, 10);
	}
	struct status_mapping *grown = reallocarray(s->maps, s->n_maps + 1, sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	s->maps = grown;
	m.seq = s->n_maps;
	s->maps[s->n_maps++] = m;
	return 0;
}

static int push_event(struct status_file *s, char **f, size_t n)
{
	struct status_event_line e = { 0 };

	if (n != 6)
		return -EBADMSG;
	e.time = strtoll(f[1], NULL, 10);
	snprintf(e.kind, sizeof(e.kind), "%s", f[2]);
	snprintf(e.user, sizeof(e.user), "%s", f[3]);
	snprintf(e.fragment, sizeof(e.fragment), "%s", f[4]);
	snprintf(e.text, sizeof(e.text), "%s", f[5]);
	struct status_event_line *grown = reallocarray(s->events, s->n_events + 1, sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	s->events = grown;
	s->events[s->n_events++] = e;
	return 0;
}

int status_file_read(const char *runtime, struct status_file *s)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int fd = -1;
	char path[4200];
	size_t len;
	int r;

	memset(s, 0, sizeof(*s));
	snprintf(path, sizeof(path), "%s/status", runtime);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	r = read_fd_capped(fd, STATUS_MAX_BYTES, &text, &len);
	if (r < 0)
		return r;
	for (char *line = text, *next; line && *line; line = next) {
		char *f[MAX_FIELDS] = { 0 };
		size_t n;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		n = split(line, f, MAX_FIELDS);
		if (n < 2)
			continue;
		r = 0;
		if (strcmp(f[0], "natwarden-status") == 0)
			s->version = (int)strtol(f[1], NULL, 10);
		else if (strcmp(f[0], "pid") == 0)
			s->pid = (pid_t)strtol(f[1], NULL, 10);
		else if (strcmp(f[0], "started") == 0)
			s->started = strtoll(f[1], NULL, 10);
		else if (strcmp(f[0], "updated") == 0)
			s->updated = strtoll(f[1], NULL, 10);
		else if (strcmp(f[0], "last_change") == 0)
			s->last_change = strtoll(f[1], NULL, 10);
		else if (strcmp(f[0], "last_apply_us") == 0)
			s->last_apply_us = strtoull(f[1], NULL, 10);
		else if (strcmp(f[0], "table") == 0)
			snprintf(s->table, sizeof(s->table), "%s", f[1]);
		else if (strcmp(f[0], "users") == 0)
			s->users = strtoul(f[1], NULL, 10);
		else if (strcmp(f[0], "fragments") == 0)
			s->fragments = strtoul(f[1], NULL, 10);
		else if (strcmp(f[0], "mappings") == 0)
			s->mappings = strtoul(f[1], NULL, 10);
		else if (strcmp(f[0], "last_error") == 0)
			snprintf(s->last_error, sizeof(s->last_error), "%s", f[1]);
		else if (strcmp(f[0], "dnat") == 0 || strcmp(f[0], "masquerade") == 0)
			r = push_map(s, f, n);
		else if (strcmp(f[0], "event") == 0)
			r = push_event(s, f, n);
		if (r == -ENOMEM) {
			status_file_free(s);
			return r;
		}
	}
	if (s->version != 1) {
		status_file_free(s);
		return -EBADMSG;
	}
	return 0;
}

void status_file_free(struct status_file *s)
{
	free(s->maps);
	free(s->events);
	s->maps = NULL;
	s->events = NULL;
	s->n_maps = s->n_events = 0;
}

int status_file_active_set(const struct status_file *s, struct active_set **ret)
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
			const struct status_mapping *m = &s->maps[j];
			if (strcmp(m->kind, "dnat") == 0)
				fprintf(out, "dnat %s %s to %s\n", m->proto, m->ports, m->target);
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

int status_file_daemon_alive(const struct status_file *s)
{
	char path[64], cmdline[4096];
	size_t n;
	FILE *f;

	if (s->pid <= 0)
		return 0;
	if (kill(s->pid, 0) < 0 && errno == ESRCH)
		return 0;
	/* the pid may have been reused: is that process a natwardend (also under valgrind)? */
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)s->pid);
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
