/* SPDX-License-Identifier: MIT */
/*
 * The libnftables wrapper against the real kernel, in a network namespace of this process's
 * own (the host's ruleset is never touched): the rendered table loads, with its deltas, and
 * nft_table_owner() tells our table from anyone else's. Skips without root.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fixtures.h"
#include "nft.h"
#include "ruleset.h"
#include "tap.h"

static struct ruleset_config cfg = { .table = "nwunit", .wan_interface = "wan0" };

static int run(struct nft *n, const char *cmds)
{
	char *err = NULL;
	int r = nft_run(n, cmds, false, &err);

	if (r < 0)
		printf("#   nft: %s\n", err ? err : "?");
	free(err);
	return r;
}

static int run_full(struct nft *n, const struct ruleset_config *c, const struct elements *e)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	int r;

	ruleset_render_full(c, e, out);
	fclose(out);
	r = run(n, text);
	free(text);
	return r;
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void test_render_loads(struct nft *n)
{
	struct ruleset_config hp = cfg;
	struct elements e, kernel;
	struct touched t;
	struct fragment *f =
	    fixture_fragment("a", "dnat tcp 80 to 192.168.1.240\n"
				  "dnat tcp 443 to 192.168.1.241\n"
				  "dnat udp 30000-30010 to 10.0.0.1\n"
				  "masquerade 192.168.1.240\nmasquerade 10.0.0.0/8\n");
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	elements_init(&e);
	elements_init(&kernel);
	hp.hairpin = true;
	(void)ruleset_config_set_wan4(&hp, (const uint32_t[]){ 0xcb007107u }, 1);
	is_int(run_full(n, &cfg, &e), 0, "the empty table loads (hairpin off)");
	is_int(run_full(n, &hp, &e), 0, "the empty table loads (hairpin on), replacing the other");
	elements_add_fragment(&e, f);
	is_int(run_full(n, &hp, &e), 0, "the full table with forwards and masquerades loads");

	/* the public addresses move: a set's elements, not a rule */
	(void)ruleset_config_set_wan4(&hp, (const uint32_t[]){ 0xcb007109u, 0xc6336402u }, 2);
	out = open_memstream(&text, &len);
	ruleset_render_wan4(&hp, out);
	fclose(out);
	is_str(text, "flush set inet nwunit wan4\nadd element inet nwunit wan4 { 198.51.100.2, 203.0.113.9 }\n",
	       "two new public addresses: flush and add, one transaction");
	is_int(run(n, text), 0, "the kernel takes the new public addresses");
	free(text);
	text = NULL;

	/* a delta from that table: everything of the fragment deleted */
	touched_init(&t);
	touched_add_fragment(&t, f);
	elements_copy(&kernel, &e);
	elements_remove_fragment(&e, f);
	out = open_memstream(&text, &len);
	ruleset_render_delta(&hp, &kernel, &e, &t, out, NULL);
	fclose(out);
	ok(strstr(text, "delete element inet nwunit masq_tcp { 80 }") &&
		   strstr(text, "delete element inet nwunit masq_udp { 30000-30010 }"),
	   "the delta deletes the masquerade entries");
	is_int(run(n, text), 0, "the kernel takes the delta");
	free(text);
	touched_finish(&t);
	elements_finish(&kernel);
	elements_finish(&e);
	fragment_free(f);
}

static void test_owner(struct nft *n)
{
	struct elements e;
	char buf[64], *cmds;
	size_t o = 0, size = 10000 * sizeof(buf);
	struct timespec t0;
	double ms;

	elements_init(&e);
	is_int(nft_table_owner(n, "nwabsent", NULL), 0, "a missing table: 0");
	is_int(nft_table_owner(n, cfg.table, NULL), 1, "the table natwardend rendered: ours");

	/* 10,000 forwards: the terse listing stays cheap */
	cmds = malloc(size);
	if (!cmds)
		abort();
	for (int i = 0; i < 10000; i++) {
		snprintf(buf, sizeof(buf), "%s udp . %d : 10.0.%d.%d . %d", i % 256 ? "," : "",
			 20000 + i, i / 256, i % 256, 20000 + i);
		if (i % 256 == 0)
			o += (size_t)snprintf(cmds + o, size - o,
					      "%sadd element inet %s dnat_port {", i ? " }\n" : "",
					      cfg.table);
		o += (size_t)snprintf(cmds + o, size - o, "%s", buf);
	}
	snprintf(cmds + o, size - o, " }\n");
	is_int(run(n, cmds), 0, "10,000 forwards added");
	free(cmds);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	is_int(nft_table_owner(n, cfg.table, NULL), 1, "still ours with 10,000 elements");
	ms = ms_since(&t0);
	printf("# nft_table_owner() with 10,000 elements: %.1f ms\n", ms);
	is_int(nft_table_owner(n, cfg.table, NULL), 1, "and again: the same answer");

	run(n, "add table inet plain\n");
	is_int(nft_table_owner(n, "plain", NULL), -EEXIST, "a table without a comment: foreign");
	run(n, "add table inet other { comment \"the admin's\"; }\n");
	is_int(nft_table_owner(n, "other", NULL), -EEXIST, "a table with another comment: foreign");
	run(n, "add table inet longer { comment \"" RULESET_TABLE_COMMENT "!\"; }\n");
	is_int(nft_table_owner(n, "longer", NULL), -EEXIST, "our comment with more after it: foreign");
	run(n, "add table inet old\nadd map inet old dnat_port { type inet_proto . inet_service : "
	       "ipv4_addr . inet_service; }\n");
	is_int(nft_table_owner(n, "old", NULL), -EEXIST, "a table from before the mark: foreign");
	run(n, "add table ip samename { comment \"" RULESET_TABLE_COMMENT "\"; }\n");
	is_int(nft_table_owner(n, "samename", NULL), 0, "that name in another family only: absent");
	run(n, "add table inet nwunitx\n");
	is_int(nft_table_owner(n, "nwuni", NULL), 0, "a prefix of another table's name: absent");

	is_int(run(n, "delete table inet nwunit\n"), 0, "our table deleted");
	is_int(nft_table_owner(n, cfg.table, NULL), 0, "gone: 0");
	elements_finish(&e);
}

int main(void)
{
	struct nft *n = NULL;

	if (unshare(CLONE_NEWNET) < 0) {
		printf("1..0 # SKIP needs root for a network namespace of its own (%s)\n",
		       strerror(errno));
		return 0;
	}
	if (nft_new(&n) < 0)
		return 1;
	test_render_loads(n);
	test_owner(n);
	nft_free(n);
	return tap_done();
}
