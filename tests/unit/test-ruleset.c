/* SPDX-License-Identifier: MIT */
/* The nftables text natwardend renders: the table, and minimal element diffs. */
#include <stdlib.h>

#include "ruleset.h"
#include "tap.h"

static struct ruleset_config cfg = { .table = "nw", .wan_interface = "wan0" };

static struct fragment *parse(const char *name, const char *text)
{
	struct fragment *f = NULL;
	struct diag_list errs;

	diag_init(&errs);
	if (fragment_parse(name, text, strlen(text), &f, &errs) < 0)
		abort();
	return f;
}

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

static void test_full(void)
{
	struct elements e;
	char *text = NULL;
	size_t len = 0;
	FILE *out;
	struct fragment *f = parse("a", "dnat tcp 80 to 192.168.1.240\ndnat udp 100-200 to 10.0.0.1\n"
					 "masquerade 192.168.1.240\nmasquerade 10.0.0.0/8\n");

	elements_init(&e);
	elements_add_fragment(&e, f);
	out = open_memstream(&text, &len);
	ruleset_render_full(&cfg, &e, out);
	fclose(out);
	is_str(text,
	       "table inet nw {}\n"
	       "delete table inet nw\n"
	       "table inet nw {\n"
	       "\tmap dnat_port { type inet_proto . inet_service : ipv4_addr . inet_service; }\n"
	       "\tmap dnat_range { type inet_proto . inet_service : ipv4_addr; flags interval; }\n"
	       "\tset masq_host { type ipv4_addr; }\n"
	       "\tset masq_net { type ipv4_addr; flags interval; }\n"
	       "\tchain prerouting {\n"
	       "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
	       "\t\tiifname \"wan0\" fib daddr type local meta nfproto ipv4 dnat ip to meta l4proto . th dport map @dnat_port\n"
	       "\t\tiifname \"wan0\" fib daddr type local meta nfproto ipv4 dnat ip to meta l4proto . th dport map @dnat_range\n"
	       "\t}\n"
	       "\tchain postrouting {\n"
	       "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
	       "\t\tct status dnat ip daddr @masq_host masquerade\n"
	       "\t\tct status dnat ip daddr @masq_net masquerade\n"
	       "\t}\n"
	       "}\n"
	       "add element inet nw dnat_port { tcp . 80 : 192.168.1.240 . 80 }\n"
	       "add element inet nw dnat_range { udp . 100-200 : 10.0.0.1 }\n"
	       "add element inet nw masq_host { 192.168.1.240 }\n"
	       "add element inet nw masq_net { 10.0.0.0/8 }\n",
	       "whole table: replace in one buffer, four constant rules, elements");
	free(text);

	struct ruleset_config hp = cfg;
	hp.hairpin = true;
	hp.wan_address = 0xcb007107u;
	text = NULL;
	out = open_memstream(&text, &len);
	ruleset_render_full(&hp, &e, out);
	fclose(out);
	ok(strstr(text, "\t\tiifname != \"wan0\" ip daddr 203.0.113.7 dnat ip to meta l4proto . th dport map @dnat_port\n") &&
		   strstr(text, "\t\tiifname != \"wan0\" ip daddr 203.0.113.7 dnat ip to meta l4proto . th dport map @dnat_range\n") &&
		   strstr(text, "\t\tiifname != \"wan0\" ct status dnat ct original ip daddr 203.0.113.7 masquerade\n"),
	   "hairpin: DNAT from the LAN side and masquerade of those connections");
	free(text);
	elements_finish(&e);
	fragment_free(f);
}

