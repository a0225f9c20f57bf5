/* SPDX-License-Identifier: MIT */
#include "statusfile.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

#define MAX_FIELDS 8

/* One value: a TAB or a newline in it would make another field or record. */
static void put_value(FILE *out, const char *value)
{
	for (const char *c = value; *c; c++)
		fputc((unsigned char)*c < 0x20 || *c == 0x7f ? '?' : *c, out);
}

/* "\tVALUE", for each value in turn */
static void put_values(FILE *out, const char *const *values, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		fputc('\t', out);
		put_value(out, values[i]);
	}
}

int statusfile_format_mapping(FILE *out, const struct statusfile_mapping *m)
{
	if (strcmp(m->kind, "dnat") == 0 || strcmp(m->kind, "pinhole") == 0) {
		const char *v[] = { m->user, m->fragment, m->proto, m->ports, m->target };
		fputs(m->kind, out);
		put_values(out, v, ELEMENTSOF(v));
	} else if (strcmp(m->kind, "masquerade") == 0) {
		const char *v[] = { m->user, m->fragment, m->target };
		fputs("masquerade", out);
		put_values(out, v, ELEMENTSOF(v));
	} else {
		return -EINVAL;
	}
	fprintf(out, "\t%" PRId64 "\n", m->expires);
	return 0;
}

void statusfile_format_event(FILE *out, const struct statusfile_event *e)
{
	const char *v[] = { e->kind, e->user, e->fragment, e->text };

	fprintf(out, "event\t%" PRId64, e->time);
	put_values(out, v, ELEMENTSOF(v));
	fputc('\n', out);
}

static void put_text(FILE *out, const char *key, const char *value)
{
	fputs(key, out);
	put_values(out, &value, 1);
	fputc('\n', out);
}

static void render_head(FILE *out, const struct statusfile_head *h)
{
	fprintf(out,
		"natwarden-status\t%d\npid\t%d\nstarted\t%" PRId64 "\nupdated\t%" PRId64
		"\nlast_change\t%" PRId64 "\nlast_apply_us\t%" PRIu64 "\n",
		STATUSFILE_VERSION, (int)h->pid, h->started, h->updated, h->last_change,
		h->last_apply_us);
	put_text(out, "table", h->table);
	fprintf(out, "users\t%zu\nfragments\t%zu\nmappings\t%zu\n", h->users, h->fragments,
		h->mappings);
	put_text(out, "last_error", h->last_error[0] ? h->last_error : "-");
	if (h->wan_interface[0]) {
		const char *wan[] = { h->wan_interface, h->wan_source, h->wan_state,
				      h->wan_addresses[0] ? h->wan_addresses : "-" };
		fputs("wan", out);
		put_values(out, wan, ELEMENTSOF(wan));
		fputc('\n', out);
	}
	put_text(out, "admin_check", h->admin_check[0] ? h->admin_check : "-");
}

static void render_admin(FILE *out, const struct statusfile_admin *a)
{
	const char *v[] = { a->table, a->chain, a->what, a->action };

	fputs("admin_drop", out);
	put_values(out, v, ELEMENTSOF(v));
	fputc('\n', out);
}

int statusfile_render(FILE *out, const struct statusfile_data *d)
{
	render_head(out, &d->head);
	for (size_t i = 0; i < d->n_admin; i++)
		render_admin(out, &d->admin[i]);
	for (size_t i = 0; i < d->n_blocks; i++)
		fputs(d->blocks[i], out);
	for (size_t i = 0; i < d->n_events; i++)
		statusfile_format_event(out, &d->events[i]);
	return ferror(out) ? -EIO : 0;
}

/* ---- parsing ---------------------------------------------------------------------------- */

/* Split a line on TABs in place; at most `max` fields, the rest of the line is dropped. */
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

#define COPY(dst, src) snprintf((dst), sizeof(dst), "%s", (src))

/* A file being parsed: its lists grow by doubling (10,000 mappings are 2 MB). */
struct parser {
	struct statusfile s;
	size_t maps_cap, events_cap, admin_cap;
};

/* `items` with room for twice `*cap` of them (64 at first); NULL when out of memory. */
static void *grow(void *items, size_t *cap, size_t size)
{
	size_t want = *cap ? *cap * 2 : 64;
	void *grown = reallocarray(items, want, size);

	if (grown)
		*cap = want;
	return grown;
}

