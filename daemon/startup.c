/* SPDX-License-Identifier: MIT */
/*
 * The start: directories and sockets as root (daemon_setup); then, as the daemon user, the
 * saved state judged again in one transaction (txn.h: oldest acceptance first), the table
 * installed whole, the event sources, what a crash left in the spool.
 */
#include "core.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "log.h"
#include "macro.h"

/*
 * A batch holds one open file per submission. Take every descriptor we may have (systemd
 * gives a soft limit of 1024 under a far higher hard one), and keep batches well inside it.
 */
static size_t batch_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 256;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > BATCH_MAX + 256)
		return BATCH_MAX;
	return rl.rlim_cur > 512 ? (size_t)rl.rlim_cur - 256 : 256;
}

int daemon_setup(struct daemon *d, sd_event *event, char *why, size_t size)
{
	int r;

	d->event = sd_event_ref(event);
	r = dirs_open(&d->dirs, d->policy, why, size);
	if (r < 0)
		return r;
	d->batch_max = batch_limit();
	r = nft_new(&d->nft);
	if (r < 0) {
		snprintf(why, size, "cannot create a libnftables context");
		return r;
	}
	r = monitor_new(d->rcfg.table, &d->monitor);
	if (r < 0) {
		snprintf(why, size, "cannot listen to nftables notifications (needs CAP_NET_ADMIN): %s",
			 strerror(-r));
		return r;
	}
	/* subscribed before the first look: no change between the two goes unnoticed */
	r = localaddr_new(&d->localaddr);
	if (r == 0)
		r = localaddr_dump(d->localaddr, &d->router);
	if (r == 0) {
		(void)wan_choose(d, &d->router);
		(void)wan_follow(d, &d->router);
	}
	if (r < 0) {
		snprintf(why, size, "cannot read the router's addresses from the kernel: %s", strerror(-r));
		return r;
	}
	r = intake_new(d->dirs.incoming, d->dirs.work, &d->intake);
	if (r < 0)
		snprintf(why, size, "cannot create an inotify instance: %s", strerror(-r));
	return r;
}

/* A saved fragment that a start does not bring back: logged, or printed for --check. */
static void restore_report(struct daemon *d, const struct txn_op *op, const char *name, FILE *would)
{
	const char *user = op->user ? op->user : "?";
	static char reasons[JOINED_MAX];
	char uid[16];

	snprintf(uid, sizeof(uid), "%u", (unsigned)op->uid);
	if (op->outcome == TXN_EXPIRED && !would) {
		const struct log_field f[] = { { "USER", user }, { "UID", uid }, { "FRAGMENT", name },
					       { "VERDICT", "expired" } };
		log_event(LOG_NOTICE, MID_EXPIRED, f, ELEMENTSOF(f),
			  "expired %s's fragment '%s' while the daemon was down", user, name);
		remember_event(d, "expired", user, name, "its lease ran out");
	}
	if (op->outcome != TXN_REVOKED && op->outcome != TXN_REJECTED)
		return;
	/* --check prints every reason; the journal keeps as many as a submission's entry */
	join_reasons(&op->reasons, name, reasons, would ? sizeof(reasons) : JOURNAL_REASONS_MAX, NULL);
	if (would) {
		fprintf(would, "would revoke %s's fragment '%s': %s\n", user, name, reasons);
		return;
	}
	const struct log_field f[] = { { "USER", user }, { "UID", uid }, { "FRAGMENT", name },
				       { "VERDICT", "revoked" }, { "REASON", reasons } };
	log_event(LOG_WARNING, MID_REVOKED, f, ELEMENTSOF(f), "revoked %s's fragment '%s' at start-up: %s",
		  user, name, reasons);
	remember_event(d, "revoked", user, name, reasons);
}

/* The saved records, judged again in one transaction; nothing of it is saved per op. */
static int restore(struct daemon *d, struct state_record *recs, size_t n, FILE *would)
{
	struct txn_op *ops = calloc(n + 1, sizeof(*ops));
	struct change c = { ops, NULL, n };
	struct state *store = d->world.store;
	struct txn t;
	int kept = 0;

	if (!ops)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		txn_op_restore(&ops[i], &recs[i], daemon_user_of(d, recs[i].uid));
	d->world.store = NULL; /* the survivors are saved as a whole afterwards */
	txn_begin(&t, &d->world, ops, n, now_ms());
	txn_commit(&t);
	txn_end(&t);
	d->world.store = store;
	change_committed(d, &c);
	for (size_t i = 0; i < n; i++) {
		/* the name lived in the record's fragment: the op owns it now unless it is active */
		const char *name = ops[i].entry ? ops[i].entry->frag->name : ops[i].frag->name;
		restore_report(d, &ops[i], name, would);
		kept += ops[i].outcome == TXN_KEPT;
		txn_op_release(&ops[i]);
	}
	free(ops);
	return kept;
}

int startup_load_saved(struct daemon *d, int state_dirfd, FILE *would)
{
	struct state_record *recs = NULL;
	struct diag_list errs;
	size_t n = 0;
	int r, kept;

	diag_init(&errs);
	r = state_load(state_dirfd, &recs, &n, &errs);
	if (r < 0 && errs.n) /* a file it must not read: say which and why */
		return log_error_errno(r, "cannot read the saved state in %s: %s",
				       d->policy->daemon.state, errs.items[errs.n - 1].text);
	if (r < 0)
		return log_error_errno(r, "cannot read the saved state");
	for (size_t i = 0; i < errs.n; i++)
		log_warning("%s: skipped", errs.items[i].text);
	kept = restore(d, recs, n, would);
	state_records_free(recs, n);
	if (kept < 0)
		return log_error_errno(kept, "cannot load the saved state");
	/* the survivors, and only they, are the saved state from now on */
	if (!would && (r = state_compact(d->store, d->active)) < 0) {
		/* what start-up dropped is dropped again at the next start: nothing comes back */
		log_error_errno(r, "cannot write the saved state; running on, and trying again later");
		snprintf(d->last_error, sizeof(d->last_error), "the state cannot be written (%s)",
			 strerror(-r));
		d->state_unsaved = true;
	}
	return kept;
}

