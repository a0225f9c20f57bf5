/* SPDX-License-Identifier: MIT */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "log.h"
#include "state.h"
#include "verdict.h"

enum op_kind {
	OP_SUBMIT,
	OP_EXPIRE,
};

enum outcome {
	OUT_PENDING,
	OUT_ACCEPTED,
	OUT_RENEWED,
	OUT_WITHDRAWN,
	OUT_REJECTED,
	OUT_EXPIRED,
	OUT_DISCARDED, /* carried a verdict already: judged before a crash, nothing to do */
};

struct op {
	enum op_kind kind;
	struct submission *sub;
	struct fragment *frag;
	const char *user;
	uid_t uid;
	struct active_entry *old, *entry;
	int64_t old_accepted, old_expires;
	char user_buf[NAME_MAX_USER + 1], name_buf[FRAGMENT_NAME_MAX + 1]; /* outlive the entry */
	enum outcome outcome;
	bool applied;
	bool retired; /* old was removed from the set: free it once reported */
	struct diag_list reasons;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void daemon_describe(const struct daemon *d, char *buf, size_t size)
{
	size_t users = active_set_users(d->active), frags = active_set_size(d->active);
	int64_t ago = d->last_change_ms ? (now_ms() - d->last_change_ms) / 1000 : -1;

