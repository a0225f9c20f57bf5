/* SPDX-License-Identifier: MIT */
/* The verdict engine: every reason, conflicts between users, replacement, quotas, leases. */
#include <errno.h>
#include <stdlib.h>

#include "active.h"
#include "engine.h"
#include "fixtures.h"
#include "router.h"
#include "tap.h"

static const char *policy_text =
	"[wan]\ninterface = eth0\naddress = 203.0.113.7\nhairpin = yes\n" /* 1-4 */
	"[reserved]\nports = 22, 53\n"					  /* 5-6 */
	"[submitter nat_update]\n"					  /* 7 */
	"ports = 80, 443, 30000-30100, 22\n"
	"protocols = tcp\n"
	"destinations = 192.168.1.240/28, 192.168.1.250, 203.0.113.0/24, 127.0.0.0/8\n"
	"masquerade = yes\n"
	"max_fragments = 3\n"
	"max_rules = 6\n"
	"[submitter alice]\n"
	"ports = 80, 8080, 30050\n"
	"destinations = 192.168.2.0/24\n"
	"[submitter dave]\n"
	"ports = 443, 3478-3480\n"
	"protocols = udp, tcp\n"
	"destinations = 192.168.3.0/24, 2001:db8:3::/48, fe80::/10, ::1\n"
	"max_rules = 4\n"
	"[submitter erin]\n"
	"ports = 443\n"
	"protocols = tcp\n"
	"destinations = 2001:db8:3::/48\n"
	"[submitter leasy]\n"
	"ports = 1-65535\n"
	"destinations = 10.0.0.0/8\n"
	"max_lease = 600\n"
	"[submitter carol]\n"
	"ports = 9000\n"
	"destinations = 192.168.1.240\n";

static struct policy *policy;

static void judge(const struct active_set *a, const char *user, const char *name,
		  const char *text, struct judgement *j)
{
	struct fragment *f = fixture_fragment(name, text);

	engine_judge(policy, NULL, user, a, f, j);
	fragment_free(f);
}

static void activate(struct active_set *a, const char *user, const char *name, const char *text)
{
	if (active_set_insert(a, fixture_entry(user, 1000, name, text, 0)) < 0)
		abort();
}

#define REJECTS(j, l, text)                                                                   \
	do {                                                                                  \
		if (!ok((j).verdict == VERDICT_REJECTED && diag_has(&(j).reasons, l, text),   \
			"rejected at line %u: %s", l, text))                                  \
			diag_print(&(j).reasons, "#   got", stdout);                          \
	} while (0)

