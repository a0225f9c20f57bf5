/* SPDX-License-Identifier: MIT */
#include "txn.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* Everything zero but the room for reasons (kilobytes, written only as far as used). */
static void op_clear(struct txn_op *op, enum txn_op_kind kind, const char *user, uid_t uid)
{
	memset(op, 0, offsetof(struct txn_op, reasons));
	op->kind = kind;
	op->user = user;
	op->uid = uid;
	diag_init(&op->reasons);
}

void txn_op_submit(struct txn_op *op, const char *user, uid_t uid, struct fragment *frag)
{
	op_clear(op, TXN_SUBMIT, user, uid);
	op->frag = frag;
}

void txn_op_entry(struct txn_op *op, enum txn_op_kind kind, struct active_entry *e)
{
	op_clear(op, kind, e->user, e->uid);
	op->old = e;
}

void txn_op_restore(struct txn_op *op, struct state_record *rec, const char *user)
{
	op_clear(op, TXN_RESTORE, user, rec->uid);
	op->frag = rec->frag;
	op->accepted = rec->accepted;
	op->expires = rec->expires;
	rec->frag = NULL;
}

void txn_op_reject(struct txn_op *op, const struct diag_list *reasons)
{
	diag_copy(&op->reasons, reasons);
	op->outcome = TXN_REJECTED;
}

/* ---- judging and merging, one op at a time ---------------------------------------------- */

/* `e` leaves the set and the desired elements (what is saved is the caller's business). */
static void take_out(struct txn *t, struct active_entry *e)
{
	active_set_remove(t->w->active, e);
	elements_remove_fragment(t->w->desired, e->frag);
	touched_add_fragment(&t->touched, e->frag);
}

static int put_in(struct txn *t, struct active_entry *e)
{
	int r = active_set_insert(t->w->active, e);

	if (r < 0)
		return r;
	r = elements_add_fragment(t->w->desired, e->frag);
	touched_add_fragment(&t->touched, e->frag);
	if (r < 0) {
		/* no half-merged entry: out again, whole */
		active_set_remove(t->w->active, e);
		elements_remove_fragment(t->w->desired, e->frag);
	}
	return r;
}

static void stage_put(struct txn *t, const struct active_entry *e)
{
	if (t->batch)
		state_batch_save(t->batch, e);
}

static void stage_del(struct txn *t, const struct active_entry *e)
{
	if (t->batch)
		state_batch_remove(t->batch, e->uid, e->frag->name);
}

/* Strictly increasing, even within one batch, so that no tie is left to names. */
static int64_t next_acceptance(struct txn_world *w, int64_t now)
{
	w->last_accepted = now > w->last_accepted ? now : w->last_accepted + 1;
	return w->last_accepted;
}

static void out_of_memory(struct txn_op *op)
{
	diag_add(&op->reasons, 0, "the daemon is out of memory");
	op->outcome = TXN_REJECTED;
}

static void begin_expire(struct txn *t, struct txn_op *op)
{
	/* an earlier op of the batch may have replaced or removed it already */
	if (active_set_find(t->w->active, op->old->user, op->old->frag->name) != op->old) {
		op->outcome = TXN_DISCARDED;
		return;
	}
	take_out(t, op->old);
	stage_del(t, op->old);
	op->applied = true;
	op->outcome = TXN_EXPIRED;
}

/* A new version of (user, name) goes live, replacing `op->old` if there is one. */
static void accept_new(struct txn *t, struct txn_op *op, int64_t now)
{
	struct active_entry *e = active_entry_new(op->user, op->uid, op->frag);

	if (!e) {
		out_of_memory(op);
		return;
	}
	op->frag = NULL;
	e->accepted = next_acceptance(t->w, now);
	e->expires = e->frag->lease ? now + (int64_t)e->frag->lease * 1000 : 0;
	if (op->old)
		take_out(t, op->old);
	if (put_in(t, e) < 0) {
		if (op->old)
			put_in(t, op->old);
		op->frag = e->frag;
		e->frag = NULL;
		active_entry_free(e);
		out_of_memory(op);
		return;
	}
	stage_put(t, e);
	op->entry = e;
	op->applied = true;
	op->outcome = TXN_ACCEPTED;
}