	if (ago >= 0)
		snprintf(buf, size, "%zu mappings from %zu fragment%s of %zu user%s; last change %" PRId64 "s ago",
			 active_set_rules(d->active), frags, frags == 1 ? "" : "s", users,
			 users == 1 ? "" : "s", ago);
	else
		snprintf(buf, size, "%zu mappings from %zu fragment%s of %zu user%s; no change since start",
			 active_set_rules(d->active), frags, frags == 1 ? "" : "s", users,
			 users == 1 ? "" : "s");
}

/* ---- submitters: policy names to uids -------------------------------------------------- */

static int resolve_submitters(const struct policy *p, struct uid_name **ret, size_t *ret_n)
{
	struct uid_name *v = calloc(p->n_submitters + 1, sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_submitters; i++) {
		const struct passwd *pw = getpwnam(p->submitters[i].name);
		if (!pw) {
			log_warning("%s:%u: [submitter %s]: no such user; ignored until it exists",
				    p->path, p->submitters[i].line, p->submitters[i].name);
			continue;
		}
		v[n].uid = pw->pw_uid;
		snprintf(v[n].name, sizeof(v[n].name), "%s", p->submitters[i].name);
		n++;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static const char *user_of(void *userdata, uid_t uid)
{
	struct daemon *d = userdata;

	for (size_t i = 0; i < d->n_submitters; i++)
		if (d->submitters[i].uid == uid)
			return d->submitters[i].name;
	return NULL;
}

/* Tell the intake who may submit now, with each one's limits; say what it cannot set up. */
static int intake_use_submitters(struct daemon *d)
{
	struct intake_user *users = calloc(d->n_submitters + 1, sizeof(*users));
	struct diag_list warnings;
	size_t n = 0;
	int r;

	if (!users)
		return -ENOMEM;
	diag_init(&warnings);
	for (size_t i = 0; i < d->n_submitters; i++) {
		const struct submitter *sub = policy_find_submitter(d->policy, d->submitters[i].name);
		if (!sub)
			continue;
		users[n++] = (struct intake_user){
			.uid = d->submitters[i].uid,
			.name = d->submitters[i].name,
			.max_entries = sub->max_spool_entries,
			.max_bytes = sub->max_spool_bytes,
			.per_minute = sub->max_submissions_per_minute,
		};
	}
	r = intake_set_users(d->intake, users, n, &warnings);
	for (size_t i = 0; i < warnings.n; i++)
		log_warning("%s", warnings.items[i].text);
	free(users);
	return r;
}

/* ---- status ---------------------------------------------------------------------------- */

static void remember_event(struct daemon *d, const char *kind, const char *user,
			   const char *fragment, const char *text)
{
	struct status_event *ev;

	if (d->n_events == STATUS_EVENTS) {
		memmove(&d->events[0], &d->events[1], sizeof(d->events[0]) * (STATUS_EVENTS - 1));
		d->n_events--;
	}
	ev = &d->events[d->n_events++];
	ev->time = now_ms() / 1000;
	snprintf(ev->kind, sizeof(ev->kind), "%s", kind);
	snprintf(ev->user, sizeof(ev->user), "%s", user);
	snprintf(ev->fragment, sizeof(ev->fragment), "%s", fragment);
	snprintf(ev->text, sizeof(ev->text), "%s", text);
}

static void write_status(struct daemon *d)
{
	struct status_info info = {
		.started = d->started_ms / 1000,
		.last_change = d->last_change_ms / 1000,
		.last_apply_us = d->last_apply_us,
		.table = d->rcfg.table,
		.last_error = d->last_error,
		.events = d->events,
		.n_events = d->n_events,
	};
	char line[200];
	int r;

	r = status_write(d->dirs.runtime, &info, d->active);
	if (r < 0)
		log_warning_errno(r, "cannot write the status file");
	d->status_dirty = false;
	if (d->ready && !d->reloading) {
		daemon_describe(d, line, sizeof(line));
		sd_notifyf(0, "STATUS=%s", line);
	}
}

/* ---- kernel ---------------------------------------------------------------------------- */

static int kernel_run(struct daemon *d, const char *cmds, char **ret_error)
{
	uint64_t t0 = mono_us();
	int r = nft_run(d->nft, cmds, false, ret_error);

	d->last_apply_us = mono_us() - t0;
	if (r < 0 && ret_error && *ret_error)
		snprintf(d->last_error, sizeof(d->last_error), "%s", *ret_error);
	return r;
}

static int kernel_apply_full(struct daemon *d, const char *old_table, char **ret_error);
static void monitor_check(struct daemon *d);

/* Send the element changes for the touched keys, as one transaction. */
static int kernel_apply_delta(struct daemon *d, const struct touched *t, char **ret_error)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	int r;

	if (!out)
		return -ENOMEM;
	/*
	 * Element changes name the table, not its handle: never send them into a table that
	 * someone else may have put in our table's place. What was just changed is heard now;
	 * until a whole-table apply has checked the mark again, only that is used.
	 */
	monitor_check(d);
	if (d->table_suspect) {
		(void)fclose(out); /* a memstream: nothing written yet */
		return kernel_apply_full(d, NULL, ret_error);
	}
	r = ruleset_render_delta(&d->rcfg, &d->kernel, &d->desired, t, out, NULL);
	if (fclose(out) != 0 && r >= 0)
		r = -ENOMEM;
	if (r <= 0)
		return r; /* nothing changes: no transaction at all */
	r = kernel_run(d, text, ret_error);
	if (r < 0) {
		/*
		 * The delta assumes the table as this daemon left it. Someone may have flushed or
		 * edited it since (the restore is a few ms away): not the change's fault. The whole
		 * table as it must now be, in one transaction, tells: if the kernel takes that, the
		 * change is in; if not, something in it is to blame.
		 */
		_cleanup_free_ char *ferr = NULL;
		if (kernel_apply_full(d, NULL, &ferr) < 0)
			return r;
		log_warning("table inet %s was not as this daemon left it (%s): replaced it whole",
			    d->rcfg.table, ret_error && *ret_error ? *ret_error : strerror(-r));
		if (ret_error) {
			free(*ret_error);
			*ret_error = NULL;
		}
		return 0;
	}
	return ruleset_commit_view(&d->kernel, &d->desired, t);
}

/*
 * May natwardend replace or make table inet `table`? Only when it does not exist or carries
 * natwarden's mark: a table of someone else's with that name is never touched.
 */
static int table_check(struct daemon *d, const char *table, uint64_t *ret_handle,
		       char **ret_error)
{
	uint64_t handle = 0;
	int r = nft_table_owner(d->nft, table, &handle), r2;
	char *why = NULL;

	if (r >= 0) {
		if (ret_handle)
			*ret_handle = r == 1 ? handle : 0;
		return 0;
	}
	if (r == -EEXIST)
		r2 = asprintf(&why, "table inet %s exists and is not natwarden's (it lacks natwarden's mark): natwardend never replaces or deletes a table it did not make; set another [daemon] table, or remove that table",
			      table);
	else
		r2 = asprintf(&why, "cannot look at table inet %s: %s", table, strerror(-r));
	if (r2 < 0)
		why = NULL;
	if (ret_error) {
		free(*ret_error);
		*ret_error = why;
	} else {
		free(why);
	}
	return r;
}

/* The whole table in one transaction; `old_table`, if set and ours, is deleted in the same one. */
static int kernel_apply_full(struct daemon *d, const char *old_table, char **ret_error)
{
	uint64_t handle = 0, old_handle = 0;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	struct touched all;
	int r;

	if (!out)
		return -ENOMEM;
	r = table_check(d, d->rcfg.table, &handle, ret_error);
	if (r < 0) {
		(void)fclose(out); /* a memstream: nothing written yet */
		return r;
	}
	/* the old table goes in the same transaction, only if it is ours, and by its handle */
	if (old_table && strcmp(old_table, d->rcfg.table) != 0 &&
	    nft_table_owner(d->nft, old_table, &old_handle) == 1)
		fprintf(out, "delete table inet handle %" PRIu64 "\n", old_handle);
	ruleset_render_replace(&d->rcfg, handle, out);
	r = ruleset_render_full(&d->rcfg, &d->desired, out);
	if (fclose(out) != 0 && r >= 0)
		r = -ENOMEM;
	if (r < 0)
		return r;
	r = kernel_run(d, text, ret_error);
	if (r < 0)
		return r;
	d->table_suspect = false;
	touched_init(&all);
	all.all = true;
	r = ruleset_commit_view(&d->kernel, &d->desired, &all);
	touched_finish(&all);
	return r;
}

/* ---- leases ---------------------------------------------------------------------------- */

static int run_ops(struct daemon *d, struct op *ops, size_t n, bool may_retry_one_by_one);
static void report(struct daemon *d, struct op *op);
static int rejudge_all(struct daemon *d, const struct ruleset_config *old_cfg, const char *context,
		       char **ret_error);
static void op_release(struct op *op);

static void lease_disarm(struct active_entry *e)
{
	if (e && e->userdata) {
		sd_event_source_disable_unref(e->userdata);
		e->userdata = NULL;
	}
}

struct lease_ctx {
	struct daemon *d;
	struct active_entry *e;
};

static void op_expire(struct op *op, struct active_entry *e)
{
	*op = (struct op){ .kind = OP_EXPIRE, .old = e, .uid = e->uid };
	snprintf(op->user_buf, sizeof(op->user_buf), "%s", e->user);
	snprintf(op->name_buf, sizeof(op->name_buf), "%s", e->frag->name);
	op->user = op->user_buf;
	diag_init(&op->reasons);
}

/*
 * A lease ended: end it with every other lease due by now, in one batch (one save, one
 * transaction, one status file). Fragments accepted together expire together: one transaction
 * each would keep the last of a thousand waiting for seconds, and the spool with it.
 */
static int lease_expired(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct lease_ctx *c = userdata;
	struct daemon *d = c->d;
	size_t total = active_set_size(d->active), due = 0, n = 0;
	int64_t now = now_ms();
	struct op one, *ops;

	(void)s;
	(void)usec;
	for (size_t i = 0; i < total; i++) {
		const struct active_entry *e = active_set_at(d->active, i);
		if (e == c->e || (e->expires && e->expires <= now))
			due++;
	}
	ops = due > 1 ? calloc(due, sizeof(*ops)) : NULL;
	if (!ops) {
		ops = &one;
		op_expire(&ops[n++], c->e);
	} else {
		for (size_t i = 0; i < total && n < due; i++) {
			struct active_entry *e = active_set_at(d->active, i);
			if (e == c->e || (e->expires && e->expires <= now))
				op_expire(&ops[n++], e);
		}
	}
	/* from here on c may be gone: finalize() disarms (and frees) the timers of what expired */
	run_ops(d, ops, n, true);
	for (size_t i = 0; i < n; i++) {
		if (ops[i].outcome == OUT_REJECTED) {
			/* still active, its timer spent: arm it again, or the lease never ends */
			sd_event_source *t = ops[i].old->userdata;
			log_warning("cannot expire %s's fragment '%s' now (%s); trying again in a second",
				    ops[i].user_buf, ops[i].name_buf,
				    ops[i].reasons.n ? ops[i].reasons.items[0].text : "?");
			if (t) {
				sd_event_source_set_time_relative(t, 1000000);
				sd_event_source_set_enabled(t, SD_EVENT_ONESHOT);
			}
			continue;
		}
		report(d, &ops[i]);
		op_release(&ops[i]);
	}
	if (ops != &one)
		free(ops);
	write_status(d);
	return 0;
}

static void lease_arm(struct daemon *d, struct active_entry *e)
{
	sd_event_source *s = e->userdata;
	struct lease_ctx *c;
	int r;

	if (!e->expires) {
		lease_disarm(e);
		return;
	}
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
	e->userdata = s;
}

/* ---- one batch: judge in order, save, apply once, answer ---------------------------------- */

static void op_remove(struct daemon *d, struct op *op, struct state_batch *sb, struct touched *t)
{
	active_set_remove(d->active, op->old);
	elements_remove_fragment(&d->desired, op->old->frag);
	touched_add_fragment(t, op->old->frag);
	state_batch_remove(sb, op->old->uid, op->old->frag->name);
	op->applied = true;
}

/*
 * Acceptance times order the active set (start-up and reload keep the oldest when a policy
 * shrinks): strictly increasing, even within one batch, so no tie is left to names.
 */
static int64_t next_acceptance(struct daemon *d, int64_t now)
{
	d->last_accepted = now > d->last_accepted ? now : d->last_accepted + 1;
	return d->last_accepted;
}

static void op_prepare(struct daemon *d, struct op *op, struct state_batch *sb, struct touched *t,
		       int64_t now)
{
	struct judgement j;
	int r;

	if (op->outcome != OUT_PENDING)
		return;
	if (op->kind == OP_EXPIRE) {
		if (active_set_find(d->active, op->old->user, op->old->frag->name) != op->old) {
			op->outcome = OUT_DISCARDED;
			return;
		}
		op_remove(d, op, sb, t);
		op->outcome = OUT_EXPIRED;
		return;
	}
	engine_judge(d->policy, &d->router, op->user, d->active, op->frag, &j);
	op->old = active_set_find(d->active, op->user, op->frag->name);
	switch (j.verdict) {
	case VERDICT_REJECTED:
		op->reasons = j.reasons;
		op->outcome = OUT_REJECTED;
		return;
	case VERDICT_WITHDRAWN:
		if (op->old)
			op_remove(d, op, sb, t);
		op->outcome = OUT_WITHDRAWN;
		return;
	case VERDICT_ACCEPTED:
		break;
	}
	int64_t expires = op->frag->lease ? now + (int64_t)op->frag->lease * 1000 : 0;
	if (j.identical) {
		/* a renewal keeps its place in the acceptance order: only the lease moves */
		op->old_accepted = op->old->accepted;
		op->old_expires = op->old->expires;
		op->old->expires = expires;
		status_forget(op->old);
		state_batch_save(sb, op->old);
		op->applied = true;
		op->outcome = OUT_RENEWED;
		return;
	}
	op->entry = active_entry_new(op->user, op->uid, op->frag);
	if (!op->entry) {
		diag_add(&op->reasons, 0, "the daemon is out of memory");
		op->outcome = OUT_REJECTED;
		return;
	}
	op->frag = NULL;
	op->entry->accepted = next_acceptance(d, now);
	op->entry->expires = expires;
	if (op->old) {
		active_set_remove(d->active, op->old);
		elements_remove_fragment(&d->desired, op->old->frag);
		touched_add_fragment(t, op->old->frag);
	}
	r = active_set_insert(d->active, op->entry);
	if (r == 0)
		r = elements_add_fragment(&d->desired, op->entry->frag);
	touched_add_fragment(t, op->entry->frag);
	state_batch_save(sb, op->entry);
	op->applied = true;
	op->outcome = OUT_ACCEPTED;
	if (r < 0)
		log_error_errno(r, "cannot record '%s' in memory", op->entry->frag->name);
}

static void op_rollback(struct daemon *d, struct op *op)
{
	if (!op->applied)
		return;
	switch (op->outcome) {
	case OUT_RENEWED:
		op->old->accepted = op->old_accepted;
		op->old->expires = op->old_expires;
		status_forget(op->old);
		break;
	case OUT_ACCEPTED:
		active_set_remove(d->active, op->entry);
		elements_remove_fragment(&d->desired, op->entry->frag);
		op->frag = op->entry->frag;
		op->entry->frag = NULL;
		active_entry_free(op->entry);
		op->entry = NULL;
		/* put the old version back, as for a withdrawal */
		__attribute__((fallthrough));
	case OUT_WITHDRAWN:
	case OUT_EXPIRED:
		if (op->old) {
			active_set_insert(d->active, op->old);
			elements_add_fragment(&d->desired, op->old->frag);
		}
		break;
	default:
		break;
	}
	op->applied = false;
	op->outcome = OUT_PENDING;
}

/* Put the state files back the way they were before the batch. */
static void state_restore(struct daemon *d, struct op *ops, size_t n)
{
	struct state_batch *sb = state_batch_new(d->store);

	if (!sb)
		return;
	for (size_t i = 0; i < n; i++) {
		struct op *op = &ops[i];
		if (!op->applied)
			continue;
		if (op->outcome == OUT_ACCEPTED && !op->old)
			state_batch_remove(sb, op->entry->uid, op->entry->frag->name);
		else if (op->old)
			state_batch_save(sb, op->old); /* the old version, old times */
	}
	if (state_batch_commit(sb) < 0) {
		/* the snapshot written later (on_sweep) brings the saved state back in line */
		log_error("cannot restore the state files after a failed change; saved as a whole later");
		d->state_unsaved = true;
	}
	state_batch_free(sb);
}

static void finalize(struct daemon *d, struct op *op)
{
	switch (op->outcome) {
	case OUT_ACCEPTED:
		if (op->old) {
			/*
			 * Freed only after every op of the batch was reported: the version it
			 * replaces may be an earlier op's own entry (two of one name in a batch).
			 */
			lease_disarm(op->old);
			op->retired = true;
		}
		lease_arm(d, op->entry);
		d->last_change_ms = now_ms();
		break;
	case OUT_RENEWED:
		lease_arm(d, op->old);
		break;
	case OUT_WITHDRAWN:
	case OUT_EXPIRED:
		if (op->old) {
			/* out of the set; freed after report() has said what went */
			lease_disarm(op->old);
			op->retired = true;
			d->last_change_ms = now_ms();
		}
		break;
	default:
		break;
	}
}

static void op_release(struct op *op)
{
	if (op->retired) {
		active_entry_free(op->old);
		op->old = NULL;
		op->retired = false;
	}
}

/* Does the batch only take forwards away (withdrawals, expiries)? */
static bool only_removals(const struct op *ops, size_t n)
{
	bool any = false;

	for (size_t i = 0; i < n; i++) {
		if (!ops[i].applied)
			continue;
		if (ops[i].outcome != OUT_WITHDRAWN && ops[i].outcome != OUT_EXPIRED)
			return false;
		any = true;
	}
	return any;
}

/* Did the batch add or renew anything (and so write a put into the journal)? */
static bool any_addition(const struct op *ops, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ops[i].applied && (ops[i].outcome == OUT_ACCEPTED || ops[i].outcome == OUT_RENEWED))
			return true;
	return false;
}

static void state_unsaved(struct daemon *d, int error, size_t n)
{
	log_error_errno(error,
			"cannot save %zu removal%s in the state journal: applied to the kernel anyway (fail closed); saved when a snapshot can be written",
			n, n == 1 ? "" : "s");
	snprintf(d->last_error, sizeof(d->last_error),
		 "the state cannot be written (%s): removals are live but not saved yet", strerror(-error));
	d->state_unsaved = true;
}

/* After removals that could not be saved: write the whole active set as a new snapshot. */
static void state_save_again(struct daemon *d)
{
	int r;

	/* room for the reserve and one more addition of the largest size: full no more */
	if ((d->state_full || !state_reserve_ok(d->store)) && state_retry_reserve(d->store) == 0 &&
	    d->state_full) {
		d->state_full = false;
		if (!d->state_unsaved)
			d->last_error[0] = '\0';
		log_notice("the state disk has room again: new forwards are accepted again");
		d->status_dirty = true;
	}
	if (!d->state_unsaved)
		return;
	r = state_compact(d->store, d->active);
	if (r < 0)
		return; /* still no space: next sweep */
	d->state_unsaved = false;
	d->last_error[0] = '\0';
	log_notice("the state is saved again: every removal since the disk was full is recorded");
	d->status_dirty = true;
}

/* The fragment's name, for the log: from the submission, or from the entry that expires. */
static const char *op_name(const struct op *op)
{
	if (op->sub)
		return op->sub->name_valid ? op->sub->name : op->sub->shown;
	return op->name_buf;
}

static void reject_all(struct op *ops, size_t n, const char *why)
{
	for (size_t i = 0; i < n; i++)
		if (ops[i].outcome == OUT_PENDING) {
			ops[i].outcome = OUT_REJECTED;
			diag_add(&ops[i].reasons, 0, "%s", why);
		}
}

/*
 * Judge `n` operations in order and apply what they change with one save and one kernel
 * transaction. If either fails, undo everything and, when allowed, redo them one at a time
 * so only the guilty one is rejected. Memory, disk and kernel never disagree afterwards.
 */
/* NOLINTNEXTLINE(misc-no-recursion): one level: the retry runs with n == 1, no retry */
static int run_ops(struct daemon *d, struct op *ops, size_t n, bool may_retry_one_by_one)
{
	struct state_batch *sb = state_batch_new(d->store);
	_cleanup_free_ char *kerr = NULL;
	struct touched t;
	int64_t now = now_ms();
	bool saved = false;
	int r;

	if (!sb) {
		reject_all(ops, n, "the daemon is out of memory");
		return -ENOMEM;
	}
	touched_init(&t);
	for (size_t i = 0; i < n; i++)
		op_prepare(d, &ops[i], sb, &t, now);
	r = state_batch_commit(sb);
	if (r < 0 && only_removals(ops, n)) {
		/*
		 * Fail closed: a forward that ends must leave the kernel even when that cannot be
		 * saved. A restart drops expired records on its own; the rest is saved as soon as
		 * a snapshot can be written (see on_sweep).
		 */
		state_unsaved(d, r, n);
		r = 0;
	} else if (r >= 0) {
		saved = true;
	}
	if (r >= 0) {
		r = kernel_apply_delta(d, &t, &kerr);
		/* a foreign table in ours' place holds none of our forwards: removals are done */
		if (r == -EEXIST && only_removals(ops, n))
			r = 0;
		if (r < 0 && saved)
			state_restore(d, ops, n);
	}
	state_batch_free(sb);
	touched_finish(&t);
	if (r < 0) {
		for (size_t i = n; i-- > 0;)
			op_rollback(d, &ops[i]);
		if (may_retry_one_by_one && n > 1) {
			log_warning("a batch of %zu changes failed (%s); applying them one by one", n,
				    kerr ? kerr : strerror(-r));
			for (size_t i = 0; i < n; i++)
				run_ops(d, &ops[i], 1, false);
			return 0;
		}
		char why[700];
		if (kerr && r == -EEXIST)
			snprintf(why, sizeof(why), "%s", kerr);
		else if (kerr)
			snprintf(why, sizeof(why), "the kernel refused the change: %s", kerr);
		else
			snprintf(why, sizeof(why), "the change could not be saved: %s", strerror(-r));
		if (!kerr && (r == -ENOSPC || r == -EDQUOT)) {
			snprintf(d->last_error, sizeof(d->last_error),
				 "the state disk is full: new forwards are refused until there is room; removals and expiries still work");
			d->state_full = true;
		}
		reject_all(ops, n, why);
		for (size_t i = 0; i < n; i++)
			if (ops[i].outcome == OUT_REJECTED)
				log_error("cannot take %s's fragment '%s': %s", ops[i].user ? ops[i].user : "?",
					  op_name(&ops[i]), why);
		d->status_dirty = true;
		return r;
	}
	for (size_t i = 0; i < n; i++)
		finalize(d, &ops[i]);
	d->status_dirty = true;
	if (d->state_full && saved && any_addition(ops, n)) {
		/* an addition was saved: the state disk has room again */
		d->state_full = false;
		if (!d->state_unsaved)
			d->last_error[0] = '\0';
		log_notice("the state disk has room again: new forwards are accepted again");
	}
	if (state_wants_compaction(d->store) && (r = state_compact(d->store, d->active)) < 0)
		log_warning_errno(r, "cannot fold the state journal into a new snapshot (it keeps growing)");
	return 0;
}

/* ---- verdicts: to the submitter's file, to the log ---------------------------------------- */

#define JOINED_MAX 16384 /* 256 statements, or DIAG_MAX reasons, joined */
#define JOURNAL_REASONS_MAX 1024 /* the reasons of one journal entry, joined, at most */

static void join_live(const struct fragment *f, char *buf, size_t size, FILE *verdict)
{
	_cleanup_free_ char *text = fragment_print(f);
	size_t o = 0;

	buf[0] = '\0';
	if (!text)
		return;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		if (strncmp(line, "lease ", 6) == 0)
			continue;
		if (verdict)
			verdict_write_live(verdict, line);
		if (o < size) {
			int w = snprintf(buf + o, size - o, "%s%s", o ? "; " : "", line);
			if (w > 0)
				o += (size_t)w;
		}
	}
}

