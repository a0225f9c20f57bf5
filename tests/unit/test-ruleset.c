/* SPDX-License-Identifier: MIT */
/* The nftables text natwardend renders: the table, and minimal element diffs. */
#include <stdlib.h>

#include "fixtures.h"
#include "ruleset.h"
#include "tap.h"

static struct ruleset_config cfg = { .table = "nw", .wan_interface = "wan0", .mark = 0x10000000,
				     .mark_mask = 0x10000000 };

/* Render the delta kernel -> desired over what `frags` touch; commit it to the view. */
static char *delta(struct elements *kernel, const struct elements *desired,
		   struct fragment **frags, size_t n, int *ret_changes)
{
	struct touched t;
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	touched_init(&t);
	for (size_t i = 0; i < n; i++)
		touched_add_fragment(&t, frags[i]);
	*ret_changes = ruleset_render_delta(&cfg, kernel, desired, &t, out, NULL);
	fclose(out);
	ruleset_commit_view(kernel, desired, &t);
	touched_finish(&t);
	return text;
}

/* Take `old` out of the desired view and put `new` in (either may be NULL); the delta, as above. */
static char *change(struct elements *kernel, struct elements *desired, struct fragment *old,
		    struct fragment *new, int *ret_changes)
{
	struct fragment *frags[2];
	size_t n = 0;

	if (old) {
		elements_remove_fragment(desired, old);
		frags[n++] = old;
	}
	if (new) {
		elements_add_fragment(desired, new);
		frags[n++] = new;
	}
	return delta(kernel, desired, frags, n, ret_changes);
}

static char *render_full(const struct ruleset_config *c, const struct elements *e)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	ruleset_render_full(c, e, out);
	fclose(out);
	return text;
}

static void test_replace(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	ruleset_render_replace(&cfg, 0, out);
	ruleset_render_replace(&cfg, 42, out);
	fclose(out);
	is_str(text,
	       "create table inet nw { comment \"natwarden: managed by natwardend, do not edit\"; }\n"
	       "delete table inet handle 42\n",
	       "a table that was missing is created (failing should one appear meanwhile); ours is deleted by its handle, never by name");
	free(text);
}