static void test_reasons(void)
{
	struct active_set *a = active_set_new();
	struct judgement j;

	judge(a, "nat_update", "ingress",
	      "dnat tcp 80 to 192.168.1.240\ndnat tcp 443 to 192.168.1.240:8443\n"
	      "masquerade 192.168.1.240/28\n",
	      &j);
	ok(j.verdict == VERDICT_ACCEPTED && !j.replaces && !j.identical && j.reasons.n == 0,
	   "the article's fragment is accepted");

	judge(a, "bob", "x", "dnat tcp 80 to 192.168.1.240\n", &j);
	REJECTS(j, 0, "user 'bob' is not a submitter: policy.ini has no [submitter bob]");
	judge(a, "bob", "x", "", &j);
	ok(j.verdict == VERDICT_REJECTED, "unknown user cannot even withdraw");

	judge(a, "nat_update", "x", "dnat tcp 8080 to 192.168.1.240\n", &j);
	REJECTS(j, 1, "port 8080 is not allowed for nat_update (allowed: 80, 443, 30000-30100, 22)");
	judge(a, "nat_update", "x", "dnat tcp 29999-30001 to 192.168.1.240\n", &j);
	REJECTS(j, 1, "port 29999 is not allowed");
	judge(a, "nat_update", "x", "dnat tcp 30090-30101 to 192.168.1.240\n", &j);
	REJECTS(j, 1, "port 30101 is not allowed");
	judge(a, "nat_update", "x", "dnat tcp 22 to 192.168.1.240\n", &j);
	REJECTS(j, 1, "port 22 is reserved");
	is_int(j.reasons.n, 1, "allowed for the user, but reserved wins");
	judge(a, "alice", "x", "dnat udp 53 to 192.168.2.1\n", &j);
	REJECTS(j, 1, "port 53 is reserved");
	judge(a, "nat_update", "x", "dnat udp 80 to 192.168.1.240\n", &j);
	REJECTS(j, 1, "protocol udp is not allowed for nat_update");
	judge(a, "nat_update", "x", "dnat tcp 80 to 192.168.1.1\n", &j);
	REJECTS(j, 1, "destination 192.168.1.1 is outside nat_update's destinations (192.168.1.240/28, 192.168.1.250, 203.0.113.0/24, 127.0.0.0/8)");
	judge(a, "nat_update", "x", "dnat tcp 80 to 127.0.0.1\n", &j);
	REJECTS(j, 1, "destination 127.0.0.1 is a loopback address");
	judge(a, "nat_update", "x", "dnat tcp 80 to 203.0.113.7\n", &j);
	REJECTS(j, 1, "destination 203.0.113.7 is the router's public address");
	judge(a, "leasy", "x", "dnat tcp 80 to 0.0.0.0\nlease 5\n", &j);
	REJECTS(j, 1, "destination 0.0.0.0 is a this-network address");
	judge(a, "alice", "x", "masquerade 192.168.2.0/24\n", &j);
	REJECTS(j, 1, "masquerade is not allowed for alice");
	judge(a, "nat_update", "x", "masquerade 192.168.1.0/24\n", &j);
	REJECTS(j, 1, "masquerade 192.168.1.0/24 is outside nat_update's destinations");
	judge(a, "nat_update", "x", "dnat tcp 80 to 192.168.1.250\nmasquerade 192.168.1.250\n", &j);
	ok(j.verdict == VERDICT_ACCEPTED, "masquerade inside destinations");

	/* Every reason, each at its line, sorted. */
	judge(a, "nat_update", "multi",
	      "dnat tcp 80 to 192.168.1.240\n"
	      "dnat udp 8080 to 10.0.0.1\n"
	      "# comment\n"
	      "masquerade 10.0.0.0/8\n",
	      &j);
	is_int(j.reasons.n, 4, "four reasons");
	ok(diag_has(&j.reasons, 2, "protocol udp") && diag_has(&j.reasons, 2, "port 8080") &&
		   diag_has(&j.reasons, 2, "destination 10.0.0.1") &&
		   diag_has(&j.reasons, 4, "masquerade 10.0.0.0/8"),
	   "all reasons with their lines");
	ok(j.reasons.items[0].line <= j.reasons.items[3].line, "sorted by line");

	judge(a, "nat_update", "gone", "", &j);
	ok(j.verdict == VERDICT_WITHDRAWN && !j.replaces, "withdrawal of nothing active");
	active_set_free(a);
}

/* A masquerade applies only to the connections its own fragment's forwards translate. */
static void test_masquerade(void)
{
	struct active_set *a = active_set_new();
	struct judgement j;

	judge(a, "nat_update", "x", "dnat tcp 80 to 192.168.1.240\nmasquerade 192.168.1.250\n", &j);
	REJECTS(j, 2, "masquerade 192.168.1.250 covers none of this fragment's forwards: it applies only to connections this fragment's own forwards translate");
	is_int(j.reasons.n, 1, "only that reason");
	is_str(j.reasons.items[0].text,
	       "masquerade 192.168.1.250 covers none of this fragment's forwards: it applies only to connections this fragment's own forwards translate",
	       "the reason, exactly");

	judge(a, "nat_update", "x",
	      "dnat tcp 443 to 192.168.1.241\n# a comment\nmasquerade 192.168.1.240/28\n"
	      "masquerade 203.0.113.0/24\n",
	      &j);
	REJECTS(j, 4, "masquerade 203.0.113.0/24 covers none of this fragment's forwards");
	is_int(j.reasons.n, 1, "the prefix that covers the forward is fine, the other is not");

	judge(a, "nat_update", "x", "masquerade 192.168.1.240\n", &j);
	REJECTS(j, 1, "masquerade 192.168.1.240 covers none of this fragment's forwards");

	judge(a, "nat_update", "x",
	      "dnat tcp 80 to 192.168.1.240\ndnat tcp 443 to 192.168.1.241\nmasquerade 192.168.1.240\n", &j);
	ok(j.verdict == VERDICT_ACCEPTED, "a masquerade covering some of the fragment's forwards");

	/* outside the destinations: that reason alone, as before */
	judge(a, "nat_update", "x", "dnat tcp 80 to 192.168.1.240\nmasquerade 10.0.0.0/8\n", &j);
	REJECTS(j, 2, "masquerade 10.0.0.0/8 is outside nat_update's destinations");
	is_int(j.reasons.n, 1, "outside the destinations: one reason");

	/* not another fragment's forwards, not even the same user's */
	activate(a, "nat_update", "web", "dnat tcp 80 to 192.168.1.240\nmasquerade 192.168.1.240\n");
	judge(a, "nat_update", "masq", "dnat tcp 443 to 192.168.1.241\nmasquerade 192.168.1.240\n", &j);
	REJECTS(j, 2, "masquerade 192.168.1.240 covers none of this fragment's forwards");

	/* another user forwards to the same host: without masquerade, and cannot ask for one */
	judge(a, "carol", "c", "dnat tcp 9000 to 192.168.1.240\n", &j);
	ok(j.verdict == VERDICT_ACCEPTED, "another user's forward to the same host, unmasqueraded");
	judge(a, "carol", "c", "dnat tcp 9000 to 192.168.1.240\nmasquerade 192.168.1.240\n", &j);
	REJECTS(j, 2, "masquerade is not allowed for carol");
	is_int(j.reasons.n, 1, "not allowed: that reason alone");
	active_set_free(a);
}

