/* SPDX-License-Identifier: MIT */
/* The daemon's life: policy and submitters, the status file, the public entry points. */
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <pwd.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "privs.h"

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void daemon_describe(const struct daemon *d, char *buf, size_t size)
{
	size_t users = active_set_users(d->active), frags = active_set_size(d->active);
	int64_t ago = d->last_change_ms ? (now_ms() - d->last_change_ms) / 1000 : -1;
	char since[48];

	/* as the Debian package ships it: nobody may submit yet */
	if (d->policy->n_submitters == 0 && frags == 0) {
		snprintf(buf, size, "no submitters in %s; nothing to do", d->config_path);
		return;
	}
	if (ago >= 0)
		snprintf(since, sizeof(since), "last change %" PRId64 "s ago", ago);
	else
		snprintf(since, sizeof(since), "no change since start");
	snprintf(buf, size, "%zu mappings from %zu fragment%s of %zu user%s; %s",
		 active_set_rules(d->active), frags, frags == 1 ? "" : "s", users,
		 users == 1 ? "" : "s", since);
}

const char *daemon_table(const struct daemon *d)
{
	return d->rcfg.table;
}

size_t daemon_mappings(const struct daemon *d)
{
	return active_set_rules(d->active);
}

void daemon_world(struct daemon *d)
{
	d->world.policy = d->policy;
	d->world.router = &d->router;
	d->world.active = d->active;
	d->world.desired = &d->desired;
	d->world.store = d->store;
}

/* ---- submitters: policy names to uids -------------------------------------------------- */

int daemon_resolve_submitters(const struct policy *p, struct uid_name **ret, size_t *ret_n)
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

const char *daemon_user_of(void *userdata, uid_t uid)
{
	struct daemon *d = userdata;

	for (size_t i = 0; i < d->n_submitters; i++)
		if (d->submitters[i].uid == uid)
			return d->submitters[i].name;
	return NULL;
}

/* Tell the intake who may submit now, with each one's limits; say what it cannot set up. */
int daemon_intake_users(struct daemon *d)
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

/* ---- policy ------------------------------------------------------------------------------ */

static void log_policy_errors(const char *path, const struct diag_list *errs)
{
	for (size_t i = 0; i < errs->n; i++) {
		if (errs->items[i].line)
			log_error("%s:%u: %s", path, errs->items[i].line, errs->items[i].text);
		else
			log_error("%s: %s", path, errs->items[i].text);
	}
}

/* The policy in d->policy, loaded from `path`: take it into use (submitters, ruleset). */
static int use_policy(struct daemon *d, const char *path)
{
	d->config_path = path;
	ruleset_config_from_policy(&d->rcfg, d->policy);
	daemon_world(d);
	return daemon_resolve_submitters(d->policy, &d->submitters, &d->n_submitters);
}

int daemon_new(const char *config, FILE *errors, struct daemon **ret)
{
	struct daemon *d = calloc(1, sizeof(*d));
	struct diag_list errs;
	int r;

	if (!d)
		return -ENOMEM;
	d->dirs = (struct dirs){ -1, -1, -1, -1, -1, 0, 0, 0 };
	d->metrics_dirfd = -1;
	metrics_init(&d->metrics, now_ms());
	u64map_init(&d->leases);
	status_cache_init(&d->status);
	elements_init(&d->desired);
	elements_init(&d->kernel);
	router_view_init(&d->router);
	d->active = active_set_new();
	diag_init(&errs);
	r = d->active ? policy_load(config, &d->policy, &errs) : -ENOMEM;
	if (r < 0) {
		if (errors)
			diag_print(&errs, config, errors);
		else
			log_policy_errors(config, &errs);
		daemon_free(d);
		return r;
	}
	r = use_policy(d, config);
	if (r < 0) {
		daemon_free(d);
		return r;
	}
	*ret = d;
	return 0;
}

/* ---- status -------------------------------------------------------------------------------- */

