/* SPDX-License-Identifier: MIT */
/* The active set: fragments by (user, name) and by the public ports they claim. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "active.h"
#include "fixtures.h"
#include "tap.h"

static void test_empty(void)
{
	struct active_set *a = active_set_new();
	struct active_entry **v;

	ok(a != NULL, "a new set");
	ok(active_set_size(a) == 0 && active_set_users(a) == 0 && active_set_rules(a) == 0,
	   "is empty");
	ok(!active_set_find(a, "alice", "web") && !active_set_claim(a, PROTO_TCP, 80) &&
		   !active_set_at(a, 0),
	   "finds nothing, claims nothing");
	ok(active_set_user_fragments(a, "alice") == 0 && active_set_user_rules(a, "alice") == 0,
	   "nobody has anything");
	v = active_set_sorted(a);
	ok(v && v[0] == NULL, "sorted: an empty list");
	free(v);
	v = active_set_by_acceptance(a);
	ok(v && v[0] == NULL, "by acceptance: an empty list");
	free(v);
	active_set_free(a);
	active_set_free(NULL);
	active_entry_free(NULL);
}

static void test_insert_find_claim(void)
{
	struct active_set *a = active_set_new();
	struct active_entry *web = fixture_entry(
	    "alice", 1000, "web", "dnat tcp 80 to 10.0.0.1\ndnat tcp 8000-8010 to 10.0.0.2\n", 3);
	struct active_entry *game = fixture_entry(
	    "alice", 1000, "game", "dnat udp 27015-27030 to 10.0.0.3\nmasquerade 10.0.0.0/24\n", 1);
	struct active_entry *ssh =
	    fixture_entry("bob", 1001, "ssh", "dnat tcp 2222 to 10.0.1.1:22\n", 2);

	is_int(active_set_insert(a, web), 0, "insert alice/web");
	is_int(active_set_insert(a, game), 0, "insert alice/game");
	is_int(active_set_insert(a, ssh), 0, "insert bob/ssh");
	is_int(active_set_size(a), 3, "three entries");

	ok(active_set_find(a, "alice", "web") == web && active_set_find(a, "bob", "ssh") == ssh,
	   "found by (user, name)");
	ok(!active_set_find(a, "bob", "web") && !active_set_find(a, "alice", "ssh") &&
		   !active_set_find(a, "alice", "we"),
	   "another user's name, or another name, is not found");

	ok(active_set_claim(a, PROTO_TCP, 80) == web, "tcp 80 is web's");
	ok(active_set_claim(a, PROTO_TCP, 8000) == web &&
	       active_set_claim(a, PROTO_TCP, 8010) == web,
	   "both ends of web's range");
	ok(!active_set_claim(a, PROTO_TCP, 7999) && !active_set_claim(a, PROTO_TCP, 8011),
	   "not past them");
	ok(active_set_claim(a, PROTO_UDP, 27020) == game && !active_set_claim(a, PROTO_TCP, 27020),
	   "udp 27020 is game's, tcp 27020 nobody's");
	ok(active_set_claim(a, PROTO_TCP, 2222) == ssh && !active_set_claim(a, PROTO_TCP, 22),
	   "the public port is claimed, not the target's");
	ok(!active_set_claim(a, 1, 80), "another protocol is nobody's");

	/* per-user totals: fragments, and their dnat and masquerade statements */
	is_int(active_set_user_fragments(a, "alice"), 2, "alice has two fragments");
	is_int(active_set_user_rules(a, "alice"), 4, "and four rules");
	is_int(active_set_user_fragments(a, "bob"), 1, "bob one");
	is_int(active_set_user_rules(a, "bob"), 1, "with one rule");
	is_int(active_set_user_fragments(a, "carol"), 0, "carol none");
	is_int(active_set_users(a), 2, "two users");
	is_int(active_set_rules(a), 5, "five rules in all");

	/* conflicts: nothing changes */
	struct active_entry *again =
	    fixture_entry("alice", 1000, "web", "dnat tcp 9 to 10.0.0.9\n", 4);
	struct active_entry *port =
	    fixture_entry("carol", 1002, "x", "dnat tcp 80 to 10.0.2.1\n", 4);
	struct active_entry *overlap =
	    fixture_entry("carol", 1002, "y", "dnat tcp 7990-8000 to 10.0.2.1\n", 4);
	struct active_entry *own =
	    fixture_entry("alice", 1000, "web2", "dnat udp 27030 to 10.0.2.1\n", 4);
	is_int(active_set_insert(a, again), -EEXIST, "the same (user, name) again: -EEXIST");
	is_int(active_set_insert(a, port), -EEXIST, "a port someone claims: -EEXIST");
	is_int(active_set_insert(a, overlap), -EEXIST, "a range that overlaps a claim: -EEXIST");
	is_int(active_set_insert(a, own), -EEXIST, "also a port of the user's own other fragment");
	ok(active_set_size(a) == 3 && active_set_rules(a) == 5 && active_set_users(a) == 2 &&
		   active_set_user_fragments(a, "carol") == 0,
	   "refused inserts change no count");
	ok(active_set_claim(a, PROTO_TCP, 80) == web &&
	       active_set_claim(a, PROTO_TCP, 7990) == NULL &&
	       active_set_claim(a, PROTO_TCP, 9) == NULL,
	   "nor any claim");
	ok(active_set_find(a, "alice", "web") == web, "nor what is found");

	/* a dnat of a protocol that cannot be claimed is refused too */
	struct active_entry *icmp =
	    fixture_entry("carol", 1002, "z", "dnat tcp 5 to 10.0.2.1\n", 4);
	icmp->frag->stmts[0].proto = 1;
	is_int(active_set_insert(a, icmp), -EEXIST, "a dnat of another protocol: -EEXIST");

	/* what does not conflict */
	struct active_entry *udp80 =
	    fixture_entry("carol", 1002, "x", "dnat udp 80 to 10.0.2.1\n", 5);
	struct active_entry *masq =
	    fixture_entry("carol", 1002, "m", "masquerade 10.0.0.0/24\n", 5);
	is_int(active_set_insert(a, udp80), 0, "udp 80 while tcp 80 is taken");
	is_int(active_set_insert(a, masq), 0, "a masquerade someone else has too");
	is_int(active_set_users(a), 3, "a third user");
	active_entry_free(again);
	active_entry_free(port);
	active_entry_free(overlap);
	active_entry_free(own);
	active_entry_free(icmp);

	/* removal */
	active_set_remove(a, web);
	ok(!active_set_find(a, "alice", "web") && !active_set_claim(a, PROTO_TCP, 80) &&
		   !active_set_claim(a, PROTO_TCP, 8005),
	   "a removed entry is gone, its ports free");
	ok(active_set_claim(a, PROTO_UDP, 80) == udp80,
	   "another protocol's claim on the port stays");
	ok(active_set_find(a, "alice", "game") == game && active_set_find(a, "bob", "ssh") == ssh &&
		   active_set_find(a, "carol", "m") == masq,
	   "the others are still found");
	ok(active_set_user_fragments(a, "alice") == 1 && active_set_user_rules(a, "alice") == 2 &&
		   active_set_rules(a) == 5,
	   "the totals drop by its rules");
	bool listed = false;
	for (size_t i = 0; i < active_set_size(a); i++)
		listed = listed || active_set_at(a, i) == web;
	ok(!listed && active_set_size(a) == 4, "nor is it listed");
	is_int(active_set_insert(a, web), 0, "it can come back");
	active_set_remove(a, web);
	active_entry_free(web);

	active_set_remove(a, ssh);
	is_int(active_set_users(a), 2, "bob's last fragment gone: bob is no user any more");
	ok(active_set_user_fragments(a, "bob") == 0 && active_set_user_rules(a, "bob") == 0,
	   "with nothing");
	ok(active_set_user_fragments(a, "carol") == 2 && active_set_user_rules(a, "carol") == 2,
	   "carol, who came after bob, keeps her totals");
	active_entry_free(ssh);

	/* freeing the set frees its entries */
	(void)game;
	active_set_free(a);
	ok(true, "the set freed with its entries (the sanitizer build checks for leaks)");
}