static void test_full(void)
{
	struct elements e;
	char *text;
	/* the masquerades cover tcp/80 and the udp range, not tcp/443 (another host) */
	struct fragment *f =
	    fixture_fragment("a", "dnat tcp 80 to 192.168.1.240\ndnat udp 100-200 to 10.0.0.1\n"
				  "dnat tcp 443 to 192.168.1.241\n"
				  "masquerade 192.168.1.240\nmasquerade 10.0.0.0/8\n");

	elements_init(&e);
	elements_add_fragment(&e, f);
	text = render_full(&cfg, &e);
	is_str(text,
	       "table inet nw {\n"
	       "\tcomment \"natwarden: managed by natwardend, do not edit\"\n"
	       "\tmap dnat_port { type inet_proto . inet_service : ipv4_addr . inet_service; }\n"
	       "\tmap dnat_range { type inet_service . inet_proto : ipv4_addr; flags interval; }\n"
	       "\tset masq_tcp { type inet_service; flags interval; }\n"
	       "\tset masq_udp { type inet_service; flags interval; }\n"
	       "\tset pinholes { type ipv6_addr . inet_proto . inet_service; }\n"
	       "\tset pinhole_ranges { type ipv6_addr . inet_proto . inet_service; flags interval; }\n"
	       "\tchain prerouting {\n"
	       "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
	       "\t\tiifname \"wan0\" fib daddr type local meta nfproto ipv4 meta l4proto . th dport @dnat_port ct label set 127 ct mark set ct mark or 0x10000000 dnat ip to meta l4proto . th dport map @dnat_port\n"
	       "\t\tiifname \"wan0\" fib daddr type local meta nfproto ipv4 th dport . meta l4proto @dnat_range ct label set 127 ct mark set ct mark or 0x10000000 dnat ip to th dport . meta l4proto map @dnat_range\n"
	       "\t}\n"
	       "\tchain postrouting {\n"
	       "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
	       "\t\tct label 127 meta l4proto tcp ct original proto-dst @masq_tcp masquerade\n"
	       "\t\tct label 127 meta l4proto udp ct original proto-dst @masq_udp masquerade\n"
	       "\t}\n"
	       "\tchain guard {\n"
	       "\t\ttype filter hook input priority filter; policy accept;\n"
	       "\t\tct label 127 ct status dnat counter drop\n"
	       "\t}\n"
	       "\tchain pinhole {\n"
	       "\t\ttype filter hook forward priority filter - 10; policy accept;\n"
	       "\t\tiifname \"wan0\" ct state new ip6 daddr . meta l4proto . th dport @pinholes ct mark set ct mark or 0x10000000 accept\n"
	       "\t\tiifname \"wan0\" ct state new ip6 daddr . meta l4proto . th dport @pinhole_ranges ct mark set ct mark or 0x10000000 accept\n"
	       "\t}\n"
	       "}\n"
	       "add element inet nw dnat_port { tcp . 443 : 192.168.1.241 . 443, tcp . 80 : 192.168.1.240 . 80 }\n"
	       "add element inet nw dnat_range { 100-200 . udp : 10.0.0.1 }\n"
	       "add element inet nw masq_tcp { 80 }\n"
	       "add element inet nw masq_udp { 100-200 }\n",
	       "whole table: marked, replaced in one buffer, seven constant rules, elements");
	free(text);

	struct ruleset_config hp = cfg;
	hp.hairpin = true;
	ok(ruleset_config_set_wan4(&hp, (const uint32_t[]){ 0xcb007107u }, 1), "a public address");
	text = render_full(&hp, &e);
	is_str(text,
	       "table inet nw {\n"
	       "\tcomment \"natwarden: managed by natwardend, do not edit\"\n"
	       "\tmap dnat_port { type inet_proto . inet_service : ipv4_addr . inet_service; }\n"
	       "\tmap dnat_range { type inet_service . inet_proto : ipv4_addr; flags interval; }\n"
	       "\tset masq_tcp { type inet_service; flags interval; }\n"
	       "\tset masq_udp { type inet_service; flags interval; }\n"
	       "\tset pinholes { type ipv6_addr . inet_proto . inet_service; }\n"
	       "\tset pinhole_ranges { type ipv6_addr . inet_proto . inet_service; flags interval; }\n"
	       "\tset wan4 { type ipv4_addr; elements = { 203.0.113.7 }; }\n"
	       "\tchain prerouting {\n"
	       "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
	       "\t\tiifname \"wan0\" fib daddr type local meta nfproto ipv4 meta l4proto . th dport @dnat_port ct label set 127 ct mark set ct mark or 0x10000000 dnat ip to meta l4proto . th dport map @dnat_port\n"
	       "\t\tiifname \"wan0\" fib daddr type local meta nfproto ipv4 th dport . meta l4proto @dnat_range ct label set 127 ct mark set ct mark or 0x10000000 dnat ip to th dport . meta l4proto map @dnat_range\n"
	       "\t\tiifname != \"wan0\" ip daddr @wan4 meta l4proto . th dport @dnat_port ct label set 127 ct mark set ct mark or 0x10000000 dnat ip to meta l4proto . th dport map @dnat_port\n"
	       "\t\tiifname != \"wan0\" ip daddr @wan4 th dport . meta l4proto @dnat_range ct label set 127 ct mark set ct mark or 0x10000000 dnat ip to th dport . meta l4proto map @dnat_range\n"
	       "\t}\n"
	       "\tchain postrouting {\n"
	       "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
	       "\t\tct label 127 meta l4proto tcp ct original proto-dst @masq_tcp masquerade\n"
	       "\t\tct label 127 meta l4proto udp ct original proto-dst @masq_udp masquerade\n"
	       "\t\tiifname != \"wan0\" ct label 127 ct status dnat ct original ip daddr @wan4 masquerade\n"
	       "\t}\n"
	       "\tchain guard {\n"
	       "\t\ttype filter hook input priority filter; policy accept;\n"
	       "\t\tct label 127 ct status dnat counter drop\n"
	       "\t}\n"
	       "\tchain pinhole {\n"
	       "\t\ttype filter hook forward priority filter - 10; policy accept;\n"
	       "\t\tiifname \"wan0\" ct state new ip6 daddr . meta l4proto . th dport @pinholes ct mark set ct mark or 0x10000000 accept\n"
	       "\t\tiifname \"wan0\" ct state new ip6 daddr . meta l4proto . th dport @pinhole_ranges ct mark set ct mark or 0x10000000 accept\n"
	       "\t}\n"
	       "}\n"
	       "add element inet nw dnat_port { tcp . 443 : 192.168.1.241 . 443, tcp . 80 : 192.168.1.240 . 80 }\n"
	       "add element inet nw dnat_range { 100-200 . udp : 10.0.0.1 }\n"
	       "add element inet nw masq_tcp { 80 }\n"
	       "add element inet nw masq_udp { 100-200 }\n",
	       "hairpin: DNAT from the LAN side, labelled, and masquerade of only those connections");
	free(text);
	is_int(e.masq.n, 2, "two masqueraded forwards in the model");
	ok(!u64map_get(&e.masq, range_key(PROTO_TCP, 443, 443), NULL),
	   "the forward to a host outside every masquerade prefix is not masqueraded");

	/* no forwards at all: the same constant table, no element command */
	elements_clear(&e);
	text = render_full(&cfg, &e);
	ok(text && !strstr(text, " element "), "an empty model renders the table alone");
	free(text);
	elements_finish(&e);
	fragment_free(f);
}

