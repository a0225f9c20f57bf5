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
#include "status.h"

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
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
		printf("%s\n  {\"owner\": ", i ? "," : "");
		json_string(m->user);
		printf(", \"fragment\": ");
		json_string(m->fragment);
		printf(", \"type\": ");
		json_string(m->kind);
		if (strcmp(m->kind, "masquerade") != 0) {
			printf(", \"protocol\": ");
			json_string(m->proto);
			printf(", \"public\": ");
			json_string(m->ports);
		}
		printf(", \"target\": ");
		json_string(m->target);
		printf(", \"expires\": %" PRId64 "}", m->expires);
	}
	printf("%s]\n", s->n_maps ? "\n" : "");
}

int cmd_list(const struct client_options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct statusfile s;
	bool json = false;
	char when[40];
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+jh", longopts, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else if (c == 'h') {
			printf("usage: natwarden list [--json]\n");
			return EXIT_ACCEPTED;
		} else
			return EXIT_USAGE;
	}
	if (optind != argc) {
		fprintf(stderr, "usage: natwarden list [--json]\n");
		return EXIT_USAGE;
	}
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
	const char *from = strcmp(h->wan_source, "interface") == 0 ? "followed on the interface" :
								   "from the policy";

	if (!h->wan_interface[0])
		return; /* a daemon of before */
	if (strcmp(h->wan_state, "missing") == 0)
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

int cmd_status(const struct client_options *o, int argc, char **argv)
{
	struct statusfile s;
	char when[40];
	int64_t now = (int64_t)time(NULL);
	int alive;

	(void)argv; /* the signature of every command */
	if (argc > 1) {
		fprintf(stderr, "usage: natwarden status\n");
		return EXIT_USAGE;
	}
	if (read_status(o, &s) < 0)
		return EXIT_NO_VERDICT;
	alive = status_daemon_alive(&s);
	if (alive)
		printf("natwardend is running (pid %d) since %s\n", (int)s.head.pid,
		       format_time(s.head.started, when, sizeof(when)));
	else
		printf("natwardend is NOT running (it was pid %d, last update %s)\n", (int)s.head.pid,
		       format_time(s.head.updated, when, sizeof(when)));
	printf("table %s: %zu mappings from %zu fragments of %zu users\n", s.head.table, s.head.mappings,
	       s.head.fragments, s.head.users);
	if (s.head.last_change)
		printf("last change: %s (%" PRId64 " s ago); last kernel transaction took %.2f ms\n",
		       format_time(s.head.last_change, when, sizeof(when)), now - s.head.last_change,
		       (double)s.head.last_apply_us / 1000.0);
	else
		printf("last change: none since start; last kernel transaction took %.2f ms\n",
		       (double)s.head.last_apply_us / 1000.0);
	print_wan(&s.head);
	printf("last error: %s\n", s.head.last_error[0] ? s.head.last_error : "-");
	print_admin(&s);
	for (size_t i = 0; i < s.n_events; i++) {
		const struct statusfile_event *e = &s.events[i];
		printf("%s %s %s%s%s: %s\n", format_time(e->time, when, sizeof(when)), e->kind,
		       e->user, e->user[0] ? "/" : "", e->fragment, e->text);
	}
	statusfile_finish(&s);
	return alive ? EXIT_ACCEPTED : EXIT_NO_VERDICT;
}