static void test_conflicts(void)
{
	struct active_set *a = active_set_new();
	struct judgement j;

	activate(a, "alice", "web", "dnat tcp 80 to 192.168.2.10\ndnat tcp 30050 to 192.168.2.10\n");
	judge(a, "nat_update", "ingress", "dnat tcp 443 to 192.168.1.240\ndnat tcp 80 to 192.168.1.240\n", &j);
	REJECTS(j, 2, "tcp port 80 is already forwarded by alice's fragment 'web'");
	is_int(j.reasons.n, 1, "only the conflict");
	judge(a, "nat_update", "game", "dnat tcp 30000-30100 to 192.168.1.241\n", &j);
	REJECTS(j, 1, "tcp port 30050 is already forwarded by alice's fragment 'web'");
	judge(a, "alice", "web", "dnat tcp 80 to 192.168.2.11\n", &j);
	ok(j.verdict == VERDICT_ACCEPTED && j.replaces && !j.identical,
	   "alice replaces her own fragment: her old claims do not conflict");
	judge(a, "alice", "web", "dnat tcp 80 to 192.168.2.10\ndnat tcp 30050 to 192.168.2.10\n", &j);
	ok(j.verdict == VERDICT_ACCEPTED && j.replaces && j.identical, "identical resubmission");
	judge(a, "alice", "web2", "dnat tcp 80 to 192.168.2.10\n", &j);
	REJECTS(j, 1, "tcp port 80 is already forwarded by alice's fragment 'web'");
	judge(a, "alice", "web", "", &j);
	ok(j.verdict == VERDICT_WITHDRAWN && j.replaces, "withdrawal of an active fragment");

	/* After alice's fragment is gone, port 80 is free. */
	struct active_entry *e = active_set_find(a, "alice", "web");
	active_set_remove(a, e);
	active_entry_free(e);
	judge(a, "nat_update", "ingress", "dnat tcp 80 to 192.168.1.240\n", &j);
	ok(j.verdict == VERDICT_ACCEPTED, "port free after removal");
	ok(active_set_claim(a, PROTO_TCP, 80) == NULL, "claim released");
	active_set_free(a);
}

