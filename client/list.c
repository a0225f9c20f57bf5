/* SPDX-License-Identifier: MIT */
/* natwarden list / status: what is live, and how the daemon is doing, from its status file. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "fwcheck.h"
#include "json.h"
#include "status.h"
#include "strutil.h"

/* `"KEY": "VALUE"` after `sep` */
static void json_member(const char *sep, const char *key, const char *value)
{
	printf("%s\"%s\": ", sep, key);
	json_string(value);
}

/* The same, with null for "" (what the status file writes as "-": none, or not yet). */
static void json_member_or_null(const char *sep, const char *key, const char *value)
{
	if (value[0])
		json_member(sep, key, value);
	else
		printf("%s\"%s\": null", sep, key);
}

static const char *format_time(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!t)
		return "-";
	/* gmtime_r() fails for a time past the year 2^31: show the number then */
	if (!gmtime_r(&tt, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, size, "%" PRId64, t);
	return buf;
}

/* By owner and fragment; the order within a fragment is kept (it is the fragment's own). */
static int compare_maps(const void *x, const void *y)
{
	const struct statusfile_mapping *a = x, *b = y;
	int r = strcmp(a->user, b->user);

	if (!r)
		r = strcmp(a->fragment, b->fragment);
	if (!r)
		r = a->seq < b->seq ? -1 : a->seq > b->seq;
	return r;
}

static int read_status(const struct client_options *o, struct statusfile *s)
{
	int r = status_read(o->runtime, s);

	if (r == 0 && s->n_maps)
		qsort(s->maps, s->n_maps, sizeof(s->maps[0]), compare_maps);

	if (r == -ENOENT)
		fprintf(stderr, "natwarden: no status in %s: natwardend has not run here\n", o->runtime);
	else if (r < 0)
		fprintf(stderr, "natwarden: cannot read %s/status: %s\n", o->runtime, strerror(-r));
	return r;
}

static void print_json(const struct statusfile *s)
{
	printf("[");
	for (size_t i = 0; i < s->n_maps; i++) {
		const struct statusfile_mapping *m = &s->maps[i];
		printf("%s\n  {", i ? "," : "");
		json_member("", "owner", m->user);
		json_member(", ", "fragment", m->fragment);
		json_member(", ", "type", m->kind);
		if (strcmp(m->kind, "masquerade") != 0) {
			json_member(", ", "protocol", m->proto);
			json_member(", ", "public", m->ports);
		}
		json_member(", ", "target", m->target);
		printf(", \"expires\": %" PRId64 "}", m->expires);
	}
	printf("%s]\n", s->n_maps ? "\n" : "");
}

/* The options of list and status ([--json]); -1 to go on, else the exit code. */
static int parse_json_option(int argc, char **argv, bool *ret_json)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool json = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+jh", longopts, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else if (c == 'h') {
			printf("usage: natwarden %s [--json]\n", argv[0]);
			return EXIT_ACCEPTED;
		} else
			return EXIT_USAGE;
	}
	if (optind != argc) {
		fprintf(stderr, "usage: natwarden %s [--json]\n", argv[0]);
		return EXIT_USAGE;
	}
	*ret_json = json;
	return -1;
}

int cmd_list(const struct client_options *o, int argc, char **argv)
{
	struct statusfile s;
	bool json;
	char when[40];
	int r = parse_json_option(argc, argv, &json);

	if (r >= 0)
		return r;
	if (read_status(o, &s) < 0)
		return EXIT_USAGE;
	if (json) {
		print_json(&s);
	} else if (s.n_maps == 0) {
		printf("no active forwards\n");
	} else {
		printf("%-16s %-20s %-5s %-12s %-22s %s\n", "OWNER", "FRAGMENT", "PROTO", "PUBLIC",
		       "TARGET", "EXPIRES");
		for (size_t i = 0; i < s.n_maps; i++) {
			const struct statusfile_mapping *m = &s.maps[i];
			bool dnat = strcmp(m->kind, "masquerade") != 0; /* dnat or pinhole */
			printf("%-16s %-20s %-5s %-12s %-22s %s\n", m->user, m->fragment,
			       dnat ? m->proto : "-", dnat ? m->ports : "masquerade", m->target,
			       format_time(m->expires, when, sizeof(when)));
		}
	}
	statusfile_finish(&s);
	return EXIT_ACCEPTED;
}

/* "WAN interface eth0: public address 203.0.113.7 (followed on the interface)" */
static void print_wan(const struct statusfile_head *h)
{
	const char *from = "from the policy";

	if (strcmp(h->wan_source, "interface") == 0)
		from = "followed on the interface";
	else if (strcmp(h->wan_source, "default-route") == 0)
		from = "followed on the interface of the IPv4 default route";
	if (!h->wan_interface[0])
		return; /* a daemon of before */
	if (strcmp(h->wan_state, "no-route") == 0)
		printf("WAN interface auto: no IPv4 default route (yet); waiting for one\n");
	else if (strcmp(h->wan_state, "missing") == 0)
		printf("WAN interface %s: does not exist (yet); waiting for it\n", h->wan_interface);
	else if (strcmp(h->wan_state, "no-address") == 0)
		printf("WAN interface %s: no IPv4 address; hairpin waits for one\n", h->wan_interface);
	else
		printf("WAN interface %s: public address %s (%s)\n", h->wan_interface,
		       h->wan_addresses, from);
}