static int push_map(struct parser *p, char **f, size_t n)
{
	struct statusfile *s = &p->s;
	struct statusfile_mapping m = { 0 };
	bool dnat = strcmp(f[0], "dnat") == 0 || strcmp(f[0], "pinhole") == 0;

	if ((dnat && n != 7) || (!dnat && n != 5))
		return -EBADMSG;
	COPY(m.kind, f[0]);
	COPY(m.user, f[1]);
	COPY(m.fragment, f[2]);
	if (dnat) {
		COPY(m.proto, f[3]);
		COPY(m.ports, f[4]);
		COPY(m.target, f[5]);
		m.expires = strtoll(f[6], NULL, 10);
	} else {
		COPY(m.target, f[3]);
		m.expires = strtoll(f[4], NULL, 10);
	}
	if (s->n_maps == p->maps_cap) {
		struct statusfile_mapping *grown = grow(s->maps, &p->maps_cap, sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		s->maps = grown;
	}
	m.seq = s->n_maps;
	s->maps[s->n_maps++] = m;
	return 0;
}

static int push_event(struct parser *p, char **f, size_t n)
{
	struct statusfile *s = &p->s;
	struct statusfile_event e = { 0 };

	if (n != 6)
		return -EBADMSG;
	e.time = strtoll(f[1], NULL, 10);
	COPY(e.kind, f[2]);
	COPY(e.user, f[3]);
	COPY(e.fragment, f[4]);
	COPY(e.text, f[5]);
	if (s->n_events == p->events_cap) {
		struct statusfile_event *grown = grow(s->events, &p->events_cap, sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		s->events = grown;
	}
	s->events[s->n_events++] = e;
	return 0;
}

static int push_admin(struct parser *p, char **f, size_t n)
{
	struct statusfile *s = &p->s;
	struct statusfile_admin a = { 0 };

	if (n != 5)
		return -EBADMSG;
	COPY(a.table, f[1]);
	COPY(a.chain, f[2]);
	COPY(a.what, f[3]);
	COPY(a.action, f[4]);
	if (s->n_admin == p->admin_cap) {
		struct statusfile_admin *grown = grow(s->admin, &p->admin_cap, sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		s->admin = grown;
	}
	s->admin[s->n_admin++] = a;
	return 0;
}

/* A header record into s->head; false when `key` is none. */
static bool parse_head_record(struct statusfile *s, const char *key, const char *value)
{
	struct statusfile_head *h = &s->head;

	if (strcmp(key, "natwarden-status") == 0)
		s->version = (int)strtol(value, NULL, 10);
	else if (strcmp(key, "pid") == 0)
		h->pid = (pid_t)strtol(value, NULL, 10);
	else if (strcmp(key, "started") == 0)
		h->started = strtoll(value, NULL, 10);
	else if (strcmp(key, "updated") == 0)
		h->updated = strtoll(value, NULL, 10);
	else if (strcmp(key, "last_change") == 0)
		h->last_change = strtoll(value, NULL, 10);
	else if (strcmp(key, "last_apply_us") == 0)
		h->last_apply_us = strtoull(value, NULL, 10);
	else if (strcmp(key, "table") == 0)
		COPY(h->table, value);
	else if (strcmp(key, "users") == 0)
		h->users = strtoul(value, NULL, 10);
	else if (strcmp(key, "fragments") == 0)
		h->fragments = strtoul(value, NULL, 10);
	else if (strcmp(key, "mappings") == 0)
		h->mappings = strtoul(value, NULL, 10);
	else if (strcmp(key, "last_error") == 0)
		COPY(h->last_error, strcmp(value, "-") == 0 ? "" : value);
	else if (strcmp(key, "admin_check") == 0)
		COPY(h->admin_check, strcmp(value, "-") == 0 ? "" : value);
	else
		return false;
	return true;
}

/* One line, split in place. Malformed and unknown records are ignored: only -ENOMEM counts. */
static int parse_line(struct parser *p, char *line)
{
	char *f[MAX_FIELDS] = { 0 };
	size_t n = split(line, f, MAX_FIELDS);
	int r = 0;

	if (n >= 5 && strcmp(f[0], "wan") == 0) {
		struct statusfile_head *h = &p->s.head;
		COPY(h->wan_interface, f[1]);
		COPY(h->wan_source, f[2]);
		COPY(h->wan_state, f[3]);
		COPY(h->wan_addresses, strcmp(f[4], "-") == 0 ? "" : f[4]);
		return 0;
	}
	if (n < 2 || parse_head_record(&p->s, f[0], f[1]))
		return 0;
	if (strcmp(f[0], "dnat") == 0 || strcmp(f[0], "masquerade") == 0 ||
	    strcmp(f[0], "pinhole") == 0)
		r = push_map(p, f, n);
	else if (strcmp(f[0], "event") == 0)
		r = push_event(p, f, n);
	else if (strcmp(f[0], "admin_drop") == 0)
		r = push_admin(p, f, n);
	return r == -ENOMEM ? r : 0;
}

int statusfile_parse(const char *text, size_t len, struct statusfile *ret)
{
	struct parser p = { 0 };
	char *copy = strndup(text, len);
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	if (!copy)
		return -ENOMEM;
	for (char *line = copy, *next; line && r == 0; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		r = parse_line(&p, line);
	}
	free(copy);
	if (r == 0 && p.s.version != STATUSFILE_VERSION)
		r = -EBADMSG;
	if (r < 0) {
		statusfile_finish(&p.s);
		return r;
	}
	*ret = p.s;
	return 0;
}

void statusfile_finish(struct statusfile *s)
{
	free(s->maps);
	free(s->events);
	free(s->admin);
	s->maps = NULL;
	s->events = NULL;
	s->admin = NULL;
	s->n_maps = s->n_events = s->n_admin = 0;
}
