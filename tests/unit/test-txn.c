/* SPDX-License-Identifier: MIT */
/*
 * The transaction (daemon/txn.h), driven directly: ops judged in order, conflicts inside one
 * batch, replacement, two of one name, quotas at the edge, renewals, withdrawals, and the
 * rollback of everything, memory and saved state together, after a simulated kernel failure
 * and after a simulated journal failure; re-judging in acceptance order; the start's restore.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixtures.h"
#include "ruleset.h"
#include "state.h"
#include "tap.h"
#include "txn.h"

/* The journal's sync fails while this is set: state.c's calls only (this executable). */
static int fail_sync;

int fdatasync(int fd)
{
	if (fail_sync) {
		errno = fail_sync;
		return -1;
	}
	return fsync(fd);
}

static const char *policy_text =
	"[wan]\ninterface = eth0\n"
	"[submitter alice]\nports = 80, 443, 8000-8099\ndestinations = 192.168.1.0/24\n"
	"masquerade = yes\nmax_fragments = 3\nmax_rules = 4\n"
	"[submitter bob]\nports = 80, 9000\ndestinations = 192.168.2.0/24\n";

static struct policy *policy;
static char dir[] = "/tmp/natwarden-test-txn.XXXXXX";

struct world {
	struct txn_world w;
	struct active_set *active;
	struct elements desired;
	struct state *store;
	int dirfd;
};

static void world_open(struct world *x, const char *sub)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	mkdir(path, 0700);
	x->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	x->active = active_set_new();
	elements_init(&x->desired);
	if (x->dirfd < 0 || !x->active || state_open(x->dirfd, &x->store) < 0)
		abort();
	x->w = (struct txn_world){ .policy = policy, .active = x->active, .desired = &x->desired,
				   .store = x->store };
}

static void world_close(struct world *x)
{
	active_set_free(x->active);
	elements_finish(&x->desired);
	state_free(x->store);
	close(x->dirfd);
}

/* Run ops through a transaction that the "kernel" takes (or refuses), and keep (or undo) it. */
static int run(struct world *x, struct txn_op *ops, size_t n, int64_t now, bool kernel_fails)
{
	struct txn t;
	int r;

	txn_begin(&t, &x->w, ops, n, now);
	r = txn_save(&t);
	if (r >= 0 && !kernel_fails) {
		txn_commit(&t);
		txn_end(&t);
		return r;
	}
	txn_rollback(&t);
	txn_end(&t);
	return r < 0 ? r : -EIO;
}

static void submit(struct txn_op *op, const char *user, const char *name, const char *text)
{
	txn_op_submit(op, user, strcmp(user, "alice") == 0 ? 1001 : 1002,
		      fixture_fragment(name, text));
}

static void release(struct txn_op *ops, size_t n)
{
	for (size_t i = 0; i < n; i++)
		txn_op_release(&ops[i]);
}

/* What is saved, as "uid/name" words in acceptance order. */
static void saved(struct world *x, char *buf, size_t size)
{
	struct state_record *recs;
	struct diag_list errs;
	size_t n, o = 0;

	diag_init(&errs);
	buf[0] = '\0';
	if (state_load(x->dirfd, &recs, &n, &errs) < 0)
		return;
	for (size_t i = 0; i < n && o < size; i++)
		o += (size_t)snprintf(buf + o, size - o, "%s%u/%s", i ? " " : "", recs[i].uid,
				      recs[i].frag->name);
	state_records_free(recs, n);
}

static void test_order_and_conflicts(void)
{
	struct world x;
	struct txn_op ops[3];
	char buf[256];

	world_open(&x, "order");
	submit(&ops[0], "alice", "web", "dnat tcp 80 to 192.168.1.10\n");
	submit(&ops[1], "bob", "web", "dnat tcp 80 to 192.168.2.10\n");
	submit(&ops[2], "bob", "alt", "dnat tcp 9000 to 192.168.2.10\n");
	is_int(run(&x, ops, 3, 1000, false), 0, "a batch of three: saved");
	is_int(ops[0].outcome, TXN_ACCEPTED, "the first to claim tcp/80 gets it");
	is_int(ops[1].outcome, TXN_REJECTED, "the second, in the same batch, conflicts");
	is_str(ops[1].reasons.n ? ops[1].reasons.items[0].text : "",
	       "tcp port 80 is already forwarded by alice's fragment 'web'",
	       "... naming the owner from earlier in the batch");
	is_int(ops[2].outcome, TXN_ACCEPTED, "an unrelated op after it is judged on its own");
	ok(ops[0].entry->accepted < ops[2].entry->accepted,
	   "acceptance times strictly increase within one batch");
	saved(&x, buf, sizeof(buf));
	is_str(buf, "1001/web 1002/alt", "saved: exactly the accepted, in acceptance order");
	release(ops, 3);
	world_close(&x);
}

