/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "active.h"
#include "diag.h"
#include "fragment.h"
#include "router.h"
#include "ruleset.h"
#include "state.h"

/*
 * The transaction: the one place where the active set changes. Every change of it goes
 * through here: a submission or withdrawal, a lease's end, a policy reload, a change of the
 * router's addresses, the start. A transaction
 *
 *   1. judges its ops in order against the policy, the router's addresses and the active set
 *      as the ops before have left it (txn_begin), merging each into the active set and the
 *      desired elements and staging its record for the saved state;
 *   2. saves the records as one batch (txn_save);
 *   3. is then applied to the kernel by the caller, from txn_touched();
 *   4. either stays (txn_commit) or is undone as a whole, memory and saved state together
 *      (txn_rollback), should the save or the kernel have failed.
 *
 * No event loop, no logging, no kernel: it returns what changed and why (each op's outcome
 * and reasons), and the daemon renders, applies, answers and logs.
 */

struct txn_world {
	const struct policy *policy;
	const struct router_view *router; /* NULL: not known (then only the policy decides) */
	struct active_set *active;
	struct elements *desired;
	struct state *store;	/* NULL: nothing is saved (tests, fuzzing) */
	int64_t last_accepted;	/* acceptance times strictly increase (ms) */
};

enum txn_op_kind {
	TXN_SUBMIT,  /* a fragment (or a withdrawal: no statements) from `user` */
	TXN_EXPIRE,  /* `old`'s lease ended */
	TXN_REJUDGE, /* `old`, active, judged again (reload, address change) */
	TXN_RESTORE, /* a saved fragment (`frag`, `user`, `uid`, `accepted`, `expires`), judged at start */
};

enum txn_outcome {
	TXN_PENDING,
	TXN_ACCEPTED,  /* `entry` is new (replacing `old`, if any) */
	TXN_RENEWED,   /* `old` is unchanged but for its lease */
	TXN_WITHDRAWN, /* `old` (if any) is gone */
	TXN_REJECTED,  /* `reasons` say why; nothing changed */
	TXN_EXPIRED,   /* `old` is gone */
	TXN_KEPT,      /* REJUDGE: `old` still passes; RESTORE: `entry` is active again */
	TXN_REVOKED,   /* REJUDGE, RESTORE: no longer passes (`reasons`): gone */
	TXN_DISCARDED, /* EXPIRE of an entry that is not active any more: nothing to do */
};

struct txn_op {
	enum txn_op_kind kind;
	/* in */
	const char *user;     /* SUBMIT: the submitter (as policy.ini names it) */
	uid_t uid;	      /* SUBMIT */
	struct fragment *frag; /* SUBMIT, RESTORE: owned; moves into `entry` when accepted */
	int64_t accepted, expires; /* RESTORE: as saved (ms) */
	/* in (EXPIRE, REJUDGE), out (SUBMIT): the active version before this op */
	struct active_entry *old;
	/* out */
	enum txn_outcome outcome;
	struct active_entry *entry; /* ACCEPTED: the new active entry */
	bool retired;		    /* `old` left the active set: txn_op_release() frees it */
	/* private */
	bool applied;
	int64_t old_expires;
	/* out; last: large, and only what is used of it is ever written */
	struct diag_list reasons;
};

struct txn {
	struct txn_world *w;
	struct txn_op *ops;
	size_t n;
	struct state_batch *batch;
	struct touched touched;
	bool saved;
};

/* A submission op; `frag` is owned by it (NULL when the entry could not even be parsed). */
void txn_op_submit(struct txn_op *op, const char *user, uid_t uid, struct fragment *frag);
/* An op about an active entry: EXPIRE or REJUDGE. */
void txn_op_entry(struct txn_op *op, enum txn_op_kind kind, struct active_entry *e);
/* A saved fragment to judge again at start (`rec->frag` moves into the op). */
void txn_op_restore(struct txn_op *op, struct state_record *rec, const char *user);
/* Reject an op before it is judged (it could not be read, or was refused unjudged). */
void txn_op_reject(struct txn_op *op, const struct diag_list *reasons);

/* Judge and merge `n` ops in order (ops already decided are left alone). */
void txn_begin(struct txn *t, struct txn_world *w, struct txn_op *ops, size_t n, int64_t now);

/*
 * Save what the ops changed as one batch. Returns 0 when saved; TXN_UNSAVED when it could not
 * be saved but the batch only takes forwards away (withdrawals, expiries, revocations), which
 * must reach the kernel anyway (fail closed: the caller notes that the saved state is behind);
 * or a negative errno: the batch cannot go ahead (roll it back).
 */
#define TXN_UNSAVED 1
int txn_save(struct txn *t);

/* The keys whose elements may have changed, for the kernel delta. */
const struct touched *txn_touched(const struct txn *t);

/* Undo everything the ops did, in memory and, when it was saved, in the saved state. Every op
 * is pending again. Returns 0, or a negative errno when the saved state could not be put back
 * (then the caller must write it whole later: state_compact). */
int txn_rollback(struct txn *t);
/* Keep it: what the ops replaced or removed is retired (freed by txn_op_release()). */
void txn_commit(struct txn *t);
void txn_end(struct txn *t);

/* Does the transaction only take forwards away / add or renew any? */
bool txn_only_removals(const struct txn_op *ops, size_t n);
bool txn_any_addition(const struct txn_op *ops, size_t n);
/* Reject every op still pending, for `why`. */
void txn_reject_pending(struct txn_op *ops, size_t n, const char *why);

/* After reporting: free what the op retired and what it still owns. */
void txn_op_release(struct txn_op *op);
