/* SPDX-License-Identifier: MIT */
/*
 * Leases: a timer per leased fragment, kept beside the active set (keyed by its entry), so the
 * active set stays plain data. Leases that end together end in one change: one save, one
 * kernel transaction, one status file; one each would keep the last of a thousand waiting
 * for seconds, and the spool with it.
 */
#include "core.h"

#include <stdlib.h>

#include "log.h"

struct lease_ctx {
	struct daemon *d;
	struct active_entry *e;
};

static sd_event_source *timer_of(struct daemon *d, const struct active_entry *e)
{
	return u64map_get_ptr(&d->leases, e);
}

void lease_disarm(struct daemon *d, struct active_entry *e)
{
	sd_event_source *s = e ? timer_of(d, e) : NULL;

	if (!s)
		return;
	u64map_remove_ptr(&d->leases, e);
	sd_event_source_disable_unref(s);
}

/* Every active entry due by `now`, and `first` (whose timer fired) in any case. */
static size_t due(struct daemon *d, const struct active_entry *first, int64_t now,
		  struct txn_op *ops, size_t max)
{
	size_t total = active_set_size(d->active), n = 0;

	for (size_t i = 0; i < total; i++) {
		struct active_entry *e = active_set_at(d->active, i);
		if (e != first && !(e->expires && e->expires <= now))
			continue;
		if (ops && n < max)
			txn_op_entry(&ops[n], TXN_EXPIRE, e);
		n++;
	}
	return n;
}

static int lease_expired(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct lease_ctx *c = userdata;
	struct daemon *d = c->d;
	int64_t now = now_ms();
	size_t n = due(d, c->e, now, NULL, 0);
	struct txn_op *ops = calloc(n + 1, sizeof(*ops));
	struct change ch = { ops, NULL, 0 };

	(void)s;
	(void)usec;
	if (!ops) {
		log_error("out of memory: the leases due now end a second later");
		sd_event_source_set_time_relative(s, 1000000);
		sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
		return 0;
	}
	ch.n = due(d, c->e, now, ops, n);
	/* from here on c may be gone: what expired takes its timer (and c) along */
	change_run(d, &ch, true);
	for (size_t i = 0; i < ch.n; i++) {
		sd_event_source *t = timer_of(d, ops[i].old);
		if (ops[i].outcome != TXN_REJECTED || !t)
			continue;
		/* still active, its timer spent: arm it again, or the lease never ends */
		log_warning("cannot expire %s's fragment '%s' now (%s); trying again in a second",
			    ops[i].old->user, ops[i].old->frag->name,
			    ops[i].reasons.n ? ops[i].reasons.items[0].text : "?");
		ops[i].outcome = TXN_DISCARDED; /* nothing to report */
		sd_event_source_set_time_relative(t, 1000000);
		sd_event_source_set_enabled(t, SD_EVENT_ONESHOT);
	}
	change_report(d, &ch);
	free(ops);
	daemon_write_status(d);
	return 0;
}

void lease_arm(struct daemon *d, struct active_entry *e)
{
	sd_event_source *s;
	struct lease_ctx *c;
	int r;

	if (!e->expires) {
		lease_disarm(d, e);
		return;
	}
	if (!d->event)
		return; /* --check: no event loop */
	s = timer_of(d, e);
	if (s) {
		sd_event_source_set_time(s, (uint64_t)e->expires * 1000);
		sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
		return;
	}
	c = malloc(sizeof(*c));
	if (!c) {
		log_error("out of memory arming the lease of '%s'", e->frag->name);
		return;
	}
	*c = (struct lease_ctx){ d, e };
	r = sd_event_add_time(d->event, &s, CLOCK_REALTIME, (uint64_t)e->expires * 1000, 10000,
			      lease_expired, c);
	if (r < 0) {
		free(c);
		log_error_errno(r, "cannot arm the lease of '%s'", e->frag->name);
		return;
	}
	sd_event_source_set_destroy_callback(s, free);
	if (u64map_put_ptr(&d->leases, e, s) < 0) {
		sd_event_source_disable_unref(s);
		log_error("out of memory arming the lease of '%s'", e->frag->name);
	}
}
