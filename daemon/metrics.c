/* SPDX-License-Identifier: MIT */
#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

static const char *const outcomes[] = { "accepted", "renewed", "withdrawn",
					"rejected", "expired",	"revoked" };
_Static_assert(ELEMENTSOF(outcomes) == ELEMENTSOF(((struct metrics_user *)0)->verdicts),
	       "one counter per outcome");

/* The histogram's upper bounds, in µs, and as Prometheus writes them, in s. */
static const uint64_t bucket_us[METRICS_BUCKETS] = { 500,   1000,  2500,   5000,   10000,
						     25000, 50000, 100000, 250000, 1000000 };
static const char *const bucket_le[METRICS_BUCKETS] = { "0.0005", "0.001", "0.0025", "0.005",
							"0.01",	  "0.025", "0.05",   "0.1",
							"0.25",	  "1" };

void metrics_init(struct metrics *m, int64_t started_ms)
{
	*m = (struct metrics){ .started_ms = started_ms };
}

void metrics_finish(struct metrics *m)
{
	free(m->users);
	m->users = NULL;
	m->n_users = 0;
}

/* The user's counters, made (in name order) when new; NULL when out of memory. */
static struct metrics_user *user_of(struct metrics *m, const char *user)
{
	size_t lo = 0, hi = m->n_users;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(m->users[mid].user, user);
		if (c == 0)
			return &m->users[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	struct metrics_user *grown = reallocarray(m->users, m->n_users + 1, sizeof(*grown));
	if (!grown)
		return NULL;
	m->users = grown;
	memmove(&grown[lo + 1], &grown[lo], (m->n_users - lo) * sizeof(*grown));
	memset(&grown[lo], 0, sizeof(*grown));
	snprintf(grown[lo].user, sizeof(grown[lo].user), "%s", user);
	m->n_users++;
	return &grown[lo];
}

int metrics_verdict(struct metrics *m, const char *user, const char *outcome)
{
	char name[NAME_MAX_USER + 1];

	/* as stored: a longer name (from the user database) is counted under its first bytes */
	snprintf(name, sizeof(name), "%s", user);
	for (size_t i = 0; i < ELEMENTSOF(outcomes); i++) {
		if (strcmp(outcome, outcomes[i]) != 0)
			continue;
		struct metrics_user *u = user_of(m, name);
		if (!u)
			return -ENOMEM;
		u->verdicts[i]++;
		m->expiries += strcmp(outcome, "expired") == 0;
		return 0;
	}
	return 0;
}

void metrics_kernel(struct metrics *m, uint64_t us)
{
	for (size_t i = 0; i < METRICS_BUCKETS; i++)
		m->kernel_buckets[i] += us <= bucket_us[i];
	m->kernel_count++;
	m->kernel_sum_us += us;
}

/* A label value, escaped as the text format asks: backslash, double quote, newline. */
static void label(FILE *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(out, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", out);
		else
			fputc(*v, out);
	}
}

static void head(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void forwards(FILE *out, const struct active_set *a)
{
	static const char *const kinds[] = { [STMT_DNAT] = "dnat",
					     [STMT_MASQUERADE] = "masquerade",
					     [STMT_PINHOLE] = "pinhole" };
	uint64_t n[ELEMENTSOF(kinds)] = { 0 };

	for (size_t i = 0; i < active_set_size(a); i++) {
		const struct fragment *f = active_set_at(a, i)->frag;
		for (size_t j = 0; j < f->n_stmts; j++)
			if ((size_t)f->stmts[j].kind < ELEMENTSOF(kinds))
				n[f->stmts[j].kind]++;
	}
	head(out, "natwarden_forwards", "gauge",
	     "Statements of the active fragments, in the kernel, by kind (dnat: port forwards, pinhole: IPv6 openings).");
	for (size_t k = 0; k < ELEMENTSOF(kinds); k++)
		fprintf(out, "natwarden_forwards{kind=\"%s\"} %" PRIu64 "\n", kinds[k], n[k]);
}

/*
 * Active fragments per user: every user with a fragment or a verdict since the start, so a
 * user's series drops to 0 instead of vanishing.
 */
static int fragments(FILE *out, struct metrics *users, const struct active_set *a)
{
	for (size_t i = 0; i < active_set_size(a); i++)
		if (!user_of(users, active_set_at(a, i)->user))
			return -ENOMEM;
	head(out, "natwarden_fragments", "gauge", "Active fragments, by submitting user.");
	for (size_t i = 0; i < users->n_users; i++) {
		fputs("natwarden_fragments{user=\"", out);
		label(out, users->users[i].user);
		fprintf(out, "\"} %zu\n", active_set_user_fragments(a, users->users[i].user));
	}
	return 0;
}

static void verdicts(FILE *out, const struct metrics *m)
{
	head(out, "natwarden_verdicts_total", "counter",
	     "Verdicts since natwardend started, by user and outcome.");
	for (size_t i = 0; i < m->n_users; i++)
		for (size_t o = 0; o < ELEMENTSOF(outcomes); o++) {
			fputs("natwarden_verdicts_total{user=\"", out);
			label(out, m->users[i].user);
			fprintf(out, "\",outcome=\"%s\"} %" PRIu64 "\n", outcomes[o],
				m->users[i].verdicts[o]);
		}
}

static void kernel(FILE *out, const struct metrics *m)
{
	head(out, "natwarden_kernel_transaction_seconds", "histogram",
	     "Time each nftables transaction of natwardend took.");
	for (size_t i = 0; i < METRICS_BUCKETS; i++)
		fprintf(out, "natwarden_kernel_transaction_seconds_bucket{le=\"%s\"} %" PRIu64 "\n",
			bucket_le[i], m->kernel_buckets[i]);
	fprintf(out, "natwarden_kernel_transaction_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n",
		m->kernel_count);
	fprintf(out, "natwarden_kernel_transaction_seconds_sum %" PRIu64 ".%06" PRIu64 "\n",
		m->kernel_sum_us / 1000000, m->kernel_sum_us % 1000000);
	fprintf(out, "natwarden_kernel_transaction_seconds_count %" PRIu64 "\n", m->kernel_count);
}

int metrics_render(FILE *out, const struct metrics *m, const struct active_set *a)
{
	/* the users of the active set join the known ones in a copy: rendering changes nothing */
	struct metrics users = { .n_users = m->n_users };
	int r;

	users.users = m->n_users ? malloc(m->n_users * sizeof(*users.users)) : NULL;
	if (m->n_users && !users.users)
		return -ENOMEM;
	if (m->n_users)
		memcpy(users.users, m->users, m->n_users * sizeof(*users.users));
	forwards(out, a);
	r = fragments(out, &users, a);
	metrics_finish(&users);
	if (r < 0)
		return r;
	verdicts(out, m);
	kernel(out, m);
	head(out, "natwarden_restores_total", "counter",
	     "Times natwardend put its table back after someone else changed or removed it.");
	fprintf(out, "natwarden_restores_total %" PRIu64 "\n", m->restores);
	head(out, "natwarden_lease_expiries_total", "counter", "Fragments whose lease ran out.");
	fprintf(out, "natwarden_lease_expiries_total %" PRIu64 "\n", m->expiries);
	head(out, "natwarden_last_reload_failed", "gauge",
	     "1 when the last reload of policy.ini failed (the previous policy is in force).");
	fprintf(out, "natwarden_last_reload_failed %d\n", m->last_reload_failed ? 1 : 0);
	head(out, "natwarden_start_time_seconds", "gauge", "When natwardend started, unix time.");
	fprintf(out, "natwarden_start_time_seconds %" PRId64 "\n", m->started_ms / 1000);
	return ferror(out) ? -ENOMEM : 0;
}
