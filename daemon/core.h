/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The daemon's core: its one struct and what its parts (daemon/ *.c below) share. Private to
 * the daemon: main.c and everyone else see daemon.h only.
 *
 *   daemon.c   the struct's life, policy and submitters, the status file
 *   serve.c    the spool's events: inotify, batches of submissions, the sweep, leftovers
 *   changes.c  one change of the active set end to end: the transaction (txn.h), then the
 *              kernel, then the leases, the answers and the log; a full state disk
 *   kernel.c   the table in the kernel: whole or element by element, its mark, flush recovery
 *   leases.c   a timer per leased fragment; leases that end together expire in one change
 *   report.c   verdicts into the submitter's file, the journal, the recent events
 *   reload.c   SIGHUP, and a change of the router's addresses: judge everything again
 *   adminfw.c  would the administrator's forward chains drop our connections? (fwread.h reads
 *              them, common/fwcheck.h judges them); the journal and the status file are told
 *   startup.c  directories, sockets and the event sources; the saved state judged at start
 *   metrics.c  the counters for Prometheus and their text (pure; daemon.c writes the file)
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-event.h>

#include "active.h"
#include "daemon.h"
#include "dirs.h"
#include "fwcheck.h"
#include "hashmap.h"
#include "intake.h"
#include "localaddr.h"
#include "metrics.h"
#include "monitor.h"
#include "nft.h"
#include "policy.h"
#include "router.h"
#include "ruleset.h"
#include "state.h"
#include "status.h"
#include "txn.h"

#define BATCH_MAX 1024	       /* spool entries judged and applied together */
#define RESTORE_DELAY_US 20000 /* let a flush storm settle this long before restoring */
#define READDR_DELAY_US 20000  /* let a burst of address changes settle before judging again */
#define ADMINFW_DELAY_US 200000 /* let a burst of ruleset changes settle before reading it */
#define SWEEP_INTERVAL_US (5 * 1000000ULL) /* the periodic look at the spool */
#define SWEEP_BUDGET 1024		   /* directory entries one slice of the sweep reads */
#define SWEEP_SLICE_GAP_US 50000	   /* between slices, when a sweep has more to do */
#define JOINED_MAX 16384		   /* 256 statements, or DIAG_MAX reasons, joined */
#define JOURNAL_REASONS_MAX 2048	   /* the reasons of one journal entry, joined */
#define METRICS_INTERVAL_US 100000	   /* the metrics file is written at most this often */
#define REST_DELAY_US 1000000		   /* no transaction this long: memory is given back */

/* Where the WAN interface stands (reload.c). */
enum wan_state {
	WAN_UNKNOWN,	/* not looked at yet */
	WAN_MISSING,	/* no interface of that name (PPPoE not up yet): waiting for it */
	WAN_NO_ADDRESS, /* following it, and it has no IPv4 address: hairpin waits */
	WAN_UP,
	WAN_NO_ROUTE, /* [wan] interface = auto, and no IPv4 default route: waiting for one */
};

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
	size_t batch_max;      /* BATCH_MAX, or less when file descriptors are scarce */
	struct nft *nft;
	struct monitor *monitor;
	struct localaddr *localaddr; /* the router's addresses, from the kernel */

	/* what a transaction works on (txn.h): policy, router view, active set, desired, state */
	struct txn_world world;
	struct router_view router;
	struct active_set *active;
	struct elements desired; /* what the active fragments ask for */
	struct elements kernel;	 /* what the kernel holds, as far as we know */
	struct state *store;	 /* the saved fragments: snapshot and journal */

	struct uid_name *submitters; /* policy user names resolved to uids */
	size_t n_submitters;

	struct u64map leases;	     /* active entry -> its lease timer (leases.c) */
	struct status_cache status; /* active entry -> its status lines */

	sd_event_source *process_source, *restore_source, *cleanup_source;
	sd_event_source *inotify_source, *monitor_source;
	sd_event_source *localaddr_source, *readdr_source;
	sd_event_source *adminfw_source; /* reads the other tables again, after a change */
	sd_event_source *rest_source;	 /* REST_DELAY_US after the last transaction (kernel.c) */
	sd_event_source *prime_source;	 /* after a transaction, when nothing waits (kernel.c) */
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
	bool rejudge_pending; /* the active set was not judged against d->router yet: retrying */
	uint64_t last_summary_us; /* when the submitters' summaries were last logged */
	bool ready;
	bool reloading;
	enum wan_state wan_state; /* the WAN interface, as last logged */
	char wan_logged[RULESET_WAN4_MAX * 18]; /* its addresses, as last logged */
	char wan_if_logged[IFNAME_MAX + 1];	/* the interface, as last logged */
	char wan_before[RULESET_WAN4_MAX * 18]; /* the last ones that were not none ("-") */
	size_t wan_shared; /* the interface's addresses left out: other interfaces have them too */
	bool wan_more;	   /* it has more than RULESET_WAN4_MAX: only the lowest are used */
	unsigned wan_failures; /* wan4 updates refused in a row */
	size_t wan_shared_logged; /* wan_shared and wan_more, as last logged */
	bool wan_more_logged;

	/* the administrator's forward chains (adminfw.c): the last findings, or why not read */
	struct fwcheck_finding *admin;
	size_t n_admin;
	bool admin_read;	 /* they were read at least once */
	char admin_error[320]; /* the last read failed: why ("" when it worked) */
	size_t admin_unread;   /* chains the last read could not see (fwread.h) */
	uint64_t admin_read_us; /* how long the last read took */
	/* [daemon] metrics: counted always, written when the file's directory could be opened */
	struct metrics metrics;
	char *metrics_dir, *metrics_file; /* what the open directory and the file are */
	uint64_t metrics_written_us;	 /* the last write (mono_us) */
	sd_event_source *metrics_source; /* the write that waits out the 100 ms between two */
	int metrics_dirfd;		 /* -1: not written */
	int metrics_error;		 /* the last write's -errno, logged once */
};