static void begin_submit(struct txn *t, struct txn_op *op, int64_t now)
{
	struct txn_world *w = t->w;
	struct judgement j;

	engine_judge(w->policy, w->router, op->user, w->active, op->frag, &j);
	op->old = active_set_find(w->active, op->user, op->frag->name);
	switch (j.verdict) {
	case VERDICT_REJECTED:
		diag_copy(&op->reasons, &j.reasons);
		op->outcome = TXN_REJECTED;
		return;
	case VERDICT_WITHDRAWN:
		if (op->old) {
			take_out(t, op->old);
			stage_del(t, op->old);
			op->applied = true;
		}
		op->outcome = TXN_WITHDRAWN;
		return;
	case VERDICT_ACCEPTED:
		break;
	}
	if (j.identical) {
		/* a renewal keeps its place in the acceptance order: only the lease moves */
		op->old_expires = op->old->expires;
		op->old->expires = op->frag->lease ? now + (int64_t)op->frag->lease * 1000 : 0;
		stage_put(t, op->old);
		op->applied = true;
		op->outcome = TXN_RENEWED;
		return;
	}
	accept_new(t, op, now);
}

/* Judge `e` against the set as rebuilt so far; true when it passes. */
static bool passes(struct txn *t, struct txn_op *op, const struct fragment *f)
{
	struct judgement j;

	if (!op->user) {
		diag_add(&op->reasons, 0, "uid %u is no longer a submitter", (unsigned)op->uid);
		return false;
	}
	engine_judge(t->w->policy, t->w->router, op->user, t->w->active, f, &j);
	if (j.verdict == VERDICT_ACCEPTED)
		return true;
	diag_copy(&op->reasons, &j.reasons);
	return false;
}

static void begin_rejudge(struct txn *t, struct txn_op *op)
{
	struct active_entry *e = op->old;

	/* lifted out of the set by txn_begin; back in if it still passes */
	if (passes(t, op, e->frag) && active_set_insert(t->w->active, e) == 0) {
		op->outcome = TXN_KEPT;
		return;
	}
	elements_remove_fragment(t->w->desired, e->frag);
	touched_add_fragment(&t->touched, e->frag);
	stage_del(t, e);
	op->applied = true;
	op->outcome = TXN_REVOKED;
}

static void begin_restore(struct txn *t, struct txn_op *op, int64_t now)
{
	struct active_entry *e;

	if (!passes(t, op, op->frag)) {
		op->outcome = TXN_REVOKED;
		return;
	}
	if (op->expires && op->expires <= now) {
		op->outcome = TXN_EXPIRED; /* ran out while the daemon was down */
		return;
	}
	e = active_entry_new(op->user, op->uid, op->frag);
	if (!e) {
		out_of_memory(op);
		return;
	}
	op->frag = NULL;
	e->accepted = op->accepted;
	e->expires = op->expires;
	if (op->accepted > t->w->last_accepted)
		t->w->last_accepted = op->accepted;
	if (put_in(t, e) < 0) {
		op->frag = e->frag;
		e->frag = NULL;
		active_entry_free(e);
		out_of_memory(op);
		return;
	}
	op->entry = e;
	op->applied = true;
	op->outcome = TXN_KEPT;
}

void txn_begin(struct txn *t, struct txn_world *w, struct txn_op *ops, size_t n, int64_t now)
{
	*t = (struct txn){ .w = w, .ops = ops, .n = n };
	touched_init(&t->touched);
	if (w->store)
		t->batch = state_batch_new(w->store);
	if (w->store && !t->batch) {
		txn_reject_pending(ops, n, "the daemon is out of memory");
		return;
	}
	/* what is judged again is judged against a set rebuilt in order, from nothing */
	for (size_t i = 0; i < n; i++)
		if (ops[i].kind == TXN_REJUDGE && ops[i].outcome == TXN_PENDING)
			active_set_remove(w->active, ops[i].old);
	for (size_t i = 0; i < n; i++) {
		struct txn_op *op = &ops[i];
		if (op->outcome != TXN_PENDING)
			continue;
		switch (op->kind) {
		case TXN_SUBMIT:
			begin_submit(t, op, now);
			break;
		case TXN_EXPIRE:
			begin_expire(t, op);
			break;
		case TXN_REJUDGE:
			begin_rejudge(t, op);
			break;
		case TXN_RESTORE:
			begin_restore(t, op, now);
			break;
		}
	}
}

/* ---- saving, keeping, undoing ------------------------------------------------------------ */

bool txn_only_removals(const struct txn_op *ops, size_t n)
{
	bool any = false;

	for (size_t i = 0; i < n; i++) {
		if (!ops[i].applied)
			continue;
		if (ops[i].outcome != TXN_WITHDRAWN && ops[i].outcome != TXN_EXPIRED &&
		    ops[i].outcome != TXN_REVOKED)
			return false;
		any = true;
	}
	return any;
}

bool txn_any_addition(const struct txn_op *ops, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ops[i].applied && (ops[i].outcome == TXN_ACCEPTED || ops[i].outcome == TXN_RENEWED))
			return true;
	return false;
}