void daemon_write_status(struct daemon *d)
{
	char admin_buf[320];
	struct status_info info = {
		.started = d->started_ms / 1000,
		.last_change = d->last_change_ms / 1000,
		.last_apply_us = d->last_apply_us,
		.table = d->rcfg.table,
		.last_error = d->last_error,
		.wan_interface = d->rcfg.wan_interface[0] ? d->rcfg.wan_interface : "-",
		.wan_source = wan_source_name(d),
		.wan_state = wan_state_name(d->wan_state),
		.events = d->events,
		.n_events = d->n_events,
		.admin_check = adminfw_state(d, admin_buf, sizeof(admin_buf)),
		.admin = d->admin,
		.n_admin = d->n_admin,
	};
	char line[200], wan[sizeof(d->wan_logged)];
	int r;

	ruleset_wan4_format(&d->rcfg, wan, sizeof(wan));
	info.wan_addresses = wan;
	r = status_write(d->dirs.runtime, &info, d->active, &d->status);
	if (r < 0)
		log_warning_errno(r, "cannot write the status file");
	d->status_dirty = false;
	daemon_metrics_write(d);
	if (d->ready && !d->reloading) {
		daemon_describe(d, line, sizeof(line));
		sd_notifyf(0, "STATUS=%s", line);
	}
}

/* ---- metrics for Prometheus -------------------------------------------------------------- */

static int on_metrics(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	daemon_metrics_write(userdata);
	return 0;
}

/* Stop writing the metrics; `remove_file`: and remove the file (a reload turned them off or moved
 * them: node-exporter must not serve what no longer changes). */
static void metrics_close(struct daemon *d, bool remove_file)
{
	if (d->metrics_dirfd >= 0 && remove_file)
		(void)unlinkat(d->metrics_dirfd, d->metrics_file, 0);
	if (d->metrics_dirfd >= 0)
		close(d->metrics_dirfd);
	d->metrics_dirfd = -1;
	free(d->metrics_dir);
	free(d->metrics_file);
	d->metrics_dir = d->metrics_file = NULL;
}

/*
 * Only a directory that nobody but the daemon's user and root may change: anyone else could
 * swap the file for something that makes the daemon write elsewhere, or block.
 */
static bool metrics_dir_safe(const struct daemon *d, int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && (st.st_uid == 0 || st.st_uid == d->dirs.uid) &&
	       !(st.st_mode & (S_IWGRP | S_IWOTH));
}

void daemon_metrics_open(struct daemon *d)
{
	const char *path = d->policy->daemon.metrics; /* a clean absolute path, *.prom */
	const char *slash = path ? strrchr(path, '/') : NULL;
	char *dir, *file;

	if (!slash) {
		metrics_close(d, true);
		return;
	}
	dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
	file = strdup(slash + 1);
	if (!dir || !file || (d->metrics_dirfd >= 0 && strcmp(dir, d->metrics_dir) == 0 &&
			      strcmp(file, d->metrics_file) == 0)) {
		free(dir);
		free(file);
		return; /* unchanged (or out of memory: as it was) */
	}
	metrics_close(d, true);
	d->metrics_dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->metrics_dirfd < 0 || !metrics_dir_safe(d, d->metrics_dirfd)) {
		if (d->metrics_dirfd < 0)
			log_info("metrics: cannot open %s (%s): %s is not written", dir,
				 strerror(errno), path);
		else
			log_warning("metrics: %s may be written by others than %s and root: %s is not written",
				    dir, d->policy->daemon.user, path);
		if (d->metrics_dirfd >= 0)
			close(d->metrics_dirfd);
		d->metrics_dirfd = -1;
		free(dir);
		free(file);
		return;
	}
	d->metrics_dir = dir;
	d->metrics_file = file;
	d->metrics_written_us = 0;
	d->metrics_error = 0;
	daemon_metrics_write(d);
}