static void test_deltas(void)
{
	struct elements kernel, desired;
	struct fragment *a = fixture_fragment(
	    "a", "dnat tcp 80 to 192.168.1.240\ndnat tcp 443 to 192.168.1.240:8443\n"
		 "masquerade 192.168.1.240\n");
	/* tcp/80 now goes to .241, outside the masquerade: it leaves masq_tcp */
	struct fragment *a2 = fixture_fragment(
	    "a", "dnat tcp 80 to 192.168.1.241\ndnat tcp 443 to 192.168.1.240:8443\n"
		 "masquerade 192.168.1.240\n");
	/* the same forwards, a wider masquerade: tcp/80 comes back in, nothing else moves */
	struct fragment *a3 = fixture_fragment(
	    "a", "dnat tcp 80 to 192.168.1.241\ndnat tcp 443 to 192.168.1.240:8443\n"
		 "masquerade 192.168.1.240/28\n");
	/* another user's forward to the same host, without masquerade */
	struct fragment *b = fixture_fragment("b", "dnat tcp 8080 to 192.168.1.240\n");
	char *text;
	int n;

	elements_init(&kernel);
	elements_init(&desired);
	text = change(&kernel, &desired, NULL, a, &n);
	is_str(text,
	       "add element inet nw dnat_port { tcp . 443 : 192.168.1.240 . 8443, tcp . 80 : 192.168.1.240 . 80 }\n"
	       "add element inet nw masq_tcp { 80, 443 }\n",
	       "adding a fragment adds its forwards and masquerades its forwards to the prefix");
	is_int(n, 4, "four changes");
	free(text);

	/* replace a by a2: tcp/80 moves to another host, out of the masquerade */
	text = change(&kernel, &desired, a, a2, &n);
	is_str(text,
	       "delete element inet nw dnat_port { tcp . 80 }\n"
	       "delete element inet nw masq_tcp { 80 }\n"
	       "add element inet nw dnat_port { tcp . 80 : 192.168.1.241 . 80 }\n",
	       "a replacement that moves a forward out of the masquerade");
	is_int(n, 3, "three changes");
	free(text);

	/* replace a2 by a3: the forwards stay, tcp/80 is masqueraded again */
	text = change(&kernel, &desired, a2, a3, &n);
	is_str(text, "add element inet nw masq_tcp { 80 }\n",
	       "a replacement that moves a forward into the masquerade touches only masq_tcp");
	is_int(n, 1, "one change");
	free(text);

	/* b forwards to the same host without masquerade: a's masquerade is not b's */
	text = change(&kernel, &desired, NULL, b, &n);
	is_str(text, "add element inet nw dnat_port { tcp . 8080 : 192.168.1.240 . 8080 }\n",
	       "another user's forward to the same host is not masqueraded");
	ok(!u64map_get(&kernel.masq, range_key(PROTO_TCP, 8080, 8080), NULL) && kernel.masq.n == 2,
	   "b's key is not in masq, a's two are");
	free(text);

	text = change(&kernel, &desired, a3, NULL, &n);
	is_str(text,
	       "delete element inet nw dnat_port { tcp . 443, tcp . 80 }\n"
	       "delete element inet nw masq_tcp { 80, 443 }\n",
	       "removing a fragment takes its forwards and their masquerade with it");
	free(text);
	text = change(&kernel, &desired, b, NULL, &n);
	is_str(text, "delete element inet nw dnat_port { tcp . 8080 }\n", "and b's forward");
	free(text);
	text = delta(&kernel, &desired, &b, 1, &n);
	ok(n == 0 && (!text || !*text), "nothing to do renders nothing");
	free(text);
	is_int(kernel.ports.n + kernel.ranges.n + kernel.masq.n, 0, "kernel view empty again");
	elements_finish(&kernel);
	elements_finish(&desired);
	fragment_free(a);
	fragment_free(a2);
	fragment_free(a3);
	fragment_free(b);
}

