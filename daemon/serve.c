/* SPDX-License-Identifier: MIT */
/*
 * Serving the spool: inotify events and the periodic sweep fill the intake's queues
 * (intake.h), batches of submissions are taken round-robin and judged together (changes.c),
 * and what a crash left in work is judged first at start.
 */
#include "core.h"

#include <stdlib.h>

#include "log.h"

/* Take up to a batch of queued entries, round-robin over submitters, and judge them together. */
size_t process_queue_once(struct daemon *d)
{
	struct submission *subs[BATCH_MAX];
	size_t taken = intake_take(d->intake, (int64_t)(mono_us() / 1000), subs, d->batch_max);

	if (taken)
		process_submissions(d, subs, taken);
	return taken;
}

int on_process(sd_event_source *s, void *userdata)
{
	struct daemon *d = userdata;
	size_t taken = process_queue_once(d);

	if (d->status_dirty)
		daemon_write_status(d);
	/* again while it makes progress; what no take could find is the sweep's */
	if (taken && intake_has_work(d->intake))
		sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	return 0;
}

int on_inotify(sd_event_source *s, int fd, uint32_t revents, void *userdata)
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
void process_work_leftovers(struct daemon *d)
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

/*
 * Every few seconds: stale dot-files, entries no inotify event announced, whatever is past a
 * submitter's limits. A slice reads a bounded number of entries; a spool holding more is
 * worked through in slices a little apart, so other submitters are never held up for long.
 */
int on_sweep(sd_event_source *s, uint64_t usec, void *userdata)
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
		daemon_write_status(d);
	if (intake_has_work(d->intake))
		sd_event_source_set_enabled(d->process_source, SD_EVENT_ONESHOT);
	sd_event_source_set_time(s, usec + (r > 0 ? SWEEP_SLICE_GAP_US : SWEEP_INTERVAL_US));
	return 0;
}

