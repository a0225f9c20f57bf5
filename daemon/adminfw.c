/* SPDX-License-Identifier: MIT */
/*
 * The administrator's forward chains: read them (fwread.h, never written), judge them
 * (common/fwcheck.h), and say what changed: one journal entry per chain that starts to drop
 * natwarden's connections (or drops them for another reason), one when it no longer does. At
 * start, after a reload, and after someone else changed the ruleset (a short while later, so a
 * burst of changes is read once). A failure to read is logged once per distinct error, never
 * fatal; the last findings stay until the chains can be read again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "fwread.h"
#include "log.h"

/* Read and judge the kernel's chains now. 0, or a negative errno with the reason. */
static int judge_kernel(const struct ruleset_config *c, struct fwcheck_finding **ret, size_t *ret_n,
			size_t *ret_unread, char **ret_error)
{
	char rule[FWCHECK_RULE_MAX], own[FWCHECK_NAME_MAX + 8];
	struct fwread rd;
	int r;

	r = fwread_chains(c->table, &rd, ret_error);
	if (r < 0)
		return r;
	ruleset_admin_rule(c, rule, sizeof(rule));
	snprintf(own, sizeof(own), "inet %s", c->table);
	/* both halves matter: a policy may allow pinholes at any reload */
	const struct fwcheck_input in = {
		.chains = rd.chains,
		.n_chains = rd.n_chains,
		.own_table = own,
		.mark = c->mark,
		.mark_mask = c->mark_mask,
		.admin_rule = rule,
		.forwards = true,
		.pinholes = true,
	};
	r = fwcheck_run(&in, ret, ret_n);
	*ret_unread = rd.n_unread;
	fwread_finish(&rd);
	return r;
}

/* "3 chains not read (...)": what the check could not see, so that nobody takes it for "ok". */
static void unread_note(size_t n, char *buf, size_t size)
{
	snprintf(buf, size,
		 "partial: %zu chain%s not read (a name over %d bytes or with a control character, "
		 "more than %d chains, or past the %d ms limit)",
		 n, n == 1 ? "" : "s", FWCHECK_NAME_MAX, FWREAD_CHAINS_MAX, FWREAD_BUDGET_MS);
}

/* The status file's admin_check: "ok", "" (not read yet), the partial note or the error. */
const char *adminfw_state(const struct daemon *d, char *buf, size_t size)
{
	if (d->admin_error[0])
		return d->admin_error;
	if (!d->admin_read)
		return "";
	if (!d->admin_unread)
		return "ok";
	unread_note(d->admin_unread, buf, size);
	return buf;
}

/* The reason a read failed, on one line. */
static void read_error(int r, const char *err, char *buf, size_t size)
{
	snprintf(buf, size, "cannot read the forward hook's chains: %s",
		 err && *err ? err : strerror(-r));
	buf[strcspn(buf, "\n")] = '\0';
}

static const struct fwcheck_finding *find(const struct fwcheck_finding *list, size_t n,
					  const struct fwcheck_finding *f, bool same_words)
{
	char a[FWCHECK_LINE_MAX], b[FWCHECK_LINE_MAX];

	fwcheck_describe(f, a, sizeof(a));
	for (size_t i = 0; i < n; i++) {
		if (list[i].family != f->family || strcmp(list[i].table, f->table) != 0 ||
		    strcmp(list[i].chain, f->chain) != 0)
			continue;
		fwcheck_describe(&list[i], b, sizeof(b));
		if (!same_words || strcmp(a, b) == 0)
			return &list[i];
	}
	return NULL;
}

static void log_finding(const struct fwcheck_finding *f, bool drops)
{
	char table[FWCHECK_NAME_MAX + 8], line[FWCHECK_LINE_MAX];
	const struct log_field fields[] = {
		{ "TABLE", table },
		{ "CHAIN", f->chain },
		{ "ADMIN_RULE", f->rule },
		{ "DROPS", drops ? fwcheck_what(f) : "none" },
	};

	snprintf(table, sizeof(table), "%s %s", fwcheck_family_name(f->family), f->table);
	if (drops) {
		fwcheck_describe(f, line, sizeof(line));
		log_event(LOG_WARNING, MID_ADMIN_DROPS, fields, ELEMENTSOF(fields), "%s", line);
	} else {
		log_event(LOG_NOTICE, MID_ADMIN_ADMITS, fields, ELEMENTSOF(fields),
			  "admin chain %s %s no longer drops natwarden's connections", table,
			  f->chain);
	}
}

void adminfw_check(struct daemon *d)
{
	struct fwcheck_finding *found = NULL;
	_cleanup_free_ char *err = NULL;
	uint64_t t0 = mono_us();
	bool changed = false;
	size_t n = 0, unread = 0;
	int r;

	r = judge_kernel(&d->rcfg, &found, &n, &unread, &err);
	d->admin_read_us = mono_us() - t0;
	if (r < 0) {
		char why[sizeof(d->admin_error)];
		read_error(r, err, why, sizeof(why));
		if (strcmp(why, d->admin_error) != 0) {
			log_warning("the administrator's forward chains were not checked: %s", why);
			snprintf(d->admin_error, sizeof(d->admin_error), "%s", why);
			daemon_write_status(d);
		}
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (!find(d->admin, d->n_admin, &found[i], true)) {
			log_finding(&found[i], true);
			changed = true;
		}
	for (size_t i = 0; i < d->n_admin; i++)
		if (!find(found, n, &d->admin[i], false)) {
			log_finding(&d->admin[i], false);
			changed = true;
		}
	changed |= !d->admin_read || d->admin_error[0] || unread != d->admin_unread;
	if (unread && unread != d->admin_unread) {
		char note[200];
		unread_note(unread, note, sizeof(note));
		log_warning("the administrator's forward chains were checked in part: %s", note);
	}
	d->admin_unread = unread;
	free(d->admin);
	d->admin = found;
	d->n_admin = n;
	d->admin_read = true;
	d->admin_error[0] = '\0';
	if (changed)
		daemon_write_status(d);
}

void adminfw_schedule(struct daemon *d)
{
	int enabled = SD_EVENT_OFF;

	if (!d->adminfw_source)
		return;
	sd_event_source_get_enabled(d->adminfw_source, &enabled);
	if (enabled != SD_EVENT_OFF)
		return; /* already due: one read covers the whole burst */
	/* a slow read (big sets in the administrator's tables) is not repeated at once */
	sd_event_source_set_time_relative(d->adminfw_source,
					  MAX(ADMINFW_DELAY_US, 5 * d->admin_read_us));
	sd_event_source_set_enabled(d->adminfw_source, SD_EVENT_ONESHOT);
}

int on_adminfw(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	adminfw_check(userdata);
	return 0;
}

void adminfw_print(const struct ruleset_config *c, FILE *out)
{
	struct fwcheck_finding *found = NULL;
	_cleanup_free_ char *err = NULL;
	char line[FWCHECK_LINE_MAX];
	size_t n = 0, unread = 0;
	int r;

	r = judge_kernel(c, &found, &n, &unread, &err);
	if (r < 0) {
		read_error(r, err, line, sizeof(line));
		fprintf(out, "admin chains: not checked (%s)\n", line);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		fwcheck_describe(&found[i], line, sizeof(line));
		fprintf(out, "%s\n", line);
	}
	if (unread) {
		unread_note(unread, line, sizeof(line));
		fprintf(out, "admin chains: %s\n", line);
	} else if (n == 0)
		fprintf(out,
			"admin chains: none on the forward hook drops natwarden's connections\n");
	free(found);
}
