/* SPDX-License-Identifier: MIT */
/*
 * Judging everything again: after SIGHUP (a new policy.ini) and after the router's own
 * addresses changed (rtnetlink). One re-judging transaction (txn.h), oldest acceptance first,
 * so a reload and a start keep the same fragments when a policy shrinks.
 */
#include "core.h"

#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "macro.h"

/* The re-judging transaction, into the kernel: whole when the table's settings changed. */
static int rejudge_apply(struct daemon *d, struct change *c, const struct ruleset_config *old_cfg,
			 char **ret_error)
{
	/* a new public address from the policy goes with the rest, in the same transaction */
	bool rebuild = !ruleset_config_equal(old_cfg, &d->rcfg) ||
		       old_cfg->n_wan4 != d->rcfg.n_wan4 ||
		       memcmp(old_cfg->wan4, d->rcfg.wan4, d->rcfg.n_wan4 * sizeof(uint32_t)) != 0;
	struct txn t;
	int r;

	txn_begin(&t, &d->world, c->ops, c->n, now_ms());
	/* revocations only take forwards away: unsaved, they still go (a start revokes again) */
	r = txn_save(&t);
	if (r == TXN_UNSAVED) {
		log_error("cannot remove revoked fragments from the saved state; a restart revokes them again");
		r = 0;
	}
	if (r == 0)
		r = rebuild ? kernel_apply_full(d, old_cfg->table, ret_error) :
			      kernel_apply_delta(d, txn_touched(&t), ret_error);
	if (r < 0) {
		(void)txn_rollback(&t);
		txn_end(&t);
		return r;
	}
	txn_commit(&t);
	txn_end(&t);
	change_committed(d, c);
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
 * go), in the saved state, then in the log (`context` says why: "after a policy change").
 * Should the kernel refuse, nothing changes and its words are in *ret_error. Returns the
 * number revoked, or a negative errno.
 */
int rejudge_all(struct daemon *d, const struct ruleset_config *old_cfg, const char *context,
		char **ret_error)
{
	size_t n = active_set_size(d->active);
	struct active_entry **all = active_set_by_acceptance(d->active);
	struct txn_op *ops = calloc(n + 1, sizeof(*ops));
	struct change c = { ops, NULL, n };
	int r = -ENOMEM, revoked = 0;

	if (all && ops) {
		for (size_t i = 0; i < n; i++)
			txn_op_entry(&ops[i], TXN_REJUDGE, all[i]);
		r = rejudge_apply(d, &c, old_cfg, ret_error);
	}
	for (size_t i = 0; r == 0 && i < n; i++)
		if (ops[i].outcome == TXN_REVOKED) {
			report_revoked(d, &ops[i], context);
			revoked++;
		}
	for (size_t i = 0; ops && i < n; i++)
		txn_op_release(&ops[i]);
	free(all);
	free(ops);
	return r < 0 ? r : revoked;
}

/* ---- reload -------------------------------------------------------------------------- */

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

static void reload_failed(struct daemon *d, const struct diag_list *errs, int r)
{
	char first[DIAG_TEXT + 320] = "";
	static char all_errs[JOINED_MAX];

	if (errs->n)
		diag_format(&errs->items[0], d->config_path, first, sizeof(first));
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
	d->metrics.last_reload_failed = true;
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
		r = daemon_resolve_submitters(new_policy, &new_subs, &new_n_subs);
	if (r == 0) {
		keep_daemon_settings(new_policy, old_policy);
		d->policy = new_policy;
		d->submitters = new_subs;
		d->n_submitters = new_n_subs;
		ruleset_config_from_policy(&d->rcfg, new_policy);
		(void)wan_choose(d, &d->router);
		(void)wan_follow(d, &d->router);
		daemon_world(d);
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
			daemon_world(d);
		}
	}
	if (r < 0) {
		reload_failed(d, &errs, r);
		policy_free(new_policy);
		free(new_subs);
	} else {
		char count[24], rev[24];
		if (daemon_intake_users(d) < 0)
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
		d->metrics.last_reload_failed = false;
		daemon_metrics_open(d); /* [daemon] metrics may name another file now */
		wan_note(d);
		adminfw_check(d); /* the mark, or the table's name, may be new */
	}
	daemon_write_status(d);
	d->reloading = false;
	daemon_describe(d, line, sizeof(line));
	sd_notifyf(0, "READY=1\nSTATUS=%s", line);
	return r < 0 ? r : 0;
}

/* ---- the router's own addresses ---------------------------------------------------------- */

/* ---- the WAN interface ------------------------------------------------------------------ */

