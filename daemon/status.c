/* SPDX-License-Identifier: MIT */
#include "status.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"

/* An entry's lines, rendered once and kept with it (status_forget() when it changes). */
static const char *entry_lines(struct active_entry *e)
{
	int64_t expires = e->expires ? (e->expires + 999) / 1000 : 0;
	size_t len = 0;
	FILE *out;

	if (e->cache)
		return e->cache;
	out = open_memstream(&e->cache, &len);
	if (!out)
		return NULL;
	for (size_t k = 0; k < e->frag->n_stmts; k++) {
		const struct fragment_stmt *s = &e->frag->stmts[k];
		char pub[32], target[32], pfx[PREFIX4_STRLEN];
		if (s->kind == STMT_MASQUERADE) {
			fprintf(out, "masquerade\t%s\t%s\t%s\t%" PRId64 "\n", e->user, e->frag->name,
				prefix4_format(&s->masq, true, pfx), expires);
			continue;
		}
		stmt_format_public(s, pub, sizeof(pub));
		pub[3] = '\t'; /* "tcp 80" -> "tcp\t80" */
		fprintf(out, "dnat\t%s\t%s\t%s\t%s\t%" PRId64 "\n", e->user, e->frag->name, pub,
			stmt_format_target(s, target, sizeof(target)), expires);
	}
	if (fclose(out) != 0) {
		free(e->cache);
		e->cache = NULL;
	}
	return e->cache;
}

void status_forget(struct active_entry *e)
{
	free(e->cache);
	e->cache = NULL;
}

int status_render(const struct status_info *info, const struct active_set *a, FILE *out)
{
	fprintf(out,
		"natwarden-status\t1\npid\t%d\nstarted\t%" PRId64 "\nupdated\t%" PRId64
		"\nlast_change\t%" PRId64 "\nlast_apply_us\t%" PRIu64 "\ntable\tinet %s\nusers\t%zu"
		"\nfragments\t%zu\nmappings\t%zu\nlast_error\t%s\n",
		(int)getpid(), info->started, (int64_t)time(NULL), info->last_change,
		info->last_apply_us, info->table, active_set_users(a), active_set_size(a),
		active_set_rules(a), info->last_error && *info->last_error ? info->last_error : "-");
	/* Fragments in no particular order, each fragment's lines together: with 10,000
	 * mappings, sorting and formatting them all again on every change would dominate. */
	for (size_t i = 0; i < active_set_size(a); i++) {
		const char *lines = entry_lines(active_set_at(a, i));
		if (!lines)
			return -ENOMEM;
		fputs(lines, out);
	}
	for (size_t i = 0; i < info->n_events; i++) {
		const struct status_event *ev = &info->events[i];
		fprintf(out, "event\t%" PRId64 "\t%s\t%s\t%s\t%s\n", ev->time, ev->kind, ev->user,
			ev->fragment, ev->text);
	}
	return 0;
}

int status_write(int dirfd, const struct status_info *info, const struct active_set *a)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	int r;

	if (!out)
		return -ENOMEM;
	r = status_render(info, a, out);
	if (fclose(out) != 0 && r == 0)
		r = -ENOMEM;
	if (r < 0)
		return r;
	/* /run is not worth an fsync; readers always see a whole file thanks to the rename */
	return write_file_atomic(dirfd, "status", text, len, 0644, 0);
}
