/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "active.h"

/*
 * What natwardend counts for Prometheus, and the text it writes for node-exporter's textfile
 * collector ([daemon] metrics in policy.ini). Pure: counters in, text out; the daemon decides
 * when to write (daemon.c).
 */
#define METRICS_BUCKETS 10 /* kernel transaction seconds: 0.5 ms to 1 s, then +Inf */

/* Verdicts of one user, by outcome (the words of the verdict file). */
struct metrics_user {
	char user[NAME_MAX_USER + 1];
	uint64_t verdicts[6]; /* accepted, renewed, withdrawn, rejected, expired, revoked */
};

struct metrics {
	struct metrics_user *users; /* sorted by name */
	size_t n_users;
	uint64_t kernel_buckets[METRICS_BUCKETS]; /* transactions that took at most le[i] s */
	uint64_t kernel_count;			  /* all transactions (the +Inf bucket) */
	uint64_t kernel_sum_us;
	uint64_t restores;	    /* the table put back after an outside change */
	uint64_t expiries;	    /* fragments whose lease ran out */
	bool last_reload_failed;
	int64_t started_ms;
};

void metrics_init(struct metrics *m, int64_t started_ms);
void metrics_finish(struct metrics *m);
/*
 * One verdict: outcome is "accepted", "renewed", "withdrawn", "rejected", "expired" or
 * "revoked" (others are not counted). An expiry counts in natwarden_lease_expiries_total
 * too. -ENOMEM.
 */
int metrics_verdict(struct metrics *m, const char *user, const char *outcome);
/* One kernel transaction that took `us` microseconds. */
void metrics_kernel(struct metrics *m, uint64_t us);
/*
 * The whole text: counters, the per-user verdicts and what `a` holds now (forwards by kind,
 * fragments per user). -ENOMEM.
 */
int metrics_render(FILE *out, const struct metrics *m, const struct active_set *a);