static int add_sources(struct daemon *d)
{
	int r;

	r = sd_event_add_io(d->event, &d->inotify_source, intake_fd(d->intake), EPOLLIN, on_inotify, d);
	if (r >= 0)
		r = sd_event_add_io(d->event, &d->monitor_source, monitor_fd(d->monitor), EPOLLIN,
				    on_monitor, d);
	if (r >= 0)
		r = sd_event_add_io(d->event, &d->localaddr_source, localaddr_fd(d->localaddr), EPOLLIN,
				    on_localaddr, d);
	if (r >= 0)
		r = sd_event_add_time_relative(d->event, &d->readdr_source, CLOCK_MONOTONIC,
					       READDR_DELAY_US, 1000, on_readdr, d);
	if (r >= 0)
		r = sd_event_add_time_relative(d->event, &d->adminfw_source, CLOCK_MONOTONIC,
					       ADMINFW_DELAY_US, 10000, on_adminfw, d);
	if (r >= 0)
		r = sd_event_add_defer(d->event, &d->process_source, on_process, d);
	if (r >= 0)
		r = sd_event_add_time_relative(d->event, &d->restore_source, CLOCK_MONOTONIC,
					       RESTORE_DELAY_US, 1000, on_restore, d);
	if (r >= 0)
		r = sd_event_add_time_relative(d->event, &d->cleanup_source, CLOCK_MONOTONIC,
					       1000000, 1000000, on_sweep, d);
	if (r >= 0)
		r = sd_event_add_time_relative(d->event, &d->rest_source, CLOCK_MONOTONIC,
					       REST_DELAY_US, 100000, on_rest, d);
	if (r >= 0)
		r = sd_event_add_defer(d->event, &d->prime_source, on_prime, d);
	if (r < 0)
		return r;
	sd_event_source_set_enabled(d->restore_source, SD_EVENT_OFF);
	sd_event_source_set_enabled(d->readdr_source, SD_EVENT_OFF);
	sd_event_source_set_enabled(d->adminfw_source, SD_EVENT_OFF);
	sd_event_source_set_enabled(d->process_source, SD_EVENT_OFF);
	sd_event_source_set_enabled(d->cleanup_source, SD_EVENT_ON);
	sd_event_source_set_enabled(d->rest_source, SD_EVENT_OFF);
	sd_event_source_set_enabled(d->prime_source, SD_EVENT_OFF);
	/* the kernel's news first; the spool is judged when nothing else waits */
	sd_event_source_set_priority(d->localaddr_source, SD_EVENT_PRIORITY_IMPORTANT);
	sd_event_source_set_priority(d->readdr_source, SD_EVENT_PRIORITY_IMPORTANT);
	sd_event_source_set_priority(d->monitor_source, SD_EVENT_PRIORITY_IMPORTANT);
	sd_event_source_set_priority(d->restore_source, SD_EVENT_PRIORITY_IMPORTANT);
	sd_event_source_set_priority(d->process_source, SD_EVENT_PRIORITY_IDLE);
	sd_event_source_set_priority(d->prime_source, SD_EVENT_PRIORITY_IDLE + 1);
	return 0;
}

int daemon_start(struct daemon *d)
{
	_cleanup_free_ char *err = NULL;
	int r;

	d->started_ms = now_ms();
	/* created by the daemon user (we have dropped privileges): it must write it later */
	r = state_open(d->dirs.state, &d->store);
	if (r < 0)
		return log_error_errno(r, "cannot open the state journal in %s", d->policy->daemon.state);
	daemon_world(d);
	r = startup_load_saved(d, d->dirs.state, NULL);
	if (r < 0)
		return r;
	r = kernel_apply_full(d, NULL, &err);
	if (r < 0) {
		log_error("cannot install table inet %s: %s", d->rcfg.table, err ? err : strerror(-r));
		return r;
	}
	uint32_t own = nft_portid(d->nft, monitor_portid(d->monitor));
	if (own)
		monitor_set_own_portid(d->monitor, own);
	else
		log_warning("cannot tell this daemon's own nftables transactions apart: flush recovery may restore needlessly");
	log_info("table inet %s installed with %zu mappings from %zu fragments", d->rcfg.table,
		 active_set_rules(d->active), active_set_size(d->active));
	wan_note(d);
	daemon_metrics_open(d);
	/* the whole-table text, the saved state and libnftables' cache are gone: give it back */
	nft_forget_cache(d->nft);
	malloc_trim(0);

	/* as the daemon user: it makes the submitters' directories its own */
	r = daemon_intake_users(d);
	if (r < 0)
		return log_error_errno(r, "cannot set up the submitters' spool directories");
	r = add_sources(d);
	if (r < 0)
		return log_error_errno(r, "cannot set up the event loop");
	/* the spool is judged after new submissions are already watched: nothing slips through */
	process_work_leftovers(d);
	intake_rescan_all(d->intake);
	while (process_queue_once(d) > 0)
		;
	if (intake_has_work(d->intake))
		sd_event_source_set_enabled(d->process_source, SD_EVENT_ONESHOT);
	adminfw_check(d);
	daemon_write_status(d);
	malloc_trim(0); /* and what judging the leftovers and the first status file left */
	return 0;
}