static void join_reasons(const struct diag_list *l, const char *name, char *buf, size_t size,
			 FILE *verdict)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < l->n; i++) {
		char line[DIAG_TEXT + STR_QUOTE_MAX + 32];
		if (l->items[i].line)
			snprintf(line, sizeof(line), "%s:%u: %s", name, l->items[i].line, l->items[i].text);
		else
			snprintf(line, sizeof(line), "%s: %s", name, l->items[i].text);
		if (verdict)
			verdict_write_reason(verdict, line);
		if (o < size && o + strlen(line) + 2 < size - 32) {
			int w = snprintf(buf + o, size - o, "%s%s", o ? "; " : "", line);
			if (w > 0)
				o += (size_t)w;
		} else if (o < size) {
			/* the log keeps what fits; the submitter's verdict has every reason */
			snprintf(buf + o, size - o, "; ... %zu reasons in all", l->n + l->dropped);
			o = size;
		}
	}
	if (l->dropped && verdict) {
		char more[FRAGMENT_NAME_MAX + STR_QUOTE_MAX + 48];
		snprintf(more, sizeof(more), "%s: ... and %zu more", name, l->dropped);
		verdict_write_reason(verdict, more);
	}
}

/* Answer and remove a spool entry; say so once when its owner's leftovers cannot be removed. */
static void finish_entry(struct daemon *d, struct submission *s, const char *verdict, size_t len)
{
	uint64_t seq = intake_next_seq(d->intake);
	int r = spool_finish(intake_spool(d->intake), s, verdict, len, seq);

	/* a submitter's non-empty directory, moved aside: counted in its summary, not a line each */
	if (r < 0)
		intake_note_stuck(d->intake, s->uid, s->ino);
	if (s->answer_error)
		log_warning_errno(s->answer_error, "cannot write the verdict into %s in incoming/%u (its verdict is in the journal)",
				  s->shown, (unsigned)s->uid);
}

