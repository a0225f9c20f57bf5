/* SPDX-License-Identifier: MIT */
#include "status.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"

/* One statement of an entry as a mapping record. */
static void mapping_of(const struct active_entry *e, const struct fragment_stmt *s,
		       struct statusfile_mapping *m)
{
	char pfx[PREFIX4_STRLEN];

	*m = (struct statusfile_mapping){
		.expires = e->expires ? (e->expires + 999) / 1000 : 0,
	};
	snprintf(m->user, sizeof(m->user), "%s", e->user);
	snprintf(m->fragment, sizeof(m->fragment), "%s", e->frag->name);
	if (s->kind == STMT_MASQUERADE) {
		snprintf(m->kind, sizeof(m->kind), "masquerade");
		snprintf(m->target, sizeof(m->target), "%s", prefix4_format(&s->masq, true, pfx));
		return;
	}
	snprintf(m->kind, sizeof(m->kind), "%s", s->kind == STMT_PINHOLE ? "pinhole" : "dnat");
	snprintf(m->proto, sizeof(m->proto), "%s", proto_name(s->proto));
	if (s->port_lo == s->port_hi)
		snprintf(m->ports, sizeof(m->ports), "%u", s->port_lo);
	else
		snprintf(m->ports, sizeof(m->ports), "%u-%u", s->port_lo, s->port_hi);
	stmt_format_target(s, m->target, sizeof(m->target));
}

void status_cache_init(struct status_cache *c)
{
	u64map_init(&c->lines);
}

void status_cache_finish(struct status_cache *c)
{
	char *text;

	for (size_t i = 0; (text = u64map_next_ptr(&c->lines, &i));)
		free(text);
	u64map_finish(&c->lines);
}

/*
 * An entry's lines, rendered once and kept beside it (status_forget() when it changes): with
 * 10,000 mappings, formatting them all again on every change would dominate.
 */
static const char *entry_lines(struct status_cache *c, const struct active_entry *e)
{
	char *text = u64map_get_ptr(&c->lines, e);
	size_t len = 0;
	FILE *out;

	if (text)
		return text;
	out = open_memstream(&text, &len);
	if (!out)
		return NULL;
	for (size_t k = 0; k < e->frag->n_stmts; k++) {
		struct statusfile_mapping m;
		mapping_of(e, &e->frag->stmts[k], &m);
		(void)statusfile_format_mapping(out, &m); /* the kind is always a known one */
	}
	if (fclose(out) != 0 || u64map_put_ptr(&c->lines, e, text) < 0) {
		free(text);
		return NULL;
	}
	return text;
}

void status_forget(struct status_cache *c, const struct active_entry *e)
{
	char *text = u64map_get_ptr(&c->lines, e);

	if (!text)
		return;
	free(text);
	u64map_remove_ptr(&c->lines, e);
}

static void event_of(const struct status_event *ev, struct statusfile_event *ret)
{
	*ret = (struct statusfile_event){ .time = ev->time };
	snprintf(ret->kind, sizeof(ret->kind), "%s", ev->kind);
	snprintf(ret->user, sizeof(ret->user), "%s", ev->user);
	snprintf(ret->fragment, sizeof(ret->fragment), "%s", ev->fragment);
	snprintf(ret->text, sizeof(ret->text), "%s", ev->text);
}

/*
 * The same clock as the daemon's last_change (clock_gettime): time(2) reads the coarse clock,
 * up to a tick behind, and could stamp a change made just after a second began as "updated"
 * in the second before it.
 */
static int64_t realtime_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

static void head_of(const struct status_info *info, const struct active_set *a,
		    struct statusfile_head *h)
{
	*h = (struct statusfile_head){
		.pid = getpid(),
		.started = info->started,
		.updated = realtime_s(),
		.last_change = info->last_change,
		.last_apply_us = info->last_apply_us,
		.users = active_set_users(a),
		.fragments = active_set_size(a),
		.mappings = active_set_rules(a),
	};
	snprintf(h->table, sizeof(h->table), "inet %s", info->table);
	snprintf(h->last_error, sizeof(h->last_error), "%s",
		 info->last_error ? info->last_error : "");
	snprintf(h->wan_interface, sizeof(h->wan_interface), "%s",
		 info->wan_interface ? info->wan_interface : "");
	snprintf(h->wan_source, sizeof(h->wan_source), "%s", info->wan_source ? info->wan_source : "");
	snprintf(h->wan_state, sizeof(h->wan_state), "%s", info->wan_state ? info->wan_state : "");
	snprintf(h->wan_addresses, sizeof(h->wan_addresses), "%s",
		 info->wan_addresses ? info->wan_addresses : "-");
	snprintf(h->admin_check, sizeof(h->admin_check), "%s",
		 info->admin_check ? info->admin_check : "");
}

/* The admin_drop lines, from the findings; NULL when there are none (or out of memory). */
static struct statusfile_admin *admin_of(const struct status_info *info)
{
	struct statusfile_admin *list = info->n_admin ? calloc(info->n_admin, sizeof(*list)) : NULL;

	for (size_t i = 0; list && i < info->n_admin; i++) {
		const struct fwcheck_finding *f = &info->admin[i];
		snprintf(list[i].table, sizeof(list[i].table), "%s %s", fwcheck_family_name(f->family),
			 f->table);
		snprintf(list[i].chain, sizeof(list[i].chain), "%s", f->chain);
		snprintf(list[i].what, sizeof(list[i].what), "%s", fwcheck_what(f));
		fwcheck_action(f, list[i].action, sizeof(list[i].action));
	}
	return list;
}

/* The file's text, from the daemon's data. */
static int render(const struct status_info *info, const struct active_set *a,
		  struct status_cache *c, FILE *out)
{
	struct statusfile_event events[STATUS_EVENTS];
	struct statusfile_data data = { .n_blocks = active_set_size(a) };
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
	const char **blocks = calloc(data.n_blocks + 1, sizeof(*blocks));
	int r = 0;

	if (!blocks)
		return -ENOMEM;
	head_of(info, a, &data.head);
	/* fragments in no particular order, each fragment's lines together */
	for (size_t i = 0; i < data.n_blocks && r == 0; i++) {
		blocks[i] = entry_lines(c, active_set_at(a, i));
		if (!blocks[i])
			r = -ENOMEM;
	}
	data.blocks = blocks;
	for (size_t i = 0; i < info->n_events && i < ELEMENTSOF(events); i++)
		event_of(&info->events[i], &events[data.n_events++]);
	data.events = events;
	struct statusfile_admin *admin = admin_of(info);
	data.admin = admin;
	data.n_admin = admin ? info->n_admin : 0;
	if (r == 0)
		r = statusfile_render(out, &data);
	free(admin);
	free(blocks);
	return r;
}

struct status_job {
	const struct status_info *info;
	const struct active_set *a;
	struct status_cache *c;
};

static int fill_status(FILE *out, void *userdata)
{
	struct status_job *j = userdata;

	return render(j->info, j->a, j->c, out);
}

int status_write(int dirfd, const struct status_info *info, const struct active_set *a,
		 struct status_cache *c)
{
	struct status_job j = { info, a, c };

	/*
	 * Rendered straight into the new file (600 KB at 10,000 mappings, never held whole in
	 * memory). /run is not worth an fsync; readers always see a whole file thanks to the
	 * rename.
	 */
	return write_file_atomic_with(dirfd, "status", 0644, 0, fill_status, &j);
}