/* The file, replaced whole (node-exporter never reads half of it); at most every 100 ms. */
void daemon_metrics_write(struct daemon *d)
{
	uint64_t now = mono_us(), when = d->metrics_written_us + METRICS_INTERVAL_US;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *out;
	int r;

	if (d->metrics_dirfd < 0)
		return;
	if (d->metrics_written_us && now < when) {
		if (!d->metrics_source &&
		    sd_event_add_time(d->event, &d->metrics_source, CLOCK_MONOTONIC, when, 1000,
				      on_metrics, d) < 0)
			return; /* the next change writes it */
		sd_event_source_set_time(d->metrics_source, when);
		sd_event_source_set_enabled(d->metrics_source, SD_EVENT_ONESHOT);
		return;
	}
	d->metrics_written_us = now;
	out = open_memstream(&text, &len);
	r = out ? metrics_render(out, &d->metrics, d->active) : -ENOMEM;
	if (out && fclose(out) != 0 && r == 0)
		r = -ENOMEM;
	if (r == 0)
		r = write_file_atomic(d->metrics_dirfd, d->metrics_file, text, len, 0644, 0);
	if (r < 0 && r != d->metrics_error)
		log_warning_errno(r, "metrics: cannot write %s/%s", d->metrics_dir, d->metrics_file);
	d->metrics_error = r < 0 ? r : 0;
}

void daemon_entry_gone(struct daemon *d, struct active_entry *e)
{
	lease_disarm(d, e);
	status_forget(&d->status, e);
}

/* ---- the service's start and end ------------------------------------------------------------ */

int daemon_drop_privileges(struct daemon *d, char *why, size_t size)
{
	return privs_drop(d->dirs.uid, d->dirs.gid, why, size);
}