static const char *outcome_word(enum outcome o)
{
	switch (o) {
	case OUT_ACCEPTED:
	case OUT_RENEWED:
		return "accepted";
	case OUT_WITHDRAWN:
		return "withdrawn";
	case OUT_EXPIRED:
		return "expired";
	default:
		return "rejected";
	}
}

static void report(struct daemon *d, struct op *op)
{
	const struct active_entry *e = op->outcome == OUT_ACCEPTED ? op->entry :
				       op->outcome == OUT_RENEWED  ? op->old :
								     NULL;
	const char *name = op->sub ? (op->sub->name_valid ? op->sub->name : op->sub->shown) :
				     op->name_buf;
	const char *user = op->user ? op->user : "";
	const char *who = op->user; /* for the log: the account name even of a non-submitter */
	/* one report at a time; a journal entry's reasons are kept short (a submitter may be
	 * rejected often): the verdict in its file has all of them */
	static char live[JOINED_MAX], reasons[JOURNAL_REASONS_MAX];
	char uid[16] = "", expires[24] = "0", msg_who[320];
	_cleanup_free_ char *vtext = NULL;
	size_t vlen = 0;
	FILE *v = NULL;
	const char *mid;
	int level;

	live[0] = reasons[0] = '\0';
	if (op->outcome == OUT_DISCARDED || op->outcome == OUT_PENDING) {
		if (op->sub) {
			if (op->outcome == OUT_DISCARDED)
				log_info("spool entry %s of uid %u already carries its verdict (answered before a restart): removed",
					 op->sub->shown, (unsigned)op->uid);
			finish_entry(d, op->sub, NULL, 0);
		}
		return;
	}
	if (!who && (op->sub ? op->sub->owner_known : true)) {
		const struct passwd *pw = getpwuid(op->uid); /* a non-submitter: still name it */
		if (pw)
			who = pw->pw_name;
	}
	if (op->sub && op->sub->can_answer)
		v = open_memstream(&vtext, &vlen);
	if (v)
		verdict_write_head(v, name, who ? who : "", outcome_word(op->outcome),
				   op->outcome == OUT_RENEWED, e ? e->expires : 0);
	if (e)
		join_live(e->frag, live, sizeof(live), v);
	else if (op->retired && op->old)
		join_live(op->old->frag, live, sizeof(live), NULL); /* what went, for the log only */
	join_reasons(&op->reasons, name, reasons, sizeof(reasons), v);
	if (v && fclose(v) != 0) {
		free(vtext);
		vtext = NULL;
	}
	if (op->sub)
		finish_entry(d, op->sub, vtext, vtext ? vlen : 0);
	if (op->sub && op->sub->quiet)
		return; /* refused unjudged: counted in the submitter's summary, not logged alone */

	if (op->sub ? op->sub->owner_known : true)
		snprintf(uid, sizeof(uid), "%u", (unsigned)op->uid);
	if (e && e->expires)
		snprintf(expires, sizeof(expires), "%" PRId64, (e->expires + 999) / 1000);
	/* a valid name is quoted here; an invalid one comes quoted (and escaped) already */
	const char *q = op->sub && !op->sub->name_valid ? "" : "'";
	if (who)
		snprintf(msg_who, sizeof(msg_who), "%s's fragment %s%s%s", who, q, name, q);
	else if (uid[0])
		snprintf(msg_who, sizeof(msg_who), "uid %s's fragment %s%s%s", uid, q, name, q);
	else
		snprintf(msg_who, sizeof(msg_who), "fragment %s%s%s", q, name, q);

	switch (op->outcome) {
	case OUT_ACCEPTED:
	case OUT_RENEWED:
		mid = MID_ACCEPTED;
		level = LOG_NOTICE;
		break;
	case OUT_WITHDRAWN:
		mid = MID_WITHDRAWN;
		level = LOG_NOTICE;
		break;
	case OUT_EXPIRED:
		mid = MID_EXPIRED;
		level = LOG_NOTICE;
		remember_event(d, "expired", user, name, "its lease ran out");
		break;
	default:
		mid = MID_REJECTED;
		level = LOG_WARNING;
		break;
	}
	const struct log_field fields[] = {
		{ "USER", who },
		{ "UID", uid[0] ? uid : NULL },
		{ "FRAGMENT", name },
		{ "VERDICT", outcome_word(op->outcome) },
		{ "RENEWED", op->outcome == OUT_RENEWED ? "yes" : NULL },
		{ "MAPPINGS", live[0] ? live : NULL },
		{ "EXPIRES", e ? expires : NULL },
		{ "REASON", reasons[0] ? reasons : NULL },
	};
	if (op->outcome == OUT_REJECTED)
		log_event(level, mid, fields, ELEMENTSOF(fields), "rejected %s: %s", msg_who, reasons);
	else if (e)
		log_event(level, mid, fields, ELEMENTSOF(fields), "%s %s%s: %s", outcome_word(op->outcome),
			  msg_who, op->outcome == OUT_RENEWED ? " (lease renewed)" : "", live);
	else
		log_event(level, mid, fields, ELEMENTSOF(fields), "%s %s", outcome_word(op->outcome),
			  msg_who);
}