static void test_quotas(void)
{
	struct active_set *a = active_set_new();
	struct judgement j;

	activate(a, "nat_update", "a", "dnat tcp 30001 to 192.168.1.240\ndnat tcp 30002 to 192.168.1.240\n");
	activate(a, "nat_update", "b", "dnat tcp 30003 to 192.168.1.240\ndnat tcp 30004 to 192.168.1.240\n");
	is_int(active_set_user_fragments(a, "nat_update"), 2, "two fragments counted");
	is_int(active_set_user_rules(a, "nat_update"), 4, "four rules counted");

	judge(a, "nat_update", "c",
	      "dnat tcp 30005 to 192.168.1.240\ndnat tcp 30006 to 192.168.1.240\n"
	      "dnat tcp 30007 to 192.168.1.240\n",
	      &j);
	REJECTS(j, 3, "rule 7 of nat_update is over max_rules = 6 (4 in other fragments)");
	judge(a, "nat_update", "c", "dnat tcp 30005 to 192.168.1.240\ndnat tcp 30006 to 192.168.1.240\n", &j);
	ok(j.verdict == VERDICT_ACCEPTED, "exactly at max_rules");
	judge(a, "nat_update", "a",
	      "dnat tcp 30001 to 192.168.1.240\ndnat tcp 30002 to 192.168.1.240\n"
	      "dnat tcp 30005 to 192.168.1.240\ndnat tcp 30006 to 192.168.1.240\n",
	      &j);
	ok(j.verdict == VERDICT_ACCEPTED, "replacing: the old version's rules do not count");

	activate(a, "nat_update", "c", "masquerade 192.168.1.250\n");
	judge(a, "nat_update", "d", "masquerade 192.168.1.240\n", &j);
	REJECTS(j, 0, "nat_update already has 3 active fragments (max_fragments = 3)");
	judge(a, "nat_update", "c", "dnat tcp 30010 to 192.168.1.240\nmasquerade 192.168.1.240\n", &j);
	ok(j.verdict == VERDICT_ACCEPTED, "replacing does not count against max_fragments");

	judge(a, "leasy", "x", "dnat tcp 5000 to 10.0.0.1\n", &j);
	REJECTS(j, 0, "a lease is required for leasy: add 'lease SECONDS' (max_lease = 600)");
	judge(a, "leasy", "x", "dnat tcp 5000 to 10.0.0.1\nlease 601\n", &j);
	REJECTS(j, 2, "lease 601 is longer than max_lease = 600");
	judge(a, "leasy", "x", "dnat tcp 5000 to 10.0.0.1\nlease 600\n", &j);
	ok(j.verdict == VERDICT_ACCEPTED, "lease at max_lease");
	active_set_free(a);
}

static void judge_router(const struct active_set *a, const struct router_view *v, const char *user,
			 const char *name, const char *text, struct judgement *j)
{
	struct fragment *f = fixture_fragment(name, text);

	engine_judge(policy, v, user, a, f, j);
	fragment_free(f);
}

static void test_pinholes(void)
{
	struct active_set *a = active_set_new();
	struct router_view v;
	struct in6 own = { { 0x20, 0x01, 0x0d, 0xb8, 0, 3, [15] = 1 } };
	struct judgement j;

	router_view_init(&v);
	if (router_view_add6(&v, &own, 64, "lan0") < 0)
		abort();
	router_view_sort(&v);
	judge_router(a, &v, "dave", "web6", "pinhole tcp 443 to 2001:db8:3::10\n", &j);
	ok(j.verdict == VERDICT_ACCEPTED, "a pinhole inside the destinations is accepted");
	judge_router(a, &v, "dave", "own", "pinhole tcp 443 to 2001:db8:3::1\n", &j);
	REJECTS(j, 1, "destination 2001:db8:3::1 is the router's own address (on lan0)");
	judge_router(a, &v, "dave", "anycast", "pinhole tcp 443 to 2001:db8:3::\n", &j);
	REJECTS(j, 1, "destination 2001:db8:3:: is the Subnet-Router anycast address of the router's subnet 2001:db8:3::/64 (on lan0)");
	judge_router(a, &v, "dave", "nat64", "pinhole tcp 443 to 64:ff9b::c0a8:301\n", &j);
	REJECTS(j, 1, "destination 64:ff9b::c0a8:301 is a NAT64 address (64:ff9b::/96): it leads to IPv4");
	judge(a, "dave", "ll", "pinhole tcp 443 to fe80::10\n", &j);
	REJECTS(j, 1, "destination fe80::10 is a link-local address (fe80::/10)");
	judge(a, "dave", "lo", "pinhole tcp 443 to ::1\n", &j);
	REJECTS(j, 1, "destination ::1 is the loopback address (::1)");
	judge(a, "dave", "mapped", "pinhole tcp 443 to ::ffff:c0a8:301\n", &j);
	REJECTS(j, 1, "destination ::ffff:c0a8:301 is an IPv4-mapped address");
	judge(a, "dave", "mc", "pinhole udp 3478 to ff02::1\n", &j);
	REJECTS(j, 1, "is a multicast address");
	judge(a, "dave", "out", "pinhole tcp 443 to 2001:db8:4::10\n", &j);
	REJECTS(j, 1, "destination 2001:db8:4::10 is outside dave's destinations (192.168.3.0/24, 2001:db8:3::/48, fe80::/10, ::1)");
	judge(a, "dave", "port", "pinhole tcp 80 to 2001:db8:3::10\n", &j);
	REJECTS(j, 1, "port 80 is not allowed for dave");
	judge(a, "erin", "proto", "pinhole udp 443 to 2001:db8:3::10\n", &j);
	REJECTS(j, 1, "protocol udp is not allowed for erin");
	judge(a, "dave", "v4", "dnat tcp 443 to 192.168.3.10\n", &j);
	ok(j.verdict == VERDICT_ACCEPTED, "dave's v4 forward is accepted");

	activate(a, "dave", "web6", "pinhole tcp 443 to 2001:db8:3::10\npinhole udp 3478-3480 to 2001:db8:3::10\n");
	judge(a, "erin", "web6", "pinhole tcp 443 to 2001:db8:3::11\n", &j);
	ok(j.verdict == VERDICT_ACCEPTED, "two users open 443 on different hosts");
	judge(a, "erin", "web6", "pinhole tcp 443 to 2001:db8:3:0::10\n", &j);
	REJECTS(j, 1, "tcp port 443 of 2001:db8:3::10 is already opened by dave's fragment 'web6'");
	judge(a, "dave", "more", "pinhole udp 3470-3478 to 2001:db8:3::10\n", &j);
	REJECTS(j, 1, "udp port 3478 of 2001:db8:3::10 is already opened by dave's fragment 'web6'");
	judge(a, "dave", "web6", "pinhole tcp 443 to 2001:db8:3::10\n", &j);
	ok(j.verdict == VERDICT_ACCEPTED && j.replaces, "a fragment may replace its own pinholes");
	judge(a, "erin", "udp", "pinhole tcp 443 to 2001:db8:3::12\n", &j);
	ok(j.verdict == VERDICT_ACCEPTED, "another host, same port");
	judge(a, "dave", "v4", "dnat tcp 443 to 192.168.3.10\n", &j);
	ok(j.verdict == VERDICT_ACCEPTED, "a pinhole never conflicts with a v4 dnat");
	activate(a, "dave", "v4", "dnat tcp 443 to 192.168.3.10\n");
	judge(a, "erin", "web7", "pinhole tcp 443 to 2001:db8:3::13\n", &j);
	ok(j.verdict == VERDICT_ACCEPTED, "nor a v4 dnat with a pinhole");
	judge(a, "dave", "quota",
	      "pinhole tcp 443 to 2001:db8:3::20\npinhole tcp 443 to 2001:db8:3::21\n", &j);
	REJECTS(j, 2, "rule 5 of dave is over max_rules = 4 (3 in other fragments)");
	router_view_finish(&v);
	active_set_free(a);
}