static void test_masq_ranges(void)
{
	struct elements kernel, desired;
	/* a udp range inside the prefix, a tcp range and a udp port outside it */
	struct fragment *f = fixture_fragment("r", "dnat udp 30000-30010 to 10.0.0.5\n"
						   "dnat tcp 30000-30010 to 10.1.0.5\n"
						   "dnat udp 5000 to 10.2.0.1\n"
						   "masquerade 10.0.0.0/24\n");
	struct fragment *g =
	    fixture_fragment("r", "dnat udp 30000-30010 to 10.0.0.5\n"
				  "dnat tcp 30000-30010 to 10.1.0.5\n"
				  "dnat udp 5000 to 10.2.0.1\n"
				  "masquerade 10.0.0.0/24\nmasquerade 10.1.0.0/16\n");
	char *text;
	int n;

	elements_init(&kernel);
	elements_init(&desired);
	text = change(&kernel, &desired, NULL, f, &n);
	is_str(text,
	       "add element inet nw dnat_port { udp . 5000 : 10.2.0.1 . 5000 }\n"
	       "add element inet nw dnat_range { 30000-30010 . tcp : 10.1.0.5, 30000-30010 . udp : 10.0.0.5 }\n"
	       "add element inet nw masq_udp { 30000-30010 }\n",
	       "a masquerade covering some of the fragment's forwards: only those, by protocol");
	is_int(n, 4, "four changes");
	free(text);
	text = change(&kernel, &desired, f, g, &n);
	is_str(text, "add element inet nw masq_tcp { 30000-30010 }\n",
	       "the same public range of the other protocol is a separate set");
	free(text);
	text = change(&kernel, &desired, g, NULL, &n);
	is_str(text,
	       "delete element inet nw dnat_port { udp . 5000 }\n"
	       "delete element inet nw dnat_range { 30000-30010 . tcp, 30000-30010 . udp }\n"
	       "delete element inet nw masq_tcp { 30000-30010 }\n"
	       "delete element inet nw masq_udp { 30000-30010 }\n",
	       "removal: every element of the fragment, deletions only");
	is_int(n, 5, "five changes");
	free(text);
	is_int(kernel.ports.n + kernel.ranges.n + kernel.masq.n, 0, "kernel view empty again");
	elements_finish(&kernel);
	elements_finish(&desired);
	fragment_free(f);
	fragment_free(g);
}