/* ---- the spool ------------------------------------------------------------------------- */

static void op_from_submission(struct op *op, struct submission *s)
{
	struct diag_list errs;
	int r;

	*op = (struct op){ .kind = OP_SUBMIT, .sub = s, .user = s->user, .uid = s->uid };
	diag_init(&op->reasons);
	if (s->judged_before) {
		op->outcome = OUT_DISCARDED;
		return;
	}
	if (diag_any(&s->problems)) {
		op->reasons = s->problems;
		op->outcome = OUT_REJECTED;
		return;
	}
	diag_init(&errs);
	r = fragment_parse(s->name, s->text, s->len, &op->frag, &errs);
	if (r < 0) {
		op->reasons = errs;
		if (r == -ENOMEM)
			diag_add(&op->reasons, 0, "the daemon is out of memory");
		op->outcome = OUT_REJECTED;
	}
}

static void process_submissions(struct daemon *d, struct submission **subs, size_t n)
{
	struct op *ops = calloc(n, sizeof(*ops));

	if (!ops) {
		log_error("out of memory: %zu submissions wait for the next round", n);
		for (size_t i = 0; i < n; i++)
			submission_free(subs[i]);
		return;
	}
	for (size_t i = 0; i < n; i++)
		op_from_submission(&ops[i], subs[i]);
	run_ops(d, ops, n, true);
	/* the status file first: a submitter whose answer cannot be written (a full spool) reads it */
	if (d->status_dirty)
		write_status(d);
	for (size_t i = 0; i < n; i++) {
		report(d, &ops[i]);
		op_release(&ops[i]);
		fragment_free(ops[i].frag);
		submission_free(ops[i].sub);
	}
	free(ops);
}

/* Take up to a batch of queued entries, round-robin over submitters, and judge them together. */
static size_t process_queue_once(struct daemon *d)
{
	struct submission *subs[BATCH_MAX];
	size_t taken = intake_take(d->intake, (int64_t)(mono_us() / 1000), subs, d->batch_max);

	if (taken)
		process_submissions(d, subs, taken);
	return taken;
}

static int on_process(sd_event_source *s, void *userdata)
{
	struct daemon *d = userdata;
	size_t taken = process_queue_once(d);

	if (d->status_dirty)
		write_status(d);
	/* again while it makes progress; what no take could find is the sweep's */
	if (taken && intake_has_work(d->intake))
		sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	return 0;
}

static int on_inotify(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct daemon *d = userdata;

	(void)s;
	(void)fd;
	(void)revents;
	if (intake_read_events(d->intake))
		sd_event_source_set_enabled(d->process_source, SD_EVENT_ONESHOT);
	return 0;
}

/*
 * Entries a crash left in work: judged first, in arrival order. Each round removes what it
 * took (work is the daemon's alone, and directories never count as leftovers); as many rounds
 * as there were entries to begin with, at the most, so that nothing left there can hold up
 * the start.
 */
static void process_work_leftovers(struct daemon *d)
{
	char **names;
	size_t total, rounds;

	if (spool_list_work(d->dirs.work, SIZE_MAX, &names, &total) < 0)
		return;
	spool_names_free(names, total);
	rounds = total / d->batch_max + 1;
	for (size_t round = 0; round < rounds; round++) {
		struct submission *subs[BATCH_MAX];
		size_t n = intake_take_leftovers(d->intake, subs, d->batch_max);
		if (!n)
			return;
		process_submissions(d, subs, n);
	}
	if (spool_list_work(d->dirs.work, SIZE_MAX, &names, &total) == 0) {
		if (total)
			log_warning("%zu entries in the spool's work directory cannot be removed", total);
		spool_names_free(names, total);
	}
}

/* Unjudged refusals of the last while, one line per submitter (they are not logged one by one). */
static void log_summaries(struct daemon *d)
{
	struct intake_summary sum;
	uint64_t now = mono_us();

	/* at most one round of summaries per interval, whatever the sweep's pace */
	if (d->last_summary_us && now - d->last_summary_us < SWEEP_INTERVAL_US)
		return;
	d->last_summary_us = now;

	while (intake_next_summary(d->intake, &sum)) {
		char uid[16], limited[24], over[24], stale[24], stuck[24];
		snprintf(uid, sizeof(uid), "%u", (unsigned)sum.uid);
		snprintf(limited, sizeof(limited), "%" PRIu64, sum.rate_limited);
		snprintf(over, sizeof(over), "%" PRIu64, sum.over_limit);
		snprintf(stale, sizeof(stale), "%" PRIu64, sum.stale);
		snprintf(stuck, sizeof(stuck), "%" PRIu64, sum.stuck);
		const struct log_field f[] = {
			{ "USER", sum.user },
			{ "UID", uid },
			{ "RATE_LIMITED", sum.rate_limited ? limited : NULL },
			{ "OVER_LIMIT", sum.over_limit ? over : NULL },
			{ "STALE", sum.stale ? stale : NULL },
			{ "STUCK", sum.stuck ? stuck : NULL },
		};
		if (sum.stuck)
			log_warning("%s's spool directory holds %" PRIu64 " more director%s that natwardend cannot remove (not empty); they stay until %s removes them",
				    sum.user, sum.stuck, sum.stuck == 1 ? "y" : "ies", sum.user);
		if (sum.rate_limited || sum.over_limit)
			log_event(LOG_WARNING, MID_LIMITED, f, ELEMENTSOF(f),
				  "refused %s's spool entries unjudged: %" PRIu64 " over max_submissions_per_minute = %u, %" PRIu64 " past max_spool_entries = %u or max_spool_bytes = %u; %" PRIu64 " stale temporary files removed",
				  sum.user, sum.rate_limited, sum.per_minute, sum.over_limit,
				  sum.max_entries, sum.max_bytes, sum.stale);
		else if (sum.stale)
			log_info("removed %" PRIu64 " stale temporary file%s of %s from the spool",
				 sum.stale, sum.stale == 1 ? "" : "s", sum.user);
	}
}

/*
 * Every few seconds: stale dot-files, entries no inotify event announced, whatever is past a
 * submitter's limits. A slice reads a bounded number of entries; a spool holding more is
 * worked through in slices a little apart, so other submitters are never held up for long.
 */
static int on_sweep(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;
	struct intake_sweep_result res;
	int r;

	r = intake_sweep(d->intake, now_ms() / 1000, SWEEP_BUDGET, &res);
	if (r < 0)
		log_warning_errno(r, "cannot look through the spool");
	log_summaries(d);
	state_save_again(d);
	if (d->status_dirty)
		write_status(d);
	if (intake_has_work(d->intake))
		sd_event_source_set_enabled(d->process_source, SD_EVENT_ONESHOT);
	sd_event_source_set_time(s, usec + (r > 0 ? SWEEP_SLICE_GAP_US : SWEEP_INTERVAL_US));
	return 0;
}