/* Whether `v` is the NULL-terminated list of the `n` entries "user/name" in `want`. */
static bool in_order(struct active_entry **v, const char *const *want, size_t n)
{
	char got[NAME_MAX_USER + FRAGMENT_NAME_MAX + 2];

	if (!v)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!v[i])
			return false;
		snprintf(got, sizeof(got), "%s/%s", v[i]->user, v[i]->frag->name);
		if (strcmp(got, want[i]) != 0)
			return false;
	}
	return v[n] == NULL;
}

static void test_orders(void)
{
	struct active_set *a = active_set_new();
	static const struct {
		const char *user;
		uint32_t uid;
		const char *name;
		int64_t accepted;
	} e[] = {
		{ "carol", 1002, "b", 5 }, { "alice", 1000, "z", 5 }, { "bob", 1001, "a", 1 },
		{ "alice", 1000, "c", 9 }, { "alice", 1000, "a", 5 }, { "carol", 1002, "a", 5 },
	};
	static const char *const sorted[] = { "alice/a", "alice/c", "alice/z",
					      "bob/a",	 "carol/a", "carol/b" };
	/* by acceptance, then uid, then name */
	static const char *const accepted[] = { "bob/a",   "alice/a", "alice/z",
						"carol/a", "carol/b", "alice/c" };
	char port[64];
	struct active_entry **v;

	for (size_t i = 0; i < ELEMENTSOF(e); i++) {
		snprintf(port, sizeof(port), "dnat tcp %zu to 10.0.0.1\n", 100 + i);
		if (active_set_insert(
			a, fixture_entry(e[i].user, e[i].uid, e[i].name, port, e[i].accepted)) < 0)
			abort();
	}
	v = active_set_sorted(a);
	ok(in_order(v, sorted, ELEMENTSOF(sorted)), "sorted by user, then name; NULL-terminated");
	free(v);
	v = active_set_by_acceptance(a);
	ok(in_order(v, accepted, ELEMENTSOF(accepted)),
	   "by acceptance: oldest first, then uid, then name");
	free(v);
	active_set_free(a);
}