/*
 * Is `addr` also an address of an interface other than `ifname`? Hairpin DNATs traffic from
 * every other interface to the addresses in wan4: one the LAN side uses too (the router's
 * own LAN address put on the WAN interface as well) would hand its ports to the forwards.
 */
static bool on_another_interface(const struct router_view *v, uint32_t addr, const char *ifname)
{
	for (size_t i = 0; i < v->n; i++)
		if (v->items[i].kind == ROUTER_ADDRESS && v->items[i].addr == addr &&
		    strcmp(v->items[i].ifname, ifname) != 0)
			return true;
	return false;
}

bool wan_choose(struct daemon *d, const struct router_view *v)
{
	if (!d->rcfg.wan_auto || strcmp(d->rcfg.wan_interface, v->default4) == 0)
		return false;
	snprintf(d->rcfg.wan_interface, sizeof(d->rcfg.wan_interface), "%s", v->default4);
	return true;
}

bool wan_follow(struct daemon *d, const struct router_view *v)
{
	const char *ifname = d->rcfg.wan_interface;
	_cleanup_free_ uint32_t *addrs = NULL;
	size_t n, kept = 0;

	if (!d->rcfg.follow_wan)
		return false;
	n = router_view_addresses_on(v, ifname, NULL, 0);
	addrs = n ? calloc(n, sizeof(*addrs)) : NULL;
	if (n && !addrs)
		return false; /* out of memory: keep the addresses there are; the next look retries */
	(void)router_view_addresses_on(v, ifname, addrs, n);
	d->wan_shared = 0;
	for (size_t i = 0; i < n; i++) {
		if (on_another_interface(v, addrs[i], ifname))
			d->wan_shared++;
		else
			addrs[kept++] = addrs[i];
	}
	d->wan_more = kept > RULESET_WAN4_MAX; /* duplicates counted: a warning only */
	return ruleset_config_set_wan4(&d->rcfg, addrs, kept);
}

const char *wan_state_name(enum wan_state s)
{
	switch (s) {
	case WAN_MISSING:
		return "missing";
	case WAN_NO_ADDRESS:
		return "no-address";
	case WAN_UP:
		return "up";
	case WAN_NO_ROUTE:
		return "no-route";
	default:
		return "unknown";
	}
}

const char *wan_source_name(const struct daemon *d)
{
	if (!d->rcfg.follow_wan)
		return "policy";
	return d->rcfg.wan_auto ? "default-route" : "interface";
}

static enum wan_state wan_look(const struct daemon *d)
{
	if (d->rcfg.wan_auto && !d->rcfg.wan_interface[0])
		return WAN_NO_ROUTE;
	if (if_nametoindex(d->rcfg.wan_interface) == 0)
		return WAN_MISSING;
	if (d->rcfg.follow_wan && d->rcfg.n_wan4 == 0)
		return WAN_NO_ADDRESS;
	return WAN_UP;
}