int txn_save(struct txn *t)
{
	int r;

	if (!t->batch)
		return 0;
	r = state_batch_commit(t->batch);
	if (r == 0) {
		t->saved = true;
		return 0;
	}
	/* a forward that ends must leave the kernel even when that cannot be saved */
	return txn_only_removals(t->ops, t->n) ? TXN_UNSAVED : r;
}

const struct touched *txn_touched(const struct txn *t)
{
	return &t->touched;
}

static void rollback_one(struct txn *t, struct txn_op *op)
{
	switch (op->outcome) {
	case TXN_RENEWED:
		op->old->expires = op->old_expires;
		break;
	case TXN_ACCEPTED:
		take_out(t, op->entry);
		op->frag = op->entry->frag;
		op->entry->frag = NULL;
		active_entry_free(op->entry);
		op->entry = NULL;
		if (op->old)
			put_in(t, op->old);
		break;
	case TXN_WITHDRAWN:
	case TXN_EXPIRED:
		put_in(t, op->old);
		break;
	case TXN_REVOKED:
		/* put back below, with every other re-judged entry */
		elements_add_fragment(t->w->desired, op->old->frag);
		break;
	case TXN_KEPT:
		if (op->kind == TXN_RESTORE) {
			take_out(t, op->entry);
			op->frag = op->entry->frag;
			op->entry->frag = NULL;
			active_entry_free(op->entry);
			op->entry = NULL;
		}
		break;
	default:
		break;
	}
}

/* The saved state as it was: the ops' records undone, the last op first. */
static int restore_saved(struct txn *t)
{
	struct state_batch *b = state_batch_new(t->w->store);
	int r;

	if (!b)
		return -ENOMEM;
	for (size_t i = t->n; i-- > 0;) {
		const struct txn_op *op = &t->ops[i];
		if (!op->applied)
			continue;
		if (op->outcome == TXN_ACCEPTED && !op->old) {
			state_batch_remove(b, op->entry->uid, op->entry->frag->name);
		} else if (op->outcome == TXN_RENEWED) {
			/* the lease as it was (the entry's own is put back after this) */
			int64_t renewed = op->old->expires;
			op->old->expires = op->old_expires;
			state_batch_save(b, op->old);
			op->old->expires = renewed;
		} else if (op->old) {
			state_batch_save(b, op->old); /* the old version, old times */
		}
	}
	r = state_batch_commit(b);
	state_batch_free(b);
	return r;
}

int txn_rollback(struct txn *t)
{
	int r = 0;

	/* the disk first: it reads the entries as the ops left them */
	if (t->saved)
		r = restore_saved(t);
	for (size_t i = t->n; i-- > 0;) {
		struct txn_op *op = &t->ops[i];
		if (op->applied || op->outcome == TXN_KEPT)
			rollback_one(t, op);
	}
	/* re-judged entries that were lifted out go back, in their order */
	for (size_t i = 0; i < t->n; i++) {
		struct txn_op *op = &t->ops[i];
		if (op->kind == TXN_REJUDGE && op->outcome != TXN_PENDING &&
		    active_set_find(t->w->active, op->old->user, op->old->frag->name) != op->old)
			active_set_insert(t->w->active, op->old);
	}
	for (size_t i = 0; i < t->n; i++) {
		struct txn_op *op = &t->ops[i];
		op->applied = false;
		if (op->outcome != TXN_REJECTED)
			op->outcome = TXN_PENDING;
	}
	t->saved = false;
	return r;
}

void txn_commit(struct txn *t)
{
	for (size_t i = 0; i < t->n; i++) {
		struct txn_op *op = &t->ops[i];
		switch (op->outcome) {
		case TXN_ACCEPTED:
		case TXN_WITHDRAWN:
		case TXN_EXPIRED:
		case TXN_REVOKED:
			/*
			 * Out of the set; freed only after every op was reported: the version one
			 * replaces may be an earlier op's own entry (two of one name in a batch).
			 */
			if (op->old && op->kind != TXN_RESTORE)
				op->retired = true;
			break;
		default:
			break;
		}
	}
}

void txn_end(struct txn *t)
{
	state_batch_free(t->batch);
	t->batch = NULL;
	touched_finish(&t->touched);
}

void txn_reject_pending(struct txn_op *ops, size_t n, const char *why)
{
	for (size_t i = 0; i < n; i++)
		if (ops[i].outcome == TXN_PENDING) {
			ops[i].outcome = TXN_REJECTED;
			diag_add(&ops[i].reasons, 0, "%s", why);
		}
}

void txn_op_release(struct txn_op *op)
{
	if (op->retired) {
		active_entry_free(op->old);
		op->old = NULL;
		op->retired = false;
	}
	fragment_free(op->frag);
	op->frag = NULL;
}