/* ---- flush recovery -------------------------------------------------------------------- */

static int on_restore(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;
	_cleanup_free_ char *err = NULL;
	uint64_t t0 = mono_us();
	char count[24], took[32];
	int r;

	(void)usec;
	r = kernel_apply_full(d, NULL, &err);
	if (r < 0) {
		/* said at the first failure, then once a minute: a foreign table may stay for long */
		if (d->restore_failures++ % 60 == 0) {
			log_error("cannot restore table inet %s (attempt %d): %s", d->rcfg.table,
				  d->restore_failures, err ? err : strerror(-r));
			snprintf(d->last_error, sizeof(d->last_error), "cannot restore table inet %s: %.400s",
				 d->rcfg.table, err ? err : strerror(-r));
			write_status(d);
		}
		sd_event_source_set_time_relative(s, 1000000);
		sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
		return 0;
	}
	d->restore_failures = 0;
	snprintf(count, sizeof(count), "%zu", active_set_rules(d->active));
	snprintf(took, sizeof(took), "%.3f", (double)(mono_us() - t0) / 1000.0);
	const struct log_field fields[] = {
		{ "TABLE", d->rcfg.table },
		{ "MAPPINGS", count },
		{ "RESTORE_MS", took },
	};
	log_event(LOG_WARNING, MID_RECOVERED, fields, ELEMENTSOF(fields),
		  "table inet %s was changed or removed by someone else: restored %s mappings in %s ms",
		  d->rcfg.table, count, took);
	remember_event(d, "recovered", "", "", "table restored after an outside change");
	write_status(d);
	return 0;
}

/*
 * Read nftables' notifications now: did anyone else change or delete our table? Then the
 * table is suspect (it may not even be ours any more) until a whole-table apply, which checks
 * natwarden's mark, has made it ours again; a restore is scheduled (a storm coalesces).
 */
static void monitor_check(struct daemon *d)
{
	struct monitor_result res;
	int enabled = SD_EVENT_OFF;
	uint64_t when;
	int r;

	r = monitor_drain(d->monitor, 4096, &res);
	if (r < 0)
		log_warning_errno(r, "reading nftables notifications failed");
	if (!res.foreign_change && !res.lost)
		return;
	d->table_suspect = true;
	if (res.foreign_change)
		log_warning("table inet %s was %s by pid %u (%s): restoring it", d->rcfg.table,
			    res.table_deleted ? "deleted" : "changed", res.pid, res.comm);
	else
		log_warning("nftables notifications were lost: restoring table inet %s to be sure",
			    d->rcfg.table);
	if (!d->restore_source)
		return;
	sd_event_source_get_enabled(d->restore_source, &enabled);
	if (enabled == SD_EVENT_OFF) {
		sd_event_now(d->event, CLOCK_MONOTONIC, &when);
		sd_event_source_set_time(d->restore_source, when + RESTORE_DELAY_US);
		sd_event_source_set_enabled(d->restore_source, SD_EVENT_ONESHOT);
	}
}

static int on_monitor(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	(void)s;
	(void)fd;
	(void)revents;
	monitor_check(userdata);
	return 0;
}

/* ---- the router's own addresses ---------------------------------------------------------- */

/*
 * The addresses changed: look again and, when the view differs, judge every active fragment
 * again, so a forward that now points at the router is revoked at once (the kernel's guard
 * already drops such traffic meanwhile). Should the kernel refuse, try again in a second.
 */
static int on_readdr(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;
	_cleanup_free_ char *err = NULL;
	struct router_view now;
	int r;

	(void)usec;
	r = localaddr_dump(d->localaddr, &now);
	if (r < 0) {
		log_warning_errno(r, "cannot read the router's addresses; trying again in a second");
		goto again;
	}
	if (router_view_equal(&now, &d->router)) {
		router_view_finish(&now);
		return 0;
	}
	router_view_finish(&d->router);
	d->router = now;
	r = rejudge_all(d, &d->rcfg, "after the router's addresses changed", &err);
	if (r < 0) {
		log_error("cannot revoke forwards after the router's addresses changed: %s; trying again in a second",
			  err ? err : strerror(-r));
		/* look again from scratch next time */
		router_view_finish(&d->router);
		goto again;
	}
	log_info("the router's addresses changed (%zu local addresses and routes now): %d forward%s revoked",
		 d->router.n, r, r == 1 ? "" : "s");
	if (d->status_dirty)
		write_status(d);
	return 0;
again:
	sd_event_source_set_time_relative(s, 1000000);
	sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	return 0;
}

static int on_localaddr(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct daemon *d = userdata;
	bool changed = false;
	int enabled = SD_EVENT_OFF;
	int r;

	(void)s;
	(void)fd;
	(void)revents;
	r = localaddr_drain(d->localaddr, &changed);
	if (r < 0) {
		log_warning_errno(r, "reading address notifications failed: looking again");
		changed = true;
	}
	sd_event_source_get_enabled(d->readdr_source, &enabled);
	if (changed && enabled == SD_EVENT_OFF) {
		sd_event_source_set_time_relative(d->readdr_source, READDR_DELAY_US);
		sd_event_source_set_enabled(d->readdr_source, SD_EVENT_ONESHOT);
	}
	return 0;
}

/* ---- start-up -------------------------------------------------------------------------- */

int daemon_load_policy(struct daemon *d, const char *path)
{
	struct diag_list errs;
	int r;

	diag_init(&errs);
	r = policy_load(path, &d->policy, &errs);
	if (r < 0) {
		for (size_t i = 0; i < errs.n; i++) {
			if (errs.items[i].line)
				log_error("%s:%u: %s", path, errs.items[i].line, errs.items[i].text);
			else
				log_error("%s: %s", path, errs.items[i].text);
		}
		return r;
	}
	return daemon_use_policy(d, path);
}

int daemon_use_policy(struct daemon *d, const char *path)
{
	d->config_path = path;
	ruleset_config_from_policy(&d->rcfg, d->policy);
	return resolve_submitters(d->policy, &d->submitters, &d->n_submitters);
}