static void test_pinholes(void)
{
	struct elements kernel, desired;
	struct fragment *a = fixture_fragment("a", "pinhole tcp 443 to 2001:DB8::10\npinhole udp 3478-3480 to 2001:db8::10\n"
					 "dnat tcp 443 to 192.168.1.240\n");
	struct fragment *b = fixture_fragment("b", "pinhole tcp 443 to 2001:db8::11\n");
	struct fragment *a2 = fixture_fragment("a", "pinhole tcp 443 to 2001:db8::10\n");
	struct fragment *all[] = { a, b };
	int n;
	char *text;

	elements_init(&kernel);
	elements_init(&desired);
	elements_add_fragment(&desired, a);
	elements_add_fragment(&desired, b);
	text = delta(&kernel, &desired, all, 2, &n);
	is_str(text,
	       "add element inet nw dnat_port { tcp . 443 : 192.168.1.240 . 443 }\n"
	       "add element inet nw pinholes { 2001:db8::10 . tcp . 443, 2001:db8::11 . tcp . 443 }\n"
	       "add element inet nw pinhole_ranges { 2001:db8::10 . udp . 3478-3480 }\n",
	       "single-port pinholes in the hash set, ranges in the interval set, in a stable order");
	is_int(n, 4, "four elements added");
	free(text);

	/* a replaces its fragment: the range goes, the rest stays untouched */
	struct fragment *touch[] = { a, a2 };
	elements_remove_fragment(&desired, a);
	elements_add_fragment(&desired, a2);
	text = delta(&kernel, &desired, touch, 2, &n);
	is_str(text,
	       "delete element inet nw dnat_port { tcp . 443 }\n"
	       "delete element inet nw pinhole_ranges { 2001:db8::10 . udp . 3478-3480 }\n",
	       "a replacement deletes only what went");
	free(text);
	text = delta(&kernel, &desired, touch, 2, &n);
	ok(n == 0 && (!text || !*text), "rendering again changes nothing");
	free(text);

	struct ruleset_config masked = cfg;
	char rule[96];
	masked.mark = 0x4e570000;
	masked.mark_mask = 0xffff0000;
	text = render_full(&masked, &desired);
	ok(strstr(text, "@pinholes ct mark set ct mark and 0x0000ffff or 0x4e570000 accept\n") &&
		   strstr(text, "ct label set 127 ct mark set ct mark and 0x0000ffff or 0x4e570000 dnat ip to"),
	   "a value with a mask keeps the other bits of the mark");
	ok(strstr(text, "add element inet nw pinholes { 2001:db8::10 . tcp . 443, 2001:db8::11 . tcp . 443 }\n") != NULL,
	   "the whole table carries the pinholes (flush recovery restores them)");
	free(text);
	ruleset_admin_rule(&masked, rule, sizeof(rule));
	is_str(rule, "ct mark and 0xffff0000 == 0x4e570000 accept", "the admin rule, value and mask");
	ruleset_admin_rule(&cfg, rule, sizeof(rule));
	is_str(rule, "ct mark and 0x10000000 == 0x10000000 accept", "the admin rule, one bit");
	elements_finish(&kernel);
	elements_finish(&desired);
	fragment_free(a);
	fragment_free(a2);
	fragment_free(b);
}

static void test_chunks(void)
{
	struct elements kernel, desired;
	struct fragment *f[2];
	char buf[160 * 32], *text;
	int n, commands = 0;

	/* two fragments of 150 forwards each: 300 additions */
	for (int k = 0; k < 2; k++) {
		size_t o = 0;
		for (int i = 0; i < 150; i++)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "dnat udp %d to 10.0.0.1\n",
					      1000 + k * 150 + i);
		f[k] = fixture_fragment(k ? "b" : "a", buf);
	}
	elements_init(&kernel);
	elements_init(&desired);
	elements_add_fragment(&desired, f[0]);
	elements_add_fragment(&desired, f[1]);
	text = delta(&kernel, &desired, f, 2, &n);
	is_int(n, 300, "300 additions");
	for (char *p = text; (p = strstr(p, "add element")); p++)
		commands++;
	is_int(commands, 2, "in commands of at most 256 elements");
	free(text);
	elements_finish(&kernel);
	elements_finish(&desired);
	fragment_free(f[0]);
	fragment_free(f[1]);
}