void daemon_ready(struct daemon *d)
{
	char status[200], count[24];

	d->ready = true;
	daemon_describe(d, status, sizeof(status));
	snprintf(count, sizeof(count), "%zu", active_set_rules(d->active));
	const struct log_field f[] = { { "TABLE", d->rcfg.table }, { "MAPPINGS", count } };
	log_event(LOG_INFO, MID_STARTED, f, ELEMENTSOF(f), "started: %s", status);
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void daemon_free(struct daemon *d)
{
	if (!d)
		return;
	for (size_t i = 0; d->active && i < active_set_size(d->active); i++)
		daemon_entry_gone(d, active_set_at(d->active, i));
	sd_event_source_disable_unref(d->inotify_source);
	sd_event_source_disable_unref(d->monitor_source);
	sd_event_source_disable_unref(d->process_source);
	sd_event_source_disable_unref(d->restore_source);
	sd_event_source_disable_unref(d->cleanup_source);
	sd_event_source_disable_unref(d->localaddr_source);
	sd_event_source_disable_unref(d->readdr_source);
	sd_event_source_disable_unref(d->adminfw_source);
	sd_event_source_disable_unref(d->metrics_source);
	sd_event_source_disable_unref(d->rest_source);
	sd_event_source_disable_unref(d->prime_source);
	metrics_close(d, false); /* the last figures stay for node-exporter, as the forwards do */
	metrics_finish(&d->metrics);
	free(d->admin);
	localaddr_free(d->localaddr);
	router_view_finish(&d->router);
	active_set_free(d->active);
	elements_finish(&d->desired);
	elements_finish(&d->kernel);
	u64map_finish(&d->leases);
	status_cache_finish(&d->status);
	state_free(d->store);
	monitor_free(d->monitor);
	nft_free(d->nft);
	intake_free(d->intake);
	dirs_close(&d->dirs);
	policy_free(d->policy);
	free(d->submitters);
	sd_event_unref(d->event);
	free(d);
}

/* ---- --check, --print-ruleset, --remove ------------------------------------------------------ */

int daemon_check(const char *config, bool print_ruleset)
{
	struct daemon *d = NULL;
	int fd, r;

	r = daemon_new(config, stderr, &d);
	if (r < 0)
		return r;
	/* judged against the router's addresses as they are now, like the daemon would */
	if (localaddr_new(&d->localaddr) < 0 || localaddr_dump(d->localaddr, &d->router) < 0)
		fprintf(stderr, "natwardend: cannot read the router's addresses: judging without them\n");
	(void)wan_choose(d, &d->router);
	(void)wan_follow(d, &d->router);
	fd = open(d->policy->daemon.state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT)
		fprintf(stderr, "%s: %s\n", d->policy->daemon.state, strerror(errno));
	if (fd >= 0) {
		/* --print-ruleset keeps stdout for the ruleset alone */
		r = startup_load_saved(d, fd, print_ruleset ? stderr : stdout);
		close(fd);
	}
	if (r >= 0 && print_ruleset)
		r = ruleset_render_full(&d->rcfg, &d->desired, stdout);
	else if (r >= 0) {
		printf("%s: OK\n", config);
		char rule[96];
		char wan[sizeof(d->wan_logged)];
		printf("table inet %s on interface %s%s%s\n", d->rcfg.table,
		       d->rcfg.wan_interface[0] ? d->rcfg.wan_interface : "-",
		       d->rcfg.wan_auto ? " (auto: the IPv4 default route's)" : "",
		       d->rcfg.hairpin ? ", hairpin on" : "");
		ruleset_wan4_format(&d->rcfg, wan, sizeof(wan));
		if (d->rcfg.wan_auto && !d->rcfg.wan_interface[0])
			printf("wan: there is no IPv4 default route (yet); the daemon waits for one\n");
		else if (if_nametoindex(d->rcfg.wan_interface) == 0)
			printf("wan: interface %s does not exist (yet); the daemon waits for it\n",
			       d->rcfg.wan_interface);
		printf("wan address: %s (%s)\n", wan,
		       d->rcfg.follow_wan ? "followed on the interface" : "from the policy");
		/* for scripts: the rule for the administrator's own forward chain, on its own line */
		ruleset_admin_rule(&d->rcfg, rule, sizeof(rule));
		printf("admin rule: %s\n", rule);
		/* would the administrator's forward chains, as they are now, drop what it admits? */
		adminfw_print(&d->rcfg, stdout);
		printf("submitters: %zu in policy, %zu known users\n", d->policy->n_submitters,
		       d->n_submitters);
		printf("saved state: %zu active fragments of %zu users, %zu mappings\n",
		       active_set_size(d->active), active_set_users(d->active),
		       active_set_rules(d->active));
	}
	daemon_free(d);
	return r < 0 ? r : 0;
}

int daemon_remove_table(const char *config)
{
	struct daemon *d = NULL;
	char cmd[128], *err = NULL;
	uint64_t handle = 0;
	int r;

	r = daemon_new(config, stderr, &d);
	if (r < 0)
		return r;
	r = nft_new(&d->nft);
	if (r == 0)
		r = nft_table_owner(d->nft, d->rcfg.table, &handle);
	if (r == -EEXIST)
		fprintf(stderr, "table inet %s is not natwarden's (it lacks natwarden's mark): not removed\n",
			d->rcfg.table);
	else if (r == 0)
		printf("table inet %s does not exist: nothing to remove\n", d->rcfg.table);
	if (r != 1) {
		daemon_free(d);
		return r < 0 ? r : 0;
	}
	/* by the handle just seen: should the table have been replaced since, nothing is deleted */
	snprintf(cmd, sizeof(cmd), "delete table inet handle %" PRIu64 "\n", handle);
	r = nft_run(d->nft, cmd, false, &err);
	if (r < 0)
		fprintf(stderr, "cannot delete table inet %s: %s\n", d->rcfg.table,
			err ? err : "unknown error");
	else
		printf("removed table inet %s and every forward in it\n", d->rcfg.table);
	free(err);
	daemon_free(d);
	return r;
}
