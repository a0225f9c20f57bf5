/* SPDX-License-Identifier: MIT */
/*
 * The table in the kernel: changed element by element (one transaction per batch), or made
 * whole (one transaction that replaces it without a moment of absence), always only after
 * natwarden's mark was checked; and put back after anyone else changed or removed it.
 */
#include "core.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "macro.h"

static int kernel_run(struct daemon *d, const char *cmds, char **ret_error)
{
	uint64_t t0 = mono_us();
	int r = nft_run(d->nft, cmds, false, ret_error);

	d->last_apply_us = mono_us() - t0;
	metrics_kernel(&d->metrics, d->last_apply_us);
	if (d->rest_source) {
		(void)sd_event_source_set_time_relative(d->rest_source, REST_DELAY_US);
		(void)sd_event_source_set_enabled(d->rest_source, SD_EVENT_ONESHOT);
	}
	if (r < 0 && ret_error && *ret_error)
		snprintf(d->last_error, sizeof(d->last_error), "%s", *ret_error);
	return r;
}

/*
 * At rest, REST_DELAY_US after the last transaction: libnftables' cache of the ruleset goes
 * (nft_forget_cache) and the allocator gives its free pages back. A burst of submissions
 * keeps both warm; a router at rest keeps only its own data (bench: VmRSS at rest).
 */
int on_rest(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;

	(void)s;
	(void)usec;
	nft_forget_cache(d->nft);
	malloc_trim(0);
	return 0;
}

/*
 * Right after an element change, once nothing else waits (the lowest priority): a transaction
 * that changes nothing fills libnftables' cache for the next one (ruleset_render_prime), so
 * that a submission does not wait for the fetch. Only into a table known to be ours; should it
 * fail, the next transaction fetches the cache itself, as it would have anyway.
 *
 * Never after a whole-table apply (start, restore, reload). Like every element change, the
 * prime names the table, and libnftables 1.0.6 neither binds a batch to the generation it
 * fetched nor lets an element name a table's handle: someone able to replace tables who swaps
 * in a lookalike while the cache is fetched would get the element. After a restore, which
 * anyone deleting our table can bring about at a time of their choosing, nothing is sent
 * until a submission asks for it.
 */
int on_prime(sd_event_source *s, void *userdata)
{
	struct daemon *d = userdata;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *out;
	int r;

	(void)s;
	monitor_check(d);
	if (d->table_suspect || !(out = open_memstream(&text, &len)))
		return 0;
	r = ruleset_render_prime(&d->rcfg, &d->kernel, out);
	if (fclose(out) == 0 && r > 0)
		(void)nft_run(d->nft, text, false, NULL);
	return 0;
}

/* Send the element changes for the touched keys, as one transaction. */
int kernel_apply_delta(struct daemon *d, const struct touched *t, char **ret_error)
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
	if (d->prime_source)
		(void)sd_event_source_set_enabled(d->prime_source, SD_EVENT_ONESHOT);
	return ruleset_commit_view(&d->kernel, &d->desired, t);
}

/*
 * Make the set wan4 hold d->rcfg's public addresses, as one transaction. Like the element
 * changes above, only into a table whose mark was checked: a suspect one is made whole.
 */
int kernel_apply_wan4(struct daemon *d, char **ret_error)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *out;

	if (!d->rcfg.hairpin)
		return 0; /* there is no such set */
	monitor_check(d);
	if (d->table_suspect)
		return kernel_apply_full(d, NULL, ret_error);
	out = open_memstream(&text, &len);
	if (!out)
		return -ENOMEM;
	ruleset_render_wan4(&d->rcfg, out);
	if (ferror(out) | fclose(out))
		return -ENOMEM;
	if (kernel_run(d, text, ret_error) == 0)
		return 0;
	/* as for elements: a table someone changed is made whole, which also tells who is wrong */
	if (ret_error) {
		free(*ret_error);
		*ret_error = NULL;
	}
	return kernel_apply_full(d, NULL, ret_error);
}

/*
 * May natwardend replace or make table inet `table`? Only when it does not exist or carries
 * natwarden's mark: a table of someone else's with that name is never touched.
 */
int table_check(struct daemon *d, const char *table, uint64_t *ret_handle,
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
int kernel_apply_full(struct daemon *d, const char *old_table, char **ret_error)
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

/* ---- flush recovery -------------------------------------------------------------------- */

int on_restore(sd_event_source *s, uint64_t usec, void *userdata)
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
			daemon_write_status(d);
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
	d->metrics.restores++;
	daemon_write_status(d);
	return 0;
}

/*
 * Read nftables' notifications now: did anyone else change or delete our table? Then the
 * table is suspect (it may not even be ours any more) until a whole-table apply, which checks
 * natwarden's mark, has made it ours again; a restore is scheduled (a storm coalesces).
 */
void monitor_check(struct daemon *d)
{
	struct monitor_result res;
	int enabled = SD_EVENT_OFF;
	uint64_t when;
	int r;

	r = monitor_drain(d->monitor, 4096, &res);
	if (r < 0)
		log_warning_errno(r, "reading nftables notifications failed");
	if (res.other_change || res.lost)
		adminfw_schedule(d); /* the administrator's chains may have changed */
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

int on_monitor(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	(void)s;
	(void)fd;
	(void)revents;
	monitor_check(userdata);
	return 0;
}

