/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-event.h>

#include "active.h"
#include "dirs.h"
#include "intake.h"
#include "localaddr.h"
#include "monitor.h"
#include "nft.h"
#include "policy.h"
#include "router.h"
#include "ruleset.h"
#include "state.h"
#include "status.h"

#define BATCH_MAX 1024	     /* spool entries judged and applied together */
#define RESTORE_DELAY_US 20000 /* let a flush storm settle this long before restoring */
#define READDR_DELAY_US 20000  /* let a burst of address changes settle before judging again */
#define SWEEP_INTERVAL_US (5 * 1000000ULL) /* the periodic look at the spool */
#define SWEEP_BUDGET 1024 /* directory entries one slice of the sweep reads at most */
#define SWEEP_SLICE_GAP_US 50000 /* between slices, when a sweep has more to do */

struct uid_name {
	uid_t uid;
	char name[NAME_MAX_USER + 1];
};

struct daemon {
	sd_event *event;
	const char *config_path;
	struct policy *policy;
	struct ruleset_config rcfg;
	struct dirs dirs;
	struct intake *intake; /* the submitters' spool directories, queues and limits */
	struct state *store; /* the saved fragments: snapshot and journal */
	size_t batch_max; /* BATCH_MAX, or less when file descriptors are scarce */
	struct nft *nft;
	struct monitor *monitor;
	struct localaddr *localaddr; /* the router's addresses, from the kernel */
	struct router_view router;   /* ... as of the last look: no forward may point there */

	struct active_set *active;
	struct elements desired; /* what the active fragments ask for */
	struct elements kernel;	 /* what the kernel holds, as far as we know */

	struct uid_name *submitters; /* policy user names resolved to uids */
	size_t n_submitters;

	sd_event_source *process_source, *restore_source, *cleanup_source;
	sd_event_source *inotify_source, *monitor_source;
	sd_event_source *localaddr_source, *readdr_source;
	int restore_failures;

	int64_t started_ms, last_change_ms;
	uint64_t last_apply_us;
	char last_error[512];
	struct status_event events[STATUS_EVENTS];
	size_t n_events;
	bool status_dirty;
	bool state_unsaved; /* removals live in the kernel but not in the saved state (disk full) */
	bool state_full;    /* an addition was refused for lack of room in the state directory */
	bool table_suspect; /* someone else touched our table: only a whole, checked apply now */
	uint64_t last_summary_us; /* when the submitters' summaries were last logged */
	int64_t last_accepted; /* the newest acceptance time given (ms): they strictly increase */
	bool ready;
	bool reloading;
};

/* Start-up, in the order the service contract needs (see main.c). */
int daemon_load_policy(struct daemon *d, const char *path);
/* The policy in d->policy, loaded from `path`: take it into use (submitters, ruleset). */
int daemon_use_policy(struct daemon *d, const char *path);
int daemon_setup(struct daemon *d, char *why, size_t size);
int daemon_start(struct daemon *d);
void daemon_free(struct daemon *d);

/* SIGHUP: re-read the policy, re-judge everything active. */
int daemon_reload(struct daemon *d);

/*
 * The saved state, judged again under the current policy, into d->active and d->desired.
 * `would` NULL: the daemon's start (expiries and revocations logged, the survivors saved as
 * the new snapshot); otherwise --check and --print-ruleset: nothing written, what a start
 * would revoke printed to `would`. No kernel either way.
 */
int daemon_load_saved(struct daemon *d, int state_dirfd, FILE *would);

/* A human line for STATUS= and the log. */
void daemon_describe(const struct daemon *d, char *buf, size_t size);