static void test_active_set(void)
{
	struct active_set *a = active_set_new();
	char name[32];

	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		char text[64];
		snprintf(text, sizeof(text), "dnat udp %d to 10.0.0.1\n", 10000 + i);
		activate(a, i % 2 ? "alice" : "nat_update", name, text);
	}
	is_int(active_set_size(a), 5000, "5000 entries");
	is_int(active_set_users(a), 2, "two users");
	is_int(active_set_rules(a), 5000, "5000 rules");
	ok(active_set_find(a, "alice", "f4999") != NULL, "find");
	ok(active_set_find(a, "nat_update", "f4999") == NULL, "names are per user");
	const struct active_entry *c = active_set_claim(a, PROTO_UDP, 12345);
	ok(c && strcmp(c->frag->name, "f2345") == 0, "claim index");
	struct active_entry *dup =
	    active_entry_new("alice", 1, fixture_fragment("f1", "dnat udp 9 to 10.0.0.1\n"));
	is_int(active_set_insert(a, dup), -EEXIST, "same user and name twice refused");
	active_entry_free(dup);
	for (int i = 0; i < 5000; i += 2) {
		snprintf(name, sizeof(name), "f%d", i);
		struct active_entry *e = active_set_find(a, "nat_update", name);
		active_set_remove(a, e);
		active_entry_free(e);
	}
	is_int(active_set_size(a), 2500, "half removed");
	is_int(active_set_users(a), 1, "one user left");
	struct active_entry **sorted = active_set_sorted(a);
	ok(sorted && strcmp(sorted[0]->frag->name, "f1") == 0 &&
		   strcmp(sorted[1]->frag->name, "f1001") == 0,
	   "sorted by user and name");
	free(sorted);
	active_set_free(a);
}

int main(void)
{
	struct diag_list errs;

	diag_init(&errs);
	if (policy_parse("engine.ini", policy_text, strlen(policy_text), &policy, &errs) < 0) {
		diag_print(&errs, "engine.ini", stdout);
		return 1;
	}
	test_reasons();
	test_masquerade();
	test_conflicts();
	test_quotas();
	test_pinholes();
	test_active_set();
	policy_free(policy);
	return tap_done();
}