static void test_replace_and_twice(void)
{
	struct world x;
	struct txn_op a[1], b[2];
	char buf[256];

	world_open(&x, "replace");
	submit(&a[0], "alice", "web", "dnat tcp 80 to 192.168.1.10\nmasquerade 192.168.1.10\n");
	run(&x, a, 1, 1000, false);
	release(a, 1);
	submit(&b[0], "alice", "web", "dnat tcp 443 to 192.168.1.11\n");
	submit(&b[1], "alice", "web", "dnat tcp 8000 to 192.168.1.12\n");
	is_int(run(&x, b, 2, 2000, false), 0, "two new versions of one name in one batch: saved");
	ok(b[0].outcome == TXN_ACCEPTED && b[1].outcome == TXN_ACCEPTED && b[1].old == b[0].entry,
	   "the second replaces the first's entry");
	ok(b[0].retired && b[1].retired, "both replaced versions are retired, freed only on release");
	is_int(active_set_size(x.active), 1, "one entry of that name is active");
	ok(u64map_get(&x.desired.ports, port_key(PROTO_TCP, 8000), NULL) &&
		   !u64map_get(&x.desired.ports, port_key(PROTO_TCP, 443), NULL) &&
		   !u64map_get(&x.desired.ports, port_key(PROTO_TCP, 80), NULL) && x.desired.masq.n == 0,
	   "the desired elements: only the last version's, masquerade gone with the first");
	release(b, 2); /* the sanitizer build sees any use after free here */
	saved(&x, buf, sizeof(buf));
	is_str(buf, "1001/web", "saved: the name once");
	world_close(&x);
}

static void test_quota_edge(void)
{
	struct world x;
	struct txn_op ops[4], more[2];

	world_open(&x, "quota");
	submit(&ops[0], "alice", "a", "dnat tcp 8001 to 192.168.1.1\n");
	submit(&ops[1], "alice", "b", "dnat tcp 8002 to 192.168.1.1\n");
	submit(&ops[2], "alice", "c", "dnat tcp 8003 to 192.168.1.1\n");
	submit(&ops[3], "alice", "d", "dnat tcp 8004 to 192.168.1.1\n");
	run(&x, ops, 4, 1000, false);
	ok(ops[2].outcome == TXN_ACCEPTED && ops[3].outcome == TXN_REJECTED,
	   "max_fragments = 3: the third fits, the fourth, in the same batch, does not");
	is_str(ops[3].reasons.n ? ops[3].reasons.items[0].text : "",
	       "alice already has 3 active fragments (max_fragments = 3)", "... with that reason");
	release(ops, 4);
	submit(&more[0], "alice", "c", "dnat tcp 8003 to 192.168.1.1\ndnat tcp 8005 to 192.168.1.1\n");
	submit(&more[1], "alice", "b", "dnat tcp 8002 to 192.168.1.1\ndnat tcp 8006 to 192.168.1.1\n");
	run(&x, more, 2, 2000, false);
	ok(more[0].outcome == TXN_ACCEPTED, "at the quota, replacing one of its own is allowed (4 rules)");
	ok(more[1].outcome == TXN_REJECTED, "a replacement past max_rules = 4 is not");
	release(more, 2);
	world_close(&x);
}

/* The world before, as words: active set, desired, saved. */
static void snapshot(struct world *x, char *buf, size_t size)
{
	char s[256];

	saved(x, s, sizeof(s));
	snprintf(buf, size, "%zu fragments, %zu ports, %zu masq; saved: %s",
		 active_set_size(x->active), x->desired.ports.n, x->desired.masq.n, s);
}

