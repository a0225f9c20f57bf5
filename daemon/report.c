/* SPDX-License-Identifier: MIT */
/*
 * Telling what happened: the verdict written into the submitter's own file (common/verdict.h),
 * one structured journal entry per outcome (log.h), the recent events of the status file, and
 * the submitters' summaries of what was refused unjudged.
 */
#include "core.h"

#include <inttypes.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "macro.h"
#include "verdict.h"

void remember_event(struct daemon *d, const char *kind, const char *user, const char *fragment,
		    const char *text)
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

void join_reasons(const struct diag_list *l, const char *name, char *buf, size_t size,
		  FILE *verdict)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < l->n; i++) {
		char line[DIAG_TEXT + STR_QUOTE_MAX + 32];

		diag_format(&l->items[i], name, line, sizeof(line));
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

/*
 * Answer and remove a spool entry; what cannot be removed is counted in its owner's summary.
 * When the answer cannot be written (a full spool), the status file is brought up to date
 * before the entry goes: the client learns from it what became of its submission.
 */
static void finish_entry(struct daemon *d, struct submission *s, const char *verdict, size_t len)
{
	int r;

	spool_answer(s, verdict, len);
	if (s->answer_error) {
		log_warning_errno(s->answer_error, "cannot write the verdict into %s in incoming/%u (its verdict is in the journal)",
				  s->shown, (unsigned)s->uid);
		if (d->status_dirty)
			daemon_write_status(d);
	}
	r = spool_remove(intake_spool(d->intake), s, intake_next_seq(d->intake));
	if (r < 0)
		intake_note_stuck(d->intake, s->uid, s->ino);
}

static const char *outcome_word(enum txn_outcome o)
{
	switch (o) {
	case TXN_ACCEPTED:
	case TXN_RENEWED:
		return "accepted";
	case TXN_WITHDRAWN:
		return "withdrawn";
	case TXN_EXPIRED:
		return "expired";
	default:
		return "rejected";
	}
}

/* What one report says, gathered once for the verdict and the log. */
struct said {
	const struct active_entry *live; /* what is live now, if anything */
	const char *name, *who;
	char uid[16];
	char live_text[JOINED_MAX], reasons[JOURNAL_REASONS_MAX];
};

static void gather(const struct txn_op *op, const struct submission *sub, struct said *s)
{
	s->live = op->outcome == TXN_ACCEPTED ? op->entry : op->outcome == TXN_RENEWED ? op->old : NULL;
	s->name = sub ? (sub->name_valid ? sub->name : sub->shown) : op->old->frag->name;
	s->who = op->user; /* for the log: the account name even of a non-submitter */
	s->uid[0] = '\0';
	if (!s->who && (sub ? sub->owner_known : true)) {
		const struct passwd *pw = getpwuid(op->uid);
		if (pw)
			s->who = pw->pw_name;
	}
	if (sub ? sub->owner_known : true)
		snprintf(s->uid, sizeof(s->uid), "%u", (unsigned)op->uid);
}

/* The verdict, into the submitter's own file, then the entry is removed. */
static void answer(struct daemon *d, const struct txn_op *op, struct submission *sub, struct said *s)
{
	_cleanup_free_ char *vtext = NULL;
	size_t vlen = 0;
	FILE *v = sub->can_answer ? open_memstream(&vtext, &vlen) : NULL;

	if (v)
		verdict_write_head(v, s->name, s->who ? s->who : "", outcome_word(op->outcome),
				   op->outcome == TXN_RENEWED, s->live ? s->live->expires : 0);
	if (s->live)
		join_live(s->live->frag, s->live_text, sizeof(s->live_text), v);
	join_reasons(&op->reasons, s->name, s->reasons, sizeof(s->reasons), v);
	if (v && fclose(v) != 0) {
		free(vtext);
		vtext = NULL;
	}
	finish_entry(d, sub, vtext, vtext ? vlen : 0);
}

static void log_outcome(struct daemon *d, const struct txn_op *op, const struct submission *sub,
			struct said *s)
{
	const char *q = sub && !sub->name_valid ? "" : "'"; /* an invalid name comes quoted */
	const char *word = outcome_word(op->outcome);
	char expires[24] = "0", msg_who[320];
	int level = op->outcome == TXN_REJECTED ? LOG_WARNING : LOG_NOTICE;
	const char *mid = op->outcome == TXN_REJECTED  ? MID_REJECTED :
			  op->outcome == TXN_WITHDRAWN ? MID_WITHDRAWN :
			  op->outcome == TXN_EXPIRED   ? MID_EXPIRED :
							 MID_ACCEPTED;

	if (s->live && s->live->expires)
		snprintf(expires, sizeof(expires), "%" PRId64, (s->live->expires + 999) / 1000);
	if (s->who)
		snprintf(msg_who, sizeof(msg_who), "%s's fragment %s%s%s", s->who, q, s->name, q);
	else if (s->uid[0])
		snprintf(msg_who, sizeof(msg_who), "uid %s's fragment %s%s%s", s->uid, q, s->name, q);
	else
		snprintf(msg_who, sizeof(msg_who), "fragment %s%s%s", q, s->name, q);
	if (op->outcome == TXN_EXPIRED)
		remember_event(d, "expired", op->user ? op->user : "", s->name, "its lease ran out");
	(void)metrics_verdict(&d->metrics, s->who ? s->who : s->uid, /* out of memory: uncounted */
			      op->outcome == TXN_RENEWED ? "renewed" : word);
	const struct log_field fields[] = {
		{ "USER", s->who },
		{ "UID", s->uid[0] ? s->uid : NULL },
		{ "FRAGMENT", s->name },
		{ "VERDICT", word },
		{ "RENEWED", op->outcome == TXN_RENEWED ? "yes" : NULL },
		{ "MAPPINGS", s->live_text[0] ? s->live_text : NULL },
		{ "EXPIRES", s->live ? expires : NULL },
		{ "REASON", s->reasons[0] ? s->reasons : NULL },
	};
	if (op->outcome == TXN_REJECTED)
		log_event(level, mid, fields, ELEMENTSOF(fields), "rejected %s: %s", msg_who, s->reasons);
	else if (s->live)
		log_event(level, mid, fields, ELEMENTSOF(fields), "%s %s%s: %s", word, msg_who,
			  op->outcome == TXN_RENEWED ? " (lease renewed)" : "", s->live_text);
	else
		log_event(level, mid, fields, ELEMENTSOF(fields), "%s %s", word, msg_who);
}

void report(struct daemon *d, const struct txn_op *op, struct submission *sub)
{
	static struct said s; /* one report at a time */

	if (op->outcome == TXN_DISCARDED || op->outcome == TXN_PENDING) {
		if (sub && op->outcome == TXN_DISCARDED)
			log_info("spool entry %s of uid %u already carries its verdict (answered before a restart): removed",
				 sub->shown, (unsigned)op->uid);
		if (sub)
			finish_entry(d, sub, NULL, 0);
		return;
	}
	gather(op, sub, &s);
	s.live_text[0] = s.reasons[0] = '\0';
	if (sub)
		answer(d, op, sub, &s);
	else
		join_reasons(&op->reasons, s.name, s.reasons, sizeof(s.reasons), NULL);
	if (!s.live && op->retired && op->old)
		join_live(op->old->frag, s.live_text, sizeof(s.live_text), NULL); /* what went */
	if (sub && sub->quiet)
		return; /* refused unjudged: counted in the submitter's summary, not logged alone */
	log_outcome(d, op, sub, &s);
}

/* A fragment that no longer passes, out of the kernel already: say so. */
void report_revoked(struct daemon *d, const struct txn_op *op, const char *context)
{
	const struct active_entry *e = op->old;
	static char reasons[JOURNAL_REASONS_MAX]; /* capped like a submission's journal entry */
	char uid[16];

	snprintf(uid, sizeof(uid), "%u", (unsigned)e->uid);
	join_reasons(&op->reasons, e->frag->name, reasons, sizeof(reasons), NULL);
	const struct log_field f[] = { { "USER", e->user }, { "UID", uid }, { "FRAGMENT", e->frag->name },
				       { "VERDICT", "revoked" }, { "REASON", reasons } };
	log_event(LOG_WARNING, MID_REVOKED, f, ELEMENTSOF(f), "revoked %s's fragment '%s' %s: %s",
		  e->user, e->frag->name, context, reasons);
	remember_event(d, "revoked", e->user, e->frag->name, reasons);
	(void)metrics_verdict(&d->metrics, e->user, "revoked"); /* out of memory: uncounted */
}

/* Unjudged refusals of the last while, one line per submitter (they are not logged one by one). */
static void log_summary(const struct intake_summary *sum)
{
	char uid[16], limited[24], over[24], stale[24], stuck[24];

	snprintf(uid, sizeof(uid), "%u", (unsigned)sum->uid);
	snprintf(limited, sizeof(limited), "%" PRIu64, sum->rate_limited);
	snprintf(over, sizeof(over), "%" PRIu64, sum->over_limit);
	snprintf(stale, sizeof(stale), "%" PRIu64, sum->stale);
	snprintf(stuck, sizeof(stuck), "%" PRIu64, sum->stuck);
	const struct log_field f[] = {
		{ "USER", sum->user },
		{ "UID", uid },
		{ "RATE_LIMITED", sum->rate_limited ? limited : NULL },
		{ "OVER_LIMIT", sum->over_limit ? over : NULL },
		{ "STALE", sum->stale ? stale : NULL },
		{ "STUCK", sum->stuck ? stuck : NULL },
	};
	if (sum->stuck)
		log_warning("%s's spool directory holds %" PRIu64 " more director%s that natwardend cannot remove (not empty); they stay until %s removes them",
			    sum->user, sum->stuck, sum->stuck == 1 ? "y" : "ies", sum->user);
	if (sum->rate_limited || sum->over_limit)
		log_event(LOG_WARNING, MID_LIMITED, f, ELEMENTSOF(f),
			  "refused %s's spool entries unjudged: %" PRIu64 " over max_submissions_per_minute = %u, %" PRIu64 " past max_spool_entries = %u or max_spool_bytes = %u; %" PRIu64 " stale temporary files removed",
			  sum->user, sum->rate_limited, sum->per_minute, sum->over_limit,
			  sum->max_entries, sum->max_bytes, sum->stale);
	else if (sum->stale)
		log_info("removed %" PRIu64 " stale temporary file%s of %s from the spool", sum->stale,
			 sum->stale == 1 ? "" : "s", sum->user);
}

void log_summaries(struct daemon *d)
{
	struct intake_summary sum;
	uint64_t now = mono_us();

	/* at most one round of summaries per interval, whatever the sweep's pace */
	if (d->last_summary_us && now - d->last_summary_us < SWEEP_INTERVAL_US)
		return;
	d->last_summary_us = now;
	while (intake_next_summary(d->intake, &sum))
		log_summary(&sum);
}