/* The public addresses hairpin matches: sorted, one of each, the lowest 16, changes told. */
static void test_wan4(void)
{
	struct ruleset_config c = cfg;
	uint32_t many[40];
	char buf[RULESET_WAN4_MAX * 18], *text;
	struct elements none;

	ruleset_wan4_format(&c, buf, sizeof(buf));
	is_str(buf, "-", "no public address: \"-\"");
	ok(!ruleset_config_set_wan4(&c, NULL, 0), "none to none is no change");
	ok(ruleset_config_set_wan4(&c, (const uint32_t[]){ 0xcb007109u, 0xc6336402u, 0xcb007109u }, 3),
	   "two addresses (one twice) are a change");
	is_int(c.n_wan4, 2, "each address once");
	ruleset_wan4_format(&c, buf, sizeof(buf));
	is_str(buf, "198.51.100.2, 203.0.113.9", "sorted, comma-separated");
	ok(!ruleset_config_set_wan4(&c, (const uint32_t[]){ 0xc6336402u, 0xcb007109u }, 2),
	   "the same addresses in another order are no change");
	ok(ruleset_config_set_wan4(&c, (const uint32_t[]){ 0xc6336402u }, 1), "one gone is a change");
	for (size_t i = 0; i < 40; i++)
		many[i] = 0x0a000000u + 40 - (uint32_t)i; /* 10.0.0.40 down to 10.0.0.1 */
	ok(ruleset_config_set_wan4(&c, many, 40), "40 addresses");
	is_int(c.n_wan4, RULESET_WAN4_MAX, "at most RULESET_WAN4_MAX kept");
	ok(c.wan4[0] == 0x0a000001u && c.wan4[RULESET_WAN4_MAX - 1] == 0x0a000010u,
	   "the lowest ones, in order (10.0.0.1 to 10.0.0.16)");
	ok(ruleset_config_equal(&c, &cfg), "the public addresses are no part of the table's shape");
	ruleset_wan4_format(&c, buf, 20);
	is_str(buf, "10.0.0.1, 10.0.0.2", "a short buffer holds whole addresses only");

	elements_init(&none);
	c.hairpin = true;
	(void)ruleset_config_set_wan4(&c, (const uint32_t[]){ 0xcb007107u }, 1);
	text = render_full(&c, &none);
	ok(text && strstr(text, "\tset wan4 { type ipv4_addr; elements = { 203.0.113.7 }; }\n") &&
		   !strstr(text, " element "),
	   "hairpin: the set wan4 with its address in the table's definition, no element command");
	free(text);
	(void)ruleset_config_set_wan4(&c, NULL, 0);
	text = render_full(&c, &none);
	ok(text && strstr(text, "\tset wan4 { type ipv4_addr; }\n") && !strstr(text, "element"),
	   "hairpin without an address yet: the set, empty");
	free(text);
	c.hairpin = false;
	text = render_full(&c, &none);
	ok(text && !strstr(text, "wan4"), "no hairpin: no set wan4");
	free(text);
	elements_finish(&none);
}

static char *prime(const struct elements *kernel, int *ret)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	*ret = ruleset_render_prime(&cfg, kernel, out);
	fclose(out);
	return text;
}

/* The transaction that changes nothing and fills libnftables' cache for the next one. */
static void test_prime(void)
{
	struct fragment *fwd = fixture_fragment("a", "dnat tcp 8080 to 192.168.1.240:80\n");
	struct fragment *pin = fixture_fragment("p", "pinhole udp 3478-3480 to 2001:db8::10\n"
					       "pinhole tcp 443 to 2001:db8::10\n");
	struct fragment *rng = fixture_fragment("r", "dnat tcp 30000-30010 to 192.168.1.241\n"
					       "masquerade 192.168.1.0/24\n"
					       "pinhole udp 5000-5010 to 2001:db8::11\n");
	struct elements kernel;
	char *text;
	int r;

	elements_init(&kernel);
	text = prime(&kernel, &r);
	is_int(r, 0, "prime: nothing in the kernel, nothing to add again");
	is_str(text, "", "prime: no text at all (an \"add table\" alone would create a missing table)");
	free(text);

	elements_add_fragment(&kernel, rng);
	text = prime(&kernel, &r);
	is_int(r, 0, "prime: interval elements only: none is used");
	is_str(text, "", "prime: no text for interval elements");
	free(text);

	elements_add_fragment(&kernel, pin);
	text = prime(&kernel, &r);
	is_int(r, 1, "prime: a single-port pinhole will do");
	is_str(text, "add table inet nw { }\nadd element inet nw pinholes { 2001:db8::10 . tcp . 443 }\n",
	       "prime: the table as it is, and the pinhole exactly as it is in the kernel");
	free(text);

	elements_add_fragment(&kernel, fwd);
	text = prime(&kernel, &r);
	is_int(r, 1, "prime: a forward first");
	is_str(text,
	       "add table inet nw { }\nadd element inet nw dnat_port { tcp . 8080 : 192.168.1.240 . 80 }\n",
	       "prime: the forward with its value, exactly as it is in the kernel");
	free(text);

	elements_finish(&kernel);
	fragment_free(fwd);
	fragment_free(pin);
	fragment_free(rng);
}

int main(void)
{
	test_wan4();
	test_replace();
	test_full();
	test_deltas();
	test_masq_ranges();
	test_chunks();
	test_pinholes();
	test_prime();
	return tap_done();
}