static void test_deltas(void)
{
	struct elements kernel, desired;
	struct fragment *a = parse("a", "dnat tcp 80 to 192.168.1.240\ndnat tcp 443 to 192.168.1.240:8443\n"
					"masquerade 192.168.1.240\n");
	struct fragment *a2 = parse("a", "dnat tcp 80 to 192.168.1.241\ndnat tcp 443 to 192.168.1.240:8443\n"
					 "masquerade 192.168.1.240\n");
	struct fragment *b = parse("b", "dnat tcp 8080 to 192.168.1.240\nmasquerade 192.168.1.240\n");
	struct fragment *both[2];
	char *text;
	int n;

	elements_init(&kernel);
	elements_init(&desired);
	elements_add_fragment(&desired, a);
	text = delta(&kernel, &desired, &a, 1, &n);
	is_str(text,
	       "add element inet nw dnat_port { tcp . 443 : 192.168.1.240 . 8443, tcp . 80 : 192.168.1.240 . 80 }\n"
	       "add element inet nw masq_host { 192.168.1.240 }\n",
	       "adding a fragment adds exactly its elements");
	is_int(n, 3, "three changes");
	free(text);

	/* replace a by a2: only tcp/80 moves */
	elements_remove_fragment(&desired, a);
	elements_add_fragment(&desired, a2);
	both[0] = a;
	both[1] = a2;
	text = delta(&kernel, &desired, both, 2, &n);
	is_str(text,
	       "delete element inet nw dnat_port { tcp . 80 }\n"
	       "add element inet nw dnat_port { tcp . 80 : 192.168.1.241 . 80 }\n",
	       "a replacement deletes and adds only what changed");
	is_int(n, 2, "two changes");
	free(text);

	/* b asks for the same masquerade address: counted, not added twice */
	elements_add_fragment(&desired, b);
	text = delta(&kernel, &desired, &b, 1, &n);
	is_str(text, "add element inet nw dnat_port { tcp . 8080 : 192.168.1.240 . 8080 }\n",
	       "a shared masquerade address is not added again");
	free(text);
	elements_remove_fragment(&desired, a2);
	text = delta(&kernel, &desired, &a2, 1, &n);
	is_str(text, "delete element inet nw dnat_port { tcp . 443, tcp . 80 }\n",
	       "removing one of two requesters keeps the masquerade address");
	free(text);
	elements_remove_fragment(&desired, b);
	text = delta(&kernel, &desired, &b, 1, &n);
	is_str(text,
	       "delete element inet nw dnat_port { tcp . 8080 }\n"
	       "delete element inet nw masq_host { 192.168.1.240 }\n",
	       "the last requester takes it with it");
	free(text);
	text = delta(&kernel, &desired, &b, 1, &n);
	ok(n == 0 && (!text || !*text), "nothing to do renders nothing");
	free(text);
	is_int(kernel.ports.n + kernel.hosts.n, 0, "kernel view empty again");
	elements_finish(&kernel);
	elements_finish(&desired);
	fragment_free(a);
	fragment_free(a2);
	fragment_free(b);
}

static void test_nets(void)
{
	struct elements kernel, desired;
	struct fragment *small = parse("s", "masquerade 10.1.0.0/24\nmasquerade 10.2.0.0/24\n");
	struct fragment *big = parse("b", "masquerade 10.0.0.0/8\n");
	char *text;
	int n;

	elements_init(&kernel);
	elements_init(&desired);
	elements_add_fragment(&desired, small);
	text = delta(&kernel, &desired, &small, 1, &n);
	is_str(text, "add element inet nw masq_net { 10.1.0.0/24, 10.2.0.0/24 }\n", "two subnets");
	free(text);
	elements_add_fragment(&desired, big);
	text = delta(&kernel, &desired, &big, 1, &n);
	ok(text && strstr(text, "delete element inet nw masq_net {") && strstr(text, "10.1.0.0/24") &&
		   strstr(text, "10.2.0.0/24") && strstr(text, "add element inet nw masq_net { 10.0.0.0/8 }"),
	   "a covering prefix replaces the ones inside it (the interval set must not overlap)");
	free(text);
	elements_remove_fragment(&desired, big);
	text = delta(&kernel, &desired, &big, 1, &n);
	ok(text && strstr(text, "delete element inet nw masq_net { 10.0.0.0/8 }") &&
		   strstr(text, "add element inet nw masq_net {"),
	   "removing it brings the inner ones back");
	free(text);
	is_int(kernel.nets.n, 2, "two prefixes in the kernel view");
	elements_finish(&kernel);
	elements_finish(&desired);
	fragment_free(small);
	fragment_free(big);
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
		f[k] = parse(k ? "b" : "a", buf);
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

int main(void)
{
	test_full();
	test_deltas();
	test_nets();
	test_chunks();
	return tap_done();
}
