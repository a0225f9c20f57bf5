/* SPDX-License-Identifier: MIT */
/* The metrics for Prometheus: counters, and the exact text node-exporter's textfile collector reads. */
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "macro.h"
#include "metrics.h"
#include "tap.h"

static char *render(const struct metrics *m, const struct active_set *a)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	if (!out || metrics_render(out, m, a) < 0)
		return strdup("error");
	fclose(out);
	return text;
}

/* The lines of `text` that start with `prefix`, joined by '|'. */
static char *lines(const char *text, const char *prefix)
{
	static char buf[4096];
	size_t o = 0, n = strlen(prefix);

	buf[0] = '\0';
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (len >= n && strncmp(p, prefix, n) == 0)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%.*s", o ? "|" : "", (int)len, p);
		p += len + (nl != NULL);
	}
	return buf;
}

int main(void)
{
	struct active_set *a = active_set_new();
	struct metrics m;
	char *text;

	metrics_init(&m, 1700000000123);
	text = render(&m, a);
	is_str(lines(text, "natwarden_forwards"),
	       "natwarden_forwards{kind=\"dnat\"} 0|natwarden_forwards{kind=\"masquerade\"} 0|natwarden_forwards{kind=\"pinhole\"} 0",
	       "nothing active: every kind at 0");
	is_str(lines(text, "natwarden_fragments"), "", "no user yet: no fragment series");
	is_str(lines(text, "natwarden_kernel_transaction_seconds_count"),
	       "natwarden_kernel_transaction_seconds_count 0", "no transaction yet");
	is_str(lines(text, "natwarden_start_time_seconds"), "natwarden_start_time_seconds 1700000000",
	       "the start time in seconds");
	free(text);

	active_set_insert(a, fixture_entry("alice", 1001, "web",
					   "dnat tcp 80 to 10.0.0.1\ndnat tcp 443 to 10.0.0.1\nmasquerade 10.0.0.0/24\n", 1));
	active_set_insert(a, fixture_entry("bob", 1002, "v6", "pinhole tcp 443 to 2001:db8::5\n", 2));
	is_int(metrics_verdict(&m, "alice", "accepted"), 0, "a verdict counts");
	metrics_verdict(&m, "alice", "renewed");
	metrics_verdict(&m, "alice", "accepted");
	metrics_verdict(&m, "carol", "expired");
	metrics_verdict(&m, "carol", "revoked");
	metrics_verdict(&m, "bob", "rejected");
	metrics_verdict(&m, "bob", "no such outcome");
	metrics_verdict(&m, "q\"uo\\te\nd", "rejected");
	metrics_kernel(&m, 300);
	metrics_kernel(&m, 500);
	metrics_kernel(&m, 1500);
	metrics_kernel(&m, 2000000);
	m.restores = 2;
	m.last_reload_failed = true;
	text = render(&m, a);
	is_str(lines(text, "natwarden_forwards"),
	       "natwarden_forwards{kind=\"dnat\"} 2|natwarden_forwards{kind=\"masquerade\"} 1|natwarden_forwards{kind=\"pinhole\"} 1",
	       "forwards by kind, from the active set");
	is_str(lines(text, "natwarden_fragments"),
	       "natwarden_fragments{user=\"alice\"} 1|natwarden_fragments{user=\"bob\"} 1|natwarden_fragments{user=\"carol\"} 0|"
	       "natwarden_fragments{user=\"q\\\"uo\\\\te\\nd\"} 0",
	       "fragments per user: every user seen, 0 when none is active, the label escaped");
	is_str(lines(text, "natwarden_verdicts_total{user=\"alice\""),
	       "natwarden_verdicts_total{user=\"alice\",outcome=\"accepted\"} 2|"
	       "natwarden_verdicts_total{user=\"alice\",outcome=\"renewed\"} 1|"
	       "natwarden_verdicts_total{user=\"alice\",outcome=\"withdrawn\"} 0|"
	       "natwarden_verdicts_total{user=\"alice\",outcome=\"rejected\"} 0|"
	       "natwarden_verdicts_total{user=\"alice\",outcome=\"expired\"} 0|"
	       "natwarden_verdicts_total{user=\"alice\",outcome=\"revoked\"} 0",
	       "verdicts by user and outcome");
	is_str(lines(text, "natwarden_verdicts_total{user=\"carol\",outcome=\"e"),
	       "natwarden_verdicts_total{user=\"carol\",outcome=\"expired\"} 1", "an expiry is a verdict");
	is_str(lines(text, "natwarden_verdicts_total{user=\"bob\",outcome=\"rejected\"}"),
	       "natwarden_verdicts_total{user=\"bob\",outcome=\"rejected\"} 1", "an unknown outcome is not counted");
	is_str(lines(text, "natwarden_kernel_transaction_seconds_"),
	       "natwarden_kernel_transaction_seconds_bucket{le=\"0.0005\"} 2|"
	       "natwarden_kernel_transaction_seconds_bucket{le=\"0.001\"} 2|"
	       "natwarden_kernel_transaction_seconds_bucket{le=\"0.0025\"} 3|"
	       "natwarden_kernel_transaction_seconds_bucket{le=\"0.005\"} 3|"
	       "natwarden_kernel_transaction_seconds_bucket{le=\"0.01\"} 3|"
	       "natwarden_kernel_transaction_seconds_bucket{le=\"0.025\"} 3|"
	       "natwarden_kernel_transaction_seconds_bucket{le=\"0.05\"} 3|"
	       "natwarden_kernel_transaction_seconds_bucket{le=\"0.1\"} 3|"
	       "natwarden_kernel_transaction_seconds_bucket{le=\"0.25\"} 3|"
	       "natwarden_kernel_transaction_seconds_bucket{le=\"1\"} 3|"
	       "natwarden_kernel_transaction_seconds_bucket{le=\"+Inf\"} 4|"
	       "natwarden_kernel_transaction_seconds_sum 2.002300|"
	       "natwarden_kernel_transaction_seconds_count 4",
	       "the kernel's transactions: cumulative buckets, sum in seconds, count");
	is_str(lines(text, "natwarden_restores_total "), "natwarden_restores_total 2", "restores");
	is_str(lines(text, "natwarden_lease_expiries_total "), "natwarden_lease_expiries_total 1", "lease expiries");
	is_str(lines(text, "natwarden_last_reload_failed "), "natwarden_last_reload_failed 1", "the last reload failed");
	is_int((int)m.n_users, 4, "rendering adds no user to the counters");
	for (int i = 0; i < 3; i++)
		metrics_verdict(&m, "a-name-longer-than-thirty-two-bytes-xxxxx", "accepted");
	is_int((int)m.n_users, 5, "a name longer than 32 bytes is one user, counted under its first 32");
	is_str(lines(text, "# TYPE"),
	       "# TYPE natwarden_forwards gauge|# TYPE natwarden_fragments gauge|"
	       "# TYPE natwarden_verdicts_total counter|# TYPE natwarden_kernel_transaction_seconds histogram|"
	       "# TYPE natwarden_restores_total counter|# TYPE natwarden_lease_expiries_total counter|"
	       "# TYPE natwarden_last_reload_failed gauge|# TYPE natwarden_start_time_seconds gauge",
	       "every metric has its type (and help) line, once");
	free(text);
	metrics_finish(&m);
	active_set_free(a);
	return tap_done();
}
