/* SPDX-License-Identifier: MIT */
/*
 * One change of the active set, end to end: the transaction judges, merges and saves
 * (txn.h), the kernel gets the elements that moved in one transaction, and only then do the
 * leases, the answers and the log follow. Should the save or the kernel fail, the transaction
 * is undone as a whole and, for a batch, its ops are tried one by one so only the guilty one
 * is refused. Memory, disk and kernel never disagree afterwards.
 */
#include "core.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "macro.h"

/* The name of an op's fragment, for the log. */
static const char *op_name(const struct txn_op *op, const struct submission *sub)
{
	if (sub)
		return sub->name_valid ? sub->name : sub->shown;
	return op->old ? op->old->frag->name : "?";
}

static void state_unsaved(struct daemon *d, size_t n)
{
	log_error("cannot save %zu removal%s in the state journal: applied to the kernel anyway (fail closed); saved when a snapshot can be written",
		  n, n == 1 ? "" : "s");
	snprintf(d->last_error, sizeof(d->last_error),
		 "the state cannot be written: removals are live but not saved yet");
	d->state_unsaved = true;
}

/* After removals that could not be saved, or a full disk: catch up when there is room. */
void state_save_again(struct daemon *d)
{
	/* room for the reserve and one more addition of the largest size: full no more */
	if ((d->state_full || !state_reserve_ok(d->store)) && state_retry_reserve(d->store) == 0 &&
	    d->state_full) {
		d->state_full = false;
		if (!d->state_unsaved)
			d->last_error[0] = '\0';
		log_notice("the state disk has room again: new forwards are accepted again");
		d->status_dirty = true;
	}
	if (!d->state_unsaved || state_compact(d->store, d->active) < 0)
		return; /* nothing to catch up, or still no room: the next sweep */
	d->state_unsaved = false;
	d->last_error[0] = '\0';
	log_notice("the state is saved again: every removal since the disk was full is recorded");
	d->status_dirty = true;
}

/* What the kept transaction means for the leases and the cached status lines. */
void change_committed(struct daemon *d, struct change *c)
{
	for (size_t i = 0; i < c->n; i++) {
		struct txn_op *op = &c->ops[i];
		switch (op->outcome) {
		case TXN_ACCEPTED:
			if (op->old)
				daemon_entry_gone(d, op->old);
			lease_arm(d, op->entry);
			d->last_change_ms = now_ms();
			break;
		case TXN_RENEWED:
			status_forget(&d->status, op->old); /* its lines show the lease */
			lease_arm(d, op->old);
			break;
		case TXN_KEPT:
			if (op->entry)
				lease_arm(d, op->entry); /* restored at start */
			break;
		case TXN_WITHDRAWN:
		case TXN_EXPIRED:
		case TXN_REVOKED:
			if (op->old) {
				daemon_entry_gone(d, op->old);
				d->last_change_ms = now_ms();
			}
			break;
		default:
			break;
		}
	}
	d->status_dirty = true;
	if (d->state_full && txn_any_addition(c->ops, c->n)) {
		/* an addition was saved: the state disk has room again */
		d->state_full = false;
		if (!d->state_unsaved)
			d->last_error[0] = '\0';
		log_notice("the state disk has room again: new forwards are accepted again");
	}
}

/* The change could not be made: every op still pending is refused, saying why. */
static void refuse(struct daemon *d, struct change *c, int r, const char *kerr)
{
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
	for (size_t i = 0; i < c->n; i++)
		if (c->ops[i].outcome == TXN_PENDING)
			log_error("cannot take %s's fragment '%s': %s",
				  c->ops[i].user ? c->ops[i].user : "?",
				  op_name(&c->ops[i], c->subs ? c->subs[i] : NULL), why);
	txn_reject_pending(c->ops, c->n, why);
	d->status_dirty = true;
}

/* The transaction's keys, into the kernel; a table not ours holds nothing to take away. */
static int apply(struct daemon *d, struct txn *t, char **kerr)
{
	int r = kernel_apply_delta(d, txn_touched(t), kerr);

	if (r == -EEXIST && txn_only_removals(t->ops, t->n))
		r = 0;
	return r;
}

/* NOLINTNEXTLINE(misc-no-recursion): one level: the retry runs with n == 1, no retry */
int change_run(struct daemon *d, struct change *c, bool may_retry_one_by_one)
{
	_cleanup_free_ char *kerr = NULL;
	struct txn t;
	int r;

	txn_begin(&t, &d->world, c->ops, c->n, now_ms());
	r = txn_save(&t);
	if (r == TXN_UNSAVED) {
		state_unsaved(d, c->n);
		r = 0;
	}
	if (r == 0)
		r = apply(d, &t, &kerr);
	if (r == 0) {
		txn_commit(&t);
		txn_end(&t);
		change_committed(d, c);
		if (state_wants_compaction(d->store) && (r = state_compact(d->store, d->active)) < 0)
			log_warning_errno(r, "cannot fold the state journal into a new snapshot (it keeps growing)");
		return 0;
	}
	if (txn_rollback(&t) < 0) {
		/* the snapshot written later (on_sweep) brings the saved state back in line */
		log_error("cannot restore the state files after a failed change; saved as a whole later");
		d->state_unsaved = true;
	}
	txn_end(&t);
	if (may_retry_one_by_one && c->n > 1) {
		log_warning("a batch of %zu changes failed (%s); applying them one by one", c->n,
			    kerr ? kerr : strerror(-r));
		for (size_t i = 0; i < c->n; i++) {
			struct change one = { &c->ops[i], c->subs ? &c->subs[i] : NULL, 1 };
			change_run(d, &one, false);
		}
		return 0;
	}
	refuse(d, c, r, kerr);
	return r;
}

void change_report(struct daemon *d, struct change *c)
{
	for (size_t i = 0; i < c->n; i++) {
		struct submission *sub = c->subs ? c->subs[i] : NULL;
		if (sub || c->ops[i].kind == TXN_EXPIRE)
			report(d, &c->ops[i], sub);
		txn_op_release(&c->ops[i]);
		submission_free(sub);
	}
}

/* A spool entry as an op: refused at once when it cannot even be parsed. */
static void op_from_submission(struct txn_op *op, struct submission *s)
{
	struct diag_list errs;
	struct fragment *f = NULL;
	int r;

	txn_op_submit(op, s->user, s->uid, NULL);
	if (s->judged_before) {
		op->outcome = TXN_DISCARDED;
		return;
	}
	if (diag_any(&s->problems)) {
		txn_op_reject(op, &s->problems);
		return;
	}
	diag_init(&errs);
	r = fragment_parse(s->name, s->text, s->len, &f, &errs);
	if (r == -ENOMEM)
		diag_add(&errs, 0, "the daemon is out of memory");
	if (r < 0)
		txn_op_reject(op, &errs);
	else
		op->frag = f;
}

void process_submissions(struct daemon *d, struct submission **subs, size_t n)
{
	struct txn_op *ops = reallocarray(NULL, n, sizeof(*ops)); /* each made by op_from_submission */
	struct change c = { ops, subs, n };

	if (!ops) {
		log_error("out of memory: %zu submissions wait for the next round", n);
		for (size_t i = 0; i < n; i++)
			submission_free(subs[i]);
		return;
	}
	for (size_t i = 0; i < n; i++)
		op_from_submission(&ops[i], subs[i]);
	change_run(d, &c, true);
	change_report(d, &c); /* the answers first; the status file after (serve.c) */
	free(ops);
}