/* Judge the saved fragments again, oldest first, under the current policy. */
int daemon_load_saved(struct daemon *d, int state_dirfd, FILE *would)
{
	struct state_record *recs = NULL;
	struct diag_list errs;
	size_t n = 0;
	int64_t now = now_ms();
	int r, kept = 0;

	diag_init(&errs);
	r = state_load(state_dirfd, &recs, &n, &errs);
	if (r < 0)
		return log_error_errno(r, "cannot read the saved state");
	for (size_t i = 0; i < errs.n; i++)
		log_warning("%s: skipped", errs.items[i].text);
	for (size_t i = 0; i < n; i++) {
		struct state_record *rec = &recs[i];
		const char *user = user_of(d, rec->uid);
		struct judgement j;
		static char reasons[JOINED_MAX];
		char uid[16];

		if (!user) {
			j.verdict = VERDICT_REJECTED;
			diag_init(&j.reasons);
			diag_add(&j.reasons, 0, "uid %u is no longer a submitter", rec->uid);
		} else {
			engine_judge(d->policy, &d->router, user, d->active, rec->frag, &j);
		}
		snprintf(uid, sizeof(uid), "%u", (unsigned)rec->uid);
		if (j.verdict == VERDICT_ACCEPTED && rec->expires && rec->expires <= now) {
			if (!would) {
				const struct log_field f[] = { { "USER", user }, { "UID", uid },
							       { "FRAGMENT", rec->frag->name },
							       { "VERDICT", "expired" } };
				log_event(LOG_NOTICE, MID_EXPIRED, f, ELEMENTSOF(f),
					  "expired %s's fragment '%s' while the daemon was down", user,
					  rec->frag->name);
				remember_event(d, "expired", user, rec->frag->name, "its lease ran out");
			}
			continue;
		}
		if (j.verdict != VERDICT_ACCEPTED) {
			join_reasons(&j.reasons, rec->frag->name, reasons, sizeof(reasons), NULL);
			if (!would) {
				const struct log_field f[] = { { "USER", user ? user : rec->user },
							       { "UID", uid },
							       { "FRAGMENT", rec->frag->name },
							       { "VERDICT", "revoked" },
							       { "REASON", reasons } };
				log_event(LOG_WARNING, MID_REVOKED, f, ELEMENTSOF(f),
					  "revoked %s's fragment '%s' at start-up: %s",
					  user ? user : rec->user, rec->frag->name, reasons);
				remember_event(d, "revoked", user ? user : rec->user, rec->frag->name, reasons);
			} else {
				fprintf(would, "would revoke %s's fragment '%s': %s\n",
					user ? user : rec->user, rec->frag->name, reasons);
			}
			continue;
		}
		struct active_entry *e = active_entry_new(user, rec->uid, rec->frag);
		if (!e || active_set_insert(d->active, e) < 0 ||
		    elements_add_fragment(&d->desired, e->frag) < 0) {
			state_records_free(recs, n);
			return log_error_errno(-ENOMEM, "cannot load the saved state");
		}
		rec->frag = NULL;
		e->accepted = rec->accepted;
		if (rec->accepted > d->last_accepted)
			d->last_accepted = rec->accepted;
		e->expires = rec->expires;
		kept++;
	}
	state_records_free(recs, n);
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

int daemon_setup(struct daemon *d, char *why, size_t size)
{
	int r;

	d->active = active_set_new();
	elements_init(&d->desired);
	elements_init(&d->kernel);
	if (!d->active) {
		snprintf(why, size, "out of memory");
		return -ENOMEM;
	}
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
	if (r < 0) {
		snprintf(why, size, "cannot read the router's addresses from the kernel: %s", strerror(-r));
		return r;
	}
	r = intake_new(d->dirs.incoming, d->dirs.work, &d->intake);
	if (r < 0) {
		snprintf(why, size, "cannot create an inotify instance: %s", strerror(-r));
		return r;
	}
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
	r = daemon_load_saved(d, d->dirs.state, NULL);
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
	malloc_trim(0); /* the whole-table text and the saved state are gone: give the memory back */

	for (size_t i = 0; i < active_set_size(d->active); i++)
		lease_arm(d, active_set_at(d->active, i));

	/* as the daemon user: it makes the submitters' directories its own */
	r = intake_use_submitters(d);
	if (r < 0)
		return log_error_errno(r, "cannot set up the submitters' spool directories");
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
		r = sd_event_add_defer(d->event, &d->process_source, on_process, d);
	if (r >= 0)
		r = sd_event_add_time_relative(d->event, &d->restore_source, CLOCK_MONOTONIC,
					       RESTORE_DELAY_US, 1000, on_restore, d);
	if (r >= 0)
		r = sd_event_add_time_relative(d->event, &d->cleanup_source, CLOCK_MONOTONIC,
					       1000000, 1000000, on_sweep, d);
	if (r < 0)
		return log_error_errno(r, "cannot set up the event loop");
	sd_event_source_set_enabled(d->restore_source, SD_EVENT_OFF);
	sd_event_source_set_enabled(d->readdr_source, SD_EVENT_OFF);
	sd_event_source_set_priority(d->localaddr_source, SD_EVENT_PRIORITY_IMPORTANT);
	sd_event_source_set_priority(d->readdr_source, SD_EVENT_PRIORITY_IMPORTANT);
	sd_event_source_set_enabled(d->process_source, SD_EVENT_OFF);
	sd_event_source_set_enabled(d->cleanup_source, SD_EVENT_ON);
	/* the spool is judged after new submissions are already watched: nothing slips through */
	sd_event_source_set_priority(d->process_source, SD_EVENT_PRIORITY_IDLE);
	sd_event_source_set_priority(d->monitor_source, SD_EVENT_PRIORITY_IMPORTANT);
	sd_event_source_set_priority(d->restore_source, SD_EVENT_PRIORITY_IMPORTANT);

	process_work_leftovers(d);
	intake_rescan_all(d->intake);
	while (process_queue_once(d) > 0)
		;
	if (intake_has_work(d->intake))
		sd_event_source_set_enabled(d->process_source, SD_EVENT_ONESHOT);
	write_status(d);
	return 0;
}

/* ---- reload ---------------------------------------------------------------------------- */

static void keep_daemon_settings(struct policy *new, const struct policy *old)
{
	struct {
		char *new_value;
		const char *old_value, *key;
	} paths[] = {
		{ new->daemon.spool, old->daemon.spool, "spool" },
		{ new->daemon.state, old->daemon.state, "state" },
		{ new->daemon.runtime, old->daemon.runtime, "runtime" },
	};
	for (size_t i = 0; i < ELEMENTSOF(paths); i++)
		if (strcmp(paths[i].new_value, paths[i].old_value) != 0)
			log_warning("[daemon] %s changed: that takes a restart; still using %s",
				    paths[i].key, paths[i].old_value);
	free(new->daemon.spool);
	free(new->daemon.state);
	free(new->daemon.runtime);
	new->daemon.spool = strdup(old->daemon.spool);
	new->daemon.state = strdup(old->daemon.state);
	new->daemon.runtime = strdup(old->daemon.runtime);
	if (strcmp(new->daemon.user, old->daemon.user) != 0 ||
	    strcmp(new->daemon.group, old->daemon.group) != 0)
		log_warning("[daemon] user or group changed: that takes a restart");
	memcpy(new->daemon.user, old->daemon.user, sizeof(new->daemon.user));
	memcpy(new->daemon.group, old->daemon.group, sizeof(new->daemon.group));
}

static void revoke_saved(struct daemon *d, struct active_entry **revoked, struct diag_list *why,
			 size_t n, const char *context);

/* Judge one active entry again (taken out of the set): back in when it passes. */
static bool rejudge_one(struct daemon *d, struct active_entry *e, struct diag_list *ret_why)
{
	const char *user = user_of(d, e->uid);
	struct judgement j;

	if (user)
		engine_judge(d->policy, &d->router, user, d->active, e->frag, &j);
	else {
		j.verdict = VERDICT_REJECTED;
		diag_init(&j.reasons);
		diag_add(&j.reasons, 0, "user '%s' is no longer a submitter", e->user);
	}
	if (j.verdict == VERDICT_ACCEPTED && active_set_insert(d->active, e) == 0)
		return true;
	*ret_why = j.reasons;
	elements_remove_fragment(&d->desired, e->frag);
	return false;
}

/*
 * The kernel after a re-judge: the whole table when its own settings changed, else the
 * elements of what was revoked. On failure the active set and the desired elements are put
 * back as they were (`all`: every entry, in the set or not).
 */
static int apply_revocations(struct daemon *d, const struct ruleset_config *old_cfg,
			     struct active_entry **all, size_t n, struct active_entry **revoked,
			     size_t n_revoked, char **ret_error)
{
	bool rebuild = !ruleset_config_equal(old_cfg, &d->rcfg);
	int r;

	if (rebuild) {
		r = kernel_apply_full(d, old_cfg->table, ret_error);
	} else {
		struct touched t;
		touched_init(&t);
		for (size_t i = 0; i < n_revoked; i++)
			touched_add_fragment(&t, revoked[i]->frag);
		r = kernel_apply_delta(d, &t, ret_error);
		touched_finish(&t);
	}
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			if (active_set_find(d->active, all[i]->user, all[i]->frag->name) == all[i])
				active_set_remove(d->active, all[i]);
		for (size_t i = 0; i < n; i++)
			active_set_insert(d->active, all[i]);
		for (size_t i = 0; i < n_revoked; i++)
			elements_add_fragment(&d->desired, revoked[i]->frag);
		return r;
	}
	if (rebuild) {
		/* a restore still pending was for the old table: the new one was just made whole */
		monitor_set_table(d->monitor, d->rcfg.table);
		sd_event_source_set_enabled(d->restore_source, SD_EVENT_OFF);
		d->restore_failures = 0;
	}
	return 0;
}