static void test_rollback(bool journal_fails)
{
	struct world x;
	struct txn_op base[2], ops[4];
	char before[512], after[512];

	world_open(&x, journal_fails ? "rb-journal" : "rb-kernel");
	submit(&base[0], "alice", "web", "dnat tcp 80 to 192.168.1.10\nmasquerade 192.168.1.10\nlease 60\n");
	submit(&base[1], "bob", "old", "dnat tcp 9000 to 192.168.2.1\n");
	run(&x, base, 2, 1000, false);
	int64_t expires = base[0].entry->expires;
	release(base, 2);
	snapshot(&x, before, sizeof(before));
	submit(&ops[0], "alice", "web", "dnat tcp 80 to 192.168.1.10\nmasquerade 192.168.1.10\nlease 60\n");
	submit(&ops[1], "alice", "new", "dnat tcp 443 to 192.168.1.11\n");
	submit(&ops[2], "bob", "old", "");
	submit(&ops[3], "alice", "new", "dnat tcp 8000 to 192.168.1.11\n");
	fail_sync = journal_fails ? EIO : 0;
	int r = run(&x, ops, 4, 5000, !journal_fails);
	fail_sync = 0;
	is_int(r, journal_fails ? -EIO : -EIO, journal_fails ? "the journal fails: the batch is refused" :
							     "the kernel fails: the batch is undone");
	snapshot(&x, after, sizeof(after));
	is_str(after, before, journal_fails ? "after a journal failure, memory and disk are as before" :
					      "after a kernel failure, memory and disk are as before");
	struct active_entry *web = active_set_find(x.active, "alice", "web");
	ok(web && web->expires == expires, "the renewal's lease is back to what it was");
	ok(active_set_find(x.active, "bob", "old") != NULL, "the withdrawn fragment is back");
	ok(ops[0].outcome == TXN_PENDING && ops[2].outcome == TXN_PENDING,
	   "every op is pending again (to be retried one by one)");
	release(ops, 4);
	world_close(&x);
}

static void test_unsaved_removals(void)
{
	struct world x;
	struct txn_op base[1], ops[1];

	world_open(&x, "unsaved");
	submit(&base[0], "alice", "web", "dnat tcp 80 to 192.168.1.10\n");
	run(&x, base, 1, 1000, false);
	release(base, 1);
	submit(&ops[0], "alice", "web", "");
	fail_sync = EIO;
	is_int(run(&x, ops, 1, 2000, false), TXN_UNSAVED,
	       "a withdrawal the journal cannot take: TXN_UNSAVED, it goes ahead (fail closed)");
	fail_sync = 0;
	is_int(active_set_size(x.active), 0, "... and it is out of the active set");
	release(ops, 1);
	world_close(&x);
}

static void test_rejudge_and_restore(void)
{
	struct world x;
	struct txn_op ops[3], again[3], back[3];
	struct state_record *recs;
	struct diag_list errs;
	size_t n;

	world_open(&x, "rejudge");
	submit(&ops[0], "alice", "zz", "dnat tcp 8001 to 192.168.1.1\n");
	submit(&ops[1], "alice", "mm", "dnat tcp 8002 to 192.168.1.1\nlease 1\n");
	submit(&ops[2], "alice", "aa", "dnat tcp 8003 to 192.168.1.1\n");
	run(&x, ops, 3, 1000, false);
	release(ops, 3);
	struct active_entry **all = active_set_by_acceptance(x.active);
	policy->submitters[0].max_fragments = 1;
	for (size_t i = 0; i < 3; i++)
		txn_op_entry(&again[i], TXN_REJUDGE, all[i]);
	free(all);
	run(&x, again, 3, 1500, true); /* the kernel refuses: all three stay */
	is_int(active_set_size(x.active), 3, "a re-judge the kernel refused changes nothing");
	run(&x, again, 3, 1500, false);
	ok(again[0].outcome == TXN_KEPT && again[1].outcome == TXN_REVOKED &&
		   again[2].outcome == TXN_REVOKED,
	   "max_fragments lowered to 1: the oldest accepted stays, by acceptance, not by name");
	release(again, 3);
	policy->submitters[0].max_fragments = 3;
	diag_init(&errs);
	state_load(x.dirfd, &recs, &n, &errs);
	is_int(n, 1, "the revoked are gone from the saved state");
	active_set_free(x.active);
	x.active = x.w.active = active_set_new();
	elements_clear(&x.desired);
	for (size_t i = 0; i < n; i++)
		txn_op_restore(&back[i], &recs[i], "alice");
	x.w.store = NULL;
	run(&x, back, n, 2000, false);
	ok(back[0].outcome == TXN_KEPT && active_set_size(x.active) == 1,
	   "at start the saved fragment is judged and active again");
	release(back, n);
	state_records_free(recs, n);
	x.w.store = x.store;
	world_close(&x);
}

int main(void)
{
	struct diag_list errs;

	diag_init(&errs);
	if (!mkdtemp(dir) || policy_parse("policy.ini", policy_text, strlen(policy_text), &policy, &errs) < 0)
		return 1;
	test_order_and_conflicts();
	test_replace_and_twice();
	test_quota_edge();
	test_rollback(false);
	test_rollback(true);
	test_unsaved_removals();
	test_rejudge_and_restore();
	policy_free(policy);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return tap_done();
}