/* What the daemon found in the administrator's forward chains (nothing from an older daemon). */
static void print_admin(const struct statusfile *s)
{
	char line[FWCHECK_LINE_MAX];

	for (size_t i = 0; i < s->n_admin; i++) {
		const struct statusfile_admin *a = &s->admin[i];
		fwcheck_line(a->table, a->chain, a->what, a->action, line, sizeof(line));
		printf("%s\n", line);
	}
	if (strncmp(s->head.admin_check, "partial:", 8) == 0)
		printf("admin chains: %s\n", s->head.admin_check);
	else if (s->n_admin == 0 && strcmp(s->head.admin_check, "ok") == 0)
		printf("admin chains: none on the forward hook drops natwarden's connections\n");
	else if (s->n_admin == 0 && s->head.admin_check[0])
		printf("admin chains: not checked (%s)\n", s->head.admin_check);
}

static void print_status_json_lists(const struct statusfile *s)
{
	printf(",\n  \"admin_drops\": [");
	for (size_t i = 0; i < s->n_admin; i++) {
		const struct statusfile_admin *a = &s->admin[i];
		json_member(i ? ",\n    {" : "\n    {", "table", a->table);
		json_member(", ", "chain", a->chain);
		json_member(", ", "what", a->what);
		json_member(", ", "action", a->action);
		printf("}");
	}
	printf("%s],\n  \"events\": [", s->n_admin ? "\n  " : "");
	for (size_t i = 0; i < s->n_events; i++) {
		const struct statusfile_event *e = &s->events[i];
		printf("%s\n    {\"time\": %" PRId64, i ? "," : "", e->time);
		json_member(", ", "kind", e->kind);
		json_member(", ", "user", e->user);
		json_member(", ", "fragment", e->fragment);
		json_member(", ", "text", e->text);
		printf("}");
	}
	printf("%s]", s->n_events ? "\n  " : "");
}

/* The "wan" record: null from a daemon of before; the addresses as a list. */
static void print_status_json_wan(const struct statusfile_head *h)
{
	const char *cur = h->wan_addresses, *end = cur + strlen(cur), *item;
	size_t len, n = 0;

	if (!h->wan_interface[0]) {
		printf(",\n  \"wan\": null");
		return;
	}
	json_member(",\n  \"wan\": {", "interface", h->wan_interface);
	json_member(", ", "source", h->wan_source);
	json_member(", ", "state", h->wan_state);
	printf(", \"addresses\": [");
	while (str_next_item(&cur, end, ',', &item, &len)) {
		char address[sizeof(h->wan_addresses)];
		if (len == 0)
			continue; /* none at all: "" */
		snprintf(address, sizeof(address), "%.*s", (int)len, item);
		printf("%s", n++ ? ", " : "");
		json_string(address);
	}
	printf("]}");
}

/* What `status` prints, as one object (the keys are in natwarden(1)). */
static void print_status_json(const struct statusfile *s, bool alive)
{
	const struct statusfile_head *h = &s->head;

	printf("{\n  \"running\": %s,\n  \"pid\": %d,\n  \"started\": %" PRId64
	       ",\n  \"updated\": %" PRId64 ",\n  \"last_change\": %" PRId64
	       ",\n  \"last_apply_us\": %" PRIu64,
	       alive ? "true" : "false", (int)h->pid, h->started, h->updated, h->last_change,
	       h->last_apply_us);
	json_member(",\n  ", "table", h->table);
	printf(",\n  \"users\": %zu,\n  \"fragments\": %zu,\n  \"mappings\": %zu", h->users,
	       h->fragments, h->mappings);
	json_member_or_null(",\n  ", "last_error", h->last_error);
	print_status_json_wan(h);
	json_member_or_null(",\n  ", "admin_check", h->admin_check);
	print_status_json_lists(s);
	printf("\n}\n");
}

static void print_status_text(const struct statusfile *s, bool alive)
{
	const struct statusfile_head *h = &s->head;
	char when[40];
	int64_t now = (int64_t)time(NULL);

	if (alive)
		printf("natwardend is running (pid %d) since %s\n", (int)h->pid,
		       format_time(h->started, when, sizeof(when)));
	else
		printf("natwardend is NOT running (it was pid %d, last update %s)\n", (int)h->pid,
		       format_time(h->updated, when, sizeof(when)));
	printf("table %s: %zu mappings from %zu fragments of %zu users\n", h->table, h->mappings,
	       h->fragments, h->users);
	if (h->last_change)
		printf("last change: %s (%" PRId64 " s ago); last kernel transaction took %.2f ms\n",
		       format_time(h->last_change, when, sizeof(when)), now - h->last_change,
		       (double)h->last_apply_us / 1000.0);
	else
		printf("last change: none since start; last kernel transaction took %.2f ms\n",
		       (double)h->last_apply_us / 1000.0);
	print_wan(h);
	printf("last error: %s\n", h->last_error[0] ? h->last_error : "-");
	print_admin(s);
	for (size_t i = 0; i < s->n_events; i++) {
		const struct statusfile_event *e = &s->events[i];
		printf("%s %s %s%s%s: %s\n", format_time(e->time, when, sizeof(when)), e->kind,
		       e->user, e->user[0] ? "/" : "", e->fragment, e->text);
	}
}

int cmd_status(const struct client_options *o, int argc, char **argv)
{
	struct statusfile s;
	bool json, alive;
	int r = parse_json_option(argc, argv, &json);

	if (r >= 0)
		return r;
	if (read_status(o, &s) < 0)
		return EXIT_NO_VERDICT;
	alive = status_daemon_alive(&s) > 0;
	if (json)
		print_status_json(&s, alive);
	else
		print_status_text(&s, alive);
	statusfile_finish(&s);
	return alive ? EXIT_ACCEPTED : EXIT_NO_VERDICT;
}