/*
 * Judge every active fragment again, oldest acceptance first, under d->policy and d->router,
 * and take out what no longer passes: in the kernel with one transaction (the whole table,
 * replacing `old_cfg`'s, when the table's own settings changed; else only the elements that
 * go), then in the saved state, then in the log (`context` says why: "after a policy
 * change"). Should the kernel refuse, nothing changes and its words are in *ret_error.
 * Returns the number revoked, or a negative errno.
 */
static int rejudge_all(struct daemon *d, const struct ruleset_config *old_cfg, const char *context,
		       char **ret_error)
{
	size_t n = active_set_size(d->active), n_revoked = 0;
	struct active_entry **all = active_set_by_acceptance(d->active);
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
	struct active_entry **revoked = calloc(n + 1, sizeof(*revoked));
	struct diag_list *why = calloc(n + 1, sizeof(*why));
	int r = -ENOMEM;

	if (all && revoked && why) {
		for (size_t i = 0; i < n; i++)
			active_set_remove(d->active, all[i]);
		for (size_t i = 0; i < n; i++)
			if (!rejudge_one(d, all[i], &why[n_revoked]))
				revoked[n_revoked++] = all[i];
		r = apply_revocations(d, old_cfg, all, n, revoked, n_revoked, ret_error);
		if (r == 0) {
			revoke_saved(d, revoked, why, n_revoked, context);
			r = (int)n_revoked;
		}
	}
	free(all);
	free(revoked);
	free(why);
	return r;
}

/* The revoked fragments, out of the kernel already: out of the saved state, logged, freed. */
static void revoke_saved(struct daemon *d, struct active_entry **revoked, struct diag_list *why,
			 size_t n, const char *context)
{
	struct state_batch *sb = state_batch_new(d->store);

	for (size_t i = 0; i < n; i++) {
		struct active_entry *e = revoked[i];
		static char reasons[JOINED_MAX];
		char uid[16];
		snprintf(uid, sizeof(uid), "%u", (unsigned)e->uid);
		join_reasons(&why[i], e->frag->name, reasons, sizeof(reasons), NULL);
		const struct log_field f[] = { { "USER", e->user }, { "UID", uid }, { "FRAGMENT", e->frag->name },
					       { "VERDICT", "revoked" }, { "REASON", reasons } };
		log_event(LOG_WARNING, MID_REVOKED, f, ELEMENTSOF(f), "revoked %s's fragment '%s' %s: %s",
			  e->user, e->frag->name, context, reasons);
		remember_event(d, "revoked", e->user, e->frag->name, reasons);
		if (sb)
			state_batch_remove(sb, e->uid, e->frag->name);
		lease_disarm(e);
		active_entry_free(e);
	}
	/* unsaved, a revocation still holds: the next start judges the same way again */
	if (sb && n && state_batch_commit(sb) < 0)
		log_error("cannot remove %zu revoked fragment%s from the saved state; a restart revokes them again",
			  n, n == 1 ? "" : "s");
	state_batch_free(sb);
	if (n) {
		d->last_change_ms = now_ms();
		d->status_dirty = true;
	}
}

static void reload_failed(struct daemon *d, const struct diag_list *errs, int r)
{
	char first[DIAG_TEXT + 320] = "";
	static char all_errs[JOINED_MAX];

	if (errs->n && errs->items[0].line)
		snprintf(first, sizeof(first), "%s:%u: %s", d->config_path, errs->items[0].line,
			 errs->items[0].text);
	else if (errs->n)
		snprintf(first, sizeof(first), "%s: %s", d->config_path, errs->items[0].text);
	for (size_t i = 0; i < errs->n; i++) {
		if (errs->items[i].line)
			log_error("%s:%u: %s", d->config_path, errs->items[i].line, errs->items[i].text);
		else
			log_error("%s: %s", d->config_path, errs->items[i].text);
	}
	join_reasons(errs, d->config_path, all_errs, sizeof(all_errs), NULL);
	const struct log_field f[] = { { "POLICY", d->config_path }, { "REASON", all_errs } };
	log_event(LOG_ERR, MID_RELOAD_FAILED, f, ELEMENTSOF(f),
		  "reload failed, the previous policy stays in force: %s",
		  first[0] ? first : strerror(-r));
	snprintf(d->last_error, sizeof(d->last_error), "reload failed: %.400s",
		 first[0] ? first : strerror(-r));
}

int daemon_reload(struct daemon *d)
{
	struct policy *old_policy = d->policy, *new_policy = NULL;
	struct uid_name *old_subs = d->submitters, *new_subs = NULL;
	size_t old_n_subs = d->n_submitters, new_n_subs = 0;
	struct ruleset_config old_cfg = d->rcfg;
	_cleanup_free_ char *err = NULL;
	struct diag_list errs;
	char line[200];
	int r;

	sd_notifyf(0, "RELOADING=1\nSTATUS=Reloading %s", d->config_path);
	d->reloading = true;
	diag_init(&errs);
	r = policy_load(d->config_path, &new_policy, &errs);
	if (r == 0)
		r = resolve_submitters(new_policy, &new_subs, &new_n_subs);
	if (r == 0) {
		keep_daemon_settings(new_policy, old_policy);
		d->policy = new_policy;
		d->submitters = new_subs;
		d->n_submitters = new_n_subs;
		ruleset_config_from_policy(&d->rcfg, new_policy);
		r = table_check(d, d->rcfg.table, NULL, &err);
		if (r < 0)
			diag_add(&errs, 0, "%s", err ? err : strerror(-r));
		if (r == 0) {
			r = rejudge_all(d, &old_cfg, "after a policy change", &err);
			if (r < 0)
				diag_add(&errs, 0, "the kernel refused the change: %s",
					 err ? err : strerror(-r));
		}
		if (r < 0) {
			/* the old policy stays in force */
			d->policy = old_policy;
			d->submitters = old_subs;
			d->n_submitters = old_n_subs;
			d->rcfg = old_cfg;
		}
	}
	if (r < 0) {
		reload_failed(d, &errs, r);
		policy_free(new_policy);
		free(new_subs);
	} else {
		char count[24], rev[24];
		if (intake_use_submitters(d) < 0)
			log_error("out of memory: the submitters' spool directories were not updated");
		snprintf(count, sizeof(count), "%zu", active_set_size(d->active));
		snprintf(rev, sizeof(rev), "%d", r);
		const struct log_field f[] = { { "POLICY", d->config_path }, { "FRAGMENTS", count },
					       { "REVOKED", rev } };
		log_event(LOG_NOTICE, MID_RELOADED, f, ELEMENTSOF(f),
			  "reloaded %s: %s fragments still active, %s revoked", d->config_path, count, rev);
		policy_free(old_policy);
		free(old_subs);
		d->last_error[0] = '\0';
	}
	write_status(d);
	d->reloading = false;
	daemon_describe(d, line, sizeof(line));
	sd_notifyf(0, "READY=1\nSTATUS=%s", line);
	return r < 0 ? r : 0;
}

void daemon_free(struct daemon *d)
{
	for (size_t i = 0; d->active && i < active_set_size(d->active); i++)
		lease_disarm(active_set_at(d->active, i));
	sd_event_source_disable_unref(d->inotify_source);
	sd_event_source_disable_unref(d->monitor_source);
	sd_event_source_disable_unref(d->process_source);
	sd_event_source_disable_unref(d->restore_source);
	sd_event_source_disable_unref(d->cleanup_source);
	sd_event_source_disable_unref(d->localaddr_source);
	sd_event_source_disable_unref(d->readdr_source);
	localaddr_free(d->localaddr);
	router_view_finish(&d->router);
	active_set_free(d->active);
	elements_finish(&d->desired);
	elements_finish(&d->kernel);
	state_free(d->store);
	monitor_free(d->monitor);
	nft_free(d->nft);
	intake_free(d->intake);
	dirs_close(&d->dirs);
	policy_free(d->policy);
	free(d->submitters);
}