void wan_note(struct daemon *d)
{
	enum wan_state now = wan_look(d);
	const char *ifname = d->rcfg.wan_interface[0] ? d->rcfg.wan_interface : "-";
	char addrs[sizeof(d->wan_logged)];

	ruleset_wan4_format(&d->rcfg, addrs, sizeof(addrs));
	if (now == d->wan_state && strcmp(addrs, d->wan_logged) == 0 &&
	    strcmp(d->rcfg.wan_interface, d->wan_if_logged) == 0 &&
	    d->wan_shared == d->wan_shared_logged && d->wan_more == d->wan_more_logged)
		return;
	const struct log_field f[] = { { "WAN_INTERFACE", ifname },
				       { "WAN_STATE", wan_state_name(now) },
				       { "WAN_ADDRESS", addrs } };
	if (now == WAN_NO_ROUTE)
		log_event(LOG_WARNING, MID_WAN, f, ELEMENTSOF(f),
			  "WAN interface auto: there is no IPv4 default route (yet): waiting for one; forwards from the WAN start when it appears");
	else if (d->rcfg.wan_auto && strcmp(d->rcfg.wan_interface, d->wan_if_logged) != 0)
		log_event(LOG_NOTICE, MID_WAN, f, ELEMENTSOF(f),
			  "WAN interface auto: %s, the interface of the IPv4 default route (was %s); state %s, public address %s",
			  ifname, d->wan_if_logged[0] ? d->wan_if_logged : "-",
			  wan_state_name(now), addrs);
	else if (now == WAN_MISSING)
		log_event(LOG_WARNING, MID_WAN, f, ELEMENTSOF(f),
			  "WAN interface %s does not exist (yet): waiting for it; forwards from the WAN start when it appears",
			  ifname);
	else if (now == WAN_NO_ADDRESS)
		log_event(LOG_WARNING, MID_WAN, f, ELEMENTSOF(f),
			  "WAN interface %s has no IPv4 address: hairpin waits for one", ifname);
	else if (d->rcfg.follow_wan && (d->wan_shared || d->wan_more))
		log_event(LOG_WARNING, MID_WAN, f, ELEMENTSOF(f),
			  "WAN interface %s: public address %s (was %s)%s%s", ifname, addrs,
			  d->wan_before[0] ? d->wan_before : "-",
			  d->wan_shared ? "; left out: addresses other interfaces have too" : "",
			  d->wan_more ? "; more than 16 addresses: only the lowest 16 hairpin" : "");
	else if (d->rcfg.follow_wan)
		log_event(LOG_NOTICE, MID_WAN, f, ELEMENTSOF(f),
			  "WAN interface %s: public address %s (was %s)%s", ifname, addrs,
			  d->wan_before[0] ? d->wan_before : "-",
			  d->rcfg.hairpin ? "; hairpin follows it" : "");
	else
		log_event(LOG_NOTICE, MID_WAN, f, ELEMENTSOF(f),
			  "WAN interface %s is there; public address %s from the policy", ifname, addrs);
	d->wan_state = now;
	snprintf(d->wan_if_logged, sizeof(d->wan_if_logged), "%s", d->rcfg.wan_interface);
	d->wan_shared_logged = d->wan_shared;
	d->wan_more_logged = d->wan_more;
	snprintf(d->wan_logged, sizeof(d->wan_logged), "%s", addrs);
	/* "was" names the last address there was, across a moment without any (del, then add) */
	if (strcmp(addrs, "-") != 0)
		snprintf(d->wan_before, sizeof(d->wan_before), "%s", addrs);
	d->status_dirty = true;
}

/*
 * The public addresses after a change of the router's addresses (`v`): into the set wan4 when
 * they moved. On failure the previous ones stay, so the next look tries again.
 */
static int wan_step(struct daemon *d, const struct router_view *v)
{
	struct ruleset_config before = d->rcfg;
	_cleanup_free_ char *err = NULL;
	bool moved = wan_choose(d, v); /* [wan] interface = auto: another default route */
	int r;

	if (!wan_follow(d, v) && !moved) {
		wan_note(d); /* the interface may have come or gone all the same */
		return 0;
	}
	/* a new interface is in the rules: the whole table, in one transaction */
	r = moved ? kernel_apply_full(d, NULL, &err) : kernel_apply_wan4(d, &err);
	if (r < 0) {
		const char *what = moved ? "move the forwards to the interface of the new default route" :
					   "move hairpin to the WAN interface's new address";
		/* the first failure, then one a minute: the retries run every second */
		if (d->wan_failures++ % 60 == 0)
			log_error("cannot %s (attempt %u): %s; trying again every second", what,
				  d->wan_failures, err ? err : strerror(-r));
		snprintf(d->last_error, sizeof(d->last_error), "cannot %s: %.400s", what,
			 err ? err : strerror(-r));
		d->status_dirty = true;
		d->rcfg = before;
		return r;
	}
	d->wan_failures = 0;
	wan_note(d);
	return 0;
}

/* ---- the router's own addresses ---------------------------------------------------------- */

int on_readdr(sd_event_source *s, uint64_t usec, void *userdata)
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
	if (!router_view_equal(&now, &d->router) || d->rejudge_pending) {
		/* new submissions are judged against the new view at once, whatever happens below */
		router_view_finish(&d->router);
		d->router = now;
		/* first what now points at the router goes, then hairpin moves to a new address */
		r = rejudge_all(d, &d->rcfg, "after the router's addresses changed", &err);
		d->rejudge_pending = r < 0;
		if (r < 0)
			log_error("cannot revoke forwards after the router's addresses changed: %s; trying again in a second",
				  err ? err : strerror(-r));
		else
			log_info("the router's addresses changed (%zu local addresses and routes now): %d forward%s revoked",
				 d->router.n, r, r == 1 ? "" : "s");
	} else
		router_view_finish(&now);
	r = wan_step(d, &d->router);
	if (d->status_dirty)
		daemon_write_status(d);
	if (r == 0 && !d->rejudge_pending)
		return 0;
again:
	sd_event_source_set_time_relative(s, 1000000);
	sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	return 0;
}

int on_localaddr(sd_event_source *s, int fd, uint32_t revents, void *userdata)
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