/* daemon.c */
int64_t now_ms(void);
uint64_t mono_us(void);
void daemon_world(struct daemon *d); /* point d->world at the current policy, set, state */
const char *daemon_user_of(void *userdata, uid_t uid);
int daemon_resolve_submitters(const struct policy *p, struct uid_name **ret, size_t *ret_n);
int daemon_intake_users(struct daemon *d);
void daemon_write_status(struct daemon *d);
/* [daemon] metrics: (re)open its directory after a start or a reload; write the file now, or
 * at most every METRICS_INTERVAL_US (a timer takes the rest of a burst). */
void daemon_metrics_open(struct daemon *d);
void daemon_metrics_write(struct daemon *d);
/* An active entry leaves for good: its timer and cached status lines go with it. */
void daemon_entry_gone(struct daemon *d, struct active_entry *e);

/* changes.c: one batch, end to end (see changes.c) */
struct change {
	struct txn_op *ops;
	struct submission **subs; /* SUBMIT ops: the spool entry (NULL for others) */
	size_t n;
};
int change_run(struct daemon *d, struct change *c, bool may_retry_one_by_one);
/* A kept transaction's consequences: leases, cached status lines, the full-disk flag. */
void change_committed(struct daemon *d, struct change *c);
/* After run: answer, log, free what the ops retired. */
void change_report(struct daemon *d, struct change *c);
void process_submissions(struct daemon *d, struct submission **subs, size_t n);
void state_save_again(struct daemon *d);

/* kernel.c */
int kernel_apply_delta(struct daemon *d, const struct touched *t, char **ret_error);
int kernel_apply_full(struct daemon *d, const char *old_table, char **ret_error);
int kernel_apply_wan4(struct daemon *d, char **ret_error);
int table_check(struct daemon *d, const char *table, uint64_t *ret_handle, char **ret_error);
void monitor_check(struct daemon *d);
int on_monitor(sd_event_source *s, int fd, uint32_t revents, void *userdata);
int on_restore(sd_event_source *s, uint64_t usec, void *userdata);
int on_rest(sd_event_source *s, uint64_t usec, void *userdata);
int on_prime(sd_event_source *s, void *userdata);

/* leases.c */
void lease_arm(struct daemon *d, struct active_entry *e);
void lease_disarm(struct daemon *d, struct active_entry *e);

/* report.c */
void report(struct daemon *d, const struct txn_op *op, struct submission *sub);
void report_revoked(struct daemon *d, const struct txn_op *op, const char *context);
void remember_event(struct daemon *d, const char *kind, const char *user, const char *fragment,
		    const char *text);
void join_reasons(const struct diag_list *l, const char *name, char *buf, size_t size,
		  FILE *verdict);
void log_summaries(struct daemon *d);

/* serve.c */
int on_inotify(sd_event_source *s, int fd, uint32_t revents, void *userdata);
int on_process(sd_event_source *s, void *userdata);
int on_sweep(sd_event_source *s, uint64_t usec, void *userdata);
size_t process_queue_once(struct daemon *d);
void process_work_leftovers(struct daemon *d);

/* adminfw.c */
void adminfw_check(struct daemon *d);
void adminfw_schedule(struct daemon *d);
int on_adminfw(sd_event_source *s, uint64_t usec, void *userdata);
void adminfw_print(const struct ruleset_config *c, FILE *out);
const char *adminfw_state(const struct daemon *d, char *buf, size_t size);

/* startup.c */
int startup_load_saved(struct daemon *d, int state_dirfd, FILE *would);

/* reload.c */
int rejudge_all(struct daemon *d, const struct ruleset_config *old_cfg, const char *context,
		char **ret_error);
int on_localaddr(sd_event_source *s, int fd, uint32_t revents, void *userdata);
int on_readdr(sd_event_source *s, uint64_t usec, void *userdata);
/* [wan] interface = auto: d->rcfg's interface from view `v`. True when it changed. */
bool wan_choose(struct daemon *d, const struct router_view *v);
/* Without [wan] address: d->rcfg's public addresses from view `v`. True when they changed. */
bool wan_follow(struct daemon *d, const struct router_view *v);
/* Look at the WAN interface; journal (MID_WAN) what changed since the last look. */
void wan_note(struct daemon *d);
/* "default-route", "interface" or "policy"; "up", "missing", "no-address" or "no-route": for
 * the status file. */
const char *wan_source_name(const struct daemon *d);
const char *wan_state_name(enum wan_state s);