/* Many entries, hash collisions and all: insert, remove every other, find the rest. */
static void test_many(void)
{
	enum { N = 20000 };
	struct active_set *a = active_set_new();
	static struct active_entry *all[N];
	char user[16], name[16], text[64];
	size_t wrong = 0;

	for (size_t i = 0; i < N; i++) {
		snprintf(user, sizeof(user), "u%zu", i % 50);
		snprintf(name, sizeof(name), "f%zu", i);
		snprintf(text, sizeof(text), "dnat %s %zu to 10.0.0.1\n", i % 2 ? "udp" : "tcp",
			 1 + i / 2);
		all[i] = fixture_entry(user, (uint32_t)(i % 50), name, text, (int64_t)i);
		if (active_set_insert(a, all[i]) < 0)
			abort();
	}
	ok(active_set_size(a) == N && active_set_users(a) == 50 && active_set_rules(a) == N,
	   "20,000 entries of 50 users");
	is_int(active_set_user_fragments(a, "u7"), N / 50, "400 each");
	for (size_t i = 0; i < N; i += 2) {
		active_set_remove(a, all[i]);
		active_entry_free(all[i]);
		all[i] = NULL;
	}
	for (size_t i = 0; i < N; i++) {
		snprintf(user, sizeof(user), "u%zu", i % 50);
		snprintf(name, sizeof(name), "f%zu", i);
		if (active_set_find(a, user, name) != all[i] ||
		    active_set_claim(a, i % 2 ? PROTO_UDP : PROTO_TCP, (uint16_t)(1 + i / 2)) !=
			all[i])
			wrong++;
	}
	ok(wrong == 0 && active_set_size(a) == N / 2,
	   "every other one removed: the rest found by name and by port, the removed by neither");
	for (size_t i = 0; i < active_set_size(a); i++) {
		const char *name_i = active_set_at(a, i)->frag->name;
		if (name_i[0] != 'f' || !all[strtoul(name_i + 1, NULL, 10)])
			wrong++;
	}
	ok(wrong == 0, "active_set_at lists exactly the remaining ones");
	active_set_free(a);
}

int main(void)
{
	test_empty();
	test_insert_find_claim();
	test_orders();
	test_many();
	return tap_done();
}
